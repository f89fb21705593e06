"""A student you can use: accuracy against latency, size as area.

:func:`footprint_plot` draws one bubble per model of
:func:`~distill_lib.experiment.footprint.footprint_table`: x is the mean latency of a batch (32
sentences by default; log scale), y the test accuracy with its 95% interval, the bubble's area
proportional to the size on disk. Every strategy's student shares one latency (same shape), so
they stand in one column: same cost, different accuracy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import ScalarFormatter

from ..experiment.footprint import footprint_table, read_footprint
from ._common import color_for

if TYPE_CHECKING:
    from ..experiment import Results

AREA_PER_MB = 4.0
"""Points^2 of bubble area per megabyte on disk."""


def footprint_plot(results: Results, *, batch: int = 32, title: str | None = None) -> Figure:
    """Accuracy (with its interval) against latency at ``batch`` (1 or 32), area = size."""
    table = footprint_table(results)
    if table.empty:
        raise ValueError("no footprint.json for these results: run compare with footprint on "
                         "(ExperimentConfig.footprint, the presets' default)")
    if batch not in (1, 32):
        raise ValueError(f"batch must be 1 or 32 (the sizes timed), got {batch!r}")
    x_col = "b1_ms" if batch == 1 else "b32_ms"
    fig, ax = plt.subplots(figsize=(8.5, 5))
    for _, r in table.iterrows():
        base = r["model"].split(" (")[0]
        color = "black" if base == "teacher" else color_for(base)
        x, y = r[x_col], 100 * r["accuracy"]
        ax.scatter(x, y, s=AREA_PER_MB * r["size_mb"], color=color, alpha=0.45,
                   edgecolor="black" if "(" in r["model"] else "white", linewidth=1.2,
                   zorder=3)
        ax.errorbar(x, y, yerr=[[y - 100 * r["ci_low"]], [100 * r["ci_high"] - y]],
                    color=color, capsize=3, linewidth=1, zorder=4)
    _label(ax, table, x_col)
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(ScalarFormatter())
    ax.xaxis.set_minor_formatter(ScalarFormatter())
    ax.set_xlabel(f"latency of a batch of {batch} (ms, mean; log scale)")
    ax.set_ylabel("test accuracy (%) and 95% interval")
    fp = read_footprint(results) or {}
    ax.set_title(f"{fp.get('cpu', '')}, {fp.get('threads', '?')} threads; bubble area = size "
                 "on disk", fontsize=9)
    fig.suptitle(title or "A student you can use: accuracy, latency and size")
    ax.margins(x=0.35, y=0.15)
    fig.tight_layout()
    return fig


def _label(ax: plt.Axes, table: pd.DataFrame, x_col: str) -> None:
    """Name each bubble; the models that share a latency (every strategy's student) get one
    size note and labels stacked down the column's right side, each joined to its bubble."""
    low, high = 100 * table["ci_low"].min(), 100 * table["ci_high"].max()
    gap = 0.045 * (high - low)
    for x, rows in table.groupby(x_col, sort=False):
        rows = rows.assign(y=100 * rows["accuracy"]).sort_values("y", ascending=False)
        last = None
        for i, (_, r) in enumerate(rows.iterrows()):
            y = r["y"] if last is None else min(r["y"], last - gap)
            last = y
            size = f"\n{r['size_mb']:.0f} MB" if i == len(rows) - 1 else ""
            ax.annotate(f"{r['model']}{size}", (x, r["y"]), xytext=(x * 1.06, y),
                        textcoords="data", fontsize=7, va="center",
                        arrowprops={"arrowstyle": "-", "color": "0.6", "linewidth": 0.5}
                        if len(rows) > 1 else None)
