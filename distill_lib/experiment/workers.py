"""Student runs side by side: more work per second from a small CPU.

A comparison trains many small students. On the 2-core CPU used here one training step of the
quick preset's 3-layer student (batch 8) keeps two threads only about 75% busy: 71-98 ms per
step with 2 threads against 106-120 ms with 1 (a micro-benchmark of that step, run several
times). Two runs side by side, one thread each, therefore finish more runs per minute: the 21
student runs of the quick preset took 4.0 minutes side by side against 5.0 minutes one after
the other with two threads (same code otherwise, same results to four decimals; see
``benchmarks/README.md``).

So :meth:`Experiment.results` (the runner) can train the missing student runs in ``workers``
processes: this process takes one share, and ``workers - 1`` helper processes (started with
the same Python, reading the same output folder) take the others, each with
``cpu_count // workers`` threads. Nothing about a run changes but the thread count, which only
moves float rounding; a run's JSON is written by whichever process trained it, atomically, so
an interrupted comparison keeps every finished run, as before.

The protocol is one JSON object per line: the parent sends ``{"config": ..., "threads": n}``
and then one ``{"name": ..., "seed": ...}`` per run; the helper answers each run with
``{"key": ..., "timings": {...}}`` (its JSON is already on disk) or, once, ``{"error": ...,
"message": ...}``. A helper never receives Ctrl-C (its own session); the parent stops it.
"""

from __future__ import annotations

import builtins
import collections
import contextlib
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

#: Exception types a helper's failure is raised as in the parent (others: RuntimeError).
_PASSED_ON = ("ValueError", "RuntimeError", "FloatingPointError", "OSError", "FileNotFoundError",
              "ConnectionError", "MemoryError", "TypeError")


def resolve_workers(requested: int | None, device: str, pending: int) -> int:
    """How many processes train the ``pending`` runs: ``requested``, or automatically.

    Automatic (``None``): the environment variable ``DISTILL_LIB_WORKERS`` if set, else 2 on a
    CPU with at least 2 cores, 1 with a GPU (one GPU process already uses it fully) or a
    single core. Never more than the runs to do.
    """
    if requested is None and os.environ.get("DISTILL_LIB_WORKERS", "").strip():
        value = os.environ["DISTILL_LIB_WORKERS"].strip()
        if not value.isdigit() or int(value) < 1:
            raise ValueError(f"DISTILL_LIB_WORKERS must be a whole number >= 1, got {value!r}")
        requested = int(value)
    if requested is None:
        import torch

        gpu = (device in ("auto", "cuda") and torch.cuda.is_available()) or device == "mps" or (
            device == "auto" and torch.backends.mps.is_available()
        )
        requested = 1 if gpu else min(2, os.cpu_count() or 1)
    return max(1, min(requested, pending))


class _Helper:
    """One helper process and the threads that read its output."""

    def __init__(self, config: dict[str, Any], threads: int) -> None:
        self.threads = threads
        root = Path(__file__).resolve().parents[2]  # the folder holding this distill_lib
        code = (f"import sys; sys.path.insert(0, {str(root)!r}); "
                "from distill_lib.experiment.workers import helper_main; sys.exit(helper_main())")
        env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads),
                   TOKENIZERS_PARALLELISM="false")
        self.process = subprocess.Popen(
            [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True, env=env, start_new_session=True,
        )
        self.stderr_tail: collections.deque[str] = collections.deque(maxlen=30)
        self._stderr = threading.Thread(target=self._read_stderr, daemon=True)
        self._stderr.start()
        self.send({"config": config, "threads": threads})

    def _read_stderr(self) -> None:
        for line in self.process.stderr:
            self.stderr_tail.append(line.rstrip())

    def send(self, message: dict[str, Any]) -> None:
        self.process.stdin.write(json.dumps(message) + "\n")
        self.process.stdin.flush()

    def receive(self) -> dict[str, Any] | None:
        line = self.process.stdout.readline()
        return json.loads(line) if line.strip() else None

    def finish(self) -> None:
        with contextlib.suppress(OSError):
            self.process.stdin.close()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()

    def what_it_said(self) -> str:
        lines = [line for line in self.stderr_tail if line.strip()][-5:]
        return " | ".join(lines) if lines else "nothing"


def _as_exception(kind: str, message: str) -> BaseException:
    cls = getattr(builtins, kind, None) if kind in _PASSED_ON else None
    return (cls or RuntimeError)(message)


def start_helpers(config: Any, workers: int) -> list[_Helper]:
    """Start ``workers - 1`` helper processes for ``config`` (an ExperimentConfig).

    They import torch and the library and then wait for runs, so starting them before the
    teacher is fine-tuned hides their start-up (about 7 s here) behind it.
    """
    threads = max(1, (os.cpu_count() or 1) // workers)
    return [_Helper(config.to_dict(), threads) for _ in range(workers - 1)]


def stop_helpers(helpers: list[_Helper]) -> None:
    """End helpers that were started but will not be used (or after a failure)."""
    for helper in helpers:
        helper.kill()


def run_side_by_side(
    experiment: Any,
    jobs: list[Any],
    helpers: list[_Helper],
    log: Callable[[str], None],
    label: Callable[[Any], str],
) -> dict[str, float]:
    """Train ``jobs`` in this process and the ``helpers``; returns the helpers' timings.

    This process trains with the helpers' thread count while they run.

    Each finished run is logged with ``label(job)`` and its test accuracy as it completes.
    The first failure (here or in a helper) stops the hand-out of new runs and is raised once
    the runs under way have ended; Ctrl-C here stops the helpers at once. The helpers have
    ended when this returns.
    """
    import torch

    threads = helpers[0].threads if helpers else torch.get_num_threads()
    todo = collections.deque(jobs)
    lock = threading.Lock()
    failures: list[BaseException] = []
    helper_timings: dict[str, float] = {}

    def take() -> Any:
        with lock:
            return todo.popleft() if todo and not failures else None

    def finished(job: Any, who: str, seconds: float) -> None:
        record = experiment.store.read_run(job)
        accuracy = f"{record['test']['accuracy']:.4f}" if record else "?"
        log(f"{label(job)}: test accuracy {accuracy} ({seconds:.0f} s, {who})")

    def drive(helper: _Helper, number: int) -> None:
        while (job := take()) is not None:
            start = time.perf_counter()
            try:
                helper.send({"name": job.name, "seed": job.seed})
                answer = helper.receive()
            except (OSError, ValueError):
                answer = None
            if answer is None or "error" in answer:
                if answer is None:
                    helper.kill()
                    error = RuntimeError(
                        f"the helper process training {job.name} seed {job.seed} ended "
                        f"(exit code {helper.process.poll()}); its last words: "
                        f"{helper.what_it_said()}. Finished runs are kept: run the same command "
                        "again, with --workers 1 to train in this process only."
                    )
                else:
                    error = _as_exception(answer["error"],
                                          f"{job.name} seed {job.seed}: {answer['message']}")
                with lock:
                    failures.append(error)
                return
            with lock:
                for part, seconds in answer["timings"].items():
                    helper_timings[part] = helper_timings.get(part, 0.0) + seconds
            finished(job, f"process {number + 1}", time.perf_counter() - start)
        helper.finish()

    drivers: list[threading.Thread] = []
    saved_threads, saved_progress = torch.get_num_threads(), experiment.progress
    try:
        for number, helper in enumerate(helpers, start=1):
            driver = threading.Thread(target=drive, args=(helper, number), daemon=True)
            driver.start()
            drivers.append(driver)
        torch.set_num_threads(threads)
        experiment.progress = False
        while (job := take()) is not None:
            start = time.perf_counter()
            try:
                experiment.run(job.name, job.seed)
            except Exception as err:
                with lock:
                    failures.append(err)
                break
            finished(job, "process 1", time.perf_counter() - start)
        for driver in drivers:
            driver.join()
    except BaseException:  # Ctrl-C or a failure in this process: stop the helpers now
        for helper in helpers:
            helper.kill()
        raise
    finally:
        torch.set_num_threads(saved_threads)
        experiment.progress = saved_progress
        for helper in helpers:
            if helper.process.poll() is None:
                helper.kill()
    if failures:
        raise failures[0]
    return helper_timings


def helper_main() -> int:
    """A helper process: read the config, then train each run it is sent (see module doc)."""
    protocol = sys.stdout
    sys.stdout = sys.stderr  # anything a library prints must not break the protocol
    try:
        first = json.loads(sys.stdin.readline())
        import torch

        torch.set_num_threads(int(first["threads"]))
        from ..experiment import Experiment, ExperimentConfig

        experiment = Experiment(ExperimentConfig(**first["config"]), progress=False, log=None)
        experiment.may_train_teacher = False
        for line in sys.stdin:
            if not line.strip():
                continue
            job = json.loads(line)
            before = dict(experiment.timings)
            record = experiment.run(job["name"], job["seed"])
            timings: dict[str, float] = {}
            for part, seconds in experiment.timings.items():
                if not part.startswith("students:"):
                    part = "helper processes: load data and teacher"
                timings[part] = timings.get(part, 0.0) + seconds - before.get(part, 0.0)
            protocol.write(json.dumps({"key": record["key"], "timings": timings}) + "\n")
            protocol.flush()
    except BaseException as err:  # one line back to the parent, which raises it
        protocol.write(json.dumps({"error": type(err).__name__,
                                   "message": " ".join(str(err).split())}) + "\n")
        protocol.flush()
        return 1
    return 0
