"""The brian2 backend against closed forms, and the Neo structure it returns."""

from __future__ import annotations

import math
from pathlib import Path

import neo
import numpy as np
import pytest
import quantities as pq

import sourced_neuron as sn
from sourced_neuron.results.blocks import structure

pytestmark = pytest.mark.brian2

VALID = Path(__file__).parent / "models" / "valid"

# Deliberately unusual values, so a swapped or ignored parameter changes the answer.
LIF_PARAMS = {
    "E_L": "-63 mV",
    "V_th": "-51 mV",
    "V_reset": "-67 mV",
    "tau_m": "7 ms",
    "R_m": "130 Mohm",
    "t_ref": "3 ms",
}


def spikes(block: neo.Block, index: int = 0) -> np.ndarray:
    return block.segments[0].spiketrains[index].rescale(pq.ms).magnitude


def test_lif_relaxes_to_E_L_plus_RI_as_the_closed_form():
    current = 80e-12  # R I = 10.4 mV, below V_th - E_L = 12 mV: no spike
    block = sn.simulate("lif", duration="100 ms", params=LIF_PARAMS, stimulus=f"{current * 1e12} pA")
    v = block.segments[0].analogsignals[0]
    t = v.times.rescale(pq.s).magnitude
    expected = -63e-3 + 130e6 * current * (1 - np.exp(-t / 7e-3))
    # 'exact' integration: the recorded values are the solution at the grid times, to rounding
    np.testing.assert_allclose(v.rescale(pq.V).magnitude[:, 0], expected, rtol=0, atol=1e-12)
    assert len(spikes(block)) == 0


def test_lif_first_spike_time_and_rate_match_the_closed_form():
    current = 150e-12  # R I = 19.5 mV
    tau, drive, gap = 7e-3, 130e6 * current, (-51e-3) - (-63e-3)
    first = tau * math.log(drive / (drive - gap))  # from E_L, as the model starts at E_L
    block = sn.simulate("lif", duration="300 ms", params=LIF_PARAMS, stimulus="150 pA")
    times = spikes(block) / 1e3
    dt = 1e-4
    # the spike is stamped at the start of the step in which v crossed V_th: within one dt before the crossing
    assert first - dt < times[0] <= first + 1e-12
    # after a spike v restarts from V_reset = -67 mV, held for t_ref = 3 ms
    isi = 3e-3 + tau * math.log((drive + 4e-3) / (drive - gap))
    intervals = np.diff(times)
    assert np.all(np.abs(intervals - isi) <= dt + 1e-12)


def test_refractoriness_clamps_v_at_reset():
    block = sn.simulate("lif", duration="50 ms", params=LIF_PARAMS, stimulus="500 pA")
    v = block.segments[0].analogsignals[0].rescale(pq.mV).magnitude[:, 0]
    first = round(spikes(block)[0] / 0.1)
    # after the spike step, v is V_reset for t_ref = 30 steps (unless refractory)
    assert np.allclose(v[first + 1 : first + 31], -67.0)
    assert v[first + 32] > -67.0


def test_neo_structure_units_and_annotations():
    block = sn.simulate(
        "izhikevich", duration="200 ms", preset="fs", stimulus="10 pA", n_neurons=3, record=("v", "u", "I_ext"), seed=5
    )
    assert isinstance(block, neo.Block) and len(block.segments) == 1
    segment = block.segments[0]
    assert len(segment.spiketrains) == 3
    for index, train in enumerate(segment.spiketrains):
        assert train.units == pq.ms and train.t_start == 0 * pq.ms and train.t_stop == 200 * pq.ms
        assert train.annotations["index"] == index and train.annotations["population"] == "izhikevich"
    names = [s.name for s in segment.analogsignals]
    assert names == ["izhikevich.v", "izhikevich.u", "izhikevich.I_ext"]  # "<population>.<variable>"
    assert [s.annotations["variable"] for s in segment.analogsignals] == ["v", "u", "I_ext"]
    assert all(s.annotations["population"] == s.annotations["model"] == "izhikevich" for s in segment.analogsignals)
    v, u, current = segment.analogsignals
    assert v.units == pq.mV and u.units == pq.mV and current.units == pq.pA
    assert v.shape == (2000, 3) and v.sampling_period == 0.1 * pq.ms
    assert np.allclose(current.magnitude, 10.0)
    assert v.magnitude[0, 0] == pytest.approx(-65.0)
    a = block.annotations
    assert a["model"] == "izhikevich" and a["backend"] == "brian2" and a["method"] == "euler"
    assert a["model_hash"] == sn.load_model("izhikevich").with_preset("fs").content_hash
    assert a["dt"] == 0.1 * pq.ms and a["preset"] == "fs" and a["seed"] == 5
    assert "a = 0.1" in a["parameters"] and "c = -65.0 mV" in a["parameters"]
    assert a["stimulus"] == "constant 10 pA"
    assert a["n_neurons"] == 3 and a["sourced_neuron_version"] == sn.__version__
    assert segment.annotations["model_hash"] == a["model_hash"]
    (population,) = structure(block)["populations"]  # a network of one population, named after the model
    assert (population["name"], population["size"], population["preset"]) == ("izhikevich", 3, "fs")
    assert population["model_hash"] == a["model_hash"] and population["stimulus"] == a["stimulus"]
    assert population["parameters"]["c"] == "-65.0 mV" and population["record"] == ["v", "u", "I_ext"]


def test_step_stimulus_timing():
    block = sn.simulate(
        "lif",
        duration="30 ms",
        record=("v", "I_ext"),
        stimulus={"start": "10 ms", "stop": "20 ms", "amplitude": "100 pA"},
    )
    current = block.segments[0].analogsignals[1].magnitude[:, 0]
    on = np.flatnonzero(current)
    # on for the steps that start at 10.0, 10.1, ..., 19.9 ms
    assert on[0] == 100 and on[-1] == 199 and len(on) == 100
    v = block.segments[0].analogsignals[0].rescale(pq.mV).magnitude[:, 0]
    assert v[100] == pytest.approx(-65.0) and v[101] > -65.0  # the current acts from the step starting at 10 ms


def test_sampled_stimulus_from_an_analog_signal_per_neuron():
    samples = np.zeros((40, 2))
    samples[10:30, 0] = 200.0
    samples[20:40, 1] = 300.0
    signal = neo.AnalogSignal(samples, units=pq.pA, sampling_period=1 * pq.ms)
    block = sn.simulate("lif", duration="60 ms", stimulus=signal, n_neurons=2, record=("I_ext",))
    current = np.round(block.segments[0].analogsignals[0].magnitude, 9)
    assert current[99, 0] == 0 and current[100, 0] == 200 and current[299, 0] == 200 and current[300, 0] == 0
    assert current[200, 1] == 300 and current[399, 1] == 300 and current[400, 1] == 0  # zero after the last sample
    first = [spikes(block, i)[0] for i in range(2)]
    # closed-form latencies from rest: tau ln(RI / (RI - 15 mV)) after each onset
    assert first[0] == pytest.approx(10 + 10 * math.log(20 / 5), abs=0.1)
    assert first[1] == pytest.approx(20 + 10 * math.log(30 / 15), abs=0.1)


def test_constant_current_per_neuron_gives_a_monotone_f_I_curve():
    currents = [160, 200, 300, 500]
    block = sn.simulate("lif", duration="500 ms", stimulus=[f"{c} pA" for c in currents], n_neurons=4, record=())
    counts = [len(t) for t in block.segments[0].spiketrains]
    assert counts == sorted(counts) and counts[0] > 0 and len(set(counts)) == 4


def test_method_is_honoured_and_never_replaced():
    model = sn.load_model("lif")
    exact = sn.simulate(model, duration="20 ms", stimulus="100 pA")
    euler = sn.simulate(model.with_numerics(method="euler"), duration="20 ms", stimulus="100 pA")
    assert exact.annotations["method"] == "exact" and euler.annotations["method"] == "euler"
    v_exact = exact.segments[0].analogsignals[0].magnitude[:, 0]
    v_euler = euler.segments[0].analogsignals[0].magnitude[:, 0]
    assert not np.allclose(v_exact, v_euler, rtol=0, atol=1e-6)  # forward Euler differs at dt = 0.1 ms
    assert np.allclose(v_exact, v_euler, atol=0.05)  # ... by less than 0.05 mV


def test_exact_on_a_nonlinear_model_is_refused_naming_model_and_method():
    model = sn.load_model("izhikevich").with_numerics(method="exact")
    with pytest.raises(
        sn.UnsupportedFeatureError,
        match=r"model 'izhikevich': Brian2 cannot integrate it with "
        r"method 'exact'",
    ):
        sn.simulate(model, duration="10 ms")


def test_rkf45_is_run_or_refused_clearly():
    model = sn.load_model("lif").with_numerics(method="rkf45")
    from sourced_neuron.backends.brian2_runtime import Brian2Runtime

    if "rkf45" in Brian2Runtime.capabilities().methods:
        block = sn.simulate(model, duration="20 ms", stimulus="100 pA")
        assert block.annotations["method"] == "rkf45"
    else:
        with pytest.raises(sn.UnsupportedFeatureError, match="cannot integrate model 'lif' with method 'rkf45'"):
            sn.simulate(model, duration="20 ms")


def test_seed_makes_noise_reproducible():
    path = VALID / "noisy.yaml"
    a = sn.simulate(path, duration="20 ms", seed=3).segments[0].analogsignals[0].magnitude
    b = sn.simulate(path, duration="20 ms", seed=3).segments[0].analogsignals[0].magnitude
    c = sn.simulate(path, duration="20 ms", seed=4).segments[0].analogsignals[0].magnitude
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_features_model_runs():
    block = sn.simulate(VALID / "features.yaml", duration="100 ms", stimulus="400 pA", record=("v", "gain", "I_total"))
    assert len(spikes(block)) > 0
    gain = block.segments[0].analogsignals[1].magnitude
    assert gain.max() <= 2.5 + 1e-12  # minimum(..., 2.5) printed as Brian2's clip


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        (dict(stimulus="10 mV"), sn.UnitError, "stimulus must have units of amp, but .* has units of volt"),
        (dict(duration="10 pA"), sn.UnitError, "duration must have units of second"),
        (dict(duration="-1 ms"), sn.InputError, "duration must be positive"),
        (dict(record=("w",)), sn.InputError, "cannot record 'w' from model 'lif'"),
        (dict(n_neurons=0), sn.InputError, "n_neurons must be an integer"),
        (dict(params={"tau": "1 ms"}), sn.InputError, r"did you mean 'tau_m'\?"),
        (dict(preset="rs"), sn.InputError, "has no presets"),
        (dict(backend="brain2"), sn.BackendUnavailableError, r"unknown backend 'brain2' \(did you mean 'brian2'\?\)"),
        (dict(stimulus={"start": "1 ms", "amp": "1 pA"}), sn.InputError, "stimulus mapping with keys"),
        (dict(stimulus=["1 pA", "2 pA"]), sn.InputError, "one value per neuron"),
        (dict(dt="0 ms"), sn.UnitError, "dt must be from 1 ns to 1 s"),
        (dict(seed=-2), sn.InputError, "seed must be from 0 to 4,294,967,295, got -2"),
    ],
)
def test_bad_arguments_are_refused_with_the_package_errors(kwargs, error, message):
    with pytest.raises(error, match=message):
        sn.simulate("lif", **{"duration": "10 ms", **kwargs})


def test_a_model_without_input_refuses_a_stimulus():
    with pytest.raises(sn.InputError, match="does not read I_ext"):
        sn.simulate(VALID / "noisy.yaml", duration="10 ms", stimulus="1 pA")


@pytest.mark.slow
def test_cython_target(monkeypatch):
    monkeypatch.setenv("SOURCED_NEURON_BRIAN2_TARGET", "cython")
    block = sn.simulate("lif", duration="100 ms", params=LIF_PARAMS, stimulus="150 pA")
    assert block.annotations["codegen_target"] == "cython"
    reference = sn.simulate("lif", duration="100 ms", params=LIF_PARAMS, stimulus="150 pA", backend="brian2")
    np.testing.assert_array_equal(spikes(block), spikes(reference))
