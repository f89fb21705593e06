"""The recipe and budget axes of a comparison: planning, keys, budget reuse, tables, verdicts.

The central claim checked here: one run at the largest budget gives every smaller budget's
run exactly (constant schedule), so a shorter run trained on its own has the same record.
"""

from __future__ import annotations

import json
import random
import zlib

import pytest
import torch
from test_experiment import _config, tiny_setup  # noqa: F401 (a module-scoped fixture)

from distill_lib.experiment import RECIPES, ExperimentConfig, compare_strategies, plan
from distill_lib.experiment.config import budget_train_config, recipe_train_config
from distill_lib.experiment.runner import Experiment
from distill_lib.train_config import TrainConfig


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("DISTILL_LIB_CACHE", str(tmp_path / "cache"))


def _axes(**changes) -> ExperimentConfig:
    values = dict(strategies=["first", "last", "uniform"], seeds=[0, 1],
                  baselines=["random-init", "no-kd"], student_train=TrainConfig(epochs=2))
    values.update(changes)
    return ExperimentConfig(**values)


def test_recipes_and_budgets_change_only_what_they_name():
    base = TrainConfig(epochs=2, lr=2e-5)
    assert recipe_train_config(base, "logits") == base
    assert recipe_train_config(base, "hidden") == base.replace(**RECIPES["hidden"])
    assert recipe_train_config(base, "attention").attention_weight == 10.0
    budget = budget_train_config(base, 16)
    assert (budget.epochs, budget.scheduler, budget.warmup_ratio, budget.lr) == (
        16, "constant", 0.0, 2e-5)
    with pytest.raises(ValueError, match="unknown recipe 'pkd'; choose from logits, hidden"):
        recipe_train_config(base, "pkd")


def test_the_plan_adds_each_axis_for_its_strategies_with_distinct_keys():
    config = _axes(recipes=["logits", "hidden", "attention"], recipe_strategies=["first", "last"],
                   budgets=[8, 2, 4], budget_strategies=["top-k", "random-init"])
    jobs = plan(config, 6)
    main = [j for j in jobs if not j.variant]
    assert len(main) == 5 * 2  # 3 strategies + 2 baselines, 2 seeds: as without the axes
    assert [j.key for j in main] == [j.key for j in plan(_axes(), 6)]  # main keys unchanged
    recipe = [j for j in jobs if j.recipe != "logits"]
    assert {(j.name, j.recipe) for j in recipe} == {
        (n, r) for n in ("first", "last") for r in ("hidden", "attention")}
    assert all(j.train_config.hidden_weight == 0.1 for j in recipe if j.recipe == "hidden")
    budget = [j for j in jobs if j.budget is not None]
    assert config.budgets == [2, 4, 8]  # sorted
    assert {(j.name, j.budget) for j in budget} == {
        (n, b) for n in ("last", "random-init") for b in (2, 4, 8)}
    assert all(j.train_config.scheduler == "constant" and j.train_config.epochs == j.budget
               for j in budget)
    assert len({j.key for j in jobs}) == len(jobs)
    assert len({j.filename for j in jobs}) == len(jobs)
    assert "last-8ep-seed0-" in next(j.filename for j in budget if j.budget == 8)


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"recipes": ["logits", "tinybert"]}, "recipes: unknown recipe 'tinybert'"),
        ({"recipes": ["hidden", "hidden"]}, "has duplicates"),
        ({"budgets": [2, 0]}, "each budget"),
        ({"budgets": [4, 4]}, "budgets .* has duplicates"),
        ({"budget_strategies": ["odd"]}, "budget_strategies: 'odd' is not trained"),
        ({"recipe_strategies": ["no-kd"]}, "recipe_strategies: 'no-kd' is not trained"),
    ],
)
def test_a_bad_axis_is_one_clear_error(changes, match):
    with pytest.raises(ValueError, match=match):
        _axes(**changes)


def test_a_budget_equal_to_the_main_settings_is_not_planned_twice():
    constant = TrainConfig(epochs=2, scheduler="constant", warmup_ratio=0.0)
    jobs = plan(_axes(student_train=constant, budgets=[2, 4], baselines=[]), 6)
    assert len({j.key for j in jobs}) == len(jobs)
    assert not any(j.budget == 2 for j in jobs)  # the main run is that budget's run


def _records(folder) -> dict[str, dict]:
    return {p.name: json.loads(p.read_text()) for p in (folder / "runs").glob("*-seed*.json")}


def test_one_long_run_gives_the_shorter_budgets_exactly(tiny_setup, tmp_path, cache):  # noqa: F811
    """The budget-2 record that the budget-3 run gives equals a budget-2 run trained alone:
    same best epoch, validation, history and test predictions; training happened once."""
    config = _config(tiny_setup, tmp_path / "long", strategies=["uniform"], seeds=[0],
                     baselines=[], budgets=[1, 2, 3], workers=1)
    lines: list[str] = []
    results = compare_strategies(config, progress=False, log=lines.append)
    records = _records(tmp_path / "long")
    budget = {r["budget_epochs"]: r for r in records.values() if r["budget_epochs"]}
    assert sorted(budget) == [1, 2, 3]
    assert budget[1]["prefix_of"] == budget[2]["prefix_of"] == budget[3]["key"]
    assert sum("(3 epochs)" in line and "test accuracy" in line for line in lines) == 1
    assert len(results.axis_runs) == 3 and len(results.runs) == 1  # tables: main runs only
    alone = Experiment(_config(tiny_setup, tmp_path / "alone", strategies=["uniform"],
                               seeds=[0], baselines=[], budgets=[2], workers=1),
                       progress=False, log=None)
    ((_, record),) = alone.train_records(alone.job("uniform", 0, budget=2))
    short = budget[2]
    assert record["key"] == short["key"] and record["best_epoch"] == short["best_epoch"]
    assert record["test"]["predictions"] == short["test"]["predictions"]
    for mine, theirs in zip(record["history"], short["history"], strict=True):
        assert mine["val_accuracy"] == theirs["val_accuracy"]
        assert mine["train_loss"] == pytest.approx(theirs["train_loss"], rel=1e-6)
    assert record["test"]["loss"] == pytest.approx(short["test"]["loss"], rel=1e-5)


def test_a_missing_shorter_budget_is_trained_alone_and_a_rerun_trains_nothing(
    tiny_setup, tmp_path, cache  # noqa: F811
):
    config = _config(tiny_setup, tmp_path / "out", strategies=["first"], seeds=[0],
                     baselines=[], budgets=[1, 2], recipes=["logits", "hidden"], workers=1)
    compare_strategies(config, progress=False, log=None)
    records = _records(tmp_path / "out")
    assert {(r["recipe"], r["budget_epochs"]) for r in records.values()} == {
        ("logits", None), ("hidden", None), ("logits", 1), ("logits", 2)}
    hidden = next(r for r in records.values() if r["recipe"] == "hidden")
    assert hidden["train_config"]["hidden_weight"] == RECIPES["hidden"]["hidden_weight"]
    assert any(h.get("train_hidden", 0) > 0 for h in hidden["history"])
    short = next(p for p in (tmp_path / "out" / "runs").glob("first-1ep-*.json"))
    short.unlink()  # the shorter budget alone is missing: trained alone, not via 2 epochs
    lines: list[str] = []
    compare_strategies(config, progress=False, log=lines.append)
    redone = json.loads(short.read_text())
    assert "prefix_of" not in redone and redone["budget_epochs"] == 1
    lines.clear()
    compare_strategies(config, progress=False, log=lines.append)
    assert sum("finished earlier" in line for line in lines) == 4


def test_workers_write_every_record_a_long_run_gives(tiny_setup, tmp_path, cache):  # noqa: F811
    config = _config(tiny_setup, tmp_path / "out", strategies=["first", "last"], seeds=[0],
                     baselines=[], budgets=[1, 2], workers=2)
    compare_strategies(config, progress=False, log=None)
    records = _records(tmp_path / "out")
    assert sorted((r["name"], r["budget_epochs"]) for r in records.values()
                  if r["budget_epochs"]) == [("first", 1), ("first", 2), ("last", 1), ("last", 2)]
    assert all(torch.isfinite(torch.tensor(r["test"]["accuracy"])) for r in records.values())


# ---------------------------------------------------------------------------------------------
# Tables and verdicts, from records built by hand (a pure function of the JSONs)

N_TEST = 400
LABELS = [i % 2 for i in range(N_TEST)]


def _hand_record(name: str, seed: int, accuracy: float, *, budget: int | None = None,
                 recipe: str = "logits") -> dict:
    """A run record whose predictions are right on exactly ``accuracy`` of the test set (which
    sentences differs by seed)."""
    rng = random.Random(zlib.crc32(f"{name} {seed} {budget} {recipe}".encode()))
    right = set(rng.sample(range(N_TEST), round(accuracy * N_TEST)))
    predictions = [y if i in right else 1 - y for i, y in enumerate(LABELS)]
    counts = [predictions.count(0), predictions.count(1)]
    return {"name": name, "kind": "strategy", "seed": seed, "layers": [0, 1], "init": "teacher",
            "recipe": recipe, "budget_epochs": budget, "updates": 10 * (budget or 2),
            "history": [], "best_epoch": 1,
            "test": {"accuracy": len(right) / N_TEST, "macro_f1": 0.5, "loss": 0.5,
                     "n": N_TEST, "predicted_counts": counts, "predictions": predictions}}


CLEAR = {  # (name, recipe, budget) -> accuracy: a gap that clearly shrinks on both axes
    ("first", "logits", None): 0.90, ("last", "logits", None): 0.65,
    ("first", "attention", None): 0.90, ("last", "attention", None): 0.89,
    ("first", "logits", 1): 0.85, ("last", "logits", 1): 0.60,
    ("first", "logits", 8): 0.91, ("last", "logits", 8): 0.89,
}


def _hand_results(tmp_path, cells: dict[tuple, float]):
    from distill_lib.experiment import summarise

    config = _axes(strategies=["first", "last"], seeds=[0, 1, 2], baselines=[],
                   recipes=["logits", "attention"], budgets=[1, 8], bootstrap_resamples=500)
    records = [_hand_record(name, seed, acc + 0.005 * seed, budget=budget, recipe=recipe)
               for (name, recipe, budget), acc in cells.items() for seed in (0, 1, 2)]
    teacher = {"name": "teacher", "layers": [0, 1, 2, 3], "test": {"accuracy": 0.9,
                                                                 "macro_f1": 0.9}}
    majority = {"accuracy": 0.5, "cross_domain": {}, "test_labels": LABELS}
    return summarise(config, records, teacher, majority, {}, tmp_path)


def test_axis_tables_and_verdicts_follow_the_numbers(tmp_path):
    from distill_lib.experiment import axes

    results = _hand_results(tmp_path, CLEAR)
    assert len(results.runs) == 6 and len(results.axis_runs) == 18
    table = axes.budget_table(results)
    assert table[["name", "budget", "updates"]].values.tolist() == [
        ["first", 1, 10], ["last", 1, 10], ["first", 8, 80], ["last", 8, 80]]
    assert table["mean_accuracy"].round(3).tolist() == [0.855, 0.605, 0.915, 0.895]
    gaps = axes.budget_gaps(results)
    assert gaps[["budget", "a", "b"]].values.tolist() == [[1, "first", "last"],
                                                          [8, "first", "last"]]
    assert gaps["diff"].round(3).tolist() == [0.25, 0.02]
    recipes = axes.recipe_table(results)
    assert recipes[["recipe", "name"]].values.tolist() == [
        ["logits", "first"], ["logits", "last"], ["attention", "first"], ["attention", "last"]]
    lines = axes.axis_verdicts(results)
    assert lines[0].startswith("The gap between `first` and `last` shrinks from 10 to 80 "
                               "updates: 25.0 points")
    assert lines[1].startswith("With the `attention` recipe, the gap between `first` and "
                               "`last` is smaller than with `logits`: 1.0 points")
    assert "change -24.0 points" in lines[1] and "change -23.0 points" in lines[0]
    assert len(lines) == 2


def test_a_gap_that_moves_within_its_intervals_gets_no_direction(tmp_path):
    from distill_lib.experiment import axes

    results = _hand_results(tmp_path, {
        ("first", "logits", None): 0.80, ("last", "logits", None): 0.78,
        ("first", "attention", None): 0.80, ("last", "attention", None): 0.785,
        ("first", "logits", 1): 0.80, ("last", "logits", 1): 0.78,
        ("first", "logits", 8): 0.81, ("last", "logits", 8): 0.80,
    })
    lines = axes.axis_verdicts(results)
    assert "moves within what this run can tell from no change from 10 to 80 updates" in lines[0]
    assert "is not clearly different from the one with `logits`" in lines[1]
    assert "(its interval includes 0)" in lines[1]


def test_the_axes_figures_draw_the_tables(tmp_path):
    import matplotlib.pyplot as plt

    from distill_lib import plots
    from distill_lib.plots.all_figures import _figure_makers

    results = _hand_results(tmp_path, CLEAR)
    fig = plots.budget_plot(results)
    left, right = fig.axes
    assert [line.get_label() for line in left.lines] == ["first", "last"]
    assert left.lines[1].get_ydata().round(1).tolist() == [60.5, 89.5]
    assert [line.get_label() for line in right.lines[:1]] == ["first - last"]
    assert right.lines[0].get_xdata().tolist() == [10, 80]  # updates on the x axis
    plt.close(fig)
    fig = plots.recipe_plot(results)
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert texts[0].startswith("25.0\n[") and texts[1].startswith("1.0\n[")
    plt.close(fig)
    assert {"budgets", "recipes"} <= set(_figure_makers(results))
