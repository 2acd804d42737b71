"""Rating sources: time and peak memory of reading a large iTunes Library.xml, fast and reference readers, plistlib.

Generates a Library.xml of about ``--megabytes`` MB (cached in bench/.cache), then reads it in fresh child processes
so that each peak RSS is its own: the bare interpreter with the importers imported (the memory floor), a plain
read of the file in 1 MiB chunks (the I/O floor), expat alone with no handlers (the time floor: the C parser reading
every byte), PlexM8's reader as ``open_source`` gives it (the fast reader), the reference reader (expat callbacks
for every element, ``ItunesLibrary(path, fast=False)``) and ``plistlib.load`` (what most peers do: the whole plist
in memory). Each reader runs ``--repeat`` times, interleaved with the baselines, and the fastest run counts, so the
ratios hold on a loaded machine. Then scans a folder of ``--tag-files`` tagged MP3 files without the tag scan cache,
with an empty one and again with it filled. Writes bench/results/sources.json.

    .venv/bin/python bench/bench_sources.py --megabytes 150
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
CACHE_DIR = BENCH_DIR / ".cache"
RESULTS_DIR = BENCH_DIR / "results"

HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<!DOCTYPE plist PUBLIC "-//Apple Computer//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">\n'
    '<plist version="1.0">\n<dict>\n\t<key>Major Version</key><integer>1</integer>\n'
    "\t<key>Application Version</key><string>12.13.0.9</string>\n\t<key>Tracks</key>\n\t<dict>\n"
)

TRACK = """\t\t<key>{id}</key>
\t\t<dict>
\t\t\t<key>Track ID</key><integer>{id}</integer>
\t\t\t<key>Name</key><string>Song number {id} (Remastered {year})</string>
\t\t\t<key>Artist</key><string>Artist {artist}</string>
\t\t\t<key>Album Artist</key><string>Artist {artist}</string>
\t\t\t<key>Composer</key><string>Composer {artist}</string>
\t\t\t<key>Album</key><string>Album {album} of artist {artist}</string>
\t\t\t<key>Genre</key><string>Rock</string>
\t\t\t<key>Kind</key><string>MPEG audio file</string>
\t\t\t<key>Size</key><integer>{size}</integer>
\t\t\t<key>Total Time</key><integer>{ms}</integer>
\t\t\t<key>Disc Number</key><integer>1</integer>
\t\t\t<key>Disc Count</key><integer>1</integer>
\t\t\t<key>Track Number</key><integer>{number}</integer>
\t\t\t<key>Track Count</key><integer>12</integer>
\t\t\t<key>Year</key><integer>{year}</integer>
\t\t\t<key>Date Modified</key><date>2019-03-04T05:06:07Z</date>
\t\t\t<key>Date Added</key><date>2019-03-04T05:06:07Z</date>
\t\t\t<key>Bit Rate</key><integer>320</integer>
\t\t\t<key>Sample Rate</key><integer>44100</integer>
\t\t\t<key>Play Count</key><integer>{plays}</integer>
\t\t\t<key>Play Date</key><integer>3462912081</integer>
\t\t\t<key>Play Date UTC</key><date>2013-09-25T23:01:21Z</date>
{rating}\t\t\t<key>Sort Album</key><string>Album {album} of artist {artist}</string>
\t\t\t<key>Sort Artist</key><string>Artist {artist}</string>
\t\t\t<key>Normalization</key><integer>1234</integer>
\t\t\t<key>Persistent ID</key><string>{pid:016X}</string>
\t\t\t<key>Track Type</key><string>File</string>
\t\t\t<key>Location</key><string>file://localhost/C:/Users/me/Music/iTunes/iTunes%20Media/Music/Artist%20{artist}/Album%20{album}/{number:02d}%20Song%20number%20{id}.mp3</string>
\t\t\t<key>File Folder Count</key><integer>5</integer>
\t\t\t<key>Library Folder Count</key><integer>1</integer>
\t\t</dict>
"""


def generate(path: Path, megabytes: int, seed: int = 1) -> int:
    """Write a Library.xml of at least ``megabytes`` MB; return its track count."""
    rng = random.Random(seed)
    target = megabytes * 1_000_000
    written = 0
    count = 0
    with path.open("w", encoding="utf-8") as out:
        out.write(HEAD)
        while written < target:
            count += 1
            rated = rng.random() < 0.3
            rating = f"\t\t\t<key>Rating</key><integer>{rng.choice((20, 40, 60, 80, 100, 50, 70))}</integer>\n"
            text = TRACK.format(
                id=count,
                artist=count // 120,
                album=count // 12,
                number=count % 12 + 1,
                year=1960 + count % 60,
                size=rng.randrange(2_000_000, 12_000_000),
                ms=rng.randrange(120_000, 420_000),
                plays=rng.randrange(0, 200),
                rating=rating if rated else "",
                pid=rng.getrandbits(64),
            )
            out.write(text)
            written += len(text)
        out.write("\t</dict>\n\t<key>Playlists</key>\n\t<array>\n\t</array>\n</dict>\n</plist>\n")
    return count


CHILD = """
import json, resource, sys, time
from pathlib import Path
mode, path = sys.argv[1], Path(sys.argv[2])
from plexm8.importers import open_source
started = time.perf_counter()
cpu_started = time.process_time()
tracks = rated = 0
reader = ""
if mode in ("stream", "reference"):
    if mode == "stream":
        source = open_source("itunes", path)
    else:
        from plexm8.importers.itunes import ItunesLibrary
        source = ItunesLibrary(path, fast=False)
    for track in source.tracks():
        tracks += 1
        rated += track.rating is not None
    reader = source.reader
elif mode == "read":
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            pass
elif mode == "expat":
    from xml.parsers import expat
    parser = expat.ParserCreate()
    parser.buffer_text = True
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            parser.Parse(chunk, False)
    parser.Parse(b"", True)
elif mode == "plistlib":
    import plistlib
    with path.open("rb") as handle:
        library = plistlib.load(handle)
    for fields in library["Tracks"].values():
        tracks += 1
        rated += "Rating" in fields and not fields.get("Rating Computed")
seconds = time.perf_counter() - started
cpu_seconds = time.process_time() - cpu_started
peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"mode": mode, "seconds": seconds, "cpu_seconds": cpu_seconds, "peak_rss_mib": peak_mib,
                  "tracks": tracks, "rated": rated, "reader": reader}))
"""


def measure(mode: str, path: Path) -> dict[str, float]:
    done = subprocess.run([sys.executable, "-c", CHILD, mode, str(path)], check=True, capture_output=True, text=True)
    result: dict[str, float] = json.loads(done.stdout)
    return result


def measure_all(modes: list[str], path: Path, repeat: int) -> dict[str, dict[str, float]]:
    """Each mode's fastest of ``repeat`` runs (rounds interleave the modes, so load changes hit all alike)."""
    best: dict[str, dict[str, float]] = {}
    for _round in range(repeat):
        for mode in modes:
            result = measure(mode, path)
            if mode not in best or result["seconds"] < best[mode]["seconds"]:
                best[mode] = result
    return best


def tag_folder(files: int) -> Path:
    """A folder of ``files`` small MP3 files with a MusicBee POPM rating and ID3 text tags (cached)."""
    from mutagen.id3 import ID3, POPM, TALB, TIT2, TPE1

    folder = CACHE_DIR / f"tags-{files}"
    if folder.is_dir() and sum(1 for _ in folder.rglob("*.mp3")) == files:
        return folder
    frame = b"\xff\xfb\x90\x00" + bytes(413)  # one silent MPEG-1 Layer III frame
    for number in range(files):
        path = folder / f"Artist {number // 100}" / f"{number:05d} Song.mp3"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(frame * 20)
        tags = ID3()
        tags.add(TIT2(encoding=3, text=[f"Song {number}"]))
        tags.add(TPE1(encoding=3, text=[f"Artist {number // 100}"]))
        tags.add(TALB(encoding=3, text=[f"Album {number // 10}"]))
        tags.add(POPM(email="MusicBee", rating=(13, 64, 118, 196, 255)[number % 5], count=number % 50))
        tags.save(path)
    return folder


def bench_tags(files: int) -> dict[str, float]:
    """Seconds to scan ``files`` tagged files without a cache, with an empty cache, and again with it filled."""
    import tempfile

    from plexm8.importers import open_source
    from plexm8.store.tag_cache import TagCache

    folder = tag_folder(files)
    timings: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as scratch:
        cache = TagCache(Path(scratch) / "tagscan.sqlite")
        try:
            for label, with_cache in (("no cache", False), ("first scan, cache filled", True), ("re-scan", True)):
                started = time.perf_counter()
                source = open_source("tags", folder, tag_cache=cache if with_cache else None)
                rated = sum(1 for track in source.tracks() if track.rating is not None)
                timings[label] = time.perf_counter() - started
                if rated != files:
                    raise RuntimeError(f"{label}: {rated} rated tracks, expected {files}")
        finally:
            cache.close()
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=int, default=150)
    parser.add_argument("--skip-plistlib", action="store_true", help="do not measure plistlib.load")
    parser.add_argument("--repeat", type=int, default=3, help="runs per reader; the fastest counts")
    parser.add_argument("--tag-files", type=int, default=2000, help="tagged files for the scan-cache figure (0: skip)")
    args = parser.parse_args()
    CACHE_DIR.mkdir(exist_ok=True)
    RESULTS_DIR.mkdir(exist_ok=True)
    path = CACHE_DIR / f"Library-{args.megabytes}MB.xml"
    if not path.exists():
        started = time.perf_counter()
        count = generate(path, args.megabytes)
        print(f"generated {path.name}: {count:,} tracks in {time.perf_counter() - started:.1f} s")
    size_mib = path.stat().st_size / (1 << 20)
    modes = ["floor", "read", "expat", "stream", "reference"]
    results = measure_all(modes, path, args.repeat)
    if not args.skip_plistlib:  # once: it is slow and only its memory is in question
        results["plistlib"] = measure("plistlib", path)
    floor = results["floor"]["peak_rss_mib"]
    expat_seconds = results["expat"]["seconds"]
    print(f"file: {size_mib:,.1f} MiB")
    print(
        f"{'reader':<10} {'tracks':>8} {'rated':>7} {'seconds':>8} {'/ expat':>8} {'CPU s':>7} {'/ expat':>8}"
        f" {'peak RSS':>12} {'above floor':>12}  used"
    )
    expat_cpu = results["expat"]["cpu_seconds"]
    for mode, result in results.items():
        above = result["peak_rss_mib"] - floor
        ratio = result["seconds"] / expat_seconds if mode != "floor" else 0.0
        cpu_ratio = result["cpu_seconds"] / expat_cpu if mode != "floor" else 0.0
        print(
            f"{mode:<10} {int(result['tracks']):>8,} {int(result['rated']):>7,} {result['seconds']:>8.2f}"
            f" {ratio:>7.2f}× {result['cpu_seconds']:>7.2f} {cpu_ratio:>7.2f}×"
            f" {result['peak_rss_mib']:>8.1f} MiB {above:>8.1f} MiB  {result.get('reader', '')}"
        )
    if results["stream"]["tracks"] != results["reference"]["tracks"]:
        raise RuntimeError("the fast and reference readers disagree on the track count")
    print(f"fast reader: {results['reference']['seconds'] / results['stream']['seconds']:.2f}× the reference reader")
    summary: dict[str, object] = {"file_mib": size_mib, "results": results}
    if args.tag_files:
        tags = bench_tags(args.tag_files)
        baseline = tags["no cache"]
        print(f"tag scan of {args.tag_files:,} files")
        for label, seconds in tags.items():
            print(f"  {label:<26} {seconds:>7.2f} s  {seconds / baseline:>5.2f}× no cache")
        summary["tags"] = {"files": args.tag_files, "seconds": tags}
    (RESULTS_DIR / "sources.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
