"""The live, mutable state of one simulated Plex server, built from a :class:`~plexsim.library.Library`.

The catalogue (artists, albums, tracks, tags) is read-only once loaded. What users change lives in per-account
overlays, exactly as Plex keeps it per account: ratings with ``lastRatedAt``, play counts and ``lastViewedAt``,
locked fields, history and playlists. Every mutation happens under :attr:`ServerState.lock` (the HTTP server is
threaded) and bumps :attr:`ServerState.version`, which caches keyed on the state can use to invalidate.

Mutations raise :class:`StateError` subclasses that the HTTP layer maps to status codes: :class:`UnknownItem` (404)
and :class:`InvalidRequest` (400).
"""

from __future__ import annotations

import math
import operator
import threading
import time
import uuid
from collections.abc import Callable, Hashable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

from plexsim.library import (
    Account,
    Album,
    Artist,
    HistoryEntry,
    Library,
    Playlist,
    PlayState,
    Rating,
    Track,
)

__all__ = [
    "TAG_KINDS",
    "AccountState",
    "HistoryRow",
    "InvalidRequest",
    "Item",
    "PlayInfo",
    "PlaylistState",
    "RatingInfo",
    "ServerState",
    "StateError",
    "UnknownItem",
]

Item = Artist | Album | Track
T = TypeVar("T")

#: Tag kinds with their own id table, as Plex's ``tags`` table distinguishes them by ``tag_type``.
TAG_KINDS = ("genre", "style", "mood", "country")


class StateError(Exception):
    """A request the state cannot carry out."""


class UnknownItem(StateError):
    """No item, playlist or playlist entry with that id exists (HTTP 404)."""


class InvalidRequest(StateError):
    """The request is malformed or not allowed for that object (HTTP 400)."""


@dataclass(slots=True)
class RatingInfo:
    rating: float
    rated_at: int


@dataclass(slots=True)
class PlayInfo:
    view_count: int = 0
    last_viewed_at: int | None = None
    skip_count: int = 0


@dataclass(slots=True)
class HistoryRow:
    id: int
    account_id: int
    key: int
    viewed_at: int
    device_id: int


@dataclass(slots=True)
class PlaylistState:
    id: int
    owner: int
    title: str
    guid: str
    smart: bool = False
    #: Smart playlists: the section query, ``/library/sections/3/all?type=10&...`` (see :func:`split_query`).
    query: str | None = None
    #: Regular playlists: ``(playlistItemID, track id)`` in playlist order.
    items: list[tuple[int, int]] = field(default_factory=list)
    summary: str = ""
    added_at: int = 0
    updated_at: int = 0


@dataclass(slots=True)
class AccountState:
    id: int
    name: str
    thumb: str
    tokens: list[str]
    ratings: dict[int, RatingInfo] = field(default_factory=dict)
    plays: dict[int, PlayInfo] = field(default_factory=dict)
    #: Items whose ``userRating`` field was locked by a batch edit (``userRating.locked=1``).
    locked_ratings: set[int] = field(default_factory=set)
    playlists: dict[int, PlaylistState] = field(default_factory=dict)


def _casefold_key(text: str) -> str:
    return text.casefold()


class ServerState:
    """Indexes over the catalogue plus every account's overlay; all mutations go through its methods."""

    def __init__(self, library: Library, *, clock: Callable[[], float] = time.time) -> None:
        self.lock = threading.RLock()
        self.version = 0
        self._clock = clock
        self.server = library.server
        self.section = library.section
        self.artists: dict[int, Artist] = {a.id: a for a in library.artists}
        self.albums: dict[int, Album] = {a.id: a for a in library.albums}
        self.tracks: dict[int, Track] = {t.id: t for t in library.tracks}
        self.album_tracks: dict[int, list[Track]] = {a.id: [] for a in library.albums}
        for track in library.tracks:
            self.album_tracks[track.album].append(track)
        for tracks in self.album_tracks.values():
            tracks.sort(key=lambda t: (t.disc, t.index, t.id))
        #: 1-based position of a track across all discs of its album (Plex's ``absoluteIndex``).
        self.absolute_index: dict[int, int] = {
            t.id: i for tracks in self.album_tracks.values() for i, t in enumerate(tracks, 1)
        }
        self.artist_albums: dict[int, list[Album]] = {a.id: [] for a in library.artists}
        for album in library.albums:
            self.artist_albums[album.artist].append(album)
        for albums in self.artist_albums.values():
            albums.sort(key=lambda a: (a.year or 0, _casefold_key(a.title), a.id))
        self.tag_ids: dict[str, dict[str, int]] = {kind: {} for kind in TAG_KINDS}
        self._assign_tag_ids(library)
        self.default_artists = sorted(self.artists.values(), key=lambda a: (_casefold_key(self.title_sort(a)), a.id))
        self.default_albums = sorted(self.albums.values(), key=self._album_order)
        self.default_tracks = sorted(self.tracks.values(), key=self._track_order)

        self.accounts: dict[int, AccountState] = {}
        self.tokens: dict[str, int] = {}
        self.history: list[HistoryRow] = []
        entries: list[tuple[int, int, HistoryEntry]] = []
        max_id = max([*self.artists, *self.albums, *self.tracks, 0])
        self._next_item_id = 1
        for acc in library.accounts:
            self._load_account(acc)
            for order, h in enumerate(acc.history):
                entries.append((acc.id, order, h))
            for pl in acc.playlists:
                max_id = max(max_id, pl.id)
        # History ids follow time, as Plex's metadata_item_views rows are inserted as plays happen.
        entries.sort(key=lambda e: (e[2].viewed_at, e[0], e[1]))
        self.history = [
            HistoryRow(i, account_id, h.key, h.viewed_at, h.device_id)
            for i, (account_id, _, h) in enumerate(entries, 1)
        ]
        self._next_history_id = len(self.history) + 1
        self._next_playlist_id = max_id + 1
        self._sonic: dict[str, dict[int, tuple[list[float], float]]] = {}
        self._memo: dict[Hashable, Any] = {}
        self._by_update: tuple[list[int], list[int]] | None = None
        self._memo_version = 0

    # --- loading ----------------------------------------------------------------------------------------------

    def _assign_tag_ids(self, library: Library) -> None:
        # Ids in first-seen order over artists, albums, tracks: deterministic for a given library file.
        next_id = 1
        for kind in TAG_KINDS:
            table = self.tag_ids[kind]
            everything: list[Item] = [*library.artists, *library.albums, *library.tracks]
            for obj in everything:
                for text in self.tags(obj, kind):
                    if text not in table:
                        table[text] = next_id
                        next_id += 1

    def _load_account(self, acc: Account) -> None:
        state = AccountState(acc.id, acc.name, acc.thumb, list(acc.tokens))
        for r in acc.ratings:
            state.ratings[r.key] = RatingInfo(float(r.rating), r.rated_at)
        for p in acc.plays:
            state.plays[p.key] = PlayInfo(p.view_count, p.last_viewed_at, p.skip_count)
        for pl in acc.playlists:
            items = []
            for key in pl.items:
                items.append((self._next_item_id, key))
                self._next_item_id += 1
            state.playlists[pl.id] = PlaylistState(
                id=pl.id,
                owner=acc.id,
                title=pl.title,
                guid=self._playlist_guid(pl.id),
                smart=pl.smart,
                query=pl.query,
                items=items,
                summary=pl.summary,
                added_at=pl.added_at,
                updated_at=pl.updated_at,
            )
        self.accounts[acc.id] = state
        for token in acc.tokens:
            self.tokens[token] = acc.id

    def _playlist_guid(self, playlist_id: int) -> str:
        # Real guids are random UUIDs; derive one from the server and id so a library loads the same every time.
        name = f"{self.server.machine_identifier}/playlist/{playlist_id}"
        return f"com.plexapp.agents.none://{uuid.uuid5(uuid.NAMESPACE_URL, name)}"

    # --- catalogue helpers ------------------------------------------------------------------------------------

    def now(self) -> int:
        return int(self._clock())

    @staticmethod
    def tags(obj: Item, kind: str) -> list[str]:
        """The tag texts of one kind on an item (tracks carry genres and moods only)."""
        if isinstance(obj, Track):
            return obj.genres if kind == "genre" else obj.moods if kind == "mood" else []
        if isinstance(obj, Album):
            return {"genre": obj.genres, "style": obj.styles, "mood": obj.moods}.get(kind, [])
        return {"genre": obj.genres, "style": obj.styles, "mood": obj.moods, "country": obj.countries}[kind]

    def tag_pairs(self, obj: Item, kind: str) -> list[tuple[int, str]]:
        table = self.tag_ids[kind]
        return [(table[text], text) for text in self.tags(obj, kind)]

    @staticmethod
    def title_sort(obj: Item) -> str:
        if isinstance(obj, Artist):
            return obj.sort_title or obj.title
        return obj.title

    def _album_order(self, album: Album) -> tuple[str, str, int, int, str]:
        # The section's default album sort: artist.titleSort, album.titleSort, album.index, album.id, release date.
        artist = self.artists[album.artist]
        return (
            _casefold_key(self.title_sort(artist)),
            _casefold_key(album.title),
            1,
            album.id,
            album.originally_available_at or "",
        )

    def _track_order(self, track: Track) -> tuple[str, str, int, int, int, str, int]:
        # The section's default track sort ("Album Artist"): artist.titleSort, album.titleSort, album.year,
        # track.absoluteIndex, track.index, track.titleSort, track.id (Meta capture's default Sort key).
        album = self.albums[track.album]
        artist = self.artists[album.artist]
        return (
            _casefold_key(self.title_sort(artist)),
            _casefold_key(album.title),
            album.year or 0,
            self.absolute_index[track.id],
            track.index,
            _casefold_key(track.title),
            track.id,
        )

    def item(self, key: int) -> Item | None:
        return self.tracks.get(key) or self.albums.get(key) or self.artists.get(key)

    def require_item(self, key: int) -> Item:
        found = self.item(key)
        if found is None:
            raise UnknownItem(f"no item {key}")
        return found

    def artist_tracks(self, artist_id: int) -> list[Track]:
        return [t for album in self.artist_albums.get(artist_id, []) for t in self.album_tracks[album.id]]

    def leaves(self, obj: Item) -> list[Track]:
        if isinstance(obj, Track):
            return [obj]
        if isinstance(obj, Album):
            return self.album_tracks[obj.id]
        return self.artist_tracks(obj.id)

    def account_for_token(self, token: str) -> AccountState | None:
        account_id = self.tokens.get(token)
        return None if account_id is None else self.accounts.get(account_id)

    def add_token(self, token: str, account_id: int = 1) -> None:
        """Map an extra token to an account (the admin by default)."""
        with self.lock:
            if account_id not in self.accounts:
                raise UnknownItem(f"no account {account_id}")
            self.tokens[token] = account_id
            if token not in self.accounts[account_id].tokens:
                self.accounts[account_id].tokens.append(token)

    def viewed_leaf_count(self, account: AccountState, album_id: int) -> int:
        plays = account.plays
        return sum(1 for t in self.album_tracks.get(album_id, ()) if t.id in plays and plays[t.id].view_count > 0)

    def _touch(self) -> None:
        self.version += 1

    def track_update_index(self) -> tuple[list[int], list[int]]:
        """Every track's ``updatedAt`` in ascending order, and the track ids in the same order.

        Built on first use and kept: the catalogue does not change while the server runs.
        """
        if self._by_update is None:
            pairs = sorted((t.updated_at, t.id) for t in self.tracks.values())
            self._by_update = ([u for u, _ in pairs], [i for _, i in pairs])
        return self._by_update

    def memo(self, key: Hashable, compute: Callable[[], T]) -> T:
        """``compute()``, remembered under ``key`` until the state next changes (for answers derived from it only).

        Smart playlists are evaluated for the ``/playlists`` listing and again for their items; a real server
        answers both from its database, so the second evaluation is wasted time plexsim need not spend.
        """
        version = self.version
        with self.lock:
            if self._memo_version != version:
                self._memo.clear()
                self._memo_version = version
            if key in self._memo:
                found: T = self._memo[key]
                return found
        result = compute()
        with self.lock:
            # A change while computing makes the result stale: answer it (it was true when asked), do not keep it.
            if self.version == version == self._memo_version:
                self._memo[key] = result
        return result

    # --- ratings ----------------------------------------------------------------------------------------------

    def rate(self, account: AccountState, key: int, rating: float, *, rated_at: int | None = None) -> None:
        """Set (0-10) or clear (-1) the account's rating of an artist, album or track."""
        with self.lock:
            self.require_item(key)
            if rating == -1:
                account.ratings.pop(key, None)
            elif 0 <= rating <= 10:
                when = self.now() if rated_at is None else rated_at
                if when > self.now():
                    raise InvalidRequest("ratedAt is in the future")
                account.ratings[key] = RatingInfo(float(rating), when)
            else:
                raise InvalidRequest(f"rating {rating} is outside 0..10")
            self._touch()

    def edit_user_rating(
        self, account: AccountState, keys: Iterable[int], *, value: float | None, locked: bool | None
    ) -> None:
        """The section batch edit ``userRating.value``/``userRating.locked`` over several items at once.

        Whether the batch form moves ``lastRatedAt`` is not documented (NOTES §4). We model it as the same
        per-account value ``/:/rate`` writes, so a rating set either way looks identical to readers; a client that
        sorts or filters on ``lastRatedAt`` then behaves the same whichever path wrote the rating.
        """
        with self.lock:
            resolved = [self.require_item(k).id for k in keys]
            now = self.now()
            for key in resolved:
                if value is not None:
                    if value < 0:
                        account.ratings.pop(key, None)
                    elif value <= 10:
                        account.ratings[key] = RatingInfo(float(value), now)
                    else:
                        raise InvalidRequest(f"userRating.value {value} is outside 0..10")
                if locked is True:
                    account.locked_ratings.add(key)
                elif locked is False:
                    account.locked_ratings.discard(key)
            self._touch()

    # --- plays ------------------------------------------------------------------------------------------------

    def _bump(self, account: AccountState, key: int, when: int) -> None:
        info = account.plays.setdefault(key, PlayInfo())
        info.view_count += 1
        info.last_viewed_at = when

    def _play_track(self, account: AccountState, track: Track, when: int) -> None:
        # A play counts for the track and for its album and album artist, as Plex's album rows show viewCount.
        album = self.albums[track.album]
        for key in (track.id, album.id, album.artist):
            self._bump(account, key, when)

    def scrobble(self, account: AccountState, key: int) -> None:
        """Mark an item played (``/:/scrobble``): every leaf track gains a play; no history row is written."""
        with self.lock:
            when = self.now()
            playlist = self._find_playlist(account, key)
            if playlist is not None:
                self._bump(account, key, when)
            else:
                for track in self.leaves(self.require_item(key)):
                    self._play_track(account, track, when)
            self._touch()

    def unscrobble(self, account: AccountState, key: int) -> None:
        """Mark an item unplayed (``/:/unscrobble``): its own and its leaves' play counts go back to zero."""
        with self.lock:
            if self._find_playlist(account, key) is not None:
                account.plays.pop(key, None)
            else:
                obj = self.require_item(key)
                for k in {obj.id, *(t.id for t in self.leaves(obj))}:
                    info = account.plays.get(k)
                    if info is not None:
                        info.view_count = 0
                        info.last_viewed_at = None
                        if not info.skip_count:
                            del account.plays[k]
            self._touch()

    def record_play(self, account: AccountState, key: int, *, viewed_at: int | None = None, device_id: int = 1) -> None:
        """A finished playback of a track, as a player's timeline reports it: a play plus a history row."""
        with self.lock:
            track = self.tracks.get(key)
            if track is None:
                raise UnknownItem(f"no track {key}")
            when = self.now() if viewed_at is None else viewed_at
            self._play_track(account, track, when)
            self.history.append(HistoryRow(self._next_history_id, account.id, key, when, device_id))
            self._next_history_id += 1
            self._touch()

    # --- playlists --------------------------------------------------------------------------------------------

    def _find_playlist(self, account: AccountState, playlist_id: int) -> PlaylistState | None:
        return account.playlists.get(playlist_id)

    def playlist(self, account: AccountState, playlist_id: int) -> PlaylistState:
        """The account's own playlist; other accounts' playlists are invisible, as on a real server."""
        found = account.playlists.get(playlist_id)
        if found is None:
            raise UnknownItem(f"no playlist {playlist_id}")
        return found

    def _check_tracks(self, keys: Iterable[int]) -> list[int]:
        result: list[int] = []
        for key in keys:
            obj = self.require_item(key)
            # Adding an album or artist adds its tracks, as Plex expands containers into leaves.
            result.extend(t.id for t in self.leaves(obj))
        return result

    def _new_items(self, keys: Iterable[int]) -> list[tuple[int, int]]:
        out = []
        for key in keys:
            out.append((self._next_item_id, key))
            self._next_item_id += 1
        return out

    def create_playlist(
        self, account: AccountState, title: str, *, keys: Iterable[int] = (), query: str | None = None
    ) -> PlaylistState:
        """Create a regular playlist from item ids, or a smart one from a section query."""
        with self.lock:
            now = self.now()
            playlist_id = self._next_playlist_id
            self._next_playlist_id += 1
            playlist = PlaylistState(
                id=playlist_id,
                owner=account.id,
                title=title,
                guid=self._playlist_guid(playlist_id),
                smart=query is not None,
                query=query,
                added_at=now,
                updated_at=now,
            )
            if query is None:
                playlist.items = self._new_items(self._check_tracks(keys))
            account.playlists[playlist_id] = playlist
            self._touch()
            return playlist

    def add_to_playlist(self, account: AccountState, playlist_id: int, keys: Iterable[int]) -> PlaylistState:
        with self.lock:
            playlist = self.playlist(account, playlist_id)
            if playlist.smart:
                raise InvalidRequest("cannot add items to a smart playlist")
            playlist.items.extend(self._new_items(self._check_tracks(keys)))
            playlist.updated_at = self.now()
            self._touch()
            return playlist

    def set_smart_query(self, account: AccountState, playlist_id: int, query: str) -> PlaylistState:
        """Replace a smart playlist's rules (``PUT /playlists/{id}/items?uri=`` with a section uri)."""
        with self.lock:
            playlist = self.playlist(account, playlist_id)
            if not playlist.smart:
                raise InvalidRequest("a regular playlist takes items, not rules")
            playlist.query = query
            playlist.updated_at = self.now()
            self._touch()
            return playlist

    def _entry_index(self, playlist: PlaylistState, item_id: int) -> int:
        for i, (pid, _) in enumerate(playlist.items):
            if pid == item_id:
                return i
        raise UnknownItem(f"no playlist item {item_id}")

    def remove_from_playlist(self, account: AccountState, playlist_id: int, item_id: int) -> None:
        with self.lock:
            playlist = self.playlist(account, playlist_id)
            if playlist.smart:
                raise InvalidRequest("cannot remove items from a smart playlist")
            del playlist.items[self._entry_index(playlist, item_id)]
            playlist.updated_at = self.now()
            self._touch()

    def move_in_playlist(self, account: AccountState, playlist_id: int, item_id: int, after: int | None) -> None:
        """Move an entry right after entry ``after``, or to the top when ``after`` is None."""
        with self.lock:
            playlist = self.playlist(account, playlist_id)
            if playlist.smart:
                raise InvalidRequest("cannot move items in a smart playlist")
            index = self._entry_index(playlist, item_id)
            if after == item_id:
                return
            if after is not None:
                self._entry_index(playlist, after)  # 404 before anything moves
            entry = playlist.items.pop(index)
            position = 0 if after is None else self._entry_index(playlist, after) + 1
            playlist.items.insert(position, entry)
            playlist.updated_at = self.now()
            self._touch()

    def clear_playlist(self, account: AccountState, playlist_id: int) -> None:
        with self.lock:
            playlist = self.playlist(account, playlist_id)
            if playlist.smart:
                raise InvalidRequest("cannot clear a smart playlist")
            playlist.items.clear()
            playlist.updated_at = self.now()
            self._touch()

    def edit_playlist(
        self, account: AccountState, playlist_id: int, *, title: str | None = None, summary: str | None = None
    ) -> None:
        with self.lock:
            playlist = self.playlist(account, playlist_id)
            if title is not None:
                if not title:
                    raise InvalidRequest("a playlist title cannot be empty")
                playlist.title = title
            if summary is not None:
                playlist.summary = summary
            playlist.updated_at = self.now()
            self._touch()

    def delete_playlist(self, account: AccountState, playlist_id: int) -> None:
        with self.lock:
            self.playlist(account, playlist_id)
            del account.playlists[playlist_id]
            account.plays.pop(playlist_id, None)
            self._touch()

    def playlist_tracks(self, playlist: PlaylistState) -> Iterator[tuple[int, Track]]:
        """A regular playlist's ``(playlistItemID, track)`` entries."""
        for item_id, key in playlist.items:
            track = self.tracks.get(key)
            if track is not None:
                yield item_id, track

    # --- sonic neighbours -------------------------------------------------------------------------------------

    def _vectors(self, kind: str) -> dict[int, tuple[list[float], float]]:
        """Unit-length sonic vectors per item of ``kind``; albums and artists use their analysed tracks' centroid."""
        cached = self._sonic.get(kind)
        if cached is not None:
            return cached
        raw: dict[int, list[float]] = {}
        if kind == "track":
            raw = {t.id: t.sonic for t in self.tracks.values() if t.sonic}
        else:
            groups = self.albums.values() if kind == "album" else self.artists.values()
            for obj in groups:
                vectors = [t.sonic for t in self.leaves(obj) if t.sonic]
                if vectors:
                    raw[obj.id] = [sum(column) / len(vectors) for column in zip(*vectors, strict=False)]
        result: dict[int, tuple[list[float], float]] = {}
        for key, vector in raw.items():
            norm = math.sqrt(sum(x * x for x in vector))
            if norm > 0:
                result[key] = ([x / norm for x in vector], norm)
        self._sonic[kind] = result
        return result

    def nearest(
        self,
        seed: Item,
        *,
        limit: int,
        max_distance: float,
        exclude_parent: int | None = None,
        exclude_grandparent: int | None = None,
    ) -> list[tuple[Item, float]]:
        """Items of the seed's kind sonically closest to it, nearest first, as ``(item, distance)``.

        Distance is cosine distance (``1 - cos``) between sonic vectors. Only analysed items take part, and only
        when the section has been analysed; an unanalysed seed has no neighbours.
        """
        if not self.section.sonic_analysis:
            return []
        kind = "track" if isinstance(seed, Track) else "album" if isinstance(seed, Album) else "artist"
        vectors = self._vectors(kind)
        if seed.id not in vectors:
            return []
        origin = vectors[seed.id][0]
        found: list[tuple[float, int]] = []
        for key, (vector, _) in vectors.items():
            if key == seed.id:
                continue
            distance = max(0.0, 1.0 - sum(map(operator.mul, origin, vector)))
            if distance <= max_distance:
                found.append((distance, key))
        found.sort()
        result: list[tuple[Item, float]] = []
        for distance, key in found:
            obj = self.require_item(key)
            parent, grandparent = self._lineage(obj)
            if exclude_parent is not None and parent == exclude_parent:
                continue
            if exclude_grandparent is not None and grandparent == exclude_grandparent:
                continue
            result.append((obj, distance))
            if len(result) >= limit:
                break
        return result

    def _lineage(self, obj: Item) -> tuple[int | None, int | None]:
        if isinstance(obj, Track):
            album = self.albums[obj.album]
            return album.id, album.artist
        if isinstance(obj, Album):
            return obj.artist, None
        return None, None

    # --- export -----------------------------------------------------------------------------------------------

    def to_library(self) -> Library:
        """Snapshot the current state as a library file document (locks and playlistItemIDs are not kept)."""
        with self.lock:
            accounts = []
            for acc in self.accounts.values():
                accounts.append(
                    Account(
                        id=acc.id,
                        name=acc.name,
                        tokens=list(acc.tokens),
                        thumb=acc.thumb,
                        ratings=[Rating(k, r.rating, r.rated_at) for k, r in acc.ratings.items()],
                        plays=[
                            PlayState(k, p.view_count, p.last_viewed_at, p.skip_count) for k, p in acc.plays.items()
                        ],
                        history=[
                            HistoryEntry(h.key, h.viewed_at, h.device_id)
                            for h in self.history
                            if h.account_id == acc.id
                        ],
                        playlists=[
                            Playlist(
                                id=pl.id,
                                title=pl.title,
                                items=[key for _, key in pl.items],
                                smart=pl.smart,
                                query=pl.query,
                                summary=pl.summary,
                                added_at=pl.added_at,
                                updated_at=pl.updated_at,
                            )
                            for pl in acc.playlists.values()
                        ],
                    )
                )
            return Library(
                server=self.server,
                section=self.section,
                artists=list(self.artists.values()),
                albums=list(self.albums.values()),
                tracks=list(self.tracks.values()),
                accounts=accounts,
            )
