"""The tag scan cache: what was read from each audio file, keyed by path, valid while its mtime and size hold.

It lives in its own SQLite file (``tagscan.sqlite``) with its own migrations: it is a disposable cache, so
deleting the file only costs one full re-scan, and a scan never contends with an index refresh's write lock.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path

from plexm8.core.ratings import Rating
from plexm8.core.sources import RatingScale, SourceRating, SourceTrack
from plexm8.store.database import connect
from plexm8.store.migrations import Migration, migrate

__all__ = ["TAG_CACHE_FILE", "TAG_CACHE_MIGRATIONS", "TagCache", "decode_track", "encode_track"]

#: The cache's file name inside the data directory.
TAG_CACHE_FILE = "tagscan.sqlite"


def _create_tag_files(conn: sqlite3.Connection) -> None:
    conn.execute(
        """
        CREATE TABLE tag_files (
            path     TEXT PRIMARY KEY,
            mtime_ns INTEGER NOT NULL,
            size     INTEGER NOT NULL,
            version  INTEGER NOT NULL,
            record   TEXT NOT NULL
        )
        """
    )


#: Every migration of the tag scan cache, in order. Append only.
TAG_CACHE_MIGRATIONS: tuple[Migration, ...] = (Migration(1, "create_tag_files", _create_tag_files),)

_RATING_FIELDS = ("rating", "album_rating")
_TEXT_FIELDS = ("source_id", "location", "title", "artist", "album_artist", "album")
_INT_FIELDS = ("disc_number", "track_number", "duration_ms", "year", "play_count", "last_played")


def _encode_rating(rating: SourceRating | None) -> list[object] | None:
    return None if rating is None else [rating.scale.value, rating.raw, rating.plex.value]


def _decode_rating(value: object) -> SourceRating | None:
    if not isinstance(value, list) or len(value) != 3:  # [scale, raw, plex]
        return None
    scale, raw, plex = value
    return SourceRating(scale=RatingScale(scale), raw=float(raw), plex=Rating(plex))


def encode_track(track: SourceTrack) -> str:
    """``track`` as the JSON text the cache stores (the ordinal is not stored: it is the scan's, not the file's)."""
    record: dict[str, object] = {name: getattr(track, name) for name in (*_TEXT_FIELDS, *_INT_FIELDS)}
    for name in _RATING_FIELDS:
        record[name] = _encode_rating(getattr(track, name))
    record["loved"] = track.loved
    record["disliked"] = track.disliked
    return json.dumps(record, ensure_ascii=False, separators=(",", ":"))


def decode_track(text: str, ordinal: int = 0) -> SourceTrack:
    """The track :func:`encode_track` stored, at ``ordinal``; raises ValueError for a record it did not write."""
    record = json.loads(text)
    if not isinstance(record, dict):
        raise ValueError("a cached tag record is a JSON object")
    texts = {name: record.get(name) if isinstance(record.get(name), str) else None for name in _TEXT_FIELDS}
    numbers = {name: record.get(name) if isinstance(record.get(name), int) else None for name in _INT_FIELDS}
    return SourceTrack(
        ordinal=ordinal,
        rating=_decode_rating(record.get("rating")),
        album_rating=_decode_rating(record.get("album_rating")),
        loved=record.get("loved") is True,
        disliked=record.get("disliked") is True,
        **texts,
        **numbers,
    )


class TagCache:
    """The tag scan cache at ``path`` (created and migrated on open); a :class:`~plexm8.core.ports.TagScanCache`."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._conn = connect(self.path)
        self._lock = threading.Lock()
        try:
            migrate(self._conn, TAG_CACHE_MIGRATIONS)
        except BaseException:
            self._conn.close()
            raise

    def lookup(self, path: str, mtime_ns: int, size: int, version: int) -> SourceTrack | None:
        """The record last read from ``path`` when it still has this mtime and size and reader version."""
        with self._lock:
            row = self._conn.execute(
                "SELECT record FROM tag_files WHERE path = ? AND mtime_ns = ? AND size = ? AND version = ?",
                (path, mtime_ns, size, version),
            ).fetchone()
        if row is None:
            return None
        try:
            return decode_track(row[0])
        except (ValueError, TypeError):
            return None  # an unreadable row is a cache miss: the file is simply read again

    def remember(self, entries: Sequence[tuple[str, int, int, int, SourceTrack]]) -> None:
        """Store ``(path, mtime_ns, size, version, track)`` entries in one transaction, replacing older ones."""
        rows = [(path, mtime, size, version, encode_track(track)) for path, mtime, size, version, track in entries]
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._conn.executemany(
                    "INSERT OR REPLACE INTO tag_files (path, mtime_ns, size, version, record) VALUES (?, ?, ?, ?, ?)",
                    rows,
                )
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def forget_except(self, root: str, keep: set[str]) -> int:
        """Drop the entries under folder ``root`` whose path is not in ``keep`` (files gone); return how many."""
        prefix = root.rstrip("/") + "/"
        # A range on the primary key instead of LIKE, which would treat "_" and "%" in folder names as wildcards.
        upper = prefix[:-1] + chr(ord("/") + 1)
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                stale = [
                    (path,)
                    for (path,) in self._conn.execute(
                        "SELECT path FROM tag_files WHERE path >= ? AND path < ?", (prefix, upper)
                    )
                    if path not in keep
                ]
                self._conn.executemany("DELETE FROM tag_files WHERE path = ?", stale)
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")
        return len(stale)

    def count(self) -> int:
        """How many files the cache holds."""
        with self._lock:
            return int(self._conn.execute("SELECT COUNT(*) FROM tag_files").fetchone()[0])

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._conn.close()
