"""The local index per account: build an account's index the first time it is needed, refresh it on demand.

:meth:`LibraryIndex.ensure_account_indexed` is the single way request handlers make sure an account has an index
before reading it; it runs :func:`~plexm8.services.indexing.refresh_index` synchronously on first use, and at most
once at a time per account (concurrent first requests wait for the one build instead of each starting one).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager

from plexm8.core.accounts import PlexAccount
from plexm8.core.catalog import LibraryStore, ProgressCallback, RefreshResult, SectionReader
from plexm8.core.jobs import JobControl, JobOutcome, JobRecord, JobState
from plexm8.services.indexing import refresh_index
from plexm8.services.jobs import JobRunner, owner_is_live

#: How often :meth:`LibraryIndex.follow` reads the progress another process records.
FOLLOW_POLL_S = 0.25

__all__ = ["INDEX_REFRESH_JOB", "LibraryIndex", "ReaderFactory", "refresh_outcome"]

#: The job kind of index refreshes.
INDEX_REFRESH_JOB = "index_refresh"

#: Opens a section reader acting with a token; leaving the context closes its connections.
ReaderFactory = Callable[[str], AbstractContextManager[SectionReader]]


class LibraryIndex:
    """The index in ``store`` of every account, filled through readers from ``open_reader``."""

    def __init__(self, store: LibraryStore, open_reader: ReaderFactory, runner: JobRunner | None = None) -> None:
        self._store = store
        self._open_reader = open_reader
        #: With a runner, every refresh is a recorded job (one per account at a time; callers join a running one).
        self._runner = runner
        self._results: dict[str, RefreshResult] = {}
        self._indexed: set[str] = set()
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()

    @property
    def store(self) -> LibraryStore:
        """The store the index lives in."""
        return self._store

    def _lock(self, account: str) -> threading.Lock:
        with self._locks_guard:
            return self._locks.setdefault(account, threading.Lock())

    def is_indexed(self, account: PlexAccount) -> bool:
        """Whether the account has a committed index (possibly an old one)."""
        if account.key in self._indexed:
            return True
        if self._store.cursor(account.key) is not None:
            self._indexed.add(account.key)
            return True
        return False

    def ensure_account_indexed(
        self, account: PlexAccount, *, progress: ProgressCallback | None = None
    ) -> RefreshResult | None:
        """Build the account's index now unless it has one; return the build's result, or ``None`` if none ran.

        Raises what the reader raises (:class:`~plexm8.errors.PlexUnavailable`, :class:`~plexm8.errors.PlexAuthError`)
        when a build is needed and Plex cannot give it; an existing index is used without asking Plex.
        """
        if self.is_indexed(account):
            return None
        with self._lock(account.key):
            if self.is_indexed(account):
                return None
            return self._refresh(account, full=False, progress=progress)

    def refresh(
        self, account: PlexAccount, *, full: bool = False, progress: ProgressCallback | None = None
    ) -> RefreshResult:
        """Refresh the account's index now (incrementally unless ``full`` or never indexed), one at a time."""
        with self._lock(account.key):
            return self._refresh(account, full=full, progress=progress)

    def start_refresh(self, account: PlexAccount, *, full: bool = False) -> JobRecord:
        """Start a refresh job for the account (or join the one queued or running) and return its record now.

        Raises :class:`RuntimeError` when the index has no job runner.
        """
        if self._runner is None:
            raise RuntimeError("this LibraryIndex runs refreshes without jobs")
        return self._runner.submit(INDEX_REFRESH_JOB, account.key, self._refresh_job(account, full=full, progress=None))

    def last_refresh(self, account: PlexAccount) -> tuple[JobRecord | None, JobRecord | None]:
        """The account's latest finished refresh job and its unfinished one, each ``None`` when there is none."""
        if self._runner is None:
            return None, None
        jobs = self._runner.list(kind=INDEX_REFRESH_JOB, account=account.key, limit=20)
        unfinished = next((job for job in jobs if not job.state.final), None)
        finished = next((job for job in jobs if job.state.final), None)
        return finished, unfinished

    def running_elsewhere(self, account: PlexAccount) -> JobRecord | None:
        """The account's refresh job that another live runner (usually another PlexM8 process) has under way."""
        if self._runner is None or self._runner.find_unfinished(INDEX_REFRESH_JOB, account.key) is not None:
            return None  # none, or ours: a refresh started here joins it anyway
        active = self._runner.list(
            states=(JobState.QUEUED, JobState.RUNNING), kind=INDEX_REFRESH_JOB, account=account.key, limit=5
        )
        return next((job for job in active if owner_is_live(job.owner)), None)

    def follow(
        self, job_id: int, *, progress: ProgressCallback | None = None, sleep: Callable[[float], None] = time.sleep
    ) -> JobRecord:
        """Report another runner's refresh job's recorded progress until it is over; return its final record.

        A job whose runner disappears without finishing it is returned as soon as it is marked interrupted, or,
        when nobody marks it, once its owner is gone (then still in its last recorded state).
        """
        if self._runner is None:
            raise RuntimeError("this LibraryIndex runs refreshes without jobs")
        last: tuple[str | None, int, int | None] | None = None
        while True:
            job = self._runner.get(job_id)
            seen = (job.progress.stage, job.progress.done, job.progress.total)
            if progress is not None and job.progress.stage is not None and seen != last:
                progress(job.progress.stage, job.progress.done, job.progress.total)
            last = seen
            if job.state.final or not owner_is_live(job.owner):
                return job
            sleep(FOLLOW_POLL_S)

    def _refresh_job(
        self, account: PlexAccount, *, full: bool, progress: ProgressCallback | None
    ) -> Callable[[JobControl], JobOutcome]:
        def work(control: JobControl) -> JobOutcome:
            committing = False

            def report(stage: str, done: int, total: int | None) -> None:
                nonlocal committing
                # Once the refresh commits, cancelling could only mislabel an index that is already written.
                committing = committing or stage == "commit"
                control.progress(stage, done, total, cancellable=not committing)
                if progress is not None:
                    progress(stage, done, total)

            with self._open_reader(account.token) as reader:
                result = refresh_index(reader, self._store, account=account.key, progress=report, full=full)
            self._indexed.add(account.key)
            self._results[account.key] = result
            return refresh_outcome(result)

        return work

    def _refresh(self, account: PlexAccount, *, full: bool, progress: ProgressCallback | None) -> RefreshResult:
        if self._runner is not None:
            # A caller joining a refresh already running gets that refresh's result (its progress is not reported).
            self._runner.run(INDEX_REFRESH_JOB, account.key, self._refresh_job(account, full=full, progress=progress))
            return self._results[account.key]
        with self._open_reader(account.token) as reader:
            result = refresh_index(reader, self._store, account=account.key, progress=progress, full=full)
        self._indexed.add(account.key)
        return result


def refresh_outcome(result: RefreshResult) -> JobOutcome:
    """A refresh's job outcome: what changed as counts, and the summary with what the index now holds as result."""
    counts = result.counts
    return JobOutcome(
        counts={
            "added": result.added,
            "updated": result.updated,
            "deleted": result.deleted,
            "states_changed": result.states_changed,
            "playlists_changed": result.playlists_changed,
            "plays_added": result.plays_added,
        },
        result={
            "full": result.full,
            "requests": result.requests,
            "seconds": round(result.seconds, 3),
            "index": {
                "artists": counts.artists,
                "albums": counts.albums,
                "tracks": counts.tracks,
                "rated_tracks": counts.rated_tracks,
                "played_tracks": counts.played_tracks,
                "playlists": counts.playlists,
                "plays": counts.plays,
                "refreshed_at": counts.refreshed_at,
            },
        },
    )
