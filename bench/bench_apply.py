"""Applying rating changes: PlexM8's journaled, concurrent apply vs sequential plexapi ``track.rate()`` calls.

In one run, against plexsim in a child process with a per-request latency (default 2 ms, a LAN-like Plex):

- the index of a generated library (default 20,000 tracks) is built into a temporary data directory, and a sync
  plan of ``--changes`` (default 10,000) rating changes is stored (policy overwrite, every value differing from
  Plex's, so every item is a write);
- **PlexM8**: ``SyncService.apply`` is timed end to end: the incremental index refresh before writing, the journal
  (previous values committed, items marked written), the concurrent ``PUT /:/rate`` writes, the read-back that
  confirms them, and the confirmed ratings written into the index;
- **baseline**: the plain approach of peer tools, one plexapi ``track.rate(v)`` after another, on a sample of
  ``--sample`` (default 1,000) other tracks whose plexapi objects were fetched beforehand (not timed), scaled to
  ``--changes``.

The ratio is baseline / PlexM8. plexsim's request log (``/__plexsim/log``) gives the requests of the apply; the CPU
time of this process and of plexsim's (``/proc/<pid>/stat``) around each phase gives the CPU per write on each side.

Run: ``.venv/bin/python bench/bench_apply.py [--tracks 20000] [--changes 10000] [--sample 1000] [--latency-ms 2]``;
results go to ``bench/results/bench_apply.json``.
"""

from __future__ import annotations

import argparse
import collections
import os
import resource
import tempfile
import time
from pathlib import Path
from typing import Any

import requests
from plexapi.server import PlexServer

from common import library_file, plexsim_child, write_results
from plexm8.bootstrap import build_services
from plexm8.config import load_settings
from plexm8.core.matching import Match, MatchMethod, MatchOutcome
from plexm8.core.ratings import Rating
from plexm8.core.sources import RatingScale, SourceRating, SourceTrack
from plexm8.core.sync_plan import SyncPolicy

TOKEN = "bench-token"


def cpu_seconds(pid: int | None = None) -> float:
    """CPU time (user + system) of this process (all threads), or of the process ``pid``."""
    if pid is None:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _other(value: float | None, n: int) -> int:
    """A rating 1-10 that differs from ``value`` (rounded), spread over the scale."""
    wanted = n % 10 + 1
    current = None if value is None else round(value)
    return wanted if wanted != current else wanted % 10 + 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tracks", type=int, default=20_000)
    parser.add_argument("--changes", type=int, default=10_000)
    parser.add_argument("--sample", type=int, default=1_000)
    parser.add_argument("--latency-ms", type=float, default=2.0)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    if args.changes + args.sample > args.tracks:
        parser.error("--changes + --sample must not exceed --tracks")

    library, _ = library_file(args.tracks, args.seed)
    with (
        plexsim_child(library, token=TOKEN, latency_ms=args.latency_ms) as (url, pid),
        tempfile.TemporaryDirectory() as tmp,
    ):
        environ = {"PLEX_SERVER_URL": url, "PLEX_TOKEN": TOKEN, "INDEX_REFRESH_INTERVAL": "0", "LOG_LEVEL": "WARNING"}
        with build_services(load_settings(environ, default_data_dir=Path(tmp))) as services:
            account = services.account_for(None)
            started = time.perf_counter()
            services.index.refresh(account)
            index_s = time.perf_counter() - started
            keys = sorted(track.rating_key for track in services.store.tracks())
            states = services.store.states(account.key, keys)
            changed, sampled = keys[: args.changes], keys[args.changes : args.changes + args.sample]

            matches = []
            for n, key in enumerate(changed):
                state = states.get(key)
                value = _other(state.user_rating if state is not None else None, n)
                source = SourceTrack(
                    ordinal=n,
                    location=f"C:/Music/{key}.mp3",
                    rating=SourceRating(RatingScale.PLEX, float(value), Rating(value)),
                )
                matches.append(Match(source, key, MatchMethod.PATH, 1.0, "same file path"))
            started = time.perf_counter()
            run = services.sync.plan_outcome(
                account,
                MatchOutcome(matched=matches),
                source_kind="itunes",
                source_name="bench.xml",
                policy=SyncPolicy.OVERWRITE,
            )
            plan_s = time.perf_counter() - started
            assert run.counts["updated"] == args.changes, run.counts

            # Baseline first: sequential plexapi rate() on tracks fetched beforehand (the fetch is not timed).
            plex = PlexServer(url, TOKEN)
            tracks: list[Any] = []
            for i in range(0, len(sampled), 200):
                tracks.extend(plex.fetchItems(sampled[i : i + 200]))
            cpu = (cpu_seconds(), cpu_seconds(pid))
            started = time.perf_counter()
            for n, track in enumerate(tracks):
                track.rate(_other(track.userRating, n))
            sequential_s = time.perf_counter() - started
            sequential_cpu = (cpu_seconds() - cpu[0], cpu_seconds(pid) - cpu[1])

            requests.post(f"{url}/__plexsim/reset", headers={"X-Plex-Token": TOKEN}, timeout=30)
            cpu = (cpu_seconds(), cpu_seconds(pid))
            started = time.perf_counter()
            applied = services.sync.apply(account, run.id)
            apply_s = time.perf_counter() - started
            apply_cpu = (cpu_seconds() - cpu[0], cpu_seconds(pid) - cpu[1])
            log = requests.get(f"{url}/__plexsim/log", headers={"X-Plex-Token": TOKEN}, timeout=60).json()
            assert applied.journal == {"confirmed": args.changes}, applied.journal

    by_path = collections.Counter(
        "PUT /:/rate" if row["path"] == "/:/rate" else f"{row['method']} {row['path'].split('/')[1] or '/'}"
        for row in log
    )
    sequential_scaled_s = sequential_s * args.changes / len(tracks)
    results = {
        "tracks": args.tracks,
        "changes": args.changes,
        "latency_ms": args.latency_ms,
        "index_build_s": round(index_s, 2),
        "plan_s": round(plan_s, 3),
        "apply_s": round(apply_s, 3),
        "apply_writes_per_s": round(args.changes / apply_s),
        "apply_requests": len(log),
        "apply_requests_by_kind": dict(by_path.most_common()),
        # CPU per write moves far less with other load on the machine than wall time does.
        "apply_client_cpu_ms_per_write": round(apply_cpu[0] * 1000 / args.changes, 3),
        "apply_server_cpu_ms_per_write": round(apply_cpu[1] * 1000 / args.changes, 3),
        "sequential_sample": len(tracks),
        "sequential_client_cpu_ms_per_write": round(sequential_cpu[0] * 1000 / len(tracks), 3),
        "sequential_server_cpu_ms_per_write": round(sequential_cpu[1] * 1000 / len(tracks), 3),
        "sequential_sample_s": round(sequential_s, 3),
        "sequential_scaled_s": round(sequential_scaled_s, 2),
        "ratio_sequential_over_plexm8": round(sequential_scaled_s / apply_s, 2),
    }
    path = write_results("bench_apply", results)
    for key, value in results.items():
        print(f"{key:>36}: {value}")
    print(f"results: {path}")


if __name__ == "__main__":
    main()
