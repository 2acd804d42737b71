"""``GET /api/tracks`` end to end: search, filters, sorting and paging over the index built from plexsim."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from plexapi.server import PlexServer

from plexm8.bootstrap import build_services
from plexm8.config import load_settings
from plexm8.core.tracks import fold_text
from plexm8.web import create_app
from plexsim.generate import ADMIN_TOKEN, generate_library
from plexsim.server import RunningServer, start_server


@pytest.fixture(scope="module")
def sim() -> Iterator[RunningServer]:
    with start_server(generate_library(tracks=300, seed=11)) as server:
        yield server


@pytest.fixture(scope="module")
def client(sim: RunningServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FlaskClient]:
    environ = {"PLEX_SERVER_URL": sim.url, "PLEX_TOKEN": ADMIN_TOKEN, "INDEX_REFRESH_INTERVAL": "0"}
    data_dir = tmp_path_factory.mktemp("tracks")
    with build_services(load_settings(environ, default_data_dir=Path(data_dir))) as services:
        yield create_app(services=services).test_client()


@pytest.fixture(scope="module")
def plex_tracks(sim: RunningServer) -> list[Any]:
    return list(PlexServer(sim.url, ADMIN_TOKEN).library.section("Music").searchTracks())


def get(client: FlaskClient, query: str) -> dict[str, Any]:
    response = client.get(f"/api/tracks?{query}")
    assert response.status_code == 200, response.get_data(as_text=True)
    data: dict[str, Any] = response.get_json()
    return data


def artist_of(track: Any) -> str:
    return str(track.originalTitle or track.grandparentTitle)


def test_paging_covers_every_track_once(client: FlaskClient, plex_tracks: list[Any]) -> None:
    seen: list[int] = []
    offset = 0
    while True:
        page = get(client, f"limit=70&offset={offset}")
        assert page["total"] == len(plex_tracks)
        assert page["limit"] == 70 and page["offset"] == offset
        if not page["items"]:
            break
        seen += [item["rating_key"] for item in page["items"]]
        offset += 70
    assert sorted(seen) == sorted(t.ratingKey for t in plex_tracks)
    assert len(seen) == len(set(seen))


def test_search_is_case_and_accent_insensitive(client: FlaskClient, plex_tracks: list[Any]) -> None:
    accented = next(
        (
            t
            for t in plex_tracks
            if fold_text(artist_of(t)) != artist_of(t).lower() and fold_text(artist_of(t)).isascii()
        ),
        None,
    )
    if accented is None:
        pytest.skip("the generated library has no accented artist")
    word = max(fold_text(artist_of(accented)).split(), key=len).upper()
    page = get(client, f"q={word}&limit=500")
    expected = {
        t.ratingKey for t in plex_tracks if word.lower() in fold_text(f"{t.title} {artist_of(t)} {t.parentTitle}")
    }
    assert accented.ratingKey in {item["rating_key"] for item in page["items"]}
    assert {item["rating_key"] for item in page["items"]} == expected
    assert page["total"] == len(expected)


def test_search_words_may_come_from_different_fields(client: FlaskClient, plex_tracks: list[Any]) -> None:
    track = plex_tracks[0]
    query = f"{track.title.split()[0]} {track.parentTitle.split()[0]}"
    page = get(client, f"q={query}&limit=500")
    assert track.ratingKey in {item["rating_key"] for item in page["items"]}


def test_search_without_matches_and_wildcards_are_literal(client: FlaskClient) -> None:
    assert get(client, "q=zzqqxxnotthere")["total"] == 0
    assert get(client, "q=%25")["total"] == 0
    assert get(client, "q=_")["total"] == 0


def test_artist_and_album_filters(client: FlaskClient, plex_tracks: list[Any]) -> None:
    track = next(t for t in plex_tracks if t.parentTitle.isascii() and t.grandparentTitle.isascii())
    # SQLite folds the case of ASCII letters only, which is what the API promises for exact filters.
    album = client.get("/api/tracks", query_string={"album": track.parentTitle.upper(), "limit": 500}).get_json()
    assert album["total"] == sum(1 for t in plex_tracks if t.parentTitle.lower() == track.parentTitle.lower())
    artist = track.grandparentTitle
    by_artist = client.get("/api/tracks", query_string={"artist": artist.lower(), "limit": 500}).get_json()
    expected = {
        t.ratingKey
        for t in plex_tracks
        if artist.lower() in (t.grandparentTitle.lower(), (t.originalTitle or "").lower())
    }
    assert {item["rating_key"] for item in by_artist["items"]} == expected


def test_rated_and_min_rating(client: FlaskClient, plex_tracks: list[Any]) -> None:
    rated = {t.ratingKey for t in plex_tracks if t.userRating is not None and t.userRating >= 0}
    assert {i["rating_key"] for i in get(client, "rated=true&limit=500")["items"]} == rated
    assert get(client, "rated=false&limit=500")["total"] == len(plex_tracks) - len(rated)
    high = {t.ratingKey for t in plex_tracks if t.userRating is not None and t.userRating >= 8}
    assert {i["rating_key"] for i in get(client, "min_rating=8&limit=500")["items"]} == high


@pytest.mark.parametrize(
    ("sort", "key"),
    [
        ("title", lambda i: i["title"].lower()),
        ("rating", lambda i: i["rating"]),
        ("plays", lambda i: i["view_count"]),
        ("added", lambda i: i["added_at"]),
    ],
)
@pytest.mark.parametrize("order", ["asc", "desc"])
def test_sorting(client: FlaskClient, sort: str, key: Any, order: str) -> None:
    items = get(client, f"sort={sort}&order={order}&limit=500")["items"]
    present = [key(i) for i in items if key(i) is not None]
    assert present == sorted(present, reverse=order == "desc")
    # Missing values come last whatever the order.
    missing = [n for n, i in enumerate(items) if key(i) is None]
    assert missing == list(range(len(items) - len(missing), len(items)))


@pytest.mark.parametrize(
    "query",
    ["limit=0", "limit=501", "offset=-1", "sort=bogus", "order=up", "rated=maybe", "min_rating=12", "q=" + "x" * 201],
)
def test_bad_parameters_are_422(client: FlaskClient, query: str) -> None:
    response = client.get(f"/api/tracks?{query}")
    assert response.status_code == 422
    assert query.split("=")[0] in response.get_json()["error"]["message"]


def test_unknown_parameters_are_ignored(client: FlaskClient) -> None:
    assert get(client, "limit=1&_=123")["limit"] == 1
