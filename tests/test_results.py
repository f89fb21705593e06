"""What Results says: intervals inside [0, 1], and no finding drawn from a collapsed run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from test_plots import _record

from distill_lib.experiment import ExperimentConfig, summarise
from distill_lib.experiment.results import CI_METHOD
from distill_lib.layers import select_layers
from distill_lib.stats import bootstrap_accuracy_ci

N_TEST = 200


def _results(tmp_path: Path, accuracy: dict[str, float], collapsed: set[str], seeds=(0, 1, 2),
             maps: dict[str, list[int]] | None = None, twins: dict[str, str] | None = None):
    labels = np.array([0, 1] * (N_TEST // 2))
    strategies = [n for n in accuracy if n not in ("random-init", "no-kd")]
    maps = maps or {}
    config = ExperimentConfig(strategies=strategies, seeds=list(seeds), student_layers=3,
                              output_dir=str(tmp_path), bootstrap_resamples=300)
    records = []
    for name, acc in accuracy.items():
        kind = "baseline" if name in ("random-init", "no-kd") else "strategy"
        layers = maps.get(name) or ([0, 1, 2] if kind == "baseline" else select_layers(name, 6, 3))
        init = "random" if name == "random-init" else "teacher"
        for seed in seeds:
            if twins and name in twins:  # a data-driven strategy that reused a fixed run
                twin = next(r for r in records if r["name"] == twins[name] and r["seed"] == seed)
                records.append({**twin, "name": name, "same_as": twins[name]})
                continue
            records.append(_record(name, kind, seed, layers, init, acc, labels, epochs=2,
                                   collapse=name in collapsed))
    teacher = {"name": "teacher", "kind": "reference", "layers": list(range(6)),
               "test": {"accuracy": 0.9, "macro_f1": 0.9}}
    majority = {"class": 1, "accuracy": 0.5, "cross_domain": {},
                "test_labels": labels.tolist()}
    return summarise(config, records, teacher, majority, {}, tmp_path)


@pytest.mark.parametrize("accuracy", [0.0, 0.02, 0.5, 0.98, 1.0])
@pytest.mark.parametrize("seeds", [1, 2, 3])
def test_bootstrap_interval_stays_inside_0_1(accuracy, seeds):
    rng = np.random.default_rng(0)
    correct = rng.random((seeds, 150)) < accuracy
    low, high = bootstrap_accuracy_ci(correct, n_resamples=500)
    assert 0.0 <= low <= correct.mean() <= high <= 1.0


def test_bootstrap_interval_is_wider_with_noisy_seeds():
    steady = np.tile(np.arange(400) % 5 != 0, (3, 1))  # 80% on every seed
    noisy = np.stack([np.arange(400) % 10 < k for k in (5, 8, 10)])  # 50%, 80%, 100%
    w_steady = np.subtract(*bootstrap_accuracy_ci(steady)[::-1])
    w_noisy = np.subtract(*bootstrap_accuracy_ci(noisy)[::-1])
    assert w_noisy > 3 * w_steady


def test_every_summary_interval_is_inside_0_1_and_named(tmp_path):
    r = _results(tmp_path, {"first": 0.99, "last": 0.52, "uniform": 0.8, "no-kd": 0.97},
                 collapsed=set(), seeds=(0, 1))
    students = r.summary[r.summary["kind"] != "reference"]
    assert ((students["ci_low"] >= 0) & (students["ci_high"] <= 1)).all()
    assert (students["ci_low"] <= students["mean_accuracy"]).all()
    assert (students["mean_accuracy"] <= students["ci_high"]).all()
    assert CI_METHOD in r.report() and "bootstrap" in CI_METHOD


def test_collapsed_baselines_are_reported_as_such_not_as_findings(tmp_path):
    """The case a learner met: both baselines collapsed, the strategies learned."""
    r = _results(tmp_path, {"first": 0.8, "uniform": 0.82, "random-init": 0.5, "no-kd": 0.5},
                 collapsed={"random-init", "no-kd"})
    assert set(r.collapsed_names()) == {"random-init", "no-kd"}
    for baseline in ("random-init", "no-kd"):
        c = r.compare("uniform", baseline)
        assert c is not None and c.collapsed == (baseline,)
        assert c.verdict == "no verdict against"
        assert c.text().startswith("no finding: ") and "collapsed" in c.text()
        assert "significant" not in c.text()
        assert r.verdict_vs_best(baseline) == "no verdict: a run collapsed"
    lines = r.versus_lines(["uniform"], ["first", "no-kd", "random-init"])
    assert lines[0].startswith("uniform ") and "no finding" not in lines[0]
    assert all("no verdict against" in line and "no finding" in line for line in lines[1:])
    report = r.report()
    assert "COLLAPSED" in report and "no verdict" in report


def test_a_collapsed_side_is_never_significant_anywhere(tmp_path):
    """random-init collapsed, far below the others: its p-value is tiny, yet no verdict, no
    significance, no line in the pairwise summary, and `no verdict` in the table."""
    r = _results(tmp_path, {"first": 0.8, "uniform": 0.85, "random-init": 0.5},
                 collapsed={"random-init"})
    pw = r.pairwise.set_index(["a", "b"])
    assert pw.loc[("first", "random-init"), "p_holm"] < 0.05  # the number is there...
    assert pw["collapsed"].tolist() == [False, True, True]
    assert not pw.loc[pw["collapsed"], "significant"].any()  # ...but never a finding
    c = r.compare("uniform", "random-init")
    assert not c.significant and c.verdict == "no verdict against" and "Holm p" not in c.text()
    assert not any("random-init" in line for line in r.pairwise_lines()[2:])
    row = next(line for line in r.table().splitlines() if line.startswith("| random-init"))
    assert "no verdict" in row and "p=" not in row and "worse" not in row
    assert set(r.significant_pairs()["b"]) <= {"uniform", "first"}


def test_tables_are_what_save_tables_writes(tmp_path):
    r = _results(tmp_path, {"first": 0.8, "last": 0.6}, collapsed=set())
    written = r.save_tables()
    assert {p.name for p in written} == set(r.tables())
    assert all(p.read_text() == r.tables()[p.name] for p in written)
    assert r.tables()["summary.md"] == r.table() + "\n"


def test_a_collapsed_strategy_gets_no_verdict_and_makes_none_for_others(tmp_path):
    r = _results(tmp_path, {"first": 0.8, "last": 0.5, "uniform": 0.85},
                 collapsed={"last"})
    assert r.verdict_vs_best("last") == "no verdict: a run collapsed"
    assert r.verdict_vs_best("first").startswith(("worse", "n.s."))
    assert r.compare("uniform", "last").verdict == "no verdict against"


def test_verdict_words_follow_the_test(tmp_path):
    r = _results(tmp_path, {"first": 0.9, "last": 0.7, "uniform": 0.9}, collapsed=set())
    assert r.compare("first", "last").verdict == "beats"
    assert r.compare("last", "first").verdict == "loses to"
    assert r.compare("first", "uniform").verdict == "ties with"
    assert "significant" in r.compare("first", "last").text()


def test_same_layers_are_the_same_student(tmp_path):
    r = _results(tmp_path, {"uniform": 0.8, "influence": 0.8, "first": 0.7},
                 collapsed=set(), maps={"influence": [0, 2, 5]})
    (line,) = r.versus_lines(["influence"], ["uniform"])
    assert "same layers as uniform" in line and "nothing to compare" in line


def test_a_reused_run_is_not_tested_twice(tmp_path):
    """influence picked last's layers: one student, so no duplicate pairs for Holm."""
    r = _results(tmp_path, {"first": 0.85, "last": 0.7, "uniform": 0.86, "influence": 0.0},
                 collapsed=set(), maps={"influence": [3, 4, 5]}, twins={"influence": "last"})
    tested = set(r.pairwise["a"]) | set(r.pairwise["b"])
    assert "influence" not in tested and len(r.pairwise) == 3
    assert r.twin("influence") == "last" and r.twin("last") is None
    assert r.compare("influence", "uniform") == r.compare("last", "uniform")
    assert r.verdict_vs_best("influence").startswith("= last: worse")
    lines = r.versus_lines(["influence"], ["uniform", "last"])
    assert lines[0].startswith("influence (the same student as last) loses to uniform")
    assert "same layers as last" in lines[1]


def test_summary_mean_and_std_are_over_seeds(tmp_path):
    r = _results(tmp_path, {"first": 0.8, "last": 0.6, "no-kd": 0.7}, collapsed=set())
    summary = r.summary.set_index("name")
    for name in ("first", "last", "no-kd"):
        accuracy = r.runs.loc[r.runs["name"] == name, "test_accuracy"].to_numpy()
        assert summary.loc[name, "n_seeds"] == 3
        assert summary.loc[name, "mean_accuracy"] == pytest.approx(accuracy.mean())
        assert summary.loc[name, "std"] == pytest.approx(accuracy.std(ddof=1))
    assert list(summary.index) == ["first", "last", "no-kd", "teacher", "majority"]
    one = _results(tmp_path, {"first": 0.8, "last": 0.6}, collapsed=set(), seeds=(0,))
    students = one.summary[one.summary["kind"] != "reference"]
    assert students[["std", "ci_low", "ci_high"]].isna().all().all()  # one seed: no spread


def test_the_runs_table_columns(tmp_path):
    """What runs.csv holds (its predictions aside), in order."""
    r = _results(tmp_path, {"first": 0.8, "last": 0.6}, collapsed=set())
    assert list(r.runs.columns) == [
        "name", "kind", "seed", "layers", "init", "test_accuracy", "test_macro_f1", "test_loss",
        "predicted_counts", "collapsed", "collapse_reason", "best_epoch", "seconds", "same_as",
        "predictions", "probabilities", "validation_accuracy",
    ]
    assert r.histories.groupby(["name", "seed"]).size().tolist() == [2] * 6  # 2 epochs each


def test_percentage_points_never_read_minus_zero():
    from distill_lib.experiment.results import pct

    assert [pct(v) for v in (0.0123, -0.0004, -0.0123)] == ["1.2", "0.0", "-1.2"]
    assert [pct(v, True) for v in (0.0123, -0.0004, 0.0004)] == ["+1.2", "+0.0", "+0.0"]
