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
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/distill-lib/distill_lib/blob/main/notebooks/11_beyond_a_fixed_choice.ipynb)
#
# # 11. Beyond a fixed choice
#
# Every student so far was pulled towards one fixed set of teacher layers: the layers it was
# copied from. Initialisation decides where a student **starts**; the layer map of the
# hidden-state loss decides what it is pulled **towards** while it trains. Two published
# ideas let that map move, and a third asks whether the choice matters at all once you may
# keep several students:
#
# * **`rail`** (after RAIL-KD, Haidar et al. 2022): the teacher layers matched by the
#   student's layers are drawn again at random (sorted) every epoch, so that over training
#   many teacher layers are used, not one fixed set (how many: `rail_coverage` below).
# * **`alp`** (ALP-KD, Passban et al. 2021): each student layer is matched with an
#   attention-weighted mix of *all* teacher layers, so no teacher layer is skipped. The
#   weights are logged per epoch, so you can see what each student layer ends up matching.
# * **Ensembles**: students started from different layers may make different errors; the
#   mean of their probabilities may beat the best of them. Or it may just be "more models":
#   the control is the same strategy over several seeds.
#
# Both maps are recipes of the recipe axis (notebook 10), next to `hidden`, the same loss with
# the fixed map, so the comparison isolates the map. Where our version differs from the papers
# (representation, distance, `alp`'s scoring) is written in `distill_lib.layer_mapping`'s
# docs; sources: [REFERENCES.md](../REFERENCES.md).
#
# On a CPU (and in CI) this notebook runs a small variant on the MiniLM teacher to show the
# mechanics; then it reads what the committed `runs/beyond` found.

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
import torch
from IPython.display import Markdown, display

from distill_lib.experiment import RECIPES, compare_strategies
from distill_lib.experiment.axes import axis_records, recipe_table
from distill_lib.experiment.beyond import (
    alp_weights,
    mapping_lines,
    moving_recipes,
    rail_coverage,
    spread_lines,
    spread_table,
)
from distill_lib.experiment.ensembles import ensemble_lines, ensemble_table
from distill_lib.layer_mapping import rail_map
from distill_lib.notebook import setup
from distill_lib.plots import alp_weights_plot, recipe_plot

# %% [markdown]
# ## A map that moves, by hand
#
# `rail_map` draws a sorted map from a generator. A run draws one per epoch from a generator
# seeded with its seed, so the same seed gives the same maps, and the run's JSON records them.

# %%
generator = torch.Generator().manual_seed(0)
for epoch in range(1, 5):
    print(f"epoch {epoch}: student layers 0, 1, 2 matched with teacher layers",
          rail_map(3, 6, generator))

# %% [markdown]
# ## Parameters
#
# On a CPU: the quick preset (MiniLM teacher, 2 epochs at batch 8) cut to 240 training
# sentences, with `first` and `last`, one seed, 300 test sentences and the four recipes
# `logits`, `hidden`, `rail` and `alp`: a few minutes on 2 cores. With a CUDA GPU: the `beyond` preset,
# the run whose committed CPU results are read below.

# %%
CI_VARIANT = {
    "train_size": 240,
    "validation_size": 120,
    "test_size": 300,
    "footprint": False,
    "strategies": ["first", "last"],
    "seeds": [0],
    "baselines": [],
    "recipes": ["logits", "hidden", "rail", "alp"],
    "output_dir": "runs/beyond-ci",
}
nb = setup("quick", quick_changes=CI_VARIANT)
if not nb.quick:
    nb = setup("beyond")
config = nb.config
print(nb.describe())
print("recipes:", {name: RECIPES[name] or "soft targets + hard labels" for name in config.recipes})

# %%
results = compare_strategies(config, progress=False)
print(f"{len(results.runs)} main runs and {len(axis_records(results))} recipe runs")

# %% [markdown]
# Each `rail` run's history holds the map of every epoch; each `alp` run's history the
# weights (one row per student layer, one column per teacher layer).

# %%
for record in axis_records(results):
    if record["recipe"] in ("rail", "alp"):
        for h in record["history"]:
            shown = h.get("layer_map") or [[round(w, 2) for w in row] for row in h["alp_weights"]]
            print(f"{record['name']:>7} {record['recipe']:>4} epoch {h['epoch']}: {shown}")

# %%
recipe_table(results)

# %%
fig = alp_weights_plot(results)

# %% [markdown]
# The ensembles need no training: every run saved its test probabilities.

# %%
ensemble_table(results)[["recipe", "ensemble", "k", "accuracy", "best_member",
                         "best_member_accuracy", "diff", "not_unanimous"]]

# %% [markdown]
# On this small variant (one seed, 300 sentences) read the sentences as a demonstration of the
# mechanics, not as evidence.

# %%
display(Markdown("\n".join(f"* {line}" for line in mapping_lines(results)
                           + ensemble_lines(results))))

# %% [markdown]
# ## What the committed runs found
#
# Three committed folders hold the moving maps, all run on 2 CPU cores:
#
# * `runs/standard`: the `standard` preset (notebook 6), all 8,454 training sentences of the
#   6-layer MiniLM teacher, every strategy for one epoch, 3 seeds, and `hidden`, `rail` and `alp`
#   for every strategy. With one epoch each `rail` student draws one
#   map: there `rail` is a random sorted map per seed, not one that moves;
# * `runs/beyond`: the `beyond` preset, the five fixed strategies on 1,000 sentences for 3
#   epochs, 3 seeds, and `hidden`, `rail` and `alp` for `first`, `uniform` and `last`;
# * `runs/classic`: the classic 12 -> 6 pair (notebooks 7 and 10), where `rail` and `alp` train
#   `first`, `uniform`, `last` and `drop` (its best data-driven map) next to `hidden` and
#   `attention`. Its main runs predate saved probabilities, so its ensembles are those of the
#   moving-map recipes only.
#
# Everything below is generated from their JSON files, as are the README's sections.

# %%
committed = nb.committed(["standard", "beyond", "classic"], keep=moving_recipes)

# %%
for name, done in committed.items():
    fig = recipe_plot(done, title=f"runs/{name}: the gap to `first` per recipe")

# %% [markdown]
# The `alp` weights: each row (a student layer) spreads its weight over the teacher's layers
# (six for MiniLM, twelve for the 12 -> 6 students). Does a student started from the `last`
# layers end up attending to the lower ones, or to its own?

# %%
for name, done in committed.items():
    if alp_weights(done):
        fig = alp_weights_plot(done, title=f"runs/{name}: what each `alp` student layer "
                               "attends to (last epoch, mean over seeds; white: copied from)")

# %%
for name, done in committed.items():
    print(f"runs/{name}: distinct teacher layers the rail maps used:", rail_coverage(done))
    display(ensemble_table(done)[["recipe", "ensemble", "seed", "k", "accuracy", "ci_low",
                                  "ci_high", "best_member", "diff", "diff_ci_low",
                                  "diff_ci_high", "not_unanimous", "latency_ms"]])

# %% [markdown]
# With three or more initialisations on the recipe axis, one number answers "does the map close
# the gap between initialisations?" for all of them at once: the spread, the highest minus the
# lowest mean accuracy, per recipe (`spread_table`). A spread alone has no trustworthy interval
# (noise alone makes it larger than 0), so the verdict tests its *change* against `hidden`, paired
# over the same seeds and sentences: the first sentences of each folder below.

# %%
for name, done in committed.items():
    if not (spread := spread_table(done)).empty:
        print(f"runs/{name}:")
        display(spread)

# %%
for name, done in committed.items():
    display(Markdown(f"**runs/{name}**\n\n" + "\n".join(
        f"* {line}" for line in spread_lines(done) + mapping_lines(done)
        + ensemble_lines(done))))

# %% [markdown]
# ## Try it yourself
#
# * **Per batch, not per epoch.** RAIL-KD's idea is that every teacher layer is used over
#   training. With 2 epochs a 3-layer student sees at most 6 of the teacher's layers. How
#   many did your runs use (`rail_coverage(results)`)?
# * **Sharper attention.** `distill_lib.layer_mapping.alp_weights` scales the cosines by
#   `sqrt(hidden)`. Compute the weights of one batch with and without that scaling: how
#   peaked is each?
# * **Which members?** `ensemble_row(members, labels, 2000)` (in
#   `distill_lib.experiment.ensembles`) scores any set of runs. Does the pair of students
#   that disagree most make the best two-member ensemble?
