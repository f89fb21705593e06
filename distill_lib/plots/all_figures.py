"""Every figure of a comparison, drawn, saved and closed in one call (what the CLI does)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import matplotlib.pyplot as plt

from ..experiment.axes import drawable
from ..experiment.beyond import alp_weights
from ..experiment.footprint import read_footprint
from ..layers import DATA_DRIVEN, choose_layers
from ._common import save_figure
from .accuracy import accuracy_plot
from .axes import budget_plot, recipe_plot
from .beyond import alp_weights_plot
from .cross_domain import cross_domain_plot, has_cross_domain
from .curves import learning_curves
from .footprint import footprint_plot
from .layers import layer_map_plot, plot_cka, plot_layer_scores

if TYPE_CHECKING:
    from ..experiment import Results


def plot_all(
    results: Results, folder: str | Path = "figures", prefix: str = ""
) -> dict[str, list[Path]]:
    """Draw, save (PNG + SVG) and close every figure of a comparison; return the paths.

    Keys: ``learning_curves``, ``accuracy``, ``layer_map``; ``cross_domain`` when the runs
    have cross-domain accuracies; ``layer_scores`` and ``cka`` when data-driven strategies
    ran (``results.measured``); ``budgets`` and ``recipes`` when the comparison has those
    axes; ``alp_weights`` when ``alp`` runs finished; ``footprint`` when its folder has a
    ``footprint.json``. Files are named
    ``<prefix><key>.<ext>``.
    """
    written: dict[str, list[Path]] = {}
    for key, make in _figure_makers(results).items():
        fig = make(results)
        try:
            written[key] = save_figure(fig, f"{prefix}{key}", folder)
        finally:
            plt.close(fig)
    return written


def _figure_makers(results: Results) -> dict[str, Any]:
    """``{key: function(results) -> Figure}`` for every figure these results can draw."""
    makers: dict[str, Any] = {
        "learning_curves": learning_curves,
        "accuracy": accuracy_plot,
        "layer_map": layer_map_plot,
    }
    if has_cross_domain(results):
        makers["cross_domain"] = cross_domain_plot
    if results.measured:
        k = results.config.student_layers  # what each strategy picks, trained or not
        chosen = {n: choose_layers(n, results.measured, k) for n in DATA_DRIVEN}
        makers["layer_scores"] = lambda r: plot_layer_scores(r.measured, chosen=chosen)
        makers["cka"] = lambda r: plot_cka(r.measured)
    figures = drawable(results)
    if figures["budgets"]:
        makers["budgets"] = budget_plot
    if figures["recipes"]:
        makers["recipes"] = recipe_plot
    if alp_weights(results):
        makers["alp_weights"] = alp_weights_plot
    if read_footprint(results) is not None:
        makers["footprint"] = footprint_plot
    return makers
