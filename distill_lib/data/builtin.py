"""The built-in offline tasks: their registry, and how VADER's rated snippets become splits.

The rows come from the ground-truth files of the vaderSentiment sdist (fetched and verified by
:mod:`.vader`); ``rating`` is the mean of human ratings on a -4 .. +4 scale: 15 to 29 ratings
per movie snippet (20 for Amazon and NYT, 20 to 99 for tweets). ``label = rating > 0``;
snippets rated exactly 0 are dropped. Measured counts:

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
the test and validation sizes are ``round(0.1 * n)`` each, see :mod:`.splits`):

==========  =====  ========  ========
split       rows   negative  positive
==========  =====  ========  ========
train       8,454  4,260     4,194
validation  1,057  533       524
test        1,057  533       524
==========  =====  ========  ========

The other three are test-only sets (a ``DatasetDict`` with just ``test``) for cross-domain
evaluation: train on movie reviews, test on product reviews, editorials and tweets.

Prepared sets are cached (:mod:`.cache`) under ``cache_dir("data", name, <version>)``; the second
call loads them from disk in well under a second and needs no network.
"""

from __future__ import annotations

import logging
from pathlib import Path

import datasets
import numpy as np
from datasets import Dataset, DatasetDict

from distill_lib._io import cache_dir

from .cache import _PREP_VERSION, _load_cached, _save_cached
from .labels import DEFAULT_LABEL_NAMES, _features
from .registry import TASKS, TaskInfo, list_tasks  # moved there (no datasets import)
from .splits import _stratified_split
from .vader import (
    _VADER_CITATION,
    _VADER_SDIST_SHA256,
    _VADER_VERSION,
    _local_sdist,
    _parse_ground_truth,
    _read_vader_member,
    _vader_sdist,
)

__all__ = ["TASKS", "TaskInfo", "list_tasks"]

logger = logging.getLogger(__name__)


def _prepared_path(info: TaskInfo, seed: int) -> Path:
    """Where the prepared copy of a built-in set is cached (the key names what it depends on)."""
    key = f"{_PREP_VERSION}-vader{_VADER_VERSION}-{_VADER_SDIST_SHA256[:12]}"
    if not info.test_only:
        key += f"-seed{seed}"
    return cache_dir().joinpath("data", info.name, key)


def _load_builtin(info: TaskInfo, *, seed: int, refresh: bool) -> DatasetDict:
    target = _prepared_path(info, seed)
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


def _check_builtin(info: TaskInfo, seed: int) -> None:
    """Raise now what loading ``info`` would raise for its source, without downloading anything.

    A prepared copy in the cache needs nothing else. Otherwise an sdist named by
    ``$DISTILL_LIB_VADER_SDIST`` (or one cached earlier) must exist and have the pinned sha256;
    with neither, the first load downloads it from PyPI, which cannot be checked cheaply here.
    """
    if (_prepared_path(info, seed) / "dataset_dict.json").is_file():
        return
    _local_sdist()
