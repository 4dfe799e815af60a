"""``sn.simulate``: check a request, run it on a backend, return a Neo block.

The block is built here, once, from the backend's :class:`~.backends.RunResult`, so every
backend returns the same structure, units and annotations.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import neo
import numpy as np
import quantities as pq
from neo.core.spiketrainlist import SpikeTrainList

from .arguments import as_flag, as_names, check_seed
from .backends import (
    NetworkSpec,
    RunResult,
    SimulationRequest,
    check_backend_grid,
    check_steps,
    get_backend,
)
from .errors import InputError, UnsupportedFeatureError, did_you_mean
from .library import load_model
from .model import INPUT, SECOND, NeuronModel
from .progress import Progress
from .resources import require_memory
from .stimulus import Stimulus
from .units import as_scalar, format_quantity, si_to_neo

__all__ = ["prepare", "simulate"]

MAX_NEURONS = 10_000_000


def prepare(
    model: NeuronModel | str | Path,
    duration: Any = "1 s",
    preset: str | None = None,
    params: Mapping[str, Any] | None = None,
    stimulus: Any = None,
    n_neurons: int = 1,
    record: Iterable[str] | str | None = ("v",),
    dt: Any = None,
    seed: int | None = None,
    check_finite: bool = True,
) -> SimulationRequest:
    """Check the arguments of :func:`simulate` and return the backend-independent request."""
    if preset is not None and not isinstance(preset, str):
        raise InputError(f"preset must be a preset's name (a string), got {type(preset).__name__} {preset!r}")
    if params is not None and (not isinstance(params, Mapping) or not all(isinstance(k, str) for k in params)):
        raise InputError(f"params must be a mapping of parameter name to value, got {type(params).__name__}")
    model = load_model(model).with_preset(preset).with_parameters(dict(params or {}))
    if dt is not None:
        model = model.with_numerics(dt=dt)
    duration_s = float(as_scalar(duration, "duration", SECOND))
    if duration_s <= 0:
        raise InputError(f"duration must be positive, got {duration!r}")
    if isinstance(n_neurons, bool) or not isinstance(n_neurons, int | np.integer) or not 1 <= n_neurons <= MAX_NEURONS:
        raise InputError(f"n_neurons must be an integer from 1 to {MAX_NEURONS}, got {n_neurons!r}")
    record = as_names(record, "record")
    recordable = model.state_variables + model.subexpressions + model.per_neuron_parameters
    recordable += (INPUT,) if model.uses_input else ()
    for name in record:
        if name not in recordable:
            raise InputError(
                f"cannot record {name!r} from model {model.name!r}{did_you_mean(name, recordable)}; "
                f"recordable: {', '.join(recordable)}"
            )
    if len(set(record)) != len(record):
        raise InputError(f"record names a variable twice: {record}")
    check_seed(seed)
    stim = Stimulus.from_user(stimulus, int(n_neurons))
    if stim.kind != "none" and not model.uses_input:
        raise InputError(f"model {model.name!r} does not read {INPUT}, so it cannot take a stimulus")
    as_flag(check_finite, "check_finite")
    n_steps = check_steps(duration_s, model.numerics.dt.magnitude, f"duration {duration!r}")
    samples = (n_steps + 1) * int(n_neurons) * len(record)
    require_memory(
        24.0 * samples,  # the simulator's monitor, the result's copy and the Neo signal, float64 each
        f"recording {', '.join(record)} of {n_neurons} neuron(s) for {n_steps:,} steps",
        "record fewer variables or neurons, or simulate a shorter time",
    )
    return SimulationRequest(
        model, duration_s, int(n_neurons), stim, record, None if seed is None else int(seed), check_finite
    )


def simulate(
    model: NeuronModel | str | Path,
    backend: str = "brian2",
    duration: Any = "1 s",
    preset: str | None = None,
    params: Mapping[str, Any] | None = None,
    stimulus: Any = None,
    n_neurons: int = 1,
    record: Iterable[str] | str | None = ("v",),
    dt: Any = None,
    seed: int | None = None,
    progress: bool | None = None,
    check_finite: bool = True,
) -> neo.Block:
    """Simulate ``n_neurons`` unconnected copies of a model and return the result as Neo.

    Parameters
    ----------
    model : NeuronModel, str or path
        A model, a library model name (``"izhikevich"``) or a model file.
    backend : str
        ``"brian2"`` (the default); see :func:`sourced_neuron.backend_status`.
    duration : str or quantity
        Simulated time, e.g. ``"1 s"``; rounded to a whole number of time steps.
    preset : str, optional
        A preset of the model, applied before ``params``.
    params : mapping, optional
        Parameter values (or initial values of state variables) to override.
    stimulus : optional
        The injected current ``I_ext``: a constant (``"10 pA"``, or one value per
        neuron), a step ``{"start": "100 ms", "stop": "600 ms", "amplitude": "0.5 nA"}``,
        a ``neo.AnalogSignal``, or ``{"samples": ..., "sampling_period": ...}``.
    n_neurons : int
        Number of neurons.
    record : sequence of str
        Variables to record every time step.
    dt : str or quantity, optional
        Overrides the model's ``numerics.dt``.
    seed : int, optional
        Seed of the random number generators.
    progress : bool, optional
        Show a progress bar of simulated time: by default only on a terminal
        (:mod:`sourced_neuron.progress`).
    check_finite : bool
        Watch every state variable and refuse a run in which one becomes infinite or NaN,
        with a :class:`~sourced_neuron.errors.NonFiniteStateError` naming the variable, the
        neuron and the time, the same on every backend (docs/semantics.md). ``False`` returns
        the values as they are (after a non-finite value, backends may differ).

    Returns
    -------
    neo.Block
        One segment with one ``SpikeTrain`` per neuron (ms) and one ``AnalogSignal`` per
        recorded variable (shape ``(n_samples, n_neurons)``, values at ``t = k*dt`` before
        step ``k``). Block and segment annotations name the model, its hash, the backend,
        method, dt, parameters, stimulus and seed.

    Raises
    ------
    InputError, UnitError
        Bad arguments (the message names the argument and, for units, both units).
    BackendUnavailableError
        The backend is unknown, not implemented or not installed.
    UnsupportedFeatureError
        The backend cannot honour the model's numerical method or the stimulus.
    NonFiniteStateError
        A state variable became infinite or NaN (with ``check_finite``).
    SimulationError
        The simulator failed.
    """
    request = prepare(model, duration, preset, params, stimulus, n_neurons, record, dt, seed, check_finite)
    engine = get_backend(backend)
    capabilities = engine.capabilities()
    method = request.model.numerics.method
    if method not in capabilities.methods:
        raise UnsupportedFeatureError(
            f"backend {backend!r} cannot integrate model {request.model.name!r} with method {method!r} here "
            f"(it can: {', '.join(sorted(capabilities.methods))})"
            + (
                "; rkf45 on brian2 needs the Cython target and GSL (apt-get install libgsl-dev)"
                if method == "rkf45" and backend == "brian2"
                else ""
            )
        )
    if request.stimulus.kind not in capabilities.stimuli:
        raise UnsupportedFeatureError(f"backend {backend!r} does not take a {request.stimulus.kind} stimulus")
    check_backend_grid(capabilities, request.dt, backend)
    with Progress(request.n_steps * request.dt, f"{request.model.name} on {backend}", progress) as bar:
        result = engine.run(request, bar)
    if request.check_finite:
        NetworkSpec.single(request).raise_nonfinite({request.model.name: result})
    return build_block(request, result, backend, preset)


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def build_block(request: SimulationRequest, result: RunResult, backend: str, preset: str | None = None) -> neo.Block:
    """The Neo block of a run (the same structure for every backend)."""
    model = request.model
    dt_ms = request.dt * 1e3
    t_stop = request.n_steps * dt_ms * pq.ms
    annotations = {
        "model": model.name,
        "model_hash": model.content_hash,
        "backend": backend,
        "method": model.numerics.method,
        "dt": dt_ms * pq.ms,
        # lists of "name = value" strings: Neo's NIX IO keeps lists of strings, not mappings
        "parameters": [f"{name} = {format_quantity(value)}" for name, value in model.parameter_values().items()],
        "initial": [f"{name} = {format_quantity(value)}" for name, value in model.initial_values().items()],
        "preset": preset or "",
        "stimulus": request.stimulus.describe(),
        "n_neurons": request.n_neurons,
        "seed": -1 if request.seed is None else request.seed,
        "sourced_neuron_version": _version("sourced-neuron"),
        **{key: str(value) for key, value in result.info.items()},
    }
    block = neo.Block(name=f"{model.name} on {backend}", **annotations)
    segment = neo.Segment(name=f"{model.name} on {backend}", **annotations)
    block.segments.append(segment)
    # Neo's multiplexed spike-train list: SpikeTrain objects are made when first accessed
    # (``segment.spiketrains.multiplexed`` gives all spikes without making them)
    n = request.n_neurons
    segment.spiketrains = SpikeTrainList.from_spike_time_array(
        np.asarray(result.spike_times, dtype=float) * 1e3,
        np.asarray(result.spike_indices, dtype=int),
        np.arange(n),
        t_stop=t_stop,
        units=pq.ms,
        t_start=0 * pq.ms,
        population=model.name,
        index=np.arange(n),
    )
    segment.spiketrains.segment = segment
    for name in request.record:
        values = si_to_neo(result.signals[name], model.lookup_dimension(name))
        signal = neo.AnalogSignal(
            values,
            sampling_period=dt_ms * pq.ms,
            t_start=0 * pq.ms,
            name=name,
            variable=name,
            population=model.name,
        )
        signal.array_annotate(index=np.arange(request.n_neurons))
        segment.analogsignals.append(signal)
    return block
