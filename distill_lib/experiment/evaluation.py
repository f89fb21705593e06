"""Evaluating a trained model for a comparison: test metrics, cross-domain sets, latency."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch
from datasets import DatasetDict

from ..data import make_dataloader
from ..inference import evaluate_model
from ..student import encoder_layers

LATENCY_BATCH = 32


def evaluate_all(
    model, tokens: DatasetDict, extra: dict[str, Any], tokenizer, batch: int, precision: str = "no"
):
    """Test metrics with predictions and probabilities, and accuracy/F1/counts on every
    cross-domain set.

    ``precision``: from :func:`distill_lib.device.placement` (``"no"`` is fp32).
    """
    test = evaluate_model(
        model, tokens["test"], tokenizer=tokenizer, batch_size=batch, return_predictions=True,
        precision=precision, return_probabilities=True,
    )
    cross = {}
    for name, dataset in extra.items():
        r = evaluate_model(model, dataset, tokenizer=tokenizer, batch_size=batch,
                           precision=precision)
        cross[name] = {k: r[k] for k in ("accuracy", "macro_f1", "predicted_counts")}
    return test, cross


def validation_probabilities(model, tokens: DatasetDict, tokenizer, batch: int,
                             precision: str = "no") -> list[list[float]]:
    """The class probabilities of ``model`` on every validation sentence, saved with each run
    so that ensembles can be chosen or weighted without looking at the test set (the tables
    of :mod:`.ensembles` choose by the best epoch's validation accuracy, the same model's)."""
    return evaluate_model(model, tokens["validation"], tokenizer=tokenizer, batch_size=batch,
                          precision=precision, return_probabilities=True)["probabilities"]


def latency_inputs(tokens: DatasetDict, tokenizer, batch_size: int, device) -> dict:
    """The first ``batch_size`` test sentences, padded to the longest, on ``device`` (the
    same inputs for every model timed)."""
    test = tokens["test"]
    loader = make_dataloader(test.select(range(min(batch_size, len(test)))), tokenizer,
                             batch_size)
    return {k: v.to(device) for k, v in next(iter(loader)).items() if k != "labels"}


@torch.inference_mode()
def timed_passes(model, inputs: dict, warmup: int, repeats: int) -> list[float]:
    """Seconds of each of ``repeats`` forward passes on ``inputs``, after ``warmup`` untimed
    ones (in eval mode; CUDA synchronised around each pass)."""
    cuda = next(iter(inputs.values())).device.type == "cuda"
    was_training = model.training
    model.eval()
    for _ in range(warmup):
        model(**inputs)
    times = []
    for _ in range(repeats):
        if cuda:
            torch.cuda.synchronize()
        start = time.perf_counter()
        model(**inputs)
        if cuda:
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    model.train(was_training)
    return times


def measure_latency(model, tokens: DatasetDict, tokenizer, batch_size: int = LATENCY_BATCH,
                    repeats: int = 5) -> float:
    """Median seconds to classify one batch of test sentences (the same batch for every model)."""
    inputs = latency_inputs(tokens, tokenizer, batch_size, next(model.parameters()).device)
    return float(np.median(timed_passes(model, inputs, warmup=1, repeats=repeats)))


def measure_efficiency(teacher, student, tokens: DatasetDict, tokenizer) -> dict[str, Any]:
    """Parameters and measured latency (median of 5 batches of 32) of teacher vs student."""
    t_teacher = measure_latency(teacher, tokens, tokenizer)
    t_student = measure_latency(student, tokens, tokenizer)
    p_teacher = sum(p.numel() for p in teacher.parameters())
    p_student = sum(p.numel() for p in student.parameters())
    return {
        "device": str(next(teacher.parameters()).device),
        "batch_size": LATENCY_BATCH,
        "teacher_layers": len(encoder_layers(teacher)),
        "student_layers": len(encoder_layers(student)),
        "teacher_params": p_teacher,
        "student_params": p_student,
        "param_ratio": p_teacher / p_student,
        "teacher_latency_s": t_teacher,
        "student_latency_s": t_student,
        "speedup": t_teacher / t_student,
    }


def measure_teacher(store: Any, config: Any, teacher, tokens: DatasetDict, tokenizer,
                    log: Any, used: int = 0) -> tuple[dict[str, Any], bool]:
    """The fine-tuned teacher's layer measurements behind the data-driven strategies, and
    whether they were measured now (False: read from the store).

    Block influence and CKA on ``calibration_size`` training sentences (a fixed subset),
    drop sensitivity on the validation split (:func:`distill_lib.selection.measure_layers`).
    Measured once per teacher and kept in ``layer-scores-<teacher key>-<size>.json``.

    ``used``: finished data-driven runs in the folder. The saved measurements chose their
    layers, so while any exist they are kept even when this teacher's weights differ from
    the measured one's (a teacher fine-tuned again on another machine differs in float
    rounding, and may rank the layers otherwise): one line says so and how to measure again.
    """
    from ..inference import fingerprint_model
    from ..selection import measure_layers
    from .prepare import _subset

    path = store.layer_scores_path(config)
    fingerprint = fingerprint_model(teacher)
    saved = store.read_json(path, _check_layer_scores)
    if saved is not None and saved.get("teacher_fingerprint") == fingerprint:
        return saved, False
    if saved is not None and used:
        log(f"note: the teacher's weights differ from those its layer scores were measured on "
            f"(fine-tuned again, e.g. on another machine); keeping {path.name}, which chose "
            f"the layers of {used} finished data-driven run(s). To measure again, delete it "
            "and those runs.")
        return saved, False
    start = time.perf_counter()
    calibration = _subset(tokens["train"], config.calibration_size, 0, "calibration_size",
                          lambda *_: None)
    measured = measure_layers(
        teacher, calibration, tokens["validation"], tokenizer=tokenizer,
        batch_size=config.teacher_train.eval_batch_size,
    )
    measured["teacher_fingerprint"] = fingerprint
    measured["seconds"] = time.perf_counter() - start
    store.write(path, measured)
    log(f"teacher layers measured in {measured['seconds']:.0f} s (influence and CKA on "
        f"{len(calibration)} training sentences, drop on {len(tokens['validation'])} "
        "validation sentences)")
    return measured, True


def _check_layer_scores(record: Any) -> str | None:
    """Why ``record`` is not a layer-scores JSON, or None."""
    needed = ("n_layers", "block_influence", "cka", "drop", "calibration_size")
    if not isinstance(record, dict):
        return "it is not a JSON object"
    missing = [k for k in needed if k not in record]
    return f"it lacks {', '.join(missing)}" if missing else None
