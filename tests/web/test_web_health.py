"""GET /api/health: the contract with the web app, answered from the cached Plex state without waiting on Plex."""

from __future__ import annotations

from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from flask.testing import FlaskClient

import plexm8
from plexm8.bootstrap import Services, build_services
from plexm8.config import load_settings
from plexm8.web import create_app, get_services

if TYPE_CHECKING:
    from .conftest import SilentServer

PLEX_KEYS = {
    "mode",
    "server_url",
    "reachable",
    "server_name",
    "server_version",
    "machine_identifier",
    "checked_at",
    "error",
}


def test_health_shape_follows_the_web_app_contract(client: FlaskClient) -> None:
    response = client.get("/api/health")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert body["status"] == "ok"
    assert body["version"] == plexm8.__version__
    assert body["plex_api_version"] == version("plexapi")
    # features lists exactly the resources this build serves, in the web app's vocabulary.
    assert body["features"] == ["jobs", "library", "playlists", "ratings", "recommendations", "tracks"]
    assert set(body["plex"]) == PLEX_KEYS


def test_health_reports_unreachable_plex_with_a_token_free_error(
    client: FlaskClient, unreachable_services: Services, closed_url: str
) -> None:
    status = unreachable_services.monitor.check_now()
    assert status.reachable is False
    plex = client.get("/api/health").get_json()["plex"]
    assert plex["mode"] == "real"
    assert plex["server_url"] == closed_url
    assert plex["reachable"] is False
    assert plex["server_name"] is None
    assert plex["checked_at"] is not None and plex["checked_at"].endswith("Z")
    assert plex["error"]["code"] == "plex_unavailable"
    assert closed_url in plex["error"]["message"]
    assert "tok-123" not in client.get("/api/health").get_data(as_text=True)


def test_health_answers_while_the_plex_probe_hangs(silent_server: SilentServer, tmp_path: Path) -> None:
    # Plex accepts the connection and never answers; the timeout is far longer than this test may take.
    settings = load_settings({"PLEX_SERVER_URL": silent_server.url, "PLEX_TIMEOUT": "600"}, default_data_dir=tmp_path)
    with build_services(settings) as services:
        client = create_app(services=services).test_client()
        services.start()
        assert silent_server.accepted.wait(30), "the background check never reached the Plex stand-in"
        # The probe is now blocked inside its request; health must still answer from the cache.
        response = client.get("/api/health")
        assert response.status_code == 200
        plex = response.get_json()["plex"]
        assert plex == {
            "mode": "real",
            "server_url": silent_server.url,
            "reachable": False,
            "server_name": None,
            "server_version": None,
            "machine_identifier": None,
            "checked_at": None,
            "error": None,
        }
        silent_server.close()  # the hung probe fails now, so closing the services does not wait for its timeout


def test_creating_the_app_sends_nothing_to_plex(silent_server: SilentServer, tmp_path: Path) -> None:
    settings = load_settings({"PLEX_SERVER_URL": silent_server.url}, default_data_dir=tmp_path)
    with build_services(settings) as services:
        app = create_app(services=services)
        with app.app_context():
            assert get_services() is services
        assert not silent_server.accepted.is_set()
        assert services.monitor.status().checked_at is None


def test_app_built_from_the_environment_starts_checks_with_the_first_request(
    silent_server: SilentServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PLEX_SERVER_URL", silent_server.url)
    monkeypatch.setenv("PLEX_TIMEOUT", "600")
    monkeypatch.setenv("PLEXM8_DATA_DIR", str(tmp_path))
    app = create_app()
    with app.app_context():
        services = get_services()
    try:
        assert services.settings.plex_server_url == silent_server.url
        assert not silent_server.accepted.is_set()
        assert app.test_client().get("/").status_code == 200
        assert silent_server.accepted.wait(30)
    finally:
        silent_server.close()
        services.close()


def test_services_passed_in_are_started_by_their_owner(silent_server: SilentServer, tmp_path: Path) -> None:
    settings = load_settings({"PLEX_SERVER_URL": silent_server.url}, default_data_dir=tmp_path)
    with build_services(settings) as services:
        client = create_app(services=services).test_client()
        assert client.get("/api/health").status_code == 200
        assert services.monitor.status().checked_at is None
        assert not silent_server.accepted.is_set()


def test_index_page_says_what_this_is(client: FlaskClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert "PlexM8" in page and "/api/health" in page
    assert "demo mode" not in page
