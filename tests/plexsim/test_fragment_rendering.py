"""Responses assembled from cached fragments are byte for byte the per-element Node rendering they replace."""

from __future__ import annotations

import pytest
import requests
from builders import ADMIN_TOKEN, ALICE_TOKEN, small_library
from plexapi.server import PlexServer

from plexsim.elements import ElementBuilder, ListStyle
from plexsim.generate import ADMIN_TOKEN as GENERATED_ADMIN_TOKEN
from plexsim.generate import generate_library
from plexsim.library import Library
from plexsim.nodes import AttrValue, Node
from plexsim.render import json_container, render_json, render_xml, xml_container
from plexsim.server import RunningServer, start_server
from plexsim.state import ServerState

#: No paging, a middle page, a page past the end (an empty, self-closed container).
_PAGES: list[dict[str, str]] = [
    {},
    {"X-Plex-Container-Start": "1", "X-Plex-Container-Size": "2"},
    {"X-Plex-Container-Start": "100000", "X-Plex-Container-Size": "5"},
]


def _reference(sim: RunningServer, playlist_id: int, page: dict[str, str], *, json_form: bool) -> bytes:
    """The playlist items document as plexsim rendered it before fragments: one Node tree per item."""
    state = sim.state
    account = state.accounts[1]
    builder = ElementBuilder(state)
    playlist = state.playlist(account, playlist_id)
    entries = builder.playlist_items(playlist, account)
    style = ListStyle(section_attrs=True)
    nodes = [
        builder.node(track, account, style=style, extra={"playlistItemID": item_id} if item_id is not None else None)
        for item_id, track in entries
    ]
    attrs: dict[str, AttrValue] = {
        "composite": f"/playlists/{playlist.id}/composite/{playlist.updated_at}",
        "duration": sum(t.duration for _, t in entries) // 1000,
        "leafCount": len(entries),
        "playlistType": "audio",
        "ratingKey": str(playlist.id),
        "smart": playlist.smart,
        "title": playlist.title,
    }
    start = int(page.get("X-Plex-Container-Start", "0"))
    size = page.get("X-Plex-Container-Size")
    chosen = nodes[start : len(nodes) if size is None else start + int(size)]
    if page:
        attrs = {"totalSize": len(nodes), "offset": start, **attrs}
    root = Node("MediaContainer", {"size": len(chosen), **attrs}, chosen)
    return render_json(root) if json_form else render_xml(root)


def _served(
    sim: RunningServer, playlist_id: int, page: dict[str, str], *, json_form: bool, token: str = ADMIN_TOKEN
) -> requests.Response:
    headers = {"X-Plex-Token": token, "Accept": "application/json" if json_form else "*/*", **page}
    response = requests.get(f"{sim.url}/playlists/{playlist_id}/items", headers=headers, timeout=30)
    assert response.status_code == 200
    return response


def _check_all(library: Library, token: str, playlist_ids: list[int] | None = None) -> int:
    compared = 0
    with start_server(library) as sim:
        ids = playlist_ids or sorted(sim.state.accounts[1].playlists)
        for playlist_id in ids:
            for page in _PAGES:
                for json_form in (False, True):
                    served = _served(sim, playlist_id, page, json_form=json_form, token=token)
                    assert served.content == _reference(sim, playlist_id, page, json_form=json_form), (
                        playlist_id,
                        page,
                        json_form,
                    )
                    if page:
                        assert served.headers["X-Plex-Container-Start"] == page["X-Plex-Container-Start"]
                    compared += 1
    return compared


def test_small_regular_and_smart_playlists_match_the_node_rendering() -> None:
    assert _check_all(small_library(), ADMIN_TOKEN, [500, 501]) == 12


def test_small_regular_playlist_exact_bytes_and_plexapi_view() -> None:
    with start_server(small_library()) as sim:
        body = _served(sim, 500, {}, json_form=False).content
        # Rated and played track 100: the account's attributes sit mid-element, playlistItemID after the rest.
        first = body.split(b"<Track ", 2)[1]
        assert b' userRating="10.0" viewCount="5" lastViewedAt="' in first
        assert first.index(b"userRating") < first.index(b"playlistItemID") < first.index(b"<Media ")
        plex = PlexServer(sim.url, ADMIN_TOKEN, timeout=10)
        items = plex.playlist("Favourites").items()
        assert [t.ratingKey for t in items] == [100, 101, 108]
        assert [t.userRating for t in items] == [10.0, 8.0, None]
        assert len({t.playlistItemID for t in items}) == 3 and all(t.playlistItemID for t in items)


@pytest.mark.parametrize("seed", [3])
def test_generated_playlists_match_the_node_rendering(seed: int) -> None:
    library = generate_library(tracks=1500, seed=seed)
    assert _check_all(library, GENERATED_ADMIN_TOKEN) >= 6


def test_history_rows_from_cached_track_attributes_match_the_node_rendering() -> None:
    state = ServerState(generate_library(tracks=1500, seed=5))
    builder = ElementBuilder(state)
    rows = state.history[:3000]
    accounts = {row.account_id for row in rows}
    assert len(rows) == 3000 and len(accounts) > 1
    nodes = [builder.history_node(row) for row in rows]
    container: dict[str, AttrValue] = {"size": len(rows), "totalSize": len(state.history), "offset": 0}
    for json_form in (False, True):
        # Twice: the first pass fills the per-track cache, the second serves from it.
        for _ in range(2):
            pieces = builder.history_fragments(rows, json_form=json_form)
            if json_form:
                assert json_container(container, pieces) == render_json(Node("MediaContainer", container, nodes))
            else:
                assert xml_container(container, pieces) == render_xml(Node("MediaContainer", container, nodes))


def test_item_detail_from_the_cache_is_the_fresh_rendering_with_each_accounts_own_attributes() -> None:
    """Detail is built from cached catalogue parts: the same bytes as a fresh rendering, for every account, after
    a rating changes, and with the per-request children (extras) added to a copy, never to the cached parts."""
    with start_server(small_library()) as sim:
        state = sim.state
        keys = ",".join(str(key) for key in sorted(state.artists) + sorted(state.albums) + sorted(state.tracks)[:5])
        lean = {"excludeFields": "summary,thumb", "excludeElements": "Guid"}

        def detail(token: str, **params: str) -> list[bytes]:
            pages = []
            for accept in ("application/json", "*/*"):
                response = requests.get(
                    f"{sim.url}/library/metadata/{keys}",
                    params=params,
                    headers={"X-Plex-Token": token, "Accept": accept},
                    timeout=30,
                )
                assert response.status_code == 200
                pages.append(response.content)
            return pages

        first = {
            (token, bool(params)): detail(token, **params)
            for token in (ADMIN_TOKEN, ALICE_TOKEN)
            for params in ({}, lean)
        }
        # Served again from the cache: byte for byte the same (extras appended to the cached children would repeat).
        for (token, trimmed), pages in first.items():
            assert detail(token, **(lean if trimmed else {})) == pages
        assert first[(ADMIN_TOKEN, False)] != first[(ALICE_TOKEN, False)]  # each account's own ratings and plays
        admin = state.account_for_token(ADMIN_TOKEN)
        assert admin is not None
        album = sorted(state.albums)[0]
        state.rate(admin, album, 3.0)
        rated_at = admin.ratings[album].rated_at
        rated = detail(ADMIN_TOKEN)
        assert rated != first[(ADMIN_TOKEN, False)] and rated[0].count(b'"userRating":3.0') >= 1
        assert detail(ALICE_TOKEN) == first[(ALICE_TOKEN, False)]
    # A server that never rendered these items before gives the same bytes.
    with start_server(small_library()) as fresh:
        fresh_admin = fresh.state.account_for_token(ADMIN_TOKEN)
        assert fresh_admin is not None
        fresh.state.rate(fresh_admin, album, 3.0, rated_at=rated_at)
        response = requests.get(
            f"{fresh.url}/library/metadata/{keys}",
            headers={"X-Plex-Token": ADMIN_TOKEN, "Accept": "application/json"},
            timeout=30,
        )
        assert response.content == rated[0]
