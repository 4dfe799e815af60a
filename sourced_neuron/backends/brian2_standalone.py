"""Backends ``brian2-cpp`` (Brian2's ``cpp_standalone`` device) and ``brian2-cuda`` (brian2cuda).

The network is built exactly as on the runtime backend (:func:`.brian2_runtime.build_objects`),
but every model parameter is a variable (``shared`` by the group, or per neuron where it
varies), and parameter and initial values are passed to the compiled program as ``run_args``:
the generated project depends only on the structure of the run (equations, sizes, connections,
stimulus, duration), not on parameter values. Projects are kept in the cache folder under a
hash of that structure, so another run with other parameter values, in this or another
process, reuses the compiled program (Brian2 rewrites only changed files, and ``make`` then
has nothing to do).
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import importlib.metadata
import importlib.util
import io
import json
import os
import shutil
from pathlib import Path

import numpy as np

from sourced_neuron.backends.base import Capabilities, NetworkSpec, RunResult
from sourced_neuron.backends.brian2_runtime import (
    Brian2Runtime,
    build_objects,
    gsl_available,
    simulator_errors,
    stimulus_input,
)
from sourced_neuron.codegen.brian2 import lower
from sourced_neuron.common import cache
from sourced_neuron.common.cache import cache_root
from sourced_neuron.common.errors import SimulationError, SourcedNeuronError, StorageError
from sourced_neuron.common.progress import Progress
from sourced_neuron.spec.parts import METHODS

__all__ = ["Brian2CppStandalone", "Brian2Cuda", "project_key"]


class Brian2CppStandalone(Brian2Runtime):
    """Brian2 C++ standalone with OpenMP threads; compiled projects cached by content."""

    name = "brian2-cpp"
    description = "Brian2 C++ standalone (cpp_standalone device, OpenMP), compiled projects cached"
    device = "cpp_standalone"

    @classmethod
    def capabilities(cls) -> Capabilities:
        methods = set(METHODS) - ({"rkf45"} if not gsl_available() else set())
        return Capabilities(methods=frozenset(methods))

    @classmethod
    def unavailable_reason(cls) -> str | None:
        if importlib.util.find_spec("brian2") is None:
            return "Brian2 is not installed (pip install 'brian2==2.10.1')"
        if shutil.which("g++") is None or shutil.which("make") is None:
            return "C++ standalone needs g++ and make (apt-get install g++ make)"
        return None

    @classmethod
    def threads(cls) -> int:
        """OpenMP threads: ``SOURCED_NEURON_THREADS``, else every core."""
        return int(os.environ.get("SOURCED_NEURON_THREADS") or os.cpu_count() or 1)

    def configure(self, prefs) -> None:
        """Device preferences, before the objects are made."""
        prefs.devices.cpp_standalone.openmp_threads = self.threads()

    def run_network(self, spec: NetworkSpec, progress: Progress | None = None) -> dict[str, RunResult]:
        # the watch for non-finite states is code of its own (docs/semantics.md)
        key = project_key(spec, self.device, {"threads": self.threads(), "check_finite": spec.check_finite})
        # one build or run in a project folder at a time (``cache clear`` skips a held project);
        # processes running the same project at once (the workers of a sweep) each take a copy
        lock, folder = _free_copy(cache_root() / "brian2" / self.device, key)
        with lock:
            _check_project(folder)
            outcome = self._run_locked(spec, folder, progress)
        if isinstance(outcome, SourcedNeuronError):
            raise outcome  # raised here, so that Brian2's error mapping does not wrap it
        return outcome

    def _run_locked(self, spec: NetworkSpec, folder: Path, progress: Progress | None):
        """Generate, compile (when changed) and run the project in ``folder``: the results, or
        the :class:`StorageError` (or build failure) to raise."""
        import brian2 as b2
        from brian2.devices.device import device, set_device

        with simulator_errors(spec):
            gc.collect()  # objects of an earlier run still hold the names this one uses
            default_dt = b2.defaultclock.dt
            set_device(self.device, directory=str(folder), build_on_run=False)
            try:
                self.configure(b2.prefs)
                if spec.seed is not None:
                    b2.seed(spec.seed)
                built = build_objects(b2, spec, standalone=True)
                progress = progress or Progress(0, "", False)
                progress.phase("generating code")
                b2.Network(*built.objects).run(spec.n_steps * spec.dt * b2.second, namespace={})
                progress.phase("compiling")
                failure = _compile(device, folder)
                if failure is not None:
                    return failure
                progress.phase("running the compiled program")  # it does not report back while running
                try:
                    device.run(directory=str(folder), with_output=False, run_args=built.run_args)
                except (RuntimeError, OSError) as exc:
                    failure = _storage_failure(exc, folder, "running")
                    if failure is None:
                        raise
                    return failure
                progress.advance_to(spec.n_steps * spec.dt)
                # the simulation loop's own wall time, as Brian2 measures it (build excluded)
                return built.results(device=self.device, project=str(folder), run_seconds=device._last_run_time)
            finally:
                device.reinit()
                set_device("runtime")
                b2.defaultclock.dt = default_dt


def _free_copy(parent: Path, key: str):
    """The lock and folder of a copy of project ``key`` that no other process holds: the project
    itself (``key``), else ``key-1``, ``key-2``, ... up to one copy per core (each copy compiles
    once); when every copy is held, wait for the first."""
    for copy in range(max(os.cpu_count() or 1, 1)):
        name = key if copy == 0 else f"{key}-{copy}"
        lock = cache.acquire(parent / f"{name}.lock", blocking=False)
        if lock is not None:
            return lock, parent / name
    return cache.acquire(parent / f"{key}.lock"), parent / key


def _project_files(folder: Path) -> list[str]:
    """The files of a compiled project that its runs read: the program and the static arrays
    (not the per-run ``init_*`` arrays of ``run_args``, which are written afresh for each run)."""
    arrays = sorted(
        f"static_arrays/{p.name}" for p in (folder / "static_arrays").glob("*") if p.is_file() and not _run_array(p)
    )
    return ["main", *arrays]


def _run_array(path: Path) -> bool:
    return path.name.startswith("init_") or path.name.endswith(".lock")


def _check_project(folder: Path) -> None:
    """Remove a project whose program or arrays do not match their digests (or that has none:
    its build was interrupted), with a :class:`~sourced_neuron.common.cache.CacheWarning`, so that it
    is built again from scratch (``make`` alone would keep a truncated program: it is newer
    than its sources)."""
    cache.remove_stale(folder)
    cache.remove_stale(folder.parent)
    if not folder.exists():
        return
    problem = cache.check_digests(folder, ("main",))
    if problem is not None:
        cache.notice(folder, problem)
        with cache.writing(folder):
            cache.remove_tree(folder)
        return
    for array in (folder / "static_arrays").glob("init_*"):  # Brian2 trusts an existing file of that name
        with cache.writing(array):
            array.unlink(missing_ok=True)


def _compile(device, folder: Path) -> SourcedNeuronError | None:
    """Write the project and compile it (``make`` does nothing when nothing changed), then write
    the digests of what its runs read. Returns the error to raise when compiling failed: a
    :class:`StorageError` when the disk is full, else a :class:`SimulationError` with the
    compiler's error lines (its output is kept from the terminal: Brian2 prints all of it, and
    advises ``clean=True``, which the next run does by itself: a project without digests is
    rebuilt from scratch)."""
    (folder / cache.DIGESTS).unlink(missing_ok=True)  # not complete until compiled
    output = io.StringIO()
    try:
        with contextlib.redirect_stdout(output), contextlib.redirect_stderr(output):
            device.build(directory=str(folder), compile=True, run=False, with_output=False)
    except (RuntimeError, OSError) as exc:
        failure = _storage_failure(exc, folder, "compiling", output.getvalue())
        if failure is not None:
            return failure
        if not str(exc).startswith("Project compilation failed"):
            raise
        text = output.getvalue()
        log = folder / "build.log"
        with contextlib.suppress(OSError):
            log.write_text(text)
        lines = text.splitlines()
        excerpt = "\n".join(([line for line in lines if "error" in line.lower()] or lines)[-15:])
        error = SimulationError(
            f"compiling the Brian2 standalone project in {str(folder)!r} failed (log: {str(log)!r}):\n{excerpt}"
        )
        error.__cause__ = exc
        return error
    cache.write_digests(folder, _project_files(folder))
    return None


def _storage_failure(exc: BaseException, folder: Path, doing: str, output: str = "") -> StorageError | None:
    """The :class:`StorageError` a failure while ``doing`` (compiling, running) the project in
    ``folder`` means, or ``None``; the unfinished project is removed to give the space back."""
    error = cache.storage_problem(exc, folder) if isinstance(exc, OSError) else None
    if error is None and cache.no_room(folder, output):
        error = cache.no_room_error(f"{doing} the Brian2 standalone project", folder)
    if error is None:
        return None
    error.__cause__ = exc
    with contextlib.suppress(OSError):
        cache.remove_tree(folder)
    return error


class Brian2Cuda(Brian2CppStandalone):
    """brian2cuda's ``cuda_standalone`` device (an NVIDIA GPU and nvcc)."""

    name = "brian2-cuda"
    description = "brian2cuda (cuda_standalone device, NVIDIA GPU), compiled projects cached"
    device = "cuda_standalone"

    @classmethod
    def capabilities(cls) -> Capabilities:
        return Capabilities(methods=frozenset(set(METHODS) - {"rkf45"}), gpu=True)

    @classmethod
    def unavailable_reason(cls) -> str | None:
        if importlib.util.find_spec("brian2cuda") is None:
            return "brian2cuda is not installed (pip install brian2cuda==1.0b1)"
        if shutil.which("nvcc") is None and not Path("/usr/local/cuda/bin/nvcc").exists():
            return "no CUDA compiler (nvcc) found: brian2-cuda needs an NVIDIA GPU and the CUDA toolkit"
        if shutil.which("nvidia-smi") is None:
            return "no NVIDIA GPU driver (nvidia-smi) found: brian2-cuda needs an NVIDIA GPU"
        return None

    @classmethod
    def threads(cls) -> int:
        return 0

    def configure(self, prefs) -> None:
        import brian2cuda  # noqa: F401 - registers the cuda_standalone device

        # CUDA >= 13's Thrust needs C++17; Brian2's host flags and brian2cuda's makefile ask for
        # C++11 (nvcc takes the last -std it is given)
        flags = [f for f in prefs.codegen.cpp.extra_compile_args_gcc if not f.startswith("-std=")]
        prefs.codegen.cpp.extra_compile_args_gcc = [*flags, "-std=c++17"]
        backend = prefs.devices.cuda_standalone.cuda_backend
        nvcc = [f for f in backend.extra_compile_args_nvcc if not f.startswith("-std=")]
        backend.extra_compile_args_nvcc = [*nvcc, "-std=c++17"]

    def run_network(self, spec: NetworkSpec, progress: Progress | None = None) -> dict[str, RunResult]:
        import brian2cuda  # noqa: F401 - registers the cuda_standalone device

        return super().run_network(spec, progress)


def project_key(spec: NetworkSpec, device: str, options: dict) -> str:
    """Hash of everything a standalone project's code depends on (not parameter or initial values)."""
    digest = hashlib.sha256()

    def array(values) -> str:
        values = np.asarray(values)
        if values.ndim == 1 and values.strides == (0,) and len(values):  # one value shared by all
            return f"{len(values)} x {float(values[0]).hex()}"
        if values.dtype.kind in "iu":  # indices as they are (their dtype named), not as floats
            return values.dtype.str + hashlib.sha256(np.ascontiguousarray(values).tobytes()).hexdigest()
        return hashlib.sha256(np.ascontiguousarray(values, dtype=float).tobytes()).hexdigest()

    content = {
        "device": device,
        "options": options,
        "brian2": importlib.metadata.version("brian2"),
        "dt": float(spec.dt).hex(),
        "n_steps": spec.n_steps,
        "seed": spec.seed,
        "populations": [],
        "sources": [[s.name, s.size, array(s.indices), array(s.times)] for s in spec.sources],
        "projections": [
            [p.pre, p.post, p.receptor, array(p.i), array(p.j), array(p.weights), array(p.delays)]
            for p in spec.projections
        ],
    }
    for pop in spec.populations:
        stimulus = pop.stimulus
        values, input_kind, _ = stimulus_input(stimulus, spec.dt, spec.n_steps)
        varying = tuple(pop.parameters)
        shared = tuple(n for n in pop.model.parameter_names if n not in varying)
        lowered = lower(pop.model, input_kind, per_neuron=varying, shared=shared)
        content["populations"].append(
            [
                pop.name,
                pop.size,
                lowered.equations,
                lowered.threshold,
                lowered.reset,
                str(lowered.refractory),
                lowered.method,
                pop.model.numerics.abs_error if lowered.method == "gsl_rkf45" else None,  # GSL's bound is in the code
                sorted(pop.initial),
                list(pop.record),
                pop.record_every,
                pop.record_spikes,
                stimulus.kind,
                # a step's per-neuron amplitudes are run arguments: only its on/off pattern counts
                None if values is None else array(values),
            ]
        )
    digest.update(json.dumps(content, sort_keys=True).encode())
    return digest.hexdigest()
