"""A Plex server that answers too slowly gives the documented 503, and leaves the index as it was."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from plexm8.bootstrap import Services
from plexsim.generate import ADMIN_TOKEN, generate_library
from plexsim.library import Library
from plexsim.server import RunningServer

#: Far longer than the client's PLEX_TIMEOUT below, so the request times out rather than merely being slow.
SLOW_MS = 5_000


@pytest.fixture
def plex_library() -> Library:
    return generate_library(tracks=120, seed=3)


@pytest.fixture
def plex_environ() -> dict[str, str]:
    return {"INDEX_REFRESH_INTERVAL": "0", "PLEX_TIMEOUT": "0.5"}


def test_rating_on_a_plex_that_times_out_is_503_and_writes_nothing(client: FlaskClient, sim: RunningServer) -> None:
    track = client.get("/api/tracks?rated=false&limit=1").get_json()["items"][0]
    sim.knobs.configure(slow_path=r"^/library/metadata/", slow_ms=SLOW_MS)

    response = client.post("/api/ratings/rate", json={"track_key": track["key"], "rating": 6})

    assert response.status_code == 503
    error = response.get_json()["error"]
    assert error["code"] == "plex_unavailable"
    assert ADMIN_TOKEN not in response.get_data(as_text=True)
    sim.knobs.reset()
    admin = sim.state.to_library().accounts[0]
    assert all(r.key != track["rating_key"] for r in admin.ratings), "the timed-out request must not rate the track"
    after = client.get(f"/api/tracks?q={track['title']}&limit=50").get_json()["items"]
    assert all(item["rating"] is None for item in after if item["rating_key"] == track["rating_key"])


def test_refresh_against_a_plex_that_times_out_fails_and_keeps_the_index(
    client: FlaskClient, services: Services, sim: RunningServer
) -> None:
    assert client.get("/api/tracks?limit=1").status_code == 200  # the first use builds the index
    before = client.get("/api/library/status").get_json()
    assert before["indexed"] is True
    sim.knobs.configure(slow_path=r"^/library/sections/\d+/all$", slow_ms=SLOW_MS)

    started = client.post("/api/library/refresh?full=true")
    assert started.status_code == 202
    job_id = started.get_json()["id"]
    services.jobs.wait(job_id, timeout=60)  # the job ends by the client's own timeout, not by this one
    job = client.get(f"/api/jobs/{job_id}").get_json()
    assert job["state"] == "failed"
    assert job["error"]["code"] == "plex_unavailable"
    assert ADMIN_TOKEN not in str(job)
    after = client.get("/api/library/status").get_json()
    assert after["counts"] == before["counts"]
