"""Opening a source export safely: a regular, readable file no larger than the limit, read in bounded chunks."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

from plexm8.errors import SourceFormatError

__all__ = ["CHUNK_BYTES", "MAX_SOURCE_BYTES", "check_file", "read_chunks"]

#: The largest export accepted: a 150,000-track iTunes library is about 450 MB, so 1 GiB leaves room while a
#: "2 GB" file (or a device that never ends) is refused before anything is read.
MAX_SOURCE_BYTES = 1 << 30

#: How much of an export is read at a time; the parsers keep only what the current record needs.
CHUNK_BYTES = 1 << 20


def _mib(size: int) -> str:
    return f"{size / (1 << 20):,.0f} MiB"


def check_file(path: Path, max_bytes: int) -> int:
    """Refuse ``path`` unless it is a regular readable file of at most ``max_bytes``; return its size."""
    try:
        info = path.stat()
    except FileNotFoundError:
        raise SourceFormatError(path.name, "no such file") from None
    except OSError as exc:
        raise SourceFormatError(path.name, f"cannot be read ({exc.strerror or exc})") from None
    if stat.S_ISDIR(info.st_mode):
        raise SourceFormatError(path.name, "is a folder, not an export file")
    if not stat.S_ISREG(info.st_mode):
        raise SourceFormatError(path.name, "is not a regular file")
    if info.st_size > max_bytes:
        raise SourceFormatError(
            path.name, f"is {_mib(info.st_size)}, larger than the {_mib(max_bytes)} an export may be"
        )
    if not os.access(path, os.R_OK):
        raise SourceFormatError(path.name, "cannot be read (permission denied)")
    return info.st_size


def read_chunks(path: Path, max_bytes: int) -> Iterator[bytes]:
    """The file's bytes in chunks, refusing it when more than ``max_bytes`` arrive (a file that grew since)."""
    check_file(path, max_bytes)
    total = 0
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(CHUNK_BYTES):
                total += len(chunk)
                if total > max_bytes:
                    raise SourceFormatError(path.name, f"is larger than the {_mib(max_bytes)} an export may be")
                yield chunk
    except OSError as exc:
        raise SourceFormatError(path.name, f"cannot be read ({exc.strerror or exc})") from None
