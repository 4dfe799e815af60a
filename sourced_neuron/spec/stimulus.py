"""The injected current ``I_ext``: what users pass as ``stimulus``, normalised once for every backend.

Timing rule, the same on every backend: the simulation advances in steps of ``dt``; the
current used for the step that starts at time ``t_k = k*dt`` is the stimulus value at
``t_k``. A step current is on for the steps with ``start <= t_k < stop``; a sampled
current holds each sample for one sampling period and is zero after its last sample.
"""

from __future__ import annotations

from sourced_neuron.common import brian2_import  # noqa: F401 - before Brian2: keeps the user's excepthook

# isort: split

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import neo
import numpy as np
import quantities as pq
from brian2.units.fundamentalunits import Quantity

from sourced_neuron.common.errors import InputError
from sourced_neuron.spec.parts import AMP, SECOND
from sourced_neuron.spec.units import as_quantity

__all__ = ["Stimulus"]

_STEP_KEYS = ("start", "stop", "amplitude")
_SAMPLED_KEYS = ("samples", "sampling_period")


@dataclass(frozen=True, eq=False)
class Stimulus:
    """A normalised current input.

    Attributes
    ----------
    kind : {"none", "constant", "step", "sampled"}
    amplitude : Quantity
        Amps. ``constant``: a scalar or one value per neuron. ``step``: a scalar or one
        value per neuron. ``sampled``: shape ``(n_samples,)`` or ``(n_samples, n_neurons)``.
    start, stop : Quantity or None
        Seconds; ``step`` only.
    sampling_period : Quantity or None
        Seconds; ``sampled`` only.
    """

    kind: Literal["none", "constant", "step", "sampled"]
    amplitude: Any = None
    start: Any = None
    stop: Any = None
    sampling_period: Any = None

    @classmethod
    def from_user(cls, stimulus: Any, n_neurons: int) -> Stimulus:
        """Read the ``stimulus`` argument of :func:`sourced_neuron.simulate`.

        Accepted: ``None``; a constant current (``"10 pA"``, a ``quantities`` or Brian2
        quantity, or a sequence with one value per neuron); a step
        ``{"start": ..., "stop": ..., "amplitude": ...}``; a ``neo.AnalogSignal`` of
        current; or ``{"samples": array of currents, "sampling_period": "0.1 ms"}``.

        Raises
        ------
        InputError, UnitError
            Anything else, with the offending key or value named.
        """
        if stimulus is None:
            return cls("none")
        if isinstance(stimulus, neo.AnalogSignal):
            return cls._from_signal(stimulus, n_neurons)
        if isinstance(stimulus, Mapping):
            keys = set(stimulus)
            if keys <= set(_STEP_KEYS) and "amplitude" in keys:
                return cls._step(stimulus, n_neurons)
            if keys == set(_SAMPLED_KEYS):
                samples = as_quantity(stimulus["samples"], "stimulus samples", AMP)
                period = as_quantity(stimulus["sampling_period"], "stimulus sampling_period", SECOND)
                return cls._sampled(samples, period, n_neurons)
            raise InputError(
                f"stimulus mapping with keys {sorted(map(str, keys))}: use {{'start', 'stop', 'amplitude'}} for a step "
                "or {'samples', 'sampling_period'} for a sampled current"
            )
        amplitude = as_quantity(stimulus, "stimulus", AMP)
        return cls("constant", _per_neuron(amplitude, n_neurons, "stimulus"))

    @classmethod
    def _step(cls, spec: Mapping, n_neurons: int) -> Stimulus:
        amplitude = _per_neuron(
            as_quantity(spec["amplitude"], "stimulus amplitude", AMP), n_neurons, "stimulus amplitude"
        )
        start = as_quantity(spec.get("start", "0 ms"), "stimulus start", SECOND)
        stop = as_quantity(spec["stop"], "stimulus stop", SECOND) if "stop" in spec else None
        if float(start) < 0 or (stop is not None and float(stop) <= float(start)):
            raise InputError(f"stimulus step needs 0 <= start < stop, got start={start}, stop={stop}")
        return cls("step", amplitude, start=start, stop=stop)

    @classmethod
    def _from_signal(cls, signal: neo.AnalogSignal, n_neurons: int) -> Stimulus:
        samples = as_quantity(signal, "stimulus signal", AMP)
        period = as_quantity(signal.sampling_period, "stimulus sampling period", SECOND)
        t_start = float(signal.t_start.rescale(pq.s).magnitude)
        if t_start < 0:
            raise InputError(f"stimulus signal starts at {signal.t_start}, before the simulation")
        offset = round(t_start / float(period))
        if abs(offset * float(period) - t_start) > 1e-9 * float(period) + 1e-15:
            raise InputError("stimulus signal t_start must be a multiple of its sampling period")
        if offset:
            pad = Quantity(np.zeros((offset, *samples.shape[1:])), dim=samples.dim)
            samples = Quantity(np.concatenate([np.asarray(pad), np.asarray(samples)]), dim=samples.dim)
        if samples.ndim == 2 and samples.shape[1] == 1:
            samples = samples[:, 0]
        return cls._sampled(samples, period, n_neurons)

    @classmethod
    def _sampled(cls, samples, period, n_neurons: int) -> Stimulus:
        if float(period) <= 0:
            raise InputError("stimulus sampling_period must be positive")
        if samples.ndim not in (1, 2) or samples.shape[0] == 0:
            raise InputError(
                f"stimulus samples must have shape (n_samples,) or (n_samples, n_neurons), got {samples.shape}"
            )
        if samples.ndim == 2 and samples.shape[1] != n_neurons:
            raise InputError(f"stimulus samples have {samples.shape[1]} columns but there are {n_neurons} neurons")
        return cls("sampled", samples, sampling_period=period)

    def describe(self) -> str:
        """A short text for annotations, e.g. ``"constant 10 pA"``."""
        if self.kind == "none":
            return "none"
        amp = np.asarray(self.amplitude / Quantity(1e-12, dim=AMP))
        shown = f"{float(amp):g} pA" if amp.ndim == 0 else f"{amp.shape} array in pA"
        if self.kind == "constant":
            return f"constant {shown}"
        if self.kind == "step":
            stop = "end" if self.stop is None else f"{float(self.stop) * 1e3:g} ms"
            return f"step {shown} from {float(self.start) * 1e3:g} ms to {stop}"
        return f"sampled {shown}, period {float(self.sampling_period) * 1e3:g} ms"

    def values_on_grid(self, dt: float, n_steps: int) -> np.ndarray:
        """The current (amps) for each step ``k`` of a simulation with step ``dt`` seconds.

        Returns an array of shape ``(n_steps,)`` or ``(n_steps, n_neurons)``. This is the
        timing rule of the module docstring, for backends that take sampled input.
        """
        times = np.arange(n_steps) * dt
        if self.kind == "none":
            return np.zeros(n_steps)
        amplitude = np.asarray(self.amplitude, dtype=float)
        if self.kind == "constant":
            return np.broadcast_to(amplitude, (n_steps, *amplitude.shape)).copy()
        if self.kind == "step":
            stop = np.inf if self.stop is None else float(self.stop)
            # compare on the step grid, so 100 ms with dt = 0.1 ms is step 1000 exactly
            on = (np.round(times / dt) >= np.round(float(self.start) / dt)) & (
                np.round(times / dt) < np.round(stop / dt)
            )
            return on[:, None] * amplitude if amplitude.ndim else on * amplitude
        # in floating point first: a period far shorter than dt gives indices beyond any integer
        position = np.floor(times / float(self.sampling_period) + 1e-9)
        index = np.minimum(position, amplitude.shape[0]).astype(int)
        inside = index < amplitude.shape[0]
        values = amplitude[np.minimum(index, amplitude.shape[0] - 1)]
        return values * (inside[:, None] if values.ndim == 2 else inside)


def _per_neuron(amplitude, n_neurons: int, what: str):
    if np.ndim(amplitude) == 0:
        return amplitude
    if np.ndim(amplitude) != 1 or np.shape(amplitude)[0] != n_neurons:
        raise InputError(
            f"{what}: give one value, or one value per neuron ({n_neurons}), not shape {np.shape(amplitude)}"
        )
    return amplitude
