"""Benchmark: the simulations an LAA posterior is trained on, and sampling for a new observation.

python benchmarks/inference.py --posterior out/inference_laa_statistics [--simulations 100000]

``simulations``
    The training set of ``examples/inference.py --model laa``: the seed project's five LAA
    parameters drawn from the prior, the 1 s staircase, the trace recorded every 10 ms, through
    :class:`~sourced_neuron.inference.simulations.SimulationStore` into a new folder (nothing
    stored before), on ``brian2-cpp``: synchronously in this process (one OpenMP thread per
    batch), and on the embedded local Dask cluster (one worker process per core). The compiled
    project is built once before timing (a machine's first run compiles it once, about 20 s).
    Against the same sets simulated by hand in plain Brian2 C++ standalone (one ``NeuronGroup``
    of 10,000 neurons per batch, the parameters as run arguments, a ``StateMonitor`` every 100
    steps and a ``SpikeMonitor``).
``sample``
    A trained posterior (``--posterior``, written by ``examples/inference.py``) loaded in this
    process; 1,000 draws for each of ``--observations`` new observations, after one call that
    compiles the flow for that shape; the median and the largest time per observation, from the
    observation's Neo block to the DataFrame.

Prints one line per measurement and a JSON summary.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples"))

from inference import SETUPS, staircase

from sourced_neuron.inference import Prior
from sourced_neuron.inference.simulations import Protocol, SimulationStore


def protocol() -> tuple[Protocol, Prior]:
    setup = SETUPS["laa"]
    made = Protocol.make("laa", stimulus=staircase(setup["levels"]), duration="1 s", backend="brian2-cpp", noise="1 mV")
    return made, Prior(setup["prior"]).bind(made.model)


def time_store(n: int, client) -> float:
    made, prior = protocol()
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        sims, _ = SimulationStore(Path(folder) / "sims", made, prior, seed=0).load(n, client)
        seconds = time.perf_counter() - started
    assert len(sims) == n
    return seconds


def hand_written(n: int, batch: int = 10_000) -> float:
    """The same sets in plain Brian2 standalone: one project, values as run arguments."""
    import brian2 as b2

    _, prior = protocol()
    values = prior.sample(n, 0)
    current = staircase(SETUPS["laa"]["levels"])
    b2.set_device("cpp_standalone", build_on_run=False, directory=str(Path(tempfile.gettempdir()) / "sn_bench_laa"))
    b2.prefs.devices.cpp_standalone.openmp_threads = 1
    b2.defaultclock.dt = 0.1 * b2.ms
    stimulus = b2.TimedArray(np.asarray(current["samples"] / b2.amp) * b2.amp, dt=1 * b2.ms)
    group = b2.NeuronGroup(
        batch,
        """dv/dt = (-g_L*(v - E_L) + G_act/(1 + exp(-(v - V_thr)/k)) + stimulus(t)/A_m)/C_m : volt (unless refractory)
        C_m : farad/meter**2
        g_L : siemens/meter**2
        E_L : volt
        k : volt
        V_thr : volt""",
        threshold="v > -40*mV",
        reset="v = -65*mV",
        refractory=2 * b2.ms,
        method="rk4",
        namespace={"G_act": 1 * b2.uA / b2.cm**2, "A_m": 1e-4 * b2.cm**2, "stimulus": stimulus},
    )
    spikes = b2.SpikeMonitor(group)
    states = b2.StateMonitor(group, "v", record=True, dt=10 * b2.ms)
    b2.run(1 * b2.second)
    names = ("C_m", "g_L", "E_L", "k", "V_thr")
    started = time.perf_counter()
    b2.device.build(run=False)  # generated and compiled once (the project's make is warm after a first run)
    for start in range(0, n, batch):
        rows = values[start : start + batch]
        rows = np.concatenate([rows, np.repeat(rows[:1], batch - len(rows), axis=0)])
        arguments = {getattr(group, name): rows[:, j] * group.variables[name].unit for j, name in enumerate(names)}
        arguments[group.v] = rows[:, 2] * b2.volt
        b2.device.run(run_args=arguments)
        _ = np.asarray(states.v_).astype(np.float32), spikes.count[:]
    return time.perf_counter() - started


def time_sampling(folder: str, count: int) -> list[float]:
    from sourced_neuron.inference import load

    posterior = load(folder)
    true = SETUPS["laa"]["true"]
    observations = [posterior.protocol.simulate_observation(true, seed=100 + k) for k in range(count + 1)]
    posterior.sample(observations[0], n=1000)
    timings = []
    for k, observation in enumerate(observations[1:]):
        started = time.perf_counter()
        posterior.sample(observation, n=1000, seed=k)
        timings.append(time.perf_counter() - started)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--simulations", type=int, default=100_000)
    parser.add_argument("--posterior", help="a trained LAA posterior folder (examples/inference.py --out)")
    parser.add_argument("--observations", type=int, default=20)
    parser.add_argument("--hand-written-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ.setdefault("SOURCED_NEURON_THREADS", "1")
    if args.hand_written_only:  # in its own process: Brian2's device is per process
        print(json.dumps({"hand_written_s": hand_written(args.simulations)}))
        return
    result: dict = {"simulations": args.simulations}
    time_store(10_000, None)  # builds the project once (not timed)
    result["store_synchronous_s"] = time_store(args.simulations, None)
    print(f"{args.simulations} LAA simulations, synchronous: {result['store_synchronous_s']:.1f} s")
    from sourced_neuron.experiments.cluster import local_client

    client = local_client()
    time_store(20_000, client)  # each worker builds or finds its project copy (not timed)
    result["store_dask_s"] = time_store(args.simulations, client)
    print(f"{args.simulations} LAA simulations, local Dask cluster: {result['store_dask_s']:.1f} s")
    if args.posterior:
        timings = time_sampling(args.posterior, args.observations)
        result["sample_1000_median_s"] = float(np.median(timings))
        result["sample_1000_max_s"] = float(np.max(timings))
        print(f"1,000 draws for a new observation: median {np.median(timings):.3f} s, max {np.max(timings):.3f} s")
    import subprocess

    command = [sys.executable, __file__, "--hand-written-only", "--simulations", str(args.simulations)]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    result.update(json.loads(done.stdout.strip().splitlines()[-1]))
    print(f"{args.simulations} LAA simulations, hand-written Brian2 standalone: {result['hand_written_s']:.1f} s")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
