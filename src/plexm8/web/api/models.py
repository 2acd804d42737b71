"""Response models shared by several resources of the API (tracks appear in ratings, browse and playlists)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from pydantic import Field, TypeAdapter

from plexm8.core.ratings import Rating
from plexm8.core.tracks import TrackView
from plexm8.web.api.spec import ApiModel

__all__ = ["TrackOut", "epoch_to_datetime"]


def epoch_to_datetime(seconds: int | None) -> datetime | None:
    """Epoch seconds as an aware UTC datetime (serialised as ``2026-01-31T12:00:00Z``)."""
    return datetime.fromtimestamp(seconds, tz=UTC) if seconds is not None else None


class TrackOut(ApiModel):
    """A track with the requesting account's rating and plays."""

    key: str = Field(
        description="Plex's key of the track, e.g. /library/metadata/123", examples=["/library/metadata/123"]
    )
    rating_key: int = Field(description="Plex's rating key (the number in key)")
    title: str
    artist: str | None = Field(description="The track artist when set, else the album artist")
    album: str | None
    rating: float | None = Field(description="The account's rating on Plex's 0-10 scale (10 = five stars), or null")
    stars: float | None = Field(description="The same rating in stars, 0-5 in halves, or null")
    duration_ms: int | None
    year: int | None
    last_rated_at: datetime | None = Field(description="When the account last rated the track (UTC)")
    view_count: int = Field(description="How often the account played the track")
    last_viewed_at: datetime | None = Field(description="When the account last played the track (UTC)")
    added_at: datetime | None = Field(description="When the track was added to the library (UTC)")

    @classmethod
    def of(cls, track: TrackView) -> TrackOut:
        """The API form of ``track``."""
        return cls(**_track_fields(track))

    @classmethod
    def many(cls, tracks: Iterable[TrackView]) -> list[TrackOut]:
        """The API form of each of ``tracks``, validated in one call (half the cost of :meth:`of` per track)."""
        return _TRACK_LIST.validate_python([_track_fields(track) for track in tracks])


_TRACK_LIST = TypeAdapter(list[TrackOut])


def _track_fields(track: TrackView) -> dict[str, Any]:
    rating = track.user_rating
    return {
        "key": f"/library/metadata/{track.rating_key}",
        "rating_key": track.rating_key,
        "title": track.title,
        "artist": track.artist,
        "album": track.album,
        "rating": rating,
        "stars": Rating.from_plex(rating).stars if rating is not None else None,
        "duration_ms": track.duration_ms,
        "year": track.year,
        "last_rated_at": epoch_to_datetime(track.last_rated_at),
        "view_count": track.view_count,
        "last_viewed_at": epoch_to_datetime(track.last_viewed_at),
        "added_at": epoch_to_datetime(track.added_at),
    }
