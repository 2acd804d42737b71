"""The plexsim WSGI application: Plex Media Server's HTTP API for one music section.

Routes, parameters, status codes and container attributes are transcribed from real PMS captures, Plex's OpenAPI
description and what python-plexapi sends (see ``docs/plexsim.md``). Bodies are XML by default and Plex's JSON form
for ``Accept: application/json``; errors are the small HTML pages PMS sends. Every request needs a known
``X-Plex-Token`` (header or query) except ``/identity``.

``PlexSimApp(state, knobs)`` is a plain WSGI callable, so it can run under any WSGI server; :mod:`plexsim.server`
serves it on loopback.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import re
import socket
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, TypeVar
from urllib.parse import parse_qsl, quote

from plexsim.elements import (
    IDENTIFIER,
    MEDIA_TAG_PREFIX,
    MEDIA_TAG_VERSION,
    ElementBuilder,
    ListStyle,
    trim_attrs,
    trim_nodes,
)
from plexsim.history import HistoryIndex, HistoryQuery
from plexsim.knobs import Knobs, RequestRecord
from plexsim.library import Album, Artist, Track
from plexsim.nodes import AttrValue, Node
from plexsim.query import QueryError, meta_document, parse_smart_uri, smart_content
from plexsim.render import json_attrs, json_container, render_json, render_xml, xml_attrs, xml_container
from plexsim.resolve import LIBTYPES, search_section
from plexsim.state import AccountState, InvalidRequest, Item, PlaylistState, ServerState, StateError, UnknownItem

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

__all__ = ["CONTROL_PREFIX", "PlexSimApp"]

log = logging.getLogger(__name__)

#: Routes under this prefix drive the knobs over HTTP (admin token only); they are not part of Plex's API.
CONTROL_PREFIX = "/__plexsim"

_REASONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    500: "Internal Server Error",
}
_XML_TYPE = "text/xml;charset=utf-8"
_JSON_TYPE = "application/json"
_TAG_FILTERS = ("genre", "style", "mood", "country")
#: Filters the real Meta advertises whose choices plexsim has no data for: they list nothing.
_EMPTY_FILTERS = frozenset({"collection", "label", "source", "format", "subformat", "unmatched", "userRating"})
_SECTION_ROOT_DIRECTORIES = (
    # GET / children, transcribed from a real server's root (home-assistant/server_root__GET_slash.xml).
    ("activities", "activities", 1),
    ("butler", "butler", 1),
    ("channels", "channels", 1),
    ("clients", "clients", 1),
    ("devices", "devices", 1),
    ("diagnostics", "diagnostics", 1),
    ("hubs", "hubs", 1),
    ("library", "library", 3),
    ("livetv", "livetv", 3),
    ("media", "media", 3),
    ("metadata", "metadata", 2),
    ("neighborhood", "neighborhood", 1),
    ("playQueues", "playQueues", 1),
    ("player", "player", 1),
    ("playlists", "playlists", 1),
    ("resources", "resources", 1),
    ("search", "search", 1),
    ("server", "server", 1),
    ("servers", "servers", 1),
    ("statistics", "statistics", 1),
    ("system", "system", 1),
    ("transcode", "transcode", 1),
    ("updater", "updater", 1),
    ("user", "user", 1),
)
_OWNER_FEATURES = (
    "adaptive_bitrate,camera_upload,cloudsync,collections,content_filter,download_certificates,dvr,federated-auth,"
    "hardware_transcoding,home,hwtranscode,item_clusters,kevin-bacon,livetv,loudness,lyrics,music_videos,news,pass,"
    "photo_autotags,photos-v5,photosV6-edit,photosV6-tv-albums,premium_music_metadata,radio,server-manager,"
    "session_bandwidth_restrictions,session_kick,shared-radio,sync,trailers,tuner-sharing,type-first,"
    "unsupportedtuners,webhooks"
)


class HTTPError(Exception):
    """Answer with an HTML error page of this status."""

    def __init__(self, status: int, detail: str = "") -> None:
        super().__init__(detail or _REASONS.get(status, ""))
        self.status = status


class DropConnection(ConnectionAbortedError):
    """Close the client's socket without an answer (a fault knob)."""


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    content_type: str | None = None
    headers: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class Ctx:
    """One request, parsed."""

    method: str
    path: str
    query: str
    params: list[tuple[str, str]]
    headers: dict[str, str]
    account: AccountState | None = None
    json_form: bool = False

    def arg(self, name: str) -> str | None:
        for key, value in self.params:
            if key == name:
                return value
        return None

    def flag(self, name: str) -> bool:
        return self.arg(name) in ("1", "true")

    def int_arg(self, name: str, *, required: bool = False) -> int | None:
        raw = self.arg(name)
        if raw is None or raw == "":
            if required:
                raise HTTPError(400, f"missing {name}")
            return None
        try:
            return int(raw)
        except ValueError:
            raise HTTPError(400, f"{name} is not an integer") from None

    def paging_value(self, name: str) -> int | None:
        raw = self.headers.get(name.lower())
        if raw is None:
            raw = self.arg(name)
        if raw is None or raw == "":
            return None
        try:
            value = int(raw)
        except ValueError:
            raise HTTPError(400, f"{name} is not an integer") from None
        if value < 0:
            raise HTTPError(400, f"{name} is negative")
        return value

    @property
    def user(self) -> AccountState:
        assert self.account is not None
        return self.account


T = TypeVar("T")


@dataclass(frozen=True)
class Page:
    """The window ``X-Plex-Container-Start``/``-Size`` asked for; ``requested`` says whether either was sent."""

    start: int
    size: int | None
    requested: bool

    def apply(self, items: Sequence[T]) -> Sequence[T]:
        end = len(items) if self.size is None else self.start + self.size
        return items[self.start : end]


Handler = Callable[["PlexSimApp", Ctx, re.Match[str]], Response]


def _ids(raw: str) -> list[int]:
    try:
        ids = [int(part) for part in raw.split(",") if part != ""]
    except ValueError:
        raise HTTPError(400, f"malformed id list {raw!r}") from None
    if not ids:
        raise HTTPError(400, "no id")
    return ids


def _float(raw: str | None, name: str) -> float:
    if raw is None or raw == "":
        raise HTTPError(400, f"missing {name}")
    try:
        value = float(raw)
    except ValueError:
        raise HTTPError(400, f"{name} is not a number") from None
    if not math.isfinite(value):
        raise HTTPError(400, f"{name} is not a number")
    return value


def _metadata_ids_from_uri(uri: str) -> list[int]:
    """Item ids of a ``server://MID/com.plexapp.plugins.library/library/metadata/1,2`` uri."""
    marker = "/library/metadata/"
    position = uri.find(marker)
    if position < 0:
        raise HTTPError(400, "uri names no library items")
    return _ids(uri[position + len(marker) :].split("?")[0].split("/")[0])


class PlexSimApp:
    """A WSGI application answering like a Plex Media Server with one music section."""

    def __init__(self, state: ServerState, knobs: Knobs | None = None) -> None:
        self.state = state
        self.knobs = knobs if knobs is not None else Knobs()
        self.elements = ElementBuilder(state)
        self._history_index = HistoryIndex()
        self._routes: list[tuple[frozenset[str], re.Pattern[str], Handler]] = []
        self._register()

    def prewarm(self) -> None:
        """Render every item's list fragments now (XML and JSON, the ``includeGuids=1`` form plexapi asks for).

        The track part of history rows is rendered too, so the first full history is as fast as later ones.
        """
        style = ListStyle(section_attrs=False, guids=True)
        everything: list[Item] = [*self.state.default_artists, *self.state.default_albums, *self.state.default_tracks]
        for json_form in (False, True):
            for obj in everything:
                self.elements.fragment(obj, style, json_form=json_form)
        played = list({row.key: row for row in self.state.history}.values())
        for json_form in (False, True):
            self.elements.history_fragments(played, json_form=json_form)

    # --- WSGI plumbing ----------------------------------------------------------------------------------------

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        method = str(environ.get("REQUEST_METHOD", "GET")).upper()
        path = str(environ.get("PATH_INFO", "/")) or "/"
        query = str(environ.get("QUERY_STRING", ""))
        headers = {
            key[5:].replace("_", "-").lower(): str(value) for key, value in environ.items() if key.startswith("HTTP_")
        }
        ctx = Ctx(method, path, query, parse_qsl(query, keep_blank_values=True), headers)
        ctx.json_form = "application/json" in headers.get("accept", "")
        control = path.startswith(CONTROL_PREFIX + "/")
        if control:
            response = self._control(ctx)
        else:
            fault = self.knobs.admit(path)
            if fault.drop:
                # Logged before the socket closes, so a client that sees the drop also sees the record.
                self.knobs.record(RequestRecord(method, path, query, None, None))
                self._drop(environ)
            delay = self.knobs.delay_seconds(path)
            if delay > 0:
                time.sleep(delay)
            response = self._error(fault.status) if fault.status is not None else self._handle(ctx)
            account_id = ctx.account.id if ctx.account is not None else None
            self.knobs.record(RequestRecord(method, path, query, response.status, account_id))
        out_headers = list(response.headers)
        if response.content_type is not None:
            out_headers.append(("Content-Type", response.content_type))
        out_headers.append(("Content-Length", str(len(response.body))))
        start_response(f"{response.status} {_REASONS.get(response.status, 'OK')}", out_headers)
        return [response.body]

    @staticmethod
    def _drop(environ: WSGIEnvironment) -> None:
        sock = environ.get("werkzeug.socket")
        if isinstance(sock, socket.socket):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        raise DropConnection("plexsim dropped the connection (fault knob)")

    @staticmethod
    def _error(status: int) -> Response:
        reason = _REASONS.get(status, "Error")
        body = f"<html><head><title>{reason}</title></head><body><h1>{status} {reason}</h1></body></html>"
        return Response(status, body.encode(), "text/html")

    def _handle(self, ctx: Ctx) -> Response:
        try:
            for methods, pattern, handler in self._routes:
                match = pattern.fullmatch(ctx.path)
                if match is None:
                    continue
                if ctx.method not in methods:
                    return self._error(405 if ctx.path != "/identity" else 404)
                if handler is not PlexSimApp._identity:
                    self._authenticate(ctx)
                with self.state.lock:
                    return handler(self, ctx, match)
            self._authenticate(ctx)
            return self._error(404)
        except HTTPError as exc:
            return self._error(exc.status)
        except QueryError as exc:
            log.debug("bad search parameters: %s", exc)
            return self._error(400)
        except UnknownItem:
            return self._error(404)
        except InvalidRequest:
            return self._error(400)
        except StateError:
            return self._error(400)
        except Exception:
            log.exception("plexsim failed on %s %s", ctx.method, ctx.path)
            return self._error(500)

    def _authenticate(self, ctx: Ctx) -> None:
        token = ctx.headers.get("x-plex-token") or ctx.arg("X-Plex-Token")
        account = self.state.account_for_token(token) if token else None
        if account is None:
            raise HTTPError(401)
        ctx.account = account

    def _register(self) -> None:
        def route(methods: str, pattern: str, handler: Handler) -> None:
            self._routes.append((frozenset(methods.split()), re.compile(pattern), handler))

        cls = PlexSimApp
        route("GET", r"/", cls._root)
        route("GET", r"/identity", cls._identity)
        route("GET", r"/library/?", cls._library)
        route("GET", r"/library/sections/?", cls._sections)
        route("GET PUT", r"/library/sections/([^/]+)/all", cls._section_all)
        route("GET", r"/library/sections/([^/]+)/collections", cls._collections)
        route("GET", r"/library/sections/([^/]+)/sorts", cls._sorts)
        route("GET", r"/library/sections/([^/]+)/((?:artist\.|album\.|track\.)?[A-Za-z]+)", cls._filter_choices)
        route("GET", r"/library/metadata/([^/]+)", cls._metadata)
        route("GET", r"/library/metadata/([^/]+)/children", cls._children)
        route("GET", r"/library/metadata/([^/]+)/allLeaves", cls._all_leaves)
        route("GET", r"/library/metadata/([^/]+)/related", cls._related)
        route("GET", r"/library/metadata/([^/]+)/nearest", cls._nearest)
        route("GET PUT", r"/:/rate", cls._rate)
        route("GET PUT", r"/:/scrobble", cls._scrobble)
        route("GET PUT", r"/:/unscrobble", cls._unscrobble)
        route("GET POST", r"/playlists/?", cls._playlists)
        route("GET PUT DELETE", r"/playlists/([^/]+)", cls._playlist)
        route("GET PUT DELETE", r"/playlists/([^/]+)/items", cls._playlist_items)
        route("DELETE", r"/playlists/([^/]+)/items/([^/]+)", cls._playlist_item)
        route("PUT", r"/playlists/([^/]+)/items/([^/]+)/move", cls._playlist_move)
        route("GET", r"/status/sessions/history/all", cls._history)
        route("GET", r"/accounts/?", cls._accounts)
        route("GET", r"/security/token", cls._security_token)
        route("GET", r"/hubs/?", cls._hubs)

    # --- response helpers -------------------------------------------------------------------------------------

    def _document(self, ctx: Ctx, attrs: dict[str, AttrValue], children: Sequence[Node] = ()) -> Response:
        root = Node("MediaContainer", {"size": len(children), **attrs}, list(children))
        if ctx.json_form:
            return Response(200, render_json(root), _JSON_TYPE)
        return Response(200, render_xml(root), _XML_TYPE)

    def _exclusions(self, ctx: Ctx) -> tuple[frozenset[str], frozenset[str]]:
        """The request's ``excludeFields`` and ``excludeElements`` names (none when the knob says to ignore them)."""
        if self.knobs.ignore_exclusions:
            return frozenset(), frozenset()

        def names(param: str) -> frozenset[str]:
            return frozenset(name for name in (ctx.arg(param) or "").split(",") if name)

        return names("excludeFields"), names("excludeElements")

    def _trimmed(self, ctx: Ctx, style: ListStyle) -> ListStyle:
        """``style`` leaving off what the request excludes."""
        fields, elements = self._exclusions(ctx)
        if not fields and not elements:
            return style
        return replace(style, exclude_fields=fields, exclude_elements=elements)

    def _page(self, ctx: Ctx) -> Page:
        start = ctx.paging_value("X-Plex-Container-Start")
        size = ctx.paging_value("X-Plex-Container-Size")
        return Page(start or 0, size, start is not None or size is not None)

    def _paged_nodes(
        self, ctx: Ctx, attrs: dict[str, AttrValue], nodes: Sequence[Node], *, always_total: bool = False
    ) -> Response:
        page = self._page(ctx)
        chosen = list(page.apply(nodes))
        if always_total or page.requested:
            root_attrs: dict[str, AttrValue] = {"totalSize": len(nodes), "offset": page.start, **attrs}
            response = self._document(ctx, root_attrs, chosen)
            response.headers = [
                ("X-Plex-Container-Start", str(page.start)),
                ("X-Plex-Container-Total-Size", str(len(nodes))),
            ]
            return response
        return self._document(ctx, attrs, chosen)

    def _items_response(
        self,
        ctx: Ctx,
        attrs: dict[str, AttrValue],
        items: Sequence[Item],
        *,
        style: ListStyle,
        extra: Sequence[Node] = (),
        always_total: bool = True,
        item_ids: Sequence[int | None] | None = None,
    ) -> Response:
        """A paged list of library items from the fragment cache, with the account's attributes spliced in.

        ``item_ids`` (parallel to ``items``) are playlist entries' ``playlistItemID``s, which go after every other
        attribute of their item; ``None`` entries (smart playlists) get none.
        """
        page = self._page(ctx)
        chosen = page.apply(items)
        chosen_ids: Sequence[int | None] = page.apply(item_ids) if item_ids is not None else ()
        account = ctx.user
        total = len(items)
        head: dict[str, AttrValue] = {"size": len(chosen)}
        if always_total or page.requested:
            head.update({"totalSize": total, "offset": page.start})
        container_attrs = {**head, **attrs}
        ratings = account.ratings
        plays = account.plays
        fragment = self.elements.fragment
        json_form = ctx.json_form
        pieces: list[bytes] = []
        for position, obj in enumerate(chosen):
            assert isinstance(obj, (Artist, Album, Track))
            frag = fragment(obj, style, json_form=json_form)
            key = obj.id
            spliced = b""
            if key in ratings or key in plays:
                user = trim_attrs(self.elements.account_attrs(account, obj), style.exclude_fields)
                spliced = (json_attrs(user) if json_form else xml_attrs(user)).encode("utf-8")
            item_id = chosen_ids[position] if chosen_ids else None
            if item_id is not None:
                last = f',"playlistItemID":{item_id}' if json_form else f' playlistItemID="{item_id}"'
                pieces.append(frag.with_last(spliced, last.encode("utf-8")))
            else:
                pieces.append(frag.head + spliced + frag.tail)
        headers = []
        if "totalSize" in container_attrs:
            headers = [("X-Plex-Container-Start", str(page.start)), ("X-Plex-Container-Total-Size", str(total))]
        if json_form:
            return Response(200, json_container(container_attrs, pieces, extra=extra), _JSON_TYPE, headers)
        return Response(200, xml_container(container_attrs, pieces, extra=extra), _XML_TYPE, headers)

    def _section_container(self) -> dict[str, AttrValue]:
        section = self.state.section
        return {
            "allowSync": True,
            "identifier": IDENTIFIER,
            "librarySectionID": section.id,
            "librarySectionTitle": section.title,
            "librarySectionUUID": section.uuid,
            "mediaTagPrefix": MEDIA_TAG_PREFIX,
            "mediaTagVersion": MEDIA_TAG_VERSION,
        }

    def _require_section(self, raw: str) -> None:
        try:
            section_id = int(raw)
        except ValueError:
            raise HTTPError(400, "section id is not an integer") from None
        if section_id != self.state.section.id:
            raise HTTPError(404)

    def _libtype(self, ctx: Ctx, default: int = 8) -> str:
        type_number = ctx.int_arg("type")
        number = default if type_number is None else type_number
        if number not in LIBTYPES:
            raise HTTPError(400, f"type {number} is not a music type")
        return LIBTYPES[number]

    def _require_admin(self, ctx: Ctx) -> None:
        if ctx.user.id != 1:
            raise HTTPError(401)

    # --- server -----------------------------------------------------------------------------------------------

    def _root(self, ctx: Ctx, match: re.Match[str]) -> Response:
        server = self.state.server
        admin = self.state.accounts.get(1)
        attrs: dict[str, AttrValue] = {
            "allowCameraUpload": True,
            "allowChannelAccess": True,
            "allowMediaDeletion": True,
            "allowSharing": True,
            "allowSync": True,
            "allowTuners": True,
            "backgroundProcessing": True,
            "certificate": True,
            "companionProxy": True,
            "countryCode": "usa",
            "diagnostics": "logs,databases,streaminglogs",
            "eventStream": True,
            "friendlyName": server.friendly_name,
            "hubSearch": True,
            "itemClusters": True,
            "livetv": 7,
            "machineIdentifier": server.machine_identifier,
            "mediaProviders": True,
            "multiuser": True,
            "musicAnalysis": 2 if self.state.section.sonic_analysis else None,
            "myPlex": True,
            "myPlexMappingState": "mapped",
            "myPlexSigninState": "ok",
            "myPlexSubscription": True,
            "myPlexUsername": admin.name if admin is not None else "",
            "offlineTranscode": True,
            "ownerFeatures": _OWNER_FEATURES,
            "photoAutoTag": True,
            "platform": server.platform,
            "platformVersion": server.platform_version,
            "pluginHost": True,
            "pushNotifications": False,
            "readOnlyLibraries": False,
            "requestParametersInCookie": True,
            "streamingBrainABRVersion": 3,
            "streamingBrainVersion": 2,
            "sync": True,
            "transcoderActiveVideoSessions": 0,
            "transcoderAudio": True,
            "transcoderLyrics": True,
            "transcoderPhoto": True,
            "transcoderSubtitles": True,
            "transcoderVideo": True,
            "transcoderVideoBitrates": "64,96,208,320,720,1500,2000,3000,4000,8000,10000,12000,20000",
            "transcoderVideoQualities": "0,1,2,3,4,5,6,7,8,9,10,11,12",
            "transcoderVideoResolutions": "128,128,160,240,320,480,768,720,720,1080,1080,1080,1080",
            "updatedAt": self.state.section.created_at,
            "updater": True,
            "version": server.version,
            "voiceSearch": True,
        }
        children = [
            Node("Directory", {"count": count, "key": key, "title": title})
            for key, title, count in _SECTION_ROOT_DIRECTORIES
        ]
        return self._document(ctx, attrs, children)

    def _identity(self, ctx: Ctx, match: re.Match[str]) -> Response:
        server = self.state.server
        attrs: dict[str, AttrValue] = {
            "claimed": True,
            "machineIdentifier": server.machine_identifier,
            "version": server.version,
        }
        return self._document(ctx, attrs)

    def _library(self, ctx: Ctx, match: re.Match[str]) -> Response:
        # Owner-only on a real server (plexapi falls back to /library/sections for shared users).
        self._require_admin(ctx)
        attrs: dict[str, AttrValue] = {
            "allowSync": False,
            "art": "/:/resources/library-art.png",
            "content": "",
            "identifier": IDENTIFIER,
            "mediaTagPrefix": MEDIA_TAG_PREFIX,
            "mediaTagVersion": MEDIA_TAG_VERSION,
            "title1": "Plex Library",
            "title2": "",
        }
        children = [
            Node("Directory", {"key": "sections", "title": "Library Sections"}),
            Node("Directory", {"key": "recentlyAdded", "title": "Recently Added Content"}),
            Node("Directory", {"key": "onDeck", "title": "On Deck Content"}),
        ]
        return self._document(ctx, attrs, children)

    def _section_node(self) -> Node:
        section = self.state.section
        updated = max([section.created_at, *(t.updated_at for t in self.state.tracks.values())])
        return Node(
            "Directory",
            {
                "allowSync": True,
                "art": "/:/resources/artist-fanart.jpg",
                "composite": f"/library/sections/{section.id}/composite/{updated}",
                "filters": True,
                "refreshing": False,
                "thumb": "/:/resources/artist.png",
                "key": str(section.id),
                "type": "artist",
                "title": section.title,
                "agent": "tv.plex.agents.music",
                "scanner": "Plex Music",
                "language": "en",
                "uuid": section.uuid,
                "updatedAt": updated,
                "createdAt": section.created_at,
                "scannedAt": updated,
                "content": True,
                "directory": True,
                "contentChangedAt": self.state.version,
                "hidden": False,
            },
            [Node("Location", {"id": i, "path": path}) for i, path in enumerate(section.locations, 1)],
        )

    def _sections(self, ctx: Ctx, match: re.Match[str]) -> Response:
        attrs: dict[str, AttrValue] = {
            "allowSync": False,
            "identifier": IDENTIFIER,
            "mediaTagPrefix": MEDIA_TAG_PREFIX,
            "mediaTagVersion": MEDIA_TAG_VERSION,
            "title1": "Plex Library",
        }
        return self._document(ctx, attrs, [self._section_node()])

    # --- section listing and search ---------------------------------------------------------------------------

    def _listing_attrs(self) -> dict[str, AttrValue]:
        section = self.state.section
        return {
            "allowSync": True,
            "art": "/:/resources/artist-fanart.jpg",
            "identifier": IDENTIFIER,
            "librarySectionID": section.id,
            "librarySectionTitle": section.title,
            "librarySectionUUID": section.uuid,
            "mediaTagPrefix": MEDIA_TAG_PREFIX,
            "mediaTagVersion": MEDIA_TAG_VERSION,
            "nocache": True,
            "sortAsc": True,
            "thumb": "/:/resources/artist.png",
            "title1": section.title,
            "title2": "All Artists",
            "viewGroup": "artist",
            "viewMode": 65592,
        }

    def _section_all(self, ctx: Ctx, match: re.Match[str]) -> Response:
        self._require_section(match[1])
        if ctx.method == "PUT":
            return self._batch_edit(ctx)
        libtype = self._libtype(ctx)
        items = search_section(self.state, ctx.user, ctx.params, libtype=libtype)
        extra = [meta_document(self.state.section.id)] if ctx.flag("includeMeta") else []
        style = self._trimmed(ctx, ListStyle(section_attrs=False, guids=ctx.flag("includeGuids")))
        return self._items_response(ctx, self._listing_attrs(), items, style=style, extra=extra)

    def _batch_edit(self, ctx: Ctx) -> Response:
        raw_ids = ctx.arg("id")
        if not raw_ids:
            raise HTTPError(400, "missing id")
        keys = _ids(raw_ids)
        type_number = ctx.int_arg("type")
        for key in keys:
            obj = self.state.require_item(key)
            if type_number is not None and LIBTYPES.get(type_number) != _libtype_of(obj):
                raise HTTPError(400, f"item {key} is not of type {type_number}")
        raw_value = ctx.arg("userRating.value")
        value = None if raw_value is None else _float(raw_value, "userRating.value")
        raw_locked = ctx.arg("userRating.locked")
        if raw_locked not in (None, "0", "1"):
            raise HTTPError(400, "userRating.locked must be 0 or 1")
        locked = None if raw_locked is None else raw_locked == "1"
        if value is not None or locked is not None:
            self.state.edit_user_rating(ctx.user, keys, value=value, locked=locked)
        return Response(200)

    def _collections(self, ctx: Ctx, match: re.Match[str]) -> Response:
        self._require_section(match[1])
        # plexsim models no collections; the Meta of the collections view is present but empty.
        extra = [Node("Meta")] if ctx.flag("includeMeta") else []
        return self._items_response(ctx, self._listing_attrs(), [], style=ListStyle(), extra=extra)

    def _sorts(self, ctx: Ctx, match: re.Match[str]) -> Response:
        self._require_section(match[1])
        libtype = self._libtype(ctx)
        meta = meta_document(self.state.section.id)
        sorts: list[Node] = []
        for type_node in meta.children:
            if type_node.tag == "Type" and type_node.attrs.get("type") == libtype:
                for sort in type_node.children:
                    if sort.tag == "Sort":
                        kept = {k: v for k, v in sort.attrs.items() if k not in ("active", "activeDirection")}
                        sorts.append(Node("Directory", kept))
        return self._document(ctx, self._secondary_container(), sorts)

    def _secondary_container(self, title2: str | None = None) -> dict[str, AttrValue]:
        """Container attributes of a section's "secondary" listings (sorts, tag choices), as the captures show."""
        return {
            "allowSync": False,
            "art": "/:/resources/artist-fanart.jpg",
            "content": "secondary",
            "identifier": IDENTIFIER,
            "mediaTagPrefix": MEDIA_TAG_PREFIX,
            "mediaTagVersion": MEDIA_TAG_VERSION,
            "nocache": True,
            "thumb": "/:/resources/artist.png",
            "title1": self.state.section.title,
            "title2": title2,
            "viewGroup": "secondary",
            "viewMode": 65592,
        }

    def _filter_choices(self, ctx: Ctx, match: re.Match[str]) -> Response:
        self._require_section(match[1])
        name = match[2]
        level, _, kind = name.rpartition(".")
        if kind not in _TAG_FILTERS and kind not in _EMPTY_FILTERS:
            raise HTTPError(404)
        libtype = level or self._libtype(ctx)
        pool: Sequence[Item]
        if libtype == "artist":
            pool = self.state.default_artists
        elif libtype == "album":
            pool = self.state.default_albums
        else:
            pool = self.state.default_tracks
        choices: dict[int, str] = {}
        if kind in _TAG_FILTERS:
            for obj in pool:
                for tag_id, text in self.state.tag_pairs(obj, kind):
                    choices[tag_id] = text
        section_id = self.state.section.id
        nodes = [
            Node(
                "Directory",
                {
                    "fastKey": f"/library/sections/{section_id}/all?{kind}={tag_id}",
                    "key": str(tag_id),
                    "title": text,
                    "type": kind,
                },
            )
            for tag_id, text in sorted(choices.items(), key=lambda kv: (kv[1].casefold(), kv[0]))
        ]
        return self._paged_nodes(ctx, self._secondary_container(f"By {kind.capitalize()}"), nodes)

    # --- metadata ---------------------------------------------------------------------------------------------

    def _metadata(self, ctx: Ctx, match: re.Match[str]) -> Response:
        keys = _ids(match[1])
        found = [obj for obj in (self.state.item(k) for k in keys) if obj is not None]
        if not found:
            raise HTTPError(404)
        style = self._trimmed(ctx, ListStyle(section_attrs=True, guids=True))
        nodes = [self._detail_node(ctx, obj, style) for obj in found]
        attrs = self._section_container()
        attrs["augmentationKey"] = f"/library/metadata/augmentations/{found[0].id}"
        return self._paged_nodes(ctx, attrs, nodes)

    def _detail_node(self, ctx: Ctx, obj: Item, style: ListStyle) -> Node:
        node = self.elements.node(obj, ctx.user, style=style, detail=True)
        if isinstance(obj, Track):
            node.children.extend(trim_nodes([Node("Extras", {"size": 0}), Node("Related")], style))
        elif isinstance(obj, Artist):
            node.children.extend(trim_nodes(self._artist_extras(ctx, obj, style), style))
        return node

    def _artist_hubs(self, artist: Artist) -> list[Node]:
        # The artist page's album shelves, transcribed from a real PMS artist page (zh-music-client-doc).
        section_id = self.state.section.id
        order = (
            "sort=year:desc,originallyAvailableAt:desc,artist.titleSort:desc,album.titleSort,album.index,album.id,"
            "album.originallyAvailableAt"
        )
        base = f"/library/sections/{section_id}/all?artist.id={artist.id}&type=9"
        shelves = (
            ("format=EP,Single", "Singles & EPs", "artist.albums.singles"),
            ("format!=EP,Single&subformat=Live", "Live Albums", "artist.albums.live"),
            (
                "format!=EP,Single&subformat=Compilation&subformat!=Live,Soundtrack",
                "Compilations",
                "artist.albums.compilation",
            ),
        )
        return [
            Node(
                "Hub",
                {
                    "key": f"{base}&{condition}&resolveTags=1&{order}",
                    "title": title,
                    "type": "album",
                    "hubIdentifier": identifier,
                    "context": f"hub.{identifier}",
                    "size": 0,
                    "more": False,
                    "style": "shelf",
                },
            )
            for condition, title, identifier in shelves
        ]

    def _artist_extras(self, ctx: Ctx, artist: Artist, style: ListStyle) -> list[Node]:
        children: list[Node] = []
        if "Location" not in style.exclude_elements:
            # The artist's folder is found by scanning its tracks: skipped when the client asked to leave it off.
            tracks = self.state.artist_tracks(artist.id)
            folders = {t.file.rsplit("/", 2)[0] for t in tracks if t.file.count("/") >= 2}
            for folder in sorted(folders)[:1]:
                children.append(Node("Location", {"path": folder}))
        if ctx.flag("includePreferences"):
            setting = Node(
                "Setting",
                {
                    "id": "albumSort",
                    "label": "Album sorting",
                    "summary": "How to sort the albums for an artist.",
                    "type": "text",
                    "default": "-1",
                    "value": "-1",
                    "hidden": False,
                    "advanced": False,
                    "group": "",
                    "enumValues": "-1:Library default|0:Newest first|1:Oldest first|2:By name",
                },
            )
            children.append(Node("Preferences", {}, [setting]))
        if ctx.flag("includeExtras"):
            children.append(Node("Extras", {"size": 0}))
        if ctx.flag("includeRelated"):
            children.append(Node("Related", {}, self._artist_hubs(artist)))
        if ctx.flag("includeStations"):
            section = self.state.section
            station = uuid.uuid5(uuid.NAMESPACE_URL, f"{self.state.server.machine_identifier}/station/{artist.id}")
            radio = Node(
                "Playlist",
                {
                    "key": f"/library/metadata/{artist.id}/station/{station}?type=10",
                    "guid": "",
                    "type": "playlist",
                    "title": f"{artist.title} Radio",
                    "librarySectionTitle": section.title,
                    "librarySectionID": section.id,
                    "librarySectionKey": f"/library/sections/{section.id}",
                    "summary": "",
                    "smart": True,
                    "playlistType": "audio",
                    "leafCount": 0,
                    "icon": "playlist://image.radio",
                    "radio": True,
                },
            )
            children.append(Node("Stations", {"size": 1}, [radio]))
        if ctx.flag("includePopularLeaves"):
            key = (
                f"/library/sections/{self.state.section.id}/all?album.subformat!=Compilation,Live&artist.id={artist.id}"
                "&group=title&limit=100&ratingCount>=1&resolveTags=1&sort=ratingCount:desc&type=10"
            )
            children.append(Node("PopularLeaves", {"size": 0, "key": key}))
        return children

    def _parent(self, raw: str) -> Item:
        keys = _ids(raw)
        if len(keys) != 1:
            raise HTTPError(400, "one id expected")
        return self.state.require_item(keys[0])

    def _children(self, ctx: Ctx, match: re.Match[str]) -> Response:
        parent = self._parent(match[1])
        base = self._section_container()
        style = ListStyle(section_attrs=False, guids=ctx.flag("includeGuids"))
        if isinstance(parent, Artist):
            attrs: dict[str, AttrValue] = {
                **base,
                "art": self.elements.art(parent),
                "key": str(parent.id),
                "nocache": True,
                "parentIndex": 1,
                "parentTitle": parent.title,
                "summary": parent.summary,
                "thumb": self.elements.thumb(parent),
                "title1": self.state.section.title,
                "title2": parent.title,
                "viewGroup": "album",
                "viewMode": 65592,
            }
            albums: Sequence[Item] = self.state.artist_albums[parent.id]
            return self._items_response(ctx, attrs, albums, style=style, always_total=False)
        if isinstance(parent, Album):
            artist = self.state.artists[parent.artist]
            album_attrs: dict[str, AttrValue] = {
                **base,
                "art": self.elements.art(artist),
                "grandparentRatingKey": artist.id,
                "grandparentThumb": self.elements.thumb(artist),
                "grandparentTitle": artist.title,
                "key": str(parent.id),
                "nocache": True,
                "parentIndex": 1,
                "parentTitle": parent.title,
                "parentYear": parent.year,
                "summary": parent.summary,
                "thumb": self.elements.thumb(parent),
                "title1": artist.title,
                "title2": parent.title,
                "viewGroup": "track",
                "viewMode": 65593,
            }
            tracks: Sequence[Item] = self.state.album_tracks[parent.id]
            return self._items_response(ctx, album_attrs, tracks, style=style, always_total=False)
        return self._document(ctx, base)

    def _all_leaves(self, ctx: Ctx, match: re.Match[str]) -> Response:
        parent = self._parent(match[1])
        tracks: Sequence[Item] = self.state.leaves(parent)
        artist = parent if isinstance(parent, Artist) else None
        if isinstance(parent, Album):
            artist = self.state.artists[parent.artist]
        attrs: dict[str, AttrValue] = {
            **self._section_container(),
            "art": self.elements.art(artist) if artist is not None else None,
            "key": str(parent.id),
            "mixedParents": True,
            "nocache": True,
            "parentIndex": 1,
            "parentTitle": parent.title,
            "title1": self.state.section.title,
            "title2": parent.title,
            "viewGroup": "track",
            "viewMode": 65593,
        }
        style = ListStyle(section_attrs=True, guids=ctx.flag("includeGuids"))
        return self._items_response(ctx, attrs, tracks, style=style, always_total=False)

    def _related(self, ctx: Ctx, match: re.Match[str]) -> Response:
        parent = self._parent(match[1])
        hubs = self._artist_hubs(parent) if isinstance(parent, Artist) else []
        return self._document(ctx, {"allowSync": True, "identifier": IDENTIFIER}, hubs)

    # --- sonic neighbours -------------------------------------------------------------------------------------

    def _nearest(self, ctx: Ctx, match: re.Match[str]) -> Response:
        seed = self._parent(match[1])
        limit = ctx.int_arg("limit")
        raw_distance = ctx.arg("maxDistance")
        # Server defaults per plexapi's sonicallySimilar docstring: 50 items within distance 0.25.
        max_distance = 0.25 if raw_distance is None else _float(raw_distance, "maxDistance")
        exclude_parent = ctx.int_arg("excludeParentID")
        exclude_grandparent = ctx.int_arg("excludeGrandparentID")
        found = self.state.nearest(
            seed,
            limit=50 if limit is None else limit,
            max_distance=max_distance,
            exclude_parent=exclude_parent,
            exclude_grandparent=exclude_grandparent,
        )
        style = ListStyle(section_attrs=True)
        nodes = [
            self.elements.node(obj, ctx.user, style=style, extra={"distance": round(distance, 6)})
            for obj, distance in found
        ]
        return self._paged_nodes(ctx, self._section_container(), nodes)

    # --- user actions -----------------------------------------------------------------------------------------

    def _check_identifier(self, ctx: Ctx) -> None:
        identifier = ctx.arg("identifier")
        if identifier is None:
            raise HTTPError(400, "missing identifier")
        if identifier != IDENTIFIER:
            raise HTTPError(404)

    def _rate(self, ctx: Ctx, match: re.Match[str]) -> Response:
        self._check_identifier(ctx)
        key = ctx.int_arg("key", required=True)
        assert key is not None
        rating = _float(ctx.arg("rating"), "rating")
        if rating != -1 and not 0 <= rating <= 10:
            raise HTTPError(400, "rating must be within 0..10 or -1")
        rated_at = ctx.int_arg("ratedAt")
        self.state.rate(ctx.user, key, rating, rated_at=rated_at)
        return Response(200)

    def _played_key(self, ctx: Ctx) -> int:
        self._check_identifier(ctx)
        key = ctx.int_arg("key")
        if key is None:
            uri = ctx.arg("uri")
            if not uri:
                raise HTTPError(400, "key or uri is required")
            ids = _metadata_ids_from_uri(uri)
            key = ids[0]
        return key

    def _scrobble(self, ctx: Ctx, match: re.Match[str]) -> Response:
        self.state.scrobble(ctx.user, self._played_key(ctx))
        return Response(200)

    def _unscrobble(self, ctx: Ctx, match: re.Match[str]) -> Response:
        self.state.unscrobble(ctx.user, self._played_key(ctx))
        return Response(200)

    # --- playlists --------------------------------------------------------------------------------------------

    def _content(self, playlist: PlaylistState) -> str | None:
        if not playlist.smart or playlist.query is None:
            return None
        section_id, pairs = parse_smart_uri(playlist.query)
        return smart_content(self.state.section.uuid, section_id, pairs)

    def _playlist_node(self, ctx: Ctx, playlist: PlaylistState) -> Node:
        return self.elements.playlist_node(playlist, ctx.user, content=self._content(playlist))

    def _playlist_id(self, raw: str) -> int:
        try:
            return int(raw)
        except ValueError:
            raise HTTPError(400, "playlist id is not an integer") from None

    def _playlists(self, ctx: Ctx, match: re.Match[str]) -> Response:
        if ctx.method == "POST":
            return self._create_playlist(ctx)
        wanted_type = ctx.arg("playlistType")
        smart = ctx.arg("smart")
        title = ctx.arg("title")
        section_id = ctx.int_arg("sectionID")
        chosen = []
        for playlist in ctx.user.playlists.values():
            if wanted_type is not None and "audio" not in wanted_type.split(","):
                continue
            if smart is not None and playlist.smart != (smart == "1"):
                continue
            if title is not None and title.casefold() not in playlist.title.casefold():
                continue
            if section_id is not None and section_id != self.state.section.id:
                continue
            chosen.append(playlist)
        nodes = [self._playlist_node(ctx, pl) for pl in chosen]
        return self._paged_nodes(ctx, {}, nodes)

    def _create_playlist(self, ctx: Ctx) -> Response:
        playlist_type = ctx.arg("type")
        if playlist_type != "audio":
            raise HTTPError(400, "plexsim holds audio playlists only")
        title = ctx.arg("title")
        if not title:
            raise HTTPError(400, "missing title")
        uri = ctx.arg("uri")
        if not uri:
            raise HTTPError(400, "missing uri")
        if ctx.arg("smart") == "1":
            query = self._smart_query(uri)
            playlist = self.state.create_playlist(ctx.user, title, query=query)
        else:
            playlist = self.state.create_playlist(ctx.user, title, keys=_metadata_ids_from_uri(uri))
        return self._document(ctx, {}, [self._playlist_node(ctx, playlist)])

    def _smart_query(self, uri: str) -> str:
        section_id, pairs = parse_smart_uri(uri)
        if section_id != self.state.section.id:
            raise HTTPError(404)
        libtype = next((v for k, v in pairs if k == "type"), "10")
        if not libtype.isdigit() or int(libtype) not in LIBTYPES:
            raise HTTPError(400, "smart playlists hold artists, albums or tracks")
        # Validate now so a broken rule is a 400 at creation, not a failure on every read.
        search_section(self.state, self.state.accounts[1], pairs, libtype=LIBTYPES[int(libtype)])
        inner = "&".join(
            f"{key}={quote(value, safe='')}" for key, value in pairs if not key.lower().startswith("x-plex-")
        )
        return f"/library/sections/{section_id}/all?{inner}"

    def _playlist(self, ctx: Ctx, match: re.Match[str]) -> Response:
        playlist_id = self._playlist_id(match[1])
        playlist = self.state.playlist(ctx.user, playlist_id)
        if ctx.method == "DELETE":
            self.state.delete_playlist(ctx.user, playlist_id)
            return Response(200)
        if ctx.method == "PUT":
            self.state.edit_playlist(
                ctx.user, playlist_id, title=ctx.arg("title.value"), summary=ctx.arg("summary.value")
            )
        return self._document(ctx, {}, [self._playlist_node(ctx, playlist)])

    def _playlist_items(self, ctx: Ctx, match: re.Match[str]) -> Response:
        playlist_id = self._playlist_id(match[1])
        playlist = self.state.playlist(ctx.user, playlist_id)
        if ctx.method == "PUT":
            uri = ctx.arg("uri")
            if not uri:
                raise HTTPError(400, "missing uri")
            if playlist.smart:
                self.state.set_smart_query(ctx.user, playlist_id, self._smart_query(uri))
            else:
                self.state.add_to_playlist(ctx.user, playlist_id, _metadata_ids_from_uri(uri))
            return self._document(ctx, {}, [self._playlist_node(ctx, playlist)])
        if ctx.method == "DELETE":
            self.state.clear_playlist(ctx.user, playlist_id)
            return self._document(ctx, {}, [self._playlist_node(ctx, playlist)])
        entries = self.elements.playlist_items(playlist, ctx.user)
        attrs: dict[str, AttrValue] = {
            "composite": f"/playlists/{playlist.id}/composite/{playlist.updated_at}",
            # In seconds here, unlike the playlist element's milliseconds (zh-music-client-doc playlist items).
            "duration": sum(t.duration for _, t in entries) // 1000,
            "leafCount": len(entries),
            "playlistType": "audio",
            "ratingKey": str(playlist.id),
            "smart": playlist.smart,
            "title": playlist.title,
        }
        page = self._page(ctx)
        if not page.apply(entries):
            # An empty page is a self-closed container, as every Node-rendered document is.
            if not page.requested:
                return self._document(ctx, attrs)
            response = self._document(ctx, {"totalSize": len(entries), "offset": page.start, **attrs})
            response.headers = [
                ("X-Plex-Container-Start", str(page.start)),
                ("X-Plex-Container-Total-Size", str(len(entries))),
            ]
            return response
        return self._items_response(
            ctx,
            attrs,
            [track for _, track in entries],
            style=ListStyle(section_attrs=True),
            always_total=False,
            item_ids=[item_id for item_id, _ in entries],
        )

    def _playlist_item(self, ctx: Ctx, match: re.Match[str]) -> Response:
        playlist_id = self._playlist_id(match[1])
        item_id = self._playlist_id(match[2])
        self.state.remove_from_playlist(ctx.user, playlist_id, item_id)
        return self._document(ctx, {}, [self._playlist_node(ctx, self.state.playlist(ctx.user, playlist_id))])

    def _playlist_move(self, ctx: Ctx, match: re.Match[str]) -> Response:
        playlist_id = self._playlist_id(match[1])
        item_id = self._playlist_id(match[2])
        after = ctx.int_arg("after")
        self.state.move_in_playlist(ctx.user, playlist_id, item_id, after)
        return self._document(ctx, {}, [self._playlist_node(ctx, self.state.playlist(ctx.user, playlist_id))])

    # --- history, accounts, tokens, hubs ----------------------------------------------------------------------

    def _history(self, ctx: Ctx, match: re.Match[str]) -> Response:
        user = ctx.user
        account_id = ctx.int_arg("accountID")
        section_id = ctx.int_arg("librarySectionID")
        item_id = ctx.int_arg("metadataItemID")
        low: int | None = None
        high: int | None = None
        for key, value in ctx.params:
            if not key.startswith("viewedAt"):
                continue
            try:
                bound = int(value)
            except ValueError:
                raise HTTPError(400, "viewedAt is not an integer") from None
            low, high = _viewed_at_window(key[len("viewedAt") :], bound, key, low, high)
        sorts: list[tuple[str, bool]] = []
        sort = ctx.arg("sort")
        for part in sort.split(",") if sort else ():
            name, _, direction = part.partition(":")
            if direction not in ("", "asc", "desc"):
                raise HTTPError(400, "sort direction must be asc or desc")
            if name not in ("viewedAt", "accountID"):
                raise HTTPError(400, f"cannot sort history by {name!r}")
            sorts.append((name, direction == "desc"))
        viewer = None if user.id == 1 else user.id  # only the admin sees every account's plays
        query = HistoryQuery(viewer, account_id, section_id, item_id, low, high, tuple(sorts))
        rows = self._history_index.rows(self.state, query)
        page = self._page(ctx)
        chosen = page.apply(rows)
        root_attrs: dict[str, AttrValue] = {"totalSize": len(rows), "offset": page.start} if page.requested else {}
        if chosen:
            attrs: dict[str, AttrValue] = {"size": len(chosen), **root_attrs}
            # The spec lets history requests leave attributes off (excludeFields=a,b): a client that stores a few
            # fields of 300,000 rows asks for only those.
            exclude, _ = self._exclusions(ctx)
            pieces = self.elements.history_fragments(chosen, json_form=ctx.json_form, exclude=exclude)
            if ctx.json_form:
                response = Response(200, json_container(attrs, pieces), _JSON_TYPE)
            else:
                response = Response(200, xml_container(attrs, pieces), _XML_TYPE)
        else:
            response = self._document(ctx, root_attrs, [])
        if page.requested:
            response.headers = [
                ("X-Plex-Container-Start", str(page.start)),
                ("X-Plex-Container-Total-Size", str(len(rows))),
            ]
        return response

    def _accounts(self, ctx: Ctx, match: re.Match[str]) -> Response:
        self._require_admin(ctx)
        rows = [(0, "", "")] + [(acc.id, acc.name, acc.thumb) for acc in self.state.accounts.values()]
        nodes = [
            Node(
                "Account",
                {
                    "id": account_id,
                    "key": f"/accounts/{account_id}",
                    "name": name,
                    "defaultAudioLanguage": "en",
                    "autoSelectAudio": True,
                    "defaultSubtitleLanguage": "en",
                    "subtitleMode": 1,
                    "thumb": thumb,
                },
            )
            for account_id, name, thumb in rows
        ]
        return self._document(ctx, {"identifier": "com.plexapp.system.accounts"}, nodes)

    def _security_token(self, ctx: Ctx, match: re.Match[str]) -> Response:
        if ctx.arg("type") != "delegation" or ctx.arg("scope") != "all":
            raise HTTPError(400, "type=delegation&scope=all expected")
        token = f"transient-{uuid.uuid4()}"
        self.state.add_token(token, ctx.user.id)
        return self._document(ctx, {"token": token})

    def _hubs(self, ctx: Ctx, match: re.Match[str]) -> Response:
        recent = sorted(self.state.albums.values(), key=lambda a: (-a.added_at, a.id))[:12]
        album_hub = Node(
            "Hub",
            {
                "key": "/hubs/home/recentlyAdded?type=8",
                "title": "Recently Added Music",
                "type": "album",
                "hubIdentifier": "home.music.recent",
                "context": "hub.home.music.recent",
                "size": len(recent),
                "more": len(self.state.albums) > len(recent),
                "style": "shelf",
                "promoted": True,
            },
            [self.elements.node(album, ctx.user, style=ListStyle(section_attrs=True)) for album in recent],
        )
        playlists = sorted(
            ctx.user.playlists.values(),
            key=lambda pl: -(ctx.user.plays[pl.id].last_viewed_at or 0) if pl.id in ctx.user.plays else 0,
        )[:6]
        playlist_hub = Node(
            "Hub",
            {
                "hubKey": "/library/metadata/" + ",".join(str(pl.id) for pl in playlists),
                "key": "/playlists/all?type=15&sort=lastViewedAt:desc&playlistType=video,audio",
                "title": "Recent Playlists",
                "type": "playlist",
                "hubIdentifier": "home.playlists",
                "context": "hub.home.playlists",
                "size": len(playlists),
                "more": len(ctx.user.playlists) > len(playlists),
                "style": "shelf",
                "promoted": True,
            },
            [self._playlist_node(ctx, pl) for pl in playlists],
        )
        return self._document(ctx, {"allowSync": True, "identifier": IDENTIFIER}, [album_hub, playlist_hub])

    # --- control surface --------------------------------------------------------------------------------------

    def _control(self, ctx: Ctx) -> Response:
        """``/__plexsim/{knobs,reset,log}``: drive the knobs of a plexsim running in another process."""
        try:
            self._authenticate(ctx)
            self._require_admin(ctx)
        except HTTPError as exc:
            return self._error(exc.status)
        action = ctx.path[len(CONTROL_PREFIX) + 1 :]
        if action == "reset" and ctx.method == "POST":
            self.knobs.reset()
            return Response(200, b"{}", _JSON_TYPE)
        if action == "knobs" and ctx.method == "POST":
            try:
                _configure_knobs(self.knobs, ctx)
            except (ValueError, re.error):
                return self._error(400)
            return Response(200, b"{}", _JSON_TYPE)
        if action == "log" and ctx.method == "GET":
            rows = [
                {"method": r.method, "path": r.path, "query": r.query, "status": r.status, "account_id": r.account_id}
                for r in self.knobs.log
            ]
            return Response(200, json.dumps(rows).encode(), _JSON_TYPE)
        return self._error(404)


def _configure_knobs(knobs: Knobs, ctx: Ctx) -> None:
    known = {
        "latency_ms", "slow_ms", "fail_rate", "drop_rate", "fail_status", "unauthorized_after",
        "slow_path", "fail_path", "drop_path", "ignore_exclusions",
    }  # fmt: skip
    unknown = [key for key, _ in ctx.params if key not in known and not key.startswith("X-Plex-")]
    if unknown:
        raise ValueError(f"unknown knob {unknown[0]!r}")

    def number(name: str) -> float | None:
        raw = ctx.arg(name)
        return None if raw is None else float(raw)

    def integer(name: str) -> int | None:
        raw = ctx.arg(name)
        return None if raw is None else int(raw)

    knobs.configure(
        latency_ms=number("latency_ms"),
        slow_ms=number("slow_ms"),
        fail_rate=number("fail_rate"),
        drop_rate=number("drop_rate"),
        fail_status=integer("fail_status"),
        unauthorized_after=integer("unauthorized_after"),
        slow_path=ctx.arg("slow_path"),
        fail_path=ctx.arg("fail_path"),
        drop_path=ctx.arg("drop_path"),
        ignore_exclusions=None if ctx.arg("ignore_exclusions") is None else ctx.flag("ignore_exclusions"),
    )


def _viewed_at_window(
    op: str, bound: int, key: str, low: int | None, high: int | None
) -> tuple[int | None, int | None]:
    """Narrow the inclusive ``viewedAt`` window by one comparison; ``viewedAt>=N`` arrives as key ``viewedAt>``."""
    if op in (">", ">=", ">>", ""):
        start = bound + 1 if op == ">>" else bound
        low = start if low is None else max(low, start)
    if op in ("<", "<=", "<<", ""):
        end = bound - 1 if op == "<<" else bound
        high = end if high is None else min(high, end)
    if op not in (">", ">=", ">>", "", "<", "<=", "<<"):
        raise HTTPError(400, f"unknown operator in {key!r}")
    return low, high


def _libtype_of(obj: Item) -> str:
    if isinstance(obj, Track):
        return "track"
    return "album" if isinstance(obj, Album) else "artist"
