"""``plexm8 sync resolve`` end to end: a real iTunes export whose duplicated Plex tracks send some tracks to review,
plexsim over HTTP, the real SQLite files; what the next apply writes is read from plexsim's request log."""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
from click.testing import CliRunner, Result

from plexm8.cli import main
from plexsim.exports import HardCaseSet, Perturbations, build_hard_case_set
from plexsim.generate import generate_library
from plexsim.server import RunningServer

#: Every file moved (metadata must match) and a tenth of the tracks duplicated in Plex: those go to review.
DUPLICATED = dataclasses.replace(
    Perturbations(**{f.name: 0 for f in dataclasses.fields(Perturbations)}), moved=1.0, plex_duplicates=0.1
)


@pytest.fixture
def hard_cases() -> HardCaseSet:
    return build_hard_case_set(generate_library(tracks=120, seed=5), perturbations=DUPLICATED, seed=3)


def plexm8(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def rate_writes(sim: RunningServer) -> Counter[int]:
    return Counter(
        int(parse_qs(r.query)["key"][0])
        for r in sim.knobs.log
        if r.path == "/:/rate" and r.method == "PUT" and r.status == 200
    )


def admin_ratings(sim: RunningServer) -> dict[int, float]:
    with sim.state.lock:
        return {key: info.rating for key, info in sim.state.accounts[1].ratings.items()}


def planned(env: dict[str, str], export: Path, report: Path) -> list[dict[str, Any]]:
    """Plan a dry run of ``export`` and return the report's items."""
    result = plexm8(env, "sync", "itunes", str(export), "--dry-run", "--report", str(report))
    assert result.exit_code == 0, result.output
    items: list[dict[str, Any]] = json.loads(report.read_text(encoding="utf-8"))["items"]
    return items


def candidates(item: dict[str, Any]) -> list[int]:
    return [int(key.rsplit("/", 1)[1]) for key in item["candidates"].split()]


def test_resolve_then_apply_writes_the_chosen_track_and_nothing_for_a_dismissed_one(
    env: dict[str, str], sim: RunningServer, export: Path, tmp_path: Path
) -> None:
    items = planned(env, export, tmp_path / "plan.json")
    review = [item for item in items if item["kind"] == "review"]
    writes = {int(item["track_key"].rsplit("/", 1)[1]) for item in items if item["action"] == "write"}
    rated = admin_ratings(sim)
    chosen_item, chosen = next((i, k) for i in review for k in candidates(i) if k not in rated)
    dismissed_item = next(item for item in review if item is not chosen_item)

    result = plexm8(env, "sync", "resolve", "1", str(chosen_item["position"]), "--track", str(chosen))
    assert result.exit_code == 0, result.output
    assert f"Item {chosen_item['position']} of sync run 1 matched to /library/metadata/{chosen}: write" in result.output
    assert "chosen by you from 2 candidates" in result.output and "Remembered for the next sync" in result.output
    assert f"  {'review':<15} {len(review) - 1:>7}" in result.output

    result = plexm8(env, "sync", "resolve", "1", str(dismissed_item["position"]), "--dismiss")
    assert result.exit_code == 0, result.output
    assert f"Dismissed item {dismissed_item['position']} of sync run 1" in result.output
    assert f"  {'dismissed':<15} {1:>7}  review items you dismissed" in result.output
    shown = plexm8(env, "sync", "show", "1", "--status", "dismissed")
    assert shown.exit_code == 0 and "dismissed by you" in shown.output

    sim.knobs.clear_log()
    result = plexm8(env, "sync", "apply", "1", "--yes")
    assert result.exit_code == 0, result.output
    assert rate_writes(sim) == {key: 1 for key in writes | {chosen}}
    assert admin_ratings(sim)[chosen] == float(chosen_item["source_rating"])

    # The next sync of the same export matches the chosen track from memory.
    again = planned(env, export, tmp_path / "again.json")
    (remembered,) = [item for item in again if item["location"] == chosen_item["location"]]
    assert (remembered["kind"], remembered["method"]) == ("matched", "remembered")
    assert remembered["track_key"] == f"/library/metadata/{chosen}" and remembered["action"] == "noop"
    assert sum(item["kind"] == "review" for item in again) == len(review) - 1


def test_resolve_refusals_are_one_line_errors(
    env: dict[str, str], sim: RunningServer, export: Path, tmp_path: Path
) -> None:
    items = planned(env, export, tmp_path / "plan.json")
    review = [item for item in items if item["kind"] == "review"]
    position = str(review[0]["position"])
    for args, code, message in (
        ([position], 2, "give exactly one of --track KEY and --dismiss"),
        ([position, "--track", "5", "--dismiss"], 2, "give exactly one of --track KEY and --dismiss"),
        (["99999", "--dismiss"], 1, "plexm8: error: sync run 1 has no item 99999\n"),
        (["0", "--dismiss"], 1, "is not a review item"),
        ([position, "--track", "999999"], 1, "no indexed track has rating key 999999"),
    ):
        result = CliRunner().invoke(main, ["sync", "resolve", "1", *args], env=env)
        assert result.exit_code == code and message in result.output, (args, result.output)
        assert len(result.output.strip().splitlines()) == 1
    assert CliRunner().invoke(main, ["sync", "resolve", "7", "0", "--dismiss"], env=env).output == (
        "plexm8: error: no sync run has id 7\n"
    )

    assert plexm8(env, "sync", "apply", "1", "--yes").exit_code == 0
    result = CliRunner().invoke(main, ["sync", "resolve", "1", position, "--dismiss"], env=env)
    assert result.exit_code == 1 and "sync run 1 is applied" in result.output
    report = tmp_path / "after.json"
    assert plexm8(env, "sync", "show", "1", "--report", str(report)).exit_code == 0
    after = json.loads(report.read_text(encoding="utf-8"))["items"]
    assert [item for item in after if item["kind"] == "review"] == review
