"""Rating sync: plan from a player's export, apply the plan to Plex through the journal, undo a run; all as jobs.

The flow, and what makes each step safe:

1. **Plan** (:meth:`SyncService.plan_file` / :meth:`SyncService.plan_outcome`): the source is matched, the account's
   index is refreshed incrementally (so the Plex ratings compared are current), and :func:`build_plan` decides one
   action per matched track. The plan is stored as a run; nothing is sent to Plex but reads.
2. **Apply** (:meth:`SyncService.apply`): the index is refreshed again; a ``write`` item whose Plex rating moved
   since the plan becomes ``stale`` and is not written. The previous value of every other item is committed to the
   journal first; then, chunk by chunk, the items are marked ``written``, sent concurrently, and what Plex
   acknowledged is marked ``confirmed`` together with the new rating in the index. A kill at any point leaves items
   ``planned`` (never sent), ``written`` (maybe sent) or ``confirmed``. Resuming reads Plex for the ``written``
   ones: already showing the target → confirmed without a second write; still the previous value → written again;
   anything else → stale.
3. **Undo** (:meth:`SyncService.undo`): for every item the run confirmed, Plex's current rating is read; where it
   is still what the run wrote, the recorded previous value is written back (cleared when it was unrated);
   elsewhere the user changed it since, and undo refuses that item with a message. Undo is idempotent: an item
   already showing its previous value counts as undone without a write.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from plexm8.core.accounts import PlexAccount
from plexm8.core.catalog import LibraryStore
from plexm8.core.jobs import JobControl, JobOutcome, JobRecord, JsonValue
from plexm8.core.matcher import memory_key
from plexm8.core.matching import Match, MatchMethod, MatchOutcome, PathMapping
from plexm8.core.ratings import Rating
from plexm8.core.sources import SourceReport
from plexm8.core.sync_plan import (
    ItemKind,
    JournalEntry,
    JournalState,
    PlexRatingState,
    RatingWriter,
    RunItem,
    RunState,
    SyncPolicy,
    SyncRun,
    SyncRunStore,
    Winner,
    WriteOutcome,
    build_plan,
    choose_track,
    dismiss_item,
)
from plexm8.errors import (
    JobNotFound,
    PlexAuthError,
    PlexUnavailable,
    ReviewItemNotFound,
    SyncRunBusy,
    SyncRunNotFound,
    TrackNotFound,
)
from plexm8.services.jobs import JobRunner, owner_is_live

__all__ = [
    "SYNC_APPLY_JOB",
    "SYNC_PLAN_JOB",
    "SYNC_UNDO_JOB",
    "MatchRecorder",
    "Progress",
    "Resolution",
    "SourceMatcher",
    "SyncRequest",
    "SyncService",
    "run_summary",
]

log = logging.getLogger(__name__)

#: Job kinds.
SYNC_PLAN_JOB = "ratings_sync"
SYNC_APPLY_JOB = "ratings_sync_apply"
SYNC_UNDO_JOB = "ratings_sync_undo"
#: Writes journaled, sent and confirmed together: a kill loses at most this many "written" outcomes to re-read.
DEFAULT_CHUNK = 500

#: Progress reports: stage, done, total (a job's control, or the CLI's printer).
Progress = Callable[[str, int, int | None], None]


class SourceMatcher(Protocol):
    """Reads a player export (``kind`` at ``path``) and matches its tracks to the account's index."""

    def __call__(
        self, account: str, kind: str, path: Path, path_mappings: Sequence[PathMapping] | None
    ) -> tuple[MatchOutcome, SourceReport]: ...


class MatchRecorder(Protocol):
    """Remembers matches that an apply confirmed, so the next sync of the same source finds them first."""

    def __call__(self, account: str, source_kind: str, matches: Sequence[Match]) -> None: ...


@dataclass(frozen=True, slots=True)
class SyncRequest:
    """What to sync: the export (kind, file, the name shown for it) and how."""

    kind: str
    path: Path
    source_name: str
    policy: SyncPolicy = SyncPolicy.FILL
    winner: Winner | None = None
    path_mappings: tuple[PathMapping, ...] | None = None
    #: The file is PlexM8's own copy (an upload): deleted once the plan is made, whatever happens.
    temporary: bool = False


@dataclass(frozen=True, slots=True)
class Resolution:
    """A settled review item, its run afterwards, and whether the choice was remembered for the next sync."""

    run: SyncRun
    item: RunItem
    remembered: bool


def _no_progress(stage: str, done: int, total: int | None) -> None:
    """Ignore progress."""


def _rated(rating: Rating) -> int | None:
    return rating.value if rating.value else None


def _show(value: int | float | None) -> str:
    return "unrated" if value is None else f"{value:g}"


def run_summary(run: SyncRun) -> dict[str, JsonValue]:
    """A run as the seed's RatingSync summary (matched, updated, skipped, unmatched, conflicts) with its links.

    Before an apply ``updated`` is what the plan would write; after it, what Plex confirmed.
    """
    counts = dict(run.counts)
    journal = dict(run.journal)
    applied = run.state is not RunState.PLANNED
    summary: dict[str, JsonValue] = {
        "run": run.id,
        "state": run.state.value,
        "dry_run": not applied,
        "matched": counts.get("matched", 0),
        "updated": journal.get(JournalState.CONFIRMED.value, 0) if applied else counts.get("updated", 0),
        "skipped": counts.get("skipped", 0),
        "unmatched": counts.get("unmatched", 0),
        "conflicts": counts.get("conflicts", 0),
        "review": counts.get("review", 0),
        "dismissed": counts.get("dismissed", 0),
        "to_write": counts.get("updated", 0),
        "noops": counts.get("noops", 0),
        "by_method": counts.get("by_method", {}),
        "journal": {key: int(value) for key, value in journal.items()},
        "url": f"/api/ratings/sync/{run.id}",
        "items_url": f"/api/ratings/sync/{run.id}/items",
    }
    return summary


class SyncService:
    """Plans, applies and undoes rating syncs of any account, recorded in ``store`` and run as jobs on ``runner``.

    ``refresh`` brings an account's index up to date (incrementally) and must not wait on ``runner``'s workers
    (a sync job occupies one while it refreshes); ``index`` reads the refreshed ratings; ``writers`` gives the
    rating writer of the account owning a token; ``match`` reads and matches an export; ``probe`` reads the first
    record of an export (to refuse a wrong file before a job starts); ``remember`` (optional) keeps the matches of
    an applied run.
    """

    def __init__(
        self,
        *,
        store: SyncRunStore,
        index: LibraryStore,
        refresh: Callable[[PlexAccount], object],
        writers: Callable[[str], RatingWriter],
        runner: JobRunner,
        match: SourceMatcher | None = None,
        probe: Callable[[str, Path], None] | None = None,
        remember: MatchRecorder | None = None,
        chunk_size: int = DEFAULT_CHUNK,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if chunk_size < 1:
            raise ValueError("chunk_size must be positive")
        self._store = store
        self._index = index
        self._refresh = refresh
        self._writers = writers
        self._runner = runner
        self._match = match
        self._probe = probe
        self._remember = remember
        self._chunk = chunk_size
        self._clock = clock

    @property
    def store(self) -> SyncRunStore:
        """Where the runs are kept."""
        return self._store

    # --- reading runs ------------------------------------------------------------------------------------------

    def run(self, account: str, run_id: int) -> SyncRun:
        """The account's run with this id; :class:`SyncRunNotFound` when there is none (or it is another's)."""
        run = self._store.run(run_id)
        if run is None or run.account != account:
            raise SyncRunNotFound(f"no sync run has id {run_id}")
        return run

    def history(self, account: str, *, limit: int = 50) -> list[SyncRun]:
        """The account's runs, newest first."""
        return self._store.runs(account=account, limit=limit)

    def items(
        self, account: str, run_id: int, *, status: str | None = None, limit: int | None = None, offset: int = 0
    ) -> tuple[int, list[RunItem]]:
        """One page of a run's items, filtered by ``status`` (see :meth:`SyncRunStore.items`)."""
        self.run(account, run_id)
        return self._store.items(run_id, status=status, limit=limit, offset=offset)

    # --- planning ----------------------------------------------------------------------------------------------

    def check_source(self, kind: str, path: Path) -> None:
        """Open the export and read its first record now, so a wrong or unreadable file is refused at once.

        Raises the source's error (:class:`~plexm8.errors.SourceFormatError`); problems further into the file
        surface in the planning job, before anything is stored or written.
        """
        if self._probe is not None:
            self._probe(kind, path)

    def plan_file(self, account: PlexAccount, request: SyncRequest, *, progress: Progress | None = None) -> SyncRun:
        """Read and match the export, refresh the index, and store the plan as a new run (nothing written).

        Raises the source's error (e.g. an unreadable file) before anything is stored, and the Plex errors when
        the index cannot be refreshed.
        """
        if self._match is None:
            raise RuntimeError("this SyncService has no source matcher")
        report = progress or _no_progress
        try:
            report("refreshing", 0, None)
            # Refreshed first: matching reads the index, so tracks added to Plex since the last refresh can match.
            self._refresh(account)
            report("matching", 0, None)
            outcome, source_report = self._match(account.key, request.kind, request.path, request.path_mappings)
        finally:
            if request.temporary:
                request.path.unlink(missing_ok=True)
        options: dict[str, JsonValue] = {
            "path_mappings": [f"{m.source_prefix}={m.plex_prefix}" for m in outcome.path_mappings],
            "suggested_mappings": outcome.suggested_mappings,
            "source": {
                "tracks": source_report.tracks,
                "rated": source_report.rated,
                "skipped": {k: int(v) for k, v in source_report.skipped.items()},
                "warnings": list(source_report.warnings[:50]),
            },
        }
        return self.plan_outcome(
            account,
            outcome,
            source_kind=request.kind,
            source_name=request.source_name,
            policy=request.policy,
            winner=request.winner,
            options=options,
            refresh=False,
            progress=progress,
        )

    def plan_outcome(
        self,
        account: PlexAccount,
        outcome: MatchOutcome,
        *,
        source_kind: str,
        source_name: str,
        policy: SyncPolicy = SyncPolicy.FILL,
        winner: Winner | None = None,
        options: Mapping[str, JsonValue] | None = None,
        refresh: bool = True,
        progress: Progress | None = None,
    ) -> SyncRun:
        """Plan a match outcome against the account's current Plex ratings and store it as a new run."""
        report = progress or _no_progress
        if refresh:
            report("refreshing", 0, None)
            self._refresh(account)
        report("planning", 0, len(outcome.matched))
        keys = {match.rating_key for match in outcome.matched}
        states = self._index.states(account.key, keys)
        current = {key: Rating.from_plex(state.user_rating) for key, state in states.items()}
        plan = build_plan(outcome, current, policy=policy, winner=winner)
        run = self._store.create_run(
            account=account.key,
            source_kind=source_kind,
            source_name=source_name,
            plan=plan,
            options=dict(options or {}),
            created_at=self._clock(),
        )
        report("planning", len(outcome.matched), len(outcome.matched))
        log.info("sync run %d planned: %s", run.id, run.counts)
        return run

    # --- settling review items ------------------------------------------------------------------------------------

    def resolve(
        self, account: PlexAccount, run_id: int, position: int, *, rating_key: int | None = None, dismiss: bool = False
    ) -> Resolution:
        """Settle the open review item at ``position`` by choosing the track ``rating_key`` or dismissing it.

        A chosen track turns the item into a matched one whose action the run's policy decides from the track's
        rating in the index (the next apply writes it through the journal, stale-checked like every write) and
        is remembered for the next sync of the same source. A dismissed item is never written. Exactly one of
        ``rating_key`` and ``dismiss`` is given (:class:`ValueError` otherwise). Raises
        :class:`SyncRunNotFound` / :class:`ReviewItemNotFound` / :class:`TrackNotFound` (no such run of the
        account, item, or indexed track), :class:`SyncRunBusy` for a run applied, undone or being applied, and
        :class:`ReviewItemConflict` for an item that is not an open review item or a track the run matched already.
        """
        if (rating_key is None) == (not dismiss):
            raise ValueError("settle a review item either by choosing a track or by dismissing it")
        run = self.run(account.key, run_id)
        if run.state is not RunState.PLANNED and run.state is not RunState.APPLYING:
            raise SyncRunBusy(
                f"sync run {run_id} is {run.state.value}: its review items can no longer change; plan a new sync"
            )
        self._check_not_busy(run, None)
        stored = self._store.item(run_id, position)
        if stored is None:
            raise ReviewItemNotFound(f"sync run {run_id} has no item {position}")
        if rating_key is None:
            settled = dismiss_item(stored.plan)
        else:
            if not self._store.is_track(rating_key):
                raise TrackNotFound(
                    f"no indexed track has rating key {rating_key}; refresh the index if it was added to Plex since"
                )
            state = self._index.states(account.key, [rating_key]).get(rating_key)
            plex = _rated(Rating.from_plex(state.user_rating if state is not None else None))
            settled = choose_track(stored.plan, rating_key, plex, policy=run.policy, winner=run.winner)
        self._store.settle(run_id, settled)
        remembered = False
        if rating_key is not None and self._remember is not None and memory_key(settled.source) is not None:
            match = Match(settled.source, rating_key, MatchMethod.REMEMBERED, 1.0, settled.reason)
            self._remember(account.key, run.source_kind, [match])
            remembered = True
        item = self._store.item(run_id, position)
        assert item is not None
        log.info("sync run %d: review item %d settled (%s)", run_id, position, settled.reason)
        return Resolution(run=self.run(account.key, run_id), item=item, remembered=remembered)

    # --- applying ----------------------------------------------------------------------------------------------

    def _claim(self, run: SyncRun, state: RunState, job_id: int | None) -> None:
        """Refuse a run another live job is applying or undoing; record this job as the one working on it."""
        self._check_not_busy(run, job_id)
        self._store.set_run_state(run.id, state, job_id=job_id)

    def _check_not_busy(self, run: SyncRun, job_id: int | None) -> None:
        """Raise :class:`SyncRunBusy` when another live job is applying or undoing the run."""
        if run.state in (RunState.APPLYING, RunState.UNDOING) and run.job_id is not None and run.job_id != job_id:
            try:
                job: JobRecord | None = self._runner.get(run.job_id)
            except JobNotFound:
                job = None  # an unknown job cannot be running
            if job is not None and not job.state.final and owner_is_live(job.owner):
                doing = "applied" if run.state is RunState.APPLYING else "undone"
                raise SyncRunBusy(f"sync run {run.id} is being {doing} by job {job.id}; wait for it to finish")

    def apply(
        self, account: PlexAccount, run_id: int, *, progress: Progress | None = None, job_id: int | None = None
    ) -> SyncRun:
        """Write the run's planned changes to Plex through the journal; resumes an interrupted apply.

        Raises :class:`SyncRunBusy` for a run being applied by another live job or already undone, the Plex errors
        when Plex cannot be refreshed, written or read (the journal then says which items to resume).
        """
        report = progress or _no_progress
        run = self.run(account.key, run_id)
        if run.state in (RunState.UNDOING, RunState.UNDONE):
            raise SyncRunBusy(f"sync run {run_id} was undone; plan a new sync instead")
        if run.state is RunState.APPLIED:
            return run
        self._check_not_busy(run, job_id)
        report("refreshing", 0, None)
        # Before the run is marked applying: when Plex cannot be read, the run stays as it was.
        self._refresh(account)
        self._claim(self.run(account.key, run_id), RunState.APPLYING, job_id)
        writer = self._writers(account.token)
        self._resolve_written(account, run_id, writer)
        todo = self._journal_previous(account, run_id, self._store.journal(run_id, JournalState.PLANNED))
        total = len(todo)
        done = 0
        trouble: list[str] = []
        while todo and not trouble:
            for start in range(0, len(todo), self._chunk):
                report("writing", done, total)
                chunk = todo[start : start + self._chunk]
                trouble += self._write_chunk(account, run_id, writer, chunk)
                done += len(chunk)
                if trouble:
                    break
            # A review item settled just as this apply started (resolve saw the run free) is planned only now:
            # write it too, rather than leave it planned in a run marked applied.
            todo = (
                []
                if trouble
                else self._journal_previous(account, run_id, self._store.journal(run_id, JournalState.PLANNED))
            )
            total += len(todo)
        report("writing", done, total)
        if trouble:
            auth = any("401" in message for message in trouble)
            message = (
                f"{len(trouble)} rating write(s) of sync run {run_id} failed ({trouble[0]}); "
                f"run the apply again to resume: nothing is written twice"
            )
            raise PlexAuthError(message) if auth else PlexUnavailable(message)
        self._store.set_run_state(run_id, RunState.APPLIED, at=self._clock())
        self._remember_matches(account, run_id, run.source_kind)
        applied = self.run(account.key, run_id)
        log.info("sync run %d applied: %s", run_id, dict(applied.journal))
        return applied

    def _resolve_written(self, account: PlexAccount, run_id: int, writer: RatingWriter) -> None:
        """Settle items an interrupted apply left ``written``: read Plex, never write twice."""
        written = self._store.journal(run_id, JournalState.WRITTEN)
        if not written:
            return
        current = writer.read_ratings([entry.rating_key for entry in written])
        confirmed: list[tuple[int, int, PlexRatingState]] = []
        again: list[int] = []
        stale: list[int] = []
        gone: list[int] = []
        for entry in written:
            now = current.get(entry.rating_key)
            if now is None:
                gone.append(entry.position)
            elif _rated(now.rating) == entry.target:
                confirmed.append((entry.position, entry.rating_key, now))
            elif _rated(now.rating) == _rated(Rating.from_plex(entry.previous_rating)):
                again.append(entry.position)
            else:
                stale.append(entry.position)
        self._store.confirm(run_id, account.key, confirmed)
        self._store.mark(run_id, again, JournalState.PLANNED)
        self._store.mark(run_id, gone, JournalState.FAILED, message="Plex has no track with this key any more")
        self._store.mark(
            run_id, stale, JournalState.STALE, message="Plex's rating changed while the write was in doubt: not written"
        )
        log.info(
            "sync run %d: %d in-doubt writes confirmed, %d to send again, %d stale, %d gone",
            run_id,
            len(confirmed),
            len(again),
            len(stale),
            len(gone),
        )

    def _journal_previous(self, account: PlexAccount, run_id: int, planned: list[JournalEntry]) -> list[JournalEntry]:
        """Commit the previous value of each planned item (from the refreshed index); stale ones are set aside."""
        states = self._index.states(account.key, [entry.rating_key for entry in planned])
        previous: list[tuple[int, PlexRatingState]] = []
        stale: list[tuple[int, str]] = []
        todo: list[JournalEntry] = []
        for entry in planned:
            state = states.get(entry.rating_key)
            now = PlexRatingState(
                state.user_rating if state is not None else None, state.last_rated_at if state is not None else None
            )
            if _rated(now.rating) != entry.plex_rating:
                stale.append(
                    (
                        entry.position,
                        f"Plex's rating changed since the plan (was {_show(entry.plex_rating)}, "
                        f"now {_show(_rated(now.rating))}): not written; plan the sync again",
                    )
                )
                continue
            previous.append((entry.position, now))
            todo.append(
                dataclasses.replace(entry, previous_rating=now.user_rating, previous_rated_at=now.last_rated_at)
            )
        self._store.record_previous(run_id, previous, stale)
        return todo

    def _write_chunk(
        self, account: PlexAccount, run_id: int, writer: RatingWriter, chunk: list[JournalEntry]
    ) -> list[str]:
        """Journal one chunk as written, send it, and confirm what Plex acknowledged; return the unknown outcomes.

        Confirmed means Plex answered 200 to the write. The index takes the rating at once, with the time of the
        acknowledgement as ``lastRatedAt`` until the next refresh reads Plex's own.
        """
        self._store.mark(run_id, [entry.position for entry in chunk], JournalState.WRITTEN)
        results = writer.write_ratings([(entry.rating_key, float(entry.target)) for entry in chunk])
        acknowledged_at = int(self._clock())
        confirmed: list[tuple[int, int, PlexRatingState]] = []
        not_found: list[int] = []
        refused: list[int] = []
        trouble: list[str] = []
        for entry, result in zip(chunk, results, strict=True):
            if result.outcome is WriteOutcome.OK:
                confirmed.append(
                    (entry.position, entry.rating_key, PlexRatingState(float(entry.target), acknowledged_at))
                )
            elif result.outcome is WriteOutcome.NOT_FOUND:
                not_found.append(entry.position)
            elif result.outcome is WriteOutcome.UNAUTHORIZED:
                # Refused before anything changed: the write can simply be sent again.
                refused.append(entry.position)
                trouble.append(result.message)
            else:
                trouble.append(result.message)
        self._store.confirm(run_id, account.key, confirmed)
        self._store.mark(run_id, not_found, JournalState.FAILED, message="Plex has no track with this key any more")
        self._store.mark(run_id, refused, JournalState.PLANNED)
        return trouble

    def _remember_matches(self, account: PlexAccount, run_id: int, source_kind: str) -> None:
        if self._remember is None:
            return
        _, matched = self._store.items(run_id, status=ItemKind.MATCHED.value)
        matches = [
            Match(
                source=item.plan.source,
                rating_key=item.plan.rating_key,
                method=MatchMethod(item.plan.method or ""),
                confidence=item.plan.confidence or 0.0,
                reason=item.plan.reason,
            )
            for item in matched
            if item.plan.rating_key is not None
            # Matches found through the memory are remembered already.
            and item.plan.method in MatchMethod._value2member_map_
            and item.plan.method != MatchMethod.REMEMBERED
            and item.state in (None, JournalState.CONFIRMED)
        ]
        if matches:
            self._remember(account.key, source_kind, matches)

    # --- undo --------------------------------------------------------------------------------------------------

    def undo(
        self, account: PlexAccount, run_id: int, *, progress: Progress | None = None, job_id: int | None = None
    ) -> SyncRun:
        """Restore the previous rating of every item the run changed, where Plex still shows what it wrote.

        Items the user changed since are refused (with a message each) and left alone. Raises the Plex errors
        when Plex cannot be read or written (running undo again continues where it stopped).
        """
        report = progress or _no_progress
        run = self.run(account.key, run_id)
        if run.state is RunState.PLANNED:
            raise SyncRunBusy(f"sync run {run_id} was never applied: there is nothing to undo")
        if run.state is RunState.UNDONE:
            return run
        self._claim(run, RunState.UNDOING, job_id)
        writer = self._writers(account.token)
        entries = self._store.journal(run_id, JournalState.CONFIRMED) + self._store.journal(
            run_id, JournalState.WRITTEN
        )
        todo = [entry for entry in entries if entry.undo_state is None]
        total = len(todo)
        done = 0
        trouble: list[str] = []
        for start in range(0, total, self._chunk):
            report("undoing", done, total)
            chunk = todo[start : start + self._chunk]
            trouble += self._undo_chunk(account, run_id, writer, chunk)
            done += len(chunk)
            if trouble:
                break
        report("undoing", done, total)
        if trouble:
            raise PlexUnavailable(
                f"{len(trouble)} rating write(s) undoing sync run {run_id} failed ({trouble[0]}); run undo again"
            )
        self._store.set_run_state(run_id, RunState.UNDONE, at=self._clock())
        undone = self.run(account.key, run_id)
        log.info("sync run %d undone: %s", run_id, dict(undone.journal))
        return undone

    def _undo_chunk(
        self, account: PlexAccount, run_id: int, writer: RatingWriter, chunk: list[JournalEntry]
    ) -> list[str]:
        current = writer.read_ratings([entry.rating_key for entry in chunk])
        restore: list[JournalEntry] = []
        undone: list[tuple[int, int, PlexRatingState]] = []
        refused: list[tuple[int, str]] = []
        for entry in chunk:
            now = current.get(entry.rating_key)
            previous = _rated(Rating.from_plex(entry.previous_rating))
            if now is None:
                refused.append((entry.position, "Plex has no track with this key any more"))
            elif _rated(now.rating) == entry.target:
                restore.append(entry)
            elif _rated(now.rating) == previous:
                # Already back to the previous value (an undo interrupted after this write, or never written).
                undone.append((entry.position, entry.rating_key, now))
            else:
                refused.append(
                    (
                        entry.position,
                        f"the rating changed since the run (Plex shows {_show(_rated(now.rating))}, "
                        f"the run wrote {_show(entry.target)}): left as it is",
                    )
                )
        trouble: list[str] = []
        if restore:
            results = writer.write_ratings([(entry.rating_key, entry.previous_rating) for entry in restore])
            restored_at = int(self._clock())
            for entry, result in zip(restore, results, strict=True):
                if result.outcome is WriteOutcome.OK:
                    rated_at = restored_at if entry.previous_rating is not None else None
                    undone.append((entry.position, entry.rating_key, PlexRatingState(entry.previous_rating, rated_at)))
                else:
                    trouble.append(result.message)
        self._store.record_undo(run_id, account.key, undone, refused)
        return trouble

    # --- as jobs -------------------------------------------------------------------------------------------------

    def _submit(self, kind: str, account: PlexAccount, work: Callable[[JobControl, int | None], SyncRun]) -> JobRecord:
        """Submit ``work`` as a new job; it learns its own job id (recorded on the run it works on)."""
        known = threading.Event()
        ids: list[int] = []

        def job(control: JobControl) -> JobOutcome:
            # The id is known once submit returns, which is at most a moment after the worker picks the job up.
            known.wait(timeout=5.0)
            return _outcome(work(control, ids[0] if ids else None))

        record = self._runner.submit(kind, account.key, job, join=False)
        ids.append(record.id)
        known.set()
        return record

    def start_plan(self, account: PlexAccount, request: SyncRequest, *, apply: bool) -> JobRecord:
        """Submit a job that plans ``request`` (and applies the plan unless a dry run); return its record now."""

        def work(control: JobControl, job_id: int | None) -> SyncRun:
            run = self.plan_file(account, request, progress=control.progress)
            if apply:
                run = self.apply(account, run.id, progress=control.progress, job_id=job_id)
            return run

        return self._submit(SYNC_PLAN_JOB, account, work)

    def start_apply(self, account: PlexAccount, run_id: int) -> JobRecord:
        """Check the run exists and can be applied, then submit the apply job and return its record now."""
        run = self.run(account.key, run_id)
        if run.state in (RunState.UNDOING, RunState.UNDONE):
            raise SyncRunBusy(f"sync run {run_id} was undone; plan a new sync instead")

        def work(control: JobControl, job_id: int | None) -> SyncRun:
            return self.apply(account, run_id, progress=control.progress, job_id=job_id)

        return self._submit(SYNC_APPLY_JOB, account, work)

    def start_undo(self, account: PlexAccount, run_id: int) -> JobRecord:
        """Check the run exists and was applied, then submit the undo job and return its record now."""
        run = self.run(account.key, run_id)
        if run.state is RunState.PLANNED:
            raise SyncRunBusy(f"sync run {run_id} was never applied: there is nothing to undo")

        def work(control: JobControl, job_id: int | None) -> SyncRun:
            return self.undo(account, run_id, progress=control.progress, job_id=job_id)

        return self._submit(SYNC_UNDO_JOB, account, work)


def _outcome(run: SyncRun) -> JobOutcome:
    counts = {key: int(value) for key, value in run.journal.items()}
    return JobOutcome(counts=counts, result=run_summary(run))
