"""Ratings on Plex's 0-10 scale (10 = five stars, odd numbers = half stars) and their conversions to stars."""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["MAX_RATING", "MAX_STARS", "Rating"]

MAX_RATING = 10
MAX_STARS = 5


@dataclass(frozen=True, slots=True, order=True)
class Rating:
    """A user rating as Plex stores it: a whole number 0..10, or cleared (``value is None``).

    Plex's own clients only ever write whole numbers (two per star, an odd number for a half star), so that is
    the only form accepted here; anything else raises :class:`ValueError`.
    """

    value: int | None

    def __post_init__(self) -> None:
        value = self.value
        if value is None:
            return
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_RATING:
            raise ValueError(f"a rating is a whole number from 0 to {MAX_RATING}, not {value!r}")

    @classmethod
    def clear(cls) -> Rating:
        """No rating."""
        return cls(None)

    @classmethod
    def of(cls, value: float) -> Rating:
        """The rating ``value`` on the 0-10 scale; whole numbers only (``8`` and ``8.0`` are the same)."""
        if not math.isfinite(value) or value != int(value):
            raise ValueError(f"a rating is a whole number from 0 to {MAX_RATING}, not {value!r}")
        return cls(int(value))

    @classmethod
    def from_stars(cls, stars: float) -> Rating:
        """The rating for ``stars`` (0-5 in steps of one half)."""
        if not math.isfinite(stars) or not 0 <= stars <= MAX_STARS or stars * 2 != int(stars * 2):
            raise ValueError(f"stars go from 0 to {MAX_STARS} in steps of 0.5, not {stars!r}")
        return cls(int(stars * 2))

    @classmethod
    def from_plex(cls, user_rating: float | None) -> Rating:
        """What Plex reports as ``userRating`` (a float; absent or -1 = unrated), rounded to the nearest step."""
        if user_rating is None or not math.isfinite(user_rating) or user_rating < 0:
            return cls(None)
        return cls(min(MAX_RATING, round(user_rating)))

    @property
    def is_cleared(self) -> bool:
        """Whether this is "no rating"."""
        return self.value is None

    @property
    def stars(self) -> float | None:
        """The rating in stars (0-5 in halves), or ``None`` when cleared."""
        return None if self.value is None else self.value / 2

    def to_plex(self) -> float:
        """The ``rating`` parameter of Plex's ``/:/rate``: the value, or -1 to clear."""
        return -1.0 if self.value is None else float(self.value)
