"""Test and benchmark controls of a running plexsim: latency, injected faults, and a log of every request.

A :class:`Knobs` object is shared by the WSGI app and whoever drives it (a test through
:class:`plexsim.server.RunningServer`, or a benchmark over HTTP through the ``/__plexsim/`` control routes). All
methods are thread-safe. Faults apply in this order: the connection drop, then HTTP 500, then the 401 that starts
after N requests; latency (``latency_ms`` for every request plus ``slow_ms`` for requests matching ``slow_path``) is
spent before the answer is sent. ``ignore_exclusions`` makes the server answer as one that disregards
``excludeFields``/``excludeElements`` (the spec calls them "requests, not guarantees").
"""

from __future__ import annotations

import random
import re
import threading
from collections import Counter
from dataclasses import dataclass

__all__ = ["Fault", "Knobs", "RequestRecord"]


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """One request as the server saw it; ``status`` is ``None`` when the connection was dropped."""

    method: str
    path: str
    query: str
    status: int | None
    account_id: int | None


@dataclass(frozen=True, slots=True)
class Fault:
    """What to do with one request before it reaches the routes."""

    drop: bool = False
    status: int | None = None


class Knobs:
    """Latency, fault injection and the request log; :meth:`reset` restores a clean, fault-free server."""

    def __init__(self, *, latency_ms: float = 0.0, seed: int = 0) -> None:
        self._lock = threading.Lock()
        self._seed = seed
        self._base_latency_ms = latency_ms
        self.reset()

    def reset(self) -> None:
        """Clear the log and counters and remove every fault; latency goes back to the start-up value."""
        with self._lock:
            self.latency_ms = self._base_latency_ms
            self.slow_path: re.Pattern[str] | None = None
            self.slow_ms = 0.0
            self.fail_path: re.Pattern[str] | None = None
            self.fail_rate = 0.0
            self.fail_status = 500
            self.drop_path: re.Pattern[str] | None = None
            self.drop_rate = 0.0
            self.unauthorized_after: int | None = None
            self.ignore_exclusions = False
            self._rng = random.Random(self._seed)
            self._log: list[RequestRecord] = []
            self._seen = 0

    def configure(
        self,
        *,
        latency_ms: float | None = None,
        slow_path: str | None = None,
        slow_ms: float | None = None,
        fail_path: str | None = None,
        fail_rate: float | None = None,
        fail_status: int | None = None,
        drop_path: str | None = None,
        drop_rate: float | None = None,
        unauthorized_after: int | None = None,
        ignore_exclusions: bool | None = None,
    ) -> None:
        """Set some knobs; path patterns are regular expressions searched in the request path."""
        for rate in (fail_rate, drop_rate):
            if rate is not None and not 0.0 <= rate <= 1.0:
                raise ValueError(f"a rate must be within 0..1, got {rate}")
        with self._lock:
            if latency_ms is not None:
                self.latency_ms = latency_ms
            if slow_path is not None:
                self.slow_path = re.compile(slow_path)
            if slow_ms is not None:
                self.slow_ms = slow_ms
            if fail_path is not None:
                self.fail_path = re.compile(fail_path)
            if fail_rate is not None:
                self.fail_rate = fail_rate
            if fail_status is not None:
                self.fail_status = fail_status
            if drop_path is not None:
                self.drop_path = re.compile(drop_path)
            if drop_rate is not None:
                self.drop_rate = drop_rate
            if unauthorized_after is not None:
                # Counted from now: "the next N requests succeed, then every one is refused".
                self.unauthorized_after = self._seen + unauthorized_after
            if ignore_exclusions is not None:
                self.ignore_exclusions = ignore_exclusions

    def admit(self, path: str) -> Fault:
        """Count a request and decide its fault, if any."""
        with self._lock:
            self._seen += 1
            if (self.drop_path is not None and self.drop_path.search(path)) or (
                self.drop_rate and self._rng.random() < self.drop_rate
            ):
                return Fault(drop=True)
            if (self.fail_path is not None and self.fail_path.search(path)) or (
                self.fail_rate and self._rng.random() < self.fail_rate
            ):
                return Fault(status=self.fail_status)
            if self.unauthorized_after is not None and self._seen > self.unauthorized_after:
                return Fault(status=401)
            return Fault()

    def delay_seconds(self, path: str) -> float:
        with self._lock:
            extra = self.slow_ms if self.slow_path is not None and self.slow_path.search(path) else 0.0
            return (self.latency_ms + extra) / 1000.0

    def record(self, entry: RequestRecord) -> None:
        with self._lock:
            self._log.append(entry)

    @property
    def log(self) -> list[RequestRecord]:
        """A copy of the request log, oldest first."""
        with self._lock:
            return list(self._log)

    def count(self, path: str | None = None, *, method: str | None = None, prefix: bool = False) -> int:
        """How many logged requests match ``path`` (exactly, or as a prefix) and ``method``."""
        with self._lock:
            return sum(
                1
                for r in self._log
                if (path is None or (r.path.startswith(path) if prefix else r.path == path))
                and (method is None or r.method == method)
            )

    def counters(self) -> Counter[str]:
        """Requests per ``"METHOD path"``."""
        with self._lock:
            return Counter(f"{r.method} {r.path}" for r in self._log)

    def clear_log(self) -> None:
        with self._lock:
            self._log.clear()
