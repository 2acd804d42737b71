"""Ratings: write one to Plex and show it in the index at once; read the account's top-rated tracks."""

from __future__ import annotations

from plexm8.core.accounts import PlexAccount
from plexm8.core.ports import TrackIndex, TrackRater
from plexm8.core.ratings import Rating
from plexm8.core.tracks import TrackPage, TrackQuery, TrackView
from plexm8.services.library import LibraryIndex

__all__ = ["browse_tracks", "rate_track", "top_rated"]


def rate_track(rater: TrackRater, tracks: TrackIndex, *, account: str, rating_key: int, rating: Rating) -> TrackView:
    """Set or clear the account's rating of a track in Plex, then record what Plex reports in the index.

    Plex is written first: when it refuses, the index is untouched. The index takes Plex's own rating and
    ``lastRatedAt``, so the next incremental refresh finds nothing to correct.
    """
    track = rater.rate_track(rating_key, rating)
    tracks.record_rating(account, rating_key, track.user_rating, track.last_rated_at)
    return track


def top_rated(
    library: LibraryIndex, tracks: TrackIndex, account: PlexAccount, *, min_rating: float, limit: int
) -> list[TrackView]:
    """The account's best-rated tracks from the index (built first if the account has none)."""
    library.ensure_account_indexed(account)
    return tracks.top_rated(account.key, min_rating=min_rating, limit=limit)


def browse_tracks(library: LibraryIndex, tracks: TrackIndex, account: PlexAccount, query: TrackQuery) -> TrackPage:
    """One page of the account's view of the indexed tracks (index built first if the account has none)."""
    library.ensure_account_indexed(account)
    return tracks.find_tracks(account.key, query)
