"""NIR export and import: bit-exact file round trips, what is refused and why, and Norse as a real reader.

The Norse tests compare spike trains of a 100-neuron layer over 10^4 steps. Norse runs in float32 and
jaxiaf in float64, so a neuron's train may differ where `v` grazes the threshold: such a difference is
accepted only if, at its first differing step, the simulator that did not spike has `v` within 1e-7 V of
the threshold and both voltage traces agreed to 1e-7 V until then (float32 steps of a ~15 mV range round at
~1e-9 V; the traces drift apart by ~1e-8 V over 10^4 steps).
"""

import jax
import numpy as np
import pytest
from helpers import assert_same_module, require
from helpers import random_layer as _layer

import jaxiaf

nir = require("nir")

INTEGRATORS = ("rk4", "rk2", "euler", "exponential_euler", "exact")


@pytest.mark.parametrize("integrator", INTEGRATORS)
def test_file_round_trip_is_bit_exact(tmp_path, integrator):
    """Every leaf (parameters, dt, refractory, noise, state with key and step) and every static field come
    back bit for bit, so the loaded layer runs the same computation (evolved side by side for rk4)."""
    layer = _layer(
        integrator,
        refractory=np.array([0.0, 1e-3, 2e-3, 0.0, 5e-4]),
        noise_std=2e-3,
        bias=0.02,
        name="exported",
        key=jax.random.key(7),
    )
    rng = np.random.default_rng(1)
    mid_run = {"v": rng.uniform(-0.065, -0.055, 5), "since_spike": np.array([3, 2**30, 0, 7, 1]), "step": 123}
    layer = layer.set_attributes(mid_run)  # a state mid-run, some neurons refractory
    with pytest.warns(UserWarning) as warned:
        graph = jaxiaf.to_nir(layer)
    assert [str(w.message).split(":")[0] for w in warned] == [
        f"The layer's `{name}` is not zero" for name in ("refractory", "noise_std")
    ]
    assert all("other NIR readers (Norse, snnTorch, ...) ignore it" in str(w.message) for w in warned)
    nir.write(tmp_path / "layer.nir", graph)
    loaded = jaxiaf.from_nir(nir.read(tmp_path / "layer.nir"))
    assert_same_module(layer, loaded)
    if integrator == "rk4":
        x = rng.normal(0.0, 0.5, (1000, 3))
        (s1, _, r1), (s2, _, r2) = layer(x, record=True), loaded(x, record=True)
        assert np.array_equal(s1, s2) and np.array_equal(r1["v"], r2["v"]) and s1.sum() > 20


def test_graph_layout_and_timed_layer():
    layer = _layer()
    graph = jaxiaf.to_nir(layer)
    assert list(graph.nodes) == ["input", "affine", "lif", "output"]
    assert graph.edges == [("input", "affine"), ("affine", "lif"), ("lif", "output")]
    affine, lif = graph.nodes["affine"], graph.nodes["lif"]
    assert np.array_equal(affine.weight, np.asarray(layer.weights).T)
    for field, name in (("tau", "tau_mem"), ("v_leak", "v_rest"), ("v_threshold", "v_thresh")):
        assert np.array_equal(getattr(lif, field), np.asarray(getattr(layer, name)))
    assert np.array_equal(lif.r, np.ones(5)) and np.array_equal(lif.v_reset, np.asarray(layer.v_reset))
    timed = jaxiaf.FFIAFBrian(np.asarray(layer.weights), bias=np.asarray(layer.bias), name="t")
    assert np.array_equal(jaxiaf.to_nir(timed).nodes["affine"].bias, np.asarray(layer.bias))


def _graph(neurons, weight=None, bias=None, linear=False):
    n = int(neurons.input_type["input"][0])
    weight = np.full((n, 2), 0.01) if weight is None else weight
    first = nir.Linear(weight=weight) if linear else nir.Affine(weight=weight, bias=np.full(n, 0.012))
    return nir.NIRGraph.from_list(first, neurons)


def _lif(n=3, r=1.0):
    return nir.LIF(
        tau=np.full(n, 0.02),
        r=np.full(n, r),
        v_leak=np.full(n, -0.065),
        v_threshold=np.full(n, -0.055),
        v_reset=np.full(n, -0.07),
    )


def test_foreign_graph_folds_r_and_accepts_linear():
    folded = jaxiaf.from_nir(_graph(_lif(r=2.0)), dt=1e-4)
    assert folded.integrator_name == "exact" and float(folded.dt) == 1e-4
    assert np.array_equal(folded.weights, np.full((2, 3), 0.02)) and np.array_equal(folded.bias, [0.024] * 3)
    linear = jaxiaf.from_nir(_graph(_lif(), linear=True), dt=1e-4, integrator_name="euler")
    assert np.array_equal(linear.bias, np.zeros(3)) and linear.integrator_name == "euler"
    cuba = nir.CubaLIF(
        tau_syn=np.zeros(3),
        tau_mem=np.full(3, 0.02),
        r=np.full(3, 2.0),
        v_leak=np.full(3, -0.065),
        v_threshold=np.full(3, -0.055),
        v_reset=np.full(3, -0.07),
        w_in=3.0,
    )
    passthrough = jaxiaf.from_nir(_graph(cuba), dt=1e-4)
    assert np.array_equal(passthrough.weights, np.full((2, 3), 0.06))


def test_overrides_and_key():
    layer = _layer(noise_std=1e-3, key=jax.random.key(3))
    with pytest.warns(UserWarning, match="`noise_std` is not zero"):
        graph = jaxiaf.to_nir(layer)
    loaded = jaxiaf.from_nir(graph, dt=2e-4, integrator_name="euler", key=jax.random.key(9))
    assert float(loaded.dt) == 2e-4 and loaded.integrator_name == "euler"
    assert np.array_equal(jax.random.key_data(loaded.neuron_state.key), [0, 9])


@pytest.mark.parametrize(
    "graph, message",
    [
        (
            lambda: _graph(
                nir.CubaLIF(
                    tau_syn=np.full(3, 5e-3),
                    tau_mem=np.full(3, 0.02),
                    r=np.ones(3),
                    v_leak=np.zeros(3),
                    v_threshold=np.ones(3),
                )
            ),
            r"the Affine node 'affine' feeds a CubaLIF with tau_syn > 0 a constant through its synapse",
        ),
        (
            lambda: _graph(nir.IF(r=np.ones(3), v_threshold=np.ones(3))),
            r"IF node has no leak .*\(`tau_mem` must be finite\)",
        ),
        (
            lambda: _graph(nir.LI(tau=np.ones(3), r=np.ones(3), v_leak=np.zeros(3))),
            r"a LI node cannot be the neurons of a layer\. Supported: Input -> Affine or Linear -> LIF",
        ),
        (
            lambda: nir.NIRGraph.from_list(nir.Affine(weight=np.ones((3, 2)), bias=np.zeros(3))),
            r"supports Input -> Affine or Linear -> LIF .*; got Input -> Affine -> Output",
        ),
        (
            lambda: nir.NIRGraph(
                nodes={
                    "input": nir.Input(input_type=np.array([2])),
                    "a": nir.Affine(weight=np.ones((3, 2)), bias=np.zeros(3)),
                    "b": _lif(),
                    "c": _lif(),
                    "output": nir.Output(output_type=np.array([3])),
                },
                edges=[("input", "a"), ("a", "b"), ("a", "c"), ("b", "output"), ("c", "output")],
            ),
            r"not one chain from a single Input to a single Output \(nodes: a \(Affine\), b \(LIF\)",
        ),
    ],
)
def test_refused_graphs_name_the_node(graph, message):
    with pytest.raises(ValueError, match=message):
        jaxiaf.from_nir(graph(), dt=1e-4)


def test_bad_input():
    with pytest.raises(TypeError, match="`graph` must be a nir.NIRGraph; got LIF"):
        jaxiaf.from_nir(_lif(), dt=1e-4)
    with pytest.raises(ValueError, match="`dt` is required: this graph has no jaxiaf metadata"):
        jaxiaf.from_nir(_graph(_lif()))
    graph = jaxiaf.to_nir(_layer())
    graph.nodes["lif"].metadata["jaxiaf"]["format_version"] = 2
    with pytest.raises(ValueError, match="metadata has format version 2; this jaxiaf reads version 1"):
        jaxiaf.from_nir(graph)
    with pytest.raises(TypeError, match="`layer` must be an FFIAF or an FFIAFBrian; got dict"):
        jaxiaf.to_nir({})
    batch = jax.vmap(lambda tau: _layer().set_attributes({"tau_mem": tau}))(np.array([0.01, 0.02]))
    with pytest.raises(ValueError, match=r"must be one layer; got a batch of modules \(weights of shape"):
        jaxiaf.to_nir(batch)
    with pytest.raises(ValueError, match="`tau_mem` must be finite and > 0"):
        jaxiaf.from_nir(_graph(_lif()), dt=1e-4, tau_mem=-1.0)


# ------------------------------------------------------------------------------------------------ Norse
@pytest.mark.parametrize(
    "integrator, fraction",
    [
        ("euler", lambda h: h),
        ("rk2", lambda h: h - h**2 / 2),
        ("rk4", lambda h: h - h**2 / 2 + h**3 / 6 - h**4 / 24),
        ("exact", lambda h: -np.expm1(-h)),
        ("exponential_euler", lambda h: -np.expm1(-h)),
    ],
)
def test_graph_for_norse_maps_tau_and_voltages(integrator, fraction):
    """Norse's Euler step covers `dt/tau` of the way to its target: `tau = dt / c(dt/tau_mem)`, with `c` the
    fraction one step of the integrator covers; voltages shifted so that `v_reset` is 0."""
    layer = _layer(integrator, refractory=1e-3)
    with pytest.warns(UserWarning, match="`refractory` is not zero"):
        graph = jaxiaf.to_nir(layer, for_norse=True)
    lif, dt, tau = graph.nodes["lif"], float(layer.dt), np.asarray(layer.tau_mem)
    np.testing.assert_allclose(lif.tau, dt / fraction(dt / tau), rtol=1e-12, atol=0)
    assert np.array_equal(lif.v_leak, np.asarray(layer.v_rest - layer.v_reset))
    assert np.array_equal(lif.v_threshold, np.asarray(layer.v_thresh - layer.v_reset))
    assert np.array_equal(lif.v_reset, np.zeros(5)) and lif.metadata == {}


def _run_norse(graph, x, dt):
    """Spikes (T, N) and `v` (T, N) of Norse's module for `graph`, one step at a time."""
    torch = require("torch")
    norse = require("norse.torch")
    net = norse.from_nir(graph, dt=dt)
    inputs = torch.from_numpy(x).float()
    state, spikes, v = None, [], []
    with torch.no_grad():
        for k in range(x.shape[0]):
            z, state = net(inputs[k : k + 1], state)
            spikes.append(z[0].numpy())
            v.append(state.state["lif"][0].v[0].numpy())
    return np.array(spikes) > 0, np.array(v, float)


NORSE_DEPRECATIONS = (  # nirtorch's loader and exporter, and torch.jit.script used by norse at import
    "ignore:nirtorch.*is being deprecated:DeprecationWarning",
    "ignore:`torch.jit.script` is deprecated:DeprecationWarning",
)


def _side_by_side(graphs):
    """One graph whose neurons are those of `graphs` (same input) side by side: one Norse run for all."""
    affine = [g.nodes["affine"] for g in graphs]
    lif = [g.nodes["lif"] for g in graphs]
    stack = lambda nodes, field: np.concatenate([getattr(node, field) for node in nodes])
    return nir.NIRGraph.from_list(
        nir.Affine(weight=stack(affine, "weight"), bias=stack(affine, "bias")),
        nir.LIF(**{f: stack(lif, f) for f in ("tau", "r", "v_leak", "v_threshold", "v_reset")}),
    )


@pytest.mark.filterwarnings(*NORSE_DEPRECATIONS)
def test_norse_reproduces_the_exported_layers(tmp_path):
    """A 100-neuron layer per integrator, 10^4 steps, exported with `for_norse=True` to a file each (the
    seeds give one neuron of the rk4 layer that differs where `v` grazes the threshold)."""
    x = np.random.default_rng(0).normal(0.0, 0.5, (10_000, 10))
    layers = [_layer(name, n_in=10, n=100, seed=17 + i, bias=0.011) for i, name in enumerate(INTEGRATORS)]
    graphs = []
    for i, layer in enumerate(layers):
        nir.write(tmp_path / f"norse{i}.nir", jaxiaf.to_nir(layer, for_norse=True))
        graphs.append(nir.read(tmp_path / f"norse{i}.nir"))
    all_spikes, all_v = _run_norse(_side_by_side(graphs), x, float(layers[0].dt))
    for i, (name, layer) in enumerate(zip(INTEGRATORS, layers, strict=True)):
        spikes, _, record = layer(x, record=True)
        spikes, v = np.asarray(spikes), np.asarray(record["v"])
        norse_spikes = all_spikes[:, 100 * i : 100 * (i + 1)]
        norse_v = all_v[:, 100 * i : 100 * (i + 1)] + np.asarray(layer.v_reset)  # back from Norse's frame
        identical = np.all(spikes == norse_spikes, axis=0)
        print(f"{name}: {identical.mean():.0%} of 100 neurons identical, 10^4 steps, {spikes.sum()} spikes")
        assert identical.mean() >= 0.99 and spikes.sum() > 1000
        assert np.abs(v - norse_v)[:, identical].max() < 1e-7
        threshold = np.asarray(layer.v_thresh)
        for j in np.flatnonzero(~identical):
            k = int(np.argmax(spikes[:, j] != norse_spikes[:, j]))
            quiet = norse_v[k, j] if spikes[k, j] else v[k, j]  # the one that did not spike (not reset)
            margin = abs(quiet - threshold[j])
            print(f"  neuron {j} first differs at step {k}: |v - v_thresh| = {margin:.1e} V")
            assert margin < 1e-7 and np.abs(v[:k, j] - norse_v[:k, j]).max() < 1e-7


@pytest.mark.filterwarnings(*NORSE_DEPRECATIONS)
def test_import_of_a_norse_graph(tmp_path):
    """Norse 1.1.0's `to_nir` writes `tau = dt / tau_mem_inv`, i.e. `dt * tau` (norse issue #411, fixed
    after 1.1.0): the imported `tau_mem` is divided by `dt` to undo it."""
    torch = require("torch")
    norse = require("norse.torch")
    rng = np.random.default_rng(4)
    n_in, n, dt = 4, 20, 1e-3
    tau = rng.uniform(0.01, 0.03, n)
    torch.manual_seed(0)
    params = norse.LIFBoxParameters(
        tau_mem_inv=torch.tensor(1 / tau, dtype=torch.float32),
        v_leak=torch.zeros(n),
        v_th=torch.full((n,), 0.1),
    )
    model = norse.SequentialState(torch.nn.Linear(n_in, n), norse.LIFBoxCell(params, dt=dt))
    nir.write(tmp_path / "from_norse.nir", norse.to_nir(model, torch.zeros(n_in), dt=dt))
    graph = nir.read(tmp_path / "from_norse.nir")
    written_tau = np.asarray(graph.nodes["1"].tau, float)
    np.testing.assert_allclose(written_tau, dt * tau, rtol=1e-6)  # the bug of norse issue #411
    layer = jaxiaf.from_nir(graph, dt=dt, integrator_name="euler", tau_mem=written_tau / dt)
    x = rng.normal(0.0, 1.0, (2000, n_in))
    spikes = np.asarray(layer(x)[0])
    state, norse_spikes = None, []
    with torch.no_grad():
        for k in range(x.shape[0]):
            z, state = model(torch.from_numpy(x[k]).float()[None], state)
            norse_spikes.append(z[0].numpy() > 0)
    identical = np.all(spikes == np.array(norse_spikes), axis=0)
    print(f"Norse-written graph: {identical.mean():.0%} of {n} neurons identical, {spikes.sum()} spikes")
    assert identical.mean() >= 0.95 and spikes.sum() > 100


def _synaptic(kind):
    from helpers import build, scenario, series

    sc = scenario(kind, 2)
    if kind == "RecIAFSpkInBrian":
        sc["params"]["tau_syn_rec"] = sc["params"]["tau_syn_inp"]
    layer = build(sc)
    layer.set_attributes(layer.evolve(series(sc, 0.0, 0.012), num_timesteps=120)[1])
    return layer, series(sc, 0.012, 0.03)


@pytest.mark.parametrize("kind", ["FFIAFSpkInBrian", "RecIAFSpkInBrian"])
def test_synaptic_layers_round_trip_through_a_nir_file(tmp_path, kind):
    """Rockpool's spiking-input layers as `Input -> Linear -> CubaLIF -> Output` (the recurrent one with
    `CubaLIF -> Linear -> CubaLIF`): `w_in = tau_syn` (a spike jumps `I` by the weight), `r = 1`,
    `v_leak = v_rest + bias`; through a NIR file and back the layer is the same and continues bit for bit."""
    layer, rest = _synaptic(kind)
    graph = jaxiaf.to_nir(layer)
    cuba = graph.nodes["cubalif"]
    p = layer.parameters()
    tau_syn = p["tau_syn"] if kind == "FFIAFSpkInBrian" else p["tau_syn_inp"]
    assert np.array_equal(cuba.w_in, tau_syn) and np.array_equal(cuba.tau_syn, tau_syn)
    assert np.array_equal(cuba.v_leak, p["v_rest"] + p["bias"]) and np.array_equal(cuba.r, np.ones(6))
    recurrent = kind == "RecIAFSpkInBrian"
    assert np.array_equal(graph.nodes["linear"].weight, p["weights_in" if recurrent else "weights"].T)
    assert {tuple(e) for e in graph.edges} >= {
        ("input", "linear"),
        ("linear", "cubalif"),
        ("cubalif", "output"),
    }
    assert (("recurrent", "cubalif") in graph.edges) == recurrent
    nir.write(tmp_path / "layer.nir", graph)
    loaded = jaxiaf.from_nir(nir.read(tmp_path / "layer.nir"))
    assert type(loaded) is type(layer) and loaded.t == layer.t and loaded.name == layer.name
    assert_same_module(layer.module, loaded.module)
    for name, value in layer.parameters().items():
        assert np.array_equal(value, loaded.parameters()[name]), name
    out, out2 = layer.evolve(rest, num_timesteps=180)[0], loaded.evolve(rest, num_timesteps=180)[0]
    assert len(out.times) > 0 and np.array_equal(out.times, out2.times)


def test_foreign_cuba_graph_and_what_nir_cannot_express():
    """A CubaLIF graph without jaxiaf metadata: weights `weight.T * w_in * r / tau_syn`, `v_rest = v_leak`,
    no bias; `RecIAFBrian` and different input and recurrent synaptic time constants are refused."""
    cuba = nir.CubaLIF(
        tau_syn=np.full(3, 5e-3), tau_mem=np.full(3, 0.02), r=np.full(3, 2.0), v_leak=np.full(3, -0.06),
        v_threshold=np.full(3, -0.05), v_reset=np.full(3, -0.07), w_in=np.full(3, 0.5),
    )  # fmt: skip
    weight = np.arange(6.0).reshape(3, 2) * 1e-3
    graph = nir.NIRGraph.from_list(nir.Linear(weight=weight), cuba)
    layer = jaxiaf.from_nir(graph, dt=1e-4)
    assert isinstance(layer, jaxiaf.FFIAFSpkInBrian) and layer.integrator_name == "linear"
    assert np.allclose(layer.weights, weight.T * 0.5 * 2.0 / 5e-3, rtol=1e-15, atol=0)
    assert layer.bias.tolist() == [0.0] * 3 and layer.v_rest.tolist() == [-0.06] * 3
    assert layer.tau_syn.tolist() == [5e-3] * 3
    with pytest.raises(ValueError, match="RecIAFBrian's input current acts on v directly"):
        jaxiaf.to_nir(jaxiaf.RecIAFBrian(np.zeros((3, 3))))
    with pytest.raises(ValueError, match="`tau_syn_inp` and `tau_syn_rec` differ"):
        jaxiaf.to_nir(jaxiaf.RecIAFSpkInBrian(np.zeros((2, 3)), np.zeros((3, 3)), tau_syn_rec=0.01))
    twice = nir.NIRGraph(
        nodes={**graph.nodes, "extra": nir.Linear(weight=np.ones((3, 3)))},
        edges=[*graph.edges, ("extra", "output")],
    )
    with pytest.raises(ValueError, match="from_nir supports Input -> Linear -> CubaLIF -> Output"):
        jaxiaf.from_nir(twice, dt=1e-4)
