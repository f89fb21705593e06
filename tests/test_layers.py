"""Layer selection: every strategy's indices for the classic shapes, and every error."""

import time

import numpy as np
import pytest

from distill_lib.layers import (
    ALIASES,
    DATA_DRIVEN,
    MAX_LAYERS,
    STRATEGIES,
    canonical_strategy,
    check_layer_list,
    describe_strategy,
    layer_table,
    select_layers,
)


@pytest.mark.parametrize(
    ("strategy", "n", "k", "expected"),
    [
        ("first", 12, 6, [0, 1, 2, 3, 4, 5]),
        ("last", 12, 6, [6, 7, 8, 9, 10, 11]),
        ("odd", 12, 6, [0, 2, 4, 6, 8, 10]),
        ("even", 12, 6, [1, 3, 5, 7, 9, 11]),
        ("uniform", 12, 6, [0, 2, 4, 7, 9, 11]),  # DistilBERT's extract_distilbert.py
        ("first", 6, 3, [0, 1, 2]),
        ("last", 6, 3, [3, 4, 5]),
        ("odd", 6, 3, [0, 2, 4]),
        ("even", 6, 3, [1, 3, 5]),
        ("uniform", 6, 3, [0, 2, 5]),  # linspace 0, 2.5, 5; 2.5 rounds half to even
        ("uniform", 12, 4, [0, 4, 7, 11]),
        ("odd", 12, 4, [0, 2, 4, 6]),  # fewer than n/2: the first k odd-numbered layers
        ("even", 12, 4, [1, 3, 5, 7]),
        ("uniform", 24, 6, [0, 5, 9, 14, 18, 23]),
        ("last", 24, 6, [18, 19, 20, 21, 22, 23]),
        ("even", 24, 6, [1, 3, 5, 7, 9, 11]),
        ("uniform", 12, 1, [0]),
        ("uniform", 12, 12, list(range(12))),
        ("odd", 7, 4, [0, 2, 4, 6]),  # 7 layers have 4 odd-numbered ones
    ],
)
def test_strategy_indices(strategy, n, k, expected):
    assert select_layers(strategy, n, k) == expected


def test_uniform_matches_distilbert_for_12_to_6():
    assert select_layers("uniform", 12, 6) == [0, 2, 4, 7, 9, 11]


@pytest.mark.parametrize(("alias", "target"), sorted(ALIASES.items()))
def test_aliases_mean_what_the_docs_say(alias, target):
    assert canonical_strategy(alias) == target
    if target in DATA_DRIVEN:  # chosen from measurements: same choice for alias and name
        measured = {"n_layers": 12, "block_influence": [i % 5 for i in range(12)],
                    "cka": np.eye(13).tolist(),
                    "drop": {"accuracy_drop": [i % 3 for i in range(12)],
                             "loss_increase": [0.0] * 12}}
        assert select_layers(alias, 12, 6, measured=measured) == select_layers(
            target, 12, 6, measured=measured
        )
    else:
        assert select_layers(alias, 12, 6) == select_layers(target, 12, 6)


def test_top_k_is_the_last_k_layers():
    # papers say "lower" for layers next to the input and usually "top" for the output end
    assert select_layers("top-k", 12, 6) == [6, 7, 8, 9, 10, 11]
    assert select_layers("bottom-k", 12, 6) == [0, 1, 2, 3, 4, 5]


def test_names_are_case_and_underscore_insensitive():
    assert select_layers("Top_K", 12, 3) == [9, 10, 11]


def test_random_is_seeded_sorted_and_distinct():
    a = select_layers("random", 12, 6, seed=3)
    assert a == select_layers("random", 12, 6, seed=3)
    assert a == sorted(a) and len(set(a)) == 6 and all(0 <= i < 12 for i in a)
    draws = {tuple(select_layers("random", 12, 6, seed=s)) for s in range(20)}
    assert len(draws) > 10


def test_explicit_list_is_validated_and_sorted():
    assert select_layers([11, 0, 5], 12, 3) == [0, 5, 11]


@pytest.mark.parametrize(
    ("strategy", "n", "k", "match"),
    [
        ("middle", 12, 6, "unknown layer strategy 'middle'.*first, last, odd, even, uniform"),
        ("first", 6, 12, "cannot have more layers than its teacher"),
        ("first", 12, 0, "n_student must be >= 1"),
        ("first", 0, 0, "n_teacher must be >= 1"),
        ("odd", 12, 7, "only 6 odd-numbered layers"),
        ("even", 7, 4, "only 3 even-numbered layers"),
        ([0, 0, 5], 12, 3, "duplicate layer indices \\[0\\]"),
        ([0, 5, 12], 12, 3, "out of range.*0..11"),
        ([-1, 5, 6], 12, 3, "out of range"),
        ([0, 5], 12, 3, "has 2 entries but the student has 3"),
        (["a", "b"], 12, 2, "must be ints"),
        ("first", 12.0, 6, "n_teacher must be an int"),
    ],
)
def test_invalid_input_raises_value_error(strategy, n, k, match):
    with pytest.raises(ValueError, match=match):
        select_layers(strategy, n, k)


def test_layer_table_lists_every_possible_strategy():
    table = layer_table(12, 6)
    assert set(table) == set(STRATEGIES)
    assert "odd" not in layer_table(12, 7)  # impossible there, skipped instead of raising


# ---------------------------------------------------------------------------------------------
# Explicit layer lists: only real ints, in range, each once (reported: [0.5, 1] became [0, 1],
# ["0", "1"] and [True, False] became [1, 0])

BAD_ENTRIES = [
    ([0.5, 1], "0.5"),
    ([0.0, 1.0], "float"),
    (["0", "1"], "'0'"),
    ([True, False], "True"),
    ([np.float64(1.0), 2], "float"),
    ([np.bool_(True), 2], "bool"),
    ([None, 1], "None"),
    ([[0], 1], r"\[0\]"),
]


@pytest.mark.parametrize(("layers", "shown"), BAD_ENTRIES)
def test_explicit_list_rejects_non_int_entries(layers, shown):
    for check in (
        lambda: select_layers(layers, 12, 2),
        lambda: check_layer_list(layers, 12, 2),
        lambda: check_layer_list(layers),
        lambda: describe_strategy(layers),
    ):
        with pytest.raises(ValueError, match=rf"layer indices must be ints.*{shown}"):
            check()


@pytest.mark.parametrize(
    "layers", [[0, 5, 11], (0, 5, 11), range(0, 12, 5), np.array([0, 5, 11]), [np.int64(0), 5, 11]]
)
def test_explicit_list_accepts_ints_and_numpy_ints(layers):
    out = check_layer_list(layers, 12, 3)
    assert out == [int(i) for i in layers] and all(type(i) is int for i in out)
    assert select_layers(layers, 12, 3) == sorted(out)


def test_check_layer_list_keeps_the_callers_order():
    assert check_layer_list([11, 0, 5], 12, 3) == [11, 0, 5]
    assert select_layers([11, 0, 5], 12, 3) == [0, 5, 11]


@pytest.mark.parametrize(
    ("layers", "match"),
    [
        ([3, 3], "layer 3 appears twice"),
        ([3, 1, 3], "layer 3 appears twice"),
        ([2, 2, 2], "layer 2 appears three times"),
        ([1, 1, 4, 4], "layer 1 appears twice; layer 4 appears twice"),
        ([np.int64(5), 5], "layer 5 appears twice"),
    ],
)
def test_repeated_layer_is_an_error_everywhere(layers, match):
    k = len(layers)
    with pytest.raises(ValueError, match=match):
        select_layers(layers, 12, k)
    with pytest.raises(ValueError, match=match):
        check_layer_list(layers, 12, k)
    with pytest.raises(ValueError, match=match):
        check_layer_list(layers)  # teacher depth not known yet (e.g. a loss's layer_map)
    with pytest.raises(ValueError, match=match):
        describe_strategy(layers)


@pytest.mark.parametrize(
    ("layers", "n", "k", "match"),
    [
        ("0,1", 12, 2, "strategy name .* or a list"),
        ({0, 1}, 12, 2, "strategy name .* or a list"),
        (3, 12, 1, "strategy name .* or a list"),
        ([], 12, None, "empty"),
        (list(range(13)), 12, None, "13 entries, more than the 12 layers"),
        ([0, 12], 12, 2, "out of range.*0..11"),
        ([0, MAX_LAYERS], None, None, f"out of range.*0..{MAX_LAYERS - 1}"),
        ([0, 1], 12, 3, "2 entries but the student has 3"),
    ],
)
def test_check_layer_list_errors(layers, n, k, match):
    with pytest.raises(ValueError, match=match):
        check_layer_list(layers, n, k)


@pytest.mark.parametrize(("layers", "shown"), BAD_ENTRIES[:4])
def test_make_student_rejects_non_int_layers(layers, shown):
    from tiny_models import tiny_bert

    from distill_lib.student import make_student

    with pytest.raises(ValueError, match=shown):
        make_student(tiny_bert(num_layers=4, hidden=16), layers)


def test_make_student_rejects_a_repeated_layer():
    from tiny_models import tiny_bert

    from distill_lib.student import make_student

    with pytest.raises(ValueError, match="layer 3 appears twice"):
        make_student(tiny_bert(num_layers=4, hidden=16), [3, 3])


# ---------------------------------------------------------------------------------------------
# Sizes: ints in 1..MAX_LAYERS, rejected before anything is allocated (reported: MemoryError
# for `distill-lib layers --teacher-layers 100000000000000 --student-layers 1`)

HUGE = 100_000_000_000_000


@pytest.mark.parametrize(
    ("n", "k", "match"),
    [
        (HUGE, 1, f"n_teacher must be >= 1 and <= {MAX_LAYERS}.*got {HUGE}"),
        (MAX_LAYERS + 1, 1, f"n_teacher must be >= 1 and <= {MAX_LAYERS}"),
        (12, HUGE, f"n_student must be >= 1 and <= {MAX_LAYERS}"),
        (-5, 1, "n_teacher must be >= 1"),
        (True, 1, "n_teacher must be an int between 1 and"),
        ("12", 6, "n_teacher must be an int.*'12'"),
        (12, 6.0, "n_student must be an int.*6.0"),
        (12, None, "n_student must be an int"),
    ],
)
def test_sizes_are_checked_cheaply_everywhere(n, k, match):
    start = time.perf_counter()
    for strategy in [*STRATEGIES, [0]]:
        with pytest.raises(ValueError, match=match):
            select_layers(strategy, n, k, seed=0)
    with pytest.raises(ValueError, match=match):
        layer_table(n, k)  # raises, not an empty table
    assert time.perf_counter() - start < 1.0


@pytest.mark.parametrize("strategy", sorted(STRATEGIES))
def test_the_deepest_teacher_allowed_is_fast(strategy):
    start = time.perf_counter()
    layers = select_layers(strategy, MAX_LAYERS, 2, seed=1)
    assert len(layers) == 2 and all(0 <= i < MAX_LAYERS for i in layers)
    assert time.perf_counter() - start < 0.5
    assert len(layer_table(MAX_LAYERS, MAX_LAYERS)) >= 4


@pytest.mark.parametrize("seed", ["1", 1.5, True, [1]])
def test_seed_must_be_an_int_or_none(seed):
    with pytest.raises(ValueError, match="seed must be an int or None"):
        select_layers("random", 12, 3, seed=seed)
    assert select_layers("random", 12, 3, seed=np.int64(4)) == select_layers(
        "random", 12, 3, seed=4
    )
