"""Statistics used to compare strategies, checked against values computed by hand."""


import numpy as np
import pytest

from distill_lib.stats import (
    bootstrap_accuracy_ci,
    collapse_reason,
    holm,
    paired_bootstrap,
    paired_spread_change,
)


def test_holm_by_hand():
    # sorted p: 0.01, 0.02, 0.04 -> x3, x2, x1 = 0.03, 0.04, 0.04 (monotone)
    assert holm([0.04, 0.01, 0.02]) == pytest.approx([0.04, 0.03, 0.04])
    assert holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])  # 0.5 x 2 = 1.0, then monotone


def test_paired_bootstrap_identical_models_is_not_significant():
    rng = np.random.default_rng(0)
    correct = rng.random((3, 500)) < 0.8
    res = paired_bootstrap(correct, correct)
    assert res["diff"] == 0 and res["p_value"] == 1.0


def test_paired_bootstrap_detects_a_clear_difference():
    rng = np.random.default_rng(1)
    a = rng.random((3, 1000)) < 0.85
    b = a & (rng.random((3, 1000)) < 0.9)  # b is wrong on ~10% more examples, never better
    res = paired_bootstrap(a, b, n_resamples=1000)
    assert res["diff"] == pytest.approx(a.mean() - b.mean())
    assert res["ci_low"] > 0 and res["p_value"] <= 0.002


def test_paired_bootstrap_small_difference_on_small_test_set_is_not_significant():
    a = np.zeros((2, 100), bool)
    b = np.zeros((2, 100), bool)
    a[:, :51] = True
    b[:, :50] = True
    b[:, 99] = True  # one different example each way except one: diff 0.01
    res = paired_bootstrap(a, b)
    assert res["diff"] == pytest.approx(0.0)
    assert res["p_value"] > 0.5


def test_paired_bootstrap_needs_same_shape():
    with pytest.raises(ValueError, match="same seeds and test set"):
        paired_bootstrap(np.ones((2, 5)), np.ones((3, 5)))


def test_collapse_reason():
    assert "predicts class 1 for 100%" in collapse_reason([0, 100], 0.5, 0.5)
    assert "within noise of the majority" in collapse_reason([40, 60], 0.52, 0.5)
    assert collapse_reason([480, 520], 0.80, 0.5) is None


@pytest.mark.parametrize("confidence", [0, 1, 1.5, -0.1, float("nan"), "0.95", True, None])
def test_confidence_must_be_strictly_between_0_and_1(confidence):
    with pytest.raises(ValueError, match=r"confidence must be .*between 0 and 1"):
        paired_bootstrap(np.ones((2, 3)), np.zeros((2, 3)), confidence=confidence)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_resamples": 0}, "n_resamples must be an int >= 1, got 0"),
        ({"n_resamples": 100.0}, "n_resamples must be an int >= 1, got 100.0"),
        ({"n_resamples": True}, "n_resamples must be an int >= 1, got True"),
        ({"seed": -1}, "seed must be an int >= 0, got -1"),
        ({"seed": "0"}, "seed must be an int >= 0, got '0'"),
    ],
)
def test_bootstraps_check_their_settings(kwargs, match):
    with pytest.raises(ValueError, match=match):
        paired_bootstrap(np.ones((2, 3)), np.zeros((2, 3)), **kwargs)
    with pytest.raises(ValueError, match=match):
        bootstrap_accuracy_ci(np.ones((2, 3)), **kwargs)


def test_bootstraps_take_numpy_ints():
    res = paired_bootstrap(
        np.ones((2, 3)), np.zeros((2, 3)), n_resamples=np.int64(50), seed=np.int32(1)
    )
    assert res["diff"] == 1.0 and res["p_value"] == pytest.approx(1 / 50)
    assert bootstrap_accuracy_ci(np.ones((2, 3)), n_resamples=np.int64(50)) == (1.0, 1.0)


def test_paired_bootstrap_needs_non_empty_arrays():
    with pytest.raises(ValueError, match="non-empty"):
        paired_bootstrap(np.ones((2, 0)), np.ones((2, 0)))


@pytest.mark.parametrize("max_share", [0, 1.01, -1, float("nan"), "0.9", True])
def test_collapse_max_share_must_be_in_0_1(max_share):
    with pytest.raises(ValueError, match=r"max_share must be a number in \(0, 1\]"):
        collapse_reason([5, 5], 0.9, 0.5, max_share=max_share)


def test_a_spread_change_by_hand():
    ones, zeros = np.ones((2, 30)), np.zeros((2, 30))
    half = np.tile([1.0, 0.0], (2, 15))  # 0.5 here, any value in a resampled draw
    closed = paired_spread_change([ones, zeros, half], [ones, ones, ones], n_resamples=200)
    assert closed == {"diff": -1.0, "ci_low": -1.0, "ci_high": -1.0, "p_value": 1 / 200}
    same = paired_spread_change([ones, zeros], [ones, zeros], n_resamples=200)
    assert (same["diff"], same["ci_low"], same["ci_high"], same["p_value"]) == (0, 0, 0, 1.0)
    a = (np.arange(120).reshape(3, 40) % 3 == 0).astype(float)  # means 14/40, 13/40, 13/40
    b = (np.arange(120).reshape(3, 40) % 4 == 0).astype(float)  # 10/40 each
    grew = paired_spread_change([a, a], [a, b], n_resamples=300)
    assert grew["diff"] == pytest.approx(a.mean() - b.mean())  # two: |paired difference|
    assert grew["ci_low"] <= grew["diff"] <= grew["ci_high"]


@pytest.mark.parametrize("groups, match", [
    ([np.ones((2, 5))], "at least two"),
    ([np.ones((2, 5)), np.ones((3, 5))], "of one shape"),
    ([np.ones((2, 0)), np.ones((2, 0))], "non-empty"),
])
def test_a_spread_change_needs_paired_groups(groups, match):
    with pytest.raises(ValueError, match=match):
        paired_spread_change(groups, groups)


def test_a_spread_change_needs_the_same_strategies_on_both_sides():
    with pytest.raises(ValueError, match="the same strategies"):
        paired_spread_change([np.ones((2, 5))] * 2, [np.ones((2, 5))] * 3)
