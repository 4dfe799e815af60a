"""Running NeuroML2/LEMS exports on the LEMS engines: pyLEMS (Python) and jLEMS (jNeuroML's Java).

An export (:func:`sourced_neuron.codegen.neuroml.write_neuroml`) records the membrane potential
and a spike counter of its cell; :func:`run_lems` runs its ``LEMS_<model>.xml`` in a
subprocess and reads them back on the grid of this library (docs/semantics.md): a trace sample
at ``t_k`` is the state at the start of step ``k``, a spike is stamped with the start of the
step that produced it. The NeuroML core types the files include come from the jNeuroML jar
that pyNeuroML ships, unpacked once into the cache.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import dataclass

import numpy as np

from sourced_neuron.codegen.neuroml import NeuroMLExport
from sourced_neuron.common.errors import BackendUnavailableError, SimulationError
from sourced_neuron.common.neuroml import core_types_folder, jneuroml_jar, neuroml_unavailable

__all__ = ["ENGINES", "LemsRun", "core_types_folder", "engine_unavailable", "jneuroml_jar", "run_lems"]

#: The engines :func:`run_lems` runs.
ENGINES = ("pylems", "jlems")

#: Seconds an engine may take.
TIMEOUT = 1800


@dataclass(frozen=True)
class LemsRun:
    """What an engine computed, in SI units on this library's grid.

    Attributes
    ----------
    times : numpy.ndarray
        Sample times, seconds: ``t_k = k*dt`` from ``dt`` on (the state before the first step is
        not recorded by LEMS engines).
    v : numpy.ndarray
        The membrane potential at ``times``, volt.
    spikes : numpy.ndarray
        Spike times, seconds: the start of each step that produced a spike.
    """

    engine: str
    times: np.ndarray
    v: np.ndarray
    spikes: np.ndarray


def engine_unavailable(engine: str) -> str | None:
    """Why ``engine`` cannot run here (with what to install), or ``None``."""
    if engine not in ENGINES:
        raise BackendUnavailableError(f"unknown LEMS engine {engine!r}; engines: {', '.join(ENGINES)}")
    reason = neuroml_unavailable()
    if reason:
        return reason
    if engine == "jlems" and shutil.which("java") is None:
        return "jLEMS needs a Java runtime (apt-get install default-jre-headless)"
    return None


def run_lems(export: NeuroMLExport, engine: str = "pylems") -> LemsRun:
    """Run an export's ``LEMS_<model>.xml`` on ``engine`` and read its recordings.

    Raises
    ------
    BackendUnavailableError
        The engine is not installed (the message says what to install).
    SimulationError
        The engine failed; the message ends with the end of its output.
    """
    reason = engine_unavailable(engine)
    if reason:
        raise BackendUnavailableError(f"LEMS engine {engine!r}: {reason}")
    folder = export.simulation_file.parent
    for name in (export.voltage_file, export.spike_file):
        (folder / name).unlink(missing_ok=True)
    if engine == "pylems":
        code = "import sys\nfrom lems.run import run\nrun(sys.argv[1], include_dirs=[sys.argv[2]], nogui=True)\n"
        command = [sys.executable, "-c", code, export.simulation_file.name, str(core_types_folder())]
    else:
        command = ["java", "-Xmx4G", "-jar", str(jneuroml_jar()), export.simulation_file.name, "-nogui"]
    try:
        # the command is this interpreter or java and the file names of the export
        done = subprocess.run(command, cwd=folder, capture_output=True, text=True, timeout=TIMEOUT, check=False)  # noqa: S603
    except subprocess.TimeoutExpired:
        raise SimulationError(f"{engine} did not finish {export.simulation_file} within {TIMEOUT} s") from None
    trace = folder / export.voltage_file
    if done.returncode != 0 or not trace.exists():
        output = (done.stdout + done.stderr).strip().splitlines()
        raise SimulationError(
            f"{engine} failed on {export.simulation_file} (exit status {done.returncode}):\n" + "\n".join(output[-20:])
        )
    data = np.loadtxt(trace, ndmin=2)
    labels, v = data[:, 0], data[:, 1]
    steps = np.rint(labels / export.dt).astype(np.int64)
    # pyLEMS labels a row with the start of the step after which it was taken; jLEMS with its
    # end (and writes the initial state first).
    after = steps + 1 if engine == "pylems" else steps
    # the run's steps only (pyLEMS takes one step more, from the end time on)
    n_steps = round(export.duration / export.dt)
    keep = after <= n_steps
    if export.counted:  # the counter rises in the row of the step that produced a spike
        rises = np.diff(np.concatenate([[0.0], data[:, 2]])) > 0
        spikes = (after[rises & keep] - 1) * export.dt
    else:
        spikes = _events(folder / export.spike_file, engine, export.dt)
    return LemsRun(engine, after[keep] * export.dt, v[keep], spikes)


def _events(path, engine: str, dt: float) -> np.ndarray:
    """Spike times of an event file (``TIME_ID``), on this library's grid."""
    if not path.exists():
        raise SimulationError(
            f"{engine} wrote no event file {path.name}; it records spikes of NeuroML core types only there (use jlems)"
        )
    data = np.loadtxt(path, ndmin=2)
    # jLEMS stamps an event with the time at the end of the step whose start state crossed
    return (np.rint(data[:, 0] / dt).astype(np.int64) - 1) * dt if data.size else np.zeros(0)
