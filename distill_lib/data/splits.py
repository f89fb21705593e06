"""Splitting: deterministic, stratified train/validation/test splits, and completing missing ones.

Every split is stratified by label with :func:`sklearn.model_selection.train_test_split`
(``random_state=seed``, default 0). A single labelled set is split 80/10/10 (test and validation
``round(0.1 * n)`` rows each); :func:`_complete_splits` turns any given subset of
train/validation/test into all three (the rules are in :func:`distill_lib.data.load_task`).
"""

from __future__ import annotations

import logging
from collections import Counter

import numpy as np

logger = logging.getLogger(__name__)

_SPLIT_SEED = 0
_VAL_FRACTION = 0.1
_TEST_FRACTION = 0.1
_SPLITS = ("train", "validation", "test")


def _stratified_split(labels: np.ndarray, *, seed: int, where: str) -> dict[str, np.ndarray]:
    """Indices of a stratified 80/10/10 train/validation/test split (each sorted)."""
    from sklearn.model_selection import train_test_split

    n = len(labels)
    n_test = round(_TEST_FRACTION * n)
    n_val = round(_VAL_FRACTION * n)
    counts = Counter(labels.tolist())
    k = len(counts)
    if n_test < k or n_val < k or n - n_test - n_val < k or min(counts.values()) < 3:
        raise ValueError(
            f"{where}: {n} rows with class counts {dict(sorted(counts.items()))} are too few for "
            "a stratified 80/10/10 train/validation/test split (every class needs at least 3 "
            "rows and every split at least one row per class). Add rows, or give the splits "
            'yourself as a dict: load_task({"train": ..., "validation": ..., "test": ...}).'
        )
    idx = np.arange(n)
    rest, test = train_test_split(idx, test_size=n_test, stratify=labels, random_state=seed)
    train, val = train_test_split(rest, test_size=n_val, stratify=labels[rest], random_state=seed)
    return {"train": np.sort(train), "validation": np.sort(val), "test": np.sort(test)}


def _carve(labels: np.ndarray, n_val: int, *, seed: int, where: str) -> tuple[np.ndarray, ...]:
    """Split ``n_val`` stratified rows off a training set: (train indices, validation indices)."""
    from sklearn.model_selection import train_test_split

    counts = Counter(labels.tolist())
    if n_val < len(counts) or len(labels) - n_val < len(counts) or min(counts.values()) < 2:
        raise ValueError(
            f"{where}: the training split ({len(labels)} rows, class counts "
            f"{dict(sorted(counts.items()))}) is too small to carve a stratified validation "
            f"split of {n_val} rows from it; give a validation split yourself."
        )
    train, val = train_test_split(
        np.arange(len(labels)), test_size=n_val, stratify=labels, random_state=seed
    )
    return np.sort(train), np.sort(val)


def _complete_splits(
    splits: dict[str, tuple[list[str], np.ndarray]], *, seed: int, where: str
) -> dict[str, tuple[list[str], np.ndarray]]:
    """Turn the given labelled splits into train/validation/test (rules in :func:`load_task`)."""
    if "train" not in splits:
        return splits
    if set(splits) == {"train"}:
        texts, labels = splits["train"]
        index = _stratified_split(labels, seed=seed, where=where)
        return {s: ([texts[i] for i in idx], labels[idx]) for s, idx in index.items()}
    out = dict(splits)
    if "test" not in out:
        logger.warning(
            "%s has no labelled test split: using its validation split as the test set and "
            "carving a new validation split from train.",
            where,
        )
        out["test"] = out.pop("validation")
    if "validation" not in out:
        texts, labels = out["train"]
        n_val = min(len(out["test"][1]), round(_VAL_FRACTION * len(labels)))
        train, val = _carve(labels, n_val, seed=seed, where=where)
        logger.warning(
            "%s: carved a stratified validation split of %d rows from train (seed %d).",
            where,
            len(val),
            seed,
        )
        out["train"] = ([texts[i] for i in train], labels[train])
        out["validation"] = ([texts[i] for i in val], labels[val])
    return {s: out[s] for s in _SPLITS}
