"""The plexsim library file: a JSON document describing one Plex server's music section and its accounts.

This module is the file format only: plain dataclasses, :func:`load_library` / :func:`dump_library`, and
validation with one-line errors. The serving state (indexes, caches, locks) is built from it in
:mod:`plexsim.state`. The format is documented in ``docs/plexsim-library.md``.

Conventions: every id is a Plex ``ratingKey`` (one number space shared by artists, albums and tracks, as in a
real server's ``metadata_items`` table); timestamps are epoch seconds; durations are milliseconds; ratings are on
Plex's 0-10 scale (10 = five stars).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FORMAT_NAME = "plexsim-library"
FORMAT_VERSION = 1

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "Account",
    "Album",
    "Artist",
    "HistoryEntry",
    "Library",
    "LibraryFormatError",
    "PlayState",
    "Playlist",
    "Rating",
    "Section",
    "ServerInfo",
    "Track",
    "dump_library",
    "library_from_dict",
    "library_to_dict",
    "load_library",
]


class LibraryFormatError(ValueError):
    """The library file is not a valid plexsim library; the message names the offending field."""


@dataclass(slots=True)
class ServerInfo:
    machine_identifier: str = "5f1e6c1c0d8a4e7f9b0a3c2d1e0f4a5b6c7d8e9f"
    friendly_name: str = "plexsim"
    version: str = "1.41.9.9961-46083195d"
    platform: str = "Linux"
    platform_version: str = "6.1"


@dataclass(slots=True)
class Section:
    id: int = 3
    title: str = "Music"
    uuid: str = "2c3f8a0e-3b8e-4d3b-9c55-6f4e2b8a9d10"
    locations: list[str] = field(default_factory=lambda: ["/data/music"])
    created_at: int = 1_600_000_000
    #: Whether the server has run sonic analysis (``musicAnalysisVersion``, ``/nearest``).
    sonic_analysis: bool = True


@dataclass(slots=True)
class Artist:
    id: int
    title: str
    sort_title: str | None = None
    added_at: int = 0
    updated_at: int = 0
    genres: list[str] = field(default_factory=list)
    styles: list[str] = field(default_factory=list)
    moods: list[str] = field(default_factory=list)
    countries: list[str] = field(default_factory=list)
    summary: str = ""
    guid: str | None = None


@dataclass(slots=True)
class Album:
    id: int
    artist: int
    title: str
    year: int | None = None
    originally_available_at: str | None = None  # "YYYY-MM-DD"
    studio: str | None = None
    added_at: int = 0
    updated_at: int = 0
    genres: list[str] = field(default_factory=list)
    styles: list[str] = field(default_factory=list)
    moods: list[str] = field(default_factory=list)
    #: Plex marks compilations with ``subtype``; the album artist is then usually "Various Artists".
    compilation: bool = False
    summary: str = ""
    guid: str | None = None


@dataclass(slots=True)
class Track:
    id: int
    album: int
    title: str
    #: Disc number (Plex's ``parentIndex`` on a track).
    disc: int = 1
    #: Track number on the disc (Plex's ``index``).
    index: int = 1
    duration: int = 0
    #: Track artist when it differs from the album artist (Plex's ``originalTitle``), e.g. on compilations.
    original_title: str | None = None
    file: str = ""
    size: int = 0
    container: str = "flac"
    audio_codec: str = "flac"
    bitrate: int = 1000
    audio_channels: int = 2
    added_at: int = 0
    updated_at: int = 0
    genres: list[str] = field(default_factory=list)
    moods: list[str] = field(default_factory=list)
    #: Last.fm-style popularity that Plex shows as ``ratingCount``.
    rating_count: int | None = None
    #: Sonic analysis vector; ``None`` means the track was not analysed (no ``/nearest`` for it).
    sonic: list[float] | None = None
    guid: str | None = None


@dataclass(slots=True)
class Rating:
    key: int
    rating: float
    rated_at: int


@dataclass(slots=True)
class PlayState:
    #: A track, album, artist or playlist id.
    key: int
    view_count: int
    last_viewed_at: int | None = None
    skip_count: int = 0


@dataclass(slots=True)
class HistoryEntry:
    key: int
    viewed_at: int
    device_id: int = 1


@dataclass(slots=True)
class Playlist:
    id: int
    title: str
    #: Regular playlists list their items; smart ones carry ``query`` instead.
    items: list[int] = field(default_factory=list)
    smart: bool = False
    #: For smart playlists: a section path with a query, e.g. ``/library/sections/3/all?type=10&track.userRating>>=6``
    #: (the part of a ``uri`` after ``com.plexapp.plugins.library``), decoded.
    query: str | None = None
    summary: str = ""
    added_at: int = 0
    updated_at: int = 0


@dataclass(slots=True)
class Account:
    id: int
    name: str
    tokens: list[str] = field(default_factory=list)
    ratings: list[Rating] = field(default_factory=list)
    plays: list[PlayState] = field(default_factory=list)
    history: list[HistoryEntry] = field(default_factory=list)
    playlists: list[Playlist] = field(default_factory=list)
    thumb: str = ""


@dataclass(slots=True)
class Library:
    server: ServerInfo = field(default_factory=ServerInfo)
    section: Section = field(default_factory=Section)
    artists: list[Artist] = field(default_factory=list)
    albums: list[Album] = field(default_factory=list)
    tracks: list[Track] = field(default_factory=list)
    accounts: list[Account] = field(default_factory=list)


# --- reading -----------------------------------------------------------------------------------------------


def _fail(where: str, message: str) -> LibraryFormatError:
    return LibraryFormatError(f"{where}: {message}")


def _obj(value: object, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _fail(where, f"expected an object, got {type(value).__name__}")
    return value


def _list(value: object, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise _fail(where, f"expected a list, got {type(value).__name__}")
    return value


def _int(value: object, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _fail(where, f"expected an integer, got {value!r}")
    return value


def _str(value: object, where: str) -> str:
    if not isinstance(value, str):
        raise _fail(where, f"expected a string, got {value!r}")
    return value


def _build(cls: type[Any], raw: object, where: str, nested: dict[str, tuple[type[Any], bool]] | None = None) -> Any:
    """Build dataclass ``cls`` from ``raw`` checking field names and scalar types against the annotations."""
    data = dict(_obj(raw, where))
    known = set(cls.__dataclass_fields__)
    unknown = sorted(set(data) - known)
    if unknown:
        raise _fail(where, f"unknown field {unknown[0]!r}")
    for name, (sub_cls, is_list) in (nested or {}).items():
        if name in data:
            if is_list:
                data[name] = [
                    _build(sub_cls, item, f"{where}.{name}[{i}]")
                    for i, item in enumerate(_list(data[name], f"{where}.{name}"))
                ]
            else:
                data[name] = _build(sub_cls, data[name], f"{where}.{name}")
    try:
        obj = cls(**data)
    except TypeError as exc:  # a required field is missing
        missing = [n for n, f in cls.__dataclass_fields__.items() if n not in data and _required(f)]
        raise _fail(where, f"missing field {missing[0]!r}" if missing else str(exc)) from None
    _check_types(obj, where)
    return obj


def _required(f: Any) -> bool:
    from dataclasses import MISSING

    return f.default is MISSING and f.default_factory is MISSING


_SCALAR_CHECKS: dict[str, tuple[type, ...]] = {
    "int": (int,),
    "str": (str,),
    "float": (int, float),
    "bool": (bool,),
}


def _check_types(obj: Any, where: str) -> None:
    for name, f in obj.__dataclass_fields__.items():
        value = getattr(obj, name)
        annotation = str(f.type).replace(" ", "")
        optional = annotation.endswith("|None")
        base = annotation.removesuffix("|None")
        if value is None:
            if not optional:
                raise _fail(f"{where}.{name}", "must not be null")
            continue
        if base in _SCALAR_CHECKS:
            ok = isinstance(value, _SCALAR_CHECKS[base])
            if base != "bool" and isinstance(value, bool):
                ok = False
            if not ok:
                raise _fail(f"{where}.{name}", f"expected {base}, got {value!r}")
            if base == "float" and not math.isfinite(float(value)):
                raise _fail(f"{where}.{name}", f"expected a finite number, got {value!r}")
        elif base.startswith("list[") and base.endswith("]"):
            inner = base[5:-1]
            _list(value, f"{where}.{name}")
            if inner in _SCALAR_CHECKS:
                for i, item in enumerate(value):
                    if isinstance(item, bool) or not isinstance(item, _SCALAR_CHECKS[inner]):
                        raise _fail(f"{where}.{name}[{i}]", f"expected {inner}, got {item!r}")


def library_from_dict(raw: object) -> Library:
    """Validate and build a :class:`Library` from parsed JSON."""
    doc = _obj(raw, "library")
    if doc.get("format") != FORMAT_NAME:
        raise _fail("library.format", f"expected {FORMAT_NAME!r}, got {doc.get('format')!r}")
    version = _int(doc.get("version"), "library.version")
    if version != FORMAT_VERSION:
        raise _fail("library.version", f"unsupported version {version} (this plexsim reads {FORMAT_VERSION})")
    unknown = sorted(set(doc) - {"format", "version", "server", "section", "artists", "albums", "tracks", "accounts"})
    if unknown:
        raise _fail("library", f"unknown field {unknown[0]!r}")
    lib = Library(
        server=_build(ServerInfo, doc.get("server", {}), "server"),
        section=_build(Section, doc.get("section", {}), "section"),
        artists=[_build(Artist, a, f"artists[{i}]") for i, a in enumerate(_list(doc.get("artists", []), "artists"))],
        albums=[_build(Album, a, f"albums[{i}]") for i, a in enumerate(_list(doc.get("albums", []), "albums"))],
        tracks=[_build(Track, t, f"tracks[{i}]") for i, t in enumerate(_list(doc.get("tracks", []), "tracks"))],
        accounts=[
            _build(
                Account,
                a,
                f"accounts[{i}]",
                {
                    "ratings": (Rating, True),
                    "plays": (PlayState, True),
                    "history": (HistoryEntry, True),
                    "playlists": (Playlist, True),
                },
            )
            for i, a in enumerate(_list(doc.get("accounts", []), "accounts"))
        ],
    )
    _check_references(lib)
    return lib


def _check_references(lib: Library) -> None:
    seen: dict[int, str] = {}
    groups: tuple[tuple[str, Sequence[Artist | Album | Track]], ...] = (
        ("artists", lib.artists),
        ("albums", lib.albums),
        ("tracks", lib.tracks),
    )
    for kind, items in groups:
        for i, item in enumerate(items):
            if item.id <= 0:
                raise _fail(f"{kind}[{i}].id", f"ids are positive integers, got {item.id}")
            if item.id in seen:
                raise _fail(f"{kind}[{i}].id", f"id {item.id} is already used by {seen[item.id]}")
            seen[item.id] = f"{kind}[{i}]"
    artist_ids = {a.id for a in lib.artists}
    album_ids = {a.id for a in lib.albums}
    for i, album in enumerate(lib.albums):
        if album.artist not in artist_ids:
            raise _fail(f"albums[{i}].artist", f"no artist with id {album.artist}")
    for i, track in enumerate(lib.tracks):
        if track.album not in album_ids:
            raise _fail(f"tracks[{i}].album", f"no album with id {track.album}")
        if track.duration < 0:
            raise _fail(f"tracks[{i}].duration", "must not be negative")
    if not lib.accounts:
        raise _fail("accounts", "at least one account (the admin, id 1) is required")
    account_ids: set[int] = set()
    tokens: set[str] = set()
    playlist_ids: set[int] = set()
    track_ids = {t.id for t in lib.tracks}
    # Playlists are played too (Plex keeps viewCount/lastViewedAt on them), so plays may name a playlist.
    all_playlist_ids = {pl.id for acc in lib.accounts for pl in acc.playlists}
    for i, acc in enumerate(lib.accounts):
        if acc.id in account_ids:
            raise _fail(f"accounts[{i}].id", f"duplicate account id {acc.id}")
        account_ids.add(acc.id)
        for token in acc.tokens:
            if not token or token in tokens:
                raise _fail(f"accounts[{i}].tokens", f"empty or duplicate token for account {acc.id}")
            tokens.add(token)
        for j, r in enumerate(acc.ratings):
            if r.key not in seen:
                raise _fail(f"accounts[{i}].ratings[{j}].key", f"no item with id {r.key}")
            if not 0 <= r.rating <= 10:
                raise _fail(f"accounts[{i}].ratings[{j}].rating", f"must be within 0..10, got {r.rating}")
        for j, p in enumerate(acc.plays):
            if p.key not in seen and p.key not in all_playlist_ids:
                raise _fail(f"accounts[{i}].plays[{j}].key", f"no item or playlist with id {p.key}")
        for j, h in enumerate(acc.history):
            if h.key not in track_ids:
                raise _fail(f"accounts[{i}].history[{j}].key", f"no track with id {h.key}")
        for j, pl in enumerate(acc.playlists):
            where = f"accounts[{i}].playlists[{j}]"
            if pl.id in playlist_ids or pl.id in seen:
                raise _fail(f"{where}.id", f"id {pl.id} is already used")
            playlist_ids.add(pl.id)
            if pl.smart and not pl.query:
                raise _fail(f"{where}.query", "a smart playlist needs a query")
            if not pl.smart:
                for k, key in enumerate(pl.items):
                    if key not in track_ids:
                        raise _fail(f"{where}.items[{k}]", f"no track with id {key}")
    if 1 not in account_ids:
        raise _fail("accounts", "account 1 (the server admin) is required")


def load_library(path: str | Path) -> Library:
    """Read and validate a library file; raises :class:`LibraryFormatError` or ``OSError``."""
    try:
        with open(path, encoding="utf-8") as fh:
            raw = json.load(fh)
    except json.JSONDecodeError as exc:
        raise LibraryFormatError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    except UnicodeDecodeError as exc:
        raise LibraryFormatError(f"{path}: not UTF-8 ({exc.reason})") from None
    return library_from_dict(raw)


# --- writing -----------------------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    """Dataclasses to dicts, dropping ``None`` values and empty lists so files stay small (defaults restore them).

    Hand-rolled instead of ``dataclasses.asdict``, which deep-copies every value and made dumping a library with a
    million history rows take tens of seconds.
    """
    fields = getattr(value, "__dataclass_fields__", None)
    if fields is not None:
        out = {}
        for name in fields:
            item = getattr(value, name)
            if item is None or (isinstance(item, list) and not item):
                continue
            out[name] = _plain(item)
        return out
    if isinstance(value, list):
        if value and isinstance(value[0], str | int | float):
            return list(value)
        return [_plain(v) for v in value]
    return value


def library_to_dict(lib: Library) -> dict[str, Any]:
    body = _plain(lib)
    return {"format": FORMAT_NAME, "version": FORMAT_VERSION, **body}


def dump_library(lib: Library, path: str | Path) -> None:
    """Write ``lib`` atomically (a temporary file renamed over the target)."""
    target = Path(path)
    tmp = target.with_name(target.name + ".tmp")
    # One dumps() call: json.dump() on a file writes chunk by chunk through the pure-Python encoder, many times slower.
    text = json.dumps(library_to_dict(lib), ensure_ascii=False, separators=(",", ":"))
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
    tmp.replace(target)
