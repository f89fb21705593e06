"""Less work per example: the last encoder layer computed for the first token only.

A sequence classifier reads one vector: the last layer's hidden state of the first token
(``[CLS]`` for BERT, ``<s>`` for RoBERTa). Every earlier layer must still run on all tokens,
because the first token attends to all of them, but in the *last* layer only the first row
is ever read. So that layer needs the keys and values of every token and everything else
(query, attention output, feed-forward, layer norms) for one token::

    full last layer, per token:   4 H^2 (q, k, v, out) + 2 H I (feed-forward)
    first token only:             2 H^2 (k, v) per token + the rest once per sentence

With ``I = 4H`` that is about 1/6 of the layer's matmuls, so a 3-layer student does about
28% less work per step (measured on the MiniLM student here: see ``benchmarks/README.md``).
The logits are the same up to float rounding (checked in ``tests/test_fast.py``). In training,
dropout then draws fewer random numbers, so a run is not bit-identical to a full-layer run
with the same seed, though it is the same recipe; that is why
:attr:`~distill_lib.train.TrainConfig.cls_only_last_layer` is part of a run's key.

Covered: the BERT layer and its copies (BERT/MiniLM, RoBERTa, XLM-R, ELECTRA). Other families
(MPNet, DistilBERT) run their full last layer; :func:`supports_cls_only` says which is which.
It is never used when a loss reads hidden states or attention maps.
"""

from __future__ import annotations

import contextlib
import types
from collections.abc import Iterator

import torch
from torch import nn

from .student import encoder_layers

__all__ = ["cls_only_last_layer", "supports_cls_only"]


def _bert_style(layer: nn.Module) -> bool:
    attention = getattr(layer, "attention", None)
    self_attention = getattr(attention, "self", None)
    return (
        all(hasattr(self_attention, name) for name in ("query", "key", "value", "scaling"))
        and hasattr(attention, "output")
        and hasattr(layer, "feed_forward_chunk")
        and not getattr(layer, "is_decoder", False)
    )


def supports_cls_only(model: nn.Module) -> bool:
    """Whether :func:`cls_only_last_layer` shortens ``model``'s last layer."""
    try:
        layers = encoder_layers(model)
    except TypeError:
        return False
    return len(layers) > 0 and _bert_style(layers[-1])


def _first_token_forward(
    self: nn.Module,
    hidden_states: torch.Tensor,
    attention_mask: torch.Tensor | None = None,
    *args: object,
    **kwargs: object,
) -> torch.Tensor:
    """A BERT layer's forward for the first token only.

    Args:
        hidden_states: ``(batch, seq_len, hidden)``, the layer's input.
        attention_mask: what the encoder passes its layers: ``None``, or an additive/boolean
            mask of shape ``(batch, 1, seq_len or 1, seq_len)``.

    Returns:
        ``(batch, 1, hidden)``: the layer's output for the first token.
    """
    from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS
    from transformers.models.bert.modeling_bert import eager_attention_forward

    sa = self.attention.self
    batch, seq_len, _ = hidden_states.shape
    first = hidden_states[:, :1]
    head = sa.attention_head_size
    query = sa.query(first).view(batch, 1, -1, head).transpose(1, 2)
    key = sa.key(hidden_states).view(batch, seq_len, -1, head).transpose(1, 2)
    value = sa.value(hidden_states).view(batch, seq_len, -1, head).transpose(1, 2)
    mask = attention_mask
    if mask is not None and mask.dim() == 4 and mask.shape[-2] > 1:
        mask = mask[..., :1, :]  # the first query's row
    attend = ALL_ATTENTION_FUNCTIONS.get_interface(
        sa.config._attn_implementation, eager_attention_forward
    )
    context, _ = attend(
        sa,
        query,
        key,
        value,
        mask,
        dropout=sa.dropout.p if self.training else 0.0,
        scaling=sa.scaling,
    )
    context = context.reshape(batch, 1, -1).contiguous()
    attention_output = self.attention.output(context, first)
    return self.feed_forward_chunk(attention_output)


@contextlib.contextmanager
def cls_only_last_layer(model: nn.Module, enabled: bool = True) -> Iterator[bool]:
    """Within the block, ``model``'s last layer computes the first token only.

    Yields whether it applies (``enabled`` and :func:`supports_cls_only`). Inside the block
    ``last_hidden_state`` has length 1, so use it only for the logits of a sequence
    classifier, never with ``output_hidden_states``/``output_attentions``. The layer's own
    forward is put back on exit, also after an error.
    """
    if not (enabled and supports_cls_only(model)):
        yield False
        return
    layer = encoder_layers(model)[-1]
    if "forward" in vars(layer):  # already inside such a block (e.g. validation in training)
        yield True
        return
    layer.forward = types.MethodType(_first_token_forward, layer)
    try:
        yield True
    finally:
        del layer.forward  # the class's forward again
