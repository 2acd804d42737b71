"""Every sample in ../shared/reference/ratings/samples parses with the counts counted by hand from the files.

Skipped when ../shared is absent: the project's own fixtures (the other test modules) cover the same pitfalls.
"""

from __future__ import annotations

import calendar
import codecs
from pathlib import Path

import pytest

from plexm8.core.sources import RatingScale, SourceReport, SourceTrack
from plexm8.importers import open_source

from .conftest import SAMPLES

pytestmark = pytest.mark.skipif(not SAMPLES.is_dir(), reason="../shared/reference/ratings/samples is not present")

ITUNES = SAMPLES / "itunes"


def read(path: Path, kind: str = "itunes") -> tuple[list[SourceTrack], SourceReport]:
    source = open_source(kind, path)
    return list(source.tracks()), source.report


def test_dwittenberg_windows_itunes_11_ratings() -> None:
    tracks, report = read(ITUNES / "dwittenberg_iTunesCopyMetadata" / "iTunes Music Library.xml")
    # 1779 tracks; 335 carry Rating, of which 87 are "Rating Computed" (inherited from the album): 248 are the
    # user's. 1128 carry Album Rating, 1024 of them computed: 104 album ratings the user set.
    assert (report.tracks, report.rated, report.skipped) == (1779, 248, {})
    assert sum(t.album_rating is not None for t in tracks) == 104
    assert sum(t.play_count is not None for t in tracks) == 1255
    assert sum(t.last_played is not None for t in tracks) == 798
    assert all(t.location and t.location.startswith("C:/Users/Emile/Music/") for t in tracks)
    assert {t.rating.raw for t in tracks if t.rating} <= {20.0, 40.0, 60.0, 80.0, 100.0}
    inherited = [t for t in tracks if t.rating is None and t.album_rating is not None]
    assert len(inherited) >= 87
    first = tracks[0]
    assert (
        first.location
        == "C:/Users/Emile/Music/iTunes/iTunes Media/Music/A Day to Remember/Homesick/01 The Downfall Of Us All.mp3"
    )
    assert first.rating is not None and (first.rating.scale, first.rating.plex.value) == (RatingScale.ITUNES, 6)


def test_liamks_mac_itunes_12_non_music_and_bogus_dates() -> None:
    tracks, report = read(ITUNES / "liamks_libpytunes" / "Test Library.xml")
    # 402 records: 11 movies, 13 TV episodes, 7 podcast streams, 1 music video; the rest are music files.
    assert report.skipped == {"movie": 11, "tv show": 13, "podcast": 7, "music video": 1}
    assert (report.tracks, report.rated) == (370, 0)
    # 38 music files have a Play Date UTC before 2040, one of them 1904-01-01 (a zero): 37 real last plays; the
    # 2040-02-06T04:28:16Z dates (a 32-bit wrap) are dropped.
    assert sum(t.last_played is not None for t in tracks) == 37
    assert max(t.last_played or 0 for t in tracks) < calendar.timegm((2018, 1, 1, 0, 0, 0, 0, 0, 0))
    assert all(t.location and t.location.startswith("/Users/nathan/Music/") for t in tracks)
    nina = tracks[0]
    assert nina.title == "That's All I Ask"
    assert nina.location and nina.location.endswith(
        "Four Women_ The Complete Nina Simone On Philips/3-16 That's All I Ask 1.m4a"
    )


def test_csev_nfd_path_and_mixed_media() -> None:
    tracks, report = read(ITUNES / "csev_py4e" / "Library.xml")
    # 404 records: 83 podcasts, 1 movie, 4 TV shows, 47 videos (37 Has Video + 10 "MPEG-4 video file"), 8 .m4b
    # audiobooks, 20 Apple Music streams without a Location; 241 music files, 102 rated.
    assert report.skipped == {
        "podcast": 83, "movie": 1, "tv show": 4, "video": 47, "audiobook": 8, "no location": 20,
    }  # fmt: skip
    assert (report.tracks, report.rated) == (241, 102)
    dulaman = [t for t in tracks if t.title == "Dulaman"]
    assert len(dulaman) == 1
    # The file stores Du%CC%81lama%CC%81n (NFD); the location is NFC.
    folder = "/Users/csev/Music/iTunes/iTunes Music/Compilations/Natural Wonders Music Sampler 1999"
    assert dulaman[0].location == f"{folder}/03 D\u00falam\u00e1n.mp3"


def test_asciamanna_bom_windows_itunes_10() -> None:
    path = ITUNES / "asciamanna_ImprovedItunesParser" / "sampleiTunesLibrary.xml"
    assert path.read_bytes().startswith(codecs.BOM_UTF8)
    tracks, report = read(path)
    assert (report.tracks, report.rated, report.skipped) == (25, 0, {})
    assert all(t.play_count is not None for t in tracks)
    assert tracks[0].location == (
        "C:/Users/anthony/Music/iTunes/iTunes Music/Bill Evans & Jim Hall/Undercurrent/03 Dream Gypsy.m4a"
    )


def test_illama_apple_music_streams_only_french_ui() -> None:
    tracks, report = read(SAMPLES / "apple_music" / "illama_applemusic-to-spotify" / "Library.xml")
    assert tracks == []
    assert report.skipped == {"no location": 463}
    assert "no track has a local file" in report.warnings[0]


def test_audio_samples() -> None:
    source = open_source("tags", SAMPLES / "audio")
    tracks = {Path(t.location or "").name: t for t in source.tracks()}
    report = source.report
    assert sorted(tracks) == ["bad-POPM-frame.mp3", "mixed-lyrics.flac", "test-invalid-rating.ogg", "test2.m4a"]
    bad = tracks["bad-POPM-frame.mp3"]  # WMP 255 with a garbage play counter
    assert bad.rating is not None and (bad.rating.scale, bad.rating.plex.value) == (RatingScale.POPM_WMP, 10)
    assert bad.play_count is None
    assert tracks["mixed-lyrics.flac"].rating is None  # RATING=Clean: an advisory
    assert tracks["test2.m4a"].rating is None  # rtng: an advisory
    assert tracks["test-invalid-rating.ogg"].rating is None  # rating:users@musicbrainz.org=THERATING
    assert report.skipped == {"unreadable file": 1}  # the truncated id3v1_does_not_overwrite_id3v2.mp3
    assert [w.split(":")[0] for w in report.warnings] == [
        "id3v1_does_not_overwrite_id3v2.mp3",
        "test-invalid-rating.ogg",
    ]
    assert (report.tracks, report.rated) == (4, 1)
