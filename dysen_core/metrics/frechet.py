"""Feature-distribution distances for FVD, FID and KVD (paper App. B.1), in float64 numpy/scipy (issue 6, part 4).

Notation: ``mu1, s1`` / ``mu2, s2`` → the means μ and covariances Σ of two feature sets; ``x`` / ``y`` → two
feature matrices ``(N, D)``.

- ``GaussianStats``: streaming mean and covariance. Datasets stream: it keeps the count, the mean and the
  centred sum of outer products (``D × D``, float64), merged batch by batch with the parallel-variance
  update (Chan et al.), which equals the running sum / sum of outer products but does not lose digits to
  the cancellation Σxxᵀ − Nμμᵀ when features sit far from zero.
- ``frechet_distance``: d² = |μ1 − μ2|² + tr Σ1 + tr Σ2 − 2 tr (Σ1 Σ2)^½ (Fréchet distance of two Gaussians).
- ``polynomial_mmd``: the unbiased MMD² with kernel k(a, b) = (a·b / D + 1)³ over random subsets, as KID
  (Bińkowski et al.) and KVD compute it. It needs the features themselves: ``FeatureBank`` keeps them in
  float32, N × D × 4 bytes (10,000 videos of 400-d I3D logits: 16 MB).
"""

from __future__ import annotations

import numpy as np
from scipy import linalg

from ..errors import InputError


class GaussianStats:
    """Mean and covariance of features added batch by batch; ``merge`` joins two (e.g. from two workers)."""

    def __init__(self) -> None:
        self.count = 0
        self.mean: np.ndarray | None = None
        self._scatter: np.ndarray | None = None  # Σ (x − mean)(x − mean)ᵀ over everything added

    def add(self, features: np.ndarray) -> None:
        """Add a batch ``(N, D)`` of feature rows."""
        x = _rows(features)
        batch = GaussianStats()
        batch.count, batch.mean = len(x), x.mean(axis=0)
        centred = x - batch.mean
        batch._scatter = centred.T @ centred
        self.merge(batch)

    def merge(self, other: GaussianStats) -> GaussianStats:
        """Fold ``other`` into these statistics (in place); returns ``self``."""
        if other.count == 0:
            return self
        if self.count == 0:
            self.count, self.mean, self._scatter = other.count, other.mean.copy(), other._scatter.copy()
            return self
        if other.mean.shape != self.mean.shape:
            raise InputError(f"cannot merge {other.mean.shape[0]}-d features into {self.mean.shape[0]}-d statistics")
        total = self.count + other.count
        delta = other.mean - self.mean
        self.mean = self.mean + delta * (other.count / total)
        self._scatter = self._scatter + other._scatter + np.outer(delta, delta) * (self.count * other.count / total)
        self.count = total
        return self

    @property
    def covariance(self) -> np.ndarray:
        """The unbiased covariance (divisor N − 1, as ``np.cov``); needs at least two samples."""
        if self.count < 2:
            raise InputError(f"a covariance needs at least 2 samples, got {self.count}; feed the metric more videos")
        return self._scatter / (self.count - 1)


def _rows(features: np.ndarray) -> np.ndarray:
    x = np.asarray(features, dtype=np.float64)
    if x.ndim != 2 or len(x) == 0:
        raise InputError(f"features must be a non-empty (N, D) array, got shape {x.shape}")
    return x


def _psd_sqrt(s: np.ndarray) -> np.ndarray:
    """Symmetric square root of a covariance; eigenvalues below 0 (round-off) count as 0."""
    w, v = linalg.eigh(s)
    return (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T


def frechet_distance(mu1: np.ndarray, s1: np.ndarray, mu2: np.ndarray, s2: np.ndarray) -> float:
    """Squared Fréchet distance between N(mu1, s1) and N(mu2, s2), computed in float64.

    tr (Σ1 Σ2)^½ is taken as Σ √λ over the eigenvalues λ of the symmetric PSD matrix Σ1^½ Σ2 Σ1^½, which has
    the same eigenvalues as Σ1 Σ2. Unlike ``scipy.linalg.sqrtm(Σ1 Σ2)`` this never yields imaginary parts and
    stays exact for singular covariances (fewer samples than dimensions), so no ε·I offset is added: the only
    epsilon is that eigenvalues below 0 (round-off, ~1e-12 relative) are clipped to 0, and so is the result.
    """
    mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
    s1, s2 = np.asarray(s1, np.float64), np.asarray(s2, np.float64)
    d = mu1.shape[0]
    if mu2.shape != (d,) or s1.shape != (d, d) or s2.shape != (d, d):
        raise InputError(f"Fréchet distance needs matching shapes, got {mu1.shape}, {s1.shape}, {mu2.shape}, {s2.shape}")
    root1 = _psd_sqrt(s1)
    middle = root1 @ s2 @ root1
    eigenvalues = linalg.eigvalsh((middle + middle.T) / 2)
    trace_sqrt = np.sqrt(np.clip(eigenvalues, 0.0, None)).sum()
    diff = mu1 - mu2
    return max(float(diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * trace_sqrt), 0.0)


def stats_distance(a: GaussianStats, b: GaussianStats) -> float:
    """``frechet_distance`` of two streamed feature sets."""
    return frechet_distance(a.mean, a.covariance, b.mean, b.covariance)


class FeatureBank:
    """Keeps feature rows (float32) for estimators that need the samples, not only their moments (KVD)."""

    def __init__(self) -> None:
        self._chunks: list[np.ndarray] = []

    def add(self, features: np.ndarray) -> None:
        self._chunks.append(_rows(features).astype(np.float32))

    def array(self) -> np.ndarray:
        if not self._chunks:
            raise InputError("no features collected yet; call update() before compute()")
        return np.concatenate(self._chunks)


def polynomial_kernel(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """k(a, b) = (a·b / D + 1)³ for every row pair: ``(len(x), len(y))``."""
    return (x @ y.T / x.shape[1] + 1.0) ** 3


def polynomial_mmd(x: np.ndarray, y: np.ndarray, subsets: int = 100, subset_size: int = 1000, seed: int = 0) -> tuple[float, float]:
    """Unbiased MMD² between feature sets ``x`` and ``y`` (KID / KVD): mean and std over random subsets.

    Each of ``subsets`` rounds draws m = min(subset_size, len(x), len(y)) rows of each set without replacement:
    MMD² = Σ_{i≠j} k(x_i, x_j) / m(m−1) + Σ_{i≠j} k(y_i, y_j) / m(m−1) − 2 Σ_{i,j} k(x_i, y_j) / m².
    """
    x, y = _rows(x), _rows(y)
    if x.shape[1] != y.shape[1]:
        raise InputError(f"MMD needs features of one size, got {x.shape[1]} and {y.shape[1]}")
    m = min(subset_size, len(x), len(y))
    if m < 2:
        raise InputError(f"KVD needs at least 2 videos on each side, got {len(x)} and {len(y)}")
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(subsets):
        xs = x[rng.choice(len(x), m, replace=False)]
        ys = y[rng.choice(len(y), m, replace=False)]
        kxx, kyy = polynomial_kernel(xs, xs), polynomial_kernel(ys, ys)
        within = (kxx.sum() - np.trace(kxx) + kyy.sum() - np.trace(kyy)) / (m * (m - 1))
        values.append(within - 2.0 * polynomial_kernel(xs, ys).mean())
    return float(np.mean(values)), float(np.std(values))
