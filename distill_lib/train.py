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
* **accelerate** places the model and batches on the device (CPU, CUDA, MPS, several GPUs
  under ``accelerate launch``) and runs bf16/fp16 autocast on CUDA (bf16 on CPU if asked);
  AdamW uses PyTorch's fused kernel on CUDA, CPU and MPS (see :func:`make_optimizer`).

Every :class:`TrainConfig` field is checked when the config is made (type, range, choices;
the rules are the table ``_FIELD_RULES``), but a config stays valid on any machine, so that
it can be saved and reloaded elsewhere. Whether *this* machine has the device it asks for is
checked by :func:`check_device`: call it before writing anything (:func:`make_accelerator`
calls it too).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import math
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

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
from .fast import cls_only_last_layer
from .losses import (
    DistillationLoss,
    LossOutput,
    _real,
    check_alpha,
    check_loss_weight,
    check_temperature,
    hard_label_loss,
)
from .metrics import classification_metrics
from .student import layer_map

INDEX_COLUMN = "example_index"
MODEL_INPUTS = ("input_ids", "attention_mask", "token_type_ids")

SCHEDULERS: tuple[str, ...] = (
    "linear",
    "cosine",
    "cosine_with_restarts",
    "polynomial",
    "constant",
    "constant_with_warmup",
    "inverse_sqrt",
)
"""Learning-rate schedules of ``transformers.get_scheduler`` that this loop can drive: stepped
once per update, given only warm-up and total steps. Not accepted: ``reduce_lr_on_plateau``
and ``greedy`` (stepped with a metric), ``cosine_with_min_lr``, ``cosine_warmup_with_min_lr``
and ``warmup_stable_decay`` (need extra arguments)."""
DEVICES: tuple[str, ...] = ("auto", "cpu", "cuda", "mps")
MIXED_PRECISIONS: tuple[str, ...] = ("auto", "no", "bf16", "fp16")
SELECT_METRICS: tuple[str, ...] = ("accuracy", "macro_f1", "loss")
MAX_SEED = 2**32 - 1
"""Largest seed accepted (numpy's limit; ``accelerate.utils.set_seed`` seeds numpy)."""


# ---------------------------------------------------------------------------------------------
# Validation rules, one per TrainConfig field. Each rule takes (field name, value) and returns
# the value (numpy scalars become Python ones) or raises ValueError naming the field, the value
# and what is allowed.

_Rule = Callable[[str, Any], Any]


def _got(value: Any) -> str:
    return f"got {value!r} ({type(value).__name__})"


def _integer(low: int, high: int | None = None) -> _Rule:
    allowed = f">= {low}" if high is None else f"between {low} and {high}"

    def rule(name: str, value: Any) -> int:
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
            raise ValueError(f"{name} must be an int {allowed}, {_got(value)}")
        if value < low or (high is not None and value > high):
            raise ValueError(f"{name} must be an int {allowed}, got {value!r}")
        return int(value)

    return rule


def _number(
    low: float,
    high: float | None = None,
    *,
    low_open: bool = False,
    high_open: bool = False,
    optional: bool = False,
) -> _Rule:
    """A finite real number (an int or a float; not bool, str, nan or inf) in a range."""
    if high is None:
        allowed = f"{'>' if low_open else '>='} {low:g}"
    else:
        left, right = ("(" if low_open else "["), (")" if high_open else "]")
        allowed = f"in {left}{low:g}, {high:g}{right}"
    if optional:
        allowed += " (or None)"

    def rule(name: str, value: Any) -> Any:
        if value is None and optional:
            return None
        number = _real(value, name, allowed)
        too_low = number <= low if low_open else number < low
        too_high = high is not None and (number >= high if high_open else number > high)
        if too_low or too_high:
            raise ValueError(f"{name} must be {allowed}, got {value!r}")
        return value if isinstance(value, (int, float)) else number

    return rule


def _choice(choices: tuple[str, ...]) -> _Rule:
    def rule(name: str, value: Any) -> str:
        if not isinstance(value, str) or value not in choices:
            raise ValueError(
                f"{name} must be one of {', '.join(map(repr, choices))}, {_got(value)}"
            )
        return value

    return rule


def _boolean(name: str, value: Any) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be True or False, {_got(value)}")
    return bool(value)


def _folder_or_none(name: str, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, (str, os.PathLike)):
        raise ValueError(f"{name} must be None or a folder path (str), {_got(value)}")
    return os.fspath(value)


def _checked_by(check: Callable[..., float]) -> _Rule:
    """A rule from a validator of :mod:`distill_lib.losses` (the one place for loss settings)."""

    def rule(name: str, value: Any) -> Any:
        number = check(value, name)
        return value if isinstance(value, (int, float)) else number

    return rule


_FIELD_RULES: dict[str, _Rule] = {
    "epochs": _integer(1),
    "batch_size": _integer(1),
    "eval_batch_size": _integer(1),
    "lr": _number(0, low_open=True),
    "weight_decay": _number(0),
    "warmup_ratio": _number(0, 1, high_open=True),
    "scheduler": _choice(SCHEDULERS),
    "grad_accum_steps": _integer(1),
    "max_grad_norm": _number(0, optional=True),
    "group_by_length": _boolean,
    "seed": _integer(0, MAX_SEED),
    "select_metric": _choice(SELECT_METRICS),
    "keep_best": _boolean,
    "device": _choice(DEVICES),
    "mixed_precision": _choice(MIXED_PRECISIONS),
    "temperature": _checked_by(check_temperature),
    "alpha": _checked_by(check_alpha),
    "cos_weight": _checked_by(check_loss_weight),
    "hidden_weight": _checked_by(check_loss_weight),
    "attention_weight": _checked_by(check_loss_weight),
    "progress": _boolean,
    "output_dir": _folder_or_none,
    "cls_only_last_layer": _boolean,
}
"""The check of every :class:`TrainConfig` field, applied by ``TrainConfig.__post_init__``."""


@dataclass
class TrainConfig:
    """Settings of one training run. Defaults follow the task-specific KD literature.

    The optimisation defaults (AdamW, lr 5e-5, batch 32, 10% linear warm-up then linear decay,
    gradient clipping at 1.0) are those of BERT fine-tuning; ``temperature=2`` and
    ``alpha=0.5`` are DistilBERT's T and the middle of the usual alpha range (0.2-0.7).

    Every field is checked on creation (and by :meth:`replace`); a wrong type, a value out of
    range or an unknown choice raises ``ValueError`` naming the field, the value and what is
    allowed. Int fields take ints only (not bool, float or str); number fields take ints or
    floats but not bool, str, nan or inf. Ranges: ``epochs``, ``batch_size``,
    ``eval_batch_size``, ``grad_accum_steps`` >= 1; ``lr`` > 0; ``weight_decay`` >= 0;
    ``warmup_ratio`` in [0, 1); ``max_grad_norm`` None or >= 0 (None or 0: no clipping);
    ``seed`` in 0..2**32-1; ``temperature`` > 0; ``alpha`` in [0, 1]; the three intermediate
    weights >= 0; ``scheduler`` one of :data:`SCHEDULERS`. The device is *not* checked against
    this machine here (see :func:`check_device`).
    """

    epochs: int = 3
    batch_size: int = 32
    eval_batch_size: int = 128
    lr: float = 5e-5
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1
    scheduler: str = "linear"
    grad_accum_steps: int = 1
    max_grad_norm: float | None = 1.0
    """Gradient clipping threshold; ``None`` or ``0`` turns clipping off."""
    group_by_length: bool = True
    seed: int = 0
    select_metric: Literal["accuracy", "macro_f1", "loss"] = "accuracy"
    """Validation metric that picks the best epoch (its weights are kept)."""
    keep_best: bool = True
    device: Literal["auto", "cpu", "cuda", "mps"] = "auto"
    mixed_precision: Literal["auto", "no", "bf16", "fp16"] = "auto"
    """``auto``: bf16 on a CUDA GPU that supports it, fp16 on older GPUs, fp32 on CPU/MPS.
    ``bf16`` also works on CPUs with bf16 instructions (about 1.4x faster steps measured here),
    but the CPU presets keep fp32 so results do not depend on the CPU model."""
    # distillation terms (ignored by fine_tune)
    temperature: float = 2.0
    alpha: float = 0.5
    cos_weight: float = 0.0
    hidden_weight: float = 0.0
    attention_weight: float = 0.0
    progress: bool = True
    output_dir: str | None = None
    """If set, the best epoch's model is saved there (``save_pretrained``, safetensors)."""
    cls_only_last_layer: bool = True
    """Compute the last encoder layer for the first token ([CLS]) only. The classifier reads
    nothing else, so the logits are the same up to float rounding, for about a third less
    work in a 3-layer student (see :mod:`distill_lib.fast`). Dropout then draws fewer random
    numbers, so a run differs from a full-layer run at the same seed (statistically the same
    recipe). Ignored when a loss reads hidden states or attention maps, and for model
    families :mod:`distill_lib.fast` does not cover (they compute the full layer)."""

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            setattr(self, f.name, _FIELD_RULES[f.name](f.name, getattr(self, f.name)))

    def replace(self, **changes: Any) -> TrainConfig:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


PRESETS: dict[str, TrainConfig] = {
    # Offline default (MiniLM-L6, movie snippets) on 2 CPU cores: the `quick` experiment.
    "quick-teacher": TrainConfig(epochs=2, lr=1e-4),
    "quick-student": TrainConfig(epochs=1, batch_size=16, lr=1e-4),
    # All 8,454 training sentences: the `standard` experiment.
    "standard-teacher": TrainConfig(epochs=2, lr=5e-5),
    "standard-student": TrainConfig(epochs=2, lr=1e-4),
    # BERT-base on SST-2 on one GPU (bf16 autocast is picked automatically).
    "gpu-teacher": TrainConfig(epochs=3, lr=2e-5, eval_batch_size=256),
    "gpu-student": TrainConfig(epochs=3, lr=5e-5, eval_batch_size=256),
}
"""Training settings used by the presets of :mod:`distill_lib.experiment` (a short `quick`
student run uses batch 16 so that one epoch on 1,000 sentences still gives 63 updates)."""


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
) -> Tensor:
    """Logits ``(len(dataset), num_labels)`` in the dataset's order, in float32 on the CPU.

    Batches are formed from length-sorted examples (less padding) and the rows are put back
    in the original order. With ``cls_only`` the last layer computes only the token the
    classifier reads (:mod:`distill_lib.fast`; same logits up to float rounding).
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
    with cls_only_last_layer(model, cls_only):
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
    labels = torch.as_tensor(dataset["label"])
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
    cls_only: bool = False,
) -> TrainResult:
    """Train ``model`` with ``loss_step`` for ``config.epochs``; keep the best epoch.

    ``cls_only``: the loss reads only the logits, so the last layer may compute the first
    token alone (:mod:`distill_lib.fast`).
    """
    with cls_only_last_layer(model, cls_only):
        return _train_epochs(
            model, train_set, validation_set, config, tokenizer, loss_step, extra_modules,
            on_device,
        )


def _train_epochs(
    model: PreTrainedModel,
    train_set: Dataset,
    validation_set: Dataset,
    config: TrainConfig,
    tokenizer: PreTrainedTokenizerBase,
    loss_step: LossStep,
    extra_modules: tuple[torch.nn.Module, ...],
    on_device: Callable[[torch.device], None] | None,
) -> TrainResult:
    set_seed(config.seed)
    accelerator = make_accelerator(config)
    if on_device is not None:
        on_device(accelerator.device)

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
    checkpoint = Path(config.output_dir) if config.output_dir else None
    for epoch in range(1, config.epochs + 1):
        model.train()
        start, seen = time.perf_counter(), 0
        sums: dict[str, float] = {}
        bar = tqdm(
            loader, desc=f"epoch {epoch}/{config.epochs}", disable=not config.progress, leave=False
        )
        for step, batch in enumerate(bar, start=1):
            with accelerator.accumulate(model):
                with accelerator.autocast():
                    out = loss_step(model, batch)
                loss_value = float(out.total.detach())
                if not math.isfinite(loss_value):
                    raise FloatingPointError(
                        f"the training loss became {loss_value} at epoch {epoch}, step {step} "
                        f"(terms {out.terms}); lower the learning rate (now {config.lr}) or use "
                        "mixed_precision='no'."
                    )
                accelerator.backward(out.total)
                if accelerator.sync_gradients and config.max_grad_norm:
                    accelerator.clip_grad_norm_(params, config.max_grad_norm)
                optimizer.step()
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
        if config.progress:
            tqdm.write(
                f"epoch {epoch}: train loss {record['train_loss']:.4f}  "
                f"val loss {val['loss']:.4f}  val acc {val['accuracy']:.4f}  "
                f"({record['examples_per_second']:.0f} examples/s)"
            )

    model = accelerator.unwrap_model(model)
    if best_state is not None:
        model.load_state_dict(best_state)
    accelerator.free_memory()
    if checkpoint is not None:
        save_checkpoint(model, tokenizer, checkpoint, history=history)
    best = {k: v for k, v in best_val.items() if k in ("loss", "accuracy", "macro_f1")}
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
        return _train_loop(
            model, data["train"], data["validation"], config, tokenizer, loss_step,
            cls_only=config.cls_only_last_layer,
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
        return _train_loop(
            student,
            train_set,
            data["validation"],
            config,
            tokenizer,
            loss_step,
            extra_modules=(loss_fn,),
            on_device=on_device,
            cls_only=config.cls_only_last_layer and not every_step,
        )
    except torch.OutOfMemoryError as err:
        raise RuntimeError(_oom_message(config)) from err
