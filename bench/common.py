"""Shared plumbing for the benchmarks: generated libraries cached on disk, plexsim in a child process, results."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests

BENCH_DIR = Path(__file__).resolve().parent
CACHE_DIR = BENCH_DIR / ".cache"
RESULTS_DIR = BENCH_DIR / "results"


def library_file(tracks: int, seed: int, **options: int) -> tuple[Path, float | None]:
    """Path to a generated library (generated now if not cached) and the generation time if it was generated."""
    from plexsim.generate import generate_library
    from plexsim.library import dump_library

    CACHE_DIR.mkdir(exist_ok=True)
    suffix = "".join(f"-{k}{v}" for k, v in sorted(options.items()))
    path = CACHE_DIR / f"library-{tracks}-s{seed}{suffix}.json"
    if path.exists():
        return path, None
    started = time.perf_counter()
    library = generate_library(tracks=tracks, seed=seed, **options)
    elapsed = time.perf_counter() - started
    dump_library(library, path)
    return path, elapsed


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until_up(url: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            requests.get(url + "/identity", timeout=1)
            return
        except requests.ConnectionError:
            time.sleep(0.05)
    raise RuntimeError(f"{url} did not come up within {timeout:.0f} s")


def wait_for_ok(url: str, timeout: float = 120.0) -> None:
    """Poll ``url`` until it answers 200 (a service up and ready, not merely listening)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=5).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer 200 within {timeout:.0f} s")


@contextmanager
def plexsim_child(
    library: Path, *, latency_ms: float = 0.0, token: str = "bench-token", start_timeout: float = 120.0
) -> Iterator[tuple[str, int]]:
    """Run ``plexsim serve`` in a child process (so client and server do not share a GIL); yields its URL and pid.

    The pid lets a benchmark read the simulator's CPU time; ``start_timeout`` covers loading a big library.
    """
    port = free_port()
    cmd = [
        sys.executable, "-m", "plexsim", "serve",
        "--library", str(library), "--port", str(port),
        "--latency-ms", str(latency_ms), "--token", token,
    ]  # fmt: skip
    # Nobody reads the child's output: a pipe would fill up and stall it.
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=os.environ.copy())
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(url, timeout=start_timeout)
        yield url, proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


@contextmanager
def plexsim_process(
    library: Path, *, latency_ms: float = 0.0, token: str = "bench-token", start_timeout: float = 120.0
) -> Iterator[str]:
    """:func:`plexsim_child` when only the URL is needed."""
    with plexsim_child(library, latency_ms=latency_ms, token=token, start_timeout=start_timeout) as (url, _pid):
        yield url


def write_results(name: str, results: dict[str, Any]) -> Path:
    RESULTS_DIR.mkdir(exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    payload = {"benchmark": name, "python": sys.version.split()[0], "cpus": os.cpu_count(), **results}
    path.write_text(json.dumps(payload, indent=2) + "\n")
    return path
