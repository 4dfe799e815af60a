"""Analysis of simulation results, on top of Elephant.

Every function takes what a run returns (a ``neo.Block`` or ``neo.Segment``, or a list of
``neo.SpikeTrain``), optionally restricted to one population (the trains' ``population``
annotation; :func:`spike_trains` is :func:`sourced_neuron.results.blocks.spike_trains`), and
returns quantities or Neo objects. Elephant does the work wherever it has the measure; this
module chooses the data, checks the arguments and names the result.

Every measure states what it needs of the data in one place, :data:`MEASURES` (neurons, spikes,
a duration that follows from its parameters); asked of data that fall short, it raises
:class:`NotApplicableError` with the reason instead of returning a number that means nothing.
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import elephant.utils
import neo
import numpy as np
import quantities as pq
from elephant.conversion import BinnedSpikeTrain
from elephant.spectral import welch_psd
from elephant.spike_train_correlation import correlation_coefficient, cross_correlation_histogram
from elephant.spike_train_dissimilarity import van_rossum_distance, victor_purpura_distance
from elephant.spike_train_synchrony import spike_contrast
from elephant.statistics import cv, fanofactor, isi, mean_firing_rate, time_histogram

from sourced_neuron.common import brian2_import
from sourced_neuron.common.errors import InputError
from sourced_neuron.results.blocks import spike_trains, structure
from sourced_neuron.spec.parts import SECOND
from sourced_neuron.spec.units import as_quantity

# Elephant's import puts a filter showing every UserWarning once in front of the others: the
# harmless warning Brian2 causes in pyparsing (common/brian2_import.py) is hidden again.
brian2_import.quiet_dependency_warnings()

HERTZ = SECOND**-1

__all__ = [
    "MEASURES",
    "AttractorStates",
    "Avalanches",
    "EnergyCosts",
    "EnergyEstimate",
    "Measure",
    "NotApplicableError",
    "attractor_states",
    "avalanches",
    "correlation_matrix",
    "cross_correlogram",
    "dominant_frequency",
    "energy",
    "fano_factor",
    "firing_rates",
    "isi_cv",
    "pattern_entropy",
    "population_rate",
    "power_spectrum",
    "spectral_resolution",
    "spike_summary",
    "spike_trains",
    "synchrony",
    "van_rossum",
    "victor_purpura",
]

Spikes = neo.Block | neo.Segment | list

#: The resolution of :func:`power_spectrum` when none is given and the run is long enough (1/2 Hz = 500 ms).
DEFAULT_RESOLUTION_HZ = 2.0
#: Power-law fits of avalanches need this many avalanches, of at least three distinct values.
POWER_LAW_MIN_AVALANCHES = 10
#: Silhouettes of attractor states are computed on at most this many bins (a seeded sample beyond).
SILHOUETTE_MAX_BINS = 4000
#: One-sided significance of the runs test that attractor states persist (z below this).
PERSISTENCE_Z = -2.326  # p < 0.01


# --- preconditions -----------------------------------------------------------------------------


class NotApplicableError(InputError):
    """A measure was asked of data that do not meet its preconditions (:data:`MEASURES`).

    Attributes
    ----------
    measure : str
        The measure's key in :data:`MEASURES` (the function's name).
    reason : str
        What the measure needs and what the data have.
    """

    def __init__(self, measure: str, reason: str):
        super().__init__(reason)
        self.measure = measure
        self.reason = reason


Requirement = tuple[int, str]  # (minimum, why)


@dataclass(frozen=True)
class Measure:
    """What a measure needs of its data. The counts are over the trains it is given (one
    population's neurons).

    Attributes
    ----------
    label : str
        The measure in words, for messages.
    neurons, spiking_neurons, spikes, train_spikes : (int, str)
        Minimum number of spike trains, of trains with a spike, of spikes in all, and of spikes in
        the busiest train, each with why.
    duration : callable, optional
        ``parameters -> (minimum ms, why)``: the shortest recording the measure's parameters allow.
        ``parameters`` are the measure's own (durations in ms, frequencies in Hz) and ``neurons``.
    during : str
        Conditions only the computation can check (they raise the same error), for the docs.
    """

    label: str
    neurons: Requirement = (1, "")
    spiking_neurons: Requirement = (0, "")
    spikes: Requirement = (0, "")
    train_spikes: Requirement = (0, "")
    duration: Callable[[Mapping[str, Any]], tuple[float, str]] | None = None
    during: str = ""

    def unmet(self, trains: list[neo.SpikeTrain], parameters: Mapping[str, Any]) -> str | None:
        """Why ``trains`` do not meet the preconditions, or None when they do."""
        counts = [len(t) for t in trains]
        have = {
            "neurons": (len(trains), "neuron", "neurons"),
            "spiking_neurons": (sum(1 for c in counts if c), "neuron with a spike", "neurons with spikes"),
            "spikes": (sum(counts), "spike", "spikes"),
            "train_spikes": (max(counts, default=0), "spike in one neuron", "spikes in one neuron"),
        }
        for field, (count, one, many) in have.items():
            minimum, why = getattr(self, field)
            if count < minimum:
                found = f"the most in one neuron is {count}" if field == "train_spikes" else f"this data has {count}"
                return f"{self.label} needs at least {minimum} {one if minimum == 1 else many} ({why}); {found}"
        if self.duration is not None:
            minimum_ms, why = self.duration({**parameters, "neurons": len(trains)})
            span = _span_ms(trains)
            if span < minimum_ms * (1 - 1e-9):
                return f"{self.label} needs at least {minimum_ms:g} ms of data ({why}); this run lasts {span:g} ms"
        return None


def _span_ms(trains: list[neo.SpikeTrain]) -> float:
    return min(float((t.t_stop - t.t_start).rescale(pq.ms)) for t in trains)


def _spectrum_duration(p: Mapping[str, Any]) -> tuple[float, str]:
    if p["resolution"] is None:
        return 2 * p["bin_size"], f"two bins of {p['bin_size']:g} ms of the population rate"
    return 1e3 / p["resolution"], f"a Welch segment at a resolution of {p['resolution']:g} Hz lasts 1/resolution"


def _entropy_duration(p: Mapping[str, Any]) -> tuple[float, str]:
    bits = p["neurons"] * p["word_length"]
    words = max(2, 2 ** min(bits, 1000))  # (no run holds 2^1000 words: the cap keeps it a float)
    patterns = str(2**bits) if bits <= 40 else f"2^{bits}"
    return float(words) * p["word_length"] * p["bin_size"], (
        f"{words if bits <= 40 else patterns} words of {p['word_length']} x {p['bin_size']:g} ms: at least as "
        f"many words as the {patterns} possible patterns of {p['neurons']} neuron(s), or the plug-in entropy is "
        "biased far low"
    )


#: Every measure's preconditions, by function name.
MEASURES: dict[str, Measure] = {
    "firing_rates": Measure("the firing rate"),
    "population_rate": Measure(
        "the population rate", duration=lambda p: (p["bin_size"], f"one bin of {p['bin_size']:g} ms")
    ),
    "isi_cv": Measure("the ISI CV", during="a neuron with fewer than 3 spikes (two intervals) gets NaN"),
    "fano_factor": Measure(
        "the Fano factor",
        spikes=(1, "the variance of the counts is divided by their mean"),
        duration=lambda p: (
            p["window"] * (1 if p["neurons"] > 1 else 2),
            f"two counts: one whole window of {p['window']:g} ms per neuron, two for one neuron",
        ),
    ),
    "synchrony": Measure(
        "spike contrast",
        spiking_neurons=(2, "it compares the spike times of neurons"),
        train_spikes=(2, "its smallest bin is half the shortest inter-spike interval"),
        duration=lambda p: (2 * p["min_bin"], f"its largest bin, half the run, must be at least {p['min_bin']:g} ms"),
    ),
    "correlation_matrix": Measure(
        "the correlation matrix",
        duration=lambda p: (p["bin_size"], f"one bin of {p['bin_size']:g} ms"),
        during="a silent neuron's correlations are NaN (its counts have no variance)",
    ),
    "cross_correlogram": Measure(
        "the cross-correlogram",
        duration=lambda p: (
            p["window"] + p["bin_size"],
            f"lags of +-{p['window']:g} ms in bins of {p['bin_size']:g} ms fit in the trains",
        ),
    ),
    "power_spectrum": Measure("the power spectrum", duration=_spectrum_duration),
    "dominant_frequency": Measure(
        "the dominant frequency",
        spikes=(2, "a silent population has a flat spectrum"),
        duration=_spectrum_duration,
    ),
    "van_rossum": Measure("the van Rossum distance"),
    "victor_purpura": Measure("the Victor-Purpura distance"),
    "pattern_entropy": Measure("the pattern entropy", duration=_entropy_duration),
    "avalanches": Measure(
        "avalanche analysis",
        neurons=(2, "an avalanche is a cascade across neurons; one neuron's spikes are its own bursts"),
        spikes=(2, "a cascade has two spikes at least"),
        during=(
            "activity pauses (an empty bin) before and after an avalanche; power-law exponents need "
            f"{POWER_LAW_MIN_AVALANCHES} avalanches of 3 distinct sizes or durations (else NaN, with the reason)"
        ),
    ),
    "attractor_states": Measure(
        "attractor-state analysis",
        neurons=(2, "states are patterns of rates across neurons"),
        spikes=(1, "a silent population has no activity to cluster"),
        duration=lambda p: (
            10 * p["bin_size"],
            f"ten bins of {p['bin_size']:g} ms: in 8 or fewer no state persists significantly",
        ),
        during=(
            "a clustering counts when its mean silhouette is at least min_silhouette and its states persist "
            "(fewer changes of state than in random order, runs test p < 0.01); otherwise the activity is one state"
        ),
    ),
    "energy": Measure(
        "the energy estimate",
        during="spike sources are not neurons (at least one simulated neuron); synaptic events only from synapses",
    ),
}


def _require(measure: str, trains: list[neo.SpikeTrain], **parameters: Any) -> None:
    reason = MEASURES[measure].unmet(trains, parameters)
    if reason is not None:
        raise NotApplicableError(measure, reason)


class _RoundingNote(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "rounding errors" not in record.getMessage()


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Elephant 1.2's two notes that say nothing about the user's data, and only those:

    - quantities' deprecation of the ``copy`` argument, which Elephant still passes (no effect),
      and NumPy's of ``np.matrix``, which Elephant's sparse binned trains use;
    - "Correcting N rounding errors by shifting the affected spikes into the following bin",
      logged when a spike lies within 1e-8 bins below a bin edge. Simulated spikes lie on the
      grid of ``dt``, and bins are multiples of it, so spikes on bin edges are the rule; the
      correction puts them in the bin that starts there, as intended.
    """
    note = _RoundingNote()
    logger = elephant.utils.logger
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "The 'copy' argument in Quantity is deprecated", DeprecationWarning)
        warnings.filterwarnings("ignore", "the matrix subclass is not the recommended way", PendingDeprecationWarning)
        logger.addFilter(note)
        try:
            yield
        finally:
            logger.removeFilter(note)


def _duration(value: Any, what: str) -> pq.Quantity:
    seconds = float(as_quantity(value, what, SECOND))
    if seconds <= 0:
        raise InputError(f"{what} must be positive, got {value!r}")
    return seconds * 1e3 * pq.ms


def _frequency(value: Any, what: str) -> float:
    hertz = float(as_quantity(value, what, HERTZ))
    if not hertz > 0:
        raise InputError(f"{what} must be a positive frequency, got {value!r}")
    return hertz


def firing_rates(data: Spikes, population: str | None = None) -> pq.Quantity:
    """Mean firing rate of each neuron over the whole run (Hz)."""
    trains = spike_trains(data, population)
    _require("firing_rates", trains)
    return pq.Quantity([float(mean_firing_rate(t).rescale(pq.Hz)) for t in trains], pq.Hz)


def population_rate(data: Spikes, bin_size: Any = "5 ms", population: str | None = None) -> neo.AnalogSignal:
    """The population's mean rate per neuron in bins of ``bin_size`` (Hz), Elephant's
    ``time_histogram`` divided by the number of neurons.

    Raises
    ------
    NotApplicableError
        A run shorter than one bin.
    """
    trains = spike_trains(data, population)
    size = _duration(bin_size, "bin_size")
    _require("population_rate", trains, bin_size=float(size))
    _common_interval(trains)
    with _quiet():
        histogram = time_histogram(trains, size, output="mean")
    rate = (histogram / histogram.sampling_period).rescale(pq.Hz)
    rate.name = f"{population or 'all'} rate"
    return rate


def isi_cv(data: Spikes, population: str | None = None) -> np.ndarray:
    """Coefficient of variation of each neuron's inter-spike intervals (NaN below 3 spikes)."""
    trains = spike_trains(data, population)
    _require("isi_cv", trains)
    result = []
    for train in trains:
        if len(train) < 3:
            result.append(np.nan)
            continue
        with _quiet():
            result.append(float(cv(isi(train))))
    return np.asarray(result)


def fano_factor(data: Spikes, window: Any = "100 ms", population: str | None = None) -> float:
    """Fano factor (variance / mean) of the spike counts in consecutive windows, pooled over
    neurons: each train is cut into windows of ``window`` and Elephant's ``fanofactor`` is
    computed over all (neuron, window) counts. 1 for Poisson trains, 0 for regular ones.

    Raises
    ------
    NotApplicableError
        No spike, or fewer than two counts (a run shorter than one window, or than two for one neuron).
    """
    trains = spike_trains(data, population)
    size = float(_duration(window, "window"))  # ms
    _require("fano_factor", trains, window=size)
    pieces = []
    for train in trains:
        start, stop = float(train.t_start.rescale(pq.ms)), float(train.t_stop.rescale(pq.ms))
        edges = start + size * np.arange(int((stop - start) / size * (1 + 1e-12)) + 1)
        times = train.times.rescale(pq.ms).magnitude
        pieces += np.split(times, np.searchsorted(times, edges))[1:-1]  # the spikes of each whole window
    counts = np.array([len(p) for p in pieces])
    if not counts.sum():
        raise NotApplicableError("fano_factor", "the Fano factor needs a spike in a whole window; every count is 0")
    return float(fanofactor(pieces))


def synchrony(data: Spikes, population: str | None = None) -> float:
    """Spike contrast (Ciba et al. 2018) of the trains with spikes: 0 for independent trains,
    1 for identical ones whose spikes are further apart than Elephant's smallest bin (10 ms).

    Raises
    ------
    NotApplicableError
        Fewer than two neurons with spikes, no neuron with two spikes, or a run shorter than 20 ms.
    """
    trains = spike_trains(data, population)
    _require("synchrony", trains, min_bin=10.0)  # Elephant's default min_bin
    with _quiet():
        return float(spike_contrast([t for t in trains if len(t)]))


def _common_interval(trains: list[neo.SpikeTrain]) -> None:
    """Binned measures need one interval: an error naming the trains' intervals otherwise."""
    spans = {(float(t.t_start.rescale(pq.ms)), float(t.t_stop.rescale(pq.ms))) for t in trains}
    if len(spans) > 1:
        shown = ", ".join(f"[{a:g}, {b:g}] ms" for a, b in sorted(spans)[:4])
        raise InputError(f"the spike trains cover different intervals ({shown}): binned measures need one interval")


def _binned(trains: list[neo.SpikeTrain], bin_size: Any) -> BinnedSpikeTrain:
    _common_interval(trains)
    with _quiet():
        return BinnedSpikeTrain(trains, bin_size=_duration(bin_size, "bin_size"))


def correlation_matrix(data: Spikes, bin_size: Any = "5 ms", population: str | None = None) -> np.ndarray:
    """Pearson correlation coefficients of the binned spike counts of every pair of neurons
    (NaN for a silent neuron, whose counts have no variance)."""
    trains = spike_trains(data, population)
    _require("correlation_matrix", trains, bin_size=float(_duration(bin_size, "bin_size")))
    binned = _binned(trains, bin_size)
    with _quiet(), warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
        # Elephant warns of silent neurons and gives NaN: the NaN is documented and says it
        warnings.filterwarnings("ignore", "Detected empty spike trains", UserWarning)
        return np.asarray(correlation_coefficient(binned))


def cross_correlogram(
    a: neo.SpikeTrain, b: neo.SpikeTrain, bin_size: Any = "1 ms", window: Any = "50 ms"
) -> neo.AnalogSignal:
    """Cross-correlation histogram of two spike trains: counts against lag, ``b`` relative to
    ``a`` (a peak at +5 ms means ``b`` fires 5 ms after ``a``), lags within +-``window``. The
    signal's times are the lags (Elephant's are the bins' left edges).

    Raises
    ------
    NotApplicableError
        A train shorter than the window plus one bin.
    """
    size = _duration(bin_size, "bin_size")
    span = _duration(window, "window")
    trains = spike_trains([a, b])
    _require("cross_correlogram", trains, bin_size=float(size), window=float(span))
    bins = round(float(span / size))
    with _quiet():
        binned_a, binned_b = (BinnedSpikeTrain(t, bin_size=size) for t in (a, b))
        histogram, _ = cross_correlation_histogram(binned_a, binned_b, window=[-bins, bins])
    return neo.AnalogSignal(
        histogram.magnitude,
        units=histogram.units,
        t_start=-bins * size,
        sampling_period=size,
        name="cross-correlogram",
    )


def _welch_segment(
    measure: str, trains: list[neo.SpikeTrain], bin_size: Any, resolution: Any
) -> tuple[int, int, float, str]:
    """Samples per Welch segment, samples of the rate, its sampling rate (Hz) and a note when the
    resolution is not the one asked for."""
    size = float(_duration(bin_size, "bin_size"))
    asked = None if resolution is None else _frequency(resolution, "resolution")
    _require(measure, trains, bin_size=size, resolution=asked)
    samples = int(_span_ms(trains) / size * (1 + 1e-12))
    fs = 1e3 / size
    wanted = DEFAULT_RESOLUTION_HZ if asked is None else asked
    segment = int(fs / wanted * (1 + 1e-9))  # as Elephant's frequency_resolution: the largest not finer
    if segment < 2:
        raise InputError(f"resolution {resolution!r} is coarser than half the sampling rate ({fs / 2:g} Hz)")
    note = ""
    if segment > samples:
        # only the default gets here (the check above refuses an explicit resolution the run cannot give)
        note = (
            f"the finest a {_span_ms(trains):g} ms run allows, one Welch segment without averaging "
            f"({wanted:g} Hz needs {1e3 / wanted:g} ms)"
        )
        segment = samples
    return segment, samples, fs, note


def spectral_resolution(
    data: Spikes, bin_size: Any = "1 ms", resolution: Any = None, population: str | None = None
) -> tuple[pq.Quantity, str]:
    """The frequency resolution :func:`power_spectrum` uses with these arguments, and a note
    saying why when it is not the one asked for ("" otherwise).

    ``resolution=None`` asks for 2 Hz; a run shorter than 500 ms gets the finest resolution it
    allows, 1 / duration (one Welch segment), and the note says so. An explicit ``resolution``
    finer than 1 / duration is refused, as Elephant's ``welch_psd`` refuses it.
    """
    trains = spike_trains(data, population)
    segment, _, fs, note = _welch_segment("power_spectrum", trains, bin_size, resolution)
    return fs / segment * pq.Hz, note


def power_spectrum(
    data: Spikes, bin_size: Any = "1 ms", resolution: Any = None, population: str | None = None
) -> tuple[pq.Quantity, np.ndarray]:
    """Power spectral density (Welch, Elephant's ``welch_psd``: Hann window, half-overlapping
    segments) of the population rate: (frequencies in Hz, power in Hz^2/Hz).

    Parameters
    ----------
    data : Block, Segment or list of SpikeTrain
    bin_size : duration
        Bins of the rate (their inverse is the sampling rate).
    resolution : frequency, optional
        The segments' frequency resolution. By default 2 Hz, or for a run shorter than 500 ms the
        finest it allows (:func:`spectral_resolution` says which).
    population : str, optional

    Raises
    ------
    NotApplicableError
        An explicit ``resolution`` finer than 1 / the run's duration, or a run shorter than two bins.
    """
    trains = spike_trains(data, population)
    segment, _, fs, _ = _welch_segment("power_spectrum", trains, bin_size, resolution)
    rate = population_rate(trains, bin_size)
    frequencies, power = welch_psd(rate.magnitude[:, 0], fs=fs, len_segment=segment)
    return pq.Quantity(frequencies, pq.Hz), np.asarray(power)


def dominant_frequency(
    data: Spikes,
    bin_size: Any = "1 ms",
    resolution: Any = None,
    lowest: Any = "2 Hz",
    population: str | None = None,
) -> pq.Quantity:
    """The frequency of the largest peak of :func:`power_spectrum` at or above ``lowest``
    (which keeps the mean rate, at 0 Hz, out).

    Raises
    ------
    NotApplicableError
        Fewer than two spikes, or as :func:`power_spectrum`.
    """
    trains = spike_trains(data, population)
    _welch_segment("dominant_frequency", trains, bin_size, resolution)
    floor = _frequency(lowest, "lowest")
    frequencies, power = power_spectrum(trains, bin_size, resolution)
    keep = frequencies.magnitude >= floor * (1 - 1e-9)
    if not keep.any():
        raise InputError(f"lowest ({lowest!r}) is above the highest frequency, {float(frequencies[-1]):g} Hz")
    return frequencies[keep][int(np.argmax(power[keep]))]


def van_rossum(data: Spikes, tau: Any = "10 ms", population: str | None = None) -> np.ndarray:
    """Van Rossum distances between every pair of trains (time constant ``tau``; Elephant's
    normalisation: 1 between one spike and none)."""
    trains = spike_trains(data, population)
    _require("van_rossum", trains)
    with _quiet():
        return np.asarray(van_rossum_distance(trains, time_constant=_duration(tau, "tau")))


def victor_purpura(data: Spikes, cost: Any = "100 Hz", population: str | None = None) -> np.ndarray:
    """Victor-Purpura distances between every pair of trains: moving a spike by ``dt`` costs
    ``cost * dt``, adding or removing one costs 1."""
    trains = spike_trains(data, population)
    _require("victor_purpura", trains)
    factor = float(as_quantity(cost, "cost", HERTZ)) * pq.Hz
    with _quiet():
        return np.asarray(victor_purpura_distance(trains, cost_factor=factor))


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
        intervals = np.diff(train.times.rescale(pq.ms).magnitude)
        rows.append(
            {
                "index": index,
                "n_spikes": len(train),
                "rate": float(mean_firing_rate(train).rescale(pq.Hz).magnitude),
                "first_spike": float(train[0].rescale(pq.ms).magnitude) if len(train) else float("nan"),
                "mean_isi": float(np.mean(intervals)) if len(intervals) else float("nan"),
                "cv": float(cv(intervals)) if len(intervals) > 1 else float("nan"),
            }
        )
    return rows


# --- measures Elephant does not have ---------------------------------------------------------


def _binary_patterns(trains: list[neo.SpikeTrain], bin_size: Any) -> np.ndarray:
    """A (bins, neurons) boolean array: did each neuron fire in each bin."""
    return np.asarray(_binned(trains, bin_size).to_bool_array()).T


def pattern_entropy(
    data: Spikes,
    bin_size: Any = "5 ms",
    word_length: int = 1,
    population: str | None = None,
    correction: bool = True,
) -> float:
    """Entropy (bits) of the population's binary spike patterns.

    Each time bin gives a binary word over the neurons (fired or not, Schneidman et al. 2006);
    with ``word_length`` > 1 a word spans that many consecutive, non-overlapping bins (Strong et
    al. 1998). The entropy of the words' empirical distribution is returned, with the
    Miller-Madow bias correction ``(K - 1) / (2 N ln 2)`` (K distinct words seen, N words) unless
    ``correction`` is false. ``N`` independent neurons firing with probability ``p`` per bin give
    ``N H(p)``; identical neurons give ``H(p)``; a silent population gives 0.

    Raises
    ------
    NotApplicableError
        Fewer words than possible patterns (``2 ** (neurons * word_length)``, and at least two):
        the plug-in estimate needs many more words than patterns, and with fewer it is biased low
        by up to the difference in bits. Pass fewer neurons.
    """
    if isinstance(word_length, bool) or not isinstance(word_length, int | np.integer) or word_length < 1:
        raise InputError(f"word_length must be a positive integer, got {word_length!r}")
    trains = spike_trains(data, population)
    _require("pattern_entropy", trains, bin_size=float(_duration(bin_size, "bin_size")), word_length=int(word_length))
    patterns = _binary_patterns(trains, bin_size)
    n_words = patterns.shape[0] // word_length
    words = patterns[: n_words * word_length].reshape(n_words, -1)
    _, counts = np.unique(words, axis=0, return_counts=True)
    p = counts / n_words
    entropy = float(-np.sum(p * np.log2(p)))
    if correction:
        entropy += (len(counts) - 1) / (2 * n_words * np.log(2))
    return entropy


@dataclass(frozen=True)
class Avalanches:
    """Neuronal avalanches of a population (Beggs & Plenz 2003).

    Attributes
    ----------
    sizes : numpy.ndarray
        Spikes per avalanche.
    durations : quantities.Quantity
        Duration of each avalanche (number of bins times ``bin_size``), ms.
    bin_size : quantities.Quantity
        The bin width used (ms).
    branching_ratio : float
        Descendants per ancestor: the sum over every bin of an avalanche of the next bin's
        spikes, divided by the sum of the bins' own spikes (Harris's estimator for a branching
        process, the last bin's descendants being the empty bin that ends the avalanche).
        1 at criticality; for finite avalanches it is ``1 - 1 / mean size``.
    size_exponent, duration_exponent : float
        Exponents ``alpha`` of the power laws ``P(s) ~ s^-alpha`` fitted by maximum likelihood
        above ``size_xmin`` / ``duration_xmin`` (the ``powerlaw`` package, Clauset et al.
        2009; Alstott et al. 2014). A critical branching process gives 3/2 and 2. NaN when
        not fitted (``size_fit`` / ``duration_fit`` say why).
    size_exponent_error, duration_exponent_error : float
        Their standard errors, ``(alpha - 1) / sqrt(n)`` over the ``n`` values above ``xmin``.
    size_xmin, duration_xmin : float
        Where the fitted power laws start (spikes; bins).
    size_loglikelihood_ratio, size_p_value : float
        Normalised log-likelihood ratio of the power law against an exponential for the sizes
        and its p-value: a positive ratio with small p favours the power law, a negative one
        with small p the exponential.
    size_fit, duration_fit : str
        "" when fitted, otherwise why not (fewer than 10 avalanches, or fewer than 3 distinct
        values).
    """

    sizes: np.ndarray
    durations: pq.Quantity
    bin_size: pq.Quantity
    branching_ratio: float
    size_exponent: float
    size_xmin: float
    duration_exponent: float
    duration_xmin: float
    size_loglikelihood_ratio: float
    size_p_value: float
    size_exponent_error: float = float("nan")
    duration_exponent_error: float = float("nan")
    size_fit: str = ""
    duration_fit: str = ""


def _power_law(values: np.ndarray, what: str, compare: bool = False) -> tuple[tuple[float, ...], str]:
    """((alpha, xmin, error[, ratio, p]), why not fitted or "")."""
    nan = float("nan")
    empty = (nan,) * (5 if compare else 3)
    if len(values) < POWER_LAW_MIN_AVALANCHES:
        return empty, f"{len(values)} avalanches: a power-law fit needs {POWER_LAW_MIN_AVALANCHES}"
    if len(np.unique(values)) < 3:
        return empty, f"the {what} take {len(np.unique(values))} distinct value(s): a power-law fit needs 3"
    import powerlaw  # imported here: it is slow to import and only avalanches need it

    # the exponential fit warns (and divides by zero) near the edge of its parameter range: that
    # fit is only the comparison, and its failure shows as a ratio favouring the power law
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        fit = powerlaw.Fit(values, discrete=True, verbose=0)
        result: tuple[float, ...] = (float(fit.power_law.alpha), float(fit.xmin), float(fit.power_law.sigma))
        if compare:
            ratio, p = fit.distribution_compare("power_law", "exponential", normalized_ratio=True)
            result += (float(ratio), float(p))
    return result, ""


def avalanches(data: Spikes, bin_size: Any = "auto", population: str | None = None) -> Avalanches:
    """Neuronal avalanches: runs of consecutive time bins with spikes, bounded by empty bins.

    Parameters
    ----------
    data : Block, Segment or list of SpikeTrain
        The population's spikes are pooled.
    bin_size : str or quantity
        ``"auto"`` uses the mean interval between consecutive spikes of the pooled population,
        as Beggs & Plenz (2003) did; otherwise a duration.
    population : str, optional

    Returns
    -------
    Avalanches
        Sizes, durations, branching ratio and power-law fits (see :class:`Avalanches`). An
        avalanche still running at the start or the end of the recording is dropped.

    Raises
    ------
    NotApplicableError
        Fewer than two neurons or two spikes, or activity that never pauses at the bin size.
    """
    trains = spike_trains(data, population)
    _require("avalanches", trains)
    times = np.sort(np.concatenate([t.times.rescale(pq.ms).magnitude for t in trains]))
    start = float(trains[0].t_start.rescale(pq.ms))
    stop = float(trains[0].t_stop.rescale(pq.ms))
    if isinstance(bin_size, str) and bin_size == "auto":
        width = float(np.mean(np.diff(times)))
        if width <= 0:
            raise NotApplicableError(
                "avalanches", "every spike is at the same time, so the mean interval is 0: give bin_size explicitly"
            )
    else:
        width = float(_duration(bin_size, "bin_size"))
    counts = np.bincount(((times - start) // width).astype(int), minlength=int(np.ceil((stop - start) / width)))
    active = counts > 0
    edges = np.diff(np.concatenate([[0], active.astype(int), [0]]))
    begins, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)  # [begin, end) of each run
    keep = (begins > 0) & (ends < len(counts))  # runs touching the recording's edges are incomplete
    begins, ends = begins[keep], ends[keep]
    if not len(begins):
        raise NotApplicableError(
            "avalanches",
            f"avalanche analysis needs activity that pauses: no complete avalanche (non-empty bins between "
            f"empty ones) at a bin size of {width:g} ms, so activity never pauses",
        )
    cumulative = np.concatenate([[0], np.cumsum(counts)])
    sizes = cumulative[ends] - cumulative[begins]
    durations = ends - begins
    # ancestors: every bin of every avalanche; descendants: the bin after each (its last bin's is 0)
    ancestors = sizes.sum()
    descendants = sizes.sum() - counts[begins].sum()
    (alpha, xmin, alpha_error, ratio, p), size_fit = _power_law(sizes, "sizes", compare=True)
    (tau, tmin, tau_error), duration_fit = _power_law(durations, "durations")
    return Avalanches(
        sizes=sizes,
        durations=durations * width * pq.ms,
        bin_size=width * pq.ms,
        branching_ratio=float(descendants / ancestors),
        size_exponent=alpha,
        size_xmin=xmin,
        duration_exponent=tau,
        duration_xmin=tmin,
        size_loglikelihood_ratio=ratio,
        size_p_value=p,
        size_exponent_error=alpha_error,
        duration_exponent_error=tau_error,
        size_fit=size_fit,
        duration_fit=duration_fit,
    )


@dataclass(frozen=True)
class AttractorStates:
    """Discrete states of population activity found by :func:`attractor_states`.

    Attributes
    ----------
    labels : numpy.ndarray
        The state of each time bin, numbered in order of first appearance.
    centroids : quantities.Quantity
        Each state's mean rate per neuron (states x neurons, Hz).
    occupancy : numpy.ndarray
        Fraction of the bins spent in each state.
    dwell_times : list of quantities.Quantity
        Per state, the duration (ms) of every visit.
    transitions : numpy.ndarray
        ``transitions[a, b]``: how often the population went from state ``a`` to ``b``.
    silhouette : float
        Mean silhouette of the chosen clustering (NaN for one state).
    bin_size : quantities.Quantity
    persistence : float
        The runs test's z of the chosen states: how much fewer changes of state the labels have
        than the same labels in random order, in standard deviations (NaN for one state; below
        -2.326, p < 0.01, for every clustering accepted).
    """

    labels: np.ndarray
    centroids: pq.Quantity
    occupancy: np.ndarray
    dwell_times: list
    transitions: np.ndarray
    silhouette: float
    bin_size: pq.Quantity
    persistence: float = float("nan")

    @property
    def n_states(self) -> int:
        return len(self.occupancy)


def _silhouette(points: np.ndarray, labels: np.ndarray) -> float:
    """Mean silhouette (Rousseeuw 1987) of a clustering with at least two clusters."""
    from scipy.spatial.distance import cdist

    distances = cdist(points, points)
    clusters = np.unique(labels)
    # mean distance of every point to each cluster (its own excluding itself)
    means = np.stack([distances[:, labels == c].sum(axis=1) for c in clusters], axis=1)
    sizes = np.array([np.sum(labels == c) for c in clusters], dtype=float)
    own = np.searchsorted(clusters, labels)
    own_size = sizes[own] - 1
    a = np.where(own_size > 0, means[np.arange(len(points)), own] / np.maximum(own_size, 1), 0.0)
    others = means / sizes
    others[np.arange(len(points)), own] = np.inf
    b = others.min(axis=1)
    s = np.where(own_size > 0, (b - a) / np.maximum(np.maximum(a, b), 1e-300), 0.0)
    return float(s.mean())


def _runs_z(labels: np.ndarray) -> float:
    """Runs test (Mood 1940) of a label sequence: (runs - expected) / sd, the expectation and
    variance being those of the same labels in random order. Negative: states persist."""
    n = float(len(labels))
    counts = np.bincount(labels).astype(float)
    s2, s3 = float(np.sum(counts**2)), float(np.sum(counts**3))
    runs = 1 + np.count_nonzero(np.diff(labels))
    mean = (n * (n + 1) - s2) / n
    variance = (s2 * (s2 + n * (n + 1)) - 2 * n * s3 - n**3) / (n**2 * (n - 1))
    return (runs - mean) / np.sqrt(variance) if variance > 0 else 0.0


def attractor_states(
    data: Spikes,
    bin_size: Any = "50 ms",
    max_states: int = 6,
    population: str | None = None,
    min_silhouette: float = 0.25,
    seed: int = 0,
) -> AttractorStates:
    """Detect discrete, recurring states of population activity (attractor states).

    The population's rate vector (one rate per neuron) in every bin of ``bin_size`` is
    clustered with k-means (SciPy, k-means++ start, for k = 2 ... ``max_states``, at most the
    number of distinct rate vectors). A clustering counts when its mean silhouette is at least
    ``min_silhouette`` (Kaufman & Rousseeuw 1990 put "substantial structure" at 0.25) and its
    states persist: the bins' labels change state less often than the same labels in random
    order (runs test, Mood 1940, one-sided p < 0.01). The counting k with the largest silhouette
    wins; without one the activity is one state. Persistence is what tells states from the
    counting noise of regular firing: a neuron at 90 Hz has 4 or 5 spikes in a 50 ms bin,
    alternating bin by bin, which k-means separates perfectly but which never stays.

    Parameters
    ----------
    data : Block, Segment or list of SpikeTrain
    bin_size : str or quantity
        Long enough to hold a few spikes per neuron and state, shorter than a state's dwell.
    max_states : int
    population : str, optional
    min_silhouette : float
    seed : int
        Seeds the k-means starts (and the sample of bins the silhouette is computed on beyond
        4,000 bins), so a result is reproducible.

    Raises
    ------
    NotApplicableError
        Fewer than two neurons, no spike, or fewer than ten bins.
    """
    from scipy.cluster.vq import ClusterError, kmeans2

    if isinstance(max_states, bool) or not isinstance(max_states, int | np.integer) or max_states < 1:
        raise InputError(f"max_states must be a positive integer, got {max_states!r}")
    trains = spike_trains(data, population)
    size = _duration(bin_size, "bin_size")
    _require("attractor_states", trains, bin_size=float(size))
    binned = _binned(trains, size)
    rates = np.asarray(binned.to_array(), dtype=float).T / float(size.rescale(pq.s))  # bins x neurons, Hz
    rng = np.random.default_rng(seed)
    sample = np.arange(len(rates))
    if len(sample) > SILHOUETTE_MAX_BINS:
        sample = np.sort(rng.choice(len(rates), SILHOUETTE_MAX_BINS, replace=False))
    distinct = len(np.unique(rates, axis=0))  # k-means++ cannot place more centres than distinct points
    best_labels, best_score, best_z = np.zeros(rates.shape[0], dtype=int), float("nan"), float("nan")
    for k in range(2, min(max_states, distinct) + 1):
        try:
            _, labels = kmeans2(rates, k, minit="++", seed=rng, missing="raise")
        except ClusterError:  # a cluster emptied during the iterations: this k has no k states
            continue
        if len(np.unique(labels[sample])) < 2:  # a state too rare to be in the silhouette's sample
            continue
        score = _silhouette(rates[sample], labels[sample])
        z = _runs_z(np.unique(labels, return_inverse=True)[1])
        if score >= min_silhouette and z <= PERSISTENCE_Z and not score <= best_score:
            best_labels, best_score, best_z = labels, score, z
    # number the states in order of first appearance (k-means' numbering is arbitrary)
    _, first = np.unique(best_labels, return_index=True)
    order = np.argsort(np.argsort(first))
    labels = order[np.searchsorted(np.unique(best_labels), best_labels)]
    n = int(labels.max()) + 1
    centroids = np.stack([rates[labels == s].mean(axis=0) for s in range(n)])
    change = np.flatnonzero(np.diff(labels)) + 1
    runs = np.split(labels, change)
    width = float(size.rescale(pq.ms))
    dwell = [pq.Quantity([len(r) * width for r in runs if r[0] == s], pq.ms) for s in range(n)]
    transitions = np.zeros((n, n), dtype=int)
    np.add.at(transitions, (labels[change - 1], labels[change]), 1)
    return AttractorStates(
        labels=labels,
        centroids=pq.Quantity(centroids, pq.Hz),
        occupancy=np.bincount(labels, minlength=n) / len(labels),
        dwell_times=dwell,
        transitions=transitions,
        silhouette=best_score,
        bin_size=width * pq.ms,
        persistence=best_z,
    )


@dataclass(frozen=True)
class EnergyCosts:
    """ATP costs of signalling. The defaults are Attwell & Laughlin's (2001) budget for rodent
    grey matter: an action potential (soma, axon and dendrites of one neuron) 3.84e8 ATP;
    one released vesicle 1.64e5 ATP (postsynaptic ion pumping, presynaptic Ca2+ extrusion,
    glutamate recycling and vesicle refilling); release probability 0.25 per spike and bouton;
    8,000 boutons per neuron (used only for the per-neuron budget, see :func:`energy`); the
    resting potential 3.42e8 ATP/s per neuron. Later work (Harris & Attwell 2012) puts the
    action potential at about a quarter of that; pass other values for other cells."""

    atp_per_spike: float = 3.84e8
    atp_per_vesicle: float = 1.64e5
    release_probability: float = 0.25
    synapses_per_neuron: float = 8000.0
    atp_resting_per_second: float = 3.42e8


@dataclass(frozen=True)
class EnergyEstimate:
    """ATP used by a run (:func:`energy`), split as Attwell & Laughlin (2001) split it."""

    n_neurons: int
    duration: pq.Quantity
    n_spikes: int
    n_synaptic_events: float
    synaptic_events_from: str
    atp_action_potentials: float
    atp_synaptic: float
    atp_resting: float

    @property
    def atp_total(self) -> float:
        return self.atp_action_potentials + self.atp_synaptic + self.atp_resting

    @property
    def atp_per_second(self) -> float:
        """ATP per second for the whole population."""
        return self.atp_total / float(self.duration.rescale(pq.s))

    @property
    def atp_per_neuron_per_second(self) -> float:
        return self.atp_per_second / self.n_neurons


def _network_events(layout: dict, trains: list[neo.SpikeTrain]) -> tuple[float, list[str]]:
    """Synaptic events of a network run: each presynaptic spike times the projection's mean
    out-degree (its synapse count over the presynaptic size; exact for fixed out-degree)."""
    sizes = {entry["name"]: entry["size"] for entry in layout["populations"] + layout["sources"]}
    spikes: dict[str, int] = {}
    for train in trains:
        key = str(train.annotations.get("population"))
        spikes[key] = spikes.get(key, 0) + len(train)
    events, missing = 0.0, []
    for projection in layout["projections"]:
        if projection["pre"] not in spikes:
            missing.append(projection["name"])
            continue
        events += spikes[projection["pre"]] * projection["count"] / sizes[projection["pre"]]
    return events, missing


def energy(
    data: neo.Block | Spikes,
    costs: EnergyCosts | None = None,
    synaptic_events: float | None = None,
    population: str | None = None,
    per_neuron_budget: bool = False,
) -> EnergyEstimate:
    """Estimate the ATP a run used (Attwell & Laughlin 2001).

    ATP = spikes x ``atp_per_spike`` + synaptic events x ``release_probability`` x
    ``atp_per_vesicle`` + neurons x duration x ``atp_resting_per_second``.

    A synaptic event is a spike arriving at one synapse; like Attwell & Laughlin, its cost is
    booked to the presynaptic neuron. The events are, in this order:

    - ``synaptic_events``, when given;
    - with ``per_neuron_budget=True``, every spike reaching ``costs.synapses_per_neuron``
      synapses: Attwell & Laughlin's budget of a cortical neuron embedded in cortex (8,000
      boutons), for a neuron whose targets were not simulated;
    - for a network run, counted from the projections of its structure
      (:func:`sourced_neuron.results.blocks.structure`: each presynaptic spike times the
      projection's mean out-degree; sources count when their spikes were recorded);
    - otherwise none: a single-neuron run, or spike trains without a network, have no synapses,
      so the synaptic share is 0 and ``synaptic_events_from`` says so.

    Neurons are the simulated neurons (spike sources cost nothing themselves).

    Parameters
    ----------
    data : Block, Segment or list of SpikeTrain
    costs : EnergyCosts, optional
    synaptic_events : float, optional
    population : str, optional
        Only this population's neurons, spikes and outgoing synaptic events.
    per_neuron_budget : bool
        Count ``costs.synapses_per_neuron`` synapses per spike (see above).

    Raises
    ------
    InputError
        Both ``synaptic_events`` and ``per_neuron_budget``, a negative ``synaptic_events``, or
        a block of an older layout (run it again).
    NotApplicableError
        No simulated neuron (only spike sources).
    """
    costs = costs or EnergyCosts()
    if not isinstance(per_neuron_budget, bool):
        raise InputError(f"per_neuron_budget must be True or False, got {per_neuron_budget!r}")
    if per_neuron_budget and synaptic_events is not None:
        raise InputError("give synaptic_events or per_neuron_budget=True, not both")
    trains = spike_trains(data, population)
    # a run's structure (None for trains, or a block made by hand without one)
    layout = structure(data, required=False) if isinstance(data, neo.Block | neo.Segment) else None
    sources = {entry["name"] for entry in layout["sources"]} if layout else set()
    neurons = [t for t in trains if t.annotations.get("population") not in sources]
    if not neurons:
        raise NotApplicableError(
            "energy", "the energy estimate needs simulated neurons: these spike trains all belong to spike sources"
        )
    _require("energy", neurons)
    n_spikes = int(sum(len(t) for t in neurons))
    duration = (trains[0].t_stop - trains[0].t_start).rescale(pq.ms)
    if synaptic_events is not None:
        if not np.isfinite(synaptic_events) or synaptic_events < 0:
            raise InputError(f"synaptic_events must be a non-negative number, got {synaptic_events!r}")
        events, origin = float(synaptic_events), "given"
    elif per_neuron_budget:
        events = n_spikes * costs.synapses_per_neuron
        origin = f"per-neuron budget: {costs.synapses_per_neuron:g} synapses per spike (Attwell & Laughlin 2001)"
    elif layout is not None and layout["projections"]:
        events, missing = _network_events(layout, trains)
        origin = "the network's projections"
        if missing:
            origin += f" (projections without recorded presynaptic spikes left out: {', '.join(missing)})"
    else:
        events = 0.0
        run = layout is not None or isinstance(data, neo.Block)
        what = "this run has no projections" if run else "spike trains alone name no synapses"
        origin = (
            f"none: {what}, so its spikes reach no synapse; per_neuron_budget=True counts "
            f"{costs.synapses_per_neuron:g} synapses per spike, Attwell & Laughlin's cortical neuron"
        )
    return EnergyEstimate(
        n_neurons=len(neurons),
        duration=duration,
        n_spikes=n_spikes,
        n_synaptic_events=events,
        synaptic_events_from=origin,
        atp_action_potentials=n_spikes * costs.atp_per_spike,
        atp_synaptic=events * costs.release_probability * costs.atp_per_vesicle,
        atp_resting=len(neurons) * float(duration.rescale(pq.s)) * costs.atp_resting_per_second,
    )
