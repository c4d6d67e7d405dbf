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


REPO = ROOT.parent


def _imported(tree) -> set:
    """The top-level names of the modules a file imports (imports inside functions too)."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level:
            names.add(node.module)
    return names


TEST_MODULES = {p.stem for p in (REPO / "tests").glob("*.py")} | {"tests"}


def reaches_into_tests(text: str) -> list:
    """What a file's source does to import from `tests/`: a `sys.path` entry naming `tests`, or an import of
    a module of `tests/` (`zoo`, `helpers`, `test_*`)."""
    tree, found = ast.parse(text), []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and ast.unparse(node.func) in ("sys.path.insert", "sys.path.append"):
            if "tests" in ast.get_source_segment(text, node):
                found.append("puts tests/ on sys.path")
    found += [f"imports {name}" for name in sorted(_imported(tree)) if name.split(".")[0] in TEST_MODULES]
    return found


def test_the_finder_finds_imports_of_tests():
    text = 'import sys\nsys.path.insert(0, str(ROOT / "tests"))\ndef f():\n    from test_fit import g\n'
    assert reaches_into_tests(text) == ["puts tests/ on sys.path", "imports test_fit"]
    assert reaches_into_tests("from brian_ref.zoo import ZOO\nimport helpers_of_mine\n") == []


def test_no_benchmark_imports_a_test():
    """The benchmarks share the tests' scenarios and zoo through `brian_ref` (`scenarios`, `zoo`, `parity`):
    none puts `tests/` on `sys.path` or imports a module of it."""
    for path in sorted((REPO / "benchmarks").rglob("*.py")):
        assert reaches_into_tests(path.read_text()) == [], path.name


def test_no_test_imports_another_test_module():
    """Tests share what they need through `tests/helpers.py` and `brian_ref`, not by importing each other."""
    for path in sorted((REPO / "tests").glob("test_*.py")):
        found = [f for f in reaches_into_tests(path.read_text()) if f.startswith("imports test_")]
        assert found == [], path.name


def test_brian_ref_imports_jaxiaf_only_in_parity():
    """`brian_ref` is the reference: only `brian_ref/parity.py`, which runs both sides of a check, imports
    `jaxiaf`, and the package does not import that module."""
    for path in sorted((REPO / "brian_ref").glob("*.py")):
        imported = {name.split(".")[0] for name in _imported(ast.parse(path.read_text()))}
        assert ("jaxiaf" in imported) == (path.name == "parity.py"), path.name
    init = ast.parse((REPO / "brian_ref" / "__init__.py").read_text())
    assert not any("parity" in (getattr(n, "module", None) or "") for n in ast.walk(init))


def code_lines(function: ast.FunctionDef, source: list) -> int:
    """The lines of a function that hold code: not blank, not a comment, not its docstring."""
    lines = set(range(function.lineno, function.end_lineno + 1))
    first = function.body[0]
    if isinstance(first, ast.Expr) and isinstance(getattr(first.value, "value", None), str):
        lines -= set(range(first.lineno, first.end_lineno + 1))
    return sum(1 for n in lines if source[n - 1].strip() and not source[n - 1].strip().startswith("#"))


def test_no_function_of_jaxiaf_is_over_80_lines_of_code():
    source = 'def f(x):\n    """Two\n    lines."""\n    # a comment\n\n    return x\n'
    assert code_lines(ast.parse(source).body[0], source.splitlines()) == 2
    long = {}
    for path in ROOT.rglob("*.py"):
        text = path.read_text()
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                if code_lines(node, text.splitlines()) > 80:
                    long[f"{path.relative_to(ROOT)}:{node.lineno}"] = node.name
    assert long == {}, long
