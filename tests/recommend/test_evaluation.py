"""The offline evaluation: protocol, metrics, the planted-world smoke run, the CLI, and a yes_big slice when present."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from click.testing import CliRunner

from plexm8.cli import main
from plexm8.recommend.evaluation import METRICS, _Scores, continuation_cases, dedupe, evaluate, split_playlists
from plexm8.recommend.playlist_dataset import read_dataset, read_playlists

from .conftest import World, make_world, write_yes_dataset

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "yes_big"


def test_protocol_dedupes_and_halves() -> None:
    assert dedupe([3, 1, 3, 2, 1]) == [3, 1, 2]
    cases = continuation_cases([[1, 2, 3, 4], [5, 6, 5, 7, 8, 9, 10], [1, 2, 2, 3, 4, 5]])
    assert [(c.seeds, c.held_out) for c in cases] == [((5, 6, 7), (8, 9, 10)), ((1, 2, 3), (4, 5))]


def test_split_holds_out_a_fifth_of_the_eligible_playlists_reproducibly() -> None:
    playlists = [[i, i + 1, i + 2, i + 3, i + 4] for i in range(50)] + [[1, 2]] * 10
    train, test = split_playlists(playlists, seed=3)
    assert len(test) == 10 and len(train) == 50
    assert all(len(set(p)) >= 5 for p in test) and sum(p == [1, 2] for p in train) == 10
    assert split_playlists(playlists, seed=3) == (train, test)
    assert split_playlists(playlists, seed=4)[1] != test


def test_metrics_on_a_hand_made_ranking() -> None:
    (case,) = continuation_cases([[1, 2, 3, 4, 5, 6]])
    scores = _Scores()
    scores.add([9, 5, 8, 4, *range(100, 200)], case)
    means = scores.means()
    assert means["HR@10"] == 1.0
    assert means["Recall@10"] == pytest.approx(2 / 3)
    assert means["NEXT@10"] == 1.0
    ideal = 1 + 1 / math.log2(3) + 1 / math.log2(4)
    assert means["NDCG@10"] == pytest.approx((1 / math.log2(3) + 1 / math.log2(5)) / ideal)
    scores.add([9, 8, *range(100, 200)], case)
    assert scores.means()["HR@10"] == 0.5 and scores.means()["Recall@100"] == pytest.approx(1 / 3)


def test_model_beats_the_baselines_on_planted_structure(world: World) -> None:
    train, test = split_playlists(world.playlists, seed=0)
    report = evaluate(world.tracks, train, test, seed=0)
    assert report.n_test == len(continuation_cases(test)) > 100
    assert set(report.model) == set(METRICS)
    assert report.model["HR@10"] > report.baselines["popularity"]["HR@10"] + 0.3
    assert report.model["Recall@100"] > report.baselines["popularity"]["Recall@100"]
    assert report.model["HR@10"] >= report.baselines["same_artist"]["HR@10"]
    # Cold start: the seeds never co-occur in training, so only artist and genre can find the station.
    assert report.n_cold_start > 100
    assert report.cold_start["HR@10"] > report.cold_start_baselines["popularity"]["HR@10"] + 0.2


def test_eval_cli_json_on_a_generated_dataset(tmp_path: Path) -> None:
    folder = write_yes_dataset(make_world(seed=3, playlists=300), tmp_path / "yes")
    result = CliRunner().invoke(main, ["eval", "playlists", "--data", str(folder), "--json", "--seed", "1"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert set(report) >= {"model", "baselines", "n_test", "cold_start"}
    assert set(report["baselines"]) == {"popularity", "same_artist", "item_knn"}
    assert set(report["model"]) == set(METRICS) == set(report["cold_start"])
    assert report["model"]["HR@10"] > report["baselines"]["popularity"]["HR@10"]


def test_eval_cli_with_explicit_test_file_prints_a_table(world: World, tmp_path: Path) -> None:
    folder = write_yes_dataset(world, tmp_path / "yes")
    test_file = tmp_path / "test.txt"
    test_file.write_text("".join(" ".join(map(str, p)) + "\n" for p in world.playlists[:60]), encoding="utf-8")
    train_file = tmp_path / "train.txt"
    train_file.write_text("".join(" ".join(map(str, p)) + "\n" for p in world.playlists[60:]), encoding="utf-8")
    args = ["eval", "playlists", "--data", str(folder), "--train", str(train_file), "--test", str(test_file)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert f"{len(continuation_cases(world.playlists[:60]))} test playlists, 840 training playlists" in result.output
    assert "item_knn" in result.output and "HR@10" in result.output and "cold start" in result.output


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ("missing", "is not a folder"),
        ("no_songs", "song_hash.txt does not exist"),
        ("bad_id", "song id 99999 is not in song_hash.txt"),
        ("no_eligible", "no test playlist has at least 5 unique songs"),
    ],
)
def test_eval_cli_bad_input_gives_one_line_error(world: World, tmp_path: Path, setup: str, message: str) -> None:
    folder = write_yes_dataset(world, tmp_path / "yes")
    args = ["eval", "playlists", "--data", str(folder)]
    if setup == "missing":
        args[3] = str(tmp_path / "nowhere")
    elif setup == "no_songs":
        (folder / "song_hash.txt").unlink()
    elif setup == "bad_id":
        (folder / "playlists_dev.txt").write_text("1 2 99999\n", encoding="utf-8")
    else:
        short = tmp_path / "short.txt"
        short.write_text("1 2 3\n4 5\n", encoding="utf-8")
        args += ["--test", str(short)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2
    assert message in result.output and result.output.count("\n") == 1


def test_dataset_reader_unescapes_titles_and_reads_missing_tags(tmp_path: Path) -> None:
    (tmp_path / "tag_hash.txt").write_text("0, rock\n1, 90s\n", encoding="utf-8")
    (tmp_path / "song_hash.txt").write_text("0\tGo (w\\/ Drake)\tA\\/B\n1\tQuiet\tC\n", encoding="utf-8")
    (tmp_path / "tags.txt").write_text("0 1\n#\n", encoding="utf-8")
    dataset = read_dataset(tmp_path)
    assert dataset.tracks[0].title == "Go (w/ Drake)" and dataset.tracks[0].artist == "A/B"
    assert dataset.tracks[0].genres == ("rock", "90s") and dataset.tracks[1].genres == ()
    (tmp_path / "p.txt").write_text("0 1\n\n1 x\n", encoding="utf-8")
    with pytest.raises(ValueError, match="line 3: song ids must be whole numbers"):
        read_playlists(tmp_path / "p.txt", songs=2)


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/data/yes_big is not present")
def test_yes_big_slice_beats_popularity_and_item_knn() -> None:
    dataset = read_dataset(SHARED)
    playlists = read_playlists(SHARED / "playlists_dev.txt", songs=len(dataset.tracks))
    train, test = split_playlists(playlists, seed=0)
    report = evaluate(dataset.tracks, train, test[:150], cold_start=False)
    assert report.n_test == 150
    assert report.model["HR@10"] > report.baselines["popularity"]["HR@10"] + 0.2
    assert report.model["HR@10"] >= report.baselines["item_knn"]["HR@10"]
