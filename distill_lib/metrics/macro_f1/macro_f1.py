"""Macro-averaged F1 as an `evaluate` metric module shipped inside distill_lib (works offline).

Macro-F1 averages the F1 of each class with equal weight, so a model that predicts one class
for every input scores about 1/3 on a balanced binary task even when its accuracy is 50%.
"""

import datasets
import evaluate
from sklearn.metrics import f1_score

_DESCRIPTION = "Macro F1: the unweighted mean of the per-class F1 scores."
_KWARGS = """
Args:
    predictions (list of int): predicted labels.
    references (list of int): true labels.
    labels (list of int, optional): the classes to average over (default: all seen).
Returns:
    macro_f1 (float): in [0, 1].
"""


class MacroF1(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation="",
            inputs_description=_KWARGS,
            features=datasets.Features(
                {"predictions": datasets.Value("int32"), "references": datasets.Value("int32")}
            ),
        )

    def _compute(self, predictions, references, labels=None):
        score = f1_score(references, predictions, labels=labels, average="macro", zero_division=0)
        return {"macro_f1": float(score)}
