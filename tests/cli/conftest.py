"""Fixtures for the CLI tests: a clean environment and working directory, a free loopback port, and the sync stack.

The sync stack (``sim``, ``env``, ``export``) serves the Plex side of a module's own ``hard_cases`` fixture and
writes its player side as an iTunes export.
"""

from __future__ import annotations

import dataclasses
import logging
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from plexm8.config import SETTING_NAMES
from plexsim.exports import HardCaseSet, write_itunes_xml
from plexsim.generate import ADMIN_TOKEN
from plexsim.server import RunningServer, start_server

SETTINGS_VARIABLES = SETTING_NAMES


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No settings inherited from the machine, no stray .env.local, and a temporary data directory."""
    for name in SETTINGS_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PLEXM8_DATA_DIR", str(tmp_path / "data"))


@pytest.fixture(autouse=True)
def _restore_root_logger() -> Iterator[None]:
    """Commands configure the root logger; put it back so other tests see the logging they expect."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
def free_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port: int = listener.getsockname()[1]
    return port


@pytest.fixture
def closed_url(free_port: int) -> str:
    return f"http://127.0.0.1:{free_port}"


@pytest.fixture
def sim(hard_cases: HardCaseSet) -> Iterator[RunningServer]:
    """plexsim serving the Plex side of the module's ``hard_cases``."""
    with start_server(hard_cases.library) as server:
        yield server


@pytest.fixture
def env(sim: RunningServer, tmp_path: Path) -> dict[str, str]:
    """Settings for a ``plexm8`` command against ``sim`` as its admin, with its own data folder."""
    return {
        "PLEX_SERVER_URL": sim.url,
        "PLEX_TOKEN": ADMIN_TOKEN,
        "PLEXM8_DATA_DIR": str(tmp_path / "data"),
        "INDEX_REFRESH_INTERVAL": "0",
    }


@pytest.fixture
def export(hard_cases: HardCaseSet, tmp_path: Path) -> Path:
    """An iTunes Library.xml of the player side, rating every exported track 1-5 stars in turn."""
    tracks = [dataclasses.replace(t, rating=(n % 5 + 1) * 20) for n, t in enumerate(hard_cases.tracks)]
    path = tmp_path / "Library.xml"
    write_itunes_xml(tracks, path)
    return path
