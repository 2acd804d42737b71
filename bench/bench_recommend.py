"""Recommendation speed: model build time and peak memory, query latency through the service and the HTTP API.

In one run, on a generated library (default 100,000 tracks, 1,000,000 plays, 200 playlists):

- plexsim serves it in a child process; the admin account's index is built in this process into a temporary data
  directory (under the account key the service derives, so the service uses it as it is);
- **build**: a child process runs the product's build job (``services.recommendations.build``: read the index,
  cut sessions, ask Plex for the sonic neighbours of 100 tracks, build the model, save it) and reports the job's
  phase timings and its peak RSS (``ru_maxrss``); a second child process only loads the saved model (what start-up
  costs);
- **service**: this process opens services on that data directory (the model is loaded from disk, nothing is
  rebuilt) and times ``similar`` (one random seed track per query) and ``for_user`` (based-on-ratings), plain and
  with ``exclude_played_days=30&per_artist=2``, ``limit=50``;
- **HTTP**: ``plexm8 serve`` in a child process on the same data directory; one keep-alive client sends the same
  queries one after another (``/api/recommendations/similar`` and ``/based-on-ratings``), and ``/api/health`` as the
  stack's floor measured in the same run;
- **baseline**: python-plexapi's ``track.sonicallySimilar(limit=50)`` against the same plexsim (the only "similar"
  Plex itself offers: one request per query), for the same seeds.

Run: ``.venv/bin/python bench/bench_recommend.py [--tracks 100000] [--plays 1000000] [--playlists 200]
[--queries 400]``; results go to ``bench/results/bench_recommend.json``.
"""

from __future__ import annotations

import argparse
import dataclasses
import http.client
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

from common import free_port, library_file, plexsim_process, wait_for_ok, write_results

TOKEN = "bench-token"
LIMIT = 50
OPTIONS = {"exclude_played_days": 30.0, "per_artist": 2}


def percentiles(seconds: list[float]) -> dict[str, float]:
    ms = sorted(x * 1000 for x in seconds)
    cut = statistics.quantiles(ms, n=100, method="inclusive")
    return {
        "n": len(ms),
        "p50_ms": round(cut[49], 2),
        "p95_ms": round(cut[94], 2),
        "p99_ms": round(cut[98], 2),
        "max_ms": round(ms[-1], 2),
    }


def timed(calls: list[Callable[[], object]]) -> list[float]:
    out = []
    for call in calls:
        began = time.perf_counter()
        call()
        out.append(time.perf_counter() - began)
    return out


def _environ(plex_url: str, data_dir: Path) -> dict[str, str]:
    return {
        "PLEX_SERVER_URL": plex_url,
        "PLEX_TOKEN": TOKEN,
        "PLEXM8_DATA_DIR": str(data_dir),
        "INDEX_REFRESH_INTERVAL": "0",
        "LOG_LEVEL": "WARNING",
    }


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def child(mode: str, plex_url: str, data_dir: Path) -> None:
    """Child process: print one JSON line with wall and CPU seconds and peak RSS of one of three modes.

    ``build``: the product's build job (``services.recommendations.build``), with the job's phase timings.
    ``phases``: the same steps called one by one, each with its CPU seconds (robust on a busy machine).
    ``load``: only loading the saved model, as a service does at its first query after a start.
    """
    from plexm8.bootstrap import DATABASE_NAME, build_services
    from plexm8.config import load_settings
    from plexm8.plex.sonic import PlexSonicNeighbours
    from plexm8.recommend.model import RecommendationModel, build_model
    from plexm8.services.recommendations import collect_signals, sonic_neighbours
    from plexm8.store.recommend_inputs import SqliteRecommendationInputs

    settings = load_settings(_environ(plex_url, data_dir), default_data_dir=data_dir)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    began, cpu_began = time.perf_counter(), _cpu_s()
    out: dict[str, Any] = {}
    with build_services(settings) as services:
        account = services.account_for(None)
        if mode == "build":
            job = services.recommendations.build(account)
            out.update(job=job.result, counts=dict(job.counts))
        elif mode == "phases":
            phases: dict[str, dict[str, float]] = {}
            inputs = SqliteRecommendationInputs(data_dir / DATABASE_NAME)

            def phase(name: str, fn: Callable[[], Any]) -> Any:
                wall, cpu = time.perf_counter(), _cpu_s()
                value = fn()
                phases[name] = {
                    "wall_s": round(time.perf_counter() - wall, 2),
                    "cpu_s": round(_cpu_s() - cpu, 2),
                    "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
                }
                return value

            signals = phase("read_index", lambda: collect_signals(inputs, account.key))
            reader = PlexSonicNeighbours(services.plex_for(account.token))
            sonic = phase("sonic", lambda: sonic_neighbours(reader, signals))
            model = phase("build_model", lambda: build_model(dataclasses.replace(signals, sonic=sonic)))
            phase("save", lambda: model.save(data_dir / "phases.model"))
            out["phases"] = phases
        else:
            RecommendationModel.load(services.recommendations.model_path(account.key))
    out["wall_s"] = round(time.perf_counter() - began, 2)
    out["cpu_s"] = round(_cpu_s() - cpu_began, 2)
    # ru_maxrss is in KiB on Linux: the peak of the whole process, Python and the services included.
    out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    out["rss_before_mb"] = round(rss_before / 1024, 1)
    print(json.dumps(out))


def run_child(mode: str, plex_url: str, data_dir: Path) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, __file__, "--child", mode, plex_url, str(data_dir)],
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def http_latencies(port: int, paths: list[str]) -> list[float]:
    """One keep-alive client sending ``paths`` one after another; every answer must be 200."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    out = []
    try:
        for path in paths:
            began = time.perf_counter()
            conn.request("GET", path)
            response = conn.getresponse()
            body = response.read()
            out.append(time.perf_counter() - began)
            if response.status != 200:
                raise RuntimeError(f"{path} answered {response.status}: {body[:200]!r}")
    finally:
        conn.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracks", type=int, default=100_000)
    parser.add_argument("--plays", type=int, default=1_000_000)
    parser.add_argument("--playlists", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--queries", type=int, default=400, help="measured queries per kind")
    parser.add_argument("--baseline-queries", type=int, default=50, help="plexapi sonicallySimilar queries")
    parser.add_argument("--phases", action="store_true", help="also time each build step in its own process")
    parser.add_argument("--child", nargs=3, metavar=("MODE", "URL", "DATA_DIR"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        mode, url, data = args.child
        child(mode, url, Path(data))
        return

    from plexapi.server import PlexServer

    from plexm8.bootstrap import build_services
    from plexm8.config import load_settings
    from plexm8.core.accounts import account_key
    from plexm8.plex.section_reader import PlexSectionReader
    from plexm8.services.indexing import refresh_index
    from plexm8.store import SqliteLibraryStore

    path, generated = library_file(args.tracks, args.seed, plays=args.plays, playlists=args.playlists)
    results: dict[str, Any] = {
        "tracks": args.tracks,
        "plays": args.plays,
        "playlists": args.playlists,
        "queries": args.queries,
        "limit": LIMIT,
        "load_average_before": os.getloadavg(),
    }
    if generated is not None:
        results["library_generation_s"] = round(generated, 1)
    with plexsim_process(path, token=TOKEN, start_timeout=900) as plex_url, tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "data"
        data_dir.mkdir()
        machine = requests.get(plex_url + "/identity", headers={"Accept": "application/json"}, timeout=10).json()
        key = account_key(machine["MediaContainer"]["machineIdentifier"], TOKEN)
        store = SqliteLibraryStore(data_dir / "plexm8.sqlite")
        built = refresh_index(PlexSectionReader(plex_url, TOKEN, timeout=300), store, account=key)
        store.close()
        counts = built.counts
        results["index"] = {
            "build_s": round(built.seconds, 1),
            "rated_tracks": counts.rated_tracks,
            "played_tracks": counts.played_tracks,
            "playlists": counts.playlists,
            "plays": counts.plays,
        }
        print(f"index: {json.dumps(results['index'])}", flush=True)

        results["build"] = run_child("build", plex_url, data_dir)
        print(f"build: {json.dumps(results['build'])}", flush=True)
        if args.phases:
            results["build_phases"] = run_child("phases", plex_url, data_dir)
            print(f"build phases: {json.dumps(results['build_phases'])}", flush=True)
        results["load"] = run_child("load", plex_url, data_dir)
        print(f"load: {json.dumps(results['load'])}", flush=True)

        settings = load_settings(_environ(plex_url, data_dir), default_data_dir=data_dir)
        rng = random.Random(args.seed)
        with build_services(settings) as services:
            account = services.account_for(None)
            recommend = services.recommendations
            jobs_before = len(services.jobs.list(kind="recommend_build"))
            track_keys = [t.rating_key for t in services.queries.find_tracks(account.key, _all(args.tracks)).items]
            seeds = [rng.choice(track_keys) for _ in range(args.queries)]
            recommend.for_user(account, limit=1)  # loads the model from disk: start-up, not a query
            service: dict[str, Any] = {}
            service["similar"] = percentiles(
                timed([lambda s=s: recommend.similar(account, track_keys=[s], limit=LIMIT) for s in seeds])
            )
            service["similar_with_options"] = percentiles(
                timed([lambda s=s: recommend.similar(account, track_keys=[s], limit=LIMIT, **OPTIONS) for s in seeds])
            )
            service["based_on_ratings"] = percentiles(
                timed([lambda: recommend.for_user(account, limit=LIMIT)] * args.queries)
            )
            service["based_on_ratings_with_options"] = percentiles(
                timed([lambda: recommend.for_user(account, limit=LIMIT, **OPTIONS)] * args.queries)
            )
            assert len(services.jobs.list(kind="recommend_build")) == jobs_before, "the service rebuilt the model"
        results["service"] = service
        for name, figures in service.items():
            print(f"service {name:32} {json.dumps(figures)}", flush=True)

        plex = PlexServer(plex_url, TOKEN, timeout=120)
        baseline_seeds = seeds[: args.baseline_queries]
        fetched = [plex.fetchItem(s) for s in baseline_seeds]
        results["baseline_plexapi_sonically_similar"] = percentiles(
            timed([lambda t=t: t.sonicallySimilar(limit=LIMIT) for t in fetched])
        )
        print(f"baseline plexapi sonicallySimilar {json.dumps(results['baseline_plexapi_sonically_similar'])}")

        port = free_port()
        env = {**os.environ, **_environ(plex_url, data_dir), "PORT": str(port)}
        server = subprocess.Popen(
            [str(Path(sys.executable).with_name("plexm8")), "serve"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            wait_for_ok(base + "/api/health", timeout=180)
            wait_for_ok(base + "/api/recommendations/based-on-ratings?limit=1", timeout=180)  # loads the model
            http: dict[str, Any] = {}
            http["health_floor"] = percentiles(http_latencies(port, ["/api/health"] * args.queries))
            similar = [f"/api/recommendations/similar?track_key={s}&limit={LIMIT}" for s in seeds]
            http["similar"] = percentiles(http_latencies(port, similar))
            options = "&exclude_played_days=30&per_artist=2"
            http["similar_with_options"] = percentiles(http_latencies(port, [p + options for p in similar]))
            ratings = f"/api/recommendations/based-on-ratings?limit={LIMIT}"
            http["based_on_ratings"] = percentiles(http_latencies(port, [ratings] * args.queries))
            http["based_on_ratings_with_options"] = percentiles(
                http_latencies(port, [ratings + options] * args.queries)
            )
        finally:
            server.terminate()
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()
        results["http"] = http
        for name, figures in http.items():
            print(f"http {name:32} {json.dumps(figures)}", flush=True)
    results["load_average_after"] = os.getloadavg()
    print(f"results: {write_results('bench_recommend', results)}")


def _all(tracks: int) -> Any:
    from plexm8.core.tracks import TrackQuery

    return TrackQuery(limit=tracks)


if __name__ == "__main__":
    main()
