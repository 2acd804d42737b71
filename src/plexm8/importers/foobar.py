"""foobar2000 exports: the Playback Statistics XML export, and a text export made with a title-formatting pattern.

The XML (Playback Statistics ▸ Export Statistics to XML) has one ``<Entry>`` per statistics record, with
attributes read by name whatever their order or case (``Count``, ``LastPlayed``, ``Rating`` ...; timestamps are
Windows FILETIME), and one ``<Item Path=... Subsong=...>`` per file the record applies to. An entry without an
item (the 2016-era export) names no file and is skipped as "no location".

The text export is one line per track, fields separated by ``|`` or by a tab; the patterns users paste are in
:data:`TEXT_PATTERN` and :data:`TEXT_PATTERN_FULL` (documented in ``docs/sync-sources.md``).
"""

from __future__ import annotations

import codecs
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Final

from plexm8.core import rating_scales
from plexm8.core.sources import SourceRating, SourceReport, SourceTrack
from plexm8.errors import SourceFormatError
from plexm8.importers.files import MAX_SOURCE_BYTES, check_file, read_chunks
from plexm8.importers.locations import location_from_path
from plexm8.importers.records import add_warning, plausible_time
from plexm8.importers.safe_xml import feed, hardened_parser

__all__ = ["TEXT_PATTERN", "TEXT_PATTERN_FULL", "FoobarExport", "filetime_to_epoch"]

#: The short text pattern: path, rating, play count, last played.
TEXT_PATTERN: Final = "%path%|%rating%|%play_count%|%last_played%"

#: The full text pattern: the short one, then the tags that let tracks match by metadata where paths differ.
TEXT_PATTERN_FULL: Final = (
    "%path%|%rating%|%play_count%|%last_played%|%album artist%|%artist%|%album%|%discnumber%|%tracknumber%"
    "|%title%|%length_seconds%"
)

_SHORT_FIELDS: Final = 4
_FULL_FIELDS: Final = 11

# 100 ns intervals between 1601-01-01 (FILETIME's epoch) and 1970-01-01.
_FILETIME_TICKS: Final = 10_000_000
_FILETIME_EPOCH_OFFSET: Final = 11_644_473_600

# No title-formatting line comes near this; a file without line breaks is not a text export.
_MAX_LINE: Final = 1 << 16

_UNSET: Final = frozenset({"", "?", "n/a", "never"})


def filetime_to_epoch(value: str) -> int | None:
    """Epoch seconds of a FILETIME (100 ns ticks since 1601) attribute; ``None`` for 0, garbage or bogus dates."""
    try:
        ticks = int(value.strip())
    except ValueError:
        return None
    if ticks <= 0:
        return None
    return plausible_time(ticks / _FILETIME_TICKS - _FILETIME_EPOCH_OFFSET)


def _count(text: str | None) -> int | None:
    if text is None or text.strip().casefold() in _UNSET:
        return None
    try:
        value = int(text.strip())
    except ValueError:
        return None
    return value if value >= 0 else None


def _leading_number(text: str | None) -> int | None:
    """``3`` from ``"03"`` or ``"3/12"``; ``None`` when there is no number."""
    if text is None:
        return None
    head = text.strip().split("/", 1)[0]
    return int(head) if head.isdigit() else None


def _seconds(text: str) -> int | None:
    """Milliseconds of a ``%length_seconds%`` (``274``) or ``%length%`` (``4:34``, ``1:02:03``) value."""
    parts = text.strip().split(":")
    if not all(part.isdigit() for part in parts) or len(parts) > 3:  # h:m:s at most
        return None
    seconds = 0
    for part in parts:
        seconds = seconds * 60 + int(part)
    return seconds * 1000


def _local_time(text: str) -> int | None:
    """Epoch seconds of a ``%last_played%`` value (``2024-01-01 12:00:00``, this computer's local time)."""
    stripped = text.strip()
    if stripped.casefold() in _UNSET:
        return None
    try:
        parsed = time.strptime(stripped, "%Y-%m-%d %H:%M:%S")
    except ValueError:
        return None
    return plausible_time(time.mktime(parsed))


class _Entries:
    """The expat handlers: each ``<Item>`` of an ``<Entry>`` as ``(entry attributes, path)`` into ``done``."""

    def __init__(self, name: str, report: SourceReport) -> None:
        self.name = name
        self.report = report
        self.depth = 0
        self.entry: dict[str, str] | None = None
        self.items = 0
        self.done: list[tuple[dict[str, str], str]] = []

    def start(self, tag: str, attrs: dict[str, str]) -> None:
        depth = self.depth
        self.depth += 1
        if depth == 0 and tag != "PlaybackStatistics":
            raise SourceFormatError(
                self.name, f"is not a foobar2000 Playback Statistics export (the XML starts with <{tag}>)"
            )
        if depth == 1 and tag == "Entry":
            # Attribute names are compared without case: the export's names are not documented anywhere.
            self.entry = {key.casefold(): value for key, value in attrs.items()}
            self.items = 0
        elif depth == 2 and tag == "Item" and self.entry is not None:  # Entry > Item
            self.items += 1
            path = next((value for key, value in attrs.items() if key.casefold() == "path"), "")
            if path.strip():
                self.done.append((self.entry, path.strip()))
            else:
                self.report.skip("no location")

    def end(self, tag: str) -> None:
        self.depth -= 1
        if self.depth == 1 and tag == "Entry":
            if not self.items:
                self.report.skip("no location")
            self.entry = None


class FoobarExport:
    """A foobar2000 Playback Statistics XML export or title-formatting text export, as a :class:`RatingSource`.

    The format is told from the content (XML starts with ``<``). Ratings are foobar2000's 1-5 stars; a rating
    outside 1-5 is dropped with a warning and the track still read. A text line with the wrong number of fields
    is skipped ("malformed line") with a warning.
    """

    def __init__(self, path: Path, *, max_bytes: int = MAX_SOURCE_BYTES) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self._report = SourceReport(kind="foobar2000")
        check_file(path, max_bytes)

    @property
    def report(self) -> SourceReport:
        """What the last (or current) ``tracks()`` pass read and skipped."""
        return self._report

    def tracks(self) -> Iterator[SourceTrack]:
        """Every track of the export in file order; raises SourceFormatError on a bad or hostile file."""
        self._report = SourceReport(kind="foobar2000")
        chunks = read_chunks(self.path, self.max_bytes)
        first = next(chunks, b"")
        head = first.lstrip(codecs.BOM_UTF8).lstrip()
        if not head:
            raise SourceFormatError(self.path.name, "is empty")
        if head.startswith(b"<"):
            yield from self._xml(first, chunks)
        else:
            yield from self._text(first, chunks)

    def _rating(self, raw: str | None, where: str) -> SourceRating | None:
        if raw is None or raw.strip().casefold() in _UNSET:
            return None
        try:
            return rating_scales.foobar(float(raw.strip()))
        except ValueError as exc:
            message = str(exc) if "outside" in str(exc) else f"rating {raw.strip()!r} is not a number"
            add_warning(self._report, f"{where}: rating ignored: {message}")
            return None

    def _counted(self, track: SourceTrack) -> SourceTrack:
        self._report.tracks += 1
        if track.rating is not None:
            self._report.rated += 1
        return track

    def _xml(self, first: bytes, rest: Iterator[bytes]) -> Iterator[SourceTrack]:
        name = self.path.name
        entries = _Entries(name, self._report)
        parser = hardened_parser(name)
        parser.StartElementHandler = entries.start
        parser.EndElementHandler = entries.end
        ordinal = 0
        for chunk in (first, *rest, None):
            feed(parser, name, chunk or b"", chunk is None)
            for entry, path in entries.done:
                ordinal += 1
                yield self._entry_track(entry, path, ordinal)
            entries.done.clear()

    def _entry_track(self, entry: dict[str, str], path: str, ordinal: int) -> SourceTrack:
        where = f"entry {entry.get('id', ordinal)}"
        last = entry.get("lastplayed")
        return self._counted(
            SourceTrack(
                ordinal=ordinal,
                source_id=entry.get("id"),
                location=location_from_path(path),
                rating=self._rating(entry.get("rating"), where),
                play_count=_count(entry.get("count")),
                last_played=filetime_to_epoch(last) if last else None,
            )
        )

    def _text(self, first: bytes, rest: Iterator[bytes]) -> Iterator[SourceTrack]:
        name = self.path.name
        if first.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            decoder = codecs.getincrementaldecoder("utf-16")("strict")
        else:
            decoder = codecs.getincrementaldecoder("utf-8-sig")("strict")
        encoding = "UTF-16" if first.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) else "UTF-8"
        pending = ""
        line_number = 0
        layout: int | None = None
        separator: str | None = None
        ordinal = 0

        def lines(final: bool) -> Iterator[str]:
            nonlocal pending, line_number
            parts = pending.split("\n")
            pending = "" if final else parts.pop()
            for part in parts:
                line_number += 1
                yield part.rstrip("\r")
            if len(pending) > _MAX_LINE:  # the unfinished last line: a file without line breaks is not an export
                raise SourceFormatError(name, f"line {line_number + 1} is longer than {_MAX_LINE:,} characters")

        for chunk in (first, *rest, None):
            try:
                pending += decoder.decode(chunk or b"", final=chunk is None)
            except UnicodeDecodeError as exc:
                before = exc.object[: exc.start].decode(encoding, errors="replace")
                bad_line = line_number + pending.count("\n") + before.count("\n") + 1
                raise SourceFormatError(
                    name, f"is not {encoding} text (line {bad_line}); save the export as UTF-8"
                ) from None
            for line in lines(final=chunk is None):
                if not line.strip():
                    continue
                if separator is None:
                    separator = "\t" if "\t" in line else "|"
                fields = line.split(separator)
                if layout is None:
                    if len(fields) not in (_SHORT_FIELDS, _FULL_FIELDS):
                        raise SourceFormatError(
                            name,
                            f"line {line_number} has {len(fields)} fields: a foobar2000 text export has 4 "
                            f"({TEXT_PATTERN}) or 11 (see docs/sync-sources.md)",
                        )
                    layout = len(fields)
                if len(fields) != layout:
                    self._report.skip("malformed line")
                    add_warning(
                        self._report,
                        f"line {line_number}: {len(fields)} fields, expected {layout} (a {separator!r} inside "
                        "a value? use the tab pattern)",
                    )
                    continue
                ordinal += 1
                yield self._line_track(fields, ordinal, line_number)

    def _line_track(self, fields: list[str], ordinal: int, line_number: int) -> SourceTrack:
        path, rating, plays, last = fields[:_SHORT_FIELDS]
        extra: list[str | None] = [value.strip() or None for value in fields[_SHORT_FIELDS:]]
        if not extra:
            extra = [None] * (_FULL_FIELDS - _SHORT_FIELDS)
        album_artist, artist, album, disc, number, title, length = extra
        if title is not None and title.casefold() in _UNSET:
            title = None
        return self._counted(
            SourceTrack(
                ordinal=ordinal,
                location=location_from_path(path.strip()) if path.strip() else None,
                title=title,
                artist=artist if artist and artist != "?" else None,
                album_artist=album_artist if album_artist and album_artist != "?" else None,
                album=album if album and album != "?" else None,
                disc_number=_leading_number(disc),
                track_number=_leading_number(number),
                duration_ms=_seconds(length) if length else None,
                rating=self._rating(rating, f"line {line_number}"),
                play_count=_count(plays),
                last_played=_local_time(last),
            )
        )
