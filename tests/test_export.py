"""Use it anywhere: a distilled student, saved, predicts the same in plain transformers.

A student is distilled with every speed lever of the training loop on (the last layer for the
first token only, unpadded layers, compact word embeddings: the last *replaces* the embedding
module while training and must put the trained rows back before saving), saved with its
tokenizer, and loaded in a fresh Python process that never imports distill_lib: by
``AutoModelForSequenceClassification`` and by ``pipeline("text-classification")``. Their
probabilities must equal those of the model in the training process, for the same-class
student and for the DistilBERT one.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import torch
from datasets import DatasetDict
from tiny_models import tiny_bert_for, word_sentences
from transformers import BertForSequenceClassification

import distill_lib.train as train_mod
from distill_lib.data import tokenize
from distill_lib.student import make_student
from distill_lib.train import TrainConfig, distill

SENTENCES = [
    "a warm and funny film",
    "the plot was dull, the cast was boring and the story awful",
    "quite good",
    "Really great!",
]

FRESH_PROCESS = r"""
import json, sys
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer, pipeline

sentences, found = json.loads(sys.argv[1]), {}
for folder in sys.argv[2:]:
    model = AutoModelForSequenceClassification.from_pretrained(folder)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    labels = [model.config.id2label[i] for i in range(model.config.num_labels)]
    with torch.no_grad():  # one padded batch
        batch = tokenizer(sentences, padding=True, return_tensors="pt")
        probs = model(**batch).logits.softmax(-1)
    classify = pipeline("text-classification", model=folder, tokenizer=folder, top_k=None,
                        device="cpu")
    found[folder] = {
        "class": type(model).__name__,
        "training": model.training,
        "distill_lib": model.config.distill_lib,
        "auto": [dict(zip(labels, row)) for row in probs.tolist()],
        "pipeline": [{r["label"]: r["score"] for r in rows} for rows in classify(sentences)],
    }
print(json.dumps(found))
"""
ARCHITECTURES = ("same", "distilbert")

@pytest.fixture(scope="module")
def tokens(bert_tokenizer) -> DatasetDict:
    data = DatasetDict({"train": word_sentences(96, 0), "validation": word_sentences(32, 1)})
    return tokenize(data, bert_tokenizer)


def _teacher(vocab: int) -> BertForSequenceClassification:
    """A tiny BERT with the real tokenizer's vocabulary, with label names for the pipeline."""
    return tiny_bert_for(vocab, id2label={0: "negative", 1: "positive"},
                         label2id={"negative": 0, "positive": 1})


@dataclass
class Trained:
    """A distilled student, its starting point, the folder it was saved to, the levers' yields."""

    model: torch.nn.Module
    start: torch.nn.Module
    folder: Path
    levers: dict[str, Any]


def _spy(monkeypatch: pytest.MonkeyPatch, name: str, seen: dict) -> None:
    """Record what the training loop's lever ``name`` yielded (whether it was switched on)."""
    real = getattr(train_mod, name)

    @contextlib.contextmanager
    def spy(*args, **kwargs):
        with real(*args, **kwargs) as value:
            seen[name] = value
            yield value

    monkeypatch.setattr(train_mod, name, spy)


def _distil(architecture: str, tokens: DatasetDict, tokenizer, folder: Path) -> Trained:
    """Distil a 2-layer student with the default levers; ``distill`` saves it to ``folder``."""
    config = TrainConfig(epochs=2, batch_size=16, lr=1e-2, warmup_ratio=0.0, device="cpu",
                         progress=False, output_dir=str(folder))
    assert config.cls_only_last_layer and config.unpadded_layers and config.compact_embeddings
    teacher = _teacher(tokenizer.vocab_size)
    student = make_student(teacher, [0, 3], architecture=architecture)
    start = copy.deepcopy(student)
    levers: dict[str, Any] = {}
    with pytest.MonkeyPatch.context() as monkeypatch:
        for name in ("compact_word_embeddings", "cls_only_last_layer", "unpadded_layers"):
            _spy(monkeypatch, name, levers)
        result = distill(student, teacher, tokens, config, tokenizer=tokenizer,
                         logits_cache=False)
    return Trained(result.model.to("cpu").eval(), start, folder, levers)


@pytest.fixture(scope="module")
def trained(tokens, bert_tokenizer, tmp_path_factory) -> dict[str, Trained]:
    root = tmp_path_factory.mktemp("students")
    return {arch: _distil(arch, tokens, bert_tokenizer, root / arch) for arch in ARCHITECTURES}


@pytest.fixture(scope="module")
def fresh(trained) -> dict[str, dict]:
    """What a new Python process, importing transformers only, finds in each saved folder."""
    folders = [str(trained[arch].folder) for arch in ARCHITECTURES]
    done = subprocess.run(
        [sys.executable, "-c", FRESH_PROCESS, json.dumps(SENTENCES), *folders],
        capture_output=True, text=True, timeout=300, env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    return {arch: found[folder] for arch, folder in zip(ARCHITECTURES, folders, strict=True)}


def _probabilities(model: torch.nn.Module, tokenizer) -> list[dict[str, float]]:
    """What the training process predicts: one sentence at a time, as the pipeline does."""
    labels = [model.config.id2label[i] for i in range(model.config.num_labels)]
    out = []
    with torch.no_grad():
        for sentence in SENTENCES:
            probs = model(**tokenizer(sentence, return_tensors="pt")).logits.softmax(-1)[0]
            out.append(dict(zip(labels, probs.tolist(), strict=True)))
    return out


def _assert_close(got: list[dict[str, float]], expected: list[dict[str, float]]) -> None:
    for sentence, row, want in zip(SENTENCES, got, expected, strict=True):
        assert row.keys() == want.keys(), sentence
        for label, p in want.items():
            assert abs(row[label] - p) <= 1e-6, (sentence, label, row[label], p)


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_the_speed_levers_ran_and_the_embedding_was_put_back(architecture, trained, bert_tokenizer):
    run = trained[architecture]
    rows = run.levers["compact_word_embeddings"]
    assert rows is not None and 0 < len(rows.rows) < bert_tokenizer.vocab_size
    # DistilBERT's layers are not on distill_lib.fast's allow-list: they run the stock layer
    assert run.levers["cls_only_last_layer"] is (architecture == "same")
    assert run.levers["unpadded_layers"] == (1 if architecture == "same" else 0)
    embedding = run.model.get_input_embeddings()
    assert type(embedding) is torch.nn.Embedding  # the full module again, not CompactRows
    seen = rows.rows[rows.rows != bert_tokenizer.pad_token_id]
    before = run.start.get_input_embeddings().weight.detach()
    assert not torch.allclose(embedding.weight.detach()[seen], before[seen])  # trained rows


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_the_folder_holds_safetensors_and_no_pickle(architecture, trained):
    names = {p.name for p in trained[architecture].folder.iterdir()}
    assert {"model.safetensors", "config.json", "tokenizer_config.json"} <= names
    assert not {n for n in names if n.endswith((".bin", ".pt", ".pth", ".pkl", ".pickle"))}


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_a_fresh_process_predicts_what_the_training_process_predicts(
    architecture, trained, fresh, bert_tokenizer
):
    model, found = trained[architecture].model, fresh[architecture]
    assert found["class"] == type(model).__name__ and found["training"] is False
    assert found["distill_lib"] == model.config.distill_lib  # the layer map travels too
    expected = _probabilities(model, bert_tokenizer)
    assert max(abs(p["positive"] - 0.5) for p in expected) > 0.01  # not a constant model
    _assert_close(found["auto"], expected)
    _assert_close(found["pipeline"], expected)
