"""SourcedNeuron, validation and metrics (functions 64-75), checked against hand-computed values
and the LIF closed forms (models/lif.yaml: R_m = 100 Mohm, threshold 15 mV above rest; with a
constant current I above 150 pA the rate is 1/(t_ref + tau_m ln(RI / (RI - 15 mV))))."""

from __future__ import annotations

import numpy as np
import pytest
import quantities as pq

from sourced_neuron import backend_status
from sourced_neuron.common.errors import InputError
from sourced_neuron.wrapper import SourcedNeuron
from sourced_neuron.wrapper import validation as validation_module


def sigmoid(z: float) -> float:
    return 1.0 / (1.0 + np.exp(-z))


def test_check_nan_finds_injected_values_in_weights_bias_and_gradients():
    neuron = SourcedNeuron("lif", n_inputs=3).SetWeight([0.4, -0.2, 0.1])
    neuron.ProcInput([1.0, 2.0, 3.0])
    neuron.SetTarget(1.0).BackProp()  # gradients to scan
    assert neuron.CheckNaN() == {}
    neuron._grad_sum["weights"][2] = np.inf
    assert neuron.CheckNaN() == {"_grad_sum.weights": [2]}
    neuron.ResetGrads()
    neuron.weights[1] = np.nan
    neuron.bias = -np.inf
    found = neuron.CheckNaN()
    assert found["weights"] == [1] and found["bias"] == [0]
    assert found["output"] == [0]  # the output is NaN too
    assert "inputs" not in found


@pytest.mark.brian2
def test_check_nan_scans_the_simulated_trace():
    neuron = SourcedNeuron("lif").SetBias(1.0).Integrate("5 ms")
    assert neuron.CheckNaN() == {}
    voltage = neuron.recording().samples["v"].values  # the simulation's samples, a view
    voltage[7] = np.nan  # as if the integration had blown up at t = 0.7 ms
    assert neuron.CheckNaN() == {"trace.v": [7]}


def test_weight_bounds_clip_floor_and_check():
    neuron = SourcedNeuron("lif", n_inputs=4).SetWeight([0.5, -2.0, 3.0, 0.0])
    unbounded = neuron.CheckLimit()
    assert unbounded["ok"] and unbounded["max_abs"] is None and len(unbounded["indices"]) == 0
    np.testing.assert_array_equal(neuron.CheckLimit(max_abs=1.0)["indices"], [1, 2])

    assert neuron.SetMaxWeight(1.5) is neuron
    np.testing.assert_array_equal(neuron.weights, [0.5, -1.5, 1.5, 0.0])
    neuron.SetMinWeight(0.6)  # magnitudes raised to the floor, signs kept, zero becomes +floor
    np.testing.assert_array_equal(neuron.weights, [0.6, -1.5, 1.5, 0.6])
    assert neuron.CheckLimit()["ok"]

    neuron.SetWeight([0.1, 2.0, -0.7, 0.0])  # learning or SetWeight may leave the bounds
    check = neuron.CheckLimit()
    assert not check["ok"] and (check["max_abs"], check["min_abs"]) == (1.5, 0.6)
    np.testing.assert_array_equal(check["above"], [1])
    np.testing.assert_array_equal(check["below"], [0, 3])
    np.testing.assert_array_equal(check["indices"], [0, 1, 3])
    np.testing.assert_array_equal(neuron.CheckLimit(max_abs=3.0)["above"], [])

    with pytest.raises(InputError, match="above the maximum"):
        neuron.SetMinWeight(2.0)
    with pytest.raises(InputError, match="below the minimum"):
        neuron.SetMaxWeight(0.5)
    with pytest.raises(InputError, match="maximum weight"):
        neuron.SetMaxWeight(-1.0)
    np.testing.assert_array_equal(neuron.weights, [0.1, 2.0, -0.7, 0.0])  # refused: unchanged
    neuron.SetMinWeight(0)  # no floor
    assert neuron.CheckLimit()["min_abs"] is None
    neuron.weights[2] = np.nan
    assert 2 in neuron.CheckLimit()["above"]


@pytest.mark.brian2
def test_peak_voltage_of_a_subthreshold_lif():
    neuron = SourcedNeuron("lif").SetBias(1.2)  # 120 pA: v -> E_L + R I = -53 mV, below -50 mV
    assert float(neuron.PeakVoltage()) == pytest.approx(-65.0)  # the initial value
    neuron.Integrate("40 ms")
    peak = neuron.PeakVoltage()
    assert peak.units == pq.mV
    assert float(peak) == pytest.approx(-65 + 12 * (1 - np.exp(-4)), abs=1e-6)
    assert float(peak) == pytest.approx(float(neuron.trace().max().rescale(pq.mV)))
    assert float(peak) < -50
    neuron.SetBias(-1.0).Integrate("20 ms")  # falling again: the peak stays
    assert float(neuron.PeakVoltage()) == pytest.approx(float(peak))
    neuron.ResetNeu()
    assert float(neuron.PeakVoltage()) == pytest.approx(-65.0)


@pytest.mark.brian2
def test_freq_check_matches_the_lif_closed_form():
    neuron = SourcedNeuron("lif").SetBias(2.6)  # 260 pA
    with pytest.raises(InputError, match="Integrate first"):
        neuron.FreqCheck()
    neuron.Integrate("200 ms")
    values = neuron.model.parameter_values()
    ri = float(values["R_m"]) * neuron.drive() * 1e3  # mV
    gap = (float(values["V_th"]) - float(values["E_L"])) * 1e3
    rate = 1.0 / (float(values["t_ref"]) + float(values["tau_m"]) * np.log(ri / (ri - gap)))  # ~94 Hz
    whole = neuron.FreqCheck()
    assert whole.units == pq.Hz
    assert float(whole) == pytest.approx(rate, abs=1 / 0.2)  # within one interval's worth
    last = neuron.FreqCheck("100 ms")  # the spikes in [100 ms, 200 ms)
    assert float(last) == pytest.approx(rate, abs=1 / 0.1)
    times = neuron.spike_times()
    assert float(last) == pytest.approx(np.count_nonzero((times >= 0.1) & (times < 0.2)) / 0.1)
    assert float(neuron.FreqCheck("200 ms")) == float(whole)
    with pytest.raises(InputError, match="window"):
        neuron.FreqCheck("300 ms")


def test_losses_against_hand_computed_values():
    neuron = SourcedNeuron("lif", n_inputs=2, activation="sigmoid").SetWeight([0.8, -0.3]).SetBias(0.1)
    neuron.ProcInput([1.0, 2.0])  # z = 0.8 - 0.6 + 0.1 = 0.3
    y = sigmoid(0.3)
    with pytest.raises(InputError, match="no target"):
        neuron.MSELoss()
    neuron.SetTarget(1.0)
    assert neuron.LogLoss() == pytest.approx(-np.log(y))
    assert neuron.MSELoss() == pytest.approx((y - 1) ** 2)
    assert neuron.HuberLoss(delta=0.25) == pytest.approx(0.25 * (1 - y - 0.125))  # beyond delta: linear
    assert neuron.HuberLoss(delta=1.0) == pytest.approx(0.5 * (1 - y) ** 2)  # within: quadratic
    assert neuron.LogLoss(target=0.0) == pytest.approx(-np.log(1 - y))  # explicit target wins

    neuron.ProcInput([[1.0, 2.0], [0.0, 0.0]])  # a batch: the mean over its samples
    neuron.SetTarget([1.0, 0.0])
    y2 = sigmoid(0.1)
    assert neuron.MSELoss() == pytest.approx(((y - 1) ** 2 + y2**2) / 2)
    assert neuron.LogLoss() == pytest.approx((-np.log(y) - np.log(1 - y2)) / 2)
    neuron.BackProp(loss="log")  # the learning section computes the same loss
    assert neuron.last_loss == pytest.approx(neuron.LogLoss())

    plain = SourcedNeuron("lif")  # standalone, explicit values
    assert plain.LogLoss(target=1.0, output=0.0) == pytest.approx(-np.log(1e-12))  # clipped
    assert plain.HuberLoss(delta=2.0, target=[0.0, 1.0], output=[1.0, 6.0]) == pytest.approx((0.5 + 2 * 4) / 2)
    with pytest.raises(InputError, match=r"outputs in \[0, 1\]"):
        plain.LogLoss(target=1.0, output=1.5)
    with pytest.raises(InputError, match=r"targets in \[0, 1\]"):
        plain.LogLoss(target=2.0, output=0.5)
    with pytest.raises(InputError, match="do not match"):
        plain.MSELoss(target=[1.0, 2.0, 3.0], output=[0.0, 1.0])
    with pytest.raises(InputError, match="delta"):
        plain.HuberLoss(delta=0.0, target=1.0, output=0.0)


@pytest.mark.parametrize(
    ("activation", "x", "saturated"),
    [
        ("sigmoid", 6.0, True),  # y(1 - y) = 0.0025
        ("sigmoid", -6.0, True),
        ("sigmoid", 2.0, False),
        ("tanh", 3.0, True),  # 1 - y^2 = 0.0099
        ("tanh", -2.0, False),
        ("relu", -0.5, True),  # dead
        ("relu", 0.5, False),
        ("step", 0.5, True),
        ("linear", 100.0, False),
    ],
)
def test_is_saturated_for_the_artificial_neuron(activation, x, saturated):
    neuron = SourcedNeuron("lif", n_inputs=1, activation=activation).SetWeight([1.0])
    neuron.ProcInput([x])
    assert neuron.IsSaturated() is saturated


def test_is_saturated_tolerance_shift_and_batches():
    neuron = SourcedNeuron("lif", n_inputs=1, activation="sigmoid").SetWeight([1.0])
    neuron.ProcInput([6.0])
    assert neuron.IsSaturated(tol=0.01) and not neuron.IsSaturated(tol=0.001)
    relu = SourcedNeuron("lif", n_inputs=1, activation="relu").SetWeight([1.0])
    relu.ProcInput([0.5])
    assert not relu.IsSaturated()
    assert relu.BiasShift(1.0).IsSaturated()  # f(z - 1): z - 1 = -0.5, dead
    relu.BiasShift(0.0).ProcInput([[-1.0], [2.0]])
    assert not relu.IsSaturated()  # one sample still learns
    relu.ProcInput([[-1.0], [-2.0]])
    assert relu.IsSaturated()
    for tol in (0, 1.5, True):
        with pytest.raises(InputError, match="tol"):
            relu.IsSaturated(tol=tol)


@pytest.mark.brian2
def test_is_saturated_for_the_spiking_neuron():
    with pytest.raises(InputError, match="Integrate first"):
        SourcedNeuron("lif").IsSaturated(spiking=True)
    silent = SourcedNeuron("lif").SetBias(0.5).Integrate("30 ms")  # 50 pA: no spike
    assert silent.IsSaturated(spiking=True)
    busy = SourcedNeuron("lif").SetBias(100.0).Integrate("30 ms")  # 10 nA: one spike per t_ref + dt
    assert busy.IsSaturated(spiking=True)
    assert SourcedNeuron("lif").SetBias(100.0).Integrate("30 ms").FreqCheck() > 450 * pq.Hz
    moderate = SourcedNeuron("lif").SetBias(2.5).Integrate("30 ms")  # ~90 Hz
    assert not moderate.IsSaturated(spiking=True)


def test_verify_arch_against_neurons_and_descriptions():
    neuron = SourcedNeuron("lif", n_inputs=2, activation="tanh")
    assert neuron.VerifyArch() == []
    assert neuron.VerifyArch(SourcedNeuron("lif", n_inputs=2, activation="tanh")) == []
    assert neuron.VerifyArch(neuron.Architecture()) == []
    slower = SourcedNeuron("lif", n_inputs=2, activation="tanh", params={"tau_m": "20 ms"})
    (line,) = neuron.VerifyArch(slower)
    assert line.startswith("model_hash:")
    problems = neuron.VerifyArch({"weights": [1, 2, 3], "activation": "relu", "model": {"name": "izhikevich"}})
    assert problems == [
        "n_inputs: 2 here, 3 in the reference",
        "activation: tanh here, relu in the reference",
        "model: lif here, izhikevich in the reference",
    ]
    neuron.weights = neuron.weights.astype(np.float32)
    neuron.activation = "no_such_activation"
    problems = neuron.VerifyArch()
    assert any(p.startswith("weights: dtype float32") for p in problems)
    assert any(p.startswith("activation:") for p in problems)
    with pytest.raises(InputError, match="reference"):
        neuron.VerifyArch("lif")


def test_check_dep_reports_versions_and_reasons(monkeypatch):
    report = SourcedNeuron("lif").CheckDep()
    assert report["numpy"] == {"usable": True, "version": np.__version__, "reason": None}
    for name, reason in backend_status().items():
        assert report[f"backend:{name}"]["usable"] is (reason is None)
        assert report[f"backend:{name}"]["reason"] == reason
    monkeypatch.setattr(
        validation_module, "DEPENDENCIES", (*validation_module.DEPENDENCIES, ("no_such_mod", "no-such-dist", "tests"))
    )
    missing = SourcedNeuron("lif").CheckDep()["no_such_mod"]
    assert missing["usable"] is False and missing["version"] is None
    assert "pip install no-such-dist" in missing["reason"]
