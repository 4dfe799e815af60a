"""Sobol indices of the LAA neuron's firing rate: which of five parameters matters most.

python examples/sensitivity_laa.py [--out out/sensitivity_laa] [--n 512] [--backend brian2] [--dask]

The leak g_L, the capacitance C_m and the activation current (its size G_act, midpoint V_thr
and width k) each vary uniformly within about +-20 to 50 % of the model file's values, under a
constant 250 pA (about 1.4 times the rheobase of the defaults, so nearly every set fires). Each
of the n * 7 sets is simulated for 2 s (the rate is counted to 0.5 Hz); ``--n 64`` is a quick
look (448 sets), the default 512 (3584 sets) takes about 10 s on two cores with Brian2's NumPy
target. Writes ``sobol_laa.png`` (S1 and ST with their 95 % intervals) into ``--out``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from sourced_neuron.experiments.sensitivity import sensitivity

# around the values of models/laa.yaml (g_L 0.1 mS/cm**2, C_m 1 uF/cm**2, k 10 mV,
# V_thr -50 mV, G_act 1 uA/cm**2); G_act/(4 k) stays below g_L, so the rest stays unique
BOUNDS = {
    "g_L": ["0.08 mS/cm**2", "0.12 mS/cm**2"],
    "C_m": ["0.8 uF/cm**2", "1.2 uF/cm**2"],
    "k": ["6 mV", "14 mV"],
    "V_thr": ["-55 mV", "-45 mV"],
    "G_act": ["0.5 uA/cm**2", "1.5 uA/cm**2"],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="out/sensitivity_laa")
    parser.add_argument("--n", type=int, default=512, help="Sobol base samples, a power of two (sets: n * 7)")
    parser.add_argument("--backend", default="brian2")
    parser.add_argument("--dask", action="store_true", help="run the batches on a local Dask cluster")
    args = parser.parse_args()
    out = Path(args.out)

    result = sensitivity(
        "laa",
        BOUNDS,
        "rate",
        method="sobol",
        n=args.n,
        stimulus="250 pA",
        duration="2 s",
        backend=args.backend,
        client=None if args.dask else "synchronous",
        seed=1,
    )
    print(result)
    rates = result.samples["rate"]
    silent = (rates == 0).mean()
    print(f"rate: {rates.min():.1f} to {rates.max():.1f} Hz, mean {rates.mean():.1f} Hz; silent sets: {silent:.1%}")
    order = result.indices["ST"].sort_values(ascending=False)
    print("by total index:", ", ".join(f"{name} {value:.2f}" for name, value in order.items()))
    print("wrote", result.plot(out / "sobol_laa.png"))


if __name__ == "__main__":
    main()
