"""``/api/recommendations/*`` end to end: Flask app, real services on a SQLite file, plexsim over loopback HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from plexapi.server import PlexServer

from plexm8.bootstrap import Services, build_services
from plexm8.config import load_settings
from plexm8.core.jobs import JobState
from plexm8.services.recommendations import RECOMMEND_BUILD_JOB
from plexm8.web import create_app
from plexsim.generate import ADMIN_TOKEN, generate_library
from plexsim.library import Library
from plexsim.server import RunningServer, start_server

ALICE = "plexsim-alice-token"
BOB = "plexsim-bob-token"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def library() -> Library:
    return generate_library(tracks=300, seed=7)


@pytest.fixture(scope="module")
def sim(library: Library) -> Iterator[RunningServer]:
    with start_server(library) as server:
        yield server


@pytest.fixture(scope="module")
def services(sim: RunningServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    environ = {"PLEX_SERVER_URL": sim.url, "PLEX_TOKEN": ADMIN_TOKEN, "INDEX_REFRESH_INTERVAL": "0"}
    with build_services(load_settings(environ, default_data_dir=tmp_path_factory.mktemp("data"))) as built:
        yield built


@pytest.fixture(scope="module")
def client(services: Services) -> FlaskClient:
    client = create_app(services=services).test_client()
    # The module's model, built once: the first query builds it and waits (a 300-track library is quick).
    assert client.get("/api/recommendations/based-on-ratings?limit=1").status_code == 200
    return client


def ok(client: FlaskClient, url: str, **headers: str) -> dict[str, Any]:
    response = client.get(url, headers=headers)
    assert response.status_code == 200, response.get_json()
    data: dict[str, Any] = response.get_json()
    return data


def error(client: FlaskClient, url: str, status: int) -> dict[str, str]:
    response = client.get(url)
    assert response.status_code == status, response.get_json()
    detail: dict[str, str] = response.get_json()["error"]
    return detail


def keys(data: dict[str, Any]) -> list[int]:
    return [item["track"]["rating_key"] for item in data["items"]]


def test_based_on_ratings_answers_tracks_scores_and_reasons(client: FlaskClient) -> None:
    data = ok(client, "/api/recommendations/based-on-ratings?limit=12")
    assert data["limit"] == 12 and len(data["items"]) == 12
    for item in data["items"]:
        track = item["track"]
        assert track["key"] == f"/library/metadata/{track['rating_key']}"
        assert track["title"] and "artist" in track and "album" in track and "duration_ms" in track
        assert "rating" in track and "stars" in track
        assert isinstance(item["score"], float) and item["reason"]
    scores = [item["score"] for item in data["items"]]
    assert scores == sorted(scores, reverse=True)


def test_similar_to_one_or_several_tracks(client: FlaskClient) -> None:
    first, second = keys(ok(client, "/api/recommendations/based-on-ratings?limit=2"))
    one = ok(client, f"/api/recommendations/similar?track_key=/library/metadata/{first}&limit=10")
    assert len(one["items"]) == 10 and first not in keys(one)
    both = ok(client, f"/api/recommendations/similar?track_key={first}&track_key={second}&limit=10")
    assert both["items"] and not {first, second} & set(keys(both))
    assert keys(both) != keys(one)


def test_similar_to_an_album_or_an_artist(client: FlaskClient, library: Library) -> None:
    album = library.albums[2]
    album_tracks = {t.id for t in library.tracks if t.album == album.id}
    by_album = ok(client, f"/api/recommendations/similar?album_key=/library/metadata/{album.id}&limit=8")
    assert by_album["items"] and not album_tracks & set(keys(by_album))
    by_artist = ok(client, f"/api/recommendations/similar?artist_key={album.artist}&limit=8")
    assert by_artist["items"] and not album_tracks & set(keys(by_artist))


def test_options_shape_the_answer(client: FlaskClient, library: Library) -> None:
    album_artist = {album.id: album.artist for album in library.albums}
    artist_of = {track.id: album_artist[track.album] for track in library.tracks}
    capped = ok(client, "/api/recommendations/based-on-ratings?limit=30&per_artist=1")
    artists = [artist_of[key] for key in keys(capped)]
    assert capped["items"] and len(artists) == len(set(artists))
    # Every played track was played less than 100 years ago: all of them go.
    fresh = ok(client, "/api/recommendations/based-on-ratings?limit=30&exclude_played_days=36500")
    assert fresh["items"] and all(item["track"]["view_count"] == 0 for item in fresh["items"])
    novel = ok(client, "/api/recommendations/based-on-ratings?limit=30&novelty=1")
    assert novel["items"]


def test_each_bearer_gets_their_own_recommendations(client: FlaskClient) -> None:
    alice = ok(client, "/api/recommendations/based-on-ratings?limit=20", **bearer(ALICE))
    bob = ok(client, "/api/recommendations/based-on-ratings?limit=20", **bearer(BOB))
    assert keys(alice) != keys(bob)


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("limit=0", "limit"),
        ("limit=501", "limit"),
        ("limit=ten", "limit"),
        ("novelty=2", "novelty"),
        ("per_artist=0", "per_artist"),
        ("exclude_played_days=-3", "exclude_played_days"),
    ],
)
def test_bad_options_are_refused(client: FlaskClient, query: str, field: str) -> None:
    for path in ("based-on-ratings", "similar"):
        detail = error(client, f"/api/recommendations/{path}?track_key=1&{query}", 422)
        assert detail["code"] == "validation_error" and f"'{field}'" in detail["message"]


@pytest.mark.parametrize("seed", ["track_key=abc", "album_key=/library/sections/1", "artist_key=-4", "track_key=0"])
def test_malformed_seeds_are_refused(client: FlaskClient, seed: str) -> None:
    detail = error(client, f"/api/recommendations/similar?{seed}", 422)
    assert detail["code"] == "validation_error"


def test_similar_needs_a_seed(client: FlaskClient) -> None:
    detail = error(client, "/api/recommendations/similar?limit=5", 422)
    assert "seed" in detail["message"]


def test_unknown_seeds_are_404(client: FlaskClient, library: Library) -> None:
    detail = error(client, "/api/recommendations/similar?track_key=/library/metadata/99999999", 404)
    assert detail["code"] == "track_not_found" and "/library/metadata/99999999" in detail["message"]
    assert error(client, "/api/recommendations/similar?album_key=99999999", 404)["code"] == "track_not_found"
    # An artist's key names no track.
    assert error(client, f"/api/recommendations/similar?track_key={library.artists[0].id}", 404)


def test_status_and_build(client: FlaskClient, services: Services) -> None:
    status = ok(client, "/api/recommendations/status")
    assert status["built"] and status["current"] and status["tracks"] == 300
    assert status["file_bytes"] > 0 and status["built_at"].endswith("Z")
    assert status["last_build"]["kind"] == RECOMMEND_BUILD_JOB and status["running_build"] is None
    response = client.post("/api/recommendations/build")
    assert response.status_code == 202
    job = response.get_json()
    assert job["kind"] == RECOMMEND_BUILD_JOB and response.headers["Location"] == f"/api/jobs/{job['id']}"
    assert services.jobs.wait(job["id"], timeout=60).state is JobState.SUCCEEDED
    done = ok(client, f"/api/jobs/{job['id']}")
    assert done["counts"]["tracks"] == 300
    assert ok(client, "/api/recommendations/status")["last_build"]["id"] == job["id"]


def test_feature_is_announced_and_documented(client: FlaskClient) -> None:
    assert "recommendations" in ok(client, "/api/health")["features"]
    paths = ok(client, "/api/openapi.json")["paths"]
    for path in ("similar", "based-on-ratings", "build", "status"):
        assert f"/api/recommendations/{path}" in paths
    parameters = {p["name"] for p in paths["/api/recommendations/similar"]["get"]["parameters"]}
    assert {
        "track_key",
        "album_key",
        "artist_key",
        "limit",
        "exclude_played_days",
        "per_artist",
        "novelty",
    } <= parameters


def test_saving_an_answer_as_a_playlist(client: FlaskClient, sim: RunningServer) -> None:
    found = keys(ok(client, "/api/recommendations/based-on-ratings?limit=7"))
    response = client.post("/api/playlists", json={"title": "For me", "track_keys": found})
    assert response.status_code == 201, response.get_json()
    playlist = PlexServer(sim.url, ADMIN_TOKEN).playlist("For me")
    assert [int(item.ratingKey) for item in playlist.items()] == found


def test_queries_answer_while_plex_is_down(library: Library, tmp_path: Path) -> None:
    server = start_server(library)
    environ = {"PLEX_SERVER_URL": server.url, "PLEX_TOKEN": ADMIN_TOKEN, "INDEX_REFRESH_INTERVAL": "0"}
    with build_services(load_settings(environ, default_data_dir=tmp_path)) as services:
        client = create_app(services=services).test_client()
        seed = keys(ok(client, "/api/recommendations/based-on-ratings?limit=1"))[0]
        server.stop()
        assert len(ok(client, "/api/recommendations/based-on-ratings?limit=5")["items"]) == 5
        assert ok(client, f"/api/recommendations/similar?track_key={seed}&limit=5")["items"]
        assert ok(client, "/api/recommendations/status")["built"]


def test_a_slow_first_build_answers_503_naming_the_job(library: Library, tmp_path: Path) -> None:
    with start_server(library) as server:
        environ = {"PLEX_SERVER_URL": server.url, "PLEX_TOKEN": ADMIN_TOKEN, "INDEX_REFRESH_INTERVAL": "0"}
        with build_services(load_settings(environ, default_data_dir=tmp_path)) as services:
            client = create_app(services=services).test_client()
            # No wait at all: the first query can only report the build it started.
            services.recommendations.first_build_wait = 0
            response = client.get("/api/recommendations/based-on-ratings")
            assert response.status_code == 503
            detail = response.get_json()["error"]
            assert detail["code"] == "recommendations_not_ready" and "/api/jobs/" in detail["message"]
            job = services.jobs.list(kind=RECOMMEND_BUILD_JOB)[0]
            assert services.jobs.wait(job.id, timeout=60).state is JobState.SUCCEEDED
            assert ok(client, "/api/recommendations/based-on-ratings?limit=3")["items"]
