"""``POST /api/ratings/rate`` (write a rating to Plex) and ``GET /api/ratings/top-rated`` (from the index)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Self

from flask import Blueprint, current_app
from pydantic import Field, field_validator, model_validator

from plexm8.core.ratings import MAX_RATING, MAX_STARS, Rating
from plexm8.services.ratings import rate_track, top_rated
from plexm8.web.api.models import TrackOut
from plexm8.web.api.spec import ApiModel, QueryParams, Rendered, RequestBody, api_route, render
from plexm8.web.context import current_account
from plexm8.web.extension import get_services

__all__ = ["RateRequest", "TopRated", "TopRatedQuery", "bp", "parse_track_key"]

bp = Blueprint("ratings", __name__, url_prefix="/api")

#: Rating keys are positive integers; the bound keeps them inside SQLite's and JSON's exact integer range.
MAX_RATING_KEY = 2**53
_TRACK_KEY = re.compile(r"^(?:/library/metadata/)?([0-9]{1,16})$")
_TOP_RATED_CACHE_KEY = "plexm8_top_rated_cache"
#: Distinct (account, limit, min_rating) answers kept per index generation; past it the cache starts over.
TOP_RATED_CACHE_SIZE = 256


def parse_track_key(value: int | str) -> int:
    """The rating key in ``123``, ``"123"`` or ``"/library/metadata/123"``; ValueError for anything else."""
    if isinstance(value, str):
        match = _TRACK_KEY.match(value.strip())
        if match is None:
            raise ValueError("must be a rating key like 123 or a key like /library/metadata/123")
        value = int(match.group(1))
    if not 0 < value <= MAX_RATING_KEY:
        raise ValueError(f"must be a rating key between 1 and {MAX_RATING_KEY}")
    return value


class RateRequest(RequestBody):
    """Set or clear the requesting account's rating of one track; give exactly one of ``rating`` and ``stars``."""

    track_key: int | str = Field(
        description="The track: its rating key (123 or '123') or its key ('/library/metadata/123')",
        examples=["/library/metadata/123", 123],
    )
    rating: float | None = Field(
        None,
        ge=-1,
        le=MAX_RATING,
        description="Plex's 0-10 scale in whole steps (10 = five stars, 7 = three and a half); null or -1 clears",
    )
    stars: float | None = Field(None, ge=-1, le=MAX_STARS, description="0-5 stars in steps of 0.5; null or -1 clears")

    @field_validator("track_key")
    @classmethod
    def _valid_key(cls, value: int | str) -> int | str:
        parse_track_key(value)
        return value

    @field_validator("rating")
    @classmethod
    def _valid_rating(cls, value: float | None) -> float | None:
        if value is not None and value != -1:
            Rating.of(value)
        return value

    @field_validator("stars")
    @classmethod
    def _valid_stars(cls, value: float | None) -> float | None:
        if value is not None and value != -1:
            Rating.from_stars(value)
        return value

    @model_validator(mode="after")
    def _one_scale(self) -> Self:
        given = self.model_fields_set & {"rating", "stars"}
        if len(given) != 1:
            raise ValueError("give exactly one of 'rating' (0-10) and 'stars' (0-5)")
        return self

    @property
    def rating_key(self) -> int:
        """The track's rating key."""
        return parse_track_key(self.track_key)

    def to_rating(self) -> Rating:
        """The requested rating (cleared for null or -1)."""
        if "rating" in self.model_fields_set:
            return Rating.clear() if self.rating is None or self.rating == -1 else Rating.of(self.rating)
        return Rating.clear() if self.stars is None or self.stars == -1 else Rating.from_stars(self.stars)


class TopRatedQuery(QueryParams):
    """Which of the account's rated tracks to list."""

    limit: int = Field(50, ge=1, le=500, description="At most this many tracks")
    min_rating: float = Field(0, ge=0, le=MAX_RATING, description="Only tracks rated at least this (Plex 0-10)")


class TopRated(ApiModel):
    """The account's rated tracks, highest rating first, then most recently rated."""

    items: list[TrackOut]
    limit: int
    min_rating: float


@api_route(
    bp,
    "POST",
    "/ratings/rate",
    body=RateRequest,
    response=TrackOut,
    errors=(401, 404, 502, 503),
    summary="Rate a track",
    tags=("ratings",),
)
def rate(*, body: RateRequest) -> TrackOut:
    """Writes the rating to Plex as the requesting account, then to the index, and answers with the track.

    The track comes back as Plex reports it after the write, so ``rating`` and ``last_rated_at`` are Plex's own.
    An unknown key (or the key of an album or artist) is a 404 ``track_not_found``.
    """
    context = current_account()
    track = rate_track(
        context.plex(),
        get_services().queries,
        account=context.key,
        rating_key=body.rating_key,
        rating=body.to_rating(),
    )
    return TrackOut.of(track)


@api_route(
    bp,
    "GET",
    "/ratings/top-rated",
    query=TopRatedQuery,
    response=TopRated,
    errors=(401, 502, 503),
    summary="Top-rated tracks",
    tags=("ratings",),
)
def top(*, query: TopRatedQuery) -> Rendered:
    """Served from the local index; the account's index is built first if it has none (Plex must answer then)."""
    context = current_account()
    services = get_services()
    # Read before the query: an answer is filed under a generation no later than the data it was read from, so
    # a rating or refresh committed meanwhile moves the generation on and the answer is never served for it.
    generation = services.queries.generation()
    cache = current_app.extensions.get(_TOP_RATED_CACHE_KEY)
    if not isinstance(cache, _TopRatedCache) or cache.generation != generation:
        cache = _TopRatedCache(generation)
        current_app.extensions[_TOP_RATED_CACHE_KEY] = cache
    key = (context.key, query.limit, query.min_rating)
    answer = cache.answers.get(key)
    if answer is None:
        tracks = top_rated(
            services.index, services.queries, context.account, min_rating=query.min_rating, limit=query.limit
        )
        answer = render(TopRated(items=TrackOut.many(tracks), limit=query.limit, min_rating=query.min_rating))
        if len(cache.answers) >= TOP_RATED_CACHE_SIZE:
            cache.answers.clear()
        cache.answers[key] = answer
    return answer


@dataclass(slots=True)
class _TopRatedCache:
    """Top-rated answers (serialised) of one index generation, keyed by account key, limit and min rating.

    The web app shows the same list again and again while ratings change rarely; building and serialising the 50
    tracks costs several times what the rest of the request does. Threads share it without a lock: dict reads and
    writes are atomic, and a race only builds an answer twice.
    """

    generation: int
    answers: dict[tuple[str, int, float], Rendered] = field(default_factory=dict)
