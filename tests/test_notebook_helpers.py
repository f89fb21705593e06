"""The notebooks' shared helpers (:mod:`distill_lib.notebook`) on the committed run folders."""

from __future__ import annotations

from pathlib import Path

import pytest

from distill_lib.experiment.beyond import moving_recipes
from distill_lib.notebook import NotebookSetup, repo_root, setup

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def nb(monkeypatch_module) -> NotebookSetup:
    return setup("quick", quiet=False)


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(ROOT)  # (as a notebook run from the repository folder)
        yield mp


def test_repo_root_is_relative():
    assert repo_root(ROOT / "notebooks") == Path("..")
    assert repo_root(ROOT) == Path(".")


def test_committed_keeps_the_folders_that_pass(nb, capsys):
    found = nb.committed(["beyond", "no-such-folder"], keep=moving_recipes)
    said = capsys.readouterr().out.splitlines()
    assert list(found) == ["beyond"]
    assert moving_recipes(found["beyond"]) == ["rail", "alp"]
    assert said[0].startswith("runs/beyond: ") and "runs on the axes" in said[0]
    assert said[1].startswith("runs/no-such-folder: ")
    # a folder that does not pass `keep` is named and left out
    assert nb.committed(["beyond"], keep=lambda results: False) == {}
    assert "nothing of this kind" in capsys.readouterr().out
