"""Peak memory and time of one gradient through `jaxiaf.evolve`, with and without checkpointing.

Each configuration runs in a fresh subprocess (float32, x64 off) that takes the gradient of a loss folded
inside the scan by a reducer (a float sum of the surrogate spikes and of `(v - v_rest)^2`) with respect to
the weights, `tau_mem` and `bias`, and reports its peak resident memory (`VmHWM` of /proc/self/status),
the compile and run times.

Then the choice of the surrogate's width: for 200 neurons (per-neuron `bias` and `tau_mem` 15 % off the
target's, 0.2 s, 3 seeds), the fraction of neurons whose van Rossum distance drops after a 1 % step (log
space) along the surrogate gradient, per `SuperSpike(beta)`, and for a step of 1 % straight towards the
truth (the oracle). Usage: `python benchmarks/bench_grad.py [--quick]`.
"""

import json
import subprocess
import sys

CHILD = r"""
import json, sys, time
import jax, jax.numpy as jnp, numpy as np
import jaxiaf
from jaxiaf.surrogate import SuperSpike

num_steps, num = int(sys.argv[1]), int(sys.argv[2])
every = None if sys.argv[3] == "none" else int(sys.argv[3])
rng = np.random.default_rng(0)
mod = jaxiaf.FFIAF(rng.normal(0.004, 0.002, (10, num)).astype(np.float32))
x = jnp.asarray(rng.uniform(0.0, 1.5, (num_steps, 10)), jnp.float32)
reducer = jaxiaf.Reducer(
    init=lambda shape, dtype: jnp.zeros(shape, dtype),
    update=lambda acc, k, spike, v: (acc + spike + 1e3 * (v + 0.065) ** 2, None),
)

def loss(weights, tau_mem, bias):
    p = mod.params
    params = jaxiaf.Parameters(weights, bias, tau_mem, p.v_thresh, p.v_reset, p.v_rest)
    (acc, _), _, _ = jaxiaf.evolve(
        params, mod.sim, mod.neuron_state, x @ weights, reducer=reducer, check=False,
        surrogate=SuperSpike(), checkpoint_every=every,
    )
    return jnp.sum(acc)

grad = jax.jit(jax.grad(loss, argnums=(0, 1, 2)))
args = (mod.params.weights, mod.params.tau_mem, mod.params.bias)
t0 = time.perf_counter()
compiled = grad.lower(*args).compile()
t1 = time.perf_counter()
out = jax.block_until_ready(compiled(*args))
t2 = time.perf_counter()
assert all(bool(jnp.all(jnp.isfinite(g))) for g in out)
peak = [line for line in open("/proc/self/status") if line.startswith("VmHWM")][0].split()[1]
print(json.dumps({"compile_s": t1 - t0, "run_s": t2 - t1, "peak_mb": int(peak) / 1024}))
"""


def measure(num_steps: int, num: int, every) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(num_steps), str(num), str(every).lower()],
        capture_output=True,
        text=True,
        env={"JAX_PLATFORMS": "cpu", "PATH": "/usr/bin:/bin"},
    )
    if out.returncode:
        return {"error": out.stderr.strip().splitlines()[-1] if out.stderr else f"exit {out.returncode}"}
    return json.loads(out.stdout.strip().splitlines()[-1])


def descent_by_beta(betas=(1.0, 3.0, 10.0, 25.0, 50.0), num=200, num_steps=2000, seeds=3):
    import jax

    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    import numpy as np

    import jaxiaf
    from jaxiaf.surrogate import SuperSpike

    rng = np.random.default_rng(0)
    mod = jaxiaf.FFIAF(rng.normal(0.01, 0.005, (4, num)), integrator_name="exact")
    currents = jnp.asarray(rng.uniform(0, 1.5, (num_steps, 4))) @ mod.params.weights
    true = {"bias": rng.uniform(0.008, 0.012, num), "tau_mem": rng.uniform(0.01, 0.03, num)}

    def run(q, surrogate):
        params = jaxiaf.Parameters(
            **{**{f: getattr(mod.params, f) for f in jaxiaf.Parameters.__annotations__}, **q}
        )
        return jaxiaf.evolve(params, mod.sim, mod.neuron_state, currents, surrogate=surrogate, check=False)[0]

    target = run(true, None)
    distance = lambda q, s: jaxiaf.metrics.van_rossum(run(q, s), target, 1e-4, 10e-3)
    starts = [
        {k: v * np.exp(np.random.default_rng(10 + s).normal(0, 0.15, num)) for k, v in true.items()}
        for s in range(seeds)
    ]
    oracle = []
    for q in starts:
        before = distance(q, None)
        towards = {k: q[k] * np.exp(0.01 * np.sign(np.log(true[k] / q[k]))) for k in q}
        oracle.append(float(np.mean(distance(towards, None)[before > 0] < before[before > 0])))
    print(f"oracle (1 % towards the truth): {np.mean(oracle):.3f} of neurons improve")
    for beta in betas:
        surrogate, fractions = SuperSpike(beta=beta), []
        grad = jax.jit(jax.grad(lambda q: jnp.sum(distance(q, surrogate))))
        for q in starts:
            before = distance(q, None)
            g = {k: jnp.nan_to_num(grad(q)[k] * q[k]) for k in q}  # NaN where a train already matches
            norm = jnp.sqrt(g["bias"] ** 2 + g["tau_mem"] ** 2)
            step = {k: q[k] * jnp.exp(-0.01 * g[k] / jnp.where(norm > 0, norm, 1.0)) for k in q}
            fractions.append(float(np.mean(distance(step, None)[before > 0] < before[before > 0])))
        print(f"SuperSpike(beta={beta:g}): {np.mean(fractions):.3f} of neurons improve", flush=True)


def main(quick: bool = False):
    configs = [(10_000, 1000, None), (10_000, 1000, 100), (100_000, 1000, 400)]
    if not quick:
        configs.insert(2, (100_000, 1000, None))
    for num_steps, num, every in configs:
        result = measure(num_steps, num, every)
        print(f"T={num_steps:>7} N={num} checkpoint_every={every!s:>5}: {result}", flush=True)
    descent_by_beta()


if __name__ == "__main__":
    main("--quick" in sys.argv)
