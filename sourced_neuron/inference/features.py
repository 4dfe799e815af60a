"""Summary statistics of an observation (noisy trace and spike times), vectorised over sets.

The trace is cut into :data:`WINDOWS` equal windows; per window its mean and standard deviation
(mV) describe rest, the response to each part of the stimulus and the noise, whatever the stimulus
is. Over the whole trace, the lag-one autocorrelation carries the membrane's time scale. For a
spiking model: the spike count per window, the log of one plus the total count, the first-spike
latency, the mean inter-spike interval (both as fractions of the duration; 1 when there is no
such spike or interval) and the ISI coefficient of variation (0 with fewer than three spikes).
These values stay finite for every set, so no set is dropped for having too few spikes.
"""

from __future__ import annotations

import itertools

import numpy as np

__all__ = ["WINDOWS", "feature_names", "statistics"]

#: Windows the trace and the spike train are cut into.
WINDOWS = 10


def feature_names(spiking: bool) -> list[str]:
    """The names of :func:`statistics`' columns, in order."""
    names = [f"mean_{w}" for w in range(WINDOWS)] + [f"std_{w}" for w in range(WINDOWS)] + ["autocorr_1"]
    if spiking:
        names += [f"spikes_{w}" for w in range(WINDOWS)] + ["log_count", "latency", "mean_isi", "isi_cv"]
    return names


def statistics(traces: np.ndarray, spikes: list[np.ndarray] | None, duration: float) -> np.ndarray:
    """The summary statistics of each set.

    Parameters
    ----------
    traces : numpy.ndarray
        ``(n_sets, n_samples)``, volts (with the observation noise).
    spikes : list of numpy.ndarray or None
        Per set, its spike times (seconds); ``None`` for a model without spikes.
    duration : float
        Seconds observed.

    Returns
    -------
    numpy.ndarray
        ``(n_sets, len(feature_names(spikes is not None)))``, float64.
    """
    traces = np.atleast_2d(np.asarray(traces, dtype=float)) * 1e3  # mV
    n, length = traces.shape
    edges = np.linspace(0, length, WINDOWS + 1).round().astype(int)
    means = np.stack([traces[:, a:b].mean(axis=1) for a, b in itertools.pairwise(edges)], axis=1)
    stds = np.stack([traces[:, a:b].std(axis=1) for a, b in itertools.pairwise(edges)], axis=1)
    centred = traces - traces.mean(axis=1, keepdims=True)
    power = np.sum(centred**2, axis=1)
    lag = np.sum(centred[:, 1:] * centred[:, :-1], axis=1)
    autocorr = np.divide(lag, power, out=np.zeros(n), where=power > 0)
    columns = [means, stds, autocorr[:, None]]
    if spikes is not None:
        window_edges = np.linspace(0, duration, WINDOWS + 1)
        counts = np.zeros((n, WINDOWS))
        total = np.zeros(n)
        latency = np.ones(n)
        mean_isi = np.ones(n)
        cv = np.zeros(n)
        for k, given in enumerate(spikes):
            times = np.asarray(given, dtype=float)
            if not len(times):
                continue
            counts[k] = np.histogram(times, window_edges)[0]
            total[k] = len(times)
            latency[k] = times[0] / duration
            if len(times) >= 2:
                isi = np.diff(times)
                mean_isi[k] = isi.mean() / duration
                if len(times) >= 3 and isi.mean() > 0:
                    cv[k] = isi.std() / isi.mean()
        columns += [counts, np.log1p(total)[:, None], latency[:, None], mean_isi[:, None], cv[:, None]]
    return np.concatenate(columns, axis=1)
