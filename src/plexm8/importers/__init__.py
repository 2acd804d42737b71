"""Rating sources: player exports and tagged folders, each read as :class:`~plexm8.core.sources.SourceTrack` records.

:func:`open_source` is the one entry point; every source it returns is a :class:`~plexm8.core.ports.RatingSource`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from plexm8.errors import SourceFormatError
from plexm8.importers.background import ReadAhead
from plexm8.importers.files import MAX_SOURCE_BYTES
from plexm8.importers.foobar import FoobarExport
from plexm8.importers.itunes import ItunesLibrary

if TYPE_CHECKING:
    from plexm8.core.ports import RatingSource, TagScanCache

__all__ = ["SOURCE_KINDS", "open_source"]

#: The kinds :func:`open_source` reads: MusicBee's "iTunes XML" export is read like iTunes' own, on its scale.
SOURCE_KINDS = ("itunes", "musicbee", "foobar2000", "tags")


def open_source(
    kind: str,
    path: Path,
    *,
    tag_cache: TagScanCache | None = None,
    max_bytes: int = MAX_SOURCE_BYTES,
    read_ahead: bool = False,
) -> RatingSource:
    """The rating source of ``kind`` at ``path`` (an export file, or a folder for ``tags``), checked before reading.

    Raises :class:`~plexm8.errors.SourceFormatError` for an unknown kind, a missing or unreadable path, or a file
    larger than ``max_bytes``; problems inside the file surface while ``tracks()`` is iterated. ``tag_cache``
    (tags only) lets a re-scan skip files unchanged since the last one. ``read_ahead`` starts reading an export
    file in a worker process at once (:class:`~plexm8.importers.background.ReadAhead`), so that the caller can
    prepare the match catalog meanwhile; a tag folder is always scanned here.
    """
    path = Path(path)
    source: RatingSource
    if kind in ("itunes", "musicbee"):
        source = ItunesLibrary(path, kind=kind, max_bytes=max_bytes)
        return ReadAhead(source) if read_ahead else source
    if kind == "foobar2000":
        source = FoobarExport(path, max_bytes=max_bytes)
        return ReadAhead(source) if read_ahead else source
    if kind == "tags":
        # Imported here: mutagen is not needed to read an export file, nor by the read-ahead worker that does.
        from plexm8.importers.tags import TagFolder

        return TagFolder(path, cache=tag_cache)
    raise SourceFormatError(path.name, f"unknown source kind {kind!r}: use one of {', '.join(SOURCE_KINDS)}")
