"""The layering drawn in docs/architecture.md is the layering of the code.

:data:`LAYERS` is the one statement of the rule. The tests read every module of the package with
:mod:`ast` (no import runs), collect each ``pytorch_hyperlight`` import wherever it stands (module
top, function body, ``try`` block: the package imports lazily), and check that

* every module belongs to a layer (a new module in a package belongs to its package's layer);
* a module imports only its own unit and the layers below it, never a sibling of its layer that is
  marked independent, never a layer above (each violation printed as
  ``module -> imported module (rule)``);
* no modules and no units import each other in a cycle;
* docs/architecture.md shows exactly this picture (:func:`render_layers`).

Imports under ``if TYPE_CHECKING:`` name types for annotations only; they never run, so they
neither couple the layers at run time nor make an import cycle, and they are not counted.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

PACKAGE = "pytorch_hyperlight"
PACKAGE_DIR = Path(__file__).resolve().parent.parent / PACKAGE
ARCHITECTURE_PAGE = PACKAGE_DIR.parent / "docs" / "architecture.md"


@dataclass(frozen=True)
class Layer:
    """One layer: its units (a package ``"trial"`` covers ``trial/*``; a module ``"errors"``).

    Attributes:
        name: the layer's short name, used in violation messages.
        summary: what the layer holds, as the picture says it.
        units: dotted names relative to the package; ``"__init__"`` is the package's own module.
        independent: units of this layer never import each other (else they may, without cycles).
    """

    name: str
    summary: str
    units: tuple[str, ...]
    independent: bool = True


#: THE rule, lowest layer first: a module may import its own unit and every unit of a lower layer.
LAYERS: tuple[Layer, ...] = (
    Layer(
        "base",
        "errors, settings, atomic files, metric names and directions, what a run is handed",
        ("errors", "files", "metric_names", "metric_direction", "settings", "context"),
        independent=False,
    ),
    Layer(
        "leaves",
        "metric tables and figures, classification tasks, W&B, the sweep grammar",
        ("metrics", "tasks", "integrations", "config.sweeps", "config._hydra", "config._imports"),
    ),
    Layer("trial", "one trial, Lightning", ("trial",)),
    Layer("results", "run directories: writing, loading, reports", ("results",)),
    Layer("search", "the search, Ray Tune", ("search",)),
    Layer("runs", "the two kinds of run", ("runs",)),
    Layer("facade", "the Runner and the public names", ("runner", "__init__"), independent=False),
    Layer(
        "entry points",
        "config files and the command line",
        ("config", "cli", "__main__"),
        independent=False,
    ),
)

#: The sweep grammar's three modules sit in config/ with the Hydra code they share, but the Python
#: API takes sweep strings too (search/space.py), so they form one unit below trial/.
_UNIT_GROUPS: Mapping[str, str] = {
    "config.sweeps": "config: sweep grammar",
    "config._hydra": "config: sweep grammar",
    "config._imports": "config: sweep grammar",
}


@dataclass(frozen=True)
class Import:
    """One ``pytorch_hyperlight`` import: who imports what, where."""

    importer: str
    imported: str
    line: int


def module_name(path: Path) -> str:
    """``pytorch_hyperlight/trial/fit.py`` -> ``pytorch_hyperlight.trial.fit`` (packages by name)."""
    parts = list(path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def package_modules() -> dict[str, Path]:
    """Every module of the package by dotted name."""
    return {module_name(path): path for path in sorted(PACKAGE_DIR.rglob("*.py"))}


def _is_type_checking_block(node: ast.AST) -> bool:
    if not isinstance(node, ast.If):
        return False
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _runtime_nodes(tree: ast.AST) -> Iterator[ast.AST]:
    """Every node of ``tree`` except what an ``if TYPE_CHECKING:`` block holds (its else runs)."""
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        if _is_type_checking_block(node):
            stack.extend(node.orelse)  # type: ignore[attr-defined]
            continue
        stack.extend(ast.iter_child_nodes(node))


def _imported_names(node: ast.AST, importer: str, is_package: bool, modules: set[str]) -> set[str]:
    if isinstance(node, ast.Import):
        return {alias.name for alias in node.names}
    if not isinstance(node, ast.ImportFrom):
        return set()
    if node.level:
        base = importer.split(".") if is_package else importer.split(".")[:-1]
        base = base[: len(base) - node.level + 1]
        source = ".".join([*base, *([node.module] if node.module else [])])
    else:
        source = node.module or ""
    # ``from pytorch_hyperlight.trial import fit`` imports the module trial.fit.
    return {f"{source}.{a.name}" if f"{source}.{a.name}" in modules else source for a in node.names}


def package_imports() -> list[Import]:
    """Every import of a package module by a package module, at run time, wherever it stands."""
    modules = package_modules()
    found: list[Import] = []
    for importer, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        is_package = path.name == "__init__.py"
        for node in _runtime_nodes(tree):
            for imported in _imported_names(node, importer, is_package, set(modules)):
                inside = imported == PACKAGE or imported.startswith(PACKAGE + ".")
                if inside and imported != importer:
                    found.append(Import(importer, imported, getattr(node, "lineno", 0)))
    return sorted(found, key=lambda i: (i.importer, i.imported, i.line))


def unit_of(module: str) -> str | None:
    """The unit a module belongs to: the longest unit name that is it or a package above it."""
    relative = "__init__" if module == PACKAGE else module.removeprefix(PACKAGE + ".")
    candidates = [
        unit
        for layer in LAYERS
        for unit in layer.units
        if relative == unit or relative.startswith(unit + ".")
    ]
    if not candidates:
        return None
    unit = max(candidates, key=len)
    return _UNIT_GROUPS.get(unit, unit)


def layer_index(unit: str) -> int:
    """The position of a unit's layer, 0 the lowest."""
    for index, layer in enumerate(LAYERS):
        if any(_UNIT_GROUPS.get(u, u) == unit for u in layer.units):
            return index
    raise KeyError(unit)


def violation(edge: Import) -> str | None:
    """Why ``edge`` breaks the rule, or None when it keeps it."""
    source, target = unit_of(edge.importer), unit_of(edge.imported)
    if source is None or target is None or source == target:
        return None
    low, high = layer_index(target), layer_index(source)
    if low < high:
        return None
    if low > high:
        return (
            f"{source} in layer {high + 1} ({LAYERS[high].name}) imports upward into {target} "
            f"in layer {low + 1} ({LAYERS[low].name})"
        )
    if LAYERS[low].independent:
        return f"{source} and {target} are independent units of layer {low + 1}"
    return None


def strongly_connected(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """The import cycles of ``graph``: its strongly connected components with two or more nodes."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in sorted(graph.get(node, ())):
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return cycles


def _shown(unit: str) -> str:
    """How the picture names a unit: ``trial/``, ``errors.py``, ``config/sweeps.py``."""
    if (PACKAGE_DIR / unit).is_dir():
        return f"{unit}/"
    return unit.replace(".", "/") + ".py"


def render_layers() -> str:
    """The picture of :data:`LAYERS` that docs/architecture.md shows, highest layer first.

    Modules that form one unit together are joined by ``+``.
    """
    lines = []
    for number, layer in reversed(list(enumerate(LAYERS, start=1))):
        shown: dict[str, list[str]] = {}
        for unit in layer.units:
            shown.setdefault(_UNIT_GROUPS.get(unit, unit), []).append(_shown(unit))
        joiner = " | " if layer.independent else ", "
        lines.append(f"{number}  {layer.name}: {layer.summary}")
        lines.append(f"     {joiner.join(' + '.join(group) for group in shown.values())}")
    return "\n".join(lines)


# --- tests -----------------------------------------------------------------------------------------
def test_every_module_belongs_to_a_layer() -> None:
    """A new top-level module must be placed in LAYERS; one in a package is covered by it."""
    homeless = [module for module in package_modules() if unit_of(module) is None]
    assert not homeless, f"modules in no layer of LAYERS (tests/test_layering.py): {homeless}"


def test_the_import_graph_is_found() -> None:
    """The AST walk sees top-level, lazy (function-body) and ``from package import module`` ones."""
    edges = {(i.importer, i.imported) for i in package_imports()}
    assert (f"{PACKAGE}.runner", f"{PACKAGE}.settings") in edges  # module top
    assert (f"{PACKAGE}.runner", f"{PACKAGE}.runs.single_trial") in edges  # in a function
    assert (
        f"{PACKAGE}.results.config_record",
        f"{PACKAGE}.files",
    ) in edges  # from pytorch_hyperlight import files


def test_no_module_imports_a_layer_above_it_or_an_independent_sibling() -> None:
    """Each violation: ``module -> imported module (rule)`` at ``file:line``."""
    problems = [
        f"{edge.importer} -> {edge.imported} ({reason}) at line {edge.line}"
        for edge in package_imports()
        if (reason := violation(edge)) is not None
    ]
    assert not problems, "layering violations:\n" + "\n".join(problems)


def test_no_module_import_cycles() -> None:
    graph: dict[str, set[str]] = {}
    for edge in package_imports():
        graph.setdefault(edge.importer, set()).add(edge.imported)
    cycles = strongly_connected(graph)
    assert not cycles, "modules importing each other in a cycle:\n" + "\n".join(map(str, cycles))


def test_no_unit_import_cycles() -> None:
    """Units (packages, base modules) too: base modules may import each other, but not in a ring."""
    graph: dict[str, set[str]] = {}
    for edge in package_imports():
        source, target = unit_of(edge.importer), unit_of(edge.imported)
        if source and target and source != target:
            graph.setdefault(source, set()).add(target)
    cycles = strongly_connected(graph)
    assert not cycles, "units importing each other in a cycle:\n" + "\n".join(map(str, cycles))


def test_the_checker_reports_an_upward_import_and_a_sibling_import() -> None:
    """The rule itself: trial/ -> results/ is upward, metrics/ -> tasks/ crosses siblings."""
    upward = violation(Import(f"{PACKAGE}.trial.fit", f"{PACKAGE}.results.load", 1))
    sideways = violation(Import(f"{PACKAGE}.metrics.console", f"{PACKAGE}.tasks.hparams", 1))
    assert upward is not None and "upward" in upward
    assert sideways is not None and "independent" in sideways
    assert violation(Import(f"{PACKAGE}.search.tuner", f"{PACKAGE}.trial.fit", 1)) is None
    assert strongly_connected({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_the_architecture_page_shows_these_layers() -> None:
    """docs/architecture.md's picture is :func:`render_layers`, so the page cannot drift."""
    page = ARCHITECTURE_PAGE.read_text(encoding="utf-8")
    picture = render_layers()
    assert picture in page, (
        "docs/architecture.md does not show LAYERS; put this block under '## Layers':\n" + picture
    )
