"""The ``plexsim`` command line: help on every command, generate, and one-line errors for bad input."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from plexsim.cli import main
from plexsim.library import load_library


@pytest.mark.parametrize("name", sorted(main.commands))
def test_every_command_has_help(name: str) -> None:
    command = main.commands[name]
    assert command.help
    for param in command.params:
        if isinstance(param, click.Option):
            assert param.help, f"{name} {param.opts}"
    result = CliRunner().invoke(main, [name, "--help"])
    assert result.exit_code == 0


def test_generate_writes_a_loadable_library(tmp_path: Path) -> None:
    out = tmp_path / "lib.json"
    result = CliRunner().invoke(main, ["generate", "--tracks", "40", "--seed", "2", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert len(load_library(out).tracks) == 40


@pytest.mark.parametrize("content", [None, "{not json", '{"format": "plexsim-library", "version": 99}'])
def test_serve_rejects_bad_library_files(tmp_path: Path, content: str | None) -> None:
    path = tmp_path / "lib.json"
    if content is not None:
        path.write_text(content)
    result = CliRunner().invoke(main, ["serve", "--library", str(path), "--port", "0"])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: cannot load")
