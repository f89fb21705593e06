"""Does the answer last? The recipe and budget axes of a comparison, as tables and verdicts.

The main tables (:mod:`.results`) compare strategies at one training budget with one loss
recipe. The axes (``ExperimentConfig.recipes``/``budgets``) repeat some strategies with other
recipes and at other budgets; this module summarises them with the same statistics (mean over
seeds, a bootstrap interval over seeds and test sentences, paired bootstrap differences):

* :func:`budget_table`: accuracy per strategy and budget (epochs, and the updates they are);
* :func:`budget_gaps`: per budget, each strategy's gap to a reference strategy, paired;
* :func:`recipe_table` and :func:`recipe_gaps`: the same per loss recipe (``logits`` is the
  main runs);
* :func:`axis_verdicts`: sentences generated from those gaps. A direction ("shrinks",
  "grows") is stated only where the two intervals do not overlap; otherwise the sentence
  says the run cannot tell.

Everything is a pure function of :class:`~.results.Results` (its ``axis_runs`` and ``runs``).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..stats import bootstrap_accuracy_ci, collapse_reason, paired_bootstrap
from .config import RECIPES, budget_train_config
from .results import Results, pct, save_frames, wrap_markdown

GAP_COLUMNS = ["a", "b", "diff", "ci_low", "ci_high", "p_value", "collapsed"]


def axis_records(results: Results) -> list[dict[str, Any]]:
    """The finished runs of the recipe and budget axes (``results.axis_runs`` also holds the
    DistilBERT runs, :mod:`.footprint`'s)."""
    return [r for r in results.axis_runs if r.get("architecture", "same") == "same"]


def missing_axis_runs(results: Results) -> list[str]:
    """The files of the recipe and budget axes still to train (no DistilBERT run)."""
    return [f for f in results.missing_axes if "-distilbert-seed" not in f]  # (Job.filename)


def axis_frame(results: Results) -> pd.DataFrame:
    """One row per run of the axes and per main run: ``name``, ``seed``, ``recipe``,
    ``budget`` (epochs; None for main and recipe runs), ``updates``, ``test_accuracy``,
    ``collapsed`` and ``predictions``. The runs a data-driven strategy reused from a fixed
    strategy (``same_as``) are left out: the same students, counted once under the fixed
    strategy's name; so are its main runs when all its axis runs were reused (a twin with
    axis runs of its own keeps its main runs as their ``logits`` baseline)."""
    majority = results.majority["accuracy"]
    rows = []
    main = _main_records(results)
    config = results.config
    for budget in config.budgets:  # a budget whose settings are the main runs' (not planned
        if budget_train_config(config.student_train, budget) == config.student_train:  # twice)
            names = set(config.axis_names("budget"))
            main += [{**r, "budget_epochs": budget} for r in list(main) if r["name"] in names]
    fresh = {r["name"] for r in axis_records(results) if not r.get("same_as")}
    for record in [*axis_records(results), *main]:
        if record.get("same_as") or (record["name"] not in fresh
                                     and results.twin(record["name"]) is not None):
            continue  # a twin's reused runs: counted once, under the fixed strategy's name
        test = record["test"]
        rows.append({
            "name": record["name"],
            "seed": record["seed"],
            "recipe": record.get("recipe", "logits"),
            "budget": record.get("budget_epochs"),
            "updates": record.get("updates"),
            "test_accuracy": test["accuracy"],
            "collapsed": collapse_reason(test["predicted_counts"], test["accuracy"], majority)
            is not None,
            "predictions": test["predictions"],
        })
    return pd.DataFrame(rows, columns=["name", "seed", "recipe", "budget", "updates",
                                       "test_accuracy", "collapsed", "predictions"])


def _main_records(results: Results) -> list[dict[str, Any]]:
    runs = results.runs
    return [{"name": r["name"], "seed": r["seed"],
             "test": {"accuracy": r["test_accuracy"], "predicted_counts": r["predicted_counts"],
                      "predictions": r["predictions"]}}
            for _, r in runs.iterrows()]


def _correct(rows: pd.DataFrame, labels: np.ndarray) -> np.ndarray:
    """``(seeds, test sentences)`` booleans of ``rows`` (one name and setting), seed order."""
    return np.asarray(rows.sort_values("seed")["predictions"].tolist()) == labels


def _cell(rows: pd.DataFrame, labels: np.ndarray, n_resamples: int) -> dict[str, Any]:
    accuracy = rows["test_accuracy"].to_numpy(dtype=float)
    low = high = math.nan
    if len(rows) > 1:
        low, high = bootstrap_accuracy_ci(_correct(rows, labels), n_resamples=n_resamples)
    return {"n_seeds": len(rows), "mean_accuracy": float(accuracy.mean()), "ci_low": low,
            "ci_high": high, "collapsed": int(rows["collapsed"].sum())}


def _labels(results: Results) -> np.ndarray:
    return np.asarray(results.majority["test_labels"])


def budget_table(results: Results) -> pd.DataFrame:
    """Accuracy per strategy and budget: ``name``, ``budget`` (epochs), ``updates``,
    ``n_seeds``, ``mean_accuracy``, ``ci_low``/``ci_high``, ``collapsed``."""
    frame = axis_frame(results)
    frame = frame[frame["budget"].notna()]
    rows = []
    for (name, budget), sub in frame.groupby(["name", "budget"], sort=False):
        updates = sub["updates"].dropna()
        rows.append({"name": name, "budget": int(budget),
                     "updates": int(updates.iloc[0]) if len(updates) else None,
                     **_cell(sub, _labels(results), results.config.bootstrap_resamples)})
    table = pd.DataFrame(rows, columns=["name", "budget", "updates", "n_seeds",
                                        "mean_accuracy", "ci_low", "ci_high", "collapsed"])
    return table.sort_values(["budget", "name"], kind="stable").reset_index(drop=True)


def recipe_table(results: Results) -> pd.DataFrame:
    """Accuracy per loss recipe and strategy (``logits``: the main runs), same columns as
    :func:`budget_table` with ``recipe`` instead of the budget."""
    frame = axis_frame(results)
    frame = frame[frame["budget"].isna()]
    names = set(frame.loc[frame["recipe"] != "logits", "name"])
    rows = []
    for (recipe, name), sub in frame[frame["name"].isin(names)].groupby(
            ["recipe", "name"], sort=False):
        rows.append({"recipe": recipe, "name": name,
                     **_cell(sub, _labels(results), results.config.bootstrap_resamples)})
    order = {r: i for i, r in enumerate(results.config.recipes)}
    table = pd.DataFrame(rows, columns=["recipe", "name", "n_seeds", "mean_accuracy", "ci_low",
                                        "ci_high", "collapsed"])
    return table.sort_values("recipe", key=lambda s: s.map(order), kind="stable").reset_index(
        drop=True)


def _gaps(frame: pd.DataFrame, reference: str, labels: np.ndarray, n_resamples: int,
          setting: str, value: Any) -> list[dict[str, Any]]:
    """Paired gaps ``reference - other`` for every other name of one setting's rows."""
    mine = frame[frame["name"] == reference]
    rows = []
    for name, sub in frame.groupby("name", sort=False):
        if name == reference or tuple(sorted(sub["seed"])) != tuple(sorted(mine["seed"])):
            continue
        res = paired_bootstrap(_correct(mine, labels), _correct(sub, labels),
                               n_resamples=n_resamples)
        rows.append({setting: value, "a": reference, "b": name, **res,
                     "collapsed": bool(mine["collapsed"].any() or sub["collapsed"].any())})
    return rows


def reference_strategy(results: Results, axis: str) -> str | None:
    """The reference of an axis's gaps, chosen before looking at any result: the first name
    of the axis (``config.axis_names(axis)``, e.g. ``first``) that has runs on it."""
    frame = axis_frame(results)
    on_axis = frame["budget"].notna() if axis == "budget" else frame["recipe"] != "logits"
    present = set(frame.loc[on_axis, "name"])
    return next((n for n in results.config.axis_names(axis) if n in present), None)


def budget_gaps(results: Results, reference: str | None = None) -> pd.DataFrame:
    """Per budget, ``reference - other`` in accuracy for every other strategy of the budget
    axis (paired bootstrap over seeds and test sentences); ``reference`` defaults to
    :func:`reference_strategy`."""
    reference = reference or reference_strategy(results, "budget")
    frame = axis_frame(results)
    rows = []
    for budget in sorted(frame["budget"].dropna().unique()):
        rows += _gaps(frame[frame["budget"] == budget], reference, _labels(results),
                      results.config.bootstrap_resamples, "budget", int(budget))
    return pd.DataFrame(rows, columns=["budget", *GAP_COLUMNS])


def recipe_gaps(results: Results, reference: str | None = None) -> pd.DataFrame:
    """Per recipe, ``reference - other`` in accuracy for the recipe axis's strategies."""
    reference = reference or reference_strategy(results, "recipe")
    frame = _recipe_rows(results)
    rows = []
    for recipe in results.config.recipes:
        rows += _gaps(frame[frame["recipe"] == recipe], reference, _labels(results),
                      results.config.bootstrap_resamples, "recipe", recipe)
    return pd.DataFrame(rows, columns=["recipe", *GAP_COLUMNS])


def _recipe_rows(results: Results) -> pd.DataFrame:
    frame = axis_frame(results)
    frame = frame[frame["budget"].isna()]
    return frame[frame["name"].isin(set(frame.loc[frame["recipe"] != "logits", "name"]))]


def gap_change(results: Results, axis: str, before: Any, after: Any, other: str,
               reference: str | None = None) -> dict[str, float] | None:
    """How the gap ``reference - other`` changes from setting ``before`` to ``after`` of an
    axis (budgets in epochs, or recipe names): ``gap(after) - gap(before)`` with a paired
    bootstrap over the shared seeds and test sentences (``diff``, ``ci_low``, ``ci_high``,
    ``p_value``); None where the seeds do not match."""
    reference = reference or reference_strategy(results, axis)
    frame = axis_frame(results) if axis == "budget" else _recipe_rows(results)
    column = "budget" if axis == "budget" else "recipe"
    labels = _labels(results)
    gaps = []
    for setting in (before, after):
        rows = frame[frame[column] == setting]
        a, b = rows[rows["name"] == reference], rows[rows["name"] == other]
        if a.empty or tuple(sorted(a["seed"])) != tuple(sorted(b["seed"])):
            return None
        gaps.append(_correct(a, labels).astype(float) - _correct(b, labels))
    if gaps[0].shape != gaps[1].shape:
        return None
    return paired_bootstrap(gaps[1], gaps[0], n_resamples=results.config.bootstrap_resamples)


def _value(v: Any) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def _points(row: Any) -> str:
    return f"{pct(row['diff'])} points (95% CI {pct(row['ci_low'])} to {pct(row['ci_high'])})"


def trend(before: Any, after: Any, change: dict[str, float]) -> str:
    """``"shrinks"``, ``"grows"``, ``"reverses"`` or ``"unclear"``: the gap's size moves one
    way only where the paired interval of its change excludes 0; "reverses" where it shrinks
    through 0 and the later gap's interval lies on the other side."""
    sign = 1.0 if before["diff"] >= 0 else -1.0
    low, high = sorted((sign * change["ci_low"], sign * change["ci_high"]))
    if high < 0:
        other_side = sign * after["ci_high"] < 0 if sign > 0 else sign * after["ci_low"] < 0
        return "reverses" if other_side else "shrinks"
    if low > 0:
        return "grows"
    return "unclear"


def _budget_lines(results: Results) -> list[str]:
    gaps, table = budget_gaps(results), budget_table(results)
    if gaps.empty:
        return []
    updates = dict(zip(table["budget"], table["updates"], strict=False))
    small, large = gaps["budget"].min(), gaps["budget"].max()
    unit = "updates" if updates.get(small) else "epochs"
    lines = []
    for other in dict.fromkeys(gaps["b"]):
        pair = gaps[gaps["b"] == other].set_index("budget")
        if small == large or small not in pair.index or large not in pair.index:
            continue
        before, after = pair.loc[small], pair.loc[large]
        span = f"from {updates.get(small) or small} to {updates.get(large) or large} {unit}"
        if before["collapsed"] or after["collapsed"]:
            lines.append(f"`{before['a']}` vs `{other}` {span}: a run collapsed; no verdict.")
            continue
        change = gap_change(results, "budget", small, large, other, before["a"])
        if change is None:
            lines.append(f"`{before['a']}` vs `{other}` {span}: not the same seeds; no verdict.")
            continue
        verb = trend(before, after, change)
        said = {"unclear": "moves within what this run can tell from no change"}.get(verb, verb)
        lines.append(f"The gap between `{before['a']}` and `{other}` {said} {span}: "
                     f"{_points(before)}, then {_points(after)}; change {_points(change)}.")
    return lines


def recipe_verdict(results: Results, pair: pd.DataFrame, other: str, base: str,
                   recipe: str) -> tuple[pd.Series, pd.Series, dict[str, float] | str]:
    """The gap between the reference and ``other`` under ``base`` and under ``recipe``
    (rows of ``pair``, :func:`recipe_gaps` of one strategy indexed by recipe), and the paired
    change between them, or the reason there is no verdict (a collapsed run, or not the same
    seeds on both sides yet in a partly finished folder)."""
    before, after = pair.loc[base], pair.loc[recipe]
    if before["collapsed"] or after["collapsed"]:
        return before, after, "a run collapsed"
    change = gap_change(results, "recipe", base, recipe, other, before["a"])
    if change is None:
        return before, after, "not the same seeds under both yet"
    return before, after, change


def _recipe_lines(results: Results) -> list[str]:
    gaps = recipe_gaps(results)
    lines = []
    for other in dict.fromkeys(gaps["b"]):
        pair = gaps[gaps["b"] == other].set_index("recipe")
        if "logits" not in pair.index:
            continue
        for recipe in [r for r in pair.index if r != "logits"]:
            before, after, change = recipe_verdict(results, pair, other, "logits", recipe)
            head = f"With the `{recipe}` recipe, the gap between `{before['a']}` and `{other}`"
            if isinstance(change, str):
                lines.append(f"{head}: {change}; no verdict.")
                continue
            said = {"shrinks": "is smaller than with `logits`",
                    "grows": "is larger than with `logits`",
                    "reverses": "has the other sign than with `logits`",
                    "unclear": "is not clearly different from the one with `logits`",
                    }[trend(before, after, change)]
            zero = (" (its interval includes 0)" if after["ci_low"] <= 0 <= after["ci_high"]
                    else "")
            lines.append(f"{head} {said}: {_points(after)}{zero}, against {_points(before)}; "
                         f"change {_points(change)}.")
    return lines


def axis_verdicts(results: Results) -> list[str]:
    """Generated sentences: per strategy of the budget axis, how its gap to the reference
    changes from the smallest to the largest budget; per recipe, its gap against the gap with
    ``logits``. Directions come from a paired bootstrap of the change; a collapsed run on
    either side gets no verdict."""
    return _budget_lines(results) + _recipe_lines(results)


def drawable(results: Results) -> dict[str, bool]:
    """Which axis figures these results can draw: ``budgets`` (a budget table) and
    ``recipes`` (gaps for at least one recipe); the README links only these."""
    has = bool(axis_records(results))
    return {"budgets": has and not budget_table(results).empty,
            "recipes": has and not recipe_gaps(results).empty}


def save_axis_tables(results: Results) -> list[Path]:
    """Write the axes' tables (CSV + Markdown) next to the main ones; none without axes."""
    if not axis_records(results):
        return []
    return save_frames(results.output_dir, {
        "budgets": budget_table(results), "budget-gaps": budget_gaps(results),
        "recipes": recipe_table(results), "recipe-gaps": recipe_gaps(results)})


def axes_story(results: Results, name: str) -> str:
    """The README part of the axes (Markdown): what each axis ran, its figure, its table and
    the verdicts of :func:`axis_verdicts`; ``""`` without axes. ``name``: the figures' prefix."""
    runs, missing = axis_records(results), missing_axis_runs(results)
    if not runs and not missing:
        return ""
    config = results.config
    parts = ["**Does the answer last?**"]
    budgets = budget_table(results)
    if not budgets.empty:
        steps = ", ".join(f"{b} epoch{'s' * (b > 1)}"
                          + (f" ({int(u):,} updates)" if pd.notna(u) else "")
                          for b, u in dict(zip(budgets["budget"], budgets["updates"],
                                               strict=False)).items())
        parts += [
            wrap_markdown(
                f"Budget axis: {', '.join(f'`{n}`' for n in dict.fromkeys(budgets['name']))} at "
                f"{steps}, at a constant learning rate of {config.student_train.lr:g} (no "
                "warm-up, so one run per seed at the largest budget gives the smaller ones "
                "exactly; each budget keeps its best epoch by validation)."),
            f"![accuracy and gap against budget](figures/{name}-budgets.png)",
            budgets.to_markdown(index=False, floatfmt=".4f"),
        ]
    recipes = recipe_table(results)
    figures = drawable(results)
    if not recipes.empty:
        weights = "; ".join(f"`{r}`: " + (", ".join(f"{k} {_value(v)}"
                                                     for k, v in RECIPES[r].items())
                                           or "soft targets and hard labels only")
                            for r in config.recipes)
        parts += [
            wrap_markdown(f"Recipe axis, at the main runs' budget: {weights}."),
            f"![gap per loss recipe](figures/{name}-recipes.png)" if figures["recipes"] else "",
            recipes.to_markdown(index=False, floatfmt=".4f"),
        ]
    if missing:
        parts.append(wrap_markdown(
            f"*{len(missing)} of the {len(runs) + len(missing)} runs on the axes are still to "
            "train (the same command resumes them); the tables and verdicts here are from the "
            "finished ones.*"))
    lines = axis_verdicts(results) if runs else []
    parts.append("\n".join(wrap_markdown(line, "- ", "  ") for line in lines))
    return "\n\n".join(p for p in parts if p)

