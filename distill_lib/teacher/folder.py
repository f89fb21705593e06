"""Model folders: what makes one usable as a teacher, and :class:`TeacherError`.

A teacher folder (local, fetched into the cache, or a snapshot in huggingface_hub's cache) holds
``config.json`` and safetensors weights (``model.safetensors`` or a sharded index). Pickled
weights are refused: loading a pickle can run code.
"""

from __future__ import annotations

from pathlib import Path


class TeacherError(FileNotFoundError, ValueError):
    """A teacher that cannot be used (no such folder, no safetensors, Hub unreachable, ...).

    Both an ``OSError`` (``FileNotFoundError``) and a ``ValueError``, so either ``except``
    clause catches it. The message is one line that says what to do.
    """


def has_weights(folder: Path) -> bool:
    """``folder`` holds ``config.json`` and safetensors weights (single file or sharded)."""
    return (folder / "config.json").is_file() and (
        (folder / "model.safetensors").is_file()
        or (folder / "model.safetensors.index.json").is_file()
    )


def check_model_folder(folder: Path) -> None:
    """A local teacher must be a folder with config.json and safetensors weights."""
    if not folder.is_dir():
        raise TeacherError(
            f"{folder} is not a model folder (it is a file); pass a folder written by "
            "save_pretrained, a Hub name, 'minilm-l6' or 'mpnet-base'."
        )
    if not (folder / "config.json").is_file():
        raise TeacherError(
            f"{folder} is not a model folder (no config.json); pass a folder written by "
            "save_pretrained, a Hub name, 'minilm-l6' or 'mpnet-base'."
        )
    if has_weights(folder):
        return
    pickles = sorted(p.name for p in folder.glob("pytorch_model*.bin"))
    if pickles:
        raise TeacherError(
            f"{folder} has its weights only as a pickle ({pickles[0]}), and distill_lib reads "
            "safetensors only (loading a pickle can run code). Convert it to safetensors once, "
            "for a checkpoint you trust: load it with transformers' from_pretrained(folder, "
            "use_safetensors=False) and save_pretrained(folder) writes model.safetensors."
        )
    raise TeacherError(
        f"{folder} has config.json but no model.safetensors (or model.safetensors.index.json); "
        "pass a folder written by save_pretrained."
    )
