"""Generated models against NEST's hand-written built-ins where those integrate the same way.

- ``izhikevich`` vs NEST's ``izhikevich`` with ``consistent_integration=True``: both take the
  same forward-Euler step (NEST in mV and ms, the generated model in SI units).
- ``lif`` vs ``iaf_psc_delta``: both exact. NEST's ``t_ref`` clamps one step more than the
  rule of docs/semantics.md (Brian2's), so the built-in gets ``t_ref - dt`` to match.

Skipped, with the reason, where the NEST backend is unavailable.
"""

from __future__ import annotations

import numpy as np
import pytest

import sourced_neuron as sn
from sourced_neuron.backends import backend_status

pytestmark = [pytest.mark.nest, pytest.mark.slow]
DT = 0.1


@pytest.fixture(scope="module")
def nest():
    reason = backend_status()["nest"]
    if reason:
        pytest.skip(reason)
    import nest

    nest.set_verbosity("M_ERROR")
    return nest


def builtin_spikes(nest, model: str, params: dict, current_pa: float, duration_ms: float) -> np.ndarray:
    nest.ResetKernel()
    nest.resolution = DT
    neuron = nest.Create(model, 1, params={**params, "I_e": current_pa})
    recorder = nest.Create("spike_recorder")
    nest.Connect(neuron, recorder)
    nest.Simulate(duration_ms)
    return np.asarray(recorder.events["times"]) - DT  # the stamp convention of docs/semantics.md


def generated_spikes(model: sn.NeuronModel, current: str, duration: str) -> np.ndarray:
    block = sn.simulate(model, backend="nest", duration=duration, stimulus=current, record=())
    return block.segments[0].spiketrains[0].magnitude


@pytest.mark.parametrize("preset", ["rs", "ib", "ch", "fs"])
def test_izhikevich_matches_nest_builtin(nest, preset):
    model = sn.load_model("izhikevich").with_preset(preset)
    p = {k: float(np.asarray(v)) for k, v in model.parameter_values().items()}
    params = {
        "a": p["a"],
        "b": p["b"],
        "c": p["c"] * 1e3,
        "d": p["d"] * 1e3,
        "V_th": p["V_peak"] * 1e3,
        "V_m": -65.0,
        "U_m": -65.0 * p["b"],
        "consistent_integration": True,
    }
    builtin = builtin_spikes(nest, "izhikevich", params, 10.0, 1000.0)
    generated = generated_spikes(model, "10 pA", "1 s")
    if preset == "fs":
        # 131 spikes in 1 s: mV/ms versus SI arithmetic rounds differently, and the quadratic upswing
        # amplifies it until one crossing moves by a step (see test_nest_equivalence.SENSITIVE);
        # the rate still agrees within one spike in 1 s
        assert abs(len(builtin) - len(generated)) <= 1
        np.testing.assert_allclose(builtin[:40], generated[:40], rtol=0, atol=1e-9)
    else:
        assert len(builtin) == len(generated)
        np.testing.assert_allclose(builtin, generated, rtol=0, atol=1e-9)  # the same step: identical times


def test_lif_matches_iaf_psc_delta(nest):
    model = sn.load_model("lif").with_parameters({"tau_m": "7 ms", "R_m": "130 Mohm", "t_ref": "3 ms"})
    # tau_m = R C: C = 7 ms / 130 Mohm
    params = {
        "E_L": -65.0,
        "V_th": -50.0,
        "V_reset": -65.0,
        "tau_m": 7.0,
        "C_m": 7.0 / 130.0 * 1e3,
        "t_ref": 3.0 - DT,
        "V_m": -65.0,
    }
    builtin = builtin_spikes(nest, "iaf_psc_delta", params, 180.0, 1000.0)
    generated = generated_spikes(model, "180 pA", "1 s")
    assert len(builtin) == len(generated) > 20
    np.testing.assert_allclose(builtin, generated, rtol=0, atol=1e-9)
