"""Cross-domain accuracy: every strategy on the in-domain test set and each other test set."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from ._common import color_for

if TYPE_CHECKING:
    from ..experiment import Results


def _domain_columns(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns if c.startswith("accuracy[") and c.endswith("]")]


def has_cross_domain(results: Results) -> bool:
    """Whether the runs were also evaluated on cross-domain test sets."""
    return bool(_domain_columns(results.runs))


def cross_domain_plot(results: Results, *, title: str | None = None) -> Figure:
    """Accuracy per strategy on the in-domain test set and every cross-domain set.

    Points are the mean over seeds with a 95% bootstrap interval (seaborn ``pointplot``); the
    teacher and the majority class are drawn as single points in their own colours.
    """
    columns = _domain_columns(results.runs)
    if not columns:
        raise ValueError(
            "these runs have no cross-domain accuracies (config.cross_domain is empty)"
        )
    task = getattr(results.config, "task", "test")
    domains = [f"{task} (in-domain)"] + [c[len("accuracy[") : -1] for c in columns]
    long_rows = _run_rows(results.runs, columns, domains)
    long_rows += _reference_rows(results.summary, columns, domains)
    frame = pd.DataFrame(long_rows).dropna(subset=["accuracy"])
    names = list(dict.fromkeys(frame["name"]))
    fig, ax = plt.subplots(figsize=(max(7.0, 1.9 * len(domains) + 3), 4.4), layout="constrained")
    sns.pointplot(
        data=frame,
        x="domain",
        y="accuracy",
        hue="name",
        hue_order=names,
        order=domains,
        palette={n: color_for(n) for n in names},
        dodge=0.6,
        linestyle="none",
        errorbar=("ci", 95),
        markers="o",
        capsize=0.05,
        ax=ax,
    )
    ax.set_xlabel("test set")
    ax.set_ylabel("accuracy")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, title="model")
    ax.set_title(title or "Accuracy in and out of domain (mean, 95% bootstrap CI over seeds)")
    return fig


def _run_rows(runs: pd.DataFrame, columns: list[str], domains: list[str]) -> list[dict[str, Any]]:
    """One ``{name, domain, accuracy}`` row per student run and test set."""
    rows = []
    for _, run in runs.iterrows():
        values = [run["test_accuracy"], *(run[col] for col in columns)]
        rows += [
            {"name": run["name"], "domain": domain, "accuracy": value}
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
