"""``/api/library``: the caller's local index: what it holds and when it was refreshed; start a refresh.

Both endpoints act as the caller's account (``Authorization: Bearer <token>``, else the configured token): the
library is shared, ratings, plays and playlists are per account. Refreshes run as jobs (``/api/jobs``); PlexM8 also
refreshes the configured account's index at start and every ``INDEX_REFRESH_INTERVAL`` seconds.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, after_this_request
from flask.typing import ResponseReturnValue
from pydantic import Field
from werkzeug.wrappers import Response

from plexm8.web.api.jobs import Job, job_model, job_url
from plexm8.web.api.spec import ApiModel, QueryParams, api_route
from plexm8.web.context import current_account

__all__ = ["bp"]

bp = Blueprint("library", __name__, url_prefix="/api")

_TAGS = ("library",)
#: Answers of endpoints that must know the caller's account (its key needs the server's id from Plex).
_ACCOUNT_ERRORS = (401, 503)


class LibraryCounts(ApiModel):
    """What the index holds: the library (shared) and the caller's own ratings, plays and playlists."""

    artists: int
    albums: int
    tracks: int
    rated_tracks: int = Field(description="Tracks the caller rated")
    played_tracks: int = Field(description="Tracks the caller played at least once")
    playlists: int = Field(description="The caller's audio playlists")
    plays: int = Field(description="Plays in the caller's history")


class LibraryStatus(ApiModel):
    """The caller's index: counts, last refresh and the refresh running now."""

    indexed: bool = Field(description="Whether the caller's account has an index yet")
    counts: LibraryCounts
    refreshed_at: datetime | None = Field(description="When the caller's index was last refreshed successfully")
    last_refresh: Job | None = Field(description="The caller's latest finished refresh job (succeeded or not)")
    running_refresh: Job | None = Field(description="The caller's refresh queued or running now, if any")
    auto_refresh_interval: float = Field(description="Seconds between automatic refreshes; 0 when they are off")


class RefreshQuery(QueryParams):
    """Options of a refresh."""

    full: bool = Field(False, description="Rebuild the whole index instead of fetching only what changed")


@api_route(
    bp,
    "GET",
    "/library/status",
    response=LibraryStatus,
    errors=_ACCOUNT_ERRORS,
    summary="The caller's index: counts and last refresh",
    tags=_TAGS,
)
def library_status() -> LibraryStatus:
    """Counts per kind, the caller's rated and played track counts, and the last and running refresh.

    Served from the index without asking Plex (except, once, for the server's id when it is not known yet).
    """
    context = current_account()
    index = context.services.index
    counts = index.store.counts(context.key)
    finished, running = index.last_refresh(context.account)
    return LibraryStatus(
        indexed=counts.refreshed_at is not None,
        counts=LibraryCounts(
            artists=counts.artists,
            albums=counts.albums,
            tracks=counts.tracks,
            rated_tracks=counts.rated_tracks,
            played_tracks=counts.played_tracks,
            playlists=counts.playlists,
            plays=counts.plays,
        ),
        refreshed_at=None if counts.refreshed_at is None else datetime.fromtimestamp(counts.refreshed_at, UTC),
        last_refresh=None if finished is None else job_model(finished),
        running_refresh=None if running is None else job_model(running),
        auto_refresh_interval=context.services.settings.index_refresh_interval,
    )


@api_route(
    bp,
    "POST",
    "/library/refresh",
    query=RefreshQuery,
    response=Job,
    status=202,
    errors=_ACCOUNT_ERRORS,
    summary="Refresh the caller's index now (as a job)",
    tags=_TAGS,
)
def refresh_library(*, query: RefreshQuery) -> Job:
    """Start refreshing the caller's index and answer at once with the job (``Location`` names it).

    Incremental unless ``full=true`` or the account was never indexed. While a refresh of the caller's account is
    queued or running, that job is returned instead of starting another. Plex errors during the refresh are
    reported in the job (``GET /api/jobs/<id>``), not here.
    """
    context = current_account()
    record = context.services.index.start_refresh(context.account, full=query.full)

    @after_this_request
    def locate(response: Response) -> ResponseReturnValue:
        response.headers["Location"] = job_url(record.id)
        return response

    return job_model(record)
