"""Analysis of simulation results, on top of Elephant.

Every function takes what a run returns (a ``neo.Block`` or ``neo.Segment``, or a list of
``neo.SpikeTrain``), optionally restricted to one population (the ``population`` annotation of
network runs), and returns quantities or Neo objects. Elephant does the work wherever it has
the measure; this module chooses the data, checks the arguments and names the result.
"""

from __future__ import annotations

import warnings
from typing import Any

import neo
import numpy as np
import quantities as pq
from elephant.conversion import BinnedSpikeTrain
from elephant.spectral import welch_psd
from elephant.spike_train_correlation import correlation_coefficient, cross_correlation_histogram
from elephant.spike_train_dissimilarity import van_rossum_distance, victor_purpura_distance
from elephant.spike_train_synchrony import spike_contrast
from elephant.statistics import cv, fanofactor, isi, mean_firing_rate, time_histogram

from .errors import InputError
from .model import SECOND
from .units import as_quantity

HERTZ = SECOND**-1

__all__ = [
    "correlation_matrix",
    "cross_correlogram",
    "dominant_frequency",
    "fano_factor",
    "firing_rates",
    "isi_cv",
    "population_rate",
    "power_spectrum",
    "spike_summary",
    "spike_trains",
    "synchrony",
    "van_rossum",
    "victor_purpura",
]

Spikes = neo.Block | neo.Segment | list


def spike_trains(data: Spikes, population: str | None = None) -> list[neo.SpikeTrain]:
    """The spike trains of ``data`` (a Block's first segment, a Segment, or a list of trains).

    Parameters
    ----------
    population : str, optional
        Keep only the trains annotated with this population (network runs).

    Raises
    ------
    InputError
        Not spike trains, or no train of that population.
    """
    if isinstance(data, neo.Block):
        if not data.segments:
            raise InputError("the block has no segments")
        data = data.segments[0]
    trains = list(data.spiketrains) if isinstance(data, neo.Segment) else data
    if not isinstance(trains, list | tuple) or not all(isinstance(t, neo.SpikeTrain) for t in trains):
        raise InputError("expected a neo.Block, a neo.Segment or a list of neo.SpikeTrain")
    if population is not None:
        kept = [t for t in trains if t.annotations.get("population") == population]
        if not kept:
            found = sorted({str(t.annotations.get("population")) for t in trains})
            raise InputError(f"no spike trains of population {population!r}; populations: {', '.join(found)}")
        trains = kept
    if not trains:
        raise InputError("there are no spike trains")
    return list(trains)


def _duration(value: Any, what: str) -> pq.Quantity:
    seconds = float(as_quantity(value, what, SECOND))
    if seconds <= 0:
        raise InputError(f"{what} must be positive, got {value!r}")
    return seconds * 1e3 * pq.ms


def firing_rates(data: Spikes, population: str | None = None) -> pq.Quantity:
    """Mean firing rate of each neuron over the whole run (Hz)."""
    return pq.Quantity([float(mean_firing_rate(t).rescale(pq.Hz)) for t in spike_trains(data, population)], pq.Hz)


def population_rate(data: Spikes, bin_size: Any = "5 ms", population: str | None = None) -> neo.AnalogSignal:
    """The population's mean rate per neuron in bins of ``bin_size`` (Hz), Elephant's
    ``time_histogram`` divided by the number of neurons."""
    trains = spike_trains(data, population)
    histogram = time_histogram(trains, _duration(bin_size, "bin_size"), output="mean")
    rate = (histogram / histogram.sampling_period).rescale(pq.Hz)
    rate.name = f"{population or 'all'} rate"
    return rate


def isi_cv(data: Spikes, population: str | None = None) -> np.ndarray:
    """Coefficient of variation of each neuron's inter-spike intervals (NaN below 3 spikes)."""
    result = []
    for train in spike_trains(data, population):
        if len(train) < 3:
            result.append(np.nan)
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result.append(float(cv(isi(train))))
    return np.asarray(result)


def fano_factor(data: Spikes, window: Any = "100 ms", population: str | None = None) -> float:
    """Fano factor (variance / mean) of the spike counts in consecutive windows, pooled over
    neurons: each train is cut into windows of ``window`` and Elephant's ``fanofactor`` is
    computed over all (neuron, window) counts. 1 for Poisson trains, 0 for regular ones."""
    trains = spike_trains(data, population)
    size = float(_duration(window, "window"))  # ms
    pieces = []
    for train in trains:
        start, stop = float(train.t_start.rescale(pq.ms)), float(train.t_stop.rescale(pq.ms))
        edges = start + size * np.arange(int((stop - start) / size) + 1)
        times = train.times.rescale(pq.ms).magnitude
        pieces += np.split(times, np.searchsorted(times, edges))[1:-1]  # the spikes of each whole window
    if not pieces:
        raise InputError(f"the run is shorter than one window of {window!r}")
    return float(fanofactor(pieces))


def synchrony(data: Spikes, population: str | None = None) -> float:
    """Spike contrast (Ciba et al. 2018): 0 for independent trains, 1 for identical ones."""
    trains = [t for t in spike_trains(data, population) if len(t)]
    if len(trains) < 2:
        raise InputError("synchrony needs at least two spike trains with spikes")
    return float(spike_contrast(trains))


def _binned(trains: list[neo.SpikeTrain], bin_size: Any) -> BinnedSpikeTrain:
    return BinnedSpikeTrain(trains, bin_size=_duration(bin_size, "bin_size"))


def correlation_matrix(data: Spikes, bin_size: Any = "5 ms", population: str | None = None) -> np.ndarray:
    """Pearson correlation coefficients of the binned spike counts of every pair of neurons."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # silent neurons: Elephant warns and gives NaN
        return np.asarray(correlation_coefficient(_binned(spike_trains(data, population), bin_size)))


def cross_correlogram(
    a: neo.SpikeTrain, b: neo.SpikeTrain, bin_size: Any = "1 ms", window: Any = "50 ms"
) -> neo.AnalogSignal:
    """Cross-correlation histogram of two spike trains: counts against lag, ``b`` relative to
    ``a`` (a peak at +5 ms means ``b`` fires 5 ms after ``a``), lags within +-``window``. The
    signal's times are the lags (Elephant's are the bins' left edges)."""
    size = _duration(bin_size, "bin_size")
    bins = round(float(_duration(window, "window") / size))
    binned_a, binned_b = (BinnedSpikeTrain(t, bin_size=size) for t in (a, b))
    histogram, _ = cross_correlation_histogram(binned_a, binned_b, window=[-bins, bins])
    return neo.AnalogSignal(
        histogram.magnitude,
        units=histogram.units,
        t_start=-bins * size,
        sampling_period=size,
        name="cross-correlogram",
    )


def power_spectrum(
    data: Spikes, bin_size: Any = "1 ms", resolution: Any = "2 Hz", population: str | None = None
) -> tuple[pq.Quantity, np.ndarray]:
    """Power spectral density (Welch) of the population rate: (frequencies in Hz, power)."""
    rate = population_rate(data, bin_size, population)
    frequencies, power = welch_psd(
        rate.magnitude[:, 0],
        fs=float(rate.sampling_rate.rescale(pq.Hz)),
        frequency_resolution=float(as_quantity(resolution, "resolution", HERTZ)),
    )
    return pq.Quantity(frequencies, pq.Hz), np.asarray(power)


def dominant_frequency(
    data: Spikes,
    bin_size: Any = "1 ms",
    resolution: Any = "2 Hz",
    lowest: Any = "2 Hz",
    population: str | None = None,
) -> pq.Quantity:
    """The frequency of the largest peak of :func:`power_spectrum` at or above ``lowest``
    (which keeps the mean rate, at 0 Hz, out)."""
    frequencies, power = power_spectrum(data, bin_size, resolution, population)
    keep = frequencies.magnitude >= float(as_quantity(lowest, "lowest", HERTZ))
    if not keep.any():
        raise InputError(f"no frequency at or above {lowest!r} at this resolution")
    return frequencies[keep][int(np.argmax(power[keep]))]


def van_rossum(data: Spikes, tau: Any = "10 ms", population: str | None = None) -> np.ndarray:
    """Van Rossum distances between every pair of trains (time constant ``tau``)."""
    return np.asarray(van_rossum_distance(spike_trains(data, population), time_constant=_duration(tau, "tau")))


def victor_purpura(data: Spikes, cost: Any = "100 Hz", population: str | None = None) -> np.ndarray:
    """Victor-Purpura distances between every pair of trains: moving a spike by ``dt`` costs
    ``cost * dt``, adding or removing one costs 1."""
    factor = float(as_quantity(cost, "cost", HERTZ)) * pq.Hz
    return np.asarray(victor_purpura_distance(spike_trains(data, population), cost_factor=factor))


def spike_summary(block: neo.Block) -> list[dict]:
    """Per-neuron spike statistics of the first segment of ``block``.

    Returns
    -------
    list of dict
        For each spike train: ``index``, ``n_spikes``, ``rate`` (Hz over the whole
        run), ``first_spike`` (ms, NaN without spikes), ``mean_isi`` (ms) and ``cv``
        (coefficient of variation of the inter-spike intervals; NaN with fewer than
        three spikes).
    """
    rows = []
    for index, train in enumerate(block.segments[0].spiketrains):
        intervals = isi(train).rescale(pq.ms).magnitude if len(train) > 1 else np.array([])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            variation = float(cv(intervals)) if len(intervals) > 1 else float("nan")
        rows.append(
            {
                "index": index,
                "n_spikes": len(train),
                "rate": float(mean_firing_rate(train).rescale(pq.Hz).magnitude),
                "first_spike": float(train[0].rescale(pq.ms).magnitude) if len(train) else float("nan"),
                "mean_isi": float(np.mean(intervals)) if len(intervals) else float("nan"),
                "cv": variation,
            }
        )
    return rows
