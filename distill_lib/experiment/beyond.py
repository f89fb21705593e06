"""Beyond a fixed choice: layer maps that move during training, and ensembles, from a run folder.

The recipe axis (:mod:`.axes`) already trains and tabulates the ``rail`` and ``alp`` recipes
(:mod:`distill_lib.layer_mapping`) next to ``hidden``, the same loss with the fixed map. This
module asks the question they exist for, against the fixed map rather than against ``logits``:

* :func:`mapping_lines`: per strategy, is its gap to the reference strategy (the axis's
  first, e.g. ``first``) smaller under ``rail``/``alp`` than under ``hidden``? A paired
  bootstrap of the change; a direction only where its interval excludes 0 (:func:`.axes.trend`).
* :func:`alp_weights`: what the ``alp`` students ended up matching: the last epoch's weights
  (student layer x teacher layer), averaged over seeds, per strategy.
* :func:`rail_coverage`: how many distinct teacher layers the ``rail`` maps used over training.
* :func:`beyond_story`: the README part (figure, verdicts, the ensembles of :mod:`.ensembles`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .axes import _points, axis_records, recipe_gaps, recipe_verdict, trend
from .ensembles import ensemble_lines, ensemble_story, unsaved_recipes
from .results import Results, wrap_markdown

MOVING = ("rail", "alp")
"""The recipes whose layer map moves; ``hidden`` is their fixed-map control."""


def moving_recipes(results: Results) -> list[str]:
    """The moving-map recipes this comparison trained next to ``hidden``."""
    recipes = results.config.recipes
    return [r for r in MOVING if r in recipes] if "hidden" in recipes else []


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
            said = {"shrinks": "shrinks", "grows": "grows", "reverses": "reverses",
                    "unclear": "does not clearly change"}[trend(before, after, change)]
            lines.append(f"{head} {said}: {_points(after)} against {_points(before)}; "
                         f"change {_points(change)}.")
    return lines


def _runs(results: Results, recipe: str) -> list[dict[str, Any]]:
    return [r for r in axis_records(results)
            if r.get("recipe") == recipe and r.get("budget_epochs") is None]


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


def beyond_lines(results: Results) -> list[str]:
    """What ``compare`` and ``report`` print after the main report: the moving-map verdicts
    and the ensembles (plain text, one finding per line)."""
    lines = mapping_lines(results) + _alp_lines(results) + _rail_lines(results)
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
                  wrap_markdown("Each strategy's gap to the reference under a moving map, "
                                "against the same loss with the fixed map (`hidden`): does "
                                "moving the map close the gap between initialisations?")]
        if "alp" in moving and alp_weights(results):
            parts.append(f"![alp weights per student layer](figures/{name}-alp_weights.png)")
        lines = mapping_lines(results) + _alp_lines(results) + _rail_lines(results)
        parts.append("\n".join(wrap_markdown(line, "- ", "  ") for line in lines))
    if ensembles:
        parts.append(ensembles)
    unsaved = unsaved_recipes(results)
    if unsaved and ensembles:
        parts.append(wrap_markdown(
            f"*No ensemble for {', '.join(f'`{r}`' for r in unsaved)}: those runs were made "
            "before runs saved their probabilities.*"))
    return "\n\n".join(parts)
