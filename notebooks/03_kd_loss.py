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
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/distill-lib/distill_lib/blob/main/notebooks/03_kd_loss.ipynb)
#
# # 3. The distillation loss
#
# What exactly does the student learn from? This notebook shows how a temperature softens the
# teacher's output, computes every loss term of `distill_lib.losses` on a real batch of movie
# sentences (forward passes only, no training), and shows numerically why the soft-target loss
# is multiplied by T².

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
    DistillationLoss,
    attention_loss,
    hard_label_loss,
    hidden_cosine_loss,
    hidden_mse_loss,
    layer_map,
    load_task,
    load_teacher,
    make_dataloader,
    make_student,
    select_layers,
    soft_target_loss,
    tokenize,
)
from distill_lib.notebook import quiet_notebook

quiet_notebook()  # no progress bars or load reports for expected events (see notebook 1)

# %% [markdown]
# ## Soft targets and the temperature
#
# A classifier outputs *logits* `z`, one number per class; the softmax turns them into
# probabilities. Dividing the logits by a **temperature** `T` before the softmax,
# `p = softmax(z / T)`, makes the distribution flatter as `T` grows: the teacher's opinion about
# the *wrong* classes ("this is a bit like class 3") becomes visible. Hinton et al. (2015) call
# this information *dark knowledge*.
#
# One logit vector over five classes, at four temperatures:

# %%
# NBVAL_CHECK_OUTPUT
logits = torch.tensor([4.0, 2.0, 1.0, 0.0, -1.0])
temperatures = [1, 2, 4, 8]
probs = pd.DataFrame(
    {f"T={t}": torch.softmax(logits / t, dim=-1).numpy() for t in temperatures},
    index=[f"class {c}" for c in range(len(logits))],
)
print(probs.round(4).to_string())

# %%
ax = probs.plot.bar(figsize=(8, 3.5), rot=0, width=0.8)
ax.set_ylabel("probability")
ax.set_title("softmax(z / T): higher temperature, softer distribution")
plt.show()

# %% [markdown]
# ## The loss terms on tiny tensors
#
# Every loss in `distill_lib.losses` is a plain function of tensors; student tensors end in
# `_S`, teacher tensors in `_T`. First on hand-made numbers, so you can check them:
#
# * `soft_target_loss(logits_S, logits_T, T)`: KL divergence between the softened teacher and
#   student distributions, times T². It is 0 when the student's logits equal the teacher's.
# * `hard_label_loss(logits_S, labels)`: ordinary cross-entropy with the gold labels.

# %%
# NBVAL_CHECK_OUTPUT
logits_T = torch.tensor([[2.0, -1.0], [0.5, 0.3], [-1.5, 2.5]])  # 3 sentences, 2 classes
logits_S = torch.tensor([[1.0, 0.0], [0.0, 0.0], [-0.5, 1.0]])
labels = torch.tensor([0, 1, 1])
for t in (1.0, 2.0, 4.0):
    print(f"soft_target_loss, T={t}: {soft_target_loss(logits_S, logits_T, t):.4f}")
print(f"soft_target_loss, student = teacher: {soft_target_loss(logits_T, logits_T, 2.0):.4f}")
print(f"hard_label_loss:                 {hard_label_loss(logits_S, labels):.4f}")

# %% [markdown]
# The intermediate-layer losses compare what happens *inside* the two networks:
#
# * `hidden_cosine_loss` (DistilBERT): `1 - cos` between each token's hidden vectors, averaged
#   over real (non-padding) tokens. Only the direction counts, not the length.
# * `hidden_mse_loss` (PKD): squared distance between the length-normalised [CLS] vectors of
#   matched layers, summed over layers.
# * `attention_loss` (TinyBERT style): mean squared difference between matched attention
#   maps, summed over layers. (MiniLM transfers attention differently: a KL divergence between
#   the teacher's and the student's attention distributions, plus value relations.)

# %%
# NBVAL_CHECK_OUTPUT
h_T = torch.tensor([[[1.0, 0.0], [0.0, 1.0], [9.0, 9.0]]])  # 1 sentence, 3 tokens, width 2
h_S = torch.tensor([[[2.0, 0.0], [1.0, 0.0], [-5.0, 3.0]]])
mask = torch.tensor([[1, 1, 0]])  # the third token is padding: it must not count
print(f"hidden_cosine_loss (mask):    {hidden_cosine_loss(h_S, h_T, mask):.4f}  "
      "= mean(1 - 1, 1 - 0) over the 2 real tokens")
print(f"hidden_cosine_loss (no mask): {hidden_cosine_loss(h_S, h_T):.4f}")
cls_T = torch.tensor([[3.0, 4.0]])
cls_S = torch.tensor([[4.0, 3.0]])
print(f"hidden_mse_loss:              {hidden_mse_loss(cls_S, cls_T):.4f}  "
      "= |(0.8, 0.6) - (0.6, 0.8)|^2")
attn_T = torch.tensor([[[[0.9, 0.1], [0.5, 0.5]]]])  # 1 sentence, 1 head, 2x2 map
attn_S = torch.tensor([[[[0.5, 0.5], [0.5, 0.5]]]])
print(f"attention_loss:               {attention_loss(attn_S, attn_T):.4f}")

# %% [markdown]
# ## The same terms on a real batch
#
# Now with real models: the MiniLM teacher and a 3-layer student copied from its layers with
# `uniform`, on 8 tokenised movie sentences. **The teacher here is not fine-tuned** (its
# classifier head is still random; notebook 4 trains it), so the numbers show the mechanics,
# not a good teacher.
#
# Hugging Face models return attention maps only with the *eager* attention implementation
# (the fast fused kernels never build the full map), so both models are switched to it.

# %%
torch.manual_seed(0)  # the teacher's new classifier head is random: fix it
teacher, tokenizer = load_teacher()
student = make_student(teacher, select_layers("uniform", 6, 3))
for model in (teacher, student):
    model.set_attn_implementation("eager")
    model.eval()  # no dropout: the same input gives the same output
matched = layer_map(student)
print("student layer i is matched with teacher layer", matched)

tokens = tokenize(load_task()["train"].select(range(8)), tokenizer)
batch = next(iter(make_dataloader(tokens, tokenizer, batch_size=8)))
print({k: tuple(v.shape) for k, v in batch.items()})

# %%
inputs = {k: v for k, v in batch.items() if k != "labels"}
with torch.no_grad():
    out_T = teacher(**inputs, output_hidden_states=True, output_attentions=True)
    out_S = student(**inputs, output_hidden_states=True, output_attentions=True)
print("logits:        teacher", tuple(out_T.logits.shape), " student", tuple(out_S.logits.shape))
print("hidden states: teacher", len(out_T.hidden_states), "x", tuple(out_T.hidden_states[0].shape),
      " student", len(out_S.hidden_states), "x", tuple(out_S.hidden_states[0].shape))
print("attentions:    teacher", len(out_T.attentions), "x", tuple(out_T.attentions[0].shape),
      " student", len(out_S.attentions), "x", tuple(out_S.attentions[0].shape))

# %% [markdown]
# Note the **off-by-one**: `hidden_states` starts with the output of the embeddings, so it has
# one entry more than there are layers. The output of student layer `i` is
# `hidden_states[i + 1]`, and it is matched with the teacher's `hidden_states[matched[i] + 1]`.
# `attentions` has no such extra entry.

# %%
mask = batch["attention_mask"]
cls_S = [out_S.hidden_states[i + 1][:, 0] for i in range(len(matched))]
cls_T = [out_T.hidden_states[j + 1][:, 0] for j in matched]
terms = {
    "soft_target_loss (T=2)": soft_target_loss(out_S.logits, out_T.logits, temperature=2.0),
    "hard_label_loss": hard_label_loss(out_S.logits, batch["labels"]),
    "hidden_cosine_loss (last layer)": hidden_cosine_loss(
        out_S.hidden_states[-1], out_T.hidden_states[-1], mask
    ),
    "hidden_mse_loss ([CLS], matched layers)": hidden_mse_loss(cls_S, cls_T),
    "attention_loss (matched layers)": attention_loss(
        list(out_S.attentions), [out_T.attentions[j] for j in matched], mask
    ),
}
for name, value in terms.items():
    print(f"{name:42s} {value.item():.4f}")
for who, out in (("teacher", out_T), ("student", out_S)):
    first = [[round(v, 3) for v in row] for row in out.logits[:3].tolist()]
    print(f"first three logits, {who}: {first}")

# %% [markdown]
# Look at the logits: the teacher's classifier head is still random, with small weights, so
# both models output numbers close to 0 and almost the same (nearly 50/50) distribution. That
# is why the soft-target term is small here. After fine-tuning (notebook 4) the teacher's
# logits are large and confident, and this term carries real information.

# %% [markdown]
# Per matched layer, the intermediate losses tell a story about the copy. Student layer 0 *is*
# teacher layer 0 and reads the same embeddings, so its output is identical and its loss is 0.
# Student layer 1 is a copy of teacher layer `matched[1]`, but it now reads the output of
# teacher layer 0 instead of teacher layer `matched[1] - 1`: from here on the two networks
# drift apart, and the losses grow.

# %%
rows = []
for i, j in enumerate(matched):
    rows.append(
        {
            "student layer": i,
            "teacher layer": j,
            "hidden_mse_loss [CLS]": hidden_mse_loss(cls_S[i], cls_T[i]).item(),
            "attention_loss": attention_loss(out_S.attentions[i], out_T.attentions[j], mask).item(),
        }
    )
pd.DataFrame(rows).round(4)

# %% [markdown]
# ## Putting it together: `DistillationLoss`
#
# Training uses one number, a weighted sum of the terms:
#
# `total = (1 - alpha) * hard + alpha * soft + cos_weight * cos + hidden_weight * hidden + attention_weight * attention`
#
# `DistillationLoss` computes it, matches the layers with the student's `layer_map`, and
# returns the total (to call `.backward()` on) and every term separately (for logging). The
# experiments of this series use the defaults, `alpha=0.5` and `T=2` with the intermediate
# weights at 0: soft targets plus hard labels, as in DistilBERT's and PKD's output losses.
# Here all terms are switched on to show them:

# %%
loss_fn = DistillationLoss(
    temperature=2.0,
    alpha=0.5,
    cos_weight=1.0,
    hidden_weight=1.0,
    attention_weight=1.0,
    layer_map=matched,
)
print(loss_fn)
total, parts = loss_fn(out_S, out_T, labels=batch["labels"], attention_mask=mask)
for name, value in parts.items():
    print(f"{name:10s} weight {loss_fn.weights[name]:.2f}  value {value:.4f}")
recomputed = sum(loss_fn.weights[k] * v for k, v in parts.items())
print(f"total {total.item():.4f} = sum of weight x value = {recomputed:.4f}")

# %% [markdown]
# With only the output terms (the default), the loss needs nothing but the teacher's
# *logits*. They do not change while the student learns, so `distill` computes them once for
# the whole training set and reuses them every epoch, instead of running the teacher on every
# batch.

# %%
print("default loss needs hidden states:", DistillationLoss().needs_hidden_states)
print("default loss needs attention maps:", DistillationLoss().needs_attentions)
print("full loss above needs hidden states:", loss_fn.needs_hidden_states)

# %% [markdown]
# ## Why multiply by T²?
#
# The gradient of the softened KL divergence with respect to the student's logits is
# `(p_S - p_T) / T`, and for large T the difference `p_S - p_T` itself shrinks roughly like
# `1 / T`. So without a correction the gradient shrinks like `1 / T²`: raising the temperature
# would quietly turn the soft-target loss down compared with the hard-label loss. Multiplying by
# T² (Hinton et al. 2015, section 2.1) undoes that.
#
# Measured on random logits (64 examples, 5 classes): the norm of the gradient with respect to
# the student's logits, with the T² factor (what `soft_target_loss` returns) and without it.

# %%
# NBVAL_CHECK_OUTPUT
generator = torch.Generator().manual_seed(0)
z_T = 3 * torch.randn(64, 5, generator=generator)
z_S0 = 3 * torch.randn(64, 5, generator=generator)
y = torch.randint(0, 5, (64,), generator=generator)

rows = []
for t in (1, 2, 4, 8, 16):
    z_S = z_S0.clone().requires_grad_(True)
    loss = soft_target_loss(z_S, z_T, temperature=t)  # includes T**2
    (grad_with,) = torch.autograd.grad(loss, z_S)
    z_S = z_S0.clone().requires_grad_(True)
    (grad_without,) = torch.autograd.grad(soft_target_loss(z_S, z_T, temperature=t) / t**2, z_S)
    rows.append(
        {
            "T": t,
            "grad norm with T^2": grad_with.norm().item(),
            "grad norm without T^2": grad_without.norm().item(),
        }
    )
z_S = z_S0.clone().requires_grad_(True)
(grad_hard,) = torch.autograd.grad(hard_label_loss(z_S, y), z_S)
grads = pd.DataFrame(rows).set_index("T")
print(grads.round(4).to_string())
print(f"for scale: hard_label_loss gradient norm {grad_hard.norm().item():.4f}")

# %%
fig, ax = plt.subplots(figsize=(6, 3.6))
ax.loglog(grads.index, grads["grad norm with T^2"], "o-", label="soft_target_loss (× T²)")
ax.loglog(grads.index, grads["grad norm without T^2"], "s--", label="without the T² factor")
ax.axhline(grad_hard.norm().item(), color="grey", lw=1, label="hard_label_loss")
ax.set_xlabel("temperature T")
ax.set_ylabel("gradient norm w.r.t. student logits")
ax.set_xticks(list(grads.index), [str(t) for t in grads.index])
ax.legend(frameon=False)
ax.set_title("T² keeps the soft-target gradient from vanishing")
plt.show()

# %% [markdown]
# Without the factor the gradient falls by orders of magnitude as T grows; with it, it stays
# within the same range, comparable to the hard-label gradient. That is why `alpha` can be
# read as "how much the student listens to the teacher", whatever T you choose.

# %% [markdown]
# ## Try it yourself
#
# * **Temperature and entropy.** Add `0.5` and `16` to `temperatures` in the first table and,
#   before running it, predict how the *entropy* of each column changes. Compute it with
#   `p = torch.softmax(logits / t, dim=-1)` and `float(-(p * p.log()).sum())`. Expect it to
#   grow with T, from about 0.11 nats at T = 0.5 to about 1.60 at T = 16, and never to pass
#   log 5 ≈ 1.61, the entropy of five equally likely classes: a high temperature spreads the
#   teacher's probability over the wrong classes, a low one hides them.
# * **Larger temperatures.** Add `32` and `64` to the temperatures of the gradient table.
#   Expect the norm with T² to stay near 0.22 and the norm without it to keep falling about
#   fourfold per doubling of T (to about 0.0002 and 0.00005): for large T the plain soft loss's
#   gradient shrinks like 1/T², and the factor cancels exactly that.
# * **The two ends of alpha.** Build `DistillationLoss(alpha=0.0)` and
#   `DistillationLoss(alpha=1.0)` (the intermediate weights are 0 by default) and call each
#   like `loss_fn` above, on `out_S, out_T` with the same labels and mask. Predict the totals
#   first. Expect alpha = 0 to give exactly the `hard_label_loss` printed for the real batch,
#   and alpha = 1 exactly the `soft_target_loss (T=2)`, because the total is
#   `(1 - alpha) * hard + alpha * soft`.
#
# **Next:** notebook 4 fine-tunes the teacher, so that it has something worth teaching.
