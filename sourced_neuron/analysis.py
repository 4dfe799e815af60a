"""Analysis of simulation results, on top of Elephant.

Every function takes what a run returns (a ``neo.Block`` or ``neo.Segment``, or a list of
``neo.SpikeTrain``), optionally restricted to one population (the ``population`` annotation of
network runs), and returns quantities or Neo objects. Elephant does the work wherever it has
the measure; this module chooses the data, checks the arguments and names the result.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
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
    "AttractorStates",
    "Avalanches",
    "EnergyCosts",
    "EnergyEstimate",
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

    The plug-in estimate needs many more words than possible patterns: with 10 neurons and
    1,000 words it is already biased low. The correction helps only while most patterns have
    been seen.
    """
    if isinstance(word_length, bool) or not isinstance(word_length, int | np.integer) or word_length < 1:
        raise InputError(f"word_length must be a positive integer, got {word_length!r}")
    patterns = _binary_patterns(spike_trains(data, population), bin_size)
    n_words = patterns.shape[0] // word_length
    if n_words < 2:
        raise InputError(f"the run holds {patterns.shape[0]} bins: too few for words of {word_length} bins")
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
        1 at criticality.
    size_exponent, duration_exponent : float
        Exponents ``alpha`` of the power laws ``P(s) ~ s^-alpha`` fitted by maximum likelihood
        above ``size_xmin`` / ``duration_xmin`` (the ``powerlaw`` package, Clauset et al.
        2009; Alstott et al. 2014). A critical branching process gives 3/2 and 2. NaN with
        fewer than ten avalanches.
    size_xmin, duration_xmin : float
        Where the fitted power laws start (spikes; bins).
    size_loglikelihood_ratio, size_p_value : float
        Normalised log-likelihood ratio of the power law against an exponential for the sizes
        and its p-value: a positive ratio with small p favours the power law.
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


def _power_law(values: np.ndarray, compare: bool = False) -> tuple[float, ...]:
    nan = float("nan")
    if len(values) < 10 or len(np.unique(values)) < 3:
        return (nan, nan, nan, nan) if compare else (nan, nan)
    import powerlaw  # imported here: it is slow to import and only avalanches need it

    # the exponential fit warns (and divides by zero) near the edge of its parameter range
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        fit = powerlaw.Fit(values, discrete=True, verbose=0)
        result = (float(fit.power_law.alpha), float(fit.xmin))
        if compare:
            ratio, p = fit.distribution_compare("power_law", "exponential", normalized_ratio=True)
            result += (float(ratio), float(p))
    return result


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
    """
    trains = spike_trains(data, population)
    times = np.sort(np.concatenate([t.times.rescale(pq.ms).magnitude for t in trains]))
    if len(times) < 2:
        raise InputError("avalanches need at least two spikes")
    start = float(trains[0].t_start.rescale(pq.ms))
    stop = float(trains[0].t_stop.rescale(pq.ms))
    if isinstance(bin_size, str) and bin_size == "auto":
        width = float(np.mean(np.diff(times)))
        if width <= 0:
            raise InputError("every spike is at the same time: give bin_size explicitly")
    else:
        width = float(_duration(bin_size, "bin_size"))
    counts = np.bincount(((times - start) // width).astype(int), minlength=int(np.ceil((stop - start) / width)))
    active = counts > 0
    edges = np.diff(np.concatenate([[0], active.astype(int), [0]]))
    begins, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)  # [begin, end) of each run
    keep = (begins > 0) & (ends < len(counts))  # runs touching the recording's edges are incomplete
    begins, ends = begins[keep], ends[keep]
    if not len(begins):
        raise InputError(f"no complete avalanche at a bin size of {width:g} ms: activity never pauses")
    cumulative = np.concatenate([[0], np.cumsum(counts)])
    sizes = cumulative[ends] - cumulative[begins]
    durations = ends - begins
    # ancestors: every bin of every avalanche; descendants: the bin after each (its last bin's is 0)
    ancestors = sizes.sum()
    descendants = sizes.sum() - counts[begins].sum()
    alpha, xmin, ratio, p = _power_law(sizes, compare=True)
    tau, tmin = _power_law(durations)
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
    """

    labels: np.ndarray
    centroids: pq.Quantity
    occupancy: np.ndarray
    dwell_times: list
    transitions: np.ndarray
    silhouette: float
    bin_size: pq.Quantity

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
    clustered with k-means (SciPy, k-means++ start, for k = 2 ... ``max_states``); the k with
    the largest mean silhouette wins. Below ``min_silhouette`` no clustering has substantial
    structure (Kaufman & Rousseeuw 1990 put that limit at 0.25) and the activity is one
    state. Persistent states show as long dwell times and few transitions; states of an
    attractor network recur with the same centroid.

    Parameters
    ----------
    data : Block, Segment or list of SpikeTrain
    bin_size : str or quantity
        Long enough to hold a few spikes per neuron and state, shorter than a state's dwell.
    max_states : int
    population : str, optional
    min_silhouette : float
    seed : int
        Seeds the k-means starts, so a result is reproducible.
    """
    from scipy.cluster.vq import kmeans2

    if isinstance(max_states, bool) or not isinstance(max_states, int | np.integer) or max_states < 1:
        raise InputError(f"max_states must be a positive integer, got {max_states!r}")
    size = _duration(bin_size, "bin_size")
    binned = _binned(spike_trains(data, population), size)
    rates = np.asarray(binned.to_array(), dtype=float).T / float(size.rescale(pq.s))  # bins x neurons, Hz
    if rates.shape[0] < 3:
        raise InputError(f"the run holds {rates.shape[0]} bins of {bin_size}: too few to find states")
    rng = np.random.default_rng(seed)
    best_labels, best_score = np.zeros(rates.shape[0], dtype=int), float("nan")
    for k in range(2, min(max_states, rates.shape[0] - 1) + 1):
        _, labels = kmeans2(rates, k, minit="++", seed=rng)
        if len(np.unique(labels)) < 2:
            continue
        score = _silhouette(rates, labels)
        if score >= min_silhouette and not score <= best_score:
            best_labels, best_score = labels, score
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
    )


@dataclass(frozen=True)
class EnergyCosts:
    """ATP costs of signalling. The defaults are Attwell & Laughlin's (2001) budget for rodent
    grey matter: an action potential (soma, axon and dendrites of one neuron) 3.84e8 ATP;
    one released vesicle 1.64e5 ATP (postsynaptic ion pumping, presynaptic Ca2+ extrusion,
    glutamate recycling and vesicle refilling); release probability 0.25 per spike and bouton;
    8,000 boutons per neuron; the resting potential 3.42e8 ATP/s per neuron. Later work
    (Harris & Attwell 2012) puts the action potential at about a quarter of that; pass other
    values for other cells."""

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


def listed(block: neo.Block, key: str) -> list[str]:
    """A list annotation of a block as strings (NIX files store a one-element list as a scalar)."""
    value = block.annotations.get(key, [])
    return [str(v) for v in (value if isinstance(value, list | tuple | np.ndarray) else [value])]


_PROJECTION = re.compile(r"^(?P<name>.+): (?P<pre>\S+) -> (?P<post>\S+) \(.*\): (?P<count>\d+)$")


def _network_events(block: neo.Block, trains: list[neo.SpikeTrain]) -> tuple[float, list[str]]:
    """Synaptic events of a network run: each presynaptic spike times the projection's mean
    out-degree (its synapse count over the presynaptic size; exact for fixed out-degree)."""
    sizes = {}
    for entry in listed(block, "populations") + listed(block, "sources"):
        name, _, rest = str(entry).partition(": ")
        sizes[name] = int(rest.split(" ")[0])
    spikes = {}
    for train in trains:
        key = train.annotations.get("population")
        spikes[key] = spikes.get(key, 0) + len(train)
    events, missing = 0.0, []
    for entry in listed(block, "projections"):
        match = _PROJECTION.match(entry)
        if match is None:
            raise InputError(f"cannot read the projection annotation {entry!r}")
        if match["pre"] not in spikes:
            missing.append(match["name"])
            continue
        events += spikes[match["pre"]] * int(match["count"]) / sizes[match["pre"]]
    return events, missing


def energy(
    data: neo.Block | Spikes,
    costs: EnergyCosts | None = None,
    synaptic_events: float | None = None,
    population: str | None = None,
) -> EnergyEstimate:
    """Estimate the ATP a run used (Attwell & Laughlin 2001).

    ATP = spikes x ``atp_per_spike`` + synaptic events x ``release_probability`` x
    ``atp_per_vesicle`` + neurons x duration x ``atp_resting_per_second``.

    Synaptic events (a spike arriving at one synapse) are, in this order: ``synaptic_events``
    when given; for a network run, counted from its projections (each presynaptic spike times
    the projection's mean out-degree; sources count when their spikes were recorded); otherwise
    every spike reaches ``costs.synapses_per_neuron`` synapses. Neurons are the simulated
    neurons (spike sources cost nothing themselves).

    Parameters
    ----------
    data : Block, Segment or list of SpikeTrain
    costs : EnergyCosts, optional
    synaptic_events : float, optional
    population : str, optional
        Only this population's neurons, spikes and outgoing synaptic events.
    """
    costs = costs or EnergyCosts()
    trains = spike_trains(data, population)
    sources = set()
    if isinstance(data, neo.Block):
        sources = {s.partition(": ")[0] for s in listed(data, "sources")}
    neurons = [t for t in trains if t.annotations.get("population") not in sources]
    if not neurons:
        raise InputError("no simulated neurons: these spike trains all belong to spike sources")
    n_spikes = int(sum(len(t) for t in neurons))
    duration = (trains[0].t_stop - trains[0].t_start).rescale(pq.ms)
    if synaptic_events is not None:
        if not np.isfinite(synaptic_events) or synaptic_events < 0:
            raise InputError(f"synaptic_events must be a non-negative number, got {synaptic_events!r}")
        events, origin = float(synaptic_events), "given"
    elif isinstance(data, neo.Block) and "projections" in data.annotations:
        all_trains = trains if population else spike_trains(data)
        events, missing = _network_events(data, all_trains)
        origin = "the network's projections"
        if missing:
            origin += f" (projections without recorded presynaptic spikes left out: {', '.join(missing)})"
    else:
        events, origin = n_spikes * costs.synapses_per_neuron, f"{costs.synapses_per_neuron:g} synapses per spike"
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
