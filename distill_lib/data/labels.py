"""The columns every task has: reading and checking ``text``/``label``, and the output schema.

Shared by local files (:mod:`.local`) and Hub sets (:mod:`.hub`); the built-in sets use the
schema only. :func:`_extract` checks the columns of one split (present, non-empty, no missing
text), :func:`_label_ids` maps raw label values (ints, floats, booleans, strings) to ids
``0 .. k-1`` and rejects missing, unknown or single-class labels, and :func:`_to_dataset_dict`
builds the final ``DatasetDict`` with ``text`` (``string``) and ``label`` (``ClassLabel``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import datasets
import numpy as np
from datasets import ClassLabel, Dataset, DatasetDict, Features, Value

__all__ = ["DEFAULT_LABEL_NAMES"]

DEFAULT_LABEL_NAMES: tuple[str, str] = ("negative", "positive")
"""Class names of the binary sentiment tasks; index = label id."""

# Default label strings when `label_names` is not given (compared case-insensitively).
_BINARY_SYNONYMS = {
    "0": 0,
    "neg": 0,
    "negative": 0,
    "false": 0,
    "1": 1,
    "pos": 1,
    "positive": 1,
    "true": 1,
}


def _features(label_names: Sequence[str], with_rating: bool) -> Features:
    cols: dict[str, Any] = {"text": Value("string"), "label": ClassLabel(names=list(label_names))}
    if with_rating:
        cols["rating"] = Value("float64")
    return Features(cols)


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _show(values: Sequence[Any], limit: int = 10) -> str:
    shown = ", ".join(repr(v) for v in list(values)[:limit])
    return f"[{shown}{', ...' if len(values) > limit else ''}]"


def _extract(
    ds: Dataset, text_column: str, label_column: str, where: str
) -> tuple[list[str], list[Any]]:
    """The text and raw label values of one split, after checking columns, emptiness, text."""
    if len(ds) == 0:
        raise ValueError(f"{where} is empty (0 rows); every split needs at least one row.")
    available = ds.column_names
    for role, column in (("text", text_column), ("label", label_column)):
        if column not in available:
            raise ValueError(
                f"{where} has no {role} column {column!r}. Available columns: {available}. "
                f"Pass {role}_column=<one of them> to load_task."
            )
    texts = list(ds[text_column])
    missing_text = [i for i, t in enumerate(texts) if _is_missing(t)]
    if missing_text:
        raise ValueError(
            f"{where}: {len(missing_text)} rows have no text in column {text_column!r} (rows "
            f"{_show(missing_text)}). Drop or fill them first."
        )
    texts = [t if isinstance(t, str) else str(t) for t in texts]
    return texts, list(ds[label_column])


def _label_ids(
    values_by_split: Mapping[str, list[Any]],
    label_names: Sequence[str] | None,
    label_column: str,
    where: str,
) -> tuple[dict[str, np.ndarray], list[str]]:
    """Map raw label values to ids ``0 .. k-1``; raise ``ValueError`` on anything unexpected."""
    names = list(label_names) if label_names is not None else list(DEFAULT_LABEL_NAMES)
    if len(names) < 2 or len(set(names)) != len(names):
        raise ValueError(f"label_names must be at least two distinct names, got {names}.")
    if label_names is None:
        by_string = dict(_BINARY_SYNONYMS)
    else:
        by_string = {n.strip().lower(): i for i, n in enumerate(names)}
        by_string.update({str(i): i for i in range(len(names))})

    def one(value: Any) -> int | None:
        if isinstance(value, (bool, np.bool_)):
            value = int(value)
        if isinstance(value, (int, np.integer)):
            return int(value) if 0 <= value < len(names) else None
        if isinstance(value, (float, np.floating)):
            return int(value) if value.is_integer() and 0 <= value < len(names) else None
        if isinstance(value, str):
            return by_string.get(value.strip().lower())
        return None

    ids: dict[str, np.ndarray] = {}
    for split, values in values_by_split.items():
        missing = [i for i, v in enumerate(values) if _is_missing(v)]
        if missing:
            raise ValueError(
                f"{where} ({split}): {len(missing)} rows have no label in column "
                f"{label_column!r} (rows {_show(missing)}). Drop or fill them first."
            )
        try:
            distinct = {v: one(v) for v in set(values)}
        except TypeError:  # lists or dicts in the label column
            raise ValueError(
                f"{where} ({split}): label column {label_column!r} holds non-scalar values such "
                f"as {_show(values, 3)}; each row needs one label (an int or a class name)."
            ) from None
        unknown = sorted((v for v, i in distinct.items() if i is None), key=repr)
        if unknown:
            found = sorted(distinct, key=repr)
            if label_names is None:
                expected = (
                    "0/1 (ints) or the strings "
                    + "/".join(sorted(_BINARY_SYNONYMS))
                    + ' for label_names=("negative", "positive")'
                )
            else:
                expected = f"ids 0..{len(names) - 1} or the names {names}"
            raise ValueError(
                f"{where} ({split}): label column {label_column!r} has values {_show(found)}; "
                f"{_show(unknown)} do not fit {expected}. Fix: pass label_names=[...] with one "
                "name per class in id order (the values found must be those names or ids "
                "0..k-1), map the labels yourself, or drop the unexpected rows."
            )
        ids[split] = np.array([distinct[v] for v in values], dtype=np.int64)

    classes = sorted(set().union(*(set(a.tolist()) for a in ids.values())))
    if len(classes) < 2:
        only = names[classes[0]] if classes else "none"
        raise ValueError(
            f"{where}: label column {label_column!r} has only one class ({only!r}, id "
            f"{classes[0] if classes else '-'}); a classifier needs at least two. Check the "
            "column and the label mapping, or add examples of the other class."
        )
    return ids, names


def _to_dataset_dict(
    splits: Mapping[str, tuple[list[str], np.ndarray]],
    label_names: Sequence[str],
    description: str,
) -> DatasetDict:
    features = _features(label_names, with_rating=False)
    info = datasets.DatasetInfo(description=description, features=features)
    return DatasetDict(
        {
            split: Dataset.from_dict(
                {"text": texts, "label": labels.tolist()}, features=features, info=info
            )
            for split, (texts, labels) in splits.items()
        }
    )
