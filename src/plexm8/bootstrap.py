"""The composition root: builds PlexM8's services from settings, choosing the real Plex server or demo mode.

This is the only module that names concrete adapters, and the only one in plexm8 that imports plexsim (for demo
mode). Building services sends nothing to Plex; :meth:`Services.start` starts the background connection checks.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType

from platformdirs import user_data_dir

from plexm8.config import Settings, load_settings
from plexm8.core.models import PlexMode
from plexm8.core.ports import PlexServerProbe
from plexm8.errors import PlexUnavailable, SettingsError
from plexm8.plex import PlexApiConnection, plexapi_version
from plexm8.services.health import ConnectionMonitor

__all__ = ["Services", "build_services", "default_data_dir", "load_environment_settings"]

log = logging.getLogger(__name__)


def default_data_dir() -> Path:
    """The platform's per-user data directory for PlexM8 (e.g. ``~/.local/share/plexm8`` on Linux)."""
    return Path(user_data_dir("plexm8", appauthor=False))


def load_environment_settings(environ: Mapping[str, str]) -> Settings:
    """:func:`plexm8.config.load_settings` with the platform defaults filled in."""
    return load_settings(environ, default_data_dir=default_data_dir())


class Services:
    """Everything the web app and the CLI use, wired together; close it to stop threads and the demo server."""

    def __init__(
        self,
        *,
        settings: Settings,
        mode: PlexMode,
        plex: PlexServerProbe,
        monitor: ConnectionMonitor,
        plex_api_version: str,
        closers: list[Callable[[], None]],
    ) -> None:
        #: The effective settings: in demo mode the Plex URL and token point at the built-in demo server.
        self.settings = settings
        self.mode = mode
        self.plex = plex
        self.monitor = monitor
        self.plex_api_version = plex_api_version
        self._closers = closers
        self._closed = False

    def start(self) -> None:
        """Start the background Plex checks; calling it again does nothing."""
        self.monitor.start()

    def close(self) -> None:
        """Stop the checks, release connections and stop the demo server; calling it again does nothing."""
        if self._closed:
            return
        self._closed = True
        self.monitor.stop()
        for close in reversed(self._closers):
            close()

    def __enter__(self) -> Services:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()


def build_services(settings: Settings) -> Services:
    """Wire PlexM8 for ``settings``; with no ``plex_server_url`` start plexsim with the demo library (demo mode)."""
    try:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SettingsError("PLEXM8_DATA_DIR", f"cannot create {settings.data_dir}: {exc.strerror}") from None

    closers: list[Callable[[], None]] = []
    mode = PlexMode.REAL
    url = settings.plex_server_url
    if url is None:
        mode = PlexMode.DEMO
        url = _start_demo_server(closers)
        settings = dataclasses.replace(settings, plex_server_url=url, plex_token=_demo_token(settings))

    connection = PlexApiConnection(url, settings.plex_token, timeout=settings.plex_timeout)
    closers.append(connection.close)
    monitor = ConnectionMonitor(connection, mode=mode, server_url=url, interval=settings.plex_check_interval)
    return Services(
        settings=settings,
        mode=mode,
        plex=connection,
        monitor=monitor,
        plex_api_version=plexapi_version(),
        closers=closers,
    )


def _demo_token(settings: Settings) -> str:
    from plexsim.demo import DEMO_ADMIN_TOKEN

    if settings.plex_token:
        log.warning("PLEX_TOKEN is ignored in demo mode (no PLEX_SERVER_URL is set)")
    return DEMO_ADMIN_TOKEN


def _start_demo_server(closers: list[Callable[[], None]]) -> str:
    """Start plexsim with the demo library on a free loopback port; return its base URL."""
    # Imported here so that real mode never loads the simulator.
    from plexsim.demo import demo_library
    from plexsim.server import start_server

    try:
        server = start_server(demo_library(), host="127.0.0.1", port=0)
    except OSError as exc:
        raise PlexUnavailable(f"cannot start the demo Plex server: {exc.strerror or exc}") from None
    closers.append(server.stop)
    log.warning(
        "DEMO MODE: no PLEX_SERVER_URL is configured, so PlexM8 serves the built-in demo library "
        "from plexsim at %s; set PLEX_SERVER_URL and PLEX_TOKEN to use your Plex server",
        server.url,
    )
    return server.url.rstrip("/")
