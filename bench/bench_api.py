"""API latency benchmark: ``plexm8 serve`` (granian) with a built 100,000-track index and 32 concurrent clients.

In one run:

- plexsim serves a generated library in a child process (with a per-request latency);
- the index is built in this process into a temporary data directory, under the account key the service derives
  for the configured token, so the service starts with it and its start-up refresh is incremental;
- ``plexm8 serve`` runs in a child process on that data directory (``INDEX_REFRESH_INTERVAL=0``), once per
  ``--server-threads`` value;
- baselines, each in another child process, measured with the same client in the same run: a bare WSGI function
  answering a static 200 and a trivial Flask app with one static JSON view, both on granian configured as the
  service runs it (one worker, the same thread count): what the server and the client cost, and what Flask adds
  before PlexM8 does anything; and the bare function on waitress, the service's server before granian;
- the load comes from ONE client process (not a thread pool): a single-threaded event loop over non-blocking
  sockets (``selectors``) that keeps ``--clients`` HTTP/1.1 keep-alive connections, writes each request as one
  pre-encoded ``send`` and reads the answer by ``Content-Length``. It spends well under 100 us of CPU per request
  (reported as ``client_cpu_us``), so it measures the server rather than itself; a pool of Python threads with
  ``requests`` or ``http.client`` spends several times that and fights the server for the same 2 cores.
- the server's own CPU per request (``server_cpu_us``, from ``/proc/<pid>/stat`` around each measurement) is
  reported too: it moves far less with other load on the machine than latency does.

Modes: ``keepalive`` (closed loop: every connection sends its next request as soon as the previous answer is in,
no think time, so by Little's law p50 is about clients / throughput), ``paced`` (open loop: each connection sends
on a fixed schedule, all together ``--rate`` requests per second, latency counted from the scheduled time so a
request that could not be sent on time because the connection was still busy counts its wait) and
``new_connection`` (closed loop, a new TCP connection per request).

Endpoints: ``/api/health``, ``/api/ratings/top-rated?limit=50`` (the same list again and again, as a web app
shows it) and ``top_rated_varied`` (``limit=50`` with a random ``min_rating`` in 0-5 per request, so nearly every
request misses the service's answer cache).

Run: ``.venv/bin/python bench/bench_api.py [--tracks 100000] [--requests 6400] [--server-threads 8]``;
results go to ``bench/results/bench_api.json``.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import selectors
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from common import free_port, library_file, plexsim_process, wait_for_ok, write_results
from plexm8.config import DEFAULT_SERVER_THREADS
from plexm8.core.accounts import account_key
from plexm8.plex.section_reader import PlexSectionReader
from plexm8.services.indexing import refresh_index
from plexm8.store import SqliteLibraryStore

TOKEN = "bench-token"
VARIED = "top_rated_varied"
ENDPOINTS = {"health": "/api/health", "top_rated": "/api/ratings/top-rated?limit=50", VARIED: ""}
BASELINE_PATH = "/static"
MODES = ("keepalive", "paced", "new_connection")
DEFAULT_MODES = ("keepalive", "paced")
WARMUP_PER_CLIENT = 10


def _paths(endpoint: str, count: int, rng: random.Random) -> list[str]:
    if endpoint != VARIED:
        return [ENDPOINTS.get(endpoint, BASELINE_PATH)] * count
    # 5,001 distinct min_rating values: nearly every request misses the service's top-rated answer cache.
    return [f"/api/ratings/top-rated?limit=50&min_rating={rng.randint(0, 5000) / 1000}" for _ in range(count)]


@dataclass(slots=True)
class _Connection:
    """One client connection: the requests it still has to send and the answer it is reading."""

    sock: socket.socket
    requests: list[bytes]
    due: float
    busy: bool = False
    began: float = 0.0
    buffer: bytearray = field(default_factory=bytearray)


def _connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.setblocking(False)
    return sock


def _complete_answer(buffer: bytearray) -> tuple[int, bytes] | None:
    """``(length, head)`` of the first complete HTTP answer in ``buffer``, ``None`` while it is incomplete."""
    end = buffer.find(b"\r\n\r\n")
    if end < 0:
        return None
    head = bytes(buffer[:end]).lower()
    at = head.find(b"\r\ncontent-length:")
    if at < 0:
        raise RuntimeError("an answer without Content-Length: " + head.split(b"\r\n", 1)[0].decode())
    line_end = head.find(b"\r\n", at + 2)
    length = end + 4 + int(head[at + 17 : line_end if line_end > 0 else None])
    return (length, head) if len(buffer) >= length else None


def drive(port: int, per_connection: list[list[str]], mode: str, interval: float) -> dict[str, Any]:
    """Send every connection's requests (module docstring); latencies in seconds, errors, elapsed and CPU time."""
    selector = selectors.DefaultSelector()
    start = time.perf_counter()
    connections = []
    host = f"127.0.0.1:{port}"
    for paths in per_connection:
        # One send per request, its bytes made up front: the loop does no formatting while it measures.
        encoded = [f"GET {p} HTTP/1.1\r\nHost: {host}\r\nAccept: application/json\r\n\r\n".encode() for p in paths]
        encoded.reverse()  # popped from the end
        due = start + random.random() * interval
        connection = _Connection(_connect(port), encoded, due)
        selector.register(connection.sock, selectors.EVENT_READ, connection)
        connections.append(connection)
    latencies: list[float] = []
    errors: list[int] = []

    def send(connection: _Connection, began: float) -> None:
        connection.busy = True
        connection.began = began
        connection.sock.send(connection.requests.pop())

    cpu_before = time.process_time()
    started = time.perf_counter()
    if not interval:
        for connection in connections:
            send(connection, time.perf_counter())
    active = len(connections)
    while active:
        timeout = None
        if interval:
            now = time.perf_counter()
            for connection in connections:
                if not connection.busy and connection.requests and connection.due <= now:
                    send(connection, connection.due)
                    connection.due += interval
            waiting = [c.due for c in connections if not c.busy and c.requests]
            timeout = max(0.0, min(waiting) - time.perf_counter()) if waiting else None
        for key, _ in selector.select(timeout):
            connection = key.data
            data = connection.sock.recv(1 << 18)
            if not data:
                raise RuntimeError("the server closed a connection")
            connection.buffer += data
            answer = _complete_answer(connection.buffer)
            if answer is None:
                continue
            done = time.perf_counter()
            length, head = answer
            latencies.append(done - connection.began)
            if head[9:12] != b"200":
                errors.append(int(head[9:12]))
            del connection.buffer[:length]
            connection.busy = False
            if mode == "new_connection" or b"\r\nconnection: close" in head:
                selector.unregister(connection.sock)
                connection.sock.close()
                connection.sock = _connect(port)
                selector.register(connection.sock, selectors.EVENT_READ, connection)
            if not connection.requests:
                active -= 1
            elif not interval:
                send(connection, time.perf_counter())
            elif connection.due <= done:
                send(connection, connection.due)
                connection.due += interval
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu_before
    for connection in connections:
        connection.sock.close()
    selector.close()
    return {"latencies": latencies, "errors": errors, "elapsed": elapsed, "cpu": cpu}


def _client_process(port: int, per_connection: list[list[str]], mode: str, interval: float, results: Any) -> None:
    results.put(drive(port, per_connection, mode, interval))


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` so far (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def load(
    port: int, endpoint: str, *, mode: str, clients: int, total: int, server_pid: int, seed: int = 0, rate: float = 0.0
) -> dict[str, Any]:
    """Latency percentiles (ms) of ``clients`` connections sending ``total`` requests in all, from one process."""
    interval = clients / rate if mode == "paced" else 0.0
    rng = random.Random(seed)
    per_connection = [_paths(endpoint, max(1, total // clients), rng) for _ in range(clients)]
    results = multiprocessing.get_context("spawn").Queue()
    child = multiprocessing.get_context("spawn").Process(
        target=_client_process, args=(port, per_connection, mode, interval, results)
    )
    server_cpu = process_cpu_seconds(server_pid)
    child.start()
    got = results.get(timeout=600)
    child.join()
    server_cpu = process_cpu_seconds(server_pid) - server_cpu
    count = len(got["latencies"])
    ms = sorted(x * 1000 for x in got["latencies"])
    cut = statistics.quantiles(ms, n=100, method="inclusive")
    return {
        "requests": count,
        "errors": len(got["errors"]),
        "p50_ms": round(cut[49], 2),
        "p95_ms": round(cut[94], 2),
        "p99_ms": round(cut[98], 2),
        "max_ms": round(ms[-1], 2),
        "throughput_rps": round(count / got["elapsed"], 1),
        # Whole-process CPU: the server's includes its idle threads' wake-ups, so it is an upper bound.
        "server_cpu_us": round(server_cpu / count * 1e6),
        "client_cpu_us": round(got["cpu"] / count * 1e6),
    }


def baseline_app(kind: str) -> Any:
    """The baseline WSGI app of ``kind``: ``wsgi`` a bare function, ``flask`` one Flask view (same static JSON)."""
    from collections.abc import Callable, Iterable

    from flask import Flask, Response

    body = b'{"status": "ok"}\n'
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]

    def bare(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        start_response("200 OK" if environ["PATH_INFO"] == BASELINE_PATH else "404 Not Found", list(headers))
        return [body]

    if kind.startswith("wsgi"):
        return bare
    flask_app = Flask("baseline")

    @flask_app.get(BASELINE_PATH)
    def baseline_answer() -> Response:
        return Response(body, mimetype="application/json")

    return flask_app


def serve_baseline(kind: str, port: int, threads: int) -> None:
    """A baseline server (child process target) on the server ``plexm8 serve`` uses, configured alike.

    ``wsgi`` and ``flask`` run on granian (one worker, ``threads`` request threads: what the service runs on);
    ``wsgi-waitress`` is the bare function on waitress, the service's server before granian, for comparison.
    """
    import functools
    import logging

    logging.basicConfig(filename=os.devnull, level=logging.WARNING)
    if kind == "wsgi-waitress":
        import waitress

        logging.getLogger("waitress.queue").setLevel(logging.ERROR)
        waitress.serve(baseline_app(kind), host="127.0.0.1", port=port, threads=threads, _quiet=True)
        return
    from granian import Granian
    from granian.constants import Interfaces

    server = Granian(
        "baseline",
        address="127.0.0.1",
        port=port,
        interface=Interfaces.WSGI,
        workers=1,
        blocking_threads=threads,
        websockets=False,
        log_enabled=False,
    )
    server.serve(target_loader=functools.partial(baseline_app, kind), wrap_loader=False)


def worker_pid(pid: int) -> int:
    """The process that runs the app: granian's worker (the one child of its supervisor ``pid``), else ``pid``."""
    children = Path(f"/proc/{pid}/task/{pid}/children")
    for _ in range(100):
        found = children.read_text().split() if children.exists() else []
        if found:
            return int(found[0])
        time.sleep(0.05)
    return pid


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


def measure(port: int, server_pid: int, endpoints: list[str], args: argparse.Namespace) -> dict[str, Any]:
    """Every mode x endpoint against the server on ``port``, each after a warm-up of the same shape."""
    out: dict[str, Any] = {}
    for mode in args.modes:
        for endpoint in endpoints:
            shape: dict[str, Any] = {"mode": mode, "clients": args.clients, "rate": args.rate, "server_pid": server_pid}
            load(port, endpoint, total=WARMUP_PER_CLIENT * args.clients, seed=99, **shape)
            out[f"{endpoint}.{mode}"] = figures = load(port, endpoint, total=args.requests, seed=1, **shape)
            print(
                f"  {endpoint:16} {mode:14} p50 {figures['p50_ms']:7.2f}  p99 {figures['p99_ms']:7.2f} ms"
                f"  {figures['throughput_rps']:7.1f} req/s  server {figures['server_cpu_us']:5d} us/req"
                f"  client {figures['client_cpu_us']:4d} us/req  errors {figures['errors']}",
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


def serve_and_measure(args: argparse.Namespace, env: dict[str, str], threads: int, log_path: Path) -> dict[str, Any]:
    """The baselines and ``plexm8 serve`` with ``threads`` request threads, one after the other, measured alike."""
    run: dict[str, Any] = {}
    for kind in args.baselines:
        port = free_port()
        baseline = multiprocessing.get_context("spawn").Process(target=serve_baseline, args=(kind, port, threads))
        baseline.start()
        try:
            wait_for_ok(f"http://127.0.0.1:{port}{BASELINE_PATH}")
            server = "waitress" if kind == "wsgi-waitress" else "granian"
            print(f" baseline: {kind} static answer on {server}", flush=True)
            assert baseline.pid is not None
            pid = baseline.pid if server == "waitress" else worker_pid(baseline.pid)
            run[f"baseline_{kind}"] = measure(port, pid, ["baseline"], args)
        finally:
            stop(baseline)

    port = free_port()
    env = {**env, "PORT": str(port), "SERVER_THREADS": str(threads)}
    plexm8_bin = Path(sys.executable).with_name("plexm8")
    # The service's log goes to a file: an undrained pipe would fill and block every thread that logs.
    with log_path.open("wb") as log_file:
        service = subprocess.Popen([str(plexm8_bin), "serve"], env=env, stdout=subprocess.DEVNULL, stderr=log_file)
        try:
            base = f"http://127.0.0.1:{port}"
            try:
                wait_for_ok(base + "/api/health")
                wait_for_idle_jobs(base)
            except RuntimeError as exc:
                raise RuntimeError(f"{exc}; the service's log ends:\n{log_path.read_text()[-2000:]}") from None
            print(" plexm8", flush=True)
            run |= measure(port, worker_pid(service.pid), list(ENDPOINTS), args)
        finally:
            stop(service)
    log = log_path.read_text(errors="replace")
    run["service_log_lines"] = len(log.splitlines())
    run["service_log_tail"] = log[-600:]
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracks", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--latency-ms", type=float, default=2.0)
    parser.add_argument("--clients", type=int, default=32, help="concurrent connections (one client process)")
    parser.add_argument("--requests", type=int, default=6400, help="measured requests per endpoint and mode")
    parser.add_argument(
        "--server-threads", default=str(DEFAULT_SERVER_THREADS), help="comma-separated SERVER_THREADS values to measure"
    )
    parser.add_argument(
        "--rate", type=float, default=320.0, help="paced mode: requests per second from all clients together"
    )
    parser.add_argument("--modes", default=",".join(DEFAULT_MODES), help=f"comma-separated, of {', '.join(MODES)}")
    parser.add_argument(
        "--plex-url", help=f"use this running plexsim (token {TOKEN!r}) instead of starting one on the library"
    )
    parser.add_argument(
        "--baselines", default="wsgi,flask,wsgi-waitress", help="comma-separated, of wsgi, flask, wsgi-waitress"
    )
    parser.add_argument(
        "--index-dir", type=Path, help="keep the built index in this directory and reuse it when it is there"
    )
    args = parser.parse_args()
    args.modes = [mode for mode in args.modes.split(",") if mode]
    args.baselines = [kind for kind in args.baselines.split(",") if kind]
    if not set(args.baselines) <= {"wsgi", "flask", "wsgi-waitress"}:
        parser.error("--baselines takes wsgi, flask, wsgi-waitress")
    if not set(args.modes) <= set(MODES):
        parser.error(f"--modes takes {', '.join(MODES)}")
    server_threads = [int(value) for value in args.server_threads.split(",")]

    plex: AbstractContextManager[str] = (
        nullcontext(args.plex_url)
        if args.plex_url
        else plexsim_process(library_file(args.tracks, args.seed)[0], latency_ms=args.latency_ms, token=TOKEN)
    )
    results: dict[str, Any] = {
        "tracks": args.tracks,
        "latency_ms": args.latency_ms,
        "clients": args.clients,
        "client": "one process, single-threaded selectors loop over keep-alive sockets",
        "requests_per_endpoint": args.requests,
        "warmup_requests_per_client": WARMUP_PER_CLIENT,
        "modes": "keepalive and new_connection: closed loop, no think time; paced: keep-alive, fixed schedule",
        "paced_rate_rps": args.rate,
        "load_average_before": os.getloadavg(),
    }
    with plex as plex_url, tempfile.TemporaryDirectory() as tmp:
        data_dir = args.index_dir or Path(tmp) / "data"
        data_dir.mkdir(parents=True, exist_ok=True)
        if not (data_dir / "plexm8.sqlite").exists():
            machine = requests.get(plex_url + "/identity", headers={"Accept": "application/json"}, timeout=10).json()
            key = account_key(machine["MediaContainer"]["machineIdentifier"], TOKEN)
            built = refresh_index(
                PlexSectionReader(plex_url, TOKEN, timeout=120),
                SqliteLibraryStore(data_dir / "plexm8.sqlite"),
                account=key,
            )
            results["index_build_s"] = round(built.seconds, 2)
            results["rated_tracks"] = built.counts.rated_tracks
        env = {
            **os.environ,
            "PLEX_SERVER_URL": plex_url,
            "PLEX_TOKEN": TOKEN,
            "PLEXM8_DATA_DIR": str(data_dir),
            "INDEX_REFRESH_INTERVAL": "0",
            "LOG_LEVEL": "WARNING",
        }
        runs: dict[str, Any] = {}
        for threads in server_threads:
            print(f"SERVER_THREADS={threads}", flush=True)
            runs[str(threads)] = serve_and_measure(args, env, threads, Path(tmp) / f"plexm8-{threads}.log")
        results["server_threads"] = runs
    results["load_average_after"] = os.getloadavg()

    out = write_results("bench_api", results)
    print(f"-> {out}")


if __name__ == "__main__":
    main()
