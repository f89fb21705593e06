"""Classification metrics through Hugging Face `evaluate`, from modules shipped in this package.

``evaluate.load("accuracy")`` downloads its script from the Hub; we ship the two modules we use
(`accuracy/`, `macro_f1/`) beside this file and load them by local path, so they work offline.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from pathlib import Path

import evaluate

METRICS_DIR = Path(__file__).resolve().parent
METRIC_NAMES: tuple[str, ...] = ("accuracy", "macro_f1")


@cache
def load_metric(name: str) -> evaluate.EvaluationModule:
    """Load one of :data:`METRIC_NAMES` from its local module folder (cached per process)."""
    if name not in METRIC_NAMES:
        raise ValueError(f"unknown metric {name!r}; choose one of {', '.join(METRIC_NAMES)}")
    return evaluate.load(str(METRICS_DIR / name))


def classification_metrics(
    predictions: Sequence[int], references: Sequence[int], num_labels: int = 2
) -> dict[str, float]:
    """``{"accuracy": ..., "macro_f1": ...}`` for integer predictions against references."""
    predictions = [int(p) for p in predictions]
    references = [int(r) for r in references]
    if len(predictions) != len(references):
        raise ValueError(f"{len(predictions)} predictions for {len(references)} references")
    if not references:
        raise ValueError("cannot compute metrics on an empty set")
    out: dict[str, float] = {}
    out.update(load_metric("accuracy").compute(predictions=predictions, references=references))
    out.update(
        load_metric("macro_f1").compute(
            predictions=predictions, references=references, labels=list(range(num_labels))
        )
    )
    return out
