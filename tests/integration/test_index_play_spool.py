"""A large history read in a worker process into a spool file: the same plays as read here, errors as themselves."""

from __future__ import annotations

import logging
import os
import time
from dataclasses import replace
from pathlib import Path

import pytest

from plexm8.errors import PlexAuthError, PlexUnavailable
from plexm8.plex.section_reader import PlexSectionReader
from plexm8.services.indexing import refresh_index
from plexm8.store import SqliteLibraryStore
from plexm8.store.play_spool import PREFIX, SqlitePlaySpool
from plexsim.generate import generate_library
from plexsim.library import Library
from plexsim.server import RunningServer

HISTORY = "/status/sessions/history/all"


@pytest.fixture(scope="module")
def library() -> Library:
    return generate_library(tracks=400, seed=21)


def reader_for(plex: RunningServer, **options: object) -> PlexSectionReader:
    return PlexSectionReader(plex.url, plex.admin_token, page_size=100, **options)  # type: ignore[arg-type]


def spools_in(directory: Path) -> list[Path]:
    return sorted(directory.glob(f"{PREFIX}*"))


@pytest.mark.parametrize("json", [True, False], ids=["json", "xml"])
def test_a_build_with_its_history_spooled_in_a_worker_stores_what_a_build_reading_it_here_stores(
    plex: RunningServer, tmp_path: Path, json: bool
) -> None:
    for name in ("here", "spooled"):
        (tmp_path / name).mkdir()
    here = SqliteLibraryStore(tmp_path / "here" / "index.db")
    spooled = SqliteLibraryStore(tmp_path / "spooled" / "index.db")
    first = refresh_index(reader_for(plex, json=json), here, account="a", spool_plays_above=None)
    second = refresh_index(reader_for(plex, json=json), spooled, account="a", spool_plays_above=0)
    plays = here.plays("a")
    assert len(plays) > 300  # several history pages of 100
    assert spooled.plays("a") == plays
    assert second.plays_added == first.plays_added == len(plays)
    assert replace(spooled.cursor("a"), refreshed_at=0) == replace(here.cursor("a"), refreshed_at=0)
    assert replace(second.counts, refreshed_at=0) == replace(first.counts, refreshed_at=0)
    # The spool file is gone once the build is over.
    assert spools_in(tmp_path / "spooled") == []
    # An incremental refresh after a spooled build reads only the newer plays, here (no worker for a refresh).
    plex.state.record_play(plex.state.accounts[1], next(iter(plex.state.tracks)))
    again = refresh_index(reader_for(plex, json=json), spooled, account="a", spool_plays_above=0)
    assert not again.full and again.plays_added == 1
    assert len(spooled.plays("a")) == len(plays) + 1


def test_a_worker_killed_part_way_means_the_history_is_read_here(
    plex: RunningServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    expected = [row for page in reader_for(plex).download_history() for row in page()]
    # Slow enough that the worker is still reading when it is killed.
    plex.knobs.configure(slow_path=f"^{HISTORY}$", slow_ms=300)
    spool = SqlitePlaySpool(reader_for(plex).play_source(), tmp_path)
    try:
        worker = spool._process
        assert worker is not None
        worker.kill()
        with caplog.at_level(logging.WARNING, logger="plexm8.store.play_spool"):
            path, plays, high = spool.finish()
        assert "the history worker did not finish (exit code -9); reading the history here" in caplog.text
        assert plays == len({row[0] for row in expected})
        assert high == max(row[2] for row in expected)
        assert path.exists()
    finally:
        spool.close()
    assert spools_in(tmp_path) == []


@pytest.mark.parametrize(
    ("fault", "error", "message"),
    [
        ({"fail_path": f"^{HISTORY}$", "fail_status": 500}, PlexUnavailable, "failed with HTTP 500"),
        ({"unauthorized_after": 0}, PlexAuthError, "refused the token"),
    ],
    ids=["server-error", "token-refused"],
)
def test_the_workers_plex_error_is_raised_here_as_itself(
    plex: RunningServer, tmp_path: Path, fault: dict[str, object], error: type[Exception], message: str
) -> None:
    source = reader_for(plex).play_source()  # asks for the section now, before the fault
    plex.knobs.configure(**fault)  # type: ignore[arg-type]
    spool = SqlitePlaySpool(source, tmp_path)
    try:
        with pytest.raises(error, match=message):
            spool.finish()
        worker = spool._process
        assert worker is not None and worker.exitcode == 0  # it reported the error, then ended normally
    finally:
        spool.close()
    assert spools_in(tmp_path) == []


def test_a_build_whose_spooled_history_fails_keeps_the_previous_index(plex: RunningServer, tmp_path: Path) -> None:
    store = SqliteLibraryStore(tmp_path / "index.db")
    refresh_index(reader_for(plex), store, account="a")
    before = (store.counts("a"), store.plays("a"), store.cursor("a"))
    plex.knobs.configure(fail_path=f"^{HISTORY}$", fail_status=503)
    with pytest.raises(PlexUnavailable, match="HTTP 503"):
        refresh_index(reader_for(plex), store, account="a", full=True, spool_plays_above=0)
    assert (store.counts("a"), store.plays("a"), store.cursor("a")) == before
    deadline = time.monotonic() + 10
    while spools_in(tmp_path) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert spools_in(tmp_path) == []


def test_spool_files_left_by_killed_processes_are_removed_after_an_hour(plex: RunningServer, tmp_path: Path) -> None:
    old, recent = tmp_path / f"{PREFIX}1-old.db", tmp_path / f"{PREFIX}2-recent.db"
    for leftover in (old, recent):
        leftover.write_bytes(b"")
    hours_ago = time.time() - 2 * 3600
    os.utime(old, (hours_ago, hours_ago))
    spool = SqlitePlaySpool(reader_for(plex).play_source(), tmp_path, in_process=True)
    try:
        assert not old.exists() and recent.exists()
        _, plays, _ = spool.finish()
        assert plays > 0
    finally:
        spool.close()
    assert spools_in(tmp_path) == [recent]
