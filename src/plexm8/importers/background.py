"""Read an export file in a worker process while the caller gets ready to match what it holds.

Reading a 50,000-track ``Library.xml`` costs about as much CPU as loading and indexing the 100,000-track catalog
it is matched against, and the two do not depend on each other: on a machine with two cores they overlap.
:class:`ReadAhead` starts a worker process at once (a fresh interpreter, ``spawn``: forking a threaded server is
unsafe), the worker reads the source and sends its tracks in batches, **column by column** — lists of plain values
pickle several times faster than thousands of dataclass instances. A thread of the caller's process drains the pipe
as batches come (so the worker never waits for a busy caller), and :meth:`ReadAhead.tracks` gives the records of
each batch as soon as it is there, so the caller matches them while the worker reads on.

The worker changes where the file is read, never what is read: if it cannot start, dies or fails in any way other
than a :class:`~plexm8.errors.SourceFormatError`, the file is read again here by the same source object, so records,
reports and error messages are those of an ordinary read.
"""

from __future__ import annotations

import contextlib
import gc
import multiprocessing
import pickle
import queue
import threading
import weakref
from collections.abc import Iterator, Sequence
from dataclasses import fields
from operator import attrgetter
from typing import TYPE_CHECKING, Any, Final

from plexm8.core.ratings import Rating
from plexm8.core.sources import RatingScale, SourceRating, SourceReport, SourceTrack
from plexm8.errors import SourceFormatError

if TYPE_CHECKING:
    from plexm8.core.ports import RatingSource

__all__ = ["ReadAhead"]

_FIELDS: Final = tuple(f.name for f in fields(SourceTrack))
_RATING_FIELDS: Final = frozenset({"rating", "album_rating"})
_ROW: Final = attrgetter(*_FIELDS)

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]

#: The pipe buffer asked for (Linux's default ceiling for unprivileged processes, /proc/sys/fs/pipe-max-size).
_PIPE_BYTES: Final = 1 << 20

#: Tracks per batch the worker sends: small enough to overlap with its reading, big enough to pickle efficiently.
BATCH: Final = 4096

#: What a worker sends: ("rows", columns)* then ("end", report) | ("invalid", name, problem) | ("failed", what).
_Payload = tuple[Any, ...]


class ReadAhead:
    """A :class:`~plexm8.core.ports.RatingSource` whose first pass was read by a worker process started at once.

    ``source`` must be picklable (the file sources are; a tag folder with its scan cache is not). The first
    :meth:`tracks` pass is the worker's; later passes read the file here, as the source always does.
    """

    def __init__(self, source: RatingSource) -> None:
        self._source = source
        self._report: SourceReport | None = None
        self._used = False
        context = multiprocessing.get_context("spawn")
        receiver, sender = context.Pipe(duplex=False)
        _widen(receiver)
        self._inbox: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self._process: multiprocessing.process.BaseProcess | None = None
        try:
            process = context.Process(target=_work, args=(source, sender), name="plexm8-read-ahead", daemon=True)
            process.start()
        except (OSError, pickle.PicklingError, TypeError, AttributeError):
            receiver.close()  # no worker: the first pass reads here
        else:
            self._process = process
            threading.Thread(target=_drain, args=(receiver, self._inbox), name="plexm8-read-ahead", daemon=True).start()
            # A worker abandoned by its caller (a cancelled sync) must not go on reading a big file.
            self._finalizer = weakref.finalize(self, _stop, process, receiver)
        finally:
            sender.close()  # the worker holds its end: when it dies, the receiver sees end-of-file

    @property
    def report(self) -> SourceReport:
        """What the last pass read and skipped (the worker's report once its pass is received)."""
        return self._report if self._report is not None else self._source.report

    def tracks(self) -> Iterator[SourceTrack]:
        """The source's tracks: from the worker the first time, read here afterwards or when the worker failed.

        The worker's tracks are given batch by batch as they arrive, so the caller works on them while the worker
        reads on. If the worker fails part-way, the file is read here and the tracks it already gave are skipped
        (a source reads the same tracks in the same order every pass).
        """
        given = 0
        if not self._used and self._process is not None:
            self._used = True
            ratings: dict[tuple[str, float, int | None], SourceRating] = {}
            try:
                while True:
                    message = self._inbox.get()
                    if message is None:
                        break  # the worker died (killed, out of memory) before its last word
                    # Our own worker's words over a pipe only it holds: the trust multiprocessing places in pickle.
                    payload: _Payload = pickle.loads(message)  # noqa: S301
                    if payload[0] == "rows":
                        batch = list(_rebuilt(payload[1], ratings))
                        given += len(batch)
                        yield from batch
                    elif payload[0] == "end":
                        self._report = payload[1]
                        return
                    elif payload[0] == "invalid":
                        raise SourceFormatError(payload[1], payload[2])
                    else:
                        break
            finally:
                self.close()
        self._used = True
        self._report = None
        for position, track in enumerate(self._source.tracks()):
            if position >= given:
                yield track

    def close(self) -> None:
        """Stop the worker if it is still reading (the first :meth:`tracks` pass is then read here)."""
        if self._process is not None:
            self._finalizer()
            self._process = None


def _widen(receiver: Any) -> None:
    """Give the pipe a 1 MiB buffer where the system allows it (Linux), instead of 64 KiB.

    The draining thread needs the GIL after every read, and the caller's thread, busy loading the catalog, gives
    it up only every few milliseconds: with 64 KiB per read the worker spent about a second of a 50,000-track
    export blocked on a full pipe. Where the buffer cannot grow, batches still arrive, only later.
    """
    set_size = getattr(fcntl, "F_SETPIPE_SZ", None) if fcntl is not None else None
    if set_size is None:
        return
    with contextlib.suppress(OSError):
        fcntl.fcntl(receiver.fileno(), set_size, _PIPE_BYTES)


def _drain(receiver: Any, inbox: queue.SimpleQueue[bytes | None]) -> None:
    """Move the worker's messages into ``inbox`` as they come (``None`` once the pipe closes)."""
    try:
        while True:
            inbox.put(receiver.recv_bytes())
    except (EOFError, OSError):
        inbox.put(None)


def _stop(process: multiprocessing.process.BaseProcess, receiver: Any) -> None:
    # Killed first: its end of the pipe closes with it, which ends the draining thread's wait.
    if process.is_alive():
        process.kill()
    process.join(timeout=5)
    receiver.close()


def _work(source: RatingSource, sender: Any) -> None:
    """The worker: read ``source`` to its end, sending its tracks in column batches, then the report or the error."""
    # This process only reads: its records are freed by reference counting, and the cyclic collector would only
    # traverse them again and again.
    gc.disable()
    try:
        rows: list[tuple[Any, ...]] = []
        for track in source.tracks():
            rows.append(_ROW(track))
            if len(rows) == BATCH:
                _send(sender, ("rows", _columns(rows)))
                rows = []
        if rows:
            _send(sender, ("rows", _columns(rows)))
        _send(sender, ("end", source.report))
    except SourceFormatError as exc:
        _send(sender, ("invalid", exc.name, exc.problem))
    except BaseException as exc:  # the caller reads the file again and meets the error itself
        _send(sender, ("failed", f"{type(exc).__name__}: {exc}"))
    finally:
        sender.close()


def _send(sender: Any, payload: _Payload) -> None:
    sender.send_bytes(pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL))


def _columns(rows: list[tuple[Any, ...]]) -> list[list[Any]]:
    columns = [list(column) for column in zip(*rows, strict=True)]
    for position, name in enumerate(_FIELDS):
        if name in _RATING_FIELDS:
            columns[position] = [_rating_values(r) for r in columns[position]]
    return columns


def _rating_values(rating: SourceRating | None) -> tuple[str, float, int | None] | None:
    return None if rating is None else (rating.scale.value, rating.raw, rating.plex.value)


def _rebuilt(
    columns: Sequence[list[Any]], ratings: dict[tuple[str, float, int | None], SourceRating]
) -> Iterator[SourceTrack]:
    """The records again from their columns; a library holds few distinct ratings, each rebuilt once."""

    def rating(values: tuple[str, float, int | None] | None) -> SourceRating | None:
        if values is None:
            return None
        known = ratings.get(values)
        if known is None:
            known = ratings[values] = SourceRating(RatingScale(values[0]), values[1], Rating(values[2]))
        return known

    columns = [
        [rating(v) for v in column] if name in _RATING_FIELDS else column
        for name, column in zip(_FIELDS, columns, strict=True)
    ]
    for values in zip(*columns, strict=True):
        yield SourceTrack(*values)
