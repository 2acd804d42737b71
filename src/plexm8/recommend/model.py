"""The recommendation model: built once from :class:`LibrarySignals`, then answers from precomputed arrays only.

A model blends eight evidence sources into one score per track:

- ``sessions`` — session-kNN: the playlists and listening sessions most like the seeds vote for their tracks;
- ``neighbours`` — item-kNN: each seed's precomputed top-K neighbours (co-occurrence cosine plus directed
  transitions: what tends to come next); ``for_user`` relies on it, ``similar`` leaves it to session-kNN by default;
- ``embedding`` — in ``similar``, session-kNN's candidates re-scored by the cosine of track vectors learnt from
  what is played close together (a truncated SVD of positive PMI: item2vec's closed form);
- ``artist`` / ``album`` — tracks sharing the seeds' artist or album;
- ``tags`` — TF-IDF cosine over genres, styles, moods and decade (what cold-start tracks live on);
- ``sonic`` — Plex's sonic neighbours, when the server analysed the audio;
- ``popularity`` — a small prior that breaks ties.

Each source is scaled to [0, 1] within one answer before weighting, so the weights in :class:`ModelParams` are
comparable. Ratings act as a multiplier: tracks rated low, and tracks near them, are pushed down.
"""

from __future__ import annotations

import io
import json
import math
import os
import tempfile
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt
from scipy.sparse.linalg import svds

from plexm8.errors import JobCancelled
from plexm8.recommend.data import LibrarySignals, Recommendation, TrackInfo
from plexm8.recommend.sparse import Csr, as_csr, csr, csr_from_triplets, empty_csr

__all__ = ["MODEL_FORMAT", "MODEL_VERSION", "ModelParams", "RecommendationModel", "build_model"]

MODEL_FORMAT: Final = "plexm8-recommend"
#: Bumped whenever the saved arrays change meaning; older files are refused by :meth:`RecommendationModel.load`.
MODEL_VERSION: Final = 2

Progress = Callable[[str, int, "int | None"], None]
FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int32]
Vector = npt.NDArray[np.float64]

_COMPONENTS: Final = ("sessions", "embedding", "neighbours", "sonic", "album", "artist", "tags", "popularity")
_CO_OCCURRENCE: Final = ("sessions", "embedding", "neighbours")
_KIND_PLAYLIST: Final = 0
_KIND_SESSION: Final = 1
#: Plex ratings are 0-10 (half stars); at or below this a rating counts against a track, at or above LIKED for it.
_DISLIKED: Final = 4.0
_LIKED: Final = 7.0
#: A liked track not played for this long (before the newest play we know of) is worth rediscovering.
_LONG_UNPLAYED_S: Final = 180 * 86400
#: How many of the strongest seeds reasons and the for-user profile look at.
_REASON_SEEDS: Final = 256
_ROW_CHUNK: Final = 4096
#: Up to this many tracks the track-vector SVD is computed densely (ARPACK needs dim < n and is slower there).
_DENSE_SVD_MAX: Final = 1500


@dataclass(frozen=True, slots=True)
class ModelParams:
    """How the evidence is weighted; defaults tuned on a validation split of yes_big (docs/recommendations.md)."""

    #: Top-K neighbours kept per track at build time.
    neighbours: int = 100
    #: How many most similar playlists/sessions vote in session-kNN.
    session_neighbours: int = 100
    #: Session-kNN similarity divides the overlap by ``length ** session_length_exponent`` of the playlist.
    session_length_exponent: float = 0.5
    #: Session-kNN raises similarities to this power: > 1 lets the closest playlists dominate.
    session_power: float = 1.0
    #: A seed found in many playlists says less about which playlists are alike: weight ``idf ** seed_idf``.
    seed_idf: float = 1.0
    #: Session-kNN votes are divided by ``(contexts the track is in) ** session_damping`` (popularity damping).
    session_damping: float = 0.0
    #: Tracks that follow the last matching seed in a neighbour playlist get ``1 + boost · decay ** (distance - 1)``.
    follow_boost: float = 0.0
    follow_decay: float = 0.8
    #: Query expansion: the top ``expansion`` first-pass tracks join the seeds with weight ``expansion_weight``.
    expansion: int = 5
    expansion_weight: float = 0.3
    #: Seed i of n weighs ``recency ** (n - 1 - i)`` (< 1: later seeds matter more; validation preferred 1).
    recency: float = 1.0
    #: Listening sessions count this much as a playlist as co-occurrence evidence.
    session_weight: float = 0.5
    #: A context's co-occurrence weight is divided by ``length ** context_exponent``: pairs in a long list say little.
    context_exponent: float = 0.5
    #: Asymmetric cosine: 0.5 is the plain cosine; higher damps popular neighbours more.
    cosine_alpha: float = 0.5
    #: Weight of directed transitions (j shortly after i) added to the co-occurrence cosine.
    transition_weight: float = 1.0
    #: Transitions up to this many positions apart count, each step weighing ``transition_decay`` less.
    transition_window: int = 3
    transition_decay: float = 0.5
    w_sessions: float = 1.0
    w_neighbours: float = 0.3
    #: ``w_neighbours`` in :meth:`RecommendationModel.similar`, where session-kNN already carries the co-occurrence
    #: evidence: over six validation splits of yes_big the item-kNN term there cost 0.007 HR@10, so it is off.
    w_neighbours_similar: float = 0.0
    #: Weight of the track-vector cosine in ``similar`` (session-kNN's candidates only): +0.016 HR@10 on validation.
    w_embedding: float = 0.3
    #: Track vectors: this many dimensions, from co-occurrence within this many positions of a playlist or session.
    embedding_dim: int = 64
    embedding_window: int = 5
    w_artist: float = 0.05
    w_album: float = 0.05
    w_tags: float = 0.05
    w_sonic: float = 0.3
    w_popularity: float = 0.02
    #: How strongly tracks near the user's low-rated tracks are pushed down (0 = not at all).
    dislike_strength: float = 0.5


@dataclass(frozen=True, slots=True)
class _Seeds:
    index: IntArray
    weight: FloatArray


@dataclass(frozen=True, slots=True)
class _Part:
    """One evidence source's scores for the tracks it reaches: sorted unique track indexes and their values."""

    index: npt.NDArray[np.int64]
    value: Vector

    @classmethod
    def empty(cls) -> _Part:
        return cls(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64))

    @classmethod
    def summed(cls, tracks: npt.NDArray[np.integer[Any]], values: npt.NDArray[np.floating[Any]]) -> _Part:
        """Values summed per track."""
        index, inverse = np.unique(tracks, return_inverse=True)
        return cls(index.astype(np.int64), np.bincount(inverse, weights=values).astype(np.float64, copy=False))

    def at(self, tracks: npt.NDArray[np.int64]) -> Vector:
        """The scores of these tracks (0 for tracks the source did not reach)."""
        if not len(self.index):
            return np.zeros(len(tracks), dtype=np.float64)
        pos = np.minimum(np.searchsorted(self.index, tracks), len(self.index) - 1)
        return np.where(self.index[pos] == tracks, self.value[pos], 0.0)

    def dense(self, width: int) -> Vector:
        vector = np.zeros(width, dtype=np.float64)
        vector[self.index] = self.value
        return vector


@dataclass(frozen=True, slots=True)
class _Parts:
    """All evidence for one query: seed-driven sources (sparse) and the tag cosine (dense, or None when unused)."""

    sparse: Mapping[str, _Part]
    tags: Vector | None

    def values(self, name: str, tracks: npt.NDArray[np.int64], popularity: Vector) -> Vector:
        """Source ``name``'s raw scores for these tracks."""
        if name == "tags":
            return np.zeros(len(tracks)) if self.tags is None else self.tags[tracks]
        if name == "popularity":
            return popularity[tracks]
        return self.sparse[name].at(tracks)


@dataclass(frozen=True, slots=True)
class _Ranked:
    """Candidate track indexes (sorted), their total scores and each source's scale factor."""

    index: npt.NDArray[np.int64]
    total: Vector
    scale: dict[str, float]
    truncated: bool


class _Steps:
    """Reports progress and turns a stop request into :class:`JobCancelled` between steps."""

    def __init__(self, progress: Progress | None, should_stop: Callable[[], bool] | None) -> None:
        self._progress = progress
        self._should_stop = should_stop

    def __call__(self, stage: str, done: int = 0, total: int | None = None) -> None:
        if self._should_stop is not None and self._should_stop():
            raise JobCancelled("building the recommendation model was cancelled")
        if self._progress is not None:
            self._progress(stage, done, total)


def build_model(
    signals: LibrarySignals,
    *,
    progress: Progress | None = None,
    should_stop: Callable[[], bool] | None = None,
    params: ModelParams | None = None,
) -> RecommendationModel:
    """Build a model from one account's signals; ``should_stop()`` turning True raises :class:`JobCancelled`."""
    p = params or ModelParams()
    step = _Steps(progress, should_stop)
    step("tracks", 0, len(signals.tracks))
    tracks = list(signals.tracks)
    keys = np.fromiter((t.key for t in tracks), dtype=np.int64, count=len(tracks))
    index: dict[int, int] = {}
    for i, key in enumerate(keys.tolist()):
        if key in index:
            raise ValueError(f"track key {key} appears twice in the library signals")
        index[key] = i
    n = len(tracks)

    step("contexts", 0, None)
    contexts, kinds = _contexts(signals, index)
    ctx = _ContextIndex.build(contexts, kinds, n).with_weights(p.session_weight)
    step("neighbours", 0, None)
    neighbours = _neighbour_lists(ctx, n, p, step)
    step("embedding", 0, None)
    embedding = _embeddings(ctx, n, p)
    step("metadata", 0, None)
    artist_of, album_of, tag_matrix, tag_names = _metadata(tracks)
    sonic = _sonic_matrix(signals.sonic, index, n)
    popularity = np.log1p(ctx.item_weight).astype(np.float32)

    step("user", 0, None)
    rating = np.full(n, np.nan, dtype=np.float32)
    for key, value in signals.user.ratings.items():
        at = index.get(key)
        if at is not None:
            rating[at] = value
    plays = np.zeros(n, dtype=np.int32)
    for key, count in signals.user.play_counts.items():
        at = index.get(key)
        if at is not None:
            plays[at] = count
    last_played = np.zeros(n, dtype=np.int64)
    for key, when in signals.user.last_played.items():
        at = index.get(key)
        if at is not None:
            last_played[at] = when

    model = RecommendationModel(
        params=p,
        keys=keys,
        titles=[t.title for t in tracks],
        artists=[t.artist for t in tracks],
        ctx=ctx,
        neighbours=neighbours,
        embedding=embedding,
        artist_of=artist_of,
        album_of=album_of,
        tag_matrix=tag_matrix,
        tag_names=tag_names,
        sonic=sonic,
        popularity=popularity,
        rating=rating,
        plays=plays,
        last_played=last_played,
        dislike=np.zeros(n, dtype=np.float32),
    )
    model._derive_user_vectors()
    step("done", 1, 1)
    return model


def _contexts(signals: LibrarySignals, index: Mapping[int, int]) -> tuple[list[list[int]], list[int]]:
    """Playlists then sessions as lists of track indexes, de-duplicated keeping first occurrences."""
    contexts: list[list[int]] = []
    kinds: list[int] = []
    for kind, groups in ((_KIND_PLAYLIST, signals.playlists), (_KIND_SESSION, signals.sessions)):
        for group in groups:
            seen: set[int] = set()
            items: list[int] = []
            for key in group:
                i = index.get(key)
                if i is not None and i not in seen:
                    seen.add(i)
                    items.append(i)
            if items:
                contexts.append(items)
                kinds.append(kind)
    return contexts, kinds


@dataclass(frozen=True, slots=True)
class _ContextIndex:
    """Playlists and sessions both ways: context → its tracks in order, and track → its contexts with positions."""

    ctx_indptr: npt.NDArray[np.int64]
    ctx_items: IntArray
    kinds: npt.NDArray[np.int8]
    item_indptr: npt.NDArray[np.int64]
    item_ctx: IntArray
    item_pos: IntArray
    #: Weighted number of contexts each track is in (sessions count ``session_weight``).
    item_weight: FloatArray

    @classmethod
    def build(cls, contexts: Sequence[Sequence[int]], kinds: Sequence[int], n: int) -> _ContextIndex:
        lengths = np.fromiter((len(c) for c in contexts), dtype=np.int64, count=len(contexts))
        ctx_indptr = np.zeros(len(contexts) + 1, dtype=np.int64)
        np.cumsum(lengths, out=ctx_indptr[1:])
        ctx_items = (
            np.fromiter((i for c in contexts for i in c), dtype=np.int32, count=int(ctx_indptr[-1]))
            if contexts
            else np.zeros(0, dtype=np.int32)
        )
        entry_ctx = np.repeat(np.arange(len(contexts), dtype=np.int32), lengths)
        entry_pos = (np.arange(len(ctx_items), dtype=np.int64) - np.repeat(ctx_indptr[:-1], lengths)).astype(np.int32)
        order = np.argsort(ctx_items, kind="stable")
        item_indptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount(ctx_items, minlength=n), out=item_indptr[1:])
        kind_arr = np.asarray(kinds, dtype=np.int8)
        return cls(
            ctx_indptr=ctx_indptr,
            ctx_items=ctx_items,
            kinds=kind_arr,
            item_indptr=item_indptr,
            item_ctx=entry_ctx[order],
            item_pos=entry_pos[order],
            item_weight=np.zeros(n, dtype=np.float32),
        )

    def with_weights(self, session_weight: float) -> _ContextIndex:
        weight_of_ctx = np.where(self.kinds == _KIND_SESSION, session_weight, 1.0).astype(np.float32)
        n = len(self.item_indptr) - 1
        item_of_entry = np.repeat(np.arange(n, dtype=np.int32), np.diff(self.item_indptr))
        item_weight = np.bincount(item_of_entry, weights=weight_of_ctx[self.item_ctx], minlength=n).astype(np.float32)
        return _ContextIndex(
            self.ctx_indptr, self.ctx_items, self.kinds, self.item_indptr, self.item_ctx, self.item_pos, item_weight
        )

    @property
    def lengths(self) -> npt.NDArray[np.int64]:
        return np.diff(self.ctx_indptr)


def _neighbour_lists(ctx: _ContextIndex, n: int, p: ModelParams, step: _Steps) -> Csr:
    """Top-K neighbours per track: co-occurrence cosine plus directed transitions, as a CSR matrix (row = from)."""
    lengths = ctx.lengths
    n_ctx = len(lengths)
    kind_weight = np.where(ctx.kinds == _KIND_SESSION, p.session_weight, 1.0)
    # Long playlists are weak evidence of any one pair belonging together.
    ctx_weight = (kind_weight / np.maximum(lengths, 1) ** p.context_exponent).astype(np.float32)
    # item_ctx is already grouped by track, so it is the track × context matrix in CSR form as it stands.
    x = csr(np.sqrt(ctx_weight[ctx.item_ctx]), ctx.item_ctx, ctx.item_indptr, (n, max(n_ctx, 1)))
    degree = np.bincount(
        np.repeat(np.arange(n), np.diff(ctx.item_indptr)), weights=ctx_weight[ctx.item_ctx], minlength=n
    )
    safe_degree = np.maximum(degree, 1e-12)
    # Asymmetric cosine: dividing by the neighbour's degree to the power alpha damps hubs.
    row_scale = (safe_degree ** -(1.0 - p.cosine_alpha)).astype(np.float32)
    col_scale = (safe_degree**-p.cosine_alpha).astype(np.float32)
    transitions = _transitions(ctx, n, p, ctx_weight)
    xt = as_csr(x.T)
    data: list[FloatArray] = []
    indices: list[IntArray] = []
    counts: list[npt.NDArray[np.int64]] = []
    total = max(1, math.ceil(n / _ROW_CHUNK))
    for chunk, start in enumerate(range(0, n, _ROW_CHUNK)):
        step("neighbours", chunk, total)
        stop = min(n, start + _ROW_CHUNK)
        block = as_csr(x[start:stop] @ xt)
        if p.transition_weight:
            block = as_csr(block + transitions[start:stop] * np.float32(p.transition_weight))
        row_of = np.repeat(np.arange(stop - start), np.diff(block.indptr))
        keep = (block.indices != row_of + start) & (block.data > 0)
        values = block.data[keep] * row_scale[start + row_of[keep]] * col_scale[block.indices[keep]]
        d, i, c = _top_k(values.astype(np.float32), block.indices[keep].astype(np.int32), row_of[keep], stop - start, p)
        data.append(d)
        indices.append(i)
        counts.append(c)
    indptr = np.zeros(n + 1, dtype=np.int64)
    if counts:
        np.cumsum(np.concatenate(counts), out=indptr[1:])
    result = csr(
        np.concatenate(data) if data else np.zeros(0, dtype=np.float32),
        np.concatenate(indices) if indices else np.zeros(0, dtype=np.int32),
        indptr,
        (n, n),
    )
    result.sort_indices()
    return result


def _embeddings(ctx: _ContextIndex, n: int, p: ModelParams) -> FloatArray:
    """Unit track vectors (n × dim) whose cosine says "played close together", zeros for tracks without context.

    A rank-``embedding_dim`` SVD of the positive pointwise mutual information of tracks within
    ``embedding_window`` positions of each other (context distribution smoothed by ^0.75): the closed form of
    item2vec's skip-gram (Levy & Goldberg 2014), without training epochs.
    """
    dim = max(min(p.embedding_dim, n - 1), 0)
    vectors = np.zeros((n, dim), dtype=np.float32)
    lengths = ctx.lengths
    if dim == 0 or p.w_embedding <= 0 or not len(ctx.ctx_items):
        return vectors
    ctx_of_entry = np.repeat(np.arange(len(lengths), dtype=np.int64), lengths)
    position = np.arange(len(ctx.ctx_items), dtype=np.int64) - ctx.ctx_indptr[ctx_of_entry]
    end = lengths[ctx_of_entry]
    kind_weight = np.where(ctx.kinds == _KIND_SESSION, p.session_weight, 1.0).astype(np.float32)
    rows: list[npt.NDArray[np.int32]] = []
    cols: list[npt.NDArray[np.int32]] = []
    values: list[FloatArray] = []
    for distance in range(1, p.embedding_window + 1):
        at = np.flatnonzero(position + distance < end)
        a, b = ctx.ctx_items[at], ctx.ctx_items[at + distance]
        w = kind_weight[ctx_of_entry[at]]
        rows += [a, b]
        cols += [b, a]
        values += [w, w]
    if not sum(len(r) for r in rows):
        return vectors
    counts = csr_from_triplets(np.concatenate(values), np.concatenate(rows), np.concatenate(cols), (n, n)).tocoo()
    total = float(counts.data.sum())
    row_sum = np.bincount(counts.row, weights=counts.data, minlength=n)
    context = row_sum**0.75
    context *= total / context.sum()
    pmi = np.log(counts.data * total / (row_sum[counts.row] * context[counts.col]))
    keep = pmi > 0
    ppmi = csr_from_triplets(pmi[keep].astype(np.float32), counts.row[keep], counts.col[keep], (n, n))
    if not ppmi.nnz:
        return vectors
    if n <= _DENSE_SVD_MAX:
        u, sigma, _ = np.linalg.svd(ppmi.toarray().astype(np.float64))
        u, sigma = u[:, :dim], sigma[:dim]
    else:
        # A fixed start vector: the same signals always give the same model.
        start = np.random.default_rng(0).standard_normal(n)
        u, sigma, _ = svds(ppmi.astype(np.float64), k=dim, v0=start)
    raw = u * np.sqrt(np.maximum(sigma, 0.0))[np.newaxis, :]
    norms = np.linalg.norm(raw, axis=1, keepdims=True)
    vectors[:] = np.where(norms > 0, raw / np.where(norms > 0, norms, 1.0), 0.0)
    return vectors


def _top_k(
    values: FloatArray, cols: IntArray, rows: npt.NDArray[np.intp], n_rows: int, p: ModelParams
) -> tuple[FloatArray, IntArray, npt.NDArray[np.int64]]:
    """The ``p.neighbours`` largest entries of each row (entries come grouped by row): data, indices, row counts."""
    counts = np.bincount(rows, minlength=n_rows).astype(np.int64)
    if counts.max(initial=0) > p.neighbours:
        # One sort for the whole block: by row, then by value descending (the value is scaled into [0, 0.5]).
        starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
        nonempty = counts > 0
        peak = np.ones(n_rows, dtype=np.float64)
        peak[nonempty] = np.maximum.reduceat(values, starts[nonempty])
        order = np.argsort(rows + 0.5 * (1.0 - values / peak[rows]))
        rank = np.arange(len(order)) - np.repeat(starts, counts)
        order = order[rank < p.neighbours]
        values, cols, rows = values[order], cols[order], rows[order]
        counts = np.minimum(counts, p.neighbours)
    return values, cols, counts


def _transitions(ctx: _ContextIndex, n: int, p: ModelParams, ctx_weight: FloatArray) -> Csr:
    """Directed pairs (i, j) with j up to ``transition_window`` places after i in a context, decaying with distance."""
    items = ctx.ctx_items
    ctx_of_entry = np.repeat(np.arange(len(ctx.ctx_indptr) - 1), ctx.lengths)
    rows: list[IntArray] = []
    cols: list[IntArray] = []
    vals: list[FloatArray] = []
    for distance in range(1, p.transition_window + 1):
        if len(items) <= distance:
            break
        same = ctx_of_entry[:-distance] == ctx_of_entry[distance:]
        rows.append(items[:-distance][same])
        cols.append(items[distance:][same])
        w = ctx_weight[ctx_of_entry[:-distance][same]] * p.transition_decay ** (distance - 1)
        vals.append(w.astype(np.float32))
    if not rows:
        return empty_csr(n, n)
    return csr_from_triplets(np.concatenate(vals), np.concatenate(rows), np.concatenate(cols), (n, n))


def _metadata(tracks: Sequence[TrackInfo]) -> tuple[IntArray, IntArray, Csr, list[str]]:
    """Artist and album ids per track (-1 = unknown) and an L2-normalised TF-IDF track × tag matrix."""
    artist_ids: dict[str, int] = {}
    album_ids: dict[tuple[str, str], int] = {}
    tag_ids: dict[str, int] = {}
    artist_of = np.full(len(tracks), -1, dtype=np.int32)
    album_of = np.full(len(tracks), -1, dtype=np.int32)
    rows: list[int] = []
    cols: list[int] = []
    for i, track in enumerate(tracks):
        artist = track.artist_key if track.artist_key is not None else track.artist.strip().casefold()
        if artist != "":
            artist_of[i] = artist_ids.setdefault(str(artist), len(artist_ids))
        album = track.album_key if track.album_key is not None else (track.album or "").strip().casefold()
        if album != "":
            album_of[i] = album_ids.setdefault((str(artist), str(album)), len(album_ids))
        for tag in _tags_of(track):
            rows.append(i)
            cols.append(tag_ids.setdefault(tag, len(tag_ids)))
    n_tags = max(len(tag_ids), 1)
    matrix = csr_from_triplets(
        np.ones(len(rows), dtype=np.float32),
        np.asarray(rows, dtype=np.int64),
        np.asarray(cols, dtype=np.int64),
        (len(tracks), n_tags),
    )
    df = np.bincount(matrix.indices, minlength=n_tags).astype(np.float32)
    idf = np.log((1.0 + len(tracks)) / (1.0 + df)) + 1.0
    # Each tag counts once per track, weighted by its rarity; rows are then L2-normalised for the cosine.
    matrix.data[:] = idf[matrix.indices]
    row_of = np.repeat(np.arange(len(tracks)), np.diff(matrix.indptr))
    norms = np.sqrt(np.bincount(row_of, weights=matrix.data.astype(np.float64) ** 2, minlength=len(tracks)))
    norms[norms == 0] = 1.0
    matrix.data /= norms[row_of].astype(np.float32)
    names = [""] * len(tag_ids)
    for tag, j in tag_ids.items():
        names[j] = tag
    return artist_of, album_of, matrix, names


def _tags_of(track: TrackInfo) -> Iterable[str]:
    for prefix, values in (("genre", track.genres), ("style", track.styles), ("mood", track.moods)):
        for value in values:
            value = value.strip().casefold()
            if value:
                yield f"{prefix}:{value}"
    if track.year is not None and track.year > 0:
        yield f"era:{track.year // 10 * 10}s"


def _sonic_matrix(sonic: Mapping[int, Sequence[tuple[int, float]]], index: Mapping[int, int], n: int) -> Csr:
    """Plex's sonic neighbours as similarities in (0, 1]: the closest neighbour of each track scores 1."""
    rows: list[int] = []
    cols: list[int] = []
    vals: list[float] = []
    for key, neighbours in sonic.items():
        i = index.get(key)
        if i is None or not neighbours:
            continue
        nearest = min(d for _, d in neighbours)
        for other, distance in neighbours:
            j = index.get(other)
            if j is not None and j != i:
                rows.append(i)
                cols.append(j)
                vals.append(1.0 / (1.0 + max(0.0, distance - nearest)))
    return csr_from_triplets(
        np.asarray(vals, dtype=np.float32), np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64), (n, n)
    )


class RecommendationModel:
    """A built model: ``similar`` for seed tracks, ``for_user`` for the account it was built for; save/load to disk."""

    def __init__(
        self,
        *,
        params: ModelParams,
        keys: npt.NDArray[np.int64],
        titles: list[str],
        artists: list[str],
        ctx: _ContextIndex,
        neighbours: Csr,
        embedding: FloatArray,
        artist_of: IntArray,
        album_of: IntArray,
        tag_matrix: Csr,
        tag_names: list[str],
        sonic: Csr,
        popularity: FloatArray,
        rating: FloatArray,
        plays: IntArray,
        last_played: npt.NDArray[np.int64],
        dislike: FloatArray,
    ) -> None:
        self.params = params
        self._keys = keys
        self._index = {key: i for i, key in enumerate(keys.tolist())}
        self._titles = titles
        self._artists = artists
        self._ctx = ctx.with_weights(params.session_weight)
        self._neighbours = neighbours
        self._embedding = embedding
        self._artist_of = artist_of
        self._album_of = album_of
        self._tag_matrix = tag_matrix
        self._tag_names = tag_names
        self._sonic = sonic
        self._popularity = popularity
        self._rating = rating
        self._plays = plays
        self._last_played = last_played
        self._dislike = dislike
        self._familiarity = self._compute_familiarity().astype(np.float64)
        self._popularity64 = popularity.astype(np.float64)
        self._popularity_peak = float(popularity.max(initial=0.0))
        self._dislike64 = dislike.astype(np.float64)
        self._has_dislikes = bool(np.any(dislike > 0))
        self._disliked = np.asarray(rating <= _DISLIKED, dtype=bool)
        self._artists_index = _GroupIndex.build(artist_of)
        self._albums_index = _GroupIndex.build(album_of)
        self._taste = self._taste_seeds()
        self._taste_parts: _Parts | None = None
        self._candidates = self._for_user_candidates()
        self._in_playlists = self._incidence(_KIND_PLAYLIST)
        self._in_sessions = self._incidence(_KIND_SESSION)

    def _incidence(self, kind: int) -> Csr:
        """Track × context 0/1 matrix restricted to one kind of context, for explaining co-occurrence."""
        ctx = self._ctx
        n = len(self._keys)
        item_of_entry = np.repeat(np.arange(n, dtype=np.int32), np.diff(ctx.item_indptr))
        keep = ctx.kinds[ctx.item_ctx] == kind
        return csr_from_triplets(
            np.ones(int(keep.sum()), dtype=np.float32),
            item_of_entry[keep],
            ctx.item_ctx[keep],
            (n, max(len(ctx.kinds), 1)),
        )

    # -- queries ---------------------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._keys)

    def knows(self, key: int) -> bool:
        """Whether ``key`` is a track of the library the model was built from."""
        return key in self._index

    def similar(
        self,
        seeds: Sequence[int],
        *,
        limit: int,
        exclude: Collection[int] = (),
        per_artist: int | None = None,
        novelty: float = 0.0,
    ) -> list[Recommendation]:
        """Up to ``limit`` tracks to play with ``seeds`` (track keys in play order), best first.

        Seeds the model does not know are ignored; the seeds themselves and ``exclude`` are never returned.
        """
        _check_options(limit, per_artist, novelty)
        seed_idx = [self._index[k] for k in dict.fromkeys(seeds) if k in self._index]
        if not seed_idx or limit == 0:
            return []
        n = len(seed_idx)
        weights = self.params.recency ** np.arange(n - 1, -1, -1, dtype=np.float64)
        s = _Seeds(np.asarray(seed_idx, dtype=np.int32), (weights / weights.max()).astype(np.float32))
        parts = self._components(s, sessions=True)
        banned = self._banned(exclude, s.index)
        if self.params.expansion > 0:
            parts = self._expanded(parts, s, banned)
        return self._answer(parts, s, banned, limit=limit, per_artist=per_artist, novelty=novelty, user=False)

    def _expanded(self, parts: _Parts, s: _Seeds, banned: npt.NDArray[np.bool_]) -> _Parts:
        """Re-score co-occurrence with the first pass's best tracks added as lighter seeds (pseudo-relevance).

        Only tracks the seeds actually co-occur with may join (popularity or tags alone would drift the query),
        ranked by the co-occurrence sources alone.
        """
        co = {name: parts.sparse[name] for name in _CO_OCCURRENCE if name in parts.sparse}
        ranked = self._rank(_Parts(sparse=co, tags=None), banned, novelty=0.0, breadth=0, similar=True, dense=False)
        keep = ranked.total > 0
        order = np.argsort(-ranked.total[keep], kind="stable")[: self.params.expansion]
        extra = ranked.index[keep][order].astype(np.int32)
        if not len(extra):
            return parts
        grown = _Seeds(
            np.concatenate([s.index, extra]),
            np.concatenate([s.weight, np.full(len(extra), self.params.expansion_weight, dtype=np.float32)]),
        )
        sparse = dict(parts.sparse)
        sparse["sessions"] = self._session_knn(grown)
        if "embedding" in sparse:
            sparse["embedding"] = self._embedding_part(grown, sparse["sessions"])
        if "neighbours" in sparse:
            sparse["neighbours"] = _sum_rows(self._neighbours, grown)
        return _Parts(sparse=sparse, tags=parts.tags)

    def for_user(
        self,
        *,
        limit: int,
        exclude: Collection[int] = (),
        per_artist: int | None = None,
        novelty: float = 0.0,
    ) -> list[Recommendation]:
        """Up to ``limit`` unrated or long-unplayed tracks for the taste shown by the account's ratings and plays."""
        _check_options(limit, per_artist, novelty)
        seeds = self._taste
        if limit == 0 or not len(seeds.index):
            return []
        if self._taste_parts is None:
            # The account's taste is fixed for the model's lifetime: score it once.
            self._taste_parts = self._components(seeds, sessions=False)
        parts = self._taste_parts
        banned = self._banned(exclude, np.zeros(0, dtype=np.int32))
        banned |= ~self._candidates
        return self._answer(parts, seeds, banned, limit=limit, per_artist=per_artist, novelty=novelty, user=True)

    # -- scoring ---------------------------------------------------------------------------------------------

    def _components(self, s: _Seeds, *, sessions: bool) -> _Parts:
        """Each evidence source's raw scores: sparse for the seed-driven ones, dense for tags."""
        sparse: dict[str, _Part] = {}
        if sessions:
            sparse["sessions"] = self._session_knn(s)
            if self.params.w_embedding > 0:
                sparse["embedding"] = self._embedding_part(s, sparse["sessions"])
        if self._weights(similar=sessions)["neighbours"] > 0:
            sparse["neighbours"] = _sum_rows(self._neighbours, s)
        if self.params.w_artist > 0:
            sparse["artist"] = self._artists_index.score(self._artist_of, s)
        if self.params.w_album > 0:
            sparse["album"] = self._albums_index.score(self._album_of, s)
        if self._sonic.nnz:
            sparse["sonic"] = _sum_rows(self._sonic, s)
        tags: Vector | None = None
        if self.params.w_tags > 0 and self._tag_matrix.nnz:
            profile = _sum_rows(self._tag_matrix, s).dense(self._tag_matrix.shape[1])
            tags = np.asarray(self._tag_matrix @ profile, dtype=np.float64).ravel()
        return _Parts(sparse=sparse, tags=tags)

    def _session_knn(self, s: _Seeds) -> _Part:
        """Score tracks by the playlists/sessions that share the most (recent) seeds, normalised by their length."""
        ctx = self._ctx
        starts = ctx.item_indptr[s.index]
        counts = ctx.item_indptr[s.index + 1] - starts
        if counts.sum() == 0:
            return _Part.empty()
        entries = _ranges(starts, counts)
        hit_ctx = ctx.item_ctx[entries]
        p = self.params
        seed_w = s.weight.astype(np.float64)
        if p.seed_idf:
            n_ctx = max(len(ctx.kinds), 1)
            seed_w = seed_w * np.log1p(n_ctx / np.maximum(counts, 1)) ** p.seed_idf
        hit_w = np.repeat(seed_w, counts)
        uniq, inverse = np.unique(hit_ctx, return_inverse=True)
        overlap = np.bincount(inverse, weights=hit_w)
        last_match = np.zeros(len(uniq), dtype=np.int64)
        np.maximum.at(last_match, inverse, ctx.item_pos[entries])
        kind_weight = np.where(ctx.kinds[uniq] == _KIND_SESSION, p.session_weight, 1.0)
        sim = overlap * kind_weight / ctx.lengths[uniq] ** p.session_length_exponent
        if p.session_power != 1.0:
            sim = sim**p.session_power
        k = p.session_neighbours
        if len(uniq) > k:
            top = np.argpartition(-sim, k - 1)[:k]
            uniq, sim, last_match = uniq[top], sim[top], last_match[top]
        item_counts = ctx.ctx_indptr[uniq + 1] - ctx.ctx_indptr[uniq]
        entries = _ranges(ctx.ctx_indptr[uniq], item_counts)
        items = ctx.ctx_items[entries]
        vote = np.repeat(sim, item_counts)
        if p.follow_boost:
            distance = entries - np.repeat(ctx.ctx_indptr[uniq] + last_match, item_counts)
            follows = distance > 0
            vote[follows] *= 1.0 + p.follow_boost * p.follow_decay ** (distance[follows] - 1)
        part = _Part.summed(items, vote)
        if p.session_damping:
            # Divide by the track's own spread: a hit in every neighbour says less than a track they share alone.
            damped = part.value / np.maximum(ctx.item_weight[part.index], 1.0) ** p.session_damping
            return _Part(part.index, damped.astype(np.float64, copy=False))
        return part

    def _embedding_part(self, s: _Seeds, candidates: _Part) -> _Part:
        """The candidates' cosine with the seeds' summed track vectors (negative = unrelated = 0)."""
        if not len(candidates.index) or not self._embedding.shape[1]:
            return _Part.empty()
        query = s.weight.astype(np.float64) @ self._embedding[s.index].astype(np.float64)
        values = self._embedding[candidates.index].astype(np.float64) @ query
        return _Part(candidates.index, np.maximum(values, 0.0))

    def _banned(self, exclude: Collection[int], seeds: IntArray) -> npt.NDArray[np.bool_]:
        # A track rated at or below the dislike threshold is never recommended.
        banned = self._disliked.copy()
        banned[seeds] = True
        idx = [self._index[k] for k in exclude if k in self._index]
        if idx:
            banned[np.asarray(idx, dtype=np.int64)] = True
        return banned

    def _answer(
        self,
        parts: _Parts,
        s: _Seeds,
        banned: npt.NDArray[np.bool_],
        *,
        limit: int,
        per_artist: int | None,
        novelty: float,
        user: bool,
    ) -> list[Recommendation]:
        breadth = limit if per_artist is None else limit * 4
        while True:
            ranked = self._rank(parts, banned, novelty=novelty, breadth=breadth, similar=not user)
            artist_of = self._artist_of[ranked.index]
            chosen = _pick(ranked.total, limit, per_artist, artist_of)
            # The tracks outside the seed-driven candidates were cut to the best ``breadth``: widen if the
            # per-artist cap used them all up.
            if len(chosen) >= limit or breadth >= len(self._keys) or not ranked.truncated:
                break
            breadth *= 4
        return self._recommend_all(chosen, ranked, parts, s, user)

    def _rank(
        self,
        parts: _Parts,
        banned: npt.NDArray[np.bool_],
        *,
        novelty: float,
        breadth: int,
        similar: bool,
        dense: bool = True,
    ) -> _Ranked:
        """Total scores of the candidate tracks: every track a seed-driven source scored, plus (``dense``) the best
        ``breadth`` of the rest by the dense sources (tags, popularity), which alone rank every other track.

        Each source is scaled to peak at its weight over the allowed tracks.
        """
        weights = self._weights(similar=similar)
        scale: dict[str, float] = {}
        allowed: npt.NDArray[np.bool_] | None = None
        for name, part in parts.sparse.items():
            peak = float(np.max(part.value, where=~banned[part.index], initial=0.0))
            if weights[name] > 0 and peak > 0:
                scale[name] = weights[name] / peak
        used = [part.index for name, part in parts.sparse.items() if name in scale]
        truncated = False
        background: Vector | None = None
        if dense:
            allowed = ~banned
            if parts.tags is not None:
                peak = float(np.max(parts.tags, where=allowed, initial=0.0))
                if peak > 0:
                    scale["tags"] = weights["tags"] / peak
            if self._popularity_peak > 0 and weights["popularity"] > 0:
                scale["popularity"] = weights["popularity"] / self._popularity_peak
            background = self._popularity64 * scale.get("popularity", 0.0)
            if "tags" in scale and parts.tags is not None:
                background += parts.tags * scale["tags"]
            rest = np.where(allowed, background, 0.0)
            truncated = breadth < len(rest)
            best_rest = np.argpartition(-rest, breadth - 1)[:breadth] if truncated else np.arange(len(rest))
            used.append(best_rest.astype(np.int64))
        index = np.unique(np.concatenate(used)) if used else np.zeros(0, dtype=np.int64)
        total = background[index] if background is not None else np.zeros(len(index), dtype=np.float64)
        for name, part in parts.sparse.items():
            if name in scale:
                total[np.searchsorted(index, part.index)] += part.value * scale[name]
        if self.params.dislike_strength > 0 and self._has_dislikes:
            total *= 1.0 - self.params.dislike_strength * self._dislike64[index]
        if novelty > 0:
            total *= 1.0 - 0.9 * novelty * self._familiarity[index]
        total[banned[index]] = 0.0
        return _Ranked(index=index, total=total, scale=scale, truncated=truncated)

    def _weights(self, *, similar: bool) -> dict[str, float]:
        """Each source's weight in ``similar`` (seeds given) or ``for_user`` (the account's taste)."""
        p = self.params
        return {
            "sessions": p.w_sessions,
            "embedding": p.w_embedding if similar else 0.0,
            "neighbours": p.w_neighbours_similar if similar else p.w_neighbours,
            "artist": p.w_artist,
            "album": p.w_album,
            "tags": p.w_tags,
            "sonic": p.w_sonic,
            "popularity": p.w_popularity,
        }

    # -- the account's taste -----------------------------------------------------------------------------------

    def _taste_seeds(self) -> _Seeds:
        """The account's positive evidence (liked ratings, play counts), at most ``_REASON_SEEDS``, lightest first."""
        liked = np.where(np.isnan(self._rating), 0.0, np.clip((self._rating - 5.0) / 5.0, 0.0, 1.0))
        played = np.log1p(self._plays.astype(np.float64))
        if played.max(initial=0.0) > 0:
            played = 0.5 * played / played.max()
        weight = np.where(self._rating <= _DISLIKED, 0.0, np.maximum(liked, played))
        nonzero = np.flatnonzero(weight > 0)
        if len(nonzero) > _REASON_SEEDS:
            nonzero = nonzero[np.argpartition(-weight[nonzero], _REASON_SEEDS - 1)[:_REASON_SEEDS]]
        order = nonzero[np.argsort(weight[nonzero], kind="stable")]
        return _Seeds(order.astype(np.int32), weight[order].astype(np.float32))

    def _derive_user_vectors(self) -> None:
        """Precompute what depends only on the account: the dislike field (0..1) used to push tracks down."""
        disliked = np.flatnonzero(self._rating <= _DISLIKED)
        n = len(self._keys)
        if len(disliked):
            weight = ((_DISLIKED + 1.0 - self._rating[disliked]) / (_DISLIKED + 1.0)).astype(np.float32)
            s = _Seeds(disliked.astype(np.int32), weight)
            near = _sum_rows(self._neighbours, s).dense(n) + _sum_rows(self._sonic, s).dense(n)
            profile = _sum_rows(self._tag_matrix, s).dense(self._tag_matrix.shape[1])
            tags = np.asarray(self._tag_matrix @ profile, dtype=np.float32).ravel()
            field = _unit(near) + 0.5 * _unit(tags)
            self._dislike = _unit(field).astype(np.float32)
        else:
            self._dislike = np.zeros(n, dtype=np.float32)
        self._dislike64 = self._dislike.astype(np.float64)
        self._has_dislikes = bool(np.any(self._dislike > 0))

    def _for_user_candidates(self) -> npt.NDArray[np.bool_]:
        unrated = np.isnan(self._rating)
        newest = int(self._last_played.max(initial=0))
        long_unplayed = (self._rating >= _LIKED) & (self._last_played < newest - _LONG_UNPLAYED_S)
        return np.asarray(unrated | long_unplayed, dtype=bool)

    def _compute_familiarity(self) -> FloatArray:
        """How well-known a track already is, 0..1: the account's plays and the library's co-occurrence."""
        return (0.5 * _unit(np.log1p(self._plays.astype(np.float32))) + 0.5 * _unit(self._popularity)).astype(
            np.float32
        )

    # -- reasons ---------------------------------------------------------------------------------------------

    def _recommend_all(
        self, positions: Sequence[int], ranked: _Ranked, parts: _Parts, s: _Seeds, user: bool
    ) -> list[Recommendation]:
        """Recommendations with the reason of each one's largest contribution that can be explained by a seed."""
        if not positions:
            return []
        cols = ranked.index[np.asarray(positions, dtype=np.int64)]
        # Components in priority order: on a tie the more specific evidence explains (stable sort below).
        names = [c for c in _COMPONENTS if c in ranked.scale]
        contribution = np.stack([parts.values(c, cols, self._popularity64) * ranked.scale[c] for c in names])
        order = np.argsort(-contribution, axis=0, kind="stable")
        s = self._reason_seeds(s)
        explainers: dict[str, tuple[IntArray, npt.NDArray[np.int8] | None]] = {}
        answer: list[Recommendation] = []
        for col, i in enumerate(cols.tolist()):
            reason = "popular in your library"
            for row in order[:, col].tolist():
                name = names[row]
                if contribution[row, col] <= 0:
                    break
                if name == "popularity":
                    break
                if name not in explainers:
                    explainers.update(self._explainers(name, cols, s))
                seeds, kinds = explainers[name]
                if seeds[col] >= 0:
                    kind = _KIND_PLAYLIST if kinds is None else int(kinds[col])
                    reason = self._reason(name, i, int(seeds[col]), kind, user)
                    break
            score = round(float(ranked.total[positions[col]]), 6)
            answer.append(Recommendation(key=int(self._keys[i]), score=score, reason=reason))
        return answer

    def _explainers(
        self, name: str, cols: npt.NDArray[np.int64], s: _Seeds
    ) -> dict[str, tuple[IntArray, npt.NDArray[np.int8] | None]]:
        """For component ``name``: per chosen track, the seed that best explains it (-1: none) and, for
        co-occurrence, whether playlists or sessions dominate."""
        if name in _CO_OCCURRENCE:
            seeds, kinds = self._co_occurring_seeds(cols, s)
            return dict.fromkeys(_CO_OCCURRENCE, (seeds, kinds))
        if name in ("artist", "album"):
            group = self._artist_of if name == "artist" else self._album_of
            same = (group[s.index][:, np.newaxis] == group[cols][np.newaxis, :]) & (group[cols] >= 0)
            return {name: (_pick_seeds(s, same.astype(np.float64)), None)}
        if name == "tags":
            overlap = (self._tag_matrix[s.index] @ self._tag_matrix[cols].T).toarray()
            return {name: (_pick_seeds(s, overlap), None)}
        return {name: (_pick_seeds(s, self._sonic[s.index][:, cols].toarray()), None)}

    def _reason_seeds(self, s: _Seeds) -> _Seeds:
        """At most ``_REASON_SEEDS`` of the heaviest seeds (an account's taste can hold thousands)."""
        if len(s.index) <= _REASON_SEEDS:
            return s
        keep = np.sort(np.argpartition(-s.weight, _REASON_SEEDS - 1)[:_REASON_SEEDS])
        return _Seeds(s.index[keep], s.weight[keep])

    def _reason(self, component: str, i: int, seed: int, kind: int, user: bool) -> str:
        named = f"{self._name(seed)}{self._why_seed(seed, user)}"
        if component in _CO_OCCURRENCE:
            return f"often in your playlists with {named}" if kind == _KIND_PLAYLIST else f"often played with {named}"
        if component == "tags":
            return f"same {self._shared_tag(i, seed)} as {named}"
        return {"artist": "same artist as", "album": "same album as", "sonic": "sounds like"}[component] + " " + named

    def _shared_tag(self, i: int, seed: int) -> str:
        """The most specific (highest TF-IDF) tag track i shares with the seed, as "genre (rock)"."""
        m = self._tag_matrix
        mine = slice(m.indptr[i], m.indptr[i + 1])
        theirs = m.indices[m.indptr[seed] : m.indptr[seed + 1]]
        shared = np.isin(m.indices[mine], theirs)
        best = int(m.indices[mine][shared][np.argmax(m.data[mine][shared])])
        kind, _, value = self._tag_names[best].partition(":")
        return f"{kind} ({value})"

    def _co_occurring_seeds(self, cols: npt.NDArray[np.int64], s: _Seeds) -> tuple[IntArray, npt.NDArray[np.int8]]:
        """Per chosen track: the seed sharing the most (weighted) playlists/sessions (-1: none), and which kind."""
        in_playlists = (self._in_playlists[s.index] @ self._in_playlists[cols].T).toarray()
        in_sessions = (self._in_sessions[s.index] @ self._in_sessions[cols].T).toarray()
        row, found = _pick_rows(s, in_playlists + self.params.session_weight * in_sessions)
        seed = np.where(found, s.index[row], -1).astype(np.int32)
        picked = np.arange(len(cols))
        playlists = in_playlists[row, picked]
        kind = np.where(playlists * 2 >= playlists + in_sessions[row, picked], _KIND_PLAYLIST, _KIND_SESSION)
        return seed, kind.astype(np.int8)

    def _name(self, i: int) -> str:
        return f"“{self._titles[i]}” by {self._artists[i]}" if self._artists[i] else f"“{self._titles[i]}”"

    def _why_seed(self, seed: int, user: bool) -> str:
        if not user:
            return ""
        rating = float(self._rating[seed])
        if not math.isnan(rating):
            stars = rating / 2.0
            return f", which you rated {stars:g}★"
        return ", which you play often"

    # -- persistence -----------------------------------------------------------------------------------------

    def save(self, path: Path) -> None:
        """Write the model to ``path`` atomically (a numpy ``.npz`` archive with a JSON header)."""
        header = {
            "format": MODEL_FORMAT,
            "version": MODEL_VERSION,
            "params": asdict(self.params),
            "titles": self._titles,
            "artists": self._artists,
            "tag_names": self._tag_names,
        }
        arrays: dict[str, npt.NDArray[np.generic]] = {
            "header": np.frombuffer(json.dumps(header, ensure_ascii=False).encode("utf-8"), dtype=np.uint8),
            "keys": self._keys,
            "ctx_indptr": self._ctx.ctx_indptr,
            "ctx_items": self._ctx.ctx_items,
            "ctx_kinds": self._ctx.kinds,
            "item_indptr": self._ctx.item_indptr,
            "item_ctx": self._ctx.item_ctx,
            "item_pos": self._ctx.item_pos,
            "artist_of": self._artist_of,
            "album_of": self._album_of,
            "popularity": self._popularity,
            "rating": self._rating,
            "plays": self._plays,
            "last_played": self._last_played,
            "dislike": self._dislike,
            "embedding": self._embedding,
        }
        for name, matrix in (("nb", self._neighbours), ("tag", self._tag_matrix), ("sonic", self._sonic)):
            arrays[f"{name}_indptr"] = matrix.indptr
            arrays[f"{name}_indices"] = matrix.indices
            arrays[f"{name}_data"] = matrix.data
            arrays[f"{name}_shape"] = np.asarray(matrix.shape, dtype=np.int64)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as out:
                np.savez(out, **arrays)  # type: ignore[arg-type]
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    @classmethod
    def load(cls, path: Path) -> RecommendationModel:
        """Read a model written by :meth:`save`; raises ``ValueError`` for a missing, damaged or outdated file."""
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ValueError(f"cannot read the recommendation model {path}: {exc.strerror or exc}") from exc
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as archive:
                arrays = {name: archive[name] for name in archive.files}
            header = json.loads(bytes(arrays["header"]).decode("utf-8"))
        except Exception as exc:
            raise ValueError(f"{path} is not a PlexM8 recommendation model ({type(exc).__name__})") from exc
        if not isinstance(header, dict) or header.get("format") != MODEL_FORMAT:
            raise ValueError(f"{path} is not a PlexM8 recommendation model")
        if header.get("version") != MODEL_VERSION:
            raise ValueError(
                f"{path} is a recommendation model of format version {header.get('version')}, "
                f"this PlexM8 reads version {MODEL_VERSION}: rebuild the model"
            )
        try:
            return cls._from_arrays(header, arrays)
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise ValueError(f"{path} is a damaged recommendation model ({exc})") from exc

    @classmethod
    def _from_arrays(
        cls, header: Mapping[str, object], arrays: Mapping[str, npt.NDArray[np.generic]]
    ) -> RecommendationModel:
        raw_params = header["params"]
        if not isinstance(raw_params, dict):
            raise TypeError("params is not an object")
        known = {f.name for f in fields(ModelParams)}
        params = ModelParams(**{k: v for k, v in raw_params.items() if k in known})
        keys = np.asarray(arrays["keys"], dtype=np.int64)
        n = len(keys)
        titles, artists, tag_names = header["titles"], header["artists"], header["tag_names"]
        if not (isinstance(titles, list) and isinstance(artists, list) and isinstance(tag_names, list)):
            raise TypeError("titles, artists and tag_names must be lists")
        if len(titles) != n or len(artists) != n:
            raise ValueError("titles/artists do not match the track keys")

        def matrix(name: str) -> Csr:
            rows, cols = (int(v) for v in arrays[f"{name}_shape"])
            m = csr(
                np.asarray(arrays[f"{name}_data"], dtype=np.float32),
                np.asarray(arrays[f"{name}_indices"], dtype=np.int32),
                np.asarray(arrays[f"{name}_indptr"], dtype=np.int64),
                (rows, cols),
            )
            m.check_format(full_check=True)
            return m

        ctx = _ContextIndex(
            ctx_indptr=np.asarray(arrays["ctx_indptr"], dtype=np.int64),
            ctx_items=np.asarray(arrays["ctx_items"], dtype=np.int32),
            kinds=np.asarray(arrays["ctx_kinds"], dtype=np.int8),
            item_indptr=np.asarray(arrays["item_indptr"], dtype=np.int64),
            item_ctx=np.asarray(arrays["item_ctx"], dtype=np.int32),
            item_pos=np.asarray(arrays["item_pos"], dtype=np.int32),
            item_weight=np.zeros(n, dtype=np.float32),
        )
        if len(ctx.item_indptr) != n + 1 or (len(ctx.ctx_items) and int(ctx.ctx_items.max()) >= n):
            raise ValueError("the context index does not match the track keys")
        vectors = {
            name: np.asarray(arrays[name])
            for name in ("artist_of", "album_of", "popularity", "rating", "plays", "last_played", "dislike")
        }
        if any(len(v) != n for v in vectors.values()):
            raise ValueError("a per-track array does not match the track keys")
        embedding = np.asarray(arrays["embedding"], dtype=np.float32)
        if embedding.ndim != 2 or embedding.shape[0] != n or not np.all(np.isfinite(embedding)):
            raise ValueError("the track vectors do not match the track keys")
        neighbours, tag_matrix, sonic = matrix("nb"), matrix("tag"), matrix("sonic")
        if neighbours.shape != (n, n) or sonic.shape != (n, n) or tag_matrix.shape[0] != n:
            raise ValueError("a matrix does not match the track keys")
        return cls(
            params=params,
            keys=keys,
            titles=[str(t) for t in titles],
            artists=[str(a) for a in artists],
            ctx=ctx,
            neighbours=neighbours,
            embedding=embedding,
            artist_of=vectors["artist_of"].astype(np.int32),
            album_of=vectors["album_of"].astype(np.int32),
            tag_matrix=tag_matrix,
            tag_names=[str(t) for t in tag_names],
            sonic=sonic,
            popularity=vectors["popularity"].astype(np.float32),
            rating=vectors["rating"].astype(np.float32),
            plays=vectors["plays"].astype(np.int32),
            last_played=vectors["last_played"].astype(np.int64),
            dislike=vectors["dislike"].astype(np.float32),
        )


# -- helpers -------------------------------------------------------------------------------------------------


def _check_options(limit: int, per_artist: int | None, novelty: float) -> None:
    if limit < 0:
        raise ValueError("limit must be 0 or more")
    if per_artist is not None and per_artist < 1:
        raise ValueError("per_artist must be 1 or more")
    if not 0.0 <= novelty <= 1.0:
        raise ValueError("novelty must be between 0 and 1")


def _ranges(starts: npt.NDArray[np.int64], counts: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Concatenated ``arange(start, start + count)`` for each pair, without a Python loop."""
    total = int(counts.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    offsets = np.repeat(starts - np.concatenate(([0], np.cumsum(counts)[:-1])), counts)
    return np.arange(total, dtype=np.int64) + offsets


def _sum_rows(matrix: Csr, s: _Seeds) -> _Part:
    """``Σ weight_s · matrix[s]``, reading only the seeds' rows."""
    starts = matrix.indptr[s.index].astype(np.int64)
    counts = matrix.indptr[s.index + 1].astype(np.int64) - starts
    entries = _ranges(starts, counts)
    if not len(entries):
        return _Part.empty()
    return _Part.summed(matrix.indices[entries], matrix.data[entries] * np.repeat(s.weight, counts))


@dataclass(frozen=True, slots=True)
class _GroupIndex:
    """Tracks grouped by artist or album (CSR-style), so a group's members are found without scanning the library."""

    indptr: npt.NDArray[np.int64]
    members: npt.NDArray[np.int64]

    @classmethod
    def build(cls, group_of: IntArray) -> _GroupIndex:
        known = np.flatnonzero(group_of >= 0)
        order = known[np.argsort(group_of[known], kind="stable")]
        indptr = np.zeros(int(group_of.max(initial=-1)) + 2, dtype=np.int64)
        np.cumsum(np.bincount(group_of[known], minlength=len(indptr) - 1), out=indptr[1:])
        return cls(indptr=indptr, members=order.astype(np.int64))

    def score(self, group_of: IntArray, s: _Seeds) -> _Part:
        """Per track in the seeds' groups: the summed weight of the seeds in its group."""
        groups = group_of[s.index]
        known = groups >= 0
        if not known.any():
            return _Part.empty()
        uniq, inverse = np.unique(groups[known], return_inverse=True)
        weight = np.bincount(inverse, weights=s.weight[known])
        counts = self.indptr[uniq + 1] - self.indptr[uniq]
        members = self.members[_ranges(self.indptr[uniq], counts)]
        return _Part.summed(members, np.repeat(weight, counts))


def _pick_rows(
    s: _Seeds, evidence: npt.NDArray[np.floating[Any]]
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.bool_]]:
    """Per column of ``evidence`` (seeds × tracks): the row of the most weighted evidence (ties: later seed)."""
    value = s.weight[:, np.newaxis].astype(np.float64) * evidence
    best = value.shape[0] - 1 - np.argmax(value[::-1], axis=0)
    return best, value[best, np.arange(value.shape[1])] > 0


def _pick_seeds(s: _Seeds, evidence: npt.NDArray[np.floating[Any]]) -> IntArray:
    """Per column of ``evidence``: the track index of the best explaining seed, or -1 when no seed has any."""
    best, found = _pick_rows(s, evidence)
    return np.where(found, s.index[best], -1).astype(np.int32)


def _unit(vector: npt.NDArray[np.floating]) -> FloatArray:
    peak = float(np.max(vector, initial=0.0))
    return (vector / peak if peak > 0 else np.zeros_like(vector)).astype(np.float32)


def _pick(total: Vector, limit: int, per_artist: int | None, artist_of: IntArray) -> list[int]:
    """Indexes of the best-scoring tracks (score > 0), at most ``per_artist`` per artist."""
    positive = int(np.count_nonzero(total > 0))
    want = min(limit, positive)
    if want == 0:
        return []
    window = want if per_artist is None else min(positive, want * 4)
    while True:
        top = np.argpartition(-total, window - 1)[:window] if window < len(total) else np.arange(len(total))
        top = top[np.argsort(-total[top], kind="stable")]
        top = top[total[top] > 0]
        if per_artist is None:
            return [int(i) for i in top[:want]]
        chosen: list[int] = []
        per: dict[int, int] = {}
        for i in top.tolist():
            artist = int(artist_of[i])
            if artist >= 0:
                if per.get(artist, 0) >= per_artist:
                    continue
                per[artist] = per.get(artist, 0) + 1
            chosen.append(i)
            if len(chosen) == want:
                return chosen
        if window >= positive:
            return chosen
        window = min(positive, window * 4)
