"""DistillationTrainer: the package's loss inside a transformers Trainer, on tiny models.

The data are token ids below the tiny vocabulary (120): class 1 sentences use ids 10-64, class
0 ids 65-119, so the task is learnt in a few dozen steps. The BERT tokenizer only pads.
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
import torch
from datasets import Dataset, DatasetDict
from safetensors.torch import load_file
from tiny_models import VOCAB
from transformers import BertConfig, BertForSequenceClassification, TrainerCallback

from distill_lib.hf_trainer import (
    PROJECTION_FILE,
    DistillationTrainer,
    DistillationTrainingArguments,
)
from distill_lib.losses import DistillationLoss
from distill_lib.student import make_student
from distill_lib.train import INDEX_COLUMN, TrainConfig, evaluate_model, fine_tune


def tiny(layers: int, hidden: int = 32, seed: int = 0, dropout: float = 0.0):
    """A tiny BERT classifier; no dropout by default, so train and eval forwards agree."""
    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=VOCAB, hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=2,
        intermediate_size=2 * hidden, max_position_embeddings=32, num_labels=2,
        hidden_dropout_prob=dropout, attention_probs_dropout_prob=dropout,
    )
    return BertForSequenceClassification(config)


def separable(n: int, seed: int) -> Dataset:
    """``n`` rows of ``input_ids`` (4-9 tokens between ids 2 and 3), a label and a text."""
    rng = np.random.default_rng(seed)
    rows: dict[str, list] = {k: [] for k in ("text", "input_ids", "attention_mask", "label")}
    for i in range(n):
        label = i % 2
        low, high = (10, 65) if label else (65, VOCAB)
        ids = [2, *rng.integers(low, high, int(rng.integers(4, 10))).tolist(), 3]
        rows["text"].append(f"row {i}")  # a string column: the Trainer must drop it
        rows["input_ids"].append(ids)
        rows["attention_mask"].append([1] * len(ids))
        rows["label"].append(label)
    return Dataset.from_dict(rows)


def make_args(out: Path, **changes) -> DistillationTrainingArguments:
    settings = dict(
        output_dir=str(out), use_cpu=True, report_to=[], per_device_train_batch_size=8,
        learning_rate=1e-3, max_steps=1, save_strategy="no", logging_strategy="no",
        disable_tqdm=True, seed=0,
    )
    settings.update(changes)
    return DistillationTrainingArguments(**settings)


def count_calls(model: torch.nn.Module) -> list[int]:
    """A one-element list counting ``model``'s forward passes from now on."""
    calls = [0]
    model.register_forward_hook(lambda *_: calls.__setitem__(0, calls[0] + 1))
    return calls


def record_first_step(trainer: DistillationTrainer) -> dict:
    """Keep the first training step's batch and the loss the Trainer computed on it."""
    seen: dict = {}
    step = trainer.training_step

    def recording(model, inputs, num_items_in_batch=None):
        seen.setdefault("inputs", {k: v.clone() for k, v in inputs.items()})
        loss = step(model, inputs, num_items_in_batch)
        seen.setdefault("loss", float(loss))
        return loss

    trainer.training_step = recording
    return seen


# -- (a) one step's loss is DistillationLoss on the same batch --------------------------------

STUDENTS = {
    "logits-only, cached": dict(changes={}, narrow=False),
    "hidden, make_student": dict(changes={"hidden_weight": 0.7, "cos_weight": 0.3}, narrow=False),
    "attention, make_student": dict(changes={"attention_weight": 2.0}, narrow=False),
    "hidden, projection": dict(changes={"hidden_weight": 0.7, "layer_map": [1, 3]}, narrow=True),
}


@pytest.mark.parametrize("case", list(STUDENTS))
def test_one_step_loss_equals_distillation_loss_by_hand(case, bert_tokenizer, tmp_path, tmp_cache):
    changes, narrow = STUDENTS[case]["changes"], STUDENTS[case]["narrow"]
    teacher = tiny(4, seed=1)
    student = tiny(2, hidden=16, seed=2) if narrow else make_student(teacher, [0, 3])
    args = make_args(tmp_path, alpha=0.6, temperature=3.0, **changes)
    trainer = DistillationTrainer(
        model=student, args=args, teacher=teacher, processing_class=bert_tokenizer,
        train_dataset=separable(32, 0),
    )
    assert (trainer.cached_logits is not None) == (case == "logits-only, cached")
    assert (trainer.loss_fn.projection is not None) == narrow
    student_before = copy.deepcopy(student).eval()
    loss_before = copy.deepcopy(trainer.loss_fn)
    teacher_calls = count_calls(teacher)
    seen = record_first_step(trainer)
    trainer.train()
    assert (teacher_calls[0] == 0) == (case == "logits-only, cached")  # cached: never runs

    by_hand = DistillationLoss(
        temperature=3.0, alpha=0.6, cos_weight=changes.get("cos_weight", 0.0),
        hidden_weight=changes.get("hidden_weight", 0.0),
        attention_weight=changes.get("attention_weight", 0.0),
        layer_map=changes.get("layer_map", [0, 3]), hidden_size_S=16 if narrow else 32,
        hidden_size_T=32,
    )
    by_hand.load_state_dict(loss_before.state_dict())  # the projection's first weights
    batch = seen["inputs"]
    assert INDEX_COLUMN in batch or case != "logits-only, cached"  # kept past the Trainer
    features = {k: batch[k] for k in ("input_ids", "attention_mask", "token_type_ids")
                if k in batch}
    flags = {"output_hidden_states": True, "output_attentions": "attention_weight" in changes}
    with torch.no_grad():
        outputs_T = teacher(**features, **flags)
        outputs_S = student_before(**features, **flags)
        expected = by_hand(outputs_S, outputs_T, batch["labels"], features["attention_mask"])
    assert seen["loss"] == pytest.approx(float(expected.total), abs=1e-6)
    assert not teacher.training  # the teacher stays in eval mode


def test_the_projection_is_trained(bert_tokenizer, tmp_path):
    teacher, student = tiny(4, seed=1), tiny(2, hidden=16, seed=2)
    args = make_args(tmp_path, hidden_weight=1.0, layer_map=[1, 3], max_steps=2)
    trainer = DistillationTrainer(
        model=student, args=args, teacher=teacher, processing_class=bert_tokenizer,
        train_dataset=separable(32, 0),
    )
    before = trainer.loss_fn.projection.weight.detach().clone()
    teacher_before = {k: v.clone() for k, v in teacher.state_dict().items()}
    trainer.train()
    assert not torch.equal(trainer.loss_fn.projection.weight, before)
    assert all(torch.equal(v, teacher_before[k]) for k, v in teacher.state_dict().items())


@pytest.mark.parametrize("changes", [{}, {"hidden_weight": 1.0, "layer_map": [1, 3]}])
def test_accumulated_steps_equal_one_big_batch(changes, bert_tokenizer, tmp_path, tmp_cache):
    """The loss is a batch mean: the Trainer must divide it by the accumulation steps."""
    students = []
    for batch, accumulate in ((8, 1), (4, 2)):
        teacher, student = tiny(4, seed=1), tiny(2, hidden=16, seed=2)
        args = make_args(tmp_path / str(batch), per_device_train_batch_size=batch,
                         gradient_accumulation_steps=accumulate, max_grad_norm=0.0, **changes)
        DistillationTrainer(
            model=student, args=args, teacher=teacher, processing_class=bert_tokenizer,
            train_dataset=separable(32, 0),
        ).train()
        students.append(student)
    big, accumulated = (s.state_dict() for s in students)
    for name, p in big.items():
        torch.testing.assert_close(p, accumulated[name], rtol=0, atol=1e-6, msg=name)


# -- (b) a short run learns ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def taught(bert_tokenizer) -> tuple[BertForSequenceClassification, DatasetDict]:
    """A tiny teacher fine-tuned (by the package's loop) on the separable task, and the data."""
    data = DatasetDict({"train": separable(256, 0), "validation": separable(64, 1),
                        "test": separable(128, 2)})
    teacher = tiny(4, seed=1, dropout=0.1)
    config = TrainConfig(epochs=3, batch_size=16, lr=3e-3, warmup_ratio=0.0, progress=False,
                         device="cpu")
    result = fine_tune(teacher, data, config, tokenizer=bert_tokenizer)
    assert result.best_validation["accuracy"] >= 0.9
    return result.model, data


def test_a_short_run_learns(taught, bert_tokenizer, tmp_path, tmp_cache):
    teacher, data = taught
    student = make_student(teacher, "uniform", n_student=2, init="random", seed=0)
    before = evaluate_model(student, data["test"], tokenizer=bert_tokenizer)["accuracy"]
    args = make_args(tmp_path, max_steps=-1, num_train_epochs=3, learning_rate=3e-3,
                     per_device_train_batch_size=16, logging_strategy="steps", logging_steps=8)
    trainer = DistillationTrainer(
        model=student, args=args, teacher=teacher, processing_class=bert_tokenizer,
        train_dataset=data["train"], eval_dataset=data["validation"],
    )
    trainer.train()
    losses = [row["loss"] for row in trainer.state.log_history if "loss" in row]
    assert losses[-1] < 0.5 * losses[0]
    after = evaluate_model(trainer.model, data["test"], tokenizer=bert_tokenizer)["accuracy"]
    assert after >= 0.85 and after > before
    assert np.isfinite(trainer.evaluate()["eval_loss"])  # evaluation runs the teacher per batch


# -- (c) it saves and resumes like any Trainer --------------------------------------------------


class StopAt(TrainerCallback):
    """Stop training after ``step`` updates, as an interrupted job would."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step >= self.step:
            control.should_training_stop = True


def _run(out: Path, tokenizer, resume: bool = False, stop_at: int | None = None):
    teacher, student = tiny(4, seed=1), tiny(2, hidden=16, seed=2)
    args = make_args(out, hidden_weight=1.0, layer_map=[1, 3], max_steps=6, save_strategy="steps",
                     save_steps=2)
    trainer = DistillationTrainer(
        model=student, args=args, teacher=teacher, processing_class=tokenizer,
        train_dataset=separable(96, 0), callbacks=[StopAt(stop_at)] if stop_at else None,
    )
    trainer.train(resume_from_checkpoint=True if resume else None)
    return trainer


def test_it_saves_and_resumes_like_any_trainer(bert_tokenizer, tmp_path):
    whole = _run(tmp_path / "whole", bert_tokenizer)
    first = _run(tmp_path / "cut", bert_tokenizer, stop_at=4)
    assert first.state.global_step == 4
    checkpoint = tmp_path / "cut" / "checkpoint-4"
    assert (checkpoint / "model.safetensors").is_file() and (checkpoint / PROJECTION_FILE).is_file()
    saved = load_file(str(checkpoint / PROJECTION_FILE))
    assert torch.equal(saved["projection.weight"], first.loss_fn.projection.weight.detach())

    resumed = _run(tmp_path / "cut", bert_tokenizer, resume=True)
    assert resumed.state.global_step == 6  # it continued from step 4, not from 0
    assert (tmp_path / "cut" / "checkpoint-6").is_dir()
    # 4 steps + 2 resumed steps = 6 steps in one go: weights, projection and optimiser restored
    for a, b in ((whole.model, resumed.model), (whole.loss_fn, resumed.loss_fn)):
        for (name, p), q in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
            torch.testing.assert_close(p, q, rtol=0, atol=1e-6, msg=name)


# -- (d) bad arguments --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, value",
    [("alpha", 1.5), ("temperature", 0), ("hidden_weight", True), ("cos_weight", -1.0),
     ("attention_weight", float("nan")), ("layer_map", [0, 0])],
)
def test_bad_arguments_raise_one_value_error_naming_the_field(name, value, tmp_path):
    with pytest.raises(ValueError, match=name):
        make_args(tmp_path, **{name: value})


def test_every_bad_field_is_named_at_once(tmp_path):
    with pytest.raises(ValueError, match=r"alpha.*temperature.*hidden_weight"):
        make_args(tmp_path, alpha=1.5, temperature=0, hidden_weight=True)


def test_arguments_are_normalised(tmp_path):
    args = make_args(tmp_path, alpha=1, layer_map=(np.int64(0), 3))
    assert args.alpha == 1.0 and isinstance(args.alpha, float) and args.layer_map == [0, 3]


def test_plain_training_arguments_and_unfit_layer_maps_are_refused(bert_tokenizer, tmp_path):
    from transformers import TrainingArguments

    teacher = tiny(4, seed=1)
    with pytest.raises(TypeError, match="DistillationTrainingArguments"):
        DistillationTrainer(model=make_student(teacher, [0, 3]), teacher=teacher,
                            args=TrainingArguments(output_dir=str(tmp_path), use_cpu=True))
    with pytest.raises(ValueError, match="teacher layer 7"):
        DistillationTrainer(model=make_student(teacher, [0, 3]), teacher=teacher,
                            args=make_args(tmp_path, hidden_weight=1.0, layer_map=[0, 7]))
