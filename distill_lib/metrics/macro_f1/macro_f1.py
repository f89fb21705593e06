"""Macro-averaged F1 as an `evaluate` metric module shipped inside distill_lib (works offline).

Macro-F1 averages the F1 of each class with equal weight, so a model that predicts one class
for every input scores about 1/3 on a balanced binary task even when its accuracy is 50%.
"""

from sklearn.metrics import f1_score

from distill_lib.metrics._base import LabelMetric


class MacroF1(LabelMetric):
    DESCRIPTION = "Macro F1: the unweighted mean of the per-class F1 scores."
    EXTRA_ARGS = (
        "labels (list of int, optional): the classes to average over (default: all seen).",
    )
    RETURNS = "macro_f1 (float): in [0, 1]."

    def _compute(
        self, predictions: list[int], references: list[int], labels: list[int] | None = None
    ) -> dict[str, float]:
        score = f1_score(references, predictions, labels=labels, average="macro", zero_division=0)
        return {"macro_f1": float(score)}
