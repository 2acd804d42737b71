"""Decode Plex listing responses (JSON, or XML as the fallback) into index records, reading only what the index needs.

The row types are declared ``gc=False``: they hold only strings, numbers and lists of other such rows, never a cycle,
so the garbage collector need not track the hundreds of thousands a big listing creates.

The JSON path hands the body straight to msgspec with :class:`msgspec.Struct` types that name only the needed
fields; everything else in the document is skipped by the decoder without building Python objects, which is what
makes a 100,000-track listing cheap. ``strict=False`` lets the same types accept Plex's mix of numbers and numeric
strings (``ratingKey`` is a string in Plex's JSON, a number in some versions) and is also what decodes the XML
fallback: the XML is turned into plain dicts of attribute strings and converted with the same types.

XML is parsed with the stdlib expat parser after refusing any document type declaration, so no entity is ever
defined or expanded (the defusedxml policy) and nothing is fetched from the network.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from operator import attrgetter
from typing import Any, TypeVar
from xml.parsers import expat

import msgspec

from plexm8.core.catalog import (
    AlbumRecord,
    ArtistRecord,
    FileRow,
    ItemKind,
    ItemRow,
    ItemRows,
    ItemState,
    PlaylistItem,
    PlaylistRecord,
    PlayRecord,
    PlayRow,
    SectionInfo,
    StateRow,
    TagRow,
    TrackRecord,
)

__all__ = [
    "ListingFormatError",
    "decode_detail_tags",
    "decode_history",
    "decode_history_rows",
    "decode_items",
    "decode_keys",
    "decode_playlist_items",
    "decode_playlists",
    "decode_rated_states",
    "decode_rows",
    "decode_sections",
    "decode_total",
]


class ListingFormatError(ValueError):
    """The body is not a Plex listing of the expected shape; the message says what is wrong (never the body)."""


class _Tag(msgspec.Struct, gc=False):
    tag: str


class _Part(msgspec.Struct, gc=False):
    file: str | None = None


class _Media(msgspec.Struct, rename={"parts": "Part"}, gc=False):
    parts: list[_Part] = []


class _Item(msgspec.Struct, rename="camel", gc=False):
    """The fields of an artist, album or track row that the index keeps (artists and albums leave most unset)."""

    rating_key: int
    title: str = ""
    title_sort: str | None = None
    parent_rating_key: int | None = None
    grandparent_rating_key: int | None = None
    parent_title: str | None = None
    grandparent_title: str | None = None
    original_title: str | None = None
    index: int | None = None
    parent_index: int | None = None
    duration: int | None = None
    year: int | None = None
    parent_year: int | None = None
    studio: str | None = None
    added_at: int | None = None
    updated_at: int | None = None
    user_rating: float | None = None
    last_rated_at: int | None = None
    view_count: int = 0
    last_viewed_at: int | None = None
    skip_count: int = 0
    media: list[_Media] = msgspec.field(default_factory=list, name="Media")
    genre: list[_Tag] = msgspec.field(default_factory=list, name="Genre")
    style: list[_Tag] = msgspec.field(default_factory=list, name="Style")
    mood: list[_Tag] = msgspec.field(default_factory=list, name="Mood")


class _Playlist(msgspec.Struct, rename="camel"):
    rating_key: int
    title: str = ""
    playlist_type: str | None = None
    smart: bool = False
    summary: str = ""
    leaf_count: int = 0
    duration: int | None = None
    added_at: int | None = None
    updated_at: int | None = None


class _PlaylistEntry(msgspec.Struct, rename="camel", gc=False):
    rating_key: int
    playlist_item_id: int | None = msgspec.field(default=None, name="playlistItemID")


class _Play(msgspec.Struct, rename="camel", gc=False):
    history_key: str
    rating_key: int
    viewed_at: int
    account_id: int | None = msgspec.field(default=None, name="accountID")
    device_id: int | None = msgspec.field(default=None, name="deviceID")


class _Section(msgspec.Struct):
    key: int
    type: str = ""
    title: str = ""
    uuid: str = ""


class _Container(msgspec.Struct, rename={"metadata": "Metadata", "total_size": "totalSize"}):
    size: int | None = None
    total_size: int | None = None
    metadata: list[_Item] = []


class _PlaylistContainer(msgspec.Struct, rename={"metadata": "Metadata", "total_size": "totalSize"}):
    size: int | None = None
    total_size: int | None = None
    metadata: list[_Playlist] = []


class _EntryContainer(msgspec.Struct, rename={"metadata": "Metadata", "total_size": "totalSize"}):
    size: int | None = None
    total_size: int | None = None
    metadata: list[_PlaylistEntry] = []


class _PlayContainer(msgspec.Struct, rename={"metadata": "Metadata", "total_size": "totalSize"}):
    size: int | None = None
    total_size: int | None = None
    metadata: list[_Play] = []


class _SectionContainer(msgspec.Struct, rename={"directory": "Directory", "metadata": "Metadata"}):
    directory: list[_Section] = []
    # Plex lists sections under Directory; accept Metadata too, where a server groups them as library items.
    metadata: list[_Section] = []


class _Key(msgspec.Struct, rename="camel", gc=False):
    rating_key: int


class _KeyContainer(msgspec.Struct, rename={"metadata": "Metadata", "total_size": "totalSize"}):
    size: int | None = None
    total_size: int | None = None
    metadata: list[_Key] = []


class _TagItem(msgspec.Struct, rename="camel", gc=False):
    """An artist's or album's detail reduced to its styles and moods (everything else is skipped undecoded)."""

    rating_key: int
    style: list[_Tag] = msgspec.field(default_factory=list, name="Style")
    mood: list[_Tag] = msgspec.field(default_factory=list, name="Mood")


class _TagContainer(msgspec.Struct, rename={"metadata": "Metadata"}):
    metadata: list[_TagItem] = []


class _CountContainer(msgspec.Struct, rename={"total_size": "totalSize"}):
    size: int | None = None
    total_size: int | None = None


C = TypeVar("C", bound=msgspec.Struct)


def _document(container: type[C]) -> type[msgspec.Struct]:
    return msgspec.defstruct(f"{container.__name__}Document", [("MediaContainer", container)])


_DECODERS: dict[type[msgspec.Struct], msgspec.json.Decoder[Any]] = {
    c: msgspec.json.Decoder(_document(c), strict=False)
    for c in (
        _Container,
        _KeyContainer,
        _PlaylistContainer,
        _EntryContainer,
        _PlayContainer,
        _SectionContainer,
        _CountContainer,
        _TagContainer,
    )
}

#: XML child elements that Plex's JSON lists under ``Metadata`` (see ``plexsim.render`` / the OpenAPI schema).
_XML_ITEM_TAGS = frozenset({"Track", "Directory", "Playlist", "Metadata", "Video", "Photo"})


def _decode(body: bytes, container: type[C], *, xml: bool) -> C:
    try:
        if xml:
            return msgspec.convert(_xml_container(body, container is _SectionContainer), container, strict=False)
        document = _DECODERS[container].decode(body)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise ListingFormatError(f"unexpected listing ({exc})") from None
    result: C = document.MediaContainer
    return result


def _xml_container(body: bytes, directories: bool) -> dict[str, Any]:
    root = _parse_xml(body)
    if root.get("$tag") != "MediaContainer":
        raise ListingFormatError(f"unexpected listing (root element {root.get('$tag')!r})")
    key = "Directory" if directories else "Metadata"
    root[key] = [child for tag in _XML_ITEM_TAGS for child in root.pop(tag, ())]
    return root


def _refuse_dtd(name: str, system_id: str | None, public_id: str | None, internal_subset: bool) -> None:
    # Entities can only be declared inside a document type declaration, so refusing it refuses them all.
    raise ListingFormatError("unexpected listing (XML with a document type or entity declaration)")


def _parse_xml(body: bytes) -> dict[str, Any]:
    """Parse XML into nested dicts (attributes, plus children grouped by tag), refusing DTDs and entities."""
    parser = expat.ParserCreate()
    parser.buffer_text = True
    parser.StartDoctypeDeclHandler = _refuse_dtd
    top: dict[str, Any] = {}
    stack: list[dict[str, Any]] = [top]

    def start(tag: str, attrs: dict[str, str]) -> None:
        obj: dict[str, Any] = dict(attrs)
        obj["$tag"] = tag
        stack[-1].setdefault(tag, []).append(obj)
        stack.append(obj)

    def end(_tag: str) -> None:
        stack.pop()

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    try:
        parser.Parse(body, True)
    except expat.ExpatError as exc:
        raise ListingFormatError(f"unreadable XML ({expat.ErrorString(exc.code)})") from None
    roots = [obj for objs in top.values() for obj in objs]
    if len(roots) != 1:
        raise ListingFormatError("unreadable XML (no root element)")
    root: dict[str, Any] = roots[0]
    return root


def _total(size: int | None, total_size: int | None, rows: int) -> int:
    if total_size is not None:
        return total_size
    return size if size is not None else rows


def decode_total(body: bytes, *, xml: bool = False) -> int:
    """The ``totalSize`` of a counting request (``X-Plex-Container-Size=0``)."""
    container = _decode(body, _CountContainer, xml=xml)
    if container.total_size is None and container.size is None:
        raise ListingFormatError("unexpected listing (no totalSize)")
    return _total(container.size, container.total_size, 0)


def _tags(tags: list[_Tag]) -> tuple[str, ...]:
    return tuple(t.tag for t in tags) if tags else ()


def _state(item: _Item) -> ItemState:
    return ItemState(
        rating_key=item.rating_key,
        user_rating=item.user_rating,
        last_rated_at=item.last_rated_at,
        view_count=item.view_count,
        last_viewed_at=item.last_viewed_at,
        skip_count=item.skip_count,
    )


def _track(item: _Item) -> TrackRecord:
    return TrackRecord(
        rating_key=item.rating_key,
        album_key=item.parent_rating_key,
        artist_key=item.grandparent_rating_key,
        title=item.title,
        album_title=item.parent_title,
        artist_title=item.grandparent_title,
        track_artist=item.original_title,
        disc_number=item.parent_index,
        track_number=item.index,
        duration_ms=item.duration,
        year=item.parent_year if item.parent_year is not None else item.year,
        genres=_tags(item.genre),
        styles=_tags(item.style),
        moods=_tags(item.mood),
        file_paths=tuple(part.file for media in item.media for part in media.parts if part.file),
        added_at=item.added_at,
        updated_at=item.updated_at,
    )


def _album(item: _Item) -> AlbumRecord:
    return AlbumRecord(
        rating_key=item.rating_key,
        artist_key=item.parent_rating_key,
        artist_title=item.parent_title,
        title=item.title,
        year=item.year,
        studio=item.studio,
        genres=_tags(item.genre),
        styles=_tags(item.style),
        moods=_tags(item.mood),
        added_at=item.added_at,
        updated_at=item.updated_at,
    )


def _artist(item: _Item) -> ArtistRecord:
    return ArtistRecord(
        rating_key=item.rating_key,
        title=item.title,
        sort_title=item.title_sort,
        genres=_tags(item.genre),
        styles=_tags(item.style),
        moods=_tags(item.mood),
        added_at=item.added_at,
        updated_at=item.updated_at,
    )


_Builder = Callable[[_Item], ArtistRecord | AlbumRecord | TrackRecord]
_BUILDERS: dict[ItemKind, _Builder] = {
    ItemKind.TRACK: _track,
    ItemKind.ALBUM: _album,
    ItemKind.ARTIST: _artist,
}


def decode_items(
    body: bytes, kind: ItemKind, *, xml: bool = False
) -> tuple[int, list[ArtistRecord | AlbumRecord | TrackRecord], list[ItemState]]:
    """One page of an artist, album or track listing: (server total, records, the account's states)."""
    container = _decode(body, _Container, xml=xml)
    build = _BUILDERS[kind]
    items = container.metadata
    records: list[ArtistRecord | AlbumRecord | TrackRecord] = list(map(build, items))
    states = [_state(item) for item in items]
    return _total(container.size, container.total_size, len(items)), records, states


#: A track's columns (see :class:`TrackRecord`), read by one C-level getter; ``parent_year`` stands in for the
#: year, as tracks carry ``parentYear`` and not ``year`` (:func:`_track_rows` falls back to ``year`` when it is absent).
_TRACK_ROW: Callable[[_Item], ItemRow] = attrgetter(
    "rating_key",
    "parent_rating_key",
    "grandparent_rating_key",
    "title",
    "parent_title",
    "grandparent_title",
    "original_title",
    "parent_index",
    "index",
    "duration",
    "parent_year",
    "added_at",
    "updated_at",
)
_YEAR_COLUMN = 10


def _track_rows(items: list[_Item]) -> list[ItemRow]:
    rows = list(map(_TRACK_ROW, items))
    for position, item in enumerate(items):
        if item.parent_year is None and item.year is not None:
            row = rows[position]
            rows[position] = (*row[:_YEAR_COLUMN], item.year, *row[_YEAR_COLUMN + 1 :])
    return rows


_ALBUM_ROW: Callable[[_Item], ItemRow] = attrgetter(
    "rating_key", "parent_rating_key", "parent_title", "title", "year", "studio", "added_at", "updated_at"
)
_ARTIST_ROW: Callable[[_Item], ItemRow] = attrgetter("rating_key", "title", "title_sort", "added_at", "updated_at")


def _album_rows(items: list[_Item]) -> list[ItemRow]:
    return list(map(_ALBUM_ROW, items))


def _artist_rows(items: list[_Item]) -> list[ItemRow]:
    return list(map(_ARTIST_ROW, items))


#: Row builders in the column order of :class:`TrackRecord` / :class:`AlbumRecord` / :class:`ArtistRecord` (tags
#: and files aside).
_ROWS: dict[ItemKind, Callable[[list[_Item]], list[ItemRow]]] = {
    ItemKind.TRACK: _track_rows,
    ItemKind.ALBUM: _album_rows,
    ItemKind.ARTIST: _artist_rows,
}
_STATE_ROW: Callable[[_Item], StateRow] = attrgetter(
    "rating_key", "user_rating", "last_rated_at", "view_count", "last_viewed_at", "skip_count"
)


def _highest(values: Iterable[int | None]) -> int:
    return max(filter(None, values), default=0)


def _tag_rows(items: list[_Item]) -> list[TagRow]:
    rows: list[TagRow] = []
    for i in items:
        if i.genre or i.style or i.mood:
            for kind, tags in (("genre", i.genre), ("style", i.style), ("mood", i.mood)):
                rows.extend((i.rating_key, kind, position, t.tag) for position, t in enumerate(tags))
    return rows


def _file_rows(items: list[_Item]) -> list[FileRow]:
    rows: list[FileRow] = []
    for i in items:
        media = i.media
        if len(media) == 1 and len(media[0].parts) == 1:
            # The common case (one file) without the general loop's generator.
            path = media[0].parts[0].file
            if path:
                rows.append((i.rating_key, 0, path))
        elif media:
            paths = [part.file for m in media for part in m.parts if part.file]
            rows.extend((i.rating_key, position, path) for position, path in enumerate(paths))
    return rows


def decode_rows(body: bytes, kind: ItemKind, *, xml: bool = False) -> ItemRows:
    """One page of an artist, album or track listing as plain rows (see :class:`ItemRows`)."""
    container = _decode(body, _Container, xml=xml)
    items = container.metadata
    return ItemRows(
        kind=kind,
        total=_total(container.size, container.total_size, len(items)),
        items=_ROWS[kind](items),
        tags=_tag_rows(items),
        files=_file_rows(items) if kind is ItemKind.TRACK else [],
        states=[
            _STATE_ROW(i)
            for i in items
            if i.user_rating is not None or i.view_count or i.skip_count or i.last_viewed_at
        ],
        updated_at=_highest(map(attrgetter("updated_at"), items)),
        last_rated_at=_highest(map(attrgetter("last_rated_at"), items)),
        last_viewed_at=_highest(map(attrgetter("last_viewed_at"), items)),
    )


def decode_keys(body: bytes, *, xml: bool = False) -> tuple[int, list[int]]:
    """One page of a listing reduced to its rating keys."""
    container = _decode(body, _KeyContainer, xml=xml)
    keys = [item.rating_key for item in container.metadata]
    return _total(container.size, container.total_size, len(keys)), keys


def decode_detail_tags(body: bytes, *, xml: bool = False) -> list[TagRow]:
    """The styles and moods of the items of a (multi-id) ``/library/metadata/{ids}`` answer, as tag rows."""
    container = _decode(body, _TagContainer, xml=xml)
    rows: list[TagRow] = []
    for item in container.metadata:
        key = item.rating_key
        rows.extend((key, "style", position, t.tag) for position, t in enumerate(item.style))
        rows.extend((key, "mood", position, t.tag) for position, t in enumerate(item.mood))
    return rows


def decode_rated_states(body: bytes, *, xml: bool = False) -> tuple[int, list[ItemState]]:
    """One page of a listing reduced to the account's states."""
    container = _decode(body, _Container, xml=xml)
    items = container.metadata
    return _total(container.size, container.total_size, len(items)), [_state(item) for item in items]


def decode_playlists(body: bytes, *, xml: bool = False) -> tuple[int, list[PlaylistRecord]]:
    """One page of ``/playlists``: audio playlists only, without items."""
    container = _decode(body, _PlaylistContainer, xml=xml)
    playlists = [
        PlaylistRecord(
            rating_key=p.rating_key,
            title=p.title,
            smart=p.smart,
            summary=p.summary,
            leaf_count=p.leaf_count,
            duration_ms=p.duration,
            added_at=p.added_at,
            updated_at=p.updated_at,
        )
        for p in container.metadata
        if p.playlist_type in (None, "audio")
    ]
    return _total(container.size, container.total_size, len(container.metadata)), playlists


def decode_playlist_items(body: bytes, *, xml: bool = False) -> tuple[int, list[PlaylistItem]]:
    """One page of ``/playlists/{id}/items``."""
    container = _decode(body, _EntryContainer, xml=xml)
    entries = [PlaylistItem(e.rating_key, e.playlist_item_id) for e in container.metadata]
    return _total(container.size, container.total_size, len(entries)), entries


_HISTORY_KEY = attrgetter("history_key")
_RATING_KEY = attrgetter("rating_key")
_VIEWED_AT = attrgetter("viewed_at")
_ACCOUNT_ID = attrgetter("account_id")
_DEVICE_ID = attrgetter("device_id")
#: A history key's id: the digits after its last slash, to the end of the key (one key per line, no newline in it).
_HISTORY_ID = re.compile(r"^(?:[^\n]*/)?([0-9]+)$", re.MULTILINE)


def decode_history_rows(body: bytes, *, xml: bool = False) -> tuple[int, list[PlayRow]]:
    """One page of ``/status/sessions/history/all`` as plain rows (the fields of :class:`PlayRecord`, in order)."""
    container = _decode(body, _PlayContainer, xml=xml)
    rows = container.metadata
    # The history id is the number ending each historyKey: one regex pass over all keys, one key per line, instead
    # of a Python loop over 300,000 rows.
    keys = "\n".join(map(_HISTORY_KEY, rows))
    ids = _HISTORY_ID.findall(keys)
    if len(ids) != len(rows) or keys.count("\n") != max(len(rows) - 1, 0):
        bad = next((row.history_key for row in rows if not _HISTORY_ID.fullmatch(row.history_key)), "")
        raise ListingFormatError(f"unexpected history key {bad[:80]!r}")
    plays: list[PlayRow] = list(
        zip(
            map(int, ids),
            map(_RATING_KEY, rows),
            map(_VIEWED_AT, rows),
            map(_ACCOUNT_ID, rows),
            map(_DEVICE_ID, rows),
            strict=True,
        )
    )
    return _total(container.size, container.total_size, len(plays)), plays


def decode_history(body: bytes, *, xml: bool = False) -> tuple[int, list[PlayRecord]]:
    """One page of ``/status/sessions/history/all``."""
    total, rows = decode_history_rows(body, xml=xml)
    return total, [PlayRecord(*row) for row in rows]


def decode_sections(body: bytes, *, xml: bool = False) -> list[SectionInfo]:
    """The music sections listed by ``/library/sections``."""
    container = _decode(body, _SectionContainer, xml=xml)
    sections = container.directory + container.metadata
    return [SectionInfo(s.key, s.uuid, s.title) for s in sections if s.type == "artist"]
