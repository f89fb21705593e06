"""What :mod:`distill_lib.fast` knows, and a check before it trusts itself.

The two layer levers of :mod:`distill_lib.fast` replace a ``transformers`` layer's forward
with code written for two layer designs (BERT's, with the ``eager`` and ``sdpa`` attention
back-ends, and MPNet's, whose attention is always explicit; :data:`LAYOUTS`). A transformers
release can change a layer, a model can be built with another attention (``flex_attention``
passes a ``BlockMask``, flash attention a 2-d mask), and other libraries replace forwards too
(``accelerate`` hooks). None of that raises an error by
itself: the rewritten forward would silently compute something else. So this module

* names what each lever supports: :data:`ALLOW_LIST`, pairs of (layer class, attention
  implementation); anything else keeps the stock layer;
* tells its own patch from someone else's by a marker on the layer, not by "the instance has
  a ``forward``" (an accelerate hook has one too);
* runs the patched and the stock forward once on a tiny batch before a lever is first used
  for a (lever, layer class, attention implementation, device type, dtype) and keeps the
  lever off for that key if they differ;
* logs each reason for falling back once per process, on ``logging.getLogger(
  "distill_lib.fast")`` at warning level.

It imports nothing from :mod:`distill_lib`: the guard must not depend on what it guards.
"""

from __future__ import annotations

import logging
import types
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

logger = logging.getLogger("distill_lib.fast")

LEVERS: dict[str, str] = {
    "cls_only": "cls-only last layer",
    "unpadded": "padding-free layers",
    "compact": "compact word embeddings",
}

# The BERT layer and its verbatim copies in transformers 5 (generated from BERT by its
# "modular" tool; same sub-modules, same forward): BERT and MiniLM, RoBERTa, XLM-R, ELECTRA.
# tests/test_fast.py runs every one of them. Matched by qualified name, so a subclass (which
# may override forward) or a remote-code copy is not on the list.
_BERT_COPIES = (
    "transformers.models.bert.modeling_bert.BertLayer",
    "transformers.models.roberta.modeling_roberta.RobertaLayer",
    "transformers.models.xlm_roberta.modeling_xlm_roberta.XLMRobertaLayer",
    "transformers.models.electra.modeling_electra.ElectraLayer",
)
_MPNET = "transformers.models.mpnet.modeling_mpnet.MPNetLayer"
# The attention implementations whose mask is a plain 4-d tensor (additive or boolean).
_ATTENTION = ("eager", "sdpa")


@dataclass(frozen=True)
class Layout:
    """Where a layer design keeps the parts the levers read (dotted sub-module paths)."""

    family: str  # which rewritten forwards fit (distill_lib._fast_layers)
    query: str  # a Linear whose weight tells the device, dtype and width
    dropouts: tuple[str, ...]  # the hidden-state dropouts (masks drawn at the padded shape)
    bypassed: tuple[str, ...]  # modules whose forward the rewrite calls around, not through
    attention: str | None  # the module holding the model config (its attention choice)


_BERT_LAYOUT = Layout(
    "bert", "attention.self.query", ("attention.output.dropout", "output.dropout"),
    ("", "attention", "attention.self", "attention.output", "output"), "attention.self",
)
# MPNet computes its attention itself, always as explicit matmuls with an additive mask (and
# its relative-position bias, computed once per batch by the encoder and passed to each layer):
# the model's attention implementation is "eager" whatever it is called.
_MPNET_LAYOUT = Layout(
    "mpnet", "attention.attn.q", ("attention.dropout", "output.dropout"),
    ("", "attention", "attention.attn", "output"), None,
)
LAYOUTS: dict[str, Layout] = {cls: _BERT_LAYOUT for cls in _BERT_COPIES} | {_MPNET: _MPNET_LAYOUT}
"""Layer class (qualified name) -> where its parts are. Only these classes are patched."""

ALLOW_LIST: dict[str, frozenset[tuple[str, str]]] = {
    lever: frozenset((cls, impl) for cls in _BERT_COPIES for impl in _ATTENTION)
    | {(_MPNET, "eager")}
    for lever in ("cls_only", "unpadded")
}
"""Per layer lever, the (layer class, attention implementation) pairs it was written and
tested for. Everything else runs the stock layer."""

_MARK = "_distill_lib_fast"  # on a patched layer: (lever, the forward put there, the one before)

_logged: set[tuple[str, str, str]] = set()
_verdicts: dict[tuple[object, ...], str | None] = {}


def reset() -> None:
    """Forget the logged reasons and the self-check verdicts (for tests)."""
    _logged.clear()
    _verdicts.clear()


def log_once(lever: str, what: str, reason: str) -> None:
    """One warning per process per (lever, what, reason): a training loop calls the levers
    every epoch and the layers every step, and a reason repeated that often hides others."""
    if (lever, what, reason) in _logged:
        return
    _logged.add((lever, what, reason))
    logger.warning(
        "distill_lib.fast: %s off for %s (%s); using the stock layer", LEVERS[lever], what, reason
    )


def device_type(tensor: torch.Tensor) -> str:
    """``tensor.device.type``, in one place so that tests can pretend to be on a GPU."""
    return tensor.device.type


def _qualified_name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def layout(layer: nn.Module) -> Layout | None:
    """Where ``layer``'s parts are, or None for a class the levers do not know."""
    return LAYOUTS.get(_qualified_name(type(layer)))


def _parts(layer: nn.Module) -> Layout:
    """The layout of an allow-listed ``layer`` (callers have checked the allow-list)."""
    return LAYOUTS[_qualified_name(type(layer))]


def _attn_implementation(layer: nn.Module) -> str | None:
    found = layout(layer)
    if found is not None and found.attention is None:
        return "eager"
    path = found.attention if found is not None else "attention.self"
    config = getattr(_submodule(layer, path), "config", None)
    return getattr(config, "_attn_implementation", None)


def _submodule(layer: nn.Module, path: str) -> nn.Module | None:
    try:
        return layer.get_submodule(path)
    except AttributeError:
        return None


def _allow_list_refusal(lever: str, layer: nn.Module) -> str | None:
    name = _qualified_name(type(layer))
    impl = _attn_implementation(layer)
    if (name, impl) in ALLOW_LIST[lever]:
        return None
    if any(cls == name for cls, _ in ALLOW_LIST[lever]):
        return f"attention {impl!r} not in the allow-list"
    return "not in the allow-list"


# ---------------------------------------------------------------------------------------------
# Whose forward is it?


def patched_by(layer: nn.Module) -> str | None:
    """The lever whose forward ``layer`` runs now, or None (the marker and the forward must
    agree: a hook installed over our forward makes it someone else's)."""
    mark = vars(layer).get(_MARK)
    if mark is not None and vars(layer).get("forward") is mark[1]:
        return mark[0]
    return None


def _replaced_forward(layer: nn.Module) -> str | None:
    """Where a forward was replaced by other code (``accelerate``'s ``add_hook_to_module`` sets
    an instance ``forward``), or None. An instance forward that is just the class's own bound
    method (what ``remove_hook_from_module`` leaves behind) counts as the stock forward."""
    for path in _parts(layer).bypassed:
        module = layer.get_submodule(path)
        forward = vars(module).get("forward")
        if forward is None or (not path and patched_by(layer)):
            continue
        stock = getattr(forward, "__self__", None) is module and getattr(
            forward, "__func__", None
        ) is type(module).forward
        if not stock:
            return path or "the layer"
    return None


def install(layer: nn.Module, lever: str, forward: Callable[..., torch.Tensor]) -> None:
    """Give ``layer`` the instance forward ``forward``, marked as ``lever``'s."""
    before = vars(layer).get("forward")
    method = types.MethodType(forward, layer)
    layer.forward = method
    layer.__dict__[_MARK] = (lever, method, before)


def uninstall(layer: nn.Module) -> None:
    """Put back the forward ``layer`` had before :func:`install`. If a hook was added over
    ours meanwhile, the hook stays and calls the forward from before."""
    mark = layer.__dict__.pop(_MARK, None)
    if mark is None:
        return
    _, ours, before = mark
    if vars(layer).get("forward") is ours:
        if before is None:
            del layer.forward  # the class's forward again
        else:
            layer.forward = before
    elif getattr(layer, "_old_forward", None) is ours:  # an accelerate hook wraps ours
        layer._old_forward = before or types.MethodType(type(layer).forward, layer)


def refusal(lever: str, layer: nn.Module) -> str | None:
    """Why ``lever`` must not patch ``layer`` (None: it may). Checked before patching."""
    reason = _allow_list_refusal(lever, layer)
    if reason is not None:
        return reason
    if getattr(layer, "is_decoder", False):
        return "a decoder layer"
    if lever == "unpadded" and getattr(layer, "chunk_size_feed_forward", 0):
        return "feed-forward chunking"
    where = _replaced_forward(layer)
    if where is not None:
        return f"forward of {where} replaced by other code, e.g. an accelerate hook"
    return None


# ---------------------------------------------------------------------------------------------
# At each call: what the layer receives


def _dropout_on(layer: nn.Module) -> bool:
    parts = [layer.get_submodule(path) for path in _parts(layer).dropouts]
    return layer.training and any(float(part.p) > 0 for part in parts)


def _runtime_refusal(
    lever: str, layer: nn.Module, hidden_states: torch.Tensor, mask: object, call: dict
) -> str | None:
    """Why ``lever`` must not run on this call: what can change after the block was entered
    (the attention implementation, the mask the encoder builds, the device, train/eval,
    attention maps asked for)."""
    reason = _allow_list_refusal(lever, layer)
    if reason is not None:
        return reason
    if mask is not None and not (isinstance(mask, torch.Tensor) and mask.dim() == 4):
        return f"attention mask is a {type(mask).__name__}, not a 4-d tensor"
    if call.get("output_attentions"):
        return "attention maps asked for"
    if not all(type(m) is nn.Linear for m in layer.modules() if "Linear" in type(m).__name__):
        return "its linear layers are not torch.nn.Linear (quantised, or adapted)"
    if _parts(layer).family == "mpnet" and mask is not None and not mask.is_floating_point():
        return "MPNet adds its mask to the scores, and this mask is not additive"
    device = device_type(hidden_states)
    if lever == "unpadded" and device != "cpu" and _dropout_on(layer):
        # Only the CPU's dropout draws the same numbers for the padded-shape bernoulli_ as
        # nn.Dropout; CUDA's fused dropout kernel consumes its random stream differently.
        return f"dropout in training on {device} would draw other masks than the stock layer"
    return None


def usable(
    lever: str,
    layer: nn.Module,
    forward: Callable[..., torch.Tensor],
    hidden_states: torch.Tensor,
    mask: object,
    call: dict | None = None,
) -> bool:
    """Whether the patched ``forward`` may compute this call of ``layer``; logs why not.
    ``call``: the keyword arguments the layer was called with."""
    reason = _runtime_refusal(lever, layer, hidden_states, mask, call or {})
    if reason is None:
        reason = self_check(lever, layer, forward, device_type(hidden_states))
    if reason is not None:
        log_once(lever, type(layer).__name__, reason)
    return reason is None


# ---------------------------------------------------------------------------------------------
# Before first use: the patched and the stock forward on a tiny batch


def self_check(
    lever: str, layer: nn.Module, forward: Callable[..., torch.Tensor], device: str
) -> str | None:
    """Why ``forward`` is not trusted for ``layer`` (None: it is), once per (lever, layer
    class, attention implementation, device type, dtype) per process. A layer of the same
    class computes the same function, so one tiny check stands for every later call."""
    dtype = layer.get_submodule(_parts(layer).query).weight.dtype
    impl = _attn_implementation(layer)
    key = (lever, type(layer), impl, device, dtype)
    if key not in _verdicts:
        found = _compare(layer, forward)
        where = f"self-check on {device}, {str(dtype).removeprefix('torch.')}, {impl}"
        _verdicts[key] = None if found is None else f"{where}: {found}"
    return _verdicts[key]


def _tiny_batch(layer: nn.Module) -> tuple[torch.Tensor, tuple, torch.Tensor]:
    """Two sentences of 5 positions, the second padded after 3: random hidden states, the
    arguments after them that the encoder would pass (the mask for this attention
    implementation; for MPNet also a random relative-position bias), the real positions."""
    from transformers.masking_utils import create_bidirectional_mask

    where = _parts(layer)
    weight = layer.get_submodule(where.query).weight
    g = torch.Generator().manual_seed(0)  # not the global generator: a run's stream is kept
    hidden = torch.randn(2, 5, weight.shape[1], generator=g).to(weight.device, weight.dtype)
    real = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]], device=weight.device)
    if where.family == "mpnet":
        heads = layer.attention.attn.num_attention_heads
        bias = torch.randn(2, heads, 5, 5, generator=g).to(weight.device, weight.dtype)
        mask = (1 - real[:, None, None, :].to(weight.dtype)) * torch.finfo(weight.dtype).min
        return hidden, (mask.expand(2, 1, 5, 5), bias), real.bool()
    mask = create_bidirectional_mask(
        config=layer.get_submodule(where.attention or "").config,
        inputs_embeds=hidden, attention_mask=real,
    )
    return hidden, (mask,), real.bool()


def _first(output: torch.Tensor | tuple) -> torch.Tensor:
    """A layer's hidden states (MPNet's layers return a tuple, BERT's a tensor)."""
    return output[0] if isinstance(output, tuple) else output


def _compare(layer: nn.Module, forward: Callable[..., torch.Tensor]) -> str | None:
    """Run both forwards in eval mode, without grad or autocast; compare the positions the
    lever promises (the real tokens; the first one for the cls-only layer)."""
    modes = [(module, module.training) for module in layer.modules()]
    layer.eval()
    try:
        hidden, after, real = _tiny_batch(layer)
        with torch.no_grad(), torch.autocast(hidden.device.type, enabled=False):
            stock = _first(type(layer).forward(layer, hidden, *after))
            patched = _first(forward(layer, hidden, *after))
        keep = real[:, : patched.shape[1]]
        ref = stock[:, : patched.shape[1]][keep].float()
        diff = float((patched[keep].float() - ref).abs().max())
    except Exception as err:  # a layer the lever cannot even run: keep the stock one
        return f"{type(err).__name__}: {err}"
    finally:
        for module, training in modes:
            module.training = training
    # The rewrites only regroup float sums (about 1e-7 apart in float32 here): 1e-5 relative
    # in float32/64, four units in the last place in bfloat16/float16.
    tolerance = max(1e-5, 4 * torch.finfo(hidden.dtype).eps) * max(1.0, float(ref.abs().max()))
    if not diff <= tolerance:  # also catches NaN
        return f"max difference {diff:.3g} from the stock layer"
    return None
