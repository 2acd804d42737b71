"""Recommendations end to end: plexsim over HTTP, the real index on a SQLite file, the real model, built as jobs."""

from __future__ import annotations

import socket
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from plexapi.server import PlexServer

from plexm8.bootstrap import DATABASE_NAME, Services, build_services
from plexm8.config import load_settings
from plexm8.core.accounts import PlexAccount
from plexm8.core.catalog import TrackRecord
from plexm8.core.jobs import JobState
from plexm8.errors import RecommendationsNotReady, TrackNotFound, ValidationError
from plexm8.plex.library import PlexApiLibrary
from plexm8.plex.sonic import PlexSonicNeighbours
from plexm8.services.recommendations import (
    RECOMMEND_BUILD_JOB,
    RecommendationService,
    collect_signals,
    cut_sessions,
    sonic_neighbours,
)
from plexm8.store.recommend_inputs import SqliteRecommendationInputs
from plexsim.generate import ADMIN_TOKEN, generate_library
from plexsim.library import Library
from plexsim.server import RunningServer, start_server

ALICE = "plexsim-alice-token"
BOB = "plexsim-bob-token"


@pytest.fixture(scope="module")
def library() -> Library:
    return generate_library(tracks=400, seed=11)


@pytest.fixture(scope="module")
def sim(library: Library) -> Iterator[RunningServer]:
    with start_server(library) as server:
        yield server


def open_services(sim: RunningServer, data_dir: Path) -> Services:
    environ = {"PLEX_SERVER_URL": sim.url, "PLEX_TOKEN": ADMIN_TOKEN, "INDEX_REFRESH_INTERVAL": "0"}
    return build_services(load_settings(environ, default_data_dir=data_dir))


@pytest.fixture(scope="module")
def built(sim: RunningServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Services, PlexAccount]]:
    """Services whose admin account has a model (built once for the module's read-only tests)."""
    with open_services(sim, tmp_path_factory.mktemp("data")) as services:
        account = services.account_for(None)
        services.recommendations.build(account)
        yield services, account


@pytest.fixture
def closed_url() -> str:
    """A loopback URL on which nothing listens (connection refused)."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def build_jobs(services: Services, account: PlexAccount) -> list[int]:
    return [job.id for job in services.jobs.list(kind=RECOMMEND_BUILD_JOB, account=account.key)]


# --- sessions ----------------------------------------------------------------------------------------------


def test_sessions_split_at_the_gap_per_listener_and_device() -> None:
    plays = [
        (1_000, 1, 7, 1),
        (1_200, 2, 7, 1),
        (1_250, 50, 8, 2),  # another listener: its own session
        (1_300, 2, 7, 1),  # the same track again at once counts once
        (1_400, 3, 7, 1),
        (1_400 + 1_801, 4, 7, 1),  # more than 30 minutes later: a new session
        (1_400 + 1_900, 5, 7, 1),
        (9_000, 51, 8, 2),  # far from listener 8's first play: two sessions of one play, both dropped
        (20_000, 6, 7, 1),  # alone: dropped
    ]
    assert cut_sessions(plays) == [[1, 2, 3], [4, 5]]


def test_long_sessions_are_cut_into_pieces() -> None:
    plays = [(60 * n, n, 1, 1) for n in range(120)]
    sessions = cut_sessions(plays)
    assert [len(session) for session in sessions] == [50, 50, 20]
    assert [key for session in sessions for key in session] == list(range(120))
    assert cut_sessions(plays, max_tracks=1_000) == [list(range(120))]


def test_sessions_gap_is_a_parameter() -> None:
    plays = [(0, 1, None, None), (100, 2, None, None), (250, 3, None, None)]
    assert cut_sessions(plays, gap_s=120) == [[1, 2]]
    assert cut_sessions(plays, gap_s=200) == [[1, 2, 3]]


# --- signals from the index --------------------------------------------------------------------------------


def test_signals_carry_the_library_and_the_accounts_evidence(
    built: tuple[Services, PlexAccount], library: Library
) -> None:
    services, account = built
    inputs = SqliteRecommendationInputs(services.settings.data_dir / DATABASE_NAME)
    signals = collect_signals(inputs, account.key)
    assert len(signals.tracks) == len(library.tracks)
    indexed_tags: dict[tuple[int, str], list[str]] = {}
    for key, kind, tag in inputs.tags():
        indexed_tags.setdefault((key, kind), []).append(tag)
    albums = {album.id: album for album in library.albums}
    by_key = {track.key: track for track in signals.tracks}
    for track in library.tracks:
        info = by_key[track.id]
        album = albums[track.album]
        assert (info.album, info.album_key, info.artist_key) == (album.title, album.id, album.artist)
        for kind, found in (("genre", info.genres), ("style", info.styles), ("mood", info.moods)):
            # The track's own tags, else its album's, else its album artist's.
            expected = (
                indexed_tags.get((track.id, kind))
                or indexed_tags.get((album.id, kind))
                or indexed_tags.get((album.artist, kind))
                or []
            )
            assert list(found) == expected
    admin = library.accounts[0]
    assert dict(signals.user.ratings) == {
        r.key: r.rating for r in admin.ratings if r.key in by_key and r.rating is not None
    }
    assert len(signals.playlists) == sum(1 for p in admin.playlists if not p.smart and p.items)
    assert signals.sessions and all(len(session) > 1 for session in signals.sessions)
    assert signals.sonic == {}


def test_signals_take_plexs_sonic_neighbours_of_the_accounts_favourites(
    built: tuple[Services, PlexAccount], sim: RunningServer
) -> None:
    services, account = built
    inputs = SqliteRecommendationInputs(services.settings.data_dir / DATABASE_NAME)
    signals = collect_signals(inputs, account.key)
    library = PlexApiLibrary(sim.url, ADMIN_TOKEN, timeout=10)
    try:
        sonic = sonic_neighbours(PlexSonicNeighbours(library), signals, tracks=5)
    finally:
        library.close()
    assert 0 < len(sonic) <= 5
    # The five best rated tracks are asked (those Plex has not analysed have no neighbours).
    fifth_best = sorted(signals.user.ratings.values(), reverse=True)[4]
    assert all(signals.user.ratings.get(key, 0) >= fifth_best for key in sonic)
    known = {track.key for track in signals.tracks}
    for neighbours in sonic.values():
        distances = [distance for _, distance in neighbours]
        assert distances == sorted(distances) and all(0 <= d <= 0.25 for d in distances)
        assert all(key in known for key, _ in neighbours)


def test_sonic_data_is_optional_when_plex_is_down(built: tuple[Services, PlexAccount], closed_url: str) -> None:
    services, account = built
    signals = collect_signals(SqliteRecommendationInputs(services.settings.data_dir / DATABASE_NAME), account.key)
    library = PlexApiLibrary(closed_url, ADMIN_TOKEN, timeout=2)
    try:
        assert sonic_neighbours(PlexSonicNeighbours(library), signals, tracks=5) == {}
    finally:
        library.close()


def test_sonic_reader_agrees_with_plexapi(sim: RunningServer) -> None:
    server = PlexServer(sim.url, ADMIN_TOKEN)
    track = next(t for t in server.library.section("Music").searchTracks(maxresults=50) if t.sonicallySimilar())
    expected = [(int(t.ratingKey), float(t.distance)) for t in track.sonicallySimilar(limit=10, maxDistance=0.3)]
    library = PlexApiLibrary(sim.url, ADMIN_TOKEN, timeout=10)
    try:
        found = PlexSonicNeighbours(library).nearest(int(track.ratingKey), limit=10, max_distance=0.3)
        unknown = PlexSonicNeighbours(library).nearest(999_999_999, limit=10, max_distance=0.3)
    finally:
        library.close()
    assert found == expected and found
    assert unknown == []


def test_sonic_reader_without_analysis_gives_nothing(library: Library) -> None:
    library.section.sonic_analysis = False
    try:
        with start_server(library) as server:
            plex = PlexApiLibrary(server.url, ADMIN_TOKEN, timeout=10)
            try:
                assert PlexSonicNeighbours(plex).nearest(library.tracks[0].id, limit=10, max_distance=1.0) == []
            finally:
                plex.close()
    finally:
        library.section.sonic_analysis = True


# --- queries -------------------------------------------------------------------------------------------------


def test_similar_to_a_track_gives_reasons_and_never_the_seed(built: tuple[Services, PlexAccount]) -> None:
    services, account = built
    seed = next(iter(services.recommendations.for_user(account, limit=1))).track.rating_key
    found = services.recommendations.similar(account, track_keys=[seed], limit=20)
    assert len(found) == 20
    assert seed not in {item.track.rating_key for item in found}
    assert all(item.reason and item.track.title for item in found)
    scores = [item.score for item in found]
    assert scores == sorted(scores, reverse=True)


def test_similar_to_an_album_or_artist_seeds_with_their_tracks(
    built: tuple[Services, PlexAccount], library: Library
) -> None:
    services, account = built
    album = library.albums[3]
    album_tracks = {t.id for t in library.tracks if t.album == album.id}
    found = services.recommendations.similar(account, album_keys=[album.id], limit=15)
    assert found and not album_tracks & {item.track.rating_key for item in found}
    artist_albums = {a.id for a in library.albums if a.artist == album.artist}
    artist_tracks = {t.id for t in library.tracks if t.album in artist_albums}
    by_artist = services.recommendations.similar(account, artist_keys=[album.artist], limit=15)
    assert by_artist and not artist_tracks & {item.track.rating_key for item in by_artist}


def test_for_me_recommends_unrated_or_long_unplayed_tracks(built: tuple[Services, PlexAccount]) -> None:
    services, account = built
    found = services.recommendations.for_user(account, limit=30)
    assert len(found) == 30
    assert all(item.reason for item in found)
    rated_high = [item for item in found if item.track.user_rating is not None and item.track.user_rating >= 8]
    assert len(rated_high) < len(found)


def test_exclude_played_days_leaves_out_recent_plays(built: tuple[Services, PlexAccount]) -> None:
    services, account = built
    inputs = SqliteRecommendationInputs(services.settings.data_dir / DATABASE_NAME)
    last_played = sorted(last for _, _, _, last in inputs.track_states(account.key) if last)
    # A window reaching back to the median last play: half of the played tracks count as recent.
    cutoff = last_played[len(last_played) // 2]
    days = (time.time() - cutoff) / 86_400
    recent = {key for key, _, _, last in inputs.track_states(account.key) if last and last >= cutoff + 60}
    plain = services.recommendations.for_user(account, limit=200)
    assert recent & {item.track.rating_key for item in plain}, "without the option some recent plays come back"
    excluded = services.recommendations.for_user(account, limit=200, exclude_played_days=days)
    assert excluded and not recent & {item.track.rating_key for item in excluded}
    seed = plain[0].track.rating_key
    similar = services.recommendations.similar(account, track_keys=[seed], limit=100, exclude_played_days=days)
    assert similar and not recent & {item.track.rating_key for item in similar}


def test_per_artist_caps_each_album_artist(built: tuple[Services, PlexAccount], library: Library) -> None:
    services, account = built
    album_artist = {album.id: album.artist for album in library.albums}
    artist_of = {track.id: album_artist[track.album] for track in library.tracks}
    plain = services.recommendations.for_user(account, limit=40)
    assert max(Counter(artist_of[item.track.rating_key] for item in plain).values()) > 2
    for cap in (1, 2):
        capped = services.recommendations.for_user(account, limit=40, per_artist=cap)
        counts = Counter(artist_of[item.track.rating_key] for item in capped)
        assert capped and max(counts.values()) == cap


def test_cold_start_track_gets_metadata_based_answers(built: tuple[Services, PlexAccount]) -> None:
    services, account = built
    inputs = SqliteRecommendationInputs(services.settings.data_dir / DATABASE_NAME)
    signals = collect_signals(inputs, account.key)
    seen = {key for group in (*signals.playlists, *signals.sessions) for key in group}
    cold = min((t for t in signals.tracks if t.key not in seen), key=lambda t: (not t.genres, t.key))
    found = services.recommendations.similar(account, track_keys=[cold.key], limit=10)
    assert len(found) == 10
    assert all(item.reason for item in found)
    assert not any("playlists" in item.reason or "played with" in item.reason for item in found)


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 501}, "limit"),
        ({"novelty": 1.5}, "novelty"),
        ({"per_artist": 0}, "per_artist"),
        ({"exclude_played_days": -1}, "exclude_played_days"),
    ],
)
def test_bad_options_are_refused(built: tuple[Services, PlexAccount], options: dict[str, float], field: str) -> None:
    services, account = built
    with pytest.raises(ValidationError) as caught:
        services.recommendations.for_user(account, **options)  # type: ignore[arg-type]
    assert caught.value.field == field


def test_unknown_seeds_are_not_found(built: tuple[Services, PlexAccount], library: Library) -> None:
    services, account = built
    with pytest.raises(ValidationError):
        services.recommendations.similar(account, limit=5)
    with pytest.raises(TrackNotFound, match="/library/metadata/987654321"):
        services.recommendations.similar(account, track_keys=[987654321], limit=5)
    with pytest.raises(TrackNotFound, match="no album"):
        services.recommendations.similar(account, album_keys=[987654321], limit=5)
    with pytest.raises(TrackNotFound):
        # An album's key is not a track's.
        services.recommendations.similar(account, track_keys=[library.albums[0].id], limit=5)


def test_queries_answer_with_plex_down(library: Library, tmp_path: Path) -> None:
    server = start_server(library)
    with open_services(server, tmp_path) as services:
        account = services.account_for(None)
        services.recommendations.build(account)
        server.stop()
        assert services.account_for(None) == account
        assert len(services.recommendations.for_user(account, limit=5)) == 5
        seed = library.tracks[0].id
        assert services.recommendations.similar(account, track_keys=[seed], limit=5)


# --- accounts, storage and builds --------------------------------------------------------------------------


def test_each_account_has_its_own_model(built: tuple[Services, PlexAccount]) -> None:
    services, admin = built
    alice = services.account_for(ALICE)
    bob = services.account_for(BOB)
    services.recommendations.build(alice)
    services.recommendations.build(bob)
    paths = {services.recommendations.model_path(a.key) for a in (admin, alice, bob)}
    assert len(paths) == 3 and all(path.is_file() for path in paths)
    for_alice = [item.track.rating_key for item in services.recommendations.for_user(alice, limit=20)]
    for_bob = [item.track.rating_key for item in services.recommendations.for_user(bob, limit=20)]
    assert for_alice != for_bob
    # Each answer carries that account's own ratings.
    alice_rated = {
        i.track.rating_key for i in services.recommendations.for_user(alice, limit=200) if i.track.user_rating
    }
    bob_view = services.recommendations.similar(bob, track_keys=list(alice_rated)[:1] or [for_alice[0]], limit=5)
    assert bob_view


def test_model_survives_a_restart_without_a_build(sim: RunningServer, tmp_path: Path) -> None:
    with open_services(sim, tmp_path) as first:
        account = first.account_for(None)
        first.recommendations.build(account)
        expected = [(i.track.rating_key, i.reason) for i in first.recommendations.for_user(account, limit=10)]
        jobs_before = build_jobs(first, account)
    with open_services(sim, tmp_path) as second:
        status = second.recommendations.status(account)
        assert status.built and status.current and status.file_bytes and status.tracks == 400
        answer = [(i.track.rating_key, i.reason) for i in second.recommendations.for_user(account, limit=10)]
        assert answer == expected
        assert build_jobs(second, account) == jobs_before


def test_a_broken_model_file_is_rebuilt(sim: RunningServer, tmp_path: Path) -> None:
    with open_services(sim, tmp_path) as first:
        account = first.account_for(None)
        first.recommendations.build(account)
        path = first.recommendations.model_path(account.key)
    path.write_bytes(b"not a model")
    with open_services(sim, tmp_path) as second:
        assert len(second.recommendations.for_user(account, limit=5)) == 5
        jobs = second.jobs.list(kind=RECOMMEND_BUILD_JOB, account=account.key)
        assert len(jobs) == 2 and jobs[0].state is JobState.SUCCEEDED


def test_first_query_without_a_model_names_the_build_job(sim: RunningServer, tmp_path: Path) -> None:
    with open_services(sim, tmp_path) as services:
        account = services.account_for(None)
        service = RecommendationService(
            SqliteRecommendationInputs(services.settings.data_dir / DATABASE_NAME),
            services.index,
            services.jobs,
            model_dir=tmp_path / "models",
            generation=services.queries.generation,
            first_build_wait=0,
        )
        with pytest.raises(RecommendationsNotReady) as caught:
            service.for_user(account, limit=5)
        job_id = caught.value.job_id
        assert job_id is not None and f"job {job_id}" in caught.value.message
        assert services.jobs.wait(job_id, timeout=60).state is JobState.SUCCEEDED
        assert len(service.for_user(account, limit=5)) == 5
        assert not list((tmp_path / "models").glob("*.tmp")), "no temporary file is left behind"


def test_first_query_waits_for_a_quick_build(sim: RunningServer, tmp_path: Path) -> None:
    with open_services(sim, tmp_path) as services:
        account = services.account_for(None)
        assert len(services.recommendations.for_user(account, limit=5)) == 5
        assert len(build_jobs(services, account)) == 1


def test_a_changed_index_starts_a_rebuild(sim: RunningServer, tmp_path: Path) -> None:
    with open_services(sim, tmp_path) as services:
        account = services.account_for(None)
        service = RecommendationService(
            SqliteRecommendationInputs(services.settings.data_dir / DATABASE_NAME),
            services.index,
            services.jobs,
            model_dir=tmp_path / "models",
            generation=services.queries.generation,
            stale_check_s=0,
            min_rebuild_s=0,
        )
        service.build(account)
        service.for_user(account, limit=5)
        assert len(build_jobs(services, account)) == 1, "an unchanged index rebuilds nothing"
        services.index.refresh(account)
        service.for_user(account, limit=5)
        assert len(build_jobs(services, account)) == 1, "a refresh that changed nothing rebuilds nothing"
        unrated = next(i.track.rating_key for i in service.for_user(account, limit=5) if i.track.user_rating is None)
        services.queries.record_rating(account.key, unrated, 10.0, int(time.time()))
        assert not service.status(account).current
        young = RecommendationService(
            SqliteRecommendationInputs(services.settings.data_dir / DATABASE_NAME),
            services.index,
            services.jobs,
            model_dir=tmp_path / "models",
            generation=services.queries.generation,
            stale_check_s=0,
            min_rebuild_s=3600,
        )
        young.for_user(account, limit=5)
        assert len(build_jobs(services, account)) == 1, "a model younger than min_rebuild_s is kept"
        service.for_user(account, limit=5)
        jobs = services.jobs.list(kind=RECOMMEND_BUILD_JOB, account=account.key)
        assert len(jobs) == 2
        assert services.jobs.wait(jobs[0].id, timeout=60).state is JobState.SUCCEEDED
        assert service.status(account).current


def test_a_seed_newer_than_the_model_starts_a_rebuild(sim: RunningServer, library: Library, tmp_path: Path) -> None:
    with open_services(sim, tmp_path) as services:
        account = services.account_for(None)
        services.recommendations.build(account)
        # What a refresh writes when Plex has a new track on an existing album.
        album = library.albums[0]
        new_key = 9_000_001
        with services.store.refresh(account.key) as writer:
            writer.put_tracks(
                [
                    TrackRecord(
                        rating_key=new_key,
                        album_key=album.id,
                        artist_key=album.artist,
                        title="Brand New",
                        album_title=album.title,
                        artist_title=None,
                        track_artist=None,
                        disc_number=1,
                        track_number=99,
                        duration_ms=200_000,
                        year=None,
                        genres=(),
                        styles=(),
                        moods=(),
                        file_paths=(),
                        added_at=None,
                        updated_at=None,
                    )
                ]
            )
            writer.commit()
        with pytest.raises(RecommendationsNotReady) as caught:
            services.recommendations.similar(account, track_keys=[new_key], limit=5)
        job_id = caught.value.job_id
        assert job_id is not None and f"job {job_id}" in caught.value.message
        assert services.jobs.wait(job_id, timeout=60).state is JobState.SUCCEEDED
        found = services.recommendations.similar(account, track_keys=[new_key], limit=5)
        assert len(found) == 5 and new_key not in {item.track.rating_key for item in found}


def test_a_build_after_a_refresh_runs_only_when_the_index_changed(sim: RunningServer, tmp_path: Path) -> None:
    with open_services(sim, tmp_path) as services:
        account = services.account_for(None)
        recommend = services.recommendations

        def after_refresh() -> dict[str, object]:
            job = recommend.after_refresh(account, services.index.start_refresh(account))
            final = services.jobs.wait(job.id, timeout=60)
            assert final.state is JobState.SUCCEEDED and final.result is not None
            return dict(final.result)

        first = after_refresh()
        assert "rebuilt" not in first and recommend.status(account).built, "an account without a model gets one"
        assert after_refresh() == {"rebuilt": False, "reason": "the index did not change since the model was built"}
        unrated = next(i.track.rating_key for i in recommend.for_user(account, limit=5) if i.track.user_rating is None)
        track = PlexServer(sim.url, ADMIN_TOKEN).fetchItem(unrated)
        track.rate(10.0)
        try:
            changed = after_refresh()
        finally:
            track.rate(None)  # the module's other tests share this plexsim
        assert "rebuilt" not in changed and changed["file_bytes"]
        assert recommend.status(account).current
