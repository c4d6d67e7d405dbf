"""Brian2's generated numpy statements (a [`jaxiaf.Model`][]) run on JAX arrays, inside the one scan.

The statements are interpreted once per trace, node by node, into `jax.numpy` operations in Brian2's
order and parenthesisation, so that float64 results are Brian2's bit for bit where only arithmetic is
involved. Three things keep XLA:CPU from rounding differently from NumPy (see `jaxiaf._core.integrators`
and `tests/test_tricks.py`):

- a product that is added or subtracted is wrapped in a select on a runtime mask, `where(m, a * b, f)`,
  so that LLVM cannot contract the pair into a fused multiply-add. The mask is all-True and the filler
  `f` a runtime array (the state's `v`): with a constant filler such as 0, LLVM may move the select
  out of the sum and contract after all. Successive products alternate between two masks (`m1`, `m2`),
  since LLVM merges two selects on one mask;
- a literal divisor is given the quotient's full shape behind `lax.optimization_barrier`, so that
  `x / 3.0` is not rewritten as `x * 0.333...`; parameters enter the loop as runtime arrays for the
  same reason;
- NumPy's `ndarray ** c` takes shortcuts for `c` in (-1, 0, 0.5, 1, 2) (reciprocal, ones, sqrt, copy,
  square); so do we.

The loop-invariant statements (Brian2's "scalar code", functions of `dt` and constants) run on the host
in float64 with NumPy, as Brian2 runs them. Functions such as `exp` use XLA's implementation, which
differs from NumPy's by one ulp on some arguments.
"""

import ast
import functools
import operator

import jax
import jax.numpy as jnp
import numpy as np

from . import derivatives as _derivatives
from . import singular as _singular
from . import surrogate as _surrogate
from .defaults import INPUT, PAGE_NAMES
from .defaults import TABLE as _TABLE
from .pytrees import NEVER


@functools.lru_cache(maxsize=4096)
def _parse(text: str):
    return ast.parse(text).body[0]


def _timestep(x, dt, xp):
    """Brian2's `timestep(t, dt)`: `int((t + 1e-3*dt) / dt)`, truncated as NumPy's int64 cast does."""
    return xp.trunc((x + 1e-3 * dt) / dt).astype(xp.int64 if xp is np else jnp.int32)


def _exprel(x):
    safe = jnp.where(x == 0, 1.0, x)
    return jnp.where(x == 0, 1.0, jnp.expm1(safe) / safe)


_JAX_FUNCTIONS = {
    "abs": jnp.abs,
    "arccos": jnp.arccos,
    "arcsin": jnp.arcsin,
    "arctan": jnp.arctan,
    "ceil": jnp.ceil,
    "clip": jnp.clip,
    "cos": jnp.cos,
    "cosh": jnp.cosh,
    "exp": jnp.exp,
    "expm1": jnp.expm1,
    "exprel": _exprel,
    "floor": jnp.floor,
    "int": lambda x: jnp.trunc(x).astype(jnp.int32),
    "log": jnp.log,
    "log10": jnp.log10,
    "log1p": jnp.log1p,
    "sign": jnp.sign,
    "sin": jnp.sin,
    "sinh": jnp.sinh,
    "sqrt": jnp.sqrt,
    "tan": jnp.tan,
    "tanh": jnp.tanh,
    "where": jnp.where,
    "logical_not": jnp.logical_not,
}

_BINARY = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Mod: operator.mod,
    ast.FloorDiv: operator.floordiv,
    ast.BitAnd: jnp.logical_and,
    ast.BitOr: jnp.logical_or,
}
_COMPARE = {
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
}


class Context:
    """Per-step values the statements read besides the variables: the FMA masks and their runtime
    filler (float64; None in float32), the noise draws of the step (`(draws, ...)`, consumed in order by
    `randn`), `dt`, and `rows = (n, u, u_next)`: the step's index and its input row and the next one
    (for the input table's calls, see `table`)."""

    def __init__(self, masks, draws, dt, filler=None, rows=None):
        self.masks, self.draws, self.dt, self.filler, self._next = masks, draws, dt, filler, 0
        self._guards, self.rows = 0, rows

    def table(self, when):
        """The input at time `when` by Brian2's `TimedArray` rule for a table of step `dt` (its upsampling
        factor `K` = 8 for a table on the group's own clock): row `int(round(when / (dt / K)) / K)`, that
        is this step's row or, from `t + dt/2` on (rk4's last stage at `t + dt`), the next one."""
        n, u, u_next = self.rows
        k = 8.0
        row = jnp.trunc(jnp.round(when / (self.dt / k)) / k)
        return jnp.where(row > n, u_next, u)

    def guard(self, value):
        """`where(m, value, filler)`, alternating between the two masks (see the module docstring)."""
        mask = self.masks[self._guards % 2]
        self._guards += 1
        return jnp.where(mask, value, self.filler)

    def randn(self):
        draw = self.draws[self._next]
        self._next += 1
        return draw


def _is_product(node) -> bool:
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        node = node.operand
    return isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult)


def _guarded(node, env, ctx):
    value = _eval(node, env, ctx)
    if ctx.masks is None or not _is_product(node):
        return value
    return ctx.guard(value)


def _power(base, exponent):
    """NumPy's `ndarray ** c` (its `fast_scalar_power`): shortcuts for c in (-1, 0, 0.5, 1, 2), `pow`
    for every other exponent (`x**3` is `pow(x, 3.0)`, not `x * x * x`)."""
    if isinstance(exponent, (int, float)):
        shortcut = {
            -1.0: lambda b: 1.0 / b,
            0.0: jnp.ones_like,
            0.5: jnp.sqrt,
            1.0: lambda b: b,
            2.0: lambda b: b * b,
        }.get(float(exponent))
        if shortcut is not None:
            return shortcut(jnp.asarray(base))
        exponent = float(exponent)
    return jnp.power(base, exponent)


def _eval(node, env, ctx):
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        return env[node.id]
    if isinstance(node, ast.BinOp):
        op = type(node.op)
        if op in (ast.Add, ast.Sub):
            return _BINARY[op](_guarded(node.left, env, ctx), _guarded(node.right, env, ctx))
        left = _eval(node.left, env, ctx)
        if op is ast.Pow:
            return _power(left, _eval(node.right, env, ctx))
        right = _eval(node.right, env, ctx)
        if op is ast.Div and isinstance(node.right, ast.Constant):
            # XLA:CPU rewrites `x / broadcast(c)` as `x * (1/c)`, also behind a barrier: the divisor is
            # given the quotient's full shape (see tests/test_tricks.py)
            shape = jnp.broadcast_shapes(jnp.shape(left), ())
            right = jax.lax.optimization_barrier(jnp.full(shape, right, ctx.dt.dtype))
        return _BINARY[op](left, right)
    if isinstance(node, ast.UnaryOp):
        value = _eval(node.operand, env, ctx)
        if isinstance(node.op, ast.USub):
            return -value
        if isinstance(node.op, ast.UAdd):
            return value
        return jnp.logical_not(value)
    if isinstance(node, ast.Compare):
        return _COMPARE[type(node.ops[0])](_eval(node.left, env, ctx), _eval(node.comparators[0], env, ctx))
    if isinstance(node, ast.BoolOp):
        join = jnp.logical_and if isinstance(node.op, ast.And) else jnp.logical_or
        return functools.reduce(join, [_eval(v, env, ctx) for v in node.values])
    if isinstance(node, ast.Call):
        func = node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id
        if func == "randn":
            return ctx.randn()
        if func == _TABLE:
            return ctx.table(_eval(node.args[0], env, ctx))
        args = [_eval(a, env, ctx) for a in node.args]
        if func == "timestep":
            return _timestep(*args, jnp)
        return _JAX_FUNCTIONS[func](*args)
    raise ValueError(f"unsupported expression in the generated code: {ast.unparse(node)!r}")


def _target(statement):
    return statement.targets[0].id if isinstance(statement, ast.Assign) else statement.target.id


def _value(statement, env, ctx):
    if isinstance(statement, ast.Assign):
        return _eval(statement.value, env, ctx)
    as_binop = ast.BinOp(left=statement.target, op=statement.op, right=statement.value)
    return _eval(as_binop, env, ctx)


def run(statements, env: dict, ctx: Context, where=None) -> dict:
    """Execute Brian2 statements on `env` (name -> array); with a bool `where`, only where it is True
    (the reset: Brian2 runs it on the spiking neurons only)."""
    env = dict(env)
    for text in statements:
        statement = _parse(text)
        name = _target(statement)
        value = _value(statement, env, ctx)
        env[name] = value if where is None or name not in env else jnp.where(where, value, env[name])
    return env


def evaluate(text: str, env: dict, ctx: Context):
    return _eval(_parse(text).value, env, ctx)


def _numpy_env(constants: dict) -> dict:
    env = {**constants, "_numpy": np, "timestep": lambda x, d: _timestep(x, d, np)}
    env.update({f: getattr(np, f) for f in _JAX_FUNCTIONS if hasattr(np, f) and f != "int"})
    env.update(exprel=lambda x: np.where(x == 0, 1.0, np.expm1(x) / np.where(x == 0, 1.0, x)), int=np.trunc)
    return env


def _host(statements, inputs: dict, constants: dict, outputs=None, dtype=jnp.float64) -> dict:
    """Run `name = expr` statements with NumPy on the host in float64 (as Brian2's numpy target does),
    inside `jax.pure_callback`, so that they work under `jit` and `vmap`; return the `outputs` (default:
    every target) in `dtype`."""
    if not statements:
        return {}
    names = list(outputs) if outputs is not None else [s.split(" = ", 1)[0] for s in statements]
    keys = list(inputs)
    shape = jnp.broadcast_shapes(*(jnp.shape(v) for v in inputs.values()))

    def compute(*values):
        env = {
            **_numpy_env(constants),
            **{k: np.asarray(v, np.float64) for k, v in zip(keys, values, strict=True)},
        }
        with np.errstate(all="ignore"):  # a degenerate value gives NaN, reported per neuron after the run
            for text in statements:
                exec(text, {}, env)  # Brian2's own statements, as its numpy target runs them
        out_shape = np.shape(values[0])
        return tuple(np.broadcast_to(np.asarray(env[n], np.float64), out_shape).astype(dtype) for n in names)

    like = tuple(jax.ShapeDtypeStruct(shape, dtype) for _ in names)

    @jax.custom_jvp
    def call(*values):
        return jax.pure_callback(compute, like, *values, vmap_method="broadcast_all")

    @call.defjvp
    def call_jvp(primals, tangents):
        """A callback has no derivative: the tangents are those of the same statements in `jax.numpy`
        in float64 (the values stay NumPy's); in float32, the statements' Jacobian computed on the host
        in float64 (`jaxiaf._core.derivatives`), times the tangents."""
        if dtype != jnp.float64:
            jac = lambda *values: tuple(
                d.astype(dtype)
                for d in _derivatives.jacobian(statements, names, keys, values, _numpy_env(constants))
            )
            like_jac = tuple(jax.ShapeDtypeStruct(shape, dtype) for _ in range(len(names) * len(keys)))
            entries = jax.pure_callback(jac, like_jac, *primals, vmap_method="broadcast_all")
            out = [
                sum(entries[i * len(keys) + j] * tangents[j] for j in range(len(keys)))
                for i in range(len(names))
            ]
            return call(*primals), tuple(out)
        named = {n: jnp.asarray(v, dtype) for n, v in constants.items()}
        device = lambda *values: tuple(
            jnp.broadcast_to(
                _device(statements, {**named, **dict(zip(keys, values, strict=True))}, dtype)[n], shape
            )
            for n in names
        )
        return call(*primals), jax.jvp(device, primals, tangents)[1]

    same = [jnp.broadcast_to(v, shape) for v in inputs.values()]  # so that `vmap` batches them alike
    return dict(zip(names, call(*same), strict=True))


def _device(statements, env: dict, dtype) -> dict:
    """The same statements with `jax.numpy` (float32 layers)."""
    env = run(statements, env, Context(None, None, env["dt"]))
    return {s.split(" = ", 1)[0]: jnp.asarray(env[s.split(" = ", 1)[0]], dtype) for s in statements}


def _context(vals, since, draws, dt, rows=None) -> Context:
    """Two all-True masks XLA cannot prove constant and a runtime filler (float64 only; see the module
    docstring)."""
    primary = next(iter(vals.values()))
    if primary.dtype != jnp.float64:
        return Context(None, draws, dt, rows=rows)
    first = since >= 0
    return Context((first, first & (primary == primary)), draws, dt, primary, rows)


def parameters(model, params) -> dict:
    """The model's parameters by name, from the page fields or `params.extra`, as Brian2 stores them:
    `integer` ones truncated towards zero, `boolean` ones 1 where non-zero (else 0)."""
    values = {n: getattr(params, n) if n in PAGE_NAMES else params.extra[n] for n in model.parameter_names}
    for name in model.integers:
        values[name] = jnp.trunc(values[name])
    for name in model.booleans:
        values[name] = jnp.where(values[name] != 0, 1.0, 0.0).astype(values[name].dtype)
    return values


SINGULAR = "_singular"
"""The loop-invariant values' entry of where the update is singular (`jaxiaf._core.singular`)."""


def constants(params, sim, dtype):
    """`(dt, refractory_steps or None, loop-invariant values)` of a model layer, once per evolve: Brian2's
    scalar code (`_lio_k`: of `dt`, the constants, `N`) and hoisted calls (`_inv_k`, per neuron), with NumPy
    on the host in float64, and where the update is singular (`SINGULAR`; `loop_env` makes those neurons'
    parameters NaN). A refractory period of the parameters is computed here; a rule runs every step."""
    model = sim.model
    dt = jnp.asarray(sim.dt, dtype)
    fixed = {**dict(model.constants), "N": params.weights.shape[-1]}
    named = {n: jnp.asarray(v, dtype) for n, v in fixed.items()}
    values = parameters(model, params)
    if dtype == jnp.float64:
        scalars = _host(model.scalar, {"dt": dt}, fixed)
        read = {n.id for s in model.invariant for n in ast.walk(_parse(s).value) if isinstance(n, ast.Name)}
        used = {n: v for n, v in {**values, **scalars}.items() if n in read}
        scalars.update(_host(model.invariant, {"dt": dt, **used}, fixed))
    else:
        scalars = _device(model.scalar, {**named, "dt": dt}, dtype)
        shape = jnp.broadcast_shapes(*(jnp.shape(v) for v in values.values()))  # a sweep's (B, 1) with (N,)
        same = {n: jnp.broadcast_to(v, shape) for n, v in values.items()}
        scalars.update(_device(model.invariant, {**named, **same, **scalars, "dt": dt}, dtype))
    singular = _singular.mask(model, values, dt, fixed)
    if singular is not None:
        scalars[SINGULAR] = singular
    if model.refractory is None:
        return dt, None, scalars
    if model.refractory_rule is not None:
        return dt, jnp.zeros((), jnp.int32), scalars
    env = {**named, **values, **scalars, "dt": dt, "i": jnp.arange(fixed["N"])}
    period = evaluate(model.refractory, env, Context(None, None, dt))
    steps = _timestep(jnp.asarray(period, dtype), dt, jnp)
    return dt, jnp.minimum(steps, NEVER).astype(jnp.int32), scalars


def refuse_singular(params, sim, consts) -> None:
    """`ValueError` naming the neurons whose update is singular, from concrete `consts` (none by default)."""
    if np.any(np.asarray(consts.extra.get(SINGULAR, False))):
        fixed = {**dict(sim.model.constants), "N": params.weights.shape[-1]}
        raise ValueError(_singular.message(sim.model, parameters(sim.model, params), sim.dt, fixed))


def check_singular(params, sim, carrier):
    """`carrier` tied to a runtime check (`eqx.error_if`) that no neuron's update is singular."""
    if sim.model is None:
        return carrier
    fixed = {**dict(sim.model.constants), "N": params.weights.shape[-1]}
    return _singular.checked(sim.model, parameters(sim.model, params), sim.dt, fixed, carrier)


def loop_env(model, params, consts, shape) -> dict:
    """What every step reads besides the state: parameters at the state's shape, `dt`, the constants and
    loop-invariant values; in float64 passed through `optimization_barrier`, so that XLA cannot fold a
    division by a value it knows into a multiplication by its reciprocal."""
    dtype = consts.dt.dtype
    extra = dict(consts.extra)
    singular = extra.pop(SINGULAR, None)
    values = parameters(model, params)
    if singular is not None:  # a singular update gives NaN there: a sweep marks the set as diverged
        values = {n: jnp.where(singular, jnp.nan, v) for n, v in values.items()}
        extra = {n: jnp.where(singular, jnp.nan, v) if n.startswith("_aff_") else v for n, v in extra.items()}
    env = {n: jnp.broadcast_to(jnp.asarray(v, dtype), shape) for n, v in values.items()}
    env.update({n: jnp.asarray(v, dtype) for n, v in model.constants})
    env.update(extra)
    env["dt"] = consts.dt
    if dtype == jnp.float64:
        env = jax.lax.optimization_barrier(env)
    env["i"] = jnp.broadcast_to(jnp.arange(shape[-1]), shape)
    env["N"] = shape[-1]
    return env


CARRIED = "@"
"""Prefix of the values a step's update hands to its threshold and reset (`Model.carried`), kept beside
the state variables in the loop's carry; no equation name can start with it."""


def last_spike(since, n, dt):
    """Brian2's `lastspike` at step `n`: `(n - since) * dt`, the time of the last spike (Brian2 stores
    the clock's `t` then), or -1e4 s before the first one (Brian2's initial value)."""
    return jnp.where(since >= NEVER, -1e4, (n - since) * per_row(dt, since))


def per_row(dt, like):
    """`dt` with trailing axes to broadcast against `like` (`(B, N)`): a sweep's `(B,)`, one per set, gains
    a neuron axis; a `dt` already at the loop's shape (`(N,)` or `(B, N)`, see `scan._loop_shape`) is kept."""
    if jnp.ndim(dt) == 0:
        return dt
    if jnp.shape(like)[jnp.ndim(like) - jnp.ndim(dt) :] == jnp.shape(dt):
        return jnp.broadcast_to(dt, jnp.shape(like))
    return jnp.reshape(dt, jnp.shape(dt) + (1,) * (jnp.ndim(like) - jnp.ndim(dt)))


def not_refractory_before(model, since, steps):
    """Brian2's `not_refractory` at the start of a step, from the refractory counter: `since >= steps`; under
    a refractory condition the counter is 0 while refractory (see `settle`)."""
    return since >= (1 if model.refractory_condition else steps)


def advance(model, env: dict, vals: dict, since, nr, u, n, draws, active, u_next=None) -> dict:
    """The state update of global step `n` (Brian2's constant-over-dt subexpressions, then its state
    updater); `since` is the refractory counter, `nr` Brian2's `not_refractory` before the update (a
    refractory rule recomputes it: `_since` is `since`); states are held where `active` is False. Returns
    the new state variables and, prefixed by `CARRIED`, the values the threshold and reset read.
    `u_next`: the next step's input row, read by the input table's calls at `t + dt`."""
    ctx = _context(vals, since, draws, env["dt"], (n, u, u if u_next is None else u_next))
    t = n * per_row(env["dt"], since)
    step_env = {**env, **vals, "not_refractory": nr, "_since": since, "t": t, INPUT: u}
    step_env["lastspike"] = last_spike(since, n, env["dt"])
    step_env = run(model.per_step, step_env, ctx)
    step_env = run(model.update, step_env, ctx)
    shape = nr.shape
    new = {k: jnp.where(active, jnp.broadcast_to(step_env[k], shape), v) for k, v in vals.items()}
    new.update({CARRIED + k: jnp.broadcast_to(step_env[k], shape) for k in model.carried})
    return new


def settle(model, env: dict, vals: dict, since, nr, n, draws=None, surrogate=None):
    """Brian2's threshold (its statements, then its condition) and reset at global step `n`: `(fired,
    spike, vals after reset, since after the step)`; `spike` is `fired`, or with a `surrogate` the same
    0/1 as floats whose derivative is the surrogate's (`surrogate_spike`). `vals` carries the update's
    `CARRIED` values, dropped here. The counter becomes 1 at a spike, else grows by one (saturating at
    `NEVER`); under a refractory condition it is 0 from a spike until the condition stops holding."""
    carried = {k[len(CARRIED) :]: v for k, v in vals.items() if k.startswith(CARRIED)}
    vals = {k: v for k, v in vals.items() if not k.startswith(CARRIED)}
    nr = carried.pop("not_refractory", nr)
    held = carried.get(INPUT)
    ctx = _context(vals, since, draws, env["dt"], None if held is None else (n, held, held))
    step_env = {**env, **carried, **vals, "not_refractory": nr, "t": n * per_row(env["dt"], since)}
    step_env["lastspike"] = last_spike(since, n, env["dt"])
    step_env = run(model.before_condition, step_env, ctx)
    if model.condition is None:
        fired = jnp.zeros(nr.shape, bool)
    else:
        fired = jnp.broadcast_to(evaluate(model.condition, step_env, ctx), nr.shape)
    spike = fired if surrogate is None else surrogate_spike(model, surrogate, step_env, fired, nr, ctx)
    step_env["lastspike"] = jnp.where(fired, step_env["t"], step_env["lastspike"])  # Brian2's thresholder
    step_env = run(model.on_spike, step_env, ctx, where=fired)
    counted = jnp.minimum(since + 1, NEVER)
    if model.refractory_condition:
        after = jnp.where(fired, 0, jnp.where(nr, counted, 0))
    else:
        after = jnp.where(fired, 1, counted)
    return fired, spike, {k: jnp.broadcast_to(step_env[k], v.shape) for k, v in vals.items()}, after


def crossing(model):
    """`(left, right)` of a threshold condition `left > right` (or `>=`, optionally `& not_refractory`)
    as source text; `ValueError` for any other condition (a surrogate needs a distance to threshold)."""
    if model.condition is None:
        raise ValueError("`surrogate`: the layer's equations have no threshold, so no spike to differentiate")
    node = _parse(model.condition).value
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitAnd):
        others = [n for n in (node.left, node.right) if ast.unparse(n) != "not_refractory"]
        node = others[0] if len(others) == 1 else node
    if isinstance(node, ast.Compare) and isinstance(node.ops[0], (ast.Gt, ast.GtE)):
        return ast.unparse(node.left), ast.unparse(node.comparators[0])
    raise ValueError(
        f"`surrogate`: the threshold must compare a variable with a level (`v > v_thresh`, optionally with "
        f"Brian2's `& not_refractory`) for a surrogate gradient; got {model.threshold!r}."
    )


def surrogate_spike(model, surrogate, env: dict, fired, nr, ctx):
    """`fired` as 0/1 floats (the forward value is Brian2's condition, bit for bit) with the surrogate's
    derivative of `left - right`, scaled by the distance from the level to the reset value of the
    compared variable (`v = v_reset` gives `v_thresh - v_reset`, as for the default equations)."""

    left, right = crossing(model)
    level = jnp.broadcast_to(evaluate(right, env, ctx), fired.shape)
    after = run(model.on_spike, env, ctx)[left] if left in env else level - 1.0
    _, soft = _surrogate.threshold(surrogate, evaluate(left, env, ctx), level, after, nr)
    hard = fired.astype(soft.dtype)
    return hard + (soft - jax.lax.stop_gradient(soft))
