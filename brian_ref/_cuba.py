"""Brian2's CUBA benchmark network (Vogels & Abbott 2005; Brian2's `examples/CUBA.py`) as plain arrays.

The same equations and constants, written with declared parameters (and a zero `I_inp` input, as every
layer has one), a seeded connectivity and seeded initial `v`, so that `jaxiaf` and Brian2 run one network.
"""

import numpy as np

CUBA_EQUATIONS = """dv/dt = (ge + gi - (v - v_rest) + R*I_inp)/tau_m : volt (unless refractory)
dge/dt = -ge/tau_e : volt
dgi/dt = -gi/tau_i : volt
v_rest : volt
R : ohm
tau_m : second
tau_e : second
tau_i : second
v_thresh : volt
v_reset : volt"""
"""CUBA's neurons; threshold `v > v_thresh`, reset `v = v_reset`, refractory 5 ms, method `exact`."""

CUBA_VALUES = dict(v_rest=-0.049, R=1.0, tau_m=0.02, tau_e=0.005, tau_i=0.01, v_thresh=-0.05, v_reset=-0.06)
"""CUBA's constants (SI): El = -49 mV, taum = 20 ms, taue = 5 ms, taui = 10 ms, Vt = -50 mV, Vr = -60 mV."""


def cuba_network(n=4000, n_exc=3200, p=0.02, seed=0):
    """`(exc, inh, v0)`: (n, n) weights (V) of the excitatory synapses (`ge += w`, 1.62 mV, from the first
    `n_exc` neurons) and the inhibitory ones (`gi += w`, -9 mV, from the others), each pair connected with
    probability `p`, and the initial `v`, uniform in [Vr, Vt)."""
    rng = np.random.default_rng(seed)
    connected = rng.random((n, n)) < p
    exc = np.where(connected & (np.arange(n) < n_exc)[:, None], 60 * 0.27 / 10 * 1e-3, 0.0)
    inh = np.where(connected & (np.arange(n) >= n_exc)[:, None], -20 * 4.5 / 10 * 1e-3, 0.0)
    return exc, inh, -0.06 + rng.random(n) * 0.01


def cuba_input(n=4000, n_in=200, p=0.1, seed=1):
    """(n_in, n) weights (V) of an external Poisson input onto CUBA's `ge` (`ge += w`, 1.62 mV, CUBA's
    excitatory weight), each pair connected with probability `p`: the input of the sweep over
    (excitatory weight, input rate) in `benchmarks/bench_cuba_sweep.py` and `docs/notebooks/cuba.ipynb`."""
    rng = np.random.default_rng(seed)
    return np.where(rng.random((n_in, n)) < p, 60 * 0.27 / 10 * 1e-3, 0.0)
