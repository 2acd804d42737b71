"""``POST /api/ratings/rate`` (write a rating to Plex) and ``GET /api/ratings/top-rated`` (from the index)."""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Self

from flask import Blueprint, Flask, current_app, request
from pydantic import Field, field_validator, model_validator
from pydantic import ValidationError as ModelValidationError
from werkzeug.wrappers import Request

from plexm8.core.accounts import account_key
from plexm8.core.ratings import MAX_RATING, MAX_STARS, Rating
from plexm8.core.tracks import TrackView
from plexm8.errors import InvalidAuthorization
from plexm8.services.ratings import rate_track, top_rated
from plexm8.web.api.models import TrackOut
from plexm8.web.api.spec import ApiModel, QueryParams, Rendered, RequestBody, api_route, parse_query_args, render
from plexm8.web.context import bearer_token, current_account
from plexm8.web.extension import get_services, services_of

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

    from plexm8.bootstrap import Services
    from plexm8.core.models import ServerIdentity

__all__ = [
    "TOP_RATED_PATH",
    "RateRequest",
    "TopRated",
    "TopRatedQuery",
    "bp",
    "parse_track_key",
    "prepared_top_rated",
]

bp = Blueprint("ratings", __name__, url_prefix="/api")

#: Rating keys are positive integers; the bound keeps them inside SQLite's and JSON's exact integer range.
MAX_RATING_KEY = 2**53
_TRACK_KEY = re.compile(r"^(?:/library/metadata/)?([0-9]{1,16})$")
_TOP_RATED_CACHE_KEY = "plexm8_top_rated_cache"
TOP_RATED_PATH = "/api/ratings/top-rated"
#: The largest ``limit`` top-rated takes.
MAX_TOP_RATED = 500
#: Distinct (account, limit, min_rating) answers kept per index generation; past it the cache starts over.
TOP_RATED_CACHE_SIZE = 256
#: Serialised tracks kept per index generation for top-rated answers (about 400 bytes each); past it they start over.
TRACK_JSON_CACHE_SIZE = 4096


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

    limit: int = Field(50, ge=1, le=MAX_TOP_RATED, description="At most this many tracks")
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
    queries = get_services().queries
    # Read before the index: whatever is kept is filed under a generation no later than the data it was read
    # from, so a rating or refresh committed meanwhile moves the generation on and it is never served for it.
    generation = queries.generation()
    cache = current_app.extensions.get(_TOP_RATED_CACHE_KEY)
    if not isinstance(cache, _TopRatedCache) or cache.generation != generation:
        cache = _TopRatedCache(generation)
        current_app.extensions[_TOP_RATED_CACHE_KEY] = cache
    key = (context.key, query.limit, query.min_rating)
    answer = cache.answers.get(key)
    if answer is not None:
        _prepare(cache, context.key, context.token, answer)
        return answer
    context.ensure_indexed()
    # Every answer of the generation is a prefix of one ranking (best first, so "rated at least r" is a prefix
    # too), read once per account by a covering index walk. Validating and serialising a track costs several
    # times what finding it does, so each track's JSON is made once per generation and account as well.
    account = context.key
    ranking = cache.rankings.get(account)
    read_ranking = ranking is None
    if ranking is None:
        ranking = _Ranking.of(queries.top_rated_ranking(account, min_rating=0, limit=MAX_TOP_RATED))
    keys = ranking.top(query.limit, query.min_rating)
    kept = cache.tracks
    parts = [kept.get((account, rating_key)) for rating_key in keys]
    missing = [rating_key for rating_key, part in zip(keys, parts, strict=True) if part is None]
    made: dict[int, bytes] = {}
    if read_ranking or missing:
        views = queries.track_views(account, missing)
        made = {view.rating_key: out.model_dump_json().encode() for view, out in _rendered(views.values())}
        if queries.generation() != generation or len(made) != len(missing):
            # A commit landed between the reads, so ranking and tracks may come from different states: read
            # again in one statement, and keep nothing.
            tracks = top_rated(
                get_services().index, queries, context.account, min_rating=query.min_rating, limit=query.limit
            )
            return render(TopRated(items=TrackOut.many(tracks), limit=query.limit, min_rating=query.min_rating))
        cache.rankings[account] = ranking
    if len(cache.tracks) + len(made) > TRACK_JSON_CACHE_SIZE:
        cache.tracks.clear()
    cache.tracks.update(((account, rating_key), part) for rating_key, part in made.items())
    body = [part if part is not None else made[rating_key] for rating_key, part in zip(keys, parts, strict=True)]
    answer = Rendered(model=TopRated, body=_assembled(body, query))
    if len(cache.answers) >= TOP_RATED_CACHE_SIZE:
        cache.answers.clear()
    cache.answers[key] = answer
    _prepare(cache, account, context.token, answer)
    return answer


def _prepare(cache: _TopRatedCache, account: str, token: str, answer: Rendered) -> None:
    """Keep ``answer`` for :func:`prepared_top_rated`, under the request's raw Authorization and query string.

    The same raw inputs mean the same token and parameters, and the same token on the same server the same
    account; so the answer is theirs for as long as the index generation and the server's identity stay.
    """
    identity = get_services().monitor.status().identity
    # The account must be the one the monitor's server gives the token now (it is unless the server changed).
    if identity is None or account_key(identity.machine_identifier, token) != account:
        return
    if len(cache.prepared) >= TOP_RATED_CACHE_SIZE:
        cache.prepared.clear()
    raw = (request.environ.get("HTTP_AUTHORIZATION"), request.environ.get("QUERY_STRING", ""))
    cache.prepared[raw] = (identity.machine_identifier, answer.body)


def _assembled(parts: Iterable[bytes], query: TopRatedQuery) -> bytes:
    """The answer's JSON from its tracks' JSON: byte for byte what rendering the whole TopRated gives (tested)."""
    envelope = render(TopRated(items=[], limit=query.limit, min_rating=query.min_rating)).body
    if not envelope.startswith(_ITEMS_OPEN):
        raise RuntimeError("TopRated no longer serialises 'items' first")
    return b"".join((_ITEMS_OPEN, b",".join(parts), envelope[len(_ITEMS_OPEN) :]))


def prepared_top_rated(app: Flask, environ: WSGIEnvironment) -> bytes | None:
    """The top-rated body for this request when it can be given without the view, else ``None``.

    For :class:`~plexm8.web.prepared.PreparedAnswers`: the body a request with these exact inputs got in this
    index generation, or, for inputs not seen yet, one assembled from what the view keeps (the account's ranking
    and every listed track's JSON). Anything else goes to Flask: a query the view must validate (and perhaps
    refuse), an account or tracks nothing is kept for yet, or an answer that may have changed (a commit moved the
    generation on, the server is another one).
    """
    cache = app.extensions.get(_TOP_RATED_CACHE_KEY)
    if not isinstance(cache, _TopRatedCache):
        return None
    raw = (environ.get("HTTP_AUTHORIZATION"), environ.get("QUERY_STRING", ""))
    services = services_of(app)
    identity = services.monitor.status().identity
    if identity is None:
        return None
    kept = cache.prepared.get(raw)
    if kept is not None and identity.machine_identifier != kept[0]:
        return None
    if services.queries.generation() != cache.generation:
        return None
    if kept is not None:
        return kept[1]
    body = _assembled_from_kept(cache, environ, raw[0], services, identity)
    if body is not None:
        if len(cache.prepared) >= TOP_RATED_CACHE_SIZE:
            cache.prepared.clear()
        cache.prepared[raw] = (identity.machine_identifier, body)
    return body


def _assembled_from_kept(
    cache: _TopRatedCache, environ: WSGIEnvironment, header: str | None, services: Services, identity: ServerIdentity
) -> bytes | None:
    """A new query's answer from the kept ranking and track JSON, as the view would make it; ``None`` if not all kept.

    The token and the query are read as the view reads them (the same parser, the same model); any doubt (a header
    or query the view would refuse) leaves the request to the view, which answers or refuses it itself.
    """
    try:
        token = bearer_token(header) if header is not None else services.settings.plex_token
        query = parse_query_args(TopRatedQuery, Request(environ).args)
    except (InvalidAuthorization, ModelValidationError):
        return None
    if not token:
        return None
    # The account the view would act as: account_for() keys the token with the server's machine identifier, which
    # is the monitor's (the prepared answers above rely on the same, and a ranking exists only for a served key).
    account = account_key(identity.machine_identifier, token)
    ranking = cache.rankings.get(account)
    if ranking is None:
        return None
    parts = []
    for rating_key in ranking.top(query.limit, query.min_rating):
        part = cache.tracks.get((account, rating_key))
        if part is None:
            return None
        parts.append(part)
    return _assembled(parts, query)


def _rendered(views: Iterable[TrackView]) -> Iterator[tuple[TrackView, TrackOut]]:
    """Each of ``views`` with its API form (validated in one call)."""
    views = list(views)
    return zip(views, TrackOut.many(views), strict=True)


@dataclass(frozen=True, slots=True)
class _Ranking:
    """An account's rated tracks, best first (at most :data:`MAX_TOP_RATED`), with their ratings negated."""

    keys: list[int]
    #: ``-rating`` of each of ``keys``: ascending, so that bisect finds where "rated at least r" ends.
    negated: list[float]

    @classmethod
    def of(cls, ranked: list[tuple[int, float]]) -> _Ranking:
        return cls(keys=[key for key, _ in ranked], negated=[-rating for _, rating in ranked])

    def top(self, limit: int, min_rating: float) -> list[int]:
        """The keys top-rated lists for ``limit`` and ``min_rating`` (``limit`` at most the ranking's length)."""
        return self.keys[: min(limit, bisect_right(self.negated, -min_rating))]


#: How an empty TopRated's JSON starts; the tracks' JSON goes right after it, byte for byte as render() puts it.
_ITEMS_OPEN = b'{"items":['


@dataclass(slots=True)
class _TopRatedCache:
    """What top-rated answers are made of in one index generation.

    Whole answers by account key, limit and min rating; each account's ranking; each track's JSON by account key
    and rating key (it holds the account's rating and plays); prepared bodies by the request's raw inputs. The web
    app shows the same list again and again while ratings change rarely. Threads share it without a lock: dict
    reads and writes are atomic, and a race only builds twice.
    """

    generation: int
    answers: dict[tuple[str, int, float], Rendered] = field(default_factory=dict)
    tracks: dict[tuple[str, int], bytes] = field(default_factory=dict)
    rankings: dict[str, _Ranking] = field(default_factory=dict)
    #: Bodies by raw ``(Authorization, query string)``, with the server's machine id they were made for.
    prepared: dict[tuple[str | None, str], tuple[str, bytes]] = field(default_factory=dict)
