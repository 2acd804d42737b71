"""Field values of library items as one account sees them, for :mod:`plexsim.query`'s searches.

:func:`resolver` returns the ``resolve(item, "track.userRating")`` callable that :func:`plexsim.query.run_search`
asks for values: catalogue fields come from the library, per-account fields (ratings, plays) from the account's
overlay, so the same search answers differently for different tokens, as on a real server. :func:`search_section`
runs a section search in the section's default order; :func:`evaluate_smart` evaluates a smart playlist live.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence

from plexsim.library import Album, Artist, Track
from plexsim.query import (
    AllOf,
    Condition,
    Expr,
    mentions_relative_date,
    parse_search,
    parse_smart_uri,
    run_search,
)
from plexsim.state import AccountState, Item, PlaylistState, ServerState

__all__ = ["LIBTYPES", "evaluate_smart", "resolver", "search_section"]

#: Plex's metadata type numbers for the three music levels.
LIBTYPES = {8: "artist", 9: "album", 10: "track"}

Getter = Callable[[Item], object]


def resolver(state: ServerState, account: AccountState) -> Callable[[Item, str], object]:
    """Build ``resolve(item, qualified_field)`` for ``account`` (see :mod:`plexsim.query` for the field names)."""
    ratings = account.ratings
    plays = account.plays
    albums = state.albums
    artists = state.artists

    def album_of(obj: Item) -> Album | None:
        if isinstance(obj, Track):
            return albums[obj.album]
        return obj if isinstance(obj, Album) else None

    def artist_of(obj: Item) -> Artist:
        if isinstance(obj, Artist):
            return obj
        album = obj if isinstance(obj, Album) else albums[obj.album]
        return artists[album.artist]

    def rating(obj: Artist | Album | Track | None) -> float | None:
        found = None if obj is None else ratings.get(obj.id)
        return None if found is None else found.rating

    def rated_at(obj: Artist | Album | Track | None) -> int | None:
        found = None if obj is None else ratings.get(obj.id)
        return None if found is None else found.rated_at

    def view_count(obj: Artist | Album | Track | None) -> int | None:
        found = None if obj is None else plays.get(obj.id)
        return None if found is None else found.view_count

    def last_viewed(obj: Artist | Album | Track | None) -> int | None:
        found = None if obj is None else plays.get(obj.id)
        return None if found is None else found.last_viewed_at

    def skip_count(obj: Track) -> int | None:
        found = plays.get(obj.id)
        return None if found is None else found.skip_count

    def tags(kind: str, level: Callable[[Item], Artist | Album | Track | None]) -> Getter:
        def get(obj: Item) -> object:
            target = level(obj)
            return [] if target is None else state.tag_pairs(target, kind)

        return get

    def track_of(obj: Item) -> Track | None:
        return obj if isinstance(obj, Track) else None

    def on_track(fn: Callable[[Track], object]) -> Getter:
        def get(obj: Item) -> object:
            return fn(obj) if isinstance(obj, Track) else None

        return get

    def on_album(fn: Callable[[Album], object]) -> Getter:
        def get(obj: Item) -> object:
            album = album_of(obj)
            return None if album is None else fn(album)

        return get

    def on_artist(fn: Callable[[Artist], object]) -> Getter:
        def get(obj: Item) -> object:
            return fn(artist_of(obj))

        return get

    def decade(album: Album) -> int | None:
        return None if album.year is None else album.year // 10 * 10

    getters: dict[str, Getter] = {
        "artist.id": on_artist(lambda a: a.id),
        "artist.title": on_artist(lambda a: a.title),
        "artist.titleSort": on_artist(lambda a: a.sort_title or a.title),
        "artist.userRating": on_artist(rating),
        "artist.lastRatedAt": on_artist(rated_at),
        "artist.viewCount": on_artist(view_count),
        "artist.lastViewedAt": on_artist(last_viewed),
        "artist.addedAt": on_artist(lambda a: a.added_at),
        "artist.updatedAt": on_artist(lambda a: a.updated_at),
        "artist.genre": tags("genre", artist_of),
        "artist.style": tags("style", artist_of),
        "artist.mood": tags("mood", artist_of),
        "artist.country": tags("country", artist_of),
        "album.id": on_album(lambda a: a.id),
        "album.title": on_album(lambda a: a.title),
        "album.titleSort": on_album(lambda a: a.title),
        "album.year": on_album(lambda a: a.year),
        "album.decade": on_album(decade),
        "album.originallyAvailableAt": on_album(lambda a: a.originally_available_at),
        "album.studio": on_album(lambda a: a.studio),
        "album.userRating": on_album(rating),
        "album.lastRatedAt": on_album(rated_at),
        "album.viewCount": on_album(view_count),
        "album.lastViewedAt": on_album(last_viewed),
        "album.addedAt": on_album(lambda a: a.added_at),
        "album.updatedAt": on_album(lambda a: a.updated_at),
        "album.genre": tags("genre", album_of),
        "album.style": tags("style", album_of),
        "album.mood": tags("mood", album_of),
        "album.index": on_album(lambda a: 1),
        "track.id": on_track(lambda t: t.id),
        "track.title": on_track(lambda t: t.title),
        "track.titleSort": on_track(lambda t: t.title),
        "track.originalTitle": on_track(lambda t: t.original_title),
        "track.index": on_track(lambda t: t.index),
        "track.absoluteIndex": on_track(lambda t: state.absolute_index[t.id]),
        "track.parentIndex": on_track(lambda t: t.disc),
        "track.duration": on_track(lambda t: t.duration),
        "track.userRating": on_track(rating),
        "track.viewCount": on_track(view_count),
        "track.skipCount": on_track(skip_count),
        "track.lastViewedAt": on_track(last_viewed),
        "track.lastRatedAt": on_track(rated_at),
        "track.lastSkippedAt": on_track(lambda t: None),
        "track.addedAt": on_track(lambda t: t.added_at),
        "track.updatedAt": on_track(lambda t: t.updated_at),
        "track.ratingCount": on_track(lambda t: t.rating_count),
        "track.mediaSize": on_track(lambda t: t.size),
        "track.mediaBitrate": on_track(lambda t: t.bitrate),
        "track.mood": tags("mood", track_of),
        "track.genre": tags("genre", track_of),
    }

    def resolve(obj: Item, name: str) -> object:
        getter = getters.get(name)
        if getter is None:
            raise KeyError(f"plexsim has no field {name!r}")
        return getter(obj)

    return resolve


def _default_items(state: ServerState, libtype: str) -> Sequence[Item]:
    if libtype == "artist":
        return state.default_artists
    if libtype == "album":
        return state.default_albums
    return state.default_tracks


def search_section(
    state: ServerState,
    account: AccountState,
    params: Sequence[tuple[str, str]],
    *,
    libtype: str,
    items: Sequence[Item] | None = None,
) -> list[Item]:
    """Run a section search (filters, sort, limit from ``params``) over ``items`` or the whole level.

    Raises :class:`plexsim.query.QueryError` for malformed parameters.
    """
    query = parse_search(params, libtype=libtype, now=state.now())
    pool = _default_items(state, libtype) if items is None else items
    if items is None and libtype == "track":
        wanted = _candidates(state, account, query.where)
        if wanted is not None and len(wanted) < len(pool):
            # Same search over fewer items: the ones left out cannot match, so the answer is the same.
            pool = [t for t in pool if t.id in wanted]
    return run_search(query, pool, resolver(state, account), seed=state.version)


def _candidates(state: ServerState, account: AccountState, expr: Expr) -> set[int] | None:
    """Ids outside which ``expr`` matches no track, when an index answers that cheaply; ``None``: any track may.

    A track search filtered on the account's ratings or plays, or on recent ``updatedAt``, can only match tracks
    with a rating, a play or a recent update; real Plex answers these from indexed columns, plexsim by narrowing
    the tracks it evaluates. Supersets are fine (every candidate is still evaluated in full).
    """
    if isinstance(expr, Condition):
        return _condition_candidates(state, account, expr)
    known = [_candidates(state, account, term) for term in expr.terms]
    if isinstance(expr, AllOf):
        sets = sorted((k for k in known if k is not None), key=len)
        return set.intersection(*sets) if sets else None
    if not known or any(k is None for k in known):
        return None
    return set().union(*(k for k in known if k is not None))


def _lower_bound(cond: Condition) -> float | None:
    """The value every match is at least, for ``>>=`` / ``>=`` comparisons of numbers and dates."""
    if cond.op not in (">>=", ">=") or cond.field.kind not in ("integer", "date"):
        return None
    bounds = [v[0] if isinstance(v, tuple) else v for v in cond.values]
    numbers = [b for b in bounds if isinstance(b, (int, float))]
    return min(numbers) if numbers else None


def _condition_candidates(state: ServerState, account: AccountState, cond: Condition) -> set[int] | None:
    # Only plain (not negated) comparisons of fields resolved from the item: they never match a missing value.
    if cond.op.startswith("!") or cond.field.source != "resolve":
        return None
    name, low = cond.field.name, _lower_bound(cond)
    if name == "track.userRating":
        return {k for k, r in account.ratings.items() if low is None or r.rating >= low}
    if name == "track.lastRatedAt":
        return {k for k, r in account.ratings.items() if low is None or r.rated_at >= low}
    if name == "track.lastViewedAt":
        return {
            k
            for k, p in account.plays.items()
            if p.last_viewed_at is not None and (low is None or p.last_viewed_at >= low)
        }
    if name == "track.updatedAt" and low is not None:
        times, ids = state.track_update_index()
        return set(ids[bisect.bisect_left(times, low) :])
    return None


def evaluate_smart(state: ServerState, account: AccountState, playlist: PlaylistState) -> list[Track]:
    """A smart playlist's tracks right now, under its owner's ratings and plays."""
    query = playlist.query
    if query is None:
        return []
    _, pairs = parse_smart_uri(query)
    # Remembered until the state changes; rules with relative dates also change meaning every second.
    now = state.now() if mentions_relative_date(pairs) else None
    return state.memo(("smart", account.id, query, now), lambda: _evaluate(state, account, pairs))


def _evaluate(state: ServerState, account: AccountState, pairs: list[tuple[str, str]]) -> list[Track]:
    type_value = next((v for k, v in pairs if k == "type"), "10")
    libtype = LIBTYPES.get(int(type_value), "track") if type_value.isdigit() else "track"
    found = search_section(state, account, pairs, libtype=libtype)
    if libtype == "track":
        return [t for t in found if isinstance(t, Track)]
    # Smart playlists over albums or artists hold those items' tracks, as Plex expands containers into leaves.
    return [t for obj in found for t in state.leaves(obj)]
