"""Does the answer last? Figures of the budget and recipe axes (:mod:`distill_lib.experiment.axes`).

* :func:`budget_plot`: left, test accuracy against updates per strategy (mean over seeds and
  its bootstrap interval as a band); right, each strategy's gap to the reference strategy
  against updates (paired bootstrap interval), with 0 drawn: where the band crosses it, this
  run cannot tell the two apart.
* :func:`recipe_plot`: a heatmap of the gap to the reference strategy per loss recipe (rows)
  and strategy (columns), in points, each cell annotated with its interval.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns
from matplotlib.figure import Figure

from ..experiment.axes import budget_gaps, budget_table, recipe_gaps
from ._common import color_for, mark_collapsed

if TYPE_CHECKING:
    from ..experiment import Results


def budget_plot(results: Results, *, title: str | None = None) -> Figure:
    """Accuracy and gap to the reference against training updates (the budget axis)."""
    table, gaps = budget_table(results), budget_gaps(results)
    if table.empty:
        raise ValueError("these results have no budget axis (ExperimentConfig.budgets)")
    x_of = dict(zip(table["budget"], table["updates"].fillna(table["budget"]), strict=False))
    unit = "updates" if table["updates"].notna().all() else "epochs"
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    for name, rows in table.groupby("name", sort=False):
        xs = rows["budget"].map(x_of).to_numpy(dtype=float)
        color = color_for(name)
        left.plot(xs, 100 * rows["mean_accuracy"], "o-", color=color, label=name)
        left.fill_between(xs, 100 * rows["ci_low"], 100 * rows["ci_high"], color=color,
                          alpha=0.15, linewidth=0)
        bad = rows["collapsed"] > 0
        if bad.any():
            mark_collapsed(left, xs[bad.to_numpy()], 100 * rows.loc[bad, "mean_accuracy"])
    for name, rows in gaps.groupby("b", sort=False):
        xs = rows["budget"].map(x_of).to_numpy(dtype=float)
        color = color_for(name)
        right.plot(xs, 100 * rows["diff"], "o-", color=color, label=f"{rows['a'].iloc[0]} - {name}")
        right.fill_between(xs, 100 * rows["ci_low"], 100 * rows["ci_high"], color=color,
                           alpha=0.15, linewidth=0)
    right.axhline(0, color="black", linewidth=0.8)
    for ax in (left, right):
        ax.set_xscale("log", base=2)
        ticks = sorted(set(x_of.values()))
        ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
        ax.set_xlabel(f"training budget ({unit}, constant learning rate)")
        ax.legend(fontsize=8)
    left.set_ylabel("test accuracy (%), mean over seeds")
    right.set_ylabel("gap to the reference (points)")
    left.set_title("accuracy vs budget (band: 95% bootstrap interval)", fontsize=10)
    right.set_title("gap vs budget (band: paired 95% interval)", fontsize=10)
    fig.suptitle(title or "Does the answer last? Accuracy against training budget")
    fig.tight_layout()
    return fig


def recipe_plot(results: Results, *, title: str | None = None) -> Figure:
    """Heatmap: the gap (points) between the reference and each strategy, per loss recipe."""
    gaps = recipe_gaps(results)
    if gaps.empty:
        raise ValueError("these results have no recipe axis (ExperimentConfig.recipes)")
    recipes = [r for r in results.config.recipes if r in set(gaps["recipe"])]
    names = list(dict.fromkeys(gaps["b"]))
    values = np.full((len(recipes), len(names)), np.nan)
    notes = np.full(values.shape, "", dtype=object)
    for _, row in gaps.iterrows():
        i, j = recipes.index(row["recipe"]), names.index(row["b"])
        values[i, j] = 100 * row["diff"]
        notes[i, j] = (f"{100 * row['diff']:.1f}\n[{100 * row['ci_low']:.1f}, "
                       f"{100 * row['ci_high']:.1f}]")
    fig, ax = plt.subplots(figsize=(1.8 + 1.6 * len(names), 1.2 + 0.9 * len(recipes)))
    limit = max(1.0, float(np.nanmax(np.abs(values))))
    sns.heatmap(values, annot=notes, fmt="", cmap="RdBu_r", vmin=-limit, vmax=limit, ax=ax,
                xticklabels=[f"{gaps['a'].iloc[0]} - {n}" for n in names],
                yticklabels=recipes, cbar_kws={"label": "gap (points)"})
    ax.set_xlabel("strategies compared (paired 95% bootstrap interval in brackets)")
    ax.set_ylabel("loss recipe")
    ax.set_title(title or "Does the init gap survive the loss recipe?", fontsize=11)
    fig.tight_layout()
    return fig
