"""One account's audio playlists through python-plexapi: :class:`PlexApiPlaylists` implements the PlaylistGateway port.

Requests are the ones plexapi's ``Playlist`` sends (``plexapi/playlist.py``: ``_create``, ``addItems``,
``removeItems``, ``moveItem``, ``editTitle``, ``delete``), addressed by ids instead of by objects: plexapi's own
methods take item objects and look every ``playlistItemID`` up by re-reading the playlist, and building the objects
for a long list of track keys would cost a request each. Track keys travel in the ``uri`` parameter
(``server://{machineIdentifier}/com.plexapp.plugins.library/library/metadata/1,2,3``) in chunks of
:data:`KEYS_PER_REQUEST`, which keeps every request line a few kilobytes long whatever the size of the list.

plexapi is the transport (``PlexServer.query``: token, headers, status codes) but no plexapi object is built: the
attributes of the answered elements are read directly, because a plexapi object silently reloads itself with one
request per object when an attribute Plex omits (``userRating`` of an unrated track, ``summary``) is read.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from xml.etree.ElementTree import Element

from plexapi.exceptions import BadRequest as PlexApiBadRequest
from plexapi.exceptions import NotFound as PlexApiNotFound
from plexapi.exceptions import Unauthorized as PlexApiUnauthorized
from plexapi.server import PlexServer
from plexapi.utils import joinArgs

from plexm8.core.catalog import PlaylistItem, PlaylistRecord
from plexm8.core.playlists import PlaylistEntry
from plexm8.errors import (
    PlaylistItemNotFound,
    PlaylistNotFound,
    PlexError,
    PlexM8Error,
    PlexUnavailable,
    TrackNotFound,
)
from plexm8.plex.library import PlexApiLibrary
from plexm8.plex.listing_decode import ListingFormatError, decode_playlist_items

__all__ = ["KEYS_PER_REQUEST", "PlexApiPlaylists"]

log = logging.getLogger(__name__)

#: Track keys per create/add request: about 4 kB of request line (a key and an encoded comma are ~9 characters).
KEYS_PER_REQUEST = 500
#: Entries per request when reading a whole playlist (plexapi's default page of 100 would be 100 requests for 10k).
ITEMS_PER_PAGE = 10_000
#: Keys per existence check (``GET /library/metadata/1,2,...`` answers full metadata, so keep pages modest).
KEYS_PER_LOOKUP = 200

_LIBRARY = "com.plexapp.plugins.library"
_STATUS = re.compile(r"^\((\d{3})\)")


def _chunks(keys: Sequence[int], size: int) -> Iterator[Sequence[int]]:
    for start in range(0, len(keys), size):
        yield keys[start : start + size]


def _int(value: str | None) -> int | None:
    return int(value) if value not in (None, "") else None


def _record(attrs: dict[str, str]) -> PlaylistRecord:
    """A ``Playlist`` element's attributes as a record without items."""
    return PlaylistRecord(
        rating_key=int(attrs["ratingKey"]),
        title=attrs.get("title", ""),
        smart=attrs.get("smart") in ("1", "true"),
        summary=attrs.get("summary", ""),
        leaf_count=_int(attrs.get("leafCount")) or 0,
        duration_ms=_int(attrs.get("duration")),
        added_at=_int(attrs.get("addedAt")),
        updated_at=_int(attrs.get("updatedAt")),
    )


def _entry(attrs: dict[str, str]) -> PlaylistEntry:
    """A ``Track`` element of a playlist's items as an entry."""
    rating = attrs.get("userRating")
    value = float(rating) if rating not in (None, "") else None
    return PlaylistEntry(
        playlist_item_id=_int(attrs.get("playlistItemID")),
        rating_key=int(attrs["ratingKey"]),
        title=attrs.get("title", ""),
        artist=attrs.get("originalTitle") or attrs.get("grandparentTitle"),
        album=attrs.get("parentTitle"),
        duration_ms=_int(attrs.get("duration")),
        rating=value if value is not None and value >= 0 else None,
    )


def _is_audio_playlist(element: Element) -> bool:
    return element.tag == "Playlist" and element.attrib.get("playlistType") == "audio" and "ratingKey" in element.attrib


def _query_string(args: dict[str, str | int]) -> str:
    """``?a=1&b=2`` with the values encoded as plexapi encodes them (``plexapi.utils.joinArgs``)."""
    query: str = joinArgs(args)  # type: ignore[no-untyped-call]
    return query


def _query(
    server: PlexServer, key: str, *, method: str = "GET", headers: dict[str, str] | None = None
) -> Element | None:
    """plexapi's ``PlexServer.query``: send, raise plexapi's exceptions on a failure status, parse the XML answer."""
    session = server._session
    send = {"GET": session.get, "POST": session.post, "PUT": session.put, "DELETE": session.delete}[method]
    data: Element | None = server.query(key, method=send, headers=headers)  # type: ignore[no-untyped-call]
    return data


def _get_listing(server: PlexServer, key: str, *, start: int, size: int) -> tuple[bytes, bool]:
    """GET one page of a listing in JSON through plexapi's session; return the body and whether it is XML.

    ``PlexServer.query`` parses XML only, so this sends the same request with ``Accept: application/json`` and
    fails the way ``query`` fails (plexapi's exceptions, with the status first in the message).
    """
    paging = {"X-Plex-Container-Start": str(start), "X-Plex-Container-Size": str(size)}
    headers = server._headers(Accept="application/json", **paging)  # type: ignore[no-untyped-call]
    url = server.url(key)  # type: ignore[no-untyped-call]
    response = server._session.get(url, headers=headers, timeout=server._timeout)
    status = response.status_code
    if status not in (200, 201, 204):
        message = f"({status}) on {key}"
        if status == 401:
            raise PlexApiUnauthorized(message)
        if status == 404:
            raise PlexApiNotFound(message)
        raise PlexApiBadRequest(message)
    body: bytes = response.content
    xml = "json" not in response.headers.get("Content-Type", "") and body.lstrip()[:1] == b"<"
    return body, xml


def _status(exc: Exception) -> int | None:
    match = _STATUS.match(str(exc))
    return int(match.group(1)) if match else None


class PlexApiPlaylists:
    """The audio playlists of the account whose plexapi connection is ``library`` (connected on first use)."""

    def __init__(self, library: PlexApiLibrary) -> None:
        self._library = library

    @contextmanager
    def _call(self, *, not_found: PlexM8Error) -> Iterator[PlexServer]:
        """The connected server for one call; a 404 raises ``not_found``, other failures become PlexM8 errors."""
        server = self._library.server()
        with self._library.errors():
            try:
                yield server
            except PlexApiNotFound:
                raise not_found from None
            except PlexApiBadRequest as exc:
                status = _status(exc)
                if status is not None and status < 500:
                    # Validation runs before every write, so a 4xx here is Plex refusing something we did not expect.
                    raise PlexError(f"Plex at {self._library.base_url} refused the change (HTTP {status})") from None
                raise

    def _uri(self, server: PlexServer, keys: Sequence[int]) -> str:
        return f"server://{server.machineIdentifier}/{_LIBRARY}/library/metadata/{','.join(map(str, keys))}"

    def _elements(self, server: PlexServer, key: str, *, page_size: int) -> Iterator[Element]:
        """The child elements of a paged listing, ``page_size`` per request (plexapi pages by 100)."""
        start = 0
        while True:
            paging = {"X-Plex-Container-Start": str(start), "X-Plex-Container-Size": str(page_size)}
            data: Element | None = _query(server, key, headers=paging)
            if data is None:
                return
            children = list(data)
            yield from children
            start += len(children)
            total = _int(data.attrib.get("totalSize"))
            if not children or total is None or start >= total:
                return

    # --- reads ---------------------------------------------------------------------------------------------

    def playlists(self) -> list[PlaylistRecord]:
        """The account's audio playlists, without their items (the request of plexapi ``PlexServer.playlists``)."""
        with self._call(not_found=PlexError("Plex has no playlist listing")) as server:
            elements = self._elements(server, "/playlists?playlistType=audio", page_size=ITEMS_PER_PAGE)
            return [_record(el.attrib) for el in elements if _is_audio_playlist(el)]

    def playlist(self, playlist_id: int) -> PlaylistRecord:
        """One audio playlist, without its items."""
        missing = PlaylistNotFound(f"there is no playlist {playlist_id}")
        with self._call(not_found=missing) as server:
            data: Element | None = _query(server, f"/playlists/{playlist_id}")
        found = [el for el in data if _is_audio_playlist(el)] if data is not None else []
        if not found:
            raise missing
        return _record(found[0].attrib)

    def entries(self, playlist_id: int, *, offset: int, limit: int) -> tuple[int, list[PlaylistEntry]]:
        """The playlist's entry count and entries ``offset .. offset + limit`` with their tracks, in one request."""
        with self._call(not_found=PlaylistNotFound(f"there is no playlist {playlist_id}")) as server:
            paging = {"X-Plex-Container-Start": str(offset), "X-Plex-Container-Size": str(limit)}
            data: Element | None = _query(server, f"/playlists/{playlist_id}/items", headers=paging)
        if data is None:
            return 0, []
        tracks = [el.attrib for el in data if el.tag == "Track" and "ratingKey" in el.attrib][:limit]
        total = _int(data.attrib.get("totalSize"))
        if total is None:
            total = _int(data.attrib.get("leafCount")) or offset + len(tracks)
        return total, [_entry(attrs) for attrs in tracks]

    def items(self, playlist_id: int) -> tuple[PlaylistItem, ...]:
        """Every entry as track key and playlist item id, in large pages of Plex's JSON form.

        Only two fields of each entry are needed, so the JSON form decoded by msgspec (which skips the rest without
        building objects) reads a 10,000-entry playlist about ten times faster than parsing its XML.
        """
        out: list[PlaylistItem] = []
        with self._call(not_found=PlaylistNotFound(f"there is no playlist {playlist_id}")) as server:
            while True:
                body, xml = _get_listing(server, f"/playlists/{playlist_id}/items", start=len(out), size=ITEMS_PER_PAGE)
                try:
                    total, page = decode_playlist_items(body, xml=xml)
                except ListingFormatError as exc:
                    raise PlexUnavailable(
                        f"the server at {self._library.base_url} did not answer like Plex: {exc}"
                    ) from None
                out.extend(page)
                if not page or len(out) >= total:
                    return tuple(out)

    def missing_tracks(self, track_keys: Sequence[int]) -> list[int]:
        """Those of ``track_keys`` that name no track, asked with the multi-id form of ``/library/metadata``."""
        wanted = list(dict.fromkeys(track_keys))
        present: set[int] = set()
        for chunk in _chunks(wanted, KEYS_PER_LOOKUP):
            try:
                with self._call(not_found=TrackNotFound("none of these tracks exists")) as server:
                    data = _query(server, f"/library/metadata/{','.join(map(str, chunk))}")
            except TrackNotFound:
                # Plex answers 404 when none of the ids exists.
                continue
            if data is not None:
                present.update(
                    int(el.attrib["ratingKey"])
                    for el in data
                    if el.attrib.get("type") == "track" and "ratingKey" in el.attrib
                )
        return [key for key in wanted if key not in present]

    # --- writes --------------------------------------------------------------------------------------------

    def create(self, title: str, track_keys: Sequence[int]) -> PlaylistRecord:
        """Create a regular playlist of these tracks, in order; a failure after the first request deletes it again."""
        if not track_keys:
            raise ValueError("a playlist is created with at least one track")
        chunks = list(_chunks(track_keys, KEYS_PER_REQUEST))
        unknown = TrackNotFound("Plex does not know one of the track keys")
        with self._call(not_found=unknown) as server:
            args: dict[str, str | int] = {
                "uri": self._uri(server, chunks[0]),
                "type": "audio",
                "title": title,
                "smart": 0,
            }
            data: Element | None = _query(server, f"/playlists{_query_string(args)}", method="POST")
        created = [el for el in data if _is_audio_playlist(el)] if data is not None else []
        if not created:
            raise PlexError(f"Plex at {self._library.base_url} did not answer the new playlist")
        record = _record(created[0].attrib)
        if len(chunks) > 1:
            try:
                self._append(record.rating_key, chunks[1:])
            except BaseException:
                # All or nothing: a half-built playlist would look like the user's choice.
                self._delete_quietly(record.rating_key)
                raise
        return record

    def add(self, playlist_id: int, track_keys: Sequence[int]) -> None:
        """Append these tracks in order (``PUT /playlists/{id}/items?uri=``), a chunk of keys per request."""
        self._append(playlist_id, list(_chunks(track_keys, KEYS_PER_REQUEST)))

    def _append(self, playlist_id: int, chunks: Sequence[Sequence[int]]) -> None:
        for chunk in chunks:
            with self._call(not_found=TrackNotFound("Plex does not know one of the track keys")) as server:
                key = f"/playlists/{playlist_id}/items{_query_string({'uri': self._uri(server, chunk)})}"
                _query(server, key, method="PUT")

    def _delete_quietly(self, playlist_id: int) -> None:
        try:
            self.delete(playlist_id)
        except PlexM8Error as exc:
            log.warning("could not delete the half-created playlist %s: %s", playlist_id, exc.message)

    def remove(self, playlist_id: int, playlist_item_id: int) -> None:
        """Remove one entry (``DELETE /playlists/{id}/items/{playlistItemID}``)."""
        missing = PlaylistItemNotFound(f"playlist {playlist_id} has no item {playlist_item_id}")
        with self._call(not_found=missing) as server:
            _query(server, f"/playlists/{playlist_id}/items/{playlist_item_id}", method="DELETE")

    def move(self, playlist_id: int, playlist_item_id: int, *, after: int | None) -> None:
        """Move an entry after entry ``after``, or to the top (``PUT .../items/{playlistItemID}/move[?after=]``)."""
        key = f"/playlists/{playlist_id}/items/{playlist_item_id}/move"
        if after is not None:
            key += f"?after={after}"
        which = f"item {playlist_item_id}" if after is None else f"item {playlist_item_id} or item {after}"
        with self._call(not_found=PlaylistItemNotFound(f"playlist {playlist_id} has no {which}")) as server:
            _query(server, key, method="PUT")

    def rename(self, playlist_id: int, title: str) -> None:
        """Set and lock the title, as plexapi's ``editTitle`` does (``PUT /playlists/{id}?title.value=``)."""
        args: dict[str, str | int] = {"title.locked": 1, "title.value": title}
        with self._call(not_found=PlaylistNotFound(f"there is no playlist {playlist_id}")) as server:
            _query(server, f"/playlists/{playlist_id}{_query_string(args)}", method="PUT")

    def delete(self, playlist_id: int) -> None:
        """Delete the playlist (``DELETE /playlists/{id}``)."""
        with self._call(not_found=PlaylistNotFound(f"there is no playlist {playlist_id}")) as server:
            _query(server, f"/playlists/{playlist_id}", method="DELETE")
