"""The main job (``make demo``): simulate every library model on the default backend.

Writes to the output folder: ``demo.png`` (voltage traces and spike rasters, one panel per
run), ``demo.nix`` (every run as a Neo block) and ``summary.txt`` (spike statistics).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from sourced_neuron.analysis.measures import spike_summary
from sourced_neuron.analysis.plotting import plot_overview
from sourced_neuron.common import files
from sourced_neuron.results.blocks import structure
from sourced_neuron.results.io import write_blocks
from sourced_neuron.run.simulation import simulate
from sourced_neuron.spec.library import library_models

__all__ = ["DEMO_RUNS", "run_demo"]

DURATION = "500 ms"


def _step(amplitude: str) -> dict[str, str]:
    return {"start": "50 ms", "stop": "450 ms", "amplitude": amplitude}


#: (model, preset, stimulus) of each demo run: a current step from 50 to 450 ms, at amplitudes
#: that show each model's characteristic response (for AdEx, the currents of Naud et al. 2008).
DEMO_RUNS: tuple[tuple[str, str | None, dict[str, str]], ...] = (
    ("lif", None, _step("200 pA")),
    ("izhikevich", "rs", _step("10 pA")),
    ("izhikevich", "ib", _step("10 pA")),
    ("izhikevich", "ch", _step("10 pA")),
    ("izhikevich", "fs", _step("10 pA")),
    ("hh", None, _step("500 pA")),
    ("adex", "adapting", _step("500 pA")),
    ("adex", "initial_burst", _step("400 pA")),
    ("adex", "regular_bursting", _step("210 pA")),
    ("laa", None, _step("300 pA")),
)


def run_demo(out: str | Path = "out", backend: str = "brian2") -> list:
    """Run :data:`DEMO_RUNS` (and any other library model with a default step) and write the outputs."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    runs = list(DEMO_RUNS)
    covered = {name for name, _, _ in runs}
    runs += [(name, None, _step("100 pA")) for name in library_models() if name not in covered]
    blocks, lines = [], [f"sourced_neuron demo: {len(runs)} runs of {DURATION} on backend {backend!r}", ""]
    for name, preset, stimulus in runs:
        started = time.perf_counter()
        block = simulate(name, backend=backend, duration=DURATION, preset=preset, stimulus=stimulus)
        elapsed = time.perf_counter() - started
        blocks.append(block)
        row = spike_summary(block)[0]
        label = f"{name}" + (f" [{preset}]" if preset else "")
        lines.append(
            f"{label:28s} {structure(block)['populations'][0]['stimulus']:38s} {row['n_spikes']:4d} spikes  "
            f"first {row['first_spike']:7.2f} ms  ISI CV {row['cv']:.3f}  ({elapsed:.1f} s)"
        )
        print(lines[-1], flush=True)
    plot_overview(blocks, out / "demo.png")
    write_blocks(blocks, out / "demo.nix")
    files.write_text(out / "summary.txt", "\n".join(lines) + "\n", "demo")
    print(f"wrote {out / 'demo.png'}, {out / 'demo.nix'}, {out / 'summary.txt'}")
    return blocks


def main(argv: list[str] | None = None) -> int:
    """Command-line entry of the demo."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="out", help="output folder (default: out)")
    parser.add_argument("--backend", default="brian2")
    args = parser.parse_args(argv)
    run_demo(args.out, args.backend)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
