"""Data for the distillation experiments: an offline default task, Hub sets, local files.

Everything returns a :class:`datasets.DatasetDict` with the same columns, so the rest of the
library never cares where the data came from:

* ``text`` (``string``): one sentence or short review;
* ``label`` (``ClassLabel(names=["negative", "positive"])`` by default): 0 negative, 1 positive;
* ``rating`` (``float64``, built-in sets only): the mean human rating on a -4 .. +4 scale.

:func:`load_task` takes a built-in name (``"movie-snippets"``, the offline default, needs only
PyPI once), a Hub name (``"glue/sst2"``, ``"imdb"``, ...), a local file or a dict of split name
to file; :func:`check_task` checks a name up front, in seconds, without loading a Hub set.

One module per concern:

============  ================================================================================
module        holds
============  ================================================================================
``registry``  the names ``--task`` accepts (:data:`TASKS`, :func:`list_tasks`,
              :data:`HUB_ALIASES`, :data:`LOCAL_FORMATS`), importable without ``datasets``
``builtin``   the built-in tasks: VADER's rated snippets, their counts and their splits
``vader``     fetching the vaderSentiment sdist from PyPI, its sha256 pin, reading the ground
              truth from the nested tarball
``hub``       Hugging Face Hub sets (:data:`HUB_ALIASES`), the fast "is the Hub there" check
``local``     local ``.csv``/``.tsv``/``.json``/``.jsonl``/``.parquet`` files
``labels``    checking the text/label columns, mapping labels to ids, the output features
              (shared by Hub sets and local files)
``splits``    deterministic stratified splits, completing missing splits
``cache``     the on-disk cache of prepared sets
``batching``  :func:`tokenize` and :func:`make_dataloader`: where batches are built
============  ================================================================================
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from distill_lib._io import quiet_datasets

from .registry import HUB_ALIASES, LOCAL_FORMATS, TASKS, TaskInfo, list_tasks
from .splits import _SPLIT_SEED
from .vader import VADER_SDIST_ENV

if TYPE_CHECKING:
    from datasets import DatasetDict

    from .batching import make_dataloader, tokenize
    from .labels import DEFAULT_LABEL_NAMES

_LAZY: dict[str, str] = {
    "DEFAULT_LABEL_NAMES": "labels",
    "make_dataloader": "batching",
    "tokenize": "batching",
}
"""Names imported on first use (PEP 562), with the loaders (:mod:`.builtin`, :mod:`.hub`,
:mod:`.local`): they need ``datasets`` (and :mod:`.batching` torch), which the registry
(:mod:`.registry`), and so ``distill-lib tasks``, does not."""
_SUBMODULES = ("batching", "builtin", "cache", "hub", "labels", "local", "splits", "vader")


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    elif name in _SUBMODULES:  # ``distill_lib.data.hub`` without importing it first
        value = importlib.import_module(f".{name}", __name__)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY, *_SUBMODULES])

__all__ = [
    "DEFAULT_LABEL_NAMES",
    "HUB_ALIASES",
    "LOCAL_FORMATS",
    "TASKS",
    "VADER_SDIST_ENV",
    "TaskInfo",
    "check_task",
    "list_tasks",
    "load_task",
    "make_dataloader",
    "tokenize",
]


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
        Seed of the stratified splits (default 0; the movie-snippets splits are listed in
        :mod:`distill_lib.data.builtin`).
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
    from .builtin import _load_builtin
    from .hub import _load_hub
    from .local import _load_local

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


def _looks_local(name: str) -> bool:
    """Whether ``name`` is meant as a file: a data-file suffix, a path-like start, or it exists."""
    path = Path(name).expanduser()
    return (
        Path(name).suffix.lower() in LOCAL_FORMATS
        or name.startswith(("/", ".", "~"))
        or path.exists()
    )


def check_task(
    name: str | os.PathLike,
    text_column: str | None = None,
    label_column: str | None = None,
    *,
    train: bool = True,
    option: str = "--task",
) -> None:
    """Check that :func:`load_task` can load ``name``, in seconds, without training or writing.

    * A built-in task must not be test-only when ``train`` is true, takes no column names, and
      if ``$DISTILL_LIB_VADER_SDIST`` is set (and the set is not prepared yet) the file must
      exist and have the pinned sha256. (A first download from PyPI is not tried here.)
    * A local file must exist and have a supported suffix; it is then loaded once (offline,
      quietly), so that a wrong column, bad labels or a malformed file fail now.
    * A Hub name (``owner/name`` or one of :data:`HUB_ALIASES`) passes if it was prepared
      before (cached). Otherwise the Hub must answer one HEAD request within a few seconds,
      and in offline mode (``HF_HUB_OFFLINE``/``HF_DATASETS_OFFLINE``) the Hugging Face cache
      must hold the set. Its columns cannot be checked without downloading it.

    Parameters
    ----------
    name : str or path
        What ``--task`` (or ``load_task``) receives.
    text_column, label_column : str, optional
        As for :func:`load_task`.
    train : bool
        The set will be trained on (so a test-only built-in set is refused).
    option : str
        Named at the start of each message, e.g. ``"--task"`` or ``"--cross-domain"``.

    Raises
    ------
    ValueError
        The name or the columns cannot be used; the one-line message says why and what to do.
    FileNotFoundError
        A local file (or ``$DISTILL_LIB_VADER_SDIST``) does not exist.
    ConnectionError
        A Hub set that is not cached while the Hub is unreachable or offline mode is set.
    """
    name = os.fspath(name)
    if name in TASKS:
        info = TASKS[name]
        if info.test_only and train:
            trainable = [n for n, i in TASKS.items() if not i.test_only]
            raise ValueError(
                f"{option} {name!r} is a test-only set; train on {', '.join(trainable)}, a local "
                f"file or a Hub set, and evaluate on {name!r} with --cross-domain {name}"
            )
        if text_column or label_column:
            raise ValueError(
                f"{name!r} is a built-in task with fixed columns; --text-column and "
                "--label-column are for Hub sets and local files"
            )
        from .builtin import _check_builtin

        _check_builtin(info, _SPLIT_SEED)
        return
    if _looks_local(name):
        path = Path(name).expanduser()
        if not path.exists():
            raise FileNotFoundError(f"{option} {name!r}: no such data file")
        if not path.is_file() or path.suffix.lower() not in LOCAL_FORMATS:
            raise ValueError(
                f"{option} {name!r} is not a data file ending in {', '.join(sorted(LOCAL_FORMATS))}"
            )
        with quiet_datasets():
            load_task(str(path), text_column=text_column, label_column=label_column)
        return
    if "/" in name or name.lower() in HUB_ALIASES:
        from .hub import _check_hub

        _check_hub(name, text_column, label_column, option=option)
        return
    raise ValueError(
        f"unknown {option} {name!r}: not a built-in task ({', '.join(TASKS)}), not an existing "
        f"file, and not a Hub name (owner/name, or one of {', '.join(HUB_ALIASES)}); "
        "see `distill-lib tasks`"
    )
