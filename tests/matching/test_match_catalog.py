"""SqliteMatchCatalog on a real index built from plexsim over HTTP: loading, remembering, refusing."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from plexm8.core.matching import Match, MatchMethod
from plexm8.core.sources import SourceTrack
from plexm8.errors import NotFound
from plexm8.plex.section_reader import PlexSectionReader
from plexm8.services.indexing import refresh_index
from plexm8.store import SqliteLibraryStore
from plexm8.store.match_catalog import SqliteMatchCatalog
from plexsim.generate import generate_library
from plexsim.library import Library
from plexsim.server import start_server


@pytest.fixture(scope="module")
def library() -> Library:
    return generate_library(tracks=150, seed=3)


@pytest.fixture
def database(library: Library, tmp_path: Path) -> Path:
    path = tmp_path / "index.db"
    with start_server(library) as plex:
        store = SqliteLibraryStore(path)
        try:
            refresh_index(PlexSectionReader(plex.url, plex.admin_token, page_size=100), store, account="admin")
        finally:
            store.close()
    return path


def _match(source_id: str | None, key: int, location: str | None = None) -> Match:
    source = SourceTrack(ordinal=1, source_id=source_id, location=location, title="t")
    return Match(source, key, MatchMethod.PATH, 1.0, "file path")


def test_load_reads_every_track_with_its_files(library: Library, database: Path) -> None:
    catalog = SqliteMatchCatalog(database).load("admin")
    albums = {a.id: a for a in library.albums}
    artists = {a.id: a.title for a in library.artists}
    assert len(catalog) == len(library.tracks)
    for track in library.tracks:
        position = catalog.position(track.id)
        assert position is not None
        loaded = catalog.tracks[position]
        album = albums[track.album]
        assert (loaded.title, loaded.album, loaded.artist, loaded.track_artist) == (
            track.title,
            album.title,
            artists[album.artist],
            track.original_title,
        )
        assert (loaded.disc_number, loaded.track_number, loaded.duration_ms) == (
            track.disc,
            track.index,
            track.duration,
        )
        assert loaded.paths == (track.file,)
        assert catalog.by_path(track.file) == [position]


def test_an_account_without_index_is_refused(database: Path) -> None:
    store = SqliteMatchCatalog(database)
    with pytest.raises(NotFound, match="no library index"):
        store.load("bob")
    with pytest.raises(NotFound):
        store.remember("bob", "itunes", [_match("A", 1000)])
    assert store.remembered("bob", "itunes") == {}


def test_remember_round_trip_and_replace(database: Path) -> None:
    store = SqliteMatchCatalog(database)
    store.remember("admin", "itunes", [_match("A", 1001), _match(None, 1002, "C:\\Music\\B.mp3"), _match(None, 1003)])
    assert store.remembered("admin", "itunes") == {"id:A": 1001, "path:c:/music/b.mp3": 1002}
    assert store.remembered("admin", "foobar2000") == {}
    store.remember("admin", "itunes", [_match("A", 1005)])
    assert store.remembered("admin", "itunes")["id:A"] == 1005
    reopened = SqliteMatchCatalog(database)
    assert reopened.remembered("admin", "itunes") == {"id:A": 1005, "path:c:/music/b.mp3": 1002}


def test_migration_three_is_recorded(database: Path) -> None:
    SqliteMatchCatalog(database).remembered("admin", "itunes")
    with closing(sqlite3.connect(database)) as conn:
        row = conn.execute("SELECT name FROM schema_migrations WHERE version = 3").fetchone()
    assert row == ("add_match_memory",)
