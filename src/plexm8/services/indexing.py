"""Refresh the local library index from Plex: a full first build, cheap incremental refreshes afterwards.

An incremental refresh asks the server only for what changed after the previous refresh's high-water marks of the
server's own timestamps (``updatedAt`` for metadata and new items, ``lastRatedAt`` and ``lastViewedAt`` for the
account's ratings and plays), so clocks never need to agree. What timestamps cannot show is found by counting,
which a server answers without sending rows:

- deletions: when the server's item count differs from the index's, counts over rating-key ranges are bisected
  down to the deleted keys (a few requests per deletion), or, when many went, the keys of the range are listed;
- cleared ratings: when the number of rated tracks differs, the rated tracks are listed and every other rating in
  the index is cleared.

Styles and moods of artists and albums are not in list rows, only in item detail: a full build reads the detail of
every artist and album (many ids per request, in a thread while the tracks are read and stored); an incremental
refresh reads it only for the artists and albums that were added or whose ``updatedAt`` moved (or lies in the
previous refresh's last second, like the listings' overlap), and keeps the stored styles and moods of those re-read
for a rating or a play only.

A full build asks for the first page of the artist, album and track listings at once, then starts the reads only
needed at the end (playlists, history): the server answers first what is stored first. A history of more than
:data:`SPOOL_PLAYS_ABOVE` plays is read by the store's play spool, a worker process that decodes and stores the plays
aside while this thread stores the tracks; the writer then copies them in one statement.

Everything one refresh writes is committed in one transaction, so a failed or killed refresh leaves the previous
index as it was. Playback changes that move no timestamp (an "unscrobble" lowering a play count) are picked up by
the next full build only.
"""

from __future__ import annotations

import bisect
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from operator import itemgetter

from plexm8.core.catalog import (
    AlbumRecord,
    ArtistRecord,
    ChangeKind,
    IndexWriter,
    ItemKind,
    ItemPage,
    ItemRows,
    ItemState,
    LibraryStore,
    PlaylistRecord,
    PlayRow,
    PlaySpool,
    ProgressCallback,
    RefreshCursor,
    RefreshResult,
    SectionReader,
    TagRow,
    TrackRecord,
)
from plexm8.services.gc_pause import gc_paused

__all__ = ["SPOOL_PLAYS_ABOVE", "refresh_index"]

#: The ``viewed_at`` of a PlayRow.
_VIEWED_AT = itemgetter(2)
_KINDS = (ItemKind.ARTIST, ItemKind.ALBUM, ItemKind.TRACK)
_STAGE = {ItemKind.ARTIST: "artists", ItemKind.ALBUM: "albums", ItemKind.TRACK: "tracks"}
#: Below this many indexed keys in a range, listing the range's keys is cheaper than bisecting it further.
_LIST_RANGE_BELOW = 2_000
#: A full build reads a history of more plays than this in a worker process (about 5 microseconds of this thread's
#: time per play saved, against a process started on the other core).
SPOOL_PLAYS_ABOVE = 50_000


def _no_progress(stage: str, done: int, total: int | None) -> None:
    """Ignore progress."""


@dataclass
class _Tally:
    """What a refresh has seen and changed so far."""

    updated_at: dict[str, int] = field(default_factory=dict)
    last_rated_at: int = 0
    last_viewed_at: int = 0
    history_viewed_at: int = 0
    added: int = 0
    updated: int = 0
    deleted: int = 0
    states_changed: int = 0
    playlists_changed: int = 0
    plays_added: int = 0

    def see_rows(self, rows: ItemRows) -> None:
        name = rows.kind.name
        self.updated_at[name] = max(self.updated_at.get(name, 0), rows.updated_at)
        self.last_rated_at = max(self.last_rated_at, rows.last_rated_at)
        self.last_viewed_at = max(self.last_viewed_at, rows.last_viewed_at)

    def see(self, page: ItemPage) -> None:
        name = page.kind.name
        high = self.updated_at.get(name, 0)
        for record in page.records:
            if record.updated_at is not None and record.updated_at > high:
                high = record.updated_at
        self.updated_at[name] = high
        for state in page.states:
            if state.last_rated_at is not None and state.last_rated_at > self.last_rated_at:
                self.last_rated_at = state.last_rated_at
            if state.last_viewed_at is not None and state.last_viewed_at > self.last_viewed_at:
                self.last_viewed_at = state.last_viewed_at


def _put(writer: IndexWriter, page: ItemPage) -> None:
    records = page.records
    if page.kind is ItemKind.TRACK:
        writer.put_tracks([r for r in records if isinstance(r, TrackRecord)])
    elif page.kind is ItemKind.ALBUM:
        writer.put_albums([r for r in records if isinstance(r, AlbumRecord)])
    else:
        writer.put_artists([r for r in records if isinstance(r, ArtistRecord)])
    writer.put_states(page.states)


def refresh_index(
    reader: SectionReader,
    store: LibraryStore,
    *,
    account: str,
    progress: ProgressCallback | None = None,
    full: bool = False,
    spool_plays_above: int | None = SPOOL_PLAYS_ABOVE,
) -> RefreshResult:
    """Bring ``account``'s view of the index up to date with the server; a full build the first time (or ``full``).

    A full build whose history holds more than ``spool_plays_above`` plays reads it in a worker process (the store's
    play spool); ``None`` never does.

    Raises the reader's PlexM8 errors (PlexUnavailable, PlexAuthError...) with the previous index left intact.
    """
    report = progress or _no_progress
    started = time.perf_counter()
    requests_before = reader.requests_made
    section = reader.section()
    cursor = store.cursor(account)
    # Another section behind the same account key (the server was replaced or re-created) starts over.
    is_full = full or cursor is None or cursor.section_uuid != section.uuid or cursor.section_id != section.section_id
    tally = _Tally()
    stored = [] if is_full else store.playlists(account)
    viewed_after = 0 if is_full or cursor is None else cursor.history_viewed_at
    spool_above = spool_plays_above if is_full else None
    # The reads beside the refresh end after the writer: a spool file is detached before it is removed.
    with (
        gc_paused(),
        _meanwhile(reader, store, stored, viewed_after, spool_above) as meanwhile,
        store.refresh(account) as writer,
    ):
        if is_full or cursor is None:
            _full_build(reader, writer, meanwhile, tally, report)
        else:
            _incremental(reader, store, writer, account, cursor, meanwhile, tally, report)
            tally.updated_at = {k: max(v, tally.updated_at.get(k, 0)) for k, v in cursor.updated_at.items()}
            tally.last_rated_at = max(tally.last_rated_at, cursor.last_rated_at)
            tally.last_viewed_at = max(tally.last_viewed_at, cursor.last_viewed_at)
            tally.history_viewed_at = max(tally.history_viewed_at, cursor.history_viewed_at)
        writer.set_cursor(
            RefreshCursor(
                section_id=section.section_id,
                section_uuid=section.uuid,
                updated_at=tally.updated_at,
                last_rated_at=tally.last_rated_at,
                last_viewed_at=tally.last_viewed_at,
                history_viewed_at=tally.history_viewed_at,
                refreshed_at=int(time.time()),
            )
        )
        report("commit", 0, None)
        writer.commit()
    report("done", 1, 1)
    return RefreshResult(
        account=account,
        full=is_full,
        added=tally.added,
        updated=tally.updated,
        deleted=tally.deleted,
        states_changed=tally.states_changed,
        playlists_changed=tally.playlists_changed,
        plays_added=tally.plays_added,
        requests=reader.requests_made - requests_before,
        seconds=time.perf_counter() - started,
        counts=store.counts(account),
    )


def _full_build(
    reader: SectionReader,
    writer: IndexWriter,
    meanwhile: _Meanwhile,
    tally: _Tally,
    report: ProgressCallback,
) -> None:
    writer.clear_library()
    tag_keys: list[int] = []
    tags: Future[list[Callable[[], list[TagRow]]]] | None = None
    kind: ItemKind | None = None
    done = 0
    report(_STAGE[_KINDS[0]], 0, None)
    # The listings' first pages are all asked for at once, ahead of the reads only needed at the end, which start
    # when the first page is here: the server answers what is stored first, first.
    for rows in reader.read_rows(*_KINDS):
        meanwhile.start()
        if rows.kind is not kind:
            kind, done = rows.kind, 0
            report(_STAGE[kind], 0, None)
            if kind is ItemKind.TRACK:
                # Every artist and album is known now: their detail downloads while the (long) track stage runs.
                tags = meanwhile.download_tags(reader, tag_keys)
        writer.put_rows(rows)
        tally.see_rows(rows)
        if kind is not ItemKind.TRACK:
            tag_keys.extend(int(row[0]) for row in rows.items)  # type: ignore[arg-type]
        done += len(rows.items)
        tally.added += len(rows.items)
        report(_STAGE[kind], done, rows.total)
    if tags is not None:
        # The library was cleared above: there are no stored styles or moods to replace.
        _write_tags(writer, tags, tag_keys, set(tag_keys), report, clear_first=False)
    _write_playlists(writer, meanwhile.playlists, tally, report)
    _write_history(writer, meanwhile.history, 0, tally, report)


def _incremental(
    reader: SectionReader,
    store: LibraryStore,
    writer: IndexWriter,
    account: str,
    cursor: RefreshCursor,
    meanwhile: _Meanwhile,
    tally: _Tally,
    report: ProgressCallback,
) -> None:
    meanwhile.start()
    # Which items the account has rated, kept up to date with what this refresh reads (for _reconcile_ratings).
    rated = store.rated_keys(account)
    track_keys: set[int] = set()
    # Artists and albums added or edited since the last refresh: their styles and moods are read from detail.
    tag_keys: list[int] = []
    live: set[int] = set()
    tags: Future[list[Callable[[], list[TagRow]]]] | None = None
    for kind in _KINDS:
        if kind is ItemKind.TRACK and tag_keys:
            tags = meanwhile.download_tags(reader, tag_keys)
        keys = set(store.item_keys(kind))
        changed: dict[int, ItemState] = {}
        report(_STAGE[kind], 0, None)
        # One second of overlap: a change in the same second as the last one seen must not be missed (">>" is ">").
        since = [
            (change, max(high - 1, 0))
            for change, high in (
                (ChangeKind.UPDATED, cursor.updated_at.get(kind.name, 0)),
                (ChangeKind.RATED, cursor.last_rated_at),
                (ChangeKind.VIEWED, cursor.last_viewed_at),
            )
        ]
        for page in reader.read_changed(kind, since):
            if kind is not ItemKind.TRACK:
                page = _keep_detail_tags(store, page, keys, cursor.updated_at.get(kind.name, 0), tag_keys)
            _put(writer, page)
            tally.see(page)
            for record in page.records:
                if record.rating_key in keys:
                    # Re-read rows from the overlap second, or read for a rating or play, are not updates.
                    fresh = record.updated_at is not None and record.updated_at > cursor.updated_at.get(kind.name, 0)
                    tally.updated += fresh and record.rating_key not in changed
                else:
                    tally.added += 1
                    keys.add(record.rating_key)
            stored = store.states(account, [state.rating_key for state in page.states])
            for state in page.states:
                if state != stored.get(state.rating_key, _default_state(state.rating_key)):
                    tally.states_changed += state.rating_key not in changed
                changed[state.rating_key] = state
            report(_STAGE[kind], len(changed), None)
        for key, state in changed.items():
            if state.user_rating is None:
                rated.discard(key)
            else:
                rated.add(key)
        deleted = _find_deleted(reader, kind, sorted(keys), report)
        if deleted:
            writer.delete_items(kind, deleted)
            tally.deleted += len(deleted)
            keys.difference_update(deleted)
        if kind is ItemKind.TRACK:
            track_keys = keys
        else:
            live |= keys
    if tags is not None:
        _write_tags(writer, tags, tag_keys, live, report, clear_first=True)
    _reconcile_ratings(reader, writer, rated, track_keys, tally, report)
    _write_playlists(writer, meanwhile.playlists, tally, report)
    _write_history(writer, meanwhile.history, cursor.history_viewed_at, tally, report)


def _keep_detail_tags(store: LibraryStore, page: ItemPage, known: set[int], high: int, fresh: list[int]) -> ItemPage:
    """``page`` with the stored styles and moods on the records that are neither new nor edited since ``high``.

    Their listing rows were read again for a rating or a play and carry no styles or moods; writing them as read
    would drop the stored ones. The keys of the new and edited ones are added to ``fresh``. Edited means in or after
    the second of ``high``, as the listings' own overlap second: ``updatedAt`` counts whole seconds, so an edit in
    the same second as the previous refresh's read would otherwise never be seen.
    """
    kept: list[int] = []
    for record in page.records:
        edited = record.updated_at is not None and record.updated_at >= high
        if edited or record.rating_key not in known:
            fresh.append(record.rating_key)
        elif not isinstance(record, TrackRecord) and not (record.styles or record.moods):
            kept.append(record.rating_key)
    if not kept:
        return page
    stored = store.item_tags(kept)
    records = [
        replace(record, styles=tags.styles, moods=tags.moods)
        if not isinstance(record, TrackRecord) and (tags := stored.get(record.rating_key)) is not None
        else record
        for record in page.records
    ]
    return replace(page, records=records)


def _write_tags(
    writer: IndexWriter,
    read: Future[list[Callable[[], list[TagRow]]]],
    keys: Sequence[int],
    live: set[int],
    report: ProgressCallback,
    *,
    clear_first: bool,
) -> None:
    """Store the styles and moods read from detail for ``keys`` (rows of items not in ``live`` dropped); with
    ``clear_first``, those stored for ``keys`` are removed first."""
    report("styles and moods", 0, None)
    rows: list[TagRow] = []
    for decode in read.result():
        rows.extend(decode())
    # An item deleted on the server after its detail was read must not leave tags behind in the index.
    writer.replace_detail_tags(keys if clear_first else (), [row for row in rows if row[0] in live])
    report("styles and moods", len(keys), len(keys))


def _default_state(rating_key: int) -> ItemState:
    return ItemState(rating_key, None, None, 0, None, 0)


def _find_deleted(reader: SectionReader, kind: ItemKind, local: list[int], report: ProgressCallback) -> list[int]:
    """The keys in ``local`` (sorted) that the server no longer has; every addition is already in ``local``."""
    total = reader.count(kind)
    if total == len(local):
        return []
    report(f"deleted {_STAGE[kind]}", 0, None)
    deleted: list[int] = []
    # Key ranges (exclusive low, exclusive high) whose local count may differ from the server's, with the server's
    # count when already known.
    pending: list[tuple[int | None, int | None, int | None]] = [(None, None, total)]
    while pending:
        low, high, remote = pending.pop()
        start = 0 if low is None else bisect.bisect_right(local, low)
        stop = len(local) if high is None else bisect.bisect_left(local, high)
        mine = local[start:stop]
        if remote is None:
            remote = reader.count(kind, key_above=low, key_below=high)
        if remote == len(mine):
            continue
        if remote == 0:
            deleted.extend(mine)
        elif len(mine) <= _LIST_RANGE_BELOW or (len(mine) - remote) * 32 >= len(mine):
            # Many gone here: one listing of the range's keys costs less than bisecting every deletion.
            present = set(reader.read_keys(kind, key_above=low, key_below=high))
            deleted.extend(k for k in mine if k not in present)
        else:
            middle = mine[len(mine) // 2]
            pending.append((low, middle, None))
            pending.append((middle - 1, high, None))
        report(f"deleted {_STAGE[kind]}", len(deleted), None)
    return sorted(deleted)


def _reconcile_ratings(
    reader: SectionReader,
    writer: IndexWriter,
    rated_keys: set[int],
    track_keys: set[int],
    tally: _Tally,
    report: ProgressCallback,
) -> None:
    """Catch cleared track ratings, which move no timestamp a filter can see, by comparing rated-track counts."""
    rated_here = len(rated_keys & track_keys)
    if reader.count(ItemKind.TRACK, rated=True) == rated_here:
        return
    report("ratings", 0, None)
    rated = list(reader.read_rated_states())
    writer.put_states(rated)
    tally.states_changed += writer.clear_rated([s.rating_key for s in rated])
    report("ratings", len(rated), len(rated))


#: The history as read beside the refresh: downloaded pages to decode, or a spool read in another process.
_HistoryRead = list[Callable[[], list[PlayRow]]] | PlaySpool


@dataclass(frozen=True, slots=True)
class _PlaylistsRead:
    """The account's playlists as read, which of them kept their stored items, and how many changed."""

    playlists: list[PlaylistRecord]
    unchanged: list[int]
    changed: int


def _read_playlists(reader: SectionReader, stored: Sequence[PlaylistRecord]) -> _PlaylistsRead:
    """Re-read the items of new, changed and smart playlists (smart ones follow their rules without notice)."""
    known = {p.rating_key: p for p in stored}
    playlists = reader.read_playlists()
    result: list[PlaylistRecord] = []
    unchanged: list[int] = []
    changed = len(set(known) - {p.rating_key for p in playlists})
    for playlist in playlists:
        old = known.get(playlist.rating_key)
        same = (
            old is not None
            and not playlist.smart
            and old.updated_at == playlist.updated_at
            and old.leaf_count == playlist.leaf_count
        )
        if same:
            unchanged.append(playlist.rating_key)
            result.append(playlist)
        else:
            items = reader.read_playlist_items(playlist.rating_key)
            result.append(replace(playlist, items=items))
            changed += old is None or old.items != items or old.title != playlist.title
    return _PlaylistsRead(result, unchanged, changed)


class _Meanwhile:
    """Reads running in threads while the refresh reads and stores items.

    The playlists and the new plays from :meth:`start` on; the styles and moods of artists and albums on request.
    Storing items keeps this process busy while the server idles, and answering smart playlists and history keeps
    the server busy: in threads, both run at once. The threads mostly wait on the server; history pages are only
    downloaded (decoding them here would hold the GIL that the caller's SQLite inserts take back on every row).
    """

    def __init__(
        self,
        reader: SectionReader,
        store: LibraryStore,
        stored: Sequence[PlaylistRecord],
        viewed_after: int,
        spool_above: int | None,
    ) -> None:
        self._reader = reader
        self._store = store
        self._stored = stored
        # One second of overlap: a play in the same second as the last one seen must not be missed (">" is strict).
        self._after = max(viewed_after - 1, 0)
        self._spool_above = spool_above
        # Playlists, history and the artists' and albums' detail (styles and moods), each in its own thread.
        self._pool = ThreadPoolExecutor(max_workers=3, thread_name_prefix="plexm8-meanwhile")
        self._playlists: Future[_PlaylistsRead] | None = None
        self._history: Future[_HistoryRead] | None = None

    def start(self) -> None:
        """Start reading the playlists and the history (once; later calls do nothing)."""
        if self._playlists is None:
            self._playlists = self._pool.submit(_read_playlists, self._reader, self._stored)
            self._history = self._pool.submit(self._read_history)

    def _read_history(self) -> _HistoryRead:
        reader, after = self._reader, self._after
        if self._spool_above is not None and reader.count_plays(viewed_after=after) > self._spool_above:
            # A large history is read and decoded in another process, off the thread the refresh waits for.
            return self._store.spool_plays(reader.play_source(viewed_after=after))
        return list(reader.download_history(viewed_after=after))

    @property
    def playlists(self) -> Future[_PlaylistsRead]:
        self.start()
        assert self._playlists is not None
        return self._playlists

    @property
    def history(self) -> Future[_HistoryRead]:
        self.start()
        assert self._history is not None
        return self._history

    def download_tags(self, reader: SectionReader, keys: Sequence[int]) -> Future[list[Callable[[], list[TagRow]]]]:
        """Start downloading the styles and moods of these artists and albums (decoded later, by the caller)."""
        wanted = list(keys)
        return self._pool.submit(lambda: list(reader.download_tags(wanted)))

    def close(self) -> None:
        """Leave what still runs to finish or fail on its own, start nothing more, and close a play spool (now or as
        soon as it is started)."""
        self._pool.shutdown(wait=False, cancel_futures=True)
        if self._history is not None:
            self._history.add_done_callback(_close_spool)


def _close_spool(read: Future[_HistoryRead]) -> None:
    if not read.cancelled() and read.exception() is None:
        found = read.result()
        if not isinstance(found, list):
            found.close()


@contextmanager
def _meanwhile(
    reader: SectionReader,
    store: LibraryStore,
    stored: Sequence[PlaylistRecord],
    viewed_after: int,
    spool_above: int | None,
) -> Iterator[_Meanwhile]:
    """Reads in threads beside the refresh (see :class:`_Meanwhile`); if the caller fails, they are left to finish
    or fail on their own."""
    meanwhile = _Meanwhile(reader, store, stored, viewed_after, spool_above)
    try:
        yield meanwhile
    finally:
        meanwhile.close()


def _write_playlists(
    writer: IndexWriter, read: Future[_PlaylistsRead], tally: _Tally, report: ProgressCallback
) -> None:
    report("playlists", 0, None)
    found = read.result()
    writer.replace_playlists(found.playlists, keep_items=found.unchanged)
    tally.playlists_changed += found.changed
    report("playlists", len(found.playlists), len(found.playlists))


def _write_history(
    writer: IndexWriter,
    read: Future[_HistoryRead],
    viewed_after: int,
    tally: _Tally,
    report: ProgressCallback,
) -> None:
    report("history", 0, None)
    found = read.result()
    if not isinstance(found, list):
        added, high = writer.add_spooled_plays(found)
        tally.plays_added += added
        tally.history_viewed_at = max(viewed_after, high)
        report("history", tally.plays_added, None)
        return
    high = viewed_after
    pages = deque(found)
    while pages:
        # Popped, so each downloaded page is freed as soon as it is stored; oldest first (pages come newest first),
        # so history ids, which grow with time, are inserted in key order.
        page = pages.pop()()
        tally.plays_added += writer.add_play_rows(page)
        high = max(high, max(map(_VIEWED_AT, page), default=0))
        report("history", tally.plays_added, None)
    tally.history_viewed_at = high
