"""File locations as players store them (file URLs, Windows paths) turned into one path form: ``/`` separators, NFC."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from urllib.parse import unquote

__all__ = ["is_windows_path", "location_from_path", "location_from_url"]

_DRIVE = re.compile(r"^/?([A-Za-z]):[/\\]")


def is_windows_path(path: str) -> bool:
    """Whether ``path`` is a Windows drive (``C:\\...``, ``C:/...``) or UNC (``\\\\server\\share``) path."""
    return bool(_DRIVE.match(path)) or path.startswith("\\\\")


def location_from_path(path: str) -> str:
    """A player's plain file path in the common form: Windows separators become ``/``, Unicode NFC.

    foobar2000 writes ``file://C:\\Music\\a.mp3`` (a prefix, not a URL: nothing is percent-encoded), which
    becomes ``C:/Music/a.mp3``.
    """
    if path.startswith("file://") and is_windows_path(path[len("file://") :]):
        path = path[len("file://") :]
    if is_windows_path(path):
        path = path.replace("\\", "/")
    return unicodedata.normalize("NFC", path)


def location_from_url(url: str) -> str | None:
    """The file path a ``file:`` URL names, or ``None`` for any other URL (streams, podcasts on the web).

    ``file://localhost/C:/Music/a%20b.mp3`` → ``C:/Music/a b.mp3``; ``file:///Users/me/x.m4a`` and the old
    ``file://localhost/Users/me/x.m4a`` → ``/Users/me/x.m4a``; ``file://server/share/x.mp3``,
    ``file://localhost//server/share/x.mp3`` and ``file://///server/share/x.mp3`` (a Windows share) →
    ``//server/share/x.mp3``. Percent escapes decode as UTF-8 and the result is NFC, because macOS stores
    decomposed (NFD) names and Windows composed ones.
    """
    if url[:7].lower() != "file://":
        return None
    rest = url[7:]
    host, slash, path = rest.partition("/")
    if not slash:
        return None
    path = _unquote_path(path)
    if host and host.lower() != "localhost":
        path = f"//{host}/{path}"
    elif _DRIVE.match(path):
        path = path.replace("\\", "/")
    else:
        path = "/" + path
    if path.startswith("///"):  # file://///server/share/x: a Windows share written with extra slashes
        path = "//" + path.lstrip("/")
    return unicodedata.normalize("NFC", path)


def _unquote_path(path: str) -> str:
    """Percent-decode a URL path as UTF-8 (invalid sequences become U+FFFD), as ``unquote`` does.

    The usual path, ASCII only, is decoded by codecs in C: each ``%XX`` becomes the escape ``\\xXX``, which the
    ``unicode_escape`` codec turns into the code point XX, the byte again read as Latin-1. A literal backslash or
    non-ASCII character would be read differently and a malformed escape is refused by the codec: those paths
    take ``unquote``, the folder part cached (an album's tracks share it).
    """
    if "%" not in path:
        return path
    if path.isascii() and "\\" not in path:
        try:
            raw = path.replace("%", "\\x").encode("ascii").decode("unicode_escape").encode("latin-1")
        except UnicodeDecodeError:
            pass
        else:
            return raw.decode("utf-8", errors="replace")
    # A literal "/" is never inside a percent-escaped UTF-8 sequence, so decoding folder and name apart gives the
    # same text as decoding the whole, invalid escapes included (each becomes U+FFFD either way).
    folder, slash, name = path.rpartition("/")
    return _unquote_folder(folder) + slash + unquote(name, encoding="utf-8", errors="replace")


@lru_cache(maxsize=4096)
def _unquote_folder(folder: str) -> str:
    return unquote(folder, encoding="utf-8", errors="replace")
