"""Student runs side by side, on any ``concurrent.futures`` executor.

A comparison trains many small students. On the 2-core CPU used here one training step of the
quick preset's 3-layer student (batch 8) keeps two threads only about 75% busy, so two runs
side by side, one thread each, finish more runs per minute than one run with two threads (4.0
against 5.0 minutes for the quick preset's 21 runs; ``benchmarks/README.md``). Nothing about a
run changes but the thread count, which only moves float rounding.

The runner hands each missing run to an executor:

* on this machine, :func:`local_executor`: a :class:`~concurrent.futures.ProcessPoolExecutor`
  of ``workers`` processes (``spawn``), each set to ``cpu_count // workers`` threads by its
  initializer, which also ties the process to this one (it ends when this process ends, even
  after ``kill -9``: :func:`_end_with_parent`);
* on a cluster, any other :class:`~concurrent.futures.Executor`, e.g. the one of a Dask
  ``distributed`` client (``distill-lib compare --scheduler tcp://host:8786``;
  ``pip install -e ".[cluster]"``). Its workers need ``distill_lib`` installed and the output
  folder on a shared file system (they read the fine-tuned teacher from it).

A worker trains and returns the run's record; **this process is the one writer** of run JSONs
(atomically, as each result arrives), so an interrupted comparison keeps every finished run.
At most one run per worker is handed out at a time: the first failure stops the hand-out, the
runs under way finish (and are kept), then the failure is raised, naming the run. Ctrl-C
cancels what is queued and ends the local worker processes at once.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import ctypes
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from ..device import available_cores

_POLL_SECONDS = 0.5


def threads_per_worker(workers: int) -> int:
    """Threads each of ``workers`` local processes uses: the cores shared out, at least 1."""
    return max(1, available_cores() // workers)


def _end_with_parent(parent: int) -> None:
    """End this process when ``parent`` ends, however it ends (``kill -9`` included).

    On Linux the kernel does it (``prctl(PR_SET_PDEATHSIG, SIGKILL)``); everywhere, a daemon
    thread also checks every half second that the parent is still this process's parent.
    """
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:  # it ended before the line above took effect
        os._exit(1)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(_POLL_SECONDS)
        os._exit(1)

    threading.Thread(target=watch, daemon=True, name="end-with-parent").start()


def _init_local_worker(threads: int, parent: int) -> None:
    """Initializer of a local worker process: its thread count, and its life tied to ours."""
    os.environ.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads),
                      TOKENIZERS_PARALLELISM="false")
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    _end_with_parent(parent)
    import torch

    torch.set_num_threads(threads)


def local_executor(workers: int) -> cf.ProcessPoolExecutor:
    """``workers`` local processes for student runs (see the module docs)."""
    return cf.ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_init_local_worker,
        initargs=(threads_per_worker(workers), os.getpid()),
    )


def kill_local_workers(executor: cf.Executor) -> None:
    """End a :func:`local_executor`'s processes now (Ctrl-C, or a failure in this process).

    Uses ``kill_workers()`` where the executor has it (Python 3.14+); else the executor's
    process table, checked before use. Other executors are only shut down.
    """
    kill = getattr(executor, "kill_workers", None)
    if callable(kill):
        kill()
    elif isinstance(executor, cf.ProcessPoolExecutor):
        processes = getattr(executor, "_processes", None)
        if isinstance(processes, dict):
            for process in list(processes.values()):
                with contextlib.suppress(Exception):
                    process.kill()
        else:  # the private table changed: say so, and rely on _end_with_parent at exit
            print("distill_lib: cannot end the worker processes of this Python's "
                  "ProcessPoolExecutor directly; they end with this process", file=sys.stderr)
    executor.shutdown(wait=False, cancel_futures=True)


# -- in this process -----------------------------------------------------------------------------


def _as_failure(job: Any, err: BaseException) -> BaseException:
    """The worker's exception, its message prefixed with the run it was training."""
    if isinstance(err, BrokenProcessPool):
        return RuntimeError(
            f"a worker process ended while training {job.name} seed {job.seed} ({err}). "
            "Finished runs are kept: run the same command again, with --workers 1 to train "
            "in this process only."
        )
    message = f"{getattr(job, 'label', job.name)} seed {job.seed}: {' '.join(str(err).split())}"
    try:
        failure = type(err)(message)
    except Exception:  # an exception type that does not take one message
        failure = RuntimeError(message)
    failure.__cause__ = err
    return failure


def run_on_executor(
    executor: cf.Executor,
    task: Callable[..., dict],
    jobs: list[Any],
    config: dict[str, Any],
    write: Callable[[dict], None],
    finished: Callable[[Any, dict, float], None],
    threads: int | None,
    window: int,
) -> dict[str, float]:
    """Train ``jobs`` on ``executor``, ``window`` at a time (its workers); returns timings.

    ``task(config, job.key, threads)`` runs in a worker and returns ``{"records": [...],
    "timings": ...}`` (:func:`distill_lib.experiment.runner.train_run`): the job's record
    first, then any others its training gave (shorter budget runs).

    ``write(record)`` stores each record as it arrives (this process is the only writer);
    ``finished(job, record, seconds)`` reports the job's. See the module docs for failures.
    """
    todo = list(reversed(jobs))
    running: dict[cf.Future, tuple[Any, float]] = {}
    failures: list[BaseException] = []
    timings: dict[str, float] = {}
    with _stop_on_interrupt(executor):
        while todo or running:
            while todo and not failures and len(running) < window:
                job = todo.pop()
                try:
                    future = executor.submit(task, config, job.key, threads)
                except BrokenProcessPool as err:  # a worker died before this run was handed out
                    failures.append(_as_failure(job, err))
                    break
                running[future] = (job, time.perf_counter())
            if not running:
                break
            done, _ = cf.wait(running, return_when=cf.FIRST_COMPLETED)
            for future in done:
                job, start = running.pop(future)
                try:
                    answer = future.result()
                except BaseException as err:  # SystemExit in a worker too (our Ctrl-C: in wait)
                    failures.append(_as_failure(job, err))
                    continue
                for record in answer["records"]:
                    write(record)
                for part, seconds in answer["timings"].items():
                    timings[part] = timings.get(part, 0.0) + seconds
                finished(job, answer["records"][0], time.perf_counter() - start)
    if failures:
        raise failures[0]
    return timings


@contextlib.contextmanager
def _stop_on_interrupt(executor: cf.Executor) -> Iterator[None]:
    try:
        yield
    except BaseException:  # Ctrl-C here: nothing more is handed out, local workers end now
        kill_local_workers(executor)
        raise
