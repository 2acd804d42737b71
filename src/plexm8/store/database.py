"""Open the PlexM8 SQLite database with the settings every connection needs."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from plexm8.store.migrations import migrate

__all__ = ["ThreadConnections", "connect"]


def connect(path: str | Path, *, busy_timeout_s: float = 10.0) -> sqlite3.Connection:
    """Open ``path`` in WAL mode with foreign keys on and a busy timeout; transactions are explicit (BEGIN/COMMIT).

    WAL lets readers (the web API) keep reading the last committed index while a refresh writes the next one;
    ``synchronous=NORMAL`` is durable across application crashes in WAL mode and only risks the last commit on
    power loss, which a refresh recovers from by reading again.
    """
    conn = sqlite3.connect(path, timeout=busy_timeout_s, isolation_level=None, check_same_thread=False)
    try:
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_s * 1000)}")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA temp_store = MEMORY")
    except sqlite3.Error:
        conn.close()
        raise
    return conn


class ThreadConnections:
    """One connection per thread to the index database at ``path``, which is migrated once, on first use.

    sqlite3 connections are cheap to keep and serialise their own use, so each reading thread gets its own; a
    writer takes a private one from :meth:`open` for its transaction.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._local = threading.local()
        self._migrated = False
        self._lock = threading.Lock()

    def get(self) -> sqlite3.Connection:
        """This thread's connection, opened on first use."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self.open()
        return conn

    def open(self) -> sqlite3.Connection:
        """A new connection the caller owns (and closes), to a database migrated to this code's schema."""
        conn = connect(self.path)
        try:
            with self._lock:
                if not self._migrated:
                    migrate(conn)
                    self._migrated = True
        except BaseException:
            conn.close()
            raise
        return conn

    def close(self) -> None:
        """Close this thread's connection (other threads' close when their threads end)."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
