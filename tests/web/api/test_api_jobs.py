"""``/api/jobs`` end to end: Flask test client, real services (SQLite job store, runner), plexsim for refreshes."""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Any

import pytest
from flask.testing import FlaskClient

from plexm8.bootstrap import Services
from plexm8.core.jobs import JobControl, JobOutcome, JobState
from plexm8.errors import PlexUnavailable
from plexm8.web.api.spec import build_openapi
from plexsim.generate import ADMIN_TOKEN, generate_library
from plexsim.library import Library
from plexsim.server import RunningServer

from .conftest import body

DEADLINE_S = 30.0


@pytest.fixture
def plex_library() -> Library:
    return generate_library(tracks=120, seed=2)


def stoppable(started: threading.Event) -> Any:
    def work(control: JobControl) -> JobOutcome:
        started.set()
        done = 0
        while True:  # until cancelled: progress() raises then
            done += 1
            control.progress("spinning", done, None)
            threading.Event().wait(0.005)

    return work


def test_no_jobs_yet(client: FlaskClient) -> None:
    assert body(client.get("/api/jobs"), 200) == {"items": []}


def test_a_refresh_job_read_back(client: FlaskClient, services: Services) -> None:
    started = body(client.post("/api/library/refresh"), 202)
    services.jobs.wait(started["id"], timeout=DEADLINE_S)
    job = body(client.get(f"/api/jobs/{started['id']}"), 200)
    assert job["id"] == started["id"] and job["url"] == f"/api/jobs/{started['id']}"
    assert job["kind"] == "index_refresh"
    assert job["state"] == "succeeded"
    assert job["error"] is None and job["cancel_requested"] is False
    assert job["progress"] == {"stage": "done", "done": 1, "total": 1}
    assert job["counts"]["added"] > 0
    assert job["result"]["index"]["tracks"] == 120
    assert len(job["account"]) == 16
    created, begun, ended = (datetime.fromisoformat(job[k]) for k in ("created_at", "started_at", "finished_at"))
    assert job["created_at"].endswith("Z")
    assert created <= begun <= ended
    assert ADMIN_TOKEN not in str(job)


def test_list_newest_first_with_filters(client: FlaskClient, services: Services) -> None:
    ok = services.jobs.run("demo", None, lambda control: JobOutcome(counts={"n": 1}))

    def fail(control: JobControl) -> JobOutcome:
        raise PlexUnavailable("Plex is away")

    with pytest.raises(PlexUnavailable):
        services.jobs.run("other", None, fail)
    listed = body(client.get("/api/jobs"), 200)["items"]
    assert [j["id"] for j in listed] == [ok.id + 1, ok.id]
    failed = listed[0]
    assert failed["state"] == "failed"
    assert failed["error"] == {"code": "plex_unavailable", "message": "Plex is away"}
    assert [j["id"] for j in body(client.get("/api/jobs?state=failed"), 200)["items"]] == [ok.id + 1]
    both = body(client.get("/api/jobs?state=failed&state=succeeded"), 200)["items"]
    assert len(both) == 2
    assert [j["id"] for j in body(client.get("/api/jobs?kind=demo"), 200)["items"]] == [ok.id]
    assert len(body(client.get("/api/jobs?limit=1"), 200)["items"]) == 1


@pytest.mark.parametrize(
    ("query", "field"), [("state=done", "state"), ("limit=0", "limit"), ("limit=201", "limit"), ("limit=x", "limit")]
)
def test_bad_filters_are_422_naming_the_parameter(client: FlaskClient, query: str, field: str) -> None:
    error = body(client.get(f"/api/jobs?{query}"), 422)["error"]
    assert error["code"] == "validation_error"
    assert field in error["message"]


def test_unknown_jobs_are_404(client: FlaskClient) -> None:
    for response in (
        client.get("/api/jobs/424242"),
        client.post("/api/jobs/424242/cancel"),
        client.get(f"/api/jobs/{2**70}"),
    ):
        assert body(response, 404)["error"]["code"] == "job_not_found"
    assert client.get("/api/jobs/abc").status_code == 404


def test_cancel_a_running_job(client: FlaskClient, services: Services) -> None:
    started = threading.Event()
    record = services.jobs.submit("spin", None, stoppable(started))
    assert started.wait(DEADLINE_S)
    running = body(client.get(f"/api/jobs/{record.id}"), 200)
    assert running["state"] == "running"
    assert running["progress"]["stage"] == "spinning"
    asked = body(client.post(f"/api/jobs/{record.id}/cancel"), 202)
    assert asked["cancel_requested"] is True
    assert services.jobs.wait(record.id, timeout=DEADLINE_S).state is JobState.CANCELLED
    job = body(client.get(f"/api/jobs/{record.id}"), 200)
    assert job["state"] == "cancelled"
    assert job["error"]["code"] == "job_cancelled"
    again = body(client.post(f"/api/jobs/{record.id}/cancel"), 409)
    assert again["error"]["code"] == "job_finished"


def test_cancel_a_queued_job(client: FlaskClient, services: Services) -> None:
    started = threading.Event()
    blocker = services.jobs.submit("spin", None, stoppable(started))
    queued = services.jobs.submit("later", None, lambda control: JobOutcome())
    job = body(client.post(f"/api/jobs/{queued.id}/cancel"), 202)
    assert job["state"] == "cancelled"
    body(client.post(f"/api/jobs/{blocker.id}/cancel"), 202)
    services.jobs.wait(blocker.id, timeout=DEADLINE_S)
    assert body(client.get(f"/api/jobs/{queued.id}"), 200)["state"] == "cancelled"


def test_cancel_from_a_foreign_origin_is_refused(client: FlaskClient, services: Services) -> None:
    started = threading.Event()
    record = services.jobs.submit("spin", None, stoppable(started))
    try:
        response = client.post(f"/api/jobs/{record.id}/cancel", headers={"Origin": "https://evil.example"})
        assert body(response, 403)["error"]["code"] == "origin_not_allowed"
        assert services.jobs.get(record.id).cancel_requested is False
    finally:
        services.jobs.cancel(record.id)
        services.jobs.wait(record.id, timeout=DEADLINE_S)


def test_jobs_answer_while_plex_is_unreachable(client: FlaskClient, services: Services, sim: RunningServer) -> None:
    sim.stop()
    assert body(client.get("/api/jobs"), 200) == {"items": []}
    assert body(client.get("/api/jobs/1"), 404)["error"]["code"] == "job_not_found"


def test_jobs_are_documented_in_openapi(client: FlaskClient) -> None:
    app = client.application
    with app.app_context():
        document = build_openapi(app)
    paths = document["paths"]
    assert {"/api/jobs", "/api/jobs/{job_id}", "/api/jobs/{job_id}/cancel"} <= set(paths)
    assert {"/api/library/status", "/api/library/refresh"} <= set(paths)
    assert "202" in paths["/api/jobs/{job_id}/cancel"]["post"]["responses"]
    assert "202" in paths["/api/library/refresh"]["post"]["responses"]
    assert "jobs" in body(client.get("/api/health"), 200)["features"]
    assert "library" in body(client.get("/api/health"), 200)["features"]
