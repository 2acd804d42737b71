"""Jobs: long work (index refreshes now; syncs and model builds later) recorded so that progress and outcome survive.

A :class:`JobRecord` is a frozen snapshot; the runner (:mod:`plexm8.services.jobs`) makes new snapshots as a job
moves on and saves them through the :class:`JobStore` port. Times are epoch seconds (floats), counts are plain
integers by name, and ``result`` is a JSON-ready mapping. No record ever holds a token: jobs name accounts by
their account key.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

__all__ = [
    "JobControl",
    "JobFunction",
    "JobOutcome",
    "JobProgress",
    "JobRecord",
    "JobState",
    "JobStore",
    "JsonValue",
]

#: What ``result`` may hold: JSON values only, so every store and the API can keep it as it is.
JsonValue = None | bool | int | float | str | list["JsonValue"] | dict[str, "JsonValue"]


class JobState(StrEnum):
    """Where a job is in its life; the last four are final."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    #: The process running the job stopped (crash, kill, shutdown) before the job finished.
    INTERRUPTED = "interrupted"

    @property
    def final(self) -> bool:
        """Whether the job is over (nothing will change it any more)."""
        return self not in (JobState.QUEUED, JobState.RUNNING)


@dataclass(frozen=True, slots=True)
class JobProgress:
    """How far a running job is: a stage name (``"tracks"``), items done, and the total when known."""

    stage: str | None = None
    done: int = 0
    total: int | None = None


@dataclass(frozen=True, slots=True)
class JobRecord:
    """A snapshot of one job.

    ``owner`` names the process and runner that run it (``"<pid>:<runner id>"``), so a later process can tell a
    job orphaned by a crash from one another live process is running. ``error_code``/``error_message`` are a
    PlexM8 error's code and one-line message when the job failed, was cancelled or was interrupted.
    """

    id: int
    kind: str
    account: str | None
    state: JobState
    created_at: float
    owner: str
    started_at: float | None = None
    finished_at: float | None = None
    progress: JobProgress = field(default_factory=JobProgress)
    counts: Mapping[str, int] = field(default_factory=dict)
    error_code: str | None = None
    error_message: str | None = None
    result: Mapping[str, JsonValue] | None = None
    cancel_requested: bool = False


@dataclass(frozen=True, slots=True)
class JobOutcome:
    """What a job function returns: counts by name and a JSON-ready result summary."""

    counts: Mapping[str, int] = field(default_factory=dict)
    result: Mapping[str, JsonValue] | None = None


class JobControl(Protocol):
    """What a running job function is handed: progress reporting that doubles as the cancellation point."""

    def progress(self, stage: str, done: int, total: int | None, *, cancellable: bool = True) -> None:
        """Record progress; raises :class:`~plexm8.errors.JobCancelled` once cancellation was requested.

        Past its point of no return (a refresh committing), a job reports with ``cancellable=False``.
        """
        ...

    @property
    def cancel_requested(self) -> bool:
        """Whether someone asked this job to stop."""
        ...


#: The work of a job: runs in a worker thread, reports through the control, returns its outcome or raises.
JobFunction = Callable[[JobControl], JobOutcome]


class JobStore(Protocol):
    """Where job records live (SQLite in the service): shared by every process using the same data directory."""

    def create(self, *, kind: str, account: str | None, owner: str, created_at: float) -> JobRecord:
        """Record a new queued job and return it with its id; old final jobs beyond the store's limit go."""
        ...

    def save(self, record: JobRecord, *, wait: bool = True) -> bool:
        """Replace the stored record that has ``record.id``; return whether it was written.

        With ``wait=False`` the write is skipped (``False``) rather than waiting while another writer holds the
        database, e.g. an index refresh's transaction: progress is worth a write only when it costs no wait.
        """
        ...

    def get(self, job_id: int) -> JobRecord | None:
        """The record with this id, or ``None``."""
        ...

    def list(
        self, *, states: Sequence[JobState] = (), kind: str | None = None, account: str | None = None, limit: int = 50
    ) -> list[JobRecord]:
        """Records newest first, optionally only in ``states``, of ``kind`` and of ``account``."""
        ...

    def interrupt_orphans(self, is_live: Callable[[str], bool], *, now: float, message: str) -> builtins.list[int]:
        """Mark every queued or running job whose owner is not live as interrupted; return their ids."""
        ...
