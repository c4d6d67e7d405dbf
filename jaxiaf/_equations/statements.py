"""Brian2's generated numpy code read into statements: a code object's vector and scalar blocks without
Brian2's loads and stores, masked assignments as `where`, loop invariants kept where they are read, calls
and powers of parameters hoisted, and the refractoriness and threshold lines recognised (used by
`jaxiaf._equations.model`)."""

import ast

from .._core.defaults import TABLE as _TABLE

_FUNCTIONS = frozenset(
    "abs arccos arcsin arctan ceil clip cos cosh exp expm1 exprel floor int log log10 log1p sign sin sinh "
    "sqrt tan tanh timestep randn where logical_not".split()
)
"""Functions with a JAX counterpart (see `jaxiaf._core.interpret`); `rand` and `poisson` have none
here."""


def _refuse(what: str) -> ValueError:
    return ValueError(f"`neuron_eq`: {what}")


def _vector_block(code: str) -> list:
    """The statements of a numpy code object's vector block, as AST nodes."""
    body = code[code.index("# vector code") :].split("\n", 1)[1]
    return ast.parse(_dedent(body)).body


def _scalar_block(code: str) -> list:
    start = code.index("# scalar code")
    body = code[start : code.index("# vector code")].split("\n", 1)[1]
    return ast.parse(_dedent(body)).body


def _dedent(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    indent = min(len(line) - len(line.lstrip()) for line in lines)
    return "\n".join(line[indent:] for line in lines)


def _is_load(node) -> bool:
    """`x = _array_group_x`, `.copy()`, `[_idx]` or `[0]` loads, `_vectorisation_idx` and `_idx` lines."""
    if not isinstance(node, ast.Assign) or len(node.targets) != 1:
        return False
    target = node.targets[0]
    if isinstance(target, ast.Name) and target.id in ("_vectorisation_idx", "_idx"):
        return True
    source = ast.unparse(node.value)
    return isinstance(target, ast.Name) and source.startswith("_array_")


def _is_store(node) -> bool:
    targets = node.targets if isinstance(node, ast.Assign) else []
    return any(ast.unparse(t).startswith("_array_") for t in targets)


class _Unmask(ast.NodeTransformer):
    """`y[m]` -> `y` for one mask name `m`."""

    def __init__(self, mask: str):
        self.mask = mask

    def visit_Subscript(self, node):
        node = self.generic_visit(node)
        return node.value if ast.unparse(node.slice) == self.mask else node


def _statements(nodes) -> tuple:
    """Brian2's vector statements without its loads and stores; `x[nr] = _x[nr]` as a `where`."""
    out = []
    for node in nodes:
        if _is_load(node) or _is_store(node) or isinstance(node, ast.If):
            continue
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Subscript):
            # `x[m] = value` with `y[m]` inside: elementwise, `x = where(m, value without [m], x)`
            target = node.targets[0]
            name, mask = ast.unparse(target.value), ast.unparse(target.slice)
            value = ast.unparse(_Unmask(mask).visit(node.value))
            out.append(f"{name} = where({mask}, {value}, {name})")
            continue
        if isinstance(node, ast.Assign) and ast.unparse(node.targets[0]) == "not_refractory":
            continue  # the layer's own counter supplies `not_refractory` (Brian2's rule, see `evolve`)
        out.append(ast.unparse(node))
    return tuple(out)


def _calls(statements) -> set:
    names = set()
    for text in statements:
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.Call):
                func = node.func
                names.add(func.attr if isinstance(func, ast.Attribute) else ast.unparse(func))
    return names


class _Hoist(ast.NodeTransformer):
    """Replace each call, and each power, whose names are all loop-invariant by `_inv_k` (one per
    distinct expression): NumPy computes them once per evolve, as Brian2 does at every step."""

    def __init__(self, invariant_names):
        self.invariant_names, self.found = invariant_names, {}

    def visit_BinOp(self, node):
        names = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
        if isinstance(node.op, ast.Pow) and names and names <= self.invariant_names:
            text = ast.unparse(node)
            return ast.Name(id=self.found.setdefault(text, f"_inv_{len(self.found) + 1}"), ctx=ast.Load())
        return self.generic_visit(node)

    def visit_Call(self, node):
        func = node.func.attr if isinstance(node.func, ast.Attribute) else ast.unparse(node.func)
        names = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)} - _FUNCTIONS - {"_numpy"}
        if (
            func in _FUNCTIONS - {"randn", "where", "timestep", "logical_not"}
            and names <= self.invariant_names
        ):
            text = ast.unparse(node)
            name = self.found.setdefault(text, f"_inv_{len(self.found) + 1}")
            return ast.Name(id=name, ctx=ast.Load())
        return self.generic_visit(node)


def _hoist(statements, invariant_names):
    hoist = _Hoist(invariant_names)
    out = tuple(ast.unparse(hoist.visit(ast.parse(text))) for text in statements)
    return out, tuple(f"{name} = {text}" for text, name in hoist.found.items())


def _check_functions(statements, what: str):
    unknown = sorted(_calls(statements) - _FUNCTIONS - {_TABLE})
    if unknown:
        raise _refuse(
            f"the {what} calls {', '.join(unknown)}, which has no JAX counterpart here; allowed functions: "
            f"{', '.join(sorted(_FUNCTIONS - {'where', 'logical_not', 'timestep'}))} and `xi` noise terms."
        )


_SINCE = "timestep(t - lastspike, dt)"


def _refractoriness(nodes, scalar: dict, refractory, dynamic_names: set):
    """`(period, rule, is_condition)` from Brian2's `not_refractory = ...` line: `period` the EXPR of
    `timestep(t - lastspike, dt) >= timestep(EXPR, dt)` when it reads only parameters and constants
    (computed once per evolve), else `rule`, the whole right-hand side run every step (`_since` for the
    steps since the last spike); a condition gives `not_refractory | logical_not(COND)`."""
    if refractory is None:
        return None, None, False
    for node in nodes:
        if (
            not _is_load(node)
            and isinstance(node, ast.Assign)
            and ast.unparse(node.targets[0]) == "not_refractory"
        ):
            rule = ast.unparse(node.value).replace(_SINCE, "_since")
            value = node.value
            if isinstance(value, ast.Compare) and ast.unparse(value.left) == _SINCE:
                period = value.comparators[0]
                period = scalar.get(ast.unparse(period), period)
                if isinstance(period, ast.Call) and ast.unparse(period.func) == "timestep":
                    text = ast.unparse(period.args[0])
                    if not (_names_in(text) & dynamic_names):
                        return text, None, False
                return None, rule, False
            return None, rule, True
    raise ValueError(f"`refractory`: Brian2 generated no refractoriness for {refractory!r}.")


def _names_in(text: str) -> set:
    return {n.id for n in ast.walk(ast.parse(text)) if isinstance(n, ast.Name)}


def _target_of(text: str) -> str:
    node = ast.parse(text).body[0]
    return ast.unparse(node.targets[0] if isinstance(node, ast.Assign) else node.target)


def _scalars(codes: dict) -> dict:
    """Each code object's loop-invariant statements, `kind -> [statement]`, in Brian2's order."""
    return {
        kind: [ast.unparse(n) for n in _scalar_block(code) if not _is_load(n)] for kind, code in codes.items()
    }


def _closure(statements, read: set) -> tuple:
    """The statements (in order) that compute `read`, transitively."""
    needed, wanted = [], set(read)
    for text in reversed(statements):
        if _target_of(text) in wanted:
            needed.append(text)
            wanted |= _names_in(text.split(" = ", 1)[1])
    return tuple(reversed(needed))


def _timed(statements) -> set:
    """The targets of statements that read `t`, directly or through another one."""
    timed = set()
    for text in statements:
        if _names_in(text.split(" = ", 1)[1]) & (timed | {"t"}):
            timed.add(_target_of(text))
    return timed


def _threshold_block(code: str | None):
    """`(statements before the condition, condition)` of Brian2's thresholder."""
    if code is None:
        return (), None
    nodes = [n for n in _vector_block(code) if not isinstance(n, ast.If)]
    cut = next(
        k for k, n in enumerate(nodes) if isinstance(n, ast.Assign) and ast.unparse(n.targets[0]) == "_cond"
    )
    before = tuple(s for s in _statements(nodes[:cut]) if _target_of(s) != "not_refractory")
    return before, ast.unparse(nodes[cut].value)


def _check_reset(on_spike, state_names: set, subexpressions: set, reset: str) -> None:
    for text in on_spike:
        target = _target_of(text)
        if target not in state_names | subexpressions:
            raise ValueError(
                f"`reset`: only variables with a differential equation may be reset; `{target}` is not one "
                f"({reset!r})."
            )
