"""``POST /api/ratings/rate`` and ``GET /api/ratings/top-rated`` end to end: Flask app, real services, plexsim."""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from plexapi.server import PlexServer

from plexm8.bootstrap import Services, build_services
from plexm8.config import load_settings
from plexm8.core.ratings import Rating
from plexm8.web import create_app
from plexsim.generate import ADMIN_TOKEN
from plexsim.server import RunningServer

ALICE = "plexsim-alice-token"


def plex_rating(sim: RunningServer, token: str, key: int) -> float | None:
    """What Plex itself reports for the account, read with python-plexapi."""
    rating = PlexServer(sim.url, token).fetchItem(key).userRating
    return None if rating is None or rating < 0 else float(rating)


def unrated_track(client: FlaskClient, **headers: str) -> dict[str, Any]:
    response = client.get("/api/tracks?rated=false&limit=1", headers=headers)
    assert response.status_code == 200
    track: dict[str, Any] = response.get_json()["items"][0]
    return track


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# --- rate ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"rating": 8}, 8.0),
        ({"rating": 7.0}, 7.0),
        ({"stars": 3.5}, 7.0),
        ({"stars": 0}, 0.0),
        ({"rating": 10}, 10.0),
    ],
)
def test_rate_writes_plex_and_answers_the_new_state(
    client: FlaskClient, sim: RunningServer, body: dict[str, Any], expected: float
) -> None:
    track = unrated_track(client)
    response = client.post("/api/ratings/rate", json={"track_key": track["key"], **body})
    assert response.status_code == 200
    data = response.get_json()
    assert data["rating_key"] == track["rating_key"]
    assert data["title"] == track["title"]
    assert data["rating"] == expected
    assert data["stars"] == expected / 2
    assert data["last_rated_at"] is not None
    assert plex_rating(sim, ADMIN_TOKEN, track["rating_key"]) == expected


@pytest.mark.parametrize("form", ["plain", "string", "key"])
def test_rate_accepts_every_track_key_form(client: FlaskClient, sim: RunningServer, form: str) -> None:
    track = unrated_track(client)
    key = {"plain": track["rating_key"], "string": str(track["rating_key"]), "key": track["key"]}[form]
    response = client.post("/api/ratings/rate", json={"track_key": key, "rating": 6})
    assert response.status_code == 200
    assert plex_rating(sim, ADMIN_TOKEN, track["rating_key"]) == 6.0


@pytest.mark.parametrize("clear", [{"rating": None}, {"rating": -1}, {"stars": None}, {"stars": -1}])
def test_rate_clears(client: FlaskClient, sim: RunningServer, clear: dict[str, Any]) -> None:
    track = unrated_track(client)
    assert client.post("/api/ratings/rate", json={"track_key": track["key"], "rating": 9}).status_code == 200
    response = client.post("/api/ratings/rate", json={"track_key": track["key"], **clear})
    assert response.status_code == 200
    assert response.get_json()["rating"] is None
    assert response.get_json()["stars"] is None
    assert plex_rating(sim, ADMIN_TOKEN, track["rating_key"]) is None
    top = client.get("/api/ratings/top-rated?limit=500").get_json()["items"]
    assert track["rating_key"] not in {item["rating_key"] for item in top}


def test_rating_shows_in_top_rated_at_once(client: FlaskClient) -> None:
    track = unrated_track(client)
    before = client.get("/api/ratings/top-rated?min_rating=10&limit=500").get_json()["items"]
    assert track["rating_key"] not in {item["rating_key"] for item in before}
    assert client.post("/api/ratings/rate", json={"track_key": track["key"], "stars": 5}).status_code == 200
    after = client.get("/api/ratings/top-rated?min_rating=10&limit=1").get_json()["items"]
    # Rated just now: first among the tens (ties go to the most recently rated).
    assert [item["rating_key"] for item in after] == [track["rating_key"]]


def test_unknown_track_is_404(client: FlaskClient) -> None:
    response = client.post("/api/ratings/rate", json={"track_key": 987654, "rating": 4})
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "track_not_found"


def test_album_key_is_not_a_track(client: FlaskClient, sim: RunningServer) -> None:
    album_key = PlexServer(sim.url, ADMIN_TOKEN).library.section("Music").searchAlbums(maxresults=1)[0].ratingKey
    response = client.post("/api/ratings/rate", json={"track_key": album_key, "rating": 4})
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "track_not_found"
    assert sim.knobs.count("/:/rate") == 0


# --- per-user tokens ---------------------------------------------------------------------------------------


def test_each_token_sees_its_own_ratings(client: FlaskClient, sim: RunningServer) -> None:
    track = unrated_track(client, **bearer(ALICE))
    response = client.post("/api/ratings/rate", json={"track_key": track["key"], "rating": 2}, headers=bearer(ALICE))
    assert response.status_code == 200
    assert plex_rating(sim, ALICE, track["rating_key"]) == 2.0
    admin_before = plex_rating(sim, ADMIN_TOKEN, track["rating_key"])
    assert admin_before != 2.0

    alice_top = client.get("/api/ratings/top-rated?limit=500", headers=bearer(ALICE)).get_json()["items"]
    admin_top = client.get("/api/ratings/top-rated?limit=500").get_json()["items"]
    alice_ratings = {item["rating_key"]: item["rating"] for item in alice_top}
    admin_ratings = {item["rating_key"]: item["rating"] for item in admin_top}
    assert alice_ratings[track["rating_key"]] == 2.0
    assert admin_ratings.get(track["rating_key"]) == admin_before
    assert alice_ratings != admin_ratings
    # Same ratings as Plex reports for each account (through plexapi).
    for key, rating in list(alice_ratings.items())[:5]:
        assert plex_rating(sim, ALICE, key) == rating


def test_bearer_admin_token_is_the_configured_account(client: FlaskClient) -> None:
    implicit = client.get("/api/ratings/top-rated?limit=20").get_json()
    explicit = client.get("/api/ratings/top-rated?limit=20", headers=bearer(ADMIN_TOKEN)).get_json()
    assert implicit == explicit
    assert implicit["items"]


# --- top rated ---------------------------------------------------------------------------------------------


def test_top_rated_is_sorted_and_filtered(client: FlaskClient, sim: RunningServer) -> None:
    response = client.get("/api/ratings/top-rated?limit=500&min_rating=6")
    assert response.status_code == 200
    data = response.get_json()
    items = data["items"]
    assert items and data["limit"] == 500 and data["min_rating"] == 6
    assert all(item["rating"] >= 6 for item in items)
    order = [(-item["rating"], _negated_time(item["last_rated_at"])) for item in items]
    assert order == sorted(order)
    section = PlexServer(sim.url, ADMIN_TOKEN).library.section("Music")
    expected = {t.ratingKey for t in section.searchTracks() if t.userRating is not None and t.userRating >= 6}
    assert {item["rating_key"] for item in items} == expected
    assert set(items[0]) >= {"key", "title", "artist", "album", "rating", "stars", "duration_ms", "year"}


def _negated_time(text: str | None) -> str:
    # ISO times in one format sort like the instants they name; negate by inverting each digit.
    return "".join(chr(ord("9") - ord(c) + ord("0")) if c.isdigit() else c for c in (text or ""))


def test_top_rated_limit(client: FlaskClient) -> None:
    assert len(client.get("/api/ratings/top-rated?limit=3").get_json()["items"]) == 3


@pytest.mark.parametrize(
    "query", ["limit=0", "limit=501", "limit=abc", "min_rating=11", "min_rating=-1", "min_rating=nan"]
)
def test_top_rated_rejects_bad_parameters(client: FlaskClient, query: str) -> None:
    response = client.get(f"/api/ratings/top-rated?{query}")
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "validation_error"
    assert query.split("=")[0] in error["message"]


# --- hostile bodies ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "content_type", "status", "field"),
    [
        ("track_key=1&rating=2", "application/x-www-form-urlencoded", 415, None),
        ('{"track_key": 1, "rating": 2}', "text/plain", 415, None),
        ('{"track_key": 1, "rating": ', "application/json", 400, None),
        ("", "application/json", 400, None),
        ("\xff\xfe", "application/json", 400, None),
        ("[1, 2]", "application/json", 422, None),
        ('"rate"', "application/json", 422, None),
        ("{}", "application/json", 422, "track_key"),
        ('{"track_key": 1}', "application/json", 422, "rating"),
        ('{"track_key": 1, "rating": 8, "stars": 4}', "application/json", 422, "rating"),
        ('{"track_key": 1, "rating": "8"}', "application/json", 422, "rating"),
        ('{"track_key": 1, "rating": true}', "application/json", 422, "rating"),
        ('{"track_key": 1, "rating": 11}', "application/json", 422, "rating"),
        ('{"track_key": 1, "rating": 7.5}', "application/json", 422, "rating"),
        ('{"track_key": 1, "rating": -0.5}', "application/json", 422, "rating"),
        ('{"track_key": 1, "rating": 1e400}', "application/json", 422, "rating"),
        ('{"track_key": 1, "rating": NaN}', "application/json", 400, None),
        ('{"track_key": 1, "rating": Infinity}', "application/json", 400, None),
        ('{"track_key": 1, "stars": 2.25}', "application/json", 422, "stars"),
        ('{"track_key": 1, "stars": 6}', "application/json", 422, "stars"),
        ('{"track_key": 1, "rating": 2, "extra": 1}', "application/json", 422, "extra"),
        ('{"track_key": 99999999999999999999999, "rating": 2}', "application/json", 422, "track_key"),
        ('{"track_key": -4, "rating": 2}', "application/json", 422, "track_key"),
        ('{"track_key": "/library/sections/1", "rating": 2}', "application/json", 422, "track_key"),
        ('{"track_key": [1], "rating": 2}', "application/json", 422, "track_key"),
        ('{"track_key": 1.5, "rating": 2}', "application/json", 422, "track_key"),
        ('{"track_key": null, "rating": 2}', "application/json", 422, "track_key"),
    ],
)
def test_malformed_bodies_are_refused(
    client: FlaskClient, sim: RunningServer, data: str, content_type: str, status: int, field: str | None
) -> None:
    response = client.post("/api/ratings/rate", data=data.encode("latin-1"), content_type=content_type)
    assert response.status_code == status
    error = response.get_json()["error"]
    assert set(error) == {"code", "message"}
    if field is not None:
        assert field in error["message"]
    assert sim.knobs.count("/:/rate") == 0


def test_deeply_nested_body_is_refused(client: FlaskClient) -> None:
    body = "[" * 100_000 + "]" * 100_000
    response = client.post("/api/ratings/rate", data=body, content_type="application/json")
    assert response.status_code in (400, 422)


def test_oversized_body_is_refused(client: FlaskClient) -> None:
    body = '{"track_key": 1, "rating": 2, "pad": "' + "x" * (2 << 20) + '"}'
    response = client.post("/api/ratings/rate", data=body, content_type="application/json")
    assert response.status_code == 413
    assert response.get_json()["error"]["code"] == "request_entity_too_large"


# --- Plex failing ------------------------------------------------------------------------------------------


def test_plex_down_is_503(client: FlaskClient, sim: RunningServer) -> None:
    track = unrated_track(client)
    sim.knobs.configure(drop_path=".")
    response = client.post("/api/ratings/rate", json={"track_key": track["key"], "rating": 4})
    assert response.status_code == 503
    assert response.get_json()["error"]["code"] == "plex_unavailable"


def test_top_rated_is_served_from_the_index_while_plex_is_down(client: FlaskClient, sim: RunningServer) -> None:
    first = client.get("/api/ratings/top-rated").get_json()
    sim.knobs.configure(drop_path=".")
    again = client.get("/api/ratings/top-rated")
    assert again.status_code == 200
    assert again.get_json() == first


def test_first_index_needs_plex(client: FlaskClient, sim: RunningServer) -> None:
    sim.knobs.configure(fail_path="/library/sections", fail_status=500)
    response = client.get("/api/ratings/top-rated")
    assert response.status_code == 503
    assert response.get_json()["error"]["code"] == "plex_unavailable"


def test_closed_port_is_503(closed_url: str, tmp_path: Path) -> None:
    environ = {"PLEX_SERVER_URL": closed_url, "PLEX_TOKEN": ADMIN_TOKEN, "INDEX_REFRESH_INTERVAL": "0"}
    with build_services(load_settings(environ, default_data_dir=tmp_path)) as services:
        client = create_app(services=services).test_client()
        rate = client.post("/api/ratings/rate", json={"track_key": 1, "rating": 4})
        top = client.get("/api/ratings/top-rated")
    for response in (rate, top):
        assert response.status_code == 503
        assert response.get_json()["error"]["code"] == "plex_unavailable"


def test_plex_refusing_the_token_is_401(client: FlaskClient, sim: RunningServer) -> None:
    sim.knobs.configure(unauthorized_after=0)
    response = client.post("/api/ratings/rate", json={"track_key": 1, "rating": 4})
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "plex_unauthorized"


@pytest.mark.parametrize("method", ["rate", "top"])
def test_unknown_bearer_token_is_401_and_never_echoed(
    client: FlaskClient, caplog: pytest.LogCaptureFixture, method: str
) -> None:
    secret = "not-a-real-plex-token-5ec7e7"
    caplog.set_level(logging.DEBUG)
    if method == "rate":
        response = client.post("/api/ratings/rate", json={"track_key": 1, "rating": 4}, headers=bearer(secret))
    else:
        response = client.get("/api/ratings/top-rated", headers=bearer(secret))
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "plex_unauthorized"
    assert secret not in response.get_data(as_text=True)
    assert secret not in caplog.text
    assert ADMIN_TOKEN not in caplog.text


@pytest.mark.parametrize(
    "header", ["Basic dXNlcjpwYXNz", "Bearer", "Bearer ", "Bearer two words", "Token abc", "Bearer a\tb"]
)
def test_malformed_authorization_is_401(client: FlaskClient, header: str) -> None:
    response = client.get("/api/ratings/top-rated", headers={"Authorization": header})
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "invalid_authorization"


def test_over_real_http(services: Services, sim: RunningServer) -> None:
    """The same API served by waitress and called with requests, as the web app would."""
    import socket
    import threading

    import requests
    from waitress.server import create_server

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = create_server(create_app(services=services), host="127.0.0.1", port=port, threads=2)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{port}/api"
        track = requests.get(f"{base}/tracks?rated=false&limit=1", timeout=10).json()["items"][0]
        rated = requests.post(
            f"{base}/ratings/rate", json={"track_key": track["key"], "stars": 4.5}, headers=bearer(ALICE), timeout=10
        )
        assert rated.status_code == 200
        assert rated.json()["rating"] == 9.0
        assert plex_rating(sim, ALICE, track["rating_key"]) == 9.0
        bad = requests.post(f"{base}/ratings/rate", data="{", headers={"Content-Type": "application/json"}, timeout=10)
        assert bad.status_code == 400
    finally:
        server.close()
        thread.join(timeout=5)


# --- the value object ------------------------------------------------------------------------------------


def test_rating_value_object() -> None:
    assert Rating.from_stars(3.5) == Rating(7)
    assert Rating(7).stars == 3.5
    assert Rating.clear().to_plex() == -1.0
    assert Rating.of(8.0).to_plex() == 8.0
    assert Rating.from_plex(None).is_cleared
    assert Rating.from_plex(-1).is_cleared
    assert Rating.from_plex(7.6) == Rating(8)
    for bad in (11, -1, True):
        with pytest.raises(ValueError, match="whole number"):
            Rating(bad)
    for value in (7.5, math.nan, math.inf):
        with pytest.raises(ValueError, match="whole number"):
            Rating.of(value)
    for stars in (2.25, 5.5, -0.5, math.nan):
        with pytest.raises(ValueError, match="stars"):
            Rating.from_stars(stars)
