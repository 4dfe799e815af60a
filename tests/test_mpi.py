"""NEST with MPI: one network run under ``mpirun`` by 1 and by 2 processes gives the same spikes.

Needs a NEST built with MPI (``make nest-mpi``, tools/build_nest_mpi.sh) and ``mpirun``; the PyPI
wheel has no MPI, so elsewhere the test skips with that reason.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from sourced_neuron.backends.nestbuild import nest_build

pytestmark = [pytest.mark.nest, pytest.mark.slow]

SCRIPT = """
import sys
import numpy as np
sys.path.insert(0, {tests!r})
from test_network import brunel_network
from sourced_neuron.common import mpi

block = brunel_network(n=500, seed=11).run("120 ms", backend="nest")
trains = block.segments[0].spiketrains
if mpi.rank() == 0:
    np.savez(sys.argv[1], size=mpi.size(), counts=[len(st) for st in trains],
             times=np.concatenate([st.magnitude for st in trains]))
"""


def _reason() -> str | None:
    if not nest_build()["mpi"]:
        return "NEST here is built without MPI (the PyPI wheel); make nest-mpi builds one"
    if shutil.which("mpirun") is None:
        return "no mpirun on PATH (apt-get install openmpi-bin)"
    return None


def test_one_and_two_processes_give_the_same_spikes(tmp_path):
    reason = _reason()
    if reason:
        pytest.skip(reason)
    script = tmp_path / "run.py"
    script.write_text(SCRIPT.format(tests=str(Path(__file__).parent)))
    env = {**os.environ, "SOURCED_NEURON_THREADS": "1"}
    results = {}
    for processes in (1, 2):
        out = tmp_path / f"spikes{processes}.npz"
        command = ["mpirun", "--allow-run-as-root", "--oversubscribe", "-np", str(processes)]
        done = subprocess.run(
            [*command, sys.executable, str(script), str(out)],
            capture_output=True,
            text=True,
            timeout=1200,
            env=env,
            check=False,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        results[processes] = np.load(out)
    assert int(results[2]["size"]) == 2  # two NEST processes ran
    assert results[1]["counts"].sum() > 500  # the network is active
    # the same network (drawn from the seed in every process), each neuron on one process:
    # the same spikes, to the stamp
    np.testing.assert_array_equal(results[1]["counts"], results[2]["counts"])
    np.testing.assert_allclose(results[1]["times"], results[2]["times"], rtol=0, atol=1e-9)
