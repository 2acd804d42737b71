"""What a recommendation model is built from and what it answers: plain records, no Plex, no SQLite.

The services layer fills :class:`LibrarySignals` from the index (or the evaluation harness from a playlist
dataset) and every query returns :class:`Recommendation` records.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

__all__ = ["LibrarySignals", "Recommendation", "TrackInfo", "UserSignals"]


@dataclass(frozen=True, slots=True)
class TrackInfo:
    """One track's metadata; ``genres``, ``styles``, ``moods`` fall back to the album's and artist's."""

    key: int
    title: str
    artist: str
    album: str | None = None
    artist_key: int | None = None
    album_key: int | None = None
    year: int | None = None
    duration_ms: int | None = None
    genres: tuple[str, ...] = ()
    styles: tuple[str, ...] = ()
    moods: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class UserSignals:
    """One Plex account's own evidence: ratings on Plex's 0-10 scale, play counts, last plays (epoch seconds)."""

    ratings: Mapping[int, float] = field(default_factory=dict)
    play_counts: Mapping[int, int] = field(default_factory=dict)
    last_played: Mapping[int, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class LibrarySignals:
    """Everything a model is built from, for one account.

    ``playlists`` are the account's playlists (track keys in order); ``sessions`` are its listening sessions cut
    from play history (track keys in play order); ``sonic`` maps a track to Plex's sonic neighbours with their
    distances (smaller = closer) for the tracks the server gave them for.
    """

    tracks: Sequence[TrackInfo]
    playlists: Sequence[Sequence[int]] = ()
    sessions: Sequence[Sequence[int]] = ()
    user: UserSignals = field(default_factory=UserSignals)
    sonic: Mapping[int, Sequence[tuple[int, float]]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Recommendation:
    """A recommended track, its score (higher = better, comparable within one answer) and one human reason."""

    key: int
    score: float
    reason: str
