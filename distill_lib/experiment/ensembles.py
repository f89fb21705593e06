"""Ensembles from a run folder: do students started from different layers make different errors?

Every student run saves its class probabilities on the test set (and the validation set), so
an ensemble needs no training and no weights, only the run JSONs. An ensemble's prediction is
the class of highest *mean* probability over its members (a tie, rare with probabilities kept to
5 decimals, goes to the lower class index). For each loss recipe with saved
probabilities, :func:`ensemble_table` builds, from the strategies' students (no baselines):

* ``strategies``: all strategies, one seed (one row per seed): does diversity of
  initialisation pay?
* ``top-k strategies``: the k strategies with the best mean *validation* accuracy, one seed,
  with k = the number of seeds, and its control ``<best> x k seeds``: the best strategy (by
  validation) over its k seeds. Same number of members, so the pair separates "different
  initialisations" from "just more models".

Each row has the ensemble's test accuracy with a bootstrap interval over test sentences, its
best member (chosen by validation accuracy, never by test accuracy), the paired bootstrap
difference to that member, how often the members disagree (share of test sentences on which
they are not unanimous, and the mean pairwise disagreement) and its cost: k times one
student's parameters and measured latency (every member has the student's shape; the latency
is the comparison's, ``efficiency.json``). :func:`ensemble_lines` states a direction only
where an interval excludes 0. The control is one ensemble (one per recipe), so its interval
resamples the top-k side's seeds and the test sentences, not the control's own run-to-run noise.
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..stats import bootstrap_accuracy_ci, paired_bootstrap
from .results import Results, pct, save_frames, wrap_markdown

COLUMNS = ["recipe", "ensemble", "seed", "k", "members", "accuracy", "ci_low", "ci_high",
           "best_member", "best_member_accuracy", "diff", "diff_ci_low", "diff_ci_high",
           "p_value", "not_unanimous", "pairwise_disagreement", "parameters", "latency_ms"]


def member_frame(results: Results) -> pd.DataFrame:
    """The strategies' students of the main runs and of the recipe axis (no budget axis, no
    DistilBERT twin, no baseline, no data-driven run that reused a fixed strategy's student):
    ``recipe``, ``name``, ``seed``, ``probabilities`` (None
    where the run predates saved probabilities), ``predictions``, ``validation_accuracy``."""
    rows = [{"recipe": "logits", **{k: r[k] for k in ("name", "seed", "probabilities",
                                                      "predictions", "validation_accuracy")}}
            for _, r in results.runs.iterrows()
            if r["kind"] == "strategy" and not isinstance(r.get("same_as"), str)]
    for r in results.axis_runs:  # (a twin that reused another strategy's run counts once)
        if (r.get("budget_epochs") is None and r.get("architecture", "same") == "same"
                and r["kind"] == "strategy" and not r.get("same_as")):
            rows.append({"recipe": r.get("recipe", "logits"), "name": r["name"],
                         "seed": r["seed"], "probabilities": r["test"].get("probabilities"),
                         "predictions": r["test"]["predictions"],
                         "validation_accuracy": r.get("validation", {}).get("accuracy",
                                                                           math.nan)})
    return pd.DataFrame(rows, columns=["recipe", "name", "seed", "probabilities",
                                       "predictions", "validation_accuracy"])


def _labels(results: Results) -> np.ndarray:
    return np.asarray(results.majority["test_labels"])


def ensemble_row(members: pd.DataFrame, labels: np.ndarray, n_resamples: int) -> dict[str, Any]:
    """One ensemble (``members``: rows of :func:`member_frame`): mean probability, accuracy and
    interval, best member by validation and the paired difference to it, disagreement."""
    probs = np.asarray(members["probabilities"].tolist(), dtype=float)  # (k, n, classes)
    correct = probs.mean(axis=0).argmax(axis=-1) == labels
    low, high = bootstrap_accuracy_ci(correct, n_resamples=n_resamples)
    best = members.loc[members["validation_accuracy"].idxmax()]
    best_correct = np.asarray(best["predictions"]) == labels
    test = paired_bootstrap(correct, best_correct, n_resamples=n_resamples)
    preds = probs.argmax(axis=-1)  # (k, n)
    pairs = list(itertools.combinations(range(len(preds)), 2))
    return {
        "k": len(members), "accuracy": float(correct.mean()), "ci_low": low, "ci_high": high,
        "best_member": f"{best['name']} (seed {best['seed']})",
        "best_member_accuracy": float(best_correct.mean()),
        "diff": test["diff"], "diff_ci_low": test["ci_low"], "diff_ci_high": test["ci_high"],
        "p_value": test["p_value"],
        "not_unanimous": float((preds != preds[0]).any(axis=0).mean()),
        "pairwise_disagreement": float(np.mean([(preds[i] != preds[j]).mean()
                                                for i, j in pairs])) if pairs else 0.0,
        "members": ", ".join(f"{n}" for n in members["name"]) if members["name"].nunique() > 1
        else f"{members['name'].iloc[0]} seeds {', '.join(str(s) for s in members['seed'])}",
    }


def _groups(frame: pd.DataFrame) -> list[tuple[str, str, Any, pd.DataFrame]]:
    """(ensemble label, seed, members) for one recipe's complete runs."""
    seeds = sorted(frame["seed"].unique())
    k = len(seeds)
    by_validation = frame.groupby("name", sort=False)["validation_accuracy"].mean()
    by_validation = by_validation.sort_values(ascending=False, kind="stable")
    top = list(by_validation.index[:k])
    out = []
    for seed in seeds:
        out.append(("strategies", seed, frame[frame["seed"] == seed]))
    if k > 1 and frame["name"].nunique() > k:
        for seed in seeds:
            rows = frame[(frame["seed"] == seed) & frame["name"].isin(top)]
            out.append((f"top-{k} strategies", seed, rows))
        best = by_validation.index[0]
        out.append((f"{best} x {k} seeds", "all", frame[frame["name"] == best]))
    return out


def ensemble_table(results: Results) -> pd.DataFrame:
    """Every ensemble of :mod:`this module's <distill_lib.experiment.ensembles>` docs, for
    each recipe whose strategies' runs all saved probabilities (see :func:`member_frame`)."""
    frame = member_frame(results)
    labels, n = _labels(results), results.config.bootstrap_resamples
    efficiency = results.efficiency or {}
    rows = []
    for recipe in results.config.recipes:
        sub = frame[frame["recipe"] == recipe]
        if sub.empty or sub["probabilities"].isna().any() or sub["name"].nunique() < 2:
            continue
        for label, seed, members in _groups(sub.reset_index(drop=True)):
            row = {"recipe": recipe, "ensemble": label, "seed": seed,
                   **ensemble_row(members.reset_index(drop=True), labels, n)}
            row["parameters"] = row["k"] * efficiency.get("student_params", math.nan)
            row["latency_ms"] = row["k"] * 1000 * efficiency.get("student_latency_s", math.nan)
            rows.append(row)
    return pd.DataFrame(rows, columns=COLUMNS)


def unsaved_recipes(results: Results) -> list[str]:
    """Recipes whose runs predate saved probabilities (no ensemble can be formed from them)."""
    frame = member_frame(results)
    return [r for r in results.config.recipes
            if frame.loc[frame["recipe"] == r, "probabilities"].isna().any()]


def _pooled(results: Results, recipe: str, label: str) -> dict[str, float] | None:
    """The ensembles ``label`` of ``recipe`` over all seeds against their best members, paired
    (seeds x test sentences)."""
    frame = member_frame(results)
    sub = frame[frame["recipe"] == recipe].reset_index(drop=True)
    labels = _labels(results)
    ens, best = [], []
    for group, _seed, members in _groups(sub):
        if group != label:
            continue
        probs = np.asarray(members["probabilities"].tolist(), dtype=float)
        ens.append(probs.mean(axis=0).argmax(axis=-1) == labels)
        pick = members.loc[members["validation_accuracy"].idxmax()]
        best.append(np.asarray(pick["predictions"]) == labels)
    if not ens:
        return None
    return paired_bootstrap(np.asarray(ens), np.asarray(best),
                            n_resamples=results.config.bootstrap_resamples)


def _said(test: dict[str, float], better: str, worse: str, same: str) -> str:
    if test["ci_low"] > 0:
        return better
    if test["ci_high"] < 0:
        return worse
    return same


def _pts(test: dict[str, float]) -> str:
    return (f"{pct(test['diff'], True)} points (95% CI {pct(test['ci_low'], True)} to "
            f"{pct(test['ci_high'], True)})")


def ensemble_lines(results: Results) -> list[str]:
    """Generated sentences, per recipe: does the all-strategies ensemble beat its best member
    (pooled over seeds), at what cost, and does the top-k ensemble beat the k-seed control."""
    table = ensemble_table(results)
    lines = []
    for recipe in dict.fromkeys(table["recipe"]):
        rows = table[table["recipe"] == recipe]
        everyone = rows[rows["ensemble"] == "strategies"]
        pooled = _pooled(results, recipe, "strategies")
        if pooled is None or everyone.empty:
            continue
        k = int(everyone["k"].iloc[0])
        verdict = _said(pooled, "beats", "falls short of", "does not clearly beat")
        lines.append(
            f"`{recipe}`: the mean of the {k} strategies' students {verdict} the best of them "
            f"(chosen by validation) over {len(everyone)} seed(s): {_pts(pooled)}; ensemble "
            f"{100 * everyone['accuracy'].mean():.1f}% against "
            f"{100 * everyone['best_member_accuracy'].mean():.1f}% on average. The members "
            f"disagree on {100 * everyone['not_unanimous'].mean():.1f}% of the test sentences "
            f"(two members on {100 * everyone['pairwise_disagreement'].mean():.1f}%); "
            f"{_cost(everyone.iloc[0], k, results.efficiency or {})}.")
        lines += _control_line(rows, results, recipe)
    return lines


def _cost(row: Any, k: int, efficiency: dict[str, Any]) -> str:
    if not math.isfinite(row["parameters"]) or not math.isfinite(row["latency_ms"]):
        return f"it costs {k}x one student (not measured for this folder)"
    return (f"it costs {k}x one student: {row['parameters'] / 1e6:.1f}M parameters and "
            f"{row['latency_ms']:.0f} ms per batch of 32 on the {efficiency.get('device', '?')}")


def _control_line(rows: pd.DataFrame, results: Results, recipe: str) -> list[str]:
    top = rows[rows["ensemble"].str.startswith("top-")]
    seeds = rows[rows["ensemble"].str.contains(" seeds")]
    if top.empty or seeds.empty:
        return []
    frame = member_frame(results)
    sub = frame[frame["recipe"] == recipe].reset_index(drop=True)
    labels = _labels(results)
    groups = {(g, s): m for g, s, m in _groups(sub)}
    ens = [np.asarray(m["probabilities"].tolist(), dtype=float).mean(0).argmax(-1) == labels
           for (g, _), m in groups.items() if g.startswith("top-")]
    control = next(m for (g, _), m in groups.items() if " seeds" in g)
    same = np.asarray(control["probabilities"].tolist(), dtype=float).mean(0).argmax(-1) == labels
    test = paired_bootstrap(np.asarray(ens), np.tile(same, (len(ens), 1)),
                            n_resamples=results.config.bootstrap_resamples)
    k = int(top["k"].iloc[0])
    verdict = _said(test, "beats", "falls short of", "is not clearly different from")
    meaning = _said(test, "different initialisations add something more seeds do not",
                    "more seeds of one initialisation do better",
                    "this run cannot tell diversity of initialisation from more models")
    return [f"`{recipe}`, {k} members each: the {k} best strategies at one seed "
            f"({top['members'].iloc[0]}) {verdict} `{seeds['ensemble'].iloc[0]}` "
            f"({100 * top['accuracy'].mean():.1f}% against "
            f"{100 * seeds['accuracy'].iloc[0]:.1f}%; {_pts(test)}, one control ensemble, so "
            f"its own run-to-run noise is not in the interval): {meaning}."]


def save_ensemble_table(results: Results) -> list[Path]:
    """``ensembles.csv``/``.md`` next to the other tables; none without saved probabilities."""
    table = ensemble_table(results)
    return save_frames(results.output_dir, {"ensembles": table}) if not table.empty else []


def ensemble_story(results: Results) -> str:
    """The README part on ensembles (Markdown); ``""`` where no recipe saved probabilities."""
    table = ensemble_table(results)
    if table.empty:
        return ""
    shown = table.drop(columns=["parameters", "p_value", "pairwise_disagreement"])
    parts = ["**Ensembles of the students.**",
             wrap_markdown("The mean probability of several students (no training: the "
                           "runs' saved test probabilities). Best member: by validation "
                           "accuracy; diff: ensemble minus that member, paired over test "
                           "sentences; not_unanimous: share of test sentences the members "
                           "do not all agree on; latency: the members' summed latency per "
                           "batch of 32."),
             shown.to_markdown(index=False, floatfmt=".4f"),
             "\n".join(wrap_markdown(line, "- ", "  ") for line in ensemble_lines(results))]
    return "\n\n".join(parts)
