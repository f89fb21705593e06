"""Tests for distill_lib.losses.

Expected values are computed independently, by hand with Python's ``math`` on tiny tensors, so a
mistake in the library (wrong reduction, missing T**2, mask applied the wrong way) shows up as a
different number; ``torch.nn.functional`` is used only as a second check.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from distill_lib.losses import (
    DistillationLoss,
    LossOutput,
    attention_loss,
    check_alpha,
    check_loss_weight,
    check_temperature,
    hard_label_loss,
    hidden_cosine_loss,
    hidden_mse_loss,
    soft_target_loss,
)

LN3 = math.log(3.0)


def _softmax(xs: list[float], temperature: float = 1.0) -> list[float]:
    exps = [math.exp(x / temperature) for x in xs]
    total = sum(exps)
    return [e / total for e in exps]


def _soft_target_by_hand(rows_S: list[list[float]], rows_T: list[list[float]], t: float) -> float:
    """T^2 * mean over rows of KL(p_T || p_S), with explicit sums."""
    kl_sum = 0.0
    for z_S, z_T in zip(rows_S, rows_T, strict=True):
        p_S, p_T = _softmax(z_S, t), _softmax(z_T, t)
        kl_sum += sum(pt * (math.log(pt) - math.log(ps)) for ps, pt in zip(p_S, p_T, strict=True))
    return t * t * kl_sum / len(rows_S)


# ---------------------------------------------------------------------------------------------
# soft_target_loss
# ---------------------------------------------------------------------------------------------


def test_soft_target_loss_hand_computed_2x2() -> None:
    # Row 0: at T=2 the teacher [0, 2 ln 3] gives p_T = [1/4, 3/4]; the student [0, 0] gives
    # [1/2, 1/2]. KL = 1/4 ln(1/2) + 3/4 ln(3/2) = 0.130812...; times T^2 = 4.
    # Row 1: identical logits, KL = 0. batchmean -> divide by 2.
    logits_S = torch.tensor([[0.0, 0.0], [1.0, -1.0]])
    logits_T = torch.tensor([[0.0, 2 * LN3], [1.0, -1.0]])
    kl_row0 = 0.25 * math.log(0.5) + 0.75 * math.log(1.5)
    expected = 4.0 * kl_row0 / 2
    assert expected == pytest.approx(0.26162407188, abs=1e-10)
    got = soft_target_loss(logits_S, logits_T, temperature=2.0)
    assert got.item() == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("temperature", [1.0, 2.0, 5.0])
def test_soft_target_loss_matches_explicit_formula_and_kl_div(temperature: float) -> None:
    rows_S = [[0.3, -1.2, 2.0], [1.5, 0.1, -0.4]]
    rows_T = [[1.0, 0.5, -0.5], [-2.0, 0.7, 0.2]]
    expected = _soft_target_by_hand(rows_S, rows_T, temperature)
    logits_S, logits_T = torch.tensor(rows_S), torch.tensor(rows_T)
    got = soft_target_loss(logits_S, logits_T, temperature).item()
    assert got == pytest.approx(expected, rel=1e-5)
    # Second check with PyTorch's own KL.
    reference = (
        F.kl_div(
            F.log_softmax(logits_S / temperature, dim=-1),
            F.softmax(logits_T / temperature, dim=-1),
            reduction="batchmean",
        )
        * temperature**2
    )
    assert got == pytest.approx(reference.item(), rel=1e-5)


def test_soft_target_loss_zero_for_equal_logits_and_positive_otherwise() -> None:
    torch.manual_seed(0)
    logits = torch.randn(4, 3)
    assert soft_target_loss(logits, logits.clone()).item() == pytest.approx(0.0, abs=1e-6)
    assert soft_target_loss(logits, torch.randn(4, 3)).item() > 0


def test_soft_target_loss_detaches_teacher() -> None:
    logits_S = torch.randn(3, 2, requires_grad=True)
    logits_T = torch.randn(3, 2, requires_grad=True)
    soft_target_loss(logits_S, logits_T).backward()
    assert logits_S.grad is not None and logits_S.grad.abs().sum() > 0
    assert logits_T.grad is None


def test_soft_target_loss_gradient_scale_independent_of_temperature() -> None:
    # For large T, d(KL)/dz_S ~ (z_S - z_T) / (num_labels * batch * T^2) for zero-mean logits,
    # so multiplying by T^2 keeps the gradient norm constant across temperatures.
    torch.manual_seed(0)
    z_S = torch.randn(8, 5)
    z_T = torch.randn(8, 5)
    z_S -= z_S.mean(-1, keepdim=True)
    z_T -= z_T.mean(-1, keepdim=True)

    def grad_norm(t: float, scaled: bool) -> float:
        x = z_S.clone().requires_grad_()
        loss = soft_target_loss(x, z_T, t)
        if not scaled:
            loss = loss / t**2  # plain KL, without Hinton's T^2
        loss.backward()
        return x.grad.norm().item()

    assert grad_norm(4.0, True) / grad_norm(8.0, True) == pytest.approx(1.0, abs=0.02)
    assert grad_norm(4.0, False) / grad_norm(8.0, False) == pytest.approx(4.0, rel=0.02)


def test_soft_target_loss_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="temperature"):
        soft_target_loss(torch.zeros(2, 2), torch.zeros(2, 2), temperature=0.0)
    with pytest.raises(ValueError, match="same shape"):
        soft_target_loss(torch.zeros(2, 2), torch.zeros(2, 3))
    with pytest.raises(ValueError, match="batch, num_labels"):
        soft_target_loss(torch.zeros(2, 2, 2), torch.zeros(2, 2, 2))


# ---------------------------------------------------------------------------------------------
# hard_label_loss
# ---------------------------------------------------------------------------------------------


def test_hard_label_loss_hand_computed() -> None:
    # logits [0, ln 3] -> probabilities [1/4, 3/4]; label 1 costs ln(4/3), label 0 costs ln 4.
    logits = torch.tensor([[0.0, LN3], [0.0, LN3]])
    labels = torch.tensor([1, 0])
    expected = (math.log(4 / 3) + math.log(4)) / 2
    assert hard_label_loss(logits, labels).item() == pytest.approx(expected, rel=1e-6)
    assert hard_label_loss(logits, labels).item() == pytest.approx(
        F.cross_entropy(logits, labels).item(), rel=1e-6
    )


def test_hard_label_loss_ignores_minus_100() -> None:
    logits = torch.tensor([[0.0, LN3], [5.0, -5.0]])
    labels = torch.tensor([1, -100])
    assert hard_label_loss(logits, labels).item() == pytest.approx(math.log(4 / 3), rel=1e-6)


def test_hard_label_loss_shape_error() -> None:
    with pytest.raises(ValueError, match="labels"):
        hard_label_loss(torch.zeros(3, 2), torch.zeros(2, dtype=torch.long))


# ---------------------------------------------------------------------------------------------
# hidden_cosine_loss
# ---------------------------------------------------------------------------------------------


def test_hidden_cosine_loss_hand_computed() -> None:
    # Three tokens: orthogonal (1 - cos = 1), parallel (0), 45 degrees (1 - 1/sqrt 2).
    hidden_S = torch.tensor([[[1.0, 0.0], [1.0, 1.0], [1.0, 0.0]]])
    hidden_T = torch.tensor([[[0.0, 1.0], [2.0, 2.0], [1.0, 1.0]]])
    expected = (1.0 + 0.0 + (1 - 1 / math.sqrt(2))) / 3
    assert hidden_cosine_loss(hidden_S, hidden_T).item() == pytest.approx(expected, rel=1e-6)
    # Second check: PyTorch's CosineEmbeddingLoss with target +1 (what DistilBERT uses).
    reference = nn.CosineEmbeddingLoss()(hidden_S.view(-1, 2), hidden_T.view(-1, 2), torch.ones(3))
    assert hidden_cosine_loss(hidden_S, hidden_T).item() == pytest.approx(reference.item())


def test_hidden_cosine_loss_averages_over_real_tokens_only() -> None:
    hidden_S = torch.tensor(
        [[[1.0, 0.0], [1.0, 1.0], [7.0, -3.0]], [[1.0, 0.0], [0.0, 0.0], [0.0, 0.0]]]
    )
    hidden_T = torch.tensor(
        [[[0.0, 1.0], [2.0, 2.0], [0.5, 9.0]], [[1.0, 1.0], [0.0, 0.0], [0.0, 0.0]]]
    )
    mask = torch.tensor([[1, 1, 0], [1, 0, 0]])
    # Real tokens: orthogonal (1), parallel (0), 45 degrees (1 - 1/sqrt 2); 3 of them.
    expected = (1.0 + 0.0 + (1 - 1 / math.sqrt(2))) / 3
    got = hidden_cosine_loss(hidden_S, hidden_T, mask)
    assert got.item() == pytest.approx(expected, rel=1e-6)
    # Changing what sits in padded positions (even to NaN) changes nothing.
    hidden_S2, hidden_T2 = hidden_S.clone(), hidden_T.clone()
    hidden_S2[0, 2] = torch.tensor([-100.0, 4.0])
    hidden_T2[1, 1:] = float("nan")
    assert hidden_cosine_loss(hidden_S2, hidden_T2, mask).item() == pytest.approx(got.item())


def test_hidden_cosine_loss_width_mismatch_needs_projection() -> None:
    hidden_S, hidden_T = torch.randn(2, 3, 4), torch.randn(2, 3, 6)
    with pytest.raises(ValueError, match="projection"):
        hidden_cosine_loss(hidden_S, hidden_T)
    loss = hidden_cosine_loss(hidden_S, hidden_T, projection=nn.Linear(4, 6))
    assert loss.ndim == 0


# ---------------------------------------------------------------------------------------------
# hidden_mse_loss (PKD)
# ---------------------------------------------------------------------------------------------


def test_hidden_mse_loss_hand_computed_single_layer() -> None:
    # Example 0: [3, 4] -> [0.6, 0.8]; [1, 0] stays; squared distance 0.16 + 0.64 = 0.8.
    # Example 1: [0, 2] and [0, 5] both normalise to [0, 1]; distance 0.
    # Summed over hidden dims, averaged over the batch: (0.8 + 0) / 2 = 0.4.
    cls_S = torch.tensor([[3.0, 4.0], [0.0, 2.0]])
    cls_T = torch.tensor([[1.0, 0.0], [0.0, 5.0]])
    assert hidden_mse_loss(cls_S, cls_T).item() == pytest.approx(0.4, rel=1e-6)


def test_hidden_mse_loss_sums_over_layers_list_and_stacked() -> None:
    layer_S = [torch.tensor([[3.0, 4.0], [0.0, 2.0]]), torch.tensor([[1.0, 0.0], [1.0, 0.0]])]
    # Layer 1: first example identical direction (0), second opposite ([1,0] vs [-1,0]: 4).
    layer_T = [torch.tensor([[1.0, 0.0], [0.0, 5.0]]), torch.tensor([[2.0, 0.0], [-3.0, 0.0]])]
    expected = 0.4 + (0.0 + 4.0) / 2
    assert hidden_mse_loss(layer_S, layer_T).item() == pytest.approx(expected, rel=1e-6)
    stacked = hidden_mse_loss(torch.stack(layer_S), torch.stack(layer_T))
    assert stacked.item() == pytest.approx(expected, rel=1e-6)
    # Relation to the official PKD code's F.mse_loss (mean over every element).
    norm_S = F.normalize(torch.stack(layer_S), dim=-1)
    norm_T = F.normalize(torch.stack(layer_T), dim=-1)
    assert F.mse_loss(norm_S, norm_T).item() * 2 * 2 == pytest.approx(expected, rel=1e-6)


def test_hidden_mse_loss_projection() -> None:
    # Student width 3, teacher width 2. The projection drops the last coordinate.
    proj = nn.Linear(3, 2, bias=False)
    with torch.no_grad():
        proj.weight.copy_(torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]))
    cls_S = torch.tensor([[3.0, 4.0, 100.0], [0.0, 2.0, -7.0]])
    cls_T = torch.tensor([[1.0, 0.0], [0.0, 5.0]])
    with pytest.raises(ValueError, match=r"nn.Linear\(3, 2\)"):
        hidden_mse_loss(cls_S, cls_T)
    loss = hidden_mse_loss(cls_S, cls_T, projection=proj)
    assert loss.item() == pytest.approx(0.4, rel=1e-6)
    loss.backward()
    assert proj.weight.grad is not None and proj.weight.grad.abs().sum() > 0


def test_hidden_mse_loss_detaches_teacher_and_checks_layer_count() -> None:
    cls_S = torch.randn(2, 4, 8, requires_grad=True)
    cls_T = torch.randn(2, 4, 8, requires_grad=True)
    hidden_mse_loss(cls_S, cls_T).backward()
    assert cls_S.grad is not None and cls_T.grad is None
    with pytest.raises(ValueError, match="layers"):
        hidden_mse_loss(torch.randn(2, 4, 8), torch.randn(3, 4, 8))


# ---------------------------------------------------------------------------------------------
# attention_loss
# ---------------------------------------------------------------------------------------------


def test_attention_loss_hand_computed() -> None:
    # One head, 2x2 map. Squared differences 0.25, 0.25, 0, 0 -> mean 0.125.
    a_S = torch.tensor([[[[0.5, 0.5], [1.0, 0.0]]]])
    a_T = torch.tensor([[[[1.0, 0.0], [1.0, 0.0]]]])
    assert attention_loss(a_S, a_T).item() == pytest.approx(0.125)
    assert attention_loss(a_S, a_T).item() == pytest.approx(F.mse_loss(a_S, a_T).item())
    # A second, identical head halves the mean: 0.5 / 8.
    two_S, two_T = torch.cat([a_S, a_T], dim=1), torch.cat([a_T, a_T], dim=1)
    assert attention_loss(two_S, two_T).item() == pytest.approx(0.0625)
    # Layers are summed: [layer above, identical layer] -> 0.125 + 0.
    assert attention_loss([a_S, a_T], [a_T, a_T]).item() == pytest.approx(0.125)
    assert attention_loss(torch.stack([a_S, a_S]), torch.stack([a_T, a_T])).item() == (
        pytest.approx(0.25)
    )


def test_attention_loss_masks_padding_rows_and_columns() -> None:
    torch.manual_seed(0)
    # seq 3, last token is padding: only the top-left 2x2 block (4 entries) counts.
    a_S = torch.rand(1, 1, 3, 3)
    a_T = torch.rand(1, 1, 3, 3)
    a_S[0, 0, :2, :2] = torch.tensor([[0.5, 0.5], [1.0, 0.0]])
    a_T[0, 0, :2, :2] = torch.tensor([[1.0, 0.0], [1.0, 0.0]])
    mask = torch.tensor([[1, 1, 0]])
    got = attention_loss(a_S, a_T, mask)
    assert got.item() == pytest.approx(0.125)
    # Changing padded query rows / key columns does not change the loss.
    a_S2 = a_S.clone()
    a_S2[0, 0, 2, :] = 9.0
    a_S2[0, 0, :, 2] = -9.0
    assert attention_loss(a_S2, a_T, mask).item() == pytest.approx(got.item())
    # Without the mask the padding counts.
    assert attention_loss(a_S2, a_T).item() != pytest.approx(got.item())


def test_attention_loss_mask_per_example_and_heads() -> None:
    # Two examples with 2 and 1 real tokens, 2 heads: 2*(4 + 1) = 10 valid entries.
    a_S = torch.zeros(2, 2, 2, 2)
    a_T = torch.zeros(2, 2, 2, 2)
    a_S[0, :, 0, 0] = 1.0  # 2 valid entries with squared error 1
    a_S[1, 0, 0, 0] = 2.0  # 1 valid entry with squared error 4
    a_S[1, 1, 1, 1] = 5.0  # padding of example 1: ignored
    mask = torch.tensor([[1, 1], [1, 0]])
    assert attention_loss(a_S, a_T, mask).item() == pytest.approx((2 * 1.0 + 4.0) / 10)


def test_attention_loss_head_mismatch_and_teacher_detached() -> None:
    with pytest.raises(ValueError, match="heads"):
        attention_loss(torch.rand(1, 2, 3, 3), torch.rand(1, 4, 3, 3))
    a_S = torch.rand(1, 2, 3, 3, requires_grad=True)
    a_T = torch.rand(1, 2, 3, 3, requires_grad=True)
    attention_loss([a_S], [a_T], torch.ones(1, 3)).backward()
    assert a_S.grad is not None and a_T.grad is None


# ---------------------------------------------------------------------------------------------
# DistillationLoss
# ---------------------------------------------------------------------------------------------

BATCH, SEQ, HEADS, LABELS = 2, 5, 2, 3


def _fake_output(
    n_layers: int, hidden: int, *, requires_grad: bool = False, seed: int = 0
) -> dict[str, torch.Tensor | tuple[torch.Tensor, ...]]:
    """Something shaped like a HF SequenceClassifierOutput with hidden states and attentions."""
    g = torch.Generator().manual_seed(seed)

    def leaf(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=g).requires_grad_(requires_grad)

    def attn() -> torch.Tensor:
        return torch.softmax(torch.randn(BATCH, HEADS, SEQ, SEQ, generator=g), -1).requires_grad_(
            requires_grad
        )

    return {
        "logits": leaf(BATCH, LABELS),
        "hidden_states": tuple(leaf(BATCH, SEQ, hidden) for _ in range(n_layers + 1)),
        "attentions": tuple(attn() for _ in range(n_layers)),
    }


MASK = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]])
LABELS_T = torch.tensor([0, 2])


def test_defaults_and_needs_flags() -> None:
    loss_fn = DistillationLoss()
    assert (loss_fn.temperature, loss_fn.alpha) == (2.0, 0.5)
    assert not loss_fn.needs_hidden_states and not loss_fn.needs_attentions
    assert loss_fn.needs_teacher_logits
    assert list(loss_fn.parameters()) == []
    assert DistillationLoss(hidden_weight=1.0).needs_hidden_states
    assert DistillationLoss(cos_weight=1.0).needs_hidden_states
    assert DistillationLoss(attention_weight=1.0).needs_attentions
    assert not DistillationLoss(attention_weight=1.0).needs_hidden_states


def test_logits_only_with_cached_teacher_logits() -> None:
    logits_S = torch.randn(BATCH, LABELS, requires_grad=True)
    logits_T = torch.randn(BATCH, LABELS)
    loss_fn = DistillationLoss(temperature=3.0, alpha=0.3)
    out = loss_fn({"logits": logits_S}, logits_T, labels=LABELS_T)
    assert isinstance(out, LossOutput)
    assert set(out.terms) == {"soft", "hard"}
    soft = soft_target_loss(logits_S, logits_T, 3.0).item()
    hard = hard_label_loss(logits_S, LABELS_T).item()
    assert out.terms["soft"] == pytest.approx(soft)
    assert out.terms["hard"] == pytest.approx(hard)
    assert out.total.item() == pytest.approx(0.3 * soft + 0.7 * hard, rel=1e-6)
    total, terms = out  # unpacks like a tuple
    assert terms is out.terms and total is out.total
    total.backward()
    assert logits_S.grad is not None


def test_alpha_extremes() -> None:
    logits_S = torch.randn(BATCH, LABELS)
    logits_T = torch.randn(BATCH, LABELS)
    pure_ce = DistillationLoss(alpha=0.0)(logits_S, None, labels=LABELS_T)
    assert set(pure_ce.terms) == {"hard"}
    assert pure_ce.total.item() == pytest.approx(F.cross_entropy(logits_S, LABELS_T).item())
    pure_kd = DistillationLoss(alpha=1.0, temperature=4.0)(logits_S, logits_T)  # no labels
    assert set(pure_kd.terms) == {"soft"}
    assert pure_kd.total.item() == pytest.approx(soft_target_loss(logits_S, logits_T, 4.0).item())


def test_missing_inputs_raise_clear_errors() -> None:
    logits = torch.randn(BATCH, LABELS)
    with pytest.raises(ValueError, match="labels"):
        DistillationLoss(alpha=0.5)(logits, logits)
    with pytest.raises(ValueError, match="teacher's logits"):
        DistillationLoss(alpha=0.5)(logits, None, labels=LABELS_T)
    with pytest.raises(ValueError, match="output_hidden_states"):
        DistillationLoss(hidden_weight=1.0)(_fake_output(2, 8), logits, labels=LABELS_T)
    with pytest.raises(ValueError, match="output_attentions"):
        DistillationLoss(attention_weight=1.0)(_fake_output(2, 8), logits, labels=LABELS_T)
    with pytest.raises(ValueError, match="alpha"):
        DistillationLoss(alpha=1.5)
    with pytest.raises(ValueError, match="temperature"):
        DistillationLoss(temperature=0)


def test_all_terms_with_layer_map_on_hf_shaped_outputs() -> None:
    out_S = _fake_output(2, 8, requires_grad=True, seed=1)
    out_T = _fake_output(4, 8, requires_grad=True, seed=2)
    layer_map = [1, 3]
    loss_fn = DistillationLoss(
        temperature=2.0,
        alpha=0.4,
        cos_weight=0.5,
        hidden_weight=2.0,
        attention_weight=3.0,
        layer_map=layer_map,
    )
    out = loss_fn(out_S, out_T, labels=LABELS_T, attention_mask=MASK)
    assert set(out.terms) == {"soft", "hard", "cos", "hidden", "attention"}

    hs_S, hs_T = out_S["hidden_states"], out_T["hidden_states"]
    # Student layer i output = hidden_states[i + 1]; teacher layer j output = hidden_states[j + 1].
    expected = {
        "soft": soft_target_loss(out_S["logits"], out_T["logits"], 2.0).item(),
        "hard": hard_label_loss(out_S["logits"], LABELS_T).item(),
        "cos": hidden_cosine_loss(hs_S[-1], hs_T[-1], MASK).item(),
        "hidden": hidden_mse_loss(
            [hs_S[1][:, 0], hs_S[2][:, 0]], [hs_T[2][:, 0], hs_T[4][:, 0]]
        ).item(),
        "attention": attention_loss(
            list(out_S["attentions"]),
            [out_T["attentions"][1], out_T["attentions"][3]],
            MASK,
        ).item(),
    }
    for name, value in expected.items():
        assert out.terms[name] == pytest.approx(value, rel=1e-5), name

    weights = {"soft": 0.4, "hard": 0.6, "cos": 0.5, "hidden": 2.0, "attention": 3.0}
    assert loss_fn.weights == pytest.approx(weights)
    weighted = sum(weights[k] * out.terms[k] for k in weights)
    assert out.total.item() == pytest.approx(weighted, rel=1e-5)

    # Gradient reaches every student tensor that is used and never the teacher.
    out.total.backward()
    assert out_S["logits"].grad is not None
    assert all(out_S["hidden_states"][i].grad is not None for i in (1, 2))
    assert all(a.grad is not None for a in out_S["attentions"])
    teacher_tensors = [out_T["logits"], *out_T["hidden_states"], *out_T["attentions"]]
    assert all(t.grad is None for t in teacher_tensors)


def test_layer_map_validation() -> None:
    out_S, out_T = _fake_output(2, 8), _fake_output(4, 8)
    with pytest.raises(ValueError, match="layer_map"):
        DistillationLoss(hidden_weight=1.0)(out_S, out_T, labels=LABELS_T)  # depths differ
    with pytest.raises(ValueError, match="entries"):
        DistillationLoss(hidden_weight=1.0, layer_map=[0, 1, 2])(out_S, out_T, labels=LABELS_T)
    with pytest.raises(ValueError, match="teacher layer 4"):
        DistillationLoss(attention_weight=1.0, layer_map=[0, 4])(out_S, out_T, labels=LABELS_T)
    # Same depth, no layer_map: identity matching.
    same = DistillationLoss(hidden_weight=1.0, alpha=1.0)(out_T, _fake_output(4, 8, seed=5))
    assert "hidden" in same.terms


def test_projection_created_when_widths_differ_and_trains() -> None:
    assert DistillationLoss(hidden_size_S=8, hidden_size_T=8).projection is None
    loss_fn = DistillationLoss(
        alpha=1.0,
        cos_weight=1.0,
        hidden_weight=1.0,
        layer_map=[1, 3],
        hidden_size_S=6,
        hidden_size_T=8,
    )
    assert isinstance(loss_fn.projection, nn.Linear)
    assert (loss_fn.projection.in_features, loss_fn.projection.out_features) == (6, 8)
    assert len(list(loss_fn.parameters())) == 2  # weight and bias go into the optimiser
    out_S = _fake_output(2, 6, requires_grad=True, seed=1)
    out_T = _fake_output(4, 8, seed=2)
    out = loss_fn(out_S, out_T, attention_mask=MASK)
    out.total.backward()
    assert loss_fn.projection.weight.grad is not None
    assert loss_fn.projection.weight.grad.abs().sum() > 0
    # Without the sizes no projection exists, and the mismatch is reported clearly.
    with pytest.raises(ValueError, match="hidden_size_S"):
        DistillationLoss(alpha=1.0, hidden_weight=1.0, layer_map=[1, 3])(out_S, out_T)


def test_with_real_tiny_bert_models() -> None:
    from transformers import BertConfig, BertForSequenceClassification

    def make(layers: int) -> BertForSequenceClassification:
        config = BertConfig(
            vocab_size=50,
            hidden_size=16,
            num_hidden_layers=layers,
            num_attention_heads=2,
            intermediate_size=32,
            max_position_embeddings=16,
            num_labels=LABELS,
            attn_implementation="eager",
        )
        return BertForSequenceClassification(config)

    torch.manual_seed(0)
    teacher, student = make(4).eval(), make(2)
    input_ids = torch.randint(1, 50, (BATCH, SEQ))
    input_ids[MASK == 0] = 0
    loss_fn = DistillationLoss(
        alpha=0.5, cos_weight=1.0, hidden_weight=1.0, attention_weight=1.0, layer_map=[1, 3]
    )
    flags = {
        "output_hidden_states": loss_fn.needs_hidden_states,
        "output_attentions": loss_fn.needs_attentions,
    }
    out_T = teacher(input_ids=input_ids, attention_mask=MASK, **flags)  # no torch.no_grad()
    out_S = student(input_ids=input_ids, attention_mask=MASK, **flags)
    out = loss_fn(out_S, out_T, labels=LABELS_T, attention_mask=MASK)
    assert torch.isfinite(out.total)
    assert all(math.isfinite(v) and v >= 0 for v in out.terms.values())
    out.total.backward()
    assert all(p.grad is None for p in teacher.parameters())
    assert student.classifier.weight.grad is not None


# ---------------------------------------------------------------------------------------------
# Hyperparameter checks: one validator per rule, used by the losses and by TrainConfig
# (reported: soft_target_loss returned nan for temperature nan or inf)
# ---------------------------------------------------------------------------------------------

NAN, INF = float("nan"), float("inf")
# (value, text the message shows): not numbers, not finite
NOT_A_FINITE_NUMBER = [
    (NAN, "nan"),
    (INF, "inf"),
    (-INF, "-inf"),
    ("2", "'2' \\(str\\)"),
    (True, "True \\(bool\\)"),
    (None, "None"),
    (torch.tensor(2.0), "tensor"),
]
BAD_TEMPERATURES = [*NOT_A_FINITE_NUMBER, (0, "got 0"), (0.0, "got 0.0"), (-1.5, "got -1.5")]
BAD_ALPHAS = [*NOT_A_FINITE_NUMBER, (1.5, "got 1.5"), (-0.1, "got -0.1"), (2, "got 2")]
BAD_WEIGHTS = [*NOT_A_FINITE_NUMBER, (-1, "got -1"), (-1e-9, "got -1e-09")]
WEIGHT_NAMES = ["cos_weight", "hidden_weight", "attention_weight"]


@pytest.mark.parametrize(("value", "shown"), BAD_TEMPERATURES)
def test_bad_temperature_is_rejected_everywhere(value, shown) -> None:
    logits = torch.zeros(2, 3)
    for call in (
        lambda: check_temperature(value),
        lambda: soft_target_loss(logits, logits, temperature=value),
        lambda: DistillationLoss(temperature=value),
    ):
        with pytest.raises(ValueError, match=rf"temperature must be .*> 0.*{shown}"):
            call()


@pytest.mark.parametrize(("value", "shown"), BAD_ALPHAS)
def test_bad_alpha_is_rejected(value, shown) -> None:
    for call in (lambda: check_alpha(value), lambda: DistillationLoss(alpha=value)):
        with pytest.raises(ValueError, match=rf"alpha must be .*between 0 and 1.*{shown}"):
            call()


@pytest.mark.parametrize("name", WEIGHT_NAMES)
@pytest.mark.parametrize(("value", "shown"), BAD_WEIGHTS)
def test_bad_loss_weight_is_rejected(name, value, shown) -> None:
    for call in (
        lambda: check_loss_weight(value, name),
        lambda: DistillationLoss(**{name: value}),
    ):
        with pytest.raises(ValueError, match=rf"{name} must be .*>= 0.*{shown}"):
            call()


@pytest.mark.parametrize("value", [1, 0.5, np.float32(0.5), np.int64(1), np.float64(1.0)])
def test_validators_accept_ints_floats_and_numpy_and_return_floats(value) -> None:
    for check in (check_temperature, check_alpha, lambda v: check_loss_weight(v, "w")):
        out = check(value)
        assert type(out) is float and out == float(value)
    assert check_alpha(0) == 0.0 and check_loss_weight(0, "w") == 0.0


def test_extreme_but_valid_temperatures_give_finite_losses() -> None:
    logits_S, logits_T = torch.randn(4, 3), torch.randn(4, 3)
    for t in (1e-3, 1, 1e3):
        assert torch.isfinite(soft_target_loss(logits_S, logits_T, temperature=t))


@pytest.mark.parametrize(
    ("layer_map", "match"),
    [
        ([0, 0], "layer_map: .*layer 0 appears twice"),
        ([1, 3, 1], "layer_map: .*layer 1 appears twice"),
        ([0.5, 1], "layer_map: layer indices must be ints.*0.5"),
        ([True, False], "layer_map: layer indices must be ints.*True"),
        (["0", "1"], "layer_map: layer indices must be ints"),
        ([-1, 2], "layer_map: layer indices \\[-1\\] are out of range"),
        ([], "layer_map: the layer list is empty"),
        ("0,1", "layer_map: layers must be a strategy name .* or a list"),
    ],
)
def test_layer_map_must_be_distinct_ints(layer_map, match) -> None:
    with pytest.raises(ValueError, match=match):
        DistillationLoss(hidden_weight=1.0, layer_map=layer_map)
    assert DistillationLoss(layer_map=np.array([3, 1])).layer_map == [3, 1]


@pytest.mark.parametrize("size", [0, -4, 8.0, "8", True])
@pytest.mark.parametrize("name", ["hidden_size_S", "hidden_size_T"])
def test_hidden_sizes_must_be_positive_ints(name, size) -> None:
    with pytest.raises(ValueError, match=f"{name} must be None or an int >= 1"):
        DistillationLoss(**{name: size})
