"""One comparison per output folder: :meth:`RunStore.lock` with real processes.

The lock is the operating system's (``filelock``), so these tests use separate processes, a
killed holder and a real race rather than pids written into files.
"""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import filelock  # noqa: F401  (imported here so that a spawned contender has it before the race)
import pytest

from distill_lib.experiment import RunStore

HOLD = """
import sys, time
from distill_lib.experiment import RunStore
with RunStore(sys.argv[1]).lock():
    print("locked", flush=True)
    time.sleep(120)
"""
"""A child that takes the lock and holds it until it is killed."""

PROBE = """
import sys
from distill_lib.experiment import RunStore
try:
    with RunStore(sys.argv[1]).lock():
        print("free")
except RuntimeError as err:
    print("held:", err)
"""
"""A child that tries the lock once and says whether it got it."""


def _probe(root: Path) -> str:
    """``free`` or ``held: <message>``: the lock as another process finds it."""
    result = subprocess.run([sys.executable, "-c", PROBE, str(root)], capture_output=True,
                            text=True, timeout=120, check=True)
    return result.stdout.strip()


def _contend(root: str, barrier: Any, results: Any) -> None:
    """One contender of the race (runs in its own process): train unless already trained."""
    marker = Path(root) / "marker"
    barrier.wait(timeout=120)
    try:
        with RunStore(root).lock():
            if marker.exists():
                results.put(("skipped", os.getpid(), ""))
                return
            time.sleep(0.5)  # the stand-in for training
            marker.write_text(f"trained by {os.getpid()}\n")
            results.put(("trained", os.getpid(), ""))
    except RuntimeError as err:
        results.put(("refused", os.getpid(), str(err)))


def test_a_lock_left_by_a_killed_process_does_not_block(tmp_path: Path) -> None:
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
        with pytest.raises(RuntimeError) as refused, RunStore(tmp_path).lock():
            pytest.fail("the lock of a live process was taken")
        assert str(refused.value) == (
            f"another comparison (process {holder.pid}) is running in {tmp_path}; wait for it "
            "to finish, or use another --output-dir"
        )
    finally:
        holder.kill()  # SIGKILL: no clean-up runs in the holder
        holder.wait(timeout=60)
    # what the killed holder left on disk
    assert (tmp_path / ".lock").is_file()
    assert (tmp_path / ".lock.pid").read_text() == f"{holder.pid}\n"
    with RunStore(tmp_path).lock():
        assert (tmp_path / ".lock.pid").read_text() == f"{os.getpid()}\n"
        assert _probe(tmp_path).startswith("held: another comparison")


def test_a_lock_file_of_the_old_format_does_not_block(tmp_path: Path) -> None:
    """The lock file's content means nothing, even a pid of a live process (the old format)."""
    (tmp_path / ".lock").write_text(f"{os.getppid()}\n")
    assert _probe(tmp_path) == "free"


def test_two_processes_racing_for_the_lock_train_once(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(2), ctx.Queue()
    contenders = [ctx.Process(target=_contend, args=(str(tmp_path), barrier, results))
                  for _ in range(2)]
    for process in contenders:
        process.start()
    outcomes = sorted(results.get(timeout=180) for _ in contenders)
    for process in contenders:
        process.join(timeout=60)
    assert [process.exitcode for process in contenders] == [0, 0]
    assert [outcome for outcome, _, _ in outcomes] == ["refused", "trained"], outcomes
    (_, refused_pid, message), (_, trained_pid, _) = outcomes
    assert {refused_pid, trained_pid} == {process.pid for process in contenders}
    assert message.startswith("another comparison") and f"in {tmp_path};" in message
    assert "--output-dir" in message
    assert (tmp_path / "marker").read_text() == f"trained by {trained_pid}\n"


def test_the_lock_is_released_after_the_block_and_after_an_error(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    with store.lock():
        assert _probe(tmp_path).startswith("held: another comparison")
        with pytest.raises(RuntimeError, match="another comparison"), store.lock():
            pytest.fail("a second lock() in the same process was granted")
    assert _probe(tmp_path) == "free"
    assert not (tmp_path / ".lock.pid").exists()

    with pytest.raises(ValueError, match="training failed"), store.lock():
        raise ValueError("training failed")
    assert _probe(tmp_path) == "free"
    assert not (tmp_path / ".lock.pid").exists()
