"""``plexm8 serve``: run the service with waitress until interrupted."""

from __future__ import annotations

import dataclasses
import logging
import signal
import threading
from types import FrameType

import click
import waitress

from plexm8.bootstrap import build_services
from plexm8.cli.context import fail, fail_on_error, load_cli_settings
from plexm8.cli.logs import RedactingFilter, configure_logging
from plexm8.errors import PlexM8Error
from plexm8.web import create_app
from plexm8.web.security import LOOPBACK_HOSTS

__all__ = ["serve"]

log = logging.getLogger(__name__)


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
    redactor = RedactingFilter([settings.plex_token])
    configure_logging(settings.log_level, redactor)
    try:
        services = build_services(settings)
    except PlexM8Error as exc:
        fail_on_error(exc)
    redactor.add_secret(services.settings.plex_token)
    with services:
        app = create_app(services=services)
        services.start()
        try:
            server = waitress.create_server(
                app, host=settings.host, port=settings.port, threads=settings.server_threads, ident="PlexM8"
            )
        except OSError as exc:
            fail(f"cannot listen on {settings.host}:{settings.port}: {exc.strerror or exc}")
        if settings.host.strip("[]") not in LOOPBACK_HOSTS:
            log.warning(
                "listening on %s: other machines can reach PlexM8, which holds your Plex token; "
                "requests must still name a loopback host or one of ALLOWED_HOSTS",
                settings.host,
            )
        log.info(
            "PlexM8 in %s mode, Plex at %s, %d request threads",
            services.mode.value,
            services.settings.plex_server_url,
            settings.server_threads,
        )
        server.print_listen("PlexM8 serving on http://{}:{}")
        _interrupt_on_sigterm()
        server.run()
    log.info("PlexM8 stopped")


def _interrupt_on_sigterm() -> None:
    """Treat SIGTERM like Ctrl+C, so that a service manager's stop also closes the demo server and threads."""
    if threading.current_thread() is not threading.main_thread():
        return

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
