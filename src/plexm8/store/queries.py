"""Reads of the local index for the API (top rated, browse and search) and the write a new rating needs.

:class:`SqliteLibraryQueries` implements the TrackIndex port over the database :class:`SqliteLibraryStore` fills,
with its own connection per thread (WAL: reads never wait for a refresh in progress). Each answer is one SQL
query shaped to use an index: top rated walks ``item_states_top_rated`` in order and stops at the limit.
:meth:`SqliteLibraryQueries.generation` tells callers that cache answers when the data may have changed.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Collection, Sequence
from pathlib import Path

from plexm8.core.tracks import SortOrder, TrackPage, TrackQuery, TrackSort, TrackView, fold_text
from plexm8.store.database import ThreadConnections

__all__ = ["SqliteLibraryQueries"]

#: What a TrackView is read from, each with the name it has in the subquery top rated packs into one JSON array.
_VIEW_FIELDS = (
    ("t.rating_key", "rating_key"),
    ("t.title", "title"),
    ("coalesce(t.track_artist, t.artist_title)", "artist"),
    ("t.album_title", "album"),
    ("t.duration_ms", "duration_ms"),
    ("t.year", "year"),
    ("s.user_rating", "user_rating"),
    ("s.last_rated_at", "last_rated_at"),
    ("coalesce(s.view_count, 0)", "view_count"),
    ("s.last_viewed_at", "last_viewed_at"),
    ("t.added_at", "added_at"),
)
_VIEW_COLUMNS = ", ".join(column for column, _ in _VIEW_FIELDS)
_VIEW_COLUMNS_NAMED = ", ".join(f"{column} AS {name}" for column, name in _VIEW_FIELDS)
_PACKED_COLUMNS = ", ".join(name for _, name in _VIEW_FIELDS)

_ARTIST = "coalesce(t.track_artist, t.artist_title)"
_SORT_KEYS: dict[TrackSort, tuple[str, ...]] = {
    TrackSort.TITLE: ("t.title COLLATE NOCASE",),
    TrackSort.ARTIST: (f"{_ARTIST} COLLATE NOCASE", "t.album_title COLLATE NOCASE", "t.disc_number", "t.track_number"),
    TrackSort.ALBUM: ("t.album_title COLLATE NOCASE", "t.disc_number", "t.track_number"),
    TrackSort.RATING: ("s.user_rating", "s.last_rated_at"),
    TrackSort.ADDED: ("t.added_at",),
    TrackSort.PLAYED: ("s.last_viewed_at",),
    TrackSort.PLAYS: ("coalesce(s.view_count, 0)",),
}


def _view(row: Sequence[object]) -> TrackView:
    return TrackView(*row)  # type: ignore[arg-type]


def _top_rated_order(view: TrackView) -> tuple[float, bool, int, int]:
    rated_at = view.last_rated_at
    return (-(view.user_rating or 0.0), rated_at is None, -(rated_at or 0), view.rating_key)


def _like_pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class SqliteLibraryQueries:
    """The API's queries over the index database at ``path`` (migrated on first use)."""

    def __init__(self, path: str | Path) -> None:
        self._connections = ThreadConnections(path)
        self._conn = self._connections.get
        #: Per thread: the ``PRAGMA data_version`` its connection last reported (see :meth:`generation`).
        self._local = threading.local()
        self._search_lock = threading.Lock()
        self._generation_lock = threading.Lock()
        self._data_generation = 0

    def generation(self) -> int:
        """A counter that moves on whenever the database may have changed (a commit by any connection or process).

        Read it before a query: the answer stays current for as long as ``generation()`` returns the same value.
        """
        # PRAGMA data_version changes on a connection when *another* connection commits (a refresh, another
        # process, another thread's rating write); this connection's own writes bump the counter in record_rating.
        # Every thread's connection sees a foreign commit, so the first to look after it moves the counter on.
        local = self._local
        conn = self._conn()
        version = conn.execute("PRAGMA data_version").fetchone()[0]
        if getattr(local, "data_version", None) != version:
            local.data_version = version
            self._bump_generation()
        return self._data_generation

    def _bump_generation(self) -> None:
        with self._generation_lock:
            self._data_generation += 1

    def close(self) -> None:
        """Close this thread's connection (others close when their threads end)."""
        self._connections.close()

    def top_rated(self, account: str, *, min_rating: float, limit: int) -> list[TrackView]:
        """The account's tracks rated at least ``min_rating``, highest first, then most recently rated."""
        # One row holding every track as JSON: sqlite3 releases the GIL around each row step, and under concurrent
        # requests every re-acquisition can wait a whole switch interval, so 50 rows cost far more than 50 steps.
        (packed,) = (
            self._conn()
            .execute(
                f"SELECT json_group_array(json_array({_PACKED_COLUMNS})) FROM ("  # noqa: S608
                f"SELECT {_VIEW_COLUMNS_NAMED} FROM item_states s JOIN tracks t ON t.rating_key = s.rating_key"
                " WHERE s.account = ? AND s.user_rating IS NOT NULL AND s.user_rating >= ?"
                " ORDER BY s.user_rating DESC, s.last_rated_at DESC, s.rating_key LIMIT ?)",
                (account, min_rating, limit),
            )
            .fetchone()
        )
        views = [_view(row) for row in json.loads(packed)]
        # The aggregate's element order is not guaranteed by SQLite, so the order is restored here (NULL sorts
        # last under DESC in SQLite, as in the query).
        views.sort(key=_top_rated_order)
        return views

    def top_rated_ranking(self, account: str, *, min_rating: float, limit: int) -> list[tuple[int, float]]:
        """``(rating_key, user_rating)`` of what :meth:`top_rated` lists, in its order, from the index alone.

        A covering walk of at most ``limit`` entries of ``item_states_top_rated`` (the join only checks that the
        track is indexed): several times cheaper than reading the tracks' rows, for callers that keep what they
        made of the rows. The list is sorted by rating, so the first ``n`` entries rated at least ``r`` are also
        the answer for ``min_rating=r, limit=n`` whenever ``r >= min_rating`` and ``n <= limit``.
        """
        (packed,) = (
            self._conn()
            .execute(
                "SELECT json_group_array(json_array(rating_key, user_rating, last_rated_at)) FROM ("
                "SELECT s.rating_key, s.user_rating, s.last_rated_at FROM item_states s"
                " JOIN tracks t ON t.rating_key = s.rating_key"
                " WHERE s.account = ? AND s.user_rating IS NOT NULL AND s.user_rating >= ?"
                " ORDER BY s.user_rating DESC, s.last_rated_at DESC, s.rating_key LIMIT ?)",
                (account, min_rating, limit),
            )
            .fetchone()
        )
        rows: list[tuple[int, float, int | None]] = [tuple(row) for row in json.loads(packed)]
        # As in top_rated: the aggregate's element order is not guaranteed, so the order is restored here.
        rows.sort(key=lambda row: (-row[1], row[2] is None, -(row[2] or 0), row[0]))
        return [(row[0], float(row[1])) for row in rows]

    def track_views(self, account: str, rating_keys: Collection[int]) -> dict[int, TrackView]:
        """The indexed tracks among ``rating_keys`` with the account's state, by rating key (unknown keys left out)."""
        if not rating_keys:
            return {}
        (packed,) = (
            self._conn()
            .execute(
                f"SELECT json_group_array(json_array({_VIEW_COLUMNS})) FROM tracks t"  # noqa: S608
                " LEFT JOIN item_states s ON s.account = ? AND s.rating_key = t.rating_key"
                " WHERE t.rating_key IN (SELECT value FROM json_each(?))",
                (account, json.dumps(list(rating_keys))),
            )
            .fetchone()
        )
        views = (_view(row) for row in json.loads(packed))
        return {view.rating_key: view for view in views}

    def track(self, account: str, rating_key: int) -> TrackView | None:
        """One indexed track with the account's state, or ``None`` when the index does not have it."""
        row = (
            self._conn()
            .execute(
                f"SELECT {_VIEW_COLUMNS} FROM tracks t"  # noqa: S608
                " LEFT JOIN item_states s ON s.account = ? AND s.rating_key = t.rating_key WHERE t.rating_key = ?",
                (account, rating_key),
            )
            .fetchone()
        )
        return _view(row) if row else None

    def find_tracks(self, account: str, query: TrackQuery) -> TrackPage:
        """One page of the indexed tracks matching ``query``, with the account's state, and the number matching."""
        where: list[str] = []
        args: list[object] = [account]
        words = fold_text(query.text or "").split()
        if words:
            # Every word must appear somewhere in title, artist or album: "radiohead creep" finds the song.
            self._sync_search()
            matches = " AND ".join(["folded LIKE ? ESCAPE '\\'"] * len(words))
            where.append(f"t.rating_key IN (SELECT rating_key FROM track_search WHERE {matches})")  # noqa: S608
            args += [_like_pattern(word) for word in words]
        if query.artist is not None:
            where.append("(t.artist_title = ? COLLATE NOCASE OR t.track_artist = ? COLLATE NOCASE)")
            args += [query.artist, query.artist]
        if query.album is not None:
            where.append("t.album_title = ? COLLATE NOCASE")
            args.append(query.album)
        if query.rated is True:
            where.append("s.user_rating IS NOT NULL")
        elif query.rated is False:
            where.append("s.user_rating IS NULL")
        if query.min_rating is not None:
            where.append("s.user_rating >= ?")
            args.append(query.min_rating)
        sql_from = " FROM tracks t LEFT JOIN item_states s ON s.account = ? AND s.rating_key = t.rating_key" + (
            " WHERE " + " AND ".join(where) if where else ""
        )
        direction = "DESC" if query.order is SortOrder.DESC else "ASC"
        order = ", ".join(f"{key} {direction} NULLS LAST" for key in _SORT_KEYS[query.sort])
        conn = self._conn()
        total = int(conn.execute("SELECT COUNT(*)" + sql_from, args).fetchone()[0])
        rows = conn.execute(
            f"SELECT {_VIEW_COLUMNS}{sql_from} ORDER BY {order}, t.rating_key {direction} LIMIT ? OFFSET ?",
            [*args, query.limit, query.offset],
        )
        return TrackPage(items=tuple(_view(row) for row in rows), total=total, limit=query.limit, offset=query.offset)

    def record_rating(self, account: str, rating_key: int, user_rating: float | None, rated_at: int | None) -> None:
        """Store a rating just written to Plex; does nothing for an account that has no index yet."""
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute(
                "INSERT INTO item_states (account, rating_key, user_rating, last_rated_at)"
                " SELECT ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM accounts WHERE account = ?)"
                " ON CONFLICT (account, rating_key) DO UPDATE"
                " SET user_rating = excluded.user_rating, last_rated_at = excluded.last_rated_at",
                (account, rating_key, user_rating, rated_at if user_rating is not None else None, account),
            )
            # Only non-default states are stored (see the schema): a cleared, never played item has no row.
            conn.execute(
                "DELETE FROM item_states WHERE account = ? AND rating_key = ? AND user_rating IS NULL"
                " AND view_count = 0 AND skip_count = 0 AND last_viewed_at IS NULL",
                (account, rating_key),
            )
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        finally:
            # Also after a failure: a commit may have happened before it surfaced; a spare bump only costs a miss.
            self._bump_generation()

    # --- the folded search table ---------------------------------------------------------------------------

    def _generation(self, conn: sqlite3.Connection) -> str:
        """Changes whenever a refresh commits (each sets its account's refreshed_at) or tracks come and go."""
        refreshed, accounts = conn.execute("SELECT total(refreshed_at), COUNT(*) FROM accounts").fetchone()
        tracks = conn.execute("SELECT COUNT(*) FROM tracks").fetchone()[0]
        return f"{refreshed:.0f}:{accounts}:{tracks}"

    def _sync_search(self) -> None:
        """Bring ``track_search`` in step with ``tracks`` if a refresh committed since it was last synced."""
        conn = self._conn()
        generation = self._generation(conn)
        row = conn.execute("SELECT generation FROM track_search_state WHERE id = 1").fetchone()
        if row is not None and row[0] == generation:
            return
        with self._search_lock:
            conn.execute("BEGIN IMMEDIATE")
            try:
                generation = self._generation(conn)
                stale = conn.execute(
                    "SELECT t.rating_key, t.updated_at, t.title, t.artist_title, t.track_artist, t.album_title"
                    " FROM tracks t LEFT JOIN track_search f ON f.rating_key = t.rating_key"
                    " WHERE f.rating_key IS NULL OR f.updated_at IS NOT t.updated_at"
                ).fetchall()
                conn.executemany(
                    "INSERT OR REPLACE INTO track_search VALUES (?, ?, ?)",
                    [
                        (key, updated_at, fold_text(" ".join(part or "" for part in parts)))
                        for key, updated_at, *parts in stale
                    ],
                )
                conn.execute("DELETE FROM track_search WHERE rating_key NOT IN (SELECT rating_key FROM tracks)")
                conn.execute("INSERT OR REPLACE INTO track_search_state VALUES (1, ?)", (generation,))
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            finally:
                self._bump_generation()
