"""`FFIAFBrian`: every item of the reference page exists and works; attributes, registry, resets, graph."""

import warnings

import numpy as np
import pytest

import jaxiaf
from jaxiaf._core.pytrees import NEVER
from jaxiaf._rockpool.graph import GraphHolder, IAFNeurons, LinearWeights

W = np.array([[0.02, 0.01, 0.0], [0.0, 0.01, 0.03]])
NUM_STEPS = 200
TS = jaxiaf.TSContinuous.from_clocked(np.ones((NUM_STEPS, 2)), dt=1e-4)

# Every attribute and method on the reference page of Rockpool's FFIAFBrian (its API docs), in its order.
PAGE_NAMES = [
    "class_name",
    "full_name",
    "input_type",
    "name",
    "output_type",
    "shape",
    "size",
    "size_in",
    "size_out",
    "spiking_input",
    "spiking_output",
    "t",
    "dt",
    "__init__",
    "as_graph",
    "attributes_named",
    "evolve",
    "modules",
    "parameters",
    "reset_all",
    "reset_parameters",
    "reset_state",
    "reset_time",
    "set_attributes",
    "simulation_parameters",
    "state",
    "__in_TimedModule_init",
    "_abc_impl",
    "_determine_timesteps",
    "_evolve_wrapper",
    "_force_set_attributes",
    "_gen_time_trace",
    "_gen_timeseries",
    "_gen_tscontinuous",
    "_gen_tsevent",
    "_get_attribute_family",
    "_get_attribute_registry",
    "_has_registered_attribute",
    "_in_Module_init",
    "_is_child",
    "_name",
    "_parent_dt_factor",
    "_prepare_input",
    "_prepare_input_continuous",
    "_prepare_input_events",
    "_register_attribute",
    "_register_module",
    "_reset_attribute",
    "_set_dt",
    "_shape",
    "_spiking_input",
    "_spiking_output",
    "_submodulenames",
    "_wrap_recorded_state",
]

# `_abc_impl` is the bookkeeping of Python's `abc` module on Rockpool's abstract base classes; FFIAFBrian
# is not an abstract class, so it has none.
# `_abc_impl`: Python's ABC bookkeeping; `_prepare_input_events`: the spiking-input path, which this layer
# (continuous input) never calls.
NOT_PROVIDED = {"_abc_impl", "_prepare_input_events"}


def _layer():
    return jaxiaf.FFIAFBrian(W, bias=0.011, name="walk")


def _advanced():
    mod = _layer()
    return mod.set_attributes(mod(TS)[1])


def _size(mod):
    with pytest.warns(DeprecationWarning, match="size_out"):
        assert mod.size == 3


def _init(mod):
    built = jaxiaf.FFIAFBrian(
        W,
        bias=0.01,
        dt=1e-4,
        noise_std=0.0,
        tau_mem=0.02,
        v_thresh=-0.055,
        v_reset=-0.065,
        v_rest=-0.065,
        refractory=0.0,
        neuron_eq=None,
        integrator_name="exact",
        name="x",
        record=True,
        key=None,
    )
    assert built.integrator_name == "exact" and set(built(TS)[2]) == {"v", "spikes"}


def _as_graph(mod):
    graph = mod.as_graph()
    assert isinstance(graph, GraphHolder) and graph.shape == (2, 3)


def _evolve(mod):
    out, new_state, record = mod.evolve(TS, record=True)
    assert isinstance(out, jaxiaf.TSEvent) and out.t_stop == pytest.approx(0.02)
    assert int(new_state["step"]) == NUM_STEPS and set(record) == {"v", "spikes"} and mod.t == 0.0


def _reset_all(mod):
    mod = _advanced()
    assert mod.reset_all() is mod and mod.t == 0.0
    np.testing.assert_array_equal(mod.v, mod.v_rest)


def _reset_parameters(mod):
    mod.set_attributes({"tau_mem": 0.05})
    assert mod.reset_parameters() is mod
    np.testing.assert_array_equal(mod.tau_mem, np.full(3, 0.02))


def _reset_state(mod):
    mod = _advanced()
    assert mod.reset_state() is mod and mod.t == pytest.approx(0.02)
    np.testing.assert_array_equal(mod.v, mod.v_rest)


def _reset_time(mod):
    mod = _advanced()
    v = np.asarray(mod.v)
    assert mod.reset_time() is mod and mod.t == 0.0
    np.testing.assert_array_equal(mod.v, v)


def _set_attributes(mod):
    assert mod.set_attributes({"bias": 0.02}) is mod
    np.testing.assert_array_equal(mod.bias, np.full(3, 0.02))


def _evolve_wrapper(mod):
    out, new_state, _ = mod._evolve_wrapper(TS)
    assert out.t_stop == pytest.approx(0.02) and mod.t == pytest.approx(0.02)
    assert int(mod.step) == int(new_state["step"]) == NUM_STEPS


def _gen_tsevent(mod):
    raster = np.zeros((4, 3), bool)
    raster[2, 1] = True
    np.testing.assert_allclose(mod._gen_tsevent(raster).times, [2.5e-4])
    events = mod._gen_tsevent(raster, dt=1.0, t_start=10.0, spikes_at_bin_start=True, num_channels=5)
    assert events.times.tolist() == [12.0] and events.num_channels == 5 and events.t_stop == 14.0


def _gen_tscontinuous(mod):
    series = mod._gen_tscontinuous(np.arange(6.0).reshape(3, 2), interp_kind="linear")
    np.testing.assert_allclose(series.times, [0.0, 1e-4, 2e-4])
    assert series.t_stop == pytest.approx(3e-4) and series.interp_kind == "linear"


def _get_attribute_registry(mod):
    attributes, modules = mod._get_attribute_registry()
    assert modules == {}
    assert attributes["tau_mem"].type_name == "Parameter" and attributes["tau_mem"].family == "taus"
    assert attributes["dt"].type_name == "SimulationParameter" and attributes["v"].type_name == "State"
    assert attributes["weights"].shape == (2, 3)


def _prepare(method):
    def check(mod):
        time_base, raster, num_steps = getattr(mod, method)(TS, num_timesteps=5)
        np.testing.assert_allclose(time_base, np.arange(5) * 1e-4)
        assert raster.shape == (5, 2) and num_steps == 5

    return check


def _register_attribute(mod):
    mod._register_attribute("tau_mem", 0.03)
    mod.set_attributes({"tau_mem": 0.05})
    np.testing.assert_array_equal(mod.reset_parameters().tau_mem, np.full(3, 0.03))


def _register_module(mod):
    child = jaxiaf.FFIAF(np.ones((1, 2)))
    mod._register_module("child", child)
    assert mod.modules() == {"child": child} and mod._submodulenames == ["child"]
    assert set(mod.parameters()["child"]) == set(child.parameters())
    mod.set_attributes({"child": {"tau_mem": 0.04}, "tau_mem": 0.05})
    np.testing.assert_array_equal(mod.modules()["child"].tau_mem, np.full(2, 0.04))
    assert mod.parameters("taus") == {
        "tau_mem": mod.tau_mem,
        "child": {"tau_mem": mod.modules()["child"].tau_mem},
    }


def _reset_attribute(mod):
    mod = _advanced()
    assert mod._reset_attribute("step") is mod and mod.t == 0.0
    mod.set_attributes({"v_thresh": -0.05})
    np.testing.assert_array_equal(mod._reset_attribute("v_thresh").v_thresh, np.full(3, -0.055))


def _wrap_recorded_state(mod):
    wrapped = mod._wrap_recorded_state({"v": np.zeros((4, 3)), "spikes": np.eye(4, 3, dtype=bool)}, 1.0)
    assert isinstance(wrapped["v"], jaxiaf.TSContinuous) and wrapped["v"].t_start == 1.0
    assert isinstance(wrapped["spikes"], jaxiaf.TSEvent) and wrapped["spikes"].times.size == 3


CHECKS = {
    "class_name": lambda m: m.class_name == "FFIAFBrian",
    "full_name": lambda m: m.full_name == "FFIAFBrian 'walk'",
    "input_type": lambda m: m.input_type is jaxiaf.TSContinuous,
    "name": lambda m: m.name == "walk",
    "output_type": lambda m: m.output_type is jaxiaf.TSEvent,
    "shape": lambda m: m.shape == (2, 3),
    "size": _size,
    "size_in": lambda m: m.size_in == 2,
    "size_out": lambda m: m.size_out == 3,
    "spiking_input": lambda m: m.spiking_input is False,
    "spiking_output": lambda m: m.spiking_output is True,
    "t": lambda m: m.t == 0.0 and _advanced().t == pytest.approx(0.02),
    "dt": lambda m: isinstance(m.dt, float) and m.dt == 1e-4,
    "__init__": _init,
    "as_graph": _as_graph,
    "attributes_named": lambda m: set(m.attributes_named(["tau_mem", "v"])) == {"tau_mem", "v"},
    "evolve": _evolve,
    "modules": lambda m: m.modules() == {},
    "parameters": lambda m: (
        set(m.parameters()) == {"weights", "bias", "tau_mem", "v_thresh", "v_reset", "v_rest"}
    ),
    "reset_all": _reset_all,
    "reset_parameters": _reset_parameters,
    "reset_state": _reset_state,
    "reset_time": _reset_time,
    "set_attributes": _set_attributes,
    "simulation_parameters": lambda m: (
        set(m.simulation_parameters()) == {"dt", "noise_std", "refractory", "integrator_name"}
    ),
    "state": lambda m: set(m.state()) == {"v", "since_spike", "key", "step"},
    "__in_TimedModule_init": lambda m: m._TimedModule__in_TimedModule_init is False,
    "_determine_timesteps": lambda m: m._determine_timesteps(TS) == NUM_STEPS,
    "_evolve_wrapper": _evolve_wrapper,
    "_force_set_attributes": lambda m: m._force_set_attributes is False,
    "_gen_time_trace": lambda m: np.allclose(m._gen_time_trace(0.5, 3), [0.5, 0.5001, 0.5002]),
    "_gen_timeseries": lambda m: isinstance(m._gen_timeseries(np.zeros((3, 3), bool)), jaxiaf.TSEvent),
    "_gen_tscontinuous": _gen_tscontinuous,
    "_gen_tsevent": _gen_tsevent,
    "_get_attribute_family": lambda m: (
        m._get_attribute_family("State", ("voltages", "time")).keys() == {"v", "step"}
    ),
    "_get_attribute_registry": _get_attribute_registry,
    "_has_registered_attribute": lambda m: (
        m._has_registered_attribute("v") and not m._has_registered_attribute("nope")
    ),
    "_in_Module_init": lambda m: m._in_Module_init is False,
    "_is_child": lambda m: m._is_child is False,
    "_name": lambda m: m._name == "walk",
    "_parent_dt_factor": lambda m: m._parent_dt_factor == 1.0,
    "_prepare_input": _prepare("_prepare_input"),
    "_prepare_input_continuous": _prepare("_prepare_input_continuous"),
    "_register_attribute": _register_attribute,
    "_register_module": _register_module,
    "_reset_attribute": _reset_attribute,
    "_set_dt": lambda m: m._set_dt() is None and m._set_dt(max_factor=5) is None and m.dt == 1e-4,
    "_shape": lambda m: m._shape == (2, 3),
    "_spiking_input": lambda m: m._spiking_input is False,
    "_spiking_output": lambda m: m._spiking_output is True,
    "_submodulenames": lambda m: m._submodulenames == [],
    "_wrap_recorded_state": _wrap_recorded_state,
}


def test_every_page_name_has_a_check():
    assert set(CHECKS) == set(PAGE_NAMES) - NOT_PROVIDED
    assert len(PAGE_NAMES) == len(set(PAGE_NAMES)) == 54
    assert not any(hasattr(jaxiaf.FFIAFBrian, name) for name in NOT_PROVIDED)


@pytest.mark.parametrize("name", sorted(set(PAGE_NAMES) - NOT_PROVIDED))
def test_page_item_exists_and_works(name):
    mod = _layer()
    attribute = "_TimedModule__in_TimedModule_init" if name == "__in_TimedModule_init" else name
    assert hasattr(jaxiaf.FFIAFBrian, attribute)
    result = CHECKS[name](mod)
    assert result is None or result is True, f"{name}: check returned {result!r}"


def test_attributes_read_and_assign_through_set_attributes():
    mod = _layer()
    np.testing.assert_array_equal(mod.weights, W)
    mod.tau_mem = [0.01, 0.02, 0.03]
    np.testing.assert_array_equal(mod.parameters()["tau_mem"], [0.01, 0.02, 0.03])
    mod.noise_std = 1e-3
    assert mod.module.sim.noisy
    with pytest.raises(ValueError, match="`tau_mem` must be finite and > 0"):
        mod.tau_mem = -1.0
    np.testing.assert_array_equal(mod.tau_mem, [0.01, 0.02, 0.03])


def test_families():
    mod = _layer()
    assert set(mod.parameters("voltages")) == {"v_thresh", "v_reset", "v_rest"}
    assert set(mod.parameters(["weights", "biases"])) == {"weights", "bias"}
    assert set(mod.simulation_parameters("time")) == {"dt", "refractory"}
    assert set(mod.state("voltages")) == {"v"}
    assert set(mod.attributes_named("dt")) == {"dt"}


def test_set_attributes_round_trips_and_dt_changes_only_at_t_zero():
    mod = _advanced()
    t, sim = mod.t, mod.module.sim
    assert mod.set_attributes(mod.simulation_parameters()) is mod
    assert mod.set_attributes(mod.parameters()).set_attributes(mod.state()) is mod
    assert mod.t == t and mod.module.sim == sim
    with pytest.raises(ValueError, match="`dt` can change only at t = 0"):
        mod.set_attributes({"dt": 2e-4})
    assert mod.dt == 1e-4 and mod.t == t
    mod.reset_time().dt = 2e-4
    assert mod.dt == 2e-4 and float(mod.module.dt) == 2e-4


def test_set_attributes_accepts_the_functional_pytrees():
    mod = _layer()
    other = jaxiaf.FFIAF(W, tau_mem=0.04, v_thresh=-0.05)
    mod.set_attributes(other.params)
    np.testing.assert_array_equal(mod.tau_mem, np.full(3, 0.04))
    np.testing.assert_array_equal(mod.v_thresh, np.full(3, -0.05))


def test_resets_act_in_place_and_return_the_layer():
    mod = jaxiaf.FFIAFBrian(W, bias=0.03, refractory=2e-3)
    first = mod(TS)[0]
    mod.set_attributes(mod(TS)[1])
    mod.reset_all()
    again = mod(TS)[0]
    np.testing.assert_array_equal(again.times, first.times)
    np.testing.assert_array_equal(again.channels, first.channels)
    assert (np.asarray(mod.since_spike) == NEVER).all()


def test_as_graph_carries_every_parameter():
    mod = jaxiaf.FFIAFBrian(W, tau_mem=[0.01, 0.02, 0.03], refractory=1e-3, noise_std=1e-3, name="lyr")
    graph = mod.as_graph()
    weights, neurons = graph.modules
    assert isinstance(weights, LinearWeights) and isinstance(neurons, IAFNeurons)
    assert weights.output_nodes is neurons.input_nodes
    assert graph.input_nodes is weights.input_nodes and graph.output_nodes is neurons.output_nodes
    assert graph.name == "lyr" and neurons.name == "lyr_neurons"
    np.testing.assert_array_equal(weights.weights, W)
    for name, value in {**mod.parameters(), **mod.simulation_parameters()}.items():
        if name != "weights":
            np.testing.assert_array_equal(getattr(neurons, name), value)
    assert neurons.r_m == 1.0 and neurons.shape == (3, 3)


def test_registry_errors():
    mod = _layer()
    with pytest.raises(ValueError, match="cannot register 'tau_syn'"):
        mod._register_attribute("tau_syn", 0.01)
    with pytest.raises(KeyError, match="'tau_syn' is not a registered attribute"):
        mod._reset_attribute("tau_syn")
    with pytest.raises(ValueError, match="`type_name` must be one of"):
        mod._get_attribute_family("Weights")
    with pytest.raises(TypeError, match="`mod` must be a module"):
        mod._register_module("child", object())
    with pytest.raises(ValueError, match="`name` must be an identifier"):
        mod._register_module("v", jaxiaf.FFIAF(W))
    with pytest.raises(ValueError, match="Unknown attribute"):
        mod.set_attributes({"tau_syn": 0.01})
    with pytest.raises(TypeError, match="`new_attributes` must be a dict"):
        mod.set_attributes([("tau_mem", 0.01)])
    with pytest.raises(ValueError, match="`max_factor` must be >= 1"):
        mod._set_dt(0.5)


@pytest.mark.brian
def test_neuron_eq_recognises_the_default_iaf_equations():
    """The default equations (as given, as Brian2 `Equations`, or rearranged) run the default kernels;
    other equations become a `jaxiaf.Model`; invalid ones are refused with Brian2's reason."""
    import brian2

    rearranged = """
        dv/dt = (r_m*I_total + v_rest - v)/tau_m : volt (unless refractory)
        I_total = I_bias + I_inp(t, i) : amp (constant over dt)
        I_bias : amp
        v_rest : volt
        tau_m : second
        r_m : ohm
        v_thresh : volt
        v_reset : volt
    """
    for default in (None, jaxiaf.DEFAULT_NEURON_EQ, brian2.Equations(jaxiaf.DEFAULT_NEURON_EQ), rearranged):
        assert jaxiaf.FFIAFBrian(W, neuron_eq=default).module.sim.model is None
    leaky_to_zero = jaxiaf.DEFAULT_NEURON_EQ.replace("(v_rest - v + r_m * I_total)", "(-v + r_m * I_total)")
    for other in (leaky_to_zero, brian2.Equations(leaky_to_zero)):
        layer = jaxiaf.FFIAFBrian(W, neuron_eq=other, I_bias=0.0, tau_m=0.02, r_m=1.0)
        assert isinstance(layer.module.sim.model, jaxiaf.Model)
    with pytest.raises(TypeError, match="`neuron_eq` must be a Brian2 `Equations` object or a string"):
        jaxiaf.FFIAFBrian(W, neuron_eq=3)
    with pytest.raises(ValueError, match="membrane potential a differential equation"):
        jaxiaf.FFIAFBrian(W, neuron_eq="v : volt")
    with pytest.raises(ValueError, match="not valid Brian2 equations"):
        jaxiaf.FFIAFBrian(W, neuron_eq="dv/dt = : volt")


def test_integrator_names():
    ts = TS
    for name in ("rk4", "rk2", "euler", "exponential_euler", "exact", "linear"):
        mod = jaxiaf.FFIAFBrian(W, integrator_name=name)
        assert mod.integrator_name == mod.simulation_parameters()["integrator_name"] == name
    exact, linear = (jaxiaf.FFIAFBrian(W, bias=0.011, integrator_name=n)(ts)[0] for n in ("exact", "linear"))
    np.testing.assert_array_equal(exact.times, linear.times)
    with pytest.raises(ValueError, match="`integrator_name` must be one of 'rk4', 'rk2', 'euler'"):
        jaxiaf.FFIAFBrian(W, integrator_name="heun")


def test_repr_and_names():
    mod = jaxiaf.FFIAFBrian(W, name=None)
    assert mod.name == "" and mod.full_name == "FFIAFBrian" and repr(mod).startswith("FFIAFBrian with shape")
    out = mod(TS)[0]
    assert out.name == "Output events"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert _layer().size_out == 3


def test_public_namespace_is_all_and_moved_names_warn():
    public = sorted(name for name in dir(jaxiaf) if not name.startswith("_"))
    assert public == sorted(jaxiaf.__all__)
    for name in (
        "NEVER",
        "INTEGRATORS",
        "StepConstants",
        "float_dtype",
        "standard_normal_raster",
        "GraphHolder",
    ):
        assert name not in jaxiaf.__all__
        with pytest.warns(DeprecationWarning, match=f"`jaxiaf.{name}` is not public any more"):
            getattr(jaxiaf, name)
    with pytest.warns(DeprecationWarning), pytest.raises(TypeError):
        jaxiaf.INTEGRATORS["mine"] = None  # read-only
    assert jaxiaf.graph.LinearWeights is LinearWeights
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        jaxiaf.nope  # noqa: B018
