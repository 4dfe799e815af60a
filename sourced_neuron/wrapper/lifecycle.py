"""Core lifecycle and initialisation: creating, configuring, copying, checking and ending a
neuron, and the main loop that drives it."""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import quantities as pq

from sourced_neuron.backends import backend_status
from sourced_neuron.common.errors import InputError, SourcedNeuronError
from sourced_neuron.common.version import VERSION
from sourced_neuron.wrapper.arguments import ArrayLike, Duration, PathLike, Vector, WithUnits
from sourced_neuron.wrapper.core import NEURON_ID, NeuronCore, finite_vector, number


class Lifecycle(NeuronCore):
    """Functions 1-14 of the API."""

    def InitNeu(self, params: Mapping[str, WithUnits] | None = None) -> Lifecycle:
        """Initialise the neuron: set parameters and initial values of state variables, and
        return to ``t = 0`` in that initial state.

        Parameters
        ----------
        params : mapping, optional
            Parameter values and initial values of state variables with units, checked against
            the model (``{"tau_m": "20 ms", "v": "-70 mV"}``); unknown names and wrong units are
            refused and nothing changes.

        Examples
        --------
        >>> SourcedNeuron("lif").InitNeu({"tau_m": "20 ms", "v": "-70 mV"}).GetState()["v"]  # doctest: +SKIP
        """
        model = self.model.with_parameters(dict(params or {}))  # checks everything first
        self.model = model
        self.initial = model.initial
        self.forget()
        return self

    def SetWeight(self, w: Vector) -> Lifecycle:
        """Set the weights of the incoming signals (one per input).

        Examples
        --------
        >>> SourcedNeuron("lif", n_inputs=3).SetWeight([0.5, -0.2, 1.0]).weights
        array([ 0.5, -0.2,  1. ])
        """
        self.weights[:] = finite_vector(w, "weights", len(self.weights)).astype(self.dtype)
        self._weights_changed()
        return self

    def SetBias(self, b: float) -> Lifecycle:
        """Set the bias: the offset added to the weighted sum, which moves the input needed to
        fire (a positive bias drives the spiking neuron with ``b * current_scale`` on its own).

        Examples
        --------
        >>> SourcedNeuron("lif").SetBias(1.6).bias
        1.6
        """
        (value,) = finite_vector(b, "bias", 1)
        self.bias = float(value)
        return self

    def GetState(self) -> dict[str, Any]:
        """The neuron's state now: time, every state variable of the spiking model (with units),
        spikes so far, the inputs, weights, bias and the artificial neuron's output.

        Examples
        --------
        >>> SourcedNeuron("lif").GetState()["v"]  # doctest: +SKIP
        array(-65.) * mV
        """
        inputs = np.array(self.inputs, copy=True)
        return {
            "t": self.t * 1e3 * pq.ms,
            **self.state(),
            "n_spikes": len(self.spike_times()),
            "inputs": inputs,
            "weights": self.weights.copy(),
            "bias": self.bias,
            "output": self.output() if inputs.ndim == 1 else None,
        }

    def ResetNeu(self) -> Lifecycle:
        """Clear all temporal data (the simulated history, spikes, the present input, queued
        stream input) and return to the resting initial state at ``t = 0``; weights and bias stay.

        Examples
        --------
        >>> SourcedNeuron("lif").SetBias(2.0).Integrate("10 ms").ResetNeu().t  # doctest: +SKIP
        0.0
        """
        self.forget()
        self.inputs = np.zeros(len(self.weights), dtype=self.dtype)
        self._input_since = 0.0
        self._queue.clear()  # the persistence section's stream buffer
        return self

    def InitXavier(self) -> Lifecycle:
        """Draw the weights from Glorot & Bengio's (2010) uniform distribution,
        ``U(-a, a)`` with ``a = sqrt(6 / (fan_in + fan_out))`` (fan_out 1: one output), which
        keeps the variance of the signal through sigmoid or tanh units.

        Examples
        --------
        >>> SourcedNeuron("lif", n_inputs=4, seed=1).InitXavier().weights.round(3)  # doctest: +SKIP
        """
        limit = np.sqrt(6.0 / (len(self.weights) + 1))
        self.weights[:] = self.rng.uniform(-limit, limit, len(self.weights))
        self._weights_changed()
        return self

    def InitHe(self) -> Lifecycle:
        """Draw the weights from He et al.'s (2015) normal distribution, ``N(0, 2 / fan_in)``,
        made for ReLU units.

        Examples
        --------
        >>> SourcedNeuron("lif", n_inputs=100, seed=1).InitHe().weights.std()  # doctest: +SKIP
        """
        self.weights[:] = self.rng.normal(0.0, np.sqrt(2.0 / len(self.weights)), len(self.weights))
        self._weights_changed()
        return self

    def CopyNeu(self) -> Lifecycle:
        """A deep copy (weights, parameters, history, learning state) with a new ID and its own
        random stream, for genetic algorithms; changing the copy never changes the original.

        Examples
        --------
        >>> parent = SourcedNeuron("lif"); child = parent.CopyNeu(); child.id != parent.id
        True
        """
        links = self._links  # the topology section's links belong to the original; the copy starts unbound
        self._links = {}
        try:
            twin = copy.deepcopy(self)
        finally:
            self._links = links
        twin.id = f"{self.model.name}-{twin.rng.integers(1 << 32):08x}"
        twin.rng = np.random.default_rng(self.rng.integers(1 << 63))
        return twin

    def SetID(self, name: str) -> Lifecycle:
        """Name the neuron (letters, digits, ``_ . -``, starting with a letter or ``_``; it
        names the neuron's population in networks and files).

        Examples
        --------
        >>> SourcedNeuron("lif").SetID("cell_7").id
        'cell_7'
        """
        if not NEURON_ID.match(name):
            raise InputError(
                f"neuron ID must be 1-64 letters, digits, '_', '.' or '-' starting with a letter or '_', got {name!r}"
            )
        self.id = name
        return self

    def CheckHealth(self) -> dict[str, Any]:
        """Check that the neuron's arrays and configuration are intact: weight and input
        shapes, dtypes and finiteness, the model, the backend's availability, the history.

        Returns
        -------
        dict
            ``healthy`` (bool) and ``problems`` (list of str, empty when healthy).

        Examples
        --------
        >>> SourcedNeuron("lif").CheckHealth()["healthy"]
        True
        """
        problems = []
        n = len(self.weights)
        if self.weights.ndim != 1 or self.weights.dtype != self.dtype:
            problems.append(f"weights have shape {self.weights.shape} and dtype {self.weights.dtype}")
        if not np.all(np.isfinite(self.weights)):
            problems.append("weights are not all finite")
        if not np.isfinite(self.bias):
            problems.append(f"bias is {self.bias}")
        inputs = np.asarray(self.inputs)
        if inputs.shape[-1:] != (n,):
            problems.append(f"inputs have shape {inputs.shape}, weights {n} values")
        elif not np.all(np.isfinite(inputs)):
            problems.append("inputs are not all finite")
        try:
            self.model.content_hash  # noqa: B018 - recomputes from the model's contents
        except SourcedNeuronError as error:
            problems.append(f"model: {error}")
        reason = backend_status().get(self.backend, f"unknown backend {self.backend!r}")
        if reason:
            problems.append(f"backend {self.backend}: {reason}")
        if any(k <= 0 for k in self.history.steps) or len(self.history.steps) != len(self.history.currents):
            problems.append("the input history is inconsistent")
        if not np.all(np.isfinite(self.history.currents)):
            problems.append("the input history holds a non-finite current")
        return {"healthy": not problems, "problems": problems}

    def CloneState(self) -> Lifecycle:
        """A new neuron that starts (at its ``t = 0``) in this neuron's present state: the
        membrane potential and every other state variable, with the same model, weights and
        bias.

        Examples
        --------
        >>> twin = neuron.CloneState(); twin.GetState()["v"] == neuron.GetState()["v"]  # doctest: +SKIP
        """
        twin = self.CopyNeu()
        twin.epochs, twin.history = [], type(self.history)()
        twin.model = self.model.with_parameters(self.state())
        twin.initial = twin.model.initial
        twin._invalidate()
        return twin

    def Version(self) -> str:
        """The version of the sourced_neuron package.

        Examples
        --------
        >>> SourcedNeuron("lif").Version()  # doctest: +SKIP
        '0.1.0'
        """
        return VERSION

    def Shutdown(self, path: PathLike | None = None) -> Path:
        """End the session: apply the queued stream input (if any), save the final state with
        ``SaveModel`` (to ``path``, default ``<id>.json``), and refuse further integration.

        Examples
        --------
        >>> SourcedNeuron("lif").Shutdown("/tmp/cell.json")  # doctest: +SKIP
        """
        if self._queue:
            self.FlushQueue()
        saved = self.SaveModel(Path(path) if path is not None else Path(f"{self.id}.json"))
        self.closed = True
        return Path(saved)

    def MainLoop(
        self,
        inputs: Iterable[Vector],
        duration: Duration = "100 ms",
        targets: Iterable[ArrayLike] | None = None,
        learning_rate: float | None = None,
    ) -> dict[str, Any]:
        """Drive the neuron with a sequence of input vectors, each presented for ``duration``:
        for each input, ``ProcInput`` and ``Integrate``; with ``targets``, also one learning step
        (``CalcError``, ``BackProp``, ``UpdWeight``, ``UpdBias``) before the presentation, so the
        spiking neuron feels the updated weights. The whole sequence is simulated as one run.

        Returns
        -------
        dict
            ``spikes`` (count per input), ``rates`` (Hz per input), ``outputs`` (the artificial
            neuron's output per input) and ``t`` (the time at the end).

        Examples
        --------
        >>> SourcedNeuron("lif", n_inputs=2).SetWeight([2, 1]).MainLoop([[1, 0], [0, 1]], "200 ms")  # doctest: +SKIP
        """
        vectors = [finite_vector(x, f"input {k}", len(self.weights)) for k, x in enumerate(inputs)]
        if not vectors:
            raise InputError("MainLoop needs at least one input vector")
        goals = None if targets is None else list(targets)
        if learning_rate is not None:  # checked even without targets
            number(learning_rate, "learning_rate", 0.0, open_low=True)
        if goals is not None and len(goals) != len(vectors):
            raise InputError(f"MainLoop got {len(vectors)} inputs but {len(goals)} targets")
        steps = self.steps_of(duration, "duration")
        if steps < 1:
            raise InputError(f"duration must be at least one time step, got {duration!r}")
        starts, outputs = [], []
        for k, x in enumerate(vectors):
            self.ProcInput(x)
            if goals is not None:
                self.SetTarget(goals[k])
                self.CalcError(goals[k])
                self.BackProp()
                self.UpdWeight(learning_rate)
                self.UpdBias(learning_rate)
            outputs.append(self.output())
            starts.append(self.t)
            self.Integrate(steps * self.dt * pq.s)
        times = self.spike_times()
        edges = np.append(starts, self.t)
        counts = np.histogram(times, bins=edges)[0] if len(times) else np.zeros(len(vectors), dtype=int)
        return {
            "spikes": counts.astype(int),
            "rates": counts / (steps * self.dt) * pq.Hz,
            "outputs": np.asarray(outputs),
            "t": self.t * 1e3 * pq.ms,
        }

    # --- shared -------------------------------------------------------------------------------

    def _weights_changed(self) -> None:
        """Tell weight listeners (``WatchWeight``, persistence section) that the weights changed."""
        self.CheckWatchers()
