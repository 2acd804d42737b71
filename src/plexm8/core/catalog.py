"""What the local library index holds, and the two ports that fill it: a section reader and a library store.

Records are frozen snake_case dataclasses with units in their names: durations in milliseconds (``duration_ms``),
ratings on Plex's 0-10 scale (10 = five stars) as ``float | None`` (``None`` = unrated), times as epoch seconds.
Library metadata (artists, albums, tracks, tags, file paths) is the same for every Plex account; ratings, play
counts, playlists and play history belong to one account and are stored under an *account key* chosen by the
caller (the Plex token decides what the reader sees; the key names whose view it is in the store).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from enum import Enum
from typing import Protocol, TypeAlias

__all__ = [
    "AlbumRecord",
    "ArtistRecord",
    "ChangeKind",
    "FileRow",
    "IndexCounts",
    "IndexWriter",
    "ItemKind",
    "ItemPage",
    "ItemRow",
    "ItemRows",
    "ItemState",
    "ItemTags",
    "LibraryStore",
    "PlayRecord",
    "PlayRow",
    "PlaySource",
    "PlaySpool",
    "PlaylistItem",
    "PlaylistRecord",
    "ProgressCallback",
    "RefreshCursor",
    "RefreshResult",
    "SectionInfo",
    "SectionReader",
    "StateRow",
    "TagRow",
    "TrackRecord",
]


class ItemKind(Enum):
    """The three kinds of items in a music section, valued by their Plex metadata type number."""

    ARTIST = 8
    ALBUM = 9
    TRACK = 10


class ChangeKind(Enum):
    """Which timestamp an incremental read filters on."""

    #: Metadata changed or the item was added (``updatedAt`` is never older than ``addedAt``).
    UPDATED = "updatedAt"
    #: The account rated the item.
    RATED = "lastRatedAt"
    #: The account played the item.
    VIEWED = "lastViewedAt"


@dataclass(frozen=True, slots=True)
class SectionInfo:
    """The music section being indexed."""

    section_id: int
    uuid: str
    title: str


@dataclass(frozen=True, slots=True)
class ArtistRecord:
    """An artist (an album artist, in Plex's model)."""

    rating_key: int
    title: str
    sort_title: str | None
    genres: tuple[str, ...]
    styles: tuple[str, ...]
    moods: tuple[str, ...]
    added_at: int | None
    updated_at: int | None


@dataclass(frozen=True, slots=True)
class AlbumRecord:
    """An album and the key and name of its album artist."""

    rating_key: int
    artist_key: int | None
    artist_title: str | None
    title: str
    year: int | None
    studio: str | None
    genres: tuple[str, ...]
    styles: tuple[str, ...]
    moods: tuple[str, ...]
    added_at: int | None
    updated_at: int | None


@dataclass(frozen=True, slots=True)
class TrackRecord:
    """A track with its album and album artist; ``track_artist`` is set when it differs from the album artist."""

    rating_key: int
    album_key: int | None
    artist_key: int | None
    title: str
    album_title: str | None
    artist_title: str | None
    track_artist: str | None
    disc_number: int | None
    track_number: int | None
    duration_ms: int | None
    year: int | None
    genres: tuple[str, ...]
    styles: tuple[str, ...]
    moods: tuple[str, ...]
    #: Server-side paths of every part of every media version, in the server's order.
    file_paths: tuple[str, ...]
    added_at: int | None
    updated_at: int | None


@dataclass(frozen=True, slots=True)
class ItemTags:
    """The genres, styles and moods of one artist, album or track, each in the server's order."""

    genres: tuple[str, ...] = ()
    styles: tuple[str, ...] = ()
    moods: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ItemState:
    """One account's rating and play state of an item."""

    rating_key: int
    user_rating: float | None
    last_rated_at: int | None
    view_count: int
    last_viewed_at: int | None
    skip_count: int


@dataclass(frozen=True, slots=True)
class PlaylistItem:
    """One entry of a playlist; ``playlist_item_id`` exists only on regular (non-smart) playlists."""

    rating_key: int
    playlist_item_id: int | None


@dataclass(frozen=True, slots=True)
class PlaylistRecord:
    """An audio playlist of one account, with its items in order."""

    rating_key: int
    title: str
    smart: bool
    summary: str
    leaf_count: int
    duration_ms: int | None
    added_at: int | None
    updated_at: int | None
    items: tuple[PlaylistItem, ...] = ()


@dataclass(frozen=True, slots=True)
class PlayRecord:
    """One play from the server's history; ``plex_account_id`` is the server's account id of the listener."""

    history_id: int
    rating_key: int
    viewed_at: int
    plex_account_id: int | None
    device_id: int | None


@dataclass(frozen=True, slots=True)
class ItemPage:
    """One page of a listing: records of one kind, the reading account's state of each, and the server's total."""

    kind: ItemKind
    total: int
    records: Sequence[ArtistRecord | AlbumRecord | TrackRecord]
    states: Sequence[ItemState]


#: An item's record fields in declaration order without its tags and file paths (the store's column order).
ItemRow: TypeAlias = tuple[int | str | None, ...]
#: ``(rating_key, "genre" | "style" | "mood", position, tag)``.
TagRow: TypeAlias = tuple[int, str, int, str]
#: ``(rating_key, position, path)``: every part of every media version of a track, in the server's order.
FileRow: TypeAlias = tuple[int, int, str]
#: The fields of :class:`PlayRecord` in declaration order.
PlayRow: TypeAlias = tuple[int, int, int, int | None, int | None]
#: What a full history is read by in another process: a picklable callable giving the plays page by page.
PlaySource: TypeAlias = Callable[[], Iterator[list[PlayRow]]]
#: The fields of :class:`ItemState` in declaration order.
StateRow: TypeAlias = tuple[int, float | None, int | None, int, int | None, int]


@dataclass(frozen=True, slots=True)
class ItemRows:
    """One page of a full listing as plain rows, for a bulk load that needs no object per item.

    ``items`` holds one :data:`ItemRow` per item of ``kind``; ``states`` only the account's non-default states
    (rated, played or skipped); the three high-water marks are the page's highest timestamps (0 when none).
    """

    kind: ItemKind
    total: int
    items: Sequence[ItemRow]
    tags: Sequence[TagRow]
    files: Sequence[FileRow]
    states: Sequence[StateRow]
    updated_at: int
    last_rated_at: int
    last_viewed_at: int


@dataclass(frozen=True, slots=True)
class RefreshCursor:
    """Where the last refresh of one account left off: high-water marks of the server's own timestamps."""

    section_id: int
    section_uuid: str
    #: Highest ``updatedAt`` seen per kind, by kind name (``"TRACK"``...).
    updated_at: dict[str, int] = field(default_factory=dict)
    last_rated_at: int = 0
    last_viewed_at: int = 0
    #: Highest ``viewedAt`` among the history rows seen.
    history_viewed_at: int = 0
    refreshed_at: int = 0


@dataclass(frozen=True, slots=True)
class IndexCounts:
    """What the index holds for one account."""

    artists: int
    albums: int
    tracks: int
    rated_tracks: int
    played_tracks: int
    playlists: int
    plays: int
    refreshed_at: int | None


@dataclass(frozen=True, slots=True)
class RefreshResult:
    """The outcome of one refresh: whether it was a full build, what changed and how long it took."""

    account: str
    full: bool
    added: int
    updated: int
    deleted: int
    states_changed: int
    playlists_changed: int
    plays_added: int
    requests: int
    seconds: float
    counts: IndexCounts


#: ``progress(stage, done, total)``; ``total`` is ``None`` while unknown.
ProgressCallback = Callable[[str, int, int | None], None]


class SectionReader(Protocol):
    """Reads one Plex music section in bulk as seen by one account (the token decides ratings and plays)."""

    @property
    def requests_made(self) -> int:
        """How many HTTP requests this reader has sent so far."""
        ...

    def section(self) -> SectionInfo:
        """The music section this reader reads."""
        ...

    def count(
        self, kind: ItemKind, *, key_above: int | None = None, key_below: int | None = None, rated: bool = False
    ) -> int:
        """How many items of ``kind`` the server has, optionally with a rating key strictly in between, or rated."""
        ...

    def read_items(self, kind: ItemKind, *, since: tuple[ChangeKind, int] | None = None) -> Iterator[ItemPage]:
        """Every item of ``kind`` (or only those whose timestamp is after ``since``), page by page."""
        ...

    def read_changed(self, kind: ItemKind, since: Sequence[tuple[ChangeKind, int]]) -> Iterator[ItemPage]:
        """The items of ``kind`` with any of the timestamps after its bound (one query ORing them), page by page."""
        ...

    def read_rows(self, *kinds: ItemKind) -> Iterator[ItemRows]:
        """Every item of each of ``kinds`` in turn as plain rows, page by page (what a full build reads)."""
        ...

    def read_keys(self, kind: ItemKind, *, key_above: int | None = None, key_below: int | None = None) -> list[int]:
        """The rating keys of the items of ``kind``, optionally strictly within a range."""
        ...

    def read_rated_states(self) -> Iterator[ItemState]:
        """The account's state of every rated track (used when a rating may have been cleared)."""
        ...

    def read_playlists(self) -> list[PlaylistRecord]:
        """The account's audio playlists without their items."""
        ...

    def read_playlist_items(self, rating_key: int) -> tuple[PlaylistItem, ...]:
        """The items of one playlist, in order."""
        ...

    def read_history(self, *, viewed_after: int = 0) -> Iterator[list[PlayRecord]]:
        """Plays in the section visible to the account that happened after ``viewed_after``, page by page."""
        ...

    def download_history(self, *, viewed_after: int = 0) -> Iterator[Callable[[], list[PlayRow]]]:
        """The pages of :meth:`read_history` as plain rows, as soon as each is downloaded; decoded when called."""
        ...

    def count_plays(self, *, viewed_after: int = 0) -> int:
        """How many plays :meth:`read_history` would give (asked without reading them)."""
        ...

    def play_source(self, *, viewed_after: int = 0) -> PlaySource:
        """:meth:`download_history`'s plays, decoded, from a picklable callable that reads them on its own.

        It opens its own connection wherever it is called (another process) and raises the same errors.
        """
        ...

    def download_tags(self, keys: Sequence[int]) -> Iterator[Callable[[], list[TagRow]]]:
        """The styles and moods of these artists and albums (item detail only), as each part is downloaded.

        Each callable decodes one downloaded part into ``(rating_key, "style" | "mood", position, tag)`` rows; keys
        the server no longer has give no rows.
        """
        ...


class IndexWriter(Protocol):
    """One refresh's writes to the store; nothing is visible to readers until :meth:`commit`."""

    def clear_library(self) -> None:
        """Forget all library metadata and the account's state (a full build follows)."""
        ...

    def put_artists(self, records: Sequence[ArtistRecord]) -> None: ...

    def put_albums(self, records: Sequence[AlbumRecord]) -> None: ...

    def put_tracks(self, records: Sequence[TrackRecord]) -> None: ...

    def put_rows(self, rows: ItemRows) -> None:
        """Insert or replace a page of items with their tags, files and the account's non-default states."""
        ...

    def put_states(self, states: Sequence[ItemState]) -> None:
        """Insert or replace the account's state of these items."""
        ...

    def replace_detail_tags(self, keys: Sequence[int], rows: Sequence[TagRow]) -> None:
        """Make the styles and moods of the items ``keys`` exactly those in ``rows`` (their genres stay)."""
        ...

    def clear_rated(self, keep: Sequence[int]) -> int:
        """Clear the account's rating on every item not in ``keep``; return how many were cleared."""
        ...

    def delete_items(self, kind: ItemKind, keys: Sequence[int]) -> None:
        """Delete these items with their tags, parts and every account's state of them."""
        ...

    def replace_playlists(self, playlists: Sequence[PlaylistRecord], *, keep_items: Sequence[int] = ()) -> None:
        """Make the account's playlists exactly ``playlists``; those in ``keep_items`` keep their stored items."""
        ...

    def add_plays(self, plays: Sequence[PlayRecord]) -> int:
        """Record plays not recorded yet (by history id); return how many were new."""
        ...

    def add_play_rows(self, plays: Sequence[PlayRow]) -> int:
        """:meth:`add_plays` for plain rows."""
        ...

    def add_spooled_plays(self, spool: PlaySpool) -> tuple[int, int]:
        """Record the plays a finished spool holds that are not recorded yet; return how many were new and the
        latest ``viewed_at`` among all it holds (0 when none). Raises the spool's source's error."""
        ...

    def set_cursor(self, cursor: RefreshCursor) -> None: ...

    def commit(self) -> None:
        """Make every write of this refresh visible at once."""
        ...


class PlaySpool(Protocol):
    """Plays being read by a :data:`PlaySource` in another process and stored aside, for a writer to take in bulk.

    The other process keeps the reading and decoding of a large history off the refresh's own thread; when it cannot
    run or dies, the source is read here instead, with the same result.
    """

    def close(self) -> None:
        """Stop the reading if it still runs and remove what was stored aside."""
        ...


class LibraryStore(Protocol):
    """The local index (SQLite): library metadata shared by all accounts plus per-account state."""

    def spool_plays(self, source: PlaySource) -> PlaySpool:
        """Start reading ``source`` into a spool beside the index (the caller closes it)."""
        ...

    def refresh(self, account: str) -> AbstractContextManager[IndexWriter]:
        """A writer for one refresh of ``account``; leaving the block without ``commit()`` discards everything."""
        ...

    def cursor(self, account: str) -> RefreshCursor | None:
        """Where the account's last committed refresh left off; ``None`` before the first."""
        ...

    def item_keys(self, kind: ItemKind) -> list[int]:
        """Sorted rating keys of the indexed items of ``kind``."""
        ...

    def states(self, account: str, keys: Collection[int] | None = None) -> dict[int, ItemState]:
        """The account's item states by rating key (of ``keys`` only, if given); missing: unrated and never played."""
        ...

    def rated_keys(self, account: str) -> set[int]:
        """The rating keys of every item the account has rated."""
        ...

    def item_tags(self, keys: Collection[int] | None = None) -> dict[int, ItemTags]:
        """Genres, styles and moods by rating key (of ``keys`` only, if given); items without any are absent."""
        ...

    def playlists(self, account: str) -> list[PlaylistRecord]:
        """The account's indexed playlists with their items."""
        ...

    def counts(self, account: str) -> IndexCounts: ...
