"""Layer maps that move (`rail`, `alp`): hand-computed values, seeds, and the training loop."""

from __future__ import annotations

import math

import pytest
import torch
from datasets import DatasetDict
from test_train import FAST, _split, tiny_teacher

from distill_lib.data import tokenize
from distill_lib.layer_mapping import MovingMapLoss, alp_hidden_loss, alp_weights, rail_map
from distill_lib.losses import hidden_mse_loss
from distill_lib.student import make_student
from distill_lib.train import TrainConfig, distill, make_loss


@pytest.fixture(scope="module")
def tokens(bert_tokenizer) -> DatasetDict:
    data = DatasetDict({"train": _split(192, 0), "validation": _split(64, 1)})
    return tokenize(data, bert_tokenizer)


def test_rail_maps_are_sorted_distinct_seeded_and_move():
    draws = [rail_map(3, 12, g) for g in [torch.Generator().manual_seed(7)] for _ in range(6)]
    for m in draws:
        assert m == sorted(m) and len(set(m)) == 3 and all(0 <= j < 12 for j in m)
    again = torch.Generator().manual_seed(7)
    assert [rail_map(3, 12, again) for _ in range(6)] == draws  # the seed fixes every draw
    assert len({tuple(m) for m in draws}) > 1  # and the map moves between draws
    with pytest.raises(ValueError, match="cannot draw 4 of 3"):
        rail_map(4, 3, torch.Generator())


def _softmax(xs: list[float]) -> list[float]:
    e = [math.exp(x) for x in xs]
    return [x / sum(e) for x in e]


def test_alp_weights_by_hand():
    # one example; student [2, 0]; teacher layers [3, 0], [0, 5], [-1, 0]: cosines 1, 0, -1
    # (lengths do not count), times sqrt(hidden) = sqrt(2)
    s = torch.tensor([[2.0, 0.0]])
    t = torch.tensor([[[3.0, 0.0]], [[0.0, 5.0]], [[-1.0, 0.0]]])
    a = alp_weights(s, t)
    assert a.tolist()[0] == pytest.approx(_softmax([math.sqrt(2), 0.0, -math.sqrt(2)]))
    assert a.sum(dim=-1).tolist() == pytest.approx([1.0])
    assert torch.allclose(alp_weights(10 * s, t), a)  # lengths do not count


def test_alp_loss_by_hand_and_against_pkd():
    s = [torch.tensor([[2.0, 0.0]])]
    t = [torch.tensor([[3.0, 0.0]]), torch.tensor([[0.0, 5.0]]), torch.tensor([[-1.0, 0.0]])]
    loss, weights = alp_hidden_loss(s, t)
    a = _softmax([math.sqrt(2), 0.0, -math.sqrt(2)])
    mixed = [a[0] - a[2], a[1]]  # sum_j a_j * t_j / |t_j|
    assert float(loss) == pytest.approx((1 - mixed[0]) ** 2 + mixed[1] ** 2, rel=1e-5)  # fp32
    assert weights.shape == (1, 3) and float(weights.sum()) == pytest.approx(1.0)
    # with one teacher layer the weights are one-hot: the PKD loss on that layer
    one, w = alp_hidden_loss(s, t[1:2])
    assert float(one) == pytest.approx(float(hidden_mse_loss(s, t[1:2]))) and w.tolist() == [[1.0]]


def test_a_moving_map_needs_a_hidden_loss():
    with pytest.raises(ValueError, match="hidden_weight is 0"):
        TrainConfig(layer_mapping="rail")
    with pytest.raises(ValueError, match="layer_mapping must be one of"):
        TrainConfig(layer_mapping="random", hidden_weight=1.0)
    with pytest.raises(ValueError, match="hidden_weight is 0"):
        MovingMapLoss(layer_mapping="alp", n_teacher=4, layer_map=[0, 1])


def test_rail_draws_from_its_own_seeded_generator():
    """The draws use a generator of their own: the run's stream (batches, dropout) is the
    fixed-map run's, and the maps depend only on the seed."""
    loss = MovingMapLoss(layer_mapping="rail", n_teacher=12, seed=3, layer_map=[0, 1, 2],
                         hidden_weight=1.0)
    state = torch.random.get_rng_state()
    maps = []
    for _ in range(3):
        loss.begin_epoch()
        maps.append(loss.epoch_log()["layer_map"])
    assert torch.equal(torch.random.get_rng_state(), state)  # the global stream untouched
    again = torch.Generator().manual_seed(3)
    assert maps == [rail_map(3, 12, again) for _ in range(3)]


def test_make_loss_builds_the_moving_map(bert_tokenizer):
    teacher = tiny_teacher(bert_tokenizer.vocab_size)
    student = make_student(teacher, [0, 3])
    fixed = make_loss(FAST.replace(hidden_weight=1.0), student, teacher)
    assert type(fixed).__name__ == "DistillationLoss" and fixed.layer_map == [0, 3]
    rail = make_loss(FAST.replace(hidden_weight=1.0, layer_mapping="rail"), student, teacher)
    assert isinstance(rail, MovingMapLoss) and rail.n_teacher == 4


def _run(tokens, bert_tokenizer, mapping: str, seed: int = 0):
    teacher = tiny_teacher(bert_tokenizer.vocab_size)
    # (a hidden weight of 1 drowns the output losses of these random tiny models: none learns)
    config = FAST.replace(epochs=4, hidden_weight=0.01, layer_mapping=mapping, seed=seed)
    return distill(make_student(teacher, [0, 3]), teacher, tokens, config,
                   tokenizer=bert_tokenizer)


def test_rail_records_a_sorted_seeded_map_per_epoch_and_learns(tokens, bert_tokenizer):
    history = _run(tokens, bert_tokenizer, "rail").history
    assert max(h["val_accuracy"] for h in history) > 0.6
    maps = [h["layer_map"] for h in history]
    assert len(maps) == 4 and all(m == sorted(m) and len(set(m)) == 2 for m in maps)
    assert len({tuple(m) for m in maps}) > 1  # it moves
    assert [h["layer_map"] for h in _run(tokens, bert_tokenizer, "rail").history] == maps
    other = [h["layer_map"] for h in _run(tokens, bert_tokenizer, "rail", seed=1).history]
    assert other != maps  # drawn from the run's seed


def test_alp_records_its_weights_per_epoch_and_learns(tokens, bert_tokenizer):
    history = _run(tokens, bert_tokenizer, "alp").history
    for h in history:
        weights = h["alp_weights"]
        assert len(weights) == 2 and all(len(row) == 4 for row in weights)  # student x teacher
        assert all(sum(row) == pytest.approx(1.0, abs=1e-3) for row in weights)
    assert max(h["val_accuracy"] for h in history) > 0.6
