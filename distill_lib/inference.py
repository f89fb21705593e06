"""Running a trained model over a dataset: logits, metrics, and the teacher's logits once.

Below the training loop (:mod:`distill_lib.train`) and the layer measurements
(:mod:`distill_lib.selection`), which both use it.

Randomness: an evaluation loader never draws from the global random stream unless it is
handed one (``generator``): by default it gets a private generator, so computing logits (or
finding them cached) cannot change what a training run draws next. The training loop passes
its run's generator to the validation loader, so every loader of a run draws from the run's
own stream, seeded once when the run starts.

Precision: ``precision`` is what :func:`distill_lib.device.placement` resolved from a config's
``mixed_precision`` (``"no"``, ``"bf16"`` or ``"fp16"``); ``"no"`` evaluates in fp32 on every
device.
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from datasets import Dataset
from safetensors.torch import load_file, save_file
from torch import Tensor
from tqdm.auto import tqdm
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from ._io import cache_dir
from .data import make_dataloader
from .device import Placement
from .fast import cls_only_last_layer, unpadded_layers
from .losses import hard_label_loss
from .metrics import classification_metrics

__all__ = [
    "MODEL_INPUTS",
    "evaluate_model",
    "fingerprint_model",
    "fingerprint_tokens",
    "model_inputs",
    "predict_logits",
    "teacher_logits",
]

logger = logging.getLogger(__name__)

MODEL_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def model_inputs(batch: dict[str, Tensor]) -> dict[str, Tensor]:
    """The entries of a collated batch that a model's forward takes (not labels or indices)."""
    return {k: v for k, v in batch.items() if k in MODEL_INPUTS}


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
    precision: str = "no",
    generator: torch.Generator | None = None,
) -> Tensor:
    """Logits ``(len(dataset), num_labels)`` in the dataset's order, in float32 on the CPU.

    Batches are formed from length-sorted examples (less padding) and the rows are put back
    in the original order. With ``cls_only`` the last layer computes only the token the
    classifier reads, and with ``unpadded`` the other layers skip padding tokens
    (:mod:`distill_lib.fast`; same logits up to float rounding). ``precision`` and
    ``generator``: see the module docs.
    """
    device = device or next(model.parameters()).device
    was_training = model.training
    model.eval()
    lengths = np.asarray([len(ids) for ids in dataset["input_ids"]])
    order = np.argsort(lengths, kind="stable")
    loader = make_dataloader(
        dataset.select(order), tokenizer, batch_size, shuffle=False, group_by_length=False,
        generator=generator,
    )
    chunks = []
    autocast = Placement(device.type, precision).autocast()
    with cls_only_last_layer(model, cls_only), unpadded_layers(model, unpadded):
        for batch in tqdm(loader, desc=desc, disable=not progress, leave=False):
            inputs = {k: v.to(device) for k, v in model_inputs(batch).items()}
            with autocast:
                chunks.append(model(**inputs).logits.float().cpu())
    model.train(was_training)
    logits = torch.cat(chunks) if chunks else torch.empty(0, model.config.num_labels)
    restored = torch.empty_like(logits)
    restored[torch.from_numpy(order)] = logits
    return restored


def evaluate_model(
    model: PreTrainedModel,
    dataset: Dataset,
    *,
    tokenizer: PreTrainedTokenizerBase,
    batch_size: int = 128,
    device: torch.device | None = None,
    progress: bool = False,
    return_predictions: bool = False,
    precision: str = "no",
    generator: torch.Generator | None = None,
    return_probabilities: bool = False,
) -> dict[str, Any]:
    """Loss, accuracy and macro-F1 of ``model`` on a tokenised split with labels.

    Returns ``{"loss", "accuracy", "macro_f1", "n", "predicted_counts"}`` and, if asked,
    ``"predictions"`` (a list of ints in dataset order) and ``"probabilities"`` (one list of
    class probabilities per example, 5 decimals: what an ensemble averages).
    ``predicted_counts[c]`` is how many examples were predicted as class ``c``: the collapse
    check reads it. ``precision`` and ``generator``: see the module docs.
    """
    logits = predict_logits(
        model,
        dataset,
        tokenizer=tokenizer,
        batch_size=batch_size,
        device=device,
        progress=progress,
        desc="evaluate",
        precision=precision,
        generator=generator,
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
    if return_probabilities:
        probabilities = logits.float().softmax(-1).tolist()
        out["probabilities"] = [[round(p, 5) for p in row] for row in probabilities]
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
        digest.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
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
    precision: str = "no",
) -> Tensor:
    """The teacher's logits ``(len(dataset), num_labels)`` for every example, computed once.

    The teacher runs in eval mode (no dropout), exactly what a per-step teacher forward pass
    in eval mode would give. Results are kept in memory for this process, keyed by the
    teacher's weights, the tokenised inputs, the device type and the precision; with
    ``cache=True`` (or a folder) they are also written as safetensors under
    ``cache_dir("teacher_logits")`` and reused by later processes (a file that cannot be read is
    named, removed and recomputed).
    ``cache=False`` always recomputes. Computing them never draws from the global random
    stream (see the module docs), so a run does not depend on whether they were cached.
    """

    def compute() -> Tensor:
        return predict_logits(
            teacher, dataset, tokenizer=tokenizer, batch_size=batch_size, progress=progress,
            desc="teacher logits", precision=precision,
        )

    if not cache:
        return compute()
    # fp32 on the CPU keeps the keys of the files written before device and precision were
    # part of the key; logits from a GPU or in bf16 are cached apart (their rounding differs)
    device = next(teacher.parameters()).device.type
    tag = "" if (precision, device) == ("no", "cpu") else f":{device}:{precision}"
    key = hashlib.sha256(
        (fingerprint_model(teacher) + fingerprint_tokens(dataset) + tag).encode()
    ).hexdigest()[:32]
    if key in _LOGITS_MEMORY:
        return _LOGITS_MEMORY[key]
    folder = Path(cache) if isinstance(cache, (str, os.PathLike)) else cache_dir("teacher_logits")
    path = folder / f"{key}.safetensors"
    logits = _read_logits(path, len(dataset))
    if logits is None:
        logits = compute()
        folder.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            save_file({"logits": logits.contiguous()}, str(tmp))
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)  # a failed write (a full disk) leaves no temp file
    _LOGITS_MEMORY[key] = logits
    return logits


def _read_logits(path: Path, rows: int) -> Tensor | None:
    """The cached logits at ``path``; None if absent, or damaged (then removed, and said)."""
    if not path.is_file():
        return None
    try:
        logits = load_file(str(path))["logits"]
        if logits.ndim != 2 or len(logits) != rows:
            raise ValueError(f"shape {tuple(logits.shape)}, expected ({rows}, labels)")
        return logits
    except Exception as err:  # truncated or foreign file: recompute it
        logger.warning("damaged teacher-logits cache file %s (%s: %s); computing it again",
                       path, type(err).__name__, err)
        path.unlink(missing_ok=True)
        return None
