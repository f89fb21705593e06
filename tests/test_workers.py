"""Student runs on an executor (distill_lib.experiment.workers): same runs, same files.

Local worker processes, a Dask ``distributed`` cluster, a failure in a worker, Ctrl-C here,
and ``kill -9`` of the parent (its workers must end with it).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from test_experiment import _config, tiny_setup  # noqa: F401 (a module-scoped fixture)

import distill_lib.experiment.runner as runner
from distill_lib.experiment import compare_strategies


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("DISTILL_LIB_CACHE", str(tmp_path / "cache"))


def _runs(folder) -> dict[str, dict]:
    return {p.name: json.loads(p.read_text()) for p in (folder / "runs").glob("*-seed*.json")}


def _same_runs(one: dict[str, dict], two: dict[str, dict]) -> None:
    assert one.keys() == two.keys() and one
    for name, record in one.items():
        other = two[name]
        assert other["key"] == record["key"] and other["layers"] == record["layers"]
        assert abs(other["test"]["accuracy"] - record["test"]["accuracy"]) <= 0.05, name


def test_two_processes_train_the_same_runs_as_one(tiny_setup, tmp_path, cache):  # noqa: F811
    """Every run exists once, with the same key, layers and (up to rounding) accuracy."""
    lines: list[str] = []
    one = compare_strategies(_config(tiny_setup, tmp_path / "one", workers=1), progress=False,
                             log=lines.append)
    lines.clear()
    two = compare_strategies(_config(tiny_setup, tmp_path / "two", workers=2), progress=False,
                             log=lines.append)
    assert any("in 2 worker processes side by side" in line for line in lines), lines
    assert sum(line.startswith("[") and "test accuracy" in line for line in lines) == 8  # once
    _same_runs(_runs(tmp_path / "one"), _runs(tmp_path / "two"))
    assert len(_runs(tmp_path / "two")) == 8
    assert set(two.summary["name"]) == set(one.summary["name"])
    assert not list((tmp_path / "two" / "runs").glob(".*tmp"))

    # Resuming: nothing is trained again, and no worker process is started for nothing.
    lines.clear()
    started = []
    real_local = runner.local_executor
    runner.local_executor = lambda n: started.append(n) or real_local(n)
    try:
        compare_strategies(_config(tiny_setup, tmp_path / "two", workers=2), progress=False,
                           log=lines.append)
    finally:
        runner.local_executor = real_local
    assert sum("finished earlier" in line for line in lines) == 8
    assert not started


def test_a_callers_executor_is_used_and_left_open(tiny_setup, tmp_path, cache):  # noqa: F811
    from distill_lib.experiment.workers import local_executor

    with local_executor(2) as executor:
        compare_strategies(_config(tiny_setup, tmp_path / "out", workers=2, baselines=[]),
                           progress=False, log=None, executor=executor)
        assert executor.submit(sum, [1, 2]).result() == 3  # not shut down: it is the caller's
    assert len(_runs(tmp_path / "out")) == 4


def test_runs_on_a_dask_cluster(tiny_setup, tmp_path, cache):  # noqa: F811
    """Any concurrent.futures executor works: here a local Dask cluster of processes."""
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        lines: list[str] = []
        compare_strategies(_config(tiny_setup, tmp_path / "dask", workers=2, baselines=[]),
                           progress=False, log=lines.append, executor=client.get_executor())
    assert any("side by side" in line for line in lines), lines
    runs = _runs(tmp_path / "dask")
    assert len(runs) == 4 and all("test" in r for r in runs.values())
    compare_strategies(_config(tiny_setup, tmp_path / "one", workers=1, baselines=[]),
                       progress=False, log=None)
    _same_runs(_runs(tmp_path / "one"), runs)


def test_a_failure_in_a_worker_is_raised_and_finished_runs_are_kept(
    tiny_setup, tmp_path, cache, monkeypatch  # noqa: F811
):
    """A worker that cannot train says why, naming the run; what finished stays on disk."""
    config = _config(tiny_setup, tmp_path / "out", workers=2, baselines=[],
                     seeds=[0, 1, 2])
    real = runner.Experiment._train_side_by_side

    def damage_then_run(self, executor, window):
        # The workers read the teacher from the output folder: damage one weight file
        # after the first run was handed out, so the others fail while it finishes.
        folder = self.store.teacher_folder(self.config)
        (folder / "config.json").write_text("{ not json")
        return real(self, executor, window)

    monkeypatch.setattr(runner.Experiment, "_train_side_by_side", damage_then_run)
    with pytest.raises(RuntimeError) as info:
        compare_strategies(config, progress=False, log=None)
    assert "seed" in str(info.value) and "cannot be read" in str(info.value), info.value
    assert len(list((tmp_path / "out").glob("teacher-*"))) == 1  # not set aside by a worker
    assert not list((tmp_path / "out" / "runs").glob(".*tmp"))


def test_a_bad_run_stops_the_hand_out_and_keeps_the_rest(
    tiny_setup, tmp_path, cache  # noqa: F811
):
    """The first failure is raised once the runs under way have finished (and are kept)."""
    from distill_lib.experiment.workers import local_executor

    config = _config(tiny_setup, tmp_path / "out", workers=2, baselines=[], seeds=[0, 1, 2])
    experiment = runner.Experiment(config, progress=False, log=None)
    _ = experiment.teacher
    jobs = list(experiment.jobs)
    bad = jobs[1]
    object.__setattr__(bad, "name", "no-such-strategy")  # named so in the error
    object.__setattr__(bad, "key", "0" * 12)  # a key the worker cannot plan
    with local_executor(2) as executor, pytest.raises(ValueError, match="no-such-strategy"):
        runner.run_on_executor(
            executor, runner.train_run, jobs[:3], config.to_dict(),
            write=lambda record: experiment.store.write(
                experiment.store.run_path(experiment.job_by_key(record["key"])), record),
            finished=lambda *a: None, threads=1, window=2,
        )
    written = _runs(tmp_path / "out")
    assert 1 <= len(written) <= 2  # the run under way finished; nothing after the failure
    assert all("test" in r for r in written.values())


def test_ctrl_c_here_ends_the_workers_and_keeps_finished_runs(
    tiny_setup, tmp_path, cache, monkeypatch  # noqa: F811
):
    config = _config(tiny_setup, tmp_path / "out", workers=2, baselines=[])
    pids: list[int] = []
    real_run = runner.run_on_executor

    def interrupted(executor, task, jobs, cfg, write, finished, threads, window):
        def finished_then_interrupt(job, record, seconds):
            finished(job, record, seconds)
            pids.extend(p.pid for p in getattr(executor, "_processes", {}).values())
            raise KeyboardInterrupt  # Ctrl-C right after the first run was written

        return real_run(executor, task, jobs, cfg, write, finished_then_interrupt, threads, window)

    monkeypatch.setattr(runner, "run_on_executor", interrupted)
    with pytest.raises(KeyboardInterrupt):
        compare_strategies(config, progress=False, log=None)
    assert pids
    deadline = time.time() + 10
    while time.time() < deadline and any(_alive(pid) for pid in pids):
        time.sleep(0.2)
    assert not any(_alive(pid) for pid in pids)  # no worker left running
    assert not list((tmp_path / "out" / "runs").glob(".*tmp"))
    finished = _runs(tmp_path / "out")
    assert finished and all("test" in r for r in finished.values())
    monkeypatch.setattr(runner, "run_on_executor", real_run)
    compare_strategies(config, progress=False, log=None)
    assert len(_runs(tmp_path / "out")) == 4


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie (ended, not yet reaped by a parent that is gone) is not running
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
        return state != "Z"
    except OSError:
        return True


PARENT = textwrap.dedent("""
    import sys, time
    from distill_lib.experiment.workers import local_executor

    def sleeper(path):
        import os, time
        open(path, "w").write(str(os.getpid()))
        time.sleep(120)

    if __name__ == "__main__":
        executor = local_executor(1)
        executor.submit(sleeper, sys.argv[1])
        time.sleep(120)
""")


@pytest.mark.skipif(sys.platform == "win32", reason="kill -9 is POSIX")
def test_kill_9_of_the_parent_ends_its_workers(tmp_path):
    script = tmp_path / "parent.py"
    script.write_text(PARENT)
    pid_file = tmp_path / "worker.pid"
    parent = subprocess.Popen([sys.executable, str(script), str(pid_file)], cwd=tmp_path,
                              env={**os.environ, "PYTHONPATH": str(Path.cwd())})
    deadline = time.time() + 60
    while not (pid_file.is_file() and pid_file.read_text()) and time.time() < deadline:
        time.sleep(0.2)
    worker = int(pid_file.read_text())
    assert _alive(worker)
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait()
    deadline = time.time() + 10
    while _alive(worker) and time.time() < deadline:
        time.sleep(0.2)
    assert not _alive(worker)


def _crash(config, key, threads):  # a worker dies mid-run (out of memory, a segfault)
    os._exit(3)


def test_a_worker_that_dies_is_one_clear_error():
    from types import SimpleNamespace

    from distill_lib.experiment.workers import local_executor, run_on_executor

    jobs = [SimpleNamespace(name="first", seed=s, key=f"k{s}") for s in (0, 1, 2)]
    written: list = []
    with local_executor(2) as executor, pytest.raises(RuntimeError) as info:
        run_on_executor(executor, _crash, jobs, {}, write=lambda *a: written.append(a),
                        finished=lambda *a: None, threads=1, window=2)
    assert "a worker process ended while training first seed" in str(info.value)
    assert "--workers 1" in str(info.value) and not written
