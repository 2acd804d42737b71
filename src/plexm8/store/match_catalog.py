"""The matcher's view of the SQLite index: an account's tracks with their file paths, and remembered matches."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Sequence
from pathlib import Path

from plexm8.core.matcher import CatalogTrack, MatchCatalog, memory_key
from plexm8.core.matching import Match
from plexm8.errors import NotFound
from plexm8.store.database import ThreadConnections

__all__ = ["SqliteMatchCatalog"]

_TRACKS = (
    "SELECT rating_key, title, artist_title, track_artist, album_title, disc_number, track_number, duration_ms"
    " FROM tracks ORDER BY rating_key"
)
_FILES = "SELECT rating_key, path FROM track_files ORDER BY rating_key, position"


class SqliteMatchCatalog:
    """Loads :class:`MatchCatalog` s from the index database at ``path`` and keeps remembered matches in it.

    Implements :class:`plexm8.core.matcher.MatchCatalogStore`.
    """

    def __init__(self, path: str | Path) -> None:
        self._connections = ThreadConnections(path)

    def close(self) -> None:
        """Close this thread's connection."""
        self._connections.close()

    def _require_index(self, conn: sqlite3.Connection, account: str) -> None:
        row = conn.execute("SELECT 1 FROM accounts WHERE account = ? AND refreshed_at > 0", (account,)).fetchone()
        if row is None:
            raise NotFound(f"account {account!r} has no library index yet; refresh the index first")

    def load(self, account: str) -> MatchCatalog:
        """Every indexed track with its files' paths, read in one transaction (a refresh may be writing)."""
        conn = self._connections.get()
        conn.execute("BEGIN")
        try:
            self._require_index(conn, account)
            paths: dict[int, list[str]] = {}
            for key, path in conn.execute(_FILES):
                entry = paths.get(key)
                if entry is None:
                    paths[key] = [path]
                else:
                    entry.append(path)
            rows = conn.execute(_TRACKS).fetchall()
        finally:
            conn.execute("COMMIT")
        no_paths: tuple[str, ...] = ()
        return MatchCatalog(
            CatalogTrack(
                key, title, artist, track_artist, album, disc, number, duration, tuple(paths.get(key, no_paths))
            )
            for key, title, artist, track_artist, album, disc, number, duration in rows
        )

    def remembered(self, account: str, source_kind: str) -> dict[str, int]:
        """Rating keys remembered for this account and source kind, by :func:`plexm8.core.matcher.memory_key`."""
        rows = self._connections.get().execute(
            "SELECT source_key, rating_key FROM match_memory WHERE account = ? AND source_kind = ?",
            (account, source_kind),
        )
        return dict(rows.fetchall())

    def remember(self, account: str, source_kind: str, matches: Sequence[Match]) -> None:
        """Store these matches (all or none), replacing what was remembered for the same source tracks.

        Source tracks with neither an id nor a location cannot be recognised again and are not stored.
        """
        now = int(time.time())
        rows = []
        for match in matches:
            key = memory_key(match.source)
            if key is not None:
                rows.append((account, source_kind, key, match.rating_key, match.method.value, now))
        conn = self._connections.get()
        conn.execute("BEGIN IMMEDIATE")
        try:
            self._require_index(conn, account)
            conn.executemany("INSERT OR REPLACE INTO match_memory VALUES (?, ?, ?, ?, ?, ?)", rows)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
