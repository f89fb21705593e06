"""The offline default teacher and other sources, without the Hub."""

import pytest
import torch
from safetensors.torch import load_file
from tiny_models import tiny_bert

from distill_lib.student import num_layers
from distill_lib.teacher import load_teacher, minilm_folder


def test_minilm_folder_is_found_without_running_the_package():
    folder = minilm_folder()
    assert (folder / "config.json").is_file() and (folder / "model.safetensors").is_file()
    assert (folder / "tokenizer.json").is_file()


def test_default_teacher_is_minilm_l6_with_a_fresh_head():
    model, tokenizer = load_teacher()
    assert type(model).__name__ == "BertForSequenceClassification"
    assert num_layers(model) == 6 and model.config.hidden_size == 384
    assert model.config.id2label == {0: "negative", 1: "positive"}
    weights = load_file(str(minilm_folder() / "model.safetensors"))
    key = next(k for k in weights if k.endswith("encoder.layer.3.attention.self.query.weight"))
    assert torch.equal(model.bert.encoder.layer[3].attention.self.query.weight, weights[key])
    batch = tokenizer(["a gripping, funny film", "dull"], padding=True, return_tensors="pt")
    assert model(**batch).logits.shape == (2, 2)


def test_local_folder_round_trip(tmp_path, bert_tokenizer):
    tiny_bert(num_layers=4).save_pretrained(tmp_path)
    bert_tokenizer.save_pretrained(tmp_path)
    model, _ = load_teacher(tmp_path, num_labels=3)
    assert num_layers(model) == 4 and model.config.num_labels == 3


def test_folder_without_config_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a model folder"):
        load_teacher(tmp_path)


def test_label_names_must_match_num_labels():
    with pytest.raises(ValueError, match="label_names has 2 names but num_labels=3"):
        load_teacher(num_labels=3, label_names=["a", "b"])


def test_hub_name_offline_fails_with_a_hint(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(OSError, match="minilm-l6"):
        load_teacher("some-owner/not-a-cached-model")
