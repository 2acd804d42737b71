"""How source tracks were matched to indexed Plex tracks: the outcome records matching produces and sync reads.

The matching ladder itself (remembered → path → strict metadata → fuzzy) lives in :mod:`plexm8.core.matcher`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from plexm8.core.sources import SourceTrack

__all__ = ["Match", "MatchMethod", "MatchOutcome", "PathMapping", "ReviewItem"]


class MatchMethod(StrEnum):
    """Which rung of the ladder made a match."""

    REMEMBERED = "remembered"
    PATH = "path"
    METADATA = "metadata"
    FUZZY = "fuzzy"


@dataclass(frozen=True, slots=True)
class PathMapping:
    """A prefix on the player's machine and the prefix of the same folder as Plex sees it."""

    source_prefix: str
    plex_prefix: str


@dataclass(frozen=True, slots=True)
class Match:
    """A source track matched to one Plex track, how, and how sure (0..1); ``reason`` is one human line."""

    source: SourceTrack
    rating_key: int
    method: MatchMethod
    confidence: float
    reason: str


@dataclass(frozen=True, slots=True)
class ReviewItem:
    """A source track that was not matched safely: its candidate Plex tracks (best first) and why. Never written."""

    source: SourceTrack
    candidates: tuple[int, ...]
    confidences: tuple[float, ...]
    reason: str


@dataclass(slots=True)
class MatchOutcome:
    """Everything matching decided for one source: matched, sent to review, and not found at all."""

    matched: list[Match] = field(default_factory=list)
    review: list[ReviewItem] = field(default_factory=list)
    unmatched: list[SourceTrack] = field(default_factory=list)
    #: Path mappings in effect: the user's, or those suggested from the data when the user gave none.
    path_mappings: list[PathMapping] = field(default_factory=list)
    suggested_mappings: bool = False
