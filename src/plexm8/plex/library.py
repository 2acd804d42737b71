"""One Plex account's view of the server through python-plexapi, and a small pool of them keyed by token.

:class:`PlexApiLibrary` connects lazily (``PlexServer()`` itself sends ``GET /``, which also proves the token) and
turns every vendor exception into a PlexM8 error with a token-free message. Other adapters that need the plexapi
server of an account (playlists, for one) use :meth:`PlexApiLibrary.server` inside :meth:`PlexApiLibrary.errors`.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import requests
from plexapi.exceptions import NotFound as PlexApiNotFound
from plexapi.server import PlexServer

from plexm8.core.models import ServerIdentity
from plexm8.core.ratings import Rating
from plexm8.core.tracks import TrackView
from plexm8.errors import PlexUnavailable, TrackNotFound
from plexm8.plex.errors import translate_plex_errors

__all__ = ["PlexApiLibrary", "PlexApiLibraryPool"]


class PlexApiLibrary:
    """The Plex server at ``base_url`` as the account owning ``token``; nothing is sent before the first use."""

    def __init__(self, base_url: str, token: str, *, timeout: float) -> None:
        self._base_url = base_url.rstrip("/")
        self._token = token
        self._timeout = timeout
        self._session = requests.Session()
        self._server: PlexServer | None = None
        self._lock = threading.Lock()

    @property
    def base_url(self) -> str:
        """The server's base URL (never carries the token)."""
        return self._base_url

    @contextmanager
    def errors(self) -> Iterator[None]:
        """Translate plexapi and requests exceptions raised in the block into PlexM8 errors."""
        with translate_plex_errors(self._base_url, timeout=self._timeout, secrets=(self._token,)):
            yield

    def server(self) -> PlexServer:
        """The connected plexapi server (connecting now if needed); raises PlexUnavailable or PlexAuthError."""
        with self._lock:
            if self._server is None:
                with self.errors():
                    self._server = PlexServer(  # type: ignore[no-untyped-call]
                        self._base_url, self._token, session=self._session, timeout=self._timeout
                    )
            return self._server

    def identity(self) -> ServerIdentity:
        """Who answers at the URL, as seen when connecting."""
        server = self.server()
        machine_id = server.machineIdentifier
        if not machine_id:
            raise PlexUnavailable(f"the server at {self._base_url} did not answer like Plex (no machineIdentifier)")
        return ServerIdentity(
            name=str(server.friendlyName or ""), version=str(server.version or ""), machine_identifier=str(machine_id)
        )

    def rate_track(self, rating_key: int, rating: Rating) -> TrackView:
        """Set or clear the account's rating of a track (``PUT /:/rate``); return the track as Plex now reports it.

        Raises :class:`TrackNotFound` when no track has ``rating_key`` (an album or artist key counts as unknown).
        """
        server = self.server()
        with self.errors():
            track = self._fetch_track(server, rating_key)
            server.query(  # type: ignore[no-untyped-call]
                f"/:/rate?key={rating_key}&identifier=com.plexapp.plugins.library&rating={rating.to_plex():g}",
                method=server._session.put,
            )
            track.reload()
        return _track_view(track)

    def _fetch_track(self, server: PlexServer, rating_key: int) -> Any:
        try:
            item = server.fetchItem(rating_key)  # type: ignore[no-untyped-call]
        except PlexApiNotFound:
            raise TrackNotFound(f"no track has the key {rating_key}") from None
        if getattr(item, "TYPE", None) != "track":
            raise TrackNotFound(f"the item {rating_key} is not a track")
        return item

    def close(self) -> None:
        """Drop the connection; the next use reconnects."""
        with self._lock:
            self._server = None
            self._session.close()


def _track_view(track: Any) -> TrackView:
    """A plexapi Track as a :class:`TrackView` (plexapi objects stop here)."""

    def epoch(value: Any) -> int | None:
        return int(value.timestamp()) if value is not None else None

    user_rating = track.userRating
    return TrackView(
        rating_key=int(track.ratingKey),
        title=str(track.title or ""),
        artist=track.originalTitle or track.grandparentTitle,
        album=track.parentTitle,
        duration_ms=int(track.duration) if track.duration is not None else None,
        year=_year(track),
        user_rating=float(user_rating) if user_rating is not None and user_rating >= 0 else None,
        last_rated_at=epoch(track.lastRatedAt),
        view_count=int(track.viewCount or 0),
        last_viewed_at=epoch(track.lastViewedAt),
        added_at=epoch(track.addedAt),
    )


def _year(track: Any) -> int | None:
    """The album's year when Plex gives it (``parentYear``, which plexapi does not expose), else the track's."""
    parent_year = track._data.attrib.get("parentYear") if track._data is not None else None
    if parent_year and parent_year.isdigit():
        return int(parent_year)
    return int(track.year) if track.year is not None else None


class PlexApiLibraryPool:
    """At most ``size`` :class:`PlexApiLibrary` objects for the server at ``base_url``, least recently used dropped."""

    def __init__(self, base_url: str, *, timeout: float, size: int = 32) -> None:
        self._base_url = base_url
        self._timeout = timeout
        self._size = size
        self._libraries: OrderedDict[str, PlexApiLibrary] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, token: str) -> PlexApiLibrary:
        """The library of the account owning ``token`` (created on first use, nothing sent yet)."""
        evicted: PlexApiLibrary | None = None
        with self._lock:
            library = self._libraries.get(token)
            if library is None:
                library = PlexApiLibrary(self._base_url, token, timeout=self._timeout)
                self._libraries[token] = library
                if len(self._libraries) > self._size:
                    _, evicted = self._libraries.popitem(last=False)
            else:
                self._libraries.move_to_end(token)
        if evicted is not None:
            evicted.close()
        return library

    def close(self) -> None:
        """Close every pooled connection."""
        with self._lock:
            libraries, self._libraries = list(self._libraries.values()), OrderedDict()
        for library in libraries:
            library.close()
