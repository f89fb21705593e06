"""DistilBERT students from a BERT teacher: the same encoder as the same-class student, a head
that differs only by its activation, a layer map the losses read, and one clear refusal for
the teacher families that cannot become DistilBERT."""

from __future__ import annotations

import math

import pytest
import torch
from datasets import DatasetDict
from tiny_models import (
    random_batch,
    tiny_bert,
    tiny_bert_for,
    tiny_distilbert,
    tiny_roberta,
    word_sentences,
)
from transformers import (
    BertConfig,
    BertForSequenceClassification,
    DistilBertForSequenceClassification,
    MPNetConfig,
    MPNetForSequenceClassification,
)

from distill_lib.data import tokenize
from distill_lib.distilbert import check_distilbert_teacher, to_distilbert
from distill_lib.student import layer_map, make_student, num_layers
from distill_lib.train import TrainConfig, distill

LAYERS = [[0, 2, 5], [5, 1], [3]]


def _inputs(seed: int = 0) -> dict[str, torch.Tensor]:
    """A padded batch as the package's loader gives it (single sentences: token types 0)."""
    batch = random_batch(batch=5, seq=11, seed=seed)
    batch.pop("labels")
    batch["attention_mask"][1, -6:] = 0  # two padded rows, different lengths
    batch["token_type_ids"] = torch.zeros_like(batch["input_ids"])
    return batch


def _pair(layers: list[int], attn: str = "sdpa") -> tuple[torch.nn.Module, torch.nn.Module]:
    teacher = tiny_bert(6)
    teacher.set_attn_implementation(attn)
    same = make_student(teacher, layers).eval()
    distil = make_student(teacher, layers, architecture="distilbert").eval()
    return same, distil


@pytest.mark.parametrize("attn", ["sdpa", "eager"])
@pytest.mark.parametrize("layers", LAYERS)
def test_the_encoder_equals_the_same_class_students(layers, attn):
    same, distil = _pair(layers, attn)
    assert isinstance(distil, DistilBertForSequenceClassification)
    assert distil.config._attn_implementation == attn
    with torch.no_grad():
        out_same = same(**_inputs(), output_hidden_states=True)
        out_distil = distil(**_inputs(), output_hidden_states=True)
    assert len(out_distil.hidden_states) == len(layers) + 1 == len(out_same.hidden_states)
    pairs = zip(out_distil.hidden_states, out_same.hidden_states, strict=True)
    for i, (ours, theirs) in enumerate(pairs):
        assert torch.allclose(ours, theirs, atol=1e-5), f"hidden_states[{i}]"


def test_the_logits_differ_only_through_the_heads_activation():
    same, distil = _pair([0, 2, 5])
    with torch.no_grad():
        cls = distil(**_inputs(), output_hidden_states=True).hidden_states[-1][:, 0]
        dense = distil.pre_classifier(cls)
        logits_distil = distil(**_inputs()).logits
        logits_same = same(**_inputs()).logits
    # BERT's head, tanh(pooler(h_CLS)), rebuilt from DistilBERT's tensors: the same logits
    assert torch.allclose(distil.classifier(torch.tanh(dense)), logits_same, atol=1e-5)
    # DistilBERT's own head is ReLU(pre_classifier(h_CLS)): other logits until training
    assert torch.allclose(distil.classifier(torch.relu(dense)), logits_distil, atol=1e-6)
    assert not torch.allclose(logits_distil, logits_same, atol=1e-3)


def test_every_tensor_goes_where_the_map_says():
    teacher = tiny_bert(6)
    student = to_distilbert(teacher, [4, 1])
    bert, ours = teacher.bert, student.distilbert
    emb = bert.embeddings
    assert torch.equal(ours.embeddings.word_embeddings.weight, emb.word_embeddings.weight)
    folded = emb.position_embeddings.weight + emb.token_type_embeddings.weight[0]
    assert torch.equal(ours.embeddings.position_embeddings.weight, folded)
    pairs = [(ours.embeddings.LayerNorm, emb.LayerNorm), (student.classifier, teacher.classifier),
             (student.pre_classifier, bert.pooler.dense)]
    for i, t in enumerate([4, 1]):
        a, b = ours.transformer.layer[i], bert.encoder.layer[t]
        pairs += [(a.attention.q_lin, b.attention.self.query),
                  (a.attention.k_lin, b.attention.self.key),
                  (a.attention.v_lin, b.attention.self.value),
                  (a.attention.out_lin, b.attention.output.dense),
                  (a.sa_layer_norm, b.attention.output.LayerNorm),
                  (a.ffn.lin1, b.intermediate.dense), (a.ffn.lin2, b.output.dense),
                  (a.output_layer_norm, b.output.LayerNorm)]
    for mine, theirs in pairs:
        assert torch.equal(mine.weight, theirs.weight) and torch.equal(mine.bias, theirs.bias)
        assert mine.weight.data_ptr() != theirs.weight.data_ptr()  # copies, not shared


def test_the_config_comes_from_the_teacher():
    teacher = tiny_bert(4)
    teacher.config.id2label, teacher.config.label2id = {0: "neg", 1: "pos"}, {"neg": 0, "pos": 1}
    teacher.config.classifier_dropout = 0.3
    config = to_distilbert(teacher, [0, 3]).config
    c = teacher.config
    assert (config.dim, config.n_heads, config.hidden_dim, config.n_layers) == (
        c.hidden_size, c.num_attention_heads, c.intermediate_size, 2)
    assert (config.vocab_size, config.max_position_embeddings, config.pad_token_id) == (
        c.vocab_size, c.max_position_embeddings, c.pad_token_id)
    assert config.activation == c.hidden_act and not config.sinusoidal_pos_embds
    assert (config.dropout, config.attention_dropout, config.seq_classif_dropout) == (
        c.hidden_dropout_prob, c.attention_probs_dropout_prob, 0.3)
    assert config.id2label == {0: "neg", 1: "pos"} and config.num_labels == 2
    norms = [m for m in to_distilbert(teacher, [0]).modules() if isinstance(m, torch.nn.LayerNorm)]
    assert norms and all(m.eps == c.layer_norm_eps == 1e-12 for m in norms)


def test_the_layer_map_is_recorded_as_make_student_records_it():
    teacher = tiny_bert(12)
    before = {k: v.clone() for k, v in teacher.state_dict().items()}
    same = make_student(teacher, "uniform", n_student=4)
    distil = make_student(teacher, "uniform", n_student=4, architecture="distilbert")
    assert distil.config.distill_lib == {**same.config.distill_lib, "architecture": "distilbert"}
    assert layer_map(distil) == layer_map(same) == [0, 4, 7, 11]
    assert num_layers(distil) == 4 and distil.training
    for key, value in teacher.state_dict().items():
        assert torch.equal(value, before[key]), key
    assert getattr(teacher.config, "distill_lib", None) is None


def test_a_random_init_is_seeded_and_recorded():
    teacher = tiny_bert(6)
    a = make_student(teacher, [0, 5], init="random", seed=3, architecture="distilbert")
    b = make_student(teacher, [0, 5], init="random", seed=3, architecture="distilbert")
    copied = make_student(teacher, [0, 5], architecture="distilbert")
    assert a.config.distill_lib["init"] == "random"
    q = "distilbert.transformer.layer.0.attention.q_lin.weight"
    assert torch.equal(a.state_dict()[q], b.state_dict()[q])
    assert not torch.equal(a.state_dict()[q], copied.state_dict()[q])


def _mpnet() -> MPNetForSequenceClassification:
    config = MPNetConfig(vocab_size=120, hidden_size=32, num_hidden_layers=4,
                         num_attention_heads=2, intermediate_size=64, num_labels=2)
    return MPNetForSequenceClassification(config)


def _bert_with_eps(eps: float) -> BertForSequenceClassification:
    config = BertConfig(vocab_size=120, hidden_size=32, num_hidden_layers=4,
                        num_attention_heads=2, intermediate_size=64, layer_norm_eps=eps)
    return BertForSequenceClassification(config)


@pytest.mark.parametrize(
    ("build", "why"),
    [
        (_mpnet, "relative-position bias"),
        (lambda: tiny_roberta(4), "padding_idx"),
        (lambda: tiny_distilbert(4), "a DistilBERT already"),
        (lambda: _bert_with_eps(1e-5), "fixes eps at 1e-12"),
    ],
    ids=["mpnet", "roberta", "distilbert", "bert-eps-1e-5"],
)
def test_a_teacher_that_cannot_become_distilbert_gets_one_clear_error(build, why):
    teacher = build()
    with pytest.raises(ValueError, match=why) as caught:
        make_student(teacher, [0, 3], architecture="distilbert")
    assert "cannot become a DistilBERT student" in str(caught.value)
    assert "make_student(teacher, layers)" in str(caught.value)  # what to do instead
    with pytest.raises(ValueError, match=why):
        check_distilbert_teacher(teacher)
    make_student(teacher, [0, 3])  # the same-class student is still there


def test_unknown_architecture_is_rejected():
    with pytest.raises(ValueError, match="architecture must be 'same' or 'distilbert'"):
        make_student(tiny_bert(4), [0, 3], architecture="distilroberta")


# --- it distils like any student ---------------------------------------------------------

@pytest.fixture(scope="module")
def tokens(bert_tokenizer) -> DatasetDict:
    data = DatasetDict({"train": word_sentences(96, 0), "validation": word_sentences(32, 1)})
    return tokenize(data, bert_tokenizer)


def _teacher(vocab: int) -> BertForSequenceClassification:
    return tiny_bert_for(vocab)


@pytest.mark.parametrize(
    "weights",
    [{}, {"hidden_weight": 1.0, "attention_weight": 1.0}],
    ids=["logits-only", "hidden-and-attention"],
)
def test_it_distils_with_the_package_loop(tokens, bert_tokenizer, weights):
    teacher = _teacher(bert_tokenizer.vocab_size)
    student = make_student(teacher, [0, 3], architecture="distilbert")
    before = {k: v.clone() for k, v in student.state_dict().items()}
    config = TrainConfig(epochs=3, batch_size=16, lr=1e-2, warmup_ratio=0.0, device="cpu",
                         progress=False, **weights)
    result = distill(student, teacher, tokens, config, tokenizer=bert_tokenizer,
                     logits_cache=False)
    losses = [row["train_loss"] for row in result.history]
    assert all(math.isfinite(x) for x in losses) and losses[-1] < losses[0]
    if weights:
        assert result.history[0]["train_hidden"] > 0 and result.history[0]["train_attention"] > 0
    after = result.model.state_dict()
    assert isinstance(result.model, DistilBertForSequenceClassification)
    assert not torch.equal(after["pre_classifier.weight"], before["pre_classifier.weight"])
    q = "distilbert.transformer.layer.1.attention.q_lin.weight"
    assert not torch.equal(after[q], before[q])
