"""File URLs decoded by folder and name apart give exactly what decoding the whole URL path gives."""

from __future__ import annotations

import random
import unicodedata
from urllib.parse import unquote

import pytest

from plexm8.importers.locations import location_from_url

# Pieces that make the awkward cases: UTF-8 escapes cut by a slash, invalid and lone escapes, encoded slashes.
_PIECES = ["%C3", "%A9", "%E2", "%82", "%AC", "%F0", "%9F", "/", "a", "é", "%2F", "%20", "%ZZ", "%", "%e2"]


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
