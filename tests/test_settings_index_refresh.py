"""``INDEX_REFRESH_INTERVAL``: the seconds between automatic index refreshes (0 turns them off)."""

from __future__ import annotations

from pathlib import Path

import pytest

from plexm8.config import DEFAULT_INDEX_REFRESH_INTERVAL, load_settings
from plexm8.errors import SettingsError


def test_default_is_fifteen_minutes(tmp_path: Path) -> None:
    assert DEFAULT_INDEX_REFRESH_INTERVAL == 900
    assert load_settings({}, default_data_dir=tmp_path).index_refresh_interval == 900
    assert load_settings({"INDEX_REFRESH_INTERVAL": " "}, default_data_dir=tmp_path).index_refresh_interval == 900


@pytest.mark.parametrize(("text", "seconds"), [("0", 0.0), ("60", 60.0), ("0.5", 0.5), ("604800", 604800.0)])
def test_valid_values(tmp_path: Path, text: str, seconds: float) -> None:
    settings = load_settings({"INDEX_REFRESH_INTERVAL": text}, default_data_dir=tmp_path)
    assert settings.index_refresh_interval == seconds


@pytest.mark.parametrize("text", ["-1", "604801", "soon", "nan", "inf", "1e9"])
def test_invalid_values_name_the_variable(tmp_path: Path, text: str) -> None:
    with pytest.raises(SettingsError, match=r"^INDEX_REFRESH_INTERVAL: ") as caught:
        load_settings({"INDEX_REFRESH_INTERVAL": text}, default_data_dir=tmp_path)
    assert caught.value.setting == "INDEX_REFRESH_INTERVAL"
