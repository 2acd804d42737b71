"""Logging for the command line: one stderr handler whose filter masks tokens in every record."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable
from typing import TextIO

__all__ = ["RedactingFilter", "configure_logging"]

MASK = "<redacted>"

# Tokens also travel in URLs (X-Plex-Token=...) and headers (Authorization: Bearer ...), possibly ones we were
# never told about (a per-request Bearer token), so these shapes are masked whatever the token is.
_TOKEN_SHAPES = re.compile(r"(?i)(x-plex-token[=:]\s*|bearer\s+)[^\s&'\",;)]+")


class RedactingFilter(logging.Filter):
    """Masks known secrets and token-shaped values in a record's message, arguments and traceback."""

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        super().__init__()
        self._secrets: set[str] = set()
        for secret in secrets:
            self.add_secret(secret)

    def add_secret(self, secret: str | None) -> None:
        """Mask ``secret`` from now on (empty values are ignored)."""
        if secret:
            self._secrets.add(secret)

    def redact(self, text: str) -> str:
        """``text`` with every known secret and token-shaped value masked."""
        # Longest first, so a secret containing another is masked whole.
        for secret in sorted(self._secrets, key=len, reverse=True):
            text = text.replace(secret, MASK)
        return _TOKEN_SHAPES.sub(lambda match: match.group(1) + MASK, text)

    def filter(self, record: logging.LogRecord) -> bool:
        # Formatting here (rather than masking each argument) also catches secrets split across message and args.
        record.msg = self.redact(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


class _StderrHandler(logging.StreamHandler[TextIO]):
    """Writes to whatever ``sys.stderr`` is at the time of each record, as :data:`logging.lastResort` does.

    Binding the stream at configuration time would leave the handler writing to a closed file once a test
    runner or click's CliRunner swaps ``sys.stderr`` back. Being its own class lets :func:`configure_logging`
    replace it instead of doubling every line when called twice.
    """

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        # StreamHandler.__init__ assigns the stream; the property always follows sys.stderr instead.
        pass


def configure_logging(level: str, redactor: RedactingFilter) -> logging.Handler:
    """Send all log records at ``level`` and above to stderr through ``redactor``; return the handler."""
    handler = _StderrHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    handler.addFilter(redactor)
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _StderrHandler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    return handler
