"""The answers the web layer keeps between requests are never stale: health per check, top-rated per index change."""

from __future__ import annotations

import socket
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Blueprint, Flask
from flask.testing import FlaskClient
from plexapi.server import PlexServer
from waitress.server import create_server

from plexm8.bootstrap import DATABASE_NAME, Services
from plexm8.core.tracks import TrackView
from plexm8.web import create_app
from plexm8.web.api.health import FEATURES_KEY
from plexm8.web.api.models import TrackOut
from plexm8.web.api.ratings import TOP_RATED_CACHE_SIZE
from plexm8.web.api.spec import ApiModel, Rendered, api_route, render
from plexm8.web.errors import install_error_handlers
from plexsim.generate import ADMIN_TOKEN, generate_library
from plexsim.library import Library
from plexsim.server import RunningServer

ALICE = "plexsim-alice-token"
TOP = "/api/ratings/top-rated?limit=5&min_rating=10"


@pytest.fixture
def plex_library() -> Library:
    return generate_library(tracks=300, seed=11)


def top_keys(client: FlaskClient, path: str = TOP, **headers: str) -> list[int]:
    response = client.get(path, headers=headers)
    assert response.status_code == 200
    return [item["rating_key"] for item in response.get_json()["items"]]


def unrated_key(client: FlaskClient, **headers: str) -> int:
    response = client.get("/api/tracks?rated=false&limit=1", headers=headers)
    assert response.status_code == 200
    key: int = response.get_json()["items"][0]["rating_key"]
    return key


# --- health ----------------------------------------------------------------------------------------------


def test_health_changes_with_every_check(client: FlaskClient, services: Services, sim: RunningServer) -> None:
    services.monitor.check_now()
    first = client.get("/api/health").get_json()
    assert client.get("/api/health").get_json() == first
    assert first["plex"]["reachable"] is True

    sim.knobs.configure(fail_path="^/$", fail_status=500)
    services.monitor.check_now()
    failing = client.get("/api/health").get_json()["plex"]
    assert failing["reachable"] is False
    assert failing["error"]["code"] == "plex_unavailable"

    sim.knobs.reset()
    services.monitor.check_now()
    recovered = client.get("/api/health").get_json()["plex"]
    assert recovered["reachable"] is True
    assert recovered["error"] is None


def test_health_document_is_per_app(services: Services) -> None:
    """Two apps over the same services each render their own document (features belong to the app)."""
    one, two = create_app(services=services), create_app(services=services)
    two.config[FEATURES_KEY] = ("only-this",)
    assert one.test_client().get("/api/health").get_json()["features"] != ["only-this"]
    assert two.test_client().get("/api/health").get_json()["features"] == ["only-this"]


# --- top rated -------------------------------------------------------------------------------------------


def test_same_query_after_a_rating_shows_it(client: FlaskClient) -> None:
    key = unrated_key(client)
    before = top_keys(client)
    assert key not in before
    assert top_keys(client) == before  # answered again (from the cache) unchanged
    assert client.post("/api/ratings/rate", json={"track_key": key, "rating": 10}).status_code == 200
    assert top_keys(client)[0] == key
    assert client.post("/api/ratings/rate", json={"track_key": key, "rating": None}).status_code == 200
    assert key not in top_keys(client)


def test_answers_are_per_account(client: FlaskClient) -> None:
    key = unrated_key(client, Authorization=f"Bearer {ALICE}")
    admin_before = top_keys(client)
    alice_before = top_keys(client, Authorization=f"Bearer {ALICE}")
    rated = client.post(
        "/api/ratings/rate", json={"track_key": key, "rating": 10}, headers={"Authorization": f"Bearer {ALICE}"}
    )
    assert rated.status_code == 200
    assert top_keys(client, Authorization=f"Bearer {ALICE}")[0] == key
    assert key not in alice_before
    assert top_keys(client) == admin_before


def test_refresh_committed_elsewhere_shows_at_once(client: FlaskClient, services: Services, sim: RunningServer) -> None:
    """A rating made in Plex (not through PlexM8) appears in the same query once a refresh commits it."""
    key = unrated_key(client)
    before = top_keys(client)
    PlexServer(sim.url, ADMIN_TOKEN).fetchItem(key).rate(10)
    assert top_keys(client) == before  # not in the index yet
    services.index.refresh(services.account_for(None))
    assert key in top_keys(client)


def test_write_by_another_connection_changes_the_generation(services: Services, tmp_path: Path) -> None:
    queries = services.queries
    first = queries.generation()
    assert queries.generation() == first
    other = sqlite3.connect(tmp_path / DATABASE_NAME, isolation_level=None)
    try:
        # Any commit counts, whatever it touches (a refresh, the CLI in another process, another thread).
        other.execute("CREATE TABLE scratch (x)")
    finally:
        other.close()
    second = queries.generation()
    assert second != first
    assert queries.generation() == second


def test_many_distinct_queries_stay_correct(client: FlaskClient) -> None:
    """Past the cache's size it starts over; every answer still matches the query."""
    for limit in range(1, TOP_RATED_CACHE_SIZE + 20):
        items = client.get(f"/api/ratings/top-rated?limit={limit}").get_json()["items"]
        assert len(items) <= limit
    assert len(top_keys(client, "/api/ratings/top-rated?limit=3")) == 3


def test_rating_is_seen_by_every_server_thread(services: Services) -> None:
    """Over real HTTP with several waitress threads (each with its own SQLite connection and warm cache)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = create_server(create_app(services=services), host="127.0.0.1", port=port, threads=4)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"

    def top(session: requests.Session) -> list[int]:
        response = session.get(base + TOP, timeout=10)
        assert response.status_code == 200
        return [item["rating_key"] for item in response.json()["items"]]

    try:
        sessions = [requests.Session() for _ in range(6)]
        key = requests.get(f"{base}/api/tracks?rated=false&limit=1", timeout=10).json()["items"][0]["rating_key"]
        for _ in range(3):
            for session in sessions:
                assert key not in top(session)
        rated = requests.post(f"{base}/api/ratings/rate", json={"track_key": key, "rating": 10}, timeout=10)
        assert rated.status_code == 200
        for _ in range(3):
            for session in sessions:
                assert top(session)[0] == key
        for session in sessions:
            session.close()
    finally:
        server.close()
        thread.join(timeout=5)


# --- pre-rendered answers ----------------------------------------------------------------------------------


class _Thing(ApiModel):
    name: str


class _Other(ApiModel):
    size: int


def test_a_rendered_answer_of_the_wrong_model_is_an_error() -> None:
    bp = Blueprint("things", __name__, url_prefix="/api")
    kept: dict[str, Rendered] = {"right": render(_Thing(name="x")), "wrong": render(_Other(size=1))}

    @api_route(bp, "GET", "/things/<which>", response=_Thing, summary="A thing")
    def thing(which: str) -> Rendered:
        return kept[which]

    app = Flask(__name__)
    install_error_handlers(app)
    app.register_blueprint(bp)
    client = app.test_client()
    right = client.get("/api/things/right")
    assert right.status_code == 200
    assert right.mimetype == "application/json"
    assert right.get_json() == {"name": "x"}
    wrong = client.get("/api/things/wrong")
    assert wrong.status_code == 500
    body: dict[str, Any] = wrong.get_json()
    assert body["error"]["code"] == "internal_error"


def test_track_list_is_what_single_tracks_are() -> None:
    """``TrackOut.many`` (the top-rated path) gives exactly what ``TrackOut.of`` gives, unset fields included."""
    tracks = [
        TrackView(1, "Full", "Artist", "Album", 200_000, 2001, 7.0, 1_700_000_000, 3, 1_700_000_500, 1_600_000_000),
        TrackView(2, "Bare", None, None, None, None, None, None, 0, None, None),
        TrackView(3, "Zero", "A", "B", 1, 1999, 0.0, 0, 1, 0, 0),
    ]
    assert TrackOut.many(tracks) == [TrackOut.of(track) for track in tracks]
    assert TrackOut.many(tracks)[0].stars == 3.5
    assert TrackOut.many([]) == []


def test_top_rated_packs_the_same_rows_as_a_plain_query(
    client: FlaskClient, services: Services, tmp_path: Path
) -> None:
    """Top rated reads its rows packed as JSON; it must give what the plain ordered query gives, ties and NULLs too."""
    assert client.get("/api/ratings/top-rated").status_code == 200  # builds the index
    account = services.account_for(None).key
    db = sqlite3.connect(tmp_path / DATABASE_NAME, isolation_level=None)
    try:
        # Ties on the rating, some without a rating time, and text that needs escaping in JSON.
        db.execute(
            "UPDATE item_states SET user_rating = 6.0, last_rated_at = NULL WHERE account = ? AND rating_key IN"
            " (SELECT rating_key FROM item_states WHERE account = ? AND user_rating IS NOT NULL LIMIT 5)",
            (account, account),
        )
        db.execute(
            "UPDATE tracks SET title = 'Quote \" back\\\\slash \u00e9\u4e2d \U0001f3b5' WHERE rating_key ="
            " (SELECT min(rating_key) FROM item_states WHERE account = ? AND user_rating IS NOT NULL)",
            (account,),
        )
        expected_rows = {
            min_rating: db.execute(
                "SELECT t.rating_key, t.title, coalesce(t.track_artist, t.artist_title), t.album_title, t.duration_ms,"
                " t.year, s.user_rating, s.last_rated_at, coalesce(s.view_count, 0), s.last_viewed_at, t.added_at"
                " FROM item_states s JOIN tracks t ON t.rating_key = s.rating_key"
                " WHERE s.account = ? AND s.user_rating IS NOT NULL AND s.user_rating >= ?"
                " ORDER BY s.user_rating DESC, s.last_rated_at DESC, s.rating_key LIMIT 500",
                (account, min_rating),
            ).fetchall()
            for min_rating in (0.0, 5.5, 6.0, 10.0)
        }
    finally:
        db.close()
    assert len(expected_rows[0.0]) > 10
    for min_rating, rows in expected_rows.items():
        got = services.queries.top_rated(account, min_rating=min_rating, limit=500)
        assert got == [TrackView(*row) for row in rows]
        assert all(isinstance(view.user_rating, float) for view in got)
