"""Brunel's (2000) sparsely connected network, model A, in its four classic states, on any backend.

N_E = 4 N_I LIF neurons with delta synapses (``examples/models/brunel_lif.yaml``, NEST's
``iaf_psc_delta``): in-degrees C_E = N_E / 10 and C_I = N_I / 10 (at most 1,000 and 250, so that
larger networks keep Brunel's in-degrees), J = 0.1 mV, inhibitory weight
-g J, delay 1.5 ms, dt 0.1 ms. Each neuron also receives C_E external Poisson inputs of rate
eta nu_thr, where nu_thr = theta / (J C_E tau_m) is the rate that brings the mean input to
threshold; they are drawn from a shared pool of N_E Poisson sources. The relative strength of
inhibition g and the drive eta select the state (Brunel 2000, Fig. 8, N_E = 10,000):

- SR (synchronous regular): g = 3, eta = 2: excitation dominates, neurons fire near saturation
  in synchrony;
- AI (asynchronous irregular): g = 5, eta = 2: stationary population rate, irregular firing;
- SI fast (synchronous irregular): g = 6, eta = 4: fast population oscillation (~180 Hz),
  irregular single neurons;
- SI slow: g = 4.5, eta = 0.9: slow population oscillation, irregular single neurons.

For each state the example prints the mean rate, the mean ISI CV (Elephant) and the Fano
factor of the population spike count in 1 ms bins (1 for independent Poisson neurons, large
for synchrony), and draws a raster of 50 excitatory neurons over the population rate.

    python examples/brunel.py [--states SR,AI,SIfast,SIslow] [--backend nest] [--neurons 12500]
                              [--duration "300 ms"] [--out out/brunel]

On NEST built with MPI (``make nest-mpi``) it also runs as ``mpirun -np 2 python examples/brunel.py``
(or ``srun`` on a cluster): every process builds its share of the network, every process gets
all the spikes, and rank 0 prints and draws.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from elephant.statistics import cv, isi

import sourced_neuron as sn
from sourced_neuron.common import mpi

MODEL = Path(__file__).parent / "models" / "brunel_lif.yaml"
THETA, TAU_M, J = 20.0, 20.0, 0.1  # mV, ms, mV
STATES = {"SR": (3.0, 2.0), "AI": (5.0, 2.0), "SIfast": (6.0, 4.0), "SIslow": (4.5, 0.9)}  # g, eta


def sizes(n: int, indegree: int | None = None) -> dict:
    """Population sizes, in-degrees and J (mV) of a network of ``n`` neurons (80 % excitatory).

    Connection probability 0.1 up to N_E = 10,000, then in-degrees fixed at 1,000 and 250.
    ``indegree``: C_E given (C_I = C_E / 4) and J = 0.1 mV * 1,000 / C_E, so that the mean
    recurrent and external input stay Brunel's (the fluctuations grow as C_E shrinks).
    """
    n_e = n * 4 // 5
    n_i = n - n_e
    if indegree:
        return {"N_E": n_e, "N_I": n_i, "C_E": indegree, "C_I": max(1, indegree // 4), "J": J * 1000 / indegree}
    return {"N_E": n_e, "N_I": n_i, "C_E": max(1, min(n_e // 10, 1000)), "C_I": max(1, min(n_i // 10, 250)), "J": J}


def build(
    n: int, g: float, eta: float, seed: int = 1, delay: str = "1.5 ms", indegree: int | None = None
) -> sn.Network:
    """Brunel's model A with ``n`` neurons, inhibition ``g`` and external drive ``eta``."""
    s = sizes(n, indegree)
    j = s["J"]
    nu_ext = eta * THETA / (j * s["C_E"] * TAU_M) * 1e3  # Hz, per external source
    net = sn.Network(seed=seed)
    v0 = {"uniform": ["0 mV", f"{THETA} mV"]}
    net.population("exc", MODEL, s["N_E"], params={"v": v0})
    net.population("inh", MODEL, s["N_I"], params={"v": v0})
    net.poisson("ext", s["N_E"], rate=f"{nu_ext} Hz")
    for target in ("exc", "inh"):
        for pre, k, w in (("ext", s["C_E"], j), ("exc", s["C_E"], j), ("inh", s["C_I"], -g * j)):
            net.connect(pre, target, "fixed_indegree", indegree=k, weight=f"{w} mV", delay=delay)
    net.record("exc", "spikes")
    net.record("inh", "spikes")
    return net


def measures(segment, n: int, seconds: float) -> dict:
    """Mean rate (Hz), mean ISI CV and the Fano factor of the population count in 1 ms bins."""
    _, times = segment.spiketrains.multiplexed
    times = np.asarray(times.rescale("s").magnitude)
    counts = np.bincount((times * 1e3).astype(int), minlength=int(seconds * 1e3))
    skip = 50  # the first 50 ms: the random initial state settling
    counts = counts[skip:]
    fano = counts.var() / counts.mean() if counts.mean() > 0 else float("nan")
    trains = [st for st in segment.spiketrains if len(st) > 3][:1000]
    cvs = [cv(isi(st)) for st in trains]
    return {
        "rate": len(times) / n / seconds,
        "cv": float(np.mean(cvs)) if cvs else float("nan"),
        "fano": float(fano),
        "counts": counts,
        "skip": skip,
    }


def plot(results: dict, out: Path, n: int) -> Path:
    fig, axes = plt.subplots(2, len(results), figsize=(4 * len(results), 5), sharex=True, squeeze=False)
    for column, (state, (segment, measured)) in enumerate(results.items()):
        raster, rate = axes[0, column], axes[1, column]
        for k, st in enumerate(segment.spiketrains[:50]):
            raster.plot(st.rescale("ms").magnitude, np.full(len(st), k), "|", color="k", markersize=2)
        g, eta = STATES[state]
        raster.set_title(f"{state}: g = {g:g}, eta = {eta:g}\n{measured['rate']:.1f} Hz, CV {measured['cv']:.2f}")
        raster.set_ylabel("neuron")
        t = np.arange(len(measured["counts"])) + measured["skip"]
        rate.plot(t, measured["counts"] / n * 1e3, lw=0.6)
        rate.set_xlabel("time (ms)")
        rate.set_ylabel("population rate (Hz)")
    fig.tight_layout()
    out.mkdir(parents=True, exist_ok=True)
    path = out / "brunel_states.png"
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--states", default=",".join(STATES))
    parser.add_argument("--backend", default="nest")
    parser.add_argument("--neurons", type=int, default=12500)
    parser.add_argument("--duration", default="300 ms")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", default="out/brunel")
    args = parser.parse_args()
    results = {}
    for state in args.states.split(","):
        g, eta = STATES[state]
        started = time.perf_counter()
        block = build(args.neurons, g, eta, args.seed).run(args.duration, backend=args.backend, check_finite=False)
        segment = block.segments[0]
        seconds = float(segment.t_stop.rescale("s"))
        measured = measures(segment, args.neurons, seconds)
        results[state] = (segment, measured)
        if mpi.rank() != 0:
            continue
        print(
            f"{state:7s} g = {g:g}, eta = {eta:g}: {measured['rate']:6.1f} Hz, ISI CV {measured['cv']:.2f}, "
            f"Fano factor of the population count {measured['fano']:7.1f}  "
            f"({args.backend}, {time.perf_counter() - started:.1f} s)",
            flush=True,
        )
    if mpi.rank() == 0:
        print("wrote", plot(results, Path(args.out), args.neurons))


if __name__ == "__main__":
    main()
