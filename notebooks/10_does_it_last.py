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
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/distill-lib/distill_lib/blob/main/notebooks/10_does_it_last.ipynb)
#
# # 10. Does the answer last?
#
# Notebooks 5-8 compared layer maps after a short distillation: 80 updates in the `classic`
# 12 -> 6 run. A head start after 80 updates is not yet an answer to the question this package
# asks, *does the choice still matter once the student is distilled?* Two things could erase
# it:
#
# * **more training**: with enough updates a badly initialised student may catch up;
# * **another loss**: matching the teacher's hidden states or attention maps, not only its
#   outputs, gives every student layer a target of its own.
#
# The literature has a claim for each. Wang et al. (2023, abstract; 3-layer students) report
# that initialising from the **lower** teacher layers is much better than from the higher
# ones for output and hidden-state distillation (up to 17.8 points on QNLI), and that with
# **attention transfer** the initialisation hardly matters. Yu et al. (2025; repository
# results) find that copying the teacher's weights is worth about 7 points on SST-2 and that
# which layers are matched moves it by at most about 2. Sources:
# [REFERENCES.md](../REFERENCES.md).
#
# A comparison answers both with two **axes** (`ExperimentConfig.budgets`, `recipes`):
#
# * the **budget axis** trains chosen strategies at several budgets (in epochs) at a constant
#   learning rate: then a run's first epochs *are* the shorter run, so one run per seed at the
#   largest budget gives every smaller one exactly, and each budget keeps its best epoch by
#   validation, like every run;
# * the **recipe axis** trains chosen strategies with each named loss recipe: `logits` (soft
#   targets and hard labels: the main runs), `hidden` (adds PKD's loss on the mapped layers'
#   first-token states) and `attention` (adds the squared error between the mapped layers'
#   attention maps).
#
# On a CPU (and in CI) this notebook runs a small variant on the MiniLM teacher to show the
# mechanics; then it reads what the committed runs found.

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
from IPython.display import Markdown, display

from distill_lib.experiment import RECIPES, compare_strategies
from distill_lib.experiment.axes import (
    axis_records,
    axis_verdicts,
    budget_gaps,
    budget_table,
    recipe_gaps,
    recipe_table,
)
from distill_lib.notebook import setup
from distill_lib.plots import budget_plot, recipe_plot

# %% [markdown]
# ## Parameters
#
# On a CPU: the quick preset (its MiniLM teacher, 500 training sentences, batch 8) with only
# `first` and `last`, one seed, 300 test sentences, budgets of 1, 2 and 4 epochs (63, 126 and
# 252 updates) and all three recipes: a few minutes on 2 cores. With a CUDA GPU: the `classic`
# preset (12 -> 6) with its axes, the run whose committed CPU results are read below.

# %%
CI_VARIANT = {
    "test_size": 300,
    "strategies": ["first", "last"],
    "seeds": [0],
    "baselines": [],
    "budgets": [1, 2, 4],
    "recipes": ["logits", "hidden", "attention"],  # `rail` and `alp`: notebook 11
    "output_dir": "runs/axes-ci",
}
nb = setup("quick", quick_changes=CI_VARIANT)
if not nb.quick:
    nb = setup("classic")
config = nb.config
print(nb.describe())
print("recipes:", {name: RECIPES[name] or "soft targets + hard labels"
                   for name in config.recipes})

# %% [markdown]
# ## Run (or resume) the comparison with its axes
#
# The same call as every comparison: the main runs, then the recipe runs, then one run per
# strategy and seed at the largest budget (its smaller budgets come from it). Each finished
# run is a JSON file; an interrupted run resumes.

# %%
results = compare_strategies(config, progress=False)
print(f"{len(results.runs)} main runs and {len(axis_records(results))} runs on the axes")

# %% [markdown]
# `budget_table` gives accuracy per strategy and budget (mean over seeds, the bootstrap
# interval over seeds and test sentences), `budget_gaps` each strategy's gap to the
# reference (the best at the smallest budget), paired on the same seeds and test sentences.

# %%
budget_table(results)

# %%
budget_gaps(results)

# %%
fig = budget_plot(results)

# %%
recipe_table(results)

# %%
recipe_gaps(results)

# %%
fig = recipe_plot(results)

# %% [markdown]
# `axis_verdicts` writes the sentences from these gaps. It states a direction ("shrinks",
# "grows") only where the two intervals do not overlap; otherwise it says the run cannot tell.
# On this small CPU variant (one seed, 300 test sentences) read them as a demonstration of the
# mechanics, not as evidence.

# %%
display(Markdown("\n".join(f"* {line}" for line in axis_verdicts(results))))

# %% [markdown]
# ## What the committed runs found
#
# `nb.committed` rebuilds each committed folder's results from its JSON files
# (`load_results`; nothing is retrained). Both were run on 2 CPU cores: `runs/classic` holds
# the `classic` preset with both axes; `runs/standard` holds a recipe axis only (`hidden`,
# `rail` and `alp` for every strategy). The sentences below are generated from them, as
# are the README's sections.

# %%
committed = nb.committed(["classic", "standard"], keep=axis_records)

# %%
for name, done in committed.items():
    if budget_table(done).shape[0]:
        fig = budget_plot(done, title=f"runs/{name}: accuracy against training budget")

# %%
for name, done in committed.items():
    if recipe_table(done).shape[0]:
        fig = recipe_plot(done, title=f"runs/{name}: the init gap per loss recipe")

# %%
for name, done in committed.items():
    lines = axis_verdicts(done)
    display(Markdown(f"**runs/{name}**\n\n" + "\n".join(f"* {line}" for line in lines)))

# %% [markdown]
# ## Try it yourself
#
# * **Another reference.** `budget_gaps(results, reference="last")` measures every gap from
#   `last` instead; the verdicts use the best strategy at the smallest budget. Do the
#   directions change, or only the signs?
# * **A bigger budget.** Add 8 to `CI_VARIANT["budgets"]` and run the notebook again: only
#   one more run per strategy and seed trains (8 epochs), and the 1-, 2- and 4-epoch records
#   already on disk stay as they are. Expect the `first` - `last` gap at 8 epochs to be no
#   larger than at 4 if more training lets `last` catch up.
# * **Which term dominates?** `RECIPES` maps a name to loss weights. Each recipe run's record
#   in `results.axis_runs` keeps its per-epoch history, with the unweighted terms
#   (`train_soft`, `train_hard`, `train_hidden`, `train_attention`). Multiply them by their
#   weights: which term dominates the loss of `last` with the `hidden` recipe?
