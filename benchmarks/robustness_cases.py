"""The round-3 robustness report's cases (/work/shared/reports/robustness-round3.md), re-run and classified.

Every item of the report (E1-E29 and the turn-2 items still open then: S4, S11, S12, S13, S17, C5, C6, U4,
U10-U15) is one or more cases written from its reproducer: a few lines of code run with the report's shared
definitions (`LIF`, `LIFU`, `P`, `ADAPT`, `PA`, `X`) and the helpers below. A case that sets `ok` is checked
(against Brian2 (numpy target), float64, a single run or a hand computation); one that does not is a bad input
that must be refused. Each case is classified automatically:

- `CORRECT`: the right answer.
- `CLEAR-ERROR`: an error of a documented type (ValueError, TypeError, or the error JAX/equinox raise for a
  check under a transform) whose message names the offending argument (one of the case's `names`).
- `CRASH`: KeyError/NameError/AttributeError/IndexError, or a TypeError or a JAX-internal error that does not
  name the argument, or the worker process died.
- `SILENT-WRONG`: a wrong result, or a bad input accepted without a word.
- `UNCLEAR`: an error whose message does not name the argument.
- `HANG`: the case ran past `CASE_TIMEOUT`.

The float64 cases run in one worker subprocess (`JAX_ENABLE_X64=1`), the float32 ones in another, the CLI
ones in a third (each runs the demo command in its own subprocess); a worker that dies or hangs is restarted
after the case that killed it. From the repository root:

    .venv/bin/python benchmarks/robustness_cases.py [--only E1,S4] [--out results.json]

(default `--out`: benchmarks/results/robustness_round3.json).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import traceback
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CASE_TIMEOUT = 150.0
CLASSES = ("CORRECT", "CLEAR-ERROR", "CRASH", "SILENT-WRONG", "UNCLEAR", "HANG")
DEEP = (KeyError, NameError, AttributeError, IndexError, ZeroDivisionError, UnboundLocalError, AssertionError)
B, C = ("64", "32"), ("cli",)

SHARED = '''
LIF = """dv/dt = (v_rest - v + R*I_inp)/tau : volt
v_rest : volt
R : ohm
tau : second
v_thresh : volt
v_reset : volt"""
LIFU = LIF.replace(": volt\\n", ": volt (unless refractory)\\n", 1)
P = dict(v_rest=-0.065, R=1.0, tau=0.02, v_thresh=-0.05, v_reset=-0.065)
ADAPT = """dv/dt = (v_rest - v + R*I_inp - R*w)/tau_m : volt (unless refractory)
dw/dt = (a*(v - v_rest) - w)/tau_w : amp
v_rest : volt
R : ohm
tau_m : second
tau_w : second
a : siemens
b : amp
v_thresh : volt
v_reset : volt"""
PA = dict(v_rest=-0.065, R=1.0, tau_m=0.02, tau_w=0.15, b=2e-3, v_thresh=-0.05, v_reset=-0.065)
X = np.full((500, 1), 0.03)
RESET_W = "v = v_reset; w += b"
VEQ = LIF.replace("R*I_inp", "I_inp").replace("R : ohm\\n", "") + "\\nI_inp : volt"
PV = {k: v for k, v in P.items() if k != "R"}
QUIET = dict(bounds={"tau_mem": (5e-3, 5e-2)}, generations=1, population_size=4, parallel=1, progress=False)
T1 = jaxiaf.FFIAF(np.ones((1, 1)))
XK = np.full((1, 300, 1), 0.02)
TGT = np.asarray(T1(XK[0])[0])[None]
'''
"""The report's shared definitions, plus the fit problem (`T1`, `XK`, `TGT`) of its E12 reproducer."""

# (item, case, names a clear error must contain, precisions, code). Code that sets `ok` (and `detail`) is
# checked; code that does not is a bad input and must be refused.
# fmt: off
CASES = [
    # ---- equations Brian2 runs: the same spike trains (float64), counts within one spike (float32)
    ("E1", "literal quantity in a denominator, (unless refractory)", ("neuron_eq",), B,
     'ok, detail = brian_case(LIFU.replace("/tau :", "/(20*ms) :"), P, refractory=2e-3)'),
    ("E1", "brian2.Equations(..., tau=20*ms) substitution", ("neuron_eq",), B,
     'eqs = b2.Equations(LIFU.replace("\\ntau : second", ""), tau=20*b2.ms)\n'
     'lit = LIFU.replace("/tau :", "/(20*ms) :").replace("\\ntau : second", "")\n'
     'ok, detail = brian_case(eqs, {k: v for k, v in P.items() if k != "tau"}, refractory=2e-3,\n'
     '                        brian_eq=lit)'),
    ("E1", "refractory='clip(ref, 0*ms, 5*ms)'", ("neuron_eq",), B,
     'eq = LIFU + "\\nref : second"\n'
     'ok, detail = brian_case(eq, {**P, "ref": 3e-3}, refractory="clip(ref, 0*ms, 5*ms)")'),
    ("E1", "refractory expression of the state, '2*ms*(1 + w/b)'", ("refractory",), B,
     'ok, detail = brian_case(ADAPT, {**PA, "a": 0.02}, refractory="2*ms*(1 + w/b)", reset=RESET_W)'),
    ("E2", "pi and t: A*sin(2*pi*f*t) drive (euler)", ("neuron_eq",), B,
     'eq = LIF.replace("R*I_inp)", "R*I_inp + A*sin(2*pi*f*t))") + "\\nA : volt\\nf : Hz"\n'
     'ok, detail = brian_case(eq, {**P, "A": 0.01, "f": 40.0}, integrator_name="euler")'),
    ("E2", "the constant e (e*mV)", ("neuron_eq",), B,
     'ok, detail = brian_case(LIF.replace("R*I_inp)", "R*I_inp + e*mV)"), P)'),
    ("E17", "N in equations (euler, 2 neurons)", ("neuron_eq",), B,
     'eq = LIF.replace("R*I_inp)", "R*I_inp + (i*5.0/N)*mV)")\n'
     'ok, detail = brian_case(eq, P, n=2, integrator_name="euler")'),
    ("E5", "threshold reading I_inp", ("threshold",), B,
     'ok, detail = brian_case(LIF, P, threshold="v > v_thresh and I_inp > 10*mA")'),
    ("E5", "threshold reading t", ("threshold",), B,
     'ok, detail = brian_case(LIF, P, threshold="v > v_thresh and t > 5*ms")'),
    ("E5", "threshold on a subexpression", ("threshold",), B,
     'ok, detail = brian_case(LIF + "\\nveff = v + 2*mV : volt", P, threshold="veff > v_thresh")'),
    ("E5", "threshold on a (constant over dt) subexpression", ("threshold",), B,
     'eq = LIF + "\\nveff = v + 2*mV : volt (constant over dt)"\n'
     'ok, detail = brian_case(eq, P, threshold="veff > v_thresh")'),
    ("E5", "reset reading t", ("reset",), B,
     'ok, detail = brian_case(ADAPT, {**PA, "a": 0.02}, reset="v = v_reset; w += b*t/second")'),
    ("E5", "reset reading I_inp", ("reset",), B,
     'ok, detail = brian_case(LIF, P, reset="v = v_reset + I_inp*ohm*0.1")'),
    ("E5", "reset reading a subexpression", ("reset",), B,
     'ok, detail = brian_case(LIF + "\\nveff = v + 2*mV : volt", P, reset="v = veff - 20*mV")'),
    ("E5", "threshold with randn(): runs, finite, within 2 spikes of the noiseless 3", ("threshold",), B,
     'm = jaxiaf.FFIAF(np.eye(1), neuron_eq=LIF, threshold="v > v_thresh + randn()*mV", **P)\n'
     'spikes, state, _ = m(X)\n'
     'n = int(np.asarray(spikes).sum()); ok = abs(n - 3) <= 2 and finite(state.v); detail = f"{n} spikes"'),
    ("E5", "reset with randn(): runs, finite, within 2 spikes of the noiseless 3", ("reset",), B,
     'spikes, state, _ = jaxiaf.FFIAF(np.eye(1), neuron_eq=LIF, reset="v = v_reset + randn()*mV", **P)(X)\n'
     'n = int(np.asarray(spikes).sum()); ok = abs(n - 3) <= 2 and finite(state.v); detail = f"{n} spikes"'),
    ("E19", "integer parameter n = 2.5 (Brian2 stores 2)", ("`n`",), B,
     'eq = LIF.replace("R*I_inp)", "R*I_inp + n*mV)") + "\\nn : integer"\n'
     'ok, detail = brian_case(eq, {**P, "n": 2.5})'),
    ("E19", "boolean parameter flag = 0.5 (Brian2 stores True)", ("flag",), B,
     'eq = LIF.replace("R*I_inp)", "R*I_inp + int(flag)*5*mV)") + "\\nflag : boolean"\n'
     'ok, detail = brian_case(eq, {**P, "flag": 0.5})'),
    # ---- sweeps and the README's adaptive example
    ("E3", "sweep tau_w=[0.15, 0.02]: the 0/0 set marked, set 0 equal to its single run", ("tau_w",), B,
     'm = jaxiaf.FFIAF(np.eye(1), neuron_eq=ADAPT, reset=RESET_W, a=0.02, **PA)\n'
     'ok, detail, s, marked = sweep_marks(m, {"tau_w": [0.15, 0.02]}, X)\n'
     'ok = ok and int(np.asarray(s.counts)[0, 0]) == int(np.asarray(m(X)[0]).sum())'),
    ("E7", "README example a=[0, 0.02] (exact): a word about the singular closed form, or rk4's counts",
     ("a=0", "singular"), B,
     'kw = dict(reset=RESET_W, refractory=2e-3, a=[0.0, 0.02], **PA); x = np.full((5000, 2), 0.03)\n'
     'rk4 = np.asarray(jaxiaf.FFIAF(np.eye(2), neuron_eq=ADAPT, integrator_name="rk4", **kw)(x)[0]).sum(0)\n'
     'with warnings.catch_warnings(record=True) as said:\n'
     '    warnings.simplefilter("always")\n'
     '    exact = np.asarray(jaxiaf.FFIAF(np.eye(2), neuron_eq=ADAPT, **kw)(x)[0]).sum(0)\n'
     'keys = ("singular", "degenerate", "a = 0")\n'
     'said = [str(w.message)[:150] for w in said if any(k in str(w.message) for k in keys)]\n'
     'ok = bool(said) or exact.tolist() == rk4.tolist()\n'
     'detail = f"exact {exact}, rk4 {rk4}, warnings {said}"'),
    ("E7", "the adaptive LIF at a = 0 (exact, 5000 steps) equals Brian2's exact solution", ("a=0",), B,
     'ok, detail = brian_case(ADAPT, {**PA, "a": 0.0}, refractory=2e-3, reset=RESET_W, steps=5000)'),
    ("E7", "sweep a=[0, 1e-6, 0.02] (exact): set 0 marked, or equal to set 1", ("`a`",), B,
     'm = jaxiaf.FFIAF(np.eye(1), neuron_eq=ADAPT, reset=RESET_W, refractory=2e-3, a=0.02, **PA)\n'
     'ok, detail, s, marked = sweep_marks(m, {"a": [0.0, 1e-6, 0.02]}, np.full((5000, 1), 0.03))\n'
     'counts = np.asarray(s.counts).ravel(); ok = ok and (counts[0] == counts[1] or bool(marked[0]))'),
    ("E7", "vmap over a=[0, 0.02] (exact): a word about the singular closed form, or rk4's counts",
     ("a=0", "singular"), B,
     'x = np.full((5000, 1), 0.03)\n'
     'run = lambda a, meth: jaxiaf.FFIAF(np.eye(1), neuron_eq=ADAPT, reset=RESET_W, refractory=2e-3, a=a,\n'
     '                                   integrator_name=meth, **PA)(x)[0].sum()\n'
     'rk4 = np.asarray(jax.vmap(lambda a: run(a, "rk4"))(jnp.array([0.0, 0.02]))).tolist()\n'
     'with warnings.catch_warnings(record=True) as said:\n'
     '    warnings.simplefilter("always")\n'
     '    exact = np.asarray(jax.vmap(lambda a: run(a, None))(jnp.array([0.0, 0.02]))).tolist()\n'
     'keys = ("singular", "degenerate", "a = 0")\n'
     'said = [str(w.message)[:150] for w in said if any(k in str(w.message) for k in keys)]\n'
     'ok = bool(said) or exact == rk4; detail = f"exact {exact}, rk4 {rk4}, warnings {said}"'),
    ("E14", "jax.grad through a chunked sweep equals the unchunked gradient", ("chunk_size",), B,
     'm = jaxiaf.FFIAF(np.full((1, 1), 0.001))\n'
     'run = lambda b, c: jaxiaf.sweep(m, {"bias": b}, X, outputs=("v",), chunk_size=c, progress=False)\n'
     'loss = lambda b, c: jnp.sum(run(b, c).v)\n'
     'g1, g2 = (np.asarray(jax.grad(loss)(jnp.array([0.001, 0.002]), c)) for c in (1, None))\n'
     'ok = np.array_equal(g1, g2); detail = f"chunked {g1}, unchunked {g2}"'),
    ("E14", "jax.grad through a sweep with a NaN bias set", ("bias",), B,
     'm = jaxiaf.FFIAF(np.full((1, 1), 0.001))\n'
     'loss = lambda b: jnp.sum(jaxiaf.sweep(m, {"bias": b}, X, outputs=("v",)).v)\n'
     'jax.grad(loss)(jnp.array([0.001, jnp.nan]))'),
    ("E18", "grid(tau_w=[50, 100]*mV) for a parameter in seconds", ("tau_w",), B,
     'm = jaxiaf.FFIAF(np.eye(1), neuron_eq=ADAPT, reset=RESET_W, a=0.02, **PA)\n'
     'jaxiaf.sweep(m, jaxiaf.grid(tau_w=[50, 100] * b2.mV), X[:20])'),
    ("E18", "sweep of the default layer with x in volts", ("`x`",), B,
     'jaxiaf.sweep(jaxiaf.FFIAF(np.ones((1, 1))), {"bias": [0.0]}, X[:20] * b2.volt)'),
    ("E27", "sweep(chunk_size=2.5)", ("chunk_size",), B, 'sweep1(chunk_size=2.5)'),
    ("E27", 'sweep(chunk_size="2")', ("chunk_size",), B, 'sweep1(chunk_size="2")'),
    ("E27", "sweep(chunk_size=[2])", ("chunk_size",), B, 'sweep1(chunk_size=[2])'),
    ("E27", "sweep(params=[0.01, 0.02]) (a list)", ("params",), B, 'sweep1(params=[0.01, 0.02])'),
    ("E27", "sweep of seeds with common_noise=True", ("common_noise",), B,
     'sweep1(params={"seed": [1, 2]}, common_noise=True)'),
    ("E27", "sweep with a bad set: the set is named", ("set(s) [1]", "sets 1", "set 1"), B,
     'sweep1(params={"tau_mem": [0.02, -1.0, 0.03]})'),
    ("E27", "sweep of a batched (vmapped) module", ("module",), B,
     'mods = jax.vmap(lambda b: jaxiaf.FFIAF(np.ones((1, 1)), bias=b))(jnp.array([0.01, 0.02]))\n'
     'jaxiaf.sweep(mods, {"bias": [0.01]}, np.ones((5, 1)))'),
    ("E27", "sweep with a Reducer of wrong signatures", ("reducer",), B,
     'sweep1(reducer=jaxiaf.Reducer(init=lambda: 0, update=lambda: 0))'),
    ("U12", 'sweep(chunk_size="a")', ("chunk_size",), B, 'sweep1(chunk_size="a")'),
    ("U12", "sweep(outputs=None)", ("outputs",), B, 'sweep1(outputs=None)'),
    ("C6", "sweep(reducer=lambda a: a)", ("reducer",), B, 'sweep1(reducer=lambda a: a)'),
    ("S12", "sweep with complex x", ("`x`",), B, 'sweep1(x=np.ones((5, 1)) + 1j)'),
    ("S13", "sweep of an empty x with outputs=('rates',)", ("`x`",), B,
     'sweep1(x=np.ones((0, 1)), outputs=("rates",))'),
    # ---- fit
    ("E4", "fit with Neo spike trains at dt = 0.1 ms equals the fit with the raster", ("spiketrains",), B,
     'train = neo.SpikeTrain([0.01, 0.02] * pq.s, t_stop=0.05 * pq.s); x = np.full((500, 1), 0.02)\n'
     'a = jaxiaf.fit(T1, x, spikes=[train], **QUIET)\n'
     'b = jaxiaf.fit(T1, x, spikes=jaxiaf.spikes_to_raster([[0.01, 0.02]], 500, 1e-4), **QUIET)\n'
     'ok = a.best_params == b.best_params; detail = f"{a.best_params} vs {b.best_params}"'),
    ("E4", "fit with a Neo AnalogSignal v at dt = 0.1 ms", ("signals", "`v`"), B,
     'sig = neo.AnalogSignal(np.full((500, 1), -60.0) * pq.mV, sampling_period=0.1 * pq.ms)\n'
     'loss = jaxiaf.fit(T1, np.full((500, 1), 0.02), v=[sig], **QUIET).best_loss\n'
     'ok = bool(np.isfinite(loss)); detail = f"best_loss {loss}"'),
    ("E12", "metric weight nan", ("weight",), B,
     'jaxiaf.fit(T1, XK, spikes=TGT, metric=[(np.nan, jaxiaf.metrics.VanRossum(0.01))], **QUIET)'),
    ("E12", "metric weight inf", ("weight",), B,
     'jaxiaf.fit(T1, XK, spikes=TGT, metric=[(np.inf, jaxiaf.metrics.VanRossum(0.01))], **QUIET)'),
    ("E12", "metric weight -1", ("weight",), B,
     'jaxiaf.fit(T1, XK, spikes=TGT, metric=[(-1.0, jaxiaf.metrics.VanRossum(0.01))], **QUIET)'),
    ("E12", "metric weight 0", ("weight",), B,
     'jaxiaf.fit(T1, XK, spikes=TGT, metric=[(0.0, jaxiaf.metrics.VanRossum(0.01))], **QUIET)'),
    ("E16", 'fit(optimizer="lbfgs"): runs, or refused by name', ("optimizer",), B,
     'r = jaxiaf.fit(T1, XK, spikes=TGT, optimizer="lbfgs", **QUIET)\n'
     'ok = bool(np.isfinite(r.best_loss)); detail = f"best_loss {r.best_loss}"'),
    ("E26", 'fit(max_time="1")', ("max_time",), B,
     'jaxiaf.fit(T1, XK, spikes=TGT, **{**QUIET, "max_time": "1"})'),
    ("E26", "fit(max_time=None)", ("max_time",), B,
     'jaxiaf.fit(T1, XK, spikes=TGT, **{**QUIET, "max_time": None})'),
    ("E26", 'fit(tol="0")', ("tol",), B, 'jaxiaf.fit(T1, XK, spikes=TGT, tol="0", **QUIET)'),
    ("E26", "fit(metric=VanRossum), the class", ("metric",), B,
     'jaxiaf.fit(T1, XK, spikes=TGT, metric=jaxiaf.metrics.VanRossum, **QUIET)'),
    ("E26", "fit with x a list of trials of different lengths", ("`x`",), B,
     'jaxiaf.fit(T1, [np.zeros((100, 1)), np.zeros((50, 1))], spikes=np.zeros((2, 100, 1), bool), **QUIET)'),
    ("U4", "fit(key=0)", ("key",), B, 'jaxiaf.fit(T1, XK, spikes=TGT, key=0, **QUIET)'),
    ("U4", "fit(key=jax.random.split(k))", ("key",), B,
     'jaxiaf.fit(T1, XK, spikes=TGT, key=jax.random.split(jax.random.key(0)), **QUIET)'),
    # ---- gradients, surrogates
    ("E8", "d loss/d tau_w through exact and rk4 equal float64's -4.1058e-8 (1e-3 relative)", ("tau_w",), B,
     'x = jnp.asarray(np.random.default_rng(0).uniform(0, 0.01, (300, 1))); g = {}\n'
     'for meth in ("exact", "rk4"):\n'
     '    m = jaxiaf.FFIAF(np.eye(1), neuron_eq=ADAPT, integrator_name=meth, reset=RESET_W, a=0.02, **PA)\n'
     '    f = lambda tw: jnp.mean((m.set_attributes({"tau_w": tw})(x, record=True)[2]["v"] + 0.06) ** 2)\n'
     '    g[meth] = float(jax.grad(f)(0.1))\n'
     'ok = all(abs(v / -4.1058e-8 - 1) < 1e-3 for v in g.values()); detail = str(g)'),
    ("E28", "SuperSpike(beta=-1.0)", ("beta",), B, 'jaxiaf.surrogate.SuperSpike(beta=-1.0)'),
    ("E28", "SuperSpike(beta=nan)", ("beta",), B, 'jaxiaf.surrogate.SuperSpike(beta=float("nan"))'),
    # ---- layers: the timed surface, set_attributes, page arguments, names, units, transforms
    ("E6", "FFIAFBrian(neuron_eq=ADAPT): hasattr, assignment, reset_parameters, registry, as_graph",
     ("bias",), B,
     'l = jaxiaf.FFIAFBrian(np.eye(1), neuron_eq=ADAPT, reset=RESET_W, a=0.02, **PA)\n'
     'c = {"no bias": not hasattr(l, "bias")}; l.a = 0.3\n'
     'c["a assigned"] = np.isclose(float(l.module.parameters()["a"][0]), 0.3, rtol=1e-6)\n'
     'c["reset"] = np.isclose(float(np.asarray(l.reset_parameters().a)[0]), 0.02, rtol=1e-6)\n'
     'c["registry"] = "tau_w" in l._get_attribute_registry()[0]; l._reset_attribute("a")\n'
     'c["as_graph"] = len(l.as_graph().modules) >= 2; ok = all(c.values()); detail = str(c)'),
    ("E9", 'set_attributes({"integrator_name": "euler"}) on a neuron_eq layer', ("integrator_name",), B,
     'm = jaxiaf.FFIAF(np.eye(1), neuron_eq=LIF, **P).set_attributes({"integrator_name": "euler"})\n'
     'e = jaxiaf.FFIAF(np.eye(1), neuron_eq=LIF, integrator_name="euler", **P)\n'
     'ok = np.array_equal(m(X, record=True)[2]["v"], e(X, record=True)[2]["v"])\n'
     'detail = m.sim.model.method'),
    ("E13", 'set_attributes({"noise_std": 5e-3}) on a neuron_eq layer', ("noise_std",), B,
     'jaxiaf.FFIAF(np.eye(1), neuron_eq=LIF, **P).set_attributes({"noise_std": 5e-3})'),
    ("S11", 'set_attributes({"noisy": True})', ("noisy",), B,
     'jaxiaf.FFIAF(np.eye(1)).set_attributes({"noisy": True})'),
    ("E10", "save/load of an FFIAFBrian keeps dt, t and the spike times", ("dt",), B,
     'l = jaxiaf.FFIAFBrian(np.full((2, 3), 0.02))\n'
     'u = np.random.default_rng(0).uniform(0, 1.5, (3000, 2))\n'
     'ts = jaxiaf.TSContinuous.from_clocked(u, dt=1e-4, periodic=True)\n'
     'l._evolve_wrapper(ts, duration=0.1); jaxiaf.save(l, TMP / "l.jaxiaf")\n'
     'l2 = jaxiaf.load(TMP / "l.jaxiaf")\n'
     'a, b = l(ts, duration=0.2)[0].times, l2(ts, duration=0.2)[0].times\n'
     'ok = l.dt == l2.dt and l.t == l2.t and a.size > 0 and np.array_equal(a, b)\n'
     'detail = f"dt {l.dt} -> {l2.dt}, t {l.t} -> {l2.t}, {a.size} spikes"'),
    ("E11", "page arguments tau_mem=, bias= given to a neuron_eq layer", ("tau_mem", "bias"), B,
     'jaxiaf.FFIAF(np.eye(1), neuron_eq=LIF, tau_mem=1e-3, bias=0.5, **P)'),
    ("E15", "a neuron_eq layer built inside jax.jit equals the eager one", ("noise_std",), B,
     'j = int(jax.jit(lambda: jaxiaf.FFIAF(np.eye(1), neuron_eq=LIF, **P)(X)[0].sum())())\n'
     'e = int(jaxiaf.FFIAF(np.eye(1), neuron_eq=LIF, **P)(X)[0].sum())\n'
     'ok = j == e > 0; detail = f"{j} vs {e}"'),
    ("E15", "neuron_eq layers built inside jax.vmap over a equal the eager ones", ("noise_std",), B,
     'run = lambda a: jaxiaf.FFIAF(np.eye(1), neuron_eq=ADAPT, reset=RESET_W, a=a, **PA)(X)[0].sum()\n'
     'v = np.asarray(jax.vmap(run)(jnp.array([0.01, 0.02]))).tolist()\n'
     'e = [int(run(a)) for a in (0.01, 0.02)]\n'
     'ok = v == e; detail = f"vmap {v}, eager {e}"'),
    ("E20", "a parameter named noise_std", ("noise_std",), B,
     'jaxiaf.FFIAF(np.eye(1), neuron_eq=LIF + "\\nnoise_std : volt", noise_std=1e-3, **P)(X)'),
    ("E20", "a parameter named weights", ("weights",), B,
     'jaxiaf.FFIAF(np.eye(1), neuron_eq=LIF + "\\nweights : 1", **P)(X)'),
    ("E20", "a state variable named step", ("step",), B,
     'm = jaxiaf.FFIAF(np.eye(1), neuron_eq=LIF + "\\ndstep/dt = -step/tau : 1", **P)\n'
     'm.set_attributes(m(X)[1])(X)'),
    ("E20", "a state variable named key", ("key",), B,
     'm = jaxiaf.FFIAF(np.eye(1), neuron_eq=LIF + "\\ndkey/dt = -key/tau : 1", **P)\n'
     'm.set_attributes(m(X)[1])(X)'),
    ("E20", "a parameter named name", ("name",), B,
     'jaxiaf.FFIAF(np.eye(1), neuron_eq=LIF + "\\nname : 1", name=1.0, **P)(X)'),
    ("E20", "a state variable named since_spike", ("since_spike",), B,
     'm = jaxiaf.FFIAF(np.eye(1), neuron_eq=LIF + "\\ndsince_spike/dt = -since_spike/tau : 1", **P)\n'
     'm.set_attributes(m(X)[1])(X)'),
    ("E21", "x as a Brian2 volt quantity for a volt-input model equals plain x", ("`x`",), B,
     'm = jaxiaf.FFIAF(np.eye(1), neuron_eq=VEQ, **PV)\n'
     'a, b = np.asarray(m(X * b2.volt)[0]), np.asarray(m(X)[0])\n'
     'ok = np.array_equal(a, b) and a.sum() > 0; detail = f"{a.sum()} vs {b.sum()} spikes"'),
    ("E21", "x as a Brian2 amp quantity for a volt-input model", ("`x`",), B,
     'jaxiaf.FFIAF(np.eye(1), neuron_eq=VEQ, **PV)(X * b2.amp)'),
    ("E29", "a layer built under vmap with NaN weights", ("weights",), B,
     'w = np.stack([np.ones((1, 2)), np.full((1, 2), np.nan)])\n'
     'jax.block_until_ready(jax.vmap(lambda w: jaxiaf.FFIAF(w)(np.ones((5, 1)))[0])(w))'),
    ("E29", "a traced unroll", ("unroll",), B, 'jax.jit(lambda u: T1(np.ones((5, 1)), unroll=u)[0])(2)'),
    ("C5", "evolve of a noisy (B, N) state with one key", ("key", "state"), B,
     'm = jaxiaf.FFIAF(np.eye(2), noise_std=1e-3)\n'
     'st = eqx.tree_at(lambda s: s.v, m.neuron_state, jnp.zeros((3, 2)))\n'
     'sp, new, _ = jaxiaf.evolve(m.params, m.sim, st, np.full((50, 3, 2), 0.02))\n'
     'ok = np.asarray(new.v).shape == (3, 2) and finite(new.v)\n'
     'detail = f"ran: v {np.asarray(new.v).shape}"'),
    ("C6", 'evolve(..., reducer="counts")', ("reducer",), B,
     'm = jaxiaf.FFIAF(np.ones((1, 2)))\n'
     'jaxiaf.evolve(m.params, m.sim, m.neuron_state, np.ones((10, 2)), reducer="counts")'),
    ("U14", "evolve with tau_mem (4,) and a (3,) state", ("tau_mem", "state"), B,
     'a, b = jaxiaf.FFIAF(np.ones((1, 4))), jaxiaf.FFIAF(np.ones((1, 3)))\n'
     'jaxiaf.evolve(a.params, a.sim, b.neuron_state, np.ones((10, 3)))'),
    ("U14", "state(family=123)", ("family",), B, 'T1.state(family=123)'),
    ("S4", "float32 FFIAF(W, noise_std=1e-3, tau_mem=1e10): the noise gain overflows", ("noise_std",),
     ("32",),
     'sp, st, _ = jaxiaf.FFIAF(np.ones((1, 1)), noise_std=1e-3, tau_mem=1e10)(np.full((100, 1), 0.02))\n'
     'ok = finite(st.v); detail = f"ran: v {np.asarray(st.v)}"'),
    ("U11", 'float32 set_attributes({"step": 2**40})', ("step",), ("32",),
     'T1.set_attributes({"step": 2**40})'),
    ("U13", "ragged weights", ("weights",), B, 'jaxiaf.FFIAF([[1.0, 2.0], [3.0]])'),
    ("U13", "TSContinuous with string samples", ("samples",), B,
     'jaxiaf.TSContinuous([0.0, 1.0], ["a", "b"])'),
    ("S12", "a complex TSContinuous into FFIAFBrian", ("ts_input",), B,
     'jaxiaf.FFIAFBrian(np.ones((1, 1)))(jaxiaf.TSContinuous([0.0, 1.0], [1j, 2.0]), duration=1e-3)'),
    ("U15", "float32 FFIAFBrian input of 1e300", ("ts_input",), ("32",),
     'jaxiaf.FFIAFBrian(np.ones((1, 1)))(jaxiaf.TSContinuous([0.0, 1.0], [1e300, 1.0]), duration=1e-3)'),
    # ---- files, NIR, Neo
    ("E22", "load of a file missing its state_w entry", ("['w']", "state_w"), B,
     'm = jaxiaf.FFIAF(np.eye(1), neuron_eq=ADAPT, reset=RESET_W, a=0.02, **PA)\n'
     'm = m.set_attributes(m(X)[1])\n'
     'jaxiaf.save(m, TMP / "full")\n'
     'with np.load(TMP / "full") as z: entries = {k: z[k] for k in z.files if k != "state_w"}\n'
     'with open(TMP / "cut", "wb") as f: np.savez(f, **entries)\n'
     'jaxiaf.load(TMP / "cut")'),
    ("E22", "save/load keeps the surrogate", ("surrogate",), B,
     'l = jaxiaf.FFIAF(np.full((1, 2), 0.02), surrogate=jaxiaf.surrogate.SuperSpike())\n'
     'jaxiaf.save(l, TMP / "s")\n'
     'ok = jaxiaf.load(TMP / "s").surrogate == l.surrogate; detail = repr(jaxiaf.load(TMP / "s").surrogate)'),
    ("E23", "from_nir of metadata missing dt", ("'dt'",), B,
     'g = jaxiaf.to_nir(nir_layer()); del g.nodes["lif"].metadata["jaxiaf"]["dt"]; jaxiaf.from_nir(g)'),
    ("E23", "from_nir of metadata missing key_impl", ("'key_impl'",), B,
     'g = jaxiaf.to_nir(nir_layer()); del g.nodes["lif"].metadata["jaxiaf"]["key_impl"]; jaxiaf.from_nir(g)'),
    ("E23", "from_nir of metadata missing v", ("'v'",), B,
     'g = jaxiaf.to_nir(nir_layer()); del g.nodes["lif"].metadata["jaxiaf"]["v"]; jaxiaf.from_nir(g)'),
    ("E23", "from_nir of an Affine bias of the wrong length", ("bias",), B,
     'g = jaxiaf.to_nir(nir_layer()); g.nodes["affine"].bias = np.zeros(2); jaxiaf.from_nir(g)'),
    ("E23", "from_nir(graph, dt=2e-4) of a state advanced 100 steps", ("`dt`",), B,
     'jaxiaf.from_nir(jaxiaf.to_nir(nir_layer()), dt=2e-4)'),
    ("E24", "a Norse-written graph (tau = dt*tau = 2e-5 s, below dt) warns", ("tau",), B,
     'lif = jaxiaf.to_nir(nir_layer()).nodes["lif"]\n'
     'g = nir.NIRGraph(nodes={"input": nir.Input(input_type=np.array([2])),\n'
     '    "affine": nir.Affine(weight=np.ones((3, 2)), bias=np.zeros(3)),\n'
     '    "lif": nir.LIF(tau=np.full(3, 2e-5), r=np.ones(3), v_leak=lif.v_leak,\n'
     '                   v_threshold=lif.v_threshold, v_reset=lif.v_reset),\n'
     '    "output": nir.Output(output_type=np.array([3]))},\n'
     '    edges=[("input", "affine"), ("affine", "lif"), ("lif", "output")])\n'
     'with warnings.catch_warnings(record=True) as said:\n'
     '    warnings.simplefilter("always"); jaxiaf.from_nir(g, dt=1e-3)\n'
     'said = [str(w.message)[:100] for w in said if "tau" in str(w.message)]\n'
     'ok = bool(said); detail = str(said)'),
    ("E25", "spikes_from_neo of a spike exactly at t_stop", ("spiketrains",), B,
     'jaxiaf.spikes_from_neo([neo.SpikeTrain([0.001, 0.01] * pq.s, t_stop=0.01 * pq.s)], 1e-4)'),
    ("E25", "spikes_from_neo of a spike 1e-11 s before t_stop: in the last step", ("spiketrains",), B,
     'r = jaxiaf.spikes_from_neo([neo.SpikeTrain([0.001, 0.01 - 1e-11] * pq.s, t_stop=0.01 * pq.s)], 1e-4)\n'
     'ok = bool(r[0, 99, 0]) and int(r.sum()) == 2; detail = f"raster {r.shape}, {int(r.sum())} spikes"'),
    ("E25", "spikes_from_neo(dt=0)", ("`dt`",), B,
     'jaxiaf.spikes_from_neo([neo.SpikeTrain([0.001] * pq.s, t_stop=0.01 * pq.s)], 0.0)'),
    ("E25", "spikes_from_neo(dt=nan)", ("`dt`",), B,
     'jaxiaf.spikes_from_neo([neo.SpikeTrain([0.001] * pq.s, t_stop=0.01 * pq.s)], float("nan"))'),
    ("E25", "TSContinuous.to_neo keeps t_stop", ("t_stop",), B,
     's = jaxiaf.TSContinuous([0.0, 1e-4, 2e-4], [1.0, 1.0, 1.0], t_stop=0.01)\n'
     'back = jaxiaf.TSContinuous.from_neo(s.to_neo())\n'
     'ok = back.t_stop == 0.01; detail = f"t_stop {back.t_stop}"'),
    ("U10", "spikes_to_raster([[0.001]], 100, 0.0)", ("`dt`",), B,
     'jaxiaf.spikes_to_raster([[0.001]], 100, 0.0)'),
    # ---- the demo command
    ("S17", "demo --out noext: the path printed is the file written", ("--out",), C,
     'run = demo(str(TMP / "noext")); refused(run)  # a refusal naming --out is a clear error\n'
     'printed = [l.split("wrote", 1)[1].strip() for l in run.stdout.splitlines() if "wrote" in l]\n'
     'ok = run.returncode == 0 and len(printed) == 1 and Path(printed[0]).is_file()\n'
     'detail = f"rc {run.returncode}, printed {printed}, written {sorted(p.name for p in TMP.iterdir())}"'),
    ("S17", "demo --out <an existing directory>", ("--out",), C,
     '(TMP / "dir").mkdir(); refused(demo(str(TMP / "dir")))'),
    ("CLI", "demo --out in a directory that does not exist", ("--out",), C,
     'refused(demo(str(TMP / "no" / "x.png")))'),
]
# fmt: on


# ------------------------------------------------------------------------------------------------ helpers
def _namespace(tmp: Path) -> dict:
    """The names a case's code sees: modules, the report's shared definitions and the helpers below."""
    ns = dict(Path=Path, TMP=tmp, warnings=warnings, subprocess=subprocess, sys=sys)
    if os.environ.get("ROBUSTNESS_PRECISION") == "cli":
        return {**ns, "demo": _demo, "refused": _refused}
    import brian2 as b2
    import equinox as eqx
    import jax
    import jax.numpy as jnp
    import neo
    import nir
    import numpy as np
    import quantities as pq

    import jaxiaf

    ns.update(np=np, jax=jax, jnp=jnp, jaxiaf=jaxiaf, b2=b2, eqx=eqx, neo=neo, pq=pq, nir=nir)
    ns.update(finite=lambda a: bool(np.isfinite(np.asarray(a)).all()), brian_case=_brian_case)
    ns.update(sweep_marks=_sweep_marks, sweep1=_sweep1, nir_layer=_nir_layer)
    exec(SHARED, ns)
    return ns


def _brian_case(eqs, params, n=1, refractory=0.0, brian_eq=None, steps=500, **rules) -> tuple:
    """(ok, detail): the layer of `eqs` against Brian2 (numpy target, float64) on the report's input:
    identical spike rasters in float64, counts within one spike per neuron in float32."""
    import jax
    import numpy as np

    import jaxiaf
    from brian_ref import EquationLayer

    x = np.full((steps, n), 0.03)
    mod = jaxiaf.FFIAF(np.eye(n), neuron_eq=eqs, refractory=refractory, **rules, **params)
    ours = np.asarray(mod(x)[0])
    model, state = mod.sim.model, mod.neuron_state
    init = {model.state_names[0]: np.asarray(state.v), **{k: np.asarray(v) for k, v in state.extra.items()}}
    rules = dict(threshold=model.threshold or None, reset=model.reset or None, method=model.method)
    ref = EquationLayer(str(brian_eq or eqs), refractory=refractory, parameters=params, **rules)
    ref = ref.evolve(x, init=init).raster()
    if jax.config.jax_enable_x64:
        ok = np.array_equal(ours, ref)
    else:
        ok = bool(np.all(np.abs(ours.sum(0).astype(int) - ref.sum(0).astype(int)) <= 1))
    return ok, f"jaxiaf counts {ours.sum(0).tolist()}, Brian2 {ref.sum(0).tolist()}"


def _sweep_marks(mod, params, x) -> tuple:
    """(ok, detail, result, marked (B,)): ok when every non-finite set is marked in `diverged` and a
    SweepWarning was given for any marked set."""
    import numpy as np

    import jaxiaf

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        s = jaxiaf.sweep(mod, params, x, outputs=("counts", "v"))
    warned = any(issubclass(w.category, jaxiaf.SweepWarning) for w in caught)
    finite = np.isfinite(np.asarray(s.v)).all(axis=(1, 2))
    marked = np.asarray(s.diverged).reshape(len(finite), -1).any(axis=1)
    ok = not np.any(~finite & ~marked) and (warned or not marked.any())
    counts = np.asarray(s.counts).ravel().tolist()
    return (
        ok,
        f"counts {counts}, finite {finite.tolist()}, marked {marked.tolist()}, warned {warned}",
        s,
        marked,
    )


def _sweep1(params=None, x=None, **kwargs):
    """The report's small sweep of the default layer: `{"bias": [0.01, 0.02]}` over 5 steps of ones."""
    import numpy as np

    import jaxiaf

    params = {"bias": [0.01, 0.02]} if params is None else params
    return jaxiaf.sweep(jaxiaf.FFIAF(np.ones((1, 1))), params, np.ones((5, 1)) if x is None else x, **kwargs)


def _nir_layer():
    import numpy as np

    import jaxiaf

    layer = jaxiaf.FFIAF(np.full((2, 3), 0.01), noise_std=0.0)
    return layer.set_attributes(layer(np.ones((100, 2)))[1])


def _demo(out: str) -> subprocess.CompletedProcess:
    code = "import sys; from jaxiaf_cli import main; sys.exit(main(sys.argv[1:]))"
    args = ["demo", "--neurons", "1", "--duration", "0.002", "--integrator", "euler", "--out", out]
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=CASE_TIMEOUT
    )


class _Refused(Exception):
    """A CLI run that ended in an error: its class decided from the output."""

    def __init__(self, klass: str, text: str):
        super().__init__(text)
        self.klass = klass


def _refused(run: subprocess.CompletedProcess) -> None:
    text = (run.stdout + run.stderr).strip()
    if run.returncode != 0:
        klass = "CRASH" if "Traceback" in text else ("CLEAR-ERROR" if "--out" in text else "UNCLEAR")
        raise _Refused(klass, f"rc {run.returncode}: {text[-400:]}")


def classify_error(exc: BaseException, names) -> str:
    if isinstance(exc, _Refused):
        return exc.klass
    named = any(n in str(exc) for n in names)
    internal = type(exc).__module__.split(".")[0] in ("jax", "jaxlib", "optax", "numpy", "brian2")
    if isinstance(exc, DEEP) or (not named and (internal or isinstance(exc, TypeError))):
        return "CRASH"
    return "CLEAR-ERROR" if named else "UNCLEAR"


# ------------------------------------------------------------------------------------------------ runner
def run_case(code: str, names) -> dict:
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        ns = _namespace(Path(tmp))
        try:
            exec(code, ns)
            if "ok" in ns:
                klass, detail = ("CORRECT" if ns["ok"] else "SILENT-WRONG"), str(ns.get("detail", ""))
            else:
                klass, detail = "SILENT-WRONG", "accepted without an error"
        except Exception as exc:  # noqa: BLE001 - every failure is classified; none ends the run
            klass = classify_error(exc, names)
            frames = traceback.extract_tb(exc.__traceback__)
            frames = [f for f in frames if f.filename not in ("<string>", __file__)]
            where = (
                f" [raised at {frames[-1].filename.split('/work/main/')[-1]}:{frames[-1].lineno}]"
                if frames
                else ""
            )
            text = str(exc).split("EquinoxRuntimeError: ")[-1].split("\n\n----")[0]  # the check's own message
            detail = f"{type(exc).__module__}.{type(exc).__name__}: {text[:700]}{where}"
    return dict(klass=klass, detail=detail, seconds=round(time.perf_counter() - start, 2))


def _mine(precision: str, wanted: set) -> list:
    return [c for c in CASES if precision in c[3] and (not wanted or c[0] in wanted)]


def worker(precision: str, first: int, log: Path, wanted: set) -> None:
    warnings.simplefilter("ignore")
    cases = _mine(precision, wanted)
    with open(log, "a") as f:
        for i in range(first, len(cases)):
            f.write(json.dumps({"start": i}) + "\n")
            f.flush()
            f.write(json.dumps({"index": i, **run_case(cases[i][4], cases[i][2])}) + "\n")
            f.flush()


def supervise(precision: str, wanted: set) -> list:
    """Runs the precision's cases in worker subprocesses; a case that kills or hangs its worker is
    classified CRASH or HANG and a new worker goes on after it."""
    cases, results, first = _mine(precision, wanted), {}, 0
    env = {**os.environ, "JAX_ENABLE_X64": str(int(precision == "64")), "ROBUSTNESS_PRECISION": precision}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    while first < len(cases):
        with tempfile.NamedTemporaryFile("r", suffix=".jsonl") as log, tempfile.TemporaryFile() as stderr:
            cmd = [sys.executable, __file__, "--worker", precision, "--first", str(first), "--log", log.name]
            proc = subprocess.Popen(cmd + ["--only", ",".join(wanted)], env=env, cwd=ROOT, stderr=stderr)
            started, since = None, time.monotonic()
            while True:
                running = proc.poll() is None
                for rec in map(json.loads, log.readlines()):
                    if "start" in rec:
                        started, since = rec["start"], time.monotonic()
                    else:
                        results[rec["index"]], started = rec, None
                if not running:
                    break
                if started is not None and time.monotonic() - since > CASE_TIMEOUT:
                    proc.kill()
                    results[started] = dict(
                        index=started, klass="HANG", detail=f"over {CASE_TIMEOUT} s", seconds=0
                    )
                time.sleep(0.5)
            stderr.seek(0)
            err = stderr.read().decode(errors="replace")[-600:]
        if started is not None and started not in results:
            results[started] = dict(index=started, klass="CRASH", detail=f"worker died: {err}", seconds=0)
        if not any(i >= first for i in results):
            raise RuntimeError(f"the {precision} worker failed before its first case: {err}")
        first = max(results) + 1
    keys = ("item", "case", "names", "precisions", "code")
    return [
        {**dict(zip(keys, cases[i], strict=True)), "precision": precision, **results[i]}
        for i in sorted(results)
    ]


def report(rows: list) -> str:
    lines = ["| class | cases |", "|---|---|"] + [
        f"| {k} | {sum(r['klass'] == k for r in rows)} |" for k in CLASSES
    ]
    lines += ["", "| item | cases | classes |", "|---|---|---|"]
    for item in dict.fromkeys(r["item"] for r in rows):
        mine = [r["klass"] for r in rows if r["item"] == item]
        lines += [
            f"| {item} | {len(mine)} | {', '.join(f'{k} {mine.count(k)}' for k in CLASSES if k in mine)} |"
        ]
    lines += ["", "| item | precision | case | class | s |", "|---|---|---|---|---|"]
    lines += [
        f"| {r['item']} | {r['precision']} | {r['case']} | {r['klass']} | {r['seconds']} |" for r in rows
    ]
    lines += [
        "",
        "Cases that are neither CORRECT nor CLEAR-ERROR (reproducer: the report's shared definitions, then):",
    ]
    for r in rows:
        if r["klass"] not in ("CORRECT", "CLEAR-ERROR"):
            lines += [
                f"\n### {r['item']} ({r['precision']}) {r['case']}: {r['klass']}",
                "```python",
                r["code"],
                "```",
            ]
            lines += [f"-> {r['detail']}"]
    return "\n".join(lines)


def _head() -> str:
    return subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="comma-separated items, e.g. E1,S4")
    parser.add_argument("--out", default=str(HERE / "results" / "robustness_round3.json"))
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--first", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--log", help=argparse.SUPPRESS)
    args = parser.parse_args()
    wanted = {w.strip() for w in args.only.split(",") if w.strip()}
    if args.worker:
        return worker(args.worker, args.first, Path(args.log), wanted)
    start, sha = time.perf_counter(), _head()
    rows = [r for p in ("64", "32", "cli") for r in supervise(p, wanted)]
    print(report(rows))
    totals = {k: sum(r["klass"] == k for r in rows) for k in CLASSES}
    per_item = {
        i: sorted({r["klass"] for r in rows if r["item"] == i})
        for i in dict.fromkeys(r["item"] for r in rows)
    }
    date = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    seconds = round(time.perf_counter() - start, 1)
    out = dict(sha=sha, sha_at_end=_head(), date=date, seconds=seconds, cases=len(rows), totals=totals)
    out.update(per_item=per_item, rows=rows)  # sha_at_end differs when commits landed during the run
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=1) + "\n")
    print(f"\n{len(rows)} cases in {out['seconds']} s at {sha}: {totals}")


if __name__ == "__main__":
    main()
