"""Benchmark: CUBA (Vogels & Abbott 2005; Brette et al. 2007, benchmark 2) built through
sourced_neuron vs hand-written in Brian2 and vs NEST's built-in ``iaf_psc_exp``.

The network: N leaky integrate-and-fire neurons (the library ``lif``), 80 % excitatory,
random connections with probability 0.02, current synapses with exponential decay (5 ms
excitatory, 10 ms inhibitory; weights 16.2 pA and -90 pA, the example's 1.62 mV and -9 mV
through R_m = 100 MOhm), tau_m 20 ms, E_L -49 mV (above threshold: self-sustained activity),
V_th -50 mV, V_reset -60 mV, refractory 5 ms, exact integration at dt = 0.1 ms, initial
potentials uniform between reset and threshold, 1 s.

Each variant runs in its own process with the same connections and initial values (drawn
once from the seed): ``sn:brian2`` (Cython), ``hand:runtime``, ``sn:brian2-cpp``,
``hand:cpp_standalone``, ``sn:nest`` (generated NESTML through PyNN) and ``nest-builtin``
(NEST's ``iaf_psc_exp``: the same equations, NEST's own exact propagators); ``--variants``
also takes ``sn:brian2-cuda`` and ``hand:cuda_standalone``. Times are the simulation's own wall
time after an untimed first run that builds; median of ``--repeats``.

    python benchmarks/cuba.py [--neurons 4000] [--repeats 3] [--variants ...]
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from harness import PAIRS, VARIANTS, main, run_brian2, set_brian2_device, threads, time_nest

SEED = 2005
PARAMS = {"E_L": "-49 mV", "V_th": "-50 mV", "V_reset": "-60 mV", "tau_m": "20 ms", "t_ref": "5 ms", "tau_inh": "10 ms"}
W_EXC, W_INH = 16.2, -90.0  # pA


def network(n: int):
    """The sourced_neuron network; its spec gives the other variants their arrays."""
    import sourced_neuron as sn

    n_exc = n * 4 // 5
    net = sn.Network(seed=SEED)
    net.population("cells", "lif", n, params={**PARAMS, "v": {"uniform": ["-60 mV", "-50 mV"]}})
    rng = np.random.default_rng(SEED)
    mask = rng.random((n, n)) < 0.02
    for receptor, rows, weight in (("exc", slice(0, n_exc), W_EXC), ("inh", slice(n_exc, n), W_INH)):
        i, j = np.nonzero(mask[rows])
        pairs = np.column_stack([i + rows.start, j])
        net.connect("cells", "cells", "list", pairs=pairs, weight=f"{weight} pA", delay="0.1 ms", receptor=receptor)
    net.record("cells", ["spikes"])
    return net


def run_hand(n: int, device: str) -> tuple[float, int]:
    """The same network in plain Brian2, as in Brian2's CUBA example (ge, gi in volt)."""
    import brian2 as b2

    spec = network(n).spec("1 s")
    folder = str(Path(f"out/bench/cuba_hand_{device}_{n}"))
    b2.defaultclock.dt = 0.1 * b2.ms
    set_brian2_device(b2, device, folder)
    equations = """
    dv/dt = (ge + gi - (v - El))/taum : volt (unless refractory)
    dge/dt = -ge/taue : volt
    dgi/dt = -gi/taui : volt
    """
    namespace = {"taum": 20 * b2.ms, "taue": 5 * b2.ms, "taui": 10 * b2.ms, "El": -49 * b2.mV}
    group = b2.NeuronGroup(
        n,
        equations,
        threshold="v > -50*mV",
        reset="v = -60*mV",
        refractory=5 * b2.ms,
        method="exact",
        namespace=namespace,
    )
    (cells,) = spec.populations
    group.v_ = cells.initial["v"]
    objects = [group]
    for projection in spec.projections:
        variable = "ge" if projection.receptor == "exc" else "gi"
        synapses = b2.Synapses(group, group, "w : volt", on_pre=f"{variable}_post += w")
        synapses.connect(i=projection.i, j=projection.j)
        synapses.w_ = projection.weights * 100e6  # amp through R_m: volt
        synapses.delay = 0.1 * b2.ms
        objects.append(synapses)
    spikes = b2.SpikeMonitor(group)
    seconds = run_brian2(b2, b2.Network(*objects, spikes), 1 * b2.second, device, folder)
    return seconds, int(spikes.num_spikes)


def run_sn(n: int, backend: str) -> tuple[float, int]:
    block = network(n).run("1 s", backend=backend)
    return block.annotations["run_seconds"], int(sum(len(st) for st in block.segments[0].spiketrains))


def run_nest_builtin(n: int) -> tuple[float, int]:
    import nest

    spec = network(n).spec("1 s")
    nest.ResetKernel()
    nest.resolution = 0.1
    nest.local_num_threads = threads()
    cells = nest.Create(
        "iaf_psc_exp",
        n,
        params={
            "C_m": 200.0,  # pF: tau_m / R_m
            "tau_m": 20.0,
            "E_L": -49.0,
            "V_th": -50.0,
            "V_reset": -60.0,
            "t_ref": 5.0,
            "tau_syn_ex": 5.0,
            "tau_syn_in": 10.0,
        },
    )
    cells.set(V_m=list(spec.populations[0].initial["v"] * 1e3))
    first = cells[0].global_id
    for projection in spec.projections:
        nest.Connect(
            projection.i + first,
            projection.j + first,
            "one_to_one",
            syn_spec={"weight": projection.weights * 1e12, "delay": np.full(len(projection.i), 0.1)},  # pA
        )
    return time_nest(nest, cells, 1000.0)


if __name__ == "__main__":
    main(
        __file__,
        __doc__,
        "CUBA",
        VARIANTS,
        PAIRS,
        {"sn": run_sn, "hand": run_hand, "nest-builtin": lambda n, _: run_nest_builtin(n)},
    )
