"""Small helpers shared by the library: the cache folder, atomic writes, quiet libraries, digests.

- :func:`cache_dir`: the folder for downloads, prepared data sets, teachers and teacher logits
  (`$DISTILL_LIB_CACHE`, else `$XDG_CACHE_HOME/distill_lib`, else `~/.cache/distill_lib`).
- :func:`atomic_write_bytes`, :func:`atomic_write_text`, :func:`atomic_write_json` (one file) and
  :func:`atomic_directory` (a whole folder: checkpoints, prepared data sets): the data goes to a
  temporary sibling that `os.replace` then moves into place (atomic on POSIX and Windows when
  both live on the same filesystem), so an interrupted run never leaves a half-written file.
- :func:`quiet_datasets` and :func:`quiet_libraries`: silence the progress bars and expected log
  messages of `datasets` and `transformers` in a block, and restore the settings afterwards.
- :func:`sha256_file`: the digest of a file, for checking pinned downloads.

Only the standard library is imported at module level (`datasets` and `transformers` are
imported inside the quiet helpers), so torch-free code such as the CLI can import it cheaply.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def cache_dir(*parts: str) -> Path:
    """The folder where distill_lib caches downloads, prepared data and teachers.

    `$DISTILL_LIB_CACHE` if set, else `$XDG_CACHE_HOME/distill_lib`, else `~/.cache/distill_lib`.
    Sub-folders given in `parts` are created.
    """
    root = os.environ.get("DISTILL_LIB_CACHE")
    if root:
        base = Path(root)
    else:
        xdg = os.environ.get("XDG_CACHE_HOME")
        base = (Path(xdg) if xdg else Path.home() / ".cache") / "distill_lib"
    path = base.joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write `data` to `path` atomically (temporary file in the same folder, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600 files; use the usual mode
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write UTF-8 `text` to `path` atomically."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike, obj: Any) -> Path:
    """Write `obj` as indented JSON to `path` atomically."""
    return atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False, default=str) + "\n")


@contextmanager
def atomic_directory(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary folder next to `path`; on success it replaces `path` in one rename.

    Used for `save_pretrained` checkpoints and prepared datasets: readers either see the old
    folder, the complete new one, or nothing, never a half-written one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes 0700 folders; use the usual mode
        yield tmp
        old = None
        if path.exists():
            old = path.with_name(f".{path.name}.old-{os.getpid()}")
            os.replace(path, old)
        os.replace(tmp, path)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


@contextmanager
def quiet_datasets(*, logs: bool = False) -> Iterator[None]:
    """Silence the `datasets` progress bars (and, with `logs=True`, its log messages) in a block.

    The previous settings are restored on exit, also after an exception. `logs=True` is for
    reads whose failures the caller turns into its own error message: `datasets` would first log
    the low-level error itself (e.g. "Failed to load JSON from file ..."), a stray line on stderr.
    """
    import datasets
    from datasets.utils import logging as datasets_logging

    bars_were_disabled = datasets.are_progress_bars_disabled()
    verbosity = datasets_logging.get_verbosity()
    datasets.disable_progress_bars()
    if logs:
        datasets_logging.set_verbosity(datasets_logging.CRITICAL + 1)
    try:
        yield
    finally:
        if logs:
            datasets_logging.set_verbosity(verbosity)
        if not bars_were_disabled:
            datasets.enable_progress_bars()


@contextmanager
def quiet_libraries(*, progress: bool = False, warnings: bool = False) -> Iterator[None]:
    """Silence what `datasets` and `transformers` print for expected events, in a block.

    Unless `progress`, their progress bars are off; unless `warnings`, transformers' warnings
    (such as the load report listing the fresh classifier head of a teacher) are off. Errors
    still raise. The previous settings are restored on exit.
    """
    from transformers.utils import logging as hf_logging

    hf_bars_were_enabled = hf_logging.is_progress_bar_enabled()
    verbosity = hf_logging.get_verbosity()
    if not progress:
        hf_logging.disable_progress_bar()
    if not warnings:
        hf_logging.set_verbosity_error()
    try:
        if progress:
            yield
        else:
            with quiet_datasets():
                yield
    finally:
        if hf_bars_were_enabled:
            hf_logging.enable_progress_bar()
        hf_logging.set_verbosity(verbosity)


def sha256_file(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file's bytes, read in 1 MiB chunks (for checking pinned downloads)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()
