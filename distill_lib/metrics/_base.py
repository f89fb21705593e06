"""What the two metric scripts shipped here share: integer labels in, one score out.

``accuracy/accuracy.py`` and ``macro_f1/macro_f1.py`` are `evaluate` metric scripts, loaded by
path (:func:`distill_lib.metrics.load_metric`). `evaluate` copies such a script into its module
cache and imports the copy, so a relative import of a shared file would not resolve there; the
scripts import this module by its absolute name instead (for `evaluate` that is a library
import, and ``distill_lib`` is installed, since the scripts ship inside it).
"""

from __future__ import annotations

import abc
from typing import Any

import datasets
import evaluate

_ARGS = ("predictions (list of int): predicted labels.", "references (list of int): true labels.")


class LabelMetric(evaluate.Metric, abc.ABC):
    """An `evaluate` metric of integer ``predictions`` against integer ``references``.

    A subclass sets :attr:`DESCRIPTION` and :attr:`RETURNS` (and :attr:`EXTRA_ARGS`, one line
    per keyword argument of its ``_compute``) and defines ``_compute``. The class is abstract so
    that `evaluate`, which takes the first concrete ``EvaluationModule`` class it finds in a
    script, picks the script's own class and never this base.
    """

    DESCRIPTION = ""
    EXTRA_ARGS: tuple[str, ...] = ()
    RETURNS = ""

    def _info(self) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(
            description=self.DESCRIPTION,
            citation="",
            inputs_description=self._inputs_description(),
            features=datasets.Features(
                {"predictions": datasets.Value("int32"), "references": datasets.Value("int32")}
            ),
        )

    def _inputs_description(self) -> str:
        args = "".join(f"    {arg}\n" for arg in (*_ARGS, *self.EXTRA_ARGS))
        return f"\nArgs:\n{args}Returns:\n    {self.RETURNS}\n"

    @abc.abstractmethod
    def _compute(
        self, predictions: list[int], references: list[int], **kwargs: Any
    ) -> dict[str, float]:
        """The score of ``predictions`` against ``references``, as ``{name: value}``."""
