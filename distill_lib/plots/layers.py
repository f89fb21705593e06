"""Layer figures: which teacher layers each strategy keeps, and the teacher's measurements."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from ..layers import STRATEGIES, select_layers
from ._common import PALETTE, _base_name, _display_names, _shape, color_for

if TYPE_CHECKING:
    from ..experiment import Results

# ---------------------------------------------------------------------------------------------
# Layer maps


def layer_map_plot(
    n_teacher: int | Results,
    n_student: int | None = None,
    strategies: Sequence[str] | Mapping[str, Sequence[int]] | None = None,
    *,
    seed: int = 0,
    title: str | None = None,
) -> Figure:
    """Which teacher layers each strategy keeps: one row per strategy, one column per layer.

    Columns are teacher layers numbered 0..n-1 (0 = nearest the embeddings), as everywhere in
    the package (layer lists, scores, CKA). A filled cell is a kept layer, labelled ``S<i>``:
    the student layer (also counted from 0) it becomes.

    Args:
        n_teacher: teacher depth, or a :class:`~distill_lib.experiment.Results` (its layer
            maps are drawn; the ``random-init`` baseline copies no layer and is left out; a
            data-driven strategy that reused a fixed strategy's runs is one row labelled with
            both names, ``"odd = cka-cover"``).
        n_student: student depth (not needed with a Results).
        strategies: names (default: every named strategy of :data:`~distill_lib.STRATEGIES`),
            or a ``{label: layers}`` mapping of 0-indexed layers (e.g. ``results.layer_maps``).
            Strategies impossible for this shape (e.g. ``odd`` for 12 -> 7) are skipped and
            named in the title.
        seed: the seed of the ``random`` strategy.
        title: figure title.
    """
    maps, n_t, n_s, skipped = _layer_maps(n_teacher, n_student, strategies, seed)
    _check_maps(maps, n_t, n_s)
    rows = list(maps)
    fig, ax = plt.subplots(
        figsize=(max(5.0, 0.55 * n_t + 2.8), 0.5 * len(rows) + 1.9), layout="constrained"
    )
    for r, label in enumerate(rows):
        _draw_map_row(ax, r, label, maps[label], n_t)
    _format_map_axes(ax, rows, n_t)
    heading = title or f"Teacher layers copied into the student: {n_t} → {n_s} layers"
    sub = "S<i>: becomes student layer i (0-based)"
    if skipped:
        sub += f"; impossible here, skipped: {', '.join(skipped)}"
    ax.set_title(f"{heading}\n{sub}", fontsize=10)
    return fig


def _layer_maps(
    n_teacher: int | Results,
    n_student: int | None,
    strategies: Sequence[str] | Mapping[str, Sequence[int]] | None,
    seed: int,
) -> tuple[dict[str, list[int]], int, int, list[str]]:
    """The maps to draw, the teacher and student depths, and the strategies skipped."""
    if not isinstance(n_teacher, (int, np.integer)):
        maps, n_t, n_s = _maps_from_results(n_teacher)
        if strategies is not None:
            keep = set(strategies)
            maps = {k: v for k, v in maps.items() if k in keep}
        return maps, n_t, n_s, []
    n_t = int(n_teacher)
    if isinstance(strategies, Mapping):
        maps = {str(k): [int(i) for i in v] for k, v in strategies.items()}
        n_s = int(n_student) if n_student is not None else len(next(iter(maps.values())))
        return maps, n_t, n_s, []
    if n_student is None:
        raise ValueError("layer_map_plot(n_teacher, n_student): give the student depth")
    maps, skipped = _maps_from_names(strategies, n_t, int(n_student), seed)
    return maps, n_t, int(n_student), skipped


def _maps_from_results(results: Results) -> tuple[dict[str, list[int]], int, int]:
    n_teacher, n_student = _shape(results)
    runs = results.runs
    labels = _display_names(results, list(results.layer_maps))
    maps = {}
    for name, layers in results.layer_maps.items():
        if name not in labels:
            continue  # a reused run: drawn in its fixed strategy's row
        init = runs.loc[runs["name"] == name, "init"]
        if len(init) and init.iloc[0] != "teacher":
            continue  # random-init copies no teacher layer
        maps[labels[name] if name != "no-kd" else "no-kd (hard labels)"] = [int(i) for i in layers]
    if n_teacher is None:
        n_teacher = max(max(v) for v in maps.values()) + 1
    if n_student is None:
        n_student = len(next(iter(maps.values())))
    return maps, int(n_teacher), int(n_student)


def _maps_from_names(
    strategies: Sequence[str] | None, n_t: int, n_s: int, seed: int
) -> tuple[dict[str, list[int]], list[str]]:
    """The layers of named strategies (default: all), and the names impossible for the shape."""
    names = list(strategies) if strategies is not None else list(STRATEGIES)
    maps: dict[str, list[int]] = {}
    skipped: list[str] = []
    for name in names:
        try:
            layers = select_layers(name, n_t, n_s, seed=seed)
        except ValueError:
            skipped.append(name)
            continue
        label = f"random (seed {seed})" if name == "random" else name
        maps[label] = layers
    return maps, skipped


def _check_maps(maps: Mapping[str, Sequence[int]], n_t: int, n_s: int) -> None:
    """Raise ValueError when there is nothing to draw or a layer is outside the teacher."""
    if not maps:
        raise ValueError(f"no strategy is possible for {n_t} -> {n_s} layers")
    for label, layers in maps.items():
        bad = [i for i in layers if not 0 <= i < n_t]
        if bad:
            raise ValueError(f"{label}: layers {bad} are outside a {n_t}-layer teacher")


def _draw_map_row(ax: plt.Axes, r: int, label: str, layers: Sequence[int], n_t: int) -> None:
    """Row ``r``: one cell per teacher layer, kept ones filled and labelled ``S<i>``."""
    chosen = {layer: i for i, layer in enumerate(layers)}
    color = color_for(_base_name(label.split(" (")[0]))
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
                f"S{chosen[c]}",
                ha="center",
                va="center",
                color="white",
                fontsize=9,
                fontweight="bold",
            )


def _format_map_axes(ax: plt.Axes, rows: list[str], n_t: int) -> None:
    """Square cells, teacher layers (from 0) along x, strategy names along y, no frame."""
    ax.set_xlim(0, n_t)
    ax.set_ylim(len(rows), 0)
    ax.set_xticks(np.arange(n_t) + 0.5)
    ax.set_xticklabels([str(i) for i in range(n_t)])
    ax.set_yticks(np.arange(len(rows)) + 0.5)
    ax.set_yticklabels(rows)
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.set_xlabel("teacher layer (0-based; 0 = nearest the embeddings)")
    ax.set_aspect("equal")


# ---------------------------------------------------------------------------------------------
# Data-driven layer selection (distill_lib.selection)

_SIGNAL_PANELS = (
    ("influence", "block influence", "1 - cos(layer input, output),\nmean over tokens"),
    ("cka-cover", "cka-cover: a cover, not the top bars", ""),
    ("drop", "accuracy drop when skipped", "validation accuracy:\nfull - without the layer"),
)
_COVER_YLABEL = "1 - linear CKA (mean-pooled sentences)\nto the nearest {} layer"


def plot_layer_scores(
    measured: Mapping[str, Any],
    chosen: Mapping[str, Sequence[int]] | None = None,
    ax: Sequence[plt.Axes] | None = None,
) -> Figure:
    """The three layer-selection signals of a teacher, one bar per teacher layer.

    Panels: block influence (``influence`` keeps the tallest bars); the CKA cover; the
    validation accuracy drop when the layer is skipped (``drop`` keeps the tallest bars).

    ``cka-cover`` keeps no top-k: it picks layers so that every layer has a similar chosen one
    (:func:`distill_lib.layers.cka_cover` on the full CKA matrix, drawn by :func:`plot_cka`).
    Its panel shows what that choice minimises: each layer's distance ``1 - CKA`` (symmetrised,
    as the cover computes it) to its nearest chosen layer, which is 0 for a chosen layer; the
    text above a bar names that nearest chosen layer. Without chosen ``cka-cover`` layers the
    panel shows each layer's distance to its most similar other layer (a layer close to another
    one is one a cover can leave out).

    Args:
        measured: the dict of :func:`distill_lib.selection.measure_layers`.
        chosen: ``{"influence": [...], "cka-cover": [...], "drop": [...]}`` (0-indexed
            layers, e.g. from :func:`~distill_lib.selection.choose_layers`); each panel marks
            its signal's layers with dark, outlined bars and a star. Other keys are ignored.
        ax: three axes to draw into (default: a new figure with one row of three panels).

    Returns:
        The figure. Chosen bars have gid ``"chosen-layer"``, the others ``"layer"``; the
        cover's "nearest chosen layer" texts have gid ``"covered-by"``.
    """
    chosen = chosen or {}
    cover = sorted({int(i) for i in chosen.get("cka-cover", ())})
    n, values, nearest = _signal_values(measured, cover)
    fig, axes = _score_axes(ax, n)
    for a, (name, label, detail) in zip(axes, _SIGNAL_PANELS, strict=True):
        picked = {int(i) for i in chosen.get(name, ())}
        _draw_signal(a, values[name], n, picked, PALETTE[name])
        if name == "cka-cover":
            _label_cover(a, values[name], nearest, cover)
            detail = _COVER_YLABEL.format("chosen" if cover else "other")
        a.axhline(0.0, color="#888888", linewidth=0.8)
        a.set_xticks(range(n))
        a.set_xticklabels([str(i) for i in range(n)])
        a.set_xlabel("teacher layer (0-based; 0 = nearest the embeddings)")
        a.set_ylabel(detail, fontsize=9)
        a.set_title(_signal_title(name, label, picked, measured), fontsize=10)
        a.grid(axis="y", alpha=0.3)
    if ax is None:
        fig.suptitle(_scores_suptitle(measured, n, chosen))
    return fig


def _signal_values(
    measured: Mapping[str, Any], cover: list[int]
) -> tuple[int, dict[str, np.ndarray], list[int]]:
    """The teacher depth, each signal's value per layer, and each layer's nearest chosen
    (or, without a cover, most similar other) layer in the CKA panel."""
    cka = np.asarray(measured["cka"], dtype=float)
    n = int(measured.get("n_layers", cka.shape[0] - 1))
    distance, nearest = _cover_distance(cka[1:, 1:], cover)
    values = {
        "influence": np.asarray(measured["block_influence"], dtype=float),
        "cka-cover": distance,
        "drop": np.asarray(measured["drop"]["accuracy_drop"], dtype=float),
    }
    return n, values, nearest


def _cover_distance(cka_layers: np.ndarray, cover: list[int]) -> tuple[np.ndarray, list[int]]:
    """Each layer's ``1 - CKA`` to its nearest layer of ``cover`` (ties: lower index), or,
    with no cover, to its most similar other layer; and which layer that is.

    The distance is the one :func:`distill_lib.layers.cka_cover` minimises:
    ``1 - (CKA + CKA.T) / 2``, clipped at 0, 0 on the diagonal.
    """
    distance = np.clip(1.0 - (cka_layers + cka_layers.T) / 2.0, 0.0, None)
    np.fill_diagonal(distance, 0.0)
    n = distance.shape[0]
    if cover:
        to = distance[:, cover]
        return to.min(axis=1), [cover[int(j)] for j in to.argmin(axis=1)]
    if n < 2:
        return np.zeros(n), list(range(n))
    others = distance + np.diag(np.full(n, np.inf))
    return others.min(axis=1), [int(j) for j in others.argmin(axis=1)]


def _label_cover(a: plt.Axes, vals: np.ndarray, nearest: list[int], cover: list[int]) -> None:
    """Above each bar, the layer it is measured to: ``"→ 2"`` (a chosen layer: nothing)."""
    span = float(np.ptp(np.append(vals, 0.0))) or 1.0
    for i, (value, j) in enumerate(zip(vals, nearest, strict=True)):
        if i in cover:
            continue
        a.text(
            i,
            max(value, 0.0) + 0.02 * span,
            f"→ {j}",
            ha="center",
            va="bottom",
            fontsize=7,
            color="#333333",
            gid="covered-by",
        )


def _score_axes(ax: Sequence[plt.Axes] | None, n: int) -> tuple[Figure, list[plt.Axes]]:
    """The figure and three axes to draw into: the given ones, or a new row of three."""
    if ax is None:
        fig, axes = plt.subplots(
            1, 3, figsize=(max(10.0, 1.1 * n + 5.0), 3.8), layout="constrained"
        )
        return fig, list(axes)
    axes = list(np.ravel(np.asarray(ax, dtype=object)))
    if len(axes) != 3:
        raise ValueError(f"plot_layer_scores draws 3 panels; got {len(axes)} axes")
    return axes[0].figure, axes


def _draw_signal(a: plt.Axes, vals: np.ndarray, n: int, picked: set[int], color: str) -> None:
    """One bar per layer; chosen layers dark and outlined, with a star above."""
    bars = a.bar(
        range(n),
        vals,
        color=[to_rgba(color, 1.0 if i in picked or not picked else 0.35) for i in range(n)],
        edgecolor=["black" if i in picked else "none" for i in range(n)],
        linewidth=1.2,
    )
    for i, bar in enumerate(bars):
        bar.set_gid("chosen-layer" if i in picked else "layer")
    if not picked:
        return
    span = float(np.ptp(np.append(vals, 0.0))) or 1.0
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


def _signal_title(name: str, label: str, picked: set[int], measured: Mapping[str, Any]) -> str:
    """A panel's title: the signal, then the full accuracy (drop) or the chosen layers."""
    if name == "drop" and "full_accuracy" in measured["drop"]:
        return f"{label}\n(full accuracy {measured['drop']['full_accuracy']:.3f})"
    if name == "cka-cover":
        if not picked:
            return f"{label}\n(no cover given: distance to the most similar layer)"
        return f"{label}\nchosen {sorted(picked)}: every layer near a chosen one"
    if picked:
        return f"{label}\n{name}: {sorted(picked)}"
    return f"{label}"


def _scores_suptitle(
    measured: Mapping[str, Any], n: int, chosen: Mapping[str, Sequence[int]]
) -> str:
    """The figure title: teacher depth, how many sentences were measured, what marks mean."""
    sizes = []
    if "calibration_size" in measured:
        sizes.append(f"{measured['calibration_size']} training sentences")
    if "validation_size" in measured:
        sizes.append(f"{measured['validation_size']} validation sentences")
    marks = (
        "; ★: chosen layers (dark bars)" if any(chosen.get(s) for s, *_ in _SIGNAL_PANELS) else ""
    )
    return (
        f"Layer-selection signals of the {n}-layer teacher"
        + (f" ({', '.join(sizes)})" if sizes else "")
        + marks
    )


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
    _label_cka(ax, measured_or_matrix.get("pooling") if is_dict else None)
    return ax.figure


def _label_cka(ax: plt.Axes, pooling: str | None) -> None:
    """Axis labels and title of the CKA heatmap (the title names the pooling when known)."""
    ax.tick_params(axis="y", labelrotation=0)
    ax.set_xlabel("layer output (emb = embeddings, 0 = first layer)")
    ax.set_ylabel("layer output")
    ax.set_title(
        "Linear CKA between layer outputs"
        + (f"\n(one vector per sentence: {pooling})" if pooling else ""),
        fontsize=10,
    )
