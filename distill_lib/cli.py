"""The ``distill-lib`` command (also ``python -m distill_lib``).

Sub-commands::

    distill-lib compare [--preset NAME] [options]   run (or resume) a comparison, print results
    distill-lib report --output-dir runs/quick       print a finished comparison again, no training
    distill-lib layers --teacher-layers 12 --student-layers 6   every strategy's layer map
    distill-lib tasks                                the built-in data sets
    distill-lib presets                              the presets of ``compare`` and their sizes

The CLI only parses. Options override fields of an
:class:`~distill_lib.experiment.ExperimentConfig` built from a preset; the config and
:func:`~distill_lib.experiment.validate` check them (where each fact is owned) before anything
is trained or written, and their ``ValueError`` becomes a one-line usage error with exit code 2.
"""

from __future__ import annotations

import argparse
import os
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

from . import experiment
from ._io import quiet_libraries
from .data import HUB_ALIASES, LOCAL_FORMATS, list_tasks
from .experiment import BASELINES, DEFAULT_PRESET, PRESETS, ExperimentConfig
from .layers import ALIASES, DATA_DRIVEN, STRATEGIES, select_layers
from .teacher import TEACHERS

# Only light modules above (no torch, transformers, datasets, pandas or scipy), so that --help,
# `layers`, `tasks` and `presets` answer at once; `compare` and `report` import the heavy ones
# (experiment.runner, experiment.results) when they run. tests/test_cli.py checks this.

_STARTED = time.perf_counter()  # the command's wall time is printed from here (imports included)

PROG = "distill-lib"
ALL = "all"
"""Value of the size options that means every sentence."""
SIZE_FIELDS = ("train_size", "validation_size", "test_size")
USAGE_ERRORS = (ValueError, FileNotFoundError, ConnectionError)


# ---------------------------------------------------------------------------------------------
# argparse plumbing: one-line errors, help wrapped at 100 columns


def _one_line(message: object) -> str:
    return " ".join(str(message).split())


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line: ``<prog>: error: <message>``, exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {_one_line(message)}\n")


class _Formatter(argparse.HelpFormatter):
    """Wrap help at 100 columns; keep paragraphs with indented lines (examples) as written."""

    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=32, width=100)

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        paragraphs = []
        for paragraph in text.strip("\n").split("\n\n"):
            lines = paragraph.splitlines()
            if any(line.startswith(" ") for line in lines):
                paragraphs.append("\n".join(indent + line for line in lines))
            else:
                paragraphs.append(textwrap.fill(" ".join(lines), width, initial_indent=indent,
                                                subsequent_indent=indent))
        return "\n\n".join(paragraphs)


# ---------------------------------------------------------------------------------------------
# Option types: parsing only (what the values mean is checked by the config)


def _items(text: str) -> list[str]:
    """Items of a comma-separated list, stripped; at least one."""
    items = [item.strip() for item in text.split(",") if item.strip()]
    if not items:
        raise argparse.ArgumentTypeError("give at least one item, e.g. a,b")
    return items


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None


def _positive_int(text: str) -> int:
    value = _int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _ints(text: str) -> list[int]:
    """``0,1,2``: integers separated by commas."""
    values = []
    for item in _items(text):
        try:
            values.append(int(item))
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected integers separated by commas (e.g. 0,1,2); {item!r} is not one"
            ) from None
    return values


def _none_or_items(text: str) -> list[str]:
    """A comma list, or ``none`` for an empty one (``all`` is kept for the caller)."""
    items = _items(text)
    return [] if [i.lower() for i in items] == ["none"] else items


def _size(text: str) -> int | str:
    """A number of sentences or ``all``."""
    return ALL if text.strip().lower() == ALL else _int(text)


# ---------------------------------------------------------------------------------------------
# compare: the config of the options


def build_config(args: argparse.Namespace) -> ExperimentConfig:
    """The preset's :class:`ExperimentConfig` with the options' overrides.

    Raises:
        ValueError: an option the config rejects (its message names the field and the fix).
    """
    base = ExperimentConfig.preset(args.preset)
    strategies: list[Any] = list(args.strategies or base.strategies) + list(args.layers or [])
    student_layers = args.student_layers
    if student_layers is None and args.layers:
        lengths = sorted({len(layers) for layers in args.layers})
        if len(lengths) > 1:
            raise ValueError(
                f"the --layers maps have different lengths {lengths}; every map needs one index "
                "per student layer (set --student-layers)"
            )
        student_layers = lengths[0]
    baselines = args.baselines
    if baselines is not None and [b.lower() for b in baselines] == [ALL]:
        baselines = list(BASELINES)
    train: dict[str, Any] = {}
    teacher: dict[str, Any] = {}
    if args.epochs is not None:
        train["epochs"] = args.epochs
    if args.teacher_epochs is not None:
        teacher["epochs"] = args.teacher_epochs
    if args.device is not None:
        train["device"] = teacher["device"] = args.device
    changes: dict[str, Any] = {
        "teacher": args.teacher,
        "task": args.task,
        "text_column": args.text_column,
        "label_column": args.label_column,
        "student_layers": student_layers,
        "strategies": strategies,
        "seeds": args.seeds,
        "baselines": baselines,
        "cross_domain": args.cross_domain,
        "output_dir": args.output_dir,
        "workers": args.workers,
        "student_train": base.student_train.replace(**train),
        "teacher_train": base.teacher_train.replace(**teacher),
    }
    changes = {k: v for k, v in changes.items() if v is not None}
    for name in SIZE_FIELDS:
        value = getattr(args, name)
        if value is not None:
            changes[name] = None if value == ALL else value
    return base.replace(**changes)


def _figures_dir(args: argparse.Namespace) -> str | None:
    return None if args.no_figures else args.figures_dir


def print_results(results: experiment.Results, args: argparse.Namespace) -> int:
    """Print the report and where the files are; draw the figures unless ``--no-figures``."""
    print()
    print(results.report())
    out = Path(results.output_dir)
    print(f"results: {out}/ (config.json, summary.md, summary.csv, pairwise.csv, runs.csv)")
    print(f"run JSONs: {out / 'runs'}/ (one per student run: {len(results.runs)}, and the "
          f"teacher's evaluation); teacher checkpoint: {out}/teacher-*/")
    figures_dir = _figures_dir(args)
    if figures_dir is None:
        print(f"wall time of this command: {(time.perf_counter() - _STARTED) / 60:.1f} min")
        return 0
    from .plots import plot_all  # matplotlib is slow to import: only when drawing

    prefix = args.figures_prefix
    if prefix is None:
        prefix = f"{out.resolve().name}-"
    start = time.perf_counter()
    figures = plot_all(results, folder=figures_dir, prefix=prefix)
    print(f"figures: {figures_dir}/ ({sum(len(p) for p in figures.values())} files, drawn in "
          f"{time.perf_counter() - start:.1f} s)")
    for name, paths in figures.items():
        print(f"  {name}: {', '.join(str(p) for p in paths)}")
    print(f"wall time of this command: {(time.perf_counter() - _STARTED) / 60:.1f} min")
    return 0


# ---------------------------------------------------------------------------------------------
# Commands


def cmd_compare(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """``distill-lib compare``: check every option, then run or resume the comparison."""
    from .experiment.runner import check_writable  # torch, transformers: only to compare

    try:
        config = build_config(args)
        n_teacher = experiment.validate(config)
        if _figures_dir(args) is not None:
            check_writable(args.figures_dir, "--figures-dir")
        jobs = experiment.plan(config, n_teacher)
    except USAGE_ERRORS as err:
        parser.error(str(err))
    store = experiment.RunStore(config.output_dir)
    done = sum(store.is_finished(job) for job in jobs)
    say = (lambda *_: None) if args.quiet else print
    say(f"compare ({args.preset}): teacher {config.teacher} ({n_teacher} layers) -> "
        f"{config.student_layers} layers; task {config.task}; strategies "
        f"{', '.join(dict.fromkeys(j.name for j in jobs if j.kind == 'strategy'))} x "
        f"{len(config.seeds)} seed(s); baselines: {', '.join(config.baselines) or 'none'}")
    say(f"{len(jobs)} student runs, {done} finished earlier, {len(jobs) - done} to train; "
        f"output: {config.output_dir}/")
    sys.stdout.flush()
    progress = not (args.quiet or args.no_progress)
    try:
        with quiet_libraries(progress=progress, warnings=not args.quiet):
            results = experiment.compare_strategies(
                config, progress=progress, log=None if args.quiet else print
            )
    except (ConnectionError, FileNotFoundError, RuntimeError) as err:
        print(f"{parser.prog}: error: {_one_line(err)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"\ninterrupted: finished runs are saved in {store.runs_dir}/; run the same "
              "command again to resume", file=sys.stderr)
        return 130
    return print_results(results, args)


def cmd_report(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """``distill-lib report``: print a finished comparison again, rewrite its tables and redraw
    its figures (no training, no network)."""
    from .experiment.runner import check_writable

    try:
        if _figures_dir(args) is not None:
            check_writable(args.figures_dir, "--figures-dir")
        results = experiment.load_results(
            args.output_dir, partial=True, log=lambda line: print(line, file=sys.stderr)
        )
    except USAGE_ERRORS as err:
        parser.error(str(err))
    if not results.missing:
        results.save_tables()  # tables of the current code, from the same JSONs
    return print_results(results, args)


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
        "Aliases: papers that draw layer 1 at the top of the figure (BERT-PKD, 'How to distill "
        "your BERT') call the first k layers 'top-k'; here positions count from the embeddings, "
        "so top-k = first (nearest the embeddings) and bottom-k = last (nearest the "
        "classifier). 'skip'/'alternate' = even (PKD-Skip), 'distilbert' = uniform. Pass any "
        "name or alias to `compare --strategies`, or an explicit map with `compare --layers "
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


COMPARE_EPILOG = f"""\
presets (see `{PROG} presets`):
{_preset_lines()}

examples:
  {PROG} compare                                  # the {DEFAULT_PRESET} preset, offline
  {PROG} compare --strategies first,last,uniform --seeds 0,1,2
  {PROG} compare --layers 0,2,5 --strategies uniform  # one custom map against uniform
  {PROG} compare --preset classic                 # 12 -> 6 layers, offline (mpnet-base)
  {PROG} compare --preset bert-base-sst2 --device cuda   # 12 -> 6 on GLUE SST-2 (Hub, GPU)
  {PROG} compare --task reviews.csv --text-column review --label-column sentiment

Every option is checked before any training; re-running a command skips the runs that finished
earlier (their JSONs are in <output-dir>/runs/), so an interrupted comparison resumes.
"""

MAIN_EPILOG = f"""\
examples:
  {PROG} compare                         # the quick, offline comparison
  {PROG} layers --teacher-layers 12 --student-layers 6
  {PROG} tasks
  {PROG} presets
  {PROG} report --output-dir runs/quick

`{PROG} <command> --help` describes each command's options.
"""


def _add_figure_options(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("--figures-dir", default="figures", metavar="DIR",
                     help="folder for the figures (PNG and SVG; default: figures)")
    sub.add_argument("--figures-prefix", default=None, metavar="TEXT",
                     help="prefix of the figure file names (default: the output folder's name and "
                     "'-', e.g. figures/quick-accuracy.png for runs/quick)")
    sub.add_argument("--no-figures", action="store_true", help="do not draw figures")


def build_parser() -> argparse.ArgumentParser:
    """The ``distill-lib`` argument parser with its sub-commands."""
    parser = _Parser(
        prog=PROG,
        description="Which teacher layers should initialise a distilled transformer student? "
        "Run the comparison, inspect layer maps, tasks and presets.",
        epilog=MAIN_EPILOG,
        formatter_class=_Formatter,
    )
    from . import __version__

    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subs = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    compare = subs.add_parser(
        "compare",
        help="compare layer-initialisation strategies (trains models)",
        description="Fine-tune the teacher once, distil a student for every strategy x seed, add "
        "baselines, and print the results table, the pairwise significance tests and the "
        "teacher/student efficiency. Options override the preset.",
        epilog=COMPARE_EPILOG,
        formatter_class=_Formatter,
    )
    compare.add_argument("--preset", default=DEFAULT_PRESET, choices=list(PRESETS),
                         help=f"sized defaults (default {DEFAULT_PRESET}): {', '.join(PRESETS)}")
    what = compare.add_argument_group("what to compare")
    what.add_argument("--strategies", type=_items, metavar="LIST",
                      help=f"comma list of strategies: {', '.join(STRATEGIES)}; measured on "
                      f"the teacher: {', '.join(DATA_DRIVEN)}; or an alias "
                      f"({', '.join(ALIASES)}); default: the preset's")
    what.add_argument("--layers", type=_ints, action="append", metavar="LIST",
                      help="an explicit map of 0-indexed teacher layers, e.g. 0,2,5; compared "
                      "with the strategies (repeat for several maps); sets --student-layers to "
                      "its length if not given")
    what.add_argument("--seeds", type=_ints, metavar="LIST",
                      help="comma list of distinct seeds, e.g. 0,1,2")
    what.add_argument("--baselines", type=_none_or_items, metavar="LIST",
                      help=f"comma list of {', '.join(BASELINES)}; or all, or none (default: all)")
    model = compare.add_argument_group("models")
    model.add_argument("--teacher", metavar="NAME",
                       help=f"{', '.join(TEACHERS)} (offline), a Hub name (bert-base-uncased) or "
                       "a model folder")
    model.add_argument("--student-layers", type=_positive_int, metavar="K",
                       help="student depth, at most the teacher's")
    data = compare.add_argument_group("data")
    data.add_argument("--task", metavar="NAME",
                      help="a built-in task (see `distill-lib tasks`), a local .csv/.tsv/.json/"
                      ".jsonl/.parquet file, or a Hub set such as glue/sst2")
    data.add_argument("--text-column", metavar="COL", help="text column of a file or Hub set")
    data.add_argument("--label-column", metavar="COL", help="label column of a file or Hub set")
    data.add_argument("--train-size", type=_size, metavar="N",
                      help=f"use N training sentences (a fixed subset), or all "
                      f"({DEFAULT_PRESET}: {_default('train_size')})")
    data.add_argument("--validation-size", type=_size, metavar="N",
                      help=f"N validation sentences, or all ({DEFAULT_PRESET}: "
                      f"{_default('validation_size')})")
    data.add_argument("--test-size", type=_size, metavar="N",
                      help=f"N test sentences, or all ({DEFAULT_PRESET}: {_default('test_size')})")
    data.add_argument("--cross-domain", type=_none_or_items, metavar="LIST",
                      help="extra test-only sets to evaluate on (e.g. tweet-snippets), or none")
    train = compare.add_argument_group("training")
    train.add_argument("--epochs", type=_positive_int, metavar="N", help="epochs of every student")
    train.add_argument("--teacher-epochs", type=_positive_int, metavar="N",
                       help="epochs of the teacher")
    train.add_argument("--device", choices=["auto", "cpu", "cuda", "mps"],
                       help="where to train (default auto: a GPU if there is one)")
    train.add_argument("--workers", type=_positive_int, metavar="N",
                       help="processes training student runs side by side (default: 2 on a "
                       "CPU with 2+ cores, 1 on a GPU; 1 = this process only)")
    output = compare.add_argument_group("output")
    output.add_argument("--output-dir", metavar="DIR",
                        help="folder for run JSONs, tables and the teacher "
                        "(default: runs/<preset>)")
    _add_figure_options(output)
    output.add_argument("--no-progress", action="store_true", help="no progress bars")
    output.add_argument("-q", "--quiet", action="store_true",
                        help="no progress bars and no per-run lines; only the final report")
    compare.set_defaults(handler=cmd_compare, subparser=compare)

    report = subs.add_parser(
        "report",
        help="print a finished comparison again and redraw its figures (no training)",
        description="Load the results of a finished `compare` from its output folder (its JSONs "
        "only: no teacher, data or network), print them and redraw the figures.",
        epilog=f"example:\n  {PROG} report --output-dir runs/quick --figures-dir figures/quick",
        formatter_class=_Formatter,
    )
    report.add_argument("--output-dir", required=True, metavar="DIR",
                        help="the output folder of `compare`")
    _add_figure_options(report)
    report.set_defaults(handler=cmd_report, subparser=report)

    layers = subs.add_parser(
        "layers",
        help="show which teacher layers every strategy keeps",
        description="Print every strategy's 0-indexed teacher layers for one teacher/student "
        "depth, with the aliases found in papers.",
        epilog=f"examples:\n  {PROG} layers --teacher-layers 12 --student-layers 6\n"
        f"  {PROG} layers --teacher-layers 6 --student-layers 3 --seed 1",
        formatter_class=_Formatter,
    )
    layers.add_argument("--teacher-layers", type=_positive_int, default=12, metavar="N",
                        help="teacher depth (default 12)")
    layers.add_argument("--student-layers", type=_positive_int, default=6, metavar="K",
                        help="student depth (default 6)")
    layers.add_argument("--seed", type=_int, default=0, help="seed of the random strategy (0)")
    layers.set_defaults(handler=cmd_layers, subparser=layers)

    tasks = subs.add_parser("tasks", help="list the built-in tasks",
                            description="List the built-in data sets and the other values "
                            "--task accepts.", formatter_class=_Formatter)
    tasks.set_defaults(handler=cmd_tasks, subparser=tasks)
    presets = subs.add_parser("presets", help="show the presets of compare and their sizes",
                              description="Show every preset of `compare`: models, data sizes, "
                              "epochs, seeds, runs and how long it took.",
                              formatter_class=_Formatter)
    presets.set_defaults(handler=cmd_presets, subparser=presets)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the ``distill-lib`` command with ``argv`` (default ``sys.argv[1:]``); return the code.

    Usage errors print one line on stderr and return 2; ``--help`` returns 0.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help(sys.stderr)
            return 2
        handler: Callable[[argparse.Namespace, argparse.ArgumentParser], int] = args.handler
        return handler(args, args.subparser)
    except BrokenPipeError:  # e.g. `distill-lib presets | head`
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except SystemExit as exit_:
        code = exit_.code
        if code is None:
            return 0
        return code if isinstance(code, int) else 1


if __name__ == "__main__":
    sys.exit(main())
