"""Benchmark: plexsim serving a full track listing, in XML and JSON, against the raw-transfer floor.

Issue 2 §4: a 100,000-track listing in pages of 10,000 must be served in ≤ 2 s on a 2-core machine, in XML and in
JSON, so that later benchmarks measure PlexM8's client and not the simulator. The floor is the same bytes served as
static files by a plain threaded HTTP server in the same run; the ratio shows what the simulator adds to transfer.

    python bench/bench_plexsim_listing.py [--tracks 100000] [--page 10000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import free_port, library_file, plexsim_process, write_results

TOKEN = "bench-token"


def fetch_listing(url: str, *, total: int, page: int, accept: str, save_to: Path | None = None) -> tuple[float, int]:
    """Download every page of the track listing without parsing it; returns (seconds, bytes)."""
    session = requests.Session()
    session.headers.update({"X-Plex-Token": TOKEN, "Accept": accept})
    started = time.perf_counter()
    size = 0
    for n, start in enumerate(range(0, total, page)):
        response = session.get(
            f"{url}/library/sections/3/all",
            params={"includeGuids": "1", "type": "10"},
            headers={"X-Plex-Container-Start": str(start), "X-Plex-Container-Size": str(page)},
        )
        response.raise_for_status()
        size += len(response.content)
        if save_to is not None:
            (save_to / f"page{n}").write_bytes(response.content)
    return time.perf_counter() - started, size


def fetch_static(url: str, pages: int) -> float:
    session = requests.Session()
    started = time.perf_counter()
    for n in range(pages):
        session.get(f"{url}/page{n}").raise_for_status()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracks", type=int, default=100_000)
    parser.add_argument("--page", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    library, generated_in = library_file(args.tracks, seed=1)
    results: dict[str, object] = {"tracks": args.tracks, "page": args.page, "generate_s": generated_in}
    with plexsim_process(library, token=TOKEN) as url:
        for form, accept in (("xml", "*/*"), ("json", "application/json")):
            with tempfile.TemporaryDirectory() as tmp:
                cold, size = fetch_listing(url, total=args.tracks, page=args.page, accept=accept, save_to=Path(tmp))
                warm = min(
                    fetch_listing(url, total=args.tracks, page=args.page, accept=accept)[0] for _ in range(args.repeat)
                )
                port = free_port()
                static = subprocess.Popen(
                    [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", tmp],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                try:
                    time.sleep(0.5)
                    pages = -(-args.tracks // args.page)
                    floor = min(fetch_static(f"http://127.0.0.1:{port}", pages) for _ in range(args.repeat))
                finally:
                    static.terminate()
                    static.wait()
            results[form] = {
                "bytes": size,
                "first_listing_s": round(cold, 3),
                "warm_listing_s": round(warm, 3),
                "static_floor_s": round(floor, 3),
                "warm_vs_floor": round(warm / floor, 2),
            }
            print(
                f"{form:4}  {size / 1e6:7.1f} MB  first {cold:6.2f} s  warm {warm:6.2f} s  "
                f"static floor {floor:6.2f} s  (warm/floor {warm / floor:4.1f}x)"
            )
    if generated_in is not None:
        print(f"generated {args.tracks} tracks in {generated_in:.1f} s")
    print("results:", write_results("plexsim_listing", results))


if __name__ == "__main__":
    main()
