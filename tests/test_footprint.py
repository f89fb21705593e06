"""A student you can use: the DistilBERT arm of a comparison and the size/latency/accuracy
table (`distill_lib.experiment.footprint`)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from test_experiment import _config, tiny_setup  # noqa: F401 (a module-scoped fixture)

from distill_lib.experiment import ExperimentConfig, compare_strategies, load_results, plan
from distill_lib.experiment import footprint as fp
from distill_lib.experiment.story import section


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("DISTILL_LIB_CACHE", str(tmp_path / "cache"))


def test_distilbert_runs_are_planned_for_their_strategies_with_their_own_keys():
    plain = ExperimentConfig(strategies=["first", "uniform"], seeds=[0, 1], baselines=[])
    arm = plain.replace(distilbert_strategies=["uniform"])
    before, after = plan(plain, 6), plan(arm, 6)
    assert [j.key for j in after[: len(before)]] == [j.key for j in before]  # keys kept
    extra = after[len(before):]
    assert [(j.name, j.seed, j.architecture) for j in extra] == [
        ("uniform", 0, "distilbert"), ("uniform", 1, "distilbert")]
    assert {j.key for j in extra}.isdisjoint({j.key for j in before})
    assert extra[0].filename.startswith("uniform-distilbert-seed0-")


@pytest.mark.parametrize("changes, match", [
    ({"distilbert_strategies": ["odd"]}, "distilbert_strategies: 'odd' is not trained"),
    ({"distilbert_strategies": ["uniform", "spread"]}, "has duplicates"),
])
def test_a_bad_distilbert_arm_is_one_clear_error(changes, match):
    with pytest.raises(ValueError, match=match):
        ExperimentConfig(strategies=["first", "uniform"], **changes)


def test_an_mpnet_teacher_cannot_have_a_distilbert_arm_before_any_work():
    from distill_lib.distilbert import check_distilbert_model_type

    with pytest.raises(ValueError, match=r"distilbert_strategies: .*relative-position bias"):
        check_distilbert_model_type("mpnet", "mpnet-base", "distilbert_strategies")
    check_distilbert_model_type("bert", "minilm-l6", "distilbert_strategies")  # no error


def test_time_forward_reports_mean_and_sd_of_the_timed_passes():
    calls = []

    class Model(torch.nn.Module):
        def forward(self, **inputs):
            calls.append(1)
            return inputs["input_ids"]

    out = fp.time_forward(Model(), {"input_ids": torch.zeros(1, 3)}, warmup=2, repeats=5)
    assert len(calls) == 7 and out["repeats"] == 5
    assert out["mean_ms"] >= 0 and out["sd_ms"] >= 0


def test_int8_keeps_the_original_and_is_smaller_on_disk(tiny_setup):  # noqa: F811
    from transformers import AutoModelForSequenceClassification

    model = AutoModelForSequenceClassification.from_pretrained(str(tiny_setup / "teacher"))
    q = fp.quantize_int8(model)
    assert fp.is_quantized(q) and not fp.is_quantized(model)
    assert isinstance(model.bert.encoder.layer[0].attention.self.query, torch.nn.Linear)
    ids = torch.tensor([[101, 2023, 102]])
    with torch.no_grad():
        a, b = model.eval()(input_ids=ids).logits, q(input_ids=ids).logits
    assert torch.allclose(a, b, atol=0.05)  # int8 weights: close, not equal
    assert fp.size_on_disk_mb(q) < fp.size_on_disk_mb(model)


def test_a_comparison_measures_its_footprint_once_and_reports_it(tiny_setup, tmp_path, cache):  # noqa: F811
    """The DistilBERT arm trains, pairs with its same-class runs; the footprint retrains the
    best strategy's first seed to the same accuracy, and a re-run measures nothing new."""
    config = _config(tiny_setup, tmp_path / "out", strategies=["first", "uniform"],
                     seeds=[0, 1], baselines=[], distilbert_strategies=["uniform"],
                     footprint=True, workers=1)
    results = compare_strategies(config, progress=False, log=None)
    saved = json.loads((tmp_path / "out" / fp.FOOTPRINT_FILE).read_text())
    best = saved["best"]
    assert best["name"] == results.best and best["seed"] == 0
    assert best["retrained_accuracy"] == pytest.approx(best["recorded_accuracy"], abs=1e-9)
    assert set(saved["models"]) == {"teacher", "student", "distilbert", "int8"}
    assert saved["models"]["int8"]["params"] == saved["models"]["student"]["params"]
    assert saved["models"]["teacher"]["params"] > saved["models"]["student"]["params"]

    loaded = load_results(tmp_path / "out")
    table = fp.footprint_table(loaded)
    assert list(table["model"]) == ["teacher", "first", "uniform", "uniform (DistilBERT)",
                                    f"{results.best} (int8, seed 0)"]
    labels = np.asarray(loaded.majority["test_labels"])
    int8 = table.iloc[-1]
    assert int8["accuracy"] == pytest.approx(np.mean(np.asarray(
        saved["int8"]["predictions"]) == labels))
    assert int8["ci_low"] <= int8["accuracy"] <= int8["ci_high"]
    arch = fp.architecture_table(loaded)
    distil = sorted((r for r in loaded.axis_runs if r["architecture"] == "distilbert"),
                    key=lambda r: r["seed"])
    same = loaded.summary.set_index("name").loc["uniform", "mean_accuracy"]
    assert arch.loc[0, "same_accuracy"] == pytest.approx(same)
    assert arch.loc[0, "distilbert_accuracy"] == pytest.approx(
        np.mean([r["test"]["accuracy"] for r in distil]))
    assert arch.loc[0, "diff"] == pytest.approx(arch.loc[0, "distilbert_accuracy"] - same)
    text = section(loaded, "out")
    assert "#### Size, latency and accuracy" in text and "The DistilBERT student" in text
    assert (tmp_path / "out" / "footprint.md").is_file()
    assert (tmp_path / "out" / "architecture.csv").is_file()

    import matplotlib.pyplot as plt

    from distill_lib.plots import footprint_plot

    fig = footprint_plot(loaded)
    from matplotlib.collections import PathCollection

    bubbles = [c for c in fig.axes[0].collections if isinstance(c, PathCollection)]
    assert len(bubbles) == len(table)
    sizes = sorted(float(b.get_sizes()[0]) for b in bubbles)
    assert sizes[-1] == pytest.approx(4.0 * table["size_mb"].max())  # area = size
    plt.close(fig)

    lines: list[str] = []
    compare_strategies(config, progress=False, log=lines.append)
    assert not any("footprint:" in line for line in lines)  # read back, not measured again
    assert json.loads((tmp_path / "out" / fp.FOOTPRINT_FILE).read_text()) == saved


def test_saved_layer_scores_are_kept_while_runs_used_them(tmp_path, monkeypatch):
    """A teacher fine-tuned again (other float rounding) does not re-rank the layers of a
    folder whose data-driven runs were chosen by the saved scores; without such runs it is
    measured again."""
    import distill_lib.selection as selection
    from distill_lib.experiment.evaluation import measure_teacher
    from distill_lib.experiment.store import RunStore

    config = ExperimentConfig(output_dir=str(tmp_path))
    store = RunStore(tmp_path, log=lambda *_: None)
    saved = {"n_layers": 2, "block_influence": [0.1, 0.2], "cka": [[1, 0], [0, 1]],
             "drop": [0.0, 0.1], "calibration_size": 512, "teacher_fingerprint": "old"}
    store.write(store.layer_scores_path(config), saved)
    teacher = torch.nn.Linear(2, 2)
    fresh = {**saved, "block_influence": [0.3, 0.1]}
    monkeypatch.setattr(selection, "measure_layers", lambda *a, **k: dict(fresh))
    lines: list[str] = []
    kept, measured = measure_teacher(store, config, teacher, {"train": [], "validation": []},
                                     None, lines.append, used=3)
    assert kept == saved and measured is False
    assert len(lines) == 1 and "keeping layer-scores-" in lines[0] and "3 finished" in lines[0]
    monkeypatch.setattr("distill_lib.experiment.prepare._subset", lambda d, *a: d)
    again, measured = measure_teacher(store, config, teacher, {"train": [], "validation": []},
                                      None, lines.append, used=0)
    assert measured is True and again["block_influence"] == [0.3, 0.1]


def test_a_preset_fits_its_axes_and_arm_to_overridden_strategies_and_teacher():
    classic = ExperimentConfig.preset("classic", strategies=["first", "last"])
    assert classic.budget_strategies == ["first", "last"]  # uniform and drop left out
    assert classic.recipe_strategies == ["first", "last"] and classic.budgets == [2, 8, 16]
    bare = ExperimentConfig.preset("classic", strategies=["odd", "even"])
    assert (bare.budgets, bare.recipes) == ([], ["logits"])  # an axis with no strategy: none
    assert ExperimentConfig.preset("quick", strategies=["first"]).distilbert_strategies == []
    assert ExperimentConfig.preset("quick", teacher="mpnet-base").distilbert_strategies == []
    kept = ExperimentConfig.preset("quick", teacher="x", distilbert_strategies=["first"])
    assert kept.distilbert_strategies == ["first"]
    every = ExperimentConfig.from_preset("quick", {"train_size": None, "seeds": [0]})
    assert every.train_size is None and every.seeds == [0]
