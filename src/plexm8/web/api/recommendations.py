"""``/api/recommendations``: similar tracks, tracks for the caller's taste, and the model they come from.

Every endpoint acts as the caller's account (``Authorization: Bearer <token>``, else the configured token): each
account has its own model, built from its own playlists, listening sessions and ratings. Queries read the model
and the local index only, so they answer while Plex is down. The first query of an account with no model starts a
build and waits a few seconds for it; when the build needs longer the answer is 503 ``recommendations_not_ready``
naming the build job (``/api/jobs/<id>``), and the same query succeeds once that job has finished.

To save an answer as a Plex playlist, send its keys in order to ``POST /api/playlists``
(``{"title": "...", "track_keys": [item.track.rating_key, ...]}``).
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, after_this_request
from flask.typing import ResponseReturnValue
from pydantic import Field, field_validator
from werkzeug.wrappers import Response

from plexm8.services.recommendations import MAX_LIMIT, RecommendedTrack
from plexm8.web.api.jobs import Job, job_model, job_url
from plexm8.web.api.models import TrackOut
from plexm8.web.api.ratings import parse_track_key
from plexm8.web.api.spec import ApiModel, QueryParams, api_route
from plexm8.web.context import current_account

__all__ = ["Recommendations", "RecommendationsQuery", "SimilarQuery", "bp"]

bp = Blueprint("recommendations", __name__, url_prefix="/api")

_TAGS = ("recommendations",)
#: At most this many seed keys of each kind per request.
MAX_SEED_KEYS = 100


class RecommendationsQuery(QueryParams):
    """Options every recommendation query takes."""

    limit: int = Field(50, ge=1, le=MAX_LIMIT, description="At most this many tracks")
    exclude_played_days: float | None = Field(
        None, ge=0, le=36_500, description="Leave out tracks the caller played in the last N days"
    )
    per_artist: int | None = Field(None, ge=1, le=MAX_LIMIT, description="At most this many tracks per artist")
    novelty: float = Field(
        0.0, ge=0, le=1, description="0 favours familiar, popular tracks; 1 favours tracks the caller rarely plays"
    )


def _keys(values: list[str] | None) -> list[str] | None:
    if values is None:
        return None
    if len(values) > MAX_SEED_KEYS:
        raise ValueError(f"give at most {MAX_SEED_KEYS} keys")
    for value in values:
        parse_track_key(value)
    return values


class SimilarQuery(RecommendationsQuery):
    """The seeds (repeat a parameter for several) and the options; at least one seed."""

    track_key: list[str] | None = Field(
        None, description="Seed track: its key (/library/metadata/123) or rating key (123); repeat for several"
    )
    album_key: list[str] | None = Field(None, description="Seed album: every track of the album is a seed")
    artist_key: list[str] | None = Field(None, description="Seed artist: every track of the album artist is a seed")

    _valid_keys = field_validator("track_key", "album_key", "artist_key")(_keys)

    @staticmethod
    def rating_keys(values: list[str] | None) -> list[int]:
        """The rating keys of one seed parameter."""
        return [parse_track_key(value) for value in values or ()]


class RecommendationOut(ApiModel):
    """One recommended track, its score and why."""

    track: TrackOut
    score: float = Field(description="Higher is better; comparable within one answer only")
    reason: str = Field(description='Why, for people: "often in your playlists with X", "sounds like Y"...')


class Recommendations(ApiModel):
    """Recommended tracks, best first."""

    items: list[RecommendationOut]
    limit: int


class RecommendationStatus(ApiModel):
    """The caller's recommendation model: when it was built, from what, and the build running now."""

    built: bool = Field(description="Whether the caller has a model (queries answer from it)")
    built_at: datetime | None = Field(description="When the model was built (UTC)")
    build_seconds: float | None = Field(description="How long the build took")
    file_bytes: int | None = Field(description="Size of the model file in the data directory")
    tracks: int | None = Field(description="Tracks the model knows")
    playlists: int | None = Field(description="The caller's playlists it learnt from")
    sessions: int | None = Field(description="Listening sessions (plays less than 30 minutes apart) it learnt from")
    sonic_tracks: int | None = Field(description="Tracks for which Plex's sonic neighbours were used")
    current: bool = Field(description="False when the index changed since the build (a rebuild starts on next use)")
    running_build: Job | None = Field(description="The build queued or running now, if any")
    last_build: Job | None = Field(description="The latest finished build job")


def _answer(found: list[RecommendedTrack], limit: int) -> Recommendations:
    tracks = TrackOut.many(item.track for item in found)
    # The tracks are validated above and score and reason are the service's own: building the wrappers without
    # validating them again saves a validation call per item on the hot path.
    return Recommendations.model_construct(
        items=[
            RecommendationOut.model_construct(track=track, score=round(float(item.score), 6), reason=item.reason)
            for track, item in zip(tracks, found, strict=True)
        ],
        limit=limit,
    )


@api_route(
    bp,
    "GET",
    "/recommendations/similar",
    query=SimilarQuery,
    response=Recommendations,
    errors=(401, 404, 503),
    summary="Tracks similar to seed tracks, albums or artists",
    tags=_TAGS,
)
def similar(*, query: SimilarQuery) -> Recommendations:
    """Ranks tracks for one or several seeds (``track_key``, ``album_key``, ``artist_key``, each repeatable).

    Draws on the caller's playlists and listening sessions, the tracks' metadata and Plex's sonic neighbours; seeds
    themselves are never returned. An unknown seed is a 404 ``track_not_found``; no seed at all is a 422.
    """
    context = current_account()
    found = context.services.recommendations.similar(
        context.account,
        track_keys=query.rating_keys(query.track_key),
        album_keys=query.rating_keys(query.album_key),
        artist_keys=query.rating_keys(query.artist_key),
        limit=query.limit,
        exclude_played_days=query.exclude_played_days,
        per_artist=query.per_artist,
        novelty=query.novelty,
    )
    return _answer(found, query.limit)


@api_route(
    bp,
    "GET",
    "/recommendations/based-on-ratings",
    query=RecommendationsQuery,
    response=Recommendations,
    errors=(401, 503),
    summary="Tracks for the caller's taste (unrated or long unplayed)",
    tags=_TAGS,
)
def based_on_ratings(*, query: RecommendationsQuery) -> Recommendations:
    """Tracks the caller has not rated (or not played for long) that fit the tracks they rated high.

    Tracks like those they rated low are pushed down.
    """
    context = current_account()
    found = context.services.recommendations.for_user(
        context.account,
        limit=query.limit,
        exclude_played_days=query.exclude_played_days,
        per_artist=query.per_artist,
        novelty=query.novelty,
    )
    return _answer(found, query.limit)


@api_route(
    bp,
    "POST",
    "/recommendations/build",
    response=Job,
    status=202,
    errors=(401, 503),
    summary="Build the caller's recommendation model now (as a job)",
    tags=_TAGS,
)
def build() -> Job:
    """Starts the build and answers at once with the job (``Location`` names it); joins a build already running.

    Builds also start by themselves when a query finds that the index changed since the last one.
    """
    context = current_account()
    record = context.services.recommendations.start_build(context.account)

    @after_this_request
    def locate(response: Response) -> ResponseReturnValue:
        response.headers["Location"] = job_url(record.id)
        return response

    return job_model(record)


@api_route(
    bp,
    "GET",
    "/recommendations/status",
    response=RecommendationStatus,
    errors=(401, 503),
    summary="The caller's recommendation model and its build",
    tags=_TAGS,
)
def status() -> RecommendationStatus:
    """When the caller's model was built, its size and inputs, whether it is current, and its build jobs."""
    context = current_account()
    model = context.services.recommendations.status(context.account)
    return RecommendationStatus(
        built=model.built,
        built_at=None if model.built_at is None else datetime.fromtimestamp(model.built_at, UTC),
        build_seconds=model.build_seconds,
        file_bytes=model.file_bytes,
        tracks=model.tracks,
        playlists=model.playlists,
        sessions=model.sessions,
        sonic_tracks=model.sonic_tracks,
        current=model.current,
        running_build=None if model.running_job is None else job_model(model.running_job),
        last_build=None if model.last_job is None else job_model(model.last_job),
    )
