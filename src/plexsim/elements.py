"""What each Plex object looks like on the wire: element builders for tracks, albums, artists, playlists and more.

Attribute names, their order and what is omitted are transcribed from real PMS responses (the captures listed in
``docs/plexsim.md``). Library items are split into the catalogue part, which never changes and is cached as
pre-rendered fragments, and the per-account part (:func:`overlay`), spliced in at request time.

Values the library file does not carry but real servers always send are synthesised deterministically from ids so
that a library serves identical bytes every time: ``guid`` (``local://<id>``, the form PMS gives unmatched items),
``Guid`` children (``mbid://`` UUIDs derived from the item's guid), artwork paths, and a track's loudness stream
values. ``docs/plexsim.md`` lists them under "Fidelity notes".
"""

from __future__ import annotations

import hashlib
import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from plexsim.library import Album, Artist, Track
from plexsim.nodes import AttrValue, Node
from plexsim.render import Fragment, json_attrs, split_json, split_xml, xml_attrs
from plexsim.resolve import evaluate_smart
from plexsim.state import AccountState, HistoryRow, Item, PlaylistState, ServerState

__all__ = [
    "IDENTIFIER",
    "MEDIA_TAG_PREFIX",
    "MEDIA_TAG_VERSION",
    "ElementBuilder",
    "ListStyle",
    "overlay",
    "trim_attrs",
    "trim_nodes",
]

IDENTIFIER = "com.plexapp.plugins.library"
MEDIA_TAG_PREFIX = "/system/bundle/media/flags/"
MEDIA_TAG_VERSION = 1667296136

#: A history row around its track's cached attributes; ``%d`` renders the row's integers as ``int()`` would.
_HISTORY_XML = b'<Track historyKey="/status/sessions/history/%d"%s viewedAt="%d" accountID="%d" deviceID="%d" />'
_HISTORY_JSON = b'{"historyKey":"/status/sessions/history/%d"%s,"viewedAt":%d,"accountID":%d,"deviceID":%d}'
#: A history row's own attributes (not its track's), in the order of the values history_fragments formats.
_HISTORY_OWN = ("historyKey", "viewedAt", "accountID", "deviceID")

_TAG_ELEMENT = {"genre": "Genre", "style": "Style", "mood": "Mood", "country": "Country"}
#: The tags list rows carry, by item type: genres of albums (the OpenAPI example of a section's album list),
#: genres and countries of artists (Plex's documented list row shape: ``<Genre tag/>``, ``<Country tag/>``).
#: Styles and moods appear on item detail only; track rows carry no tags (the real track list capture has none).
_LIST_TAGS: dict[str, tuple[str, ...]] = {"album": ("genre",), "artist": ("genre", "country")}


@dataclass(frozen=True, slots=True)
class ListStyle:
    """How items are rendered: with the section attributes (not hoisted), ``Guid`` children, and what to leave off.

    ``exclude_fields`` and ``exclude_elements`` are a request's ``excludeFields`` / ``excludeElements``: attribute
    names left off the item and every element inside it, and element names left out wherever they occur.
    """

    section_attrs: bool = False
    guids: bool = False
    exclude_fields: frozenset[str] = frozenset()
    exclude_elements: frozenset[str] = frozenset()

    @property
    def trims(self) -> bool:
        """Whether anything is left off."""
        return bool(self.exclude_fields or self.exclude_elements)


def trim_attrs(attrs: dict[str, AttrValue], fields: frozenset[str]) -> dict[str, AttrValue]:
    """``attrs`` without the names in ``fields`` (the same dict when there is nothing to leave off)."""
    if not fields:
        return attrs
    return {name: value for name, value in attrs.items() if name not in fields}


def trim_nodes(nodes: list[Node], style: ListStyle) -> list[Node]:
    """Copies of ``nodes`` without the excluded elements (at any depth) and the excluded attributes."""
    if not style.trims:
        return nodes
    return [
        Node(node.tag, trim_attrs(node.attrs, style.exclude_fields), trim_nodes(node.children, style))
        for node in nodes
        if node.tag not in style.exclude_elements
    ]


def overlay(state: ServerState, account: AccountState, key: int) -> dict[str, AttrValue]:
    """The account's own attributes of an item, in the order real servers send them; unset ones are absent."""
    attrs: dict[str, AttrValue] = {}
    rating = account.ratings.get(key)
    play = account.plays.get(key)
    if rating is not None:
        attrs["userRating"] = rating.rating
    if play is not None:
        if play.view_count:
            attrs["viewCount"] = play.view_count
        if play.skip_count:
            attrs["skipCount"] = play.skip_count
        if play.last_viewed_at is not None:
            attrs["lastViewedAt"] = play.last_viewed_at
    if rating is not None:
        attrs["lastRatedAt"] = rating.rated_at
    return attrs


_URL_NAMESPACE = uuid.NAMESPACE_URL.bytes


def _mbid(guid: str) -> str:
    """``mbid://`` + the RFC 4122 version-5 UUID of ``guid`` (what ``uuid.uuid5`` gives, without its overhead)."""
    digest = bytearray(hashlib.sha1(_URL_NAMESPACE + guid.encode("utf-8"), usedforsecurity=False).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50
    digest[8] = (digest[8] & 0x3F) | 0x80
    h = digest.hex()
    return f"mbid://{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _loudness(track_id: int) -> dict[str, str]:
    # Synthetic but stable ReplayGain-style figures: the library file has no loudness analysis.
    digest = hashlib.sha256(str(track_id).encode()).digest()
    gain = -3.0 - digest[0] / 255 * 9.0
    peak = 0.8 + digest[1] / 255 * 0.2
    lra = 3.0 + digest[2] / 255 * 12.0
    return {
        "albumGain": f"{gain:.2f}",
        "albumPeak": f"{peak:.6f}",
        "albumRange": f"{lra:.6f}",
        "gain": f"{gain:.2f}",
        "loudness": f"{-18.0 - gain:.2f}",
        "lra": f"{lra:.2f}",
        "peak": f"{peak:.6f}",
    }


def _channel_layout(channels: int) -> str:
    return {1: "mono", 2: "stereo"}.get(channels, f"{channels}.0")


class ElementBuilder:
    """Builds the element of every object plexsim serves, caching library items' catalogue fragments."""

    def __init__(self, state: ServerState) -> None:
        self.state = state
        self._cache: dict[tuple[int, ListStyle, bool], Fragment] = {}
        self._cache_lock = threading.Lock()
        #: Catalogue parts of item detail (before, after, children), by (item id, style): the library is read-only,
        #: and a build reads the detail of every artist and album, many ids per request.
        self._detail_cache: dict[
            tuple[int, ListStyle], tuple[dict[str, AttrValue], dict[str, AttrValue], tuple[Node, ...]]
        ] = {}
        #: Rendered track attributes of history rows, by (JSON form, excluded fields), then by track id: one lookup
        #: of the form per request, not one per row (equal sets of excluded fields are compared item by item).
        self._history_cache: dict[tuple[bool, frozenset[str]], dict[int, bytes]] = {}
        #: Templates of a history row's own attributes, by (JSON form, excluded fields).
        self._history_template_cache: dict[
            tuple[bool, frozenset[str]], tuple[bytes, bytes, tuple[tuple[int, ...], tuple[int, ...]]]
        ] = {}
        section = state.section
        self.section_key = f"/library/sections/{section.id}"

    # --- shared bits ------------------------------------------------------------------------------------------

    def _section_attrs(self) -> dict[str, AttrValue]:
        section = self.state.section
        return {
            "librarySectionTitle": section.title,
            "librarySectionID": section.id,
            "librarySectionKey": self.section_key,
        }

    @staticmethod
    def thumb(obj: Artist | Album) -> str:
        return f"/library/metadata/{obj.id}/thumb/{obj.updated_at}"

    @staticmethod
    def art(obj: Artist) -> str:
        return f"/library/metadata/{obj.id}/art/{obj.updated_at}"

    def list_tag_nodes(self, obj: Item, kinds: tuple[str, ...]) -> list[Node]:
        """Tags as list rows carry them: ``<Genre tag="..."/>``, the name only (no ``id``/``filter``)."""
        return [Node(_TAG_ELEMENT[kind], {"tag": text}) for kind in kinds for text in self.state.tags(obj, kind)]

    def tag_nodes(self, obj: Item, kinds: tuple[str, ...], style: ListStyle | None = None) -> list[Node]:
        """Tags as item detail carries them (``id``, ``filter``, ``tag``); none of the kinds ``style`` excludes."""
        nodes = []
        for kind in kinds:
            if style is not None and _TAG_ELEMENT[kind] in style.exclude_elements:
                continue
            for tag_id, text in self.state.tag_pairs(obj, kind):
                nodes.append(Node(_TAG_ELEMENT[kind], {"id": tag_id, "filter": f"{kind}={tag_id}", "tag": text}))
        return nodes

    # --- tracks -----------------------------------------------------------------------------------------------

    def track_parts(
        self, track: Track, *, style: ListStyle, detail: bool = False
    ) -> tuple[dict[str, AttrValue], dict[str, AttrValue], list[Node]]:
        """A track's attributes before and after the per-account splice point, and its children."""
        state = self.state
        album = state.albums[track.album]
        artist = state.artists[album.artist]
        track_guid = track.guid or f"local://{track.id}"
        before: dict[str, AttrValue] = {
            "ratingKey": str(track.id),
            "key": f"/library/metadata/{track.id}",
            "parentRatingKey": str(album.id),
            "grandparentRatingKey": str(artist.id),
            "guid": track_guid,
            "parentGuid": album.guid or f"local://{album.id}",
            "grandparentGuid": artist.guid or f"local://{artist.id}",
            "parentStudio": album.studio,
            "type": "track",
            "title": track.title,
            "grandparentKey": f"/library/metadata/{artist.id}",
            "parentKey": f"/library/metadata/{album.id}",
        }
        if style.section_attrs or detail:
            before.update(self._section_attrs())
        before.update(
            {
                "grandparentTitle": artist.title,
                "parentTitle": album.title,
                "originalTitle": track.original_title,
                "summary": "",
                "index": track.index,
                "parentIndex": track.disc,
                "ratingCount": track.rating_count,
            }
        )
        analysed = track.sonic is not None and state.section.sonic_analysis
        album_thumb = f"/library/metadata/{album.id}/thumb/{album.updated_at}"
        artist_art = f"/library/metadata/{artist.id}/art/{artist.updated_at}"
        after: dict[str, AttrValue] = {
            "parentYear": album.year,
            "thumb": album_thumb,
            "art": artist_art,
            "parentThumb": album_thumb,
            "grandparentThumb": f"/library/metadata/{artist.id}/thumb/{artist.updated_at}",
            "grandparentArt": artist_art,
            "duration": track.duration,
            "addedAt": track.added_at,
            "updatedAt": track.updated_at,
            "musicAnalysisVersion": 1 if analysed else None,
        }
        name = track.file.rpartition("/")[2]
        ext = name.rpartition(".")[2] if "." in name else track.container
        part_attrs: dict[str, AttrValue] = {}
        if detail:
            part_attrs.update({"accessible": True, "exists": True})
        part_attrs.update(
            {
                "id": track.id,
                "key": f"/library/parts/{track.id}/{track.updated_at}/file.{ext}",
                "duration": track.duration,
                "file": track.file,
                "size": track.size,
                "container": track.container,
                "hasThumbnail": "1",
            }
        )
        part = Node("Part", part_attrs)
        if detail:
            stream: dict[str, AttrValue] = {
                "id": track.id,
                "streamType": 2,
                "selected": True,
                "codec": track.audio_codec,
                "index": 0,
                "channels": track.audio_channels,
                "bitrate": track.bitrate,
            }
            stream.update(_loudness(track.id))
            label = f"{track.audio_codec.upper()} ({_channel_layout(track.audio_channels).capitalize()})"
            stream.update(
                {
                    "audioChannelLayout": _channel_layout(track.audio_channels),
                    "samplingRate": 44100,
                    "displayTitle": label,
                    "extendedDisplayTitle": label,
                }
            )
            part.children.append(Node("Stream", stream))
        media = Node(
            "Media",
            {
                "id": track.id,
                "duration": track.duration,
                "bitrate": track.bitrate,
                "audioChannels": track.audio_channels,
                "audioCodec": track.audio_codec,
                "container": track.container,
            },
            [part],
        )
        children = [media]
        if (style.guids or detail) and "Guid" not in style.exclude_elements:
            children.append(Node("Guid", {"id": _mbid(track_guid)}))
        if detail:
            children.extend(self.tag_nodes(track, ("genre", "mood"), style))
        return before, after, children

    # --- albums -----------------------------------------------------------------------------------------------

    def album_parts(
        self, album: Album, *, style: ListStyle, detail: bool = False
    ) -> tuple[dict[str, AttrValue], dict[str, AttrValue], list[Node]]:
        artist = self.state.artists[album.artist]
        album_guid = album.guid or f"local://{album.id}"
        before: dict[str, AttrValue] = {
            "ratingKey": str(album.id),
            "key": f"/library/metadata/{album.id}/children",
            "parentRatingKey": str(artist.id),
            "guid": album_guid,
            "parentGuid": artist.guid or f"local://{artist.id}",
            "studio": album.studio,
            "type": "album",
            "title": album.title,
            "parentKey": f"/library/metadata/{artist.id}",
        }
        if style.section_attrs or detail:
            before.update(self._section_attrs())
        before.update({"parentTitle": artist.title, "summary": album.summary, "index": 1})
        after: dict[str, AttrValue] = {
            "year": album.year,
            "thumb": self.thumb(album),
            "art": self.art(artist),
            "parentThumb": self.thumb(artist),
            "originallyAvailableAt": album.originally_available_at,
        }
        if detail:
            after["leafCount"] = len(self.state.album_tracks[album.id])
        after.update({"addedAt": album.added_at, "updatedAt": album.updated_at, "loudnessAnalysisVersion": 2})
        children: list[Node] = []
        if (style.guids or detail) and "Guid" not in style.exclude_elements:
            children.append(Node("Guid", {"id": _mbid(album_guid)}))
        if detail:
            children.extend(self.tag_nodes(album, ("genre", "style", "mood"), style))
        else:
            children.extend(self.list_tag_nodes(album, _LIST_TAGS["album"]))
        return before, after, children

    # --- artists ----------------------------------------------------------------------------------------------

    def artist_parts(
        self, artist: Artist, *, style: ListStyle, detail: bool = False
    ) -> tuple[dict[str, AttrValue], dict[str, AttrValue], list[Node]]:
        artist_guid = artist.guid or f"local://{artist.id}"
        before: dict[str, AttrValue] = {
            "ratingKey": str(artist.id),
            "key": f"/library/metadata/{artist.id}/children",
            "guid": artist_guid,
            "type": "artist",
            "title": artist.title,
            "titleSort": artist.sort_title or artist.title,
        }
        if style.section_attrs or detail:
            before.update(self._section_attrs())
        before.update({"summary": artist.summary, "index": 1})
        after: dict[str, AttrValue] = {
            "thumb": self.thumb(artist),
            "art": self.art(artist),
            "addedAt": artist.added_at,
            "updatedAt": artist.updated_at,
        }
        children: list[Node] = []
        if (style.guids or detail) and "Guid" not in style.exclude_elements:
            children.append(Node("Guid", {"id": _mbid(artist_guid)}))
        if detail:
            children.extend(self.tag_nodes(artist, ("genre", "style", "mood", "country"), style))
        else:
            children.extend(self.list_tag_nodes(artist, _LIST_TAGS["artist"]))
        return before, after, children

    def parts(
        self, obj: Item, *, style: ListStyle, detail: bool = False
    ) -> tuple[dict[str, AttrValue], dict[str, AttrValue], list[Node]]:
        """An item's attributes before and after the per-account splice point, and its children, as ``style`` asks."""
        if isinstance(obj, Track):
            before, after, children = self.track_parts(obj, style=style, detail=detail)
        elif isinstance(obj, Album):
            before, after, children = self.album_parts(obj, style=style, detail=detail)
        else:
            before, after, children = self.artist_parts(obj, style=style, detail=detail)
        if not style.trims:
            return before, after, children
        # An item keeps its ``type`` whatever is excluded: it is what files an artist or album under ``Metadata`` in
        # JSON (a PMS knows them as metadata items anyway), and the spec lets a server keep what it chooses.
        fields = style.exclude_fields - {"type"}
        return trim_attrs(before, fields), trim_attrs(after, fields), trim_nodes(children, style)

    @staticmethod
    def tag_of(obj: Item) -> str:
        return "Track" if isinstance(obj, Track) else "Directory"

    def account_attrs(self, account: AccountState, obj: Item, *, detail: bool = False) -> dict[str, AttrValue]:
        attrs = overlay(self.state, account, obj.id)
        if detail and isinstance(obj, Album):
            attrs["viewedLeafCount"] = self.state.viewed_leaf_count(account, obj.id)
        return attrs

    def node(
        self,
        obj: Item,
        account: AccountState,
        *,
        style: ListStyle = ListStyle(),
        detail: bool = False,
        extra: dict[str, AttrValue] | None = None,
    ) -> Node:
        """An item's full element for ``account``; ``extra`` attributes (``playlistItemID``, ``distance``) go last."""
        if detail:
            before, after, children = self._detail_parts(obj, style)
        else:
            before, after, children = self.parts(obj, style=style)
        own = trim_attrs(self.account_attrs(account, obj, detail=detail), style.exclude_fields)
        attrs = {**before, **own, **after, **(extra or {})}
        if detail and obj.id in account.locked_ratings:
            children.extend(trim_nodes([Node("Field", {"locked": True, "name": "userRating"})], style))
        return Node(self.tag_of(obj), attrs, children)

    def _detail_parts(
        self, obj: Item, style: ListStyle
    ) -> tuple[dict[str, AttrValue], dict[str, AttrValue], list[Node]]:
        """:meth:`parts` of the item's detail, from the cache; the list of children is the caller's to extend."""
        cache_key = (obj.id, style)
        found = self._detail_cache.get(cache_key)
        if found is None:
            before, after, children = self.parts(obj, style=style, detail=True)
            found = (before, after, tuple(children))
            with self._cache_lock:
                self._detail_cache[cache_key] = found
        return found[0], found[1], list(found[2])

    def fragment(self, obj: Item, style: ListStyle, *, json_form: bool) -> Fragment:
        """The cached catalogue rendering of a list item (no per-account attributes)."""
        cache_key = (obj.id, style, json_form)
        found = self._cache.get(cache_key)
        if found is None:
            before, after, children = self.parts(obj, style=style)
            if json_form:
                found = split_json(before, after, children)
            else:
                found = split_xml(self.tag_of(obj), before, after, children)
            with self._cache_lock:
                self._cache[cache_key] = found
        return found

    # --- playlists --------------------------------------------------------------------------------------------

    def playlist_node(self, playlist: PlaylistState, account: AccountState, *, content: str | None = None) -> Node:
        tracks = self.playlist_items(playlist, account)
        play = account.plays.get(playlist.id)
        attrs: dict[str, AttrValue] = {
            "ratingKey": str(playlist.id),
            "key": f"/playlists/{playlist.id}/items",
            "guid": playlist.guid,
            "type": "playlist",
            "title": playlist.title,
            "summary": playlist.summary,
            "smart": playlist.smart,
            "playlistType": "audio",
            "composite": f"/playlists/{playlist.id}/composite/{playlist.updated_at}",
            "content": content,
            "icon": "playlist://image.smart" if playlist.smart else None,
            "viewCount": play.view_count if play is not None and play.view_count else None,
            "lastViewedAt": play.last_viewed_at if play is not None else None,
            "duration": sum(t.duration for _, t in tracks) if tracks else None,
            "leafCount": len(tracks),
            "addedAt": playlist.added_at,
            "updatedAt": playlist.updated_at,
        }
        return Node("Playlist", attrs)

    def playlist_items(self, playlist: PlaylistState, account: AccountState) -> list[tuple[int | None, Track]]:
        """The playlist's tracks with their ``playlistItemID`` (None for smart playlists, which have none)."""
        if not playlist.smart:
            return [(item_id, track) for item_id, track in self.state.playlist_tracks(playlist)]
        return [(None, track) for track in evaluate_smart(self.state, account, playlist)]

    # --- history ----------------------------------------------------------------------------------------------

    def _history_track_attrs(self, track_id: int) -> dict[str, AttrValue]:
        """The attributes of a history row that come from its track (all but the row's own four)."""
        track = self.state.tracks[track_id]
        album = self.state.albums[track.album]
        artist = self.state.artists[album.artist]
        return {
            "key": f"/library/metadata/{track.id}",
            "ratingKey": str(track.id),
            "librarySectionID": str(self.state.section.id),
            "parentKey": f"/library/metadata/{album.id}",
            "grandparentKey": f"/library/metadata/{artist.id}",
            "title": track.title,
            "parentTitle": album.title,
            "grandparentTitle": artist.title,
            "type": "track",
            "thumb": self.thumb(album),
            "parentThumb": self.thumb(album),
            "grandparentThumb": self.thumb(artist),
            "index": track.index,
            "parentIndex": track.disc,
            "originallyAvailableAt": album.originally_available_at,
        }

    def history_node(self, row: HistoryRow, exclude: frozenset[str] = frozenset()) -> Node:
        """A history row's element; ``exclude`` names attributes left off (the request's ``excludeFields``)."""
        attrs: dict[str, AttrValue] = {
            "historyKey": f"/status/sessions/history/{row.id}",
            **self._history_track_attrs(row.key),
            "viewedAt": row.viewed_at,
            "accountID": row.account_id,
            "deviceID": row.device_id,
        }
        return Node("Track", {name: value for name, value in attrs.items() if name not in exclude})

    def _history_middle(self, track_id: int, json_form: bool, exclude: frozenset[str]) -> bytes:
        attrs = self._history_track_attrs(track_id)
        if exclude:
            attrs = {name: value for name, value in attrs.items() if name not in exclude}
        return (json_attrs(attrs) if json_form else xml_attrs(attrs)).encode("utf-8")

    def history_fragments(
        self, rows: Sequence[HistoryRow], *, json_form: bool, exclude: frozenset[str] = frozenset()
    ) -> list[bytes]:
        """:meth:`history_node` of each row rendered, byte for byte, from a cached rendering of its track attributes.

        A full history is hundreds of thousands of rows over a read-only catalogue, so the track's part is rendered
        once per track, form and set of excluded fields; the row's own attributes are integers, which need no
        escaping.
        """
        with self._cache_lock:
            middles = self._history_cache.setdefault((json_form, exclude), {})
        for key in {row.key for row in rows}.difference(middles):
            middles[key] = self._history_middle(key, json_form, exclude)
        if exclude.isdisjoint(_HISTORY_OWN):
            # One bytes formatting per row: half the cost of formatting text and encoding it, over 300,000 rows.
            template = _HISTORY_JSON if json_form else _HISTORY_XML
            return [template % (row.id, middles[row.key], row.viewed_at, row.account_id, row.device_id) for row in rows]
        head, tail, values = self._history_templates(json_form, exclude)
        out: list[bytes] = []
        for row in rows:
            own = (row.id, row.viewed_at, row.account_id, row.device_id)
            body = head % tuple(own[i] for i in values[0]) + middles[row.key] + tail % tuple(own[i] for i in values[1])
            # Every member starts with its separator; the first one's is the element's opening instead.
            out.append(b"{" + body[1:] + b"}" if json_form else b"<Track" + body + b" />")
        return out

    def _history_templates(
        self, json_form: bool, exclude: frozenset[str]
    ) -> tuple[bytes, bytes, tuple[tuple[int, ...], tuple[int, ...]]]:
        """The row's own attributes before and after the track's, as ``%d`` templates, and which values fill them."""
        found = self._history_template_cache.get((json_form, exclude))
        if found is None:
            own = [(name, i) for i, name in enumerate(_HISTORY_OWN) if name not in exclude]
            parts: list[list[str]] = [[], []]
            values: list[list[int]] = [[], []]
            for name, i in own:
                side = 0 if name == "historyKey" else 1
                number = "/status/sessions/history/%d" if name == "historyKey" else "%d"
                quoted = f'"{number}"' if name == "historyKey" else number
                parts[side].append(f',"{name}":{quoted}' if json_form else f' {name}="{number}"')
                values[side].append(i)
            found = (
                "".join(parts[0]).encode(),
                "".join(parts[1]).encode(),
                (tuple(values[0]), tuple(values[1])),
            )
            self._history_template_cache[(json_form, exclude)] = found
        return found
