"""The job records in SQLite (the ``jobs`` table of ``plexm8.sqlite``): the :class:`~plexm8.core.jobs.JobStore` port."""

from __future__ import annotations

import builtins
import json
import sqlite3
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from plexm8.core.jobs import JobProgress, JobRecord, JobState, JsonValue
from plexm8.store.database import connect
from plexm8.store.migrations import JOB_MIGRATIONS, migrate

__all__ = ["DEFAULT_KEEP_JOBS", "SqliteJobStore"]

#: How many jobs the store keeps; the oldest final ones beyond this go when a new job is created.
DEFAULT_KEEP_JOBS = 200

_COLUMNS = (
    "id, kind, account, state, owner, created_at, started_at, finished_at, stage, done, total, counts,"
    " error_code, error_message, result, cancel_requested"
)
_ACTIVE = (JobState.QUEUED.value, JobState.RUNNING.value)


class SqliteJobStore:
    """Job records in the database at ``path`` (created and migrated on first use); safe to share between threads."""

    def __init__(self, path: str | Path, *, keep: int = DEFAULT_KEEP_JOBS) -> None:
        if keep < 1:
            raise ValueError("keep must be positive")
        self._path = Path(path)
        self._keep = keep
        self._lock = threading.Lock()
        self._connection: sqlite3.Connection | None = None
        # Progress writes go through their own connection that never waits for the write lock, under their own
        # lock so that they never queue behind a write that waits.
        self._quick_lock = threading.Lock()
        self._quick: sqlite3.Connection | None = None

    def _conn(self) -> sqlite3.Connection:
        # One connection behind a lock: job writes are a few small rows a second at most.
        if self._connection is None:
            conn = connect(self._path)
            try:
                migrate(conn, JOB_MIGRATIONS)
            except BaseException:
                conn.close()
                raise
            self._connection = conn
        return self._connection

    def close(self) -> None:
        """Close the connections; the next call reopens them."""
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None
        with self._quick_lock:
            if self._quick is not None:
                self._quick.close()
                self._quick = None

    def create(self, *, kind: str, account: str | None, owner: str, created_at: float) -> JobRecord:
        """Record a new queued job and return it with its id; old final jobs beyond the store's limit go."""
        with self._lock:
            conn = self._conn()
            conn.execute("BEGIN IMMEDIATE")
            try:
                cursor = conn.execute(
                    "INSERT INTO jobs (kind, account, state, owner, created_at) VALUES (?, ?, ?, ?, ?)",
                    (kind, account, JobState.QUEUED.value, owner, created_at),
                )
                job_id = cursor.lastrowid
                assert job_id is not None
                conn.execute(
                    "DELETE FROM jobs WHERE state NOT IN (?, ?) AND id <= ("
                    " SELECT id FROM jobs ORDER BY id DESC LIMIT 1 OFFSET ?)",
                    (*_ACTIVE, self._keep),
                )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        return JobRecord(
            id=job_id, kind=kind, account=account, state=JobState.QUEUED, created_at=created_at, owner=owner
        )

    def save(self, record: JobRecord, *, wait: bool = True) -> bool:
        """Replace the stored record that has ``record.id``; return whether it was written.

        With ``wait=False`` the write is skipped (``False``) rather than waiting while another writer holds the
        database, e.g. an index refresh's transaction.
        """
        if wait:
            with self._lock:
                self._update(self._conn(), record)
            return True
        with self._quick_lock:
            try:
                if self._quick is None:
                    with self._lock:
                        self._conn()  # migrated before the table is used
                    self._quick = connect(self._path, busy_timeout_s=0.0)
                self._update(self._quick, record)
            except sqlite3.OperationalError as exc:
                if exc.sqlite_errorcode not in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
                    raise
                return False
        return True

    @staticmethod
    def _update(conn: sqlite3.Connection, record: JobRecord) -> None:
        progress = record.progress
        conn.execute(
            "UPDATE jobs SET kind = ?, account = ?, state = ?, owner = ?, created_at = ?, started_at = ?,"
            " finished_at = ?, stage = ?, done = ?, total = ?, counts = ?, error_code = ?, error_message = ?,"
            " result = ?, cancel_requested = ? WHERE id = ?",
            (
                record.kind,
                record.account,
                record.state.value,
                record.owner,
                record.created_at,
                record.started_at,
                record.finished_at,
                progress.stage,
                progress.done,
                progress.total,
                json.dumps(dict(record.counts)),
                record.error_code,
                record.error_message,
                None if record.result is None else json.dumps(record.result),
                int(record.cancel_requested),
                record.id,
            ),
        )

    def get(self, job_id: int) -> JobRecord | None:
        """The record with this id, or ``None``."""
        with self._lock:
            row = self._conn().execute(f"SELECT {_COLUMNS} FROM jobs WHERE id = ?", (job_id,)).fetchone()  # noqa: S608
        return None if row is None else _record(row)

    def list(
        self, *, states: Sequence[JobState] = (), kind: str | None = None, account: str | None = None, limit: int = 50
    ) -> list[JobRecord]:
        """Records newest first, optionally only in ``states``, of ``kind`` and of ``account``."""
        where: list[str] = []
        args: list[object] = []
        if states:
            where.append(f"state IN ({', '.join('?' * len(states))})")
            args.extend(state.value for state in states)
        if kind is not None:
            where.append("kind = ?")
            args.append(kind)
        if account is not None:
            where.append("account = ?")
            args.append(account)
        sql = f"SELECT {_COLUMNS} FROM jobs"  # noqa: S608 - column list and placeholders only
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY id DESC LIMIT ?"
        args.append(max(0, limit))
        with self._lock:
            rows = self._conn().execute(sql, args).fetchall()
        return [_record(row) for row in rows]

    def interrupt_orphans(self, is_live: Callable[[str], bool], *, now: float, message: str) -> builtins.list[int]:
        """Mark every queued or running job whose owner is not live as interrupted; return their ids."""
        with self._lock:
            conn = self._conn()
            conn.execute("BEGIN IMMEDIATE")
            try:
                rows = conn.execute("SELECT id, owner FROM jobs WHERE state IN (?, ?)", _ACTIVE).fetchall()
                orphans = [job_id for job_id, owner in rows if not is_live(owner)]
                conn.executemany(
                    "UPDATE jobs SET state = ?, finished_at = ?, error_code = ?, error_message = ? WHERE id = ?",
                    [(JobState.INTERRUPTED.value, now, "job_interrupted", message, job_id) for job_id in orphans],
                )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        return orphans


def _record(row: Sequence[Any]) -> JobRecord:
    counts: Mapping[str, int] = {str(k): int(v) for k, v in json.loads(row[11]).items()}
    result: Mapping[str, JsonValue] | None = None if row[14] is None else json.loads(row[14])
    return JobRecord(
        id=row[0],
        kind=row[1],
        account=row[2],
        state=JobState(row[3]),
        owner=row[4],
        created_at=row[5],
        started_at=row[6],
        finished_at=row[7],
        progress=JobProgress(stage=row[8], done=row[9], total=row[10]),
        counts=counts,
        error_code=row[12],
        error_message=row[13],
        result=result,
        cancel_requested=bool(row[15]),
    )
