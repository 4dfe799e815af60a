"""The state every section of the wrapper works on, and the one place it simulates.

A :class:`NeuronCore` holds two things:

- the **spiking neuron**: a checked :class:`~sourced_neuron.NeuronModel` (parameter changes make
  a new model object), a backend name, a seed, and the input history: how long each input
  current was applied since the last reset. The neuron's state at time ``t`` is the state of one
  simulation of that history on the backend (:meth:`NeuronCore._replay`): the history is
  simulated from the start, so every state is that of one continuous run (refractoriness,
  adaptation and traces carry over exactly), on every backend including standalone and CUDA.
  A run of ``N`` integration steps replays ``N`` times; long inputs go in one
  ``Integrate``/``MainLoop`` call.
- the **artificial-neuron side**: an input weight vector, a bias and an activation. The
  weighted sum ``w . (s x) + b`` (``s`` the input scale) is both the artificial neuron's
  pre-activation and, times ``current_scale``, the current injected into the spiking neuron.

Every public method of a class of this package that derives from :class:`NeuronCore` (each
section of the API) has its arguments checked against its type hints when the user calls it
(:mod:`sourced_neuron.wrapper.arguments`): a wrong argument is an
:class:`~sourced_neuron.errors.InputError` naming the method, the argument, what it expects and
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

from ..errors import InputError
from ..library import load_model
from ..model import AMP, SECOND, NeuronModel
from ..simulation import simulate
from ..units import as_quantity, format_quantity
from .arguments import Duration, Expect, Inputs, WithUnits, check_methods, file_name

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


@dataclass(frozen=True)
class Epoch:
    """A finished stretch of simulation (between changes of the model): its run, cut to
    ``n_steps``, and when it started (s)."""

    block: neo.Block
    n_steps: int
    start: float
    dt: float


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

    simulation_dtype = np.dtype(np.float64)  # SetPrecision(..., part="simulation")

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
        # the artificial-neuron side
        self.weights = np.zeros(int(n_inputs), dtype=self.dtype)
        self.bias = 0.0
        from .activations import activation_pair

        activation_pair(activation)  # refuses an unknown name
        self.activation = activation
        self.input_scale = 1.0
        self.activation_shift = 0.0
        self.inputs = np.zeros(int(n_inputs), dtype=self.dtype)
        self.input_mean: np.ndarray | None = None  # set by NormBatch
        self.input_std: np.ndarray | None = None
        self.dropout = 0.0  # probability, set by DropOut
        # the spiking side
        self.current_scale = amps(current_scale, "current_scale")
        self.pulse_length = 0.0  # s; 0: an input acts until the next one
        self.delay = 0.0  # s, between an input's arrival and its effect (SynapticDelay)
        self.history = History()
        self.epochs: list[Epoch] = []  # finished epochs, in order
        self._block: neo.Block | None = None
        self._replayed_steps = -1
        self._delivered = 0  # spikes already transmitted by FireImpulse

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
        from .activations import ACTIVATIONS

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
        """Append ``steps`` steps of ``current`` to the history (the state changes lazily)."""
        if steps > 0:
            self.history.steps.append(int(steps))
            self.history.currents.append(float(current))

    def _replay(self) -> neo.Block:
        """The simulation of the whole history on the backend (cached until the history changes).

        The run lasts one step longer than the history, so that the state at ``t`` (the value
        before that extra step) is in the recording; the extra step's spikes are dropped.
        """
        n = self.history.n_steps
        if self._block is not None and self._replayed_steps == n:
            return self._block
        delay_steps = round(self.delay / self.dt)
        current = self.history.on_grid(delay_steps, n + 1)
        variables = tuple(self.model.state_variables)
        with _precision(self.backend, self.simulation_dtype):
            self._block = self._simulate(n, current, variables)
        self._replayed_steps = n
        return self._block

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
        """The next state comes from a new replay (the timing of the input changed)."""
        self._block = None

    def change_model(self, model: NeuronModel) -> None:
        """Go on with another model (other parameter values) from the present state.

        A run cannot change parameters midway, so the present epoch ends here: its run is kept,
        and the new epoch starts from the state at ``t`` (every state variable carries over;
        a refractory period running at this instant ends) with the input still in flight.
        """
        if self.history.n_steps:
            block = self._replay()
            state = self.state()
            delay_steps = round(self.delay / self.dt)
            in_flight = np.concatenate([self.history.in_flight, self.history.arrived()])[-delay_steps:]
            self.epochs.append(Epoch(block, self.history.n_steps, self.epoch_start, self.dt))
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

    def _parts(self) -> list[tuple[neo.Block, int, float]]:
        """(run, steps, start) of every epoch, the present one last (if it has steps)."""
        parts = [(e.block, e.n_steps, e.start) for e in self.epochs]
        if self.history.n_steps:
            parts.append((self._replay(), self.history.n_steps, self.epoch_start))
        return parts

    def spike_times(self) -> np.ndarray:
        """Spike times (s) since the last reset."""
        times = []
        for block, n, start in self._parts():
            train = block.segments[0].spiketrains[0].rescale(pq.s).magnitude
            times.append(start + train[train <= n * self.dt * (1 + 1e-12)])
        return np.concatenate(times) if times else np.array([])

    def trace(self, variable: str | None = None) -> neo.AnalogSignal:
        """The trace of a state variable (the membrane potential by default) from 0 to ``t``."""
        name = variable or self.model.membrane_potential or self.model.state_variables[0]
        if name not in self.model.state_variables:
            states = ", ".join(self.model.state_variables)
            raise InputError(f"model {self.model.name!r} has no state variable {name!r}; it has {states}")
        parts = self._parts() or [(self._replay(), 0, 0.0)]
        pieces = []
        for k, (block, n, _) in enumerate(parts):
            signal = next(sig for sig in block.segments[0].analogsignals if sig.name == name)
            last = k == len(parts) - 1
            pieces.append(signal.magnitude[: n + 1 if last else n, 0])  # an epoch's end is the next's start
            unit = signal.units
        return neo.AnalogSignal(
            np.concatenate(pieces)[:, None], units=unit, sampling_period=self.dt * pq.s, t_start=0 * pq.s, name=name
        ).rescale(unit)

    def state(self) -> dict[str, pq.Quantity]:
        """Every state variable's value at ``t`` (the initial values before any integration)."""
        block = self._replay()
        return {sig.name: sig[self.history.n_steps, 0] for sig in block.segments[0].analogsignals}

    def describe(self) -> str:
        return (
            f"{self.id}: {self.model.name} on {self.backend}, {len(self.weights)} inputs, "
            f"t = {self.t * 1e3:g} ms, drive {format_quantity(self.drive() * pq.A)}"
        )


check_methods(NeuronCore)

#: another neuron (an argument of BindTo, Crossover, SharedMem, ...)
Neuron = Annotated[NeuronCore, Expect("a SourcedNeuron")]
