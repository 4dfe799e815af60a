"""Running NeuroML2/LEMS exports on the LEMS engines: pyLEMS (Python) and jLEMS (jNeuroML's Java).

An export (:func:`sourced_neuron.codegen.neuroml.write_neuroml`) records the membrane potential
and a spike counter of its cell; :func:`run_lems` runs its ``LEMS_<model>.xml`` in a
subprocess and reads them back on the grid of this library (docs/semantics.md): a trace sample
at ``t_k`` is the state at the start of step ``k``, a spike is stamped with the start of the
step that produced it. The NeuroML core types the files include come from the jNeuroML jar
that pyNeuroML ships, unpacked once into the cache.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sourced_neuron.codegen.neuroml import NeuroMLExport
from sourced_neuron.common.cache import cache_root
from sourced_neuron.common.errors import BackendUnavailableError, SimulationError

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


def jneuroml_jar() -> Path | None:
    """The jNeuroML jar that pyNeuroML ships, or ``None``."""
    spec = importlib.util.find_spec("pyneuroml")
    if spec is None or not spec.submodule_search_locations:
        return None
    jars = sorted(Path(next(iter(spec.submodule_search_locations)), "lib").glob("jNeuroML-*-jar-with-dependencies.jar"))
    return jars[-1] if jars else None


def engine_unavailable(engine: str) -> str | None:
    """Why ``engine`` cannot run here (with what to install), or ``None``."""
    if engine not in ENGINES:
        raise BackendUnavailableError(f"unknown LEMS engine {engine!r}; engines: {', '.join(ENGINES)}")
    if importlib.util.find_spec("pyneuroml") is None or importlib.util.find_spec("lems") is None:
        return "pyNeuroML and PyLEMS are not installed (pip install 'sourced-neuron[neuroml]')"
    if jneuroml_jar() is None:
        return "pyNeuroML's jNeuroML jar was not found"
    if engine == "jlems" and shutil.which("java") is None:
        return "jLEMS needs a Java runtime (apt-get install default-jre-headless)"
    return None


def core_types_folder() -> Path:
    """The NeuroML core type files (``NeuroML2CoreTypes/*.xml``), unpacked from the jNeuroML jar
    into the cache once."""
    jar = jneuroml_jar()
    if jar is None:
        raise BackendUnavailableError(engine_unavailable("pylems") or "no jNeuroML jar")
    folder = cache_root() / "neuroml" / jar.stem / "NeuroML2CoreTypes"
    if not (folder / "Cells.xml").exists():
        partial = folder.with_name(folder.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        with zipfile.ZipFile(jar) as archive:
            for name in archive.namelist():
                if name.startswith("NeuroML2CoreTypes/") and name.endswith(".xml"):
                    (partial / Path(name).name).write_bytes(archive.read(name))
        shutil.rmtree(folder, ignore_errors=True)
        partial.rename(folder)
    return folder


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
    labels, v, count = data[:, 0], data[:, 1], data[:, 2]
    steps = np.rint(labels / export.dt).astype(np.int64)
    rises = np.diff(np.concatenate([[0.0], count])) > 0
    # pyLEMS labels a row with the start of the step after which it was taken; jLEMS with its
    # end (and writes the initial state first). The counter rises in the row of the step that
    # produced a spike.
    after = steps + 1 if engine == "pylems" else steps
    # the run's steps only (pyLEMS takes one step more, from the end time on)
    n_steps = round(export.duration / export.dt)
    keep = after <= n_steps
    return LemsRun(engine, after[keep] * export.dt, v[keep], (after[rises & keep] - 1) * export.dt)
