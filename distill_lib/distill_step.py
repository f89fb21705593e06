"""The loss of one distillation batch (:class:`DistillStep`), for :func:`~.train.distill`.

With a logits-only loss the teacher's logits are computed once and cached; otherwise the
teacher runs on every batch (hidden states, attention maps). A loss whose layer map moves
(:class:`~distill_lib.layer_mapping.MovingMapLoss`) is told when each epoch begins and ends.
"""

from __future__ import annotations

import os
from typing import Any

import torch
from datasets import DatasetDict
from torch import Tensor
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from .device import placement
from .inference import model_inputs, teacher_logits
from .layer_mapping import MovingMapLoss
from .losses import DistillationLoss, LossOutput
from .train_config import TrainConfig

INDEX_COLUMN = "example_index"
"""The column :func:`~distill_lib.train.distill` adds: each training example's row, which
picks its cached teacher logits."""


class DistillStep:
    """The loss of one distillation batch: the student's outputs against the teacher's.

    With a logits-only loss the teacher's logits come from the cache made in
    :meth:`on_device`; otherwise the teacher runs on the batch (hidden states, attention).
    """

    def __init__(self, teacher: PreTrainedModel, loss_fn: DistillationLoss, config: TrainConfig,
                 data: DatasetDict, tokenizer: PreTrainedTokenizerBase,
                 logits_cache: bool | str | os.PathLike) -> None:
        self.teacher, self.loss_fn, self.config = teacher, loss_fn, config
        self.data, self.tokenizer, self.logits_cache = data, tokenizer, logits_cache
        self.every_step = loss_fn.needs_hidden_states or loss_fn.needs_attentions
        self.cached: Tensor | None = None

    def on_device(self, device: torch.device) -> None:
        """Move the teacher; compute (or load) its logits once if the loss needs only those."""
        if self.every_step:
            self.teacher.to(device).eval()
        elif self.loss_fn.needs_teacher_logits:
            self.teacher.to(device)
            self.cached = teacher_logits(
                self.teacher, self.data["train"], tokenizer=self.tokenizer,
                batch_size=self.config.eval_batch_size, cache=self.logits_cache,
                progress=self.config.progress,
                precision=placement(self.config.device, self.config.mixed_precision).precision,
            ).to(device)

    def __call__(self, model: PreTrainedModel, batch: dict[str, Tensor]) -> LossOutput:
        inputs = model_inputs(batch)
        flags = {
            "output_hidden_states": self.loss_fn.needs_hidden_states,
            "output_attentions": self.loss_fn.needs_attentions,
        }
        outputs_T: Any = None
        if self.every_step:
            with torch.no_grad():
                outputs_T = self.teacher(**inputs, **flags)
        elif self.cached is not None:
            outputs_T = self.cached[batch[INDEX_COLUMN]]
        outputs_S = model(**inputs, **flags) if self.every_step else model(**inputs)
        return self.loss_fn(outputs_S, outputs_T, batch["labels"], inputs.get("attention_mask"))

    def begin_epoch(self) -> None:
        """Before each epoch: a moving map draws its next map (``rail``)."""
        if isinstance(self.loss_fn, MovingMapLoss):
            self.loss_fn.begin_epoch()

    def epoch_log(self) -> dict[str, Any]:
        """After each epoch: what to add to its history row (the map or the ``alp`` weights)."""
        return self.loss_fn.epoch_log() if isinstance(self.loss_fn, MovingMapLoss) else {}
