"""The bulk reader of a Plex music section: large pages, JSON when the server gives it, a few requests in flight.

This deliberately bypasses python-plexapi's object layer for listings: plexapi builds one Python object per row
from XML in pages of 100, which is what costs time on a big library. Here the listing is requested in pages of
``page_size`` rows with ``Accept: application/json``; after the first page has told the total, the other pages are
fetched by a small thread pool while the caller decodes and stores the previous ones. A server that ignores the
``Accept`` header gets its XML decoded into the same records.

Filters are Plex's own search language as plexapi sends it (``track.updatedAt>>=<epoch>``, ``track.id<<=<key>``):
the server does the selecting, so an incremental refresh transfers only what changed.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TypeVar

import requests
import urllib3

from plexm8.core.catalog import (
    ChangeKind,
    ItemKind,
    ItemPage,
    ItemRows,
    ItemState,
    PlaylistItem,
    PlaylistRecord,
    PlayRecord,
    PlayRow,
    PlaySource,
    SectionInfo,
    TagRow,
)
from plexm8.errors import PlexAuthError, PlexError, PlexUnavailable
from plexm8.plex.listing_decode import (
    ListingFormatError,
    decode_detail_tags,
    decode_history,
    decode_history_rows,
    decode_items,
    decode_keys,
    decode_playlist_items,
    decode_playlists,
    decode_rated_states,
    decode_rows,
    decode_sections,
    decode_total,
)

__all__ = ["PlexSectionReader"]

T = TypeVar("T")
Params = list[tuple[str, str]]

_PREFIX = {ItemKind.ARTIST: "artist", ItemKind.ALBUM: "album", ItemKind.TRACK: "track"}
#: The attributes of a history row (OpenAPI ``listPlaybackHistory``, plus the parent/grandparent ones tracks carry)
#: that the index does not keep.
_HISTORY_UNUSED = ",".join(
    (
        "key",
        "librarySectionID",
        "parentKey",
        "grandparentKey",
        "title",
        "parentTitle",
        "grandparentTitle",
        "type",
        "thumb",
        "parentThumb",
        "grandparentThumb",
        "index",
        "parentIndex",
        "originallyAvailableAt",
    )
)

#: Child elements of an artist's or album's detail besides Style and Mood (those a PMS sends for music, and the
#: extras plexsim models); ``excludeElements`` asks the server to leave them off.
_DETAIL_UNUSED_ELEMENTS = ",".join(
    (
        "Genre",
        "Country",
        "Guid",
        "Image",
        "UltraBlurColors",
        "Location",
        "Label",
        "Collection",
        "Similar",
        "Format",
        "Subformat",
        "Review",
        "Field",
        "Media",
        "Extras",
        "Related",
        "Preferences",
        "Stations",
        "PopularLeaves",
    )
)
#: Attributes of an artist's or album's detail (and of its tag elements) other than ``ratingKey``, ``tag`` and
#: ``type`` (short, and what some JSON forms file items by): ``excludeFields`` asks the server to leave them off.
#: Not ``includeFields``: its meaning flipped at PMS API 1.0.
_DETAIL_UNUSED_FIELDS = ",".join(
    (
        "key",
        "guid",
        "parentRatingKey",
        "parentGuid",
        "parentKey",
        "parentTitle",
        "parentThumb",
        "studio",
        "title",
        "titleSort",
        "librarySectionTitle",
        "librarySectionID",
        "librarySectionKey",
        "summary",
        "index",
        "year",
        "thumb",
        "art",
        "originallyAvailableAt",
        "leafCount",
        "viewedLeafCount",
        "childCount",
        "addedAt",
        "updatedAt",
        "loudnessAnalysisVersion",
        "userRating",
        "viewCount",
        "skipCount",
        "lastViewedAt",
        "lastRatedAt",
        "rating",
        "audienceRating",
        "id",
        "filter",
    )
)
_DETAIL_PARAMS: Params = [("excludeFields", _DETAIL_UNUSED_FIELDS), ("excludeElements", _DETAIL_UNUSED_ELEMENTS)]


class _NotFound(PlexError):
    """The server answered 404 (a PlexError like any other refusal, told apart where a 404 means "gone")."""


class PlexSectionReader:
    """Reads one music section of the Plex server at ``base_url`` as the account that owns ``token``.

    ``section_id=None`` picks the first music section. ``json=False`` asks for XML (the fallback path).
    ``detail_chunk`` is how many items one multi-id detail request names (styles and moods are read that way).
    Nothing is sent before the first read. Errors are PlexM8 errors: :class:`PlexAuthError` when the token is
    refused, :class:`PlexUnavailable` when the server cannot be reached, times out, fails or answers something
    that is not a Plex listing, and :class:`PlexError` for other refusals (e.g. an unknown section).
    """

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        section_id: int | None = None,
        page_size: int = 10_000,
        timeout: float = 30.0,
        workers: int = 2,
        json: bool = True,
        detail_chunk: int = 300,
    ) -> None:
        if page_size < 1 or detail_chunk < 1:
            raise ValueError("page_size and detail_chunk must be positive")
        self._detail_chunk = detail_chunk
        self._base_url = base_url.rstrip("/")
        self._token = token
        self._section_id = section_id
        self._section: SectionInfo | None = None
        self._page_size = page_size
        self._timeout = timeout
        self._workers = max(1, workers)
        self._json = json
        self._headers = {
            "Accept": "application/json" if json else "*/*",
            "X-Plex-Token": token,
            "X-Plex-Product": "PlexM8",
            "X-Plex-Client-Identifier": "plexm8-index",
        }
        self._local = threading.local()
        self._sessions: list[requests.Session] = []
        self._sessions_lock = threading.Lock()
        self._counter = itertools.count()
        self._requests = 0
        self._bytes = 0
        self._bytes_lock = threading.Lock()

    @property
    def requests_made(self) -> int:
        """How many HTTP requests this reader has sent so far."""
        return self._requests

    @property
    def bytes_received(self) -> int:
        """How many response body bytes (after content decoding) this reader has received so far."""
        return self._bytes

    def close(self) -> None:
        """Close pooled connections; the reader reconnects on its next read."""
        with self._sessions_lock:
            sessions, self._sessions = self._sessions, []
        for session in sessions:
            session.close()
        self._local = threading.local()

    # --- transport ---------------------------------------------------------------------------------------

    def _session(self) -> requests.Session:
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            session.headers.update(self._headers)
            self._local.session = session
            with self._sessions_lock:
                self._sessions.append(session)
        return session

    def _get(self, path: str, params: Params, *, where_path: str | None = None) -> tuple[bytes, bool]:
        """GET ``path``; return the body and whether it is XML. Transport failures become PlexM8 errors.

        ``where_path`` names the request in error messages instead of ``path`` (a long multi-id path).
        """
        shown = where_path or path
        self._requests = next(self._counter) + 1
        where = f"Plex at {self._base_url}"
        try:
            response = self._session().get(self._base_url + path, params=params, timeout=self._timeout, stream=True)
            try:
                # One read of the whole body: requests' `.content` reads 10 KiB chunks through Python code, and
                # a download thread running that much Python stalls the decoding thread's SQLite inserts (every
                # insert step gives the GIL up and must take it back).
                body = response.raw.read(decode_content=True)
            finally:
                response.close()
        except (requests.Timeout, urllib3.exceptions.TimeoutError):
            raise PlexUnavailable(f"{where} did not answer within {self._timeout:g} s") from None
        except (requests.ConnectionError, urllib3.exceptions.HTTPError):
            raise PlexUnavailable(f"cannot connect to {where} (connection failed or dropped)") from None
        except requests.RequestException as exc:
            raise PlexUnavailable(f"cannot talk to {where}: {type(exc).__name__}") from None
        with self._bytes_lock:
            self._bytes += len(body)
        status = response.status_code
        if status == 401:
            raise PlexAuthError(f"{where} refused the token (HTTP 401)")
        if status >= 500:
            raise PlexUnavailable(f"{where} failed with HTTP {status} on {shown}")
        if status == 404:
            raise _NotFound(f"{where} answered HTTP 404 on {shown}")
        if status != 200:
            raise PlexError(f"{where} answered HTTP {status} on {shown}")
        content_type = response.headers.get("Content-Type", "")
        xml = "json" not in content_type and body.lstrip()[:1] == b"<"
        return body, xml

    def _page_fetcher(self, path: str, params: Params) -> Callable[[int], tuple[bytes, bool]]:
        """A function downloading the page of ``path`` that starts at a given offset."""

        def fetch(start: int) -> tuple[bytes, bool]:
            paging = [("X-Plex-Container-Start", str(start)), ("X-Plex-Container-Size", str(self._page_size))]
            return self._get(path, params + paging)

        return fetch

    def _decode(self, path: str, decode: Callable[[bytes, bool], T], params: Params) -> T:
        return self._parse(path, decode, self._get(path, params))

    def _parse(self, path: str, decode: Callable[[bytes, bool], T], fetched: tuple[bytes, bool]) -> T:
        try:
            return decode(*fetched)
        except ListingFormatError as exc:
            raise PlexUnavailable(f"the server at {self._base_url} did not answer like Plex on {path}: {exc}") from None

    def _pages(
        self,
        path: str,
        params: Params,
        decode: Callable[[bytes, bool], tuple[int, T]],
        *,
        later: Callable[[tuple[bytes, bool]], T] | None = None,
        first: Future[tuple[bytes, bool]] | None = None,
    ) -> Iterator[T]:
        """Every page of a paged listing, in order; later pages are fetched while earlier ones are consumed.

        ``later``, when given, turns each page after the first from its downloaded body instead of ``decode``.
        ``first``, when given, is the download of the first page, already asked for (see :meth:`_page_fetcher`).

        The pool threads only download (socket reads release the GIL); pages are decoded here, in the consuming
        thread. Decoding in the pool made it hold the GIL while the consumer's SQLite inserts, which release and
        re-take the GIL on every row, queued behind it: the inserts ran three times slower.
        """

        fetch = self._page_fetcher(path, params)
        total, page = self._parse(path, decode, fetch(0) if first is None else first.result())
        yield page
        starts = range(self._page_size, total, self._page_size)
        if not starts:
            return
        with ThreadPoolExecutor(max_workers=self._workers, thread_name_prefix="plexm8-read") as pool:
            # Keep at most `workers` pages ahead: enough to hide latency, bounded so memory stays flat.
            pending: list[Future[tuple[bytes, bool]]] = []
            queued = iter(starts)
            for start in itertools.islice(queued, self._workers):
                pending.append(pool.submit(fetch, start))
            try:
                while pending:
                    fetched = pending.pop(0).result()
                    nxt = next(queued, None)
                    if nxt is not None:
                        pending.append(pool.submit(fetch, nxt))
                    if later is not None:
                        result = later(fetched)
                    else:
                        _, result = self._parse(path, decode, fetched)
                    del fetched
                    yield result
            finally:
                for future in pending:
                    future.cancel()

    # --- the SectionReader port ----------------------------------------------------------------------------

    def section(self) -> SectionInfo:
        """The music section this reader reads (asked once, then remembered)."""
        if self._section is None:
            sections = self._decode("/library/sections", lambda b, x: decode_sections(b, xml=x), [])
            chosen = [s for s in sections if self._section_id in (None, s.section_id)]
            if not chosen:
                wanted = "a music section" if self._section_id is None else f"music section {self._section_id}"
                raise PlexError(f"Plex at {self._base_url} has no {wanted}")
            self._section = chosen[0]
        return self._section

    def _all_path(self) -> str:
        return f"/library/sections/{self.section().section_id}/all"

    @staticmethod
    def _key_range(kind: ItemKind, key_above: int | None, key_below: int | None) -> Params:
        params: Params = [("type", str(kind.value))]
        if key_above is not None:
            params.append((f"{_PREFIX[kind]}.id>>", str(key_above)))
        if key_below is not None:
            params.append((f"{_PREFIX[kind]}.id<<", str(key_below)))
        return params

    def count(
        self, kind: ItemKind, *, key_above: int | None = None, key_below: int | None = None, rated: bool = False
    ) -> int:
        """How many items of ``kind`` the server has, optionally with a rating key strictly in between, or rated."""
        prefix = _PREFIX[kind]
        params = self._key_range(kind, key_above, key_below)
        if rated:
            params.append((f"{prefix}.userRating>>", "0"))
        params += [("X-Plex-Container-Start", "0"), ("X-Plex-Container-Size", "0")]
        return self._decode(self._all_path(), lambda b, x: decode_total(b, xml=x), params)

    def read_items(self, kind: ItemKind, *, since: tuple[ChangeKind, int] | None = None) -> Iterator[ItemPage]:
        """Every item of ``kind`` (or only those whose timestamp is after ``since``), page by page."""
        params: Params = [("type", str(kind.value))]
        if since is not None:
            change, epoch = since
            params.append((f"{_PREFIX[kind]}.{change.value}>>", str(epoch)))
        yield from self._pages(self._all_path(), params, self._item_decoder(kind))

    def read_changed(self, kind: ItemKind, since: Sequence[tuple[ChangeKind, int]]) -> Iterator[ItemPage]:
        """The items of ``kind`` with any of the timestamps after its bound, in one query (Plex's push/or/pop)."""
        if not since:
            return
        prefix = _PREFIX[kind]
        filters: Params = []
        for change, epoch in since:
            if filters:
                filters.append(("or", "1"))
            filters.append((f"{prefix}.{change.value}>>", str(epoch)))
        grouped = [("push", "1"), *filters, ("pop", "1")] if len(since) > 1 else filters
        yield from self._pages(self._all_path(), [("type", str(kind.value)), *grouped], self._item_decoder(kind))

    def read_rows(self, *kinds: ItemKind) -> Iterator[ItemRows]:
        """Every item of each of ``kinds`` in turn as plain rows, page by page (what a full build reads).

        The first page of every kind is asked for at once: while the caller stores one kind, the server is already
        answering the next, instead of waiting for the caller to ask.
        """
        path = self._all_path()

        def decoder(kind: ItemKind) -> Callable[[bytes, bool], tuple[int, ItemRows]]:
            def decode(body: bytes, xml: bool) -> tuple[int, ItemRows]:
                rows = decode_rows(body, kind, xml=xml)
                return rows.total, rows

            return decode

        params: list[Params] = [[("type", str(kind.value))] for kind in kinds]
        pool = ThreadPoolExecutor(max_workers=max(len(kinds), 1), thread_name_prefix="plexm8-first")
        try:
            firsts = [pool.submit(self._page_fetcher(path, p), 0) for p in params]
            for kind, p, first in zip(kinds, params, firsts, strict=True):
                yield from self._pages(path, p, decoder(kind), first=first)
        finally:
            pool.shutdown(wait=False, cancel_futures=True)

    @staticmethod
    def _item_decoder(kind: ItemKind) -> Callable[[bytes, bool], tuple[int, ItemPage]]:
        def decode(body: bytes, xml: bool) -> tuple[int, ItemPage]:
            total, records, states = decode_items(body, kind, xml=xml)
            return total, ItemPage(kind, total, records, states)

        return decode

    def read_keys(self, kind: ItemKind, *, key_above: int | None = None, key_below: int | None = None) -> list[int]:
        """The rating keys of the items of ``kind``, optionally strictly within a range."""
        params = self._key_range(kind, key_above, key_below)
        pages = self._pages(self._all_path(), params, lambda b, x: decode_keys(b, xml=x))
        return [key for page in pages for key in page]

    def read_rated_states(self) -> Iterator[ItemState]:
        """The account's state of every rated track."""
        params: Params = [("type", str(ItemKind.TRACK.value)), ("track.userRating>>", "0")]
        for states in self._pages(self._all_path(), params, lambda b, x: decode_rated_states(b, xml=x)):
            yield from states

    def read_playlists(self) -> list[PlaylistRecord]:
        """The account's audio playlists without their items."""
        params: Params = [("playlistType", "audio")]
        pages = self._pages("/playlists", params, lambda b, x: decode_playlists(b, xml=x))
        return [playlist for page in pages for playlist in page]

    def read_playlist_items(self, rating_key: int) -> tuple[PlaylistItem, ...]:
        """The items of one playlist, in order."""
        pages = self._pages(f"/playlists/{rating_key}/items", [], lambda b, x: decode_playlist_items(b, xml=x))
        return tuple(item for page in pages for item in page)

    def download_tags(self, keys: Sequence[int]) -> Iterator[Callable[[], list[TagRow]]]:
        """The styles and moods of these artists and albums, read from their detail, as ``(key, kind, pos, tag)``.

        Styles and moods are not in list rows, only in an item's detail: the keys are asked for ``detail_chunk`` at
        a time with Plex's multi-id ``/library/metadata/{id1},{id2},...``, ``workers`` requests in flight, each
        asking the server to leave off every other attribute and element (a server that ignores that sends more
        bytes and gives the same rows). Each downloaded answer is yielded as a callable that decodes it, so a
        thread can download while another stores. Items the server no longer has are skipped.
        """
        chunks = [tuple(keys[i : i + self._detail_chunk]) for i in range(0, len(keys), self._detail_chunk)]
        if not chunks:
            return

        def fetch(chunk: tuple[int, ...]) -> tuple[bytes, bool] | None:
            path = "/library/metadata/" + ",".join(map(str, chunk))
            try:
                return self._get(path, _DETAIL_PARAMS, where_path=self._detail_name(chunk))
            except _NotFound:
                # Plex answers 404 when none of the ids exists any more (deleted since they were listed).
                return None

        def pending(chunk: tuple[int, ...], fetched: tuple[bytes, bool] | None) -> Callable[[], list[TagRow]]:
            def decode() -> list[TagRow]:
                if fetched is None:
                    return []
                asked = set(chunk)
                rows = self._parse(self._detail_name(chunk), lambda b, x: decode_detail_tags(b, xml=x), fetched)
                # A server may add what was not asked for (a parent, a hub): only the named items count.
                return [row for row in rows if row[0] in asked]

            return decode

        with ThreadPoolExecutor(max_workers=self._workers, thread_name_prefix="plexm8-detail") as pool:
            queued = iter(chunks)
            window: list[tuple[tuple[int, ...], Future[tuple[bytes, bool] | None]]] = [
                (chunk, pool.submit(fetch, chunk)) for chunk in itertools.islice(queued, self._workers)
            ]
            try:
                while window:
                    chunk, future = window.pop(0)
                    fetched = future.result()
                    nxt = next(queued, None)
                    if nxt is not None:
                        window.append((nxt, pool.submit(fetch, nxt)))
                    yield pending(chunk, fetched)
            finally:
                for _, future in window:
                    future.cancel()

    @staticmethod
    def _detail_name(chunk: Sequence[int]) -> str:
        return (
            f"/library/metadata/{chunk[0]},... ({len(chunk)} items)"
            if len(chunk) > 1
            else f"/library/metadata/{chunk[0]}"
        )

    def _history_params(self, viewed_after: int) -> Params:
        params: Params = [
            ("sort", "viewedAt:desc"),
            ("librarySectionID", str(self.section().section_id)),
            # Only historyKey, ratingKey, viewedAt, accountID and deviceID are stored: asking the server to leave
            # the rest off (a documented option of this endpoint, honoured or not) cuts a full history to a fifth.
            ("excludeFields", _HISTORY_UNUSED),
        ]
        if viewed_after:
            params.append(("viewedAt>", str(viewed_after)))
        return params

    def count_plays(self, *, viewed_after: int = 0) -> int:
        """How many plays :meth:`read_history` would give (one request that returns no rows)."""
        params = self._history_params(viewed_after)
        params += [("X-Plex-Container-Start", "0"), ("X-Plex-Container-Size", "0")]
        return self._decode("/status/sessions/history/all", lambda b, x: decode_total(b, xml=x), params)

    def play_source(self, *, viewed_after: int = 0) -> PlaySource:
        """:meth:`download_history`'s plays from a picklable callable with its own reader (for another process)."""
        return _HistorySource(
            base_url=self._base_url,
            token=self._token,
            section_id=self.section().section_id,
            page_size=self._page_size,
            timeout=self._timeout,
            workers=self._workers,
            json=self._json,
            viewed_after=viewed_after,
        )

    def read_history(self, *, viewed_after: int = 0) -> Iterator[list[PlayRecord]]:
        """Plays in this section visible to the account that happened after ``viewed_after``, page by page."""
        params = self._history_params(viewed_after)
        yield from self._pages("/status/sessions/history/all", params, lambda b, x: decode_history(b, xml=x))

    def download_history(self, *, viewed_after: int = 0) -> Iterator[Callable[[], list[PlayRow]]]:
        """The pages of :meth:`read_history` as plain rows, each downloaded but decoded only when called.

        Only the first page is decoded here (it tells how many there are), so a thread can download the history
        while another thread's SQLite inserts run, without the two competing for the GIL.
        """
        path = "/status/sessions/history/all"

        def decode(body: bytes, xml: bool) -> tuple[int, list[PlayRow]]:
            return decode_history_rows(body, xml=xml)

        def pending(fetched: tuple[bytes, bool]) -> Callable[[], list[PlayRow]]:
            return lambda: self._parse(path, decode, fetched)[1]

        def first(body: bytes, xml: bool) -> tuple[int, Callable[[], list[PlayRow]]]:
            total, plays = decode(body, xml)
            return total, lambda: plays

        yield from self._pages(path, self._history_params(viewed_after), first, later=pending)


@dataclass(frozen=True)
class _HistorySource:
    """A section's history as :meth:`PlexSectionReader.play_source` gives it: picklable, reads with its own reader."""

    base_url: str
    token: str = field(repr=False)
    section_id: int
    page_size: int
    timeout: float
    workers: int
    json: bool
    viewed_after: int

    def __call__(self) -> Iterator[list[PlayRow]]:
        reader = PlexSectionReader(
            self.base_url,
            self.token,
            section_id=self.section_id,
            page_size=self.page_size,
            timeout=self.timeout,
            workers=self.workers,
            json=self.json,
        )
        try:
            for page in reader.download_history(viewed_after=self.viewed_after):
                yield page()
        finally:
            reader.close()
