"""The ``distill-lib`` command (also ``python -m distill_lib``).

Sub-commands::

    distill-lib compare [--preset quick|standard|bert-base-sst2] [options]
        run (or resume) a comparison of layer-initialisation strategies and print the results
    distill-lib report --output-dir runs/quick
        print the results of a finished comparison again (and redraw its figures), no training
    distill-lib layers --teacher-layers 12 --student-layers 6
        the teacher layers every strategy keeps
    distill-lib tasks
        the built-in data sets (and what else --task accepts)
    distill-lib presets
        the presets of ``compare`` and their sizes

``compare`` checks every option before any work starts: a bad option ends the command with one
line on stderr (``distill-lib compare: error: ...``) and exit code 2, and nothing is trained
or written. Options override fields of :class:`~distill_lib.experiment.ExperimentConfig` built
from the chosen preset (:meth:`~distill_lib.experiment.ExperimentConfig.preset`).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import importlib.util
import os
import sys
import textwrap
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, NoReturn

from .data import HUB_ALIASES, LOCAL_FORMATS, TASKS, list_tasks, load_task
from .experiment import BASELINES, PRESETS, ExperimentConfig
from .layers import ALIASES, STRATEGIES, canonical_strategy, describe_strategy, select_layers
from .teacher import TEACHERS

PROG = "distill-lib"

PRESET_NOTES: dict[str, str] = {
    "quick": "the offline default: MiniLM-L6 teacher -> 3 layers on a subset of the movie "
    "snippets, about 7 minutes on 2 CPU cores",
    "standard": "offline, all movie-snippet training sentences, 3 seeds, a few epochs and the "
    "three cross-domain test sets; much longer than quick on a CPU",
    "bert-base-sst2": "the classic experiment, bert-base-uncased 12 -> 6 layers on GLUE SST-2; "
    "needs the Hugging Face Hub and a GPU",
}
"""One line per preset of :data:`~distill_lib.experiment.PRESETS` for ``--help`` and ``presets``."""

ALL = "all"
"""Value of ``--train-size``/``--validation-size``/``--test-size`` that means every sentence."""

SIZE_FIELDS = ("train_size", "validation_size", "test_size")


# ---------------------------------------------------------------------------------------------
# argparse plumbing


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
                paragraphs.append(
                    textwrap.fill(
                        " ".join(lines), width, initial_indent=indent, subsequent_indent=indent
                    )
                )
        return "\n\n".join(paragraphs)


def _one_line(message: object) -> str:
    """Collapse a (possibly multi-line) message into one line."""
    return " ".join(str(message).split())


def _split(text: str) -> list[str]:
    """Items of a comma-separated list, stripped, empty items dropped."""
    return [item.strip() for item in text.split(",") if item.strip()]


def _int_list(text: str, what: str) -> list[int]:
    items = _split(text)
    if not items:
        raise argparse.ArgumentTypeError(f"give at least one {what}, e.g. 0,1,2")
    values = []
    for item in items:
        try:
            values.append(int(item))
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{what}s must be integers separated by commas (e.g. 0,1,2); {item!r} is not one"
            ) from None
    return values


def _seeds(text: str) -> list[int]:
    """``--seeds 0,1,2``: distinct non-negative integers."""
    seeds = _int_list(text, "seed")
    negative = [s for s in seeds if s < 0]
    if negative:
        raise argparse.ArgumentTypeError(f"seeds must be >= 0, got {negative}")
    dups = sorted({s for s in seeds if seeds.count(s) > 1})
    if dups:
        raise argparse.ArgumentTypeError(f"duplicate seeds {dups} in {text!r}; list each once")
    return seeds


def _strategies(text: str) -> list[str]:
    """``--strategies first,last,top-k``: canonical strategy names (aliases resolved)."""
    names = _split(text)
    if not names:
        raise argparse.ArgumentTypeError("give at least one strategy, e.g. first,last,uniform")
    out: list[str] = []
    for name in names:
        try:
            canonical = canonical_strategy(name)
        except ValueError as err:
            raise argparse.ArgumentTypeError(str(err)) from None
        if canonical in out:
            raise argparse.ArgumentTypeError(
                f"strategy {canonical!r} is listed twice in {text!r} (an alias names the same "
                "strategy as its positional name; see `distill-lib layers`)"
            )
        out.append(canonical)
    return out


def _layer_list(text: str) -> list[int]:
    """``--layers 0,2,5``: one explicit map of 0-indexed teacher layers."""
    layers = _int_list(text, "layer index")
    dups = sorted({i for i in layers if layers.count(i) > 1})
    if dups:
        raise argparse.ArgumentTypeError(f"duplicate layer indices {dups} in {text!r}")
    negative = [i for i in layers if i < 0]
    if negative:
        raise argparse.ArgumentTypeError(f"layer indices are 0-indexed and >= 0, got {negative}")
    return sorted(layers)


def _baselines(text: str) -> list[str]:
    """``--baselines majority,teacher``, ``all`` or ``none``."""
    names = _split(text)
    if [n.lower() for n in names] == ["none"]:
        return []
    if [n.lower() for n in names] == [ALL]:
        return list(BASELINES)
    unknown = [n for n in names if n not in BASELINES]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown baselines {unknown}; choose from {', '.join(BASELINES)}, or all, or none"
        )
    return list(dict.fromkeys(names))


def _names_or_none(text: str) -> list[str]:
    """``--cross-domain a,b`` or ``none``."""
    names = _split(text)
    if [n.lower() for n in names] == ["none"]:
        return []
    if not names:
        raise argparse.ArgumentTypeError("give task names separated by commas, or none")
    return list(dict.fromkeys(names))


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _size(text: str) -> int | str:
    """A number of sentences (>= 2) or ``all``."""
    if text.strip().lower() == ALL:
        return ALL
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a number of sentences (an integer >= 2) or 'all', got {text!r}"
        ) from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"a size cannot be negative, got {value}")
    if value < 2:
        raise argparse.ArgumentTypeError(f"must be at least 2 sentences (or 'all'), got {value}")
    return value


def _size_text(value: int | None) -> str:
    return "all" if value is None else f"{value:,}"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _lr(value: float) -> str:
    return f"{value:.0e}".replace("e-0", "e-")


def _fmt_list(values: Sequence[Any]) -> str:
    return ", ".join(str(v) for v in values) if len(values) else "none"


# ---------------------------------------------------------------------------------------------
# compare: config building and checks (no training, no writing)


def build_config(args: argparse.Namespace) -> ExperimentConfig:
    """The :class:`ExperimentConfig` of ``compare``'s options: the preset plus overrides.

    Raises:
        ValueError: an option the config rejects (its message says which and why).
    """
    base = ExperimentConfig.preset(args.preset)
    strategies: list[str | list[int]] = list(args.strategies or base.strategies)
    custom: list[list[int]] = args.layers or []
    for layers in custom:
        if layers in strategies:
            raise ValueError(f"--layers {describe_strategy(layers)} is given twice")
        strategies.append(layers)
    student_layers = args.student_layers
    if student_layers is None and custom:
        lengths = {len(layers) for layers in custom}
        if len(lengths) > 1:
            raise ValueError(
                f"the --layers maps have different lengths {sorted(lengths)}; every map needs "
                "one index per student layer (set --student-layers)"
            )
        student_layers = lengths.pop()

    train_changes: dict[str, Any] = {}
    teacher_changes: dict[str, Any] = {}
    if args.epochs is not None:
        train_changes["epochs"] = args.epochs
    if args.teacher_epochs is not None:
        teacher_changes["epochs"] = args.teacher_epochs
    if args.device is not None:
        train_changes["device"] = teacher_changes["device"] = args.device

    overrides: dict[str, Any] = {
        "teacher": args.teacher,
        "task": args.task,
        "text_column": args.text_column,
        "label_column": args.label_column,
        "student_layers": student_layers,
        "strategies": strategies,
        "seeds": args.seeds,
        "baselines": args.baselines,
        "cross_domain": args.cross_domain,
        "output_dir": args.output_dir,
        "student_train": base.student_train.replace(**train_changes),
        "teacher_train": base.teacher_train.replace(**teacher_changes),
    }
    every: dict[str, None] = {}
    for name in SIZE_FIELDS:
        value = getattr(args, name)
        if value == ALL:
            every[name] = None  # preset() ignores None overrides, so set these afterwards
        else:
            overrides[name] = value
    config = ExperimentConfig.preset(args.preset, **overrides)
    if every:
        config = dataclasses.replace(config, **every)
    return config


def _looks_local(name: str) -> bool:
    path = Path(name).expanduser()
    return (
        Path(name).suffix.lower() in LOCAL_FORMATS
        or name.startswith(("/", ".", "~"))
        or path.exists()
    )


def check_task(
    name: str,
    text_column: str | None = None,
    label_column: str | None = None,
    *,
    option: str = "--task",
    train: bool = True,
) -> None:
    """Check that a task can be loaded, without contacting the Hub.

    Built-in names are accepted (their data comes from the cache or PyPI); local files must
    exist and are loaded once here (offline) so that a wrong column fails now; a name with a
    ``/`` or a known Hub alias is accepted and, without a network, fails later with the data
    module's ``ConnectionError``.

    Raises:
        ValueError, FileNotFoundError: the task cannot be used; the message says why.
    """
    if name in TASKS:
        if TASKS[name].test_only and train:
            trainable = [n for n, info in TASKS.items() if not info.test_only]
            raise ValueError(
                f"{option} {name!r} is a test-only set; train on {', '.join(trainable)}, a local "
                f"file or a Hub set, and evaluate on {name!r} with --cross-domain {name}"
            )
        if text_column or label_column:
            raise ValueError(
                f"{name!r} is a built-in task with fixed columns; --text-column and "
                "--label-column are for Hub sets and local files"
            )
        return
    if _looks_local(name):
        path = Path(name).expanduser()
        if not path.exists():
            raise FileNotFoundError(f"{option} {name!r}: no such data file")
        if not path.is_file() or path.suffix.lower() not in LOCAL_FORMATS:
            raise ValueError(
                f"{option} {name!r} is not a data file ending in {', '.join(sorted(LOCAL_FORMATS))}"
            )
        _load_quietly(str(path), text_column, label_column)
        return
    if "/" in name or name.lower() in HUB_ALIASES:
        return  # a Hub set: loaded (or refused with a ConnectionError) when the run starts
    raise ValueError(
        f"unknown {option} {name!r}: not a built-in task ({', '.join(TASKS)}), not an existing "
        f"file, and not a Hub name (owner/name, or one of {', '.join(HUB_ALIASES)}); "
        f"see `{PROG} tasks`"
    )


def _load_quietly(path: str, text_column: str | None, label_column: str | None) -> None:
    """``load_task`` a local file without the ``datasets`` progress bars on stderr."""
    import datasets

    were_disabled = datasets.are_progress_bars_disabled()
    datasets.disable_progress_bars()
    try:
        load_task(path, text_column=text_column, label_column=label_column)
    finally:
        if not were_disabled:
            datasets.enable_progress_bars()


def check_teacher(name: str) -> None:
    """A teacher given as a local path must be a model folder (``config.json`` inside)."""
    if name.lower() in TEACHERS:
        return
    path = Path(name).expanduser()
    if (path.exists() or name.startswith(("/", ".", "~"))) and not (path / "config.json").is_file():
        raise ValueError(
            f"--teacher {name!r} is not a model folder (a folder with config.json written by "
            "save_pretrained); or use 'minilm-l6' or a Hub name such as bert-base-uncased"
        )


def check_writable(folder: str | os.PathLike, option: str) -> None:
    """Check that ``folder`` exists as a writable folder or could be created; create nothing."""
    path = Path(folder).expanduser()
    if path.exists():
        if not path.is_dir():
            raise ValueError(f"{option} {str(folder)!r} exists and is not a folder")
        if not os.access(path, os.W_OK | os.X_OK):
            raise ValueError(f"{option} {str(folder)!r} is not writable")
        return
    ancestor = path.absolute()
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise ValueError(f"{option} {str(folder)!r} cannot be created: {ancestor} is a file")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise ValueError(f"{option} {str(folder)!r} cannot be created: {ancestor} is not writable")


@contextlib.contextmanager
def _library_output(*, progress: bool, warnings: bool) -> Iterator[None]:
    """Turn off the progress bars of ``datasets``/``transformers`` (and, unless ``warnings``,
    transformers' warnings such as its load reports) for the duration; restore them after."""
    import datasets
    from transformers.utils import logging as hf_logging

    bars_were_disabled = datasets.are_progress_bars_disabled()
    hf_bars_were_enabled = hf_logging.is_progress_bar_enabled()
    verbosity = hf_logging.get_verbosity()
    if not progress:
        datasets.disable_progress_bars()
        hf_logging.disable_progress_bar()
    if not warnings:
        hf_logging.set_verbosity_error()
    try:
        yield
    finally:
        if not bars_were_disabled:
            datasets.enable_progress_bars()
        if hf_bars_were_enabled:
            hf_logging.enable_progress_bar()
        hf_logging.set_verbosity(verbosity)


def _plots_available() -> bool:
    try:
        return importlib.util.find_spec(f"{__package__}.plots") is not None
    except (ImportError, ValueError):
        return False


# ---------------------------------------------------------------------------------------------
# Printing results


def print_results(results: Any, *, figures_dir: str | None, figures_prefix: str = "") -> int:
    """Print the table, the significance summary, the efficiency line and where files went.

    Draws the figures into ``figures_dir`` (skipped when it is ``None`` or
    :mod:`distill_lib.plots` is missing). Returns the exit code (0).
    """
    config = results.config
    print()
    print(
        f"## {config.task}: teacher {config.teacher} -> {config.student_layers} student layers, "
        f"seeds {_fmt_list(config.seeds)}"
    )
    print()
    print(results.table())
    print()

    pairwise = results.pairwise
    kinds = dict(zip(results.summary["name"], results.summary["kind"], strict=False))
    if len(pairwise):
        significant = pairwise[pairwise["significant"].astype(bool)]
        strategy_pairs = pairwise[
            (pairwise["a"].map(kinds) == "strategy") & (pairwise["b"].map(kinds) == "strategy")
        ]
        n_strategy_sig = int(strategy_pairs["significant"].astype(bool).sum())
        print(
            f"pairwise: {len(significant)} of {len(pairwise)} pairs differ significantly "
            f"(paired bootstrap over seeds and test sentences, Holm-corrected p < 0.05); "
            f"between strategies: {n_strategy_sig} of {len(strategy_pairs)}"
        )
        for _, row in significant.iterrows():
            print(
                f"  {row['a']} vs {row['b']}: {row['diff']:+.4f} accuracy "
                f"(95% CI {row['ci_low']:+.4f} to {row['ci_high']:+.4f}, "
                f"p_holm {row['p_holm']:.3g})"
            )
    else:
        print(
            "pairwise: no pairs to test (need at least two strategies/baselines on the same seeds)"
        )

    eff = results.efficiency
    if eff:
        print(
            f"efficiency: the {eff['student_layers']}-layer student has {eff['param_ratio']:.2f}x "
            f"fewer parameters than the {eff['teacher_layers']}-layer teacher "
            f"({eff['student_params'] / 1e6:.1f}M vs {eff['teacher_params'] / 1e6:.1f}M) and is "
            f"{eff['speedup']:.2f}x faster (batch of {eff['batch_size']} on {eff['device']})"
        )
    else:
        print("efficiency: not measured (measure_latency is off)")

    out = Path(results.output_dir)
    checkpoint = results.teacher.get("checkpoint") or f"{out}/teacher-*"
    print(f"results: {out}/ (config.json, summary.md, summary.csv, pairwise.csv, runs.csv)")
    print(
        f"run JSONs: {out / 'runs'}/ (one per student run: {len(results.runs)}, and the "
        f"teacher's evaluation); teacher checkpoint: {checkpoint}/"
    )

    if figures_dir is None:
        return 0
    if not _plots_available():
        print(
            f"figures: skipped, distill_lib.plots is not available in this install; redraw them "
            f"later with `{PROG} report --output-dir {out}`",
            file=sys.stderr,
        )
        return 0
    from .plots import plot_all  # lazy: matplotlib is slow to import

    figures = plot_all(results, folder=figures_dir, prefix=figures_prefix)
    files = [Path(p) for paths in figures.values() for p in paths]
    print(f"figures: {figures_dir}/ ({len(files)} files)")
    for name, paths in figures.items():
        print(f"  {name}: {', '.join(str(p) for p in paths)}")
    return 0


# ---------------------------------------------------------------------------------------------
# Commands


def cmd_compare(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """``distill-lib compare``: check every option, then run or resume the comparison."""
    from .experiment import compare_strategies, plan, validate

    figures_dir = None if args.no_figures else args.figures_dir
    try:
        config = build_config(args)
        check_teacher(config.teacher)
        check_task(config.task, config.text_column, config.label_column)
        for name in config.cross_domain:
            check_task(name, option="--cross-domain", train=False)
        check_writable(config.output_dir, "--output-dir")
        if figures_dir is not None and _plots_available():
            check_writable(figures_dir, "--figures-dir")
        n_teacher = validate(config)  # reads the teacher's config only
        jobs = plan(config, n_teacher)
    except (ValueError, FileNotFoundError, ConnectionError) as err:
        parser.error(str(err))

    runs_dir = Path(config.output_dir) / "runs"
    done = sum((runs_dir / job.filename).is_file() for job in jobs)
    n_strategies = len(config.strategies)
    quiet = args.quiet
    say = (lambda *_: None) if quiet else print
    say(
        f"compare ({args.preset}): teacher {config.teacher} ({n_teacher} layers) -> "
        f"{config.student_layers} layers; task {config.task}; {n_strategies} strategies "
        f"({_fmt_list([describe_strategy(s) for s in config.strategies])}) x "
        f"{_plural(len(config.seeds), 'seed')}; baselines: {_fmt_list(config.baselines)}"
    )
    say(
        f"{len(jobs)} student runs, {done} finished earlier, {len(jobs) - done} to train; "
        f"output: {config.output_dir}/"
    )
    if figures_dir is not None and not _plots_available():
        print("note: distill_lib.plots is not available, figures will be skipped", file=sys.stderr)
    sys.stdout.flush()

    progress = not (quiet or args.no_progress)
    try:
        with _library_output(progress=progress, warnings=not quiet):
            results = compare_strategies(config, progress=progress, log=None if quiet else print)
    except (ConnectionError, FileNotFoundError) as err:
        print(f"{parser.prog}: error: {_one_line(err)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(
            f"\ninterrupted: finished runs are saved in {runs_dir}/; run the same command again "
            "to resume",
            file=sys.stderr,
        )
        return 130
    prefix = args.figures_prefix
    if prefix is None:
        prefix = f"{Path(results.output_dir).resolve().name}-"
    return print_results(results, figures_dir=figures_dir, figures_prefix=prefix)


def cmd_report(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """``distill-lib report``: print a finished comparison again (no training)."""
    from .experiment import load_results

    figures_dir = None if args.no_figures else args.figures_dir
    try:
        if figures_dir is not None and _plots_available():
            check_writable(figures_dir, "--figures-dir")
        results = load_results(args.output_dir)
    except (ValueError, FileNotFoundError, ConnectionError) as err:
        parser.error(str(err))
    prefix = args.figures_prefix
    if prefix is None:
        prefix = f"{Path(results.output_dir).resolve().name}-"
    return print_results(results, figures_dir=figures_dir, figures_prefix=prefix)


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

    print(
        textwrap.fill(
            f"{n}-layer teacher -> {k}-layer student (n = {n}, k = {k}; 0-indexed teacher "
            "layers; student layer i starts from teacher layer layers[i]):",
            width=100,
        )
    )
    print()
    header = ("strategy", "layers", "also called", "keeps")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(3)] + [0]
    for row in [header, (*("-" * w for w in widths[:3]), "-----"), *rows]:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    print()
    print(
        textwrap.fill(
            "Aliases: papers that draw layer 1 at the top of the figure (BERT-PKD, 'How to "
            "distill your BERT') call the first k layers 'top-k'; here positions count from the "
            "embeddings, so top-k = first (nearest the embeddings) and bottom-k = last (nearest "
            "the classifier). 'skip'/'alternate' = even (PKD-Skip), 'distilbert' = uniform. "
            "Pass any name or alias to `compare --strategies`, or an explicit map with "
            "`compare --layers 0,2,5`.",
            width=100,
        )
    )
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
    print(
        textwrap.fill(
            "--task also accepts a local file ending in "
            f"{', '.join(sorted(LOCAL_FORMATS))} (pick columns with --text-column/"
            "--label-column; split 80/10/10) or a Hugging Face Hub data set (needs the network "
            f"the first time): {', '.join(HUB_ALIASES)} or any owner/name. Evaluate on the "
            "test-only sets with `distill-lib compare --cross-domain NAME,...`.",
            width=100,
        )
    )
    return 0


def cmd_presets(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """``distill-lib presets``: every preset of ``compare`` with its sizes."""
    for name in PRESETS:
        config = ExperimentConfig.preset(name)
        n_trained = len(config.strategies) + sum(
            b in config.baselines for b in ("random-init", "no-kd")
        )
        sizes = ", ".join(
            f"{key.removesuffix('_size')} {_size_text(getattr(config, key))}" for key in SIZE_FIELDS
        )
        t, s = config.teacher_train, config.student_train
        default = " (default)" if name == "quick" else ""
        print(textwrap.fill(f"{name}{default}: {PRESET_NOTES.get(name, '')}", width=100))
        print(f"  teacher {config.teacher} -> {config.student_layers} student layers")
        print(f"  task {config.task}: {sizes} sentences")
        print(
            f"  training: teacher {_plural(t.epochs, 'epoch')} (lr {_lr(t.lr)}), students "
            f"{_plural(s.epochs, 'epoch')} (lr {_lr(s.lr)}), batch {s.batch_size}"
        )
        print(
            f"  {len(config.strategies)} strategies ({_fmt_list(config.strategies)}) x "
            f"{len(config.seeds)} seeds ({_fmt_list(config.seeds)})"
        )
        print(f"  baselines: {_fmt_list(config.baselines)}")
        print(f"  cross-domain test sets: {_fmt_list(config.cross_domain)}")
        print(
            f"  = 1 teacher fine-tuning + {n_trained * len(config.seeds)} student runs; "
            f"output {config.output_dir}/"
        )
        print()
    print(f"Override any of these with options: `{PROG} compare --help`.")
    return 0


# ---------------------------------------------------------------------------------------------
# The parser


def _preset_lines() -> str:
    lines = []
    for name in PRESETS:
        note = textwrap.wrap(PRESET_NOTES.get(name, ""), width=80) or [""]
        lines.append(f"  {name:16}{note[0]}")
        lines.extend(f"{'':18}{line}" for line in note[1:])
    return "\n".join(lines)


COMPARE_EPILOG = f"""\
presets (see `{PROG} presets`):
{_preset_lines()}

examples:
  {PROG} compare                                  # quick preset, offline, ~7 min on 2 cores
  {PROG} compare --strategies first,last,uniform --seeds 0,1,2
  {PROG} compare --layers 0,2,5 --strategies uniform  # one custom map against uniform
  {PROG} compare --preset standard --cross-domain none --output-dir runs/standard-nocd
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
    sub.add_argument(
        "--figures-dir",
        default="figures",
        metavar="DIR",
        help="folder for the figures (PNG and SVG; default: figures)",
    )
    sub.add_argument(
        "--figures-prefix",
        default=None,
        metavar="TEXT",
        help="prefix of the figure file names (default: the output folder's name and '-', "
        "e.g. figures/quick-accuracy.png for runs/quick)",
    )
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

    # compare ------------------------------------------------------------------------------
    compare = subs.add_parser(
        "compare",
        help="compare layer-initialisation strategies (trains models)",
        description="Fine-tune the teacher once, distil a student for every strategy x seed, add "
        "baselines, and print the results table, the pairwise significance tests and the "
        "teacher/student efficiency. Options override the preset.",
        epilog=COMPARE_EPILOG,
        formatter_class=_Formatter,
    )
    compare.add_argument(
        "--preset",
        default="quick",
        choices=list(PRESETS),
        help="sized defaults: quick (default), standard or bert-base-sst2",
    )
    what = compare.add_argument_group("what to compare")
    what.add_argument(
        "--strategies",
        type=_strategies,
        metavar="LIST",
        help=f"comma list of strategies: {', '.join(STRATEGIES)} or an alias "
        f"({', '.join(ALIASES)}); default: the preset's (first,last,odd,even,uniform)",
    )
    what.add_argument(
        "--layers",
        type=_layer_list,
        action="append",
        metavar="LIST",
        help="an explicit map of 0-indexed teacher layers, e.g. 0,2,5; compared with the "
        "strategies (repeat for several maps); sets --student-layers to its length if not given",
    )
    what.add_argument(
        "--seeds", type=_seeds, metavar="LIST", help="comma list of distinct seeds, e.g. 0,1,2"
    )
    what.add_argument(
        "--baselines",
        type=_baselines,
        metavar="LIST",
        help=f"comma list of {', '.join(BASELINES)}; or all, or none (default: all)",
    )
    model = compare.add_argument_group("models")
    model.add_argument(
        "--teacher",
        metavar="NAME",
        help="minilm-l6 (offline default), a Hub name (bert-base-uncased) or a model folder",
    )
    model.add_argument(
        "--student-layers",
        type=_positive_int,
        metavar="K",
        help="student depth, at most the teacher's (quick: 3, bert-base-sst2: 6)",
    )
    data = compare.add_argument_group("data")
    data.add_argument(
        "--task",
        metavar="NAME",
        help="a built-in task (see `distill-lib tasks`), a local .csv/.tsv/.json/.jsonl/.parquet "
        "file, or a Hub set such as glue/sst2",
    )
    data.add_argument("--text-column", metavar="COL", help="text column of a file or Hub set")
    data.add_argument("--label-column", metavar="COL", help="label column of a file or Hub set")
    data.add_argument(
        "--train-size",
        type=_size,
        metavar="N",
        help="use N training sentences (a fixed subset), or all (quick: 1500)",
    )
    data.add_argument(
        "--validation-size", type=_size, metavar="N", help="N validation sentences, or all"
    )
    data.add_argument("--test-size", type=_size, metavar="N", help="N test sentences, or all")
    data.add_argument(
        "--cross-domain",
        type=_names_or_none,
        metavar="LIST",
        help="extra test-only sets to evaluate on (e.g. tweet-snippets), or none",
    )
    train = compare.add_argument_group("training")
    train.add_argument("--epochs", type=_positive_int, metavar="N", help="epochs of every student")
    train.add_argument(
        "--teacher-epochs", type=_positive_int, metavar="N", help="epochs of the teacher"
    )
    train.add_argument(
        "--device",
        choices=["auto", "cpu", "cuda", "mps"],
        help="where to train (default auto: a GPU if there is one)",
    )
    output = compare.add_argument_group("output")
    output.add_argument(
        "--output-dir",
        metavar="DIR",
        help="folder for run JSONs, tables and the teacher (default: runs/<preset>)",
    )
    _add_figure_options(output)
    output.add_argument("--no-progress", action="store_true", help="no progress bars")
    output.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="no progress bars and no per-run lines; only the final report",
    )
    compare.set_defaults(handler=cmd_compare, subparser=compare)

    # report -------------------------------------------------------------------------------
    report = subs.add_parser(
        "report",
        help="print a finished comparison again and redraw its figures (no training)",
        description="Load the results of a finished `compare` from its output folder, print "
        "them and redraw the figures.",
        epilog=f"example:\n  {PROG} report --output-dir runs/quick --figures-dir figures/quick",
        formatter_class=_Formatter,
    )
    report.add_argument(
        "--output-dir", required=True, metavar="DIR", help="the output folder of `compare`"
    )
    _add_figure_options(report)
    report.set_defaults(handler=cmd_report, subparser=report)

    # layers -------------------------------------------------------------------------------
    layers = subs.add_parser(
        "layers",
        help="show which teacher layers every strategy keeps",
        description="Print every strategy's 0-indexed teacher layers for one teacher/student "
        "depth, with the aliases found in papers.",
        epilog=f"examples:\n  {PROG} layers --teacher-layers 12 --student-layers 6\n"
        f"  {PROG} layers --teacher-layers 6 --student-layers 3 --seed 1",
        formatter_class=_Formatter,
    )
    layers.add_argument(
        "--teacher-layers",
        type=_positive_int,
        default=12,
        metavar="N",
        help="teacher depth (default 12)",
    )
    layers.add_argument(
        "--student-layers",
        type=_positive_int,
        default=6,
        metavar="K",
        help="student depth (default 6)",
    )
    layers.add_argument(
        "--seed", type=int, default=0, help="seed of the random strategy (default 0)"
    )
    layers.set_defaults(handler=cmd_layers, subparser=layers)

    # tasks, presets -----------------------------------------------------------------------
    tasks = subs.add_parser(
        "tasks",
        help="list the built-in tasks",
        description="List the built-in data sets and the other values --task accepts.",
        formatter_class=_Formatter,
    )
    tasks.set_defaults(handler=cmd_tasks, subparser=tasks)
    presets = subs.add_parser(
        "presets",
        help="show the presets of compare and their sizes",
        description="Show every preset of `compare`: models, data sizes, epochs, seeds, runs.",
        formatter_class=_Formatter,
    )
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
