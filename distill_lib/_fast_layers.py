"""The rewritten layer forwards behind :mod:`distill_lib.fast`, one pair per layer design.

Each design (``bert``: BERT and its copies; ``mpnet``: MPNet) has two forwards:

* ``first_token``: the layer's output for the first token only, ``(batch, 1, hidden)``;
* ``unpadded``: the layer's output with every matmul, layer norm and activation run on the
  real tokens only, ``(batch, seq_len, hidden)`` with zeros at padding positions.

They are called with the arguments the encoder gives the layer and return what the stock
layer returns (BERT's layers a tensor, MPNet's a 1-tuple). :mod:`distill_lib.fast` decides
whether they may run (:mod:`distill_lib._fast_guard`); this module only computes. The exact
equality with the stock layers is tested in ``tests/test_fast.py`` for every design, with
dropout on, for the losses and gradients.

MPNet differs from BERT in three ways that matter here: its attention is always explicit
matmuls (scores, softmax, dropout on the probabilities, the values), never sdpa; the encoder
computes a relative-position bias ``(batch, heads, seq_len, seq_len)`` once per batch and adds
it to every layer's scores, so the first-token forward keeps its first query row and the
padding-free forward uses it whole (the attention itself runs at the padded shape); and its
attention output projection ``o`` sits inside the attention module, before that module's own
dropout and layer norm.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["FORWARDS", "real_tokens"]


# ---------------------------------------------------------------------------------------------
# Shared by both designs


def real_tokens(attention_mask: torch.Tensor | None, batch: int, seq_len: int):
    """``(batch * seq_len,)`` indices of the real tokens, from the mask a layer receives
    (boolean, True = attend, or additive, 0 = attend; ``(batch, 1, seq_len, seq_len)``);
    None when there is no padding or the mask has another form."""
    if attention_mask is None or attention_mask.dim() != 4:
        return None
    if attention_mask.shape[0] != batch or attention_mask.shape[-1] != seq_len:
        return None
    first_row = attention_mask[:, 0, 0, :]  # what the first token may attend to: (batch, seq)
    real = first_row if first_row.dtype == torch.bool else first_row == 0
    if bool(real.all()):
        return None
    return real.reshape(-1).nonzero().squeeze(1)


def _dropout_rows(x: torch.Tensor, dropout: nn.Module, rows: int, index: torch.Tensor):
    """``dropout`` on the rows ``index`` of a ``(rows, hidden)`` tensor, with the mask a dropout
    on the whole padded tensor would draw (same random numbers, same order)."""
    p = float(dropout.p)
    if not dropout.training or p == 0.0:
        return x
    noise = x.new_empty(rows, x.shape[-1]).bernoulli_(1 - p).div_(1 - p)
    return x * noise.index_select(0, index)


def _heads(t: torch.Tensor, batch: int, seq_len: int, head: int) -> torch.Tensor:
    """``(batch, seq_len, H)`` -> ``(batch, heads, seq_len, head)``."""
    return t.view(batch, seq_len, -1, head).transpose(1, 2)


def _scatter(t: torch.Tensor, index: torch.Tensor, rows: int) -> torch.Tensor:
    """``(tokens, H)`` at the real positions ``index`` -> ``(rows, H)``, zeros elsewhere."""
    return t.new_zeros(rows, t.shape[-1]).index_copy(0, index, t)


def _first_query_row(mask: torch.Tensor | None) -> torch.Tensor | None:
    """The first query's row of a ``(batch, 1 or heads, q_len, seq_len)`` mask or bias."""
    if mask is not None and mask.dim() == 4 and mask.shape[-2] > 1:
        return mask[..., :1, :]
    return mask


# ---------------------------------------------------------------------------------------------
# BERT and its copies


def _bert_attention(
    layer: nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    mask: torch.Tensor | None,
) -> torch.Tensor:
    """The BERT layer's attention core, as its own forward calls it.

    ``query`` ``(batch, heads, q_len, head)``, ``key``/``value`` ``(batch, heads, seq_len,
    head)``; returns the context ``(batch, q_len, heads, head)`` from the model's attention
    implementation (sdpa or eager), with the layer's attention dropout when training.
    """
    from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS
    from transformers.models.bert.modeling_bert import eager_attention_forward

    sa = layer.attention.self
    attend = ALL_ATTENTION_FUNCTIONS.get_interface(
        sa.config._attn_implementation, eager_attention_forward
    )
    context, _ = attend(
        sa, query, key, value, mask,
        dropout=sa.dropout.p if layer.training else 0.0, scaling=sa.scaling,
    )
    return context


def bert_first_token(
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
    sa = self.attention.self
    batch, seq_len, _ = hidden_states.shape
    first = hidden_states[:, :1]
    head = sa.attention_head_size
    query = _heads(sa.query(first), batch, 1, head)
    key = _heads(sa.key(hidden_states), batch, seq_len, head)
    value = _heads(sa.value(hidden_states), batch, seq_len, head)
    context = _bert_attention(self, query, key, value, _first_query_row(attention_mask))
    context = context.reshape(batch, 1, -1).contiguous()
    attention_output = self.attention.output(context, first)
    return self.feed_forward_chunk(attention_output)


def bert_unpadded(
    self: nn.Module,
    hidden_states: torch.Tensor,
    attention_mask: torch.Tensor | None = None,
    *args: object,
    **kwargs: object,
) -> torch.Tensor:
    """A BERT layer's forward whose matmuls see only the real tokens.

    Args:
        hidden_states: ``(batch, seq_len, hidden)``.
        attention_mask: what the encoder passes its layers (see :func:`real_tokens`).

    Returns:
        ``(batch, seq_len, hidden)``; zeros at padding positions.
    """
    batch, seq_len, hidden = hidden_states.shape
    index = real_tokens(attention_mask, batch, seq_len)
    if index is None:
        return type(self).forward(self, hidden_states, attention_mask, *args, **kwargs)
    rows = batch * seq_len
    x = hidden_states.reshape(rows, hidden).index_select(0, index)  # (tokens, hidden)
    sa = self.attention.self
    query, key, value = (
        _heads(_scatter(part(x), index, rows), batch, seq_len, sa.attention_head_size)
        for part in (sa.query, sa.key, sa.value)
    )
    context = _bert_attention(self, query, key, value, attention_mask)
    context = context.reshape(rows, -1).index_select(0, index)  # (tokens, H)
    out = self.attention.output
    attention_output = out.LayerNorm(
        _dropout_rows(out.dense(context), out.dropout, rows, index) + x
    )
    ffn = self.output
    intermediate = self.intermediate(attention_output)
    layer_output = ffn.LayerNorm(
        _dropout_rows(ffn.dense(intermediate), ffn.dropout, rows, index) + attention_output
    )
    return _scatter(layer_output, index, rows).view(batch, seq_len, -1)


# ---------------------------------------------------------------------------------------------
# MPNet


def _mpnet_attention(
    sa: nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    bias: torch.Tensor | None,
    mask: torch.Tensor | None,
) -> torch.Tensor:
    """MPNet's attention core, in the order its ``MPNetSelfAttention`` computes it.

    ``query`` ``(batch, heads, q_len, head)``, ``key``/``value`` ``(batch, heads, seq_len,
    head)``, ``bias`` (relative positions) and ``mask`` (additive) broadcastable to ``(batch,
    heads, q_len, seq_len)``; returns the context ``(batch, heads, q_len, head)``. The
    dropout on the probabilities is the module's own (same shape as the stock layer's for
    the padding-free forward, so the same random numbers).
    """
    scores = torch.matmul(query, key.transpose(-1, -2)) / math.sqrt(sa.attention_head_size)
    if bias is not None:
        scores = scores + bias
    if mask is not None:
        scores = scores + mask
    return torch.matmul(sa.dropout(F.softmax(scores, dim=-1)), value)


def mpnet_first_token(
    self: nn.Module,
    hidden_states: torch.Tensor,
    attention_mask: torch.Tensor | None = None,
    position_bias: torch.Tensor | None = None,
    *args: object,
    **kwargs: object,
) -> tuple[torch.Tensor]:
    """An MPNet layer's forward for the first token only.

    Args:
        hidden_states: ``(batch, seq_len, hidden)``.
        attention_mask: additive, ``(batch, 1, seq_len or 1, seq_len)``, or None.
        position_bias: the encoder's relative-position bias ``(batch, heads, seq_len,
            seq_len)``, or None.

    Returns:
        ``((batch, 1, hidden),)``, as the stock layer returns its output.
    """
    attention, sa = self.attention, self.attention.attn
    batch, seq_len, _ = hidden_states.shape
    first = hidden_states[:, :1]
    head = sa.attention_head_size
    query = _heads(sa.q(first), batch, 1, head)
    key = _heads(sa.k(hidden_states), batch, seq_len, head)
    value = _heads(sa.v(hidden_states), batch, seq_len, head)
    context = _mpnet_attention(
        sa, query, key, value, _first_query_row(position_bias), _first_query_row(attention_mask)
    )
    context = context.permute(0, 2, 1, 3).reshape(batch, 1, -1)
    attention_output = attention.LayerNorm(attention.dropout(sa.o(context)) + first)
    return (self.output(self.intermediate(attention_output), attention_output),)


def mpnet_unpadded(
    self: nn.Module,
    hidden_states: torch.Tensor,
    attention_mask: torch.Tensor | None = None,
    position_bias: torch.Tensor | None = None,
    *args: object,
    **kwargs: object,
) -> tuple[torch.Tensor]:
    """An MPNet layer's forward whose matmuls see only the real tokens (arguments as for
    :func:`mpnet_first_token`); returns ``((batch, seq_len, hidden),)``, zeros at padding."""
    batch, seq_len, hidden = hidden_states.shape
    index = real_tokens(attention_mask, batch, seq_len)
    if index is None:
        return type(self).forward(
            self, hidden_states, attention_mask, position_bias, *args, **kwargs
        )
    rows = batch * seq_len
    x = hidden_states.reshape(rows, hidden).index_select(0, index)  # (tokens, hidden)
    attention, sa = self.attention, self.attention.attn
    query, key, value = (
        _heads(_scatter(part(x), index, rows), batch, seq_len, sa.attention_head_size)
        for part in (sa.q, sa.k, sa.v)
    )
    context = _mpnet_attention(sa, query, key, value, position_bias, attention_mask)
    context = context.permute(0, 2, 1, 3).reshape(rows, -1).index_select(0, index)
    attention_output = attention.LayerNorm(
        _dropout_rows(sa.o(context), attention.dropout, rows, index) + x
    )
    ffn = self.output
    intermediate = self.intermediate(attention_output)
    layer_output = ffn.LayerNorm(
        _dropout_rows(ffn.dense(intermediate), ffn.dropout, rows, index) + attention_output
    )
    return (_scatter(layer_output, index, rows).view(batch, seq_len, -1),)


FORWARDS: dict[str, dict[str, str]] = {
    "bert": {"cls_only": "bert_first_token", "unpadded": "bert_unpadded"},
    "mpnet": {"cls_only": "mpnet_first_token", "unpadded": "mpnet_unpadded"},
}
"""Layer design (``_fast_guard.Layout.family``) -> lever -> the name of its forward here
(looked up by name at each call, so a test can replace one)."""
