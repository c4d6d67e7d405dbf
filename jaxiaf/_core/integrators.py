"""The per-step membrane updates, one function per integrator, in Brian2's order of operations.

Every update has the signature `update(v, u, params, consts, nr) -> v_new`:

- `v`: (N,) membrane potential at the start of the step (V).
- `u`: (N,) input current of the step, held constant over `[t_n, t_n + dt)` (A); `bias` is added here.
  Under Brian2's `TimedArray` rule (`input_sampling="timed"`) a stage at `t + dt` reads the next row
  instead: of these integrators only rk4's last stage is there (`READS_NEXT_ROW`), and `rk4` takes that
  row as `u_next`. rk2's midpoint stage (`t + dt/2`) and the others' (`t`) read the step's own row.
- `params`: the [`jaxiaf.Parameters`][] (`bias`, `v_rest` used here).
- `consts`: the [`jaxiaf.StepConstants`][] computed once per evolve (`dt`, `tau_mem`, `decay`).
- `nr`: (N,) bool, True where the neuron is not refractory.

Products that are followed by an addition are written `_mul(a, b, mask)` (`where(mask, a * b, 0)`): a
select on a runtime mask stops XLA:CPU (LLVM) from contracting the pair into a fused multiply-add, which
rounds differently from Brian2's numpy code. LLVM merges `select(m, x, 0) + select(m, y, 0)` into one
select of `x + y` (and then contracts it), so two masked products that are added together use different
masks: `nr` and `nr & (v == v)` (equal for any non-NaN `v`). The value where a mask is False is irrelevant:
the caller holds `v` for refractory neurons, and a NaN `v` stays NaN through the final `+ v`. In float32,
which is not spike-exact anyway, the masks are skipped: the same expressions, with plain products.

With `r_m = 1` ohm, the expressions are Brian2 2.9.0's generated numpy code for
`dv/dt = (v_rest - v + r_m*(Ib + I_in))/tau_m`, evaluated left to right as parenthesised (multiplying by
`r_m = 1` is exact and dropped). These run in float64.

In float32 every integrator runs as one affine update, `affine` (except rk4 reading `u_next`, which runs
`rk4` unmasked): with the input held over the step, each of them maps `v` to `v + (v_inf - v) * c`,
`v_inf = v_rest + (u + Ib)`, with a coefficient `c(h)` of `h = dt / tau_mem` computed once per evolve
(`coefficient`): the same polynomial (or exponential) as Brian2's expressions, evaluated in fewer
operations, so that XLA:CPU emits one short loop per step.
"""

from collections.abc import Callable

import jax.numpy as jnp

_SIXTH = 0.16666666666666666
_THIRD = 0.3333333333333333


def _mul(a, b, mask):
    if mask is None:
        return a * b
    return jnp.where(mask, a * b, 0.0)


def _masks(v, nr):
    """The two masks in float64; in float32 (not bit-exact anyway) plain products, which run faster."""
    if v.dtype != jnp.float64:
        return None, None
    return nr, nr & (v == v)


def _drive(v, u, params, consts, offset=None):
    """`(dt * (((offset + (u + Ib)) + v_rest) - v)) / tau`: Brian2's `dt*f(v + offset)` (no offset: `k1`)."""
    current = u + params.bias if offset is None else offset + (u + params.bias)
    return (consts.dt * ((current + params.v_rest) - v)) / consts.tau_mem


def euler(v, u, params, consts, nr):
    """Forward Euler: `_v = ((dt * (((u + Ib) + v_rest) - v)) / tau) + v`, i.e. `v + h*D`."""
    return _drive(v, u, params, consts) + v


def rk2(v, u, params, consts, nr):
    """Midpoint RK2: `k = dt*f(v)`; `_v = dt*f(v + k/2) + v` with `k/2` written `0.5 * (-k)` subtracted."""
    m1, _ = _masks(v, nr)
    k = _drive(v, u, params, consts)
    return _drive(v, u, params, consts, _mul(0.5, -k, m1)) + v


def rk4(v, u, params, consts, nr, u_next=None):
    """Classical RK4, Brian2's form: `k1..k4`, then `((((k1/6) + (k2/3)) + (k3/3)) + (k4/6)) + v`;
    `k4` (the stage at `t + dt`) reads `u_next`, the next row, where given (default: `u`)."""
    m1, m2 = _masks(v, nr)
    k1 = _drive(v, u, params, consts)
    k2 = _drive(v, u, params, consts, _mul(0.5, -k1, m1))
    k3 = _drive(v, u, params, consts, _mul(0.5, -k2, m1))
    k4 = _drive(v, u if u_next is None else u_next, params, consts, -k3)
    acc = _mul(_SIXTH, k1, m1) + _mul(_THIRD, k2, m2)
    acc = acc + _mul(_THIRD, k3, m1)
    acc = acc + _mul(_SIXTH, k4, m2)
    return acc + v


def exact(v, u, params, consts, nr):
    """Exact solution over a step: `(((u + Ib) + v*E) + v_rest) + (((-u) - (Ib + v_rest)) * E)`."""
    m1, m2 = _masks(v, nr)
    e = consts.decay
    head = ((u + params.bias) + _mul(v, e, m1)) + params.v_rest
    return head + _mul((-u) - (params.bias + params.v_rest), e, m2)


def exact_timed(v, u, params, consts, nr):
    """The exact solution as Brian2 generates it for `I_inp(t, i)` read by the `TimedArray` rule (at `t`):
    `(((Ib + u) + v*E) + v_rest) + (((-Ib) - (u + v_rest)) * E)`, the tail's terms in another order."""
    m1, m2 = _masks(v, nr)
    e = consts.decay
    head = ((params.bias + u) + _mul(v, e, m1)) + params.v_rest
    return head + _mul((-params.bias) - (u + params.v_rest), e, m2)


def exponential_euler(v, u, params, consts, nr):
    """Brian2's exponential Euler: `_BA = -tau*((u/tau + Ib/tau) + v_rest/tau)`; `-_BA + (_BA + v)*E`."""
    m1, m2 = _masks(v, nr)
    tau = consts.tau_mem
    ba = _mul(-tau, ((u / tau) + (params.bias / tau)) + (params.v_rest / tau), m1)
    return (-ba) + _mul(ba + v, consts.decay, m2)


def affine(v, u, params, consts, nr):
    """Any integrator in float32: `v + ((v_rest + (u + Ib)) - v) * c`, `c = consts.coefficient`."""
    return v + ((params.v_rest + (u + params.bias)) - v) * consts.coefficient


_COEFFICIENTS = {
    "euler": lambda h: h,
    "rk2": lambda h: h * (1 - 0.5 * h),
    "rk4": lambda h: h * (1 - h * (0.5 - h * (_SIXTH - h / 24))),
    "exponential_euler": lambda h: -jnp.expm1(-h),
    "exact": lambda h: -jnp.expm1(-h),
    "linear": lambda h: -jnp.expm1(-h),
}

READS_NEXT_ROW = frozenset({"rk4"})
"""The integrators with a stage at `t + dt`, which reads the input's next row under Brian2's `TimedArray`
rule (Brian2 2.9's generated code: rk4's `k4`; rk2's second stage is at `t + dt/2`, euler's,
exponential euler's and the exact solution's only evaluation at `t`)."""

TIMED_ORDER = {"exact": exact_timed, "linear": exact_timed}
"""The updates whose order of operations differs under the `TimedArray` rule: Brian2 orders the terms of
its generated code by name, and the call `I_inp(t, i)` sorts otherwise than the held subexpression."""

STABILITY_LIMITS = {"euler": 2.0, "rk2": 2.0, "rk4": 2.785293563405282}
"""The largest `dt / tau_mem` for which an explicit integrator does not blow up: `|1 - c(h)| <= 1`."""


def coefficient(name: str, h):
    """`c(h)` of the affine update (see the module docstring): `h`, `h - h^2/2`,
    `h - h^2/2 + h^3/6 - h^4/24` (Horner form), or `1 - exp(-h)` evaluated as `-expm1(-h)`."""
    return _COEFFICIENTS[name](h)


Update = Callable[..., jnp.ndarray]
"""`update(v, u, params, consts, nr) -> v_new`, see the module docstring."""

INTEGRATORS: dict[str, Update] = {
    "rk4": rk4,
    "rk2": rk2,
    "euler": euler,
    "exponential_euler": exponential_euler,
    "exact": exact,
    "linear": exact,
}


def resolve_integrator(name) -> Update:
    """The update function for an integrator name; `ValueError` naming the allowed ones otherwise."""
    if not isinstance(name, str) or name not in INTEGRATORS:
        allowed = ", ".join(repr(k) for k in INTEGRATORS)
        raise ValueError(f"`integrator_name` must be one of {allowed}; got {name!r}.")
    return INTEGRATORS[name]
