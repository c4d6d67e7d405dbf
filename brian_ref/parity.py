"""Both sides of the parity checks: the scenarios of `brian_ref.scenarios` and the models of
`brian_ref.zoo` run by `jaxiaf`, beside Brian2 where a check compares the two. Used by the tests and the
benchmarks. The one module of `brian_ref` that imports `jaxiaf`; `brian_ref` itself does not import it."""

import warnings

import jax
import jax.numpy as jnp
import numpy as np

import jaxiaf
from jaxiaf._core.noise import standard_normal_raster

from ._equations import EquationLayer
from .scenarios import Scenarios
from .zoo import Zoo, scenarios


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


def run_both(zoo: Zoo, method: str, n: int = 100, num_steps: int = 1000, dt: float = 1e-4, seed: int = 0):
    """`(jax spikes, jax traces, brian result, model)` for one random set of scenarios."""
    rng = np.random.default_rng(seed)
    params, init, refractory, currents = scenarios(zoo, rng, n, num_steps, dt)
    mod = jaxiaf.FFIAF(
        np.eye(n),
        dt=dt,
        refractory=refractory,
        neuron_eq=zoo.equations,
        threshold=zoo.threshold,
        reset=zoo.reset,
        integrator_name=method,
        **params,
        **init,
    )
    spikes, _, record = mod(currents, record=True)
    model = mod.sim.model
    xi = None
    if model.draws:
        raster = standard_normal_raster(mod.neuron_state.key, 0, num_steps, model.draws * n, jnp.float64)
        xi = np.asarray(raster).reshape(num_steps, model.draws, n)
    ref = EquationLayer(
        zoo.equations,
        threshold=zoo.threshold,
        reset=zoo.reset,
        refractory=refractory,
        method=method,
        parameters=params,
        dt=dt,
    ).evolve(currents, xi=xi, init=init)
    traces = {k: np.asarray(v) for k, v in record.items() if k != "spikes"}
    return np.asarray(spikes), traces, ref, model


def fit_neurons(weights, x, spikes, **kwargs):
    """`jaxiaf.fit(per_neuron=True)` of each neuron's `tau_mem` and `bias` (boxes 5-50 ms, 0-20 mA) with the
    defaults, FitWarnings silenced: the fit of `brian_ref.scenarios.neurons_problem`."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jaxiaf.FitWarning)
        return jaxiaf.fit(
            jaxiaf.FFIAF(weights),
            x,
            spikes=spikes,
            bounds={"tau_mem": (5e-3, 50e-3), "bias": (0.0, 0.02)},
            per_neuron=True,
            progress=False,
            **kwargs,
        )
