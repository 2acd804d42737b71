"""The job runner with a real SQLite job store: outcomes, joining, cancellation, restarts, and refreshes as jobs."""

from __future__ import annotations

import copy
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from plexm8.bootstrap import DATABASE_NAME, JOBS_DATABASE_NAME, build_services
from plexm8.config import load_settings
from plexm8.core.accounts import PlexAccount
from plexm8.core.catalog import SectionReader
from plexm8.core.jobs import JobControl, JobOutcome, JobRecord, JobState
from plexm8.errors import JobCancelled, JobFinished, JobNotFound, PlexUnavailable
from plexm8.plex.section_reader import PlexSectionReader
from plexm8.services.jobs import JobRunner, PeriodicTask, owner_is_live
from plexm8.services.library import INDEX_REFRESH_JOB, LibraryIndex, ReaderFactory
from plexm8.store import SqliteLibraryStore
from plexm8.store.jobs import SqliteJobStore
from plexsim.generate import generate_library
from plexsim.library import Library
from plexsim.server import RunningServer, start_server

DEADLINE_S = 30.0


@pytest.fixture
def job_store(tmp_path: Path) -> Iterator[SqliteJobStore]:
    store = SqliteJobStore(tmp_path / JOBS_DATABASE_NAME)
    yield store
    store.close()


@pytest.fixture
def runner(job_store: SqliteJobStore) -> Iterator[JobRunner]:
    runner = JobRunner(job_store, save_interval=0.0)
    yield runner
    runner.close()


def wait_until(condition: Callable[[], bool]) -> None:
    """Poll ``condition`` until it holds; fail the test (not time it) if it never does."""
    deadline = time.monotonic() + DEADLINE_S
    while not condition():
        assert time.monotonic() < deadline, "condition never became true"
        time.sleep(0.01)


def blocking_job(
    release: threading.Event, started: threading.Event | None = None
) -> Callable[[JobControl], JobOutcome]:
    """A job that reports progress until ``release`` is set, then succeeds."""

    def work(control: JobControl) -> JobOutcome:
        if started is not None:
            started.set()
        done = 0
        while not release.wait(0.005):
            done += 1
            control.progress("waiting", done, None)
        return JobOutcome(counts={"loops": done})

    return work


# --- the runner on its own -------------------------------------------------------------------------------------


def test_a_succeeding_job_records_counts_result_and_times(runner: JobRunner, job_store: SqliteJobStore) -> None:
    def work(control: JobControl) -> JobOutcome:
        control.progress("counting", 3, 5)
        return JobOutcome(counts={"added": 3}, result={"note": "fine", "nested": {"n": [1, 2]}})

    record = runner.submit("demo", "acct", work)
    assert record.state is JobState.QUEUED
    final = runner.wait(record.id, timeout=DEADLINE_S)
    assert final.state is JobState.SUCCEEDED
    assert final.counts == {"added": 3}
    assert final.result == {"note": "fine", "nested": {"n": [1, 2]}}
    assert final.progress.stage == "counting" and final.progress.done == 3 and final.progress.total == 5
    assert final.started_at is not None and final.finished_at is not None
    assert final.created_at <= final.started_at <= final.finished_at
    assert final.error_code is None
    # What the store holds is the same record, read back from SQLite.
    assert job_store.get(record.id) == final


def test_a_failing_job_records_the_plexm8_error(runner: JobRunner) -> None:
    def work(control: JobControl) -> JobOutcome:
        raise PlexUnavailable("cannot connect to Plex at http://127.0.0.1:1")

    final = runner.wait(runner.submit("demo", None, work).id, timeout=DEADLINE_S)
    assert final.state is JobState.FAILED
    assert final.error_code == "plex_unavailable"
    assert final.error_message == "cannot connect to Plex at http://127.0.0.1:1"
    with pytest.raises(PlexUnavailable, match="cannot connect"):
        runner.run("demo", None, work)


def test_an_unexpected_exception_is_an_internal_error_without_its_text(
    runner: JobRunner, caplog: pytest.LogCaptureFixture
) -> None:
    def work(control: JobControl) -> JobOutcome:
        raise RuntimeError("secret-token-abc leaked in a message")

    final = runner.wait(runner.submit("demo", None, work).id, timeout=DEADLINE_S)
    assert final.state is JobState.FAILED
    assert final.error_code == "internal_error"
    assert "secret-token-abc" not in (final.error_message or "")
    assert "crashed" in caplog.text


def test_the_same_kind_for_the_same_account_joins_the_unfinished_job(runner: JobRunner) -> None:
    release = threading.Event()
    first = runner.submit("refresh", "acct", blocking_job(release))
    joined = runner.submit("refresh", "acct", blocking_job(release))
    other_account = runner.submit("refresh", "other", blocking_job(release))
    separate = runner.submit("refresh", "acct", blocking_job(release), join=False)
    assert joined.id == first.id
    assert other_account.id != first.id and separate.id != first.id
    release.set()
    assert runner.wait(first.id, timeout=DEADLINE_S).state is JobState.SUCCEEDED
    assert runner.wait(separate.id, timeout=DEADLINE_S).state is JobState.SUCCEEDED
    # Once over, the same submission starts a new job.
    assert runner.submit("refresh", "acct", blocking_job(release)).id > separate.id


def test_cancelling_a_running_job_stops_it_at_its_next_progress_report(runner: JobRunner) -> None:
    release, started = threading.Event(), threading.Event()
    record = runner.submit("demo", None, blocking_job(release, started))
    assert started.wait(DEADLINE_S)
    asked = runner.cancel(record.id)
    assert asked.cancel_requested
    final = runner.wait(record.id, timeout=DEADLINE_S)
    assert final.state is JobState.CANCELLED
    assert final.error_code == "job_cancelled"
    assert not release.is_set()
    with pytest.raises(JobFinished):
        runner.cancel(record.id)


def test_cancelling_a_queued_job_cancels_it_before_it_runs(runner: JobRunner) -> None:
    release, ran = threading.Event(), threading.Event()

    def never(control: JobControl) -> JobOutcome:
        ran.set()
        return JobOutcome()

    blocker = runner.submit("block", None, blocking_job(release))
    queued = runner.submit("demo", None, never)
    cancelled = runner.cancel(queued.id)
    assert cancelled.state is JobState.CANCELLED
    release.set()
    runner.wait(blocker.id, timeout=DEADLINE_S)
    assert runner.get(queued.id).state is JobState.CANCELLED
    assert not ran.is_set()


def test_unknown_jobs_are_not_found(runner: JobRunner) -> None:
    with pytest.raises(JobNotFound):
        runner.get(12345)
    with pytest.raises(JobNotFound):
        runner.cancel(12345)


def test_list_is_newest_first_and_filters(runner: JobRunner) -> None:
    ok = runner.run("a", "x", lambda control: JobOutcome())
    with pytest.raises(PlexUnavailable):
        runner.run("b", "x", _fail)
    newest = runner.run("a", "y", lambda control: JobOutcome())
    assert [r.id for r in runner.list()] == [newest.id, ok.id + 1, ok.id]
    assert [r.id for r in runner.list(kind="a")] == [newest.id, ok.id]
    assert [r.id for r in runner.list(states=[JobState.FAILED])] == [ok.id + 1]
    assert [r.id for r in runner.list(account="y")] == [newest.id]
    assert len(runner.list(limit=1)) == 1


def _fail(control: JobControl) -> JobOutcome:
    raise PlexUnavailable("down")


def test_the_store_keeps_only_the_newest_jobs(tmp_path: Path) -> None:
    store = SqliteJobStore(tmp_path / "jobs.sqlite", keep=3)
    runner = JobRunner(store)
    try:
        ids = [runner.run("a", None, lambda control: JobOutcome()).id for _ in range(5)]
        assert [r.id for r in runner.list()] == ids[::-1][:3]
    finally:
        runner.close()
        store.close()


def test_progress_is_live_in_memory_but_written_at_most_every_interval_or_on_a_new_stage(
    job_store: SqliteJobStore,
) -> None:
    clock = [1000.0]
    runner = JobRunner(job_store, save_interval=10.0, clock=lambda: clock[0])
    release, reported, next_stage, staged = (threading.Event() for _ in range(4))

    def work(control: JobControl) -> JobOutcome:
        for done in range(1, 101):
            control.progress("items", done, 100)
        reported.set()
        next_stage.wait(DEADLINE_S)
        control.progress("commit", 0, None)
        staged.set()
        release.wait(DEADLINE_S)
        return JobOutcome()

    try:
        record = runner.submit("demo", None, work)
        assert reported.wait(DEADLINE_S)
        assert runner.get(record.id).progress.done == 100
        # The clock did not move: of the 100 reports only the first, which began the stage, was written.
        stored = job_store.get(record.id)
        assert stored is not None and stored.state is JobState.RUNNING
        assert (stored.progress.stage, stored.progress.done) == ("items", 1)
        # A new stage is written at once, however soon it comes.
        next_stage.set()
        assert staged.wait(DEADLINE_S)
        stored = job_store.get(record.id)
        assert stored is not None and (stored.progress.stage, stored.progress.done) == ("commit", 0)
        release.set()
        final = runner.wait(record.id, timeout=DEADLINE_S)
        assert final.progress.stage == "commit"
    finally:
        release.set()
        runner.close()


def test_close_interrupts_unfinished_jobs(job_store: SqliteJobStore) -> None:
    runner = JobRunner(job_store)
    release, started = threading.Event(), threading.Event()
    running = runner.submit("block", None, blocking_job(release, started))
    queued = runner.submit("demo", None, blocking_job(release))
    assert started.wait(DEADLINE_S)
    runner.close()
    assert job_store.get(running.id) is not None
    for job_id in (running.id, queued.id):
        record = job_store.get(job_id)
        assert record is not None
        assert record.state is JobState.INTERRUPTED
        assert record.error_code == "job_interrupted"
    with pytest.raises(RuntimeError):
        runner.submit("demo", None, blocking_job(release))


def test_a_second_runner_leaves_a_live_runners_jobs_alone(job_store: SqliteJobStore, tmp_path: Path) -> None:
    first = JobRunner(job_store)
    release, started = threading.Event(), threading.Event()
    try:
        record = first.submit("block", None, blocking_job(release, started))
        assert started.wait(DEADLINE_S)
        other_store = SqliteJobStore(tmp_path / JOBS_DATABASE_NAME)
        second = JobRunner(other_store)
        assert second.interrupted_at_start == []
        assert second.get(record.id).state is JobState.RUNNING
        with pytest.raises(JobFinished, match="another PlexM8 process"):
            second.cancel(record.id)
        second.close()
        other_store.close()
        release.set()
        assert first.wait(record.id, timeout=DEADLINE_S).state is JobState.SUCCEEDED
    finally:
        release.set()
        first.close()


def test_owner_liveness() -> None:
    assert not owner_is_live("garbage")
    assert not owner_is_live(f"{os.getpid()}:no-such-runner")
    # A child that has exited and been reaped has no process any more.
    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, check=True)
    assert not owner_is_live(f"{int(child.stdout)}:abc")


def test_jobs_of_a_killed_process_are_reported_interrupted_by_the_next_one(tmp_path: Path) -> None:
    database = tmp_path / JOBS_DATABASE_NAME
    script = textwrap.dedent(
        f"""
        import threading
        from plexm8.core.jobs import JobOutcome
        from plexm8.services.jobs import JobRunner
        from plexm8.store.jobs import SqliteJobStore

        def forever(control):
            while True:
                control.progress("stuck", 1, None)
                threading.Event().wait(0.05)

        runner = JobRunner(SqliteJobStore({str(database)!r}), save_interval=0.0)
        record = runner.submit("refresh", "acct", forever)
        runner.submit("refresh", "other", forever)
        print(record.id, flush=True)
        threading.Event().wait()
        """
    )
    with subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True) as process:
        _check_interrupted_after_kill(process, database)


def _check_interrupted_after_kill(process: subprocess.Popen[str], database: Path) -> None:
    try:
        assert process.stdout is not None
        job_id = int(process.stdout.readline())
        store = SqliteJobStore(database)
        # Progress reaches the store while the job runs (the second job waits for the only worker).
        wait_until(lambda: (store.get(job_id) or _never()).progress.stage == "stuck")
        assert (store.get(job_id) or _never()).state is JobState.RUNNING
        # While the process lives, a new runner leaves its jobs alone.
        alive = JobRunner(store)
        assert alive.interrupted_at_start == []
        alive.close()
        process.send_signal(signal.SIGKILL)
        process.wait(DEADLINE_S)
        restarted = JobRunner(store)
        try:
            assert sorted(restarted.interrupted_at_start) == [job_id, job_id + 1]
            for record in (restarted.get(job_id), restarted.get(job_id + 1)):
                assert record.state is JobState.INTERRUPTED
                assert record.error_code == "job_interrupted"
                assert record.finished_at is not None
            assert restarted.get(job_id).progress.stage == "stuck"
        finally:
            restarted.close()
            store.close()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def _never() -> JobRecord:
    raise AssertionError("the job is not in the store")


def test_periodic_task_runs_again_and_retries_sooner_after_failure() -> None:
    calls: list[float] = []
    twice = threading.Event()

    def action() -> bool:
        calls.append(time.monotonic())
        if len(calls) >= 3:
            twice.set()
        # Fails first: the retry interval (tiny) applies, not the long interval.
        return len(calls) > 1

    task = PeriodicTask(action, interval=0.05, retry=0.01, name="test-periodic")
    task.start()
    assert twice.wait(DEADLINE_S)
    task.stop()
    count = len(calls)
    time.sleep(0.1)
    assert len(calls) == count


# --- index refreshes as jobs, against plexsim -------------------------------------------------------------------


@pytest.fixture(scope="module")
def library() -> Library:
    return generate_library(tracks=300, seed=11)


@pytest.fixture
def plex(library: Library) -> Iterator[RunningServer]:
    with start_server(copy.deepcopy(library)) as server:
        yield server


@pytest.fixture
def index_store(tmp_path: Path) -> Iterator[SqliteLibraryStore]:
    store = SqliteLibraryStore(tmp_path / DATABASE_NAME)
    yield store
    store.close()


def open_reader_for(plex: RunningServer) -> ReaderFactory:
    @contextmanager
    def open_reader(token: str) -> Iterator[SectionReader]:
        reader = PlexSectionReader(plex.url, token, page_size=50, timeout=5.0)
        try:
            yield reader
        finally:
            reader.close()

    return open_reader


def test_a_refresh_runs_as_a_recorded_job(
    plex: RunningServer, index_store: SqliteLibraryStore, runner: JobRunner, library: Library
) -> None:
    index = LibraryIndex(index_store, open_reader_for(plex), runner)
    account = PlexAccount(key="acct-admin", token=plex.admin_token)
    result = index.ensure_account_indexed(account)
    assert result is not None and result.counts.tracks == len(library.tracks)
    assert index.ensure_account_indexed(account) is None
    [job] = runner.list(kind=INDEX_REFRESH_JOB)
    assert job.state is JobState.SUCCEEDED
    assert job.account == "acct-admin"
    assert job.counts["added"] == len(library.tracks) + len(library.albums) + len(library.artists)
    assert job.result is not None and job.result["full"] is True
    assert job.result["index"] == {  # type: ignore[comparison-overlap]
        "artists": result.counts.artists,
        "albums": result.counts.albums,
        "tracks": result.counts.tracks,
        "rated_tracks": result.counts.rated_tracks,
        "played_tracks": result.counts.played_tracks,
        "playlists": result.counts.playlists,
        "plays": result.counts.plays,
        "refreshed_at": result.counts.refreshed_at,
    }
    assert job.progress.stage == "done"
    finished, unfinished = index.last_refresh(account)
    assert finished == job and unfinished is None
    # No token anywhere in the record.
    assert plex.admin_token not in repr(job)


def test_cancelling_mid_refresh_keeps_the_previous_index(
    plex: RunningServer, index_store: SqliteLibraryStore, runner: JobRunner
) -> None:
    index = LibraryIndex(index_store, open_reader_for(plex), runner)
    account = PlexAccount(key="acct-admin", token=plex.admin_token)
    index.refresh(account)
    before = (index_store.counts(account.key), index_store.cursor(account.key), index_store.tracks())
    stages: list[str] = []

    def cancel_while_reading_tracks(stage: str, done: int, total: int | None) -> None:
        stages.append(stage)
        if stage == "tracks" and done > 0:
            running = runner.find_unfinished(INDEX_REFRESH_JOB, account.key)
            assert running is not None
            runner.cancel(running.id)

    # A full rebuild clears the library inside its transaction: only a rollback can bring it back.
    with pytest.raises(JobCancelled):
        index.refresh(account, full=True, progress=cancel_while_reading_tracks)
    assert "commit" not in stages
    assert (index_store.counts(account.key), index_store.cursor(account.key), index_store.tracks()) == before
    job = runner.list(kind=INDEX_REFRESH_JOB)[0]
    assert job.state is JobState.CANCELLED and job.cancel_requested
    assert job.progress.stage == "tracks"


def test_plex_failing_mid_refresh_fails_the_job_and_keeps_the_index(
    plex: RunningServer, index_store: SqliteLibraryStore, runner: JobRunner
) -> None:
    index = LibraryIndex(index_store, open_reader_for(plex), runner)
    account = PlexAccount(key="acct-admin", token=plex.admin_token)
    index.refresh(account)
    before = index_store.counts(account.key)
    plex.knobs.configure(fail_path="/library/sections/[0-9]+/all", fail_status=500)
    with pytest.raises(PlexUnavailable, match="HTTP 500"):
        index.refresh(account, full=True)
    job = runner.list(kind=INDEX_REFRESH_JOB)[0]
    assert job.state is JobState.FAILED
    assert job.error_code == "plex_unavailable"
    assert plex.admin_token not in (job.error_message or "")
    assert index_store.counts(account.key) == before


def test_start_refresh_returns_at_once_and_joins(
    plex: RunningServer, index_store: SqliteLibraryStore, runner: JobRunner
) -> None:
    index = LibraryIndex(index_store, open_reader_for(plex), runner)
    account = PlexAccount(key="acct-admin", token=plex.admin_token)
    plex.knobs.configure(slow_path="/library/sections$", slow_ms=300)
    first = index.start_refresh(account)
    second = index.start_refresh(account, full=True)
    assert second.id == first.id
    _, unfinished = index.last_refresh(account)
    assert unfinished is not None and unfinished.id == first.id
    assert runner.wait(first.id, timeout=DEADLINE_S).state is JobState.SUCCEEDED
    assert index.is_indexed(account)


def test_the_service_refreshes_on_start_and_on_its_interval(plex: RunningServer, tmp_path: Path) -> None:
    settings = load_settings(
        {
            "PLEX_SERVER_URL": plex.url,
            "PLEX_TOKEN": plex.admin_token,
            "INDEX_REFRESH_INTERVAL": "0.05",
            "PLEX_CHECK_INTERVAL": "30",
        },
        default_data_dir=tmp_path / "data",
    )
    services = build_services(settings)
    with services:
        services.start()

        def succeeded() -> list[JobRecord]:
            return services.jobs.list(kind=INDEX_REFRESH_JOB, states=[JobState.SUCCEEDED])

        wait_until(lambda: len(succeeded()) >= 2)
        first, second = sorted(succeeded(), key=lambda r: r.id)[:2]
        assert first.result is not None and first.result["full"] is True
        assert second.result is not None and second.result["full"] is False
    # Closed: the thread starts no new jobs, and none is left unfinished.
    store = SqliteJobStore(tmp_path / "data" / JOBS_DATABASE_NAME)
    try:
        jobs = store.list(limit=1000)
        time.sleep(0.2)
        assert store.list(limit=1000) == jobs
        assert all(job.state.final for job in jobs)
    finally:
        store.close()


def test_no_automatic_refresh_when_the_interval_is_zero(plex: RunningServer, tmp_path: Path) -> None:
    settings = load_settings(
        {"PLEX_SERVER_URL": plex.url, "PLEX_TOKEN": plex.admin_token, "INDEX_REFRESH_INTERVAL": "0"},
        default_data_dir=tmp_path / "data",
    )
    with build_services(settings) as services:
        services.start()
        # The connection check runs; a refresh never starts.
        services.monitor.check_now()
        assert services.jobs.list() == []
