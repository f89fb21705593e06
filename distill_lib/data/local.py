"""Local files: ``.csv``, ``.tsv``, ``.json``, ``.jsonl`` and ``.parquet``, or a dict of them.

Files (or a dict of split name to file) are read with :func:`datasets.load_dataset` (its Arrow
copies go to ``cache_dir("hf-datasets")``; local sets are not cached further); a single file is
split 80/10/10 like the movie snippets (:mod:`.splits`). All input checks (missing file, bad
encoding, unreadable content, missing columns, missing or unknown labels, a single class, an
empty split) run before any splitting, caching or tokenising, and end in one clear error: the
``datasets`` library prints nothing while a file is read.
"""

from __future__ import annotations

import codecs
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import datasets
from datasets import Dataset, DatasetDict

from distill_lib._io import cache_dir, quiet_datasets

from .labels import _extract, _label_ids, _to_dataset_dict
from .registry import LOCAL_FORMATS  # moved there (no datasets import)
from .splits import _SPLITS, _complete_splits

__all__ = ["LOCAL_FORMATS"]

_TEXT_FORMATS = {".csv", ".tsv", ".json", ".jsonl"}


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


def _root_cause(err: BaseException) -> str:
    """The reader's own message: ``datasets`` wraps it in a vague ``DatasetGenerationError``."""
    chain: list[BaseException] = []
    current: BaseException | None = err
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    cause = next((e for e in chain if type(e).__name__ != "DatasetGenerationError"), err)
    return " ".join(f"{type(cause).__name__}: {cause}".split())  # one line


def _jsonl_problem(path: Path, lines: list[str]) -> str | None:
    """The first line of a JSON Lines file that is not one JSON object, as a message."""
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as err:
            return (
                f"{path} is not valid JSON Lines: line {lineno} is not valid JSON ({err.msg} at "
                f"column {err.colno}). Each line must hold one JSON object, e.g. "
                '{"text": "...", "label": 1}.'
            )
        if not isinstance(value, dict):
            return (
                f"{path} is not valid JSON Lines: line {lineno} holds a JSON "
                f"{type(value).__name__}, not an object. Each line must hold one JSON object, "
                'e.g. {"text": "...", "label": 1}.'
            )
    return None


def _json_problem(path: Path) -> str | None:
    """Where a ``.json``/``.jsonl`` file that ``datasets`` could not read stops being valid.

    ``None`` if the file parses (then the problem is elsewhere, e.g. mixed column types). Runs
    only after a failed read, so valid files are never parsed twice.
    """
    text = path.read_text(encoding="utf-8")  # UTF-8 was checked before reading
    lines = text.split("\n")
    if path.suffix.lower() == ".jsonl":
        return _jsonl_problem(path, lines)
    try:
        json.loads(text)
        return None
    except json.JSONDecodeError as err:
        whole = err
    first = next((line for line in lines if line.strip()), "")
    try:  # `datasets` also reads JSON Lines from a .json file: is it meant as JSON Lines?
        as_lines = isinstance(json.loads(first), dict) and len(lines) > 1
    except json.JSONDecodeError:
        as_lines = False
    if as_lines:
        return _jsonl_problem(path, lines)
    return (
        f"{path} is not valid JSON: {whole.msg} at line {whole.lineno}, column {whole.colno}. "
        'Use a list of objects, [{"text": "...", "label": 1}, ...], or JSON Lines.'
    )


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
        # No progress bar and no log lines from `datasets`: on a broken file it would log the
        # low-level error itself, before (and less clearly than) the ValueError below.
        with quiet_datasets(logs=True):
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
        problem = _json_problem(path) if builder == "json" else None
        raise ValueError(
            problem or f"Could not read {path} as {builder}: {_root_cause(err)}"
        ) from err


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
