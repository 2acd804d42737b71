"""The Plex connection state in /api/health against plexsim over real HTTP: demo, real, refused token, faults."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from plexm8.bootstrap import Services, build_services
from plexm8.config import load_settings
from plexm8.core.models import PlexMode
from plexm8.errors import PlexUnavailable
from plexm8.web import create_app
from plexsim.demo import DEMO_ADMIN_TOKEN, demo_library
from plexsim.server import RunningServer, start_server


@pytest.fixture(scope="module")
def plex() -> Iterator[RunningServer]:
    with start_server(demo_library()) as server:
        yield server


@pytest.fixture
def real_services(plex: RunningServer, tmp_path: Path) -> Iterator[Services]:
    environ = {"PLEX_SERVER_URL": plex.url, "PLEX_TOKEN": DEMO_ADMIN_TOKEN}
    with build_services(load_settings(environ, default_data_dir=tmp_path)) as services:
        yield services
    plex.knobs.reset()


def health_plex(client: FlaskClient) -> dict[str, object]:
    response = client.get("/api/health")
    assert response.status_code == 200
    plex: dict[str, object] = response.get_json()["plex"]
    return plex


def test_demo_mode_serves_the_demo_library_and_says_so(tmp_path: Path) -> None:
    with build_services(load_settings({}, default_data_dir=tmp_path / "data")) as services:
        assert services.mode is PlexMode.DEMO
        assert (tmp_path / "data").is_dir()
        url = services.settings.plex_server_url
        assert url is not None and url.startswith("http://127.0.0.1:")
        services.monitor.check_now()
        client = create_app(services=services).test_client()
        plex = health_plex(client)
        assert plex["mode"] == "demo"
        assert plex["reachable"] is True
        assert plex["server_url"] == url
        assert plex["server_name"] == demo_library().server.friendly_name
        assert plex["machine_identifier"] == demo_library().server.machine_identifier
        assert plex["error"] is None
        assert "demo mode" in client.get("/").get_data(as_text=True)
    # Closing the services stops the demo server.
    with pytest.raises(PlexUnavailable, match="cannot connect"):
        services.plex.probe()


def test_real_mode_reports_the_server_identity(real_services: Services, plex: RunningServer) -> None:
    real_services.monitor.check_now()
    body = create_app(services=real_services).test_client().get("/api/health").get_json()
    assert body["plex"]["mode"] == "real"
    assert body["plex"]["reachable"] is True
    assert body["plex"]["server_version"] == demo_library().server.version
    assert body["plex"]["checked_at"].endswith("Z")
    assert DEMO_ADMIN_TOKEN not in str(body)


def test_refused_token_is_reported_as_unauthorized(plex: RunningServer, tmp_path: Path) -> None:
    environ = {"PLEX_SERVER_URL": plex.url, "PLEX_TOKEN": "not-a-plexsim-token"}
    with build_services(load_settings(environ, default_data_dir=tmp_path)) as services:
        services.monitor.check_now()
        plex_state = health_plex(create_app(services=services).test_client())
    assert plex_state["reachable"] is False
    assert plex_state["error"] == {
        "code": "plex_unauthorized",
        "message": f"Plex at {plex.url} refused the token (HTTP 401); check PLEX_TOKEN",
    }


def test_server_errors_then_recovery(real_services: Services, plex: RunningServer) -> None:
    client = create_app(services=real_services).test_client()
    real_services.monitor.check_now()
    plex.knobs.configure(fail_path="^/$", fail_status=500)
    real_services.monitor.check_now()
    failing = health_plex(client)
    assert failing["reachable"] is False
    assert failing["error"] == {"code": "plex_unavailable", "message": f"Plex at {plex.url} answered HTTP 500"}
    # The last known server stays visible while it is down.
    assert failing["server_name"] == demo_library().server.friendly_name
    plex.knobs.reset()
    real_services.monitor.check_now()
    recovered = health_plex(client)
    assert recovered["reachable"] is True
    assert recovered["error"] is None


def test_dropped_connection_is_unavailable(real_services: Services, plex: RunningServer) -> None:
    plex.knobs.configure(drop_path="^/$")
    status = real_services.monitor.check_now()
    assert status.reachable is False
    assert status.error_code == "plex_unavailable"
    assert status.error_message is not None and plex.url in status.error_message
