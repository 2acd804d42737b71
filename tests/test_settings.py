"""Settings: defaults, parsing, and one-line errors that name the offending variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from plexm8.config import DEFAULT_CORS_ORIGINS, Settings, load_settings
from plexm8.errors import PlexM8Error, SettingsError

DATA = Path("/var/lib/plexm8-test")


def load(**environ: str) -> Settings:
    return load_settings(environ, default_data_dir=DATA)


def test_defaults() -> None:
    settings = load()
    assert settings.plex_server_url is None
    assert settings.plex_token is None
    assert settings.host == "127.0.0.1"
    assert settings.port == 5000
    assert settings.debug is False
    assert settings.log_level == "INFO"
    assert settings.data_dir == DATA
    assert settings.allowed_hosts == ()
    assert settings.plex_timeout == 10.0
    assert settings.plex_check_interval == 60.0
    assert settings.cors_origins == DEFAULT_CORS_ORIGINS


def test_default_origins_are_the_web_app_and_local_dev_servers() -> None:
    assert DEFAULT_CORS_ORIGINS[0] == "https://plexm8.netlify.app"
    for port in (5000, 3000, 5173, 8888):
        assert f"http://localhost:{port}" in DEFAULT_CORS_ORIGINS
        assert f"http://127.0.0.1:{port}" in DEFAULT_CORS_ORIGINS


def test_every_variable_is_read() -> None:
    settings = load(
        PLEX_SERVER_URL="https://plex.example.com:32400/",
        PLEX_TOKEN="secret-token",
        HOST="0.0.0.0",
        PORT="5123",
        DEBUG="yes",
        LOG_LEVEL="warning",
        CORS_ORIGINS="https://App.Example.com, http://localhost:4000,,",
        ALLOWED_HOSTS="MyPC.local, [::1]",
        PLEXM8_DATA_DIR="/tmp/plexm8-data",
        PLEX_TIMEOUT="2.5",
        PLEX_CHECK_INTERVAL="30",
    )
    assert settings.plex_server_url == "https://plex.example.com:32400"
    assert settings.plex_token == "secret-token"
    assert settings.host == "0.0.0.0"
    assert settings.port == 5123
    assert settings.debug is True
    assert settings.log_level == "WARNING"
    assert settings.cors_origins == ("https://app.example.com", "http://localhost:4000")
    assert settings.allowed_hosts == ("mypc.local", "::1")
    assert settings.data_dir == Path("/tmp/plexm8-data")
    assert settings.plex_timeout == 2.5
    assert settings.plex_check_interval == 30.0


def test_empty_values_mean_default() -> None:
    assert load(PORT="", PLEX_SERVER_URL="  ", CORS_ORIGINS="") == load()


def test_debug_makes_debug_the_default_log_level() -> None:
    assert load(DEBUG="true").log_level == "DEBUG"
    assert load(DEBUG="true", LOG_LEVEL="ERROR").log_level == "ERROR"
    assert load(DEBUG="0").debug is False


def test_token_is_not_in_repr() -> None:
    assert "secret-token" not in repr(load(PLEX_TOKEN="secret-token"))


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("PORT", "abc"),
        ("PORT", "70000"),
        ("PORT", "0"),
        ("PORT", "-1"),
        ("PLEX_SERVER_URL", "plex.local:32400"),
        ("PLEX_SERVER_URL", "ftp://plex.local"),
        ("PLEX_SERVER_URL", "http://"),
        ("PLEX_SERVER_URL", "http://plex.local:99999"),
        ("PLEX_SERVER_URL", "http://plex.local:32400/?X-Plex-Token=abc"),
        ("PLEX_SERVER_URL", "http://user:pass@plex.local:32400"),
        ("LOG_LEVEL", "LOUD"),
        ("DEBUG", "maybe"),
        ("CORS_ORIGINS", "plexm8.netlify.app"),
        ("CORS_ORIGINS", "https://plexm8.netlify.app/"),
        ("CORS_ORIGINS", "https://ok.example, *"),
        ("CORS_ORIGINS", "http://localhost:abc"),
        ("ALLOWED_HOSTS", "http://mypc.local"),
        ("ALLOWED_HOSTS", "mypc.local:5000"),
        ("PLEX_TIMEOUT", "soon"),
        ("PLEX_TIMEOUT", "0"),
        ("PLEX_CHECK_INTERVAL", "nan"),
    ],
)
def test_invalid_values_raise_a_one_line_error_naming_the_variable(variable: str, value: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load(**{variable: value})
    assert caught.value.setting == variable
    assert str(caught.value).startswith(f"{variable}: ")
    assert "\n" not in str(caught.value)
    assert isinstance(caught.value, PlexM8Error)


def test_token_in_server_url_is_not_echoed() -> None:
    with pytest.raises(SettingsError) as caught:
        load(PLEX_SERVER_URL="http://plex.local:32400/?X-Plex-Token=abcdef")
    assert "abcdef" not in str(caught.value)


def test_template_documents_every_setting() -> None:
    """``.env.local.template`` names every variable load_settings reads, and nothing it does not."""
    from plexm8.config import SETTING_NAMES

    template = Path(__file__).resolve().parents[1] / ".env.local.template"
    names = {
        line.split("=", 1)[0].strip()
        for line in template.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.lstrip().startswith("#") and "=" in line
    }
    assert names == set(SETTING_NAMES)
