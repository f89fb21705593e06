"""Tests of distill_lib.data.check_task: the up-front check of a task name (no training).

None of these touches the network: the Hub probe is replaced, offline mode is set, or the probe
goes to a closed port on the loopback address.
"""

from __future__ import annotations

import time
from pathlib import Path

import datasets
import pytest
from datasets import ClassLabel, Dataset, DatasetDict, Features, Value

from distill_lib import data
from distill_lib.data import check_task, hub


def write_csv(path: Path, text: str = "text,label\n") -> Path:
    rows = "".join(f"{'good' if i % 2 else 'bad'} {i},{i % 2}\n" for i in range(40))
    path.write_text(text + rows, encoding="utf-8")
    return path


@pytest.fixture
def no_hub(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Online mode, with a Hub probe that says "unreachable" and records what it was asked."""
    asked: list[str] = []

    def probe(repo: str, timeout: float = 5.0) -> str:
        asked.append(repo)
        return "https://huggingface.co is unreachable ([Errno -2] Name or service not known)"

    def no_download(*args, **kwargs):  # pragma: no cover - failing is the point
        raise AssertionError("check_task must not download")

    monkeypatch.delenv("HF_DATASETS_OFFLINE", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(hub, "_hub_reachable", probe)
    monkeypatch.setattr(datasets, "load_dataset", no_download)
    return asked


# ---------------------------------------------------------------------------------------------
# built-in tasks


def test_builtin_tasks_pass_without_network(tmp_cache, monkeypatch):
    monkeypatch.delenv(data.VADER_SDIST_ENV, raising=False)
    check_task("movie-snippets")
    for name in ("amazon-snippets", "nyt-snippets", "tweet-snippets"):
        check_task(name, train=False, option="--cross-domain")
    assert not (tmp_cache / "downloads").exists() or not any((tmp_cache / "downloads").iterdir())


def test_test_only_builtin_set_is_refused_for_training(tmp_cache):
    with pytest.raises(ValueError, match=r"--task 'tweet-snippets' is a test-only set.*movie-snip"):
        check_task("tweet-snippets")


def test_builtin_task_takes_no_columns(tmp_cache):
    with pytest.raises(ValueError, match="built-in task with fixed columns"):
        check_task("movie-snippets", text_column="sentence")


def test_builtin_task_with_a_missing_sdist_file(tmp_path, tmp_cache, monkeypatch):
    monkeypatch.setenv(data.VADER_SDIST_ENV, str(tmp_path / "missing.tar.gz"))
    with pytest.raises(FileNotFoundError, match=r"missing\.tar\.gz"):
        check_task("movie-snippets")


# ---------------------------------------------------------------------------------------------
# local files


def test_local_file_passes_and_columns_are_checked(tmp_path, tmp_cache):
    good = write_csv(tmp_path / "good.csv")
    check_task(str(good))
    check_task(good)  # a Path works too
    other = write_csv(tmp_path / "other.csv", "review,label\n")
    with pytest.raises(ValueError, match=r"no text column 'text'.*Available columns: \['review'"):
        check_task(str(other))
    check_task(str(other), text_column="review")
    with pytest.raises(ValueError, match="no label column 'stars'"):
        check_task(str(other), text_column="review", label_column="stars")


def test_local_file_missing(tmp_path, tmp_cache):
    missing = tmp_path / "nope.csv"
    with pytest.raises(FileNotFoundError, match=r"--task '.*nope\.csv': no such data file"):
        check_task(str(missing))
    with pytest.raises(FileNotFoundError, match=r"--cross-domain '.*nope\.csv'"):
        check_task(str(missing), train=False, option="--cross-domain")


def test_local_file_with_a_bad_suffix(tmp_path, tmp_cache):
    odd = tmp_path / "reviews.xlsx"
    odd.write_bytes(b"x")
    with pytest.raises(ValueError, match=r"not a data file ending in \.csv, \.json"):
        check_task(str(odd))
    with pytest.raises(ValueError, match="not a data file"):
        check_task(str(tmp_path))  # a folder


def test_malformed_local_file_fails_with_one_clear_line(tmp_path, tmp_cache, capfd):
    path = tmp_path / "broken.jsonl"
    path.write_text('{"text": "a", "label": 1}\n{"text": "b", "label": 0\n', encoding="utf-8")
    capfd.readouterr()
    with pytest.raises(ValueError, match=r"broken\.jsonl is not valid JSON Lines: line 2"):
        check_task(str(path))
    assert capfd.readouterr() == ("", "")


def test_unknown_name(tmp_cache):
    with pytest.raises(ValueError, match=r"unknown --task 'no-such-task'.*movie-snippets"):
        check_task("no-such-task")


# ---------------------------------------------------------------------------------------------
# Hub sets: refused at once when the Hub cannot be used


@pytest.mark.parametrize("name", ["glue/sst2", "sst2", "imdb", "rotten_tomatoes", "owner/set"])
def test_hub_name_fails_fast_when_unreachable(name, no_hub, tmp_cache):
    start = time.perf_counter()
    with pytest.raises(ConnectionError) as err:
        check_task(name)
    assert time.perf_counter() - start < 3
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith(f"--task {name!r} needs the Hugging Face Hub, but ")
    assert "unreachable" in message and "movie-snippets" in message and "local" in message
    assert len(no_hub) == 1  # one probe


def test_hub_name_fails_fast_in_offline_mode(monkeypatch, tmp_path, tmp_cache):
    probed = []
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "hf-datasets")
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(tmp_path / "hf-hub"))
    monkeypatch.setattr(hub, "_hub_reachable", lambda *a, **k: probed.append(a))
    start = time.perf_counter()
    with pytest.raises(ConnectionError, match=r"'glue/sst2' needs the Hugging Face Hub.*offline"):
        check_task("glue/sst2")
    assert time.perf_counter() - start < 3
    assert not probed  # offline mode: not even the probe

    # set after `datasets` was imported: load_task would refuse it, so check_task does too
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", False)
    with pytest.raises(ConnectionError, match="offline mode is set"):
        check_task("imdb")
    assert not probed

    # in offline mode with the set in the Hugging Face cache: load_dataset can read it
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    (tmp_path / "hf-datasets" / "nyu-mll___glue").mkdir(parents=True)
    check_task("glue/sst2")
    with pytest.raises(ConnectionError):
        check_task("imdb")


def test_real_probe_of_a_closed_port_is_fast(monkeypatch, tmp_cache):
    monkeypatch.delenv("HF_DATASETS_OFFLINE", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", False)
    # Nothing listens on the discard port of the loopback address: the probe is refused at once.
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    start = time.perf_counter()
    with pytest.raises(ConnectionError, match=r"http://127\.0\.0\.1:9 is unreachable"):
        check_task("some-owner/some-set")
    assert time.perf_counter() - start < 3


def test_hub_name_passes_when_the_hub_answers(no_hub, monkeypatch, tmp_cache):
    with pytest.raises(ConnectionError, match="unreachable"):  # no_hub's probe: no answer
        check_task("glue/sst2")
    answered: list[str] = []

    def answers(repo: str, timeout: float = 5.0) -> None:
        answered.append(repo)  # None: the Hub answered

    monkeypatch.setattr(hub, "_hub_reachable", answers)
    assert check_task("glue/sst2") is None
    assert no_hub == answered == ["nyu-mll/glue"]  # one probe each, of the alias's repository
    # nothing downloaded (no_hub makes load_dataset fail) and nothing written to the cache
    assert not [p for p in tmp_cache.rglob("*") if p.is_file()]


def test_prepared_hub_set_passes_offline(monkeypatch, tmp_cache):
    features = Features({"text": Value("string"), "label": ClassLabel(names=["neg", "pos"])})

    def fake_load_dataset(path, name=None, **kwargs):
        rows = {"text": [f"t{i}" for i in range(60)], "label": [i % 2 for i in range(60)]}
        return DatasetDict({"train": Dataset.from_dict(rows, features=features)})

    monkeypatch.delenv("HF_DATASETS_OFFLINE", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(hub, "_hub_reachable", lambda repo, timeout=5.0: None)
    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    data.load_task("owner/set")  # prepared and cached once

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(hub, "_hub_reachable", lambda *a, **k: pytest.fail("probed"))
    check_task("owner/set")  # the cached copy loads offline
    with pytest.raises(ConnectionError):  # another column: another cache entry, not there
        check_task("owner/set", text_column="sentence")
