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
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/distill-lib/distill_lib/blob/main/notebooks/09_use_your_student.ipynb)
#
# # 9. Use your student
#
# Notebooks 5-8 trained students with the package's own loop, to compare layer strategies.
# This notebook is about taking a student into your own work: training it with the tools you
# already use.

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
import math
import tempfile
import time

import pandas as pd
import torch
from IPython.display import Markdown, display
from transformers import PrinterCallback, pipeline

from distill_lib import distill, make_student
from distill_lib.device import placement
from distill_lib.experiment import Experiment
from distill_lib.experiment.footprint import (
    architecture_lines,
    architecture_table,
    footprint_lines,
    footprint_markdown,
    footprint_table,
)
from distill_lib.hf_trainer import DistillationTrainer, DistillationTrainingArguments
from distill_lib.inference import evaluate_model, teacher_logits
from distill_lib.metrics import classification_metrics
from distill_lib.notebook import setup
from distill_lib.plots import footprint_plot
from distill_lib.stats import majority_noise_margin
from distill_lib.train import save_checkpoint

# %% [markdown]
# ## Parameters
#
# `setup()` picks the run as in notebooks 4-8: the `quick` preset on a CPU or with
# `DISTILL_LIB_QUICK=1` (500 training sentences, 2 epochs), the `standard` preset on a GPU.
# The teacher is the one of notebook 4, read from the output folder (`../runs/quick` for the
# quick preset); if it is not there yet, it is fine-tuned now.

# %% tags=["parameters"]
PRESET = None  # None: "quick" on a CPU or in CI, "standard" on a GPU

# %%
nb = setup(PRESET)
config = nb.config
print(nb.describe())
exp = Experiment(config, progress=False)
teacher, tokens, tokenizer = exp.teacher, exp.tokens, exp.tokenizer

# %% [markdown]
# ## The Trainer route
#
# If you train models with the Hugging Face `Trainer`, you can distil with it too.
# `DistillationTrainer` is a `Trainer` whose loss is the package's `DistillationLoss` (notebook
# 3), and `DistillationTrainingArguments` is `TrainingArguments` with the distillation options
# as typed fields: `alpha`, `temperature`, `hidden_weight`, `attention_weight`, `cos_weight`
# and `layer_map`. Everything else is the `Trainer` you know: checkpoints, resuming,
# `compute_metrics`, callbacks, logging. What it adds:
#
# * the teacher runs in eval mode and is never trained;
# * with a loss that reads only the teacher's logits (the default), they are computed once
#   over the training set and looked up per batch, as the package's loop does; a loss on
#   hidden states or attention maps runs the teacher on every batch;
# * a `make_student` student needs nothing more: the layer map comes from its config.
#
# We train the same student twice, once with `DistillationTrainer` and once with the
# package's `distill`, with the settings of the preset's `uniform` run (`exp.job`): the same
# epochs, learning rate and schedule, batch size, seed, loss, and the best epoch by validation
# accuracy kept. The teacher's logits are computed (or read from the cache) first, so that
# neither timing pays for them.

# %%
SEED = 0
train_config = exp.job("uniform", SEED).train_config.replace(progress=False)
where = placement(train_config.device, train_config.mixed_precision)
teacher_logits(teacher, tokens["train"], tokenizer=tokenizer,
               batch_size=train_config.eval_batch_size, precision=where.precision)
print(f"{train_config.epochs} epochs, batch {train_config.batch_size}, lr {train_config.lr}, "
      f"alpha {train_config.alpha}, T {train_config.temperature}, seed {train_config.seed}, "
      f"on {where.device} ({where.precision})")

# %% [markdown]
# The `TrainingArguments` fields that say the same as the package's `TrainConfig`. Two have
# another name: warm-up is a number of steps (`warmup_steps`), and length-grouped batches are
# `train_sampling_strategy="group_by_length"`. Keeping the best epoch is the Trainer's
# `load_best_model_at_end`, which needs an evaluation and a checkpoint every epoch, and a
# `compute_metrics` that gives the accuracy.

# %%
def compute_metrics(prediction):
    """Accuracy and macro-F1 of the Trainer's evaluation, by the package's metrics."""
    return classification_metrics(prediction.predictions.argmax(-1).tolist(),
                                  prediction.label_ids.tolist(), teacher.config.num_labels)


def trainer_arguments(cfg, output_dir):
    """DistillationTrainingArguments that say what the package's TrainConfig `cfg` says."""
    updates = math.ceil(len(tokens["train"]) / cfg.batch_size) * cfg.epochs
    return DistillationTrainingArguments(
        output_dir=output_dir, num_train_epochs=cfg.epochs, seed=cfg.seed,
        per_device_train_batch_size=cfg.batch_size, per_device_eval_batch_size=cfg.eval_batch_size,
        learning_rate=cfg.lr, weight_decay=cfg.weight_decay, lr_scheduler_type=cfg.scheduler,
        warmup_steps=int(cfg.warmup_ratio * updates), max_grad_norm=cfg.max_grad_norm or 0.0,
        train_sampling_strategy="group_by_length" if cfg.group_by_length else "random",
        eval_strategy="epoch", save_strategy="epoch", save_only_model=True, save_total_limit=1,
        load_best_model_at_end=cfg.keep_best,
        metric_for_best_model="eval_loss" if cfg.select_metric == "loss" else cfg.select_metric,
        greater_is_better=cfg.select_metric != "loss",
        alpha=cfg.alpha, temperature=cfg.temperature, hidden_weight=cfg.hidden_weight,
        attention_weight=cfg.attention_weight, cos_weight=cfg.cos_weight,
        use_cpu=where.device == "cpu", bf16=where.precision == "bf16",
        fp16=where.precision == "fp16", report_to=[], disable_tqdm=True, logging_strategy="epoch",
    )


# %% [markdown]
# The Trainer route. The student is built the same way for both routes: `make_student` copies
# the `uniform` teacher layers, and its config remembers them.

# %%
student = make_student(teacher, "uniform", n_student=config.student_layers)
print("student layer i <- teacher layer", student.config.distill_lib["teacher_layers"])
with tempfile.TemporaryDirectory() as folder:  # the Trainer's checkpoints, thrown away after
    start = time.perf_counter()
    trainer = DistillationTrainer(
        model=student, args=trainer_arguments(train_config, folder), teacher=teacher,
        processing_class=tokenizer, train_dataset=tokens["train"],
        eval_dataset=tokens["validation"], compute_metrics=compute_metrics,
    )
    trainer.remove_callback(PrinterCallback)  # its log lines: the tables below say the same
    trainer.train()
    trainer_seconds = time.perf_counter() - start
print(f"teacher logits cached: {trainer.cached_logits is not None}; "
      f"best checkpoint's validation accuracy {trainer.state.best_metric:.4f}")
pd.DataFrame([row for row in trainer.state.log_history if "eval_accuracy" in row])[
    ["epoch", "eval_loss", "eval_accuracy", "eval_macro_f1"]
].round(4)

# %% [markdown]
# The package's route: `distill`, with the same settings. (Its `val_loss` is the cross-entropy
# against the labels; the Trainer's `eval_loss` above is the distillation loss, the teacher
# running on each validation batch. The accuracies are the same measure.)

# %%
student = make_student(teacher, "uniform", n_student=config.student_layers)
start = time.perf_counter()
result = distill(student, teacher, tokens, train_config, tokenizer=tokenizer)
loop_seconds = time.perf_counter() - start
result.history_frame()[["epoch", "train_loss", "val_loss", "val_accuracy", "val_macro_f1"]].round(4)

# %% [markdown]
# Both students on the test set, evaluated the same way (`evaluate_model`), next to the time
# each route took to train (its validation each epoch included).

# %%
routes = {
    "DistillationTrainer": (trainer.model, trainer_seconds),
    "distill (the package's loop)": (result.model, loop_seconds),
}
rows = []
for route, (model, seconds) in routes.items():
    test = evaluate_model(model, tokens["test"], tokenizer=tokenizer,
                          batch_size=train_config.eval_batch_size, precision=where.precision)
    rows.append({"route": route, "test accuracy": test["accuracy"],
                 "test macro-F1": test["macro_f1"], "training wall time (s)": seconds,
                 "n": test["n"]})
table = pd.DataFrame(rows).set_index("route")
table.drop(columns="n").round({"test accuracy": 4, "test macro-F1": 4,
                               "training wall time (s)": 1})

# %%
hf, loop = table.iloc[0], table.iloc[1]
gap = hf["test accuracy"] - loop["test accuracy"]
margin = majority_noise_margin(loop["test accuracy"], int(loop["n"]))
faster, slower = ("the package's loop", "the Trainer") if loop_seconds < trainer_seconds else (
    "the Trainer", "the package's loop")
ratio = max(loop_seconds, trainer_seconds) / min(loop_seconds, trainer_seconds)
display(Markdown(
    f"**Same student, same recipe, two loops.** {faster[0].upper() + faster[1:]} trained it "
    f"{ratio:.1f}x faster than {slower} ({min(loop_seconds, trainer_seconds):.0f} s against "
    f"{max(loop_seconds, trainer_seconds):.0f} s on {where.device}). Their test accuracies, "
    f"{hf['test accuracy']:.4f} (Trainer) and {loop['test accuracy']:.4f} (package), are "
    f"{100 * abs(gap):.1f} points apart, "
    + ("within" if abs(gap) <= margin else "more than")
    + f" the ±{100 * margin:.1f} points to which one accuracy on {int(loop['n'])} test "
    "sentences is known. The two runs draw different batch orders and dropout masks from the "
    "same seed, so only a gap well beyond that margin would say that one loop trains better."
))

# %% [markdown]
# Where the time goes: the package's loop also uses the speed levers of `distill_lib.fast`
# (the last layer computed for the [CLS] token only, padding skipped in the other layers'
# matmuls, only the vocabulary rows the data contain trained), each checked to give the same
# model up to float rounding; the Trainer computes the full model. The Trainer also writes a
# checkpoint every epoch to keep the best one, and its evaluation runs the teacher on every
# validation batch (for the distillation loss it reports). The teacher's logits cost neither route
# anything here: both read them from the cache filled above.

# %% [markdown]
# ## The DistilBERT route
#
# A student of the teacher's own class (here `BertForSequenceClassification`, MiniLM's class)
# is what notebooks 5-8 trained. `make_student(teacher, layers, architecture="distilbert")`
# builds a `DistilBertForSequenceClassification` instead, with the same teacher layers copied:
# its encoder computes what the same-class student computes (the single-sentence token-type
# embedding is folded into DistilBERT's position embeddings, which has no token types), and its
# head starts from BERT's pooler, but with DistilBERT's ReLU where BERT has tanh, so training
# adapts it. An MPNet or RoBERTa teacher gets an error saying why.
#
# Is the DistilBERT student as good? The presets answer it in the comparison itself:
# `distilbert_strategies=["uniform"]` trains a DistilBERT twin of each seed of the `uniform`
# run, with the same settings (`exp.run(..., architecture="distilbert")` trains or reads one),
# and `architecture_table` pairs each twin with its same-class run: the usual paired bootstrap
# over the same seeds and test sentences.

# %%
print("DistilBERT arm of this comparison:", config.distilbert_strategies)
twins = {seed: exp.run("uniform", seed, architecture="distilbert") for seed in config.seeds}
pd.DataFrame({
    "seed": list(config.seeds),
    "DistilBERT student": [twins[s]["test"]["accuracy"] for s in config.seeds],
    "same-class student": [exp.run("uniform", s)["test"]["accuracy"] for s in config.seeds],
}).round(4)

# %% [markdown]
# `exp.results()` gathers every run of the comparison (training what is missing) and, since
# the preset asks for it (`footprint=True`), measures the footprint of the next section.

# %%
results = exp.results()
arch = architecture_table(results)
arch.round(4)

# %%
for line in architecture_lines(results):
    display(Markdown(line))

# %% [markdown]
# ## Size, latency, accuracy
#
# What does a student cost to run, and what does it keep? After the runs, the comparison
# measures each model on its device: parameters, size on disk, and the latency of one sentence
# and of a batch of 32 (mean ± standard deviation of repeated passes after untimed warm-up
# passes; the thread count is stated). The teacher; the student (every strategy's student has
# the same shape and so the same cost: what differs is its accuracy); the DistilBERT student;
# and the best student after `torch.ao.quantization.quantize_dynamic`, which stores the linear
# layers' weights in int8 and quantises their inputs on the fly (CPU only). Runs keep no
# weights, so the best strategy's first seed is trained again for it; on the same machine it
# is the same run, and the sentences below say whether its accuracy matched.
#
# The timings depend on the machine and on what else it was doing: read the ratios, not the
# milliseconds.

# %%
table = footprint_table(results)
display(Markdown(footprint_markdown(table)))
for line in footprint_lines(results):
    display(Markdown(line))

# %%
footprint_plot(results)

# %% [markdown]
# ## Load it anywhere
#
# A distilled student is a plain `transformers` model. Saved with `save_pretrained`
# (safetensors) and its tokenizer, it loads with `AutoModelForSequenceClassification` or
# `pipeline("text-classification")`, without `distill_lib`, and gives the predictions it gave
# here (`tests/test_export.py` checks this in a fresh process, for both architectures and with
# every speed lever used in training).

# %%
cfg = exp.job("uniform", SEED).train_config.replace(progress=False)
student = make_student(teacher, "uniform", n_student=config.student_layers,
                       architecture="distilbert")
model = distill(student, teacher, tokens, cfg, tokenizer=tokenizer).model.eval()
print(type(model).__name__, "student layer i <- teacher layer",
      model.config.distill_lib["teacher_layers"])
sentences = ["A warm, funny and beautifully acted film.", "Dull, slow and far too long."]
with tempfile.TemporaryDirectory() as folder:
    save_checkpoint(model, tokenizer, folder)
    classify = pipeline("text-classification", model=folder, tokenizer=folder, top_k=None,
                        device=-1)
    loaded = [{d["label"]: d["score"] for d in row} for row in classify(sentences)]
with torch.no_grad():
    batch = tokenizer(sentences, padding=True, return_tensors="pt")
    here = torch.softmax(model(**{k: v for k, v in batch.items() if k != "token_type_ids"})
                         .logits, -1)
names = [model.config.id2label[i] for i in range(model.config.num_labels)]
largest = max(abs(loaded[i][n] - float(here[i, j])) for i in range(len(sentences))
              for j, n in enumerate(names))
print("pipeline, loaded from disk:", [{k: round(v, 4) for k, v in row.items()} for row in loaded])
print(f"largest difference from the in-notebook model: {largest:.1e}")

# %% [markdown]
# ## Try it yourself
#
# * **Resume a Trainer run.** Train with `save_strategy="steps", save_steps=20` into a folder
#   you keep, interrupt it (the stop button), then call `trainer.train(resume_from_checkpoint=
#   True)`. Expect it to continue from the last checkpoint's step, not from 0, and to end with
#   the weights an uninterrupted run gives (`tests/test_hf_trainer.py` checks this).
# * **Hidden states through the Trainer.** Set `hidden_weight=1.0` in `trainer_arguments` and
#   train again. The teacher now runs on every batch (its hidden states are too large to
#   cache), so expect the Trainer route to take longer; whether the accuracy moves, the run
#   decides.
# * **A DistilBERT student from other layers.** Replace `"uniform"` by `"first"` in the
#   DistilBERT cells and compare with the run's `first` student the same way. The architecture
#   changes only the head's activation and the token types, so expect the layers, not the
#   architecture, to decide most of the difference.
