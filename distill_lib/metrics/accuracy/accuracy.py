"""Accuracy as an `evaluate` metric module shipped inside distill_lib (works offline)."""

from sklearn.metrics import accuracy_score

from distill_lib.metrics._base import LabelMetric


class Accuracy(LabelMetric):
    DESCRIPTION = "Accuracy: the fraction of predictions equal to the reference labels."
    RETURNS = "accuracy (float): in [0, 1]."

    def _compute(self, predictions: list[int], references: list[int]) -> dict[str, float]:
        return {"accuracy": float(accuracy_score(references, predictions))}
