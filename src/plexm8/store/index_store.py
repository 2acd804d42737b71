"""The local library index in SQLite: :class:`SqliteLibraryStore` implements the LibraryStore port.

A refresh writes through one :class:`SqliteIndexWriter` inside one transaction: readers keep seeing the previous
index (WAL) until it commits, and a refresh that fails, is interrupted or whose process is killed leaves the
previous index exactly as it was, because SQLite discards the uncommitted transaction.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from plexm8.core.catalog import (
    AlbumRecord,
    ArtistRecord,
    IndexCounts,
    ItemKind,
    ItemRows,
    ItemState,
    ItemTags,
    PlaylistItem,
    PlaylistRecord,
    PlayRecord,
    PlayRow,
    PlaySource,
    PlaySpool,
    RefreshCursor,
    TagRow,
    TrackRecord,
)
from plexm8.store.database import ThreadConnections, connect
from plexm8.store.play_spool import SqlitePlaySpool

__all__ = ["SqliteIndexWriter", "SqliteLibraryStore"]

_TABLES = {ItemKind.ARTIST: "artists", ItemKind.ALBUM: "albums", ItemKind.TRACK: "tracks"}
_TAG_KINDS = ("genre", "style", "mood")

#: The tables a full build empties and loads again (their secondary indexes are built after the load).
_BULK_TABLES = ("artists", "albums", "tracks", "track_files", "item_tags", "item_states", "plays")

_SELECT_STATES = (
    "SELECT rating_key, user_rating, last_rated_at, view_count, last_viewed_at, skip_count"
    " FROM item_states WHERE account = ?"
)
_SELECT_STATES_OF_KEYS = (
    "SELECT rating_key, user_rating, last_rated_at, view_count, last_viewed_at, skip_count"
    " FROM item_states WHERE account = ? AND rating_key IN (SELECT value FROM json_each(?))"
)
_INSERT_ARTIST = "INSERT OR REPLACE INTO artists VALUES (?, ?, ?, ?, ?)"
_INSERT_ALBUM = "INSERT OR REPLACE INTO albums VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
_INSERT_TRACK = "INSERT OR REPLACE INTO tracks VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
_INSERT_TAG = "INSERT OR REPLACE INTO item_tags VALUES (?, ?, ?, ?)"
_INSERT_FILE = "INSERT OR REPLACE INTO track_files VALUES (?, ?, ?)"
_INSERT_STATE = "INSERT OR REPLACE INTO item_states VALUES (?, ?, ?, ?, ?, ?, ?)"


def _is_default(state: ItemState) -> bool:
    return state.user_rating is None and state.view_count == 0 and state.skip_count == 0 and not state.last_viewed_at


_TagRow = tuple[int, str, int, str]
_Tags = tuple[str, ...]


def _tag_rows(rating_key: int, genres: Sequence[str], styles: Sequence[str], moods: Sequence[str]) -> Iterator[_TagRow]:
    for kind, tags in zip(_TAG_KINDS, (genres, styles, moods), strict=True):
        for position, tag in enumerate(tags):
            yield (rating_key, kind, position, tag)


class SqliteIndexWriter:
    """The writes of one refresh of one account; see :class:`plexm8.core.catalog.IndexWriter`."""

    def __init__(self, conn: sqlite3.Connection, account: str) -> None:
        self._conn = conn
        self._account = account
        #: After clear_library() the item tables are known empty, so old tags and files need no deleting.
        self._fresh = False
        #: ``(name, sql)`` of the indexes clear_library() dropped, to build again before committing.
        self._deferred_indexes: list[tuple[str, str]] = []
        self.committed = False

    def clear_library(self) -> None:
        """Forget all library metadata and the account's state and plays (a full build follows).

        The secondary indexes of the bulk-loaded tables are dropped too and built again by :meth:`commit`: one
        sort per index after the load costs half of keeping them up to date row by row. All of it is one
        transaction, so a build that does not commit leaves tables and indexes exactly as they were.
        """
        conn = self._conn
        for table in ("track_files", "item_tags", "tracks", "albums", "artists"):
            conn.execute(f"DELETE FROM {table}")  # noqa: S608 - table names are constants
        conn.execute("DELETE FROM item_states WHERE account = ?", (self._account,))
        conn.execute("DELETE FROM plays WHERE account = ?", (self._account,))
        tables = ", ".join("?" * len(_BULK_TABLES))
        self._deferred_indexes = conn.execute(
            f"SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL AND tbl_name IN ({tables})",  # noqa: S608
            _BULK_TABLES,
        ).fetchall()
        for name, _ in self._deferred_indexes:
            conn.execute(f'DROP INDEX "{name}"')
        self._fresh = True

    def _forget_children(self, keys: Sequence[tuple[object]], *, files: bool) -> None:
        if self._fresh:
            return
        self._conn.executemany("DELETE FROM item_tags WHERE rating_key = ?", keys)
        if files:
            self._conn.executemany("DELETE FROM track_files WHERE rating_key = ?", keys)

    def put_artists(self, records: Sequence[ArtistRecord]) -> None:
        """Insert or replace artists with their tags."""
        self._forget_children([(r.rating_key,) for r in records], files=False)
        self._conn.executemany(
            _INSERT_ARTIST, [(r.rating_key, r.title, r.sort_title, r.added_at, r.updated_at) for r in records]
        )
        self._conn.executemany(
            _INSERT_TAG, [row for r in records for row in _tag_rows(r.rating_key, r.genres, r.styles, r.moods)]
        )

    def put_albums(self, records: Sequence[AlbumRecord]) -> None:
        """Insert or replace albums with their tags."""
        self._forget_children([(r.rating_key,) for r in records], files=False)
        self._conn.executemany(
            _INSERT_ALBUM,
            [
                (r.rating_key, r.artist_key, r.artist_title, r.title, r.year, r.studio, r.added_at, r.updated_at)
                for r in records
            ],
        )
        self._conn.executemany(
            _INSERT_TAG, [row for r in records for row in _tag_rows(r.rating_key, r.genres, r.styles, r.moods)]
        )

    def put_tracks(self, records: Sequence[TrackRecord]) -> None:
        """Insert or replace tracks with their tags and file paths."""
        self._forget_children([(r.rating_key,) for r in records], files=True)
        self._conn.executemany(
            _INSERT_TRACK,
            [
                (
                    r.rating_key,
                    r.album_key,
                    r.artist_key,
                    r.title,
                    r.album_title,
                    r.artist_title,
                    r.track_artist,
                    r.disc_number,
                    r.track_number,
                    r.duration_ms,
                    r.year,
                    r.added_at,
                    r.updated_at,
                )
                for r in records
            ],
        )
        self._conn.executemany(
            _INSERT_FILE, [(r.rating_key, i, path) for r in records for i, path in enumerate(r.file_paths)]
        )
        tags = [
            row
            for r in records
            if r.genres or r.styles or r.moods
            for row in _tag_rows(r.rating_key, r.genres, r.styles, r.moods)
        ]
        if tags:
            self._conn.executemany(_INSERT_TAG, tags)

    def put_rows(self, rows: ItemRows) -> None:
        """Insert or replace a page of items with their tags, files and the account's non-default states."""
        conn = self._conn
        kind = rows.kind
        if not self._fresh:
            keys = [(row[0],) for row in rows.items]
            self._forget_children(keys, files=kind is ItemKind.TRACK)
            conn.executemany(
                "DELETE FROM item_states WHERE account = ? AND rating_key = ?",
                [(self._account, key) for (key,) in keys],
            )
        insert = {ItemKind.TRACK: _INSERT_TRACK, ItemKind.ALBUM: _INSERT_ALBUM, ItemKind.ARTIST: _INSERT_ARTIST}[kind]
        conn.executemany(insert, rows.items)
        if rows.files:
            conn.executemany(_INSERT_FILE, rows.files)
        if rows.tags:
            conn.executemany(_INSERT_TAG, rows.tags)
        account = self._account
        conn.executemany(_INSERT_STATE, [(account, *state) for state in rows.states])

    def put_states(self, states: Sequence[ItemState]) -> None:
        """Insert or replace the account's state of these items (default states are stored as no row)."""
        account = self._account
        keep = [
            (account, s.rating_key, s.user_rating, s.last_rated_at, s.view_count, s.last_viewed_at, s.skip_count)
            for s in states
            if not _is_default(s)
        ]
        if not self._fresh:
            drop = [(account, s.rating_key) for s in states if _is_default(s)]
            self._conn.executemany("DELETE FROM item_states WHERE account = ? AND rating_key = ?", drop)
        self._conn.executemany(_INSERT_STATE, keep)

    def replace_detail_tags(self, keys: Sequence[int], rows: Sequence[TagRow]) -> None:
        """Make the styles and moods of the items ``keys`` exactly those in ``rows`` (their genres stay)."""
        conn = self._conn
        conn.executemany(
            "DELETE FROM item_tags WHERE rating_key = ? AND kind IN ('style', 'mood')", [(key,) for key in keys]
        )
        conn.executemany(_INSERT_TAG, rows)

    def clear_rated(self, keep: Sequence[int]) -> int:
        """Clear the account's rating on every item not in ``keep``; return how many were cleared."""
        conn = self._conn
        conn.execute("CREATE TEMP TABLE IF NOT EXISTS keep_keys (rating_key INTEGER PRIMARY KEY)")
        conn.execute("DELETE FROM keep_keys")
        conn.executemany("INSERT OR IGNORE INTO keep_keys VALUES (?)", [(k,) for k in keep])
        cleared = conn.execute(
            "UPDATE item_states SET user_rating = NULL, last_rated_at = NULL WHERE account = ?"
            " AND user_rating IS NOT NULL AND rating_key NOT IN (SELECT rating_key FROM keep_keys)",
            (self._account,),
        ).rowcount
        conn.execute(
            "DELETE FROM item_states WHERE account = ? AND user_rating IS NULL AND view_count = 0"
            " AND skip_count = 0 AND last_viewed_at IS NULL",
            (self._account,),
        )
        conn.execute("DELETE FROM keep_keys")
        return cleared

    def delete_items(self, kind: ItemKind, keys: Sequence[int]) -> None:
        """Delete these items with their tags, parts and every account's state of them."""
        rows = [(k,) for k in keys]
        conn = self._conn
        conn.executemany("DELETE FROM item_tags WHERE rating_key = ?", rows)
        conn.executemany("DELETE FROM item_states WHERE rating_key = ?", rows)
        if kind is ItemKind.TRACK:
            conn.executemany("DELETE FROM track_files WHERE rating_key = ?", rows)
        conn.executemany(f"DELETE FROM {_TABLES[kind]} WHERE rating_key = ?", rows)  # noqa: S608 - constant names

    def replace_playlists(self, playlists: Sequence[PlaylistRecord], *, keep_items: Sequence[int] = ()) -> None:
        """Make the account's playlists exactly ``playlists``; those in ``keep_items`` keep their stored items."""
        conn, account = self._conn, self._account
        kept = set(keep_items)
        # Items of playlists whose items were re-read (or that are gone) go; the others stay as stored.
        conn.execute("CREATE TEMP TABLE IF NOT EXISTS keep_keys (rating_key INTEGER PRIMARY KEY)")
        conn.execute("DELETE FROM keep_keys")
        conn.executemany("INSERT OR IGNORE INTO keep_keys VALUES (?)", [(k,) for k in kept])
        conn.execute(
            "DELETE FROM playlist_items WHERE account = ? AND playlist_key NOT IN (SELECT rating_key FROM keep_keys)",
            (account,),
        )
        conn.execute("DELETE FROM keep_keys")
        # Upsert rather than replace: deleting a playlist row would cascade to the items kept above.
        conn.executemany("INSERT OR IGNORE INTO keep_keys VALUES (?)", [(p.rating_key,) for p in playlists])
        conn.execute(
            "DELETE FROM playlists WHERE account = ? AND rating_key NOT IN (SELECT rating_key FROM keep_keys)",
            (account,),
        )
        conn.execute("DELETE FROM keep_keys")
        conn.executemany(
            "INSERT INTO playlists VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (account, rating_key) DO UPDATE SET"
            " title = excluded.title, smart = excluded.smart, summary = excluded.summary,"
            " leaf_count = excluded.leaf_count, duration_ms = excluded.duration_ms, added_at = excluded.added_at,"
            " updated_at = excluded.updated_at",
            [
                (
                    account,
                    p.rating_key,
                    p.title,
                    int(p.smart),
                    p.summary,
                    p.leaf_count,
                    p.duration_ms,
                    p.added_at,
                    p.updated_at,
                )
                for p in playlists
            ],
        )
        conn.executemany(
            "INSERT INTO playlist_items VALUES (?, ?, ?, ?, ?)",
            [
                (account, p.rating_key, position, item.rating_key, item.playlist_item_id)
                for p in playlists
                if p.rating_key not in kept
                for position, item in enumerate(p.items)
            ],
        )

    def add_plays(self, plays: Sequence[PlayRecord]) -> int:
        """Record plays not recorded yet (by history id); return how many were new."""
        return self.add_play_rows(
            [(p.history_id, p.rating_key, p.viewed_at, p.plex_account_id, p.device_id) for p in plays]
        )

    def add_play_rows(self, plays: Sequence[PlayRow]) -> int:
        """:meth:`add_plays` for plain rows (the fields of PlayRecord, in order)."""
        account = self._account
        # In key order, each row lands next to the previous one in the table's b-tree (history comes newest first).
        return self._conn.executemany(
            "INSERT OR IGNORE INTO plays VALUES (?, ?, ?, ?, ?, ?)", [(account, *play) for play in sorted(plays)]
        ).rowcount

    def add_spooled_plays(self, spool: PlaySpool) -> tuple[int, int]:
        """Record the plays of a :class:`SqlitePlaySpool` not recorded yet; return how many were new and the latest
        ``viewed_at`` it holds.

        The spool file is attached and its plays copied in one statement, which SQLite runs in C (the connection
        closes, detaching it, when the refresh ends).
        """
        if not isinstance(spool, SqlitePlaySpool):
            raise TypeError(f"not a spool of this store: {spool!r}")
        path, _, high = spool.finish()
        conn = self._conn
        conn.execute("ATTACH DATABASE ? AS spool", (str(path),))
        added = conn.execute(
            "INSERT OR IGNORE INTO plays SELECT ?, history_id, rating_key, viewed_at, plex_account_id, device_id"
            " FROM spool.plays ORDER BY history_id",
            (self._account,),
        ).rowcount
        return added, high

    def set_cursor(self, cursor: RefreshCursor) -> None:
        """Record where this refresh leaves off (part of the same transaction)."""
        payload = json.dumps(
            {
                "updated_at": cursor.updated_at,
                "last_rated_at": cursor.last_rated_at,
                "last_viewed_at": cursor.last_viewed_at,
                "history_viewed_at": cursor.history_viewed_at,
            }
        )
        self._conn.execute(
            "UPDATE accounts SET section_id = ?, section_uuid = ?, cursor = ?, refreshed_at = ? WHERE account = ?",
            (cursor.section_id, cursor.section_uuid, payload, cursor.refreshed_at, self._account),
        )

    def commit(self) -> None:
        """Make every write of this refresh visible at once (after building any index a full build dropped)."""
        for _, sql in self._deferred_indexes:
            self._conn.execute(sql)
        self._deferred_indexes = []
        self._conn.execute("COMMIT")
        self.committed = True


#: Page size of a new index database. A full build's commit writes every page of the index to the WAL, one
#: write per page: 16 KiB pages make a quarter of the writes of SQLite's default 4 KiB.
_PAGE_SIZE = 16_384


def _create_with_page_size(path: Path) -> None:
    """Create the database file with :data:`_PAGE_SIZE` pages if it does not exist yet.

    A page size only takes effect before the first write (the WAL mode switch writes the header), and a database in
    WAL mode can never change it, so this must happen before anything else opens the file. An existing database is
    left as it is, as is a path whose directory does not exist (opening it fails later, as before).
    """
    if path.exists() or not path.parent.is_dir():
        return
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute(f"PRAGMA page_size = {_PAGE_SIZE}")
        conn.execute("PRAGMA journal_mode = WAL")
    finally:
        conn.close()


class SqliteLibraryStore:
    """The index database at ``path`` (the file created now if missing, migrated on first use)."""

    def __init__(self, path: str | Path) -> None:
        _create_with_page_size(Path(path))
        self._connections = ThreadConnections(path)
        self._conn = self._connections.get
        self._open = self._connections.open

    @property
    def path(self) -> Path:
        """Where the database file is."""
        return self._connections.path

    def close(self) -> None:
        """Close this thread's read connection (others close when their threads end)."""
        self._connections.close()

    def spool_plays(self, source: PlaySource) -> SqlitePlaySpool:
        """Start reading ``source`` in a worker process into a spool file beside the index (see play_spool)."""
        return SqlitePlaySpool(source, self.path.parent)

    @contextmanager
    def refresh(self, account: str) -> Iterator[SqliteIndexWriter]:
        """A writer for one refresh of ``account`` in one transaction; rolled back unless ``commit()`` is called."""
        conn = self._open()
        # A bulk load holds many pages in memory before they reach the WAL; a larger cache avoids spilling.
        conn.execute("PRAGMA cache_size = -131072")
        # The writer keeps children consistent itself (it deletes an item's tags, files and states with the item and
        # inserts them from the same listing row), so the per-row foreign-key lookups, about a third of the time
        # inserting files, states and plays takes, check nothing it could get wrong. Only this connection is affected.
        conn.execute("PRAGMA foreign_keys = OFF")
        # Likewise the CHECK on a tag's kind: the writer's kinds are its own constants, and SQLite evaluates that
        # IN list by building a lookup table for every inserted row, which costs more than inserting the row.
        conn.execute("PRAGMA ignore_check_constraints = ON")
        # The commit's automatic checkpoint would copy the whole refresh from the WAL into the database file before
        # the refresh returns; a thread does it after the commit instead (see _checkpoint_soon).
        conn.execute("PRAGMA wal_autocheckpoint = 0")
        writer = SqliteIndexWriter(conn, account)
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(
                "INSERT OR IGNORE INTO accounts VALUES (?, 0, '', '{}', 0)",
                (account,),
            )
            yield writer
        finally:
            try:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
            finally:
                conn.close()
                if writer.committed:
                    self._checkpoint_soon()

    def _checkpoint_soon(self) -> None:
        """Copy committed pages from the WAL into the database file in a background thread.

        The refresh is committed (and durable) once it is in the WAL; the checkpoint only keeps the WAL short. It is
        safe to interrupt: an unfinished checkpoint is redone by the next one, which SQLite also runs when the last
        connection closes.
        """

        def run() -> None:
            try:
                conn = connect(self.path)
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
                finally:
                    conn.close()
            except sqlite3.Error:
                # Nothing is lost: the pages stay in the WAL, readable, until a later checkpoint copies them.
                return

        threading.Thread(target=run, name="plexm8-checkpoint", daemon=True).start()

    def cursor(self, account: str) -> RefreshCursor | None:
        """Where the account's last committed refresh left off; ``None`` before the first."""
        row = (
            self._conn()
            .execute(
                "SELECT section_id, section_uuid, cursor, refreshed_at FROM accounts"
                " WHERE account = ? AND refreshed_at > 0",
                (account,),
            )
            .fetchone()
        )
        if row is None:
            return None
        data = json.loads(row[2])
        return RefreshCursor(
            section_id=row[0],
            section_uuid=row[1],
            updated_at={str(k): int(v) for k, v in data.get("updated_at", {}).items()},
            last_rated_at=int(data.get("last_rated_at", 0)),
            last_viewed_at=int(data.get("last_viewed_at", 0)),
            history_viewed_at=int(data.get("history_viewed_at", 0)),
            refreshed_at=row[3],
        )

    def item_keys(self, kind: ItemKind) -> list[int]:
        """Sorted rating keys of the indexed items of ``kind``."""
        rows = self._conn().execute(f"SELECT rating_key FROM {_TABLES[kind]} ORDER BY rating_key")  # noqa: S608
        return [r[0] for r in rows]

    def counts(self, account: str) -> IndexCounts:
        """What the index holds for one account."""
        conn = self._conn()

        def one(sql: str, *args: object) -> int:
            return int(conn.execute(sql, args).fetchone()[0] or 0)

        refreshed = conn.execute(
            "SELECT refreshed_at FROM accounts WHERE account = ? AND refreshed_at > 0", (account,)
        ).fetchone()
        track_states = "FROM item_states s JOIN tracks t USING (rating_key) WHERE s.account = ?"
        return IndexCounts(
            artists=one("SELECT COUNT(*) FROM artists"),
            albums=one("SELECT COUNT(*) FROM albums"),
            tracks=one("SELECT COUNT(*) FROM tracks"),
            rated_tracks=one(f"SELECT COUNT(*) {track_states} AND s.user_rating IS NOT NULL", account),
            played_tracks=one(f"SELECT COUNT(*) {track_states} AND s.view_count > 0", account),
            playlists=one("SELECT COUNT(*) FROM playlists WHERE account = ?", account),
            plays=one("SELECT COUNT(*) FROM plays WHERE account = ?", account),
            refreshed_at=refreshed[0] if refreshed else None,
        )

    # --- reads for the services ----------------------------------------------------------------------------

    def _tags(self, keys: Iterable[int] | None = None) -> dict[int, dict[str, list[str]]]:
        rows = self._conn().execute("SELECT rating_key, kind, tag FROM item_tags ORDER BY rating_key, kind, position")
        wanted = set(keys) if keys is not None else None
        tags: dict[int, dict[str, list[str]]] = {}
        for key, kind, tag in rows:
            if wanted is None or key in wanted:
                tags.setdefault(key, {}).setdefault(kind, []).append(tag)
        return tags

    def item_tags(self, keys: Collection[int] | None = None) -> dict[int, ItemTags]:
        """Genres, styles and moods by rating key (of ``keys`` only, if given); items without any are absent.

        Artists, albums and tracks share one rating-key space. What a listing carries is what is indexed: genres
        of artists and albums (Plex's track rows carry none; a track's genre is its album's or artist's).
        """
        sql = "SELECT rating_key, kind, tag FROM item_tags"
        args: tuple[object, ...] = ()
        if keys is not None:
            sql += " WHERE rating_key IN (SELECT value FROM json_each(?))"
            args = (json.dumps(list(keys)),)
        grouped: dict[int, dict[str, list[str]]] = {}
        for key, kind, tag in self._conn().execute(sql + " ORDER BY rating_key, kind, position", args):
            grouped.setdefault(key, {}).setdefault(kind, []).append(tag)
        return {
            key: ItemTags(tuple(by.get("genre", ())), tuple(by.get("style", ())), tuple(by.get("mood", ())))
            for key, by in grouped.items()
        }

    def artists(self) -> list[ArtistRecord]:
        """Every indexed artist, by rating key."""
        tags = self._tags()
        out = []
        for key, title, sort_title, added_at, updated_at in self._conn().execute(
            "SELECT * FROM artists ORDER BY rating_key"
        ):
            genres, styles, moods = self._tag_tuple(tags, key)
            out.append(ArtistRecord(key, title, sort_title, genres, styles, moods, added_at, updated_at))
        return out

    @staticmethod
    def _tag_tuple(tags: dict[int, dict[str, list[str]]], key: int) -> tuple[_Tags, _Tags, _Tags]:
        mine = tags.get(key, {})
        return tuple(mine.get("genre", ())), tuple(mine.get("style", ())), tuple(mine.get("mood", ()))

    def albums(self) -> list[AlbumRecord]:
        """Every indexed album, by rating key."""
        tags = self._tags()
        out = []
        for key, artist_key, artist_title, title, year, studio, added_at, updated_at in self._conn().execute(
            "SELECT * FROM albums ORDER BY rating_key"
        ):
            genres, styles, moods = self._tag_tuple(tags, key)
            out.append(
                AlbumRecord(
                    key, artist_key, artist_title, title, year, studio, genres, styles, moods, added_at, updated_at
                )
            )
        return out

    def tracks(self) -> list[TrackRecord]:
        """Every indexed track, by rating key."""
        conn = self._conn()
        tags = self._tags()
        files: dict[int, list[str]] = {}
        for key, path in conn.execute("SELECT rating_key, path FROM track_files ORDER BY rating_key, position"):
            files.setdefault(key, []).append(path)
        out = []
        for row in conn.execute("SELECT * FROM tracks ORDER BY rating_key"):
            key = row[0]
            genres, styles, moods = self._tag_tuple(tags, key)
            out.append(
                TrackRecord(
                    rating_key=key,
                    album_key=row[1],
                    artist_key=row[2],
                    title=row[3],
                    album_title=row[4],
                    artist_title=row[5],
                    track_artist=row[6],
                    disc_number=row[7],
                    track_number=row[8],
                    duration_ms=row[9],
                    year=row[10],
                    genres=genres,
                    styles=styles,
                    moods=moods,
                    file_paths=tuple(files.get(key, ())),
                    added_at=row[11],
                    updated_at=row[12],
                )
            )
        return out

    def states(self, account: str, keys: Collection[int] | None = None) -> dict[int, ItemState]:
        """The account's non-default item states by rating key (a missing key: unrated and never played).

        ``keys`` limits the answer to those items (an incremental refresh compares only what it read).
        """
        if keys is None:
            rows = self._conn().execute(_SELECT_STATES, (account,))
        else:
            rows = self._conn().execute(
                _SELECT_STATES_OF_KEYS,
                (account, json.dumps(list(keys))),
            )
        return {row[0]: ItemState(*row) for row in rows}

    def rated_keys(self, account: str) -> set[int]:
        """The rating keys of every item the account has rated."""
        rows = self._conn().execute(
            "SELECT rating_key FROM item_states WHERE account = ? AND user_rating IS NOT NULL", (account,)
        )
        return {row[0] for row in rows}

    def playlists(self, account: str) -> list[PlaylistRecord]:
        """The account's indexed playlists with their items, by rating key."""
        conn = self._conn()
        items: dict[int, list[PlaylistItem]] = {}
        for key, rating_key, item_id in conn.execute(
            "SELECT playlist_key, rating_key, playlist_item_id FROM playlist_items WHERE account = ?"
            " ORDER BY playlist_key, position",
            (account,),
        ):
            items.setdefault(key, []).append(PlaylistItem(rating_key, item_id))
        return [
            PlaylistRecord(
                rating_key=row[0],
                title=row[1],
                smart=bool(row[2]),
                summary=row[3],
                leaf_count=row[4],
                duration_ms=row[5],
                added_at=row[6],
                updated_at=row[7],
                items=tuple(items.get(row[0], ())),
            )
            for row in conn.execute(
                "SELECT rating_key, title, smart, summary, leaf_count, duration_ms, added_at, updated_at"
                " FROM playlists WHERE account = ? ORDER BY rating_key",
                (account,),
            )
        ]

    def plays(self, account: str) -> list[PlayRecord]:
        """The account's recorded plays, by history id."""
        rows = self._conn().execute(
            "SELECT history_id, rating_key, viewed_at, plex_account_id, device_id FROM plays WHERE account = ?"
            " ORDER BY history_id",
            (account,),
        )
        return [PlayRecord(*row) for row in rows]
