"""Every item of `FFIAFBrian`'s reference page, and the functional module's main behaviour, on the default
layer and on a layer of its own equations (an adaptive LIF): names, families, registries, graphs, resets and
files all come from the equations' declared names."""

import dataclasses
import warnings

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import ADAPTIVE_LIF as ADAPT
from helpers import ADAPTIVE_LIF_VALUES as PA

import jaxiaf
from jaxiaf._core.pytrees import NEVER
from jaxiaf._rockpool.graph import EquationNeurons, GraphHolder, IAFNeurons, LinearWeights

W = np.array([[0.02, 0.01, 0.0], [0.0, 0.01, 0.03]])
NUM_STEPS = 200
TS = jaxiaf.TSContinuous.from_clocked(np.ones((NUM_STEPS, 2)), dt=1e-4)


@dataclasses.dataclass(frozen=True)
class Case:
    """One kind of layer: how to build it and what its declared names are."""

    kwargs: dict
    parameters: frozenset
    simulation: frozenset
    state: frozenset
    tweak: str  # a declared parameter (s), initially 0.02 or 0.15
    tweak_initial: float
    tweak_family: str

    def timed(self, **kw) -> jaxiaf.FFIAFBrian:
        return jaxiaf.FFIAFBrian(W, **{**self.kwargs, **kw})

    def functional(self, **kw) -> jaxiaf.FFIAF:
        return jaxiaf.FFIAF(W, **{**self.kwargs, **kw})


CASES = {
    "default": Case(
        dict(bias=0.011, name="walk"),
        frozenset({"weights", "bias", "tau_mem", "v_thresh", "v_reset", "v_rest"}),
        frozenset({"dt", "noise_std", "refractory", "integrator_name"}),
        frozenset({"v", "since_spike", "key", "step"}),
        "tau_mem",
        0.02,
        "taus",
    ),
    "adaptive": Case(
        dict(neuron_eq=ADAPT, reset="v = v_reset; w += b", name="walk", **PA),
        frozenset({"weights", *PA}),
        frozenset({"dt", "refractory", "integrator_name"}),
        frozenset({"v", "since_spike", "key", "step", "w"}),
        "tau_w",
        0.15,
        "equations",
    ),
}


@pytest.fixture(params=sorted(CASES))
def case(request) -> Case:
    return CASES[request.param]


def _advanced(case):
    mod = case.timed()
    return mod.set_attributes(mod(TS)[1])


def _size(mod, case):
    with pytest.warns(DeprecationWarning, match="size_out"):
        assert mod.size == 3


def _init(mod, case):
    built = case.timed(dt=1e-4, refractory=0.0, integrator_name="rk4", record=True, key=None)
    assert built.integrator_name == "rk4" and set(built(TS)[2]) == {"spikes"} | (
        case.state - {"since_spike", "key", "step"}
    )


def _as_graph(mod, case):
    graph = mod.as_graph()
    weights, neurons = graph.modules
    assert isinstance(graph, GraphHolder) and graph.shape == (2, 3) and isinstance(weights, LinearWeights)
    assert weights.output_nodes is neurons.input_nodes and neurons.dt == mod.dt
    declared = {k: v for k, v in mod.parameters().items() if k != "weights"}
    values = neurons.parameters if isinstance(neurons, EquationNeurons) else vars(neurons)
    assert isinstance(neurons, IAFNeurons if "bias" in declared else EquationNeurons)
    for name, value in declared.items():
        np.testing.assert_array_equal(values[name], value)


def _attributes_named(mod, case):
    assert set(mod.attributes_named([case.tweak, "v"])) == {case.tweak, "v"}
    assert mod.attributes_named("nope") == {}


def _evolve(mod, case):
    out, new_state, record = mod.evolve(TS, record=True)
    assert isinstance(out, jaxiaf.TSEvent) and out.t_stop == pytest.approx(0.02) and out.times.size > 0
    assert set(new_state) == case.state and int(new_state["step"]) == NUM_STEPS and mod.t == 0.0
    assert set(record) == {"spikes"} | (case.state - {"since_spike", "key", "step"})


def _reset_all(mod, case):
    mod = _advanced(case)
    assert mod.reset_all() is mod and mod.t == 0.0
    np.testing.assert_array_equal(mod.v, mod.v_rest)


def _reset_parameters(mod, case):
    mod.set_attributes({case.tweak: 0.05, "v_thresh": -0.04})
    assert mod.reset_parameters() is mod
    np.testing.assert_array_equal(getattr(mod, case.tweak), np.full(3, case.tweak_initial))
    np.testing.assert_array_equal(mod.v_thresh, case.timed().v_thresh)


def _reset_state(mod, case):
    mod = _advanced(case)
    assert mod.reset_state() is mod and mod.t == pytest.approx(0.02)
    np.testing.assert_array_equal(mod.v, mod.v_rest)
    assert (np.asarray(mod.since_spike) == NEVER).all()


def _reset_time(mod, case):
    mod = _advanced(case)
    v = np.asarray(mod.v)
    assert mod.reset_time() is mod and mod.t == 0.0
    np.testing.assert_array_equal(mod.v, v)


def _set_attributes(mod, case):
    assert mod.set_attributes({case.tweak: 0.03}) is mod
    np.testing.assert_array_equal(getattr(mod, case.tweak), np.full(3, 0.03))
    setattr(mod, case.tweak, 0.04)  # an assignment is a set_attributes
    np.testing.assert_array_equal(mod.parameters()[case.tweak], np.full(3, 0.04))
    with pytest.raises(ValueError, match="Unknown attribute"):
        mod.set_attributes({"tau_syn": 0.01})


def _evolve_wrapper(mod, case):
    out, new_state, _ = mod._evolve_wrapper(TS)
    assert out.t_stop == pytest.approx(0.02) and mod.t == pytest.approx(0.02)
    assert int(mod.step) == int(new_state["step"]) == NUM_STEPS


def _gen_tsevent(mod, case):
    raster = np.zeros((4, 3), bool)
    raster[2, 1] = True
    np.testing.assert_allclose(mod._gen_tsevent(raster).times, [2.5e-4])
    events = mod._gen_tsevent(raster, dt=1.0, t_start=10.0, spikes_at_bin_start=True, num_channels=5)
    assert events.times.tolist() == [12.0] and events.num_channels == 5 and events.t_stop == 14.0


def _gen_tscontinuous(mod, case):
    series = mod._gen_tscontinuous(np.arange(6.0).reshape(3, 2), interp_kind="linear")
    np.testing.assert_allclose(series.times, [0.0, 1e-4, 2e-4])
    assert series.t_stop == pytest.approx(3e-4) and series.interp_kind == "linear"


def _get_attribute_registry(mod, case):
    attributes, modules = mod._get_attribute_registry()
    assert modules == {} and set(attributes) == case.parameters | case.simulation | case.state
    assert (
        attributes[case.tweak].type_name == "Parameter" and attributes[case.tweak].family == case.tweak_family
    )
    assert attributes["dt"].type_name == "SimulationParameter" and attributes["v"].type_name == "State"
    assert attributes["weights"].shape == (2, 3) and attributes["v_thresh"].family == "voltages"
    np.testing.assert_array_equal(attributes[case.tweak].initial, np.full(3, case.tweak_initial))


def _prepare(method):
    def check(mod, case):
        time_base, raster, num_steps = getattr(mod, method)(TS, num_timesteps=5)
        np.testing.assert_allclose(time_base, np.arange(5) * 1e-4)
        assert raster.shape == (5, 2) and num_steps == 5

    return check


def _prepare_input_events(mod, case):
    events = jaxiaf.TSEvent([0.0, 1.5e-4, 3e-4, 3e-4], [0, 1, 1, 1], t_stop=5e-4, num_channels=2)
    time_base, raster, num_steps = mod._prepare_input_events(events)
    np.testing.assert_allclose(time_base, np.arange(5) * 1e-4)
    assert num_steps == 5 and raster.dtype == bool
    np.testing.assert_array_equal(np.argwhere(raster), [[0, 0], [1, 1], [3, 1]])
    assert mod._prepare_input_events(events, add_events=True)[1][3, 1] == 2
    assert not mod._prepare_input_events(None, num_timesteps=3)[1].any()
    with pytest.raises(TypeError, match="`ts_input` must be a TSEvent or None"):
        mod._prepare_input_events(TS)
    with pytest.raises(ValueError, match="has 1 channel"):
        mod._prepare_input_events(jaxiaf.TSEvent([0.0], [0], t_stop=1e-3, num_channels=1))


def _register_attribute(mod, case):
    mod._register_attribute(case.tweak, 0.03)
    mod.set_attributes({case.tweak: 0.05})
    np.testing.assert_array_equal(getattr(mod.reset_parameters(), case.tweak), np.full(3, 0.03))
    with pytest.raises(ValueError, match="cannot register 'tau_syn'"):
        mod._register_attribute("tau_syn", 0.01)


def _register_module(mod, case):
    child = jaxiaf.FFIAF(np.ones((1, 2)))
    mod._register_module("child", child)
    assert mod.modules() == {"child": child} and mod._submodulenames == ["child"]
    assert set(mod.parameters()["child"]) == set(child.parameters())
    mod.set_attributes({"child": {"tau_mem": 0.04}, case.tweak: 0.05})
    np.testing.assert_array_equal(mod.modules()["child"].tau_mem, np.full(2, 0.04))
    assert mod.attributes_named("tau_mem")["child"] == {"tau_mem": mod.modules()["child"].tau_mem}
    mod.reset_parameters()  # a functional submodule gets back the parameters it was registered with
    np.testing.assert_array_equal(mod.modules()["child"].tau_mem, np.full(2, 0.02))
    with pytest.raises(ValueError, match="`name` must be an identifier"):
        mod._register_module(case.tweak, jaxiaf.FFIAF(W))


def _reset_attribute(mod, case):
    mod = _advanced(case)
    assert mod._reset_attribute("step") is mod and mod.t == 0.0
    mod.set_attributes({"v_thresh": -0.04})
    np.testing.assert_array_equal(mod._reset_attribute("v_thresh").v_thresh, case.timed().v_thresh)
    with pytest.raises(KeyError, match="'tau_syn' is not a registered attribute"):
        mod._reset_attribute("tau_syn")


def _wrap_recorded_state(mod, case):
    wrapped = mod._wrap_recorded_state({"v": np.zeros((4, 3)), "spikes": np.eye(4, 3, dtype=bool)}, 1.0)
    assert isinstance(wrapped["v"], jaxiaf.TSContinuous) and wrapped["v"].t_start == 1.0
    assert isinstance(wrapped["spikes"], jaxiaf.TSEvent) and wrapped["spikes"].times.size == 3


def _spiking_input(mod, case):
    # Currents in: a TSEvent is refused by evolve, and the input type is TSContinuous.
    assert mod._spiking_input is mod.spiking_input is False and mod.input_type is jaxiaf.TSContinuous
    with pytest.raises(TypeError, match="`ts_input` must be a TSContinuous of input currents"):
        mod.evolve(jaxiaf.TSEvent([0.0], [0], t_stop=1e-3, num_channels=2))


def _spiking_output(mod, case):
    # Spikes out: the output series of an evolution and of `_gen_timeseries` is a TSEvent.
    assert mod._spiking_output is mod.spiking_output is True and mod.output_type is jaxiaf.TSEvent
    assert isinstance(mod._gen_timeseries(np.eye(3, dtype=bool)), jaxiaf.TSEvent)


def _force_set_attributes(mod, case):
    # Values are always checked: a bad value is refused and leaves the layer as it was.
    assert mod._force_set_attributes is False
    with pytest.raises(ValueError, match="`v` must be finite"):
        mod.set_attributes({"v": np.nan})
    np.testing.assert_array_equal(mod.v, mod.v_rest)


def _in_module_init(mod, case):
    # Outside __init__ an assignment to an attribute is a checked set_attributes, not a new attribute.
    assert mod._in_Module_init is False
    with pytest.raises(ValueError, match="must be finite"):
        setattr(mod, case.tweak, np.inf)


def _timed_module_init(mod, case):
    # A built layer is not inside a TimedModule's construction: evolving it advances nothing but its output.
    assert mod._TimedModule__in_TimedModule_init is False
    mod(TS)
    assert mod.t == 0.0


def _is_child(mod, case):
    # A layer on its own: its clock is its own dt (factor 1), and `_set_dt` leaves it.
    assert mod._is_child is False and mod._parent_dt_factor == 1.0
    mod._set_dt(max_factor=5)
    assert mod.dt == 1e-4 and float(mod.module.dt) == 1e-4


def _set_dt(mod, case):
    assert mod._set_dt() is None and mod.dt == 1e-4
    with pytest.raises(ValueError, match="`max_factor` must be >= 1"):
        mod._set_dt(0.5)


CHECKS = {
    "class_name": lambda m, c: m.class_name == "FFIAFBrian",
    "full_name": lambda m, c: m.full_name == "FFIAFBrian 'walk'",
    "input_type": lambda m, c: m.input_type is jaxiaf.TSContinuous,
    "name": lambda m, c: m.name == "walk",
    "output_type": lambda m, c: m.output_type is jaxiaf.TSEvent,
    "shape": lambda m, c: m.shape == (2, 3),
    "size": _size,
    "size_in": lambda m, c: m.size_in == 2,
    "size_out": lambda m, c: m.size_out == 3,
    "spiking_input": _spiking_input,
    "spiking_output": _spiking_output,
    "t": lambda m, c: m.t == 0.0 and _advanced(c).t == pytest.approx(0.02),
    "dt": lambda m, c: isinstance(m.dt, float) and m.dt == 1e-4,
    "__init__": _init,
    "as_graph": _as_graph,
    "attributes_named": _attributes_named,
    "evolve": _evolve,
    "modules": lambda m, c: m.modules() == {},
    "parameters": lambda m, c: set(m.parameters()) == c.parameters,
    "reset_all": _reset_all,
    "reset_parameters": _reset_parameters,
    "reset_state": _reset_state,
    "reset_time": _reset_time,
    "set_attributes": _set_attributes,
    "simulation_parameters": lambda m, c: set(m.simulation_parameters()) == c.simulation,
    "state": lambda m, c: set(m.state()) == c.state,
    "__in_TimedModule_init": _timed_module_init,
    "_abc_impl": lambda m, c: isinstance(m, jaxiaf.FFIAFBrian.__mro__[1]) and m._abc_impl is not None,
    "_determine_timesteps": lambda m, c: m._determine_timesteps(TS) == NUM_STEPS,
    "_evolve_wrapper": _evolve_wrapper,
    "_force_set_attributes": _force_set_attributes,
    "_gen_time_trace": lambda m, c: np.allclose(m._gen_time_trace(0.5, 3), [0.5, 0.5001, 0.5002]),
    "_gen_timeseries": lambda m, c: isinstance(m._gen_timeseries(np.zeros((3, 3), bool)), jaxiaf.TSEvent),
    "_gen_tscontinuous": _gen_tscontinuous,
    "_gen_tsevent": _gen_tsevent,
    "_get_attribute_family": lambda m, c: (
        m._get_attribute_family("State", ("voltages", "time")).keys() == {"v", "step"}
    ),
    "_get_attribute_registry": _get_attribute_registry,
    "_has_registered_attribute": lambda m, c: (
        m._has_registered_attribute(c.tweak) and not m._has_registered_attribute("nope")
    ),
    "_in_Module_init": _in_module_init,
    "_is_child": _is_child,
    "_name": lambda m, c: m._name == "walk",
    "_parent_dt_factor": _is_child,
    "_prepare_input": _prepare("_prepare_input"),
    "_prepare_input_continuous": _prepare("_prepare_input_continuous"),
    "_prepare_input_events": _prepare_input_events,
    "_register_attribute": _register_attribute,
    "_register_module": _register_module,
    "_reset_attribute": _reset_attribute,
    "_set_dt": _set_dt,
    "_shape": lambda m, c: m._shape == (2, 3),
    "_spiking_input": _spiking_input,
    "_spiking_output": _spiking_output,
    "_submodulenames": lambda m, c: m._submodulenames == [],
    "_wrap_recorded_state": _wrap_recorded_state,
}
"""One behaviour check per attribute and method of the reference page (all 54 of them)."""


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_page_item_exists_and_works(case, name):
    mod = case.timed()
    attribute = "_TimedModule__in_TimedModule_init" if name == "__in_TimedModule_init" else name
    assert hasattr(jaxiaf.FFIAFBrian, attribute)
    result = CHECKS[name](mod, case)
    assert result is None or result is True, f"{name}: check returned {result!r}"


def test_undeclared_page_names_are_absent_not_errors(case):
    mod = case.timed()
    for name in ("bias", "tau_mem", "noise_std", "tau_w", "a"):
        declared = name in case.parameters | case.simulation
        assert hasattr(mod, name) is declared
        if name in ("bias", "tau_mem", "noise_std"):  # the functional module's page aliases
            assert hasattr(mod.module, name) is declared
        if not declared:
            with pytest.raises(AttributeError, match=f"has no attribute '{name}'"):
                setattr(mod, name, 0.1)


def test_save_load_continues_bit_identically(case, tmp_path):
    mod = case.timed(refractory=1e-3)
    mod.set_attributes({case.tweak: 0.03})
    mod._evolve_wrapper(TS)
    jaxiaf.save(mod, tmp_path / "layer")
    loaded = jaxiaf.load(tmp_path / "layer")
    assert set(loaded.parameters()) == case.parameters and loaded.t == mod.t and loaded.dt == mod.dt
    periodic = jaxiaf.TSContinuous.from_clocked(np.ones((NUM_STEPS, 2)), dt=1e-4, periodic=True)
    a, b = mod(periodic, duration=0.01)[0], loaded(periodic, duration=0.01)[0]
    assert a.times.size > 0
    np.testing.assert_array_equal(a.times, b.times)
    functional = mod.module
    jaxiaf.save(functional, tmp_path / "module")
    again = jaxiaf.load(tmp_path / "module")
    for mine, theirs in ((functional, again), (mod.module, loaded.module)):
        for kind in ("parameters", "simulation_parameters", "state"):
            a, b = getattr(mine, kind)(), getattr(theirs, kind)()
            assert set(a) == set(b)
            for name in a:
                if name != "key":
                    np.testing.assert_array_equal(a[name], b[name])
    np.testing.assert_array_equal(
        loaded.reset_parameters().parameters()[case.tweak], np.full(3, case.tweak_initial)
    )


# ------------------------------------------------------------------------------ the functional module
def test_call_is_pure_and_set_attributes_advances(case):
    mod = case.functional()
    x = np.ones((400, 2))
    spikes, new_state, record = mod(x)
    assert spikes.shape == (400, 3) and spikes.dtype == jnp.bool_ and record == {} and int(spikes.sum()) > 0
    assert isinstance(new_state, jaxiaf.State) and set(new_state.named()) == case.state
    assert int(mod.neuron_state.step) == 0
    advanced = mod.set_attributes(new_state)
    assert int(advanced.neuron_state.step) == 400
    np.testing.assert_allclose(float(advanced.t), 0.04)
    np.testing.assert_array_equal(advanced.v, new_state["v"])
    # chunked evolution equals one evolution, bit for bit
    whole = mod(np.ones((800, 2)), record=True)[2]["v"]
    np.testing.assert_array_equal(whole[400:], advanced(x, record=True)[2]["v"])


def test_families_and_values_by_declared_name(case):
    mod = case.functional()
    assert set(mod.parameters()) == case.parameters and set(mod.simulation_parameters()) == case.simulation
    assert set(mod.state()) == case.state
    assert set(mod.parameters("voltages")) == {"v_thresh", "v_reset", "v_rest"}
    assert case.tweak in mod.parameters(case.tweak_family)
    assert set(mod.simulation_parameters("time")) == {"dt", "refractory"}
    assert mod.set_attributes(mod.simulation_parameters()).sim == mod.sim
    changed = mod.set_attributes({case.tweak: 0.03})
    np.testing.assert_array_equal(changed.parameters()[case.tweak], np.full(3, 0.03))
    assert (
        np.asarray(changed(np.ones((300, 2)), record=True)[2]["v"])
        != np.asarray(mod(np.ones((300, 2)), record=True)[2]["v"])
    ).any()


def test_state_values_broadcast_from_scalars(case):
    mod = case.functional()
    scalar = mod.set_attributes({"v": -0.06})
    np.testing.assert_array_equal(scalar.v, np.full(3, -0.06))
    np.testing.assert_array_equal(
        scalar(np.ones((50, 2)))[0], mod.set_attributes({"v": np.full(3, -0.06)})(np.ones((50, 2)))[0]
    )
    with pytest.raises(ValueError, match=r"`v` must be a scalar or have shape \(3,\)"):
        mod.set_attributes({"v": np.zeros(2)})


def test_resets(case):
    mod = case.functional(refractory=1e-3)
    changed = mod.set_attributes(mod(np.ones((100, 2)))[1]).set_attributes({case.tweak: 0.05})
    state_reset = changed.reset_state()
    np.testing.assert_array_equal(state_reset.v, mod.v_rest)
    assert (np.asarray(state_reset.neuron_state.since_spike) == NEVER).all()
    assert int(state_reset.neuron_state.step) == 100 and int(changed.reset_all().neuron_state.step) == 0
    for name, value in mod.state().items():  # the state as built (the key is kept, it never changes)
        if name != "key":
            np.testing.assert_array_equal(changed.reset_all().state()[name], value)


def test_eager_jit_and_vmap_agree(case):
    mod = case.functional()
    x = np.ones((120, 2))
    eager = mod(x, record=True)
    jitted = eqx.filter_jit(lambda m, x: m(x, record=True))(mod, x)
    np.testing.assert_array_equal(eager[0], jitted[0])
    np.testing.assert_array_equal(eager[2]["v"], jitted[2]["v"])
    values = jnp.asarray([0.04, 0.05])  # (tau_w = tau_m = 0.02 is singular in the exact solution)
    batch = jax.vmap(lambda t: mod.set_attributes({case.tweak: t})(x)[0])(values)
    for b, t in enumerate(values):
        np.testing.assert_array_equal(batch[b], mod.set_attributes({case.tweak: t})(x)[0])


def test_built_under_jit_and_vmap(case):
    x = np.ones((100, 2))
    eager = case.functional()(x)[0]
    under_jit = jax.jit(lambda: case.functional()(x)[0])()
    np.testing.assert_array_equal(eager, under_jit)
    counts = jax.vmap(lambda w: jaxiaf.FFIAF(w, **case.kwargs)(x)[0].sum())(jnp.stack([W, 2 * W]))
    assert int(counts[0]) == int(eager.sum()) and int(counts[1]) >= int(counts[0])


def test_float32_layer(case):
    with jax.enable_x64(False):
        mod = case.functional()
        spikes, state, rec = mod(np.ones((300, 2)), record=True)
        assert rec["v"].dtype == jnp.float32 and state["v"].dtype == jnp.float32
    f64 = case.functional()(np.ones((300, 2)))[0]
    assert abs(int(spikes.sum()) - int(f64.sum())) <= 3 and int(f64.sum()) > 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert mod.size_out == 3
