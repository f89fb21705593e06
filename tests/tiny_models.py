"""Tiny random transformer classifiers for fast, offline tests (no Hub)."""

from __future__ import annotations

import random

import torch
from datasets import ClassLabel, Dataset, Features, Value
from transformers import (
    BertConfig,
    BertForSequenceClassification,
    DistilBertConfig,
    DistilBertForSequenceClassification,
    RobertaConfig,
    RobertaForSequenceClassification,
)

VOCAB = 120


def tiny_bert(
    num_layers: int = 12, hidden: int = 32, seed: int = 0
) -> BertForSequenceClassification:
    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=VOCAB,
        hidden_size=hidden,
        num_hidden_layers=num_layers,
        num_attention_heads=2,
        intermediate_size=2 * hidden,
        max_position_embeddings=64,
        num_labels=2,
    )
    return BertForSequenceClassification(config)


def tiny_roberta(num_layers: int = 12, seed: int = 0) -> RobertaForSequenceClassification:
    torch.manual_seed(seed)
    config = RobertaConfig(
        vocab_size=VOCAB,
        hidden_size=32,
        num_hidden_layers=num_layers,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=70,
        num_labels=2,
        pad_token_id=1,
    )
    return RobertaForSequenceClassification(config)


def tiny_distilbert(num_layers: int = 12, seed: int = 0) -> DistilBertForSequenceClassification:
    torch.manual_seed(seed)
    config = DistilBertConfig(
        vocab_size=VOCAB,
        dim=32,
        n_layers=num_layers,
        n_heads=2,
        hidden_dim=64,
        max_position_embeddings=64,
        num_labels=2,
    )
    return DistilBertForSequenceClassification(config)


def random_batch(batch: int = 4, seq: int = 9, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    input_ids = torch.randint(5, VOCAB, (batch, seq), generator=g)
    attention_mask = torch.ones_like(input_ids)
    attention_mask[0, -3:] = 0
    return {
        "input_ids": input_ids,
        "attention_mask": attention_mask,
        "labels": torch.randint(0, 2, (batch,), generator=g),
    }


WORDS = {0: ["bad", "dull", "boring", "awful"], 1: ["good", "great", "funny", "warm"]}
FILL = ["the", "film", "plot", "cast", "was", "really", "quite", "and", "a", "story"]


def word_sentences(n: int, seed: int) -> Dataset:
    """``n`` real-word sentences, alternately negative and positive (one sentiment word each)."""
    rng = random.Random(seed)
    rows = [(i % 2, [rng.choice(WORDS[i % 2]), *rng.sample(FILL, rng.randint(1, 7))])
            for i in range(n)]
    features = Features({"text": Value("string"), "label": ClassLabel(names=["neg", "pos"])})
    texts = [" ".join(rng.sample(words, len(words))) for _, words in rows]
    return Dataset.from_dict({"text": texts, "label": [y for y, _ in rows]}, features=features)


def tiny_bert_for(vocab: int, **config: object) -> BertForSequenceClassification:
    """A tiny BERT with a real tokenizer's vocabulary size, so real sentences can be classified."""
    torch.manual_seed(0)
    return BertForSequenceClassification(BertConfig(
        vocab_size=vocab, hidden_size=32, num_hidden_layers=4, num_attention_heads=2,
        intermediate_size=64, num_labels=2, **config))
