"""Analysis of simulation results, on top of Elephant."""

from __future__ import annotations

import warnings

import neo
import numpy as np
import quantities as pq
from elephant.statistics import cv, isi, mean_firing_rate

__all__ = ["spike_summary"]


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
