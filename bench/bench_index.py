"""Index build benchmark: the floor, python-plexapi the plain way, and PlexM8's first build and refreshes.

On a generated library served by plexsim in a child process with a per-request latency, in one run:

- floor: downloading the track listing in pages of 10,000 (JSON, as PlexM8 reads it) without parsing it;
- plexapi: ``section.searchTracks()`` with its default paging, building every Track object;
- PlexM8: the first index build (artists, albums, tracks, the artists' and albums' styles and moods, playlists and
  history into SQLite), then an incremental refresh with nothing changed and one after 1,000 tracks were rated; peak
  RSS of this process after the build and its CPU time during the build (all threads), and the same of the worker
  process that reads a large history into a spool;
- the styles-and-moods stage alone: the multi-id detail reads of every artist and album (requests, bytes, seconds),
  as the build sends them (asking the server to leave off what is not needed) and against a server that ignores
  that. In the build the same reads overlap the track stage; ``plexm8_stage_s["styles and moods"]`` is only the
  storing of their rows after it.

Run: ``.venv/bin/python bench/bench_index.py [--tracks 100000] [--latency-ms 2]``; results go to
``bench/results/bench_index.json``.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

import requests

from common import library_file, plexsim_process, write_results
from plexm8.core.catalog import ItemKind
from plexm8.plex.section_reader import PlexSectionReader
from plexm8.services.indexing import refresh_index
from plexm8.store import SqliteLibraryStore

TOKEN = "bench-token"
SECTION = 3


def floor(url: str, total: int, page: int = 10_000, *, json: bool = True) -> tuple[float, int]:
    """Seconds and bytes to download the whole track listing in pages, without parsing."""
    session = requests.Session()
    session.headers.update({"X-Plex-Token": TOKEN, "Accept": "application/json" if json else "*/*"})
    started = time.perf_counter()
    size = 0
    for start in range(0, total, page):
        params = {"type": "10", "X-Plex-Container-Start": str(start), "X-Plex-Container-Size": str(page)}
        size += len(session.get(f"{url}/library/sections/{SECTION}/all", params=params).content)
    return time.perf_counter() - started, size


def warm(url: str) -> None:
    """Have plexsim render once what the build reads (artists, albums, their detail, playlists, history), as tracks.

    plexsim keeps each item's rendering from its first request, in the form asked for; a running server has
    answered these before, so a cold cache would charge the build plexsim's first rendering. A real server has no
    such cache: it reads rows from its database every time.
    """
    reader = PlexSectionReader(url, TOKEN, page_size=10_000, timeout=120)
    keys: list[int] = []
    for kind in (ItemKind.ARTIST, ItemKind.ALBUM):
        for rows in reader.read_rows(kind):
            keys.extend(int(row[0]) for row in rows.items)  # type: ignore[arg-type]
    # The styles and moods of every artist and album, from item detail, as the build asks for them.
    for _ in reader.download_tags(keys):
        pass
    # Every playlist's items: plexsim keeps a smart playlist's evaluation until a rating or play changes.
    for playlist in reader.read_playlists():
        reader.read_playlist_items(playlist.rating_key)
    for _ in reader.download_history():
        pass
    reader.close()


def tag_stage(url: str, keys: list[int], *, ignored: bool = False) -> dict[str, float | int]:
    """The styles-and-moods reads of a build on their own: seconds (download and decode), requests, MB, rows."""
    knob = {"ignore_exclusions": "1" if ignored else "0"}
    requests.post(f"{url}/__plexsim/knobs", params=knob, headers={"X-Plex-Token": TOKEN}, timeout=30).raise_for_status()
    reader = PlexSectionReader(url, TOKEN, page_size=10_000, timeout=120)
    started = time.perf_counter()
    rows = sum(len(decode()) for decode in reader.download_tags(keys))
    seconds = time.perf_counter() - started
    reader.close()
    knob = {"ignore_exclusions": "0"}
    requests.post(f"{url}/__plexsim/knobs", params=knob, headers={"X-Plex-Token": TOKEN}, timeout=30).raise_for_status()
    return {
        "s": round(seconds, 3),
        "requests": reader.requests_made,
        "mb": round(reader.bytes_received / 1e6, 2),
        "rows": rows,
    }


def plexapi_plain(url: str) -> tuple[float, int]:
    from plexapi.server import PlexServer

    server = PlexServer(url, TOKEN, timeout=120)
    section = server.library.sectionByID(SECTION)
    started = time.perf_counter()
    tracks = section.searchTracks()
    return time.perf_counter() - started, len(tracks)


def rate_many(url: str, keys: list[int], rating: float) -> None:
    """Rate tracks through Plex's batch edit, as a user's bulk change would arrive."""
    params = {"id": ",".join(map(str, keys)), "type": "10", "userRating.value": str(rating)}
    response = requests.put(
        f"{url}/library/sections/{SECTION}/all", params=params, headers={"X-Plex-Token": TOKEN}, timeout=60
    )
    response.raise_for_status()


class StageClock:
    """A progress callback that notes when each stage of a refresh starts (wall clock)."""

    def __init__(self) -> None:
        self.starts: list[tuple[str, float]] = []

    def __call__(self, stage: str, done: int, total: int | None) -> None:
        if not self.starts or self.starts[-1][0] != stage:
            self.starts.append((stage, time.perf_counter()))

    def durations(self) -> dict[str, float]:
        """Seconds from each stage's start to the next one's (the last stage, "done", has none)."""
        return {name: round(nxt - at, 3) for (name, at), (_, nxt) in zip(self.starts, self.starts[1:], strict=False)}


def cpu_seconds(who: int = resource.RUSAGE_SELF) -> float:
    """User plus system CPU time of this process so far (or of its ended child processes: the history spool)."""
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def peak_rss_mb(who: int = resource.RUSAGE_SELF) -> float:
    """Peak RSS of this process (or of the largest of its ended child processes: plexsim runs to the end)."""
    # ru_maxrss is KiB on Linux, bytes on macOS.
    scale = 1024 * 1024 if sys.platform == "darwin" else 1024
    return resource.getrusage(who).ru_maxrss / scale


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracks", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--latency-ms", type=float, default=2.0)
    parser.add_argument("--skip-plexapi", action="store_true", help="skip the slow plexapi run")
    args = parser.parse_args()

    path, generated = library_file(args.tracks, args.seed)
    results: dict[str, object] = {"tracks": args.tracks, "latency_ms": args.latency_ms, "generate_s": generated}
    with plexsim_process(path, latency_ms=args.latency_ms, token=TOKEN) as url, tempfile.TemporaryDirectory() as tmp:
        floor(url, args.tracks)  # warm the server's fragment caches, as a running server has them
        warm(url)
        floor_s, floor_bytes = floor(url, args.tracks)
        results["floor_json_s"], results["floor_json_mb"] = floor_s, floor_bytes / 1e6
        rss_before = peak_rss_mb()

        reader = PlexSectionReader(url, TOKEN, page_size=10_000, timeout=120)
        store = SqliteLibraryStore(Path(tmp) / "index.db")
        stages = StageClock()
        cpu_before, worker_cpu_before = cpu_seconds(), cpu_seconds(resource.RUSAGE_CHILDREN)
        first = refresh_index(reader, store, account="admin", progress=stages)
        results["plexm8_build_s"] = first.seconds
        # CPU time of this process (all its threads) during the build: less sensitive than wall time to other load.
        results["plexm8_build_cpu_s"] = cpu_seconds() - cpu_before
        # ... and of the worker process that read the history into a spool (it ends within the build).
        results["plexm8_history_worker_cpu_s"] = cpu_seconds(resource.RUSAGE_CHILDREN) - worker_cpu_before
        results["peak_rss_history_worker_mb"] = peak_rss_mb(resource.RUSAGE_CHILDREN)
        results["plexm8_stage_s"] = stages.durations()
        # The history stage stores the plays (downloaded meanwhile, during the track stage); the rest is the build
        # without storing them.
        results["plexm8_build_without_history_s"] = first.seconds - stages.durations().get("history", 0.0)
        # This process's requests and bytes; the history worker's (a count, then the pages) are not in them.
        results["plexm8_build_requests"] = first.requests
        results["plexm8_build_mb"] = round(reader.bytes_received / 1e6, 1)
        results["plexm8_artist_album_tags"] = len(store.item_tags())
        results["plexm8_counts"] = str(first.counts)
        results["peak_rss_mb"] = peak_rss_mb()
        results["rss_before_build_mb"] = rss_before

        nothing = refresh_index(reader, store, account="admin")
        results["incremental_nothing_s"] = nothing.seconds
        results["incremental_nothing_requests"] = nothing.requests

        tagged = store.item_keys(ItemKind.ARTIST) + store.item_keys(ItemKind.ALBUM)
        results["tag_stage_alone"] = tag_stage(url, tagged)
        results["tag_stage_alone_server_ignoring_exclusions"] = tag_stage(url, tagged, ignored=True)

        keys = store.item_keys(ItemKind.TRACK)
        changed = keys[:: max(1, len(keys) // 1000)][:1000]
        rate_many(url, changed, 7.0)
        thousand = refresh_index(reader, store, account="admin")
        results["incremental_1000_s"] = thousand.seconds
        results["incremental_1000_states_changed"] = thousand.states_changed
        results["incremental_1000_requests"] = thousand.requests

        if not args.skip_plexapi:
            plexapi_s, count = plexapi_plain(url)
            results["plexapi_search_tracks_s"], results["plexapi_tracks"] = plexapi_s, count
            above_plexapi = plexapi_s - floor_s
            above_plexm8 = first.seconds - floor_s
            results["plexm8_above_floor_s"] = above_plexm8
            results["plexapi_above_floor_s"] = above_plexapi
            results["ratio_above_floor"] = above_plexm8 / above_plexapi if above_plexapi > 0 else None

    out = write_results("bench_index", results)
    for key, value in results.items():
        print(f"{key:32} {value}")
    print(f"-> {out}")


if __name__ == "__main__":
    main()
