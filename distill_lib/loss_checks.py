"""The checks of the distillation hyperparameters: temperature, alpha and the loss weights.

:func:`check_temperature` (a finite number ``> 0``), :func:`check_alpha` (a number in
``[0, 1]``) and :func:`check_loss_weight` (a finite number ``>= 0``) are the only place these
rules live: :class:`distill_lib.losses.DistillationLoss` and
:class:`distill_lib.train_config.TrainConfig` both use them. Each rejects ``bool``, strings,
``nan`` and ``inf`` with a message naming the parameter, the value and the allowed range.

They need no torch (only numpy, for numpy scalars), so that a config can be made and checked,
e.g. by ``distill-lib presets``, without importing it; :mod:`distill_lib.losses` re-exports them.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ._checks import is_int

__all__ = ["check_alpha", "check_loss_weight", "check_temperature"]


def _real(value: Any, name: str, allowed: str) -> float:
    """``value`` as a float if it is a finite real number (int, float or numpy), else raise."""
    if not (is_int(value) or isinstance(value, (float, np.floating))):  # never a bool
        raise ValueError(
            f"{name} must be a number {allowed}, got {value!r} ({type(value).__name__})"
        )
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{name} must be a finite number {allowed}, got {value!r}")
    return number


def check_temperature(value: Any, name: str = "temperature") -> float:
    """``value`` as a float if it is a valid softmax temperature: a finite number ``> 0``."""
    number = _real(value, name, "> 0")
    if number <= 0:
        raise ValueError(f"{name} must be > 0 (a finite positive number), got {value!r}")
    return number


def check_alpha(value: Any, name: str = "alpha") -> float:
    """``value`` as a float if it is a valid soft-target weight: a number in ``[0, 1]``."""
    number = _real(value, name, "between 0 and 1")
    if not 0.0 <= number <= 1.0:
        raise ValueError(f"{name} must be between 0 and 1 (inclusive), got {value!r}")
    return number


def check_loss_weight(value: Any, name: str) -> float:
    """``value`` as a float if it is a valid loss weight: a finite number ``>= 0``."""
    number = _real(value, name, ">= 0")
    if number < 0:
        raise ValueError(f"{name} must be >= 0 (0 turns the term off), got {value!r}")
    return number
