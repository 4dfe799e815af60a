"""Analysis functions against known answers (Poisson and regular trains, shifted copies, a
rhythmically modulated population)."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import neo
import numpy as np
import pytest
import quantities as pq
from elephant.spike_train_generation import NonStationaryPoissonProcess, StationaryPoissonProcess

from sourced_neuron.analysis import measures as an
from sourced_neuron.common.errors import InputError, UnitError
from sourced_neuron.results.blocks import make_structure, set_structure

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
    assert result.persistence < an.PERSISTENCE_Z  # 40 runs of 5 bins: far fewer changes than chance
    # stationary Poisson activity has no states
    assert an.attractor_states(poisson(20, seed=8), "100 ms").n_states == 1


def test_regular_firing_has_one_state_not_the_counting_noise():
    # regular neurons have floor or ceil(rate x bin) spikes per bin, alternating bin by bin: k-means
    # separates these counts perfectly (silhouette 1), and the analysis found 5, 2, 3 and 3 "states"
    # in these populations before it asked the states to persist
    populations = [
        [regular(11.1), regular(20.0), regular(30.0)],
        [regular(11.1) for _ in range(3)],
        [regular(11.1, offset=3.0), regular(11.1)],
        [regular(7.3), regular(23.0)],
    ]
    for trains in populations:
        result = an.attractor_states(trains, "50 ms")
        assert result.n_states == 1 and np.isnan(result.silhouette) and np.isnan(result.persistence)
        assert result.occupancy.tolist() == [1.0] and result.transitions.tolist() == [[0]]
    with pytest.raises(an.NotApplicableError, match="at least 2 neurons"):
        an.attractor_states([regular(11.1)], "50 ms")


def test_energy_estimate_by_hand():
    # 2 neurons, 1 s, 3 + 1 spikes, Attwell & Laughlin's costs
    trains = [regular(250.0, 1000.0), neo.SpikeTrain([500.0] * pq.ms, t_stop=1000 * pq.ms)]
    estimate = an.energy(trains)
    assert estimate.n_spikes == 4 and estimate.n_neurons == 2
    assert estimate.atp_action_potentials == pytest.approx(4 * 3.84e8)
    # spike trains name no synapses: no synaptic cost is invented
    assert estimate.n_synaptic_events == 0 and estimate.atp_synaptic == 0
    assert "per_neuron_budget=True" in estimate.synaptic_events_from
    assert estimate.atp_resting == pytest.approx(2 * 1.0 * 3.42e8)
    assert estimate.atp_per_neuron_per_second == pytest.approx(estimate.atp_total / 2)
    # asked for: Attwell & Laughlin's per-neuron budget, 8,000 synapses per spike
    budget = an.energy(trains, per_neuron_budget=True)
    assert budget.n_synaptic_events == 4 * 8000
    assert budget.atp_synaptic == pytest.approx(4 * 8000 * 0.25 * 1.64e5)
    assert budget.atp_total == pytest.approx(estimate.atp_total + budget.atp_synaptic)
    custom = an.energy(trains, an.EnergyCosts(atp_per_spike=1e8), synaptic_events=10)
    assert custom.atp_action_potentials == pytest.approx(4e8) and custom.n_synaptic_events == 10
    assert custom.atp_synaptic == pytest.approx(10 * 0.25 * 1.64e5)
    with pytest.raises(InputError, match="not both"):
        an.energy(trains, synaptic_events=10, per_neuron_budget=True)
    with pytest.raises(InputError, match="per_neuron_budget"):
        an.energy(trains, per_neuron_budget="yes")


def test_energy_of_a_single_neuron_run_has_no_synaptic_share():
    # a simulate() block: one population, no projections; the issue's run reported a 45 %
    # synaptic share for it
    block = neo.Block(model="lif", backend="brian2", n_neurons=1)
    block.segments.append(neo.Segment())
    set_structure(block, make_structure([{"name": "lif", "size": 1, "model": "lif"}]))
    train = regular(11.1)
    train.annotate(population="lif", index=0)
    block.segments[0].spiketrains.append(train)
    estimate = an.energy(block)
    assert estimate.n_synaptic_events == 0 and estimate.atp_synaptic == 0
    assert estimate.synaptic_events_from.startswith("none: this run has no projections")
    assert an.energy(block, per_neuron_budget=True).n_synaptic_events == len(regular(11.1)) * 8000
    # a block made by hand without a structure (trains only) is no network either
    bare = neo.Block(model="lif", backend="brian2", n_neurons=1)
    bare.segments.append(neo.Segment())
    bare.segments[0].spiketrains.append(regular(11.1))
    assert an.energy(bare).synaptic_events_from.startswith("none: this run has no projections")
    sources_only = neo.Block()
    sources_only.segments.append(neo.Segment())
    set_structure(sources_only, make_structure([], [{"name": "drive", "size": 1}]))
    train = regular(50.0)
    train.annotate(population="drive")
    sources_only.segments[0].spiketrains.append(train)
    with pytest.raises(an.NotApplicableError, match="spike sources"):
        an.energy(sources_only)


def test_energy_of_a_network_counts_its_projections():
    block = neo.Block()
    segment = neo.Segment()
    block.segments.append(segment)
    layout = make_structure(
        [{"name": "exc", "size": 3, "model": "lif"}, {"name": "inh", "size": 1, "model": "lif"}],
        [{"name": "drive", "size": 2, "record_spikes": False}],
        [
            {"name": "ee", "pre": "exc", "post": "exc", "count": 6},  # mean out-degree 2
            {"name": "ei", "pre": "exc", "post": "inh", "count": 3},  # 1
            {"name": "ie", "pre": "inh", "post": "exc", "count": 3},  # 3
            {"name": "de", "pre": "drive", "post": "exc", "count": 4},  # sources not recorded: left out
        ],
    )
    set_structure(block, layout)
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


def silent(n, t_stop_ms=1000.0):
    return [neo.SpikeTrain([] * pq.ms, t_stop=t_stop_ms * pq.ms) for _ in range(n)]


# (call, words the reason must contain): each measure on data that do not meet one of its preconditions
NOT_APPLICABLE = {
    "fano_factor: silent": (lambda: an.fano_factor(silent(3)), "at least 1 spike"),
    "fano_factor: one window of one neuron": (lambda: an.fano_factor([regular(10.0, 150.0)]), "two counts"),
    "fano_factor: spikes outside whole windows": (
        lambda: an.fano_factor([neo.SpikeTrain([120.0] * pq.ms, t_stop=150 * pq.ms)] * 2),
        "every count is 0",
    ),
    "synchrony: one neuron": (lambda: an.synchrony([regular(10.0)]), "2 neurons with spikes"),
    "synchrony: one spike each": (
        lambda: an.synchrony([neo.SpikeTrain([t] * pq.ms, t_stop=100 * pq.ms) for t in (10.0, 50.0)]),
        "2 spikes in one neuron",
    ),
    "synchrony: 15 ms": (lambda: an.synchrony([regular(2.0, 15.0), regular(3.0, 15.0)]), "at least 20 ms"),
    "population_rate: a bin longer than the run": (
        lambda: an.population_rate([regular(10.0, 100.0)], "200 ms"),
        "one bin of 200 ms",
    ),
    "power_spectrum: 2 Hz from 200 ms": (
        lambda: an.power_spectrum([regular(10.0, 200.0)], resolution="2 Hz"),
        "500 ms of data",
    ),
    "dominant_frequency: silent": (lambda: an.dominant_frequency(silent(2)), "at least 2 spikes"),
    "pattern_entropy: 10 neurons, 1 s": (
        lambda: an.pattern_entropy([regular(10.0 + k, 1000.0) for k in range(10)], "5 ms"),
        "1024 possible patterns",
    ),
    "avalanches: one neuron": (lambda: an.avalanches([regular(10.0)]), "at least 2 neurons"),
    "avalanches: never pauses": (lambda: an.avalanches([regular(1.0), regular(1.0)], "5 ms"), "never pauses"),
    "avalanches: all at once": (
        lambda: an.avalanches([neo.SpikeTrain([5.0] * pq.ms, t_stop=10 * pq.ms)] * 3),
        "give bin_size",
    ),
    "attractor_states: one neuron": (lambda: an.attractor_states([regular(10.0)]), "at least 2 neurons"),
    "attractor_states: silent": (lambda: an.attractor_states(silent(3)), "at least 1 spike"),
    "attractor_states: nine bins": (
        lambda: an.attractor_states([regular(10.0, 450.0), regular(7.0, 450.0)], "50 ms"),
        "ten bins of 50 ms",
    ),
    "cross_correlogram: window longer than the trains": (
        lambda: an.cross_correlogram(regular(10.0, 100.0), regular(7.0, 100.0), "1 ms", "100 ms"),
        "lags of +-100 ms",
    ),
}


@pytest.mark.parametrize("case", sorted(NOT_APPLICABLE))
def test_measures_refuse_data_that_do_not_meet_their_preconditions(case):
    call, words = NOT_APPLICABLE[case]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the reason comes as the error, not as a warning before it
        with pytest.raises(an.NotApplicableError, match=re.escape(words)) as caught:
            call()
    error = caught.value
    assert isinstance(error, InputError) and error.measure == case.partition(":")[0]
    assert error.reason == str(error)


def test_every_measure_declares_its_preconditions_and_the_docs_list_them():
    functions = {
        name
        for name in an.__all__
        if callable(getattr(an, name)) and name[0].islower() and name not in ("spike_trains", "spike_summary")
    }
    functions.discard("spectral_resolution")  # the resolution power_spectrum uses, not a measure
    assert functions == set(an.MEASURES)
    docs = (Path(__file__).parents[1] / "docs" / "analysis.md").read_text(encoding="utf-8")
    table = docs[docs.index("### Preconditions") :]
    for name, measure in an.MEASURES.items():
        assert f"| `{name}` |" in table, f"docs/analysis.md does not list the preconditions of {name}"
        assert measure.label


def test_spectrum_of_a_run_shorter_than_its_resolution():
    # the issue: `analyze` failed on every run shorter than 500 ms (Elephant: frequency_resolution
    # is too high). By default the spectrum now uses the finest resolution the run allows and says
    # so; an explicit resolution the run cannot give is refused, as Elephant's welch_psd refuses it
    np.random.seed(12)  # noqa: NPY002 - as in poisson()
    times = np.arange(0, 300) * pq.ms
    modulation = neo.AnalogSignal(
        (20 + 15 * np.sin(2 * np.pi * 40 * times.rescale(pq.s).magnitude))[:, None] * pq.Hz, sampling_period=1 * pq.ms
    )
    short = NonStationaryPoissonProcess(modulation).generate_n_spiketrains(200)
    resolution, note = an.spectral_resolution(short)
    assert float(resolution) == pytest.approx(1000 / 300) and "finest a 300 ms run allows" in note
    frequencies, _ = an.power_spectrum(short)
    assert np.diff(frequencies.magnitude) == pytest.approx(1000 / 300)
    # within one frequency step of the 40 Hz modulation
    assert an.dominant_frequency(short) == pytest.approx(40 * pq.Hz, abs=1000 / 300)
    with pytest.raises(an.NotApplicableError, match=r"needs at least 500 ms .* lasts 300 ms"):
        an.dominant_frequency(short, resolution="2 Hz")
    assert an.spectral_resolution(short, resolution="5 Hz") == (5 * pq.Hz, "")
    long = [regular(25.0, 500.0)]
    assert an.spectral_resolution(long) == (2 * pq.Hz, "")  # 500 ms: the default 2 Hz, no note
    with pytest.raises(InputError, match="coarser than half the sampling rate"):
        an.power_spectrum(long, "1 ms", "600 Hz")


def test_no_warnings_for_data_that_meet_the_preconditions(capfd):
    # Elephant logs "Correcting N rounding errors" to standard error, and Elephant, SciPy and
    # quantities warn (k-means on identical points, empty clusters, deprecations): none of it may
    # reach the user. Spikes on the 0.1 ms grid, as simulators give them, fall on bin edges.
    drawn = poisson(6, t_stop=2 * pq.s)
    on_grid = [neo.SpikeTrain(np.round(t.rescale(pq.ms).magnitude, 1) * pq.ms, t_stop=2000 * pq.ms) for t in drawn]
    data = [on_grid, [regular(11.1), regular(20.0), regular(30.0)], poisson(5, seed=13)]
    calls = [
        an.firing_rates,
        an.population_rate,
        an.isi_cv,
        an.fano_factor,
        an.synchrony,
        an.correlation_matrix,
        an.power_spectrum,
        an.dominant_frequency,
        an.van_rossum,
        an.victor_purpura,
        lambda d: an.pattern_entropy(d[:3]),
        an.avalanches,
        an.attractor_states,
        an.energy,
        lambda d: an.cross_correlogram(d[0], d[1]),
    ]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for trains in data:
            for call in calls:
                call(trains)
        an.correlation_matrix([*silent(1, 2000.0), regular(10.0)])  # a silent neuron: NaN, documented
    assert [str(w.message) for w in caught] == []
    assert capfd.readouterr().err == ""
