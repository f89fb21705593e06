"""Data for the distillation experiments: an offline default task, Hub sets, local files.

Everything returns a :class:`datasets.DatasetDict` with the same columns, so the rest of the
library never cares where the data came from:

* ``text`` (``string``): one sentence or short review;
* ``label`` (``ClassLabel(names=["negative", "positive"])`` by default): 0 negative, 1 positive;
* ``rating`` (``float64``, built-in sets only): the mean human rating on a -4 .. +4 scale.

The offline default: VADER's human-rated snippets
-------------------------------------------------
The built-in sets come from the ground-truth files that Hutto & Gilbert (ICWSM 2014, "VADER: A
Parsimonious Rule-based Model for Sentiment Analysis of Social Media Text") ship inside the
``vaderSentiment==3.3.2`` source distribution on PyPI. Each snippet was rated by about 20 people
on a -4 (very negative) .. +4 (very positive) scale; ``rating`` is their mean. PyPI is reachable
from machines where the Hugging Face Hub is not, which is why this is the default. The sdist is
fetched once with ``python -m pip download --no-deps --no-binary :all: vaderSentiment==3.3.2``
into ``cache_dir("downloads")``, checked against a pinned sha256 (a mismatch raises), and read in
memory with :mod:`tarfile` (nothing is extracted). Set ``DISTILL_LIB_VADER_SDIST`` to the path of
an already-downloaded copy to work fully offline (it is sha-checked too).

``label = rating > 0``; snippets rated exactly 0 are dropped. Measured counts:

==================  ==========  =============  ========  ========  ========
task                rows        rated 0 (out)  kept      negative  positive
==================  ==========  =============  ========  ========  ========
movie-snippets      10,605      37             10,568    5,326     5,242
amazon-snippets      3,708      98              3,610    1,482     2,128
nyt-snippets         5,190      244             4,946    2,742     2,204
tweet-snippets       4,200      4               4,196    1,299     2,897
==================  ==========  =============  ========  ========  ========

Two movie sentences occur twice in the source (4 rows, same label both times, different ids);
they are kept, as rows, so one of them (``"...a pretentious mess..."``) is in both train and
test. (The NYT file has 62 repeated sentences, 6 with conflicting labels; the Amazon file 9.)

``movie-snippets`` is split deterministically and stratified by label (rows sorted by their
numeric id, then :func:`sklearn.model_selection.train_test_split` twice with ``random_state=0``;
the test and validation sizes are ``round(0.1 * n)`` each):

==========  =====  ========  ========
split       rows   negative  positive
==========  =====  ========  ========
train       8,454  4,260     4,194
validation  1,057  533       524
test        1,057  533       524
==========  =====  ========  ========

The other three are test-only sets (a ``DatasetDict`` with just ``test``) for cross-domain
evaluation: train on movie reviews, test on product reviews, editorials and tweets.

Prepared sets are cached with :meth:`datasets.DatasetDict.save_to_disk` under
``cache_dir("data", name, <version>)``; the second call loads them from disk in well under a
second and needs no network.

Hub sets and local files
------------------------
``load_task("glue/sst2")``, ``load_task("rotten_tomatoes")``, ``load_task("imdb")`` or any Hub
dataset name (with ``config=``, ``text_column=``, ``label_column=``) need the Hugging Face Hub. If
the Hub cannot be reached (or ``HF_DATASETS_OFFLINE``/``HF_HUB_OFFLINE`` is set and the set is not
in the local Hugging Face cache) they fail within seconds with a :class:`ConnectionError` that
points at the offline default. Splits that have no labels (GLUE's test labels are all -1, IMDB's
``unsupervised``) are dropped, and missing splits are rebuilt (see :func:`load_task`).

Local ``.csv``, ``.tsv``, ``.json``, ``.jsonl`` and ``.parquet`` files (or a dict of split name to
file) are read with :func:`datasets.load_dataset` (its Arrow copies go to
``cache_dir("hf-datasets")``; local sets are not cached further); a single file is split
80/10/10 like the movie snippets. All input checks (missing file, bad encoding, missing
columns, missing or unknown labels, a single class, an empty split) run before any splitting,
caching or tokenising.

Tokenising and batching
-----------------------
:func:`tokenize` truncates but does not pad; :func:`make_dataloader` pads each batch to its own
longest sequence with :class:`transformers.DataCollatorWithPadding` and, for training, can order
examples with :class:`transformers.trainer_pt_utils.LengthGroupedSampler` so that a batch holds
sentences of similar length (less padding, faster epochs).
"""

from __future__ import annotations

import codecs
import hashlib
import io
import json
import logging
import math
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import datasets
import numpy as np
import torch
from datasets import ClassLabel, Dataset, DatasetDict, Features, Value
from torch.utils.data import DataLoader, RandomSampler, Sampler

from distill_lib._io import atomic_directory, cache_dir

__all__ = [
    "DEFAULT_LABEL_NAMES",
    "TASKS",
    "VADER_SDIST_ENV",
    "TaskInfo",
    "list_tasks",
    "load_task",
    "make_dataloader",
    "tokenize",
]

logger = logging.getLogger(__name__)

DEFAULT_LABEL_NAMES: tuple[str, str] = ("negative", "positive")
"""Class names of the binary sentiment tasks; index = label id."""

VADER_SDIST_ENV = "DISTILL_LIB_VADER_SDIST"
"""Environment variable naming an already-downloaded ``vaderSentiment-3.3.2.tar.gz``."""

_VADER_VERSION = "3.3.2"
_VADER_SDIST_NAME = f"vaderSentiment-{_VADER_VERSION}.tar.gz"
_VADER_SDIST_SHA256 = "5d7c06e027fc8b99238edb0d53d970cf97066ef97654009890b83703849632f9"
_VADER_INNER_TAR = f"vaderSentiment-{_VADER_VERSION}/additional_resources/hutto_ICWSM_2014.tar.gz"
_VADER_CITATION = (
    "Hutto, C.J. & Gilbert, E.E. (2014). VADER: A Parsimonious Rule-based Model for Sentiment "
    "Analysis of Social Media Text. Eighth International Conference on Weblogs and Social Media "
    "(ICWSM-14). Ann Arbor, MI, June 2014."
)

# Bump when the preparation (parsing, filtering, splitting, features) changes: it invalidates
# every prepared copy in the cache.
_PREP_VERSION = "v1"
_SPLIT_SEED = 0
_VAL_FRACTION = 0.1
_TEST_FRACTION = 0.1
_SPLITS = ("train", "validation", "test")

LOCAL_FORMATS = {
    ".csv": ("csv", {}),
    ".tsv": ("csv", {"delimiter": "\t"}),
    ".json": ("json", {}),
    ".jsonl": ("json", {}),
    ".parquet": ("parquet", {}),
}
_TEXT_FORMATS = {".csv", ".tsv", ".json", ".jsonl"}

# Default label strings when `label_names` is not given (compared case-insensitively).
_BINARY_SYNONYMS = {
    "0": 0,
    "neg": 0,
    "negative": 0,
    "false": 0,
    "1": 1,
    "pos": 1,
    "positive": 1,
    "true": 1,
}

_OFFLINE_HINT = (
    'For offline work use the built-in default, load_task("movie-snippets") (it needs only PyPI '
    "once, or DISTILL_LIB_VADER_SDIST=/path/to/vaderSentiment-3.3.2.tar.gz), or a local file: "
    'load_task("reviews.csv", text_column=..., label_column=...).'
)


# --------------------------------------------------------------------------------------------
# The task registry
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TaskInfo:
    """A built-in, offline task.

    Attributes
    ----------
    name : str
        The name to pass to :func:`load_task`.
    description : str
        One line for people.
    member : str
        The ground-truth file inside ``hutto_ICWSM_2014.tar.gz``.
    test_only : bool
        True for the cross-domain evaluation sets (only a ``test`` split).
    """

    name: str
    description: str
    member: str
    test_only: bool


TASKS: dict[str, TaskInfo] = {
    info.name: info
    for info in (
        TaskInfo(
            "movie-snippets",
            "10,568 movie-review sentences (rottentomatoes.com, Pang & Lee 2005) with mean human "
            "ratings from VADER's ground truth; train/validation/test 8,454/1,057/1,057 (default).",
            "hutto_ICWSM_2014/movieReviewSnippets_GroundTruth.txt",
            False,
        ),
        TaskInfo(
            "amazon-snippets",
            "3,610 sentences from 309 Amazon product reviews with mean human ratings; test only "
            "(cross-domain evaluation).",
            "hutto_ICWSM_2014/amazonReviewSnippets_GroundTruth.txt",
            True,
        ),
        TaskInfo(
            "nyt-snippets",
            "4,946 sentences from 500 New York Times opinion editorials with mean human ratings; "
            "test only (cross-domain evaluation).",
            "hutto_ICWSM_2014/nytEditorialSnippets_GroundTruth.txt",
            True,
        ),
        TaskInfo(
            "tweet-snippets",
            "4,196 tweets with mean human ratings; test only (cross-domain evaluation).",
            "hutto_ICWSM_2014/tweets_GroundTruth.txt",
            True,
        ),
    )
}
"""The built-in offline tasks, by name."""


def list_tasks() -> dict[str, str]:
    """The built-in offline tasks and a one-line description of each.

    Returns
    -------
    dict[str, str]
        Task name (for :func:`load_task`) -> description.
    """
    return {name: info.description for name, info in TASKS.items()}


# Known Hub sets: name -> (Hub repository, config, text column, label column).
HUB_ALIASES: dict[str, tuple[str, str | None, str, str]] = {
    "glue/sst2": ("nyu-mll/glue", "sst2", "sentence", "label"),
    "sst2": ("nyu-mll/glue", "sst2", "sentence", "label"),
    "rotten_tomatoes": ("cornell-movie-review-data/rotten_tomatoes", None, "text", "label"),
    "imdb": ("stanfordnlp/imdb", None, "text", "label"),
}


# --------------------------------------------------------------------------------------------
# load_task
# --------------------------------------------------------------------------------------------


def load_task(
    name: str | os.PathLike | Mapping[str, str | os.PathLike] = "movie-snippets",
    *,
    text_column: str | None = None,
    label_column: str | None = None,
    label_names: Sequence[str] | None = None,
    config: str | None = None,
    seed: int = _SPLIT_SEED,
    refresh: bool = False,
) -> DatasetDict:
    """Load a text-classification task as a ``DatasetDict`` with ``text`` and ``label`` columns.

    Parameters
    ----------
    name : str, path or dict of split name -> path
        * a built-in offline task (see :func:`list_tasks`): ``"movie-snippets"`` (default,
          splits ``train``/``validation``/``test``), or the test-only ``"amazon-snippets"``,
          ``"nyt-snippets"``, ``"tweet-snippets"``;
        * a local file ending in ``.csv``, ``.tsv``, ``.json``, ``.jsonl`` or ``.parquet``; it is
          split 80/10/10 into train/validation/test, stratified by label, with ``seed``;
        * a dict ``{"train": path, "validation": path, "test": path}``; any subset works: a
          missing validation split is carved from train (stratified, ``min(len(test),
          round(0.1 * len(train)))`` rows); with train and validation but no test, validation
          becomes the test set and a new validation split is carved from train; train alone is
          split 80/10/10; without train (e.g. ``{"test": path}``) the splits are used as given;
        * a Hugging Face Hub dataset: ``"glue/sst2"`` (GLUE's test labels are hidden, so
          GLUE's validation set becomes the test set and 872 validation rows are carved from
          train), ``"rotten_tomatoes"``, ``"imdb"`` (its unlabelled ``unsupervised`` split is
          dropped and 2,500 validation rows are carved from train), or any ``"owner/name"``
          with ``config=``. Same split rules as for a dict. Needs the Hub: without it this
          fails within seconds with a ``ConnectionError`` (the result is cached, so a set
          prepared once loads offline later).
    text_column, label_column : str, optional
        Columns to read (renamed to ``text`` and ``label``). Default ``"text"``/``"label"``,
        or the known columns of the Hub sets above (``"sentence"`` for SST-2).
    label_names : sequence of str, optional
        Class names in label-id order. Default ``("negative", "positive")``, where labels may be
        ints 0/1 (or 0.0/1.0, booleans) or the strings ``0/1``, ``neg/pos``,
        ``negative/positive``, ``false/true`` (any case). With ``label_names`` given, string
        labels must be one of the names (any case) and int labels must be in
        ``range(len(label_names))``. For a Hub set with a ``ClassLabel`` column, its names are
        matched by name, so a reversed order is mapped correctly.
    config : str, optional
        Hub configuration name (``load_dataset(name, config)``).
    seed : int
        Seed of the stratified splits (default 0; the splits in the module docstring).
    refresh : bool
        Rebuild a cached built-in or Hub set instead of loading it from the cache.

    Returns
    -------
    datasets.DatasetDict
        Splits ``train``/``validation``/``test`` (or only ``test`` for the cross-domain sets),
        columns ``text`` (str) and ``label`` (``ClassLabel``), plus ``rating`` (float64, -4..+4)
        for the built-in sets.

    Raises
    ------
    FileNotFoundError
        A local file (or ``$DISTILL_LIB_VADER_SDIST``) does not exist.
    ValueError
        Unreadable or non-UTF-8 file, missing column, missing/unknown labels, one class only,
        an empty split, too few rows to split, or a downloaded file whose sha256 is wrong.
    ConnectionError
        The Hub (for Hub names) or PyPI (first use of a built-in set) cannot be reached.
    """
    if isinstance(name, Mapping):
        return _load_local(dict(name), text_column, label_column, label_names, seed)
    if isinstance(name, os.PathLike):
        return _load_local({"": name}, text_column, label_column, label_names, seed)
    if not isinstance(name, str):
        raise TypeError(f"name must be a task name, a path or a dict of paths, not {name!r}")
    if name in TASKS:
        if text_column or label_column or label_names:
            raise ValueError(
                f"{name!r} is a built-in task with fixed columns text/label/rating; "
                "text_column=, label_column= and label_names= are for Hub sets and local files."
            )
        return _load_builtin(TASKS[name], seed=seed, refresh=refresh)
    suffix = Path(name).suffix.lower()
    if suffix in LOCAL_FORMATS:
        return _load_local({"": name}, text_column, label_column, label_names, seed)
    if os.path.exists(name):
        raise ValueError(
            f"{name!r} is a file or folder, but not one of the supported formats "
            f"{sorted(LOCAL_FORMATS)}; convert it to CSV/JSONL/Parquet."
        )
    return _load_hub(name, config, text_column, label_column, label_names, seed, refresh)


# --------------------------------------------------------------------------------------------
# Built-in sets: the VADER ground truth from the vaderSentiment sdist
# --------------------------------------------------------------------------------------------


def _features(label_names: Sequence[str], with_rating: bool) -> Features:
    cols: dict[str, Any] = {"text": Value("string"), "label": ClassLabel(names=list(label_names))}
    if with_rating:
        cols["rating"] = Value("float64")
    return Features(cols)


def _load_builtin(info: TaskInfo, *, seed: int, refresh: bool) -> DatasetDict:
    key = f"{_PREP_VERSION}-vader{_VADER_VERSION}-{_VADER_SDIST_SHA256[:12]}"
    if not info.test_only:
        key += f"-seed{seed}"
    target = cache_dir("data", info.name) / key
    if not refresh and (cached := _load_cached(target)) is not None:
        return cached

    sdist = _vader_sdist()
    raw = _read_vader_member(sdist, info.member)
    rows = _parse_ground_truth(raw, info.member)
    n_zero = sum(1 for _, rating, _ in rows if rating == 0)
    rows = [row for row in rows if row[1] != 0]
    if not info.test_only:
        rows.sort(key=lambda row: int(row[0]))  # numeric ids; a stable, documented order
    texts = [text for _, _, text in rows]
    ratings = [rating for _, rating, _ in rows]
    labels = np.array([int(r > 0) for r in ratings], dtype=np.int64)
    logger.info(
        "%s: %d rows, %d rated exactly 0 dropped, %d kept (%d negative, %d positive)",
        info.name,
        len(rows) + n_zero,
        n_zero,
        len(rows),
        int((labels == 0).sum()),
        int((labels == 1).sum()),
    )

    if info.test_only:
        index = {"test": np.arange(len(rows))}
    else:
        index = _stratified_split(labels, seed=seed, where=info.name)
    features = _features(DEFAULT_LABEL_NAMES, with_rating=True)
    dataset_info = datasets.DatasetInfo(
        description=f"{info.name}: {info.description} Label = mean rating > 0; "
        f"rows rated exactly 0 dropped ({n_zero}). Source: vaderSentiment=={_VADER_VERSION} "
        "sdist on PyPI, additional_resources/hutto_ICWSM_2014.tar.gz.",
        citation=_VADER_CITATION,
        homepage="https://github.com/cjhutto/vaderSentiment",
        features=features,
    )
    dd = DatasetDict(
        {
            split: Dataset.from_dict(
                {
                    "text": [texts[i] for i in idx],
                    "label": labels[idx].tolist(),
                    "rating": [ratings[i] for i in idx],
                },
                features=features,
                info=dataset_info,
            )
            for split, idx in index.items()
        }
    )
    return _save_cached(dd, target)


def _load_cached(target: Path) -> DatasetDict | None:
    if (target / "dataset_dict.json").is_file():
        try:
            return datasets.load_from_disk(str(target))
        except Exception as err:  # a damaged cache entry: rebuild it
            logger.warning("Ignoring unreadable cached dataset %s (%s); rebuilding.", target, err)
    return None


def _save_cached(dd: DatasetDict, target: Path) -> DatasetDict:
    quiet = datasets.are_progress_bars_disabled()
    datasets.disable_progress_bars()  # a bar per split for a sub-second save is only noise
    try:
        with atomic_directory(target) as tmp:
            dd.save_to_disk(str(tmp))
    finally:
        if not quiet:
            datasets.enable_progress_bars()
    # Return the copy on disk (memory-mapped from its final place, not the temporary folder).
    return datasets.load_from_disk(str(target))


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _check_sha(path: Path, what: str) -> Path:
    actual = _sha256(path)
    if actual != _VADER_SDIST_SHA256:
        raise ValueError(
            f"{what} {path} has sha256 {actual}, expected {_VADER_SDIST_SHA256} "
            f"(vaderSentiment=={_VADER_VERSION} sdist from PyPI). It is damaged or a different "
            "file: delete it (or fix DISTILL_LIB_VADER_SDIST) and try again."
        )
    return path


def _vader_sdist() -> Path:
    """Path of the verified vaderSentiment sdist: ``$DISTILL_LIB_VADER_SDIST``, cache, or PyPI."""
    env = os.environ.get(VADER_SDIST_ENV)
    if env:
        path = Path(env).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"{VADER_SDIST_ENV} points to {path}, which does not exist.")
        return _check_sha(path, f"${VADER_SDIST_ENV}")

    cached = cache_dir("downloads") / _VADER_SDIST_NAME
    if cached.is_file():
        return _check_sha(cached, "The cached sdist")

    tmp = Path(tempfile.mkdtemp(prefix=".vader-", dir=cached.parent))
    try:
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--no-binary",
            ":all:",
            "--disable-pip-version-check",
            "--no-input",
            "--retries",
            "1",
            "--timeout",
            "20",
            f"vaderSentiment=={_VADER_VERSION}",
            "-d",
            str(tmp),
        ]
        logger.info("Downloading the vaderSentiment sdist from PyPI: %s", " ".join(cmd))
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        got = tmp / _VADER_SDIST_NAME
        if proc.returncode != 0 or not got.is_file():
            tail = (proc.stderr or proc.stdout or "").strip()[-1500:]
            if "No module named pip" in tail:
                raise RuntimeError(
                    f"pip is not installed in {sys.executable}'s environment, so the data "
                    f"cannot be downloaded. Install pip, or download {_VADER_SDIST_NAME} "
                    f"elsewhere and set {VADER_SDIST_ENV}=/path/to/it.\n{tail}"
                )
            raise ConnectionError(
                f"Could not download vaderSentiment=={_VADER_VERSION} from PyPI with "
                f"`{' '.join(cmd[1:])}` (exit code {proc.returncode}). If this machine is "
                f"offline, copy {_VADER_SDIST_NAME} from a machine with `pip download --no-deps "
                f"--no-binary :all: vaderSentiment=={_VADER_VERSION}` and set "
                f"{VADER_SDIST_ENV}=/path/to/it.\npip said:\n{tail}"
            )
        _check_sha(got, "The downloaded sdist")
        os.replace(got, cached)  # same folder tree: an atomic rename
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return cached


def _read_vader_member(sdist: Path, member: str) -> bytes:
    """Read one ground-truth file from the nested tarball, in memory (nothing is extracted)."""

    def read(tar: tarfile.TarFile, name: str, where: str) -> bytes:
        try:
            info = tar.getmember(name)
        except KeyError:
            raise ValueError(f"{where} has no member {name!r}; is it the right sdist?") from None
        handle = tar.extractfile(info) if info.isfile() else None
        if handle is None:
            raise ValueError(f"{name!r} in {where} is not a regular file.")
        with handle:
            return handle.read()

    with tarfile.open(sdist, "r:gz") as outer:
        inner_bytes = read(outer, _VADER_INNER_TAR, str(sdist))
    with tarfile.open(fileobj=io.BytesIO(inner_bytes), mode="r:gz") as inner:
        return read(inner, member, _VADER_INNER_TAR)


def _parse_ground_truth(raw: bytes, where: str) -> list[tuple[str, float, str]]:
    """Parse ``id<TAB>mean rating<TAB>text`` lines (UTF-8, CRLF) into (id, rating, text)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ValueError(f"{where} is not valid UTF-8: {err}") from None
    rows = []
    # Split on "\n" only: str.splitlines would also split on rare separators inside a snippet.
    for lineno, line in enumerate(text.split("\n"), start=1):
        line = line.rstrip("\r")
        if not line.strip():
            continue
        parts = line.split("\t", 2)
        if len(parts) != 3:
            raise ValueError(f"{where} line {lineno}: expected id<TAB>rating<TAB>text: {line!r}")
        snippet_id, rating, snippet = parts
        rows.append((snippet_id.strip(), float(rating), snippet.strip()))
    return rows


# --------------------------------------------------------------------------------------------
# Splitting
# --------------------------------------------------------------------------------------------


def _stratified_split(labels: np.ndarray, *, seed: int, where: str) -> dict[str, np.ndarray]:
    """Indices of a stratified 80/10/10 train/validation/test split (each sorted)."""
    from sklearn.model_selection import train_test_split

    n = len(labels)
    n_test = round(_TEST_FRACTION * n)
    n_val = round(_VAL_FRACTION * n)
    counts = Counter(labels.tolist())
    k = len(counts)
    if n_test < k or n_val < k or n - n_test - n_val < k or min(counts.values()) < 3:
        raise ValueError(
            f"{where}: {n} rows with class counts {dict(sorted(counts.items()))} are too few for "
            "a stratified 80/10/10 train/validation/test split (every class needs at least 3 "
            "rows and every split at least one row per class). Add rows, or give the splits "
            'yourself as a dict: load_task({"train": ..., "validation": ..., "test": ...}).'
        )
    idx = np.arange(n)
    rest, test = train_test_split(idx, test_size=n_test, stratify=labels, random_state=seed)
    train, val = train_test_split(rest, test_size=n_val, stratify=labels[rest], random_state=seed)
    return {"train": np.sort(train), "validation": np.sort(val), "test": np.sort(test)}


def _carve(labels: np.ndarray, n_val: int, *, seed: int, where: str) -> tuple[np.ndarray, ...]:
    """Split ``n_val`` stratified rows off a training set: (train indices, validation indices)."""
    from sklearn.model_selection import train_test_split

    counts = Counter(labels.tolist())
    if n_val < len(counts) or len(labels) - n_val < len(counts) or min(counts.values()) < 2:
        raise ValueError(
            f"{where}: the training split ({len(labels)} rows, class counts "
            f"{dict(sorted(counts.items()))}) is too small to carve a stratified validation "
            f"split of {n_val} rows from it; give a validation split yourself."
        )
    train, val = train_test_split(
        np.arange(len(labels)), test_size=n_val, stratify=labels, random_state=seed
    )
    return np.sort(train), np.sort(val)


def _complete_splits(
    splits: dict[str, tuple[list[str], np.ndarray]], *, seed: int, where: str
) -> dict[str, tuple[list[str], np.ndarray]]:
    """Turn the given labelled splits into train/validation/test (rules in :func:`load_task`)."""
    if "train" not in splits:
        return splits
    if set(splits) == {"train"}:
        texts, labels = splits["train"]
        index = _stratified_split(labels, seed=seed, where=where)
        return {s: ([texts[i] for i in idx], labels[idx]) for s, idx in index.items()}
    out = dict(splits)
    if "test" not in out:
        logger.warning(
            "%s has no labelled test split: using its validation split as the test set and "
            "carving a new validation split from train.",
            where,
        )
        out["test"] = out.pop("validation")
    if "validation" not in out:
        texts, labels = out["train"]
        n_val = min(len(out["test"][1]), round(_VAL_FRACTION * len(labels)))
        train, val = _carve(labels, n_val, seed=seed, where=where)
        logger.warning(
            "%s: carved a stratified validation split of %d rows from train (seed %d).",
            where,
            len(val),
            seed,
        )
        out["train"] = ([texts[i] for i in train], labels[train])
        out["validation"] = ([texts[i] for i in val], labels[val])
    return {s: out[s] for s in _SPLITS}


def _to_dataset_dict(
    splits: Mapping[str, tuple[list[str], np.ndarray]],
    label_names: Sequence[str],
    description: str,
) -> DatasetDict:
    features = _features(label_names, with_rating=False)
    info = datasets.DatasetInfo(description=description, features=features)
    return DatasetDict(
        {
            split: Dataset.from_dict(
                {"text": texts, "label": labels.tolist()}, features=features, info=info
            )
            for split, (texts, labels) in splits.items()
        }
    )


# --------------------------------------------------------------------------------------------
# Validating columns and labels (shared by local files and Hub sets)
# --------------------------------------------------------------------------------------------


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _show(values: Sequence[Any], limit: int = 10) -> str:
    shown = ", ".join(repr(v) for v in list(values)[:limit])
    return f"[{shown}{', ...' if len(values) > limit else ''}]"


def _extract(
    ds: Dataset, text_column: str, label_column: str, where: str
) -> tuple[list[str], list[Any]]:
    """The text and raw label values of one split, after checking columns, emptiness, text."""
    if len(ds) == 0:
        raise ValueError(f"{where} is empty (0 rows); every split needs at least one row.")
    available = ds.column_names
    for role, column in (("text", text_column), ("label", label_column)):
        if column not in available:
            raise ValueError(
                f"{where} has no {role} column {column!r}. Available columns: {available}. "
                f"Pass {role}_column=<one of them> to load_task."
            )
    texts = list(ds[text_column])
    missing_text = [i for i, t in enumerate(texts) if _is_missing(t)]
    if missing_text:
        raise ValueError(
            f"{where}: {len(missing_text)} rows have no text in column {text_column!r} (rows "
            f"{_show(missing_text)}). Drop or fill them first."
        )
    texts = [t if isinstance(t, str) else str(t) for t in texts]
    return texts, list(ds[label_column])


def _label_ids(
    values_by_split: Mapping[str, list[Any]],
    label_names: Sequence[str] | None,
    label_column: str,
    where: str,
) -> tuple[dict[str, np.ndarray], list[str]]:
    """Map raw label values to ids ``0 .. k-1``; raise ``ValueError`` on anything unexpected."""
    names = list(label_names) if label_names is not None else list(DEFAULT_LABEL_NAMES)
    if len(names) < 2 or len(set(names)) != len(names):
        raise ValueError(f"label_names must be at least two distinct names, got {names}.")
    if label_names is None:
        by_string = dict(_BINARY_SYNONYMS)
    else:
        by_string = {n.strip().lower(): i for i, n in enumerate(names)}
        by_string.update({str(i): i for i in range(len(names))})

    def one(value: Any) -> int | None:
        if isinstance(value, (bool, np.bool_)):
            value = int(value)
        if isinstance(value, (int, np.integer)):
            return int(value) if 0 <= value < len(names) else None
        if isinstance(value, (float, np.floating)):
            return int(value) if value.is_integer() and 0 <= value < len(names) else None
        if isinstance(value, str):
            return by_string.get(value.strip().lower())
        return None

    ids: dict[str, np.ndarray] = {}
    for split, values in values_by_split.items():
        missing = [i for i, v in enumerate(values) if _is_missing(v)]
        if missing:
            raise ValueError(
                f"{where} ({split}): {len(missing)} rows have no label in column "
                f"{label_column!r} (rows {_show(missing)}). Drop or fill them first."
            )
        try:
            distinct = {v: one(v) for v in set(values)}
        except TypeError:  # lists or dicts in the label column
            raise ValueError(
                f"{where} ({split}): label column {label_column!r} holds non-scalar values such "
                f"as {_show(values, 3)}; each row needs one label (an int or a class name)."
            ) from None
        unknown = sorted((v for v, i in distinct.items() if i is None), key=repr)
        if unknown:
            found = sorted(distinct, key=repr)
            if label_names is None:
                expected = (
                    "0/1 (ints) or the strings "
                    + "/".join(sorted(_BINARY_SYNONYMS))
                    + ' for label_names=("negative", "positive")'
                )
            else:
                expected = f"ids 0..{len(names) - 1} or the names {names}"
            raise ValueError(
                f"{where} ({split}): label column {label_column!r} has values {_show(found)}; "
                f"{_show(unknown)} do not fit {expected}. Fix: pass label_names=[...] with one "
                "name per class in id order (the values found must be those names or ids "
                "0..k-1), map the labels yourself, or drop the unexpected rows."
            )
        ids[split] = np.array([distinct[v] for v in values], dtype=np.int64)

    classes = sorted(set().union(*(set(a.tolist()) for a in ids.values())))
    if len(classes) < 2:
        only = names[classes[0]] if classes else "none"
        raise ValueError(
            f"{where}: label column {label_column!r} has only one class ({only!r}, id "
            f"{classes[0] if classes else '-'}); a classifier needs at least two. Check the "
            "column and the label mapping, or add examples of the other class."
        )
    return ids, names


# --------------------------------------------------------------------------------------------
# Local files
# --------------------------------------------------------------------------------------------


def _check_utf8(path: Path) -> None:
    decoder = codecs.getincrementaldecoder("utf-8")(errors="strict")
    offset = 0
    with open(path, "rb") as f:
        while True:
            chunk = f.read(1 << 20)
            try:
                decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError as err:
                pos = offset + err.start
                bad = chunk[err.start : err.start + 4] if chunk else b""
                raise ValueError(
                    f"{path} is not valid UTF-8 (bytes {bad!r} at byte offset {pos}). "
                    "Re-encode it to UTF-8 first, e.g. `iconv -f latin1 -t utf-8 in.csv > "
                    "out.csv`, or in Python: pd.read_csv(path, encoding='latin-1')"
                    ".to_csv('out.csv', index=False)."
                ) from None
            if not chunk:
                return
            offset += len(chunk)


def _read_local_file(path: Path, split: str) -> Dataset:
    where = f"{split} split ({path})" if split else str(path)
    if not path.exists():
        raise FileNotFoundError(f"No such data file: {path}")
    if not path.is_file():
        raise ValueError(f"{path} is not a file.")
    suffix = path.suffix.lower()
    if suffix not in LOCAL_FORMATS:
        raise ValueError(
            f"{path}: unsupported file type {suffix!r}; use one of {sorted(LOCAL_FORMATS)}."
        )
    if path.stat().st_size == 0:
        raise ValueError(f"{where} is empty (0 bytes).")
    if suffix in _TEXT_FORMATS:
        _check_utf8(path)
    builder, kwargs = LOCAL_FORMATS[suffix]
    try:
        return datasets.load_dataset(
            builder,
            data_files=str(path),
            split="train",
            cache_dir=str(cache_dir("hf-datasets")),
            **kwargs,
        )
    except Exception as err:
        if "corresponds to no data" in str(err):
            raise ValueError(f"{where} is empty (no data rows).") from None
        raise ValueError(f"Could not read {path} as {builder}: {err}") from err


def _load_local(
    files: dict[str, str | os.PathLike],
    text_column: str | None,
    label_column: str | None,
    label_names: Sequence[str] | None,
    seed: int,
) -> DatasetDict:
    if not files:
        raise ValueError("Empty dict of data files; give at least one split name -> path.")
    unknown = set(files) - set(_SPLITS) - {""}
    if unknown:
        raise ValueError(
            f"Unknown split names {sorted(unknown)}; use some of {list(_SPLITS)} "
            "(a dict without 'train' is used as given, e.g. {'test': path})."
        )
    paths = {split: Path(p).expanduser() for split, p in files.items()}
    for path in paths.values():  # every path, before reading any of them
        if not path.exists():
            raise FileNotFoundError(f"No such data file: {path}")
    text_column = text_column or "text"
    label_column = label_column or "label"
    texts: dict[str, list[str]] = {}
    raw_labels: dict[str, list[Any]] = {}
    for split, path in paths.items():
        ds = _read_local_file(path, split)
        where = f"{split} split ({path})" if split else str(path)
        texts[split or "train"], raw_labels[split or "train"] = _extract(
            ds, text_column, label_column, where
        )
    where = ", ".join(str(p) for p in paths.values())
    ids, names = _label_ids(raw_labels, label_names, label_column, where)
    splits = _complete_splits({s: (texts[s], ids[s]) for s in ids}, seed=seed, where=where)
    return _to_dataset_dict(splits, names, f"Local data: {where}")


# --------------------------------------------------------------------------------------------
# Hub sets
# --------------------------------------------------------------------------------------------


def _truthy(value: str | None) -> bool:
    return (value or "").strip().upper() in {"1", "ON", "YES", "TRUE"}


def _hub_reachable(repo: str, timeout: float = 5.0) -> str | None:
    """``None`` if the Hub answers (any HTTP status), else why not. Costs one HEAD request."""
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")
    request = urllib.request.Request(f"{endpoint}/api/datasets/{repo}", method="HEAD")
    try:
        with urllib.request.urlopen(request, timeout=timeout):
            return None
    except urllib.error.HTTPError:
        return None  # it answered (401/404/...); load_dataset will give the precise error
    except (OSError, ValueError) as err:  # URLError, timeouts, DNS failures, bad endpoint
        return f"{endpoint} is unreachable ({getattr(err, 'reason', err)})"


def _hub_key(*parts: Any) -> str:
    blob = json.dumps([_PREP_VERSION, *parts], default=str)
    return f"{_PREP_VERSION}-{hashlib.sha256(blob.encode()).hexdigest()[:16]}"


def _load_hub(
    name: str,
    config: str | None,
    text_column: str | None,
    label_column: str | None,
    label_names: Sequence[str] | None,
    seed: int,
    refresh: bool,
) -> DatasetDict:
    alias = HUB_ALIASES.get(name.lower())
    if alias is not None:
        repo, default_config, default_text, default_label = alias
    elif name.lower().startswith("glue/"):
        repo, default_config, default_text, default_label = (
            "nyu-mll/glue",
            name.split("/", 1)[1],
            "sentence",
            "label",
        )
    else:
        repo, default_config, default_text, default_label = name, None, "text", "label"
    config = config or default_config
    text_column = text_column or default_text
    label_column = label_column or default_label

    slug = name.replace("/", "--") + (f"--{config}" if config else "")
    key = _hub_key(repo, config, text_column, label_column, label_names, seed)
    target = cache_dir("data", "hub", slug) / key
    if not refresh and (cached := _load_cached(target)) is not None:
        return cached

    shown = f"load_dataset({repo!r}{f', {config!r}' if config else ''})"
    offline_env = any(_truthy(os.environ.get(v)) for v in ("HF_DATASETS_OFFLINE", "HF_HUB_OFFLINE"))
    if offline_env and not datasets.config.HF_HUB_OFFLINE:
        # Set after `datasets` was imported: it would still try the network (and retry for
        # tens of seconds), so stop here.
        raise ConnectionError(
            f"{name!r} needs the Hugging Face Hub, but offline mode is set. {_OFFLINE_HINT}"
        )
    if not datasets.config.HF_HUB_OFFLINE:
        reason = _hub_reachable(repo)
        if reason:
            raise ConnectionError(
                f"{name!r} needs the Hugging Face Hub ({shown}), but {reason}. {_OFFLINE_HINT}"
            )
    try:
        raw = datasets.load_dataset(repo, config)
    except Exception as err:
        kind = ConnectionError if isinstance(err, (OSError, ConnectionError)) else ValueError
        raise kind(
            f"{name!r} needs the Hugging Face Hub, but {shown} failed: "
            f"{type(err).__name__}: {err}. {_OFFLINE_HINT}"
        ) from err
    if not isinstance(raw, DatasetDict):
        raise ValueError(f"{shown} did not return a DatasetDict but {type(raw).__name__}.")

    feature = next(iter(raw.values())).features.get(label_column)
    hub_names = list(feature.names) if isinstance(feature, ClassLabel) else None
    if label_names is None and hub_names is not None and len(hub_names) > 2:
        label_names = hub_names

    texts: dict[str, list[str]] = {}
    values: dict[str, list[Any]] = {}
    for split, ds in raw.items():
        if split not in _SPLITS:
            logger.warning("%s: ignoring split %r (not train/validation/test).", name, split)
            continue
        split_texts, split_labels = _extract(ds, text_column, label_column, f"{name} {split}")
        if all(v is None or v == -1 for v in split_labels):
            logger.warning(
                "%s: the %s split has no labels (all -1, as for GLUE's hidden test labels); "
                "dropping it.",
                name,
                split,
            )
            continue
        if hub_names is not None:  # match by name, so any id order on the Hub is fine
            split_labels = [hub_names[v] if 0 <= v < len(hub_names) else v for v in split_labels]
        texts[split], values[split] = split_texts, split_labels
    if "train" not in values:
        raise ValueError(f"{shown} has no labelled train split (splits: {list(raw)}).")
    ids, names = _label_ids(values, label_names, label_column, name)
    splits = _complete_splits({s: (texts[s], ids[s]) for s in ids}, seed=seed, where=name)
    return _save_cached(_to_dataset_dict(splits, names, f"Hugging Face Hub: {shown}"), target)


# --------------------------------------------------------------------------------------------
# Tokenising and batching
# --------------------------------------------------------------------------------------------


def tokenize(
    dataset_dict: DatasetDict | Dataset,
    tokenizer: Any,
    max_length: int = 128,
    *,
    text_column: str = "text",
    keep_columns: Sequence[str] = ("label",),
    batch_size: int = 1000,
) -> DatasetDict | Dataset:
    """Tokenise the text column with truncation and **no padding** (padding happens per batch).

    Parameters
    ----------
    dataset_dict : datasets.DatasetDict or datasets.Dataset
        Output of :func:`load_task` (or one of its splits).
    tokenizer : transformers.PreTrainedTokenizerBase
        The tokenizer of the model that will read the batches.
    max_length : int
        Longest sequence kept, special tokens included; longer texts are truncated.
    text_column : str
        Column holding the text.
    keep_columns : sequence of str
        Columns to keep next to the tokenizer's outputs (default ``("label",)``; add
        ``"rating"`` to keep the human rating). Names that are absent are ignored.
    batch_size : int
        Rows per call of the tokenizer inside :meth:`datasets.Dataset.map`.

    Returns
    -------
    datasets.DatasetDict or datasets.Dataset
        Same type and splits as the input, with ``input_ids`` (a list of ``seq_len`` ints per
        row, ``seq_len <= max_length`` and varying), ``attention_mask`` and, if the tokenizer
        gives them, ``token_type_ids``, plus ``keep_columns``. Everything else is dropped.
    """
    columns = dataset_dict.column_names
    first = next(iter(columns.values())) if isinstance(columns, dict) else columns
    if text_column not in first:
        raise ValueError(f"No text column {text_column!r}; available columns: {first}.")
    wanted = set(getattr(tokenizer, "model_input_names", None) or ()) | {
        "input_ids",
        "attention_mask",
        "token_type_ids",
    }

    def encode(batch: dict[str, list[Any]]) -> dict[str, list[Any]]:
        enc = tokenizer(batch[text_column], truncation=True, max_length=max_length)
        return {k: v for k, v in enc.items() if k in wanted}

    def drop(names: list[str]) -> list[str]:
        return [c for c in names if c not in keep_columns]

    if isinstance(dataset_dict, DatasetDict):
        return DatasetDict(
            {
                split: ds.map(
                    encode,
                    batched=True,
                    batch_size=batch_size,
                    remove_columns=drop(ds.column_names),
                    desc=f"Tokenising {split}",
                )
                for split, ds in dataset_dict.items()
            }
        )
    return dataset_dict.map(
        encode,
        batched=True,
        batch_size=batch_size,
        remove_columns=drop(dataset_dict.column_names),
        desc="Tokenising",
    )


def _lengths(dataset: Dataset) -> list[int]:
    """Token count of every row (fast: computed by Arrow, not by Python)."""
    import pyarrow.compute as pc

    column = dataset.with_format("arrow")["input_ids"]
    return pc.list_value_length(column).to_pylist()


def make_dataloader(
    dataset: Dataset,
    tokenizer: Any,
    batch_size: int,
    *,
    shuffle: bool = False,
    group_by_length: bool = False,
    seed: int = 0,
    num_workers: int = 0,
    pad_to_multiple_of: int | None = None,
) -> DataLoader:
    """A PyTorch ``DataLoader`` that pads each batch to its own longest sequence.

    Parameters
    ----------
    dataset : datasets.Dataset
        One split from :func:`tokenize` (it must have ``input_ids``).
    tokenizer : transformers.PreTrainedTokenizerBase
        Gives the padding token and side to :class:`transformers.DataCollatorWithPadding`.
    batch_size : int
        Rows per batch (the last batch may be smaller).
    shuffle : bool
        Random order (for training). False keeps the dataset order, so predictions line up
        with the rows: use it for evaluation.
    group_by_length : bool
        With ``shuffle=True``, use :class:`transformers.trainer_pt_utils.LengthGroupedSampler`:
        random mega-batches of up to 50 batches, each sorted by length, the longest batch
        first (so an out-of-memory error shows at once). Much less padding than a plain
        shuffle. Not allowed without shuffling.
    seed : int
        Seed of the shuffling generator. The order is deterministic per seed: the first
        epoch's order is the same on every run, and each new epoch (a new ``iter(loader)``)
        draws a fresh order from the same generator.
    num_workers : int
        Worker processes (0: load in the main process, usually fastest for tokenised text).
    pad_to_multiple_of : int, optional
        Round each batch's width up to a multiple of this (e.g. 8 for tensor cores).

    Returns
    -------
    torch.utils.data.DataLoader
        Yields dicts of tensors: ``input_ids``, ``attention_mask`` (and ``token_type_ids``)
        of shape ``(batch, width)`` where ``width`` is the longest sequence in that batch, and
        ``labels`` of shape ``(batch,)`` (the collator renames ``label`` to ``labels``, the
        Hugging Face model convention).
    """
    if "input_ids" not in dataset.column_names:
        raise ValueError(
            f"The dataset has no input_ids (columns: {dataset.column_names}); run "
            "tokenize(dataset_dict, tokenizer) first."
        )
    if len(dataset) == 0:
        raise ValueError("The dataset is empty.")
    if group_by_length and not shuffle:
        raise ValueError(
            "group_by_length=True is for training (shuffle=True). An evaluation loader keeps "
            "the dataset order so that predictions line up with the rows."
        )
    from transformers import DataCollatorWithPadding
    from transformers.trainer_pt_utils import LengthGroupedSampler

    strings = [
        c
        for c, f in dataset.features.items()
        if getattr(f, "dtype", None) in ("string", "large_string")
    ]
    if strings:  # text columns cannot be collated into tensors
        dataset = dataset.remove_columns(strings)
    generator = torch.Generator().manual_seed(seed)
    sampler: Sampler[int] | None = None
    if shuffle and group_by_length:
        sampler = LengthGroupedSampler(batch_size, lengths=_lengths(dataset), generator=generator)
    elif shuffle:
        sampler = RandomSampler(dataset, generator=generator)
    collator = DataCollatorWithPadding(tokenizer, pad_to_multiple_of=pad_to_multiple_of)
    return DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=sampler,
        shuffle=False,
        collate_fn=collator,
        num_workers=num_workers,
    )
