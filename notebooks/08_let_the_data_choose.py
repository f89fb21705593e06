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
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/distill-lib/distill_lib/blob/main/notebooks/08_let_the_data_choose.ipynb)
#
# # 8. Let the data choose
#
# Every strategy so far is a fixed pattern of positions: `first`, `last`, `odd`, `even`,
# `uniform`. They ignore what the teacher actually does with its layers. This notebook
# measures that on the fine-tuned teacher and lets three signals pick the layers:
#
# | strategy | what it measures | on which data | keeps |
# | --- | --- | --- | --- |
# | `influence` | **block influence** of layer i: 1 - cos(its input, its output), averaged over the real (non-padding) tokens | training sentences | the k layers that change their input most |
# | `cka-cover` | **linear CKA** between the outputs of every pair of layers (each sentence summarised by the mean over its real tokens): 1 = the same representation up to rotation and scale | training sentences | k layers far apart in CKA (a greedy max-min cover), so that the student starts with the teacher's different representations |
# | `drop` | **drop sensitivity**: the teacher's validation accuracy with layer i skipped (identity in its place), no training | validation sentences | the k layers whose removal hurts most |
#
# Block influence comes from ShortGPT (Men et al., 2024), which removes the least influential
# layers of large language models; CKA from Kornblith et al. (2019); drop sensitivity is a
# one-step, training-free version of Peer et al.'s (2022) greedy layer pruning (Sajjad et al.
# 2023 drop fixed patterns and find the lower layers most critical). All are in `REFERENCES.md`.
# Each is one pass (or n passes, for `drop`) over a sample, measured once per teacher and far
# cheaper than training one student. `drop` peeks at the validation split (never at the test
# split): say so when you report it.
#
# Then the question of notebook 6 again, with the same statistics: do these maps beat the
# fixed ones once the student is distilled?

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
import pandas as pd

from distill_lib import select_layers
from distill_lib.experiment import Experiment, load_results
from distill_lib.layers import DATA_DRIVEN
from distill_lib.notebook import setup
from distill_lib.plots import accuracy_plot, plot_cka, plot_layer_scores

# %% [markdown]
# ## Parameters
#
# The same `setup()` as notebooks 4-7: the `quick` preset on a CPU or in CI, the `standard`
# preset on a GPU. We compare the three data-driven strategies with `uniform`, `first` and
# `last`; those three runs are shared with notebooks 5 and 6 (same folder, same keys), so
# they are not trained again.

# %% tags=["parameters"]
PRESET = None  # None: "quick" on a CPU or in CI, "standard" on a GPU
STRATEGIES = ["first", "last", "uniform", "influence", "cka-cover", "drop"]

# %%
nb = setup(PRESET, quick_changes={"strategies": STRATEGIES},
           full_changes={"strategies": STRATEGIES})
config = nb.config
print(nb.describe())
exp = Experiment(config, progress=False)

# %% [markdown]
# ## Measure the teacher
#
# `exp.measured` fine-tunes the teacher if needed (or loads it), then measures its layers:
# influence and CKA on `calibration_size` training sentences, drop sensitivity on the
# validation split. The numbers are kept in the output folder
# (`layer-scores-<teacher key>-<size>.json`) and in every data-driven run's JSON.

# %%
measured = exp.measured
n = measured["n_layers"]
k = config.student_layers
print(f"teacher: {n} layers, test accuracy {exp.teacher_record['test']['accuracy']:.4f}")
print(f"measured on {measured['calibration_size']} training sentences (influence, CKA) and "
      f"{measured['validation_size']} validation sentences (drop)")

# %% [markdown]
# ## The maps each signal picks, next to the fixed ones

# %%
maps = {name: select_layers(name, n, k) for name in ("first", "last", "odd", "even", "uniform")}
maps.update({name: select_layers(name, n, k, measured=measured) for name in DATA_DRIVEN})
table = pd.DataFrame(
    {"layers": [str(v) for v in maps.values()],
     "kind": ["fixed"] * 5 + ["measured on the teacher"] * len(DATA_DRIVEN)},
    index=list(maps),
)
same = {d: [f for f in ("first", "last", "odd", "even", "uniform") if maps[f] == maps[d]]
        for d in DATA_DRIVEN}
table["same as"] = [", ".join(same.get(name, [])) for name in table.index]
table

# %% [markdown]
# ## What the signals see
#
# One panel per signal, the chosen layers marked. Read the influence panel with its scale in
# mind: a layer with influence 0.02 changes its input by a few percent; CKA near 1 between two
# neighbours means the second layer mostly rotates and rescales what the first produced.

# %%
fig = plot_layer_scores(measured, chosen={name: maps[name] for name in DATA_DRIVEN})

# %%
fig = plot_cka(measured)

# %% [markdown]
# ## Distil them and compare
#
# `exp.results()` trains whatever is missing (a data-driven strategy that picks the same
# layers as a fixed one reuses that run: it is the same student) and returns the same
# `Results` as notebook 6: means with bootstrap intervals, paired tests with Holm's
# correction, and the collapse check.

# %%
results = exp.results()
print(results.report())

# %%
fig = accuracy_plot(results)

# %% [markdown]
# ## What this run says
#
# The sentences below are written by `Results.versus_lines` from this run's numbers: "beats"
# or "loses to" only when the paired test is significant after Holm's correction, "ties
# with" otherwise, no verdict when a run collapsed, and "the same student" when two
# strategies picked the same layers.

# %%
for line in results.versus_lines(list(DATA_DRIVEN), ["uniform", "first", "last"]):
    print("-", line)
for line in results.collapse_lines():
    print(line)

# %% [markdown]
# ## What the full run found
#
# The quick run is small: a few hundred sentences and three seeds. The committed `standard`
# run (all 8,454 training sentences, three seeds, the same six strategies and more) is the one
# to draw conclusions from; its verdicts are printed the same way. (If the committed run
# predates the data-driven strategies, the cell says so.)

# %%
standard = load_results(nb.root / "runs" / "standard", log=None)
found = [name for name in DATA_DRIVEN if name in standard.layer_maps]
if found:
    for name in found:
        print(f"{name}: layers {standard.layer_maps[name]}")
    for line in standard.versus_lines(found, ["uniform", "first", "last"]):
        print("-", line)
else:
    print("the committed standard run has no data-driven strategies")

# %% [markdown]
# ## Try it yourself
#
# * **Another student depth.** Predict before you run: with `student_layers=2`, which two
#   layers will `influence` keep? (The two with the highest bars in the influence panel:
#   `select_layers("influence", n, 2, measured=measured)`; nothing needs training.) Is the
#   same true of `cka-cover`? (No: a cover of two picks two layers that are far apart, which
#   need not be the two largest anything; its panel shows each layer's distance to the nearest
#   chosen layer, not a score to rank.)
# * **More calibration sentences.** `exp2 = Experiment(config.replace(calibration_size=64))`
#   and compare `exp2.measured["block_influence"]` with `measured["block_influence"]`. Expect
#   the same ranking of layers if the signal is stable; if a small sample reorders the
#   layers, the choice rests on noise.
# * **Your own map.** Any list of layers is a strategy: add `[0, 4, 5]` (or what the panels
#   suggest to you) to `STRATEGIES` in the parameters cell and run the notebook again. Only the
#   new runs are trained.
