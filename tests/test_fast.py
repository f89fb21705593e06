"""The first-token-only last layer (distill_lib.fast): same logits, restored afterwards."""

from __future__ import annotations

import pytest
import torch
from datasets import DatasetDict
from test_families import FAMILIES, _random_tokens

from distill_lib import make_student
from distill_lib.fast import cls_only_last_layer, supports_cls_only
from distill_lib.student import encoder_layers
from distill_lib.train import TrainConfig, distill, fine_tune, predict_logits

COVERED = {"bert", "roberta", "electra", "xlm-roberta"}


def _batch() -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(5, 100, (4, 9), generator=g)
    mask = torch.ones(4, 9, dtype=torch.long)
    mask[1, 5:] = 0  # padding: the first token must not attend to it
    mask[3, 2:] = 0
    return {"input_ids": ids, "attention_mask": mask}


@pytest.mark.parametrize("family", sorted(FAMILIES))
@pytest.mark.parametrize("attention", ["sdpa", "eager"])
def test_logits_equal_the_full_models(family, attention):
    model = FAMILIES[family]().eval()
    model.set_attn_implementation(attention)
    assert supports_cls_only(model) == (family in COVERED)
    batch = _batch()
    with torch.no_grad():
        full = model(**batch).logits
        with cls_only_last_layer(model) as applied:
            short = model(**batch).logits
            if applied:  # the last layer really returned one position
                hidden = model.base_model(**batch).last_hidden_state
                assert hidden.shape[1] == 1
        again = model(**batch).logits
    assert applied == (family in COVERED)
    torch.testing.assert_close(short, full, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(again, full, rtol=0, atol=0)


def test_gradients_equal_the_full_models_without_dropout():
    model = FAMILIES["bert"]()
    for module in model.modules():
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.0
    batch = _batch()
    labels = torch.tensor([0, 1, 1, 0])

    def grads() -> dict[str, torch.Tensor]:
        model.zero_grad()
        torch.nn.functional.cross_entropy(model(**batch).logits, labels).backward()
        return {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}

    full = grads()
    with cls_only_last_layer(model):
        short = grads()
    assert set(short) == set(full)
    for name, grad in full.items():
        torch.testing.assert_close(short[name], grad, rtol=1e-4, atol=1e-6)


def test_the_layer_is_restored_after_an_error_and_nesting_is_harmless():
    model = FAMILIES["bert"]().eval()
    layer = encoder_layers(model)[-1]
    with pytest.raises(RuntimeError, match="boom"), cls_only_last_layer(model):
        with cls_only_last_layer(model):  # nested: the outer block keeps it
            pass
        assert "forward" in vars(layer)
        raise RuntimeError("boom")
    assert "forward" not in vars(layer)
    with cls_only_last_layer(model, enabled=False) as applied:
        assert not applied and "forward" not in vars(layer)


def test_training_with_and_without_it_gives_working_models(bert_tokenizer):
    teacher = FAMILIES["bert"]()
    k = teacher.config.num_labels
    tokens = DatasetDict(
        {"train": _random_tokens(32, 0, k), "validation": _random_tokens(8, 1, k)}
    )
    for flag in (True, False):
        config = TrainConfig(epochs=1, batch_size=8, lr=1e-3, progress=False,
                             cls_only_last_layer=flag)
        student = distill(make_student(teacher, [0, 5]), teacher, tokens, config,
                          tokenizer=bert_tokenizer).model
        assert "forward" not in vars(encoder_layers(student)[-1])
        fine_tune(student, tokens, config, tokenizer=bert_tokenizer)
        logits = predict_logits(student, tokens["validation"], tokenizer=bert_tokenizer)
        full = predict_logits(student, tokens["validation"], tokenizer=bert_tokenizer,
                              cls_only=False)
        torch.testing.assert_close(logits, full, rtol=1e-5, atol=1e-6)
