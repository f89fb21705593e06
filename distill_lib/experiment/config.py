"""What a comparison depends on: :class:`ExperimentConfig`, the baselines and the presets.

A preset is a sized :class:`ExperimentConfig` together with what a person needs to choose it:
a one-line description and how long it took here. ``distill-lib presets`` and the help text of
``distill-lib compare`` are generated from :data:`PRESETS`, so the numbers live in one place.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from .._checks import check_int
from ..layers import canonical_strategy, describe_strategy
from ..train_config import MAX_SEED, TrainConfig
from .keys import KEY_SCHEMA, migrate_train_settings, schema_of

BASELINES: dict[str, str] = {
    "majority": "always predicts the most frequent training class",
    "teacher": "the fine-tuned teacher itself",
    "random-init": "a student of the same depth with random weights, distilled the same way",
    "no-kd": "a student copied from the teacher (layers `no_kd_layers`) trained on hard labels",
}
"""Baselines that can be added to a comparison."""

RECIPES: dict[str, dict[str, Any]] = {
    "logits": {},
    "hidden": {"hidden_weight": 0.1},
    "attention": {"attention_weight": 10.0},
    "rail": {"hidden_weight": 0.1, "layer_mapping": "rail"},
    "alp": {"hidden_weight": 0.1, "layer_mapping": "alp"},
}
"""Named distillation recipes: the loss weights each adds to the student's
:class:`~distill_lib.train_config.TrainConfig` (whose soft-target and hard-label terms every
recipe keeps).

* ``logits``: soft targets and hard labels only (the main runs of every comparison).
* ``hidden``: adds PKD's loss on the normalised first-token states of the mapped layers
  (:func:`~distill_lib.losses.hidden_mse_loss`, student layer i against teacher layer
  ``layers[i]``).
* ``attention``: adds the mean squared error between the mapped layers' attention maps
  (:func:`~distill_lib.losses.attention_loss`, TinyBERT-style, on probabilities).
* ``rail`` and ``alp``: ``hidden`` with a map that moves (:mod:`distill_lib.layer_mapping`):
  a sorted random map drawn again every epoch (RAIL-KD), or an attention-weighted mix of all
  teacher layers (ALP-KD). Same weight as ``hidden``, so the three differ only in the map.

The weights were set once, before any recipe run, so that each added term starts at the
order of the output loss (weighted about 0.6-0.7 against 0.35-0.4) for the map farthest from
its teacher layers:
on 32 movie snippets, before training, the classic pair's (MPNet 12 -> 6) `last` student had
a hidden term of 6.4 and an attention term of 0.070 (`uniform`: 2.2 and 0.021; `first`: 0
and 0). They are not tuned on results. Changing one changes the runs' keys."""

BUDGET_SCHEDULE: dict[str, Any] = {"scheduler": "constant", "warmup_ratio": 0.0}
"""What every run of the training-budget axis trains with (see :func:`budget_train_config`)."""


def recipe_train_config(config: TrainConfig, recipe: str) -> TrainConfig:
    """``config`` with the loss weights of ``recipe`` (:data:`RECIPES`)."""
    if recipe not in RECIPES:
        raise ValueError(f"unknown recipe {recipe!r}; choose from {', '.join(RECIPES)}")
    return config.replace(**RECIPES[recipe])


def budget_train_config(config: TrainConfig, epochs: int) -> TrainConfig:
    """``config`` for a training budget of ``epochs`` epochs on the budget axis.

    The learning rate is constant, with no warm-up (:data:`BUDGET_SCHEDULE`), so that nothing
    in a run depends on its length: the first ``epochs`` epochs of a longer run are exactly
    the shorter run, and one run per strategy and seed, at the largest budget, gives every
    smaller one (:class:`~distill_lib.train.Snapshot`). A budget's run keeps its best epoch
    by validation, like every run.
    """
    return config.replace(epochs=epochs, **BUDGET_SCHEDULE)



@dataclass
class ExperimentConfig:
    """Everything a comparison depends on. Use :meth:`preset` for sized defaults.

    Every field is checked when the config is made (types, ranges, duplicates), so a bad
    value fails before anything is trained or written, with a message naming the field.
    """

    teacher: str = "minilm-l6"
    task: str = "movie-snippets"
    text_column: str | None = None
    label_column: str | None = None
    student_layers: int = 3
    strategies: list[Any] = field(
        default_factory=lambda: ["first", "last", "odd", "even", "uniform"]
    )
    """Strategy names (or aliases) and explicit layer lists such as ``[0, 2, 5]``."""
    seeds: list[int] = field(default_factory=lambda: [0, 1])
    baselines: list[str] = field(default_factory=lambda: list(BASELINES))
    no_kd_layers: str = "first"
    """Layers of the ``no-kd`` baseline (PKD's student init: the first k)."""
    train_size: int | None = None
    """Use only this many training sentences (a fixed, seeded subset); ``None``: all."""
    validation_size: int | None = None
    test_size: int | None = None
    max_length: int = 128
    teacher_train: TrainConfig = field(default_factory=lambda: TrainConfig(epochs=2, lr=5e-5))
    student_train: TrainConfig = field(default_factory=lambda: TrainConfig(epochs=2, lr=1e-4))
    cross_domain: list[str] = field(default_factory=list)
    """Test-only sets to evaluate every model on as well, e.g. ``["tweet-snippets"]``."""
    cross_domain_size: int | None = 1000
    """Evaluate on this many sentences of each cross-domain set (a fixed subset); None: all."""
    calibration_size: int = 512
    """Training sentences (a fixed subset) on which the data-driven strategies measure the
    teacher's layers (block influence, CKA); ``drop`` uses the validation split."""
    output_dir: str = "runs/standard"
    bootstrap_resamples: int = 2000
    measure_latency: bool = True
    recipes: list[str] = field(default_factory=lambda: ["logits"])
    """The loss-recipe axis (:data:`RECIPES`): every recipe but ``logits`` (the main runs) is
    trained for the strategies in ``recipe_strategies``, at the main runs' budget."""
    recipe_strategies: list[Any] | None = None
    """Strategies (and the ``random-init`` baseline) of the recipe axis; None: every strategy."""
    budgets: list[int] = field(default_factory=list)
    """The training-budget axis, in epochs (e.g. ``[2, 8, 16]``): the strategies in
    ``budget_strategies`` are trained at each, with :func:`budget_train_config` (one run per
    strategy and seed, at the largest, gives them all). Empty: no budget axis."""
    budget_strategies: list[Any] | None = None
    """Strategies (and the ``random-init`` baseline) of the budget axis; None: every strategy."""
    distilbert_strategies: list[Any] = field(default_factory=list)
    """Strategies also trained as ``DistilBertForSequenceClassification`` students (same
    layers, main runs' settings; BERT-family teachers only), each paired with its same-class
    run (:func:`~distill_lib.experiment.footprint.architecture_table`). Empty: none."""
    footprint: bool = False
    """After the runs: size, latency and accuracy of the teacher, the students, the DistilBERT
    student and the best student in int8 (:mod:`distill_lib.experiment.footprint`; retrains
    the best strategy's first seed to get weights, since runs keep none)."""
    workers: int | None = None
    """Processes that train the missing student runs side by side (this one and ``workers - 1``
    helpers, each with ``cpu_count // workers`` threads; see
    :mod:`distill_lib.experiment.workers`). ``None``: 2 on a CPU with 2 or more cores, 1 on a
    GPU. Not part of any run's key: it changes how fast, not what is trained."""

    def __post_init__(self) -> None:
        for name in ("teacher_train", "student_train"):  # a dict: today's defaults fill gaps
            if isinstance(getattr(self, name), dict):
                setattr(self, name, TrainConfig(**getattr(self, name)))
            if not isinstance(getattr(self, name), TrainConfig):
                raise ValueError(f"{name} must be a TrainConfig (or a dict of its fields)")
        for name in ("teacher", "task", "output_dir"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise ValueError(f"{name} must be a non-empty string, got {value!r}")
        self.strategies = [s if isinstance(s, str) else list(s) for s in self.strategies]
        if not self.strategies:
            raise ValueError("strategies is empty; e.g. ['first', 'last', 'uniform'].")
        seen: dict[str, Any] = {}
        canonical: list[Any] = []
        for strategy in self.strategies:
            if isinstance(strategy, str):
                label = canonical_strategy(strategy)  # raises a ValueError listing the choices
                canonical.append(label)
            else:
                canonical.append(strategy)
                for i in strategy:
                    check_int("a layer index in strategies", i, 0)
                repeated = sorted({i for i in strategy if strategy.count(i) > 1})
                if repeated:
                    raise ValueError(
                        f"the layer list {strategy} repeats layer(s) {repeated}; a student "
                        "layer cannot start from the same teacher layer twice"
                    )
                label = describe_strategy(strategy)
            if label in seen:
                raise ValueError(
                    f"strategies lists {label!r} twice ({seen[label]!r} and {strategy!r})"
                )
            seen[label] = strategy
        self.strategies = canonical
        self.seeds = [check_int("each seed", s, 0, MAX_SEED) for s in self.seeds]
        if not self.seeds:
            raise ValueError("seeds is empty; give at least one seed, e.g. seeds=[0, 1, 2].")
        if len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f"seeds {self.seeds} has duplicates")
        unknown = [b for b in self.baselines if b not in BASELINES]
        if unknown:
            raise ValueError(
                f"unknown baselines {unknown}; choose from {', '.join(BASELINES)} (or none)."
            )
        canonical_strategy(self.no_kd_layers)
        check_int("student_layers", self.student_layers, 1)
        check_int("max_length", self.max_length, 8)
        check_int("bootstrap_resamples", self.bootstrap_resamples, 100)
        check_int("calibration_size", self.calibration_size, 8)
        if self.workers is not None:
            check_int("workers", self.workers, 1, 64)
        self._check_axes()
        for name in ("train_size", "validation_size", "test_size", "cross_domain_size"):
            value = getattr(self, name)
            if value is not None:
                check_int(name, value, 2)

    def _check_axes(self) -> None:
        """The recipe and budget axes: known recipes (``logits``, the main runs, always first),
        budgets in epochs, and strategies that the comparison trains (each axis may also name
        the ``random-init`` baseline)."""
        for recipe in self.recipes:
            if recipe not in RECIPES:
                raise ValueError(
                    f"recipes: unknown recipe {recipe!r}; choose from {', '.join(RECIPES)}")
        if len(set(self.recipes)) != len(self.recipes):
            raise ValueError(f"recipes {self.recipes} has duplicates")
        self.recipes = ["logits", *[r for r in self.recipes if r != "logits"]]
        self.budgets = [check_int("each budget (epochs)", b, 1) for b in self.budgets]
        if len(set(self.budgets)) != len(self.budgets):
            raise ValueError(f"budgets {self.budgets} has duplicates")
        self.budgets = sorted(self.budgets)
        known = [describe_strategy(s) for s in self.strategies]
        known += ["random-init"] if "random-init" in self.baselines else []
        for axis in ("recipe_strategies", "budget_strategies"):
            chosen = getattr(self, axis)
            if chosen is not None:
                setattr(self, axis, [_axis_label(axis, s, known) for s in chosen])
        strategies = [describe_strategy(s) for s in self.strategies]
        self.distilbert_strategies = [_axis_label("distilbert_strategies", s, strategies)
                                      for s in self.distilbert_strategies]
        if len(set(self.distilbert_strategies)) != len(self.distilbert_strategies):
            raise ValueError(f"distilbert_strategies {self.distilbert_strategies} has duplicates")

    def axis_names(self, axis: str) -> list[str]:
        """The run names of the ``"recipe"`` or ``"budget"`` axis (strategies, then baselines)."""
        chosen = getattr(self, f"{axis}_strategies")
        return list(chosen) if chosen is not None else [describe_strategy(s)
                                                        for s in self.strategies]

    @classmethod
    def preset(cls, name: str, **overrides: Any) -> ExperimentConfig:
        """A named preset (:data:`PRESETS`), with any field overridden (``None`` is ignored).

        Overriding ``strategies`` keeps, on the preset's axes and DistilBERT arm, only the
        strategies still trained; overriding ``teacher`` drops the preset's DistilBERT arm
        (it was chosen for the preset's teacher), unless ``distilbert_strategies`` is given.
        """
        if name not in PRESETS:
            raise ValueError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
        values = dict(PRESETS[name].values)
        given = {k: v for k, v in overrides.items() if v is not None}
        values.update(given)
        if "strategies" in given:  # the preset's axes keep only the strategies still trained
            kept = {_label_or_none(s) for s in values["strategies"]} | {"random-init"}
            for axis in ("recipe_strategies", "budget_strategies", "distilbert_strategies"):
                if axis not in given and values.get(axis):
                    values[axis] = [s for s in values[axis] if s in kept]
            if values.get("recipe_strategies") == [] and "recipes" not in given:
                values["recipes"] = ["logits"]  # an axis left with no strategy: none
            if values.get("budget_strategies") == [] and "budgets" not in given:
                values["budgets"] = []
        if "teacher" in given and "distilbert_strategies" not in given:
            values.pop("distilbert_strategies", None)  # the preset's arm was for its teacher
        return cls(**values)

    @classmethod
    def from_preset(cls, name: str, changes: dict[str, Any]) -> ExperimentConfig:
        """:meth:`preset` with ``changes``, where a ``None`` sets the field to None (e.g.
        ``train_size=None``: all sentences) instead of being ignored."""
        config = cls.preset(name, **changes)
        return config.replace(**{k: v for k, v in changes.items() if v is None})

    def replace(self, **changes: Any) -> ExperimentConfig:
        """A copy with some fields changed (checked again)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """The fields as plain JSON values, with the key schema they follow (``config.json``)."""
        return {**dataclasses.asdict(self), "key_schema": KEY_SCHEMA}

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> ExperimentConfig:
        """The config a :meth:`to_dict` (a ``config.json``) describes, from any key schema.

        Training settings written under an older schema are migrated explicitly
        (:func:`~distill_lib.experiment.keys.migrate_train_settings`), so an old folder's runs
        keep their keys.
        """
        values = dict(values)
        schema = schema_of(values)
        values.pop("key_schema", None)
        for name in ("teacher_train", "student_train"):
            if isinstance(values.get(name), dict):
                values[name] = TrainConfig(**migrate_train_settings(values[name], schema))
        return cls(**values)

    def describe(self) -> str:
        """A few lines saying what this comparison trains, for people."""
        tt, st = self.teacher_train, self.student_train
        sizes = (
            f"train {self.train_size or 'all'}, validation {self.validation_size or 'all'}, "
            f"test {self.test_size or 'all'}"
        )
        return "\n".join(
            [
                f"teacher {self.teacher}, task {self.task}, {self.student_layers}-layer students",
                f"  sentences used: {sizes}",
                f"  strategies {self.strategies}, seeds {self.seeds}, baselines {self.baselines}",
                f"  teacher fine-tuning: {_epochs(tt.epochs)}, batch {tt.batch_size}, lr {tt.lr:g}",
                f"  student distillation: {_epochs(st.epochs)}, batch {st.batch_size}, "
                f"lr {st.lr:g}, "
                f"temperature {st.temperature:g}, alpha {st.alpha:g}",
                f"  cross-domain test sets: {', '.join(self.cross_domain) or 'none'}",
                *self._describe_axes(),
                f"  output folder: {self.output_dir}",
            ]
        )

    def _describe_axes(self) -> list[str]:
        lines = []
        recipes = [r for r in self.recipes if r != "logits"]
        if recipes:
            lines.append(f"  recipe axis: {', '.join(recipes)} for "
                         f"{', '.join(self.axis_names('recipe'))}")
        if self.budgets:
            lines.append(f"  budget axis: {', '.join(map(str, self.budgets))} epochs (constant "
                         f"learning rate) for {', '.join(self.axis_names('budget'))}")
        if self.distilbert_strategies:
            lines.append("  also as DistilBERT students: " + ", ".join(self.distilbert_strategies))
        return lines


def _label_or_none(strategy: Any) -> str | None:
    """A strategy's run name, or None where it is invalid (the config's check says why)."""
    try:
        return describe_strategy(
            canonical_strategy(strategy) if isinstance(strategy, str) else list(strategy))
    except (TypeError, ValueError):
        return None


def _axis_label(axis: str, strategy: Any, known: list[str]) -> str:
    """The run name an axis entry means (a name, an alias or a layer list), if trained."""
    label = strategy if isinstance(strategy, str) and strategy in known else None
    if label is None:
        try:
            label = describe_strategy(
                canonical_strategy(strategy) if isinstance(strategy, str) else list(strategy))
        except (TypeError, ValueError):
            label = str(strategy)
    if label not in known:
        raise ValueError(f"{axis}: {strategy!r} is not trained by this comparison; choose from "
                         f"{', '.join(known)} (or add it to strategies)")
    return label


def _epochs(n: int) -> str:
    return f"{n} epoch" if n == 1 else f"{n} epochs"


@dataclass(frozen=True)
class Preset:
    """A sized comparison and what a person needs to pick it.

    Attributes:
        description: one sentence: teacher, data and what it is for.
        duration: how long it took, measured, with the machine (shown by ``distill-lib
            presets`` and ``compare --help``).
        values: :class:`ExperimentConfig` fields.
    """

    description: str
    duration: str
    values: dict[str, Any]


PRESETS: dict[str, Preset] = {
    "quick": Preset(
        "the offline default: MiniLM-L6 teacher -> 3 layers on 500 movie snippets, 3 seeds, 2 "
        "epochs at batch 8 (the five fixed strategies and both student baselines)",
        "about 8 minutes on 2 CPU cores (measured: 8.4 minutes from an empty folder on an AMD "
        "EPYC, load 0.02, nothing else running; student runs two at a time; 3.8 minutes on an "
        "earlier machine before the DistilBERT arm and the footprint step were added)",
        {
            "output_dir": "runs/quick",
            "seeds": [0, 1, 2],
            "train_size": 500,
            "validation_size": 250,
            "teacher_train": TrainConfig(epochs=2, lr=1e-4),
            # batch 8: 63 updates per epoch, 126 in all. At batch 16 (64 updates) `first`
            # collapsed to one class on 2 of 3 seeds (lr 1e-4) and on 1 of 5 (lr 2e-4).
            "student_train": TrainConfig(epochs=2, batch_size=8, lr=1e-4),
            # uniform: the spread DistilBERT's own extraction script keeps (chosen a priori)
            "distilbert_strategies": ["uniform"],
            "footprint": True,
        },
    ),
    "standard": Preset(
        "offline, MiniLM-L6 -> 3 layers on all 8,454 movie-snippet training sentences, 3 seeds, "
        "the five fixed and the three data-driven strategies, and the three cross-domain test "
        "sets; students train one epoch (265 updates; the 2-epoch version took 70-97 minutes). "
        "Its recipe axis: the hidden-state loss with the fixed map (`hidden`), a map drawn "
        "again each epoch (`rail`; with one epoch, one map per run) and attention over all "
        "teacher layers (`alp`) for every strategy",
        "about 26 minutes on 2 CPU cores (measured: 26.0 minutes from an empty folder, load 2-3.6 "
        "from other work; student runs two at a time), before the DistilBERT arm and the "
        "footprint step were added (they took 18 minutes more on an AMD EPYC, the teacher's "
        "fine-tuning included); the recipe axis 242 worker-minutes more (45 runs of 4.4 to 7.2 "
        "minutes each, two at a time: about 2 hours)",
        {
            "output_dir": "runs/standard",
            "seeds": [0, 1, 2],
            "strategies": ["first", "last", "odd", "even", "uniform", "influence", "cka-cover",
                           "drop"],
            "teacher_train": TrainConfig(epochs=2, lr=5e-5),
            "student_train": TrainConfig(epochs=1, lr=1e-4),
            "cross_domain": ["amazon-snippets", "nyt-snippets", "tweet-snippets"],
            "distilbert_strategies": ["uniform"],
            "footprint": True,
            "recipes": ["logits", "hidden", "rail", "alp"],  # for every strategy
        },
    ),
    "classic": Preset(
        "the classic 12 -> 6 experiment offline: all-mpnet-base-v2 (BERT-base size, fetched from "
        "PyPI once) -> 6 layers, 3 seeds, the five fixed and the three data-driven strategies; cut "
        "to 640 training sentences and 2 epochs (80 updates) to fit a CPU, students at lr 2e-5 "
        "(at 1e-4, 2e-4 and 5e-4 the `last` student stayed at chance). Its axes: budgets of 2, 8 "
        "and 16 epochs (80, 320, 640 updates) for first, uniform, last and drop (the best "
        "data-driven map of the main runs), and the hidden, attention, rail and alp recipes for "
        "first, uniform, last and drop. The full size (all 8,454 sentences, 3 epochs: "
        "--train-size all --epochs 3 --teacher-epochs 3) needs a GPU",
        "the main runs 29 minutes on 2 CPU cores (measured: 29.2 minutes from an empty folder, "
        "nothing else running); the axes about 4 hours more (measured, two runs at a time "
        "under varying load from other work: the 12 runs of 640 updates took 20 to 60 minutes "
        "each, 6.7 worker-hours in all; the 18 recipe runs, which run the teacher every step, "
        "75 worker-minutes; the 30 runs of rail, alp and drop's recipes 80 minutes more, two "
        "at a time, nothing else running)",
        {
            "teacher": "mpnet-base",
            "student_layers": 6,
            "output_dir": "runs/classic",
            "seeds": [0, 1, 2],
            "strategies": ["first", "last", "odd", "even", "uniform", "influence", "cka-cover",
                           "drop"],
            "train_size": 640,
            "validation_size": 300,
            "teacher_train": TrainConfig(epochs=2, batch_size=16, lr=5e-5),
            "student_train": TrainConfig(epochs=2, batch_size=16, lr=2e-5),
            # drop: the best data-driven map of the main runs (85.9%, runs/classic/summary.md;
            # tests/test_committed_runs.py checks that it still is)
            "budgets": [2, 8, 16],
            "budget_strategies": ["first", "uniform", "last", "drop"],
            "recipes": ["logits", "hidden", "attention", "rail", "alp"],
            "recipe_strategies": ["first", "uniform", "last", "drop"],
            "footprint": True,  # no DistilBERT arm: an MPNet teacher cannot become one
        },
    ),
    "beyond": Preset(
        "the open ideas, offline: MiniLM-L6 -> 3 layers on 1,000 movie snippets, 3 seeds, 3 "
        "epochs at batch 16 (189 updates); the five fixed strategies (their students' mean "
        "probability is the ensemble), and the hidden-state loss with the fixed map "
        "(`hidden`), a map drawn again each epoch (`rail`) and attention over all teacher "
        "layers (`alp`) for first, uniform and last. A CPU-sized cut of the standard run "
        "(all 8,454 sentences, every strategy: --train-size all --recipe-strategies "
        "first,last,odd,even,uniform)",
        "about 80 minutes on 2 CPU cores (measured on an AMD EPYC while another comparison "
        "trained alongside, load 4-5: the teacher 5 minutes, then 42 student runs two at a "
        "time, 146 worker-minutes in all by the runs' own `seconds`, 102 of them for the 27 "
        "recipe runs, which run the teacher every step)",
        {
            "output_dir": "runs/beyond",
            "seeds": [0, 1, 2],
            "train_size": 1000,
            "validation_size": 500,
            "baselines": ["majority", "teacher"],
            "teacher_train": TrainConfig(epochs=2, lr=1e-4),
            "student_train": TrainConfig(epochs=3, batch_size=16, lr=1e-4),
            "recipes": ["logits", "hidden", "rail", "alp"],
            "recipe_strategies": ["first", "uniform", "last"],
        },
    ),
    "bert-base-sst2": Preset(
        "BERT-base 12 -> 6 on GLUE SST-2 (67k sentences), as in the papers; needs the Hugging "
        "Face Hub and a GPU",
        "not run here (no GPU, no Hub)",
        {
            "teacher": "bert-base-uncased",
            "task": "glue/sst2",
            "student_layers": 6,
            "output_dir": "runs/bert-base-sst2",
            "seeds": [0, 1, 2],
            "teacher_train": TrainConfig(epochs=3, lr=2e-5, eval_batch_size=256),
            "student_train": TrainConfig(epochs=3, lr=5e-5, eval_batch_size=256),
        },
    ),
}
"""Experiment presets, by name. ``quick`` is the default of ``distill-lib compare``."""

DEFAULT_PRESET = "quick"
