"""Training one student run and turning it into the records its JSON files hold.

A main run or a recipe run is one training and one record. A run on the budget axis trains
once for the largest budget still missing in its group (same student, same seed) and keeps a
:class:`~distill_lib.train.Snapshot` at each smaller missing budget: under the budget axis's
constant schedule the first epochs of a longer run *are* the shorter run, so each snapshot,
evaluated like a finished run, is that run's record (``tests/test_axes.py`` checks this
against a separately trained shorter run).

The functions take the :class:`~distill_lib.experiment.runner.Experiment` as ``exp`` (its
teacher, data and tokenizer); they write nothing: the runner's process is the one writer.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Sequence
from typing import Any

import torch

from ..device import placement
from ..student import make_student
from ..train import TrainResult, distill
from .evaluation import evaluate_all, validation_probabilities
from .keys import KEY_SCHEMA, RUN_FORMAT
from .store import Job, budget_group
from .story import updates


def snapshot_targets(jobs: Sequence[Job], job: Job, finished: Callable[[Job], bool]
                     ) -> list[Job]:
    """The shorter budget runs of ``job``'s group that training ``job`` also gives: those not
    finished yet (``finished(job)``), shorter than ``job``."""
    return [other for other in budget_group(jobs, job)
            if (other.budget or 0) < (job.budget or 0) and not finished(other)]


def train_records(exp: Any, job: Job, shorter: Sequence[Job] = ()) -> list[tuple[Job, dict]]:
    """Distil and evaluate ``job``'s student; also the records of the ``shorter`` budget runs
    its training passes through (:func:`snapshot_targets`). Writes nothing."""
    teacher, tokens = exp.teacher, exp.tokens
    start = time.perf_counter()
    student = make_student(teacher, job.layers, init=job.init, seed=job.seed,
                           architecture=job.architecture)  # type: ignore[arg-type]
    result = distill(
        student, teacher, tokens, job.train_config.replace(progress=exp.progress),
        tokenizer=exp.tokenizer, snapshots=[j.budget for j in shorter if j.budget],
    )
    trained = time.perf_counter()
    exp._trained = True
    record = _evaluated(exp, job, result.model, result, start)
    _spent_on_student(exp, result.history, start, trained)
    records = [(job, record)]
    by_epochs = {snap.epochs: snap for snap in result.snapshots}
    for other in shorter:
        t = time.perf_counter()
        snap = by_epochs[other.budget]
        model = copy.deepcopy(result.model)
        model.load_state_dict(snap.state)
        short = TrainResult(model, result.history[: snap.epochs], snap.best_epoch,
                            {k: v for k, v in snap.validation.items()
                             if k in ("loss", "accuracy", "macro_f1")})
        rec = _evaluated(exp, other, model, short, t)
        rec.update({"prefix_of": job.key, "seconds": 0.0})
        exp._spent("students: test + cross-domain evaluation", time.perf_counter() - t)
        records.append((other, rec))
    return records


def _evaluated(exp: Any, job: Job, model: Any, result: TrainResult, start: float) -> dict:
    """The record of ``job``: its settings, history, best epoch and test evaluation."""
    where = placement(job.train_config.device, job.train_config.mixed_precision)
    test, cross = evaluate_all(
        model, exp.tokens, exp.cross_domain, exp.tokenizer, job.train_config.eval_batch_size,
        precision=where.precision,
    )
    record = {
        "format": RUN_FORMAT,
        "key_schema": KEY_SCHEMA,
        "key": job.key,
        "name": job.name,
        "kind": job.kind,
        "seed": job.seed,
        "layers": job.layers,
        "init": job.init,
        "recipe": job.recipe,
        "budget_epochs": job.budget,
        "architecture": job.architecture,
        "teacher_layers": exp.n_teacher,
        "train_config": job.train_config.to_dict(),
        "updates": updates(len(exp.tokens["train"]), job.train_config.batch_size,
                           job.train_config.grad_accum_steps, job.train_config.epochs),
        "history": result.history,
        "best_epoch": result.best_epoch,
        "validation": result.best_validation,
        "test": test,
        "validation_probabilities": validation_probabilities(
            model, exp.tokens, exp.tokenizer, job.train_config.eval_batch_size, where.precision),
        "cross_domain": cross,
        "seconds": time.perf_counter() - start,
        "threads": torch.get_num_threads(),  # (a footprint trains it again with as many)
    }
    if job.data_driven:
        record["selection"] = exp._selection(job)
    return record


def _spent_on_student(exp: Any, history: list[dict], start: float, trained: float) -> None:
    train_s = sum(h["train_seconds"] for h in history)
    validation_s = sum(h["seconds"] - h["train_seconds"] for h in history)
    exp._spent("students: training steps", train_s)
    exp._spent("students: validation each epoch", validation_s)
    exp._spent("students: test + cross-domain evaluation", time.perf_counter() - trained)
    exp._spent("students: set-up (copy, optimiser, logits)",
               trained - start - train_s - validation_s)
