"""Fixtures for the CLI tests: a clean environment and working directory, and a free loopback port."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from plexm8.config import SETTING_NAMES

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
