"""``SERVER_THREADS`` reaches ``plexm8 serve``: a bad value stops it, a good one is the request thread count."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner

from plexm8.cli import main


@pytest.mark.parametrize("value", ["0", "257", "many"])
def test_invalid_thread_count_stops_serve_naming_the_setting(value: str) -> None:
    result = CliRunner().invoke(main, ["serve"], env={"SERVER_THREADS": value}, catch_exceptions=False)
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [result.stderr.strip()]
    assert result.stderr.startswith("plexm8: error: SERVER_THREADS: ")


@pytest.mark.skipif(sys.platform == "win32", reason="stops the service with SIGTERM")
def test_serve_runs_with_the_configured_threads(tmp_path: Path, free_port: int) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PLEX", "CORS_", "ALLOWED_", "HOST", "PORT"))}
    env |= {"PLEXM8_DATA_DIR": str(tmp_path / "data"), "LOG_LEVEL": "INFO", "SERVER_THREADS": "3"}
    env |= {"INDEX_REFRESH_INTERVAL": "0"}
    process = subprocess.Popen(
        [sys.executable, "-m", "plexm8", "serve", "--port", str(free_port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = f"http://127.0.0.1:{free_port}/api/health"
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, "plexm8 serve exited early"
            assert time.monotonic() < deadline, "plexm8 serve did not answer in time"
            try:
                if requests.get(url, timeout=5).status_code == 200:
                    break
            except requests.ConnectionError:
                time.sleep(0.05)
        # More concurrent clients than threads: the rest wait their turn and are all answered.
        with ThreadPoolExecutor(max_workers=8) as pool:
            statuses = list(pool.map(lambda _: requests.get(url, timeout=30).status_code, range(24)))
        assert statuses == [200] * 24
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
        assert process.returncode == 0
        assert "3 request threads" in stderr
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=30)
