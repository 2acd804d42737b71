"""Playlists as the API shows them: an entry of a playlist with its track's details, and a page of entries.

Playlists themselves are :class:`plexm8.core.catalog.PlaylistRecord` (the same record the index stores). An entry's
``playlist_item_id`` is Plex's ``playlistItemID``: it names one position of a regular playlist (the same track may
appear twice, each time with its own id) and is what remove and move address. Smart playlists have none, since
their items follow their rules.
"""

from __future__ import annotations

from dataclasses import dataclass

from plexm8.core.catalog import PlaylistRecord

__all__ = ["MAX_TRACKS_PER_REQUEST", "PlaylistEntry", "PlaylistPage"]

#: The most track keys one create or add request may carry.
MAX_TRACKS_PER_REQUEST = 10_000


@dataclass(frozen=True, slots=True)
class PlaylistEntry:
    """One entry of a playlist: its track and the reading account's rating of it (Plex's 0-10 scale)."""

    playlist_item_id: int | None
    rating_key: int
    title: str
    #: The track's own artist when it differs from the album artist, else the album artist.
    artist: str | None
    album: str | None
    duration_ms: int | None
    rating: float | None


@dataclass(frozen=True, slots=True)
class PlaylistPage:
    """Entries ``offset .. offset + len(entries)`` of a playlist that has ``total`` entries."""

    playlist: PlaylistRecord
    entries: tuple[PlaylistEntry, ...]
    total: int
    offset: int
    limit: int
