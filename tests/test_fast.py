"""The levers of distill_lib.fast: same results, restored afterwards, and only where known.

The last part checks the guards (distill_lib._fast_guard): the allow-list, the marker that
tells our patch from an accelerate hook, the self-check and the dropout rule off the CPU.
"""

from __future__ import annotations

import logging
import re

import pytest
import torch
from datasets import DatasetDict
from test_families import FAMILIES, _random_tokens

from distill_lib import _fast_guard, _fast_layers, make_student
from distill_lib.fast import cls_only_last_layer, supports_cls_only, unpadded_layers
from distill_lib.student import encoder_layers
from distill_lib.train import TrainConfig, distill, fine_tune, predict_logits

COVERED = {"bert", "roberta", "electra", "xlm-roberta", "mpnet"}


@pytest.fixture(autouse=True)
def _fresh_guard():
    """Each test starts with no logged reasons and no self-check verdicts (they are kept per
    process, and a test that breaks a lever must not inherit an earlier "verified")."""
    _fast_guard.reset()
    yield
    _fast_guard.reset()


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


@pytest.mark.parametrize("family", ["bert", "mpnet"])
def test_gradients_equal_the_full_models_without_dropout(family):
    model = FAMILIES[family]()
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
    """Same seed, dropout on, on the CPU: the same loss and gradients (the masks are drawn as
    for the padded batch). Only the CPU: CUDA's dropout kernel draws other numbers than
    ``bernoulli_``, so there the lever steps aside in training (tested below with a mocked
    device). Families without BERT-style layers are left as they are."""
    model = FAMILIES[family]().to("cpu")
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
    from distill_lib._fast_layers import real_tokens as _real_tokens

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


# ---------------------------------------------------------------------------------------------
# The guards: only known layers, our own patch told apart, a self-check, dropout on the CPU


def _fast_logs(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "distill_lib.fast"]


def _logits_under_both_levers(model, batch, times: int = 1) -> tuple[bool, int, torch.Tensor]:
    with torch.no_grad():
        for _ in range(times):
            with cls_only_last_layer(model) as applied, unpadded_layers(model) as switched:
                logits = model(**batch).logits
    return applied, switched, logits


@pytest.mark.parametrize("kind", ["subclass", "mpnet-subclass", "distilbert"])
def test_a_layer_class_off_the_allow_list_falls_back_and_logs_once(kind, caplog):
    """A BertLayer or MPNetLayer subclass may override forward, so it is not on the list;
    DistilBERT is another design. All run their own layers, and each lever says so once, not
    once per use."""
    from transformers.models.bert.modeling_bert import BertLayer
    from transformers.models.mpnet.modeling_mpnet import MPNetLayer

    class TracedBertLayer(BertLayer):
        pass

    class TracedMPNetLayer(MPNetLayer):
        pass

    caplog.set_level(logging.WARNING, logger="distill_lib.fast")
    family = {"subclass": "bert", "mpnet-subclass": "mpnet"}.get(kind, kind)
    model = FAMILIES[family]().eval()
    traced = {"bert": TracedBertLayer, "mpnet": TracedMPNetLayer}.get(family)
    if traced is not None:
        for layer in encoder_layers(model):
            layer.__class__ = traced
    name = type(encoder_layers(model)[0]).__name__
    batch = _batch()
    with torch.no_grad():
        stock = model(**batch).logits
    applied, switched, logits = _logits_under_both_levers(model, batch, times=2)
    assert not applied and switched == 0 and not supports_cls_only(model)
    torch.testing.assert_close(logits, stock, rtol=0, atol=0)
    assert _fast_logs(caplog) == [
        f"distill_lib.fast: cls-only last layer off for {name} (not in the allow-list); "
        "using the stock layer",
        f"distill_lib.fast: padding-free layers off for {name} (not in the allow-list); "
        "using the stock layer",
    ]


def test_mpnet_layers_fall_back_for_attention_maps_and_masks_that_are_not_additive(caplog):
    """MPNet adds its mask to the scores: a boolean mask reaching a layer, or a call that asks
    for attention maps, runs the stock layer (logged once each); the logits stay the stock
    model's and the attention maps come back whole."""
    caplog.set_level(logging.WARNING, logger="distill_lib.fast")
    model = FAMILIES["mpnet"]().eval()
    batch = _batch()
    with torch.no_grad():
        stock = model(**batch, output_attentions=True)
        with cls_only_last_layer(model) as applied, unpadded_layers(model) as switched:
            shortcut = model(**batch, output_attentions=True)
            layer = encoder_layers(model)[0]
            hidden = torch.randn(2, 5, model.config.hidden_size)
            boolean = torch.ones(2, 1, 5, 5, dtype=torch.bool)
            boolean[1, ..., 3:] = False
            (out,) = layer(hidden, boolean, None)
    assert applied and switched == len(encoder_layers(model)) - 1
    torch.testing.assert_close(shortcut.logits, stock.logits, rtol=0, atol=0)
    assert [a.shape for a in shortcut.attentions] == [a.shape for a in stock.attentions]
    assert out.shape == hidden.shape
    reasons = [re.search(r"\((.*)\); using", line).group(1) for line in _fast_logs(caplog)]
    assert reasons == ["attention maps asked for"] * 2 + [
        "MPNet adds its mask to the scores, and this mask is not additive"
    ]


def test_flex_attention_and_block_masks_fall_back(caplog, monkeypatch):
    """flex_attention passes a BlockMask, which the levers cannot read: refused when the block
    is entered, and per call if the implementation changes or such a mask arrives later."""
    from torch.nn.attention.flex_attention import create_block_mask
    from transformers.models.bert.modeling_bert import BertLayer

    caplog.set_level(logging.WARNING, logger="distill_lib.fast")
    model = FAMILIES["bert"]().eval()
    model.set_attn_implementation("flex_attention")
    with cls_only_last_layer(model) as applied, unpadded_layers(model) as switched:
        assert not applied and switched == 0
        assert all("forward" not in vars(layer) for layer in encoder_layers(model))
    model.set_attn_implementation("sdpa")
    hidden = torch.randn(2, 5, model.config.hidden_size)
    block_mask = create_block_mask(lambda b, h, q, k: q >= 0, 2, None, 5, 5, device="cpu")
    seen = []

    def stock(self, hidden_states, attention_mask=None, *args, **kwargs):  # a spy, for BertLayer
        seen.append(type(attention_mask).__name__)  # (its own forward cannot read a BlockMask)
        return hidden_states

    monkeypatch.setattr(BertLayer, "forward", stock)
    with cls_only_last_layer(model) as applied:
        layer = encoder_layers(model)[-1]
        assert applied and layer(hidden, block_mask) is hidden  # a BlockMask with sdpa
        model.set_attn_implementation("flex_attention")
        assert layer(hidden, block_mask) is hidden  # the implementation changed in the block
    assert seen == ["BlockMask", "BlockMask"]
    reasons = [re.search(r"\((.*)\); using", line).group(1) for line in _fast_logs(caplog)]
    assert reasons == ["attention 'flex_attention' not in the allow-list"] * 2 + [
        "attention mask is a BlockMask, not a 4-d tensor"
    ]  # cls-only, padding-free, cls-only; the second flex refusal was already logged


def test_an_accelerate_hook_is_not_mistaken_for_the_levers_patch(caplog):
    """accelerate's add_hook_to_module sets an instance forward too. A hooked layer keeps its
    hook and its stock forward (logged once per lever), the others are switched, the logits
    stay right, and after the block the hooks are still there."""
    from accelerate.hooks import ModelHook, add_hook_to_module

    caplog.set_level(logging.WARNING, logger="distill_lib.fast")
    model = FAMILIES["bert"]().eval()
    layers = encoder_layers(model)
    for layer in (layers[1], layers[-1]):
        add_hook_to_module(layer, ModelHook())
    hooked = {i: vars(layers[i])["forward"] for i in (1, len(layers) - 1)}
    batch = _batch()
    with torch.no_grad():
        stock = model(**batch).logits
    applied, switched, logits = _logits_under_both_levers(model, batch, times=2)
    assert not applied and switched == len(layers) - 2 and not supports_cls_only(model)
    torch.testing.assert_close(logits, stock, rtol=1e-5, atol=1e-6)
    for i, layer in enumerate(layers):
        assert vars(layer).get("forward") is hooked.get(i)  # the hooks, and nothing of ours
        assert (i in hooked) == hasattr(layer, "_hf_hook")
    logs = _fast_logs(caplog)
    assert len(logs) == 2 and all("replaced by other code" in line for line in logs)


def test_a_removed_hooks_leftover_forward_counts_as_stock():
    """remove_hook_from_module leaves the class's own forward, bound, as an instance forward:
    the lever applies over it and puts it back afterwards. A hook added over the lever inside
    the block keeps working after it, with the stock forward under it."""
    from accelerate.hooks import ModelHook, add_hook_to_module, remove_hook_from_module

    model = FAMILIES["bert"]().eval()
    layer = encoder_layers(model)[-1]
    add_hook_to_module(layer, ModelHook())
    remove_hook_from_module(layer)
    leftover = vars(layer)["forward"]
    with cls_only_last_layer(model) as applied:
        assert applied and vars(layer)["forward"] is not leftover
    assert vars(layer)["forward"] is leftover
    with cls_only_last_layer(model) as applied:
        add_hook_to_module(layer, ModelHook())
    assert applied and layer._old_forward.__func__ is type(layer).forward
    with torch.no_grad():
        hidden = model.base_model(**_batch()).last_hidden_state
    assert hidden.shape[1] == _batch()["input_ids"].shape[1]  # the full layer again


def _shifted(output, by: float):
    """A layer's output plus ``by`` (MPNet's layers return a 1-tuple)."""
    return (output[0] + by,) if isinstance(output, tuple) else output + by


@pytest.mark.parametrize("family", ["bert", "mpnet"])
@pytest.mark.parametrize("lever", ["cls_only", "unpadded"])
def test_a_broken_lever_is_caught_by_the_self_check(lever, family, caplog, monkeypatch):
    """A lever that computes something else (here: 1e-2 added) is turned off before its first
    use: one warning naming it, the class and the difference, and the stock model's logits.
    The broken forward runs once, in the check, never in the model."""
    block = {"cls_only": cls_only_last_layer, "unpadded": unpadded_layers}[lever]
    name = _fast_layers.FORWARDS[family][lever]
    real = getattr(_fast_layers, name)
    calls = []

    def broken(*args, **kwargs):
        calls.append(1)
        return _shifted(real(*args, **kwargs), 1e-2)

    monkeypatch.setattr(_fast_layers, name, broken)
    caplog.set_level(logging.WARNING, logger="distill_lib.fast")
    model = FAMILIES[family]().eval()
    batch = _batch()
    with torch.no_grad():
        stock = model(**batch).logits
    with torch.no_grad():
        for _ in range(2):
            with block(model) as switched:
                logits = model(**batch).logits
            torch.testing.assert_close(logits, stock, rtol=0, atol=0)  # the stock layers ran
    assert switched and len(calls) == 1
    (line,) = _fast_logs(caplog)
    layer = type(encoder_layers(model)[0]).__name__
    assert line.startswith(f"distill_lib.fast: {_fast_guard.LEVERS[lever]} off for {layer}")
    difference = float(re.search(r"max difference ([0-9.e+-]+)", line).group(1))
    assert difference == pytest.approx(1e-2, rel=1e-2)


def test_the_self_check_runs_once_per_lever_class_attention_and_device(monkeypatch):
    """The verdict is cached: a training loop enters the blocks every epoch and calls the
    layers every step, yet each (lever, layer class, attention, device, dtype) is checked once."""
    checked = []
    real = _fast_guard._compare
    monkeypatch.setattr(_fast_guard, "_compare", lambda *a: checked.append(1) or real(*a))
    model = FAMILIES["bert"]().eval()
    batch = _batch()
    _logits_under_both_levers(model, batch, times=3)
    assert len(checked) == 2  # one per lever
    model.set_attn_implementation("eager")
    _logits_under_both_levers(model, batch, times=2)
    assert len(checked) == 4


@pytest.mark.parametrize("family", ["bert", "mpnet"])
def test_off_the_cpu_training_with_dropout_keeps_the_stock_layers(family, caplog, monkeypatch):
    """Pretending to be on CUDA: in training with dropout the padding-free forward does not
    run (the same loss as the stock model, bit for bit); in evaluation it does."""
    monkeypatch.setattr(_fast_guard, "device_type", lambda tensor: "cuda")
    calls = []
    name = _fast_layers.FORWARDS[family]["unpadded"]
    real = getattr(_fast_layers, name)

    def counted(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(_fast_layers, name, counted)
    caplog.set_level(logging.WARNING, logger="distill_lib.fast")
    model = FAMILIES[family]().train()
    batch, labels = _batch(), torch.tensor([0, 1, 1, 0])

    def loss(flag: bool) -> torch.Tensor:
        torch.manual_seed(1)
        with unpadded_layers(model, flag):
            return torch.nn.functional.cross_entropy(model(**batch).logits, labels)

    torch.testing.assert_close(loss(True), loss(False), rtol=0, atol=0)
    assert calls == [] and len(_fast_logs(caplog)) == 1
    assert "dropout in training on cuda" in _fast_logs(caplog)[0]
    model.eval()
    with torch.no_grad():
        torch.testing.assert_close(loss(True), loss(False), rtol=1e-6, atol=1e-7)
    assert len(calls) > 1  # the self-check's call and the layers'


def test_compact_rows_whose_lookup_differs_are_not_used(caplog, monkeypatch):
    """compact_word_embeddings is not a layer rewrite: its check is that the compact lookup of
    a few rows gives the full embedding's vectors. If not, the full matrix stays."""
    from distill_lib.fast import CompactRows, compact_word_embeddings

    real = CompactRows.forward
    monkeypatch.setattr(CompactRows, "forward", lambda self, ids: real(self, ids) + 1e-3)
    caplog.set_level(logging.WARNING, logger="distill_lib.fast")
    model = FAMILIES["bert"]()
    original = model.get_input_embeddings()
    with compact_word_embeddings(model, [[2, 5, 6]]) as rows:
        assert rows is None and model.get_input_embeddings() is original
    (line,) = _fast_logs(caplog)
    assert "compact word embeddings off" in line


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_on_cuda_the_levers_pass_their_self_check_and_step_aside_for_dropout(caplog):
    """On a real GPU: in evaluation both levers pass the self-check (no warning) and give the
    stock logits; in training with dropout the padding-free lever logs once and steps aside."""
    caplog.set_level(logging.WARNING, logger="distill_lib.fast")
    model = FAMILIES["bert"]().cuda().eval()
    batch = {k: v.cuda() for k, v in _batch().items()}
    with torch.no_grad():
        stock = model(**batch).logits
    applied, switched, logits = _logits_under_both_levers(model, batch)
    assert applied and switched == len(encoder_layers(model)) - 1 and _fast_logs(caplog) == []
    torch.testing.assert_close(logits, stock, rtol=1e-5, atol=1e-5)
    model.train()
    with unpadded_layers(model):
        model(**batch)
    (line,) = _fast_logs(caplog)
    assert "dropout in training on cuda" in line
