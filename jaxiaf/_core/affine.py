"""Float32 layers of linear equations: Brian2's whole step as one affine update per neuron.

With the input held constant over a step, every integrator Brian2 offers maps the state of linear
equations (no `t`, no noise, no neuron index) to an affine function of the state and the input:
`x' = x + A @ x + b + k * I_inp`, a different map while a `(unless refractory)` variable is held. In float32,
which is not Brian2-exact anyway, [`jaxiaf.evolve`][] runs that map instead of the generated statements: a
few multiply-adds per variable in one short loop, where rk4's statements store four stages per variable.

The map is read off Brian2's own generated statements, evaluated once per evolve with NumPy in float64
on the host at `D + 2` points (the zero state, each unit state, a unit input) for each of
`not_refractory` True and False, and rounded once to float32: `A[:, j] = step(e_j) - e_j - b`. Whether a
model qualifies is decided exactly, by the degree of every statement in the state and the input
(`affine`): sums of degree-1 terms and products with at most one degree-1 factor, divisions by and
functions of degree-0 values only.
"""

import ast
import functools

import jax.numpy as jnp

from . import interpret as _generated
from .defaults import INPUT

_NONLINEAR = 2
"""Any degree above 1 (or not a polynomial in the state)."""


def _degree(node, known: dict) -> int:
    """The degree of an expression in the state and the input: 0, 1 or `_NONLINEAR`."""
    if isinstance(node, ast.Constant):
        return 0
    if isinstance(node, ast.Name):
        return known.get(node.id, 0) if node.id not in ("t", "i", "N") else _NONLINEAR
    if isinstance(node, ast.UnaryOp):
        return _degree(node.operand, known)
    if isinstance(node, ast.BinOp):
        left, right = _degree(node.left, known), _degree(node.right, known)
        if isinstance(node.op, (ast.Add, ast.Sub)):
            return max(left, right)
        if isinstance(node.op, ast.Mult):
            return min(left + right, _NONLINEAR)
        if isinstance(node.op, ast.Div):
            return left if right == 0 else _NONLINEAR
        return 0 if left == right == 0 else _NONLINEAR
    if isinstance(node, ast.Call):
        func = node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id
        args = [_degree(a, known) for a in node.args]
        if func == "where" and args[0] == 0:  # `where(not_refractory, ...)`: both maps are computed
            return max(args[1:])
        return 0 if func != "randn" and max(args, default=0) == 0 else _NONLINEAR
    if isinstance(node, (ast.Compare, ast.BoolOp)):
        parts = [node.left, *node.comparators] if isinstance(node, ast.Compare) else node.values
        return 0 if max(_degree(p, known) for p in parts) == 0 else _NONLINEAR
    return _NONLINEAR


@functools.lru_cache(maxsize=256)
def affine(model) -> bool:
    """Whether the model's state update (its `(constant over dt)` subexpressions, then the state updater)
    is an affine function of the state variables and `I_inp`, with coefficients that do not change from
    step to step. A model whose threshold or reset reads values of the update (`Model.carried`) or whose
    refractoriness is evaluated every step runs the generated statements."""
    if model.carried or model.refractory_rule is not None:
        return False
    known = dict.fromkeys((*model.state_names, INPUT), 1)
    for text in model.per_step + model.update:
        statement = _generated._parse(text)
        known[_generated._target(statement)] = (
            max(known.get(_generated._target(statement), 0), _degree(statement.value, known))
            if isinstance(statement, ast.AugAssign)
            else _degree(statement.value, known)
        )
        if known[_generated._target(statement)] >= _NONLINEAR:
            return False
    return True


def applies(model, dtype) -> bool:
    """Whether a layer of `model` in `dtype` runs the affine map: float32 (or narrower) and `affine`."""
    return jnp.dtype(dtype) != jnp.float64 and affine(model)


def _held(model) -> bool:
    """Whether the update reads `not_refractory` (then the map differs while refractory)."""
    return any("not_refractory" in text for text in model.per_step + model.update)


def _name(kind: str, held: bool, *names) -> str:
    return "_aff_" + "_".join((kind, "r" if held else "n", *names))


def _point(model, state: dict, held: bool, tag: str) -> list:
    """Statements that evaluate one step from `state` (name -> literal, with `I_inp`) and keep the
    increments `new - old` of the state variables as `_inc_<tag>_<name>`."""
    values = {**dict.fromkeys((*model.state_names, INPUT), 0.0), **state}
    lines = [f"{n} = {x!r}" for n, x in values.items()] + [f"not_refractory = {not held!r}"]
    lines += list(model.per_step + model.update)
    return lines + [f"_inc_{tag}_{n} = {n} - {values[n]!r}" for n in model.state_names]


@functools.lru_cache(maxsize=256)
def _program(model) -> tuple:
    """`(statements, outputs, read)`: the statements that compute every map entry, the entries' names,
    and the names the statements read."""
    names = model.state_names
    lines, outputs = list(model.scalar + model.invariant), []
    for held in (False, True) if _held(model) else (False,):
        h = "r" if held else "n"
        lines += _point(model, {}, held, f"{h}0")
        lines += _point(model, {INPUT: 1.0}, held, f"{h}u")
        for j in names:
            lines += _point(model, {j: 1.0}, held, f"{h}{j}")
        for i in (n for n in names if not (held and n in model.flags)):  # held: `v = where(nr, _v, v)`
            entries = {
                _name("b", held, i): f"_inc_{h}0_{i}",
                _name("k", held, i): f"_inc_{h}u_{i} - _inc_{h}0_{i}",
            }
            entries.update({_name("A", held, i, j): f"_inc_{h}{j}_{i} - _inc_{h}0_{i}" for j in names})
            lines += [f"{target} = {value}" for target, value in entries.items()]
            outputs += list(entries)
    read = {n.id for s in lines for n in ast.walk(_generated._parse(s).value) if isinstance(n, ast.Name)}
    return tuple(lines), tuple(outputs), frozenset(read)


def maps(model, values: dict, dt, n: int, dtype) -> dict:
    """The map's entries (`_aff_<A|b|k>_<n|r>_<i>[_<j>]`) for the parameters `values` (name -> array) of
    a layer of `n` neurons, computed with NumPy in float64 on the host and returned in `dtype`."""
    statements, outputs, read = _program(model)
    inputs = {"dt": dt, **{name: v for name, v in values.items() if name in read}}
    fixed = {**dict(model.constants), "N": n}
    return _generated._host(statements, inputs, fixed, outputs=outputs, dtype=dtype)


def advance(model, env: dict, vals: dict, nr, u, active) -> dict:
    """One step of the map: `x_i + (sum_j A_ij x_j + b_i + k_i u)` with the refractory map where `nr`
    is False; states held where `active` is False. A variable flagged `(unless refractory)` is held while
    refractory (Brian2 ends its update with `v = where(not_refractory, _v, v)`), so its row of the
    refractory map is the identity and is neither computed nor read."""
    held = _held(model)
    new = {}
    for i in model.state_names:
        frozen = held and i in model.flags
        entry = lambda kind, *names, pick=held and not frozen: (
            jnp.where(nr, env[_name(kind, False, *names)], env[_name(kind, True, *names)])
            if pick
            else jnp.broadcast_to(env[_name(kind, False, *names)], nr.shape)
        )
        total = entry("b", i) + entry("k", i) * u
        for j in model.state_names:
            total = total + entry("A", i, j) * vals[j]
        new[i] = jnp.where(active & nr if frozen else active, vals[i] + total, vals[i])
    return new
