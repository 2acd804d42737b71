"""The Plex connection monitor: checks Plex in the background and keeps the latest result for instant reads."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime

from plexm8.core.models import ConnectionStatus, PlexMode
from plexm8.core.ports import PlexServerProbe
from plexm8.errors import PlexError

__all__ = ["ConnectionMonitor"]

log = logging.getLogger(__name__)


def _utcnow() -> datetime:
    return datetime.now(UTC)


class ConnectionMonitor:
    """Checks Plex at start, every ``interval`` seconds, and sooner after a failure (backoff from ``retry_min``).

    :meth:`status` returns the cached result and never waits on Plex, so health endpoints stay instant even
    while a probe hangs until its timeout.
    """

    def __init__(
        self,
        probe: PlexServerProbe,
        *,
        mode: PlexMode,
        server_url: str,
        interval: float,
        retry_min: float = 1.0,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self._probe = probe
        self._interval = interval
        self._retry_min = min(retry_min, interval)
        self._clock = clock
        self._status = ConnectionStatus(mode=mode, server_url=server_url)
        self._write_lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._failures = 0

    def status(self) -> ConnectionStatus:
        """The latest check's result (the initial 'not checked yet' status before the first check finishes)."""
        return self._status

    def check_now(self) -> ConnectionStatus:
        """Probe Plex in the calling thread, store the result and return it."""
        try:
            identity = self._probe.probe()
        except PlexError as exc:
            return self._record_failure(exc)
        with self._write_lock:
            if self._failures or not self._status.reachable:
                log.info("Plex is reachable at %s: %s %s", self._status.server_url, identity.name, identity.version)
            self._failures = 0
            self._status = ConnectionStatus(
                mode=self._status.mode,
                server_url=self._status.server_url,
                reachable=True,
                identity=identity,
                checked_at=self._clock(),
            )
            return self._status

    def start(self) -> None:
        """Start the background checks (the first one immediately); calling it again does nothing."""
        with self._write_lock:
            if self._thread is not None:
                return
            self._thread = threading.Thread(target=self._run, name="plexm8-plex-monitor", daemon=True)
            self._thread.start()

    def request_check(self) -> None:
        """Make the background thread check again now instead of at its next scheduled time."""
        self._wake.set()

    def stop(self, timeout: float | None = 5.0) -> None:
        """Stop the background checks; waits at most ``timeout`` seconds for a probe in flight."""
        self._stopping.set()
        self._wake.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def _record_failure(self, exc: PlexError) -> ConnectionStatus:
        with self._write_lock:
            self._failures += 1
            if self._failures == 1:
                log.warning("Plex check failed: %s", exc.message)
            self._status = ConnectionStatus(
                mode=self._status.mode,
                server_url=self._status.server_url,
                reachable=False,
                identity=self._status.identity,
                checked_at=self._clock(),
                error_code=exc.code,
                error_message=exc.message,
            )
            return self._status

    def _next_delay(self) -> float:
        if self._failures == 0:
            return self._interval
        # The exponent is capped so that a server down for days cannot overflow the float.
        return min(self._retry_min * 2.0 ** min(self._failures - 1, 32), self._interval)

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                self.check_now()
            except Exception as exc:
                # A bug in a probe must not silently end the checks: the thread is the only one doing them.
                log.exception("unexpected error while checking Plex")
                self._record_failure(PlexError(f"unexpected {type(exc).__name__} while checking Plex; see the log"))
            self._wake.wait(self._next_delay())
            self._wake.clear()
