"""The fast Library.xml reader gives exactly what the reference (expat-only) reader gives, or hands the file to it.

Equivalence is checked on every sample in ../shared/reference/ratings/samples, on generated libraries full of awkward
text (references, unicode, line ends, very long and empty values, self-closing values, duplicate and unknown keys)
and on each construct the fast reader must refuse (then ``reader`` says ``"expat"`` and the records still match).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Generator
from pathlib import Path

import pytest

from plexm8.core.sources import SourceReport, SourceTrack
from plexm8.errors import SourceFormatError
from plexm8.importers.itunes import ItunesLibrary

from .conftest import SAMPLES, library_xml, music_track

WriteLibrary = Callable[..., Path]


def both(path: Path, kind: str = "itunes") -> tuple[list[SourceTrack], SourceReport, str]:
    """Read ``path`` with both readers, assert the same tracks and report; return them and the reader used."""
    fast = ItunesLibrary(path, kind=kind)
    tracks = list(fast.tracks())
    reference = ItunesLibrary(path, kind=kind, fast=False)
    assert list(reference.tracks()) == tracks
    assert reference.report == fast.report
    assert reference.reader == "expat"
    return tracks, fast.report, fast.reader


@pytest.mark.skipif(not SAMPLES.is_dir(), reason="../shared/reference/ratings/samples is not present")
@pytest.mark.parametrize("kind", ["itunes", "musicbee"])
def test_every_sample_reads_the_same_and_fast(kind: str) -> None:
    files = sorted(SAMPLES.rglob("*.xml"))
    assert files
    for path in files:
        tracks, report, reader = both(path, kind)
        assert reader == "fast", path
        assert report.tracks == len(tracks)


# Text that stresses the grammar: every predefined reference, characters outside the BMP, NFD, CR and CR LF,
# tabs, "]]" (legal while not followed by ">"), a "<" that must be escaped, quotes, and the empty string.
_AWKWARD = [
    "AC/DC & Co",
    "<Intro>",
    'Tom\'s "Best"',
    "caf\u00e9 / cafe\u0301",
    "\U0001f3b8 Guitar \U0001d11e",
    "line one\r\nline two\rthree\nfour",
    "\ttabbed\t",
    "a]]b ]] c",
    "",
    " ",
    "x" * 5000,
    "\u00a0non-breaking\u2019quote\u2028",
    "\u0417\u0432\u0435\u0437\u0434\u0430",
    "a > b",
]


def _escaped(text: str, rng: random.Random) -> str:
    """``text`` as XML character data, each special character escaped one of the ways XML allows."""
    out = []
    for char in text:
        if char == "&":
            out.append(rng.choice(["&amp;", "&#38;", "&#x26;"]))
        elif char == "<":
            out.append(rng.choice(["&lt;", "&#60;", "&#x3C;"]))
        elif char == ">":
            out.append(rng.choice([">", "&gt;"]))
        elif char in "\"'":
            out.append(rng.choice([char, "&quot;" if char == '"' else "&apos;"]))
        elif char == "\r":
            out.append(rng.choice(["\r", "&#13;", "&#xD;"]))
        elif ord(char) > 127 and rng.random() < 0.3:
            out.append(rng.choice([f"&#{ord(char)};", f"&#x{ord(char):X};"]))
        else:
            out.append(char)
    return "".join(out)


def _value(key: str, rng: random.Random) -> str:
    """A random plist value element for ``key``: mostly the type iTunes writes, sometimes another one."""
    roll = rng.random()
    if key in ("Rating", "Album Rating", "Total Time", "Disc Number", "Track Number", "Year", "Play Count"):
        if roll < 0.7:
            return f"<integer>{rng.choice([0, 1, 20, 45, 100, 120, -20, 200_002, 2**40])}</integer>"
        if roll < 0.85:
            return rng.choice(["<integer>200.56</integer>", "<real>60.5</real>", "<integer> 7 </integer>"])
        return rng.choice(["<integer>abc</integer>", "<string>80</string>", "<string/>", "<true/>"])
    if key in ("Podcast", "Has Video"):  # rarely set, so that most records are music
        return "<true/>" if roll < 0.1 else "<false/>"
    if key in ("Loved", "Favorited", "Disliked", "Rating Computed", "Album Rating Computed"):
        return rng.choice(["<true/>", "<true />", "<false/>", "<false/>"])
    if key == "Play Date UTC":
        return rng.choice(
            ["<date>2013-09-25T23:01:21Z</date>", "<date>2040-02-06T04:28:16Z</date>", "<date>garbage</date>"]
        )
    if key == "Location":
        name = rng.choice(["01%20Song", "Bj%C3%B6rk", "Bjo%CC%88rk", "a%26b", "caf\u00e9", "x"])
        extension = rng.choice(["mp3", "m4a", "flac", "m4b", "pdf", "MP3"])
        root = rng.choice(["file://localhost/C:/Music/", "file:///Users/me/Music/", "file://nas/share/", "http://x/"])
        return f"<string>{_escaped(root + name + '.' + extension, rng)}</string>"
    if roll < 0.1:
        return "<string/>"
    if roll < 0.15:
        return f"<integer>{rng.randrange(1000)}</integer>"
    return f"<string>{_escaped(rng.choice(_AWKWARD), rng)}</string>"


_KEYS = [
    "Name", "Artist", "Album Artist", "Album", "Kind", "Persistent ID", "Track Type", "Location", "Rating",
    "Rating Computed", "Album Rating", "Album Rating Computed", "Total Time", "Disc Number", "Track Number", "Year",
    "Play Count", "Play Date UTC", "Loved", "Favorited", "Disliked", "Podcast", "Has Video", "Comments", "Genre",
    "Sort Name", "Unknown & Odd <Key>",
]  # fmt: skip


def _random_library(rng: random.Random, tracks: int) -> str:
    """A Library.xml of ``tracks`` random records (random keys, order, duplicates, whitespace and line ends)."""
    newline = rng.choice(["\n", "\r\n"])
    parts = [library_xml([]).split("\t<key>Tracks</key>")[0].replace("\n", newline), "<key>Tracks</key>\n<dict>"]
    for number in range(1, tracks + 1):
        parts.append(f"{newline}\t<key>{number}</key>{rng.choice(['', ' ', newline])}<dict>")
        keys = rng.sample(_KEYS, rng.randrange(3, len(_KEYS)))
        keys += rng.sample(keys, rng.randrange(0, 3))  # duplicates: the last value wins in both readers
        keys.append("Location")
        for key in keys:
            if key == "Unknown & Odd <Key>":
                continue  # a key with a reference is outside the fast grammar: tested on its own below
            space = rng.choice(["", " ", "\t", newline + "\t\t"])
            parts.append(f"{space}<key>{key}</key>{rng.choice(['', ' ', newline])}{_value(key, rng)}")
        parts.append(f"{rng.choice(['', newline])}</dict>")
    parts.append(f"{newline}</dict>{newline}<key>Playlists</key><array/>{newline}</dict>{newline}</plist>{newline}")
    return "".join(parts)


@pytest.mark.parametrize("seed", range(12))
def test_random_awkward_libraries_read_the_same(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    path = tmp_path / "Library.xml"
    path.write_bytes(_random_library(rng, 60).encode("utf-8"))
    tracks, report, reader = both(path, rng.choice(["itunes", "musicbee"]))
    assert reader == "fast"
    assert report.tracks == len(tracks) and sum(report.skipped.values()) + len(tracks) == 60


def test_awkward_text_is_decoded_like_expat(write_library: WriteLibrary) -> None:
    path = write_library([music_track(1, Name="a\r\nb\rc", Artist="", Album="&<>\"'", Comments="x")])
    raw = path.read_text(encoding="utf-8").replace("<string>&amp;&lt;&gt;", "<string>&#38;&#x3c;&gt;&#x1F3B8;")
    path.write_bytes(raw.replace("\n<", "\r\n<").encode("utf-8"))
    tracks, _, reader = both(path)
    assert reader == "fast"
    assert (tracks[0].title, tracks[0].artist, tracks[0].album) == ("a\nb\nc", "", "&<>\U0001f3b8\"'")


def _library_with(tmp_path: Path, old: str, new: str, tracks: int = 5) -> Path:
    xml = library_xml([music_track(n, Loved=n == 2) for n in range(1, tracks + 1)])
    assert old in xml
    path = tmp_path / "Library.xml"
    path.write_bytes(xml.replace(old, new, 1).encode("utf-8"))
    return path


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("<key>Name</key>", "<!-- a comment --><key>Name</key>"),
        ("<string>Song 2</string>", "<string><![CDATA[Song 2]]></string>"),
        ("<key>Name</key>", "<?pi here?><key>Name</key>"),
        ("<string>Song 2</string>", "<data>U29uZw==</data>"),
        ("<string>Song 2</string>", '<string xml:space="preserve">Song 2</string>'),
        ("<key>Artist</key>", "<key>Art&#105;st</key>"),
        ("<string>Artist</string>", "<array><string>Artist</string></array>"),
        ("<integer>2</integer>", "<integer/>"),
        ("<true/>", "<true></true>"),
        ("\t\t<key>2</key>", "\t\t<key>2</key><string>not a dict</string>\n\t\t<key>2b</key>"),
        ('encoding="UTF-8"', 'encoding="ISO-8859-1"'),
        ("<plist", "<!-- <key>Tracks</key><dict> --><plist"),
    ],
)
def test_what_the_fast_grammar_does_not_cover_goes_to_expat(tmp_path: Path, old: str, new: str) -> None:
    path = _library_with(tmp_path, old, new)
    tracks, _, reader = both(path)
    assert reader == "expat"
    assert len(tracks) == 5


def test_a_file_without_declaration_still_reads_fast(tmp_path: Path) -> None:
    path = _library_with(tmp_path, '<?xml version="1.0" encoding="UTF-8"?>\n', "")
    _, _, reader = both(path)
    assert reader == "fast"


def test_falling_back_late_yields_every_track_once(tmp_path: Path) -> None:
    # The odd construct sits in the last track, several 1 MiB chunks in: the fast reader has yielded thousands of
    # tracks when it hands over, and the reference reader must carry on after them without repeating any.
    records = [music_track(n, Comments="c" * 400) for n in range(1, 3001)]
    xml = library_xml(records).replace("<string>Song 3000</string>", "<string>Song <![CDATA[3000]]></string>")
    path = tmp_path / "Library.xml"
    path.write_bytes(xml.encode("utf-8"))
    assert path.stat().st_size > 3 << 20
    source = ItunesLibrary(path)
    tracks = list(source.tracks())
    assert source.reader == "expat"
    assert [t.ordinal for t in tracks] == list(range(1, 3001))
    assert tracks[-1].title == "Song 3000"
    assert (source.report.tracks, source.report.skipped) == (3000, {})


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("<string>Song 2</string>", "<string>Song &#0;</string>", "reference to invalid character number"),
        ("<string>Song 2</string>", "<string>Song \x01</string>", "invalid character"),
        ("<string>Song 2</string>", "<string>Song ]]> 2</string>", "not well-formed"),
        ("<string>Song 2</string>", "<string>Song \ufffe</string>", "invalid character"),
        ("<string>Song 2</string>", "<string>Song &bogus;</string>", "undefined entity"),
        ("<string>Song 2</string>", "<string>Song 2</integer>", "mismatched tag"),
        ("<key>Playlists</key>", "<key>Playlists</key><oops>", "mismatched tag"),
    ],
)
def test_errors_are_the_reference_readers(tmp_path: Path, old: str, new: str, message: str) -> None:
    path = _library_with(tmp_path, old, new)
    errors = []
    for fast in (True, False):
        with pytest.raises(SourceFormatError) as caught:
            list(ItunesLibrary(path, fast=fast).tracks())
        errors.append(str(caught.value))
    assert errors[0] == errors[1]
    assert message in errors[0]


def test_invalid_utf8_in_a_track_is_the_reference_error(tmp_path: Path) -> None:
    xml = library_xml([music_track(n) for n in range(1, 4)]).encode("utf-8")
    path = tmp_path / "Library.xml"
    path.write_bytes(xml.replace(b"Song 2", b"Song \xff"))
    errors = []
    for fast in (True, False):
        with pytest.raises(SourceFormatError) as caught:
            list(ItunesLibrary(path, fast=fast).tracks())
        errors.append(str(caught.value))
    assert errors[0] == errors[1]
    assert "invalid character" in errors[0]


def test_a_second_tracks_dictionary_is_read_as_expat_reads_it(tmp_path: Path) -> None:
    # Not something iTunes writes, but well-formed: the part after the first Tracks dictionary is expat's anyway.
    first = library_xml([music_track(1)], playlists=False)
    second = "<key>Tracks</key><dict><key>9</key><dict><key>Name</key><string>Again</string>" + (
        "<key>Location</key><string>file:///Music/again.mp3</string></dict></dict>"
    )
    path = tmp_path / "Library.xml"
    path.write_bytes(first.replace("</dict>\n</plist>", second + "</dict>\n</plist>").encode("utf-8"))
    tracks, _, reader = both(path)
    assert reader == "fast"
    assert [t.title for t in tracks] == ["Song 1", "Again"]


def test_reading_stops_cleanly_when_the_consumer_stops(write_library: WriteLibrary) -> None:
    path = write_library([music_track(n) for n in range(1, 10)])
    iterator = ItunesLibrary(path).tracks()
    assert next(iterator).ordinal == 1
    assert isinstance(iterator, Generator)
    iterator.close()  # closes the file too: pytest turns an unclosed-file ResourceWarning into an error
