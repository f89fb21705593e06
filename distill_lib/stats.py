"""Statistics for comparing strategies honestly: seed CIs, paired bootstrap, collapse check.

A single seed's accuracy difference between two layer strategies can be noise. Two sources of
noise matter: the training seed (init of the head, dropout, batch order) and the finite test
set. :func:`paired_bootstrap` resamples both, *paired*: the same seeds and the same test
sentences are drawn for both strategies, so the variation the two share cancels out.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence

import numpy as np

from ._checks import check_int


def _check_confidence(confidence: float) -> None:
    if (
        isinstance(confidence, (bool, np.bool_))
        or not isinstance(confidence, (int, float, np.integer, np.floating))
        or not 0 < confidence < 1
    ):
        raise ValueError(
            f"confidence must be a number strictly between 0 and 1 (e.g. 0.95), got {confidence!r}"
        )


@functools.lru_cache(maxsize=8)
def _resample_weights(n_seeds: int, n_examples: int, n_resamples: int,
                      seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Read-only ``(B, N)`` example and ``(B, S)`` seed counts of :func:`_resampled_means`.

    They depend only on the shape and the seed, and drawing 2,000 multinomials over a
    thousand sentences is most of a bootstrap's time, so one report draws them once for all
    its comparisons (the same numbers as drawing them each time).
    """
    rng = np.random.default_rng(seed)
    example_w = rng.multinomial(n_examples, np.full(n_examples, 1 / n_examples), size=n_resamples)
    seed_w = rng.multinomial(n_seeds, np.full(n_seeds, 1 / n_seeds), size=n_resamples)
    weights = example_w.astype(float), seed_w.astype(float)
    for w in weights:
        w.flags.writeable = False
    return weights


def _resampled_means(values: np.ndarray, n_resamples: int, seed: int) -> np.ndarray:
    """``(n_resamples,)`` means of ``values`` ``(S, N)`` with seeds and examples resampled.

    Each draw resamples the N test examples (the same ones for every seed), then the S
    seeds, both with replacement. Multinomial counts are equivalent to drawing indices with
    replacement, and vectorise.
    """
    n_seeds, n_examples = values.shape
    example_w, seed_w = _resample_weights(n_seeds, n_examples, n_resamples, seed)
    per_seed = values @ example_w.T / n_examples  # (S, B): each seed on each resampled test set
    return (seed_w.T * per_seed).sum(axis=0) / n_seeds  # (B,)


def paired_bootstrap(
    correct_A: np.ndarray,
    correct_B: np.ndarray,
    *,
    n_resamples: int = 2000,
    seed: int = 0,
    confidence: float = 0.95,
) -> dict[str, float]:
    """Paired bootstrap test of ``accuracy(A) - accuracy(B)`` over seeds and test examples.

    Args:
        correct_A, correct_B: ``(n_seeds, n_examples)`` 0/1 arrays: whether run ``s`` of each
            strategy got test example ``n`` right. Row ``s`` of both must use the same seed,
            and column ``n`` the same sentence.
        n_resamples: bootstrap draws, an int >= 1.
        seed: seed of the resampling, an int >= 0.
        confidence: level of the interval on the difference, strictly between 0 and 1.

    Returns:
        ``{"diff", "ci_low", "ci_high", "p_value"}``: the observed mean difference, a
        percentile interval, and a two-sided p-value (twice the smaller tail of the bootstrap
        distribution around 0, at least ``1 / n_resamples``).
    """
    n_resamples = check_int("n_resamples", n_resamples, low=1)
    seed = check_int("seed", seed, low=0)
    _check_confidence(confidence)
    a = np.asarray(correct_A, dtype=float)
    b = np.asarray(correct_B, dtype=float)
    if a.ndim == 1:
        a, b = a[None], b[None]
    if a.shape != b.shape:
        raise ValueError(
            f"paired comparison needs the same seeds and test set: shapes {a.shape} vs {b.shape}"
        )
    if a.ndim != 2 or a.size == 0:
        raise ValueError(
            f"correct_A and correct_B must be non-empty (n_seeds, n_examples) arrays, got shape "
            f"{a.shape}"
        )
    d = a - b  # (S, N)
    return {"diff": float(d.mean()),
            **_interval_and_p(_resampled_means(d, n_resamples, seed), confidence)}


def _interval(values: np.ndarray, confidence: float) -> tuple[float, float]:
    """The central percentile interval of resampled values."""
    low, high = np.quantile(values, [(1 - confidence) / 2, (1 + confidence) / 2])
    return float(low), float(high)


def _interval_and_p(diffs: np.ndarray, confidence: float) -> dict[str, float]:
    """The percentile interval of resampled differences and a two-sided p-value: twice the
    smaller tail around 0, at least ``1 / len(diffs)``."""
    low, high = _interval(diffs, confidence)
    tail = min((diffs <= 0).mean(), (diffs >= 0).mean())
    return {"ci_low": low, "ci_high": high,
            "p_value": min(1.0, max(2 * tail, 1 / len(diffs)))}


def bootstrap_accuracy_ci(
    correct: np.ndarray,
    *,
    n_resamples: int = 2000,
    seed: int = 0,
    confidence: float = 0.95,
) -> tuple[float, float]:
    """Percentile bootstrap interval of a mean accuracy, resampling seeds and test sentences.

    The same two-level resampling as :func:`paired_bootstrap` (a seed is drawn, then the
    test sentences), so it reflects both the run-to-run noise and the finite test set. Every
    resampled value is an accuracy, so the interval always lies inside [0, 1], unlike a
    Student-t interval from two or three seeds (which can reach below 0 or above 1).

    Args:
        correct: ``(n_seeds, n_examples)`` 0/1 array (or ``(n_examples,)`` for one run).

    Returns:
        ``(low, high)`` accuracy fractions.
    """
    n_resamples = check_int("n_resamples", n_resamples, low=1)
    seed = check_int("seed", seed, low=0)
    _check_confidence(confidence)
    c = np.asarray(correct, dtype=float)
    if c.ndim == 1:
        c = c[None]
    if c.ndim != 2 or c.size == 0:
        raise ValueError(f"correct must be a non-empty (n_seeds, n_examples) array, got {c.shape}")
    low, high = _interval(_resampled_means(c, n_resamples, seed), confidence)
    return float(np.clip(low, 0.0, 1.0)), float(np.clip(high, 0.0, 1.0))


def _groups(correct: Sequence[np.ndarray], what: str) -> np.ndarray:
    """``(K, S, N)`` floats of K >= 2 strategies' ``(seeds, sentences)`` 0/1 arrays."""
    arrays = [np.asarray(c, dtype=float) for c in correct]
    shapes = {a.shape for a in arrays}
    if len(arrays) < 2 or len(shapes) != 1 or arrays[0].ndim != 2 or arrays[0].size == 0:
        raise ValueError(f"{what} needs at least two non-empty (n_seeds, n_examples) arrays of "
                         f"one shape (the same seeds and test set), got {sorted(shapes)}")
    return np.stack(arrays)


def _resampled_spreads(groups: np.ndarray, n_resamples: int, seed: int) -> np.ndarray:
    """``(n_resamples,)`` best-minus-worst mean accuracies of ``groups`` ``(K, S, N)``, every
    strategy resampled with the same seeds and sentences in each draw."""
    means = np.stack([_resampled_means(g, n_resamples, seed) for g in groups])  # (K, B)
    return means.max(axis=0) - means.min(axis=0)


def _spread(groups: np.ndarray) -> float:
    means = groups.mean(axis=(1, 2))
    return float(means.max() - means.min())


def paired_spread_change(
    correct_before: Sequence[np.ndarray],
    correct_after: Sequence[np.ndarray],
    *,
    n_resamples: int = 2000,
    seed: int = 0,
    confidence: float = 0.95,
) -> dict[str, float]:
    """Paired bootstrap of how far apart K strategies are under two settings (e.g. two
    losses): ``spread(after) - spread(before)``, where a spread is the highest minus the lowest
    mean accuracy of the K, re-chosen in every draw.

    A spread alone has no trustworthy percentile interval (it is biased upward when the
    strategies are close: with K equal strategies the interval excludes the true 0), so only
    the change is tested: the same K strategies on the same draws on both sides.

    Args:
        correct_before, correct_after: K >= 2 arrays ``(n_seeds, n_examples)`` of 0/1 each, the
            same strategies in the same order, every array paired (row ``s`` the same seed,
            column ``n`` the same sentence).

    Returns:
        ``{"diff", "ci_low", "ci_high", "p_value"}`` as :func:`paired_bootstrap`'s.
    """
    n_resamples = check_int("n_resamples", n_resamples, low=1)
    seed = check_int("seed", seed, low=0)
    _check_confidence(confidence)
    before = _groups(correct_before, "a spread change")
    after = _groups(correct_after, "a spread change")
    if before.shape != after.shape:
        raise ValueError(f"a spread change needs the same strategies, seeds and test set on "
                         f"both sides: shapes {before.shape} vs {after.shape}")
    diffs = (_resampled_spreads(after, n_resamples, seed)
             - _resampled_spreads(before, n_resamples, seed))
    return {"diff": _spread(after) - _spread(before), **_interval_and_p(diffs, confidence)}


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values (controls the family-wise error over many pairs)."""
    p = np.asarray(p_values, dtype=float)
    order = np.argsort(p)
    m = len(p)
    adjusted = np.empty(m)
    running = 0.0
    for rank, idx in enumerate(order):
        running = max(running, (m - rank) * p[idx])
        adjusted[idx] = min(1.0, running)
    return adjusted.tolist()


def majority_noise_margin(majority_rate: float, n_examples: int, z: float = 1.96) -> float:
    """Half-width of a 95% interval of an accuracy equal to ``majority_rate`` on n examples."""
    return z * math.sqrt(majority_rate * (1 - majority_rate) / max(1, n_examples))


def collapse_reason(
    predicted_counts: Sequence[int],
    accuracy: float,
    majority_rate: float,
    *,
    max_share: float = 0.95,
) -> str | None:
    """Why a run looks collapsed, or ``None``.

    A run is flagged when at least ``max_share`` of its test predictions are one class, or
    when its accuracy is not clearly above the majority-class rate (within the 95% sampling
    margin of that rate on this test set). ``max_share`` must be in ``(0, 1]``.
    """
    if (
        isinstance(max_share, (bool, np.bool_))
        or not isinstance(max_share, (int, float, np.integer, np.floating))
        or not 0 < max_share <= 1
    ):
        raise ValueError(f"max_share must be a number in (0, 1], got {max_share!r}")
    counts = np.asarray(predicted_counts, dtype=float)
    n = counts.sum()
    if n > 0 and counts.max() / n >= max_share:
        return f"predicts class {int(counts.argmax())} for {counts.max() / n:.0%} of inputs"
    margin = majority_noise_margin(majority_rate, int(n))
    if accuracy <= majority_rate + margin:
        return (
            f"accuracy {accuracy:.3f} is within noise of the majority rate {majority_rate:.3f} "
            f"(+/- {margin:.3f})"
        )
    return None
