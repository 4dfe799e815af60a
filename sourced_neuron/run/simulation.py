"""``sn.simulate``: check a request, run it on a backend, return a Neo block.

The block is built by :mod:`sourced_neuron.results.blocks` from the backend's
:class:`~sourced_neuron.backends.RunResult`, as the block of a network of one population, so
every backend and every kind of run returns the same layout, units and annotations.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import neo
import numpy as np

from sourced_neuron.backends import (
    NetworkSpec,
    SimulationRequest,
    check_backend_grid,
    check_backend_method,
    check_steps,
    get_backend,
)
from sourced_neuron.common.arguments import as_flag, as_names, check_seed
from sourced_neuron.common.errors import InputError, UnsupportedFeatureError, did_you_mean
from sourced_neuron.common.progress import Progress
from sourced_neuron.common.resources import require_memory
from sourced_neuron.results.blocks import simulation_block
from sourced_neuron.spec.library import load_model
from sourced_neuron.spec.model import NeuronModel
from sourced_neuron.spec.parts import INPUT, SECOND
from sourced_neuron.spec.stimulus import Stimulus
from sourced_neuron.spec.units import as_scalar

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
        (:mod:`sourced_neuron.common.progress`).
    check_finite : bool
        Watch every state variable and refuse a run in which one becomes infinite or NaN,
        with a :class:`~sourced_neuron.common.errors.NonFiniteStateError` naming the variable, the
        neuron and the time, the same on every backend (docs/semantics.md). ``False`` returns
        the values as they are (after a non-finite value, backends may differ).

    Returns
    -------
    neo.Block
        The block of a network of one population named after the model
        (:mod:`sourced_neuron.results.blocks`; docs/analysis.md, "The Neo block"): one segment
        with one ``SpikeTrain`` per neuron (ms, annotated ``population`` and ``index``) and one
        ``AnalogSignal`` per recorded variable, named ``"<model>.<variable>"`` (e.g.
        ``"lif.v"``), annotated ``population``, ``variable`` and ``model``, shape
        ``(n_samples, n_neurons)``, values at ``t = k*dt`` before step ``k``. The annotation
        ``structure`` (read it with :func:`sourced_neuron.results.blocks.structure`) describes
        the population; block and segment annotations also name the model, its hash, the
        backend, method, dt, preset, parameters, stimulus, seed and ``n_neurons``.

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
    check_backend_method(capabilities, request.model, backend)
    if request.stimulus.kind not in capabilities.stimuli:
        raise UnsupportedFeatureError(f"backend {backend!r} does not take a {request.stimulus.kind} stimulus")
    check_backend_grid(capabilities, request.dt, backend)
    with Progress(request.n_steps * request.dt, f"{request.model.name} on {backend}", progress) as bar:
        result = engine.run(request, bar)
    if request.check_finite:
        NetworkSpec.single(request).raise_nonfinite({request.model.name: result})
    return simulation_block(request, result, backend, preset)
