"""Benchmark: parameter sweeps (``sweep``) against hand-written Brian2 batches, a loop of
``sn.simulate`` calls, and Dask.

Four cases, every timed run in a fresh process (Brian2's devices are per process), the first run
of each variant not timed (it generates and compiles; the compiled projects are cached on disk,
so later runs pay no compilation, as every sweep after the first on a machine), then
``--repeats`` timed runs of each variant of a case, alternating the variants; medians:

``laa``
    The library ``laa`` (RK4, dt 0.1 ms, 1 s, 250 pA), ``g_L`` x ``k`` on a grid (200 x 100 =
    20,000 sets), ``sweep(..., backend="brian2-cpp", batch_size=20000, client="synchronous")``
    with one OpenMP thread, against the same batch written by hand in plain Brian2 C++ standalone
    (one ``NeuronGroup``, ``g_L`` and ``k`` per neuron, compiled once, the values passed as
    ``run_args``, a ``SpikeMonitor``, rates with NumPy). Both timed as a user sees them: the
    sweep from the call to the DataFrame; the hand-written batch from making the group to the
    rates (code generation, the ``make`` that has nothing to do, the run, reading the spikes:
    running a standalone project again from a new process generates its code again).
``hh``
    The library ``hh``, its 8 parameters (C_m, g_Na, g_K, g_L, E_Na, E_K, E_L, V_T) drawn
    uniformly within +-20 % of the defaults (``--hh-sets``, 1,000), 600 pA, 1 s at dt 0.01 ms,
    against the same batch by hand (the gating variables start at their steady state, computed
    with NumPy), as ``laa``.
``loop``
    ``sweep`` of 1,000 ``lif`` sets (10 ``tau_m`` x 100 ``I_ext``, backend ``brian2``, the
    runtime, one batch, synchronous) against a loop of ``sn.simulate`` calls, one per set; the
    loop runs the first ``--loop-calls`` sets (one ``tau_m``, 100 currents) and its time is
    extrapolated to all sets (:func:`loop_sets`).
``dask``
    The ``laa`` sweep of ``--dask-batches`` batches of ``--dask-batch-size`` sets on a local
    Dask cluster of 1 and of 2 single-threaded worker processes (and synchronously, for
    reference), on ``brian2-cpp`` and ``brian2``; the cluster is started and its workers import
    Brian2 before the timed call. Dask's cost per batch: ``--tiny-batches`` one-set batches of
    ``lif`` for 10 ms through a 1-worker cluster and synchronously, the difference divided by
    the number of batches.

Every case checks that its variants give the same rates (the maximum difference is printed).

    python benchmarks/sweep.py [--quick] [--cases laa,hh,loop,dask] [--repeats 3]
        [--laa-grid 200x100] [--hh-sets 1000] [--loop-sets 1000] [--loop-calls 100]
        [--dask-batches 8] [--dask-batch-size 1000] [--dask-backends brian2-cpp,brian2]
        [--tiny-batches 100] [--profile laa:sweep] [--json results.json]

``--profile VARIANT`` (``laa:sweep``, ``dask:brian2-cpp:sync``, ...) runs one more run of a
variant in its own process, its timed call under cProfile, and prints where the time goes. The
Dask variants also print the time their workers waited for a compiled project's lock and the
cost of a no-op Dask task; every run prints the load average before it (other processes share
the cores). ``SOURCED_NEURON_THREADS`` is 1 in every run (one OpenMP thread per process).
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
import tempfile
import time
from pathlib import Path

import numpy as np

CASES = ("laa", "hh", "loop", "dask")
LAA_CURRENT_PA = 250.0
LAA_G_L = (0.04, 0.13)  # mS/cm**2: most sets fire at 250 pA (none above about 0.14)
LAA_K = (3.0, 15.0)  # mV
HH_CURRENT_PA = 600.0
HH_DT_MS = 0.01
HH_NAMES = ("C_m", "g_Na", "g_K", "g_L", "E_Na", "E_K", "E_L", "V_T")
HH_SEED = 2024
LIF_TAU_MS = (10.0, 30.0)  # not 5 or 8 ms: the receptor ports' time constants
LIF_CURRENT_PA = (100.0, 400.0)
TINY_MS = 10.0


# --- the parameter sets (SI values, the same on every side) ---------------------------------------


def laa_axes(cfg: dict) -> tuple[np.ndarray, np.ndarray]:
    """``g_L`` (S/m**2) and ``k`` (V) axes of the grid."""
    n_g, n_k = cfg["laa_grid"]
    return np.linspace(*LAA_G_L, n_g) * 10.0, np.linspace(*LAA_K, n_k) * 1e-3  # 1 mS/cm**2 = 10 S/m**2


def laa_params(cfg: dict, n_sets: int | None = None) -> dict:
    """The sweep's ``params``: the grid as Brian2 quantities (exact SI values); ``n_sets`` takes
    the first sets of ``g_L``-rows (the Dask case)."""
    import brian2 as b2

    g_l, k = laa_axes(cfg)
    if n_sets is not None:
        g_l = g_l[: max(1, n_sets // len(k))]
    return {"g_L": g_l * b2.siemens / b2.meter**2, "k": k * b2.volt}


def hh_defaults() -> dict[str, float]:
    """The SI defaults of the varied ``hh`` parameters (models/hh.yaml)."""
    return {
        "C_m": 141e-12,
        "g_Na": 7.05e-6,
        "g_K": 1.41e-6,
        "g_L": 21.15e-9,
        "E_Na": 50e-3,
        "E_K": -100e-3,
        "E_L": -70e-3,
        "V_T": -55e-3,
    }


def hh_bounds() -> dict[str, tuple[float, float]]:
    return {name: tuple(sorted((0.8 * value, 1.2 * value))) for name, value in hh_defaults().items()}


def hh_params() -> dict:
    """The sweep's samplers: uniform within +-20 % (bounds as Brian2 quantities, exact SI)."""
    import brian2 as b2

    units = {"C_m": b2.farad, "g_Na": b2.siemens, "g_K": b2.siemens, "g_L": b2.siemens}
    return {
        name: {"uniform": [lo * units.get(name, b2.volt), hi * units.get(name, b2.volt)]}
        for name, (lo, hi) in hh_bounds().items()
    }


def hh_values(n: int) -> dict[str, np.ndarray]:
    """The sets ``hh_params`` draws (``ParameterSpace``: one generator, the names in order)."""
    rng = np.random.default_rng(HH_SEED)
    return {name: rng.uniform(lo, hi, n) for name, (lo, hi) in hh_bounds().items()}


def lif_axes(cfg: dict) -> tuple[np.ndarray, np.ndarray]:
    """``tau_m`` (s) and ``I_ext`` (A) axes: 10 time constants x the rest in currents."""
    n_tau = 10
    n_i = max(1, cfg["loop_sets"] // n_tau)
    return np.linspace(*LIF_TAU_MS, n_tau) * 1e-3, np.linspace(*LIF_CURRENT_PA, n_i) * 1e-12


# --- the variants (each runs in its own process: ``--one VARIANT``) ---------------------------------

#: ``--profile``: the child's timed call runs under this profiler.
PROFILER: list = []


def clock(call):
    """``call()`` and the seconds it took (under cProfile in a ``--profile`` run)."""
    profiler = PROFILER[0] if PROFILER else None
    if profiler is not None:
        profiler.enable()
    started = time.perf_counter()
    result = call()
    seconds = time.perf_counter() - started
    if profiler is not None:
        profiler.disable()
    return result, seconds


def sweep_function():
    """``sn.sweep`` where the package exports it, else the stage's own function."""
    import sourced_neuron as sn

    try:
        return sn.sweep
    except AttributeError:
        from sourced_neuron.experiments.sweep import sweep

        return sweep


class StandaloneTimes:
    """Brian2's own time of the compiled program's loop (``device._last_run_time``) of every
    standalone run in this process, read from the device after each ``device.run``."""

    def __init__(self):
        from brian2.devices.cpp_standalone.device import CPPStandaloneDevice

        self.loops: list[float] = []
        original = CPPStandaloneDevice.run
        times = self

        def run(device, *args, **kwargs):
            result = original(device, *args, **kwargs)
            times.loops.append(float(device._last_run_time))
            return result

        CPPStandaloneDevice.run = run


def one_laa_sweep(cfg: dict) -> dict:
    import brian2  # noqa: F401 - imported before the clock starts, as the hand-written side

    sweep = sweep_function()
    loops = StandaloneTimes()
    params = laa_params(cfg)
    n = int(np.prod(cfg["laa_grid"]))
    frame, seconds = clock(
        lambda: sweep(
            "laa",
            params,
            stimulus=f"{LAA_CURRENT_PA} pA",
            duration="1 s",
            backend="brian2-cpp",
            batch_size=n,
            client="synchronous",
            measures=("rate",),
            progress=False,
        )
    )
    return {"seconds": seconds, "rates": frame["rate"].to_numpy(), "loop": sum(loops.loops)}


def hand_standalone(cfg: dict, name: str, make_group, run_args, duration_s: float, dt_s: float) -> dict:
    """Build (generation, ``make``), run and read a hand-written one-group batch; phases timed."""
    import brian2 as b2

    folder = Path(cfg["workdir"]) / name
    profiler = PROFILER[0] if PROFILER else None
    if profiler is not None:
        profiler.enable()
    started = time.perf_counter()
    b2.set_device("cpp_standalone", directory=str(folder), build_on_run=False)
    b2.prefs.devices.cpp_standalone.openmp_threads = 1
    group = make_group(b2, dt_s)
    monitor = b2.SpikeMonitor(group, record=True)
    b2.Network(group, monitor).run(duration_s * b2.second)
    generated = time.perf_counter()
    b2.device.build(directory=str(folder), compile=True, run=False, with_output=False)
    built = time.perf_counter()
    b2.device.run(directory=str(folder), with_output=False, run_args=run_args(b2, group))
    ran = time.perf_counter()
    counts = np.bincount(np.asarray(monitor.i[:]), minlength=len(group))
    rates = counts / duration_s
    seconds = time.perf_counter() - started
    if profiler is not None:
        profiler.disable()
    return {
        "seconds": seconds,
        "rates": rates,
        "loop": float(b2.device._last_run_time),
        "phases": {
            "generate": generated - started,
            "build": built - generated,
            "run": ran - built,
            "read": seconds - (ran - started),
        },
    }


def one_laa_hand(cfg: dict) -> dict:
    import brian2  # noqa: F401 - imported before the clock starts

    g_axis, k_axis = laa_axes(cfg)
    g_l, k = np.repeat(g_axis, len(k_axis)), np.tile(k_axis, len(g_axis))  # the grid's order

    def make_group(b2, dt_s):
        equations = """
        dv/dt = (-g_L*(v - E_L) + G_act/(1 + exp(-(v - V_thr)/k)) + I_ext/A_m)/C_m : volt (unless refractory)
        g_L : siemens/meter**2 (constant)
        k : volt (constant)
        """
        namespace = {
            "C_m": 1 * b2.uF / b2.cm**2,
            "E_L": -65 * b2.mV,
            "V_thr": -50 * b2.mV,
            "G_act": 1 * b2.uA / b2.cm**2,
            "A_m": 1e-4 * b2.cm**2,
            "V_spike": -40 * b2.mV,
            "V_reset": -65 * b2.mV,
            "I_ext": LAA_CURRENT_PA * b2.pA,
        }
        group = b2.NeuronGroup(
            len(g_l),
            equations,
            threshold="v > V_spike",
            reset="v = V_reset",
            refractory=2 * b2.ms,
            method="rk4",
            namespace=namespace,
            dt=dt_s * b2.second,
        )
        group.v = -65 * b2.mV
        return group

    def run_args(b2, group):
        return {group.g_L: g_l * b2.siemens / b2.meter**2, group.k: k * b2.volt}

    return hand_standalone(cfg, f"hand-laa-{len(g_l)}", make_group, run_args, 1.0, 1e-4)


def one_hh_sweep(cfg: dict) -> dict:
    import brian2  # noqa: F401 - imported before the clock starts

    sweep = sweep_function()
    loops = StandaloneTimes()
    params = hh_params()
    n = cfg["hh_sets"]
    frame, seconds = clock(
        lambda: sweep(
            "hh",
            params,
            n=n,
            seed=HH_SEED,
            stimulus=f"{HH_CURRENT_PA} pA",
            duration=f"{cfg['hh_duration_s']} s",
            dt=f"{HH_DT_MS} ms",
            backend="brian2-cpp",
            batch_size=n,
            client="synchronous",
            measures=("rate",),
            progress=False,
        )
    )
    return {"seconds": seconds, "rates": frame["rate"].to_numpy(), "loop": sum(loops.loops)}


def exprel(x: np.ndarray) -> np.ndarray:
    safe = np.where(x == 0, 1.0, x)
    return np.where(x == 0, 1.0, np.expm1(safe) / safe)


def one_hh_hand(cfg: dict) -> dict:
    import brian2  # noqa: F401 - imported before the clock starts

    n = cfg["hh_sets"]
    values = hh_values(n)

    def make_group(b2, dt_s):
        # models/hh.yaml without its receptor ports (an unconnected cell: I_syn = 0)
        equations = """
        dv/dt = (g_L*(E_L - v) - g_Na*m**3*h*(v - E_Na) - g_K*n**4*(v - E_K) + I_ext)/C_m : volt
        dm/dt = alpha_m*(1 - m) - beta_m*m : 1
        dh/dt = alpha_h*(1 - h) - beta_h*h : 1
        dn/dt = alpha_n*(1 - n) - beta_n*n : 1
        alpha_m = 1.28/exprel((13*mV - v + V_T)/(4*mV))/ms : Hz
        beta_m = 1.4/exprel((v - V_T - 40*mV)/(5*mV))/ms : Hz
        alpha_h = 0.128*exp((17*mV - v + V_T)/(18*mV))/ms : Hz
        beta_h = 4/(1 + exp((40*mV - v + V_T)/(5*mV)))/ms : Hz
        alpha_n = 0.16/exprel((15*mV - v + V_T)/(5*mV))/ms : Hz
        beta_n = 0.5*exp((10*mV - v + V_T)/(40*mV))/ms : Hz
        C_m : farad (constant)
        g_Na : siemens (constant)
        g_K : siemens (constant)
        g_L : siemens (constant)
        E_Na : volt (constant)
        E_K : volt (constant)
        E_L : volt (constant)
        V_T : volt (constant)
        """
        namespace = {"V_spike": -20 * b2.mV, "I_ext": HH_CURRENT_PA * b2.pA}
        return b2.NeuronGroup(
            n,
            equations,
            threshold="v > V_spike",
            refractory="v > V_spike",
            method="exponential_euler",
            namespace=namespace,
            dt=dt_s * b2.second,
        )

    def run_args(b2, group):
        # the initial values of models/hh.yaml: v = E_L, the gates at their steady state there
        v, v_t = values["E_L"], values["V_T"]
        m = 1 / (1 + 1.4 / exprel((v - v_t - 40e-3) / 5e-3) * exprel((13e-3 - v + v_t) / 4e-3) / 1.28)
        h = 1 / (1 + 4 / (1 + np.exp((40e-3 - v + v_t) / 5e-3)) / (0.128 * np.exp((17e-3 - v + v_t) / 18e-3)))
        gate_n = 1 / (1 + 0.5 * np.exp((10e-3 - v + v_t) / 40e-3) * exprel((15e-3 - v + v_t) / 5e-3) / 0.16)
        units = {"C_m": b2.farad, "g_Na": b2.siemens, "g_K": b2.siemens, "g_L": b2.siemens}
        args = {getattr(group, name): array * units.get(name, b2.volt) for name, array in values.items()}
        args.update({group.v: v * b2.volt, group.m: m, group.h: h, group.n: gate_n})
        return args

    name = f"hand-hh-{n}-{cfg['hh_duration_s']}"
    return hand_standalone(cfg, name, make_group, run_args, cfg["hh_duration_s"], HH_DT_MS * 1e-3)


def lif_params(cfg: dict) -> dict:
    import brian2 as b2

    tau, current = lif_axes(cfg)
    return {"tau_m": tau * b2.second, "I_ext": current * b2.amp}


def one_loop_sweep(cfg: dict) -> dict:
    import brian2  # noqa: F401 - imported before the clock starts

    sweep = sweep_function()
    params = lif_params(cfg)
    frame, seconds = clock(
        lambda: sweep(
            "lif", params, duration="1 s", backend="brian2", client="synchronous", measures=("rate",), progress=False
        )
    )
    return {"seconds": seconds, "rates": frame["rate"].to_numpy()}


def loop_sets(cfg: dict) -> np.ndarray:
    """The sets the loop simulates: the first ``--loop-calls`` of the grid (``tau_m`` varies
    slowest). In a loop over every set, Brian2 solves the equations again (SymPy, about 1.5 s)
    for each new ``tau_m`` (a constant of the namespace on the runtime) and not for a new
    current; the first block of sets has the same share of new ``tau_m`` values as the whole
    grid when ``--loop-calls`` is a multiple of the currents per ``tau_m``."""
    tau, current = lif_axes(cfg)
    total = len(tau) * len(current)
    return np.arange(min(cfg["loop_calls"], total))


def one_loop_simulate(cfg: dict) -> dict:
    import brian2 as b2

    import sourced_neuron as sn

    tau, current = lif_axes(cfg)
    chosen = loop_sets(cfg)
    rates = np.full(len(tau) * len(current), np.nan)
    started = time.perf_counter()
    for k in chosen:
        block = sn.simulate(
            "lif",
            backend="brian2",
            duration="1 s",
            params={"tau_m": tau[k // len(current)] * b2.second},
            stimulus=current[k % len(current)] * b2.amp,
            record=(),
        )
        channels, _ = block.segments[0].spiketrains.multiplexed
        rates[k] = len(channels) / 1.0
    seconds = time.perf_counter() - started
    return {"seconds": seconds * len(rates) / len(chosen), "measured": seconds, "calls": len(chosen), "rates": rates}


def one_dask(cfg: dict, backend: str, workers: str) -> dict:
    import brian2  # noqa: F401 - imported before the clock starts

    sweep = sweep_function()
    n_sets = cfg["dask_batches"] * cfg["dask_batch_size"]
    params = laa_params(cfg, n_sets)
    return dask_sweep(
        workers,
        lambda client: sweep(
            "laa",
            params,
            stimulus=f"{LAA_CURRENT_PA} pA",
            duration="1 s",
            backend=backend,
            batch_size=cfg["dask_batch_size"],
            client=client,
            measures=("rate",),
            progress=False,
        ),
    )


def one_tiny(cfg: dict, workers: str) -> dict:
    import brian2 as b2

    sweep = sweep_function()
    currents = np.linspace(*LIF_CURRENT_PA, cfg["tiny_batches"]) * 1e-12 * b2.amp
    return dask_sweep(
        workers,
        lambda client: sweep(
            "lif",
            {"I_ext": currents},
            duration=f"{TINY_MS} ms",
            backend="brian2",
            batch_size=1,
            client=client,
            measures=("spike_count",),
            progress=False,
        ),
        column="spike_count",
    )


def _warm_worker() -> None:
    """Import what a batch needs, and count the time spent waiting for the lock of a compiled
    project (``brian2-cpp`` runs one project at a time per folder)."""
    import brian2  # noqa: F401

    import sourced_neuron.experiments.sweep  # noqa: F401
    from sourced_neuron.common import cache

    acquire = cache.acquire
    waits = []

    def timed_acquire(*args, **kwargs):
        started = time.perf_counter()
        lock = acquire(*args, **kwargs)
        waits.append(time.perf_counter() - started)
        return lock

    cache.acquire = timed_acquire
    cache.bench_lock_waits = waits


def _lock_wait() -> float:
    from sourced_neuron.common import cache

    return float(sum(getattr(cache, "bench_lock_waits", [])))


def _noop(k: int) -> int:
    return k


def dask_sweep(workers: str, call, column: str = "rate") -> dict:
    """Time ``call(client)``: synchronous, or on a local cluster of ``workers`` processes
    (started, and its workers' imports done, before the clock starts); on a cluster also the
    time its workers waited for project locks and the cost of one no-op Dask task."""
    client = cluster = None
    extra = {"startup": 0.0}
    if workers != "sync":
        from dask.distributed import Client, LocalCluster

        started = time.perf_counter()
        cluster = LocalCluster(
            n_workers=int(workers), threads_per_worker=1, processes=True, dashboard_address=":0", memory_limit=0
        )
        client = Client(cluster)
        client.run(_warm_worker)
        extra["startup"] = time.perf_counter() - started
    try:
        frame, seconds = clock(lambda: call(client if client is not None else "synchronous"))
        if client is not None:
            extra["lock_wait"] = sum(client.run(_lock_wait).values())
            started = time.perf_counter()
            client.gather(client.map(_noop, range(200), pure=False))
            extra["noop_task"] = (time.perf_counter() - started) / 200
    finally:
        if client is not None:
            client.close()
            cluster.close()
    return {"seconds": seconds, "rates": frame[column].to_numpy(dtype=float), **extra}


def run_one(variant: str, cfg: dict) -> dict:
    case, _, what = variant.partition(":")
    if case == "laa":
        return one_laa_sweep(cfg) if what == "sweep" else one_laa_hand(cfg)
    if case == "hh":
        return one_hh_sweep(cfg) if what == "sweep" else one_hh_hand(cfg)
    if case == "loop":
        return one_loop_sweep(cfg) if what == "sweep" else one_loop_simulate(cfg)
    if case == "dask":
        backend, _, workers = what.partition(":")
        return one_dask(cfg, backend, workers)
    if case == "tiny":
        return one_tiny(cfg, what)
    raise SystemExit(f"unknown variant {variant!r}")


# --- the parent: processes, medians, the table -------------------------------------------------------


def case_variants(case: str, cfg: dict) -> list[str]:
    if case == "laa":
        return ["laa:sweep", "laa:hand"]
    if case == "hh":
        return ["hh:sweep", "hh:hand"]
    if case == "loop":
        return ["loop:sweep", "loop:simulate"]
    variants = []
    for backend in cfg["dask_backends"]:
        variants += [f"dask:{backend}:sync", f"dask:{backend}:1", f"dask:{backend}:2"]
    return variants


def run_child(variant: str, cfg: dict) -> dict:
    """One run of ``variant`` in a fresh process; its result (the rates in a file) and the
    load average of the minute before it (other processes on the machine)."""
    load = os.getloadavg()[0]
    rates = Path(cfg["workdir"]) / f"rates-{variant.replace(':', '-')}.npy"
    env = dict(os.environ, SOURCED_NEURON_THREADS="1", PYTHONWARNINGS="ignore")
    command = [sys.executable, __file__, "--one", variant, "--config", json.dumps(cfg), "--rates", str(rates)]
    out = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if out.returncode:
        sys.stderr.write(out.stdout + out.stderr)
        raise SystemExit(f"{variant} failed (exit status {out.returncode})")
    data = json.loads(out.stdout.strip().splitlines()[-1])
    data["rates"] = np.load(rates)
    data["load"] = load
    return data


def run_case(case: str, variants: list[str], cfg: dict, repeats: int) -> dict[str, dict]:
    """The build run of every variant, then ``repeats`` rounds of all of them (alternating)."""
    results: dict[str, dict] = {v: {"times": [], "runs": []} for v in variants}
    for variant in variants:
        started = time.perf_counter()
        data = run_child(variant, cfg)
        results[variant]["first"] = data["seconds"]
        results[variant]["first_process"] = time.perf_counter() - started
        print(f"  {variant:24s} first run (builds, not timed): {data['seconds']:8.3f} s", flush=True)
    for repeat in range(repeats):
        order = variants if repeat % 2 == 0 else variants[::-1]
        for variant in order:
            data = run_child(variant, cfg)
            results[variant]["times"].append(data["seconds"])
            results[variant]["runs"].append(data)
            extra = ""
            if "loop" in data:
                extra += f"  (C++ loop {data['loop']:.3f} s)"
            if data.get("startup"):
                extra += f"  (cluster start {data['startup']:.2f} s, not timed)"
            if "lock_wait" in data:
                extra += f"  (lock waits {data['lock_wait']:.2f} s, no-op task {data['noop_task'] * 1e3:.1f} ms)"
            extra += f"  [load {data['load']:.1f}]"
            print(f"  {variant:24s} {data['seconds']:8.3f} s{extra}", flush=True)
    for result in results.values():
        result["median"] = statistics.median(result["times"])
        result["rates"] = result["runs"][-1]["rates"]
    return results


def max_difference(a: np.ndarray, b: np.ndarray) -> tuple[float, int]:
    """Largest rate difference where both have a value, and how many sets were compared."""
    both = np.isfinite(a) & np.isfinite(b)
    return (float(np.max(np.abs(a[both] - b[both]))) if both.any() else float("nan")), int(both.sum())


def summarize(case: str, results: dict[str, dict], cfg: dict) -> list[str]:
    """Lines of the table for one case."""
    lines = []

    def times(v: str) -> str:
        r = results[v]
        return f"{r['median']:.3f} s (runs: {', '.join(f'{t:.3f}' for t in r['times'])}; first {r['first']:.1f} s)"

    if case in ("laa", "hh"):
        sweep_, hand = results[f"{case}:sweep"], results[f"{case}:hand"]
        n = len(hand["rates"])
        diff, compared = max_difference(sweep_["rates"], hand["rates"])
        firing = int(np.sum(hand["rates"] > 0))
        lines.append(
            f"{case}: {n} sets, {firing} fire; hand-written rates "
            f"{np.min(hand['rates']):.0f}-{np.max(hand['rates']):.0f} Hz"
        )
        lines.append(f"  sweep (brian2-cpp, synchronous) {times(f'{case}:sweep')}")
        lines.append(f"  hand-written cpp_standalone     {times(f'{case}:hand')}")
        loops = [statistics.median([d["loop"] for d in results[v]["runs"]]) for v in (f"{case}:sweep", f"{case}:hand")]
        lines.append(f"  C++ loop (Brian2's measure): sweep {loops[0]:.3f} s, hand-written {loops[1]:.3f} s")
        phases = {k: statistics.median([d["phases"][k] for d in hand["runs"]]) for k in hand["runs"][0]["phases"]}
        lines.append("  hand-written phases: " + ", ".join(f"{k} {v:.3f} s" for k, v in phases.items()))
        lines.append(f"  ratio sweep / hand-written: {sweep_['median'] / hand['median']:.3f}")
        lines.append(
            f"  sets per second per core: sweep {n / sweep_['median']:.0f}, hand-written {n / hand['median']:.0f}"
        )
        lines.append(f"  max rate difference: {diff:g} Hz over {compared} sets")
    elif case == "loop":
        sweep_, loop = results["loop:sweep"], results["loop:simulate"]
        run = loop["runs"][-1]
        n = len(sweep_["rates"])
        diff, compared = max_difference(sweep_["rates"], loop["rates"])
        lines.append(f"loop: {n} lif sets, backend brian2 (runtime), 1 s each")
        lines.append(f"  sweep, one batch, synchronous  {times('loop:sweep')}")
        measured = statistics.median([d["measured"] for d in loop["runs"]])
        lines.append(
            f"  loop of sn.simulate            {times('loop:simulate')}  "
            f"(extrapolated from {run['calls']} calls: {measured:.3f} s, "
            f"{measured / run['calls'] * 1e3:.1f} ms per call)"
        )
        lines.append(f"  speed-up of the sweep: {loop['median'] / sweep_['median']:.1f}x")
        lines.append(f"  max rate difference: {diff:g} Hz over {compared} sets")
    elif case == "dask":
        n = cfg["dask_batches"] * cfg["dask_batch_size"]
        lines.append(f"dask: laa, {n} sets in {cfg['dask_batches']} batches of {cfg['dask_batch_size']}, 1 s each")
        reference = None
        for backend in cfg["dask_backends"]:
            for workers in ("sync", "1", "2"):
                v = f"dask:{backend}:{workers}"
                label = "synchronous" if workers == "sync" else f"{workers} worker(s)"
                startup = statistics.median([d["startup"] for d in results[v]["runs"]])
                extra = ""
                if workers != "sync":
                    waits = statistics.median([d["lock_wait"] for d in results[v]["runs"]])
                    extra = f", cluster start {startup:.2f} s not timed, waited {waits:.2f} s for project locks"
                lines.append(f"  {backend:10s} {label:12s} {times(v)}{extra}")
                reference = results[v]["rates"] if reference is None else reference
                diff, _ = max_difference(results[v]["rates"], reference)
                if diff:
                    lines.append(f"    rates differ from the first variant's by up to {diff:g} Hz")
            one, two = results[f"dask:{backend}:1"]["median"], results[f"dask:{backend}:2"]["median"]
            best = min(results[f"dask:{backend}:1"]["times"]) / min(results[f"dask:{backend}:2"]["times"])
            lines.append(f"  {backend}: speed-up 2 workers / 1 worker: {one / two:.2f}x (fastest runs: {best:.2f}x)")
    elif case == "tiny":
        sync, dask1 = results["tiny:sync"], results["tiny:1"]
        count = cfg["tiny_batches"]
        lines.append(f"dask overhead: {count} one-set batches of lif, {TINY_MS} ms, backend brian2")
        lines.append(f"  synchronous {times('tiny:sync')}")
        lines.append(f"  1 worker    {times('tiny:1')}")
        noop = statistics.median([d["noop_task"] for d in dask1["runs"]])
        lines.append(
            f"  Dask's cost per batch: {(dask1['median'] - sync['median']) / count * 1e3:.1f} ms "
            f"(a batch synchronously: {sync['median'] / count * 1e3:.1f} ms; a no-op Dask task: {noop * 1e3:.1f} ms)"
        )
    return lines


def machine() -> str:
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = [f"Python {platform.python_version()}"]
    for package in ("brian2", "dask", "distributed", "numpy", "pandas"):
        try:
            versions.append(f"{package} {importlib.metadata.version(package)}")
        except importlib.metadata.PackageNotFoundError:
            pass
    return f"{model}, {os.cpu_count()} cores; " + ", ".join(versions)


def profile(variant: str, cfg: dict) -> None:
    """One more run of ``variant`` (in its own process, after the build runs) with its timed
    call under cProfile; prints where the time goes."""
    env = dict(os.environ, SOURCED_NEURON_THREADS="1", PYTHONWARNINGS="ignore")
    rates = Path(cfg["workdir"]) / "rates-profile.npy"
    command = [sys.executable, __file__, "--one", variant, "--config", json.dumps(cfg), "--rates", str(rates)]
    out = subprocess.run([*command, "--profile-child"], capture_output=True, text=True, env=env, check=False)
    print(f"\nprofile of {variant}:")
    print("\n".join(out.stdout.splitlines()[:-1]))
    if out.returncode:
        sys.stderr.write(out.stderr)


def print_profile(profiler, seconds: float) -> None:
    import pstats

    print(f"the timed call: {seconds:.3f} s under cProfile")
    stats = pstats.Stats(profiler).strip_dirs()
    stats.sort_stats("cumulative").print_stats(45)
    stats.sort_stats("tottime").print_stats(25)


def config(args) -> dict:
    grid = tuple(int(x) for x in args.laa_grid.lower().split("x"))
    cfg = {
        "workdir": args.workdir,
        "laa_grid": grid,
        "hh_sets": args.hh_sets,
        "hh_duration_s": args.hh_duration,
        "loop_sets": args.loop_sets,
        "loop_calls": args.loop_calls,
        "dask_batches": args.dask_batches,
        "dask_batch_size": args.dask_batch_size,
        "dask_backends": args.dask_backends.split(","),
        "tiny_batches": args.tiny_batches,
    }
    if args.quick:
        cfg.update(
            laa_grid=(20, 10),
            hh_sets=20,
            hh_duration_s=0.2,
            loop_sets=50,
            loop_calls=5,
            dask_batches=4,
            dask_batch_size=50,
            tiny_batches=10,
        )
    return cfg


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, one repeat: a smoke run")
    parser.add_argument("--cases", default=",".join(CASES), help=f"some of {', '.join(CASES)}")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--laa-grid", default="200x100", help="g_L values x k values (default 200x100)")
    parser.add_argument("--hh-sets", type=int, default=1000)
    parser.add_argument("--hh-duration", type=float, default=1.0, help="seconds (default 1)")
    parser.add_argument("--loop-sets", type=int, default=1000)
    parser.add_argument("--loop-calls", type=int, default=100, help="sn.simulate calls timed (extrapolated)")
    parser.add_argument("--dask-batches", type=int, default=8)
    parser.add_argument("--dask-batch-size", type=int, default=1000)
    parser.add_argument("--dask-backends", default="brian2-cpp,brian2")
    parser.add_argument("--tiny-batches", type=int, default=100)
    parser.add_argument("--profile", help="a variant to profile (e.g. laa:sweep), after the cases")
    parser.add_argument("--workdir", default=str(Path(tempfile.gettempdir()) / "sourced-neuron-bench-sweep"))
    parser.add_argument("--json", help="write the results here")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--config", help=argparse.SUPPRESS)
    parser.add_argument("--rates", help=argparse.SUPPRESS)
    parser.add_argument("--profile-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        if args.profile_child:
            import cProfile

            PROFILER.append(cProfile.Profile())
        data = run_one(args.one, json.loads(args.config))
        if args.profile_child:
            print_profile(PROFILER[0], data["seconds"])
        np.save(args.rates, np.asarray(data.pop("rates"), dtype=float))
        print(json.dumps(data))
        return
    cfg = config(args)
    repeats = 1 if args.quick else args.repeats
    Path(cfg["workdir"]).mkdir(parents=True, exist_ok=True)
    print(machine(), flush=True)
    cases = [c for c in args.cases.split(",") if c]
    table, everything = [], {}
    for case in cases:
        groups = [case] if case != "dask" else ["dask", "tiny"]
        for group in groups:
            variants = ["tiny:sync", "tiny:1"] if group == "tiny" else case_variants(group, cfg)
            print(f"{group}:", flush=True)
            results = run_case(group, variants, cfg, repeats)
            lines = summarize(group, results, cfg)
            loads = [d["load"] for r in results.values() for d in r["runs"]]
            lines.append(
                f"  load average before the timed runs: {min(loads):.1f} to {max(loads):.1f} ({os.cpu_count()} cores)"
            )
            print("\n".join(lines), flush=True)
            table += lines
            everything[group] = {v: {k: r[k] for k in ("times", "median", "first")} for v, r in results.items()}
    print(f"\n{machine()}; {repeats} timed run(s) per variant, medians; SOURCED_NEURON_THREADS=1")
    print("\n".join(table))
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": machine(), "config": cfg, "results": everything}, indent=1))
    if args.profile:
        profile(args.profile, cfg)


if __name__ == "__main__":
    main()
