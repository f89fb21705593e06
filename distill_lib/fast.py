"""Less work per example, same model: three shortcuts used by the training loop.

1. :func:`cls_only_last_layer`: the last encoder layer computed for the first token only.
2. :func:`unpadded_layers`: the other layers' matmuls skip the padding tokens.
3. :func:`compact_word_embeddings`: only the vocabulary rows the data contains are trained.

Where they are exact, and where they are not used
-------------------------------------------------

Where a shortcut is used, the model computes what the stock model computes, up to float
rounding; where that is not known, the stock code runs (:mod:`distill_lib._fast_guard`):

* 1 and 2 rewrite a layer's forward, so they patch only the (layer class, attention
  implementation) pairs they were written for (``_fast_guard.ALLOW_LIST``): the BERT layer
  and its copies (BERT/MiniLM, RoBERTa, XLM-R, ELECTRA) with ``eager`` or ``sdpa``
  attention, and the MPNet layer (its own explicit attention, with the relative-position
  bias carried through; the forwards are in :mod:`distill_lib._fast_layers`). Other families
  (DistilBERT, subclasses of these layers), ``flex_attention`` and flash attention, a mask
  that is not a 4-d tensor (or, for MPNet, not additive), an MPNet layer asked for its
  attention maps (BERT's layers are not asked: transformers 5 records them with hooks, and
  the training loop never uses the levers with a loss that reads them), and a layer whose
  forward other code replaced (an ``accelerate`` hook) keep the stock layer;
  :func:`supports_cls_only` says which is which.
* Before 1 or 2 is first used for a (layer class, attention implementation, device type,
  dtype), it runs next to the stock layer on a tiny batch; if they differ it stays off.
* With dropout on, 2 reproduces the stock layer's dropout masks on the CPU only (see "No
  matmuls for padding tokens"); on other devices it is not used while training with dropout.
  1 draws fewer dropout numbers in training on any device: the same recipe, not the same run.
* 3 is not a layer rewrite; before it is used, its lookup of a few rows is compared with the
  full embedding's.

Each fallback is logged once per process, as a warning on ``logging.getLogger(
"distill_lib.fast")``.

The first token only
--------------------

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
It is never used when a loss reads hidden states or attention maps.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from . import _fast_guard as _guard
from . import _fast_layers as _layers_module
from .student import encoder_layers

__all__ = [
    "CompactRows",
    "cls_only_last_layer",
    "compact_word_embeddings",
    "supports_cls_only",
    "unpadded_layers",
]


def supports_cls_only(model: nn.Module) -> bool:
    """Whether :func:`cls_only_last_layer` shortens ``model``'s last layer (its class and
    attention implementation are on the allow-list, no other code replaced its forward)."""
    try:
        layers = encoder_layers(model)
    except TypeError:
        return False
    return len(layers) > 0 and _guard.refusal("cls_only", layers[-1]) is None


def _forward(lever: str, layer: nn.Module) -> Callable[..., object]:
    """The rewritten forward for ``layer``'s design (looked up at each call, so a test can
    replace it in :mod:`distill_lib._fast_layers`)."""
    layout = _guard.layout(layer)
    if layout is None:  # the class changed since it was patched: the guard refuses it anyway
        return type(layer).forward
    return getattr(_layers_module, _layers_module.FORWARDS[layout.family][lever])


def _cls_only_layer_forward(
    self: nn.Module,
    hidden_states: torch.Tensor,
    attention_mask: torch.Tensor | None = None,
    *args: object,
    **kwargs: object,
) -> torch.Tensor:
    """The forward :func:`cls_only_last_layer` installs: the first-token forward of the
    layer's design where it is known to give the stock layer's first row, the layer's own
    forward otherwise."""
    forward = _forward("cls_only", self)
    if _guard.usable("cls_only", self, forward, hidden_states, attention_mask, kwargs):
        return forward(self, hidden_states, attention_mask, *args, **kwargs)
    return type(self).forward(self, hidden_states, attention_mask, *args, **kwargs)


@contextlib.contextmanager
def cls_only_last_layer(model: nn.Module, enabled: bool = True) -> Iterator[bool]:
    """Within the block, ``model``'s last layer computes the first token only.

    Yields whether it was switched on (``enabled`` and :func:`supports_cls_only`); a call
    the guards refuse later (another mask, a failed self-check) still runs the full layer.
    Inside the block ``last_hidden_state`` may have length 1, so use it only for the logits
    of a sequence classifier, never with ``output_hidden_states``/``output_attentions``. The
    layer's forward from before is put back on exit, also after an error.
    """
    layers = _layers(model, "cls_only") if enabled else []
    if not layers:
        yield False
        return
    layer = layers[-1]
    if _guard.patched_by(layer) == "cls_only":
        yield True  # already inside such a block (e.g. validation in training)
        return
    reason = _guard.refusal("cls_only", layer)
    if reason is not None:
        _guard.log_once("cls_only", type(layer).__name__, reason)
        yield False
        return
    _guard.install(layer, "cls_only", _cls_only_layer_forward)
    try:
        yield True
    finally:
        _guard.uninstall(layer)


def _layers(model: nn.Module, lever: str) -> list[nn.Module]:
    """``model``'s encoder layers; [] (logged) for a model without any."""
    try:
        return list(encoder_layers(model))
    except TypeError:
        _guard.log_once(lever, type(model).__name__, "no encoder layers found")
        return []


# ---------------------------------------------------------------------------------------------
# No matmuls for padding tokens
#
# A batch is padded to its longest sentence; even with length-grouped batches 3-15% of the
# positions are padding (15.4% for 1,000 movie snippets at batch 32). Padding tokens are never
# attended to and never read, yet every linear layer computes them. Here each layer (but the
# last, see above) gathers the real tokens into a ``(tokens, hidden)`` matrix, runs the query,
# key, value, output and feed-forward matmuls and the layer norms on it, and scatters back only
# for the attention itself, which needs the ``(batch, heads, seq, seq)`` layout. The two
# hidden-state dropouts draw their masks at the padded shape and keep the real tokens' rows.
# On the CPU ``bernoulli_`` on that shape consumes the random stream exactly as the padded
# layer's ``nn.Dropout`` does: the same run, up to float rounding (``tests/test_fast.py``
# checks losses and gradients with dropout on). CUDA's dropout kernel draws its numbers
# differently, so on any other device the stock layer runs while training with dropout
# (evaluation, or dropout 0, is exact everywhere). Padding positions come out as zeros
# instead of values nobody reads.


def _unpadded_layer_forward(
    self: nn.Module,
    hidden_states: torch.Tensor,
    attention_mask: torch.Tensor | None = None,
    *args: object,
    **kwargs: object,
) -> torch.Tensor:
    """The forward :func:`unpadded_layers` installs: the padding-free forward of the layer's
    design where it is known to give the stock layer's result, the layer's own forward
    otherwise."""
    forward = _forward("unpadded", self)
    if _guard.usable("unpadded", self, forward, hidden_states, attention_mask, kwargs):
        return forward(self, hidden_states, attention_mask, *args, **kwargs)
    return type(self).forward(self, hidden_states, attention_mask, *args, **kwargs)


@contextlib.contextmanager
def unpadded_layers(model: nn.Module, enabled: bool = True) -> Iterator[int]:
    """Within the block, every encoder layer but the last skips padding in its matmuls.

    Yields how many layers were switched (0 when disabled or for layers off the allow-list;
    calls the guards refuse later still run the stock layer). Like
    :func:`cls_only_last_layer`, only for the logits of a sequence classifier: hidden states
    come back with zeros at padding positions. The last layer is left to
    :func:`cls_only_last_layer`. Forwards are put back on exit, also after an error.
    """
    switched = []
    for layer in (_layers(model, "unpadded")[:-1] if enabled else []):
        if _guard.patched_by(layer) is not None:
            continue  # already inside such a block: the outer one restores it
        reason = _guard.refusal("unpadded", layer)
        if reason is not None:
            _guard.log_once("unpadded", type(layer).__name__, reason)
            continue
        _guard.install(layer, "unpadded", _unpadded_layer_forward)
        switched.append(layer)
    try:
        yield len(switched)
    finally:
        for layer in switched:
            _guard.uninstall(layer)


# ---------------------------------------------------------------------------------------------
# The vocabulary rows the data contains
#
# A BERT student's word-embedding matrix is most of its parameters (MiniLM: 30,522 x 384 =
# 11.7M of 17.4M in a 3-layer student), but a training set uses a few thousand of its rows
# (500 movie snippets: 3,430). Autograd still builds a dense gradient for all 30,522 rows,
# gradient clipping reads it and AdamW updates every row, every step. A row that no training
# sentence contains has gradient 0, so its Adam moments stay 0 and its only change is
# AdamW's decoupled weight decay, ``w <- w * (1 - lr * weight_decay)``, a known factor. So
# training only the rows the data contains and multiplying the others by the product of
# those factors afterwards gives the same weights (up to float rounding), for less work.


class CompactRows(nn.Module):
    """Word embeddings whose trainable ``weight`` holds only the vocabulary rows ``rows``.

    ``forward(input_ids)`` maps the token ids ``(batch, seq_len)`` through a lookup table to
    rows of ``weight`` (``(len(rows), hidden)``) and returns ``(batch, seq_len, hidden)``,
    exactly what the full embedding returns for those ids. An id outside ``rows`` raises
    ``ValueError``. ``decay`` is the product of AdamW's weight-decay factors applied so far
    (see :meth:`after_step`); the rows outside ``rows`` are multiplied by it on restore.
    """

    def __init__(self, original: nn.Embedding, rows: torch.Tensor) -> None:
        super().__init__()
        self.original = [original]  # a list, so it is not registered as a sub-module
        self.num_embeddings = original.num_embeddings
        self.embedding_dim = original.embedding_dim
        self.register_buffer("rows", rows.to(original.weight.device), persistent=False)
        lookup = torch.full((original.num_embeddings,), -1, dtype=torch.long)
        lookup[rows] = torch.arange(len(rows))
        self.register_buffer("lookup", lookup.to(original.weight.device), persistent=False)
        pad = original.padding_idx
        self.padding_idx = None if pad is None or lookup[pad] < 0 else int(lookup[pad])
        self.weight = nn.Parameter(original.weight.detach()[rows].clone())
        self.decay = 1.0

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        index = self.lookup[input_ids]
        if bool((index < 0).any()):
            missing = sorted(set(input_ids[index < 0].tolist()))[:10]
            raise ValueError(
                f"token ids {missing} are not among the {len(self.rows)} vocabulary rows being "
                "trained (compact_word_embeddings was given the ids of other data); pass every "
                "split the model sees, or set TrainConfig(compact_embeddings=False)"
            )
        return F.embedding(index, self.weight, self.padding_idx)

    def after_step(self, optimizer: torch.optim.Optimizer) -> None:
        """Record the weight decay one AdamW step applied (call it after each real update)."""
        for group in optimizer.param_groups:
            if any(p is self.weight for p in group["params"]):
                self.decay *= 1.0 - float(group["lr"]) * float(group.get("weight_decay", 0.0))

    def full_weight(
        self, decay: float | None = None, weight: torch.Tensor | None = None
    ) -> torch.Tensor:
        """The ``(num_embeddings, hidden)`` matrix training has produced: trained rows from
        ``weight`` (default: :attr:`weight`; e.g. a kept earlier state's), the others the
        original rows times ``decay`` (default: :attr:`decay`)."""
        trained = (self.weight if weight is None else weight).detach()
        original = self.original[0].weight.detach().to(trained.device)
        factor = self.decay if decay is None else decay
        full = original * factor if factor != 1.0 else original.clone()
        full[self.rows.to(trained.device)] = trained.to(full.dtype)
        return full

    def extra_repr(self) -> str:
        return f"{len(self.rows)} of {self.num_embeddings} rows, {self.embedding_dim}"


def _seen_rows(token_ids: Iterable[Iterable[int]] | np.ndarray, extra: Iterable[int]) -> np.ndarray:
    if isinstance(token_ids, np.ndarray):
        flat = token_ids.ravel()
    else:
        chunks = [np.asarray(ids, dtype=np.int64).ravel() for ids in token_ids]
        flat = np.concatenate(chunks) if chunks else np.empty(0, dtype=np.int64)
    extra = [int(i) for i in extra if i is not None]
    return np.unique(np.concatenate([flat.astype(np.int64), np.asarray(extra, dtype=np.int64)]))


def _compactable(model: nn.Module) -> nn.Embedding | None:
    get = getattr(model, "get_input_embeddings", None)
    embedding = get() if callable(get) else None
    if type(embedding) is not nn.Embedding or not embedding.weight.requires_grad:
        return None
    if embedding.max_norm is not None or embedding.sparse or embedding.scale_grad_by_freq:
        return None
    named = model.named_parameters(remove_duplicate=False)
    shared = sum(p is embedding.weight for _, p in named)
    return embedding if shared == 1 else None  # tied to an output layer: leave it alone


def _same_lookup(compact: CompactRows, original: nn.Embedding) -> bool:
    """Whether ``compact`` returns what ``original`` returns for a few of its rows (about 10,
    first and last included), bit for bit: the lookup table and the copied rows are checked
    before a whole training run relies on them, for the cost of one tiny lookup."""
    rows = compact.rows
    sample = torch.cat([rows[:: max(1, len(rows) // 8)], rows[-1:]])[None]
    with torch.no_grad():
        return torch.equal(compact(sample), original(sample))


@contextlib.contextmanager
def compact_word_embeddings(
    model: nn.Module,
    token_ids: Iterable[Iterable[int]] | np.ndarray,
    enabled: bool = True,
    *,
    extra_ids: Iterable[int] = (),
) -> Iterator[CompactRows | None]:
    """Within the block, ``model``'s word embeddings train only the rows in ``token_ids``.

    Args:
        model: a Hugging Face model (``get_input_embeddings``/``set_input_embeddings``).
        token_ids: every token id the model will see inside the block (the tokenised
            training *and* validation sentences), as sequences of ints or an array.
        enabled: ``False`` yields ``None`` and changes nothing.
        extra_ids: ids added to the rows (the padding id).

    Yields the :class:`CompactRows` module now in the model (or ``None`` where it does not
    apply: disabled, frozen or tied embeddings, every row used, or a lookup that does not
    give the full embedding's rows, which is logged). Build the optimizer
    *inside* the block, call ``rows.after_step(optimizer)`` after every optimizer update,
    and the block puts an ``nn.Embedding`` back on exit (also after an error): the original
    module, its weight now ``rows.full_weight()``. To keep an earlier state (the best
    epoch), load its state dict inside the block and set ``rows.decay`` to the value it had
    then. The result equals training the full matrix up to float rounding
    (``tests/test_fast.py``).
    """
    original = _compactable(model) if enabled else None
    if original is None:
        yield None
        return
    rows = torch.from_numpy(_seen_rows(token_ids, extra_ids))
    if len(rows) and (rows[0] < 0 or rows[-1] >= original.num_embeddings):
        raise ValueError(
            f"token ids must lie in 0..{original.num_embeddings - 1} (the model's vocabulary); "
            f"got {int(rows[0])}..{int(rows[-1])}: was the data tokenised for another model?"
        )
    if len(rows) == original.num_embeddings:
        yield None
        return
    compact = CompactRows(original, rows)
    if not _same_lookup(compact, original):
        _guard.log_once("compact", type(model).__name__, "its lookup differs from the embedding")
        yield None
        return
    model.set_input_embeddings(compact)
    try:
        yield compact
    finally:
        with torch.no_grad():
            full = compact.full_weight()
            original.to(full.device)
            original.weight.copy_(full)
        model.set_input_embeddings(original)
