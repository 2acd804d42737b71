"""Fixtures for the web tests: settings on a temp data dir, Plex stand-ins on loopback, apps and clients."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from plexm8.bootstrap import Services, build_services
from plexm8.config import SETTING_NAMES, Settings, load_settings
from plexm8.web import create_app


class SilentServer:
    """A loopback TCP server that accepts connections and never answers: a Plex server hung mid-request."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self.accepted = threading.Event()
        self._connections: list[socket.socket] = []
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            connection, _ = self._listener.accept()
            if self._closing.is_set():
                connection.close()
                return
            self._connections.append(connection)
            self.accepted.set()

    def close(self) -> None:
        """Stop listening and drop held connections, so a probe stuck on one fails at once."""
        if self._closing.is_set():
            return
        self._closing.set()
        # A blocked accept() is not woken by close() from another thread on every platform; a connection is.
        socket.create_connection(self._listener.getsockname()).close()
        self._thread.join()
        self._listener.close()
        for connection in self._connections:
            connection.close()


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in SETTING_NAMES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def closed_url() -> str:
    """A loopback URL on which nothing listens (connection refused)."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture
def silent_server() -> Iterator[SilentServer]:
    server = SilentServer()
    yield server
    server.close()


@pytest.fixture
def make_settings(tmp_path: Path) -> Iterator[Callable[..., Settings]]:
    def make(**environ: str) -> Settings:
        return load_settings(environ, default_data_dir=tmp_path / "data")

    yield make


@pytest.fixture
def unreachable_services(closed_url: str, tmp_path: Path) -> Iterator[Services]:
    """Services in real mode pointing at a closed loopback port."""
    settings = load_settings({"PLEX_SERVER_URL": closed_url, "PLEX_TOKEN": "tok-123"}, default_data_dir=tmp_path)
    with build_services(settings) as services:
        yield services


@pytest.fixture
def app(unreachable_services: Services) -> Flask:
    return create_app(services=unreachable_services)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()
