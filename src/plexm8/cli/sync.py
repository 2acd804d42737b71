"""``plexm8 sync``: sync ratings from a player's export into Plex (plan, show, apply), and list past runs.

``plexm8 sync itunes|musicbee|foobar2000|tags PATH`` plans the sync, prints a summary table, writes the full report
when asked, and then applies the plan (asking first on a terminal) unless ``--dry-run``. Every step runs as a
recorded job (``plexm8 jobs``); an apply stopped by Ctrl-C or a crash resumes with ``plexm8 sync apply RUN``
without writing anything twice, and ``plexm8 undo RUN`` restores what a run changed.
"""

from __future__ import annotations

import csv
import json
import sys
from contextlib import suppress
from pathlib import Path

import click

from plexm8.bootstrap import Services
from plexm8.cli.context import EXIT_USAGE, account_services, fail
from plexm8.cli.index import ProgressPrinter
from plexm8.core.accounts import PlexAccount
from plexm8.core.jobs import JobRecord, JobState
from plexm8.core.matching import PathMapping
from plexm8.core.sync_plan import RunItem, RunState, SyncPolicy, SyncRun, Winner
from plexm8.errors import PlexM8Error
from plexm8.services.sync import SyncRequest

__all__ = ["SOURCE_KINDS", "print_summary", "run_job", "sync", "write_report"]

SOURCE_KINDS = ("itunes", "musicbee", "foobar2000", "tags")
_POLL_S = 0.2
#: How long Ctrl-C waits for the running chunk of writes to be journaled before giving up on the job.
_STOP_WAIT_S = 30.0


def run_job(services: Services, record: JobRecord, *, what: str, resume_hint: str | None = None) -> JobRecord:
    """Follow a job to its end with a progress display; fail with its message unless it succeeded."""
    printer = ProgressPrinter(sys.stderr, terminal=sys.stderr.isatty())
    seen: tuple[str | None, int, int | None] | None = None
    try:
        while True:
            record = services.jobs.wait(record.id, timeout=_POLL_S)
            progress = (record.progress.stage, record.progress.done, record.progress.total)
            if record.progress.stage is not None and progress != seen:
                printer(record.progress.stage, record.progress.done, record.progress.total)
                seen = progress
            if record.state.final:
                break
    except KeyboardInterrupt:
        printer.finish()
        with suppress(PlexM8Error):  # it may have finished meanwhile
            services.jobs.cancel(record.id)
        services.jobs.wait(record.id, timeout=_STOP_WAIT_S)
        fail(f"{what} interrupted." + (f" {resume_hint}" if resume_hint else ""), exit_code=130)
    printer.finish()
    if record.state is not JobState.SUCCEEDED:
        reason = record.error_message or f"the job was {record.state.value}"
        fail(f"{what} failed: {reason}" + (f" {resume_hint}" if resume_hint and record.counts else ""))
    return record


def _run_of(services: Services, account: PlexAccount, record: JobRecord) -> SyncRun:
    run_id = (record.result or {}).get("run")
    if not isinstance(run_id, int):
        fail("the sync job finished without a run")
    return services.sync.run(account.key, run_id)


def print_summary(run: SyncRun) -> None:
    """The run's summary table: what was matched and how, what the plan writes, and the journal."""
    counts = run.counts

    def n(name: str) -> int:
        value = counts.get(name, 0)
        return value if isinstance(value, int) else 0

    policy = run.policy.value + (f", {run.winner.value} wins" if run.winner is not None else "")
    click.echo(f"Sync run {run.id}: {run.source_kind} export {run.source_name!r}, policy {policy}, {run.state.value}")
    by_method = counts.get("by_method")
    methods = ", ".join(f"{name} {count}" for name, count in by_method.items()) if isinstance(by_method, dict) else ""
    maps = run.options.get("path_mappings")
    rows = [
        ("matched", n("matched"), f"by method: {methods}" if methods else ""),
        ("to write", n("updated"), "ratings Plex gets from the export"),
        ("no-ops", n("noops"), "same rating on both sides"),
        ("skipped", n("skipped"), "matched, left as they are"),
        ("conflicts", n("conflicts"), "rated differently on both sides; Plex's kept"),
        ("review", n("review"), "uncertain matches: never written; settle with `plexm8 sync resolve`"),
        ("unmatched", n("unmatched"), "no track in Plex"),
    ]
    if n("dismissed"):
        rows.append(("dismissed", n("dismissed"), "review items you dismissed: never written"))
    if n("source_changes"):
        rows.append(("source changes", n("source_changes"), "two-way: the export should take Plex's rating"))
    for label, value, note in rows:
        click.echo(f"  {label:<15} {value:>7}  {note}".rstrip())
    if isinstance(maps, list) and maps:
        suggested = " (suggested from the data)" if run.options.get("suggested_mappings") is True else ""
        click.echo(f"  path mappings{suggested}: {', '.join(str(m) for m in maps)}")
    if run.journal:
        click.echo("  journal: " + ", ".join(f"{state} {count}" for state, count in sorted(run.journal.items())))


def _item_row(item: RunItem) -> dict[str, object]:
    plan = item.plan
    source = plan.source
    return {
        "position": plan.position,
        "kind": plan.kind.value,
        "action": plan.action.value if plan.action is not None else "",
        "status": item.state.value if item.state is not None else "",
        "undo": item.undo_state.value if item.undo_state is not None else "",
        "track_key": f"/library/metadata/{plan.rating_key}" if plan.rating_key is not None else "",
        "method": plan.method or "",
        "confidence": plan.confidence if plan.confidence is not None else "",
        "source_rating": plan.source_rating if plan.source_rating is not None else "",
        "plex_rating": plan.plex_rating if plan.plex_rating is not None else "",
        "target": plan.target if plan.target is not None else "",
        "previous_rating": item.previous_rating if item.previous_rating is not None else "",
        "location": source.location or "",
        "artist": source.artist or "",
        "album": source.album or "",
        "title": source.title or "",
        "reason": plan.reason,
        "message": item.message or "",
        "candidates": " ".join(f"/library/metadata/{key}" for key in plan.candidates),
    }


def write_report(services: Services, run: SyncRun, path: Path) -> None:
    """Write every item of the run to ``path``: CSV for ``.csv``, JSON (summary and items) for ``.json``."""
    _, items = services.sync.items(run.account, run.id)
    rows = [_item_row(item) for item in items]
    tmp = path.with_name(path.name + ".part")
    try:
        if path.suffix.lower() == ".json":
            document = {"run": run.id, "state": run.state.value, "summary": dict(run.counts), "items": rows}
            tmp.write_text(json.dumps(document, ensure_ascii=False, indent=1), encoding="utf-8")
        else:
            with tmp.open("w", encoding="utf-8", newline="") as out:
                writer = csv.DictWriter(out, fieldnames=list(_item_row(items[0]).keys()) if items else ["position"])
                writer.writeheader()
                writer.writerows(rows)
        tmp.replace(path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        fail(f"cannot write the report {path}: {exc.strerror or exc}")
    click.echo(f"Report: {path} ({len(rows)} items)")


def _check_report(report: Path | None) -> None:
    if report is not None and report.suffix.lower() not in (".csv", ".json"):
        fail(f"--report must end in .csv or .json, not {report.name!r}", exit_code=EXIT_USAGE)


def _path_maps(values: tuple[str, ...]) -> tuple[PathMapping, ...] | None:
    maps: list[PathMapping] = []
    for text in values:
        source, sep, plex = text.partition("=")
        if not sep or not source.strip() or not plex.strip():
            fail(f"--path-map takes 'player prefix=Plex prefix', not {text!r}", exit_code=EXIT_USAGE)
        maps.append(PathMapping(source.strip(), plex.strip()))
    return tuple(maps) or None


def _confirm_apply(run: SyncRun, yes: bool) -> bool:
    to_write = run.counts.get("updated", 0)
    if yes or not sys.stdin.isatty():
        return True
    return click.confirm(f"Write {to_write} rating(s) to Plex now?", default=False)


def apply_run(services: Services, account: PlexAccount, run_id: int) -> SyncRun:
    """Apply (or resume applying) a run as a job, following it; return the run afterwards."""
    hint = f"Run `plexm8 sync apply {run_id}` to resume (nothing is written twice) or `plexm8 undo {run_id}`."
    record = run_job(services, services.sync.start_apply(account, run_id), what="Applying", resume_hint=hint)
    return _run_of(services, account, record)


def _print_applied(run: SyncRun) -> None:
    journal = run.journal
    click.echo(
        f"Applied sync run {run.id}: {journal.get('confirmed', 0)} rating(s) written and confirmed"
        + (f", {journal['stale']} changed in Plex since the plan (not written)" if journal.get("stale") else "")
        + (f", {journal['failed']} failed" if journal.get("failed") else "")
        + f". Undo with `plexm8 undo {run.id}`."
    )


def _kind_command(kind: str) -> click.Command:
    what = {
        "itunes": "an iTunes or Apple Music Library.xml export",
        "musicbee": "MusicBee's iTunes-compatible XML export",
        "foobar2000": "a foobar2000 Playback Statistics XML or title-format text export",
        "tags": "a folder of tagged audio files",
    }[kind]

    @click.command(name=kind, help=f"Sync ratings from {what} at PATH into Plex.")
    @click.argument("path", type=click.Path(exists=True, path_type=Path))
    @click.option("--dry-run", is_flag=True, help="Only plan and report; write nothing to Plex.")
    @click.option(
        "--policy",
        type=click.Choice([p.value for p in SyncPolicy]),
        default=SyncPolicy.FILL.value,
        show_default=True,
        help="fill: only tracks unrated in Plex; overwrite; higher: the higher rating wins; two-way (needs --winner).",
    )
    @click.option("--winner", type=click.Choice([w.value for w in Winner]), help="Two-way only: whose rating wins.")
    @click.option(
        "--path-map",
        "path_maps",
        multiple=True,
        metavar="A=B",
        help="Player path prefix A is Plex path prefix B (repeatable); none = suggested from the data.",
    )
    @click.option(
        "--report", type=click.Path(dir_okay=False, path_type=Path), help="Write every item to this .csv or .json."
    )
    @click.option("--yes", is_flag=True, help="Apply without asking.")
    @click.pass_context
    def command(
        ctx: click.Context,
        path: Path,
        dry_run: bool,
        policy: str,
        winner: str | None,
        path_maps: tuple[str, ...],
        report: Path | None,
        yes: bool,
    ) -> None:
        _check_report(report)
        chosen = SyncPolicy(policy)
        if (chosen is SyncPolicy.TWO_WAY) != (winner is not None):
            fail("--policy two-way needs --winner plex|source, and only two-way takes one", exit_code=EXIT_USAGE)
        request = SyncRequest(
            kind=kind,
            path=path,
            source_name=path.name,
            policy=chosen,
            winner=None if winner is None else Winner(winner),
            path_mappings=_path_maps(path_maps),
        )
        with account_services(ctx) as (services, account):
            services.sync.check_source(kind, path)
            record = run_job(services, services.sync.start_plan(account, request, apply=False), what="Planning")
            run = _run_of(services, account, record)
            print_summary(run)
            if report is not None:
                write_report(services, run, report)
            if dry_run:
                click.echo(f"Dry run: nothing written. Apply this plan with `plexm8 sync apply {run.id}`.")
                return
            if not run.counts.get("updated"):
                services.sync.apply(account, run.id)
                click.echo("Nothing to write: Plex already has these ratings.")
                return
            if not _confirm_apply(run, yes):
                click.echo(f"Not applied. Apply it later with `plexm8 sync apply {run.id}`.")
                return
            run = apply_run(services, account, run.id)
            _print_applied(run)
            if report is not None:
                write_report(services, run, report)

    return command


@click.group()
def sync() -> None:
    """Sync ratings from a player's export into Plex; list, show and apply sync runs.

    A sync first plans: it matches the export's tracks to Plex, compares ratings under the policy, and prints a
    summary (write a full report with --report). Then it applies the plan, asking first on a terminal, unless
    --dry-run. Every previous rating is journaled before it is overwritten: `plexm8 undo RUN` restores them.
    """


for _kind in SOURCE_KINDS:
    sync.add_command(_kind_command(_kind))


@sync.command()
@click.option("--limit", type=click.IntRange(1, 500), default=20, show_default=True, help="Show this many runs.")
@click.pass_context
def history(ctx: click.Context, limit: int) -> None:
    """List this account's sync runs, newest first."""
    with account_services(ctx) as (services, account):
        runs = services.sync.history(account.key, limit=limit)
        if not runs:
            click.echo("No sync runs yet.")
            return
        click.echo(
            f"{'run':>5}  {'state':<9} {'source':<11} {'policy':<10} {'matched':>8} {'to write':>8} "
            f"{'written':>8}  file"
        )
        for run in runs:
            click.echo(
                f"{run.id:>5}  {run.state.value:<9} {run.source_kind:<11} {run.policy.value:<10} "
                f"{run.counts.get('matched', 0)!s:>8} {run.counts.get('updated', 0)!s:>8} "
                f"{run.journal.get('confirmed', 0):>8}  {run.source_name}"
            )


@sync.command()
@click.argument("run_id", metavar="RUN", type=int)
@click.option("--status", help="Only items with this kind, action, journal state or undo outcome (e.g. write, review).")
@click.option("--limit", type=click.IntRange(1, 100_000), default=50, show_default=True, help="Show this many items.")
@click.option("--report", type=click.Path(dir_okay=False, path_type=Path), help="Write every item to .csv or .json.")
@click.pass_context
def show(ctx: click.Context, run_id: int, status: str | None, limit: int, report: Path | None) -> None:
    """Show a sync run: its summary and its items."""
    _check_report(report)
    with account_services(ctx) as (services, account):
        run = services.sync.run(account.key, run_id)
        print_summary(run)
        try:
            total, items = services.sync.items(account.key, run_id, status=status, limit=limit)
        except ValueError as exc:
            fail(str(exc), exit_code=EXIT_USAGE)
        for item in items:
            plan = item.plan
            change = ""
            if plan.target is not None:
                change = f"{plan.plex_rating}->{plan.target}" if plan.plex_rating is not None else f"new {plan.target}"
            state = item.state.value if item.state is not None else ""
            label = plan.action.value if plan.action is not None else plan.kind.value
            where = plan.source.location or f"{plan.source.artist} - {plan.source.title}"
            click.echo(
                f"  {plan.position:>6} {label:<13} {state:<9} {change:<7} {where}  ({item.message or plan.reason})"
            )
        if total > len(items):
            click.echo(f"  ... {total - len(items)} more (use --limit or --report)")
        if report is not None:
            write_report(services, run, report)


@sync.command(name="apply")
@click.argument("run_id", metavar="RUN", type=int)
@click.option("--yes", is_flag=True, help="Apply without asking.")
@click.pass_context
def apply_command(ctx: click.Context, run_id: int, yes: bool) -> None:
    """Apply a planned (reviewed) sync run, or resume one that was interrupted.

    Tracks whose Plex rating changed since the plan are not written; nothing is written twice.
    """
    with account_services(ctx) as (services, account):
        run = services.sync.run(account.key, run_id)
        if run.state is RunState.APPLIED:
            click.echo(f"Sync run {run_id} is already applied.")
            return
        if run.state is RunState.PLANNED and not _confirm_apply(run, yes):
            click.echo("Not applied.")
            return
        _print_applied(apply_run(services, account, run_id))


@sync.command()
@click.argument("run_id", metavar="RUN", type=int)
@click.argument("position", metavar="ITEM", type=click.IntRange(min=0))
@click.option("--track", "rating_key", type=click.IntRange(min=1), metavar="KEY", help="Choose this Plex track.")
@click.option("--dismiss", is_flag=True, help="Dismiss the item: it is never written.")
@click.pass_context
def resolve(ctx: click.Context, run_id: int, position: int, rating_key: int | None, dismiss: bool) -> None:
    """Settle review item ITEM of sync run RUN: choose its Plex track (--track KEY) or dismiss it (--dismiss).

    ITEM is the position `plexm8 sync show RUN --status review` lists; KEY is one of the item's candidates (the
    number in /library/metadata/KEY) or any indexed track. A chosen track is written by the next
    `plexm8 sync apply RUN` under the run's policy and remembered for the next sync of the same export.
    """
    if (rating_key is None) == (not dismiss):
        fail("give exactly one of --track KEY and --dismiss", exit_code=EXIT_USAGE)
    with account_services(ctx) as (services, account):
        resolution = services.sync.resolve(account, run_id, position, rating_key=rating_key, dismiss=dismiss)
        plan = resolution.item.plan
        if dismiss:
            click.echo(f"Dismissed item {position} of sync run {run_id}: it is never written.")
        else:
            action = plan.action.value if plan.action is not None else ""
            change = f", writes {plan.target}" if plan.target is not None else ""
            remembered = " Remembered for the next sync of this export." if resolution.remembered else ""
            click.echo(
                f"Item {position} of sync run {run_id} matched to /library/metadata/{plan.rating_key}: "
                f"{action}{change} ({plan.reason}).{remembered}"
            )
        print_summary(resolution.run)
        if resolution.run.counts.get("updated"):
            click.echo(f"Apply the plan with `plexm8 sync apply {run_id}`.")
