"""Benchmark: Brunel's (2000) model-A network through sn.Network vs hand-written NEST and Brian2.

N = 5 N_I neurons (80 % excitatory), LIF with delta synapses (``examples/models/brunel_lif.yaml``;
NEST's ``iaf_psc_delta``), fixed in-degrees C_E = N_E / 10 and C_I = N_I / 10 (at most 1,000 and
250: beyond N = 12,500 the network gets sparser instead of denser), J = 0.1 mV,
inhibition g*J (g = 5), 1.5 ms delays, dt 0.1 ms, and external drive at eta = 2 times the rate
that brings a neuron to threshold, C_E inputs of nu_ext = eta * theta / (J C_E tau_m) each:

- ``sn:BACKEND`` and ``hand:cpp_standalone``, ``hand:cuda_standalone``: a pool of N_E Poisson
  sources at nu_ext, C_E of them (fixed in-degree) per neuron;
- ``nest-builtin``: the same pool as ``poisson_generator`` -> ``parrot_neuron``, connected the
  same way (the same network, drawn by NEST);
- ``nest-builtin:generators``: one ``poisson_generator`` per neuron at C_E * nu_ext (NEST's own
  ``brunel_delta_nest.py`` drive: no pool and no connections from it).

Each variant runs in its own process; a first run builds (NESTML module, standalone project)
and is not timed. A run reports the wall time of its whole process (interpreter, imports,
build, run, results: what a user waits for) split into run (the simulator's own time) and
build (the rest), the peak resident memory of the process (and of its children: a standalone binary),
the synapse count, bytes per synapse (peak minus the memory after imports, over the synapses),
and the mean rate.

    python benchmarks/brunel.py [--neurons 12500] [--duration 600] [--variants ...] [--repeats 1]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from harness import report, set_brian2_device, threads

MODEL = Path(__file__).parents[1] / "examples" / "models" / "brunel_lif.yaml"
VARIANTS = ("sn:brian2-cpp", "hand:cpp_standalone", "sn:nest", "nest-builtin", "nest-builtin:generators")
PAIRS = (
    ("sn:brian2-cpp", "hand:cpp_standalone"),
    ("sn:brian2-cuda", "hand:cuda_standalone"),
    ("sn:nest", "nest-builtin"),
    ("sn:nest", "nest-builtin:generators"),
)
THETA, V_RESET, TAU_M, T_REF, J, DELAY = 20.0, 10.0, 20.0, 2.0, 0.1, 1.5  # mV, ms
G, ETA = 5.0, 2.0


def sizes(n: int, indegree: int | None = None) -> dict:
    """Sizes, in-degrees, J (mV) and the external rate. ``indegree`` (``--indegree``): C_E given
    (C_I = C_E / 4), with J = 0.1 mV * 1,000 / C_E so that the mean recurrent and external input
    stay Brunel's (the fluctuations grow as C_E shrinks)."""
    n_e = n * 4 // 5
    n_i = n - n_e
    if indegree:
        c_e, c_i, j = indegree, max(1, indegree // 4), J * 1000 / indegree
    else:
        # Brunel's connection probability of 0.1 up to N_E = 10,000, then in-degrees fixed at
        # C_E = 1,000 and C_I = 250 (larger networks get sparser, as in NEST's scaling benchmarks)
        c_e, c_i, j = max(1, min(n_e // 10, 1000)), max(1, min(n_i // 10, 250)), J
    nu_ext = ETA * THETA / (j * c_e * TAU_M) * 1e3  # Hz per external source
    synapses = n * (2 * c_e + c_i)
    return {"N_E": n_e, "N_I": n_i, "C_E": c_e, "C_I": c_i, "J": j, "nu_ext": nu_ext, "synapses": synapses}


def _rss_mb() -> float:
    with open("/proc/self/status") as status:
        line = next(x for x in status if x.startswith("VmRSS"))
    return int(line.split()[1]) / 1024


def _peak_mb() -> tuple[float, float]:
    """Peak resident memory of this process and of its largest finished child, MB."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return own, children


def run_sn(n: int, duration: float, backend: str, seed: int, indegree: int | None) -> dict:
    import importlib.util

    # the network of examples/brunel.py (its AI state: g = 5, eta = 2), loaded only here so that
    # the other variants do not import sourced_neuron
    spec = importlib.util.spec_from_file_location("brunel_example", MODEL.parents[1] / "brunel.py")
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    s = sizes(n, indegree)
    base = _rss_mb()
    started = time.perf_counter()
    net = example.build(n, G, ETA, seed, f"{DELAY} ms", indegree)
    block = net.run(f"{duration} ms", backend=backend, check_finite=False)
    total = time.perf_counter() - started
    run = float(block.annotations["run_seconds"])
    channels, _ = block.segments[0].spiketrains.multiplexed
    return _report(total, run, len(channels), n, duration, base, s["synapses"])


def run_nest(n: int, duration: float, drive: str, seed: int, indegree: int | None) -> dict:
    os.environ.setdefault("PYNEST_QUIET", "1")
    import nest

    s = sizes(n, indegree)
    base = _rss_mb()
    started = time.perf_counter()
    nest.ResetKernel()
    nest.set_verbosity("M_ERROR")
    nest.SetKernelStatus({"resolution": 0.1, "local_num_threads": threads(), "rng_seed": seed})
    # NEST's iaf_psc_delta holds V_m one step longer than t_ref (docs/semantics.md)
    params = {"C_m": 250.0, "tau_m": TAU_M, "t_ref": T_REF - 0.1, "E_L": 0.0, "V_th": THETA, "V_reset": V_RESET}
    exc = nest.Create("iaf_psc_delta", s["N_E"], params=params)
    inh = nest.Create("iaf_psc_delta", s["N_I"], params=params)
    cells = exc + inh
    cells.V_m = nest.random.uniform(0.0, THETA)
    excitatory = {"synapse_model": "static_synapse", "weight": s["J"], "delay": DELAY}
    inhibitory = {"synapse_model": "static_synapse", "weight": -G * s["J"], "delay": DELAY}
    if drive == "generators":
        noise = nest.Create("poisson_generator", params={"rate": s["nu_ext"] * s["C_E"]})
        nest.Connect(noise, cells, syn_spec=excitatory)  # an independent train per target
    else:
        noise = nest.Create("poisson_generator", params={"rate": s["nu_ext"]})
        pool = nest.Create("parrot_neuron", s["N_E"])
        nest.Connect(noise, pool)
        nest.Connect(pool, cells, {"rule": "fixed_indegree", "indegree": s["C_E"]}, excitatory)
    nest.Connect(exc, cells, {"rule": "fixed_indegree", "indegree": s["C_E"]}, excitatory)
    nest.Connect(inh, cells, {"rule": "fixed_indegree", "indegree": s["C_I"]}, inhibitory)
    recorder = nest.Create("spike_recorder")
    nest.Connect(cells, recorder)
    nest.Prepare()  # the build ends with NEST's own preparation (connection tables sorted)
    ran = time.perf_counter()
    nest.Run(duration)
    nest.Cleanup()
    run = time.perf_counter() - ran
    spikes = len(recorder.get("events", "senders"))
    total = time.perf_counter() - started
    return _report(total, run, spikes, n, duration, base, s["synapses"])


def run_brian2(n: int, duration: float, device: str, seed: int, indegree: int | None) -> dict:
    import brian2 as b2

    s = sizes(n, indegree)
    base = _rss_mb()
    started = time.perf_counter()
    folder = str(Path(tempfile.gettempdir()) / f"sn_brunel_{device}_{n}")
    set_brian2_device(b2, device, folder)
    b2.seed(seed)
    b2.defaultclock.dt = 0.1 * b2.ms
    namespace = {
        "tau_m": TAU_M * b2.ms,
        "theta": THETA * b2.mV,
        "V_reset": V_RESET * b2.mV,
        "J": s["J"] * b2.mV,
        "JI": -G * s["J"] * b2.mV,
    }
    cells = b2.NeuronGroup(
        n,
        "dv/dt = -v/tau_m : volt (unless refractory)",
        threshold="v > theta",
        reset="v = V_reset",
        refractory=T_REF * b2.ms,
        method="exact",
        namespace=namespace,
    )
    cells.v = "rand() * theta"
    pool = b2.PoissonGroup(s["N_E"], rates=s["nu_ext"] * b2.Hz)
    exc, inh = cells[: s["N_E"]], cells[s["N_E"] :]
    synapses = []
    for source, k, weight in ((pool, s["C_E"], "J"), (exc, s["C_E"], "J"), (inh, s["C_I"], "JI")):
        syn = b2.Synapses(source, cells, on_pre=f"v_post += {weight}", delay=DELAY * b2.ms, namespace=namespace)
        syn.connect(i=f"k for k in sample(N_pre, size={k})")  # fixed in-degree, drawn in generated code
        synapses.append(syn)
    monitor = b2.SpikeMonitor(cells)
    net = b2.Network(cells, pool, *synapses, monitor)
    net.run(duration * b2.ms, namespace=namespace)
    b2.device.build(directory=folder, compile=True, run=True, with_output=False)
    run = b2.device._last_run_time
    total = time.perf_counter() - started
    return _report(total, run, int(monitor.num_spikes), n, duration, base, s["synapses"])


def _report(total: float, run: float, spikes: int, n: int, duration: float, base: float, synapses: int) -> dict:
    own, children = _peak_mb()
    return {
        "total": total,
        "build": total - run,
        "run": run,
        "peak_mb": own,
        "children_peak_mb": children,
        "bytes_per_synapse": (max(own, children) - base) * 2**20 / synapses,
        "synapses": synapses,
        "spikes": spikes,
        "rate": spikes / n / (duration * 1e-3),
    }


def one(variant: str, n: int, duration: float, seed: int, indegree: int | None = None) -> dict:
    kind, _, what = variant.partition(":")
    if kind == "sn":
        return run_sn(n, duration, what, seed, indegree)
    if kind == "hand":
        return run_brian2(n, duration, what, seed, indegree)
    return run_nest(n, duration, what or "pool", seed, indegree)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--neurons", type=int, default=12500)
    parser.add_argument("--duration", type=float, default=600.0, help="ms of biological time")
    parser.add_argument("--repeats", type=int, default=1, help="timed runs after the first (building) one")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--indegree", type=int, help="C_E (C_I = C_E / 4), J scaled to keep J C_E")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(args.one, args.neurons, args.duration, args.seed, args.indegree)))
        return
    s = sizes(args.neurons, args.indegree)
    print(
        f"Brunel model A, N = {args.neurons:,} ({s['N_E']:,} E, {s['N_I']:,} I), C_E = {s['C_E']}, "
        f"{s['synapses']:,} synapses (with the pool), {args.duration:g} ms, {threads()} threads",
        flush=True,
    )
    results = {}
    for variant in args.variants.split(","):
        runs = []
        for repeat in range(args.repeats + 1):
            command = [sys.executable, __file__, "--one", variant, "--neurons", str(args.neurons)]
            command += ["--duration", str(args.duration), "--seed", str(args.seed)]
            command += ["--indegree", str(args.indegree)] if args.indegree else []
            started = time.perf_counter()
            out = subprocess.run(command, check=False, capture_output=True, text=True)
            wall = time.perf_counter() - started
            if out.returncode:
                print(f"{variant}: failed\n{out.stderr[-2000:]}", flush=True)
                break
            data = json.loads(out.stdout.strip().splitlines()[-1])
            # the whole process (interpreter, imports, build, run, results), as a user waits for it
            data.update(total=wall, build=wall - data["run"])
            print(f"  {variant} run {repeat}: " + ", ".join(f"{k} {v:.4g}" for k, v in data.items()), flush=True)
            if repeat or not args.repeats:
                runs.append(data)
        if runs:
            middle = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
            results[variant] = middle
            print(
                f"{variant:24s} total {middle['total']:7.1f} s = build {middle['build']:6.1f}"
                f" + run {middle['run']:6.1f}"
                f"  peak {max(middle['peak_mb'], middle['children_peak_mb']):6.0f} MB"
                f"  {middle['bytes_per_synapse']:5.1f} B/synapse  {middle['rate']:5.1f} Hz",
                flush=True,
            )
    report(
        f"Brunel A, N = {args.neurons:,}, {args.duration:g} ms (total wall time)",
        {k: (v["total"], v["spikes"]) for k, v in results.items()},
        PAIRS,
    )


if __name__ == "__main__":
    main()
