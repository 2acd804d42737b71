"""A hard-case set served by plexsim, indexed over HTTP by the real indexer into a real SQLite file.

Module-scoped per platform: building the index once keeps the suite fast; tests never write to it except through
``SqliteMatchCatalog.remember`` on their own copy (see ``fresh_catalog``).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from plexm8.plex.section_reader import PlexSectionReader
from plexm8.services.indexing import refresh_index
from plexm8.store import SqliteLibraryStore
from plexm8.store.match_catalog import SqliteMatchCatalog
from plexsim.exports import HardCaseSet, build_hard_case_set, write_ground_truth, write_itunes_xml
from plexsim.generate import generate_library
from plexsim.server import start_server

ACCOUNT = "admin"


@dataclass(frozen=True, slots=True)
class IndexedHardCases:
    """A hard-case set, its iTunes export and ground truth on disk, and the index built from its Plex side."""

    cases: HardCaseSet
    export: Path
    truth: Path
    database: Path


def _indexed(tmp: Path, platform: str) -> IndexedHardCases:
    cases = build_hard_case_set(generate_library(tracks=1500, seed=11), seed=11, platform=platform)
    export = tmp / "Library.xml"
    truth = tmp / "truth.json"
    write_itunes_xml(cases.tracks, export, platform=platform)
    write_ground_truth(cases, truth)
    database = tmp / "index.db"
    with start_server(cases.library) as plex:
        store = SqliteLibraryStore(database)
        try:
            refresh_index(PlexSectionReader(plex.url, plex.admin_token, page_size=500), store, account=ACCOUNT)
        finally:
            store.close()
    return IndexedHardCases(cases, export, truth, database)


@pytest.fixture(scope="module", params=["windows", "macos"])
def indexed(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> IndexedHardCases:
    platform: str = request.param
    return _indexed(tmp_path_factory.mktemp(f"hard-cases-{platform}"), platform)


@pytest.fixture
def fresh_catalog(indexed: IndexedHardCases, tmp_path: Path) -> Iterator[SqliteMatchCatalog]:
    """A catalog store on a private copy of the index, so remembered matches do not leak between tests."""
    copy = tmp_path / "index.db"
    for suffix in ("", "-wal"):
        if Path(f"{indexed.database}{suffix}").exists():
            shutil.copyfile(f"{indexed.database}{suffix}", f"{copy}{suffix}")
    catalog = SqliteMatchCatalog(copy)
    yield catalog
    catalog.close()
