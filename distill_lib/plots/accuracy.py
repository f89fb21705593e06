"""Final test accuracy per strategy and baseline: mean, 95% interval, every seed."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from ..experiment.results import ALPHA
from ._common import (
    COLLAPSED_COLOR,
    PALETTE,
    _display_names,
    _is_baseline,
    _shape,
    color_for,
    mark_collapsed,
)

if TYPE_CHECKING:
    from ..experiment import Results


@dataclass
class _Marks:
    """What the points of the accuracy plot leave for the limits, labels and legend."""

    values: list[float] = field(default_factory=list)
    """Every accuracy drawn (references, means, interval ends, seeds): the y range."""
    notes: list[tuple[float, float, str]] = field(default_factory=list)
    """Significance texts ``(x, y, text)``, drawn once the limits are set."""
    collapsed: list[str] = field(default_factory=list)
    """``"<name> (seeds 0, 3)"`` for each name with collapsed runs."""
    collapsed_names: set[str] = field(default_factory=set)
    n_collapsed: int = 0

    def add_collapsed(self, name: str, seeds: pd.Series, label: str | None = None) -> None:
        """Remember the collapsed runs (their seeds) of one name (drawn as ``label``)."""
        listed = ", ".join(str(int(s)) for s in seeds)
        self.collapsed.append(f"{label or name} (seed{'s' if len(seeds) > 1 else ''} {listed})")
        self.collapsed_names.add(name)
        self.n_collapsed += len(seeds)


def accuracy_plot(
    results: Results,
    *,
    annotate_significance: bool = True,
    title: str | None = None,
) -> Figure:
    """Final test accuracy per strategy and baseline: mean, 95% CI over seeds, every seed.

    The mean and its 95% interval come from ``results.summary`` (``ci_low`` / ``ci_high``:
    a percentile bootstrap over seeds and test sentences, always inside [0, 1]). Each seed's
    accuracy is a small dot; a collapsed run (``results.runs["collapsed"]``: predicts one
    class, or is not clearly above the majority class) is a red X, its name is red and the
    x-axis label lists it. Horizontal lines mark the teacher and the majority class. A
    data-driven strategy that reused a fixed strategy's runs (``results.twin``) is the same
    student: it is drawn once, labelled with both names (``"odd = cka-cover"``). The legend
    names the interval.

    Args:
        results: a :class:`~distill_lib.experiment.Results`.
        annotate_significance: write the paired-bootstrap verdict against the best strategy
            (``summary["vs_best_p"]``, Holm-corrected) above each point.
        title: figure title (default: teacher, depths, task and number of seeds).
    """
    rows = _plot_rows(results)
    teacher_acc = _reference(results.summary, "teacher")
    majority_acc = _reference(results.summary, "majority")

    fig, ax = plt.subplots(figsize=(max(6.5, 1.0 * len(rows) + 3.5), 4.6), layout="constrained")
    marks = _Marks(values=[v for v in (teacher_acc, majority_acc) if v is not None])
    for x, row in rows.iterrows():
        _draw_name(ax, x, row, results, marks, annotate_significance)
    _reference_line(ax, teacher_acc, "teacher", "teacher", linestyle="--", linewidth=1.2)
    _reference_line(ax, majority_acc, "majority", "majority class", linestyle=":", linewidth=1.5)
    _style_names(ax, rows, marks.collapsed_names)
    top = _set_accuracy_limits(ax, marks.values)
    _annotate(ax, marks.notes, top)
    _label_axes(ax, marks.collapsed, merged=[lab for lab in rows["label"] if " = " in lab])
    ax.legend(
        handles=_legend_handles(ax, marks, len(results.runs), annotate_significance),
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        frameon=False,
        fontsize=9,
    )
    ax.set_title(title or _accuracy_title(results, rows))
    return fig


def _plot_rows(results: Results) -> pd.DataFrame:
    """The summary rows to draw (strategies in summary order, then the student baselines),
    each reused run once, with its tick ``label`` (``"odd = cka-cover"``)."""
    summary = results.summary
    rows = summary[summary["kind"] != "reference"].reset_index(drop=True)
    if rows.empty:
        raise ValueError("results.summary has no strategies or baselines to plot")
    labels = _display_names(results, list(rows["name"]))
    rows = rows[rows["name"].isin(labels)].assign(label=lambda r: r["name"].map(labels))
    return pd.concat(
        [rows[rows["kind"] != "baseline"], rows[rows["kind"] == "baseline"]], ignore_index=True
    )


def _reference(summary: pd.DataFrame, name: str) -> float | None:
    hit = summary[summary["name"] == name]
    if hit.empty or pd.isna(hit["mean_accuracy"].iloc[0]):
        return None
    return float(hit["mean_accuracy"].iloc[0])


def _draw_name(
    ax: plt.Axes, x: int, row: pd.Series, results: Results, marks: _Marks, annotate: bool
) -> None:
    """The mean, interval, seeds and significance text of one strategy or baseline at ``x``."""
    name = row["name"]
    color = color_for(name)
    top = _draw_mean(ax, x, row, color, marks.values)
    runs = results.runs
    sub = runs[runs["name"] == name].sort_values("seed")
    if not sub.empty:
        _draw_seeds(ax, x, sub, color, marks, row.get("label", name))
    if annotate:
        note = _vs_best_note(results, name)
        if note:
            marks.notes.append((x - 0.12, top, note))


def _draw_mean(ax: plt.Axes, x: int, row: pd.Series, color: str, values: list[float]) -> float:
    """The mean with its 95% interval (when there is one); return the top of what was drawn."""
    mean, low, high = row["mean_accuracy"], row["ci_low"], row["ci_high"]
    has_ci = not (pd.isna(low) or pd.isna(high))
    ax.errorbar(
        [x - 0.12],
        [mean],
        yerr=[[mean - low], [high - mean]] if has_ci else None,
        fmt="s" if _is_baseline(row["name"], row["kind"]) else "o",
        color=color,
        markersize=9,
        capsize=5,
        elinewidth=2,
        markeredgecolor="black",
        zorder=3,
    )
    values += [mean] + ([low, high] if has_ci else [])
    return high if has_ci else mean


def _draw_seeds(
    ax: plt.Axes, x: int, sub: pd.DataFrame, color: str, marks: _Marks, label: str
) -> None:
    """One dot per seed right of the mean; a collapsed run is a red X instead."""
    offsets = np.linspace(-0.05, 0.05, len(sub)) if len(sub) > 1 else np.zeros(1)
    xs = x + 0.14 + offsets
    ok = ~sub["collapsed"].to_numpy(dtype=bool)
    ys = sub["test_accuracy"].to_numpy(dtype=float)
    marks.values += ys.tolist()
    ax.scatter(
        xs[ok], ys[ok], s=22, color=color, alpha=0.75, edgecolor="white", linewidth=0.5, zorder=4
    )
    if (~ok).any():
        mark_collapsed(ax, xs[~ok], ys[~ok], size=90, linewidth=0.6)
        marks.add_collapsed(sub["name"].iloc[0], sub["seed"][~ok], label)


def _vs_best_note(results: Results, name: str) -> str:
    """``best``, ``p=0.004 *`` (Holm, significant), ``n.s.``, or no verdict for a collapse."""
    if name == results.best:
        return "best"
    if results.twin(name):  # a data-driven strategy that picked a fixed strategy's layers
        return f"= {results.twin(name)}"
    if name in results.collapsed_names() or results.best in results.collapsed_names():
        return "collapsed:\nno verdict"
    row = results.summary[results.summary["name"] == name]
    if row.empty or "vs_best_p" not in row or pd.isna(row["vs_best_p"].iloc[0]):
        return ""
    p = float(row["vs_best_p"].iloc[0])
    return f"p={p:.2g} *" if p < ALPHA else "n.s."


def _reference_line(
    ax: plt.Axes, value: float | None, key: str, label: str, *, linestyle: str, linewidth: float
) -> None:
    """A horizontal line at a reference accuracy (teacher, majority class), if there is one."""
    if value is None:
        return
    ax.axhline(
        value,
        color=PALETTE[key],
        linestyle=linestyle,
        linewidth=linewidth,
        label=f"{label} ({value:.3f})",
        zorder=1,
    )


def _style_names(ax: plt.Axes, rows: pd.DataFrame, collapsed_names: set[str]) -> None:
    """x ticks: baselines grey italics behind a separator, names with a collapse in red."""
    n_strategies = int((rows["kind"] != "baseline").sum())
    if 0 < n_strategies < len(rows):
        ax.axvline(n_strategies - 0.5, color="#cccccc", linewidth=1, zorder=0)
    ax.set_xticks(range(len(rows)))
    ax.set_xticklabels([label.replace(" = ", "\n= ") for label in rows["label"]])
    for tick, (_, row) in zip(ax.get_xticklabels(), rows.iterrows(), strict=True):
        if _is_baseline(row["name"], row["kind"]):
            tick.set_color("#555555")
            tick.set_fontstyle("italic")
        if row["name"] in collapsed_names:
            tick.set_color(COLLAPSED_COLOR)
            tick.set_fontweight("bold")
    ax.set_xlim(-0.6, len(rows) - 0.4)


def _set_accuracy_limits(ax: plt.Axes, values: list[float]) -> float:
    """y limits around every value drawn, inside [0, 1]; return the highest value."""
    # accuracies live in [0, 1] (the bootstrap intervals too)
    lo = max(0.0, min(values))
    hi = min(1.0, max(values))
    pad = max(0.02, 0.08 * (hi - lo))
    ax.set_ylim(max(0.0, lo - pad), hi + 1.5 * pad)
    return hi


def _annotate(ax: plt.Axes, notes: list[tuple[float, float, str]], top: float) -> None:
    """The significance texts, just above their points (never above ``top``)."""
    for x, y, note in notes:
        ax.annotate(
            note,
            (x, min(y, top)),
            xytext=(0, 7),  # clears the marker (radius 4.5 pt) and the CI cap
            textcoords="offset points",
            ha="center",
            va="bottom",
            fontsize=8,
            color="#333333",
            bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8, "pad": 1},
        )


def _label_axes(ax: plt.Axes, collapsed: list[str], merged: list[str]) -> None:
    """Axis labels and grid; the x label names the reused runs and lists the collapsed ones."""
    ax.set_ylabel("test accuracy")
    ax.grid(axis="y", alpha=0.3)
    xlabel = "strategy  (italics, squares: student baselines)"
    if merged:
        xlabel += "\n" + "; ".join(merged) + ": chose the same layers, so the same runs"
    if collapsed:
        xlabel += "\ncollapsed (red X): " + "; ".join(collapsed)
    ax.set_xlabel(xlabel)


def _legend_handles(ax: plt.Axes, marks: _Marks, n_runs: int, annotate: bool) -> list[Line2D]:
    """Mean, seed, reference lines, and (when there are any) collapse and significance keys."""
    handles = [
        _key(
            "mean; bar: 95% bootstrap interval\n(percentile, over seeds × test sentences)",
            marker="o",
            color="#555555",
            markeredgecolor="black",
            markersize=8,
        ),
        _key("one seed", marker="o", linestyle="", color="#555555", alpha=0.75, markersize=5),
    ]
    handles += [line for line in ax.get_lines() if not line.get_label().startswith("_")]
    if marks.collapsed:
        handles.append(
            _key(
                f"collapsed run ({marks.n_collapsed} of {n_runs} runs)",
                marker="X",
                linestyle="",
                color=COLLAPSED_COLOR,
                markeredgecolor="black",
                markersize=9,
            )
        )
    if annotate:
        handles.append(_key("text: vs best, paired bootstrap\n(Holm), * p < 0.05", linestyle=""))
    return handles


def _key(label: str, **style: Any) -> Line2D:
    """A legend entry: a line that is drawn in no axes."""
    return Line2D([], [], label=label, **style)


def _accuracy_title(results: Results, rows: pd.DataFrame) -> str:
    n_teacher, n_student = _shape(results)
    config = results.config
    teacher = getattr(config, "teacher", "teacher")
    task = getattr(config, "task", "")
    n_seeds = int(rows["n_seeds"].max())
    depth = f"{n_teacher} → {n_student} layers" if n_teacher and n_student else ""
    return (
        f"Test accuracy on {task}: {teacher} {depth}, {n_seeds} seed{'s' if n_seeds != 1 else ''}"
    )
