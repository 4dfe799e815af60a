"""SourcedNeuron, core lifecycle and initialisation (functions 1-14)."""

from __future__ import annotations

import importlib.metadata

import numpy as np
import pytest
import quantities as pq

from sourced_neuron.common.errors import InputError, UnitError
from sourced_neuron.wrapper import SourcedNeuron

pytestmark = pytest.mark.brian2


def lif(**kwargs) -> SourcedNeuron:
    return SourcedNeuron("lif", n_inputs=2, **kwargs)


def test_init_neu_sets_parameters_and_initial_state():
    neuron = lif().InitNeu({"tau_m": "20 ms", "v": "-70 mV", "t_ref": "3 ms"})
    values = neuron.model.parameter_values()
    assert float(values["tau_m"]) == pytest.approx(0.020) and float(values["t_ref"]) == pytest.approx(0.003)
    assert float(neuron.GetState()["v"].rescale(pq.mV)) == pytest.approx(-70.0)
    with pytest.raises(UnitError):
        neuron.InitNeu({"tau_m": "20 mV"})
    with pytest.raises(InputError, match="no parameter 'tau'"):
        neuron.InitNeu({"tau": "20 ms"})
    assert float(neuron.model.parameter_values()["tau_m"]) == pytest.approx(0.020)  # nothing changed


def test_weights_bias_and_state():
    neuron = lif().SetWeight([1.5, -0.25]).SetBias(0.75)
    np.testing.assert_array_equal(neuron.weights, [1.5, -0.25])
    assert neuron.bias == 0.75
    with pytest.raises(InputError, match="2 values"):
        neuron.SetWeight([1.0, 2.0, 3.0])
    with pytest.raises(InputError, match="finite"):
        neuron.SetBias(float("nan"))
    np.testing.assert_array_equal(neuron.weights, [1.5, -0.25])
    neuron.ProcInput([2.0, 4.0])  # drive (3 - 1 + 0.75) * 100 pA = 275 pA
    neuron.Integrate("60 ms")
    state = neuron.GetState()
    assert float(state["t"].rescale(pq.ms)) == pytest.approx(60) and state["n_spikes"] == len(neuron.spike_times()) > 0
    assert state["weights"].tolist() == [1.5, -0.25] and state["bias"] == 0.75
    assert set(neuron.model.state_variables) <= set(state)


def test_reset_returns_to_rest_and_keeps_weights():
    neuron = lif().InitNeu({"v": "-60 mV"}).SetWeight([2.0, 1.0])
    neuron.ProcInput([1.0, 1.0])
    neuron.Integrate("30 ms").Leakage("40 Hz").Integrate("20 ms")
    neuron.ResetNeu()
    assert neuron.t == 0 and len(neuron.spike_times()) == 0 and not neuron.epochs
    assert float(neuron.GetState()["v"].rescale(pq.mV)) == pytest.approx(-60.0)
    np.testing.assert_array_equal(neuron.weights, [2.0, 1.0])
    np.testing.assert_array_equal(neuron.inputs, [0.0, 0.0])
    assert float(neuron.model.parameter_values()["tau_m"]) == pytest.approx(0.025)  # a leak set stays set


def test_xavier_and_he_initialisation_statistics():
    xavier = SourcedNeuron("lif", n_inputs=4000, seed=3).InitXavier().weights
    limit = np.sqrt(6 / 4001)
    assert np.abs(xavier).max() <= limit and xavier.var() == pytest.approx(limit**2 / 3, rel=0.05)
    he = SourcedNeuron("lif", n_inputs=4000, seed=4).InitHe().weights
    assert he.std() == pytest.approx(np.sqrt(2 / 4000), rel=0.05) and abs(he.mean()) < 0.002


def test_copies_and_clones_are_independent():
    neuron = lif(seed=5).SetWeight([1.0, 2.0]).SetID("parent")
    neuron.ProcInput([1.0, 0.5])
    neuron.Integrate("40 ms")
    child = neuron.CopyNeu()
    assert child.id != "parent" and child.t == neuron.t
    child.SetWeight([9.0, 9.0])
    np.testing.assert_array_equal(neuron.weights, [1.0, 2.0])
    np.testing.assert_array_equal(child.spike_times(), neuron.spike_times())
    twin = neuron.CloneState()
    assert twin.t == 0
    for name in neuron.model.state_variables:
        assert float(twin.GetState()[name]) == pytest.approx(float(neuron.GetState()[name]))
    with pytest.raises(InputError, match="neuron ID"):
        neuron.SetID("1 bad id")


def test_check_health_names_problems():
    neuron = lif()
    assert neuron.CheckHealth() == {"healthy": True, "problems": []}
    neuron.weights[1] = np.nan
    neuron.backend = "nowhere"
    report = neuron.CheckHealth()
    assert not report["healthy"]
    assert any("weights are not all finite" in p for p in report["problems"])
    assert any("backend nowhere" in p for p in report["problems"])


def test_version_and_shutdown(tmp_path):
    neuron = lif()
    assert neuron.Version() == importlib.metadata.version("sourced-neuron")
    neuron.SetBias(3.0).Integrate("20 ms")
    path = neuron.Shutdown(tmp_path / "final.json")
    assert path.is_file() and path.stat().st_size > 0
    with pytest.raises(InputError, match="shut down"):
        neuron.Integrate("1 ms")


def test_main_loop_presents_every_input():
    neuron = lif().SetWeight([3.0, 1.6])
    result = neuron.MainLoop([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]], "100 ms")
    # 300 pA fires (rheobase 150 pA); 160 pA barely; nothing without input
    assert result["spikes"][0] > result["spikes"][1] >= 1 and result["spikes"][2] == 0
    assert result["spikes"].sum() == len(neuron.spike_times()) and float(result["t"]) == pytest.approx(300)
    assert result["rates"].units == pq.Hz and float(result["rates"][0]) == pytest.approx(result["spikes"][0] * 10)
    with pytest.raises(InputError, match="MainLoop: argument 'inputs' item 1 must have 2 values"):
        neuron.MainLoop([[1.0, 0.0], [1.0]])
