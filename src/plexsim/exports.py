"""Write a plexsim library as a local player's export (iTunes ``Library.xml``), perturbed the way real ones differ.

:func:`build_hard_case_set` takes a generated library and returns the Plex side (the library plexsim serves, with
some tracks duplicated) and the player side (export records, each with the rating key it truly is, or ``None``),
with controlled perturbations (:class:`Perturbations`):

- every path under another root (a Windows ``C:/Users/...`` or macOS ``/Users/...`` iTunes folder), macOS names
  decomposed (NFD) as macOS writes them;
- letter-case changes in folder names (both systems ignore case), files iTunes re-organised into its own layout
  (``Artist/Album/1-01 Title.m4a``: only metadata can find them), one-letter typos among those;
- metadata written another way: "feat." credits moved between title and artist or spelt "ft."/"featuring",
  "Remastered 2011" as "(2011 Remaster)", "- Live" as "(Live)", title case, "&" as "and", a dropped leading "The",
  decomposed accents, durations a few hundred ms off, missing track numbers;
- the same song on an album and a compilation (the generator's own), duplicate tracks in Plex (a second file of the
  same track), the same file twice in the export, tracks the player has and Plex does not (from another generated
  library), and tracks only in Plex (not exported).

:func:`write_itunes_xml` writes the records as an iTunes ``Library.xml`` (plist, percent-encoded ``file://`` URLs)
with a podcast and a movie mixed in; :func:`write_ground_truth` writes the truth as JSON. Deterministic for the same
arguments; imports nothing of plexm8.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import random
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote
from xml.sax.saxutils import escape

from plexsim.generate import generate_library
from plexsim.library import Album, Library, Track

__all__ = [
    "ExportTrack",
    "HardCaseSet",
    "Perturbations",
    "build_hard_case_set",
    "write_ground_truth",
    "write_itunes_xml",
]

#: Where iTunes keeps its media on each platform (the export's path root instead of the Plex section's).
ROOTS = {
    "windows": "C:/Users/Sam/Music/iTunes/iTunes Media/Music",
    "macos": "/Users/sam/Music/iTunes/iTunes Media/Music",
}


@dataclass(frozen=True, slots=True)
class Perturbations:
    """Shares of the exported tracks that get each perturbation (independent draws unless said otherwise)."""

    #: Files iTunes re-organised into its own folder layout: the path says nothing, metadata must find them.
    moved: float = 0.12
    #: One-letter typo in the title of a moved track (share of the moved tracks).
    typo: float = 0.08
    #: A folder name in other letter case.
    path_case: float = 0.1
    #: A "feat." credit moved or re-spelt (share of the tracks that have one).
    feat: float = 0.6
    #: "Remastered 2011" / "(2011 Remaster)" and "- Live" / "(Live)" re-spelt (share of those that have one).
    version_style: float = 0.6
    #: Title in lower or upper case.
    title_case: float = 0.05
    #: "&" written "and" (or back) in artist names, a leading "The" dropped.
    artist_style: float = 0.3
    #: Title and artist with decomposed (NFD) accents.
    nfd_text: float = 0.1
    #: Track number left out.
    no_track_number: float = 0.05
    #: Largest duration difference from Plex's, in ms (uniform).
    duration_jitter_ms: int = 800
    #: Extra Plex tracks duplicating exported ones (another file of the same track), share of the exported tracks.
    plex_duplicates: float = 0.01
    #: Exported tracks listed twice (the same file under two iTunes ids), share of the exported tracks.
    export_duplicates: float = 0.003
    #: Tracks in the export that Plex does not have, as a share of the exported tracks.
    missing: float = 0.03


@dataclass(frozen=True, slots=True)
class ExportTrack:
    """One track record of the export, as the player stores it, and the truth about it."""

    track_id: int
    persistent_id: str
    name: str
    artist: str | None
    album_artist: str | None
    album: str | None
    disc_number: int | None
    track_number: int | None
    total_time: int
    year: int | None
    #: The file path on the player's machine (decoded, NFC on Windows, NFD on macOS as iTunes writes it).
    location: str
    compilation: bool
    rating: int | None
    play_count: int | None
    #: The rating key this record truly is in the Plex library, or ``None`` when Plex does not have it.
    truth: int | None
    #: What was done to the record (``"moved"``, ``"typo"``, ``"feat"``, ``"missing"``, ...).
    perturbations: tuple[str, ...] = ()


@dataclass(slots=True)
class HardCaseSet:
    """The Plex library to serve and the export records with their ground truth."""

    library: Library
    tracks: list[ExportTrack]
    platform: str
    #: For each duplicate track added to the Plex library (by its rating key), the rating key of the track it copies.
    duplicates: dict[int, int] = field(default_factory=dict)

    def truth(self) -> dict[str, int | None]:
        """Ground truth by persistent id: the right rating key, or ``None`` ("none": not in Plex)."""
        return {t.persistent_id: t.truth for t in self.tracks}


_FEAT_IN_TITLE = re.compile(r"\s*[(\[](?:feat\.|ft\.)\s+([^)\]]+)[)\]]")
_REMASTER_DASH = re.compile(r"^(.*) - Remastered (\d{4})$")
_REMASTER_PAREN = re.compile(r"^(.*) \((\d{4}) Remaster\)$")
_LIVE_DASH = re.compile(r"^(.*) - Live$")
_LIVE_PAREN = re.compile(r"^(.*) \(Live\)$")
_ILLEGAL = str.maketrans({c: "_" for c in '<>:"/\\|?*'})


def _restyle_version(text: str) -> str:
    for pattern, out in (
        (_REMASTER_DASH, r"\1 (\2 Remaster)"),
        (_REMASTER_PAREN, r"\1 - Remastered \2"),
        (_LIVE_DASH, r"\1 (Live)"),
        (_LIVE_PAREN, r"\1 - Live"),
    ):
        if pattern.match(text):
            return pattern.sub(out, text)
    return text


def _typo(text: str, rng: random.Random) -> str:
    """Two neighbouring letters of the song's name swapped (never inside a "(Live)"-style descriptor)."""
    name = re.split(r"\s[(\[]|\s-\s", text, maxsplit=1)[0]
    spots = [
        i for i in range(1, len(name) - 2) if name[i].isalpha() and name[i + 1].isalpha() and name[i] != name[i + 1]
    ]
    if len(name) < 8 or not spots:
        return text
    i = rng.choice(spots)
    return text[:i] + text[i + 1] + text[i] + text[i + 2 :]


def _artist_style(name: str, rng: random.Random) -> str:
    if " & " in name:
        return name.replace(" & ", " and ")
    if name.startswith("The ") and rng.random() < 0.7:
        return name[4:]
    return name


def _case_path(relative: str, rng: random.Random) -> str:
    parts = relative.split("/")
    i = rng.randrange(len(parts) - 1) if len(parts) > 1 else 0
    parts[i] = parts[i].lower() if rng.random() < 0.5 else parts[i].upper()
    return "/".join(parts)


def _itunes_layout(artist: str, album: str | None, disc: int, index: int, title: str, ext: str, comp: bool) -> str:
    """A path as iTunes' "Keep Music Media folder organised" names files."""
    folder = "Compilations" if comp else (artist.translate(_ILLEGAL)[:40] or "Unknown Artist")
    album_part = (album or "Unknown Album").translate(_ILLEGAL)[:40]
    return f"{folder}/{album_part}/{disc}-{index:02d} {title.translate(_ILLEGAL)[:40]}.{ext}"


class _Recorder:
    """Turns Plex tracks into perturbed export records (one random stream for the whole set)."""

    def __init__(self, rng: random.Random, p: Perturbations, platform: str) -> None:
        self.rng = rng
        self.p = p
        self.platform = platform
        self.root = ROOTS[platform]
        self._next = 1000

    def persistent_id(self) -> str:
        return f"{self.rng.getrandbits(64):016X}"

    def track_id(self) -> int:
        self._next += 1
        return self._next

    def record(
        self, track: Track, album: Album, album_artist: str, relative: str, truth: int | None, tags: list[str]
    ) -> ExportTrack:
        rng, p = self.rng, self.p
        artist = track.original_title or album_artist
        title, album_title = track.title, album.title
        if (match := _FEAT_IN_TITLE.search(title)) and rng.random() < p.feat:
            featured = match.group(1)
            if rng.random() < 0.5:
                title = _FEAT_IN_TITLE.sub("", title)
                artist = f"{re.split(r' feat. | ft. | featuring | & ', artist)[0]} feat. {featured}"
            else:
                title = _FEAT_IN_TITLE.sub(f" (featuring {featured})", title)
            tags.append("feat")
        restyled = _restyle_version(title)
        if restyled != title and rng.random() < p.version_style:
            title = restyled
            tags.append("version-style")
        restyled = _restyle_version(album_title)
        if restyled != album_title and rng.random() < p.version_style:
            album_title = restyled
            tags.append("album-style")
        if rng.random() < p.title_case:
            title = title.lower() if rng.random() < 0.5 else title.upper()
            tags.append("title-case")
        if rng.random() < p.artist_style:
            styled = _artist_style(artist, rng)
            if styled != artist:
                artist = styled
                tags.append("artist-style")
        if rng.random() < p.nfd_text and not (title.isascii() and artist.isascii()):
            title, artist = unicodedata.normalize("NFD", title), unicodedata.normalize("NFD", artist)
            tags.append("nfd-text")
        if rng.random() < p.moved:
            if rng.random() < p.typo:
                typo = _typo(title, rng)
                if typo != title:
                    title = typo
                    tags.append("typo")
            ext = relative.rsplit(".", 1)[-1]
            relative = _itunes_layout(album_artist, album_title, track.disc, track.index, title, ext, album.compilation)
            tags.append("moved")
        elif rng.random() < p.path_case:
            relative = _case_path(relative, rng)
            tags.append("path-case")
        location = f"{self.root}/{relative}"
        if self.platform == "macos":
            location = unicodedata.normalize("NFD", location)
        number: int | None = track.index
        if rng.random() < p.no_track_number:
            number = None
            tags.append("no-track-number")
        jitter = rng.randint(-p.duration_jitter_ms, p.duration_jitter_ms)
        return ExportTrack(
            track_id=self.track_id(),
            persistent_id=self.persistent_id(),
            name=title,
            artist=artist,
            album_artist=album_artist,
            album=album_title,
            disc_number=track.disc,
            track_number=number,
            total_time=max(1000, track.duration + jitter),
            year=album.year,
            location=location,
            compilation=album.compilation,
            rating=rng.choice((None, None, 20, 40, 60, 80, 100, 50, 70)),
            play_count=rng.randint(0, 40) or None,
            truth=truth,
            perturbations=tuple(tags),
        )


def _relative(path: str, root: str) -> str:
    return path[len(root) :] if path.startswith(root) else path.lstrip("/")


def build_hard_case_set(
    library: Library,
    *,
    exported: int | None = None,
    seed: int = 0,
    platform: str = "windows",
    perturbations: Perturbations | None = None,
) -> HardCaseSet:
    """The hard-case set from ``library`` (not modified): ``exported`` of its tracks (default 90 %) as the player has
    them, perturbed, plus tracks Plex lacks; the Plex side gains duplicates of some exported tracks.
    """
    if platform not in ROOTS:
        raise ValueError(f"platform must be one of {', '.join(ROOTS)}, got {platform!r}")
    p = perturbations or Perturbations()
    rng = random.Random(f"plexsim-export:{seed}:{platform}")
    recorder = _Recorder(rng, p, platform)
    plex = copy.deepcopy(library)
    root = plex.section.locations[0].rstrip("/") + "/"
    albums = {a.id: a for a in plex.albums}
    artists = {a.id: a.title for a in plex.artists}
    count = round(0.9 * len(plex.tracks)) if exported is None else min(exported, len(plex.tracks))
    chosen = sorted(rng.sample(range(len(plex.tracks)), count))
    next_id = 1 + max(
        [x.id for x in plex.artists] + [x.id for x in plex.albums] + [x.id for x in plex.tracks]
        + [pl.id for account in plex.accounts for pl in account.playlists]
    )  # fmt: skip
    out: list[ExportTrack] = []
    duplicates: dict[int, int] = {}
    twins: list[Track] = []
    for i in chosen:
        track = plex.tracks[i]
        album = albums[track.album]
        out.append(recorder.record(track, album, artists[album.artist], _relative(track.file, root), track.id, []))
        if rng.random() < p.plex_duplicates:
            twin = copy.deepcopy(track)
            twin.id = next_id
            next_id += 1
            stem, _dot, ext = track.file.rpartition(".")
            twin.file = f"{stem} (1).{ext}"
            twins.append(twin)
            duplicates[twin.id] = track.id
        if rng.random() < p.export_duplicates:
            last = out[-1]
            out.append(
                dataclasses.replace(
                    last,
                    track_id=recorder.track_id(),
                    persistent_id=recorder.persistent_id(),
                    perturbations=(*last.perturbations, "export-duplicate"),
                )
            )
    plex.tracks.extend(twins)
    out.extend(_missing(plex, round(p.missing * count), seed, recorder))
    rng.shuffle(out)
    return HardCaseSet(library=plex, tracks=out, platform=platform, duplicates=duplicates)


def _missing(plex: Library, wanted: int, seed: int, recorder: _Recorder) -> list[ExportTrack]:
    """Tracks the player has and Plex does not: from another generated library, minus any Plex has by name or file."""
    if wanted == 0:
        return []
    other = generate_library(tracks=max(50, 2 * wanted), seed=seed + 7919, accounts=1, playlists=0, plays=0)
    albums = {a.id: a for a in plex.albums}
    artists = {a.id: a.title for a in plex.artists}
    taken = {(artists[albums[t.album].artist].casefold(), t.title.casefold()) for t in plex.tracks}
    files = {t.file.casefold() for t in plex.tracks}
    o_albums = {a.id: a for a in other.albums}
    o_artists = {a.id: a.title for a in other.artists}
    root = other.section.locations[0].rstrip("/") + "/"
    out: list[ExportTrack] = []
    for track in other.tracks:
        if len(out) == wanted:
            break
        album = o_albums[track.album]
        album_artist = o_artists[album.artist]
        credit = track.original_title or album_artist
        if {(album_artist.casefold(), track.title.casefold()), (credit.casefold(), track.title.casefold())} & taken:
            continue
        if track.file.casefold() in files:
            continue
        out.append(recorder.record(track, album, album_artist, _relative(track.file, root), None, ["missing"]))
    return out


_PLIST_HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
	<key>Major Version</key><integer>1</integer>
	<key>Minor Version</key><integer>1</integer>
	<key>Date</key><date>2025-11-20T18:00:00Z</date>
	<key>Application Version</key><string>12.13.2.3</string>
	<key>Features</key><integer>5</integer>
	<key>Show Content Ratings</key><true/>
	<key>Music Folder</key><string>{music_folder}</string>
	<key>Library Persistent ID</key><string>5C2B2F2E7A8D9E10</string>
	<key>Tracks</key>
	<dict>
"""
_EXTRAS = (
    {"Name": "Episode 12: Tape Loops", "Artist": "The Sound Show", "Album": "The Sound Show", "Kind": "MPEG audio file",
     "Total Time": 2712000, "Podcast": True, "Track Type": "File", "Location_rel": "Podcasts/The Sound Show/12.mp3"},
    {"Name": "Concert Film", "Artist": "Someone", "Kind": "MPEG-4 video file", "Total Time": 5400000, "Movie": True,
     "Has Video": True, "Track Type": "File", "Location_rel": "Movies/Concert Film.m4v"},
)  # fmt: skip


def _url(location: str) -> str:
    """A ``file://`` URL as iTunes writes it: ``file://localhost/C:/...`` on Windows, ``file:///Users/...`` on macOS."""
    encoded = quote(location, safe="/:!$'()*+,;=@~-._")
    return f"file://localhost/{encoded}" if re.match(r"^[A-Za-z]:/", location) else f"file://{encoded}"


def _entry(key: str, value: object) -> str:
    if value is True:
        return f"\t\t\t<key>{key}</key><true/>\n"
    if isinstance(value, int):
        return f"\t\t\t<key>{key}</key><integer>{value}</integer>\n"
    return f"\t\t\t<key>{key}</key><string>{escape(str(value))}</string>\n"


def write_itunes_xml(tracks: Sequence[ExportTrack], path: Path, *, platform: str = "windows") -> None:
    """Write ``tracks`` as an iTunes ``Library.xml`` (with a podcast and a movie, which readers must skip)."""
    root = ROOTS[platform]
    music_folder = _url(root.rsplit("/", 1)[0] + "/")
    with path.open("w", encoding="utf-8", newline="\n") as out:
        out.write(_PLIST_HEAD.format(music_folder=escape(music_folder)))
        for t in tracks:
            fields: dict[str, object | None] = {
                "Track ID": t.track_id,
                "Name": t.name,
                "Artist": t.artist,
                "Album Artist": t.album_artist,
                "Album": t.album,
                "Kind": "MPEG audio file" if t.location.endswith(".mp3") else "AAC audio file",
                "Disc Number": t.disc_number,
                "Track Number": t.track_number,
                "Total Time": t.total_time,
                "Year": t.year,
                "Play Count": t.play_count,
                "Rating": t.rating,
                "Compilation": True if t.compilation else None,
                "Persistent ID": t.persistent_id,
                "Track Type": "File",
                "Location": _url(t.location),
            }
            out.write(f"\t\t<key>{t.track_id}</key>\n\t\t<dict>\n")
            out.writelines(_entry(k, v) for k, v in fields.items() if v is not None)
            out.write("\t\t</dict>\n")
        for n, extra in enumerate(_EXTRAS, start=1):
            track_id = 10**8 + n
            out.write(f"\t\t<key>{track_id}</key>\n\t\t<dict>\n")
            out.write(_entry("Track ID", track_id))
            for k, v in extra.items():
                if k == "Location_rel":
                    out.write(_entry("Location", _url(f"{root.rsplit('/', 1)[0]}/{v}")))
                else:
                    out.write(_entry(k, v))
            out.write("\t\t</dict>\n")
        out.write("\t</dict>\n\t<key>Playlists</key>\n\t<array>\n\t</array>\n</dict>\n</plist>\n")


def write_ground_truth(hard_cases: HardCaseSet, path: Path) -> None:
    """Write the truth as JSON: per persistent id the right rating key (or null) and the perturbations applied."""
    payload = {
        "platform": hard_cases.platform,
        "tracks": {
            t.persistent_id: {"rating_key": t.truth, "perturbations": list(t.perturbations)} for t in hard_cases.tracks
        },
        "plex_duplicates": {str(k): v for k, v in hard_cases.duplicates.items()},
    }
    path.write_text(json.dumps(payload, indent=1, sort_keys=True) + "\n", encoding="utf-8")
