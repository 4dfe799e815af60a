"""Signal processing and mathematics: receiving input, summing it, integrating the spiking
neuron in time, and the timing of its input (leak, delay, scale, clock)."""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import quantities as pq

from sourced_neuron.common.errors import InputError
from sourced_neuron.wrapper.arguments import Duration, Inputs, WithUnits
from sourced_neuron.wrapper.core import NeuronCore, finite_vector, seconds


class SignalProcessing(NeuronCore):
    """Functions 15-24 of the API."""

    def ProcInput(self, data: Inputs) -> np.ndarray:
        """Receive an input vector (``n_inputs`` values) or a batch (``(n, n_inputs)``), keep it
        as the present input, and return it as the weights see it (scaled by ``ScaleInput``,
        standardised after ``NormBatch``). The spiking neuron is driven by it from now on.

        Examples
        --------
        >>> SourcedNeuron("lif", n_inputs=2).ScaleInput(2.0).ProcInput([1.0, 0.5])
        array([2., 1.])
        """
        try:
            array = np.asarray(data, dtype=float)
        except (TypeError, ValueError):
            raise InputError(f"input must be numbers, got {data!r}") from None
        n = len(self.weights)
        if array.shape[-1:] != (n,) or array.ndim not in (1, 2):
            raise InputError(f"input must have shape ({n},) or (batch, {n}), got {array.shape}")
        if not np.all(np.isfinite(array)):
            raise InputError("input must be finite")
        self.inputs = array.astype(self.dtype)
        self._input_since = self.t
        return self.prepared(self.inputs)

    def SumSignals(self) -> float | np.ndarray:
        """The weighted sum of the present input plus the bias, ``w . x' + b`` (one value per
        sample for a batch).

        Examples
        --------
        >>> n = SourcedNeuron("lif", n_inputs=2).SetWeight([2, -1]).SetBias(0.5); n.ProcInput([1, 3]); n.SumSignals()
        -0.5
        """
        return self.weighted_sum()

    def FireImpulse(self) -> pq.Quantity:
        """Transmit the spikes the neuron has fired (its threshold was met) since the last
        call, and return their times: empty when the threshold was not met.

        Examples
        --------
        >>> neuron.Integrate("100 ms").FireImpulse()  # doctest: +SKIP
        array([ 5.1, 12.2]) * ms
        """
        times = self.spike_times()
        new = times[self._delivered :]
        self._delivered = len(times)
        return new * 1e3 * pq.ms

    def Integrate(self, dt: Duration) -> SignalProcessing:
        """Advance the spiking neuron by ``dt`` of simulated time on its backend, driven by the
        present input (``current_scale`` times ``SumSignals``); after ``PulseWidth(t)`` the input
        acts only for ``t`` after it arrived. ``dt`` must be whole time steps of the model.

        The input is recorded here and simulated when the state is next asked for (``GetState``,
        ``FireImpulse``, ...): on ``brian2`` by continuing the neuron's live simulation, so a
        step costs the same however long the neuron has run, and ``Integrate("37 ms")`` then
        ``Integrate("63 ms")`` is the same run, to the bit, as ``Integrate("100 ms")``.

        Examples
        --------
        >>> SourcedNeuron("lif").SetBias(2.0).Integrate("100 ms").GetState()["n_spikes"]  # doctest: +SKIP
        7
        """
        if self.closed:
            raise InputError(f"neuron {self.id} was shut down; create or load a new one")
        steps = self.steps_of(dt, "dt")
        if steps < 1:
            raise InputError(f"dt must be at least one time step ({self.dt * 1e3:g} ms), got {dt!r}")
        if np.ndim(self.inputs) != 1:
            raise InputError("the present input is a batch: present one vector (ProcInput) before Integrate")
        drive = self.drive()
        if self.pulse_length > 0:
            remaining = self._input_since + self.pulse_length - self.t
            on = int(np.clip(round(remaining / self.dt), 0, steps))
            self._advance(on, drive)
            self._advance(steps - on, 0.0)
        else:
            self._advance(steps, drive)
        return self

    def Leakage(self, rate: WithUnits) -> SignalProcessing:
        """Set how fast the membrane potential decays towards rest: ``rate = 1/tau`` (a rate,
        ``"50 Hz"``, or a number per second). The model's membrane time constant ``tau_m`` is
        set to ``1/rate``, or, for conductance models, ``g_L`` to ``rate * C_m``. Takes effect
        from now on (the state carries over).

        Examples
        --------
        >>> SourcedNeuron("lif").Leakage("50 Hz").model.parameter_values()["tau_m"]  # doctest: +SKIP
        20. * msecond
        """
        value = _per_second(rate)
        if value <= 0:
            raise InputError(f"the leak rate must be positive, got {rate!r}")
        names = self.model.parameter_names
        if "tau_m" in names:
            change = {"tau_m": 1.0 / value * pq.s}
        elif "g_L" in names and "C_m" in names:
            capacitance = self.model.parameter_values()["C_m"]
            change = {"g_L": float(capacitance) * value * pq.S}
        else:
            raise InputError(
                f"model {self.model.name!r} has no leak to set: it needs a parameter tau_m, or g_L and C_m "
                f"(it has {', '.join(names)})"
            )
        self.change_model(self.model.with_parameters(change))
        return self

    def SynapticDelay(self, delay: Duration | None = None) -> Any:
        """Set the lag between an input's arrival and its effect on the membrane (whole time
        steps; from now on: input already in flight under an earlier delay is dropped), or,
        without an argument, return the present lag.

        Examples
        --------
        >>> SourcedNeuron("lif").SynapticDelay("1.5 ms").SynapticDelay()
        array(1.5) * ms
        """
        if delay is None:
            return self.delay * 1e3 * pq.ms
        steps = self.steps_of(delay, "delay")
        self.change_model(self.model)
        if steps != round(self.delay / self.dt):
            self.history.in_flight = np.zeros(0)
        self.delay = steps * self.dt
        self._invalidate()
        return self

    def ScaleInput(self, s: float) -> SignalProcessing:
        """Multiply every incoming signal by ``s`` before it is weighted.

        Examples
        --------
        >>> SourcedNeuron("lif", n_inputs=2).ScaleInput(0.5).ProcInput([4.0, 2.0])
        array([2., 1.])
        """
        (value,) = finite_vector(s, "input scale", 1)
        self.input_scale = float(value)
        return self

    def BiasShift(self, s: float) -> SignalProcessing:
        """Shift the activation function along the x axis: the output becomes ``f(z - s)``.

        Examples
        --------
        >>> n = SourcedNeuron("lif", n_inputs=1, activation="relu").BiasShift(1.0); n.ProcInput([3.0]); n.output()
        2.0
        """
        (value,) = finite_vector(s, "activation shift", 1)
        self.activation_shift = float(value)
        return self

    def PulseSync(self, period: Duration = "10 ms", phase: Duration = "0 ms") -> dict[str, Any]:
        """Align the neuron with a global clock of ``period``: integrate (with the present input)
        up to the clock's next tick (``t = k * period + phase``), and measure how the spikes so far
        lock to that clock: the vector strength (Goldberg & Brown 1969; 1 when every spike falls
        at the same phase, near 0 without locking) and the mean phase.

        Returns
        -------
        dict
            ``waited`` (ms integrated to reach the tick), ``t`` (ms), ``vector_strength``,
            ``mean_phase`` (radians, spikes relative to the ticks).

        Examples
        --------
        >>> neuron.PulseSync("25 ms")["vector_strength"]  # doctest: +SKIP
        0.98
        """
        cycle = seconds(period, "period")
        offset = seconds(phase, "phase")
        if cycle <= 0:
            raise InputError(f"period must be positive, got {period!r}")
        cycle_steps = self.steps_of(cycle * pq.s, "period")
        offset_steps = self.steps_of(offset * pq.s, "phase") % cycle_steps
        now = round(self.t / self.dt)
        wait = (offset_steps - now) % cycle_steps
        if wait:
            self.Integrate(wait * self.dt * pq.s)
        times = self.spike_times()
        angles = 2 * np.pi * (times - offset) / cycle
        vector = np.mean(np.exp(1j * angles)) if len(times) else 0j
        return {
            "waited": wait * self.dt * 1e3 * pq.ms,
            "t": self.t * 1e3 * pq.ms,
            "vector_strength": float(abs(vector)),
            "mean_phase": float(np.angle(vector)) if len(times) else float("nan"),
        }

    def ParallelSum(self, batch: Inputs | None = None, workers: int | None = None) -> np.ndarray:
        """The weighted sums of a batch of inputs (default: the present batch) computed in
        parallel: the batch is split into one block per worker thread, and NumPy's matrix
        product, which releases the interpreter lock, runs the blocks at the same time. Equal
        to ``SumSignals`` on the same batch.

        Parameters
        ----------
        batch : array (n, n_inputs), optional
        workers : int, optional
            Threads (default: the machine's cores).

        Examples
        --------
        >>> SourcedNeuron("lif", n_inputs=2).SetWeight([1, 2]).ParallelSum([[1, 1], [2, 0]])
        array([3., 2.])
        """
        x = np.atleast_2d(np.asarray(self.inputs if batch is None else batch, dtype=float))
        n = len(self.weights)
        if x.ndim != 2 or x.shape[1] != n or not np.all(np.isfinite(x)):
            raise InputError(f"ParallelSum needs a finite batch of shape (rows, {n}), got {x.shape}")
        count = workers if workers is not None else (os.cpu_count() or 1)
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise InputError(f"workers must be a positive integer, got {workers!r}")
        blocks = np.array_split(np.arange(len(x)), min(count, len(x)))
        threads: set[int] = set()

        def block_sum(rows: np.ndarray) -> np.ndarray:
            threads.add(threading.get_ident())
            return self.weighted_sum(x[rows])

        with ThreadPoolExecutor(max_workers=len(blocks)) as pool:
            parts = list(pool.map(block_sum, blocks))
        self.parallel_threads = len(threads)
        return np.concatenate([np.atleast_1d(p) for p in parts])


def _per_second(rate: Any) -> float:
    """A rate (``"50 Hz"``, a quantity, or a plain number per second) in 1/s."""
    from sourced_neuron.spec.parts import SECOND
    from sourced_neuron.spec.units import as_quantity

    if isinstance(rate, int | float | np.number) and not isinstance(rate, bool):
        value = float(rate)
    else:
        value = float(as_quantity(rate, "leak rate", SECOND**-1))
    if not np.isfinite(value):
        raise InputError(f"the leak rate must be finite, got {rate!r}")
    return value
