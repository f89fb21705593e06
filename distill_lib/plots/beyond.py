"""Beyond a fixed choice: what the ``alp`` students matched (:mod:`distill_lib.experiment.beyond`).

:func:`alp_weights_plot`: one heatmap per strategy, student layers as rows and teacher layers
as columns, each cell the weight that student layer gave that teacher layer in the last epoch
(mean over seeds; every row sums to 1). The teacher layers each student layer was copied from
are outlined, so a learner sees whether the attention stays at the starting map or moves.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import matplotlib.pyplot as plt
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from ..experiment.beyond import alp_weights

if TYPE_CHECKING:
    from ..experiment import Results


def alp_weights_plot(results: Results, *, title: str | None = None) -> Figure:
    """Heatmaps of the ``alp`` weights (student layer x teacher layer), one per strategy."""
    weights = alp_weights(results)
    if not weights:
        raise ValueError("these results have no finished `alp` runs (recipes: alp)")
    n = len(weights)
    fig, axes = plt.subplots(1, n, figsize=(3.2 * n + 1, 3.0), squeeze=False)
    for ax, (name, w) in zip(axes[0], weights.items(), strict=True):
        sns.heatmap(w, ax=ax, vmin=0, vmax=max(0.5, float(w.max())), cmap="viridis",
                    annot=w.shape[1] <= 6, fmt=".2f", cbar=ax is axes[0][-1],
                    annot_kws={"fontsize": 7})
        for i, j in enumerate(results.layer_maps.get(name, [])):
            ax.add_patch(Rectangle((j, i), 1, 1, fill=False, edgecolor="white", linewidth=2))
        ax.set_title(f"{name}", fontsize=10)
        ax.set_xlabel("teacher layer (0-based)")
        ax.set_ylabel("student layer" if ax is axes[0][0] else "")
    fig.suptitle(title or "What each `alp` student layer attends to (last epoch, mean over "
                 "seeds; white: the layer it was copied from)", fontsize=10)
    fig.tight_layout()
    return fig
