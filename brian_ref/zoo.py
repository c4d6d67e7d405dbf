"""The model zoo of the equation-driven layer: Brian2 models with random per-neuron parameters and inputs,
run by `jaxiaf.FFIAF(neuron_eq=...)` and by `brian_ref.EquationLayer` from the same equations and draws
(`brian_ref.parity.run_both`). Used by the tests and the benchmarks; never imports `jaxiaf`."""

import re
from dataclasses import dataclass

import numpy as np


@dataclass
class Zoo:
    """One model: equations, threshold, reset, every integrator Brian2 accepts for it (without GSL; its
    deprecated `independent` included), and how to draw
    a scenario per neuron (`draw(rng, n) -> (parameters, initial state, input mean, input std)`)."""

    equations: str
    threshold: str
    reset: str
    methods: tuple
    draw: object
    refractory: bool = True


LINEAR_METHODS = ("exact", "exponential_euler", "euler", "rk2", "rk4", "heun", "milstein", "independent")
"""Every method Brian2 offers without GSL: all apply to the zoo's linear models."""


def _u(rng, lo, hi, n):
    return rng.uniform(lo, hi, n)


ADAPTIVE = Zoo(
    """
    dv/dt = (v_rest - v + R*I_inp - R*w)/tau_m : volt (unless refractory)
    dw/dt = (a*(v - v_rest) - w)/tau_w : amp
    v_rest : volt
    R : ohm
    tau_m : second
    tau_w : second
    a : siemens
    b : amp
    v_thresh : volt
    v_reset : volt
    """,
    "v > v_thresh",
    "v = v_reset; w += b",
    LINEAR_METHODS,
    # `a` small enough for real eigenvalues: Brian2's `exact` solution takes sqrt of the discriminant
    lambda rng, n: (
        dict(
            v_rest=-0.065,
            R=_u(rng, 0.5, 2, n),
            tau_m=_u(rng, 0.005, 0.03, n),
            tau_w=_u(rng, 0.1, 0.3, n),
            a=_u(rng, 0.001, 0.05, n),
            b=_u(rng, 0, 0.004, n),
            v_thresh=_u(rng, -0.055, -0.045, n),
            v_reset=_u(rng, -0.07, -0.06, n),
        ),
        dict(v=_u(rng, -0.07, -0.05, n), w=_u(rng, 0, 0.003, n)),
        0.025,
        0.02,
    ),
)

SYNAPTIC = Zoo(
    """
    dv/dt = (v_rest - v + R*I_syn)/tau_m : volt (unless refractory)
    dI_syn/dt = (I_inp - I_syn)/tau_syn : amp
    v_rest : volt
    R : ohm
    tau_m : second
    tau_syn : second
    v_thresh : volt
    v_reset : volt
    """,
    "v > v_thresh",
    "v = v_reset",
    LINEAR_METHODS,
    lambda rng, n: (
        dict(
            v_rest=-0.065,
            R=_u(rng, 0.5, 2, n),
            tau_m=_u(rng, 0.005, 0.03, n),
            tau_syn=_u(rng, 0.001, 0.01, n),
            v_thresh=_u(rng, -0.055, -0.045, n),
            v_reset=_u(rng, -0.07, -0.06, n),
        ),
        dict(v=_u(rng, -0.07, -0.05, n), I_syn=_u(rng, 0, 0.02, n)),
        0.02,
        0.03,
    ),
)

QUADRATIC = Zoo(
    """
    dv/dt = (k*(v - v_rest)*(v - v_crit) + R*I_inp)/tau_m : volt (unless refractory)
    k : 1/volt
    v_rest : volt
    v_crit : volt
    R : ohm
    tau_m : second
    v_peak : volt
    v_reset : volt
    """,
    "v > v_peak",
    "v = v_reset",
    ("euler", "rk2", "rk4", "heun", "milstein"),
    lambda rng, n: (
        dict(
            k=_u(rng, 20, 60, n),
            v_rest=-0.065,
            v_crit=_u(rng, -0.05, -0.045, n),
            R=_u(rng, 0.2, 1, n),
            tau_m=_u(rng, 0.005, 0.02, n),
            v_peak=_u(rng, 0.001, 0.03, n),
            v_reset=_u(rng, -0.07, -0.06, n),
        ),
        dict(v=_u(rng, -0.07, -0.055, n)),
        0.008,
        0.01,
    ),
)

ADEX = Zoo(
    """
    dv/dt = (g_L*(E_L - v) + g_L*delta_T*exp((v - v_T)/delta_T) + I_inp - w)/C : volt (unless refractory)
    dw/dt = (a*(v - E_L) - w)/tau_w : amp
    g_L : siemens
    E_L : volt
    delta_T : volt
    v_T : volt
    C : farad
    a : siemens
    b : amp
    tau_w : second
    v_reset : volt
    """,
    "v > v_T + 4*delta_T",
    "v = v_reset; w += b",
    ("exponential_euler", "euler", "rk2", "rk4", "heun", "milstein"),
    lambda rng, n: (
        dict(
            g_L=_u(rng, 5e-9, 15e-9, n),
            E_L=-0.07,
            delta_T=_u(rng, 0.001, 0.003, n),
            v_T=_u(rng, -0.055, -0.048, n),
            C=_u(rng, 100e-12, 300e-12, n),
            a=_u(rng, 0, 4e-9, n),
            b=_u(rng, 0, 1e-10, n),
            tau_w=_u(rng, 0.03, 0.3, n),
            v_reset=_u(rng, -0.07, -0.05, n),
        ),
        dict(v=_u(rng, -0.07, -0.06, n), w=_u(rng, 0, 5e-11, n)),
        3e-10,
        3e-10,
    ),
)

TWO_COMPARTMENT = Zoo(
    """
    dv/dt = (v_rest - v + R*I_inp + g_c*(v_d - v))/tau_m : volt (unless refractory)
    dv_d/dt = (v_rest - v_d + g_c*(v - v_d))/tau_d : volt
    v_rest : volt
    R : ohm
    g_c : 1
    tau_m : second
    tau_d : second
    v_thresh : volt
    v_reset : volt
    """,
    "v > v_thresh",
    "v = v_reset",
    LINEAR_METHODS,
    lambda rng, n: (
        dict(
            v_rest=-0.065,
            R=_u(rng, 0.5, 2, n),
            g_c=_u(rng, 0.1, 2, n),
            tau_m=_u(rng, 0.005, 0.03, n),
            tau_d=_u(rng, 0.01, 0.1, n),
            v_thresh=_u(rng, -0.055, -0.045, n),
            v_reset=_u(rng, -0.07, -0.06, n),
        ),
        dict(v=_u(rng, -0.07, -0.05, n), v_d=_u(rng, -0.07, -0.05, n)),
        0.02,
        0.02,
    ),
)

NOISY = Zoo(
    """
    dv/dt = (v_rest - v + R*I_inp)/tau_m + sigma*sqrt(2/tau_m)*xi : volt (unless refractory)
    v_rest : volt
    R : ohm
    tau_m : second
    sigma : volt
    v_thresh : volt
    v_reset : volt
    """,
    "v > v_thresh",
    "v = v_reset",
    ("euler", "heun", "milstein"),
    lambda rng, n: (
        dict(
            v_rest=-0.065,
            R=_u(rng, 0.5, 2, n),
            tau_m=_u(rng, 0.005, 0.03, n),
            sigma=_u(rng, 0, 0.005, n),
            v_thresh=_u(rng, -0.055, -0.045, n),
            v_reset=_u(rng, -0.07, -0.06, n),
        ),
        dict(v=_u(rng, -0.07, -0.05, n)),
        0.012,
        0.01,
    ),
)

ZOO = {
    "adaptive": ADAPTIVE,
    "synaptic": SYNAPTIC,
    "quadratic": QUADRATIC,
    "adex": ADEX,
    "two_compartment": TWO_COMPARTMENT,
    "noisy": NOISY,
}


def scenarios(zoo: Zoo, rng, n: int, num_steps: int, dt: float):
    """Random parameters, initial states, refractory periods (0-30 steps) and OU-like inputs per neuron."""
    params, init, mean, std = zoo.draw(rng, n)
    refractory = rng.integers(0, 31, n) * dt if zoo.refractory else np.zeros(n)
    level = rng.uniform(0.3, 1.7, n) * mean
    noise = rng.normal(0, 1, (num_steps, n))
    smooth = np.empty_like(noise)
    acc = np.zeros(n)
    for k in range(num_steps):  # a 2-ms low-pass of white noise
        acc = acc + (noise[k] - acc) * (dt / 2e-3)
        smooth[k] = acc
    currents = level + std * smooth / smooth.std()
    return params, init, refractory, currents


def transcendental(model) -> bool:
    """Whether a step calls `exp`, `log`, `sqrt`, ... (of the state or of `t`): XLA's implementations
    differ from NumPy's by one ulp on some arguments. Calls on parameters alone are computed once per
    evolution with NumPy (`Model.invariant`) and do not count."""
    calls = re.compile(
        r"\b(exp|expm1|exprel|log|log10|log1p|sqrt|sin|cos|tan|sinh|cosh|tanh|arcsin|arccos|arctan)\("
    )
    settle = (*model.before_condition, model.condition or "", *model.on_spike)
    return any(calls.search(s) for s in model.update + model.per_step + settle)


def same_trains(a, b):
    """(N,) whether each neuron's spike train is identical."""
    return (a == b).all(axis=0)
