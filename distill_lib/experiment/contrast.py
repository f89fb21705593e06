"""Why comparisons disagree: several runs side by side, written from their results.

A learner who reads the quick run (6 -> 3 layers, 500 sentences), the standard run (6 -> 3, all
8,454 sentences, one epoch) and the classic run (12 -> 6, 640 sentences) meets three rankings
of the same strategies. :func:`contrast` sets the facts that differ (teacher depth and
accuracy, training budget, data) next to what each run found (the best strategy, where
`first` ranks, which pairs differ significantly), and says which significant verdicts the runs
share. Every number and direction word is computed from the :class:`Results`; nothing is typed.
"""

from __future__ import annotations

from dataclasses import dataclass

from .results import Results
from .story import student_sentences, updates

__all__ = ["RunFacts", "contrast", "run_facts"]


@dataclass(frozen=True)
class RunFacts:
    """What one run was (teacher, budget, data) and what it found."""

    teacher: str
    teacher_layers: int
    student_layers: int
    teacher_accuracy: float
    sentences: int
    epochs: int
    batch_size: int
    updates: int
    seeds: int
    best: str | None
    ranks: dict[str, int]
    """Rank of each strategy by mean test accuracy (1 = best), collapsed runs included."""
    significant: frozenset[tuple[str, str]]
    """Strategy pairs (better, worse) that differ significantly after Holm's correction."""


def run_facts(results: Results) -> RunFacts:
    """The facts of one run (see :class:`RunFacts`)."""
    config = results.config
    train = config.student_train
    sentences = student_sentences(results) or 0
    n_updates = updates(sentences, train.batch_size, train.grad_accum_steps, train.epochs)
    strategies = results.summary[results.summary["kind"] == "strategy"]
    strategies = strategies[~strategies["name"].map(lambda n: results.twin(n) is not None)]
    order = strategies.sort_values("mean_accuracy", ascending=False)["name"].tolist()
    pairs = results.pairwise
    pairs = pairs[(pairs["family"] == "strategies") & pairs["significant"]]
    significant = frozenset(
        (row.a, row.b) if row.diff > 0 else (row.b, row.a) for row in pairs.itertuples()
    )
    return RunFacts(
        teacher=config.teacher,
        teacher_layers=len(results.teacher["layers"]),
        student_layers=config.student_layers,
        teacher_accuracy=float(results.teacher["test"]["accuracy"]),
        sentences=sentences,
        epochs=train.epochs,
        batch_size=train.batch_size,
        updates=n_updates,
        seeds=len(config.seeds),
        best=results.best,
        ranks={name: i for i, name in enumerate(order, start=1)},
        significant=significant,
    )


def _table(facts: dict[str, RunFacts]) -> list[str]:
    lines = [
        "| run | teacher | teacher accuracy | training sentences | updates per student | seeds "
        "| best | `first` ranks |",
        "|---|---|---:|---:|---:|---:|---|---|",
    ]
    for name, f in facts.items():
        rank = f.ranks.get("first")
        first = f"{rank} of {len(f.ranks)}" if rank else "not run"
        lines.append(
            f"| {name} | {f.teacher} ({f.teacher_layers} -> {f.student_layers} layers) | "
            f"{100 * f.teacher_accuracy:.1f}% | {f.sentences:,} | {f.updates:,} | {f.seeds} | "
            f"`{f.best}` | {first} |"
        )
    return lines


def _pair_text(pairs: set[tuple[str, str]]) -> str:
    return ", ".join(f"`{a}` > `{b}`" for a, b in sorted(pairs)) or "none"


def _shared(facts: dict[str, RunFacts]) -> list[str]:
    names = list(facts)
    lines = []
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            both = set(facts[a].significant) & set(facts[b].significant)
            flipped = {(x, y) for x, y in facts[a].significant if (y, x) in facts[b].significant}
            line = (f"**{a}** and **{b}**: {len(facts[a].significant)} and "
                    f"{len(facts[b].significant)} significant strategy pairs; in common: "
                    f"{_pair_text(both)}")
            if flipped:
                line += f"; opposite verdicts: {_pair_text(flipped)}"
            lines.append(line + ".")
    return lines


def _differences(facts: dict[str, RunFacts]) -> str:
    """Which of teacher depth, teacher accuracy, budget and data differ between the runs."""
    differ = []
    for label, values in (
        ("teacher depth", {f.teacher_layers for f in facts.values()}),
        ("teacher", {f.teacher for f in facts.values()}),
        ("training sentences", {f.sentences for f in facts.values()}),
        ("updates per student", {f.updates for f in facts.values()}),
    ):
        if len(values) > 1:
            differ.append(label)
    if not differ:
        return "The runs share teacher, data and budget; only seeds and noise differ."
    listed = differ[0] if len(differ) == 1 else f"{', '.join(differ[:-1])} and {differ[-1]}"
    return (f"The runs differ in {listed} at once, so a change in ranking cannot be pinned on "
            "one of them from these runs alone.")


def contrast(runs: dict[str, Results]) -> str:
    """Markdown setting ``runs`` (name -> Results) side by side, for notebooks and the README."""
    facts = {name: run_facts(r) for name, r in runs.items()}
    lines = [*_table(facts), ""]
    ranked = {n: f.ranks["first"] for n, f in facts.items() if "first" in f.ranks}
    if len(set(ranked.values())) > 1:
        best_at = min(ranked, key=ranked.get)
        worst_at = max(ranked, key=ranked.get)
        lines.append(
            f"`first` ranks {ranked[best_at]} in the {best_at} run and {ranked[worst_at]} in "
            f"the {worst_at} run. {_differences(facts)}"
        )
    elif ranked:
        where = "every run" if len(ranked) == len(facts) else f"the {', '.join(ranked)} run(s)"
        lines.append(f"`first` ranks {next(iter(ranked.values()))} in {where}.")
    lines += ["", *_shared(facts)]
    return "\n".join(lines)
