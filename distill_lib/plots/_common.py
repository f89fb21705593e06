"""Parts every figure shares: the colours, the baseline test, reading a Results, saving."""

from __future__ import annotations

import io
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
from matplotlib.figure import Figure

from .._io import atomic_write_bytes
from ..layers import canonical_strategy

if TYPE_CHECKING:
    from ..experiment import Results

PALETTE: dict[str, str] = {
    "first": "#1f77b4",  # blue
    "last": "#ff7f0e",  # orange
    "odd": "#2ca02c",  # green
    "even": "#9467bd",  # purple
    "uniform": "#17becf",  # cyan
    "random": "#8c564b",  # brown
    "influence": "#bcbd22",  # olive (measured on the teacher)
    "cka-cover": "#e377c2",  # pink (measured on the teacher)
    "drop": "#d4a017",  # mustard (measured on the teacher)
    "random-init": "#7f7f7f",  # grey (baseline)
    "no-kd": "#4d4d4d",  # dark grey (baseline)
    "teacher": "#000000",  # black reference line
    "majority": "#a0a0a0",  # light grey reference line
}
"""The colour of each strategy, baseline and reference line, the same in every figure."""

COLLAPSED_COLOR = "#d62728"
"""Red, used only to mark collapsed runs (no strategy uses it)."""

_EXTRA_COLORS = ["#bcbd22", "#e377c2", "#aec7e8", "#98df8a", "#c5b0d5", "#ffbb78", "#c49c94"]
_BASELINES = ("random-init", "no-kd")


def color_for(name: str) -> str:
    """The colour of a strategy or baseline; explicit layer lists get a stable extra colour."""
    if name in PALETTE:
        return PALETTE[name]
    try:
        return PALETTE[canonical_strategy(name)]
    except ValueError:
        return _EXTRA_COLORS[zlib.crc32(name.encode()) % len(_EXTRA_COLORS)]


def _is_baseline(name: str, kind: str | None = None) -> bool:
    return kind == "baseline" or name in _BASELINES


def _results_attr(obj: Any, attr: str) -> Any:
    return getattr(obj, attr) if hasattr(obj, attr) and not isinstance(obj, pd.DataFrame) else None


def _shape(results: Results) -> tuple[int | None, int | None]:
    """Teacher and student depths of a comparison (None where the results do not say)."""
    n_teacher = len(results.teacher.get("layers") or []) or None
    n_student = getattr(results.config, "student_layers", None)
    return n_teacher, n_student


def save_figure(
    fig: Figure,
    name: str,
    folder: str | Path = "figures",
    *,
    formats: Sequence[str] = ("png", "svg"),
    dpi: int = 150,
) -> list[Path]:
    """Write ``<folder>/<name>.png`` and ``.svg`` atomically; return their paths.

    Each file is rendered into memory and then written to a temporary sibling that is renamed
    into place, so an interrupted save never leaves a truncated image. The figure stays open.
    """
    folder = Path(folder)
    paths = []
    for fmt in formats:
        buffer = io.BytesIO()
        fig.savefig(buffer, format=fmt, dpi=dpi, bbox_inches="tight")
        paths.append(atomic_write_bytes(folder / f"{name}.{fmt}", buffer.getvalue()))
    return paths
