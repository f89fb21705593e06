"""One run folder's results as a Markdown section: every number and every verdict generated.

:func:`section` turns a :class:`~distill_lib.experiment.results.Results` (from
:func:`~distill_lib.experiment.load_results`, the run JSONs alone) into the text the README shows
for that run: what was run, the figure, the summary table with its legend, and one bullet per
finding. A sentence that states a direction ("grows", "smaller", "beats") takes its word from
the numbers it prints (:func:`trend`, :func:`compare_word`, :meth:`Comparison.verdict`), so
when a run changes the words change with it.

:func:`replace_section` puts such a section between the markers ``<!-- generated:NAME:start -->``
and ``<!-- generated:NAME:end -->`` of a file (``distill-lib report --readme README.md``), and
:func:`read_section` reads it back, so a test can compare what is committed with what the JSONs
give today.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import pandas as pd

from .._io import atomic_write_text
from ..layers import DATA_DRIVEN, STRATEGIES, choose_layers, select_layers
from .axes import axes_story
from .beyond import beyond_story
from .footprint import footprint_story
from .results import ALPHA, CI_METHOD, METHOD, Comparison, Results, wrap_markdown
from .store import RunStore

# -- markers and files --------------------------------------------------------------------------


def markers(name: str) -> tuple[str, str]:
    """The start and end marker lines of run folder ``name``'s generated section."""
    return f"<!-- generated:{name}:start -->", f"<!-- generated:{name}:end -->"


def _marker_span(text: str, name: str) -> tuple[int, int]:
    """Where the section of ``name`` starts (after the start marker's line) and ends (the end
    marker); a ValueError naming both markers when they are not there exactly once, in order."""
    start, end = markers(name)
    if text.count(start) != 1 or text.count(end) != 1 or text.index(start) > text.index(end):
        raise ValueError(
            f"needs the marker pair {start} ... {end} (each once, on its own line, start first); "
            f"add both lines where the {name} run's results go"
        )
    return text.index(start) + len(start), text.index(end)


def read_section(text: str, name: str) -> str:
    """The text between ``name``'s markers, without the newlines next to them."""
    begin, end = _marker_span(text, name)
    return text[begin:end].strip("\n")


def replace_section(text: str, name: str, body: str) -> str:
    """``text`` with the part between ``name``'s markers replaced by ``body``."""
    begin, end = _marker_span(text, name)
    return f"{text[:begin]}\n{body.strip(chr(10))}\n{text[end:]}"


def check_markers(path: str | Path, name: str) -> None:
    """Raise a one-line ValueError if ``path`` cannot be read or lacks ``name``'s markers."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as err:
        raise ValueError(f"--readme {path}: cannot read it ({err.strerror})") from None
    try:
        _marker_span(text, name)
    except ValueError as err:
        raise ValueError(f"--readme {path} {err}") from None


def write_section(path: str | Path, results: Results, name: str | None = None) -> Path:
    """Rewrite the generated section of ``results`` in the file ``path``, atomically."""
    name = name or folder_name(results)
    text = Path(path).read_text(encoding="utf-8")
    return atomic_write_text(path, replace_section(text, name, section(results, name)))


def folder_name(results: Results) -> str:
    """The run folder's name (``standard`` for ``runs/standard``): the markers' name."""
    return Path(results.output_dir).resolve().name


# -- small formatting helpers -------------------------------------------------------------------


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _points(x: float) -> str:
    return f"{100 * x:+.1f} points"


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def _lr(x: float) -> str:
    """``1e-4``, ``5e-5``, ``0.001``: a learning rate as people write it."""
    return re.sub(r"e-0*(\d)", r"e-\1", f"{x:.0e}") if x < 1e-3 else f"{x:g}"


def _names(names: list[str]) -> str:
    return ", ".join(f"`{n}`" for n in names)


def _wrap(text: str, first: str = "", rest: str = "") -> str:
    return wrap_markdown(text, first, rest)


def _bullet(text: str, level: int = 0) -> str:
    pad = "  " * level
    return _wrap(text, f"{pad}- ", f"{pad}  ")


def trend(values: list[float]) -> str:
    """How the size of a gap moves from its first to its last value, in one word.

    ``values`` are the gap in points at each step, compared as printed (0.1 points):
    ``grows``, ``shrinks``, ``stays the same``, or ``changes sign``.
    """
    first, last = round(values[0], 1), round(values[-1], 1)
    if first * last < 0:
        return "changes sign"
    if abs(last) > abs(first):
        return "grows"
    return "shrinks" if abs(last) < abs(first) else "stays the same"


def compare_word(value: float, reference: float) -> str:
    """``larger``, ``smaller`` or ``the same``: ``value`` against ``reference`` as printed."""
    a, b = round(value, 1), round(reference, 1)
    return "larger" if a > b else "smaller" if a < b else "the same"


# -- the section --------------------------------------------------------------------------------


def section(results: Results, name: str | None = None) -> str:
    """The whole generated section of one run folder (Markdown, no markers)."""
    name = name or folder_name(results)
    out = results.config.output_dir
    head = (f"<!-- Generated by `distill-lib report --output-dir {out} --readme README.md` from "
            f"the JSONs in {out}/; change distill_lib/experiment/story.py, not this text. -->")
    parts = [
        head,
        facts(results),
        timing(results),
        f"![test accuracy per strategy](figures/{name}-accuracy.png)",
        results.table(),
        legend(results),
        "\n".join(findings(results)),
        axes_story(results, name),
        beyond_story(results, name),
        footprint_story(results, name),
    ]
    return "\n\n".join(p for p in parts if p)


def student_sentences(results: Results) -> int | None:
    """Training sentences a student saw per epoch, from its history (examples/s x seconds)."""
    hist = results.histories
    if not {"examples_per_second", "train_seconds"} <= set(hist.columns) or hist.empty:
        return results.config.train_size
    row = hist.dropna(subset=["examples_per_second", "train_seconds"]).iloc[0]
    return round(row["examples_per_second"] * row["train_seconds"])


def _teacher_sentences(results: Results) -> int | None:
    history = results.teacher.get("history") or []
    if not history or "examples_per_second" not in history[0]:
        return results.config.train_size
    return round(history[0]["examples_per_second"] * history[0]["train_seconds"])


def updates(n_sentences: int, batch_size: int, grad_accum_steps: int, epochs: int) -> int:
    """Optimiser updates of a run: batches per epoch (the last one may be smaller), then one
    update per ``grad_accum_steps`` batches, times the epochs (as the training loop counts)."""
    return math.ceil(math.ceil(n_sentences / batch_size) / grad_accum_steps) * epochs


def _loss_words(train: Any) -> str:
    words = (f"soft targets at T = {train.temperature:g} and hard labels, alpha = "
             f"{train.alpha:g} (the soft-target weight; hard labels get 1 - alpha)")
    extra = [f"{label} x {getattr(train, field):g}" for field, label in
             (("cos_weight", "hidden-state cosine"), ("hidden_weight", "hidden-state MSE"),
              ("attention_weight", "attention")) if getattr(train, field)]
    return words + (f", plus {', '.join(extra)}" if extra else "")


def facts(results: Results) -> str:
    """What was run: teacher, data, student training and evaluation, from config and JSONs."""
    c, t, s = results.config, results.config.teacher_train, results.config.student_train
    n_teacher = len(results.teacher["layers"])
    n_train, n_teacher_train = student_sentences(results), _teacher_sentences(results)
    steps = "" if n_train is None else (
        f", {updates(n_train, s.batch_size, s.grad_accum_steps, s.epochs):,} optimiser updates "
        f"per run (ceil({n_train:,} / {s.batch_size}) batches"
        + (f" / {s.grad_accum_steps} accumulated" if s.grad_accum_steps > 1 else "")
        + f" x {s.epochs} epoch{'s' * (s.epochs > 1)})")
    seen = "all training sentences" if n_train is None else f"{n_train:,} training sentences"
    text = (
        f"**The run.** Teacher `{c.teacher}` ({n_teacher} layers), fine-tuned on "
        f"{'the' if n_teacher_train is None else f'{n_teacher_train:,}'} training sentences of "
        f"`{c.task}` for {t.epochs} epoch{'s' * (t.epochs > 1)} (lr {_lr(t.lr)}, batch "
        f"{t.batch_size}): {_pct(results.teacher['test']['accuracy'])} test accuracy. Students: "
        f"{c.student_layers} layers, distilled on {seen} for {s.epochs} "
        f"epoch{'s' * (s.epochs > 1)}{steps}, lr {_lr(s.lr)}, batch {s.batch_size}, "
        f"{_loss_words(s)}. Strategies {_names(_strategies(results))}; "
        f"{_baseline_words([b for b in c.baselines if b in set(results.runs['name'])])}; seeds "
        f"{', '.join(map(str, c.seeds))}. Evaluated on {len(results.majority['test_labels']):,} "
        f"test sentences{_cross_domain_facts(results)}."
    )
    return _wrap(text)


def _baseline_words(names: list[str]) -> str:
    return f"baselines {_names(names)}" if names else "no student baseline"


def _cross_domain_facts(results: Results) -> str:
    cross = results.teacher.get("cross_domain") or {}
    if not cross:
        return " (no cross-domain sets)"
    sizes = {d: sum(m.get("predicted_counts", [])) for d, m in cross.items()}
    if len(set(sizes.values())) == 1:
        return (f" and on {next(iter(sizes.values())):,} sentences of each cross-domain set "
                f"({_names(list(sizes))})")
    return " and on " + ", ".join(f"{n:,} sentences of `{d}`" for d, n in sizes.items())


def timing(results: Results) -> str:
    """How long the runs took, from the JSONs' ``seconds`` (each run's own wall time)."""
    runs = results.runs
    reused = runs["same_as"].notna() if "same_as" in runs else pd.Series(False, index=runs.index)
    trained = runs.loc[~reused, "seconds"].dropna()
    if trained.empty:
        return ""
    parts = [f"the {len(trained)} trained student runs {trained.sum() / 60:.1f} min in all "
             f"({trained.min():.0f} to {trained.max():.0f} s each)"]
    if reused.any():
        parts.append(f"{int(reused.sum())} more reused an identical run")
    history = results.teacher.get("history") or []
    if history and "seconds" in history[0]:
        parts.insert(0, f"the teacher's fine-tuning "
                        f"{sum(h['seconds'] for h in history) / 60:.1f} min")
    measured = _measured(results)
    if measured and "seconds" in measured:
        parts.append(f"the layer measurements {_duration(measured['seconds'])}")
    return _wrap(
        "**Time**, summed from the JSONs' `seconds` (each run's own wall time): "
        f"{'; '.join(parts)}. "
        "The JSONs do not say whether runs were trained side by side (two worker processes are "
        "the default on a CPU with 2 or more cores): if they were, they overlapped, and the "
        "comparison took less wall time than this sum."
    )


def legend(results: Results) -> str:
    """What the table's columns mean (only the marks that appear in it are explained)."""
    text = (f"`ci_low`/`ci_high`: {CI_METHOD}. `vs_best`: test against the best strategy "
            f"({METHOD}); `worse` = p < {ALPHA:g}, `n.s.` = not significant.")
    twins = [n for n in results.layer_maps if results.twin(n)]
    if twins:
        text += (" `= name` marks a data-driven strategy that picked the layers of a fixed one: "
                 "the same student, so its runs are reused and not tested twice.")
    if results.collapsed_names():
        text += (" `no verdict` marks a name with a collapsed run (a training failure): no "
                 "p-value is read from it.")
    text += (" `collapsed`: runs that predicted (almost) one class. `teacher` and `majority` are "
             "one evaluation each. Layers are counted from 0.")
    return _wrap(text)


# -- findings -----------------------------------------------------------------------------------


def findings(results: Results) -> list[str]:
    """The verdict bullets, each written from the numbers."""
    blocks = [
        _best_lines(results),
        _pairs_lines(results),
        _random_init_lines(results),
        _kd_lines(results),
        _data_driven_lines(results),
        _cross_domain_lines(results),
        _curve_lines(results),
        _collapse_lines(results),
        _efficiency_lines(results),
    ]
    return [line for block in blocks for line in block]


def _strategies(results: Results) -> list[str]:
    rows = results.summary[results.summary["kind"] == "strategy"]
    return list(rows["name"])


def _mean(results: Results, name: str, column: str = "mean_accuracy") -> float:
    return float(results.summary.loc[results.summary["name"] == name, column].iloc[0])


def _versus(c: Comparison, a: str, b: str) -> str:
    return f"`{a}` {c.verdict} `{b}`: {c.text()}"


def _best_lines(results: Results) -> list[str]:
    best = results.best
    if best is None:
        return []
    row = results.summary[results.summary["name"] == best].iloc[0]
    ci = ("" if pd.isna(row["ci_low"]) else
          f", 95% CI {_pct(row['ci_low'])} to {_pct(row['ci_high'])}")
    lead = 100 * (results.teacher["test"]["accuracy"] - row["mean_accuracy"])
    lines = [_bullet(
        f"**Best strategy: `{best}`** (layers {results.layer_maps[best]}), "
        f"{_pct(row['mean_accuracy'])} mean test accuracy{ci}; the teacher reached "
        f"{_pct(results.teacher['test']['accuracy'])}, {abs(lead):.1f} points "
        f"{'above' if lead >= 0 else 'below'} it. Every other strategy against `{best}` "
        "(`Results.compare`; the verdict follows the Holm-corrected p, while the interval is "
        "that pair's own, uncorrected, so it can exclude 0 in a tie):")]
    for name in _strategies(results):
        if name == best:
            continue
        twin = results.twin(name)
        if twin:
            lines.append(_bullet(f"`{name}` picked the layers of `{twin}` "
                                 f"({results.layer_maps[name]}): the same student as `{twin}`", 1))
            continue
        c = results.compare(name, best)
        if c is not None:
            lines.append(_bullet(_versus(c, name, best), 1))
    return lines


def _pairs_lines(results: Results) -> list[str]:
    pw = results.pairwise
    pairs = pw[pw["family"] == "strategies"]
    if pairs.empty:
        return []
    collapsed = set(results.collapsed_names())
    clean = pairs[~pairs["a"].isin(collapsed) & ~pairs["b"].isin(collapsed)]
    n_sig = int(clean["significant"].sum())
    text = (f"**Pairs of strategies:** {n_sig} of {len(clean)} differ significantly after Holm's "
            "correction" + (f" ({len(pairs) - len(clean)} pairs with a collapsed side not "
                            "counted)" if len(clean) < len(pairs) else ""))
    others = clean[clean["significant"].astype(bool)
                   & (clean["a"] != results.best) & (clean["b"] != results.best)]
    if others.empty:
        return [_bullet(text + ".")]
    lines = [_bullet(text + "; those not involving the best strategy:")]
    for _, row in others.sort_values("p_holm").iterrows():
        better, worse = (row["a"], row["b"]) if row["diff"] > 0 else (row["b"], row["a"])
        c = results.compare(better, worse)
        if c is not None:
            lines.append(_bullet(_versus(c, better, worse), 1))
    return lines


def _random_init_lines(results: Results) -> list[str]:
    name = "random-init"
    if name not in results.layer_maps:
        return []
    runs = results.runs[results.runs["name"] == name]
    n_collapsed = int(runs["collapsed"].sum())
    if n_collapsed:
        return [_bullet(
            f"**Copying vs random init: no verdict.** {n_collapsed} of {len(runs)} `{name}` "
            f"runs collapsed (see the collapse check below): a training failure, so the "
            "difference between the copied students and this baseline measures that failure, "
            "not the initialisation, and no p-value is reported for it.")]
    lines = [_bullet(f"**Copying vs random init.** `{name}` (random weights, distilled the same "
                     f"way) reached {_pct(_mean(results, name))}. Each copied strategy against "
                     "it:")]
    for strategy in _strategies(results):
        c = None if results.twin(strategy) else results.compare(strategy, name)
        if c is not None:
            lines.append(_bullet(_versus(c, strategy, name), 1))
    return lines


def _kd_lines(results: Results) -> list[str]:
    """``no-kd`` against the strategy with its layers, trained with distillation."""
    if "no-kd" not in results.layer_maps:
        return []
    layers = results.layer_maps["no-kd"]
    same = [n for n in _strategies(results) if results.layer_maps.get(n) == layers
            and not results.twin(n)]
    if not same:
        return []
    c = results.compare(same[0], "no-kd")
    if c is None:
        return []
    return [_bullet(
        f"**Distillation vs hard labels only.** `{same[0]}` (distilled) against `no-kd` (the "
        f"same layers {layers}, trained on hard labels only, {_pct(_mean(results, 'no-kd'))}): "
        f"{_versus(c, same[0], 'no-kd')}.")]


def _measured(results: Results) -> dict[str, Any] | None:
    """The teacher's layer measurements: those of the run, else the folder's file (measured
    for data-driven strategies that were not trained), else None."""
    if results.measured:
        return results.measured
    path = RunStore(results.output_dir).layer_scores_path(results.config)
    return json.loads(path.read_text()) if path.is_file() else None


def _fixed_match(layers: list[int], n_teacher: int, k: int) -> str | None:
    for name in STRATEGIES:
        if name != "random" and select_layers(name, n_teacher, k) == layers:
            return name
    return None


def _scores_text(measured: dict[str, Any]) -> str:
    influence = ", ".join(f"{v:.3f}" for v in measured["block_influence"])
    drop = measured.get("drop") or {}
    text = f"Block influence per layer: {influence}"
    if drop.get("accuracy_drop"):
        lost = ", ".join(f"{100 * v:.1f}" for v in drop["accuracy_drop"])
        size = measured.get("validation_size")
        text += (f"; validation accuracy lost when a layer is skipped (points): {lost} (on "
                 f"{'the' if size is None else f'{size:,}'} validation sentences)")
    return text + f"; CKA and influence on {measured.get('calibration_size')} training sentences."


def _data_driven_lines(results: Results) -> list[str]:
    measured = _measured(results)
    names = [n for n in DATA_DRIVEN if n in results.layer_maps]
    if measured is None:
        return []
    n_teacher, k = int(measured["n_layers"]), results.config.student_layers
    parts = []
    for name in DATA_DRIVEN:
        layers = results.layer_maps.get(name) or choose_layers(name, measured, k)
        match = results.twin(name) or _fixed_match(layers, n_teacher, k)
        parts.append(f"`{name}` keeps {layers}" + (f" = `{match}`" if match else " (a new map)"))
    untrained = [n for n in DATA_DRIVEN if n not in names]
    head = "**Letting the data choose** (measured on the fine-tuned teacher):"
    tail = (f" Not trained in this run: {_names(untrained)}, so there is no verdict on their "
            "students." if untrained else "")
    return [_bullet(f"{head} {'; '.join(parts)}. {_scores_text(measured)}{tail}")]


def _cross_domain_lines(results: Results) -> list[str]:
    best, cross = results.best, results.teacher.get("cross_domain") or {}
    if best is None or not cross:
        return []
    summary = results.summary.set_index("name")
    gap_in = 100 * (summary.loc["teacher", "mean_accuracy"] - summary.loc[best, "mean_accuracy"])
    lines = [_bullet(f"**Out of domain** (trained on `{results.config.task}`): the teacher and "
                     f"the best strategy `{best}`; in domain, teacher minus `{best}` is "
                     f"{gap_in:+.1f} points:")]
    strategies = [n for n in _strategies(results) if not results.twin(n)]
    for domain in cross:
        col = f"accuracy[{domain}]"
        teacher, student = summary.loc["teacher", col], summary.loc[best, col]
        gap = 100 * (teacher - student)
        low = summary.loc[strategies, col].idxmin()
        lines.append(_bullet(
            f"`{domain}`: teacher {_pct(teacher)}, `{best}` {_pct(student)}; teacher minus "
            f"`{best}` {gap:+.1f} points, {compare_word(gap, gap_in)} than in domain (lowest "
            f"strategy `{low}` {_pct(summary.loc[low, col])}; majority class "
            f"{_pct(summary.loc['majority', col])})", 1))
    return lines


def epoch_gaps(results: Results, a: str = "first", b: str = "last") -> list[float]:
    """Validation accuracy of ``a`` minus ``b`` at each epoch (mean over seeds), in points."""
    hist = results.histories
    means = hist[hist["name"].isin([a, b])].groupby(["name", "epoch"])["val_accuracy"].mean()
    epochs = sorted(set(means[a].index) & set(means[b].index))
    return [100 * float(means[a][e] - means[b][e]) for e in epochs]


def _curve_lines(results: Results, a: str = "first", b: str = "last") -> list[str]:
    if not {a, b} <= set(results.layer_maps) or "val_accuracy" not in results.histories:
        return []
    gaps = epoch_gaps(results, a, b)
    if not gaps:
        return []
    each = ", ".join(f"epoch {i}: {g:+.1f}" for i, g in enumerate(gaps, 1))
    head = (f"**Learning curves, `{a}` minus `{b}`** (validation accuracy, mean over seeds, in "
            f"points): {each}.")
    if len(gaps) == 1:
        return [_bullet(f"{head} One epoch gives one point per student, so this run cannot say "
                        "whether the gap grows or shrinks with training.")]
    return [_bullet(f"{head} Over these {len(gaps)} epochs the gap {trend(gaps)}.")]


def _collapse_lines(results: Results) -> list[str]:
    head, *rest = results.collapse_lines()
    text = head.removeprefix("collapse check: ")
    lines = [_bullet(f"**Collapse check:** {text[:1].upper()}{text[1:]}" + ("." * (not rest)))]
    return lines + [_bullet(line.strip(), 1) for line in rest]


def _efficiency_lines(results: Results) -> list[str]:
    text = " ".join(line.strip() for line in results.efficiency_lines())
    text = text.removeprefix("efficiency: ")
    return [_bullet(f"**Efficiency.** {text[:1].upper()}{text[1:]}.")]
