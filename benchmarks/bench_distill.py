"""Speed benchmark: distill_lib.distill against a Hugging Face ``Trainer`` baseline.

    python benchmarks/bench_distill.py --train-size 1000 --epochs 3 \
        --breakdown --profile --json benchmarks/results.json
    python benchmarks/bench_distill.py --pair mpnet --json benchmarks/results.json

(from the repository root with the project's virtual environment active, on an otherwise idle
machine; ``--breakdown`` adds a per-part timing of one step of each recipe and ``--profile`` a
torch.profiler table of the student step, both measured before and outside the timed runs).

Two teacher -> student pairs (``--pair``; each teacher is used as loaded: its classifier head
is freshly initialised and it is not fine-tuned first; that does not change the amount of
work, which is all a speed benchmark needs):

* ``minilm`` (the default): offline all-MiniLM-L6-v2 (``load_teacher("minilm-l6")``, BERT,
  6 layers, hidden 384) -> a 3-layer student from teacher layers [0, 2, 5]. Default size
  1,000 sentences x 3 epochs.
* ``mpnet``, the classic 12 -> 6: offline all-mpnet-base-v2 (``load_teacher("mpnet-base")``,
  MPNet, 12 layers, hidden 768, BERT-base size) -> a 6-layer student from
  ``select_layers("uniform", 12, 6)`` = [0, 2, 4, 7, 9, 11]. Default size 256 sentences x 2
  epochs (DEFAULT_SIZES), meant to keep the whole benchmark to a few minutes on 2 idle cores
  (the student step is ~8x the MiniLM student's matmul FLOPs per token). Two epochs, not
  one: with one epoch both recipes run the teacher over every sentence exactly once, so the
  ratio would leave out what caching the teacher's logits saves.
  MPNet's tokenizer gives no ``token_type_ids``; the batches then simply have none.

For the chosen pair, the same student is distilled twice from the same teacher on the same
training subset of ``load_task("movie-snippets")``, with the same loss (alpha * soft-target KL
at temperature T + (1 - alpha) * cross-entropy), lr, batch size, epochs and seed, both runs
starting from identical student weights:

1. **distill_lib**: ``distill_lib.train.distill(..., logits_cache=False)`` with
   ``TrainConfig`` defaults apart from those shared settings (and ``progress=False``). It runs
   the teacher once over the training set (cached logits, no disk cache, so it pays for that
   pass), then trains on length-grouped, dynamically padded batches with fused AdamW
   (``make_optimizer``: ``fused=True`` on CPU as on CUDA).
2. **HF Trainer**: what a practitioner writes: a ``Trainer`` subclass whose ``compute_loss``
   runs the teacher (eval mode, ``torch.no_grad()``) on every batch, and otherwise the
   Trainer's defaults: ``DataCollatorWithPadding`` from ``processing_class=tokenizer`` (dynamic
   padding, random batches: ``train_sampling_strategy="random"``, no length grouping), its
   default optimizer (``adamw_torch_fused`` in transformers 5), default scheduler, warm-up
   and weight decay.
   Only reporting, saving, evaluation, logging and the progress bar are switched off
   (``report_to="none"``, ``save_strategy="no"``, ``eval_strategy="no"``,
   ``logging_strategy="no"``, ``disable_tqdm=True``) so that they cost no time.

What is timed (wall clock, ``time.perf_counter``), for each run: everything from the call of
``distill(...)`` / ``trainer.train()`` to its return (optimizer and accelerate set-up, data
loading and collation, the teacher pass, all training steps), MINUS, for distill_lib, its
per-epoch validation, which the baseline does not do (the validation split is kept tiny, 64
rows by default, and the time distill_lib itself records for it, ``seconds - train_seconds``
of each epoch, is subtracted). Model and data loading, tokenisation and building the students
are not timed. examples/s = training examples x epochs / timed seconds.

It also counts the FLOPs of one student training step (forward + loss + backward) on a
representative batch (the length-grouped distill_lib batch of median width) with
``torch.utils.flop_counter.FlopCounterMode``, which counts the matmuls that actually run, for
either architecture (BERT's SDPA attention and MPNet's eager attention alike); the count is
printed next to the closed form of ``analytic_step_flops`` (layers, hidden and intermediate
sizes, batch width) as a check. It times that step (median of ``--step-repeats``) and
compares the achieved GFLOP/s with a large fp32 matmul (``--matmul-size``, median of
``--matmul-repeats``) timed in the same process.

Each run also reports its final-epoch mean training loss (both runs do the same work, so the
two should be close) and how many CPU cores *other* processes kept busy meanwhile (from
/proc/stat; a run where that is not close to 0 was disturbed and should be discarded).

With ``--json PATH`` the results are stored in PATH under the pair's key (``"minilm"`` or
``"mpnet"``); the other pair's entry in that file is kept.

The last line printed is ``speedup distill_lib / HF Trainer: <ratio>x``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode

import distill_lib.train as dtrain
from distill_lib import (
    load_task,
    load_teacher,
    make_dataloader,
    make_student,
    num_layers,
    select_layers,
    tokenize,
)
from distill_lib._io import atomic_write_json
from distill_lib.fast import cls_only_last_layer
from distill_lib.losses import DistillationLoss, hard_label_loss, soft_target_loss
from distill_lib.train import TrainConfig, distill, make_optimizer

PAIRS: dict[str, dict[str, Any]] = {
    # name: the teacher for load_teacher, and which of its layers the student is built from
    # (a layer list or a select_layers strategy) and how many
    "minilm": {"teacher": "minilm-l6", "layers": [0, 2, 5], "n_student": 3},
    "mpnet": {"teacher": "mpnet-base", "layers": "uniform", "n_student": 6},
}
DEFAULT_SIZES: dict[str, tuple[int, int]] = {  # pair: (--train-size, --epochs)
    "minilm": (1000, 3),
    "mpnet": (256, 2),  # BERT-base size: ~8x the MiniLM student's matmul FLOPs per token
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument(
        "--pair",
        choices=tuple(PAIRS),
        default="minilm",
        help="teacher -> student pair: minilm (MiniLM-L6 6 -> 3, default) or mpnet "
        "(all-mpnet-base-v2 12 -> 6)",
    )
    p.add_argument(
        "--train-size",
        type=int,
        default=None,
        help="training examples used (default: 1000 for minilm, 256 for mpnet)",
    )
    p.add_argument(
        "--val-size", type=int, default=64, help="distill_lib validation rows (time subtracted)"
    )
    p.add_argument("--epochs", type=int, default=None, help="default: 3 for minilm, 2 for mpnet")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--max-length", type=int, default=128)
    p.add_argument("--lr", type=float, default=5e-5)
    p.add_argument("--temperature", type=float, default=2.0)
    p.add_argument("--alpha", type=float, default=0.5)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    p.add_argument("--matmul-size", type=int, default=2048)
    p.add_argument("--matmul-repeats", type=int, default=10)
    p.add_argument("--step-repeats", type=int, default=10)
    p.add_argument(
        "--only",
        choices=("both", "distill_lib", "hf"),
        default="both",
        help="run only one side (for development; no ratio is printed then)",
    )
    p.add_argument("--profile", action="store_true", help="torch.profiler table of the step")
    p.add_argument(
        "--breakdown",
        action="store_true",
        help="time the parts of one step of each recipe, alternately (not part of the ratio)",
    )
    p.add_argument(
        "--no-lever-runs",
        action="store_true",
        help="skip the extra distill_lib runs with one speed lever off each (see LEVERS)",
    )
    p.add_argument(
        "--json",
        type=str,
        default=None,
        help="store the results in this JSON file under the pair's key (other keys are kept)",
    )
    args = p.parse_args(argv)
    train_size, epochs = DEFAULT_SIZES[args.pair]
    if args.train_size is None:
        args.train_size = train_size
    if args.epochs is None:
        args.epochs = epochs
    return args


# ---------------------------------------------------------------------------------------------
# Machine and matmul


def machine_info() -> dict[str, Any]:
    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        load = os.getloadavg()
    except OSError:
        load = None
    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "transformers": __import__("transformers").__version__,
        "accelerate": __import__("accelerate").__version__,
        "cuda": torch.cuda.is_available(),
        "loadavg_at_start": load,
    }


def cpu_busy_percent(seconds: float = 3.0) -> float | None:
    """Share of all CPUs busy over ``seconds`` (from /proc/stat): is the machine idle?"""

    def sample() -> tuple[int, int]:
        with open("/proc/stat") as f:
            values = [int(v) for v in f.readline().split()[1:9]]
        return sum(values), values[3] + values[4]  # total, idle + iowait

    try:
        total1, idle1 = sample()
        time.sleep(seconds)
        total2, idle2 = sample()
    except OSError:
        return None
    return 100.0 * (1 - (idle2 - idle1) / max(1, total2 - total1))


class OtherLoad:
    """How many CPU cores *other* processes kept busy while a block ran (from /proc/stat).

    ``with OtherLoad() as load: ...`` then ``load.cores``: busy CPU seconds of the whole
    machine minus this process's own CPU seconds, divided by the wall time. About 0 on an idle
    machine; ``None`` where /proc/stat is not available.
    """

    cores: float | None = None

    @staticmethod
    def _busy_seconds() -> float | None:
        try:
            with open("/proc/stat") as f:
                values = [int(v) for v in f.readline().split()[1:9]]
        except OSError:
            return None
        return (sum(values) - values[3] - values[4]) / os.sysconf("SC_CLK_TCK")

    def __enter__(self) -> OtherLoad:
        self._busy, self._own, self._wall = (
            self._busy_seconds(),
            sum(os.times()[:2]),
            time.perf_counter(),
        )
        return self

    def __exit__(self, *exc: object) -> None:
        busy = self._busy_seconds()
        if busy is None or self._busy is None:
            return
        own = sum(os.times()[:2]) - self._own
        self.cores = max(0.0, (busy - self._busy - own) / (time.perf_counter() - self._wall))


def matmul_gflops(n: int, repeats: int) -> dict[str, float]:
    """GFLOP/s of an ``n x n`` fp32 matmul (2 n^3 FLOPs), median of ``repeats``."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    for _ in range(2):
        a @ b
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - t)
    median = statistics.median(times)
    return {"n": n, "median_s": median, "gflops": 2 * n**3 / median / 1e9}


# ---------------------------------------------------------------------------------------------
# Data


def padding_stats(loader) -> dict[str, float]:
    """Padded tokens computed vs real tokens over one epoch of a loader."""
    padded = real = 0
    widths = []
    for batch in loader:
        mask = batch["attention_mask"]
        padded += mask.numel()
        real += int(mask.sum())
        widths.append(mask.shape[1])
    return {
        "batches": len(widths),
        "mean_width": sum(widths) / len(widths),
        "padded_tokens": padded,
        "real_tokens": real,
        "padding_fraction": 1 - real / padded,
    }


def median_batch(loader, batch_size: int) -> dict[str, torch.Tensor]:
    """The full batch of median width among one epoch of ``loader`` (model inputs + labels)."""
    full = [b for b in loader if len(b["labels"]) == batch_size]
    full.sort(key=lambda b: b["input_ids"].shape[1])
    return full[len(full) // 2]


# ---------------------------------------------------------------------------------------------
# Student step: FLOPs and speed


def analytic_step_flops(config, batch_shape: tuple[int, int]) -> int:
    """Closed-form matmul FLOPs of one training step (forward + backward) of an encoder classifier.

    For a batch of ``B`` rows padded to width ``S`` (padding is computed like any token),
    ``L`` layers, hidden size ``H``, intermediate size ``I`` and ``C`` classes, the forward pass
    costs, per layer, ``2 B S (4 H^2 + 2 H I)`` (the Q, K, V and output projections and the two
    feed-forward matrices) plus ``4 B S^2 H`` (scores ``Q K^T`` and ``probs V``, all heads
    together), and once ``2 B H^2 + 2 B H C`` for the head on the first token (BERT's pooler +
    classifier, MPNet's classification head: the same shapes). The backward pass costs twice
    the forward (gradients of both operands of every matmul; the first layer's input needs one
    too because the embeddings are trained). Not matmuls, so left out, as by
    ``FlopCounterMode``: embeddings lookups, LayerNorm, GELU, softmax, dropout, the loss, and
    MPNet's relative-position attention bias (one ``(heads, S, S)`` bucket-embedding lookup
    shared by all layers and added to the scores: O(B heads S^2), negligible).
    """
    B, S = batch_shape
    H, F, L = config.hidden_size, config.intermediate_size, config.num_hidden_layers
    forward = L * (2 * B * S * (4 * H * H + 2 * H * F) + 4 * B * S * S * H)
    forward += 2 * B * H * H + 2 * B * H * config.num_labels
    return 3 * forward


def student_step_rate(teacher, layers, batch, args, cls_only: bool = False) -> dict[str, Any]:
    """FLOPs (FlopCounterMode) and median time of one student forward + loss + backward.

    With ``cls_only`` the last layer computes the first token only (:mod:`distill_lib.fast`),
    and the FLOPs counted are those that run then.
    """
    student = make_student(teacher, layers)
    with cls_only_last_layer(student, cls_only):
        return _student_step_rate(student, teacher, batch, args)


def _student_step_rate(student, teacher, batch, args) -> dict[str, Any]:
    labels = batch["labels"]
    inputs = {k: v for k, v in batch.items() if k != "labels"}
    with torch.no_grad():
        logits_T = teacher(**inputs).logits
    loss_fn = DistillationLoss(temperature=args.temperature, alpha=args.alpha)
    config = TrainConfig(lr=args.lr)
    optimizer = make_optimizer(list(student.named_parameters()), config, torch.device("cpu"))

    def fwd_bwd() -> None:
        loss_fn(student(**inputs), logits_T, labels).total.backward()

    student.train()
    with FlopCounterMode(display=False) as counter:
        fwd_bwd()
    flops = counter.get_total_flops()
    analytic = analytic_step_flops(student.config, tuple(inputs["input_ids"].shape))
    student.zero_grad(set_to_none=True)

    step_times, full_times = [], []
    for i in range(2 + args.step_repeats):
        t0 = time.perf_counter()
        fwd_bwd()
        t1 = time.perf_counter()
        torch.nn.utils.clip_grad_norm_(student.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        t2 = time.perf_counter()
        if i >= 2:  # two warm-up steps
            step_times.append(t1 - t0)
            full_times.append(t2 - t0)
    step = statistics.median(step_times)
    full = statistics.median(full_times)
    result = {
        "batch_shape": list(inputs["input_ids"].shape),
        "flops": flops,
        "flops_analytic": analytic,
        "student": {
            "layers": student.config.num_hidden_layers,
            "hidden": student.config.hidden_size,
            "intermediate": student.config.intermediate_size,
            "heads": student.config.num_attention_heads,
            "attn_implementation": getattr(student.config, "_attn_implementation", None),
        },
        "fwd_bwd_median_s": step,
        "fwd_bwd_gflops": flops / step / 1e9,
        "with_clip_adamw_median_s": full,
        "with_clip_adamw_gflops": flops / full / 1e9,
    }
    if args.profile:
        from torch.profiler import ProfilerActivity, profile

        with profile(activities=[ProfilerActivity.CPU]) as prof:
            for _ in range(3):
                fwd_bwd()
                torch.nn.utils.clip_grad_norm_(student.parameters(), 1.0)
                optimizer.step()
                optimizer.zero_grad(set_to_none=True)
        print("\n[profile] 3 student steps (fwd + loss + bwd + clip + AdamW), by self CPU time:")
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=20))
    return result


def step_breakdown(teacher, layers, batch_lib, batch_hf, args) -> dict[str, float]:
    """Median time of each part of one training step of both recipes, measured alternately.

    distill_lib: student fwd + loss (cached teacher logits) + bwd, grad clipping, AdamW from
    its ``make_optimizer`` (fused on CPU) on a length-grouped batch of median width. HF Trainer:
    student fwd + teacher fwd (no_grad) + loss + bwd, clipping, fused AdamW (the Trainer's
    default) on a random batch of median width: both sides use the fused AdamW kernel.
    Alternating the two keeps them comparable even when other processes share the CPUs.
    """
    loss_fn = DistillationLoss(temperature=args.temperature, alpha=args.alpha)
    config = TrainConfig(lr=args.lr)
    sides = {}
    for name, batch in (("distill_lib", batch_lib), ("hf", batch_hf)):
        student = make_student(teacher, layers)
        inputs = {k: v for k, v in batch.items() if k != "labels"}
        if name == "distill_lib":
            named = list(student.named_parameters())
            optimizer = make_optimizer(named, config, torch.device("cpu"))
            with torch.no_grad():
                cached = teacher(**inputs).logits
        else:
            optimizer = torch.optim.AdamW(student.parameters(), lr=args.lr, fused=True)
            cached = None
        sides[name] = (student, inputs, batch["labels"], optimizer, cached)
    times: dict[str, list[float]] = {}

    def step(name: str) -> None:
        student, inputs, labels, optimizer, cached = sides[name]
        t0 = time.perf_counter()
        out = student(**inputs)
        t1 = time.perf_counter()
        if cached is None:
            with torch.no_grad():
                logits_T = teacher(**inputs).logits
        else:
            logits_T = cached
        t2 = time.perf_counter()
        loss_fn(out, logits_T, labels).total.backward()
        t3 = time.perf_counter()
        torch.nn.utils.clip_grad_norm_(student.parameters(), 1.0)
        t4 = time.perf_counter()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        t5 = time.perf_counter()
        parts = {
            "student_fwd": t1 - t0,
            "teacher_fwd": t2 - t1,
            "loss_bwd": t3 - t2,
            "clip": t4 - t3,
            "adamw": t5 - t4,
            "total": t5 - t0,
        }
        for part, value in parts.items():
            times.setdefault(f"{name}.{part}", []).append(value)

    for i in range(2 + args.step_repeats):
        if i == 2:
            times.clear()  # two warm-up rounds
        step("distill_lib")
        step("hf")
    out = {k: statistics.median(v) for k, v in times.items()}
    out["width_distill_lib"] = batch_lib["input_ids"].shape[1]
    out["width_hf"] = batch_hf["input_ids"].shape[1]
    print(
        f"\nper-step breakdown, median of {args.step_repeats} alternating steps (ms), batch "
        f"{args.batch_size} x width {out['width_distill_lib']} (distill_lib, length-grouped) / "
        f"{out['width_hf']} (HF, random):"
    )
    for part in ("student_fwd", "teacher_fwd", "loss_bwd", "clip", "adamw", "total"):
        print(
            f"  {part:12s} distill_lib {out[f'distill_lib.{part}'] * 1e3:7.1f}   "
            f"HF Trainer {out[f'hf.{part}'] * 1e3:7.1f}"
        )
    return out


# ---------------------------------------------------------------------------------------------
# The two runs


LEVERS = {
    "cls_only_last_layer": "first-token-only last layer",
    "compact_embeddings": "only the word-embedding rows the data contains",
    "unpadded_layers": "no matmuls for padding tokens",
}
"""distill_lib's switchable speed levers (TrainConfig fields, on by default); each is also
timed switched off, alone, in the same run."""


def run_distill_lib(student, teacher, tokens, tokenizer, args, **changes: Any) -> dict[str, Any]:
    config = TrainConfig(
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        seed=args.seed,
        temperature=args.temperature,
        alpha=args.alpha,
        progress=False,
        **changes,
    )
    teacher_seconds: list[float] = []
    original = dtrain.teacher_logits

    def timed_teacher_logits(*a: Any, **kw: Any) -> torch.Tensor:
        t = time.perf_counter()
        out = original(*a, **kw)
        teacher_seconds.append(time.perf_counter() - t)
        return out

    dtrain.teacher_logits = timed_teacher_logits  # instrument only: measure the teacher pass
    try:
        with OtherLoad() as load:
            start = time.perf_counter()
            result = distill(
                student, teacher, tokens, config, tokenizer=tokenizer, logits_cache=False
            )
            wall = time.perf_counter() - start
    finally:
        dtrain.teacher_logits = original
    history = result.history
    validation = sum(h["seconds"] - h["train_seconds"] for h in history)
    timed = wall - validation
    n = len(tokens["train"]) * args.epochs
    return {
        "wall_s": wall,
        "validation_s_subtracted": validation,
        "timed_s": timed,
        "teacher_logits_s": sum(teacher_seconds),
        "train_loop_s": sum(h["train_seconds"] for h in history),
        "examples_per_s": n / timed,
        "epoch_examples_per_s": [h["examples_per_second"] for h in history],
        "final_epoch_train_loss": history[-1]["train_loss"],
        "train_loss_per_epoch": [h["train_loss"] for h in history],
        "other_processes_cores": load.cores,
        "config": config.to_dict(),
    }


def run_hf_trainer(
    student, teacher, tokens, tokenizer, args, careful: bool = False
) -> dict[str, Any]:
    """Time ``trainer.train()`` of the KD Trainer below. ``careful``: what a practitioner who
    tunes the Trainer would set, on top of its defaults (dynamic padding and the fused AdamW
    are already defaults in transformers 5): length-grouped batches
    (``train_sampling_strategy="group_by_length"``, transformers 5's ``group_by_length=True``);
    the thread count is the process's, shared by every run of this script."""
    from transformers import Trainer, TrainingArguments

    alpha, temperature = args.alpha, args.temperature
    losses: list[tuple[torch.Tensor, int]] = []

    class DistillTrainer(Trainer):
        """The usual KD recipe: the teacher runs on every batch inside compute_loss."""

        def __init__(self, *a: Any, teacher_model: torch.nn.Module, **kw: Any) -> None:
            super().__init__(*a, **kw)
            self.teacher = teacher_model.eval()

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            labels = inputs.pop("labels")
            outputs = model(**inputs)
            with torch.no_grad():
                logits_T = self.teacher(**inputs).logits
            logits_S = outputs.logits
            loss = alpha * soft_target_loss(logits_S, logits_T, temperature) + (
                1 - alpha
            ) * hard_label_loss(logits_S, labels)
            losses.append((loss.detach(), len(labels)))  # read after training, no sync
            return (loss, outputs) if return_outputs else loss

    with tempfile.TemporaryDirectory() as out:
        training_args = TrainingArguments(
            output_dir=out,
            per_device_train_batch_size=args.batch_size,
            num_train_epochs=args.epochs,
            learning_rate=args.lr,
            seed=args.seed,
            report_to="none",
            save_strategy="no",
            eval_strategy="no",
            logging_strategy="no",
            disable_tqdm=True,
            optim="adamw_torch_fused",
            train_sampling_strategy="group_by_length" if careful else "random",
        )
        trainer = DistillTrainer(
            model=student,
            args=training_args,
            train_dataset=tokens["train"],
            processing_class=tokenizer,
            teacher_model=teacher,
        )
        with OtherLoad() as load:
            start = time.perf_counter()
            output = trainer.train()
            wall = time.perf_counter() - start
        inner = getattr(trainer.optimizer, "optimizer", trainer.optimizer)  # accelerate wrapper
        optimizer = type(inner).__name__
        defaults = inner.defaults
    steps_per_epoch = -(-len(tokens["train"]) // args.batch_size)
    last = losses[-steps_per_epoch:]
    final = sum(float(v) * k for v, k in last) / sum(k for _, k in last)
    per_epoch = []
    for e in range(args.epochs):
        chunk = losses[e * steps_per_epoch : (e + 1) * steps_per_epoch]
        per_epoch.append(sum(float(v) * k for v, k in chunk) / sum(k for _, k in chunk))
    n = len(tokens["train"]) * args.epochs
    return {
        "wall_s": wall,
        "timed_s": wall,
        "examples_per_s": n / wall,
        "trainer_reported_samples_per_s": output.metrics.get("train_samples_per_second"),
        "final_epoch_train_loss": final,
        "train_loss_per_epoch": per_epoch,
        "steps": len(losses),
        "other_processes_cores": load.cores,
        "optimizer": f"{optimizer} {getattr(training_args.optim, 'value', training_args.optim)} "
        f"(fused={defaults.get('fused')}, foreach={defaults.get('foreach')})",
        "collator": type(trainer.data_collator).__name__,
        "train_sampling_strategy": training_args.train_sampling_strategy,
    }


# ---------------------------------------------------------------------------------------------


def _other(run: dict[str, Any]) -> str:
    cores = run.get("other_processes_cores")
    return "other processes: ?" if cores is None else f"other processes used {cores:.2f} cores"


def store_results(path: str, pair: str, results: dict[str, Any]) -> None:
    """Write ``results`` into the JSON file ``path`` under ``pair``, keeping the other pairs.

    A file in the older one-run layout (a single MiniLM run at the top level, recognised by
    its ``"command"`` key) is first moved under ``"minilm"``.
    """
    stored: dict[str, Any] = {}
    if os.path.exists(path):
        with open(path) as f:
            stored = json.load(f)
        if "command" in stored:
            stored = {"minilm": stored}
    stored[pair] = results
    atomic_write_json(path, stored)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    started = time.perf_counter()
    if args.threads:
        torch.set_num_threads(args.threads)
    machine = machine_info()
    busy = cpu_busy_percent()
    machine["cpu_busy_pct_before_start"] = busy
    command = " ".join([os.path.basename(sys.executable), *sys.argv])
    print(f"command: {command}")
    print(
        f"machine: {machine['platform']} | {machine['cpu']} | {machine['cpu_count']} CPUs | "
        f"torch {machine['torch']} ({machine['torch_threads']} threads) | transformers "
        f"{machine['transformers']} | accelerate {machine['accelerate']} | "
        f"CUDA {machine['cuda']} | load avg {machine['loadavg_at_start']} | CPUs "
        f"{'?' if busy is None else f'{busy:.0f}'}% busy just before start"
    )
    # --- untimed preparation: data, teacher, two identical students -----------------------
    pair = PAIRS[args.pair]
    data = load_task("movie-snippets")
    data["train"] = data["train"].select(range(min(args.train_size, len(data["train"]))))
    data["validation"] = data["validation"].select(range(args.val_size))
    data["test"] = data["test"].select(range(1))
    torch.manual_seed(args.seed)  # the teacher's classifier head is freshly initialised
    teacher, tokenizer = load_teacher(pair["teacher"])
    teacher.eval()
    n_teacher = num_layers(teacher)
    layers = select_layers(pair["layers"], n_teacher, pair["n_student"])
    settings = {k: v for k, v in vars(args).items() if k != "json"}
    settings.update(
        teacher=f"{pair['teacher']} ({type(teacher).__name__}, {n_teacher} layers, hidden "
        f"{teacher.config.hidden_size}; as loaded, not fine-tuned)",
        student_layers=layers,
        task="movie-snippets",
    )
    print("settings: " + ", ".join(f"{k}={v}" for k, v in settings.items()))
    tokens = tokenize(data, tokenizer, max_length=args.max_length)
    student_lib = make_student(teacher, layers)
    student_hf = make_student(teacher, layers)
    same = all(
        torch.equal(a, b)
        for a, b in zip(
            student_lib.state_dict().values(), student_hf.state_dict().values(), strict=True
        )
    )
    assert same, "the two students must start from identical weights"
    n_params = sum(p.numel() for p in student_lib.parameters())
    print(
        f"data: {len(tokens['train'])} training examples x {args.epochs} epochs, "
        f"{len(tokens['validation'])} validation rows (distill_lib only, time subtracted); "
        f"inputs {[c for c in tokens['train'].column_names if c != 'label']}; "
        f"student {len(layers)} layers {layers}, {n_params / 1e6:.1f}M parameters, identical "
        f"initial weights: {same}"
    )

    # --- padding: what each side's batches cost in tokens ------------------------------------
    from torch.utils.data import DataLoader, RandomSampler
    from transformers import DataCollatorWithPadding

    loader_lib = make_dataloader(  # what distill() uses
        tokens["train"],
        tokenizer,
        args.batch_size,
        shuffle=True,
        group_by_length=True,
        seed=args.seed,
    )
    loader_hf = DataLoader(  # what the Trainer uses by default: random order, pad per batch
        tokens["train"].rename_column("label", "labels"),
        batch_size=args.batch_size,
        sampler=RandomSampler(tokens["train"], generator=torch.Generator().manual_seed(args.seed)),
        collate_fn=DataCollatorWithPadding(tokenizer),
    )
    pad_lib, pad_hf = padding_stats(loader_lib), padding_stats(loader_hf)
    print(
        f"padding: length-grouped batches mean width {pad_lib['mean_width']:.1f}, "
        f"{pad_lib['padding_fraction']:.1%} padding; random batches mean width "
        f"{pad_hf['mean_width']:.1f}, {pad_hf['padding_fraction']:.1%} padding"
    )

    # --- student step FLOP/s vs matmul (also warms up the process for both runs) -------------
    batch = median_batch(loader_lib, args.batch_size)
    step_full = student_step_rate(teacher, layers, batch, args, cls_only=False)
    step = student_step_rate(teacher, layers, batch, args, cls_only=True)
    mm = matmul_gflops(args.matmul_size, args.matmul_repeats)
    for s in (step, step_full):
        s["fwd_bwd_pct_of_matmul"] = 100 * s["fwd_bwd_gflops"] / mm["gflops"]
        s["with_clip_adamw_pct_of_matmul"] = 100 * s["with_clip_adamw_gflops"] / mm["gflops"]
    print(
        f"matmul {mm['n']}x{mm['n']} fp32: {mm['gflops']:.1f} GFLOP/s "
        f"(median {mm['median_s'] * 1e3:.1f} ms)"
    )
    print(
        f"student step, full last layer: {step_full['flops'] / 1e9:.2f} GFLOP in "
        f"{step_full['fwd_bwd_median_s'] * 1e3:.0f} ms = {step_full['fwd_bwd_gflops']:.1f} "
        f"GFLOP/s = {step_full['fwd_bwd_pct_of_matmul']:.0f}% of matmul (closed form "
        f"{step_full['flops_analytic'] / 1e9:.2f} GFLOP, "
        f"{step_full['flops'] / step_full['flops_analytic']:.4f}x); first-token-only last "
        f"layer (below): {step['flops'] / step_full['flops']:.3f}x the FLOPs, "
        f"{step_full['fwd_bwd_median_s'] / step['fwd_bwd_median_s']:.2f}x faster"
    )
    arch = step["student"]
    print(
        f"student step (fwd+loss+bwd) on batch {tuple(step['batch_shape'])}: "
        f"{step['flops'] / 1e9:.2f} GFLOP in {step['fwd_bwd_median_s'] * 1e3:.0f} ms "
        f"= {step['fwd_bwd_gflops']:.1f} GFLOP/s = {step['fwd_bwd_pct_of_matmul']:.0f}% of matmul"
    )
    print(
        f"  FLOPs counted by FlopCounterMode (L={arch['layers']}, H={arch['hidden']}, "
        f"I={arch['intermediate']}, {arch['attn_implementation']} attention)"
    )
    print(
        f"  with grad clipping + AdamW step: {step['with_clip_adamw_median_s'] * 1e3:.0f} ms "
        f"= {step['with_clip_adamw_gflops']:.1f} GFLOP/s "
        f"= {step['with_clip_adamw_pct_of_matmul']:.0f}% of matmul"
    )

    breakdown = None
    if args.breakdown:
        batch_hf = median_batch(loader_hf, args.batch_size)
        breakdown = step_breakdown(teacher, layers, batch, batch_hf, args)

    # --- the two timed runs ----------------------------------------------------------------
    results: dict[str, Any] = {
        "command": command,
        "machine": machine,
        "settings": settings,
        "padding": {"distill_lib": pad_lib, "hf_trainer": pad_hf},
        "matmul": mm,
        "student_step": step,
        "student_step_full_last_layer": step_full,
        "step_breakdown_s": breakdown,
    }
    if args.only in ("both", "distill_lib"):
        lib = run_distill_lib(student_lib, teacher, tokens, tokenizer, args)
        results["distill_lib"] = lib
        print(
            f"distill_lib: {lib['examples_per_s']:.1f} examples/s  ({lib['timed_s']:.1f} s timed "
            f"= {lib['wall_s']:.1f} s wall - {lib['validation_s_subtracted']:.1f} s validation; "
            f"teacher-logit pass {lib['teacher_logits_s']:.1f} s, training loop "
            f"{lib['train_loop_s']:.1f} s)  final-epoch train loss "
            f"{lib['final_epoch_train_loss']:.4f}; {_other(lib)}"
        )
    if args.only == "both" and not args.no_lever_runs:
        for lever, what in LEVERS.items():
            off = run_distill_lib(make_student(teacher, layers), teacher, tokens, tokenizer, args,
                                  **{lever: False})
            results[f"distill_lib_without_{lever}"] = off
            print(
                f"distill_lib without {what} ({lever}=False): {off['examples_per_s']:.1f} "
                f"examples/s ({off['timed_s']:.1f} s timed)  final-epoch train loss "
                f"{off['final_epoch_train_loss']:.4f}; {_other(off)}"
            )
    if args.only in ("both", "hf"):
        hf = run_hf_trainer(student_hf, teacher, tokens, tokenizer, args)
        results["hf_trainer"] = hf
        print(
            f"HF Trainer:  {hf['examples_per_s']:.1f} examples/s  ({hf['timed_s']:.1f} s timed, "
            f"teacher on every step, {hf['optimizer']}, {hf['collator']})  final-epoch train "
            f"loss {hf['final_epoch_train_loss']:.4f}; {_other(hf)}"
        )
        careful = run_hf_trainer(make_student(teacher, layers), teacher, tokens, tokenizer, args,
                                 careful=True)
        results["hf_trainer_careful"] = careful
        print(
            f"HF Trainer, careful configuration (length-grouped batches, fused AdamW, dynamic "
            f"padding): {careful['examples_per_s']:.1f} examples/s ({careful['timed_s']:.1f} s "
            f"timed)  final-epoch train loss {careful['final_epoch_train_loss']:.4f}; "
            f"{_other(careful)}"
        )
    results["machine"]["loadavg_at_end"] = os.getloadavg()
    if args.only == "both":
        lib = results["distill_lib"]
        ratio = lib["examples_per_s"] / results["hf_trainer"]["examples_per_s"]
        results["speedup"] = ratio
        results["speedup_vs_careful"] = (
            lib["examples_per_s"] / results["hf_trainer_careful"]["examples_per_s"])
        # A comparison computes the teacher's logits once per teacher and data and keeps them
        # (distill_lib.inference.teacher_logits); a later run of the same data reads them.
        cached = len(tokens["train"]) * args.epochs / (lib["timed_s"] - lib["teacher_logits_s"])
        results["examples_per_s_logits_cached"] = cached
        results["speedup_logits_cached"] = cached / results["hf_trainer"]["examples_per_s"]
        for lever in LEVERS:
            if f"distill_lib_without_{lever}" in results:
                before = results[f"distill_lib_without_{lever}"]["examples_per_s"]
                results[f"speedup_without_{lever}"] = (
                    before / results["hf_trainer"]["examples_per_s"])
                results[f"lever_{lever}"] = results["distill_lib"]["examples_per_s"] / before
    results["benchmark_wall_s"] = time.perf_counter() - started
    print(f"whole benchmark: {results['benchmark_wall_s']:.0f} s wall")
    if args.json:
        store_results(args.json, args.pair, results)
        print(f"results written to {args.json} under {args.pair!r}")
    if args.only == "both":
        for lever, what in LEVERS.items():
            if f"lever_{lever}" in results:
                print(
                    f"lever, {what}: {results[f'lever_{lever}']:.2f}x (distill_lib without it / "
                    f"HF Trainer: {results[f'speedup_without_{lever}']:.2f}x)"
                )
        share = results["student_step"]["fwd_bwd_pct_of_matmul"]
        print(
            f"speedup distill_lib / HF Trainer, careful configuration: "
            f"{results['speedup_vs_careful']:.2f}x; with the teacher's logits already cached "
            f"(this run's time less its teacher-logit pass): "
            f"{results['speedup_logits_cached']:.2f}x vs the Trainer's defaults; student step at "
            f"{share:.0f}% of the in-process matmul rate"
        )
        print(f"speedup distill_lib / HF Trainer: {results['speedup']:.2f}x")
    return results


if __name__ == "__main__":
    main()
