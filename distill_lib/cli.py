"""The ``distill-lib`` command (also ``python -m distill_lib``).

Sub-commands::

    distill-lib compare [--preset NAME] [options]   run (or resume) a comparison, print results
    distill-lib report --output-dir runs/quick       print a finished comparison again, no training
    distill-lib layers --teacher-layers 12 --student-layers 6   every strategy's layer map
    distill-lib tasks                                the built-in data sets
    distill-lib presets                              the presets of ``compare`` and their sizes

The CLI only parses. Options override fields of an :class:`~distill_lib.experiment.ExperimentConfig`
built from a preset; the config and :func:`~distill_lib.experiment.validate` check them (where
each fact is owned) before anything is trained or written; a ``ValueError`` is a usage error (2).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

from . import experiment
from ._io import quiet_libraries
from .cli_listings import (  # the listing commands and the names they share with this module
    PROG,
    SIZE_FIELDS,
    _default,
    _one_line,
    _preset_lines,
    cmd_layers,
    cmd_presets,
    cmd_tasks,
)
from .experiment import BASELINES, DEFAULT_PRESET, PRESETS, RECIPES, ExperimentConfig
from .layers import ALIASES, DATA_DRIVEN, STRATEGIES
from .teacher import TEACHERS

# Only light modules above (no torch, transformers, datasets, pandas or scipy), so that --help,
# `layers`, `tasks` and `presets` answer at once; `compare` and `report` import the heavy ones
# (experiment.runner, experiment.results) when they run. tests/test_cli.py checks this.

_STARTED = time.perf_counter()  # the command's wall time is printed from here (imports included)

ALL = "all"
"""Value of the size options that means every sentence."""
USAGE_ERRORS = (ValueError, FileNotFoundError, ConnectionError)
REDO_WITH_COMPARE = f"run `{PROG} compare` with the same options to redo it"
"""What ``report`` (which trains nothing) says about a damaged run file it set aside."""

Handler = Callable[[argparse.Namespace, argparse.ArgumentParser], int]


# ---------------------------------------------------------------------------------------------
# argparse plumbing: one-line errors, help wrapped at 100 columns


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
        "recipes": args.recipes,
        "recipe_strategies": args.recipe_strategies,
        "budgets": args.budgets,
        "budget_strategies": args.budget_strategies,
        "distilbert_strategies": args.distilbert_strategies,
        "footprint": args.footprint,
        "student_train": base.student_train.replace(**train),
        "teacher_train": base.teacher_train.replace(**teacher),
    }
    changes = {k: v for k, v in changes.items() if v is not None}
    for name in SIZE_FIELDS:
        value = getattr(args, name)
        if value is not None:
            changes[name] = None if value == ALL else value
    return ExperimentConfig.from_preset(args.preset, changes)  # (fitting the preset's axes)


def _option_names(parser: argparse.ArgumentParser) -> dict[str, str]:
    """Each option's ``dest`` (the config field it sets) -> the option: ``output_dir`` ->
    ``--output-dir``, read from the parser's own actions."""
    return {
        action.dest: max(action.option_strings, key=len)
        for action in parser._actions
        if action.option_strings and action.dest != "help"
    }


def _in_option_terms(message: str, options: dict[str, str]) -> str:
    """``message`` with the config fields it names written as the options the user typed.

    A field with an underscore (``output_dir``) is a name wherever it stands; a one-word field
    (``workers``, ``teacher``) only as the subject of ``... must ...``, since elsewhere it may be
    a word of the sentence ("more layers than its teacher"). Quoted text, paths and
    ``name=value`` code are left alone.
    """
    names = "|".join(re.escape(name) for name in sorted(options, key=len, reverse=True))
    if not names:
        return message

    def option(match: re.Match[str]) -> str:
        name = match.group(0)
        is_field = "_" in name or message.startswith(" must ", match.end())
        return options[name] if is_field else name

    return re.sub(rf"(?<![\w./'\"-])(?:{names})(?![\w/'\"=-])", option, message)


def _figures_dir(args: argparse.Namespace) -> str | None:
    return None if args.no_figures else args.figures_dir


def print_results(results: experiment.Results, args: argparse.Namespace) -> int:
    """Print the report and where the files are; draw the figures unless ``--no-figures``."""
    from .experiment.beyond import beyond_lines  # (pandas: imported once there are results)
    print("\n" + "\n".join([results.report(), *beyond_lines(results)]))
    out = Path(results.output_dir)
    print(f"results: {out}/ (config.json, summary.md, summary.csv, pairwise.csv, runs.csv)")
    print(f"run JSONs: {out / 'runs'}/ (one per student run: {len(results.runs)}, and the "
          f"teacher's evaluation); teacher checkpoint: {out}/teacher-*/")
    figures_dir = _figures_dir(args)
    if figures_dir is not None:
        prefix = args.figures_prefix
        _draw_figures(results, figures_dir, f"{out.resolve().name}-" if prefix is None else prefix)
    print(f"wall time of this command: {(time.perf_counter() - _STARTED) / 60:.1f} min")
    return 0


def _draw_figures(results: experiment.Results, folder: str, prefix: str) -> None:
    from .plots import plot_all  # matplotlib is slow to import: only when drawing

    start = time.perf_counter()
    figures = plot_all(results, folder=folder, prefix=prefix)
    print(f"figures: {folder}/ ({sum(len(p) for p in figures.values())} files, drawn in "
          f"{time.perf_counter() - start:.1f} s)")
    for name, paths in figures.items():
        print(f"  {name}: {', '.join(str(p) for p in paths)}")


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
        executor = _cluster_executor(args.scheduler)
    except USAGE_ERRORS as err:
        parser.error(_in_option_terms(str(err), _option_names(parser)))
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
                config, progress=progress, log=None if args.quiet else print, executor=executor
            )
    except (ConnectionError, FileNotFoundError, RuntimeError) as err:
        print(f"{parser.prog}: error: {_one_line(err)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"\ninterrupted: finished runs are saved in {store.runs_dir}/; run the same "
              "command again to resume", file=sys.stderr)
        return 130
    return print_results(results, args)


def _cluster_executor(address: str | None) -> Any:
    """The executor of a Dask client connected to ``address`` (None: local processes)."""
    if address is None:
        return None
    try:
        from distributed import Client
    except ImportError:
        raise ValueError("--scheduler needs Dask's distributed package: pip install -e "
                         "'.[cluster]' (or pip install distributed)") from None
    try:
        return Client(address, timeout="10s").get_executor()
    except (OSError, TimeoutError) as err:
        raise ConnectionError(f"--scheduler {address}: cannot connect ({_one_line(err)})") from None


def _check_results_folder(folder: str) -> None:
    """A file where ``report --output-dir`` needs a folder is a usage error. (A folder that
    does not exist is left to :func:`~distill_lib.experiment.load_results`: no comparison.)"""
    path = Path(folder)
    existing = next((part for part in (path, *path.parents) if part.exists()), None)
    if existing is None or existing.is_dir():
        return
    if existing == path:
        raise ValueError(f"--output-dir {folder!r} is a file, not a folder")
    raise ValueError(f"--output-dir {folder!r} cannot be a folder: {existing} is a file")


def cmd_report(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """``distill-lib report``: print a finished comparison again, rewrite its tables and redraw
    its figures (no training, no network)."""
    from .experiment import story  # pandas: only when a report is made
    from .experiment.runner import check_writable

    try:
        _check_results_folder(args.output_dir)
        if args.readme is not None:  # before any work: a missing marker pair is a usage error
            story.check_markers(args.readme, Path(args.output_dir).resolve().name)
        if _figures_dir(args) is not None:
            check_writable(args.figures_dir, "--figures-dir")
        results = experiment.load_results(
            args.output_dir, partial=True, log=lambda line: print(line, file=sys.stderr),
            redo_hint=REDO_WITH_COMPARE,
        )
    except USAGE_ERRORS as err:
        parser.error(str(err))
    if not results.missing:
        experiment.save_all_tables(results)  # tables of the current code, from the same JSONs
    code = print_results(results, args)
    return _write_readme(results, args.readme, parser.prog) if args.readme else code


def _write_readme(results: experiment.Results, readme: str, prog: str) -> int:
    """Rewrite the run's generated section of ``readme`` (not from an incomplete run)."""
    from .experiment import story

    name = story.folder_name(results)
    if results.missing:
        print(f"{prog}: error: {readme} not rewritten: {len(results.missing)} run(s) of "
              f"{results.output_dir} are missing; the section is written from complete runs "
              "only", file=sys.stderr)
        return 1
    story.write_section(readme, results, name)
    start, end = story.markers(name)
    print(f"{readme}: rewrote the section between {start} and {end}")
    return 0


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


def _add_command(
    subs: argparse._SubParsersAction, name: str, handler: Handler, summary: str,
    description: str, epilog: str | None = None,
) -> argparse.ArgumentParser:
    """Sub-command ``name``: ``summary`` in the main help, ``description`` in its own; running
    it calls ``handler(args, its parser)``."""
    sub = subs.add_parser(name, help=summary, description=description, epilog=epilog,
                          formatter_class=_Formatter)
    sub.set_defaults(handler=handler, subparser=sub)
    return sub


def _add_compare(subs: argparse._SubParsersAction) -> None:
    compare = _add_command(
        subs, "compare", cmd_compare, "compare layer-initialisation strategies (trains models)",
        "Fine-tune the teacher once, distil a student for every strategy x seed, add "
        "baselines, and print the results table, the pairwise significance tests and the "
        "teacher/student efficiency. Options override the preset.",
        COMPARE_EPILOG,
    )
    compare.add_argument("--preset", default=DEFAULT_PRESET, choices=list(PRESETS),
                         help=f"sized defaults (default {DEFAULT_PRESET}): {', '.join(PRESETS)}")
    _add_what_options(compare.add_argument_group("what to compare"))
    _add_model_options(compare.add_argument_group("models"))
    _add_data_options(compare.add_argument_group("data"))
    _add_training_options(compare.add_argument_group("training"))
    output = compare.add_argument_group("output")
    output.add_argument("--output-dir", metavar="DIR",
                        help="folder for run JSONs, tables and the teacher "
                        "(default: runs/<preset>)")
    _add_figure_options(output)
    output.add_argument("--no-progress", action="store_true", help="no progress bars")
    output.add_argument("-q", "--quiet", action="store_true",
                        help="no progress bars and no per-run lines; only the final report")


def _add_what_options(what: argparse._ArgumentGroup) -> None:
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


def _add_model_options(model: argparse._ArgumentGroup) -> None:
    model.add_argument("--teacher", metavar="NAME",
                       help=f"{', '.join(TEACHERS)} (offline), a Hub name (bert-base-uncased) or "
                       "a model folder")
    model.add_argument("--student-layers", type=_positive_int, metavar="K",
                       help="student depth, at most the teacher's")


def _add_data_options(data: argparse._ArgumentGroup) -> None:
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


def _add_training_options(train: argparse._ArgumentGroup) -> None:
    train.add_argument("--epochs", type=_positive_int, metavar="N", help="epochs of every student")
    train.add_argument("--teacher-epochs", type=_positive_int, metavar="N",
                       help="epochs of the teacher")
    train.add_argument("--recipes", type=_items, metavar="LIST",
                       help=f"loss recipes to compare: {', '.join(RECIPES)} (logits: the main "
                       "runs; the others add an intermediate loss)")
    train.add_argument("--recipe-strategies", type=_items, metavar="LIST", help="strategies the "
                       "other recipes train (default: all)")
    train.add_argument("--budgets", type=_ints, metavar="LIST",
                       help="training budgets in epochs, e.g. 2,8,16: a learning curve at a "
                       "constant learning rate, one run per strategy and seed at the largest")
    train.add_argument("--budget-strategies", type=_items, metavar="LIST",
                       help="strategies of the budget axis (default: all; may add random-init)")
    train.add_argument("--distilbert-strategies", type=_items, metavar="LIST",
                       help="strategies also trained as DistilBERT students (BERT teachers)")
    train.add_argument("--footprint", action=argparse.BooleanOptionalAction,
                       help="size, latency, accuracy (and int8) after the runs")
    train.add_argument("--device", choices=["auto", "cpu", "cuda", "mps"],
                       help="where to train (default auto: a GPU if there is one)")
    train.add_argument("--workers", type=_positive_int, metavar="N",
                       help="processes training student runs side by side (default: 2 on a "
                       "CPU with 2+ cores, 1 on a GPU; 1 = this process only)")
    train.add_argument("--scheduler", metavar="ADDRESS",
                       help="a Dask distributed scheduler, e.g. tcp://host:8786: the student "
                       "runs train on its workers, --workers at a time (pip install -e "
                       "'.[cluster]'; the workers need distill_lib and the output folder)")


def _add_figure_options(sub: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    sub.add_argument("--figures-dir", default="figures", metavar="DIR",
                     help="folder for the figures (PNG and SVG; default: figures)")
    sub.add_argument("--figures-prefix", default=None, metavar="TEXT",
                     help="prefix of the figure file names (default: the output folder's name and "
                     "'-', e.g. figures/quick-accuracy.png for runs/quick)")
    sub.add_argument("--no-figures", action="store_true", help="do not draw figures")


def _add_report(subs: argparse._SubParsersAction) -> None:
    report = _add_command(
        subs, "report", cmd_report,
        "print a finished comparison again and redraw its figures (no training)",
        "Load the results of a finished `compare` from its output folder (its JSONs only: no "
        "teacher, data or network), print them, rewrite its tables and redraw the figures; with "
        "--readme, also rewrite the run's generated section of a Markdown file.",
        f"examples:\n  {PROG} report --output-dir runs/quick --figures-dir figures/quick\n"
        f"  {PROG} report --output-dir runs/standard --readme README.md --no-figures",
    )
    report.add_argument("--output-dir", required=True, metavar="DIR",
                        help="the output folder of `compare`")
    report.add_argument("--readme", metavar="FILE",
                        help="rewrite the text between <!-- generated:NAME:start --> and "
                        "<!-- generated:NAME:end --> in FILE (NAME: the output folder's name, "
                        "e.g. standard) with the results, generated from the JSONs")
    _add_figure_options(report)


def _add_layers(subs: argparse._SubParsersAction) -> None:
    layers = _add_command(
        subs, "layers", cmd_layers, "show which teacher layers every strategy keeps",
        "Print every strategy's 0-indexed teacher layers for one teacher/student depth, with "
        "the aliases found in papers.",
        f"examples:\n  {PROG} layers --teacher-layers 12 --student-layers 6\n"
        f"  {PROG} layers --teacher-layers 6 --student-layers 3 --seed 1",
    )
    layers.add_argument("--teacher-layers", type=_positive_int, default=12, metavar="N",
                        help="teacher depth (default 12)")
    layers.add_argument("--student-layers", type=_positive_int, default=6, metavar="K",
                        help="student depth (default 6)")
    layers.add_argument("--seed", type=_int, default=0, help="seed of the random strategy (0)")


def _add_listings(subs: argparse._SubParsersAction) -> None:
    """``tasks`` and ``presets``: no options."""
    _add_command(subs, "tasks", cmd_tasks, "list the built-in tasks",
                 "List the built-in data sets and the other values --task accepts.")
    _add_command(subs, "presets", cmd_presets, "show the presets of compare and their sizes",
                 "Show every preset of `compare`: models, data sizes, epochs, seeds, runs and how "
                 "long it took.")


def build_parser() -> argparse.ArgumentParser:
    """The ``distill-lib`` argument parser with its sub-commands."""
    from . import __version__

    parser = _Parser(
        prog=PROG,
        description="Which teacher layers should initialise a distilled transformer student? "
        "Run the comparison, inspect layer maps, tasks and presets.",
        epilog=MAIN_EPILOG,
        formatter_class=_Formatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subs = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for add in (_add_compare, _add_report, _add_layers, _add_listings):
        add(subs)
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
        handler: Handler = args.handler
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
