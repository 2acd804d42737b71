"""The ports: Protocols the services depend on and the adapters (plex/, store/, importers/) implement."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol

from plexm8.core.catalog import PlaylistItem, PlaylistRecord
from plexm8.core.models import ServerIdentity
from plexm8.core.playlists import PlaylistEntry
from plexm8.core.ratings import Rating
from plexm8.core.sources import SourceReport, SourceTrack
from plexm8.core.tracks import TrackPage, TrackQuery, TrackView

__all__ = [
    "PlaylistGateway",
    "PlexServerProbe",
    "RatingSource",
    "RecommendationInputs",
    "SignalTrackRow",
    "SonicNeighbours",
    "TagScanCache",
    "TrackIndex",
    "TrackRater",
]


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


#: ``(rating_key, title, artist, album, artist_key, album_key, year, duration_ms)`` of an indexed track; ``artist``
#: is the track artist when set, else the album artist; ``year`` is the album's when the track has none.
SignalTrackRow = tuple[int, str, str | None, str | None, int | None, int | None, int | None, int | None]


class SonicNeighbours(Protocol):
    """Plex's sonic analysis: the tracks that sound closest to a track, as the server computes them."""

    def nearest(self, rating_key: int, *, limit: int, max_distance: float) -> list[tuple[int, float]]:
        """Up to ``limit`` tracks within ``max_distance`` of the track, nearest first, as ``(rating_key, distance)``.

        Empty when the server has not analysed the track (or has no sonic analysis at all). Raises
        :class:`~plexm8.errors.PlexUnavailable` and :class:`~plexm8.errors.PlexAuthError` like every Plex read.
        """
        ...


class RecommendationInputs(Protocol):
    """What the local index gives a recommendation model: the library, and one account's evidence, in bulk."""

    def signature(self, account: str) -> str | None:
        """A value that changes whenever what a model of the account is built from changes; ``None``: no index."""
        ...

    def tracks(self) -> list[SignalTrackRow]:
        """Every indexed track, by rating key."""
        ...

    def tags(self) -> Iterator[tuple[int, str, str]]:
        """``(rating_key, "genre" | "style" | "mood", tag)`` of every artist, album and track, in Plex's order."""
        ...

    def playlists(self, account: str) -> list[list[int]]:
        """The track keys of each of the account's regular (not smart) playlists, in playlist order."""
        ...

    def plays(self, account: str) -> Iterator[tuple[int, int, int | None, int | None]]:
        """``(viewed_at, rating_key, plex_account_id, device_id)`` of every play of a track, oldest first."""
        ...

    def track_states(self, account: str) -> list[tuple[int, float | None, int, int | None]]:
        """``(rating_key, user_rating, view_count, last_viewed_at)`` of every track the account rated or played."""
        ...

    def track_views(self, account: str, keys: Sequence[int]) -> dict[int, TrackView]:
        """Those of ``keys`` the index has, as tracks with the account's state."""
        ...

    def track_keys_of(self, *, album_keys: Sequence[int] = (), artist_keys: Sequence[int] = ()) -> list[int]:
        """The tracks of these albums and of these album artists, in album and track order."""
        ...


class RatingSource(Protocol):
    """One player export or tagged folder, read as :class:`SourceTrack` records (see :mod:`plexm8.importers`).

    ``tracks()`` reads the source from the start each time it is called and may raise
    :class:`~plexm8.errors.SourceFormatError` part-way (a truncated file is only found at its end): callers read it
    to the end before they write anything.
    """

    @property
    def report(self) -> SourceReport:
        """What the last (or current) ``tracks()`` pass read and skipped; filled while it is iterated."""
        ...

    def tracks(self) -> Iterator[SourceTrack]:
        """The source's tracks in source order; non-music and unusable records are counted in ``report``."""
        ...


class TagScanCache(Protocol):
    """What a tag scan remembers of each audio file, so that files unchanged since (same mtime and size) are not read.

    ``version`` tells which tag reader produced an entry: entries of another version are never returned.
    """

    def lookup(self, path: str, mtime_ns: int, size: int, version: int) -> SourceTrack | None:
        """The record last read from ``path`` when it still has this mtime and size, else ``None``."""
        ...

    def remember(self, entries: Sequence[tuple[str, int, int, int, SourceTrack]]) -> None:
        """Store ``(path, mtime_ns, size, version, track)`` entries in one transaction, replacing older ones."""
        ...

    def forget_except(self, root: str, keep: set[str]) -> int:
        """Drop the entries under folder ``root`` whose path is not in ``keep`` (files gone); return how many."""
        ...
