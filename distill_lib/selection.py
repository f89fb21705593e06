"""Data-driven layer selection: measure a fine-tuned teacher, then pick the layers to copy.

    >>> from distill_lib import selection
    >>> measured = selection.measure_layers(teacher, tokens["train"].select(range(1000)),
    ...                                     tokens["validation"], tokenizer=tokenizer)
    >>> selection.choose_layers("cka-cover", measured, 6)      # e.g. [0, 2, 4, 6, 8, 11]

A k-layer student starts from k of the teacher's n layers (:mod:`distill_lib.layers` picks
them by position). Here the teacher itself is measured and the choice follows the numbers.
Three signals, all computed without training:

**Block influence** (``"influence"``; ShortGPT, Men et al. 2024, arXiv:2403.03853). For layer
i, ``1 - cos(x_i, x_{i+1})`` per token, where ``x_i`` is the layer's input and ``x_{i+1}`` its
output, averaged over every non-padding token of a calibration sample. A layer that barely
turns its input vectors (influence near 0) does little and is the first to drop, so we keep the
k layers with the *highest* influence.

**Representation similarity** (``"cka-cover"``; linear CKA, Kornblith et al. 2019, ICML,
arXiv:1905.00414). Each layer's output is summarised per sentence as the **mean over its
non-padding tokens** (one vector per sentence: CKA compares examples x features matrices, and
sentences of different lengths need one row each; mean pooling uses every token, unlike the
``[CLS]`` vector, which only the last layers are trained to fill). Linear CKA between two
layers is 1 when their sentence representations agree up to rotation and scale. Layers with
CKA near 1 are redundant, so we pick k layers that *cover* the rest: farthest-point selection
in the distance ``1 - CKA``, polished by k-medoids swaps (see :func:`cka_cover`).

**Drop sensitivity** (``"drop"``; a one-step, training-free version of greedy layer pruning:
Peer et al. 2022, Pattern Recognition Letters 157, arXiv:2105.14839; Sajjad et al. 2023 drop
fixed patterns instead). Skip one layer (its input passes straight through) and measure the
teacher's validation accuracy and loss; n forward passes, no training. We keep the k layers
whose removal hurts accuracy most.

Data. Influence and CKA read a **calibration** sample of the task's *training* data; drop
sensitivity needs labels and reads the *validation* split. Neither ever sees test data, so a
choice made here does not leak into the test scores. Note that drop sensitivity, like early
stopping, does use validation data to make a decision.

All functions put the model in eval mode (no dropout) and give back its train/eval mode.
Hidden states for influence and CKA come from ONE pass over the calibration set in the model's
own dtype (no autocast: cosines near 1 need the precision); drop sensitivity uses
:func:`distill_lib.train.evaluate_model`, the same evaluation as everywhere else.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from datasets import Dataset
from torch import Tensor, nn
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from .data import make_dataloader
from .inference import MODEL_INPUTS, evaluate_model
from .layers import DATA_DRIVEN, choose_layers, cka_cover
from .student import encoder_layers

SIGNALS = DATA_DRIVEN
"""The data-driven strategies of :func:`choose_layers` and what each keeps."""

POOLING = "mean over non-padding tokens"
"""How a layer's output becomes one vector per sentence for CKA."""



# ---------------------------------------------------------------------------------------------
# One pass over the calibration data: block influence and pooled layer outputs


def _accumulation_dtype(device: torch.device) -> torch.dtype:
    return torch.float32 if device.type == "mps" else torch.float64  # MPS has no float64


@torch.inference_mode()
def _calibration_pass(
    model: PreTrainedModel,
    dataset: Dataset,
    *,
    tokenizer: PreTrainedTokenizerBase,
    batch_size: int = 64,
) -> tuple[np.ndarray, list[Tensor]]:
    """Block influence and mean-pooled hidden states from one pass over ``dataset``.

    Returns:
        ``influence``: array ``(n_layers,)``, the mean over non-padding tokens of
        ``1 - cos(hidden_states[i], hidden_states[i + 1])``; and ``pooled``: a list of
        ``n_layers + 1`` float64 CPU tensors ``(len(dataset), hidden)``, the mean over
        non-padding tokens of ``hidden_states[j]`` (j = 0: embeddings, j = i + 1: output of
        layer i), rows in dataset order.
    """
    n = len(encoder_layers(model))
    device = next(model.parameters()).device
    dtype = _accumulation_dtype(device)
    was_training = model.training
    model.eval()
    influence_sum = torch.zeros(n, dtype=dtype, device=device)
    n_tokens = 0
    pooled: list[list[Tensor]] = [[] for _ in range(n + 1)]
    try:
        for batch in make_dataloader(dataset, tokenizer, batch_size, shuffle=False):
            inputs = {k: v.to(device) for k, v in batch.items() if k in MODEL_INPUTS}
            hidden = model(**inputs, output_hidden_states=True).hidden_states
            if hidden is None or len(hidden) != n + 1:
                got = "none" if hidden is None else len(hidden)
                raise RuntimeError(
                    f"{type(model).__name__} returned {got} hidden states; expected "
                    f"{n + 1} (the embeddings and one per layer)."
                )
            mask = inputs.get("attention_mask", torch.ones_like(inputs["input_ids"]))
            mask = mask.to(dtype).unsqueeze(-1)  # (batch, seq, 1): 1 = real token
            n_tokens += int(mask.sum())
            lengths = mask.sum(1).clamp_min(1)  # (batch, 1)
            previous: Tensor | None = None  # hidden_states[j - 1], converted
            for j, h in enumerate(hidden):  # n + 1 tensors (batch, seq, hidden)
                current = h.to(dtype)
                if previous is not None:  # layer j - 1: input `previous`, output `current`
                    cos = F.cosine_similarity(previous, current, dim=-1)  # (batch, seq)
                    influence_sum[j - 1] += ((1 - cos) * mask.squeeze(-1)).sum()
                pooled[j].append(((current * mask).sum(1) / lengths).to("cpu", torch.float64))
                previous = current
    finally:
        model.train(was_training)
    if n_tokens == 0:
        raise ValueError("The calibration set has no non-padding tokens.")
    influence = (influence_sum / n_tokens).cpu().double().numpy()
    return influence, [torch.cat(chunks) for chunks in pooled]


def block_influence(
    model: PreTrainedModel,
    dataset: Dataset,
    *,
    tokenizer: PreTrainedTokenizerBase,
    batch_size: int = 64,
) -> np.ndarray:
    """ShortGPT block influence of every layer, shape ``(n_layers,)``.

    ``influence[i] = mean over non-padding tokens t of 1 - cos(h_i[t], h_{i+1}[t])`` where
    ``h_i`` is layer i's input (``h_0``: the embedding output) and ``h_{i+1}`` its output.
    0 means the layer leaves every token's direction unchanged. ``dataset`` is a tokenised
    calibration sample of the *training* data.
    """
    influence, _ = _calibration_pass(model, dataset, tokenizer=tokenizer, batch_size=batch_size)
    return influence


def layer_cka(
    model: PreTrainedModel,
    dataset: Dataset,
    *,
    tokenizer: PreTrainedTokenizerBase,
    batch_size: int = 64,
) -> np.ndarray:
    """Linear CKA between all pairs of layer outputs, shape ``(n_layers + 1, n_layers + 1)``.

    Index 0 is the embedding output, index i + 1 the output of layer i, so ``cka[i, i + 1]``
    compares layer i's input with its output. Each hidden state ``(batch, seq, hidden)`` is
    mean-pooled over non-padding tokens to one row per sentence before CKA. ``dataset`` is a
    tokenised calibration sample of the *training* data with at least 2 rows.
    """
    _, pooled = _calibration_pass(model, dataset, tokenizer=tokenizer, batch_size=batch_size)
    return _cka_matrix(pooled)


# ---------------------------------------------------------------------------------------------
# Linear CKA


def _as_float64_matrix(x: np.ndarray | Tensor, name: str) -> Tensor:
    t = (
        x.detach().to("cpu", torch.float64)
        if isinstance(x, Tensor)
        else torch.as_tensor(np.asarray(x, dtype=np.float64))
    )
    if t.ndim != 2:
        raise ValueError(f"{name} must be 2-D (examples, features), got shape {tuple(t.shape)}")
    if not torch.isfinite(t).all():
        raise ValueError(f"{name} has NaN or infinite values")
    return t


def _centre(x: Tensor) -> Tensor:
    """Subtract each column's mean: ``(m, d) -> (m, d)``."""
    return x - x.mean(dim=0, keepdim=True)


def linear_cka(x: np.ndarray | Tensor, y: np.ndarray | Tensor) -> float:
    """Linear CKA between two representations of the same m examples (Kornblith et al. 2019).

    Args:
        x: shape ``(m, d1)``, one row per example.
        y: shape ``(m, d2)``, the same examples in the same order.

    Returns:
        ``||Y^T X||_F^2 / (||X^T X||_F ||Y^T Y||_F)`` after centring the columns, in float64:
        in [0, 1], 1 when ``y`` is ``x`` up to an orthogonal transform and isotropic scaling.
        Symmetric in ``x`` and ``y``.

    Raises:
        ValueError: shapes that do not match, fewer than 2 examples, or a representation that
            is the same for every example (CKA is undefined then).
    """
    a, b = _as_float64_matrix(x, "x"), _as_float64_matrix(y, "y")
    if a.shape[0] != b.shape[0]:
        raise ValueError(
            f"x and y must have the same rows (examples): {a.shape[0]} != {b.shape[0]}"
        )
    return float(_cka_matrix([a, b])[0, 1])


def _cka_matrix(features: Sequence[Tensor]) -> np.ndarray:
    """Linear CKA between every pair of ``(m, d_j)`` float64 matrices: an ``(L, L)`` array.

    ``<K_a, K_b>_F = ||X_b^T X_a||_F^2`` for the centred Gram matrices ``K = X X^T``, so the
    same number is computed from ``(m, m)`` Grams when m is smaller than the widest d and from
    ``(d, d)`` cross products otherwise, whichever is cheaper.
    """
    m = features[0].shape[0]
    if m < 2:
        raise ValueError(f"CKA needs at least 2 examples, got {m}")
    centred = [_centre(f.to(torch.float64)) for f in features]
    if m < max(c.shape[1] for c in centred):
        grams = [c @ c.T for c in centred]

        def inner(a: int, b: int) -> float:
            return float((grams[a] * grams[b]).sum())
    else:

        def inner(a: int, b: int) -> float:
            return float((centred[b].T @ centred[a]).square().sum())

    norms = [inner(a, a) ** 0.5 for a in range(len(centred))]
    for a, norm in enumerate(norms):
        if norm == 0.0:
            raise ValueError(
                f"representation {a} is the same for every example; CKA is undefined for it"
            )
    out = np.eye(len(centred))
    for a in range(len(centred)):
        for b in range(a + 1, len(centred)):
            out[a, b] = out[b, a] = inner(a, b) / (norms[a] * norms[b])
    return out


# ---------------------------------------------------------------------------------------------
# Covering the layers


# ---------------------------------------------------------------------------------------------
# Drop sensitivity


class _SkipLayer(nn.Module):
    """Stands in for a skipped encoder layer: hands its first argument back unchanged.

    Most encoder layers of transformers 5 (BERT, RoBERTa, ELECTRA, XLM-R, DistilBERT) return
    the hidden-states tensor; MPNet's return a tuple whose first item it is. ``as_tuple``
    copies the replaced layer's habit, so the encoder loop reads the output the same way.
    """

    def __init__(self, as_tuple: bool = False) -> None:
        super().__init__()
        self.as_tuple = as_tuple

    def forward(self, hidden_states: Tensor, *args: Any, **kwargs: Any) -> Tensor | tuple[Tensor]:
        return (hidden_states,) if self.as_tuple else hidden_states


def drop_sensitivity(
    model: PreTrainedModel,
    dataset: Dataset,
    *,
    tokenizer: PreTrainedTokenizerBase,
    batch_size: int = 128,
) -> dict[str, Any]:
    """Validation accuracy and loss of the teacher with each layer skipped in turn.

    For each layer i the module in the encoder's layer list is replaced by one that returns
    its input unchanged (hidden states skip the layer), ``dataset`` is evaluated with
    :func:`distill_lib.train.evaluate_model`, and the layer is put back, also if evaluation
    raises. n + 1 forward passes over ``dataset`` (the *validation* split, with labels); no
    training, no weights change.

    Returns:
        ``{"full_accuracy", "full_loss"}`` (floats, nothing skipped) and lists of n floats:
        ``"accuracy"``, ``"loss"`` (mean cross-entropy) with layer i skipped,
        ``"accuracy_drop" = full_accuracy - accuracy`` and ``"loss_increase" = loss - full_loss``.
    """
    layers = encoder_layers(model)
    n = len(layers)
    was_training = model.training
    model.eval()

    def evaluate() -> dict[str, Any]:
        return evaluate_model(model, dataset, tokenizer=tokenizer, batch_size=batch_size)

    # The full pass also records whether each layer returns a tuple (MPNet) or a tensor.
    as_tuple = [False] * n

    def recorder(i: int) -> Any:
        def hook(module: nn.Module, args: Any, output: Any) -> None:
            as_tuple[i] = isinstance(output, tuple)

        return hook

    try:
        with torch.inference_mode():
            handles = [layer.register_forward_hook(recorder(i)) for i, layer in enumerate(layers)]
            try:
                full = evaluate()
            finally:
                for handle in handles:
                    handle.remove()
            accuracy: list[float] = []
            loss: list[float] = []
            for i in range(n):
                original = layers[i]
                layers[i] = _SkipLayer(as_tuple[i])
                try:
                    result = evaluate()
                finally:
                    layers[i] = original
                accuracy.append(float(result["accuracy"]))
                loss.append(float(result["loss"]))
    finally:
        model.train(was_training)
    full_accuracy, full_loss = float(full["accuracy"]), float(full["loss"])
    return {
        "full_accuracy": full_accuracy,
        "full_loss": full_loss,
        "accuracy": accuracy,
        "loss": loss,
        "accuracy_drop": [full_accuracy - a for a in accuracy],
        "loss_increase": [x - full_loss for x in loss],
    }


# ---------------------------------------------------------------------------------------------
# Everything at once, and the choice


def measure_layers(
    teacher: PreTrainedModel,
    calibration: Dataset,
    validation: Dataset,
    *,
    tokenizer: PreTrainedTokenizerBase,
    batch_size: int = 64,
) -> dict[str, Any]:
    """All three signals for a fine-tuned teacher, as one JSON-serialisable dict.

    Args:
        teacher: the fine-tuned sequence classifier (left unchanged, mode restored).
        calibration: tokenised sample of the *training* split (influence and CKA; one pass).
        validation: tokenised *validation* split with labels (drop sensitivity).
        tokenizer: pads the batches.
        batch_size: rows per forward pass.

    Returns:
        ``{"n_layers", "block_influence": [n], "cka": (n+1) x (n+1) nested lists (index 0 =
        embeddings), "drop": the dict of :func:`drop_sensitivity`, "calibration_size",
        "validation_size", "pooling"}``, plain Python lists and floats.
    """
    influence, pooled = _calibration_pass(
        teacher, calibration, tokenizer=tokenizer, batch_size=batch_size
    )
    cka = _cka_matrix(pooled)
    drop = drop_sensitivity(teacher, validation, tokenizer=tokenizer, batch_size=batch_size)
    return {
        "n_layers": len(influence),
        "block_influence": [float(v) for v in influence],
        "cka": [[float(v) for v in row] for row in cka],
        "drop": drop,
        "calibration_size": len(calibration),
        "validation_size": len(validation),
        "pooling": POOLING,
    }


__all__ = [
    "POOLING",
    "SIGNALS",
    "block_influence",
    "choose_layers",
    "cka_cover",
    "drop_sensitivity",
    "layer_cka",
    "linear_cka",
    "measure_layers",
]
