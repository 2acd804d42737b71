"""The SQLite index built by refresh_index from plexsim over HTTP: full build, incremental, accounts, failures."""

from __future__ import annotations

import copy
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from plexapi.server import PlexServer

from plexm8.core.catalog import IndexCounts, ItemKind
from plexm8.errors import PlexAuthError, PlexUnavailable
from plexm8.plex.section_reader import PlexSectionReader
from plexm8.services.indexing import refresh_index
from plexm8.store import SqliteLibraryStore, connect, migrate
from plexm8.store.migrations import MIGRATIONS, schema_version
from plexsim.generate import generate_library
from plexsim.library import Library
from plexsim.server import RunningServer, start_server


@pytest.fixture(scope="module")
def library() -> Library:
    return generate_library(tracks=200, seed=5)


@pytest.fixture
def store(tmp_path: Path) -> SqliteLibraryStore:
    return SqliteLibraryStore(tmp_path / "index.db")


def reader_for(plex: RunningServer, token: str | None = None, **options: object) -> PlexSectionReader:
    return PlexSectionReader(plex.url, token or plex.admin_token, page_size=64, **options)  # type: ignore[arg-type]


def snapshot(store: SqliteLibraryStore, account: str) -> tuple[object, ...]:
    return (
        store.tracks(),
        store.albums(),
        store.artists(),
        store.states(account),
        store.playlists(account),
        store.plays(account),
        store.cursor(account),
    )


def test_full_build_mirrors_the_server(plex: RunningServer, library: Library, store: SqliteLibraryStore) -> None:
    stages: list[str] = []
    result = refresh_index(reader_for(plex), store, account="admin", progress=lambda s, d, t: stages.append(s))
    assert result.full
    assert {"artists", "albums", "tracks", "playlists", "history", "done"} <= set(stages)
    admin = library.accounts[0]
    track_ids = {t.id for t in library.tracks}
    assert result.counts == IndexCounts(
        artists=len(library.artists),
        albums=len(library.albums),
        tracks=len(library.tracks),
        rated_tracks=sum(1 for r in admin.ratings if r.key in track_ids),
        played_tracks=sum(1 for p in admin.plays if p.key in track_ids and p.view_count),
        playlists=len(admin.playlists),
        plays=sum(len(a.history) for a in library.accounts),
        refreshed_at=result.counts.refreshed_at,
    )
    tracks = {t.rating_key: t for t in store.tracks()}
    for source in library.tracks:
        assert tracks[source.id].title == source.title
        assert tracks[source.id].file_paths == (source.file,)
        assert tracks[source.id].duration_ms == source.duration
    states = store.states("admin")
    assert {r.key: r.rating for r in admin.ratings} == {k: s.user_rating for k, s in states.items() if s.user_rating}
    stored = {p.rating_key: p for p in store.playlists("admin")}
    for playlist in admin.playlists:
        assert stored[playlist.id].title == playlist.title
        if not playlist.smart:
            assert [i.rating_key for i in stored[playlist.id].items] == playlist.items


def test_incremental_refresh_follows_ratings_plays_and_playlists(
    plex: RunningServer, library: Library, store: SqliteLibraryStore
) -> None:
    reader = reader_for(plex)
    refresh_index(reader, store, account="admin")
    server = PlexServer(plex.url, plex.admin_token)
    section = server.library.sectionByID(plex.state.section.id)
    rated = {k for k, s in store.states("admin").items() if s.user_rating is not None and k in plex.state.tracks}
    unrated = [t.id for t in library.tracks if t.id not in rated]
    before = store.states("admin")
    views = {k: before[k].view_count if k in before else 0 for k in unrated[:11]}
    server.fetchItem(unrated[0]).rate(9.0)
    cleared = sorted(rated)[0]
    server.fetchItem(cleared).rate()
    section.batchMultiEdits(server.fetchItems(unrated[1:3])).editUserRating(4.0).saveMultiEdits()
    server.fetchItem(unrated[5]).markPlayed()
    playlist = server.createPlaylist("Fresh", items=server.fetchItems(unrated[6:9]))
    account = plex.state.accounts[1]
    plex.state.record_play(account, unrated[10])
    plays_before = len(store.plays("admin"))

    result = refresh_index(reader, store, account="admin")

    assert not result.full
    assert result.deleted == 0
    states = store.states("admin")
    assert states[unrated[0]].user_rating == 9.0
    assert cleared not in states or states[cleared].user_rating is None
    assert states[unrated[1]].user_rating == states[unrated[2]].user_rating == 4.0
    assert states[unrated[5]].view_count == views[unrated[5]] + 1
    assert states[unrated[10]].view_count == views[unrated[10]] + 1
    fresh = next(p for p in store.playlists("admin") if p.rating_key == int(playlist.ratingKey))
    assert [i.rating_key for i in fresh.items] == unrated[6:9]
    assert len(store.plays("admin")) == plays_before + 1
    assert result.plays_added == 1

    playlist.removeItems([playlist.items()[0]])
    playlist.editTitle("Renamed")
    after = refresh_index(reader, store, account="admin")
    fresh = next(p for p in store.playlists("admin") if p.rating_key == int(playlist.ratingKey))
    assert (fresh.title, [i.rating_key for i in fresh.items]) == ("Renamed", unrated[7:9])
    assert after.playlists_changed >= 1


def test_refresh_with_nothing_changed_changes_nothing(plex: RunningServer, store: SqliteLibraryStore) -> None:
    reader = reader_for(plex)
    refresh_index(reader, store, account="admin")
    before = snapshot(store, "admin")[:-1]
    result = refresh_index(reader, store, account="admin")
    assert (result.added, result.updated, result.deleted, result.states_changed, result.plays_added) == (0, 0, 0, 0, 0)
    assert snapshot(store, "admin")[:-1] == before
    # A handful of filtered and counting requests, not a re-listing.
    assert result.requests < 25


def test_deleted_items_are_found(library: Library, store: SqliteLibraryStore) -> None:
    with start_server(copy.deepcopy(library)) as plex:
        refresh_index(reader_for(plex), store, account="admin")
    gone_album = library.albums[3]
    smaller = copy.deepcopy(library)
    gone_tracks = {t.id for t in smaller.tracks if t.album == gone_album.id} | {smaller.tracks[-1].id}
    smaller.tracks = [t for t in smaller.tracks if t.id not in gone_tracks]
    smaller.albums = [a for a in smaller.albums if a.id != gone_album.id]
    for account in smaller.accounts:
        account.ratings = [r for r in account.ratings if r.key not in gone_tracks | {gone_album.id}]
        account.plays = [p for p in account.plays if p.key not in gone_tracks | {gone_album.id}]
        account.history = [h for h in account.history if h.key not in gone_tracks]
        for playlist in account.playlists:
            playlist.items = [k for k in playlist.items if k not in gone_tracks]
    with start_server(smaller) as plex:
        result = refresh_index(reader_for(plex), store, account="admin")
    assert not result.full
    assert result.deleted == len(gone_tracks) + 1
    assert set(store.item_keys(ItemKind.TRACK)) == {t.id for t in smaller.tracks}
    assert set(store.item_keys(ItemKind.ALBUM)) == {a.id for a in smaller.albums}
    assert not gone_tracks & set(store.states("admin"))


def test_accounts_keep_their_own_ratings(plex: RunningServer, library: Library, store: SqliteLibraryStore) -> None:
    admin, alice = library.accounts[0], library.accounts[1]
    refresh_index(reader_for(plex), store, account="admin")
    refresh_index(reader_for(plex, alice.tokens[0]), store, account="alice")
    for account, name in ((admin, "admin"), (alice, "alice")):
        ratings = {k: s.user_rating for k, s in store.states(name).items() if s.user_rating is not None}
        assert ratings == {r.key: r.rating for r in account.ratings}
        assert {p.rating_key for p in store.playlists(name)} == {p.id for p in account.playlists}
    assert store.counts("alice").plays == len(alice.history)  # a non-admin sees only their own history


def test_failure_mid_refresh_leaves_the_previous_index(plex: RunningServer, store: SqliteLibraryStore) -> None:
    reader = reader_for(plex)
    refresh_index(reader, store, account="admin")
    before = snapshot(store, "admin")
    account = plex.state.accounts[1]
    plex.state.rate(account, next(iter(plex.state.tracks)), 1.0)
    # Everything but the last stage (history) is written before this fails.
    plex.knobs.configure(fail_path="/status/sessions/history")
    with pytest.raises(PlexUnavailable):
        refresh_index(reader, store, account="admin")
    assert snapshot(store, "admin") == before
    with pytest.raises(PlexUnavailable):
        refresh_index(reader, store, account="admin", full=True)
    assert snapshot(store, "admin") == before
    plex.knobs.reset()
    plex.knobs.configure(unauthorized_after=3)
    with pytest.raises(PlexAuthError):
        refresh_index(reader_for(plex), store, account="admin", full=True)
    assert snapshot(store, "admin") == before


_CHILD = """
import sys
from plexm8.plex.section_reader import PlexSectionReader
from plexm8.services.indexing import refresh_index
from plexm8.store import SqliteLibraryStore
reader = PlexSectionReader(sys.argv[1], sys.argv[2], page_size=50)
refresh_index(reader, SqliteLibraryStore(sys.argv[3]), account="admin", full=True)
"""


def test_killed_refresh_leaves_the_previous_index(plex: RunningServer, tmp_path: Path) -> None:
    path = tmp_path / "index.db"
    store = SqliteLibraryStore(path)
    refresh_index(reader_for(plex), store, account="admin")
    before = snapshot(store, "admin")
    store.close()
    plex.state.rate(plex.state.accounts[1], next(iter(plex.state.tracks)), 2.0)
    # The playlists request hangs, so the child is caught with artists, albums and tracks written but not committed.
    plex.knobs.configure(slow_path="^/playlists", slow_ms=20_000)
    listed = plex.knobs.count("/library/sections/3/all")
    child = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(_CHILD), plex.url, plex.admin_token, str(path)],
        env=os.environ.copy(),
    )
    try:
        # Every artist, album and track page (of 50) answered: the full build is written but not committed.
        pages = sum(-(-len(items) // 50) for items in (plex.state.artists, plex.state.albums, plex.state.tracks))
        deadline = time.monotonic() + 60
        while plex.knobs.count("/library/sections/3/all") < listed + pages and time.monotonic() < deadline:
            assert child.poll() is None, "the refresh ended before it could be killed"
            time.sleep(0.01)
        assert child.poll() is None
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    reopened = SqliteLibraryStore(path)
    assert snapshot(reopened, "admin") == before
    assert reopened.counts("admin").tracks == len(plex.state.tracks)
    # The full build had dropped the secondary indexes to build them after loading; the kill brought them back.
    assert index_sql(path) == index_sql(tmp_path / "fresh.db")


def index_sql(path: Path) -> dict[str, str]:
    """Every index of the database at ``path`` (migrated first) by name, with its definition."""
    SqliteLibraryStore(path).counts("nobody")
    conn = connect(path)
    try:
        rows = conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL")
        return dict(rows.fetchall())
    finally:
        conn.close()


def test_full_build_rebuilds_the_indexes_it_drops(plex: RunningServer, tmp_path: Path) -> None:
    path = tmp_path / "index.db"
    expected = index_sql(tmp_path / "fresh.db")
    assert {"tracks_album", "track_files_path", "item_tags_tag"} <= set(expected)
    store = SqliteLibraryStore(path)
    refresh_index(reader_for(plex), store, account="admin")
    assert index_sql(path) == expected
    # A full build that fails after loading the items (the history fails) leaves every index in place as well.
    plex.knobs.configure(fail_path="/status/sessions/history")
    with pytest.raises(PlexUnavailable):
        refresh_index(reader_for(plex), store, account="admin", full=True)
    assert index_sql(path) == expected
    conn = connect(path)
    try:
        plan = conn.execute("EXPLAIN QUERY PLAN SELECT rating_key FROM track_files WHERE path = ?", ("x",)).fetchall()
    finally:
        conn.close()
    assert any("track_files_path" in str(step) for step in plan)


def test_schema_is_versioned_and_the_database_uses_wal(tmp_path: Path) -> None:
    conn = connect(tmp_path / "x.db")
    assert migrate(conn) == [m.name for m in MIGRATIONS]
    assert migrate(conn) == []
    assert schema_version(conn) == MIGRATIONS[-1].version
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    recorded = conn.execute("SELECT version, name FROM schema_migrations").fetchall()
    assert recorded == [(m.version, m.name) for m in MIGRATIONS]
    conn.execute("INSERT INTO schema_migrations VALUES (999, 'from the future', 0)")
    with pytest.raises(sqlite3.DatabaseError, match="newer"):
        migrate(conn)


def test_states_of_some_keys_and_rated_keys(plex: RunningServer, store: SqliteLibraryStore) -> None:
    refresh_index(reader_for(plex), store, account="admin")
    everything = store.states("admin")
    assert len(everything) > 10
    some = [*sorted(everything)[::3], 987_654_321]
    assert store.states("admin", some) == {k: everything[k] for k in some if k in everything}
    assert store.states("admin", []) == {}
    rated = store.rated_keys("admin")
    assert rated == {k for k, s in everything.items() if s.user_rating is not None}
    assert rated and rated != set(everything)
