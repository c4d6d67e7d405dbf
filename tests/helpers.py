"""Helpers shared by the tests: random parity scenarios and comparisons.

Tolerances: parity with Brian2 is asserted bit for bit, on spikes and on `v` (the README's claim).
Invariants of the JAX core (chunking, jit, vmap) are
asserted bit for bit: they run the same compiled arithmetic.
"""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

import jaxiaf


@dataclasses.dataclass
class Scenarios:
    """S scenarios of M neurons and N_in inputs, stacked: `x` (S, T, N_in), `weights` (S, N_in, M), per-neuron
    parameters (S, M)."""

    x: np.ndarray
    weights: np.ndarray
    bias: np.ndarray
    tau_mem: np.ndarray
    v_thresh: np.ndarray
    v_reset: np.ndarray
    v_rest: np.ndarray
    refractory: np.ndarray
    dt: float

    @property
    def shape(self):
        return self.weights.shape[0], self.weights.shape[2]

    def flat(self, name):
        return getattr(self, name).reshape(-1)

    def currents(self):
        """(T, S*M) input currents, `x_s @ W_s` per scenario, computed by NumPy."""
        return np.concatenate([self.x[s] @ self.weights[s] for s in range(self.x.shape[0])], axis=1)

    def with_thresholds(self, v_thresh):
        return dataclasses.replace(self, v_thresh=v_thresh)


def random_scenarios(rng, num, num_steps, dt, num_in=3, num_neurons=4) -> Scenarios:
    """Random scenarios: tau 1-100 ms (log-uniform), step / sine / white-noise inputs, mixed-sign weights,
    v_reset above and below v_rest, refractory 0-30 steps including non-multiples of dt."""
    t = np.arange(num_steps) * dt
    xs = []
    for s in range(num):
        kind = s % 3
        if kind == 0:
            onset = rng.uniform(0, t[-1], num_in)
            x = rng.uniform(0.5, 2.0, num_in) * (t[:, None] > onset)
        elif kind == 1:
            freq = rng.uniform(2, 50, num_in)
            x = rng.uniform(0.5, 2.0, num_in) * np.sin(
                2 * np.pi * freq * t[:, None] + rng.uniform(0, 6, num_in)
            )
        else:
            x = rng.normal(0, 1.0, (num_steps, num_in))
        xs.append(x)
    size = (num, num_neurons)
    refr_steps = rng.integers(0, 31, size)
    fraction = np.where(rng.random(size) < 0.5, 0.0, rng.uniform(0.0, 0.99, size))
    v_rest = rng.uniform(-0.07, -0.06, size)
    return Scenarios(
        x=np.stack(xs),
        weights=rng.normal(0, 0.01, (num, num_in, num_neurons)),
        bias=rng.uniform(0.0, 0.03, size),
        tau_mem=np.exp(rng.uniform(np.log(1e-3), np.log(0.1), size)),
        v_thresh=rng.uniform(-0.058, -0.045, size),
        v_reset=v_rest + rng.uniform(-0.01, 0.01, size),
        v_rest=v_rest,
        refractory=(refr_steps + fraction) * dt,
        dt=dt,
    )


def batched_module(sc: Scenarios, integrator: str, **kwargs):
    """A module whose leaves carry a leading scenario axis (built with `jax.vmap`)."""

    def build(w, b, tau, vt, vreset, vrest, refr):
        return jaxiaf.FFIAF(
            w,
            bias=b,
            tau_mem=tau,
            v_thresh=vt,
            v_reset=vreset,
            v_rest=vrest,
            refractory=refr,
            dt=sc.dt,
            integrator_name=integrator,
            **kwargs,
        )

    args = [
        jnp.asarray(a)
        for a in (sc.weights, sc.bias, sc.tau_mem, sc.v_thresh, sc.v_reset, sc.v_rest, sc.refractory)
    ]
    return jax.vmap(build)(*args)


def run_jax(sc: Scenarios, integrator: str, **kwargs):
    """Spikes (T, S*M) and v (T, S*M) of all scenarios, in one vmapped call."""
    mods = batched_module(sc, integrator, **kwargs)
    spikes, _, rec = jax.vmap(lambda m, x: m(x, record=True))(mods, jnp.asarray(sc.x))
    flat = lambda a: np.moveaxis(np.asarray(a), 0, 1).reshape(a.shape[1], -1)
    return flat(spikes), flat(rec["v"])


def brian_layer(sc: Scenarios, integrator: str, **kwargs):
    from brian_ref import FFIAFBrian2

    n = sc.weights.shape[0] * sc.weights.shape[2]
    return FFIAFBrian2(
        np.zeros((1, n)),
        bias=sc.flat("bias"),
        tau_mem=sc.flat("tau_mem"),
        v_thresh=sc.flat("v_thresh"),
        v_reset=sc.flat("v_reset"),
        v_rest=sc.flat("v_rest"),
        refractory=sc.flat("refractory"),
        dt=sc.dt,
        integrator_name=integrator,
        **kwargs,
    )


def spike_sets_equal(a, b, num_scenarios):
    """Per scenario: are the (step, neuron) spike sets identical?"""
    t = a.shape[0]
    return (a.reshape(t, num_scenarios, -1) == b.reshape(t, num_scenarios, -1)).all(axis=(0, 2))


def require(module: str):
    """Import an optional dependency: skipped locally if absent, a failure in CI (`JAXIAF_REQUIRE_INTEROP=1`,
    set by `.ci/run`), which installs the `interop` extra and must run these tests."""
    import importlib
    import os

    import pytest

    if os.environ.get("JAXIAF_REQUIRE_INTEROP") == "1":
        return importlib.import_module(module)
    return pytest.importorskip(module)


def random_layer(integrator="rk4", n_in=3, n=5, seed=0, **kwargs):
    """A default-equation `FFIAF` with random per-neuron parameters near the defaults."""
    rng = np.random.default_rng(seed)
    values = dict(
        weights=rng.normal(0.0, 0.01, (n_in, n)),
        bias=rng.uniform(0.005, 0.015, n),
        tau_mem=rng.uniform(0.01, 0.03, n),
        v_thresh=rng.uniform(-0.056, -0.054, n),
        v_reset=rng.uniform(-0.07, -0.065, n),
        v_rest=rng.uniform(-0.066, -0.064, n),
        integrator_name=integrator,
    )
    return jaxiaf.FFIAF(**{**values, **kwargs})


def assert_same_module(a, b):
    """Two modules with the same tree structure and bit-identical leaves (keys compared as their raw data)."""

    def leaves(module):
        flat, treedef = jax.tree.flatten(module)
        raw = lambda x: jax.random.key_data(x) if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key) else x
        return [np.asarray(raw(x)) for x in flat], treedef

    (la, ta), (lb, tb) = leaves(a), leaves(b)
    assert ta == tb
    for x, y in zip(la, lb, strict=True):
        assert x.dtype == y.dtype and np.array_equal(x, y)


def python_blocks(path) -> list:
    """The ```python blocks of a Markdown page, each padded with blank lines so that a traceback names the
    page's own line."""
    import re
    from pathlib import Path

    text = Path(path).read_text()
    return [
        "\n" * text.count("\n", 0, match.start(1)) + match.group(1)
        for match in re.finditer(r"```python\n(.*?)```", text, flags=re.S)
    ]


def as_float32(tree):
    """A float64 pytree of the tests' x64 mode, as the float32 pytree a layer has with x64 off."""

    def cast(a):
        if not isinstance(a, jax.Array) or jnp.issubdtype(a.dtype, jax.dtypes.prng_key):
            return a
        if jnp.issubdtype(a.dtype, jnp.floating):
            return a.astype(jnp.float32)
        return a.astype(jnp.int32) if jnp.issubdtype(a.dtype, jnp.integer) else a

    return jax.tree.map(cast, tree)


ADAPTIVE_LIF = """dv/dt = (v_rest - v + R*I_inp - R*w)/tau_m : volt (unless refractory)
dw/dt = (a*(v - v_rest) - w)/tau_w : amp
v_rest : volt
R : ohm
tau_m : second
tau_w : second
a : siemens
b : amp
v_thresh : volt
v_reset : volt"""
"""An adaptive LIF in Brian2's syntax, as users write it (reset `"v = v_reset; w += b"`)."""
ADAPTIVE_LIF_VALUES = dict(
    v_rest=-0.065, R=1.0, tau_m=0.02, tau_w=0.15, a=0.02, b=2e-3, v_thresh=-0.05, v_reset=-0.065
)
"""Values of `ADAPTIVE_LIF`'s parameters (SI)."""


FIT_TRUTH = {"tau_mem": 0.02, "bias": 0.008, "v_thresh": -0.052, "refractory": 3e-3}
"""The parameters of the simulated fitting problem (`tests/test_fit.py`, `tests/test_fit_grad_methods.py`)."""
FIT_BOUNDS = {
    "tau_mem": (5e-3, 50e-3),
    "bias": (0.0, 0.02),
    "v_thresh": (-0.06, -0.045),
    "refractory": (0.0, 6e-3),
}
"""The search box of that problem (SI)."""

LIF = """dv/dt = (v_rest - v + R*I_inp)/tau : volt
v_rest : volt
R : ohm
tau : second
v_thresh : volt
v_reset : volt"""
"""A leaky integrate-and-fire neuron as a Brian2 user writes it."""


def sweep_workload():
    """A noisy float64 sweep of 15 sets with swept weights: 2 chunks of 8 over 4 devices, the last padded."""
    rng = np.random.default_rng(3)
    mod = jaxiaf.FFIAF(rng.normal(0, 0.01, (3, 5)), noise_std=0.002, refractory=1e-3)
    batch = {
        "bias": np.linspace(0.005, 0.03, 15),
        "tau_mem": np.tile([0.01, 0.02, 0.04], 5),
        "weights": rng.normal(0, 0.01, (15, 3, 5)),
    }
    return mod, batch, rng.normal(0.5, 1.0, (300, 3))
