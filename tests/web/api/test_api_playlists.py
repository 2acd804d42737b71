"""The playlist API end to end: Flask test client, real services and plexapi adapter, plexsim over loopback HTTP."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from plexm8.bootstrap import Services, build_services
from plexm8.config import load_settings
from plexm8.web import create_app
from plexm8.web.api.spec import build_openapi
from plexsim.generate import ADMIN_TOKEN, generate_library
from plexsim.library import Library, Track
from plexsim.server import RunningServer
from plexsim.state import AccountState

ALICE = "plexsim-alice-token"
BOB = "plexsim-bob-token"


@pytest.fixture(scope="module")
def library() -> Library:
    return generate_library(tracks=300, seed=3)


@pytest.fixture
def plex_library(library: Library) -> Library:
    return library


def account(sim: RunningServer, name: str) -> AccountState:
    return next(a for a in sim.state.accounts.values() if a.name == name)


def track_keys(sim: RunningServer, count: int) -> list[int]:
    return [track.id for track in sim.state.default_tracks[:count]]


def error(response: Any) -> dict[str, str]:
    body = response.get_json()
    assert set(body) == {"error"}, body
    detail: dict[str, str] = body["error"]
    assert ADMIN_TOKEN not in response.get_data(as_text=True)
    return detail


def create(client: FlaskClient, title: str, keys: list[Any], **headers: str) -> dict[str, Any]:
    response = client.post("/api/playlists", json={"title": title, "track_keys": keys}, headers=headers)
    assert response.status_code == 201, response.get_json()
    body: dict[str, Any] = response.get_json()
    return body


def items(client: FlaskClient, playlist_id: int, **params: int) -> dict[str, Any]:
    response = client.get(f"/api/playlists/{playlist_id}/items", query_string=params)
    assert response.status_code == 200, response.get_json()
    body: dict[str, Any] = response.get_json()
    return body


def smart_id(sim: RunningServer) -> int:
    return next(p.id for p in account(sim, "admin").playlists.values() if p.smart)


# --- reads ------------------------------------------------------------------------------------------------------


def test_list_shows_the_callers_audio_playlists_sorted_by_title(client: FlaskClient, sim: RunningServer) -> None:
    response = client.get("/api/playlists")

    assert response.status_code == 200
    body = response.get_json()
    admin = account(sim, "admin").playlists
    assert body["total"] == len(admin) == len(body["playlists"])
    titles = [p["title"] for p in body["playlists"]]
    assert titles == sorted(titles, key=str.casefold)
    first = body["playlists"][0]
    assert set(first) == {
        "id",
        "key",
        "title",
        "smart",
        "summary",
        "item_count",
        "duration_ms",
        "added_at",
        "updated_at",
    }
    by_id = {p["id"]: p for p in body["playlists"]}
    for playlist in admin.values():
        shown = by_id[playlist.id]
        assert shown["title"] == playlist.title
        assert shown["smart"] == playlist.smart
        assert shown["key"] == f"/playlists/{playlist.id}"
        if not playlist.smart:
            assert shown["item_count"] == len(playlist.items)


def test_bearer_token_sees_only_its_own_playlists(client: FlaskClient, sim: RunningServer) -> None:
    alice = client.get("/api/playlists", headers={"Authorization": f"Bearer {ALICE}"}).get_json()
    assert {p["id"] for p in alice["playlists"]} == set(account(sim, "alice").playlists)

    bobs = next(iter(account(sim, "bob").playlists))
    response = client.get(f"/api/playlists/{bobs}", headers={"Authorization": f"Bearer {ALICE}"})
    assert response.status_code == 404
    assert error(response)["code"] == "playlist_not_found"


def test_playlists_created_with_a_bearer_token_belong_to_that_user(client: FlaskClient, sim: RunningServer) -> None:
    made = create(client, "Alice's new one", track_keys(sim, 2), Authorization=f"Bearer {ALICE}")

    assert made["id"] in account(sim, "alice").playlists
    assert made["id"] not in account(sim, "admin").playlists
    assert client.get(f"/api/playlists/{made['id']}").status_code == 404


def test_get_one_playlist_and_unknown_ids(client: FlaskClient, sim: RunningServer) -> None:
    playlist = next(p for p in account(sim, "admin").playlists.values() if not p.smart)

    body = client.get(f"/api/playlists/{playlist.id}").get_json()
    assert (body["id"], body["title"], body["item_count"]) == (playlist.id, playlist.title, len(playlist.items))

    for missing in (999_999, 99_999_999_999_999_999_999):
        response = client.get(f"/api/playlists/{missing}")
        assert response.status_code == 404
        assert error(response)["code"] == "playlist_not_found"
    assert client.get("/api/playlists/abc").status_code == 404


def test_items_are_paged_in_playlist_order(client: FlaskClient, sim: RunningServer) -> None:
    playlist = next(p for p in account(sim, "admin").playlists.values() if not p.smart and len(p.items) >= 5)
    order = [(item_id, key) for item_id, key in playlist.items]

    page = items(client, playlist.id, offset=1, limit=3)

    assert (page["total"], page["offset"], page["limit"]) == (len(order), 1, 3)
    assert page["playlist"]["id"] == playlist.id
    assert [(i["playlist_item_id"], i["rating_key"]) for i in page["items"]] == order[1:4]
    first = page["items"][0]
    track = sim.state.require_item(first["rating_key"])
    assert isinstance(track, Track)
    assert first["key"] == f"/library/metadata/{track.id}"
    assert first["title"] == track.title
    assert first["duration_ms"] == track.duration
    assert first["album"]
    assert first["artist"]

    past = items(client, playlist.id, offset=len(order) + 5, limit=10)
    assert past["items"] == [] and past["total"] == len(order)


def test_items_show_the_callers_rating(client: FlaskClient, sim: RunningServer) -> None:
    admin = account(sim, "admin")
    unrated = [key for key in track_keys(sim, 300) if key not in admin.ratings]
    keys = unrated[:2]
    made = create(client, "Rated", keys)
    sim.state.rate(admin, keys[0], 8.0)

    listed = items(client, made["id"])["items"]

    assert [i["rating"] for i in listed] == [8.0, None]


@pytest.mark.parametrize(
    "params", [{"limit": 0}, {"limit": 1001}, {"offset": -1}, {"limit": "many"}], ids=["0", "1001", "neg", "text"]
)
def test_bad_paging_is_refused(client: FlaskClient, sim: RunningServer, params: dict[str, Any]) -> None:
    playlist = next(iter(account(sim, "admin").playlists))

    response = client.get(f"/api/playlists/{playlist}/items", query_string=params)

    assert response.status_code == 422
    assert error(response)["code"] == "validation_error"
    assert next(iter(params)) in error(response)["message"]


def test_smart_playlist_items_are_readable(client: FlaskClient, sim: RunningServer) -> None:
    smart = smart_id(sim)

    page = items(client, smart, limit=1000)

    assert page["playlist"]["smart"] is True
    assert page["total"] == len(page["items"]) > 0
    assert all(item["playlist_item_id"] is None for item in page["items"])


# --- create -----------------------------------------------------------------------------------------------------


def test_create_keeps_order_and_duplicates_and_accepts_every_key_form(
    client: FlaskClient, sim: RunningServer, services: Services
) -> None:
    a, b, c = track_keys(sim, 3)

    made = create(client, "  Road trip  ", [f"/library/metadata/{c}", str(a), b, c])

    assert made["title"] == "Road trip"
    assert made["smart"] is False
    assert made["item_count"] == 4
    stored = account(sim, "admin").playlists[made["id"]]
    assert [key for _, key in stored.items] == [c, a, b, c]
    listed = items(client, made["id"])["items"]
    assert [i["rating_key"] for i in listed] == [c, a, b, c]
    # The index mirrors the write, playlist item ids included.
    key = services.account_for(None).key
    indexed = {p.rating_key: p for p in services.store.playlists(key)}[made["id"]]
    assert [(i.playlist_item_id, i.rating_key) for i in indexed.items] == list(stored.items)
    assert indexed.title == "Road trip"


def test_create_with_unknown_keys_names_them_and_creates_nothing(client: FlaskClient, sim: RunningServer) -> None:
    before = set(account(sim, "admin").playlists)
    album = sim.state.default_albums[0].id

    response = client.post(
        "/api/playlists", json={"title": "Nope", "track_keys": [*track_keys(sim, 2), 987_654, album]}
    )

    assert response.status_code == 404
    detail = error(response)
    assert detail["code"] == "track_not_found"
    assert "/library/metadata/987654" in detail["message"]
    assert f"/library/metadata/{album}" in detail["message"]
    assert set(account(sim, "admin").playlists) == before
    assert sim.knobs.count("/playlists", method="POST") == 0


def test_create_from_many_keys_makes_a_bounded_number_of_requests(client: FlaskClient, sim: RunningServer) -> None:
    keys = track_keys(sim, 300) * 4  # 1,200 entries, repeats included
    create(client, "warm-up: builds the index", keys[:1])
    sim.knobs.reset()

    made = create(client, "Big", keys)

    assert made["item_count"] == 1200
    assert [key for _, key in account(sim, "admin").playlists[made["id"]].items] == keys
    counts = sim.knobs.counters()
    # Three chunks of 500 keys (one POST, two PUTs), then the playlist and its items read back once each.
    assert counts["POST /playlists"] == 1
    assert counts[f"PUT /playlists/{made['id']}/items"] == 2
    assert sim.knobs.count("/library/metadata/", prefix=True) == 0
    assert len(sim.knobs.log) <= 8, counts


def test_keys_the_index_lacks_are_asked_of_plex(client: FlaskClient, sim: RunningServer, services: Services) -> None:
    # The first write builds the index; only keys it lacks (here: an id Plex does not have either) go to Plex.
    response = client.post("/api/playlists", json={"title": "x", "track_keys": [*track_keys(sim, 250), 5_000_000]})

    assert response.status_code == 404
    assert "/library/metadata/5000000" in error(response)["message"]
    assert services.index.is_indexed(services.account_for(None))
    assert sim.knobs.count("/library/metadata/5000000", method="GET") == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"track_keys": [1]}, "title"),
        ({"title": "   ", "track_keys": [1]}, "title"),
        ({"title": "x" * 501, "track_keys": [1]}, "title"),
        ({"title": 5, "track_keys": [1]}, "title"),
        ({"title": "t"}, "track_keys"),
        ({"title": "t", "track_keys": []}, "track_keys"),
        ({"title": "t", "track_keys": list(range(1, 10_002))}, "track_keys"),
        ({"title": "t", "track_keys": [0]}, "track_keys.0"),
        ({"title": "t", "track_keys": [-3]}, "track_keys.0"),
        ({"title": "t", "track_keys": [1.5]}, "track_keys.0"),
        ({"title": "t", "track_keys": [True]}, "track_keys.0"),
        ({"title": "t", "track_keys": ["/library/metadata/x"]}, "track_keys.0"),
        ({"title": "t", "track_keys": ["/library/sections/1"]}, "track_keys.0"),
        ({"title": "t", "track_keys": [2**64]}, "track_keys.0"),
        ({"title": "t", "track_keys": "1,2"}, "track_keys"),
        ({"title": "t", "track_keys": [1], "smart": True}, "smart"),
    ],
)
def test_invalid_create_bodies_are_refused_naming_the_field(
    client: FlaskClient, sim: RunningServer, body: dict[str, Any], field: str
) -> None:
    before = set(account(sim, "admin").playlists)

    response = client.post("/api/playlists", json=body)

    assert response.status_code == 422, response.get_json()
    detail = error(response)
    assert detail["code"] == "validation_error"
    assert f"'{field}'" in detail["message"]
    assert set(account(sim, "admin").playlists) == before


def test_malformed_create_requests_are_refused(client: FlaskClient) -> None:
    not_json = client.post("/api/playlists", data="{title", content_type="application/json")
    assert not_json.status_code == 400
    assert error(not_json)["code"] == "bad_request"

    form = client.post("/api/playlists", data={"title": "t"})
    assert form.status_code == 415

    array = client.post("/api/playlists", json=[1, 2])
    assert array.status_code == 422


# --- changes ----------------------------------------------------------------------------------------------------


def test_add_appends_in_order(client: FlaskClient, sim: RunningServer, services: Services) -> None:
    a, b, c = track_keys(sim, 3)
    made = create(client, "Grows", [a])

    response = client.post(f"/api/playlists/{made['id']}/items", json={"track_keys": [c, f"/library/metadata/{b}", c]})

    assert response.status_code == 200
    assert response.get_json()["item_count"] == 4
    assert [key for _, key in account(sim, "admin").playlists[made["id"]].items] == [a, c, b, c]
    indexed = {p.rating_key: p for p in services.store.playlists(services.account_for(None).key)}[made["id"]]
    assert [i.rating_key for i in indexed.items] == [a, c, b, c]


def test_add_unknown_keys_adds_nothing(client: FlaskClient, sim: RunningServer) -> None:
    made = create(client, "Stays", track_keys(sim, 1))

    response = client.post(f"/api/playlists/{made['id']}/items", json={"track_keys": [track_keys(sim, 2)[1], 424242]})

    assert response.status_code == 404
    assert "/library/metadata/424242" in error(response)["message"]
    assert len(account(sim, "admin").playlists[made["id"]].items) == 1


def test_add_to_unknown_playlist_is_404(client: FlaskClient, sim: RunningServer) -> None:
    response = client.post("/api/playlists/777777/items", json={"track_keys": track_keys(sim, 1)})

    assert response.status_code == 404
    assert error(response)["code"] == "playlist_not_found"


def test_remove_an_entry(client: FlaskClient, sim: RunningServer, services: Services) -> None:
    a, b = track_keys(sim, 2)
    made = create(client, "Shrinks", [a, b, a])
    entries = items(client, made["id"])["items"]

    response = client.delete(f"/api/playlists/{made['id']}/items/{entries[2]['playlist_item_id']}")

    assert response.status_code == 200
    assert response.get_json()["item_count"] == 2
    assert [key for _, key in account(sim, "admin").playlists[made["id"]].items] == [a, b]
    indexed = {p.rating_key: p for p in services.store.playlists(services.account_for(None).key)}[made["id"]]
    assert [i.playlist_item_id for i in indexed.items] == [e["playlist_item_id"] for e in entries[:2]]

    again = client.delete(f"/api/playlists/{made['id']}/items/{entries[2]['playlist_item_id']}")
    assert again.status_code == 404
    assert error(again)["code"] == "playlist_item_not_found"


def test_move_an_entry_after_another_and_to_the_top(client: FlaskClient, sim: RunningServer) -> None:
    a, b, c = track_keys(sim, 3)
    made = create(client, "Shuffled", [a, b, c])
    ids = [e["playlist_item_id"] for e in items(client, made["id"])["items"]]
    url = f"/api/playlists/{made['id']}/items"

    assert client.post(f"{url}/{ids[0]}/move", json={"after": ids[2]}).status_code == 200
    assert [i["rating_key"] for i in items(client, made["id"])["items"]] == [b, c, a]

    assert client.post(f"{url}/{ids[0]}/move", json={"after": None}).status_code == 200
    assert [i["rating_key"] for i in items(client, made["id"])["items"]] == [a, b, c]

    assert client.post(f"{url}/{ids[2]}/move", json={}).status_code == 200
    assert [i["rating_key"] for i in items(client, made["id"])["items"]] == [c, a, b]


def test_move_with_unknown_entries_is_404(client: FlaskClient, sim: RunningServer) -> None:
    made = create(client, "Still", track_keys(sim, 2))
    ids = [e["playlist_item_id"] for e in items(client, made["id"])["items"]]
    url = f"/api/playlists/{made['id']}/items"

    unknown_item = client.post(f"{url}/999999/move", json={"after": None})
    unknown_after = client.post(f"{url}/{ids[1]}/move", json={"after": 999999})
    bad_after = client.post(f"{url}/{ids[1]}/move", json={"after": "first"})

    assert unknown_item.status_code == unknown_after.status_code == 404
    assert error(unknown_after)["code"] == "playlist_item_not_found"
    assert bad_after.status_code == 422
    assert [key for _, key in account(sim, "admin").playlists[made["id"]].items] == track_keys(sim, 2)


def test_rename(client: FlaskClient, sim: RunningServer, services: Services) -> None:
    made = create(client, "Old name", track_keys(sim, 1))

    response = client.patch(f"/api/playlists/{made['id']}", json={"title": "New name"})

    assert response.status_code == 200
    assert response.get_json()["title"] == "New name"
    assert account(sim, "admin").playlists[made["id"]].title == "New name"
    indexed = {p.rating_key: p for p in services.store.playlists(services.account_for(None).key)}[made["id"]]
    assert indexed.title == "New name"
    assert len(indexed.items) == 1

    assert client.patch(f"/api/playlists/{made['id']}", json={"title": ""}).status_code == 422
    assert client.patch("/api/playlists/888888", json={"title": "x"}).status_code == 404


def test_delete(client: FlaskClient, sim: RunningServer, services: Services) -> None:
    made = create(client, "Doomed", track_keys(sim, 1))

    response = client.delete(f"/api/playlists/{made['id']}")

    assert response.status_code == 204
    assert response.get_data() == b""
    assert made["id"] not in account(sim, "admin").playlists
    assert made["id"] not in {p.rating_key for p in services.store.playlists(services.account_for(None).key)}
    again = client.delete(f"/api/playlists/{made['id']}")
    assert again.status_code == 404
    assert error(again)["code"] == "playlist_not_found"


def test_item_changes_on_a_smart_playlist_are_refused(client: FlaskClient, sim: RunningServer) -> None:
    smart = smart_id(sim)
    rules = account(sim, "admin").playlists[smart].query
    url = f"/api/playlists/{smart}/items"

    responses = [
        client.post(url, json={"track_keys": track_keys(sim, 1)}),
        client.delete(f"{url}/1"),
        client.post(f"{url}/1/move", json={"after": None}),
    ]

    for response in responses:
        assert response.status_code == 409
        detail = error(response)
        assert detail["code"] == "smart_playlist"
        assert "smart playlist" in detail["message"]
    assert account(sim, "admin").playlists[smart].query == rules


def test_smart_playlists_can_be_renamed_and_deleted(client: FlaskClient, sim: RunningServer) -> None:
    smart = smart_id(sim)

    assert client.patch(f"/api/playlists/{smart}", json={"title": "Top rated"}).get_json()["title"] == "Top rated"
    assert account(sim, "admin").playlists[smart].smart
    assert client.delete(f"/api/playlists/{smart}").status_code == 204
    assert smart not in account(sim, "admin").playlists


# --- Plex failing -----------------------------------------------------------------------------------------------


def test_plex_failing_gives_503(client: FlaskClient, sim: RunningServer) -> None:
    assert client.get("/api/playlists").status_code == 200  # connected and account known
    sim.knobs.configure(fail_path=r"^/playlists", fail_status=500)

    failed = client.get("/api/playlists")

    assert failed.status_code == 503
    assert error(failed)["code"] == "plex_unavailable"

    sim.knobs.reset()
    sim.knobs.configure(drop_path=r"^/playlists")
    dropped = client.post("/api/playlists", json={"title": "t", "track_keys": track_keys(sim, 1)})
    assert dropped.status_code == 503
    assert error(dropped)["code"] == "plex_unavailable"


def test_a_failure_half_way_through_a_long_create_leaves_no_playlist(client: FlaskClient, sim: RunningServer) -> None:
    keys = track_keys(sim, 300) * 3
    create(client, "warm-up", keys[:1])
    before = set(account(sim, "admin").playlists)
    # The POST passes; the PUT adding the second chunk of keys fails.
    sim.knobs.configure(fail_path=r"^/playlists/\d+/items$", fail_status=500)

    response = client.post("/api/playlists", json={"title": "Half", "track_keys": keys})

    assert response.status_code == 503
    assert set(account(sim, "admin").playlists) == before


def test_plex_unreachable_gives_503(tmp_path: Path, closed_url: str) -> None:
    settings = load_settings(
        {"PLEX_SERVER_URL": closed_url, "PLEX_TOKEN": ADMIN_TOKEN, "INDEX_REFRESH_INTERVAL": "0"},
        default_data_dir=tmp_path,
    )
    with build_services(settings) as services:
        client = create_app(services=services).test_client()
        response = client.get("/api/playlists")

    assert response.status_code == 503
    assert error(response)["code"] == "plex_unavailable"


def test_refused_token_gives_401(client: FlaskClient, sim: RunningServer) -> None:
    assert client.get("/api/playlists").status_code == 200
    bad = client.get("/api/playlists", headers={"Authorization": "Bearer not-a-plex-token"})
    assert bad.status_code == 401
    assert error(bad)["code"] == "plex_unauthorized"
    assert "not-a-plex-token" not in bad.get_data(as_text=True)

    sim.knobs.configure(unauthorized_after=0)
    refused = client.post("/api/playlists", json={"title": "t", "track_keys": track_keys(sim, 1)})
    assert refused.status_code == 401
    assert error(refused)["code"] == "plex_unauthorized"


# --- documentation ----------------------------------------------------------------------------------------------


def test_every_playlist_endpoint_is_in_the_openapi_document(client: FlaskClient) -> None:
    app = client.application
    with app.app_context():
        document = build_openapi(app)

    paths = document["paths"]
    assert set(paths["/api/playlists"]) == {"get", "post"}
    assert set(paths["/api/playlists/{playlist_id}"]) == {"get", "patch", "delete"}
    assert set(paths["/api/playlists/{playlist_id}/items"]) == {"get", "post"}
    assert set(paths["/api/playlists/{playlist_id}/items/{playlist_item_id}"]) == {"delete"}
    assert set(paths["/api/playlists/{playlist_id}/items/{playlist_item_id}/move"]) == {"post"}
    create_op = paths["/api/playlists"]["post"]
    assert {"201", "401", "404", "422", "503"} <= set(create_op["responses"])
    schema_name = create_op["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    key_schema = document["components"]["schemas"][schema_name]["properties"]["track_keys"]
    assert key_schema["maxItems"] == 10_000
    assert "playlists" in client.get("/api/health").get_json()["features"]


def test_the_mirrored_index_copy_is_what_a_refresh_reads(
    client: FlaskClient, sim: RunningServer, services: Services
) -> None:
    a, b, c = track_keys(sim, 3)
    made = create(client, "Mirrored", [a, b, c])
    first = items(client, made["id"])["items"][0]["playlist_item_id"]
    client.delete(f"/api/playlists/{made['id']}/items/{first}")
    client.patch(f"/api/playlists/{made['id']}", json={"title": "Mirrored too"})
    admin = services.account_for(None)
    mirrored = services.store.playlists(admin.key)

    result = services.index.refresh(admin)

    # The refresh finds nothing to change: the writes left the index exactly as Plex now reports the playlists.
    assert result.playlists_changed == 0
    assert services.store.playlists(admin.key) == mirrored
