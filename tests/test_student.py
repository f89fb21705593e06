"""make_student: exact copies of the chosen teacher layers, for 12 -> 6 and other shapes."""

import pytest
import torch
from tiny_models import random_batch, tiny_bert, tiny_distilbert, tiny_roberta
from transformers import AutoModelForSequenceClassification, BertForSequenceClassification

from distill_lib.layers import STRATEGIES, select_layers
from distill_lib.student import encoder_layers, layer_map, make_student, num_layers


def _assert_same(a: torch.nn.Module, b: torch.nn.Module) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for key in sa:
        assert torch.equal(sa[key], sb[key]), key


@pytest.mark.parametrize("strategy", [s for s in STRATEGIES if s != "random"])
def test_12_to_6_copies_the_chosen_layers_bitwise(strategy):
    teacher = tiny_bert(12)
    layers = select_layers(strategy, 12, 6)
    student = make_student(teacher, layers)
    assert isinstance(student, BertForSequenceClassification)
    assert student.config.num_hidden_layers == 6 == num_layers(student)
    for i, t in enumerate(layers):
        _assert_same(student.bert.encoder.layer[i], teacher.bert.encoder.layer[t])
    _assert_same(student.bert.embeddings, teacher.bert.embeddings)
    _assert_same(student.bert.pooler, teacher.bert.pooler)
    _assert_same(student.classifier, teacher.classifier)
    assert layer_map(student) == layers


def test_student_tensors_are_copies_not_shared():
    teacher = tiny_bert(4)
    before = {k: v.clone() for k, v in teacher.state_dict().items()}
    student = make_student(teacher, [1, 3])
    with torch.no_grad():
        for p in student.parameters():
            p.add_(1.0)
    for k, v in teacher.state_dict().items():
        assert torch.equal(v, before[k]), k
    assert teacher.config.num_hidden_layers == 4
    assert getattr(teacher.config, "distill_lib", None) is None


def test_student_with_identical_layers_computes_what_the_teacher_computes():
    teacher = tiny_bert(6).eval()
    student = make_student(teacher, list(range(6))).eval()
    batch = random_batch()
    batch.pop("labels")
    with torch.no_grad():
        assert torch.allclose(student(**batch).logits, teacher(**batch).logits, atol=1e-6)


def test_forward_and_backward_run():
    student = make_student(tiny_bert(12), select_layers("uniform", 12, 6))
    out = student(**random_batch())
    out.loss.backward()
    grads = [p.grad for p in student.parameters() if p.requires_grad]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)


def test_strategy_name_needs_depth_and_records_name():
    teacher = tiny_bert(12)
    with pytest.raises(ValueError, match="also pass n_student"):
        make_student(teacher, "uniform")
    student = make_student(teacher, "uniform", n_student=6)
    assert student.config.distill_lib["strategy"] == "uniform"
    assert layer_map(student) == [0, 2, 4, 7, 9, 11]


@pytest.mark.parametrize("bad", [[0, 0, 1], [0, 12, 3], []])
def test_bad_layers_raise(bad):
    with pytest.raises(ValueError):
        make_student(tiny_bert(12), bad)


def test_save_and_load_round_trip_keeps_layer_map(tmp_path):
    student = make_student(tiny_bert(12), select_layers("even", 12, 6))
    student.save_pretrained(tmp_path)
    assert (tmp_path / "model.safetensors").is_file()
    loaded = AutoModelForSequenceClassification.from_pretrained(tmp_path, use_safetensors=True)
    assert layer_map(loaded) == [1, 3, 5, 7, 9, 11]
    assert loaded.config.distill_lib["teacher_num_layers"] == 12
    _assert_same(loaded, student)


def test_random_init_has_same_shape_but_fresh_weights():
    teacher = tiny_bert(12)
    student = make_student(teacher, [0, 1, 2], init="random", seed=1)
    assert num_layers(student) == 3
    assert student.config.distill_lib["init"] == "random"
    assert not torch.equal(
        student.bert.encoder.layer[0].attention.self.query.weight,
        teacher.bert.encoder.layer[0].attention.self.query.weight,
    )
    again = make_student(teacher, [0, 1, 2], init="random", seed=1)
    _assert_same(student, again)


def test_roberta_students():
    teacher = tiny_roberta(12)
    student = make_student(teacher, select_layers("last", 12, 6))
    for i, t in enumerate(range(6, 12)):
        _assert_same(student.roberta.encoder.layer[i], teacher.roberta.encoder.layer[t])
    _assert_same(student.classifier, teacher.classifier)
    student(**random_batch()).loss.backward()


def test_distilbert_students():
    teacher = tiny_distilbert(12)
    student = make_student(teacher, select_layers("uniform", 12, 6))
    assert student.config.n_layers == 6
    for i, t in enumerate([0, 2, 4, 7, 9, 11]):
        _assert_same(encoder_layers(student)[i], encoder_layers(teacher)[t])
    _assert_same(student.pre_classifier, teacher.pre_classifier)
    batch = random_batch()
    student(**batch).loss.backward()


def test_explicit_order_is_kept():
    teacher = tiny_bert(4)
    student = make_student(teacher, [3, 0])
    _assert_same(student.bert.encoder.layer[0], teacher.bert.encoder.layer[3])
    assert layer_map(student) == [3, 0]
