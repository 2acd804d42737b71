"""A neutral element tree that renders to both of Plex's wire forms.

Every response body is built once as :class:`Node` trees and rendered by :mod:`plexsim.render` either as XML
(``<MediaContainer ...><Track .../></MediaContainer>``) or as Plex's JSON form (``{"MediaContainer": {...,
"Metadata": [...]}}``). Keeping one tree guarantees the two forms carry the same data.
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: Attribute values as they go on the wire. ``None`` means "omit the attribute", as Plex omits unset fields.
AttrValue = str | int | float | bool | None

__all__ = ["AttrValue", "Node"]


@dataclass(slots=True)
class Node:
    """One XML element: a tag, ordered attributes and child elements."""

    tag: str
    attrs: dict[str, AttrValue] = field(default_factory=dict)
    children: list[Node] = field(default_factory=list)

    def add(self, child: Node) -> Node:
        self.children.append(child)
        return child
