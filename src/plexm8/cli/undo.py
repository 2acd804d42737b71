"""``plexm8 undo RUN``: restore the ratings a sync run changed, except where the user changed them since."""

from __future__ import annotations

import sys

import click

from plexm8.cli.context import account_services
from plexm8.cli.sync import run_job
from plexm8.core.sync_plan import RunState, UndoState

__all__ = ["undo"]

#: Refused items listed one per line at most; the rest are counted (``plexm8 sync show RUN --status refused``).
_SHOW_REFUSED = 20


@click.command()
@click.argument("run_id", metavar="RUN", type=int)
@click.option("--yes", is_flag=True, help="Undo without asking.")
@click.pass_context
def undo(ctx: click.Context, run_id: int, yes: bool) -> None:
    """Undo sync run RUN: put back the rating each track had before the run.

    Works from the run's journal, so it restores exactly what the run changed even after later index refreshes.
    A track whose rating was changed since the run (Plex shows another value than the run wrote) is left alone
    and listed with a message. Running it again after an interruption continues where it stopped.
    """
    with account_services(ctx) as (services, account):
        run = services.sync.run(account.key, run_id)
        if run.state is RunState.UNDONE:
            click.echo(f"Sync run {run_id} is already undone.")
            return
        changed = run.journal.get("confirmed", 0) + run.journal.get("written", 0)
        if not yes and sys.stdin.isatty() and not click.confirm(f"Restore {changed} rating(s) in Plex?", default=False):
            click.echo("Not undone.")
            return
        record = run_job(
            services,
            services.sync.start_undo(account, run_id),
            what="Undo",
            resume_hint=f"Run `plexm8 undo {run_id}` again to continue.",
        )
        run = services.sync.run(account.key, run_id)
        refused_total, refused = services.sync.items(
            account.key, run_id, status=UndoState.REFUSED.value, limit=_SHOW_REFUSED
        )
        click.echo(
            f"Undid sync run {run_id} (job {record.id}): {run.journal.get('undone', 0)} rating(s) restored, "
            f"{refused_total} left as they are."
        )
        for item in refused:
            where = item.plan.source.location or item.plan.source.title or ""
            click.echo(f"  refused /library/metadata/{item.plan.rating_key} {where}: {item.message}")
        if refused_total > len(refused):
            click.echo(f"  ... {refused_total - len(refused)} more: `plexm8 sync show {run_id} --status refused`")
