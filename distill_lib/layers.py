"""Which teacher layers should a k-layer student start from?

    >>> from distill_lib import select_layers
    >>> select_layers("uniform", 12, 6)        # DistilBERT's choice
    [0, 2, 4, 7, 9, 11]

Indices are **0-indexed** teacher encoder layers, always returned in ascending order, so
``layers[i]`` is the teacher layer copied into student layer ``i``. The strategies are named by
*position*:

=============  ==========================================================  ================
strategy       layers kept (n teacher layers -> k student layers)          12 -> 6
=============  ==========================================================  ================
``first``      the first k (closest to the embeddings)                     [0, 1, 2, 3, 4, 5]
``last``       the last k (closest to the classifier)                      [6, 7, 8, 9, 10, 11]
``odd``        layers numbered 1, 3, 5, ... counting from **1**            [0, 2, 4, 6, 8, 10]
``even``       layers numbered 2, 4, 6, ... counting from **1**            [1, 3, 5, 7, 9, 11]
``uniform``    ``round(linspace(0, n-1, k))``: evenly spread, both ends    [0, 2, 4, 7, 9, 11]
``random``     k distinct layers drawn with ``seed``, sorted               (depends on seed)
list of ints   exactly those layers, e.g. ``[0, 5, 11]``                   as given
=============  ==========================================================  ================

``odd``/``even`` when k is not n/2: the pattern is "every second layer" and it has only
``ceil(n/2)`` (odd) or ``floor(n/2)`` (even) members. If k is smaller we keep the first k of them
(12 -> 4 ``odd`` = [0, 2, 4, 6]: the lower part of the network, *not* spread out; use
``uniform`` for that). If k is larger there are not enough layers of that parity and
:func:`select_layers` raises ``ValueError`` rather than silently mixing parities.

Aliases. The strategies are named by position (``first`` = nearest the embeddings). Papers say
"lower" for the layers next to the input and usually "top" for those next to the output, so
``top-k`` = ``last`` here. We accept these aliases and say plainly what they mean:

* ``lower``, ``bottom-up``, ``bottom-k`` -> ``first`` (the k layers nearest the embeddings)
* ``higher``, ``top-down``, ``top-k`` -> ``last`` (the k layers nearest the output)
* ``alternate``, ``skip`` -> ``even`` ([1, 3, 5, 7, 9, 11]; PKD-Skip *matches* teacher layers
  1, 3, 5, 7, 9 but starts from the first six)
* ``spread``, ``distilbert`` -> ``uniform``

Data-driven strategies are measured on the *fine-tuned* teacher (:mod:`distill_lib.selection`,
notebook 08), so they have no fixed table:

* ``influence``: the k layers that change their input most (block influence, ShortGPT);
* ``cka-cover``: k layers whose representations are far apart (linear CKA), covering the
  teacher's representations;
* ``drop``: the k layers whose removal (identity in their place) hurts the teacher's
  validation accuracy most.

They need the measurements (``measured=``, from :func:`distill_lib.selection.measure_layers`);
``compare --strategies influence,cka-cover,drop`` measures them once per teacher. Aliases:
``block-influence`` -> ``influence``; ``cka`` -> ``cka-cover``; ``drop-sensitivity``,
``layer-drop`` -> ``drop``.

Checks. Depths must be ints between 1 and :data:`MAX_LAYERS` (1,000; the deepest encoders in
use have 48 layers), so a typo such as ``n_teacher=10**14`` is a clear ``ValueError`` before
anything is allocated. An explicit list must hold ints (``int`` or a numpy integer; not bool,
float or str), each in ``range(n_teacher)`` and each at most once: :func:`check_layer_list` is
that check, shared by :func:`select_layers` and :func:`distill_lib.student.make_student`.
"""

from __future__ import annotations

import random as _random
from collections.abc import Sequence
from typing import Any

import numpy as np

from ._checks import check_int, is_int

STRATEGIES: dict[str, str] = {
    "first": "the first k teacher layers (nearest the embeddings)",
    "last": "the last k teacher layers (nearest the classifier)",
    "odd": "teacher layers 1, 3, 5, ... counted from 1 (0-indexed 0, 2, 4, ...)",
    "even": "teacher layers 2, 4, 6, ... counted from 1 (0-indexed 1, 3, 5, ...)",
    "uniform": "round(linspace(0, n-1, k)): evenly spread, keeps the first and last layer",
    "random": "k distinct layers drawn at random with `seed`, sorted",
}
"""The named strategies and what each keeps. An explicit list of indices is also accepted."""

_MEASURED: dict[str, tuple[str, str]] = {
    "influence": (
        "the k layers with the largest block influence, 1 - cos(layer input, layer output), on "
        "training sentences",
        "block_influence",
    ),
    "cka-cover": (
        "k layers whose outputs are far apart in linear CKA on training sentences (greedy "
        "max-min cover)",
        "cka",
    ),
    "drop": (
        "the k layers whose removal lowers the teacher's validation accuracy most",
        "drop",
    ),
}
"""The one table of data-driven strategies: name -> (what it keeps, where its scores are in
the measurements of :func:`distill_lib.selection.measure_layers`)."""

DATA_DRIVEN: dict[str, str] = {name: what for name, (what, _) in _MEASURED.items()}
"""Strategies chosen from measurements of the fine-tuned teacher (:mod:`distill_lib.selection`)."""

SCORES_OF: dict[str, str] = {name: scores for name, (_, scores) in _MEASURED.items()}
"""Where each data-driven strategy's scores are in the teacher's measurements."""

ALIASES: dict[str, str] = {
    "lower": "first",
    "bottom-up": "first",
    "bottom-k": "first",
    "higher": "last",
    "top-down": "last",
    "top-k": "last",
    "alternate": "even",
    "skip": "even",
    "spread": "uniform",
    "distilbert": "uniform",
    "block-influence": "influence",
    "cka": "cka-cover",
    "drop-sensitivity": "drop",
    "layer-drop": "drop",
}
"""Other names found in papers, mapped to the positional name used here (see module docs)."""

MAX_LAYERS = 1_000
"""Largest teacher depth accepted (real encoders have at most a few dozen layers)."""

LayerSpec = str | Sequence[int]


def canonical_strategy(strategy: str) -> str:
    """Map a strategy name or alias to its positional name, e.g. ``"top-k"`` -> ``"last"``."""
    key = strategy.strip().lower().replace("_", "-")
    key = ALIASES.get(key, key)
    if key not in STRATEGIES and key not in DATA_DRIVEN:
        choices = (
            ", ".join(STRATEGIES) + "; measured on the teacher: " + ", ".join(DATA_DRIVEN)
            + "; aliases: " + ", ".join(ALIASES)
        )
        raise ValueError(
            f"unknown layer strategy {strategy!r}. Choose one of: {choices}; "
            "or pass an explicit list of 0-indexed teacher layers such as [0, 5, 11]."
        )
    return key


def is_data_driven(strategy: LayerSpec) -> bool:
    """Whether ``strategy`` names a data-driven strategy (alias or not); False for lists."""
    if not isinstance(strategy, str):
        return False
    key = strategy.strip().lower().replace("_", "-")
    return ALIASES.get(key, key) in DATA_DRIVEN


def _check_sizes(n_teacher: int, n_student: int) -> None:
    """Both depths are ints in ``1..MAX_LAYERS`` and ``n_student <= n_teacher`` (no allocation)."""
    for name, value, what in (
        ("n_teacher", n_teacher, "teacher layers"),
        ("n_student", n_student, "student layers; a student needs a layer"),
    ):
        if not is_int(value):
            raise ValueError(
                f"{name} must be an int between 1 and {MAX_LAYERS}, got {value!r} "
                f"({type(value).__name__})"
            )
        if not 1 <= value <= MAX_LAYERS:
            raise ValueError(f"{name} must be >= 1 and <= {MAX_LAYERS} ({what}), got {value}")
    if n_student > n_teacher:
        raise ValueError(
            f"a student cannot have more layers than its teacher: n_student={n_student} > "
            f"n_teacher={n_teacher}. Choose n_student between 1 and {n_teacher}."
        )


def _check_seed(seed: object) -> None:
    if seed is not None and not is_int(seed):
        raise ValueError(f"seed must be an int or None, got {seed!r} ({type(seed).__name__})")


def select_layers(
    strategy: LayerSpec,
    n_teacher: int,
    n_student: int,
    *,
    seed: int | None = None,
    measured: dict | None = None,
) -> list[int]:
    """The 0-indexed teacher layers (ascending) that initialise an ``n_student``-layer student.

    Args:
        strategy: ``"first"``, ``"last"``, ``"odd"``, ``"even"``, ``"uniform"``, ``"random"``,
            an alias from :data:`ALIASES`, or an explicit sequence of layer indices.
        n_teacher: number of teacher encoder layers (n).
        n_student: number of student layers (k), ``1 <= k <= n``.
        seed: random seed (an int or ``None``), used (and required for repeatability) by
            ``"random"`` only.
        measured: for the data-driven strategies (:data:`DATA_DRIVEN`), the teacher's
            measurements from :func:`distill_lib.selection.measure_layers`.

    Returns:
        ``k`` distinct indices in ``range(n_teacher)``, ascending.

    Raises:
        ValueError: unknown strategy; a depth that is not an int in ``1..MAX_LAYERS``;
            ``k > n``; an explicit list rejected by :func:`check_layer_list` (not ints, out of
            range, a layer given twice, the wrong length); or ``odd``/``even`` with more layers
            than that parity has. The message names the value and the valid choices.
    """
    _check_sizes(n_teacher, n_student)
    _check_seed(seed)
    if not isinstance(strategy, str):
        return sorted(check_layer_list(strategy, n_teacher, n_student))

    name = canonical_strategy(strategy)
    n, k = int(n_teacher), int(n_student)
    if name in DATA_DRIVEN:
        if measured is None:
            raise ValueError(
                f"strategy {name!r} is measured on the fine-tuned teacher and its data, so it "
                "needs the measurements: measured = distill_lib.measure_layers(teacher, "
                "train_tokens, validation_tokens, tokenizer=tokenizer), then "
                f"select_layers({name!r}, {n}, {k}, measured=measured) or "
                f"make_student(teacher, {name!r}, n_student={k}, measured=measured); "
                f"`distill-lib compare --strategies {name}` does this for you."
            )
        if int(measured.get("n_layers", n)) != n:
            raise ValueError(
                f"the measurements are of a {measured['n_layers']}-layer teacher, not {n} layers"
            )
        return choose_layers(name, measured, k)
    if name == "first":
        return list(range(k))
    if name == "last":
        return list(range(n - k, n))
    if name in ("odd", "even"):
        pool = range(0 if name == "odd" else 1, n, 2)
        if k > len(pool):
            raise ValueError(
                f"strategy {name!r} keeps every second layer, and a {n}-layer teacher has only "
                f"{len(pool)} {name}-numbered layers ({[i + 1 for i in pool]} counting from 1), "
                f"fewer than the {k} the student needs. Use 'uniform', 'first', 'last' or an "
                "explicit list."
            )
        return list(pool[:k])
    if name == "uniform":
        # Python's round() rounds halves to even, like numpy; both give DistilBERT's map.
        return [int(x) for x in np.round(np.linspace(0, n - 1, k))]
    # random: sampling from a range object draws k indices without building a list of n
    rng = _random.Random(None if seed is None else int(seed))
    return sorted(rng.sample(range(n), k))


def check_layer_list(
    layers: Sequence[int], n_teacher: int | None = None, n_student: int | None = None
) -> list[int]:
    """Check an explicit list of 0-indexed teacher layers; return it as ints, in the given order.

    The one check for layer lists, used by :func:`select_layers` (which then sorts) and by
    ``make_student`` (which keeps the caller's order).

    Args:
        layers: a non-empty sequence of ints (``int`` or numpy integers). ``bool``, ``float``
            and ``str`` entries are rejected, not converted: ``[0.5, 1]`` is an error, not
            ``[0, 1]``.
        n_teacher: teacher depth; every index must be in ``0..n_teacher - 1``. ``None`` checks
            only ``0..MAX_LAYERS - 1`` (when the teacher is not known yet).
        n_student: if given, the list must have exactly this many entries.

    Raises:
        ValueError: not a list of ints, the wrong length, an index out of range, or a layer
            given more than once ("layer 3 appears twice").
    """
    if n_teacher is not None:
        _check_sizes(n_teacher, 1)
    if n_student is not None:
        _check_sizes(MAX_LAYERS if n_teacher is None else n_teacher, n_student)
    limit = MAX_LAYERS if n_teacher is None else int(n_teacher)
    if isinstance(layers, (str, bytes, set, frozenset, dict)) or not hasattr(layers, "__iter__"):
        raise ValueError(
            f"layers must be a strategy name ({', '.join(STRATEGIES)}) or a list of 0-indexed "
            f"teacher layers (ints), got {layers!r} ({type(layers).__name__})"
        )
    if hasattr(layers, "__len__") and len(layers) > limit:
        raise ValueError(
            f"the layer list has {len(layers)} entries, more than the {limit} layers "
            f"{'the teacher has' if n_teacher is not None else 'accepted (MAX_LAYERS)'}"
        )
    values = list(layers)
    if not values:
        raise ValueError("the layer list is empty; a student needs at least one layer")
    bad = [v for v in values if not is_int(v)]
    if bad:
        kinds = sorted({type(v).__name__ for v in bad})
        raise ValueError(
            f"layer indices must be ints (0-indexed teacher layers), got {bad!r} "
            f"({', '.join(kinds)}) in {values!r}; bool, float and str are not accepted"
        )
    values = [int(v) for v in values]
    if n_student is not None and len(values) != n_student:
        raise ValueError(
            f"the explicit layer list {values} has {len(values)} entries but the student has "
            f"{n_student} layers; give exactly {n_student} indices."
        )
    out_of_range = [i for i in values if not 0 <= i < limit]
    if out_of_range:
        owner = f"a {limit}-layer teacher" if n_teacher is not None else "any teacher"
        raise ValueError(
            f"layer indices {out_of_range} are out of range for {owner}; valid indices are "
            f"0..{limit - 1} (0-indexed)."
        )
    counts: dict[int, int] = {}
    for i in values:
        counts[i] = counts.get(i, 0) + 1
    repeated = {i: c for i, c in counts.items() if c > 1}
    if repeated:
        times = {2: "twice", 3: "three times"}
        which = "; ".join(
            f"layer {i} appears {times.get(c, f'{c} times')}" for i, c in repeated.items()
        )
        raise ValueError(
            f"duplicate layer indices {sorted(repeated)} in {values}: {which}. Each teacher "
            "layer can be used once."
        )
    return values


def describe_strategy(strategy: LayerSpec) -> str:
    """A label for plots and tables: the canonical name, or the list itself for explicit lists."""
    if isinstance(strategy, str):
        return canonical_strategy(strategy)
    return "[" + ",".join(str(i) for i in check_layer_list(strategy)) + "]"


def layer_table(n_teacher: int, n_student: int, *, seed: int = 0) -> dict[str, list[int]]:
    """Every named strategy's layers for ``n_teacher -> n_student`` (skipping impossible ones).

    >>> layer_table(12, 6)["uniform"]
    [0, 2, 4, 7, 9, 11]

    Sizes that no strategy can use (not ints, outside ``1..MAX_LAYERS``, ``k > n``) raise
    ``ValueError`` rather than giving an empty table.
    """
    _check_sizes(n_teacher, n_student)
    _check_seed(seed)
    table: dict[str, list[int]] = {}
    for name in STRATEGIES:
        try:
            table[name] = select_layers(name, n_teacher, n_student, seed=seed)
        except ValueError:
            continue
    return table

# ---------------------------------------------------------------------------------------------
# The data-driven strategies: choosing k layers from the teacher's measurements
# (measured by distill_lib.selection; choosing needs only numpy, so it lives with the table)

_SWAP_ROUNDS = 50  # k-medoids swap rounds at most (each round is one improving swap)


def _medoid_cost(distance: np.ndarray, chosen: Sequence[int]) -> float:
    """Sum over all layers of the distance to the nearest chosen layer."""
    return float(distance[:, list(chosen)].min(axis=1).sum())


def cka_cover(cka_layers: np.ndarray, k: int) -> list[int]:
    """Pick k of n layers whose representations cover all n, from their CKA matrix.

    Distance ``D = 1 - CKA`` (symmetrised, clipped at 0). Steps:

    1. start from the **medoid**, the layer with the smallest total distance to all others:
       the best single representative (the 1-medoid), so k = 1 gives it. A data-driven start
       keeps this signal independent of position (the "last" layer, which the classifier
       reads, is already a fixed strategy);
    2. farthest-point (greedy max-min) steps: add the layer whose distance to its nearest
       chosen layer is largest, until k are chosen;
    3. k-medoids swaps: while swapping a chosen layer for an unchosen one lowers the total
       distance of every layer to its nearest chosen layer, make the best such swap (at most
       50 swaps; each costs O(k n^2), nothing for n <= 48).

    Ties (equal distances or costs) go to the lower layer index; a swap must lower the cost by
    more than 1e-12. Deterministic.

    Args:
        cka_layers: ``(n, n)`` CKA between the n layer outputs (no embeddings row).
        k: how many layers to keep, 1..n.

    Returns:
        k layer indices, ascending (teacher order).
    """
    sim = np.asarray(cka_layers, dtype=np.float64)
    if sim.ndim != 2 or sim.shape[0] != sim.shape[1] or sim.shape[0] == 0:
        raise ValueError(f"cka_layers must be a square (n, n) matrix, got shape {sim.shape}")
    if not np.isfinite(sim).all():
        raise ValueError("cka_layers has NaN or infinite values")
    n = sim.shape[0]
    k = check_int("k", k, 1, n)
    distance = np.clip(1.0 - (sim + sim.T) / 2.0, 0.0, None)
    np.fill_diagonal(distance, 0.0)

    chosen = [int(np.argmin(distance.sum(axis=1)))]  # argmin/argmax: first index wins ties
    while len(chosen) < k:
        nearest = distance[:, chosen].min(axis=1)
        nearest[chosen] = -1.0
        chosen.append(int(np.argmax(nearest)))

    cost = _medoid_cost(distance, chosen)
    for _ in range(_SWAP_ROUNDS):
        best: tuple[float, int, int] | None = None
        for pos in sorted(range(k), key=lambda p: chosen[p]):
            for candidate in range(n):
                if candidate in chosen:
                    continue
                trial = [*chosen[:pos], candidate, *chosen[pos + 1 :]]
                trial_cost = _medoid_cost(distance, trial)
                if trial_cost < cost - 1e-12 and (best is None or trial_cost < best[0] - 1e-12):
                    best = (trial_cost, pos, candidate)
        if best is None:
            break
        cost, pos, candidate = best
        chosen[pos] = candidate
    return sorted(chosen)


def choose_layers(name: str, measured: dict[str, Any], k: int) -> list[int]:
    """The k teacher layers a data-driven strategy keeps, ascending.

    Args:
        name: one of :data:`DATA_DRIVEN`: ``"influence"`` (highest block influence; ties: lower
            index), ``"cka-cover"`` (:func:`cka_cover` on the n layer outputs) or ``"drop"``
            (largest accuracy drop when skipped; ties: larger loss increase, then lower index).
        measured: the output of :func:`distill_lib.selection.measure_layers` (or the same dict
            loaded from JSON).
        k: student depth, 1..n.
    """
    if name not in DATA_DRIVEN:
        raise ValueError(
            f"unknown data-driven strategy {name!r}; choose one of {list(DATA_DRIVEN)}"
        )
    n = int(measured["n_layers"])
    k = check_int("k (the student layers)", k, 1, n)
    if name == "influence":
        scores = [float(v) for v in measured["block_influence"]]
        order = sorted(range(n), key=lambda i: (-scores[i], i))
    elif name == "drop":
        drop = measured["drop"]
        acc_drop = [float(v) for v in drop["accuracy_drop"]]
        loss_up = [float(v) for v in drop["loss_increase"]]
        order = sorted(range(n), key=lambda i: (-acc_drop[i], -loss_up[i], i))
    else:
        cka = np.asarray(measured["cka"], dtype=np.float64)
        return cka_cover(cka[1:, 1:], k)
    return sorted(order[:k])
