"""``SERVER_THREADS``: how many threads of the HTTP server answer requests (1-256)."""

from __future__ import annotations

from pathlib import Path

import pytest

from plexm8.config import DEFAULT_SERVER_THREADS, SETTING_NAMES, load_settings
from plexm8.errors import SettingsError


def test_default(tmp_path: Path) -> None:
    assert "SERVER_THREADS" in SETTING_NAMES
    assert load_settings({}, default_data_dir=tmp_path).server_threads == DEFAULT_SERVER_THREADS == 4
    assert load_settings({"SERVER_THREADS": "  "}, default_data_dir=tmp_path).server_threads == 4


@pytest.mark.parametrize(("text", "threads"), [("1", 1), ("4", 4), (" 32 ", 32), ("256", 256)])
def test_valid_values(tmp_path: Path, text: str, threads: int) -> None:
    assert load_settings({"SERVER_THREADS": text}, default_data_dir=tmp_path).server_threads == threads


@pytest.mark.parametrize("text", ["0", "257", "-4", "4.5", "eight", "1e2", "\u0663"])
def test_invalid_values_name_the_variable(tmp_path: Path, text: str) -> None:
    with pytest.raises(SettingsError, match=r"^SERVER_THREADS: .*1-256") as caught:
        load_settings({"SERVER_THREADS": text}, default_data_dir=tmp_path)
    assert caught.value.setting == "SERVER_THREADS"
