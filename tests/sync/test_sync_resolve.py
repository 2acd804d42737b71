"""Settling review items through the real services: plans built from indexed tracks with review items, plexsim over
HTTP, a real SQLite journal; the pure rules of :func:`choose_track` and :func:`dismiss_item`."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence

import pytest
from sync_helpers import plex_ratings, rate_writes, source_track, track_keys

from plexm8.bootstrap import Services
from plexm8.core.accounts import PlexAccount
from plexm8.core.jobs import JobState
from plexm8.core.matching import Match, MatchMethod, MatchOutcome, ReviewItem
from plexm8.core.sources import SourceTrack
from plexm8.core.sync_plan import (
    ItemKind,
    JournalState,
    PlanAction,
    PlanItem,
    RunState,
    SyncPolicy,
    SyncRun,
    choose_track,
    dismiss_item,
)
from plexm8.errors import ReviewItemConflict, SyncRunBusy, TrackNotFound
from plexsim.server import RunningServer


def _keys(services: Services, sim: RunningServer) -> tuple[list[int], list[int]]:
    rated = plex_ratings(sim)
    keys = track_keys(services)
    return [k for k in keys if k not in rated], [k for k in keys if k in rated]


def _plan(
    services: Services,
    account: PlexAccount,
    matched: Sequence[tuple[int, int]],
    review: Sequence[tuple[SourceTrack, tuple[int, ...]]],
    policy: SyncPolicy = SyncPolicy.FILL,
) -> SyncRun:
    outcome = MatchOutcome(
        matched=[
            Match(source_track(n, r), k, MatchMethod.PATH, 1.0, "same file path") for n, (k, r) in enumerate(matched)
        ],
        review=[ReviewItem(s, c, tuple(0.8 for _ in c), "two albums have this song") for s, c in review],
    )
    return services.sync.plan_outcome(account, outcome, source_kind="itunes", source_name="Library.xml", policy=policy)


def test_the_run_policy_decides_a_chosen_track_like_any_match(
    services: Services, sim: RunningServer, account: PlexAccount
) -> None:
    unrated, rated = _keys(services, sim)
    current = plex_ratings(sim)
    other = 2 if round(current[rated[0]]) != 2 else 4
    review = [(source_track(50, other), (rated[0], unrated[5]))]

    kept = _plan(services, account, [], review)
    settled = services.sync.resolve(account, kept.id, 0, rating_key=rated[0])
    assert settled.item.plan.action is PlanAction.KEEP and settled.item.state is None
    assert settled.run.counts["conflicts"] == 1 and settled.run.counts["updated"] == 0

    overwritten = _plan(services, account, [], review, SyncPolicy.OVERWRITE)
    settled = services.sync.resolve(account, overwritten.id, 0, rating_key=rated[0])
    plan = settled.item.plan
    assert (plan.kind, plan.action, plan.target, plan.plex_rating) == (
        ItemKind.MATCHED,
        PlanAction.WRITE,
        other,
        round(current[rated[0]]),
    )
    assert settled.item.state is JournalState.PLANNED and settled.run.counts["updated"] == 1
    sim.knobs.clear_log()
    services.sync.apply(account, overwritten.id)
    assert rate_writes(sim) == {rated[0]: 1}
    assert plex_ratings(sim)[rated[0]] == float(other)


def test_a_partly_applied_run_takes_a_choice_and_the_resumed_apply_writes_it(
    services: Services, sim: RunningServer, account: PlexAccount
) -> None:
    unrated, _ = _keys(services, sim)
    run = _plan(services, account, [(unrated[0], 6)], [(source_track(9, 8), (unrated[1], unrated[2]))])
    # What a crash mid-apply leaves: the run applying, its job gone.
    services.sync.store.set_run_state(run.id, RunState.APPLYING)
    settled = services.sync.resolve(account, run.id, 1, rating_key=unrated[2])
    assert settled.item.plan.reason.startswith("chosen by you from 2 candidates")
    sim.knobs.clear_log()

    applied = services.sync.apply(account, run.id)

    assert applied.state is RunState.APPLIED and applied.journal == {"confirmed": 2}
    assert rate_writes(sim) == {unrated[0]: 1, unrated[2]: 1}
    with pytest.raises(SyncRunBusy, match="applied"):
        services.sync.resolve(account, run.id, 1, dismiss=True)


def test_settling_checks_the_item_the_track_and_duplicates(
    services: Services, sim: RunningServer, account: PlexAccount
) -> None:
    unrated, _ = _keys(services, sim)
    nameless = SourceTrack(ordinal=7, title="No Place", artist="Nobody")
    run = _plan(
        services,
        account,
        [(unrated[0], 6)],
        [(source_track(8, 8), (unrated[0], unrated[1])), (nameless, (unrated[3], unrated[4]))],
    )
    before = services.sync.store.items(run.id)
    with pytest.raises(ReviewItemConflict, match="already matched by item 0"):
        services.sync.resolve(account, run.id, 1, rating_key=unrated[0])
    with pytest.raises(TrackNotFound):
        services.sync.resolve(account, run.id, 1, rating_key=10**9)
    with pytest.raises(ReviewItemConflict, match="not a review item"):
        services.sync.resolve(account, run.id, 0, dismiss=True)
    with pytest.raises(ValueError, match="either"):
        services.sync.resolve(account, run.id, 1, rating_key=unrated[1], dismiss=True)
    assert services.sync.store.items(run.id) == before

    # A track named by the user that is none of the candidates; a source that cannot be recognised again.
    named = services.sync.resolve(account, run.id, 2, rating_key=unrated[5])
    assert named.item.plan.reason.startswith("named by you (not one of the 2 candidates)")
    assert named.remembered is False
    # The store re-checks inside its transaction: a second settlement of the same item loses.
    stale = dataclasses.replace(before[1][1].plan, action=PlanAction.DISMISSED)
    services.sync.resolve(account, run.id, 1, dismiss=True)
    with pytest.raises(ReviewItemConflict, match="not an open review item"):
        services.sync.store.settle(run.id, stale)
    assert services.sync.run(account.key, run.id).counts["dismissed"] == 1


def test_a_run_being_applied_by_a_live_job_refuses(
    services: Services, sim: RunningServer, account: PlexAccount
) -> None:
    unrated, _ = _keys(services, sim)
    run = _plan(services, account, [(k, 8) for k in unrated[:20]], [(source_track(90, 8), (unrated[30], unrated[31]))])
    sim.knobs.configure(slow_path=r"^/:/rate$", slow_ms=50)
    job = services.sync.start_apply(account, run.id)
    for _ in range(400):  # until the apply job has claimed the run
        if services.sync.run(account.key, run.id).job_id == job.id:
            break
        time.sleep(0.025)
    with pytest.raises(SyncRunBusy, match="being applied"):
        services.sync.resolve(account, run.id, 20, dismiss=True)
    assert services.jobs.wait(job.id, timeout=30).state is JobState.SUCCEEDED
    assert services.sync.store.item(run.id, 20) == services.sync.store.items(run.id, status="review")[1][0]


def test_only_open_review_items_can_be_settled() -> None:
    review = PlanItem(position=3, kind=ItemKind.REVIEW, source=source_track(3, 8), source_rating=8, candidates=(5, 6))
    chosen = choose_track(review, 6, None, policy=SyncPolicy.FILL, winner=None)
    assert (chosen.kind, chosen.action, chosen.target, chosen.method, chosen.confidence) == (
        ItemKind.MATCHED,
        PlanAction.WRITE,
        8,
        "remembered",
        1.0,
    )
    assert choose_track(review, 5, 8, policy=SyncPolicy.FILL, winner=None).action is PlanAction.NOOP
    dismissed = dismiss_item(review)
    assert dismissed.kind is ItemKind.REVIEW and dismissed.action is PlanAction.DISMISSED
    for settled in (chosen, dismissed):
        with pytest.raises(ReviewItemConflict):
            dismiss_item(settled)
        with pytest.raises(ReviewItemConflict):
            choose_track(settled, 5, None, policy=SyncPolicy.FILL, winner=None)
