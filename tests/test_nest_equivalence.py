"""Generated NESTML on NEST against the brian2 backend: the same arithmetic, so the same numbers.

The NESTML update block holds Brian2's own integration step (printed from its state updater),
in SI units, with the step order of docs/semantics.md. Both simulators then evaluate the same
double-precision expressions; only the C++ compilers' evaluation order can differ, so traces
agree to about 1e-12 V and spike times exactly. These tests compile every library model once
(about a minute; later runs reuse the build cache) and skip, with the reason, where the NEST
toolchain is missing.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile

import numpy as np
import pytest
import quantities as pq

import sourced_neuron as sn
from sourced_neuron import nestbuild
from sourced_neuron.units import as_quantity

pytestmark = [pytest.mark.nest, pytest.mark.slow]

CASES = [
    ("lif", None, "200 pA"),
    ("izhikevich", "rs", "10 pA"),
    ("izhikevich", "ch", "10 pA"),
    ("izhikevich", "fs", "10 pA"),  # see SENSITIVE
    ("hh", None, "500 pA"),
    ("hh", None, "0 pA"),
    ("adex", "adapting", "500 pA"),
    ("adex", "initial_burst", "400 pA"),
    ("laa", None, "300 pA"),
    ("laa", None, "120 pA"),
]
DT_MS = 0.1

# Brian2 hoists loop invariants (e.g. dt/ms) out of its per-neuron code, which reorders a few
# floating-point operations: traces then differ by about 1e-13 V. Izhikevich's quadratic upswing
# amplifies that, and for the fast-spiking preset one threshold crossing moves by a step after
# 48 spikes (at 368 ms), shifting the rest of the train by up to 0.6 ms. With the hoisting
# switched off the two agree to 1e-17 V (test_fast_spiking_matches_without_loop_invariant_hoisting).
# Next step: print Brian2's optimised statements into NESTML, so that the default matches too.
SENSITIVE = {("izhikevich", "fs", "10 pA")}


@pytest.fixture(scope="module")
def nest_module(tmp_path_factory):
    try:
        nestbuild.check_toolchain()
    except nestbuild.ToolchainError as exc:
        pytest.skip(str(exc))
    models = [sn.load_model(name).with_preset(preset) for name, preset, _ in CASES]
    module, names = nestbuild.build_models(models)
    import nest

    return nest, module, dict(zip(range(len(CASES)), names, strict=True)), models


def run_nest(nest, module, name, model, current, duration_ms):
    nest.set_verbosity("M_ERROR")
    nest.ResetKernel()
    nest.resolution = DT_MS
    if name not in nest.node_models:
        nest.Install(str(module.library.with_suffix("")))
    params = {k: float(np.asarray(v)) for k, v in model.parameter_values().items()}
    initial = {k: float(np.asarray(v)) for k, v in model.initial_values().items()}
    neuron = nest.Create(name, 1, params={**params, **initial, "I_stim": float(as_quantity(current))})
    spikes = nest.Create("spike_recorder")
    nest.Connect(neuron, spikes)
    meter = nest.Create("multimeter", params={"record_from": ["v"], "interval": DT_MS})
    nest.Connect(meter, neuron)
    nest.Simulate(duration_ms)
    # NEST stamps a spike at the end of its step, docs/semantics.md at the start: one dt earlier
    times = np.asarray(spikes.events["times"]) - DT_MS
    # a multimeter sample at t_k holds the state after step k-1, which Brian2 records at t_k
    return times, np.asarray(meter.events["times"]), np.asarray(meter.events["v"])


def brian2_run(model, current, hoisting=True):
    """Spike times (ms) and v (V) on the brian2 backend; without hoisting in a fresh process,
    since Brian2 keeps generated code for the rest of a process."""
    if hoisting:
        block = sn.simulate(model, duration="500 ms", stimulus=current, record=("v",))
        return (
            block.segments[0].spiketrains[0].rescale(pq.ms).magnitude,
            block.segments[0].analogsignals[0].rescale(pq.V).magnitude[:, 0],
        )
    code = f"""
import sys, numpy as np, quantities as pq, brian2, sourced_neuron as sn
brian2.prefs.codegen.loop_invariant_optimisations = False
model = sn.NeuronModel.from_yaml(sys.stdin.read())
block = sn.simulate(model, duration="500 ms", stimulus={current!r}, record=("v",))
np.savez(sys.argv[1], t=block.segments[0].spiketrains[0].rescale(pq.ms).magnitude,
         v=block.segments[0].analogsignals[0].rescale(pq.V).magnitude[:, 0])
"""
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "run.npz")
        subprocess.run(
            [sys.executable, "-c", code, path],
            input=model.to_yaml(),
            text=True,
            check=True,
            capture_output=True,
            timeout=600,
        )
        data = np.load(path)
        return data["t"], data["v"]


def compare(nest_module, case, hoisting=True):
    nest, module, names, models = nest_module
    current = CASES[case][2]
    model = models[case]
    nest_times, sample_times, nest_v = run_nest(nest, module, names[case], model, current, 500.0)
    brian_times, brian_v = brian2_run(model, current, hoisting)
    assert len(nest_times) == len(brian_times), (len(nest_times), len(brian_times))
    if len(brian_times):
        # identical steps: spike times differ only by the rounding of t - dt (about 1e-13 ms)
        np.testing.assert_allclose(nest_times, brian_times, rtol=0, atol=1e-9)
    index = np.round(sample_times / DT_MS).astype(int)
    inside = index < len(brian_v)
    # the same expressions in double precision: differences are compiler rounding, far below 1 nV
    np.testing.assert_allclose(nest_v[inside], brian_v[index[inside]], rtol=0, atol=1e-9)


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(k, marks=pytest.mark.xfail(strict=True, reason="rounding amplified, see SENSITIVE"))
        if CASES[k] in SENSITIVE
        else k
        for k in range(len(CASES))
    ],
    ids=[f"{n}-{p}-{c}" for n, p, c in CASES],
)
def test_generated_nest_model_matches_brian2(nest_module, case):
    compare(nest_module, case)


def test_fast_spiking_matches_without_loop_invariant_hoisting(nest_module):
    compare(nest_module, CASES.index(("izhikevich", "fs", "10 pA")), hoisting=False)


def test_build_cache_reuses_the_module(nest_module, tmp_path):
    _, module, _, models = nest_module
    again, _ = nestbuild.build_models(models[::-1])  # same structures in another order: the same key
    assert again.key == module.key and again.library.exists()
    entries = {entry["key"] for entry in nestbuild.cache_entries()}
    assert module.key in entries
