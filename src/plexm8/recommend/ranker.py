"""A small gradient-boosted ranker in numpy: oblivious trees (one split per level) fitted on binary log-loss.

Oblivious trees ask the same question of every node at one depth, so a tree of depth ``d`` is ``d`` (feature,
threshold) pairs and ``2 ** d`` leaf values; scoring all trees for a batch of rows is one comparison, one dot
product and one gather, with no Python loop over trees or nodes. The model is plain arrays, saved inside the
recommendation model file (no pickle).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["Booster", "BoosterParams", "fit_booster"]

Matrix = npt.NDArray[np.float64]
Vector = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class BoosterParams:
    """How the ranker is fitted: a logistic start (``linear``) and ``trees`` oblivious trees boosted on top."""

    trees: int = 100
    depth: int = 4
    learning_rate: float = 0.1
    #: Each feature is cut at up to ``bins - 1`` of its quantiles.
    bins: int = 32
    #: L2 penalty on leaf values (in units of summed Hessian) and on the standardised linear weights.
    l2: float = 10.0
    #: Share of the rows (logloss) or queries (lambdarank) each tree is grown on (stochastic gradient boosting).
    subsample: float = 0.3
    seed: int = 0
    #: "logloss" (each row on its own) or "lambdarank" (pairs within a query, weighted by their NDCG change).
    objective: str = "logloss"
    #: Start from a logistic regression over the features: the trees then only correct it, and the linear part
    #: keeps the fine order of strong features that quantile bins would blur.
    linear: bool = True


@dataclass(frozen=True, slots=True)
class Booster:
    """Fitted trees: per tree and level the feature and threshold (go right when ``x > threshold``), leaf values."""

    features: npt.NDArray[np.int32]
    thresholds: Matrix
    leaves: Matrix
    base: float
    n_features: int
    #: Weights of the linear start (zeros: none).
    linear: Vector

    def __post_init__(self) -> None:
        trees, depth = self.features.shape
        if self.linear.shape != (self.n_features,) or not np.all(np.isfinite(self.linear)):
            raise ValueError("the ranker's linear weights are damaged")
        if self.thresholds.shape != (trees, depth) or self.leaves.shape != (trees, 2**depth):
            raise ValueError("the ranker's tree arrays do not agree in shape")
        if trees and (int(self.features.min()) < 0 or int(self.features.max()) >= self.n_features):
            raise ValueError("the ranker refers to a feature it does not have")
        if not (np.all(np.isfinite(self.leaves)) and math.isfinite(self.base)):
            raise ValueError("the ranker's leaf values are not finite")

    def predict(self, x: Matrix) -> Vector:
        """The raw score (log-odds) of each row of ``x`` (rows × ``n_features``)."""
        if x.ndim != 2 or x.shape[1] != self.n_features:
            raise ValueError(f"expected {self.n_features} features, got an array of shape {x.shape}")
        trees, depth = self.features.shape
        start = self.base + x @ self.linear
        if not trees:
            return start
        right = x[:, self.features] > self.thresholds[np.newaxis]
        leaf = right.astype(np.int64) @ (1 << np.arange(depth, dtype=np.int64))
        return np.asarray(start + self.leaves[np.arange(trees)[np.newaxis, :], leaf].sum(axis=1), dtype=np.float64)

    def arrays(self, prefix: str) -> dict[str, npt.NDArray[np.generic]]:
        """The booster as named arrays (for :func:`numpy.savez`)."""
        return {
            f"{prefix}features": self.features,
            f"{prefix}thresholds": self.thresholds,
            f"{prefix}leaves": self.leaves,
            f"{prefix}linear": self.linear,
            f"{prefix}meta": np.asarray([self.base, float(self.n_features)], dtype=np.float64),
        }

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, npt.NDArray[np.generic]], prefix: str) -> Booster:
        """The booster :meth:`arrays` wrote; raises ``ValueError`` (or ``KeyError``) when the arrays are damaged."""
        meta = np.asarray(arrays[f"{prefix}meta"], dtype=np.float64)
        if meta.shape != (2,):
            raise ValueError("the ranker's header is damaged")
        features = np.asarray(arrays[f"{prefix}features"])
        if features.ndim != 2 or not np.issubdtype(features.dtype, np.integer):
            raise ValueError("the ranker's feature table is damaged")
        return cls(
            features=features.astype(np.int32),
            thresholds=np.asarray(arrays[f"{prefix}thresholds"], dtype=np.float64),
            leaves=np.asarray(arrays[f"{prefix}leaves"], dtype=np.float64),
            base=float(meta[0]),
            n_features=int(meta[1]),
            linear=np.asarray(arrays[f"{prefix}linear"], dtype=np.float64),
        )


def fit_booster(
    x: Matrix, y: npt.NDArray[np.bool_], groups: npt.NDArray[np.int64], params: BoosterParams | None = None
) -> Booster:
    """Fit oblivious trees to labels ``y`` (True = relevant) by Newton boosting.

    ``groups`` numbers the query each row belongs to (rows of one query contiguous, queries in increasing order).
    """
    p = params or BoosterParams()
    if p.objective not in ("logloss", "lambdarank"):
        raise ValueError(f"unknown objective {p.objective!r}")
    n, n_features = x.shape
    positive = float(np.count_nonzero(y))
    if n == 0 or positive in (0.0, float(n)):
        # Nothing to separate: a constant ranker keeps the first stage's order.
        rate = min(max(positive / max(n, 1), 1e-6), 1 - 1e-6)
        return Booster(
            np.zeros((0, p.depth), dtype=np.int32),
            np.zeros((0, p.depth)),
            np.zeros((0, 2**p.depth)),
            float(np.log(rate / (1 - rate))),
            n_features,
            np.zeros(n_features),
        )
    edges = _edges(x, p.bins)
    binned = np.empty(x.shape, dtype=np.int64)
    for f in range(n_features):
        binned[:, f] = np.searchsorted(edges[f], x[:, f], side="left")
    target = y.astype(np.float64)
    rate = positive / n
    base = float(np.log(rate / (1 - rate)))
    linear = np.zeros(n_features)
    if p.linear:
        base, linear = _logistic(x, target, base, p.l2)
    score = base + x @ linear
    rng = np.random.default_rng(p.seed)
    n_bins = p.bins
    levels = 1 << np.arange(p.depth, dtype=np.int64)
    feature_offset = np.arange(n_features, dtype=np.int64) * n_bins
    tree_features = np.zeros((p.trees, p.depth), dtype=np.int32)
    tree_thresholds = np.zeros((p.trees, p.depth))
    tree_leaves = np.zeros((p.trees, 2**p.depth))
    take = max(1, round(n * p.subsample))
    pairs = _Pairs.build(y, groups) if p.objective == "lambdarank" else None
    n_groups = int(groups.max()) + 1 if n else 0
    for t in range(p.trees):
        if pairs is not None:
            # Whole queries are sampled: a pair needs both its rows.
            picked = rng.random(n_groups) < p.subsample
            rows = np.flatnonzero(picked[groups])
            pair_grad, pair_hess = pairs.gradients(score, groups)
            grad, hess = pair_grad[rows], np.maximum(pair_hess[rows], 1e-12)
        else:
            rows = np.sort(rng.choice(n, size=take, replace=False)) if take < n else np.arange(n)
            prob = 1.0 / (1.0 + np.exp(-np.clip(score[rows], -30.0, 30.0)))
            grad = prob - target[rows]
            hess = np.maximum(prob * (1.0 - prob), 1e-12)
        bins = binned[rows]
        leaf = np.zeros(len(rows), dtype=np.int64)
        for level in range(p.depth):
            n_leaves = 1 << level
            flat = ((leaf * n_features)[:, np.newaxis] * n_bins + feature_offset[np.newaxis, :] + bins).ravel()
            size = n_leaves * n_features * n_bins
            g_hist = np.bincount(flat, weights=np.repeat(grad, n_features), minlength=size)
            h_hist = np.bincount(flat, weights=np.repeat(hess, n_features), minlength=size)
            g_left = np.cumsum(g_hist.reshape(n_leaves, n_features, n_bins), axis=2)
            h_left = np.cumsum(h_hist.reshape(n_leaves, n_features, n_bins), axis=2)
            g_all, h_all = g_left[:, :, -1:], h_left[:, :, -1:]
            g_right, h_right = g_all - g_left, h_all - h_left
            gain = (g_left**2 / (h_left + p.l2) + g_right**2 / (h_right + p.l2) - g_all**2 / (h_all + p.l2)).sum(axis=0)
            # Only real cut points: bin k splits at edges[f][k], and padded edges are +inf.
            gain[:, -1] = -np.inf
            gain[~np.isfinite(edges)] = -np.inf
            best = int(np.argmax(gain))
            f, k = divmod(best, n_bins)
            tree_features[t, level] = f
            tree_thresholds[t, level] = edges[f, k] if np.isfinite(gain[f, k]) else np.inf
            leaf |= (bins[:, f] > k).astype(np.int64) << level
        g_leaf = np.bincount(leaf, weights=grad, minlength=2**p.depth)
        h_leaf = np.bincount(leaf, weights=hess, minlength=2**p.depth)
        values = -p.learning_rate * g_leaf / (h_leaf + p.l2)
        tree_leaves[t] = values
        all_leaf = (x[:, tree_features[t]] > tree_thresholds[t][np.newaxis]).astype(np.int64) @ levels
        score += values[all_leaf]
    return Booster(tree_features, tree_thresholds, tree_leaves, base, n_features, linear)


def _logistic(x: Matrix, y: Vector, base: float, l2: float = 10.0, steps: int = 12) -> tuple[float, Vector]:
    """Intercept and weights of an L2-regularised logistic regression (damped Newton on standardised features)."""
    mean = x.mean(axis=0)
    std = x.std(axis=0)
    std[std == 0] = 1.0
    z = np.column_stack([np.ones(len(x)), (x - mean) / std])
    penalty = np.full(z.shape[1], l2)
    penalty[0] = 0.0

    def loss(w: Vector) -> float:
        margin = z @ w
        return float(np.logaddexp(0.0, margin).sum() - y @ margin + 0.5 * (penalty * w * w).sum())

    w = np.zeros(z.shape[1])
    w[0] = base
    current = loss(w)
    for _ in range(steps):
        prob = 1.0 / (1.0 + np.exp(-np.clip(z @ w, -30.0, 30.0)))
        grad = z.T @ (prob - y) + penalty * w
        hess = (z * (prob * (1.0 - prob))[:, np.newaxis]).T @ z + np.diag(penalty + 1e-6)
        direction = np.linalg.solve(hess, grad)
        step = 1.0
        # Halve the step until the loss falls: a full Newton step can overshoot on near-collinear features.
        while step > 1e-3 and loss(w - step * direction) > current:
            step /= 2
        if step <= 1e-3:
            break
        w = w - step * direction
        current = loss(w)
    weights = w[1:] / std
    return float(w[0] - weights @ mean), weights


@dataclass(frozen=True, slots=True)
class _Pairs:
    """Every (relevant, irrelevant) row pair within a query, for LambdaRank's gradients."""

    good: npt.NDArray[np.int64]
    bad: npt.NDArray[np.int64]
    ideal: Vector

    @classmethod
    def build(cls, y: npt.NDArray[np.bool_], groups: npt.NDArray[np.int64]) -> _Pairs:
        n_groups = int(groups.max()) + 1
        good_rows = np.flatnonzero(y)
        bad_rows = np.flatnonzero(~y)
        good_per = np.bincount(groups[good_rows], minlength=n_groups)
        bad_per = np.bincount(groups[bad_rows], minlength=n_groups)
        bad_start = np.concatenate(([0], np.cumsum(bad_per)[:-1]))
        # Each relevant row pairs with every irrelevant row of its query.
        reps = bad_per[groups[good_rows]]
        good = np.repeat(good_rows, reps)
        offsets = np.arange(int(reps.sum())) - np.repeat(np.cumsum(reps) - reps, reps)
        bad = bad_rows[np.repeat(bad_start[groups[good_rows]], reps) + offsets]
        discounts = 1.0 / np.log2(np.arange(2, int(good_per.max(initial=1)) + 2))
        ideal = np.concatenate(([0.0], np.cumsum(discounts)))[good_per]
        return cls(good=good, bad=bad, ideal=np.maximum(ideal, 1e-12))

    def gradients(self, score: Vector, groups: npt.NDArray[np.int64]) -> tuple[Vector, Vector]:
        """Per row: the gradient and Hessian of the pairwise loss weighted by |ΔNDCG| (Burges 2010)."""
        n = len(score)
        order = np.lexsort((-score, groups))
        starts = np.searchsorted(groups[order], groups[order])
        rank = np.empty(n, dtype=np.int64)
        rank[order] = np.arange(n) - starts
        discount = 1.0 / np.log2(rank + 2.0)
        delta = np.abs(discount[self.good] - discount[self.bad]) / self.ideal[groups[self.good]]
        rho = 1.0 / (1.0 + np.exp(np.clip(score[self.good] - score[self.bad], -30.0, 30.0)))
        lam = delta * rho
        hess_pair = delta * rho * (1.0 - rho)
        grad = np.bincount(self.bad, weights=lam, minlength=n) - np.bincount(self.good, weights=lam, minlength=n)
        hess = np.bincount(self.good, weights=hess_pair, minlength=n) + np.bincount(
            self.bad, weights=hess_pair, minlength=n
        )
        return grad.astype(np.float64), hess.astype(np.float64)


def _edges(x: Matrix, bins: int) -> Matrix:
    """Per feature, up to ``bins - 1`` distinct quantiles as cut points, padded with +inf (features × bins)."""
    edges = np.full((x.shape[1], bins), np.inf)
    quantiles = np.linspace(0.0, 1.0, bins + 1)[1:-1]
    for f in range(x.shape[1]):
        cuts = np.unique(np.quantile(x[:, f], quantiles))
        # A cut at the maximum separates nothing.
        cuts = cuts[cuts < x[:, f].max()]
        edges[f, : len(cuts)] = cuts
    return edges
