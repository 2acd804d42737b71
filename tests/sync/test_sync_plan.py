"""The pure sync plan: one action per matched track under each policy, rounding no-ops, duplicates, the summary."""

from __future__ import annotations

import pytest

from plexm8.core.matching import Match, MatchMethod, MatchOutcome, ReviewItem
from plexm8.core.ratings import Rating
from plexm8.core.sources import RatingScale, SourceRating, SourceTrack
from plexm8.core.sync_plan import ItemKind, PlanAction, SyncPolicy, Winner, build_plan

# (Plex rating, source rating) pairs covering every case; None = unrated on that side.
CASES = [(None, 8), (6, 8), (8, 6), (8, 8), (8, None), (None, None)]


def _track(n: int, rating: int | None) -> SourceTrack:
    scaled = None if rating is None else SourceRating(RatingScale.PLEX, float(rating), Rating(rating))
    return SourceTrack(ordinal=n, location=f"/m/{n}.mp3", rating=scaled)


def _plan(policy: SyncPolicy, winner: Winner | None = None) -> list[tuple[PlanAction | None, int | None]]:
    outcome = MatchOutcome(
        matched=[Match(_track(n, s), 100 + n, MatchMethod.PATH, 1.0, "path") for n, (_, s) in enumerate(CASES)]
    )
    current = {100 + n: Rating(p) for n, (p, _) in enumerate(CASES) if p is not None}
    plan = build_plan(outcome, current, policy=policy, winner=winner)
    return [(item.action, item.target) for item in plan.items]


W, N, K, S, R = PlanAction.WRITE, PlanAction.NOOP, PlanAction.KEEP, PlanAction.SOURCE_CHANGE, PlanAction.NO_RATING


@pytest.mark.parametrize(
    ("policy", "winner", "expected"),
    [
        (SyncPolicy.FILL, None, [(W, 8), (K, None), (K, None), (N, None), (R, None), (R, None)]),
        (SyncPolicy.OVERWRITE, None, [(W, 8), (W, 8), (W, 6), (N, None), (R, None), (R, None)]),
        (SyncPolicy.HIGHER, None, [(W, 8), (W, 8), (K, None), (N, None), (R, None), (R, None)]),
        (SyncPolicy.TWO_WAY, Winner.SOURCE, [(W, 8), (W, 8), (W, 6), (N, None), (S, None), (R, None)]),
        (SyncPolicy.TWO_WAY, Winner.PLEX, [(W, 8), (S, None), (S, None), (N, None), (S, None), (R, None)]),
    ],
)
def test_each_policy_decides_every_case(
    policy: SyncPolicy, winner: Winner | None, expected: list[tuple[PlanAction, int | None]]
) -> None:
    assert _plan(policy, winner) == expected


def test_fill_never_touches_a_rated_track_and_never_clears() -> None:
    for action, target in _plan(SyncPolicy.FILL):
        assert target is None or action is PlanAction.WRITE
    # No policy ever writes "unrated": a source without a rating is never a reason to clear Plex's.
    for policy, winner in [(p, Winner.SOURCE if p is SyncPolicy.TWO_WAY else None) for p in SyncPolicy]:
        assert all(target is not None for action, target in _plan(policy, winner) if action is PlanAction.WRITE)


def test_plex_floats_round_to_the_source_value_so_nothing_is_rewritten() -> None:
    # Plex stores odd floats (7.5999999); compared on the whole-number scale they equal the source's 8.
    outcome = MatchOutcome(matched=[Match(_track(0, 8), 100, MatchMethod.PATH, 1.0, "path")])
    plan = build_plan(outcome, {100: Rating.from_plex(7.5999999)}, policy=SyncPolicy.OVERWRITE)
    assert [item.action for item in plan.items] == [PlanAction.NOOP]
    assert plan.writes == []


def test_zero_counts_as_unrated_on_both_sides() -> None:
    outcome = MatchOutcome(matched=[Match(_track(0, 0), 100, MatchMethod.PATH, 1.0, "path")])
    assert build_plan(outcome, {}).items[0].action is PlanAction.NO_RATING
    outcome = MatchOutcome(matched=[Match(_track(0, 6), 100, MatchMethod.PATH, 1.0, "path")])
    assert build_plan(outcome, {100: Rating(0)}).items[0].action is PlanAction.WRITE


def test_disagreeing_duplicates_write_nothing_and_agreeing_ones_write_once() -> None:
    outcome = MatchOutcome(
        matched=[
            Match(_track(0, 8), 100, MatchMethod.PATH, 1.0, "path"),
            Match(_track(1, 4), 100, MatchMethod.METADATA, 0.99, "metadata"),
            Match(_track(2, 6), 200, MatchMethod.PATH, 1.0, "path"),
            Match(_track(3, 6), 200, MatchMethod.REMEMBERED, 1.0, "remembered"),
        ]
    )
    plan = build_plan(outcome, {}, policy=SyncPolicy.OVERWRITE)
    actions = [item.action for item in plan.items]
    assert actions == [PlanAction.DUPLICATE, PlanAction.DUPLICATE, PlanAction.WRITE, PlanAction.NOOP]
    assert [(item.rating_key, item.target) for item in plan.writes] == [(200, 6)]
    assert plan.counts()["conflicts"] == 2


def test_review_and_unmatched_are_carried_but_never_written() -> None:
    outcome = MatchOutcome(
        matched=[Match(_track(0, 8), 100, MatchMethod.FUZZY, 0.97, "fuzzy title")],
        review=[ReviewItem(_track(1, 10), (300, 301), (0.8, 0.78), "two albums have this song")],
        unmatched=[_track(2, 4)],
    )
    plan = build_plan(outcome, {})
    kinds = [(item.kind, item.action) for item in plan.items]
    assert kinds == [(ItemKind.MATCHED, PlanAction.WRITE), (ItemKind.REVIEW, None), (ItemKind.UNMATCHED, None)]
    assert plan.items[1].candidates == (300, 301)
    assert [item.position for item in plan.items] == [0, 1, 2]
    counts = plan.counts()
    assert (counts["matched"], counts["updated"], counts["review"], counts["unmatched"]) == (1, 1, 1, 1)
    assert counts["by_method"] == {"fuzzy": 1}


def test_summary_has_the_ratingsync_fields() -> None:
    outcome = MatchOutcome(
        matched=[Match(_track(n, s), 100 + n, MatchMethod.PATH, 1.0, "path") for n, (_, s) in enumerate(CASES)]
    )
    current = {100 + n: Rating(p) for n, (p, _) in enumerate(CASES) if p is not None}
    counts = build_plan(outcome, current).counts()
    # fill: one write, one no-op, two kept conflicts, two without a source rating.
    assert {k: counts[k] for k in ("matched", "updated", "skipped", "unmatched", "conflicts")} == {
        "matched": 6,
        "updated": 1,
        "skipped": 5,
        "unmatched": 0,
        "conflicts": 2,
    }
    assert counts["noops"] == 1


def test_two_way_needs_a_winner_and_others_refuse_one() -> None:
    with pytest.raises(ValueError, match="winner"):
        build_plan(MatchOutcome(), {}, policy=SyncPolicy.TWO_WAY)
    with pytest.raises(ValueError, match="winner"):
        build_plan(MatchOutcome(), {}, policy=SyncPolicy.FILL, winner=Winner.PLEX)
