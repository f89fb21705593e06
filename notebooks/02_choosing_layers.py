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
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/distill-lib/distill_lib/blob/main/notebooks/02_choosing_layers.ipynb)
#
# # 2. Choosing the teacher layers
#
# A k-layer student starts as a copy of k of its teacher's n layers. This notebook shows
# which layers each strategy (`first`, `last`, `odd`, `even`, `uniform`, `random`) keeps, what
# the names used in papers mean, and proves, tensor by tensor, that the student really starts
# with the teacher's weights. Nothing is trained here.

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
import torch

from distill_lib import (
    ALIASES,
    STRATEGIES,
    layer_map,
    layer_table,
    load_teacher,
    make_student,
    num_layers,
    select_layers,
)
from distill_lib.notebook import quiet_notebook
from distill_lib.plots import layer_map_plot
from distill_lib.student import encoder_layers

quiet_notebook()  # no progress bars or load reports for expected events (see notebook 1)

# %% [markdown]
# ## How layers are counted
#
# * Teacher layers are numbered **from 0**, starting at the layer nearest the embeddings (the
#   input) and ending with layer n-1, nearest the classifier (the output).
# * A layer map is a list: `layers[i]` is the teacher layer copied into student layer `i`.
# * **The order rule.** `select_layers(strategy, n, k)` always returns the k teacher layers in
#   ascending order, for a strategy name and for a list of your own alike. `make_student`
#   uses a list you pass it as it is, in your order: `make_student(teacher, [5, 0])` puts
#   teacher layer 5 first (next to the embeddings) and teacher layer 0 on top of it. Passing
#   a list through `select_layers` first sorts it.
#
# The strategies, in the library's own words:

# %%
# NBVAL_CHECK_OUTPUT
for name, meaning in STRATEGIES.items():
    print(f"{name:8s} {meaning}")

# %% [markdown]
# For the classic BERT-base case, a 12-layer teacher and a 6-layer student. `uniform` is
# DistilBERT's choice, `even` every second layer, ending with the last:

# %%
# NBVAL_CHECK_OUTPUT
for name in ["first", "last", "odd", "even", "uniform"]:
    print(f"{name:8s} {select_layers(name, 12, 6)}")

# %% [markdown]
# The offline experiments of this series use a 6-layer teacher (MiniLM-L6) and a 3-layer
# student:

# %%
# NBVAL_CHECK_OUTPUT
for name in ["first", "last", "odd", "even", "uniform"]:
    print(f"{name:8s} {select_layers(name, 6, 3)}")

# %% [markdown]
# ## All strategies, several shapes
#
# `layer_table(n, k)` lists every named strategy for one shape and skips the impossible ones.
# Two shapes are worth a look:
#
# * **12 -> 4**: `odd` and `even` mean "every second layer". When the student needs fewer
#   layers than that pattern has, the *first* k of the pattern are kept: the lower part of the
#   network, not a spread. Use `uniform` for a spread.
# * **12 -> 7**: a 12-layer network has only 6 odd-numbered and 6 even-numbered layers, so
#   `odd` and `even` are impossible. The library refuses rather than silently mixing them.

# %%
# NBVAL_CHECK_OUTPUT
shapes = [(12, 6), (6, 3), (12, 4), (12, 3), (12, 7)]
table = pd.DataFrame(
    {f"{n} -> {k}": {name: str(layers) for name, layers in layer_table(n, k).items()}
     for n, k in shapes}
).fillna("impossible")
print(table.to_string())

# %%
# NBVAL_CHECK_OUTPUT
try:
    select_layers("odd", 12, 7)
except ValueError as err:
    print("ValueError:", err)

# %% [markdown]
# ## The layer maps as pictures
#
# `layer_map_plot(n, k)` draws one row per strategy and one column per teacher layer. In the
# plot, as everywhere in this library, layers are counted **from 0** (0 = nearest the
# embeddings); a filled cell is a kept layer, labelled with the student layer it becomes (`S0`
# is the student's first layer).

# %%
fig = layer_map_plot(12, 6)

# %%
fig = layer_map_plot(6, 3)

# %% [markdown]
# Things to notice:
#
# * `first` keeps the bottom of the network and throws away its top: the student's last layer
#   was never the one that fed the classifier.
# * `last` keeps the top, but its first layer was trained to read the output of a middle layer,
#   not the embeddings it now receives.
# * `uniform` keeps both ends and spreads the rest; `odd`/`even` keep every second layer.
#
# Which of these mismatches hurts least is exactly what notebooks 5 and 6 measure.

# %% [markdown]
# ## The names papers use (aliases)
#
# Papers say "lower" for the layers next to the input and usually "top" for those next to the
# output. To avoid any confusion, this library names strategies by position (`first` = nearest
# the embeddings) and accepts the papers' words as aliases, so `top-k` = `last` here:

# %%
# NBVAL_CHECK_OUTPUT
for alias, target in ALIASES.items():
    if target in STRATEGIES:  # the rules by position (notebook 08 lets the data choose)
        print(f"{alias:10s} means {target:8s} -> 12 -> 6: {select_layers(alias, 12, 6)}")

# %% [markdown]
# Two more ways to choose:
#
# * `random`: k distinct layers drawn with a seed (a baseline; the same seed gives the same
#   layers);
# * an explicit list of 0-indexed layers, e.g. `[0, 5, 11]`, for any rule of your own (for
#   example layers picked by a probing experiment).

# %%
# NBVAL_CHECK_OUTPUT
print("random, seed 0:", select_layers("random", 12, 6, seed=0))
print("random, seed 1:", select_layers("random", 12, 6, seed=1))
print("[11, 0, 5]    :", select_layers([11, 0, 5], 12, 3))
for bad in ([0, 0, 5], [0, 5, 12]):
    try:
        select_layers(bad, 12, 3)
    except ValueError as err:
        print(f"{bad}: ValueError: {err}")

# %% [markdown]
# ## Building a student: copying the layers
#
# `make_student(teacher, layers)` builds a new model of the teacher's class with `len(layers)`
# layers and copies into it: the embeddings, the chosen layers, the pooler and the classifier.
# The teacher itself is left untouched.
#
# We use the offline teacher, MiniLM-L6 (6 layers). Loading it takes a few seconds. Its
# classifier head is new and untrained (it is trained in notebook 4); the student copies it as
# it is.

# %%
teacher, tokenizer = load_teacher()
teacher.eval()
n_teacher = num_layers(teacher)

# %%
# NBVAL_CHECK_OUTPUT
print(f"teacher: {n_teacher} layers, hidden size {teacher.config.hidden_size}")
student = make_student(teacher, "uniform", n_student=3)  # or make_student(teacher, [0, 2, 5])
print(f"student: {num_layers(student)} layers, copied from teacher layers {layer_map(student)}")
info = student.config.distill_lib
print({k: info[k] for k in ("teacher_layers", "teacher_num_layers", "init", "strategy")})

# %% [markdown]
# The layer map is stored in the student's config (`student.config.distill_lib`), so a saved
# student still knows where it came from; `layer_map(student)` reads it back.
#
# ## Proof that the weights are the teacher's
#
# For every student layer we compare **every tensor** (query, key, value, output projections,
# feed-forward weights, layer norms, biases) with the teacher layer it came from, using
# `torch.equal`: true only if shapes and all values are identical.

# %%
def copy_report(teacher, student, against=None):
    """One row per student layer: are all its tensors equal to those of a teacher layer?

    `against` picks the teacher layers to compare with (default: the student's layer map).
    """
    t_layers, s_layers = encoder_layers(teacher), encoder_layers(student)
    rows = []
    for i, j in enumerate(against or layer_map(student)):
        s_state, t_state = s_layers[i].state_dict(), t_layers[j].state_dict()
        same = [torch.equal(s_state[key], t_state[key]) for key in s_state]
        rows.append(
            {
                "student layer": i,
                "teacher layer": j,
                "tensors": len(same),
                "equal tensors": sum(same),
                "all equal": all(same),
            }
        )
    return pd.DataFrame(rows)


def other_tensors_equal(teacher, student):
    """Embeddings, pooler and classifier: everything that is not inside an encoder layer."""
    t_state = teacher.state_dict()
    s_state = {k: v for k, v in student.state_dict().items() if ".layer." not in k}
    return all(torch.equal(v, t_state[k]) for k, v in s_state.items()), len(s_state)


# %%
# NBVAL_CHECK_OUTPUT
print(copy_report(teacher, student).to_string(index=False))
ok, n = other_tensors_equal(teacher, student)
print(f"embeddings, pooler and classifier ({n} tensors) equal: {ok}")

# %% [markdown]
# A check that can only say "yes" proves nothing, so here are two cases where it must say
# "no": the same student compared with teacher layers it was **not** copied from, and a
# student of the same shape built with `init="random"` (fresh random weights; the layer map is
# still recorded).

# %%
# NBVAL_CHECK_OUTPUT
wrong = [1, 3, 4]
print(f"student vs teacher layers {wrong} (not the ones copied):")
print(copy_report(teacher, student, against=wrong).to_string(index=False))
random_student = make_student(teacher, layer_map(student), init="random", seed=0)
print("\nstudent with init='random' vs the teacher layers of its map:")
print(copy_report(teacher, random_student).to_string(index=False))

# %% [markdown]
# ## The same for a 12-layer teacher (12 -> 6)
#
# MiniLM has only 6 layers. To check the 12 -> 6 case without downloading BERT-base, we build
# a **tiny random 12-layer BERT** (hidden size 64) with `transformers.BertConfig`: its weights
# are meaningless, but every layer is different, which is all the check needs.

# %%
from transformers import BertConfig, BertForSequenceClassification

torch.manual_seed(0)
tiny_config = BertConfig(
    vocab_size=1000,
    hidden_size=64,
    num_hidden_layers=12,
    num_attention_heads=4,
    intermediate_size=128,
    max_position_embeddings=64,
    num_labels=2,
)
tiny_teacher = BertForSequenceClassification(tiny_config).eval()

# %%
# NBVAL_CHECK_OUTPUT
rows = []
for name, layers in layer_table(12, 6, seed=0).items():
    tiny_student = make_student(tiny_teacher, layers)
    report = copy_report(tiny_teacher, tiny_student)
    rows.append(
        {
            "strategy": name,
            "teacher layers": str(layer_map(tiny_student)),
            "layers all equal": bool(report["all equal"].all()),
            "tensors compared": int(report["tensors"].sum()),
            "embeddings/pooler/classifier equal": other_tensors_equal(
                tiny_teacher, tiny_student
            )[0],
        }
    )
print(pd.DataFrame(rows).to_string(index=False))

# %% [markdown]
# One last sanity check: a "student" that copies **all** 12 layers is the teacher again, so it
# must give the same outputs. A 6-layer student skips layers, so its outputs differ: it has to
# learn to make up for the missing layers, and that is what distillation is for.

# %%
# NBVAL_CHECK_OUTPUT
inputs = {"input_ids": torch.randint(0, 1000, (4, 16), generator=torch.Generator().manual_seed(0))}
with torch.no_grad():
    logits_T = tiny_teacher(**inputs).logits
    full_copy = make_student(tiny_teacher, list(range(12))).eval()
    half_copy = make_student(tiny_teacher, select_layers("uniform", 12, 6)).eval()
    for name, model in (("12-layer copy", full_copy), (" 6-layer copy", half_copy)):
        same = torch.allclose(model(**inputs).logits, logits_T)
        print(f"{name}, same logits as the teacher: {same}")

# %% [markdown]
# ## Build your own student
#
# Pick a strategy and a student depth, or type your own layers (e.g. `0,2,5`; they override
# the strategy and go to `make_student` as typed, so the order rule at the top applies: try
# `5,0`). The output shows the layer map and, for each student layer, the top-left 8×8 corner
# of its attention **query** weight next to the teacher layer it came from: the two heatmaps of
# each column are identical. (The widget needs a live kernel; below it the same function draws the
# default choice, so the figures also show in a static view of the notebook.)

# %%
def show_copy(strategy="uniform", custom="", k=3):
    """Draw the layer map and the copied query weights for the MiniLM teacher."""
    try:
        if custom.strip():
            layers = [int(x) for x in custom.replace(" ", "").split(",") if x]
            label = "custom"
        else:
            layers = select_layers(strategy, n_teacher, k, seed=0)
            label = strategy
        student = make_student(teacher, layers)  # checks range and duplicates, keeps the order
    except ValueError as err:
        print(f"cannot build that student: {err}")
        return
    print(f"{label}: student layer i <- teacher layer {layers}")
    layer_map_plot(n_teacher, len(layers), {label: layers})  # the map as given, not sorted
    plt.show()
    fig, axes = plt.subplots(2, len(layers), figsize=(2.3 * len(layers) + 0.8, 4.8), squeeze=False)
    for i, j in enumerate(layers):
        w_T = encoder_layers(teacher)[j].attention.self.query.weight.detach()
        w_S = encoder_layers(student)[i].attention.self.query.weight.detach()
        limit = float(w_T[:8, :8].abs().max())
        panels = [(w_T, f"teacher layer {j}"), (w_S, f"student layer {i}")]
        for row, (w, title) in enumerate(panels):
            ax = axes[row, i]
            ax.imshow(w[:8, :8].numpy(), cmap="RdBu_r", vmin=-limit, vmax=limit)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(title, fontsize=9)
        axes[1, i].set_xlabel(f"all equal: {torch.equal(w_T, w_S)}", fontsize=9)
    fig.suptitle("query weight, top-left 8×8 corner")
    plt.show()


# %%
import ipywidgets as widgets
from IPython.display import display

label_width = {"description_width": "initial"}  # show the whole label, e.g. "student layers"
strategy_box = widgets.Dropdown(
    options=list(STRATEGIES), value="uniform", description="strategy", style=label_width
)
depth_box = widgets.IntSlider(
    value=3, min=1, max=n_teacher, description="student layers", style=label_width
)
custom_box = widgets.Text(
    value="", placeholder="e.g. 0,2,5", description="custom layers", style=label_width
)
output = widgets.interactive_output(
    show_copy, {"strategy": strategy_box, "custom": custom_box, "k": depth_box}
)
display(widgets.VBox([widgets.HBox([strategy_box, depth_box]), custom_box]), output)

# %%
show_copy("uniform", "", 3)

# %% [markdown]
# ## Summary
#
# * A strategy is just a rule that picks k of the n teacher layers; `select_layers` computes it
#   and `layer_table` lists them all.
# * `make_student` copies those layers (and the embeddings, pooler and classifier) exactly: the
#   student *starts* as a shortened teacher.
# * Copying is only the starting point. Training changes every weight, which is why we must
#   distil and measure before claiming that one choice is better.

# %% [markdown]
# ## Try it yourself
#
# * **A deeper teacher.** BERT-large has 24 layers. Before running
#   `select_layers("uniform", 24, 6)`, predict what it returns. Expect `[0, 5, 9, 14, 18, 23]`:
#   `uniform` keeps both ends and rounds an even spread, `round(linspace(0, 23, 6))`, from 0,
#   4.6, 9.2, 13.8, 18.4, 23.
# * **Impossible strategies.** Predict which strategies `layer_table(10, 6)` leaves out, then
#   run it. Expect `odd` and `even` to be missing: a 10-layer teacher has only 5 odd-numbered
#   and 5 even-numbered layers, one fewer than the student needs, while `first`, `last`,
#   `uniform` and `random` can always pick 6 of 10.
# * **Your own order.** Build `student = make_student(teacher, [5, 0])` and run
#   `copy_report(teacher, student)`. Expect `layer_map(student)` to be `[5, 0]` and every tensor
#   of student layer 0 to equal teacher layer 5 (the order rule at the top). Such a student is
#   legal but unusual: its first layer was trained, inside the teacher, to read the output of
#   teacher layer 4, not the embeddings.
#
# **Next:** notebook 3 looks at the loss the student is trained with.
