"""Where Brian2's update of a layer's own equations is singular for its parameter values.

Brian2's `exact` (`linear`) integrator solves a linear system in closed form with SymPy, once for all
parameter values: for the adaptive LIF it divides by `4*R*a*tau_m*tau_w + 2*tau_m*tau_w + tau_w*s -
(tau_m**2 + tau_m*s + tau_w**2)` with `s = sqrt(tau_m**2 + tau_w**2 - 2*tau_m*tau_w - 4*R*a*tau_m*tau_w)`,
which is 0 at `a = 0` (and `s` is 0 at `a = 0, tau_w == tau_m`). There the statements divide 0 by
rounding noise, and Brian2 itself returns NaN or a finite wrong answer (in the README's example, `rk4` at
`a = 0` and `exact` at `a = 1e-6` fire 19 times in 0.5 s). Where the discriminant under such a square
root is negative (the system oscillates), Brian2's result is NaN.

[`mask`][] finds those parameter values per neuron: every divisor and every square root argument of the
update that reads only parameters, constants and `dt` and can cancel (a sum or difference, or a hoisted
value that holds one) is evaluated with NumPy in float64 together with a bound on its rounding error
(propagated through `+ - * / **`, `sqrt`, `exp`). A divisor known to fewer than 8 significant digits
(`error >= 1e-8 * |value|`, so an exact 0 too) or not finite, and a square root of a value below -1000
times its error bound, make the neuron singular. The layer refuses such values by name, and sweeps and
fits mark those sets as diverged (`jaxiaf._core.interpret.loop_env` makes their parameters NaN).
"""

import ast
import functools
import hashlib
import threading

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

_RELATIVE = 1e-8
"""A divisor whose rounding error bound exceeds this fraction of its value is singular: it has lost half
of float64's digits, and so has the numerator that cancels with it (the adaptive LIF's closed form is
then wrong by more than about 1e-6: `tests/test_singular.py`)."""
_UNIT = np.finfo(np.float64).eps / 2
"""float64's unit roundoff: the relative error of one rounded operation."""
_OPS = {
    ast.Add: np.add,
    ast.Sub: np.subtract,
    ast.Mult: np.multiply,
    ast.Div: np.divide,
    ast.Pow: np.power,
}


def _names(node) -> set:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)} - {"_numpy"}


@functools.lru_cache(maxsize=256)
def _hoisted(model) -> dict:
    """`{name: expression}` of the loop-invariant values (`_lio_k`, `_inv_k`) in the order they run."""
    return {s.targets[0].id: s.value for s in (ast.parse(t).body[0] for t in model.scalar + model.invariant)}


def _cancels(node, hoisted: dict) -> bool:
    """Whether the expression holds a sum, difference or square root, here or in a hoisted value it reads."""
    for sub in ast.walk(node):
        if isinstance(sub, ast.BinOp) and isinstance(sub.op, (ast.Add, ast.Sub)):
            return True
        if isinstance(sub, ast.Call) and _function(sub) == "sqrt":
            return True
        if isinstance(sub, ast.Name) and sub.id in hoisted and _cancels(hoisted[sub.id], hoisted):
            return True
    return False


def _function(call) -> str:
    return call.func.attr if isinstance(call.func, ast.Attribute) else call.func.id


@functools.lru_cache(maxsize=256)
def candidates(model) -> tuple:
    """`(kind, text, parameters)` of each divisor (`kind` "divisor") and square root argument ("root") of
    the model's update that reads only fixed values and can cancel; `parameters`: the declared parameters
    it reads, through hoisted values too. Empty for most models (then nothing is evaluated)."""
    hoisted = _hoisted(model)
    fixed = set(model.parameter_names) | {n for n, _ in model.constants} | {"dt", "N"} | set(hoisted)
    found = {}
    for text in model.per_step + model.update + model.invariant:
        for node in ast.walk(ast.parse(text).body[0].value):
            if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
                kind, expression = "divisor", node.right
            elif isinstance(node, ast.Call) and _function(node) == "sqrt" and len(node.args) == 1:
                kind, expression = "root", node.args[0]
            else:
                continue
            if _names(expression) <= fixed and _cancels(expression, hoisted):
                found[(kind, ast.unparse(expression))] = None
    return tuple((kind, text, _parameters(text, hoisted, model)) for kind, text in found)


@functools.lru_cache(maxsize=256)
def _needed(model) -> tuple:
    """`(name, expression)` of the hoisted values the candidates read (through each other), in order: the
    others may read parameters the analysis is not given."""
    hoisted, read = _hoisted(model), set()
    todo = [node for node in _nodes(model)]
    while todo:
        for name in _names(todo.pop()) & set(hoisted) - read:
            read.add(name)
            todo.append(hoisted[name])
    return tuple((name, expression) for name, expression in hoisted.items() if name in read)


@functools.lru_cache(maxsize=256)
def _nodes(model) -> tuple:
    """The candidates' expressions, parsed once."""
    return tuple(ast.parse(text, mode="eval").body for _, text, _ in candidates(model))


def _parameters(text: str, hoisted: dict, model) -> tuple:
    read, todo = set(), [ast.parse(text, mode="eval").body]
    while todo:
        for name in _names(todo.pop()):
            if name in hoisted and name not in read:
                todo.append(hoisted[name])
            read.add(name)
    return tuple(n for n in model.parameter_names if n in read)


def _evaluate(node, env: dict):
    """`(value, error bound)` of an expression over `env` (`{name: (value, error)}`), with NumPy in
    float64: each operation adds one rounding of its result to the errors it propagates."""
    if isinstance(node, ast.Constant):
        return np.float64(node.value), np.float64(0.0)
    if isinstance(node, ast.Name):
        return env[node.id]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        value, error = _evaluate(node.operand, env)
        return (-value if isinstance(node.op, ast.USub) else value), error
    if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
        (a, ea), (b, eb) = _evaluate(node.left, env), _evaluate(node.right, env)
        value = _OPS[type(node.op)](a, b)
        if isinstance(node.op, (ast.Add, ast.Sub)):
            error = ea + eb
        elif isinstance(node.op, ast.Mult):
            error = np.abs(a) * eb + np.abs(b) * ea
        elif isinstance(node.op, ast.Div):
            error = (ea + np.abs(value) * eb) / np.abs(b)
        else:  # a ** b with a constant exponent
            error = np.abs(b * np.power(a, b - 1)) * ea
        return value, error + _UNIT * np.abs(value)
    if isinstance(node, ast.Call) and len(node.args) == 1 and _function(node) in ("sqrt", "exp"):
        a, ea = _evaluate(node.args[0], env)
        if _function(node) == "exp":
            value = np.exp(a)
            return value, value * ea + _UNIT * value
        value = np.sqrt(a)
        return value, ea / (np.sqrt(np.abs(a)) + np.sqrt(ea) + np.finfo(np.float64).tiny) + _UNIT * value
    # anything else (another function, a comparison): its value, with one rounding as its error
    names = {**{f: getattr(np, f) for f in dir(np)}, "_numpy": np, **{n: v for n, (v, _) in env.items()}}
    value = np.asarray(eval(compile(ast.Expression(node), "<statement>", "eval"), names))
    return value, _UNIT * np.abs(value)


def analyse(model, values: dict, dt, constants: dict) -> list:
    """`[(candidate, (…,) bool)]`: each candidate of `candidates(model)` with where it is singular, for
    the parameter `values` (name -> array), `dt` and the `constants` (`{name: value}`, `N` included)."""
    env = {n: (np.asarray(v, np.float64), np.float64(0.0)) for n, v in {**constants, **values}.items()}
    env["dt"] = (np.asarray(dt, np.float64), np.float64(0.0))
    with np.errstate(all="ignore"):
        for name, expression in _needed(model):
            env[name] = _evaluate(expression, env)
        out = []
        for candidate, node in zip(candidates(model), _nodes(model), strict=True):
            value, error = _evaluate(node, env)
            if candidate[0] == "divisor":
                bad = ~np.isfinite(value) | (_RELATIVE * np.abs(value) <= error)  # 0 divisor: 0 <= 0
            else:
                bad = value < -1e3 * error
            out.append((candidate, np.asarray(bad)))
    return out


def _shape(model, values: dict, dt):
    read = set().union(*(c[2] for c in candidates(model)))
    return jnp.broadcast_shapes(jnp.shape(dt), *(jnp.shape(values[n]) for n in read))


def _host_mask(model, constants: dict, names: tuple, dt, *arrays):
    """The mask for concrete values, remembered for the last 16 sets of values seen (by a digest of their
    bytes: a layer called again and again pays for the analysis once)."""
    arrays = [np.ascontiguousarray(a, np.float64) for a in (dt, *arrays)]
    digests = tuple((a.shape, hashlib.blake2b(a, digest_size=16).digest()) for a in arrays)
    key = (model, tuple(sorted(constants.items())), names, digests)
    with _LOCK:
        known = _MEMORY.get(key)
    if known is None:
        known = _compute_mask(model, constants, names, *arrays)
        with _LOCK:
            if len(_MEMORY) >= 16:
                _MEMORY.pop(next(iter(_MEMORY)))
            _MEMORY[key] = known
    return known


def _compute_mask(model, constants: dict, names: tuple, dt, *arrays):
    found = analyse(model, dict(zip(names, arrays, strict=True)), dt, constants)
    shape = np.broadcast_shapes(np.shape(dt), *(np.shape(a) for a in arrays))
    return np.broadcast_to(
        functools.reduce(np.logical_or, [bad for _, bad in found], np.zeros(shape, bool)), shape
    )


_MEMORY: dict = {}
_LOCK = threading.Lock()


def mask(model, values: dict, dt, constants: dict):
    """Where the model's update is singular: a bool array of the shape of the parameters and `dt` that
    the candidates read (NumPy for concrete values, else a host callback under `jit`/`vmap`); None
    when the model has no candidate."""
    if not candidates(model):
        return None
    read = tuple(sorted(set().union(*(c[2] for c in candidates(model)))))
    arrays = [jax.lax.stop_gradient(values[n]) for n in read]
    dt = jax.lax.stop_gradient(dt)
    shape = _shape(model, values, dt)
    compute = functools.partial(_host_mask, model, constants, read)
    if all(not isinstance(x, jax.core.Tracer) for x in (dt, *arrays)):
        return jnp.asarray(compute(np.asarray(dt), *map(np.asarray, arrays)))
    like = jax.ShapeDtypeStruct(shape, jnp.bool_)
    broadcast = [jnp.broadcast_to(a, shape) for a in (dt, *arrays)]
    return jax.pure_callback(compute, like, *broadcast, vmap_method="broadcast_all")


def _integrator(model) -> str:
    return {"linear": "exact"}.get(model.method, model.method)


_ADVICE = (
    "Brian2's own result there is NaN or wrong. Use another integrator (e.g. `integrator_name='rk4'`), "
    "or move the parameters off that value."
)


def message(model, values: dict, dt, constants: dict, shown: int = 5) -> str | None:
    """The error of a layer whose update is singular for some of its `constants["N"]` neurons (concrete
    values), naming the first `shown` of them with the values of the parameters the singular expressions
    read; None if no neuron is singular."""
    n = constants["N"]
    found = [(c, np.broadcast_to(bad, (n,))) for c, bad in analyse(model, values, dt, constants)]
    bad = functools.reduce(np.logical_or, [b for _, b in found], np.zeros(n, bool))
    if not bad.any():
        return None
    lines = []
    for neuron in np.flatnonzero(bad)[:shown]:
        hits = [c for c, b in found if b[neuron]]
        names = [p for p in model.parameter_names if any(p in c[2] for c in hits)]
        at = ", ".join(f"{p}={float(np.broadcast_to(values[p], (n,))[neuron]):.6g}" for p in names)
        why = _WHY["root" if any(c[0] == "root" for c in hits) else "divisor"]
        lines.append(f"[neuron {neuron}: {at} ({why})]")
    more = f" (and {int(bad.sum()) - shown} more)" if bad.sum() > shown else ""
    return (
        f"Brian2's `{_integrator(model)}` solution of the layer's equations is singular for {int(bad.sum())} "
        f"of {n} neurons{more}: {'; '.join(lines)}. {_ADVICE}"
    )


_WHY = {
    "divisor": "its closed form divides by a value that is 0 to rounding",
    "root": "its closed form takes the square root of a negative value: the linear system oscillates",
}


def checked(model, values: dict, dt, constants: dict, carrier):
    """`carrier` tied to a runtime check (`eqx.error_if`) that no neuron's update is singular, with a
    message naming the parameters the singular expressions read (under `jit`/`vmap`)."""
    where = mask(model, values, dt, constants)
    if where is None:
        return carrier
    names = sorted(set().union(*(c[2] for c in candidates(model))))
    text = (
        f"Brian2's `{_integrator(model)}` solution of the layer's equations is singular for some neurons' "
        f"values of `{'`, `'.join(names)}` (a divisor of its closed form is 0 to rounding, e.g. the adaptive "
        f"LIF's at `a = 0`, or a square root of a negative value). {_ADVICE}"
    )
    return eqx.error_if(carrier, jnp.any(where), text)
