"""``plexm8 sync`` and ``plexm8 undo`` end to end: a real iTunes export, plexsim over HTTP, the real SQLite files;
and a sync killed with SIGKILL in the middle of applying, resumed without a single double write."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from urllib.parse import parse_qs

import click
import pytest
from click.testing import CliRunner, Result

from plexm8.cli import main
from plexm8.cli.sync import sync
from plexsim.exports import HardCaseSet, Perturbations, build_hard_case_set
from plexsim.generate import generate_library
from plexsim.server import RunningServer

EXACT = Perturbations(**{f.name: 0 for f in dataclasses.fields(Perturbations)})
DEADLINE_S = 60.0


@pytest.fixture
def hard_cases() -> HardCaseSet:
    return build_hard_case_set(generate_library(tracks=200, seed=9), perturbations=EXACT, seed=4)


def plexm8(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def ratings(sim: RunningServer) -> dict[int, float]:
    with sim.state.lock:
        return {key: info.rating for key, info in sim.state.accounts[1].ratings.items()}


def rate_writes(sim: RunningServer, *, ok_only: bool = True) -> Counter[int]:
    return Counter(
        int(parse_qs(r.query)["key"][0])
        for r in sim.knobs.log
        if r.path == "/:/rate" and r.method == "PUT" and (r.status == 200 or not ok_only)
    )


def test_dry_run_prints_the_summary_writes_the_report_and_nothing_else(
    env: dict[str, str], sim: RunningServer, export: Path, tmp_path: Path
) -> None:
    before = ratings(sim)
    report = tmp_path / "plan.json"
    result = plexm8(env, "sync", "itunes", str(export), "--dry-run", "--report", str(report))

    assert result.exit_code == 0, result.output
    assert "Sync run 1: itunes export 'Library.xml', policy fill, planned" in result.output
    assert "matched             180  by method: path 180" in result.output
    assert "Dry run: nothing written" in result.output
    document = json.loads(report.read_text(encoding="utf-8"))
    assert document["run"] == 1 and len(document["items"]) == 180
    writes = [item for item in document["items"] if item["action"] == "write"]
    assert len(writes) == document["summary"]["updated"] > 0
    assert all(item["status"] == "planned" and item["location"].startswith("C:/") for item in writes)
    assert ratings(sim) == before and sum(rate_writes(sim, ok_only=False).values()) == 0


def test_sync_applies_a_second_sync_writes_nothing_and_undo_restores(
    env: dict[str, str], sim: RunningServer, export: Path, tmp_path: Path
) -> None:
    before = ratings(sim)
    result = plexm8(env, "sync", "itunes", str(export), "--yes", "--report", str(tmp_path / "r.csv"))
    assert result.exit_code == 0, result.output
    applied = rate_writes(sim)
    assert applied and set(applied.values()) == {1}
    assert f"Applied sync run 1: {len(applied)} rating(s) written and confirmed" in result.output
    rows = (tmp_path / "r.csv").read_text(encoding="utf-8").splitlines()
    assert rows[0].startswith("position,kind,action,status") and len(rows) == 181
    assert sum(",confirmed," in row for row in rows) == len(applied)

    sim.knobs.clear_log()
    again = plexm8(env, "sync", "itunes", str(export), "--yes")
    assert again.exit_code == 0 and "Nothing to write" in again.output
    assert "by method: remembered 180" in again.output  # the applied run's matches were remembered
    assert sum(rate_writes(sim, ok_only=False).values()) == 0

    history = plexm8(env, "sync", "history")
    assert history.exit_code == 0 and [line.split()[:2] for line in history.output.splitlines()[1:]] == [
        ["2", "applied"],
        ["1", "applied"],
    ]

    # The user re-rates one track the run wrote; undo leaves that one alone.
    changed = next(iter(applied))
    with sim.state.lock:
        sim.state.rate(sim.state.accounts[1], changed, 1.0)
    undone = plexm8(env, "undo", "1", "--yes")
    assert undone.exit_code == 0, undone.output
    assert f"{len(applied) - 1} rating(s) restored, 1 left as they are" in undone.output
    assert f"refused /library/metadata/{changed}" in undone.output
    after = ratings(sim)
    assert after[changed] == 1.0
    assert {k: v for k, v in after.items() if k != changed} == {k: v for k, v in before.items() if k != changed}


def test_a_bad_file_fails_with_one_line_and_writes_nothing(
    env: dict[str, str], sim: RunningServer, tmp_path: Path
) -> None:
    bad = tmp_path / "Library.xml"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    result = CliRunner().invoke(main, ["sync", "itunes", str(bad), "--yes"], env=env)
    assert result.exit_code == 1
    assert result.output.startswith("plexm8: error: Library.xml:") and result.output.count("\n") == 1
    assert plexm8(env, "sync", "history").output.strip() == "No sync runs yet."
    assert sum(rate_writes(sim, ok_only=False).values()) == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--report", "plan.txt"], "--report must end in .csv or .json"),
        (["--policy", "two-way"], "needs --winner"),
        (["--path-map", "C:/Music"], "--path-map takes"),
    ],
)
def test_bad_options_are_usage_errors(
    env: dict[str, str], sim: RunningServer, export: Path, args: list[str], message: str
) -> None:
    result = CliRunner().invoke(main, ["sync", "itunes", str(export), *args], env=env)
    assert result.exit_code == 2 and message in result.output
    assert sum(rate_writes(sim, ok_only=False).values()) == 0


def test_unknown_runs_are_one_line_errors(env: dict[str, str], sim: RunningServer) -> None:
    for args in (["sync", "show", "7"], ["sync", "apply", "7"], ["undo", "7"]):
        result = CliRunner().invoke(main, args, env=env)
        assert result.exit_code == 1 and result.output == "plexm8: error: no sync run has id 7\n"


@pytest.mark.slow
def test_a_sync_killed_mid_apply_resumes_without_double_writes(
    env: dict[str, str], sim: RunningServer, export: Path
) -> None:
    before = ratings(sim)
    planned = plexm8(env, "sync", "itunes", str(export), "--dry-run", "--policy", "overwrite")
    assert planned.exit_code == 0, planned.output
    sim.knobs.configure(latency_ms=25)
    sim.knobs.clear_log()
    child = subprocess.Popen(
        [sys.executable, "-m", "plexm8", "sync", "apply", "1", "--yes"],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + DEADLINE_S
        while sum(rate_writes(sim).values()) < 40:
            assert child.poll() is None, "the apply finished before it could be killed"
            assert time.monotonic() < deadline
            time.sleep(0.01)
        child.send_signal(signal.SIGKILL)
    finally:
        child.wait(DEADLINE_S)
    time.sleep(0.2)  # requests the killed process left in flight reach the server
    landed_before_resume = rate_writes(sim)
    assert len(landed_before_resume) >= 40
    show = plexm8(env, "sync", "show", "1", "--status", "written", "--limit", "1")
    assert "Sync run 1: itunes export 'Library.xml', policy overwrite, applying" in show.output
    sim.knobs.configure(latency_ms=0)

    resumed = plexm8(env, "sync", "apply", "1", "--yes")

    assert resumed.exit_code == 0, resumed.output
    writes = rate_writes(sim)
    assert set(writes.values()) == {1}, "a rating was written twice"
    assert "Applied sync run 1:" in resumed.output
    confirmed = int(resumed.output.split("Applied sync run 1: ")[1].split()[0])
    assert confirmed == len(writes) > len(landed_before_resume)
    undone = plexm8(env, "undo", "1", "--yes")
    assert undone.exit_code == 0 and "0 left as they are" in undone.output
    assert ratings(sim) == before


def test_every_sync_command_and_option_has_help_text() -> None:
    commands: list[click.Command] = [main.commands["undo"], *sync.commands.values()]
    assert sync.help and sorted(sync.commands) == [
        "apply",
        "foobar2000",
        "history",
        "itunes",
        "musicbee",
        "resolve",
        "show",
        "tags",
    ]
    for command in commands:
        assert command.help, f"{command.name} has no help text"
        for parameter in command.params:
            if isinstance(parameter, click.Option):
                assert parameter.help, f"{command.name} {parameter.opts[0]} has no help text"
    result = CliRunner().invoke(main, ["sync", "itunes", "--help"])
    assert result.exit_code == 0 and "--policy [fill|overwrite|higher|two-way]" in result.output


def test_tags_sync_reads_a_folder_of_tagged_files(env: dict[str, str], sim: RunningServer, tmp_path: Path) -> None:
    mutagen_id3 = pytest.importorskip("mutagen.id3")
    rated = ratings(sim)
    with sim.state.lock:
        tracks = [t for t in sim.state.default_tracks if t.file.endswith(".mp3") and t.id not in rated][:4]
    assert len(tracks) == 4
    root = tmp_path / "music"
    for track in tracks:
        path = root / track.file.removeprefix("/data/music/")
        path.parent.mkdir(parents=True, exist_ok=True)
        # One silent MPEG frame repeated: enough for mutagen to read the file; WMP's POPM 196 is four stars.
        path.write_bytes((b"\xff\xfb\x90\x00" + bytes(413)) * 20)
        tags = mutagen_id3.ID3()
        tags.add(mutagen_id3.TIT2(encoding=3, text=track.title))
        tags.add(mutagen_id3.POPM(email="Windows Media Player 9 Series", rating=196, count=0))
        tags.save(path)

    result = plexm8(env, "sync", "tags", str(root), "--path-map", f"{root.as_posix()}=/data/music", "--yes")

    assert result.exit_code == 0, result.output
    assert "Applied sync run 1: 4 rating(s) written and confirmed" in result.output
    assert {k: v for k, v in ratings(sim).items() if k not in rated} == {t.id: 8.0 for t in tracks}
