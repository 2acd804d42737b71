"""File tags read with mutagen from real files made here: POPM per writer, FMPS, Vorbis RATING, MP4, the scan cache."""

from __future__ import annotations

import os
import unicodedata
from pathlib import Path

import mutagen
import pytest
from mutagen.asf import ASF, ASFDWordAttribute
from mutagen.flac import FLAC
from mutagen.id3 import ID3, POPM, TALB, TIT2, TPE1, TPE2, TPOS, TRCK, TXXX, ID3NoHeaderError
from mutagen.mp4 import MP4, MP4FreeForm

from plexm8.core.sources import RatingScale, SourceReport, SourceTrack
from plexm8.errors import SourceFormatError
from plexm8.importers import open_source
from plexm8.importers.tags import TAG_READER_VERSION
from plexm8.store.tag_cache import TagCache

from .conftest import make_flac, make_m4a, make_mp3, make_wma


def mp3(path: Path, *frames: object) -> Path:
    make_mp3(path)
    try:
        tags = ID3(path)
    except ID3NoHeaderError:
        tags = ID3()
    for frame in frames:
        tags.add(frame)
    tags.save(path)
    return path


def flac(path: Path, **comments: str | list[str]) -> Path:
    make_flac(path)
    audio = FLAC(path)
    for key, value in comments.items():
        audio[key] = value if isinstance(value, list) else [value]
    audio.save()
    return path


def m4a(path: Path, **atoms: object) -> Path:
    make_m4a(path)
    audio = MP4(path)
    if audio.tags is None:
        audio.add_tags()
    assert audio.tags is not None
    for key, value in atoms.items():
        audio.tags[key] = value
    audio.save()
    return path


def scan(folder: Path, cache: TagCache | None = None) -> tuple[dict[str, SourceTrack], SourceReport]:
    source = open_source("tags", folder, tag_cache=cache)
    tracks = list(source.tracks())
    return {Path(t.location or "").name: t for t in tracks}, source.report


def plex(track: SourceTrack) -> int | None:
    return None if track.rating is None else track.rating.plex.value


def scale(track: SourceTrack) -> RatingScale | None:
    return None if track.rating is None else track.rating.scale


def test_popm_is_read_by_writer(tmp_path: Path) -> None:
    mp3(tmp_path / "wmp.mp3", POPM(email="Windows Media Player 9 Series", rating=196, count=0))
    mp3(tmp_path / "musicbee.mp3", POPM(email="MusicBee", rating=186, count=2))
    mp3(tmp_path / "mediamonkey.mp3", POPM(email="no@email", rating=13, count=0))
    mp3(tmp_path / "picard.mp3", POPM(email="users@musicbrainz.org", rating=153, count=0))
    mp3(tmp_path / "quodlibet.mp3", POPM(email="quodlibet@lists.sacredchao.net", rating=230, count=0))
    mp3(tmp_path / "unrated.mp3", POPM(email="Windows Media Player 9 Series", rating=0, count=4))
    tracks, report = scan(tmp_path)
    assert {name: plex(t) for name, t in tracks.items()} == {
        "wmp.mp3": 8,
        "musicbee.mp3": 7,
        "mediamonkey.mp3": 1,
        "picard.mp3": 6,
        "quodlibet.mp3": 9,
        "unrated.mp3": None,
    }
    assert scale(tracks["musicbee.mp3"]) is RatingScale.POPM_MUSICBEE
    assert scale(tracks["mediamonkey.mp3"]) is RatingScale.POPM_MEDIAMONKEY
    assert tracks["musicbee.mp3"].play_count == 2
    assert (report.tracks, report.rated, report.warnings) == (6, 5, [])


def test_several_popm_frames_musicbee_first_and_disagreement_reported(tmp_path: Path) -> None:
    mp3(
        tmp_path / "both.mp3",
        POPM(email="Windows Media Player 9 Series", rating=64, count=0),
        POPM(email="MusicBee", rating=242, count=0),
    )
    tracks, report = scan(tmp_path)
    assert plex(tracks["both.mp3"]) == 9
    assert len(report.warnings) == 1
    assert "POPM frames disagree" in report.warnings[0]


def test_garbage_popm_counter_is_tolerated(tmp_path: Path) -> None:
    mp3(tmp_path / "bad.mp3", POPM(email="Windows Media Player 9 Series", rating=255, count=2_709_193_061))
    tracks, _ = scan(tmp_path)
    assert plex(tracks["bad.mp3"]) == 10
    assert tracks["bad.mp3"].play_count is None


def test_popm_without_counter(tmp_path: Path) -> None:
    frame = POPM(email="MusicBee", rating=118)  # no count given: the frame is written without a counter
    assert not hasattr(frame, "count")
    mp3(tmp_path / "nocount.mp3", frame)
    tracks, _ = scan(tmp_path)
    assert plex(tracks["nocount.mp3"]) == 5
    assert tracks["nocount.mp3"].play_count is None


def test_txxx_fmps_and_rating(tmp_path: Path) -> None:
    mp3(tmp_path / "fmps.mp3", TXXX(encoding=3, desc="FMPS_Rating", text=["0.8"]))
    mp3(tmp_path / "foobar.mp3", TXXX(encoding=3, desc="RATING", text=["4"]))
    mp3(tmp_path / "advisory.mp3", TXXX(encoding=3, desc="RATING", text=["Explicit"]))
    tracks, report = scan(tmp_path)
    assert (plex(tracks["fmps.mp3"]), plex(tracks["foobar.mp3"]), plex(tracks["advisory.mp3"])) == (8, 8, None)
    assert scale(tracks["fmps.mp3"]) is RatingScale.FMPS
    assert report.warnings == []


def test_id3_metadata(tmp_path: Path) -> None:
    mp3(
        tmp_path / "meta.mp3",
        TIT2(encoding=3, text=["Hunter"]),
        TPE1(encoding=3, text=["Björk"]),
        TPE2(encoding=3, text=["Björk"]),
        TALB(encoding=3, text=["Homogenic"]),
        TPOS(encoding=3, text=["1/1"]),
        TRCK(encoding=3, text=["01/10"]),
    )
    track = scan(tmp_path)[0]["meta.mp3"]
    assert (track.title, track.artist, track.album_artist, track.album) == ("Hunter", "Björk", "Björk", "Homogenic")
    assert (track.disc_number, track.track_number) == (1, 1)
    assert track.duration_ms is not None and 400 < track.duration_ms < 700  # 20 frames of 26 ms
    assert track.location == str(tmp_path / "meta.mp3")


def test_vorbis_rating_conventions(tmp_path: Path) -> None:
    flac(tmp_path / "percent.flac", RATING="80")
    flac(tmp_path / "stars.flac", RATING="4")
    flac(tmp_path / "one_star.flac", RATING="1")
    flac(tmp_path / "fraction.flac", RATING="0.6")
    flac(tmp_path / "picard.flac", **{"rating:users@musicbrainz.org": "1"})
    flac(tmp_path / "fmps.flac", FMPS_RATING="0.9", RATING="20")
    flac(tmp_path / "clean.flac", RATING="Clean")
    flac(tmp_path / "garbage.flac", **{"RATING": "THERATING"})
    tracks, report = scan(tmp_path)
    assert {name: plex(t) for name, t in tracks.items()} == {
        "percent.flac": 8,
        "stars.flac": 8,
        "one_star.flac": 2,
        "fraction.flac": 6,
        "picard.flac": 10,
        "fmps.flac": 9,
        "clean.flac": None,
        "garbage.flac": None,
    }
    assert report.warnings == ["garbage.flac: RATING ignored: RATING 'THERATING' is not a number"]


def test_vorbis_metadata(tmp_path: Path) -> None:
    flac(
        tmp_path / "a.flac",
        TITLE="Static",
        ARTIST="Flavor Foley",
        ALBUMARTIST="Flavor Foley",
        ALBUM="Static",
        DISCNUMBER="2",
        TRACKNUMBER="3/12",
        DATE="2025-01-31",
    )
    track = scan(tmp_path)[0]["a.flac"]
    assert (track.title, track.artist, track.album_artist, track.album) == (
        "Static",
        "Flavor Foley",
        "Flavor Foley",
        "Static",
    )
    assert (track.disc_number, track.track_number, track.year, track.duration_ms) == (2, 3, 2025, 2000)


def test_mp4_advisory_is_not_a_rating_but_rate_is(tmp_path: Path) -> None:
    m4a(tmp_path / "explicit.m4a", rtng=[1], **{"©nam": ["Title"], "trkn": [(4, 9)]})
    m4a(tmp_path / "clean.m4a", rtng=[2], **{"----:com.apple.iTunes:RATING": [MP4FreeForm(b"Clean")]})
    m4a(tmp_path / "rated.m4a", rtng=[0], **{"----:com.apple.iTunes:RATE": [MP4FreeForm(b"90")]})
    tracks, report = scan(tmp_path)
    assert {name: plex(t) for name, t in tracks.items()} == {"explicit.m4a": None, "clean.m4a": None, "rated.m4a": 9}
    assert (tracks["explicit.m4a"].title, tracks["explicit.m4a"].track_number) == ("Title", 4)
    assert tracks["rated.m4a"].duration_ms == 3000
    assert report.warnings == []


def test_wma_shared_user_rating(tmp_path: Path) -> None:
    for name, value in (("four.wma", 75), ("five.wma", 99), ("unrated.wma", 0), ("broken.wma", 250)):
        path = make_wma(tmp_path / name)
        audio = ASF(path)
        audio.tags["WM/SharedUserRating"] = [ASFDWordAttribute(value)]
        audio.tags["Title"] = [name]
        audio.tags["WM/TrackNumber"] = ["3"]
        audio.save()
    tracks, report = scan(tmp_path)
    assert {name: plex(t) for name, t in tracks.items()} == {
        "broken.wma": None,
        "five.wma": 10,
        "four.wma": 8,
        "unrated.wma": None,
    }
    assert scale(tracks["four.wma"]) is RatingScale.WMA
    assert (tracks["four.wma"].title, tracks["four.wma"].track_number) == ("four.wma", 3)
    assert report.warnings == ["broken.wma: WM/SharedUserRating ignored: WM/SharedUserRating 250 is outside 0-99"]


def test_unreadable_and_non_audio_files(tmp_path: Path) -> None:
    mp3(tmp_path / "a.mp3", POPM(email="MusicBee", rating=255, count=0))
    (tmp_path / "broken.mp3").write_bytes(b"ID3\x04\x00\x00\x00\x00\x00\x10" + b"\x00" * 10)
    (tmp_path / "cover.jpg").write_bytes(b"\xff\xd8\xff")
    (tmp_path / "notes.txt").write_text("hello", encoding="utf-8")
    tracks, report = scan(tmp_path)
    assert list(tracks) == ["a.mp3"]
    assert report.skipped == {"unreadable file": 1}
    assert report.warnings[0].startswith("broken.mp3: mutagen cannot read it")


def test_order_nfc_names_and_subfolders(tmp_path: Path) -> None:
    nfd_name = unicodedata.normalize("NFD", "Sängerin.mp3")
    mp3(tmp_path / "b" / nfd_name)
    mp3(tmp_path / "a" / "z.mp3")
    mp3(tmp_path / "a" / "y.mp3")
    source = open_source("tags", tmp_path)
    locations = [t.location for t in source.tracks()]
    root = str(tmp_path)
    assert locations == [f"{root}/a/y.mp3", f"{root}/a/z.mp3", f"{root}/b/Sängerin.mp3"]
    assert locations[2] == unicodedata.normalize("NFC", locations[2] or "")
    assert [t.ordinal for t in source.tracks()] == [1, 2, 3]


def test_a_single_file_and_missing_path(tmp_path: Path) -> None:
    path = mp3(tmp_path / "one.mp3", POPM(email="MusicBee", rating=64, count=0))
    tracks, _ = scan(path)
    assert plex(tracks["one.mp3"]) == 4
    with pytest.raises(SourceFormatError, match=r"gone: no such folder or file"):
        open_source("tags", tmp_path / "gone")


def test_unchanged_files_come_from_the_cache(tmp_path: Path) -> None:
    music = tmp_path / "music"
    song = mp3(music / "song.mp3", POPM(email="MusicBee", rating=196, count=0))
    other = mp3(music / "other.mp3", POPM(email="MusicBee", rating=64, count=0))
    cache = TagCache(tmp_path / "tagscan.sqlite")
    try:
        first, _ = scan(music, cache)
        assert (plex(first["song.mp3"]), plex(first["other.mp3"])) == (8, 4)
        assert cache.count() == 2

        # Same size and mtime, different rating byte: a re-scan must not open the file and reuses the record.
        stat = song.stat()
        tags = ID3(song)
        tags.delall("POPM")
        tags.add(POPM(email="MusicBee", rating=64, count=0))
        tags.save(song)
        os.utime(song, ns=(stat.st_atime_ns, stat.st_mtime_ns))
        assert song.stat().st_size == stat.st_size
        again, report = scan(music, cache)
        assert plex(again["song.mp3"]) == 8
        assert again["song.mp3"] == first["song.mp3"]
        assert report.rated == 2

        # A new mtime makes it read again.
        os.utime(song, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
        third, _ = scan(music, cache)
        assert plex(third["song.mp3"]) == 4

        # A deleted file leaves the cache at the end of the next full scan.
        other.unlink()
        fourth, _ = scan(music, cache)
        assert list(fourth) == ["song.mp3"]
        assert cache.count() == 1
    finally:
        cache.close()


def test_cache_ignores_entries_of_another_reader_version(tmp_path: Path) -> None:
    song = mp3(tmp_path / "music" / "song.mp3", POPM(email="MusicBee", rating=196, count=0))
    cache = TagCache(tmp_path / "tagscan.sqlite")
    try:
        scan(tmp_path / "music", cache)
        info = song.stat()
        key = str(song)
        assert cache.lookup(key, info.st_mtime_ns, info.st_size, TAG_READER_VERSION) is not None
        assert cache.lookup(key, info.st_mtime_ns, info.st_size, TAG_READER_VERSION + 1) is None
        assert cache.lookup(key, info.st_mtime_ns, info.st_size + 1, TAG_READER_VERSION) is None
    finally:
        cache.close()


def test_mutagen_is_the_reader(tmp_path: Path) -> None:
    # The fixtures are real files: mutagen itself recognises each of them.
    files = [make_mp3(tmp_path / "a.mp3"), make_flac(tmp_path / "b.flac"), make_m4a(tmp_path / "c.m4a")]
    files.append(make_wma(tmp_path / "d.wma"))
    assert [type(mutagen.File(f)).__name__ for f in files] == ["MP3", "FLAC", "MP4", "ASF"]


def test_a_folder_reached_through_a_symlink_keeps_its_path(tmp_path: Path) -> None:
    mp3(tmp_path / "real" / "a.mp3", POPM(email="MusicBee", rating=255, count=0))
    (tmp_path / "link").symlink_to(tmp_path / "real")
    tracks = list(open_source("tags", tmp_path / "link").tracks())
    assert [t.location for t in tracks] == [f"{tmp_path}/link/a.mp3"]
