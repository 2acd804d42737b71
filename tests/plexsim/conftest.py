"""Fixtures for plexsim's tests: a fresh simulator on a free loopback port for every test, and plexapi clients."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from plexapi.server import PlexServer

sys.path.insert(0, str(Path(__file__).resolve().parent))

from builders import ADMIN_TOKEN, ALICE_TOKEN, small_library

from plexsim.server import RunningServer, start_server


@pytest.fixture
def sim() -> Iterator[RunningServer]:
    """A plexsim serving the small hand-built library, fresh for each test."""
    with start_server(small_library()) as running:
        yield running


@pytest.fixture
def plex(sim: RunningServer) -> PlexServer:
    """python-plexapi connected to ``sim`` as the admin."""
    return PlexServer(sim.url, ADMIN_TOKEN, timeout=10)


@pytest.fixture
def alice(sim: RunningServer) -> PlexServer:
    """python-plexapi connected to ``sim`` as a second, non-admin account."""
    return PlexServer(sim.url, ALICE_TOKEN, timeout=10)
