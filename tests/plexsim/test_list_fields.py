"""What list rows carry: history rows without the fields a client excludes, artist and album rows with their tags."""

from __future__ import annotations

import json

import pytest
import requests
from builders import ADMIN_TOKEN
from plexapi.server import PlexServer

from plexsim.elements import ElementBuilder
from plexsim.generate import generate_library
from plexsim.nodes import AttrValue, Node
from plexsim.render import json_container, render_json, render_xml, xml_container
from plexsim.server import RunningServer
from plexsim.state import ServerState

HISTORY = "/status/sessions/history/all"
#: What a client storing only ids and times leaves off (PlexM8's index does this).
TRACK_FIELDS = "key,librarySectionID,parentKey,grandparentKey,title,parentTitle,grandparentTitle,type,thumb,parentThumb"


def _get(sim: RunningServer, path: str, params: dict[str, str], *, json_form: bool) -> requests.Response:
    headers = {"X-Plex-Token": ADMIN_TOKEN, "Accept": "application/json" if json_form else "*/*"}
    response = requests.get(sim.url + path, params=params, headers=headers, timeout=30)
    assert response.status_code == 200, response.text[:200]
    return response


def test_history_rows_leave_off_excluded_fields_in_json(sim: RunningServer) -> None:
    full = _get(sim, HISTORY, {"sort": "viewedAt:desc"}, json_form=True).json()["MediaContainer"]["Metadata"]
    trimmed = _get(sim, HISTORY, {"sort": "viewedAt:desc", "excludeFields": TRACK_FIELDS}, json_form=True)
    rows = trimmed.json()["MediaContainer"]["Metadata"]
    excluded = set(TRACK_FIELDS.split(","))
    assert len(rows) == len(full) == 4
    assert [{k: v for k, v in row.items() if k not in excluded} for row in full] == rows
    assert all(excluded.isdisjoint(row) for row in rows)
    # Only the track's part went: the row's own fields stay, in their order.
    assert list(rows[0])[:2] == ["historyKey", "ratingKey"] and list(rows[0])[-3:] == [
        "viewedAt",
        "accountID",
        "deviceID",
    ]


def test_history_rows_leave_off_excluded_fields_in_xml_and_plexapi_still_reads_them(sim: RunningServer) -> None:
    body = _get(sim, HISTORY, {"excludeFields": "title,thumb,viewedAt"}, json_form=False).content
    assert b" title=" not in body and b" thumb=" not in body and b"viewedAt=" not in body
    assert b' parentTitle="' in body and b' historyKey="/status/sessions/history/' in body
    # plexapi never sends excludeFields: it keeps getting whole rows.
    plex = PlexServer(sim.url, ADMIN_TOKEN, timeout=10)
    assert all(h.title and h.viewedAt for h in plex.history())


def test_history_fragments_with_any_excluded_fields_match_the_node_rendering() -> None:
    state = ServerState(generate_library(tracks=300, seed=8))
    builder = ElementBuilder(state)
    rows = state.history[:400]
    for exclude in (
        frozenset({"title", "thumb"}),  # track fields only: the row's own template is kept
        frozenset({"historyKey", "grandparentTitle"}),  # the first member goes: no leading separator may remain
        frozenset({"viewedAt", "deviceID", "unknownField"}),
        frozenset({"historyKey", "viewedAt", "accountID", "deviceID"}),
    ):
        nodes = [builder.history_node(row, exclude) for row in rows]
        assert all(exclude.isdisjoint(node.attrs) and node.attrs for node in nodes)
        container: dict[str, AttrValue] = {"size": len(rows)}
        for _ in range(2):  # the first pass fills the caches, the second serves from them
            pieces = builder.history_fragments(rows, json_form=True, exclude=exclude)
            assert json_container(container, pieces) == render_json(Node("MediaContainer", container, nodes))
            json.loads(json_container(container, pieces))
            pieces = builder.history_fragments(rows, json_form=False, exclude=exclude)
            assert xml_container(container, pieces) == render_xml(Node("MediaContainer", container, nodes))


@pytest.mark.parametrize("json_form", [True, False], ids=["json", "xml"])
def test_artist_and_album_rows_carry_their_genres(sim: RunningServer, json_form: bool) -> None:
    artists = _get(sim, "/library/sections/3/all", {"type": "8"}, json_form=json_form)
    albums = _get(sim, "/library/sections/3/all", {"type": "9"}, json_form=json_form)
    tracks = _get(sim, "/library/sections/3/all", {"type": "10"}, json_form=json_form)
    if json_form:
        by_artist = {row["title"]: row for row in artists.json()["MediaContainer"]["Metadata"]}
        assert by_artist["Björk"]["Genre"] == [{"tag": "Electronic"}]
        assert by_artist["Björk"]["Country"] == [{"tag": "Iceland"}]
        # Styles and moods are item detail only.
        assert "Style" not in by_artist["Björk"] and "Mood" not in by_artist["Björk"]
        album_rows = albums.json()["MediaContainer"]["Metadata"]
        assert {row["ratingKey"]: [g["tag"] for g in row.get("Genre", [])] for row in album_rows}["20"] == [
            "Electronic"
        ]
        assert not any("Genre" in row for row in tracks.json()["MediaContainer"]["Metadata"])
    else:
        assert b'<Genre tag="Electronic" /><Country tag="Iceland" /></Directory>' in artists.content
        assert b"<Style " not in artists.content and b"<Mood " not in albums.content
        assert b"<Genre " in albums.content and b"<Genre " not in tracks.content


def test_plexapi_reads_list_genres_and_detail_tags(plex: PlexServer) -> None:
    section = plex.library.section("Music")
    bjork = next(a for a in section.searchArtists() if a.title == "Björk")
    assert [g.tag for g in bjork.genres] == ["Electronic"] and [c.tag for c in bjork.countries] == ["Iceland"]
    album = next(a for a in section.searchAlbums() if a.ratingKey == 20)
    assert [g.tag for g in album.genres] == ["Electronic"]
    # Detail still carries every kind, with ids and filters.
    full = plex.fetchItem(10)
    assert [s.tag for s in full.styles] == ["Trip Hop"] and full.genres[0].filter.startswith("genre=")
