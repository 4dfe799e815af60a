"""Amortised Bayesian inference of a neuron's parameters from a voltage trace, with its checks.

python examples/inference.py [--model laa|adex] [--simulations 100000] [--epochs 300]
                             [--summary statistics|lstm|both] [--out out/inference_laa] [--quick]

``laa``: the seed project's five parameters of the Leaky Adaptive Activation model (C_m, g_L, E_L,
k, V_thr; G_act = 1 uA/cm**2, A_m = 1e-4 cm**2 and the spike rule V_spike = -40 mV,
V_reset = -65 mV, t_ref = 2 ms fixed as in models/laa.yaml). ``adex``: four parameters of the
AdEx "adapting" preset (g_L, C_m, b, V_r; the others fixed at the preset's values). Each is
observed through a 1 s staircase of current steps (rest, three levels, rest) as a trace sampled
every 10 ms with 1 mV Gaussian noise, plus its spike times.

The script trains the posterior (simulations are kept in ``--out``/simulations, so a second run
trains without simulating), checks it on 200 held-out simulations (``diagnose``: SBC, coverage,
recovery, contraction, predictive checks), runs predictive checks on ``brian2`` and ``nest``
(when installed), the typicality check on the model's own trace and on another model's, times
sampling for a new observation, and writes everything (figures and ``summary.json``) to ``--out``.
``--quick`` is a small run (4,000 simulations, 30 epochs; about two minutes on two cores).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from brian2 import ms, pA

from sourced_neuron.backends import backend_status
from sourced_neuron.inference import Prior, load, train

#: Per model: the prior, the staircase (pA per 1 ms sample), the foreign model for typicality.
SETUPS = {
    "laa": {
        "preset": None,
        "prior": {
            "C_m": ["0.5 uF/cm**2", "2 uF/cm**2"],
            "g_L": ["0.05 mS/cm**2", "0.2 mS/cm**2"],
            "E_L": ["-75 mV", "-55 mV"],
            "k": ["5 mV", "20 mV"],
            "V_thr": ["-60 mV", "-40 mV"],
        },
        "levels": (100, 250, 400),
        "true": {"C_m": "1 uF/cm**2", "g_L": "0.1 mS/cm**2", "E_L": "-65 mV", "k": "10 mV", "V_thr": "-50 mV"},
        "other": ("adex", "adapting"),
    },
    "adex": {
        "preset": "adapting",
        "prior": {
            "g_L": ["8 nS", "16 nS"],
            "C_m": ["150 pF", "250 pF"],
            "b": ["20 pA", "100 pA"],
            "V_r": ["-65 mV", "-50 mV"],
        },
        "levels": (-100, 300, 500),
        "true": {"g_L": "12 nS", "C_m": "200 pF", "b": "60 pA", "V_r": "-58 mV"},
        "other": ("laa", None),
    },
}


def staircase(levels: tuple[int, int, int]) -> dict:
    """Rest 100 ms, three 250 ms steps, rest 150 ms: a sampled current (1 ms samples)."""
    current = np.zeros(1000)
    for k, level in enumerate(levels):
        current[100 + 250 * k : 350 + 250 * k] = level
    return {"samples": current * pA, "sampling_period": 1 * ms}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=sorted(SETUPS), default="laa")
    parser.add_argument("--simulations", type=int, default=100_000)
    parser.add_argument("--epochs", type=int, default=300)
    parser.add_argument("--summary", choices=("statistics", "lstm", "both"), default="statistics")
    parser.add_argument("--backend", default="brian2-cpp")
    parser.add_argument("--out")
    parser.add_argument("--quick", action="store_true", help="4,000 simulations and 30 epochs")
    parser.add_argument("--held-out", type=int, default=200)
    parser.add_argument("--store", help="the folder of the stored simulations (default: OUT/simulations)")
    parser.add_argument("--reuse", action="store_true", help="load the posterior saved in --out instead of training")
    parser.add_argument("--synchronous", action="store_true", help="simulate in this process (no Dask cluster)")
    args = parser.parse_args()
    if args.quick:
        args.simulations, args.epochs = 4000, 30
    setup = SETUPS[args.model]
    out = Path(args.out or f"out/inference_{args.model}_{args.summary}")
    client = "synchronous" if args.synchronous else None
    stimulus = staircase(setup["levels"])

    started = time.perf_counter()
    if args.reuse and (out / "posterior.json").exists():
        posterior = load(out)
    else:
        posterior = train(
            args.model,
            Prior(setup["prior"]),
            stimulus=stimulus,
            duration="1 s",
            preset=setup["preset"],
            simulations=args.simulations,
            epochs=args.epochs,
            summary=args.summary,
            backend=args.backend,
            noise="1 mV",
            client=client,
            out=out,
            store=args.store,
        )
    print(f"ready in {time.perf_counter() - started:.0f} s: {posterior.info}")

    report = posterior.diagnose(n=args.held_out, out=out / "diagnostics", client=client, predictive=20)
    for name, row in report["per_parameter"].items():
        print(
            f"{name:6s} SBC in band {row['sbc_within_band']!s:5s} coverage90 {row['coverage']['90%']:.3f} "
            f"r {row['recovery_r']:.3f} contraction {row['contraction']:.3f} {row['why_not'] or ''}"
        )
    print("goals:", report["goals"])

    posterior = load(out)  # what another process finds
    own = posterior.protocol.simulate_observation(setup["true"], seed=7)
    posterior.sample(own, n=1000)  # the first call compiles the flow for this shape
    timings = []
    for seed in range(5):
        observation = posterior.protocol.simulate_observation(setup["true"], seed=100 + seed)
        tic = time.perf_counter()
        draws = posterior.sample(observation, n=1000, seed=seed)
        timings.append(time.perf_counter() - tic)
    print(draws.describe(percentiles=[0.05, 0.95]).T[["mean", "std", "5%", "95%"]])
    posterior.plot_pairs(draws, out / "posterior_pairs.png", truth=setup["true"])
    other_model, other_preset = setup["other"]
    other = posterior.protocol.simulate_observation(model=other_model, preset=other_preset, seed=7)
    typicality = {"own": posterior.typicality(own), other_model: posterior.typicality(other)}
    print("typicality:", typicality)
    predictive = {}
    usable = {name for name, reason in backend_status().items() if reason is None}
    for backend in ("brian2", "nest"):
        if backend not in usable:
            predictive[backend] = "not installed"
            continue
        check = posterior.predictive_check(own, n=200, backend=backend, plot=out / f"predictive_{backend}.png")
        predictive[backend] = check.fraction_inside
    print("predictive fraction inside:", predictive)
    result = {
        "model": args.model,
        "summary": args.summary,
        "simulations": posterior.info["simulations"],
        "simulation_seconds": posterior.info["simulation_seconds"],
        "training_seconds": posterior.info["training_seconds"],
        "epochs": args.epochs,
        "sample_seconds_1000_draws": timings,
        "typicality": typicality,
        "predictive_fraction_inside": predictive,
        "true": setup["true"],
        "posterior_of_true": {
            name: {"mean": float(draws[name].mean()), "sd": float(draws[name].std())} for name in draws
        },
        "posterior_correlation": draws.corr().round(3).to_dict(),
        "diagnostics": {k: report[k] for k in ("per_parameter", "typicality", "predictive", "goals")},
    }
    (out / "summary.json").write_text(json.dumps(result, indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
