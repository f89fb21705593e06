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
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import Image, Markdown, display

from distill_lib.experiment import PRESETS, compare_strategies, load_results
from distill_lib.experiment.contrast import contrast
from distill_lib.layers import canonical_strategy
from distill_lib.notebook import setup
from distill_lib.plots import accuracy_plot, plot_all

# %% [markdown]
# ## Parameters
#
# `setup()` (from `distill_lib.notebook`, shared by notebooks 4-7) picks the run. Without a
# CUDA GPU, or when the environment variable `DISTILL_LIB_QUICK=1` is set (as in CI), it
# builds the small `quick` preset: a subset of the data and short training, sized for a CPU
# (`distill-lib presets`, in a terminal, lists every preset with the time it took). With a GPU
# it builds the `standard` preset: all the data, more seeds and the cross-domain test sets.
# Set `PRESET` to choose another preset by name.
#
# The output folder is the one the command line uses (`distill-lib compare --preset quick`
# writes `runs/quick`; from this folder that is `../runs/quick`), so the notebooks and the CLI
# share one teacher and one set of finished runs: nothing is trained twice. `setup()` also
# switches off the libraries' progress bars and load reports (see notebook 1).

# %% tags=["parameters"]
PRESET = None  # None: "quick" on a CPU or in CI, "standard" on a GPU

# %%
nb = setup(PRESET)
config = nb.config
print(nb.describe())

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
# named after the output folder (`figures/quick-accuracy.png` for `runs/quick`: the same files
# `distill-lib compare` writes).

# %%
figures = plot_all(results, folder=nb.figures, prefix=nb.figure_prefix)


def show_figure(key):
    png = next(p for p in figures[key] if p.suffix == ".png")
    display(Image(filename=str(png)))


print("saved:", ", ".join(p.name for paths in figures.values() for p in paths))

# %% [markdown]
# **Learning curves.** The hard-label training loss (the term every run minimises, so the runs
# are comparable), validation loss and validation accuracy per epoch, one colour per strategy:
# the mean over seeds, with a band from the lowest to the highest seed. With a single epoch there
# is no curve: each panel then shows one point per strategy, and its title says so. A red X
# marks a collapsed run. Two things to look for:
#
# * whether the strategies are far apart after the first epoch and closer together at the end:
#   a good initialisation gives a head start, and training may or may not wear it down;
# * whether the validation accuracy is still rising at the last epoch: if it is, the students
#   were not finished, and the comparison partly measures how fast each start learns.

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
# **Layer maps** of the strategies that were compared (teacher layers counted from 0, as
# everywhere in this library).

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
    print(f"preset {nb.preset!r} has no cross-domain test sets (config.cross_domain is empty)")

# %% [markdown]
# ## The summary table
#
# `results.table()`: one row per strategy and baseline, then the teacher and the majority
# class. The number of seeds, the mean test accuracy, its standard deviation over seeds, a 95%
# interval of the mean (a bootstrap that resamples both the seeds and the test sentences), the
# mean macro-F1, how many runs collapsed, and the verdict against the best strategy (`best`;
# `n.s.` = not significantly different; `worse`; with the Holm-corrected p-value).

# %%
display(Markdown(results.table()))

# %% [markdown]
# ## Which differences are significant?
#
# `results.pairwise_points()` has one row per pair of students: the mean accuracy difference
# `a - b` in points, a 95% paired bootstrap interval (resampling both the test sentences and
# the seeds, with the same draws for both models), the raw p-value and the **Holm-corrected**
# p-value. With many pairs, some raw p-values fall below 0.05 by chance alone; Holm's
# correction keeps the chance of *any* false alarm at 5% within each family of pairs (the
# pairs of strategies are one family, the pairs with a baseline another). The intervals are per
# pair and *not* corrected, so an interval that just misses 0 can still come with a Holm
# p-value above 0.05: go by `p_holm`.

# %%
results.pairwise_points().round(3)

# %% [markdown]
# `results.pairwise_lines()` says the same in words: how many pairs differ, then each
# significant pair, better one first.

# %%
print("\n".join(results.pairwise_lines()))

# %% [markdown]
# ## Collapse check
#
# A student *collapses* when it predicts (almost) one class for everything, or when its
# accuracy is not clearly above the majority class. Such a run says nothing about its layer
# strategy (it mostly says the training was too short or the learning rate wrong) and it
# drags its strategy's mean down, so every flagged run must be looked at.

# %%
print("\n".join(results.collapse_lines()))
if results.collapsed_names():
    display(
        Markdown(
            f"**⚠️ Collapsed: {', '.join(results.collapsed_names())}.** Their means are not "
            "trustworthy, and a difference involving them measures a training failure; consider "
            "more training steps or another learning rate before comparing them."
        )
    )

# %% [markdown]
# ## What the student saves
#
# Parameters and the measured time to classify one batch of test sentences, teacher vs
# student (median of a few repeats, on the device the comparison ran on).

# %%
print("\n".join(results.efficiency_lines()))

# %% [markdown]
# ## Analysis, written from this run's numbers
#
# The text below is generated from `results`; rerun the notebook with other settings and it
# changes with them. `results.compare(a, b)` gives `a` minus `b` with its interval and
# Holm-corrected p-value, and `.text()` says it in words. The published effect sizes quoted
# are listed with their sources in [REFERENCES.md](../REFERENCES.md).

# %%
def pct(x):
    return f"{100 * x:.1f}%"


summary = results.summary
strategies = summary[summary["kind"] == "strategy"].sort_values("mean_accuracy", ascending=False)
names = list(strategies["name"])
best = strategies.set_index("name").loc[results.best]
worst = strategies.iloc[-1]
n_seeds = int(best["n_seeds"])
n_test = len(results.majority["test_labels"])
teacher_acc = results.teacher["test"]["accuracy"]
collapsed = results.collapsed_names()
clean = strategies[~strategies["name"].isin(collapsed)]  # strategies without a collapsed run
lines = []

seeds = f"{n_seeds} seed{'s' if n_seeds != 1 else ''}"
ci = (f"95% interval {pct(best['ci_low'])} to {pct(best['ci_high'])}, from {seeds} and the "
      "test sentences" if pd.notna(best["ci_low"]) else f"{seeds}, no interval")
lines.append(
    f"**Best strategy: `{results.best}`** (teacher layers {best['layers']}) at "
    f"{pct(best['mean_accuracy'])} mean test accuracy ({ci}). The worst, `{worst['name']}`, "
    f"reached {pct(worst['mean_accuracy'])}: the whole spread between strategies is "
    f"{100 * (best['mean_accuracy'] - worst['mean_accuracy']):.1f} points. "
    f"The teacher scored {pct(teacher_acc)}, "
    f"{100 * (teacher_acc - best['mean_accuracy']):.1f} points above the best student."
)
if len(clean) < len(strategies) and len(clean) >= 2:
    lines.append(
        f"Strategies with a collapsed run ({', '.join(f'`{n}`' for n in names if n in collapsed)}) "
        "have means pulled down by a training failure. Among the other "
        f"{len(clean)}, the spread is "
        f"{100 * (clean['mean_accuracy'].max() - clean['mean_accuracy'].min()):.1f} points."
    )

same, worse = [], []
for name in names:
    c = results.compare(name, results.best) if name != results.best else None
    if c is not None:
        (worse if c.significant else same).append(f"`{name}` {c.text()}")
if same:
    lines.append(f"**Not significantly different from `{results.best}`:** " + "; ".join(same) + ".")
if worse:
    lines.append(f"**Significantly worse than `{results.best}`:** " + "; ".join(worse) + ".")

strategy_pairs = results.pairwise[results.pairwise["family"] == "strategies"]
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

c = results.compare(results.best, "random-init")
if c is not None:
    lines.append(
        f"**Copying the teacher's weights** (best strategy minus `random-init`): {c.text()}. "
        "Yu et al. (2025) report that copying adds 7.6 points on SST-2 for 3-layer "
        "students of BERT-base (81.1 -> 88.7, without intermediate-layer matching)."
    )
same_layers = canonical_strategy(config.no_kd_layers)
c = results.compare(same_layers, "no-kd")
if c is not None:
    lines.append(
        f"**Distillation vs hard labels only** (`{same_layers}` minus `no-kd`, same copied "
        f"layers): {c.text()}. For comparison, the PKD repository reports 89.68 (no KD) vs "
        "90.77 (vanilla KD) for 6-layer BERT students on SST-2 (dev set, mean over runs)."
    )

compared = clean if len(clean) >= 2 else strategies
spread = 100 * (compared["mean_accuracy"].max() - compared["mean_accuracy"].min())
which = "strategies without a collapsed run" if compared is clean and collapsed else "strategies"
lines.append(
    f"**Compared with the literature.** Yu et al. (2025) find that *which* layers are matched "
    f"moves SST-2 by at most 2.3 points; our spread between {which} is {spread:.1f} "
    f"points ({'within' if spread <= 2.3 else 'larger than'} that range), with a different "
    "teacher, task and student depth, so this is a rough comparison. The gap between the best "
    "and the worst of several noisy means also overstates the true spread (the extremes are "
    "picked after the fact); the pairwise tests above are the fair check."
)
c = results.compare("first", "last")
if c is not None:
    if c.collapsed:
        verdict = ("; with a collapsed run on one side, this measures a training failure and "
                   "is no evidence either way.")
    else:
        agrees = "agrees" if c.diff > 0 else "does not agree"
        verdict = f", which {agrees} in direction" + (
            "." if c.significant else
            ", but is not significant, so it neither confirms nor refutes their finding.")
    lines.append(
        "Wang et al. (2023) report that, for logit distillation, starting from the lower "
        f"teacher layers beats the higher ones (by up to 17.8 points on QNLI). Here `first` "
        f"minus `last` is {c.text()}{verdict}"
    )

lines.append(
    "No run collapsed." if not collapsed else
    f"**Runs of {', '.join(f'`{n}`' for n in collapsed)} collapsed** (see the collapse check "
    "above); their means are pulled down by a training failure, not by the choice of layers."
)
display(Markdown("\n\n".join(lines)))

# %% [markdown]
# ## What the full run found
#
# On a CPU this notebook runs the small `quick` preset: a subset of the training sentences,
# few updates per student, few seeds. Its intervals are wide, a training failure is more
# likely, and its ranking can change from one run to the next. It is there to show how the
# comparison works, not to answer the question. The repository also holds a finished run of
# the `standard` preset, `runs/standard`: its settings are printed below. `load_results`
# rebuilds its results from the JSON files (no teacher, no data, no training). That run is the
# one to draw conclusions from.

# %%
FULL = nb.root / "runs" / "standard"
full = None
if Path(config.output_dir) == FULL:
    print("This notebook ran the standard preset itself: the results above are the full run.")
else:
    try:
        full = load_results(FULL)
    except FileNotFoundError as err:
        print(f"no finished standard run to show: {str(err).split(';')[0]}.")
        print(f"`distill-lib compare --preset standard` makes it ({PRESETS['standard'].duration}).")
if full is not None:
    print(full.config.describe())
    print()
    print(full.report())

# %%
if full is not None:
    accuracy_plot(full)
    plt.show()

# %% [markdown]
# ## Why the runs disagree
#
# This notebook's run, the standard run and the classic 12 -> 6 run (both committed) compare the
# same strategies and do not agree on their ranking. The table below is written from their
# results: what each run was (teacher, data, training budget) and what it found. Read each
# run's verdicts with its budget in mind: a short run measures how good a head start each
# initialisation gives more than where its student ends up.

# %%
runs = {Path(config.output_dir).name: results}  # this notebook's run
for name in ("standard", "classic"):
    folder = nb.root / "runs" / name
    if Path(config.output_dir) != folder and (folder / "config.json").is_file():
        runs[name] = load_results(folder, log=None)
display(Markdown(contrast(runs)))

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
# * **Two kinds of noise.** The training seed changes the student: its dropout pattern and the
#   order of the training batches (a copied student starts from the teacher's weights, its
#   classifier head included, whatever the seed; only `random-init` draws new weights per
#   seed). The finite test set changes the measurement. More seeds shrink the first; only a
#   larger test set shrinks the second. The paired bootstrap accounts for both, and pairing
#   (same seeds, same sentences for both strategies) cancels the noise they share.
# * **Many comparisons.** This run tests every pair of strategies and baselines; among that
#   many pairs, one raw p-value below 0.05 is not surprising. Trust the Holm-corrected column.

# %% [markdown]
# ## Try it yourself
#
# * **Five seeds.** Run `more = compare_strategies(config.replace(seeds=[0, 1, 2, 3, 4]),
#   progress=False)` (the finished runs are reused; only the new seeds are trained), then
#   `display(Markdown(more.table()))` and `print("\n".join(more.pairwise_lines()))`. Look
#   whether any verdict against the best strategy changes. Expect the intervals to narrow, but
#   less than you might hope. They have two sources. The spread between seeds stays about the
#   same as you add seeds, so its share of the uncertainty of a mean over s seeds shrinks
#   roughly as 1/sqrt(s): from 3 to 5 seeds by a factor of sqrt(3/5) ≈ 0.77. The finite test
#   set is the same sentences for every seed, so more seeds do not shrink its share; only more
#   test sentences would. The more the seeds disagree, the more extra seeds help.
# * **"Not significant" for whom?** Pick two strategies the test could not tell apart and print
#   `results.compare(a, b).text()`. Decide whether they are practically equivalent if you only
#   care about differences of 1 point, and if you care about 3 points. Expect the answer to
#   depend on your threshold: they are equivalent for you only if the whole interval lies
#   within ± your threshold; if it reaches beyond, this run was not precise enough to say.
# * **A shallower student.** Predict the layer maps for 6 -> 2, then check them with notebook
#   2's `layer_table(6, 2)`. Expect `first` [0, 1], `last` [4, 5], `odd` [0, 2], `even` [1, 3]
#   and `uniform` [0, 5]. Then run `compare_strategies(config.replace(student_layers=2),
#   progress=False)`. A 2-layer student keeps only a third of the teacher, so look whether
#   which third it keeps matters more than it did for 3 layers; the run, not the expectation,
#   decides.
#
# **Next:** the classic 12 -> 6 experiment, with a 12-layer teacher of BERT-base size:
# [notebook 7](07_classic_12_to_6.ipynb).
