"""The loss of [`jaxiaf.fit`][]: a population of parameter sets evolved over all trials in one scan and
scored by the fit's metrics, and the data it reads.

The loss is a frozen dataclass of its static configuration (hashable: a fit of the same configuration
finds its compiled programs again); what varies from fit to fit is `data`: `(sim_data, lo, hi)` with
`sim_data = ((params, sim, state), currents (T, U, N), target_spikes (T, K, N), target_v (T, K, N),
metric_arrays)`, `metric_arrays` the array fields of the metrics (e.g. `TraceMSE`'s per-step `weights`),
which the loss puts back into the metrics' static part. A layer driven by spikes through synapses
(`jaxiaf._fit.synaptic`) has `(currents, raster (T, U, N_src) or None, feedforward, recurrent)` in place of
`currents`: the same loss then evolves it with its synaptic events (`evolve(..., events=...)`, as
[`jaxiaf.synapses.run`][] does).
"""

import dataclasses
import functools

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .._compile.cache import PersistentJit
from .._core.pytrees import Parameters, SimulationParameters, State, cast_floating
from .._core.scan import Reducer, evolve
from .._core.synapses import Events, Synapses, empty_pending, groups
from .._layer import FFIAF


@functools.lru_cache(maxsize=16)
def _recorder(need_v: bool) -> Reducer:
    return Reducer(
        init=lambda shape, dtype: None,
        update=lambda acc, k, spike, v: (None, (spike, v) if need_v else (spike, None)),
    )


@dataclasses.dataclass(frozen=True)
class PopulationLoss:
    """`loss(values (P, D), sim_data) -> (P,)`: the loss of P parameter sets, every trial evolved in one
    scan.

    `names` are the D fitted names; `metrics` the `(weight, Metric)` pairs without their array fields
    (which come with `sim_data`); `trials`: None, or a tuple of K indices: `currents` then holds only the
    distinct inputs and trial k's output is input `trials[k]`'s. The state's key is one per trial (common
    to all candidates: common random numbers). A candidate whose state ends non-finite (it diverged) has
    loss inf. The default equations run the affine update in float64 too (`evolve(bit_exact=False)`: the
    same update as Brian2's, other rounding, several times faster); a layer's own equations run their
    generated statements."""

    names: tuple
    dt: float
    metrics: tuple
    need_v: bool
    unroll: int = 1
    surrogate: object = None
    trials: tuple | None = None

    def __call__(self, values, sim_data):
        (params, sim, state), inputs, target_spikes, target_v, metric_arrays = sim_data
        num_pop = values.shape[0]
        if isinstance(inputs, tuple):  # a layer driven by spikes through synapses
            spikes, v, finite = self._driven(values, params, sim, state, *inputs)
        else:
            shape = (num_pop, inputs.shape[1], inputs.shape[2])
            params, sim, state = _candidates(values, self.names, params, sim, state, shape)
            (_, (spikes, v)), end, _ = evolve(params, sim, state, inputs, **self._options(sim))
            finite = _finite(end, num_pop)
        total = jnp.zeros(num_pop, values.dtype)
        for weight, metric in eqx.combine(metric_arrays, self.metrics):
            per_column = metric.population_loss(spikes, v, target_spikes, target_v, self.dt, self.trials)
            total = total + weight * jnp.mean(per_column.reshape(num_pop, -1), axis=1)
        return jnp.where(finite, total, jnp.inf)

    def _options(self, sim) -> dict:
        return dict(
            reducer=_recorder(self.need_v), check=False, unroll=self.unroll, surrogate=self.surrogate,
            bit_exact=sim.model is not None,
        )  # fmt: skip

    def _driven(self, values, params, sim, state, currents, raster, feedforward, recurrent):
        """`(spikes, v, finite)`: the (T, P, U, N) outputs of P candidates of a layer driven by spikes
        through synapses, each of the U distinct inputs (its noise key, currents (T, U, N) and raster
        (T, U, N_src)) a batch entry of one `vmap` over an evolve of state (P, 1, N) with its synaptic
        events, and (P,) whether each candidate stayed finite. The names that `scale_name` gives set the
        `scale` of their group of synapses, the others the layer's parameters."""
        num_pop, n = values.shape[0], currents.shape[2]
        columns = {name: values[:, i].reshape(num_pop, 1, 1) for i, name in enumerate(self.names)}
        neuron = [i for i, name in enumerate(self.names) if name not in scale_names(feedforward, recurrent)]
        own = bool if self.surrogate is None else values.dtype

        def trial(key, current, row):
            fitted = tuple(self.names[i] for i in neuron)
            st = eqx.tree_at(lambda s: s.key, state, key)
            p, s, st = _candidates(values[:, neuron], fitted, params, sim, st, (num_pop, 1, n))
            ff = with_scales("feedforward", feedforward, columns)
            rec = with_scales("recurrent", recurrent, columns)
            events = Events(row, ff, rec, empty_pending((num_pop, 1, n), ff, rec, own))
            (_, (spikes, v)), end, _, _ = evolve(p, s, st, current, events=events, **self._options(s))
            return spikes[:, :, 0], None if v is None else v[:, :, 0], _finite(end, num_pop)

        spikes, v, finite = jax.vmap(trial, (0, 1, 1), (2, 2, 0))(state.key, currents, raster)
        return spikes, v, jnp.all(finite, axis=0)


def _finite(end, num_pop):
    """(P,) whether each candidate's state `end` (P, ...) is finite at the end (a diverged one is not)."""
    ends = (end.v, *end.extra.values())
    finite = [jnp.all(jnp.isfinite(a).reshape(num_pop, -1), axis=1) for a in ends]
    return functools.reduce(jnp.logical_and, finite)


def scale_name(kind: str, index: int, synapses) -> str:
    """The fitted name of the `scale` of group `index` of `synapses` (`kind`: `"feedforward"` or
    `"recurrent"`): `"feedforward.scale"` for one [`jaxiaf.synapses.Synapses`][], `"feedforward[i].scale"`
    for a tuple of them."""
    return f"{kind}.scale" if isinstance(synapses, Synapses) else f"{kind}[{index}].scale"


def scale_names(feedforward, recurrent) -> tuple:
    """Every name that [`scale_name`][] gives the groups of `feedforward` and `recurrent`."""
    return tuple(
        scale_name(kind, i, synapses)
        for kind, synapses in (("feedforward", feedforward), ("recurrent", recurrent))
        for i in range(len(groups(synapses)))
    )


def with_scales(kind: str, synapses, values: dict):
    """`synapses` (None, a `Synapses` or a tuple of them) with the `scale` of each group named in
    `values` ([`scale_name`][]) replaced by its value."""
    out = []
    for i, syn in enumerate(groups(synapses)):
        name = scale_name(kind, i, synapses)
        if name in values:
            syn = eqx.tree_at(lambda s: s.scale, syn, values[name], is_leaf=lambda x: x is None)
        out.append(syn)
    return out[0] if isinstance(synapses, Synapses) else (None if synapses is None else tuple(out))


def _candidates(values, names, params, sim, state, shape):
    """The layer's pytrees with the fitted names set to the columns of `values` (P, D), each (P, 1, 1),
    and the state broadcast to `shape` (P, U, N)."""
    num_pop = shape[0]
    column = lambda i: values[:, i].reshape(num_pop, 1, 1)
    p = {f: getattr(params, f) for f in Parameters.__annotations__ if f != "extra"}
    extra = dict(params.extra)
    s = {f: getattr(sim, f) for f in ("dt", "noise_std", "refractory")}
    for i, name in enumerate(names):
        (s if name in s else p if name in p else extra)[name] = column(i)
    state = State(
        v=jnp.broadcast_to(state.v, shape),
        since_spike=jnp.broadcast_to(state.since_spike, shape),
        key=jnp.broadcast_to(state.key, shape[:2]),
        step=state.step,
        extra={k: jnp.broadcast_to(x, shape) for k, x in state.extra.items()},
    )
    sim = SimulationParameters(
        **s, integrator_name=sim.integrator_name, noisy=sim.noisy, model=sim.model,
        input_sampling=sim.input_sampling,
    )  # fmt: skip
    return Parameters(**p, extra=extra), sim, state


def split_metrics(metrics) -> tuple:
    """`(static, arrays)`: the metrics without their array fields (hashable, part of the loss), and those
    arrays (part of the data)."""
    arrays, static = eqx.partition(tuple(metrics), eqx.is_array)
    return static, arrays


# small programs of a fit, kept on disk too (each would otherwise be traced and lowered in a fresh process)
_TRIAL_KEYS = PersistentJit(lambda: jax.vmap(jax.random.fold_in, (None, 0)), "trial_keys", ())


def simulation_data(module, x, target_spikes, target_v, metric_arrays, dtype):
    """`sim_data` (module docstring) of `module` (reset) on inputs `x` (U, T, N_in): the currents
    `x @ weights` time-major, the floating pytrees in `dtype`, one noise key per input. For a layer with
    its synapses (`jaxiaf._fit.synaptic.SynapticLayer`), `x` (U, T, N_src + N_in) holds each input's
    raster (0/1) before its currents."""
    driven = not isinstance(module, FFIAF)
    mod = (module.layer if driven else module).reset_all()
    cast = functools.partial(cast_floating, dtype=dtype)
    raster = None
    if driven:
        n_src = module.size_spikes
        raster = jnp.moveaxis(x[..., :n_src] != 0, 1, 0) if n_src else None
        x = x[..., n_src:]
    weights = mod.params.weights.astype(dtype)
    currents = jnp.moveaxis(jnp.matmul(x, weights, precision=jax.lax.Precision.HIGHEST), 1, 0)
    params, sim, state = cast((mod.params, mod.sim, mod.neuron_state))
    key0 = (
        state.key
        if jnp.issubdtype(state.key.dtype, jax.dtypes.prng_key)
        else jax.random.wrap_key_data(state.key)
    )
    trial_keys = _TRIAL_KEYS(key0, jax.device_put(np.arange(x.shape[0], dtype=jnp.result_type(int))))
    state = eqx.tree_at(lambda st: st.key, state, trial_keys)
    if driven:
        currents = (currents, raster, cast(module.feedforward), cast(module.recurrent))
    return ((params, sim, state), currents, target_spikes, target_v, metric_arrays)


def null_loss(metrics, target_spikes, target_v, dt) -> float:
    """The loss of a model that explains nothing: no spikes, and the target's mean trace."""
    ts = target_spikes
    tv = None if target_v is None else jnp.broadcast_to(jnp.mean(target_v, axis=0), target_v.shape)
    spikes = None if ts is None else jnp.zeros_like(ts)
    total = 0.0
    for weight, metric in metrics:
        total += weight * float(jnp.mean(metric.loss(spikes, tv, ts, target_v, dt)))
    return total
