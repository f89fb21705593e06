"""The committed runs stay found: no key change may silently retrain or orphan them.

Each committed output folder's ``config.json`` (read with today's key-schema migration) and
the committed preset of the same name, planned with today's code, must name every run JSON in
the folder, and nothing else; every main run must be there. Runs of the recipe and budget
axes may still be training (they resume), and the README says how many are left.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from distill_lib.experiment import ExperimentConfig, plan
from distill_lib.experiment.keys import KEY_SCHEMA, migrate_train_settings, train_key
from distill_lib.train_config import TrainConfig

ROOT = Path(__file__).resolve().parents[1] / "runs"


def _committed_folders() -> list[str]:
    """The run folders git tracks (a local `runs/quick` from the README command is not one)."""
    import subprocess

    try:
        out = subprocess.run(["git", "ls-files", "runs/*/config.json"], cwd=ROOT.parent,
                             capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):  # no git: the folders .gitignore keeps
        return ["classic", "standard"]
    return sorted(Path(line).parent.name for line in out.split())


FOLDERS = _committed_folders()


def _planned(folder: Path, config: ExperimentConfig, main_only: bool = False) -> set[str]:
    teacher = next(folder.glob("runs/teacher-*.json"))
    n_teacher = len(json.loads(teacher.read_text())["layers"])
    scores = next(folder.glob("layer-scores-*.json"), None)
    measured = json.loads(scores.read_text()) if scores else None
    return {job.filename for job in plan(config, n_teacher, measured)
            if not (main_only and job.variant)}


def _check(folder: Path, config: ExperimentConfig) -> None:
    committed = _committed(folder)
    assert committed, f"{folder} holds no run JSONs"
    assert committed <= _planned(folder, config), "a committed run no plan names (orphaned)"
    assert _planned(folder, config, main_only=True) <= committed, "a main run is missing"


def _committed(folder: Path) -> set[str]:
    return {p.name for p in (folder / "runs").glob("*.json") if not p.name.startswith("teacher-")}


def test_there_are_committed_runs_to_pin():
    assert {"classic", "standard"} <= set(FOLDERS)


@pytest.mark.parametrize("name", FOLDERS)
def test_config_json_plans_every_committed_run(name):
    folder = ROOT / name
    _check(folder, ExperimentConfig.from_dict(json.loads((folder / "config.json").read_text())))


@pytest.mark.parametrize("name", [n for n in FOLDERS
                                  if n in ("classic", "standard", "quick", "beyond")])
def test_preset_plans_every_committed_run(name):
    _check(ROOT / name, ExperimentConfig.preset(name))


STANDARD_STRATEGIES = ["first", "last", "odd", "even", "uniform", "influence", "cka-cover",
                       "drop"]


def test_committed_counts():
    # main runs: 30 classic and 30 standard (8 strategies + 2 baselines, 3 seeds each); the
    # standard folder also holds the 3 seeds of its DistilBERT twin of `uniform` and its axis
    config = ExperimentConfig.preset("classic")
    assert len(_planned(ROOT / "classic", config, main_only=True)) == 30
    names = sorted(n.split("-seed")[0] for n in _committed(ROOT / "standard"))
    recipes = [n for n in names if n.rsplit("-", 1)[-1] in ("hidden", "rail", "alp")]
    assert len(names) - len(recipes) == 30 + 3
    assert [n for n in names if "-distilbert" in n] == ["uniform-distilbert"] * 3
    # its recipe axis: hidden, rail and alp for every strategy, 3 seeds each (the data-driven
    # strategies' runs reuse those of the fixed strategy whose layers they picked)
    assert recipes == sorted(f"{a}-{r}" for a in STANDARD_STRATEGIES
                             for r in ("hidden", "rail", "alp") for _ in range(3))


def test_an_older_config_json_is_migrated_not_defaulted():
    old = {"epochs": 2, "lr": 2e-5}  # key schema 1: written before cls_only_last_layer existed
    migrated = TrainConfig(**migrate_train_settings(old, schema=1))
    assert migrated.cls_only_last_layer is False  # what those runs did, not today's default
    current = TrainConfig(**migrate_train_settings(old, schema=KEY_SCHEMA))
    assert current.cls_only_last_layer is True  # today's default where the schema is current
    assert "cls_only_last_layer" not in train_key(migrated)  # the older key, unchanged
    assert train_key(current)["cls_only_last_layer"] is True


def test_config_round_trip_keeps_the_schema():
    config = ExperimentConfig.preset("quick")
    values = config.to_dict()
    assert values["key_schema"] == KEY_SCHEMA
    again = ExperimentConfig.from_dict(json.loads(json.dumps(values)))
    assert again == config


def test_a_newer_schema_is_refused_with_one_line():
    values = {**ExperimentConfig.preset("quick").to_dict(), "key_schema": KEY_SCHEMA + 1}
    with pytest.raises(ValueError, match="newer distill_lib"):
        ExperimentConfig.from_dict(values)


def test_train_config_is_frozen():
    import dataclasses

    config = TrainConfig()
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.lr = 1.0  # type: ignore[misc]
    assert config.replace(lr=1.0).lr == 1.0 and config.lr == 5e-5


def test_the_classic_budget_axis_has_the_best_data_driven_map():
    """The classic preset names `drop` as the best data-driven map of its main runs (chosen
    from them); it must stay so while those runs are the committed ones."""
    from distill_lib.experiment import load_results
    from distill_lib.layers import DATA_DRIVEN

    results = load_results(ROOT / "classic", partial=True, log=None)
    rows = results.summary[results.summary["name"].isin(list(DATA_DRIVEN))]
    best = rows.sort_values("mean_accuracy")["name"].iloc[-1]
    assert best in ExperimentConfig.preset("classic").budget_strategies


MOVING_FOLDERS = {"beyond": ["first", "uniform", "last"],
                  "standard": STANDARD_STRATEGIES}


@pytest.mark.parametrize("name", [n for n in MOVING_FOLDERS if n in FOLDERS])
def test_the_moving_map_runs_are_complete_and_learned(name):
    """Every run of the preset is there (axes included); the `rail` and `alp` students learned
    (none collapsed), `rail` moved its map, `alp` logged weights summing to 1, and every run
    saved the probabilities its ensembles are made from."""
    from distill_lib.experiment import load_results

    folder = ROOT / name
    assert _planned(folder, ExperimentConfig.preset(name)) == _committed(folder)
    results = load_results(folder, log=None)
    assert not results.missing and not results.missing_axes
    assert results.runs["probabilities"].notna().all() and not results.runs["collapsed"].any()
    moving = [r for r in results.axis_runs if r["recipe"] in ("rail", "alp")]
    assert sorted({r["name"] for r in moving}) == sorted(MOVING_FOLDERS[name])
    assert len(moving) == 2 * len(MOVING_FOLDERS[name]) * 3  # two recipes x strategies x seeds
    majority = results.majority["accuracy"]
    for r in moving:
        assert r["test"]["accuracy"] > majority + 0.05 and "probabilities" in r["test"]
        if r["recipe"] == "rail":
            maps = [h["layer_map"] for h in r["history"]]
            assert all(m == sorted(m) for m in maps)
            if len(maps) > 1:  # one epoch draws one map (the standard students train one)
                assert len({tuple(m) for m in maps}) > 1
        else:
            for h in r["history"]:
                assert all(abs(sum(row) - 1) < 1e-3 for row in h["alp_weights"])
