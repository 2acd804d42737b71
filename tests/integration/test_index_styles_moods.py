"""Styles and moods of artists and albums (item detail only) in the index: full build, incremental, odd servers."""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

import pytest
import requests

from plexm8.core.catalog import ItemTags
from plexm8.errors import PlexUnavailable
from plexm8.plex.section_reader import PlexSectionReader
from plexm8.services.indexing import refresh_index
from plexm8.store import SqliteLibraryStore
from plexsim.generate import generate_library
from plexsim.library import Album, Artist, Library, Track
from plexsim.server import RunningServer, start_server
from plexsim.state import ServerState

DETAIL = "/library/metadata/"


@pytest.fixture(scope="module")
def library() -> Library:
    return generate_library(tracks=300, seed=11)


def reader_for(url: str, token: str, **options: object) -> PlexSectionReader:
    # Small chunks, so that even this library's detail takes several requests in flight.
    options.setdefault("detail_chunk", 16)
    return PlexSectionReader(url, token, page_size=64, **options)  # type: ignore[arg-type]


def server_tags(state: ServerState) -> dict[int, ItemTags]:
    """What plexsim holds for every artist and album (tracks' tags are not in their rows)."""
    found = {}
    items: list[Artist | Album] = [*state.artists.values(), *state.albums.values()]
    for obj in items:
        tags = ItemTags(*(tuple(state.tags(obj, kind)) for kind in ("genre", "style", "mood")))
        if tags != ItemTags():
            found[obj.id] = tags
    return found


def detail_requests(plex: RunningServer) -> list[str]:
    return [r.path for r in plex.knobs.log if r.path.startswith(DETAIL)]


def detail_keys(plex: RunningServer) -> set[int]:
    return {int(key) for path in detail_requests(plex) for key in path[len(DETAIL) :].split(",")}


def last_edited(library: Library) -> set[int]:
    """The artists and albums in the last second of their kind's ``updatedAt`` (the high-water marks)."""
    keys: set[int] = set()
    for items in (library.artists, library.albums):
        high = max(item.updated_at for item in items)
        keys.update(item.id for item in items if item.updated_at == high)
    return keys


@pytest.mark.parametrize("json", [True, False], ids=["json", "xml"])
def test_full_build_stores_every_artists_and_albums_styles_and_moods(
    plex: RunningServer, tmp_path: Path, json: bool
) -> None:
    store = SqliteLibraryStore(tmp_path / "index.db")
    refresh_index(reader_for(plex.url, plex.admin_token, json=json), store, account="admin")
    expected = server_tags(plex.state)
    assert sum(1 for tags in expected.values() if tags.styles and tags.moods) >= 30
    assert store.item_tags() == expected
    # Many ids per request, each asking the server to leave off all it does not need.
    items = len(plex.state.artists) + len(plex.state.albums)
    paths = detail_requests(plex)
    assert len(paths) == -(-items // 16)
    assert sorted(int(key) for path in paths for key in path[len(DETAIL) :].split(",")) == sorted(
        [*plex.state.artists, *plex.state.albums]
    )
    for record in plex.knobs.log:
        if record.path.startswith(DETAIL):
            query = parse_qs(record.query)
            assert {"Genre", "Guid", "Location"} <= set(query["excludeElements"][0].split(","))
            fields = set(query["excludeFields"][0].split(","))
            assert {"title", "summary", "key"} <= fields and fields.isdisjoint({"ratingKey", "tag"})
            assert "includeFields" not in query


@pytest.mark.parametrize("json", [True, False], ids=["json", "xml"])
def test_a_server_that_ignores_the_exclusions_gives_the_same_index(
    plex: RunningServer, tmp_path: Path, json: bool
) -> None:
    lean = SqliteLibraryStore(tmp_path / "lean.db")
    refresh_index(reader_for(plex.url, plex.admin_token, json=json), lean, account="admin")
    plex.knobs.configure(ignore_exclusions=True)
    full = SqliteLibraryStore(tmp_path / "full.db")
    refresh_index(reader_for(plex.url, plex.admin_token, json=json), full, account="admin")
    assert full.item_tags() == lean.item_tags() == server_tags(plex.state)
    assert full.artists() == lean.artists() and full.albums() == lean.albums()


def test_incremental_refresh_reads_detail_only_of_edited_and_new_items(library: Library, tmp_path: Path) -> None:
    store = SqliteLibraryStore(tmp_path / "index.db")
    with start_server(copy.deepcopy(library)) as plex:
        refresh_index(reader_for(plex.url, plex.admin_token), store, account="admin")
        # Nothing changed: only the items edited in the previous refresh's last second are read again (updatedAt
        # counts whole seconds: an edit later in that second would not move it).
        last_second = last_edited(library)
        plex.knobs.clear_log()
        refresh_index(reader_for(plex.url, plex.admin_token), store, account="admin")
        assert detail_keys(plex) == last_second
        # A rating and a play bring an artist and an album back in the listings, but they were not edited: their
        # stored styles and moods stay, and still no detail is read.
        artist, album = library.artists[3], library.albums[5]
        admin = plex.state.accounts[1]
        plex.state.rate(admin, artist.id, 8.0)
        plex.state.scrobble(admin, plex.state.album_tracks[album.id][0].id)
        plex.knobs.clear_log()
        result = refresh_index(reader_for(plex.url, plex.admin_token), store, account="admin")
        assert result.states_changed >= 2 and detail_keys(plex) == last_second
        assert store.item_tags() == server_tags(plex.state)
    # The server after a metadata edit: an album's styles and an artist's moods changed (their updatedAt moved).
    edited = copy.deepcopy(library)
    high = max(max(a.updated_at for a in edited.albums), max(a.updated_at for a in edited.artists))
    changed_album = next(a for a in edited.albums if a.styles and a.id != album.id)
    changed_album.styles = ["Polka", *changed_album.styles[1:]]
    changed_album.updated_at = high + 10
    changed_artist = next(a for a in edited.artists if a.moods and a.id not in (artist.id, changed_album.artist))
    changed_artist.moods = []
    changed_artist.updated_at = high + 10
    with start_server(edited) as plex:
        result = refresh_index(reader_for(plex.url, plex.admin_token), store, account="admin")
        paths = detail_requests(plex)
        expected = server_tags(plex.state)
    assert not result.full and result.updated == 2
    # The two edited items, and those of the previous last second once more.
    assert sorted(int(k) for path in paths for k in path[len(DETAIL) :].split(",")) == sorted(
        {changed_album.id, changed_artist.id} | last_second
    )
    assert store.item_tags([changed_album.id])[changed_album.id].styles[0] == "Polka"
    assert store.item_tags([changed_artist.id])[changed_artist.id].moods == ()
    assert store.item_tags() == expected


def test_new_artists_and_albums_get_their_styles_and_moods(library: Library, tmp_path: Path) -> None:
    store = SqliteLibraryStore(tmp_path / "index.db")
    smaller = copy.deepcopy(library)
    last_artist = smaller.artists[-1]
    gone_albums = {a.id for a in smaller.albums if a.artist == last_artist.id}
    smaller.artists = smaller.artists[:-1]
    smaller.albums = [a for a in smaller.albums if a.id not in gone_albums]
    smaller.tracks = [t for t in smaller.tracks if t.album not in gone_albums]
    gone_tracks = {t.id for t in library.tracks if t.album in gone_albums}
    for account in smaller.accounts:
        account.ratings = [r for r in account.ratings if r.key not in gone_tracks | gone_albums | {last_artist.id}]
        account.plays = [p for p in account.plays if p.key not in gone_tracks | gone_albums | {last_artist.id}]
        account.history = [h for h in account.history if h.key not in gone_tracks]
        for playlist in account.playlists:
            playlist.items = [k for k in playlist.items if k not in gone_tracks]
    with start_server(smaller) as plex:
        refresh_index(reader_for(plex.url, plex.admin_token), store, account="admin")
    assert last_artist.id not in store.item_tags()
    # The artist is added back: what a server adds has its addedAt, and so its updatedAt, after everything else.
    whole = copy.deepcopy(library)
    later = max(t.updated_at for t in whole.tracks) + 10
    everything: list[Artist | Album | Track] = [*whole.artists, *whole.albums, *whole.tracks]
    for item in everything:
        if item.id in gone_tracks | gone_albums | {last_artist.id}:
            item.added_at = item.updated_at = later
    with start_server(whole) as plex:
        result = refresh_index(reader_for(plex.url, plex.admin_token), store, account="admin")
        assert store.item_tags() == server_tags(plex.state)
    assert result.added == 1 + len(gone_albums) + len(gone_tracks)
    assert store.item_tags([last_artist.id])[last_artist.id].styles == tuple(last_artist.styles)


def test_detail_of_items_the_server_no_longer_has_gives_no_rows(plex: RunningServer) -> None:
    reader = reader_for(plex.url, plex.admin_token, detail_chunk=2)
    album = next(iter(plex.state.albums.values()))
    rows = [row for decode in reader.download_tags([10**8, 10**8 + 1, album.id, 10**8 + 2]) for row in decode()]
    assert rows and {row[0] for row in rows} == {album.id}
    assert [tag for key, kind, _, tag in rows if kind == "style"] == plex.state.tags(album, "style")


class _Garbling(BaseHTTPRequestHandler):
    """Passes requests on to a plexsim, answering item detail with a listing whose tags have no names."""

    upstream = ""

    def do_GET(self) -> None:
        if self.path.startswith(DETAIL):
            status, body = 200, b'{"MediaContainer":{"size":1,"Metadata":[{"ratingKey":"1","Style":[{"id":4}]}]}}'
            kind = "application/json"
        else:
            headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
            answer = requests.get(self.upstream + self.path, headers=headers, timeout=30)
            status, body, kind = answer.status_code, answer.content, answer.headers.get("Content-Type", "")
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def garbling(upstream: str) -> Iterator[str]:
    """The URL of a :class:`_Garbling` proxy in front of ``upstream``, while the block runs."""
    handler = type("Garbling", (_Garbling,), {"upstream": upstream})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_malformed_detail_answer_is_a_clear_error_and_keeps_the_previous_index(
    library: Library, tmp_path: Path
) -> None:
    store = SqliteLibraryStore(tmp_path / "index.db")
    with start_server(copy.deepcopy(library)) as plex:
        refresh_index(reader_for(plex.url, plex.admin_token), store, account="admin")
        before = (store.item_tags(), store.artists(), store.albums(), store.counts("admin"))
        with (
            garbling(plex.url) as url,
            pytest.raises(
                PlexUnavailable, match=r"did not answer like Plex on /library/metadata/\d+,\.\.\. \(16 items\)"
            ),
        ):
            refresh_index(reader_for(url, plex.admin_token), store, account="admin", full=True)
    assert (store.item_tags(), store.artists(), store.albums(), store.counts("admin")) == before
    # An incremental refresh that must read an edited album's detail (and those of the previous last second) fails
    # the same way, leaving it all as it was.
    edited = copy.deepcopy(library)
    edited.albums[0].updated_at = max(a.updated_at for a in edited.albums) + 10
    with start_server(edited) as plex, garbling(plex.url) as url:
        with pytest.raises(
            PlexUnavailable, match=r"did not answer like Plex on /library/metadata/\d+,\.\.\. \(3 items\):"
        ):
            refresh_index(reader_for(url, plex.admin_token), store, account="admin")
        assert (store.item_tags(), store.artists(), store.albums(), store.counts("admin")) == before
        # Once the server answers properly, the same refresh goes through.
        result = refresh_index(reader_for(plex.url, plex.admin_token), store, account="admin")
        assert result.updated == 1 and store.item_tags() == server_tags(plex.state)


def test_a_failing_detail_request_fails_the_refresh_and_keeps_the_previous_index(
    plex: RunningServer, tmp_path: Path
) -> None:
    store = SqliteLibraryStore(tmp_path / "index.db")
    refresh_index(reader_for(plex.url, plex.admin_token), store, account="admin")
    before = (store.item_tags(), store.artists(), store.albums(), store.counts("admin"))
    plex.knobs.configure(fail_path="^/library/metadata/", fail_status=500)
    with pytest.raises(PlexUnavailable, match=r"failed with HTTP 500 on /library/metadata/\d+,\.\.\. \(16 items\)"):
        refresh_index(reader_for(plex.url, plex.admin_token), store, account="admin", full=True)
    assert (store.item_tags(), store.artists(), store.albums(), store.counts("admin")) == before
