"""Benchmark: COBAHH (Brette et al. 2007, benchmark 3) built through sourced_neuron vs hand-written.

The network: N Hodgkin-Huxley neurons (the library ``hh``, Traub-Miles with the COBAHH
values), 80 % excitatory, each neuron receiving 64 excitatory and 16 inhibitory connections
(fixed in-degree 80), conductance synapses of 6 nS (5 ms, 0 mV) and 67 nS (10 ms, -80 mV),
exponential Euler at dt = 0.1 ms, random initial potentials and conductances, 1 s.

Compared in one run of this script, each variant in its own process (Brian2's devices are per
process), the same connections and initial values for all (drawn once from the seed):

- ``sn``: ``sn.Network`` with the library model, on ``brian2`` (Cython) and ``brian2-cpp``;
- ``hand``: the same network written directly in Brian2 (runtime, cpp_standalone);
- ``sn-nest`` vs ``nest-builtin``: the generated model through PyNN vs NEST's hand-written
  ``hh_cond_exp_traub`` (GSL rkf45, so a different integrator; its cost is the reference).

Times are the wall time of the run call with code generation and compilation already cached
(a first, untimed run builds them), median of ``--repeats``.

    python benchmarks/cobahh.py [--neurons 4000] [--repeats 3] [--variants ...]
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

VARIANTS = ("sn:brian2", "hand:runtime", "sn:brian2-cpp", "hand:cpp_standalone", "sn:nest", "nest-builtin")
SEED = 2007


def network(n: int):
    """The sourced_neuron network; its spec also gives the hand-written variants their arrays."""
    import sourced_neuron as sn

    n_exc = n * 4 // 5
    net = sn.Network(seed=SEED)
    params = {
        "v": {"normal": ["-65 mV", "5 mV"]},  # El + (randn*5 - 5) mV, as in Brian2's COBAHH example
        "g_exc": {"normal": ["40 nS", "15 nS"]},
        "g_inh": {"normal": ["200 nS", "120 nS"]},
    }
    net.population("exc", "hh", n_exc, params=params)
    net.population("inh", "hh", n - n_exc, params=params)
    for target in ("exc", "inh"):
        net.connect("exc", target, "fixed_indegree", indegree=64, weight="6 nS", delay="0.1 ms", receptor="exc")
        net.connect("inh", target, "fixed_indegree", indegree=16, weight="67 nS", delay="0.1 ms", receptor="inh")
    net.record("exc", ["spikes"])
    net.record("inh", ["spikes"])
    return net


HAND_EQUATIONS = """
dv/dt = (gl*(El - v) - g_na*m**3*h*(v - ENa) - g_kd*n**4*(v - EK) + ge*(Ee - v) + gi*(Ei - v))/Cm : volt
dm/dt = alpha_m*(1 - m) - beta_m*m : 1
dh/dt = alpha_h*(1 - h) - beta_h*h : 1
dn/dt = alpha_n*(1 - n) - beta_n*n : 1
alpha_m = 1.28/exprel((13*mV - v + VT)/(4*mV))/ms : Hz
beta_m = 1.4/exprel((v - VT - 40*mV)/(5*mV))/ms : Hz
alpha_h = 0.128*exp((17*mV - v + VT)/(18*mV))/ms : Hz
beta_h = 4/(1 + exp((40*mV - v + VT)/(5*mV)))/ms : Hz
alpha_n = 0.16/exprel((15*mV - v + VT)/(5*mV))/ms : Hz
beta_n = 0.5*exp((10*mV - v + VT)/(40*mV))/ms : Hz
dge/dt = -ge/taue : siemens
dgi/dt = -gi/taui : siemens
"""


def run_hand(n: int, device: str) -> tuple[float, int]:
    """The same network in plain Brian2 (one NeuronGroup, two Synapses)."""
    import brian2 as b2

    spec = network(n).spec("1 s")
    if device == "cpp_standalone":
        b2.set_device("cpp_standalone", directory=str(Path("out/bench/cobahh_hand_cpp")), build_on_run=False)
        b2.prefs.devices.cpp_standalone.openmp_threads = int(os.environ.get("SOURCED_NEURON_THREADS") or os.cpu_count())
    namespace = {
        "Cm": 200 * b2.pF,
        "gl": 10 * b2.nS,
        "g_na": 20 * b2.uS,
        "g_kd": 6 * b2.uS,
        "El": -60 * b2.mV,
        "EK": -90 * b2.mV,
        "ENa": 50 * b2.mV,
        "VT": -63 * b2.mV,
        "Ee": 0 * b2.mV,
        "Ei": -80 * b2.mV,
        "taue": 5 * b2.ms,
        "taui": 10 * b2.ms,
    }
    group = b2.NeuronGroup(
        n,
        HAND_EQUATIONS,
        threshold="v > -20*mV",
        refractory="v > -20*mV",
        method="exponential_euler",
        namespace=namespace,
        dt=0.1 * b2.ms,
    )
    exc, inh = spec.populations
    n_exc = exc.size
    for name, symbol in (("v", "v"), ("m", "m"), ("h", "h"), ("n", "n"), ("g_exc", "ge"), ("g_inh", "gi")):
        setattr(group, symbol + "_", np.concatenate([exc.initial[name], inh.initial[name]]))
    objects = [group]
    offsets = {"exc": 0, "inh": n_exc}
    for projection in spec.projections:
        variable = "ge" if projection.receptor == "exc" else "gi"
        synapses = b2.Synapses(group, group, "w : siemens", on_pre=f"{variable}_post += w", dt=0.1 * b2.ms)
        synapses.connect(i=projection.i + offsets[projection.pre], j=projection.j + offsets[projection.post])
        synapses.w_ = projection.weights
        synapses.delay = 0.1 * b2.ms
        objects.append(synapses)
    spikes = b2.SpikeMonitor(group)
    net = b2.Network(*objects, spikes)
    started = time.perf_counter()
    net.run(1 * b2.second, namespace={})
    if device == "cpp_standalone":
        b2.device.build(directory=str(Path("out/bench/cobahh_hand_cpp")), compile=True, run=True, with_output=False)
    return time.perf_counter() - started, int(spikes.num_spikes)


def run_sn(n: int, backend: str) -> tuple[float, int]:
    started = time.perf_counter()
    block = network(n).run("1 s", backend=backend)
    elapsed = time.perf_counter() - started
    return elapsed, int(sum(len(st) for st in block.segments[0].spiketrains))


def run_nest_builtin(n: int) -> tuple[float, int]:
    import nest

    spec = network(n).spec("1 s")
    nest.ResetKernel()
    nest.resolution = 0.1
    nest.local_num_threads = int(os.environ.get("SOURCED_NEURON_THREADS") or os.cpu_count())
    exc, inh = spec.populations
    cells = nest.Create("hh_cond_exp_traub", n)
    initial = {k: np.concatenate([exc.initial[k], inh.initial[k]]) for k in ("v", "m", "h", "n", "g_exc", "g_inh")}
    cells.set(
        V_m=list(initial["v"] * 1e3),
        Act_m=list(initial["m"]),
        Inact_h=list(initial["h"]),
        Act_n=list(initial["n"]),
        g_ex=list(initial["g_exc"] * 1e9),
        g_in=list(initial["g_inh"] * 1e9),
        t_ref=0.0,
    )
    offsets = {"exc": 0, "inh": exc.size}
    for projection in spec.projections:
        sign = 1.0 if projection.receptor == "exc" else -1.0  # NEST: inhibitory conductances are negative weights
        first = cells[0].global_id
        nest.Connect(
            projection.i + offsets[projection.pre] + first,  # arrays of node ids: NEST's array connect
            projection.j + offsets[projection.post] + first,
            "one_to_one",
            syn_spec={
                "weight": sign * projection.weights * 1e9,
                "delay": np.full(len(projection.i), 0.1),
            },
        )
    recorder = nest.Create("spike_recorder")
    nest.Connect(cells, recorder)
    started = time.perf_counter()
    nest.Simulate(1000.0)
    return time.perf_counter() - started, int(recorder.n_events)


def one(variant: str, n: int) -> tuple[float, int]:
    kind, _, what = variant.partition(":")
    if kind == "sn":
        return run_sn(n, what)
    if kind == "hand":
        return run_hand(n, what)
    return run_nest_builtin(n)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--neurons", type=int, default=4000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        seconds, spikes = one(args.one, args.neurons)
        print(json.dumps({"seconds": seconds, "spikes": spikes}))
        return
    results = {}
    for variant in args.variants.split(","):
        times, spikes = [], None
        for repeat in range(args.repeats + 1):  # the first run builds (code generation, compilation)
            out = subprocess.run(
                [sys.executable, __file__, "--one", variant, "--neurons", str(args.neurons)],
                capture_output=True,
                text=True,
                check=True,
            )
            data = json.loads(out.stdout.strip().splitlines()[-1])
            if repeat:
                times.append(data["seconds"])
            spikes = data["spikes"]
        results[variant] = (statistics.median(times), spikes)
        print(f"{variant:22s} {results[variant][0]:8.2f} s  {spikes} spikes", flush=True)
    print(
        f"\nCOBAHH, N = {args.neurons}, 1 s; {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
        f"brian2 {importlib.metadata.version('brian2')}, nest {importlib.metadata.version('nest-simulator')}"
    )
    for generated, reference in (
        ("sn:brian2", "hand:runtime"),
        ("sn:brian2-cpp", "hand:cpp_standalone"),
        ("sn:nest", "nest-builtin"),
    ):
        if generated in results and reference in results:
            print(f"  {generated} / {reference}: {results[generated][0] / results[reference][0]:.3f}")


if __name__ == "__main__":
    main()
