"""Sync runs, their plans and their journals in the index database; implements the SyncRunStore port.

The journal lives in the plan rows (``sync_items``): before a write is sent its previous Plex value is committed,
and its state moves ``planned`` → ``written`` → ``confirmed``. Confirmed and undone ratings are written into the
account's index (``item_states``) in the same transaction that journals them, so the index never shows a rating
the journal does not know about, and a later incremental refresh has nothing to correct.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from plexm8.core.jobs import JsonValue
from plexm8.core.ratings import Rating
from plexm8.core.sources import RatingScale, SourceRating, SourceTrack
from plexm8.core.sync_plan import (
    ItemKind,
    JournalEntry,
    JournalState,
    PlanAction,
    PlanItem,
    PlexRatingState,
    RunItem,
    RunState,
    SyncPlan,
    SyncPolicy,
    SyncRun,
    UndoState,
    Winner,
    plan_counts,
)
from plexm8.errors import ReviewItemConflict
from plexm8.store.database import ThreadConnections

__all__ = ["SqliteSyncStore"]

_ITEM_COLUMNS = (
    "position, kind, action, rating_key, method, confidence, reason, source, source_rating, plex_rating, target,"
    " candidates, journal_state, previous_rating, previous_rated_at, written_at, undo_state, message"
)
_RUN_COLUMNS = (
    "id, account, source_kind, source_name, policy, winner, state, created_at, applied_at, undone_at, counts,"
    " options, job_id"
)
#: Which column an items ``status`` filter reads.
_STATUS_COLUMNS: dict[str, str] = {
    **{kind.value: "kind" for kind in ItemKind},
    **{action.value: "action" for action in PlanAction},
    **{state.value: "journal_state" for state in JournalState},
    **{state.value: "undo_state" for state in UndoState},
}

#: Every status the items filter accepts.
ITEM_STATUSES: tuple[str, ...] = tuple(_STATUS_COLUMNS)


def _rating_json(rating: SourceRating | None) -> dict[str, Any] | None:
    if rating is None:
        return None
    return {"scale": rating.scale.value, "raw": rating.raw, "plex": rating.plex.value}


def _rating_from(data: Mapping[str, Any] | None) -> SourceRating | None:
    if data is None:
        return None
    return SourceRating(scale=RatingScale(data["scale"]), raw=float(data["raw"]), plex=Rating(data["plex"]))


def _source_json(track: SourceTrack) -> str:
    return json.dumps(
        {
            "ordinal": track.ordinal,
            "source_id": track.source_id,
            "location": track.location,
            "title": track.title,
            "artist": track.artist,
            "album_artist": track.album_artist,
            "album": track.album,
            "disc_number": track.disc_number,
            "track_number": track.track_number,
            "duration_ms": track.duration_ms,
            "year": track.year,
            "rating": _rating_json(track.rating),
            "album_rating": _rating_json(track.album_rating),
            "loved": track.loved,
            "disliked": track.disliked,
            "play_count": track.play_count,
            "last_played": track.last_played,
        },
        ensure_ascii=False,
    )


def _source_from(text: str) -> SourceTrack:
    data = json.loads(text)
    data["rating"] = _rating_from(data.get("rating"))
    data["album_rating"] = _rating_from(data.get("album_rating"))
    return SourceTrack(**data)


def _item_row(run_id: int, item: PlanItem) -> tuple[object, ...]:
    return (
        run_id,
        item.position,
        item.kind.value,
        None if item.action is None else item.action.value,
        item.rating_key,
        item.method,
        item.confidence,
        item.reason,
        _source_json(item.source),
        item.source_rating,
        item.plex_rating,
        item.target,
        json.dumps(list(item.candidates)) if item.candidates else None,
        JournalState.PLANNED.value if item.action is PlanAction.WRITE else None,
    )


def _run_item(row: Sequence[Any]) -> RunItem:
    (
        position,
        kind,
        action,
        rating_key,
        method,
        confidence,
        reason,
        source,
        source_rating,
        plex_rating,
        target,
        candidates,
        journal_state,
        previous_rating,
        previous_rated_at,
        written_at,
        undo_state,
        message,
    ) = row
    plan = PlanItem(
        position=position,
        kind=ItemKind(kind),
        source=_source_from(source),
        action=None if action is None else PlanAction(action),
        rating_key=rating_key,
        method=method,
        confidence=confidence,
        reason=reason,
        source_rating=source_rating,
        plex_rating=plex_rating,
        target=target,
        candidates=tuple(json.loads(candidates)) if candidates else (),
    )
    return RunItem(
        plan=plan,
        state=None if journal_state is None else JournalState(journal_state),
        previous_rating=previous_rating,
        previous_rated_at=previous_rated_at,
        written_at=written_at,
        undo_state=None if undo_state is None else UndoState(undo_state),
        message=message,
    )


class SqliteSyncStore:
    """Sync runs in the index database at ``path`` (migrated on first use); one connection per thread."""

    def __init__(self, path: str | Path) -> None:
        self._connections = ThreadConnections(path)

    def close(self) -> None:
        """Close this thread's connection."""
        self._connections.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        conn = self._connections.get()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    # --- runs ------------------------------------------------------------------------------------------------

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
        """Store a new planned run with every plan item (``write`` items journaled as ``planned``); one commit."""
        with self._transaction() as conn:
            cursor = conn.execute(
                "INSERT INTO sync_runs (account, source_kind, source_name, policy, winner, state, created_at, counts,"
                " options) VALUES (?, ?, ?, ?, ?, 'planned', ?, ?, ?)",
                (
                    account,
                    source_kind,
                    source_name,
                    plan.policy.value,
                    None if plan.winner is None else plan.winner.value,
                    created_at,
                    json.dumps(plan.counts()),
                    json.dumps(dict(options)),
                ),
            )
            run_id = cursor.lastrowid
            assert run_id is not None
            conn.executemany(
                "INSERT INTO sync_items (run_id, position, kind, action, rating_key, method, confidence, reason,"
                " source, source_rating, plex_rating, target, candidates, journal_state)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (_item_row(run_id, item) for item in plan.items),
            )
        run = self.run(run_id)
        assert run is not None
        return run

    def _journal(self, conn: sqlite3.Connection, run_ids: Iterable[int]) -> dict[int, dict[str, int]]:
        ids = list(run_ids)
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        journal: dict[int, dict[str, int]] = {run_id: {} for run_id in ids}
        for column in ("journal_state", "undo_state"):
            for run_id, state, count in conn.execute(
                f"SELECT run_id, {column}, COUNT(*) FROM sync_items"  # noqa: S608 - column names are constants
                f" WHERE run_id IN ({marks}) AND {column} IS NOT NULL GROUP BY run_id, {column}",
                ids,
            ):
                journal[run_id][state] = count
        return journal

    def _runs(self, sql: str, args: Sequence[object]) -> list[SyncRun]:
        conn = self._connections.get()
        rows = conn.execute(sql, args).fetchall()
        journal = self._journal(conn, (row[0] for row in rows))
        return [
            SyncRun(
                id=row[0],
                account=row[1],
                source_kind=row[2],
                source_name=row[3],
                policy=SyncPolicy(row[4]),
                winner=None if row[5] is None else Winner(row[5]),
                state=RunState(row[6]),
                created_at=row[7],
                applied_at=row[8],
                undone_at=row[9],
                counts=json.loads(row[10]),
                options=json.loads(row[11]),
                job_id=row[12],
                journal=journal.get(row[0], {}),
            )
            for row in rows
        ]

    def run(self, run_id: int) -> SyncRun | None:
        """The run with this id, or ``None``."""
        runs = self._runs(f"SELECT {_RUN_COLUMNS} FROM sync_runs WHERE id = ?", (run_id,))  # noqa: S608
        return runs[0] if runs else None

    def runs(self, *, account: str | None = None, limit: int = 50) -> list[SyncRun]:
        """Runs newest first, optionally of one account."""
        if account is None:
            return self._runs(f"SELECT {_RUN_COLUMNS} FROM sync_runs ORDER BY id DESC LIMIT ?", (limit,))  # noqa: S608
        return self._runs(
            f"SELECT {_RUN_COLUMNS} FROM sync_runs WHERE account = ? ORDER BY id DESC LIMIT ?",  # noqa: S608
            (account, limit),
        )

    def set_run_state(
        self, run_id: int, state: RunState, *, job_id: int | None = None, at: float | None = None
    ) -> None:
        """Move the run to ``state``, recording ``at`` as its applied/undone time for those states."""
        with self._transaction() as conn:
            conn.execute("UPDATE sync_runs SET state = ? WHERE id = ?", (state.value, run_id))
            if job_id is not None:
                conn.execute("UPDATE sync_runs SET job_id = ? WHERE id = ?", (job_id, run_id))
            if at is not None and state is RunState.APPLIED:
                conn.execute("UPDATE sync_runs SET applied_at = ? WHERE id = ?", (at, run_id))
            if at is not None and state is RunState.UNDONE:
                conn.execute("UPDATE sync_runs SET undone_at = ? WHERE id = ?", (at, run_id))

    # --- items and the journal --------------------------------------------------------------------------------

    def items(
        self, run_id: int, *, status: str | None = None, limit: int | None = None, offset: int = 0
    ) -> tuple[int, list[RunItem]]:
        """How many items match ``status`` (a kind, action, journal or undo state; ``None`` = all) and one page.

        Raises :class:`ValueError` for an unknown status.
        """
        where = "run_id = ?"
        args: list[object] = [run_id]
        if status is not None:
            column = _STATUS_COLUMNS.get(status)
            if column is None:
                raise ValueError(f"unknown status {status!r}")
            where += f" AND {column} = ?"
            args.append(status)
        conn = self._connections.get()
        total = conn.execute(f"SELECT COUNT(*) FROM sync_items WHERE {where}", args).fetchone()[0]  # noqa: S608
        page = conn.execute(
            f"SELECT {_ITEM_COLUMNS} FROM sync_items WHERE {where} ORDER BY position LIMIT ? OFFSET ?",  # noqa: S608
            [*args, -1 if limit is None else limit, offset],
        ).fetchall()
        return int(total), [_run_item(row) for row in page]

    def item(self, run_id: int, position: int) -> RunItem | None:
        """The run's item at ``position``, or ``None``."""
        row = (
            self._connections.get()
            .execute(
                f"SELECT {_ITEM_COLUMNS} FROM sync_items WHERE run_id = ? AND position = ?",  # noqa: S608
                (run_id, position),
            )
            .fetchone()
        )
        return None if row is None else _run_item(row)

    def is_track(self, rating_key: int) -> bool:
        """Whether the index has a track with this rating key."""
        row = self._connections.get().execute("SELECT 1 FROM tracks WHERE rating_key = ?", (rating_key,)).fetchone()
        return row is not None

    def settle(self, run_id: int, item: PlanItem) -> None:
        """Replace an open review item by ``item`` (chosen or dismissed) and update the run's counts; one commit.

        Every condition is checked again inside the write transaction, so two settlements of one run (or a
        settlement racing an apply that finished) cannot both pass: the loser gets :class:`ReviewItemConflict`.
        """
        with self._transaction() as conn:
            state = conn.execute("SELECT state FROM sync_runs WHERE id = ?", (run_id,)).fetchone()
            if state is None or state[0] not in (RunState.PLANNED.value, RunState.APPLYING.value):
                raise ReviewItemConflict(f"sync run {run_id} is no longer planned: its review items are final")
            row = conn.execute(
                "SELECT kind, action FROM sync_items WHERE run_id = ? AND position = ?", (run_id, item.position)
            ).fetchone()
            if row is None or row[0] != ItemKind.REVIEW.value or row[1] is not None:
                raise ReviewItemConflict(f"item {item.position} of sync run {run_id} is not an open review item")
            if item.kind is ItemKind.MATCHED:
                taken = conn.execute(
                    "SELECT position FROM sync_items WHERE run_id = ? AND kind = 'matched' AND rating_key = ?"
                    " ORDER BY position LIMIT 1",
                    (run_id, item.rating_key),
                ).fetchone()
                if taken is not None:
                    raise ReviewItemConflict(
                        f"track {item.rating_key} is already matched by item {taken[0]} of this run: choosing it "
                        "again would rate one Plex track from two source tracks; choose another track or dismiss"
                    )
            conn.execute(
                "UPDATE sync_items SET kind = ?, action = ?, rating_key = ?, method = ?, confidence = ?, reason = ?,"
                " plex_rating = ?, target = ?, journal_state = ? WHERE run_id = ? AND position = ?",
                (
                    item.kind.value,
                    None if item.action is None else item.action.value,
                    item.rating_key,
                    item.method,
                    item.confidence,
                    item.reason,
                    item.plex_rating,
                    item.target,
                    JournalState.PLANNED.value if item.action is PlanAction.WRITE else None,
                    run_id,
                    item.position,
                ),
            )
            rows = conn.execute(f"SELECT {_ITEM_COLUMNS} FROM sync_items WHERE run_id = ?", (run_id,))  # noqa: S608
            counts = plan_counts([_run_item(row).plan for row in rows])
            conn.execute("UPDATE sync_runs SET counts = ? WHERE id = ?", (json.dumps(counts), run_id))

    def journal(self, run_id: int, state: JournalState) -> list[JournalEntry]:
        """The run's ``write`` items in ``state``, in position order (without decoding their source records)."""
        rows = self._connections.get().execute(
            "SELECT position, rating_key, plex_rating, target, previous_rating, previous_rated_at, undo_state"
            " FROM sync_items WHERE run_id = ? AND journal_state = ? ORDER BY position",
            (run_id, state.value),
        )
        return [
            JournalEntry(
                position=row[0],
                rating_key=row[1],
                plex_rating=row[2],
                target=row[3],
                previous_rating=row[4],
                previous_rated_at=row[5],
                undo_state=None if row[6] is None else UndoState(row[6]),
            )
            for row in rows
        ]

    def record_previous(
        self, run_id: int, previous: Sequence[tuple[int, PlexRatingState]], stale: Sequence[tuple[int, str]]
    ) -> None:
        """Journal each position's previous Plex value; mark ``stale`` positions with their message. One commit."""
        with self._transaction() as conn:
            conn.executemany(
                "UPDATE sync_items SET previous_rating = ?, previous_rated_at = ? WHERE run_id = ? AND position = ?",
                ((state.user_rating, state.last_rated_at, run_id, position) for position, state in previous),
            )
            conn.executemany(
                "UPDATE sync_items SET journal_state = 'stale', message = ? WHERE run_id = ? AND position = ?",
                ((message, run_id, position) for position, message in stale),
            )

    def mark(self, run_id: int, positions: Sequence[int], state: JournalState, *, message: str | None = None) -> None:
        """Move these items to ``state`` in one commit (``written`` records the time it was sent)."""
        now = time.time()
        with self._transaction() as conn:
            if state is JournalState.WRITTEN:
                conn.executemany(
                    "UPDATE sync_items SET journal_state = 'written', written_at = ? WHERE run_id = ? AND position = ?",
                    ((now, run_id, position) for position in positions),
                )
            else:
                conn.executemany(
                    "UPDATE sync_items SET journal_state = ?, message = coalesce(?, message)"
                    " WHERE run_id = ? AND position = ?",
                    ((state.value, message, run_id, position) for position in positions),
                )

    def confirm(self, run_id: int, account: str, confirmed: Sequence[tuple[int, int, PlexRatingState]]) -> None:
        """Mark ``(position, rating_key, what Plex reports)`` confirmed and show those ratings in the index."""
        with self._transaction() as conn:
            conn.executemany(
                "UPDATE sync_items SET journal_state = 'confirmed' WHERE run_id = ? AND position = ?",
                ((run_id, position) for position, _, _ in confirmed),
            )
            _reflect(conn, account, [(key, state) for _, key, state in confirmed])

    def record_undo(
        self,
        run_id: int,
        account: str,
        undone: Sequence[tuple[int, int, PlexRatingState]],
        refused: Sequence[tuple[int, str]],
    ) -> None:
        """Mark items undone (their restored ratings shown in the index) or refused with a message; one commit."""
        with self._transaction() as conn:
            conn.executemany(
                "UPDATE sync_items SET undo_state = 'undone' WHERE run_id = ? AND position = ?",
                ((run_id, position) for position, _, _ in undone),
            )
            conn.executemany(
                "UPDATE sync_items SET undo_state = 'refused', message = ? WHERE run_id = ? AND position = ?",
                ((message, run_id, position) for position, message in refused),
            )
            _reflect(conn, account, [(key, state) for _, key, state in undone])


def _reflect(conn: sqlite3.Connection, account: str, states: Sequence[tuple[int, PlexRatingState]]) -> None:
    """Show these ratings in the account's index (only when the account has one, like a single rating write)."""
    if not states or conn.execute("SELECT 1 FROM accounts WHERE account = ?", (account,)).fetchone() is None:
        return
    conn.executemany(
        "INSERT INTO item_states (account, rating_key, user_rating, last_rated_at) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (account, rating_key) DO UPDATE"
        " SET user_rating = excluded.user_rating, last_rated_at = excluded.last_rated_at",
        (
            (account, key, state.user_rating, state.last_rated_at if state.user_rating is not None else None)
            for key, state in states
        ),
    )
    # Only non-default states are stored (see the schema): a cleared, never played item has no row.
    conn.executemany(
        "DELETE FROM item_states WHERE account = ? AND rating_key = ? AND user_rating IS NULL"
        " AND view_count = 0 AND skip_count = 0 AND last_viewed_at IS NULL",
        ((account, key) for key, state in states if state.user_rating is None),
    )
