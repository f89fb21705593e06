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

from .data import list_tasks, load_task, make_dataloader, tokenize
from .experiment import ExperimentConfig, Results, compare_strategies, load_results
from .layers import ALIASES, STRATEGIES, layer_table, select_layers
from .losses import (
    DistillationLoss,
    attention_loss,
    hard_label_loss,
    hidden_cosine_loss,
    hidden_mse_loss,
    soft_target_loss,
)
from .student import layer_map, make_student, num_layers
from .teacher import load_teacher
from .train import TrainConfig, distill, evaluate_model, fine_tune, teacher_logits

__version__ = "0.1.0"

__all__ = [
    "ALIASES",
    "STRATEGIES",
    "DistillationLoss",
    "ExperimentConfig",
    "Results",
    "TrainConfig",
    "attention_loss",
    "compare_strategies",
    "distill",
    "evaluate_model",
    "fine_tune",
    "hard_label_loss",
    "hidden_cosine_loss",
    "hidden_mse_loss",
    "layer_map",
    "layer_table",
    "list_tasks",
    "load_results",
    "load_task",
    "load_teacher",
    "make_dataloader",
    "make_student",
    "num_layers",
    "select_layers",
    "soft_target_loss",
    "teacher_logits",
    "tokenize",
]
