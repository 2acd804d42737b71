"""foobar2000 exports: Playback Statistics XML (generic attributes, FILETIME) and the title-formatting text export."""

from __future__ import annotations

import calendar
import codecs
import time
from pathlib import Path

import pytest

from plexm8.core.sources import RatingScale
from plexm8.errors import SourceFormatError
from plexm8.importers import open_source
from plexm8.importers.foobar import TEXT_PATTERN, TEXT_PATTERN_FULL, filetime_to_epoch

# 2024-01-01T12:00:00Z as a FILETIME (100 ns ticks since 1601-01-01).
NEW_YEAR = calendar.timegm((2024, 1, 1, 12, 0, 0, 0, 0, 0))
NEW_YEAR_FILETIME = (NEW_YEAR + 11_644_473_600) * 10_000_000

STATISTICS = f"""<?xml version="1.0" encoding="UTF-8"?>
<PlaybackStatistics Version="3.0" Mapping="C653739F-14B3-4EF2-819B-A3E2883230AE">
  <Entry ID="d12c59be0b98de6d" Count="14" FirstPlayed="133684470727504690" LastPlayed="{NEW_YEAR_FILETIME}"
         LastPlayedFriendly="2024-01-01 12:00:00" Added="133684472245531140" Rating="4">
    <Item Subsong="0" Path="file://C:\\Music\\Björk\\Homogenic\\01 Hunter.flac"></Item>
  </Entry>
  <Entry rating="2" count="1" lastplayed="0" id="lower-case-attributes">
    <Item subsong="0" path="/home/me/Music/a.mp3"/>
    <Item subsong="0" path="/home/me/Music/copy of a.mp3"/>
  </Entry>
  <Entry ID="no-items" Count="3" FirstPlayed="133684470727504690" LastPlayed="133684470727504690"/>
  <Entry ID="out-of-range" Count="1" Rating="9"><Item Path="/home/me/Music/b.mp3"/></Entry>
  <Entry ID="empty-path" Count="1"><Item Path=""/></Entry>
</PlaybackStatistics>
"""


def test_filetime() -> None:
    assert filetime_to_epoch(str(NEW_YEAR_FILETIME)) == NEW_YEAR
    assert filetime_to_epoch("0") is None
    assert filetime_to_epoch("garbage") is None
    bogus = (calendar.timegm((2041, 1, 1, 0, 0, 0, 0, 0, 0)) + 11_644_473_600) * 10_000_000
    assert filetime_to_epoch(str(bogus)) is None


def test_playback_statistics_xml(tmp_path: Path) -> None:
    path = tmp_path / "statistics.xml"
    path.write_text(STATISTICS, encoding="utf-8")
    source = open_source("foobar2000", path)
    tracks = list(source.tracks())
    assert [t.location for t in tracks] == [
        "C:/Music/Björk/Homogenic/01 Hunter.flac",
        "/home/me/Music/a.mp3",
        "/home/me/Music/copy of a.mp3",
        "/home/me/Music/b.mp3",
    ]
    first = tracks[0]
    assert first.rating is not None
    assert (first.rating.scale, first.rating.raw, first.rating.plex.value) == (RatingScale.FOOBAR, 4.0, 8)
    assert (first.play_count, first.last_played, first.source_id) == (14, NEW_YEAR, "d12c59be0b98de6d")
    assert [t.rating.plex.value if t.rating else None for t in tracks] == [8, 4, 4, None]
    assert [t.ordinal for t in tracks] == [1, 2, 3, 4]
    assert tracks[1].last_played is None
    report = source.report
    assert (report.kind, report.tracks, report.rated) == ("foobar2000", 4, 3)
    assert report.skipped == {"no location": 2}
    assert report.warnings == ["entry out-of-range: rating ignored: rating 9 is outside foobar2000's 1-5 stars"]


def test_statistics_xml_is_hardened(tmp_path: Path) -> None:
    path = tmp_path / "statistics.xml"
    path.write_text(
        '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">]><PlaybackStatistics/>', encoding="utf-8"
    )
    with pytest.raises(SourceFormatError, match=r"statistics\.xml: contains a DTD internal subset"):
        list(open_source("foobar2000", path).tracks())
    path.write_text(STATISTICS[:-100], encoding="utf-8")
    with pytest.raises(SourceFormatError, match="truncated"):
        list(open_source("foobar2000", path).tracks())
    path.write_text('<?xml version="1.0"?><plist/>', encoding="utf-8")
    with pytest.raises(SourceFormatError, match="is not a foobar2000 Playback Statistics export"):
        list(open_source("foobar2000", path).tracks())


def test_text_export_short_pattern(tmp_path: Path) -> None:
    assert TEXT_PATTERN == "%path%|%rating%|%play_count%|%last_played%"
    path = tmp_path / "ratings.txt"
    path.write_text(
        "C:\\Music\\Artist\\Album\\01 Song.mp3|5|12|2024-01-01 12:00:00\r\n"
        "\r\n"
        "D:\\Music\\x.flac|?|0|N/A\r\n"
        "/music/y.ogg|3|?|?\r\n",
        encoding="utf-8",
    )
    source = open_source("foobar2000", path)
    tracks = list(source.tracks())
    assert [t.location for t in tracks] == ["C:/Music/Artist/Album/01 Song.mp3", "D:/Music/x.flac", "/music/y.ogg"]
    assert [t.rating.plex.value if t.rating else None for t in tracks] == [10, None, 6]
    assert [t.play_count for t in tracks] == [12, 0, None]
    assert tracks[0].last_played == int(time.mktime((2024, 1, 1, 12, 0, 0, 0, 0, -1)))
    assert tracks[1].last_played is None
    assert (source.report.tracks, source.report.rated) == (3, 2)


def test_text_export_full_pattern_with_tabs_and_bom(tmp_path: Path) -> None:
    assert TEXT_PATTERN_FULL.count("|") == 10
    line = "\t".join(
        ["/music/Kino/Gruppa krovi/01.flac", "4", "3", "2023-05-06 07:08:09", "Кино", "Кино", "Группа крови",
         "1", "01/11", "Группа крови", "285"]
    )  # fmt: skip
    path = tmp_path / "ratings.txt"
    path.write_bytes(codecs.BOM_UTF8 + (line + "\n").encode("utf-8"))
    tracks = list(open_source("foobar2000", path).tracks())
    assert len(tracks) == 1
    track = tracks[0]
    assert (track.artist, track.album_artist, track.album, track.title) == (
        "Кино", "Кино", "Группа крови", "Группа крови",
    )  # fmt: skip
    assert (track.disc_number, track.track_number, track.duration_ms) == (1, 1, 285_000)
    assert track.rating is not None and track.rating.plex.value == 8


def test_text_export_utf16(tmp_path: Path) -> None:
    path = tmp_path / "ratings.txt"
    path.write_bytes("C:\\Music\\é.mp3|2|1|N/A\n".encode("utf-16"))
    tracks = list(open_source("foobar2000", path).tracks())
    assert tracks[0].location == "C:/Music/é.mp3"


def test_text_export_bad_lines(tmp_path: Path) -> None:
    path = tmp_path / "ratings.txt"
    path.write_text("/a.mp3|5|1|N/A\n/b|c.mp3|4|1|N/A\n/c.mp3|seven|1|N/A\n/d.mp3|6|1|N/A\n", encoding="utf-8")
    source = open_source("foobar2000", path)
    tracks = list(source.tracks())
    assert [t.location for t in tracks] == ["/a.mp3", "/c.mp3", "/d.mp3"]
    assert [t.rating for t in tracks[1:]] == [None, None]
    assert source.report.skipped == {"malformed line": 1}
    assert source.report.warnings == [
        "line 2: 5 fields, expected 4 (a '|' inside a value? use the tab pattern)",
        "line 3: rating ignored: rating 'seven' is not a number",
        "line 4: rating ignored: rating 6 is outside foobar2000's 1-5 stars",
    ]


def test_text_export_errors(tmp_path: Path) -> None:
    path = tmp_path / "ratings.txt"
    path.write_text("just some text\n", encoding="utf-8")
    with pytest.raises(SourceFormatError, match=r"ratings\.txt: line 1 has 1 fields: a foobar2000 text export has 4"):
        list(open_source("foobar2000", path).tracks())
    path.write_bytes("/a.mp3|5|1|N/A\n/caf\u00e9.mp3|5|1|N/A\n".encode("latin-1"))
    with pytest.raises(
        SourceFormatError, match=r"ratings\.txt: is not UTF-8 text \(line 2\); save the export as UTF-8"
    ):
        list(open_source("foobar2000", path).tracks())


def test_empty_and_endless_text_files(tmp_path: Path) -> None:
    path = tmp_path / "ratings.txt"
    path.write_bytes(codecs.BOM_UTF8 + b"  \n")
    with pytest.raises(SourceFormatError, match=r"ratings\.txt: is empty"):
        open_source("foobar2000", path).tracks().__next__()
    path.write_text("/a.mp3|5|1|N/A\n" + "x" * (3 << 20), encoding="utf-8")  # no line break for 3 MiB
    tracks = open_source("foobar2000", path).tracks()
    assert next(tracks).location == "/a.mp3"
    with pytest.raises(SourceFormatError, match=r"line 2 is longer than 65,536 characters"):
        next(tracks)


def test_huge_statistics_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "statistics.xml"
    with path.open("wb") as handle:
        handle.truncate(2 << 30)
    with pytest.raises(SourceFormatError, match=r"statistics\.xml: is 2,048 MiB, larger than"):
        open_source("foobar2000", path)


def test_the_documented_patterns_are_the_ones_read() -> None:
    docs = (Path(__file__).resolve().parents[2] / "docs" / "sync-sources.md").read_text(encoding="utf-8")
    for pattern in (TEXT_PATTERN, TEXT_PATTERN_FULL):
        assert f"\n{pattern}\n" in docs
        assert f"\n{pattern.replace('|', '$tab()')}\n" in docs
