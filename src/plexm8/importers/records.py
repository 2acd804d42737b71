"""What every importer shares about records: which files are audio, which dates are bogus, bounded warnings."""

from __future__ import annotations

import calendar
from typing import Final

from plexm8.core.sources import SourceReport

__all__ = ["AUDIO_EXTENSIONS", "BOGUS_DATE", "MAX_WARNINGS", "add_warning", "plausible_time"]

#: File extensions of audio a music library can hold; anything else with a Location (.pdf, .ipa, .m4v) is not music.
AUDIO_EXTENSIONS: Final = frozenset(
    {
        "aac", "aif", "aifc", "aiff", "alac", "ape", "caf", "dff", "dsf", "flac", "m4a", "m4p", "mp2", "mp3",
        "mp4", "mpc", "oga", "ogg", "opus", "wav", "wma", "wv",
    }
)  # fmt: skip

#: ``Play Date UTC`` values from here on are iTunes' 32-bit wrap of small negative numbers (2040-02-06T04:28:16Z
#: is -3600), not plays: they are dropped.
BOGUS_DATE: Final = calendar.timegm((2040, 2, 6, 0, 0, 0, 0, 0, 0))

#: Warnings kept in a report; past this only a note that more were left out, so a broken file cannot fill memory.
MAX_WARNINGS: Final = 100


def plausible_time(seconds: float) -> int | None:
    """``seconds`` since the epoch as a whole number, or ``None`` when before 1970 or on/after :data:`BOGUS_DATE`."""
    if not seconds > 0 or seconds >= BOGUS_DATE:
        return None
    return int(seconds)


def add_warning(report: SourceReport, message: str) -> None:
    """Add ``message`` to the report's warnings, up to :data:`MAX_WARNINGS` of them."""
    if len(report.warnings) < MAX_WARNINGS:
        report.warnings.append(message)
    elif len(report.warnings) == MAX_WARNINGS:
        report.warnings.append("more warnings were left out")
