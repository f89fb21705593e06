"""Data-driven layer selection on tiny random models (no downloads), with answers known by
construction: a layer whose forward is the identity has block influence 0, CKA 1 with its
input, and skipping it changes nothing."""

from __future__ import annotations

import itertools
import json
import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from datasets import Dataset
from matplotlib.figure import Figure
from tiny_models import VOCAB, tiny_bert, tiny_distilbert
from transformers import MPNetConfig, MPNetForSequenceClassification

from distill_lib import plots, selection
from distill_lib.selection import (
    SIGNALS,
    block_influence,
    choose_layers,
    cka_cover,
    drop_sensitivity,
    layer_cka,
    linear_cka,
    measure_layers,
)
from distill_lib.student import encoder_layers

N = 4  # teacher layers
IDENTITY = 2  # the layer made the identity


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _tokens(n: int, seed: int, *, min_len: int = 3, max_len: int = 12) -> Dataset:
    """Random token ids of varying length (so batches are padded) and random labels."""
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(min_len, max_len + 1, (n,), generator=g).tolist()
    ids = [torch.randint(5, VOCAB, (length,), generator=g).tolist() for length in lengths]
    return Dataset.from_dict(
        {
            "input_ids": ids,
            "attention_mask": [[1] * len(x) for x in ids],
            "label": torch.randint(0, 2, (n,), generator=g).tolist(),
        }
    )


def _make_identity(layer: torch.nn.Module, *, as_tuple: bool = False) -> None:
    """Replace one layer's forward (on this instance only) with an exact identity.

    The module stays a ``BertLayer``, so the hooks that collect ``hidden_states`` still see it.
    """

    def forward(hidden_states, *args, **kwargs):
        return (hidden_states,) if as_tuple else hidden_states

    layer.forward = forward


def _lively(model: torch.nn.Module) -> torch.nn.Module:
    """Scale the layers' weight matrices up (std 0.02 -> 0.4) so each layer really changes
    its input; at the default init every layer is nearly the identity (influence ~1e-5)."""
    with torch.no_grad():
        for param in encoder_layers(model).parameters():
            if param.ndim == 2:
                param.mul_(20.0)
    return model


def _bert_with_identity_layer() -> torch.nn.Module:
    model = _lively(tiny_bert(num_layers=N, hidden=16, seed=3))
    _make_identity(encoder_layers(model)[IDENTITY])
    return model


def _tiny_mpnet(num_layers: int = N) -> MPNetForSequenceClassification:
    torch.manual_seed(0)
    config = MPNetConfig(
        vocab_size=VOCAB,
        hidden_size=16,
        num_hidden_layers=num_layers,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=70,
        num_labels=2,
        pad_token_id=1,
    )
    return MPNetForSequenceClassification(config)


@torch.no_grad()
def _logits(model, data: Dataset) -> torch.Tensor:
    model.eval()
    ids = torch.tensor(data["input_ids"][0]).unsqueeze(0)
    return model(input_ids=ids).logits


# ---------------------------------------------------------------------------------------------
# linear CKA


def _hsic_cka(x: np.ndarray, y: np.ndarray) -> float:
    """CKA from its definition: HSIC(K, L) / sqrt(HSIC(K, K) HSIC(L, L)), K = X X^T, with
    the centring matrix H = I - 11^T/m (the 1/(m-1)^2 factors cancel)."""
    m = x.shape[0]
    h = np.eye(m) - np.ones((m, m)) / m
    k, ell = x @ x.T, y @ y.T

    def hsic(a, b):
        return np.trace(a @ h @ b @ h) / (m - 1) ** 2

    return hsic(k, ell) / math.sqrt(hsic(k, k) * hsic(ell, ell))


@pytest.mark.parametrize("m, d", [(40, 6), (5, 9)])  # feature form and Gram form
def test_linear_cka_invariances(m, d):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(m, d))
    y = rng.normal(size=(m, d + 2)) + 0.5 * np.hstack([x, x[:, :2]])
    q, _ = np.linalg.qr(rng.normal(size=(d, d)))  # orthogonal
    value = linear_cka(x, y)
    assert 0.0 < value < 1.0
    assert linear_cka(x, x) == pytest.approx(1.0, abs=1e-12)
    assert linear_cka(x, 3.7 * x @ q + 5.0) == pytest.approx(1.0, abs=1e-12)
    assert linear_cka(3.7 * x @ q, y) == pytest.approx(value, abs=1e-12)
    assert linear_cka(y, x) == pytest.approx(value, abs=1e-12)
    assert linear_cka(torch.from_numpy(x).float(), torch.from_numpy(y)) == pytest.approx(
        value, abs=1e-6
    )
    assert value == pytest.approx(_hsic_cka(x, y), abs=1e-12)
    # not invariant to anisotropic scaling: scaling one feature changes it
    assert abs(linear_cka(x * np.arange(1, d + 1), y) - value) > 1e-3


def test_linear_cka_hand_computed_example():
    # Columns already centred. X^T Y = [-2, -1] -> 5; ||X^T X|| = 2; Y^T Y = [[2,1],[1,2]]
    # -> sqrt(10). CKA = 5 / (2 sqrt(10)) = sqrt(10) / 4.
    x = np.array([[-1.0], [0.0], [1.0]])
    y = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, -1.0]])
    assert linear_cka(x, y) == pytest.approx(math.sqrt(10) / 4, abs=1e-12)
    assert _hsic_cka(x, y) == pytest.approx(math.sqrt(10) / 4, abs=1e-12)


def test_linear_cka_rejects_bad_input():
    x = np.random.default_rng(0).normal(size=(6, 3))
    with pytest.raises(ValueError, match="same rows"):
        linear_cka(x, x[:5])
    with pytest.raises(ValueError, match="at least 2"):
        linear_cka(x[:1], x[:1])
    with pytest.raises(ValueError, match="same for every example"):
        linear_cka(x, np.ones((6, 2)))
    with pytest.raises(ValueError, match="2-D"):
        linear_cka(x[:, 0], x)


# ---------------------------------------------------------------------------------------------
# cka_cover

BLOCKS = [[0, 1, 2], [3, 4, 5, 6], [7, 8]]


def _block_cka() -> np.ndarray:
    n = sum(len(b) for b in BLOCKS)
    block_of = {i: b for b, members in enumerate(BLOCKS) for i in members}
    rng = np.random.default_rng(1)
    sim = np.empty((n, n))
    for i in range(n):
        for j in range(n):
            sim[i, j] = 0.9 if block_of[i] == block_of[j] else 0.2
    sim += rng.uniform(0, 0.05, size=(n, n))
    sim = (sim + sim.T) / 2
    np.fill_diagonal(sim, 1.0)
    return sim


def test_cka_cover_takes_one_layer_from_each_block():
    sim = _block_cka()
    chosen = cka_cover(sim, 3)
    assert chosen == sorted(chosen)
    assert [sum(i in block for i in chosen) for block in BLOCKS] == [1, 1, 1]
    assert cka_cover(sim, 3) == chosen  # deterministic
    assert cka_cover(sim, 9) == list(range(9))
    five = cka_cover(sim, 5)
    assert all(any(i in block for i in five) for block in BLOCKS)
    assert cka_cover(sim, 1)[0] in BLOCKS[1]  # the medoid lies in the biggest block


def test_cka_cover_breaks_ties_by_lower_index():
    sim = np.full((5, 5), 0.3)
    np.fill_diagonal(sim, 1.0)
    assert cka_cover(sim, 2) == [0, 1]
    assert cka_cover(sim, 1) == [0]


def test_cka_cover_reaches_the_k_medoids_optimum_on_a_line():
    # Layers at points on a line, CKA = 1 - distance: the best cover (smallest total distance
    # of every layer to its nearest chosen one) is found by brute force.
    pos = np.array([0.0, 0.10, 0.12, 0.50, 0.60])
    sim = 1 - np.abs(pos[:, None] - pos[None, :])
    for k in (1, 2, 3):
        chosen = cka_cover(sim, k)
        cost = np.abs(pos[:, None] - pos[None, chosen]).min(axis=1).sum()
        best = min(
            np.abs(pos[:, None] - pos[None, list(c)]).min(axis=1).sum()
            for c in itertools.combinations(range(5), k)
        )
        assert cost == pytest.approx(best, abs=1e-12), (k, chosen)


def test_cka_cover_rejects_bad_input():
    sim = _block_cka()
    for k in (0, 10, True, 2.0):
        with pytest.raises(ValueError, match="k must be"):
            cka_cover(sim, k)
    with pytest.raises(ValueError, match="square"):
        cka_cover(sim[:3], 2)
    bad = sim.copy()
    bad[0, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        cka_cover(bad, 2)


# ---------------------------------------------------------------------------------------------
# choose_layers


def _measured() -> dict:
    sim = np.eye(6)
    sim[1:, 1:] = _block_cka()[:5, :5]  # blocks [0, 1, 2], [3, 4] of the layers
    return {
        "n_layers": 5,
        "block_influence": [0.1, 0.5, 0.5, 0.2, 0.5],
        "cka": sim.tolist(),
        "drop": {
            "accuracy_drop": [0.0, 0.1, 0.1, 0.3, 0.0],
            "loss_increase": [0.5, 0.2, 0.4, 0.0, 0.5],
        },
    }


def test_choose_layers_top_k_with_ties():
    measured = _measured()
    assert choose_layers("influence", measured, 1) == [1]
    assert choose_layers("influence", measured, 2) == [1, 2]
    assert choose_layers("influence", measured, 3) == [1, 2, 4]
    assert choose_layers("influence", measured, 4) == [1, 2, 3, 4]
    assert choose_layers("drop", measured, 1) == [3]
    assert choose_layers("drop", measured, 2) == [2, 3]  # tie 1 vs 2: larger loss increase
    assert choose_layers("drop", measured, 3) == [1, 2, 3]
    assert choose_layers("drop", measured, 4) == [0, 1, 2, 3]  # tie 0 vs 4: lower index
    cover = choose_layers("cka-cover", measured, 2)
    assert cover == cka_cover(np.asarray(measured["cka"])[1:, 1:], 2)
    assert sum(i in (0, 1, 2) for i in cover) == 1
    for name in SIGNALS:
        assert choose_layers(name, measured, 5) == [0, 1, 2, 3, 4]
        assert choose_layers(name, json.loads(json.dumps(measured)), 3) == choose_layers(
            name, measured, 3
        )


def test_choose_layers_errors():
    measured = _measured()
    assert set(SIGNALS) == {"influence", "cka-cover", "drop"}
    with pytest.raises(ValueError, match=r"influence.*cka-cover.*drop"):
        choose_layers("uniform", measured, 2)
    for k in (0, 6, -1, True, 2.0):
        with pytest.raises(ValueError, match=r"between 1 and 5"):
            choose_layers("influence", measured, k)


# ---------------------------------------------------------------------------------------------
# On a model with an identity layer


def test_identity_layer_has_zero_influence_and_cka_one(bert_tokenizer):
    model = _bert_with_identity_layer()
    data = _tokens(24, seed=0)
    influence = block_influence(model, data, tokenizer=bert_tokenizer, batch_size=8)
    assert influence.shape == (N,)
    assert abs(influence[IDENTITY]) < 1e-6
    others = np.delete(influence, IDENTITY)
    assert (others > 1e-3).all(), influence

    cka = layer_cka(model, data, tokenizer=bert_tokenizer, batch_size=8)
    assert cka.shape == (N + 1, N + 1)
    np.testing.assert_allclose(cka, cka.T, atol=1e-12)
    np.testing.assert_allclose(np.diag(cka), 1.0, atol=1e-12)
    assert cka[IDENTITY + 1, IDENTITY] == pytest.approx(1.0, abs=1e-9)  # output vs input
    for i in range(N):
        if i != IDENTITY:
            assert cka[i + 1, i] < 1 - 1e-6, (i, cka[i + 1, i])


def test_signals_ignore_padding(bert_tokenizer):
    """Batches of one (no padding) and of eight (padded) give the same numbers."""
    model = _lively(tiny_bert(num_layers=3, hidden=16, seed=1))
    data = _tokens(12, seed=5, min_len=2, max_len=14)
    one = block_influence(model, data, tokenizer=bert_tokenizer, batch_size=1)
    eight = block_influence(model, data, tokenizer=bert_tokenizer, batch_size=8)
    np.testing.assert_allclose(one, eight, atol=1e-5)
    cka_one = layer_cka(model, data, tokenizer=bert_tokenizer, batch_size=1)
    cka_eight = layer_cka(model, data, tokenizer=bert_tokenizer, batch_size=8)
    np.testing.assert_allclose(cka_one, cka_eight, atol=1e-5)


def test_block_influence_matches_the_definition(bert_tokenizer):
    model = _lively(tiny_bert(num_layers=3, hidden=16, seed=2))
    data = _tokens(6, seed=7, min_len=8, max_len=8)  # equal lengths: no padding
    model.eval()
    with torch.no_grad():
        hidden = model(
            input_ids=torch.tensor(data["input_ids"]), output_hidden_states=True
        ).hidden_states
    expected = [
        float((1 - torch.cosine_similarity(hidden[i], hidden[i + 1], dim=-1)).mean())
        for i in range(3)
    ]
    got = block_influence(model, data, tokenizer=bert_tokenizer, batch_size=4)
    np.testing.assert_allclose(got, expected, atol=1e-6)
    pooled = [h.mean(1).double().numpy() for h in hidden]
    cka = layer_cka(model, data, tokenizer=bert_tokenizer, batch_size=4)
    assert cka[0, 3] == pytest.approx(linear_cka(pooled[0], pooled[3]), abs=1e-6)


def test_skipping_the_identity_layer_changes_nothing(bert_tokenizer):
    model = _bert_with_identity_layer()
    drop = drop_sensitivity(model, _tokens(32, seed=1), tokenizer=bert_tokenizer, batch_size=8)
    assert set(drop) == {
        "full_accuracy",
        "full_loss",
        "accuracy",
        "loss",
        "accuracy_drop",
        "loss_increase",
    }
    assert all(len(drop[key]) == N for key in ("accuracy", "loss", "accuracy_drop"))
    assert drop["accuracy"][IDENTITY] == drop["full_accuracy"]
    assert drop["loss"][IDENTITY] == pytest.approx(drop["full_loss"], abs=1e-6)
    assert drop["accuracy_drop"][IDENTITY] == 0.0
    assert abs(drop["loss_increase"][IDENTITY]) < 1e-6
    # skipping a real layer does change the loss (the skip is not a no-op)
    others = [abs(drop["loss_increase"][i]) for i in range(N) if i != IDENTITY]
    assert min(others) > 1e-5, drop
    for i in range(N):
        assert drop["accuracy_drop"][i] == pytest.approx(
            drop["full_accuracy"] - drop["accuracy"][i]
        )


def test_drop_sensitivity_on_tuple_returning_layers(bert_tokenizer):
    """MPNet's layers return a tuple; the stand-in must too, or the encoder reads garbage."""
    model = _lively(_tiny_mpnet())
    _make_identity(encoder_layers(model)[1], as_tuple=True)
    drop = drop_sensitivity(model, _tokens(16, seed=2), tokenizer=bert_tokenizer, batch_size=8)
    assert drop["loss"][1] == pytest.approx(drop["full_loss"], abs=1e-6)
    assert min(abs(drop["loss_increase"][i]) for i in (0, 2, 3)) > 1e-5


def test_drop_sensitivity_restores_the_model_even_on_error(bert_tokenizer, monkeypatch):
    model = _lively(tiny_bert(num_layers=N, hidden=16, seed=4))
    data = _tokens(8, seed=3)
    before = _logits(model, data)
    layers = list(encoder_layers(model))
    model.train()

    real = selection.evaluate_model
    calls = []

    def failing(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:  # the full pass, layer 0 skipped, then layer 1 skipped: fail
            assert encoder_layers(model)[1] is not layers[1]  # layer 1 is skipped right now
            raise RuntimeError("boom")
        return real(*args, **kwargs)

    monkeypatch.setattr(selection, "evaluate_model", failing)
    with pytest.raises(RuntimeError, match="boom"):
        drop_sensitivity(model, data, tokenizer=bert_tokenizer, batch_size=4)
    assert len(calls) == 3
    assert all(a is b for a, b in zip(encoder_layers(model), layers, strict=True))
    assert len(encoder_layers(model)) == N
    assert model.training  # mode given back
    assert not any(m._forward_hooks for m in encoder_layers(model))  # recorder hooks removed
    torch.testing.assert_close(_logits(model, data), before, rtol=0, atol=0)

    monkeypatch.setattr(selection, "evaluate_model", real)
    drop_sensitivity(model, data, tokenizer=bert_tokenizer, batch_size=4)
    assert all(a is b for a, b in zip(encoder_layers(model), layers, strict=True))
    torch.testing.assert_close(_logits(model, data), before, rtol=0, atol=0)


# ---------------------------------------------------------------------------------------------
# measure_layers


@pytest.mark.parametrize(
    "family, training", [("bert", True), ("bert", False), ("distilbert", True), ("mpnet", False)]
)
def test_measure_layers_is_json_and_keeps_the_mode(family, training, bert_tokenizer):
    model = {
        "bert": lambda: tiny_bert(num_layers=N, hidden=16),
        "distilbert": lambda: tiny_distilbert(num_layers=N),
        "mpnet": _tiny_mpnet,
    }[family]()
    model.train(training)
    weights = {k: v.clone() for k, v in model.state_dict().items()}
    calibration, validation = _tokens(10, seed=8), _tokens(12, seed=9)
    measured = measure_layers(
        model, calibration, validation, tokenizer=bert_tokenizer, batch_size=4
    )
    assert model.training is training
    assert all(m.training is training for m in model.modules())
    for key, value in model.state_dict().items():
        assert torch.equal(value, weights[key]), key

    loaded = json.loads(json.dumps(measured, allow_nan=False))
    assert loaded == measured
    assert measured["n_layers"] == N
    assert measured["calibration_size"] == 10 and measured["validation_size"] == 12
    assert measured["pooling"] == "mean over non-padding tokens"
    assert len(measured["block_influence"]) == N
    cka = np.asarray(measured["cka"])
    assert cka.shape == (N + 1, N + 1)
    np.testing.assert_allclose(np.diag(cka), 1.0, atol=1e-12)
    assert len(measured["drop"]["accuracy"]) == N
    for name in SIGNALS:
        chosen = choose_layers(name, loaded, 2)
        assert len(chosen) == 2 and chosen == sorted(chosen) and set(chosen) <= set(range(N))


# ---------------------------------------------------------------------------------------------
# Plots


def test_layer_plots():
    measured = _measured()
    chosen = {name: choose_layers(name, measured, 2) for name in SIGNALS}
    fig = plots.plot_layer_scores(measured, chosen)
    assert isinstance(fig, Figure)
    axes = fig.axes
    assert len(axes) == 3
    for ax in axes:
        assert ax.get_xlabel().startswith("teacher layer")
        assert [t.get_text() for t in ax.get_xticklabels()] == ["0", "1", "2", "3", "4"]
        marked = [p for p in ax.patches if p.get_gid() == "chosen-layer"]
        assert len(marked) == 2
    influence_ax = axes[0]
    heights = [p.get_height() for p in influence_ax.patches if p.get_gid()]
    assert sorted(heights) == sorted(measured["block_influence"])
    assert isinstance(plots.plot_layer_scores(measured), Figure)

    fig = plots.plot_cka(measured)
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert labels == ["emb", "0", "1", "2", "3", "4"]
    assert [t.get_text() for t in ax.get_yticklabels()] == labels
    fig2, ax2 = plt.subplots()
    assert plots.plot_cka(np.asarray(measured["cka"]), ax=ax2) is fig2
