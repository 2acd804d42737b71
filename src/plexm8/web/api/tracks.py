"""``GET /api/tracks``: search and browse the indexed tracks with the requesting account's ratings and plays."""

from __future__ import annotations

from flask import Blueprint
from pydantic import Field

from plexm8.core.ratings import MAX_RATING
from plexm8.core.tracks import SortOrder, TrackQuery, TrackSort
from plexm8.services.ratings import browse_tracks
from plexm8.web.api.models import TrackOut
from plexm8.web.api.spec import ApiModel, QueryParams, api_route
from plexm8.web.context import current_account
from plexm8.web.extension import get_services

__all__ = ["TrackList", "TracksQuery", "bp"]

bp = Blueprint("tracks", __name__, url_prefix="/api")


class TracksQuery(QueryParams):
    """Filters (all must match), order and page of a track listing."""

    q: str | None = Field(
        None, max_length=200, description="Words that must all appear in the title, artist or album (any case/accents)"
    )
    artist: str | None = Field(
        None, max_length=500, description="Exactly this artist (track or album artist; ASCII letters in any case)"
    )
    album: str | None = Field(None, max_length=500, description="Exactly this album title (ASCII letters in any case)")
    rated: bool | None = Field(None, description="true: only rated tracks; false: only unrated ones")
    min_rating: float | None = Field(None, ge=0, le=MAX_RATING, description="Only tracks rated at least this (0-10)")
    sort: TrackSort = Field(TrackSort.TITLE, description="Sort key; ties are broken by rating key")
    order: SortOrder = Field(SortOrder.ASC, description="Ascending or descending; missing values always last")
    limit: int = Field(50, ge=1, le=500, description="Page size")
    offset: int = Field(0, ge=0, le=10_000_000, description="How many matching tracks to skip")

    def to_query(self) -> TrackQuery:
        """The core query for these parameters."""
        return TrackQuery(
            text=self.q,
            artist=self.artist,
            album=self.album,
            rated=self.rated,
            min_rating=self.min_rating,
            sort=self.sort,
            order=self.order,
            limit=self.limit,
            offset=self.offset,
        )


class TrackList(ApiModel):
    """One page of tracks and how many match in all."""

    items: list[TrackOut]
    total: int = Field(description="How many tracks match the filters")
    limit: int
    offset: int


@api_route(
    bp,
    "GET",
    "/tracks",
    query=TracksQuery,
    response=TrackList,
    errors=(401, 502, 503),
    summary="Search and browse tracks",
    tags=("tracks",),
)
def list_tracks(*, query: TracksQuery) -> TrackList:
    """Served from the local index; the account's index is built first if it has none (Plex must answer then)."""
    context = current_account()
    services = get_services()
    page = browse_tracks(services.index, services.queries, context.account, query.to_query())
    return TrackList(items=TrackOut.many(page.items), total=page.total, limit=page.limit, offset=page.offset)
