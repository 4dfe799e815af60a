"""The state every section of the wrapper works on, and the one place it simulates.

A :class:`NeuronCore` holds two things:

- the **spiking neuron**: a checked :class:`~sourced_neuron.NeuronModel` (parameter changes make
  a new model object), a backend name, a seed, and the input history: how long each input
  current was applied since the last reset. The neuron's state at time ``t`` is the state of one
  continuous simulation of that history on the backend, so refractoriness, adaptation, traces
  and noise carry over exactly.

  Where the backend offers one (:meth:`~sourced_neuron.backends.base.Backend.open_session`;
  ``brian2``), the simulation is **live**: one session per neuron is kept and advanced over the
  input that arrived since the last query (``Integrate`` only records the input; a query such as
  ``GetState`` runs it), so a step costs the same after a second or an hour of simulated time.
  A session is bit-identical however its steps are split: integrating 37 ms then 63 ms is
  integrating 100 ms. The history is simulated again from ``t = 0`` (in a new session) only
  when it must be: after a reset, a change of backend, a restored state (``LoadModel``,
  ``CopyNeu``, whose copy has no session of its own yet) or a non-finite state. A parameter
  change ends the present *epoch* (:meth:`NeuronCore.change_model`) and the next one starts a
  new session from the state reached.

  Backends without a session (``brian2-cpp``, ``brian2-cuda``, ``nest``), and a neuron whose
  :attr:`NeuronCore.live` is False, **replay**: each query after new input simulates the whole
  history of the present epoch with :func:`~sourced_neuron.run.simulation.simulate`, so ``N``
  integration steps take ``N`` runs of growing length; long inputs go in one
  ``Integrate``/``MainLoop`` call there. Both paths keep the limits of a run (steps, memory) and
  refuse a non-finite state with :class:`~sourced_neuron.common.errors.NonFiniteStateError`.
  What they simulated is kept per epoch as a :class:`Recording`.
- the **artificial-neuron side**: an input weight vector, a bias and an activation. The
  weighted sum ``w . (s x) + b`` (``s`` the input scale) is both the artificial neuron's
  pre-activation and, times ``current_scale``, the current injected into the spiking neuron.

Every section of the API keeps its state in instance attributes set when the neuron is made:
each section's :meth:`NeuronCore._setup` (called at the end of ``__init__``) sets its own.

Every public method of a class of this package that derives from :class:`NeuronCore` (each
section of the API) has its arguments checked against its type hints when the user calls it
(:mod:`sourced_neuron.wrapper.arguments`): a wrong argument is an
:class:`~sourced_neuron.common.errors.InputError` naming the method, the argument, what it expects and
what it got. The helpers below (:func:`seconds`, :func:`number`, :func:`finite_vector`, ...) are
the value checks the methods share.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Annotated, Any

import neo
import numpy as np
import quantities as pq

from sourced_neuron.backends import NetworkSpec, check_backend_grid, check_backend_method, get_backend
from sourced_neuron.backends.base import Chunk, Session
from sourced_neuron.common.errors import InputError
from sourced_neuron.run.simulation import prepare, simulate
from sourced_neuron.spec.library import load_model
from sourced_neuron.spec.model import NeuronModel
from sourced_neuron.spec.parts import AMP, SECOND
from sourced_neuron.spec.units import as_quantity, format_quantity, neo_unit, si_to_neo
from sourced_neuron.wrapper.activation_registry import ACTIVATIONS, activation_pair
from sourced_neuron.wrapper.arguments import Duration, Expect, Inputs, WithUnits, check_methods, file_name

#: a neuron's ID (``SetID``, ``name=``): it names the neuron's population in networks and files
NEURON_ID = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,63}$")


def _model_source(value: Any, neuron: Any) -> str | None:
    return file_name(value, neuron) if isinstance(value, str | os.PathLike) else None


#: a model: a NeuronModel, the name of a library model, or a model file
ModelSource = Annotated[
    NeuronModel | str | os.PathLike,
    Expect("a NeuronModel, a library model name such as 'lif', or a model file (a string or a path)"),
    _model_source,
]


def seconds(value: Any, what: str) -> float:
    """A duration (``"10 ms"``, a quantity) in seconds, refused if negative or not finite."""
    result = float(as_quantity(value, what, SECOND))
    if not np.isfinite(result) or result < 0:
        raise InputError(f"{what} must be a non-negative duration, got {value!r}")
    return result


def amps(value: Any, what: str) -> float:
    result = float(as_quantity(value, what, AMP))
    if not np.isfinite(result):
        raise InputError(f"{what} must be a finite current, got {value!r}")
    return result


def number(
    value: Any,
    what: str,
    low: float | None = None,
    high: float | None = None,
    open_low: bool = False,
    open_high: bool = False,
) -> float:
    """One finite number (not a bool), refused outside ``[low, high]`` (``open_low`` /
    ``open_high``: the bound itself is refused too), with a message naming ``what``."""
    if isinstance(value, bool):
        raise InputError(f"{what} must be a number, got {value!r}")
    try:
        result = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{what} must be a number, got {value!r}") from None
    if not np.isfinite(result):
        raise InputError(f"{what} must be finite, got {value!r}")
    if low is not None and (result <= low if open_low else result < low):
        raise InputError(f"{what} must be {'>' if open_low else '>='} {low:g}, got {value!r}")
    if high is not None and (result >= high if open_high else result > high):
        raise InputError(f"{what} must be {'<' if open_high else '<='} {high:g}, got {value!r}")
    return result


def numbers(values: Any, what: str) -> np.ndarray:
    """``values`` as a float array of any shape, refused (naming ``what``) when it is a bool,
    not numeric or not finite."""
    if isinstance(values, bool):
        raise InputError(f"{what} must be numbers, got {values!r}")
    try:
        array = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise InputError(f"{what} must be numbers, got {values!r}") from None
    if not np.all(np.isfinite(array)):
        raise InputError(f"{what} must be finite, got {values!r}")
    return array


def finite_vector(values: Any, what: str, size: int | None = None) -> np.ndarray:
    """``values`` as a 1-d float array, refused when not numeric, not finite or of another size."""
    array = np.atleast_1d(numbers(values, what))
    if array.ndim != 1:
        raise InputError(f"{what} must be one vector, got shape {array.shape}")
    if size is not None and len(array) != size:
        raise InputError(f"{what} must have {size} values (one per input), got {len(array)}")
    return array


@dataclass
class History:
    """The input of the spiking neuron in the present epoch: ``steps[k]`` time steps of
    ``currents[k]`` amps, in order; ``in_flight``: input that arrived in the previous epoch and
    acts in the first steps of this one (a synaptic delay)."""

    steps: list[int] = field(default_factory=list)
    currents: list[float] = field(default_factory=list)
    in_flight: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @property
    def n_steps(self) -> int:
        return int(sum(self.steps))

    def arrived(self) -> np.ndarray:
        """The current that arrived in each step of the epoch (amps), before any delay."""
        return np.repeat(np.asarray(self.currents, dtype=float), np.asarray(self.steps, dtype=int))

    def on_grid(self, delay_steps: int, n: int) -> np.ndarray:
        """The current acting in each of ``n`` steps (amps): the arrivals ``delay_steps`` later."""
        head = self.in_flight if len(self.in_flight) == delay_steps else np.zeros(delay_steps)
        grid = np.concatenate([head, self.arrived()])
        return np.pad(grid, (0, max(0, n - len(grid))))[:n]

    def acting(self, delay_steps: int, start: int, stop: int) -> np.ndarray:
        """``on_grid(delay_steps, stop)[start:]``, in time proportional to the steps asked for
        (the history is walked from its end), not to the length of the history."""
        out = np.zeros(max(0, stop - start))
        if start < delay_steps and len(out):
            head = self.in_flight if len(self.in_flight) == delay_steps else np.zeros(delay_steps)
            upto = min(stop, delay_steps)
            out[: upto - start] = head[start:upto]
        low, high = max(start, delay_steps) - delay_steps, stop - delay_steps  # arrivals acting in the range
        end = self.n_steps
        for steps, current in zip(reversed(self.steps), reversed(self.currents), strict=True):
            if end <= low:
                break
            begin = end - steps
            a, b = max(begin, low), min(end, high)
            if a < b:
                out[a + delay_steps - start : b + delay_steps - start] = current
            end = begin
        return out


class Buffer:
    """A 1-d float array that grows at its end in amortised constant time (its capacity doubles)."""

    def __init__(self) -> None:
        self._data = np.zeros(0)
        self.size = 0

    def extend(self, values: np.ndarray) -> None:
        values = np.asarray(values, dtype=float).ravel()
        needed = self.size + len(values)
        if needed > len(self._data):
            grown = np.zeros(max(needed, 2 * len(self._data), 64))
            grown[: self.size] = self._data[: self.size]
            self._data = grown
        self._data[self.size : needed] = values
        self.size = needed

    @property
    def values(self) -> np.ndarray:
        """The values so far (a view: writing into it writes into the buffer)."""
        return self._data[: self.size]


class Recording:
    """What the simulation of one epoch produced so far, as a Neo block of it would hold it.

    Attributes
    ----------
    units : dict
        State variable -> the unit its values are in (its Neo display unit, e.g. mV).
    n_steps : int
        The steps simulated.
    dt : float
        The time step (s).
    spikes : Buffer
        Spike times (s since the epoch began) of the steps simulated: ``k * dt`` for a spike
        found in step ``k`` (docs/semantics.md), whatever the backend's rounding.
    samples : dict
        State variable -> :class:`Buffer` of its values at the start of each step.
    now : dict
        State variable -> its value after the last step (the state at the epoch's end so far).
    """

    def __init__(self, units: Mapping[str, Any], dt: float):
        self.units = dict(units)
        self.dt = dt
        self.n_steps = 0
        self.spikes = Buffer()
        self.samples = {name: Buffer() for name in self.units}
        self.now: dict[str, float] = {}

    @classmethod
    def of_block(cls, block: neo.Block, n_steps: int, dt: float) -> Recording:
        """The recording of a replay: ``block`` ran ``n_steps + 1`` steps, so its sample
        ``n_steps`` is the state after the first ``n_steps``; the last step's spikes are left out."""
        segment = block.segments[0]
        signals = {signal.annotations["variable"]: signal for signal in segment.analogsignals}
        record = cls({name: signal.units for name, signal in signals.items()}, dt)
        steps = np.round(segment.spiketrains[0].rescale(pq.s).magnitude / dt)
        record.spikes.extend(steps[steps < n_steps] * dt)
        for name, signal in signals.items():
            values = np.asarray(signal.magnitude[:, 0], dtype=float)
            record.samples[name].extend(values[:n_steps])
            record.now[name] = float(values[n_steps])
        record.n_steps = n_steps
        return record

    def extend(self, chunk: Chunk, state: Mapping[str, np.ndarray], dimensions: Mapping[str, Any]) -> None:
        """Add a session's chunk (SI; neuron 0) and the state after it, starting at :attr:`n_steps`."""
        self.spikes.extend(np.round(chunk.spike_times / self.dt) * self.dt)
        for name in self.units:
            self.samples[name].extend(si_to_neo(chunk.signals[name][:, 0], dimensions[name]).magnitude)
            self.now[name] = float(si_to_neo(state[name][0], dimensions[name]).magnitude)
        self.n_steps += chunk.n_steps

    def state(self) -> dict[str, pq.Quantity]:
        """Every state variable's value after the last step, with its unit."""
        return {name: value * self.units[name] for name, value in self.now.items()}

    def trace(self, name: str, last: bool) -> np.ndarray:
        """The samples of ``name`` (one per step); ``last``: with the value after the last step."""
        values = self.samples[name].values
        return np.append(values, self.now[name]) if last else values


@dataclass(frozen=True)
class Epoch:
    """A finished stretch of simulation (between changes of the model): its recording, of
    ``n_steps`` steps, and when it started (s)."""

    recording: Recording
    n_steps: int
    start: float
    dt: float


class _Live:
    """The live session of a neuron. A copy of the neuron (``CopyNeu``) gets none: the session
    is the simulator's, it cannot be copied, and the copy opens its own when it needs one."""

    def __init__(self) -> None:
        self.session: Session | None = None

    def close(self) -> None:
        if self.session is not None:
            self.session.close()
            self.session = None

    def __deepcopy__(self, memo: dict) -> _Live:
        return _Live()

    def __reduce__(self) -> tuple:
        return (_Live, ())


#: backends whose simulations can run in single precision (Brian2's ``core.default_float_dtype``)
FLOAT32_BACKENDS = ("brian2",)


@contextmanager
def _precision(backend: str, dtype: np.dtype) -> Iterator[None]:
    """Run a simulation in ``dtype``: float64 everywhere, float32 on :data:`FLOAT32_BACKENDS`."""
    if dtype == np.float64:
        yield
        return
    if backend not in FLOAT32_BACKENDS:
        runs = ", ".join(FLOAT32_BACKENDS)
        raise InputError(f"backend {backend!r} simulates in float64 only; float32 runs on {runs}")
    from brian2 import prefs

    before = prefs.core.default_float_dtype
    prefs.core.default_float_dtype = np.float32
    try:
        yield
    finally:
        prefs.core.default_float_dtype = before


class NeuronCore:
    """State shared by every section of :class:`~sourced_neuron.SourcedNeuron` (see the
    module docstring)."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Check the arguments of the public methods of each section of the API (the classes
        of this package; a user's subclass keeps its methods as written)."""
        super().__init_subclass__(**kwargs)
        if cls.__module__.startswith(f"{__package__}."):
            check_methods(cls)

    def __init__(
        self,
        model: ModelSource = "lif",
        backend: str = "brian2",
        n_inputs: int = 2,
        preset: str | None = None,
        params: Mapping[str, WithUnits] | None = None,
        activation: str = "sigmoid",
        current_scale: WithUnits = "100 pA",
        seed: int | None = 0,
        name: str | None = None,
    ):
        if n_inputs < 1:
            raise InputError(f"n_inputs must be a positive integer, got {n_inputs!r}")
        if seed is not None and seed < 0:
            raise InputError(f"seed must be a non-negative integer or None, got {seed!r}")
        if name is not None and not NEURON_ID.match(name):
            raise InputError(
                f"name (the neuron's ID) must be 1-64 letters, digits, '_', '.' or '-' starting with a letter or "
                f"'_', got {name!r}"
            )
        self.model: NeuronModel = load_model(model).with_preset(preset).with_parameters(dict(params or {}))
        self.initial = self.model.initial  # the initial values a reset returns to
        self.preset = preset
        self.backend = backend
        self.seed = seed
        self.id = name or f"{self.model.name}-{uuid.uuid4().hex[:8]}"
        self.rng = np.random.default_rng(seed)
        self.dtype = np.dtype(np.float64)
        self.closed = False  # set by Shutdown: no more integration
        # the artificial-neuron side
        self.weights = np.zeros(int(n_inputs), dtype=self.dtype)
        self.bias = 0.0
        activation_pair(activation)  # refuses an unknown name
        self.activation = activation
        self.input_scale = 1.0
        self.activation_shift = 0.0
        self.inputs = np.zeros(int(n_inputs), dtype=self.dtype)
        self._input_since = 0.0  # s: when the present input arrived (pulses last PulseWidth from there)
        self.input_mean: np.ndarray | None = None  # set by NormBatch
        self.input_std: np.ndarray | None = None
        self.dropout = 0.0  # probability, set by DropOut
        # the spiking side
        self.current_scale = amps(current_scale, "current_scale")
        self.pulse_length = 0.0  # s; 0: an input acts until the next one
        self.delay = 0.0  # s, between an input's arrival and its effect (SynapticDelay)
        self.simulation_dtype = np.dtype(np.float64)  # SetPrecision(..., part="simulation")
        #: keep a live simulation where the backend has sessions (False: replay from t = 0 at each query)
        self.live = True
        self.history = History()
        self.epochs: list[Epoch] = []  # finished epochs, in order
        self._record: Recording | None = None  # what the present epoch's simulation produced so far
        self._simulated: tuple = ()  # what _record simulated: model, backend, seed, precision, delay, live
        self._live = _Live()
        self._delivered = 0  # spikes already transmitted by FireImpulse
        self._setup()

    def _setup(self) -> None:
        """Set the state of a section of the API: each section that has some overrides this,
        calls ``super()._setup()`` and sets its own attributes (called at the end of ``__init__``)."""

    # --- hooks other sections provide -----------------------------------------------------------

    def _weights_changed(self) -> None:
        """The weights changed (the lifecycle section tells the weight listeners)."""

    def _weight_peers(self) -> list[NeuronCore]:
        """This neuron and those sharing its weight array (the performance section's ``SharedMem``)."""
        return [self]

    # --- time -----------------------------------------------------------------------------------

    @property
    def dt(self) -> float:
        """The model's time step (s)."""
        return float(self.model.numerics.dt.quantity)

    @property
    def epoch_start(self) -> float:
        """When the present epoch began (s since the last reset)."""
        return self.epochs[-1].start + self.epochs[-1].n_steps * self.epochs[-1].dt if self.epochs else 0.0

    @property
    def t(self) -> float:
        """Simulated time since the last reset (s)."""
        return self.epoch_start + self.history.n_steps * self.dt

    def steps_of(self, duration: Duration, what: str) -> int:
        """A duration as a whole number of time steps (refused if it is not one)."""
        value = seconds(duration, what)
        steps = round(value / self.dt)
        if abs(steps * self.dt - value) > 1e-9 * max(value, self.dt):
            raise InputError(f"{what} = {value * 1e3:g} ms is not a whole number of time steps of {self.dt * 1e3:g} ms")
        return int(steps)

    # --- the artificial-neuron side ---------------------------------------------------------

    def prepared(self, x: Inputs) -> np.ndarray:
        """Inputs as the weights see them: scaled by ``input_scale`` and, after ``NormBatch``,
        standardised with the batch's mean and standard deviation. ``x``: one vector
        ``(n_inputs,)`` or a batch ``(n, n_inputs)``."""
        x = np.asarray(x, dtype=self.dtype) * self.input_scale
        if self.input_mean is not None:
            x = (x - self.input_mean) / self.input_std
        return x

    def weighted_sum(self, x: Inputs | None = None) -> np.ndarray | float:
        """``w . x' + b`` for the present input (``x`` None) or for ``x`` (a vector or a batch)."""
        x = self.inputs if x is None else x
        z = self.prepared(x) @ self.weights + self.bias
        return float(z) if np.ndim(z) == 0 else z

    def output(self, x: Inputs | None = None, training: bool = False) -> np.ndarray | float:
        """The artificial neuron's output ``f(z - shift)`` (``f`` the activation, ``shift`` set by
        ``BiasShift``). With ``training`` and a dropout probability ``p`` (``DropOut``), the
        output is zero with probability ``p`` and scaled by ``1/(1 - p)`` otherwise (inverted
        dropout), per sample."""
        z = np.asarray(self.weighted_sum(x)) - self.activation_shift
        y = ACTIVATIONS[self.activation][0](z)
        if training and self.dropout > 0:
            keep = self.rng.random(np.shape(y)) >= self.dropout
            y = np.where(keep, y / (1 - self.dropout), 0.0)
        return float(y) if np.ndim(y) == 0 else y

    def drive(self) -> float:
        """The current (A) the present input injects: ``current_scale`` times the weighted sum."""
        return self.current_scale * float(self.weighted_sum())

    # --- the simulation -------------------------------------------------------------------------

    def _advance(self, steps: int, current: float) -> None:
        """Append ``steps`` steps of ``current`` to the history (the simulation catches up when
        the state is next asked for). The same current as the last entry's extends it."""
        if steps <= 0:
            return
        history = self.history
        if history.currents and history.currents[-1] == float(current):
            history.steps[-1] += int(steps)
        else:
            history.steps.append(int(steps))
            history.currents.append(float(current))

    def recording(self) -> Recording:
        """The present epoch's simulation, brought up to ``t``: the live session advanced over
        the input that arrived since the last query, or (without a session) a replay of the
        epoch's whole history."""
        n = self.history.n_steps
        settings = (self.backend, self.seed, self.simulation_dtype, self.delay, self.live)
        if not self._simulated or self._simulated[0] is not self.model or self._simulated[1:] != settings:
            self._invalidate()  # set directly (not through the API): simulated again
        record = self._record
        if record is not None and record.n_steps == n:
            return record
        live = self._live
        if live.session is None or record is None or record.n_steps > n or live.session.n_steps != record.n_steps:
            self._invalidate()  # a new session (or none) starts from the epoch's beginning
            live.session = self._open_session()
            record = None
        try:
            if live.session is None:
                record = self._replayed(n)
            else:
                record = record or Recording(
                    {name: neo_unit(self._dimension(name))[1] for name in self._variables()}, self.dt
                )
                self._run_session(record, n)
        except BaseException:
            self._invalidate()
            raise
        self._record, self._simulated = record, (self.model, *settings)
        return record

    def _variables(self) -> tuple[str, ...]:
        return tuple(self.model.state_variables)

    def _dimension(self, name: str) -> Any:
        return self.model.lookup_dimension(name)

    def _open_session(self) -> Session | None:
        """A live session of the present model on the backend, or None (no sessions there, or
        :attr:`live` is False). The model is checked against the backend as ``simulate`` does."""
        if not self.live:
            return None
        engine = get_backend(self.backend)
        capabilities = engine.capabilities()
        check_backend_method(capabilities, self.model, self.backend)
        check_backend_grid(capabilities, self.dt, self.backend)
        request = prepare(self.model, duration=self.dt * pq.s, record=self._variables(), seed=self.seed)
        with _precision(self.backend, self.simulation_dtype):
            return engine.open_session(request)

    def _run_session(self, record: Recording, n: int) -> None:
        """Advance the session from ``record.n_steps`` to ``n`` steps, adding what it simulated."""
        session = self._live.session
        assert session is not None
        current = self.history.acting(round(self.delay / self.dt), record.n_steps, n)
        with _precision(self.backend, self.simulation_dtype):
            chunk = session.advance(n - record.n_steps, current)
        if chunk.nonfinite is not None:
            request = session.request
            NetworkSpec.single(request).raise_nonfinite({request.model.name: chunk})
        state = session.state()
        record.extend(chunk, state, {name: self._dimension(name) for name in record.units})

    def _replayed(self, n: int) -> Recording:
        """The present epoch simulated from its start with ``simulate`` (no session).

        The run lasts one step longer than the history, so that the state at ``t`` (the value
        before that extra step) is in the recording; the extra step's spikes are dropped.
        """
        current = self.history.on_grid(round(self.delay / self.dt), n + 1)
        with _precision(self.backend, self.simulation_dtype):
            block = self._simulate(n, current, self._variables())
        return Recording.of_block(block, n, self.dt)

    def _simulate(self, n: int, current: np.ndarray, variables: tuple[str, ...]) -> neo.Block:
        return simulate(
            self.model,
            backend=self.backend,
            duration=(n + 1) * self.dt * pq.s,
            stimulus={"samples": pq.Quantity(current, "A"), "sampling_period": self.dt * pq.s}
            if self.model.uses_input
            else None,
            record=variables,
            seed=self.seed,
            progress=False,
        )

    def _invalidate(self) -> None:
        """The next state comes from a new simulation of the present epoch from its start (the
        model, the backend or the timing of the input changed): the session is closed."""
        self._live.close()
        self._record = None

    def change_model(self, model: NeuronModel) -> None:
        """Go on with another model (other parameter values) from the present state.

        A run cannot change parameters midway, so the present epoch ends here: its recording is
        kept, and the new epoch starts from the state at ``t`` (every state variable carries
        over; a refractory period running at this instant ends) with the input still in flight.
        """
        if self.history.n_steps:
            record = self.recording()
            state = record.state()
            delay_steps = round(self.delay / self.dt)
            in_flight = np.concatenate([self.history.in_flight, self.history.arrived()])[-delay_steps:]
            self.epochs.append(Epoch(record, self.history.n_steps, self.epoch_start, self.dt))
            model = model.with_parameters({name: value for name, value in state.items()})
            self.history = History(in_flight=in_flight if delay_steps else np.zeros(0))
        self.model = model
        self._invalidate()

    def forget(self) -> None:
        """Back to ``t = 0`` with the model's initial state (``ResetNeu``)."""
        self.model = replace(self.model, initial=self.initial)
        self.epochs = []
        self.history = History()
        self._delivered = 0
        self._invalidate()

    def _parts(self) -> list[tuple[Recording, int, float]]:
        """(recording, steps, start) of every epoch, the present one last (if it has steps)."""
        parts = [(e.recording, e.n_steps, e.start) for e in self.epochs]
        if self.history.n_steps:
            parts.append((self.recording(), self.history.n_steps, self.epoch_start))
        return parts

    def spike_times(self) -> np.ndarray:
        """Spike times (s since the last reset) of the steps simulated: a spike found in the step
        that starts at ``t`` is not yet in (docs/semantics.md stamps it ``t``)."""
        times = [start + record.spikes.values for record, _, start in self._parts()]
        return np.concatenate(times) if times else np.array([])

    def trace(self, variable: str | None = None) -> neo.AnalogSignal:
        """The trace of a state variable (the membrane potential by default) from 0 to ``t``."""
        name = variable or self.model.membrane_potential or self.model.state_variables[0]
        if name not in self.model.state_variables:
            states = ", ".join(self.model.state_variables)
            raise InputError(f"model {self.model.name!r} has no state variable {name!r}; it has {states}")
        parts = self._parts() or [(self.recording(), 0, 0.0)]
        pieces = [record.trace(name, last=k == len(parts) - 1) for k, (record, _, _) in enumerate(parts)]
        unit = parts[-1][0].units[name]  # an epoch's end is the next's start
        return neo.AnalogSignal(
            np.concatenate(pieces)[:, None], units=unit, sampling_period=self.dt * pq.s, t_start=0 * pq.s, name=name
        ).rescale(unit)

    def state(self) -> dict[str, pq.Quantity]:
        """Every state variable's value at ``t`` (the initial values before any integration)."""
        return self.recording().state()

    def describe(self) -> str:
        return (
            f"{self.id}: {self.model.name} on {self.backend}, {len(self.weights)} inputs, "
            f"t = {self.t * 1e3:g} ms, drive {format_quantity(self.drive() * pq.A)}"
        )


check_methods(NeuronCore)

#: another neuron (an argument of BindTo, Crossover, SharedMem, ...)
Neuron = Annotated[NeuronCore, Expect("a SourcedNeuron")]
