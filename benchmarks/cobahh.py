"""Benchmark: COBAHH (Brette et al. 2007, benchmark 3) built through sourced_neuron vs hand-written.

The network: N Hodgkin-Huxley neurons (the library ``hh`` with its preset ``cobahh``, the
Traub-Miles cell with the COBAHH values, which are also NEST's defaults for
``hh_cond_exp_traub``; the library's own defaults are another cell, one that rests at 0 pA),
80 % excitatory, each neuron receiving 64 excitatory and 16 inhibitory connections (fixed
in-degree 80), conductance synapses of 6 nS (5 ms, 0 mV) and 67 nS (10 ms, -80 mV),
exponential Euler at dt = 0.1 ms, random initial potentials and conductances, 1 s.

Compared in one run of this script, each variant in its own process (Brian2's devices are per
process), the same connections and initial values for all (drawn once from the seed):

- ``sn``: ``sn.Network`` with the library model, on ``brian2`` (Cython) and ``brian2-cpp``;
- ``hand``: the same network written directly in Brian2 (runtime, cpp_standalone);
- ``sn:nest`` vs ``nest-builtin``: the generated model through PyNN vs NEST's hand-written
  ``hh_cond_exp_traub`` (GSL rkf45, so a different integrator; its cost is the reference).
  Both start with zero synaptic conductances, which NEST's model cannot be given, and both
  integrate with GSL's rkf45 (the library model with ``method="rkf45"``).
- ``sn-bounds:nest``: the same on NEST with ``benchmarks/models/hh_milligates.yaml``, the
  same model with its gates in thousandths, so that GSL bounds the error of every state as
  NEST's model does (1e-3 mV, 1e-3 on the gates) and the two take steps of the same size;
  ``sn:nest`` bounds the gates 1000 times more tightly.

Times are the simulation's own wall time (Brian2 standalone: the compiled program's loop as
Brian2 measures it; runtime: ``Network.run``; NEST: ``Simulate``), with code generation and
compilation excluded and already cached (a first, untimed run builds them); median of
``--repeats``. ``--variants`` also takes ``sn:brian2-cuda`` and ``hand:cuda_standalone``.

    python benchmarks/cobahh.py [--neurons 4000] [--repeats 3] [--variants ...]
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from harness import PAIRS, VARIANTS, main, run_brian2, set_brian2_device, threads, time_nest

PAIRS = (
    *PAIRS,
    ("hand:cpp_standalone", "hand:cuda_standalone"),
    ("sn:brian2-cpp", "sn:brian2-cuda"),
    ("sn-bounds:nest", "nest-builtin"),
)
MILLIGATES = Path(__file__).parent / "models" / "hh_milligates.yaml"
SEED = 2007
PRESET = "cobahh"  # the values of the benchmark (and of the hand-written variants below)


def network(n: int, conductances: bool = True, method: str = "exponential_euler", model=None):
    """The sourced_neuron network; its spec also gives the hand-written variants their arrays.

    ``conductances=False``: the synaptic conductances start at 0 (NEST's ``hh_cond_exp_traub``
    does not let them be set); with ``method="rkf45"`` (GSL, as NEST's model) this is the
    network of the comparison on NEST. ``model``: another model file for the cells (default
    the library ``hh`` with the preset).
    """
    import sourced_neuron as sn

    n_exc = n * 4 // 5
    net = sn.Network(seed=SEED)
    params = {"v": {"normal": ["-65 mV", "5 mV"]}}  # El + (randn*5 - 5) mV, as in Brian2's COBAHH example
    if conductances:
        params |= {"g_exc": {"normal": ["40 nS", "15 nS"]}, "g_inh": {"normal": ["200 nS", "120 nS"]}}
    model = sn.load_model(model) if model else sn.load_model("hh").with_preset(PRESET)
    model = model.with_numerics(method=method)
    # one population (as one NeuronGroup in the hand-written network): the first 80 % excitatory
    net.population("cells", model, n, params=params)
    rng = np.random.default_rng(SEED)
    for receptor, first, stop, indegree, weight in (("exc", 0, n_exc, 64, "6 nS"), ("inh", n_exc, n, 16, "67 nS")):
        sources = np.stack([first + rng.choice(stop - first, indegree, replace=False) for _ in range(n)])
        pairs = np.column_stack([sources.ravel(), np.repeat(np.arange(n), indegree)])
        net.connect("cells", "cells", "list", pairs=pairs, weight=weight, delay="0.1 ms", receptor=receptor)
    net.record("cells", ["spikes"])
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
    folder = str(Path(f"out/bench/cobahh_hand_{device}_{n}"))
    b2.defaultclock.dt = 0.1 * b2.ms
    set_brian2_device(b2, device, folder)
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
    )
    (cells,) = spec.populations
    for name, symbol in (("v", "v"), ("m", "m"), ("h", "h"), ("n", "n"), ("g_exc", "ge"), ("g_inh", "gi")):
        setattr(group, symbol + "_", cells.initial[name])
    objects = [group]
    for projection in spec.projections:
        variable = "ge" if projection.receptor == "exc" else "gi"
        synapses = b2.Synapses(group, group, "w : siemens", on_pre=f"{variable}_post += w")
        synapses.connect(i=projection.i, j=projection.j)
        synapses.w_ = projection.weights
        synapses.delay = 0.1 * b2.ms
        objects.append(synapses)
    spikes = b2.SpikeMonitor(group)
    seconds = run_brian2(b2, b2.Network(*objects, spikes), 1 * b2.second, device, folder)
    return seconds, int(spikes.num_spikes)


def run_sn(n: int, backend: str, model=None) -> tuple[float, int]:
    on_nest = backend == "nest"
    net = network(n, conductances=not on_nest, method="rkf45" if on_nest else "exponential_euler", model=model)
    block = net.run("1 s", backend=backend)
    return block.annotations["run_seconds"], int(sum(len(st) for st in block.segments[0].spiketrains))


def run_nest_builtin(n: int) -> tuple[float, int]:
    import nest

    spec = network(n, conductances=False).spec("1 s")
    nest.ResetKernel()
    nest.resolution = 0.1
    nest.local_num_threads = threads()
    (population,) = spec.populations
    cells = nest.Create("hh_cond_exp_traub", n)
    initial = population.initial
    # NEST's model does not expose its synaptic conductances as settable state: they start at 0
    cells.set(
        V_m=list(initial["v"] * 1e3),
        Act_m=list(initial["m"]),
        Inact_h=list(initial["h"]),
        Act_n=list(initial["n"]),
        # NEST's t_ref stays at its default (2 ms): the model emits a spike in every step in which
        # V_m > V_T + 30 mV and falls, unless refractory, so with t_ref = 0 one action potential
        # is counted several times (the library model's refractory rule lasts the whole spike)
    )
    first = cells[0].global_id
    for projection in spec.projections:
        sign = 1.0 if projection.receptor == "exc" else -1.0  # NEST: inhibitory conductances are negative weights
        nest.Connect(
            projection.i + first,  # arrays of node ids: NEST's array connect
            projection.j + first,
            "one_to_one",
            syn_spec={"weight": sign * projection.weights * 1e9, "delay": np.full(len(projection.i), 0.1)},
        )
    return time_nest(nest, cells, 1000.0)


if __name__ == "__main__":
    main(
        __file__,
        __doc__,
        "COBAHH",
        VARIANTS,
        PAIRS,
        {
            "sn": run_sn,
            "sn-bounds": lambda n, backend: run_sn(n, backend, MILLIGATES),
            "hand": run_hand,
            "nest-builtin": lambda n, _: run_nest_builtin(n),
        },
    )
