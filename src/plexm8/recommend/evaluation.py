"""Offline evaluation of playlist continuation: the protocol, its metrics and the baselines it is compared with.

Protocol (the one of ``data/yes_big/README.md``): each playlist is de-duplicated keeping first occurrences; test
playlists have at least 5 unique songs; the first ``ceil(n/2)`` songs are the seeds, the rest is held out; the whole
catalogue minus the seeds is ranked. The production model is asked through :meth:`RecommendationModel.similar`, the
same call the API makes.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from plexm8.recommend.data import LibrarySignals, TrackInfo
from plexm8.recommend.model import ModelParams, RecommendationModel, build_model
from plexm8.recommend.sparse import csr_from_triplets

__all__ = [
    "METRICS",
    "ContinuationCase",
    "EvaluationReport",
    "continuation_cases",
    "dedupe",
    "evaluate",
    "split_playlists",
]

METRICS = ("HR@10", "Recall@10", "Recall@100", "NDCG@10", "NEXT@10")
MIN_TEST_SONGS = 5
RANK_DEPTH = 100
#: How many test playlists the cold-start figure is measured on.
COLD_START_SAMPLE = 300

Ranker = Callable[[Sequence[int]], Sequence[int]]


@dataclass(frozen=True, slots=True)
class ContinuationCase:
    """One test playlist: the seeds given to the recommender and the held-out songs it should find."""

    seeds: tuple[int, ...]
    held_out: tuple[int, ...]


@dataclass(slots=True)
class _Scores:
    """Running sums of the per-playlist metrics."""

    sums: dict[str, float] = field(default_factory=lambda: dict.fromkeys(METRICS, 0.0))
    count: int = 0

    def add(self, ranked: Sequence[int], case: ContinuationCase) -> None:
        held = set(case.held_out)
        top10 = ranked[:10]
        hits10 = [r for r, key in enumerate(top10) if key in held]
        hits100 = sum(1 for key in ranked[:RANK_DEPTH] if key in held)
        self.sums["HR@10"] += 1.0 if hits10 else 0.0
        self.sums["Recall@10"] += len(hits10) / len(held)
        self.sums["Recall@100"] += hits100 / len(held)
        dcg = sum(1.0 / math.log2(r + 2) for r in hits10)
        ideal = sum(1.0 / math.log2(r + 2) for r in range(min(10, len(held))))
        self.sums["NDCG@10"] += dcg / ideal
        self.sums["NEXT@10"] += 1.0 if case.held_out[0] in top10 else 0.0
        self.count += 1

    def means(self) -> dict[str, float]:
        return {name: (value / self.count if self.count else 0.0) for name, value in self.sums.items()}


@dataclass(frozen=True, slots=True)
class EvaluationReport:
    """Mean metrics of the model and each baseline, over all test playlists and over the cold-start ones."""

    model: dict[str, float]
    baselines: dict[str, dict[str, float]]
    n_test: int
    cold_start: dict[str, float]
    n_cold_start: int
    cold_start_baselines: dict[str, dict[str, float]]

    def as_json(self) -> dict[str, object]:
        """The object ``plexm8 eval playlists --json`` prints."""
        return {
            "model": _rounded(self.model),
            "baselines": {name: _rounded(values) for name, values in self.baselines.items()},
            "n_test": self.n_test,
            "cold_start": _rounded(self.cold_start),
            "n_cold_start": self.n_cold_start,
            "cold_start_baselines": {name: _rounded(values) for name, values in self.cold_start_baselines.items()},
        }


def _rounded(values: dict[str, float]) -> dict[str, float]:
    return {name: round(value, 4) for name, value in values.items()}


def dedupe(playlist: Iterable[int]) -> list[int]:
    """The playlist without repeats, keeping first occurrences."""
    return list(dict.fromkeys(playlist))


def continuation_cases(playlists: Iterable[Sequence[int]]) -> list[ContinuationCase]:
    """Seeds/held-out pairs for every playlist with at least 5 unique songs."""
    cases: list[ContinuationCase] = []
    for playlist in playlists:
        unique = dedupe(playlist)
        if len(unique) >= MIN_TEST_SONGS:
            half = math.ceil(len(unique) / 2)
            cases.append(ContinuationCase(seeds=tuple(unique[:half]), held_out=tuple(unique[half:])))
    return cases


def split_playlists(
    playlists: Sequence[Sequence[int]], *, fraction: float = 0.2, seed: int = 0
) -> tuple[list[Sequence[int]], list[Sequence[int]]]:
    """Hold out ``fraction`` of the eligible playlists (≥ 5 unique songs) with a fixed seed: (train, test)."""
    eligible = [i for i, p in enumerate(playlists) if len(set(p)) >= MIN_TEST_SONGS]
    chosen = random.Random(seed).sample(eligible, round(len(eligible) * fraction))
    held = set(chosen)
    train = [p for i, p in enumerate(playlists) if i not in held]
    return train, [playlists[i] for i in sorted(held)]


def evaluate(
    tracks: Sequence[TrackInfo],
    train: Sequence[Sequence[int]],
    test: Sequence[Sequence[int]],
    *,
    params: ModelParams | None = None,
    baselines: bool = True,
    cold_start: bool = True,
    seed: int = 0,
    progress: Callable[[str, int, int | None], None] | None = None,
) -> EvaluationReport:
    """Build the production model from ``train`` as the user's playlists and score it (and baselines) on ``test``.

    Cold start: a fixed sample (``seed``) of up to :data:`COLD_START_SAMPLE` test playlists whose seed songs are all
    removed from the training playlists, so that they have no co-occurrence at all; a second model is built from
    that reduced training set with the same :func:`build_model`, and scored on the sample.
    """
    cases = continuation_cases(test)
    if not cases:
        raise ValueError("no test playlist has at least 5 unique songs")
    overall = _score(tracks, train, cases, params=params, baselines=baselines, progress=progress)
    cold: dict[str, dict[str, float]] = {}
    n_cold = 0
    if cold_start:
        sample = random.Random(seed).sample(cases, min(COLD_START_SAMPLE, len(cases)))
        removed = {key for case in sample for key in case.seeds}
        reduced = [[key for key in playlist if key not in removed] for playlist in train]
        cold = _score(tracks, reduced, sample, params=params, baselines=baselines, progress=progress)
        n_cold = len(sample)
    empty = dict.fromkeys(METRICS, 0.0)
    return EvaluationReport(
        model=overall["model"],
        baselines={name: values for name, values in overall.items() if name != "model"},
        n_test=len(cases),
        cold_start=cold.get("model", empty),
        n_cold_start=n_cold,
        cold_start_baselines={name: values for name, values in cold.items() if name != "model"},
    )


def _score(
    tracks: Sequence[TrackInfo],
    train: Sequence[Sequence[int]],
    cases: Sequence[ContinuationCase],
    *,
    params: ModelParams | None,
    baselines: bool,
    progress: Callable[[str, int, int | None], None] | None,
) -> dict[str, dict[str, float]]:
    model = build_model(LibrarySignals(tracks=tracks, playlists=train), progress=progress, params=params)
    rankers: dict[str, Ranker] = {"model": _model_ranker(model)}
    if baselines:
        rankers.update(_baselines(tracks, train))
    scores = {name: _Scores() for name in rankers}
    for number, case in enumerate(cases):
        if progress is not None and number % 500 == 0:
            progress("evaluating", number, len(cases))
        for name, ranker in rankers.items():
            scores[name].add(list(ranker(case.seeds)), case)
    return {name: s.means() for name, s in scores.items()}


def _model_ranker(model: RecommendationModel) -> Ranker:
    def rank(seeds: Sequence[int]) -> list[int]:
        return [r.key for r in model.similar(seeds, limit=RANK_DEPTH)]

    return rank


def _baselines(tracks: Sequence[TrackInfo], train: Sequence[Sequence[int]]) -> dict[str, Ranker]:
    """Popularity, same artist and item-kNN (co-occurrence cosine), all over the same training playlists."""
    index = {t.key: i for i, t in enumerate(tracks)}
    keys = np.asarray([t.key for t in tracks], dtype=np.int64)
    n = len(tracks)
    rows: list[int] = []
    cols: list[int] = []
    for c, playlist in enumerate(train):
        for key in dedupe(playlist):
            if key in index:
                rows.append(index[key])
                cols.append(c)
    x = csr_from_triplets(
        np.ones(len(rows), dtype=np.float32),
        np.asarray(rows, dtype=np.int64),
        np.asarray(cols, dtype=np.int64),
        (n, max(len(train), 1)),
    )
    popularity = np.asarray(x.sum(axis=1)).ravel().astype(np.float64)
    # Ties broken by popularity, so every baseline ranks the whole catalogue.
    tie_break = popularity / (popularity.max() + 1.0) * 1e-6
    by_popularity = np.argsort(-popularity, kind="stable")
    artists: dict[str, list[int]] = {}
    for i, t in enumerate(tracks):
        artists.setdefault(t.artist.casefold(), []).append(i)
    artist_of = [t.artist.casefold() for t in tracks]
    norms = np.sqrt(np.maximum(popularity, 1e-12))
    xt = x.T.tocsr()

    def seed_indexes(seeds: Sequence[int]) -> list[int]:
        return [index[k] for k in seeds if k in index]

    def top(scores: npt.NDArray[np.float64], seeds: list[int]) -> list[int]:
        scores = scores + tie_break
        scores[seeds] = -np.inf
        best = np.argpartition(-scores, RANK_DEPTH)[:RANK_DEPTH]
        best = best[np.argsort(-scores[best], kind="stable")]
        return [int(k) for k in keys[best]]

    def popular(seeds: Sequence[int]) -> list[int]:
        banned = set(seed_indexes(seeds))
        return [int(keys[i]) for i in by_popularity[: RANK_DEPTH + len(banned)] if i not in banned][:RANK_DEPTH]

    def same_artist(seeds: Sequence[int]) -> list[int]:
        idx = seed_indexes(seeds)
        scores = np.zeros(n, dtype=np.float64)
        for i in idx:
            scores[artists[artist_of[i]]] += 1.0
        return top(scores, idx)

    def item_knn(seeds: Sequence[int]) -> list[int]:
        idx = seed_indexes(seeds)
        co = np.asarray((x[idx] @ xt).todense(), dtype=np.float64)
        cosine = co / norms[idx][:, np.newaxis] / norms[np.newaxis, :]
        return top(cosine.sum(axis=0), idx)

    return {"popularity": popular, "same_artist": same_artist, "item_knn": item_knn}
