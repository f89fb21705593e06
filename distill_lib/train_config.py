"""Settings of one training run: :class:`TrainConfig` and the check of each of its fields.

Every :class:`TrainConfig` field is checked when the config is made (type, range, choices;
the rules are the table ``_FIELD_RULES``), but a config stays valid on any machine, so that
it can be saved and reloaded elsewhere. Whether *this* machine has the device it asks for is
checked by :func:`distill_lib.device.check_device` (it needs torch): call it before writing
anything.

This module needs no torch, transformers or accelerate (only numpy), so that experiment
configs and presets can be built, e.g. by ``distill-lib presets``, without importing them.
:mod:`distill_lib.train` re-exports everything here (``from distill_lib.train import
TrainConfig`` works).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from ._checks import check_int
from .loss_checks import _real, check_alpha, check_loss_weight, check_temperature

__all__ = [
    "DEVICES",
    "MAX_SEED",
    "MIXED_PRECISIONS",
    "SCHEDULERS",
    "SELECT_METRICS",
    "TrainConfig",
]

SCHEDULERS: tuple[str, ...] = (
    "linear",
    "cosine",
    "cosine_with_restarts",
    "polynomial",
    "constant",
    "constant_with_warmup",
    "inverse_sqrt",
)
"""Learning-rate schedules of ``transformers.get_scheduler`` that the loop can drive: stepped
once per update, given only warm-up and total steps. Not accepted: ``reduce_lr_on_plateau``
and ``greedy`` (stepped with a metric), ``cosine_with_min_lr``, ``cosine_warmup_with_min_lr``
and ``warmup_stable_decay`` (need extra arguments)."""
DEVICES: tuple[str, ...] = ("auto", "cpu", "cuda", "mps")
MIXED_PRECISIONS: tuple[str, ...] = ("auto", "no", "bf16", "fp16")
LAYER_MAPPINGS: tuple[str, ...] = ("fixed", "rail", "alp")
"""Layer maps of the hidden-state loss (:mod:`distill_lib.layer_mapping`)."""
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
    def rule(name: str, value: Any) -> int:
        return check_int(name, value, low, high)

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
    """A rule from a validator of :mod:`.loss_checks` (the one place for loss settings)."""

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
    "layer_mapping": _choice(LAYER_MAPPINGS),
    "progress": _boolean,
    "output_dir": _folder_or_none,
    "cls_only_last_layer": _boolean,
    "compact_embeddings": _boolean,
    "unpadded_layers": _boolean,
}
"""The check of every :class:`TrainConfig` field, applied by ``TrainConfig.__post_init__``."""


@dataclass(frozen=True)
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
    this machine here (see :func:`distill_lib.device.check_device`).

    A config is frozen (``config.lr = 1e-3`` raises ``FrozenInstanceError``): a run's key is
    hashed from it, so it must not change after the run is planned. Use :meth:`replace`.
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
    layer_mapping: Literal["fixed", "rail", "alp"] = "fixed"
    """Teacher layers the hidden-state loss matches each student layer with: ``fixed`` (the
    layers it was copied from, PKD), ``rail`` (a sorted random map drawn again each epoch) or
    ``alp`` (an attention-weighted mix of all teacher layers); see
    :mod:`distill_lib.layer_mapping`. ``rail`` and ``alp`` need ``hidden_weight > 0``."""
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
    compact_embeddings: bool = True
    """Train only the word-embedding rows of tokens the training and validation sentences
    contain; the other rows get what AdamW would have given them (weight decay only) when
    training ends. The same weights up to float rounding, for less work per step (1.1-1.3x
    faster steps on the MiniLM student here; see :func:`distill_lib.fast.compact_word_embeddings`).
    Not part of a run's key, like ``eval_batch_size``: it changes how, not what."""
    unpadded_layers: bool = True
    """Run the matmuls of every encoder layer but the last on the real tokens only, not on
    padding (:func:`distill_lib.fast.unpadded_layers`). On a CPU dropout masks are drawn as
    for the padded batch, so the run is the same up to float rounding (1.1x faster steps at
    15% padding); on other devices it is used only where no dropout is drawn. Used with
    ``cls_only_last_layer`` (and under the same conditions); not part of a run's key."""

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):  # frozen: set the checked value past __setattr__
            object.__setattr__(self, f.name, _FIELD_RULES[f.name](f.name, getattr(self, f.name)))
        if self.layer_mapping != "fixed" and self.hidden_weight == 0:
            raise ValueError(f"layer_mapping={self.layer_mapping!r} moves the map of the hidden-"
                             "state loss, but hidden_weight is 0: set hidden_weight > 0 (or use "
                             "the 'rail'/'alp' recipe, which does)")

    def replace(self, **changes: Any) -> TrainConfig:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)
