"""Neuron models for real cells, ready to fit by name: Brian2 equations, threshold, reset, refractory
period, default values and default bounds (SI), each with its source.

Every model reads the injected current as `I_inp` (A) and keeps its membrane potential in `v` (V),
starting at `v_rest`; extra state variables (adaptation current `w`, threshold shift `theta`) start at 0.
A model is only a starting point: [`jaxiaf.FFIAF`][] takes any Brian2 equations.
"""

from typing import NamedTuple

import numpy as np

from .._layer import FFIAF


class NeuronModel(NamedTuple):
    """A neuron model for fitting recordings.

    **Fields:**

    - `name`: the key in [`jaxiaf.neuron_models`][].
    - `equations`, `threshold`, `reset`: Brian2 code (`neuron_eq`, `threshold`, `reset` of
      [`jaxiaf.FFIAF`][]).
    - `integrator`: the integrator (Brian2's method name).
    - `values`: `{name: value}` defaults of every declared parameter (SI), `refractory` (s) included.
    - `bounds`: `{name: (low, high)}` default search box (SI) of the parameters a spike fit should free;
      the others keep `values` (`v_rest` only shifts every voltage when fitting spikes).
    - `source`: where the equations come from.
    """

    name: str
    equations: str
    threshold: str
    reset: str
    integrator: str
    values: dict
    bounds: dict
    source: str

    def layer(self, dt: float, **values) -> FFIAF:
        """A one-neuron [`jaxiaf.FFIAF`][] of this model (weight 1: `x` is the injected current, A) with
        time step `dt` (s), its `values` updated by `values` (SI)."""
        unknown = sorted(set(values) - set(self.values))
        if unknown:
            raise ValueError(
                f"{unknown} are not parameters of the {self.name!r} model; it has {list(self.values)}."
            )
        merged = {**self.values, **values}
        refractory = merged.pop("refractory")
        return FFIAF(
            np.ones((1, 1)),
            dt=dt,
            refractory=refractory,
            neuron_eq=self.equations,
            threshold=self.threshold,
            reset=self.reset,
            integrator_name=self.integrator,
            **merged,
        )


_MEMBRANE = "dv/dt = (v_rest - v + R*(I_inp{current}))/tau_m : volt (unless refractory)"
_COMMON = {
    "v_rest": -0.065,
    "R": 100e6,
    "tau_m": 0.015,
    "v_thresh": -0.05,
    "v_reset": -0.06,
    "refractory": 2e-3,
}
_COMMON_BOUNDS = {
    "R": (20e6, 400e6),
    "tau_m": (3e-3, 60e-3),
    "v_thresh": (-0.06, -0.035),
    "v_reset": (-0.075, -0.04),
    "refractory": (0.0, 6e-3),
}
_DECLARE = "v_rest : volt\nR : ohm\ntau_m : second\nv_thresh : volt\nv_reset : volt\n"
_ADAPTATION = "dw/dt = -w/tau_w : amp\ntau_w : second\nb : amp\n"
_THRESHOLD = "dtheta/dt = -theta/tau_theta : volt\ntau_theta : second\ndelta_theta : volt\n"

neuron_models = {
    model.name: model
    for model in (
        NeuronModel(
            "lif",
            _MEMBRANE.format(current="") + "\n" + _DECLARE,
            "v > v_thresh",
            "v = v_reset",
            "exact",
            dict(_COMMON),
            dict(_COMMON_BOUNDS),
            "Leaky integrate-and-fire with an absolute refractory period (Lapicque 1907; e.g. Gerstner, "
            "Kistler, Naud & Paninski, Neuronal Dynamics, 2014, ch. 1.3).",
        ),
        NeuronModel(
            "adaptation",
            _MEMBRANE.format(current=" - w") + "\n" + _ADAPTATION + _DECLARE,
            "v > v_thresh",
            "v = v_reset; w += b",
            "exact",
            {**_COMMON, "tau_w": 0.1, "b": 20e-12},
            {**_COMMON_BOUNDS, "tau_w": (5e-3, 0.5), "b": (0.0, 300e-12)},
            "LIF with a spike-triggered adaptation current `w` (jump `b`, decay `tau_w`): the adaptive IF "
            "of Brette & Gerstner (J Neurophysiol 94:3637, 2005) without the subthreshold coupling and "
            "exponential term; Neuronal Dynamics ch. 6.1.",
        ),
        NeuronModel(
            "adaptive_threshold",
            _MEMBRANE.format(current="")
            + "\ndtheta/dt = (a*(v - v_rest) - theta)/tau_theta : volt\na : 1\ntau_theta : second\n"
            + "delta_theta : volt\n"
            + _DECLARE,
            "v > v_thresh + theta",
            "v = v_reset; theta += delta_theta",
            "exact",
            {**_COMMON, "a": 0.3, "tau_theta": 0.01, "delta_theta": 2e-3},
            {**_COMMON_BOUNDS, "a": (0.0, 1.0), "tau_theta": (1e-3, 0.1), "delta_theta": (0.0, 0.02)},
            "LIF whose threshold follows the membrane potential (`a`, `tau_theta`: the linearised threshold "
            "dynamics of Platkiewicz & Brette, PLoS Comput Biol 6:e1000850, 2010) and jumps by `delta_theta` "
            "at each spike (Brette's adaptive-threshold model for the QSNMC data: Rossant et al., Front "
            "Neuroinform 4:2, 2010).",
        ),
        NeuronModel(
            "adex",
            "dv/dt = (v_rest - v + delta_T*exp((v - v_T)/delta_T) + R*(I_inp - w))/tau_m : volt "
            "(unless refractory)\ndw/dt = (a*(v - v_rest)/R - w)/tau_w : amp\n"
            "v_rest : volt\nR : ohm\ntau_m : second\nv_T : volt\ndelta_T : volt\nv_peak : volt\n"
            "v_reset : volt\na : 1\ntau_w : second\nb : amp\n",
            "v > v_peak",
            "v = v_reset; w += b",
            "euler",
            {
                **{k: v for k, v in _COMMON.items() if k != "v_thresh"},
                "v_T": -0.05,
                "delta_T": 2e-3,
                "v_peak": 0.0,
                "a": 0.2,
                "tau_w": 0.1,
                "b": 20e-12,
            },
            {
                **{k: v for k, v in _COMMON_BOUNDS.items() if k != "v_thresh"},
                "v_T": (-0.06, -0.035),
                "delta_T": (0.5e-3, 5e-3),
                "a": (0.0, 2.0),
                "tau_w": (5e-3, 0.5),
                "b": (0.0, 300e-12),
            },
            "Adaptive exponential integrate-and-fire (Brette & Gerstner, J Neurophysiol 94:3637, 2005), "
            "written with R = 1/g_L, tau_m = C/g_L and the coupling `a` relative to g_L; Brian2's euler "
            "method, as brian2modelfitting's AdEx examples.",
        ),
        NeuronModel(
            "gif",
            _MEMBRANE.format(current=" - w") + "\n" + _ADAPTATION + _THRESHOLD + _DECLARE,
            "v > v_thresh + theta",
            "v = v_reset; w += b; theta += delta_theta",
            "exact",
            {**_COMMON, "tau_w": 0.1, "b": 20e-12, "tau_theta": 0.03, "delta_theta": 2e-3},
            {
                **_COMMON_BOUNDS,
                "tau_w": (5e-3, 0.5),
                "b": (0.0, 300e-12),
                "tau_theta": (2e-3, 0.3),
                "delta_theta": (0.0, 0.02),
            },
            "GIF-like: a spike-triggered adaptation current and a spike-triggered moving threshold, each one "
            "exponential (the deterministic part of the GIF of Mensi et al., J Neurophysiol 107:1756, 2012 "
            "and Pozzorini et al., PLoS Comput Biol 11:e1004275, 2015, whose kernels are sums of "
            "exponentials; no escape noise).",
        ),
    )
}
"""`{name: NeuronModel}`: `"lif"`, `"adaptation"`, `"adaptive_threshold"`, `"adex"`, `"gif"`."""
