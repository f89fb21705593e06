# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/distill-lib/distill_lib/blob/main/notebooks/06_comparison.ipynb)
#
# # 6. The comparison: does the choice of layers matter?
#
# Every strategy is trained with several seeds, next to baselines that show what copying the
# teacher's weights and distillation are each worth. We then ask the statistics which
# differences are real, check that no student collapsed, measure how much smaller and faster
# the student is, and write the analysis **from the numbers this run produced**.

# %% [markdown]
# On Google Colab the next cell installs `distill_lib` from GitHub (see notebook 1); anywhere
# else it does nothing.

# %%
import sys

IN_COLAB = "google.colab" in sys.modules
REPO = "https://github.com/distill-lib/distill_lib"  # the address to change (see notebook 1)
if IN_COLAB:
    from IPython import get_ipython

    get_ipython().run_line_magic("pip", f'install -q "git+{REPO}"')

# %%
import os
from pathlib import Path

import torch
from IPython.display import Image, Markdown, display

from distill_lib.experiment import ExperimentConfig, compare_strategies
from distill_lib.layers import canonical_strategy
from distill_lib.plots import plot_all

# %% [markdown]
# ## Parameters
#
# `QUICK` runs the small `quick` preset: a subset of the data and short training, sized so that
# the whole comparison finishes in minutes on 2 CPU cores. It is chosen automatically without a CUDA
# GPU, or when the environment variable `DISTILL_LIB_QUICK=1` is set (as in CI). With a GPU the
# `standard` preset runs: all the data, more seeds and the cross-domain test sets.
#
# The output folder is the same one the command line uses (`distill-lib compare --preset
# quick` writes `runs/quick`), so the notebooks and the CLI share one teacher and one set of
# finished runs: nothing is trained twice.

# %% tags=["parameters"]
QUICK = os.environ.get("DISTILL_LIB_QUICK") == "1" or not torch.cuda.is_available()
# quick: minutes on 2 CPU cores; standard: the full run (meant for a GPU)
PRESET = "quick" if QUICK else "standard"
ROOT = Path.cwd().parent if Path.cwd().name == "notebooks" else Path.cwd()

# %% [markdown]
# The experiment's settings, built from the preset (the folder is shared with the CLI):

# %%
config = ExperimentConfig.preset(PRESET, output_dir=str(ROOT / "runs" / PRESET))
print(f"preset {PRESET!r}:", config.describe())

# %% [markdown]
# ## Run (or resume) the comparison
#
# `compare_strategies(config)` is exactly what `distill-lib compare --preset <name>` runs. It
# trains every strategy × seed and these baselines, on the same seeds:
#
# * **random-init**: a student of the same depth with *random* weights, distilled the same
#   way. Its gap to the strategies is what copying the teacher's weights is worth.
# * **no-kd**: a student copied from the teacher (`config.no_kd_layers`) but trained on the
#   hard labels only. Its gap to the same strategy with distillation is what the soft targets
#   are worth.
# * **teacher** and **majority** class: the ceiling and the floor.
#
# Finished students are read from their JSON files (the seed-0 runs of notebook 5 are
# reused), so re-running this cell only trains what is missing. Each finished student prints
# one line.

# %%
results = compare_strategies(config, progress=False)

# %% [markdown]
# ## The figures
#
# `plot_all` draws every figure of the comparison and saves it as PNG and SVG in `figures/`,
# named after the preset (the same files the CLI writes).

# %%
figures = plot_all(results, folder=ROOT / "figures", prefix=f"{PRESET}-")


def show_figure(key):
    png = next(p for p in figures[key] if p.suffix == ".png")
    display(Image(filename=str(png)))


print("saved:", ", ".join(p.name for paths in figures.values() for p in paths))

# %% [markdown]
# **Learning curves.** Training loss, validation loss and validation accuracy per epoch, one
# line per strategy (mean over seeds, with a band or error bar showing the spread). Baselines
# are dashed. Look for strategies that start far apart and end close together: the head start
# of a good initialisation can fade as training goes on.

# %%
show_figure("learning_curves")

# %% [markdown]
# **Test accuracy.** One point per strategy (the mean over seeds) with its 95% confidence
# interval; the small dots are the individual seeds, a red X marks a collapsed run. The label
# above each point is the paired-bootstrap verdict against the best strategy (Holm-corrected;
# `n.s.` = not significant). Horizontal lines: teacher and majority class.

# %%
show_figure("accuracy")

# %% [markdown]
# **Layer maps** of the strategies that were compared (teacher layers counted from 1).

# %%
show_figure("layer_map")

# %% [markdown]
# **Cross-domain accuracy** (only when the preset evaluates other kinds of text: product
# reviews, newspaper editorials and tweets). A strategy that wins in-domain but loses out of
# domain may have learned the movie data, not sentiment.

# %%
if "cross_domain" in figures:
    show_figure("cross_domain")
else:
    print(f"preset {PRESET!r} has no cross-domain test sets (config.cross_domain is empty)")

# %% [markdown]
# ## The summary table
#
# One row per strategy and baseline: the number of seeds, the mean test accuracy, its standard
# deviation and 95% interval over seeds, the mean macro-F1, how many runs collapsed, and the
# verdict against the best strategy.

# %%
display(Markdown(results.table()))

# %% [markdown]
# ## Which differences are significant?
#
# For every pair, `results.pairwise` holds the mean accuracy difference `a - b`, a 95% paired
# bootstrap interval (resampling both the test sentences and the seeds, with the same draws
# for both models), the raw p-value, and the **Holm-corrected** p-value. With many pairs, some
# raw p-values fall below 0.05 by chance alone; Holm's correction keeps the chance of *any*
# false alarm among all the pairs at 5%. (The intervals are per pair and *not* corrected, so
# an interval that just misses 0 can still come with a Holm p-value above 0.05: go by
# `p_holm`.)

# %%
pairwise = results.pairwise.copy()
for col in ("diff", "ci_low", "ci_high"):
    pairwise[col] = 100 * pairwise[col]  # accuracy points
pairwise = pairwise.rename(
    columns={"diff": "a - b (points)", "ci_low": "CI low", "ci_high": "CI high"}
)
pairwise.sort_values("p_holm").round(3)

# %%
significant = results.pairwise[results.pairwise["significant"]]
if significant.empty:
    print("No pair differs significantly after Holm's correction.")
else:
    print("Significant after Holm's correction (p_holm < 0.05):")
    for _, row in significant.sort_values("p_holm").iterrows():
        better, worse = (row["a"], row["b"]) if row["diff"] > 0 else (row["b"], row["a"])
        print(f"  {better} beats {worse} by {100 * abs(row['diff']):.1f} points "
              f"(p_holm = {row['p_holm']:.3g})")

# %% [markdown]
# ## Collapse check
#
# A student *collapses* when it predicts (almost) one class for everything, or when its
# accuracy is not clearly above the majority class. Such a run says nothing about its layer
# strategy (it mostly says the training was too short or the learning rate wrong) and it
# drags its strategy's mean down, so every flagged run must be looked at.

# %%
collapsed = results.runs[results.runs["collapsed"]]
if collapsed.empty:
    print(f"OK: none of the {len(results.runs)} student runs collapsed.")
else:
    display(
        Markdown(
            f"## ⚠️ {len(collapsed)} of {len(results.runs)} runs COLLAPSED\n\n"
            "Their strategies' means are not trustworthy; consider more training steps or "
            "another learning rate before comparing strategies."
        )
    )
    display(collapsed[["name", "seed", "layers", "test_accuracy", "collapse_reason"]])

# %% [markdown]
# ## What the student saves
#
# Parameters and the measured time to classify one batch of test sentences, teacher vs
# student (median of a few repeats, on the device the comparison ran on).

# %%
eff = results.efficiency
if eff:
    print(f"device {eff['device']}, batch of {eff['batch_size']} sentences")
    print(f"teacher: {eff['teacher_layers']} layers, {eff['teacher_params'] / 1e6:.1f}M "
          f"parameters, {1000 * eff['teacher_latency_s']:.1f} ms per batch")
    print(f"student: {eff['student_layers']} layers, {eff['student_params'] / 1e6:.1f}M "
          f"parameters, {1000 * eff['student_latency_s']:.1f} ms per batch")
    print(f"the teacher has {eff['param_ratio']:.2f}x the student's parameters and takes "
          f"{eff['speedup']:.2f}x its time per batch")
    layer_ratio = eff["teacher_layers"] / eff["student_layers"]
    if eff["param_ratio"] < 0.8 * layer_ratio:
        print(f"(the layers shrank {layer_ratio:.1f}x but the parameters only "
              f"{eff['param_ratio']:.2f}x: the embeddings, which every student keeps whole, "
              "are a large share of a small model)")
else:
    print("latency was not measured (config.measure_latency is False)")

# %% [markdown]
# ## Analysis, written from this run's numbers
#
# The text below is generated from `results`; rerun the notebook with other settings and it
# changes with them. Published effect sizes are quoted from `shared/reference/literature.md`.

# %%
def pct(x):
    return f"{100 * x:.1f}%"


def pts(x):
    return f"{100 * x:+.1f} points"


def pair(a, b):
    """Paired comparison of a vs b from results.pairwise, oriented as a - b (or None)."""
    pw = results.pairwise
    for x, y, sign in ((a, b, 1), (b, a, -1)):
        hit = pw[(pw["a"] == x) & (pw["b"] == y)]
        if len(hit):
            r = hit.iloc[0]
            low, high = sorted((sign * r["ci_low"], sign * r["ci_high"]))
            return {"diff": sign * r["diff"], "low": low, "high": high, "p": r["p_holm"]}
    return None


def verdict(c):
    word = "significant" if c["p"] < 0.05 else "not significant"
    return (f"{pts(c['diff'])} (95% CI {100 * c['low']:+.1f} to {100 * c['high']:+.1f}; "
            f"Holm p = {c['p']:.3g}, {word})")


summary = results.summary
strategies = summary[summary["kind"] == "strategy"].sort_values("mean_accuracy", ascending=False)
names = list(strategies["name"])
best, worst = strategies.iloc[0], strategies.iloc[-1]
n_seeds = int(best["n_seeds"])
n_test = len(results.majority["test_labels"])
teacher_acc = results.teacher["test"]["accuracy"]
lines = []

ci = (f"95% CI over {n_seeds} seeds {pct(best['ci_low'])} to {pct(best['ci_high'])}"
      if n_seeds > 1 else "a single seed, so no interval")
lines.append(
    f"**Best strategy: `{best['name']}`** (teacher layers {best['layers']}) at "
    f"{pct(best['mean_accuracy'])} mean test accuracy ({ci}). The worst, `{worst['name']}`, "
    f"reached {pct(worst['mean_accuracy'])}: the whole spread between strategies is "
    f"{100 * (best['mean_accuracy'] - worst['mean_accuracy']):.1f} points. "
    f"The teacher scored {pct(teacher_acc)}, "
    f"{100 * (teacher_acc - best['mean_accuracy']):.1f} points above the best student."
)

same, worse = [], []
for name in names[1:]:
    c = pair(name, best["name"])
    if c is not None:
        (worse if c["p"] < 0.05 else same).append(f"`{name}` {verdict(c)}")
if same:
    lines.append(f"**Not significantly different from `{best['name']}`:** " + "; ".join(same) + ".")
if worse:
    lines.append(f"**Significantly worse than `{best['name']}`:** " + "; ".join(worse) + ".")

strategy_pairs = results.pairwise[
    results.pairwise["a"].isin(names) & results.pairwise["b"].isin(names)
]
if len(strategy_pairs):
    widths = 100 * (strategy_pairs["ci_high"] - strategy_pairs["ci_low"]) / 2
    n_sig = int(strategy_pairs["significant"].sum())
    lines.append(
        f"Of the {len(strategy_pairs)} pairs of strategies, {n_sig} differ significantly. With "
        f"{n_test} test sentences and {n_seeds} seeds, a difference between two strategies is "
        f"known to about ±{widths.median():.1f} points (median half-width of the 95% intervals): "
        "smaller true differences cannot be resolved by this run. (The intervals are per pair; "
        "significance is judged by the Holm-corrected p-values.)"
    )

if "random-init" in set(summary["name"]):
    c = pair(best["name"], "random-init")
    if c is not None:
        lines.append(
            f"**Copying the teacher's weights** (best strategy minus `random-init`): {verdict(c)}. "
            "Yu et al. (2025) report that copying adds about 7 points on SST-2 for 3-layer "
            "students of BERT-base (81.1 -> 88.7 with logit distillation only)."
        )
if "no-kd" in set(summary["name"]):
    same_layers = canonical_strategy(config.no_kd_layers)
    c = pair(same_layers, "no-kd") if same_layers in names else None
    if c is not None:
        lines.append(
            f"**Distillation vs hard labels only** (`{same_layers}` minus `no-kd`, same copied "
            f"layers): {verdict(c)}. For comparison, the PKD repository reports 89.68 "
            "(no KD) vs 90.77 (vanilla KD) for 6-layer BERT students on SST-2."
        )

spread = 100 * (best["mean_accuracy"] - worst["mean_accuracy"])
lines.append(
    f"**Compared with the literature.** Yu et al. (2025) find that *which* layers are matched "
    f"moves SST-2 by at most about 2 points; our spread between strategies is {spread:.1f} "
    f"points ({'within' if spread <= 2 else 'larger than'} that range), with a different "
    "teacher, task and student depth, so this is a rough comparison. The gap between the best "
    "and the worst of several noisy means also overstates the true spread (the extremes are "
    "picked after the fact); the pairwise tests above are the fair check."
)
if {"first", "last"} <= set(names):
    c = pair("first", "last")
    if c is not None:
        agrees = "agrees" if c["diff"] > 0 else "does not agree"
        lines.append(
            f"Wang et al. (2023) report that, for logit distillation, starting from the lower "
            f"teacher layers beats the higher ones (by up to 17.8 points on QNLI). Here `first` "
            f"minus `last` is {verdict(c)}, which {agrees} in direction"
            + ("." if c["p"] < 0.05 else ", but is not significant, so it neither confirms nor "
               "refutes their finding.")
        )

n_collapsed = int(results.runs["collapsed"].sum())
lines.append(
    "No run collapsed." if n_collapsed == 0 else
    f"**{n_collapsed} run(s) collapsed** (see the collapse check above); the means of their "
    "strategies are pulled down by a training failure, not by the choice of layers."
)
display(Markdown("\n\n".join(lines)))

# %% [markdown]
# ## How to read a "not significant" difference
#
# * **Absence of evidence is not evidence of absence.** "Not significant" means *this run*
#   cannot tell the two strategies apart. It does not show that they are equal; a real but
#   small difference may hide below the noise.
# * **Compare the interval with the effect you care about.** The confidence interval of a
#   difference says which true differences are still compatible with the data. If it runs from
#   -1 to +1 points and you only care about differences of 3 points or more, the strategies are
#   practically equivalent *for you*. If it runs from -4 to +4, the run simply was not precise
#   enough, and you need more seeds or a larger test set before saying anything.
# * **Two kinds of noise.** The training seed changes the student (initial head, dropout, batch
#   order); the finite test set changes the measurement. More seeds shrink the first; only a
#   larger test set shrinks the second. The paired bootstrap accounts for both, and pairing
#   (same seeds, same sentences for both strategies) cancels the noise they share.
# * **Many comparisons.** This run tests every pair of strategies and baselines; among that
#   many pairs, one raw p-value below 0.05 is not surprising. Trust the Holm-corrected column.
#
# ## Try next
#
# * More seeds: `ExperimentConfig.preset(PRESET, seeds=[0, 1, 2, 3, 4], output_dir=...)`. The
#   finished runs are reused; only the new seeds are trained.
# * Other student depths (`student_layers=2`), other strategies (`"random"` or an explicit list
#   like `[0, 5]`), or intermediate-layer losses (`TrainConfig(hidden_weight=...)`): Wang et al.
#   (2023) found attention transfer robust to the layer choice, unlike logit distillation.
# * The classic 12 -> 6 BERT-base experiment on SST-2 with a GPU: notebook 7.
