"""API latency benchmark: ``plexm8 serve`` (waitress) with a built 100,000-track index and 32 concurrent clients.

In one run:

- plexsim serves a generated library in a child process (with a per-request latency);
- the index is built in this process into a temporary data directory, under the account key the service derives
  for the configured token, so the service starts with it and its start-up refresh is incremental;
- ``plexm8 serve`` runs in a child process on that data directory (``INDEX_REFRESH_INTERVAL=0``), once per
  ``--server-threads`` value;
- the baseline: a trivial Flask app (one static 200 JSON answer, no guards) on the same waitress with the same
  thread count, in another child process, measured with the same clients in the same run: what the stack and the
  clients cost before PlexM8 does anything;
- client processes (``--procs``, each with ``--threads`` threads; 32 concurrent clients by default) send
  ``--requests`` requests per endpoint in all, after a warm-up, in three modes: ``keepalive`` (closed loop: each
  client sends its next request as soon as the previous answer is in, no think time, over one persistent connection
  as browsers and HTTP client sessions keep), ``new_connection`` (closed loop, a new TCP connection per request)
  and ``paced`` (keep-alive, each client sends on a fixed schedule so that all together
  send ``--rate`` requests per second; latency counts from the scheduled send time).

Endpoints: ``/api/health``, ``/api/ratings/top-rated?limit=50`` (the same list again and again, as a web app
shows it) and ``top_rated_varied`` (``limit=50`` with a random ``min_rating`` in 0-5 per request, so nearly every
request misses the service's answer cache: reads the index, builds and serialises the 50 tracks).

In a closed loop the clients are never idle, so by Little's law p50 is about clients / throughput: the figures
measure how fast the service turns requests around under saturation, and the baseline shows the part that is the
stack's and the clients'. Clients and servers share the machine's cores.

Run: ``.venv/bin/python bench/bench_api.py [--tracks 100000] [--requests 3200] [--server-threads 4,8,16,32]``;
results go to ``bench/results/bench_api.json``.
"""

from __future__ import annotations

import argparse
import http.client
import multiprocessing
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import requests

from common import free_port, library_file, plexsim_process, write_results
from plexm8.core.accounts import account_key
from plexm8.plex.section_reader import PlexSectionReader
from plexm8.services.indexing import refresh_index
from plexm8.store import SqliteLibraryStore

TOKEN = "bench-token"
VARIED = "top_rated_varied"
ENDPOINTS = {"health": "/api/health", "top_rated": "/api/ratings/top-rated?limit=50", VARIED: ""}
BASELINE_PATH = "/static"
MODES = ("keepalive", "new_connection", "paced")
WARMUP_PER_CLIENT = 10


def _paths(endpoint: str, count: int, seed: int) -> list[str]:
    if endpoint != VARIED:
        return [ENDPOINTS.get(endpoint, BASELINE_PATH)] * count
    rng = random.Random(seed)
    # 5,001 distinct min_rating values: nearly every request misses the service's top-rated answer cache.
    return [f"/api/ratings/top-rated?limit=50&min_rating={rng.randint(0, 5000) / 1000}" for _ in range(count)]


def _client_thread(
    port: int,
    paths: list[str],
    keepalive: bool,
    interval: float,
    start: threading.Barrier,
    out: list[float],
    errors: list[int],
) -> None:
    conn: http.client.HTTPConnection | None = None
    start.wait()
    # Paced clients start at a random phase and send on a fixed schedule; latency counts from the scheduled time,
    # so a request the client could not send on time because the previous one was slow still counts its wait.
    next_at = time.perf_counter() + random.random() * interval
    for path in paths:
        if interval:
            delay = next_at - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            began = next_at
            next_at += interval
        else:
            began = time.perf_counter()
        try:
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            conn.request("GET", path)
            response = conn.getresponse()
            response.read()
            if response.status != 200:
                errors.append(response.status)
            if not keepalive or response.will_close:
                conn.close()
                conn = None
        except (OSError, http.client.HTTPException):
            errors.append(0)
            if conn is not None:
                conn.close()
            conn = None
        out.append(time.perf_counter() - began)
    if conn is not None:
        conn.close()


def _client_process(
    port: int, per_thread: list[list[str]], keepalive: bool, interval: float, ready: Any, results: Any
) -> None:
    latencies: list[float] = []
    errors: list[int] = []
    barrier = threading.Barrier(len(per_thread) + 1)
    workers = [
        threading.Thread(target=_client_thread, args=(port, paths, keepalive, interval, barrier, latencies, errors))
        for paths in per_thread
    ]
    for worker in workers:
        worker.start()
    ready.wait()
    barrier.wait()
    for worker in workers:
        worker.join()
    results.put((latencies, errors))


def load(
    port: int, endpoint: str, *, mode: str, procs: int, threads: int, total: int, seed: int = 0, rate: float = 0.0
) -> dict[str, Any]:
    """Latency percentiles (ms) of ``procs`` x ``threads`` clients sending ``total`` requests in all.

    Closed loop (each client sends when its previous answer is in) unless the mode is ``paced``: then each client
    keeps its connection and sends on a schedule, ``rate`` requests per second from all clients together.
    """
    clients = procs * threads
    interval = clients / rate if mode == "paced" else 0.0
    per_client = max(1, total // clients)
    ctx = multiprocessing.get_context("spawn")
    ready = ctx.Event()
    results = ctx.Queue()
    children = [
        ctx.Process(
            target=_client_process,
            args=(
                port,
                [_paths(endpoint, per_client, seed * 1000 + p * threads + t) for t in range(threads)],
                mode != "new_connection",
                interval,
                ready,
                results,
            ),
        )
        for p in range(procs)
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


def serve_trivial(port: int, threads: int) -> None:
    """The baseline server: one static JSON answer from Flask on waitress (child process target)."""
    import logging

    import waitress
    from flask import Flask, Response

    # Like the service (LOG_LEVEL=WARNING to a file): waitress's queue-depth warnings are formatted and written.
    logging.basicConfig(filename=os.devnull, level=logging.WARNING)

    app = Flask("baseline")
    body = b'{"status": "ok"}\n'

    @app.get(BASELINE_PATH)
    def baseline_answer() -> Response:
        return Response(body, mimetype="application/json")

    waitress.serve(app, host="127.0.0.1", port=port, threads=threads, _quiet=True)


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


def measure(port: int, endpoints: list[str], args: argparse.Namespace) -> dict[str, Any]:
    """Every mode x endpoint against the server on ``port``, each after a warm-up of the same shape."""
    shape = {"procs": args.procs, "threads": args.threads, "rate": args.rate}
    out: dict[str, Any] = {}
    for mode in args.modes:
        for endpoint in endpoints:
            load(port, endpoint, mode=mode, total=WARMUP_PER_CLIENT * args.procs * args.threads, seed=99, **shape)
            out[f"{endpoint}.{mode}"] = load(port, endpoint, mode=mode, total=args.requests, seed=1, **shape)
            figures = out[f"{endpoint}.{mode}"]
            print(
                f"  {endpoint}.{mode:15} p50 {figures['p50_ms']:7.2f}  p99 {figures['p99_ms']:7.2f} ms"
                f"  {figures['throughput_rps']:7.1f} req/s  errors {figures['errors']}",
                flush=True,
            )
    return out


def stop(proc: subprocess.Popen[bytes] | multiprocessing.process.BaseProcess) -> None:
    proc.terminate()
    if isinstance(proc, subprocess.Popen):
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
    else:
        proc.join(15)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracks", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--latency-ms", type=float, default=2.0)
    parser.add_argument("--procs", type=int, default=2, help="client processes")
    parser.add_argument("--threads", type=int, default=16, help="client threads per process")
    parser.add_argument("--requests", type=int, default=3200, help="measured requests per endpoint and mode")
    parser.add_argument("--server-threads", default="8", help="comma-separated SERVER_THREADS values to measure")
    parser.add_argument(
        "--rate", type=float, default=320.0, help="paced mode: requests per second from all clients together"
    )
    parser.add_argument("--modes", default=",".join(MODES), help=f"comma-separated, of {', '.join(MODES)}")
    args = parser.parse_args()
    args.modes = [mode for mode in args.modes.split(",") if mode]
    if not set(args.modes) <= set(MODES):
        parser.error(f"--modes takes {', '.join(MODES)}")
    server_threads = [int(value) for value in args.server_threads.split(",")]

    path, _ = library_file(args.tracks, args.seed)
    results: dict[str, Any] = {
        "tracks": args.tracks,
        "latency_ms": args.latency_ms,
        "clients": args.procs * args.threads,
        "client_processes": args.procs,
        "client_threads_per_process": args.threads,
        "requests_per_endpoint": args.requests,
        "warmup_requests_per_client": WARMUP_PER_CLIENT,
        "modes": "keepalive and new_connection: closed loop, no think time; paced: keep-alive, fixed schedule",
        "paced_rate_rps": args.rate,
        "load_average_before": os.getloadavg(),
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

        plexm8_bin = Path(sys.executable).with_name("plexm8")
        runs: dict[str, Any] = {}
        for count in server_threads:
            print(f"SERVER_THREADS={count}", flush=True)
            run: dict[str, Any] = {}
            static_port = free_port()
            baseline = multiprocessing.get_context("spawn").Process(target=serve_trivial, args=(static_port, count))
            baseline.start()
            try:
                wait_for(f"http://127.0.0.1:{static_port}{BASELINE_PATH}")
                print(" baseline (static 200 from Flask on waitress)", flush=True)
                run["baseline_static"] = measure(static_port, ["baseline"], args)
            finally:
                stop(baseline)

            port = free_port()
            env = {
                **os.environ,
                "PLEX_SERVER_URL": plex_url,
                "PLEX_TOKEN": TOKEN,
                "PLEXM8_DATA_DIR": str(data_dir),
                "PORT": str(port),
                "INDEX_REFRESH_INTERVAL": "0",
                "LOG_LEVEL": "WARNING",
                "SERVER_THREADS": str(count),
            }
            # The service's log goes to a file: an undrained pipe would fill and block every thread that logs.
            log_path = Path(tmp) / f"plexm8-{count}.log"
            with log_path.open("wb") as log_file:
                service = subprocess.Popen(
                    [str(plexm8_bin), "serve"], env=env, stdout=subprocess.DEVNULL, stderr=log_file
                )
                try:
                    base = f"http://127.0.0.1:{port}"
                    wait_for(base + "/api/health")
                    wait_for_idle_jobs(base)
                    print(" plexm8", flush=True)
                    run |= measure(port, [name for name in ENDPOINTS], args)
                finally:
                    stop(service)
            log = log_path.read_text(errors="replace")
            run["service_log_lines"] = len(log.splitlines())
            run["service_log_tail"] = log[-600:]
            runs[str(count)] = run
        results["server_threads"] = runs
    results["load_average_after"] = os.getloadavg()

    out = write_results("bench_api", results)
    print(f"-> {out}")


if __name__ == "__main__":
    main()
