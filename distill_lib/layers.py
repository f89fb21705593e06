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

Aliases. Write-ups differ on which end of the network is the "top": the BERT-PKD and "How to
distill your BERT" papers draw layer 1 at the top of the figure and call the first k layers
"top-k", while others draw the stack bottom-up. We accept these aliases and say plainly what
they mean here:

* ``top-k``, ``lower``, ``bottom-up`` -> ``first`` (the k layers nearest the embeddings)
* ``bottom-k``, ``higher``, ``top-down`` -> ``last`` (the k layers nearest the output)
* ``alternate``, ``skip`` -> ``even`` ([1, 3, 5, 7, 9, 11], the default of Wang et al. 2023
  and the PKD-Skip matching)
* ``spread``, ``distilbert`` -> ``uniform``

Data-driven choices (e.g. picking layers by probing accuracy) can be computed in a notebook
and passed as an explicit list.
"""

from __future__ import annotations

import random as _random
from collections.abc import Sequence

import numpy as np

STRATEGIES: dict[str, str] = {
    "first": "the first k teacher layers (nearest the embeddings)",
    "last": "the last k teacher layers (nearest the classifier)",
    "odd": "teacher layers 1, 3, 5, ... counted from 1 (0-indexed 0, 2, 4, ...)",
    "even": "teacher layers 2, 4, 6, ... counted from 1 (0-indexed 1, 3, 5, ...)",
    "uniform": "round(linspace(0, n-1, k)): evenly spread, keeps the first and last layer",
    "random": "k distinct layers drawn at random with `seed`, sorted",
}
"""The named strategies and what each keeps. An explicit list of indices is also accepted."""

ALIASES: dict[str, str] = {
    "top-k": "first",
    "lower": "first",
    "bottom-up": "first",
    "bottom-k": "last",
    "higher": "last",
    "top-down": "last",
    "alternate": "even",
    "skip": "even",
    "spread": "uniform",
    "distilbert": "uniform",
}
"""Other names found in papers, mapped to the positional name used here (see module docs)."""

DETERMINISTIC_STRATEGIES: tuple[str, ...] = ("first", "last", "odd", "even", "uniform")
"""The strategies compared by default (``random`` needs a seed and is a baseline)."""

LayerSpec = str | Sequence[int]


def canonical_strategy(strategy: str) -> str:
    """Map a strategy name or alias to its positional name, e.g. ``"top-k"`` -> ``"first"``."""
    key = strategy.strip().lower().replace("_", "-")
    key = ALIASES.get(key, key)
    if key not in STRATEGIES:
        choices = ", ".join(STRATEGIES) + "; aliases: " + ", ".join(ALIASES)
        raise ValueError(
            f"unknown layer strategy {strategy!r}. Choose one of: {choices}; "
            "or pass an explicit list of 0-indexed teacher layers such as [0, 5, 11]."
        )
    return key


def _check_sizes(n_teacher: int, n_student: int) -> None:
    for name, value in (("n_teacher", n_teacher), ("n_student", n_student)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise ValueError(f"{name} must be an int, got {value!r}")
    if n_teacher < 1:
        raise ValueError(f"n_teacher must be >= 1, got {n_teacher}")
    if n_student < 1:
        raise ValueError(f"n_student must be >= 1 (a student needs a layer), got {n_student}")
    if n_student > n_teacher:
        raise ValueError(
            f"a student cannot have more layers than its teacher: n_student={n_student} > "
            f"n_teacher={n_teacher}. Choose n_student between 1 and {n_teacher}."
        )


def select_layers(
    strategy: LayerSpec, n_teacher: int, n_student: int, *, seed: int | None = None
) -> list[int]:
    """The 0-indexed teacher layers (ascending) that initialise an ``n_student``-layer student.

    Args:
        strategy: ``"first"``, ``"last"``, ``"odd"``, ``"even"``, ``"uniform"``, ``"random"``,
            an alias from :data:`ALIASES`, or an explicit sequence of layer indices.
        n_teacher: number of teacher encoder layers (n).
        n_student: number of student layers (k), ``1 <= k <= n``.
        seed: random seed, used (and required for repeatability) by ``"random"`` only.

    Returns:
        ``k`` distinct indices in ``range(n_teacher)``, ascending.

    Raises:
        ValueError: unknown strategy, ``k > n``, ``k < 1``, an explicit list with duplicates,
            out-of-range indices or the wrong length, or ``odd``/``even`` with more layers than
            that parity has. The message lists the valid choices.
    """
    _check_sizes(n_teacher, n_student)
    if not isinstance(strategy, str):
        return _explicit_layers(strategy, n_teacher, n_student)

    name = canonical_strategy(strategy)
    n, k = int(n_teacher), int(n_student)
    if name == "first":
        return list(range(k))
    if name == "last":
        return list(range(n - k, n))
    if name in ("odd", "even"):
        pool = list(range(0 if name == "odd" else 1, n, 2))
        if k > len(pool):
            raise ValueError(
                f"strategy {name!r} keeps every second layer, and a {n}-layer teacher has only "
                f"{len(pool)} {name}-numbered layers ({[i + 1 for i in pool]} counting from 1), "
                f"fewer than the {k} the student needs. Use 'uniform', 'first', 'last' or an "
                "explicit list."
            )
        return pool[:k]
    if name == "uniform":
        # Python's round() rounds halves to even, like numpy; both give DistilBERT's map.
        return [int(x) for x in np.round(np.linspace(0, n - 1, k))]
    # random
    rng = _random.Random(seed)
    return sorted(rng.sample(range(n), k))


def _explicit_layers(layers: Sequence[int], n_teacher: int, n_student: int) -> list[int]:
    try:
        values = list(layers)
    except TypeError:
        raise ValueError(
            f"layers must be a strategy name ({', '.join(STRATEGIES)}) or a list of ints, "
            f"got {layers!r}"
        ) from None
    if not values or any(
        isinstance(i, bool) or not isinstance(i, (int, np.integer)) for i in values
    ):
        raise ValueError(f"an explicit layer list must hold ints, got {values!r}")
    values = [int(i) for i in values]
    if len(values) != n_student:
        raise ValueError(
            f"the explicit layer list {values} has {len(values)} entries but the student has "
            f"{n_student} layers; give exactly {n_student} indices."
        )
    bad = [i for i in values if not 0 <= i < n_teacher]
    if bad:
        raise ValueError(
            f"layer indices {bad} are out of range for a {n_teacher}-layer teacher; valid "
            f"indices are 0..{n_teacher - 1} (0-indexed)."
        )
    if len(set(values)) != len(values):
        dups = sorted({i for i in values if values.count(i) > 1})
        raise ValueError(
            f"duplicate layer indices {dups} in {values}; each layer may be used once."
        )
    return sorted(values)


def describe_strategy(strategy: LayerSpec) -> str:
    """A label for plots and tables: the canonical name, or the list itself for explicit lists."""
    if isinstance(strategy, str):
        return canonical_strategy(strategy)
    return "[" + ",".join(str(int(i)) for i in strategy) + "]"


def layer_table(n_teacher: int, n_student: int, *, seed: int = 0) -> dict[str, list[int]]:
    """Every named strategy's layers for ``n_teacher -> n_student`` (skipping impossible ones).

    >>> layer_table(12, 6)["uniform"]
    [0, 2, 4, 7, 9, 11]
    """
    table: dict[str, list[int]] = {}
    for name in STRATEGIES:
        try:
            table[name] = select_layers(name, n_teacher, n_student, seed=seed)
        except ValueError:
            continue
    return table
