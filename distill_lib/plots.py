"""Figures for a strategy comparison: learning curves, test accuracy, layer maps, cross-domain.

    from distill_lib.experiment import load_results
    from distill_lib import plots

    results = load_results("runs/quick")
    plots.learning_curves(results);          # `;` stops Jupyter showing the figure twice
    plots.accuracy_plot(results);
    plots.layer_map_plot(12, 6);             # no results needed: just the layer choice
    plots.plot_all(results, folder="figures")  # PNG + SVG of every figure, what the CLI does

Every plotting function returns the :class:`matplotlib.figure.Figure` and leaves it open, so a
notebook displays it; :func:`plot_all` closes its figures after saving them. Nothing here
chooses a matplotlib backend: notebooks keep ``inline``, and scripts without a display get
matplotlib's automatic fallback (``Agg``).

Colours are fixed per strategy (:data:`PALETTE`), so ``uniform`` is the same colour in every
figure; baselines are grey and drawn with squares / dashed lines, collapsed runs are red ``X``.
"""

from __future__ import annotations

import io
import zlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle
from matplotlib.ticker import MaxNLocator

from ._io import atomic_write_bytes
from .experiment.results import ALPHA
from .layers import DATA_DRIVEN, STRATEGIES, canonical_strategy, select_layers

if TYPE_CHECKING:
    from .experiment import Results

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
_HISTORY_PANELS = (
    ("train_loss", "train loss"),
    ("val_loss", "validation loss"),
    ("val_accuracy", "validation accuracy"),
)


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


# ---------------------------------------------------------------------------------------------
# Learning curves


def learning_curves(
    results_or_histories: Results | pd.DataFrame,
    *,
    errorbar: str = "ci",
    title: str | None = None,
) -> Figure:
    """Train loss, validation loss and validation accuracy per epoch, one line per strategy.

    Args:
        results_or_histories: a :class:`~distill_lib.experiment.Results`, or its ``histories``
            table (columns ``name``, ``kind``, ``seed``, ``epoch``, ``train_loss``,
            ``val_loss``, ``val_accuracy``).
        errorbar: the band over seeds: ``"ci"`` (seaborn's bootstrap 95% interval of the
            mean) or ``"sd"`` (mean +/- one standard deviation). With one seed there is no band;
            with a single epoch the spread is an error bar (a band would have no width).
        title: figure title (default says what the band is).

    Returns:
        A figure with three axes; baselines are dashed with square markers.
    """
    if errorbar not in ("ci", "sd"):
        raise ValueError(f"errorbar must be 'ci' or 'sd', got {errorbar!r}")
    histories = _results_attr(results_or_histories, "histories")
    if histories is None:
        histories = results_or_histories
    if not isinstance(histories, pd.DataFrame) or histories.empty:
        raise ValueError("learning_curves needs a Results or a non-empty histories DataFrame")
    frame = histories.copy()
    if "kind" not in frame:
        frame["kind"] = "strategy"
    if "seed" not in frame:
        frame["seed"] = 0
    names = list(dict.fromkeys(frame["name"]))
    kinds = dict(zip(frame["name"], frame["kind"], strict=False))
    palette = {n: color_for(n) for n in names}
    dashes = {n: (4, 2) if _is_baseline(n, kinds[n]) else "" for n in names}
    markers = {n: "s" if _is_baseline(n, kinds[n]) else "o" for n in names}

    n_seeds = int(frame.groupby("name")["seed"].nunique().max())
    epochs = sorted(frame["epoch"].unique())
    spread = "error bar" if len(epochs) == 1 else "band"
    if n_seeds < 2:
        band, band_text = None, "one seed: no band"
    elif errorbar == "ci":
        band, band_text = ("ci", 95), f"{spread}: 95% bootstrap CI of the mean over {n_seeds} seeds"
    else:
        band, band_text = "sd", f"{spread}: mean ± 1 sd over {n_seeds} seeds"

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8), layout="constrained")
    for ax, (column, label) in zip(axes, _HISTORY_PANELS, strict=True):
        if column not in frame or frame[column].isna().all():
            ax.text(
                0.5, 0.5, f"{label}\nnot recorded", ha="center", va="center", transform=ax.transAxes
            )
        else:
            sns.lineplot(
                data=frame,
                x="epoch",
                y=column,
                hue="name",
                hue_order=names,
                style="name",
                style_order=names,
                palette=palette,
                dashes=dashes,
                markers=markers,
                markersize=7,
                errorbar=band,
                err_style="bars" if len(epochs) == 1 else "band",
                legend=False,
                ax=ax,
            )
        ax.set_title(label)
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
        if len(epochs) <= 12:
            ax.set_xticks([int(e) for e in epochs])
        else:
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        if len(epochs) == 1:
            ax.set_xlim(epochs[0] - 0.5, epochs[0] + 0.5)
        ax.grid(alpha=0.3)
    handles = [
        Line2D(
            [],
            [],
            color=palette[n],
            marker=markers[n],
            linestyle="--" if dashes[n] else "-",
            label=n,
        )
        for n in names
    ]
    fig.legend(
        handles=handles, loc="outside right center", title="strategy / baseline", frameon=False
    )
    fig.suptitle(title or f"Learning curves of the students ({band_text})")
    return fig


# ---------------------------------------------------------------------------------------------
# Final test accuracy


def _shape(results: Results) -> tuple[int | None, int | None]:
    n_teacher = len(results.teacher.get("layers") or []) or None
    n_student = getattr(results.config, "student_layers", None)
    return n_teacher, n_student


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
    x-axis label lists it. Horizontal lines mark the teacher and the majority class.

    Args:
        results: a :class:`~distill_lib.experiment.Results`.
        annotate_significance: write the paired-bootstrap verdict against the best strategy
            (``summary["vs_best_p"]``, Holm-corrected) above each point.
        title: figure title (default: teacher, depths, task and number of seeds).
    """
    summary = results.summary
    rows = summary[summary["kind"] != "reference"].reset_index(drop=True)
    if rows.empty:
        raise ValueError("results.summary has no strategies or baselines to plot")
    # strategies first (summary order), then the student baselines
    rows = pd.concat(
        [rows[rows["kind"] != "baseline"], rows[rows["kind"] == "baseline"]], ignore_index=True
    )
    runs = results.runs
    teacher_acc = _reference(summary, "teacher")
    majority_acc = _reference(summary, "majority")

    fig, ax = plt.subplots(figsize=(max(6.5, 1.0 * len(rows) + 3.5), 4.6), layout="constrained")
    collapsed_notes: list[str] = []
    collapsed_names: set[str] = set()
    n_collapsed = 0
    notes: list[tuple[float, float, str]] = []  # significance texts, drawn once limits are set
    all_values: list[float] = [v for v in (teacher_acc, majority_acc) if v is not None]
    for x, row in rows.iterrows():
        name = row["name"]
        baseline = _is_baseline(name, row["kind"])
        color = color_for(name)
        mean, low, high = row["mean_accuracy"], row["ci_low"], row["ci_high"]
        has_ci = not (pd.isna(low) or pd.isna(high))
        yerr = [[mean - low], [high - mean]] if has_ci else None
        ax.errorbar(
            [x - 0.12],
            [mean],
            yerr=yerr,
            fmt="s" if baseline else "o",
            color=color,
            markersize=9,
            capsize=5,
            elinewidth=2,
            markeredgecolor="black",
            zorder=3,
        )
        all_values += [mean] + ([low, high] if has_ci else [])
        sub = runs[runs["name"] == name].sort_values("seed")
        if not sub.empty:
            offsets = np.linspace(-0.05, 0.05, len(sub)) if len(sub) > 1 else np.zeros(1)
            xs = x + 0.14 + offsets
            ok = ~sub["collapsed"].to_numpy(dtype=bool)
            ys = sub["test_accuracy"].to_numpy(dtype=float)
            all_values += ys.tolist()
            ax.scatter(
                xs[ok],
                ys[ok],
                s=22,
                color=color,
                alpha=0.75,
                edgecolor="white",
                linewidth=0.5,
                zorder=4,
            )
            if (~ok).any():
                ax.scatter(
                    xs[~ok],
                    ys[~ok],
                    s=90,
                    marker="X",
                    color=COLLAPSED_COLOR,
                    edgecolor="black",
                    linewidth=0.6,
                    zorder=5,
                    gid="collapsed",
                )
                seeds = ", ".join(str(int(s)) for s in sub["seed"][~ok])
                collapsed_notes.append(f"{name} (seed{'s' if (~ok).sum() > 1 else ''} {seeds})")
                collapsed_names.add(name)
                n_collapsed += int((~ok).sum())
        if annotate_significance:
            note = _vs_best_note(results, name)
            if note:
                notes.append((x - 0.12, high if has_ci else mean, note))

    if teacher_acc is not None:
        ax.axhline(
            teacher_acc,
            color=PALETTE["teacher"],
            linestyle="--",
            linewidth=1.2,
            label=f"teacher ({teacher_acc:.3f})",
            zorder=1,
        )
    if majority_acc is not None:
        ax.axhline(
            majority_acc,
            color=PALETTE["majority"],
            linestyle=":",
            linewidth=1.5,
            label=f"majority class ({majority_acc:.3f})",
            zorder=1,
        )

    n_strategies = int((rows["kind"] != "baseline").sum())
    if 0 < n_strategies < len(rows):
        ax.axvline(n_strategies - 0.5, color="#cccccc", linewidth=1, zorder=0)
    ax.set_xticks(range(len(rows)))
    ax.set_xticklabels(rows["name"])
    for tick, (_, row) in zip(ax.get_xticklabels(), rows.iterrows(), strict=True):
        if _is_baseline(row["name"], row["kind"]):
            tick.set_color("#555555")
            tick.set_fontstyle("italic")
        if row["name"] in collapsed_names:
            tick.set_color(COLLAPSED_COLOR)
            tick.set_fontweight("bold")
    ax.set_xlim(-0.6, len(rows) - 0.4)
    # accuracies live in [0, 1] (the bootstrap intervals too)
    lo = max(0.0, min(all_values))
    hi = min(1.0, max(all_values))
    pad = max(0.02, 0.08 * (hi - lo))
    ax.set_ylim(max(0.0, lo - pad), hi + 1.5 * pad)
    for x, top, note in notes:
        ax.annotate(
            note,
            (x, min(top, hi)),
            xytext=(0, 7),  # clears the marker (radius 4.5 pt) and the CI cap
            textcoords="offset points",
            ha="center",
            va="bottom",
            fontsize=8,
            color="#333333",
            bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8, "pad": 1},
        )
    ax.set_ylabel("test accuracy")
    ax.grid(axis="y", alpha=0.3)
    xlabel = "strategy  (italics, squares: student baselines)"
    if collapsed_notes:
        xlabel += "\ncollapsed (red X): " + "; ".join(collapsed_notes)
    ax.set_xlabel(xlabel)

    handles = [
        Line2D(
            [],
            [],
            marker="o",
            color="#555555",
            markeredgecolor="black",
            markersize=8,
            label="mean, 95% bootstrap interval (seeds × test sentences)",
        ),
        Line2D(
            [],
            [],
            marker="o",
            linestyle="",
            color="#555555",
            alpha=0.75,
            markersize=5,
            label="one seed",
        ),
    ]
    handles += [line for line in ax.get_lines() if not line.get_label().startswith("_")]
    if collapsed_notes:
        handles.append(
            Line2D(
                [],
                [],
                marker="X",
                linestyle="",
                color=COLLAPSED_COLOR,
                markeredgecolor="black",
                markersize=9,
                label=f"collapsed run ({n_collapsed} of {len(runs)} runs)",
            )
        )
    if annotate_significance:
        handles.append(
            Line2D(
                [], [], linestyle="", label="text: vs best, paired bootstrap\n(Holm), * p < 0.05"
            )
        )
    ax.legend(
        handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, fontsize=9
    )
    ax.set_title(title or _accuracy_title(results, rows))
    return fig


def _reference(summary: pd.DataFrame, name: str) -> float | None:
    hit = summary[summary["name"] == name]
    if hit.empty or pd.isna(hit["mean_accuracy"].iloc[0]):
        return None
    return float(hit["mean_accuracy"].iloc[0])


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


# ---------------------------------------------------------------------------------------------
# Layer maps


def _maps_from_results(results: Results) -> tuple[dict[str, list[int]], int, int]:
    n_teacher, n_student = _shape(results)
    runs = results.runs
    maps = {}
    for name, layers in results.layer_maps.items():
        init = runs.loc[runs["name"] == name, "init"]
        if len(init) and init.iloc[0] != "teacher":
            continue  # random-init copies no teacher layer
        maps[name if name != "no-kd" else "no-kd (hard labels)"] = [int(i) for i in layers]
    if n_teacher is None:
        n_teacher = max(max(v) for v in maps.values()) + 1
    if n_student is None:
        n_student = len(next(iter(maps.values())))
    return maps, int(n_teacher), int(n_student)


def layer_map_plot(
    n_teacher: int | Results,
    n_student: int | None = None,
    strategies: Sequence[str] | Mapping[str, Sequence[int]] | None = None,
    *,
    seed: int = 0,
    title: str | None = None,
) -> Figure:
    """Which teacher layers each strategy keeps: one row per strategy, one column per layer.

    Columns are teacher layers numbered 1..n (layer 1 = nearest the embeddings). A filled cell
    is a kept layer, labelled ``S<i>``: the student layer (also counted from 1) it becomes.

    Args:
        n_teacher: teacher depth, or a :class:`~distill_lib.experiment.Results` (its layer
            maps are drawn; the ``random-init`` baseline copies no layer and is left out).
        n_student: student depth (not needed with a Results).
        strategies: names (default: every named strategy of :data:`~distill_lib.STRATEGIES`),
            or a ``{label: layers}`` mapping of 0-indexed layers (e.g. ``results.layer_maps``).
            Strategies impossible for this shape (e.g. ``odd`` for 12 -> 7) are skipped and
            named in the title.
        seed: the seed of the ``random`` strategy.
        title: figure title.
    """
    skipped: list[str] = []
    if not isinstance(n_teacher, (int, np.integer)):
        maps, n_t, n_s = _maps_from_results(n_teacher)
        if strategies is not None:
            keep = set(strategies)
            maps = {k: v for k, v in maps.items() if k in keep}
    else:
        n_t = int(n_teacher)
        if isinstance(strategies, Mapping):
            maps = {str(k): [int(i) for i in v] for k, v in strategies.items()}
            n_s = int(n_student) if n_student is not None else len(next(iter(maps.values())))
        else:
            if n_student is None:
                raise ValueError("layer_map_plot(n_teacher, n_student): give the student depth")
            n_s = int(n_student)
            names = list(strategies) if strategies is not None else list(STRATEGIES)
            maps = {}
            for name in names:
                try:
                    layers = select_layers(name, n_t, n_s, seed=seed)
                except ValueError:
                    skipped.append(name)
                    continue
                label = f"random (seed {seed})" if name == "random" else name
                maps[label] = layers
    if not maps:
        raise ValueError(f"no strategy is possible for {n_t} -> {n_s} layers")
    for label, layers in maps.items():
        bad = [i for i in layers if not 0 <= i < n_t]
        if bad:
            raise ValueError(f"{label}: layers {bad} are outside a {n_t}-layer teacher")

    rows = list(maps)
    fig, ax = plt.subplots(
        figsize=(max(5.0, 0.55 * n_t + 2.8), 0.5 * len(rows) + 1.9), layout="constrained"
    )
    for r, label in enumerate(rows):
        chosen = {layer: i for i, layer in enumerate(maps[label])}
        color = color_for(label.split(" (")[0])
        for c in range(n_t):
            filled = c in chosen
            ax.add_patch(
                Rectangle(
                    (c, r),
                    1,
                    1,
                    facecolor=color if filled else "#f4f4f4",
                    edgecolor="white",
                    linewidth=2,
                    gid="cell-filled" if filled else "cell-empty",
                )
            )
            if filled:
                ax.text(
                    c + 0.5,
                    r + 0.5,
                    f"S{chosen[c] + 1}",
                    ha="center",
                    va="center",
                    color="white",
                    fontsize=9,
                    fontweight="bold",
                )
    ax.set_xlim(0, n_t)
    ax.set_ylim(len(rows), 0)
    ax.set_xticks(np.arange(n_t) + 0.5)
    ax.set_xticklabels([str(i + 1) for i in range(n_t)])
    ax.set_yticks(np.arange(len(rows)) + 0.5)
    ax.set_yticklabels(rows)
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.set_xlabel("teacher layer (1 = nearest the embeddings)")
    ax.set_aspect("equal")
    heading = title or f"Teacher layers copied into the student: {n_t} → {n_s} layers"
    sub = "S<i>: becomes student layer i"
    if skipped:
        sub += f"; impossible here, skipped: {', '.join(skipped)}"
    ax.set_title(f"{heading}\n{sub}", fontsize=10)
    return fig


# ---------------------------------------------------------------------------------------------
# Cross-domain


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
    long_rows = []
    for _, run in results.runs.iterrows():
        long_rows.append(
            {"name": run["name"], "domain": domains[0], "accuracy": run["test_accuracy"]}
        )
        for col, domain in zip(columns, domains[1:], strict=True):
            long_rows.append({"name": run["name"], "domain": domain, "accuracy": run[col]})
    summary = results.summary
    for ref in ("teacher", "majority"):
        hit = summary[summary["name"] == ref]
        if hit.empty:
            continue
        long_rows.append(
            {"name": ref, "domain": domains[0], "accuracy": hit["mean_accuracy"].iloc[0]}
        )
        for col, domain in zip(columns, domains[1:], strict=True):
            if col in hit:
                long_rows.append({"name": ref, "domain": domain, "accuracy": hit[col].iloc[0]})
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


# ---------------------------------------------------------------------------------------------
# Saving


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


def plot_all(
    results: Results, folder: str | Path = "figures", prefix: str = ""
) -> dict[str, list[Path]]:
    """Draw, save (PNG + SVG) and close every figure of a comparison; return the paths.

    Keys: ``learning_curves``, ``accuracy``, ``layer_map``; ``cross_domain`` when the runs
    have cross-domain accuracies; ``layer_scores`` and ``cka`` when data-driven strategies
    ran (``results.measured``). Files are named ``<prefix><key>.<ext>``.
    """
    makers: dict[str, Any] = {
        "learning_curves": learning_curves,
        "accuracy": accuracy_plot,
        "layer_map": layer_map_plot,
    }
    if has_cross_domain(results):
        makers["cross_domain"] = cross_domain_plot
    if results.measured:
        chosen = {n: results.layer_maps[n] for n in DATA_DRIVEN if n in results.layer_maps}
        makers["layer_scores"] = lambda r: plot_layer_scores(r.measured, chosen=chosen)
        makers["cka"] = lambda r: plot_cka(r.measured)
    written: dict[str, list[Path]] = {}
    for key, make in makers.items():
        fig = make(results)
        try:
            written[key] = save_figure(fig, f"{prefix}{key}", folder)
        finally:
            plt.close(fig)
    return written


__all__ = [
    "COLLAPSED_COLOR",
    "PALETTE",
    "accuracy_plot",
    "color_for",
    "cross_domain_plot",
    "has_cross_domain",
    "layer_map_plot",
    "learning_curves",
    "plot_all",
    "save_figure",
]


# ---------------------------------------------------------------------------------------------
# Data-driven layer selection (distill_lib.selection)

_SIGNAL_PANELS = (
    ("influence", "block influence", "1 - cos(layer input, output),\nmean over tokens"),
    ("cka-cover", "1 - CKA(layer input, output)", "1 - linear CKA of\nmean-pooled sentences"),
    ("drop", "accuracy drop when skipped", "validation accuracy:\nfull - without the layer"),
)


def plot_layer_scores(
    measured: Mapping[str, Any],
    chosen: Mapping[str, Sequence[int]] | None = None,
    ax: Sequence[plt.Axes] | None = None,
) -> Figure:
    """The three layer-selection signals of a teacher, one bar per teacher layer.

    Panels: block influence; ``1 - CKA`` between each layer's input and output (how much the
    layer changes the mean-pooled sentence representations, a sentence-level counterpart of
    block influence; the ``cka-cover`` choice itself uses all pairs, drawn by
    :func:`plot_cka`); the validation accuracy drop when the layer is skipped.

    Args:
        measured: the dict of :func:`distill_lib.selection.measure_layers`.
        chosen: ``{"influence": [...], "cka-cover": [...], "drop": [...]}`` (0-indexed
            layers, e.g. from :func:`~distill_lib.selection.choose_layers`); each panel marks
            its signal's layers with dark, outlined bars and a star. Other keys are ignored.
        ax: three axes to draw into (default: a new figure with one row of three panels).

    Returns:
        The figure. Chosen bars have gid ``"chosen-layer"``, the others ``"layer"``.
    """
    from matplotlib.colors import to_rgba

    cka = np.asarray(measured["cka"], dtype=float)
    n = int(measured.get("n_layers", cka.shape[0] - 1))
    values = {
        "influence": np.asarray(measured["block_influence"], dtype=float),
        "cka-cover": np.array([1.0 - cka[i + 1, i] for i in range(n)]),
        "drop": np.asarray(measured["drop"]["accuracy_drop"], dtype=float),
    }
    if ax is None:
        fig, axes = plt.subplots(
            1, 3, figsize=(max(10.0, 1.1 * n + 5.0), 3.8), layout="constrained"
        )
        axes = list(axes)
    else:
        axes = list(np.ravel(np.asarray(ax, dtype=object)))
        if len(axes) != 3:
            raise ValueError(f"plot_layer_scores draws 3 panels; got {len(axes)} axes")
        fig = axes[0].figure
    chosen = chosen or {}
    for a, (name, label, detail) in zip(axes, _SIGNAL_PANELS, strict=True):
        vals = values[name]
        picked = {int(i) for i in chosen.get(name, ())}
        color = PALETTE[name]
        bars = a.bar(
            range(n),
            vals,
            color=[to_rgba(color, 1.0 if i in picked or not picked else 0.35) for i in range(n)],
            edgecolor=["black" if i in picked else "none" for i in range(n)],
            linewidth=1.2,
        )
        for i, bar in enumerate(bars):
            bar.set_gid("chosen-layer" if i in picked else "layer")
        span = float(np.ptp(np.append(vals, 0.0))) or 1.0
        if picked:
            xs = sorted(picked)
            a.scatter(
                xs,
                [max(vals[i], 0.0) + 0.06 * span for i in xs],
                marker="*",
                s=90,
                color="black",
                zorder=3,
                gid="chosen-star",
            )
            a.set_ylim(top=max(vals.max(), 0.0) + 0.15 * span)
        a.axhline(0.0, color="#888888", linewidth=0.8)
        a.set_xticks(range(n))
        a.set_xticklabels([str(i) for i in range(n)])
        a.set_xlabel("teacher layer (0 = nearest the embeddings)")
        a.set_ylabel(detail)
        title = f"{label}"
        if name == "drop" and "full_accuracy" in measured["drop"]:
            title += f"\n(full accuracy {measured['drop']['full_accuracy']:.3f})"
        elif picked:
            title += f"\n{name}: {sorted(picked)}"
        a.set_title(title, fontsize=10)
        a.grid(axis="y", alpha=0.3)
    if ax is None:
        sizes = []
        if "calibration_size" in measured:
            sizes.append(f"{measured['calibration_size']} training sentences")
        if "validation_size" in measured:
            sizes.append(f"{measured['validation_size']} validation sentences")
        marks = (
            "; dark bars and ★: chosen layers"
            if any(chosen.get(s) for s, *_ in _SIGNAL_PANELS)
            else ""
        )
        fig.suptitle(
            f"Layer-selection signals of the {n}-layer teacher"
            + (f" ({', '.join(sizes)})" if sizes else "")
            + marks
        )
    return fig


def plot_cka(
    measured_or_matrix: Mapping[str, Any] | np.ndarray, ax: plt.Axes | None = None
) -> Figure:
    """Heatmap of linear CKA between the embeddings and every layer output.

    Args:
        measured_or_matrix: the dict of :func:`distill_lib.selection.measure_layers` or its
            ``"cka"`` matrix, ``(n + 1, n + 1)``; row/column 0 is the embedding output, i + 1
            the output of layer i (labelled ``"emb"``, ``"0"``, ``"1"``, ...).
        ax: axes to draw into (default: a new figure).

    Returns:
        The figure. Bright blocks are runs of layers with similar representations; a
        cover picks one layer per block.
    """
    is_dict = isinstance(measured_or_matrix, Mapping)
    matrix = np.asarray(measured_or_matrix["cka"] if is_dict else measured_or_matrix, dtype=float)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1] or matrix.shape[0] < 2:
        raise ValueError(f"plot_cka needs a square (n + 1, n + 1) matrix, got {matrix.shape}")
    size = matrix.shape[0]
    labels = ["emb"] + [str(i) for i in range(size - 1)]
    if ax is None:
        _, ax = plt.subplots(figsize=(0.5 * size + 2.8, 0.45 * size + 2.0), layout="constrained")
    sns.heatmap(
        matrix,
        ax=ax,
        vmin=0.0,
        vmax=1.0,
        cmap="viridis",
        square=True,
        annot=size <= 13,
        fmt=".2f",
        annot_kws={"fontsize": 7},
        xticklabels=labels,
        yticklabels=labels,
        cbar_kws={"label": "linear CKA"},
    )
    ax.tick_params(axis="y", labelrotation=0)
    ax.set_xlabel("layer output (emb = embeddings, 0 = first layer)")
    ax.set_ylabel("layer output")
    pooling = measured_or_matrix.get("pooling") if is_dict else None
    ax.set_title(
        "Linear CKA between layer outputs"
        + (f"\n(one vector per sentence: {pooling})" if pooling else ""),
        fontsize=10,
    )
    return ax.figure


__all__ += ["plot_cka", "plot_layer_scores"]
