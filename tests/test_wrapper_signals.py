"""SourcedNeuron, signal processing (functions 15-24), checked against the LIF closed forms:
with drive I above the rheobase, the first spike comes at tau_m ln(RI / (RI - 15 mV)) and
the interval is t_ref plus that (models/lif.yaml: R_m 100 Mohm, threshold 15 mV above rest)."""

from __future__ import annotations

import numpy as np
import pytest
import quantities as pq

from sourced_neuron.common.errors import InputError
from sourced_neuron.wrapper import SourcedNeuron

pytestmark = pytest.mark.brian2


def first_spike_ms(current_pa: float, tau_ms: float = 10.0) -> float:
    ri = current_pa * 0.1  # mV (100 Mohm)
    return tau_ms * np.log(ri / (ri - 15.0))


def driven(current_pa: float = 250.0) -> SourcedNeuron:
    neuron = SourcedNeuron("lif", n_inputs=2).SetWeight([current_pa / 100.0, 0.4])
    neuron.ProcInput([1.0, 0.0])
    return neuron


def test_input_scaling_and_sums():
    neuron = SourcedNeuron("lif", n_inputs=2).SetWeight([2.0, -1.0]).SetBias(0.5).ScaleInput(3.0)
    np.testing.assert_allclose(neuron.ProcInput([1.0, 0.5]), [3.0, 1.5])
    assert neuron.SumSignals() == pytest.approx(2 * 3.0 - 1.5 + 0.5)
    neuron.ProcInput([[1.0, 0.0], [0.0, 2.0]])
    np.testing.assert_allclose(neuron.SumSignals(), [6.5, -5.5])
    with pytest.raises(InputError, match=r"ProcInput: argument 'data' must have shape \(2,\) or \(rows, 2\)"):
        neuron.ProcInput([1.0, 2.0, 3.0])
    with pytest.raises(InputError, match="batch"):
        neuron.Integrate("1 ms")


def test_integrate_follows_the_closed_form_and_continues_exactly():
    whole, halves = driven(), driven()
    whole.Integrate("100 ms")
    halves.Integrate("37 ms").Integrate("63 ms")
    times = whole.spike_times() * 1e3
    assert times[0] == pytest.approx(first_spike_ms(250), abs=0.1)  # within one step
    np.testing.assert_allclose(np.diff(times), 2 + first_spike_ms(250), atol=0.1)
    # integrating in pieces is one continuous run
    np.testing.assert_array_equal(halves.spike_times(), whole.spike_times())
    np.testing.assert_array_equal(halves.trace().magnitude, whole.trace().magnitude)
    with pytest.raises(InputError, match="whole number of time steps"):
        whole.Integrate("0.05 ms")


def test_fire_impulse_transmits_each_spike_once():
    neuron = driven()
    neuron.Integrate("30 ms")
    first = neuron.FireImpulse()
    assert first.units == pq.ms and len(first) == 2  # at ~9.2 and ~20.3 ms
    assert len(neuron.FireImpulse()) == 0
    neuron.Integrate("20 ms")
    later = neuron.FireImpulse()
    assert len(later) >= 1 and float(later[0]) > 30


def test_leakage_changes_the_future_only():
    neuron = driven()
    neuron.Integrate("50 ms")
    before = neuron.spike_times().copy()
    neuron.Leakage("50 Hz")  # tau_m = 20 ms
    assert float(neuron.model.parameter_values()["tau_m"]) == pytest.approx(0.020)
    neuron.Integrate("150 ms")
    times = neuron.spike_times() * 1e3
    np.testing.assert_array_equal(times[: len(before)], before * 1e3)
    np.testing.assert_allclose(np.diff(times[len(before) + 1 :]), 2 + first_spike_ms(250, 20.0), atol=0.1)
    with pytest.raises(InputError, match="no leak to set"):
        SourcedNeuron("izhikevich").Leakage("10 Hz")


def test_synaptic_delay_postpones_the_input():
    neuron = driven()
    assert neuron.SynapticDelay("4 ms").SynapticDelay() == 4 * pq.ms
    neuron.Integrate("30 ms")
    assert neuron.spike_times()[0] * 1e3 == pytest.approx(4 + first_spike_ms(250), abs=0.1)


def test_bias_shift_moves_the_activation():
    neuron = SourcedNeuron("lif", n_inputs=1, activation="relu").SetWeight([1.0])
    neuron.ProcInput([3.0])
    assert neuron.output() == 3.0
    assert neuron.BiasShift(1.25).output() == pytest.approx(1.75)
    assert neuron.BiasShift(5.0).output() == 0.0


def test_pulse_sync_waits_for_the_clock_and_measures_locking():
    neuron = driven()
    neuron.Integrate("100.3 ms")
    isi = 2 + 9.1  # ms: the interval on the 0.1 ms grid
    locked = neuron.PulseSync(f"{isi} ms")
    assert float(locked["t"]) == pytest.approx(111.0) and float(locked["waited"]) == pytest.approx(10.7)
    assert locked["vector_strength"] > 0.99  # one spike per clock cycle, always at the same phase
    unlocked = driven()
    unlocked.Integrate("100 ms")
    assert unlocked.PulseSync("7 ms")["vector_strength"] < 0.5


def test_parallel_sum_is_parallel_and_equal_to_the_serial_sum():
    neuron = SourcedNeuron("lif", n_inputs=3).SetWeight([0.5, -1.0, 2.0]).SetBias(0.1)
    batch = np.random.default_rng(0).normal(size=(200_000, 3))
    neuron.ProcInput(batch)
    result = neuron.ParallelSum(workers=4)
    np.testing.assert_allclose(result, neuron.SumSignals(), rtol=1e-12)
    assert neuron.parallel_threads > 1
    with pytest.raises(InputError, match="workers"):
        neuron.ParallelSum(workers=0)
