"""Compare layer-initialisation strategies for a distilled student, with seeds and baselines.

    from distill_lib.experiment import ExperimentConfig, compare_strategies
    results = compare_strategies(ExperimentConfig.preset("quick"))
    print(results.table())

or from a shell: ``distill-lib compare --preset quick``.

What one comparison does:

1. fine-tunes the teacher once (or loads it from ``<output_dir>/teacher-<key>/``);
2. for every strategy x seed: builds the student with :func:`~distill_lib.make_student`,
   distils it (:func:`~distill_lib.train.distill`) and evaluates it on the test split (and
   the cross-domain sets, if asked);
3. adds baselines on the same seeds: the majority class, the teacher, a student of the same
   depth with random weights (``random-init``, distilled the same way) and a student copied
   from the teacher but trained on hard labels only (``no-kd``);
4. summarises: mean, std and 95% CI over seeds, a paired bootstrap test between every pair
   of strategies (Holm-corrected), a collapse check, and teacher/student size and latency.

Every finished run is written as its own JSON in ``<output_dir>/runs/`` (atomically). A run's
file name holds a key hashed from everything that determines it (teacher, data, sizes,
training settings, strategy, seed), so re-running skips finished runs, a run killed midway is
simply redone, and a changed config never mixes in stale results.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from datasets import DatasetDict
from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer

from ._io import atomic_write_json, atomic_write_text
from .data import load_task, tokenize
from .layers import canonical_strategy, describe_strategy, select_layers
from .stats import collapse_reason, holm, mean_ci, paired_bootstrap
from .student import make_student
from .teacher import load_teacher, resolve_teacher
from .train import PRESETS as TRAIN_PRESETS
from .train import TrainConfig, distill, evaluate_model, fine_tune, save_checkpoint

BASELINES: dict[str, str] = {
    "majority": "always predicts the most frequent training class",
    "teacher": "the fine-tuned teacher itself",
    "random-init": "a student of the same depth with random weights, distilled the same way",
    "no-kd": "a student copied from the teacher (layers `no_kd_layers`) trained on hard labels",
}
"""Baselines that can be added to a comparison."""

RUN_FORMAT = 1


@dataclass
class ExperimentConfig:
    """Everything a comparison depends on. Use :meth:`preset` for sized defaults."""

    teacher: str = "minilm-l6"
    task: str = "movie-snippets"
    text_column: str | None = None
    label_column: str | None = None
    student_layers: int = 3
    strategies: list[str] = field(
        default_factory=lambda: ["first", "last", "odd", "even", "uniform"]
    )
    seeds: list[int] = field(default_factory=lambda: [0, 1])
    baselines: list[str] = field(default_factory=lambda: list(BASELINES))
    no_kd_layers: str = "first"
    """Layers of the ``no-kd`` baseline (PKD's student init: the first k)."""
    train_size: int | None = None
    """Use only this many training sentences (a fixed, seeded subset); ``None``: all."""
    validation_size: int | None = None
    test_size: int | None = None
    max_length: int = 128
    teacher_train: TrainConfig = field(default_factory=lambda: TRAIN_PRESETS["standard-teacher"])
    student_train: TrainConfig = field(default_factory=lambda: TRAIN_PRESETS["standard-student"])
    cross_domain: list[str] = field(default_factory=list)
    """Test-only sets to evaluate every model on as well, e.g. ``["tweet-snippets"]``."""
    cross_domain_size: int | None = 1000
    """Evaluate on this many sentences of each cross-domain set (a fixed subset); None: all."""
    output_dir: str = "runs/standard"
    bootstrap_resamples: int = 2000
    measure_latency: bool = True

    def __post_init__(self) -> None:
        if isinstance(self.teacher_train, dict):
            self.teacher_train = TrainConfig(**self.teacher_train)
        if isinstance(self.student_train, dict):
            self.student_train = TrainConfig(**self.student_train)
        self.strategies = [s if isinstance(s, str) else list(s) for s in self.strategies]
        self.seeds = [int(s) for s in self.seeds]
        if not self.seeds:
            raise ValueError("seeds is empty; give at least one seed, e.g. seeds=[0, 1, 2].")
        if len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f"seeds {self.seeds} has duplicates")
        if not self.strategies:
            raise ValueError("strategies is empty; e.g. ['first', 'last', 'uniform'].")
        for name in self.strategies:
            if isinstance(name, str):
                canonical_strategy(name)  # raises a ValueError listing the choices
        unknown = [b for b in self.baselines if b not in BASELINES]
        if unknown:
            raise ValueError(
                f"unknown baselines {unknown}; choose from {', '.join(BASELINES)} (or none)."
            )
        if self.student_layers < 1:
            raise ValueError(f"student_layers must be >= 1, got {self.student_layers}")
        for name in ("train_size", "validation_size", "test_size"):
            value = getattr(self, name)
            if value is not None and value < 2:
                raise ValueError(f"{name} must be at least 2 (or None for all), got {value}")

    @classmethod
    def preset(cls, name: str, **overrides: Any) -> ExperimentConfig:
        """A named preset (:data:`PRESETS`), with any field overridden."""
        if name not in PRESETS:
            raise ValueError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
        values = dict(PRESETS[name])
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def describe(self) -> str:
        """A few lines saying what this comparison trains, for people."""
        tt, st = self.teacher_train, self.student_train
        sizes = (
            f"train {self.train_size or 'all'}, validation {self.validation_size or 'all'}, "
            f"test {self.test_size or 'all'}"
        )
        return "\n".join(
            [
                f"teacher {self.teacher}, task {self.task}, {self.student_layers}-layer students",
                f"  sentences used: {sizes}",
                f"  strategies {self.strategies}, seeds {self.seeds}, baselines {self.baselines}",
                f"  teacher fine-tuning: {tt.epochs} epochs, batch {tt.batch_size}, lr {tt.lr:g}",
                f"  student distillation: {st.epochs} epochs, batch {st.batch_size}, lr {st.lr:g}, "
                f"temperature {st.temperature:g}, alpha {st.alpha:g}",
                f"  cross-domain test sets: {', '.join(self.cross_domain) or 'none'}",
                f"  output folder: {self.output_dir}",
            ]
        )


PRESETS: dict[str, dict[str, Any]] = {
    # The offline default, about 7 minutes on 2 CPU cores (measured): 6 -> 3 layers on a
    # 1,000-sentence subset, 2 seeds, the 5 strategies and 4 baselines. (With batch 32 and one
    # epoch, 3-layer students had too few steps and several predicted one class for everything.)
    "quick": {
        "output_dir": "runs/quick",
        "seeds": [0, 1],
        "train_size": 1000,
        "validation_size": 500,
        "teacher_train": TRAIN_PRESETS["quick-teacher"],
        "student_train": TRAIN_PRESETS["quick-student"],
    },
    # All 8,454 training sentences, 3 seeds, the three cross-domain test sets.
    "standard": {
        "output_dir": "runs/standard",
        "seeds": [0, 1, 2],
        "teacher_train": TRAIN_PRESETS["standard-teacher"],
        "student_train": TRAIN_PRESETS["standard-student"],
        "cross_domain": ["amazon-snippets", "nyt-snippets", "tweet-snippets"],
    },
    # The classic experiment for a GPU with Hub access: BERT-base 12 -> 6 on GLUE SST-2.
    "bert-base-sst2": {
        "teacher": "bert-base-uncased",
        "task": "glue/sst2",
        "student_layers": 6,
        "output_dir": "runs/bert-base-sst2",
        "seeds": [0, 1, 2],
        "teacher_train": TRAIN_PRESETS["gpu-teacher"],
        "student_train": TRAIN_PRESETS["gpu-student"],
    },
}
"""Experiment presets: ``quick`` (default, offline), ``standard`` (offline), ``bert-base-sst2``."""


# ---------------------------------------------------------------------------------------------
# Run keys and files


def _key(*parts: Any) -> str:
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _train_key(config: TrainConfig) -> dict[str, Any]:
    """Fields of a TrainConfig that change the result (not progress bars or folders)."""
    out = config.to_dict()
    for k in ("progress", "output_dir", "eval_batch_size"):
        out.pop(k)
    return out


def _run_label(strategy: str | Sequence[int]) -> str:
    return describe_strategy(strategy)


@dataclass
class Results:
    """The outcome of :func:`compare_strategies`.

    Attributes:
        config: the experiment's config.
        runs: one row per distilled student (strategy or baseline) and seed.
        histories: one row per run and epoch (train loss and its terms, validation metrics).
        teacher: the teacher's test metrics (and cross-domain accuracies).
        majority: the majority class and its test accuracy.
        summary: one row per strategy/baseline: mean, std, 95% CI over seeds, collapse count,
            and whether it differs significantly from the best strategy.
        pairwise: every pair of strategies: accuracy difference, bootstrap CI, p-values.
        efficiency: parameters and measured inference latency of teacher and student.
        output_dir: where the JSONs live.
    """

    config: ExperimentConfig
    runs: pd.DataFrame
    histories: pd.DataFrame
    teacher: dict[str, Any]
    majority: dict[str, Any]
    summary: pd.DataFrame
    pairwise: pd.DataFrame
    efficiency: dict[str, Any]
    output_dir: Path
    layer_maps: dict[str, list[int]] = field(default_factory=dict)

    def table(self, floatfmt: str = ".4f") -> str:
        """The summary as a Markdown table, with teacher and majority rows."""
        cols = [
            "name",
            "kind",
            "layers",
            "n_seeds",
            "mean_accuracy",
            "std",
            "ci_low",
            "ci_high",
            "mean_macro_f1",
            "collapsed",
            "vs_best",
        ]
        frame = self.summary[cols].copy()
        frame["layers"] = frame["layers"].map(lambda v: "" if v is None else str(v))
        return frame.to_markdown(index=False, floatfmt=floatfmt)

    def save_tables(self) -> list[Path]:
        """Write summary, pairwise and runs tables (CSV + Markdown) into ``output_dir``."""
        written = []
        for name, frame in (
            ("summary", self.summary),
            ("pairwise", self.pairwise),
            ("runs", self.runs.drop(columns=["predictions"], errors="ignore")),
        ):
            written.append(
                atomic_write_text(self.output_dir / f"{name}.csv", frame.to_csv(index=False))
            )
        written.append(atomic_write_text(self.output_dir / "summary.md", self.table() + "\n"))
        return written


# ---------------------------------------------------------------------------------------------
# Data


def _subset(dataset, size: int | None, seed: int):
    if size is None or size >= len(dataset):
        return dataset
    return dataset.shuffle(seed=seed).select(range(size))


def prepare_data(config: ExperimentConfig, tokenizer) -> tuple[DatasetDict, dict[str, Any]]:
    """Load, subsample and tokenise the task (and cross-domain sets)."""
    data = load_task(config.task, text_column=config.text_column, label_column=config.label_column)
    data = DatasetDict(
        {
            "train": _subset(data["train"], config.train_size, 0),
            "validation": _subset(data["validation"], config.validation_size, 0),
            "test": _subset(data["test"], config.test_size, 0),
        }
    )
    tokens = tokenize(data, tokenizer, max_length=config.max_length)
    extra = {}
    for name in config.cross_domain:
        test = _subset(load_task(name)["test"], config.cross_domain_size, 0)
        extra[name] = tokenize(test, tokenizer, max_length=config.max_length)
    return tokens, extra


# ---------------------------------------------------------------------------------------------
# The comparison


def validate(config: ExperimentConfig) -> int:
    """Check the config against the teacher's depth before any work; return that depth."""
    source = resolve_teacher(config.teacher)
    try:
        teacher_config = AutoConfig.from_pretrained(source)
    except OSError as err:
        raise ValueError(
            f"cannot read the teacher {config.teacher!r}: {err}. Offline, use 'minilm-l6' or a "
            "local folder written by save_pretrained."
        ) from None
    n_teacher = getattr(teacher_config, "num_hidden_layers", None) or teacher_config.n_layers
    for strategy in config.strategies:
        select_layers(strategy, n_teacher, config.student_layers, seed=0)
    if "no-kd" in config.baselines:
        select_layers(config.no_kd_layers, n_teacher, config.student_layers)
    return n_teacher


def _eval_key(config: ExperimentConfig) -> str:
    return _key(config.test_size, sorted(config.cross_domain), config.cross_domain_size)


def _teacher_key(config: ExperimentConfig) -> str:
    return _key(
        RUN_FORMAT,
        config.teacher,
        config.task,
        config.text_column,
        config.label_column,
        config.train_size,
        config.validation_size,
        config.max_length,
        _train_key(config.teacher_train),
    )


def _get_teacher(config: ExperimentConfig, out: Path, tokens: DatasetDict, progress: bool):
    """Fine-tune the teacher once; later calls load ``<out>/teacher-<key>``."""
    folder = out / f"teacher-{_teacher_key(config)}"
    if (folder / "config.json").is_file():
        teacher = AutoModelForSequenceClassification.from_pretrained(folder, use_safetensors=True)
        tokenizer = AutoTokenizer.from_pretrained(folder)
        history = json.loads((folder / "history.json").read_text())
        return teacher, tokenizer, history, folder
    teacher, tokenizer = load_teacher(config.teacher)
    result = fine_tune(
        teacher, tokens, config.teacher_train.replace(progress=progress), tokenizer=tokenizer
    )
    save_checkpoint(result.model, tokenizer, folder, history=result.history)
    return result.model, tokenizer, result.history, folder


def _evaluate_all(model, tokens: DatasetDict, extra: dict[str, Any], tokenizer, batch: int):
    test = evaluate_model(
        model, tokens["test"], tokenizer=tokenizer, batch_size=batch, return_predictions=True
    )
    cross = {}
    for name, dataset in extra.items():
        r = evaluate_model(model, dataset, tokenizer=tokenizer, batch_size=batch)
        cross[name] = {
            "accuracy": r["accuracy"],
            "macro_f1": r["macro_f1"],
            "predicted_counts": r["predicted_counts"],
        }
    return test, cross


def _measure_latency(
    model, tokens: DatasetDict, tokenizer, batch_size: int = 32, repeats: int = 5
) -> float:
    """Median seconds to classify one batch of test sentences (same batch for every model)."""
    from .data import make_dataloader

    loader = make_dataloader(
        tokens["test"].select(range(min(batch_size, len(tokens["test"])))), tokenizer, batch_size
    )
    batch = next(iter(loader))
    device = next(model.parameters()).device
    inputs = {k: v.to(device) for k, v in batch.items() if k != "labels"}
    model.eval()
    times = []
    with torch.no_grad():
        model(**inputs)
        for _ in range(repeats):
            if device.type == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
            model(**inputs)
            if device.type == "cuda":
                torch.cuda.synchronize()
            times.append(time.perf_counter() - start)
    return float(np.median(times))


@dataclass(frozen=True)
class Job:
    """One student to train: a strategy or baseline at one seed."""

    name: str
    kind: str
    layers: list[int]
    init: str
    seed: int
    train_config: TrainConfig
    key: str

    @property
    def filename(self) -> str:
        return f"{self.name}-seed{self.seed}-{self.key}.json"


def plan(config: ExperimentConfig, n_teacher: int) -> list[Job]:
    """Every student run of the comparison, with the key that names its JSON."""
    specs: list[tuple[str, str, list[int], str, float | None]] = []
    for strategy in config.strategies:
        layers = select_layers(strategy, n_teacher, config.student_layers, seed=0)
        specs.append((_run_label(strategy), "strategy", layers, "teacher", None))
    if "random-init" in config.baselines:
        layers = select_layers("first", n_teacher, config.student_layers)
        specs.append(("random-init", "baseline", layers, "random", None))
    if "no-kd" in config.baselines:
        layers = select_layers(config.no_kd_layers, n_teacher, config.student_layers)
        specs.append(("no-kd", "baseline", layers, "teacher", 0.0))
    jobs = []
    for name, kind, layers, init, alpha in specs:
        for seed in config.seeds:
            train_config = config.student_train.replace(seed=seed)
            if alpha is not None:
                train_config = train_config.replace(alpha=alpha)
            key = _key(
                RUN_FORMAT,
                _teacher_key(config),
                _eval_key(config),
                name,
                layers,
                init,
                _train_key(train_config),
            )
            jobs.append(Job(name, kind, layers, init, seed, train_config, key))
    return jobs


class Experiment:
    """One comparison's data, teacher and student runs, each computed once and cached on disk.

    :func:`compare_strategies` is ``Experiment(config).results()``. The notebooks use the
    pieces one at a time::

        exp = Experiment(ExperimentConfig.preset("quick"))
        exp.teacher_record["test"]["accuracy"]     # fine-tunes the teacher (or loads it)
        record = exp.run("uniform", seed=0)        # distils one student (or loads its JSON)
        results = exp.results()                    # everything in the config, then statistics

    A run's JSON is named by a key hashed from everything that determines it, so the same
    strategy and seed are never trained twice, whichever of these calls asked for them.
    """

    def __init__(
        self, config: ExperimentConfig | None = None, *, progress: bool = True, log: Any = print
    ) -> None:
        self.config = config or ExperimentConfig.preset("quick")
        self.progress = progress
        self.log = log or (lambda *_: None)
        self.n_teacher = validate(self.config)  # fails fast on a bad config
        self.jobs = plan(self.config, self.n_teacher)
        self.out = Path(self.config.output_dir)
        self.runs_dir = self.out / "runs"
        self._tokens: tuple[DatasetDict, dict[str, Any]] | None = None
        self._teacher: Any = None
        self.tokenizer: Any = None
        self.teacher_record: dict[str, Any] = {}
        self._majority: dict[str, Any] | None = None

    # -- data and teacher ----------------------------------------------------------------------

    @property
    def tokens(self) -> DatasetDict:
        """The tokenised task (train/validation/test, subsampled as configured)."""
        return self._data()[0]

    @property
    def cross_domain(self) -> dict[str, Any]:
        """Tokenised cross-domain test sets, by name."""
        return self._data()[1]

    def _data(self) -> tuple[DatasetDict, dict[str, Any]]:
        if self._tokens is None:
            self.runs_dir.mkdir(parents=True, exist_ok=True)
            atomic_write_json(self.out / "config.json", self.config.to_dict())
            if self.tokenizer is None:
                self.tokenizer = AutoTokenizer.from_pretrained(resolve_teacher(self.config.teacher))
            self._tokens = prepare_data(self.config, self.tokenizer)
            tokens, extra = self._tokens
            self.log(
                f"data: {self.config.task}  train {len(tokens['train'])}  validation "
                f"{len(tokens['validation'])}  test {len(tokens['test'])}"
                + (f"  cross-domain: {', '.join(extra)}" if extra else "")
            )
        return self._tokens

    @property
    def teacher(self) -> Any:
        """The fine-tuned teacher: trained on first use, later loaded from its folder."""
        if self._teacher is None:
            self._load_teacher()
        return self._teacher

    def _load_teacher(self) -> None:
        config, tokens, extra = self.config, self.tokens, self.cross_domain
        start = time.perf_counter()
        teacher, self.tokenizer, history, folder = _get_teacher(
            config, self.out, tokens, self.progress
        )
        use_cuda = torch.cuda.is_available() and config.teacher_train.device in ("auto", "cuda")
        teacher.to("cuda" if use_cuda else "cpu")
        path = self.runs_dir / f"teacher-{_teacher_key(config)}-{_eval_key(config)}.json"
        if path.is_file():
            record = json.loads(path.read_text())
        else:
            test, cross = _evaluate_all(
                teacher, tokens, extra, self.tokenizer, config.teacher_train.eval_batch_size
            )
            record = {
                "name": "teacher",
                "kind": "reference",
                "layers": list(range(self.n_teacher)),
                "test": test,
                "cross_domain": cross,
                "history": history,
                "checkpoint": str(folder),
            }
            atomic_write_json(path, record)
        self._teacher, self.teacher_record = teacher, record
        self.log(
            f"teacher: test accuracy {record['test']['accuracy']:.4f} "
            f"({time.perf_counter() - start:.0f} s)"
        )

    @property
    def majority(self) -> dict[str, Any]:
        """The majority class of the training split and its accuracy on every test set."""
        if self._majority is None:
            tokens, extra = self._data()
            cls = int(np.bincount(np.asarray(tokens["train"]["label"])).argmax())
            self._majority = {
                "class": cls,
                "accuracy": float((np.asarray(tokens["test"]["label"]) == cls).mean()),
                "cross_domain": {
                    name: float((np.asarray(d["label"]) == cls).mean()) for name, d in extra.items()
                },
                "test_labels": [int(v) for v in tokens["test"]["label"]],
            }
            atomic_write_json(self.out / "majority.json", self._majority)
        return self._majority

    # -- students ------------------------------------------------------------------------------

    def job(self, name: str | Sequence[int], seed: int) -> Job:
        """The planned run for a strategy/baseline name (or alias) and seed."""
        label = (
            name
            if name in BASELINES
            else _run_label(canonical_strategy(name) if isinstance(name, str) else name)
        )
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
        path = self.runs_dir / job.filename
        if path.is_file():
            return json.loads(path.read_text())
        teacher, tokens, extra = self.teacher, self.tokens, self.cross_domain
        start = time.perf_counter()
        student = make_student(teacher, job.layers, init=job.init, seed=job.seed)
        result = distill(
            student,
            teacher,
            tokens,
            job.train_config.replace(progress=self.progress),
            tokenizer=self.tokenizer,
        )
        test, cross = _evaluate_all(
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
        atomic_write_json(path, record)
        return record

    def efficiency(self) -> dict[str, Any]:
        """Parameters and measured latency (median of 5 batches of 32) of teacher vs student."""
        teacher, tokens = self.teacher, self.tokens
        student = make_student(teacher, self.jobs[0].layers)
        t_teacher = _measure_latency(teacher, tokens, self.tokenizer)
        t_student = _measure_latency(student, tokens, self.tokenizer)
        p_teacher = sum(p.numel() for p in teacher.parameters())
        p_student = sum(p.numel() for p in student.parameters())
        efficiency = {
            "device": str(next(teacher.parameters()).device),
            "batch_size": 32,
            "teacher_layers": self.n_teacher,
            "student_layers": self.config.student_layers,
            "teacher_params": p_teacher,
            "student_params": p_student,
            "param_ratio": p_teacher / p_student,
            "teacher_latency_s": t_teacher,
            "student_latency_s": t_student,
            "speedup": t_teacher / t_student,
        }
        atomic_write_json(self.out / "efficiency.json", efficiency)
        return efficiency

    def results(self) -> Results:
        """Run every missing job of the config, then summarise (tables written to disk)."""
        _ = self.teacher
        records = []
        for i, job in enumerate(self.jobs, start=1):
            tag = f"[{i}/{len(self.jobs)}] {job.name} seed {job.seed}"
            done_before = (self.runs_dir / job.filename).is_file()
            record = self.run(job.name, job.seed)
            records.append(record)
            how = "finished earlier" if done_before else f"{record['seconds']:.0f} s"
            self.log(f"{tag}: test accuracy {record['test']['accuracy']:.4f} ({how})")
        efficiency = self.efficiency() if self.config.measure_latency else {}
        results = summarise(
            self.config, records, self.teacher_record, self.majority, efficiency, self.out
        )
        results.save_tables()
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


def load_results(output_dir: str | Path) -> Results:
    """Rebuild :class:`Results` from a finished output folder, without training anything."""
    out = Path(output_dir)
    config_file = out / "config.json"
    if not config_file.is_file():
        raise FileNotFoundError(f"{out} holds no config.json; run compare_strategies first.")
    config = ExperimentConfig(**json.loads(config_file.read_text()))
    n_teacher = validate(config)
    runs_dir = out / "runs"
    missing = [
        job.filename for job in plan(config, n_teacher) if not (runs_dir / job.filename).is_file()
    ]
    if missing:
        raise FileNotFoundError(
            f"{len(missing)} runs of this config are not finished (e.g. {missing[0]}); "
            "run compare_strategies(config) to finish them."
        )
    records = [json.loads((runs_dir / job.filename).read_text()) for job in plan(config, n_teacher)]
    teacher_file = runs_dir / f"teacher-{_teacher_key(config)}-{_eval_key(config)}.json"
    teacher_record = json.loads(teacher_file.read_text())
    majority = json.loads((out / "majority.json").read_text())
    efficiency_file = out / "efficiency.json"
    efficiency = json.loads(efficiency_file.read_text()) if efficiency_file.is_file() else {}
    return summarise(config, records, teacher_record, majority, efficiency, out)


# ---------------------------------------------------------------------------------------------
# Summaries


def summarise(
    config: ExperimentConfig,
    records: list[dict[str, Any]],
    teacher_record: dict[str, Any],
    majority: dict[str, Any],
    efficiency: dict[str, Any],
    out: Path,
) -> Results:
    """Build the tables of :class:`Results` from run records (pure function of the JSONs)."""
    rows, history_rows = [], []
    for r in records:
        reason = collapse_reason(
            r["test"]["predicted_counts"], r["test"]["accuracy"], majority["accuracy"]
        )
        row = {
            "name": r["name"],
            "kind": r["kind"],
            "seed": r["seed"],
            "layers": r["layers"],
            "init": r["init"],
            "test_accuracy": r["test"]["accuracy"],
            "test_macro_f1": r["test"]["macro_f1"],
            "test_loss": r["test"]["loss"],
            "predicted_counts": r["test"]["predicted_counts"],
            "positive_share": r["test"]["predicted_counts"][-1] / r["test"]["n"],
            "collapsed": reason is not None,
            "collapse_reason": reason or "",
            "best_epoch": r["best_epoch"],
            "seconds": r["seconds"],
            "predictions": r["test"]["predictions"],
        }
        for domain, m in r.get("cross_domain", {}).items():
            row[f"accuracy[{domain}]"] = m["accuracy"]
        rows.append(row)
        for h in r["history"]:
            history_rows.append({"name": r["name"], "kind": r["kind"], "seed": r["seed"], **h})
    runs = pd.DataFrame(rows)
    histories = pd.DataFrame(history_rows)

    names = list(dict.fromkeys(runs["name"])) if len(runs) else []
    summary_rows = []
    for name in names:
        sub = runs[runs["name"] == name]
        mean, std, low, high = mean_ci(sub["test_accuracy"])
        row = {
            "name": name,
            "kind": sub["kind"].iloc[0],
            "layers": "random" if sub["init"].iloc[0] == "random" else sub["layers"].iloc[0],
            "n_seeds": len(sub),
            "mean_accuracy": mean,
            "std": std,
            "ci_low": low,
            "ci_high": high,
            "mean_macro_f1": float(sub["test_macro_f1"].mean()),
            "collapsed": int(sub["collapsed"].sum()),
        }
        for col in sub.columns:
            if col.startswith("accuracy["):
                row[col] = float(sub[col].mean())
        summary_rows.append(row)
    t = teacher_record
    summary_rows.append(
        {
            "name": "teacher",
            "kind": "reference",
            "layers": t["layers"],
            "n_seeds": 1,
            "mean_accuracy": t["test"]["accuracy"],
            "std": math.nan,
            "ci_low": math.nan,
            "ci_high": math.nan,
            "mean_macro_f1": t["test"]["macro_f1"],
            "collapsed": 0,
            **{f"accuracy[{d}]": m["accuracy"] for d, m in t.get("cross_domain", {}).items()},
        }
    )
    summary_rows.append(
        {
            "name": "majority",
            "kind": "reference",
            "layers": None,
            "n_seeds": 1,
            "mean_accuracy": majority["accuracy"],
            "std": math.nan,
            "ci_low": math.nan,
            "ci_high": math.nan,
            "mean_macro_f1": math.nan,
            "collapsed": 0,
            **{f"accuracy[{d}]": v for d, v in majority["cross_domain"].items()},
        }
    )
    summary = pd.DataFrame(summary_rows)

    # paired bootstrap between every pair of runs that share seeds and the test set
    labels = np.asarray(majority["test_labels"])
    correct = {
        n: np.asarray(runs[runs["name"] == n].sort_values("seed")["predictions"].tolist()) == labels
        for n in names
    }
    seeds_of = {n: tuple(sorted(runs[runs["name"] == n]["seed"])) for n in names}
    kind_of = {n: runs[runs["name"] == n]["kind"].iloc[0] for n in names}
    pair_rows = []
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            if seeds_of[a] == seeds_of[b]:
                res = paired_bootstrap(
                    correct[a], correct[b], n_resamples=config.bootstrap_resamples
                )
                kinds = {kind_of[a], kind_of[b]}
                family = "strategies" if kinds == {"strategy"} else "baselines"
                pair_rows.append({"a": a, "b": b, "family": family, **res})
    columns = ["a", "b", "family", "diff", "ci_low", "ci_high", "p_value"]
    pairwise = pd.DataFrame(pair_rows, columns=columns)
    # Holm's correction within each family: strategy-vs-strategy pairs (the question asked)
    # and pairs involving a baseline (sanity checks), so adding baselines does not make the
    # strategy comparisons more conservative.
    pairwise["p_holm"] = np.nan
    for _, index in pairwise.groupby("family").groups.items():
        pairwise.loc[index, "p_holm"] = holm(pairwise.loc[index, "p_value"].tolist())
    pairwise["significant"] = pairwise["p_holm"] < 0.05

    # "vs best": is each strategy/baseline significantly worse than the best strategy?
    strategies = summary[summary["kind"] == "strategy"]
    vs_best = []
    best = strategies.loc[strategies["mean_accuracy"].idxmax(), "name"] if len(strategies) else None
    for _, row in summary.iterrows():
        if row["kind"] == "reference" or best is None:
            vs_best.append("")
        elif row["name"] == best:
            vs_best.append("best")
        else:
            hit = pairwise[
                ((pairwise["a"] == best) & (pairwise["b"] == row["name"]))
                | ((pairwise["b"] == best) & (pairwise["a"] == row["name"]))
            ]
            if hit.empty:
                vs_best.append("n/a")
            else:
                p = float(hit["p_holm"].iloc[0])
                vs_best.append(f"{'significant' if p < 0.05 else 'n.s.'} (p={p:.3g})")
    summary["vs_best"] = vs_best
    layer_maps = {n: list(runs[runs["name"] == n]["layers"].iloc[0]) for n in names}
    return Results(
        config,
        runs,
        histories,
        teacher_record,
        majority,
        summary,
        pairwise,
        efficiency,
        out,
        layer_maps,
    )
