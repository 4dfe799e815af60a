"""Analysis functions against known answers (Poisson and regular trains, shifted copies, a
rhythmically modulated population)."""

from __future__ import annotations

import neo
import numpy as np
import pytest
import quantities as pq
from elephant.spike_train_generation import NonStationaryPoissonProcess, StationaryPoissonProcess

from sourced_neuron import analysis as an
from sourced_neuron.errors import InputError, UnitError

T_STOP = 20 * pq.s


def poisson(n, rate=20 * pq.Hz, seed=0, t_stop=T_STOP):
    np.random.seed(seed)  # noqa: NPY002 - Elephant's generators draw from NumPy's global generator
    return StationaryPoissonProcess(rate, t_stop=t_stop).generate_n_spiketrains(n)


def regular(period_ms, t_stop_ms=2000.0, offset=0.0):
    return neo.SpikeTrain(np.arange(offset + period_ms, t_stop_ms, period_ms) * pq.ms, t_stop=t_stop_ms * pq.ms)


def test_rates_and_population_selection():
    segment = neo.Segment()
    segment.spiketrains = [regular(10.0), regular(25.0), regular(50.0)]
    for train, population in zip(segment.spiketrains, ["exc", "exc", "inh"], strict=True):
        train.annotate(population=population)
    np.testing.assert_allclose(an.firing_rates(segment, "exc").magnitude, [99.5, 39.5], rtol=1e-12)
    rate = an.population_rate(segment, "10 ms", population="inh")
    assert rate.units == pq.Hz and np.isclose(rate.magnitude.mean(), 19.5)
    with pytest.raises(InputError, match="populations: exc, inh"):
        an.firing_rates(segment, "gaba")
    with pytest.raises(UnitError):
        an.population_rate(segment, "10 mV")


def test_cv_and_fano_factor_of_poisson_and_regular_trains():
    trains = poisson(20)
    cvs = an.isi_cv(trains)
    # 400 intervals per train: the CV of an exponential distribution is 1, standard error ~0.05
    assert abs(np.mean(cvs) - 1) < 0.05
    assert abs(an.fano_factor(trains, "100 ms") - 1) < 0.1  # 4,000 counts of mean 2
    assert np.allclose(an.isi_cv([regular(7.0)]), 0, atol=1e-12)
    # spikes at 5, 15, ... ms: ten in every 100 ms window
    assert an.fano_factor([regular(10.0, offset=-5.0)], "100 ms") == pytest.approx(0, abs=1e-12)
    assert np.isnan(an.isi_cv([regular(900.0)])[0])  # two spikes: one interval, no CV


def test_synchrony_and_correlation():
    independent = poisson(10, seed=1)
    copies = [independent[0].copy() for _ in range(10)]
    # spike contrast of identical trains is near 1 (0.90 here: its bins never all coincide), of
    # independent Poisson trains near 0
    assert an.synchrony(copies) > 0.85
    assert an.synchrony(independent) < 0.3
    matrix = an.correlation_matrix(copies[:3] + independent[1:3], "5 ms")
    np.testing.assert_allclose(matrix[:3, :3], 1.0)
    assert np.all(np.abs(matrix[3:, :3]) < 0.1)


def test_cross_correlogram_peaks_at_the_shift_with_its_sign():
    (a,) = poisson(1, seed=2)
    b = neo.SpikeTrain((a.times.rescale(pq.ms) + 5 * pq.ms)[:-1], t_stop=a.t_stop + 5 * pq.ms)
    b = b.time_slice(0 * pq.ms, a.t_stop)
    histogram = an.cross_correlogram(a, b, "1 ms", "20 ms")
    lags = histogram.times.rescale(pq.ms).magnitude
    assert lags[np.argmax(histogram.magnitude[:, 0])] == pytest.approx(5.0)  # b fires 5 ms after a


def test_dominant_frequency_of_a_rhythmic_population():
    np.random.seed(3)  # noqa: NPY002 - as in poisson()
    times = np.arange(0, 5000) * pq.ms
    modulation = neo.AnalogSignal(
        (20 + 15 * np.sin(2 * np.pi * 40 * times.rescale(pq.s).magnitude))[:, None] * pq.Hz,
        sampling_period=1 * pq.ms,
    )
    trains = NonStationaryPoissonProcess(modulation).generate_n_spiketrains(50)
    assert an.dominant_frequency(trains, "1 ms", "1 Hz") == pytest.approx(40 * pq.Hz, abs=1.0)
    frequencies, power = an.power_spectrum(trains)
    assert frequencies.units == pq.Hz and len(frequencies) == len(power)


def test_spike_train_distances():
    a = neo.SpikeTrain([10.0, 50.0, 90.0] * pq.ms, t_stop=100 * pq.ms)
    b = neo.SpikeTrain([10.0, 52.0, 90.0] * pq.ms, t_stop=100 * pq.ms)
    c = neo.SpikeTrain([10.0, 90.0] * pq.ms, t_stop=100 * pq.ms)
    vp = an.victor_purpura([a, b, c], "100 Hz")
    assert vp[0, 1] == pytest.approx(0.2)  # move one spike by 2 ms at 100 per second
    assert vp[0, 2] == pytest.approx(1.0)  # delete one spike
    vr = an.van_rossum([a, a, b], "10 ms")
    assert vr[0, 1] == pytest.approx(0.0) and vr[0, 2] > 0
    assert vr[0, 2] < an.van_rossum([a, c], "10 ms")[0, 1]  # a small shift is closer than a missing spike


def bernoulli_trains(probabilities, n_bins, bin_ms=5.0, seed=4, shared=False):
    """One train per probability: a spike in the middle of each bin with that probability,
    independently per neuron and bin (or the same draws for every neuron when ``shared``)."""
    rng = np.random.default_rng(seed)
    draws = rng.random((1 if shared else len(probabilities), n_bins))
    centres = (np.arange(n_bins) + 0.5) * bin_ms
    return [
        neo.SpikeTrain(centres[draws[0 if shared else k] < p], units=pq.ms, t_stop=n_bins * bin_ms)
        for k, p in enumerate(probabilities)
    ]


def binary_entropy(p):
    return -(p * np.log2(p) + (1 - p) * np.log2(1 - p))


def test_pattern_entropy_of_independent_and_identical_neurons():
    # 20,000 words over 8 or 16 patterns: the corrected plug-in estimate is within ~0.01 bit
    independent = bernoulli_trains([0.5, 0.2, 0.1], 20000)
    expected = binary_entropy(0.5) + binary_entropy(0.2) + binary_entropy(0.1)
    assert an.pattern_entropy(independent, "5 ms") == pytest.approx(expected, abs=0.02)
    # words of two bins: twice the entropy of one bin for a memoryless population
    assert an.pattern_entropy(independent, "5 ms", word_length=2) == pytest.approx(2 * expected, abs=0.04)
    identical = bernoulli_trains([0.3, 0.3, 0.3], 20000, shared=True)
    assert an.pattern_entropy(identical, "5 ms") == pytest.approx(binary_entropy(0.3), abs=0.02)
    silent = [neo.SpikeTrain([] * pq.ms, t_stop=1000 * pq.ms) for _ in range(3)]
    assert an.pattern_entropy(silent, "5 ms") == 0.0
    with pytest.raises(InputError, match="word_length"):
        an.pattern_entropy(independent, "5 ms", word_length=0)


def branching_process(ratio, n_avalanches, seed=5, gap=3, cap=20000):
    """Galton-Watson avalanches (Poisson offspring of mean ``ratio``), one generation per
    1 ms bin, separated by ``gap`` empty bins; returns the pooled train and the true sizes."""
    rng = np.random.default_rng(seed)
    counts, sizes = [0] * gap, []
    for _ in range(n_avalanches):
        n, size = 1, 0
        while n and size < cap:
            counts.append(n)
            size += n
            n = rng.poisson(ratio * n)
        sizes.append(size)
        counts += [0] * gap
    counts = np.asarray(counts)
    times = np.repeat(np.arange(len(counts)) + 0.5, counts)
    return [neo.SpikeTrain(times * pq.ms, t_stop=len(counts) * pq.ms)], np.asarray(sizes)


def test_avalanches_of_branching_processes():
    trains, sizes = branching_process(0.8, 3000)
    result = an.avalanches(trains, "1 ms")
    np.testing.assert_array_equal(result.sizes, sizes)
    # Harris's estimator over ~15,000 ancestors: standard error ~0.01
    assert result.branching_ratio == pytest.approx(0.8, abs=0.03)
    assert result.durations.units == pq.ms and result.durations.min() == 1 * pq.ms
    # a critical process: sizes follow s^-3/2 and durations t^-2 (mean-field exponents)
    critical, _ = branching_process(1.0, 4000, seed=6)
    result = an.avalanches(critical, "1 ms")
    assert result.branching_ratio == pytest.approx(1.0, abs=0.03)
    assert result.size_exponent == pytest.approx(1.5, abs=0.1)
    assert result.duration_exponent == pytest.approx(2.0, abs=0.3)
    assert result.size_loglikelihood_ratio > 0 and result.size_p_value < 0.01  # power law beats exponential
    # "auto": the mean interval between spikes of the pooled population
    times = critical[0].times.magnitude
    assert float(an.avalanches(critical).bin_size) == pytest.approx(np.mean(np.diff(times)))
    with pytest.raises(InputError, match="never pauses"):
        an.avalanches([regular(1.0)], "5 ms")


def test_attractor_states_of_a_two_state_population():
    # 20 neurons switch every 500 ms between two states: neurons 0-9 at 40 Hz and 10-19 at
    # 2 Hz, then the reverse
    np.random.seed(7)  # noqa: NPY002 - as in poisson()
    truth = np.arange(40) % 2  # state of each 500 ms period
    t = np.arange(0, 20000) * pq.ms
    period = (np.arange(20000) // 500) % 2
    trains = []
    for k in range(20):
        high = period == (0 if k < 10 else 1)
        rate = neo.AnalogSignal(np.where(high, 40.0, 2.0)[:, None] * pq.Hz, sampling_period=1 * pq.ms, t_start=t[0])
        trains += NonStationaryPoissonProcess(rate).generate_n_spiketrains(1)
    result = an.attractor_states(trains, "100 ms")
    assert result.n_states == 2
    expected = np.repeat(truth, 5)  # five 100 ms bins per period, state 0 first
    assert np.mean(result.labels == expected) > 0.97
    assert result.centroids.units == pq.Hz
    assert result.centroids[0, :10].mean() > 30 and result.centroids[0, 10:].mean() < 5
    assert np.median(result.dwell_times[0].magnitude) == pytest.approx(500)
    # 40 periods: 20 switches 0 -> 1 and 19 back; a rare misclassified bin would add pairs
    assert result.transitions[0, 1] >= 20 and result.transitions[1, 0] >= 19 and result.transitions[0, 0] == 0
    np.testing.assert_allclose(result.occupancy, [0.5, 0.5], atol=0.03)
    # stationary Poisson activity has no states
    assert an.attractor_states(poisson(20, seed=8), "100 ms").n_states == 1


def test_energy_estimate_by_hand():
    # 2 neurons, 1 s, 3 + 1 spikes, Attwell & Laughlin's costs
    trains = [regular(250.0, 1000.0), neo.SpikeTrain([500.0] * pq.ms, t_stop=1000 * pq.ms)]
    estimate = an.energy(trains)
    assert estimate.n_spikes == 4 and estimate.n_neurons == 2
    assert estimate.atp_action_potentials == pytest.approx(4 * 3.84e8)
    assert estimate.atp_synaptic == pytest.approx(4 * 8000 * 0.25 * 1.64e5)
    assert estimate.atp_resting == pytest.approx(2 * 1.0 * 3.42e8)
    assert estimate.atp_per_neuron_per_second == pytest.approx(estimate.atp_total / 2)
    custom = an.energy(trains, an.EnergyCosts(atp_per_spike=1e8), synaptic_events=10)
    assert custom.atp_action_potentials == pytest.approx(4e8) and custom.n_synaptic_events == 10
    assert custom.atp_synaptic == pytest.approx(10 * 0.25 * 1.64e5)


def test_energy_of_a_network_counts_its_projections():
    block = neo.Block(
        populations=["exc: 3 x lif", "inh: 1 x lif"],
        sources=["drive: 2"],
        projections=[
            "ee: exc -> exc (exc, static): 6",  # mean out-degree 2
            "ei: exc -> inh (exc, static): 3",  # 1
            "ie: inh -> exc (inh, static): 3",  # 3
            "de: drive -> exc (exc, static): 4",  # sources not recorded: left out
        ],
    )
    segment = neo.Segment()
    block.segments.append(segment)
    for population, counts in (("exc", [2, 0, 1]), ("inh", [5])):
        for index, n in enumerate(counts):
            train = neo.SpikeTrain(np.arange(1, n + 1) * 10.0 * pq.ms, t_stop=2000 * pq.ms)
            train.annotate(population=population, index=index)
            segment.spiketrains.append(train)
    estimate = an.energy(block)
    assert estimate.n_neurons == 4 and estimate.n_spikes == 8
    assert estimate.n_synaptic_events == pytest.approx(3 * 2 + 3 * 1 + 5 * 3)
    assert "left out: de" in estimate.synaptic_events_from
    assert estimate.atp_resting == pytest.approx(4 * 2.0 * 3.42e8)
    only_inh = an.energy(block, population="inh")
    assert only_inh.n_neurons == 1 and only_inh.n_synaptic_events == pytest.approx(15)
