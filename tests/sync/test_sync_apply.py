"""Plan, apply and undo through the real services against plexsim over HTTP, with a real SQLite journal."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sync_helpers import outcome_for, plex_ratings, rate_writes, track_keys

from plexm8.bootstrap import Services
from plexm8.core.accounts import PlexAccount
from plexm8.core.jobs import JobState
from plexm8.core.ratings import Rating
from plexm8.core.sync_plan import JournalState, PlexRatingState, RunState, SyncPolicy
from plexm8.errors import PlexUnavailable, SyncRunBusy, SyncRunNotFound
from plexm8.plex.rating_writer import PlexRatingWriter, PlexRatingWriterPool
from plexm8.plex.section_reader import PlexSectionReader
from plexm8.services.library import LibraryIndex
from plexm8.services.sync import SyncService
from plexsim.generate import ADMIN_TOKEN, account_token
from plexsim.server import RunningServer


def _split(services: Services, sim: RunningServer) -> tuple[list[int], list[int]]:
    """Indexed track keys unrated and rated by the admin in plexsim."""
    rated = plex_ratings(sim)
    keys = track_keys(services)
    return [k for k in keys if k not in rated], [k for k in keys if k in rated]


def _journal(services: Services, run_id: int) -> dict[int, JournalState | None]:
    _, items = services.sync.store.items(run_id)
    return {item.plan.rating_key: item.state for item in items if item.plan.rating_key is not None}


def test_apply_writes_only_the_changes_and_a_second_run_writes_nothing(
    services: Services, sim: RunningServer, account: PlexAccount
) -> None:
    unrated, rated = _split(services, sim)
    current = plex_ratings(sim)
    same = [(k, round(current[k])) for k in rated[:5]]
    other = [(k, 1 if round(current[k]) != 1 else 3) for k in rated[5:10]]
    outcome = outcome_for([(k, 8) for k in unrated[:30]] + same + other)
    run = services.sync.plan_outcome(account, outcome, source_kind="itunes", source_name="Library.xml")
    assert run.counts["updated"] == 30 and run.counts["noops"] == 5 and run.counts["conflicts"] == 5
    assert sum(rate_writes(sim).values()) == 0  # planning only reads
    sim.knobs.clear_log()

    applied = services.sync.apply(account, run.id)

    assert applied.state is RunState.APPLIED
    assert applied.journal == {"confirmed": 30}
    assert rate_writes(sim) == {k: 1 for k in unrated[:30]}
    after = plex_ratings(sim)
    assert all(after[k] == 8.0 for k in unrated[:30])
    assert all(after[k] == dict(same)[k] or round(after[k]) == dict(same)[k] for k, _ in same)
    # The index shows the written ratings at once (what the API's top-rated reads).
    states = services.store.states(account.key, unrated[:30])
    assert {k: s.user_rating for k, s in states.items()} == {k: 8.0 for k in unrated[:30]}

    sim.knobs.clear_log()
    again = services.sync.plan_outcome(account, outcome, source_kind="itunes", source_name="Library.xml")
    assert again.counts["updated"] == 0
    assert services.sync.apply(account, again.id).state is RunState.APPLIED
    assert sum(rate_writes(sim, ok_only=False).values()) == 0


def test_previous_values_are_journaled_before_any_write(
    services: Services, sim: RunningServer, account: PlexAccount
) -> None:
    unrated, rated = _split(services, sim)
    before = plex_ratings(sim)
    outcome = outcome_for([(k, 10) for k in unrated[:4]] + [(k, 1 if round(before[k]) != 1 else 3) for k in rated[:4]])
    run = services.sync.plan_outcome(
        account, outcome, source_kind="itunes", source_name="x", policy=SyncPolicy.OVERWRITE
    )
    # Every rating write is dropped on the floor: what the journal holds is what it held when they were sent.
    sim.knobs.configure(drop_path=r"^/:/rate$")

    with pytest.raises(PlexUnavailable):
        services.sync.apply(account, run.id)

    assert set(rate_writes(sim, ok_only=False)) == set(unrated[:4]) | set(rated[:4])  # all sent, all dropped
    assert plex_ratings(sim) == before
    _, items = services.sync.store.items(run.id)
    assert {i.plan.rating_key: (i.state, i.previous_rating) for i in items} == {
        **{k: (JournalState.WRITTEN, None) for k in unrated[:4]},
        **{k: (JournalState.WRITTEN, before[k]) for k in rated[:4]},
    }
    assert all(item.written_at is not None for item in items)


def test_failed_writes_leave_plex_and_journal_consistent_and_resume_writes_each_once(
    services: Services, sim: RunningServer, account: PlexAccount
) -> None:
    unrated, _ = _split(services, sim)
    outcome = outcome_for([(k, 6) for k in unrated[:40]])
    run = services.sync.plan_outcome(account, outcome, source_kind="itunes", source_name="x")
    sim.knobs.clear_log()
    sim.knobs.configure(fail_path=r"^/:/rate$", fail_status=500)

    with pytest.raises(PlexUnavailable, match="run the apply again"):
        services.sync.apply(account, run.id)

    assert services.sync.run(account.key, run.id).state is RunState.APPLYING
    assert set(_journal(services, run.id).values()) == {JournalState.WRITTEN}
    assert all(k not in plex_ratings(sim) for k in unrated[:40])

    sim.knobs.reset()
    resumed = services.sync.apply(account, run.id)
    assert resumed.state is RunState.APPLIED and resumed.journal == {"confirmed": 40}
    assert rate_writes(sim) == {k: 1 for k in unrated[:40]}


def test_resume_confirms_writes_that_landed_without_sending_them_again(
    services: Services, sim: RunningServer, account: PlexAccount
) -> None:
    unrated, _ = _split(services, sim)
    keys = unrated[:20]
    run = services.sync.plan_outcome(
        account, outcome_for([(k, 4) for k in keys]), source_kind="itunes", source_name="x"
    )
    # A crash right after half the writes landed: journal says "written" for all, Plex has half of them.
    services.sync.store.record_previous(run.id, [(n, PlexRatingState(None, None)) for n in range(20)], [])
    services.sync.store.mark(run.id, list(range(20)), JournalState.WRITTEN)
    services.sync.store.set_run_state(run.id, RunState.APPLYING)
    landed = keys[:10]
    with PlexRatingWriter(sim.url, ADMIN_TOKEN) as writer:
        writer.write_ratings([(k, 4.0) for k in landed])
    sim.knobs.clear_log()

    resumed = services.sync.apply(account, run.id)

    assert resumed.journal == {"confirmed": 20}
    assert rate_writes(sim) == {k: 1 for k in keys[10:]}  # the landed half is never sent again
    assert all(plex_ratings(sim)[k] == 4.0 for k in keys)


def test_a_rating_changed_after_the_plan_is_not_overwritten(
    services: Services, sim: RunningServer, account: PlexAccount
) -> None:
    unrated, _ = _split(services, sim)
    run = services.sync.plan_outcome(
        account, outcome_for([(k, 8) for k in unrated[:5]]), source_kind="itunes", source_name="x"
    )
    # The user rates one of them in Plex between the plan and the apply.
    with PlexRatingWriter(sim.url, ADMIN_TOKEN) as writer:
        writer.write_ratings([(unrated[0], 3.0)])
    sim.knobs.clear_log()

    applied = services.sync.apply(account, run.id)

    assert applied.journal == {"confirmed": 4, "stale": 1}
    assert plex_ratings(sim)[unrated[0]] == 3.0
    assert unrated[0] not in rate_writes(sim)
    _, stale = services.sync.items(account.key, run.id, status="stale")
    assert "changed since the plan" in (stale[0].message or "")


def test_undo_restores_exactly_after_later_refreshes_and_refuses_changed_items(
    services: Services, sim: RunningServer, account: PlexAccount
) -> None:
    unrated, rated = _split(services, sim)
    before = plex_ratings(sim)
    outcome = outcome_for([(k, 9) for k in unrated[:6]] + [(k, 1 if round(before[k]) != 1 else 3) for k in rated[:6]])
    run = services.sync.plan_outcome(
        account, outcome, source_kind="itunes", source_name="x", policy=SyncPolicy.OVERWRITE
    )
    services.sync.apply(account, run.id)
    # Later: the user re-rates two tracks the run wrote, and the index is refreshed (twice, one full).
    with PlexRatingWriter(sim.url, ADMIN_TOKEN) as writer:
        writer.write_ratings([(unrated[0], 5.0), (rated[0], 7.0)])
    services.index.refresh(account)
    services.index.refresh(account, full=True)
    sim.knobs.clear_log()

    undone = services.sync.undo(account, run.id)

    assert undone.state is RunState.UNDONE
    assert undone.journal == {"confirmed": 12, "undone": 10, "refused": 2}
    after = plex_ratings(sim)
    assert all(k not in after for k in unrated[1:6])  # unrated before the run: cleared again
    assert all(after[k] == before[k] for k in rated[1:6])  # the exact previous float
    assert after[unrated[0]] == 5.0 and after[rated[0]] == 7.0  # the user's later ratings stay
    assert set(rate_writes(sim)) == set(unrated[1:6]) | set(rated[1:6])
    _, refused = services.sync.items(account.key, run.id, status="refused")
    assert {item.plan.rating_key for item in refused} == {unrated[0], rated[0]}
    assert all("changed since the run" in (item.message or "") for item in refused)
    # The index shows the restored values too.
    states = services.store.states(account.key, unrated[1:6] + rated[1:6])
    assert {k: s.user_rating for k, s in states.items() if s.user_rating is not None} == {
        k: before[k] for k in rated[1:6]
    }

    sim.knobs.clear_log()
    assert services.sync.undo(account, run.id).state is RunState.UNDONE  # undoing again does nothing
    assert sum(rate_writes(sim, ok_only=False).values()) == 0
    with pytest.raises(SyncRunBusy, match="undone"):
        services.sync.apply(account, run.id)


def test_plex_down_refuses_before_anything_is_journaled_or_written(
    services: Services, sim: RunningServer, account: PlexAccount
) -> None:
    unrated, _ = _split(services, sim)
    run = services.sync.plan_outcome(
        account, outcome_for([(k, 8) for k in unrated[:5]]), source_kind="itunes", source_name="x"
    )
    sim.knobs.configure(fail_rate=1.0, fail_status=503)

    with pytest.raises(PlexUnavailable):
        services.sync.apply(account, run.id)

    assert services.sync.run(account.key, run.id).state is RunState.PLANNED
    _, items = services.sync.items(account.key, run.id)
    assert {item.state for item in items} == {JournalState.PLANNED}
    assert all(item.previous_rating is None and item.written_at is None for item in items)
    sim.knobs.reset()
    assert all(k not in plex_ratings(sim) for k in unrated[:5])
    assert services.sync.apply(account, run.id).journal == {"confirmed": 5}


def test_runs_belong_to_their_account(services: Services, sim: RunningServer, account: PlexAccount) -> None:
    unrated, _ = _split(services, sim)
    run = services.sync.plan_outcome(
        account, outcome_for([(k, 8) for k in unrated[:2]]), source_kind="itunes", source_name="x"
    )
    alice = services.account_for(account_token("alice", 2))
    with pytest.raises(SyncRunNotFound):
        services.sync.apply(alice, run.id)
    assert services.sync.history(alice.key) == []
    assert [r.id for r in services.sync.history(account.key)] == [run.id]


def test_jobs_run_apply_and_undo_and_refuse_a_run_being_applied(
    services: Services, sim: RunningServer, account: PlexAccount
) -> None:
    unrated, _ = _split(services, sim)
    run = services.sync.plan_outcome(
        account, outcome_for([(k, 8) for k in unrated[:50]]), source_kind="itunes", source_name="x"
    )
    sim.knobs.configure(slow_path=r"^/:/rate$", slow_ms=50)
    job = services.sync.start_apply(account, run.id)
    for _ in range(400):  # until the first chunk is journaled as sent
        if services.sync.store.items(run.id, status="written")[0]:
            break
        time.sleep(0.025)
    with pytest.raises(SyncRunBusy, match="being applied"):
        services.sync.apply(account, run.id)
    record = services.jobs.wait(job.id, timeout=30)
    assert record.state is JobState.SUCCEEDED
    assert record.result is not None and record.result["updated"] == 50 and record.result["run"] == run.id
    assert set(record.result) >= {"matched", "updated", "skipped", "unmatched", "conflicts", "url", "items_url"}
    undo = services.jobs.wait(services.sync.start_undo(account, run.id).id, timeout=30)
    assert undo.state is JobState.SUCCEEDED
    assert all(k not in plex_ratings(sim) for k in unrated[:50])


def test_writer_reports_each_outcome_and_reads_many_at_once(sim: RunningServer) -> None:
    keys = sorted(plex_ratings(sim))[:3]
    with PlexRatingWriter(sim.url, ADMIN_TOKEN, concurrency=4) as writer:
        results = writer.write_ratings([(keys[0], 6.0), (999_999_999, 6.0), (keys[1], None)])
        assert [r.outcome.value for r in results] == ["ok", "not-found", "ok"]
        states = writer.read_ratings([*keys, 999_999_999])
    assert states[keys[0]].rating == Rating(6) and states[keys[1]].user_rating is None
    assert 999_999_999 not in states


def test_a_cancelled_apply_stops_between_chunks_and_resumes_without_double_writes(
    services: Services, sim: RunningServer, account: PlexAccount
) -> None:
    @contextmanager
    def open_reader(token: str) -> Iterator[PlexSectionReader]:
        reader = PlexSectionReader(sim.url, token)
        try:
            yield reader
        finally:
            reader.close()

    writers = PlexRatingWriterPool(sim.url, timeout=10.0, concurrency=2)
    # The same store, index and job runner as the service's, in chunks of 10 so that a cancel lands mid-run.
    sync = SyncService(
        store=services.sync.store,
        index=services.store,
        refresh=LibraryIndex(services.store, open_reader).refresh,
        writers=writers.get,
        runner=services.jobs,
        chunk_size=10,
    )
    unrated, _ = _split(services, sim)
    keys = unrated[:60]
    run = sync.plan_outcome(account, outcome_for([(k, 6) for k in keys]), source_kind="itunes", source_name="x")
    sim.knobs.configure(slow_path=r"^/:/rate$", slow_ms=20)
    job = sync.start_apply(account, run.id)
    for _ in range(400):
        if sync.store.items(run.id, status="confirmed")[0] >= 10:
            break
        time.sleep(0.025)
    services.jobs.cancel(job.id)
    record = services.jobs.wait(job.id, timeout=30)

    assert record.state is JobState.CANCELLED
    stopped = sync.run(account.key, run.id)
    assert stopped.state is RunState.APPLYING
    assert 10 <= stopped.journal.get("confirmed", 0) < 60
    assert set(stopped.journal) <= {"confirmed", "planned"}  # whole chunks: nothing left in doubt
    sim.knobs.configure(slow_ms=0)
    done = services.jobs.wait(sync.start_apply(account, run.id).id, timeout=30)
    assert done.state is JobState.SUCCEEDED
    assert rate_writes(sim) == {k: 1 for k in keys}
    writers.close()
