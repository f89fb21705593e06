"""Distillation losses: how a student learns from a teacher.

Every loss is a plain function of tensors, in the style of TextBrewer: student tensors carry the
suffix ``_S``, teacher tensors the suffix ``_T``, and each docstring gives the shapes. Teacher
tensors are always detached inside the function, so no gradient ever flows into the teacher, even
if you forgot ``torch.no_grad()`` around the teacher's forward pass.

==================  =========================================  ================================
function            what it matches                            paper
==================  =========================================  ================================
soft_target_loss    output distributions, softened by ``T``    Hinton et al. 2015
hard_label_loss     the gold labels (plain cross-entropy)      --
hidden_cosine_loss  direction of every token's hidden state    DistilBERT (Sanh et al. 2019)
hidden_mse_loss     normalised [CLS] states of matched layers  PKD (Sun et al. 2019)
attention_loss      attention maps of matched layers (MSE)     TinyBERT (Jiao et al. 2020);
                                                               MiniLM uses a KL instead
==================  =========================================  ================================

:class:`DistillationLoss` combines them with weights into the single number the optimiser sees,
and reports each term separately for logging. All losses are computed in float32 (inputs are
upcast), so they are safe under mixed precision. The hyperparameter checks
:func:`check_temperature`, :func:`check_alpha` and :func:`check_loss_weight` live in the
torch-free :mod:`distill_lib.loss_checks` (also used by ``TrainConfig``); re-exported here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ._checks import is_int
from .layers import check_layer_list
from .loss_checks import check_alpha, check_loss_weight, check_temperature  # moved: torch-free

__all__ = [
    "DistillationLoss",
    "LossOutput",
    "attention_loss",
    "check_alpha",
    "check_loss_weight",
    "check_temperature",
    "hard_label_loss",
    "hidden_cosine_loss",
    "hidden_mse_loss",
    "soft_target_loss",
]

#: A single tensor, or one tensor per matched layer.
LayerTensors = Tensor | Sequence[Tensor]


# --------------------------------------------------------------------------------------------
# Output layer: soft targets and hard labels


def _check_logits(logits_S: Tensor) -> None:
    if logits_S.ndim != 2:
        raise ValueError(f"logits_S must have shape (batch, num_labels), got {logits_S.shape}")


def soft_target_loss(logits_S: Tensor, logits_T: Tensor, temperature: float = 2.0) -> Tensor:
    """Knowledge-distillation loss on temperature-softened outputs (Hinton et al. 2015).

    Both logit vectors are divided by the temperature ``T`` and turned into probabilities; the
    loss is the Kullback-Leibler divergence from the teacher's distribution ``p_T`` to the
    student's ``p_S``, averaged over the batch and multiplied by ``T**2``::

        loss = T**2 * (1/batch) * sum_b sum_c p_T[b, c] * (log p_T[b, c] - log p_S[b, c])
        p_T = softmax(logits_T / T),  p_S = softmax(logits_S / T)

    This is ``F.kl_div(..., reduction="batchmean")`` (KL summed over classes, averaged over the
    batch), the reduction that matches the mathematical definition of KL.

    Why ``T**2``? The gradient of the softened KL with respect to the student logits shrinks like
    ``1/T**2`` when ``T`` is large (Hinton et al., section 2.1). Multiplying by ``T**2`` keeps the
    gradient magnitude roughly independent of the temperature, so changing ``T`` does not silently
    change the balance between this loss and the hard-label loss.

    Args:
        logits_S: student logits, shape ``(batch, num_labels)``.
        logits_T: teacher logits, shape ``(batch, num_labels)``. Detached: no gradient reaches
            the teacher. Cached teacher logits work just as well.
        temperature: softening temperature ``T > 0``. ``T = 1`` is the plain softmax; higher
            values reveal more of the teacher's "dark knowledge" about wrong classes.

    Returns:
        A scalar tensor, ``>= 0``, equal to 0 when the two logit tensors are equal.

    Raises:
        ValueError: ``temperature`` is not a finite number ``> 0`` (nan or inf would give a
            nan loss), or the logits have the wrong shapes.
    """
    t = check_temperature(temperature)
    _check_logits(logits_S)
    if logits_S.shape != logits_T.shape:
        raise ValueError(
            "student and teacher logits must have the same shape (batch, num_labels), got "
            f"{tuple(logits_S.shape)} (student) and {tuple(logits_T.shape)} (teacher). Do the "
            "two models have the same num_labels?"
        )
    log_p_S = F.log_softmax(logits_S.float() / t, dim=-1)
    log_p_T = F.log_softmax(logits_T.detach().to(logits_S.device).float() / t, dim=-1)
    kl = F.kl_div(log_p_S, log_p_T, reduction="batchmean", log_target=True)
    return kl * (t * t)


def hard_label_loss(logits_S: Tensor, labels: Tensor) -> Tensor:
    """Ordinary cross-entropy between the student's logits and the gold labels.

    Args:
        logits_S: student logits, shape ``(batch, num_labels)``.
        labels: class indices, shape ``(batch,)``, dtype ``long``. Entries equal to ``-100``
            are ignored (the Hugging Face convention).

    Returns:
        A scalar tensor: the mean cross-entropy over the (non-ignored) examples.
    """
    _check_logits(logits_S)
    if labels.shape != logits_S.shape[:1]:
        raise ValueError(f"labels must have shape (batch,) = ({logits_S.shape[0]},), got "
                         f"{tuple(labels.shape)}")
    return F.cross_entropy(logits_S.float(), labels.long())


# --------------------------------------------------------------------------------------------
# Intermediate layers: hidden states and attention maps


def _check_width(width_S: int, width_T: int, projection: nn.Module | None, what: str) -> None:
    if width_S != width_T and projection is None:
        raise ValueError(
            f"{what}: student hidden size {width_S} differs from teacher hidden size {width_T}. "
            f"Pass projection=torch.nn.Linear({width_S}, {width_T}) (a learned map from the "
            "student's space to the teacher's, trained together with the student), or use "
            "DistillationLoss(hidden_size_S=..., hidden_size_T=...), which creates one for you."
        )


def _masked_mean(values: Tensor, attention_mask: Tensor | None, pairs: bool = False) -> Tensor:
    """Mean of ``values`` over the real tokens (over everything if ``attention_mask`` is None).

    ``values`` is ``(batch, seq)``, or ``(batch, heads, seq, seq)`` with ``pairs`` (an entry
    counts when its query and its key are both real tokens).
    """
    if attention_mask is None:
        return values.mean()
    batch_seq = (values.shape[0], values.shape[-1])
    if tuple(attention_mask.shape) != batch_seq:
        raise ValueError(
            f"attention_mask must have shape (batch, seq) = {batch_seq}, "
            f"got {tuple(attention_mask.shape)}"
        )
    m = attention_mask.to(values.device).bool()
    keep = (m[:, None, :, None] & m[:, None, None, :]).expand_as(values) if pairs else m
    n_kept = keep.sum()
    if n_kept == 0:
        raise ValueError("attention_mask has no real tokens (all zeros)")
    # torch.where (not multiplication) so that NaN/inf in padded positions cannot leak in.
    return torch.where(keep, values, torch.zeros_like(values)).sum() / n_kept


def hidden_cosine_loss(
    hidden_S: Tensor,
    hidden_T: Tensor,
    attention_mask: Tensor | None = None,
    *,
    projection: nn.Module | None = None,
) -> Tensor:
    """DistilBERT's cosine embedding loss on hidden states (Sanh et al. 2019).

    For every token the loss is ``1 - cos(h_S, h_T)``: 0 when the student's hidden vector points
    the same way as the teacher's, 1 when orthogonal, 2 when opposite. It only cares about the
    *direction* of the vectors, not their length. The per-token losses are averaged over the
    real tokens only (``attention_mask == 1``); padding positions never count, whatever their
    values. DistilBERT applies it to the last hidden layer of student and teacher.

    Args:
        hidden_S: student hidden states, shape ``(batch, seq, hidden_S)``.
        hidden_T: teacher hidden states, shape ``(batch, seq, hidden_T)``. Detached.
        attention_mask: ``(batch, seq)``, 1 for real tokens and 0 for padding (the tokenizer's
            ``attention_mask``). ``None`` counts every position.
        projection: optional module mapping ``hidden_S -> hidden_T`` applied to the student
            states first; required when the widths differ.

    Returns:
        A scalar tensor in ``[0, 2]``: the mean of ``1 - cos`` over the non-padding tokens.
    """
    if hidden_S.ndim != 3 or hidden_T.ndim != 3:
        raise ValueError(
            "hidden states must have shape (batch, seq, hidden), got "
            f"{tuple(hidden_S.shape)} (student) and {tuple(hidden_T.shape)} (teacher)"
        )
    if hidden_S.shape[:2] != hidden_T.shape[:2]:
        raise ValueError(
            "student and teacher hidden states must share (batch, seq), got "
            f"{tuple(hidden_S.shape)} and {tuple(hidden_T.shape)}"
        )
    _check_width(hidden_S.shape[-1], hidden_T.shape[-1], projection, "hidden_cosine_loss")
    h_S = hidden_S.float()
    if projection is not None:
        h_S = projection(h_S).float()
    h_T = hidden_T.detach().float()
    per_token = 1.0 - F.cosine_similarity(h_S, h_T, dim=-1)  # (batch, seq)
    return _masked_mean(per_token, attention_mask)


def _as_layers(x: LayerTensors, base_ndim: int, name: str) -> list[Tensor]:
    """Turn one layer, a stacked tensor or a list of layers into a list of per-layer tensors."""
    if isinstance(x, Tensor):
        if x.ndim == base_ndim:
            return [x]
        if x.ndim == base_ndim + 1:
            return list(x.unbind(0))
        raise ValueError(
            f"{name} must have {base_ndim} dims (one layer) or {base_ndim + 1} dims (layers "
            f"stacked first), got shape {tuple(x.shape)}"
        )
    layers = list(x)
    if not layers:
        raise ValueError(f"{name} is an empty list of layers")
    for i, layer in enumerate(layers):
        if not isinstance(layer, Tensor) or layer.ndim != base_ndim:
            shape = tuple(layer.shape) if isinstance(layer, Tensor) else type(layer).__name__
            raise ValueError(f"{name}[{i}] must be a {base_ndim}-dim tensor, got {shape}")
    return layers


def _sum_over_layers(
    x_S: LayerTensors, x_T: LayerTensors, ndim: int, name: str, layer_loss: Callable[..., Tensor]
) -> Tensor:
    """``layer_loss(student layer, teacher layer)`` summed over the matched layers, in order."""
    layers_S = _as_layers(x_S, ndim, f"{name}_S")
    layers_T = _as_layers(x_T, ndim, f"{name}_T")
    if len(layers_S) != len(layers_T):
        raise ValueError(
            f"got {len(layers_S)} student layers but {len(layers_T)} teacher layers; "
            "pass the teacher layers matched to each student layer"
        )
    per_layer = [layer_loss(l_S, l_T) for l_S, l_T in zip(layers_S, layers_T, strict=True)]
    return sum(per_layer[1:], per_layer[0])


def hidden_mse_loss(
    cls_S: LayerTensors, cls_T: LayerTensors, projection: nn.Module | None = None
) -> Tensor:
    """Patient Knowledge Distillation loss on [CLS] states (PKD, Sun et al. 2019: ``L_PT``).

    Each [CLS] vector is first divided by its own L2 norm, so only its direction matters. The
    loss is the squared Euclidean distance between the normalised student and teacher vectors,
    **summed over the hidden dimensions and over the matched layers, and averaged over the
    batch**, exactly the paper's formula for one mini-batch::

        loss = (1/batch) * sum_b sum_l || hS[l,b]/||hS[l,b]|| - hT[l,b]/||hT[l,b]|| ||_2**2

    Each layer contributes a value in ``[0, 4]`` per example, so the loss lies in
    ``[0, 4 * num_layers]``. (The official PKD code instead uses ``F.mse_loss``, the mean over
    every element; that is this value divided by ``num_layers * hidden_T``. Keep this in mind
    when copying the paper's beta values, which were tuned with the official code.)

    Args:
        cls_S: student [CLS] states: one layer ``(batch, hidden_S)``, a stacked tensor
            ``(layers, batch, hidden_S)`` or a list of ``(batch, hidden_S)`` tensors.
        cls_T: the matched teacher states, same layout with ``hidden_T``. Detached.
        projection: optional module (typically ``torch.nn.Linear(hidden_S, hidden_T)``)
            applied to every student state before normalising. Required when
            ``hidden_S != hidden_T``; its parameters must be in the optimiser.

    Returns:
        A scalar tensor, ``>= 0``.
    """

    def layer_loss(l_S: Tensor, l_T: Tensor) -> Tensor:
        if l_S.shape[0] != l_T.shape[0]:
            raise ValueError(f"batch sizes differ: {l_S.shape[0]} (student), {l_T.shape[0]}")
        _check_width(l_S.shape[-1], l_T.shape[-1], projection, "hidden_mse_loss")
        h_S = l_S.float()
        if projection is not None:
            h_S = projection(h_S).float()
            if h_S.shape[-1] != l_T.shape[-1]:
                raise ValueError(
                    f"projection maps the student states to width {h_S.shape[-1]}, "
                    f"but the teacher width is {l_T.shape[-1]}"
                )
        diff = F.normalize(h_S, p=2, dim=-1) - F.normalize(l_T.detach().float(), p=2, dim=-1)
        return diff.pow(2).sum(dim=-1).mean()  # sum over hidden, mean over batch

    return _sum_over_layers(cls_S, cls_T, 2, "cls", layer_loss)


def attention_loss(
    attn_S: LayerTensors, attn_T: LayerTensors, attention_mask: Tensor | None = None
) -> Tensor:
    """Mean squared error between matched attention maps (TinyBERT style; MiniLM uses a KL
    divergence between attention distributions instead).

    For each matched layer the squared difference ``(A_S - A_T)**2`` is averaged over batch,
    heads, queries and keys, keeping only entries whose query **and** key are real tokens when
    ``attention_mask`` is given. The per-layer values are then **summed over layers**, as in
    TinyBERT (Jiao et al. 2020, Sec. 3)::

        loss = sum_l  mean_{b, h, i, j : mask[b,i] = mask[b,j] = 1} (A_S[l,b,h,i,j] - A_T[...])**2

    Which attention? Hugging Face models called with ``output_attentions=True`` return the
    attention *probabilities* (after softmax, each query row sums to 1); this function compares
    those. TinyBERT compares the pre-softmax scores instead, which HF does not expose; MiniLM
    (Wang et al. 2020) uses the KL divergence between the attention distributions of the last
    layer and between value relations. MSE on probabilities is the simplest of the three and
    needs no extra model hooks.
    Only eager attention returns the maps: transformers 5.x defaults to SDPA, which logs a
    warning and returns an empty ``attentions`` tuple. Load the models with
    ``attn_implementation="eager"`` or call ``model.set_attn_implementation("eager")``
    (:func:`distill_lib.distill` does this for you).

    Args:
        attn_S: student attention, one layer ``(batch, heads, seq, seq)``, a stacked tensor
            ``(layers, batch, heads, seq, seq)`` or a list/tuple of per-layer tensors (e.g. the
            ``attentions`` tuple of a HF output, after picking the matched layers).
        attn_T: the matched teacher layers, same layout and number of heads (the maps are
            compared head by head: a 12-head teacher's cannot match a 4-head student's). Detached.
        attention_mask: ``(batch, seq)``, 1 for real tokens, 0 for padding. ``None`` uses
            every entry.

    Returns:
        A scalar tensor, ``>= 0``.
    """

    def layer_loss(a_S: Tensor, a_T: Tensor) -> Tensor:
        if a_S.shape[1] != a_T.shape[1]:
            raise ValueError(
                f"attention_loss compares attention maps head by head, but the student has "
                f"{a_S.shape[1]} heads and the teacher {a_T.shape[1]}. Use a student with the "
                "teacher's number of heads, or set attention_weight=0."
            )
        if a_S.shape != a_T.shape:
            raise ValueError(
                "attention maps must have the same shape (batch, heads, seq, seq), got "
                f"{tuple(a_S.shape)} (student) and {tuple(a_T.shape)} (teacher)"
            )
        sq = (a_S.float() - a_T.detach().float()).pow(2)  # (batch, heads, seq, seq)
        return _masked_mean(sq, attention_mask, pairs=True)

    return _sum_over_layers(attn_S, attn_T, 4, "attn", layer_loss)


# --------------------------------------------------------------------------------------------
# Putting it together


class LossOutput(NamedTuple):
    """What :class:`DistillationLoss` returns.

    Attributes:
        total: the weighted sum, a scalar tensor to call ``.backward()`` on.
        terms: the *unweighted* value of every term that was computed, as Python floats for
            logging (keys among ``"soft"``, ``"hard"``, ``"cos"``, ``"hidden"``,
            ``"attention"``). ``total == sum(loss_fn.weights[k] * terms[k] for k in terms)``.

    Being a NamedTuple it also unpacks: ``total, terms = loss_fn(...)``.
    """

    total: Tensor
    terms: dict[str, float]


def _field(outputs: Any, name: str, who: str = "") -> Any:
    """``logits``/``hidden_states``/``attentions`` of a HF output, a dict or a tensor, or None.

    With ``who`` (``"student"``/``"teacher"``) a missing field raises a ``ValueError`` instead,
    saying how to run the model to get it.
    """
    if isinstance(outputs, Tensor):
        value = outputs if name == "logits" else None
    elif isinstance(outputs, Mapping):
        value = outputs.get(name)
    else:  # a ModelOutput, or None
        value = getattr(outputs, name, None)
    if value is None and who:
        flag = "return_dict" if name == "logits" else f"output_{name}"
        raise ValueError(
            f"this DistillationLoss needs the {who} {name.replace('_', ' ')}; run the model with "
            f"{flag}=True (and pass its full output, not just the logits)"
        )
    return value


class DistillationLoss(nn.Module):
    """The full distillation objective: a weighted sum of the losses in this module.

    ::

        total = (1 - alpha) * hard_label_loss                     # gold labels
                + alpha * soft_target_loss (already times T**2)   # Hinton KD
                + cos_weight * hidden_cosine_loss                  # DistilBERT
                + hidden_weight * hidden_mse_loss                  # PKD (their beta)
                + attention_weight * attention_loss                # TinyBERT-style

    The first two lines are PKD's convention ``(1 - alpha) * CE + alpha * T**2 * KL``. Terms
    with weight 0 are not computed at all, so with the defaults only the teacher's logits are
    needed, and those can be computed once and cached (see :attr:`needs_hidden_states`,
    :attr:`needs_attentions`).

    **Matching layers.** ``layer_map[i]`` is the (0-indexed) teacher encoder layer that student
    layer ``i`` was copied from, as returned by ``distill_lib.student.layer_map(student)``. HF's
    ``hidden_states`` tuple starts with the embeddings, so student ``hidden_states[i + 1]`` is
    matched with teacher ``hidden_states[layer_map[i] + 1]``, and student ``attentions[i]`` with
    teacher ``attentions[layer_map[i]]``, for every student layer ``i``. The embedding output
    (``hidden_states[0]``) is not matched. Without a ``layer_map`` the student and teacher must
    have the same depth and layer ``i`` matches layer ``i``.

    - ``hidden`` (PKD) uses the [CLS] vector (position 0) of every matched layer.
    - ``cos`` (DistilBERT) uses all non-padding tokens of the *last* hidden layer of both
      models, as DistilBERT does, whatever the ``layer_map``.
    - ``attention`` uses every matched layer.

    **Different widths.** If ``hidden_size_S != hidden_size_T`` the module creates
    ``self.projection = nn.Linear(hidden_size_S, hidden_size_T)`` for the student's hidden states
    in the ``hidden`` and ``cos`` terms. It trains with the student: build the optimiser with
    ``AdamW([*student.parameters(), *loss_fn.parameters()])`` and call ``loss_fn.to(device)``.
    Equal widths (e.g. a student made by copying teacher layers) need no projection, and then
    the module has no parameters.

    Args:
        temperature: softmax temperature ``T`` of the soft-target loss, a finite number > 0.
        alpha: weight of the soft-target loss, in ``[0, 1]``; the hard-label loss gets
            ``1 - alpha``. ``alpha=0`` is ordinary fine-tuning, ``alpha=1`` pure distillation
            (no labels needed).
        cos_weight, hidden_weight, attention_weight: weights (finite, ``>= 0``) of the
            DistilBERT cosine loss, the PKD [CLS] loss (PKD's ``beta``) and the attention MSE.
        layer_map: teacher layer for each student layer (see above): ints, each teacher layer
            at most once; only used by the intermediate terms.
        hidden_size_S, hidden_size_T: hidden widths of student and teacher (ints ``>= 1``);
            give both to get a projection when they differ.

    Example::

        loss_fn = DistillationLoss(alpha=0.5, temperature=2.0)
        out = loss_fn(student(**inputs), teacher_logits, labels=labels)
        out.total.backward()
        log(out.terms)  # {"soft": 0.41, "hard": 0.62}
    """

    def __init__(
        self,
        temperature: float = 2.0,
        alpha: float = 0.5,
        cos_weight: float = 0.0,
        hidden_weight: float = 0.0,
        attention_weight: float = 0.0,
        layer_map: Sequence[int] | None = None,
        hidden_size_S: int | None = None,
        hidden_size_T: int | None = None,
    ) -> None:
        super().__init__()
        self.temperature = check_temperature(temperature)
        self.alpha = check_alpha(alpha)
        self.cos_weight = check_loss_weight(cos_weight, "cos_weight")
        self.hidden_weight = check_loss_weight(hidden_weight, "hidden_weight")
        self.attention_weight = check_loss_weight(attention_weight, "attention_weight")
        self.layer_map: list[int] | None = None
        if layer_map is not None:
            try:  # ints, >= 0, each teacher layer once; the teacher's depth is checked in forward
                self.layer_map = check_layer_list(layer_map)
            except ValueError as err:
                raise ValueError(f"layer_map: {err}") from None
        for name, size in (("hidden_size_S", hidden_size_S), ("hidden_size_T", hidden_size_T)):
            if size is not None and not (is_int(size) and size >= 1):
                raise ValueError(f"{name} must be None or an int >= 1, got {size!r}")
        self.projection: nn.Linear | None = None
        if hidden_size_S and hidden_size_T and hidden_size_S != hidden_size_T:  # both ints >= 1
            self.projection = nn.Linear(int(hidden_size_S), int(hidden_size_T))

    # -- what the training loop needs to know ------------------------------------------------

    @property
    def weights(self) -> dict[str, float]:
        """Weight of each term, keyed like :attr:`LossOutput.terms` (zero-weight terms omitted)."""
        w = {
            "soft": self.alpha,
            "hard": 1.0 - self.alpha,
            "cos": self.cos_weight,
            "hidden": self.hidden_weight,
            "attention": self.attention_weight,
        }
        return {k: v for k, v in w.items() if v > 0}

    @property
    def needs_hidden_states(self) -> bool:
        """True if both models must be run with ``output_hidden_states=True`` every step."""
        return self.cos_weight > 0 or self.hidden_weight > 0

    @property
    def needs_attentions(self) -> bool:
        """True if both models must be run with ``output_attentions=True`` every step."""
        return self.attention_weight > 0

    @property
    def needs_teacher_logits(self) -> bool:
        """True if the soft-target term is used (``alpha > 0``)."""
        return self.alpha > 0

    def extra_repr(self) -> str:
        names = ("temperature", "alpha", "cos_weight", "hidden_weight", "attention_weight")
        return ", ".join(f"{n}={getattr(self, n)}" for n in (*names, "layer_map"))

    def _teacher_layers(self, n_S: int, n_T: int) -> list[int]:
        """Teacher layer index for each of the ``n_S`` student layers (0-indexed)."""
        if self.layer_map is None:
            if n_S != n_T:
                raise ValueError(
                    f"the student has {n_S} layers and the teacher {n_T}: pass layer_map=<teacher "
                    "layer for each student layer> (e.g. distill_lib.student.layer_map(student))"
                )
            return list(range(n_S))
        if len(self.layer_map) != n_S:
            raise ValueError(
                f"layer_map has {len(self.layer_map)} entries but the student has {n_S} layers"
            )
        if max(self.layer_map) >= n_T:
            raise ValueError(
                f"layer_map {self.layer_map} refers to teacher layer {max(self.layer_map)}, but "
                f"the teacher has only {n_T} layers (0..{n_T - 1})"
            )
        return list(self.layer_map)

    def _layer_terms(
        self, outputs_S: Any, outputs_T: Any, mask: Tensor | None
    ) -> dict[str, Tensor]:
        """The intermediate terms with a weight > 0 (``cos``, ``hidden``, ``attention``)."""
        losses: dict[str, Tensor] = {}
        if self.needs_hidden_states:
            hs_S = _field(outputs_S, "hidden_states", "student")
            hs_T = _field(outputs_T, "hidden_states", "teacher")
            if self.cos_weight > 0:
                losses["cos"] = hidden_cosine_loss(
                    hs_S[-1], hs_T[-1], mask, projection=self.projection
                )
            if self.hidden_weight > 0:
                losses["hidden"] = self._hidden_term(hs_S, hs_T)
        if self.needs_attentions:
            at_S = _field(outputs_S, "attentions", "student")
            at_T = _field(outputs_T, "attentions", "teacher")
            t_layers = self._teacher_layers(len(at_S), len(at_T))
            losses["attention"] = attention_loss(list(at_S), [at_T[j] for j in t_layers], mask)
        return losses

    def _hidden_term(self, hs_S: Sequence[Tensor], hs_T: Sequence[Tensor]) -> Tensor:
        """PKD's term: each student layer's [CLS] state against its mapped teacher layer's
        (:mod:`distill_lib.layer_mapping` overrides this with maps that move)."""
        t_layers = self._teacher_layers(len(hs_S) - 1, len(hs_T) - 1)
        cls_S = [hs_S[i + 1][:, 0] for i in range(len(t_layers))]
        return hidden_mse_loss(cls_S, [hs_T[j + 1][:, 0] for j in t_layers], self.projection)

    def forward(
        self,
        outputs_S: Any,
        outputs_T: Any = None,
        labels: Tensor | None = None,
        attention_mask: Tensor | None = None,
    ) -> LossOutput:
        """Compute the weighted loss.

        Args:
            outputs_S: the student's output: a HF ``ModelOutput`` (or dict) with ``logits`` and,
                when needed, ``hidden_states`` / ``attentions``; or just the logits tensor
                ``(batch, num_labels)`` when no intermediate term is used.
            outputs_T: the teacher's output, same forms. For logits-only distillation this is
                typically a tensor of cached teacher logits. May be ``None`` when ``alpha == 0``
                and no intermediate term is used. Never receives gradient.
            labels: gold class indices ``(batch,)``; required unless ``alpha == 1``.
            attention_mask: ``(batch, seq)`` padding mask of the inputs; used by the ``cos``
                and ``attention`` terms (``None`` counts every position).

        Returns:
            :class:`LossOutput` ``(total, terms)``.
        """
        logits_S = _field(outputs_S, "logits", "student")
        losses: dict[str, Tensor] = {}
        if self.alpha > 0:
            logits_T = _field(outputs_T, "logits")
            if logits_T is None:
                raise ValueError("alpha > 0 needs the teacher's logits (outputs_T)")
            losses["soft"] = soft_target_loss(logits_S, logits_T, self.temperature)
        if self.alpha < 1:
            if labels is None:
                raise ValueError(
                    f"alpha={self.alpha} < 1 gives weight {1 - self.alpha} to the hard-label "
                    "loss, so labels are required (or set alpha=1 for pure distillation)"
                )
            losses["hard"] = hard_label_loss(logits_S, labels)
        losses.update(self._layer_terms(outputs_S, outputs_T, attention_mask))
        weights = self.weights
        total = torch.stack([weights[k] * v for k, v in losses.items()]).sum()
        # One device->host copy for all terms (a single sync on GPU).
        values = torch.stack([v.detach().float() for v in losses.values()]).cpu().tolist()
        return LossOutput(total=total, terms=dict(zip(losses, values, strict=True)))
