"""Serve plexsim over real HTTP on loopback, in a background thread.

:func:`start_server` is what tests, benchmarks and PlexM8's demo mode use::

    with start_server(library) as plex:
        PlexServer(plex.url, token)          # any HTTP client, over a real socket
        plex.knobs.configure(fail_path="/library/metadata")
        plex.knobs.count("/:/rate")
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from types import TracebackType
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from plexsim.app import PlexSimApp
from plexsim.knobs import Knobs
from plexsim.library import Library
from plexsim.state import ServerState

__all__ = ["QuietRequestHandler", "RunningServer", "start_server"]


class QuietRequestHandler(WSGIRequestHandler):
    """Werkzeug's handler without its per-request access log (tests run with warnings and logs kept clean)."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None

    def log(self, type: str, message: str, *args: Any) -> None:
        return None


class RunningServer:
    """A plexsim serving in a daemon thread; :meth:`stop` (or leaving the ``with`` block) shuts it down."""

    def __init__(self, server: BaseWSGIServer, app: PlexSimApp) -> None:
        self._server = server
        self.app = app
        self.state: ServerState = app.state
        self.knobs: Knobs = app.knobs
        self.host = str(server.server_address[0])
        self.port = int(server.server_address[1])
        self.url = f"http://{self.host}:{self.port}"
        # A short poll interval makes stop() quick (serve_forever notices the shutdown request between polls).
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name=f"plexsim:{self.port}", daemon=True
        )
        self._thread.start()

    @property
    def admin_token(self) -> str:
        """The first token of account 1 (the server admin)."""
        return self.state.accounts[1].tokens[0]

    def stop(self) -> None:
        """Stop serving and close the listening socket; safe to call twice."""
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join(timeout=10)
        self._server.server_close()

    def __enter__(self) -> RunningServer:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def start_server(
    library: Library,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    latency_ms: float = 0.0,
    extra_tokens: Sequence[str] = (),
    prewarm: bool = False,
) -> RunningServer:
    """Serve ``library`` with a fresh state; port 0 picks a free port. ``extra_tokens`` map to the admin.

    ``prewarm`` renders every item before the port opens, so even the first full listing is served from cache.
    """
    state = ServerState(library)
    for token in extra_tokens:
        state.add_token(token)
    app = PlexSimApp(state, Knobs(latency_ms=latency_ms))
    if prewarm:
        app.prewarm()
    server = make_server(host, port, app, threaded=True, request_handler=QuietRequestHandler)
    return RunningServer(server, app)
