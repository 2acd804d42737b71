"""``/api/jobs``: long work (index refreshes) as recorded jobs: list them, read one, cancel one.

Jobs are PlexM8's, not one Plex account's: every caller sees every job (a job names its account only by the
token-free account key), and reading them never talks to Plex, so these endpoints answer while Plex is down.
A job started by another PlexM8 process using the same data directory (``plexm8 index`` while the service runs) is
listed with the progress that process last wrote; only that process can cancel it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from flask import Blueprint
from pydantic import Field, JsonValue

from plexm8.core.jobs import JobRecord, JobState
from plexm8.web.api.spec import ApiModel, ErrorDetail, QueryParams, api_route
from plexm8.web.extension import get_services

__all__ = ["Job", "bp", "job_model", "job_url"]

bp = Blueprint("jobs", __name__, url_prefix="/api")

_TAGS = ("jobs",)
_MAX_ID = 2**63 - 1


class JobProgressModel(ApiModel):
    """How far the job is."""

    stage: str | None = Field(description='What the job is doing, e.g. "tracks", "playlists", "history"')
    done: int = Field(description="Items of the stage done so far")
    total: int | None = Field(description="Items of the stage in all; null while unknown")


class Job(ApiModel):
    """One job: its state, progress, outcome counts and error."""

    id: int
    url: str = Field(description='This job\'s resource, e.g. "/api/jobs/12"')
    kind: str = Field(description='What the job does, e.g. "index_refresh"')
    account: str | None = Field(description="The account key (not the token) the job works for, if any")
    state: JobState = Field(
        description="queued, running, succeeded, failed, cancelled, or interrupted (PlexM8 stopped before it ended)"
    )
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    progress: JobProgressModel
    counts: dict[str, int] = Field(description="What the job changed, by name (e.g. added, updated, deleted)")
    result: dict[str, JsonValue] | None = Field(description="The job's summary once it succeeded")
    error: ErrorDetail | None = Field(description="Why the job failed, was cancelled or was interrupted")
    cancel_requested: bool = Field(description="Someone asked the job to stop")


class JobList(ApiModel):
    """Jobs, newest first."""

    items: list[Job]


class JobListQuery(QueryParams):
    """Filters of the job list."""

    state: list[JobState] | None = Field(None, description="Only jobs in these states (repeat the parameter)")
    kind: Annotated[str, Field(min_length=1, max_length=64)] | None = Field(None, description="Only jobs of this kind")
    limit: int = Field(50, ge=1, le=200, description="At most this many jobs")


def job_url(job_id: int) -> str:
    """The API path of a job."""
    return f"/api/jobs/{job_id}"


def _time(seconds: float | None) -> datetime | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, UTC)


def job_model(record: JobRecord) -> Job:
    """The API form of a job record."""
    progress = record.progress
    return Job(
        id=record.id,
        url=job_url(record.id),
        kind=record.kind,
        account=record.account,
        state=record.state,
        created_at=datetime.fromtimestamp(record.created_at, UTC),
        started_at=_time(record.started_at),
        finished_at=_time(record.finished_at),
        progress=JobProgressModel(stage=progress.stage, done=progress.done, total=progress.total),
        counts=dict(record.counts),
        result=None if record.result is None else dict(record.result),
        error=ErrorDetail(code=record.error_code, message=record.error_message or "")
        if record.error_code is not None
        else None,
        cancel_requested=record.cancel_requested,
    )


@api_route(bp, "GET", "/jobs", query=JobListQuery, response=JobList, summary="List recent jobs", tags=_TAGS)
def list_jobs(*, query: JobListQuery) -> JobList:
    """Recent jobs, newest first, optionally only some states or one kind.

    PlexM8 keeps the last 200 jobs.
    """
    records = get_services().jobs.list(states=query.state or (), kind=query.kind, limit=query.limit)
    return JobList(items=[job_model(record) for record in records])


@api_route(bp, "GET", "/jobs/<int:job_id>", response=Job, errors=(404,), summary="Read one job", tags=_TAGS)
def get_job(job_id: int) -> Job:
    """The job's current state and progress (live while it runs in this PlexM8)."""
    return job_model(get_services().jobs.get(min(job_id, _MAX_ID)))


@api_route(
    bp,
    "POST",
    "/jobs/<int:job_id>/cancel",
    response=Job,
    status=202,
    errors=(404, 409),
    summary="Cancel a job",
    tags=_TAGS,
)
def cancel_job(job_id: int) -> Job:
    """Ask the job to stop: a queued job is cancelled at once, a running one at its next step.

    A cancelled index refresh leaves the previous index as it was. Cancelling a job that is already over (or that
    another PlexM8 process runs) answers 409.
    """
    return job_model(get_services().jobs.cancel(min(job_id, _MAX_ID)))
