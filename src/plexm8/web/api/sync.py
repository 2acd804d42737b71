"""``/api/ratings/sync``: rating syncs from a player's export: start one (a job), read its plan, apply it, undo it.

A sync names its export in one of two ways, never by an arbitrary path:

- an upload: ``multipart/form-data`` with the file in the part ``file`` and the options as form fields
  (``source``, ``policy``, ``winner``, ``path_map`` (repeatable), ``dry_run``), at most ``SYNC_UPLOAD_MAX_MB``;
- a JSON body ``{"source": "itunes", "file": "Library.xml", ...}`` naming a file (or, for ``tags``, a folder)
  inside ``SYNC_IMPORT_DIR``: absolute paths, ``..`` and symlinks leading outside that folder are refused.

The export's first record is read before the job starts, so a wrong or unreadable file is a 400 at once. A sync is
a dry run unless ``dry_run`` is false: the job plans (refreshing the index first) and stores the plan as a run;
``POST /api/ratings/sync/<run>/apply`` then writes it. Every endpoint acts as the caller's account (``Bearer``).
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from flask import Blueprint, after_this_request, request
from flask.typing import ResponseReturnValue
from pydantic import Field, JsonValue, field_validator, model_validator
from pydantic import ValidationError as ModelValidationError
from werkzeug.exceptions import RequestEntityTooLarge, UnsupportedMediaType
from werkzeug.wrappers import Response

from plexm8.core.matching import PathMapping
from plexm8.core.sync_plan import RunItem, RunState, SyncPolicy, SyncRun, Winner
from plexm8.errors import BadRequest, ValidationError
from plexm8.services.sync import SyncRequest, run_summary
from plexm8.store.sync_store import ITEM_STATUSES
from plexm8.web.api.jobs import Job, job_model, job_url
from plexm8.web.api.spec import ApiModel, QueryParams, RequestBody, api_route
from plexm8.web.context import AccountContext, current_account

__all__ = ["ResolveItem", "SyncStart", "bp", "parse_path_map"]

bp = Blueprint("ratings_sync", __name__, url_prefix="/api")

_TAGS = ("ratings",)
SourceKind = Literal["itunes", "musicbee", "foobar2000", "tags"]
_SOURCE_KINDS = ("itunes", "musicbee", "foobar2000", "tags")
#: Multipart overhead allowed on top of the file itself (boundaries, part headers, the option fields).
_FORM_SLACK = 64 * 1024
_UPLOAD_DIR = "sync-uploads"
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")
_MAX_PATH_MAPS = 20


def parse_path_map(text: str) -> PathMapping:
    """``"C:/Users/me/Music=/data/music"`` as a mapping; ValueError unless both sides are non-empty."""
    source, sep, plex = text.partition("=")
    if not sep or not source.strip() or not plex.strip():
        raise ValueError(f"a path map is 'player prefix=Plex prefix', not {text[:80]!r}")
    return PathMapping(source.strip(), plex.strip())


class SyncOptions(RequestBody):
    """How to sync: the export's kind, the policy, path maps, and whether to stop at the plan."""

    source: SourceKind = Field(description="The export's kind: itunes (also Apple Music), musicbee, foobar2000, tags")
    policy: SyncPolicy = Field(
        SyncPolicy.FILL,
        description="fill (only tracks unrated in Plex), overwrite, higher (the higher rating wins), two-way",
    )
    winner: Winner | None = Field(None, description="two-way only: whose rating wins a conflict (plex or source)")
    path_maps: list[str] = Field(
        default_factory=list,
        max_length=_MAX_PATH_MAPS,
        description="Path-prefix mappings 'player prefix=Plex prefix'; none = suggested from the data",
        examples=[["C:/Users/me/Music=/data/music"]],
    )
    dry_run: bool = Field(True, description="Only plan (default); false applies the plan at once")

    @field_validator("path_maps")
    @classmethod
    def _valid_maps(cls, value: list[str]) -> list[str]:
        for text in value:
            parse_path_map(text)
        return value

    def request_for(self, path: Path, *, name: str, temporary: bool) -> SyncRequest:
        """The service's request for the export at ``path``."""
        if (self.policy is SyncPolicy.TWO_WAY) != (self.winner is not None):
            raise ValidationError(
                "a two-way sync needs a winner ('plex' or 'source'), and only a two-way sync takes one"
            )
        return SyncRequest(
            kind=self.source,
            path=path,
            source_name=name,
            policy=self.policy,
            winner=self.winner,
            path_mappings=tuple(parse_path_map(text) for text in self.path_maps) or None,
            temporary=temporary,
        )


class SyncStart(SyncOptions):
    """A sync of an export inside ``SYNC_IMPORT_DIR`` (JSON); uploads send the same fields as a form."""

    file: str = Field(
        min_length=1,
        max_length=255,
        description="A file (a folder for tags) inside SYNC_IMPORT_DIR, relative to it",
        examples=["Library.xml"],
    )


class SyncRunOut(ApiModel):
    """One sync run: its plan summary (the RatingSync summary) and the state of its journal."""

    id: int
    url: str = Field(description="This run")
    items_url: str = Field(description="The run's items (the full plan and journal)")
    source_kind: str
    source_name: str
    policy: SyncPolicy
    winner: Winner | None
    state: RunState = Field(description="planned, applying, applied, undoing or undone")
    created_at: datetime
    applied_at: datetime | None
    undone_at: datetime | None
    matched: int = Field(description="Source tracks matched to a Plex track")
    updated: int = Field(description="Ratings the plan writes (planned) or Plex confirmed (applied)")
    skipped: int = Field(description="Matched tracks left as they are (same rating, kept by the policy, ...)")
    unmatched: int = Field(description="Source tracks with no Plex track")
    conflicts: int = Field(description="Tracks rated differently on both sides where Plex's rating was kept")
    review: int = Field(description="Source tracks with uncertain candidates, still to settle: never written")
    dismissed: int = Field(0, description="Review items the user dismissed: never written")
    to_write: int = Field(description="Ratings the plan writes")
    noops: int = Field(description="Tracks already rated the same on both sides")
    by_method: dict[str, int] = Field(description="Matched tracks by how they were matched")
    journal: dict[str, int] = Field(description="Write items by journal state and undo outcome")
    path_mappings: list[str] = Field(description="Path mappings in effect")
    suggested_mappings: bool = Field(description="Whether the path mappings were suggested from the data")
    source_report: dict[str, JsonValue] | None = Field(description="What the source read: tracks, rated, skipped")

    @classmethod
    def of(cls, run: SyncRun) -> SyncRunOut:
        """The API form of a run."""
        summary = run_summary(run)
        options = dict(run.options)
        maps = options.get("path_mappings")
        report = options.get("source")

        def count(name: str) -> int:
            value = summary.get(name)
            return value if isinstance(value, int) else 0

        by_method = summary.get("by_method")
        journal = summary.get("journal")
        return cls(
            id=run.id,
            url=f"/api/ratings/sync/{run.id}",
            items_url=f"/api/ratings/sync/{run.id}/items",
            source_kind=run.source_kind,
            source_name=run.source_name,
            policy=run.policy,
            winner=run.winner,
            state=run.state,
            created_at=_time(run.created_at),
            applied_at=None if run.applied_at is None else _time(run.applied_at),
            undone_at=None if run.undone_at is None else _time(run.undone_at),
            matched=count("matched"),
            updated=count("updated"),
            skipped=count("skipped"),
            unmatched=count("unmatched"),
            conflicts=count("conflicts"),
            review=count("review"),
            dismissed=count("dismissed"),
            to_write=count("to_write"),
            noops=count("noops"),
            by_method={str(k): int(v) for k, v in by_method.items() if isinstance(v, int)}
            if isinstance(by_method, dict)
            else {},
            journal={str(k): int(v) for k, v in journal.items() if isinstance(v, int)}
            if isinstance(journal, dict)
            else {},
            path_mappings=[str(m) for m in maps] if isinstance(maps, list) else [],
            suggested_mappings=options.get("suggested_mappings") is True,
            source_report=report if isinstance(report, dict) else None,
        )


def _time(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


class SyncRunList(ApiModel):
    """The caller's sync runs, newest first."""

    items: list[SyncRunOut]


class SourceOut(ApiModel):
    """The source track as the export describes it."""

    ordinal: int = Field(description="Position in the export")
    source_id: str | None
    location: str | None
    title: str | None
    artist: str | None
    album: str | None
    raw_rating: float | None = Field(description="The rating as the source stored it")
    scale: str | None = Field(description="The scale of raw_rating")


class SyncItemOut(ApiModel):
    """One item of a run's plan, with its journal."""

    position: int
    kind: str = Field(description="matched, review or unmatched")
    action: str | None = Field(
        description="matched items: write, noop, keep, source-change, no-rating, duplicate; review items: dismissed"
    )
    status: str | None = Field(description="write items: planned, written, confirmed, stale or failed")
    undo: str | None = Field(description="After an undo: undone, or refused (changed since the run)")
    track_key: str | None = Field(description="The matched Plex track, e.g. /library/metadata/123")
    method: str | None = Field(description="How the match was made (remembered, path, metadata, fuzzy)")
    confidence: float | None
    reason: str
    message: str | None = Field(description="Why the item was not written or not undone")
    source: SourceOut
    source_rating: int | None = Field(description="The source's rating on Plex's 0-10 scale")
    plex_rating: int | None = Field(description="Plex's rating when planned (0-10)")
    target: int | None = Field(description="The rating the plan writes (0-10)")
    previous_rating: float | None = Field(description="Plex's rating right before the write (journal)")
    candidates: list[str] = Field(description="Review items: the possible Plex tracks, best first")

    @classmethod
    def of(cls, item: RunItem) -> SyncItemOut:
        """The API form of a run item."""
        plan = item.plan
        rating = plan.source.rating
        return cls(
            position=plan.position,
            kind=plan.kind.value,
            action=None if plan.action is None else plan.action.value,
            status=None if item.state is None else item.state.value,
            undo=None if item.undo_state is None else item.undo_state.value,
            track_key=None if plan.rating_key is None else f"/library/metadata/{plan.rating_key}",
            method=plan.method,
            confidence=plan.confidence,
            reason=plan.reason,
            message=item.message,
            source=SourceOut(
                ordinal=plan.source.ordinal,
                source_id=plan.source.source_id,
                location=plan.source.location,
                title=plan.source.title,
                artist=plan.source.artist,
                album=plan.source.album,
                raw_rating=None if rating is None else rating.raw,
                scale=None if rating is None else rating.scale.value,
            ),
            source_rating=plan.source_rating,
            plex_rating=plan.plex_rating,
            target=plan.target,
            previous_rating=item.previous_rating,
            candidates=[f"/library/metadata/{key}" for key in plan.candidates],
        )


class SyncItemPage(ApiModel):
    """One page of a run's items."""

    items: list[SyncItemOut]
    total: int = Field(description="Items matching the filter in all")
    limit: int
    offset: int


class SyncItemsQuery(QueryParams):
    """Which of a run's items to list."""

    status: str | None = Field(
        None,
        description="Only items with this kind, action, journal state or undo outcome: " + ", ".join(ITEM_STATUSES),
    )
    limit: int = Field(100, ge=1, le=1000)
    offset: int = Field(0, ge=0, le=10_000_000)

    @field_validator("status")
    @classmethod
    def _known(cls, value: str | None) -> str | None:
        if value is not None and value not in ITEM_STATUSES:
            raise ValueError(f"must be one of {', '.join(ITEM_STATUSES)}")
        return value


class SyncHistoryQuery(QueryParams):
    """How many runs to list."""

    limit: int = Field(50, ge=1, le=200)


# --- starting a sync --------------------------------------------------------------------------------------------


def _first_problem(exc: ModelValidationError) -> ValidationError:
    first = exc.errors(include_url=False, include_input=False)[0]
    location = ".".join(str(part) for part in first["loc"])
    message = "unknown field" if first["type"] == "extra_forbidden" else str(first["msg"])
    return ValidationError(f"field '{location}': {message}" if location else message, field=location or None)


def _inside_import_dir(context: AccountContext, name: str) -> Path:
    """The export ``name`` inside SYNC_IMPORT_DIR, refusing anything that would lead outside it."""
    folder = context.services.settings.sync_import_dir
    if folder is None:
        raise ValidationError(
            "no SYNC_IMPORT_DIR is configured: upload the export instead (multipart/form-data)", field="file"
        )
    relative = Path(name)
    if "\x00" in name or relative.is_absolute() or relative.drive or ".." in relative.parts or "\\" in name:
        raise ValidationError("'file' must be a name inside SYNC_IMPORT_DIR (no absolute path, no '..')", field="file")
    root = folder.resolve()
    try:
        target = (root / relative).resolve(strict=True)
    except (OSError, RuntimeError):
        raise ValidationError(f"SYNC_IMPORT_DIR has no {name!r}", field="file") from None
    if not target.is_relative_to(root) or target == root:
        # A symlink (or a name resolving) outside the folder: the request must not read other paths.
        raise ValidationError("'file' must be a name inside SYNC_IMPORT_DIR", field="file")
    return target


def _from_json(context: AccountContext) -> tuple[SyncRequest, bool]:
    raw = request.get_data(cache=False)
    if len(raw) > 1 << 20:
        raise RequestEntityTooLarge("the request body is larger than 1 MiB")
    try:
        body = SyncStart.model_validate_json(raw)
    except ModelValidationError as exc:
        if exc.errors()[0]["type"] == "json_invalid":
            raise BadRequest("the request body is not valid JSON") from None
        raise _first_problem(exc) from None
    path = _inside_import_dir(context, body.file)
    sync_request = body.request_for(path, name=body.file, temporary=False)
    context.services.sync.check_source(sync_request.kind, path)
    return sync_request, body.dry_run


def _from_upload(context: AccountContext) -> tuple[SyncRequest, bool]:
    limit = context.services.settings.sync_upload_max_bytes
    too_large = f"the upload is larger than SYNC_UPLOAD_MAX_MB ({limit >> 20} MB)"
    if request.content_length is not None and request.content_length > limit + _FORM_SLACK:
        raise RequestEntityTooLarge(too_large)
    # Also for chunked uploads without a Content-Length: werkzeug stops reading past this.
    request.max_content_length = limit + _FORM_SLACK
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise ValidationError("the upload has no file part named 'file'", field="file")
    form = request.form
    fields: dict[str, object] = {"source": form.get("source")}
    for name in ("policy", "winner"):
        if form.get(name):
            fields[name] = form[name]
    if form.getlist("path_map"):
        fields["path_maps"] = form.getlist("path_map")
    if form.get("dry_run") is not None:
        fields["dry_run"] = form["dry_run"].strip().lower() not in ("0", "false", "no", "off")
    try:
        # Form fields are text: validated leniently (strict mode would refuse every enum given as a string).
        options = SyncOptions.model_validate(fields, strict=False)
    except ModelValidationError as exc:
        raise _first_problem(exc) from None
    if options.source == "tags":
        raise ValidationError("a tags sync reads a folder: name it inside SYNC_IMPORT_DIR instead", field="source")
    folder = context.services.settings.data_dir / _UPLOAD_DIR
    folder.mkdir(parents=True, exist_ok=True)
    name = Path(upload.filename).name
    path = folder / f"{uuid.uuid4().hex}-{_SAFE_NAME.sub('_', name)[-100:]}"
    try:
        try:
            upload.save(path)
        finally:
            upload.close()  # werkzeug spools big parts to a temporary file: release it now
        if path.stat().st_size > limit:
            raise RequestEntityTooLarge(too_large)
        sync_request = options.request_for(path, name=name, temporary=True)
        context.services.sync.check_source(sync_request.kind, path)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return sync_request, options.dry_run


def _located(job: Job) -> Job:
    @after_this_request
    def locate(response: Response) -> ResponseReturnValue:
        response.headers["Location"] = job_url(job.id)
        return response

    return job


@api_route(
    bp,
    "POST",
    "/ratings/sync",
    response=Job,
    status=202,
    errors=(400, 401, 413, 415, 422, 503),
    summary="Sync ratings from a player's export (as a job)",
    tags=_TAGS,
)
def start_sync() -> Job:
    """Plan (and unless ``dry_run`` is false, only plan) a sync of an uploaded export or a file in SYNC_IMPORT_DIR.

    Send ``multipart/form-data`` with the export in ``file`` and the fields of ``SyncStart`` as form fields
    (``path_map`` repeated), or ``application/json`` matching ``SyncStart``. Answers 202 with the job (``Location``
    names it); its result is the RatingSync summary (matched, updated, skipped, unmatched, conflicts) with ``url``
    and ``items_url`` of the stored plan. A wrong or unreadable file is a 400 ``invalid_source_file``, an upload
    over ``SYNC_UPLOAD_MAX_MB`` a 413, a path outside SYNC_IMPORT_DIR a 422, Plex unreachable a 503: in each case
    nothing is started or written.
    """
    context = current_account()
    if request.mimetype == "multipart/form-data":
        sync_request, dry_run = _from_upload(context)
    elif request.mimetype == "application/json" or request.mimetype.endswith("+json"):
        sync_request, dry_run = _from_json(context)
    else:
        raise UnsupportedMediaType("send the export as multipart/form-data, or name it in an application/json body")
    try:
        # Refused now rather than in the job: a sync needs Plex from its first step (the index refresh).
        context.services.plex.probe()
        record = context.services.sync.start_plan(context.account, sync_request, apply=not dry_run)
    except BaseException:
        if sync_request.temporary:
            sync_request.path.unlink(missing_ok=True)
        raise
    return _located(job_model(record))


# --- runs -------------------------------------------------------------------------------------------------------


@api_route(
    bp,
    "GET",
    "/ratings/sync",
    query=SyncHistoryQuery,
    response=SyncRunList,
    errors=(401, 503),
    summary="The caller's sync runs (history)",
    tags=_TAGS,
)
def sync_history(*, query: SyncHistoryQuery) -> SyncRunList:
    """Newest first, with each run's summary and journal counts; read from PlexM8's database, not from Plex."""
    context = current_account()
    return SyncRunList(
        items=[SyncRunOut.of(run) for run in context.services.sync.history(context.key, limit=query.limit)]
    )


@api_route(
    bp,
    "GET",
    "/ratings/sync/<int:run_id>",
    response=SyncRunOut,
    errors=(401, 404, 503),
    summary="One sync run: plan summary and journal",
    tags=_TAGS,
)
def sync_run(run_id: int) -> SyncRunOut:
    """The run's RatingSync summary, options and journal counts; 404 for a run of another account."""
    context = current_account()
    return SyncRunOut.of(context.services.sync.run(context.key, run_id))


@api_route(
    bp,
    "GET",
    "/ratings/sync/<int:run_id>/items",
    query=SyncItemsQuery,
    response=SyncItemPage,
    errors=(401, 404, 503),
    summary="A sync run's items: the full plan and journal",
    tags=_TAGS,
)
def sync_items(run_id: int, *, query: SyncItemsQuery) -> SyncItemPage:
    """One page of the plan in order, optionally only one kind, action, journal state or undo outcome."""
    context = current_account()
    total, items = context.services.sync.items(
        context.key, run_id, status=query.status, limit=query.limit, offset=query.offset
    )
    return SyncItemPage(
        items=[SyncItemOut.of(item) for item in items], total=total, limit=query.limit, offset=query.offset
    )


@api_route(
    bp,
    "POST",
    "/ratings/sync/<int:run_id>/apply",
    response=Job,
    status=202,
    errors=(401, 404, 409, 503),
    summary="Apply a reviewed sync plan (as a job)",
    tags=_TAGS,
)
def apply_sync(run_id: int) -> Job:
    """Write the run's planned ratings to Plex; also resumes an interrupted apply without writing anything twice.

    Items whose Plex rating changed since the plan are not written (``stale``). 409 for a run already undone.
    """
    context = current_account()
    context.services.sync.run(context.key, run_id)
    context.services.plex.probe()
    return _located(job_model(context.services.sync.start_apply(context.account, run_id)))


@api_route(
    bp,
    "POST",
    "/ratings/sync/<int:run_id>/undo",
    response=Job,
    status=202,
    errors=(401, 404, 409, 503),
    summary="Undo an applied sync run (as a job)",
    tags=_TAGS,
)
def undo_sync(run_id: int) -> Job:
    """Restore the rating each track had before the run, where Plex still shows what the run wrote.

    Tracks rated otherwise since are left alone and listed with ``undo=refused`` and a message. 409 for a run that
    was never applied.
    """
    context = current_account()
    context.services.sync.run(context.key, run_id)
    context.services.plex.probe()
    return _located(job_model(context.services.sync.start_undo(context.account, run_id)))


# --- settling review items ------------------------------------------------------------------------------------


class ResolveItem(RequestBody):
    """How to settle a review item: choose a track (``rating_key``) or dismiss it; exactly one of them."""

    rating_key: int | None = Field(
        None,
        ge=1,
        le=2**53,
        description="The Plex track chosen: one of the item's candidates, or any indexed track",
        examples=[123],
    )
    dismiss: bool | None = Field(None, description="true: dismiss the item (it is never written)")

    @model_validator(mode="after")
    def _one_way(self) -> ResolveItem:
        if self.dismiss is False:
            raise ValueError("'dismiss' can only be true; to choose a track send 'rating_key' alone")
        if (self.rating_key is None) == (self.dismiss is None):
            raise ValueError("send exactly one of 'rating_key' (choose that track) and 'dismiss': true")
        return self


class ResolvedItem(ApiModel):
    """A settled review item and its run's summary afterwards."""

    item: SyncItemOut
    run: SyncRunOut
    remembered: bool = Field(description="Whether the chosen track is remembered for the next sync of this source")


@api_route(
    bp,
    "POST",
    "/ratings/sync/<int:run_id>/items/<int:position>/resolve",
    body=ResolveItem,
    response=ResolvedItem,
    errors=(401, 404, 409, 503),
    summary="Settle a review item of a sync plan: choose its track or dismiss it",
    tags=_TAGS,
)
def resolve_item(run_id: int, position: int, *, body: ResolveItem) -> ResolvedItem:
    """Choose the Plex track of a review item (``{"rating_key": 123}``) or dismiss it (``{"dismiss": true}``).

    A chosen track makes the item a matched one whose action follows the run's policy (written by the next
    apply, through the journal) and is remembered for the next sync of the same source; a dismissed item is never
    written. 404 for an unknown run (or another account's), item or indexed track; 409 for a run applied, undone
    or being applied, an item that is not an open review item, or a track another item of the run already matches.
    Nothing is sent to Plex.
    """
    context = current_account()
    resolution = context.services.sync.resolve(
        context.account, run_id, position, rating_key=body.rating_key, dismiss=body.dismiss is True
    )
    return ResolvedItem(
        item=SyncItemOut.of(resolution.item), run=SyncRunOut.of(resolution.run), remembered=resolution.remembered
    )
