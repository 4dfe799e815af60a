"""Benchmark: sn.simulate of 1,000 LIF neurons for 1 s vs the same network hand-written in Brian2.

Both sides run the same equations, method (exact), dt (0.1 ms) and code generation target
in one process; each timing is a whole call (build, run, collect spikes), after one warm-up
call so that compiled code is cached for both. Prints the medians and their ratio.

    python benchmarks/lif_network.py [--repeats 7] [--target cython|numpy]
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import platform
import statistics
import time

import numpy as np

N = 1000
CURRENTS_PA = np.linspace(150.0, 400.0, N)  # from just below rheobase (150 pA) to 400 pA


def hand_written():
    import brian2 as b2

    namespace = {
        "E_L": -65 * b2.mV,
        "V_th": -50 * b2.mV,
        "V_reset": -65 * b2.mV,
        "tau_m": 10 * b2.ms,
        "R_m": 100 * b2.Mohm,
        "t_ref": 2 * b2.ms,
        "tau_exc": 5 * b2.ms,
        "tau_inh": 8 * b2.ms,
    }
    # the library model's equations, its two receptor ports (current-based, exponential) included
    equations = """
    dv/dt = (E_L - v + R_m*(I_ext + I_syn))/tau_m : volt (unless refractory)
    dI_exc/dt = -I_exc/tau_exc : amp
    dI_inh/dt = -I_inh/tau_inh : amp
    I_syn = I_exc + I_inh : amp
    I_ext : amp
    """
    group = b2.NeuronGroup(
        N,
        equations,
        threshold="v > V_th",
        reset="v = V_reset",
        refractory="t_ref",
        method="exact",
        namespace=namespace,
        dt=0.1 * b2.ms,
    )
    group.v = -65 * b2.mV
    group.I_ext = CURRENTS_PA * b2.pA
    spikes = b2.SpikeMonitor(group)
    b2.Network(group, spikes).run(1 * b2.second)
    trains = spikes.spike_trains()
    return sum(len(trains[i]) for i in range(N))


def generated(check_finite: bool = True):
    import quantities as pq

    import sourced_neuron as sn

    block = sn.simulate(
        "lif", duration="1 s", n_neurons=N, stimulus=CURRENTS_PA * pq.pA, record=(), check_finite=check_finite
    )
    channels, _ = block.segments[0].spiketrains.multiplexed  # all spikes, no SpikeTrain objects made
    return len(channels)


def timed(function, repeats: int) -> tuple[float, int]:
    times, result = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--target", choices=("cython", "numpy"), default="cython")
    args = parser.parse_args()
    os.environ["SOURCED_NEURON_BRIAN2_TARGET"] = args.target
    import brian2 as b2

    b2.prefs.codegen.target = args.target
    # warm-up: compile (Cython) and import everything once for both sides
    spikes_hand, spikes_generated = hand_written(), generated()
    assert spikes_hand == spikes_generated, (spikes_hand, spikes_generated)
    # alternate the two sides so that machine noise hits both alike
    generated(check_finite=False)
    hand, gen, unwatched = [], [], []
    for _ in range(args.repeats):
        hand.append(timed(hand_written, 1)[0])
        gen.append(timed(generated, 1)[0])
        unwatched.append(timed(lambda: generated(check_finite=False), 1)[0])
    hand_median, gen_median, unwatched_median = (statistics.median(x) for x in (hand, gen, unwatched))
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"brian2 {importlib.metadata.version('brian2')}, neo {importlib.metadata.version('neo')}, "
        f"target {args.target}"
    )
    print(f"{N} LIF neurons, 1 s, exact, dt 0.1 ms, {spikes_hand} spikes; median of {args.repeats} calls")
    print(f"hand-written Brian2: {hand_median:.3f} s  (all: {', '.join(f'{t:.3f}' for t in hand)})")
    print(f"sn.simulate:        {gen_median:.3f} s  (all: {', '.join(f'{t:.3f}' for t in gen)})")
    print(f"ratio generated / hand-written: {gen_median / hand_median:.3f}")
    # the watch for non-finite states (on by default) is one more Brian2 event per step
    listed = ", ".join(f"{t:.3f}" for t in unwatched)
    print(f"sn.simulate, check_finite=False: {unwatched_median:.3f} s  (all: {listed})")
    print(f"ratio generated (check_finite=False) / hand-written: {unwatched_median / hand_median:.3f}")
    # Neo makes SpikeTrain objects when they are first accessed; what that costs, on its own:
    import quantities as pq

    import sourced_neuron as sn

    block = sn.simulate("lif", duration="1 s", n_neurons=N, stimulus=CURRENTS_PA * pq.pA, record=())
    started = time.perf_counter()
    trains = list(block.segments[0].spiketrains)
    print(
        f"then making the {len(trains)} neo.SpikeTrain objects (Neo, on first access): "
        f"{time.perf_counter() - started:.3f} s"
    )


if __name__ == "__main__":
    main()
