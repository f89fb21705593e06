"""Committed notebooks keep their figures.

nbval re-runs the notebooks but does not compare images, so a notebook executed with a
non-interactive backend (``MPLBACKEND=Agg``) loses every figure and CI stays green. This test
reads the committed ``.ipynb`` files: every code cell that draws a figure at its top level (a
call of a ``distill_lib.plots`` function, ``plt.show()``, or the notebooks' ``show_figure``)
must hold an image among its outputs.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))
DRAWS = re.compile(
    r"^(?:\w+\s*=\s*)?(?:plots\.)?(learning_curves|accuracy_plot|layer_map_plot|"
    r"cross_domain_plot|plot_layer_scores|plot_cka|budget_plot|recipe_plot|footprint_plot|alp_weights_plot|"
    r"show_figure|plt\.show|display\(Image)\(",
    re.MULTILINE,
)
"""A figure drawn at a cell's top level (a call under ``if``/``for`` is indented: not matched,
because whether it runs depends on the machine, e.g. a GPU-only cell)."""


def _figure_cells(path: Path) -> list[tuple[int, str, bool]]:
    cells = json.loads(path.read_text())["cells"]
    found = []
    for i, cell in enumerate(cells):
        source = "".join(cell["source"])
        if cell["cell_type"] != "code" or not DRAWS.search(source):
            continue
        has_image = any(
            key.startswith("image/")
            for output in cell.get("outputs", [])
            for key in output.get("data", {})
        )
        found.append((i, source.splitlines()[0], has_image))
    return found


def test_the_notebooks_draw_figures():
    assert sum(len(_figure_cells(p)) for p in NOTEBOOKS) >= 10  # the check has cells to check


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_figure_cell_has_an_image(path):
    missing = [f"cell {i}: {first}" for i, first, has_image in _figure_cells(path)
               if not has_image]
    assert not missing, f"{path.name}: figure cells without an image (executed with Agg?)"


def test_the_check_can_fail(tmp_path):
    cell = {"cell_type": "code", "source": ["fig = accuracy_plot(results)\n"], "outputs": []}
    path = tmp_path / "nb.ipynb"
    path.write_text(json.dumps({"cells": [cell]}))
    assert _figure_cells(path) == [(0, "fig = accuracy_plot(results)", False)]
