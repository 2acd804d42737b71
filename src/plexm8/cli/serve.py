"""``plexm8 serve``: run the service on granian until interrupted.

Why granian rather than a pure-Python server: it reads, parses and writes HTTP in Rust and calls the WSGI app on a
pool of Python threads, so the interpreter (one GIL) spends its time in PlexM8 rather than in socket handling. With
32 clients that never pause, a bare WSGI function answers with p99 ≈ 4-8 ms on granian against 15-23 ms on
waitress on the same 2-core machine (docs/benchmarks.md, "API latency").

granian runs the app in one worker process it supervises: the command's own process checks the settings, binds
the socket and forwards signals; the worker builds the services (Plex connection, index, jobs, the demo server)
from the same settings, serves, and closes them when it is told to stop. One worker, because the services hold
state that must exist once (the job runner, the automatic refresh, the answer caches).
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import multiprocessing.util
import os
import sys
from typing import Any

import click
from granian import Granian
from granian.constants import Interfaces
from granian.log import LogLevels

from plexm8.bootstrap import build_services, make_data_dir
from plexm8.cli.context import fail, fail_on_error, load_cli_settings
from plexm8.cli.logs import RedactingFilter, configure_logging
from plexm8.config import Settings
from plexm8.errors import PlexM8Error, SettingsError
from plexm8.web import create_app
from plexm8.web.security import LOOPBACK_HOSTS

__all__ = ["serve"]

log = logging.getLogger(__name__)

#: Idle request threads live this long (granian's maximum): each keeps its warm SQLite connection and caches.
_THREAD_IDLE_TIMEOUT_S = 600

#: A worker that has not stopped this long after being told to is killed (a job in progress is then recorded as
#: interrupted at the next start, as after a crash).
_STOP_TIMEOUT_S = 20

#: granian's own records go through the root logger (PlexM8's redacting stderr handler), not to its stdout handler.
_GRANIAN_LOGGING: dict[str, Any] = {
    "loggers": {
        "_granian": {"handlers": [], "propagate": True},
        "granian.access": {"handlers": [], "propagate": False, "level": "CRITICAL"},
    }
}


@click.command()
@click.option("--host", metavar="HOST", help="Interface to listen on (overrides HOST; default 127.0.0.1).")
@click.option(
    "--port", type=click.IntRange(1, 65535), metavar="PORT", help="Port to listen on (overrides PORT; default 5000)."
)
@click.pass_context
def serve(ctx: click.Context, host: str | None, port: int | None) -> None:
    """Run the PlexM8 service until interrupted (Ctrl+C).

    Without PLEX_SERVER_URL it runs in demo mode against a built-in sample library. Logs go to stderr, with tokens
    masked.
    """
    settings = load_cli_settings(ctx)
    settings = dataclasses.replace(settings, host=host or settings.host, port=port or settings.port)
    configure_logging(settings.log_level, RedactingFilter([settings.plex_token]))
    logging.getLogger("_granian").addFilter(_quiet_thread_advice)
    try:
        make_data_dir(settings)  # here, so that a bad data directory stops the command with its own message
    except PlexM8Error as exc:
        fail_on_error(exc)
    if settings.host.strip("[]") not in LOOPBACK_HOSTS:
        log.warning(
            "listening on %s: other machines can reach PlexM8, which holds your Plex token; "
            "requests must still name a loopback host or one of ALLOWED_HOSTS",
            settings.host,
        )
    server = Granian(
        "plexm8",  # granian's name for the app; the loader below builds it
        address=settings.host.strip("[]"),
        port=settings.port,
        interface=Interfaces.WSGI,
        workers=1,
        blocking_threads=settings.server_threads,
        blocking_threads_idle_timeout=_THREAD_IDLE_TIMEOUT_S,
        workers_kill_timeout=_STOP_TIMEOUT_S,
        websockets=False,
        log_level=LogLevels(settings.log_level.lower()),
        log_dictconfig=_GRANIAN_LOGGING,
    )
    try:
        server.serve(target_loader=functools.partial(_served_app, settings), wrap_loader=False)
    except RuntimeError as exc:  # granian's bind errors ("Address already in use (os error 98)" and a backtrace)
        fail(f"cannot listen on {settings.host}:{settings.port}: {str(exc).splitlines()[0]}")
    except SystemExit as exc:  # granian exits 1 when its worker stopped on its own (it said why)
        if exc.code:
            raise click.exceptions.Exit(exc.code if isinstance(exc.code, int) else 1) from None
    log.info("PlexM8 stopped")


def _quiet_thread_advice(record: logging.LogRecord) -> bool:
    """Drop granian's advice to run fewer threads than 2 × cores + 1: PlexM8's threads mostly wait on Plex."""
    return not record.getMessage().startswith("Configuration allows spawning up to")


def _served_app(settings: Settings) -> Any:
    """In granian's worker process: build and start the services and return the WSGI app they serve.

    The services close when the worker ends (granian stops it on Ctrl+C or SIGTERM to the command). A failure
    to build them is printed as one line and ends the worker, which ends the command with exit status 1.
    """
    if hasattr(os, "setpgid"):
        # Out of the command's process group: Ctrl+C in a terminal signals the group, and granian's worker, told to
        # stop by that signal and again by its supervisor at once, can hang in its shutdown (granian 2.8). Now
        # only the supervisor signals it, once.
        os.setpgid(0, 0)
    redactor = RedactingFilter([settings.plex_token])
    configure_logging(settings.log_level, redactor)  # a spawned worker starts with no logging configured
    try:
        services = build_services(settings)
    except PlexM8Error as exc:
        click.echo(f"plexm8: error: {' '.join(exc.message.split())}", err=True)
        sys.stderr.flush()
        os._exit(2 if isinstance(exc, SettingsError) else 1)
    redactor.add_secret(services.settings.plex_token)
    app = create_app(services=services)
    services.start()
    # Run by multiprocessing as the worker process ends, after granian has stopped serving.
    multiprocessing.util.Finalize(services, services.close, exitpriority=100)
    log.info(
        "PlexM8 in %s mode, Plex at %s, %d request threads",
        services.mode.value,
        services.settings.plex_server_url,
        settings.server_threads,
    )
    click.echo(f"PlexM8 serving on http://{_url_host(settings.host)}:{settings.port}")
    return app


def _url_host(host: str) -> str:
    """``host`` as it is written in a URL: IPv6 addresses in brackets, and the wildcard as this machine."""
    if host in ("0.0.0.0", "::", "[::]"):  # noqa: S104 - naming the wildcard, not binding to it
        return "localhost"
    return f"[{host.strip('[]')}]" if ":" in host else host
