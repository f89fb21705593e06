"""The one home of the "a whole number, not a bool" rule.

``True`` is an ``int`` to Python (``isinstance(True, int)`` holds), so a check written as
``isinstance(x, int)`` lets ``epochs=True`` through as 1. Every integer argument of the
package is checked here instead: :func:`is_int` says whether a value is a real integer
(``int`` or a numpy integer, never ``bool``) and :func:`check_int` raises one ``ValueError``
naming the argument, the value and the range allowed.

This module imports only numpy, so the torch-free parts (configs, presets, the CLI's help)
can use it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["check_int", "is_int"]


def is_int(value: Any) -> bool:
    """A real integer: ``int`` or a numpy integer, but not ``bool`` (nor ``np.bool_``)."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def check_int(name: str, value: Any, low: int | None = None, high: int | None = None) -> int:
    """``value`` as a Python ``int`` if it is a real integer in ``[low, high]``, else raise.

    ``None`` for ``low`` or ``high`` leaves that side open. The message names ``name``, the
    value, its type and the range, e.g. ``seed must be an int >= 0, got True (bool)``.
    """
    if low is not None and high is not None:
        allowed = f"between {low} and {high}"
    elif low is not None:
        allowed = f">= {low}"
    elif high is not None:
        allowed = f"<= {high}"
    else:
        allowed = "(a whole number)"
    if not is_int(value):
        raise ValueError(f"{name} must be an int {allowed}, got {value!r} ({type(value).__name__})")
    if (low is not None and value < low) or (high is not None and value > high):
        raise ValueError(f"{name} must be an int {allowed}, got {value!r}")
    return int(value)
