"""Shared fixtures of the index tests: each module names its generated ``library``; ``plex`` serves a fresh copy."""

from __future__ import annotations

import copy
from collections.abc import Iterator

import pytest

from plexsim.library import Library
from plexsim.server import RunningServer, start_server


@pytest.fixture
def plex(library: Library) -> Iterator[RunningServer]:
    """plexsim serving a deep copy of the module's ``library`` (tests may change the server's state freely)."""
    with start_server(copy.deepcopy(library)) as server:
        yield server
