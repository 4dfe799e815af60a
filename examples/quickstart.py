"""Simulate a library model, look at the result with Elephant, and save it as NIX.

python examples/quickstart.py [--out out/quickstart]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from elephant.statistics import cv, isi, mean_firing_rate

import sourced_neuron as sn
from sourced_neuron.analysis.plotting import plot_block
from sourced_neuron.results.io import write_block


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="out/quickstart")
    args = parser.parse_args()
    out = Path(args.out)

    model = sn.load_model("adex")
    print(f"{model.name}: presets {', '.join(model.preset_names)}; hash {model.content_hash[:12]}")
    # the adapting cell of Naud et al. (2008) at its published current
    block = sn.simulate(
        model,
        preset="adapting",
        duration="1 s",
        record=("v", "w"),
        stimulus={"start": "100 ms", "stop": "900 ms", "amplitude": "500 pA"},
    )
    train = block.segments[0].spiketrains[0]
    print(f"{len(train)} spikes, {mean_firing_rate(train).rescale('Hz'):.2f}, ISI CV {cv(isi(train)):.3f}")
    print("first ISIs (ms):", isi(train)[:6].rescale("ms").magnitude.round(1))
    print("wrote", write_block(block, out / "adex_adapting.nix"))
    print("wrote", plot_block(block, out / "adex_adapting.png"))


if __name__ == "__main__":
    main()
