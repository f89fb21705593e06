"""Compare layer-initialisation strategies for a distilled student, with seeds and baselines.

    from distill_lib.experiment import ExperimentConfig, compare_strategies
    results = compare_strategies(ExperimentConfig.preset("quick"))
    print(results.report())

or from a shell: ``distill-lib compare --preset quick``. The pieces, one idea each:

* :mod:`.config`: :class:`ExperimentConfig`, the baselines and the presets;
* :mod:`.keys`: how a run is named (its key) and the key schema, with its migrations;
* :mod:`.store`: which runs a comparison needs, reading (damaged files set aside), the lock;
* :mod:`.prepare`: the up-front checks and the data; :mod:`.evaluation`: test metrics,
  latency and the teacher's layer measurements;
* :mod:`.runner`: :class:`Experiment` and :func:`compare_strategies`, which train and evaluate;
* :mod:`.workers`: student runs side by side on any ``concurrent.futures`` executor;
* :mod:`.results`: :class:`Results` and every table and sentence printed from it;
  :mod:`.axes`: the recipe and budget axes; :mod:`.footprint`: the DistilBERT arm and the
  size, latency and accuracy of every model (int8 included).
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .config import BASELINES, DEFAULT_PRESET, PRESETS, RECIPES, ExperimentConfig, Preset
from .store import RUN_FORMAT, Job, RunStore, check_teacher_record, plan

if TYPE_CHECKING:
    from .results import METHOD, Comparison, Results, summarise
    from .runner import Experiment, compare_strategies, validate

_LAZY: dict[str, str] = {
    "METHOD": "results",
    "Comparison": "results",
    "Results": "results",
    "summarise": "results",
    "Experiment": "runner",
    "compare_strategies": "runner",
    "validate": "runner",  # lives in .prepare; the runner re-exports it
}
"""Names imported on first use (PEP 562): :mod:`.runner` needs torch, transformers and datasets,
:mod:`.results` pandas and scipy. :mod:`.config` and :mod:`.store` need none of them, so
``distill-lib presets`` and the help texts stay fast."""


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])


def save_all_tables(results: Results) -> list[Path]:
    """Write every table of a comparison (main, axes, footprint, ensembles, the spread of the
    initialisations per recipe) as CSV + Markdown."""
    from .axes import save_axis_tables
    from .beyond import save_spread_table
    from .ensembles import save_ensemble_table
    from .footprint import save_footprint_tables

    return [*results.save_tables(), *save_axis_tables(results),
            *save_footprint_tables(results), *save_ensemble_table(results),
            *save_spread_table(results)]


def load_results(
    output_dir: str | Path,
    *,
    partial: bool = False,
    log=print,
    redo_hint: str = "run compare_strategies(config) again to redo it",
) -> Results:
    """Rebuild :class:`Results` from a finished output folder, without training anything.

    Needs only the folder's JSONs: no teacher, data or network. A damaged run file is named
    (through ``log``), set aside and counted as missing.

    Args:
        partial: summarise the runs that are there when some main runs are missing (their
            file names are in ``results.missing``) instead of raising. Runs of the recipe and
            budget axes still to train never raise: their file names are in
            ``results.missing_axes``, and the axes are summarised from the finished ones.
        redo_hint: how the line about a damaged file ends (this function trains nothing, so
            it says how to redo the run; the CLI names `distill-lib compare`).

    Raises:
        FileNotFoundError: the folder holds no comparison, or (unless ``partial``) some main
            runs are not finished.
    """
    from .results import summarise  # pandas and scipy: only when results are summarised

    store = RunStore(output_dir, log=log, redo_hint=redo_hint)
    try:
        config = ExperimentConfig.from_dict(json.loads(store.config_path.read_text()))
    except FileNotFoundError:
        raise FileNotFoundError(
            f"{store.root} holds no config.json; run compare_strategies first."
        ) from None
    except (json.JSONDecodeError, TypeError, ValueError) as err:
        raise FileNotFoundError(
            f"{store.config_path} is damaged or not a distill_lib config ({err}); run "
            "compare_strategies again to rewrite it."
        ) from None
    teacher_record = store.read_json(store.teacher_record_path(config), check_teacher_record)
    if teacher_record is None:
        raise FileNotFoundError(
            f"{store.root} has no teacher evaluation for this config; run compare_strategies "
            "to finish it."
        )
    measured = store.read_json(store.layer_scores_path(config))
    jobs = plan(config, len(teacher_record["layers"]), measured)
    records = [store.read_run(job) for job in jobs]
    missing = [job.filename for job, r in zip(jobs, records, strict=True)
               if r is None and not job.variant]
    missing_axes = [job.filename for job, r in zip(jobs, records, strict=True)
                    if r is None and job.variant]
    if (missing and not partial) or len(missing) + len(missing_axes) == len(jobs):
        missing = missing + missing_axes
        raise FileNotFoundError(
            f"{len(missing)} of {len(jobs)} runs in {store.runs_dir} are missing or were set "
            f"aside (e.g. {missing[0]}); run compare_strategies(config) (or `distill-lib "
            "compare` with the same options) to redo them."
        )
    majority = store.read_json(store.majority_path)
    if majority is None:
        raise FileNotFoundError(f"{store.majority_path} is missing; run compare_strategies.")
    efficiency = store.read_json(store.efficiency_path) or {}
    results = summarise(config, [r for r in records if r is not None], teacher_record, majority,
                        efficiency, store.root)
    results.missing, results.missing_axes = missing, missing_axes
    # the teacher's layer measurements, if this folder holds them (also when its data-driven
    # strategies were measured but not trained): the figures show what they would pick
    results.measured = measured
    return results


__all__ = [
    "BASELINES",
    "DEFAULT_PRESET",
    "METHOD",
    "PRESETS",
    "RECIPES",
    "RUN_FORMAT",
    "Comparison",
    "Experiment",
    "ExperimentConfig",
    "Job",
    "Preset",
    "Results",
    "RunStore",
    "compare_strategies",
    "load_results",
    "plan",
    "save_all_tables",
    "summarise",
    "validate",
]
