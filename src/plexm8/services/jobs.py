"""The job runner: runs long work on a small pool of worker threads and records every step in the job store.

- One job of a given kind runs per account at a time: submitting the same kind for the same account while one is
  queued or running returns that job (the caller joins it) instead of starting a second.
- Progress is kept in memory as it comes and written to the store at most every ``save_interval`` seconds, so
  ``get`` is always current and a refresh reporting every page costs no database writes.
- Cancellation is cooperative: :meth:`JobRunner.cancel` flags the job and its next progress report raises
  :class:`~plexm8.errors.JobCancelled`, which unwinds the work (an index refresh rolls its transaction back).
- Errors are recorded as the PlexM8 error's code and message (which never hold tokens); anything else is logged
  and recorded as ``internal_error``.
- At construction the runner marks jobs orphaned by a stopped process (queued or running under an owner that is
  no longer alive) as ``interrupted``; at :meth:`JobRunner.close` its own unfinished jobs end ``interrupted``.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import queue
import sys
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from plexm8.core.jobs import JobFunction, JobOutcome, JobProgress, JobRecord, JobState, JobStore
from plexm8.errors import JobCancelled, JobFinished, JobNotFound, PlexM8Error

__all__ = ["DEFAULT_SAVE_INTERVAL", "JobRunner", "PeriodicTask", "owner_is_live"]

log = logging.getLogger(__name__)

#: Seconds between two progress writes of one job.
DEFAULT_SAVE_INTERVAL = 0.25
#: How often :meth:`JobRunner.wait` re-reads a job run by another process.
_POLL_SECONDS = 0.2

_INTERRUPTED_CODE = "job_interrupted"
_STOPPED_MESSAGE = "PlexM8 stopped before this job finished"

#: Ids of the runners alive in this process: a job owned by this pid but by none of them is an orphan.
_live_runners: set[str] = set()
_live_lock = threading.Lock()


def owner_is_live(owner: str) -> bool:
    """Whether the runner named by a job's ``owner`` (``"<pid>:<runner id>"``) still exists."""
    pid_text, _, runner_id = owner.partition(":")
    if not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        with _live_lock:
            return runner_id in _live_runners
    return _process_exists(pid)


def _process_exists(pid: int) -> bool:
    if sys.platform == "win32":
        import ctypes

        # os.kill(pid, 0) would send CTRL_C_EVENT on Windows; ask whether a handle can be opened instead.
        process_query_limited_information = 0x1000
        still_active = 259
        kernel32 = ctypes.windll.kernel32
        handle = kernel32.OpenProcess(process_query_limited_information, False, pid)
        if not handle:
            return False
        try:
            code = ctypes.c_ulong()
            return bool(kernel32.GetExitCodeProcess(handle, ctypes.byref(code))) and code.value == still_active
        finally:
            kernel32.CloseHandle(handle)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # alive, owned by another user
    return True


@dataclass(eq=False)
class _Active:
    """A job queued or running in this runner: its latest snapshot and what controls it."""

    record: JobRecord
    fn: JobFunction
    lock: threading.Lock = field(default_factory=threading.Lock)
    finished: threading.Event = field(default_factory=threading.Event)
    cancel: threading.Event = field(default_factory=threading.Event)
    saved_at: float = 0.0
    #: What the job raised, kept for the callers of :meth:`JobRunner.run` in this process.
    error: PlexM8Error | None = None


class _Control:
    """The :class:`~plexm8.core.jobs.JobControl` handed to a running job."""

    def __init__(self, runner: JobRunner, active: _Active) -> None:
        self._runner = runner
        self._active = active

    @property
    def cancel_requested(self) -> bool:
        return self._active.cancel.is_set()

    def progress(self, stage: str, done: int, total: int | None, *, cancellable: bool = True) -> None:
        if cancellable and self._active.cancel.is_set():
            raise JobCancelled("the job was cancelled")
        self._runner._report(self._active, JobProgress(stage, done, total))


class JobRunner:
    """Runs jobs on ``workers`` threads and records them in ``store``; close it to stop the threads."""

    def __init__(
        self,
        store: JobStore,
        *,
        workers: int = 1,
        save_interval: float = DEFAULT_SAVE_INTERVAL,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if workers < 1:
            raise ValueError("workers must be positive")
        self._store = store
        self._save_interval = save_interval
        self._clock = clock
        self._id = uuid.uuid4().hex[:12]
        self._owner = f"{os.getpid()}:{self._id}"
        self._lock = threading.Lock()
        self._submit_lock = threading.Lock()
        self._active: dict[int, _Active] = {}
        self._queue: queue.SimpleQueue[int | None] = queue.SimpleQueue()
        self._closed = False
        with _live_lock:
            _live_runners.add(self._id)
        #: Ids of the jobs found orphaned by a previous process and marked interrupted at start-up.
        self.interrupted_at_start = store.interrupt_orphans(owner_is_live, now=clock(), message=_STOPPED_MESSAGE)
        if self.interrupted_at_start:
            log.warning(
                "marked %d unfinished job(s) of a stopped PlexM8 as interrupted", len(self.interrupted_at_start)
            )
        self._threads = [
            threading.Thread(target=self._work, name=f"plexm8-job-{n}", daemon=True) for n in range(workers)
        ]
        for thread in self._threads:
            thread.start()

    @property
    def owner(self) -> str:
        """The owner name this runner records on its jobs."""
        return self._owner

    # --- the API the services use --------------------------------------------------------------------------

    def submit(self, kind: str, account: str | None, fn: JobFunction, *, join: bool = True) -> JobRecord:
        """Queue ``fn`` as a job of ``kind`` for ``account``; with ``join``, an unfinished same job is returned instead.

        Raises :class:`RuntimeError` after :meth:`close`.
        """
        active = self._submit(kind, account, fn, join=join)
        with active.lock:
            return active.record

    def _submit(self, kind: str, account: str | None, fn: JobFunction, *, join: bool) -> _Active:
        # Submissions are serialised by their own lock, not by the one get/list/cancel take: creating the record
        # may wait for the database while an index refresh holds it, and reads must not wait with it.
        with self._submit_lock:
            with self._lock:
                if self._closed:
                    raise RuntimeError("the job runner is closed")
                if join:
                    for active in self._active.values():
                        record = active.record
                        if record.kind == kind and record.account == account and not active.cancel.is_set():
                            return active
            record = self._store.create(kind=kind, account=account, owner=self._owner, created_at=self._clock())
            active = _Active(record, fn)
            with self._lock:
                self._active[record.id] = active
                closed = self._closed
        if closed:
            # close() ran while the record was being created: the job will never run.
            self._finish(active, JobState.INTERRUPTED, error=(_INTERRUPTED_CODE, _STOPPED_MESSAGE))
            return active
        log.info("job %d queued: %s", record.id, kind)
        self._queue.put(record.id)
        return active

    def run(self, kind: str, account: str | None, fn: JobFunction) -> JobRecord:
        """Submit (or join) a job like :meth:`submit` and wait until it is over; return its record if it succeeded.

        Raises the job's PlexM8 error when it failed, and :class:`JobCancelled` when it was cancelled or interrupted.
        """
        active = self._submit(kind, account, fn, join=True)
        active.finished.wait()
        record = self.get(active.record.id)
        if record.state is JobState.SUCCEEDED:
            return record
        if active.error is not None:
            raise active.error
        if record.state is JobState.FAILED:
            raise PlexM8Error(record.error_message or "the job failed")
        raise JobCancelled(record.error_message or f"the job was {record.state.value}")

    def get(self, job_id: int) -> JobRecord:
        """The current record of a job (live progress for this runner's jobs); raises :class:`JobNotFound`."""
        with self._lock:
            active = self._active.get(job_id)
        if active is not None:
            with active.lock:
                return active.record
        record = self._store.get(job_id)
        if record is None:
            raise JobNotFound(f"no job has id {job_id}")
        return record

    def list(
        self, *, states: Sequence[JobState] = (), kind: str | None = None, account: str | None = None, limit: int = 50
    ) -> list[JobRecord]:
        """Jobs newest first (live records for this runner's jobs), filtered like :meth:`JobStore.list`."""
        records = self._store.list(states=states, kind=kind, account=account, limit=limit)
        with self._lock:
            live = dict(self._active)
        out = []
        for record in records:
            active = live.get(record.id)
            if active is not None:
                with active.lock:
                    record = active.record
                if states and record.state not in states:
                    continue
            out.append(record)
        return out

    def find_unfinished(self, kind: str, account: str | None) -> JobRecord | None:
        """The queued or running job of ``kind`` for ``account`` in this runner, if any."""
        with self._lock:
            for active in self._active.values():
                if active.record.kind == kind and active.record.account == account:
                    with active.lock:
                        return active.record
        return None

    def cancel(self, job_id: int) -> JobRecord:
        """Ask a job to stop: a queued job is cancelled now, a running one at its next progress report.

        Raises :class:`JobNotFound` for an unknown id and :class:`JobFinished` for a job that is over or that
        another process runs (only its own runner can stop it).
        """
        with self._lock:
            active = self._active.get(job_id)
        if active is None:
            record = self.get(job_id)
            if record.state.final:
                raise JobFinished(f"job {job_id} is already {record.state.value}")
            raise JobFinished(f"job {job_id} is run by another PlexM8 process; cancel it there")
        active.cancel.set()
        with active.lock:
            record = active.record
            if record.state is JobState.QUEUED:
                record = dataclasses.replace(
                    record,
                    state=JobState.CANCELLED,
                    finished_at=self._clock(),
                    cancel_requested=True,
                    error_code=JobCancelled.code,
                    error_message="the job was cancelled before it started",
                )
            elif record.state is JobState.RUNNING:
                record = dataclasses.replace(record, cancel_requested=True)
            active.record = record
            # Without waiting: a running refresh may hold the database; the job's final record carries the flag,
            # and the worker writes a cancelled queued job when it reaches it.
            written = self._store.save(record, wait=False)
        if record.state.final:
            if written:
                self._retire(active)
            else:
                active.finished.set()
        log.info("job %d: cancellation requested", job_id)
        return record

    def wait(self, job_id: int, timeout: float | None = None) -> JobRecord:
        """Wait until the job is over or ``timeout`` seconds passed; return its record then (final or not)."""
        with self._lock:
            active = self._active.get(job_id)
        if active is not None:
            active.finished.wait(timeout)
            return self.get(job_id)
        # Another process's job (or an old one): follow it through the store.
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            record = self.get(job_id)
            if record.state.final or (deadline is not None and time.monotonic() >= deadline):
                return record
            time.sleep(_POLL_SECONDS if deadline is None else max(0.0, min(_POLL_SECONDS, deadline - time.monotonic())))

    def close(self, timeout: float = 10.0) -> None:
        """Stop taking jobs, interrupt the unfinished ones, and wait up to ``timeout`` s for the workers to end."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            actives = list(self._active.values())
        for active in actives:
            active.cancel.set()
            with active.lock:
                queued = active.record.state is JobState.QUEUED
            if queued:
                self._finish(active, JobState.INTERRUPTED, error=(_INTERRUPTED_CODE, _STOPPED_MESSAGE))
        for _ in self._threads:
            self._queue.put(None)
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        # A job still running after the timeout stays "running" under this owner, which is now not live: the next
        # runner on this database reports it interrupted.
        with _live_lock:
            _live_runners.discard(self._id)

    # --- the workers --------------------------------------------------------------------------------------

    def _work(self) -> None:
        while True:
            job_id = self._queue.get()
            if job_id is None:
                return
            with self._lock:
                active = self._active.get(job_id)
            if active is None:
                continue
            try:
                self._run(active)
            except Exception:
                # The job store failed (e.g. the database stayed locked); keep the worker alive and free the waiters.
                log.exception("job %d could not be recorded", job_id)
                active.error = active.error or PlexM8Error("PlexM8 could not record the job; see its log")
                self._retire(active)

    def _run(self, active: _Active) -> None:
        with active.lock:
            if active.record.state.final:
                self._store.save(active.record)
                self._retire(active)
                return
            now = self._clock()
            active.record = dataclasses.replace(active.record, state=JobState.RUNNING, started_at=now)
            active.saved_at = now
            self._store.save(active.record)
        job_id = active.record.id
        log.info("job %d started: %s", job_id, active.record.kind)
        try:
            outcome = active.fn(_Control(self, active))
        except JobCancelled as exc:
            active.error = exc
            with active.lock:
                asked = active.record.cancel_requested
            if asked:
                self._finish(active, JobState.CANCELLED, error=(exc.code, exc.message))
            else:
                self._finish(active, JobState.INTERRUPTED, error=(_INTERRUPTED_CODE, _STOPPED_MESSAGE))
        except PlexM8Error as exc:
            active.error = exc
            log.warning("job %d failed: %s [%s]", job_id, exc.message, exc.code)
            self._finish(active, JobState.FAILED, error=(exc.code, exc.message))
        except Exception:
            log.exception("job %d crashed", job_id)
            active.error = PlexM8Error("the job hit an unexpected error; see PlexM8's log")
            self._finish(
                active, JobState.FAILED, error=("internal_error", "the job hit an unexpected error; see PlexM8's log")
            )
        else:
            self._finish(active, JobState.SUCCEEDED, outcome=outcome)

    def _report(self, active: _Active, progress: JobProgress) -> None:
        now = self._clock()
        with active.lock:
            # A new stage is saved at once: the next report may be long in coming (a stage waiting on the server).
            new_stage = progress.stage != active.record.progress.stage
            active.record = dataclasses.replace(active.record, progress=progress)
            if new_stage or now - active.saved_at >= self._save_interval:
                active.saved_at = now
                # Never wait for the database here: the job's own transaction may be holding it (an index refresh).
                self._store.save(active.record, wait=False)

    def _finish(
        self,
        active: _Active,
        state: JobState,
        *,
        outcome: JobOutcome | None = None,
        error: tuple[str, str] | None = None,
    ) -> None:
        with active.lock:
            record = dataclasses.replace(active.record, state=state, finished_at=self._clock())
            if outcome is not None:
                record = dataclasses.replace(record, counts=dict(outcome.counts), result=outcome.result)
            if error is not None:
                record = dataclasses.replace(record, error_code=error[0], error_message=error[1])
            active.record = record
            self._store.save(record)
        log.info("job %d %s", record.id, state.value)
        self._retire(active)

    def _retire(self, active: _Active) -> None:
        with self._lock:
            self._active.pop(active.record.id, None)
        active.finished.set()


class PeriodicTask:
    """Calls ``action`` on a daemon thread right after :meth:`start` and then every ``interval`` seconds.

    ``action`` returns whether it succeeded; after a failure (or an exception, which is logged) the next call comes
    after ``retry`` seconds instead, when that is sooner. :meth:`stop` ends the thread without waiting an interval.
    """

    def __init__(self, action: Callable[[], bool], *, interval: float, retry: float, name: str) -> None:
        if interval <= 0 or retry <= 0:
            raise ValueError("interval and retry must be positive")
        self._action = action
        self._interval = interval
        self._retry = retry
        self._name = name
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        """Start the thread; calling it again (or after :meth:`stop`) does nothing."""
        with self._lock:
            if self._thread is not None or self._stop.is_set():
                return
            self._thread = threading.Thread(target=self._loop, name=self._name, daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the thread and wait up to ``timeout`` seconds for a running ``action`` to return."""
        with self._lock:
            self._stop.set()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                ok = self._action()
            except Exception:
                log.exception("%s failed", self._name)
                ok = False
            self._stop.wait(self._interval if ok else min(self._interval, self._retry))
