"""Rating sync plans: what each matched track's rating should become under a policy, and the run's journal records.

A sync is planned before anything is written. :func:`build_plan` compares, for every matched track, the rating the
source gives with the rating Plex has now (read from the freshly refreshed index) and decides one
:class:`PlanAction` under the :class:`SyncPolicy`; review items and unmatched tracks are carried along for the
report but never acted on. Both sides are compared on Plex's whole-number 0-10 scale (the source's rating already
converted and rounded by its importer, Plex's float rounded by :meth:`Rating.from_plex`), so equal values after
rounding are no-ops and a second run writes nothing.

Applying a plan walks every ``write`` item through the journal states of :class:`JournalState`
(``planned`` → ``written`` → ``confirmed``), the previous Plex value recorded before the write; undo restores the
recorded previous values where Plex still shows what the run wrote. This module is pure: the store, the Plex
writer and the service implement and use the ports at the end.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from plexm8.core.jobs import JsonValue
from plexm8.core.matching import MatchMethod, MatchOutcome
from plexm8.core.ratings import Rating
from plexm8.core.sources import SourceTrack
from plexm8.errors import ReviewItemConflict

__all__ = [
    "ItemKind",
    "JournalEntry",
    "JournalState",
    "PlanAction",
    "PlanItem",
    "PlexRatingState",
    "RatingWriter",
    "RunItem",
    "RunState",
    "SyncPlan",
    "SyncPolicy",
    "SyncRun",
    "SyncRunStore",
    "UndoState",
    "Winner",
    "WriteOutcome",
    "WriteResult",
    "build_plan",
    "choose_track",
    "dismiss_item",
    "plan_counts",
]


class SyncPolicy(StrEnum):
    """Which side's rating a sync keeps where both are rated and differ."""

    #: Only tracks unrated in Plex get the source's rating (the default: nothing the user set in Plex changes).
    FILL = "fill"
    #: The source's rating replaces Plex's wherever they differ.
    OVERWRITE = "overwrite"
    #: The higher of the two wins; Plex is written only when the source's is higher.
    HIGHER = "higher"
    #: Both sides should end up equal; :class:`Winner` decides conflicts. Source-side changes are reported only.
    TWO_WAY = "two-way"


class Winner(StrEnum):
    """In a two-way sync, whose rating wins where both are rated and differ."""

    PLEX = "plex"
    SOURCE = "source"


class ItemKind(StrEnum):
    """Whether a source track was matched, sent to review, or not found in Plex."""

    MATCHED = "matched"
    REVIEW = "review"
    UNMATCHED = "unmatched"


class PlanAction(StrEnum):
    """What the plan does with one matched track (or, ``dismissed``, with a review item the user dismissed)."""

    #: Plex gets the source's rating.
    WRITE = "write"
    #: Both sides already agree (after rounding to Plex's scale).
    NOOP = "noop"
    #: The policy keeps Plex's rating (a conflict when both are rated).
    KEEP = "keep"
    #: Two-way, Plex wins: the source should take Plex's rating. Reported only; PlexM8 never writes player files.
    SOURCE_CHANGE = "source-change"
    #: The source has no rating for the track and nothing is to be done.
    NO_RATING = "no-rating"
    #: Several source tracks matched this Plex track with different ratings: nothing is written.
    DUPLICATE = "duplicate"
    #: A review item the user dismissed (its kind stays ``review``): never written.
    DISMISSED = "dismissed"


class JournalState(StrEnum):
    """Where one ``write`` item is in applying; only ``planned`` and ``written`` items are touched by a resume."""

    #: Not sent yet; its previous value is recorded before it moves on.
    PLANNED = "planned"
    #: The write was (or was about to be) sent and its outcome is not known: a resume reads Plex before acting.
    WRITTEN = "written"
    #: Plex acknowledged the write (or, resuming, shows the value the run wrote); the index shows it too.
    CONFIRMED = "confirmed"
    #: Plex's rating changed after the plan (by the user or another tool): not written, re-plan to include it.
    STALE = "stale"
    #: Plex refused the write: the track is gone.
    FAILED = "failed"


class UndoState(StrEnum):
    """What undo did with one confirmed item."""

    UNDONE = "undone"
    #: Plex shows another rating than the run wrote: the user changed it since, so it is left alone.
    REFUSED = "refused"


class RunState(StrEnum):
    """Where a sync run is."""

    PLANNED = "planned"
    APPLYING = "applying"
    APPLIED = "applied"
    UNDOING = "undoing"
    UNDONE = "undone"


@dataclass(frozen=True, slots=True)
class PlanItem:
    """One source track in the plan: the match (if any), both ratings on Plex's scale and the decided action.

    ``plex_rating``/``source_rating``/``target`` are whole numbers 0-10 or ``None`` (unrated). ``candidates`` are
    the Plex keys a review item could be. ``position`` orders the plan (matched first, then review, unmatched).
    """

    position: int
    kind: ItemKind
    source: SourceTrack
    action: PlanAction | None = None
    rating_key: int | None = None
    method: str | None = None
    confidence: float | None = None
    reason: str = ""
    source_rating: int | None = None
    plex_rating: int | None = None
    target: int | None = None
    candidates: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class SyncPlan:
    """Every item of a planned sync, in position order."""

    policy: SyncPolicy
    winner: Winner | None
    items: tuple[PlanItem, ...]

    @property
    def writes(self) -> list[PlanItem]:
        """The items that write to Plex."""
        return [item for item in self.items if item.action is PlanAction.WRITE]

    def counts(self) -> dict[str, JsonValue]:
        """The summary of the plan (see :func:`plan_counts`)."""
        return plan_counts(self.items)


def plan_counts(items: Sequence[PlanItem]) -> dict[str, JsonValue]:
    """The seed's RatingSync summary of ``items`` plus detail.

    ``matched``, ``updated`` (to write), ``skipped`` (matched, nothing written: no-ops, kept, source changes,
    unrated in the source, duplicates), ``unmatched``, ``conflicts`` (both sides rated differently and Plex kept,
    or disagreeing duplicates), plus ``review`` (review items still to settle), ``dismissed``, ``noops``,
    ``source_changes``, ``by_action`` and ``by_method``.
    """
    kinds = Counter(item.kind for item in items)
    actions = Counter(item.action for item in items if item.action is not None)
    methods = Counter(item.method for item in items if item.kind is ItemKind.MATCHED and item.method)
    conflicts = sum(
        1
        for item in items
        if item.action is PlanAction.DUPLICATE
        or (
            item.action in (PlanAction.KEEP, PlanAction.SOURCE_CHANGE)
            and item.plex_rating is not None
            and item.source_rating is not None
        )
    )
    matched = kinds[ItemKind.MATCHED]
    return {
        "matched": matched,
        "updated": actions[PlanAction.WRITE],
        "skipped": matched - actions[PlanAction.WRITE],
        "unmatched": kinds[ItemKind.UNMATCHED],
        "conflicts": conflicts,
        "review": kinds[ItemKind.REVIEW] - actions[PlanAction.DISMISSED],
        "dismissed": actions[PlanAction.DISMISSED],
        "noops": actions[PlanAction.NOOP],
        "source_changes": actions[PlanAction.SOURCE_CHANGE],
        "by_action": {action.value: actions[action] for action in PlanAction},
        "by_method": dict(sorted((str(method), count) for method, count in methods.items())),
    }


def _rated(value: int | None) -> int | None:
    """0 means unrated on every scale (Plex never shows a 0 rating as a rating), so it never counts as one."""
    return value if value else None


def _decide(
    policy: SyncPolicy, winner: Winner | None, plex: int | None, source: int | None
) -> tuple[PlanAction, int | None, str]:
    """The action, target (for writes) and a one-line reason for one track."""
    if source is not None and plex == source:
        return PlanAction.NOOP, None, "same rating on both sides"
    if policy is SyncPolicy.TWO_WAY:
        if source is None:
            if plex is None:
                return PlanAction.NO_RATING, None, "rated on neither side"
            return PlanAction.SOURCE_CHANGE, None, "rated only in Plex: the source should take Plex's rating"
        if plex is None or winner is Winner.SOURCE:
            why = "unrated in Plex" if plex is None else "both rated, the source wins"
            return PlanAction.WRITE, source, why
        return PlanAction.SOURCE_CHANGE, None, "both rated, Plex wins: the source should take Plex's rating"
    if source is None:
        return PlanAction.NO_RATING, None, "the source has no rating"
    if plex is None:
        return PlanAction.WRITE, source, "unrated in Plex"
    if policy is SyncPolicy.OVERWRITE:
        return PlanAction.WRITE, source, "the source's rating replaces Plex's (policy overwrite)"
    if policy is SyncPolicy.HIGHER:
        if source > plex:
            return PlanAction.WRITE, source, "the source's rating is higher (policy higher)"
        return PlanAction.KEEP, None, "Plex's rating is higher (policy higher)"
    return PlanAction.KEEP, None, "already rated in Plex (policy fill)"


def build_plan(
    outcome: MatchOutcome,
    current: Mapping[int, Rating],
    *,
    policy: SyncPolicy = SyncPolicy.FILL,
    winner: Winner | None = None,
) -> SyncPlan:
    """The plan for a match outcome given each matched track's current Plex rating (absent = unrated).

    Raises :class:`ValueError` when ``policy`` is two-way without a ``winner`` (or a winner is given for another
    policy). A Plex track matched by several source tracks is written only when they all give the same rating;
    otherwise every one of them becomes a ``duplicate`` and nothing is written for it.
    """
    if (policy is SyncPolicy.TWO_WAY) != (winner is not None):
        raise ValueError("a two-way sync needs a winner ('plex' or 'source'), and only a two-way sync takes one")
    by_key: dict[int, set[int | None]] = {}
    for match in outcome.matched:
        by_key.setdefault(match.rating_key, set()).add(
            _rated(match.source.rating.plex.value) if match.source.rating is not None else None
        )
    items: list[PlanItem] = []
    written: set[int] = set()
    for match in outcome.matched:
        source = _rated(match.source.rating.plex.value) if match.source.rating is not None else None
        plex = _rated(current.get(match.rating_key, Rating.clear()).value)
        if len(by_key[match.rating_key]) > 1:
            action, target, reason = PlanAction.DUPLICATE, None, "several source tracks match this Plex track"
            reason += " with different ratings: nothing is written"
        else:
            action, target, reason = _decide(policy, winner, plex, source)
            if action is PlanAction.WRITE:
                if match.rating_key in written:
                    # The same rating from a duplicate source entry: one write is enough.
                    action, target, reason = PlanAction.NOOP, None, "written for another source entry of this track"
                else:
                    written.add(match.rating_key)
        items.append(
            PlanItem(
                position=len(items),
                kind=ItemKind.MATCHED,
                source=match.source,
                action=action,
                rating_key=match.rating_key,
                method=str(match.method),
                confidence=match.confidence,
                reason=f"{match.reason}; {reason}" if match.reason else reason,
                source_rating=source,
                plex_rating=plex,
                target=target,
            )
        )
    for review in outcome.review:
        source = _rated(review.source.rating.plex.value) if review.source.rating is not None else None
        items.append(
            PlanItem(
                position=len(items),
                kind=ItemKind.REVIEW,
                source=review.source,
                reason=review.reason,
                source_rating=source,
                candidates=review.candidates,
                confidence=review.confidences[0] if review.confidences else None,
            )
        )
    for track in outcome.unmatched:
        source = _rated(track.rating.plex.value) if track.rating is not None else None
        items.append(
            PlanItem(
                position=len(items),
                kind=ItemKind.UNMATCHED,
                source=track,
                reason="no track in Plex matches",
                source_rating=source,
            )
        )
    return SyncPlan(policy=policy, winner=winner, items=tuple(items))


def choose_track(
    item: PlanItem,
    rating_key: int,
    plex_rating: int | None,
    *,
    policy: SyncPolicy,
    winner: Winner | None,
) -> PlanItem:
    """The open review ``item`` settled by the user choosing ``rating_key`` (Plex's rating of it: ``plex_rating``).

    It becomes a matched item, remembered-strength (confidence 1.0), whose action the run's policy decides exactly
    like any other matched item's. Raises :class:`ReviewItemConflict` unless ``item`` is an open review item.
    """
    _require_open(item)
    count = len(item.candidates)
    noun = "candidate" if count == 1 else "candidates"
    if rating_key in item.candidates:
        how = f"chosen by you from {count} {noun}"
    else:
        how = f"named by you (not one of the {count} {noun})"
    plex = _rated(plex_rating)
    action, target, reason = _decide(policy, winner, plex, item.source_rating)
    return PlanItem(
        position=item.position,
        kind=ItemKind.MATCHED,
        source=item.source,
        action=action,
        rating_key=rating_key,
        method=MatchMethod.REMEMBERED.value,
        confidence=1.0,
        reason=f"{how}; {reason}",
        source_rating=item.source_rating,
        plex_rating=plex,
        target=target,
        candidates=item.candidates,
    )


def dismiss_item(item: PlanItem) -> PlanItem:
    """The open review ``item`` dismissed by the user: kept for the report, never written.

    Raises :class:`ReviewItemConflict` unless ``item`` is an open review item.
    """
    _require_open(item)
    return dataclasses.replace(item, action=PlanAction.DISMISSED, reason=f"dismissed by you; {item.reason}")


def _require_open(item: PlanItem) -> None:
    if item.kind is not ItemKind.REVIEW:
        raise ReviewItemConflict(
            f"item {item.position} is not a review item (it is {item.kind.value}): nothing to settle"
        )
    if item.action is not None:
        raise ReviewItemConflict(f"review item {item.position} was already {item.action.value}")


# --- runs and their journal ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SyncRun:
    """One planned (and possibly applied or undone) sync of one account; ``counts`` is the plan's summary.

    ``journal`` counts the ``write`` items by :class:`JournalState` and undo outcome; ``job_id`` is the job that
    last applied or undid the run (to tell a live apply from one a crash left behind).
    """

    id: int
    account: str
    source_kind: str
    source_name: str
    policy: SyncPolicy
    winner: Winner | None
    state: RunState
    created_at: float
    applied_at: float | None
    undone_at: float | None
    counts: Mapping[str, JsonValue]
    options: Mapping[str, JsonValue]
    journal: Mapping[str, int] = field(default_factory=dict)
    job_id: int | None = None


@dataclass(frozen=True, slots=True)
class RunItem:
    """A plan item as stored with its run, with its journal: state, previous Plex value, undo outcome."""

    plan: PlanItem
    state: JournalState | None = None
    #: Plex's ``userRating`` (float, ``None`` = unrated) and ``lastRatedAt`` right before the run wrote it.
    previous_rating: float | None = None
    previous_rated_at: int | None = None
    written_at: float | None = None
    undo_state: UndoState | None = None
    message: str | None = None


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """A ``write`` item as applying and undoing need it: where it is, what it writes, what Plex had before."""

    position: int
    rating_key: int
    plex_rating: int | None
    target: int
    previous_rating: float | None
    previous_rated_at: int | None
    undo_state: UndoState | None


@dataclass(frozen=True, slots=True)
class PlexRatingState:
    """An account's rating of one track as Plex reports it now."""

    user_rating: float | None
    last_rated_at: int | None

    @property
    def rating(self) -> Rating:
        """The rating rounded to Plex's whole-number scale."""
        return Rating.from_plex(self.user_rating)


class WriteOutcome(StrEnum):
    """What became of one rating write."""

    OK = "ok"
    #: Plex answered 404: no such track (deleted since the plan).
    NOT_FOUND = "not-found"
    #: No answer or an error answer: the write may or may not have landed.
    UNKNOWN = "unknown"
    #: Plex refused the token.
    UNAUTHORIZED = "unauthorized"


@dataclass(frozen=True, slots=True)
class WriteResult:
    """The outcome of writing one track's rating, with a one-line message for failures."""

    rating_key: int
    outcome: WriteOutcome
    message: str = ""


class RatingWriter(Protocol):
    """Writes and reads one account's track ratings on the Plex server, many at a time."""

    def write_ratings(self, changes: Sequence[tuple[int, float | None]]) -> list[WriteResult]:
        """Set each track's rating to the 0-10 value (``None`` clears it), a bounded number in flight.

        One result per change, in order; a failed write never raises: its result says what happened.
        """
        ...

    def read_ratings(self, keys: Sequence[int]) -> dict[int, PlexRatingState]:
        """The current rating of each of ``keys`` that Plex knows; raises the Plex errors when it cannot read."""
        ...


class SyncRunStore(Protocol):
    """Where sync runs, their plans and their journals live (the index database: written ratings go to the index
    in the same transaction that journals them)."""

    def create_run(
        self,
        *,
        account: str,
        source_kind: str,
        source_name: str,
        plan: SyncPlan,
        options: Mapping[str, JsonValue],
        created_at: float,
    ) -> SyncRun:
        """Store a new planned run with every plan item (``write`` items journaled as ``planned``)."""
        ...

    def run(self, run_id: int) -> SyncRun | None:
        """The run with this id, or ``None``."""
        ...

    def runs(self, *, account: str | None = None, limit: int = 50) -> list[SyncRun]:
        """Runs newest first, optionally of one account."""
        ...

    def items(
        self, run_id: int, *, status: str | None = None, limit: int | None = None, offset: int = 0
    ) -> tuple[int, list[RunItem]]:
        """How many items match ``status`` (a kind, action, journal or undo state; ``None`` = all) and one page."""
        ...

    def set_run_state(
        self, run_id: int, state: RunState, *, job_id: int | None = None, at: float | None = None
    ) -> None:
        """Move the run to ``state`` (recording ``at`` as applied/undone time for those states)."""
        ...

    def item(self, run_id: int, position: int) -> RunItem | None:
        """The run's item at ``position``, or ``None``."""
        ...

    def is_track(self, rating_key: int) -> bool:
        """Whether the index has a track with this rating key."""
        ...

    def settle(self, run_id: int, item: PlanItem) -> None:
        """Replace an open review item by ``item`` (chosen or dismissed) and update the run's counts; one commit.

        Raises :class:`ReviewItemConflict` when the stored item is no longer an open review item, the run is no
        longer planned or applying, or ``item`` matches a track another matched item of the run already has.
        """
        ...

    def journal(self, run_id: int, state: JournalState) -> list[JournalEntry]:
        """The run's ``write`` items in ``state``, in position order."""
        ...

    def record_previous(
        self, run_id: int, previous: Sequence[tuple[int, PlexRatingState]], stale: Sequence[tuple[int, str]]
    ) -> None:
        """Journal each position's previous Plex value; mark ``stale`` positions with their message. One commit."""
        ...

    def mark(self, run_id: int, positions: Sequence[int], state: JournalState, *, message: str | None = None) -> None:
        """Move these items to ``state`` in one commit (``written`` records the time)."""
        ...

    def confirm(self, run_id: int, account: str, confirmed: Sequence[tuple[int, int, PlexRatingState]]) -> None:
        """Mark ``(position, rating_key, what Plex reports)`` confirmed and show the ratings in the account's index."""
        ...

    def record_undo(
        self,
        run_id: int,
        account: str,
        undone: Sequence[tuple[int, int, PlexRatingState]],
        refused: Sequence[tuple[int, str]],
    ) -> None:
        """Mark items undone (and show their restored ratings in the index) or refused with a message."""
        ...
