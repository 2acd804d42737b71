"""The iTunes / Music / MusicBee Library.xml reader on generated libraries: every pitfall, and hostile files."""

from __future__ import annotations

import calendar
import codecs
from collections.abc import Callable
from pathlib import Path

import pytest

from plexm8.core.sources import RatingScale, SourceReport, SourceTrack
from plexm8.errors import SourceFormatError
from plexm8.importers import open_source
from plexm8.importers.itunes import ItunesLibrary

from .conftest import PLIST_HEAD, library_xml, music_track

WriteLibrary = Callable[..., Path]


def read(path: Path, kind: str = "itunes") -> tuple[list[SourceTrack], SourceReport]:
    """The tracks and report of ``path``, after checking that the reference (expat-only) reader gives the same."""
    source = open_source(kind, path)
    tracks = list(source.tracks())
    reference = ItunesLibrary(path, kind=kind, fast=False)
    assert list(reference.tracks()) == tracks
    assert reference.report == source.report
    return tracks, source.report


def test_a_track_yields_every_field(write_library: WriteLibrary) -> None:
    path = write_library(
        [
            music_track(
                1,
                **{
                    "Album Artist": "Various",
                    "Disc Number": 2,
                    "Year": 1999,
                    "Rating": 80,
                    "Play Count": 7,
                    "Play Date UTC": "2013-09-25T23:01:21Z",
                },
            )
        ]
    )
    tracks, report = read(path)
    assert len(tracks) == 1
    track = tracks[0]
    assert track.ordinal == 1
    assert track.source_id == "0000000000000001"
    assert track.location == "C:/Users/me/Music/iTunes/iTunes Media/Music/Artist/Album/01 Song.mp3"
    assert (track.title, track.artist, track.album_artist, track.album) == ("Song 1", "Artist", "Various", "Album")
    assert (track.disc_number, track.track_number, track.duration_ms, track.year) == (2, 1, 200_001, 1999)
    assert track.rating is not None
    assert (track.rating.scale, track.rating.raw, track.rating.plex.value) == (RatingScale.ITUNES, 80.0, 8)
    assert track.play_count == 7
    assert track.last_played == calendar.timegm((2013, 9, 25, 23, 1, 21, 0, 0, 0))
    assert (report.kind, report.tracks, report.rated, report.skipped) == ("itunes", 1, 1, {})


def test_half_stars_and_rounding(write_library: WriteLibrary) -> None:
    ratings = [10, 30, 45, 50, 70, 90, 100, 44, 3]
    path = write_library([music_track(n, Rating=r) for n, r in enumerate(ratings, start=1)])
    tracks, _ = read(path)
    assert [t.rating.plex.value if t.rating else None for t in tracks] == [1, 3, 5, 5, 7, 9, 10, 4, 1]


def test_rating_computed_is_not_the_users_rating(write_library: WriteLibrary) -> None:
    path = write_library(
        [
            music_track(1, Rating=40, **{"Rating Computed": True, "Album Rating": 40}),
            music_track(2, Rating=60, **{"Album Rating": 100, "Album Rating Computed": True}),
        ]
    )
    tracks, report = read(path)
    inherited, own = tracks
    assert inherited.rating is None
    assert inherited.album_rating is not None and inherited.album_rating.plex.value == 4
    assert own.rating is not None and own.rating.plex.value == 6
    assert own.album_rating is None  # computed from the track ratings: not the user's
    assert report.rated == 1


def test_zero_rating_is_unrated(write_library: WriteLibrary) -> None:
    tracks, report = read(write_library([music_track(1, Rating=0)]))
    assert tracks[0].rating is None
    assert report.rated == 0


def test_out_of_range_rating_is_dropped_with_a_warning(write_library: WriteLibrary) -> None:
    path = write_library([music_track(1, Rating=120), music_track(2, Rating=-20), music_track(3, Rating=60)])
    tracks, report = read(path)
    assert [t.rating.plex.value if t.rating else None for t in tracks] == [None, None, 6]
    assert len(report.warnings) == 2
    assert "track 1 (Song 1): Rating ignored: rating 120 is outside 0-100" in report.warnings[0]


def test_loved_favorited_and_disliked_flags(write_library: WriteLibrary) -> None:
    path = write_library(
        [
            music_track(1, Loved=True),
            music_track(2, Favorited=True, Loved=True),
            music_track(3, Favorited=True),
            music_track(4, Disliked=True),
            music_track(5),
        ]
    )
    tracks, _ = read(path)
    assert [(t.loved, t.disliked) for t in tracks] == [
        (True, False),
        (True, False),
        (True, False),
        (False, True),
        (False, False),
    ]


def test_bogus_play_dates_are_dropped(write_library: WriteLibrary) -> None:
    path = write_library(
        [
            music_track(1, **{"Play Date UTC": "2040-02-06T04:28:16Z", "Play Count": 2}),
            music_track(2, **{"Play Date UTC": "1904-01-01T01:00:00Z"}),
            music_track(3, **{"Play Date UTC": "2040-02-05T23:59:59Z"}),
            music_track(4, **{"Play Date UTC": "not a date"}),
        ]
    )
    tracks, _ = read(path)
    assert [t.last_played for t in tracks] == [None, None, calendar.timegm((2040, 2, 5, 23, 59, 59, 0, 0, 0)), None]
    assert tracks[0].play_count == 2


def test_non_music_is_skipped_and_counted_by_reason(write_library: WriteLibrary) -> None:
    movie = "file:///Users/me/Movies/film.m4v"
    path = write_library(
        [
            music_track(1),
            music_track(2, Podcast=True),
            music_track(3, Movie=True, **{"Has Video": True, "Location": movie}),
            music_track(4, **{"TV Show": True, "Has Video": True, "Location": movie}),
            music_track(5, **{"Music Video": True, "Has Video": True}),
            music_track(6, **{"Has Video": True, "Location": movie}),
            music_track(7, **{"Location": "file:///Users/me/Books/book.m4b"}),
            music_track(8, **{"Location": "file:///Users/me/Books/manual.pdf", "Kind": "PDF document"}),
            music_track(9, **{"Track Type": "Remote"}),
            {"Name": "Stream", "Track Type": "URL", "Location": "http://radio.example/stream.mp3"},
            music_track(11, **{"Location": "file:///Users/me/Music/lecture.mp4", "Kind": "MPEG-4 video file"}),
            {"Name": "No location at all", "Kind": "Fichier audio AAC Apple\u00a0Music"},
            music_track(13),
        ]
    )
    tracks, report = read(path)
    assert [t.ordinal for t in tracks] == [1, 13]
    assert report.tracks == 2
    assert report.skipped == {
        "podcast": 1,
        "movie": 1,
        "tv show": 1,
        "music video": 1,
        "video": 2,
        "audiobook": 1,
        "not audio": 1,
        "no location": 3,
    }


def test_locations_are_decoded_for_windows_macos_and_shares(write_library: WriteLibrary) -> None:
    path = write_library(
        [
            music_track(1, Location="file://localhost/C:/Users/me/Music/AC%2FDC%20%26%20Co/caf%C3%A9.mp3"),
            music_track(2, Location="file:///Users/me/Music/Music/Media.localized/Sa%CC%88ngerinnen/a.m4a"),
            music_track(3, Location="file://localhost/Users/me/Music/iTunes/x.mp3"),
            music_track(4, Location="file://nas/music/Album/x.flac"),
            music_track(5, Location="file://localhost/D:%5CMusic%5Cy.mp3"),
            music_track(6, Location="file://localhost//nas/music/z.mp3"),
            music_track(7, Location="file://///nas/music/w.mp3"),
        ]
    )
    tracks, _ = read(path)
    assert [t.location for t in tracks] == [
        "C:/Users/me/Music/AC/DC & Co/café.mp3",
        "/Users/me/Music/Music/Media.localized/Sängerinnen/a.m4a",
        "/Users/me/Music/iTunes/x.mp3",
        "//nas/music/Album/x.flac",
        "D:/Music/y.mp3",
        "//nas/music/z.mp3",
        "//nas/music/w.mp3",
    ]
    assert tracks[1].location == "/Users/me/Music/Music/Media.localized/S\u00e4ngerinnen/a.m4a"  # NFD became NFC


def test_nfd_and_nfc_locations_are_the_same(write_library: WriteLibrary) -> None:
    nfd = "file:///Users/me/Music/Bjo%CC%88rk/Ho%CC%88mogenic/01.mp3"
    nfc = "file:///Users/me/Music/Bj%C3%B6rk/H%C3%B6mogenic/01.mp3"
    tracks, _ = read(write_library([music_track(1, Location=nfd), music_track(2, Location=nfc)]))
    assert tracks[0].location == tracks[1].location == "/Users/me/Music/Björk/Hömogenic/01.mp3"


def test_bom_and_localised_names(tmp_path: Path) -> None:
    tracks_in = [
        music_track(1, Name="Звезда по имени Солнце", Artist="Кино", Kind="Аудиофайл AAC из Apple Music", Rating=100),
        music_track(2, Name="L\u2019été\u00a0indien", Kind="Fichier audio AAC Apple\u00a0Music"),
    ]
    path = tmp_path / "iTunes Music Library.xml"
    path.write_bytes(codecs.BOM_UTF8 + library_xml(tracks_in).encode("utf-8"))
    tracks, report = read(path)
    assert [t.title for t in tracks] == ["Звезда по имени Солнце", "L\u2019été\u00a0indien"]
    assert tracks[0].artist == "Кино"
    assert report.rated == 1


def test_latin1_declared_file_is_read(tmp_path: Path) -> None:
    xml = library_xml([music_track(1, Name="Café")]).replace('encoding="UTF-8"', 'encoding="ISO-8859-1"')
    path = tmp_path / "Library.xml"
    path.write_bytes(xml.encode("latin-1"))
    tracks, _ = read(path)
    assert tracks[0].title == "Café"


def test_musicbee_export_uses_its_scale_and_tolerates_real_integers(tmp_path: Path) -> None:
    xml = library_xml([music_track(1, Rating=70), music_track(2, Rating=50)]).replace(
        "<integer>200002</integer>", "<integer>200.56</integer>"
    )
    path = tmp_path / "iTunes Music Library.xml"
    path.write_text(xml, encoding="utf-8")
    tracks, report = read(path, "musicbee")
    assert report.kind == "musicbee"
    assert [t.rating.scale if t.rating else None for t in tracks] == [RatingScale.MUSICBEE] * 2
    assert [t.rating.plex.value if t.rating else None for t in tracks] == [7, 5]
    assert tracks[1].duration_ms == 200  # <integer>200.56</integer> read as a number, not an error


def test_reading_twice_gives_the_same_tracks_and_a_fresh_report(write_library: WriteLibrary) -> None:
    source = open_source("itunes", write_library([music_track(1, Rating=20), music_track(2, Podcast=True)]))
    first = list(source.tracks())
    assert list(source.tracks()) == first
    assert (source.report.tracks, source.report.skipped) == (1, {"podcast": 1})


def test_streaming_yields_before_the_file_is_read_to_the_end(tmp_path: Path) -> None:
    # 3,000 tracks make a file of several 1 MiB chunks whose end is cut off: the first track comes out of the first
    # chunk, long before the parser reaches the cut, which only the end of the pass reports.
    xml = library_xml([music_track(n, Comments="x" * 400) for n in range(1, 3001)])
    assert len(xml) > 3 << 20
    path = tmp_path / "Library.xml"
    path.write_text(xml[:-200], encoding="utf-8")
    tracks = open_source("itunes", path).tracks()
    assert next(tracks).ordinal == 1
    with pytest.raises(SourceFormatError, match="truncated"):
        list(tracks)


# Hostile and broken files: a clear SourceFormatError naming the file, never a partial success.


def _error(path: Path, kind: str = "itunes") -> str:
    with pytest.raises(SourceFormatError) as caught:
        list(open_source(kind, path).tracks())
    assert caught.value.code == "invalid_source_file"
    assert caught.value.status == 400
    with pytest.raises(SourceFormatError) as reference:
        list(ItunesLibrary(path, kind=kind, fast=False).tracks())
    assert str(reference.value) == str(caught.value)  # the fast reader never changes an error
    return str(caught.value)


def test_billion_laughs_is_refused(tmp_path: Path) -> None:
    entities = '<!ENTITY lol "lol">' + "".join(
        f'<!ENTITY lol{n} "{("&lol" + (str(n - 1) if n > 1 else "") + ";") * 10}">' for n in range(1, 10)
    )
    path = tmp_path / "Library.xml"
    path.write_text(
        f'<?xml version="1.0"?>\n<!DOCTYPE plist [{entities}]>\n<plist><dict><key>Tracks</key><dict>'
        "<key>1</key><dict><key>Name</key><string>&lol9;</string></dict></dict></dict></plist>",
        encoding="utf-8",
    )
    message = _error(path)
    assert message.startswith("Library.xml: contains a DTD internal subset")


def test_external_entity_is_refused(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP SECRET", encoding="utf-8")
    path = tmp_path / "Library.xml"
    path.write_text(
        f'<?xml version="1.0"?>\n<!DOCTYPE plist [<!ENTITY xxe SYSTEM "file://{secret}">]>\n'
        "<plist><dict><key>Tracks</key><dict><key>1</key><dict><key>Name</key><string>&xxe;</string>"
        "</dict></dict></dict></plist>",
        encoding="utf-8",
    )
    assert "refuses to read" in _error(path)


def test_undeclared_entity_is_an_error(tmp_path: Path) -> None:
    xml = library_xml([music_track(1)]).replace("<string>Song 1</string>", "<string>&nope;</string>")
    path = tmp_path / "Library.xml"
    path.write_text(xml, encoding="utf-8")
    assert "uses an undefined entity &nope; at line" in _error(path)


def test_truncated_file_is_an_error_and_nothing_is_returned(tmp_path: Path) -> None:
    xml = library_xml([music_track(n) for n in range(1, 20)])
    path = tmp_path / "Library.xml"
    path.write_text(xml[: len(xml) // 2], encoding="utf-8")
    assert "is truncated or not well-formed XML" in _error(path)


def test_wrong_encoding_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "Library.xml"
    path.write_bytes(library_xml([music_track(1, Name="Café")]).encode("latin-1"))  # declared UTF-8
    message = _error(path)
    assert "invalid character" in message and "encoding" in message


def test_unknown_declared_encoding_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "Library.xml"
    path.write_bytes(library_xml([music_track(1)]).replace("UTF-8", "x-made-up").encode())
    assert "declares an encoding PlexM8 cannot read" in _error(path)


def test_huge_file_is_refused_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "Library.xml"
    with path.open("wb") as handle:  # sparse: claims 2 GiB without using the disk
        handle.truncate(2 << 30)
    with pytest.raises(SourceFormatError, match=r"Library.xml: is 2,048 MiB, larger than the 1,024 MiB"):
        open_source("itunes", path)


def test_size_limit_is_enforced_while_reading(write_library: WriteLibrary) -> None:
    path = write_library([music_track(n) for n in range(1, 50)])
    with pytest.raises(SourceFormatError, match="larger than"):
        open_source("itunes", path, max_bytes=1000)


def test_not_a_library(tmp_path: Path) -> None:
    other = tmp_path / "other.xml"
    other.write_text('<?xml version="1.0"?><rss><channel/></rss>', encoding="utf-8")
    assert "is not an iTunes or Music library" in _error(other)
    no_tracks = tmp_path / "empty.xml"
    no_tracks.write_text(PLIST_HEAD + "</dict></plist>", encoding="utf-8")
    assert "has no Tracks dictionary" in _error(no_tracks)
    empty = tmp_path / "zero.xml"
    empty.write_bytes(b"")
    assert "is empty or not XML" in _error(empty)


def test_deep_nesting_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "deep.xml"
    path.write_text("<plist>" + "<array>" * 100 + "</array>" * 100 + "</plist>", encoding="utf-8")
    assert "nests more than 64 levels" in _error(path)


def test_missing_file_folder_and_unknown_kind(tmp_path: Path) -> None:
    with pytest.raises(SourceFormatError, match=r"nothere\.xml: no such file"):
        open_source("itunes", tmp_path / "nothere.xml")
    with pytest.raises(SourceFormatError, match="is a folder, not an export file"):
        open_source("itunes", tmp_path)
    with pytest.raises(SourceFormatError, match="unknown source kind 'winamp': use one of itunes, musicbee"):
        open_source("winamp", tmp_path / "x")


def test_an_apple_music_library_of_streams_only_says_why_nothing_matched(write_library: WriteLibrary) -> None:
    tracks, report = read(write_library([music_track(n, **{"Track Type": "Remote"}) for n in range(1, 4)]))
    assert tracks == []
    assert report.skipped == {"no location": 3}
    assert "no track has a local file" in report.warnings[0]


def test_a_musicbee_export_with_translated_keys_is_an_error(tmp_path: Path) -> None:
    german = [{"Titel": "Lied", "Ort": "file://localhost/C:/Musik/a.mp3", "Bewertung": 80}]
    path = tmp_path / "iTunes Music Library.xml"
    path.write_text(library_xml(german), encoding="utf-8")
    message = _error(path, "musicbee")
    assert "no track has a Name or Location key" in message and "set to English" in message
