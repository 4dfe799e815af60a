"""A balanced network of excitatory and inhibitory LIF neurons (after Brunel 2000), on any backend.

The library ``lif`` with its current-based ports: 800 excitatory and 200 inhibitory neurons,
each receiving 80 excitatory and 20 inhibitory recurrent connections (fixed in-degree) and 100
Poisson inputs from a shared pool of 1000. Inhibitory synapses are ``g`` times stronger, so inhibition
dominates and the network fires asynchronously and irregularly. The same seed gives the same
network and input on every backend.

    python examples/balanced_network.py [--backend brian2|brian2-cpp|nest] [--duration "500 ms"]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from elephant.statistics import cv, isi

import sourced_neuron as sn
from sourced_neuron.analysis.plotting import plot_block
from sourced_neuron.results.io import write_block


def build(seed: int, n_exc: int = 800, n_inh: int = 200, g: float = 4.0) -> sn.Network:
    net = sn.Network(seed=seed)
    v_start = {"uniform": ["-65 mV", "-52 mV"]}  # random initial potentials
    net.population("exc", "lif", n_exc, params={"v": v_start})
    net.population("inh", "lif", n_inh, params={"v": v_start})
    net.poisson("background", 1000, rate="12 Hz")  # a pool each neuron draws 100 inputs from
    w = 30.0  # pA, the peak of an excitatory current (inhibitory ones are negative: -g*w)
    for target in ("exc", "inh"):
        net.connect(
            "background", target, "fixed_indegree", indegree=100, weight=f"{w} pA", delay="1 ms", receptor="exc"
        )
        net.connect("exc", target, "fixed_indegree", indegree=80, weight=f"{w} pA", delay="1.5 ms", receptor="exc")
        net.connect("inh", target, "fixed_indegree", indegree=20, weight=f"{-g * w} pA", delay="1.5 ms", receptor="inh")
    net.record("exc", ["spikes", "v"])
    net.record("inh", ["spikes"])
    return net


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="brian2")
    parser.add_argument("--duration", default="500 ms")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", default="out/balanced")
    args = parser.parse_args()
    net = build(args.seed)
    started = time.perf_counter()
    block = net.run(args.duration, backend=args.backend)
    elapsed = time.perf_counter() - started
    segment = block.segments[0]
    seconds = float(segment.t_stop.rescale("s"))
    for population in ("exc", "inh"):
        trains = [st for st in segment.spiketrains if st.annotations["population"] == population]
        rate = sum(len(st) for st in trains) / len(trains) / seconds
        cvs = [cv(isi(st)) for st in trains if len(st) > 3]
        print(f"{population}: {len(trains)} neurons, {rate:.1f} Hz, ISI CV {np.nanmean(cvs):.2f}")
    print(f"{args.backend}: {elapsed:.1f} s for {args.duration}")
    out = Path(args.out)
    print("wrote", write_block(block, out / f"balanced_{args.backend}.nix"))
    print("wrote", plot_block(block, out / f"balanced_{args.backend}.png"))


if __name__ == "__main__":
    main()
