"""Running one model on several backends and measuring how far their results are apart."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import neo
import numpy as np

from .errors import InputError
from .simulation import simulate

__all__ = ["Agreement", "compare_backends"]


@dataclass(frozen=True)
class Agreement:
    """How a backend's result differs from the reference (the first backend).

    Times are in ms and the trace difference is in the recorded variable's display unit.
    ``passed`` means equal spike counts, every spike within one time step of the
    reference, a firing rate within 2 % of the reference's (``rate_difference``, in %), and
    (when a variable was recorded) an RMS trace difference within ``trace_tolerance``.
    """

    backend: str
    n_spikes: int
    first_spike: float
    max_spike_difference: float
    trace_rms_difference: float
    rate_difference: float
    passed: bool


def _spike_times(block: neo.Block) -> list[np.ndarray]:
    return [np.asarray(st.rescale("ms").magnitude) for st in block.segments[0].spiketrains]


def compare_backends(
    model: Any, backends: Sequence[str], trace_tolerance: float = 1.0, **simulate_args: Any
) -> list[Agreement]:
    """Simulate ``model`` on each backend with the same arguments and compare with the first.

    Parameters
    ----------
    model : NeuronModel, str or path
    backends : sequence of str
        At least two backend names; the first is the reference.
    trace_tolerance : float
        Largest accepted RMS difference of the first recorded variable (display unit,
        e.g. mV).
    **simulate_args
        Passed to :func:`sourced_neuron.simulate`.
    """
    if len(backends) < 2:
        raise InputError("compare needs at least two backends, e.g. brian2,nest")
    blocks = [simulate(model, backend=name, **simulate_args) for name in backends]
    reference = blocks[0]
    dt = float(reference.annotations["dt"].rescale("ms").magnitude)
    ref_spikes = _spike_times(reference)
    ref_signal = reference.segments[0].analogsignals[0] if reference.segments[0].analogsignals else None
    rows = []
    for name, block in zip(backends, blocks, strict=True):
        spikes = _spike_times(block)
        counts_equal = all(len(a) == len(b) for a, b in zip(spikes, ref_spikes, strict=True))
        differences = [np.abs(a - b) for a, b in zip(spikes, ref_spikes, strict=True) if len(a) and len(a) == len(b)]
        max_difference = float(max((d.max() for d in differences), default=0.0)) if counts_equal else float("nan")
        rms = float("nan")
        if ref_signal is not None:
            signal = block.segments[0].analogsignals[0].rescale(ref_signal.units)
            rms = float(np.sqrt(np.mean((signal.magnitude - ref_signal.magnitude) ** 2)))
        n_spikes = int(sum(len(a) for a in spikes))
        n_reference = sum(len(a) for a in ref_spikes)
        rate = (n_spikes - n_reference) / n_reference if n_reference else float(n_spikes != 0)
        passed = (
            counts_equal
            and max_difference <= dt * (1 + 1e-9)
            and abs(rate) <= 0.02
            and (np.isnan(rms) or rms <= trace_tolerance)
        )
        first = [a[0] for a in spikes if len(a)]
        rows.append(
            Agreement(
                name,
                n_spikes,
                float(min(first)) if first else float("nan"),
                max_difference,
                rms,
                100 * rate,
                bool(passed),
            )
        )
    return rows
