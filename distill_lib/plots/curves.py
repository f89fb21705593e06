"""Learning curves: train loss, validation loss and validation accuracy per epoch.

The training loop records one row per epoch (``history`` in each run JSON). A run of several
epochs is drawn as a curve; a run of one epoch has one evaluation, so there is no curve to
draw: each panel is then a dot plot (one row per strategy, one dot per seed) and says so.
Evaluating every N steps instead would need the runs trained again (the stored histories have
no finer rows), which a figure cannot do.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator

from ._common import (
    COLLAPSED_COLOR,
    _collapsed_seeds,
    _collapsed_text,
    _display_names,
    _is_baseline,
    _results_attr,
    color_for,
    mark_collapsed,
)

if TYPE_CHECKING:
    from ..experiment import Results

_TRAIN_TERMS = {
    "hard": ("train_hard", "train cross-entropy, true labels\n(the term every run minimises)"),
    "total": ("train_loss", "train loss, each run's own objective\n(KD: soft + hard terms)"),
}
_TOTAL_FALLBACK = "train loss, each run's own objective\n(no hard-label term recorded)"
_VAL_PANELS = (("val_loss", "validation loss"), ("val_accuracy", "validation accuracy"))
_ONE_EPOCH = "one evaluation per run (1 epoch): no curve"
_BOOTSTRAP_RESAMPLES = 2000


def learning_curves(
    results_or_histories: Results | pd.DataFrame,
    *,
    errorbar: str = "range",
    title: str | None = None,
    train_term: str = "hard",
) -> Figure:
    """Train loss, validation loss and validation accuracy per epoch, one line per strategy.

    With a single epoch per run there is one evaluation and no curve: each panel becomes a dot
    plot (a row per strategy, the mean and one dot per seed) titled "one evaluation per run
    (1 epoch): no curve". Curves every N steps would need the runs retrained.

    Args:
        results_or_histories: a :class:`~distill_lib.experiment.Results`, or its ``histories``
            table (columns ``name``, ``kind``, ``seed``, ``epoch``, ``train_hard``,
            ``train_loss``, ``val_loss``, ``val_accuracy``). With a Results, a data-driven
            strategy that reused a fixed strategy's runs is drawn once, labelled with both
            names (``"odd = cka-cover"``), and collapsed runs are red ``X`` marks (their
            names red in the dot plot, listed in the legend).
        errorbar: the interval over seeds, named in the legend: ``"range"`` (min-max over
            seeds, the default: the validation histories hold no per-sentence predictions, so
            the accuracy plot's bootstrap over seeds and sentences is not possible here),
            ``"ci"`` (95% percentile bootstrap of the mean over seeds only) or ``"sd"``
            (mean +/- one standard deviation). With one seed there is no interval.
        title: figure title (default: what is drawn and what the interval is).
        train_term: ``"hard"`` (default) draws the cross-entropy on the true labels, a term
            every run has, so KD students and ``no-kd`` are compared on the same quantity;
            ``"total"`` draws each run's own training objective (KD: soft + hard terms,
            ``no-kd``: cross-entropy only: not comparable between them). Histories without
            ``train_hard`` fall back to the total, and the panel says so.

    Returns:
        A figure with three axes. Curves have gid ``"curve"``, interval bands ``"interval"``,
        means of the dot plot ``"mean"``, collapsed runs ``"collapsed"``.
    """
    if errorbar not in ("range", "ci", "sd"):
        raise ValueError(f"errorbar must be 'range', 'ci' or 'sd', got {errorbar!r}")
    if train_term not in _TRAIN_TERMS:
        raise ValueError(f"train_term must be 'hard' or 'total', got {train_term!r}")
    frame = _history_frame(results_or_histories)
    labels = _display_names(results_or_histories, list(dict.fromkeys(frame["name"])))
    frame = frame[frame["name"].isin(labels)]
    collapsed = _collapsed_seeds(results_or_histories)
    collapsed = {n: s for n, s in collapsed.items() if n in labels}
    panels = [_train_panel(frame, train_term), *_VAL_PANELS]
    n_seeds = int(frame.groupby("name")["seed"].nunique().max())
    interval = _interval_text(errorbar, n_seeds)
    draw = _Draw(frame, labels, collapsed, errorbar)
    one_epoch = int(frame.groupby(["name", "seed"])["epoch"].nunique().max()) == 1
    if one_epoch:
        fig = _dot_figure(draw, panels, interval)
        heading = title or "Students after their single epoch"
        spread = f"mean; bar: {interval}" if interval else "one seed: no interval"
        fig.suptitle(f"{heading}\n{_ONE_EPOCH}; {spread}")
    else:
        fig = _curve_figure(draw, panels, interval)
        spread = f"mean; band: {interval}" if interval else "one seed: no band"
        fig.suptitle(title or f"Learning curves of the students ({spread})")
    return fig


class _Draw:
    """What every panel needs: the rows, the labels, the collapsed seeds, the interval."""

    def __init__(
        self,
        frame: pd.DataFrame,
        labels: dict[str, str],
        collapsed: dict[str, list[int]],
        errorbar: str,
    ) -> None:
        self.frame = frame
        self.labels = labels
        self.collapsed = collapsed
        self.errorbar = errorbar
        self.kinds = dict(zip(frame["name"], frame["kind"], strict=False))

    def rows(self, name: str) -> pd.DataFrame:
        return self.frame[self.frame["name"] == name]

    def baseline(self, name: str) -> bool:
        return _is_baseline(name, self.kinds[name])


def _history_frame(results_or_histories: Results | pd.DataFrame) -> pd.DataFrame:
    """A copy of the histories table, with ``kind`` and ``seed`` filled in when missing."""
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
    return frame


def _train_panel(frame: pd.DataFrame, train_term: str) -> tuple[str, str]:
    """The train-loss column and its title: the hard-label term when every row has it."""
    column, label = _TRAIN_TERMS[train_term]
    if train_term == "hard" and (column not in frame or frame[column].isna().any()):
        return "train_loss", _TOTAL_FALLBACK
    return column, label


def _interval_text(errorbar: str, n_seeds: int) -> str:
    """The interval in words, as the legend and title name it ("" for one seed: none)."""
    if n_seeds < 2:
        return ""
    return {
        "range": f"min-max over {n_seeds} seeds",
        "ci": f"95% percentile bootstrap of the mean over {n_seeds} seeds",
        "sd": f"mean ± 1 sd over {n_seeds} seeds",
    }[errorbar]


def _interval(values: np.ndarray, errorbar: str) -> tuple[float, float]:
    """Low and high end of the interval over seeds (NaN with fewer than two values)."""
    values = values[~np.isnan(values)]
    if len(values) < 2:
        return np.nan, np.nan
    if errorbar == "range":
        return float(values.min()), float(values.max())
    if errorbar == "sd":
        spread = float(values.std(ddof=1))
        return float(values.mean()) - spread, float(values.mean()) + spread
    rng = np.random.default_rng(0)
    means = rng.choice(values, size=(_BOOTSTRAP_RESAMPLES, len(values))).mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return float(low), float(high)


def _aggregate(rows: pd.DataFrame, column: str, errorbar: str) -> pd.DataFrame:
    """Per epoch: the mean over seeds and the interval's ends."""
    out = []
    for epoch, sub in rows.groupby("epoch", sort=True):
        values = sub[column].to_numpy(dtype=float)
        low, high = _interval(values, errorbar)
        out.append({"epoch": epoch, "mean": np.nanmean(values), "low": low, "high": high})
    return pd.DataFrame(out, columns=["epoch", "mean", "low", "high"])


def _missing(frame: pd.DataFrame, column: str) -> bool:
    return column not in frame or frame[column].isna().all()


def _not_recorded(ax: plt.Axes, label: str) -> None:
    title = label.split("\n")[0]
    ax.text(0.5, 0.5, f"{title}\nnot recorded", ha="center", va="center", transform=ax.transAxes)


# ---------------------------------------------------------------------------------------------
# several epochs: curves


def _curve_figure(draw: _Draw, panels: list[tuple[str, str]], interval: str) -> Figure:
    """One panel per quantity, one line (and band) per label, collapsed runs as red X."""
    fig, axes = plt.subplots(1, len(panels), figsize=(13, 3.9), layout="constrained")
    epochs = sorted(draw.frame["epoch"].unique())
    for ax, (column, label) in zip(axes, panels, strict=True):
        if _missing(draw.frame, column):
            _not_recorded(ax, label)
            continue
        for name in draw.labels:
            _draw_curve(ax, draw, name, column)
        _format_curve_panel(ax, label, epochs)
    fig.legend(
        handles=_curve_legend(draw, interval),
        loc="outside right center",
        title="strategy / baseline",
        frameon=False,
        fontsize=9,
    )
    _color_legend_names(fig.legends[0], draw)
    return fig


def _draw_curve(ax: plt.Axes, draw: _Draw, name: str, column: str) -> None:
    """The mean over seeds per epoch, its interval band, and the collapsed runs' values."""
    rows = draw.rows(name)
    agg = _aggregate(rows, column, draw.errorbar)
    color = color_for(name)
    baseline = draw.baseline(name)
    ax.plot(
        agg["epoch"],
        agg["mean"],
        color=color,
        marker="s" if baseline else "o",
        linestyle="--" if baseline else "-",
        markersize=6,
        label=draw.labels[name],
        gid="curve",
    )
    if agg["low"].notna().any():
        ax.fill_between(
            agg["epoch"], agg["low"], agg["high"], color=color, alpha=0.15, lw=0, gid="interval"
        )
    bad = rows[rows["seed"].isin(draw.collapsed.get(name, []))]
    if not bad.empty:
        mark_collapsed(ax, bad["epoch"], bad[column], size=60)


def _format_curve_panel(ax: plt.Axes, label: str, epochs: list[Any]) -> None:
    """Title, axis labels, integer epoch ticks and grid of one panel."""
    ax.set_title(label, fontsize=10)
    ax.set_xlabel("epoch")
    ax.set_ylabel(label.split("\n")[0])
    if len(epochs) <= 12:
        ax.set_xticks([int(e) for e in epochs])
    else:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)


def _curve_legend(draw: _Draw, interval: str) -> list[Any]:
    """One entry per label, then the interval and (if any) the collapsed runs."""
    handles: list[Any] = [
        Line2D(
            [],
            [],
            color=color_for(n),
            marker="s" if draw.baseline(n) else "o",
            linestyle="--" if draw.baseline(n) else "-",
            label=label,
        )
        for n, label in draw.labels.items()
    ]
    if interval:
        handles.append(Patch(color="#555555", alpha=0.2, label=f"band: {interval}"))
    handles += _collapsed_keys(draw)
    return handles


def _collapsed_keys(draw: _Draw) -> list[Line2D]:
    if not draw.collapsed:
        return []
    text = _collapsed_text(draw.collapsed, draw.labels).replace("; ", ";\n")
    return [
        Line2D(
            [],
            [],
            marker="X",
            linestyle="",
            color=COLLAPSED_COLOR,
            markeredgecolor="black",
            markersize=8,
            label=f"collapsed run (red X):\n{text}",
        )
    ]


def _color_legend_names(legend: Any, draw: _Draw) -> None:
    """Names with a collapsed run in red, as on the accuracy plot."""
    marked = {draw.labels[n] for n in draw.collapsed}
    for text in legend.get_texts():
        if text.get_text() in marked:
            text.set_color(COLLAPSED_COLOR)
            text.set_fontweight("bold")


# ---------------------------------------------------------------------------------------------
# one epoch: one evaluation per run, a dot plot


def _dot_figure(draw: _Draw, panels: list[tuple[str, str]], interval: str) -> Figure:
    """One row per label: the mean with its interval and one dot per seed, in every panel."""
    names = list(draw.labels)
    fig, axes = plt.subplots(
        1,
        len(panels),
        figsize=(13, 0.38 * len(names) + 2.2),
        sharey=True,
        layout="constrained",
    )
    for ax, (column, label) in zip(axes, panels, strict=True):
        if _missing(draw.frame, column):
            _not_recorded(ax, label)
            continue
        for y, name in enumerate(names):
            _draw_dots(ax, y, draw, name, column)
        ax.set_title(label, fontsize=10)
        ax.set_xlabel(f"{label.split(chr(10))[0]} after epoch 1")
        ax.grid(axis="x", alpha=0.3)
    _style_rows(axes[0], draw)
    fig.legend(
        handles=_dot_legend(draw, interval),
        loc="outside right center",
        frameon=False,
        fontsize=9,
    )
    return fig


def _draw_dots(ax: plt.Axes, y: int, draw: _Draw, name: str, column: str) -> None:
    """Row ``y``: the mean over seeds with its interval, then each seed (collapsed: red X)."""
    rows = draw.rows(name).sort_values("seed")
    values = rows[column].to_numpy(dtype=float)
    low, high = _interval(values, draw.errorbar)
    mean = float(np.nanmean(values))
    color = color_for(name)
    has_bar = not np.isnan(low)
    ax.errorbar(
        [mean],
        [y - 0.12],
        xerr=[[mean - low], [high - mean]] if has_bar else None,
        fmt="s" if draw.baseline(name) else "o",
        color=color,
        markeredgecolor="black",
        markersize=8,
        capsize=4,
        elinewidth=2,
        zorder=3,
        gid="mean",
    )
    bad = rows["seed"].isin(draw.collapsed.get(name, [])).to_numpy()
    ys = np.full(len(values), y + 0.16)
    if len(values) > 1:  # one seed: the mean is the seed
        ax.scatter(
            values[~bad], ys[~bad], s=20, color=color, alpha=0.75, edgecolor="white", zorder=4
        )
    if bad.any():
        mark_collapsed(ax, values[bad], ys[bad], size=70)


def _style_rows(ax: plt.Axes, draw: _Draw) -> None:
    """y ticks: the labels, baselines grey italics, names with a collapsed run red."""
    names = list(draw.labels)
    ax.set_yticks(range(len(names)))
    ax.set_yticklabels([draw.labels[n] for n in names])
    ax.set_ylim(len(names) - 0.5, -0.5)
    for tick, name in zip(ax.get_yticklabels(), names, strict=True):
        if draw.baseline(name):
            tick.set_color("#555555")
            tick.set_fontstyle("italic")
        if name in draw.collapsed:
            tick.set_color(COLLAPSED_COLOR)
            tick.set_fontweight("bold")


def _dot_legend(draw: _Draw, interval: str) -> list[Line2D]:
    """Keys of the dot plot: the mean and its interval, one seed, collapsed runs."""
    mean = f"mean; bar: {interval}" if interval else "value (one seed)"
    handles = [
        Line2D([], [], marker="o", color="#555555", markeredgecolor="black", label=mean),
    ]
    if interval:
        handles.append(
            Line2D([], [], marker="o", linestyle="", color="#555555", alpha=0.75, label="one seed")
        )
    return handles + _collapsed_keys(draw)
