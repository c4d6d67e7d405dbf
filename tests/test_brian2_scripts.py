"""Brian2 scripts as written: each idiom that crashed or was refused (a literal quantity in a denominator,
`Equations` substitutions, Brian2's constants `pi`, `e`, `N`, thresholds and resets that read `I_inp`,
`t` and subexpressions, refractoriness as a condition or of the state, any variable names, models without
a threshold, constants from a namespace) now runs and equals Brian2 (numpy target, float64) run on the
same text: identical spike trains, and traces bit-identical where the step is arithmetic only (within
1e-12 relative where it calls `sin`/`exp` of the state or of `t`)."""

import brian2 as b2
import jax
import numpy as np
import pytest
from brian2 import ms, mV, ohm
from helpers import ADAPTIVE_LIF as ADAPT
from helpers import ADAPTIVE_LIF_VALUES as PA
from helpers import run_script

import jaxiaf
from brian_ref.zoo import transcendental

pytestmark = pytest.mark.brian

LIF = """dv/dt = (v_rest - v + R*I_inp)/tau : volt (unless refractory)
v_rest : volt
R : ohm
tau : second
v_thresh : volt
v_reset : volt"""
P = dict(v_rest=-0.065, R=1.0, tau=0.02, v_thresh=-0.05, v_reset=-0.065)


def _currents(seed: int, n: int, steps: int, scale: float = 0.03):
    """Random inputs around `scale`: a per-neuron level plus white noise (A, or the input's unit)."""
    rng = np.random.default_rng(seed)
    return scale * (rng.uniform(0.6, 1.4, n) + rng.normal(0.0, 0.5, (steps, n)))


def compare(eqs, seed=0, n=6, steps=600, method=None, refractory=0.0, scale=0.03, params=None, **rules):
    """Run `eqs` in jaxiaf and in Brian2 with the same values and random inputs; assert identical trains
    and traces (bit-identical for arithmetic steps); return the total spike count."""
    params = dict(P if params is None else params)
    currents = _currents(seed, n, steps, scale)
    spikes, traces, ref, model = run_script(
        eqs, currents, params, method=method, refractory=refractory, **rules
    )
    np.testing.assert_array_equal(spikes, ref.raster())
    for name, trace in ref.traces.items():
        if transcendental(model):
            np.testing.assert_allclose(traces[name], trace, rtol=1e-12, atol=1e-18, err_msg=name)
        else:
            np.testing.assert_array_equal(traces[name], trace, err_msg=name)
    return int(spikes.sum())


@pytest.mark.parametrize("method", ["rk4"])
def test_literal_quantity_in_a_denominator(method):
    eqs = LIF.replace("/tau :", "/(20*ms) :").replace("\ntau : second", "")
    params = {k: v for k, v in P.items() if k != "tau"}
    assert compare(eqs, method=method, params=params, refractory=2e-3) > 10


def test_equations_substitution_and_namespace_constant():
    """`Equations(text, tau=20*ms)` substitutes a literal; the same constant from `namespace=` or as a
    keyword gives Brian2's result too."""
    params = {k: v for k, v in P.items() if k != "tau"}
    text = LIF.replace("\ntau : second", "")
    substituted = b2.Equations(text, tau=20 * ms)
    first = jaxiaf.FFIAF(np.eye(3), neuron_eq=substituted, refractory=2e-3, **params)
    second = jaxiaf.FFIAF(np.eye(3), neuron_eq=text, refractory=2e-3, tau=20 * ms, **params)
    x = _currents(1, 3, 500)
    np.testing.assert_array_equal(
        np.asarray(first(x, record=True)[2]["v"]), np.asarray(second(x, record=True)[2]["v"])
    )
    assert compare(text, params=params, namespace={"tau": 20 * ms}, refractory=2e-3) > 10


@pytest.mark.parametrize("method", ["rk4"])
def test_refractory_expression_with_constants(method):
    eqs = LIF + "\nref : second"
    params = {**P, "ref": np.linspace(0.0, 8e-3, 6)}
    assert compare(eqs, method=method, params=params, refractory="clip(ref, 0*ms, 5*ms)") > 10


@pytest.mark.parametrize("method", ["rk4"])
def test_brian_constants_pi_e_and_n(method):
    eqs = LIF.replace("R*I_inp)", "R*I_inp + A*sin(2*pi*f*t) + (i*e/N)*mV)") + "\nA : volt\nf : Hz"
    assert compare(eqs, method=method, params={**P, "A": 0.01, "f": 40.0}) > 10


def test_rk4_with_a_constant_derivative():
    assert compare(LIF + "\ndu/dt = 1/second : 1", method="rk4") > 10


def test_input_in_amp_per_square_metre():
    eqs = LIF.replace("R*I_inp", "R*I_inp*area") + "\nI_inp : amp/meter**2\narea : meter**2"
    assert compare(eqs, params={**P, "area": 1.0}) > 10


THRESHOLDS_AND_RESETS = {
    "threshold reads I_inp": dict(threshold="v > v_thresh and I_inp > 30*mA"),
    "threshold reads t": dict(threshold="v > v_thresh and t > 5*ms"),
    "threshold reads lastspike": dict(threshold="v > v_thresh and (t - lastspike) > 4*ms"),
    "threshold on a subexpression": dict(extra="\nveff = v + 2*mV : volt", threshold="veff > v_thresh"),
    "threshold on a constant-over-dt subexpression": dict(
        extra="\nvc = v + 2*mV : volt (constant over dt)", threshold="vc > v_thresh"
    ),
    "reset reads t": dict(reset="v = v_reset - (t/second)*mV"),
    "reset reads lastspike": dict(reset="v = v_reset - ((t - lastspike)/second)*mV"),
    "reset reads I_inp": dict(reset="v = v_reset + I_inp*ohm/10"),
    "reset reads a subexpression": dict(extra="\nveff = v + 2*mV : volt", reset="v = veff - 20*mV"),
}


@pytest.mark.parametrize("case", sorted(THRESHOLDS_AND_RESETS))
def test_thresholds_and_resets_read_what_brian2_reads(case):
    rules = dict(THRESHOLDS_AND_RESETS[case])
    eqs = LIF + rules.pop("extra", "")
    assert compare(eqs, method="euler", refractory=1e-3, **rules) > 10


@pytest.mark.parametrize("method", ["rk4"])
def test_refractoriness_as_a_condition(method):
    """Refractory while `u > 0.5` after a spike sets `u = 1` (Brian2's `not_refractory | not cond`)."""
    eqs = LIF + "\ndu/dt = -u/(5*ms) : 1"
    rules = dict(reset="v = v_reset; u = 1", refractory="u > 0.5")
    assert compare(eqs, method=method, **rules) > 10


def test_refractory_period_of_the_state():
    """A period that depends on the adaptation current, evaluated every step as Brian2 does."""
    assert (
        compare(ADAPT, method="rk4", params=PA, reset="v = v_reset; w += b", refractory="2*ms*(1 + w/b)") > 10
    )


def test_any_variable_name_and_a_namespace_as_written():
    """`vm`, with every constant from the namespace (as a Brian2 script writes them)."""
    eqs = "dvm/dt = (El - vm + Rm*I_inp)/taum : volt (unless refractory)"
    namespace = {"El": -65 * mV, "Rm": 1 * ohm, "taum": 10 * ms, "Vt": -50 * mV, "Vr": -70 * mV}
    assert compare(eqs, method="exact", params={}, namespace=namespace, threshold="vm > Vt", reset="vm = Vr",
                   refractory=2e-3) > 10  # fmt: skip


def test_model_without_a_threshold_runs_records_and_sweeps():
    """A rate model (no `v`, no threshold): no spikes, Brian2's trace, and a sweep over a declared name."""
    eqs = "dx/dt = (I_inp*ohm/mV - x)/tau : 1\ntau : second"
    assert compare(eqs, method="euler", params={"tau": 0.01}) == 0
    mod = jaxiaf.FFIAF(np.eye(2), neuron_eq=eqs, tau=0.01)
    result = jaxiaf.sweep(mod, {"tau": [0.01, 0.02]}, _currents(2, 2, 100), outputs=("counts",))
    assert np.asarray(result.counts).sum() == 0


def test_integer_parameters_truncate_as_brian2():
    eqs = LIF.replace("R*I_inp)", "R*I_inp + n*mV)") + "\nn : integer"
    assert compare(eqs, params={**P, "n": 2.7}) == compare(eqs, params={**P, "n": 2})


def test_unresolved_identifiers_are_listed_once():
    eqs = "dv/dt = (El - v)/taum : volt"
    with pytest.raises(ValueError, match=r"`El`, `Vt`, `taum` are used but neither declared.*namespace="):
        jaxiaf.FFIAF(np.eye(1), neuron_eq=eqs, threshold="v > Vt")
    with pytest.raises(ValueError, match=r"\['tua'\] not declared by the layer's equations"):
        jaxiaf.FFIAF(
            np.eye(1), neuron_eq=eqs, threshold="v > Vt", El=-65 * mV, taum=10 * ms, Vt=0 * mV, tua=1
        )
    with pytest.raises(TypeError, match=r"`namespace`: `taum` must be a scalar constant"):
        jaxiaf.FFIAF(np.eye(1), neuron_eq=eqs, namespace={"El": -65 * mV, "taum": np.ones(3) * ms})


def test_a_constant_promoted_to_a_per_neuron_parameter_sweeps_by_name():
    """`per_neuron=("taum",)` makes the namespace's `taum` a parameter, swept by name; each row equals the
    layer built with that value as a constant."""
    eqs = "dv/dt = (El - v + I_inp*ohm)/taum : volt"
    namespace = {"El": -65 * mV, "taum": 10 * ms, "Vt": -50 * mV}
    rules = dict(threshold="v > Vt", reset="v = El")
    mod = jaxiaf.FFIAF(np.eye(2), neuron_eq=eqs, namespace=namespace, per_neuron=("taum",), **rules)
    assert set(mod.parameters("equations")) == {"taum"}
    x = _currents(3, 2, 800)
    swept = jaxiaf.sweep(mod, {"taum": [0.01, 0.02]}, x, outputs=("counts",))
    for row, taum in enumerate([10 * ms, 20 * ms]):
        alone = jaxiaf.FFIAF(np.eye(2), neuron_eq=eqs, namespace={**namespace, "taum": taum}, **rules)
        np.testing.assert_array_equal(np.asarray(swept.counts)[row], np.asarray(alone(x)[0]).sum(0))


@pytest.mark.parametrize("method", ["rk4", "rk2", "heun", "euler", "exponential_euler", "milstein"])
def test_timed_input_follows_brian2s_timed_array_rule(method):
    """`I_inp(t, i)` with `input_sampling="timed"`: rk4's last stage (and any stage at `t + dt`) reads the
    next row, the last row repeats; random inputs that graze the threshold, every integrator: identical
    trains and traces."""
    eqs = LIF.replace("R*I_inp)", "R*I_inp(t, i))")
    compare(eqs, seed=7, n=8, steps=400, method=method, refractory=1e-3, input_sampling="timed")


def test_timed_and_held_input_differ_where_a_stage_reads_the_next_row():
    """The same equations and input: rk4's traces differ between the two samplings (the last stage reads
    row k + 1), euler's are identical (its only stage is at `t`)."""
    eqs = LIF.replace("R*I_inp)", "R*I_inp(t, i))")
    x = _currents(5, 3, 200)
    for method, differ in (("rk4", True), ("euler", False)):
        v = [
            np.asarray(
                jaxiaf.FFIAF(np.eye(3), neuron_eq=eqs, integrator_name=method, input_sampling=s, **P)(
                    x, record=True
                )[2]["v"]
            )
            for s in ("held", "timed")
        ]
        assert (not np.array_equal(*v)) == differ, method


def test_powers_of_parameters_are_hoisted_and_equal_brian2():
    """`tau**0.5` and `(tau/ms)**1.5` are computed once per call with NumPy (`Model.invariant`), as
    `sqrt(tau)` is; the traces equal Brian2's bit for bit."""
    eqs = LIF.replace("R*I_inp)/tau", "R*I_inp*(tau/ms)**1.5/20**1.5)/(tau**0.5*(20*ms)**0.5)")
    mod = jaxiaf.FFIAF(np.eye(2), neuron_eq=eqs, integrator_name="euler", **P)
    assert len(mod.sim.model.invariant) >= 2 and "**" not in "".join(mod.sim.model.update)
    assert compare(eqs, method="euler", refractory=1e-3) > 10


def test_randn_in_threshold_and_reset_draws_from_the_layers_key():
    """`randn()` in the threshold and the reset: the draws come after the update's in the step's draws
    (see `jaxiaf._core.steps._model_step`), so a run is reproducible, evolving in two calls equals one
    call, and another key gives other spikes."""
    rules = dict(threshold="v > v_thresh + 2*randn()*mV", reset="v = v_reset + randn()*mV")
    x = _currents(4, 4, 600)

    def layer(seed):
        return jaxiaf.FFIAF(np.eye(4), neuron_eq=LIF, key=jax.random.key(seed), **rules, **P)

    whole, state, _ = layer(0)(x)
    first, middle, _ = layer(0)(x[:250])
    second, _, _ = layer(0).set_attributes(middle)(x[250:])
    np.testing.assert_array_equal(np.asarray(whole), np.concatenate([np.asarray(first), np.asarray(second)]))
    assert np.asarray(whole).sum() > 10
    assert not np.array_equal(np.asarray(whole), np.asarray(layer(1)(x)[0]))


def test_a_promoted_constant_is_fitted_by_name():
    """`per_neuron=("taum",)`: `fit` takes the promoted constant's name in `bounds` and recovers the
    value that made the target spikes (within the bounds' 1 %)."""
    eqs = "dv/dt = (El - v + I_inp*ohm)/taum : volt"
    namespace = {"El": -65 * mV, "taum": 10 * ms, "Vt": -50 * mV}
    mod = jaxiaf.FFIAF(np.eye(1), neuron_eq=eqs, namespace=namespace, per_neuron=("taum",),
                       threshold="v > Vt", reset="v = El")  # fmt: skip
    x = _currents(6, 1, 1000)
    target = np.asarray(mod.set_attributes({"taum": 0.014})(x)[0])
    result = jaxiaf.fit(mod, x[None], spikes=target[None], bounds={"taum": (0.005, 0.03)}, generations=30,
                        population_size=16, parallel=1, progress=False, key=jax.random.key(0))  # fmt: skip
    assert abs(result.best_params["taum"] - 0.014) < 0.01 * 0.025


def test_since_spike_is_zero_while_a_refractory_condition_holds():
    """Under `refractory="u > 0.5"` (`u = 1` at a spike), the final `since_spike` is 0 exactly for the
    neurons that spiked on the last step or were still refractory on it (`u > 0.5` before its update)."""
    eqs = LIF + "\ndu/dt = -u/(5*ms) : 1"
    mod = jaxiaf.FFIAF(np.eye(6), neuron_eq=eqs, reset="v = v_reset; u = 1", refractory="u > 0.5", **P)
    for steps in (97, 143, 211):
        spikes, state, record = mod(_currents(steps, 6, steps, 0.05), record=True)
        spikes, u = np.asarray(spikes), np.asarray(record["u"])
        refractory = spikes[-1] | ((u[-2] > 0.5) & spikes[:-1].any(axis=0))
        np.testing.assert_array_equal(np.asarray(state.since_spike) == 0, refractory)
        assert refractory.any() and not refractory.all()


def test_a_sweep_over_dt_of_equations_reading_t_equals_each_set_alone():
    eq = """dv/dt = (v_rest - v + R*I_inp*(1 + 0.5*sin(2*pi*20*Hz*t)))/tau : volt (unless refractory)
    v_rest : volt
    R : ohm
    tau : second
    v_thresh : volt
    v_reset : volt"""
    mod = jaxiaf.FFIAF(
        np.eye(2), neuron_eq=eq, v_rest=-0.065, R=1.0, tau=0.02, v_thresh=-0.05, v_reset=-0.065,
        refractory=2e-3,
    )  # fmt: skip
    x = np.full((1000, 2), 0.02)
    swept = jaxiaf.sweep(mod, {"dt": np.array([1e-4, 5e-5])}, x, outputs=("counts",))
    alone = np.stack([mod.set_attributes({"dt": dt})(x)[0].sum(0) for dt in (1e-4, 5e-5)])
    assert alone[0, 0] != alone[1, 0]  # dt matters here, so a (B,) dt mixed up across sets would show
    np.testing.assert_array_equal(swept.counts, alone)
