"""``plexm8 eval playlists``: measure the recommender offline on a playlist dataset, next to simple baselines."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import click

from plexm8.cli.context import EXIT_USAGE, fail

__all__ = ["eval_group"]

#: Where the project's evaluation data lives when the shared folder sits next to the checkout.
DEFAULT_DATA = Path("../shared/data/yes_big")


@click.group("eval")
def eval_group() -> None:
    """Evaluate PlexM8 offline (no Plex needed)."""


@eval_group.command("playlists")
@click.option(
    "--data",
    "data_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Dataset folder with song_hash.txt, tags.txt and tag_hash.txt [default: ../shared/data/yes_big].",
)
@click.option(
    "--train",
    "train_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Training playlists, one per line [default: DATA/playlists_dev.txt].",
)
@click.option(
    "--test",
    "test_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Test playlists; without it 20% of the eligible training playlists are held out.",
)
@click.option(
    "--seed", default=0, show_default=True, type=int, help="Seed of the held-out split and cold-start sample."
)
@click.option("--json", "as_json", is_flag=True, help="Print exactly one JSON object with every figure.")
def playlists(data_dir: Path | None, train_file: Path | None, test_file: Path | None, seed: int, as_json: bool) -> None:
    """Score playlist continuation: seeds = first half of each test playlist, find the held-out rest.

    Builds the production recommendation model from the training playlists (tracks with title, artist and the
    dataset's tags as genres) and asks it for 100 tracks per test playlist, as the API would. Prints HR@10,
    Recall@10, Recall@100, NDCG@10 and NEXT@10 for the model and for the popularity, same-artist and item-kNN
    baselines, over all test playlists and over a cold-start sample whose seed songs have no co-occurrence.
    """
    # numpy/scipy load only for this command, not for every CLI start.
    from plexm8.recommend.evaluation import evaluate, split_playlists
    from plexm8.recommend.playlist_dataset import read_dataset, read_playlists

    if data_dir is None:
        if not DEFAULT_DATA.is_dir():
            fail("--data is required (no ../shared/data/yes_big here)", exit_code=EXIT_USAGE)
        data_dir = DEFAULT_DATA
    if not data_dir.is_dir():
        fail(f"--data: {data_dir} is not a folder", exit_code=EXIT_USAGE)
    try:
        dataset = read_dataset(data_dir)
        songs = len(dataset.tracks)
        train: Sequence[Sequence[int]] = read_playlists(train_file or data_dir / "playlists_dev.txt", songs=songs)
        test: Sequence[Sequence[int]]
        if test_file is None:
            train, test = split_playlists(train, seed=seed)
        else:
            test = read_playlists(test_file, songs=songs)
        report = evaluate(dataset.tracks, train, test, seed=seed)
    except ValueError as exc:
        fail(str(exc), exit_code=EXIT_USAGE)
    if as_json:
        click.echo(json.dumps(report.as_json()))
        return
    click.echo(f"{report.n_test} test playlists, {len(train)} training playlists, {songs} songs")
    header = f"{'':<22}" + "".join(f"{name:>12}" for name in report.model)
    click.echo(header)
    rows = [("model", report.model), *report.baselines.items()]
    for name, values in rows:
        click.echo(f"{name:<22}" + "".join(f"{v:>12.4f}" for v in values.values()))
    click.echo(f"cold start ({report.n_cold_start} playlists whose seeds have no co-occurrence):")
    for name, values in [("model", report.cold_start), *report.cold_start_baselines.items()]:
        click.echo(f"{name:<22}" + "".join(f"{v:>12.4f}" for v in values.values()))
