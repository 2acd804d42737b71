"""API latency benchmark: ``plexm8 serve`` (waitress) with a built 100,000-track index, 32 concurrent clients.

In one run:

- plexsim serves a generated library in a child process (with a per-request latency);
- the index is built in this process into a temporary data directory, under the account key the service derives
  for the configured token, so the service starts with it and its start-up refresh is incremental;
- ``plexm8 serve`` runs in a child process on that data directory (``INDEX_REFRESH_INTERVAL=0``);
- client processes (``--procs``, each with ``--threads`` threads: 32 concurrent clients by default) send a fixed
  number of requests each, one new connection per request, to ``GET /api/health``, to
  ``GET /api/ratings/top-rated?limit=50`` and, as the baseline of the clients' own overhead, to a static file
  served by ``python -m http.server`` in another child process.

Client and servers share the machine's cores, so the figures include the clients' own CPU use; the baseline shows
how much. Run: ``.venv/bin/python bench/bench_api.py [--tracks 100000] [--requests 200]``; results go to
``bench/results/bench_api.json``.
"""

from __future__ import annotations

import argparse
import http.client
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import requests

from common import free_port, library_file, plexsim_process, write_results
from plexm8.core.accounts import account_key
from plexm8.plex.section_reader import PlexSectionReader
from plexm8.services.indexing import refresh_index
from plexm8.store import SqliteLibraryStore

TOKEN = "bench-token"
ENDPOINTS = {"health": "/api/health", "top_rated": "/api/ratings/top-rated?limit=50"}


def _client_thread(
    base: str, path: str, count: int, start: threading.Barrier, out: list[float], errors: list[int]
) -> None:
    parts = urlsplit(base)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    start.wait()
    for _ in range(count):
        began = time.perf_counter()
        conn = http.client.HTTPConnection(host, port, timeout=30)
        try:
            conn.request("GET", path)
            response = conn.getresponse()
            response.read()
            if response.status != 200:
                errors.append(response.status)
        except OSError:
            errors.append(0)
        finally:
            conn.close()
        out.append(time.perf_counter() - began)


def _client_process(base: str, path: str, threads: int, count: int, ready: object, results: object) -> None:
    latencies: list[float] = []
    errors: list[int] = []
    barrier = threading.Barrier(threads + 1)
    workers = [
        threading.Thread(target=_client_thread, args=(base, path, count, barrier, latencies, errors))
        for _ in range(threads)
    ]
    for worker in workers:
        worker.start()
    ready.wait()  # type: ignore[attr-defined]
    barrier.wait()
    for worker in workers:
        worker.join()
    results.put((latencies, errors))  # type: ignore[attr-defined]


def load(base: str, path: str, *, procs: int, threads: int, count: int) -> dict[str, float | int]:
    """Latency percentiles (ms) of ``procs`` x ``threads`` concurrent clients sending ``count`` requests each."""
    ctx = multiprocessing.get_context("spawn")
    ready = ctx.Event()
    results = ctx.Queue()
    children = [
        ctx.Process(target=_client_process, args=(base, path, threads, count, ready, results)) for _ in range(procs)
    ]
    for child in children:
        child.start()
    time.sleep(1.0)  # let every client process start its threads before the clock starts
    started = time.perf_counter()
    ready.set()
    latencies: list[float] = []
    errors: list[int] = []
    for _ in children:
        got, failed = results.get(timeout=600)
        latencies += got
        errors += failed
    elapsed = time.perf_counter() - started
    for child in children:
        child.join()
    ms = sorted(x * 1000 for x in latencies)
    cut = statistics.quantiles(ms, n=100, method="inclusive")
    return {
        "requests": len(ms),
        "errors": len(errors),
        "p50_ms": round(cut[49], 2),
        "p95_ms": round(cut[94], 2),
        "p99_ms": round(cut[98], 2),
        "max_ms": round(ms[-1], 2),
        "throughput_rps": round(len(ms) / elapsed, 1),
    }


def wait_for(url: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer 200 within {timeout:.0f} s")


def wait_for_idle_jobs(base: str, timeout: float = 120.0) -> None:
    """Wait until the service's start-up refresh (a job) is over, so it does not run during the measurement."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = requests.get(base + "/api/jobs", timeout=5)
        if response.status_code != 200:
            return  # no jobs API: nothing to wait for
        body = response.json()
        jobs = body.get("jobs", body) if isinstance(body, dict) else body
        if not any(isinstance(j, dict) and j.get("state") in ("queued", "running") for j in jobs):
            return
        time.sleep(0.2)
    raise RuntimeError("the service's jobs did not finish")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracks", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--latency-ms", type=float, default=2.0)
    parser.add_argument("--procs", type=int, default=4, help="client processes")
    parser.add_argument("--threads", type=int, default=8, help="client threads per process")
    parser.add_argument("--requests", type=int, default=200, help="requests per client thread and endpoint")
    args = parser.parse_args()

    path, _ = library_file(args.tracks, args.seed)
    results: dict[str, object] = {
        "tracks": args.tracks,
        "latency_ms": args.latency_ms,
        "clients": args.procs * args.threads,
        "requests_per_client": args.requests,
    }
    with (
        plexsim_process(path, latency_ms=args.latency_ms, token=TOKEN) as plex_url,
        tempfile.TemporaryDirectory() as tmp,
    ):
        data_dir = Path(tmp) / "data"
        data_dir.mkdir()
        machine = requests.get(plex_url + "/identity", headers={"Accept": "application/json"}, timeout=10).json()
        key = account_key(machine["MediaContainer"]["machineIdentifier"], TOKEN)
        built = refresh_index(
            PlexSectionReader(plex_url, TOKEN, timeout=120), SqliteLibraryStore(data_dir / "plexm8.sqlite"), account=key
        )
        results["index_build_s"] = round(built.seconds, 2)
        results["rated_tracks"] = built.counts.rated_tracks

        port, static_port = free_port(), free_port()
        env = {
            **os.environ,
            "PLEX_SERVER_URL": plex_url,
            "PLEX_TOKEN": TOKEN,
            "PLEXM8_DATA_DIR": str(data_dir),
            "PORT": str(port),
            "INDEX_REFRESH_INTERVAL": "0",
            "LOG_LEVEL": "WARNING",
        }
        plexm8_bin = Path(sys.executable).with_name("plexm8")
        # The service's log goes to a file: an undrained pipe would fill and block every thread that logs.
        log_file = (Path(tmp) / "plexm8.log").open("wb")
        service = subprocess.Popen([str(plexm8_bin), "serve"], env=env, stdout=subprocess.DEVNULL, stderr=log_file)
        (Path(tmp) / "static.json").write_text('{"status": "ok"}')
        static = subprocess.Popen(
            [sys.executable, "-m", "http.server", str(static_port), "--bind", "127.0.0.1", "--directory", tmp],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            wait_for(base + "/api/health")
            wait_for(f"http://127.0.0.1:{static_port}/static.json")
            wait_for_idle_jobs(base)
            shape = {"procs": args.procs, "threads": args.threads, "count": args.requests}
            results["baseline_static_file"] = load(f"http://127.0.0.1:{static_port}", "/static.json", **shape)
            for name, endpoint in ENDPOINTS.items():
                load(base, endpoint, procs=1, threads=4, count=20)  # warm the service's caches and connections
                results[name] = load(base, endpoint, **shape)
        finally:
            for proc in (service, static):
                proc.terminate()
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
            log_file.close()
            results["service_log_tail"] = (Path(tmp) / "plexm8.log").read_text(errors="replace")[-1500:]

    out = write_results("bench_api", results)
    for name, value in results.items():
        print(f"{name:24} {value}")
    print(f"-> {out}")


if __name__ == "__main__":
    main()
