"""Helpers shared by the tests: comparisons, small layers and equations. The random scenarios and the model
zoo, which the benchmarks share, are in `brian_ref/scenarios.py`, `brian_ref/zoo.py` and
`brian_ref/parity.py`.

Tolerances: parity with Brian2 is asserted bit for bit, on spikes and on `v` (the README's claim).
Invariants of the JAX core (chunking, jit, vmap) are
asserted bit for bit: they run the same compiled arithmetic.
"""

import textwrap

import jax
import jax.numpy as jnp
import numpy as np

import jaxiaf
from brian_ref import zoo


def brian_layer(sc, integrator: str, **kwargs):
    """The `brian_ref.scenarios.Scenarios` `sc` as one Brian2 layer of S*M neurons."""
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


ADAPTIVE_LIF = textwrap.dedent(zoo.ADAPTIVE.equations).strip()
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


def initial_state(mod) -> dict:
    """A model layer's state variables by the equations' names (`State.v` is the primary variable)."""
    state, names = mod.neuron_state, mod.sim.model.state_names
    return {names[0]: np.asarray(state.v), **{k: np.asarray(v) for k, v in state.extra.items()}}


def run_script(eqs, currents, params, namespace=None, method=None, refractory=0.0, **rules):
    """`(jax spikes, jax traces, brian result, model)` of equations written as a Brian2 script writes them
    (`namespace`, `threshold`, `reset`, `refractory`, `input_sampling`), run by the layer and by Brian2
    (numpy target, float64) on the same (T, N) `currents`."""
    from brian_ref import EquationLayer

    n = currents.shape[1]
    namespace = dict(namespace or {})
    mod = jaxiaf.FFIAF(
        np.eye(n), neuron_eq=eqs, integrator_name=method, refractory=refractory, namespace=namespace,
        **rules, **params,
    )  # fmt: skip
    spikes, _, record = mod(currents, record=True)
    model = mod.sim.model
    ref = EquationLayer(
        eqs, threshold=model.threshold or None, reset=model.reset or None, refractory=refractory,
        method=model.method, parameters=params, namespace=namespace, input_sampling=model.input_sampling,
    ).evolve(currents, init=initial_state(mod))  # fmt: skip
    traces = {k: np.asarray(v) for k, v in record.items() if k != "spikes"}
    return np.asarray(spikes), traces, ref, model


# Rockpool's timed synaptic layers: random scenarios (tests/test_spiking_timed.py, test_io.py, test_nir.py)
CLASSES = {
    "FFIAFSpkInBrian": jaxiaf.FFIAFSpkInBrian,
    "RecIAFBrian": jaxiaf.RecIAFBrian,
    "RecIAFSpkInBrian": jaxiaf.RecIAFSpkInBrian,
}
NUM_STEPS, DT = 300, 1e-4
METHODS = ("rk4", "euler", "exact", "rk2")


def scenario(kind: str, seed: int, timed_within_step: bool = False) -> dict:
    """A random layer of class `kind` with its input: event times (inside their bins, at most one per
    channel and step; the events of one step at one time, unless `timed_within_step`) or currents
    sampled at the step times."""
    rng = np.random.default_rng([23, 7, list(CLASSES).index(kind), seed])
    n_in, n = 5, 6
    params = dict(
        bias=rng.uniform(0.004, 0.0105, n), tau_mem=rng.uniform(0.01, 0.03, n), v_thresh=-0.055,
        v_reset=rng.uniform(-0.07, -0.06, n), v_rest=-0.065,
    )  # fmt: skip
    weights_in = rng.uniform(0, 0.004, (n_in, n))
    weights_rec = rng.uniform(-0.003, 0.004, (n, n))
    if kind == "FFIAFSpkInBrian":
        weights, params["tau_syn"] = {"weights": weights_in}, rng.uniform(2e-3, 2e-2, n)
    elif kind == "RecIAFBrian":
        weights, params["tau_syn_r"] = {"weights": weights_rec}, rng.uniform(2e-3, 2e-2, n)
    else:
        weights = {"weights_in": weights_in, "weights_rec": weights_rec}
        params.update(tau_syn_inp=rng.uniform(2e-3, 2e-2, n), tau_syn_rec=rng.uniform(2e-3, 2e-2, n))
    raster = rng.random((NUM_STEPS, n_in)) < rng.uniform(0.02, 0.1)
    steps, channels = np.nonzero(raster)
    offsets = rng.uniform(0.05, 0.95, (len(steps) if timed_within_step else NUM_STEPS))
    times = (steps + (offsets if timed_within_step else offsets[steps])) * DT
    currents = rng.uniform(0.004, 0.018, (NUM_STEPS, n))
    return dict(
        kind=kind, n=n, weights=weights, params=params, times=times, channels=channels, currents=currents,
        refractory=float(rng.choice([0.0, 1e-4, 3e-4])), method=METHODS[seed % len(METHODS)],
    )  # fmt: skip


def build(sc: dict):
    return CLASSES[sc["kind"]](
        **sc["weights"], **sc["params"], dt=DT, refractory=sc["refractory"], integrator_name=sc["method"]
    )


def series(sc: dict, t_start: float = 0.0, t_stop: float = NUM_STEPS * DT):
    """The input series of a scenario between two times."""
    if sc["kind"] == "RecIAFBrian":
        times = np.arange(NUM_STEPS + 1) * DT
        samples = np.concatenate([sc["currents"], sc["currents"][-1:]])
        return jaxiaf.TSContinuous(times, samples, interp_kind="previous")
    n_in = next(iter(sc["weights"].values())).shape[0]
    keep = (sc["times"] >= t_start) & (sc["times"] < t_stop)
    return jaxiaf.TSEvent(
        sc["times"][keep], sc["channels"][keep], t_start=t_start, t_stop=t_stop, num_channels=n_in
    )
