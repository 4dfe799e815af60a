"""Fit three AdEx parameters to a synthetic voltage trace and compare them with the truth.

python examples/fit_adex.py [--out out/fit_adex] [--budget 2000] [--dask]

The target is the membrane potential of the preset "adapting" of adex (Naud et al. 2008, Fig.
4b; g_L = 12 nS, b = 60 pA, V_r = -58 mV) under two current steps: a hyperpolarising one, where
the cell is a passive membrane whose response gives its input conductance g_L, and a short
suprathreshold one with three spikes, after which v is reset to V_r and the adaptation current
jumps by b (lengthening the next interval). Every other parameter keeps the preset's value. The
fit searches g_L, b and V_r between bounds that do not centre on the truth, with differential
evolution (nevergrad's TwoPointsDE); every generation of 50 candidates is one simulation per
step, a population of 50 neurons.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import sourced_neuron as sn
from sourced_neuron.experiments.fitting import fit

PRESET = "adapting"
TRUTH = {"g_L": 12.0, "b": 60.0, "V_r": -58.0}  # the preset's values, in nS, pA and mV
BOUNDS = {"g_L": ["5 nS", "30 nS"], "b": ["10 pA", "150 pA"], "V_r": ["-70 mV", "-45 mV"]}
STEPS = [
    ({"start": "10 ms", "stop": "110 ms", "amplitude": "-300 pA"}, "150 ms"),
    ({"start": "10 ms", "stop": "60 ms", "amplitude": "500 pA"}, "80 ms"),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="out/fit_adex")
    parser.add_argument("--budget", type=int, default=2000, help="candidates to simulate (default 2000)")
    parser.add_argument("--dask", action="store_true", help="run the batches on a local Dask cluster")
    args = parser.parse_args()
    out = Path(args.out)

    targets = []
    for stimulus, duration in STEPS:
        block = sn.simulate("adex", preset=PRESET, duration=duration, stimulus=stimulus)
        targets.append(block.segments[0].analogsignals[0])
        print(f"target: {block.annotations['stimulus']}, {len(block.segments[0].spiketrains[0])} spikes")

    start = time.perf_counter()
    result = fit(
        "adex",
        targets,
        BOUNDS,
        stimulus=[stimulus for stimulus, _ in STEPS],
        preset=PRESET,
        budget=args.budget,
        popsize=50,
        optimizer="DE",
        client=None if args.dask else "synchronous",
        seed=0,
    )
    seconds = time.perf_counter() - start
    print(f"{result.evaluations} candidates in {seconds:.1f} s; best loss {result.loss:.4g} mV^2 (mean squared error)")
    print(f"{'parameter':<10}{'true':>10}{'fitted':>12}{'error':>10}")
    for name, true in TRUTH.items():
        fitted = result.values[name]
        error = 100 * (fitted - true) / abs(true)
        print(f"{name:<10}{true:>10.4g}{fitted:>12.5g}{error:>9.2f}%  ({result.units[name]})")
    print("wrote", result.plot(out / "fit_adex.png"))


if __name__ == "__main__":
    main()
