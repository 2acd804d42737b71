"""What a rating source (a player's library export or tagged files) says about one track, on any rating scale.

Every importer yields :class:`SourceTrack` records; matching and sync planning read nothing else of the source.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from plexm8.core.ratings import Rating

__all__ = ["RatingScale", "SourceRating", "SourceReport", "SourceTrack"]


class RatingScale(StrEnum):
    """The scale a source stored a rating on (see ``reference/ratings/NOTES.md``)."""

    ITUNES = "itunes"  # 0-100, 20 per star, half stars as odd tens
    MUSICBEE = "musicbee"  # 0-100 like iTunes, half stars common
    FOOBAR = "foobar2000"  # 1-5 whole stars (playback statistics)
    POPM_WMP = "popm-wmp"  # ID3 POPM byte, Windows Media Player / foobar2000 steps 1/64/128/196/255
    POPM_MEDIAMONKEY = "popm-mediamonkey"  # ID3 POPM byte with half stars
    POPM_MUSICBEE = "popm-musicbee"  # ID3 POPM byte as MusicBee writes it
    POPM_PICARD = "popm-picard"  # ID3 POPM byte, 51 per star
    FMPS = "fmps"  # FMPS_Rating 0.0-1.0
    VORBIS_100 = "vorbis-100"  # Vorbis/FLAC RATING 0-100
    VORBIS_5 = "vorbis-5"  # Vorbis/FLAC RATING 0-5 (or 1-5)
    WMA = "wma"  # WM/SharedUserRating 0/1/25/50/75/99
    PLEX = "plex"  # 0-10 (used for two-way syncs and tests)


@dataclass(frozen=True, slots=True)
class SourceRating:
    """A rating as the source stored it (``raw`` on ``scale``) and the same rating on Plex's 0-10 scale.

    ``plex`` is never "cleared": a source that has no rating for a track gives no :class:`SourceRating` at all.
    Constructors that convert each scale live next to this class (:mod:`plexm8.core.rating_scales`).
    """

    scale: RatingScale
    raw: float
    plex: Rating


@dataclass(frozen=True, slots=True)
class SourceTrack:
    """One track as a source describes it. Text fields are as the source wrote them (not normalised).

    ``location`` is the file path on the player's machine, already decoded from a URL where the source stores one
    (``file://localhost/C:/Music/a.mp3`` becomes ``C:/Music/a.mp3``), Unicode NFC. ``source_id`` is the source's
    own stable id for the track when it has one (iTunes Persistent ID), used to remember matches; ``ordinal`` is
    the record's position in the source, for reports. ``last_played`` is epoch seconds (UTC).
    """

    ordinal: int
    source_id: str | None = None
    location: str | None = None
    title: str | None = None
    artist: str | None = None
    album_artist: str | None = None
    album: str | None = None
    disc_number: int | None = None
    track_number: int | None = None
    duration_ms: int | None = None
    year: int | None = None
    rating: SourceRating | None = None
    album_rating: SourceRating | None = None
    loved: bool = False
    disliked: bool = False
    play_count: int | None = None
    last_played: int | None = None


@dataclass(slots=True)
class SourceReport:
    """What a source read: tracks yielded and records skipped, by reason ("movie", "podcast", "no location", ...)."""

    kind: str
    tracks: int = 0
    rated: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def skip(self, reason: str) -> None:
        """Count one record skipped for ``reason``."""
        self.skipped[reason] = self.skipped.get(reason, 0) + 1
