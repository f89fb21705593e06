"""Teachers named by a Hub id: telling an id from a path, offline fallbacks, one-line errors.

A Hub name needs the Hub, which :func:`distill_lib._hub.hub_offline_reason` checks in seconds
(``HF_HUB_OFFLINE``, or one short probe). Offline, a snapshot in huggingface_hub's own cache is
used if it holds safetensors; otherwise the error is one line naming what works offline. With
the Hub reachable, :func:`check_hub_repo` asks it whether the repository holds safetensors.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from .._hub import first_line
from .builtin import OFFLINE_CHOICES, did_you_mean
from .folder import TeacherError, has_weights

_REPO_ID = re.compile(r"[A-Za-z0-9][\w.-]*(/[A-Za-z0-9][\w.-]*)?")


def looks_like_path(name: str) -> bool:
    """``name`` cannot be a Hub id (``name`` or ``owner/name``), so it was meant as a path."""
    return (
        name.startswith((".", "/", "~", "\\"))
        or os.sep in name.replace("/", "", 1)
        or (os.altsep is not None and os.altsep in name.replace("/", "", 1))
        or re.match(r"[A-Za-z]:[\\/]", name) is not None
        or _REPO_ID.fullmatch(name) is None
    )


def hub_cached_folder(repo_id: str) -> Path | None:
    """The local snapshot of a Hub model cached by huggingface_hub, if it has safetensors."""
    try:
        from huggingface_hub import try_to_load_from_cache

        config = try_to_load_from_cache(repo_id, "config.json")
    except Exception:  # invalid repo id, unreadable cache: treat as not cached
        return None
    if not isinstance(config, str):
        return None
    folder = Path(config).parent
    return folder if has_weights(folder) else None


def unreachable_error(name: str, reason: str) -> TeacherError:
    """The one-line error for a Hub name while the Hub is unreachable for ``reason``."""
    return TeacherError(
        f"teacher {name!r} is not a built-in name or a local folder, and the Hugging Face Hub "
        f"is unreachable ({reason}){did_you_mean(name)}; offline you can use "
        f"{OFFLINE_CHOICES}."
    )


def check_hub_repo(repo_id: str) -> str:
    """Check on the (reachable) Hub that ``repo_id`` is a transformers model with safetensors.

    Returns a one-line description; raises :class:`TeacherError` with one line otherwise.
    """
    from huggingface_hub import HfApi
    from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError

    try:
        info = HfApi().model_info(repo_id, timeout=10)
    except GatedRepoError:
        raise TeacherError(
            f"teacher {repo_id!r} is a gated Hub model: accept its terms on the Hub and log in "
            "(`hf auth login`), or use another teacher."
        ) from None
    except RepositoryNotFoundError:
        raise TeacherError(
            f"teacher {repo_id!r} is not a model on the Hub{did_you_mean(repo_id)} (a typo? "
            "a private model needs `hf auth login`)."
        ) from None
    except Exception as err:
        raise TeacherError(
            f"could not check teacher {repo_id!r} on the Hub: {first_line(err)}"
        ) from None
    files = {s.rfilename for s in info.siblings or []}
    if "config.json" not in files:
        raise TeacherError(
            f"Hub model {repo_id!r} has no config.json; it is not a transformers model."
        )
    if not {"model.safetensors", "model.safetensors.index.json"} & files:
        raise TeacherError(
            f"Hub model {repo_id!r} has no model.safetensors, and distill_lib reads safetensors "
            "only; pick a checkpoint that has them (or convert it and pass a local folder)."
        )
    return f"{repo_id} (Hugging Face Hub)"
