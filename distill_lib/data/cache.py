"""The cache of prepared sets: a ``DatasetDict`` saved once, then loaded from disk.

Built-in and Hub sets are saved with :meth:`datasets.DatasetDict.save_to_disk` (atomically, see
:func:`distill_lib._io.atomic_directory`) under ``cache_dir("data", ...)``; the second call
loads them in well under a second and needs no network. Local files are not cached here.
"""

from __future__ import annotations

import logging
from pathlib import Path

import datasets
from datasets import DatasetDict

from distill_lib._io import atomic_directory, quiet_datasets

logger = logging.getLogger(__name__)

# Bump when the preparation (parsing, filtering, splitting, features) changes: it invalidates
# every prepared copy in the cache.
_PREP_VERSION = "v1"


def _load_cached(target: Path) -> DatasetDict | None:
    """The prepared set saved at ``target``, or ``None`` if there is none (or it is damaged)."""
    if (target / "dataset_dict.json").is_file():
        try:
            return datasets.load_from_disk(str(target))
        except Exception as err:  # a damaged cache entry: rebuild it
            logger.warning("Ignoring unreadable cached dataset %s (%s); rebuilding.", target, err)
    return None


def _save_cached(dd: DatasetDict, target: Path) -> DatasetDict:
    """Save ``dd`` at ``target`` (atomically, replacing any old copy) and return the saved copy."""
    # A progress bar per split for a sub-second save is only noise.
    with quiet_datasets(), atomic_directory(target) as tmp:
        dd.save_to_disk(str(tmp))
    # Return the copy on disk (memory-mapped from its final place, not the temporary folder).
    return datasets.load_from_disk(str(target))
