"""Spike-timing-dependent plasticity shapes the input weights of a neuron (after Song et al. 2000).

One library ``lif`` neuron receives Poisson inputs through ``stdp_additive`` synapses whose
initial weights are drawn uniformly in [0, w_max]. Depression slightly outweighs potentiation
(A_minus tau_minus = 1.06 A_plus tau_plus), so inputs that do not help to fire the neuron are
depressed while those that do are driven to w_max: the weight distribution becomes bimodal and
the output rate falls. Weights of a few synapses are recorded at every presynaptic spike; the final
weights of all are reported. The same seed gives the same inputs and weights on every backend.

    python examples/stdp.py [--backend brian2|brian2-cpp|nest] [--duration "30 s"] [--inputs 400]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

import sourced_neuron as sn

W_MAX = 12.0  # pA


def build(seed: int, inputs: int, rate: str) -> sn.Network:
    net = sn.Network(seed=seed)
    net.population("neuron", "lif", 1)
    net.poisson("inputs", inputs, rate=rate)
    net.connect(
        "inputs",
        "neuron",
        "all_to_all",
        weight={"uniform": ["0 pA", f"{W_MAX} pA"]},
        delay="1 ms",
        receptor="exc",
        # the library's time constants and balance, learning three times as fast
        synapse=("stdp_additive", {"w_max": f"{W_MAX} pA", "A_plus": 0.03, "A_minus": 0.0159}),
        name="stdp",
    )
    net.record("stdp", "weights", synapses=range(0, inputs, max(1, inputs // 20)))
    net.record("neuron")
    return net


def summary(block) -> dict:
    """Output rate in the first and last fifth of the run, and the final weight distribution."""
    segment = block.segments[0]
    spikes = segment.spiketrains[0].rescale("s").magnitude
    duration = float(segment.t_stop.rescale("s"))
    fifth = duration / 5
    event = next(e for e in segment.events if e.name == "stdp.weights")
    final = np.asarray(event.annotations["final_weight"]) / W_MAX
    return {
        "rate_first": np.sum(spikes < fifth) / fifth,
        "rate_last": np.sum(spikes >= duration - fifth) / fifth,
        "low": float(np.mean(final < 0.2)),
        "high": float(np.mean(final > 0.8)),
        "event": event,
        "final": final,
    }


def plot(result: dict, path: Path) -> Path:
    event = result["event"]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    synapse = np.asarray(event.array_annotations["synapse"])
    for k in np.unique(synapse):
        mine = synapse == k
        ax1.plot(event.times[mine].rescale("s").magnitude, event.array_annotations["weight"][mine], lw=0.8)
    ax1.set(xlabel="time (s)", ylabel=f"transmitted weight ({event.annotations['weight_unit']})")
    ax1.set_title("weights of 20 synapses, at each presynaptic spike")
    ax2.hist(result["final"], bins=20, range=(0, 1), color="0.3")
    ax2.set(xlabel="final weight / w_max", ylabel="synapses", title="final weights of all synapses")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="brian2")
    parser.add_argument("--duration", default="30 s")
    parser.add_argument("--inputs", type=int, default=400)
    parser.add_argument("--rate", default="15 Hz")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", default="out/stdp")
    args = parser.parse_args()
    started = time.perf_counter()
    block = build(args.seed, args.inputs, args.rate).run(args.duration, backend=args.backend)
    result = summary(block)
    print(f"output rate: {result['rate_first']:.1f} Hz in the first fifth, {result['rate_last']:.1f} Hz in the last")
    print(f"final weights: {result['low']:.0%} below 0.2 w_max, {result['high']:.0%} above 0.8 w_max")
    print(f"{args.backend}: {time.perf_counter() - started:.1f} s for {args.duration}")
    print("wrote", plot(result, Path(args.out) / f"stdp_{args.backend}.png"))


if __name__ == "__main__":
    main()
