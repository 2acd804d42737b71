"""Matching benchmark: quality on the hard-case sets, and parse + match of a big iTunes export against a big index.

In one run:

- quality: the hard-case set of the tests (1,500 generated tracks, seed 11, Windows and macOS exports) and the big
  set below, each parsed by the real iTunes reader and matched by ``match_source`` against the real SQLite index:
  precision, recall and wrong matches among those that would be written;
- speed: a ``--exported`` (50,000) track iTunes export of a ``--tracks`` (100,000) track library: read the file
  with the iTunes reader, load the catalog from the index, match (``services.matching.match_source``), in a child
  process so its peak RSS is that of the sync alone (not of the generator);
- baseline: what peer tools do, one python-plexapi ``section.searchTracks(title=...)`` per source track (then the
  first result whose artist agrees, else the first result) over HTTP against plexsim with ``--latency-ms`` (2 ms)
  per request, on ``--sample`` (1,000) source tracks, scaled to the export's size; its precision on the sample too.

Run: ``.venv/bin/python bench/bench_match.py [--tracks 100000] [--exported 50000] [--sample 1000] [--latency-ms 2]``;
results go to ``bench/results/bench_match.json``.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from common import plexsim_process, write_results
from plexm8.core.matching import MatchOutcome
from plexm8.core.sources import SourceTrack
from plexm8.importers import open_source
from plexm8.plex.section_reader import PlexSectionReader
from plexm8.services.indexing import refresh_index
from plexm8.services.matching import match_source
from plexm8.store import SqliteLibraryStore
from plexm8.store.match_catalog import SqliteMatchCatalog
from plexsim.exports import HardCaseSet, build_hard_case_set, write_itunes_xml
from plexsim.generate import generate_library
from plexsim.library import dump_library

TOKEN = "bench-token"
SECTION = 3
ACCOUNT = "admin"


def peak_rss_mb() -> float:
    """This process's peak RSS. On Linux from ``VmHWM``: ``ru_maxrss`` survives exec, so a child started by the
    benchmark would report the parent's peak (the generated 100,000-track library) as its own."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    scale = 1024 * 1024 if sys.platform == "darwin" else 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / scale


def quality(outcome: MatchOutcome, truth: dict[str, int | None]) -> dict[str, Any]:
    """Precision, recall and wrong matches of ``outcome`` against the ground truth by persistent id."""
    wrong = sum(1 for m in outcome.matched if truth[m.source.source_id or ""] != m.rating_key)
    right = len(outcome.matched) - wrong
    positives = sum(1 for key in truth.values() if key is not None)
    methods: dict[str, int] = {}
    for m in outcome.matched:
        methods[m.method.value] = methods.get(m.method.value, 0) + 1
    return {
        "records": len(truth),
        "in_plex": positives,
        "matched": len(outcome.matched),
        "review": len(outcome.review),
        "unmatched": len(outcome.unmatched),
        "wrong": wrong,
        "precision": round(right / len(outcome.matched), 5) if outcome.matched else None,
        "recall": round(right / positives, 5) if positives else None,
        "by_method": methods,
        "suggested_mappings": [f"{m.source_prefix}={m.plex_prefix}" for m in outcome.path_mappings],
    }


def build_index(url: str, database: Path) -> None:
    store = SqliteLibraryStore(database)
    try:
        refresh_index(PlexSectionReader(url, TOKEN, page_size=10_000, timeout=300), store, account=ACCOUNT)
    finally:
        store.close()


def prepare(cases: HardCaseSet, folder: Path) -> tuple[Path, Path]:
    """The export file and the Plex-side library file of a hard-case set."""
    export, library = folder / "Library.xml", folder / "library.json"
    write_itunes_xml(cases.tracks, export, platform=cases.platform)
    dump_library(cases.library, library)
    return export, library


def hard_case_quality(folder: Path) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for platform in ("windows", "macos"):
        cases = build_hard_case_set(generate_library(tracks=1500, seed=11), seed=11, platform=platform)
        sub = folder / f"hard-{platform}"
        sub.mkdir()
        export, library = prepare(cases, sub)
        with plexsim_process(library, token=TOKEN) as url:
            build_index(url, sub / "index.db")
        outcome = match_source(
            SqliteMatchCatalog(sub / "index.db"), ACCOUNT, open_source("itunes", export), "itunes", path_mappings=None
        )
        out[platform] = quality(outcome, cases.truth())
    return out


def children_peak_mb() -> float:
    """The largest peak RSS of the waited-for child processes (the read-ahead worker).

    An upper bound: ``ru_maxrss`` survives exec, so a child started early reports at least this process's RSS of
    that moment (about 50 MB here, before the catalog loads).
    """
    scale = 1024 * 1024 if sys.platform == "darwin" else 1024
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / scale


def measure(export: Path, database: Path, mode: str) -> dict[str, Any]:
    """In a fresh process: parse + load + match with this process's peak RSS (and its read-ahead worker's).

    ``product`` is the sync's own path (``match_export`` in bootstrap): the export read ahead in a worker process
    while the catalog loads and its lookups are built, then each track matched as it arrives
    (``services.matching.match_source``).
    ``stages`` reads, loads and matches one after the other in this process and times each stage (with the cyclic
    collector paused, as in the product).
    """
    rss_start = peak_rss_mb()
    store = SqliteMatchCatalog(database)
    started = time.perf_counter()
    stages: dict[str, float] = {}
    if mode == "product":
        source = open_source("itunes", export, read_ahead=True)
        outcome = match_source(store, ACCOUNT, source, "itunes", path_mappings=None)
        source_tracks = source.report.tracks
    else:
        from plexm8.core.matcher import match_tracks
        from plexm8.services.gc_pause import gc_paused

        with gc_paused():  # as match_source does
            tracks = list(open_source("itunes", export).tracks())
            parsed = time.perf_counter()
            catalog = store.load(ACCOUNT)
            loaded = time.perf_counter()
            outcome = match_tracks(tracks, catalog, path_mappings=None, remembered=store.remembered(ACCOUNT, "itunes"))
        stages = {
            "parse_s": round(parsed - started, 3),
            "load_catalog_s": round(loaded - parsed, 3),
            "match_s": round(time.perf_counter() - loaded, 3),
        }
        source_tracks = len(tracks)
    total = time.perf_counter() - started
    worker_peak = children_peak_mb() if mode == "product" else 0.0
    return {
        "mode": mode,
        **stages,
        "total_s": round(total, 3),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "worker_peak_rss_mb": round(worker_peak, 1),
        "rss_at_start_mb": round(rss_start, 1),
        "source_tracks": source_tracks,
        "matched": {m.source.source_id: m.rating_key for m in outcome.matched},
        "review": len(outcome.review),
        "unmatched": len(outcome.unmatched),
        "mappings": [f"{m.source_prefix}={m.plex_prefix}" for m in outcome.path_mappings],
    }


def plexapi_plain(url: str, sources: list[SourceTrack]) -> tuple[float, dict[str, int | None]]:
    """One ``searchTracks(title=...)`` per source track, as peer tools match; seconds and the keys chosen."""
    from plexapi.server import PlexServer

    server = PlexServer(url, TOKEN, timeout=120)
    section = server.library.sectionByID(SECTION)
    chosen: dict[str, int | None] = {}
    started = time.perf_counter()
    for source in sources:
        results = section.searchTracks(title=source.title or "")
        artist = (source.artist or "").casefold()
        pick = next(
            (
                t
                for t in results
                if artist in {(t.grandparentTitle or "").casefold(), (t.originalTitle or "").casefold()}
            ),
            results[0] if results else None,
        )
        chosen[source.source_id or ""] = int(pick.ratingKey) if pick is not None else None
    return time.perf_counter() - started, chosen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracks", type=int, default=100_000)
    parser.add_argument("--exported", type=int, default=50_000)
    parser.add_argument("--sample", type=int, default=1_000)
    parser.add_argument("--latency-ms", type=float, default=2.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of each mode (the fastest counts)")
    parser.add_argument("--measure", nargs=3, metavar=("EXPORT", "DATABASE", "MODE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(Path(args.measure[0]), Path(args.measure[1]), args.measure[2])))
        return

    results: dict[str, Any] = {"tracks": args.tracks, "exported": args.exported, "latency_ms": args.latency_ms}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        results["hard_cases"] = hard_case_quality(folder)
        print("hard cases", json.dumps(results["hard_cases"], indent=1))

        started = time.perf_counter()
        cases = build_hard_case_set(
            generate_library(tracks=args.tracks, seed=args.seed, accounts=1, plays=0, playlists=0),
            exported=args.exported,
            seed=args.seed,
        )
        export, library = prepare(cases, folder)
        truth = cases.truth()
        results["generate_s"] = round(time.perf_counter() - started, 1)
        results["export_mb"] = round(export.stat().st_size / 1e6, 1)
        del cases
        with plexsim_process(library, latency_ms=args.latency_ms, token=TOKEN) as url:
            build_index(url, folder / "index.db")
            runs: dict[str, list[dict[str, Any]]] = {"product": [], "stages": []}
            for _ in range(args.repeat):
                for mode in runs:  # interleaved, so that a slow minute of the machine hits both modes
                    child = subprocess.run(
                        [sys.executable, __file__, "--measure", str(export), str(folder / "index.db"), mode],
                        check=True,
                        capture_output=True,
                        text=True,
                    )
                    runs[mode].append(json.loads(child.stdout))
            big = min(runs["product"], key=lambda run: run["total_s"])
            big["all_totals_s"] = [run["total_s"] for run in runs["product"]]
            stages = min(runs["stages"], key=lambda run: run["total_s"])
            results["in_process_stages"] = {
                key: stages[key] for key in ("parse_s", "load_catalog_s", "match_s", "total_s", "peak_rss_mb")
            } | {"all_totals_s": [run["total_s"] for run in runs["stages"]]}
            if stages["matched"] != big["matched"]:
                raise SystemExit("reading ahead changed the matches")
            matched: dict[str, int] = big.pop("matched")
            for run in runs["product"] + runs["stages"]:
                run.pop("matched", None)
            wrong = sum(1 for pid, key in matched.items() if truth[pid] != key)
            positives = sum(1 for key in truth.values() if key is not None)
            big["quality"] = {
                "matched": len(matched),
                "wrong": wrong,
                "precision": round((len(matched) - wrong) / len(matched), 5),
                "recall": round((len(matched) - wrong) / positives, 5),
            }
            results["plexm8"] = big

            sources = list(open_source("itunes", export).tracks())
            sample = random.Random(args.seed).sample(sources, min(args.sample, len(sources)))
            plain_s, chosen = plexapi_plain(url, sample)
            sample_wrong = sum(1 for pid, key in chosen.items() if key is not None and truth[pid] != key)
            sample_found = sum(1 for key in chosen.values() if key is not None)
            scaled = plain_s * len(sources) / len(sample)
            results["plexapi_search"] = {
                "sample": len(sample),
                "sample_s": round(plain_s, 2),
                "scaled_s": round(scaled, 1),
                "sample_matched": sample_found,
                "sample_wrong": sample_wrong,
                "sample_precision": round((sample_found - sample_wrong) / sample_found, 4) if sample_found else None,
            }
            results["speedup_vs_plexapi"] = round(scaled / big["total_s"], 1)
    out = write_results("bench_match", results)
    print(json.dumps(results, indent=1))
    print(f"-> {out}")


if __name__ == "__main__":
    main()
