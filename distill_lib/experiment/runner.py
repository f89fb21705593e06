"""Running a comparison: data, the teacher, one student per strategy x seed, then statistics.

What :func:`compare_strategies` does, in order:

1. checks everything knowable before any work (teacher, task, device, layer maps, output
   folder), so a bad config fails before anything is written;
2. fine-tunes the teacher once (or loads it from ``<output_dir>/teacher-<key>/``);
3. for every strategy x seed: builds the student with :func:`~distill_lib.make_student`,
   distils it (:func:`~distill_lib.train.distill`) and evaluates it on the test split (and
   the cross-domain sets, if asked); baselines on the same seeds: the majority class, the
   teacher, a student with random weights (``random-init``) and a copied student trained on
   hard labels only (``no-kd``);
4. summarises (:mod:`~distill_lib.experiment.results`): mean, std and 95% CI over seeds,
   paired bootstrap tests between students (Holm-corrected), a collapse check, and
   teacher/student size and latency.

Finished runs are files of the :class:`~distill_lib.experiment.store.RunStore`, so an
interrupted comparison resumes where it stopped.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from datasets import DatasetDict

from .._io import quiet_libraries
from ..data import check_task, load_task, make_dataloader, tokenize
from ..layers import canonical_strategy, describe_strategy
from ..student import make_student
from ..teacher import check_teacher, load_teacher, resolve_teacher, teacher_depth
from ..train import (
    check_device,
    distill,
    evaluate_model,
    fine_tune,
    save_checkpoint,
    teacher_logits,
)
from .config import BASELINES, ExperimentConfig
from .results import Results, summarise
from .store import RUN_FORMAT, Job, RunStore, check_teacher_record, plan, run_key, teacher_key
from .workers import resolve_workers, run_side_by_side, start_helpers, stop_helpers

LATENCY_BATCH = 32
_SCORES_OF = {"influence": "block_influence", "cka-cover": "cka", "drop": "drop"}
"""Where each data-driven strategy's scores are in the teacher's measurements."""


def check_writable(folder: str | os.PathLike, what: str) -> None:
    """Check that ``folder`` is a writable folder or could be created; create nothing."""
    path = Path(folder).expanduser()
    if path.exists():
        if not path.is_dir():
            raise ValueError(f"{what} {str(folder)!r} exists and is not a folder")
        if not os.access(path, os.W_OK | os.X_OK):
            raise ValueError(f"{what} {str(folder)!r} is not writable")
        return
    ancestor = path.absolute()
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise ValueError(f"{what} {str(folder)!r} cannot be created: {ancestor} is a file")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise ValueError(f"{what} {str(folder)!r} cannot be created: {ancestor} is not writable")


def validate(config: ExperimentConfig) -> int:
    """Check everything knowable before training, without writing; return the teacher depth.

    Raises:
        ValueError, FileNotFoundError, ConnectionError: what is wrong and how to fix it.
    """
    check_teacher(config.teacher)
    check_task(config.task, config.text_column, config.label_column, option="task")
    for name in config.cross_domain:
        check_task(name, train=False, option="cross_domain")
    for train in (config.teacher_train, config.student_train):
        check_device(train.device, train.mixed_precision)
    check_writable(config.output_dir, "output_dir")
    n_teacher = teacher_depth(config.teacher)
    plan(config, n_teacher)  # every layer map can be built, and no map is trained twice
    return n_teacher


def _subset(dataset, size: int | None, seed: int, what: str, log: Any):
    if size is None:
        return dataset
    if size > len(dataset):
        log(f"note: {what} asks for {size:,} sentences but the split has {len(dataset):,}: "
            "using all of them")
        return dataset
    return dataset.shuffle(seed=seed).select(range(size))


def prepare_data(
    config: ExperimentConfig, tokenizer: Any, log: Any = print
) -> tuple[DatasetDict, dict[str, Any]]:
    """Load, subsample and tokenise the task (and the cross-domain sets)."""
    data = load_task(config.task, text_column=config.text_column, label_column=config.label_column)
    data = DatasetDict(
        {
            split: _subset(data[split], getattr(config, f"{split}_size"), 0, f"{split}_size", log)
            for split in ("train", "validation", "test")
        }
    )
    tokens = tokenize(data, tokenizer, max_length=config.max_length)
    extra = {}
    for name in config.cross_domain:
        test = _subset(load_task(name)["test"], config.cross_domain_size, 0,
                       "cross_domain_size", log)
        extra[name] = tokenize(test, tokenizer, max_length=config.max_length)
    return tokens, extra


def evaluate_all(model, tokens: DatasetDict, extra: dict[str, Any], tokenizer, batch: int):
    """Test metrics with predictions, and accuracy/F1/counts on every cross-domain set."""
    test = evaluate_model(
        model, tokens["test"], tokenizer=tokenizer, batch_size=batch, return_predictions=True
    )
    cross = {}
    for name, dataset in extra.items():
        r = evaluate_model(model, dataset, tokenizer=tokenizer, batch_size=batch)
        cross[name] = {k: r[k] for k in ("accuracy", "macro_f1", "predicted_counts")}
    return test, cross


@torch.inference_mode()
def measure_latency(model, tokens: DatasetDict, tokenizer, batch_size: int = LATENCY_BATCH,
                    repeats: int = 5) -> float:
    """Median seconds to classify one batch of test sentences (the same batch for every model)."""
    test = tokens["test"]
    loader = make_dataloader(test.select(range(min(batch_size, len(test)))), tokenizer, batch_size)
    batch = next(iter(loader))
    device = next(model.parameters()).device
    inputs = {k: v.to(device) for k, v in batch.items() if k != "labels"}
    was_training = model.training
    model.eval()
    times = []
    model(**inputs)  # warm-up
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        model(**inputs)
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    model.train(was_training)
    return float(np.median(times))


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
        use_cuda = torch.cuda.is_available() and config.teacher_train.device in ("auto", "cuda")
        teacher.to("cuda" if use_cuda else "cpu")
        path = self.store.teacher_record_path(config)
        record = self.store.read_json(path, check_teacher_record)
        if record is None:
            test, cross = evaluate_all(
                teacher, tokens, extra, self._tokenizer, config.teacher_train.eval_batch_size
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
            from ..selection import measure_layers
            from ..train import fingerprint_model

            path = self.store.layer_scores_path(self.config)
            teacher, tokens = self.teacher, self.tokens
            fingerprint = fingerprint_model(teacher)
            saved = self.store.read_json(path, _check_layer_scores)
            if saved is not None and saved.get("teacher_fingerprint") == fingerprint:
                self._measured = saved
                return saved
            start = time.perf_counter()
            calibration = _subset(tokens["train"], self.config.calibration_size, 0,
                                  "calibration_size", lambda *_: None)
            measured = measure_layers(
                teacher, calibration, tokens["validation"], tokenizer=self.tokenizer,
                batch_size=self.config.teacher_train.eval_batch_size,
            )
            measured["teacher_fingerprint"] = fingerprint
            measured["seconds"] = time.perf_counter() - start
            self.store.write(path, measured)
            self._spent("teacher: layer measurements", measured["seconds"])
            self.log(f"teacher layers measured in {measured['seconds']:.0f} s (influence and "
                     f"CKA on {len(calibration)} training sentences, drop on "
                     f"{len(tokens['validation'])} validation sentences)")
            self._measured = measured
        return self._measured

    def _resolve_jobs(self) -> None:
        """Give the data-driven strategies their layers (measuring the teacher if needed)."""
        if any(job.layers is None for job in self.jobs):
            self.jobs = plan(self.config, self.n_teacher, self.measured)

    # -- students ------------------------------------------------------------------------------

    def job(self, name: str | Sequence[int], seed: int) -> Job:
        """The planned run for a strategy/baseline name (or alias) and seed."""
        if isinstance(name, str) and name in BASELINES:
            label = name
        else:
            label = describe_strategy(canonical_strategy(name) if isinstance(name, str) else name)
        for job in self.jobs:
            if job.name == label and job.seed == seed:
                if job.layers is None:
                    self._resolve_jobs()
                    return self.job(name, seed)
                return job
        names = sorted({j.name for j in self.jobs})
        seeds = sorted({j.seed for j in self.jobs})
        raise ValueError(
            f"no run {label!r} with seed {seed} in this config; names: {names}, seeds: {seeds}"
        )

    def run(self, name: str | Sequence[int], seed: int) -> dict[str, Any]:
        """Distil (or load) one student and return its record (what its JSON holds)."""
        job = self.job(name, seed)
        record = self.store.read_run(job)
        if record is not None:
            return record
        if job.data_driven:
            same = self._fixed_job_like(job)
            if same is not None:  # the same student as a fixed strategy: reuse its run
                record = dict(self.run(same.name, seed))
                record.update({"key": job.key, "name": job.name, "same_as": same.name,
                               "selection": self._selection(job), "seconds": 0.0})
                self.store.write(self.store.run_path(job), record)
                return record
        teacher, tokens, extra = self.teacher, self.tokens, self.cross_domain
        start = time.perf_counter()
        student = make_student(teacher, job.layers, init=job.init, seed=job.seed)
        result = distill(
            student, teacher, tokens, job.train_config.replace(progress=self.progress),
            tokenizer=self.tokenizer,
        )
        trained = time.perf_counter()
        self._trained = True
        test, cross = evaluate_all(
            result.model, tokens, extra, self.tokenizer, job.train_config.eval_batch_size
        )
        train_s = sum(h["train_seconds"] for h in result.history)
        validation_s = sum(h["seconds"] - h["train_seconds"] for h in result.history)
        self._spent("students: training steps", train_s)
        self._spent("students: validation each epoch", validation_s)
        self._spent("students: test + cross-domain evaluation", time.perf_counter() - trained)
        self._spent("students: set-up (copy, optimiser, logits)",
                    trained - start - train_s - validation_s)
        record = {
            "format": RUN_FORMAT,
            "key": job.key,
            "name": job.name,
            "kind": job.kind,
            "seed": job.seed,
            "layers": job.layers,
            "init": job.init,
            "teacher_layers": self.n_teacher,
            "train_config": job.train_config.to_dict(),
            "history": result.history,
            "best_epoch": result.best_epoch,
            "validation": result.best_validation,
            "test": test,
            "cross_domain": cross,
            "seconds": time.perf_counter() - start,
        }
        if job.data_driven:
            record["selection"] = self._selection(job)
        self.store.write(self.store.run_path(job), record)
        return record

    def _early_helpers(self) -> list[Any]:
        """Helper processes for the student runs, started before the teacher is ready.

        Started when at least two runs are missing (a data-driven run counts as missing
        until its layers are measured) and :func:`.workers.resolve_workers` says so.
        """
        missing = sum(job.layers is None or self.store.read_run(job) is None
                      for job in self.jobs)
        workers = resolve_workers(self.config.workers, self.config.student_train.device, missing)
        return start_helpers(self.config, workers) if workers > 1 else []

    def _train_side_by_side(self, helpers: list[Any]) -> set[str]:
        """Train the missing runs in this process and the ``helpers`` (if any) side by side.

        Returns the keys of the runs trained (and logged) here; what is left (nothing, or the
        data-driven runs that reuse a fixed strategy's student) is done one by one after.
        """
        pending = [job for job in self.jobs
                   if self.store.read_run(job) is None
                   and not (job.data_driven and self._fixed_job_like(job))]
        helpers = helpers[: max(0, len(pending) - 1)]
        if not helpers:
            return set()
        workers = len(helpers) + 1
        if any(job.train_config.alpha > 0 for job in pending):  # once, not in every process
            t = time.perf_counter()
            teacher_logits(self.teacher, self.tokens["train"], tokenizer=self.tokenizer,
                           batch_size=self.config.student_train.eval_batch_size)
            self._spent("teacher: logits of the training sentences", time.perf_counter() - t)
        threads = helpers[0].threads
        self.log(f"training {len(pending)} student runs in {workers} processes side by side "
                 f"({threads} thread{'s' if threads > 1 else ''} each)")
        position = {job.key: i for i, job in enumerate(self.jobs, start=1)}
        start = time.perf_counter()
        helper_timings = run_side_by_side(
            self, pending, helpers, self.log,
            label=lambda job: f"[{position[job.key]}/{len(self.jobs)}] {job.name} seed {job.seed}",
        )
        for part, seconds in helper_timings.items():
            self._spent(part, seconds)
        self.side_by_side = {"workers": workers, "threads": threads, "runs": len(pending),
                             "wall_seconds": time.perf_counter() - start}
        return {job.key for job in pending}

    def _fixed_job_like(self, job: Job) -> Job | None:
        """The fixed-strategy job that trains the same student as ``job``, if any."""
        for other in self.jobs:
            if (not other.data_driven and other.kind == "strategy" and other.seed == job.seed
                    and other.layers == job.layers and other.init == job.init
                    and other.train_config == job.train_config):
                return other
        return None

    def _selection(self, job: Job) -> dict[str, Any]:
        """What a data-driven run's JSON keeps of the measurements behind its layers."""
        m = self.measured
        return {
            "strategy": job.name,
            "layers": job.layers,
            "scores": m[_SCORES_OF[job.name]],
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
        teacher, tokens = self.teacher, self.tokens
        student = make_student(teacher, shape)
        t_teacher = measure_latency(teacher, tokens, self.tokenizer)
        t_student = measure_latency(student, tokens, self.tokenizer)
        p_teacher = sum(p.numel() for p in teacher.parameters())
        p_student = sum(p.numel() for p in student.parameters())
        efficiency = {
            "key": key,
            "device": str(next(teacher.parameters()).device),
            "batch_size": LATENCY_BATCH,
            "teacher_layers": self.n_teacher,
            "student_layers": self.config.student_layers,
            "teacher_params": p_teacher,
            "student_params": p_student,
            "param_ratio": p_teacher / p_student,
            "teacher_latency_s": t_teacher,
            "student_latency_s": t_student,
            "speedup": t_teacher / t_student,
        }
        self.store.write(self.store.efficiency_path, efficiency)
        return efficiency

    def results(self) -> Results:
        """Run every missing job of the config, then summarise (tables written to disk).

        Raises:
            RuntimeError: another comparison is running in the same output folder.
        """
        start = time.perf_counter()
        with self.store.lock():
            helpers = self._early_helpers()
            try:
                _ = self.teacher
                self._resolve_jobs()
                side_by_side = self._train_side_by_side(helpers)
            finally:
                stop_helpers(helpers)  # any not used (no-op for those that finished)
            records = []
            for i, job in enumerate(self.jobs, start=1):
                tag = f"[{i}/{len(self.jobs)}] {job.name} seed {job.seed}"
                record = self.store.read_run(job)
                how = "finished earlier"
                if record is None:
                    record = self.run(job.name, job.seed)
                    how = f"{record['seconds']:.0f} s"
                records.append(record)
                if job.key not in side_by_side:
                    self.log(f"{tag}: test accuracy {record['test']['accuracy']:.4f} ({how})")
            t = time.perf_counter()
            efficiency = self.efficiency() if self.config.measure_latency else {}
            self._spent("latency measurement", time.perf_counter() - t)
            t = time.perf_counter()
            results = summarise(
                self.config, records, self.teacher_record, self.majority, efficiency,
                self.store.root,
            )
            results.measured = self._measured
            results.save_tables()
            self._spent("statistics and tables", time.perf_counter() - t)
        if self._trained:
            self.log(f"comparison finished in {(time.perf_counter() - start) / 60:.1f} minutes")
            for line in self.timing_lines():
                self.log(line)
        else:
            self.log("comparison: every run was already on disk, nothing was trained")
        return results


def _check_layer_scores(record: Any) -> str | None:
    """Why ``record`` is not a layer-scores JSON, or None."""
    needed = ("n_layers", "block_influence", "cka", "drop", "calibration_size")
    if not isinstance(record, dict):
        return "it is not a JSON object"
    missing = [k for k in needed if k not in record]
    return f"it lacks {', '.join(missing)}" if missing else None


def compare_strategies(
    config: ExperimentConfig | None = None, *, progress: bool = True, log: Any = print
) -> Results:
    """Run (or resume) a comparison and return its :class:`Results`. See the module docs.

    Args:
        config: the experiment (default: the ``quick`` preset).
        progress: show tqdm progress bars while training.
        log: called with one line per finished step (``print`` by default; ``None`` silences).
    """
    return Experiment(config, progress=progress, log=log).results()
