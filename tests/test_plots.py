"""Plots: built from a hand-made Results (no training), checked for their artists and files."""

from __future__ import annotations

import zlib
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.collections import PathCollection
from matplotlib.figure import Figure

from distill_lib import plots
from distill_lib.experiment import ExperimentConfig, summarise
from distill_lib.layers import select_layers

N_TEST = 200
STRATEGIES = ["first", "last", "uniform"]


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _record(name, kind, seed, layers, init, accuracy, labels, *, epochs, collapse=False, cross=()):
    rng = np.random.default_rng([zlib.crc32(name.encode()), seed])
    if collapse:
        predictions = np.ones_like(labels)
    else:
        right = rng.random(len(labels)) < accuracy
        predictions = np.where(right, labels, 1 - labels)
    counts = np.bincount(predictions, minlength=2).tolist()
    history = [
        {
            "epoch": e,
            "train_loss": 0.7 / e + 0.01 * seed,
            "train_soft": 0.5 / e,
            "val_loss": 0.6 / e + 0.02 * seed,
            "val_accuracy": accuracy - 0.05 / e,
        }
        for e in range(1, epochs + 1)
    ]
    return {
        "name": name,
        "kind": kind,
        "seed": seed,
        "layers": layers,
        "init": init,
        "test": {
            "accuracy": float((predictions == labels).mean()),
            "macro_f1": 0.5,
            "loss": 0.5,
            "predicted_counts": counts,
            "n": len(labels),
            "predictions": predictions.tolist(),
        },
        "history": history,
        "best_epoch": epochs,
        "seconds": 1.0,
        "cross_domain": {d: {"accuracy": accuracy - 0.1, "macro_f1": 0.4} for d in cross},
    }


def fake_results(tmp_path: Path, *, seeds=(0, 1), epochs=3, cross=()):
    """A Results for a 6 -> 3 comparison: 3 strategies, 2 baselines; `last` seed 0 collapses."""
    labels = np.array([0, 1] * (N_TEST // 2))
    config = ExperimentConfig(
        strategies=STRATEGIES,
        seeds=list(seeds),
        student_layers=3,
        output_dir=str(tmp_path),
        bootstrap_resamples=200,
        cross_domain=list(cross),
    )
    accuracy = {"first": 0.8, "last": 0.7, "uniform": 0.85, "random-init": 0.65, "no-kd": 0.75}
    records = []
    for name in STRATEGIES:
        for seed in seeds:
            records.append(
                _record(
                    name,
                    "strategy",
                    seed,
                    select_layers(name, 6, 3),
                    "teacher",
                    accuracy[name],
                    labels,
                    epochs=epochs,
                    collapse=(name == "last" and seed == 0),
                    cross=cross,
                )
            )
    for name, init in (("random-init", "random"), ("no-kd", "teacher")):
        for seed in seeds:
            records.append(
                _record(
                    name,
                    "baseline",
                    seed,
                    [0, 1, 2],
                    init,
                    accuracy[name],
                    labels,
                    epochs=epochs,
                    cross=cross,
                )
            )
    teacher = {
        "name": "teacher",
        "kind": "reference",
        "layers": list(range(6)),
        "test": {"accuracy": 0.9, "macro_f1": 0.9},
        "cross_domain": {d: {"accuracy": 0.8} for d in cross},
    }
    majority = {
        "class": 1,
        "accuracy": 0.5,
        "cross_domain": {d: 0.55 for d in cross},
        "test_labels": labels.tolist(),
    }
    return summarise(config, records, teacher, majority, {}, tmp_path)


NAMES = [*STRATEGIES, "random-init", "no-kd"]


# ---------------------------------------------------------------------------------------------
# learning curves


@pytest.mark.parametrize("source", ["results", "histories"])
def test_learning_curves_three_panels_one_line_per_name(tmp_path, source):
    results = fake_results(tmp_path)
    fig = plots.learning_curves(results if source == "results" else results.histories)
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 3
    for ax in fig.axes:
        assert len(ax.lines) == len(NAMES)
        assert len(ax.collections) == len(NAMES)  # one band per name (2 seeds)
        assert all(float(t).is_integer() for t in ax.get_xticks())
    legend_labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend_labels == NAMES
    assert "95%" in fig._suptitle.get_text()
    # same colour as the palette
    first = fig.axes[0].lines[0]
    assert matplotlib.colors.to_hex(first.get_color()) == plots.PALETTE["first"]


def test_learning_curves_sd_band_label(tmp_path):
    fig = plots.learning_curves(fake_results(tmp_path), errorbar="sd")
    assert "sd" in fig._suptitle.get_text()
    with pytest.raises(ValueError, match="errorbar"):
        plots.learning_curves(fake_results(tmp_path), errorbar="pi")


def test_learning_curves_one_seed_one_epoch_has_markers_and_no_band(tmp_path):
    fig = plots.learning_curves(fake_results(tmp_path, seeds=(0,), epochs=1))
    assert "no band" in fig._suptitle.get_text()
    for ax in fig.axes:
        assert len(ax.lines) == len(NAMES)
        assert len(ax.collections) == 0
        for line in ax.lines:
            assert line.get_marker() not in (None, "", "None")
            assert len(line.get_xdata()) == 1
        lo, hi = ax.get_xlim()
        assert lo < 1 < hi
        assert list(ax.get_xticks()) == [1]


# ---------------------------------------------------------------------------------------------
# accuracy


def test_accuracy_plot_reference_lines_collapse_and_title(tmp_path):
    results = fake_results(tmp_path)
    fig = plots.accuracy_plot(results)
    (ax,) = fig.axes
    labels = [line.get_label() for line in ax.get_lines()]
    assert any(label.startswith("teacher (0.900)") for label in labels)
    assert any(label.startswith("majority class (0.500)") for label in labels)
    ticks = [t.get_text() for t in ax.get_xticklabels()]
    assert ticks == NAMES  # strategies in summary order, then baselines
    # the collapsed run: a red X scatter and a note naming it
    marked = [c for c in ax.collections if c.get_gid() == "collapsed"]
    assert len(marked) == 1 and len(marked[0].get_offsets()) == 1
    assert "collapsed (red X): last (seed 0)" in ax.get_xlabel()
    red = next(t for t in ax.get_xticklabels() if t.get_text() == "last")
    assert matplotlib.colors.to_hex(red.get_color()) == plots.COLLAPSED_COLOR
    # every seed is drawn: 5 names x 2 seeds = 10 points (1 of them the red X)
    seeds = sum(len(c.get_offsets()) for c in ax.collections if isinstance(c, PathCollection))
    assert seeds == len(NAMES) * 2
    title = ax.get_title()
    assert "6 → 3" in title and "2 seeds" in title
    texts = [t.get_text() for t in ax.texts]
    assert "best" in texts
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any("collapsed" in t for t in legend)
    assert any("95% bootstrap interval" in t for t in legend)


def test_accuracy_plot_one_seed_has_points_without_error_bars(tmp_path):
    results = fake_results(tmp_path, seeds=(0,))
    fig = plots.accuracy_plot(results, annotate_significance=False)
    (ax,) = fig.axes
    assert "1 seed" in ax.get_title()
    assert not ax.texts
    # errorbar containers exist but carry no bar lines when the CI is NaN
    for container in ax.containers:
        assert not container.has_yerr


# ---------------------------------------------------------------------------------------------
# layer maps


def _cells(fig):
    (ax,) = fig.axes
    filled = [p for p in ax.patches if p.get_gid() == "cell-filled"]
    empty = [p for p in ax.patches if p.get_gid() == "cell-empty"]
    return ax, filled, empty


@pytest.mark.parametrize(("n", "k"), [(12, 6), (6, 3)])
def test_layer_map_grid(n, k):
    fig = plots.layer_map_plot(n, k, ["first", "last", "odd", "even", "uniform"])
    ax, filled, empty = _cells(fig)
    assert len(filled) + len(empty) == 5 * n
    rows = {}
    for p in filled:
        rows.setdefault(int(p.get_y()), []).append(int(p.get_x()))
    assert sorted(rows) == list(range(5))
    assert all(len(cols) == k for cols in rows.values())
    assert sorted(rows[4]) == select_layers("uniform", n, k)  # row 5 = uniform, 0-indexed x
    assert [t.get_text() for t in ax.get_xticklabels()] == [str(i) for i in range(1, n + 1)]
    labels = sorted(t.get_text() for t in ax.texts)
    assert labels == sorted([f"S{i}" for i in range(1, k + 1)] * 5)
    assert "nearest the embeddings" in ax.get_xlabel()


def test_layer_map_student_index_annotation():
    fig = plots.layer_map_plot(12, 6, ["uniform"])
    ax, _, _ = _cells(fig)
    by_cell = {(round(t.get_position()[0] - 0.5)): t.get_text() for t in ax.texts}
    assert by_cell == {0: "S1", 2: "S2", 4: "S3", 7: "S4", 9: "S5", 11: "S6"}


def test_layer_map_skips_impossible_strategies():
    fig = plots.layer_map_plot(12, 7)  # odd/even have only 6 layers each
    ax, filled, empty = _cells(fig)
    names = [t.get_text() for t in ax.get_yticklabels()]
    assert "odd" not in names and "even" not in names
    assert names == ["first", "last", "uniform", "random (seed 0)"]
    assert len(filled) == 4 * 7 and len(filled) + len(empty) == 4 * 12
    assert "skipped: odd, even" in ax.get_title()


def test_layer_map_from_results_and_mapping(tmp_path):
    results = fake_results(tmp_path)
    fig = plots.layer_map_plot(results)
    ax, filled, empty = _cells(fig)
    names = [t.get_text() for t in ax.get_yticklabels()]
    assert names == [*STRATEGIES, "no-kd (hard labels)"]  # random-init copies no layer
    assert len(filled) == 4 * 3 and len(filled) + len(empty) == 4 * 6
    fig = plots.layer_map_plot(6, strategies={"mine": [0, 5, 3]})
    ax, filled, empty = _cells(fig)
    assert sorted(int(p.get_x()) for p in filled) == [0, 3, 5]
    with pytest.raises(ValueError, match="outside"):
        plots.layer_map_plot(6, strategies={"bad": [0, 6]})


# ---------------------------------------------------------------------------------------------
# cross-domain


def test_cross_domain_plot(tmp_path):
    results = fake_results(tmp_path, cross=("tweet-snippets", "nyt-snippets"))
    assert plots.has_cross_domain(results)
    fig = plots.cross_domain_plot(results)
    (ax,) = fig.axes
    ticks = [t.get_text() for t in ax.get_xticklabels()]
    assert ticks[1:] == ["tweet-snippets", "nyt-snippets"]
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == [*NAMES, "teacher", "majority"]
    plain = fake_results(tmp_path / "plain")
    assert not plots.has_cross_domain(plain)
    with pytest.raises(ValueError, match="cross-domain"):
        plots.cross_domain_plot(plain)


# ---------------------------------------------------------------------------------------------
# saving


def test_save_figure_writes_png_and_svg_atomically(tmp_path):
    fig = plots.layer_map_plot(6, 3)
    folder = tmp_path / "figs"
    paths = plots.save_figure(fig, "map", folder)
    assert paths == [folder / "map.png", folder / "map.svg"]
    assert paths[0].read_bytes().startswith(b"\x89PNG")
    assert b"<svg" in paths[1].read_bytes()
    assert sorted(p.name for p in folder.iterdir()) == ["map.png", "map.svg"]  # no temp files
    assert plt.fignum_exists(fig.number)  # the caller's figure stays open


def test_plot_all_saves_and_closes(tmp_path):
    results = fake_results(tmp_path, cross=("tweet-snippets",))
    plt.close("all")
    written = plots.plot_all(results, tmp_path / "figures", prefix="quick-")
    assert list(written) == ["learning_curves", "accuracy", "layer_map", "cross_domain"]
    for key, paths in written.items():
        assert [p.name for p in paths] == [f"quick-{key}.png", f"quick-{key}.svg"]
        assert all(p.stat().st_size > 0 for p in paths)
    assert not plt.get_fignums()
    assert not [p for p in (tmp_path / "figures").iterdir() if p.name.startswith(".")]


def test_plot_all_draws_the_layer_measurements_when_there_are_any(tmp_path):
    results = fake_results(tmp_path)
    n = 6
    results.measured = {
        "n_layers": n,
        "block_influence": [0.1 * (i + 1) for i in range(n)],
        "cka": np.eye(n + 1).tolist(),
        "drop": {"full_accuracy": 0.8, "full_loss": 0.5, "accuracy": [0.7] * n,
                 "loss": [0.6] * n, "accuracy_drop": [0.1] * n, "loss_increase": [0.1] * n},
        "calibration_size": 64,
        "validation_size": 32,
        "pooling": "mean over non-padding tokens",
    }
    written = plots.plot_all(results, tmp_path / "figures", prefix="std-")
    assert {"layer_scores", "cka"} <= set(written)
    assert not plt.get_fignums()


def test_learning_curves_single_epoch_two_seeds_uses_error_bars(tmp_path):
    fig = plots.learning_curves(fake_results(tmp_path, epochs=1))
    for ax in fig.axes:
        assert len(ax.lines) >= len(NAMES)
        assert not [c for c in ax.collections if type(c).__name__ == "PolyCollection"]
        assert list(ax.get_xticks()) == [1]
