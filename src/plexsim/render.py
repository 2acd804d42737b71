"""Render :class:`~plexsim.nodes.Node` trees as Plex's two wire forms: XML and JSON.

XML is what python-plexapi parses: the declaration comes first with no leading whitespace (plexapi's parser rejects
anything before it), booleans are ``1``/``0``, and characters XML 1.0 cannot carry (C0 controls other than tab, line
feed and carriage return) are dropped, because a client cannot parse them even as character references.

JSON follows Plex's published API description: one ``MediaContainer`` object holding the container's attributes;
children grouped into arrays by kind — library items (tracks, artist/album directories, playlists) under
``Metadata``, other directories (sections, tag choices) under ``Directory``, hubs under ``Hub``, and nested elements
such as ``Media``/``Part``/``Genre`` under their tag name; ``Meta`` is a single object. Numbers stay numbers and
booleans become ``true``/``false``.

Library items are rendered once and kept as byte fragments (see :class:`Fragment`); the per-account attributes
(``userRating``, ``viewCount``...) are spliced in between a fragment's two halves, so one cached rendering serves
every account.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from json.encoder import encode_basestring as _encode_string

from plexsim.nodes import AttrValue, Node

__all__ = [
    "XML_DECLARATION",
    "Fragment",
    "json_attrs",
    "json_container",
    "json_key",
    "render_json",
    "render_xml",
    "split_json",
    "split_xml",
    "xml_attrs",
    "xml_container",
]

XML_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'

#: Tags whose elements are library items; in JSON they are listed under ``Metadata``.
_METADATA_TAGS = frozenset({"Track", "Playlist", "Video", "Photo", "Metadata"})
#: ``Directory`` elements with these types are library items too (artists and albums).
_METADATA_DIRECTORY_TYPES = frozenset({"artist", "album", "track", "collection"})
#: Elements that appear at most once under their parent and are objects, not arrays, in Plex's JSON.
_SINGULAR_TAGS = frozenset({"Meta", "MediaContainer"})

_XML_SPECIAL = re.compile(r'[&<>"\x00-\x1f\x7f]')
_XML_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_XML_ESCAPES = {
    "&": "&amp;",
    "<": "&lt;",
    ">": "&gt;",
    '"': "&quot;",
    # Attribute-value normalisation would turn these into spaces; references keep them.
    "\t": "&#9;",
    "\n": "&#10;",
    "\r": "&#13;",
    "\x7f": "&#127;",
}
_XML_ESCAPE_RE = re.compile("[" + re.escape("".join(_XML_ESCAPES)) + "]")


def _escape(text: str) -> str:
    if not _XML_SPECIAL.search(text):
        return text
    text = _XML_ILLEGAL.sub("", text)
    return _XML_ESCAPE_RE.sub(lambda m: _XML_ESCAPES[m.group()], text)


def xml_attrs(attrs: Mapping[str, AttrValue]) -> str:
    """Render attributes as `` name="value"`` pairs (each with a leading space), skipping ``None`` values."""
    # The hot path of every listing: dispatch on the exact type and escape only strings that need it.
    out = []
    special = _XML_SPECIAL.search
    for name, value in attrs.items():
        kind = type(value)
        if isinstance(value, str):
            text = value if special(value) is None else _escape(value)
        elif kind is int:
            text = str(value)
        elif kind is bool:
            text = "1" if value else "0"
        elif kind is float:
            text = repr(value)
        elif value is None:
            continue
        else:
            raise TypeError(f"attribute {name!r} has unsupported value {value!r}")
        out.append(f' {name}="{text}"')
    return "".join(out)


def _xml_element(node: Node, out: list[str]) -> None:
    out.append(f"<{node.tag}{xml_attrs(node.attrs)}")
    if node.children:
        out.append(">")
        for child in node.children:
            _xml_element(child, out)
        out.append(f"</{node.tag}>")
    else:
        out.append(" />")


def render_xml(root: Node) -> bytes:
    """Render a whole response document: the XML declaration, then ``root``."""
    out: list[str] = []
    _xml_element(root, out)
    return XML_DECLARATION + "".join(out).encode("utf-8")


_JSON_NAMES: dict[str, str] = {}


def _json_name(name: str) -> str:
    found = _JSON_NAMES.get(name)
    if found is None:
        found = _JSON_NAMES[name] = "," + json.dumps(name) + ":"
    return found


def json_attrs(attrs: Mapping[str, AttrValue]) -> str:
    """Render attributes as ``,"name":value`` members (each with a leading comma), skipping ``None`` values."""
    out = []
    for name, value in attrs.items():
        kind = type(value)
        if isinstance(value, str):
            text = _encode_string(value)
        elif kind is int:
            text = str(value)
        elif kind is bool:
            text = "true" if value else "false"
        elif kind is float:
            text = repr(value)
        elif value is None:
            continue
        else:
            raise TypeError(f"attribute {name!r} has unsupported value {value!r}")
        out.append(_json_name(name) + text)
    return "".join(out)


def json_key(child: Node) -> str:
    """The member name a child element is listed under in Plex's JSON form."""
    if child.tag in _METADATA_TAGS:
        return "Metadata"
    # Artists and albums are Directory elements too, but so are sections (type "artist"): items have a ratingKey.
    if child.tag == "Directory" and "ratingKey" in child.attrs and child.attrs.get("type") in _METADATA_DIRECTORY_TYPES:
        return "Metadata"
    return child.tag


def _json_children(children: Sequence[Node]) -> str:
    groups: dict[str, list[str]] = {}
    for child in children:
        groups.setdefault(json_key(child), []).append(_json_object(child))
    parts = []
    for key, members in groups.items():
        if key in _SINGULAR_TAGS:
            parts.append(f",{json.dumps(key)}:{members[0]}")
        else:
            parts.append(f",{json.dumps(key)}:[{','.join(members)}]")
    return "".join(parts)


def _json_object(node: Node) -> str:
    body = json_attrs(node.attrs) + _json_children(node.children)
    return "{" + body[1:] + "}" if body else "{}"


def render_json(root: Node) -> bytes:
    """Render a whole response document as ``{"<root tag>": {...}}``."""
    return ("{" + json.dumps(root.tag) + ":" + _json_object(root) + "}").encode("utf-8")


@dataclass(frozen=True, slots=True)
class Fragment:
    """One item pre-rendered in two halves; per-account attributes go between ``head`` and ``tail``.

    ``attrs_end`` is where the attributes end in ``tail`` (its children or the element's close follow), so
    attributes that must come last, such as a playlist entry's ``playlistItemID``, can be spliced there.
    """

    head: bytes
    tail: bytes
    attrs_end: int

    def with_last(self, middle: bytes, last: bytes) -> bytes:
        """The whole element with ``middle`` spliced after ``head`` and ``last`` after the cached attributes."""
        end = self.attrs_end
        return self.head + middle + self.tail[:end] + last + self.tail[end:]


def split_xml(
    tag: str, before: Mapping[str, AttrValue], after: Mapping[str, AttrValue], children: Sequence[Node]
) -> Fragment:
    """Pre-render an element whose attributes are ``before`` + (spliced later) + ``after``."""
    head = f"<{tag}{xml_attrs(before)}"
    attrs = xml_attrs(after)
    out: list[str] = [attrs]
    if children:
        out.append(">")
        for child in children:
            _xml_element(child, out)
        out.append(f"</{tag}>")
    else:
        out.append(" />")
    return Fragment(head.encode("utf-8"), "".join(out).encode("utf-8"), len(attrs.encode("utf-8")))


def split_json(before: Mapping[str, AttrValue], after: Mapping[str, AttrValue], children: Sequence[Node]) -> Fragment:
    """The JSON counterpart of :func:`split_xml`; ``before`` must not be empty (the splice starts with a comma)."""
    head = json_attrs(before)
    if not head:
        raise ValueError("split_json needs at least one attribute before the splice point")
    attrs = json_attrs(after).encode("utf-8")
    tail = attrs + (_json_children(children) + "}").encode("utf-8")
    return Fragment(("{" + head[1:]).encode("utf-8"), tail, len(attrs))


def xml_container(attrs: Mapping[str, AttrValue], items: Iterable[bytes], extra: Sequence[Node] = ()) -> bytes:
    """A ``MediaContainer`` document from pre-rendered item bytes (``extra`` nodes such as ``Meta`` go first)."""
    out: list[str] = []
    for node in extra:
        _xml_element(node, out)
    head = f"<MediaContainer{xml_attrs(attrs)}>{''.join(out)}".encode()
    return b"".join((XML_DECLARATION, head, *items, b"</MediaContainer>"))


def json_container(
    attrs: Mapping[str, AttrValue], items: Sequence[bytes], key: str = "Metadata", extra: Sequence[Node] = ()
) -> bytes:
    """A ``{"MediaContainer": ...}`` document from pre-rendered item bytes listed under ``key``."""
    body = json_attrs(attrs) + _json_children(extra)
    if not items:
        return ('{"MediaContainer":{' + body[1:] + "}}").encode("utf-8")
    prefix = '{"MediaContainer":{' + body[1:] + ("," if body else "") + json.dumps(key) + ":["
    return b"".join((prefix.encode("utf-8"), b",".join(items), b"]}}"))
