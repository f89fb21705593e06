"""One random stream per run: a run gives the same numbers alone and after other runs.

Before, the loop seeded after the teacher's logits, so whatever a run drew before that seed (a
projection of the hidden-state loss) depended on what had run earlier in the process, and the
loaders drew from the global stream. Now a run seeds once, at its start, and every loader of the
run draws from the run's stream (evaluation loaders outside a run never touch it).
"""

from __future__ import annotations

import torch
from datasets import Dataset, DatasetDict
from tiny_models import tiny_bert

from distill_lib import make_student
from distill_lib.inference import predict_logits
from distill_lib.train import TrainConfig, distill


def _tokens(n: int, seed: int) -> Dataset:
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(4, 12, (n,), generator=g).tolist()
    ids = [[2, *torch.randint(5, 100, (k - 2,), generator=g).tolist(), 3] for k in lengths]
    return Dataset.from_dict({
        "input_ids": ids,
        "attention_mask": [[1] * len(x) for x in ids],
        "label": torch.randint(0, 2, (n,), generator=g).tolist(),
    })


DATA = DatasetDict({"train": _tokens(32, 0), "validation": _tokens(8, 1)})
CONFIG = TrainConfig(epochs=2, batch_size=8, lr=1e-3, progress=False, seed=3)


def _run_b(teacher, tokenizer) -> list[float]:
    """A random-init student, a narrower width (so the hidden loss draws a projection)."""
    student = make_student(teacher, [0, 2], init="random", seed=5)
    wide = tiny_bert(num_layers=2, hidden=48, seed=9)  # a different width: projection needed
    wide.config.distill_lib = {"teacher_layers": [0, 2]}  # its layer map, as make_student records
    config = CONFIG.replace(hidden_weight=1.0)
    result = distill(wide, teacher, DATA, config, tokenizer=tokenizer, logits_cache=False)
    result_b = distill(student, teacher, DATA, CONFIG, tokenizer=tokenizer, logits_cache=False)
    return [h["train_loss"] for h in result.history + result_b.history] + [
        h["val_loss"] for h in result.history + result_b.history
    ]


def _run_a(teacher, tokenizer) -> None:
    student = make_student(teacher, [1, 3], seed=1)
    distill(student, teacher, DATA, CONFIG.replace(seed=11), tokenizer=tokenizer)
    torch.rand(17)  # and some unrelated draws from the global stream


def test_a_run_does_not_depend_on_what_ran_before(bert_tokenizer):
    teacher = tiny_bert(num_layers=4, seed=0)
    alone = _run_b(teacher, bert_tokenizer)
    _run_a(teacher, bert_tokenizer)
    after = _run_b(teacher, bert_tokenizer)
    assert alone == after  # bit for bit, random-init student and projection included


def test_a_different_seed_gives_different_numbers(bert_tokenizer):
    """The test above can fail: the numbers do depend on the run's own seed."""
    teacher = tiny_bert(num_layers=4, seed=0)
    student = make_student(teacher, [0, 2], init="random", seed=5)
    one = distill(student, teacher, DATA, CONFIG, tokenizer=bert_tokenizer)
    student = make_student(teacher, [0, 2], init="random", seed=5)
    two = distill(student, teacher, DATA, CONFIG.replace(seed=4), tokenizer=bert_tokenizer)
    assert one.history[0]["train_loss"] != two.history[0]["train_loss"]


def test_evaluation_never_moves_the_global_stream(bert_tokenizer):
    teacher = tiny_bert(num_layers=2, seed=0)
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    predict_logits(teacher, DATA["validation"], tokenizer=bert_tokenizer)
    assert torch.equal(torch.rand(3), expected)
