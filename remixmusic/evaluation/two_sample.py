"""Classifier two-sample test: can a classifier tell two sets of pieces apart?

The test of Lopez-Paz & Oquab (2017, "Revisiting classifier two-sample tests", ICLR): train a classifier
to separate sample A from sample B and measure its held-out accuracy; 0.5 means the two are
indistinguishable to it, 1.0 perfectly separable. The classifier here is the k-nearest-neighbour rule on
standardized feature vectors (per-piece descriptors), scored by leave-one-out, which needs no training
loop and no extra dependency; the two samples are first balanced to the same size (a random subsample
of the larger), so chance accuracy is exactly 0.5. Under the null each leave-one-out prediction is close
to a fair coin, and the p-value is the binomial tail of the number of correct predictions (as in
Lopez-Paz & Oquab, Theorem 1; leave-one-out predictions are not independent, so it is approximate).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass
class TwoSampleResult:
    """``accuracy`` (leave-one-out, balanced samples of ``n_per_sample`` each), ``p_value`` (binomial
    tail of the correct predictions under accuracy 0.5) and ``k``. NaN with fewer than 2 per sample."""

    accuracy: float
    p_value: float
    n_per_sample: int
    k: int

    @property
    def indistinguishability(self) -> float:
        """``1 - 2 |accuracy - 0.5|``: 1 when the classifier does no better than chance, 0 when it
        separates the samples perfectly (or always confuses them)."""
        return 1.0 - 2.0 * abs(self.accuracy - 0.5) if math.isfinite(self.accuracy) else math.nan


def knn_two_sample(a: np.ndarray, b: np.ndarray, k: int = 5, seed: int = 0) -> TwoSampleResult:
    """The classifier two-sample test of the module docstring on feature matrices ``a`` (n_a x d) and
    ``b`` (n_b x d); rows with a NaN are dropped, features are standardized over both samples together
    (a constant feature is ignored).

    Raises:
        ValueError: ``a`` and ``b`` differ in their number of columns.
    """
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(f"feature matrices must be 2-D with the same columns, not {a.shape} and {b.shape}")
    a, b = a[~np.isnan(a).any(axis=1)], b[~np.isnan(b).any(axis=1)]
    n = min(len(a), len(b))
    if n < 2:
        return TwoSampleResult(math.nan, math.nan, n, k)
    rng = np.random.default_rng(seed)
    a, b = a[np.sort(rng.permutation(len(a))[:n])], b[np.sort(rng.permutation(len(b))[:n])]
    x = np.concatenate([a, b])
    y = np.repeat([0, 1], n)
    scale = x.std(axis=0)
    keep = scale > 0
    x = (x[:, keep] - x[:, keep].mean(axis=0)) / scale[keep]
    d = ((x[:, None, :] - x[None, :, :]) ** 2).sum(axis=2)
    np.fill_diagonal(d, np.inf)
    kk = max(1, min(k, 2 * n - 1))
    # Ties among distances are broken by a random jitter so the rule does not favour one sample.
    d = d + rng.uniform(0, 1e-9, d.shape)
    nearest = np.argpartition(d, kk - 1, axis=1)[:, :kk]
    votes = y[nearest].mean(axis=1)
    predicted = np.where(votes == 0.5, rng.integers(0, 2, len(y)), (votes > 0.5).astype(int))
    correct = int((predicted == y).sum())
    return TwoSampleResult(correct / len(y), _binomial_tail(correct, len(y)), n, kk)


def _binomial_tail(successes: int, trials: int) -> float:
    """P(X >= successes) for X ~ Binomial(trials, 1/2), summed exactly in log space."""
    if successes <= 0:
        return 1.0
    ks = np.arange(successes, trials + 1)
    log_terms = np.array(
        [math.lgamma(trials + 1) - math.lgamma(k + 1) - math.lgamma(trials - k + 1) for k in ks]
    )
    log_terms -= trials * math.log(2.0)
    top = log_terms.max()
    return float(min(1.0, math.exp(top) * np.exp(log_terms - top).sum()))
