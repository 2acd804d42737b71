"""``plexm8 serve`` as a process tree (granian's supervisor and its worker): start-up errors and Ctrl+C."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="process groups and POSIX signals")


def _environment(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PLEX", "CORS_", "ALLOWED_", "HOST", "PORT"))}
    return env | {"PLEXM8_DATA_DIR": str(tmp_path / "data"), "LOG_LEVEL": "INFO", "INDEX_REFRESH_INTERVAL": "0"}


def _serve(tmp_path: Path, port: int, **options: object) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "plexm8", "serve", "--port", str(port)],
        cwd=tmp_path,
        env=_environment(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **options,  # type: ignore[call-overload]
    )


def test_a_port_in_use_is_one_line_and_exit_1(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        process = _serve(tmp_path, port)
        _, stderr = process.communicate(timeout=60)
    assert process.returncode == 1
    errors = [line for line in stderr.splitlines() if line.startswith("plexm8: error:")]
    assert len(errors) == 1
    assert errors[0].startswith(f"plexm8: error: cannot listen on 127.0.0.1:{port}: Address already in use")
    assert "backtrace" not in stderr.lower()


def test_a_data_directory_that_cannot_be_made_stops_it_before_serving(tmp_path: Path, free_port: int) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder", encoding="utf-8")
    env = _environment(tmp_path) | {"PLEXM8_DATA_DIR": str(blocker / "data")}
    result = subprocess.run(
        [sys.executable, "-m", "plexm8", "serve", "--port", str(free_port)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("plexm8: error: PLEXM8_DATA_DIR: cannot create ")
    assert "_granian" not in result.stderr  # nothing was started


def test_ctrl_c_to_the_terminal_group_stops_worker_and_services(tmp_path: Path, free_port: int) -> None:
    process = _serve(tmp_path, free_port, start_new_session=True)  # its own group, as a terminal's job is
    try:
        base = f"http://127.0.0.1:{free_port}"
        deadline = time.monotonic() + 60
        health: dict[str, object] = {}
        while not health:
            assert process.poll() is None, process.communicate()[1]
            assert time.monotonic() < deadline, "plexm8 serve did not answer in time"
            try:
                health = requests.get(f"{base}/api/health", timeout=5).json()
            except requests.ConnectionError:
                time.sleep(0.05)
        demo_url = health["plex"]["server_url"]  # type: ignore[index]
        os.killpg(process.pid, signal.SIGINT)  # what Ctrl+C does: every process of the foreground group
        stdout, stderr = process.communicate(timeout=45)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate(timeout=30)
    assert process.returncode == 0, stderr
    assert f"PlexM8 serving on http://127.0.0.1:{free_port}" in stdout
    assert "PlexM8 stopped" in stderr
    assert "Configuration allows spawning" not in stderr
    with pytest.raises(requests.ConnectionError):  # the worker closed its services: the demo Plex is gone
        requests.get(f"{demo_url}/identity", timeout=5)
