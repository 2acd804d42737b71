"""The matching ladder: which indexed Plex track each source track is, or why it cannot be said safely.

Rungs, in order, each tried only for tracks the previous ones left: a **remembered** match (a rating key stored
after an earlier sync, by the source's id or its normalised location) → the **file path** (through path-prefix
mappings between the player's machine and the Plex server, suggested from the data when the user gives none) →
**strict metadata** (normalised title, artist and album agree, no version tag differs, duration within
:data:`DURATION_TOLERANCE_MS`, disc and track numbers do not contradict) → **fuzzy metadata** (string similarity
over candidates of the same artist or title, accepted only at :data:`FUZZY_ACCEPT` or above with a clear lead).

Nothing ambiguous is matched: equal best candidates (duplicates in Plex), a path whose track has another title and
artist, a near miss below the fuzzy threshold, and two source tracks landing on one Plex track all go to the review
list with a one-line reason. Pure: no I/O, the standard library only.
"""

from __future__ import annotations

import difflib
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple, Protocol

from plexm8.core.matching import Match, MatchMethod, MatchOutcome, PathMapping, ReviewItem
from plexm8.core.normalize import (
    TitleKey,
    artist_keys,
    file_name,
    fold,
    is_case_insensitive_path,
    normalize_path,
    path_key,
    title_key,
    title_stem,
)
from plexm8.core.sources import SourceTrack

__all__ = [
    "DURATION_TOLERANCE_MS",
    "FUZZY_ACCEPT",
    "FUZZY_REVIEW",
    "SUGGEST_AFTER",
    "CatalogTrack",
    "MatchCatalog",
    "MatchCatalogStore",
    "MatchRun",
    "match_tracks",
    "memory_key",
    "suggest_path_mappings",
]

#: Largest difference between the source's and Plex's duration for a metadata match (players and Plex measure the
#: same file a few hundred ms apart; a different recording of the same song rarely lands within 3 s).
DURATION_TOLERANCE_MS = 3_000
#: Tighter duration window for fuzzy matches, which have weaker text evidence.
FUZZY_DURATION_MS = 2_000
#: A fuzzy candidate is matched at this similarity or above, with :data:`FUZZY_LEAD` over the next one.
FUZZY_ACCEPT = 0.93
FUZZY_LEAD = 0.05
#: Below FUZZY_ACCEPT but at least this similar: sent to review, with the score.
FUZZY_REVIEW = 0.75
#: Least similarity of another title by the same artist, and of the artist, for a fuzzy candidate to count at all.
_LEAST_OTHER_TITLE = 0.7
_LEAST_ARTIST = 0.6
#: A title credited to at most this many artists is rare enough to look for a misspelt artist among them.
_FEW_ARTISTS = 12
#: A path-mapping suggestion needs this many source tracks agreeing on it.
MIN_MAPPING_VOTES = 2
_VARIOUS = "various artists"


class CatalogTrack(NamedTuple):
    """One indexed Plex track as matching reads it: metadata as Plex shows it, and its files' paths.

    A named tuple, not a dataclass: a catalog builds 100,000 of them per sync, and a tuple is built in C.
    """

    rating_key: int
    title: str
    #: The album artist (Plex's ``grandparentTitle``).
    artist: str | None
    #: The track artist when it differs from the album artist (Plex's ``originalTitle``).
    track_artist: str | None
    album: str | None
    disc_number: int | None
    track_number: int | None
    duration_ms: int | None
    paths: tuple[str, ...]


class MatchCatalog:
    """The Plex tracks of one library, with the lookups the ladder needs built on first use.

    Path lookups are built at once (every sync uses them); the title, artist and file-name indexes only when a
    rung needs them, so a library that matches by path never pays for normalising 100,000 titles.
    """

    def __init__(self, tracks: Iterable[CatalogTrack]) -> None:
        self.tracks: list[CatalogTrack] = list(tracks)
        self._by_key: dict[int, int] = {}
        self._paths: dict[str, list[int]] = {}
        for pos, track in enumerate(self.tracks):
            self._by_key[track.rating_key] = pos
            for raw in track.paths:
                self._paths.setdefault(normalize_path(raw), []).append(pos)
        self._folded_paths: dict[str, list[int]] | None = None
        self._names: dict[str, list[tuple[int, str]]] | None = None
        self._stems: dict[str, dict[str, list[int]]] | None = None
        self._title_stems: dict[str, str] = {}
        self._artists: dict[str, list[int]] | None = None

    def __len__(self) -> int:
        return len(self.tracks)

    def position(self, rating_key: int) -> int | None:
        """Where the track with this rating key is in :attr:`tracks`, or ``None`` when the library lacks it."""
        return self._by_key.get(rating_key)

    def by_path(self, path: str) -> list[int]:
        """Positions of the tracks with a file at exactly this normalised path."""
        return self._paths.get(path, [])

    def by_folded_path(self, folded: str) -> list[int]:
        """Positions of the tracks with a file at this path, compared case-folded."""
        folded_paths = self._folded_paths if self._folded_paths is not None else self._build_folded_paths()
        return folded_paths.get(folded, [])

    def by_file_name(self, name: str) -> list[tuple[int, str]]:
        """``(position, path)`` of every file whose case-folded last component is ``name`` (case-folded)."""
        names = self._names if self._names is not None else self._build_file_names()
        return names.get(name, [])

    def build_lookups(self) -> None:
        """Build every lookup now rather than on first use: while a source is read elsewhere, this time is free."""
        if self._folded_paths is None:
            self._build_folded_paths()
        if self._names is None:
            self._build_file_names()
        if self._stems is None:
            self._build_names()

    def _build_folded_paths(self) -> dict[str, list[int]]:
        folded_paths: dict[str, list[int]] = {}
        for path, positions in self._paths.items():
            key = path.casefold()  # path_key(), inlined: this runs once per file of the library
            entry = folded_paths.get(key)
            if entry is None:
                folded_paths[key] = list(positions)
            else:
                entry.extend(positions)
        self._folded_paths = folded_paths
        return folded_paths

    def _build_file_names(self) -> dict[str, list[tuple[int, str]]]:
        names: dict[str, list[tuple[int, str]]] = {}
        for path, positions in self._paths.items():
            key = path.rpartition("/")[2].casefold()
            entry = names.get(key)
            if entry is None:
                entry = names[key] = []
            for pos in positions:
                entry.append((pos, path))
        self._names = names
        return names

    def _build_names(self) -> None:
        stems: dict[str, dict[str, list[int]]] = {}
        artists: dict[str, list[int]] = {}
        stem_of: dict[str, str] = {}
        # Most tracks share their album's credits: their names are worked out once per distinct pair.
        names_of: dict[tuple[str | None, str | None], tuple[frozenset[str], tuple[str, ...]]] = {}
        for pos, track in enumerate(self.tracks):
            credits = (track.artist, track.track_artist)
            known = names_of.get(credits)
            if known is None:
                keys = [artist_keys(credit) for credit in credits if credit]
                weak = frozenset().union(*(k[1] for k in keys)) or frozenset({""})
                known = names_of[credits] = (weak, tuple(dict.fromkeys(k[0] for k in keys)))
            names, mains = known
            for main in mains:
                artists.setdefault(main, []).append(pos)
            stem = stem_of.get(track.title)
            if stem is None:
                stem = stem_of[track.title] = title_stem(track.title)
            by_name = stems.setdefault(stem, {})
            for name in names:
                by_name.setdefault(name, []).append(pos)
        self._stems, self._artists, self._title_stems = stems, artists, stem_of

    def title_stem_at(self, pos: int) -> str:
        """:func:`~plexm8.core.normalize.title_stem` of the title of the track at ``pos`` (kept per distinct title)."""
        if self._stems is None:
            self._build_names()
        title = self.tracks[pos].title
        stem = self._title_stems.get(title)
        return stem if stem is not None else title_stem(title)

    def by_stem(self, stem: str, names: Iterable[str] | None = None) -> list[int]:
        """Positions of the tracks whose title has this stem (see :func:`~plexm8.core.normalize.title_stem`).

        With ``names``, only those crediting one of these folded artist names (strong or weak, see
        :func:`~plexm8.core.normalize.artist_keys`): common titles ("Intro", "Home") have hundreds of tracks.
        """
        if self._stems is None:
            self._build_names()
        assert self._stems is not None
        by_name = self._stems.get(stem)
        if not by_name:
            return []
        if names is None:
            return sorted({pos for positions in by_name.values() for pos in positions})
        return sorted({pos for name in names for pos in by_name.get(name, ())})

    def stem_size(self, stem: str) -> int:
        """How many artist names tracks of this title stem credit (a cheap measure of how common the title is)."""
        if self._stems is None:
            self._build_names()
        assert self._stems is not None
        return len(self._stems.get(stem, ()))

    def by_artist(self, name: str) -> list[int]:
        """Positions of the tracks whose album artist or track artist credit has the folded name ``name``."""
        if self._artists is None:
            self._build_names()
        assert self._artists is not None
        return self._artists.get(name, [])


class MatchCatalogStore(Protocol):
    """Where the matching service gets an account's catalog and its remembered matches (``store.match_catalog``)."""

    def load(self, account: str) -> MatchCatalog:
        """The account's indexed tracks; raises :class:`~plexm8.errors.NotFound` when it has no index yet."""
        ...

    def remembered(self, account: str, source_kind: str) -> dict[str, int]:
        """Rating keys remembered for this account and source kind, by :func:`memory_key`."""
        ...

    def remember(self, account: str, source_kind: str, matches: Sequence[Match]) -> None:
        """Store these matches (replacing what was remembered for the same source tracks)."""
        ...


def memory_key(source: SourceTrack) -> str | None:
    """What a match of ``source`` is remembered by: the source's own id, else its normalised location."""
    if source.source_id:
        return f"id:{source.source_id}"
    if source.location:
        path = normalize_path(source.location)
        return f"path:{path_key(path) if is_case_insensitive_path(path) else path}"
    return None


# --- path mappings -----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Prefix:
    source: str
    folded: str
    plex: str


def _prefixes(mappings: Sequence[PathMapping]) -> list[_Prefix]:
    """Mappings with normalised prefixes, longest source prefix first (the most specific one wins)."""
    out = []
    for m in mappings:
        source = normalize_path(m.source_prefix)
        out.append(_Prefix(source, path_key(source), normalize_path(m.plex_prefix)))
    return sorted(out, key=lambda m: len(m.source), reverse=True)


def _mapped(path: str, prefixes: Sequence[_Prefix], folded: bool) -> list[str]:
    """``path`` as Plex would see it through each mapping whose prefix it starts with, then ``path`` itself."""
    out: list[str] = []
    for prefix in prefixes:
        size = len(prefix.source)
        head = path[:size]
        if (head == prefix.source or (folded and head.casefold() == prefix.folded)) and path[size : size + 1] in (
            "",
            "/",
        ):
            out.append(prefix.plex + path[size:])
    out.append(path)
    return out


def _common_suffix(a: list[str], b: list[str], folded: bool) -> int:
    """How many trailing path components ``a`` and ``b`` share."""
    count = 0
    for x, y in zip(reversed(a), reversed(b), strict=False):
        if (x.casefold() != y.casefold()) if folded else (x != y):
            break
        count += 1
    return count


def suggest_path_mappings(
    sources: Sequence[SourceTrack], catalog: MatchCatalog, *, sample: int = 4000
) -> list[PathMapping]:
    """Path-prefix mappings the data supports: source and Plex files that agree on name, folders and title.

    For (up to ``sample``, evenly spread) source tracks with a location, each Plex file with the same file name
    and the same title votes for the prefix pair left after removing the path components the two paths share
    at their end (at least the file and its folder). Pairs with :data:`MIN_MAPPING_VOTES` votes and at least 2 %
    of the votes are suggested, most voted first; identical roots need no mapping and are not suggested.
    """
    located = [s for s in sources if s.location]
    step = max(1, len(located) // sample)
    votes: Counter[tuple[str, str]] = Counter()
    shown: dict[tuple[str, str], str] = {}
    for source in located[::step]:
        assert source.location is not None
        path = normalize_path(source.location)
        folded = is_case_insensitive_path(path)
        hits = catalog.by_file_name(path_key(file_name(path)))
        if not hits or len(hits) > 8:
            continue
        parts = path.split("/")
        want = title_stem(source.title) if source.title else None
        for pos, plex_path in hits:
            if want is not None and catalog.title_stem_at(pos) != want:
                continue
            plex_parts = plex_path.split("/")
            shared = _common_suffix(parts, plex_parts, folded)
            # A root folder that differs only in case ("Music" and "music") stays in the prefixes: that is how a
            # user would write the mapping.
            while shared >= 2 and parts[-shared] != plex_parts[-shared]:
                shared -= 1
            if shared < 2 or shared >= len(parts) or shared >= len(plex_parts):
                continue
            source_prefix = "/".join(parts[:-shared])
            plex_prefix = "/".join(plex_parts[:-shared])
            if source_prefix == plex_prefix:
                continue
            key = (path_key(source_prefix) if folded else source_prefix, plex_prefix)
            votes[key] += 1
            shown.setdefault(key, source_prefix)
    total = sum(votes.values())
    suggested: list[PathMapping] = []
    taken: set[str] = set()
    for (source_key, plex_prefix), count in votes.most_common():
        if count < MIN_MAPPING_VOTES or count < 0.02 * total or source_key in taken:
            continue
        taken.add(source_key)
        suggested.append(PathMapping(shown[(source_key, plex_prefix)], plex_prefix))
    return suggested


# --- metadata --------------------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Candidate:
    pos: int
    #: 3 same credit, 2 source credit among the track's artists (or the reverse), 0 other artist.
    artist: int
    #: 3 written the same, 2 same words and version tags, 1 same words and hard tags, 0 differ, -1 not known.
    album: int
    #: 3 written the same, 2 same words and version tags, 1 same words and hard tags.
    title: int
    duration_diff: int | None
    numbers_agree: int
    numbers_contradict: bool


def _level(a: TitleKey, b: TitleKey) -> int:
    if a.full == b.full:
        return 3
    if a.base != b.base or a.hard != b.hard:
        return 0
    return 2 if a.soft == b.soft else 1


def _source_artists(source: SourceTrack) -> list[tuple[str, frozenset[str]]]:
    keys = [artist_keys(credit) for credit in (source.artist, source.album_artist) if credit]
    useful = [k for k in keys if k[0] and k[0] != _VARIOUS]
    return useful or [k for k in keys if k[0]]


def _artist_level(source: list[tuple[str, frozenset[str]]], track: CatalogTrack) -> int:
    best = 0
    for credit in (track.track_artist, track.artist):
        if not credit:
            continue
        main, names = artist_keys(credit)
        if main == _VARIOUS and track.track_artist:
            continue
        for smain, snames in source:
            if smain == main:
                return 3
            if smain in names or main in snames:
                best = 2
    return best


def _numbers(source: SourceTrack, track: CatalogTrack) -> tuple[int, bool]:
    agree, contradict = 0, False
    for a, b in ((source.track_number, track.track_number), (source.disc_number, track.disc_number)):
        if a and b:
            if a == b:
                agree += 1
            else:
                contradict = True
    return agree, contradict


def _candidate(source: SourceTrack, skey: TitleKey, salbum: TitleKey | None, artist: int, pos: int,
               track: CatalogTrack) -> _Candidate:  # fmt: skip
    album = -1 if salbum is None or not track.album else _level(salbum, title_key(track.album))
    diff = (
        abs(source.duration_ms - track.duration_ms)
        if source.duration_ms is not None and track.duration_ms is not None
        else None
    )
    agree, contradict = _numbers(source, track)
    return _Candidate(
        pos=pos,
        artist=artist,
        album=album,
        title=_level(skey, title_key(track.title)),
        duration_diff=diff,
        numbers_agree=agree,
        numbers_contradict=contradict,
    )


def _describe(track: CatalogTrack) -> str:
    who = track.track_artist or track.artist or "?"
    return f"{who} - {track.title} ({track.album or 'no album'}, key {track.rating_key})"


@dataclass(slots=True)
class _Decision:
    """What the metadata rungs decided for one source track."""

    match: Match | None = None
    review: ReviewItem | None = None


def _strict(source: SourceTrack, catalog: MatchCatalog) -> tuple[_Decision | None, list[int]]:
    """Strict metadata: a decision when some candidate passes every test, else the positions of the same title."""
    assert source.title is not None
    skey = title_key(source.title)
    salbum = title_key(source.album) if source.album else None
    sart = _source_artists(source)
    near = catalog.by_stem(title_stem(source.title), {name for _main, names in sart for name in names})
    strict: list[_Candidate] = []
    for pos in near:
        track = catalog.tracks[pos]
        artist = _artist_level(sart, track)
        if artist == 0:
            continue
        cand = _candidate(source, skey, salbum, artist, pos, track)
        if cand.title == 0 or cand.numbers_contradict:
            continue
        if cand.duration_diff is not None and cand.duration_diff > DURATION_TOLERANCE_MS:
            continue
        if cand.album == 0:
            continue
        if cand.album == -1 and cand.duration_diff is None:
            # Neither the album nor the length tells this recording from another of the same song.
            continue
        strict.append(cand)
    if not strict:
        return None, near
    rank = sorted(strict, key=lambda c: (c.album, c.title, c.artist, c.numbers_agree), reverse=True)
    best = rank[0]
    tied = [c for c in rank if (c.album, c.title, c.artist, c.numbers_agree) == (
        best.album, best.title, best.artist, best.numbers_agree)]  # fmt: skip
    if len(tied) > 1:
        keys = tuple(catalog.tracks[c.pos].rating_key for c in tied)
        return _Decision(
            review=ReviewItem(
                source=source,
                candidates=keys,
                confidences=tuple(0.9 for _ in keys),
                reason=f"{len(keys)} Plex tracks match equally (duplicates in Plex?): "
                + "; ".join(_describe(catalog.tracks[c.pos]) for c in tied[:3]),
            )
        ), near
    track = catalog.tracks[best.pos]
    confidence = min(0.99, 0.9 + 0.02 * max(best.album, 0) + 0.01 * best.title + 0.01 * best.numbers_agree)
    album_how = {3: "same album", 2: "same album and edition", 1: "same album, other edition", -1: "album not known"}
    reason = (
        f"metadata: title, artist ({'same credit' if best.artist == 3 else 'shared artist'}), "
        f"{album_how[best.album]}"
        + (f", duration within {best.duration_diff / 1000:.1f} s" if best.duration_diff is not None else "")
    )
    if len(rank) > 1:
        reason += f"; preferred over {len(rank) - 1} other version(s)"
    return _Decision(match=Match(source, track.rating_key, MatchMethod.METADATA, round(confidence, 3), reason)), near


class _Similar:
    """Similarity (difflib ratio, 0..1) of many strings to one; the one string's analysis is done once."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._matcher = difflib.SequenceMatcher(None, autojunk=False)
        self._matcher.set_seq2(text)

    def __call__(self, other: str) -> float:
        if other == self.text:
            return 1.0
        if not other or not self.text:
            return 0.0
        self._matcher.set_seq1(other)
        return self._matcher.ratio()

    def at_most(self, other: str) -> float:
        """A cheap upper bound of ``self(other)``."""
        if other == self.text:
            return 1.0
        matcher = self._matcher
        matcher.set_seq1(other)
        return min(matcher.real_quick_ratio(), matcher.quick_ratio())


def _fuzzy(source: SourceTrack, catalog: MatchCatalog, near: list[int]) -> _Decision:
    """Fuzzy metadata among the same title's and the same artist's tracks; matched only when clearly above."""
    assert source.title is not None
    skey = title_key(source.title)
    sart = _source_artists(source)
    pool = set(near)
    same_stem = set(near)
    stem = title_stem(source.title)
    if catalog.stem_size(stem) <= _FEW_ARTISTS:
        # A rare title: its tracks by other artists are worth a look (the artist may be misspelt).
        same_stem.update(catalog.by_stem(stem))
        pool |= same_stem
    if source.duration_ms is not None:
        for main, _names in sart:
            for pos in catalog.by_artist(main):
                duration = catalog.tracks[pos].duration_ms
                if duration is not None and abs(duration - source.duration_ms) <= FUZZY_DURATION_MS:
                    pool.add(pos)
    salbum = fold(source.album) if source.album else ""
    sartist = sart[0][0] if sart else ""
    scored: list[tuple[float, int, str]] = []
    title_full, title_base = _Similar(skey.full), _Similar(skey.base)
    artist_sim, album_sim = _Similar(sartist), _Similar(salbum)
    artist_seen: dict[str, float] = {}
    for pos in sorted(pool):
        track = catalog.tracks[pos]
        tkey = title_key(track.title)
        if tkey.hard != skey.hard:
            continue
        # Title weighs 0.5: below 0.5 nothing reaches review; another title by the same artist must be close.
        least_title = 0.5 if pos in same_stem else _LEAST_OTHER_TITLE
        if max(title_base.at_most(tkey.base), title_full.at_most(tkey.full)) < least_title:
            continue
        title = title_base(tkey.base)
        if title < 1.0:
            title = max(title, title_full(tkey.full))
        if title < least_title:
            continue
        artist = 0.0
        for credit in (track.track_artist, track.artist):
            if credit:
                if credit not in artist_seen:
                    artist_seen[credit] = artist_sim(artist_keys(credit)[0])
                artist = max(artist, artist_seen[credit])
        if artist < _LEAST_ARTIST or 0.5 * title + 0.25 * artist + 0.25 < FUZZY_REVIEW:
            continue
        album = album_sim(fold(track.album)) if salbum and track.album else 0.5
        score = 0.5 * title + 0.25 * artist + 0.25 * album
        why = f"title {title:.2f}, artist {artist:.2f}, album {album:.2f}"
        _agree, contradict = _numbers(source, track)
        diff = (
            abs(source.duration_ms - track.duration_ms)
            if source.duration_ms is not None and track.duration_ms is not None
            else None
        )
        if contradict:
            score = min(score, FUZZY_ACCEPT - 0.01)
            why += ", track number differs"
        if diff is None or diff > FUZZY_DURATION_MS:
            score = min(score, FUZZY_ACCEPT - 0.01)
            why += ", duration not known" if diff is None else f", duration {diff / 1000:.1f} s apart"
        scored.append((score, pos, why))
    if not scored:
        return _Decision()
    scored.sort(key=lambda s: (-s[0], catalog.tracks[s[1]].rating_key))
    best_score, best_pos, why = scored[0]
    runner_up = scored[1][0] if len(scored) > 1 else 0.0
    best = catalog.tracks[best_pos]
    if best_score >= FUZZY_ACCEPT and best_score - runner_up >= FUZZY_LEAD:
        return _Decision(
            match=Match(
                source, best.rating_key, MatchMethod.FUZZY, round(best_score, 3), f"fuzzy {best_score:.2f}: {why}"
            )
        )
    if best_score < FUZZY_REVIEW:
        return _Decision()
    top = [s for s in scored if s[0] >= FUZZY_REVIEW][:5]
    if best_score >= FUZZY_ACCEPT:
        reason = f"{len(top)} Plex tracks nearly alike, best {best_score:.2f}: {_describe(best)}"
    else:
        reason = f"closest Plex track {_describe(best)} only {best_score:.2f} alike ({why})"
    return _Decision(
        review=ReviewItem(
            source=source,
            candidates=tuple(catalog.tracks[p].rating_key for _s, p, _w in top),
            confidences=tuple(round(s, 3) for s, _p, _w in top),
            reason=reason,
        )
    )


# --- the ladder --------------------------------------------------------------------------------------------------


def _by_path(source: SourceTrack, catalog: MatchCatalog, mappings: Sequence[_Prefix]) -> Match | ReviewItem | None:
    assert source.location is not None
    path = normalize_path(source.location)
    folded = is_case_insensitive_path(path)
    candidates = _mapped(path, mappings, folded)
    hits: list[int] = []
    how = "file path"
    paths = catalog._paths  # the hot loop of a sync: one dict lookup per candidate path, no method call
    for candidate in candidates:
        hits = paths.get(candidate, hits)
        if hits:
            break
    if not hits and folded:
        for candidate in candidates:
            hits = catalog.by_folded_path(path_key(candidate))
            if hits:
                how = "file path (letter case differs)"
                break
    if not hits:
        return None
    keys = (
        (catalog.tracks[hits[0]].rating_key,)
        if len(hits) == 1
        else tuple(dict.fromkeys(catalog.tracks[pos].rating_key for pos in hits))
    )
    if len(keys) > 1:
        return ReviewItem(source, keys, tuple(0.5 for _ in keys), f"{len(keys)} Plex tracks share this file path")
    track = catalog.tracks[hits[0]]
    if source.title and source.title != track.title and title_stem(source.title) != catalog.title_stem_at(hits[0]):
        same_artist = (
            _artist_level(_source_artists(source), track) > 0 if (source.artist or source.album_artist) else True
        )
        if not same_artist:
            return ReviewItem(
                source, keys, (0.5,), f"the file path leads to {_describe(track)}, whose title and artist differ"
            )
        return Match(source, track.rating_key, MatchMethod.PATH, 0.95, f"{how}; the title differs")
    return Match(source, track.rating_key, MatchMethod.PATH, 1.0 if how == "file path" else 0.99, how)


#: Source tracks :class:`MatchRun` collects before it suggests path mappings from them (when the user gave none):
#: :func:`suggest_path_mappings` reads up to this many anyway.
SUGGEST_AFTER = 4096


class MatchRun:
    """Matches source tracks one by one as they arrive, with the same outcome as matching them all at once.

    A sync reads its export in a worker process while this process matches what has arrived, so matching overlaps
    the read. Path mappings are the one thing that depends on every track: when the user gave none, they are first
    suggested from the first :data:`SUGGEST_AFTER` tracks (provisional), and :meth:`finish` suggests them again
    from the whole source, exactly as :func:`match_tracks` documents. When the two differ (a second music folder
    that only appears further down the export), every track goes through the ladder again with the final ones:
    each rung's answer for a track depends only on the track, the catalog and the mappings, so the outcome is
    always that of the final mappings.
    """

    def __init__(
        self,
        catalog: MatchCatalog,
        *,
        path_mappings: Sequence[PathMapping] | None = None,
        remembered: Mapping[str, int] | None = None,
    ) -> None:
        self._catalog = catalog
        self._given = list(path_mappings) if path_mappings is not None else None
        self._memory = remembered or {}
        self._sources: list[SourceTrack] = []
        self._mappings: list[PathMapping] | None = self._given
        self._prefixes: list[_Prefix] = _prefixes(self._given) if self._given is not None else []
        self._matched: list[Match] = []
        self._review: list[ReviewItem] = []
        self._unmatched: list[SourceTrack] = []

    def add(self, source: SourceTrack) -> None:
        """Take the next source track (matched now, or once the provisional mappings are known)."""
        self._sources.append(source)
        if self._mappings is not None:
            self._ladder(source)
        elif len(self._sources) == SUGGEST_AFTER:
            self._use(suggest_path_mappings(self._sources, self._catalog))

    def finish(self) -> MatchOutcome:
        """The outcome for every track added; matches colliding on one Plex track go to review."""
        outcome = MatchOutcome()
        if self._given is None:
            final = suggest_path_mappings(self._sources, self._catalog)
            if final != self._mappings:
                self._use(final)
            outcome.suggested_mappings = True
        assert self._mappings is not None
        outcome.path_mappings = list(self._mappings)
        outcome.review, outcome.unmatched = self._review, self._unmatched
        _one_to_one(self._matched, outcome)
        return outcome

    def _use(self, mappings: list[PathMapping]) -> None:
        """Match every track so far through ``mappings`` (forgetting what other mappings decided)."""
        self._mappings, self._prefixes = mappings, _prefixes(mappings)
        self._matched, self._review, self._unmatched = [], [], []
        for source in self._sources:
            self._ladder(source)

    def _ladder(self, source: SourceTrack) -> None:
        catalog, memory = self._catalog, self._memory
        key = memory_key(source) if memory else None
        remembered_key = memory.get(key) if key else None
        if remembered_key is not None and catalog.position(remembered_key) is not None:
            self._matched.append(
                Match(source, remembered_key, MatchMethod.REMEMBERED, 1.0, "remembered from an earlier sync")
            )
            return
        if source.location:
            found = _by_path(source, catalog, self._prefixes)
            if isinstance(found, Match):
                self._matched.append(found)
                return
            if isinstance(found, ReviewItem):
                self._review.append(found)
                return
        if not source.title:
            self._unmatched.append(source)
            return
        decision, near = _strict(source, catalog)
        if decision is None:
            decision = _fuzzy(source, catalog, near)
        if decision.match is not None:
            self._matched.append(decision.match)
        elif decision.review is not None:
            self._review.append(decision.review)
        else:
            self._unmatched.append(source)


def match_tracks(
    sources: Iterable[SourceTrack],
    catalog: MatchCatalog,
    *,
    path_mappings: Sequence[PathMapping] | None = None,
    remembered: Mapping[str, int] | None = None,
) -> MatchOutcome:
    """Match every source track to one indexed Plex track or send it to review (with a reason) or to unmatched.

    ``path_mappings`` ``None`` means the user gave none: mappings are suggested from the data
    (:func:`suggest_path_mappings` over all of ``sources``) and ``outcome.suggested_mappings`` is set.
    ``remembered`` maps :func:`memory_key` values to rating keys from earlier syncs; keys no longer in the catalog
    are ignored. No two matched source tracks share a Plex track: such collisions all go to review. (The tracks go
    through a :class:`MatchRun`, which gives this outcome while they are still arriving.)
    """
    run = MatchRun(catalog, path_mappings=path_mappings, remembered=remembered)
    for source in sources:
        run.add(source)
    return run.finish()


def _one_to_one(matched: list[Match], outcome: MatchOutcome) -> None:
    """Keep matches whose Plex track no other source track matched; send colliding ones to review."""
    by_key: defaultdict[int, list[Match]] = defaultdict(list)
    for match in matched:
        by_key[match.rating_key].append(match)
    for match in matched:
        group = by_key[match.rating_key]
        if len(group) == 1:
            outcome.matched.append(match)
            continue
        others = ", ".join(f"#{m.source.ordinal}" for m in group if m is not match)
        outcome.review.append(
            ReviewItem(
                source=match.source,
                candidates=(match.rating_key,),
                confidences=(match.confidence,),
                reason=f"{len(group)} source tracks matched Plex track {match.rating_key} (also {others}) "
                f"by {match.method.value}",
            )
        )
