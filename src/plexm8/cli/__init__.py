"""The ``plexm8`` command line: a thin click layer; one module per command."""

from __future__ import annotations

from pathlib import Path

import click

from plexm8 import __version__
from plexm8.cli.context import CliState
from plexm8.cli.eval import eval_group
from plexm8.cli.health import health
from plexm8.cli.index import index
from plexm8.cli.jobs import jobs
from plexm8.cli.recommend import recommend
from plexm8.cli.serve import serve
from plexm8.cli.sync import sync
from plexm8.cli.undo import undo

__all__ = ["main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="plexm8", message="%(prog)s %(version)s")
@click.option(
    "--env-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Read settings from this file instead of ./.env.local; environment variables still win.",
)
@click.pass_context
def main(ctx: click.Context, env_file: Path | None) -> None:
    """PlexM8: a local companion service for your Plex Media Server music library.

    Settings come from environment variables and from ./.env.local (see .env.local.template).
    """
    ctx.obj = CliState(env_file=env_file)


main.add_command(serve)
main.add_command(health)
main.add_command(index)
main.add_command(jobs)
main.add_command(recommend)
main.add_command(sync)
main.add_command(undo)
main.add_command(eval_group)
