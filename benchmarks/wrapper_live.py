"""Benchmark: one step of the wrapper's loop, ``Integrate("10 ms")`` then ``GetState()``, on the
``brian2`` backend, after 0.2 s, 1 s, 11 s and 71 s of simulated history.

Two ways of simulating (sourced_neuron/wrapper/core.py):

- **live**: the neuron keeps one Brian2 network and continues it (the default on ``brian2``);
- **replay**: ``neuron.live = False``, each query simulates the whole history again from
  ``t = 0`` (what backends without a live session do); only over the shorter histories, since a
  step costs a run of the whole history.

The neuron is the library ``lif`` driven by 250 pA (about 90 spikes/s). To reach a history, one
``Integrate`` covers the time up to it (not timed); then ``--steps`` steps are timed one by one
and the median, the fastest and the slowest are printed. The first step of each neuron, which
builds the network (and, on the Cython target, may compile), is not timed. The code generation
target is the wrapper's (Brian2's preference: Cython where it compiles) unless ``--target`` sets
it. The live neuron is deleted before the replays start, so that their Brian2 objects get the
same names (hence the same, already compiled, code). Usage::

    python benchmarks/wrapper_live.py [--target numpy|cython] [--steps 20] [--replay-steps 5]
"""

from __future__ import annotations

import argparse
import gc
import importlib.metadata
import os
import platform
import statistics
import sys
import time

HISTORIES = (0.2, 1.0, 11.0, 71.0)  # s of simulated time before the timed steps
REPLAY_HISTORIES = (0.2, 1.0, 11.0)
STEP = 0.010  # s: Integrate("10 ms")


def make_neuron(live: bool):
    from sourced_neuron.wrapper import SourcedNeuron

    neuron = SourcedNeuron("lif", n_inputs=1, seed=1).SetWeight([2.5])
    neuron.ProcInput([1.0])
    neuron.live = live
    neuron.Integrate(f"{STEP * 1e3:g} ms").GetState()  # builds the network (not timed)
    return neuron


def time_steps(neuron, history: float, steps: int) -> tuple[list[float], int]:
    """Bring the neuron to ``history`` seconds (untimed), then time ``steps`` loop steps."""
    remaining = round((history - neuron.t) / neuron.dt)
    if remaining > 0:
        neuron.Integrate(f"{remaining * neuron.dt * 1e3:.6g} ms").GetState()
    times = []
    for _ in range(steps):
        started = time.perf_counter()
        neuron.Integrate(f"{STEP * 1e3:g} ms")
        state = neuron.GetState()
        times.append(time.perf_counter() - started)
    return times, state["n_spikes"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--target", choices=("numpy", "cython"), help="Brian2's code generation target")
    parser.add_argument("--steps", type=int, default=20, help="timed steps per history (live)")
    parser.add_argument("--replay-steps", type=int, default=5, help="timed steps per history (replay; 0: skip)")
    args = parser.parse_args()
    if args.target:
        os.environ["SOURCED_NEURON_BRIAN2_TARGET"] = args.target

    target = used_target()
    rows: dict[float, dict[str, str]] = {h: {} for h in HISTORIES}
    print(f"live, {args.steps} steps per history", flush=True)
    live = make_neuron(live=True)
    for history in HISTORIES:
        times, spikes = time_steps(live, history, args.steps)
        rows[history]["live"] = cell(times)
        print(f"  {history:5g} s: {cell(times)}  ({spikes} spikes at t = {live.t:.2f} s)", flush=True)
    # the live network holds its Brian2 names: the replays would get other names, hence other
    # code, which the Cython target compiles again
    del live
    gc.collect()
    if args.replay_steps:
        print(f"replay, {args.replay_steps} steps per history", flush=True)
        replay = make_neuron(live=False)
        for history in REPLAY_HISTORIES:
            times, spikes = time_steps(replay, history, args.replay_steps)
            rows[history]["replay"] = cell(times)
            print(f"  {history:5g} s: {cell(times)}  ({spikes} spikes at t = {replay.t:.2f} s)", flush=True)

    print()
    print(f"Integrate('10 ms') + GetState() on brian2 ({target} target), ms per step: median (fastest-slowest)")
    print()
    print("| history | live | replay |")
    print("|---|---|---|")
    for history in HISTORIES:
        print(f"| {history:g} s | {rows[history].get('live', '-')} | {rows[history].get('replay', '-')} |")
    print()
    print(
        f"{platform.machine()}, {os.cpu_count()} CPUs, Python {sys.version.split()[0]}, "
        f"brian2 {importlib.metadata.version('brian2')}, numpy {importlib.metadata.version('numpy')}"
    )


def used_target() -> str:
    """The code generation target the runs use (Brian2's "auto": Cython where it compiles)."""
    from sourced_neuron.backends.brian2_runtime import codegen_target

    target = codegen_target()
    if target == "auto":
        from brian2.codegen.runtime.cython_rt import CythonCodeObject

        target = "cython" if CythonCodeObject.is_available() else "numpy"
    return target


def cell(times: list[float]) -> str:
    return f"{statistics.median(times) * 1e3:.1f} ({min(times) * 1e3:.1f}-{max(times) * 1e3:.1f})"


if __name__ == "__main__":
    main()
