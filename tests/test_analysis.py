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
