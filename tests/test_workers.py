"""Student runs in helper processes (distill_lib.experiment.workers): same runs, same files."""

from __future__ import annotations

import json

import pytest
from test_experiment import _config, tiny_setup  # noqa: F401 (a module-scoped fixture)

import distill_lib.experiment.runner as runner
from distill_lib.experiment import compare_strategies
from distill_lib.experiment.workers import resolve_workers


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("DISTILL_LIB_CACHE", str(tmp_path / "cache"))


def _runs(folder) -> dict[str, dict]:
    return {p.name: json.loads(p.read_text()) for p in (folder / "runs").glob("*-seed*.json")}


def test_two_processes_train_the_same_runs_as_one(tiny_setup, tmp_path, cache):  # noqa: F811
    """Every run exists once, with the same key, layers and (up to rounding) accuracy."""
    lines: list[str] = []
    one = compare_strategies(_config(tiny_setup, tmp_path / "one", workers=1), progress=False,
                             log=lines.append)
    lines.clear()
    two = compare_strategies(_config(tiny_setup, tmp_path / "two", workers=2), progress=False,
                             log=lines.append)
    assert any("in 2 processes side by side" in line for line in lines)
    helper = [line for line in lines if "(process 2)" in line or ", process 2)" in line]
    assert helper, lines  # the helper trained some of them
    assert sum(line.startswith("[") and "test accuracy" in line for line in lines) == 8  # once
    runs_one, runs_two = _runs(tmp_path / "one"), _runs(tmp_path / "two")
    assert runs_one.keys() == runs_two.keys() and len(runs_one) == 8
    for name, record in runs_one.items():
        other = runs_two[name]
        assert other["key"] == record["key"] and other["layers"] == record["layers"]
        assert abs(other["test"]["accuracy"] - record["test"]["accuracy"]) <= 0.05, name
    assert set(two.summary["name"]) == set(one.summary["name"])
    assert any("side by side" in line for line in lines if line.startswith("  ("))

    # Resuming: nothing is trained again, whichever process wrote the runs.
    lines.clear()
    compare_strategies(_config(tiny_setup, tmp_path / "two", workers=2), progress=False,
                       log=lines.append)
    assert sum("finished earlier" in line for line in lines) == 8


def test_a_failure_in_a_helper_is_raised_and_finished_runs_are_kept(
    tiny_setup, tmp_path, cache, monkeypatch  # noqa: F811
):
    """A helper that cannot train says why, in one exception; what finished stays on disk."""
    config = _config(tiny_setup, tmp_path / "out", workers=2, baselines=[])
    # The helper reads the teacher from the output folder: damage it after the teacher is
    # trained, so the helper fails while this process goes on.
    real_side_by_side = runner.Experiment._train_side_by_side

    def damage_then_run(self, helpers):
        folder = self.store.teacher_folder(self.config)
        (folder / "config.json").write_text("{ not json")
        return real_side_by_side(self, helpers)

    monkeypatch.setattr(runner.Experiment, "_train_side_by_side", damage_then_run)
    with pytest.raises(Exception) as info:
        compare_strategies(config, progress=False, log=None)
    assert "seed" in str(info.value) and "cannot be read" in str(info.value), info.value
    assert info.type is RuntimeError
    assert len(list((tmp_path / "out").glob("teacher-*"))) == 1  # not set aside by the helper
    finished = _runs(tmp_path / "out")
    assert finished, "this process's runs should be on disk"
    assert all("test" in record for record in finished.values())


def test_workers_are_checked_and_resolved(monkeypatch):
    with pytest.raises(ValueError, match="workers"):
        _config_free(workers=0)
    monkeypatch.delenv("DISTILL_LIB_WORKERS")
    assert resolve_workers(None, "cpu", 1) == 1  # one run: nothing to share
    assert resolve_workers(3, "cpu", 10) == 3
    assert resolve_workers(1, "cpu", 10) == 1
    monkeypatch.setenv("DISTILL_LIB_WORKERS", "two")
    with pytest.raises(ValueError, match="DISTILL_LIB_WORKERS"):
        resolve_workers(None, "cpu", 10)
    monkeypatch.setenv("DISTILL_LIB_WORKERS", "1")
    assert resolve_workers(None, "cpu", 10) == 1


def _config_free(**overrides):
    from distill_lib.experiment import ExperimentConfig

    return ExperimentConfig(**overrides)


def test_ctrl_c_here_stops_the_helpers_and_keeps_finished_runs(
    tiny_setup, tmp_path, cache, monkeypatch  # noqa: F811
):
    config = _config(tiny_setup, tmp_path / "out", workers=2, baselines=[])
    started = []
    real_start = runner.start_helpers

    def recording_start(*args, **kwargs):
        new = real_start(*args, **kwargs)
        started.extend(new)
        return new

    real_distill = runner.distill
    calls = {"n": 0}

    def interrupted_distill(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:  # this process's second run
            raise KeyboardInterrupt
        return real_distill(*args, **kwargs)

    monkeypatch.setattr(runner, "start_helpers", recording_start)
    monkeypatch.setattr(runner, "distill", interrupted_distill)
    with pytest.raises(KeyboardInterrupt):
        compare_strategies(config, progress=False, log=None)
    assert started and all(h.process.poll() is not None for h in started)  # none left running
    runs_dir = tmp_path / "out" / "runs"
    assert not list(runs_dir.glob(".*tmp"))
    for record in _runs(tmp_path / "out").values():
        assert "test" in record  # whatever finished is whole
    monkeypatch.setattr(runner, "distill", real_distill)
    compare_strategies(config, progress=False, log=None)
    assert len(_runs(tmp_path / "out")) == 4
