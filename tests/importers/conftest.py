"""Fixtures for the importer tests: generated iTunes libraries and real tagged audio files made with mutagen."""

from __future__ import annotations

import struct
from collections.abc import Callable, Mapping
from pathlib import Path
from xml.sax.saxutils import escape

import pytest

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
SAMPLES = SHARED / "reference" / "ratings" / "samples"

PLIST_HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<!DOCTYPE plist PUBLIC "-//Apple Computer//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">\n'
    '<plist version="1.0">\n<dict>\n'
    "\t<key>Major Version</key><integer>1</integer>\n"
    "\t<key>Application Version</key><string>12.6.0.100</string>\n"
)


def plist_value(value: object) -> str:
    """One plist value element."""
    if value is True:
        return "<true/>"
    if value is False:
        return "<false/>"
    if isinstance(value, int):
        return f"<integer>{value}</integer>"
    if isinstance(value, float):
        return f"<real>{value}</real>"
    text = str(value)
    if text.endswith("Z") and text[:4].isdigit() and "T" in text:
        return f"<date>{text}</date>"
    return f"<string>{escape(text)}</string>"


def library_xml(tracks: list[Mapping[str, object]], *, playlists: bool = True) -> str:
    """A Library.xml holding ``tracks`` (each a ``{key: value}`` dict) and a master playlist naming them all."""
    parts = [PLIST_HEAD, "\t<key>Tracks</key>\n\t<dict>\n"]
    for number, fields in enumerate(tracks, start=1):
        parts.append(f"\t\t<key>{number}</key>\n\t\t<dict>\n\t\t\t<key>Track ID</key><integer>{number}</integer>\n")
        for key, value in fields.items():
            parts.append(f"\t\t\t<key>{escape(key)}</key>{plist_value(value)}\n")
        parts.append("\t\t</dict>\n")
    parts.append("\t</dict>\n")
    if playlists:
        parts.append(
            "\t<key>Playlists</key>\n\t<array>\n\t\t<dict>\n\t\t\t<key>Name</key><string>Bibliothèque</string>\n"
        )
        parts.append("\t\t\t<key>Master</key><true/>\n\t\t\t<key>Playlist Items</key>\n\t\t\t<array>\n")
        for number in range(1, len(tracks) + 1):
            parts.append(f"\t\t\t\t<dict><key>Track ID</key><integer>{number}</integer></dict>\n")
        parts.append("\t\t\t</array>\n\t\t</dict>\n\t</array>\n")
    parts.append("</dict>\n</plist>\n")
    return "".join(parts)


def music_track(number: int, **fields: object) -> dict[str, object]:
    """A plain music file record: Windows location, name, artist, album; ``fields`` override or add keys."""
    record: dict[str, object] = {
        "Name": f"Song {number}",
        "Artist": "Artist",
        "Album": "Album",
        "Kind": "MPEG audio file",
        "Total Time": 200_000 + number,
        "Track Number": number,
        "Persistent ID": f"{number:016X}",
        "Track Type": "File",
        "Location": f"file://localhost/C:/Users/me/Music/iTunes/iTunes%20Media/Music/Artist/Album/{number:02d}%20Song.mp3",
    }
    record.update(fields)
    return record


@pytest.fixture
def write_library(tmp_path: Path) -> Callable[..., Path]:
    """Write a Library.xml of the given tracks into tmp_path and return its path."""

    def write(tracks: list[Mapping[str, object]], name: str = "Library.xml", **options: bool) -> Path:
        path = tmp_path / name
        path.write_text(library_xml(tracks, **options), encoding="utf-8")
        return path

    return write


# One MPEG-1 Layer III frame (128 kbit/s, 44.1 kHz, no padding: 417 bytes) of silence: enough for mutagen to sync.
_MP3_FRAME = b"\xff\xfb\x90\x00" + bytes(413)


def make_mp3(path: Path) -> Path:
    """A tiny valid MP3 file without tags."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(_MP3_FRAME * 20)
    return path


def make_flac(path: Path) -> Path:
    """A tiny valid FLAC file (a STREAMINFO block only, two seconds of 44.1 kHz stereo declared)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    packed = (44100 << 44) | (1 << 41) | (15 << 36) | (44100 * 2)
    info = struct.pack(">HH", 4096, 4096) + bytes(6) + packed.to_bytes(8, "big") + bytes(16)
    path.write_bytes(b"fLaC" + bytes([0x80]) + len(info).to_bytes(3, "big") + info)
    return path


def _atom(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def make_m4a(path: Path) -> Path:
    """A tiny MP4 file mutagen accepts (ftyp and a movie header of three seconds)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    mvhd = bytes(4) + struct.pack(">IIII", 0, 0, 1000, 3000) + bytes(80)
    path.write_bytes(_atom(b"ftyp", b"M4A \x00\x00\x00\x00M4A mp42isom") + _atom(b"moov", _atom(b"mvhd", mvhd)))
    return path


def make_wma(path: Path) -> Path:
    """A tiny ASF (WMA) file mutagen accepts: the header object alone, holding no other object yet."""
    path.parent.mkdir(parents=True, exist_ok=True)
    header_guid = bytes.fromhex("3026B2758E66CF11A6D900AA0062CE6C")
    path.write_bytes(header_guid + struct.pack("<QIBB", 30, 0, 1, 2))
    return path
