"""Beyond a fixed choice: layer maps that move during training, and ensembles, from a run folder.

The recipe axis (:mod:`.axes`) already trains and tabulates the ``rail`` and ``alp`` recipes
(:mod:`distill_lib.layer_mapping`) next to ``hidden``, the same loss with the fixed map. This
module asks the question they exist for, against the fixed map rather than against ``logits``:

* :func:`mapping_lines`: per strategy, is its gap to the reference strategy (the axis's
  first, e.g. ``first``) smaller under ``rail``/``alp`` than under ``hidden``? A paired
  bootstrap of the change; a direction only where its interval excludes 0 (:func:`.axes.trend`).
* :func:`spread_table` and :func:`spread_lines`: the same question for all the
  initialisations at once: is the highest minus the lowest mean accuracy smaller under
  ``rail``/``alp`` than under ``hidden``? A paired bootstrap of that change.
* :func:`alp_weights`: what the ``alp`` students ended up matching: the last epoch's weights
  (student layer x teacher layer), averaged over seeds, per strategy.
* :func:`rail_coverage`: how many distinct teacher layers the ``rail`` maps used over training;
  :func:`rail_twins`: which ``rail`` students predicted exactly as their fixed-map twin.
* :func:`beyond_story`: the README part (figure, verdicts, the ensembles of :mod:`.ensembles`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..stats import paired_spread_change
from .axes import (
    _correct,
    _labels,
    _points,
    _recipe_rows,
    axis_records,
    recipe_gaps,
    recipe_verdict,
    trend,
)
from .ensembles import ensemble_lines, ensemble_story, unsaved_recipes
from .results import Results, pct, save_frames, wrap_markdown

MOVING = ("rail", "alp")
"""The recipes whose layer map moves; ``hidden`` is their fixed-map control."""


def moving_recipes(results: Results) -> list[str]:
    """The moving-map recipes this comparison trained next to ``hidden``."""
    recipes = results.config.recipes
    return [r for r in MOVING if r in recipes] if "hidden" in recipes else []


_SAID = {"shrinks": "shrinks", "grows": "grows", "reverses": "reverses",
         "unclear": "does not clearly change"}
"""How the moving-map sentences say each :func:`.axes.trend`."""


def mapping_lines(results: Results) -> list[str]:
    """Per moving recipe and strategy: the gap to the reference under it vs under ``hidden``."""
    gaps = recipe_gaps(results)
    lines = []
    for recipe in moving_recipes(results):
        for other in dict.fromkeys(gaps["b"]):
            pair = gaps[gaps["b"] == other].set_index("recipe")
            if "hidden" not in pair.index or recipe not in pair.index:
                continue
            before, after, change = recipe_verdict(results, pair, other, "hidden", recipe)
            head = (f"`{recipe}` against the fixed map (`hidden`), the gap between "
                    f"`{before['a']}` and `{other}`")
            if isinstance(change, str):
                lines.append(f"{head}: {change}; no verdict.")
                continue
            lines.append(f"{head} {_SAID[trend(before, after, change)]}: {_points(after)} "
                         f"against {_points(before)}; change {_points(change)}.")
    return lines


SPREAD_COLUMNS = ["recipe", "strategies", "highest", "lowest", "spread", "collapsed"]


def _spread_cells(results: Results) -> tuple[dict[str, dict[str, np.ndarray]], pd.DataFrame,
                                             list[str]]:
    """``{recipe: {strategy: (seeds, test sentences) correct}}`` for the recipe axis's
    strategies (no baseline, no twin) that have every seed under every recipe, their rows,
    and the strategies left out for missing runs."""
    frame, labels = _recipe_rows(results), _labels(results)
    summary = results.summary
    strategies = set(summary.loc[summary["kind"] == "strategy", "name"])
    names = [n for n in dict.fromkeys(frame["name"]) if n in strategies]
    seeds, recipes = sorted(results.config.seeds), results.config.recipes
    full = [n for n in names if all(
        sorted(frame.loc[(frame["name"] == n) & (frame["recipe"] == r), "seed"]) == seeds
        for r in recipes)]
    rows = frame[frame["name"].isin(full)]
    cells = {r: {n: _correct(rows[(rows["recipe"] == r) & (rows["name"] == n)], labels)
                 for n in full} for r in recipes}
    return cells, rows, [n for n in names if n not in full]


def _spread_table(cells: dict[str, dict[str, np.ndarray]], rows: pd.DataFrame) -> pd.DataFrame:
    if len(next(iter(cells.values()), {})) < 3:
        return pd.DataFrame(columns=SPREAD_COLUMNS)
    out = []
    for recipe, by_name in cells.items():
        means = {n: float(c.mean()) for n, c in by_name.items()}
        high, low = max(means, key=means.__getitem__), min(means, key=means.__getitem__)
        out.append({"recipe": recipe, "strategies": len(means), "highest": high, "lowest": low,
                    "spread": means[high] - means[low],
                    "collapsed": int(rows.loc[rows["recipe"] == recipe, "collapsed"].sum())})
    return pd.DataFrame(out, columns=SPREAD_COLUMNS)


def spread_table(results: Results) -> pd.DataFrame:
    """Per recipe, how far apart the initialisations end: the highest minus the lowest mean
    accuracy over the recipe axis's strategies with every seed under every recipe (at least
    3; empty otherwise), which strategies those are, and how many runs collapsed."""
    return _spread_table(*_spread_cells(results)[:2])


def save_spread_table(results: Results) -> list[Path]:
    """Write ``recipe-spread.csv``/``.md`` next to the axes' tables (none without 3
    initialisations on the recipe axis; a stale one is removed)."""
    table = spread_table(results)
    if table.empty:
        for suffix in (".csv", ".md"):
            (results.output_dir / f"recipe-spread{suffix}").unlink(missing_ok=True)
        return []
    return save_frames(results.output_dir, {"recipe-spread": table})


def spread_lines(results: Results) -> list[str]:
    """The question of :func:`mapping_lines` for all the initialisations at once: the spread
    (highest minus lowest mean accuracy, :func:`spread_table`) under each recipe, and per
    moving recipe whether it shrinks or grows against ``hidden``: a paired bootstrap of the
    change (:func:`~distill_lib.stats.paired_spread_change`), a direction only where its
    interval excludes 0."""
    cells, rows, left_out = _spread_cells(results)
    table = _spread_table(cells, rows).set_index("recipe")
    if table.empty:
        return []
    names = list(next(iter(cells.values())))
    each = "; ".join(f"`{r}` {pct(row['spread'])} points (`{row['highest']}` highest, "
                     f"`{row['lowest']}` lowest)" for r, row in table.iterrows())
    missing = (f" (`{'`, `'.join(left_out)}` left out: not every seed under every recipe yet)"
               if left_out else "")
    lines = [f"Highest minus lowest mean accuracy of the {len(names)} initialisations "
             f"({', '.join(f'`{n}`' for n in names)}){missing}, per recipe: {each}."]
    for recipe in [r for r in moving_recipes(results) if r in table.index]:
        head = f"`{recipe}` against the fixed map (`hidden`), that spread"
        if table.loc[recipe, "collapsed"] or table.loc["hidden", "collapsed"]:
            lines.append(f"{head}: a run collapsed; no verdict.")
            continue
        change = paired_spread_change(list(cells["hidden"].values()),
                                      list(cells[recipe].values()),
                                      n_resamples=results.config.bootstrap_resamples)
        verb = ("shrinks" if change["ci_high"] < 0 else "grows" if change["ci_low"] > 0
                else "unclear")  # (a spread is >= 0: it cannot reverse)
        lines.append(f"{head} {_SAID[verb]}: change {_points(change)}.")
    return lines


def _runs(results: Results, recipe: str) -> list[dict[str, Any]]:
    """The recipe's runs, each student once (no data-driven twin of a fixed strategy)."""
    return [r for r in axis_records(results) if r.get("recipe") == recipe
            and r.get("budget_epochs") is None and not r.get("same_as")]


def alp_weights(results: Results) -> dict[str, np.ndarray]:
    """``{strategy: (student layers, teacher layers) array}``: the ``alp`` runs' last-epoch
    weights, averaged over seeds (each row sums to 1)."""
    by_name: dict[str, list[np.ndarray]] = {}
    for r in _runs(results, "alp"):
        last = [h["alp_weights"] for h in r["history"] if "alp_weights" in h]
        if last:
            by_name.setdefault(r["name"], []).append(np.asarray(last[-1], dtype=float))
    return {n: np.mean(w, axis=0) for n, w in by_name.items()}


def rail_coverage(results: Results) -> dict[str, float]:
    """``{strategy: mean number of distinct teacher layers its rail maps used}`` (over seeds)."""
    out: dict[str, list[int]] = {}
    for r in _runs(results, "rail"):
        used = {j for h in r["history"] for j in h.get("layer_map", [])}
        out.setdefault(r["name"], []).append(len(used))
    return {n: float(np.mean(v)) for n, v in out.items()}


def _alp_lines(results: Results) -> list[str]:
    weights = alp_weights(results)
    if not weights:
        return []
    parts = []
    for name, w in weights.items():
        top = [int(row.argmax()) for row in w]
        parts.append(f"`{name}` {top} (largest weight {w.max():.2f}, smallest {w.min():.2f})")
    return ["The teacher layer each `alp` student layer weighted most in the last epoch "
            f"(mean over seeds): {'; '.join(parts)}."]


def _rail_lines(results: Results) -> list[str]:
    coverage = rail_coverage(results)
    if not coverage:
        return []
    epochs = results.config.student_train.epochs
    used = ", ".join(f"`{n}` {v:.1f}" for n, v in coverage.items())
    line = (f"Distinct teacher layers the `rail` maps used over {epochs} epoch(s), mean over "
            f"seeds: {used} (of {len(results.teacher.get('layers', []))}).")
    if epochs == 1:  # one draw per epoch: the map never moves within a run
        line += (" With one epoch each `rail` student drew one map, so here `rail` is a random "
                 "sorted map per seed, not a map that moves during training.")
    return [line]


def rail_twins(results: Results) -> list[dict[str, Any]]:
    """Per ``rail`` run with a ``hidden`` run of the same strategy and seed: ``name``,
    ``seed``, ``same_predictions`` (every test sentence predicted alike) and ``same_last``
    (every epoch's map pulled the last student layer to the fixed map's teacher layer, the
    one it was copied from)."""
    fixed = {(r["name"], r["seed"]): r for r in _runs(results, "hidden")}
    out = []
    for r in _runs(results, "rail"):
        twin = fixed.get((r["name"], r["seed"]))
        maps = [h["layer_map"] for h in r["history"] if "layer_map" in h]
        if twin is None or not maps:
            continue
        out.append({"name": r["name"], "seed": r["seed"],
                    "same_predictions": r["test"]["predictions"] == twin["test"]["predictions"],
                    "same_last": all(m[-1] == r["layers"][-1] for m in maps)})
    return out


def _rail_twin_lines(results: Results) -> list[str]:
    rows = rail_twins(results)
    same = [r for r in rows if r["same_predictions"]]
    if not same:
        return []
    last = sum(r["same_last"] for r in same)
    others = [r for r in rows if not r["same_predictions"]]
    return [f"{len(same)} of {len(rows)} `rail` students predicted every test sentence as the "
            "fixed-map (`hidden`) student of the same strategy and seed: there the two recipes "
            f"were not told apart. {last} of those {len(same)} had maps that pulled the last "
            "student layer to the fixed map's teacher layer (the one it was copied from), "
            f"against {sum(r['same_last'] for r in others)} of the other {len(others)}."]


def _moving_lines(results: Results) -> list[str]:
    return (spread_lines(results) + mapping_lines(results) + _alp_lines(results)
            + _rail_lines(results) + _rail_twin_lines(results))


def beyond_lines(results: Results) -> list[str]:
    """What ``compare`` and ``report`` print after the main report: the moving-map verdicts
    and the ensembles (plain text, one finding per line)."""
    lines = _moving_lines(results)
    out = ["", "moving layer maps against the fixed map:", *lines] if lines else []
    ensembles = ensemble_lines(results)
    if ensembles:
        out += ["", f"ensembles ({results.output_dir}/ensembles.md):", *ensembles]
    return out


def beyond_story(results: Results, name: str) -> str:
    """The README part: the ``alp`` figure, the moving-map verdicts and the ensembles."""
    moving = moving_recipes(results)
    ensembles = ensemble_story(results)
    if not moving and not ensembles:
        return ""
    parts = []
    if moving:
        parts += ["**Beyond a fixed choice: maps that move.**",
                  wrap_markdown("Does moving the map close the gap between "
                                "initialisations? First, with three or more of them, how far "
                                "apart they all end (highest minus lowest mean accuracy) and "
                                "whether a moving map changes that against the same loss with "
                                "the fixed map (`hidden`); then each strategy's gap to the "
                                "reference. The spread's highest and lowest are re-chosen in "
                                "every bootstrap draw, so the interval of its change differs "
                                "from that of a fixed pair's gap.")]
        if "alp" in moving and alp_weights(results):
            parts.append(f"![alp weights per student layer](figures/{name}-alp_weights.png)")
        lines = _moving_lines(results)
        parts.append("\n".join(wrap_markdown(line, "- ", "  ") for line in lines))
    if ensembles:
        parts.append(ensembles)
    unsaved = unsaved_recipes(results)
    if unsaved and ensembles:
        parts.append(wrap_markdown(
            f"*No ensemble for {', '.join(f'`{r}`' for r in unsaved)}: those runs were made "
            "before runs saved their probabilities.*"))
    return "\n\n".join(parts)
