"""Ensembles and moving maps read from run records: values computed by hand, verdicts."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest
from test_axes import LABELS, _axes, _hand_record

from distill_lib.experiment import summarise
from distill_lib.experiment.beyond import (
    alp_weights,
    beyond_lines,
    beyond_story,
    mapping_lines,
    rail_coverage,
    rail_twins,
    spread_lines,
    spread_table,
)
from distill_lib.experiment.ensembles import ensemble_row, ensemble_table, member_frame
from distill_lib.train_config import TrainConfig

# six sentences (ten times over); each member is wrong on a different two, so the mean is
# right on all six
TRUTH = [0, 1, 0, 1, 0, 1] * 10
P1 = {"a": [0.9, 0.2, 0.1, 0.8, 0.1, 0.8] * 10, "b": [0.1, 0.8, 0.9, 0.2, 0.1, 0.8] * 10,
      "c": [0.1, 0.8, 0.1, 0.8, 0.9, 0.2] * 10}
VALIDATION = {"a": 0.7, "b": 0.8, "c": 0.6}


def _record(name: str, seed: int, recipe: str = "logits") -> dict:
    probs = [[round(1 - p, 5), p] for p in P1[name]]
    preds = [int(p > 0.5) for p in P1[name]]
    right = sum(int(p == y) for p, y in zip(preds, TRUTH, strict=True))
    return {"name": name, "kind": "strategy", "seed": seed, "layers": [0], "init": "teacher",
            "recipe": recipe, "budget_epochs": None, "history": [], "best_epoch": 1,
            "validation": {"accuracy": VALIDATION[name]},
            "test": {"accuracy": right / 60, "macro_f1": 0.5, "loss": 0.5, "n": 60,
                     "predicted_counts": [preds.count(0), preds.count(1)],
                     "predictions": preds, "probabilities": probs}}


def _results(tmp_path, seeds=(0, 1), names=("a", "b", "c")):
    config = _axes(strategies=["first"], seeds=list(seeds), baselines=[],
                   bootstrap_resamples=200).replace(strategies=["first", "last", "uniform"])
    records = [_record(n, s) for n in names for s in seeds]
    teacher = {"name": "teacher", "layers": [0, 1, 2, 3], "test": {"accuracy": 0.9,
                                                                 "macro_f1": 0.9}}
    majority = {"accuracy": 0.5, "cross_domain": {}, "test_labels": TRUTH}
    efficiency = {"student_params": 10, "student_latency_s": 0.002}
    return summarise(config, records, teacher, majority, efficiency, tmp_path)


def test_an_ensemble_row_by_hand(tmp_path):
    members = member_frame(_results(tmp_path))
    row = ensemble_row(members[members["seed"] == 0].reset_index(drop=True),
                       np.asarray(TRUTH), 200)
    assert row["k"] == 3 and row["accuracy"] == 1.0  # mean p1 = 0.37, 0.6, ...: all right
    assert row["best_member"] == "b (seed 0)"  # by validation (0.8), not by test
    assert row["best_member_accuracy"] == pytest.approx(4 / 6)
    assert row["diff"] == pytest.approx(2 / 6)
    assert row["not_unanimous"] == 1.0  # one member dissents on every sentence
    assert row["pairwise_disagreement"] == pytest.approx(4 / 6)  # each pair: 4 of 6


def test_the_table_has_the_ensembles_and_the_seed_control(tmp_path):
    table = ensemble_table(_results(tmp_path))
    assert table[["ensemble", "seed", "k"]].values.tolist() == [
        ["strategies", 0, 3], ["strategies", 1, 3], ["top-2 strategies", 0, 2],
        ["top-2 strategies", 1, 2], ["b x 2 seeds", "all", 2]]
    assert table["members"].tolist()[2] == "a, b"  # the two best by validation (b, a)
    assert table["members"].tolist()[4] == "b seeds 0, 1"
    assert table["parameters"].tolist() == [30, 30, 20, 20, 20]  # k x one student
    assert table["latency_ms"].tolist() == pytest.approx([6, 6, 4, 4, 4])
    assert table["accuracy"].tolist()[4] == pytest.approx(4 / 6)  # the same errors twice


def test_the_ensemble_verdict_follows_the_numbers(tmp_path):
    lines = beyond_lines(_results(tmp_path))
    said = next(line for line in lines if line.startswith("`logits`: the mean of the 3"))
    assert "beats the best of them" in said and "+33.3 points" in said
    assert "disagree on 100.0% of the test sentences" in said
    control = next(line for line in lines if "2 members each" in line)
    # a and b average to a tie (0.5) on sentences 1 and 3: class 0 wins, so the pair is right
    # on 4 of 6, as b's two seeds (the same errors twice): no direction
    assert "is not clearly different from `b x 2 seeds` (66.7% against 66.7%" in control
    assert "cannot tell diversity of initialisation from more models" in control


def test_runs_without_probabilities_give_no_ensemble(tmp_path):
    results = _results(tmp_path)
    for _, run in results.runs.iterrows():
        run["probabilities"] = None
    results.runs["probabilities"] = None
    assert ensemble_table(results).empty


CELLS = {("first", "hidden"): 0.90, ("last", "hidden"): 0.65,
         ("first", "rail"): 0.90, ("last", "rail"): 0.89,
         ("first", "logits"): 0.90, ("last", "logits"): 0.70}


def _moving(tmp_path, epochs=2):
    config = _axes(strategies=["first", "last"], seeds=[0, 1, 2], baselines=[],
                   recipes=["logits", "hidden", "rail", "alp"], bootstrap_resamples=500,
                   student_train=TrainConfig(epochs=epochs))
    records = [_hand_record(n, s, acc + 0.005 * s, recipe=r)
               for (n, r), acc in CELLS.items() for s in (0, 1, 2)]
    for r in records:
        if r["recipe"] == "rail":
            r["history"] = [{"epoch": 1, "layer_map": [0, 2]},
                            {"epoch": 2, "layer_map": [1, 3]}][:epochs]
    for s in (0, 1, 2):
        alp = _hand_record("first", s, 0.9, recipe="alp")
        last = [[0.5, 0.5, 0, 0], [0, 0, 0.2 * s, 1 - 0.2 * s]]
        alp["history"] = [{"epoch": 1, "alp_weights": [[1.0, 0, 0, 0], [0, 0, 0, 1.0]]},
                          {"epoch": 2, "alp_weights": last}]
        records.append(alp)
    teacher = {"name": "teacher", "layers": [0, 1, 2, 3], "test": {"accuracy": 0.9,
                                                                 "macro_f1": 0.9}}
    majority = {"accuracy": 0.5, "cross_domain": {}, "test_labels": LABELS}
    return summarise(config, records, teacher, majority, {}, tmp_path)


def test_a_moving_map_is_judged_against_the_fixed_one(tmp_path):
    results = _moving(tmp_path)
    lines = mapping_lines(results)
    assert len(lines) == 1  # rail vs hidden (alp ran only for `first`: no gap)
    assert lines[0].startswith("`rail` against the fixed map (`hidden`), the gap between "
                               "`first` and `last` shrinks: 1.0 points")
    assert "against 25.0 points" in lines[0] and "change -24.0 points" in lines[0]
    assert rail_coverage(results) == {"first": 4.0, "last": 4.0}
    story = beyond_story(results, "hand")
    assert "figures/hand-alp_weights.png" in story and lines[0][:40] in story


def test_a_one_epoch_rail_is_said_to_be_a_random_map_not_a_moving_one(tmp_path):
    two, one = beyond_lines(_moving(tmp_path / "two")), beyond_lines(_moving(tmp_path, epochs=1))
    coverage = next(line for line in one if line.startswith("Distinct teacher layers"))
    assert "over 1 epoch(s)" in coverage and "`first` 2.0" in coverage
    assert "drew one map" in coverage and "not a map that moves" in coverage
    assert not any("drew one map" in line for line in two)


def test_alp_weights_are_the_last_epoch_averaged_over_seeds(tmp_path):
    results = _moving(tmp_path)
    weights = alp_weights(results)
    assert list(weights) == ["first"]
    assert np.allclose(weights["first"], [[0.5, 0.5, 0, 0], [0, 0, 0.2, 0.8]])
    from distill_lib.plots import alp_weights_plot

    fig = alp_weights_plot(results)
    assert len(fig.axes[0].collections) == 1  # one heatmap (one strategy) and its colour bar
    plt.close(fig)


SPREAD = {("first", "logits"): 0.90, ("last", "logits"): 0.70, ("uniform", "logits"): 0.85,
          ("first", "hidden"): 0.90, ("last", "hidden"): 0.65, ("uniform", "hidden"): 0.80,
          ("first", "rail"): 0.90, ("last", "rail"): 0.89, ("uniform", "rail"): 0.895}


def _spread_results(tmp_path, partial: bool = False):
    """``SPREAD``, a data-driven twin of `first` (`drop`) and, with ``partial``, a fourth
    strategy (`odd`) without its `rail` runs yet."""
    strategies = ["first", "last", "uniform", "drop"] + (["odd"] if partial else [])
    config = _axes(strategies=strategies, seeds=[0, 1, 2], baselines=[],
                   recipes=["logits", "hidden", "rail"], bootstrap_resamples=500)
    cells = {**SPREAD, **({("odd", "logits"): 0.8, ("odd", "hidden"): 0.8} if partial else {})}
    records = [_hand_record(n, s, acc + 0.005 * s, recipe=r)
               for (n, r), acc in cells.items() for s in (0, 1, 2)]
    twins = [{**r, "name": "drop", "same_as": "first"} for r in records if r["name"] == "first"]
    teacher = {"name": "teacher", "layers": [0, 1, 2, 3], "test": {"accuracy": 0.9,
                                                                 "macro_f1": 0.9}}
    majority = {"accuracy": 0.5, "cross_domain": {}, "test_labels": LABELS}
    return summarise(config, records + twins, teacher, majority, {}, tmp_path)


def test_the_spread_of_all_initialisations_is_judged_against_the_fixed_map(tmp_path):
    from distill_lib.experiment import axes

    results = _spread_results(tmp_path)
    assert "drop" not in set(axes.recipe_table(results)["name"])  # the twin of `first`: once
    assert list(rail_coverage(results)) == ["first", "last", "uniform"]
    table = spread_table(results)
    assert table[["recipe", "strategies", "highest", "lowest"]].values.tolist() == [
        ["logits", 3, "first", "last"], ["hidden", 3, "first", "last"],
        ["rail", 3, "first", "last"]]
    assert table["spread"].round(3).tolist() == [0.2, 0.25, 0.01]
    lines = spread_lines(results)
    assert lines[0] == ("Highest minus lowest mean accuracy of the 3 initialisations (`first`, "
                        "`last`, `uniform`), per recipe: `logits` 20.0 points (`first` highest, "
                        "`last` lowest); `hidden` 25.0 points (`first` highest, `last` lowest); "
                        "`rail` 1.0 points (`first` highest, `last` lowest).")
    assert lines[1].startswith("`rail` against the fixed map (`hidden`), that spread shrinks: "
                               "change -24.0 points")
    assert len(lines) == 2 and lines[1] in beyond_lines(results)


def test_a_strategy_without_every_run_is_named_and_left_out_of_the_spread(tmp_path):
    lines = spread_lines(_spread_results(tmp_path, partial=True))
    assert lines[0].startswith("Highest minus lowest mean accuracy of the 3 initialisations "
                               "(`first`, `last`, `uniform`) (`odd` left out: not every seed "
                               "under every recipe yet), per recipe: `logits` 20.0 points")
    results = _spread_results(tmp_path / "two")
    results.axis_runs = [r for r in results.axis_runs
                         if not (r["name"] == "uniform" and r["recipe"] == "rail")]
    assert spread_table(results).empty and spread_lines(results) == []  # two: the gap lines


def test_a_twin_keeps_the_axis_runs_it_trained_itself(tmp_path):
    from distill_lib.experiment import axes

    results = _spread_results(tmp_path)
    for r in results.axis_runs:  # `drop` trained its own `rail` runs (its fixed twin did not)
        if r["name"] == "drop" and r["recipe"] == "rail":
            r.pop("same_as")
    frame = axes.axis_frame(results)
    drop = frame[frame["name"] == "drop"]
    assert sorted(set(drop["recipe"])) == ["logits", "rail"] and len(drop) == 6


def test_two_initialisations_get_no_spread(tmp_path):
    assert spread_lines(_moving(tmp_path)) == []  # first and last: the gap lines say it all


def test_rail_students_that_predict_as_their_fixed_twin_are_counted(tmp_path):
    results = _moving(tmp_path, epochs=1)  # every rail map: [0, 2]; the fixed maps end at 1
    assert not any(r["same_predictions"] for r in rail_twins(results))  # by recipe: differ
    hidden = {(r["name"], r["seed"]): r for r in results.axis_runs if r["recipe"] == "hidden"}
    for r in results.axis_runs:
        if r["recipe"] == "rail" and r["name"] == "first":  # as its twin, copied from 0 and 2
            r["test"], r["layers"] = hidden[("first", r["seed"])]["test"], [0, 2]
    assert [(r["name"], r["same_predictions"], r["same_last"]) for r in rail_twins(results)
            if r["seed"] == 0] == [("first", True, True), ("last", False, False)]
    line = next(line for line in beyond_lines(results) if "not told apart" in line)
    assert line.startswith("3 of 6 `rail` students predicted every test sentence as the")
    assert "3 of those 3 had maps" in line and "against 0 of the other 3" in line
