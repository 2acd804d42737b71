"""File URLs decoded by folder and name apart (the name by a codec fast path) give exactly what unquote gives."""

from __future__ import annotations

import random
import unicodedata
from urllib.parse import unquote

import pytest

from plexm8.importers.locations import location_from_url

# Pieces that make the awkward cases: UTF-8 escapes cut by a slash, invalid and lone escapes, encoded slashes.
_PIECES = ["%C3", "%A9", "%E2", "%82", "%AC", "%F0", "%9F", "/", "a", "é", "%2F", "%20", "%ZZ", "%", "%e2"]
#: What could fool the codec fast path: backslashes, its own escapes written out, short escapes.
_NAME_PIECES = ["/", "%41", "%4", "%5C", "%5c", "\\", "\\x41", "\\n", "x", "%0A", "%FF", "%C3%A9", "%E2%82", "é", "%%"]


@pytest.mark.parametrize("seed", range(5))
def test_decoding_matches_a_whole_path_decode(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(2000):
        path = "".join(rng.choice(_PIECES) for _ in range(rng.randint(0, 14)))
        decoded = location_from_url(f"file:///{path}")
        expected = "/" + unquote(path, encoding="utf-8", errors="replace")
        if expected.startswith("///"):
            expected = "//" + expected.lstrip("/")
        assert decoded is not None
        assert decoded == unicodedata.normalize("NFC", expected), path


def test_a_cut_escape_becomes_replacement_characters_on_both_sides() -> None:
    assert location_from_url("file:///x%C3/%A9y.mp3") == "/x\ufffd/\ufffdy.mp3"
    assert location_from_url("file://localhost/C:/M%C3%BAsica/caf%C3%A9.mp3") == "C:/Música/café.mp3"


@pytest.mark.parametrize("seed", range(3))
def test_the_fast_name_decoding_agrees_with_unquote(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(3000):
        name = "".join(rng.choice(_NAME_PIECES) for _ in range(rng.randint(0, 10)))
        decoded = location_from_url(f"file:///Music/{name}")
        expected = unicodedata.normalize("NFC", "/Music/" + unquote(name, encoding="utf-8", errors="replace"))
        assert decoded == expected, name
