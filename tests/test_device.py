"""The one device rule (distill_lib.device): device, autocast dtype and worker count."""

from __future__ import annotations

import pytest
import torch

from distill_lib import device as device_mod
from distill_lib.device import Placement, check_device, placement, resolve_workers
from distill_lib.inference import predict_logits


@pytest.fixture
def gpu(monkeypatch):
    """A (mocked) CUDA GPU with bf16; no MPS."""
    monkeypatch.setattr(device_mod, "cuda_available", lambda: True)
    monkeypatch.setattr(device_mod, "mps_available", lambda: False)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)


@pytest.fixture
def cpu_only(monkeypatch):
    monkeypatch.setattr(device_mod, "cuda_available", lambda: False)
    monkeypatch.setattr(device_mod, "mps_available", lambda: False)


@pytest.mark.parametrize(
    ("device", "precision", "expected"),
    [
        ("auto", "auto", Placement("cpu", "no")),
        ("cpu", "no", Placement("cpu", "no")),
        ("auto", "bf16", Placement("cpu", "bf16")),  # bf16 autocast exists on CPUs too
    ],
)
def test_cpu_machine(cpu_only, device, precision, expected):
    assert placement(device, precision) == expected


@pytest.mark.parametrize(
    ("device", "precision", "match"),
    [("cuda", "auto", "no CUDA GPU"), ("mps", "no", "MPS"), ("auto", "fp16", "needs a CUDA GPU"),
     ("tpu", "no", "device must be one of"), ("cpu", "fp8", "mixed_precision must be one of")],
)
def test_what_this_machine_lacks_is_one_clear_error(cpu_only, device, precision, match):
    with pytest.raises(ValueError, match=match):
        check_device(device, precision)
    with pytest.raises(ValueError, match=match):
        placement(device, precision)


@pytest.mark.parametrize(
    ("device", "precision", "expected"),
    [
        ("auto", "auto", Placement("cuda", "bf16")),
        ("cuda", "no", Placement("cuda", "no")),  # "no" means fp32, evaluation included
        ("cuda", "fp16", Placement("cuda", "fp16")),
        ("cpu", "auto", Placement("cpu", "no")),  # a GPU machine told to use its CPU
    ],
)
def test_gpu_machine(gpu, device, precision, expected):
    assert placement(device, precision) == expected


def test_older_gpu_gets_fp16(gpu, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    assert placement("auto", "auto") == Placement("cuda", "fp16")


def test_autocast_dtype_follows_precision():
    assert Placement("cpu", "no").autocast_dtype is None
    assert Placement("cpu", "bf16").autocast_dtype is torch.bfloat16
    assert Placement("cuda", "fp16").autocast_dtype is torch.float16


def test_evaluation_in_fp32_when_precision_is_no(bert_tokenizer):
    """``precision="no"`` evaluates in fp32 (before, CUDA evaluated in bf16 regardless)."""
    from datasets import Dataset
    from tiny_models import tiny_bert

    model = tiny_bert(num_layers=2)
    data = Dataset.from_dict({"input_ids": [[2, 7, 9, 3], [2, 8, 3]], "label": [0, 1]})
    fp32 = predict_logits(model, data, tokenizer=bert_tokenizer, precision="no")
    bf16 = predict_logits(model, data, tokenizer=bert_tokenizer, precision="bf16")
    with torch.no_grad():
        model.eval()
        direct = model(input_ids=torch.tensor([[2, 7, 9, 3]])).logits
    assert torch.allclose(fp32[0], direct[0], atol=1e-6)
    assert not torch.equal(fp32, bf16)  # bf16 autocast really changes the numbers


@pytest.mark.parametrize(
    ("requested", "env", "expected"),
    [(None, None, 2), (3, None, 3), (None, "1", 1), (None, "4", 4), (7, "1", 7)],
)
def test_workers_on_a_cpu(cpu_only, monkeypatch, requested, env, expected):
    monkeypatch.setattr(device_mod.os, "cpu_count", lambda: 2)
    if env is None:
        monkeypatch.delenv(device_mod.WORKERS_ENV, raising=False)
    else:
        monkeypatch.setenv(device_mod.WORKERS_ENV, env)
    assert resolve_workers(requested, "auto", pending=10) == expected
    assert resolve_workers(requested, "auto", pending=1) == 1  # never more than the runs


def test_one_worker_with_a_gpu_or_one_core(gpu, monkeypatch):
    monkeypatch.delenv(device_mod.WORKERS_ENV, raising=False)
    assert resolve_workers(None, "auto", pending=10) == 1
    assert resolve_workers(None, "cpu", pending=10) == 2 or (device_mod.os.cpu_count() or 1) < 2


@pytest.mark.parametrize("bad", ["0", "two", "-1"])
def test_bad_workers_variable_is_named(monkeypatch, bad):
    monkeypatch.setenv(device_mod.WORKERS_ENV, bad)
    with pytest.raises(ValueError, match="DISTILL_LIB_WORKERS"):
        resolve_workers(None, "cpu", pending=3)


def test_workers_must_be_a_whole_number():
    with pytest.raises(ValueError, match="workers must be an int"):
        resolve_workers(True, "cpu", pending=3)
