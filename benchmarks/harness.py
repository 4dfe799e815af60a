"""What the network benchmarks share: each variant in its own process, medians, ratios, versions.

Brian2's devices are per process, so every timed run is a fresh ``python SCRIPT --one VARIANT``
that prints ``{"seconds": ..., "spikes": ...}``; the first run of each variant builds (code
generation, compilation) and is not timed.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import platform
import statistics
import subprocess
import sys
import time

#: The variants every network benchmark runs (``--variants`` also takes the CUDA ones), and the
#: generated/reference pairs whose ratios it prints.
VARIANTS = ("sn:brian2", "hand:runtime", "sn:brian2-cpp", "hand:cpp_standalone", "sn:nest", "nest-builtin")
PAIRS = (
    ("sn:brian2", "hand:runtime"),
    ("sn:brian2-cpp", "hand:cpp_standalone"),
    ("sn:brian2-cuda", "hand:cuda_standalone"),
    ("sn:nest", "nest-builtin"),
)


def threads() -> int:
    """Threads for C++ standalone and NEST: ``$SOURCED_NEURON_THREADS`` or every core."""
    return int(os.environ.get("SOURCED_NEURON_THREADS") or os.cpu_count())


def run_variants(script: str, variants: list[str], repeats: int, extra: list[str]) -> dict[str, tuple[float, int]]:
    """Median simulation time and spike count of each variant, printed as they come."""
    results = {}
    for variant in variants:
        times, spikes = [], None
        for repeat in range(repeats + 1):  # the first run builds
            out = subprocess.run(
                [sys.executable, script, "--one", variant, *extra], capture_output=True, text=True, check=True
            )
            data = json.loads(out.stdout.strip().splitlines()[-1])
            if repeat:
                times.append(data["seconds"])
            spikes = data["spikes"]
        results[variant] = (statistics.median(times), spikes)
        print(f"{variant:22s} {results[variant][0]:8.3f} s  {spikes} spikes", flush=True)
    return results


def report(title: str, results: dict[str, tuple[float, int]], pairs) -> None:
    """The machine, the versions, and generated/reference ratios of the pairs that ran."""
    versions = []
    for package in ("brian2", "brian2cuda", "nest-simulator", "nestml", "PyNN"):
        try:
            versions.append(f"{package} {importlib.metadata.version(package)}")
        except importlib.metadata.PackageNotFoundError:
            pass
    machine = platform.processor() or platform.machine()
    print(f"\n{title}; {machine}, {os.cpu_count()} cores, {threads()} threads; " + ", ".join(versions))
    for generated, reference in pairs:
        if generated in results and reference in results:
            print(f"  {generated} / {reference}: {results[generated][0] / results[reference][0]:.3f}")


def emit(seconds: float, spikes: int) -> None:
    """What a ``--one`` run prints."""
    print(json.dumps({"seconds": seconds, "spikes": spikes}))


def set_brian2_device(b2, device: str, folder: str) -> None:
    """Hand-written networks: select Brian2's ``device`` (``runtime``, ``cpp_standalone`` with
    OpenMP, ``cuda_standalone`` with C++17, as brian2cuda needs on CUDA 13)."""
    if device == "cpp_standalone":
        b2.set_device("cpp_standalone", directory=folder, build_on_run=False)
        b2.prefs.devices.cpp_standalone.openmp_threads = threads()
    elif device == "cuda_standalone":
        import brian2cuda  # noqa: F401

        b2.set_device("cuda_standalone", directory=folder, build_on_run=False)
        flags = [f for f in b2.prefs.codegen.cpp.extra_compile_args_gcc if not f.startswith("-std=")]
        b2.prefs.codegen.cpp.extra_compile_args_gcc = [*flags, "-std=c++17"]
        backend = b2.prefs.devices.cuda_standalone.cuda_backend
        backend.extra_compile_args_nvcc = [*backend.extra_compile_args_nvcc, "-std=c++17"]


def run_brian2(b2, net, duration, device: str, folder: str) -> float:
    """Run a hand-written network; the simulation's own wall time (standalone: Brian2's measure)."""
    started = time.perf_counter()
    net.run(duration, namespace={})
    if device == "runtime":
        return time.perf_counter() - started
    b2.device.build(directory=folder, compile=True, run=True, with_output=False)
    return b2.device._last_run_time


def time_nest(nest, cells, milliseconds: float) -> tuple[float, int]:
    """Record the spikes of ``cells`` and time ``nest.Simulate``; (seconds, spikes)."""
    recorder = nest.Create("spike_recorder")
    nest.Connect(cells, recorder)
    started = time.perf_counter()
    nest.Simulate(milliseconds)
    return time.perf_counter() - started, int(recorder.n_events)


def main(script: str, doc: str, title: str, variants, pairs, runners: dict) -> None:
    """The command line of a network benchmark. ``runners`` maps ``"sn"``, ``"hand"`` and
    ``"nest-builtin"`` to functions ``(n, what) -> (seconds, spikes)``; a variant is
    ``kind:what`` (``sn:brian2-cpp``, ``hand:cpp_standalone``) or ``nest-builtin``."""
    import argparse

    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--neurons", type=int, default=4000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--variants", default=",".join(variants))
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        kind, _, what = args.one.partition(":")
        emit(*runners[kind](args.neurons, what))
        return
    results = run_variants(script, args.variants.split(","), args.repeats, ["--neurons", str(args.neurons)])
    report(f"{title}, N = {args.neurons}, 1 s", results, pairs)
