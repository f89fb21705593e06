"""One training loop for fine-tuning a teacher and distilling a student.

    from distill_lib import load_task, load_teacher, make_student, tokenize
    from distill_lib.train import TrainConfig, fine_tune, distill

    data = load_task("movie-snippets")
    teacher, tokenizer = load_teacher("minilm-l6")
    tokens = tokenize(data, tokenizer)
    fine_tune(teacher, tokens, TrainConfig(epochs=2), tokenizer=tokenizer)
    student = make_student(teacher, [0, 2, 5])
    result = distill(student, teacher, tokens, TrainConfig(epochs=3), tokenizer=tokenizer)
    result.history_frame()          # one row per epoch

or from a shell: ``distill-lib compare --preset quick`` (see :mod:`distill_lib.cli`).

Read :func:`_train_loop` top to bottom: it is the whole algorithm, as named steps
(:func:`_train_epoch`, :func:`_update`, :func:`_validate`, ...). Everything else prepares
its inputs. What makes it fast without making it harder to read:

* **Teacher logits are computed once** (:func:`teacher_logits`): the teacher does not change
  while the student learns, so its logits on the training set are computed once and cached
  (memory and disk), keyed by its weights and the tokenised data. Only the intermediate-layer
  losses need its hidden states or attention maps, too large to cache: then it runs on every
  batch, as in the papers.
* **Dynamic padding and length-grouped batches** (:func:`distill_lib.data.make_dataloader`).
* **Less work per example, the same model** (:mod:`distill_lib.fast`, each a
  :class:`TrainConfig` switch, on by default): the last layer computes only the first token,
  the other layers skip padding tokens in their matmuls, and only the word-embedding rows the
  data contains are trained (see ``benchmarks/README.md`` for what each is worth).
* **accelerate** places model and batches on the device and runs autocast where
  :func:`distill_lib.device.placement` (the one home of the device and precision rule) says;
  AdamW uses PyTorch's fused kernel on CUDA, CPU and MPS (:func:`make_optimizer`).
* **Layer maps that move** (``TrainConfig.layer_mapping``, :mod:`distill_lib.layer_mapping`):
  the loss is told when each epoch begins (``rail`` draws its map from its own generator,
  seeded with the run's seed) and what it used goes into that epoch's history row.
* **One random stream per run.** :func:`fine_tune` and :func:`distill` seed once, at the
  start; everything random in the run (a projection of the hidden loss, the shuffling, every
  loader's per-epoch draw, dropout) follows from that seed, and nothing before it (other runs
  in the same process, cached or fresh teacher logits) changes it.

A :class:`TrainConfig` (torch-free, :mod:`distill_lib.train_config`, re-exported here) is
valid on any machine; whether *this* machine has its device is checked by
:func:`distill_lib.device.check_device` before anything is written.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from accelerate import Accelerator
from accelerate.utils import set_seed
from datasets import Dataset, DatasetDict
from torch import Tensor
from tqdm.auto import tqdm
from transformers import PreTrainedModel, PreTrainedTokenizerBase, get_scheduler

from ._io import atomic_directory, atomic_write_json
from .data.batching import check_tokenized, make_dataloader
from .device import check_device, placement
from .distill_step import INDEX_COLUMN, DistillStep
from .fast import CompactRows, cls_only_last_layer, compact_word_embeddings, unpadded_layers
from .inference import (  # noqa: F401 (re-exported: evaluation lives below the loop)
    _LOGITS_MEMORY,
    MODEL_INPUTS,
    evaluate_model,
    fingerprint_model,
    fingerprint_tokens,
    model_inputs,
    predict_logits,
    teacher_logits,
)
from .layer_mapping import MovingMapLoss
from .losses import DistillationLoss, LossOutput, hard_label_loss
from .student import layer_map
from .train_config import (  # noqa: F401 (TrainConfig lives there, torch-free; re-exported)
    _FIELD_RULES,
    DEVICES,
    MAX_SEED,
    MIXED_PRECISIONS,
    SCHEDULERS,
    SELECT_METRICS,
    TrainConfig,
)
from .train_setup import make_accelerator, make_optimizer


@dataclass
class Snapshot:
    """What a run of only ``epochs`` epochs would have returned: the best of its epochs so far.

    Under a schedule that does not depend on the number of epochs (``scheduler="constant"``
    and no warm-up), the first ``epochs`` epochs of a longer run *are* the shorter run, update
    for update and draw for draw (the loop draws nothing else), so its best epoch, validation
    and weights are exactly the shorter run's. ``state`` holds full weights on the CPU.
    """

    epochs: int
    best_epoch: int
    validation: dict[str, Any]
    state: dict[str, Tensor]


@dataclass
class TrainResult:
    """What a training run returns: the trained model (best epoch kept) and its history."""

    model: PreTrainedModel
    history: list[dict[str, Any]] = field(default_factory=list)
    best_epoch: int = 0
    best_validation: dict[str, float] = field(default_factory=dict)
    checkpoint: Path | None = None
    snapshots: list[Snapshot] = field(default_factory=list)
    """What shorter runs would have returned (see the ``snapshots`` argument of :func:`distill`)."""

    def history_frame(self):
        """The per-epoch history as a pandas DataFrame."""
        import pandas as pd

        return pd.DataFrame(self.history)


def _seed_run(seed: int) -> torch.Generator:
    """Seed the run's random stream, once, at its start; return the generator its loaders use.

    ``accelerate.utils.set_seed`` seeds Python, numpy and torch (CPU and CUDA). The run's
    stream is torch's default generator from here on: dropout draws from it, and the training
    and validation loaders are handed it explicitly (each new iterator draws one number).
    Nothing that ran before in the process, nor whether the teacher's logits were cached,
    changes what the run draws (``tests/test_seeding.py``).
    """
    set_seed(seed)
    return torch.default_generator


# ---------------------------------------------------------------------------------------------
# The loop


LossStep = Callable[[PreTrainedModel, dict[str, Tensor]], LossOutput]


@dataclass
class _Run:
    """What the steps of one training run share (built by :func:`_prepare`)."""

    config: TrainConfig
    accelerator: Accelerator
    model: Any  # the model as accelerate wraps it
    optimizer: torch.optim.Optimizer
    loader: Any
    scheduler: Any
    params: list[torch.nn.Parameter]
    rows: CompactRows | None
    generator: torch.Generator
    precision: str


@dataclass
class _Best:
    """The best epoch so far: its score, number, validation metrics and weights."""

    score: float = -math.inf
    epoch: int = 0
    validation: dict[str, Any] = field(default_factory=dict)
    state: dict[str, Tensor] | None = None
    decay: float = 1.0  # CompactRows.decay at that epoch


def _train_loop(
    model: PreTrainedModel,
    train_set: Dataset,
    validation_set: Dataset,
    config: TrainConfig,
    tokenizer: PreTrainedTokenizerBase,
    loss_step: LossStep,
    generator: torch.Generator,
    extra_modules: tuple[torch.nn.Module, ...] = (),
    on_device: Callable[[torch.device], None] | None = None,
    snapshots: Sequence[int] = (),
) -> TrainResult:
    """Train ``model`` with ``loss_step`` for ``config.epochs``; keep the best epoch.

    ``generator`` is the run's random stream (:func:`_seed_run`, called by the caller before
    anything random is made). ``on_device(device)`` runs once the device is known (the
    teacher's logits are computed there; they draw nothing from the run's stream).
    ``snapshots``: epochs after which to keep a :class:`Snapshot`.
    """
    accelerator = make_accelerator(config)
    if on_device is not None:
        on_device(accelerator.device)
    token_ids = (ids for split in (train_set, validation_set) for ids in split["input_ids"])
    with compact_word_embeddings(  # only the vocabulary rows these sentences contain
        model, token_ids, config.compact_embeddings, extra_ids=[tokenizer.pad_token_id]
    ) as rows:
        run = _prepare(model, train_set, config, tokenizer, accelerator, extra_modules,
                       rows, generator)
        history: list[dict[str, Any]] = []
        best = _Best()
        kept: list[Snapshot] = []
        for epoch in range(1, config.epochs + 1):
            start = time.perf_counter()
            sums, seen = _train_epoch(run, loss_step, epoch)
            train_seconds = time.perf_counter() - start
            val = _validate(run, validation_set, tokenizer)
            history.append(_epoch_record(run, epoch, sums, seen, val, start, train_seconds))
            history[-1].update(getattr(loss_step, "epoch_log", dict)())  # a moving layer map
            _keep_if_best(best, run, val, epoch)
            if epoch in snapshots:
                kept.append(_snapshot(run, best, epoch))
            _report_epoch(history[-1], val, config)
        model = _restore_best(run, best)
    checkpoint = Path(config.output_dir) if config.output_dir else None
    if checkpoint is not None:
        save_checkpoint(model, tokenizer, checkpoint, history=history)
    headline = {k: v for k, v in best.validation.items() if k in ("loss", "accuracy", "macro_f1")}
    return TrainResult(model, history, best.epoch, headline, checkpoint, kept)


def _prepare(
    model: PreTrainedModel,
    train_set: Dataset,
    config: TrainConfig,
    tokenizer: PreTrainedTokenizerBase,
    accelerator: Accelerator,
    extra_modules: tuple[torch.nn.Module, ...],
    rows: CompactRows | None,
    generator: torch.Generator,
) -> _Run:
    """Loader, optimiser (model and ``extra_modules``' parameters) and schedule, on the device."""
    loader = make_dataloader(
        train_set, tokenizer, config.batch_size, shuffle=True,
        group_by_length=config.group_by_length, seed=config.seed, generator=generator,
    )
    named = list(model.named_parameters())
    for i, module in enumerate(extra_modules):
        module.to(accelerator.device)
        named += [(f"extra{i}.{n}", p) for n, p in module.named_parameters()]
    optimizer = make_optimizer(named, config, accelerator.device)
    model, optimizer, loader = accelerator.prepare(model, optimizer, loader)
    total_updates = math.ceil(len(loader) / config.grad_accum_steps) * config.epochs
    scheduler = get_scheduler(
        config.scheduler,
        optimizer,
        num_warmup_steps=int(config.warmup_ratio * total_updates) * accelerator.num_processes,
        num_training_steps=total_updates * accelerator.num_processes,
    )
    scheduler = accelerator.prepare(scheduler)
    precision = placement(config.device, config.mixed_precision).precision
    return _Run(config, accelerator, model, optimizer, loader, scheduler,
                [p for _, p in named], rows, generator, precision)


def _train_epoch(run: _Run, loss_step: LossStep, epoch: int) -> tuple[dict[str, float], int]:
    """One pass over the training loader; returns the summed loss terms and examples seen."""
    config = run.config
    run.model.train()
    if hasattr(loss_step, "begin_epoch"):  # a moving layer map draws this epoch's map
        loss_step.begin_epoch()
    sums: dict[str, float] = {}
    seen = 0
    bar = tqdm(run.loader, desc=f"epoch {epoch}/{config.epochs}",
               disable=not config.progress, leave=False)
    for step, batch in enumerate(bar, start=1):
        out, loss_value = _update(run, loss_step, batch, f"epoch {epoch}, step {step}")
        n = len(batch["labels"])
        seen += n
        sums["loss"] = sums.get("loss", 0.0) + loss_value * n
        for name, value in out.terms.items():
            sums[name] = sums.get(name, 0.0) + value * n
        bar.set_postfix(loss=f"{sums['loss'] / seen:.4f}")
    return sums, seen


def _update(
    run: _Run, loss_step: LossStep, batch: dict[str, Tensor], where: str
) -> tuple[LossOutput, float]:
    """Forward, backward and (every ``grad_accum_steps`` batches) one optimiser update."""
    accelerator, optimizer = run.accelerator, run.optimizer
    with accelerator.accumulate(run.model):
        with accelerator.autocast():
            out = loss_step(run.model, batch)
        loss_value = float(out.total.detach())
        if not math.isfinite(loss_value):
            raise FloatingPointError(
                f"the training loss became {loss_value} at {where} (terms {out.terms}); lower "
                f"the learning rate (now {run.config.lr}) or use mixed_precision='no'."
            )
        accelerator.backward(out.total)
        if accelerator.sync_gradients and run.config.max_grad_norm:
            accelerator.clip_grad_norm_(run.params, run.config.max_grad_norm)
        optimizer.step()
        updated = accelerator.sync_gradients and not getattr(optimizer, "step_was_skipped", False)
        if run.rows is not None and updated:
            run.rows.after_step(optimizer)  # the weight decay of the untrained rows
        run.scheduler.step()
        optimizer.zero_grad(set_to_none=True)
    return out, loss_value


def _validate(
    run: _Run, validation_set: Dataset, tokenizer: PreTrainedTokenizerBase
) -> dict[str, Any]:
    """Validation metrics of the model as it is now (eval mode, the run's precision)."""
    return evaluate_model(
        run.accelerator.unwrap_model(run.model),
        validation_set,
        tokenizer=tokenizer,
        batch_size=run.config.eval_batch_size,
        device=run.accelerator.device,
        precision=run.precision,
        generator=run.generator,
    )


def _epoch_record(
    run: _Run,
    epoch: int,
    sums: dict[str, float],
    seen: int,
    val: dict[str, Any],
    start: float,
    train_seconds: float,
) -> dict[str, Any]:
    """One row of the history: training loss terms, validation metrics, lr and speed."""
    record: dict[str, Any] = {"epoch": epoch}
    record.update({f"train_{k}": v / seen for k, v in sums.items()})
    record.update(
        {
            "val_loss": val["loss"],
            "val_accuracy": val["accuracy"],
            "val_macro_f1": val["macro_f1"],
            "lr": run.scheduler.get_last_lr()[0],
            "seconds": time.perf_counter() - start,
            "train_seconds": train_seconds,
            "examples_per_second": seen / train_seconds,
        }
    )
    return record


def _keep_if_best(best: _Best, run: _Run, val: dict[str, Any], epoch: int) -> None:
    """Copy the weights (to the CPU) if this epoch is the best so far (or ``keep_best`` is off)."""
    config = run.config
    score = -val["loss"] if config.select_metric == "loss" else val[config.select_metric]
    if score > best.score or not config.keep_best:
        unwrapped = run.accelerator.unwrap_model(run.model)
        best.score, best.epoch, best.validation = score, epoch, val
        best.state = {k: v.detach().to("cpu", copy=True) for k, v in unwrapped.state_dict().items()}
        best.decay = run.rows.decay if run.rows is not None else 1.0


def _snapshot(run: _Run, best: _Best, epoch: int) -> Snapshot:
    """The best epoch so far as a :class:`Snapshot`, its word embeddings full-size (the rows
    :func:`~distill_lib.fast.compact_word_embeddings` left out get that epoch's decay)."""
    state = dict(best.state or {})
    if run.rows is not None:
        unwrapped = run.accelerator.unwrap_model(run.model)
        name = next(n for n, p in unwrapped.named_parameters() if p is run.rows.weight)
        state[name] = run.rows.full_weight(best.decay, weight=state[name]).cpu()
    return Snapshot(epoch, best.epoch, best.validation, state)


def _report_epoch(record: dict[str, Any], val: dict[str, Any], config: TrainConfig) -> None:
    if config.progress:
        tqdm.write(
            f"epoch {record['epoch']}: train loss {record['train_loss']:.4f}  "
            f"val loss {val['loss']:.4f}  val acc {val['accuracy']:.4f}  "
            f"({record['examples_per_second']:.0f} examples/s)"
        )


def _restore_best(run: _Run, best: _Best) -> PreTrainedModel:
    """The unwrapped model with the best epoch's weights (and compact rows' decay)."""
    model = run.accelerator.unwrap_model(run.model)
    if best.state is not None:
        model.load_state_dict(best.state)
        if run.rows is not None:
            run.rows.decay = best.decay
    if run.accelerator.device.type != "cpu":
        run.accelerator.free_memory()  # GPU memory back; on a CPU only a 0.3 s gc.collect()
    return model


def save_checkpoint(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase | None,
    path: str | os.PathLike,
    *,
    history: list[dict[str, Any]] | None = None,
) -> Path:
    """``save_pretrained`` (safetensors) of model and tokenizer into ``path``, atomically."""
    with atomic_directory(path) as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        if tokenizer is not None:
            tokenizer.save_pretrained(tmp)
        if history is not None:
            atomic_write_json(tmp / "history.json", history)
    return Path(path)


def _oom_message(config: TrainConfig) -> str:
    return (
        f"CUDA ran out of memory at batch_size={config.batch_size}. Try a smaller batch, e.g. "
        f"batch_size={max(1, config.batch_size // 2)} with "
        f"grad_accum_steps={config.grad_accum_steps * 2} (same effective batch)."
    )


@contextlib.contextmanager
def _logits_only_levers(model: PreTrainedModel, config: TrainConfig, enabled: bool = True):
    """The :mod:`distill_lib.fast` shortcuts that need a loss reading only the logits."""
    with cls_only_last_layer(model, enabled and config.cls_only_last_layer), unpadded_layers(
        model, enabled and config.unpadded_layers
    ):
        yield


def _hard_label_step(model: PreTrainedModel, batch: dict[str, Tensor]) -> LossOutput:
    """Cross-entropy on the labels: the loss of :func:`fine_tune`."""
    logits = model(**model_inputs(batch)).logits
    loss = hard_label_loss(logits, batch["labels"])
    return LossOutput(loss, {"hard": float(loss.detach())})


def fine_tune(
    model: PreTrainedModel,
    data: DatasetDict,
    config: TrainConfig | None = None,
    *,
    tokenizer: PreTrainedTokenizerBase,
) -> TrainResult:
    """Fine-tune ``model`` on ``data["train"]`` with cross-entropy; validate on ``validation``.

    ``data`` is a tokenised DatasetDict (see :func:`distill_lib.data.tokenize`). The model is
    trained in place and returned in the result with its best epoch's weights.
    """
    config = config or TrainConfig()
    check_tokenized(data, ("train", "validation"))
    check_device(config.device, config.mixed_precision)
    generator = _seed_run(config.seed)
    try:
        with _logits_only_levers(model, config):
            return _train_loop(
                model, data["train"], data["validation"], config, tokenizer,
                _hard_label_step, generator,
            )
    except torch.OutOfMemoryError as err:
        raise RuntimeError(_oom_message(config)) from err


def make_loss(
    config: Any,
    student: PreTrainedModel,
    teacher: PreTrainedModel,
    map_: list[int] | None = None,
) -> DistillationLoss:
    """The :class:`DistillationLoss` a config asks for, matched by the student's layer map.

    ``config``: a :class:`TrainConfig`, or anything with its loss fields (``temperature``,
    ``alpha`` and the three weights), e.g. ``DistillationTrainingArguments``. ``map_``: the
    teacher layer of each student layer; default the student's own (``make_student``).
    """
    settings: dict[str, Any] = dict(
        temperature=config.temperature,
        alpha=config.alpha,
        cos_weight=config.cos_weight,
        hidden_weight=config.hidden_weight,
        attention_weight=config.attention_weight,
        layer_map=map_ if map_ is not None else layer_map(student),
        hidden_size_S=student.config.hidden_size,
        hidden_size_T=teacher.config.hidden_size,
    )
    mapping = getattr(config, "layer_mapping", "fixed")  # (a Trainer's arguments: fixed)
    if mapping == "fixed":
        return DistillationLoss(**settings)
    return MovingMapLoss(layer_mapping=mapping, n_teacher=teacher.config.num_hidden_layers,
                         seed=config.seed, **settings)


def distill(
    student: PreTrainedModel,
    teacher: PreTrainedModel,
    data: DatasetDict,
    config: TrainConfig | None = None,
    *,
    tokenizer: PreTrainedTokenizerBase,
    loss_fn: DistillationLoss | None = None,
    logits_cache: bool | str | os.PathLike = True,
    snapshots: Sequence[int] = (),
) -> TrainResult:
    """Distil ``teacher`` into ``student`` on ``data["train"]``; validate on ``validation``.

    With the default loss (soft targets + hard labels) the teacher's logits come from
    :func:`teacher_logits`: one teacher pass over the training set, reused by every epoch and
    every later call with the same teacher and data. If ``loss_fn`` needs hidden states or
    attention maps, the teacher also runs on every batch. ``config.alpha = 0`` trains on hard
    labels only (the "teacher init, no KD" baseline) and never runs the teacher.

    The run is seeded first (before the loss's projection, if any, is drawn). The student is
    trained in place (and switched to eager attention if ``loss_fn`` needs attention maps).
    The teacher's weights are never changed, and what training changes on it (attention
    implementation, device, train/eval mode) is put back before returning, also when training
    fails. ``snapshots``: epochs after which to keep what a run of that many epochs would
    return (:class:`Snapshot`, in ``result.snapshots``; exact under a constant schedule).
    """
    config = config or TrainConfig()
    check_tokenized(data, ("train", "validation"))
    check_device(config.device, config.mixed_precision)
    generator = _seed_run(config.seed)
    loss_fn = loss_fn or make_loss(config, student, teacher)
    with _restored(teacher):
        return _distill(student, teacher, data, config, tokenizer, loss_fn, logits_cache,
                        generator, snapshots)


@contextlib.contextmanager
def _restored(model: PreTrainedModel) -> Iterator[None]:
    """Put back ``model``'s attention implementation, device and train/eval mode on exit."""
    attn = model.config._attn_implementation
    device = next(model.parameters()).device
    training = model.training
    try:
        yield
    finally:
        if attn is not None and model.config._attn_implementation != attn:
            model.set_attn_implementation(attn)
        if next(model.parameters()).device != device:
            model.to(device)
        model.train(training)


def _distill(
    student: PreTrainedModel,
    teacher: PreTrainedModel,
    data: DatasetDict,
    config: TrainConfig,
    tokenizer: PreTrainedTokenizerBase,
    loss_fn: DistillationLoss,
    logits_cache: bool | str | os.PathLike,
    generator: torch.Generator,
    snapshots: Sequence[int] = (),
) -> TrainResult:
    if loss_fn.needs_attentions:
        for model in (student, teacher):
            model.set_attn_implementation("eager")  # sdpa cannot return attention maps
    train_set = data["train"].add_column(INDEX_COLUMN, list(range(len(data["train"]))))
    step = DistillStep(teacher, loss_fn, config, data, tokenizer, logits_cache)
    try:
        with _logits_only_levers(student, config, enabled=not step.every_step):
            return _train_loop(
                student, train_set, data["validation"], config, tokenizer, step, generator,
                extra_modules=(loss_fn,), on_device=step.on_device, snapshots=snapshots,
            )
    except torch.OutOfMemoryError as err:
        raise RuntimeError(_oom_message(config)) from err
