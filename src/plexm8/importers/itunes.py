"""iTunes, Apple Music (Music.app) and MusicBee ``Library.xml`` exports, read as a stream of :class:`SourceTrack`.

The file is read in 1 MiB chunks and each track is turned into a record as soon as its ``<dict>`` closes, so memory
stays bounded whatever the library's size; playlists are parsed (the XML must be well-formed to the end) but never
built. The parser refuses any DTD internal subset and entity declaration (billion laughs, external entities) and
never fetches anything: the plist DOCTYPE's URL is not followed.

Two readers give the same records. The reference reader feeds every byte to expat, whose per-element Python
callbacks cost several times the parse itself. The fast reader, tried first, lets expat parse everything outside
the ``Tracks`` dictionary (the XML declaration, DOCTYPE, root and playlists, with the same hardening and checks)
and reads the track entries between with compiled regular expressions that accept only the exact plist subset
iTunes and MusicBee write: ``<key>``/value pairs of ``<string>``, ``<integer>``, ``<real>``, ``<date>``, ``<true/>``,
``<false/>`` and ``<string/>``, text with XML's predefined and numeric character references, UTF-8. Anything else
(another encoding, comments, CDATA, processing instructions, attributes, other value types, a file that is not
well-formed, any error) makes the whole file be read again by the reference reader, which skips the tracks already
yielded: results and error messages never depend on the fast reader.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Final
from xml.parsers import expat

from plexm8.core import rating_scales
from plexm8.core.sources import RatingScale, SourceRating, SourceReport, SourceTrack
from plexm8.errors import SourceFormatError
from plexm8.importers.files import MAX_SOURCE_BYTES, check_file, read_chunks
from plexm8.importers.locations import location_from_url
from plexm8.importers.records import AUDIO_EXTENSIONS, add_warning, plausible_time
from plexm8.importers.safe_xml import feed, hardened_parser

__all__ = ["ItunesLibrary", "play_date"]

_AUDIOBOOK_EXTENSIONS: Final = frozenset({"m4b", "aa", "aax"})

_MAX_DEPTH: Final = 64

# Which boolean keys mark a record as something other than music, checked in this order (first reason counts).
_NON_MUSIC_FLAGS: Final = (
    ("Podcast", "podcast"),
    ("Movie", "movie"),
    ("TV Show", "tv show"),
    ("Music Video", "music video"),
    ("iTunesU", "itunes u"),
    ("iTunes U", "itunes u"),
    ("Audiobook", "audiobook"),
    ("Has Video", "video"),
)


# Every key _track reads: the fast reader converts only these (a record's other keys are never looked at).
_FIELD_KEYS: Final = (
    "Album Artist", "Album Rating Computed", "Album Rating", "Album", "Artist", "Audiobook", "Disc Number",
    "Disliked", "Favorited", "Has Video", "iTunes U", "iTunesU", "Kind", "Location", "Loved", "Movie", "Music Video",
    "Name", "Persistent ID", "Play Count", "Play Date UTC", "Podcast", "Rating Computed", "Rating", "Total Time",
    "Track Number", "Track Type", "TV Show", "Year",
)  # fmt: skip

# The fast reader's grammar. Text may hold any XML character but "<" and "&" (and the C0 controls XML forbids),
# plus XML's predefined and numeric character references; keys must be plain text (no reference at all). The
# possessive quantifiers and atomic group never give back what they matched: nothing here needs backtracking,
# and not keeping the positions to go back to makes the match faster.
_WS: Final = r"[ \t\r\n]*+"
_PLAIN: Final = r"[^<&\x00-\x08\x0b\x0c\x0e-\x1f]*+"
_TEXT: Final = _PLAIN + r"(?:&(?:amp|lt|gt|quot|apos|#[0-9]{1,7}|#x[0-9a-fA-F]{1,6});" + _PLAIN + ")*+"
_VALUE: Final = (
    f"<(?>string>{_TEXT}</string|integer>{_TEXT}</integer|date>{_TEXT}</date|real>{_TEXT}</real"
    f"|true{_WS}/|false{_WS}/|string{_WS}/)>"
)
#: One ``<key>N</key><dict>...</dict>`` entry of the Tracks dictionary; group 1 is the inside of the track's dict.
_ENTRY: Final = re.compile(
    f"{_WS}<key>{_PLAIN}</key>{_WS}<dict>((?:{_WS}<key>{_PLAIN}</key>{_WS}{_VALUE})*+{_WS})</dict>"
)


def _trie(words: list[str]) -> str:
    """A regular expression matching exactly ``words``, branching one character at a time.

    ``re`` tries alternatives one by one: a flat alternation of 29 keys costs up to 29 attempts at every key.
    """
    if words == [""]:
        return ""
    branches: dict[str, list[str]] = {}
    for word in words:
        if word:
            branches.setdefault(word[0], []).append(word[1:])
    alternatives = [re.escape(first) + _trie(sorted(set(rests))) for first, rests in sorted(branches.items())]
    body = alternatives[0] if len(alternatives) == 1 else "(?:" + "|".join(alternatives) + ")"
    return f"(?:{body})?" if "" in words else body


#: The pairs of an entry already matched by _ENTRY whose key is one of _FIELD_KEYS: (key, value tag, text).
_PAIR: Final = re.compile(f"<key>({_trie(sorted(_FIELD_KEYS))})</key>{_WS}<([a-z]+)(?:{_WS}/>|>([^<]*)<)")
_TRACKS_END: Final = re.compile(_WS + "</dict>")
_TRACKS_START: Final = re.compile(rb"<key>Tracks</key>[ \t\r\n]*<dict>")
_DECLARED_ENCODING: Final = re.compile(rb"""^<\?xml[^>]*?encoding[ \t\r\n]*=[ \t\r\n]*["']([^"']*)["']""")
#: What XML forbids in text that the grammar above lets through: expat must have the last word on these.
_FORBIDDEN: Final = ("]]>", "\ufffe", "\uffff")
_REFERENCE: Final = re.compile("&(#x[0-9a-fA-F]+|#[0-9]+|[a-z]+);")
_PREDEFINED: Final = {"amp": "&", "lt": "<", "gt": ">", "quot": '"', "apos": "'"}

#: The most track text the fast reader holds while looking for the end of one entry; past it, expat reads the file.
_MAX_ENTRY_CHARS: Final = 8 << 20
#: How far into the file the Tracks dictionary must start for the fast reader to be used.
_MAX_HEAD_BYTES: Final = 4 << 20

_NON_MUSIC_KEYS: Final = frozenset(flag for flag, _reason in _NON_MUSIC_FLAGS)


def play_date(text: str) -> int | None:
    """Epoch seconds of an ISO ``Play Date UTC`` (``2013-09-25T23:01:21Z``); ``None`` when unreadable or bogus."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return plausible_time(moment.timestamp())


class _TrackDicts:
    """Expat handlers that collect each ``Tracks`` entry as a flat ``{key: value}`` dict into ``done``.

    The handlers are closures over locals and character data goes straight to ``list.append``: they run for every
    element of a file that can hold millions, so each saved attribute lookup counts. Depths: 1 ``<plist>``,
    2 the top ``<dict>``, 3 its keys and values (``Tracks``), 4 a track's ``<dict>``, 5 the track's keys and values.
    """

    def __init__(self, name: str, parser: expat.XMLParserType) -> None:
        self.saw_tracks = False
        self.done: list[dict[str, object]] = []
        done = self.done
        text: list[str] = []
        depth = 0
        top_key = ""
        in_tracks = False
        field = ""
        fields: dict[str, object] | None = None

        def start(tag: str, _attrs: dict[str, str]) -> None:
            nonlocal depth, in_tracks, fields
            text.clear()
            depth += 1
            if depth < 5:  # the rare levels: root, top dict, Tracks, one track's dict
                if depth == 1 and tag != "plist":
                    raise SourceFormatError(name, f"is not an iTunes or Music library (the XML starts with <{tag}>)")
                if depth == 3 and tag == "dict" and top_key == "Tracks":
                    in_tracks = self.saw_tracks = True
                elif depth == 4 and in_tracks and tag == "dict":
                    fields = {}
            elif depth > _MAX_DEPTH:
                raise SourceFormatError(name, f"nests more than {_MAX_DEPTH} levels deep")

        def end(tag: str) -> None:
            nonlocal depth, top_key, in_tracks, field, fields
            level = depth
            depth = level - 1
            if level == 5:
                if fields is None:
                    return
                if tag == "key":
                    field = "".join(text)
                elif tag == "string" or tag == "date":
                    fields[field] = "".join(text)
                elif tag == "integer" or tag == "real":
                    fields[field] = _parse_number("".join(text))
                elif tag == "true":
                    fields[field] = True
                elif tag == "false":
                    fields[field] = False
            elif level == 4:
                if fields is not None and tag == "dict":
                    done.append(fields)
                    fields = None
            elif level == 3:
                if tag == "key":
                    top_key = "".join(text)
                else:
                    in_tracks = False
                    top_key = ""

        def inside_tracks() -> bool:
            return depth == 3 and in_tracks and fields is None and not done

        parser.StartElementHandler = start
        parser.EndElementHandler = end
        parser.CharacterDataHandler = text.append
        #: Whether the parser stands just inside the Tracks dictionary, between two entries, with nothing pending.
        self.inside_tracks: Callable[[], bool] = inside_tracks


def _parse_number(text: str) -> object:
    """An ``<integer>`` or ``<real>`` value; MusicBee writes ``<integer>200.56</integer>``, read as a number too."""
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


class ItunesLibrary:
    """A ``Library.xml`` (iTunes, Music.app) or MusicBee's iTunes-compatible export, as a :class:`RatingSource`.

    Ratings: ``Rating`` (0-100) is the user's own only when ``Rating Computed`` is absent (a computed rating is
    inherited from the album); ``Album Rating`` becomes ``album_rating`` only when ``Album Rating Computed`` is
    absent. A rating outside 0-100 is dropped with a warning (the track is still read). ``Loved`` or
    ``Favorited`` set ``loved``; ``Disliked`` sets ``disliked``. Skipped records, counted in ``report.skipped``:
    podcasts, movies, TV shows, music videos, iTunes U, audiobooks, other videos, records without a local file
    (streams, Apple Music ``Remote`` tracks: "no location") and files that are not audio ("not audio").
    ``fast=False`` uses only the reference reader (see the module's docstring); the records are the same.
    """

    def __init__(
        self, path: Path, *, kind: str = "itunes", max_bytes: int = MAX_SOURCE_BYTES, fast: bool = True
    ) -> None:
        self.path = path
        self.kind = kind
        self.scale = RatingScale.MUSICBEE if kind == "musicbee" else RatingScale.ITUNES
        self.max_bytes = max_bytes
        self.fast = fast
        #: Which reader the last complete pass used: "fast", or "expat" (the reference reader).
        self.reader = "fast" if fast else "expat"
        self._report = SourceReport(kind=kind)
        self._english_keys = False
        self._ratings: dict[int, SourceRating] = {}
        check_file(path, max_bytes)

    @property
    def report(self) -> SourceReport:
        """What the last (or current) ``tracks()`` pass read and skipped."""
        return self._report

    def tracks(self) -> Iterator[SourceTrack]:
        """Every music track of the library in file order; raises SourceFormatError on a bad or hostile file."""
        report = self._report = SourceReport(kind=self.kind)
        self._english_keys = False
        state = _Pass(reader="fast" if self.fast else "expat")
        yielded = 0
        if self.fast:
            try:
                for track in self._fast_tracks(report, state):
                    yielded = track.ordinal
                    yield track
            except _NotPlain:
                # Start again with the reference reader; the report is the same object, counted afresh.
                state = _Pass(reader="expat")
                report.tracks = report.rated = 0
                report.skipped.clear()
                report.warnings.clear()
                self._english_keys = False
        if state.reader == "expat":
            for track in self._expat_tracks(report, state):
                if track.ordinal > yielded:
                    yield track
        self.reader = state.reader
        name = self.path.name
        if not state.saw_tracks:
            raise SourceFormatError(name, "has no Tracks dictionary: it is not an iTunes, Music or MusicBee library")
        if state.records and not self._english_keys:
            raise SourceFormatError(
                name,
                "no track has a Name or Location key: MusicBee writes the keys in its display language; "
                "export again with MusicBee set to English",
            )
        if state.records and not report.tracks and report.skipped.get("no location") == state.records:
            report.warnings.append(
                "no track has a local file (Location): streamed Apple Music tracks cannot be matched to Plex files"
            )

    def _expat_tracks(self, report: SourceReport, state: _Pass) -> Iterator[SourceTrack]:
        """The reference reader: every element through expat's callbacks."""
        name = self.path.name
        parser = hardened_parser(name)
        handlers = _TrackDicts(name, parser)
        for chunk in read_chunks(self.path, self.max_bytes):
            feed(parser, name, chunk, False)
            yield from self._records(handlers, report, state)
        feed(parser, name, b"", True)
        yield from self._records(handlers, report, state)
        state.saw_tracks = handlers.saw_tracks

    def _records(self, handlers: _TrackDicts, report: SourceReport, state: _Pass) -> Iterator[SourceTrack]:
        for fields in handlers.done:
            state.records += 1
            track = self._track(fields, state.records, report)
            if track is not None:
                yield track
        handlers.done.clear()

    def _fast_tracks(self, report: SourceReport, state: _Pass) -> Iterator[SourceTrack]:
        """The fast reader: expat outside the Tracks dictionary, regular expressions inside; raises _NotPlain."""
        name = self.path.name
        chunks = read_chunks(self.path, self.max_bytes)
        try:
            parser = hardened_parser(name)
            handlers = _TrackDicts(name, parser)
            head = b""
            start = None
            for chunk in chunks:
                head += chunk
                start = _TRACKS_START.search(head)
                if start is not None or len(head) > _MAX_HEAD_BYTES:
                    break
            if start is None:
                raise _NotPlain
            prologue = head[: start.end()]
            _check_prologue(prologue)
            feed(parser, name, prologue, False)
            if not handlers.inside_tracks():
                raise _NotPlain
            decoder = codecs.getincrementaldecoder("utf-8")("strict")
            text = decoder.decode(head[start.end() :])
            del head
            if _forbidden(text):
                raise _NotPlain
            pos = 0
            at_end = False
            while True:
                entry = _ENTRY.match(text, pos)
                if entry is not None:
                    pos = entry.end()
                    state.records += 1
                    fields = _fields(text, *entry.span(1))
                    track = self._track(fields, state.records, report)
                    if track is not None:
                        yield track
                    continue
                close = _TRACKS_END.match(text, pos)
                if close is not None:
                    pos = close.start()
                    break
                if at_end or text.find("</dict>", pos) >= 0 or len(text) - pos > _MAX_ENTRY_CHARS:
                    raise _NotPlain  # a whole entry the grammar does not cover, or the file ends inside Tracks
                more = next(chunks, None)
                if more is None:
                    at_end = True
                    continue
                text = text[pos:] + decoder.decode(more)
                pos = 0
                if _forbidden(text):
                    raise _NotPlain
            # The rest (Playlists, the end of the document) goes to expat; whatever it holds is read as the
            # reference reader would, including any further Tracks dictionary.
            rest = text[pos:].encode("utf-8") + decoder.getstate()[0]
            del text
            feed(parser, name, rest, False)
            yield from self._records(handlers, report, state)
            for chunk in chunks:
                feed(parser, name, chunk, False)
                yield from self._records(handlers, report, state)
            feed(parser, name, b"", True)
            yield from self._records(handlers, report, state)
            state.saw_tracks = handlers.saw_tracks
        except (SourceFormatError, UnicodeDecodeError):
            # Error messages quote positions in the file, which only the reference reader knows.
            raise _NotPlain from None
        finally:
            if isinstance(chunks, Generator):  # close the file now, not when the generator is collected
                chunks.close()

    def _rating(self, fields: dict[str, object], key: str, report: SourceReport, ordinal: int) -> SourceRating | None:
        raw = fields.get(key)
        if raw is None or isinstance(raw, bool):
            return None
        # A library holds a dozen distinct ratings: each is converted once (its value object is immutable).
        known = self._ratings.get(raw) if type(raw) is int else None
        if known is not None:
            return known
        try:
            if not isinstance(raw, int | float):
                raise ValueError(f"{raw!r} is not a number")
            rating = rating_scales.percent(raw, self.scale)
        except ValueError as exc:
            add_warning(report, f"track {ordinal} ({fields.get('Name', '?')}): {key} ignored: {exc}")
            return None
        if rating is not None and type(raw) is int:
            self._ratings[raw] = rating
        return rating

    def _track(self, fields: dict[str, object], ordinal: int, report: SourceReport) -> SourceTrack | None:
        if not self._english_keys and ("Name" in fields or "Location" in fields):
            self._english_keys = True
        if not _NON_MUSIC_KEYS.isdisjoint(fields):  # one C-level test for the common case: none of them
            for flag, reason in _NON_MUSIC_FLAGS:
                if fields.get(flag) is True:
                    report.skip(reason)
                    return None
        kind = fields.get("Kind")
        if isinstance(kind, str) and "video" in kind.casefold():
            # English Kinds only ("MPEG-4 video file" without Has Video); localised ones fall to the checks below.
            report.skip("video")
            return None
        url = fields.get("Location")
        location = location_from_url(url) if isinstance(url, str) else None
        if location is None or fields.get("Track Type") in ("Remote", "URL"):
            report.skip("no location")
            return None
        dot = location.rfind(".")
        extension = location[dot + 1 :].lower() if dot > location.rfind("/") else ""
        if extension in _AUDIOBOOK_EXTENSIONS:
            report.skip("audiobook")
            return None
        if extension not in AUDIO_EXTENSIONS:
            report.skip("not audio")
            return None
        rating = None if fields.get("Rating Computed") is True else self._rating(fields, "Rating", report, ordinal)
        album_rating = None
        if fields.get("Album Rating Computed") is not True:
            album_rating = self._rating(fields, "Album Rating", report, ordinal)
        get = fields.get
        played = get("Play Date UTC")
        track = SourceTrack(
            ordinal,
            _text(get("Persistent ID")),
            location,
            _text(get("Name")),
            _text(get("Artist")),
            _text(get("Album Artist")),
            _text(get("Album")),
            _number(get("Disc Number")),
            _number(get("Track Number")),
            _number(get("Total Time")),
            _number(get("Year")),
            rating,
            album_rating,
            get("Loved") is True or get("Favorited") is True,
            get("Disliked") is True,
            _number(get("Play Count")),
            play_date(played) if isinstance(played, str) else None,
        )
        report.tracks += 1
        if rating is not None:
            report.rated += 1
        return track


class _NotPlain(Exception):
    """The file holds something the fast reader does not read exactly: the reference reader must read it."""


@dataclass(slots=True)
class _Pass:
    """One pass over a file: the reader used, records seen so far (music or not), whether Tracks was found."""

    reader: str = "fast"
    records: int = 0
    saw_tracks: bool = False


def _check_prologue(prologue: bytes) -> None:
    """Raise _NotPlain unless everything before the Tracks entries is plain UTF-8 markup the fast reader can trust.

    A comment, CDATA section or processing instruction could hide or fake the ``<key>Tracks</key><dict>`` the
    reader found; another encoding would make its byte offsets meaningless.
    """
    body = prologue[3:] if prologue.startswith(codecs.BOM_UTF8) else prologue
    if not body.startswith(b"<") or b"<!--" in body or b"<![" in body:
        raise _NotPlain
    if body.startswith(b"<?xml"):
        declared = _DECLARED_ENCODING.match(body[: body.find(b"?>") + 2])
        if declared is not None and declared.group(1).lower() != b"utf-8":
            raise _NotPlain
        body = body[5:]
    if b"<?" in body:
        raise _NotPlain


def _forbidden(text: str) -> bool:
    """Whether ``text`` holds what XML forbids in text but the grammar lets through (``in`` is a C-speed search)."""
    return any(bad in text for bad in _FORBIDDEN)


def _reference(match: re.Match[str]) -> str:
    """The character a ``_REFERENCE`` match stands for; raises _NotPlain for one XML does not define or allow."""
    name = match.group(1)
    if name[0] != "#":
        if name not in _PREDEFINED:
            raise _NotPlain
        return _PREDEFINED[name]
    number = int(name[2:], 16) if name[1] == "x" else int(name[1:])
    if (
        number in (0x9, 0xA, 0xD)
        or 0x20 <= number <= 0xD7FF
        or 0xE000 <= number <= 0xFFFD
        or 0x10000 <= number <= 0x10FFFF
    ):
        return chr(number)
    raise _NotPlain  # a reference to a character XML forbids: expat reports it


def _fields(text: str, start: int, end: int) -> dict[str, object]:
    """The ``{key: value}`` of one track's ``text[start:end]`` as expat would have built it, for _FIELD_KEYS only."""
    fields: dict[str, object] = {}
    if text.find("&", start, end) >= 0 or text.find("\r", start, end) >= 0:
        body = text[start:end]
        # Every reference is checked, not only those of the keys kept, so a forbidden one anywhere falls back.
        for reference in _REFERENCE.finditer(body):
            _reference(reference)
        for key, tag, value in _PAIR.findall(body):
            # expat turns CR LF and lone CR into LF before references are replaced (a &#13; stays a CR).
            value = _REFERENCE.sub(_reference, value.replace("\r\n", "\n").replace("\r", "\n"))
            fields[key] = _typed(tag, value)
        return fields
    for key, tag, value in _PAIR.findall(text, start, end):
        # The common tags first, without a call: this runs for every kept key of every track.
        if tag == "string" or tag == "date":
            fields[key] = value
        elif tag == "integer":
            try:
                fields[key] = int(value)
            except ValueError:
                fields[key] = _parse_number(value)
        else:
            fields[key] = _typed(tag, value)
    return fields


def _typed(tag: str, value: str) -> object:
    if tag == "integer" or tag == "real":
        return _parse_number(value)
    if tag == "true":
        return True
    if tag == "false":
        return False
    return value


def _text(value: object) -> str | None:
    if type(value) is str or value is None:  # nearly always: a str subclass takes the checks below
        return value
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return None


def _number(value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, float) and value >= 0:
        return int(value)
    return None
