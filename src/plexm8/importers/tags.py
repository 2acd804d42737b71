"""Ratings, play counts and track metadata read from the audio files of a folder with mutagen.

Where each format keeps a star rating, and how its value is read (the scales are in
:mod:`plexm8.core.rating_scales`):

- ID3 (MP3, AIFF, WAV): ``POPM`` frames, read by the writer their e-mail names; when several writers left
  frames, the first non-zero one in the order MusicBee, MediaMonkey, Windows Media Player / foobar2000 / unknown
  writers, Picard / Quod Libet wins (and a disagreement is reported). Then ``TXXX:FMPS_Rating`` (0.0-1.0), then
  ``TXXX:RATING`` (read like a Vorbis RATING). The POPM play counter is used only when plausible (below
  :data:`MAX_PLAY_COUNT`): some writers leave garbage there.
- Vorbis comments (FLAC, Ogg, Opus) and APEv2 (Monkey's Audio, WavPack, Musepack): ``FMPS_RATING``, then
  ``RATING:<email>`` (a fraction), then ``RATING`` by its value range; "Clean"/"Explicit" are advisories.
- MP4 (M4A): the freeform ``RATE`` (0-100) or ``FMPS_Rating`` atoms. ``rtng`` is iTunes' content advisory
  (clean/explicit), never stars, and a freeform ``RATING`` holding "Clean" is ignored likewise.
- ASF (WMA): ``WM/SharedUserRating`` (WMP's 1/25/50/75/99).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path, PurePath
from typing import Any, Final

import mutagen
from mutagen.apev2 import APEv2
from mutagen.asf import ASFTags
from mutagen.flac import VCFLACDict
from mutagen.id3 import ID3
from mutagen.mp4 import MP4Tags
from mutagen.oggopus import OggOpusVComment
from mutagen.oggvorbis import OggVCommentDict

from plexm8.core import rating_scales
from plexm8.core.ports import TagScanCache
from plexm8.core.sources import RatingScale, SourceRating, SourceReport, SourceTrack
from plexm8.errors import SourceFormatError
from plexm8.importers.locations import location_from_path
from plexm8.importers.records import AUDIO_EXTENSIONS, add_warning

__all__ = ["MAX_PLAY_COUNT", "TAG_READER_VERSION", "TagFolder", "read_tags"]

#: Changes whenever what is read from a file changes, so that a tag cache filled by an older reader is not reused.
TAG_READER_VERSION: Final = 1

#: A POPM play counter at or above this is garbage (mutagen's own bad-POPM sample holds 2,709,193,061).
MAX_PLAY_COUNT: Final = 1_000_000

_CACHE_BATCH: Final = 500

_POPM_PRIORITY: Final = (
    RatingScale.POPM_MUSICBEE,
    RatingScale.POPM_MEDIAMONKEY,
    RatingScale.POPM_WMP,
    RatingScale.POPM_PICARD,
)


class _Unreadable(Exception):
    """A file mutagen cannot read (truncated, corrupt, not really audio)."""


def _first_number(text: str | None) -> int | None:
    """``3`` from ``"3"``, ``"03/12"`` or ``"2009-05-01"`` (up to the first non-digit); ``None`` when none."""
    if not text:
        return None
    digits = ""
    for char in text.strip():
        if not char.isdigit():
            break
        digits += char
    return int(digits) if digits else None


class _Found:
    """What one file's tags say, filled format by format."""

    def __init__(self, where: str, report: SourceReport) -> None:
        self.where = where
        self.report = report
        self.text: dict[str, str] = {}
        self.rating: SourceRating | None = None
        self.play_count: int | None = None

    def set_text(self, field: str, value: object) -> None:
        if field in self.text or value is None:
            return
        if isinstance(value, list | tuple):
            value = value[0] if value else None
        text = str(value).strip() if value is not None else ""
        if text:
            self.text[field] = text

    def offer(self, what: str, convert: Callable[[str], SourceRating | None], text: str) -> None:
        """Take ``convert(text)`` as the rating unless one was already found; a bad value is a warning."""
        if self.rating is not None:
            return
        try:
            self.rating = convert(text)
        except ValueError as exc:
            add_warning(self.report, f"{self.where}: {what} ignored: {exc}")


def _read_id3(tags: Any, found: _Found) -> None:
    """Read an :class:`ID3` (``Any``: mutagen leaves its methods untyped)."""
    for field, frame in (
        ("title", "TIT2"),
        ("artist", "TPE1"),
        ("album_artist", "TPE2"),
        ("album", "TALB"),
        ("disc", "TPOS"),
        ("track", "TRCK"),
        ("year", "TDRC"),
    ):
        value = tags.get(frame)
        if value is not None and value.text:
            found.set_text(field, str(value.text[0]))
    frames = sorted(tags.getall("POPM"), key=lambda frame: _POPM_PRIORITY.index(rating_scales.popm_scale(frame.email)))
    values: dict[int, str] = {}
    for frame in frames:
        byte = getattr(frame, "rating", 0)
        try:
            converted = rating_scales.popm(frame.email, byte)
        except ValueError as exc:
            add_warning(found.report, f"{found.where}: POPM {frame.email!r} ignored: {exc}")
            continue
        if converted is None:
            continue
        if found.rating is None:
            found.rating = converted
            count = getattr(frame, "count", None)  # optional in the frame: absent when the writer left it out
            if isinstance(count, int) and 0 <= count < MAX_PLAY_COUNT:
                found.play_count = count
        if converted.plex.value is not None:
            values[converted.plex.value] = frame.email
    if len(values) > 1:
        add_warning(
            found.report,
            f"{found.where}: POPM frames disagree ({', '.join(f'{e!r}={v}' for v, e in values.items())}); "
            f"took {found.rating.plex.value if found.rating else None}",
        )
    for frame in tags.getall("TXXX"):
        description = frame.desc.casefold()
        text = str(frame.text[0]) if frame.text else ""
        if description == "fmps_rating":
            found.offer("FMPS_Rating", _fmps, text)
    for frame in tags.getall("TXXX"):
        if frame.desc.casefold() == "rating" and frame.text:
            found.offer("TXXX:RATING", rating_scales.vorbis, str(frame.text[0]))


def _float(text: str) -> float:
    try:
        return float(text.strip().replace(",", "."))
    except ValueError:
        raise ValueError(f"{text.strip()!r} is not a number") from None


def _fmps(text: str) -> SourceRating | None:
    return rating_scales.fmps(_float(text))


def _percent(text: str) -> SourceRating | None:
    return rating_scales.percent(_float(text))


def _wma(text: str) -> SourceRating | None:
    return rating_scales.wma(_float(text))


def _vorbis_fraction(text: str) -> SourceRating | None:
    return rating_scales.vorbis(text, fraction=True)


def _read_comments(tags: Any, found: _Found) -> None:
    """Read Vorbis comments or an :class:`APEv2` tag (``Any``: mutagen leaves their methods untyped)."""
    keys = {str(key).casefold(): key for key in tags.keys()}  # noqa: SIM118 - mutagen's keys(), not a dict's

    def values(name: str) -> list[str]:
        key = keys.get(name)
        if key is None:
            return []
        raw = tags[key]
        if isinstance(raw, list):  # Vorbis comments: one string per value
            return [str(item) for item in raw]
        return str(raw).split("\0")  # APEv2: one text value, several values separated by NUL

    for field, names in (
        ("title", ("title",)),
        ("artist", ("artist",)),
        ("album_artist", ("albumartist", "album artist", "album_artist")),
        ("album", ("album",)),
        ("disc", ("discnumber", "disc")),
        ("track", ("tracknumber", "track")),
        ("year", ("date", "year")),
    ):
        for name in names:
            found.set_text(field, values(name))
    for text in values("fmps_rating"):
        found.offer("FMPS_RATING", _fmps, text)
    for name in sorted(keys):
        if name.startswith("rating:"):
            for text in values(name):
                found.offer(str(keys[name]), _vorbis_fraction, text)
    for text in values("rating"):
        found.offer("RATING", rating_scales.vorbis, text)


def _freeform(tags: Any, name: str) -> list[str]:
    for key in (f"----:com.apple.iTunes:{name}", f"----:com.apple.iTunes:{name.upper()}", name):
        raw = tags.get(key)
        if raw:
            return [item.decode("utf-8", "replace") if isinstance(item, bytes) else str(item) for item in raw]
    return []


def _read_mp4(tags: Any, found: _Found) -> None:
    """Read :class:`MP4Tags` (``Any``: mutagen leaves their methods untyped)."""
    for field, key in (("title", "©nam"), ("artist", "©ART"), ("album_artist", "aART"), ("album", "©alb")):
        found.set_text(field, tags.get(key))
    for field, key in (("disc", "disk"), ("track", "trkn")):
        pairs = tags.get(key)
        if pairs and isinstance(pairs[0], tuple) and pairs[0][0]:
            found.set_text(field, pairs[0][0])
    found.set_text("year", tags.get("©day"))
    # "rtng" is deliberately not read: it is the content advisory (0 none, 1/4 explicit, 2 clean), not stars.
    for text in _freeform(tags, "FMPS_Rating"):
        found.offer("FMPS_Rating", _fmps, text)
    for text in _freeform(tags, "rate") + _freeform(tags, "RATE"):
        found.offer("RATE", _percent, text)
    for text in _freeform(tags, "RATING"):
        found.offer("RATING", rating_scales.vorbis, text)


def _read_asf(tags: Any, found: _Found) -> None:
    """Read :class:`ASFTags` (``Any``: mutagen leaves their methods untyped)."""
    for field, key in (
        ("title", "Title"),
        ("artist", "Author"),
        ("album_artist", "WM/AlbumArtist"),
        ("album", "WM/AlbumTitle"),
        ("disc", "WM/PartOfSet"),
        ("track", "WM/TrackNumber"),
        ("year", "WM/Year"),
    ):
        values = tags.get(key)
        if values:
            found.set_text(field, str(values[0].value))
    for value in tags.get("WM/SharedUserRating", []):
        found.offer("WM/SharedUserRating", _wma, str(value.value))


def read_tags(path: Path, ordinal: int, report: SourceReport) -> SourceTrack:
    """The record of one audio file; raises ``_Unreadable`` when mutagen cannot read it."""
    where = path.name
    try:
        audio = mutagen.File(path)
    except Exception as exc:  # one corrupt file must not end a scan of thousands
        # mutagen reports corrupt files through many exception types (MutagenError, struct.error, IndexError...).
        raise _Unreadable(f"mutagen cannot read it ({type(exc).__name__}: {exc})") from None
    if audio is None:
        raise _Unreadable("not an audio format mutagen knows")
    found = _Found(where, report)
    tags: Any = audio.tags
    if isinstance(tags, ID3):
        _read_id3(tags, found)
    elif isinstance(tags, VCFLACDict | OggVCommentDict | OggOpusVComment | APEv2):
        _read_comments(tags, found)
    elif isinstance(tags, MP4Tags):
        _read_mp4(tags, found)
    elif isinstance(tags, ASFTags):
        _read_asf(tags, found)
    length = getattr(audio.info, "length", None)
    text = found.text
    return SourceTrack(
        ordinal=ordinal,
        location=location_from_path(os.fspath(path)),
        title=text.get("title"),
        artist=text.get("artist"),
        album_artist=text.get("album_artist"),
        album=text.get("album"),
        disc_number=_first_number(text.get("disc")),
        track_number=_first_number(text.get("track")),
        duration_ms=round(length * 1000) if isinstance(length, int | float) and length > 0 else None,
        year=_first_number(text.get("year")),
        rating=found.rating,
        play_count=found.play_count,
    )


def _audio_files(root: Path) -> Iterator[Path]:
    """The audio files under ``root`` in a stable order (sorted folder by folder); symlinked folders not followed."""
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(files):
            if PurePath(name).suffix.lower().lstrip(".") in AUDIO_EXTENSIONS:
                yield Path(folder, name)


class TagFolder:
    """The audio files of a folder (or one file), read with mutagen, as a :class:`RatingSource`.

    With a ``cache``, a file whose mtime and size are those of the last scan is not opened: its last record is
    reused. Files mutagen cannot read are skipped ("unreadable file", with a warning) and read again next time.
    """

    def __init__(self, path: Path, *, cache: TagScanCache | None = None) -> None:
        self.path = path
        self.cache = cache
        self._report = SourceReport(kind="tags")
        if not path.exists():
            raise SourceFormatError(path.name, "no such folder or file")
        if not path.is_dir() and not path.is_file():
            raise SourceFormatError(path.name, "is neither a folder nor a file")

    @property
    def report(self) -> SourceReport:
        """What the last (or current) ``tracks()`` pass read and skipped."""
        return self._report

    def tracks(self) -> Iterator[SourceTrack]:
        """One record per readable audio file, in folder order (a file that is not audio is passed over)."""
        report = self._report = SourceReport(kind="tags")
        # Absolute but not resolved: a folder reached through a symlink keeps the path the user knows and maps.
        root = Path(os.path.abspath(self.path))
        files = [root] if root.is_file() else _audio_files(root)
        pending: list[tuple[str, int, int, int, SourceTrack]] = []
        seen: set[str] = set()
        ordinal = 0
        for file in files:
            try:
                info = file.stat()
            except OSError as exc:
                report.skip("unreadable file")
                add_warning(report, f"{file.name}: cannot be read ({exc.strerror or exc})")
                continue
            key = location_from_path(os.fspath(file))
            seen.add(key)
            ordinal += 1
            track = None
            if self.cache is not None:
                track = self.cache.lookup(key, info.st_mtime_ns, info.st_size, TAG_READER_VERSION)
                if track is not None:
                    track = replace(track, ordinal=ordinal)
            if track is None:
                try:
                    track = read_tags(file, ordinal, report)
                except _Unreadable as exc:
                    ordinal -= 1
                    report.skip("unreadable file")
                    add_warning(report, f"{file.name}: {exc}")
                    continue
                if self.cache is not None:
                    pending.append((key, info.st_mtime_ns, info.st_size, TAG_READER_VERSION, track))
                    if len(pending) >= _CACHE_BATCH:
                        self.cache.remember(pending)
                        pending = []
            report.tracks += 1
            if track.rating is not None:
                report.rated += 1
            yield track
        if self.cache is not None:
            if pending:
                self.cache.remember(pending)
            if root.is_dir():
                self.cache.forget_except(location_from_path(os.fspath(root)), seen)
