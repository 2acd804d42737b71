"""``plexm8 jobs``: list the recent jobs recorded in the data directory (index refreshes and their outcome)."""

from __future__ import annotations

import json
from datetime import datetime

import click

from plexm8.bootstrap import open_job_store
from plexm8.cli.context import fail_on_error, load_cli_settings
from plexm8.core.jobs import JobRecord, JobState
from plexm8.errors import SettingsError
from plexm8.services.jobs import owner_is_live

__all__ = ["describe_job", "jobs"]


def _when(seconds: float | None) -> str:
    return "-" if seconds is None else datetime.fromtimestamp(seconds).strftime("%Y-%m-%d %H:%M:%S")


def describe_job(record: JobRecord) -> str:
    """One line: id, kind, state, start time, duration, and progress, counts or error."""
    state = record.state.value
    if not record.state.final and not owner_is_live(record.owner):
        # Its process is gone; the next PlexM8 to start records it as interrupted.
        state += " (process gone)"
    began = record.started_at or record.created_at
    took = f"{record.finished_at - began:.1f}s" if record.finished_at is not None else "-"
    if record.error_code is not None:
        detail = f"{record.error_message} [{record.error_code}]"
    elif record.state is JobState.SUCCEEDED:
        detail = ", ".join(f"{value} {name.replace('_', ' ')}" for name, value in record.counts.items()) or "done"
    else:
        progress = record.progress
        total = f"/{progress.total}" if progress.total is not None else ""
        detail = f"{progress.stage} {progress.done}{total}" if progress.stage else ""
    return f"{record.id:>5}  {record.kind:<14} {state:<12} {_when(record.created_at)}  {took:>7}  {detail}".rstrip()


@click.command()
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 200), help="Show at most this many.")
@click.option("--json", "as_json", is_flag=True, help="Print the jobs as JSON lines (one object per job).")
@click.pass_context
def jobs(ctx: click.Context, limit: int, as_json: bool) -> None:
    """List recent jobs (index refreshes), newest first.

    Shows each job's state, start time, duration, and outcome or error.

    Reads the job records in the data directory; it does not contact Plex. Jobs of a PlexM8 that stopped
    before they finished show as interrupted (or "process gone" until the next PlexM8 start records that).
    """
    settings = load_cli_settings(ctx)
    try:
        with open_job_store(settings) as store:
            records = store.list(limit=limit)
    except SettingsError as exc:
        fail_on_error(exc)
    if as_json:
        for record in records:
            click.echo(
                json.dumps(
                    {
                        "id": record.id,
                        "kind": record.kind,
                        "account": record.account,
                        "state": record.state.value,
                        "created_at": record.created_at,
                        "started_at": record.started_at,
                        "finished_at": record.finished_at,
                        "progress": {
                            "stage": record.progress.stage,
                            "done": record.progress.done,
                            "total": record.progress.total,
                        },
                        "counts": dict(record.counts),
                        "result": record.result,
                        "error": {"code": record.error_code, "message": record.error_message}
                        if record.error_code is not None
                        else None,
                    }
                )
            )
        return
    if not records:
        click.echo("No jobs yet.")
        return
    click.echo(f"{'id':>5}  {'kind':<14} {'state':<12} {'created':<19}  {'took':>7}  outcome")
    for record in records:
        click.echo(describe_job(record))
