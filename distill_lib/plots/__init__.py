"""Figures for a strategy comparison: learning curves, test accuracy, layer maps, cross-domain.

    from distill_lib.experiment import load_results
    from distill_lib import plots

    results = load_results("runs/quick")
    plots.learning_curves(results);          # `;` stops Jupyter showing the figure twice
    plots.accuracy_plot(results);
    plots.layer_map_plot(12, 6);             # no results needed: just the layer choice
    plots.plot_all(results, folder="figures")  # PNG + SVG of every figure, what the CLI does

Every plotting function returns the :class:`matplotlib.figure.Figure` and leaves it open, so a
notebook displays it; :func:`plot_all` closes its figures after saving them. Nothing here
chooses a matplotlib backend: notebooks keep ``inline``, and scripts without a display get
matplotlib's automatic fallback (``Agg``).

Colours are fixed per strategy (:data:`PALETTE`), so ``uniform`` is the same colour in every
figure; baselines are grey and drawn with squares / dashed lines, collapsed runs are red ``X``.
A data-driven strategy that reused a fixed strategy's runs is drawn once, under both names
(``"odd = cka-cover"``). Every legend names its interval: the accuracy plot's percentile
bootstrap over seeds and test sentences, or, where only one value per seed was stored (learning
curves, cross-domain sets), the min-max range over seeds. Layers are counted from 0 everywhere.

The figures live in one module per family: :mod:`.curves` (learning curves),
:mod:`.accuracy` (test accuracy), :mod:`.layers` (layer maps and the teacher's layer
measurements), :mod:`.cross_domain`, :mod:`.axes` (the budget and recipe axes), :mod:`.beyond` (the
``alp`` weights), :mod:`.footprint`, with the
shared colours and :func:`save_figure` in :mod:`._common` and :func:`plot_all` in
:mod:`.all_figures`; everything public is importable from ``distill_lib.plots``.
"""

from __future__ import annotations

from ._common import COLLAPSED_COLOR, PALETTE, color_for, save_figure
from .accuracy import accuracy_plot
from .all_figures import plot_all
from .axes import budget_plot, recipe_plot
from .beyond import alp_weights_plot
from .cross_domain import cross_domain_plot, has_cross_domain
from .curves import learning_curves
from .footprint import footprint_plot
from .layers import layer_map_plot, plot_cka, plot_layer_scores

__all__ = [
    "COLLAPSED_COLOR",
    "PALETTE",
    "accuracy_plot",
    "alp_weights_plot",
    "budget_plot",
    "color_for",
    "cross_domain_plot",
    "footprint_plot",
    "has_cross_domain",
    "layer_map_plot",
    "learning_curves",
    "plot_all",
    "plot_cka",
    "plot_layer_scores",
    "recipe_plot",
    "save_figure",
]
