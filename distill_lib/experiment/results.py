"""The outcome of a comparison, and every table and sentence printed from it.

:class:`Results` is built from the run JSONs alone (:func:`summarise`), so a finished folder
can be reported on any machine, without the teacher, the data or the Hub
(:func:`~distill_lib.experiment.load_results`). The statistics are numbers (differences,
intervals, Holm-corrected p-values); the CLI, the plots and the notebooks format them, each
from the same methods here.
"""

from __future__ import annotations

import math
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .._io import atomic_write_text
from ..stats import bootstrap_accuracy_ci, collapse_reason, holm, paired_bootstrap
from .config import ExperimentConfig

ALPHA = 0.05
"""Significance level of the Holm-corrected pairwise tests."""

METHOD = (
    "paired bootstrap over seeds and test sentences, Holm-corrected within each family "
    f"(strategy pairs; pairs with a baseline), significant at p < {ALPHA:g}"
)
"""How the pairwise tests are done, in words (printed under tables and in figures)."""

CI_METHOD = (
    "95% interval: percentile bootstrap over seeds and test sentences (inside [0, 1] by "
    "construction)"
)
"""How ``ci_low``/``ci_high`` of the summary are computed, in words (tables, figures)."""


@dataclass(frozen=True)
class Comparison:
    """``a`` minus ``b`` in test accuracy, from :meth:`Results.compare`.

    ``diff``, ``ci_low``, ``ci_high`` are accuracy fractions (0.01 = 1 point); ``p_holm`` is
    Holm-corrected; ``collapsed`` names the sides with a collapsed run, whose difference
    measures a training failure rather than the choice of layers.
    """

    a: str
    b: str
    diff: float
    ci_low: float
    ci_high: float
    p_holm: float
    collapsed: tuple[str, ...] = ()

    @property
    def significant(self) -> bool:
        """p < :data:`ALPHA` after Holm's correction; never with a collapsed side."""
        return bool(self.p_holm < ALPHA) and not self.collapsed

    @property
    def verdict(self) -> str:
        """``beats``, ``loses to``, ``ties with`` (no significant difference), or
        ``no verdict against`` when a side collapsed: how ``a`` did against ``b``."""
        if self.collapsed:
            return "no verdict against"
        if not self.significant:
            return "ties with"
        return "beats" if self.diff > 0 else "loses to"

    def text(self) -> str:
        """E.g. ``+2.1 points (95% CI +0.4 to +3.9; Holm p = 0.012, significant)``.

        With a collapsed side the difference is not reported as a finding: the text says
        which side collapsed and that the number measures a training failure.
        """
        if self.collapsed:
            return (
                f"no finding: {' and '.join(self.collapsed)} collapsed in at least one seed, "
                f"so the difference ({100 * self.diff:+.1f} points) measures a training "
                "failure, not the layers"
            )
        word = "significant" if self.significant else "not significant"
        return (
            f"{pct(self.diff, True)} points (95% CI {pct(self.ci_low, True)} to "
            f"{pct(self.ci_high, True)}; Holm p = {self.p_holm:.3g}, {word})"
        )


def pct(value: float, signed: bool = False) -> str:
    """A fraction as percentage points to one decimal (``"+1.2"`` with ``signed``), with no
    "-0.0": a difference that rounds to zero reads as zero."""
    text = f"{100 * value:{'+' if signed else ''}.1f}"
    return ("+0.0" if signed else "0.0") if text.lstrip("+-") == "0.0" else text


@dataclass
class Results:
    """The outcome of :func:`~distill_lib.experiment.compare_strategies`.

    Attributes:
        config: the experiment's config.
        runs: one row per distilled student (strategy or baseline) and seed.
        histories: one row per run and epoch (train loss and its terms, validation metrics).
        teacher: the teacher's record (test metrics, cross-domain accuracies, history).
        majority: the majority class and its test accuracy.
        summary: one row per strategy/baseline (and the teacher and majority references):
            mean and std over seeds, a 95% interval ``ci_low``/``ci_high`` (:data:`CI_METHOD`),
            collapse count, and against the best strategy the
            difference ``vs_best_diff`` and Holm p-value ``vs_best_p`` (NaN where not tested).
        pairwise: every pair of students on the same seeds: ``diff`` (a - b), bootstrap CI,
            ``p_value``, ``p_holm``, ``family``, ``collapsed`` (a side has a collapsed run:
            the difference measures a training failure) and ``significant`` (``p_holm`` <
            :data:`ALPHA` and no collapsed side).
        efficiency: parameters and measured inference latency of teacher and student.
        output_dir: where the JSONs live.
        layer_maps: teacher layers of each student name.
    """

    config: ExperimentConfig
    runs: pd.DataFrame
    histories: pd.DataFrame
    teacher: dict[str, Any]
    majority: dict[str, Any]
    summary: pd.DataFrame
    pairwise: pd.DataFrame
    efficiency: dict[str, Any]
    output_dir: Path
    layer_maps: dict[str, list[int]] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    """Run files of the config that were absent or damaged (only with ``partial=True``)."""
    missing_axes: list[str] = field(default_factory=list)
    """The same for the runs of the recipe and budget axes (not in ``missing``)."""
    measured: dict[str, Any] | None = None
    """The teacher's layer measurements behind the data-driven strategies, if any ran
    (:func:`distill_lib.selection.measure_layers`)."""
    axis_runs: list[dict[str, Any]] = field(default_factory=list)
    """The records of the recipe and budget axes (``config.recipes``/``budgets``) and of the
    DistilBERT arm (``config.distilbert_strategies``), kept out of every table above (which
    compare the main runs); :mod:`distill_lib.experiment.axes` and :mod:`.footprint`
    summarise them."""

    # -- who is best, who collapsed --------------------------------------------------------------

    @property
    def best(self) -> str | None:
        """The strategy with the highest mean test accuracy (None without strategies).

        A data-driven strategy that picked the same layers as a fixed one is the same student
        (:meth:`twin`); the fixed name stands for both.
        """
        rows = self.summary[self.summary["kind"] == "strategy"]
        rows = rows[[self.twin(n) is None for n in rows["name"]]]
        return None if rows.empty else str(rows.loc[rows["mean_accuracy"].idxmax(), "name"])

    def twin(self, name: str) -> str | None:
        """The fixed strategy whose run a data-driven strategy reused (same layers), or None."""
        if "same_as" not in self.runs:
            return None
        hit = self.runs.loc[self.runs["name"] == name, "same_as"].dropna()
        return str(hit.iloc[0]) if len(hit) else None

    def collapsed_runs(self) -> pd.DataFrame:
        """The student runs that predicted (almost) one class, with the reason."""
        cols = ["name", "kind", "seed", "layers", "test_accuracy", "collapse_reason"]
        return self.runs.loc[self.runs["collapsed"].astype(bool), cols]

    def collapsed_names(self) -> list[str]:
        """Strategies/baselines with at least one collapsed run."""
        return list(dict.fromkeys(self.collapsed_runs()["name"]))

    # -- pairs -----------------------------------------------------------------------------------

    def compare(self, a: str, b: str) -> Comparison | None:
        """``a`` minus ``b`` from the pairwise tests (None if they were not tested together).

        A data-driven strategy that reused a fixed strategy's run is compared as that run.
        """
        a, b = self.twin(a) or a, self.twin(b) or b
        pw = self.pairwise
        collapsed = tuple(n for n in (a, b) if n in self.collapsed_names())
        for x, y, sign in ((a, b, 1), (b, a, -1)):
            hit = pw[(pw["a"] == x) & (pw["b"] == y)]
            if len(hit):
                r = hit.iloc[0]
                low, high = sorted((sign * r["ci_low"], sign * r["ci_high"]))
                return Comparison(a, b, sign * float(r["diff"]), low, high, float(r["p_holm"]),
                                  collapsed)
        return None

    def significant_pairs(self) -> pd.DataFrame:
        """Pairs that differ after Holm's correction, most significant first."""
        return self.pairwise[self.pairwise["significant"].astype(bool)].sort_values("p_holm")

    def pairwise_points(self) -> pd.DataFrame:
        """The pairwise table in accuracy points, for people."""
        table = self.pairwise.copy()
        for col in ("diff", "ci_low", "ci_high"):
            table[col] = 100 * table[col]
        return table.rename(
            columns={"diff": "a - b (points)", "ci_low": "CI low", "ci_high": "CI high"}
        ).sort_values("p_holm")

    def verdict_vs_best(self, name: str) -> str:
        """``best``, ``n.s. (p=0.31)``, ``worse (p=0.004)``, ``""`` (not tested), or ``no
        verdict: ...`` when a run of ``name`` (or of the best strategy) collapsed.

        p is the Holm-corrected paired-bootstrap p-value against the best strategy
        (:data:`METHOD`); ``worse`` means p < :data:`ALPHA`.
        """
        row = self.summary[self.summary["name"] == name]
        if row.empty or row["kind"].iloc[0] == "reference":
            return ""
        if self.twin(name):
            twin = self.twin(name)
            return f"= {twin}" + (f": {self.verdict_vs_best(twin)}" if twin != self.best else
                                  " (best)")
        if name == self.best:
            return "best"
        collapsed = [n for n in (name, self.best) if n in self.collapsed_names()]
        if collapsed:
            who = "a run" if name in collapsed else "the best strategy"
            return f"no verdict: {who} collapsed"
        p = float(row["vs_best_p"].iloc[0])
        if math.isnan(p):
            return "n/a"
        return f"{'worse' if p < ALPHA else 'n.s.'} (p={p:.2g})"

    # -- printing --------------------------------------------------------------------------------

    def table(self, floatfmt: str = ".4f") -> str:
        """The summary as a Markdown table, with teacher and majority rows."""
        cols = ["name", "kind", "layers", "n_seeds", "mean_accuracy", "std", "ci_low",
                "ci_high", "mean_macro_f1", "collapsed"]
        frame = self.summary[cols].copy()
        frame["layers"] = frame["layers"].map(lambda v: "" if v is None else str(v))
        frame["vs_best"] = [self.verdict_vs_best(n) for n in frame["name"]]
        return frame.to_markdown(index=False, floatfmt=floatfmt)

    def pairwise_lines(self) -> list[str]:
        """How many pairs differ, then one line per significant pair."""
        pw = self.pairwise
        if pw.empty:
            return ["pairwise: no pairs to test (need two students on the same seeds)"]
        collapsed = set(self.collapsed_names())
        clean = pw[~pw["a"].isin(collapsed) & ~pw["b"].isin(collapsed)]
        strategy_pairs = clean[clean["family"] == "strategies"]
        lines = [
            f"pairwise: {int(clean['significant'].sum())} of {len(clean)} pairs differ "
            f"significantly; between strategies: {int(strategy_pairs['significant'].sum())} of "
            f"{len(strategy_pairs)} ({METHOD})"
        ]
        if len(clean) < len(pw):
            lines.append(
                f"  ({len(pw) - len(clean)} pairs with a collapsed side are not counted: "
                f"{', '.join(sorted(collapsed))})"
            )
        for _, row in self.significant_pairs().iterrows():
            if row["a"] in collapsed or row["b"] in collapsed:
                continue
            better, worse = (row["a"], row["b"]) if row["diff"] > 0 else (row["b"], row["a"])
            c = self.compare(better, worse)
            lines.append(f"  {better} - {worse}: {c.text() if c else ''}")
        return lines

    def _init_of(self, name: str) -> str:
        return str(self.runs.loc[self.runs["name"] == name, "init"].iloc[0])

    def versus_lines(self, names: list[str], against: list[str]) -> list[str]:
        """One sentence per pair: how each of ``names`` did against each of ``against``.

        Written from the numbers: ``beats``/``loses to`` only with a significant Holm-corrected
        difference, ``ties with`` otherwise, no verdict when a run collapsed, and "the same
        student" when both picked the same teacher layers.
        """
        lines = []
        for a in names:
            for b in against:
                if a == b or a not in self.layer_maps or b not in self.layer_maps:
                    continue
                inits = {self._init_of(n) for n in (a, b)}
                if self.layer_maps[a] == self.layer_maps[b] and inits == {"teacher"}:
                    lines.append(f"{a} picks the same layers as {b} ({self.layer_maps[a]}): "
                                 "the same student, nothing to compare")
                    continue
                c = self.compare(a, b)
                twin = self.twin(a)
                label = f"{a} (the same student as {twin})" if twin else a
                if c is None:
                    lines.append(f"{label} and {b} were not run on the same seeds: not compared")
                else:
                    lines.append(f"{label} {c.verdict} {b}: {c.text()}")
        return lines

    def collapse_lines(self) -> list[str]:
        """One line if nothing collapsed, else one per collapsed run."""
        collapsed = self.collapsed_runs()
        if collapsed.empty:
            return [f"collapse check: none of the {len(self.runs)} student runs collapsed"]
        lines = [
            f"collapse check: {len(collapsed)} of {len(self.runs)} student runs COLLAPSED "
            "(comparisons involving them measure a training failure, not the layers):"
        ]
        for _, r in collapsed.iterrows():
            lines.append(
                f"  {r['name']} seed {r['seed']}: accuracy {r['test_accuracy']:.4f}, "
                f"{r['collapse_reason']}"
            )
        return lines

    def efficiency_lines(self) -> list[str]:
        """Parameters and latency of teacher vs student, in words."""
        eff = self.efficiency
        if not eff:
            return ["efficiency: not measured (measure_latency is off)"]
        lines = [
            f"efficiency: the {eff['student_layers']}-layer student has {eff['param_ratio']:.2f}x "
            f"fewer parameters than the {eff['teacher_layers']}-layer teacher "
            f"({eff['student_params'] / 1e6:.1f}M vs {eff['teacher_params'] / 1e6:.1f}M) and "
            f"classifies a batch of {eff['batch_size']} sentences {eff['speedup']:.2f}x faster "
            f"({1000 * eff['student_latency_s']:.1f} vs {1000 * eff['teacher_latency_s']:.1f} ms "
            f"on {eff['device']})"
        ]
        layer_ratio = eff["teacher_layers"] / eff["student_layers"]
        if eff["param_ratio"] < 0.8 * layer_ratio:
            lines.append(
                f"  (the layers shrank {layer_ratio:.1f}x but the parameters only "
                f"{eff['param_ratio']:.2f}x: the embeddings, which every student keeps whole, are "
                "a large share of a small model)"
            )
        return lines

    def report(self) -> str:
        """Everything the CLI prints after a comparison: table, tests, collapse, efficiency."""
        c = self.config
        head = (
            f"## {c.task}: teacher {c.teacher} -> {c.student_layers} student layers, seeds "
            f"{', '.join(map(str, c.seeds))}"
        )
        body = [*self.pairwise_lines(), *self.collapse_lines(), *self.efficiency_lines()]
        if self.missing:
            body.append(
                f"incomplete: {len(self.missing)} run(s) missing or set aside (e.g. "
                f"{self.missing[0]}); tests use only names with the same seeds. Run compare "
                "again with the same options to redo them."
            )
        legend = (f"({CI_METHOD}; vs_best: test against the best strategy, p Holm-corrected, "
                  f"worse = p < {ALPHA:g})")
        return "\n".join([head, "", self.table(), legend, "", *body])

    def tables(self) -> dict[str, str]:
        """The text of each table file :meth:`save_tables` writes, by file name."""
        frames = {
            "summary.csv": self.summary,
            "pairwise.csv": self.pairwise,
            "runs.csv": self.runs.drop(columns=["predictions", "probabilities"], errors="ignore"),
        }
        return {**{name: frame.to_csv(index=False) for name, frame in frames.items()},
                "summary.md": self.table() + "\n"}

    def save_tables(self) -> list[Path]:
        """Write summary, pairwise and runs tables (CSV + Markdown) into ``output_dir``."""
        return [atomic_write_text(self.output_dir / name, text)
                for name, text in self.tables().items()]


def save_frames(folder: Path, frames: dict[str, pd.DataFrame]) -> list[Path]:
    """Write each non-empty table as ``<name>.csv`` and ``<name>.md`` in ``folder``."""
    written: list[Path] = []
    for name, table in frames.items():
        if table.empty:
            continue
        written.append(atomic_write_text(folder / f"{name}.csv", table.to_csv(index=False)))
        written.append(atomic_write_text(folder / f"{name}.md",
                                         table.to_markdown(index=False, floatfmt=".4f") + "\n"))
    return written


def _reference_row(name: str, layers: Any, accuracy: float, f1: float, cross: dict) -> dict:
    return {
        "name": name,
        "kind": "reference",
        "layers": layers,
        "n_seeds": 1,
        "mean_accuracy": accuracy,
        "std": math.nan,
        "ci_low": math.nan,
        "ci_high": math.nan,
        "mean_macro_f1": f1,
        "collapsed": 0,
        **{f"accuracy[{d}]": v for d, v in cross.items()},
    }


def summarise(
    config: ExperimentConfig,
    records: list[dict[str, Any]],
    teacher_record: dict[str, Any],
    majority: dict[str, Any],
    efficiency: dict[str, Any],
    out: Path,
) -> Results:
    """Build :class:`Results` from run records (a pure function of the JSONs). Records of
    the recipe and budget axes and the DistilBERT arm go to ``axis_runs``; the tables compare
    the main runs."""
    axis_runs = [r for r in records if on_axis(r)]
    records = [r for r in records if not on_axis(r)]
    runs = pd.DataFrame([_run_row(r, majority["accuracy"]) for r in records])
    histories = pd.DataFrame(
        [{"name": r["name"], "kind": r["kind"], "seed": r["seed"], **h}
         for r in records for h in r["history"]]
    )
    names = list(dict.fromkeys(runs["name"])) if len(runs) else []
    correct = _correct(runs, names, np.asarray(majority["test_labels"]))
    students = [_summary_row(runs[runs["name"] == n], correct[n], config.bootstrap_resamples)
                for n in names]
    summary = pd.DataFrame([*students, *_reference_rows(teacher_record, majority)])
    pairwise = _pairwise(runs, names, correct, config.bootstrap_resamples)
    layer_maps = {n: list(runs[runs["name"] == n]["layers"].iloc[0]) for n in names}
    results = Results(config, runs, histories, teacher_record, majority, summary, pairwise,
                      efficiency, out, layer_maps, axis_runs=axis_runs)
    summary["vs_best_diff"], summary["vs_best_p"] = _versus_best(results)
    return results


def on_axis(record: dict[str, Any]) -> bool:
    """Whether a run record belongs to the recipe or budget axis or is a DistilBERT run (not a
    main run). Records written before those existed have none of the fields: main runs."""
    return (record.get("recipe", "logits") != "logits" or record.get("budget_epochs") is not None
            or record.get("architecture", "same") != "same")


def _run_row(record: dict[str, Any], majority_accuracy: float) -> dict[str, Any]:
    """One row of ``runs``: a student run's test metrics, collapse check and timing."""
    test = record["test"]
    reason = collapse_reason(test["predicted_counts"], test["accuracy"], majority_accuracy)
    return {
        "name": record["name"],
        "kind": record["kind"],
        "seed": record["seed"],
        "layers": record["layers"],
        "init": record["init"],
        "test_accuracy": test["accuracy"],
        "test_macro_f1": test["macro_f1"],
        "test_loss": test["loss"],
        "predicted_counts": test["predicted_counts"],
        "collapsed": reason is not None,
        "collapse_reason": reason or "",
        "best_epoch": record["best_epoch"],
        "seconds": record.get("seconds", math.nan),
        "same_as": record.get("same_as"),
        "predictions": test["predictions"],
        "probabilities": test.get("probabilities"),  # (runs made before they were saved: None)
        "validation_accuracy": record.get("validation", {}).get("accuracy", math.nan),
        **{f"accuracy[{d}]": m["accuracy"] for d, m in record.get("cross_domain", {}).items()},
    }


def _correct(runs: pd.DataFrame, names: list[str], labels: np.ndarray) -> dict[str, np.ndarray]:
    """Per name, ``(seeds, test sentences)`` booleans: which predictions were right."""
    return {
        n: np.asarray(runs[runs["name"] == n].sort_values("seed")["predictions"].tolist()) == labels
        for n in names
    }


def _summary_row(sub: pd.DataFrame, correct: np.ndarray, n_resamples: int) -> dict[str, Any]:
    """One row of ``summary``: a strategy's or baseline's runs (``sub``) over seeds."""
    accuracy = sub["test_accuracy"].to_numpy(dtype=float)
    low = high = math.nan  # one seed: no interval, rather than one without the seed noise
    if len(sub) > 1:
        low, high = bootstrap_accuracy_ci(correct, n_resamples=n_resamples)
    return {
        "name": sub["name"].iloc[0],
        "kind": sub["kind"].iloc[0],
        "layers": "random" if sub["init"].iloc[0] == "random" else sub["layers"].iloc[0],
        "n_seeds": len(sub),
        "mean_accuracy": float(accuracy.mean()),
        "std": float(accuracy.std(ddof=1)) if len(accuracy) > 1 else math.nan,
        "ci_low": low,
        "ci_high": high,
        "mean_macro_f1": float(sub["test_macro_f1"].mean()),
        "collapsed": int(sub["collapsed"].sum()),
        **{c: float(sub[c].mean()) for c in sub.columns if c.startswith("accuracy[")},
    }


def _reference_rows(t: dict[str, Any], majority: dict[str, Any]) -> list[dict[str, Any]]:
    """The ``teacher`` (record ``t``) and ``majority`` rows of ``summary`` (one evaluation
    each)."""
    return [
        _reference_row(
            "teacher", t["layers"], t["test"]["accuracy"], t["test"]["macro_f1"],
            {d: m["accuracy"] for d, m in t.get("cross_domain", {}).items()},
        ),
        _reference_row("majority", None, majority["accuracy"], math.nan, majority["cross_domain"]),
    ]


def _pairwise(
    runs: pd.DataFrame, names: list[str], correct: dict[str, np.ndarray], n_resamples: int
) -> pd.DataFrame:
    """A paired bootstrap between every two students on the same seeds, Holm-corrected.

    A data-driven strategy that reused a fixed strategy's runs is the same student: testing it
    again would only add duplicate pairs to Holm's correction. Holm's correction is applied
    within each family: strategy-vs-strategy pairs (the question asked) and pairs involving a
    baseline (sanity checks), so adding baselines does not make the strategy comparisons more
    conservative. A pair with a collapsed side keeps its numbers (and its place in Holm's
    correction, which only makes the others more conservative) but is never ``significant``.
    """
    seeds_of = {n: tuple(sorted(runs[runs["name"] == n]["seed"])) for n in names}
    twins = set(runs.loc[runs["same_as"].notna(), "name"]) if "same_as" in runs else set()
    kind_of = {n: runs[runs["name"] == n]["kind"].iloc[0] for n in names}
    tested = [n for n in names if n not in twins]
    rows = []
    for i, a in enumerate(tested):
        for b in tested[i + 1 :]:
            if seeds_of[a] == seeds_of[b]:
                family = "strategies" if {kind_of[a], kind_of[b]} == {"strategy"} else "baselines"
                res = paired_bootstrap(correct[a], correct[b], n_resamples=n_resamples)
                rows.append({"a": a, "b": b, "family": family, **res})
    pairwise = pd.DataFrame(rows, columns=["a", "b", "family", "diff", "ci_low", "ci_high",
                                           "p_value"])
    pairwise["p_holm"] = np.nan
    for _, index in pairwise.groupby("family").groups.items():
        pairwise.loc[index, "p_holm"] = holm(pairwise.loc[index, "p_value"].tolist())
    failed = set(runs.loc[runs["collapsed"].astype(bool), "name"]) if len(runs) else set()
    pairwise["collapsed"] = pairwise["a"].isin(failed) | pairwise["b"].isin(failed)
    pairwise["significant"] = (pairwise["p_holm"] < ALPHA) & ~pairwise["collapsed"]
    return pairwise


def _versus_best(results: Results) -> tuple[list[float], list[float]]:
    """Per summary row, its difference from the best strategy and the Holm p-value (NaN where
    not tested)."""
    best = results.best
    diffs, ps = [], []
    for name in results.summary["name"]:
        c = results.compare(best, name) if best and name != best else None
        diffs.append(math.nan if c is None else -c.diff)
        ps.append(math.nan if c is None else c.p_holm)
    return diffs, ps


def wrap_markdown(text: str, first: str = "", rest: str = "") -> str:
    """``text`` wrapped at the README's 100 columns, with the given first and later indents
    (words and hyphenated names are never split)."""
    return textwrap.fill(text, 100, initial_indent=first, subsequent_indent=rest,
                         break_on_hyphens=False, break_long_words=False)
