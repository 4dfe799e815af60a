"""Benchmark: the generated NEST model vs NEST's built-in ``izhikevich``, 10,000 neurons for 1 s.

Both run in one NEST process (one thread), forward Euler at dt 0.1 ms, the regular-spiking
parameters and constant currents from 5 to 15 pA (built-in: ``I_e``; generated: ``I_stim``).
The built-in model uses ``consistent_integration=True``, the plain forward-Euler step, which
is the same arithmetic as the library model's ``euler`` step. Timing is ``nest.Simulate`` wall
time (network construction excluded), median of several runs, alternating the two models.

    python benchmarks/nest_izhikevich.py [--neurons 10000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import platform
import statistics
import time

import numpy as np

import sourced_neuron as sn
from sourced_neuron.backends.nestbuild import build_models
from sourced_neuron.codegen.nestml import Inputs


def simulate(nest, model_name, params, currents, current_name, library=None) -> tuple[float, int]:
    nest.ResetKernel()
    nest.resolution = 0.1
    nest.local_num_threads = 1
    if library is not None and model_name not in nest.node_models:
        nest.Install(library)
    neurons = nest.Create(model_name, len(currents), params=params)
    neurons.set({current_name: list(currents)})
    recorder = nest.Create("spike_recorder")
    nest.Connect(neurons, recorder)
    started = time.perf_counter()
    nest.Simulate(1000.0)
    return time.perf_counter() - started, recorder.n_events


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--neurons", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    model = sn.load_model("izhikevich")
    # constant currents and no spikes: no input ports, as the backend generates it for such a run
    module, (name,) = build_models([model], Inputs(current=False, receptors=()))
    import nest

    nest.set_verbosity("M_ERROR")
    currents_pa = np.linspace(5.0, 15.0, args.neurons)
    generated_params = {k: float(np.asarray(v)) for k, v in model.parameter_values().items()}
    generated_params |= {k: float(np.asarray(v)) for k, v in model.initial_values().items()}
    builtin_params = {
        "a": 0.02,
        "b": 0.2,
        "c": -65.0,
        "d": 8.0,
        "V_th": 30.0,
        "V_m": -65.0,
        "U_m": -13.0,
        "consistent_integration": True,
    }
    builtin, generated = [], []
    counts = {}
    for _ in range(args.repeats):
        seconds, counts["builtin"] = simulate(nest, "izhikevich", builtin_params, currents_pa, "I_e")
        builtin.append(seconds)
        seconds, counts["generated"] = simulate(
            nest, name, generated_params, currents_pa * 1e-12, "I_stim", str(module.library.with_suffix(""))
        )
        generated.append(seconds)
    b, g = statistics.median(builtin), statistics.median(generated)
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"NEST {importlib.metadata.version('nest-simulator')}, nestml {importlib.metadata.version('nestml')}, "
        "1 thread"
    )
    print(f"{args.neurons} Izhikevich neurons (RS), 1 s, forward Euler, dt 0.1 ms; median of {args.repeats}")
    print(
        f"NEST built-in izhikevich: {b:.3f} s, {counts['builtin']} spikes  (all: "
        f"{', '.join(f'{t:.3f}' for t in builtin)})"
    )
    print(
        f"generated {name}: {g:.3f} s, {counts['generated']} spikes  (all: {', '.join(f'{t:.3f}' for t in generated)})"
    )
    print(f"ratio generated / built-in: {g / b:.3f}")


if __name__ == "__main__":
    main()
