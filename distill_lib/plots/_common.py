"""Parts every figure shares: colours, the baseline test, reading a Results, saving.

Every figure of a comparison draws a data-driven strategy that reused a fixed strategy's runs
(``Results.twin``) once, under both names (:func:`_display_names`: ``"odd = cka-cover"``), and
marks collapsed runs (:func:`_collapsed_seeds`) with a red ``X`` (:data:`COLLAPSED_COLOR`).
"""

from __future__ import annotations

import io
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import matplotlib
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
    """The colour of a strategy or baseline; explicit layer lists get a stable extra colour.

    A merged label (``"odd = cka-cover"``, :func:`_display_names`) has its first name's colour.
    """
    name = _base_name(name)
    if name in PALETTE:
        return PALETTE[name]
    try:
        return PALETTE[canonical_strategy(name)]
    except ValueError:
        return _EXTRA_COLORS[zlib.crc32(name.encode()) % len(_EXTRA_COLORS)]


def _base_name(label: str) -> str:
    """The name a label is drawn for: ``"odd = cka-cover"`` -> ``"odd"``."""
    return label.split(" = ")[0] if " = " in label else label


def _display_names(results: Any, names: Sequence[str]) -> dict[str, str]:
    """``{name: label}`` of the names to draw, in order, each reused run drawn once.

    A data-driven strategy that picked a fixed strategy's layers reused its runs
    (``results.twin(name)``): it is left out, and the fixed name's label names both
    (``"odd = cka-cover"``). Without a Results (a bare table) every name is its own label.
    """
    twin = getattr(results, "twin", None)
    twin_of = {}
    if callable(twin) and not isinstance(results, pd.DataFrame):
        twin_of = {n: t for n in names if (t := twin(n)) and t != n and t in names}
    return {
        n: " = ".join([n, *(m for m in names if twin_of.get(m) == n)])
        for n in names
        if n not in twin_of
    }


def _collapsed_seeds(results: Any) -> dict[str, list[int]]:
    """``{name: [seeds]}`` of the collapsed student runs (empty without a Results)."""
    runs = _results_attr(results, "runs")
    if runs is None or "collapsed" not in runs:
        return {}
    hit = runs[runs["collapsed"].astype(bool)]
    return {
        str(n): sorted(int(s) for s in hit.loc[hit["name"] == n, "seed"])
        for n in dict.fromkeys(hit["name"])
    }


def _collapsed_text(collapsed: dict[str, list[int]], labels: dict[str, str]) -> str:
    """``"last (seed 0); random-init (seeds 0, 1, 2)"``, under the labels drawn."""
    parts = []
    for name, seeds in collapsed.items():
        listed = ", ".join(str(s) for s in seeds)
        label = next((lab for n, lab in labels.items() if name in lab.split(" = ")), name)
        parts.append(f"{label} (seed{'s' if len(seeds) > 1 else ''} {listed})")
    return "; ".join(dict.fromkeys(parts))


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
    The same figure gives the same bytes: the SVG has no date and its element ids are salted
    with ``name`` instead of drawn at random, so a regenerated figure shows in a diff only
    where its content changed.
    """
    folder = Path(folder)
    paths = []
    for fmt in formats:
        buffer = io.BytesIO()
        with matplotlib.rc_context({"svg.hashsalt": name}):
            fig.savefig(buffer, format=fmt, dpi=dpi, bbox_inches="tight",
                        metadata={"Date": None} if fmt == "svg" else None)
        paths.append(atomic_write_bytes(folder / f"{name}.{fmt}", buffer.getvalue()))
    return paths


def mark_collapsed(ax: Any, x: Any, y: Any, size: float = 60, linewidth: float = 0.5) -> None:
    """A red X at each (x, y) of a collapsed run: the one mark every figure uses."""
    ax.scatter(x, y, s=size, marker="X", color=COLLAPSED_COLOR, edgecolor="black",
               linewidth=linewidth, zorder=5, gid="collapsed")
