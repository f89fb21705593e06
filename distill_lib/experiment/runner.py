"""Running a comparison: data, the teacher, one student per strategy x seed, then statistics.

What :func:`compare_strategies` does, in order:

1. checks everything knowable before any work (:func:`.prepare.validate`);
2. fine-tunes the teacher once (or loads it from ``<output_dir>/teacher-<key>/``);
3. for every strategy x seed: builds the student with :func:`~distill_lib.make_student`,
   distils it (:func:`~distill_lib.train.distill`) and evaluates it on the test split (and
   the cross-domain sets, if asked); baselines on the same seeds: the majority class, the
   teacher, a student with random weights (``random-init``) and a copied student trained on
   hard labels only (``no-kd``);
4. summarises (:mod:`~distill_lib.experiment.results`): mean, std and 95% CI over seeds,
   paired bootstrap tests between students (Holm-corrected), a collapse check, and
   teacher/student size and latency.

Finished runs are files of the :class:`~distill_lib.experiment.store.RunStore` (an interrupted
comparison resumes); student runs may train side by side on an executor (:mod:`.workers`).
"""

from __future__ import annotations

import concurrent.futures as cf
import json
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from datasets import DatasetDict

from .._io import quiet_libraries
from ..device import placement, resolve_workers
from ..layers import SCORES_OF, canonical_strategy, describe_strategy
from ..student import make_student
from ..teacher import load_teacher, resolve_teacher
from ..train import fine_tune, save_checkpoint, teacher_logits
from . import save_all_tables
from .config import BASELINES, ExperimentConfig
from .evaluation import evaluate_all, measure_efficiency, measure_teacher
from .footprint import measure_footprint
from .prepare import _subset, check_writable, prepare_data, validate  # noqa: F401 (re-exported)
from .results import Results, summarise
from .store import Job, RunStore, budget_group, check_teacher_record, plan, run_key, teacher_key
from .student_runs import snapshot_targets, train_records
from .workers import (
    kill_local_workers,
    local_executor,
    run_on_executor,
    threads_per_worker,
)


class Experiment:
    """One comparison's data, teacher and student runs, each computed once and kept on disk.

    :func:`compare_strategies` is ``Experiment(config).results()``. The notebooks use the
    pieces one at a time::

        exp = Experiment(ExperimentConfig.preset("quick"))
        exp.teacher_record["test"]["accuracy"]     # fine-tunes the teacher (or loads it)
        record = exp.run("uniform", seed=0)        # distils one student (or loads its JSON)
        results = exp.results()                    # everything in the config, then statistics

    A run's JSON is named by a key hashed from everything that determines it, so the same
    strategy and seed are never trained twice, whichever of these calls asked for them.
    Creating an Experiment checks the config (:func:`validate`) and writes nothing.
    """

    def __init__(
        self, config: ExperimentConfig | None = None, *, progress: bool = True, log: Any = print
    ) -> None:
        self.config = config or ExperimentConfig.preset("quick")
        self.progress = progress
        self.log = log or (lambda *_: None)
        self.n_teacher = validate(self.config)
        self.jobs = plan(self.config, self.n_teacher)
        self.store = RunStore(self.config.output_dir, log=self.log)
        self._data: tuple[DatasetDict, dict[str, Any]] | None = None
        self._teacher: Any = None
        self._tokenizer: Any = None
        self._teacher_record: dict[str, Any] | None = None
        self._majority: dict[str, Any] | None = None
        self._measured: dict[str, Any] | None = None
        self.timings: dict[str, float] = {}
        """Seconds spent in each part of the work done by this object (see
        :meth:`timing_lines`)."""
        self.may_train_teacher = True
        """False in a helper process (:mod:`.workers`): it reads the parent's teacher only."""
        self.side_by_side: dict[str, Any] | None = None
        """How the student runs were split over processes, if they were (see
        :meth:`timing_lines`)."""
        self._trained = False  # whether this object trained a teacher or a student

    def _spent(self, part: str, seconds: float) -> None:
        self.timings[part] = self.timings.get(part, 0.0) + seconds

    def timing_lines(self) -> list[str]:
        """Where the wall time of this process's work went, largest part first."""
        total = sum(self.timings.values())
        if not total:
            return ["time: nothing was computed (every result was on disk)"]
        parts = sorted(self.timings.items(), key=lambda kv: -kv[1])
        lines = [f"time: {total / 60:.1f} min of work, of which"] + [
            f"  {part:<40s} {seconds:7.1f} s  {100 * seconds / total:5.1f}%"
            for part, seconds in parts
        ]
        if self.side_by_side:
            s = self.side_by_side
            lines.append(
                f"  ({s['runs']} student runs in {s['workers']} processes side by side, "
                f"{s['threads']} thread{'s' if s['threads'] > 1 else ''} each: "
                f"{s['wall_seconds'] / 60:.1f} min of wall time; their parts above add up "
                "the processes' times)"
            )
        return lines

    # -- data and teacher ----------------------------------------------------------------------

    @property
    def tokenizer(self) -> Any:
        if self._tokenizer is None:
            from transformers import AutoTokenizer

            self._tokenizer = AutoTokenizer.from_pretrained(resolve_teacher(self.config.teacher))
        return self._tokenizer

    def _prepared(self) -> tuple[DatasetDict, dict[str, Any]]:
        if self._data is None:
            if self.may_train_teacher:  # not in a worker: the parent writes every file
                self.store.runs_dir.mkdir(parents=True, exist_ok=True)
                self.store.write(self.store.config_path, self.config.to_dict())
            start = time.perf_counter()
            with quiet_libraries():
                tokens, extra = prepare_data(self.config, self.tokenizer, self.log)
            self._data = tokens, extra
            self._spent("data: load, subsample, tokenise", time.perf_counter() - start)
            self.log(
                f"data: {self.config.task}  train {len(tokens['train'])}  validation "
                f"{len(tokens['validation'])}  test {len(tokens['test'])}"
                + (f"  cross-domain: {', '.join(extra)}" if extra else "")
            )
        return self._data

    @property
    def tokens(self) -> DatasetDict:
        """The tokenised task (train/validation/test, subsampled as configured)."""
        return self._prepared()[0]

    @property
    def cross_domain(self) -> dict[str, Any]:
        """Tokenised cross-domain test sets, by name."""
        return self._prepared()[1]

    @property
    def teacher(self) -> Any:
        """The fine-tuned teacher: trained on first use, later loaded from its folder."""
        if self._teacher is None:
            self._load_teacher()
        return self._teacher

    @property
    def teacher_record(self) -> dict[str, Any]:
        """The teacher's evaluation (test metrics, cross-domain accuracies, history)."""
        if self._teacher_record is None:
            self._load_teacher()
        return self._teacher_record

    def _saved_teacher(self, folder: Path) -> tuple[Any, Any, list] | None:
        """The fine-tuned teacher from its folder; None (folder set aside) if it is damaged."""
        if not folder.is_dir():
            return None
        try:
            with quiet_libraries():
                teacher, tokenizer = load_teacher(folder, num_labels=self._num_labels())
            history = json.loads((folder / "history.json").read_text())
            return teacher, tokenizer, history
        except Exception as err:  # truncated safetensors, missing files, foreign folder
            if not self.may_train_teacher:  # a helper process: the parent owns the folder
                raise RuntimeError(
                    f"the fine-tuned teacher in {folder} cannot be read ({type(err).__name__}: "
                    f"{' '.join(str(err).split())[:200]})"
                ) from err
            target = folder.with_name(f"{folder.name}.damaged-{time.strftime('%Y%m%d-%H%M%S')}")
            os.replace(folder, target)
            self.log(
                f"damaged teacher checkpoint {folder}: {type(err).__name__}: "
                f"{' '.join(str(err).split())[:200]}; set aside as {target.name}, fine-tuning again"
            )
            return None

    def _num_labels(self) -> int:
        return int(self.tokens["train"].features["label"].num_classes)

    def _load_teacher(self) -> None:
        config, tokens, extra = self.config, self.tokens, self.cross_domain
        start = time.perf_counter()
        folder = self.store.teacher_folder(config)
        saved = self._saved_teacher(folder)
        if saved is None and not self.may_train_teacher:
            raise RuntimeError(f"no fine-tuned teacher in {folder} (a helper only reads it)")
        if saved is not None:
            teacher, self._tokenizer, history = saved
            how = f"loaded from {folder}"
        else:
            with quiet_libraries():
                teacher, self._tokenizer = load_teacher(
                    config.teacher, num_labels=self._num_labels(), seed=config.teacher_train.seed
                )
            result = fine_tune(teacher, tokens, config.teacher_train.replace(
                progress=self.progress), tokenizer=self._tokenizer)
            teacher, history = result.model, result.history
            self._trained = True
            save_checkpoint(teacher, self._tokenizer, folder, history=history)
            how = f"fine-tuned in {time.perf_counter() - start:.0f} s"
        where = placement(config.teacher_train.device, config.teacher_train.mixed_precision)
        teacher.to(where.device)
        path = self.store.teacher_record_path(config)
        record = self.store.read_json(path, check_teacher_record)
        if record is None:
            test, cross = evaluate_all(
                teacher, tokens, extra, self._tokenizer, config.teacher_train.eval_batch_size,
                precision=where.precision,
            )
            record = {
                "name": "teacher",
                "kind": "reference",
                "layers": list(range(self.n_teacher)),
                "test": test,
                "cross_domain": cross,
                "history": history,
                "checkpoint": folder.as_posix(),
            }
            self.store.write(path, record)
        self._teacher, self._teacher_record = teacher, record
        self._spent("teacher: fine-tune or load, evaluate", time.perf_counter() - start)
        self.log(f"teacher: test accuracy {record['test']['accuracy']:.4f} ({how})")

    @property
    def majority(self) -> dict[str, Any]:
        """The majority class of the training split and its accuracy on every test set."""
        if self._majority is None:
            tokens, extra = self._prepared()
            cls = int(np.bincount(np.asarray(tokens["train"]["label"])).argmax())
            self._majority = {
                "class": cls,
                "accuracy": float((np.asarray(tokens["test"]["label"]) == cls).mean()),
                "cross_domain": {
                    name: float((np.asarray(d["label"]) == cls).mean()) for name, d in extra.items()
                },
                "test_labels": [int(v) for v in tokens["test"]["label"]],
            }
            self.store.write(self.store.majority_path, self._majority)
        return self._majority

    @property
    def measured(self) -> dict[str, Any]:
        """The fine-tuned teacher's layer measurements behind the data-driven strategies.

        Block influence and CKA on ``calibration_size`` training sentences (a fixed subset),
        drop sensitivity on the validation split (:func:`distill_lib.selection.measure_layers`).
        Measured once per teacher and kept in ``layer-scores-<teacher key>-<size>.json``.
        """
        if self._measured is None:
            start = time.perf_counter()
            used = sum(self.store.is_finished(j) for j in self.jobs if j.data_driven)
            self._measured, fresh = measure_teacher(
                self.store, self.config, self.teacher, self.tokens, self.tokenizer, self.log,
                used)
            if fresh:
                self._spent("teacher: layer measurements", time.perf_counter() - start)
        return self._measured

    def _resolve_jobs(self) -> None:
        """Give the data-driven strategies their layers (measuring the teacher if needed)."""
        if any(job.layers is None for job in self.jobs):
            self.jobs = plan(self.config, self.n_teacher, self.measured)

    # -- students ------------------------------------------------------------------------------

    def job(self, name: str | Sequence[int], seed: int, *, recipe: str = "logits",
            budget: int | None = None, architecture: str = "same") -> Job:
        """The planned run for a strategy/baseline name (or alias) and seed; ``recipe`` and
        ``budget`` (epochs) pick a run of the recipe or budget axis, ``architecture`` a
        DistilBERT run."""
        if isinstance(name, str) and name in BASELINES:
            label = name
        else:
            label = describe_strategy(canonical_strategy(name) if isinstance(name, str) else name)
        for job in self.jobs:
            if (job.name, job.seed, job.recipe, job.budget, job.architecture) == (
                    label, seed, recipe, budget, architecture):
                if job.layers is None:
                    self._resolve_jobs()
                    return self.job(name, seed, recipe=recipe, budget=budget,
                                    architecture=architecture)
                return job
        names = sorted({j.name for j in self.jobs})
        seeds = sorted({j.seed for j in self.jobs})
        variants = sorted({j.variant for j in self.jobs if j.variant})
        wanted = f" ({recipe}, budget {budget})" if recipe != "logits" or budget else ""
        raise ValueError(
            f"no run {label!r} with seed {seed}{wanted} in this config; names: {names}, "
            f"seeds: {seeds}" + (f", variants: {variants}" if variants else "")
        )

    def job_by_key(self, key: str) -> Job:
        """The planned run whose JSON is named by ``key`` (layers measured if needed)."""
        if any(job.layers is None and job.key == key for job in self.jobs):
            self._resolve_jobs()
        for job in self.jobs:
            if job.key == key:
                return job
        raise ValueError(f"no run with key {key} in this config")

    def run(self, name: str | Sequence[int], seed: int, *, recipe: str = "logits",
            budget: int | None = None, architecture: str = "same") -> dict[str, Any]:
        """Distil (or load) one student and return its record (what its JSON holds)."""
        return self._run(self.job(name, seed, recipe=recipe, budget=budget,
                                  architecture=architecture))

    def _run(self, job: Job) -> dict[str, Any]:
        record = self.store.read_run(job)
        if record is not None:
            return record
        if job.data_driven:
            same = self._fixed_job_like(job)
            if same is not None:  # the same student as a fixed strategy: reuse its run
                record = dict(self._run(same))
                record.update({"key": job.key, "name": job.name, "same_as": same.name,
                               "selection": self._selection(job), "seconds": 0.0})
                self.store.write(self.store.run_path(job), record)
                return record
        records = self.train_records(job)
        for done, rec in records:
            self.store.write(self.store.run_path(done), rec)
        return records[0][1]

    def train_records(self, job: Job) -> list[tuple[Job, dict[str, Any]]]:
        """Distil and evaluate the student of ``job`` and return its record, with those of
        the shorter budget runs its training gives (:mod:`.student_runs`); writes nothing.

        :meth:`run` writes the records; so does the parent process when a worker
        (:mod:`.workers`) trained them, so that one process writes every run JSON.
        """
        shorter = snapshot_targets(self.jobs, job, self.store.is_finished)
        return train_records(self, job, shorter)

    def _pending(self) -> list[Job]:
        """The runs still to train (a data-driven run counts until its layers are measured;
        one that reuses a fixed strategy's student does not; nor does a shorter budget run
        while a longer one of its group, which passes through it, is pending)."""
        pending = [job for job in self.jobs
                   if (job.layers is None and not self.store.is_finished(job))
                   or (job.layers is not None and self.store.read_run(job) is None
                       and not (job.data_driven and self._fixed_job_like(job)))]
        keys = {job.key for job in pending}
        return [job for job in pending if not any(
            other.key in keys and (other.budget or 0) > (job.budget or 0)
            for other in budget_group(self.jobs, job))]

    def _start_executor(
        self, executor: cf.Executor | None
    ) -> tuple[cf.Executor | None, int, bool]:
        """The executor for the student runs and how many it trains at once: a given one
        (e.g. a Dask client's) with ``config.workers`` (default 2) runs at a time; else local
        processes where :func:`distill_lib.device.resolve_workers` says more than one, started
        now to hide their start-up behind the teacher's; else None (this process alone). The
        flag says whether the executor is this object's own (to end), not the caller's."""
        if executor is not None:
            return executor, self.config.workers or 2, False
        device = self.config.student_train.device
        workers = resolve_workers(self.config.workers, device, len(self._pending()))
        if workers < 2:
            return None, 1, False
        local = local_executor(workers)
        for _ in range(workers):
            local.submit(warm_up)
        return local, workers, True

    def _train_side_by_side(self, executor: cf.Executor | None, window: int) -> set[str]:
        """Train the missing runs on ``executor``; this process writes each record.

        Returns the keys of the runs trained (and logged); what is left (nothing, or the
        data-driven runs that reuse a fixed strategy's student) is done one by one after.
        """
        pending = self._pending()
        if executor is None or len(pending) < 2:
            return set()
        if any(job.train_config.alpha > 0 for job in pending):  # once, not in every worker
            t = time.perf_counter()
            st = self.config.student_train
            teacher_logits(self.teacher, self.tokens["train"], tokenizer=self.tokenizer,
                           batch_size=st.eval_batch_size,
                           precision=placement(st.device, st.mixed_precision).precision)
            self._spent("teacher: logits of the training sentences", time.perf_counter() - t)
        local = isinstance(executor, cf.ProcessPoolExecutor)
        threads = threads_per_worker(window) if local else None
        self.log(f"training {len(pending)} student runs in {window} worker processes side by "
                 "side" + (f" ({threads} thread{'s' if threads > 1 else ''} each)"
                           if threads else ""))
        position = {job.key: i for i, job in enumerate(self.jobs, start=1)}

        def finished(job: Job, record: dict, seconds: float) -> None:
            self.log(f"[{position[job.key]}/{len(self.jobs)}] {job.label} seed {job.seed}: "
                     f"test accuracy {record['test']['accuracy']:.4f} ({seconds:.0f} s)")

        def write(record: dict) -> None:
            self.store.write(self.store.run_path(self.job_by_key(record["key"])), record)

        start = time.perf_counter()
        timings = run_on_executor(
            executor, train_run, pending, self.config.to_dict(), write=write,
            finished=finished, threads=threads, window=window,
        )
        for part, seconds in timings.items():
            self._spent(part, seconds)
        self._trained = True
        self.side_by_side = {"workers": window, "threads": threads or 0, "runs": len(pending),
                             "wall_seconds": time.perf_counter() - start}
        return {job.key for job in pending}

    def _fixed_job_like(self, job: Job) -> Job | None:
        """The fixed-strategy job that trains the same student as ``job``, if any."""
        for other in self.jobs:
            if (not other.data_driven and other.kind == "strategy" and other.seed == job.seed
                    and other.layers == job.layers and other.init == job.init
                    and other.train_config == job.train_config
                    and other.architecture == job.architecture):
                return other
        return None

    def _selection(self, job: Job) -> dict[str, Any]:
        """What a data-driven run's JSON keeps of the measurements behind its layers."""
        m = self.measured
        return {
            "strategy": job.name,
            "layers": job.layers,
            "scores": m[SCORES_OF[job.name]],
            "calibration_size": m["calibration_size"],
            "validation_size": m["validation_size"],
            "teacher_fingerprint": m["teacher_fingerprint"],
        }

    def efficiency(self) -> dict[str, Any]:
        """Parameters and measured latency (median of 5 batches of 32) of teacher vs student.

        Measured once per teacher and student shape; a resumed comparison reuses the numbers.
        """
        shape = list(range(self.config.student_layers))  # latency does not depend on which
        key = run_key(teacher_key(self.config), shape)
        saved = self.store.read_json(self.store.efficiency_path)
        if isinstance(saved, dict) and saved.get("key") == key:
            return saved
        efficiency = {"key": key, **measure_efficiency(
            self.teacher, make_student(self.teacher, shape), self.tokens, self.tokenizer)}
        self.store.write(self.store.efficiency_path, efficiency)
        return efficiency

    def results(self, executor: cf.Executor | None = None) -> Results:
        """Run every missing job of the config, then summarise (tables written to disk).

        Args:
            executor: where the student runs train, e.g. a Dask ``distributed`` client's
                ``get_executor()`` (see :mod:`.workers`); default: local worker processes
                (``config.workers``), or this process alone.

        Raises:
            RuntimeError: another comparison is running in the same output folder.
        """
        start = time.perf_counter()
        with self.store.lock():
            records, side_by_side = self._train_all(executor)
            for job, (record, how) in zip(self.jobs, records, strict=True):
                if job.key not in side_by_side:
                    self.log(f"{self._tag(job)}: test accuracy "
                             f"{record['test']['accuracy']:.4f} ({how})")
            results = self._summarise([record for record, _ in records])
        if self._trained:
            self.log(f"comparison finished in {(time.perf_counter() - start) / 60:.1f} minutes")
            for line in self.timing_lines():
                self.log(line)
        else:
            self.log("comparison: every run was already on disk, nothing was trained")
        return results

    def _tag(self, job: Job) -> str:
        return f"[{self.jobs.index(job) + 1}/{len(self.jobs)}] {job.label} seed {job.seed}"

    def _train_all(self, executor: cf.Executor | None) -> tuple[list[tuple[dict, str]], set[str]]:
        """Teacher, layer measurements, then every missing run (side by side where asked);
        returns each job's record with how it was obtained, and the keys trained side by side."""
        before = {job.key for job in self.jobs if self.store.is_finished(job)}
        executor, window, owned = self._start_executor(executor)
        try:
            _ = self.teacher
            self._resolve_jobs()
            side_by_side = self._train_side_by_side(executor, window)
        except BaseException:
            if owned:
                kill_local_workers(executor)
            raise
        if owned:
            executor.shutdown(wait=True)
        for job in self._pending():  # (a shorter budget run waits for the longer one)
            self._run(job)
        records = []
        for job in self.jobs:
            record = self.store.read_run(job) or self._run(job)  # or: reuse a fixed run
            how = "finished earlier" if job.key in before else f"{record['seconds']:.0f} s"
            if "prefix_of" in record and job.key not in before:
                how = "kept from the longer run of its budget group"
            records.append((record, how))
        return records, side_by_side

    def _summarise(self, records: list[dict[str, Any]]) -> Results:
        t = time.perf_counter()
        efficiency = self.efficiency() if self.config.measure_latency else {}
        self._spent("latency measurement", time.perf_counter() - t)
        t = time.perf_counter()
        results = summarise(
            self.config, records, self.teacher_record, self.majority, efficiency,
            self.store.root,
        )
        results.measured = self._measured
        self._spent("statistics and tables", time.perf_counter() - t)
        if self.config.footprint and self.config.measure_latency:
            t = time.perf_counter()
            workers = resolve_workers(self.config.workers, self.config.student_train.device,
                                      len(self.jobs))
            measure_footprint(self, results, threads_per_worker(workers))
            self._spent("footprint (a run again, int8, timings)", time.perf_counter() - t)
        t = time.perf_counter()
        save_all_tables(results)
        self._spent("statistics and tables", time.perf_counter() - t)
        return results


_EXPERIMENTS: dict[str, Experiment] = {}  # in a worker process: one per config


def warm_up() -> int:
    """In a worker: nothing (importing this module imported torch, transformers, the library)."""
    return os.getpid()


def train_run(config: dict[str, Any], key: str, threads: int | None) -> dict:
    """In a worker: train the run ``key`` and return ``{"records": [...], "timings": ...}``
    (its record, and those of the shorter budget runs it gives; no file).

    The worker builds (once per config) an Experiment that reads the fine-tuned teacher from
    the output folder and never trains or writes one; the parent writes the record.
    """
    if threads:
        import torch

        torch.set_num_threads(threads)
    settings = json.dumps(config, sort_keys=True)
    if settings not in _EXPERIMENTS:
        experiment = Experiment(ExperimentConfig.from_dict(config), progress=False, log=None)
        experiment.may_train_teacher = False
        _EXPERIMENTS[settings] = experiment
    experiment = _EXPERIMENTS[settings]
    before = dict(experiment.timings)
    records = [record for _, record in experiment.train_records(experiment.job_by_key(key))]
    timings: dict[str, float] = {}
    for part, seconds in experiment.timings.items():
        label = part if part.startswith("students:") else "workers: load data and teacher"
        timings[label] = timings.get(label, 0.0) + seconds - before.get(part, 0.0)
    return {"records": records, "timings": timings}


def compare_strategies(
    config: ExperimentConfig | None = None,
    *,
    progress: bool = True,
    log: Any = print,
    executor: cf.Executor | None = None,
) -> Results:
    """Run (or resume) a comparison and return its :class:`Results`. See the module docs.

    Args:
        config: the experiment (default: the ``quick`` preset).
        progress: show tqdm progress bars while training.
        log: called with one line per finished step (``print`` by default; ``None`` silences).
        executor: where the student runs train (see :meth:`Experiment.results`).
    """
    return Experiment(config, progress=progress, log=log).results(executor)
