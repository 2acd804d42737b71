"""``plexm8 serve`` as a real process in demo mode: health over HTTP, the demo Plex answering, real CORS preflights."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from plexsim.demo import DEMO_ADMIN_TOKEN

WEB_APP = "https://plexm8.netlify.app"
STARTUP_DEADLINE_S = 60.0


@pytest.fixture
def service(tmp_path: Path, free_port: int) -> Iterator[tuple[subprocess.Popen[str], str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PLEX", "CORS_", "ALLOWED_"))}
    env |= {"PLEXM8_DATA_DIR": str(tmp_path / "data"), "LOG_LEVEL": "INFO"}
    env.pop("PORT", None)
    env.pop("HOST", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "plexm8", "serve", "--port", str(free_port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield process, f"http://127.0.0.1:{free_port}"
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=30)


def wait_for_reachable_demo(base: str, process: subprocess.Popen[str]) -> dict[str, Any]:
    """Poll /api/health until it reports the demo Plex reachable; fail if the process dies or never gets there."""
    deadline = time.monotonic() + STARTUP_DEADLINE_S
    while time.monotonic() < deadline:
        assert process.poll() is None, f"plexm8 serve exited early: {process.communicate()[1]}"
        try:
            body: dict[str, Any] = requests.get(f"{base}/api/health", timeout=5).json()
        except requests.ConnectionError:
            body = {}
        if body.get("plex", {}).get("reachable"):
            return body
        time.sleep(0.05)
    pytest.fail("plexm8 serve did not report a reachable demo Plex in time")


def test_serve_in_demo_mode_end_to_end(service: tuple[subprocess.Popen[str], str]) -> None:
    process, base = service
    health = wait_for_reachable_demo(base, process)
    assert health["status"] == "ok"
    assert health["plex"]["mode"] == "demo"

    # The demo Plex is a real plexsim server that answers with the demo token.
    demo_url = health["plex"]["server_url"]
    identity = requests.get(f"{demo_url}/identity", timeout=10)
    assert identity.status_code == 200
    assert health["plex"]["machine_identifier"] in identity.text
    sections = requests.get(f"{demo_url}/library/sections", headers={"X-Plex-Token": DEMO_ADMIN_TOKEN}, timeout=10)
    assert sections.status_code == 200 and "<Directory" in sections.text

    # A real Private Network Access preflight, as Chrome sends it from the hosted web app.
    preflight = requests.options(
        f"{base}/api/health",
        headers={
            "Origin": WEB_APP,
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization",
            "Access-Control-Request-Private-Network": "true",
        },
        timeout=10,
    )
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == WEB_APP
    assert preflight.headers["Access-Control-Allow-Private-Network"] == "true"
    assert "Authorization" in preflight.headers["Access-Control-Allow-Headers"]

    simple = requests.get(f"{base}/api/health", headers={"Origin": WEB_APP}, timeout=10)
    assert simple.headers["Access-Control-Allow-Origin"] == WEB_APP
    foreign = requests.post(f"{base}/api/health", headers={"Origin": "https://evil.example"}, timeout=10)
    assert foreign.status_code == 403
    rebound = requests.get(f"{base}/api/health", headers={"Host": "evil.example"}, timeout=10)
    assert rebound.status_code == 421

    if sys.platform == "win32":
        return  # terminate() is TerminateProcess there: no signal to shut down cleanly on
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 0
    assert "DEMO MODE" in stderr
    assert "PlexM8 stopped" in stderr
    assert DEMO_ADMIN_TOKEN not in stderr
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{demo_url}/identity", timeout=10)
