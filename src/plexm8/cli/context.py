"""What every command shares: where settings come from, and how a command stops with a one-line error."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import click
from dotenv import dotenv_values

from plexm8.bootstrap import Services, build_services, load_environment_settings
from plexm8.cli.logs import RedactingFilter, configure_logging
from plexm8.config import Settings
from plexm8.core.accounts import PlexAccount
from plexm8.errors import PlexM8Error, SettingsError

__all__ = [
    "DEFAULT_ENV_FILE",
    "CliState",
    "account_services",
    "fail",
    "fail_on_error",
    "load_cli_settings",
    "open_services",
]

DEFAULT_ENV_FILE = Path(".env.local")

#: Exit status for invalid settings or usage, as click uses for usage errors.
EXIT_USAGE = 2
#: Exit status for a runtime failure (Plex unreachable, port in use, ...).
EXIT_FAILURE = 1


@dataclass(frozen=True, slots=True)
class CliState:
    """Options of the ``plexm8`` group that its commands need."""

    env_file: Path | None


def fail(message: str, *, exit_code: int = EXIT_FAILURE) -> NoReturn:
    """Print ``plexm8: error: <message>`` as one line on stderr and exit with ``exit_code``."""
    click.echo(f"plexm8: error: {' '.join(message.split())}", err=True)
    raise click.exceptions.Exit(exit_code)


def fail_on_error(exc: PlexM8Error) -> NoReturn:
    """:func:`fail` for a PlexM8 error: exit 2 for invalid settings, 1 for everything else."""
    fail(exc.message, exit_code=EXIT_USAGE if isinstance(exc, SettingsError) else EXIT_FAILURE)


def load_cli_settings(ctx: click.Context) -> Settings:
    """Settings from the environment over the env file (``--env-file`` or ``./.env.local`` when it exists)."""
    state = ctx.find_object(CliState)
    env_file = state.env_file if state is not None else None
    if env_file is None and DEFAULT_ENV_FILE.is_file():
        env_file = DEFAULT_ENV_FILE
    environ: dict[str, str] = {}
    if env_file is not None:
        environ.update((key, value) for key, value in dotenv_values(env_file).items() if value is not None)
    environ.update(os.environ)
    try:
        return load_environment_settings(environ)
    except SettingsError as exc:
        fail_on_error(exc)


def open_services(ctx: click.Context) -> Services:
    """The wired services for a command: settings loaded, logging quiet (warnings and worse, token redacted).

    The printed output of a command says what INFO lines would; a PlexM8 error while wiring ends the command.
    """
    settings = load_cli_settings(ctx)
    level = settings.log_level if settings.log_level in ("ERROR", "CRITICAL") else "WARNING"
    configure_logging(level, RedactingFilter([settings.plex_token]))
    try:
        return build_services(settings)
    except PlexM8Error as exc:
        fail_on_error(exc)


@contextmanager
def account_services(ctx: click.Context) -> Iterator[tuple[Services, PlexAccount]]:
    """:func:`open_services` and the configured account, closed after; PlexM8 errors inside end the command."""
    with open_services(ctx) as services:
        try:
            yield services, services.account_for(None)
        except PlexM8Error as exc:
            fail_on_error(exc)
