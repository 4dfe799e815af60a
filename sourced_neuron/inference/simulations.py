"""The experiment a posterior is trained for, and its stored simulations.

A :class:`Protocol` is the observation model: the model is driven by a fixed stimulus for a fixed
duration, and what is observed is

* the membrane potential sampled every ``record_every`` steps (the simulator itself records at that
  rate: the sample at ``t = j * record_every * dt`` is the state at the start of that step, as
  :func:`sourced_neuron.simulate` records it), plus independent Gaussian noise of standard
  deviation ``noise`` on every sample; and
* the spike times, exactly (spiking models).

The sampling rule: ``record_every = ceil(n_steps / trace_samples)``, so a trace holds at most
``trace_samples`` samples (100 by default: a 1 s trace at ``dt`` 0.1 ms is sampled every 10 ms;
100,000 full-resolution traces would take 8 GB, these take 40 MB).

:class:`SimulationStore` simulates parameter sets drawn from the prior in batches (one population,
one neuron per set, :class:`~sourced_neuron.experiments.batch.Batch`; on Dask when a client is
given) and keeps them in a folder, one ``part-NNNNNN.npz`` per batch, written whole or not at all.
The draws for a seed are a fixed sequence, so a store grows: asking for more simulations
simulates only the missing parts, and training again, with another summary network, reuses them.
The noise is not stored; it is drawn at training time from the seed.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import neo
import numpy as np
import quantities as pq

from sourced_neuron.common.cache import cache_root, write_file
from sourced_neuron.common.errors import InputError, StorageError
from sourced_neuron.experiments.batch import Batch
from sourced_neuron.experiments.cluster import run_tasks
from sourced_neuron.experiments.sweep import run_isolating
from sourced_neuron.inference.prior import Prior
from sourced_neuron.results.io import read_block
from sourced_neuron.spec.library import load_model
from sourced_neuron.spec.model import NeuronModel
from sourced_neuron.spec.units import as_scalar

__all__ = ["BATCH_SIZE", "TRACE_SAMPLES", "Protocol", "SimulationStore", "Simulations"]

#: Default upper bound on the samples of one observed trace.
TRACE_SAMPLES = 100

#: Parameter sets per simulated batch (and per stored part): on brian2-cpp each batch pays a
#: ``make`` and a start of the program (about 0.4 s), so batches of 10,000 keep that below 1 %
#: of a 1 s model's run; 10 batches of 100,000 still keep two workers busy.
BATCH_SIZE = 10_000

_MANIFEST = "_simulations.json"


@dataclass(frozen=True, eq=False)
class Protocol:
    """The experiment and observation model a posterior is trained for (see the module)."""

    batch: Batch
    variable: str  # the recorded membrane potential
    noise: float  # standard deviation of the additive noise, SI (volts)

    @classmethod
    def make(
        cls,
        model: NeuronModel | str | Path,
        *,
        stimulus: Any,
        duration: Any,
        backend: str = "brian2-cpp",
        preset: str | None = None,
        dt: Any = None,
        noise: Any = "1 mV",
        trace_samples: int = TRACE_SAMPLES,
    ) -> Protocol:
        """Check the experiment (as :func:`sourced_neuron.simulate` checks its arguments).

        Raises
        ------
        InputError, UnitError, BackendUnavailableError, UnsupportedFeatureError
            Before anything is simulated.
        """
        if not isinstance(model, NeuronModel):
            model = load_model(model)
        variable = model.membrane_potential
        if variable is None:
            raise InputError(f"model {model.name!r} has no membrane potential (a state variable in volts) to observe")
        if isinstance(trace_samples, bool) or not isinstance(trace_samples, int) or trace_samples < 2:
            raise InputError(f"trace_samples must be a whole number >= 2, got {trace_samples!r}")
        sigma = float(np.asarray(as_scalar(noise, "noise", model.dimension_of(variable))))
        if not sigma >= 0:
            raise InputError(f"noise must be >= 0 (the standard deviation of the noise on the trace), got {noise!r}")
        batch = Batch.make(
            model, duration=duration, stimulus=stimulus, backend=backend, preset=preset, dt=dt, record=[variable]
        )
        every = math.ceil(batch.request.n_steps / trace_samples)  # >= 1
        return cls(replace(batch, record_every=every), variable, sigma)

    @property
    def model(self) -> NeuronModel:
        """The model with its preset and ``dt`` applied."""
        return self.batch.model

    @property
    def sampling_period(self) -> float:
        """Seconds between two samples of the observed trace."""
        return self.batch.request.dt * self.batch.record_every

    @property
    def n_samples(self) -> int:
        """Samples in one observed trace."""
        return self.batch.n_samples

    @property
    def duration(self) -> float:
        """Seconds."""
        return self.batch.request.n_steps * self.batch.request.dt

    @property
    def spiking(self) -> bool:
        """Whether spike times are part of the observation."""
        return self.model.threshold is not None

    def with_backend(self, backend: str) -> Protocol:
        """The same experiment simulated on another backend."""
        return Protocol.from_description({**self.describe(), "backend": backend})

    # --- as data -------------------------------------------------------------------------------

    def describe(self) -> dict[str, Any]:
        """The protocol as JSON-able data (the model file's text included)."""
        request = self.batch.request
        return {
            "model_yaml": self.model.to_yaml(),
            "model": self.model.name,
            "model_hash": self.model.content_hash,
            "stimulus": _stimulus_data(request.stimulus),
            "stimulus_text": request.stimulus.describe(),
            "duration_s": self.duration,
            "dt_s": request.dt,
            "record_every": self.batch.record_every,
            "trace_samples": self.n_samples,
            "sampling_period_s": self.sampling_period,
            "backend": self.batch.backend,
            "variable": self.variable,
            "noise_si": self.noise,
        }

    @classmethod
    def from_description(cls, data: Mapping[str, Any]) -> Protocol:
        """The protocol :meth:`describe` wrote."""
        from brian2 import second

        model = NeuronModel.from_yaml(data["model_yaml"], f"<stored model {data['model']}>")
        batch = Batch.make(
            model,
            duration=data["duration_s"] * second,
            stimulus=_stimulus_user(data["stimulus"]),
            backend=data["backend"],
            dt=data["dt_s"] * second,
            record=[data["variable"]],
            record_every=int(data["record_every"]),
        )
        return cls(batch, data["variable"], float(data["noise_si"]))

    # --- observations --------------------------------------------------------------------------

    def simulate_observation(
        self,
        params: Mapping[str, Any] | None = None,
        *,
        model: NeuronModel | str | Path | None = None,
        preset: str | None = None,
        seed: int | None = 0,
        backend: str = "brian2",
    ) -> neo.Block:
        """Simulate this experiment and observe it: the trace at the protocol's sampling period with
        the observation noise added (drawn from ``seed``), and the spike train.

        Parameters
        ----------
        params : mapping, optional
            Parameter values with units (the others are the model's).
        model : optional
            Another model observed through the same experiment (for example to check that
            typicality flags it); the protocol's model by default.
        preset, seed, backend
            The other model's preset; the noise's seed; where to simulate.

        Returns
        -------
        neo.Block
            As :func:`sourced_neuron.simulate` returns it, with the noisy trace.
        """
        from brian2 import second

        from sourced_neuron.run.simulation import simulate

        request = self.batch.request
        block = simulate(
            self.model if model is None else model,
            backend=backend,
            duration=self.duration * second,
            preset=preset,
            params=params,
            stimulus=_stimulus_user(_stimulus_data(request.stimulus)),
            record=[self.variable],
            dt=request.dt * second,
        )
        segment = block.segments[0]
        signal = next(s for s in segment.analogsignals if _is_variable(s, self.variable))
        values = np.asarray(signal.rescale("V").magnitude, dtype=float)[:: self.batch.record_every]
        noisy = values + self.noise * np.random.default_rng(seed).standard_normal(values.shape)
        observed = neo.AnalogSignal(
            noisy * pq.V,
            sampling_period=self.sampling_period * pq.s,
            t_start=signal.t_start,
            name=signal.name,
        ).rescale(signal.units)
        observed.annotate(**signal.annotations, observation_noise_V=self.noise, noise_seed=seed)
        observed.array_annotate(**signal.array_annotations)
        segment.analogsignals = [s for s in segment.analogsignals if s is not signal] + [observed]
        observed.segment = segment
        return block

    def observe(self, observation: Any, spikes: Any = None) -> tuple[np.ndarray, np.ndarray]:
        """The observed trace (SI, shape ``(n_samples,)``) and spike times (seconds) of an
        observation: a ``neo.AnalogSignal`` (with ``spikes`` given for a spiking model), a
        ``neo.Segment`` or ``neo.Block`` from any backend, or a NIX/NWB file written by the library.

        A trace sampled ``m`` times finer than the protocol (for example every ``dt``, as
        :func:`sourced_neuron.simulate` records it) is taken every ``m``-th sample: the same
        instants the simulator records.

        Raises
        ------
        InputError
            A duration or sampling period other than the protocol's, a missing trace or spike
            train, or several neurons in one observation; each saying what differs.
        """
        segment = _segment(observation)
        if isinstance(observation, neo.AnalogSignal):
            signal = observation
        else:
            signals = [s for s in segment.analogsignals if _is_variable(s, self.variable)] or [
                s for s in segment.analogsignals if s.dimensionality.simplified == pq.V.simplified.dimensionality
            ]
            if not signals:
                raise InputError(f"the observation has no {self.variable!r} trace (an AnalogSignal in volts)")
            signal = signals[0]
        if signal.ndim == 2 and signal.shape[1] != 1:
            raise InputError(
                f"the observation's trace holds {signal.shape[1]} neurons; give one neuron's trace (signal[:, [k]])"
            )
        values = np.asarray(signal.rescale("V").magnitude, dtype=float).reshape(-1)
        period = float(signal.sampling_period.rescale("s").magnitude)
        ratio = self.sampling_period / period
        step = round(ratio)
        if step < 1 or abs(ratio - step) > 1e-6 * ratio:
            raise InputError(
                f"the observation is sampled every {period * 1e3:g} ms; this posterior was trained on traces sampled "
                f"every {self.sampling_period * 1e3:g} ms (give a trace sampled at that period or a whole fraction "
                "of it)"
            )
        start = float(signal.t_start.rescale("s").magnitude)
        duration = len(values) * period
        if abs(start) > 1e-9 or abs(duration - self.duration) > 0.5 * period:
            raise InputError(
                f"the observation lasts {duration * 1e3:g} ms from t = {start * 1e3:g} ms; this posterior was trained "
                f"on {self.duration * 1e3:g} ms from t = 0 (the same stimulus and duration are needed)"
            )
        trace = values[::step][: self.n_samples]
        if not np.all(np.isfinite(trace)):
            raise InputError("the observation's trace holds infinite or NaN values")
        times = np.zeros(0)
        if self.spiking:
            trains = list(spikes) if spikes is not None else list(segment.spiketrains) if segment is not None else []
            if spikes is not None and hasattr(spikes, "rescale"):
                trains = [spikes]
            if not trains:
                raise InputError(
                    f"model {self.model.name!r} spikes and the observation has no spike train: give a Neo block or "
                    "segment with its spike train, or spikes= with the spike times"
                )
            if len(trains) > 1:
                raise InputError(f"the observation holds {len(trains)} spike trains; give one neuron's")
            train = trains[0]
            times = (
                np.asarray(train.rescale("s").magnitude, dtype=float)
                if hasattr(train, "rescale")
                else np.asarray(as_scalar(train, "spikes", model_dimension_time()), dtype=float).reshape(-1)
            )
        return trace, times


def _is_variable(signal: neo.AnalogSignal, variable: str) -> bool:
    """Whether ``signal`` records ``variable`` (the library names it ``<population>.<variable>``)."""
    return signal.annotations.get("variable") == variable or str(signal.name).split(".")[-1] == variable


def model_dimension_time():
    """The dimension of seconds (spike times given without Neo)."""
    from brian2 import second

    return second.dim


def _segment(observation: Any) -> neo.Segment | None:
    if isinstance(observation, str | Path):
        path = Path(observation)
        if not path.exists():
            raise InputError(f"observation file {str(path)!r} does not exist")
        observation = read_block(path)
    if isinstance(observation, neo.Block):
        if not observation.segments:
            raise InputError("the observation's Neo block has no segment")
        return observation.segments[0]
    if isinstance(observation, neo.Segment):
        return observation
    if isinstance(observation, neo.AnalogSignal):
        return observation.segment
    raise InputError(
        "an observation is a neo.AnalogSignal, a neo.Segment or neo.Block, or the path of a NIX/NWB file written by "
        f"the library; got {type(observation).__name__}"
    )


def _stimulus_data(stimulus) -> dict[str, Any]:
    def si(value):
        return None if value is None else np.asarray(value, dtype=float).tolist()

    return {
        "kind": stimulus.kind,
        "amplitude": si(stimulus.amplitude),
        "start": si(stimulus.start),
        "stop": si(stimulus.stop),
        "sampling_period": si(stimulus.sampling_period),
    }


def _stimulus_user(data: Mapping[str, Any]) -> Any:
    from brian2 import amp, second

    kind = data["kind"]
    if kind == "none":
        return None
    amplitude = np.asarray(data["amplitude"]) * amp
    if kind == "constant":
        return amplitude
    if kind == "step":
        step = {"start": data["start"] * second, "amplitude": amplitude}
        if data["stop"] is not None:
            step["stop"] = data["stop"] * second
        return step
    return {"samples": amplitude, "sampling_period": data["sampling_period"] * second}


# --- the stored simulations ------------------------------------------------------------------------


@dataclass(eq=False)
class Simulations:
    """Simulated parameter sets (SI), their noiseless traces and spike times.

    Attributes
    ----------
    theta : numpy.ndarray
        ``(n, n_parameters)``.
    traces : numpy.ndarray
        ``(n, n_samples)``, float32, volts.
    spike_counts : numpy.ndarray
        ``(n,)``.
    spike_times : numpy.ndarray
        All spike times, set after set (``np.split`` at the cumulative counts gives each set's).
    failed : numpy.ndarray
        ``(n,)`` bool: sets whose state became non-finite or whose simulation failed (their
        traces are NaN; they are left out of training).
    """

    theta: np.ndarray
    traces: np.ndarray
    spike_counts: np.ndarray
    spike_times: np.ndarray
    failed: np.ndarray

    def __len__(self) -> int:
        return len(self.theta)

    def spikes(self) -> list[np.ndarray]:
        """Per set, its spike times."""
        return np.split(self.spike_times, np.cumsum(self.spike_counts)[:-1]) if len(self) else []

    def select(self, keep: np.ndarray) -> Simulations:
        """The sets where ``keep`` (a mask or indices) says so."""
        keep = np.arange(len(self))[keep]
        trains = self.spikes()
        chosen = [trains[k] for k in keep]
        return Simulations(
            self.theta[keep],
            self.traces[keep],
            self.spike_counts[keep],
            np.concatenate(chosen) if chosen else np.zeros(0),
            self.failed[keep],
        )

    @classmethod
    def join(cls, parts: list[Simulations]) -> Simulations:
        """Sets of several parts, in order."""
        return cls(*(np.concatenate([getattr(p, f) for p in parts]) for f in _FIELDS))


_FIELDS = ("theta", "traces", "spike_counts", "spike_times", "failed")


def simulate_part(batch: Batch, names: tuple[str, ...], rows: np.ndarray, pad: int) -> Simulations:
    """Simulate one batch of parameter sets (a Dask task): their traces and spikes."""
    run = run_isolating(batch, names, rows, pad)
    variable = batch.request.record[0]
    traces = np.ascontiguousarray(run.signals[variable].T, dtype=np.float32)
    failed = np.zeros(len(rows), dtype=bool)
    failed[list(run.failed)] = True
    failed |= ~np.all(np.isfinite(traces), axis=1)
    counts = np.array([0 if failed[k] else len(s) for k, s in enumerate(run.spikes)], dtype=np.int64)
    kept = [s for k, s in enumerate(run.spikes) if not failed[k]]
    times = np.concatenate(kept) if kept else np.zeros(0)
    return Simulations(np.asarray(rows, dtype=float), traces, counts, times, failed)


class SimulationStore:
    """Simulations of one protocol from one prior and seed, kept in ``folder`` (see the module).

    Parameters
    ----------
    folder : path or None
        Where the parts live; ``None`` keeps them in the library's cache
        (``$SOURCED_NEURON_CACHE/inference/<digest>``), so the same call finds them again.
    protocol, prior
        The experiment, and the prior (bound to the protocol's model).
    seed : int
        The draws: set ``k`` of the store is the ``k``-th draw of ``prior.sample(..., seed)``.
    batch_size : int
        Sets per simulated batch (and per stored part).
    """

    def __init__(
        self,
        folder: str | Path | None,
        protocol: Protocol,
        prior: Prior,
        seed: Any,
        batch_size: int = BATCH_SIZE,
    ) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise InputError(f"batch_size must be a whole number >= 1, got {batch_size!r}")
        self.protocol, self.prior, self.seed, self.batch_size = protocol, prior, seed, batch_size
        description = protocol.describe()
        self.fingerprint = {
            "model_hash": description["model_hash"],
            "protocol": {k: v for k, v in description.items() if k not in ("model_yaml", "noise_si")},
            "prior": prior.describe(),
            "seed": seed if isinstance(seed, int) else list(seed),
            "batch_size": batch_size,
        }
        if folder is None:
            digest = hashlib.sha256(json.dumps(self.fingerprint, sort_keys=True).encode()).hexdigest()[:24]
            folder = cache_root() / "inference" / digest
        self.folder = Path(folder)

    def _open(self) -> None:
        manifest = self.folder / _MANIFEST
        if self.folder.exists() and not self.folder.is_dir():
            raise InputError(f"{str(self.folder)!r} is a file; simulations are kept in a folder")
        try:
            if manifest.exists():
                held = json.loads(manifest.read_text())
                if held != self.fingerprint:
                    changed = sorted(k for k in self.fingerprint if held.get(k) != self.fingerprint[k])
                    detail = [
                        f"{k}.{j}"
                        for k in changed
                        if isinstance(self.fingerprint[k], dict)
                        for j in self.fingerprint[k]
                        if held.get(k, {}).get(j) != self.fingerprint[k][j]
                    ]
                    raise InputError(
                        f"{str(self.folder)!r} holds simulations of another experiment (they differ in: "
                        f"{', '.join(detail or changed)}); give another out folder, or delete it to start again"
                    )
            else:
                self.folder.mkdir(parents=True, exist_ok=True)
                write_file(manifest, json.dumps(self.fingerprint, indent=1))
        except OSError as exc:
            raise StorageError(f"cannot write the simulations' folder {str(self.folder)!r}: {exc}") from exc

    def _part(self, k: int) -> Path:
        return self.folder / f"part-{k:06d}.npz"

    def _read(self, k: int, needed: int) -> Simulations | None:
        try:
            with np.load(self._part(k)) as data:
                part = Simulations(*(data[f] for f in _FIELDS))
        except (OSError, ValueError, KeyError):  # damaged: simulated again
            self._part(k).unlink(missing_ok=True)
            return None
        return part if len(part) >= needed else None

    def _write(self, k: int, part: Simulations) -> None:
        buffer = io.BytesIO()
        np.savez(buffer, **{f: getattr(part, f) for f in _FIELDS})
        try:
            write_file(self._part(k), buffer.getvalue())
        except OSError as exc:
            raise StorageError(f"cannot write part {k} of the simulations to {str(self.folder)!r}: {exc}") from exc

    def load(
        self,
        n: int,
        client: Any = None,
        progress: Callable[[int], None] | None = None,
    ) -> tuple[Simulations, dict[str, Any]]:
        """The first ``n`` sets, simulating the parts not stored yet (on ``client``: a Dask
        client, ``None`` to run them here, or a function returning either, called only when
        something is left to simulate). Returns the simulations and what it cost (``simulated``,
        ``seconds``).
        ``progress(count)`` is called with the sets found stored, then with each batch's sets.

        Raises
        ------
        SimulationError
            When every batch failed (the first error); a batch that failed after its retries
            while others ran is reported in the returned info and its sets marked failed.
        """
        import time

        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise InputError(f"the number of simulations must be a whole number >= 1, got {n!r}")
        self._open()
        size = self.batch_size
        bounds = [(k, start, min(start + size, n)) for k, start in enumerate(range(0, n, size))]
        parts: dict[int, Simulations] = {}
        for k, start, stop in bounds:
            # part k holds sets k*size onwards: all batch_size of them, or fewer when it was the
            # last part of a smaller store (then it is simulated again, whole, when more are needed)
            held = self._read(k, stop - start) if self._part(k).exists() else None
            if held is not None:
                parts[k] = held.select(slice(0, stop - start))
        todo = [(k, start, stop) for k, start, stop in bounds if k not in parts]
        if callable(client) and not hasattr(client, "submit"):  # a factory, not a Client
            client = client() if todo else None
        names = self.prior.names
        full = self.prior.sample(n, self.seed)
        # every whole part is padded to batch_size (one compiled program on brian2-cpp); a last,
        # shorter part runs as it is
        jobs = [(k, (self.protocol.batch, names, full[start:stop], stop - start)) for k, start, stop in todo]
        started, errors, done = time.perf_counter(), {}, n - sum(stop - start for _, start, stop in todo)
        if progress is not None:
            progress(done)
        for k, outcome in run_tasks(client, simulate_part, jobs, retries=2 if client is not None else 0):
            start, stop = bounds[k][1], bounds[k][2]
            if isinstance(outcome, BaseException):
                errors[k] = outcome
                part = _failed(full[start:stop], self.protocol.n_samples)
            else:
                part = outcome
                self._write(k, part)
            parts[k] = part.select(slice(0, stop - start))
            if progress is not None:
                progress(stop - start)
        if errors and len(errors) == len(todo):
            raise errors[min(errors)]
        result = Simulations.join([parts[k] for k, _, _ in bounds])
        info = {
            "simulated": sum(stop - start for _, start, stop in todo),
            "seconds": time.perf_counter() - started,
            "failed_batches": {int(k): f"{type(e).__name__}: {e}" for k, e in errors.items()},
        }
        return result, info


def _failed(rows: np.ndarray, n_samples: int) -> Simulations:
    n = len(rows)
    return Simulations(
        np.asarray(rows, dtype=float),
        np.full((n, n_samples), np.nan, dtype=np.float32),
        np.zeros(n, dtype=np.int64),
        np.zeros(0),
        np.ones(n, dtype=bool),
    )
