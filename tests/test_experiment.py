"""compare_strategies end to end on a tiny teacher: files, resume, keys, statistics."""

from __future__ import annotations

import json
import os
import random
import re

import pytest
import torch
from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

import distill_lib.experiment as ex
import distill_lib.experiment.prepare as prepare
import distill_lib.experiment.runner as runner
import distill_lib.experiment.student_runs as student_runs
from distill_lib.experiment import Experiment, ExperimentConfig, compare_strategies, load_results
from distill_lib.teacher import minilm_folder
from distill_lib.train import TrainConfig

POS = ["good", "great", "wonderful", "funny", "moving", "brilliant", "warm", "smart"]
NEG = ["bad", "dull", "boring", "awful", "flat", "tedious", "weak", "lazy"]


@pytest.fixture(scope="module")
def tiny_setup(tmp_path_factory):
    """A 4-layer, 32-wide BERT teacher folder and a 240-row sentiment CSV (no network)."""
    root = tmp_path_factory.mktemp("tiny")
    tokenizer = AutoTokenizer.from_pretrained(str(minilm_folder()))
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=4,
        num_attention_heads=2,
        intermediate_size=64,
        num_labels=2,
    )
    BertForSequenceClassification(config).save_pretrained(root / "teacher")
    tokenizer.save_pretrained(root / "teacher")
    rng = random.Random(0)
    lines = ["text,label"]
    for i in range(240):
        label = i % 2
        words = rng.sample(POS if label else NEG, 2) + rng.sample(
            ["the", "film", "plot", "cast"], 2
        )
        rng.shuffle(words)
        lines.append(f"{' '.join(words)},{label}")
    (root / "reviews.csv").write_text("\n".join(lines) + "\n")
    return root


def _config(root, out, **overrides) -> ExperimentConfig:
    train = TrainConfig(epochs=1, batch_size=16, lr=1e-3, progress=False)
    values = dict(
        teacher=str(root / "teacher"),
        task=str(root / "reviews.csv"),
        student_layers=2,
        strategies=["first", "last"],
        seeds=[0, 1],
        output_dir=str(out),
        teacher_train=train,
        student_train=train,
        bootstrap_resamples=200,
    )
    values.update(overrides)
    return ExperimentConfig(**values)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("DISTILL_LIB_CACHE", str(tmp_path / "cache"))


def test_compare_writes_runs_tables_and_resumes(tiny_setup, tmp_path, cache, monkeypatch):
    config = _config(tiny_setup, tmp_path / "out")
    lines: list[str] = []
    results = compare_strategies(config, progress=False, log=lines.append)
    runs = sorted((tmp_path / "out" / "runs").glob("*.json"))
    # 2 strategies + random-init + no-kd, 2 seeds each, plus the teacher's record
    assert len(runs) == 4 * 2 + 1
    assert set(results.summary["name"]) == {
        "first",
        "last",
        "random-init",
        "no-kd",
        "teacher",
        "majority",
    }
    assert len(results.pairwise) == 6  # every pair of the 4 student names
    assert set(results.pairwise.columns) >= {"diff", "p_value", "p_holm", "significant"}
    record = json.loads(next(p for p in runs if p.name.startswith("last-seed1")).read_text())
    assert record["layers"] == [2, 3]
    assert len(record["history"]) == 1 and record["test"]["n"] == len(record["test"]["predictions"])
    assert sum(record["test"]["predicted_counts"]) == record["test"]["n"]
    assert (tmp_path / "out" / "summary.md").read_text().startswith("| name")
    assert results.efficiency["student_layers"] == 2

    # A second run trains nothing and gives the same numbers.
    mtimes = {p: p.stat().st_mtime_ns for p in runs}
    lines.clear()
    again = compare_strategies(config, progress=False, log=lines.append)
    assert sum("finished earlier" in line for line in lines) == 8
    assert {p: p.stat().st_mtime_ns for p in runs} == mtimes
    assert again.summary["mean_accuracy"].tolist() == results.summary["mean_accuracy"].tolist()

    # reporting needs only the JSONs: no teacher, no data, no network
    def offline(*args, **kwargs):
        raise AssertionError("load_results touched the teacher or the data")

    monkeypatch.setattr(runner, "load_teacher", offline)
    monkeypatch.setattr(prepare, "teacher_depth", offline)
    monkeypatch.setattr(prepare, "load_task", offline)
    monkeypatch.setattr("distill_lib.teacher.resolve_teacher", offline)
    loaded = load_results(tmp_path / "out")
    assert loaded.summary["mean_accuracy"].tolist() == results.summary["mean_accuracy"].tolist()
    assert loaded.report() == results.report()


def test_interrupted_run_loses_no_finished_run(tiny_setup, tmp_path, cache, monkeypatch):
    config = _config(tiny_setup, tmp_path / "out", baselines=[])
    real_distill = student_runs.distill
    calls = {"n": 0}

    def flaky_distill(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt  # as if the user pressed Ctrl-C during the third run
        return real_distill(*args, **kwargs)

    monkeypatch.setattr(student_runs, "distill", flaky_distill)
    with pytest.raises(KeyboardInterrupt):
        compare_strategies(config, progress=False, log=None)
    runs_dir = tmp_path / "out" / "runs"
    finished = sorted(p.name for p in runs_dir.glob("*-seed*.json"))
    assert len(finished) == 2  # first seed 0 and 1, complete JSONs
    assert not list(runs_dir.glob(".*tmp"))  # no half-written files
    mtimes = {p: p.stat().st_mtime_ns for p in runs_dir.glob("*-seed*.json")}

    monkeypatch.setattr(student_runs, "distill", real_distill)
    lines: list[str] = []
    compare_strategies(config, progress=False, log=lines.append)
    assert sum("finished earlier" in line for line in lines) == 2
    for path, mtime in mtimes.items():
        assert path.stat().st_mtime_ns == mtime
    assert len(list(runs_dir.glob("*-seed*.json"))) == 4


def test_changed_config_gets_new_keys(tiny_setup, tmp_path):
    a = _config(tiny_setup, tmp_path / "a", baselines=[])
    b = _config(
        tiny_setup, tmp_path / "b", baselines=[], student_train=a.student_train.replace(lr=5e-4)
    )
    jobs_a = {j.filename for j in ex.plan(a, 4)}
    jobs_b = {j.filename for j in ex.plan(b, 4)}
    assert jobs_a.isdisjoint(jobs_b)
    # progress bars and folders do not change what is computed, so they keep the key
    c = _config(
        tiny_setup,
        tmp_path / "c",
        baselines=[],
        student_train=a.student_train.replace(progress=True),
    )
    assert {j.filename for j in ex.plan(c, 4)} == jobs_a


def test_experiment_pieces_share_the_cache(tiny_setup, tmp_path, cache):
    config = _config(tiny_setup, tmp_path / "out", baselines=[], seeds=[0])
    exp = Experiment(config, progress=False, log=None)
    record = exp.run("bottom-k", seed=0)  # an alias of "first"
    assert record["name"] == "first" and record["layers"] == [0, 1]
    lines: list[str] = []
    compare_strategies(config, progress=False, log=lines.append)
    assert any("first seed 0" in line and "finished earlier" in line for line in lines)
    with pytest.raises(ValueError, match="no run 'first' with seed 7"):
        exp.job("first", 7)


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        ({"strategies": ["middle"]}, "unknown layer strategy"),
        ({"student_layers": 9}, "cannot have more layers than its teacher"),
        ({"seeds": []}, "seeds is empty"),
        ({"seeds": [1, 1]}, "duplicates"),
        ({"baselines": ["oracle"]}, "unknown baselines"),
        ({"strategies": ["odd"], "student_layers": 3}, "only 2 odd-numbered layers"),
        ({"strategies": ["first", [0, 1]]}, "both keep teacher layers [0, 1]"),
        ({"strategies": [[0, 0]]}, "repeats layer"),
        ({"strategies": ["first", "bottom-k"]}, "twice"),
        ({"seeds": [2**32]}, "each seed must be an int between 0 and 4294967295"),
        ({"seeds": [True]}, "each seed must be an int"),
        ({"output_dir": ""}, "output_dir must be a non-empty string"),
        ({"train_size": 1}, "train_size must be an int >= 2"),
        ({"student_train": TrainConfig(device="cuda")}, "cuda"),
    ],
)
def test_bad_config_fails_before_any_work(tiny_setup, tmp_path, overrides, match):
    if overrides.get("student_train") is not None and torch.cuda.is_available():
        pytest.skip("a CUDA device is available here")
    with pytest.raises(ValueError, match=re.escape(match)):
        compare_strategies(_config(tiny_setup, tmp_path / "out", **overrides), log=None)
    assert not (tmp_path / "out").exists()


def test_damaged_files_are_set_aside_and_redone(tiny_setup, tmp_path, cache):
    """A truncated or foreign run JSON and a truncated teacher checkpoint: named, kept, redone."""
    config = _config(tiny_setup, tmp_path / "out", baselines=[], seeds=[0])
    compare_strategies(config, progress=False, log=None)
    runs_dir = tmp_path / "out" / "runs"
    first, last = (next(runs_dir.glob(f"{n}-seed0-*.json")) for n in ("first", "last"))
    first.write_text(first.read_text()[:50])  # a disk filled up mid-copy
    last.write_text("{}")  # a foreign file under the right name
    weights = next((tmp_path / "out").glob("teacher-*/model.safetensors"))
    weights.write_bytes(weights.read_bytes()[:1000])

    # report names what it skipped, and says how to finish
    lines: list[str] = []
    with pytest.raises(FileNotFoundError, match=r"2 of 2 runs .* missing or were set aside"):
        load_results(tmp_path / "out", log=lines.append)
    assert any(first.name in line and "not valid JSON" in line for line in lines)
    assert any(last.name in line and "lacks" in line for line in lines)
    kept = sorted(p.name for p in runs_dir.glob("*.damaged-*"))
    assert len(kept) == 2  # set aside, not deleted

    lines.clear()
    results = compare_strategies(config, progress=False, log=lines.append)
    assert any("damaged teacher checkpoint" in line for line in lines)
    assert sum(line.endswith(" s)") for line in lines if line.startswith("[")) == 2  # redone
    assert first.is_file() and last.is_file()
    assert len(list((tmp_path / "out").glob("teacher-*.damaged-*"))) == 1
    assert set(results.summary["name"]) >= {"first", "last"}

    # report (partial) names the skipped file and reports the rest
    first.write_text("{")
    lines.clear()
    partial = load_results(tmp_path / "out", partial=True, log=lines.append)
    assert partial.missing == [first.name] and "incomplete: 1 run(s)" in partial.report()
    assert "last" in set(partial.summary["name"]) and "first" not in set(partial.summary["name"])
    assert any(first.name in line for line in lines)


def test_a_second_comparison_on_the_same_folder_is_refused(tiny_setup, tmp_path, cache):
    config = _config(tiny_setup, tmp_path / "out", baselines=[], seeds=[0])
    store = ex.RunStore(tmp_path / "out")
    # an OS lock: a second lock() is refused even in the same process (tests/test_lock.py
    # checks other processes, a killed holder and a real race)
    with store.lock(), pytest.raises(RuntimeError, match="another comparison"):
        compare_strategies(config, progress=False, log=None)
    assert not list((tmp_path / "out" / "runs").glob("*.json"))  # refused before any work
    with store.lock():  # released after the refusal
        assert (tmp_path / "out" / ".lock.pid").read_text() == f"{os.getpid()}\n"
    assert not (tmp_path / "out" / ".lock.pid").exists()


def test_clamped_sizes_are_reported(tiny_setup, tmp_path, cache):
    config = _config(tiny_setup, tmp_path / "out", baselines=[], seeds=[0], strategies=["first"],
                     train_size=10_000)
    exp = Experiment(config, progress=False, log=None)
    lines: list[str] = []
    exp.log = lines.append
    assert len(exp.tokens["train"]) < 10_000
    assert any("train_size asks for 10,000 sentences" in line for line in lines)


def test_presets_are_valid():
    for name in ex.PRESETS:
        config = ExperimentConfig.preset(name)
        assert config.seeds and config.strategies
    assert ExperimentConfig.preset("quick", seeds=[3]).seeds == [3]
    with pytest.raises(ValueError, match="unknown preset"):
        ExperimentConfig.preset("huge")


def test_data_driven_strategies_run_like_any_other(tiny_setup, tmp_path, cache):
    """influence / cka-cover / drop: measured once on the teacher, stored, reported."""
    config = _config(
        tiny_setup, tmp_path / "out", baselines=[], seeds=[0],
        strategies=["first", "uniform", "influence", "cka-cover", "drop"],
        calibration_size=64,
    )
    lines: list[str] = []
    results = compare_strategies(config, progress=False, log=lines.append)
    assert {"influence", "cka-cover", "drop"} <= set(results.summary["name"])
    scores = list((tmp_path / "out").glob("layer-scores-*.json"))
    assert len(scores) == 1
    measured = json.loads(scores[0].read_text())
    assert measured["calibration_size"] == 64 and len(measured["block_influence"]) == 4
    assert sum("teacher layers measured" in line for line in lines) == 1
    fixed = {results.layer_maps[n] == results.layer_maps[m]
             for n in ("first", "uniform") for m in ("influence",)}
    for name in ("influence", "cka-cover", "drop"):
        record = json.loads(
            next((tmp_path / "out" / "runs").glob(f"{name}-seed0-*.json")).read_text()
        )
        assert record["selection"]["strategy"] == name
        assert record["layers"] == results.layer_maps[name] and len(record["layers"]) == 2
        same = [m for m in ("first", "uniform") if results.layer_maps[m] == record["layers"]]
        assert record.get("same_as") == (same[0] if same else None)
    assert fixed  # (the maps are whatever the tiny teacher gives; the checks above hold)

    # A second comparison measures nothing and trains nothing.
    lines.clear()
    compare_strategies(config, progress=False, log=lines.append)
    assert not any("measured" in line for line in lines)
    assert any("every run was already on disk" in line for line in lines)


def test_data_driven_strategy_without_measurements_says_what_it_needs():
    from distill_lib import select_layers

    with pytest.raises(ValueError, match="measured on the fine-tuned teacher"):
        select_layers("influence", 6, 3)
    with pytest.raises(ValueError, match="measure_layers"):
        select_layers("block-influence", 6, 3)
