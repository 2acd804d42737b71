"""The playlist use cases of one account: read Plex's audio playlists, change them in Plex, mirror writes in the index.

Reads come from Plex (one request each), so a playlist changed in a Plex app shows at once and a smart playlist's
items follow its rules. Writes go to Plex first; then the playlist as Plex now reports it (with its items and
their new playlist item ids) replaces the account's copy in the local index, so smart-playlist rules and
recommendations see the change without waiting for the next refresh. An account that has never been indexed gets
no copy: its first refresh reads every playlist anyway.

Decisions:

- Duplicates are kept: Plex lets a playlist hold the same track more than once (each entry has its own playlist
  item id), and a user who adds a track twice means it. Order is kept exactly as given.
- Track keys are checked before anything is written, so an unknown key fails the whole request with a 404 that
  names it and nothing is created or added. Keys are looked up in the index first; only keys the index does not
  know (added to Plex since the last refresh, or wrong) are asked of Plex, in a few multi-id requests.
- Smart playlists are read-only here: adding, removing, moving or clearing items would make Plex replace or refuse
  their rules, so those answer 409 ``smart_playlist``. Renaming and deleting a smart playlist work.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence

from plexm8.core.catalog import ItemKind, LibraryStore, PlaylistRecord
from plexm8.core.playlists import MAX_TRACKS_PER_REQUEST, PlaylistPage
from plexm8.core.ports import PlaylistGateway
from plexm8.errors import SmartPlaylistReadOnly, TrackNotFound, ValidationError

__all__ = ["MAX_TITLE_LENGTH", "PlaylistService"]

log = logging.getLogger(__name__)

#: Longest playlist title accepted (Plex shows far less; this only stops absurd input).
MAX_TITLE_LENGTH = 500
#: How many unknown keys an error message lists before summarising the rest.
_NAMED_KEYS = 10


def _title(title: str) -> str:
    cleaned = title.strip()
    if not cleaned:
        raise ValidationError("a playlist title cannot be empty", field="title")
    if len(cleaned) > MAX_TITLE_LENGTH:
        raise ValidationError(f"a playlist title has at most {MAX_TITLE_LENGTH} characters", field="title")
    return cleaned


def _track_keys(keys: Sequence[int]) -> list[int]:
    if not keys:
        raise ValidationError("give at least one track key", field="track_keys")
    if len(keys) > MAX_TRACKS_PER_REQUEST:
        raise ValidationError(f"give at most {MAX_TRACKS_PER_REQUEST} track keys per request", field="track_keys")
    bad = [key for key in keys if isinstance(key, bool) or not isinstance(key, int) or key <= 0]
    if bad:
        raise ValidationError(f"track keys are positive integers, not {bad[0]!r}", field="track_keys")
    return list(keys)


def _unknown_tracks_message(missing: Sequence[int]) -> str:
    named = ", ".join(f"/library/metadata/{key}" for key in missing[:_NAMED_KEYS])
    rest = len(missing) - _NAMED_KEYS
    more = f" and {rest} more" if rest > 0 else ""
    noun = "track" if len(missing) == 1 else "tracks"
    return f"no {noun} with the key {named}{more}; nothing was changed"


class PlaylistService:
    """The playlists of the account that ``gateway`` acts as, whose index copy lives in ``store`` under ``account``."""

    def __init__(self, gateway: PlaylistGateway, store: LibraryStore, *, account: str) -> None:
        self._gateway = gateway
        self._store = store
        self._account = account

    # --- reads ---------------------------------------------------------------------------------------------

    def playlists(self) -> list[PlaylistRecord]:
        """The account's audio playlists (without items), by title then id."""
        return sorted(self._gateway.playlists(), key=lambda p: (p.title.casefold(), p.rating_key))

    def playlist(self, playlist_id: int) -> PlaylistRecord:
        """One audio playlist (without items); PlaylistNotFound when the account has no such playlist."""
        return self._gateway.playlist(playlist_id)

    def entries(self, playlist_id: int, *, offset: int = 0, limit: int = 100) -> PlaylistPage:
        """Entries ``offset .. offset + limit`` of a playlist, with the total; an offset past the end gives none."""
        if offset < 0:
            raise ValidationError("offset cannot be negative", field="offset")
        if limit < 1:
            raise ValidationError("limit must be at least 1", field="limit")
        playlist = self._gateway.playlist(playlist_id)
        total, entries = self._gateway.entries(playlist_id, offset=offset, limit=limit)
        return PlaylistPage(playlist=playlist, entries=tuple(entries), total=total, offset=offset, limit=limit)

    # --- writes --------------------------------------------------------------------------------------------

    def create(self, title: str, track_keys: Sequence[int]) -> PlaylistRecord:
        """Create a regular playlist of these tracks in this order; TrackNotFound (nothing created) for unknown keys."""
        name = _title(title)
        keys = _track_keys(track_keys)
        self._check_tracks(keys)
        created = self._gateway.create(name, keys)
        return self._mirror(created.rating_key)

    def add(self, playlist_id: int, track_keys: Sequence[int]) -> PlaylistRecord:
        """Append these tracks in this order; TrackNotFound (nothing added) for unknown keys."""
        keys = _track_keys(track_keys)
        self._writable(playlist_id, "add tracks to")
        self._check_tracks(keys)
        self._gateway.add(playlist_id, keys)
        return self._mirror(playlist_id)

    def remove(self, playlist_id: int, playlist_item_id: int) -> PlaylistRecord:
        """Remove one entry; PlaylistItemNotFound when the playlist has no entry with that id."""
        self._writable(playlist_id, "remove tracks from")
        self._gateway.remove(playlist_id, playlist_item_id)
        return self._mirror(playlist_id)

    def move(self, playlist_id: int, playlist_item_id: int, *, after: int | None) -> PlaylistRecord:
        """Move an entry right after entry ``after``, or to the top when ``after`` is ``None``."""
        self._writable(playlist_id, "move tracks in")
        if after != playlist_item_id:
            self._gateway.move(playlist_id, playlist_item_id, after=after)
        return self._mirror(playlist_id)

    def rename(self, playlist_id: int, title: str) -> PlaylistRecord:
        """Give a playlist (regular or smart) a new title."""
        name = _title(title)
        self._gateway.playlist(playlist_id)
        self._gateway.rename(playlist_id, name)
        return self._mirror(playlist_id, items=False)

    def delete(self, playlist_id: int) -> None:
        """Delete a playlist (regular or smart) in Plex and in the index."""
        self._gateway.playlist(playlist_id)
        self._gateway.delete(playlist_id)
        self._forget(playlist_id)

    # --- helpers -------------------------------------------------------------------------------------------

    def _writable(self, playlist_id: int, verb: str) -> PlaylistRecord:
        playlist = self._gateway.playlist(playlist_id)
        if playlist.smart:
            raise SmartPlaylistReadOnly(
                f"cannot {verb} the smart playlist {playlist.title!r}: its items follow its rules in Plex"
            )
        return playlist

    def _check_tracks(self, keys: Sequence[int]) -> None:
        """Raise TrackNotFound naming every key that is not a track, asking Plex only about keys the index lacks."""
        indexed = set(self._store.item_keys(ItemKind.TRACK))
        unknown = [key for key in dict.fromkeys(keys) if key not in indexed]
        if unknown:
            missing = self._gateway.missing_tracks(unknown)
            if missing:
                raise TrackNotFound(_unknown_tracks_message(missing))

    def _indexed(self) -> bool:
        return self._store.cursor(self._account) is not None

    def _mirror(self, playlist_id: int, *, items: bool = True) -> PlaylistRecord:
        """Read the playlist back from Plex and replace the index's copy of it; return it (without items)."""
        playlist = self._gateway.playlist(playlist_id)
        if not self._indexed():
            return playlist
        stored = {p.rating_key: p for p in self._store.playlists(self._account)}
        old = stored.get(playlist_id)
        entries = self._gateway.items(playlist_id) if items or old is None else old.items
        stored[playlist_id] = dataclasses.replace(playlist, items=entries)
        self._replace(stored, changed=playlist_id)
        return playlist

    def _forget(self, playlist_id: int) -> None:
        if not self._indexed():
            return
        stored = {p.rating_key: p for p in self._store.playlists(self._account)}
        if stored.pop(playlist_id, None) is not None:
            self._replace(stored, changed=None)

    def _replace(self, playlists: dict[int, PlaylistRecord], *, changed: int | None) -> None:
        keep = [key for key in playlists if key != changed]
        with self._store.refresh(self._account) as writer:
            writer.replace_playlists(list(playlists.values()), keep_items=keep)
            writer.commit()
