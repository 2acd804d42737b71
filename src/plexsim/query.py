"""Plex's library search language: parse filter, sort and limit parameters, run them, and describe them in ``<Meta>``.

The language (``/library/sections/{id}/all?type=10&track.userRating%3E%3E=6&sort=...``) is transcribed from Plex's
media-query description (``openapi/description.md`` "Media Queries", ``plex-docs-legacy/Library_Media_Queries.md``),
the ``<Meta>`` capture of a real server (``home-assistant/library_sections_music_all_includeMeta__GET.xml``) and what
python-plexapi sends (``plexapi/library.py``, the wire log). Entry points:

* :func:`parse_search` turns the decoded query pairs of a request into a :class:`SearchQuery` (or raises
  :class:`QueryError`, which the server answers with HTTP 400);
* :func:`run_search` filters, sorts and limits items, asking the caller's ``resolve(item, "track.userRating")`` for
  field values (for the requesting account);
* :func:`meta_document` is the ``<Meta>`` element of ``includeMeta=1``;
* :func:`parse_smart_uri` / :func:`smart_content` translate a smart playlist's ``uri`` and ``content``.

Qualified names passed to ``resolve`` (the value for the item's level or, for ``artist.*``/``album.*`` on lower
items, its album artist / album)::

    artist.{id,title,titleSort,userRating,viewCount,lastViewedAt,lastRatedAt,addedAt,updatedAt,genre,style,mood,country}
    album.{id,title,titleSort,year,decade,originallyAvailableAt,studio,userRating,viewCount,lastViewedAt,lastRatedAt,
           addedAt,updatedAt,genre,style,mood,index}
    track.{id,title,titleSort,originalTitle,index,absoluteIndex,parentIndex,duration,userRating,viewCount,skipCount,
           lastViewedAt,lastRatedAt,lastSkippedAt,addedAt,updatedAt,ratingCount,mediaSize,mediaBitrate,mood,genre}

``artist.lastRatedAt`` and ``album.lastRatedAt`` go beyond the first list agreed with the server: plexapi advertises
``lastRatedAt`` for every level (``FilteringType._manualFields``). Tag fields return ``list[tuple[int, str]]``
(tag id, tag text), unset numbers and dates ``None``, strings ``str``, ``originallyAvailableAt`` ``"YYYY-MM-DD"``.
Fields that the real server advertises but plexsim holds no data for (collections, labels, sources, formats, critic
rating, ``unmatched``, ``trash``, ``viewOffset``) are answered here as empty/unset without calling ``resolve``.

Semantics where Plex's documents are silent: inferred from how the SQLite queries of a real server behave, not
verified against one:

* An unset value never satisfies a positive operator (``=``, ``==``, ``<=``, ``>=``, ``>>=``, ``<<=``), so
  ``userRating<<=4`` skips unrated items; the negated operators (``!=``, ``!==``) are exact complements and do match
  unset values. Play and skip counts treat unset as 0 (plexapi reads a missing ``viewCount`` as 0), so
  ``viewCount=0`` finds unplayed items.
* Strings compare case-insensitively (``str.casefold``) and accent-sensitively; sorting uses an accent-folded,
  case-folded key so "Émilie" sorts among the E's.
* A tag value that is a number is a tag id (what plexapi sends after looking it up in ``/library/sections/N/genre``);
  any other value matches the tag text case-insensitively.
* ``>>=``/``<<=`` are strict; integer and date ``<=``/``>=`` are inclusive. Relative dates: ``-N``/``+N`` seconds, or
  with a unit ``s m h d w mon y`` (``mon`` = 30 days, ``y`` = 365 days). ``YYYY-MM-DD`` is midnight UTC; with ``=``
  or ``!=`` it means the whole day.
* Sorting: nulls first ascending and last descending (SQLite's order); ``:nullsLast`` forces them last. Ties keep the
  input order, which the caller supplies in the section's default order. ``random`` is a seeded shuffle.
* Operators may come percent-encoded (plexapi: ``track.title%3D=x``) or raw (``title==x``); a value that starts
  with ``=`` is therefore read as the rest of a raw operator, as plexapi's smart-filter parser reads it.
* AND (``&``, ``and=1``) binds tighter than OR (``,``, ``or=1``); ``push=1``/``pop=1`` are parentheses.
* Filters may name the searched level or its ancestors (a track search may use ``album.*`` and ``artist.*``);
  on track searches ``year``/``parentYear``/``decade`` mean the album's, as Plex shows ``parentYear`` on tracks.
"""

from __future__ import annotations

import calendar
import datetime as dt
import random
import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, TypeVar
from urllib.parse import quote, unquote, unquote_plus
from xml.etree import ElementTree

from plexsim.nodes import AttrValue, Node

__all__ = [
    "AllOf",
    "AnyOf",
    "Condition",
    "Expr",
    "FieldRef",
    "QueryError",
    "SearchQuery",
    "SortKey",
    "mentions_relative_date",
    "meta_document",
    "parse_search",
    "parse_smart_uri",
    "run_search",
    "smart_content",
]

T = TypeVar("T")

_LEVEL_OF_TYPE = {"8": "artist", "9": "album", "10": "track"}


class QueryError(ValueError):
    """A search parameter is malformed or unknown; the message names it (the server answers HTTP 400)."""


# --- fields ------------------------------------------------------------------------------------------------------

#: How a field's value is obtained: from ``resolve``, from ``resolve`` with unset meaning 0 (play/skip counts), from
#: ``resolve`` as ``YYYY-MM-DD`` (converted to epoch seconds), or a constant (data plexsim does not model).
_RESOLVE, _COUNT, _DAY, _CONST = "resolve", "count", "day", "const"

_FIELDS: dict[str, dict[str, tuple[str, str]]] = {
    "artist": {
        "id": ("integer", _RESOLVE),
        "title": ("string", _RESOLVE),
        "titleSort": ("string", _RESOLVE),
        "userRating": ("integer", _RESOLVE),
        "viewCount": ("integer", _COUNT),
        "lastViewedAt": ("date", _RESOLVE),
        "lastRatedAt": ("date", _RESOLVE),
        "addedAt": ("date", _RESOLVE),
        "updatedAt": ("date", _RESOLVE),
        "genre": ("tag", _RESOLVE),
        "style": ("tag", _RESOLVE),
        "mood": ("tag", _RESOLVE),
        "country": ("tag", _RESOLVE),
        "collection": ("tag", _CONST),
        "label": ("tag", _CONST),
        "unmatched": ("boolean", _CONST),
        "index": ("integer", _CONST),
    },
    "album": {
        "id": ("integer", _RESOLVE),
        "title": ("string", _RESOLVE),
        "titleSort": ("string", _RESOLVE),
        "year": ("integer", _RESOLVE),
        "decade": ("integer", _RESOLVE),
        "originallyAvailableAt": ("date", _DAY),
        "studio": ("string", _RESOLVE),
        "userRating": ("integer", _RESOLVE),
        "rating": ("integer", _CONST),
        "viewCount": ("integer", _COUNT),
        "lastViewedAt": ("date", _RESOLVE),
        "lastRatedAt": ("date", _RESOLVE),
        "addedAt": ("date", _RESOLVE),
        "updatedAt": ("date", _RESOLVE),
        "genre": ("tag", _RESOLVE),
        "style": ("tag", _RESOLVE),
        "mood": ("tag", _RESOLVE),
        "index": ("integer", _RESOLVE),
        "format": ("tag", _CONST),
        "subformat": ("tag", _CONST),
        "collection": ("tag", _CONST),
        "source": ("tag", _CONST),
        "label": ("tag", _CONST),
        "unmatched": ("boolean", _CONST),
    },
    "track": {
        "id": ("integer", _RESOLVE),
        "title": ("string", _RESOLVE),
        "titleSort": ("string", _RESOLVE),
        "originalTitle": ("string", _RESOLVE),
        "index": ("integer", _RESOLVE),
        "absoluteIndex": ("integer", _RESOLVE),
        "parentIndex": ("integer", _RESOLVE),
        "duration": ("integer", _RESOLVE),
        "userRating": ("integer", _RESOLVE),
        "viewCount": ("integer", _COUNT),
        "skipCount": ("integer", _COUNT),
        "lastViewedAt": ("date", _RESOLVE),
        "lastRatedAt": ("date", _RESOLVE),
        "lastSkippedAt": ("date", _RESOLVE),
        "addedAt": ("date", _RESOLVE),
        "updatedAt": ("date", _RESOLVE),
        "ratingCount": ("integer", _RESOLVE),
        "mediaSize": ("integer", _RESOLVE),
        "mediaBitrate": ("integer", _RESOLVE),
        "mood": ("tag", _RESOLVE),
        "genre": ("tag", _RESOLVE),
        "source": ("tag", _CONST),
        "label": ("tag", _CONST),
        "trash": ("boolean", _CONST),
        "viewOffset": ("integer", _CONST),
    },
}

#: Track-level names that mean the album's value: tracks carry ``parentYear``, not ``year`` (NOTES.md §1).
_TRACK_ALIASES = {"year": "year", "parentYear": "year", "decade": "decade"}

#: Sort-only names: ``random`` (Meta "Randomly") and ``tagline`` (a plexapi manual sort; music items have none).
_SORT_ONLY = {"random", "tagline"}

#: Which levels a search of each libtype may filter on: itself and its ancestors.
_VISIBLE_LEVELS = {"artist": ("artist",), "album": ("album", "artist"), "track": ("track", "album", "artist")}

#: Request parameters that are not part of the search (paging, response shaping, client identification).
_IGNORED = {
    "type",
    "checkFiles",
    "asyncCheckFiles",
    "asyncAugmentMetadata",
    "asyncRefreshAnalysis",
    "asyncRefreshLocalMediaAgent",
}


@dataclass(frozen=True, slots=True)
class FieldRef:
    """A resolved field: the qualified name given to ``resolve``, its Meta type and how its value is obtained."""

    name: str
    kind: str  # 'integer' | 'string' | 'tag' | 'date' | 'boolean'
    source: str = _RESOLVE


@dataclass(frozen=True, slots=True)
class Condition:
    """One filter: ``field op value[,value...]``; ``op`` is the full operator with its ``=`` (e.g. ``'>>='``).

    ``values`` are parsed: numbers for integers, epoch ranges ``(start, end)`` for dates, folded text for strings,
    ``(tag id or None, folded text)`` for tags, ``bool`` for booleans.
    """

    field: FieldRef
    op: str
    values: tuple[object, ...]


@dataclass(frozen=True, slots=True)
class AllOf:
    """Every term must match (``&`` / ``and=1``); no terms matches everything."""

    terms: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class AnyOf:
    """At least one term must match (``or=1``)."""

    terms: tuple[Expr, ...]


Expr = Condition | AllOf | AnyOf


@dataclass(frozen=True, slots=True)
class SortKey:
    """One ``sort=`` component: a field (or ``random``), its direction and null placement."""

    field: FieldRef
    desc: bool = False
    nulls_last: bool = False


@dataclass(frozen=True)
class SearchQuery:
    """A parsed library search: what to filter, how to sort and how many to return."""

    libtype: str
    limit: int | None
    where: Expr = AllOf(())
    sorts: tuple[SortKey, ...] = ()
    #: ``group=field``: keep only the first item (in sorted order) of each distinct value, like SQL ``GROUP BY``.
    group: FieldRef | None = None


# --- parsing -----------------------------------------------------------------------------------------------------

_KEY_RE = re.compile(r"(?:([A-Za-z]+)\.)?([A-Za-z][A-Za-z0-9]*)([!<>=]*)")
_OPERATORS = {"": "=", "!": "!=", "=": "==", "!=": "!==", "<": "<=", ">": ">=", "<<": "<<=", ">>": ">>="}
_OPS_BY_KIND = {
    "integer": {"=", "!=", ">>=", "<<=", "<=", ">="},
    "date": {"=", "!=", ">>=", "<<=", "<=", ">="},
    "string": {"=", "!=", "==", "!==", "<=", ">="},
    "tag": {"=", "!="},
    "boolean": {"=", "!="},
}
_NUMBER_RE = re.compile(r"[+-]?\d+(?:\.\d+)?")
_RELATIVE_RE = re.compile(r"([+-])(\d+)(s|m|h|d|w|mon|y)?")
_DAY_RE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_UNIT_SECONDS = {None: 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "mon": 30 * 86400, "y": 365 * 86400}


def _is_ignored(key: str) -> bool:
    lower = key.lower()
    return key in _IGNORED or lower.startswith(("x-plex-", "include", "exclude"))


def _field(level: str | None, name: str, *, libtype: str, default_level: str, what: str) -> FieldRef:
    """Resolve a possibly qualified field name for a search of ``libtype``; QueryError names ``what``."""
    level = level or default_level
    if level not in _FIELDS:
        raise QueryError(f"{what}: unknown field level {level!r}")
    if level not in _VISIBLE_LEVELS[libtype]:
        raise QueryError(f"{what}: {level} fields cannot be used when searching {libtype}s")
    if level == "track" and name in _TRACK_ALIASES:
        level, name = "album", _TRACK_ALIASES[name]
    spec = _FIELDS[level].get(name)
    if spec is None:
        raise QueryError(f"{what}: unknown field {level}.{name}")
    return FieldRef(f"{level}.{name}", spec[0], spec[1])


def _parse_number(raw: str, what: str) -> int | float:
    if not _NUMBER_RE.fullmatch(raw):
        raise QueryError(f"{what}: {raw!r} is not a number")
    return float(raw) if "." in raw else int(raw)


def _day_start(raw: str) -> int | None:
    match = _DAY_RE.fullmatch(raw)
    if match is None:
        return None
    try:
        day = dt.date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        return None
    return calendar.timegm(day.timetuple())


def mentions_relative_date(params: Sequence[tuple[str, str]]) -> bool:
    """Whether any value may be a relative date (``-7d``), whose meaning moves with the clock."""
    return any(_RELATIVE_RE.fullmatch(value) for _, value in params)


def _parse_date(raw: str, now: int, what: str) -> tuple[int, int]:
    """Parse a date value into the half-open epoch range it denotes (one second, or one day for ``YYYY-MM-DD``)."""
    if raw.isdigit():
        return int(raw), int(raw) + 1
    match = _RELATIVE_RE.fullmatch(raw)
    if match is not None:
        offset = int(match[2]) * _UNIT_SECONDS[match[3]]
        moment = now - offset if match[1] == "-" else now + offset
        return moment, moment + 1
    start = _day_start(raw)
    if start is None:
        raise QueryError(f"{what}: {raw!r} is not a date (epoch seconds, YYYY-MM-DD or a relative date like -30d)")
    return start, start + 86400


def _fold(text: str) -> str:
    return text.casefold()


def _parse_value(field: FieldRef, raw: str, now: int, what: str) -> object:
    if field.kind == "integer":
        return _parse_number(raw, what)
    if field.kind == "date":
        return _parse_date(raw, now, what)
    if field.kind == "string":
        return _fold(raw)
    if field.kind == "tag":
        # plexapi sends the tag id it found in /library/sections/N/{genre,...}, or the text when it found none.
        return (int(raw) if raw.isdigit() else None, _fold(raw))
    if raw not in {"0", "1"}:
        raise QueryError(f"{what}: boolean value must be 0 or 1, not {raw!r}")
    return raw == "1"


def _parse_condition(key: str, value: str, *, libtype: str, default_level: str, now: int) -> Condition:
    match = _KEY_RE.fullmatch(key)
    if match is None:
        raise QueryError(f"unknown search parameter {key!r}")
    level, name, suffix = match.groups()
    if value.startswith("=") and suffix in {"", "!"}:
        # A raw operator ("title==24", description.md) splits at its first '=': the rest belongs to the operator.
        # plexapi percent-encodes the key side, so its "==" arrives as key "title=" and never takes this path.
        suffix, value = suffix + "=", value[1:]
    op = _OPERATORS.get(suffix)
    if op is None:
        raise QueryError(f"{key}: unknown operator {suffix + '='!r}")
    field = _field(level, name, libtype=libtype, default_level=default_level, what=key)
    if op not in _OPS_BY_KIND[field.kind]:
        raise QueryError(f"{key}: operator {op!r} does not apply to {field.kind} field {field.name}")
    # Plex reads a comma as OR between values (description.md "Boolean Operators").
    values = tuple(_parse_value(field, raw, now, key) for raw in value.split(","))
    return Condition(field, op, values)


def _combine(parts: list[Expr | str], where: str) -> Expr:
    """Fold one parenthesis level: terms joined by implicit/explicit AND and explicit OR, AND binding tighter."""
    alternatives: list[list[Expr]] = [[]]
    expect_term = True
    for part in parts:
        if isinstance(part, str):
            if expect_term:
                raise QueryError(f"{part}=1 {where} has no filter before it")
            if part == "or":
                alternatives.append([])
            expect_term = True
        else:
            alternatives[-1].append(part)
            expect_term = False
    if expect_term and parts:
        raise QueryError(f"{parts[-1]}=1 {where} has no filter after it")
    ands = [terms[0] if len(terms) == 1 else AllOf(tuple(terms)) for terms in alternatives]
    return ands[0] if len(ands) == 1 else AnyOf(tuple(ands))


def _parse_sorts(value: str, *, libtype: str, default_level: str) -> tuple[SortKey, ...]:
    sorts: list[SortKey] = []
    for part in value.split(","):
        name, *features = part.strip().split(":")
        desc = nulls_last = False
        for feature in features:
            if feature == "desc":
                desc = True
            elif feature == "nullsLast":
                nulls_last = True
            elif feature != "asc":
                raise QueryError(f"sort: unknown sort feature {feature!r} in {part!r}")
        match = _KEY_RE.fullmatch(name)
        if match is None or match[3]:
            raise QueryError(f"sort: malformed sort field {part!r}")
        if match[2] in _SORT_ONLY and match[1] in {None, libtype}:
            field = FieldRef(match[2], "sort", _CONST)
        else:
            field = _field(match[1], match[2], libtype=libtype, default_level=default_level, what="sort")
            if field.kind == "tag":
                raise QueryError(f"sort: cannot sort by tag field {field.name}")
        sorts.append(SortKey(field, desc, nulls_last))
    return tuple(sorts)


def parse_search(params: Sequence[tuple[str, str]], *, libtype: str, now: int) -> SearchQuery:
    """Parse all decoded query pairs of a request, in order, into a :class:`SearchQuery`.

    ``libtype`` is the searched level (from ``type=``); ``now`` (epoch seconds) anchors relative dates. Parameters
    that are not part of the search (``includeGuids``, ``X-Plex-*``, ``type``...) are skipped.
    """
    if libtype not in _FIELDS:
        raise QueryError(f"type: cannot search {libtype!r}")
    default_level = libtype
    for key, value in params:
        if key == "sourceType":
            # description.md "Field Scoping": sourceType moves the level unqualified fields refer to.
            level = _LEVEL_OF_TYPE.get(value)
            if level is None or level not in _VISIBLE_LEVELS[libtype]:
                raise QueryError(f"sourceType: {value!r} is not a level of a {libtype} search")
            default_level = level

    stack: list[list[Expr | str]] = [[]]
    sorts: tuple[SortKey, ...] = ()
    limit: int | None = None
    group: FieldRef | None = None
    for key, value in params:
        if key == "sourceType" or _is_ignored(key):
            continue
        if key == "sort":
            sorts = _parse_sorts(value, libtype=libtype, default_level=default_level)
        elif key == "limit":
            if not value.isdigit():
                raise QueryError(f"limit: {value!r} is not a non-negative integer")
            limit = int(value)
        elif key == "group":
            match = _KEY_RE.fullmatch(value)
            if match is None or match[3]:
                raise QueryError(f"group: malformed field {value!r}")
            group = _field(match[1], match[2], libtype=libtype, default_level=default_level, what="group")
            if group.kind == "tag":
                raise QueryError(f"group: cannot group by tag field {group.name}")
        elif key == "having":
            raise QueryError("having: raw SQL clauses are not supported by plexsim")
        elif key == "push":
            stack.append([])
        elif key == "pop":
            if len(stack) == 1:
                raise QueryError("pop=1 without a matching push=1")
            inner = stack.pop()
            stack[-1].append(_combine(inner, "inside push/pop"))
        elif key in {"or", "and"}:
            stack[-1].append(key)
        else:
            stack[-1].append(_parse_condition(key, value, libtype=libtype, default_level=default_level, now=now))
    if len(stack) != 1:
        raise QueryError("push=1 without a matching pop=1")
    where = _combine(stack[0], "at the top level")
    return SearchQuery(libtype=libtype, limit=limit, where=where, sorts=sorts, group=group)


# --- running -----------------------------------------------------------------------------------------------------

Predicate = Callable[[T], bool]


@lru_cache(maxsize=65536)
def _day_epoch(day: str) -> int | None:
    return _day_start(day)


def _getter(field: FieldRef, resolve: Callable[[T, str], object]) -> Callable[[T], object]:
    name = field.name
    if field.source == _CONST:
        constant: object = () if field.kind == "tag" else False if field.kind == "boolean" else None
        return lambda item: constant
    if field.source == _COUNT:

        def count(item: T) -> object:
            value = resolve(item, name)
            return 0 if value is None else value

        return count
    if field.source == _DAY:

        def day(item: T) -> object:
            value = resolve(item, name)
            return _day_epoch(value) if isinstance(value, str) else None

        return day
    return lambda item: resolve(item, name)


def _positive(cond: Condition, get: Callable[[T], object]) -> Predicate[T]:
    """The predicate of the non-negated form of ``cond`` (``!=`` -> ``=``, ``!==`` -> ``==``)."""
    op, values, kind = cond.op.removeprefix("!"), cond.values, cond.field.kind
    if kind == "tag":
        # A number is a tag id (what plexapi sends after looking the tag up); anything else is the tag's text.
        ids = {v[0] for v in values if isinstance(v, tuple) and v[0] is not None}
        texts = {v[1] for v in values if isinstance(v, tuple) and v[0] is None}

        def has_tag(item: T) -> bool:
            tags = get(item)
            if not isinstance(tags, (list, tuple)):
                return False
            # A plain loop: any() over a generator costs a frame per item, which shows at 100,000 items.
            for tag_id, text in tags:  # noqa: SIM110
                if tag_id in ids or (texts and text.casefold() in texts):
                    return True
            return False

        return has_tag
    if kind == "string":
        strings = tuple(v for v in values if isinstance(v, str))
        if op == "==":
            wanted = set(strings)
            return lambda item: (s := get(item)) is not None and str(s).casefold() in wanted
        if op == "<=":
            return lambda item: (s := get(item)) is not None and str(s).casefold().startswith(strings)
        if op == ">=":
            return lambda item: (s := get(item)) is not None and str(s).casefold().endswith(strings)
        if len(strings) == 1:
            (needle,) = strings
            return lambda item: (s := get(item)) is not None and needle in str(s).casefold()
        return lambda item: (s := get(item)) is not None and any(w in str(s).casefold() for w in strings)
    if kind == "boolean":
        flags = set(values)
        return lambda item: get(item) in flags
    if kind == "date":
        ranges = [v for v in values if isinstance(v, tuple)]
        if op == "=":
            return lambda item: (n := get(item)) is not None and any(lo <= n < hi for lo, hi in ranges)
        bounds = [lo for lo, _ in ranges]
    else:
        bounds = [v for v in values if isinstance(v, (int, float))]
        if op == "=":
            wanted_numbers = set(bounds)
            return lambda item: get(item) in wanted_numbers
    # An OR of comparisons against several bounds is one comparison against the loosest bound.
    if op == ">>=":
        low = min(bounds)
        return lambda item: (n := get(item)) is not None and n > low
    if op == ">=":
        low = min(bounds)
        return lambda item: (n := get(item)) is not None and n >= low
    high = max(bounds)
    if op == "<<=":
        return lambda item: (n := get(item)) is not None and n < high
    return lambda item: (n := get(item)) is not None and n <= high


def _compile(expr: Expr, resolve: Callable[[T, str], object]) -> Predicate[T]:
    if isinstance(expr, Condition):
        predicate = _positive(expr, _getter(expr.field, resolve))
        if expr.op.startswith("!"):
            return lambda item: not predicate(item)
        return predicate
    parts = [_compile(term, resolve) for term in expr.terms]
    if not parts:
        return lambda item: True
    # Chained two-term closures short-circuit without the per-item generator that all()/any() would need.
    combined = parts[0]
    for part in parts[1:]:
        combined = _both(combined, part) if isinstance(expr, AllOf) else _either(combined, part)
    return combined


def _both(first: Predicate[T], second: Predicate[T]) -> Predicate[T]:
    return lambda item: first(item) and second(item)


def _either(first: Predicate[T], second: Predicate[T]) -> Predicate[T]:
    return lambda item: first(item) or second(item)


#: The Unicode "Combining Diacritical Marks" blocks: accents left over after NFKD decomposition.
_DIACRITICS_RE = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")


def _collate(text: str) -> str:
    """Sort key for text: case- and accent-folded, so "Émilie" sorts with the E's."""
    if text.isascii():
        return text.lower()
    return _DIACRITICS_RE.sub("", unicodedata.normalize("NFKD", text)).casefold()


def _sort_values(key: SortKey, items: list[T], resolve: Callable[[T, str], object], rng: random.Random) -> list[Any]:
    """One comparable key per item; unset values rank below every value, or above with ``nullsLast``."""
    if key.field.name == "random":
        return [rng.random() for _ in items]
    get = _getter(key.field, resolve)
    values = [get(item) for item in items]
    if key.field.kind == "string":
        values = [None if value is None else _collate(str(value)) for value in values]
    if None not in values:
        return values
    # Rank 0 sorts first ascending and, the sort being reversed, last descending: SQLite's null order.
    null_key = (2,) if key.nulls_last and not key.desc else (0,)
    return [null_key if value is None else (1, value) for value in values]


def run_search(
    query: SearchQuery, items: Iterable[T], resolve: Callable[[T, str], object], *, seed: int = 0
) -> list[T]:
    """Filter, sort (stable) and limit ``items``; ``resolve(item, 'track.userRating')`` supplies field values.

    Items should come in the section's default order: ties in the sort, and searches without ``sort=``, keep it.
    ``seed`` makes ``sort=random`` deterministic.
    """
    where = query.where
    if isinstance(where, AllOf) and not where.terms:
        selected = list(items)
    else:
        predicate = _compile(where, resolve)
        selected = [item for item in items if predicate(item)]
    if query.sorts:
        rng = random.Random(seed)
        order = list(range(len(selected)))
        # Python's sort is stable (also with reverse=True), so sorting by the last key first gives a multi-key sort.
        for key in reversed(query.sorts):
            values = _sort_values(key, selected, resolve, rng)
            order.sort(key=values.__getitem__, reverse=key.desc)
        selected = [selected[i] for i in order]
    if query.group is not None:
        get = _getter(query.group, resolve)
        seen: set[object] = set()
        grouped: list[T] = []
        for item in selected:
            value = get(item)
            marker = _fold(value) if isinstance(value, str) else value
            if marker not in seen:
                seen.add(marker)
                grouped.append(item)
        selected = grouped
    if query.limit is not None:
        selected = selected[: query.limit]
    return selected


# --- the <Meta> document -----------------------------------------------------------------------------------------

#: Transcribed verbatim (elements, attribute names, values and order, including the duplicated ``album.decade``
#: Field) from a real server's music section: home-assistant/core tests/components/plex/fixtures/
#: library_music_metadata.xml, the answer to ``GET /library/sections/3/all?includeMeta=1&includeAdvanced=1``.
#: ``{sid}`` stands for the section id; only the line breaks between attributes are ours. plexapi adds ``id``,
#: ``index``, ``lastRatedAt``, ``updatedAt``, track ``duration``/``ratingCount`` and the ``id``/``index``/``updatedAt``/
#: ``absoluteIndex`` sorts itself (``FilteringType._manualFields``/``_manualSorts``) and maps ``genre``/``year``/
#: ``style`` on a track search to the album's Fields, so this document already lets every search of issue 2 pass
#: plexapi's client-side validation; nothing had to be added.
_META_XML = """\
<Meta>
  <Type key="/library/sections/{sid}/all?type=8" type="artist" title="Artists" active="1">
    <Filter filter="genre" filterType="string" key="/library/sections/{sid}/genre?type=8" title="Genre"
        type="filter"/>
    <Filter filter="mood" filterType="string" key="/library/sections/{sid}/mood?type=8" title="Mood"
        type="filter"/>
    <Filter filter="style" filterType="string" key="/library/sections/{sid}/style?type=8" title="Style"
        type="filter"/>
    <Filter filter="country" filterType="string" key="/library/sections/{sid}/country?type=8" title="Country"
        type="filter"/>
    <Filter filter="collection" filterType="string" key="/library/sections/{sid}/collection?type=8"
        title="Collection" type="filter"/>
    <Filter filter="unmatched" filterType="boolean" key="/library/sections/{sid}/unmatched" title="Unmatched"
        type="filter"/>
    <Sort active="1" activeDirection="asc" default="asc" defaultDirection="asc" descKey="titleSort:desc"
        firstCharacterKey="/library/sections/{sid}/firstCharacter" key="titleSort" title="Title"/>
    <Sort defaultDirection="desc" descKey="userRating:desc" key="userRating" title="Rating"/>
    <Sort defaultDirection="desc" descKey="addedAt:desc" key="addedAt" title="Date Added"/>
    <Sort defaultDirection="desc" descKey="lastViewedAt:desc" key="lastViewedAt" title="Date Played"/>
    <Sort defaultDirection="desc" descKey="viewCount:desc" key="viewCount" title="Plays"/>
    <Sort defaultDirection="desc" descKey="random:desc" key="random" title="Randomly"/>
    <Field key="artist.title" title="Artist Title" type="string"/>
    <Field key="artist.userRating" subType="rating" title="Artist Rating" type="integer"/>
    <Field key="artist.genre" title="Artist Genre" type="tag"/>
    <Field key="artist.collection" title="Artist Collection" type="tag"/>
    <Field key="artist.country" title="Artist Country" type="tag"/>
    <Field key="artist.mood" title="Artist Mood" type="tag"/>
    <Field key="artist.style" title="Artist Style" type="tag"/>
    <Field key="artist.addedAt" title="Date Artist Added" type="date"/>
    <Field key="artist.lastViewedAt" title="Artist Last Played" type="date"/>
    <Field key="artist.unmatched" title="Unmatched" type="boolean"/>
  </Type>
  <Type key="/library/sections/{sid}/all?type=9" type="album" title="Albums" active="0">
    <Filter filter="genre" filterType="string" key="/library/sections/{sid}/genre?type=9" title="Genre"
        type="filter"/>
    <Filter filter="mood" filterType="string" key="/library/sections/{sid}/mood?type=9" title="Mood"
        type="filter"/>
    <Filter filter="style" filterType="string" key="/library/sections/{sid}/style?type=9" title="Style"
        type="filter"/>
    <Filter filter="year" filterType="integer" key="/library/sections/{sid}/year?type=9" title="Year"
        type="filter"/>
    <Filter filter="decade" filterType="integer" key="/library/sections/{sid}/decade?type=9" title="Decade"
        type="filter"/>
    <Filter filter="studio" filterType="string" key="/library/sections/{sid}/studio?type=9" title="Record Label"
        type="filter"/>
    <Filter filter="format" filterType="string" key="/library/sections/{sid}/format?type=9" title="Format"
        type="filter"/>
    <Filter filter="subformat" filterType="string" key="/library/sections/{sid}/subformat?type=9" title="Type"
        type="filter"/>
    <Filter filter="collection" filterType="string" key="/library/sections/{sid}/collection?type=9"
        title="Collection" type="filter"/>
    <Filter filter="label" filterType="string" key="/library/sections/{sid}/label?type=9" title="Labels"
        type="filter"/>
    <Filter filter="source" filterType="string" key="/library/sections/{sid}/source?type=9" title="Source"
        type="filter"/>
    <Filter filter="unmatched" filterType="boolean" key="/library/sections/{sid}/unmatched" title="Unmatched"
        type="filter"/>
    <Sort defaultDirection="asc" descKey="titleSort:desc"
        firstCharacterKey="/library/sections/{sid}/firstCharacter?type=9" key="titleSort" title="Title"/>
    <Sort default="asc" defaultDirection="asc"
        descKey="artist.titleSort:desc,album.titleSort,album.index,album.id,album.originallyAvailableAt"
        firstCharacterKey="/library/sections/{sid}/firstCharacter?type=9"
        key="artist.titleSort,album.titleSort,album.index,album.id,album.originallyAvailableAt"
        title="Album Artist"/>
    <Sort defaultDirection="desc" descKey="year:desc" key="year" title="Year"/>
    <Sort defaultDirection="desc" descKey="originallyAvailableAt:desc" key="originallyAvailableAt"
        title="Release Date"/>
    <Sort defaultDirection="desc" descKey="rating:desc" key="rating" title="Critic Rating"/>
    <Sort defaultDirection="desc" descKey="userRating:desc" key="userRating" title="Rating"/>
    <Sort defaultDirection="desc" descKey="addedAt:desc" key="addedAt" title="Date Added"/>
    <Sort defaultDirection="desc" descKey="lastViewedAt:desc" key="lastViewedAt" title="Date Played"/>
    <Sort defaultDirection="desc" descKey="viewCount:desc" key="viewCount" title="Plays"/>
    <Sort defaultDirection="desc" descKey="random:desc" key="random" title="Randomly"/>
    <Field key="album.title" title="Album Title" type="string"/>
    <Field key="album.year" subType="year" title="Year" type="integer"/>
    <Field key="album.decade" subType="decade" title="Album Decade" type="integer"/>
    <Field key="album.genre" title="Album Genre" type="tag"/>
    <Field key="album.viewCount" title="Album Plays" type="integer"/>
    <Field key="album.lastViewedAt" title="Album Last Played" type="date"/>
    <Field key="album.userRating" subType="rating" title="Album Rating" type="integer"/>
    <Field key="album.rating" subType="rating" title="Album Critic Rating" type="integer"/>
    <Field key="album.decade" subType="decade" title="Album Decade" type="integer"/>
    <Field key="album.studio" title="Record Label" type="string"/>
    <Field key="album.mood" title="Album Mood" type="tag"/>
    <Field key="album.style" title="Album Style" type="tag"/>
    <Field key="album.format" title="Album Format" type="tag"/>
    <Field key="album.subformat" title="Album Type" type="tag"/>
    <Field key="album.collection" title="Album Collection" type="tag"/>
    <Field key="album.addedAt" title="Date Album Added" type="date"/>
    <Field key="album.originallyAvailableAt" title="Date Album Released" type="date"/>
    <Field key="album.unmatched" title="Unmatched" type="boolean"/>
    <Field key="album.source" title="Album Source" type="tag"/>
    <Field key="album.label" title="Label" type="tag"/>
  </Type>
  <Type key="/library/sections/{sid}/all?type=10" type="track" title="Tracks" active="0">
    <Filter filter="mood" filterType="string" key="/library/sections/{sid}/mood?type=10" title="Mood"
        type="filter"/>
    <Filter filter="userRating" filterType="string" key="/library/sections/{sid}/userRating?type=10"
        title="Rating" type="filter"/>
    <Filter filter="source" filterType="string" key="/library/sections/{sid}/source?type=10" title="Source"
        type="filter"/>
    <Sort defaultDirection="asc" descKey="titleSort:desc"
        firstCharacterKey="/library/sections/{sid}/firstCharacter?type=10" key="titleSort" title="Title"/>
    <Sort default="asc" defaultDirection="asc"
  descKey="artist.titleSort:desc,album.titleSort,album.year,track.absoluteIndex,track.index,track.titleSort,track.id"
        firstCharacterKey="/library/sections/{sid}/firstCharacter?type=10"
        key="artist.titleSort,album.titleSort,album.year,track.absoluteIndex,track.index,track.titleSort,track.id"
        title="Album Artist"/>
    <Sort defaultDirection="desc" descKey="originalTitle:desc" key="originalTitle" title="Artist"/>
    <Sort defaultDirection="asc" descKey="album.titleSort:desc" key="album.titleSort" title="Album"/>
    <Sort defaultDirection="desc" descKey="userRating:desc" key="userRating" title="Rating"/>
    <Sort defaultDirection="desc" descKey="duration:desc" key="duration" title="Duration"/>
    <Sort defaultDirection="desc" descKey="viewCount:desc" key="viewCount" title="Plays"/>
    <Sort defaultDirection="desc" descKey="addedAt:desc" key="addedAt" title="Date Added"/>
    <Sort defaultDirection="desc" descKey="lastViewedAt:desc" key="lastViewedAt" title="Date Played"/>
    <Sort defaultDirection="desc" descKey="lastRatedAt:desc" key="lastRatedAt" title="Date Rated"/>
    <Sort defaultDirection="desc" descKey="random:desc" key="random" title="Randomly"/>
    <Sort defaultDirection="desc" descKey="ratingCount:desc" key="ratingCount" title="Popularity"/>
    <Sort defaultDirection="desc" descKey="mediaBitrate:desc" key="mediaBitrate" title="Bitrate"/>
    <Field key="track.mood" title="Track Mood" type="tag"/>
    <Field key="track.title" title="Track Title" type="string"/>
    <Field key="track.viewCount" title="Track Plays" type="integer"/>
    <Field key="track.lastViewedAt" title="Track Last Played" type="date"/>
    <Field key="track.skipCount" title="Track Skips" type="integer"/>
    <Field key="track.lastSkippedAt" title="Track Last Skipped" type="date"/>
    <Field key="track.userRating" subType="rating" title="Track Rating" type="integer"/>
    <Field key="track.lastRatedAt" title="Track Last Rated" type="date"/>
    <Field key="track.addedAt" title="Track Added At" type="date"/>
    <Field key="track.mediaSize" subType="fileSize" title="File Size" type="integer"/>
    <Field key="track.mediaBitrate" subType="bitrate" title="Bitrate" type="integer"/>
    <Field key="track.trash" title="Trash" type="boolean"/>
    <Field key="track.source" title="Track Source" type="tag"/>
  </Type>
  <Type key="/library/sections/{sid}/folder" type="folder" title="Folders" active="0"/>
  <FieldType type="tag">
    <Operator key="=" title="is"/>
    <Operator key="!=" title="is not"/>
  </FieldType>
  <FieldType type="integer">
    <Operator key="=" title="is"/>
    <Operator key="!=" title="is not"/>
    <Operator key="&gt;&gt;=" title="is greater than"/>
    <Operator key="&lt;&lt;=" title="is less than"/>
  </FieldType>
  <FieldType type="string">
    <Operator key="=" title="contains"/>
    <Operator key="!=" title="does not contain"/>
    <Operator key="==" title="is"/>
    <Operator key="!==" title="is not"/>
    <Operator key="&lt;=" title="begins with"/>
    <Operator key="&gt;=" title="ends with"/>
  </FieldType>
  <FieldType type="boolean">
    <Operator key="=" title="is true"/>
    <Operator key="!=" title="is false"/>
  </FieldType>
  <FieldType type="date">
    <Operator key="&lt;&lt;=" title="is before"/>
    <Operator key="&gt;&gt;=" title="is after"/>
  </FieldType>
  <FieldType type="subtitleLanguage">
    <Operator key="=" title="is"/>
    <Operator key="!=" title="is not"/>
  </FieldType>
  <FieldType type="audioLanguage">
    <Operator key="=" title="is"/>
    <Operator key="!=" title="is not"/>
  </FieldType>
  <FieldType type="resolution">
    <Operator key="=" title="is"/>
  </FieldType>
</Meta>
"""


@lru_cache(maxsize=1)
def _meta_template() -> tuple[
    tuple[str, tuple[tuple[str, str], ...], tuple[tuple[str, tuple[tuple[str, str], ...]], ...]], ...
]:
    # A constant of this module, not untrusted input.
    root = ElementTree.fromstring(_META_XML)  # noqa: S314
    return tuple(
        (top.tag, tuple(top.attrib.items()), tuple((child.tag, tuple(child.attrib.items())) for child in top))
        for top in root
    )


def _with_section(attrs: tuple[tuple[str, str], ...], section_id: int) -> dict[str, AttrValue]:
    return {name: value.replace("{sid}", str(section_id)) for name, value in attrs}


def meta_document(section_id: int) -> Node:
    """Return the ``<Meta>`` element a music section's ``/all?includeMeta=1`` carries, keyed to ``section_id``."""
    meta = Node("Meta")
    for tag, attrs, children in _meta_template():
        parent = meta.add(Node(tag, _with_section(attrs, section_id)))
        for child_tag, child_attrs in children:
            parent.add(Node(child_tag, _with_section(child_attrs, section_id)))
    return meta


# --- smart playlists ---------------------------------------------------------------------------------------------

_SECTION_PATH_RE = re.compile(r"/library/sections/(\d+)/all(?:\?|$)")


def parse_smart_uri(uri: str) -> tuple[int, list[tuple[str, str]]]:
    """Split a smart playlist ``uri`` into (section id, ordered decoded query pairs) ready for :func:`parse_search`.

    Accepts what plexapi sends (``server://MID/com.plexapp.plugins.library/library/sections/3/all?type=10&track.
    userRating%3E%3E=6``, operators percent-encoded once) and Plex's ``content`` form (``library://UUID/directory/
    %2Flibrary%2Fsections%2F3%2Fall%3F...``) in both its single-encoded (raw operators, Library_Playlists.md) and
    double-encoded variants.
    """
    text = uri
    for _ in range(3):
        match = _SECTION_PATH_RE.search(text)
        if match is not None:
            break
        text = unquote(text)
    else:
        raise QueryError(f"uri: {uri!r} does not name /library/sections/<id>/all")
    params: list[tuple[str, str]] = []
    query = text[match.end() :]
    for piece in query.split("&"):
        if not piece:
            continue
        raw_key, sep, raw_value = piece.partition("=")
        # In the single-encoded form operators are literal, so '==' splits into key 'k' and value '=v'; an '=' that
        # belongs to a value is always percent-encoded, which makes a literal leading '=' part of the operator
        # (plexapi's SmartFilterMixin._parseFilters reads it the same way).
        if raw_value.startswith("="):
            raw_key, raw_value = raw_key + "=", raw_value[1:]
        # The inner query is form-encoded (plexapi's urlencode writes spaces as '+').
        params.append((unquote_plus(raw_key), unquote_plus(raw_value) if sep else ""))
    return int(match[1]), params


def _content_quote(text: str) -> str:
    # Real PMS escapes '.' too and leaves '!' alone: "%2Flibrary%2Fsections%2F1224%2Fall%3Ftrack%2EaddedAt%3E%3D-12mon
    # %26album%2Egenre!%3DPodcast" (plex-docs-legacy/Library_Playlists.md).
    return quote(text, safe="!").replace(".", "%2E")


def smart_content(section_uuid: str, section_id: int, params: list[tuple[str, str]]) -> str:
    """Build a smart playlist's ``content`` attribute as real PMS does, from the pairs :func:`parse_smart_uri` gave.

    The inner query keeps operators literal and percent-encodes values, and the whole path is encoded once more
    (Library_Playlists.md), which plexapi's ``SmartFilterMixin._parseFilters`` reads back to the same filters.
    ``X-Plex-*`` pairs (tokens) are dropped.
    """
    inner = "&".join(f"{key}={quote(value, safe='')}" for key, value in params if not key.lower().startswith("x-plex-"))
    path = f"/library/sections/{section_id}/all?{inner}"
    return f"library://{section_uuid}/directory/{_content_quote(path)}"
