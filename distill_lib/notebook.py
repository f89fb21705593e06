"""The set-up the training notebooks share, in one call.

Notebooks 4-7 all start the same way: decide between the small CPU run and the full GPU run,
find the repository folder (so that they write into the same ``runs/`` and ``figures/`` as
the command line), build the experiment's config and switch off what libraries print for
expected events. :func:`setup` does all of it::

    from distill_lib.notebook import setup

    nb = setup()            # quick preset on a CPU or with DISTILL_LIB_QUICK=1, else standard
    nb.config               # the ExperimentConfig, output_dir relative, e.g. ../runs/quick
    print(nb.describe())

Paths stay relative to the notebook's folder (``../runs/quick`` when run from
``notebooks/``), so no absolute path of the machine ends up in a committed output.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .experiment import ExperimentConfig, Results, load_results
from .experiment.axes import axis_records, missing_axis_runs

QUICK_ENV = "DISTILL_LIB_QUICK"
"""Environment variable: ``1`` forces the quick (CPU-sized) runs, as in CI."""

_QUIET = ExitStack()
_quiet_on = False


def is_quick() -> bool:
    """True with ``DISTILL_LIB_QUICK=1`` or without a CUDA GPU: run the CPU-sized variant."""
    from .device import cuda_available  # the one home of the device rule

    return os.environ.get(QUICK_ENV) == "1" or not cuda_available()


def repo_root(cwd: str | os.PathLike | None = None) -> Path:
    """The repository folder, relative to ``cwd``: ``..`` inside ``notebooks/``, else ``.``.

    Outside a checkout (e.g. Colab with the package installed from GitHub), ``.``: runs and
    figures go into the current folder.
    """
    here = Path(cwd) if cwd is not None else Path.cwd()
    if here.name == "notebooks" and (here.parent / "distill_lib").is_dir():
        return Path("..")
    return Path(".")


def quiet_notebook() -> None:
    """Silence expected library noise for the rest of the session (safe to call twice).

    No progress bars of ``datasets`` and ``transformers`` (they freeze in saved notebooks),
    no transformers load report (e.g. "classifier.weight MISSING" for the fresh head of a
    teacher: expected, and explained in the notebooks), and no tokenizers fork warning.
    Errors still raise. Training progress bars are separate: pass ``progress=False`` to
    :func:`~distill_lib.experiment.compare_strategies` and
    :class:`~distill_lib.experiment.Experiment`.
    """
    global _quiet_on
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    if not _quiet_on:
        from ._io import quiet_libraries

        _QUIET.enter_context(quiet_libraries())  # stays on until the kernel stops
        _quiet_on = True


@dataclass(frozen=True)
class NotebookSetup:
    """What :func:`setup` decided.

    Attributes:
        quick: the CPU-sized variant runs (``DISTILL_LIB_QUICK=1`` or no CUDA GPU).
        preset: the :data:`~distill_lib.experiment.PRESETS` name the config was built from.
        root: the repository folder, relative to the notebook (``..`` in ``notebooks/``).
        config: the experiment, its ``output_dir`` under ``root`` (e.g. ``../runs/quick``).
    """

    quick: bool
    preset: str
    root: Path
    config: ExperimentConfig

    @property
    def figures(self) -> Path:
        """The figures folder the CLI writes too (``root / "figures"``)."""
        return self.root / "figures"

    @property
    def figure_prefix(self) -> str:
        """File name prefix of this run's figures: the output folder's name and ``-``."""
        return f"{Path(self.config.output_dir).name}-"

    def describe(self) -> str:
        mode = "quick (CPU-sized)" if self.quick else "full (GPU-sized)"
        return f"preset {self.preset!r}, {mode}: {self.config.describe()}"

    def committed(self, names: Iterable[str], *,
                  keep: Callable[[Results], Any] = bool) -> dict[str, Results]:
        """The committed folders ``runs/<name>`` whose results pass ``keep``, by name.

        Each is rebuilt from its JSON files (:func:`~distill_lib.experiment.load_results`,
        nothing retrained; a folder still training is read as far as it got). One line per
        folder says what it holds: how many runs on the axes, how many still to train, or
        why it was left out.
        """
        found = {}
        for name in names:
            try:
                done = load_results(self.root / "runs" / name, partial=True, log=None)
            except FileNotFoundError as err:
                print(f"runs/{name}: {str(err).split(';')[0]}")
                continue
            if not keep(done):
                print(f"runs/{name}: nothing of this kind in this folder yet")
                continue
            found[name] = done
            missing = missing_axis_runs(done)
            print(f"runs/{name}: {len(axis_records(done))} runs on the axes"
                  + (f", {len(missing)} still to train" if missing else ""))
        return found


def setup(
    preset: str | None = None,
    *,
    quick_changes: Mapping[str, Any] | None = None,
    full_changes: Mapping[str, Any] | None = None,
    quiet: bool = True,
) -> NotebookSetup:
    """Decide quick or full, find the repository folder, build the config, quiet the libraries.

    Args:
        preset: a preset name; ``None``: ``quick`` in quick mode, else ``standard``.
        quick_changes: config fields changed in quick mode only (e.g. a smaller variant).
        full_changes: config fields changed in full mode only (e.g. all the data).
        quiet: call :func:`quiet_notebook`.

    The config's ``output_dir`` (from the preset or the changes, e.g. ``runs/quick``) is put
    under the repository folder, relative to the notebook: ``../runs/quick`` in
    ``notebooks/``, the folder ``distill-lib compare`` uses, so both share their runs.
    """
    if quiet:
        quiet_notebook()
    quick = is_quick()
    name = preset or ("quick" if quick else "standard")
    changes = dict((quick_changes if quick else full_changes) or {})
    config = ExperimentConfig.from_preset(name, changes)  # (the preset's axes fit the changes)
    root = repo_root()
    out = Path(config.output_dir)
    if not out.is_absolute():
        config = config.replace(output_dir=(root / out).as_posix())
    return NotebookSetup(quick=quick, preset=name, root=root, config=config)


__all__ = ["QUICK_ENV", "NotebookSetup", "is_quick", "quiet_notebook", "repo_root", "setup"]
