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
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/distill-lib/distill_lib/blob/main/notebooks/04_teacher.ipynb)
#
# # 4. The teacher
#
# A student can only learn what its teacher knows. This notebook fine-tunes the teacher
# (MiniLM-L6 in the offline setup) on the movie sentences, or loads it if it was trained
# before, and checks that it is a teacher worth having: clearly better than always guessing
# the majority class, and in the range that published models reach on this kind of data.

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
from IPython.display import Markdown, display

from distill_lib.experiment import Experiment
from distill_lib.notebook import setup
from distill_lib.plots import learning_curves
from distill_lib.stats import collapse_reason, majority_noise_margin

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
# ## Fine-tune (or load) the teacher
#
# `Experiment(config)` holds one comparison: its data, its teacher and its students. Nothing is
# computed until it is asked for. The first access to `exp.teacher` loads and tokenises the
# data, fine-tunes the teacher with plain cross-entropy (`distill_lib.fine_tune`), keeps the
# epoch with the best validation accuracy, saves it in the output folder and evaluates it on the
# test split. Every later access, in this notebook, in notebooks 5 and 6 or from the CLI, loads
# the saved teacher instead.

# %%
exp = Experiment(config, progress=False)
teacher = exp.teacher  # trains on first use (minutes on a CPU), then loads from disk
record = exp.teacher_record
print("saved in:", record["checkpoint"])

# %% [markdown]
# ## Is it better than guessing?
#
# The **majority baseline** always predicts the most frequent class of the training set. A
# teacher must beat it by more than the noise of a finite test set: the 95% sampling margin of
# an accuracy equal to the majority rate, on this many test sentences.

# %%
test = record["test"]
majority = exp.majority
margin = majority_noise_margin(majority["accuracy"], test["n"])
labels = list(exp.tokens["test"]["label"])
names = exp.tokens["test"].features["label"].names
true_counts = [labels.count(c) for c in range(len(names))]
print(f"test sentences:          {test['n']}")
print(f"teacher accuracy:        {test['accuracy']:.4f}   macro-F1 {test['macro_f1']:.4f}")
print(f"majority-class accuracy: {majority['accuracy']:.4f}   (+/- {margin:.4f} sampling margin)")
print(f"teacher predicts:        {dict(zip(names, test['predicted_counts'], strict=True))}")
print(f"true labels:             {dict(zip(names, true_counts, strict=True))}")
problem = collapse_reason(test["predicted_counts"], test["accuracy"], majority["accuracy"])
print("collapse check:         ",
      problem or "fine: uses both classes, clearly above the majority rate")

# %% [markdown]
# ## How the training went
#
# One row per epoch: the training loss, the loss and accuracy on the validation split, the
# learning rate at the end of the epoch and the time taken. The validation accuracy picks the
# epoch that is kept.

# %%
history = pd.DataFrame(record["history"])
columns = ["epoch", "train_loss", "val_loss", "val_accuracy", "val_macro_f1", "lr", "seconds"]
history[[c for c in columns if c in history]].round({c: 4 for c in columns if c != "lr"})

# %%
fig = learning_curves(
    history.assign(name="teacher", kind="reference", seed=0),
    title=f"Teacher fine-tuning ({config.teacher}, preset {nb.preset})",
)

# %% [markdown]
# ## Compared with published numbers
#
# The movie sentences are the Pang & Lee (2005) *rt-polarity* ("MR") sentences (10,605 of its
# 10,662, re-cased; VADER's paper names Pang & Lee 2004, but the sentences are the 2005 set), a
# standard sentiment benchmark. Published sentence-level MR accuracies (sources in
# [REFERENCES.md](../REFERENCES.md)): a CNN (Kim 2014, 10-fold cross-validation) 81.5, BERT
# 85.7 and RoBERTa 89.4 (both as reported by the BertGCN authors, Lin et al. 2021).
#
# Two differences make these anchors, not targets:
#
# * our labels are **human ratings** (positive when the mean rating of 15 to 29 readers is
#   above 0), not rt-polarity's positive/negative labels; the sentences people disagree on sit
#   near 0 and are hard for anyone;
# * our teacher is MiniLM-L6: 6 layers and hidden size 384, itself a compressed model, much
#   smaller than BERT-base; and the `quick` preset trains it on a subset only.

# %%
ours = 100 * test["accuracy"]
anchors = pd.DataFrame(
    [
        {"model": "CNN (Kim 2014)", "data": "MR sentences, 10-fold CV", "accuracy": 81.5},
        {"model": "BERT (BertGCN paper)", "data": "MR sentences", "accuracy": 85.7},
        {"model": "RoBERTa (BertGCN paper)", "data": "MR sentences", "accuracy": 89.4},
        {
            "model": f"our teacher: {config.teacher}",
            "data": f"{config.task}, {test['n']} test sentences, preset {nb.preset}",
            "accuracy": round(ours, 1),
        },
    ]
)
anchors["ours minus published"] = (ours - anchors["accuracy"]).round(1)
anchors.loc[anchors.index[-1], "ours minus published"] = None
anchors

# %%
bert = 85.7
direction = "above" if ours >= bert else "below"
train_note = (
    f"trained on {config.train_size} sentences only (preset `{nb.preset}`)"
    if config.train_size
    else "trained on the full training split"
)
display(
    Markdown(
        f"Our teacher reaches **{ours:.1f}%** test accuracy, {abs(ours - bert):.1f} points "
        f"{direction} the published sentence-level BERT result on MR ({bert}), {train_note}. "
        f"The majority class alone gets {100 * majority['accuracy']:.1f}%, so the teacher is "
        f"{ours - 100 * majority['accuracy']:.1f} points above guessing."
    )
)

# %% [markdown]
# ## Try it yourself
#
# * **A larger test set.** Compute `majority_noise_margin(majority["accuracy"], 4 * test["n"])`
#   and compare it with the margin printed above. Expect half of it: the margin of an accuracy
#   shrinks like 1/sqrt(n), so four times as many test sentences halve it, and to halve it
#   again you would need sixteen times as many.
# * **Where the teacher goes wrong.** Are its mistakes the sentences people disagreed on? With
#   `config.test_size` left at `None` (as in `quick` and `standard`) the test split is in the
#   order of `load_task()`, so you can line up the ratings with the predictions:
#
#   ```python
#   from distill_lib import load_task
#
#   strength = pd.Series(load_task(config.task)["test"]["rating"]).abs()
#   wrong = pd.Series(test["predictions"]) != pd.Series(labels)
#   strength.groupby(wrong).mean()   # mean |rating| of the right (False) and wrong (True) ones
#   ```
#
#   Expect the wrong ones to sit closer to 0 on average: a mild sentence is harder to call, for
#   people and for models. Look at a few of them and decide whether you agree with the label.
# * **More data.** Set `PRESET = "standard"` in the parameters cell and run the notebook again:
#   the teacher is fine-tuned on all 8,454 training sentences instead of a subset, with the
#   settings `nb.describe()` prints (several minutes on a CPU). Look whether its test accuracy
#   moves closer to the published BERT result; expect it to rise, because the same model sees
#   more examples, but not by an amount anyone can promise in advance.
#
# **Next:** notebook 5 builds one student per layer strategy from this teacher and distils it.
