"""Layer selection: every strategy's indices for the classic shapes, and every error."""

import pytest

from distill_lib.layers import ALIASES, STRATEGIES, canonical_strategy, layer_table, select_layers


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
    assert select_layers(alias, 12, 6) == select_layers(target, 12, 6)


def test_top_k_is_the_first_k_layers():
    assert select_layers("top-k", 12, 6) == [0, 1, 2, 3, 4, 5]
    assert select_layers("bottom-k", 12, 6) == [6, 7, 8, 9, 10, 11]


def test_names_are_case_and_underscore_insensitive():
    assert select_layers("Top_K", 12, 3) == [0, 1, 2]


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
        (["a", "b"], 12, 2, "must hold ints"),
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
