"""The live stack the sync tests run on: plexsim over loopback HTTP, real services on a real SQLite file.

The helpers (``sync_helpers``) build match outcomes straight from the indexed tracks, so planning, applying and
undoing are tested on their own, whatever the matcher decides.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from plexm8.bootstrap import Services, build_services
from plexm8.config import load_settings
from plexm8.core.accounts import PlexAccount
from plexsim.generate import ADMIN_TOKEN, generate_library
from plexsim.library import Library
from plexsim.server import RunningServer, start_server

sys.path.insert(0, str(Path(__file__).resolve().parent))


@pytest.fixture
def plex_library() -> Library:
    """The library plexsim serves."""
    return generate_library(tracks=200, seed=11)


@pytest.fixture
def sim(plex_library: Library) -> Iterator[RunningServer]:
    with start_server(plex_library) as server:
        yield server


@pytest.fixture
def services(sim: RunningServer, tmp_path: Path) -> Iterator[Services]:
    environ = {"PLEX_SERVER_URL": sim.url, "PLEX_TOKEN": ADMIN_TOKEN, "INDEX_REFRESH_INTERVAL": "0"}
    with build_services(load_settings(environ, default_data_dir=tmp_path)) as built:
        yield built


@pytest.fixture
def account(services: Services) -> PlexAccount:
    """The admin account, indexed."""
    account = services.account_for(None)
    services.index.refresh(account)
    return account
