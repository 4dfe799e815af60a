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

import fcntl
import gc
import hashlib
import importlib.metadata
import importlib.util
import json
import os
import shutil
from pathlib import Path

import numpy as np

from ..cache import cache_root
from ..model import METHODS
from ..progress import Progress
from ..targets.brian2 import lower
from .base import Capabilities, NetworkSpec, RunResult
from .brian2_runtime import Brian2Runtime, _errors, _gsl_available, build_objects

__all__ = ["Brian2CppStandalone", "Brian2Cuda", "project_key"]


class Brian2CppStandalone(Brian2Runtime):
    """Brian2 C++ standalone with OpenMP threads; compiled projects cached by content."""

    name = "brian2-cpp"
    description = "Brian2 C++ standalone (cpp_standalone device, OpenMP), compiled projects cached"
    device = "cpp_standalone"

    @classmethod
    def capabilities(cls) -> Capabilities:
        methods = set(METHODS) - ({"rkf45"} if not _gsl_available() else set())
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
        import brian2 as b2
        from brian2.devices.device import device, set_device

        key = project_key(spec, self.device, {"threads": self.threads()})
        folder = cache_root() / "brian2" / self.device / key
        folder.parent.mkdir(parents=True, exist_ok=True)
        with open(folder.parent / f"{key}.lock", "w") as lock, _errors(spec):
            fcntl.flock(lock, fcntl.LOCK_EX)  # one build in a project folder at a time
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
                device.build(directory=str(folder), compile=True, run=False, with_output=False)
                progress.phase("running the compiled program")  # it does not report back while running
                device.run(directory=str(folder), with_output=False, run_args=built.run_args)
                progress.advance_to(spec.n_steps * spec.dt)
                # the simulation loop's own wall time, as Brian2 measures it (build excluded)
                results = built.results(device=self.device, project=str(folder), run_seconds=device._last_run_time)
            finally:
                device.reinit()
                set_device("runtime")
                b2.defaultclock.dt = default_dt
        return results


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
        timed = stimulus.kind in ("step", "sampled")
        varying = tuple(pop.parameters)
        shared = tuple(n for n in pop.model.parameter_names if n not in varying)
        lowered = lower(pop.model, "timed_per_neuron" if timed else "constant", per_neuron=varying, shared=shared)
        content["populations"].append(
            [
                pop.name,
                pop.size,
                lowered.equations,
                lowered.threshold,
                lowered.reset,
                str(lowered.refractory),
                lowered.method,
                sorted(pop.initial),
                list(pop.record),
                pop.record_spikes,
                stimulus.kind,
                array(stimulus.values_on_grid(spec.dt, spec.n_steps + 1)) if timed else None,
            ]
        )
    digest.update(json.dumps(content, sort_keys=True).encode())
    return digest.hexdigest()
