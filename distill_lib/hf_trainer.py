"""Distillation with the Hugging Face ``Trainer``: the package's loss, the Trainer's loop.

If you already train with :class:`transformers.Trainer`, you can distil without learning a new
loop: :class:`DistillationTrainer` is a ``Trainer`` whose loss is the package's
:class:`~distill_lib.losses.DistillationLoss`, and :class:`DistillationTrainingArguments` is
``TrainingArguments`` with the distillation options as typed fields (they also work as
command-line flags with ``HfArgumentParser``)::

    from distill_lib import load_teacher, make_student
    from distill_lib.hf_trainer import DistillationTrainer, DistillationTrainingArguments

    student = make_student(teacher, "uniform", n_student=3)  # its layer map is in its config
    args = DistillationTrainingArguments(
        output_dir="runs/trainer", num_train_epochs=2, per_device_train_batch_size=8,
        learning_rate=1e-4, alpha=0.5, temperature=2.0,
    )
    trainer = DistillationTrainer(
        model=student, args=args, teacher=teacher, processing_class=tokenizer,
        train_dataset=tokens["train"], eval_dataset=tokens["validation"],
    )
    trainer.train()           # checkpoints, resuming, logging, callbacks: as with any Trainer

What it adds to the Trainer, and why:

* **The loss.** :meth:`DistillationTrainer.compute_loss` runs the student (asking for hidden
  states or attention maps only if a term needs them) and the teacher (no gradient), and
  returns ``DistillationLoss(outputs_S, outputs_T, labels, attention_mask).total``. It is a
  mean over the batch, so the Trainer divides it by ``gradient_accumulation_steps`` as usual.
* **The teacher's logits, computed once when the data allow it.** With only the soft-target
  and hard-label terms the teacher's logits are all the loss needs, and they never change:
  the trainer computes them once over the training set
  (:func:`distill_lib.inference.teacher_logits`, cached in memory and on disk) and looks each
  batch's rows up by an index column, ``example_index``, that it adds to its copy of the
  training set (and keeps past the Trainer's ``remove_unused_columns``). This needs a
  ``datasets.Dataset`` of token ids and a tokenizer as ``processing_class`` (to pad the
  teacher's batches). Otherwise, or when a term needs hidden states or attention maps (too
  large to cache), the teacher runs on every batch, as it does during evaluation.
* **The teacher is never trained.** It is moved to the trainer's device and put in eval mode
  (no dropout); it is not in the optimiser and runs under ``torch.no_grad()``. With
  ``attention_weight > 0`` both models are switched to eager attention (SDPA returns no maps).
* **The projection trains too.** If student and teacher widths differ, the hidden-state terms
  map the student's states through ``trainer.loss_fn.projection`` (a ``Linear``). Its
  parameters are added to the optimiser the trainer creates, their gradients are zeroed after
  every update as the Trainer zeroes the student's (gradient clipping, by the Trainer's rule,
  covers the student only), and it is saved next to every checkpoint
  (``distill_projection.safetensors``) and loaded back on resume, so a resumed run continues
  exactly. If you pass your own optimiser, include ``trainer.loss_fn.parameters()``.

The layer map (which teacher layer each student layer is matched with) comes from
``args.layer_map`` or, when that is None, from the student's ``config.distill_lib`` (written
by :func:`~distill_lib.student.make_student`), so ``make_student`` students need nothing more.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import Any

import torch
from datasets import Dataset
from safetensors.torch import load_file, save_file
from torch import Tensor, nn
from transformers import (
    PreTrainedModel,
    PreTrainedTokenizerBase,
    Trainer,
    TrainerCallback,
    TrainingArguments,
)
from transformers.modeling_outputs import SequenceClassifierOutput

from .inference import teacher_logits
from .layers import check_layer_list
from .loss_checks import check_alpha, check_loss_weight, check_temperature
from .losses import DistillationLoss
from .student import num_layers
from .train import INDEX_COLUMN, make_loss

__all__ = [
    "PROJECTION_FILE",
    "DistillationTrainer",
    "DistillationTrainingArguments",
    "make_trainer_loss",
]

logger = logging.getLogger(__name__)

PROJECTION_FILE = "distill_projection.safetensors"
"""The file, next to a checkpoint's model weights, that holds the hidden loss's projection."""

_WEIGHT_FIELDS = ("hidden_weight", "attention_weight", "cos_weight")


@dataclass
class DistillationTrainingArguments(TrainingArguments):
    """``TrainingArguments`` plus the options of :class:`~distill_lib.losses.DistillationLoss`.

    Every field of ``TrainingArguments`` works as usual (``num_train_epochs``,
    ``learning_rate``, ``save_steps``, ...). The distillation fields are checked when the
    arguments are made, by the same checks as :class:`~distill_lib.train_config.TrainConfig`
    (:mod:`distill_lib.loss_checks`): all bad fields are reported in one ``ValueError`` that
    names each of them, before the Trainer's own checks run.
    """

    alpha: float = field(
        default=0.5,
        metadata={"help": "Weight of the soft-target (teacher) loss, in [0, 1]; the hard-label "
                          "loss gets 1 - alpha. 0: no teacher at all, 1: no labels needed."},
    )
    temperature: float = field(
        default=2.0, metadata={"help": "Softmax temperature T > 0 of the soft-target loss."}
    )
    hidden_weight: float = field(
        default=0.0,
        metadata={"help": "Weight >= 0 of the PKD loss on the [CLS] states of matched layers."},
    )
    attention_weight: float = field(
        default=0.0,
        metadata={"help": "Weight >= 0 of the MSE between attention maps of matched layers."},
    )
    cos_weight: float = field(
        default=0.0,
        metadata={"help": "Weight >= 0 of DistilBERT's cosine loss on the last hidden states."},
    )
    layer_map: list[int] | None = field(
        default=None,
        metadata={"help": "Teacher layer (0-indexed) matched with each student layer; None: "
                          "read it from the student's config (make_student writes it)."},
    )

    def __post_init__(self) -> None:
        self._check_distillation_fields()
        super().__post_init__()

    def _check_distillation_fields(self) -> None:
        """Check (and normalise to float / list of ints) the six distillation fields."""
        problems: list[str] = []
        rules = {"alpha": check_alpha, "temperature": check_temperature}
        rules.update({name: check_loss_weight for name in _WEIGHT_FIELDS})
        for name, rule in rules.items():
            try:
                setattr(self, name, rule(getattr(self, name), name))
            except ValueError as err:
                problems.append(str(err))
        if self.layer_map is not None:
            try:
                self.layer_map = check_layer_list(self.layer_map)
            except ValueError as err:
                problems.append(f"layer_map: {err}")
        if problems:
            raise ValueError("invalid distillation arguments: " + "; ".join(problems))


def make_trainer_loss(
    args: DistillationTrainingArguments, student: PreTrainedModel, teacher: PreTrainedModel
) -> DistillationLoss:
    """The :class:`DistillationLoss` the arguments ask for, as :func:`distill_lib.train.make_loss`.

    The layer map is ``args.layer_map``, else the student's own (``make_student`` students);
    the widths give the loss a projection when they differ. A layer map that does not fit the
    two models is rejected here, before any training, if an intermediate term will use it.
    """
    loss_fn = make_loss(args, student, teacher, args.layer_map)
    if args.hidden_weight > 0 or args.attention_weight > 0:  # the terms that match layers
        loss_fn._teacher_layers(num_layers(student), num_layers(teacher))  # raises if unfit
    return loss_fn


class _ZeroLossGradients(TrainerCallback):
    """Zero the loss's gradients after each optimiser step (the Trainer zeroes the model's only).

    Without it the projection's gradients would pile up over the whole run.
    """

    def __init__(self, loss_fn: nn.Module) -> None:
        self.loss_fn = loss_fn

    def on_optimizer_step(self, args: TrainingArguments, state: Any, control: Any,
                          **kwargs: Any) -> None:
        self.loss_fn.zero_grad(set_to_none=True)


class DistillationTrainer(Trainer):
    """A :class:`transformers.Trainer` that distils ``teacher`` into ``model`` (the student).

    Args:
        *args, **kwargs: those of ``Trainer``; ``args`` must be a
            :class:`DistillationTrainingArguments`. Pass the tokenizer as ``processing_class``
            to let the teacher's logits be computed once.
        teacher: the fine-tuned teacher. It is put in eval mode on the trainer's device and
            is never trained.
        logits_cache: where :func:`~distill_lib.inference.teacher_logits` keeps the cached
            logits: ``True`` (the package's cache folder), a folder, or ``False`` (memory
            only for this trainer, recomputed by the next one).

    Attributes:
        teacher: the teacher model.
        loss_fn: the :class:`DistillationLoss` (with its projection, if any).
        cached_logits: the teacher's logits over the training set, ``(rows, num_labels)`` on
            the trainer's device, or None when the teacher runs on every batch.
    """

    loss_is_scaled_for_ga = False  # a per-batch mean: the Trainer divides by the GA steps

    def __init__(
        self,
        *args: Any,
        teacher: PreTrainedModel,
        logits_cache: bool | str | os.PathLike = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        if not isinstance(self.args, DistillationTrainingArguments):
            raise TypeError(
                "DistillationTrainer needs args=DistillationTrainingArguments(...) (the "
                f"distillation options live there), got {type(self.args).__name__}"
            )
        if self.model is None:
            raise TypeError("DistillationTrainer needs the student as model= (not model_init)")
        self.model_accepts_loss_kwargs = False  # the loss never takes num_items_in_batch
        self.teacher = teacher
        self.loss_fn = make_trainer_loss(self.args, self.model, teacher).to(self.args.device)
        if self.loss_fn.needs_attentions:
            for model in (self.model, teacher):
                model.set_attn_implementation("eager")  # sdpa cannot return attention maps
        teacher.to(self.args.device).eval()
        if self.loss_fn.projection is not None:
            self.add_callback(_ZeroLossGradients(self.loss_fn))
        self.cached_logits: Tensor | None = None
        if self._can_cache_logits():
            self._cache_teacher_logits(logits_cache)

    # -- the teacher's logits, once --------------------------------------------------------

    def _can_cache_logits(self) -> bool:
        """True if the loss needs only the teacher's logits and the data let them be cached."""
        loss_fn = self.loss_fn
        logits_only = loss_fn.needs_teacher_logits and not (
            loss_fn.needs_hidden_states or loss_fn.needs_attentions
        )
        data = self.train_dataset
        return (
            logits_only
            and isinstance(data, Dataset)
            and "input_ids" in data.column_names
            and isinstance(self.processing_class, PreTrainedTokenizerBase)
        )

    def _cache_teacher_logits(self, cache: bool | str | os.PathLike) -> None:
        """Compute the logits over the training set and add the index column that finds them."""
        data: Dataset = self.train_dataset
        if INDEX_COLUMN in data.column_names:  # the package's name for this column: replace it
            data = data.remove_columns(INDEX_COLUMN)
        precision = "bf16" if self.args.bf16 else "fp16" if self.args.fp16 else "no"
        logits = teacher_logits(
            self.teacher, data, tokenizer=self.processing_class,
            batch_size=self.args.per_device_eval_batch_size, cache=cache, precision=precision,
        )
        self.cached_logits = logits.to(self.args.device)
        self.train_dataset = data.add_column(INDEX_COLUMN, list(range(len(data))))

    def _set_signature_columns_if_needed(self) -> None:
        """The model's inputs and the labels (as the Trainer keeps), and the index column."""
        super()._set_signature_columns_if_needed()
        if INDEX_COLUMN not in self._signature_columns:
            self._signature_columns.append(INDEX_COLUMN)

    # -- the loss ------------------------------------------------------------------------

    def compute_loss(
        self,
        model: nn.Module,
        inputs: dict[str, Tensor | Any],
        return_outputs: bool = False,
        num_items_in_batch: Tensor | int | None = None,
    ) -> Tensor | tuple[Tensor, SequenceClassifierOutput]:
        """``DistillationLoss(student outputs, teacher outputs, labels, mask).total``.

        ``num_items_in_batch`` is not used: every term is a mean over this batch (the Trainer
        then divides by the gradient accumulation steps). With ``return_outputs`` (evaluation)
        the outputs are the student's loss and logits only, so that ``compute_metrics`` sees
        the logits and not the hidden states.
        """
        index = inputs.get(INDEX_COLUMN)
        labels = inputs.get("labels")
        features = {k: v for k, v in inputs.items() if k not in (INDEX_COLUMN, "labels")}
        flags = self._output_flags()
        outputs_S = model(**features, **flags)
        outputs_T = self._teacher_outputs(features, flags, index, model.training)
        loss = self.loss_fn(outputs_S, outputs_T, labels, features.get("attention_mask")).total
        if return_outputs:
            return loss, SequenceClassifierOutput(loss=loss, logits=outputs_S.logits)
        return loss

    def _output_flags(self) -> dict[str, bool]:
        """Ask the models for hidden states / attention maps only if a loss term reads them."""
        flags = {}
        if self.loss_fn.needs_hidden_states:
            flags["output_hidden_states"] = True
        if self.loss_fn.needs_attentions:
            flags["output_attentions"] = True
        return flags

    def _teacher_outputs(
        self, features: dict[str, Tensor], flags: dict[str, bool], index: Tensor | None,
        training: bool,
    ) -> Any:
        """The cached logits of these training rows, else a no-grad teacher pass (or None).

        The cache covers the training set only, so evaluation batches always run the teacher.
        """
        loss_fn = self.loss_fn
        if not (loss_fn.needs_teacher_logits or flags):
            return None  # alpha = 0 and no intermediate term: the teacher is not needed
        if training and index is not None and self.cached_logits is not None:
            return self.cached_logits[index.to(self.cached_logits.device)]
        if self.teacher.training:
            self.teacher.eval()  # someone switched it back: the teacher never uses dropout
        with torch.no_grad():
            return self.teacher(**features, **flags)

    # -- the projection: trained, saved and loaded with the student ------------------------

    def create_optimizer(self, model: nn.Module | None = None) -> torch.optim.Optimizer:
        """The Trainer's optimiser, with the loss's projection (if any) as extra groups."""
        given = self.optimizer is not None
        optimizer = super().create_optimizer(model)
        params = [p for p in self.loss_fn.parameters() if p.requires_grad]
        present = {id(p) for group in optimizer.param_groups for p in group["params"]}
        missing = [p for p in params if id(p) not in present]
        if missing and given:
            raise ValueError(
                "the optimiser passed to DistillationTrainer does not train the hidden loss's "
                "projection: include trainer.loss_fn.parameters() in it"
            )
        if missing:
            decay = [p for p in missing if p.ndim >= 2]  # as the Trainer: no decay on biases
            no_decay = [p for p in missing if p.ndim < 2]
            for group, weight_decay in ((decay, self.args.weight_decay), (no_decay, 0.0)):
                if group:
                    optimizer.add_param_group({"params": group, "weight_decay": weight_decay})
        return optimizer

    def _save(self, output_dir: str | None = None, state_dict: dict | None = None) -> None:
        """Save the student as the Trainer does, and the projection next to it."""
        super()._save(output_dir, state_dict=state_dict)
        output_dir = output_dir if output_dir is not None else self.args.output_dir
        if self.loss_fn.projection is not None and self.args.should_save:
            state = {k: v.detach().cpu().contiguous() for k, v in self.loss_fn.state_dict().items()}
            save_file(state, os.path.join(output_dir, PROJECTION_FILE))

    def _load_projection(self, folder: str | None) -> None:
        """Load the projection saved in ``folder`` (a checkpoint), if the loss has one."""
        if self.loss_fn.projection is None or folder is None:
            return
        path = os.path.join(folder, PROJECTION_FILE)
        if not os.path.isfile(path):
            logger.warning("%s has no %s: the projection of the hidden loss starts afresh",
                           folder, PROJECTION_FILE)
            return
        self.loss_fn.load_state_dict(load_file(path, device=str(self.args.device)))

    def _load_from_checkpoint(self, resume_from_checkpoint: str, model: nn.Module | None = None
                              ) -> None:
        super()._load_from_checkpoint(resume_from_checkpoint, model)
        self._load_projection(resume_from_checkpoint)

    def _load_best_model(self) -> None:
        super()._load_best_model()
        self._load_projection(self.state.best_model_checkpoint)
