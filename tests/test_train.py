"""The training loop on tiny models: learning, caching teacher logits, seeds, errors."""

from __future__ import annotations

import dataclasses
import math
import random
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from datasets import ClassLabel, Dataset, DatasetDict, Features, Value
from transformers import BertConfig, BertForSequenceClassification, SchedulerType, get_scheduler

import distill_lib.train as train_mod
from distill_lib import loss_checks, losses, train_config
from distill_lib.data import tokenize
from distill_lib.experiment import PRESETS
from distill_lib.losses import DistillationLoss, LossOutput
from distill_lib.metrics import classification_metrics
from distill_lib.student import make_student
from distill_lib.train import (
    SCHEDULERS,
    TrainConfig,
    check_device,
    distill,
    evaluate_model,
    fine_tune,
    predict_logits,
    teacher_logits,
)

POS = ["good", "great", "wonderful", "funny", "moving", "brilliant", "warm", "smart"]
NEG = ["bad", "dull", "boring", "awful", "flat", "tedious", "weak", "lazy"]
FILL = ["the", "film", "plot", "cast", "was", "really", "quite", "and", "a", "story"]


def _split(n: int, seed: int) -> Dataset:
    rng = random.Random(seed)
    texts, labels = [], []
    for i in range(n):
        label = i % 2
        words = [rng.choice(POS if label else NEG), *rng.sample(FILL, rng.randint(1, 8))]
        rng.shuffle(words)
        texts.append(" ".join(words))
        labels.append(label)
    features = Features(
        {"text": Value("string"), "label": ClassLabel(names=["negative", "positive"])}
    )
    return Dataset.from_dict({"text": texts, "label": labels}, features=features)


@pytest.fixture(scope="module")
def tokens(bert_tokenizer) -> DatasetDict:
    data = DatasetDict(
        {"train": _split(192, 0), "validation": _split(64, 1), "test": _split(64, 2)}
    )
    return tokenize(data, bert_tokenizer)


def tiny_teacher(vocab: int, seed: int = 0) -> BertForSequenceClassification:
    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=vocab,
        hidden_size=32,
        num_hidden_layers=4,
        num_attention_heads=2,
        intermediate_size=64,
        num_labels=2,
    )
    return BertForSequenceClassification(config)


FAST = TrainConfig(epochs=4, batch_size=16, lr=1e-2, warmup_ratio=0.0, progress=False)


def test_train_config_rejects_bad_values():
    with pytest.raises(ValueError, match="epochs must be an int >= 1"):
        TrainConfig(epochs=0)
    with pytest.raises(ValueError, match="alpha must be between 0 and 1"):
        TrainConfig(alpha=1.5)
    with pytest.raises(ValueError, match="mixed_precision must be one of"):
        TrainConfig(mixed_precision="fp8")
    assert FAST.replace(lr=1e-4).lr == 1e-4


# ---------------------------------------------------------------------------------------------
# TrainConfig: every field checked for type, range and choices (reported: epochs=1.5, lr=inf,
# temperature=inf, max_grad_norm=-1, weight_decay=-1, scheduler="bogus" and negative loss
# weights were accepted; epochs="3" failed with a raw comparison error)

NAN, INF = float("nan"), float("inf")
INT_FIELDS = ["epochs", "batch_size", "eval_batch_size", "grad_accum_steps"]
NOT_AN_INT = [1.5, 3.0, "3", True, None, np.float64(2.0)]
NOT_A_NUMBER = [NAN, INF, -INF, "0.5", True, None]
BAD_VALUES = (
    [(name, value) for name in INT_FIELDS for value in [*NOT_AN_INT, 0, -1]]
    + [("seed", value) for value in [*NOT_AN_INT, -1, 2**32]]
    + [("lr", value) for value in [*NOT_A_NUMBER, 0, 0.0, -1e-5]]
    + [("weight_decay", value) for value in [*NOT_A_NUMBER, -1, -0.01]]
    + [("warmup_ratio", value) for value in [*NOT_A_NUMBER, 1, 1.0, -0.1]]
    + [("max_grad_norm", value) for value in [NAN, INF, "1", True, -1, -0.5]]
    + [("temperature", value) for value in [*NOT_A_NUMBER, 0, -2.0]]
    + [("alpha", value) for value in [*NOT_A_NUMBER, 1.5, -0.1]]
    + [
        (name, value)
        for name in ("cos_weight", "hidden_weight", "attention_weight")
        for value in [*NOT_A_NUMBER, -1, -1e-3]
    ]
    + [("scheduler", value) for value in ["bogus", "Linear", "reduce_lr_on_plateau", None, 1]]
    + [("device", value) for value in ["gpu", "cuda:0", "", None]]
    + [("mixed_precision", value) for value in ["fp8", "bf16 ", True]]
    + [("select_metric", value) for value in ["f1", None]]
    + [
        (name, value)
        for name in ("group_by_length", "keep_best", "progress")
        for value in [1, 0, "yes", None]
    ]
    + [("output_dir", value) for value in [3, b"out", ["out"]]]
)


@pytest.mark.parametrize(("name", "value"), BAD_VALUES)
def test_train_config_rejects_wrong_type_range_or_choice(name, value):
    pattern = rf"^{name} must be .*{re.escape(repr(value))}"
    with pytest.raises(ValueError, match=pattern):
        TrainConfig(**{name: value})
    with pytest.raises(ValueError, match=pattern):
        FAST.replace(**{name: value})


@pytest.mark.parametrize(
    ("name", "value", "allowed"),
    [
        ("epochs", 0, ">= 1"),
        ("seed", -1, "between 0 and 4294967295"),
        ("lr", 0, "> 0"),
        ("weight_decay", -1, ">= 0"),
        ("warmup_ratio", 1.0, "in [0, 1)"),
        ("max_grad_norm", -1, ">= 0 (or None)"),
        ("temperature", INF, "> 0"),
        ("alpha", 1.5, "between 0 and 1"),
        ("cos_weight", -1, ">= 0"),
        ("scheduler", "bogus", "'linear', 'cosine'"),
        ("device", "gpu", "'auto', 'cpu', 'cuda', 'mps'"),
    ],
)
def test_train_config_messages_name_the_allowed_range(name, value, allowed):
    with pytest.raises(ValueError, match=re.escape(allowed)):
        TrainConfig(**{name: value})


@pytest.mark.parametrize(
    ("name", "value", "stored"),
    [
        ("epochs", np.int64(2), 2),
        ("seed", 2**32 - 1, 2**32 - 1),
        ("lr", 1, 1),  # ints are numbers; kept as given (run keys hash the config)
        ("lr", np.float32(0.5), 0.5),
        ("warmup_ratio", 0, 0),
        ("max_grad_norm", None, None),
        ("max_grad_norm", 0, 0),  # no clipping
        ("alpha", 0, 0),
        ("alpha", 1, 1),
        ("temperature", 1e-3, 1e-3),
        ("attention_weight", 2, 2),
        ("scheduler", "cosine", "cosine"),
        ("device", "cuda", "cuda"),  # a config is valid on any machine (see check_device)
        ("device", "mps", "mps"),
        ("keep_best", np.bool_(False), False),
        ("output_dir", Path("some/folder"), "some/folder"),
    ],
)
def test_train_config_accepts_and_normalises(name, value, stored):
    config = TrainConfig(**{name: value})
    assert getattr(config, name) == stored
    assert type(getattr(config, name)) is type(stored)


def test_every_train_config_field_has_exactly_one_rule():
    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    assert set(train_mod._FIELD_RULES) == fields
    for preset in PRESETS.values():
        for config in preset.values.values():
            if isinstance(config, TrainConfig):
                assert TrainConfig(**config.to_dict()) == config  # saved configs reload


def test_train_config_is_re_exported_where_it_was():
    # TrainConfig and the loss checks live in torch-free modules; the old import paths still work
    assert train_mod.TrainConfig is train_config.TrainConfig
    assert train_mod._FIELD_RULES is train_config._FIELD_RULES
    assert losses.check_temperature is loss_checks.check_temperature
    assert losses.check_alpha is loss_checks.check_alpha
    assert losses.check_loss_weight is loss_checks.check_loss_weight


@pytest.mark.parametrize("name", SCHEDULERS)
def test_every_accepted_scheduler_runs_as_the_loop_calls_it(name):
    optimizer = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(2))], lr=1e-3)
    scheduler = get_scheduler(name, optimizer, num_warmup_steps=2, num_training_steps=10)
    for _ in range(10):
        optimizer.step()
        scheduler.step()
    assert math.isfinite(scheduler.get_last_lr()[0])
    assert TrainConfig(scheduler=name).scheduler == name


def test_schedulers_the_loop_cannot_drive_are_rejected():
    rejected = {s.value for s in SchedulerType} - set(SCHEDULERS)
    assert "reduce_lr_on_plateau" in rejected
    for name in rejected:
        with pytest.raises(ValueError, match=f"scheduler must be one of .*got {name!r}"):
            TrainConfig(scheduler=name)


# ---------------------------------------------------------------------------------------------
# check_device: a device this machine lacks is an error at once, before anything is written
# (reported: --device cuda without CUDA failed late, after files were written)


@pytest.fixture
def no_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)


@pytest.mark.parametrize(
    ("device", "precision", "match"),
    [
        ("cuda", "auto", r"device='cuda' but no CUDA GPU is visible.*device='auto' or 'cpu'"),
        ("cuda", "no", "no CUDA GPU"),
        ("mps", "auto", r"device='mps' but .*MPS.* not available"),
        ("cpu", "fp16", "mixed_precision='fp16' needs a CUDA GPU"),
        ("auto", "fp16", "mixed_precision='fp16' needs a CUDA GPU"),
        ("gpu", "auto", "device must be one of"),
        ("cpu", "fp8", "mixed_precision must be one of"),
    ],
)
def test_check_device_rejects_what_this_machine_lacks(no_gpu, device, precision, match):
    with pytest.raises(ValueError, match=match):
        check_device(device, precision)
    if device in train_mod.DEVICES and precision in train_mod.MIXED_PRECISIONS:
        config = TrainConfig(device=device, mixed_precision=precision)  # still constructible
        with pytest.raises(ValueError, match=match):
            train_mod.make_accelerator(config)


@pytest.mark.parametrize(
    ("device", "precision", "refused"),
    [
        ("cpu", "no", ("cuda", "no")),
        ("auto", "auto", ("auto", "fp16")),
        ("cpu", "bf16", ("cpu", "fp16")),
    ],
)
def test_check_device_accepts_what_any_machine_has(no_gpu, device, precision, refused):
    assert check_device(device, precision) is None
    with pytest.raises(ValueError, match="CUDA GPU"):  # its neighbour needs a GPU: refused
        check_device(*refused)


def test_check_device_accepts_cuda_and_mps_where_present(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert check_device("cuda", "fp16") is None
    assert check_device("mps") is None
    with pytest.raises(ValueError, match="needs a CUDA GPU"):  # fp16 is for CUDA only
        check_device("mps", "fp16")
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    with pytest.raises(ValueError, match="MPS"):  # what made "mps" pass was the patch
        check_device("mps")


def test_unavailable_device_fails_before_training_or_writing(
    no_gpu, tokens, bert_tokenizer, tmp_path
):
    model = tiny_teacher(bert_tokenizer.vocab_size)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    config = FAST.replace(device="cuda", output_dir=str(tmp_path / "ckpt"))
    with pytest.raises(ValueError, match="no CUDA GPU"):
        fine_tune(model, tokens, config, tokenizer=bert_tokenizer)
    assert not list(tmp_path.iterdir())
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())


def test_fine_tune_learns_and_keeps_the_best_epoch(tokens, bert_tokenizer, tmp_path):
    model = tiny_teacher(bert_tokenizer.vocab_size)
    before = evaluate_model(model, tokens["validation"], tokenizer=bert_tokenizer)
    result = fine_tune(
        model, tokens, FAST.replace(output_dir=str(tmp_path / "ckpt")), tokenizer=bert_tokenizer
    )
    assert len(result.history) == 4
    record = result.history[-1]
    for key in (
        "train_loss",
        "train_hard",
        "val_loss",
        "val_accuracy",
        "val_macro_f1",
        "seconds",
        "examples_per_second",
    ):
        assert key in record and math.isfinite(record[key])
    best = max(h["val_accuracy"] for h in result.history)
    assert result.best_validation["accuracy"] == pytest.approx(best)
    assert result.history[result.best_epoch - 1]["val_accuracy"] == pytest.approx(best)
    assert best > before["accuracy"] and best >= 0.9  # the task is easy: one sentiment word
    # the returned model holds the best epoch's weights
    again = evaluate_model(result.model, tokens["validation"], tokenizer=bert_tokenizer)
    assert again["accuracy"] == pytest.approx(best)
    # checkpoint: a save_pretrained folder with safetensors and the history
    files = {p.name for p in (tmp_path / "ckpt").iterdir()}
    assert {"model.safetensors", "config.json", "history.json"} <= files
    assert not list(tmp_path.glob(".ckpt*"))


def test_same_seed_repeats_and_other_seed_differs(tokens, bert_tokenizer):
    runs = []
    for seed in (0, 0, 1):
        model = tiny_teacher(bert_tokenizer.vocab_size)
        config = FAST.replace(epochs=1, seed=seed)
        runs.append(fine_tune(model, tokens, config, tokenizer=bert_tokenizer).history[0])
    assert runs[0]["train_loss"] == runs[1]["train_loss"]
    assert runs[0]["train_loss"] != runs[2]["train_loss"]


def test_predictions_come_back_in_dataset_order(tokens, bert_tokenizer):
    model = tiny_teacher(bert_tokenizer.vocab_size).eval()
    logits = predict_logits(model, tokens["test"], tokenizer=bert_tokenizer, batch_size=7)
    with torch.no_grad():
        for i in (0, 5, 33, 63):
            row = tokens["test"][i]
            single = model(
                input_ids=torch.tensor([row["input_ids"]]),
                attention_mask=torch.tensor([row["attention_mask"]]),
                token_type_ids=torch.tensor([row["token_type_ids"]]),
            ).logits[0]
            assert torch.allclose(logits[i], single, atol=1e-5)
    result = evaluate_model(
        model, tokens["test"], tokenizer=bert_tokenizer, return_predictions=True
    )
    assert result["predictions"] == logits.argmax(-1).tolist()
    assert sum(result["predicted_counts"]) == 64


def test_metrics_come_from_the_shipped_evaluate_modules():
    m = classification_metrics([1, 1, 1, 1], [0, 1, 0, 1])
    assert m == {"accuracy": 0.5, "macro_f1": pytest.approx(1 / 3)}  # F1 0 and 2/3, mean 1/3


def _counting_teacher(vocab: int) -> tuple[BertForSequenceClassification, dict[str, int]]:
    """A tiny teacher whose forward calls are counted (a hook on this instance only)."""
    teacher = tiny_teacher(vocab)
    calls = {"n": 0}

    def count(module, args):
        calls["n"] += 1

    teacher.register_forward_pre_hook(count)
    return teacher, calls


def test_distill_runs_the_teacher_once_per_example_not_per_step(tokens, bert_tokenizer, tmp_path):
    teacher, calls = _counting_teacher(bert_tokenizer.vocab_size)
    student = make_student(teacher, [0, 3])
    config = FAST.replace(eval_batch_size=64)
    result = distill(
        student, teacher, tokens, config, tokenizer=bert_tokenizer, logits_cache=tmp_path / "logits"
    )
    # 192 training examples / eval batch 64 = 3 teacher calls, for 4 epochs of 12 steps each
    assert calls["n"] == 3
    assert {"train_soft", "train_hard"} <= set(result.history[0])
    # a second student reuses the cached logits: no teacher call at all
    distill(
        make_student(teacher, [1, 2]),
        teacher,
        tokens,
        config.replace(epochs=1),
        tokenizer=bert_tokenizer,
        logits_cache=tmp_path / "logits",
    )
    assert calls["n"] == 3
    # ... also in a new process (disk cache): clear the in-memory cache
    train_mod._LOGITS_MEMORY.clear()
    cached = teacher_logits(
        teacher, tokens["train"], tokenizer=bert_tokenizer, cache=tmp_path / "logits"
    )
    assert calls["n"] == 3
    assert cached.shape == (192, 2)
    fresh = teacher_logits(teacher, tokens["train"], tokenizer=bert_tokenizer, cache=False)
    assert torch.allclose(cached, fresh, atol=1e-5)


def test_a_run_does_not_depend_on_whether_the_teachers_logits_were_cached(
    tokens, bert_tokenizer, tmp_path
):
    """Computing the logits draws a random number (a DataLoader's base seed); the loop is
    seeded after it, so a cold cache (the first run of a comparison) and a warm one (a
    resumed comparison) train the same student."""
    teacher = tiny_teacher(bert_tokenizer.vocab_size)
    config = FAST.replace(epochs=1)
    train_mod._LOGITS_MEMORY.clear()  # logits other tests computed (other code paths) are kept
    states = []
    for cache in (False, tmp_path / "logits", tmp_path / "logits"):  # cold, cold, warm
        student = distill(make_student(teacher, [0, 3], seed=0), teacher, tokens, config,
                          tokenizer=bert_tokenizer, logits_cache=cache).model
        states.append({k: v.clone() for k, v in student.state_dict().items()})
    for other in states[1:]:
        for name, value in states[0].items():
            assert torch.equal(other[name], value), name


def test_cached_logits_equal_per_step_teacher_outputs(tokens, bert_tokenizer):
    teacher = tiny_teacher(bert_tokenizer.vocab_size).eval()
    logits = teacher_logits(teacher, tokens["train"], tokenizer=bert_tokenizer, cache=False)
    batch = tokens["train"].select(range(8))
    per_step = predict_logits(teacher, batch, tokenizer=bert_tokenizer, batch_size=8)
    assert torch.allclose(logits[:8], per_step, atol=1e-5)


def test_intermediate_losses_run_the_teacher_every_step(tokens, bert_tokenizer):
    teacher, calls = _counting_teacher(bert_tokenizer.vocab_size)
    student = make_student(teacher, [0, 3])
    config = FAST.replace(epochs=1, hidden_weight=1.0, cos_weight=1.0, attention_weight=1.0)
    result = distill(student, teacher, tokens, config, tokenizer=bert_tokenizer)
    assert calls["n"] == 12  # one per training step (192 / 16)
    assert {"train_hidden", "train_cos", "train_attention"} <= set(result.history[0])


def test_hard_label_only_baseline_never_runs_the_teacher(tokens, bert_tokenizer):
    teacher, calls = _counting_teacher(bert_tokenizer.vocab_size)
    result = distill(
        make_student(teacher, [0, 1]),
        teacher,
        tokens,
        FAST.replace(alpha=0.0),
        tokenizer=bert_tokenizer,
    )
    assert calls["n"] == 0
    assert "train_soft" not in result.history[0]


# ---------------------------------------------------------------------------------------------
# distill() leaves the caller's teacher as it was: attention implementation, device, mode


def _teacher_state(model):
    return (
        model.config._attn_implementation,
        next(model.parameters()).device,
        model.training,
        [m.training for m in model.modules()],
    )


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize(
    "changes",
    [
        {},  # cached teacher logits
        {"attention_weight": 1.0, "hidden_weight": 1.0},  # eager attention, teacher every step
    ],
    ids=["logits", "attention"],
)
def test_distill_leaves_the_teacher_as_it_was(tokens, bert_tokenizer, training, changes):
    small = DatasetDict(
        {
            "train": tokens["train"].select(range(32)),
            "validation": tokens["validation"].select(range(16)),
        }
    )
    teacher = tiny_teacher(bert_tokenizer.vocab_size).train(training)
    teacher.set_attn_implementation("sdpa")
    before = _teacher_state(teacher)
    weights = {k: v.clone() for k, v in teacher.state_dict().items()}
    student = make_student(teacher, [0, 3])
    config = FAST.replace(epochs=1, **changes)  # 32 examples / batch 16: two steps
    result = distill(student, teacher, small, config, tokenizer=bert_tokenizer, logits_cache=False)
    assert len(result.history) == 1
    assert _teacher_state(teacher) == before
    assert all(torch.equal(v, weights[k]) for k, v in teacher.state_dict().items())
    if changes:  # the student is trained in place and keeps eager attention
        assert student.config._attn_implementation == "eager"


def test_distill_restores_the_teacher_when_training_fails(tokens, bert_tokenizer):
    small = DatasetDict(
        {
            "train": tokens["train"].select(range(16)),
            "validation": tokens["validation"].select(range(8)),
        }
    )
    teacher = tiny_teacher(bert_tokenizer.vocab_size).train()
    teacher.set_attn_implementation("sdpa")
    before = _teacher_state(teacher)
    with pytest.raises(FloatingPointError):
        distill(
            make_student(teacher, [0, 1]),
            teacher,
            small,
            FAST.replace(epochs=1, attention_weight=1.0),
            tokenizer=bert_tokenizer,
            loss_fn=NaNLoss(attention_weight=1.0, layer_map=[0, 1]),
        )
    assert _teacher_state(teacher) == before


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("attention_weight", [0.0, 1.0])
def test_distill_on_cuda_leaves_a_cpu_teacher_on_the_cpu(tokens, bert_tokenizer, attention_weight):
    small = DatasetDict(
        {
            "train": tokens["train"].select(range(32)),
            "validation": tokens["validation"].select(range(16)),
        }
    )
    teacher = tiny_teacher(bert_tokenizer.vocab_size).eval()
    before = _teacher_state(teacher)
    config = FAST.replace(epochs=1, device="cuda", attention_weight=attention_weight)
    result = distill(
        make_student(teacher, [0, 3]),
        teacher,
        small,
        config,
        tokenizer=bert_tokenizer,
        logits_cache=False,
    )
    assert next(result.model.parameters()).device.type == "cuda"
    assert _teacher_state(teacher) == before


class NaNLoss(DistillationLoss):
    def forward(self, *args, **kwargs) -> LossOutput:
        out = super().forward(*args, **kwargs)
        return LossOutput(out.total * float("nan"), out.terms)


def test_nan_loss_stops_with_epoch_and_step(tokens, bert_tokenizer):
    teacher = tiny_teacher(bert_tokenizer.vocab_size)
    with pytest.raises(FloatingPointError, match="epoch 1, step 1"):
        distill(
            make_student(teacher, [0, 1]),
            teacher,
            tokens,
            FAST,
            tokenizer=bert_tokenizer,
            loss_fn=NaNLoss(),
            logits_cache=False,
        )


def test_missing_split_and_untokenised_data_are_clear_errors(tokens, bert_tokenizer):
    model = tiny_teacher(bert_tokenizer.vocab_size)
    with pytest.raises(ValueError, match="no 'validation' split"):
        fine_tune(model, DatasetDict({"train": tokens["train"]}), FAST, tokenizer=bert_tokenizer)
    raw = DatasetDict({"train": _split(8, 0), "validation": _split(8, 1)})
    with pytest.raises(ValueError, match="tokenise it first"):
        fine_tune(model, raw, FAST, tokenizer=bert_tokenizer)


def test_gradient_accumulation_and_clipping_run(tokens, bert_tokenizer):
    model = tiny_teacher(bert_tokenizer.vocab_size)
    config = FAST.replace(epochs=1, batch_size=8, grad_accum_steps=2, max_grad_norm=0.5)
    result = fine_tune(model, tokens, config, tokenizer=bert_tokenizer)
    assert math.isfinite(result.history[0]["train_loss"])


def test_accumulated_gradients_equal_those_of_one_big_batch(tokens, bert_tokenizer):
    from torch.optim.optimizer import register_optimizer_step_pre_hook

    # 16 training examples: 2 micro-batches of 8 with accumulation, or 1 batch of 16 without
    train, validation = tokens["train"].select(range(16)), tokens["test"].select(range(8))
    small = DatasetDict({"train": train, "validation": validation})

    def gradients_at_each_step(batch_size: int, grad_accum_steps: int) -> list[list[torch.Tensor]]:
        """Fine-tune a dropout-free tiny teacher; the gradients AdamW saw at each of its steps."""
        model = tiny_teacher(bert_tokenizer.vocab_size)
        for module in model.modules():
            if isinstance(module, torch.nn.Dropout):
                module.p = 0.0
        steps: list[list[torch.Tensor]] = []

        def record(optimizer, args, kwargs):
            if isinstance(optimizer, torch.optim.AdamW):  # not accelerate's wrapper around it
                params = [p for group in optimizer.param_groups for p in group["params"]]
                steps.append([p.grad.detach().clone() for p in params if p.grad is not None])

        config = FAST.replace(  # on the CPU in float32, so that only float rounding differs
            epochs=1,
            batch_size=batch_size,
            grad_accum_steps=grad_accum_steps,
            max_grad_norm=None,
            device="cpu",
            mixed_precision="no",
        )
        handle = register_optimizer_step_pre_hook(record)
        try:
            fine_tune(model, small, config, tokenizer=bert_tokenizer)
        finally:
            handle.remove()
        return steps

    accumulated, whole = gradients_at_each_step(8, 2), gradients_at_each_step(16, 1)
    assert len(accumulated) == len(whole) == 1  # one optimiser step each
    assert len(accumulated[0]) == len(whole[0]) > 0
    for g_acc, g_whole in zip(accumulated[0], whole[0], strict=True):
        # without the division by grad_accum_steps the accumulated gradients would be twice as big
        torch.testing.assert_close(g_acc, g_whole, rtol=0, atol=1e-6)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_bf16_and_fused_adamw(tokens, bert_tokenizer):
    teacher = tiny_teacher(bert_tokenizer.vocab_size)
    config = FAST.replace(epochs=1, device="cuda", mixed_precision="auto")
    accelerator = train_mod.make_accelerator(config)
    assert accelerator.mixed_precision in ("bf16", "fp16")
    optimizer = train_mod.make_optimizer(
        list(teacher.named_parameters()), config, torch.device("cuda")
    )
    assert optimizer.defaults.get("fused") is True
    result = distill(
        make_student(teacher, [0, 1]), teacher.cuda(), tokens, config, tokenizer=bert_tokenizer
    )
    assert math.isfinite(result.history[0]["train_loss"])
