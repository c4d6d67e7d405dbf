"""`FFIAFBrian`'s reference page on Rockpool's synaptic timed layers (`FFIAFSpkInBrian`, `RecIAFBrian`,
`RecIAFSpkInBrian`): every item of the page exists on each, and the items whose behaviour the synaptic
shell changes (input preparation, weight matrices and synaptic currents in the registry, resets, registered
initial values) work through the same code as on `FFIAFBrian`."""

import numpy as np
import pytest
from helpers import CLASSES, DT, NUM_STEPS, build, scenario, series

import jaxiaf

PAGE = (
    "_abc_impl _determine_timesteps _evolve_wrapper _force_set_attributes _gen_time_trace _gen_timeseries "
    "_gen_tscontinuous _gen_tsevent _get_attribute_family _get_attribute_registry _has_registered_attribute "
    "_in_Module_init _is_child _name _parent_dt_factor _prepare_input _prepare_input_continuous "
    "_prepare_input_events _register_attribute _register_module _reset_attribute _set_dt _shape "
    "_spiking_input _spiking_output _submodulenames _wrap_recorded_state as_graph attributes_named "
    "class_name dt evolve full_name input_type modules name output_type parameters reset_all "
    "reset_parameters reset_state reset_time set_attributes shape simulation_parameters size size_in "
    "size_out spiking_input spiking_output state t _TimedModule__in_TimedModule_init"
).split()
"""The attributes and methods of `FFIAFBrian`'s reference page (`spec/FFIAFBrian-reference.txt`), but
`__init__`."""

SYNAPTIC = {
    "FFIAFSpkInBrian": ({"weights": (5, 6)}, {"tau_syn"}, {"I_syn"}),
    "RecIAFBrian": ({"weights": (6, 6)}, {"tau_syn_r"}, {"I_syn"}),
    "RecIAFSpkInBrian": ({"weights_in": (5, 6), "weights_rec": (6, 6)}, {"tau_syn_inp", "tau_syn_rec"},
                         {"I_syn_inp", "I_syn_rec"}),
}  # fmt: skip
"""Per class: its weight matrices (shapes in the scenarios of `tests/helpers.py`), synaptic time constants
and synaptic currents."""


@pytest.mark.parametrize("kind", list(CLASSES))
def test_every_page_item_exists(kind):
    layer = build(scenario(kind, 0))
    missing = [name for name in PAGE if name not in dir(layer)]  # (dir: no deprecated property read)
    assert missing == []
    assert layer.modules() == {} and layer._submodulenames == [] and layer._is_child is False


@pytest.mark.parametrize("kind", list(CLASSES))
def test_prepare_input_takes_the_layers_own_input(kind):
    """`_prepare_input` rasterises a spiking-input layer's `TSEvent` (Rockpool's `TimedModule` calls
    `_prepare_input_events` for those) and samples `RecIAFBrian`'s currents; the other kind is refused."""
    sc = scenario(kind, 0)
    layer = build(sc)
    time_base, raster, num_steps = layer._prepare_input(series(sc), num_timesteps=NUM_STEPS)
    np.testing.assert_allclose(time_base, np.arange(NUM_STEPS) * DT)
    assert num_steps == NUM_STEPS and raster.shape == (NUM_STEPS, layer.size_in)
    if layer.spiking_input:
        assert raster.dtype == bool and layer.input_type is jaxiaf.TSEvent
        np.testing.assert_array_equal(raster, layer._prepare_input_events(series(sc), None, NUM_STEPS)[1])
        other = jaxiaf.TSContinuous.from_clocked(np.zeros((3, layer.size_in)), dt=DT)
        with pytest.raises(TypeError, match="`ts_input` must be a TSEvent of input spikes"):
            layer._prepare_input(other)
    else:
        np.testing.assert_array_equal(raster, sc["currents"])
        with pytest.raises(TypeError, match="`ts_input` must be a TSContinuous"):
            layer._prepare_input(jaxiaf.TSEvent([0.0], [0], t_stop=1e-3, num_channels=layer.size_in))


@pytest.mark.parametrize("kind", list(CLASSES))
def test_registry_names_families_and_registered_initial_values(kind):
    """The weight matrices are Parameters of family `"weights"` (their shapes), the synaptic time
    constants `"taus"`, the synaptic currents State; a weight matrix registered anew is what
    `reset_parameters` restores, and `_reset_attribute` restores one."""
    weights, taus, currents = SYNAPTIC[kind]
    sc = scenario(kind, 0)
    layer = build(sc)
    attributes, modules = layer._get_attribute_registry()
    assert modules == {}
    assert {k: attributes[k].shape for k in weights} == weights
    assert all(attributes[k].type_name == "Parameter" and attributes[k].family == "weights" for k in weights)
    assert {k for k, a in attributes.items() if a.family == "taus"} == {"tau_mem", *taus}
    assert all(attributes[k].type_name == "State" for k in currents)
    assert set(layer.parameters("weights")) == set(weights) and set(layer.parameters("taus")) == {
        "tau_mem",
        *taus,
    }
    assert set(layer.attributes_named([*weights, *taus, *currents])) == {*weights, *taus, *currents}
    name, shape = next(iter(weights.items()))
    layer._register_attribute(name, np.full(shape, 1e-3))
    layer.set_attributes({name: np.full(shape, 2e-3)})
    np.testing.assert_array_equal(layer.reset_parameters().parameters()[name], np.full(shape, 1e-3))
    layer.set_attributes({name: np.full(shape, 2e-3)})
    np.testing.assert_array_equal(layer._reset_attribute(name).parameters()[name], np.full(shape, 1e-3))
    with pytest.raises(ValueError, match=f"`{name}` must keep shape"):
        layer.set_attributes({name: np.ones((2, 2))})


@pytest.mark.parametrize("kind", list(CLASSES))
def test_evolve_wrapper_advances_and_resets_clear_the_synaptic_currents(kind):
    """`_evolve_wrapper` advances `t` and the state (synaptic currents included) as `set_attributes` of
    `evolve`'s state would; `reset_state` zeroes the currents and sets `v = v_rest` (t kept), `reset_time`
    only the clock, `reset_all` both; `set_attributes` of the layer's own dicts changes nothing."""
    _, _, currents = SYNAPTIC[kind]
    sc = scenario(kind, 1)
    layer = build(sc)
    _, expected, _ = layer.evolve(series(sc), num_timesteps=NUM_STEPS)
    output, state, _ = layer._evolve_wrapper(series(sc), num_timesteps=NUM_STEPS)
    assert layer.t == pytest.approx(NUM_STEPS * DT) and output.times.size > 0
    for name in currents | {"v"}:
        np.testing.assert_array_equal(layer.state()[name], expected[name])
        assert name == "v" or np.any(np.asarray(state[name]) != 0)
    own = lambda: {k: np.asarray(v) for k, v in {**layer.parameters(), **layer.state()}.items() if k != "key"}
    before = own()
    layer.set_attributes(layer.parameters()).set_attributes(layer.state())
    for k, v in own().items():
        np.testing.assert_array_equal(v, before[k])
    assert layer.reset_time() is layer and layer.t == 0.0
    np.testing.assert_array_equal(layer.v, expected["v"])
    layer.set_attributes({"step": NUM_STEPS})
    assert layer.reset_state() is layer and layer.t == pytest.approx(NUM_STEPS * DT)
    np.testing.assert_array_equal(layer.v, layer.v_rest)
    assert all(not np.any(np.asarray(layer.state()[k])) for k in currents)
    layer.set_attributes(state)
    assert (
        layer.reset_all() is layer
        and layer.t == 0.0
        and not np.any(np.asarray(layer.state()[next(iter(currents))]))
    )
    wrapped = layer._wrap_recorded_state({"v": np.zeros((4, 6)), "spikes": np.eye(4, 6, dtype=bool)}, 1.0)
    assert isinstance(wrapped["v"], jaxiaf.TSContinuous) and wrapped["spikes"].times.size == 4
    assert layer._set_dt() is None and layer.dt == DT
