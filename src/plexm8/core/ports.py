"""The ports: Protocols the services depend on and the adapters (plex/, store/, importers/) implement."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from plexm8.core.catalog import PlaylistItem, PlaylistRecord
from plexm8.core.models import ServerIdentity
from plexm8.core.playlists import PlaylistEntry
from plexm8.core.ratings import Rating
from plexm8.core.tracks import TrackPage, TrackQuery, TrackView

__all__ = ["PlaylistGateway", "PlexServerProbe", "TrackIndex", "TrackRater"]


class PlexServerProbe(Protocol):
    """Something that can ask the Plex server who it is, with a bounded wait."""

    def probe(self) -> ServerIdentity:
        """Ask the server for its identity now.

        Raises :class:`~plexm8.errors.PlexUnavailable` when it cannot be reached in time or does not answer like
        Plex, and :class:`~plexm8.errors.PlexAuthError` when it refuses the token.
        """
        ...


class PlaylistGateway(Protocol):
    """One account's audio playlists on the Plex server: what it reads and the writes Plex offers.

    Every method raises :class:`~plexm8.errors.PlexUnavailable` when Plex cannot be reached or fails and
    :class:`~plexm8.errors.PlexAuthError` when it refuses the token; a playlist id the account does not have (or
    that is not an audio playlist) raises :class:`~plexm8.errors.PlaylistNotFound`.
    """

    def playlists(self) -> list[PlaylistRecord]:
        """The account's audio playlists, without their items."""
        ...

    def playlist(self, playlist_id: int) -> PlaylistRecord:
        """One audio playlist, without its items."""
        ...

    def entries(self, playlist_id: int, *, offset: int, limit: int) -> tuple[int, list[PlaylistEntry]]:
        """The playlist's total entry count and its entries ``offset .. offset + limit`` (one request)."""
        ...

    def items(self, playlist_id: int) -> tuple[PlaylistItem, ...]:
        """Every entry of the playlist, in order, as track key and playlist item id only."""
        ...

    def missing_tracks(self, track_keys: Sequence[int]) -> list[int]:
        """Those of ``track_keys`` that name no track on the server (an album or artist key counts as missing)."""
        ...

    def create(self, title: str, track_keys: Sequence[int]) -> PlaylistRecord:
        """Create a regular playlist of these tracks in this order (duplicates kept); all or nothing.

        Raises :class:`~plexm8.errors.TrackNotFound` when Plex does not know a key.
        """
        ...

    def add(self, playlist_id: int, track_keys: Sequence[int]) -> None:
        """Append these tracks in this order to a regular playlist (duplicates kept).

        Raises :class:`~plexm8.errors.TrackNotFound` when Plex does not know a key; keys sent in earlier requests
        of a long list stay added.
        """
        ...

    def remove(self, playlist_id: int, playlist_item_id: int) -> None:
        """Remove one entry; :class:`~plexm8.errors.PlaylistItemNotFound` when the playlist has no such entry."""
        ...

    def move(self, playlist_id: int, playlist_item_id: int, *, after: int | None) -> None:
        """Move an entry right after entry ``after``, or to the top when ``after`` is ``None``."""
        ...

    def rename(self, playlist_id: int, title: str) -> None:
        """Give the playlist a new title."""
        ...

    def delete(self, playlist_id: int) -> None:
        """Delete the playlist."""
        ...


class TrackRater(Protocol):
    """Writes one account's track ratings to Plex."""

    def rate_track(self, rating_key: int, rating: Rating) -> TrackView:
        """Set or clear the rating; return the track as Plex reports it afterwards.

        Raises :class:`~plexm8.errors.TrackNotFound` for a key that names no track, and the Plex errors.
        """
        ...


class TrackIndex(Protocol):
    """Reads of the local index for the API, and the one write a rating needs to show at once."""

    def top_rated(self, account: str, *, min_rating: float, limit: int) -> list[TrackView]:
        """The account's tracks rated at least ``min_rating``, highest first, then most recently rated."""
        ...

    def find_tracks(self, account: str, query: TrackQuery) -> TrackPage:
        """One page of the indexed tracks matching ``query``, with the account's state."""
        ...

    def record_rating(self, account: str, rating_key: int, user_rating: float | None, rated_at: int | None) -> None:
        """Store a rating just written to Plex; does nothing for an account that has no index yet."""
        ...
