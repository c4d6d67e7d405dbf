"""`jaxiaf.synapses.fit`: [`jaxiaf.fit`][] of a layer driven by spikes through synapses (and recurrent ones).

The problem is [`jaxiaf.fit`][]'s: the same checks, solvers, budgets, flags and [`jaxiaf.FitResult`][]
(`jaxiaf._fit.driver`). What differs is the fitted object, a [`SynapticLayer`][jaxiaf.synapses.SynapticLayer]
(the layer with its feedforward and recurrent synapses), whose parameters are the layer's and the `scale`
of each group of synapses; the fit's loss (`jaxiaf._fit.loss.PopulationLoss`) evolves its candidates with
their synaptic events through the core's `evolve`, as [`jaxiaf.synapses.run`][] does.
"""

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .._core.poisson import Poisson
from .._core.synapses import Synapses, groups
from .._layer import FFIAF
from .._spiking import run
from . import arguments as _arguments
from . import driver as _driver
from . import gradient as _gradient
from .loss import scale_names, with_scales
from .result import FitResult


class SynapticLayer(eqx.Module):
    """A layer with its synapses, as [`jaxiaf.synapses.fit`][] fits it and returns it (`FitResult.module`).

    **Fields:** `layer` (a [`jaxiaf.FFIAF`][]); `feedforward`, `recurrent`
    ([`jaxiaf.synapses.Synapses`][], a tuple of them, or None), as [`jaxiaf.synapses.run`][] takes them.

    Its fittable names are the layer's (as [`jaxiaf.fit`][]'s) and the `scale` of each group of synapses:
    `"feedforward.scale"` and `"recurrent.scale"` for one group, `"feedforward[i].scale"` for group `i` of
    a tuple (every weight of the group times the scale, replacing any `scale` it had).
    """

    layer: FFIAF
    feedforward: Synapses | tuple | None
    recurrent: Synapses | tuple | None

    @property
    def sim(self):
        return self.layer.sim

    @property
    def dt(self):
        return self.layer.dt

    @property
    def size_spikes(self) -> int:
        """N_src of the input raster (0 without feedforward synapses)."""
        first = groups(self.feedforward)
        return int(first[0].weights.shape[-2]) if first else 0

    def set_attributes(self, values: dict) -> "SynapticLayer":
        """A copy with the layer's attributes and the groups' scales in `values` (`{name: value}`) set."""
        scales = scale_names(self.feedforward, self.recurrent)
        own = {name: value for name, value in values.items() if name not in scales}
        dtype = self.layer.params.weights.dtype
        given = {name: jnp.asarray(value, dtype) for name, value in values.items() if name in scales}
        return SynapticLayer(
            self.layer.set_attributes(own) if own else self.layer,
            with_scales("feedforward", self.feedforward, given),
            with_scales("recurrent", self.recurrent, given),
        )

    def reset_all(self) -> "SynapticLayer":
        """The layer's state and time reset (`FFIAF.reset_all`), the synapses kept."""
        return SynapticLayer(self.layer.reset_all(), self.feedforward, self.recurrent)

    def run(self, spikes=None, *, x=None, pending=None, record: bool = False):
        """[`jaxiaf.synapses.run`][] of the layer with these synapses: `(raster, new_state, record,
        pending)`."""
        return run(
            self.layer, spikes, feedforward=self.feedforward, recurrent=self.recurrent, pending=pending, x=x,
            record=record,
        )  # fmt: skip


def fit(
    module,
    spikes_in=None,
    *,
    bounds: dict,
    feedforward=None,
    recurrent=None,
    x=None,
    spikes=None,
    v=None,
    metric=None,
    optimizer: str = "cma_es",
    population_size: int = 16,
    parallel: int = 4,
    max_evaluations: int = 100_000,
    max_time: float = math.inf,
    generations: int | None = None,
    tol: float | None = None,
    confirm: int = 2,
    patience: int | None = None,
    run_patience: int = 25,
    key=None,
    std_init: float = 1.0,
    dtype=None,
    progress: bool | None = None,
    unroll: int = 1,
) -> FitResult:
    """Fit the neuron parameters of a layer driven by spikes, and the scale of its synapses, to recorded
    (or simulated) spike trains or voltage traces.

    Everything but the inputs and the fitted object is [`jaxiaf.fit`][]'s: the metrics, the solvers
    (evolution strategies by default; an optax optimizer differentiates through the spikes, the
    recurrent ones included, with `jaxiaf.surrogate.SuperSpike()`), the budgets, the stopping rules, the
    checks of how closely the data pin the answer and the flags. Each candidate is evolved, over every
    trial, with its synaptic events as [`jaxiaf.synapses.run`][] evolves the layer (the same core); the
    default equations run the float64 loss's affine update as [`jaxiaf.fit`][] does.

    On a layer's own simulated spike trains (16 neurons, 20 inputs at about 200 Hz through `v += w` or a
    conductance `ge += w`, 0.2 s, random truths, the defaults; `tests/test_synaptic_fit.py`), `tau_mem`
    and `bias` (or a conductance model's `tau_m` and the input's scale) come back within 10 % and a
    recurrent group's `scale` within 1 %, and the fitted layer replays every spike. An exact fit stops at
    the first point that reproduces every spike: input spikes that move `v` by millivolts leave the spike
    steps unchanged over a few % of a parameter, which the flags then report (`not_pinned`).

    **Arguments:**

    - `module`: the [`jaxiaf.FFIAF`][] (or `FFIAFBrian`); parameters not in `bounds` keep its values.
    - `spikes_in`: (K, T, N_src) bool (or 0/1) input rasters of K trials, or (T, N_src) for one: the
      spikes of the sources of `feedforward`; None without feedforward synapses.
    - `bounds`: `{name: (low, high)}`: the layer's parameters as for [`jaxiaf.fit`][] (SI units, one
      value per layer), and `"feedforward.scale"`, `"recurrent.scale"` (or `"feedforward[i].scale"` for
      group `i` of a tuple): the group's weights times that scale (dimensionless), in place of any
      `scale` it had.
    - `feedforward`: [`jaxiaf.synapses.Synapses`][] from the N_src inputs (or a tuple of them, acting in
      that order), or None; `recurrent`: (N, N) ones from the layer to itself (or a tuple), or None.
      Each with one (N_src, N) weight matrix and a scale of shape () or None.
    - `x`: (K, T, N_in) currents (A) through the layer's own weights, or (T, N_in) for one trial; None:
      none (T is then the raster's).
    - `spikes`, `v`, `metric`, `optimizer`, `population_size`, `parallel`, `max_evaluations`,
      `max_time`, `generations`, `tol`, `confirm`, `patience`, `run_patience`, `key`, `std_init`,
      `dtype`, `progress`, `unroll`: as for [`jaxiaf.fit`][] (`optimizer="gauss_newton"` fits current-
      driven traces only).

    **Returns:** a [`jaxiaf.FitResult`][] whose `module` is a
    [`SynapticLayer`][jaxiaf.synapses.SynapticLayer]: the layer and its synapses at `best_params`, state
    reset (`result.module.run(spikes_in[k])` replays trial k); `best_params` holds the scales under their
    names.

    **Raises:** `ValueError`/`TypeError` naming the argument: no target, unknown names in `bounds`
    (the message lists the fittable ones), `spikes_in` without `feedforward` or the reverse, weights that
    do not fit the layer or the raster, per-set weights or scales, inputs of different trials or steps,
    a `Poisson` source (fit to a recorded raster), `gauss_newton`.
    """
    layer = _arguments.functional(module)
    dtype = _arguments.float_dtype(layer, dtype)
    options = _arguments.settings(
        optimizer, population_size, parallel, max_evaluations, max_time, generations, tol, confirm,
        patience, run_patience, std_init, unroll,
    )  # fmt: skip
    key = _arguments.key(key)
    synapses = (spikes_in, feedforward, recurrent, x)
    problem = _problem(layer, synapses, bounds, (spikes, v), metric, options, dtype)
    return _driver._solve(problem, options, key, progress)


def _problem(layer, synapses, bounds, target, metric, options, dtype):
    """The checked `jaxiaf._fit.arguments.Problem` of a synaptic fit (`synapses`: `(spikes_in,
    feedforward, recurrent, x)`): its module a `SynapticLayer`, its `x` each trial's raster (0/1) then
    its currents (K, T, N_src + N_in)."""
    spikes_in, feedforward, recurrent, x = synapses
    if all(t is None for t in target):
        raise ValueError("Give a target: `spikes` (a raster or spike times per trial) and/or `v` (traces).")
    if options.family == "gauss_newton":
        raise ValueError(
            "`optimizer='gauss_newton'` fits the traces of a layer driven by currents; with synapses use an "
            "evolution strategy (e.g. 'cma_es') or an optax optimizer (e.g. 'adam')."
        )
    n_src = _checked_synapses(layer, spikes_in, feedforward, recurrent)
    fitted = SynapticLayer(layer, feedforward, recurrent)
    names, lo, hi = _arguments.fitted_bounds(layer, bounds, scale_names(feedforward, recurrent))
    if options.family == "gradient":
        _gradient.check(options.optimizer, names, layer, None, hi)
    inputs = _inputs(layer, spikes_in, n_src, x, dtype)
    return _arguments.completed(fitted, layer, (names, lo, hi), inputs, target, metric, options, dtype)


def _checked_synapses(layer, spikes_in, feedforward, recurrent) -> int:
    """N_src of the feedforward groups (0: none); `ValueError`/`TypeError` naming the argument for groups
    that are not `Synapses`, whose weights do not fit the layer, per-set weights or scales, or
    `spikes_in` and `feedforward` not given together."""
    if isinstance(spikes_in, Poisson):
        raise TypeError(
            "`spikes_in` must be a recorded raster (K, T, N_src) or (T, N_src); a Poisson source draws new "
            "spikes for every candidate (record one raster, e.g. with `jaxiaf.synapses.run(..., "
            "record=True)`, and fit to it)."
        )
    if (spikes_in is None) != (feedforward is None):
        raise ValueError("`spikes_in` (the input raster) and `feedforward` (its synapses) go together.")
    n = layer.size_out
    sizes = set()
    for name, synapses in (("feedforward", feedforward), ("recurrent", recurrent)):
        if synapses is not None and not isinstance(synapses, Synapses | tuple):
            raise TypeError(f"`{name}` must be jaxiaf.synapses.Synapses, a tuple of them, or None.")
        for syn in groups(synapses):
            if not isinstance(syn, Synapses):
                raise TypeError(f"`{name}` must hold jaxiaf.synapses.Synapses; got {type(syn).__name__}.")
            rows = n if name == "recurrent" else syn.weights.shape[-2]
            if syn.weights.shape != (rows, n):
                raise ValueError(
                    f"`{name}.weights` must have shape {(rows, n)} (sources, the layer's N = {n}): one "
                    f"matrix, the same for every candidate; got {syn.weights.shape}."
                )
            if syn.scale is not None and syn.scale.shape != ():
                raise ValueError(
                    f"`{name}.scale` must be None or one value (shape ()); got {syn.scale.shape}."
                )
            if name == "feedforward":
                sizes.add(rows)
    if len(sizes) > 1:
        raise ValueError(f"`feedforward`'s groups must have the same sources; got N_src {sorted(sizes)}.")
    return sizes.pop() if sizes else 0


def _inputs(layer, spikes_in, n_src: int, x, dtype):
    """(K, T, N_src + N_in) on the device: each trial's raster as 0/1 then its currents (zero without
    `x`); `ValueError` naming `spikes_in` or `x` for a bad shape, values or different trials."""
    if spikes_in is None and x is None:
        raise ValueError("Give the input: `spikes_in` (with `feedforward`) and/or `x` (they set T).")
    parts = []
    if spikes_in is not None:
        raster = _arguments.as_trials("spikes_in", spikes_in, (n_src,), dtype)
        if not np.all((raster == 0) | (raster == 1)):
            raise ValueError("`spikes_in` must be a bool raster (or 0/1 values); got counts or fractions.")
        parts.append(raster)
    if x is not None:
        parts.append(_arguments.as_trials("x", x, (layer.size_in,), dtype))
    if len(parts) == 2 and parts[0].shape[:2] != parts[1].shape[:2]:
        raise ValueError(
            f"`spikes_in` and `x` must cover the same trials and steps; got (K, T) = {parts[0].shape[:2]} "
            f"and {parts[1].shape[:2]}."
        )
    if x is None:
        parts.append(np.zeros((*parts[0].shape[:2], layer.size_in), dtype))
    return jax.device_put(np.concatenate(parts, axis=-1))
