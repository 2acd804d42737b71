"""The live stack the API tests run on: plexsim over loopback HTTP, real services on a real SQLite file, the app.

A module changes what plexsim serves by overriding ``plex_library``, and the settings by overriding
``plex_environ``; ``sim``, ``services`` and ``client`` then follow. Also the small checks several modules share.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
from flask.testing import FlaskClient

from plexm8.bootstrap import Services, build_services
from plexm8.config import load_settings
from plexm8.web import create_app
from plexsim.generate import ADMIN_TOKEN, generate_library
from plexsim.library import Library
from plexsim.server import RunningServer, start_server


@pytest.fixture
def plex_library() -> Library:
    """The library plexsim serves."""
    return generate_library(tracks=300, seed=7)


@pytest.fixture
def plex_environ() -> dict[str, str]:
    """Settings besides the Plex URL and token; automatic refreshes are off so tests decide when one runs."""
    return {"INDEX_REFRESH_INTERVAL": "0"}


@pytest.fixture
def sim(plex_library: Library) -> Iterator[RunningServer]:
    with start_server(plex_library) as server:
        yield server


@pytest.fixture
def services(sim: RunningServer, plex_environ: dict[str, str], tmp_path: Path) -> Iterator[Services]:
    environ = {"PLEX_SERVER_URL": sim.url, "PLEX_TOKEN": ADMIN_TOKEN, **plex_environ}
    with build_services(load_settings(environ, default_data_dir=tmp_path)) as built:
        yield built


@pytest.fixture
def client(services: Services) -> FlaskClient:
    return create_app(services=services).test_client()


def body(response: Any, status: int) -> dict[str, Any]:
    """The JSON body of ``response``, once its status is ``status``."""
    assert response.status_code == status, response.get_json()
    data: dict[str, Any] = response.get_json()
    return data


def error(response: Any, status: int, code: str) -> str:
    """The error message of ``response``, once its status is ``status`` and its error code ``code``."""
    data = body(response, status)
    assert data["error"]["code"] == code, data
    message: str = data["error"]["message"]
    return message


def rate_writes(sim: RunningServer) -> Counter[int]:
    """How many times plexsim was asked to rate each rating key (``PUT /:/rate``)."""
    return Counter(int(parse_qs(r.query)["key"][0]) for r in sim.knobs.log if r.path == "/:/rate" and r.method == "PUT")
