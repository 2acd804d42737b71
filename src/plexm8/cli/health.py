"""``plexm8 health``: check the Plex connection now, with the service's settings, and print the result."""

from __future__ import annotations

import json

import click

from plexm8.cli.context import EXIT_FAILURE, open_services
from plexm8.core.models import ConnectionStatus
from plexm8.web.api.health import plex_state_json

__all__ = ["health"]


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the state as JSON (the 'plex' object of /api/health).")
@click.pass_context
def health(ctx: click.Context, as_json: bool) -> None:
    """Check the connection to Plex now and print its state.

    Exits with 0 when Plex is reachable and 1 when not. In demo mode the check runs against the built-in demo
    server, started for the occasion.
    """
    with open_services(ctx) as services:
        status = services.monitor.check_now()
    click.echo(json.dumps(plex_state_json(status), indent=2) if as_json else _describe(status))
    if not status.reachable:
        ctx.exit(EXIT_FAILURE)


def _describe(status: ConnectionStatus) -> str:
    state = "reachable" if status.reachable else "NOT reachable"
    lines = [f"Plex ({status.mode.value} mode) at {status.server_url}: {state}"]
    if status.identity is not None:
        identity = status.identity
        lines.append(f"  server:  {identity.name} {identity.version} (machine {identity.machine_identifier})")
    if status.error_message is not None:
        lines.append(f"  error:   {status.error_message} [{status.error_code}]")
    return "\n".join(lines)
