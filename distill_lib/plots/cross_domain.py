"""Cross-domain accuracy: every strategy on the in-domain test set and each other test set.

The run JSONs keep per-sentence predictions for the in-domain test set only (a cross-domain
entry holds ``accuracy``, ``macro_f1`` and ``predicted_counts``), so the accuracy plot's
bootstrap over seeds and test sentences cannot be computed out of domain. This figure shows
the mean over seeds and the min-max range of the seeds, in every column (in-domain too, so
the columns compare like with like), and its legend says so.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from ._common import (
    COLLAPSED_COLOR,
    _collapsed_seeds,
    _collapsed_text,
    _display_names,
    _is_baseline,
    color_for,
    mark_collapsed,
)

if TYPE_CHECKING:
    from ..experiment import Results


def _domain_columns(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns if c.startswith("accuracy[") and c.endswith("]")]


def has_cross_domain(results: Results) -> bool:
    """Whether the runs were also evaluated on cross-domain test sets."""
    return bool(_domain_columns(results.runs))


def cross_domain_plot(results: Results, *, title: str | None = None) -> Figure:
    """Accuracy per strategy on the in-domain test set and every cross-domain set.

    Each point is the mean over seeds, its bar the min-max range of the seeds (the
    cross-domain sets have no stored per-sentence predictions, so no bootstrap: see the
    module docstring); a collapsed run (in-domain collapse check) is a red ``X`` at its own
    value. A data-driven strategy that reused a fixed strategy's runs is drawn once, labelled
    with both names (``"odd = cka-cover"``). The teacher and the majority class are single
    values (no interval).
    """
    columns = _domain_columns(results.runs)
    if not columns:
        raise ValueError(
            "these runs have no cross-domain accuracies (config.cross_domain is empty)"
        )
    task = getattr(results.config, "task", "test")
    domains = [f"{task} (in-domain)"] + [c[len("accuracy[") : -1] for c in columns]
    frame = pd.DataFrame(_run_rows(results.runs, columns, domains))
    labels = _display_names(results, list(dict.fromkeys(frame["name"])))
    frame = frame[frame["name"].isin(labels)].dropna(subset=["accuracy"])
    references = pd.DataFrame(_reference_rows(results.summary, columns, domains))
    collapsed = {n: s for n, s in _collapsed_seeds(results).items() if n in labels}
    names = [*labels, *dict.fromkeys(references.get("name", []))]
    fig, ax = plt.subplots(figsize=(max(7.0, 1.9 * len(domains) + 3), 4.4), layout="constrained")
    width = 0.8 / max(len(names), 1)
    for i, name in enumerate(names):
        xs = np.arange(len(domains)) - 0.4 + width * (i + 0.5)
        if name in labels:
            _draw_student(ax, xs, frame[frame["name"] == name], domains, collapsed.get(name, []))
        else:
            _draw_reference(ax, xs, references[references["name"] == name], domains)
    _format(ax, domains)
    n_seeds = int(frame.groupby("name")["seed"].nunique().max())
    _legend(ax, names, labels, results, collapsed, n_seeds)
    ax.set_title(
        title or "Accuracy in and out of domain (mean over seeds; bar: min-max over seeds)"
    )
    return fig


def _draw_student(
    ax: plt.Axes, xs: np.ndarray, rows: pd.DataFrame, domains: list[str], collapsed: list[int]
) -> None:
    """The mean over seeds with its min-max bar per test set, collapsed runs as red X."""
    name = rows["name"].iloc[0]
    stats = rows.groupby("domain")["accuracy"].agg(["mean", "min", "max"]).reindex(domains)
    ax.errorbar(
        xs,
        stats["mean"],
        yerr=[stats["mean"] - stats["min"], stats["max"] - stats["mean"]],
        fmt="s" if _is_baseline(name, rows["kind"].iloc[0]) else "o",
        color=color_for(name),
        markersize=7,
        capsize=3,
        elinewidth=1.8,
        zorder=3,
        gid="mean",
    )
    bad = rows[rows["seed"].isin(collapsed)]
    if not bad.empty:
        mark_collapsed(ax, xs[[domains.index(d) for d in bad["domain"]]], bad["accuracy"],
                       size=50)


def _draw_reference(ax: plt.Axes, xs: np.ndarray, rows: pd.DataFrame, domains: list[str]) -> None:
    """The teacher's or majority class's single value per test set (no interval)."""
    at = [domains.index(d) for d in rows["domain"]]
    ax.scatter(
        xs[at], rows["accuracy"], marker="D", s=40, color=color_for(rows["name"].iloc[0]), zorder=3
    )


def _format(ax: plt.Axes, domains: list[str]) -> None:
    ax.set_xticks(range(len(domains)))
    ax.set_xticklabels(domains)
    ax.set_xlim(-0.55, len(domains) - 0.45)
    ax.set_xlabel("test set")
    ax.set_ylabel("accuracy")
    ax.grid(axis="y", alpha=0.3)


def _legend(
    ax: plt.Axes,
    names: list[str],
    labels: dict[str, str],
    results: Results,
    collapsed: dict[str, list[int]],
    n_seeds: int,
) -> None:
    """One entry per model, then the interval and (if any) the collapsed runs, named."""
    kinds = dict(zip(results.runs["name"], results.runs["kind"], strict=False))
    handles = [
        _key(
            labels.get(n, n),
            color=color_for(n),
            marker=("s" if _is_baseline(n, kinds.get(n)) else "o") if n in labels else "D",
        )
        for n in names
    ]
    interval = f"min-max over {n_seeds} seeds" if n_seeds > 1 else "one seed: no interval"
    label = f"mean; bar: {interval}\n(teacher, majority: one value)"
    handles.append(_key(label, color="#555555", marker="|", markersize=12))
    if collapsed:
        text = _collapsed_text(collapsed, labels).replace("; ", ";\n")
        label = f"collapsed run (red X):\n{text}"
        handles.append(_key(label, marker="X", color=COLLAPSED_COLOR, markeredgecolor="black"))
    ax.legend(
        handles=handles,
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        frameon=False,
        title="model",
        fontsize=9,
    )


def _key(label: str, **style: Any) -> Line2D:
    """A legend entry: a marker drawn in no axes."""
    return Line2D([], [], linestyle="", label=label, **style)


def _run_rows(runs: pd.DataFrame, columns: list[str], domains: list[str]) -> list[dict[str, Any]]:
    """One ``{name, kind, seed, domain, accuracy}`` row per student run and test set."""
    rows = []
    for _, run in runs.iterrows():
        values = [run["test_accuracy"], *(run[col] for col in columns)]
        rows += [
            {
                "name": run["name"],
                "kind": run["kind"],
                "seed": run["seed"],
                "domain": domain,
                "accuracy": value,
            }
            for domain, value in zip(domains, values, strict=True)
        ]
    return rows


def _reference_rows(
    summary: pd.DataFrame, columns: list[str], domains: list[str]
) -> list[dict[str, Any]]:
    """The teacher's and the majority class's rows, for the test sets they were measured on."""
    rows = []
    for ref in ("teacher", "majority"):
        hit = summary[summary["name"] == ref]
        if hit.empty:
            continue
        pairs = [(domains[0], hit["mean_accuracy"].iloc[0])]
        pairs += [
            (domain, hit[col].iloc[0])
            for col, domain in zip(columns, domains[1:], strict=True)
            if col in hit
        ]
        rows += [{"name": ref, "domain": domain, "accuracy": value} for domain, value in pairs]
    return rows
