"""``plexm8 index``: refresh the local index of the configured account now, showing progress, as a recorded job."""

from __future__ import annotations

import shutil
import sys
import threading
import time
from typing import TextIO

import click

from plexm8.cli.context import fail, fail_on_error, open_services
from plexm8.core.catalog import RefreshResult
from plexm8.core.jobs import JobRecord, JobState
from plexm8.errors import PlexM8Error

__all__ = ["ProgressPrinter", "followed_summary", "index", "summary"]

#: Plain (non-terminal) output prints a stage's progress at most this often, besides its first and last report.
_PLAIN_EVERY_S = 1.0
_BAR_WIDTH = 30


class ProgressPrinter:
    """Shows refresh progress on ``stream``: one line redrawn in place on a terminal, plain lines otherwise.

    Plain lines read ``tracks 20000/100000`` (``tracks 1200`` while the total is unknown); a stage prints its first
    report, its completion and otherwise at most one line a second, so logs stay short on big libraries.
    """

    def __init__(self, stream: TextIO, *, terminal: bool) -> None:
        self._stream = stream
        self._terminal = terminal
        self._stage: str | None = None
        self._printed_at = 0.0
        self._width = 0
        self._lock = threading.Lock()

    def __call__(self, stage: str, done: int, total: int | None) -> None:
        with self._lock:
            if stage == "done":
                self.finish()
                return
            text = f"{stage} {done}/{total}" if total is not None else f"{stage} {done}"
            if self._terminal:
                self._redraw(stage, done, total)
                return
            now = time.monotonic()
            if (
                stage != self._stage
                or (total is not None and done >= total)
                or now - self._printed_at >= _PLAIN_EVERY_S
            ):
                self._stage = stage
                self._printed_at = now
                click.echo(text, file=self._stream)

    def _redraw(self, stage: str, done: int, total: int | None) -> None:
        if stage != self._stage and self._stage is not None:
            click.echo("", file=self._stream)
            self._width = 0
        self._stage = stage
        if total:
            filled = min(_BAR_WIDTH, _BAR_WIDTH * done // total)
            line = f"{stage:<16} [{'#' * filled}{'-' * (_BAR_WIDTH - filled)}] {done}/{total}"
        else:
            line = f"{stage:<16} {done}"
        columns = shutil.get_terminal_size((80, 24)).columns - 1
        line = line[:columns]
        click.echo("\r" + line.ljust(self._width), file=self._stream, nl=False)
        self._width = len(line)

    def finish(self) -> None:
        """End the redrawn line (terminal) so that what follows starts on a new line."""
        if self._terminal and self._stage is not None:
            click.echo("", file=self._stream)
        self._stage = None


def summary(result: RefreshResult) -> str:
    """Two lines: what the refresh changed and what the index now holds."""
    counts = result.counts
    kind = "full build" if result.full else "incremental refresh"
    return (
        f"Index updated ({kind}) in {result.seconds:.1f} s with {result.requests} requests: "
        f"{result.added} added, {result.updated} updated, {result.deleted} deleted, "
        f"{result.states_changed} ratings/plays changed, {result.playlists_changed} playlists changed, "
        f"{result.plays_added} plays added.\n"
        f"The index holds {counts.tracks} tracks, {counts.albums} albums and {counts.artists} artists; "
        f"this account has {counts.rated_tracks} rated and {counts.played_tracks} played tracks, "
        f"{counts.playlists} playlists and {counts.plays} plays."
    )


def followed_summary(job: JobRecord) -> str:
    """One line on how another process's refresh ended, with what it changed when it succeeded."""
    if job.state is JobState.SUCCEEDED:
        changed = ", ".join(f"{value} {name.replace('_', ' ')}" for name, value in job.counts.items())
        return f"The refresh (job {job.id}) succeeded: {changed or 'nothing changed'}."
    if not job.state.final:
        return f"The refresh (job {job.id}) stopped reporting: its PlexM8 process is gone."
    reason = f": {job.error_message}" if job.error_message else ""
    return f"The refresh (job {job.id}) {job.state.value}{reason}."


@click.command()
@click.option("--full", is_flag=True, help="Rebuild the whole index instead of fetching only what changed.")
@click.pass_context
def index(ctx: click.Context, full: bool) -> None:
    """Refresh the local library index now, for the account of PLEX_TOKEN.

    The first run builds the whole index; later runs fetch only what changed in Plex since the last refresh.
    Shows progress (a bar on a terminal, plain lines like "tracks 20000/100000" otherwise) and then a summary.
    The refresh is recorded as a job (see `plexm8 jobs`); when another PlexM8 process is already refreshing
    this account, the command follows that refresh instead of starting a second one. Exits with 0 on success and
    1 with a one-line error when Plex cannot be reached or refuses the token; the previous index is then kept.
    """
    printer = ProgressPrinter(sys.stdout, terminal=sys.stdout.isatty())
    with open_services(ctx) as services:
        try:
            account = services.account_for(None)
            running = services.index.running_elsewhere(account)
            if running is not None:
                # Two refreshes of one account would only queue on the database lock: show the one under way.
                click.echo(
                    f"A refresh of this account is already running in another PlexM8 process (job {running.id}); "
                    "following it.",
                    err=True,
                )
                followed = services.index.follow(running.id, progress=printer)
                printer.finish()
                if followed.state is not JobState.SUCCEEDED:
                    fail(followed_summary(followed))
                click.echo(followed_summary(followed))
                return
            result = services.index.refresh(account, full=full, progress=printer)
        except PlexM8Error as exc:
            printer.finish()
            fail_on_error(exc)
    printer.finish()
    click.echo(summary(result))
