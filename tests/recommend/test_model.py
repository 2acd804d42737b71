"""The recommendation model on a planted world: answers, reasons, options, ratings, persistence, cancellation."""

from __future__ import annotations

import json
import zipfile
from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from plexm8.errors import JobCancelled
from plexm8.recommend.data import LibrarySignals, TrackInfo, UserSignals
from plexm8.recommend.model import MODEL_VERSION, ModelParams, RecommendationModel, build_model

from .conftest import World


@pytest.fixture(scope="module")
def model(signals: LibrarySignals) -> RecommendationModel:
    return build_model(signals)


def station_songs(world: World, station: int) -> list[int]:
    return [k for k, s in world.station_of.items() if s == station]


def test_similar_stays_in_the_seeds_station_and_never_returns_seeds(model: RecommendationModel, world: World) -> None:
    seeds = station_songs(world, 3)[:4]
    found = model.similar(seeds, limit=10)
    assert len(found) == 10
    assert not {r.key for r in found} & set(seeds)
    assert sum(world.station_of[r.key] == 3 for r in found) >= 8
    scores = [r.score for r in found]
    assert scores == sorted(scores, reverse=True) and scores[-1] > 0


def test_reasons_name_real_seed_tracks(model: RecommendationModel, world: World) -> None:
    seeds = station_songs(world, 2)[:3]
    titles = {f"“{world.tracks[k].title}” by {world.tracks[k].artist}" for k in seeds}
    found = model.similar(seeds, limit=15)
    assert found
    for rec in found:
        assert any(title in rec.reason for title in titles) or rec.reason == "popular in your library", rec.reason
    assert any(rec.reason.startswith("often in your playlists with") for rec in found)


def test_exclude_per_artist_and_unknown_seeds(model: RecommendationModel, world: World) -> None:
    seeds = station_songs(world, 4)[:3]
    plain = model.similar(seeds, limit=12)
    banned = {plain[0].key, plain[1].key}
    excluded = model.similar([*seeds, 999_999], limit=12, exclude=banned)
    assert not banned & {r.key for r in excluded}
    assert excluded[0].key == plain[2].key
    capped = model.similar(seeds, limit=12, per_artist=1)
    artists = Counter(world.tracks[r.key].artist for r in capped)
    assert max(artists.values()) == 1
    assert max(Counter(world.tracks[r.key].artist for r in plain).values()) > 1
    assert model.similar([999_999], limit=5) == []
    assert model.knows(seeds[0]) and not model.knows(999_999)


def test_bad_options_are_refused(model: RecommendationModel) -> None:
    with pytest.raises(ValueError, match="novelty"):
        model.similar([0], limit=5, novelty=1.5)
    with pytest.raises(ValueError, match="per_artist"):
        model.for_user(limit=5, per_artist=0)
    with pytest.raises(ValueError, match="limit"):
        model.similar([0], limit=-1)


def test_novelty_favours_rarely_played_tracks(model: RecommendationModel, world: World) -> None:
    seeds = station_songs(world, 0)[10:13]
    familiar = model.similar(seeds, limit=10, novelty=0.0)
    novel = model.similar(seeds, limit=10, novelty=1.0)
    played = set(station_songs(world, 0)[:10])
    assert sum(r.key in played for r in novel) < sum(r.key in played for r in familiar)


def test_cold_start_track_gets_metadata_results() -> None:
    tracks = [
        TrackInfo(key=1, title="Lonely", artist="Nobody", genres=("ambient",)),
        TrackInfo(key=2, title="Drone", artist="Nobody", genres=("ambient",)),
        TrackInfo(key=3, title="Calm", artist="Someone", genres=("ambient",), year=1995),
        TrackInfo(key=4, title="Loud", artist="Other", genres=("metal",)),
        TrackInfo(key=5, title="Louder", artist="Other", genres=("metal",)),
    ]
    model = build_model(LibrarySignals(tracks=tracks, playlists=[[4, 5], [5, 4]]))
    found = model.similar([1], limit=3)
    assert [r.key for r in found][:2] == [2, 3]
    assert found[0].reason == "same artist as “Lonely” by Nobody"
    assert found[1].reason == "same genre (ambient) as “Lonely” by Nobody"


def test_sonic_neighbours_give_sounds_like_reasons() -> None:
    tracks = [TrackInfo(key=k, title=f"T{k}", artist=f"A{k}") for k in range(1, 6)]
    model = build_model(LibrarySignals(tracks=tracks, sonic={1: [(4, 0.2), (5, 0.4)]}))
    found = model.similar([1], limit=5)
    assert [r.key for r in found] == [4, 5]
    assert found[0].reason == "sounds like “T1” by A1"


def test_for_user_recommends_unrated_tracks_for_the_taste(model: RecommendationModel, world: World) -> None:
    found = model.for_user(limit=20)
    assert len(found) == 20
    rated = {0, 1, station_songs(world, 1)[0]}
    assert not rated & {r.key for r in found}
    # The account likes and plays station 0: most of the answer comes from there.
    assert sum(world.station_of[r.key] == 0 for r in found) >= 12
    assert any("which you rated 5★" in r.reason or "which you rated 4★" in r.reason for r in found)


def test_low_ratings_push_similar_tracks_down(world: World) -> None:
    station1 = station_songs(world, 1)
    playlists = world.playlists
    plain = build_model(LibrarySignals(tracks=world.tracks, playlists=playlists))
    disliking = build_model(
        LibrarySignals(tracks=world.tracks, playlists=playlists, user=UserSignals(ratings={station1[0]: 1.0}))
    )
    seeds = station1[5:8]
    before = [r.key for r in plain.similar(seeds, limit=30)]
    after = [r.key for r in disliking.similar(seeds, limit=30)]
    assert station1[0] in before and station1[0] not in after
    near = [k for k in before[:10] if k != station1[0]]
    after_scores = {r.key: r.score for r in disliking.similar(seeds, limit=60)}
    before_scores = {r.key: r.score for r in plain.similar(seeds, limit=60)}
    assert sum(after_scores.get(k, 0.0) < before_scores[k] for k in near) >= len(near) // 2


def test_long_unplayed_liked_tracks_come_back() -> None:
    tracks = [TrackInfo(key=k, title=f"T{k}", artist="A", genres=("rock",)) for k in range(1, 5)]
    day = 86400
    user = UserSignals(
        ratings={1: 10.0, 2: 10.0, 3: 10.0},
        play_counts={1: 5, 2: 5, 3: 5},
        last_played={1: 1000 * day, 2: 999 * day, 3: 100 * day},
    )
    model = build_model(LibrarySignals(tracks=tracks, playlists=[[1, 2, 3, 4]], user=user))
    keys = {r.key for r in model.for_user(limit=10)}
    assert keys == {3, 4}


def test_save_load_round_trip(model: RecommendationModel, world: World, tmp_path: Path) -> None:
    path = tmp_path / "models" / "account-1.npz"
    model.save(path)
    loaded = RecommendationModel.load(path)
    seeds = station_songs(world, 5)[:3]
    assert loaded.similar(seeds, limit=20, per_artist=2) == model.similar(seeds, limit=20, per_artist=2)
    assert loaded.for_user(limit=20, novelty=0.5) == model.for_user(limit=20, novelty=0.5)
    assert loaded.params == model.params and len(loaded) == len(model)
    assert [p.name for p in path.parent.iterdir()] == ["account-1.npz"]


def test_bad_model_files_raise_value_error(model: RecommendationModel, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cannot read"):
        RecommendationModel.load(tmp_path / "missing.npz")
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"not a model at all")
    with pytest.raises(ValueError, match="not a PlexM8 recommendation model"):
        RecommendationModel.load(garbage)
    good = tmp_path / "good.npz"
    model.save(good)
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(ValueError, match="not a PlexM8 recommendation model"):
        RecommendationModel.load(truncated)
    old = tmp_path / "old.npz"
    with np.load(good) as archive:
        arrays = {name: archive[name] for name in archive.files}
    header = json.loads(bytes(arrays["header"]).decode())
    header["version"] = MODEL_VERSION - 1
    arrays["header"] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    np.savez(old, **arrays)
    with pytest.raises(ValueError, match="rebuild the model"):
        RecommendationModel.load(old)
    damaged = tmp_path / "damaged.npz"
    header["version"] = MODEL_VERSION
    arrays["header"] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    arrays["nb_indices"] = arrays["nb_indices"] + 10_000_000
    np.savez(damaged, **arrays)
    with pytest.raises(ValueError, match="damaged"):
        RecommendationModel.load(damaged)
    with np.load(good) as archive:
        arrays = {name: archive[name] for name in archive.files}
    arrays["embedding"] = arrays["embedding"][:-1]
    np.savez(damaged, **arrays)
    with pytest.raises(ValueError, match="track vectors"):
        RecommendationModel.load(damaged)
    assert zipfile.is_zipfile(good)


def test_build_reports_progress_and_can_be_cancelled(signals: LibrarySignals) -> None:
    stages: list[str] = []
    build_model(signals, progress=lambda stage, done, total: stages.append(stage))
    assert stages[0] == "tracks" and stages[-1] == "done" and "neighbours" in stages
    calls = 0

    def stop_after_three() -> bool:
        nonlocal calls
        calls += 1
        return calls > 3

    with pytest.raises(JobCancelled):
        build_model(signals, should_stop=stop_after_three)


def test_duplicate_track_keys_are_refused() -> None:
    tracks = [TrackInfo(key=1, title="a", artist="x"), TrackInfo(key=1, title="b", artist="y")]
    with pytest.raises(ValueError, match="appears twice"):
        build_model(LibrarySignals(tracks=tracks))


def test_empty_library_builds_and_answers_nothing() -> None:
    model = build_model(LibrarySignals(tracks=[]))
    assert model.similar([1], limit=5) == [] and model.for_user(limit=5) == []


def test_item_knn_weighs_separately_in_similar_and_for_user(signals: LibrarySignals, world: World) -> None:
    # Co-occurrence through the item-kNN neighbours only: no session-kNN, track vectors, metadata, sonic data or
    # expansion.
    only_neighbours = ModelParams(
        w_sessions=0.0, w_embedding=0.0, w_artist=0.0, w_album=0.0, w_tags=0.0, w_sonic=0.0, expansion=0
    )
    assert only_neighbours.w_neighbours_similar == 0.0 < only_neighbours.w_neighbours
    without = build_model(signals, params=only_neighbours)
    with_knn = build_model(signals, params=replace(only_neighbours, w_neighbours_similar=1.0))
    seeds = station_songs(world, 5)[:4]
    assert all(r.reason == "popular in your library" for r in without.similar(seeds, limit=10))
    found = with_knn.similar(seeds, limit=10)
    assert sum(world.station_of[r.key] == 5 for r in found) >= 8
    assert all(r.reason.startswith("often ") for r in found)
    # for_user has no session-kNN: it keeps the neighbours at ``w_neighbours`` whatever ``similar`` uses.
    mine = without.for_user(limit=10)
    assert sum(world.station_of[r.key] == 0 for r in mine) >= 8


#: Only the track vectors rank: session-kNN still chooses the candidates, but with weight 0.
ONLY_VECTORS = ModelParams(
    w_sessions=0.0, w_neighbours_similar=0.0, w_artist=0.0, w_album=0.0, w_tags=0.0, w_sonic=0.0, expansion=0
)


def test_track_vectors_carry_the_stations(signals: LibrarySignals, world: World) -> None:
    seeds = station_songs(world, 6)[:4]
    found = build_model(signals, params=ONLY_VECTORS).similar(seeds, limit=10)
    assert sum(world.station_of[r.key] == 6 for r in found) >= 8
    assert all(r.reason.startswith("often ") for r in found)
    off = build_model(signals, params=replace(ONLY_VECTORS, w_embedding=0.0)).similar(seeds, limit=10)
    assert all(r.reason == "popular in your library" for r in off)


def test_track_vectors_of_a_larger_library_use_the_sparse_svd() -> None:
    # 2,000 tracks: above the dense-SVD limit, so the vectors come from ARPACK, as at 100,000 tracks.
    rng = np.random.default_rng(3)
    stations, per_station = 20, 100
    tracks = [TrackInfo(key=k, title=f"Song {k}", artist=f"Artist {k}") for k in range(stations * per_station)]
    playlists = [
        [int(k) for k in rng.choice(per_station, size=10, replace=False) + per_station * int(rng.integers(stations))]
        for _ in range(1500)
    ]
    model = build_model(LibrarySignals(tracks=tracks, playlists=playlists), params=ONLY_VECTORS)
    found = model.similar([3 * per_station + k for k in range(5)], limit=10)
    assert len(found) == 10
    assert all(3 * per_station <= r.key < 4 * per_station for r in found)
