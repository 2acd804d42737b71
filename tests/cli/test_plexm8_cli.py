"""The plexm8 command line through click's CliRunner: help, version, settings errors, .env.local, health."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

import plexm8
from plexm8.cli import main
from plexsim.demo import DEMO_ADMIN_TOKEN, demo_library
from plexsim.server import RunningServer, start_server

COMMANDS = sorted(main.commands)


@pytest.fixture(scope="module")
def plex() -> Iterator[RunningServer]:
    with start_server(demo_library()) as server:
        yield server


def run(*args: str, env: dict[str, str] | None = None) -> click.testing.Result:
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def test_every_command_has_help_text() -> None:
    assert COMMANDS == ["eval", "health", "index", "jobs", "recommend", "serve", "sync", "undo"]
    assert main.help
    for name in COMMANDS:
        command = main.commands[name]
        assert command.help, f"plexm8 {name} has no help text"
        result = run(name, "--help")
        assert result.exit_code == 0
        # click re-wraps help text to the terminal width: compare words, not lines.
        assert " ".join(command.help.splitlines()[0].split()) in " ".join(result.output.split())
        for parameter in command.params:
            if isinstance(parameter, click.Option):
                assert parameter.help, f"plexm8 {name} {parameter.opts[0]} has no help text"


def test_main_help_lists_the_commands() -> None:
    result = run("--help")
    assert result.exit_code == 0
    for name in COMMANDS:
        assert name in result.output
    assert "--env-file" in result.output


def test_version() -> None:
    result = run("--version")
    assert result.exit_code == 0
    assert result.output == f"plexm8 {plexm8.__version__}\n"


def test_python_dash_m_works() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "plexm8", "--version"], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == f"plexm8 {plexm8.__version__}"


# Every command that reads settings, with the least arguments it runs with; ``eval`` works offline on a dataset folder
# and reads no settings.
SETTINGS_COMMANDS = [["health"], ["index"], ["jobs"], ["recommend"], ["serve"], ["sync", "history"], ["undo", "1"]]


def test_settings_commands_cover_every_command_but_eval() -> None:
    assert sorted({args[0] for args in SETTINGS_COMMANDS} | {"eval"}) == COMMANDS


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("PORT", "abc"),
        ("PORT", "70000"),
        ("PLEX_SERVER_URL", "plex.local:32400"),
        ("LOG_LEVEL", "LOUD"),
        ("CORS_ORIGINS", "not an origin"),
    ],
)
@pytest.mark.parametrize("command", SETTINGS_COMMANDS, ids=" ".join)
def test_invalid_settings_stop_with_one_line_naming_the_setting(command: list[str], variable: str, value: str) -> None:
    result = run(*command, env={variable: value})
    assert result.exit_code == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"plexm8: error: {variable}: ")
    assert "Traceback" not in result.stderr


def test_invalid_cli_port_is_a_usage_error() -> None:
    result = run("serve", "--port", "70000")
    assert result.exit_code == 2
    assert "--port" in result.stderr


def test_missing_env_file_is_a_usage_error() -> None:
    result = run("--env-file", "nowhere.env", "health")
    assert result.exit_code == 2
    assert "nowhere.env" in result.stderr


def test_health_reports_an_unreachable_server(closed_url: str) -> None:
    result = run("health", env={"PLEX_SERVER_URL": closed_url, "PLEX_TOKEN": "tok-secret"})
    assert result.exit_code == 1
    assert result.stdout.startswith(f"Plex (real mode) at {closed_url}: NOT reachable")
    assert "[plex_unavailable]" in result.stdout
    assert "tok-secret" not in result.output


def test_health_against_a_real_server(plex: RunningServer) -> None:
    result = run("health", "--json", env={"PLEX_SERVER_URL": plex.url, "PLEX_TOKEN": DEMO_ADMIN_TOKEN})
    assert result.exit_code == 0
    state = json.loads(result.stdout)
    assert state["mode"] == "real"
    assert state["reachable"] is True
    assert state["server_name"] == demo_library().server.friendly_name
    assert DEMO_ADMIN_TOKEN not in result.output


def test_health_refused_token(plex: RunningServer) -> None:
    result = run("health", "--json", env={"PLEX_SERVER_URL": plex.url, "PLEX_TOKEN": "wrong"})
    assert result.exit_code == 1
    assert json.loads(result.stdout)["error"]["code"] == "plex_unauthorized"


def test_health_in_demo_mode() -> None:
    result = run("health")
    assert result.exit_code == 0
    assert result.stdout.startswith("Plex (demo mode) at http://127.0.0.1:")
    assert "DEMO MODE" in result.stderr


def test_env_local_is_read_and_the_environment_wins(tmp_path: Path, closed_url: str, free_port: int) -> None:
    (tmp_path / ".env.local").write_text(f"PLEX_SERVER_URL={closed_url}\nPLEX_TOKEN=from-file\n", encoding="utf-8")
    from_file = run("health", "--json")
    assert json.loads(from_file.stdout)["server_url"] == closed_url

    other = f"http://127.0.0.1:{free_port}/other"
    from_env = run("health", "--json", env={"PLEX_SERVER_URL": other})
    assert json.loads(from_env.stdout)["server_url"] == other


def test_env_file_option_replaces_env_local(tmp_path: Path) -> None:
    (tmp_path / ".env.local").write_text("PORT=abc\n", encoding="utf-8")
    (tmp_path / "other.env").write_text("LOG_LEVEL=LOUD\n", encoding="utf-8")
    assert "PORT" in run("health").stderr
    result = run("--env-file", "other.env", "health")
    assert result.exit_code == 2
    assert result.stderr.startswith("plexm8: error: LOG_LEVEL: ")


def test_unwritable_data_dir_is_a_settings_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("", encoding="utf-8")
    result = run("health", env={"PLEXM8_DATA_DIR": str(blocker / "data")})
    assert result.exit_code == 2
    assert result.stderr.startswith("plexm8: error: PLEXM8_DATA_DIR: cannot create ")
