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

Read :func:`_train_loop` top to bottom: it is the whole algorithm. Everything else prepares
its inputs. What makes it fast without making it harder to read:

* **Teacher logits are computed once.** Logit distillation needs the teacher's output for
  every training example, and the teacher does not change while the student learns, so
  :func:`teacher_logits` runs the teacher (in eval mode) over the training set once and
  caches the result, in memory and optionally on disk, keyed by the teacher's weights and the
  tokenised data. Every epoch, seed and layer strategy reuses it. Only the intermediate-layer
  losses (``cos_weight``, ``hidden_weight``, ``attention_weight`` > 0) need the teacher's
  hidden states or attention maps, which are too large to cache; then the teacher runs on
  every batch, as in the papers.
* **Dynamic padding and length-grouped batches.** Each batch is padded to its own longest
  sentence, and training batches are drawn from groups of similar length
  (:class:`transformers.trainer_pt_utils.LengthGroupedSampler`), so little compute is spent
  on padding.
* **Less work per example, the same model** (:mod:`distill_lib.fast`, each a
  :class:`TrainConfig` switch, on by default): the last layer computes only the first token
  (the classifier reads nothing else), the other layers skip padding tokens in their matmuls,
  and only the word-embedding rows the data contains are trained (the rest get AdamW's weight
  decay when training ends). Each switched off alone in the MiniLM benchmark: 1.31x, 1.14x and
  1.11x slower (`benchmarks/README.md`).
* **accelerate** places the model and batches on the device (CPU, CUDA, MPS, several GPUs
  under ``accelerate launch``) and runs bf16/fp16 autocast on CUDA (bf16 on CPU if asked);
  AdamW uses PyTorch's fused kernel on CUDA, CPU and MPS (see :func:`make_optimizer`).

Every :class:`TrainConfig` field is checked when the config is made (type, range, choices;
the rules are the table ``_FIELD_RULES``; both live in the torch-free
:mod:`distill_lib.train_config` and are re-exported here), but a config stays valid on any
machine, so that it can be saved and reloaded elsewhere. Whether *this* machine has the device
it asks for is checked by :func:`check_device`: call it before writing anything
(:func:`make_accelerator` calls it too).
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from accelerate import Accelerator
from accelerate.utils import set_seed
from datasets import Dataset, DatasetDict
from safetensors.torch import load_file, save_file
from torch import Tensor
from tqdm.auto import tqdm
from transformers import PreTrainedModel, PreTrainedTokenizerBase, get_scheduler

from ._io import atomic_directory, atomic_write_json, cache_dir
from .data import make_dataloader
from .fast import (
    cls_only_last_layer,
    compact_word_embeddings,
    unpadded_layers,
)
from .losses import DistillationLoss, LossOutput, hard_label_loss
from .metrics import classification_metrics
from .student import layer_map
from .train_config import (  # noqa: F401 (TrainConfig moved there, torch-free; re-exported)
    _FIELD_RULES,
    DEVICES,
    MAX_SEED,
    MIXED_PRECISIONS,
    SCHEDULERS,
    SELECT_METRICS,
    TrainConfig,
)

INDEX_COLUMN = "example_index"
MODEL_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


@dataclass
class TrainResult:
    """What a training run returns: the trained model (best epoch kept) and its history."""

    model: PreTrainedModel
    history: list[dict[str, Any]] = field(default_factory=list)
    best_epoch: int = 0
    best_validation: dict[str, float] = field(default_factory=dict)
    checkpoint: Path | None = None

    def history_frame(self):
        """The per-epoch history as a pandas DataFrame."""
        import pandas as pd

        return pd.DataFrame(self.history)


# ---------------------------------------------------------------------------------------------
# Devices, accelerate and the optimiser


def check_device(device: str, mixed_precision: str = "auto") -> None:
    """Raise ``ValueError`` at once if this machine cannot train on ``device``.

    ``"cuda"`` needs ``torch.cuda.is_available()``, ``"mps"`` needs
    ``torch.backends.mps.is_available()``; ``"auto"`` and ``"cpu"`` always work.
    ``mixed_precision="fp16"`` needs a CUDA GPU. Call it before any file is written, e.g.
    ``check_device(config.device, config.mixed_precision)``; :func:`make_accelerator` calls it
    too. (A :class:`TrainConfig` does not, so that it can be made on any machine.)
    """
    _FIELD_RULES["device"]("device", device)
    _FIELD_RULES["mixed_precision"]("mixed_precision", mixed_precision)
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device='cuda' but no CUDA GPU is visible (torch.cuda.is_available() is False; "
            f"this torch {torch.__version__} was built for CUDA {torch.version.cuda}); use "
            "device='auto' or 'cpu'."
        )
    if device == "mps" and not torch.backends.mps.is_available():
        raise ValueError(
            "device='mps' but Apple's MPS backend is not available here "
            "(torch.backends.mps.is_available() is False); use device='auto' or 'cpu'."
        )
    cuda = torch.cuda.is_available() and device in ("auto", "cuda")
    if mixed_precision == "fp16" and not cuda:
        raise ValueError(
            f"mixed_precision='fp16' needs a CUDA GPU (device={device!r}, none in use); "
            "use 'bf16' or 'no'."
        )


def make_accelerator(config: TrainConfig) -> Accelerator:
    """An :class:`accelerate.Accelerator` for the config's device and precision."""
    check_device(config.device, config.mixed_precision)
    cuda = torch.cuda.is_available() and config.device in ("auto", "cuda")
    precision = config.mixed_precision
    if precision == "auto":
        precision = ("bf16" if torch.cuda.is_bf16_supported() else "fp16") if cuda else "no"
    return Accelerator(
        cpu=config.device == "cpu",
        mixed_precision=precision,
        gradient_accumulation_steps=config.grad_accum_steps,
    )


def make_optimizer(
    params: list[tuple[str, torch.nn.Parameter]],
    config: TrainConfig,
    device: torch.device,
) -> torch.optim.AdamW:
    """AdamW without weight decay on biases and LayerNorm weights, with fused kernels.

    ``fused=True`` on CUDA, CPU and MPS (on the 2-core CPU used here a warm fused step took
    6.6 ms against 42 ms for ``foreach`` for a 17M-parameter student); ``foreach`` elsewhere.
    """
    decay, no_decay = [], []
    for name, param in params:
        if not param.requires_grad:
            continue
        (no_decay if param.ndim < 2 or "LayerNorm" in name else decay).append(param)
    groups = [
        {"params": decay, "weight_decay": config.weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    fast = {"fused": True} if device.type in ("cuda", "cpu", "mps") else {"foreach": True}
    return torch.optim.AdamW(groups, lr=config.lr, **fast)


def _model_inputs(batch: dict[str, Tensor]) -> dict[str, Tensor]:
    return {k: v for k, v in batch.items() if k in MODEL_INPUTS}


# ---------------------------------------------------------------------------------------------
# Evaluation


@torch.no_grad()
def predict_logits(
    model: PreTrainedModel,
    dataset: Dataset,
    *,
    tokenizer: PreTrainedTokenizerBase,
    batch_size: int = 128,
    device: torch.device | None = None,
    progress: bool = False,
    desc: str = "predict",
    cls_only: bool = True,
    unpadded: bool = True,
) -> Tensor:
    """Logits ``(len(dataset), num_labels)`` in the dataset's order, in float32 on the CPU.

    Batches are formed from length-sorted examples (less padding) and the rows are put back
    in the original order. With ``cls_only`` the last layer computes only the token the
    classifier reads, and with ``unpadded`` the other layers skip padding tokens
    (:mod:`distill_lib.fast`; same logits up to float rounding).
    """
    device = device or next(model.parameters()).device
    was_training = model.training
    model.eval()
    lengths = np.asarray([len(ids) for ids in dataset["input_ids"]])
    order = np.argsort(lengths, kind="stable")
    loader = make_dataloader(
        dataset.select(order), tokenizer, batch_size, shuffle=False, group_by_length=False
    )
    chunks = []
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=_bf16_ok(model, device))
    with cls_only_last_layer(model, cls_only), unpadded_layers(model, unpadded):
        for batch in tqdm(loader, desc=desc, disable=not progress, leave=False):
            inputs = {k: v.to(device) for k, v in _model_inputs(batch).items()}
            with autocast:
                chunks.append(model(**inputs).logits.float().cpu())
    model.train(was_training)
    logits = torch.cat(chunks) if chunks else torch.empty(0, model.config.num_labels)
    restored = torch.empty_like(logits)
    restored[torch.from_numpy(order)] = logits
    return restored


def _bf16_ok(model: PreTrainedModel, device: torch.device) -> bool:
    return device.type == "cuda" and torch.cuda.is_bf16_supported()


def evaluate_model(
    model: PreTrainedModel,
    dataset: Dataset,
    *,
    tokenizer: PreTrainedTokenizerBase,
    batch_size: int = 128,
    device: torch.device | None = None,
    progress: bool = False,
    return_predictions: bool = False,
) -> dict[str, Any]:
    """Loss, accuracy and macro-F1 of ``model`` on a tokenised split with labels.

    Returns ``{"loss", "accuracy", "macro_f1", "n", "predicted_counts"}`` and, if asked,
    ``"predictions"`` (a list of ints in dataset order). ``predicted_counts[c]`` is how many
    examples were predicted as class ``c``: the collapse check reads it.
    """
    logits = predict_logits(
        model,
        dataset,
        tokenizer=tokenizer,
        batch_size=batch_size,
        device=device,
        progress=progress,
        desc="evaluate",
    )
    labels = torch.as_tensor(np.asarray(dataset["label"]))  # via numpy: 10x faster on a Column
    predictions = logits.argmax(-1)
    num_labels = logits.shape[-1]
    out: dict[str, Any] = {"loss": float(hard_label_loss(logits, labels))}
    out.update(classification_metrics(predictions.tolist(), labels.tolist(), num_labels))
    out["n"] = len(labels)
    out["predicted_counts"] = torch.bincount(predictions, minlength=num_labels).tolist()
    if return_predictions:
        out["predictions"] = predictions.tolist()
    return out


# ---------------------------------------------------------------------------------------------
# Teacher logits, computed once


_LOGITS_MEMORY: dict[str, Tensor] = {}


def fingerprint_model(model: torch.nn.Module) -> str:
    """SHA-256 of a model's parameters and buffers (names, shapes, dtypes and values)."""
    digest = hashlib.sha256()
    for name, tensor in model.state_dict().items():
        t = tensor.detach().cpu().contiguous()
        digest.update(f"{name}:{tuple(t.shape)}:{t.dtype}".encode())
        digest.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return digest.hexdigest()


def fingerprint_tokens(dataset: Dataset) -> str:
    """SHA-256 of a tokenised dataset's model inputs (so a change of tokenizer changes it)."""
    digest = hashlib.sha256()
    for column in MODEL_INPUTS:
        if column in dataset.column_names:
            rows = dataset[column]
            digest.update(column.encode())
            digest.update(np.asarray([len(r) for r in rows], dtype=np.int64).tobytes())
            digest.update(np.concatenate([np.asarray(r, dtype=np.int64) for r in rows]).tobytes())
    return digest.hexdigest()


def teacher_logits(
    teacher: PreTrainedModel,
    dataset: Dataset,
    *,
    tokenizer: PreTrainedTokenizerBase,
    batch_size: int = 128,
    cache: bool | str | os.PathLike = True,
    progress: bool = False,
) -> Tensor:
    """The teacher's logits ``(len(dataset), num_labels)`` for every example, computed once.

    The teacher runs in eval mode (no dropout), exactly what a per-step teacher forward pass
    in eval mode would give. Results are kept in memory for this process, keyed by the
    teacher's weights and the tokenised inputs; with ``cache=True`` (or a folder) they are
    also written as safetensors under ``cache_dir("teacher_logits")`` and reused by later
    processes. ``cache=False`` always recomputes.
    """
    if not cache:
        return predict_logits(
            teacher,
            dataset,
            tokenizer=tokenizer,
            batch_size=batch_size,
            progress=progress,
            desc="teacher logits",
        )
    key = hashlib.sha256(
        (fingerprint_model(teacher) + fingerprint_tokens(dataset)).encode()
    ).hexdigest()[:32]
    if key in _LOGITS_MEMORY:
        return _LOGITS_MEMORY[key]
    folder = Path(cache) if isinstance(cache, (str, os.PathLike)) else cache_dir("teacher_logits")
    path = folder / f"{key}.safetensors"
    if path.is_file():
        logits = load_file(str(path))["logits"]
    else:
        logits = predict_logits(
            teacher,
            dataset,
            tokenizer=tokenizer,
            batch_size=batch_size,
            progress=progress,
            desc="teacher logits",
        )
        folder.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        save_file({"logits": logits.contiguous()}, str(tmp))
        os.replace(tmp, path)
    _LOGITS_MEMORY[key] = logits
    return logits


# ---------------------------------------------------------------------------------------------
# The loop


def _check_data(data: DatasetDict, splits: tuple[str, ...]) -> None:
    if not isinstance(data, DatasetDict):
        raise TypeError(f"data must be a datasets.DatasetDict, got {type(data).__name__}")
    for split in splits:
        if split not in data:
            raise ValueError(f"data has no {split!r} split (it has {list(data)})")
        if len(data[split]) == 0:
            raise ValueError(f"the {split!r} split is empty")
        missing = [c for c in ("input_ids", "label") if c not in data[split].column_names]
        if missing:
            raise ValueError(
                f"the {split!r} split lacks {missing}: tokenise it first with "
                "distill_lib.tokenize(data, tokenizer)"
            )


LossStep = Callable[[PreTrainedModel, dict[str, Tensor]], LossOutput]


def _train_loop(
    model: PreTrainedModel,
    train_set: Dataset,
    validation_set: Dataset,
    config: TrainConfig,
    tokenizer: PreTrainedTokenizerBase,
    loss_step: LossStep,
    extra_modules: tuple[torch.nn.Module, ...] = (),
    on_device: Callable[[torch.device], None] | None = None,
) -> TrainResult:
    """Train ``model`` with ``loss_step`` for ``config.epochs``; keep the best epoch."""
    accelerator = make_accelerator(config)
    if on_device is not None:
        on_device(accelerator.device)
    # Seeded after ``on_device``: computing the teacher's logits draws a random number (each
    # DataLoader iterator does), so a run must not depend on whether they were cached.
    set_seed(config.seed)
    # Only the vocabulary rows these sentences contain are trained (distill_lib.fast).
    splits = [train_set["input_ids"], validation_set["input_ids"]]
    with compact_word_embeddings(
        model,
        (ids for split in splits for ids in split),
        config.compact_embeddings,
        extra_ids=[tokenizer.pad_token_id],
    ) as rows:

        loader = make_dataloader(
            train_set,
            tokenizer,
            config.batch_size,
            shuffle=True,
            group_by_length=config.group_by_length,
            seed=config.seed,
        )
        named = list(model.named_parameters())
        for i, module in enumerate(extra_modules):
            module.to(accelerator.device)
            named += [(f"extra{i}.{n}", p) for n, p in module.named_parameters()]
        optimizer = make_optimizer(named, config, accelerator.device)
        model, optimizer, loader = accelerator.prepare(model, optimizer, loader)
        updates_per_epoch = math.ceil(len(loader) / config.grad_accum_steps)
        total_updates = updates_per_epoch * config.epochs
        scheduler = get_scheduler(
            config.scheduler,
            optimizer,
            num_warmup_steps=int(config.warmup_ratio * total_updates) * accelerator.num_processes,
            num_training_steps=total_updates * accelerator.num_processes,
        )
        scheduler = accelerator.prepare(scheduler)
        params = [p for _, p in named]

        history: list[dict[str, Any]] = []
        best_score, best_state, best_epoch, best_val = -math.inf, None, 0, {}
        best_decay = 1.0
        checkpoint = Path(config.output_dir) if config.output_dir else None
        for epoch in range(1, config.epochs + 1):
            model.train()
            start, seen = time.perf_counter(), 0
            sums: dict[str, float] = {}
            bar = tqdm(loader, desc=f"epoch {epoch}/{config.epochs}",
                       disable=not config.progress, leave=False)
            for step, batch in enumerate(bar, start=1):
                with accelerator.accumulate(model):
                    with accelerator.autocast():
                        out = loss_step(model, batch)
                    loss_value = float(out.total.detach())
                    if not math.isfinite(loss_value):
                        raise FloatingPointError(
                            f"the training loss became {loss_value} at epoch {epoch}, step "
                            f"{step} (terms {out.terms}); lower the learning rate (now "
                            f"{config.lr}) or use mixed_precision='no'."
                        )
                    accelerator.backward(out.total)
                    if accelerator.sync_gradients and config.max_grad_norm:
                        accelerator.clip_grad_norm_(params, config.max_grad_norm)
                    optimizer.step()
                    if rows is not None and accelerator.sync_gradients and not getattr(
                        optimizer, "step_was_skipped", False
                    ):
                        rows.after_step(optimizer)  # the weight decay of the untrained rows
                    scheduler.step()
                    optimizer.zero_grad(set_to_none=True)
                n = len(batch["labels"])
                seen += n
                sums["loss"] = sums.get("loss", 0.0) + loss_value * n
                for name, value in out.terms.items():
                    sums[name] = sums.get(name, 0.0) + value * n
                bar.set_postfix(loss=f"{sums['loss'] / seen:.4f}")
            train_seconds = time.perf_counter() - start

            unwrapped = accelerator.unwrap_model(model)
            val = evaluate_model(
                unwrapped,
                validation_set,
                tokenizer=tokenizer,
                batch_size=config.eval_batch_size,
                device=accelerator.device,
            )
            record: dict[str, Any] = {"epoch": epoch}
            record.update({f"train_{k}": v / seen for k, v in sums.items()})
            record.update(
                {
                    "val_loss": val["loss"],
                    "val_accuracy": val["accuracy"],
                    "val_macro_f1": val["macro_f1"],
                    "lr": scheduler.get_last_lr()[0],
                    "seconds": time.perf_counter() - start,
                    "train_seconds": train_seconds,
                    "examples_per_second": seen / train_seconds,
                }
            )
            history.append(record)
            score = -val["loss"] if config.select_metric == "loss" else val[config.select_metric]
            if score > best_score or not config.keep_best:
                best_score, best_epoch, best_val = score, epoch, val
                best_state = {
                    k: v.detach().to("cpu", copy=True) for k, v in unwrapped.state_dict().items()
                }
                best_decay = rows.decay if rows is not None else 1.0
            if config.progress:
                tqdm.write(
                    f"epoch {epoch}: train loss {record['train_loss']:.4f}  "
                    f"val loss {val['loss']:.4f}  val acc {val['accuracy']:.4f}  "
                    f"({record['examples_per_second']:.0f} examples/s)"
                )

        model = accelerator.unwrap_model(model)
        if best_state is not None:
            model.load_state_dict(best_state)
            if rows is not None:
                rows.decay = best_decay
        if accelerator.device.type != "cpu":
            accelerator.free_memory()  # GPU memory back; on a CPU only a 0.3 s gc.collect()
        best = {k: v for k, v in best_val.items() if k in ("loss", "accuracy", "macro_f1")}
    if checkpoint is not None:
        save_checkpoint(model, tokenizer, checkpoint, history=history)
    return TrainResult(model, history, best_epoch, best, checkpoint)


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
    _check_data(data, ("train", "validation"))

    def loss_step(model: PreTrainedModel, batch: dict[str, Tensor]) -> LossOutput:
        logits = model(**_model_inputs(batch)).logits
        loss = hard_label_loss(logits, batch["labels"])
        return LossOutput(loss, {"hard": float(loss.detach())})

    try:
        # the loss reads only the logits: the last layer may compute the first token alone
        with cls_only_last_layer(model, config.cls_only_last_layer), unpadded_layers(
            model, config.unpadded_layers
        ):
            return _train_loop(
                model, data["train"], data["validation"], config, tokenizer, loss_step
            )
    except torch.OutOfMemoryError as err:
        raise RuntimeError(_oom_message(config)) from err


def make_loss(
    config: TrainConfig, student: PreTrainedModel, teacher: PreTrainedModel
) -> DistillationLoss:
    """The :class:`DistillationLoss` a config asks for, matched by the student's layer map."""
    return DistillationLoss(
        temperature=config.temperature,
        alpha=config.alpha,
        cos_weight=config.cos_weight,
        hidden_weight=config.hidden_weight,
        attention_weight=config.attention_weight,
        layer_map=layer_map(student),
        hidden_size_S=student.config.hidden_size,
        hidden_size_T=teacher.config.hidden_size,
    )


def distill(
    student: PreTrainedModel,
    teacher: PreTrainedModel,
    data: DatasetDict,
    config: TrainConfig | None = None,
    *,
    tokenizer: PreTrainedTokenizerBase,
    loss_fn: DistillationLoss | None = None,
    logits_cache: bool | str | os.PathLike = True,
) -> TrainResult:
    """Distil ``teacher`` into ``student`` on ``data["train"]``; validate on ``validation``.

    With the default loss (soft targets + hard labels) the teacher's logits come from
    :func:`teacher_logits`: one teacher pass over the training set, reused by every epoch and
    every later call with the same teacher and data. If ``loss_fn`` needs hidden states or
    attention maps, the teacher also runs on every batch. ``config.alpha = 0`` trains on hard
    labels only (the "teacher init, no KD" baseline) and never runs the teacher.

    The student is trained in place (and switched to eager attention if ``loss_fn`` needs
    attention maps). The teacher's weights are never changed, and what training changes on it
    (attention implementation, device, train/eval mode) is put back before returning, also
    when training fails.
    """
    config = config or TrainConfig()
    _check_data(data, ("train", "validation"))
    loss_fn = loss_fn or make_loss(config, student, teacher)
    with _restored(teacher):
        return _distill(student, teacher, data, config, tokenizer, loss_fn, logits_cache)


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
) -> TrainResult:
    if loss_fn.needs_attentions:
        for model in (student, teacher):
            model.set_attn_implementation("eager")  # sdpa cannot return attention maps
    train_set = data["train"].add_column(INDEX_COLUMN, list(range(len(data["train"]))))
    every_step = loss_fn.needs_hidden_states or loss_fn.needs_attentions
    cached: dict[str, Tensor] = {}

    def on_device(device: torch.device) -> None:
        if loss_fn.needs_teacher_logits and not every_step:
            teacher.to(device)
            logits = teacher_logits(
                teacher,
                data["train"],
                tokenizer=tokenizer,
                batch_size=config.eval_batch_size,
                cache=logits_cache,
                progress=config.progress,
            )
            cached["logits"] = logits.to(device)
        if every_step:
            teacher.to(device).eval()

    def loss_step(model: PreTrainedModel, batch: dict[str, Tensor]) -> LossOutput:
        inputs = _model_inputs(batch)
        flags = {
            "output_hidden_states": loss_fn.needs_hidden_states,
            "output_attentions": loss_fn.needs_attentions,
        }
        if every_step:
            with torch.no_grad():
                outputs_T = teacher(**inputs, **flags)
        elif loss_fn.needs_teacher_logits:
            outputs_T = cached["logits"][batch[INDEX_COLUMN]]
        else:
            outputs_T = None
        outputs_S = model(**inputs, **flags) if every_step else model(**inputs)
        return loss_fn(outputs_S, outputs_T, batch["labels"], inputs.get("attention_mask"))

    try:
        with cls_only_last_layer(
            student, config.cls_only_last_layer and not every_step
        ), unpadded_layers(student, config.unpadded_layers and not every_step):
            return _train_loop(
                student, train_set, data["validation"], config, tokenizer, loss_step,
                extra_modules=(loss_fn,), on_device=on_device,
            )
    except torch.OutOfMemoryError as err:
        raise RuntimeError(_oom_message(config)) from err
