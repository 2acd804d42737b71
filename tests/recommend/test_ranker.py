"""The second stage: the numpy booster, the ranker learnt at build time, its persistence and leave-one-out."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from plexm8.recommend.data import LibrarySignals, TrackInfo
from plexm8.recommend.evaluation import evaluate, split_playlists
from plexm8.recommend.model import (
    RERANK_FEATURES,
    ModelParams,
    RecommendationModel,
    _ranker_cases,
    _Seeds,
    _Steps,
    build_model,
)
from plexm8.recommend.ranker import Booster, BoosterParams, fit_booster

from .conftest import World

RERANK = ModelParams(rerank_cases=300)
#: The default ranker is linear; this one also grows trees, so that their arrays go through the model file too.
RERANK_TREES = ModelParams(rerank_cases=300, rerank_trees=10)


def auc(score: npt.NDArray[np.float64], y: npt.NDArray[np.bool_]) -> float:
    """Probability that a random relevant row outscores a random irrelevant one."""
    ranks = np.argsort(np.argsort(score)).astype(np.float64)
    good = int(y.sum())
    bad = len(y) - good
    return float((ranks[y].sum() - good * (good - 1) / 2) / (good * bad))


def planted_queries(
    seed: int, queries: int = 300, rows: int = 40
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_], npt.NDArray[np.int64]]:
    """Rows are relevant when exactly one of features 0 and 1 is high (no linear model can see it); 2 is noise."""
    rng = np.random.default_rng(seed)
    x = rng.random((queries * rows, 3))
    y = (x[:, 0] > 0.5) ^ (x[:, 1] > 0.5)
    y &= rng.random(len(y)) < 0.9
    return x, y, np.repeat(np.arange(queries, dtype=np.int64), rows)


@pytest.mark.parametrize("objective", ["logloss", "lambdarank"])
def test_booster_learns_an_interaction_a_linear_model_cannot(objective: str) -> None:
    x, y, groups = planted_queries(1)
    test_x, test_y, _ = planted_queries(2)
    trees = fit_booster(x, y, groups, BoosterParams(trees=40, depth=3, objective=objective))
    linear = fit_booster(x, y, groups, BoosterParams(trees=0))
    assert auc(trees.predict(test_x), test_y) > 0.85
    assert auc(linear.predict(test_x), test_y) < 0.6
    assert auc(test_x[:, 2], test_y) < 0.6


def test_booster_linear_start_keeps_a_monotone_signal() -> None:
    rng = np.random.default_rng(3)
    x = rng.random((4000, 2))
    y = rng.random(4000) < x[:, 0] ** 2
    booster = fit_booster(x, y, np.repeat(np.arange(100, dtype=np.int64), 40), BoosterParams(trees=0))
    assert booster.linear[0] > 0 and abs(booster.linear[1]) < booster.linear[0] / 5


def test_booster_without_both_labels_is_constant() -> None:
    x = np.random.default_rng(0).random((50, 4))
    booster = fit_booster(x, np.zeros(50, dtype=bool), np.zeros(50, dtype=np.int64))
    assert np.ptp(booster.predict(x)) == 0.0
    with pytest.raises(ValueError, match="objective"):
        fit_booster(x, x[:, 0] > 0.5, np.zeros(50, dtype=np.int64), BoosterParams(objective="hinge"))


def test_booster_arrays_round_trip_and_damage_is_refused() -> None:
    x, y, groups = planted_queries(4, queries=50)
    booster = fit_booster(x, y, groups, BoosterParams(trees=5, depth=2))
    arrays = booster.arrays("r_")
    again = Booster.from_arrays(arrays, "r_")
    assert np.array_equal(again.predict(x), booster.predict(x))
    with pytest.raises(ValueError, match="features"):
        again.predict(x[:, :2])
    for name, bad in (
        ("r_features", arrays["r_features"] + 7),
        ("r_leaves", np.full_like(arrays["r_leaves"], np.nan)),
        ("r_thresholds", arrays["r_thresholds"][:, :1]),
        ("r_linear", arrays["r_linear"][:1]),
        ("r_meta", arrays["r_meta"][:1]),
    ):
        with pytest.raises(ValueError):
            Booster.from_arrays({**arrays, name: bad}, "r_")


@pytest.fixture(scope="module")
def ranked_model(signals: LibrarySignals) -> RecommendationModel:
    return build_model(signals, params=RERANK)


def test_a_ranker_is_learnt_from_the_library_and_keeps_queries_in_their_station(
    ranked_model: RecommendationModel, world: World
) -> None:
    ranker = ranked_model._ranker
    assert ranker is not None and ranker.n_features == len(RERANK_FEATURES)
    assert np.count_nonzero(ranker.linear) > len(RERANK_FEATURES) // 2
    for station in range(4):
        seeds = [k for k, s in world.station_of.items() if s == station][:4]
        answer = ranked_model.similar(seeds, limit=10)
        assert len(answer) == 10 and not {r.key for r in answer} & set(seeds)
        assert sum(world.station_of[r.key] == station for r in answer) >= 9
        scores = [r.score for r in answer]
        assert scores == sorted(scores, reverse=True)


def test_the_second_stage_beats_popularity_on_the_planted_world(world: World) -> None:
    train, test = split_playlists(world.playlists, seed=0)
    report = evaluate(world.tracks, train, test, params=RERANK, cold_start=False, seed=0)
    assert report.model["HR@10"] > report.baselines["popularity"]["HR@10"] + 0.3
    assert report.model["HR@10"] >= report.baselines["same_artist"]["HR@10"]


def test_options_still_apply_after_the_second_stage(ranked_model: RecommendationModel, world: World) -> None:
    seeds = [k for k, s in world.station_of.items() if s == 2][:3]
    plain = ranked_model.similar(seeds, limit=10)
    excluded = ranked_model.similar(seeds, limit=10, exclude=[plain[0].key])
    assert plain[0].key not in {r.key for r in excluded}
    capped = ranked_model.similar(seeds, limit=10, per_artist=1)
    artists = [ranked_model._artist_of[ranked_model._index[r.key]] for r in capped]
    assert len(artists) == len(set(artists)) == 10
    assert ranked_model.similar(seeds, limit=10, novelty=1.0) != plain


def test_saved_ranker_round_trips_and_a_damaged_ranker_is_refused(
    signals: LibrarySignals, world: World, tmp_path: Path
) -> None:
    model = build_model(signals, params=RERANK_TREES)
    assert model._ranker is not None and model._ranker.features.shape[0] == 10
    path = tmp_path / "ranked.npz"
    model.save(path)
    loaded = RecommendationModel.load(path)
    seeds = [k for k, s in world.station_of.items() if s == 6][:3]
    assert loaded.similar(seeds, limit=20) == model.similar(seeds, limit=20)
    with np.load(path) as archive:
        arrays = {name: archive[name] for name in archive.files}
    damaged = tmp_path / "damaged.npz"
    for name, bad in (
        ("ranker_leaves", np.full_like(arrays["ranker_leaves"], np.inf)),
        ("ranker_linear", np.full_like(arrays["ranker_linear"], np.nan)),
        ("ranker_features", arrays["ranker_features"] + len(RERANK_FEATURES)),
        ("ranker_thresholds", arrays["ranker_thresholds"][:-1]),
    ):
        np.savez(damaged, **{**arrays, name: bad})
        with pytest.raises(ValueError, match="damaged"):
            RecommendationModel.load(damaged)
    np.savez(damaged, **{name: a for name, a in arrays.items() if name != "ranker_meta"})
    with pytest.raises(ValueError, match="damaged"):
        RecommendationModel.load(damaged)
    header = json.loads(bytes(arrays["header"]).decode())
    header["ranker_features"] = [*RERANK_FEATURES[:-1], "something else"]
    np.savez(damaged, **{**arrays, "header": np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)})
    with pytest.raises(ValueError, match="rebuild"):
        RecommendationModel.load(damaged)


def test_leave_one_out_excludes_the_case_context(world: World) -> None:
    # Three tracks found in one playlist only, followed by three station songs: with that playlist left out,
    # nothing links the three to anything.
    lonely = [TrackInfo(key=10_000 + i, title=f"Lonely {i}", artist=f"Nobody {i}") for i in range(3)]
    station = [k for k, s in world.station_of.items() if s == 3][:3]
    own = [t.key for t in lonely] + station
    playlists = [*world.playlists, own]
    model = build_model(LibrarySignals(tracks=[*world.tracks, *lonely], playlists=playlists))
    case = len(playlists) - 1
    assert model._ctx.ctx_items[model._ctx.ctx_indptr[case] :].tolist() == [model._index[k] for k in own]
    seeds = _Seeds(np.asarray([model._index[t.key] for t in lonely], dtype=np.int32), np.ones(3, dtype=np.float32))
    banned = model._disliked.copy()
    banned[seeds.index] = True
    left_out = model._similar_parts(seeds, banned, exclude_ctx=case)
    assert not len(left_out.sparse["sessions"].index) and left_out.knn is not None and not len(left_out.knn.ctx)
    kept = model._similar_parts(seeds, banned)
    # Without leaving it out, the playlist links them to its station songs (and query expansion goes on from there).
    assert kept.knn is not None and case in kept.knn.ctx.tolist()
    assert {model._index[k] for k in station} <= set(kept.sparse["sessions"].index.tolist())

    rows, labels = _ranker_cases(model, np.asarray([case]), RERANK, _Steps(None, None))
    features = rows[0]
    for name in ("sessions", "in_neighbours", "co_sum", "co_seeds", "co_last", "co_cosine"):
        assert not features[:, RERANK_FEATURES.index(name)].any(), name
    assert labels[0].dtype == bool and len(labels[0]) == len(features)
