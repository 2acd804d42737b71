"""Pause Python's cyclic garbage collector while a use case builds large, acyclic data (index refresh, matching).

An index refresh or a sync allocates hundreds of thousands of records, rows and tuples that reference counting
frees; the cyclic collector finds nothing among them but traverses the growing heap again and again (it took half
of an index build's decoding time, and a third of a sync's catalog load and matching). The pause is counted, so
that overlapping users (an automatic refresh while a sync runs) re-enable the collector only when the last one
ends, and only if it was enabled before the first began.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["gc_paused"]

_lock = threading.Lock()
_depth = 0
_was_enabled = False


@contextmanager
def gc_paused() -> Iterator[None]:
    """Keep the cyclic collector off for the duration of the block (however it ends)."""
    global _depth, _was_enabled
    with _lock:
        if _depth == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _was_enabled:
                gc.enable()
