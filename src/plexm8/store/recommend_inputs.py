"""Bulk reads of the index for recommendation models: :class:`SqliteRecommendationInputs` (RecommendationInputs port).

A model build reads the whole library and one account's evidence once, so every method is one plain query that
streams rows in index order; the per-query reads (:meth:`~SqliteRecommendationInputs.track_views`) take a
handful of keys and use the primary keys. Each thread gets its own connection (WAL: a refresh in progress never
blocks these reads, they see the last committed index).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path

from plexm8.core.ports import SignalTrackRow
from plexm8.core.tracks import TrackView
from plexm8.store.database import ThreadConnections

__all__ = ["SqliteRecommendationInputs"]

_VIEW_COLUMNS = (
    "t.rating_key, t.title, coalesce(t.track_artist, t.artist_title), t.album_title, t.duration_ms, t.year,"
    " s.user_rating, s.last_rated_at, coalesce(s.view_count, 0), s.last_viewed_at, t.added_at"
)


class SqliteRecommendationInputs:
    """The recommendation inputs held by the index database at ``path`` (migrated on first use)."""

    def __init__(self, path: str | Path) -> None:
        self._connections = ThreadConnections(path)
        self._conn = self._connections.get

    def close(self) -> None:
        """Close this thread's connection (others close when their threads end)."""
        self._connections.close()

    def signature(self, account: str) -> str | None:
        """The account's refresh cursor, its ratings, playlists and history size, and the library's size, as text.

        The cursor's high-water marks move whenever a refresh sees an added, changed, rated or played item; the
        counts catch what moves no timestamp (deletions, cleared ratings, playlist edits, a rating written by the
        API between refreshes). The refresh time itself is left out: a refresh that changed nothing changes nothing.
        """
        conn = self._conn()
        row = conn.execute("SELECT cursor FROM accounts WHERE account = ?", (account,)).fetchone()
        if row is None:
            return None
        cursor = json.loads(row[0])
        cursor.pop("refreshed_at", None)
        tracks = conn.execute("SELECT COUNT(*), total(rating_key) FROM tracks").fetchone()
        ratings = conn.execute(
            "SELECT COUNT(*), total(user_rating), total(last_rated_at) FROM item_states"
            " WHERE account = ? AND user_rating IS NOT NULL",
            (account,),
        ).fetchone()
        playlists = conn.execute(
            "SELECT COUNT(*), total(leaf_count), total(updated_at), total(rating_key) FROM playlists WHERE account = ?",
            (account,),
        ).fetchone()
        items = conn.execute(
            "SELECT COUNT(*), total(rating_key), total(position * rating_key) FROM playlist_items WHERE account = ?",
            (account,),
        ).fetchone()
        return json.dumps(
            {
                "cursor": cursor,
                "tracks": list(tracks),
                "ratings": list(ratings),
                "playlists": list(playlists),
                "items": list(items),
                # The latest play (as the history's high-water mark in the cursor, which every refresh keeps).
                "plays": cursor.get("history_viewed_at") or None,
            },
            sort_keys=True,
        )

    def tracks(self) -> list[SignalTrackRow]:
        """Every indexed track, by rating key (the album's year when the track has none)."""
        rows = self._conn().execute(
            "SELECT t.rating_key, t.title, coalesce(t.track_artist, t.artist_title), t.album_title, t.artist_key,"
            " t.album_key, coalesce(t.year, a.year), t.duration_ms"
            " FROM tracks t LEFT JOIN albums a ON a.rating_key = t.album_key ORDER BY t.rating_key"
        )
        return rows.fetchall()

    def tags(self) -> Iterator[tuple[int, str, str]]:
        """Genres, styles and moods of every item, by rating key, kind and Plex's order (streamed)."""
        yield from self._conn().execute(
            "SELECT rating_key, kind, tag FROM item_tags ORDER BY rating_key, kind, position"
        )

    def playlists(self, account: str) -> list[list[int]]:
        """The track keys of each regular playlist of the account, in playlist order (playlists by rating key).

        Smart playlists are left out: their items follow rules over the same metadata the model already reads,
        not a listener's choice of what goes together.
        """
        out: list[list[int]] = []
        current: int | None = None
        for playlist_key, rating_key in self._conn().execute(
            "SELECT i.playlist_key, i.rating_key FROM playlist_items i"
            " JOIN playlists p ON p.account = i.account AND p.rating_key = i.playlist_key AND NOT p.smart"
            " WHERE i.account = ? ORDER BY i.playlist_key, i.position",
            (account,),
        ):
            if playlist_key != current:
                out.append([])
                current = playlist_key
            out[-1].append(rating_key)
        return out

    def plays(self, account: str) -> Iterator[tuple[int, int, int | None, int | None]]:
        """Every play of an indexed track in the account's history, oldest first (ties by history id).

        Streamed: a big history is a million rows, which the caller folds into sessions as they come.
        """
        yield from self._conn().execute(
            "SELECT p.viewed_at, p.rating_key, p.plex_account_id, p.device_id FROM plays p"
            " WHERE p.account = ? AND p.rating_key IN (SELECT rating_key FROM tracks)"
            " ORDER BY p.viewed_at, p.history_id",
            (account,),
        )

    def track_states(self, account: str) -> list[tuple[int, float | None, int, int | None]]:
        """The rating, play count and last play of every track the account rated or played."""
        return (
            self._conn()
            .execute(
                "SELECT s.rating_key, s.user_rating, s.view_count, s.last_viewed_at FROM item_states s"
                " JOIN tracks t ON t.rating_key = s.rating_key WHERE s.account = ? ORDER BY s.rating_key",
                (account,),
            )
            .fetchall()
        )

    def track_views(self, account: str, keys: Sequence[int]) -> dict[int, TrackView]:
        """Those of ``keys`` the index has, with the account's state, by rating key."""
        if not keys:
            return {}
        rows = self._conn().execute(
            f"SELECT {_VIEW_COLUMNS} FROM tracks t"  # noqa: S608
            " LEFT JOIN item_states s ON s.account = ? AND s.rating_key = t.rating_key"
            " WHERE t.rating_key IN (SELECT value FROM json_each(?))",
            (account, json.dumps(list(keys))),
        )
        return {row[0]: TrackView(*row) for row in rows}

    def track_keys_of(self, *, album_keys: Sequence[int] = (), artist_keys: Sequence[int] = ()) -> list[int]:
        """The tracks of these albums and these album artists, by album, disc and track number."""
        if not album_keys and not artist_keys:
            return []
        rows = self._conn().execute(
            "SELECT rating_key FROM tracks WHERE album_key IN (SELECT value FROM json_each(?))"
            " OR artist_key IN (SELECT value FROM json_each(?))"
            " ORDER BY artist_key, album_key, disc_number, track_number, rating_key",
            (json.dumps(list(album_keys)), json.dumps(list(artist_keys))),
        )
        return [key for (key,) in rows]
