"""A student you can use: size, latency and accuracy per model, measured once per comparison.

After the runs, :func:`measure_footprint` measures, on the run's device:

* the **teacher**;
* the **student** (any strategy: every strategy's student has the same shape, so one
  measurement serves them all; which layers were copied changes the weights, not the work);
* the **DistilBERT student** (``distilbert_strategies``; BERT-family teachers only);
* the **best student in int8**: runs keep no weights, so the best strategy's first seed is
  trained again (with the thread count its run had, so on the same machine type it is the same
  run: the file records whether its test accuracy matched the committed one), then its linear
  layers are quantised with ``torch.ao.quantization.quantize_dynamic`` (int8 weights, activations
  quantised on the fly; CPU only; PyTorch deprecates this API in favour of ``torchao``) and it
  is evaluated on the test split.

For each: parameters, size on disk (``save_pretrained`` safetensors; the int8 model's
``state_dict`` with ``torch.save``, as safetensors cannot hold packed int8 weights), and latency
at batch 1 and batch 32 (the first test sentences, dynamically padded): mean and standard
deviation of ``repeats`` timed forward passes after ``warmup`` untimed ones, with the thread
count stated. Everything goes to ``footprint.json``, keyed so that a re-run measures nothing
new. :func:`footprint_table` joins it with the accuracies of the runs (mean over seeds and a
bootstrap interval); :func:`architecture_table` pairs each DistilBERT run with its same-class
run. The timings are only as good as the machine was idle: the file keeps the load average.
"""

from __future__ import annotations

import copy
import os
import platform
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from ..inference import evaluate_model
from ..stats import bootstrap_accuracy_ci, paired_bootstrap
from .evaluation import latency_inputs, timed_passes
from .keys import run_key
from .results import Results, save_frames, wrap_markdown

FOOTPRINT_FILE = "footprint.json"
BATCHES = (1, 32)
WARMUP = 3
REPEATS = {1: 30, 32: 10}


# -- measuring one model ------------------------------------------------------------------------


def latency_batches(tokens: Any, tokenizer: Any, device: torch.device) -> dict[int, dict]:
    """The inputs timed at each batch size: the first test sentences, padded to the longest."""
    return {size: latency_inputs(tokens, tokenizer, size, device) for size in BATCHES}


def time_forward(model: Any, inputs: dict, warmup: int = WARMUP, repeats: int = 10
                 ) -> dict[str, float]:
    """Mean and standard deviation (ms) of ``repeats`` forward passes after ``warmup``."""
    times = 1000 * np.asarray(timed_passes(model, inputs, warmup, repeats))
    return {"mean_ms": float(times.mean()), "sd_ms": float(times.std(ddof=1)),
            "repeats": repeats}


def size_on_disk_mb(model: Any) -> float:
    """Megabytes (10^6 bytes) of the model's weight files, written to a temporary folder."""
    with tempfile.TemporaryDirectory() as folder:
        if is_quantized(model):
            torch.save(model.state_dict(), Path(folder) / "model.pt")
        else:
            model.save_pretrained(folder, safe_serialization=True)
        files = [p for p in Path(folder).iterdir() if p.suffix in (".safetensors", ".pt")]
        return sum(p.stat().st_size for p in files) / 1e6


def is_quantized(model: Any) -> bool:
    """Whether ``model`` holds dynamically quantised linear layers."""
    from torch.ao.nn.quantized.dynamic import Linear as DynamicLinear

    return any(isinstance(m, DynamicLinear) for m in model.modules())


def quantize_int8(model: Any) -> Any:
    """A CPU copy of ``model`` with every ``nn.Linear`` in dynamic int8 (the original is kept).

    PyTorch warns that this API is deprecated (in favour of ``torchao``); those warnings are
    silenced here, since the method is what the comparison measures.
    """
    from torch.ao.quantization import quantize_dynamic

    cpu = copy.deepcopy(model).cpu().eval()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*deprecat.*")
        return quantize_dynamic(cpu, {torch.nn.Linear}, dtype=torch.qint8)


def measure_model(model: Any, batches: dict[int, dict], params: int | None = None
                  ) -> dict[str, Any]:
    """Parameters, size on disk and latency per batch size of one model."""
    device = next(iter(batches[BATCHES[0]].values())).device
    if is_quantized(model) and device.type != "cpu":
        batches = {b: {k: v.cpu() for k, v in x.items()} for b, x in batches.items()}
    return {
        "params": params if params is not None else sum(p.numel() for p in model.parameters()),
        "size_mb": size_on_disk_mb(model),
        "device": "cpu" if is_quantized(model) else str(device),
        "latency": {str(b): time_forward(model, batches[b], repeats=REPEATS[b]) for b in BATCHES},
    }


# -- the comparison's footprint -----------------------------------------------------------------


def footprint_path(results_or_dir: Results | str | Path) -> Path:
    root = getattr(results_or_dir, "output_dir", results_or_dir)
    return Path(root) / FOOTPRINT_FILE


def measure_footprint(exp: Any, results: Results, threads: int) -> dict[str, Any]:
    """Measure (or read back) the comparison's footprint; written to ``footprint.json``.

    Args:
        exp: the :class:`~distill_lib.experiment.runner.Experiment` (teacher, data, store).
        results: its main runs (which strategy is best).
        threads: the threads the best run trained with, where its JSON does not say (it is
            trained again with as many).
    """
    best = results.best
    if best is None:
        raise ValueError("no strategy to measure: the comparison has no student runs")
    job = exp.job(best, exp.config.seeds[0])
    key = run_key("footprint", 1, job.key, exp.config.distilbert_strategies, BATCHES,
                  REPEATS, WARMUP)
    saved = exp.store.read_json(footprint_path(exp.config.output_dir))
    if isinstance(saved, dict) and saved.get("key") == key:
        return saved
    record = exp.store.read_run(job) or {}
    threads = record.get("threads", threads)  # (runs before it was recorded: the default)
    exp.log(f"footprint: training {job.label} seed {job.seed} again for its weights "
            f"({threads} thread{'s' if threads > 1 else ''}, as its run), then timing models")
    model, seconds = _train_again(exp, job, threads)
    fp32 = _evaluated(model, exp)
    int8_model = quantize_int8(model)
    int8 = _evaluated(int8_model, exp)
    batches = latency_batches(exp.tokens, exp.tokenizer, next(model.parameters()).device)
    load = list(os.getloadavg()) if hasattr(os, "getloadavg") else None  # as timing begins
    models = {"teacher": measure_model(exp.teacher, batches),
              "student": measure_model(model, batches)}
    if exp.config.distilbert_strategies:
        from ..student import make_student

        models["distilbert"] = measure_model(
            make_student(exp.teacher, job.layers, architecture="distilbert"), batches)
    models["int8"] = measure_model(int8_model, batches,
                                   params=sum(p.numel() for p in model.parameters()))
    out = {
        "key": key, "threads": torch.get_num_threads(), "cpu": _cpu_name(),
        "load_average": load,
        "batches": list(BATCHES), "warmup": WARMUP, "repeats": {str(k): v for k, v in
                                                               REPEATS.items()},
        "best": {"name": best, "seed": job.seed, "layers": job.layers, "key": job.key,
                 "train_threads": threads, "train_seconds": seconds,
                 "recorded_accuracy": record.get("test", {}).get("accuracy"),
                 "retrained_accuracy": fp32["accuracy"], "predictions": fp32["predictions"]},
        "int8": {"accuracy": int8["accuracy"], "predictions": int8["predictions"]},
        "models": models,
    }
    exp.store.write(footprint_path(exp.config.output_dir), out)
    return out


def _train_again(exp: Any, job: Any, threads: int) -> tuple[Any, float]:
    """``job``'s student trained again, with ``threads`` threads as its run had."""
    from ..student import make_student
    from ..train import distill

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    start = time.perf_counter()
    try:
        student = make_student(exp.teacher, job.layers, init=job.init, seed=job.seed,
                               architecture=job.architecture)
        result = distill(student, exp.teacher, exp.tokens,
                         job.train_config.replace(progress=False), tokenizer=exp.tokenizer)
    finally:
        torch.set_num_threads(before)
    return result.model.eval(), time.perf_counter() - start


def _evaluated(model: Any, exp: Any) -> dict[str, Any]:
    device = torch.device("cpu") if is_quantized(model) else None
    return evaluate_model(model, exp.tokens["test"], tokenizer=exp.tokenizer,
                          batch_size=exp.config.student_train.eval_batch_size, device=device,
                          return_predictions=True)


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def read_footprint(results: Results) -> dict[str, Any] | None:
    """The folder's ``footprint.json`` if it belongs to these results' best run, else None."""
    import json

    path = footprint_path(results)
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(saved, dict) or not isinstance(saved.get("best"), dict):
        return None
    best, runs = saved["best"], results.runs
    mine = runs[(runs["name"] == best.get("name")) & (runs["seed"] == best.get("seed"))]
    if best.get("name") != results.best or mine.empty or (
            best.get("recorded_accuracy") != float(mine["test_accuracy"].iloc[0])):
        return None  # measured for another best run: stale
    return saved


# -- tables ---------------------------------------------------------------------------------------


def _labels(results: Results) -> np.ndarray:
    return np.asarray(results.majority["test_labels"])


def _distilbert_runs(results: Results, name: str) -> list[dict[str, Any]]:
    return sorted((r for r in results.axis_runs
                   if r.get("architecture") == "distilbert" and r["name"] == name),
                  key=lambda r: r["seed"])


def _correct(records_or_predictions: list[Any], labels: np.ndarray) -> np.ndarray:
    preds = [r["test"]["predictions"] if isinstance(r, dict) else r
             for r in records_or_predictions]
    return np.asarray(preds) == labels


def architecture_table(results: Results) -> pd.DataFrame:
    """Each DistilBERT run's strategy: same-class and DistilBERT mean accuracy over the shared
    seeds, and ``diff`` = DistilBERT - same class with a paired bootstrap interval and p."""
    labels, rows = _labels(results), []
    for name in results.config.distilbert_strategies:
        distil = _distilbert_runs(results, name)
        same = results.runs[results.runs["name"] == name]
        seeds = sorted(set(same["seed"]) & {r["seed"] for r in distil})
        if not seeds:
            continue
        same_preds = [same[same["seed"] == s]["predictions"].iloc[0] for s in seeds]
        distil = [r for r in distil if r["seed"] in seeds]
        a, b = _correct(distil, labels), _correct(same_preds, labels)
        test = paired_bootstrap(a, b, n_resamples=results.config.bootstrap_resamples)
        rows.append({"name": name, "n_seeds": len(seeds), "same_accuracy": float(b.mean()),
                     "distilbert_accuracy": float(a.mean()), **test})
    return pd.DataFrame(rows, columns=["name", "n_seeds", "same_accuracy", "distilbert_accuracy",
                                       "diff", "ci_low", "ci_high", "p_value"])


def footprint_table(results: Results) -> pd.DataFrame:
    """One row per model: ``model``, ``layers``, ``params``, ``size_mb``, latency mean and sd
    at each batch size (``b1_ms``, ``b1_sd``, ``b32_ms``, ``b32_sd``), ``accuracy`` with
    ``ci_low``/``ci_high`` and ``runs`` (how many runs the accuracy averages); a data-driven
    strategy that picked a fixed one's layers is that row. Empty without a
    ``footprint.json`` for the current best strategy."""
    fp = read_footprint(results)
    if fp is None:
        return pd.DataFrame()
    labels, n = _labels(results), results.config.bootstrap_resamples
    models = fp["models"]
    teacher = results.teacher["test"]
    rows = [_row("teacher", f"all {len(results.teacher['layers'])}", models["teacher"],
                 _single(teacher["predictions"], labels, n))]
    for _, s in results.summary[results.summary["kind"] == "strategy"].iterrows():
        if results.twin(s["name"]) is not None:
            continue  # a data-driven map that is a fixed one: that row stands for both
        rows.append(_row(s["name"], _layers_text(s["layers"]), models["student"],
                         (s["mean_accuracy"], s["ci_low"], s["ci_high"], int(s["n_seeds"]))))
    for name in results.config.distilbert_strategies:
        distil = _distilbert_runs(results, name)
        if distil and "distilbert" in models:
            c = _correct(distil, labels)
            low, high = bootstrap_accuracy_ci(c, n_resamples=n) if len(distil) > 1 else (
                bootstrap_accuracy_ci(c[0], n_resamples=n))
            rows.append(_row(f"{name} (DistilBERT)", _layers_text(distil[0]["layers"]),
                             models["distilbert"], (float(c.mean()), low, high, len(distil))))
    best = fp["best"]
    rows.append(_row(f"{best['name']} (int8, seed {best['seed']})", _layers_text(best["layers"]),
                     models["int8"], _single(fp["int8"]["predictions"], labels, n)))
    return pd.DataFrame(rows)


def _layers_text(layers: Any) -> str:
    return layers if isinstance(layers, str) else str([int(i) for i in layers])


def _single(predictions: list[int], labels: np.ndarray, n: int) -> tuple[float, float, float, int]:
    c = np.asarray(predictions) == labels
    low, high = bootstrap_accuracy_ci(c, n_resamples=n)
    return float(c.mean()), low, high, 1


def _row(model: str, layers: str, m: dict[str, Any], acc: tuple[float, float, float, int]
         ) -> dict[str, Any]:
    lat = m["latency"]
    return {"model": model, "layers": layers, "params": m["params"], "size_mb": m["size_mb"],
            "b1_ms": lat["1"]["mean_ms"], "b1_sd": lat["1"]["sd_ms"],
            "b32_ms": lat["32"]["mean_ms"], "b32_sd": lat["32"]["sd_ms"],
            "accuracy": acc[0], "ci_low": acc[1], "ci_high": acc[2], "runs": acc[3],
            "device": m["device"]}


# -- words --------------------------------------------------------------------------------------


def footprint_markdown(table: pd.DataFrame) -> str:
    """:func:`footprint_table` as Markdown (params in millions, latency mean ± sd in ms)."""
    lines = ["| model | teacher layers | params (M) | size (MB) | device | batch 1 (ms) "
             "| batch 32 (ms) | accuracy % [95% CI] | runs |",
             "|---|---|---:|---:|---|---:|---:|---:|---:|"]
    for _, r in table.iterrows():
        lines.append(
            f"| {r['model']} | {r['layers']} | {r['params'] / 1e6:.1f} | {r['size_mb']:.0f} | "
            f"{r['device']} | {r['b1_ms']:.1f} ± {r['b1_sd']:.1f} | "
            f"{r['b32_ms']:.0f} ± {r['b32_sd']:.0f} | "
            f"{100 * r['accuracy']:.1f} [{100 * r['ci_low']:.1f}, {100 * r['ci_high']:.1f}] | "
            f"{r['runs']} |")
    return "\n".join(lines)


def _p(p: float) -> str:
    return f"p = {p:.2f}" if p >= 0.01 else "p < 0.01"


def _versus(diff: float, low: float, high: float) -> str:
    """"higher"/"lower" only where the interval excludes 0; else the run cannot tell."""
    if low > 0:
        return "higher"
    if high < 0:
        return "lower"
    return "no different within the interval"


def footprint_lines(results: Results) -> list[str]:
    """Generated sentences: how the timing was measured, and the int8 verdict."""
    fp = read_footprint(results)
    if fp is None:
        return []
    best, labels = fp["best"], _labels(results)
    load = fp.get("load_average")
    lines = [
        f"Measured on {fp['cpu']} with {fp['threads']} thread"
        f"{'s' if fp['threads'] > 1 else ''}"
        + (f" (load average {load[0]:.2f} when the timing began)" if load else "")
        + f": {fp['warmup']} untimed passes, then the mean ± sd of {fp['repeats']['1']} passes "
        f"at batch 1 and {fp['repeats']['32']} at batch 32 (the first test sentences; a plain "
        "`transformers` forward, no speed lever). Every strategy's student has the same shape, "
        "so one measurement serves them all; sizes are the safetensors files, the int8 "
        "model's a `torch.save` state dict."]
    same = best["recorded_accuracy"] is not None and abs(
        best["retrained_accuracy"] - best["recorded_accuracy"]) < 5e-5
    recorded = ("" if best["recorded_accuracy"] is None else
                f" (its recorded run: {100 * best['recorded_accuracy']:.2f}%: "
                + ("the same to four decimals)" if same else "not the same run: the machine, "
                   "thread count or teacher differs; the int8 comparison below uses the "
                   "retrained one)"))
    test = paired_bootstrap(_correct([fp["int8"]["predictions"]], labels),
                            _correct([best["predictions"]], labels),
                            n_resamples=results.config.bootstrap_resamples)
    m = fp["models"]
    lines.append(
        f"The best student, `{best['name']}` seed {best['seed']}, trained again for its "
        f"weights, scored {100 * best['retrained_accuracy']:.2f}%{recorded}. In int8 "
        f"(`quantize_dynamic`) it scores {100 * fp['int8']['accuracy']:.2f}%, "
        f"{_versus(test['diff'], test['ci_low'], test['ci_high'])} "
        f"({100 * test['diff']:+.1f} points, 95% CI {100 * test['ci_low']:+.1f} to "
        f"{100 * test['ci_high']:+.1f}, {_p(test['p_value'])}); its file is "
        f"{m['int8']['size_mb']:.0f} MB instead of {m['student']['size_mb']:.0f} MB, and "
        f"batch 32 takes {m['int8']['latency']['32']['mean_ms']:.0f} ms instead of "
        f"{m['student']['latency']['32']['mean_ms']:.0f} ms"
        + ("." if m["int8"]["device"] == m["student"]["device"] else
           f" (int8 on {m['int8']['device']}, the student on {m['student']['device']})."))
    return lines


def architecture_lines(results: Results) -> list[str]:
    """One generated sentence per DistilBERT arm: its accuracy against the same-class one."""
    lines = []
    for _, r in architecture_table(results).iterrows():
        lines.append(
            f"The DistilBERT student (`{r['name']}`'s layers, {r['n_seeds']} seeds) scored "
            f"{100 * r['distilbert_accuracy']:.2f}% against {100 * r['same_accuracy']:.2f}% "
            f"for the same-class student: {_versus(r['diff'], r['ci_low'], r['ci_high'])} "
            f"({100 * r['diff']:+.1f} points, 95% CI {100 * r['ci_low']:+.1f} to "
            f"{100 * r['ci_high']:+.1f}, {_p(r['p_value'])}, paired bootstrap).")
    return lines


def footprint_story(results: Results, name: str) -> str:
    """The README part: table, bubble figure and sentences ("" without a footprint)."""
    table = footprint_table(results)
    if table.empty:
        return ""
    return "\n\n".join([
        "#### Size, latency and accuracy",
        f"![accuracy against latency, size as area](figures/{name}-footprint.png)",
        footprint_markdown(table),
        *[wrap_markdown(line) for line in footprint_lines(results) + architecture_lines(results)],
    ])


def save_footprint_tables(results: Results) -> list[Path]:
    """Write ``footprint.csv/.md`` and ``architecture.csv/.md`` (where they have rows)."""
    return save_frames(results.output_dir, {"footprint": footprint_table(results),
                                             "architecture": architecture_table(results)})
