"""Before a comparison trains: the up-front checks, and the data it uses.

:func:`validate` checks everything knowable (teacher, task, device, layer maps, output
folder) without writing anything, so a bad config fails in one line before any work;
:func:`prepare_data` loads, subsamples and tokenises the task and the cross-domain sets.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from datasets import DatasetDict

from ..data import check_task, load_task, tokenize
from ..device import check_device
from ..teacher import check_teacher, teacher_depth, teacher_type
from .config import ExperimentConfig
from .store import plan


def check_writable(folder: str | os.PathLike, what: str) -> None:
    """Check that ``folder`` is a writable folder or could be created; create nothing."""
    path = Path(folder).expanduser()
    if path.exists():
        if not path.is_dir():
            raise ValueError(f"{what} {str(folder)!r} exists and is not a folder")
        if not os.access(path, os.W_OK | os.X_OK):
            raise ValueError(f"{what} {str(folder)!r} is not writable")
        return
    ancestor = path.absolute()
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise ValueError(f"{what} {str(folder)!r} cannot be created: {ancestor} is a file")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise ValueError(f"{what} {str(folder)!r} cannot be created: {ancestor} is not writable")


def validate(config: ExperimentConfig) -> int:
    """Check everything knowable before training, without writing; return the teacher depth.

    Raises:
        ValueError, FileNotFoundError, ConnectionError: what is wrong and how to fix it.
    """
    check_teacher(config.teacher)
    check_task(config.task, config.text_column, config.label_column, option="task")
    for name in config.cross_domain:
        check_task(name, train=False, option="cross_domain")
    for train in (config.teacher_train, config.student_train):
        check_device(train.device, train.mixed_precision)
    check_writable(config.output_dir, "output_dir")
    n_teacher = teacher_depth(config.teacher)
    if config.distilbert_strategies:
        from ..distilbert import check_distilbert_model_type

        check_distilbert_model_type(teacher_type(config.teacher), config.teacher,
                                    "distilbert_strategies")
    plan(config, n_teacher)  # every layer map can be built, and no map is trained twice
    return n_teacher


def _subset(dataset, size: int | None, seed: int, what: str, log: Any):
    if size is None:
        return dataset
    if size > len(dataset):
        log(f"note: {what} asks for {size:,} sentences but the split has {len(dataset):,}: "
            "using all of them")
        return dataset
    return dataset.shuffle(seed=seed).select(range(size))


def prepare_data(
    config: ExperimentConfig, tokenizer: Any, log: Any = print
) -> tuple[DatasetDict, dict[str, Any]]:
    """Load, subsample and tokenise the task (and the cross-domain sets)."""
    data = load_task(config.task, text_column=config.text_column, label_column=config.label_column)
    data = DatasetDict(
        {
            split: _subset(data[split], getattr(config, f"{split}_size"), 0, f"{split}_size", log)
            for split in ("train", "validation", "test")
        }
    )
    tokens = tokenize(data, tokenizer, max_length=config.max_length)
    extra = {}
    for name in config.cross_domain:
        test = _subset(load_task(name)["test"], config.cross_domain_size, 0,
                       "cross_domain_size", log)
        extra[name] = tokenize(test, tokenizer, max_length=config.max_length)
    return tokens, extra
