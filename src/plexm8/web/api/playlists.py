"""``/api/playlists``: the caller's audio playlists: list, create, read items, add, remove, move, rename, delete.

Every endpoint acts as the caller's Plex account (``Authorization: Bearer <token>``, else the configured token), so
each user sees and changes only their own playlists. Track keys are accepted as ``"/library/metadata/123"``,
``"123"`` or ``123``. Smart playlists can be listed, read, renamed and deleted; changing their items answers 409
``smart_playlist`` because their items follow their rules in Plex.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated

from flask import Blueprint
from pydantic import BeforeValidator, Field, StringConstraints, WithJsonSchema

from plexm8.core.catalog import PlaylistRecord
from plexm8.core.playlists import MAX_TRACKS_PER_REQUEST, PlaylistEntry
from plexm8.errors import PlaylistItemNotFound, PlaylistNotFound
from plexm8.services.playlists import MAX_TITLE_LENGTH, PlaylistService
from plexm8.web.api.models import epoch_to_datetime
from plexm8.web.api.spec import ApiModel, QueryParams, RequestBody, api_route
from plexm8.web.context import current_account

__all__ = ["bp"]

bp = Blueprint("playlists", __name__, url_prefix="/api")

_TAGS = ("playlists",)
#: Plex ids are 64-bit; a larger number in a path cannot name anything.
_MAX_ID = 2**63 - 1
_METADATA = "/library/metadata/"
#: Errors every endpoint that talks to Plex can answer with.
_PLEX_ERRORS = (401, 502, 503)


_KEY_TEXT = re.compile(r"^(?:/library/metadata/)?([1-9][0-9]{0,18})$")


def _track_key(value: object) -> object:
    """Turn ``"/library/metadata/123"`` and ``"123"`` into 123; other values go on to the integer check."""
    if isinstance(value, str):
        match = _KEY_TEXT.match(value)
        if match is None:
            raise ValueError('a track key is "/library/metadata/<number>", "<number>" or a number')
        return int(match.group(1))
    return value


TrackKey = Annotated[
    int,
    BeforeValidator(_track_key),
    Field(gt=0, le=_MAX_ID),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "integer", "minimum": 1, "maximum": _MAX_ID},
                {"type": "string", "pattern": _KEY_TEXT.pattern},
            ]
        }
    ),
]
Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_TITLE_LENGTH)]
TrackKeys = Annotated[
    list[TrackKey],
    Field(
        min_length=1,
        max_length=MAX_TRACKS_PER_REQUEST,
        description='Track keys in order: "/library/metadata/123", "123" or 123; the same track may repeat',
    ),
]


# --- models ----------------------------------------------------------------------------------------------------


class Playlist(ApiModel):
    """An audio playlist of the caller."""

    id: int = Field(description="Plex's rating key of the playlist")
    key: str = Field(description='The playlist\'s Plex path, e.g. "/playlists/123"')
    title: str
    smart: bool = Field(description="Smart playlists follow rules; their items cannot be changed one by one")
    summary: str
    item_count: int
    duration_ms: int | None
    added_at: datetime | None = Field(description="When the playlist was created (UTC)")
    updated_at: datetime | None = Field(description="When the playlist last changed (UTC)")


class PlaylistList(ApiModel):
    """The caller's audio playlists, by title."""

    playlists: list[Playlist]
    total: int


class PlaylistItem(ApiModel):
    """One entry of a playlist and its track."""

    playlist_item_id: int | None = Field(
        description="Addresses this entry for remove and move; null on smart playlists"
    )
    key: str = Field(description='The track\'s key, e.g. "/library/metadata/123"')
    rating_key: int
    title: str
    artist: str | None
    album: str | None
    duration_ms: int | None
    rating: float | None = Field(description="The caller's rating on Plex's 0-10 scale; null when unrated")


class PlaylistItems(ApiModel):
    """A page of a playlist's entries."""

    playlist: Playlist
    items: list[PlaylistItem]
    total: int
    offset: int
    limit: int


class CreatePlaylist(RequestBody):
    """A new regular playlist: its title and its tracks, in order."""

    title: Title
    track_keys: TrackKeys


class RenamePlaylist(RequestBody):
    """A playlist's new title."""

    title: Title


class AddItems(RequestBody):
    """Tracks to append, in order."""

    track_keys: TrackKeys


class MoveItem(RequestBody):
    """Where to move an entry: right after the entry ``after``, or to the top when ``after`` is null."""

    after: Annotated[int, Field(ge=0, le=_MAX_ID)] | None = Field(
        None, description="The playlist_item_id to place the entry after; null (or absent) moves it to the top"
    )


class ItemsQuery(QueryParams):
    """Paging of a playlist's entries."""

    offset: int = Field(0, ge=0, le=_MAX_ID, description="Entries to skip")
    limit: int = Field(100, ge=1, le=1000, description="Entries to return (at most 1000)")


# --- conversions ---------------------------------------------------------------------------------------------


def _playlist(record: PlaylistRecord) -> Playlist:
    return Playlist(
        id=record.rating_key,
        key=f"/playlists/{record.rating_key}",
        title=record.title,
        smart=record.smart,
        summary=record.summary,
        item_count=record.leaf_count,
        duration_ms=record.duration_ms,
        added_at=epoch_to_datetime(record.added_at),
        updated_at=epoch_to_datetime(record.updated_at),
    )


def _item(entry: PlaylistEntry) -> PlaylistItem:
    return PlaylistItem(
        playlist_item_id=entry.playlist_item_id,
        key=f"{_METADATA}{entry.rating_key}",
        rating_key=entry.rating_key,
        title=entry.title,
        artist=entry.artist,
        album=entry.album,
        duration_ms=entry.duration_ms,
        rating=entry.rating,
    )


def _service() -> PlaylistService:
    context = current_account()
    services = context.services
    return PlaylistService(services.playlists_for(context.token), services.store, account=context.key)


def _checked(playlist_id: int) -> int:
    if playlist_id > _MAX_ID:
        raise PlaylistNotFound(f"there is no playlist {playlist_id}")
    return playlist_id


# --- endpoints -----------------------------------------------------------------------------------------------


@api_route(
    bp,
    "GET",
    "/playlists",
    response=PlaylistList,
    errors=_PLEX_ERRORS,
    summary="List the caller's playlists",
    tags=_TAGS,
)
def list_playlists() -> PlaylistList:
    """The caller's audio playlists (regular and smart), sorted by title, without their items."""
    playlists = [_playlist(p) for p in _service().playlists()]
    return PlaylistList(playlists=playlists, total=len(playlists))


@api_route(
    bp,
    "POST",
    "/playlists",
    body=CreatePlaylist,
    response=Playlist,
    status=201,
    errors=(404, *_PLEX_ERRORS),
    summary="Create a playlist",
    tags=_TAGS,
)
def create_playlist(*, body: CreatePlaylist) -> Playlist:
    """Create a regular playlist from 1 to 10,000 track keys, in the order given (duplicates are kept).

    Every key is checked first: an unknown key answers 404 ``track_not_found`` naming it, and nothing is created.
    """
    context = current_account()
    context.ensure_indexed()
    return _playlist(_service().create(body.title, body.track_keys))


@api_route(
    bp,
    "GET",
    "/playlists/<int:playlist_id>",
    response=Playlist,
    errors=(404, *_PLEX_ERRORS),
    summary="Read a playlist",
    tags=_TAGS,
)
def get_playlist(playlist_id: int) -> Playlist:
    """One of the caller's audio playlists, without its items."""
    return _playlist(_service().playlist(_checked(playlist_id)))


@api_route(
    bp,
    "PATCH",
    "/playlists/<int:playlist_id>",
    body=RenamePlaylist,
    response=Playlist,
    errors=(404, *_PLEX_ERRORS),
    summary="Rename a playlist",
    tags=_TAGS,
)
def rename_playlist(playlist_id: int, *, body: RenamePlaylist) -> Playlist:
    """Give a playlist (regular or smart) a new title."""
    return _playlist(_service().rename(_checked(playlist_id), body.title))


@api_route(
    bp,
    "DELETE",
    "/playlists/<int:playlist_id>",
    response=None,
    status=204,
    errors=(404, *_PLEX_ERRORS),
    summary="Delete a playlist",
    tags=_TAGS,
)
def delete_playlist(playlist_id: int) -> None:
    """Delete a playlist (regular or smart) from Plex."""
    _service().delete(_checked(playlist_id))


@api_route(
    bp,
    "GET",
    "/playlists/<int:playlist_id>/items",
    query=ItemsQuery,
    response=PlaylistItems,
    errors=(404, *_PLEX_ERRORS),
    summary="Read a playlist's items",
    tags=_TAGS,
)
def list_items(playlist_id: int, *, query: ItemsQuery) -> PlaylistItems:
    """A page of a playlist's entries in playlist order; a smart playlist's entries follow its rules right now."""
    page = _service().entries(_checked(playlist_id), offset=query.offset, limit=query.limit)
    return PlaylistItems(
        playlist=_playlist(page.playlist),
        items=[_item(entry) for entry in page.entries],
        total=page.total,
        offset=page.offset,
        limit=page.limit,
    )


@api_route(
    bp,
    "POST",
    "/playlists/<int:playlist_id>/items",
    body=AddItems,
    response=Playlist,
    errors=(404, 409, *_PLEX_ERRORS),
    summary="Add tracks to a playlist",
    tags=_TAGS,
)
def add_items(playlist_id: int, *, body: AddItems) -> Playlist:
    """Append 1 to 10,000 tracks in the order given; 404 names unknown keys (nothing added); 409 on a smart playlist."""
    context = current_account()
    context.ensure_indexed()
    return _playlist(_service().add(_checked(playlist_id), body.track_keys))


@api_route(
    bp,
    "DELETE",
    "/playlists/<int:playlist_id>/items/<int:playlist_item_id>",
    response=Playlist,
    errors=(404, 409, *_PLEX_ERRORS),
    summary="Remove an entry from a playlist",
    tags=_TAGS,
)
def remove_item(playlist_id: int, playlist_item_id: int) -> Playlist:
    """Remove the entry ``playlist_item_id`` (from the items listing); 409 on a smart playlist."""
    if playlist_item_id > _MAX_ID:
        raise PlaylistItemNotFound(f"playlist {playlist_id} has no item {playlist_item_id}")
    return _playlist(_service().remove(_checked(playlist_id), playlist_item_id))


@api_route(
    bp,
    "POST",
    "/playlists/<int:playlist_id>/items/<int:playlist_item_id>/move",
    body=MoveItem,
    response=Playlist,
    errors=(404, 409, *_PLEX_ERRORS),
    summary="Move an entry within a playlist",
    tags=_TAGS,
)
def move_item(playlist_id: int, playlist_item_id: int, *, body: MoveItem) -> Playlist:
    """Move the entry right after the entry ``after``, or to the top when ``after`` is null; 409 on a smart playlist."""
    if playlist_item_id > _MAX_ID:
        raise PlaylistItemNotFound(f"playlist {playlist_id} has no item {playlist_item_id}")
    return _playlist(_service().move(_checked(playlist_id), playlist_item_id, after=body.after))
