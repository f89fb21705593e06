"""Learning curves: train loss, validation loss and validation accuracy per epoch."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from ._common import _is_baseline, _results_attr, color_for

if TYPE_CHECKING:
    from ..experiment import Results

_HISTORY_PANELS = (
    ("train_loss", "train loss"),
    ("val_loss", "validation loss"),
    ("val_accuracy", "validation accuracy"),
)


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
    frame = _history_frame(results_or_histories)
    names = list(dict.fromkeys(frame["name"]))
    style = _line_style(frame, names)
    epochs = sorted(frame["epoch"].unique())
    band, band_text = _band(frame, epochs, errorbar)

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8), layout="constrained")
    for ax, (column, label) in zip(axes, _HISTORY_PANELS, strict=True):
        _draw_panel(ax, frame, (column, label), names, style, band, len(epochs) == 1)
        _format_panel(ax, label, epochs)
    fig.legend(
        handles=_legend_handles(names, style),
        loc="outside right center",
        title="strategy / baseline",
        frameon=False,
    )
    fig.suptitle(title or f"Learning curves of the students ({band_text})")
    return fig


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


def _line_style(frame: pd.DataFrame, names: list[str]) -> dict[str, dict[str, Any]]:
    """seaborn's ``palette``, ``dashes`` and ``markers``: baselines dashed with squares."""
    kinds = dict(zip(frame["name"], frame["kind"], strict=False))
    return {
        "palette": {n: color_for(n) for n in names},
        "dashes": {n: (4, 2) if _is_baseline(n, kinds[n]) else "" for n in names},
        "markers": {n: "s" if _is_baseline(n, kinds[n]) else "o" for n in names},
    }


def _band(frame: pd.DataFrame, epochs: list[Any], errorbar: str) -> tuple[Any, str]:
    """seaborn's ``errorbar`` argument and the words that describe it in the title."""
    n_seeds = int(frame.groupby("name")["seed"].nunique().max())
    spread = "error bar" if len(epochs) == 1 else "band"
    if n_seeds < 2:
        return None, "one seed: no band"
    if errorbar == "ci":
        return ("ci", 95), f"{spread}: 95% bootstrap CI of the mean over {n_seeds} seeds"
    return "sd", f"{spread}: mean ± 1 sd over {n_seeds} seeds"


def _draw_panel(
    ax: plt.Axes,
    frame: pd.DataFrame,
    panel: tuple[str, str],
    names: list[str],
    style: dict[str, dict[str, Any]],
    band: Any,
    one_epoch: bool,
) -> None:
    """One line per name (with its band over seeds), or a note when nothing was recorded."""
    column, label = panel
    if column not in frame or frame[column].isna().all():
        ax.text(
            0.5, 0.5, f"{label}\nnot recorded", ha="center", va="center", transform=ax.transAxes
        )
        return
    sns.lineplot(
        data=frame,
        x="epoch",
        y=column,
        hue="name",
        hue_order=names,
        style="name",
        style_order=names,
        **style,
        markersize=7,
        errorbar=band,
        err_style="bars" if one_epoch else "band",
        legend=False,
        ax=ax,
    )


def _format_panel(ax: plt.Axes, label: str, epochs: list[Any]) -> None:
    """Title, axis labels, integer epoch ticks and grid of one panel."""
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


def _legend_handles(names: list[str], style: dict[str, dict[str, Any]]) -> list[Line2D]:
    """One legend entry per name, in its colour, marker and line style."""
    return [
        Line2D(
            [],
            [],
            color=style["palette"][n],
            marker=style["markers"][n],
            linestyle="--" if style["dashes"][n] else "-",
            label=n,
        )
        for n in names
    ]
