"""``plexm8 index`` and ``plexm8 jobs`` through click's CliRunner against plexsim over loopback HTTP."""

from __future__ import annotations

import io
import json
import os
import re
import threading
from collections.abc import Iterator

import click
import pytest
from click.testing import CliRunner

from plexm8.bootstrap import build_services, load_environment_settings
from plexm8.cli import main
from plexm8.cli.index import ProgressPrinter
from plexm8.core.jobs import JobState
from plexm8.services.library import INDEX_REFRESH_JOB
from plexsim.generate import ADMIN_TOKEN, generate_library
from plexsim.library import Library
from plexsim.server import RunningServer, start_server


@pytest.fixture(scope="module")
def library() -> Library:
    return generate_library(tracks=250, seed=4)


@pytest.fixture
def plex(library: Library) -> Iterator[RunningServer]:
    with start_server(library) as server:
        yield server


def run(*args: str, env: dict[str, str] | None = None) -> click.testing.Result:
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def env_for(plex: RunningServer, token: str = ADMIN_TOKEN) -> dict[str, str]:
    return {"PLEX_SERVER_URL": plex.url, "PLEX_TOKEN": token}


def test_index_prints_plain_progress_lines_and_a_summary(plex: RunningServer, library: Library) -> None:
    result = run("index", env=env_for(plex))
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    # Not a terminal: plain lines, each stage's first report and its completion.
    assert f"tracks {len(library.tracks)}/{len(library.tracks)}" in lines
    assert f"albums {len(library.albums)}/{len(library.albums)}" in lines
    assert f"artists {len(library.artists)}/{len(library.artists)}" in lines
    assert "tracks 0" in lines
    assert not any("\r" in line for line in lines)
    assert lines[-2].startswith("Index updated (full build) in ")
    added = len(library.tracks) + len(library.albums) + len(library.artists)
    assert f": {added} added, 0 updated, 0 deleted" in lines[-2]
    assert lines[-1].startswith(f"The index holds {len(library.tracks)} tracks, {len(library.albums)} albums")
    assert ADMIN_TOKEN not in result.output

    again = run("index", env=env_for(plex))
    assert again.exit_code == 0
    assert "Index updated (incremental refresh)" in again.stdout
    assert ": 0 added, 0 updated, 0 deleted" in again.stdout

    full = run("index", "--full", env=env_for(plex))
    assert full.exit_code == 0
    assert "Index updated (full build)" in full.stdout


def test_jobs_lists_the_refreshes(plex: RunningServer) -> None:
    assert run("jobs").stdout.strip() == "No jobs yet."
    assert run("index", env=env_for(plex)).exit_code == 0
    plex.knobs.configure(fail_path="/library/sections/[0-9]+/all", fail_status=500)
    assert run("index", env=env_for(plex)).exit_code == 1
    listing = run("jobs")
    assert listing.exit_code == 0
    header, failed, succeeded = listing.stdout.splitlines()
    assert header.split() == ["id", "kind", "state", "created", "took", "outcome"]
    assert re.match(r"\s*1\s+index_refresh\s+succeeded\s", succeeded)
    assert "added" in succeeded
    assert re.match(r"\s*2\s+index_refresh\s+failed\s", failed)
    assert failed.endswith("[plex_unavailable]")
    assert ADMIN_TOKEN not in listing.output


def test_jobs_json(plex: RunningServer) -> None:
    run("index", env=env_for(plex))
    result = run("jobs", "--json", "--limit", "5")
    assert result.exit_code == 0
    [job] = [json.loads(line) for line in result.stdout.splitlines()]
    assert job["kind"] == "index_refresh" and job["state"] == "succeeded"
    assert job["counts"]["added"] > 0
    assert ADMIN_TOKEN not in result.stdout


def test_index_fails_with_one_line_when_plex_is_down(closed_url: str) -> None:
    result = run("index", env={"PLEX_SERVER_URL": closed_url, "PLEX_TOKEN": "tok-secret"})
    assert result.exit_code == 1
    [line] = result.stderr.splitlines()
    assert line.startswith("plexm8: error: ")
    assert "cannot connect" in line or "did not answer" in line
    assert "tok-secret" not in result.output


def test_index_fails_when_plex_goes_away_mid_refresh(plex: RunningServer) -> None:
    plex.knobs.configure(drop_path="/library/sections/[0-9]+/all")
    result = run("index", env=env_for(plex))
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1].startswith("plexm8: error: ")
    assert "Index updated" not in result.stdout
    listing = run("jobs", "--json")
    [job] = [json.loads(line) for line in listing.stdout.splitlines()]
    assert job["state"] == "failed" and job["error"]["code"] == "plex_unavailable"


def test_index_refused_token(plex: RunningServer) -> None:
    result = run("index", env=env_for(plex, token="wrong-token"))
    assert result.exit_code == 1
    assert "refused the token" in result.stderr
    assert "wrong-token" not in result.output


def test_progress_on_a_terminal_redraws_one_line_per_stage() -> None:
    stream = io.StringIO()
    printer = ProgressPrinter(stream, terminal=True)
    for done in (0, 50, 100):
        printer("tracks", done, 100)
    printer("playlists", 1, None)
    printer("done", 1, 1)
    text = stream.getvalue()
    assert text.count("\n") == 2
    first, second = text.split("\n")[:2]
    assert first.count("\r") == 3
    assert first.rsplit("\r", 1)[1].startswith("tracks") and first.endswith("100/100")
    assert "#" * 30 in first
    assert second.strip() == "playlists        1"


def test_index_and_jobs_have_help() -> None:
    for name in ("index", "jobs"):
        result = run(name, "--help")
        assert result.exit_code == 0
        assert main.commands[name].help
    assert "--full" in run("index", "--help").stdout


def test_index_follows_a_refresh_another_runner_has_under_way(plex: RunningServer, library: Library) -> None:
    """A second `plexm8 index` while the service refreshes the same account shows that refresh, not its own."""
    # Each listing page of the service's refresh takes 4 s (the first pages of all listings are asked for at once),
    # so it is still running once the CLI has started.
    plex.knobs.configure(slow_path=r"^/library/sections/\d+/all$", slow_ms=4000)
    environ = {**env_for(plex), "INDEX_REFRESH_INTERVAL": "0"}
    with build_services(load_environment_settings({**os.environ, **environ})) as service:
        account = service.account_for(None)
        job = service.index.start_refresh(account)
        followed = threading.Event()
        outcome: dict[str, click.testing.Result] = {}

        def cli() -> None:
            outcome["result"] = run("index", env=environ)
            followed.set()

        thread = threading.Thread(target=cli)
        thread.start()
        thread.join(timeout=120)
        assert followed.is_set()
        result = outcome["result"]
        assert result.exit_code == 0, result.output
        assert f"already running in another PlexM8 process (job {job.id}); following it." in result.stderr
        assert f"The refresh (job {job.id}) succeeded:" in result.stdout
        # The recorded progress of the service's refresh is shown as it is sampled (at least one stage line).
        assert any(re.fullmatch(r"[a-z]+ \d+(/\d+)?", line) for line in result.stdout.splitlines()), result.stdout
        refreshes = service.jobs.list(kind=INDEX_REFRESH_JOB, account=account.key)
        assert [j.id for j in refreshes] == [job.id], "the CLI must not have started a second refresh"
        assert service.jobs.get(job.id).state is JobState.SUCCEEDED
