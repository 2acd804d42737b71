"""CORS allow-list, Private Network Access preflights, refusal of foreign writes, and the Host-header check."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from plexm8.bootstrap import build_services
from plexm8.config import Settings
from plexm8.web import create_app

WEB_APP = "https://plexm8.netlify.app"
FOREIGN = "https://evil.example"


def preflight(
    client: FlaskClient, origin: str, *, private_network: bool = True, path: str = "/api/health"
) -> TestResponse:
    headers = {
        "Origin": origin,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type",
    }
    if private_network:
        headers["Access-Control-Request-Private-Network"] = "true"
    return client.options(path, headers=headers)


@pytest.mark.parametrize("origin", [WEB_APP, "http://localhost:5173", "http://127.0.0.1:3000", "http://localhost:5000"])
def test_simple_request_from_an_allowed_origin_gets_cors_headers(client: FlaskClient, origin: str) -> None:
    response = client.get("/api/health", headers={"Origin": origin})
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == origin
    assert "Origin" in response.vary


def test_disallowed_origin_gets_no_cors_headers(client: FlaskClient) -> None:
    response = client.get("/api/health", headers={"Origin": FOREIGN})
    assert response.status_code == 200  # readable by curl, hidden from the foreign page by the browser
    assert "Access-Control-Allow-Origin" not in response.headers
    assert "Origin" in response.vary


def test_request_without_origin_gets_no_cors_headers(client: FlaskClient) -> None:
    response = client.get("/api/health")
    assert "Access-Control-Allow-Origin" not in response.headers
    assert "Origin" in response.vary


def test_preflight_with_private_network_access(client: FlaskClient) -> None:
    response = preflight(client, WEB_APP)
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == WEB_APP
    assert response.headers["Access-Control-Allow-Private-Network"] == "true"
    allowed_headers = {h.strip().lower() for h in response.headers["Access-Control-Allow-Headers"].split(",")}
    assert {"authorization", "content-type"} <= allowed_headers
    allowed_methods = {m.strip() for m in response.headers["Access-Control-Allow-Methods"].split(",")}
    assert {"GET", "POST", "PUT", "PATCH", "DELETE"} <= allowed_methods
    assert int(response.headers["Access-Control-Max-Age"]) > 0
    assert "Origin" in response.vary


def test_preflight_without_private_network_request_gets_no_pna_header(client: FlaskClient) -> None:
    response = preflight(client, WEB_APP, private_network=False)
    assert response.status_code == 204
    assert "Access-Control-Allow-Private-Network" not in response.headers


def test_preflight_for_a_path_not_served_yet_is_still_answered(client: FlaskClient) -> None:
    response = preflight(client, "http://localhost:3000", path="/api/playlists")
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == "http://localhost:3000"


def test_preflight_from_a_disallowed_origin_is_refused_without_cors_headers(client: FlaskClient) -> None:
    response = preflight(client, FOREIGN)
    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "origin_not_allowed"
    assert "Access-Control-Allow-Origin" not in response.headers
    assert "Access-Control-Allow-Private-Network" not in response.headers


def test_plain_options_without_preflight_headers_is_not_a_preflight(client: FlaskClient) -> None:
    response = client.options("/api/health", headers={"Origin": WEB_APP})
    assert response.status_code == 200  # Flask's automatic OPTIONS answer
    assert "GET" in response.headers["Allow"]
    assert "Access-Control-Allow-Methods" not in response.headers


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
@pytest.mark.parametrize("path", ["/api/health", "/api/playlists", "/"])
def test_state_changing_request_from_a_foreign_origin_is_refused_before_routing(
    client: FlaskClient, method: str, path: str
) -> None:
    response = client.open(path, method=method, headers={"Origin": FOREIGN}, json={"rating": 10})
    assert response.status_code == 403
    assert response.get_json() == {
        "error": {
            "code": "origin_not_allowed",
            "message": f"origin '{FOREIGN}' is not in CORS_ORIGINS; state-changing requests are refused",
        }
    }
    assert "Access-Control-Allow-Origin" not in response.headers


def test_origin_null_counts_as_foreign(client: FlaskClient) -> None:
    assert client.post("/api/health", headers={"Origin": "null"}).status_code == 403


@pytest.mark.parametrize("origin", [WEB_APP, "http://localhost", None])
def test_state_changing_request_from_allowed_same_or_no_origin_reaches_routing(
    client: FlaskClient, origin: str | None
) -> None:
    # "http://localhost" is PlexM8's own origin under the test client's Host (the built-in UI posting to itself).
    headers = {"Origin": origin} if origin else {}
    response = client.post("/api/health", headers=headers)
    assert response.status_code == 405
    assert response.get_json()["error"]["code"] == "method_not_allowed"
    assert "GET" in response.headers["Allow"]


@pytest.mark.parametrize("host", ["localhost", "localhost:5000", "127.0.0.1:5000", "[::1]:5000", "LOCALHOST:1"])
def test_loopback_hosts_are_served(client: FlaskClient, host: str) -> None:
    assert client.get("/api/health", headers={"Host": host}).status_code == 200


@pytest.mark.parametrize(
    "host", ["evil.example", "evil.example:5000", "localhost.evil.example", "127.0.0.2", "[::2]:5000"]
)
@pytest.mark.parametrize("path", ["/api/health", "/", "/api/missing"])
def test_foreign_host_header_is_refused(client: FlaskClient, host: str, path: str) -> None:
    response = client.get(path, headers={"Host": host})
    assert response.status_code == 421
    assert response.get_json()["error"]["code"] == "host_not_allowed"


def test_configured_hosts_and_origins_are_honoured(
    make_settings: Callable[..., Settings], closed_url: str, tmp_path: Path
) -> None:
    settings = make_settings(
        PLEX_SERVER_URL=closed_url, ALLOWED_HOSTS="mypc.local", CORS_ORIGINS="https://mine.example"
    )
    with build_services(settings) as services:
        app: Flask = create_app(services=services)
        client = app.test_client()
        assert client.get("/api/health", headers={"Host": "mypc.local:5000"}).status_code == 200
        mine = client.get("/api/health", headers={"Origin": "https://mine.example"})
        assert mine.headers["Access-Control-Allow-Origin"] == "https://mine.example"
        # The override replaces the default list.
        assert "Access-Control-Allow-Origin" not in client.get("/api/health", headers={"Origin": WEB_APP}).headers
        assert client.post("/api/health", headers={"Origin": WEB_APP}).status_code == 403
