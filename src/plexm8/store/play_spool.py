"""Read a large play history in a worker process into a spool file that the index writer takes in one statement.

A full build stores every play of the section (300,000 in the benchmark library). Decoding and inserting them row by
row costs the refresh's own thread 1-2 s, and that thread is what the build waits for: a worker thread cannot help,
because SQLite inserts give the GIL up and take it back on every row, and two threads inserting take longer than one
after the other. :class:`SqlitePlaySpool` starts a worker process at once (``spawn``: forking a threaded server is
unsafe); it reads the :data:`~plexm8.core.catalog.PlaySource` and inserts the plays into a SQLite file of its own in
the index's directory. The writer then attaches that file and copies the plays in one ``INSERT … SELECT``, which
SQLite runs in C.

The worker changes where the history is read, never what is read: a :class:`~plexm8.errors.PlexM8Error` it meets
(Plex refusing the token, down, answering something else) is raised here as it was raised there; if it cannot start
or dies, the source is read again here into a fresh spool, so the plays are those of an ordinary read.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import multiprocessing
import os
import pickle
import sqlite3
import time
import uuid
from collections.abc import Iterable
from multiprocessing.connection import Connection
from operator import itemgetter
from pathlib import Path
from typing import Any, Final

from plexm8.core.catalog import PlayRow, PlaySource
from plexm8.errors import PlexM8Error

__all__ = ["SqlitePlaySpool"]

log = logging.getLogger(__name__)

#: Spool files are named with this prefix in the index's directory.
PREFIX: Final = ".plays-spool-"
#: A spool file left behind by a process killed mid-build is removed by the next spool after this long.
_STALE_AFTER_S: Final = 3600.0
_VIEWED_AT = itemgetter(2)


class SqlitePlaySpool:
    """A :class:`~plexm8.core.catalog.PlaySpool`: ``source`` read in a worker process into a file in ``directory``.

    ``source`` must be picklable. :meth:`finish` waits for the worker and gives the file with the number of plays in
    it and their latest ``viewed_at``; :meth:`close` stops the worker and removes the file.
    """

    def __init__(self, source: PlaySource, directory: Path, *, in_process: bool = False) -> None:
        self._source = source
        _remove_stale(directory)
        self.path = directory / f"{PREFIX}{os.getpid()}-{uuid.uuid4().hex[:12]}.db"
        self._outcome: tuple[int, int] | None = None
        self._process: multiprocessing.process.BaseProcess | None = None
        self._receiver: Connection | None = None
        if in_process:
            return
        context = multiprocessing.get_context("spawn")
        receiver, sender = context.Pipe(duplex=False)
        try:
            process = context.Process(
                target=_work, args=(source, str(self.path), sender), name="plexm8-play-spool", daemon=True
            )
            process.start()
        except (OSError, pickle.PicklingError, TypeError, AttributeError):
            receiver.close()  # no worker: the source is read here when the plays are wanted
        else:
            self._process, self._receiver = process, receiver
        finally:
            sender.close()

    def finish(self) -> tuple[Path, int, int]:
        """Wait for the plays; return the spool file, how many plays it holds and their latest ``viewed_at``.

        Raises the source's :class:`~plexm8.errors.PlexM8Error`. Without a worker, or when it died, reads here.
        """
        if self._outcome is None:
            self._outcome = self._from_worker() or self._here()
        plays, high = self._outcome
        return self.path, plays, high

    def _from_worker(self) -> tuple[int, int] | None:
        receiver, process = self._receiver, self._process
        if receiver is None or process is None:
            return None
        try:
            message: tuple[Any, ...] = receiver.recv()
        except (EOFError, OSError, pickle.UnpicklingError):
            message = ("died",)
        finally:
            receiver.close()
            self._receiver = None
        process.join(timeout=5)
        if message[0] == "done":
            return int(message[1]), int(message[2])
        if message[0] == "failed" and isinstance(message[1], PlexM8Error):
            raise message[1]
        # Died or failed unexpectedly: read again here, where an error shows as itself.
        what = message[1] if message[0] == "crashed" else f"exit code {process.exitcode}"
        log.warning("the history worker did not finish (%s); reading the history here", what)
        return None

    def _here(self) -> tuple[int, int]:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        return _fill(self._source(), self.path)

    def close(self) -> None:
        """Stop the worker if it still runs and remove the spool file."""
        if self._receiver is not None:
            self._receiver.close()
            self._receiver = None
        process, self._process = self._process, None
        if process is not None and process.is_alive():
            process.terminate()
            process.join(timeout=5)
        with contextlib.suppress(OSError):
            self.path.unlink()


def _fill(pages: Iterable[list[PlayRow]], path: Path) -> tuple[int, int]:
    """Store ``pages`` in a new spool file at ``path``; return how many plays it holds and their latest viewed_at."""
    # The spool is scratch: no journal, no syncing (a spool cut short is never used, it is read again).
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = OFF")
        conn.execute("PRAGMA synchronous = OFF")
        conn.execute(
            "CREATE TABLE plays (history_id INTEGER PRIMARY KEY, rating_key INTEGER NOT NULL,"
            " viewed_at INTEGER NOT NULL, plex_account_id INTEGER, device_id INTEGER)"
        )
        conn.execute("BEGIN")
        high = 0
        for page in pages:
            # History comes newest first: in key order, each row lands next to the previous one.
            conn.executemany("INSERT OR IGNORE INTO plays VALUES (?, ?, ?, ?, ?)", sorted(page))
            high = max(high, max(map(_VIEWED_AT, page), default=0))
        conn.execute("COMMIT")
        (plays,) = conn.execute("SELECT COUNT(*) FROM plays").fetchone()
    finally:
        conn.close()
    return int(plays), high


def _work(source: PlaySource, path: str, sender: Connection) -> None:
    """The worker: read ``source`` into the spool at ``path`` and say how it went."""
    gc.disable()  # short-lived, and its objects form no cycles worth a collection pass
    if hasattr(os, "nice"):
        # The refresh's own thread and the server come first; the spool uses the time a core has left over.
        with contextlib.suppress(OSError):
            os.nice(10)
    try:
        try:
            plays, high = _fill(source(), Path(path))
        except PlexM8Error as exc:
            sender.send(("failed", exc))
        except BaseException as exc:  # reported, then read again by the parent
            sender.send(("crashed", f"{type(exc).__name__}: {exc}"))
        else:
            sender.send(("done", plays, high))
    finally:
        sender.close()


def _remove_stale(directory: Path) -> None:
    """Remove spool files left behind by processes killed mid-build (older than an hour: none is in use)."""
    now = time.time()
    for leftover in directory.glob(f"{PREFIX}*.db"):
        with contextlib.suppress(OSError):
            if now - leftover.stat().st_mtime > _STALE_AFTER_S:
                leftover.unlink()
