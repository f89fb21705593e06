"""The listing sub-commands of ``distill-lib``: ``layers``, ``tasks`` and ``presets``.

They read the strategy, task and preset tables and print them; nothing is trained. Only light
modules are imported (no torch), so they answer at once. :mod:`distill_lib.cli` parses and
dispatches to them.
"""

from __future__ import annotations

import argparse
import textwrap

from .data import HUB_ALIASES, LOCAL_FORMATS, list_tasks
from .experiment import DEFAULT_PRESET, PRESETS, ExperimentConfig
from .layers import ALIASES, DATA_DRIVEN, STRATEGIES, select_layers

PROG = "distill-lib"
SIZE_FIELDS = ("train_size", "validation_size", "test_size")


def _one_line(message: object) -> str:
    return " ".join(str(message).split())


def cmd_layers(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """``distill-lib layers``: the map of every strategy for one teacher/student depth."""
    n, k = args.teacher_layers, args.student_layers
    try:
        select_layers("first", n, k)  # checks the sizes
    except ValueError as err:
        parser.error(str(err))
    rows: list[tuple[str, str, str, str]] = []
    problems: list[str] = []
    for name, keeps in STRATEGIES.items():
        try:
            layers = str(select_layers(name, n, k, seed=args.seed))
        except ValueError as err:
            layers = "n/a"
            problems.append(f"{name}: {_one_line(err)}")
        if name == "random":
            keeps = f"k distinct layers drawn at random with seed {args.seed} (--seed), sorted"
        aliases = ", ".join(a for a, target in ALIASES.items() if target == name) or "-"
        rows.append((name, layers, aliases, keeps))
    for name, keeps in DATA_DRIVEN.items():
        aliases = ", ".join(a for a, target in ALIASES.items() if target == name) or "-"
        rows.append((name, "measured", aliases, keeps))
    print(textwrap.fill(
        f"{n}-layer teacher -> {k}-layer student (n = {n}, k = {k}; 0-indexed teacher layers; "
        "student layer i starts from teacher layer layers[i]):", width=100))
    print()
    header = ("strategy", "layers", "also called", "keeps")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(3)] + [0]
    for row in [header, (*("-" * w for w in widths[:3]), "-----"), *rows]:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    print()
    print(textwrap.fill(
        "Aliases: strategies are named by position, first = nearest the embeddings. Papers say "
        "'lower' for the layers next to the input and usually 'top' for those next to the "
        "output, so top-k = last (nearest the classifier) and bottom-k = first here. "
        "'skip'/'alternate' = even (the layers PKD-Skip matches), 'distilbert' = uniform. Pass "
        "any name or alias to `compare --strategies`, or an explicit map with `compare --layers "
        "0,2,5`.", width=100))
    print()
    print(textwrap.fill(
        f"'measured': {', '.join(DATA_DRIVEN)} are chosen from measurements of the fine-tuned "
        "teacher on the task's data (block influence and CKA on training sentences, drop "
        "sensitivity on the validation split), so they have no fixed map; `compare "
        "--strategies uniform,influence,cka-cover,drop` measures the teacher once and reports "
        "the layers each picked (notebook 08).", width=100))
    for problem in problems:
        print(textwrap.fill(f"n/a {problem}", width=100, subsequent_indent="    "))
    return 0


def cmd_tasks(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """``distill-lib tasks``: the built-in data sets and the other accepted ``--task`` values."""
    tasks = list_tasks()
    width = max(len(name) for name in tasks)
    print("Built-in tasks (offline after one download of the vaderSentiment sdist from PyPI):")
    for name, description in tasks.items():
        lines = textwrap.wrap(description, width=96 - width, break_on_hyphens=False)
        print(f"  {name.ljust(width)}  {lines[0]}")
        for line in lines[1:]:
            print(f"  {' ' * width}  {line}")
    print()
    print(textwrap.fill(
        f"--task also accepts a local file ending in {', '.join(sorted(LOCAL_FORMATS))} (pick "
        "columns with --text-column/--label-column; split 80/10/10) or a Hugging Face Hub data "
        f"set (needs the network the first time): {', '.join(HUB_ALIASES)} or any owner/name. "
        "Evaluate on the test-only sets with `distill-lib compare --cross-domain NAME,...`.",
        width=100))
    return 0


def _size_text(value: int | None) -> str:
    return "all" if value is None else f"{value:,}"


def cmd_presets(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """``distill-lib presets``: every preset of ``compare`` with its sizes and duration."""
    for name, preset in PRESETS.items():
        config = ExperimentConfig.preset(name)
        jobs = len(config.strategies) + sum(b in config.baselines for b in ("random-init", "no-kd"))
        sizes = ", ".join(f"{key.removesuffix('_size')} {_size_text(getattr(config, key))}"
                          for key in SIZE_FIELDS)
        t, s = config.teacher_train, config.student_train
        default = " (default)" if name == DEFAULT_PRESET else ""
        print(textwrap.fill(f"{name}{default}: {preset.description}", width=100,
                            subsequent_indent="  "))
        print(textwrap.fill(f"time: {preset.duration}", width=100, initial_indent="  ",
                            subsequent_indent="    "))
        print(f"  teacher {config.teacher} -> {config.student_layers} student layers")
        print(f"  task {config.task}: {sizes} sentences")
        print(f"  training: teacher {t.epochs} epoch(s) (lr {t.lr:g}, batch {t.batch_size}), "
              f"students {s.epochs} epoch(s) (lr {s.lr:g}, batch {s.batch_size})")
        print(f"  {len(config.strategies)} strategies ({', '.join(map(str, config.strategies))}) "
              f"x {len(config.seeds)} seeds ({', '.join(map(str, config.seeds))})")
        print(f"  baselines: {', '.join(config.baselines) or 'none'}")
        print(f"  cross-domain test sets: {', '.join(config.cross_domain) or 'none'}")
        print(f"  = 1 teacher fine-tuning + {jobs * len(config.seeds)} student runs; "
              f"output {config.output_dir}/")
        print()
    print(f"Override any of these with options: `{PROG} compare --help`.")
    return 0


# ---------------------------------------------------------------------------------------------
# The parser


def _preset_lines() -> str:
    lines = []
    for name, preset in PRESETS.items():
        note = textwrap.wrap(f"{preset.description}; {preset.duration}", width=80)
        lines.append(f"  {name:16}{note[0]}")
        lines.extend(f"{'':18}{line}" for line in note[1:])
    return "\n".join(lines)


def _default(field: str) -> str:
    """The default preset's value of a size field, for help texts."""
    return _size_text(PRESETS[DEFAULT_PRESET].values.get(field))
