"""make_student on every supported encoder family, on tiny random models (no downloads).

BERT, RoBERTa, DistilBERT, ELECTRA, MPNet and XLM-R (all ``*ForSequenceClassification``): the
copied tensors are the teacher's bit for bit, the student trains (forward + backward), returns
one hidden state per layer plus the embeddings and one attention map per layer, and survives a
save_pretrained/from_pretrained round trip with its layer map. Unsupported architectures fail
with an error that names what is missing.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable

import pytest
import torch
from datasets import Dataset, DatasetDict
from tiny_models import VOCAB, random_batch, tiny_bert, tiny_distilbert, tiny_roberta
from transformers import (
    AutoModelForSequenceClassification,
    ElectraConfig,
    ElectraForSequenceClassification,
    GPT2Config,
    GPT2ForSequenceClassification,
    MPNetConfig,
    MPNetForSequenceClassification,
    MPNetTokenizer,
    PreTrainedModel,
    T5Config,
    T5ForSequenceClassification,
    XLMRobertaConfig,
    XLMRobertaForSequenceClassification,
)

from distill_lib.experiment.evaluation import measure_latency
from distill_lib.student import encoder_layers, layer_map, make_student, num_layers
from distill_lib.train import TrainConfig, distill

N_TEACHER = 6
LAYERS = [5, 0, 3]  # deliberately not sorted: student layer i must come from LAYERS[i]

_COMMON = {
    "vocab_size": VOCAB,
    "hidden_size": 32,
    "num_attention_heads": 2,
    "intermediate_size": 64,
    "max_position_embeddings": 70,
    "num_labels": 3,
}


def tiny_electra(num_layers: int = N_TEACHER, seed: int = 0) -> ElectraForSequenceClassification:
    torch.manual_seed(seed)
    # embedding_size != hidden_size: the embeddings_project layer must be copied too
    config = ElectraConfig(**_COMMON, num_hidden_layers=num_layers, embedding_size=16)
    return ElectraForSequenceClassification(config)


def tiny_mpnet(num_layers: int = N_TEACHER, seed: int = 0) -> MPNetForSequenceClassification:
    torch.manual_seed(seed)
    config = MPNetConfig(**_COMMON, num_hidden_layers=num_layers, pad_token_id=1)
    return MPNetForSequenceClassification(config)


def tiny_xlmr(num_layers: int = N_TEACHER, seed: int = 0) -> XLMRobertaForSequenceClassification:
    torch.manual_seed(seed)
    config = XLMRobertaConfig(**_COMMON, num_hidden_layers=num_layers, pad_token_id=1)
    return XLMRobertaForSequenceClassification(config)


FAMILIES: dict[str, Callable[[], PreTrainedModel]] = {
    "bert": lambda: tiny_bert(N_TEACHER),
    "roberta": lambda: tiny_roberta(N_TEACHER),
    "distilbert": lambda: tiny_distilbert(N_TEACHER),
    "electra": tiny_electra,
    "mpnet": tiny_mpnet,
    "xlm-roberta": tiny_xlmr,
}

# Where each family keeps its layers (the prefix of the layer keys in the state dict).
LAYER_PREFIX = {
    "bert": "bert.encoder.layer.",
    "roberta": "roberta.encoder.layer.",
    "distilbert": "distilbert.transformer.layer.",
    "electra": "electra.encoder.layer.",
    "mpnet": "mpnet.encoder.layer.",
    "xlm-roberta": "roberta.encoder.layer.",
}


@pytest.fixture(params=sorted(FAMILIES))
def family(request) -> str:
    return request.param


def _teacher_key(key: str, prefix: str, chosen: list[int]) -> str:
    """The teacher key a student key was copied from."""
    if not key.startswith(prefix):
        return key
    index, rest = key[len(prefix) :].split(".", 1)
    return f"{prefix}{chosen[int(index)]}.{rest}"


def test_copied_tensors_equal_the_teachers_bitwise(family):
    teacher = FAMILIES[family]()
    student = make_student(teacher, LAYERS)
    assert type(student) is type(teacher)
    assert num_layers(student) == len(LAYERS) and layer_map(student) == LAYERS
    prefix = LAYER_PREFIX[family]
    s_state, t_state = student.state_dict(), teacher.state_dict()
    # every student tensor is the teacher's, layer i <- teacher layer LAYERS[i]
    for key, tensor in s_state.items():
        source = t_state[_teacher_key(key, prefix, LAYERS)]
        assert tensor.dtype == source.dtype and torch.equal(tensor, source), key
    # nothing outside the layer stack was dropped (embeddings, shared biases, pooler, head)
    outside = {k for k in t_state if not k.startswith(prefix)}
    assert outside <= s_state.keys()
    assert any("embeddings" in k for k in outside)
    assert any(k.startswith(("classifier", "pre_classifier")) for k in outside)
    # and module by module, the way a reader would check it
    for i, t in enumerate(LAYERS):
        s_layer, t_layer = encoder_layers(student)[i].state_dict(), encoder_layers(teacher)[t]
        for key, tensor in t_layer.state_dict().items():
            assert torch.equal(s_layer[key], tensor), f"layer {i} <- {t}: {key}"


def test_mpnet_shares_its_relative_attention_bias():
    teacher = tiny_mpnet()
    student = make_student(teacher, LAYERS)
    bias_s = student.mpnet.encoder.relative_attention_bias.weight
    bias_t = teacher.mpnet.encoder.relative_attention_bias.weight
    assert torch.equal(bias_s, bias_t) and bias_s.data_ptr() != bias_t.data_ptr()


def test_identical_first_layers_compute_the_teachers_hidden_states(family):
    """Copying layers 0..2 in order must reproduce the teacher's first hidden states exactly."""
    teacher = FAMILIES[family]().eval()
    student = make_student(teacher, [0, 1, 2]).eval()
    batch = random_batch()
    batch.pop("labels")
    with torch.no_grad():
        hs_t = teacher(**batch, output_hidden_states=True).hidden_states
        hs_s = student(**batch, output_hidden_states=True).hidden_states
    assert len(hs_s) == 4
    for i in range(4):
        torch.testing.assert_close(hs_s[i], hs_t[i], rtol=0, atol=1e-6)


def test_student_trains_and_returns_every_hidden_state_and_attention_map(family):
    student = make_student(FAMILIES[family](), LAYERS)
    student.set_attn_implementation("eager")  # as distill() does: sdpa returns no attention maps
    batch = random_batch(batch=3, seq=7)
    n_labels = student.config.num_labels
    batch["labels"] = torch.tensor([0, n_labels - 1, 1])
    out = student(**batch, output_hidden_states=True, output_attentions=True)
    k = len(LAYERS)
    assert len(out.hidden_states) == k + 1 and len(out.attentions) == k
    assert all(h.shape == (3, 7, 32) for h in out.hidden_states)
    assert all(a.shape == (3, 2, 7, 7) for a in out.attentions)
    assert out.logits.shape == (3, n_labels)
    out.loss.backward()
    for name, param in student.named_parameters():
        if param.requires_grad:
            assert param.grad is not None, f"{name} got no gradient"
            assert torch.isfinite(param.grad).all(), name


def test_save_and_load_round_trip_keeps_the_layer_map(family, tmp_path):
    student = make_student(FAMILIES[family](), LAYERS)
    student.save_pretrained(tmp_path)
    assert (tmp_path / "model.safetensors").is_file()
    assert not list(tmp_path.glob("*.bin"))
    loaded = AutoModelForSequenceClassification.from_pretrained(tmp_path, use_safetensors=True)
    assert type(loaded) is type(student)
    assert layer_map(loaded) == LAYERS and num_layers(loaded) == len(LAYERS)
    assert loaded.config.distill_lib["teacher_num_layers"] == N_TEACHER
    s_state, l_state = student.state_dict(), loaded.state_dict()
    assert s_state.keys() == l_state.keys()
    for key, tensor in s_state.items():
        assert torch.equal(l_state[key], tensor), key


def _mpnet_tokenizer() -> MPNetTokenizer:
    words = ["<s>", "<pad>", "</s>", "<unk>", "[UNK]", "<mask>", "a", "film", "dull", "good"]
    return MPNetTokenizer(vocab={w: i for i, w in enumerate(words)})


def test_mpnet_gets_no_token_type_ids():
    """MPNet has no segment embeddings: its tokenizer gives none and its forward has none.

    (Its forward would swallow an unknown ``token_type_ids`` in ``**kwargs`` silently, so the
    guarantee comes from the tokenizer and from distill_lib keeping only the tokenizer's
    outputs.)
    """
    import datasets

    from distill_lib import make_dataloader, tokenize

    tokenizer = _mpnet_tokenizer()
    assert tokenizer.model_input_names == ["input_ids", "attention_mask"]
    data = datasets.Dataset.from_dict(
        {"text": ["a good film", "dull", "a dull film"], "label": [1, 0, 0]}
    )
    tokens = tokenize(data, tokenizer)
    assert "token_type_ids" not in tokens.column_names
    batch = next(iter(make_dataloader(tokens, tokenizer, batch_size=3)))
    assert "token_type_ids" not in batch
    student = make_student(tiny_mpnet(), LAYERS)
    named = {
        name
        for name, p in inspect.signature(student.forward).parameters.items()
        if p.kind is not p.VAR_KEYWORD
    }
    assert "token_type_ids" not in named
    inputs = {k: v for k, v in batch.items() if k in ("input_ids", "attention_mask")}
    assert set(inputs) <= named
    assert student(**inputs).logits.shape == (3, 3)


def test_gpt2_is_refused_with_the_layers_it_has():
    torch.manual_seed(0)
    config = GPT2Config(
        vocab_size=VOCAB, n_embd=32, n_layer=2, n_head=2, pad_token_id=0, bos_token_id=0,
        eos_token_id=0,
    )  # fmt: skip
    model = GPT2ForSequenceClassification(config)
    with pytest.raises(TypeError) as info:
        make_student(model, [0])
    message = str(info.value)
    assert "GPT2ForSequenceClassification" in message
    assert "`transformer.encoder.layer`" in message and "`transformer.h (2)`" in message
    assert "not supported" in message


def test_t5_is_refused_with_the_layers_it_has():
    torch.manual_seed(0)
    config = T5Config(vocab_size=VOCAB, d_model=32, d_kv=16, d_ff=64, num_layers=2, num_heads=2)
    model = T5ForSequenceClassification(config)
    with pytest.raises(TypeError) as info:
        num_layers(model)
    message = str(info.value)
    assert "T5ForSequenceClassification" in message
    assert "`transformer.encoder.block (2)`" in message
    assert "`transformer.encoder.block.0.layer" not in message  # only the outermost lists


def _random_tokens(n: int, seed: int, num_labels: int) -> Dataset:
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(4, 12, (n,), generator=g).tolist()
    ids = [[2, *torch.randint(5, VOCAB, (k - 2,), generator=g).tolist(), 3] for k in lengths]
    return Dataset.from_dict(
        {
            "input_ids": ids,
            "attention_mask": [[1] * len(x) for x in ids],
            "label": torch.randint(0, num_labels, (n,), generator=g).tolist(),
        }
    )


def test_every_family_distils_with_intermediate_losses_and_measures_latency(
    family, bert_tokenizer
):
    """The whole loop (logits, hidden-state and attention terms) and the latency probe.

    The data carry no ``token_type_ids`` (as MPNet's and DistilBERT's tokenizers give).
    """
    teacher = FAMILIES[family]()
    k = teacher.config.num_labels
    tokens = DatasetDict(
        {"train": _random_tokens(32, 0, k), "validation": _random_tokens(8, 1, k),
         "test": _random_tokens(8, 2, k)}
    )
    config = TrainConfig(epochs=1, batch_size=8, lr=1e-3, progress=False, cos_weight=1.0,
                         hidden_weight=1.0, attention_weight=1.0)
    result = distill(make_student(teacher, [0, 5]), teacher, tokens, config,
                     tokenizer=bert_tokenizer)
    terms = result.history[0]
    for name in ("train_soft", "train_hard", "train_cos", "train_hidden", "train_attention"):
        assert math.isfinite(terms[name]) and terms[name] >= 0, (name, terms[name])
    assert measure_latency(result.model, tokens, bert_tokenizer, batch_size=8, repeats=1) > 0
