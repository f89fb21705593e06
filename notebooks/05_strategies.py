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
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/distill-lib/distill_lib/blob/main/notebooks/05_strategies.ipynb)
#
# # 5. One student per strategy
#
# For each of the five layer strategies (`first`, `last`, `odd`, `even`, `uniform`) we build a
# student from the teacher of notebook 4, distil it, and look at how it learned and how well it
# does on the test set. This notebook uses **one seed** per strategy, to see the mechanics;
# notebook 6 repeats everything over several seeds before drawing conclusions.

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
import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import Markdown, display

from distill_lib.experiment import Experiment
from distill_lib.notebook import setup
from distill_lib.plots import layer_map_plot, learning_curves
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
# ## The teacher and the plan
#
# The teacher comes from notebook 4 (it is loaded from the output folder; if notebook 4 has not
# been run, it is fine-tuned now). `exp.job(strategy, seed)` is the planned run of one student:
# the teacher layers it copies, how it is initialised, its training settings, and the key that
# names its result file.

# %%
exp = Experiment(config, progress=False)
teacher = exp.teacher
majority = exp.majority
names = exp.tokens["test"].features["label"].names
true_counts = pd.Series(list(exp.tokens["test"]["label"])).value_counts().sort_index().tolist()
SEED = 0
for strategy in config.strategies:
    print(f"{strategy:8s} teacher layers {exp.job(strategy, SEED).layers}")

# %%
fig = layer_map_plot(exp.n_teacher, config.student_layers, config.strategies)

# %% [markdown]
# ## What `exp.run` does
#
# `exp.run(strategy, seed)` returns the result record of one student. If that student was
# trained before (by this notebook, notebook 6 or the CLI) it just reads the saved JSON file;
# otherwise it does the following, which is worth reading once (not executed here):
#
# ```python
# from distill_lib import distill, evaluate_model, make_student
#
# job = exp.job("uniform", seed=0)      # layers, init, training settings, file key
# student = make_student(exp.teacher, job.layers, init=job.init, seed=job.seed)
# result = distill(                     # soft targets (T, alpha) + hard labels, best epoch kept
#     student, exp.teacher, exp.tokens, job.train_config, tokenizer=exp.tokenizer
# )
# test = evaluate_model(                # accuracy, macro-F1, predicted class counts
#     result.model, exp.tokens["test"], tokenizer=exp.tokenizer, return_predictions=True
# )
# record = {"name": job.name, "layers": job.layers, "seed": job.seed,
#           "history": result.history, "best_epoch": result.best_epoch,
#           "validation": result.best_validation, "test": test, ...}
# # saved as <output folder>/runs/<name>-seed<seed>-<key>.json
# ```
#
# The record's `history` has one row per epoch (training loss and its soft and hard parts,
# validation loss, accuracy and macro-F1); `test` holds the test metrics of the best epoch.
#
# The function below shows one strategy: it runs (or loads) the student, plots its history
# (training loss, validation loss and validation accuracy per epoch) and prints its test
# results next to the teacher and the majority class. Each panel has one point per epoch of
# distillation (`config.student_train.epochs`, printed by `nb.describe()` above), joined into a
# line; with a single epoch there is no curve, and the panel says so: it shows only where the
# student ended, not how it got there.

# %%
def show_strategy(strategy, seed=SEED):
    """Distil (or load) one student and show its curves and test results."""
    record = exp.run(strategy, seed=seed)
    print(f"{strategy}: student layer i <- teacher layer {record['layers']}; "
          f"best epoch {record['best_epoch']} of {len(record['history'])}")
    history = pd.DataFrame(record["history"]).assign(name=strategy, kind="strategy", seed=seed)
    learning_curves(history, title=f"{strategy} (seed {seed})")
    plt.show()
    test = record["test"]
    margin = majority_noise_margin(test["accuracy"], test["n"])  # 95% sampling margin
    print(f"test accuracy {test['accuracy']:.4f} (+/- {margin:.4f} from the finite test set), "
          f"macro-F1 {test['macro_f1']:.4f}")
    print(f"teacher       {exp.teacher_record['test']['accuracy']:.4f}, "
          f"majority class {majority['accuracy']:.4f}")
    print(f"predicted: {dict(zip(names, test['predicted_counts'], strict=True))}   "
          f"true: {dict(zip(names, true_counts, strict=True))}")
    problem = collapse_reason(test["predicted_counts"], test["accuracy"], majority["accuracy"])
    if problem:
        print(f"WARNING, this student looks collapsed: {problem}")
    return record


records = {}

# %% [markdown]
# ## `first`: the layers nearest the input
#
# The student keeps the bottom of the teacher. These layers compute the more general, lexical
# features; the top layers, the ones closest to the classifier, are dropped, so the copied
# classifier (the teacher's fine-tuned head: every copied student starts from it) sits on a
# representation it has never seen. This is BERT-PKD's choice (PKD copies them from
# pre-trained BERT), and Wang et al. (2023) found lower layers the better start for plain
# logit distillation.

# %%
records["first"] = show_strategy("first")

# %% [markdown]
# ## `last`: the layers nearest the output
#
# The student keeps the top of the teacher, the layers that fed the classifier. But its first
# layer was trained to read the output of a middle layer, and now reads the embeddings
# directly: the mismatch is at the bottom instead of the top.

# %%
records["last"] = show_strategy("last")

# %% [markdown]
# ## `odd`: every second layer, starting with the first
#
# Layers 1, 3, 5, ... counted from 1 (0-indexed 0, 2, 4, ...). Each student layer replaces a
# pair of teacher layers; the input side is kept, the very last teacher layer is not.

# %%
records["odd"] = show_strategy("odd")

# %% [markdown]
# ## `even`: every second layer, ending with the last
#
# Layers 2, 4, 6, ... counted from 1 (0-indexed 1, 3, 5, ...): the same spacing shifted by one,
# so the last teacher layer is kept and the first is not. Wang et al. (2023) and Yu et al.
# (2025) use 3-layer students from teacher layers [3, 7, 11], the same "last layer of each
# block" rule; neither reports a 12 -> 6 student with it.

# %%
records["even"] = show_strategy("even")

# %% [markdown]
# ## `uniform`: evenly spread, both ends kept
#
# `round(linspace(0, n - 1, k))`: the first and last teacher layers and an even spread in
# between. This is DistilBERT's choice, `[0, 2, 4, 7, 9, 11]` for 12 -> 6.

# %%
records["uniform"] = show_strategy("uniform")

# %% [markdown]
# ## The five students side by side (one seed)

# %%
rows = []
for strategy, r in records.items():
    test = r["test"]
    rows.append(
        {
            "strategy": strategy,
            "teacher layers": str(r["layers"]),
            "best epoch": r["best_epoch"],
            "val accuracy": r["validation"].get("accuracy"),
            "test accuracy": test["accuracy"],
            "test macro-F1": test["macro_f1"],
            "positive share": test["predicted_counts"][-1] / test["n"],
            "collapsed": collapse_reason(
                test["predicted_counts"], test["accuracy"], majority["accuracy"]
            ) or "",
        }
    )
rows.append({"strategy": "teacher", "teacher layers": str(exp.teacher_record["layers"]),
             "test accuracy": exp.teacher_record["test"]["accuracy"],
             "test macro-F1": exp.teacher_record["test"]["macro_f1"]})
rows.append({"strategy": "majority class", "test accuracy": majority["accuracy"]})
seed0 = pd.DataFrame(rows)
seed0["best epoch"] = seed0["best epoch"].astype("Int64")
seed0.round(4).astype(object).fillna("")

# %%
students = seed0[seed0["strategy"].isin(list(records))]
best = students.loc[students["test accuracy"].idxmax()]
worst = students.loc[students["test accuracy"].idxmin()]
n_test = records[best["strategy"]]["test"]["n"]
margin = majority_noise_margin(best["test accuracy"], n_test)
display(
    Markdown(
        f"**One seed is not evidence.** Here `{best['strategy']}` scored highest "
        f"({best['test accuracy']:.4f}) and `{worst['strategy']}` lowest "
        f"({worst['test accuracy']:.4f}), a gap of "
        f"{100 * (best['test accuracy'] - worst['test accuracy']):.1f} points. But a single "
        f"accuracy measured on {n_test} test sentences is only known to about "
        f"±{100 * margin:.1f} points (95%), and another training seed can reorder the "
        "strategies. (A copied student starts from the teacher's weights, classifier head "
        "included, whatever the seed; the seed changes the dropout pattern and the order of "
        "the training batches.) Notebook 6 trains every strategy with several seeds and tests "
        "the differences with a paired bootstrap before calling any of them better."
    )
)

# %% [markdown]
# ## Try it yourself
#
# * **Another seed.** Run `show_strategy("uniform", seed=1)` (it loads the student if notebook 6
#   has trained it, else it trains one). Expect the same teacher layers and the same starting
#   weights, the teacher's classifier head included: the seed changes only the dropout pattern
#   and the order of the training batches. Look how far the test accuracy moves from seed 0 and
#   compare the move with the ± margin printed under it.
# * **A first layer that never read the embeddings.** In `last` and `even` the student's first
#   layer is a teacher layer that was trained to read another layer's output; in `first`, `odd`
#   and `uniform` it is teacher layer 0. Print the validation accuracy after the first epoch,
#   `{s: r["history"][0]["val_accuracy"] for s, r in records.items()}`, and look whether `last`
#   and `even` start lower. With one seed and this little training either outcome is possible;
#   notebook 6 repeats it over several seeds.
# * **What "collapsed" means.** Ask `collapse_reason` about a made-up student that always says
#   `positive`: `collapse_reason([0, sum(true_counts)], true_counts[1] / sum(true_counts),
#   majority["accuracy"])`. Expect a reason ("predicts class 1 for 100% of inputs"): such a
#   student has learned nothing about sentences, whatever its layers. Then try the true label
#   counts with an accuracy of 0.75, `collapse_reason(true_counts, 0.75, majority["accuracy"])`:
#   expect `None`, no collapse.
#
# **Next:** notebook 6 runs all strategies with all seeds, adds the baselines (a randomly
# initialised student and a student trained without distillation) and analyses the results.
