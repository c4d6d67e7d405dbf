"""The import graph of jaxiaf's subpackages (`_core`, `_equations`, `_rockpool`, `_interop`, ...), read with
`ast` from every module, imports inside functions included: the layers of the house import downwards only."""

import ast
import pathlib

import jaxiaf

ROOT = pathlib.Path(jaxiaf.__file__).parent


def _unit(module: str) -> str:
    """The subpackage (or top-level module) of `jaxiaf.<unit>.<...>`."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def import_graph() -> dict:
    """`{unit: {units it imports}}` over jaxiaf's modules (`from . import x` and imports in functions too)."""
    edges = {}
    for path in ROOT.rglob("*.py"):
        parts = path.relative_to(ROOT.parent).with_suffix("").parts
        module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
                target = ".".join(base + ([node.module] if node.module else []))
                targets = [target, *(f"{target}.{alias.name}" for alias in node.names)]
            elif isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                continue
            for target in targets:
                if target.startswith("jaxiaf.") and _unit(target) != _unit(module):
                    edges.setdefault(_unit(module), set()).add(_unit(target))
    return edges


def cycles(edges: dict) -> list:
    """The strongly connected components of more than one unit (Tarjan's algorithm)."""
    index, low, stack, found, counter = {}, {}, [], [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(component)

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def test_the_finder_finds_cycles():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [{"a", "b", "c"}]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_the_subpackages_are_acyclic():
    graph = import_graph()
    assert {"_rockpool", "_interop", "_layer", "_equations"} <= set(graph)
    assert "_core" not in graph  # the core imports no other subpackage: the front end imports the core
    assert "_interop" not in graph["_rockpool"]  # the time series build their Neo objects themselves
    assert "_fit" not in graph["_interop"]  # save/load keep FitResult by registration; rasters: _rockpool
    assert cycles(graph) == [], f"import cycles between subpackages: {cycles(graph)}"
