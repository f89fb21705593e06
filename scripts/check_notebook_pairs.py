"""Fail when a notebooks/*.ipynb and its paired .py (jupytext percent) differ in their cells.

Compares cell types and sources (not outputs). Usage: python scripts/check_notebook_pairs.py
"""

import sys
from pathlib import Path

import jupytext


def cells(path: Path) -> list[tuple[str, str]]:
    notebook = jupytext.read(path)
    return [(c.cell_type, c.source.strip()) for c in notebook.cells if c.source.strip()]


def main(folder: str = "notebooks") -> int:
    bad = []
    notebooks = sorted(Path(folder).glob("*.ipynb"))
    for ipynb in notebooks:
        py = ipynb.with_suffix(".py")
        if not py.exists():
            bad.append(f"{ipynb} has no paired .py")
        elif cells(ipynb) != cells(py):
            bad.append(f"{ipynb} differs from {py.name}: run `jupytext --sync {py}`")
    for py in sorted(Path(folder).glob("[0-9]*.py")):  # notebooks are numbered; not conftest.py
        if not py.with_suffix(".ipynb").exists():
            bad.append(f"{py} has no paired .ipynb: run `jupytext --sync {py}`")
    print("\n".join(bad) or f"{len(notebooks)} notebook pairs in sync")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
