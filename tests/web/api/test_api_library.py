"""``/api/library/status`` and ``/api/library/refresh`` end to end: Flask test client, real services, plexsim."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from plexm8.bootstrap import Services, build_services
from plexm8.config import load_settings
from plexm8.core.jobs import JobControl, JobOutcome, JobState
from plexm8.web import create_app
from plexsim.generate import ADMIN_TOKEN, generate_library
from plexsim.library import Library
from plexsim.server import RunningServer

from .conftest import body

ALICE = "plexsim-alice-token"
DEADLINE_S = 30.0


@pytest.fixture(scope="module")
def library() -> Library:
    return generate_library(tracks=300, seed=8)


@pytest.fixture
def plex_library(library: Library) -> Library:
    return library


def rated_tracks(sim: RunningServer, name: str) -> int:
    account = next(a for a in sim.state.accounts.values() if a.name == name)
    return sum(1 for key in account.ratings if key in sim.state.tracks)


def refresh_and_wait(client: FlaskClient, services: Services, **headers: str) -> dict[str, Any]:
    job = body(client.post("/api/library/refresh", headers=headers), 202)
    final = services.jobs.wait(job["id"], timeout=DEADLINE_S)
    assert final.state.final
    return body(client.get(job["url"]), 200)


def test_status_before_the_first_refresh(client: FlaskClient) -> None:
    status = body(client.get("/api/library/status"), 200)
    assert status["indexed"] is False
    assert status["refreshed_at"] is None
    assert status["last_refresh"] is None and status["running_refresh"] is None
    assert set(status["counts"].values()) == {0}
    assert status["auto_refresh_interval"] == 0


def test_refresh_answers_202_with_the_job_and_its_location(
    client: FlaskClient, services: Services, sim: RunningServer, library: Library
) -> None:
    response = client.post("/api/library/refresh")
    job = body(response, 202)
    assert response.headers["Location"] == f"/api/jobs/{job['id']}" == job["url"]
    assert job["kind"] == "index_refresh"
    assert job["state"] in ("queued", "running", "succeeded")
    services.jobs.wait(job["id"], timeout=DEADLINE_S)

    status = body(client.get("/api/library/status"), 200)
    assert status["indexed"] is True
    assert status["counts"]["tracks"] == len(library.tracks)
    assert status["counts"]["albums"] == len(library.albums)
    assert status["counts"]["artists"] == len(library.artists)
    assert status["counts"]["rated_tracks"] == rated_tracks(sim, "admin")
    assert status["refreshed_at"] is not None and status["refreshed_at"].endswith("Z")
    last = status["last_refresh"]
    assert last["id"] == job["id"] and last["state"] == "succeeded"
    assert last["result"]["full"] is True
    assert last["counts"]["added"] == len(library.tracks) + len(library.albums) + len(library.artists)
    assert status["running_refresh"] is None

    # The next one is incremental.
    again = refresh_and_wait(client, services)
    assert again["state"] == "succeeded" and again["result"]["full"] is False
    assert again["counts"]["added"] == 0
    assert body(client.get("/api/library/status"), 200)["last_refresh"]["id"] == again["id"]


def test_full_refresh_on_request(client: FlaskClient, services: Services) -> None:
    refresh_and_wait(client, services)
    job = body(client.post("/api/library/refresh", query_string={"full": "true"}), 202)
    services.jobs.wait(job["id"], timeout=DEADLINE_S)
    assert body(client.get(job["url"]), 200)["result"]["full"] is True


def test_each_account_sees_its_own_ratings(client: FlaskClient, services: Services, sim: RunningServer) -> None:
    refresh_and_wait(client, services)
    refresh_and_wait(client, services, Authorization=f"Bearer {ALICE}")
    admin = body(client.get("/api/library/status"), 200)
    alice = body(client.get("/api/library/status", headers={"Authorization": f"Bearer {ALICE}"}), 200)
    assert admin["counts"]["rated_tracks"] == rated_tracks(sim, "admin")
    assert alice["counts"]["rated_tracks"] == rated_tracks(sim, "alice")
    assert admin["counts"]["rated_tracks"] != alice["counts"]["rated_tracks"]
    assert admin["last_refresh"]["account"] != alice["last_refresh"]["account"]
    assert admin["counts"]["tracks"] == alice["counts"]["tracks"]


def test_a_refresh_waiting_for_the_worker_is_the_running_refresh_and_is_joined(
    client: FlaskClient, services: Services
) -> None:
    release = threading.Event()

    def block(control: JobControl) -> JobOutcome:
        release.wait(DEADLINE_S)
        return JobOutcome()

    blocker = services.jobs.submit("block", None, block)
    try:
        first = body(client.post("/api/library/refresh"), 202)
        second = body(client.post("/api/library/refresh", query_string={"full": "1"}), 202)
        assert second["id"] == first["id"]
        status = body(client.get("/api/library/status"), 200)
        assert status["running_refresh"]["id"] == first["id"]
        assert status["running_refresh"]["state"] == "queued"
    finally:
        release.set()
    services.jobs.wait(blocker.id, timeout=DEADLINE_S)
    assert services.jobs.wait(first["id"], timeout=DEADLINE_S).state is JobState.SUCCEEDED
    assert body(client.get("/api/library/status"), 200)["running_refresh"] is None


def test_plex_failing_during_a_refresh_is_reported_in_the_job_and_keeps_the_index(
    client: FlaskClient, services: Services, sim: RunningServer
) -> None:
    refresh_and_wait(client, services)
    before = body(client.get("/api/library/status"), 200)
    sim.knobs.configure(fail_path="/library/sections/[0-9]+/all", fail_status=500)
    job = refresh_and_wait(client, services)
    assert job["state"] == "failed"
    assert job["error"]["code"] == "plex_unavailable"
    after = body(client.get("/api/library/status"), 200)
    assert after["counts"] == before["counts"]
    assert after["refreshed_at"] == before["refreshed_at"]
    assert after["last_refresh"]["id"] == job["id"]


def test_a_token_plex_refuses_is_401_without_showing_the_token(client: FlaskClient) -> None:
    token = "not-a-plex-token-xyz"
    for response in (
        client.post("/api/library/refresh", headers={"Authorization": f"Bearer {token}"}),
        client.get("/api/library/status", headers={"Authorization": f"Bearer {token}"}),
    ):
        assert body(response, 401)["error"]["code"] == "plex_unauthorized"
        assert token not in response.get_data(as_text=True)


def test_plex_refusing_the_token_during_a_refresh_fails_the_job(
    client: FlaskClient, services: Services, sim: RunningServer
) -> None:
    # The account is known (the status call learnt the server's id); then Plex starts refusing the token.
    body(client.get("/api/library/status"), 200)
    sim.knobs.configure(unauthorized_after=0)
    job = refresh_and_wait(client, services)
    assert job["state"] == "failed"
    assert job["error"]["code"] == "plex_unauthorized"
    assert ADMIN_TOKEN not in str(job)
    assert ADMIN_TOKEN not in str(body(client.get("/api/jobs"), 200))


def test_bad_requests(client: FlaskClient) -> None:
    response = client.post("/api/library/refresh", query_string={"full": "maybe"})
    assert body(response, 422)["error"]["code"] == "validation_error"
    assert "full" in response.get_json()["error"]["message"]
    response = client.get("/api/library/status", headers={"Authorization": "Basic abc"})
    assert body(response, 401)["error"]["code"] == "invalid_authorization"
    response = client.post("/api/library/refresh", headers={"Origin": "https://evil.example"})
    assert body(response, 403)["error"]["code"] == "origin_not_allowed"
    assert client.get("/api/library/refresh").status_code == 405


def test_plex_unreachable_is_503(closed_url: str, tmp_path: Path) -> None:
    environ = {"PLEX_SERVER_URL": closed_url, "PLEX_TOKEN": "tok-123", "INDEX_REFRESH_INTERVAL": "0"}
    with build_services(load_settings(environ, default_data_dir=tmp_path)) as services:
        client = create_app(services=services).test_client()
        for response in (client.get("/api/library/status"), client.post("/api/library/refresh")):
            error = body(response, 503)["error"]
            assert error["code"] == "plex_unavailable"
            assert "tok-123" not in error["message"]
