"""The hard-case set end to end: iTunes export parsed by the real reader, matched against the real index.

Issue 4 §4/§5: precision ≥ 99.5 %, recall ≥ 98 %, and no wrong match among those that would be written.
"""

from __future__ import annotations

import json
from collections import Counter

from plexm8.core.matching import MatchMethod, MatchOutcome, PathMapping
from plexm8.importers import open_source
from plexm8.services.matching import match_source
from plexm8.store.match_catalog import SqliteMatchCatalog
from plexsim.exports import ROOTS

from .conftest import ACCOUNT, IndexedHardCases


def _truth(indexed: IndexedHardCases) -> dict[str, int | None]:
    tracks = json.loads(indexed.truth.read_text(encoding="utf-8"))["tracks"]
    return {pid: entry["rating_key"] for pid, entry in tracks.items()}


def _perturbations(indexed: IndexedHardCases) -> dict[str, list[str]]:
    tracks = json.loads(indexed.truth.read_text(encoding="utf-8"))["tracks"]
    return {pid: entry["perturbations"] for pid, entry in tracks.items()}


def _run(indexed: IndexedHardCases, catalog: SqliteMatchCatalog, mappings: list[PathMapping] | None) -> MatchOutcome:
    return match_source(catalog, ACCOUNT, open_source("itunes", indexed.export), "itunes", path_mappings=mappings)


def test_precision_recall_and_no_wrong_writes(indexed: IndexedHardCases, fresh_catalog: SqliteMatchCatalog) -> None:
    truth = _truth(indexed)
    outcome = _run(indexed, fresh_catalog, None)
    seen = [m.source for m in outcome.matched] + [r.source for r in outcome.review] + outcome.unmatched
    assert sorted(s.source_id or "" for s in seen) == sorted(truth)  # every music record decided once
    wrong = [m for m in outcome.matched if truth[m.source.source_id or ""] != m.rating_key]
    right = len(outcome.matched) - len(wrong)
    positives = sum(1 for key in truth.values() if key is not None)
    assert wrong == []
    assert right / len(outcome.matched) >= 0.995
    assert right / positives >= 0.98
    methods = Counter(m.method for m in outcome.matched)
    # Every rung past "remembered" did real work on this set.
    assert methods[MatchMethod.PATH] > 0.7 * positives
    assert methods[MatchMethod.METADATA] > 0.05 * positives
    assert methods[MatchMethod.FUZZY] > 0


def test_the_mapping_is_suggested_from_the_data(indexed: IndexedHardCases, fresh_catalog: SqliteMatchCatalog) -> None:
    outcome = _run(indexed, fresh_catalog, None)
    assert outcome.suggested_mappings
    assert outcome.path_mappings == [PathMapping(ROOTS[indexed.cases.platform], "/data/music")]


def test_a_given_mapping_is_used_as_given(indexed: IndexedHardCases, fresh_catalog: SqliteMatchCatalog) -> None:
    given = [PathMapping(ROOTS[indexed.cases.platform] + "/", "/data/music/")]
    outcome = _run(indexed, fresh_catalog, given)
    assert not outcome.suggested_mappings
    assert outcome.path_mappings == given
    truth = _truth(indexed)
    assert all(truth[m.source.source_id or ""] == m.rating_key for m in outcome.matched)
    assert sum(m.method is MatchMethod.PATH for m in outcome.matched) > 0.7 * len(truth)


def test_a_wrong_mapping_leaves_metadata_to_match_safely(
    indexed: IndexedHardCases, fresh_catalog: SqliteMatchCatalog
) -> None:
    outcome = _run(indexed, fresh_catalog, [PathMapping("D:/Elsewhere", "/nowhere")])
    truth = _truth(indexed)
    assert not any(m.method is MatchMethod.PATH for m in outcome.matched)
    assert all(truth[m.source.source_id or ""] == m.rating_key for m in outcome.matched)
    # Metadata alone still finds most tracks; duplicates and same-song versions go to review, not to a guess.
    assert len(outcome.matched) > 0.9 * sum(1 for key in truth.values() if key is not None)


def test_each_hard_case_ends_where_it_should(indexed: IndexedHardCases, fresh_catalog: SqliteMatchCatalog) -> None:
    truth, perturbed = _truth(indexed), _perturbations(indexed)
    outcome = _run(indexed, fresh_catalog, None)
    matched = {m.source.source_id: m for m in outcome.matched}
    review = {r.source.source_id: r for r in outcome.review}
    missing = [pid for pid, tags in perturbed.items() if "missing" in tags]
    assert missing and not any(pid in matched for pid in missing)
    doubled = [pid for pid, tags in perturbed.items() if "export-duplicate" in tags]
    assert doubled
    for pid in doubled:
        # The same file twice in the export: neither copy is written, both are reviewed with the reason.
        assert pid in review
        assert "source tracks matched Plex track" in review[pid].reason
    for tag in ("path-case", "feat", "version-style", "album-style", "artist-style", "title-case", "moved"):
        cases = [pid for pid, tags in perturbed.items() if tag in tags and "export-duplicate" not in tags]
        found = [pid for pid in cases if pid in matched and matched[pid].rating_key == truth[pid]]
        assert cases, tag
        assert len(found) >= 0.9 * len(cases), tag
    if indexed.cases.platform == "windows":
        case_changed = [pid for pid, tags in perturbed.items() if "path-case" in tags and pid in matched]
        assert any("letter case" in matched[pid].reason for pid in case_changed)


def test_duplicates_in_plex_are_never_guessed(indexed: IndexedHardCases, fresh_catalog: SqliteMatchCatalog) -> None:
    outcome = _run(indexed, fresh_catalog, None)
    twins = indexed.cases.duplicates  # duplicate key -> original key
    assert twins
    originals = set(twins.values())
    for match in outcome.matched:
        if match.rating_key in originals and match.method is not MatchMethod.PATH:
            raise AssertionError(f"a track duplicated in Plex was matched by {match.method}: {match.reason}")
    assert not any(m.rating_key in twins for m in outcome.matched)
    ambiguous = [r for r in outcome.review if "match equally" in r.reason]
    assert all(len(r.candidates) >= 2 for r in ambiguous)


def test_a_second_run_remembers(indexed: IndexedHardCases, fresh_catalog: SqliteMatchCatalog) -> None:
    first = _run(indexed, fresh_catalog, None)
    fresh_catalog.remember(ACCOUNT, "itunes", first.matched)
    second = _run(indexed, fresh_catalog, None)
    assert {m.source.source_id: m.rating_key for m in second.matched} == {
        m.source.source_id: m.rating_key for m in first.matched
    }
    assert all(m.method is MatchMethod.REMEMBERED for m in second.matched)
