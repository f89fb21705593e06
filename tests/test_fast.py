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


# ---------------------------------------------------------------------------------------------
# Training only the vocabulary rows the data contains


def _narrow_tokens(n: int, seed: int, num_labels: int, high: int = 40):
    """Sentences that use token ids 2, 3 and 5..high-1 only (most rows of the vocabulary unused)."""
    from datasets import Dataset

    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(4, 12, (n,), generator=g).tolist()
    ids = [[2, *torch.randint(5, high, (k - 2,), generator=g).tolist(), 3] for k in lengths]
    return Dataset.from_dict({
        "input_ids": ids,
        "attention_mask": [[1] * len(x) for x in ids],
        "label": torch.randint(0, num_labels, (n,), generator=g).tolist(),
    })


def _narrow_task(k: int) -> DatasetDict:
    return DatasetDict({"train": _narrow_tokens(40, 0, k),
                        "validation": _narrow_tokens(8, 1, k, high=60)})


def _state(model) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


@pytest.mark.parametrize("family", ["bert", "mpnet", "distilbert"])
def test_compact_rows_train_the_same_weights_as_the_full_matrix(family, bert_tokenizer):
    """Same seed, with and without compact rows: every weight equal up to float rounding.

    Weight decay 0.1 at lr 1e-2 makes the untouched rows shrink visibly (0.5%); warm-up and
    linear decay make the per-step factors differ, so the recorded product is what is checked.
    """
    from distill_lib.fast import CompactRows

    teacher = FAMILIES[family]()
    tokens = _narrow_task(teacher.config.num_labels)
    before = teacher.get_input_embeddings().weight.detach().clone()
    states = {}
    for compact in (False, True):
        model = FAMILIES[family]()
        config = TrainConfig(epochs=2, batch_size=8, lr=1e-2, weight_decay=0.1, progress=False,
                             compact_embeddings=compact, keep_best=False)
        original = model.get_input_embeddings()
        trained = fine_tune(model, tokens, config, tokenizer=bert_tokenizer).model
        assert trained.get_input_embeddings() is original  # the same module object is back
        assert type(original) is torch.nn.Embedding and not isinstance(original, CompactRows)
        states[compact] = _state(trained)
    assert states[True].keys() == states[False].keys()
    for name, value in states[False].items():
        torch.testing.assert_close(states[True][name], value, rtol=1e-4, atol=1e-5, msg=name)
    unused = before.new_ones(before.shape[0], dtype=torch.bool)
    unused[[0, 2, 3, *range(5, 60)]] = False  # padding, [CLS]/[SEP] stand-ins, the sentences'
    unused &= before.abs().sum(1) > 0  # MPNet's padding row (id 1) is all zeros
    name = next(n for n in states[True] if n.endswith("word_embeddings.weight"))
    ratio = states[True][name][unused] / before[unused]
    assert 0.98 < float(ratio.mean()) < 0.999  # decayed (0.5% here), by one common factor
    torch.testing.assert_close(ratio, torch.full_like(ratio, float(ratio.mean())))


def test_compact_rows_keep_the_best_epochs_decay(bert_tokenizer, monkeypatch):
    """When an earlier epoch is kept, the untouched rows carry that epoch's decay."""
    import distill_lib.train as train

    scores = iter([0.9, 0.1, 0.9, 0.1])  # epoch 1 wins, in both runs
    real = train.evaluate_model

    def fake(*args, **kwargs):
        out = real(*args, **kwargs)
        out["accuracy"] = next(scores)
        return out

    monkeypatch.setattr(train, "evaluate_model", fake)
    tokens = _narrow_task(FAMILIES["bert"]().config.num_labels)
    states = {}
    for compact in (False, True):
        config = TrainConfig(epochs=2, batch_size=8, lr=1e-2, weight_decay=0.1, progress=False,
                             compact_embeddings=compact)
        result = fine_tune(FAMILIES["bert"](), tokens, config, tokenizer=bert_tokenizer)
        assert result.best_epoch == 1
        states[compact] = _state(result.model)
    for name, value in states[False].items():
        torch.testing.assert_close(states[True][name], value, rtol=1e-4, atol=1e-5, msg=name)


def test_compact_rows_refuse_ids_they_were_not_given_and_restore_after_errors():
    from distill_lib.fast import CompactRows, compact_word_embeddings

    model = FAMILIES["bert"]()
    original = model.get_input_embeddings()
    weight = original.weight.detach().clone()
    refused = r"token ids \[50\] are not among the 4 .*compact_embed"
    with pytest.raises(ValueError, match=refused), compact_word_embeddings(
        model, [[2, 5, 6]], extra_ids=[0]
    ) as rows:
        assert isinstance(rows, CompactRows) and model.get_input_embeddings() is rows
        assert rows.weight.shape == (4, weight.shape[1])
        model(input_ids=torch.tensor([[2, 5, 6, 0]]))  # known ids: fine
        model(input_ids=torch.tensor([[2, 50]]))
    assert model.get_input_embeddings() is original
    torch.testing.assert_close(original.weight.detach(), weight, rtol=0, atol=0)
    with pytest.raises(ValueError, match="vocabulary"), compact_word_embeddings(
        model, [[2, 10**6]]
    ):
        pass
    assert model.get_input_embeddings() is original


def test_compact_rows_leave_tied_frozen_or_fully_used_embeddings_alone():
    from transformers import BertConfig, BertForMaskedLM

    from distill_lib.fast import compact_word_embeddings

    config = BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=1,
                        num_attention_heads=2, intermediate_size=32)
    tied = BertForMaskedLM(config)
    with compact_word_embeddings(tied, [[1, 2, 3]]) as rows:
        assert rows is None  # the output layer shares the matrix
    model = FAMILIES["bert"]()
    with compact_word_embeddings(model, [list(range(model.config.vocab_size))]) as rows:
        assert rows is None
    with compact_word_embeddings(model, [[1, 2]], enabled=False) as rows:
        assert rows is None
    model.get_input_embeddings().weight.requires_grad_(False)
    with compact_word_embeddings(model, [[1, 2]]) as rows:
        assert rows is None


def test_compact_rows_are_not_part_of_a_runs_key():
    from distill_lib.experiment.store import train_key

    assert train_key(TrainConfig()) == train_key(TrainConfig(compact_embeddings=False))
    assert train_key(TrainConfig()) == train_key(TrainConfig(unpadded_layers=False))
    with pytest.raises(ValueError, match="unpadded_layers"):
        TrainConfig(unpadded_layers=1)
    with pytest.raises(ValueError, match="compact_embeddings"):
        TrainConfig(compact_embeddings="yes")


# ---------------------------------------------------------------------------------------------
# No matmuls for padding tokens


@pytest.mark.parametrize("family", sorted(FAMILIES))
@pytest.mark.parametrize("attention", ["sdpa", "eager"])
def test_unpadded_layers_give_the_same_loss_and_gradients_with_dropout_on(family, attention):
    """Same seed, dropout on: the same loss and gradients (the masks are drawn as for the
    padded batch). Families without BERT-style layers are left as they are."""
    from distill_lib.fast import unpadded_layers

    model = FAMILIES[family]()
    if attention == "eager" or family != "mpnet":  # MPNet has one attention implementation
        model.set_attn_implementation(attention)
    batch = _batch()
    labels = torch.tensor([0, 1, 1, 0])

    def run(flag: bool):
        model.train()
        model.zero_grad()
        torch.manual_seed(1)
        with unpadded_layers(model, flag) as switched:  # alone: cls_only draws fewer numbers
            loss = torch.nn.functional.cross_entropy(model(**batch).logits, labels)
        loss.backward()
        grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
        return switched, loss.detach(), grads

    _, loss_full, grads_full = run(False)
    switched, loss, grads = run(True)
    assert switched == (len(encoder_layers(model)) - 1 if family in COVERED else 0)
    torch.testing.assert_close(loss, loss_full, rtol=1e-6, atol=1e-7)
    assert grads.keys() == grads_full.keys()
    for name, grad in grads_full.items():
        torch.testing.assert_close(grads[name], grad, rtol=1e-4, atol=1e-6, msg=name)
    assert all("forward" not in vars(layer) for layer in encoder_layers(model))


def test_unpadded_layers_leave_unpadded_batches_and_other_masks_alone():
    from distill_lib.fast import _real_tokens

    assert _real_tokens(None, 2, 5) is None
    full = torch.ones(2, 1, 5, 5, dtype=torch.bool)
    assert _real_tokens(full, 2, 5) is None  # no padding: the layer's own forward runs
    padded = full.clone()
    padded[1, :, :, 3:] = False
    assert _real_tokens(padded, 2, 5).tolist() == [0, 1, 2, 3, 4, 5, 6, 7]
    additive = torch.zeros(2, 1, 5, 5)
    additive[0, :, :, 4] = torch.finfo(torch.float32).min
    assert _real_tokens(additive, 2, 5).tolist() == [0, 1, 2, 3, 5, 6, 7, 8, 9]
    assert _real_tokens(torch.ones(2, 5), 2, 5) is None  # a 2-d mask: not this layer's input


def test_predicted_logits_do_not_depend_on_the_shortcuts(bert_tokenizer):
    model = FAMILIES["bert"]().eval()
    data = _narrow_tokens(24, 3, model.config.num_labels)
    plain = predict_logits(model, data, tokenizer=bert_tokenizer, batch_size=5, cls_only=False,
                           unpadded=False)
    fast = predict_logits(model, data, tokenizer=bert_tokenizer, batch_size=5)
    torch.testing.assert_close(fast, plain, rtol=1e-5, atol=1e-6)
