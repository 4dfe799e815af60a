"""What a sweep measures in each parameter set's run: built-in measures and user functions.

Built-in measures (their columns and units):

``spike_count`` (1)
    Spikes in the run.
``rate`` (Hz)
    Spikes per second of simulated time.
``first_spike_latency`` (ms)
    Time of the first spike after the stimulus starts (a step's ``start``, else 0).
``isi_cv`` (1)
    Coefficient of variation of the interspike intervals (needs three spikes).
``mean:<variable>``, ``peak:<variable>`` (the variable's unit)
    Mean and maximum of a recorded variable over the run (``"mean:v"``, ``"peak:w"``).
``resting_potential`` (the membrane potential's unit, mV)
    The membrane potential at the end of the run, when the neuron fired no spike in the last
    10 % of the run and the potential moved by less than 0.1 mV in that time.

Anything else is a function of one set's Neo segment (the segment
:func:`sourced_neuron.simulate` returns for that set) returning a number or a ``quantities``
scalar: a callable, named by its ``__name__``, or a ``(name, callable)`` pair. A measure that
cannot be computed for a set (no spike for a latency, a function that raised) gives NaN and its
reason in the ``reason`` column; the sweep goes on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from sourced_neuron.common.errors import InputError, did_you_mean
from sourced_neuron.spec.units import neo_unit, si_to_neo

__all__ = ["BUILT_IN", "MeasureSpec", "built_in", "display_scale", "named_function", "read_measures"]

#: The built-in measures (``mean:`` and ``peak:`` take a variable's name).
BUILT_IN = ("spike_count", "rate", "first_spike_latency", "isi_cv", "resting_potential", "mean:", "peak:")

#: Columns a sweep writes itself; measures may not take these names.
RESERVED = ("set", "reason")

#: The resting potential must move by less than this over the last tenth of the run (volt).
SETTLED = 1e-4


@dataclass(frozen=True)
class MeasureSpec:
    """One measure: its column, its kind, the variable it reads and its unit."""

    column: str
    kind: str
    variable: str | None = None
    function: Callable | None = None
    unit: str = ""

    @property
    def needs_block(self) -> bool:
        """Whether it needs the set's Neo block (a user function)."""
        return self.function is not None


def read_measures(measures: Any, model, record: Iterable[str] = ()) -> tuple[list[MeasureSpec], tuple[str, ...]]:
    """Check ``measures`` against the model; returns them and the variables to record.

    Raises
    ------
    InputError
        An unknown measure (with the nearest one), a variable the model does not have, a
        spike measure of a model without threshold, or a column named twice.
    """
    if isinstance(measures, str) or callable(measures) or (isinstance(measures, tuple) and named_function(measures)):
        measures = [measures]
    if not isinstance(measures, Iterable) or isinstance(measures, bytes):
        raise InputError(f"measures must be a list of measure names or functions, got {type(measures).__name__}")
    specs: list[MeasureSpec] = []
    recordable = (*model.state_variables, *model.subexpressions, *model.per_neuron_parameters)
    needed = list(record)
    for item in list(measures):
        if isinstance(item, tuple) and named_function(item):
            specs.append(MeasureSpec(item[0], "function", function=item[1]))
            continue
        if callable(item):
            name = getattr(item, "__name__", "")
            if not name or name == "<lambda>":
                raise InputError("a measure function needs a name: give it as ('name', function)")
            specs.append(MeasureSpec(name, "function", function=item))
            continue
        if not isinstance(item, str):
            raise InputError(f"a measure is a name ({', '.join(BUILT_IN)}) or a function, got {item!r}")
        kind, _, variable = item.partition(":")
        if variable or kind in ("mean", "peak"):
            if kind not in ("mean", "peak"):
                raise InputError(f"unknown measure {item!r}: only mean:<variable> and peak:<variable> name a variable")
            if variable not in recordable:
                raise InputError(
                    f"measure {item!r}: model {model.name!r} has no variable {variable!r}"
                    f"{did_you_mean(variable, recordable)}; it has: {', '.join(recordable)}"
                )
            unit = _unit(model, variable)
            specs.append(MeasureSpec(f"{kind}_{variable}", kind, variable, unit=unit))
            needed.append(variable)
            continue
        if kind not in BUILT_IN:
            raise InputError(f"unknown measure {item!r}{did_you_mean(item, BUILT_IN)}; measures: {', '.join(BUILT_IN)}")
        if kind in ("spike_count", "rate", "first_spike_latency", "isi_cv") and model.threshold is None:
            raise InputError(f"measure {item!r}: model {model.name!r} has no threshold, so it never spikes")
        if kind == "resting_potential":
            v = model.membrane_potential
            if v is None:
                raise InputError(f"measure 'resting_potential': model {model.name!r} has no membrane potential")
            needed.append(v)
            specs.append(MeasureSpec(kind, kind, v, unit=_unit(model, v)))
            continue
        unit = {"rate": "Hz", "first_spike_latency": "ms"}.get(kind, "")
        specs.append(MeasureSpec(kind, kind, unit=unit))
    columns = [s.column for s in specs]
    if not specs:
        raise InputError("measures is empty: name at least one measure")
    for column in columns:
        if columns.count(column) > 1 or column in RESERVED or not isinstance(column, str) or not column:
            raise InputError(f"measure column {column!r} is named twice, empty or reserved ({', '.join(RESERVED)})")
    return specs, tuple(dict.fromkeys(needed))


def named_function(item: tuple) -> bool:
    """Whether ``item`` is a ``(name, function)`` measure."""
    return len(item) == 2 and isinstance(item[0], str) and callable(item[1])


def _unit(model, variable: str) -> str:
    name, _ = neo_unit(model.lookup_dimension(variable))
    return "" if name == "1" else name


def display_scale(model, variable: str) -> float:
    """The size in SI of the unit a variable is shown in (mV: 1e-3)."""
    return 1.0 / float(np.asarray(si_to_neo(1.0, model.lookup_dimension(variable)).magnitude))


def built_in(spec: MeasureSpec, spikes: np.ndarray, signals: dict[str, np.ndarray], k: int, context: dict) -> float:
    """One built-in measure of set ``k``; raises ``ValueError`` with the reason where it has no value."""
    duration, onset = context["duration"], context["onset"]
    if spec.kind == "spike_count":
        return float(len(spikes))
    if spec.kind == "rate":
        return len(spikes) / duration
    if spec.kind == "first_spike_latency":
        after = spikes[spikes >= onset - 1e-12]
        if not len(after):
            raise ValueError("no spike after the stimulus started")
        return (after[0] - onset) * 1e3
    if spec.kind == "isi_cv":
        if len(spikes) < 3:
            raise ValueError(f"{len(spikes)} spike(s): the ISI CV needs at least 3")
        intervals = np.diff(spikes)
        return float(np.std(intervals) / np.mean(intervals))
    trace = signals[spec.variable][:, k]
    scale = context["scales"][spec.variable]
    if spec.kind == "mean":
        return float(np.mean(trace)) / scale
    if spec.kind == "peak":
        return float(np.max(trace)) / scale
    # resting potential
    tail = max(round(0.1 * len(trace)), 1)
    if np.any(spikes >= duration * 0.9):
        raise ValueError("the neuron fired in the last 10 % of the run: it is not at rest")
    last = trace[-tail:]
    if np.ptp(last) >= SETTLED:
        raise ValueError(f"the potential moved by {np.ptp(last) * 1e3:.3g} mV in the last 10 % of the run")
    return float(trace[-1]) / scale
