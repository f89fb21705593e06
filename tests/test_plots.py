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
from distill_lib.layers import choose_layers, select_layers

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
            "train_hard": 0.9 / e + 0.01 * seed,
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


def fake_results(tmp_path: Path, *, seeds=(0, 1), epochs=3, cross=(), twins=None):
    """A Results for a 6 -> 3 comparison: 3 strategies, 2 baselines; `last` seed 0 collapses.

    ``twins``: ``{data-driven name: fixed name}``, runs that reuse the fixed strategy's runs
    (copies with ``same_as`` set, as the runner writes them), placed after the strategies.
    """
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
    for twin, fixed in (twins or {}).items():
        records += [
            {**r, "name": twin, "same_as": fixed} for r in list(records) if r["name"] == fixed
        ]
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


def _curves(ax):
    return [line for line in ax.lines if line.get_gid() == "curve"]


def _gid(ax, gid):
    return [c for c in ax.collections if c.get_gid() == gid]


@pytest.mark.parametrize("source", ["results", "histories"])
def test_learning_curves_three_panels_one_line_per_name(tmp_path, source):
    results = fake_results(tmp_path)
    fig = plots.learning_curves(results if source == "results" else results.histories)
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 3
    for ax in fig.axes:
        assert [line.get_label() for line in _curves(ax)] == NAMES
        assert len(_gid(ax, "interval")) == len(NAMES)  # one band per name (2 seeds)
        assert all(float(t).is_integer() for t in ax.get_xticks())
    legend_labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend_labels[: len(NAMES)] == NAMES
    # the legend and the title name the interval
    assert "band: min-max over 2 seeds" in legend_labels
    assert "min-max over 2 seeds" in fig._suptitle.get_text()
    first = _curves(fig.axes[0])[0]
    assert matplotlib.colors.to_hex(first.get_color()) == plots.PALETTE["first"]


def test_learning_curves_band_is_the_seed_range(tmp_path):
    results = fake_results(tmp_path)
    fig = plots.learning_curves(results)
    band = _gid(fig.axes[1], "interval")[0]  # validation loss of `first`
    ys = band.get_paths()[0].vertices[:, 1]
    values = results.histories.query("name == 'first'")["val_loss"]
    assert ys.min() == pytest.approx(values.min()) and ys.max() == pytest.approx(values.max())


@pytest.mark.parametrize(("errorbar", "words"), [("sd", "sd"), ("ci", "95% percentile")])
def test_learning_curves_other_intervals_are_named(tmp_path, errorbar, words):
    fig = plots.learning_curves(fake_results(tmp_path), errorbar=errorbar)
    assert words in fig._suptitle.get_text()
    assert any(words in t.get_text() for t in fig.legends[0].get_texts())


def test_learning_curves_rejects_unknown_options(tmp_path):
    results = fake_results(tmp_path)
    with pytest.raises(ValueError, match="errorbar"):
        plots.learning_curves(results, errorbar="pi")
    with pytest.raises(ValueError, match="train_term"):
        plots.learning_curves(results, train_term="soft")


def test_learning_curves_train_panel_draws_the_hard_label_term_for_every_run(tmp_path):
    results = fake_results(tmp_path)
    ax = plots.learning_curves(results).axes[0]
    assert "true labels" in ax.get_title() and "every run" in ax.get_title()
    drawn = {line.get_label(): line.get_ydata() for line in _curves(ax)}
    hist = results.histories
    for name in ("first", "no-kd"):
        expected = hist[hist["name"] == name].groupby("epoch")["train_hard"].mean()
        np.testing.assert_allclose(drawn[name], expected.to_numpy())
    # the total objective on request, named as such
    ax = plots.learning_curves(results, train_term="total").axes[0]
    assert "own objective" in ax.get_title()
    # older histories without the hard-label term: the total, and the panel says so
    ax = plots.learning_curves(results.histories.drop(columns="train_hard")).axes[0]
    assert "no hard-label term recorded" in ax.get_title()


def test_learning_curves_mark_collapsed_runs(tmp_path):
    results = fake_results(tmp_path)  # `last` seed 0 collapsed
    fig = plots.learning_curves(results)
    for ax in fig.axes:
        (marked,) = _gid(ax, "collapsed")
        assert len(marked.get_offsets()) == 3  # its value at each of the 3 epochs
        assert matplotlib.colors.to_hex(marked.get_facecolor()[0]) == plots.COLLAPSED_COLOR
    texts = {t.get_text(): t for t in fig.legends[0].get_texts()}
    assert matplotlib.colors.to_hex(texts["last"].get_color()) == plots.COLLAPSED_COLOR
    assert any("collapsed run" in t and "last (seed 0)" in t for t in texts)
    # a bare histories table does not know which runs collapsed
    fig = plots.learning_curves(results.histories)
    assert not any(_gid(ax, "collapsed") for ax in fig.axes)


def test_learning_curves_draw_a_reused_run_once_with_both_names(tmp_path):
    results = fake_results(tmp_path, twins={"cka-cover": "first"})
    assert results.twin("cka-cover") == "first"
    fig = plots.learning_curves(results)
    expected = ["first = cka-cover", *NAMES[1:]]
    for ax in fig.axes:
        assert [line.get_label() for line in _curves(ax)] == expected
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "cka-cover" not in legend and legend[: len(expected)] == expected


def test_learning_curves_one_epoch_is_a_dot_plot_that_says_so(tmp_path):
    fig = plots.learning_curves(fake_results(tmp_path, seeds=(0,), epochs=1))
    title = fig._suptitle.get_text()
    assert "one evaluation per run (1 epoch): no curve" in title
    assert "one seed: no interval" in title
    for ax in fig.axes:
        assert not _curves(ax)  # no line joins anything
        means = [line for line in ax.lines if line.get_gid() == "mean"]
        assert len(means) == len(NAMES)
        assert not [c for c in ax.containers if c.has_xerr]  # one seed: no interval
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == NAMES
    # a collapsed run stays marked: red X, its name red
    (marked,) = _gid(fig.axes[0], "collapsed")
    assert len(marked.get_offsets()) == 1
    red = next(t for t in fig.axes[0].get_yticklabels() if t.get_text() == "last")
    assert matplotlib.colors.to_hex(red.get_color()) == plots.COLLAPSED_COLOR


def test_learning_curves_one_epoch_two_seeds_shows_the_seed_range(tmp_path):
    results = fake_results(tmp_path, epochs=1, twins={"cka-cover": "first"})
    fig = plots.learning_curves(results, title="mine")
    title = fig._suptitle.get_text()
    assert title.startswith("mine") and "no curve" in title and "min-max over 2 seeds" in title
    for ax in fig.axes:
        assert len([c for c in ax.containers if c.has_xerr]) == len(NAMES)
        assert not [c for c in ax.collections if type(c).__name__ == "PolyCollection"]
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert labels == ["first = cka-cover", *NAMES[1:]]
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "mean; bar: min-max over 2 seeds" in legend


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
    assert any("95% bootstrap interval" in t and "seeds × test sentences" in t for t in legend)


def test_accuracy_plot_draws_a_reused_run_once_with_both_names(tmp_path):
    results = fake_results(tmp_path, twins={"cka-cover": "uniform"})
    fig = plots.accuracy_plot(results)
    (ax,) = fig.axes
    ticks = [t.get_text() for t in ax.get_xticklabels()]
    assert ticks == ["first", "last", "uniform\n= cka-cover", "random-init", "no-kd"]
    means = [c for c in ax.containers if type(c).__name__ == "ErrorbarContainer"]
    assert len(means) == len(NAMES)  # not one more for cka-cover
    seeds = sum(len(c.get_offsets()) for c in ax.collections if isinstance(c, PathCollection))
    assert seeds == len(NAMES) * 2
    assert "uniform = cka-cover: chose the same layers" in ax.get_xlabel()
    assert "= uniform" not in [t.get_text() for t in ax.texts]


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
    assert [t.get_text() for t in ax.get_xticklabels()] == [str(i) for i in range(n)]
    labels = sorted(t.get_text() for t in ax.texts)
    assert labels == sorted([f"S{i}" for i in range(k)] * 5)
    assert "teacher layer (0-based" in ax.get_xlabel()
    assert "nearest the embeddings" in ax.get_xlabel()


def test_layer_map_student_index_annotation():
    fig = plots.layer_map_plot(12, 6, ["uniform"])
    ax, _, _ = _cells(fig)
    by_cell = {(round(t.get_position()[0] - 0.5)): t.get_text() for t in ax.texts}
    assert by_cell == {0: "S0", 2: "S1", 4: "S2", 7: "S3", 9: "S4", 11: "S5"}


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


def test_layer_map_draws_a_reused_run_once_with_both_names(tmp_path):
    results = fake_results(tmp_path, twins={"cka-cover": "first"})
    ax, filled, _ = _cells(plots.layer_map_plot(results))
    names = [t.get_text() for t in ax.get_yticklabels()]
    assert names == ["first = cka-cover", "last", "uniform", "no-kd (hard labels)"]
    assert len(filled) == 4 * 3
    first_row = [p for p in filled if int(p.get_y()) == 0]
    assert matplotlib.colors.to_hex(first_row[0].get_facecolor()) == plots.PALETTE["first"]


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
    assert legend[: len(NAMES) + 2] == [*NAMES, "teacher", "majority"]
    # the interval is the seed range, and the legend and title say so
    assert any(t.startswith("mean; bar: min-max over 2 seeds") for t in legend)
    assert "min-max over seeds" in ax.get_title()
    assert any("collapsed run" in t and "last (seed 0)" in t for t in legend)
    plain = fake_results(tmp_path / "plain")
    assert not plots.has_cross_domain(plain)
    with pytest.raises(ValueError, match="cross-domain"):
        plots.cross_domain_plot(plain)


def test_cross_domain_bars_span_the_seeds(tmp_path):
    results = fake_results(tmp_path, cross=("tweet-snippets",))
    (ax,) = plots.cross_domain_plot(results).axes
    first = ax.containers[0]  # `first`: in-domain, then tweet-snippets
    (bars,) = first.lines[2]
    lows = [seg[:, 1].min() for seg in bars.get_segments()]
    highs = [seg[:, 1].max() for seg in bars.get_segments()]
    runs = results.runs[results.runs["name"] == "first"]
    assert lows[0] == pytest.approx(runs["test_accuracy"].min())
    assert highs[0] == pytest.approx(runs["test_accuracy"].max())
    # `last` seed 0 collapsed: red X in both columns
    (marked,) = [c for c in ax.collections if c.get_gid() == "collapsed"]
    assert len(marked.get_offsets()) == 2


def test_cross_domain_draws_a_reused_run_once_with_both_names(tmp_path):
    results = fake_results(tmp_path, cross=("tweet-snippets",), twins={"cka-cover": "first"})
    (ax,) = plots.cross_domain_plot(results).axes
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend[:2] == ["first = cka-cover", "last"] and "cka-cover" not in legend
    assert len(ax.containers) == len(NAMES)


# ---------------------------------------------------------------------------------------------
# layer scores: the CKA panel shows what cka-cover uses


def _block_measured(n=6):
    """A teacher whose layers form blocks {0, 1, 2}, {3}, {4, 5}; layer 3 changes the most."""
    block = [0, 0, 0, 1, 2, 2]
    cka = np.full((n + 1, n + 1), 0.3)
    for i in range(n):
        for j in range(n):
            cka[i + 1, j + 1] = 0.95 if block[i] == block[j] else 0.3
    np.fill_diagonal(cka, 1.0)
    cka[1, 2] = cka[2, 1] = 0.9  # layers 0 and 1 a bit further apart
    return {
        "n_layers": n,
        "block_influence": [0.1] * n,
        "cka": cka.tolist(),
        "drop": {"full_accuracy": 0.8, "accuracy_drop": [0.01] * n, "loss_increase": [0.0] * n},
    }


def test_layer_scores_cka_panel_shows_the_distance_to_the_nearest_chosen_layer():
    measured = _block_measured()
    cover = choose_layers("cka-cover", measured, 3)
    fig = plots.plot_layer_scores(measured, chosen={"cka-cover": cover})
    ax = fig.axes[1]
    bars = [p for p in ax.patches if p.get_gid() in ("layer", "chosen-layer")]
    heights = np.array([b.get_height() for b in bars])
    cka = np.asarray(measured["cka"])[1:, 1:]
    expected = (1.0 - cka)[:, cover].min(axis=1)
    np.testing.assert_allclose(heights, expected)
    assert heights[cover].max() == 0.0  # a chosen layer is its own nearest chosen layer
    assert (
        sorted(
            int(b.get_x() + b.get_width() / 2 + 0.5) for b in bars if b.get_gid() == "chosen-layer"
        )
        == cover
    )
    covered = {
        round(t.get_position()[0]): t.get_text() for t in ax.texts if t.get_gid() == "covered-by"
    }
    assert set(covered) == set(range(6)) - set(cover)
    assert all(t.startswith("→ ") and int(t[2:]) in cover for t in covered.values())
    assert "cover" in ax.get_title() and "not the top bars" in ax.get_title()
    assert "nearest chosen layer" in ax.get_ylabel()
    assert ax.get_xlabel().startswith("teacher layer (0-based")
    assert [t.get_text() for t in ax.get_xticklabels()] == [str(i) for i in range(6)]


def test_layer_scores_cka_panel_without_a_cover():
    ax = plots.plot_layer_scores(_block_measured()).axes[1]
    heights = [p.get_height() for p in ax.patches if p.get_gid() == "layer"]
    np.testing.assert_allclose(heights, [0.05, 0.05, 0.05, 0.7, 0.05, 0.05])
    assert "most similar" in ax.get_title() and "nearest other layer" in ax.get_ylabel()


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


def test_a_figure_saved_twice_gives_the_same_bytes(tmp_path):
    first = plots.save_figure(plots.layer_map_plot(6, 3), "map", tmp_path / "a")
    again = plots.save_figure(plots.layer_map_plot(6, 3), "map", tmp_path / "b")
    for one, two in zip(first, again, strict=True):
        assert one.read_bytes() == two.read_bytes()  # no date, no random ids: diffs show content
    assert b"<dc:date>" not in first[1].read_bytes()
    plt.close("all")


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
        "drop": {
            "full_accuracy": 0.8,
            "full_loss": 0.5,
            "accuracy": [0.7] * n,
            "loss": [0.6] * n,
            "accuracy_drop": [0.1] * n,
            "loss_increase": [0.1] * n,
        },
        "calibration_size": 64,
        "validation_size": 32,
        "pooling": "mean over non-padding tokens",
    }
    written = plots.plot_all(results, tmp_path / "figures", prefix="std-")
    assert {"layer_scores", "cka"} <= set(written)
    assert not plt.get_fignums()
