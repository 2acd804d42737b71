"""Answers given before Flask (health, top-rated) are exactly Flask's, under the same guard, never stale.

Also the parts top-rated answers are assembled from: the keys-only index walk, the tracks read by key, and the
kept JSON of each track, checked byte for byte against a full render of the plain query's rows.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import Client, EnvironBuilder

from plexm8.bootstrap import DATABASE_NAME, Services
from plexm8.store.queries import SqliteLibraryQueries
from plexm8.web import create_app
from plexm8.web.api.models import TrackOut
from plexm8.web.api.ratings import TopRated, prepared_top_rated
from plexm8.web.api.spec import render
from plexm8.web.prepared import PreparedAnswers
from plexsim.generate import generate_library
from plexsim.library import Library
from plexsim.server import RunningServer

ALICE = "plexsim-alice-token"
TOP = "/api/ratings/top-rated"
WEB_APP = "https://plexm8.netlify.app"


@pytest.fixture
def plex_library() -> Library:
    return generate_library(tracks=300, seed=5)


@pytest.fixture
def app(services: Services) -> Flask:
    """The app, with the server's identity known from a first check (as ``plexm8 serve`` has it after starting)."""
    services.monitor.check_now()
    return create_app(services=services)


def test_nothing_is_prepared_before_the_server_identity_is_known(services: Services) -> None:
    app = create_app(services=services)
    client = app.test_client()
    for _ in range(3):
        assert client.get(f"{TOP}?limit=5").status_code == 200
    assert prepared_top_rated(app, environ(TOP, "limit=5")) is None
    services.monitor.check_now()
    body = client.get(f"{TOP}?limit=5").get_data()
    assert prepared_top_rated(app, environ(TOP, "limit=5")) == body


def flask_only(app: Flask) -> Client:
    """A client of the Flask app behind the prepared answers (what every request got before them)."""
    prepared = app.wsgi_app
    assert isinstance(prepared, PreparedAnswers)
    return Client(prepared.app)


def answer(client: Client | FlaskClient, path: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
    response = client.get(path, headers=headers)
    return response.status_code, dict(response.headers), response.get_data()


def environ(path: str, query: str = "", **headers: str) -> dict[str, Any]:
    built: dict[str, Any] = EnvironBuilder(path=path, query_string=query, headers=list(headers.items())).get_environ()
    return built


def indexed(client: FlaskClient, **headers: str) -> FlaskClient:
    """``client`` once the account's index is built (the first read builds it, which is a commit)."""
    assert client.get("/api/ratings/top-rated?limit=1", headers=headers).status_code == 200
    return client


# --- health ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Origin": WEB_APP},
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Host": "localhost:5000", "Origin": "http://localhost:5000"},  # PlexM8's own origin
        {"Host": "[::1]:5000", "Origin": "http://[::1]:5000"},
        {"Host": "127.0.0.1:80", "Origin": "http://127.0.0.1"},  # werkzeug drops the default port
        {"Host": "LOCALHOST"},
    ],
)
def test_prepared_health_is_what_flask_answers(app: Flask, services: Services, headers: dict[str, str]) -> None:
    services.monitor.check_now()
    prepared = answer(app.test_client(), "/api/health", **headers)
    plain = answer(flask_only(app), "/api/health", **headers)
    assert prepared[0] == 200
    assert prepared == plain


@pytest.mark.parametrize("host", ["evil.example", "localhost.evil.example:5000", "localhost:8/x", "127.0.0.1 x"])
def test_health_for_a_foreign_or_malformed_host_is_refused_by_flask(app: Flask, host: str) -> None:
    response = app.test_client().get("/api/health", headers={"Host": host})
    assert response.status_code == 421
    assert response.get_json()["error"]["code"] == "host_not_allowed"
    assert "Access-Control-Allow-Origin" not in response.headers


def test_other_methods_and_paths_next_to_health_go_to_flask(app: Flask) -> None:
    client = app.test_client()
    assert client.post("/api/health", headers={"Origin": "https://evil.example"}).status_code == 403
    assert client.post("/api/health").status_code == 405
    assert client.head("/api/health").status_code == 200
    assert client.get("/api/health/").status_code == 404


def test_prepared_health_follows_every_check(app: Flask, services: Services, sim: RunningServer) -> None:
    client = app.test_client()
    services.monitor.check_now()
    assert client.get("/api/health").get_json()["plex"]["reachable"] is True
    sim.knobs.configure(fail_path="^/$", fail_status=500)
    services.monitor.check_now()
    assert client.get("/api/health").get_json()["plex"]["reachable"] is False
    assert answer(client, "/api/health") == answer(flask_only(app), "/api/health")


# --- top rated: prepared answers -----------------------------------------------------------------------


def test_repeated_top_rated_is_prepared_and_is_what_flask_answers(app: Flask) -> None:
    client = indexed(app.test_client())
    query = "limit=7&min_rating=4"
    assert prepared_top_rated(app, environ(TOP, query)) is None  # nothing answered yet
    first = answer(client, f"{TOP}?{query}", Origin=WEB_APP)
    assert first[0] == 200
    assert prepared_top_rated(app, environ(TOP, query)) == first[2]
    assert answer(client, f"{TOP}?{query}", Origin=WEB_APP) == first
    assert answer(flask_only(app), f"{TOP}?{query}", Origin=WEB_APP) == first
    # Another spelling of the same query: assembled from what the view kept, the same bytes.
    assert prepared_top_rated(app, environ(TOP, "min_rating=4&limit=7")) == first[2]
    assert client.get(f"{TOP}?min_rating=4&limit=7").get_data() == first[2]


def test_new_queries_are_assembled_before_flask_as_flask_answers_them(app: Flask) -> None:
    client = indexed(app.test_client())
    assert client.get(f"{TOP}?limit=500").status_code == 200  # the view keeps the ranking and every track's JSON
    queries = ["limit=20&min_rating=3.5", "min_rating=7", "limit=1", "", "limit=500&min_rating=0.001", "limit=9&x=1"]
    queries += ["limit=5&limit=8", "min_rating=10", "limit=%33", "min_rating=2.50"]
    for query in queries:
        body = prepared_top_rated(app, environ(TOP, query, Origin=WEB_APP))
        assert body is not None, query
        flask = answer(flask_only(app), f"{TOP}?{query}", Origin=WEB_APP)
        assert flask[0] == 200
        assert body == flask[2], query
        assert answer(client, f"{TOP}?{query}", Origin=WEB_APP) == flask


@pytest.mark.parametrize("query", ["limit=0", "limit=501", "limit=abc", "min_rating=-1", "min_rating=10.5", "limit="])
def test_queries_the_view_refuses_are_left_to_it(app: Flask, query: str) -> None:
    client = indexed(app.test_client())
    assert client.get(f"{TOP}?limit=500").status_code == 200
    assert prepared_top_rated(app, environ(TOP, query)) is None
    refused = client.get(f"{TOP}?{query}")
    assert refused.status_code == 422
    assert refused.get_json()["error"]["code"] == "validation_error"


def test_nothing_is_assembled_without_every_part_kept(app: Flask) -> None:
    alice = {"Authorization": f"Bearer {ALICE}"}
    client = indexed(indexed(app.test_client()), **alice)
    assert client.get(f"{TOP}?limit=10").status_code == 200
    # The admin's top 10 tracks are kept, not the 11th; nothing at all for Alice, nor for a token never served.
    assert prepared_top_rated(app, environ(TOP, "limit=10&min_rating=0.5")) is not None
    assert prepared_top_rated(app, environ(TOP, "limit=11")) is None
    assert prepared_top_rated(app, environ(TOP, "limit=3", **alice)) is None
    assert prepared_top_rated(app, environ(TOP, "limit=3", Authorization="Bearer someone-else")) is None
    assert prepared_top_rated(app, environ(TOP, "limit=3", Authorization="Basic abc")) is None
    alice_body = client.get(f"{TOP}?limit=10", headers=alice).get_data()
    assert prepared_top_rated(app, environ(TOP, "limit=10&min_rating=0", **alice)) == alice_body


def test_prepared_top_rated_is_dropped_by_a_rating(app: Flask) -> None:
    client = indexed(app.test_client())
    query = "limit=3&min_rating=10"
    before = client.get(f"{TOP}?{query}").get_json()
    unrated = client.get("/api/tracks?rated=false&limit=1").get_json()["items"][0]["rating_key"]
    assert prepared_top_rated(app, environ(TOP, query)) is not None
    assert client.post("/api/ratings/rate", json={"track_key": unrated, "rating": 10}).status_code == 200
    assert prepared_top_rated(app, environ(TOP, query)) is None
    after = client.get(f"{TOP}?{query}").get_json()
    assert after["items"][0]["rating_key"] == unrated
    assert after != before


def test_prepared_top_rated_is_per_token(app: Flask) -> None:
    alice = {"Authorization": f"Bearer {ALICE}"}
    client = indexed(indexed(app.test_client()), **alice)
    query = "limit=50"
    admin_body = client.get(f"{TOP}?{query}").get_data()
    assert prepared_top_rated(app, environ(TOP, query, **alice)) is None
    alice_body = client.get(f"{TOP}?{query}", headers=alice).get_data()
    assert alice_body != admin_body
    assert prepared_top_rated(app, environ(TOP, query, **alice)) == alice_body
    assert prepared_top_rated(app, environ(TOP, query)) == admin_body


@pytest.mark.parametrize("authorization", ["Basic abc", "Bearer", "Bearer bad token", "Bearer " + "x" * 600])
def test_refused_tokens_are_never_prepared(app: Flask, authorization: str) -> None:
    client = app.test_client()
    for _ in range(2):
        response = client.get(f"{TOP}?limit=5", headers={"Authorization": authorization})
        assert response.status_code == 401
        assert response.get_json()["error"]["code"] == "invalid_authorization"
    assert prepared_top_rated(app, environ(TOP, "limit=5", Authorization=authorization)) is None


def test_prepared_top_rated_keeps_the_guard(app: Flask) -> None:
    client = app.test_client()
    assert client.get(f"{TOP}?limit=5").status_code == 200
    refused = client.get(f"{TOP}?limit=5", headers={"Host": "evil.example"})
    assert refused.status_code == 421
    foreign = client.get(f"{TOP}?limit=5", headers={"Origin": "https://evil.example"})
    assert foreign.status_code == 200
    assert "Access-Control-Allow-Origin" not in foreign.headers
    assert foreign.headers["Vary"] == "Origin"


# --- top rated: the parts answers are made of -----------------------------------------------------------


def full_render(services: Services, account: str, *, limit: int, min_rating: float) -> bytes:
    """The answer as the plain way makes it: one query for the rows, every track validated and serialised."""
    tracks = services.queries.top_rated(account, min_rating=min_rating, limit=limit)
    return render(TopRated(items=TrackOut.many(tracks), limit=limit, min_rating=min_rating)).body


def test_varied_answers_are_byte_for_byte_the_full_render(client: FlaskClient, services: Services) -> None:
    assert client.get(TOP).status_code == 200
    account = services.account_for(None).key
    # Overlapping lists in one generation: later ones are mostly made of the tracks' kept JSON.
    cases = [(50, 0), (10, 0), (60, 2.5), (5, 9.5), (200, 0.001), (3, 10), (1, 9.999), (500, 10), (500, 0), (7, 6)]
    for limit, min_rating in cases:
        body = client.get(f"{TOP}?limit={limit}&min_rating={min_rating}").get_data()
        assert body == full_render(services, account, limit=limit, min_rating=min_rating)


def test_kept_track_json_is_per_account(client: FlaskClient, services: Services) -> None:
    alice = {"Authorization": f"Bearer {ALICE}"}
    admin_keys = [item["rating_key"] for item in client.get(f"{TOP}?limit=20").get_json()["items"]]
    # Alice rates the admin's best tracks differently; her list must carry her ratings, not the admin's.
    for key in admin_keys[:3]:
        rated = client.post("/api/ratings/rate", json={"track_key": key, "rating": 2}, headers=alice)
        assert rated.status_code == 200
    assert client.get(f"{TOP}?limit=20").status_code == 200  # the admin's JSON of those tracks is kept
    alice_body = client.get(f"{TOP}?limit=500&min_rating=1", headers=alice)
    items = {item["rating_key"]: item for item in alice_body.get_json()["items"]}
    assert all(items[key]["rating"] == 2.0 for key in admin_keys[:3])
    alice_key = services.account_for(ALICE).key
    assert alice_body.get_data() == full_render(services, alice_key, limit=500, min_rating=1)


def test_keys_walk_matches_the_plain_query_with_ties_and_nulls(
    client: FlaskClient, services: Services, tmp_path: Path
) -> None:
    assert client.get(TOP).status_code == 200
    account = services.account_for(None).key
    db = sqlite3.connect(tmp_path / DATABASE_NAME, isolation_level=None)
    try:
        db.execute(
            "UPDATE item_states SET user_rating = 6.0, last_rated_at = NULL WHERE account = ? AND rating_key IN"
            " (SELECT rating_key FROM item_states WHERE account = ? AND user_rating IS NOT NULL LIMIT 7)",
            (account, account),
        )
        db.execute(
            "UPDATE item_states SET user_rating = 8.0, last_rated_at = 1700000000 WHERE account = ? AND rating_key IN"
            " (SELECT rating_key FROM item_states WHERE account = ? AND user_rating IS NOT NULL LIMIT 4 OFFSET 9)",
            (account, account),
        )
        # A rating for a track the index does not have (rated in Plex after the last refresh): not listed.
        db.execute(
            "INSERT INTO item_states (account, rating_key, user_rating, last_rated_at) VALUES (?, 99999999, 10, 1)",
            (account,),
        )
    finally:
        db.close()
    queries = services.queries
    for min_rating in (0.0, 5.5, 6.0, 8.0, 10.0):
        for limit in (1, 5, 500):
            views = queries.top_rated(account, min_rating=min_rating, limit=limit)
            ranking = queries.top_rated_ranking(account, min_rating=min_rating, limit=limit)
            assert ranking == [(view.rating_key, view.user_rating) for view in views]
            # Through the API: every answer is cut from one ranking, ties and missing rating times included.
            body = client.get(f"{TOP}?limit={limit}&min_rating={min_rating}").get_data()
            assert body == full_render(services, account, limit=limit, min_rating=min_rating)
    views = queries.top_rated(account, min_rating=0, limit=500)
    assert len(views) > 10
    by_key = queries.track_views(account, [view.rating_key for view in views] + [99999999])
    assert 99999999 not in by_key
    assert [by_key[view.rating_key] for view in views] == views
    assert queries.track_views(account, []) == {}


class _CommitBetweenReads(SqliteLibraryQueries):
    """The real queries, with another connection committing a rating right before tracks are read by key."""

    def __init__(self, path: Path, account: str, rating_key: int) -> None:
        super().__init__(path)
        self.path, self.account, self.rating_key = path, account, rating_key

    def track_views(self, account: str, rating_keys: Any) -> Any:
        other = sqlite3.connect(self.path, isolation_level=None)
        try:
            other.execute(
                "UPDATE item_states SET user_rating = 1.0 WHERE account = ? AND rating_key = ?",
                (self.account, self.rating_key),
            )
        finally:
            other.close()
        return super().track_views(account, rating_keys)


def test_a_commit_between_the_reads_is_not_mixed_into_the_answer(
    client: FlaskClient, services: Services, tmp_path: Path
) -> None:
    first = client.get(f"{TOP}?limit=5").get_json()["items"]
    account = services.account_for(None).key
    best = first[0]["rating_key"]
    services.queries = _CommitBetweenReads(tmp_path / DATABASE_NAME, account, best)
    try:
        # Keys are read with the track still at the top; its rating drops before its row is read: the answer must
        # be one consistent state (read again), not the old order with the new rating.
        items = client.get(f"{TOP}?limit=5&min_rating=0.5").get_json()["items"]
    finally:
        services.queries.close()
    ratings = [item["rating"] for item in items]
    assert ratings == sorted(ratings, reverse=True)
    assert best not in [item["rating_key"] for item in items] or items[-1]["rating_key"] == best
