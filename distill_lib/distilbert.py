"""A DistilBERT student from a BERT teacher: the chosen layers, in DistilBERT's own class.

    >>> from distill_lib import load_teacher, make_student
    >>> teacher, tokenizer = load_teacher("minilm-l6")       # a BertForSequenceClassification
    >>> student = make_student(teacher, [0, 2, 5], architecture="distilbert")
    >>> type(student).__name__
    'DistilBertForSequenceClassification'

(:func:`to_distilbert` does the same for an explicit layer list.) DistilBERT (Sanh et al.,
2019) *is* a BERT encoder with fewer layers and a few parts removed, so a BERT teacher's
tensors map onto it one to one. The student can then be saved and used wherever
``DistilBertForSequenceClassification`` is (``pipeline``, ONNX export, serving stacks that
know DistilBERT but not the teacher's class).

What goes where
---------------

BERT's names under ``bert.`` -> DistilBERT's under ``distilbert.``; in the layers, teacher
``encoder.layer[t]`` -> student ``transformer.layer[i]`` for ``t = layers[i]``:

=============================================  ===========================================
``embeddings.word_embeddings``                 ``embeddings.word_embeddings``
``embeddings.position_embeddings``             ``embeddings.position_embeddings``
+ ``embeddings.token_type_embeddings[0]``      (folded in: see "Token types" below)
``embeddings.LayerNorm``                       ``embeddings.LayerNorm``
``attention.self.query``, ``key``, ``value``   ``attention.q_lin``, ``k_lin``, ``v_lin``
``attention.output.dense``                     ``attention.out_lin``
``attention.output.LayerNorm``                 ``sa_layer_norm``
``intermediate.dense``                         ``ffn.lin1``
``output.dense``                               ``ffn.lin2``
``output.LayerNorm``                           ``output_layer_norm``
``pooler.dense`` (then tanh)                   ``pre_classifier`` (then ReLU), top level
``classifier`` (top level)                     ``classifier`` (top level)
=============================================  ===========================================

Sizes, heads, activation, dropout rates, the padding id and the labels come from the teacher's
config. What differs, and what it means:

* **Token types.** BERT adds a token-type ("segment") embedding to every token; DistilBERT has
  none. A single-sentence classifier always uses type 0, so ``token_type_embeddings[0]`` is
  added to every row of the position table: word + position + type 0 is then computed as
  word + (position + type 0), the same sum up to float rounding. ``token_type_ids`` given to
  the student are ignored, so a *sentence-pair* task would lose its segment marks.
* **The head.** BERT's pooler is ``tanh(dense(h_CLS))``, DistilBERT's pre-classifier is
  ``ReLU(dense(h_CLS))``. The dense weights are copied, but the activation cannot be: the
  encoder's outputs equal the teacher-initialised same-class student's, its logits do not
  (ReLU zeroes the negative half that tanh squashes), until distillation adapts the head.
* **Dropout.** BERT drops out the attention output before its residual add; DistilBERT does
  not. Evaluation is unaffected (dropout is off); training regularises slightly less.
* **LayerNorm eps.** DistilBERT fixes every LayerNorm's eps at 1e-12 in transformers' code
  (it is not a config field). BERT and MiniLM use 1e-12; a teacher with another eps is
  refused, since the copy would not compute what it computes.

Which teachers can become DistilBERT
------------------------------------

``BertForSequenceClassification`` with absolute positions (BERT, MiniLM, TinyBERT, ...).
Everything else gets one ``ValueError`` saying why (:func:`check_distilbert_teacher`): MPNet
adds a learned relative-position bias to every attention score, which DistilBERT's attention
lacks; RoBERTa and XLM-R number positions from ``padding_idx + 1`` and skip padding when
they count, which a fixed DistilBERT position table matches for right-padded inputs only (and
distilroberta-base is itself a RoBERTa-class model: use the same-class student). For those,
``make_student(teacher, layers)`` builds a student of the teacher's own class.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
from transformers import (
    BertForSequenceClassification,
    DistilBertConfig,
    DistilBertForSequenceClassification,
    PreTrainedConfig,
    PreTrainedModel,
)

from ._weights import skip_random_init
from .layers import check_layer_list, describe_strategy

__all__ = [
    "check_distilbert_model_type",
    "check_distilbert_teacher",
    "distilbert_config",
    "distilbert_state_dict",
    "to_distilbert",
]

DISTILBERT_EPS = 1e-12
"""The eps of every LayerNorm in transformers' DistilBERT (hard-coded, not in its config)."""

_LAYER_NAMES: dict[str, str] = {  # DistilBERT layer tensor -> BERT layer tensor (per layer)
    "attention.q_lin": "attention.self.query",
    "attention.k_lin": "attention.self.key",
    "attention.v_lin": "attention.self.value",
    "attention.out_lin": "attention.output.dense",
    "sa_layer_norm": "attention.output.LayerNorm",
    "ffn.lin1": "intermediate.dense",
    "ffn.lin2": "output.dense",
    "output_layer_norm": "output.LayerNorm",
}

_POSITIONS_FROM_PADDING = (
    "{name} numbers positions from padding_idx + 1 and skips padding tokens when it counts, "
    "while DistilBERT numbers every slot from 0 with one fixed table: they agree on "
    "right-padded batches only, so a left-padded input would silently get other outputs "
    "(distilroberta-base is itself a RobertaForSequenceClassification)"
)

_WHY_NOT: dict[str, str] = {
    "mpnet": (
        "MPNet adds a learned relative-position bias (`relative_attention_bias`, shared by all "
        "its layers) to every attention score, and DistilBERT's attention has no such term, so "
        "copied layers would compute something else"
    ),
    "roberta": _POSITIONS_FROM_PADDING.format(name="RoBERTa"),
    "xlm-roberta": _POSITIONS_FROM_PADDING.format(name="XLM-R"),
    "camembert": _POSITIONS_FROM_PADDING.format(name="CamemBERT"),
    "distilbert": "the teacher is a DistilBERT already",
}


def _refusal(teacher: PreTrainedModel) -> str | None:
    """Why ``teacher`` cannot become a DistilBERT student exactly, or None if it can."""
    config = teacher.config
    model_type = getattr(config, "model_type", "")
    if model_type in _WHY_NOT:
        return _WHY_NOT[model_type]
    if not isinstance(teacher, BertForSequenceClassification):
        return (
            f"only a BertForSequenceClassification (BERT, MiniLM, ...) maps one to one onto "
            f"DistilBERT's tensors; this is a {model_type or 'non-BERT'} model"
        )
    positions = getattr(config, "position_embedding_type", "absolute")
    if positions not in (None, "absolute"):
        return f"its position embeddings are {positions!r}; DistilBERT has absolute ones only"
    if config.layer_norm_eps != DISTILBERT_EPS:
        return (
            f"its LayerNorms use eps={config.layer_norm_eps:g}, and transformers' DistilBERT "
            f"fixes eps at {DISTILBERT_EPS:g} in its code (not a config field)"
        )
    if not isinstance(config.hidden_act, str):
        return "its activation is a function object; DistilBERT's config needs a name ('gelu')"
    if teacher.bert.pooler is None:
        return "it has no pooler, the dense layer DistilBERT's pre_classifier is copied from"
    return None


def check_distilbert_model_type(model_type: str, teacher: str, option: str) -> None:
    """Before any work: one ``ValueError`` if a teacher of ``model_type`` (from its
    ``config.json``) can never become a DistilBERT student; ``option`` names the setting to
    change. The full check (:func:`check_distilbert_teacher`) needs the loaded model."""
    if model_type in _WHY_NOT:
        raise ValueError(f"{option}: teacher {teacher!r} ({model_type}) cannot become a "
                         f"DistilBERT student: {_WHY_NOT[model_type]}. Leave {option} empty.")


def check_distilbert_teacher(teacher: PreTrainedModel) -> None:
    """Raise one ``ValueError`` naming why ``teacher`` cannot become a DistilBERT student."""
    reason = _refusal(teacher)
    if reason is not None:
        raise ValueError(
            f"{type(teacher).__name__} cannot become a DistilBERT student: {reason}. "
            "make_student(teacher, layers) builds a student of the teacher's own class."
        )


def distilbert_config(teacher_config: PreTrainedConfig, n_layers: int) -> DistilBertConfig:
    """A ``DistilBertConfig`` of the BERT teacher's sizes, rates and labels, ``n_layers`` deep."""
    c = teacher_config
    head_dropout = c.classifier_dropout
    config = DistilBertConfig(
        vocab_size=c.vocab_size,
        max_position_embeddings=c.max_position_embeddings,
        sinusoidal_pos_embds=False,
        n_layers=n_layers,
        n_heads=c.num_attention_heads,
        dim=c.hidden_size,
        hidden_dim=c.intermediate_size,
        dropout=c.hidden_dropout_prob,
        attention_dropout=c.attention_probs_dropout_prob,
        activation=c.hidden_act,
        initializer_range=c.initializer_range,
        seq_classif_dropout=c.hidden_dropout_prob if head_dropout is None else head_dropout,
        pad_token_id=c.pad_token_id,
        id2label=dict(c.id2label),
        label2id=dict(c.label2id),
        problem_type=c.problem_type,
    )
    config._attn_implementation = c._attn_implementation  # eager stays eager, sdpa stays sdpa
    return config


def to_distilbert(
    teacher: PreTrainedModel,
    layers: Sequence[int],
    *,
    init: Literal["teacher", "random"] = "teacher",
    seed: int | None = None,
    strategy: str | None = None,
) -> DistilBertForSequenceClassification:
    """A ``DistilBertForSequenceClassification`` whose layer ``i`` is teacher layer ``layers[i]``.

    Args:
        teacher: a ``BertForSequenceClassification`` (left untouched); any other family gets
            one ``ValueError`` saying why (:func:`check_distilbert_teacher`).
        layers: 0-indexed teacher layers in student order, e.g. ``[0, 2, 5]``. For a strategy
            name use ``make_student(teacher, "uniform", n_student=3, architecture="distilbert")``.
        init: ``"teacher"`` copies embeddings, layers and head as the module docstring lists;
            ``"random"`` builds the same DistilBERT with fresh weights (the baseline).
        seed: seeds the random initialisation.
        strategy: the label recorded in the layer map (default: the list, e.g. ``"[0,2,5]"``).

    Returns:
        The student on the teacher's device and dtype, in training mode, with the layer map in
        ``config.distill_lib`` (as :func:`distill_lib.student.make_student` writes it, plus
        ``"architecture": "distilbert"``), so ``layer_map(student)`` and the losses work.
    """
    check_distilbert_teacher(teacher)
    n_teacher = len(teacher.bert.encoder.layer)
    chosen = check_layer_list(layers, n_teacher)  # keeps the caller's order
    if init not in ("teacher", "random"):
        raise ValueError(f"init must be 'teacher' or 'random', got {init!r}")
    config = distilbert_config(teacher.config, len(chosen))
    config.distill_lib = {
        "teacher_layers": chosen,
        "teacher_num_layers": n_teacher,
        "init": init,
        "strategy": strategy or describe_strategy(chosen),
        "teacher_name_or_path": getattr(teacher.config, "_name_or_path", "") or "",
        "architecture": "distilbert",
    }
    if seed is not None:
        torch.manual_seed(seed)
    with skip_random_init(init == "teacher"):  # every weight is copied next: do not draw it
        student = DistilBertForSequenceClassification(config)
    param = next(teacher.parameters())
    student.to(device=param.device, dtype=param.dtype)
    if init == "teacher":
        student.load_state_dict(distilbert_state_dict(teacher, chosen), strict=True)
    student.train()
    return student


def distilbert_state_dict(
    teacher: BertForSequenceClassification, chosen: Sequence[int]
) -> dict[str, torch.Tensor]:
    """The teacher's tensors under DistilBERT's names (copies; the teacher is not changed)."""
    bert = {k: v.detach() for k, v in teacher.state_dict().items()}
    state = {
        "distilbert.embeddings.word_embeddings.weight":
            bert["bert.embeddings.word_embeddings.weight"].clone(),
        # word + position + type 0 == word + (position + type 0): fold the type into positions
        "distilbert.embeddings.position_embeddings.weight":
            bert["bert.embeddings.position_embeddings.weight"]
            + bert["bert.embeddings.token_type_embeddings.weight"][0],
    }
    pairs = [("distilbert.embeddings.LayerNorm", "bert.embeddings.LayerNorm"),
             ("pre_classifier", "bert.pooler.dense"), ("classifier", "classifier")]
    for i, t in enumerate(chosen):
        pairs += [(f"distilbert.transformer.layer.{i}.{ours}", f"bert.encoder.layer.{t}.{theirs}")
                  for ours, theirs in _LAYER_NAMES.items()]
    for ours, theirs in pairs:
        for kind in ("weight", "bias"):
            state[f"{ours}.{kind}"] = bert[f"{theirs}.{kind}"].clone()
    return state
