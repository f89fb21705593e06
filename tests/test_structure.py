"""The package's shape: imports run one way, no circle, no module over 600 lines.

Every import of a ``distill_lib`` module inside the package is read from the source (lazy
imports inside functions included; ``if TYPE_CHECKING:`` blocks excepted, they never run).
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "distill_lib"

LAYERS: list[set[str]] = [
    {"_checks", "_io", "_hub", "_pypi", "_weights"},  # primitives: import nothing of the package
    {"loss_checks", "stats", "metrics"},
    {"train_config", "layers"},
    {"losses"},
    {"layer_mapping"},
    {"data", "teacher"},
    {"distilbert"},
    {"student"},
    {"device", "_fast_guard"},
    {"_fast_layers"},
    {"fast"},
    {"inference", "train_setup"},
    {"distill_step"},
    {"train"},
    {"hf_trainer"},
    {"selection"},
    {"experiment"},
    {"plots"},
    {"notebook"},
    {"cli_listings"},
    {"cli"},
    {"__main__"},
]
"""Bottom to top: a module may import from its own layer's kin only within its package
(``data/``, ``experiment/``...), and from lower layers freely; never from a higher one."""


def _rank(top: str) -> int:
    for i, names in enumerate(LAYERS):
        if top in names:
            return i
    raise AssertionError(f"distill_lib.{top} has no place in LAYERS: add it")


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _type_checking_lines(tree: ast.AST) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in ast.walk(node):
                if hasattr(child, "lineno"):
                    lines.add(child.lineno)
    return lines


def _imports(path: Path) -> set[str]:
    """The distill_lib modules ``path`` imports (absolute dotted names)."""
    tree = ast.parse(path.read_text())
    skip = _type_checking_lines(tree)
    here = _module_name(path)
    package = here if path.name == "__init__.py" else here.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if getattr(node, "lineno", None) in skip:
            continue
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            if target.startswith("distill_lib"):
                found.add(target)
                found.update(f"{target}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("distill_lib"))
    modules = {_module_name(p) for p in PACKAGE.rglob("*.py")}
    return {name for name in found if name in modules and name != here}


def _graph() -> dict[str, set[str]]:
    return {_module_name(p): _imports(p) for p in PACKAGE.rglob("*.py")}


def test_no_module_over_600_lines():
    long = {str(p.relative_to(PACKAGE)): n for p in PACKAGE.rglob("*.py")
            if (n := len(p.read_text().splitlines())) > 600}
    assert not long


def test_imports_run_one_way():
    upward = []
    for module, targets in _graph().items():
        if module == "distill_lib":
            continue  # the package's lazy export table (importlib, not import statements)
        top = module.split(".")[1]
        for target in targets:
            if target == "distill_lib":
                continue  # the package itself (its version, its lazy export table)
            other = target.split(".")[1]
            if other != top and _rank(other) >= _rank(top):
                upward.append(f"{module} -> {target}")
    assert not upward


def test_no_import_circle():
    graph = _graph()
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    circles: list[list[str]] = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for target in sorted(graph.get(node, ())):
            if target == "distill_lib" or (node.startswith(target + ".") and target in graph):
                continue  # a module's own package __init__ runs first anyway
            if state.get(target) == 1:
                circles.append([*path[path.index(target):], target])
            elif target not in state:
                visit(target, [*path, target])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert not circles


def test_the_checks_can_fail():
    """The reader finds real imports, including lazy ones inside functions."""
    graph = _graph()
    assert "distill_lib.student" in graph["distill_lib.fast"]
    assert "distill_lib.experiment.runner" in graph["distill_lib.cli"]  # imported lazily
    assert _rank("cli") > _rank("experiment") > _rank("train") > _rank("layers")
