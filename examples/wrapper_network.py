"""Drive a small network through the SourcedNeuron API on Brian2 and NEST.

An artificial neuron learns OR (sigmoid, log loss, Adam); its learnt weights then drive two
spiking input cells (LIF), which excite an Izhikevich cell and an inhibitory LIF cell; the
inhibitory cell inhibits the Izhikevich cell. The same network runs on each backend and the
spike trains are compared.

python examples/wrapper_network.py [--backends brian2,nest] [--out out/wrapper_network]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from sourced_neuron import SourcedNeuron, backend_status
from sourced_neuron.analysis.plotting import plot_raster

OR_INPUTS = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
OR_TARGETS = np.array([0, 1, 1, 1], dtype=float)


def learn_or(seed: int = 1) -> SourcedNeuron:
    """An artificial neuron (sigmoid, log loss, Adam) trained on OR."""
    unit = SourcedNeuron("lif", n_inputs=2, activation="sigmoid", seed=seed).SetID("or_unit").InitXavier()
    unit.SetLoss("log").AdamOpt().SetLR(0.1)
    losses = unit.Train(OR_INPUTS, OR_TARGETS, epochs=300)
    print(f"OR learnt: loss {losses[0]:.3f} -> {losses[-1]:.4f}, outputs {np.round(unit.Predict(OR_INPUTS), 3)}")
    return unit


def build(unit: SourcedNeuron) -> dict[str, SourcedNeuron]:
    """The spiking network; each input cell sees one OR pattern through the learnt weights."""
    cells = {}
    for name, pattern in (("in_a", [1.0, 0.0]), ("in_b", [1.0, 1.0])):
        cell = SourcedNeuron("lif", n_inputs=2, name=name, current_scale="25 pA")
        cell.SetWeight(unit.weights).SetBias(unit.bias)
        cell.ProcInput(pattern)
        cells[name] = cell
    cells["rs"] = SourcedNeuron("izhikevich", preset="rs", n_inputs=2, name="rs")
    cells["inh"] = SourcedNeuron("lif", n_inputs=2, name="inh", params={"tau_m": "12 ms"})
    cells["in_a"].Excite(cells["rs"], weight="30 pA").Excite(cells["inh"], weight="250 pA")
    cells["in_b"].Excite(cells["rs"], weight="30 pA").Excite(cells["inh"], weight="250 pA", delay="2 ms")
    cells["inh"].Inhibit(cells["rs"], weight="20 pA")
    return cells


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="brian2,nest")
    parser.add_argument("--duration", default="500 ms")
    parser.add_argument("--out", default="out/wrapper_network")
    args = parser.parse_args()
    out = Path(args.out)
    cells = build(learn_or())
    print("layers:", {name: cell.GetLayer() for name, cell in cells.items()})
    print("links of rs:", cells["rs"].GetSynCount())
    runs = {}
    for backend in args.backends.split(","):
        reason = backend_status().get(backend, f"unknown backend {backend!r}")
        if reason:
            print(f"{backend}: skipped ({reason})")
            continue
        block = cells["rs"].RunNetwork(args.duration, backend=backend)
        trains = {str(t.annotations["population"]): t.rescale("ms").magnitude for t in block.segments[0].spiketrains}
        runs[backend] = trains
        rates = ", ".join(
            f"{name} {len(times) / float(block.segments[0].t_stop.rescale('s')):.1f} Hz"
            for name, times in trains.items()
        )
        print(f"{backend}: {rates}")
        print(f"wrote {plot_raster(block, out / f'raster_{backend}.png')}")
    if len(runs) == 2:
        (a, ta), (b, tb) = runs.items()
        worst = max(
            (float(np.max(np.abs(ta[k] - tb[k]))) if len(ta[k]) and len(ta[k]) == len(tb[k]) else 0.0) for k in ta
        )
        same = all(len(ta[k]) == len(tb[k]) for k in ta)
        print(f"{a} vs {b}: equal spike counts {same}, largest spike-time difference {worst:.2e} ms")


if __name__ == "__main__":
    main()
