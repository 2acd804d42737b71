"""plexsim.exports: the hard-case set is deterministic, honest about its truth, and a well-formed iTunes plist."""

from __future__ import annotations

import json
import plistlib
import unicodedata
from pathlib import Path
from urllib.parse import unquote

import pytest

from plexsim.exports import ROOTS, Perturbations, build_hard_case_set, write_ground_truth, write_itunes_xml
from plexsim.generate import generate_library
from plexsim.library import Library


@pytest.fixture(scope="module")
def library() -> Library:
    return generate_library(tracks=400, seed=21)


def test_same_arguments_same_set(library: Library) -> None:
    a = build_hard_case_set(library, seed=4)
    b = build_hard_case_set(library, seed=4)
    assert a.tracks == b.tracks and a.duplicates == b.duplicates
    assert build_hard_case_set(library, seed=5).tracks != a.tracks


def test_the_source_library_is_left_alone(library: Library) -> None:
    before = len(library.tracks)
    cases = build_hard_case_set(library, seed=4, perturbations=Perturbations(plex_duplicates=0.2))
    assert len(library.tracks) == before
    assert len(cases.library.tracks) == before + len(cases.duplicates)
    ids = [t.id for t in cases.library.tracks] + [a.id for a in cases.library.albums]
    assert len(ids) == len(set(ids))


def test_truth_points_at_the_track_exported(library: Library) -> None:
    cases = build_hard_case_set(library, seed=4)
    by_id = {t.id: t for t in cases.library.tracks}
    albums = {a.id: a for a in cases.library.albums}
    for record in cases.tracks:
        if record.truth is None:
            assert "missing" in record.perturbations
            continue
        track = by_id[record.truth]
        assert record.disc_number == track.disc
        assert abs(record.total_time - track.duration) <= Perturbations().duration_jitter_ms
        if not ({"version-style", "album-style", "title-case", "typo", "feat"} & set(record.perturbations)):
            assert unicodedata.normalize("NFC", record.name) == track.title
            assert record.album == albums[track.album].title
    missing = [r for r in cases.tracks if r.truth is None]
    assert len(missing) == round(Perturbations().missing * round(0.9 * len(library.tracks)))


@pytest.mark.parametrize("platform", ["windows", "macos"])
def test_the_export_is_an_itunes_plist(library: Library, tmp_path: Path, platform: str) -> None:
    cases = build_hard_case_set(library, seed=4, platform=platform)
    export, truth = tmp_path / "Library.xml", tmp_path / "truth.json"
    write_itunes_xml(cases.tracks, export, platform=platform)
    write_ground_truth(cases, truth)
    with export.open("rb") as handle:
        plist = plistlib.load(handle)
    tracks = plist["Tracks"]
    assert len(tracks) == len(cases.tracks) + 2  # a podcast and a movie ride along
    assert sum(1 for t in tracks.values() if t.get("Podcast") or t.get("Movie")) == 2
    prefix = "file://localhost/" if platform == "windows" else "file://"
    for record in cases.tracks:
        entry = tracks[str(record.track_id)]
        assert entry["Persistent ID"] == record.persistent_id
        assert " " not in entry["Location"]  # percent-encoded
        assert unquote(entry["Location"]) == prefix + record.location
        assert record.location.startswith(ROOTS[platform] + "/")
    if platform == "macos":
        assert any(r.location != unicodedata.normalize("NFC", r.location) for r in cases.tracks)
    written = json.loads(truth.read_text(encoding="utf-8"))
    assert written["platform"] == platform
    assert {pid: t["rating_key"] for pid, t in written["tracks"].items()} == cases.truth()


def test_an_unknown_platform_is_refused(library: Library) -> None:
    with pytest.raises(ValueError, match="platform"):
        build_hard_case_set(library, platform="amiga")
