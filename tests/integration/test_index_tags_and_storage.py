"""The index keeps artist and album tags, reads history lean, and stays consistent on its bulk-load settings."""

from __future__ import annotations

import copy
import threading
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

import pytest

from plexm8.core.catalog import ItemTags
from plexm8.errors import PlexUnavailable
from plexm8.plex.section_reader import PlexSectionReader
from plexm8.services.indexing import refresh_index
from plexm8.store import SqliteLibraryStore, connect, migrate
from plexsim.generate import generate_library
from plexsim.library import Album, Artist, Library
from plexsim.server import RunningServer, start_server


@pytest.fixture(scope="module")
def library() -> Library:
    return generate_library(tracks=200, seed=7)


def reader_for(plex: RunningServer, **options: object) -> PlexSectionReader:
    return PlexSectionReader(plex.url, plex.admin_token, page_size=64, **options)  # type: ignore[arg-type]


@pytest.mark.parametrize("json", [True, False], ids=["json", "xml"])
def test_full_build_keeps_artist_and_album_tags(
    plex: RunningServer, library: Library, tmp_path: Path, json: bool
) -> None:
    store = SqliteLibraryStore(tmp_path / "index.db")
    refresh_index(reader_for(plex, json=json), store, account="admin")
    tags = store.item_tags()
    items: list[Artist | Album] = [*library.artists, *library.albums]
    expected = {
        a.id: ItemTags(tuple(a.genres), tuple(a.styles), tuple(a.moods))
        for a in items
        if a.genres or a.styles or a.moods
    }
    assert len(expected) > 20
    assert tags == expected
    assert {a.rating_key: (a.genres, a.styles, a.moods) for a in store.artists() if a.genres} == {
        a.id: (tuple(a.genres), tuple(a.styles), tuple(a.moods)) for a in library.artists if a.genres
    }
    some = [*sorted(expected)[:3], library.tracks[0].id, 10**9]
    assert store.item_tags(some) == {key: expected[key] for key in some[:3]}
    assert store.item_tags([]) == {}


def test_a_genre_edit_reaches_the_index_on_the_next_refresh(library: Library, tmp_path: Path) -> None:
    store = SqliteLibraryStore(tmp_path / "index.db")
    with start_server(copy.deepcopy(library)) as plex:
        refresh_index(reader_for(plex), store, account="admin")
    # The same server after a metadata edit: the album's genres changed and its updatedAt moved past every other.
    edited = copy.deepcopy(library)
    album = next(a for a in edited.albums if len(a.genres) >= 1)
    album.genres = ["Polka", *album.genres[1:]]
    album.updated_at = max(a.updated_at for a in edited.albums) + 10
    with start_server(edited) as plex:
        result = refresh_index(reader_for(plex), store, account="admin")
    assert not result.full and result.updated == 1
    assert store.item_tags([album.id]) == {
        album.id: ItemTags(tuple(album.genres), tuple(album.styles), tuple(album.moods))
    }
    assert "Polka" not in {g for key, tags in store.item_tags().items() if key != album.id for g in tags.genres}


def test_history_is_read_without_the_fields_the_index_does_not_keep(
    plex: RunningServer, library: Library, tmp_path: Path
) -> None:
    store = SqliteLibraryStore(tmp_path / "index.db")
    refresh_index(reader_for(plex), store, account="admin")
    queries = [parse_qs(r.query) for r in plex.knobs.log if r.path == "/status/sessions/history/all"]
    assert queries
    for query in queries:
        excluded = set(query["excludeFields"][0].split(","))
        assert {"title", "parentTitle", "grandparentTitle", "thumb", "key"} <= excluded
        assert excluded.isdisjoint({"historyKey", "ratingKey", "viewedAt", "accountID", "deviceID"})
    plays = {(p.history_id, p.rating_key, p.viewed_at, p.plex_account_id) for p in store.plays("admin")}
    server = {(h.id, h.key, h.viewed_at, h.account_id) for h in plex.state.history}
    assert plays == server and len(plays) == sum(len(a.history) for a in library.accounts)


def test_a_new_index_database_uses_large_pages_and_an_existing_one_keeps_its_own(
    plex: RunningServer, tmp_path: Path
) -> None:
    fresh = SqliteLibraryStore(tmp_path / "fresh.db")
    refresh_index(reader_for(plex), fresh, account="admin")
    older = tmp_path / "older.db"
    conn = connect(older)
    migrate(conn)
    conn.close()
    existing = SqliteLibraryStore(older)
    refresh_index(reader_for(plex), existing, account="admin")
    assert replace(existing.counts("admin"), refreshed_at=None) == replace(fresh.counts("admin"), refreshed_at=None)
    for path, size in ((tmp_path / "fresh.db", 16_384), (older, 4_096)):
        conn = connect(path)
        try:
            assert conn.execute("PRAGMA page_size").fetchone()[0] == size
            assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        finally:
            conn.close()


def test_foreign_keys_hold_after_builds_and_refreshes_written_without_their_checks(
    library: Library, tmp_path: Path
) -> None:
    store = SqliteLibraryStore(tmp_path / "index.db")
    with start_server(copy.deepcopy(library)) as plex:
        refresh_index(reader_for(plex), store, account="admin")
        alice = library.accounts[1]
        plex.state.rate(plex.state.accounts[alice.id], library.tracks[5].id, 4.0)
        refresh_index(PlexSectionReader(plex.url, alice.tokens[0], page_size=64), store, account="alice")
    smaller = copy.deepcopy(library)
    gone = {t.id for t in smaller.tracks[:30]}
    smaller.tracks = smaller.tracks[30:]
    for account in smaller.accounts:
        account.ratings = [r for r in account.ratings if r.key not in gone]
        account.plays = [p for p in account.plays if p.key not in gone]
        account.history = [h for h in account.history if h.key not in gone]
        for playlist in account.playlists:
            playlist.items = [k for k in playlist.items if k not in gone]
    with start_server(smaller) as plex:
        assert refresh_index(reader_for(plex), store, account="admin").deleted == len(gone)
        refresh_index(reader_for(plex), store, account="admin", full=True)
    conn = connect(tmp_path / "index.db")
    try:
        # Readers' connections still enforce them; the writer's data satisfies every one.
        assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        orphans = conn.execute(
            "SELECT COUNT(*) FROM track_files WHERE rating_key NOT IN (SELECT rating_key FROM tracks)"
        )
        assert orphans.fetchone()[0] == 0
        assert conn.execute("SELECT COUNT(*) FROM track_files").fetchone()[0] == len(smaller.tracks)
    finally:
        conn.close()


class _History(BaseHTTPRequestHandler):
    """A server whose only music section's history has one row with a key that is not a history key."""

    def do_GET(self) -> None:
        if self.path.startswith("/library/sections"):
            body = b'{"MediaContainer":{"Directory":[{"key":"3","type":"artist","title":"Music","uuid":"u"}]}}'
        else:
            body = (
                b'{"MediaContainer":{"size":2,"totalSize":2,"Metadata":['
                b'{"historyKey":"/status/sessions/history/7","ratingKey":"1","viewedAt":5},'
                b'{"historyKey":"/status/sessions/history/x8","ratingKey":"2","viewedAt":6}]}}'
            )
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_a_malformed_history_key_is_a_clear_error() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _History)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        reader = PlexSectionReader(f"http://127.0.0.1:{server.server_address[1]}", "token")
        with pytest.raises(PlexUnavailable, match="unexpected history key '/status/sessions/history/x8'"):
            [page() for page in reader.download_history()]
    finally:
        server.shutdown()
        server.server_close()
