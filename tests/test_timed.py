"""`FFIAFBrian`: attributes, registry, resets, graph (every item of the reference page, on the default layer
and on a layer of its own equations: `tests/test_page_on_model.py`)."""

import warnings

import numpy as np
import pytest

import jaxiaf
from jaxiaf._core.pytrees import NEVER
from jaxiaf._rockpool.graph import IAFNeurons, LinearWeights

W = np.array([[0.02, 0.01, 0.0], [0.0, 0.01, 0.03]])
NUM_STEPS = 200
TS = jaxiaf.TSContinuous.from_clocked(np.ones((NUM_STEPS, 2)), dt=1e-4)


def _layer():
    return jaxiaf.FFIAFBrian(W, bias=0.011, name="walk")


def _advanced():
    mod = _layer()
    return mod.set_attributes(mod(TS)[1])


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
    with pytest.raises(ValueError, match="a differential equation"):
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
