"""Tests of distill_lib.data: loading, validation, splitting, tokenising and batching.

`check_task`, the up-front check of a task name, is tested in `test_check_task.py`.

Everything here runs offline on small files, except `test_real_vader_snippets` (marked
`network`: it downloads the vaderSentiment sdist from PyPI once, and is skipped with a reason
when PyPI is unreachable).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import random
import sys
import tarfile
import time
from collections import Counter
from pathlib import Path

import datasets
import numpy as np
import pandas as pd
import pytest
from datasets import ClassLabel, Dataset, DatasetDict, Features, Value

from distill_lib import data
from distill_lib.data import hub, vader

# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------

POSITIVE_WORDS = ["good", "great", "lovely", "superb", "fine", "fun", "warm", "bright"]
NEGATIVE_WORDS = ["bad", "awful", "dull", "poor", "weak", "grim", "flat", "stale"]


def make_rows(n: int = 60, seed: int = 0) -> list[dict]:
    """`n` sentences of 1..40 words, alternating labels."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        label = i % 2
        words = POSITIVE_WORDS if label else NEGATIVE_WORDS
        text = " ".join(rng.choice(words) for _ in range(rng.randint(1, 40)))
        rows.append({"review": f"{i}: {text}", "sentiment": label})
    return rows


def write(path: Path, rows: list[dict], fmt: str) -> Path:
    df = pd.DataFrame(rows)
    if fmt == "csv":
        df.to_csv(path, index=False)
    elif fmt == "tsv":
        df.to_csv(path, index=False, sep="\t")
    elif fmt == "jsonl":
        df.to_json(path, orient="records", lines=True)
    elif fmt == "json":
        df.to_json(path, orient="records")
    elif fmt == "parquet":
        df.to_parquet(path, index=False)
    else:  # pragma: no cover
        raise AssertionError(fmt)
    return path


def label_counts(ds: Dataset) -> dict[int, int]:
    return dict(sorted(Counter(ds["label"]).items()))


# ---------------------------------------------------------------------------------------------
# the registry
# ---------------------------------------------------------------------------------------------


def test_list_tasks_names_the_builtin_sets():
    tasks = data.list_tasks()
    assert list(tasks) == ["movie-snippets", "amazon-snippets", "nyt-snippets", "tweet-snippets"]
    assert all(isinstance(d, str) and d and "\n" not in d for d in tasks.values())
    assert set(data.TASKS) == set(tasks)
    assert not data.TASKS["movie-snippets"].test_only
    assert all(data.TASKS[n].test_only for n in list(tasks)[1:])


# ---------------------------------------------------------------------------------------------
# local files
# ---------------------------------------------------------------------------------------------


def test_committed_csv_fixture_is_split_80_10_10_stratified(fixtures_dir, tmp_cache):
    path = fixtures_dir / "tiny_reviews.csv"
    dd = data.load_task(str(path), text_column="review", label_column="sentiment")
    assert isinstance(dd, DatasetDict)
    assert list(dd) == ["train", "validation", "test"]
    assert {s: len(ds) for s, ds in dd.items()} == {"train": 32, "validation": 4, "test": 4}
    for ds in dd.values():
        assert ds.column_names == ["text", "label"]
        assert ds.features["label"] == ClassLabel(names=["negative", "positive"])
        assert ds.features["text"] == Value("string")
        assert label_counts(ds) == {0: len(ds) // 2, 1: len(ds) // 2}  # stratified
    # strings "positive"/"negative" were mapped by name
    source = pd.read_csv(path)
    truth = dict(zip(source["review"], source["sentiment"], strict=True))
    names = dd["train"].features["label"].names
    for ds in dd.values():
        for row in ds:
            assert names[row["label"]] == truth[row["text"]]
    # every row once, nothing shared between splits
    texts = [t for ds in dd.values() for t in ds["text"]]
    assert sorted(texts) == sorted(source["review"])
    # deterministic, and a Path works as well as a str
    again = data.load_task(path, text_column="review", label_column="sentiment")
    for split in dd:
        assert again[split]["text"] == dd[split]["text"]
    other_seed = data.load_task(path, text_column="review", label_column="sentiment", seed=1)
    assert other_seed["test"]["text"] != dd["test"]["text"]


@pytest.mark.parametrize("fmt", ["csv", "tsv", "jsonl", "json", "parquet"])
def test_every_local_format_gives_the_same_splits(fmt, tmp_path, tmp_cache):
    rows = make_rows(60)
    reference = write(tmp_path / "ref.csv", rows, "csv")
    path = write(tmp_path / f"reviews.{fmt}", rows, fmt)
    kwargs = {"text_column": "review", "label_column": "sentiment"}
    dd = data.load_task(str(path), **kwargs)
    ref = data.load_task(str(reference), **kwargs)
    assert {s: len(ds) for s, ds in dd.items()} == {"train": 48, "validation": 6, "test": 6}
    for split in ref:
        assert dd[split]["text"] == ref[split]["text"]
        assert dd[split]["label"] == ref[split]["label"]


def test_dict_of_splits(tmp_path, tmp_cache):
    rows = make_rows(80)
    kwargs = {"text_column": "review", "label_column": "sentiment"}
    train = write(tmp_path / "train.csv", rows[:60], "csv")
    val = write(tmp_path / "val.jsonl", rows[60:70], "jsonl")
    test = write(tmp_path / "test.parquet", rows[70:], "parquet")

    full = data.load_task({"train": train, "validation": val, "test": test}, **kwargs)
    assert {s: len(ds) for s, ds in full.items()} == {"train": 60, "validation": 10, "test": 10}

    # no validation: carved from train, min(len(test), 10% of train) rows, stratified
    no_val = data.load_task({"train": train, "test": test}, **kwargs)
    assert {s: len(ds) for s, ds in no_val.items()} == {"train": 54, "validation": 6, "test": 10}
    assert label_counts(no_val["validation"]) == {0: 3, 1: 3}
    assert not set(no_val["validation"]["text"]) & set(no_val["train"]["text"])

    # train + validation, no test: validation becomes the test set (the GLUE convention)
    no_test = data.load_task({"train": train, "validation": val}, **kwargs)
    assert no_test["test"]["text"] == full["validation"]["text"]
    assert len(no_test["validation"]) == 6

    # train only: 80/10/10
    only_train = data.load_task({"train": train}, **kwargs)
    assert [len(ds) for ds in only_train.values()] == [48, 6, 6]

    # test only (cross-domain evaluation): used as given
    test_only = data.load_task({"test": test}, **kwargs)
    assert list(test_only) == ["test"]
    assert len(test_only["test"]) == 10


@pytest.mark.parametrize(
    ("labels", "label_names", "expected"),
    [
        (["pos", "NEG", " Positive ", "negative"], None, [1, 0, 1, 0]),
        (["1", "0", "true", "FALSE"], None, [1, 0, 1, 0]),
        ([1.0, 0.0, 1.0, 0.0], None, [1, 0, 1, 0]),
        ([True, False, True, False], None, [1, 0, 1, 0]),
        (["good", "bad", "Good", "bad"], ["bad", "good"], [1, 0, 1, 0]),
        (["a", "b", "c", 2], ["a", "b", "c"], [0, 1, 2, 2]),
    ],
)
def test_label_mapping(labels, label_names, expected, tmp_path, tmp_cache):
    rows = [{"text": f"t{i}", "label": lab} for i, lab in enumerate(labels)]
    path = tmp_path / "t.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    dd = data.load_task({"test": path}, label_names=label_names)
    assert dd["test"]["label"] == expected
    names = list(label_names) if label_names else ["negative", "positive"]
    assert dd["test"].features["label"].names == names


# ---------------------------------------------------------------------------------------------
# bad input: clear errors, raised before any splitting, caching or tokenising
# ---------------------------------------------------------------------------------------------


def test_missing_file(tmp_path, tmp_cache):
    missing = tmp_path / "nope.csv"
    with pytest.raises(FileNotFoundError, match=r"nope\.csv"):
        data.load_task(str(missing))
    with pytest.raises(FileNotFoundError, match=r"nope\.csv"):
        data.load_task({"train": make_csv(tmp_path), "test": missing})


def make_csv(tmp_path: Path, text: str = "text,label\na,1\nb,0\n", name: str = "x.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ("text,label\na,1\nb,\nc,0\n", r"1 rows have no label in column 'label'.*rows \[1\]"),
        ("text,label\na,1\nb,meh\nc,0\n", r"'meh'.*label_names"),
        ("text,label\na,1\nb,2\nc,0\n", r"values \[0, 1, 2\].*\[2\] do not fit.*label_names"),
        ("text,label\na,1\nb,1\nc,1\n", r"only one class \('positive'"),
        ("text,label\n", r"empty"),
        ("", r"empty \(0 bytes\)"),
        ("review,label\na,1\nb,0\n", r"no text column 'text'.*Available columns: \['review'"),
        ("text,stars\na,1\nb,0\n", r"no label column 'label'.*Available columns: \['text', 'st"),
        ("text,label\na,1\n,0\n", r"1 rows have no text in column 'text'"),
    ],
)
def test_bad_csv(content, match, tmp_path, tmp_cache):
    path = make_csv(tmp_path, content)
    with pytest.raises(ValueError, match=match):
        data.load_task({"test": path})


def test_nan_labels_in_parquet(tmp_path, tmp_cache):
    path = tmp_path / "x.parquet"
    pd.DataFrame({"text": ["a", "b", "c"], "label": [1.0, float("nan"), 0.0]}).to_parquet(path)
    with pytest.raises(ValueError, match="no label"):
        data.load_task({"test": path})


def test_null_labels_in_jsonl(tmp_path, tmp_cache):
    path = tmp_path / "x.jsonl"
    path.write_text('{"text": "a", "label": "pos"}\n{"text": "b", "label": null}\n')
    with pytest.raises(ValueError, match="no label"):
        data.load_task({"test": path})


def test_list_labels_in_jsonl(tmp_path, tmp_cache):
    path = tmp_path / "x.jsonl"
    path.write_text('{"text": "a", "label": [1]}\n{"text": "b", "label": [0]}\n')
    with pytest.raises(ValueError, match="non-scalar values"):
        data.load_task({"test": path})


@pytest.mark.parametrize(
    ("name", "content", "match"),
    [
        (
            "broken.jsonl",
            '{"text": "a", "label": 1}\n{"text": "b", "label": 0\n{"text": "c", "label": 0}\n',
            r"broken\.jsonl is not valid JSON Lines: line 2 is not valid JSON",
        ),
        (
            "broken.jsonl",
            '{"text": "a", "label": 1}\n[1, 2]\n',
            r"broken\.jsonl is not valid JSON Lines: line 2 holds a JSON list, not an object",
        ),
        (
            "broken.json",
            '[{"text": "a", "label": 1},\n {"text": "b" "label": 0}]\n',
            r"broken\.json is not valid JSON: Expecting ',' delimiter at line 2, column 15",
        ),
        ("broken.csv", 'text,label\n"a,1\nb,0\n', r"Could not read .*broken\.csv as csv: \w+"),
        ("broken.parquet", "not parquet", r"Could not read .*broken\.parquet as parquet: \w+"),
    ],
)
def test_malformed_file_prints_only_the_clear_error(
    name, content, match, tmp_path, tmp_cache, capfd
):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    capfd.readouterr()
    with pytest.raises(ValueError, match=match) as err:
        data.load_task(str(path))
    assert "\n" not in str(err.value)  # one line
    assert "DatasetGenerationError" not in str(err.value)
    out, printed = capfd.readouterr()  # file descriptors: also what C code or tqdm writes
    assert (out, printed) == ("", "")  # no library log line, no progress bar


def test_local_read_restores_the_datasets_settings(tmp_path, tmp_cache):
    path = tmp_path / "broken.jsonl"
    path.write_text('{"text": "a", "label": 1}\nnot json\n', encoding="utf-8")
    bars, verbosity = datasets.are_progress_bars_disabled(), datasets.logging.get_verbosity()
    with pytest.raises(ValueError, match="line 2"):
        data.load_task(str(path))
    assert datasets.are_progress_bars_disabled() == bars
    assert datasets.logging.get_verbosity() == verbosity


def test_empty_split_in_a_dict(tmp_path, tmp_cache):
    train = write(tmp_path / "train.csv", make_rows(40), "csv")
    empty = make_csv(tmp_path, "review,sentiment\n", "empty.csv")
    with pytest.raises(ValueError, match=r"test split .*empty.csv.* is empty"):
        data.load_task(
            {"train": train, "test": empty}, text_column="review", label_column="sentiment"
        )


def test_non_utf8_file(tmp_path, tmp_cache):
    path = tmp_path / "latin1.csv"
    path.write_bytes("text,label\ncaf\u00e9 cr\u00e8me,1\nnul,0\n".encode("latin-1"))
    with pytest.raises(ValueError, match=r"latin1.csv is not valid UTF-8.*Re-encode it to UTF-8"):
        data.load_task(str(path))


def test_labels_unknown_to_custom_label_names(tmp_path, tmp_cache):
    path = make_csv(tmp_path, "text,label\na,good\nb,bad\nc,okay\n")
    with pytest.raises(ValueError, match=r"\['okay'\] do not fit.*'bad', 'good'"):
        data.load_task({"test": path}, label_names=["bad", "good"])


def test_too_few_rows_to_split(tmp_path, tmp_cache):
    path = make_csv(tmp_path, "text,label\na,1\nb,0\nc,1\nd,0\n")
    with pytest.raises(ValueError, match="too few for a stratified"):
        data.load_task(str(path))


def test_other_bad_arguments(tmp_path, tmp_cache):
    with pytest.raises(ValueError, match="Unknown split names"):
        data.load_task({"dev": make_csv(tmp_path)})
    odd = tmp_path / "data.xlsx"
    odd.write_bytes(b"x")
    with pytest.raises(ValueError, match="not one of the supported formats"):
        data.load_task(str(odd))
    with pytest.raises(ValueError, match="built-in task"):
        data.load_task("movie-snippets", text_column="sentence")
    with pytest.raises(ValueError, match="at least two distinct names"):
        data.load_task({"test": make_csv(tmp_path)}, label_names=["only"])


# ---------------------------------------------------------------------------------------------
# Hub sets (no network: a fake Hub, and failing fast when offline)
# ---------------------------------------------------------------------------------------------


def test_hub_name_fails_fast_in_offline_mode(monkeypatch, tmp_cache):
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    start = time.perf_counter()
    with pytest.raises(
        ConnectionError, match=r"needs the Hugging Face Hub.*load_task\(\"movie-snippets\"\)"
    ):
        data.load_task("glue/sst2")
    assert time.perf_counter() - start < 5


def test_hub_name_fails_fast_when_unreachable(monkeypatch, tmp_cache):
    monkeypatch.delenv("HF_DATASETS_OFFLINE", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    # Nothing listens on the discard port of the loopback address: the probe is refused at once.
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", False)
    called = []
    monkeypatch.setattr(datasets, "load_dataset", lambda *a, **k: called.append(a))
    start = time.perf_counter()
    with pytest.raises(ConnectionError, match=r"unreachable.*movie-snippets.*local file"):
        data.load_task("rotten_tomatoes")
    assert time.perf_counter() - start < 10
    assert not called  # never reached the slow, retrying download


def fake_sst2(n_train: int = 400, n_val: int = 40, reversed_names: bool = False) -> DatasetDict:
    names = ["positive", "negative"] if reversed_names else ["negative", "positive"]
    features = Features(
        {"sentence": Value("string"), "label": ClassLabel(names=names), "idx": Value("int32")}
    )

    def split(n: int, offset: int, hidden: bool = False) -> Dataset:
        ids = range(offset, offset + n)
        return Dataset.from_dict(
            {
                "sentence": [f"s{i} {'good' if i % 2 else 'bad'}" for i in ids],
                # the name of row i is "positive" for odd i, whatever the id order on the Hub
                "label": [
                    -1 if hidden else names.index(["negative", "positive"][i % 2]) for i in ids
                ],
                "idx": list(ids),
            },
            features=features,
        )

    return DatasetDict(
        {
            "train": split(n_train, 0),
            "validation": split(n_val, 10_000),
            "test": split(30, 20_000, True),
        }
    )


@pytest.mark.parametrize("reversed_names", [False, True])
def test_hub_glue_layout_without_network(reversed_names, monkeypatch, tmp_cache):
    calls = []

    def fake_load_dataset(path, name=None, **kwargs):
        calls.append((path, name))
        return fake_sst2(reversed_names=reversed_names)

    monkeypatch.setattr(hub, "_hub_reachable", lambda repo, timeout=5.0: None)
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", False)
    monkeypatch.delenv("HF_DATASETS_OFFLINE", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)

    dd = data.load_task("glue/sst2")
    assert calls == [("nyu-mll/glue", "sst2")]
    # GLUE's hidden test labels (-1) are dropped; its validation set is the test set and a
    # validation split of min(len(test), 10% of train) = 40 rows is carved from train.
    assert {s: len(ds) for s, ds in dd.items()} == {"train": 360, "validation": 40, "test": 40}
    assert all(t.startswith("s1") and int(t[1:].split()[0]) >= 10_000 for t in dd["test"]["text"])
    assert dd["train"].column_names == ["text", "label"]
    assert dd["train"].features["label"].names == ["negative", "positive"]
    for ds in dd.values():  # odd rows are "good" / positive, by name, in either Hub order
        assert all(
            lab == int(t.split()[0][1:]) % 2 for t, lab in zip(ds["text"], ds["label"], strict=True)
        )
    assert label_counts(dd["validation"]) == {0: 20, 1: 20}

    # prepared once, then loaded from the cache without touching the Hub
    again = data.load_task("glue/sst2")
    assert len(calls) == 1
    assert again["validation"]["text"] == dd["validation"]["text"]


# ---------------------------------------------------------------------------------------------
# the VADER source, with a fake sdist (the real one is tested below, over the network)
# ---------------------------------------------------------------------------------------------


def test_parse_ground_truth_crlf_and_tabs():
    raw = b'1\t2.5\tGood, "fine".\r\n2\t-0.5\tMeh\tstill text\r\n3\t0\tNeutral\r\n'
    rows = vader._parse_ground_truth(raw, "x")
    assert rows == [
        ("1", 2.5, 'Good, "fine".'),
        ("2", -0.5, "Meh\tstill text"),
        ("3", 0.0, "Neutral"),
    ]
    with pytest.raises(ValueError, match="not valid UTF-8"):
        vader._parse_ground_truth(b"1\t1\tcaf\xe9\r\n", "x")
    with pytest.raises(ValueError, match="line 1"):
        vader._parse_ground_truth(b"just text\r\n", "x")


def fake_sdist(path: Path, member: str, payload: bytes) -> Path:
    def tar_bytes(files: dict[str, bytes]) -> bytes:
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            for name, blob in files.items():
                info = tarfile.TarInfo(name)
                info.size = len(blob)
                tar.addfile(info, io.BytesIO(blob))
        return gzip.compress(buf.getvalue())

    inner = tar_bytes({member: payload})
    path.write_bytes(tar_bytes({vader._VADER_INNER_TAR: inner}))
    return path


def test_read_nested_tar_in_memory(tmp_path):
    member = data.TASKS["tweet-snippets"].member
    sdist = fake_sdist(tmp_path / "v.tar.gz", member, b"1\t1\thi\r\n")
    assert vader._read_vader_member(sdist, member) == b"1\t1\thi\r\n"
    with pytest.raises(ValueError, match="no member"):
        vader._read_vader_member(sdist, "hutto_ICWSM_2014/other.txt")
    assert not (tmp_path / "hutto_ICWSM_2014").exists()  # nothing was extracted


def test_sdist_sha_mismatch_is_an_error(tmp_path, monkeypatch, tmp_cache):
    member = data.TASKS["movie-snippets"].member
    sdist = fake_sdist(tmp_path / "vaderSentiment-3.3.2.tar.gz", member, b"1\t1\thi\r\n")
    monkeypatch.setenv(data.VADER_SDIST_ENV, str(sdist))
    with pytest.raises(ValueError, match=r"sha256 [0-9a-f]{64}, expected 5d7c06e0"):
        data.load_task("movie-snippets")
    monkeypatch.setenv(data.VADER_SDIST_ENV, str(tmp_path / "missing.tar.gz"))
    with pytest.raises(FileNotFoundError, match=r"missing\.tar\.gz"):
        data.load_task("movie-snippets")
    # the cached copy is checked too
    monkeypatch.delenv(data.VADER_SDIST_ENV)
    (tmp_cache / "downloads").mkdir(parents=True)
    (tmp_cache / "downloads" / "vaderSentiment-3.3.2.tar.gz").write_bytes(sdist.read_bytes())
    with pytest.raises(ValueError, match=r"cached sdist .* has sha256"):
        data.load_task("tweet-snippets")


def test_failed_sdist_download_says_what_pip_said(tmp_cache, monkeypatch):
    fail = "import sys; sys.stderr.write('ERROR: No matching distribution found\\n'); sys.exit(1)"
    monkeypatch.delenv(data.VADER_SDIST_ENV, raising=False)
    monkeypatch.setattr(vader, "pip_download_command", lambda *a, **k: [sys.executable, "-c", fail])
    with pytest.raises(ConnectionError, match=r"(?s)exit code 1\).*VADER_SDIST.*No matching distr"):
        vader._vader_sdist()
    assert not any((tmp_cache / "downloads").iterdir())  # nothing half-written is left


# ---------------------------------------------------------------------------------------------
# tokenising and batching
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def varied_lengths(tmp_path, tmp_cache) -> DatasetDict:
    return data.load_task(
        {"train": write(tmp_path / "t.csv", make_rows(400), "csv")},
        text_column="review",
        label_column="sentiment",
    )


def test_tokenize_truncates_but_does_not_pad(varied_lengths, bert_tokenizer):
    tok = data.tokenize(varied_lengths, bert_tokenizer, max_length=32)
    assert list(tok) == ["train", "validation", "test"]
    for split, ds in tok.items():
        assert len(ds) == len(varied_lengths[split])
        assert set(ds.column_names) == {"input_ids", "attention_mask", "token_type_ids", "label"}
        assert ds["label"] == varied_lengths[split]["label"]
        lengths = [len(x) for x in ds["input_ids"]]
        assert max(lengths) == 32  # truncated
        assert min(lengths) < 10  # not padded
        assert all(bert_tokenizer.pad_token_id not in ids for ids in ds["input_ids"])
        assert all(sum(m) == len(m) for m in ds["attention_mask"])
    single = data.tokenize(varied_lengths["test"], bert_tokenizer, keep_columns=())
    assert isinstance(single, Dataset)
    assert "label" not in single.column_names
    with pytest.raises(ValueError, match="No text column 'sentence'"):
        data.tokenize(varied_lengths, bert_tokenizer, text_column="sentence")


def test_tokenize_can_keep_the_rating(bert_tokenizer, tmp_cache):
    ds = Dataset.from_dict({"text": ["a b", "c"], "label": [1, 0], "rating": [1.5, -2.0]})
    out = data.tokenize(DatasetDict({"test": ds}), bert_tokenizer, keep_columns=("label", "rating"))
    assert set(out["test"].column_names) == {
        "input_ids",
        "attention_mask",
        "token_type_ids",
        "label",
        "rating",
    }


def test_eval_loader_pads_per_batch_and_keeps_order(varied_lengths, bert_tokenizer):
    ds = data.tokenize(varied_lengths, bert_tokenizer, max_length=128)["train"]
    lengths = [len(x) for x in ds["input_ids"]]
    loader = data.make_dataloader(ds, bert_tokenizer, batch_size=16)
    seen_labels = []
    for i, batch in enumerate(loader):
        assert set(batch) == {"input_ids", "attention_mask", "token_type_ids", "labels"}
        rows = lengths[i * 16 : (i + 1) * 16]
        assert batch["input_ids"].shape == (len(rows), max(rows))  # dynamic, not max_length
        assert batch["attention_mask"].sum(dim=1).tolist() == rows
        assert batch["labels"].shape == (len(rows),)
        seen_labels += batch["labels"].tolist()
    assert seen_labels == ds["label"]  # evaluation order = dataset order
    assert max(lengths) < 128


def mean_padding(loader) -> float:
    fractions = [1 - b["attention_mask"].float().mean().item() for b in loader]
    return float(np.mean(fractions))


def test_length_grouped_training_loader(varied_lengths, bert_tokenizer):
    ds = data.tokenize(varied_lengths, bert_tokenizer)["train"]

    def loader(seed: int, group: bool = True):
        return data.make_dataloader(
            ds, bert_tokenizer, 8, shuffle=True, group_by_length=group, seed=seed
        )

    grouped, shuffled = mean_padding(loader(0)), mean_padding(loader(0, group=False))
    assert grouped < 0.1 < 0.3 < shuffled  # about 2% vs 45% of the batch is padding here

    def order(dl) -> list[str]:
        return [" ".join(map(str, b["input_ids"][:, 1].tolist())) for b in dl]

    def epochs(seed: int) -> list[list[str]]:
        dl = loader(seed)
        return [order(dl), order(dl)]

    first = epochs(0)
    assert epochs(0) == first  # deterministic per seed, epoch by epoch
    assert first[0] != first[1]  # each epoch draws a new order
    assert epochs(1)[0] != first[0]
    n = sum(len(b["labels"]) for b in loader(0))
    assert n == len(ds)  # every row once per epoch


def test_dataloader_rejects_bad_use(varied_lengths, bert_tokenizer):
    with pytest.raises(ValueError, match="run tokenize"):
        data.make_dataloader(varied_lengths["train"], bert_tokenizer, 8)
    tok = data.tokenize(varied_lengths, bert_tokenizer)["test"]
    with pytest.raises(ValueError, match="group_by_length=True is for training"):
        data.make_dataloader(tok, bert_tokenizer, 8, shuffle=False, group_by_length=True)


# ---------------------------------------------------------------------------------------------
# the real data (downloads the 2.5 MB vaderSentiment sdist from PyPI once)
# ---------------------------------------------------------------------------------------------

EXPECTED = {
    "movie-snippets": {
        "train": (8454, {0: 4260, 1: 4194}),
        "validation": (1057, {0: 533, 1: 524}),
        "test": (1057, {0: 533, 1: 524}),
    },
    "amazon-snippets": {"test": (3610, {0: 1482, 1: 2128})},
    "nyt-snippets": {"test": (4946, {0: 2742, 1: 2204})},
    "tweet-snippets": {"test": (4196, {0: 1299, 1: 2897})},
}
# sha256 of "\n".join(texts) of each movie split: pins the splits on every machine.
MOVIE_SPLIT_SHA256 = {
    "train": "35a1801c08bec7135ce4f562831c24ea1fc53b132b609683f81ec1eca614028a",
    "validation": "381c73a8f6352a0cd7472c652ee33f5148c3ff4ae83d6ab17d0467d3ed0127cf",
    "test": "3fdc39580e5f8253e860f2c68eb79d6cd7ed2ae556a3ed742e8b4f28fab29867",
}


def load_or_skip(name: str) -> DatasetDict:
    try:
        return data.load_task(name)
    except ConnectionError as err:
        pytest.skip(f"PyPI unreachable: {err}")


@pytest.mark.network
def test_real_vader_snippets(tmp_path, monkeypatch):
    # Uses the real cache (DISTILL_LIB_CACHE or ~/.cache/distill_lib): downloads once per machine.
    movie = load_or_skip("movie-snippets")
    assert sum(len(ds) for ds in movie.values()) == 10_568
    for name, splits in EXPECTED.items():
        dd = movie if name == "movie-snippets" else load_or_skip(name)
        assert list(dd) == list(splits)
        for split, (size, counts) in splits.items():
            ds = dd[split]
            assert (len(ds), label_counts(ds)) == (size, counts), (name, split)
            assert ds.column_names == ["text", "label", "rating"]
            assert ds.features["label"].names == ["negative", "positive"]
            ratings = np.array(ds["rating"])
            assert (ratings != 0).all() and (np.abs(ratings) <= 4).all()
            assert ((ratings > 0).astype(int) == np.array(ds["label"])).all()
    # stratified: every split has the overall share of positives to within one row
    share = 5242 / 10_568
    for ds in movie.values():
        assert abs(sum(ds["label"]) - share * len(ds)) <= 1
    # The source has two sentences twice (same label, different ids); the split is by row, so
    # one of them lands in both train and test. Everything else is disjoint.
    assert set(movie["test"]["text"]) & set(movie["train"]["text"]) == {"...a pretentious mess..."}
    assert not set(movie["validation"]["text"]) & set(movie["train"]["text"])
    # deterministic: pinned split contents, and a fresh preparation gives the same splits
    for split, digest in MOVIE_SPLIT_SHA256.items():
        assert hashlib.sha256("\n".join(movie[split]["text"]).encode()).hexdigest() == digest
    monkeypatch.setenv(data.VADER_SDIST_ENV, str(vader._vader_sdist()))
    monkeypatch.setenv("DISTILL_LIB_CACHE", str(tmp_path / "fresh"))
    fresh = data.load_task("movie-snippets")
    for split in movie:
        assert fresh[split]["text"] == movie[split]["text"]
        assert fresh[split]["rating"] == movie[split]["rating"]
