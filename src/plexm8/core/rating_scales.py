"""Every source rating scale converted to one :class:`SourceRating` on Plex's 0-10 scale, by one set of rules.

The rules (also tabled in ``docs/sync-sources.md``):

- "No rating" is never a rating: 0 (or an empty value) on any scale gives ``None``, never Plex 0, because 0 is how
  every one of these players stores "unrated".
- Percentages (iTunes, Apple Music, MusicBee, Vorbis 0-100, MP4 ``rate``) divide by ten and round half up, so
  45 becomes 5 (two and a half stars) and 44 becomes 4; a rating above 0 never becomes 0 (1-4 become one half star).
  Rounding half up is chosen over Python's ``round`` (half to even) so that 25, 45, 65 and 85 all go the same way.
- Fractions (FMPS, Picard and Quod Libet ``0.0-1.0``) multiply by ten with the same rounding.
- Star counts (foobar2000 1-5, Vorbis 1-5) multiply by two.
- POPM bytes map by the writer named in the frame's e-mail field (see :func:`popm`).

Sync plans compare the converted Plex value with Plex's own, never raw values, so a value that rounds (45 → 5) is
written once and is a no-op on every later run. Values outside a scale raise :class:`ValueError` with a message the
importers turn into a warning.
"""

from __future__ import annotations

import math

from plexm8.core.ratings import MAX_RATING, Rating
from plexm8.core.sources import RatingScale, SourceRating

__all__ = [
    "ADVISORY_WORDS",
    "POPM_EXACT",
    "fmps",
    "foobar",
    "percent",
    "plex",
    "popm",
    "popm_scale",
    "vorbis",
    "wma",
]

#: POPM bytes the star-rating writers use for each Plex value (WMP/foobar2000 whole stars, MusicBee and
#: MediaMonkey also half stars); any other byte falls into the WMP ranges of :func:`popm`.
POPM_EXACT: dict[int, int] = {1: 2, 13: 1, 54: 3, 64: 4, 118: 5, 128: 6, 186: 7, 196: 8, 242: 9, 255: 10}

#: Values of a RATING tag that are content advisories (iTunes "Clean"/"Explicit"), not stars.
ADVISORY_WORDS = frozenset({"clean", "explicit", "clean lyrics", "explicit lyrics", "clean content", "notexplicit"})

_POPM_MAX = 255


def _half_up(value: float) -> int:
    """``value`` rounded to the nearest whole number, halves away from zero for the positive values used here."""
    return math.floor(value + 0.5)


def _finite(raw: float, what: str) -> float:
    if isinstance(raw, bool) or not math.isfinite(raw):
        raise ValueError(f"{what} {raw!r} is not a number")
    return float(raw)


def _make(scale: RatingScale, raw: float, plex_value: int) -> SourceRating:
    return SourceRating(scale=scale, raw=float(raw), plex=Rating(max(1, min(MAX_RATING, plex_value))))


def percent(raw: float, scale: RatingScale = RatingScale.ITUNES) -> SourceRating | None:
    """A 0-100 rating (20 per star, half stars as odd tens); 0 is unrated. Outside 0-100 raises ValueError."""
    value = _finite(raw, "rating")
    if not 0 <= value <= 100:
        raise ValueError(f"rating {raw:g} is outside 0-100")
    if value == 0:
        return None
    return _make(scale, value, _half_up(value / 10))


def foobar(raw: float) -> SourceRating | None:
    """A foobar2000 Playback Statistics rating: 1-5 stars (0 is unrated). Outside 0-5 raises ValueError."""
    value = _finite(raw, "rating")
    if not 0 <= value <= 5:
        raise ValueError(f"rating {raw:g} is outside foobar2000's 1-5 stars")
    if value == 0:
        return None
    return _make(RatingScale.FOOBAR, value, _half_up(value * 2))


def fmps(raw: float) -> SourceRating | None:
    """An FMPS (or Picard / Quod Libet) fraction 0.0-1.0; 0 is unrated. Outside 0-1 raises ValueError."""
    value = _finite(raw, "rating")
    if not 0 <= value <= 1:
        raise ValueError(f"rating {raw:g} is outside the fraction 0.0-1.0")
    if value == 0:
        return None
    return _make(RatingScale.FMPS, value, _half_up(value * 10))


def popm_scale(email: str) -> RatingScale:
    """The POPM convention the writer named by ``email`` uses; an unknown writer gets the WMP ranges."""
    folded = email.casefold()
    if "musicbee" in folded:
        return RatingScale.POPM_MUSICBEE
    if folded == "no@email":
        return RatingScale.POPM_MEDIAMONKEY
    if "musicbrainz" in folded or "quodlibet" in folded or "sacredchao" in folded:
        return RatingScale.POPM_PICARD
    return RatingScale.POPM_WMP


def popm(email: str, byte: int) -> SourceRating | None:
    """An ID3 POPM rating byte (0 is unrated), read by its writer's convention.

    Picard and Quod Libet store ``byte / 255`` as a fraction of five stars. Everyone else (WMP, foobar2000,
    MusicBee, MediaMonkey, unknown writers) uses the step values of :data:`POPM_EXACT`, and a byte that is not one
    of them falls into the WMP ranges 1-31, 32-95, 96-159, 160-223, 224-255 for one to five stars.
    """
    if isinstance(byte, bool) or not isinstance(byte, int) or not 0 <= byte <= _POPM_MAX:
        raise ValueError(f"POPM rating {byte!r} is outside 0-255")
    if byte == 0:
        return None
    scale = popm_scale(email)
    if scale is RatingScale.POPM_PICARD:
        return _make(scale, byte, _half_up(byte * 10 / _POPM_MAX))
    exact = POPM_EXACT.get(byte)
    if exact is not None:
        return _make(scale, byte, exact)
    for upper, stars in ((31, 1), (95, 2), (159, 3), (223, 4)):
        if byte <= upper:
            return _make(scale, byte, stars * 2)
    return _make(scale, byte, 10)


def wma(raw: float) -> SourceRating | None:
    """A WMA ``WM/SharedUserRating`` (WMP writes 1, 25, 50, 75, 99); 0 is unrated. Outside 0-100 raises ValueError."""
    value = _finite(raw, "WM/SharedUserRating")
    if not 0 <= value <= 100:
        raise ValueError(f"WM/SharedUserRating {raw:g} is outside 0-99")
    if value == 0:
        return None
    for upper, stars in ((12, 1), (37, 2), (62, 3), (86, 4)):
        if value <= upper:
            return _make(RatingScale.WMA, value, stars * 2)
    return _make(RatingScale.WMA, value, 10)


def vorbis(text: str, *, fraction: bool = False) -> SourceRating | None:
    """A Vorbis/FLAC/APE ``RATING`` text (or an ID3 ``TXXX:RATING``), its convention decided by the value.

    A content advisory ("Clean", "Explicit") or an empty value is no rating (``None``). Otherwise: a number with
    a decimal point up to 1.0 is a fraction (Picard, Quod Libet), up to 5 is stars (foobar2000 writes 1-5; a
    whole "1" is therefore one star, not a full fraction), up to 100 a percentage (MusicBee). ``fraction=True``
    (a ``RATING:<email>`` key, Picard's and Quod Libet's form) reads values up to 1 as fractions even without a
    decimal point. Text that is not a number, or above 100, raises ValueError.
    """
    stripped = text.strip()
    if not stripped or stripped.casefold() in ADVISORY_WORDS:
        return None
    try:
        value = float(stripped.replace(",", "."))
    except ValueError:
        raise ValueError(f"RATING {stripped!r} is not a number") from None
    value = _finite(value, "RATING")
    if value < 0 or value > 100:
        raise ValueError(f"RATING {stripped!r} is outside 0-100")
    if value == 0:
        return None
    if value <= 1 and (fraction or "." in stripped or "," in stripped):
        return fmps(value)
    if value <= 5:
        return _make(RatingScale.VORBIS_5, value, _half_up(value * 2))
    return _make(RatingScale.VORBIS_100, value, _half_up(value / 10))


def plex(raw: float) -> SourceRating | None:
    """A rating already on Plex's 0-10 scale (two-way syncs); 0 is unrated. Outside 0-10 raises ValueError."""
    value = _finite(raw, "rating")
    if not 0 <= value <= MAX_RATING:
        raise ValueError(f"rating {raw:g} is outside 0-{MAX_RATING}")
    if value == 0:
        return None
    return _make(RatingScale.PLEX, value, _half_up(value))
