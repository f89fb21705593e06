"""Build a k-layer student by copying chosen layers of an n-layer teacher.

    >>> from distill_lib import load_teacher, select_layers, make_student
    >>> teacher, tokenizer = load_teacher("minilm-l6")
    >>> student = make_student(teacher, select_layers("uniform", 6, 3))   # layers [0, 2, 5]

The student is a new model of the teacher's own class (e.g. ``BertForSequenceClassification``)
with ``num_hidden_layers = len(layers)``. Its embeddings, the chosen encoder layers (in the given
order), the pooler and the classifier are exact copies of the teacher's tensors; the teacher is
not modified. The layer map is written into ``student.config.distill_lib`` so a student saved
with ``save_pretrained`` still says where it came from::

    {"teacher_layers": [0, 2, 5], "teacher_num_layers": 6, "init": "teacher",
     "teacher_name_or_path": "...", "strategy": "uniform"}

Works for models whose encoder layers live in ``<base>.encoder.layer`` (BERT, MiniLM, RoBERTa,
XLM-R, ELECTRA, MPNet, ...) and in ``<base>.transformer.layer`` (DistilBERT). Tensors outside the
layer stack are copied whole, e.g. MPNet's ``relative_attention_bias``, which all its layers
share. Other architectures (GPT-2, T5, ALBERT's shared layers, ...) raise a ``TypeError`` that
names the layer lists the model does have.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Sequence
from typing import Any, Literal

import torch
from torch import nn
from transformers import PreTrainedModel

from ._weights import skip_random_init
from .layers import LayerSpec, check_layer_list, describe_strategy, select_layers

# Where each architecture keeps its stack of layers, relative to the base model, and which
# config attribute holds its depth.
_LAYER_PATHS: tuple[tuple[str, str], ...] = (
    ("encoder.layer", "num_hidden_layers"),
    ("transformer.layer", "n_layers"),  # DistilBERT
)


def _base_model(model: nn.Module) -> nn.Module:
    prefix = getattr(model, "base_model_prefix", "")
    return getattr(model, prefix, model) if prefix else model


def _layer_path(model: nn.Module) -> tuple[str, str]:
    base = _base_model(model)
    for path, depth_attr in _LAYER_PATHS:
        obj: Any = base
        for part in path.split("."):
            obj = getattr(obj, part, None)
            if obj is None:
                break
        if isinstance(obj, nn.ModuleList):
            return path, depth_attr
    prefix = getattr(model, "base_model_prefix", "")
    where = " or ".join(
        f"`{prefix}.{path}`" if base is not model else f"`{path}`" for path, _ in _LAYER_PATHS
    )
    raise TypeError(
        f"{type(model).__name__} has no stack of encoder layers at {where}; its layer lists are "
        f"{_module_lists(model)}. distill_lib copies layers of BERT-family encoders only (BERT, "
        "MiniLM, RoBERTa, XLM-R, ELECTRA, MPNet, DistilBERT); decoder-only and encoder-decoder "
        "models (GPT-2, T5, ...) and shared-layer models (ALBERT) are not supported."
    )


def _module_lists(model: nn.Module) -> str:
    """``transformer.h (2)``-style names of the outermost ``nn.ModuleList``s of ``model``."""
    found: list[str] = []
    for name, module in model.named_modules():
        if isinstance(module, nn.ModuleList) and not any(
            name.startswith(f"{outer.split(' ')[0]}.") for outer in found
        ):
            found.append(f"{name} ({len(module)})")
    return ", ".join(f"`{item}`" for item in found) if found else "none"


def encoder_layers(model: nn.Module) -> nn.ModuleList:
    """The model's stack of transformer layers (``bert.encoder.layer`` for BERT)."""
    path, _ = _layer_path(model)
    obj: Any = _base_model(model)
    for part in path.split("."):
        obj = getattr(obj, part)
    return obj


def num_layers(model: nn.Module) -> int:
    """Number of transformer layers in ``model``."""
    return len(encoder_layers(model))


def layer_map(model: PreTrainedModel) -> list[int] | None:
    """The teacher layers a student built by :func:`make_student` was copied from, else None."""
    info = getattr(model.config, "distill_lib", None)
    return list(info["teacher_layers"]) if isinstance(info, dict) else None


def make_student(
    teacher: PreTrainedModel,
    layers: LayerSpec,
    *,
    n_student: int | None = None,
    init: Literal["teacher", "random"] = "teacher",
    seed: int | None = None,
    measured: dict | None = None,
    architecture: Literal["same", "distilbert"] = "same",
) -> PreTrainedModel:
    """Return a new student whose layers are copies of the teacher layers ``layers``.

    Args:
        teacher: a sequence classifier of the BERT family (left untouched).
        layers: 0-indexed teacher layers in student order (e.g. ``[0, 2, 5]``), or a strategy
            name from :mod:`distill_lib.layers` together with ``n_student``.
        n_student: student depth; needed only when ``layers`` is a strategy name.
        init: ``"teacher"`` copies embeddings, chosen layers, pooler and classifier;
            ``"random"`` builds the same architecture with fresh random weights (the baseline
            that shows what copying is worth). The layer map is still recorded.
        seed: seeds the random initialisation (``init="random"``) and the ``random`` strategy.
        measured: the teacher's measurements (:func:`distill_lib.selection.measure_layers`),
            needed by the data-driven strategies ``influence``, ``cka-cover`` and ``drop``.
        architecture: ``"same"`` (the teacher's class) or ``"distilbert"``: a
            ``DistilBertForSequenceClassification`` from a BERT teacher, built by
            :func:`distill_lib.distilbert.to_distilbert` (read it for what differs).

    Returns:
        A model of ``type(teacher)`` (or DistilBERT's) with ``len(layers)`` layers, on the
        teacher's device and dtype, in training mode.
    """
    n_teacher = num_layers(teacher)
    if isinstance(layers, str):
        if n_student is None:
            raise ValueError(
                f"layers={layers!r} is a strategy name; also pass n_student=<student depth>, "
                "or pass the layer indices themselves."
            )
        chosen = select_layers(layers, n_teacher, n_student, seed=seed, measured=measured)
        strategy = describe_strategy(layers)
    else:
        chosen = check_layer_list(layers, n_teacher, n_student)  # keeps the caller's order
        strategy = describe_strategy(chosen)
    if init not in ("teacher", "random"):
        raise ValueError(f"init must be 'teacher' or 'random', got {init!r}")
    if architecture == "distilbert":
        from .distilbert import to_distilbert  # DistilBERT's code loads only when asked for

        return to_distilbert(teacher, chosen, init=init, seed=seed, strategy=strategy)
    if architecture != "same":
        raise ValueError(f"architecture must be 'same' or 'distilbert', got {architecture!r}")

    path, depth_attr = _layer_path(teacher)
    config = copy.deepcopy(teacher.config)
    setattr(config, depth_attr, len(chosen))
    config.distill_lib = {
        "teacher_layers": chosen,
        "teacher_num_layers": n_teacher,
        "init": init,
        "strategy": strategy,
        "teacher_name_or_path": getattr(teacher.config, "_name_or_path", "") or "",
    }

    if seed is not None:
        torch.manual_seed(seed)
    with skip_random_init(init == "teacher"):  # every weight is copied next: do not draw it
        student = type(teacher)(config)
    param = next(teacher.parameters())
    student.to(device=param.device, dtype=param.dtype)
    if init == "teacher":
        student.load_state_dict(_student_state_dict(teacher, chosen, path), strict=True)
    student.train()
    return student


def _student_state_dict(
    teacher: nn.Module, chosen: Sequence[int], path: str
) -> dict[str, torch.Tensor]:
    """Teacher tensors renamed to student keys: teacher layer ``chosen[i]`` -> student layer i."""
    pattern = re.compile(rf"(^|\.){re.escape(path)}\.(\d+)\.")
    position = {teacher_idx: i for i, teacher_idx in enumerate(chosen)}
    state: dict[str, torch.Tensor] = {}
    for key, tensor in teacher.state_dict().items():
        match = pattern.search(key)
        if match is None:  # embeddings, pooler, classifier, buffers
            state[key] = tensor.detach().clone()
            continue
        teacher_idx = int(match.group(2))
        if teacher_idx in position:
            new_key = key[: match.start(2)] + str(position[teacher_idx]) + key[match.end(2) :]
            state[new_key] = tensor.detach().clone()
    return state
