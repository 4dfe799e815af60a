"""Running one model on several backends and measuring how far their results are apart."""

from __future__ import annotations

from sourced_neuron.common import brian2_import  # noqa: F401 - before Brian2: keeps the user's excepthook

# isort: split

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import neo
import numpy as np
from brian2 import amp

from sourced_neuron.common.errors import InputError
from sourced_neuron.common.progress import iterate
from sourced_neuron.results.blocks import signals, spike_trains
from sourced_neuron.run.simulation import simulate
from sourced_neuron.spec.parts import AMP
from sourced_neuron.spec.units import as_quantity

__all__ = ["Agreement", "compare_backends", "fi_curve"]


@dataclass(frozen=True)
class Agreement:
    """How a backend's result differs from the reference (the first backend).

    Times are in ms and the trace difference is in the recorded variable's display unit.
    ``passed`` means equal spike counts, every spike within one time step of the
    reference, a firing rate within 2 % of the reference's (``rate_difference``, in %),
    (when a variable was recorded) an RMS trace difference within ``trace_tolerance``, and
    (when an f-I sweep was run) an f-I difference within 2 %.

    ``fi_difference`` is the largest difference between the two f-I curves, in % of the
    reference curve's largest rate: normalising by one rate for the whole curve keeps
    points near the rheobase, where one spike more is a large relative change, from
    dominating, and it is what a reader compares when two f-I curves are drawn together.
    ``fi_rates`` holds the measured rates (Hz), one per current of the sweep.
    """

    backend: str
    n_spikes: int
    first_spike: float
    max_spike_difference: float
    trace_rms_difference: float
    rate_difference: float
    passed: bool
    fi_difference: float = float("nan")
    fi_rates: tuple[float, ...] = ()


def _spike_times(block: neo.Block) -> list[np.ndarray]:
    return [np.asarray(st.rescale("ms").magnitude) for st in spike_trains(block)]


def fi_curve(model: Any, backend: str, currents: Any, duration: Any = "1 s", **simulate_args: Any) -> np.ndarray:
    """Firing rates (Hz) of ``model`` on ``backend``, one neuron per constant current.

    All currents run in one simulation (one neuron each), so a sweep costs one run.

    Parameters
    ----------
    model : NeuronModel, str or path
    backend : str
    currents : sequence of currents
        E.g. ``["0 pA", "100 pA"]`` or a ``quantities`` array.
    duration : duration
        Rates are spike counts divided by this duration.
    **simulate_args
        Passed to :func:`sourced_neuron.simulate` (``preset``, ``params``, ``dt``).
    """
    values = as_quantity(list(currents) if isinstance(currents, list | tuple) else currents, "f-I currents", AMP)
    values = np.atleast_1d(np.asarray(values, dtype=float))
    if values.ndim != 1 or values.size < 2:
        raise InputError(f"an f-I sweep needs at least two currents, got {currents!r}")
    block = simulate(
        model,
        backend=backend,
        duration=duration,
        stimulus=list(values * amp),
        n_neurons=values.size,
        record=(),
        **simulate_args,
    )
    seconds = float(block.segments[0].t_stop.rescale("s").magnitude)
    return np.array([len(st) / seconds for st in spike_trains(block)])


def compare_backends(
    model: Any,
    backends: Sequence[str],
    trace_tolerance: float = 1.0,
    fi_currents: Any = None,
    **simulate_args: Any,
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
    fi_currents : sequence of currents, optional
        When given, each backend also runs an f-I sweep over these constant currents
        (same duration, preset, parameters and dt) and the curves are compared.
    **simulate_args
        Passed to :func:`sourced_neuron.simulate`.
    """
    if len(backends) < 2:
        raise InputError("compare needs at least two backends, e.g. brian2,nest")
    progress = simulate_args.get("progress")
    blocks = [simulate(model, backend=name, **simulate_args) for name in iterate(backends, "backends", progress)]
    curves: list[np.ndarray | None] = [None] * len(backends)
    if fi_currents is not None:
        sweep_args = {k: v for k, v in simulate_args.items() if k in ("duration", "preset", "params", "dt", "progress")}
        sweeps = iterate(backends, "f-I sweeps", progress)
        curves = [fi_curve(model, name, fi_currents, **sweep_args) for name in sweeps]
    reference = blocks[0]
    dt = float(reference.annotations["dt"].rescale("ms").magnitude)
    ref_spikes = _spike_times(reference)
    ref_signal = next(iter(signals(reference)), None)
    rows = []
    for name, block, curve in zip(backends, blocks, curves, strict=True):
        spikes = _spike_times(block)
        counts_equal = all(len(a) == len(b) for a, b in zip(spikes, ref_spikes, strict=True))
        differences = [np.abs(a - b) for a, b in zip(spikes, ref_spikes, strict=True) if len(a) and len(a) == len(b)]
        max_difference = float(max((d.max() for d in differences), default=0.0)) if counts_equal else float("nan")
        rms = float("nan")
        if ref_signal is not None:
            signal = signals(block, variable=ref_signal.annotations["variable"])[0].rescale(ref_signal.units)
            rms = float(np.sqrt(np.mean((signal.magnitude - ref_signal.magnitude) ** 2)))
        n_spikes = int(sum(len(a) for a in spikes))
        n_reference = sum(len(a) for a in ref_spikes)
        rate = (n_spikes - n_reference) / n_reference if n_reference else float(n_spikes != 0)
        fi_difference = float("nan")
        if curve is not None:
            scale = max(float(curves[0].max()), 1e-12)
            fi_difference = float(100 * np.max(np.abs(curve - curves[0])) / scale)
        passed = (
            counts_equal
            and (np.isnan(fi_difference) or fi_difference <= 2.0)
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
                fi_difference,
                () if curve is None else tuple(float(r) for r in curve),
            )
        )
    return rows
