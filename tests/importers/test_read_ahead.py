"""A source read ahead in a worker process gives exactly what reading it here gives: tracks, report and errors."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

from plexm8.core.sources import SourceReport, SourceTrack
from plexm8.errors import SourceFormatError
from plexm8.importers import open_source
from plexm8.importers.background import BATCH, ReadAhead

from .conftest import library_xml

WriteLibrary = Callable[..., Path]


def _tracks_here(path: Path, kind: str = "itunes") -> tuple[list[SourceTrack], SourceReport]:
    source = open_source(kind, path)
    return list(source.tracks()), source.report


def _awkward_library() -> list[Mapping[str, object]]:
    """Rated, half-starred, computed, loved, unrated, non-music and stream records: every column is exercised."""
    tracks: list[Mapping[str, object]] = []
    for n in range(1, 41):
        fields: dict[str, object] = {
            "Persistent ID": f"{n:016X}",
            "Name": f"Song {n} ☃",
            "Artist": "Björk" if n % 2 else "The Band",
            "Album": f"Album {n // 10}",
            "Disc Number": 1,
            "Track Number": n,
            "Total Time": 180_000 + n,
            "Year": 1990 + n,
            "Play Count": n,
            "Play Date UTC": "2021-03-04T05:06:07Z",
            "Location": f"file://localhost/C:/Music/Album%20{n // 10}/{n:02d}%20Song%20{n}%20%E2%98%83.mp3",
        }
        if n % 3 == 0:
            fields["Rating"] = 10 * (n % 11)
        if n % 7 == 0:
            fields["Rating Computed"] = True
        if n % 5 == 0:
            fields["Loved"] = True
            fields["Album Rating"] = 60
        tracks.append(fields)
    tracks.append({"Name": "A podcast", "Podcast": True, "Location": "file:///p.mp3"})
    tracks.append({"Name": "A stream", "Track Type": "URL", "Location": "http://radio.example/stream"})
    return tracks


def test_the_worker_reads_the_same_tracks_and_report(write_library: WriteLibrary) -> None:
    path = write_library(_awkward_library())
    expected, expected_report = _tracks_here(path)
    source = open_source("itunes", path, read_ahead=True)
    assert isinstance(source, ReadAhead)
    assert list(source.tracks()) == expected
    assert source.report == expected_report
    assert source.report.skipped == {"podcast": 1, "no location": 1}
    assert any(t.rating is not None and t.rating.plex.value == 9 for t in expected)  # a half star came through
    # A second pass reads the file here, as every source does.
    assert list(source.tracks()) == expected
    assert source.report == expected_report


def test_a_foobar2000_export_reads_the_same(tmp_path: Path) -> None:
    path = tmp_path / "stats.txt"
    lines = ["C:\\Music\\a.mp3|4|12|2024-01-01 12:00:00", "C:\\Music\\b.flac|?|3|?", "/home/me/c.ogg|5|1|?"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    expected, report = _tracks_here(path, "foobar2000")
    source = open_source("foobar2000", path, read_ahead=True)
    assert list(source.tracks()) == expected
    assert source.report == report
    assert len(expected) == 3


def test_an_empty_library_reads_the_same(write_library: WriteLibrary) -> None:
    path = write_library([])
    source = open_source("itunes", path, read_ahead=True)
    assert list(source.tracks()) == []
    assert source.report.tracks == 0


def test_the_workers_error_is_the_same_error(tmp_path: Path) -> None:
    xml = library_xml([{"Name": f"Song {n}", "Location": f"file:///m/{n}.mp3"} for n in range(1, 30)])
    path = tmp_path / "Library.xml"
    path.write_text(xml[: len(xml) // 2], encoding="utf-8")
    with pytest.raises(SourceFormatError) as here:
        list(open_source("itunes", path).tracks())
    with pytest.raises(SourceFormatError) as ahead:
        list(open_source("itunes", path, read_ahead=True).tracks())
    assert str(ahead.value) == str(here.value)
    assert "is truncated or not well-formed XML" in str(ahead.value)
    assert (ahead.value.name, ahead.value.problem) == (here.value.name, here.value.problem)


def test_a_missing_file_fails_before_any_worker_starts(tmp_path: Path) -> None:
    with pytest.raises(SourceFormatError, match="no such file"):
        open_source("itunes", tmp_path / "nope.xml", read_ahead=True)


def test_a_killed_worker_means_the_file_is_read_here(write_library: WriteLibrary) -> None:
    path = write_library(_awkward_library())
    expected, report = _tracks_here(path)
    source = open_source("itunes", path, read_ahead=True)
    workers = [p for p in multiprocessing.active_children() if p.name == "plexm8-read-ahead"]
    assert len(workers) == 1
    workers[0].kill()
    workers[0].join(timeout=10)
    assert list(source.tracks()) == expected
    assert source.report == report


def test_closing_stops_the_worker_and_the_tracks_are_still_read(write_library: WriteLibrary) -> None:
    path = write_library(_awkward_library())
    expected, _report = _tracks_here(path)
    source = open_source("itunes", path, read_ahead=True)
    assert isinstance(source, ReadAhead)
    source.close()
    assert not [p for p in multiprocessing.active_children() if p.name == "plexm8-read-ahead"]
    assert list(source.tracks()) == expected


def test_a_library_of_several_batches_arrives_whole_and_in_order(write_library: WriteLibrary) -> None:
    count = 2 * BATCH + 5
    path = write_library(
        [{"Name": f"Song {n}", "Rating": 20 * (n % 6), "Location": f"file:///m/{n}.mp3"} for n in range(count)]
    )
    expected, report = _tracks_here(path)
    source = open_source("itunes", path, read_ahead=True)
    tracks = list(source.tracks())
    assert len(tracks) == count
    assert tracks == expected
    assert source.report == report


def test_a_worker_dying_part_way_leaves_no_track_missing_or_twice(write_library: WriteLibrary) -> None:
    # The caller works on the first batch while the worker reads on; the worker is killed then (well before its
    # fourth batch), and the rest is read here, skipping the tracks the worker already gave.
    count = 4 * BATCH
    path = write_library([{"Name": f"Song {n}", "Location": f"file:///m/{n}.mp3"} for n in range(count)])
    expected, report = _tracks_here(path)
    source = open_source("itunes", path, read_ahead=True)
    tracks = source.tracks()
    first = next(tracks)
    for worker in multiprocessing.active_children():
        if worker.name == "plexm8-read-ahead":
            worker.kill()
            worker.join(timeout=10)
    assert [first, *tracks] == expected
    assert source.report == report
