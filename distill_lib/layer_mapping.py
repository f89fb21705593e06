"""Layer maps that move: which teacher layers the hidden-state loss pulls each student layer to.

Initialisation decides where a student *starts* (:mod:`distill_lib.layers`); the layer map of
the hidden-state loss decides what each student layer is pulled *towards* while it trains.
:class:`~distill_lib.losses.DistillationLoss` uses one fixed map, the layers the student was
copied from (PKD). This module adds the two published alternatives, as plain functions and as
:class:`MovingMapLoss`, a ``DistillationLoss`` whose map changes during training:

=========  ================================================================  ====================
mapping    student layer ``i`` of ``k`` is matched with                      paper
=========  ================================================================  ====================
``fixed``  teacher layer ``layer_map[i]`` (the layer it was copied from)     PKD (Sun et al. 2019)
``rail``   teacher layer ``m[i]``, ``m`` = k teacher layers drawn at random  RAIL-KD (Haidar et
           and sorted, drawn again at the start of every epoch               al. 2022)
``alp``    ``sum_j a[i, j] * teacher layer j`` over *all* teacher layers,    ALP-KD (Passban et
           ``a[i] = softmax_j(sqrt(d) * cos(s_i, t_j))`` per example         al. 2021)
=========  ================================================================  ====================

All three compare [CLS] vectors (position 0), each divided by its L2 norm, with PKD's squared
distance (:func:`~distill_lib.losses.hidden_mse_loss`). What is ours, not the papers': the
representation and distance (PKD's, so the three recipes differ only in the map) and ``alp``'s
scoring (:func:`alp_weights`; the papers' method sections could not be read offline when this
was written, so their exact formulas are not claimed here). ``rail`` draws from a generator of
its own, seeded with the run's seed: a run is reproducible, its maps are recorded per epoch
(``layer_map`` in the run's history), and its batches and dropout are those of the fixed-map run
with the same seed, so the two differ only in the map. ``alp``'s weights, averaged over an
epoch's examples, are recorded per epoch too (``alp_weights``: one row per student layer, one
column per teacher layer, each row summing to 1), so a learner can see which teacher layers each
student layer ends up matching. The attention-map term (``attention_weight``), if used, follows
the current map under ``rail`` and the fixed map under ``alp``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .losses import DistillationLoss, _check_width
from .train_config import LAYER_MAPPINGS

__all__ = ["LAYER_MAPPINGS", "MovingMapLoss", "alp_hidden_loss", "alp_weights", "rail_map"]


def rail_map(n_student: int, n_teacher: int, generator: torch.Generator) -> list[int]:
    """RAIL-KD's map: ``n_student`` distinct teacher layers (0-indexed) drawn at random with
    ``generator``, sorted, so the student's layer order follows the teacher's.

    >>> rail_map(3, 6, torch.Generator().manual_seed(0))
    [0, 3, 4]
    """
    if not 1 <= n_student <= n_teacher:
        raise ValueError(f"cannot draw {n_student} of {n_teacher} teacher layers")
    drawn = torch.randperm(n_teacher, generator=generator)[:n_student]
    return sorted(int(j) for j in drawn)


def _unit(x: Tensor) -> Tensor:
    return F.normalize(x.float(), p=2, dim=-1)


def alp_weights(cls_S: Tensor, cls_T: Tensor) -> Tensor:
    """ALP-KD's attention of one student layer over all teacher layers, per example.

    ``a[b, j] = softmax_j(sqrt(hidden) * cos(s_b, t_{j,b}))``: by direction only, like the loss
    the weights feed (the [CLS] states' lengths differ from layer to layer, and would otherwise
    decide the weights), at the scale of Transformer attention's scaled dot product for vectors
    of LayerNorm's length ``sqrt(hidden)``.

    Args:
        cls_S: the student layer's [CLS] states, ``(batch, hidden)`` (already projected to the
            teacher's width if the widths differ).
        cls_T: every teacher layer's [CLS] states, ``(n_teacher, batch, hidden)``. Detached.

    Returns:
        ``(batch, n_teacher)`` weights, each row summing to 1.
    """
    if cls_T.ndim != 3 or cls_S.ndim != 2 or cls_S.shape != cls_T.shape[1:]:
        raise ValueError(f"alp_weights needs cls_S (batch, hidden) and cls_T (n_teacher, batch, "
                         f"hidden), got {tuple(cls_S.shape)} and {tuple(cls_T.shape)}")
    cosines = torch.einsum("bh,tbh->bt", _unit(cls_S), _unit(cls_T.detach()))
    return (math.sqrt(cls_S.shape[-1]) * cosines).softmax(dim=-1)


def alp_hidden_loss(
    cls_S: Sequence[Tensor], cls_T: Sequence[Tensor], projection: nn.Module | None = None
) -> tuple[Tensor, Tensor]:
    """ALP-KD's hidden-state loss: each student layer against its attention-weighted mix of
    all teacher layers (:func:`alp_weights`).

    For student layer ``i`` and example ``b``: ``c = sum_j a[b, j] * t_{j,b} / ||t_{j,b}||``
    and the term is ``|| s_{i,b} / ||s_{i,b}|| - c ||**2``; summed over student layers and
    hidden dimensions, averaged over the batch, like :func:`~distill_lib.losses.hidden_mse_loss`
    (the two agree when every weight row is one-hot). The weights are computed from the
    student's states and receive gradient through them; the teacher's states are detached.

    Args:
        cls_S: one ``(batch, hidden_S)`` tensor per student layer.
        cls_T: one ``(batch, hidden_T)`` tensor per teacher layer (all of them).
        projection: ``hidden_S -> hidden_T`` module, required when the widths differ.

    Returns:
        ``(loss, weights)``: the scalar loss and the ``(n_student, n_teacher)`` weights
        averaged over the batch (detached, each row summing to 1).
    """
    if not cls_S or not cls_T:
        raise ValueError("alp_hidden_loss needs at least one student and one teacher layer")
    t = torch.stack([c.detach().float() for c in cls_T])  # (n_T, batch, hidden_T)
    t_unit = _unit(t)
    losses, weights = [], []
    for s in cls_S:
        _check_width(s.shape[-1], t.shape[-1], projection, "alp_hidden_loss")
        s = s.float() if projection is None else projection(s.float()).float()
        a = alp_weights(s, t)  # (batch, n_T)
        mixed = torch.einsum("bt,tbh->bh", a, t_unit)
        losses.append((_unit(s) - mixed).pow(2).sum(dim=-1).mean())
        weights.append(a.detach().mean(dim=0))
    return torch.stack(losses).sum(), torch.stack(weights)


class MovingMapLoss(DistillationLoss):
    """A :class:`~distill_lib.losses.DistillationLoss` whose hidden-state term uses the
    ``rail`` or ``alp`` mapping (see the module docs); every other term is unchanged.

    The training loop calls :meth:`begin_epoch` before each epoch (``rail`` draws its map
    there) and :meth:`epoch_log` after it (what to record in the epoch's history row). Extra
    args: ``layer_mapping`` (``"rail"`` or ``"alp"``), ``n_teacher`` (the teacher's number of
    layers) and ``seed`` (of ``rail``'s own generator: the run's seed); ``layer_map`` is the
    student's own map, used by ``rail`` until the first epoch begins and by the attention term
    under ``alp``.
    """

    def __init__(self, *, layer_mapping: str, n_teacher: int, seed: int = 0, **kwargs: Any
                 ) -> None:
        super().__init__(**kwargs)
        if layer_mapping not in ("rail", "alp"):
            raise ValueError(f"layer_mapping must be 'rail' or 'alp' here, got {layer_mapping!r}")
        if self.hidden_weight <= 0:
            raise ValueError(f"layer_mapping={layer_mapping!r} moves the hidden-state loss's "
                             "map, but hidden_weight is 0: set hidden_weight > 0")
        if self.layer_map is None:
            raise ValueError("MovingMapLoss needs layer_map (the student's own map)")
        self.layer_mapping = layer_mapping
        self.n_teacher = int(n_teacher)
        self.generator = torch.Generator().manual_seed(int(seed))  # rail's own stream
        self._weight_sum: Tensor | None = None
        self._seen = 0

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, layer_mapping={self.layer_mapping}"

    def begin_epoch(self) -> None:
        """Start an epoch: ``rail`` draws a new sorted map; ``alp`` resets its weight sums."""
        if self.layer_mapping == "rail":
            assert self.layer_map is not None
            self.layer_map = rail_map(len(self.layer_map), self.n_teacher, self.generator)
        self._weight_sum, self._seen = None, 0

    def epoch_log(self) -> dict[str, Any]:
        """What the epoch used: ``{"layer_map": [...]}`` (``rail``) or ``{"alp_weights":
        [[...], ...]}`` (``alp``, the mean over the epoch's examples, 4 decimals)."""
        if self.layer_mapping == "rail":
            return {"layer_map": list(self.layer_map or [])}
        if self._weight_sum is None:
            return {}
        mean = (self._weight_sum / self._seen).cpu().tolist()
        return {"alp_weights": [[round(w, 4) for w in row] for row in mean]}

    def _hidden_term(self, hs_S: Sequence[Tensor], hs_T: Sequence[Tensor]) -> Tensor:
        if self.layer_mapping != "alp":  # rail: the fixed-map term with this epoch's map
            return super()._hidden_term(hs_S, hs_T)
        loss, weights = alp_hidden_loss([h[:, 0] for h in hs_S[1:]],
                                        [h[:, 0] for h in hs_T[1:]], self.projection)
        batch = hs_S[0].shape[0]
        total = weights * batch  # (detached) summed on the device: no sync per step
        self._weight_sum = total if self._weight_sum is None else self._weight_sum + total
        self._seen += batch
        return loss
