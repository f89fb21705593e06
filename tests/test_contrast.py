"""Several runs side by side (distill_lib.experiment.contrast), on the committed runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from distill_lib.experiment import load_results
from distill_lib.experiment.contrast import contrast, run_facts

RUNS = Path(__file__).resolve().parents[1] / "runs"


@pytest.fixture(scope="module")
def committed():
    return {name: load_results(RUNS / name, log=None) for name in ("standard", "classic")}


def test_budget_by_hand(committed):
    standard, classic = run_facts(committed["standard"]), run_facts(committed["classic"])
    assert (standard.sentences, standard.updates) == (8454, 265)  # ceil(8454 / 32) x 1 epoch
    assert (classic.sentences, classic.updates) == (640, 80)  # 640 / 16 x 2 epochs
    assert (standard.teacher_layers, classic.teacher_layers) == (6, 12)


def test_ranks_and_significant_pairs_follow_the_tables(committed):
    for results in committed.values():
        facts = run_facts(results)
        summary = results.summary.set_index("name")
        assert facts.ranks[facts.best] == 1
        for better, worse in facts.significant:
            assert summary.loc[better, "mean_accuracy"] > summary.loc[worse, "mean_accuracy"]


def test_contrast_states_what_the_numbers_say(committed):
    text = contrast(committed)
    ranks = {n: run_facts(r).ranks["first"] for n, r in committed.items()}
    assert f"`first` ranks {ranks['classic']} in the classic run" in text
    assert "teacher depth" in text  # 6 vs 12 layers differ
    standard, classic = run_facts(committed["standard"]), run_facts(committed["classic"])
    shared = standard.significant & classic.significant
    for better, worse in shared:
        assert f"`{better}` > `{worse}`" in text


def test_identical_runs_share_everything(committed):
    text = contrast({"a": committed["standard"], "b": committed["standard"]})
    facts = run_facts(committed["standard"])
    assert f"`first` ranks {facts.ranks['first']} in every run." in text
    assert "opposite verdicts" not in text
    for better, worse in facts.significant:
        assert f"`{better}` > `{worse}`" in text.split("in common:")[1]
