"""A mixed network: Izhikevich excitatory cells and LIF inhibitory cells (the mixed E/I network of
the model-library tutorial), on any backend.

800 excitatory neurons use the library ``izhikevich`` model, split into regular-spiking (rs)
and intrinsically bursting (ib) cells with jittered reset parameters; 200 inhibitory neurons
use the library ``lif`` model. Connections are random (probability 0.1) and every neuron draws
50 inputs from a Poisson pool. The two models need very different weights: 1 pA moves the
Izhikevich cell as much as the paper's unit of input, while the LIF cell (100 MOhm) needs tens
of pA. The same seed gives the same network and input on every backend.

    python examples/mixed_network.py [--backend brian2|brian2-cpp|nest] [--duration "1 s"]
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

# weights (pA) onto each target model, by source: excitatory positive, inhibitory negative
WEIGHTS = {
    "rs": {"drive": 4.0, "exc": 0.6, "inh": -3.0},
    "ib": {"drive": 4.0, "exc": 0.6, "inh": -3.0},
    "inh": {"drive": 60.0, "exc": 12.0, "inh": -40.0},
}


def build(seed: int, n_exc: int = 800, n_inh: int = 200) -> sn.Network:
    net = sn.Network(seed=seed)
    n_rs = n_exc * 4 // 5
    net.population("rs", "izhikevich", n_rs, preset="rs", params={"c": {"uniform": ["-65 mV", "-60 mV"]}})
    net.population("ib", "izhikevich", n_exc - n_rs, preset="ib", params={"d": {"uniform": ["3 mV", "5 mV"]}})
    net.population("inh", "lif", n_inh, params={"v": {"uniform": ["-65 mV", "-52 mV"]}})
    net.poisson("drive", 500, rate="10 Hz")
    for target, weights in WEIGHTS.items():
        net.connect("drive", target, "fixed_indegree", indegree=50, weight=f"{weights['drive']} pA", receptor="exc")
        for source in ("rs", "ib"):
            net.connect(
                source,
                target,
                "fixed_probability",
                p=0.1,
                weight=f"{weights['exc']} pA",
                delay="1.5 ms",
                receptor="exc",
                autapses=False,
            )
        net.connect(
            "inh",
            target,
            "fixed_probability",
            p=0.1,
            weight=f"{weights['inh']} pA",
            delay="1 ms",
            receptor="inh",
            autapses=False,
        )
    for population in WEIGHTS:
        net.record(population)
    net.record("rs", ["v"])
    return net


def rates(block) -> dict[str, tuple[float, float]]:
    """Mean rate (Hz) and mean ISI CV of each population."""
    segment = block.segments[0]
    seconds = float(segment.t_stop.rescale("s"))
    result = {}
    for population in WEIGHTS:
        trains = [st for st in segment.spiketrains if st.annotations["population"] == population]
        rate = sum(len(st) for st in trains) / len(trains) / seconds
        cvs = [cv(isi(st)) for st in trains if len(st) > 3]
        result[population] = (rate, float(np.nanmean(cvs)) if cvs else float("nan"))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="brian2")
    parser.add_argument("--duration", default="1 s")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", default="out/mixed")
    args = parser.parse_args()
    started = time.perf_counter()
    block = build(args.seed).run(args.duration, backend=args.backend)
    for population, (rate, isi_cv) in rates(block).items():
        print(f"{population}: {rate:.1f} Hz, ISI CV {isi_cv:.2f}")
    print(f"{args.backend}: {time.perf_counter() - started:.1f} s for {args.duration}")
    out = Path(args.out)
    print("wrote", write_block(block, out / f"mixed_{args.backend}.nix"))
    print("wrote", plot_block(block, out / f"mixed_{args.backend}.png"))


if __name__ == "__main__":
    main()
