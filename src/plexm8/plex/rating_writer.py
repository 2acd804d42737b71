"""Many rating writes to Plex at once: ``PUT /:/rate`` per track with a bounded number in flight, and bulk reads.

Why ``/:/rate`` and not the section batch edit (``PUT /library/sections/N/all?id=1,2&userRating.value=8``), which
would need only one request per distinct value: ``/:/rate`` is what Plex's own players send and what plexapi's
tests against a real server check to set ``userRating`` *and* ``lastRatedAt``. The batch edit is a metadata edit:
it also locks the field (``userRating.locked=1``), and whether it moves ``lastRatedAt`` (which PlexM8's incremental
refresh and every "recently rated" view rely on) is not documented. It also fails as a whole when one key is bad,
while per-track writes give the journal one outcome per track. See docs/sync.md.

Reads (to settle writes left in doubt by a crash, and before an undo) use the multi-id metadata request
(``GET /library/metadata/1,2,3``) in JSON, decoded by the listing decoder the index uses: 200 tracks a request.
"""

from __future__ import annotations

import http.client
import threading
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlencode, urlsplit

import requests
import urllib3

from plexm8.core.sync_plan import PlexRatingState, WriteOutcome, WriteResult
from plexm8.errors import PlexAuthError, PlexUnavailable
from plexm8.plex.listing_decode import ListingFormatError, decode_rated_states

__all__ = ["DEFAULT_CONCURRENCY", "READ_CHUNK", "PlexRatingWriter", "PlexRatingWriterPool"]

#: Requests in flight at once: enough to hide a LAN's latency, few enough not to load a home server.
DEFAULT_CONCURRENCY = 8
#: Keys per multi-id read: keeps the URL well under the 8 KiB many HTTP servers accept.
READ_CHUNK = 200
_IDENTIFIER = "com.plexapp.plugins.library"


class PlexRatingWriter:
    """Writes and reads the ratings of the account owning ``token`` on the server at ``base_url``."""

    def __init__(
        self, base_url: str, token: str, *, timeout: float = 30.0, concurrency: int = DEFAULT_CONCURRENCY
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be positive")
        self._base_url = base_url.rstrip("/")
        self._timeout = timeout
        self._concurrency = concurrency
        self._headers = {
            "Accept": "application/json",
            "X-Plex-Token": token,
            "X-Plex-Product": "PlexM8",
            "X-Plex-Client-Identifier": "plexm8-sync",
        }
        parts = urlsplit(self._base_url)
        self._path = parts.path.rstrip("/")
        # Writes go through http.client directly: requests costs several times more CPU per request, and on a
        # small machine the client's CPU competes with the server's (see docs/benchmarks.md, "Applying ratings").
        self._write_headers = {k: v for k, v in self._headers.items() if k != "Accept"}
        self._local = threading.local()
        self._sessions: list[requests.Session] = []
        self._connections: list[http.client.HTTPConnection] = []
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    def close(self) -> None:
        """Stop the write threads and close pooled connections (the next use opens new ones)."""
        with self._lock:
            sessions, self._sessions = self._sessions, []
            connections, self._connections = self._connections, []
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)
        for session in sessions:
            session.close()
        for conn in connections:
            conn.close()
        self._local = threading.local()

    def __enter__(self) -> PlexRatingWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _session(self) -> requests.Session:
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            session.headers.update(self._headers)
            # One pooled connection per thread is all a thread uses; keeps the server's socket count bounded.
            adapter = requests.adapters.HTTPAdapter(pool_connections=1, pool_maxsize=1)
            session.mount("http://", adapter)
            session.mount("https://", adapter)
            self._local.session = session
            with self._lock:
                self._sessions.append(session)
        return session

    # --- writes ----------------------------------------------------------------------------------------------

    def _connection(self) -> http.client.HTTPConnection:
        """This thread's kept-alive connection for writes (opened on first use)."""
        conn: http.client.HTTPConnection | None = getattr(self._local, "conn", None)
        if conn is None:
            parts = urlsplit(self._base_url)
            if parts.scheme == "https":
                conn = http.client.HTTPSConnection(parts.hostname or "", parts.port, timeout=self._timeout)
            else:
                conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=self._timeout)
            self._local.conn = conn
            with self._lock:
                self._connections.append(conn)
        return conn

    def _put(self, target: str) -> int:
        """Send one PUT on this thread's connection; return the status. Raises OSError / HTTPException."""
        for attempt in (1, 2):
            conn = self._connection()
            reused = conn.sock is not None
            try:
                conn.request("PUT", target, headers=self._write_headers)
                response = conn.getresponse()
                response.read()
                if response.will_close:
                    conn.close()
                return response.status
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                conn.close()
                # A kept-alive connection the server had already closed fails before the request reaches it:
                # sending it once more on a new connection is what every HTTP client does (urllib3 included).
                if not reused or attempt == 2:
                    raise
            except (OSError, http.client.HTTPException):
                conn.close()
                raise
        raise AssertionError("unreachable")

    def _write_one(self, change: tuple[int, float | None]) -> WriteResult:
        key, value = change
        # -1 is how /:/rate clears; a recorded previous value is sent as it was (undo restores it exactly).
        rating = "-1" if value is None else repr(float(value))
        query = urlencode({"key": str(key), "identifier": _IDENTIFIER, "rating": rating})
        try:
            status = self._put(f"{self._path}/:/rate?{query}")
        except (OSError, http.client.HTTPException) as exc:
            return WriteResult(key, WriteOutcome.UNKNOWN, f"no answer from Plex ({type(exc).__name__})")
        if status == 200:
            return WriteResult(key, WriteOutcome.OK)
        if status == 404:
            return WriteResult(key, WriteOutcome.NOT_FOUND, "Plex has no track with this key any more")
        if status == 401:
            return WriteResult(key, WriteOutcome.UNAUTHORIZED, "Plex refused the token (HTTP 401)")
        return WriteResult(key, WriteOutcome.UNKNOWN, f"Plex answered HTTP {status}")

    def write_ratings(self, changes: Sequence[tuple[int, float | None]]) -> list[WriteResult]:
        """Set each track to its 0-10 value (``None`` clears), at most ``concurrency`` requests in flight, in order.

        A failed write never raises: its result says whether Plex refused it or whether its outcome is unknown.
        """
        if not changes:
            return []
        with self._lock:
            if self._pool is None:
                # Kept for the writer's life: its threads keep their connections alive from one chunk to the next.
                self._pool = ThreadPoolExecutor(max_workers=self._concurrency, thread_name_prefix="plexm8-rate")
            pool = self._pool
        return list(pool.map(self._write_one, changes))

    # --- reads -----------------------------------------------------------------------------------------------

    def _read_chunk(self, keys: Sequence[int]) -> dict[int, PlexRatingState]:
        where = f"Plex at {self._base_url}"
        path = "/library/metadata/" + ",".join(str(key) for key in keys)
        try:
            response = self._session().get(self._base_url + path, timeout=self._timeout)
            body = response.content
        except requests.Timeout:
            raise PlexUnavailable(f"{where} did not answer within {self._timeout:g} s") from None
        except (requests.RequestException, urllib3.exceptions.HTTPError):
            raise PlexUnavailable(f"cannot connect to {where} (connection failed or dropped)") from None
        status = response.status_code
        if status == 404:
            # One unknown key can make the whole request fail: split until the unknown keys stand alone.
            if len(keys) == 1:
                return {}
            middle = len(keys) // 2
            return {**self._read_chunk(keys[:middle]), **self._read_chunk(keys[middle:])}
        if status == 401:
            raise PlexAuthError(f"{where} refused the token (HTTP 401)")
        if status != 200:
            raise PlexUnavailable(f"{where} answered HTTP {status} when reading ratings")
        xml = "json" not in response.headers.get("Content-Type", "") and body.lstrip()[:1] == b"<"
        try:
            _, states = decode_rated_states(body, xml=xml)
        except ListingFormatError as exc:
            raise PlexUnavailable(f"the server at {self._base_url} did not answer like Plex: {exc}") from None
        wanted = set(keys)
        return {
            state.rating_key: PlexRatingState(
                user_rating=state.user_rating if state.user_rating is not None and state.user_rating >= 0 else None,
                last_rated_at=state.last_rated_at,
            )
            for state in states
            if state.rating_key in wanted
        }

    def read_ratings(self, keys: Sequence[int]) -> dict[int, PlexRatingState]:
        """The current rating of each of ``keys`` that Plex knows (unknown keys are left out).

        Raises :class:`PlexUnavailable` / :class:`PlexAuthError` when Plex cannot be read.
        """
        unique = list(dict.fromkeys(keys))
        chunks = [unique[i : i + READ_CHUNK] for i in range(0, len(unique), READ_CHUNK)]
        found: dict[int, PlexRatingState] = {}
        if not chunks:
            return found
        with ThreadPoolExecutor(
            max_workers=min(self._concurrency, len(chunks)), thread_name_prefix="plexm8-read"
        ) as pool:
            for part in pool.map(self._read_chunk, chunks):
                found.update(part)
        return found


class PlexRatingWriterPool:
    """At most ``size`` :class:`PlexRatingWriter` objects for the server at ``base_url``, one per token."""

    def __init__(self, base_url: str, *, timeout: float, concurrency: int = DEFAULT_CONCURRENCY, size: int = 8) -> None:
        self._base_url = base_url
        self._timeout = timeout
        self._concurrency = concurrency
        self._size = size
        self._writers: OrderedDict[str, PlexRatingWriter] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, token: str) -> PlexRatingWriter:
        """The writer of the account owning ``token`` (created on first use, nothing sent yet)."""
        evicted: PlexRatingWriter | None = None
        with self._lock:
            writer = self._writers.get(token)
            if writer is None:
                writer = PlexRatingWriter(self._base_url, token, timeout=self._timeout, concurrency=self._concurrency)
                self._writers[token] = writer
                if len(self._writers) > self._size:
                    _, evicted = self._writers.popitem(last=False)
            else:
                self._writers.move_to_end(token)
        if evicted is not None:
            evicted.close()
        return writer

    def close(self) -> None:
        """Close every pooled writer's connections."""
        with self._lock:
            writers, self._writers = list(self._writers.values()), OrderedDict()
        for writer in writers:
            writer.close()
