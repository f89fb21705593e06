"""The run store: which runs a comparison needs, what their files are called, and reading them.

Every finished run is one JSON file in ``<output_dir>/runs/``, named by a key hashed from
everything that determines it (teacher, data, sizes, training settings, strategy, seed). So a
re-run skips what is finished, a changed config never mixes in stale results, and a run that
was killed midway is simply redone (files are written atomically, see :mod:`distill_lib._io`).

A file that cannot be read back (truncated by a full disk, emptied, or written by something
else) is *set aside*: renamed to ``<name>.damaged-<time>`` (never deleted), reported by name,
and its run is redone. Only one ``compare`` works in a folder at a time (:meth:`RunStore.lock`).
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._io import atomic_write_json, atomic_write_text
from ..layers import describe_strategy, is_data_driven, select_layers
from ..train_config import TrainConfig
from .config import ExperimentConfig, budget_train_config, recipe_train_config
from .keys import RUN_FORMAT, migrate_run_record, run_key, train_key

RUN_FIELDS = ("name", "kind", "seed", "layers", "init", "history", "best_epoch", "test")
TEST_FIELDS = ("accuracy", "macro_f1", "loss", "n", "predicted_counts", "predictions")
TEACHER_FIELDS = ("name", "layers", "test")


def teacher_key(config: ExperimentConfig) -> str:
    """Key of the fine-tuned teacher: its source, the data it saw and how it was trained."""
    return run_key(
        RUN_FORMAT,
        config.teacher,
        config.task,
        config.text_column,
        config.label_column,
        config.train_size,
        config.validation_size,
        config.max_length,
        train_key(config.teacher_train),
    )


def eval_key(config: ExperimentConfig) -> str:
    """Key of what every model is evaluated on (test subset and cross-domain sets)."""
    return run_key(config.test_size, sorted(config.cross_domain), config.cross_domain_size)


@dataclass(frozen=True)
class Job:
    """One student to train: a strategy or baseline at one seed (and a recipe or budget of the
    comparison's axes, where it is on one)."""

    name: str
    kind: str
    layers: list[int] | None
    """The teacher layers; None for a data-driven strategy not yet measured on the teacher."""
    init: str
    seed: int
    train_config: TrainConfig
    key: str
    data_driven: bool = False
    recipe: str = "logits"
    """The loss recipe (:data:`~distill_lib.experiment.config.RECIPES`)."""
    budget: int | None = None
    """Epochs on the budget axis; None for the main runs and the recipe axis."""
    architecture: str = "same"
    """``"same"`` (the teacher's class) or ``"distilbert"`` (``distilbert_strategies``)."""

    @property
    def variant(self) -> str:
        """``""`` for a main run, else what sets it apart: ``"hidden"``, ``"16 epochs"``,
        ``"distilbert"``."""
        if self.architecture != "same":
            return self.architecture
        if self.budget is not None:
            return f"{self.budget} epoch{'s' if self.budget > 1 else ''}"
        return "" if self.recipe == "logits" else self.recipe

    @property
    def label(self) -> str:
        """The name, with the variant in brackets where there is one (for logs)."""
        return f"{self.name} ({self.variant})" if self.variant else self.name

    @property
    def filename(self) -> str:
        tag = "" if not self.variant else "-" + self.variant.replace(" epochs", "ep").replace(
            " epoch", "ep")
        return f"{self.name}{tag}-seed{self.seed}-{self.key}.json"


_Spec = tuple[str, str, "list[int] | None", str, "float | None"]  # name, kind, layers, init, alpha


def _specs(config: ExperimentConfig, n_teacher: int, measured: dict[str, Any] | None
           ) -> list[_Spec]:
    """The students of the main runs: each strategy, then the student baselines."""
    specs: list[_Spec] = []
    maps: dict[tuple[int, ...], str] = {}
    for strategy in config.strategies:
        name = describe_strategy(strategy)
        if is_data_driven(strategy):
            layers = None
            if measured is not None:
                layers = select_layers(
                    strategy, n_teacher, config.student_layers, measured=measured
                )
            specs.append((name, "strategy", layers, "teacher", None))
            continue
        layers = select_layers(strategy, n_teacher, config.student_layers, seed=0)
        if tuple(layers) in maps:
            raise ValueError(
                f"strategies {maps[tuple(layers)]!r} and {name!r} both keep teacher layers "
                f"{layers} of {n_teacher}: the same student would be trained twice; drop one"
            )
        maps[tuple(layers)] = name
        specs.append((name, "strategy", layers, "teacher", None))
    if "random-init" in config.baselines:
        layers = select_layers("first", n_teacher, config.student_layers)
        specs.append(("random-init", "baseline", layers, "random", None))
    if "no-kd" in config.baselines:
        layers = select_layers(config.no_kd_layers, n_teacher, config.student_layers)
        specs.append(("no-kd", "baseline", layers, "teacher", 0.0))
    return specs


def plan(
    config: ExperimentConfig, n_teacher: int, measured: dict[str, Any] | None = None
) -> list[Job]:
    """Every student run of the comparison, with the key that names its JSON.

    The main runs first (every strategy and baseline at every seed), then the recipe axis and
    the budget axis (:class:`ExperimentConfig` ``recipes``/``budgets``), each for its
    strategies. A data-driven strategy (``influence``, ``cka-cover``, ``drop``) gets its
    layers from ``measured`` (the teacher's measurements) and ``None`` until they exist. Its
    key does not depend on them: the measurements follow from the teacher (its key) and the
    calibration size, both in the key. It may pick the same layers as a fixed strategy; the
    runner then reuses that run instead of training the same student twice. A run's key holds
    its whole training config, so a recipe's loss weights and a budget's epochs and schedule
    name different files.

    Raises:
        ValueError: a strategy cannot be built for this teacher depth, or two fixed strategies
            give the same layer map (the same student would be trained twice).
    """
    specs = _specs(config, n_teacher, measured)
    variants: list[tuple[str, int | None, list[str] | None, str]] = [
        ("logits", None, None, "same")]
    variants += [(r, None, config.axis_names("recipe"), "same") for r in config.recipes
                 if r != "logits"]
    variants += [("logits", b, config.axis_names("budget"), "same") for b in config.budgets]
    if config.distilbert_strategies:
        variants.append(("logits", None, config.distilbert_strategies, "distilbert"))
    jobs, keys = [], set()
    for recipe, budget, names, architecture in variants:
        for spec in specs:
            if names is not None and spec[0] not in names:
                continue
            for seed in config.seeds:
                job = _job(config, spec, seed, recipe, budget, architecture)
                if job.key not in keys:  # e.g. a budget equal to the main runs' settings
                    jobs.append(job)
                    keys.add(job.key)
    return jobs


def _job(config: ExperimentConfig, spec: _Spec, seed: int, recipe: str, budget: int | None,
         architecture: str = "same") -> Job:
    name, kind, layers, init, alpha = spec
    train_config = recipe_train_config(config.student_train.replace(seed=seed), recipe)
    if budget is not None:
        train_config = budget_train_config(train_config, budget)
    if alpha is not None:
        train_config = train_config.replace(alpha=alpha)
    data_driven = is_data_driven(name)
    chosen_by = ("measured", config.calibration_size) if data_driven else layers
    parts: list[Any] = [RUN_FORMAT, teacher_key(config), eval_key(config), name, chosen_by, init,
                        train_key(train_config)]
    if architecture != "same":  # (added later: a same-class run keeps the key it had)
        parts.append({"architecture": architecture})
    return Job(name, kind, layers, init, seed, train_config, run_key(*parts), data_driven,
               recipe, budget, architecture)


def budget_group(jobs: Sequence[Job], job: Job) -> list[Job]:
    """The budget-axis runs of ``job``'s student and seed, shortest first ([] off the axis)."""
    if job.budget is None:
        return []
    same = [j for j in jobs if j.budget is not None and (j.name, j.seed) == (job.name, job.seed)]
    return sorted(same, key=lambda j: j.budget or 0)


def _missing(record: Any, fields: Sequence[str]) -> list[str]:
    if not isinstance(record, dict):
        return list(fields)
    return [f for f in fields if f not in record]


def check_run_record(record: Any, job: Job | None = None) -> str | None:
    """Why ``record`` is not a finished run's JSON (of ``job``, if given), or None if it is."""
    missing = _missing(record, RUN_FIELDS)
    if missing:
        return f"it lacks {', '.join(missing)}"
    missing = _missing(record["test"], TEST_FIELDS)
    if missing:
        return f"its test metrics lack {', '.join(missing)}"
    if len(record["test"]["predictions"]) != record["test"]["n"]:
        return "its predictions do not match its number of test sentences"
    if job is not None and (record.get("key"), record["seed"]) != (job.key, job.seed):
        return f"it belongs to another run (key {record.get('key')}, seed {record['seed']})"
    return None


def check_teacher_record(record: Any) -> str | None:
    """Why ``record`` is not a teacher evaluation JSON, or None if it is."""
    missing = _missing(record, TEACHER_FIELDS)
    if missing:
        return f"it lacks {', '.join(missing)}"
    missing = _missing(record["test"], TEST_FIELDS)
    return f"its test metrics lack {', '.join(missing)}" if missing else None


def _pid_alive(pid: int) -> bool:
    """Whether process ``pid`` runs; False where that cannot be asked without harm.

    Only for naming a lock's holder in a message: the lock itself never depends on it.
    """
    if os.name != "posix":
        return False  # on Windows os.kill(pid, 0) would terminate the process
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):
        return False
    except PermissionError:
        return True  # it runs, as another user
    return True


class RunStore:
    """The files of one comparison's output folder.

    ``<root>/config.json``, ``majority.json``, ``efficiency.json``, the tables, the fine-tuned
    teacher ``teacher-<key>/`` and ``runs/<name>-seed<seed>-<key>.json``.

    Args:
        root: the output folder.
        log: called with one line when a damaged file is set aside (``print`` by default).
        redo_hint: the end of that line, what becomes of the file's run: ``it will be redone``
            for the comparison that trains; a reader that trains nothing says how to redo it.
    """

    def __init__(
        self, root: str | os.PathLike, *, log: Any = print, redo_hint: str = "it will be redone"
    ) -> None:
        self.root = Path(root)
        self.runs_dir = self.root / "runs"
        self.log = log or (lambda *_: None)
        self.redo_hint = redo_hint
        self.set_aside: list[Path] = []

    # -- paths ---------------------------------------------------------------------------------

    @property
    def config_path(self) -> Path:
        return self.root / "config.json"

    @property
    def majority_path(self) -> Path:
        return self.root / "majority.json"

    @property
    def efficiency_path(self) -> Path:
        return self.root / "efficiency.json"

    def run_path(self, job: Job) -> Path:
        return self.runs_dir / job.filename

    def teacher_folder(self, config: ExperimentConfig) -> Path:
        return self.root / f"teacher-{teacher_key(config)}"

    def teacher_record_path(self, config: ExperimentConfig) -> Path:
        return self.runs_dir / f"teacher-{teacher_key(config)}-{eval_key(config)}.json"

    def layer_scores_path(self, config: ExperimentConfig) -> Path:
        """The teacher's layer measurements (data-driven strategies), one file per teacher."""
        return self.root / f"layer-scores-{teacher_key(config)}-{config.calibration_size}.json"

    # -- reading -------------------------------------------------------------------------------

    def damaged(self, path: Path, why: str) -> None:
        """Set ``path`` aside as ``<name>.damaged-<time>`` (never deleted) and say so."""
        target = path.with_name(f"{path.name}.damaged-{time.strftime('%Y%m%d-%H%M%S')}")
        n = 1
        while target.exists():
            n += 1
            target = target.with_name(f"{path.name}.damaged-{time.strftime('%Y%m%d-%H%M%S')}-{n}")
        os.replace(path, target)
        self.set_aside.append(target)
        self.log(f"damaged file {path}: {why}; set aside as {target.name}, {self.redo_hint}")

    def read_json(self, path: Path, check: Any = None) -> Any:
        """The JSON at ``path``; None if it is absent, or damaged (then it is set aside).

        ``check(record)`` returns why a parsed record is unusable, or None.
        """
        if not path.is_file():
            return None
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            self.damaged(path, f"not valid JSON ({err.msg if hasattr(err, 'msg') else err})")
            return None
        why = check(record) if check else None
        if why:
            self.damaged(path, why)
            return None
        return record

    def read_run(self, job: Job) -> dict[str, Any] | None:
        """A finished run's record (migrated to today's key schema), or None if it must be
        (re)done."""
        record = self.read_json(self.run_path(job), lambda r: check_run_record(r, job))
        return None if record is None else migrate_run_record(record)

    def is_finished(self, job: Job) -> bool:
        """Whether the run's file exists (without reading it: cheap, for progress lines)."""
        return self.run_path(job).is_file()

    def write(self, path: Path, record: Any) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        return atomic_write_json(path, record)

    # -- one comparison at a time --------------------------------------------------------------

    @property
    def _pid_path(self) -> Path:
        return self.root / ".lock.pid"

    def _holder(self) -> str:
        """`` (process <pid>)`` if ``.lock.pid`` names a live process, else ``""``.

        For the message only: the holder may not have written it yet, or it may be left by a
        killed process (then its pid is not alive, or at worst names the wrong process).
        """
        try:
            pid = int(self._pid_path.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return ""
        return f" (process {pid})" if pid > 0 and _pid_alive(pid) else ""

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold ``<root>/.lock`` while training; a second ``compare`` on the folder is refused.

        The lock is the operating system's (:class:`filelock.FileLock`: ``flock`` on POSIX),
        taken without waiting. It belongs to an open file, so it dies with its process: a lock
        left by a killed process (``kill -9``, a crash) is simply free again, and two processes
        can never both hold it. The empty file ``.lock`` stays when released (deleting it would
        let a third process lock a new file while a second holds the old one). ``.lock.pid``
        names the holder in the message; nothing else reads it.

        Raises:
            RuntimeError: another process (or another ``lock()`` in this one) holds the lock.
        """
        from filelock import FileLock, Timeout  # only when a comparison runs: --help stays fast

        self.root.mkdir(parents=True, exist_ok=True)
        held = FileLock(self.root / ".lock", timeout=0)
        try:
            held.acquire()
        except Timeout:
            raise RuntimeError(
                f"another comparison{self._holder()} is running in {self.root}; wait for it to "
                "finish, or use another --output-dir"
            ) from None
        try:
            with contextlib.suppress(OSError):
                atomic_write_text(self._pid_path, f"{os.getpid()}\n")
            yield
        finally:
            with contextlib.suppress(OSError):
                self._pid_path.unlink(missing_ok=True)
            held.release()
