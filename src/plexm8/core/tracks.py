"""Tracks as the API shows them: one account's view of an indexed track, and the browse query over the index."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from enum import StrEnum

__all__ = ["SortOrder", "TrackPage", "TrackQuery", "TrackSort", "TrackView", "fold_text"]


@dataclass(frozen=True, slots=True)
class TrackView:
    """A track with one account's rating and play state; ``user_rating`` is on Plex's 0-10 scale, times in epoch s."""

    rating_key: int
    title: str
    artist: str | None
    album: str | None
    duration_ms: int | None
    year: int | None
    user_rating: float | None
    last_rated_at: int | None
    view_count: int
    last_viewed_at: int | None
    added_at: int | None


def fold_text(text: str) -> str:
    """``text`` for matching regardless of case and accents: "Beyoncé" and "BEYONCE" both give "beyonce"."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).translate(_UNDECOMPOSED)


#: Letters Unicode does not decompose into a base letter and an accent.
_UNDECOMPOSED = str.maketrans({"ø": "o", "æ": "ae", "œ": "oe", "ł": "l", "đ": "d", "ð": "d", "þ": "th", "ı": "i"})


class TrackSort(StrEnum):
    """What a track listing can be sorted by."""

    TITLE = "title"
    ARTIST = "artist"
    ALBUM = "album"
    RATING = "rating"
    ADDED = "added"
    PLAYED = "played"
    PLAYS = "plays"


class SortOrder(StrEnum):
    """Ascending or descending."""

    ASC = "asc"
    DESC = "desc"


@dataclass(frozen=True, slots=True)
class TrackQuery:
    """A browse of the index: every set filter must match; ``text`` matches title, artist or album (any case)."""

    text: str | None = None
    artist: str | None = None
    album: str | None = None
    rated: bool | None = None
    min_rating: float | None = None
    sort: TrackSort = TrackSort.TITLE
    order: SortOrder = SortOrder.ASC
    limit: int = 50
    offset: int = 0


@dataclass(frozen=True, slots=True)
class TrackPage:
    """One page of a browse and how many tracks match in all."""

    items: tuple[TrackView, ...]
    total: int
    limit: int
    offset: int
