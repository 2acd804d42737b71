"""Open the PlexM8 SQLite database with the settings every connection needs."""

from __future__ import annotations

import sqlite3
from pathlib import Path

__all__ = ["connect"]


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
