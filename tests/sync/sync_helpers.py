"""Helpers of the sync tests (plan, apply, undo; API; CLI): match outcomes built from indexed tracks, and what
plexsim holds and which rating writes it received."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from urllib.parse import parse_qs

from plexm8.bootstrap import Services
from plexm8.core.matching import Match, MatchMethod, MatchOutcome
from plexm8.core.ratings import Rating
from plexm8.core.sources import RatingScale, SourceRating, SourceTrack
from plexsim.server import RunningServer


def source_track(ordinal: int, rating: int | None, *, location: str | None = None) -> SourceTrack:
    """A source track rated ``rating`` on Plex's scale (``None`` = unrated in the source)."""
    return SourceTrack(
        ordinal=ordinal,
        location=location or f"C:/Music/{ordinal}.mp3",
        title=f"Song {ordinal}",
        rating=None if rating is None else SourceRating(RatingScale.PLEX, float(rating), Rating(rating)),
    )


def outcome_for(ratings: Sequence[tuple[int, int | None]]) -> MatchOutcome:
    """An outcome matching one source track per ``(rating_key, source rating)`` by path."""
    return MatchOutcome(
        matched=[
            Match(source_track(n, rating), key, MatchMethod.PATH, 1.0, "same file path")
            for n, (key, rating) in enumerate(ratings)
        ]
    )


def plex_ratings(sim: RunningServer, account_id: int = 1) -> dict[int, float]:
    """Every rating the account has in plexsim now."""
    with sim.state.lock:
        return {key: info.rating for key, info in sim.state.accounts[account_id].ratings.items()}


def track_keys(services: Services) -> list[int]:
    """The rating keys of every indexed track, in key order."""
    return sorted(track.rating_key for track in services.store.tracks())


def rate_writes(sim: RunningServer, *, ok_only: bool = True) -> Counter[int]:
    """How many ``PUT /:/rate`` requests plexsim answered (with 200 when ``ok_only``), per track key."""
    counts: Counter[int] = Counter()
    for record in sim.knobs.log:
        if record.path == "/:/rate" and record.method == "PUT" and (record.status == 200 or not ok_only):
            counts[int(parse_qs(record.query)["key"][0])] += 1
    return counts
