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
from ..train import check_device, distill, evaluate_model, fine_tune, save_checkpoint
from .config import BASELINES, ExperimentConfig
from .results import Results, summarise
from .store import RUN_FORMAT, Job, RunStore, check_teacher_record, plan, run_key, teacher_key

LATENCY_BATCH = 32


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
            with quiet_libraries():
                tokens, extra = prepare_data(self.config, self.tokenizer, self.log)
            self._data = tokens, extra
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

    # -- students ------------------------------------------------------------------------------

    def job(self, name: str | Sequence[int], seed: int) -> Job:
        """The planned run for a strategy/baseline name (or alias) and seed."""
        if isinstance(name, str) and name in BASELINES:
            label = name
        else:
            label = describe_strategy(canonical_strategy(name) if isinstance(name, str) else name)
        for job in self.jobs:
            if job.name == label and job.seed == seed:
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
        teacher, tokens, extra = self.teacher, self.tokens, self.cross_domain
        start = time.perf_counter()
        student = make_student(teacher, job.layers, init=job.init, seed=job.seed)
        result = distill(
            student, teacher, tokens, job.train_config.replace(progress=self.progress),
            tokenizer=self.tokenizer,
        )
        test, cross = evaluate_all(
            result.model, tokens, extra, self.tokenizer, job.train_config.eval_batch_size
        )
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
        self.store.write(self.store.run_path(job), record)
        return record

    def efficiency(self) -> dict[str, Any]:
        """Parameters and measured latency (median of 5 batches of 32) of teacher vs student.

        Measured once per teacher and student shape; a resumed comparison reuses the numbers.
        """
        key = run_key(teacher_key(self.config), self.jobs[0].layers)
        saved = self.store.read_json(self.store.efficiency_path)
        if isinstance(saved, dict) and saved.get("key") == key:
            return saved
        teacher, tokens = self.teacher, self.tokens
        student = make_student(teacher, self.jobs[0].layers)
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
            _ = self.teacher
            records = []
            for i, job in enumerate(self.jobs, start=1):
                tag = f"[{i}/{len(self.jobs)}] {job.name} seed {job.seed}"
                record = self.store.read_run(job)
                how = "finished earlier"
                if record is None:
                    record = self.run(job.name, job.seed)
                    how = f"{record['seconds']:.0f} s"
                records.append(record)
                self.log(f"{tag}: test accuracy {record['test']['accuracy']:.4f} ({how})")
            efficiency = self.efficiency() if self.config.measure_latency else {}
            results = summarise(
                self.config, records, self.teacher_record, self.majority, efficiency,
                self.store.root,
            )
            results.save_tables()
        self.log(f"comparison finished in {(time.perf_counter() - start) / 60:.1f} minutes")
        return results


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
