"""Data persistence and I/O: saving and loading a neuron, recording its activity, streamed
input, weight listeners, hidden state, JSON and CSV, and an audit of its signal flow.

A saved neuron is one JSON file (:data:`FORMAT_VERSION`): the model as YAML text (read back
with the model checker, never executed), the artificial neuron's arrays and settings, the input
history of the present epoch (so the state at ``t`` is reproduced exactly), the random
generator's state and the learning state. Values are in SI units (amps, seconds).
"""

from __future__ import annotations

import csv
import functools
import io
import json
import types
from collections import deque
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import neo
import numpy as np
import quantities as pq
import yaml

from sourced_neuron.common.errors import InputError, ModelError
from sourced_neuron.common.files import as_path, read_text, write_text
from sourced_neuron.common.version import VERSION
from sourced_neuron.spec.model import NeuronModel
from sourced_neuron.wrapper.activation_registry import ACTIVATIONS, activation_pair
from sourced_neuron.wrapper.arguments import Duration, Inputs, PathLike, Vector, checked, user_code
from sourced_neuron.wrapper.core import NEURON_ID, History, NeuronCore, finite_vector

#: version of the saved-neuron file layout; files of another version are refused
FORMAT_VERSION = 1
FORMAT_NAME = "sourced_neuron.SourcedNeuron"
#: The largest saved neuron LoadModel reads (its input history grows with the simulated time).
SAVED_LIMIT = 200_000_000
#: The largest CSV file of weights ImportCSV reads.
CSV_LIMIT = 100_000_000

#: learning settings saved when the neuron has them: (attribute, key in the file)
LEARNING_FIELDS = (
    ("learning_rate", "learning_rate"),
    ("_lr0", "initial_learning_rate"),
    ("optimizer", "optimizer"),
    ("_opt_state", "optimizer_state"),
    ("loss_name", "loss"),
    ("huber_delta", "huber_delta"),
    ("l1", "l1"),
    ("l2", "l2"),
    ("clip_value", "clip_value"),
    ("clip_norm", "clip_norm"),
    ("samples_per_update", "batch_size"),
    ("target", "target"),
)

_OVERFLOW = ("drop_oldest", "drop_newest", "error")
DEFAULT_CAPACITY = 1024


class _ClassOrInstance:
    """A method that works on an instance (restores into it) and on the class (restores into a
    new instance): ``neuron.LoadModel(path)`` and ``SourcedNeuron.LoadModel(path)``."""

    def __init__(self, function: Callable, owner: type | None = None):
        self.function = function
        self.owner = owner
        functools.update_wrapper(self, function)

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        if instance is None:
            return _ClassOrInstance(self.function, owner)
        return types.MethodType(self.function, instance)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        owner = self.owner
        if owner is None:
            raise TypeError(f"{self.function.__name__} needs a class or an instance")
        if args and isinstance(args[0], owner):  # SourcedNeuron.LoadModel(neuron, path)
            return self.function(*args, **kwargs)
        return self.function(owner(), *args, **kwargs)


def _instance_or_class(function: Callable) -> _ClassOrInstance:
    return _ClassOrInstance(function)


def _plain(value: Any) -> Any:
    """``value`` as JSON data (arrays as lists, NumPy scalars as Python numbers)."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


class _Reader:
    """Checked access to a saved neuron's fields; every problem names the file and the field."""

    def __init__(self, data: dict, path: str):
        self.data, self.path = data, path

    def fail(self, key: str, problem: str) -> InputError:
        return InputError(f"{self.path}: field {key!r} {problem}")

    def get(self, key: str, data: dict | None = None) -> Any:
        data = self.data if data is None else data
        if key not in data:
            raise InputError(f"{self.path}: field {key!r} is missing")
        return data[key]

    def number(self, key: str, minimum: float | None = None, data: dict | None = None, below: float | None = None):
        value = self.get(key, data)
        if isinstance(value, bool) or not isinstance(value, int | float) or not np.isfinite(value):
            raise self.fail(key, f"must be a finite number, got {value!r}")
        if minimum is not None and value < minimum:
            raise self.fail(key, f"must be at least {minimum}, got {value!r}")
        if below is not None and value >= below:
            raise self.fail(key, f"must be below {below}, got {value!r}")
        return float(value)

    def text(self, key: str, optional: bool = False, data: dict | None = None) -> str | None:
        value = self.get(key, data)
        if value is None and optional:
            return None
        if not isinstance(value, str):
            raise self.fail(key, f"must be a string, got {value!r}")
        return value

    def array(self, key: str, value: Any, shape: tuple | None = None, ndims: tuple = (1,)) -> np.ndarray:
        try:
            array = np.asarray(value, dtype=float)
        except (TypeError, ValueError):
            raise self.fail(key, "must be a list of numbers (of equal lengths)") from None
        if isinstance(value, bool) or any(isinstance(v, bool) for v in np.ravel(np.asarray(value, dtype=object))):
            raise self.fail(key, "must be numbers, not true/false")
        if array.ndim not in ndims or (shape is not None and array.shape[-len(shape) :] != shape):
            raise self.fail(key, f"has shape {array.shape}; expected {shape if shape else 'a list'}")
        if not np.all(np.isfinite(array)):
            raise self.fail(key, "must hold finite numbers")
        return array


class Persistence(NeuronCore):
    """Functions 76-85 of the API."""

    def _setup(self) -> None:
        super()._setup()
        # the stream buffer (StreamIn/FlushQueue)
        self._queue: deque[np.ndarray] = deque()
        self._queue_capacity = DEFAULT_CAPACITY
        self._queue_overflow = "drop_oldest"
        self.stream_dropped = 0  # inputs the buffer's overflow policy dropped so far
        self._watchers: tuple[dict[str, Any], ...] = ()  # WatchWeight listeners: (callback, threshold, snapshot)
        self.weight_alerts: list[dict[str, Any]] = []  # what the listeners raised

    # --- saving and loading -------------------------------------------------------------------

    def SaveModel(self, path: PathLike) -> Path:
        """Save the neuron to one JSON file: the model (YAML text), parameters and initial
        state, weights, bias, activation and input settings, the input history of the present
        epoch, the random generator's state and the learning state (optimiser, learning rate).

        The file is written atomically (a temporary file renamed into place), so a crash never
        leaves a half-written file; ``LoadModel`` reads it back. Not saved: queued stream input,
        weight listeners, links to other neurons, and the recordings of epochs before the last
        parameter change (the loaded neuron's clock starts at that change).

        Returns
        -------
        Path
            ``path``.

        Examples
        --------
        >>> SourcedNeuron("lif", n_inputs=2).SetWeight([0.5, -1.0]).SaveModel("cell.json")  # doctest: +SKIP
        PosixPath('cell.json')
        """
        target = as_path(path, "SaveModel")
        if target.is_dir():
            raise InputError(f"path {str(target)!r} is a folder; give a file name ({str(target / 'cell.json')!r})")
        text = self.ExportJSON(indent=1)
        write_text(target, text, "SaveModel")
        return target

    @_instance_or_class
    @checked  # a _ClassOrInstance, not a function: check_methods leaves it alone
    def LoadModel(self, path: PathLike) -> Persistence:
        """Restore a neuron saved by ``SaveModel``: weights, bias, model, parameters, state,
        input history, random state and learning state.

        On an instance it restores into that neuron and returns it; on the class
        (``SourcedNeuron.LoadModel(path)``) it returns a new neuron. The model is read with the
        model checker (a file never executes code). A file of another format version, a corrupt
        or truncated file, or a field of the wrong type or shape is refused with an
        :class:`~sourced_neuron.common.errors.InputError` naming the file and the field, and nothing
        changes. Weights of the same size are written into the present array (neurons sharing
        it through ``SharedMem`` see them).

        Examples
        --------
        >>> neuron = SourcedNeuron.LoadModel("cell.json")  # doctest: +SKIP
        """
        source = as_path(path, "LoadModel")
        text = read_text(source, "LoadModel: a saved neuron", SAVED_LIMIT)
        self._apply_saved(self._read_saved(text, str(source)))
        return self

    def ExportJSON(self, indent: int | None = None) -> str:
        """The neuron as a JSON string, for web use: the content of a ``SaveModel`` file
        (format name and version, package version, ID, model YAML, weights, bias, settings,
        input history, learning state; values in SI units). ``LoadModel`` reads it back from a
        file.

        Examples
        --------
        >>> SourcedNeuron("lif", name="n1").ExportJSON()[:42]
        '{"format": "sourced_neuron.SourcedNeuron",'
        """
        return json.dumps(self._saved(), indent=indent, allow_nan=False)

    def _saved(self) -> dict[str, Any]:
        """Everything ``SaveModel`` writes, as JSON data."""
        earlier = sum(epoch.recording.spikes.size for epoch in self.epochs)  # FireImpulse's count includes them
        learning = {key: _plain(getattr(self, name)) for name, key in LEARNING_FIELDS}  # the learning section's

        def optional(values: Any) -> list | None:
            return None if values is None else np.asarray(values, dtype=float).tolist()

        return {
            "format": FORMAT_NAME,
            "format_version": FORMAT_VERSION,
            "sourced_neuron_version": VERSION,
            "id": self.id,
            "model": self.model.name,
            "model_yaml": self.model.to_yaml(),
            "reset_initial": {name: str(value.text or value.expression) for name, value in self.initial},
            "preset": self.preset,
            "backend": self.backend,
            "seed": None if self.seed is None else int(self.seed),
            "rng_state": _plain(self.rng.bit_generator.state),
            "dtype": self.dtype.name,
            "weights": np.asarray(self.weights, dtype=float).tolist(),
            "bias": float(self.bias),
            "activation": self.activation,
            "input_scale": float(self.input_scale),
            "activation_shift": float(self.activation_shift),
            "dropout": float(self.dropout),
            "inputs": np.asarray(self.inputs, dtype=float).tolist(),
            "input_mean": optional(self.input_mean),
            "input_std": optional(self.input_std),
            "current_scale_A": float(self.current_scale),
            "pulse_length_s": float(self.pulse_length),
            "delay_s": float(self.delay),
            "history": {
                "steps": [int(k) for k in self.history.steps],
                "currents_A": [float(c) for c in self.history.currents],
                "in_flight_A": np.asarray(self.history.in_flight, dtype=float).tolist(),
                "input_since_s": float(self._input_since) - self.epoch_start,
                "delivered": max(0, int(self._delivered) - earlier),
            },
            "learning": learning,
        }

    def _read_saved(self, text: str, where: str) -> dict[str, Any]:
        """The attribute values a saved neuron restores, every field checked (nothing set)."""
        from sourced_neuron.backends import REGISTRY

        def refuse_constant(token: str) -> None:
            raise ValueError(f"{token} is not a number JSON allows")

        try:
            data = json.loads(text, parse_constant=refuse_constant)
        except json.JSONDecodeError as error:
            raise InputError(
                f"{where}: not a saved neuron: invalid or truncated JSON ({error.msg} at line {error.lineno}, "
                f"column {error.colno})"
            ) from None
        except (ValueError, RecursionError) as error:
            raise InputError(f"{where}: not a saved neuron: {error}") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT_NAME:
            raise InputError(f'{where}: not a saved neuron (it lacks "format": "{FORMAT_NAME}")')
        version = data.get("format_version")
        if version != FORMAT_VERSION:
            raise InputError(
                f"{where}: saved in format version {version!r}; sourced_neuron {VERSION} reads version {FORMAT_VERSION}"
            )
        r = _Reader(data, where)
        values: dict[str, Any] = {}

        # the model, and the initial state a reset returns to
        try:
            model = NeuronModel.from_yaml(r.text("model_yaml"), source=f"{where} [model_yaml]")
        except ModelError as error:
            raise InputError(f"{where}: field 'model_yaml' is not a valid model:\n{error}") from None
        reset = r.get("reset_initial")
        if not isinstance(reset, dict) or not all(isinstance(v, str | int | float) for v in reset.values()):
            raise r.fail("reset_initial", "must map state variables to initial values")
        try:
            reset_text = yaml.safe_dump({**model.to_dict(), "initial": dict(reset)}, sort_keys=False)
            values["initial"] = NeuronModel.from_yaml(reset_text, source=f"{where} [reset_initial]").initial
        except ModelError as error:
            raise InputError(f"{where}: field 'reset_initial' does not fit the model:\n{error}") from None
        values["model"] = model
        values["preset"] = r.text("preset", optional=True)
        backend = r.text("backend")
        if backend not in REGISTRY:
            raise r.fail("backend", f"names no backend ({backend!r}; backends: {', '.join(REGISTRY)})")
        values["backend"] = backend
        identifier = r.text("id")
        if not NEURON_ID.match(identifier):
            raise r.fail("id", f"is not a valid neuron ID ({identifier!r})")
        values["id"] = identifier
        seed = r.get("seed")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
            raise r.fail("seed", f"must be a non-negative integer or null, got {seed!r}")
        values["seed"] = seed
        rng = np.random.default_rng()
        try:
            rng.bit_generator.state = r.get("rng_state")
        except (TypeError, ValueError, KeyError, OverflowError) as error:
            raise r.fail("rng_state", f"is not a state of NumPy's default generator ({error})") from None
        values["rng"] = rng

        # the artificial neuron
        dtype = r.text("dtype")
        if dtype not in ("float64", "float32"):
            raise r.fail("dtype", f"must be 'float64' or 'float32', got {dtype!r}")
        values["dtype"] = np.dtype(dtype)
        weights = r.array("weights", r.get("weights"))
        if len(weights) < 1:
            raise r.fail("weights", "is empty (a neuron has at least one input)")
        n = len(weights)
        values["weights"] = weights.astype(dtype)
        values["bias"] = r.number("bias")
        activation = r.text("activation")
        try:
            activation_pair(activation)
        except InputError as error:
            raise r.fail("activation", str(error)) from None
        values["activation"] = activation
        values["input_scale"] = r.number("input_scale")
        values["activation_shift"] = r.number("activation_shift")
        values["dropout"] = r.number("dropout", minimum=0.0, below=1.0)
        values["inputs"] = r.array("inputs", r.get("inputs"), shape=(n,), ndims=(1, 2)).astype(dtype)
        mean, std = r.get("input_mean"), r.get("input_std")
        if (mean is None) != (std is None):
            raise r.fail("input_std", "and 'input_mean' must both be null or both be lists")
        values["input_mean"] = None if mean is None else r.array("input_mean", mean, shape=(n,)).astype(dtype)
        values["input_std"] = None if std is None else r.array("input_std", std, shape=(n,)).astype(dtype)
        if std is not None and np.any(values["input_std"] <= 0):
            raise r.fail("input_std", "must be positive")

        # the spiking side
        values["current_scale"] = r.number("current_scale_A")
        values["pulse_length"] = r.number("pulse_length_s", minimum=0.0)
        delay = r.number("delay_s", minimum=0.0)
        dt = float(model.numerics.dt.quantity)
        delay_steps = round(delay / dt)
        if abs(delay_steps * dt - delay) > 1e-9 * max(delay, dt):
            raise r.fail("delay_s", f"is not a whole number of the model's time steps ({dt * 1e3:g} ms)")
        values["delay"] = delay_steps * dt
        history = r.get("history")
        if not isinstance(history, dict):
            raise r.fail("history", "must be an object")
        steps = r.get("steps", history)
        if not isinstance(steps, list) or any(isinstance(k, bool) or not isinstance(k, int) or k < 1 for k in steps):
            raise r.fail("history.steps", "must be a list of positive integers")
        currents = r.array("history.currents_A", r.get("currents_A", history)) if steps else np.zeros(0)
        if len(currents) != len(steps):
            raise r.fail("history.currents_A", f"must have one current per entry of history.steps ({len(steps)})")
        in_flight = r.get("in_flight_A", history)
        in_flight = r.array("history.in_flight_A", in_flight) if in_flight else np.zeros(0)
        if len(in_flight) not in (0, delay_steps):
            raise r.fail("history.in_flight_A", f"must be empty or hold the {delay_steps} steps of the delay")
        delivered = r.get("delivered", history)
        if isinstance(delivered, bool) or not isinstance(delivered, int) or delivered < 0:
            raise r.fail("history.delivered", f"must be a non-negative integer, got {delivered!r}")
        values["history"] = History([int(k) for k in steps], [float(c) for c in currents], in_flight)
        values["_input_since"] = r.number("input_since_s", data=history)
        values["_delivered"] = delivered

        # learning state
        learning = r.get("learning")
        if not isinstance(learning, dict):
            raise r.fail("learning", "must be an object")
        for name, key in LEARNING_FIELDS:
            if key in learning:
                values[name] = _learning_value(r, key, learning[key])
        return values

    def _apply_saved(self, values: dict[str, Any]) -> None:
        """Set every restored value (all checked before)."""
        weights = values.pop("weights")
        if self.weights.shape == weights.shape and self.weights.dtype == weights.dtype:
            self.weights[:] = weights  # keeps a SharedMem array shared
        else:
            self._leave_weight_group()  # the performance section's SharedMem group
            self.weights = weights
        for name, value in values.items():
            setattr(self, name, value)
        self.epochs = []
        self.closed = False
        self._invalidate()  # the restored state is simulated again from the saved history
        self._weights_changed()

    # --- activity and hidden state ------------------------------------------------------------

    def LogActivity(self) -> neo.Block:
        """The neuron's activity since the last reset as a ``neo.Block``, for debugging: one
        segment with the spike train and the trace of every state variable from 0 to ``t``,
        annotated with the neuron's ID, model, backend, weights and bias. Analysis and plotting
        functions of the package take it (``sourced_neuron.analysis.measures``, ``plotting``).

        Examples
        --------
        >>> SourcedNeuron("lif").SetBias(3).Integrate("50 ms").LogActivity().segments[0].spiketrains  # doctest: +SKIP
        """
        times = self.spike_times()
        t_stop = self.t * 1e3 * pq.ms
        annotations = {
            "neuron": self.id,
            "model": self.model.name,
            "backend": self.backend,
            "method": self.model.numerics.method,
            "stimulus": f"input of neuron {self.id}",
            "weights": np.asarray(self.weights, dtype=float).tolist(),
            "bias": float(self.bias),
            "current_scale_pA": self.current_scale * 1e12,
            "t_ms": self.t * 1e3,
            "n_spikes": len(times),
        }
        block = neo.Block(name=f"activity of {self.id}", **annotations)
        segment = neo.Segment(name="since reset", neuron=self.id)
        train = neo.SpikeTrain(
            times * 1e3 * pq.ms, t_start=0 * pq.ms, t_stop=t_stop, name="spikes", population=self.id, index=0
        )
        segment.spiketrains.append(train)
        for variable in self.model.state_variables:
            signal = self.trace(variable)
            signal.annotate(variable=variable, population=self.id)
            segment.analogsignals.append(signal)
        block.segments.append(segment)
        return block

    def LatentState(self) -> dict[str, Any]:
        """The neuron's hidden variables at ``t``, those not exposed at its output: every state
        variable of the spiking model other than the membrane potential (synaptic currents or
        conductances, Izhikevich's recovery ``u``, AdEx's adaptation ``w``, HH gates), with
        units, and the artificial neuron's pre-activation ``z = w . x' + b``.

        Examples
        --------
        >>> SourcedNeuron("izhikevich").LatentState()["u"]  # doctest: +SKIP
        array(-13.) * mV
        """
        hidden = {name: value for name, value in self.state().items() if name != self.model.membrane_potential}
        hidden["z"] = self.weighted_sum()
        return hidden

    def TracePath(self) -> list[dict[str, Any]]:
        """Follow the present input through the neuron, for auditing: one entry per stage, each
        with its ``stage`` name, ``value`` and the ``operation`` that made it from the previous
        stage.

        Artificial path: raw input -> scaled (``ScaleInput``) -> normalised (``NormBatch``) ->
        weighted sum ``w . x + b`` -> shifted (``BiasShift``) -> activation output. Spiking path
        (one input vector): drive current (``current_scale`` times the weighted sum) ->
        synaptic delay -> membrane potential at ``t`` -> spikes since the reset.

        Examples
        --------
        >>> [s["stage"] for s in SourcedNeuron("lif").TracePath()][:3]  # doctest: +SKIP
        ['input', 'scaled', 'normalised']
        """
        raw = np.array(self.inputs, dtype=self.dtype, copy=True)
        scaled = raw * self.dtype.type(self.input_scale)
        if self.input_mean is not None:
            normalised = (scaled - self.input_mean) / self.input_std
            how = "(x - mean) / std with the NormBatch statistics"
        else:
            normalised, how = scaled, "unchanged (no NormBatch statistics)"
        z = normalised @ self.weights + self.bias
        shifted = z - self.activation_shift
        output = ACTIVATIONS[self.activation][0](shifted)
        path = [
            {"stage": "input", "value": raw, "operation": "the present input (ProcInput)"},
            {"stage": "scaled", "value": scaled, "operation": f"x * input_scale ({self.input_scale:g})"},
            {"stage": "normalised", "value": normalised, "operation": how},
            {
                "stage": "weighted sum",
                "value": z,
                "operation": "w . x + b",
                "weights": np.array(self.weights, copy=True),
                "bias": self.bias,
            },
            {"stage": "shifted", "value": shifted, "operation": f"z - activation shift ({self.activation_shift:g})"},
            {"stage": "activation", "value": output, "operation": f"{self.activation}(z - shift)"},
        ]
        if raw.ndim != 1:
            return path  # a batch does not drive the spiking neuron
        drive = self.current_scale * float(z)
        pulse = f", for {self.pulse_length * 1e3:g} ms after each input" if self.pulse_length > 0 else ""
        state = self.state()
        potential = self.model.membrane_potential or self.model.state_variables[0]
        times = self.spike_times()
        path += [
            {
                "stage": "drive current",
                "value": drive * 1e12 * pq.pA,
                "operation": f"current_scale ({self.current_scale * 1e12:g} pA) * weighted sum{pulse}",
            },
            {
                "stage": "synaptic delay",
                "value": self.delay * 1e3 * pq.ms,
                "operation": "the drive reaches the membrane this much later",
            },
            {
                "stage": "membrane potential",
                "value": state[potential],
                "operation": f"{self.model.name} integrated on {self.backend} to t = {self.t * 1e3:g} ms",
                "t": self.t * 1e3 * pq.ms,
            },
            {
                "stage": "spikes",
                "value": times * 1e3 * pq.ms,
                "operation": f"threshold {self.model.threshold!r} crossings since the reset",
                "count": len(times),
            },
        ]
        return path

    # --- streamed input -----------------------------------------------------------------------

    def StreamIn(
        self, data: Inputs | Iterable[Vector] | None = None, capacity: int | None = None, overflow: str | None = None
    ) -> int:
        """Open (or configure) a bounded buffer for real-time input and queue input vectors in
        it; ``FlushQueue`` presents them to the neuron in order.

        Parameters
        ----------
        data : array (n_inputs,) or (k, n_inputs), or an iterable of vectors, optional
            Input vectors, each checked (length ``n_inputs``, finite) before any is queued.
        capacity : int, optional
            Most inputs the buffer holds (default 1024, or as set before); it cannot go below
            the number waiting.
        overflow : str, optional
            What happens when an input arrives at a full buffer: ``"drop_oldest"`` (the
            default; a ring buffer), ``"drop_newest"`` (the arriving input is dropped) or
            ``"error"`` (``InputError``, nothing queued). Dropped inputs are counted in
            ``stream_dropped``.

        Returns
        -------
        int
            The number of inputs queued (waiting in the buffer).

        Examples
        --------
        >>> SourcedNeuron("lif", n_inputs=2).StreamIn([[1.0, 0.0], [0.5, 0.5]], capacity=8)
        2
        """
        policy = self._queue_overflow if overflow is None else overflow
        if policy not in _OVERFLOW:
            raise InputError(f"overflow must be one of {', '.join(_OVERFLOW)}, got {overflow!r}")
        size = self._queue_capacity if capacity is None else capacity
        if isinstance(size, bool) or not isinstance(size, int | np.integer) or size < 1:
            raise InputError(f"capacity must be a positive integer, got {capacity!r}")
        queue = self._queue
        if len(queue) > size:
            raise InputError(f"capacity {size} is below the {len(queue)} inputs waiting: FlushQueue first")
        items = [] if data is None else self._stream_items(data)
        free = size - len(queue)
        if policy == "error" and len(items) > free:
            raise InputError(
                f"the input buffer is full: it holds {size} inputs, {len(queue)} are waiting and {len(items)} "
                f"arrived (overflow='error'); FlushQueue first or raise the capacity"
            )
        dropped = 0
        if policy == "drop_newest":
            dropped, items = max(0, len(items) - free), items[:free]
        for item in items:
            queue.append(item)
            if len(queue) > size:
                queue.popleft()
                dropped += 1
        self._queue, self._queue_capacity, self._queue_overflow = queue, int(size), policy
        self.stream_dropped = self.stream_dropped + dropped
        return len(queue)

    def _stream_items(self, data: Any) -> list[np.ndarray]:
        n = len(self.weights)
        if not isinstance(data, np.ndarray | list | tuple) and isinstance(data, Iterable):
            data = list(data)
        try:
            array = np.asarray(data, dtype=float)
        except (TypeError, ValueError):
            raise InputError(f"stream input must be numbers: one vector of {n} or rows of {n}, got {data!r}") from None
        if array.ndim == 1:
            array = array[None, :]
        if array.ndim != 2 or array.shape[1] != n:
            raise InputError(f"stream input must have shape ({n},) or (k, {n}), got {np.shape(array)}")
        bad = np.flatnonzero(~np.all(np.isfinite(array), axis=1))
        if len(bad):
            raise InputError(f"stream input {int(bad[0])} is not finite: {array[bad[0]]}")
        return [row.astype(self.dtype) for row in array]

    def FlushQueue(self, apply: bool = True, duration: Duration = "10 ms") -> int:
        """Empty the input buffer, so that it cannot overflow: with ``apply``, present each
        queued input in order for ``duration`` (``ProcInput`` then ``Integrate``); without,
        discard them.

        Returns
        -------
        int
            The number of inputs taken from the buffer.

        Examples
        --------
        >>> n = SourcedNeuron("lif", n_inputs=2); n.StreamIn([[1, 0], [0, 1]]); n.FlushQueue()  # doctest: +SKIP
        2
        """
        if not isinstance(apply, bool):
            raise InputError(f"apply must be True or False, got {apply!r}")
        steps = self.steps_of(duration, "duration")  # checked even when nothing waits
        if apply and steps < 1:
            raise InputError(f"duration must be at least one time step ({self.dt * 1e3:g} ms), got {duration!r}")
        queue = self._queue
        if not queue:
            return 0
        count = len(queue)
        if not apply:
            queue.clear()
            return count
        if self.closed:
            raise InputError(f"neuron {self.id} was shut down; its queued input cannot be applied")
        n = len(self.weights)
        if any(len(item) != n for item in queue):
            raise InputError(f"the queued inputs do not have {n} values (the neuron changed): FlushQueue(apply=False)")
        while queue:
            self.ProcInput(queue.popleft())
            self.Integrate(steps * self.dt * pq.s)
        return count

    # --- weight listeners ---------------------------------------------------------------------

    def WatchWeight(
        self, callback: Callable[[dict[str, Any]], Any] | None = None, threshold: float = 0.0, remove: bool = False
    ) -> Persistence:
        """Attach a listener that detects sudden weight changes: whenever the weights change
        (``SetWeight``, ``UpdWeight``, ``InitXavier``, ... call ``CheckWatchers``) and some
        weight moved by more than ``threshold`` since the previous check, an alert is appended
        to ``weight_alerts`` and passed to ``callback``.

        An alert is a dict: ``neuron`` (ID), ``t`` (ms), ``indices`` (of the weights that
        moved more than ``threshold``), ``old``, ``new``, ``change`` (at those indices) and
        ``max_change``.

        Parameters
        ----------
        callback : callable, optional
            Called with each alert; without one, alerts are only recorded.
        threshold : float
            Smallest absolute change (in weight units) that alerts; default 0 (any change).
        remove : bool
            Detach the listeners of ``callback`` (all listeners when ``callback`` is None).

        Examples
        --------
        >>> SourcedNeuron("lif", n_inputs=2).WatchWeight(threshold=0.5).SetWeight([1, 0.1]).weight_alerts[0]["new"]
        array([1.])
        """
        if remove:
            self._watchers = tuple(w for w in self._watchers if callback is not None and w["callback"] != callback)
            return self
        if callback is not None and not callable(callback):
            raise InputError(f"callback must be callable, got {callback!r}")
        (limit,) = finite_vector(threshold, "threshold", 1)
        if limit < 0:
            raise InputError(f"threshold must be non-negative, got {threshold!r}")
        watcher = {"callback": callback, "threshold": float(limit), "snapshot": np.array(self.weights, dtype=float)}
        self._watchers = (*self._watchers, watcher)
        return self

    def CheckWatchers(self) -> list[dict[str, Any]]:
        """Compare the weights with each listener's last check (``WatchWeight``) and raise the
        alerts; the functions that change weights call it. Neurons sharing the weights
        (``SharedMem``) are checked too. Returns the alerts raised now.

        Examples
        --------
        >>> n = SourcedNeuron("lif", n_inputs=1).WatchWeight(); n.weights[0] = 3.0; len(n.CheckWatchers())
        1
        """
        alerts = []
        for neuron in self._weight_peers():
            if isinstance(neuron, Persistence):
                alerts += neuron._check_own_watchers()
        return alerts

    def _check_own_watchers(self) -> list[dict[str, Any]]:
        alerts = []
        new = np.array(self.weights, dtype=float)
        for watcher in self._watchers:
            old = watcher["snapshot"]
            if old.shape != new.shape:
                moved = np.arange(len(new))
                old = np.full(new.shape, np.nan)
            else:
                moved = np.flatnonzero(np.abs(new - old) > watcher["threshold"])
            watcher["snapshot"] = new.copy()
            if not len(moved):
                continue
            change = new[moved] - old[moved]
            alert = {
                "neuron": self.id,
                "t": self.t * 1e3 * pq.ms,
                "indices": moved,
                "old": old[moved],
                "new": new[moved],
                "change": change,
                "max_change": float(np.nanmax(np.abs(change))) if np.any(np.isfinite(change)) else float("nan"),
            }
            self.weight_alerts.append(alert)
            alerts.append(alert)
            if watcher["callback"] is not None:
                with user_code():  # the callback's own calls to neurons are checked
                    watcher["callback"](alert)
        return alerts

    # --- CSV ----------------------------------------------------------------------------------

    def ImportCSV(self, path: PathLike, row: int | None = None) -> Persistence:
        """Load the weights from a CSV file: one row of ``n_inputs`` numbers (or one column of
        them), optionally below a header row; a header cell ``bias`` marks a column holding the
        bias. A file of several rows is a weight matrix (one neuron per row): ``row`` picks one
        (0 = the first data row).

        Lines starting with ``#`` are comments. Cells that are not numbers, and files of the
        wrong shape, are refused with the row and column (1-based, as a spreadsheet counts
        them: the header and comments included); nothing changes then.

        Examples
        --------
        >>> SourcedNeuron("lif", n_inputs=3).ImportCSV("weights.csv").weights  # doctest: +SKIP
        array([ 0.5, -0.2,  1. ])
        """
        if row is not None and row < 0:
            raise InputError(f"row must be a non-negative integer (0 = the first data row), got {row!r}")
        source = as_path(path, "ImportCSV")
        text = read_text(source, "ImportCSV: the CSV file of weights", CSV_LIMIT, encoding="utf-8-sig")
        try:
            lines = list(enumerate(csv.reader(io.StringIO(text, newline="")), start=1))
        except csv.Error as error:
            raise InputError(f"{source}: cannot read it as CSV ({error})") from None
        lines = [(k, [c.strip() for c in cells]) for k, cells in lines if cells and any(c.strip() for c in cells)]
        lines = [(k, cells) for k, cells in lines if not cells[0].startswith("#")]
        if not lines:
            raise InputError(f"{source}: no data")
        bias_column = None
        header_number, first = lines[0]
        if any(not _is_number(c) for c in first):
            lines = lines[1:]
            names = [c.lower() for c in first]
            if names.count("bias") > 1:
                raise InputError(f"{source}: row {header_number}: more than one column is named 'bias'")
            bias_column = names.index("bias") if "bias" in names else None
        if not lines:
            raise InputError(f"{source}: a header but no data rows")
        table = []
        for number, cells in lines:
            values = []
            for column, cell in enumerate(cells, start=1):
                if not _is_number(cell):
                    raise InputError(f"{source}: row {number}, column {column}: {cell!r} is not a number")
                values.append(float(cell))
            table.append((number, values))
        n = len(self.weights)
        widths = {len(values) for _, values in table}
        if len(widths) > 1:
            number, values = next((k, v) for k, v in table if len(v) != len(table[0][1]))
            raise InputError(
                f"{source}: row {number} has {len(values)} cells, row {table[0][0]} has {len(table[0][1])}"
            )
        width = widths.pop()
        expected = n + (bias_column is not None)
        if bias_column is None and width == 1 and len(table) == n and n > 1 and row is None:
            weights, bias = np.array([v[0] for _, v in table]), None  # one column: a vector
        else:
            if width != expected:
                hint = " (a header cell 'bias' marks a bias column)" if width == n + 1 else ""
                raise InputError(
                    f"{source}: row {table[0][0]} has {width} columns; the neuron has {n} inputs"
                    f"{' plus the bias column' if bias_column is not None else ''}{hint}"
                )
            if row is None and len(table) > 1:
                raise InputError(
                    f"{source}: {len(table)} data rows (a weight matrix): choose one with row=0..{len(table) - 1}"
                )
            index = row or 0
            if index >= len(table):
                raise InputError(f"{source}: row={index} asked, but the file has {len(table)} data rows")
            values = list(table[index][1])
            bias = values.pop(bias_column) if bias_column is not None else None
            weights = np.array(values)
        if not np.all(np.isfinite(weights)) or (bias is not None and not np.isfinite(bias)):
            raise InputError(f"{source}: the weights must be finite")
        self.weights[:] = weights.astype(self.dtype)
        if bias is not None:
            self.bias = float(bias)
        self._weights_changed()
        return self


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return cell.strip() != ""


def _learning_value(r: _Reader, key: str, value: Any) -> Any:
    """A saved learning setting, checked by kind."""
    where = f"learning.{key}"
    if key in ("learning_rate", "initial_learning_rate", "huber_delta"):
        number = r.number(where, data={where: value})
        if number <= 0:
            raise r.fail(where, f"must be positive, got {value!r}")
        return number
    if key in ("l1", "l2"):
        return r.number(where, minimum=0.0, data={where: value})
    if key == "clip_value":
        return None if value is None else _learning_value(r, "learning_rate", value)
    if key == "clip_norm":
        if not isinstance(value, bool):
            raise r.fail(where, f"must be true or false, got {value!r}")
        return value
    if key == "batch_size":
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise r.fail(where, f"must be a positive integer, got {value!r}")
        return value
    if key == "loss":
        if not isinstance(value, str):
            raise r.fail(where, f"must be a string, got {value!r}")
        return value
    if key == "target":
        if value is None:
            return None
        array = r.array(where, value, ndims=(0, 1, 2))
        return float(array) if array.ndim == 0 else array
    if key == "optimizer":
        if not isinstance(value, dict) or not isinstance(value.get("name"), str):
            raise r.fail(where, "must be an object with a 'name'")
        for name, setting in value.items():
            if name != "name" and (isinstance(setting, bool) or not isinstance(setting, int | float)):
                raise r.fail(f"{where}.{name}", f"must be a number, got {setting!r}")
        return dict(value)
    # optimizer_state: parameter -> {quantity: number or list of numbers}
    if not isinstance(value, dict) or not all(isinstance(v, dict) for v in value.values()):
        raise r.fail(where, "must map parameters to objects of numbers")
    state = {}
    for which, entries in value.items():
        state[which] = {}
        for name, entry in entries.items():
            if isinstance(entry, int) and not isinstance(entry, bool):
                state[which][name] = entry
            else:
                array = r.array(f"{where}.{which}.{name}", entry, ndims=(0, 1))
                state[which][name] = float(array) if array.ndim == 0 else array
    return state
