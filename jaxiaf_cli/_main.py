"""`jaxiaf demo`: the default layer in JAX and in Brian2, side by side."""

import argparse
import io
import math
import os
import time

DT = 1e-4
"""The demo's time step (s)."""


def _neurons(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of neurons >= 1; got {text!r}")
    return value


def _duration(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and round(value / DT) >= 1):
        raise argparse.ArgumentTypeError(
            f"must be a finite number of seconds, at least one step ({DT:g} s); got {text!r}"
        )
    return value


def _out(value: str) -> str:
    """`--out`: a `.png` file whose folder exists and is writable (checked before the simulation)."""
    if os.path.isdir(value):
        raise argparse.ArgumentTypeError(f"{value!r} is a directory; give a file name ending in .png")
    if not value.lower().endswith(".png"):
        raise argparse.ArgumentTypeError(f"{value!r} must end in .png (the demo writes a PNG)")
    folder = os.path.dirname(os.path.abspath(value))
    if not os.path.isdir(folder) or not os.access(folder, os.W_OK):
        raise argparse.ArgumentTypeError(f"cannot write {value!r}: {folder!r} is not a writable directory")
    return value


def _parser():
    parser = argparse.ArgumentParser(prog="jaxiaf", description="jaxiaf: a Brian2-exact IAF layer in JAX.")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="run the default layer in JAX and Brian2 and compare them")
    demo.add_argument(
        "--out", type=_out, default="jaxiaf_demo.png", help="PNG to write (default: %(default)s)"
    )
    demo.add_argument("--integrator", default="rk4", help="integrator name (default: %(default)s)")
    demo.add_argument(
        "--duration", type=_duration, default=0.5, help="seconds to simulate (default: %(default)s)"
    )
    demo.add_argument("--neurons", type=_neurons, default=16, help="number of neurons (default: %(default)s)")
    return parser


def demo_input(num_steps: int, dt: float, num_neurons: int, seed: int = 0):
    """The embedded default: 2 input channels (a 5 Hz sine and a step at 100 ms), mixed-sign weights."""
    import numpy as np

    rng = np.random.default_rng(seed)
    t = np.arange(num_steps) * dt
    x = np.stack([np.sin(2 * np.pi * 5 * t), (t >= 0.1).astype(float)], axis=1)
    weights = np.stack([rng.uniform(-4e-3, 8e-3, num_neurons), rng.uniform(0.0, 6e-3, num_neurons)])
    return x, weights


def _save(fig, out: str) -> None:
    """Write the figure; a PNG as 256 colours (a third of the bytes of full colour, the same picture)."""
    from PIL import Image

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    Image.open(buffer).convert("RGB").quantize(256).save(out, optimize=True)


def run_demo(out: str, integrator: str, duration: float, num_neurons: int) -> dict:
    """Run the demo, print the comparison and write `out`; returns the figures printed."""
    import jax

    jax.config.update("jax_enable_x64", True)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    import jaxiaf
    from brian_ref import FFIAFBrian2

    dt = DT
    num_steps = int(round(duration / dt))
    x, weights = demo_input(num_steps, dt, num_neurons)
    rng = np.random.default_rng(1)
    kwargs = dict(tau_mem=rng.uniform(0.01, 0.04, num_neurons), refractory=2e-3, integrator_name=integrator)

    layer = jaxiaf.FFIAF(weights, **kwargs)
    start = time.perf_counter()
    spikes, _, rec = jax.block_until_ready(layer(x, record=True))
    first_call = time.perf_counter() - start
    start = time.perf_counter()
    jax.block_until_ready(layer(x, record=True))
    second_call = time.perf_counter() - start
    spikes, v = np.asarray(spikes), np.asarray(rec["v"])

    ref = FFIAFBrian2(weights, **kwargs).evolve(x)
    same_neurons = int((spikes == ref.raster()).all(axis=0).sum())
    figures = {
        "neurons": num_neurons,
        "steps": num_steps,
        "jax_spikes": int(spikes.sum()),
        "brian_spikes": int(ref.raster().sum()),
        "identical_neurons": same_neurons,
        "max_abs_dv": float(np.abs(v - ref.v).max()),
        "jax_first_call_s": first_call,
        "jax_second_call_s": second_call,
        "brian_s": ref.wall_time,
    }
    print(
        f"jaxiaf demo: {num_neurons} neurons, {num_steps} steps of {dt * 1e3:g} ms, "
        f"integrator {integrator!r}, "
        "float64"
    )
    print(f"  spikes            JAX {figures['jax_spikes']}, Brian2 {figures['brian_spikes']}")
    print(
        f"  identical spike trains: {same_neurons}/{num_neurons} neurons; max |v_jax - v_brian| = "
        f"{figures['max_abs_dv']:.3g} V"
    )
    print(
        f"  wall time         JAX {first_call:.3f} s first call (compile included), "
        f"{second_call * 1e3:.2f} ms "
        f"after; Brian2 (numpy target) {ref.wall_time:.3f} s"
    )

    t_ms = np.arange(num_steps) * dt * 1e3
    fig, (ax_raster, ax_v) = plt.subplots(2, 1, figsize=(9, 6), sharex=True)
    k, n = np.nonzero(spikes)
    ax_raster.plot(t_ms[k], n, "|", color="C0", markersize=8, label="jaxiaf")
    ax_raster.plot(
        t_ms[ref.spike_steps], ref.spike_neurons + 0.3, "|", color="C3", markersize=8, label="Brian2"
    )
    ax_raster.set_ylabel("neuron")
    ax_raster.yaxis.get_major_locator().set_params(integer=True)
    ax_raster.set_title(f"Spike raster: {same_neurons}/{num_neurons} neurons identical")
    ax_raster.legend(loc="upper right")
    for i in range(min(3, num_neurons)):
        ax_v.plot(t_ms, v[:, i] * 1e3, color=f"C{i}", label=f"neuron {i} (jaxiaf)")
        ax_v.plot(t_ms, ref.v[:, i] * 1e3, "--", color="k", linewidth=0.7)
    ax_v.set_xlabel("time (ms)")
    ax_v.set_ylabel("v (mV)")
    ax_v.set_title("Membrane potential (dashed: Brian2)")
    ax_v.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    _save(fig, out)
    plt.close(fig)
    print(f"  wrote {out}")
    return figures


def main(argv=None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "demo":
        from jaxiaf._core.integrators import resolve_integrator

        try:
            resolve_integrator(args.integrator)
        except ValueError as error:
            parser.error(f"argument --integrator: {error}")
        run_demo(args.out, args.integrator, args.duration, args.neurons)
    return 0
