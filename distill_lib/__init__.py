"""distill_lib: which teacher layers should initialise a distilled transformer student?

The public API in one screen::

    import distill_lib as d

    d.select_layers("uniform", 12, 6)          # [0, 2, 4, 7, 9, 11], DistilBERT's choice
    data = d.load_task()                        # offline: 10,568 rated movie-review snippets
    teacher, tokenizer = d.load_teacher()       # offline: all-MiniLM-L6-v2 (6 layers)
    tokens = d.tokenize(data, tokenizer)
    d.fine_tune(teacher, tokens, d.TrainConfig(epochs=2), tokenizer=tokenizer)
    student = d.make_student(teacher, d.select_layers("uniform", 6, 3))
    result = d.distill(student, teacher, tokens, d.TrainConfig(), tokenizer=tokenizer)
    results = d.compare_strategies(d.ExperimentConfig.preset("quick"))

Modules: :mod:`~distill_lib.layers` (which layers), :mod:`~distill_lib.student` (copying them),
:mod:`~distill_lib.teacher`, :mod:`~distill_lib.data`, :mod:`~distill_lib.losses`,
:mod:`~distill_lib.train` (the loop), :mod:`~distill_lib.experiment` (comparisons),
:mod:`~distill_lib.stats`, :mod:`~distill_lib.plots`, :mod:`~distill_lib.cli`.
"""

import importlib
from typing import Any

_EXPORTS: dict[str, str] = {
    "list_tasks": "data",
    "load_task": "data",
    "make_dataloader": "data",
    "tokenize": "data",
    "ExperimentConfig": "experiment",
    "Results": "experiment",
    "compare_strategies": "experiment",
    "load_results": "experiment",
    "ALIASES": "layers",
    "DATA_DRIVEN": "layers",
    "STRATEGIES": "layers",
    "layer_table": "layers",
    "select_layers": "layers",
    "MovingMapLoss": "layer_mapping",
    "alp_hidden_loss": "layer_mapping",
    "rail_map": "layer_mapping",
    "DistillationLoss": "losses",
    "attention_loss": "losses",
    "hard_label_loss": "losses",
    "hidden_cosine_loss": "losses",
    "hidden_mse_loss": "losses",
    "soft_target_loss": "losses",
    "choose_layers": "selection",
    "measure_layers": "selection",
    "layer_map": "student",
    "make_student": "student",
    "num_layers": "student",
    "load_teacher": "teacher",
    "TrainConfig": "train_config",
    "DistillationTrainer": "hf_trainer",
    "DistillationTrainingArguments": "hf_trainer",
    "distill": "train",
    "evaluate_model": "train",
    "fine_tune": "train",
    "teacher_logits": "train",
}
"""Public names and their modules. They are imported on first use (PEP 562), so that
``import distill_lib`` and ``distill-lib --help`` do not pay for torch until it is needed."""


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])


__version__ = "0.1.0"

__all__ = sorted(_EXPORTS)  # the export table is the one list of public names
