"""`jaxiaf.sweep` across two processes joined by `jax.distributed.initialize` (the README's recipe for
several hosts, run on localhost: CPU devices, gloo collectives) equals the single-process sweep bit for
bit."""

import pathlib
import socket
import subprocess
import sys
import textwrap

import jax
import numpy as np
from helpers import sweep_workload

import jaxiaf

WORKER = textwrap.dedent(
    """
    import sys
    import jax
    jax.config.update("jax_enable_x64", True)
    jax.config.update("jax_num_cpu_devices", 2)
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    port, process_id, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    jax.distributed.initialize(f"localhost:{port}", num_processes=2, process_id=process_id)
    import numpy as np
    sys.path.insert(0, sys.argv[4])
    from helpers import sweep_workload
    import jaxiaf
    assert len(jax.devices()) == 4 and len(jax.local_devices()) == 2, jax.devices()
    mod, batch, x = sweep_workload()
    res = jaxiaf.sweep(mod, batch, x, outputs=("counts", "first_spike_times", "v"), chunk_size=8)
    key = jax.random.key_data(res.final_state.key)
    np.savez(out, counts=res.counts, first=res.first_spike_times, v=res.v, key=key)
    """
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def test_two_processes_sweep_equals_one_process_bit_for_bit(tmp_path):
    port = _free_port()
    here = str(pathlib.Path(__file__).parent)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(port), str(i), str(tmp_path / f"p{i}.npz"), here],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for i in range(2)
    ]
    try:
        logs = [p.communicate(timeout=120)[0] for p in procs]
    finally:
        for p in procs:
            p.kill()  # no-op for a process that has exited
    for p, log in zip(procs, logs, strict=True):
        assert p.returncode == 0, log[-3000:]
    mod, batch, x = sweep_workload()
    ref = jaxiaf.sweep(mod, batch, x, outputs=("counts", "first_spike_times", "v"), chunk_size=8)
    assert ref.counts.sum() > 0 and len(np.unique(np.asarray(ref.counts).sum(1))) > 3
    for i in range(2):
        got = np.load(tmp_path / f"p{i}.npz")
        np.testing.assert_array_equal(got["counts"], ref.counts)
        np.testing.assert_array_equal(got["first"], ref.first_spike_times)
        np.testing.assert_array_equal(got["v"], ref.v)
        np.testing.assert_array_equal(got["key"], jax.random.key_data(ref.final_state.key))
