"""Batched simulation: many parameter sets as one population, one neuron per set, in one run.

A :class:`Batch` is a checked description of the runs a sweep, a sensitivity analysis or a fit
makes of one model (stimulus, duration, backend, what to record); :meth:`Batch.run` simulates a
block of parameter sets (:class:`~sourced_neuron.experiments.space.ParameterSpace` rows) as one
population in which every varied parameter, initial value and current amplitude is a per-neuron
value. Neurons are unconnected, so each set's spikes and traces are those of
:func:`sourced_neuron.simulate` for that set alone (deterministic models; a model with noise
draws each neuron's own stream). On ``brian2-cpp`` the compiled project depends on the number
of neurons and not on the values (:mod:`~sourced_neuron.backends.brian2_standalone`): a batch
is padded to its nominal size so that every batch of a sweep, in any process, runs one program
(and, on ``brian2``, derives its integrator once).

A set whose state becomes infinite or NaN is reported in :attr:`BatchRun.failed` with the reason;
the others are simulated again without it when the simulator stopped early (docs/semantics.md,
"Non-finite states"), so one bad set never loses the batch.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

import neo
import numpy as np

from sourced_neuron.backends import (
    NetworkSpec,
    PopulationSpec,
    RunResult,
    SimulationRequest,
    check_backend_grid,
    check_backend_method,
    get_backend,
)
from sourced_neuron.common.errors import InputError, UnsupportedFeatureError
from sourced_neuron.experiments.space import ParameterSpace
from sourced_neuron.results.blocks import simulation_block
from sourced_neuron.run.simulation import prepare
from sourced_neuron.spec.parts import INPUT
from sourced_neuron.spec.stimulus import Stimulus

__all__ = ["Batch", "BatchRun"]


@dataclass(eq=False)
class BatchRun:
    """What one batch gave, per parameter set (SI units).

    Attributes
    ----------
    spikes : list of numpy.ndarray
        Per set, its spike times (seconds).
    signals : dict
        Recorded variable to an array of shape ``(n_samples, n_sets)``.
    failed : dict
        Set (index in the batch) to the reason it has no result (a non-finite state).
    """

    spikes: list[np.ndarray]
    signals: dict[str, np.ndarray] = field(default_factory=dict)
    failed: dict[int, str] = field(default_factory=dict)


@dataclass(frozen=True, eq=False)
class Batch:
    """The runs of one experiment: a model, its input, duration, backend and recording.

    Make it with :meth:`make`; it is plain data (it travels to Dask workers by pickle).
    """

    request: SimulationRequest  # one neuron: the model with preset and dt, the stimulus as given
    backend: str
    preset: str | None
    stimulus: Any  # as the user gave it (per-set amplitudes replace its amplitude)
    record_every: int = 1  # record the variables every this many steps

    @classmethod
    def make(
        cls,
        model: Any,
        *,
        duration: Any,
        stimulus: Any = None,
        backend: str = "brian2",
        preset: str | None = None,
        record: Iterable[str] | str | None = (),
        dt: Any = None,
        seed: int | None = None,
        check_finite: bool = True,
        record_every: int = 1,
    ) -> Batch:
        """Check everything a batch needs before any simulation (the arguments of
        :func:`sourced_neuron.simulate`) and the backend's capabilities. ``record_every``: the
        recorded variables are sampled every this many steps, by the simulator itself.

        Raises
        ------
        InputError, UnitError, BackendUnavailableError, UnsupportedFeatureError
            As :func:`sourced_neuron.simulate` would, before anything is simulated.
        """
        request = prepare(model, duration, preset, None, stimulus, 1, record, dt, seed, check_finite)
        engine = get_backend(backend)
        capabilities = engine.capabilities()
        check_backend_method(capabilities, request.model, backend)
        if request.stimulus.kind not in capabilities.stimuli:
            raise UnsupportedFeatureError(f"backend {backend!r} does not take a {request.stimulus.kind} stimulus")
        check_backend_grid(capabilities, request.dt, backend)
        if isinstance(record_every, bool) or not isinstance(record_every, int | np.integer) or record_every < 1:
            raise InputError(f"record_every must be a whole number of steps >= 1, got {record_every!r}")
        return cls(request, backend, preset, stimulus, int(record_every))

    @property
    def n_samples(self) -> int:
        """Samples of each recorded variable per set."""
        return -(-self.request.n_steps // self.record_every)

    @property
    def model(self):
        """The model with the preset and ``dt`` applied."""
        return self.request.model

    def check_space(self, space: ParameterSpace) -> None:
        """Refuse varied names this batch cannot vary (the current of a sampled stimulus)."""
        if INPUT in space.names and self.request.stimulus.kind == "sampled":
            raise InputError(
                f"{INPUT} can be varied with a constant or step stimulus; this stimulus is a sampled current "
                "(scale it in the model instead)"
            )

    def run(self, names: tuple[str, ...], values: np.ndarray, pad_to: int | None = None) -> BatchRun:
        """Simulate the parameter sets ``values`` (shape ``(n_sets, len(names))``, SI) in one run.

        Parameters
        ----------
        names : tuple of str
            The varied names (parameters, initial values, ``I_ext``).
        values : numpy.ndarray
            One row per set.
        pad_to : int, optional
            Simulate this many neurons (copies of the first set fill the rest), so that batches
            of different sizes run the same compiled program.

        Returns
        -------
        BatchRun
        """
        values = np.asarray(values, dtype=float).reshape(-1, len(names))
        n_sets = values.shape[0]
        keep = np.arange(n_sets)
        failed: dict[int, str] = {}
        while True:
            size = max(pad_to or 0, len(keep))
            rows = np.concatenate([values[keep], np.repeat(values[keep[:1]], size - len(keep), axis=0)])
            spec = self.network(names, rows)
            result = get_backend(self.backend).run_network(spec)[spec.populations[0].name]
            bad = _bad_neurons(result, len(keep), spec.dt)
            if not bad:
                return self._split(result, keep, n_sets, failed)
            failed.update({int(keep[k]): reason for k, reason in bad.items()})
            keep = np.array([k for k in keep if k not in failed], dtype=int)
            if not len(keep):
                empty = {name: np.full((self.n_samples, n_sets), np.nan) for name in self.request.record}
                return BatchRun([np.zeros(0) for _ in range(n_sets)], empty, failed)

    def network(self, names: tuple[str, ...], rows: np.ndarray) -> NetworkSpec:
        """The run of one batch: one population, a neuron per row."""
        request, model = self.request, self.request.model
        size = rows.shape[0]
        columns = {name: rows[:, k].copy() for k, name in enumerate(names)}
        parameters = {k: v for k, v in columns.items() if k in model.parameter_names}
        initial = model.initial_arrays(parameters, size)
        initial.update({k: v for k, v in columns.items() if k not in parameters and k != INPUT})
        stimulus = self._stimulus(columns.get(INPUT), size)
        population = PopulationSpec(
            model.name,
            model,
            size,
            parameters,
            initial,
            stimulus,
            tuple(request.record),
            model.threshold is not None,
            self.record_every,
        )
        return NetworkSpec([population], [], [], request.dt, request.n_steps, request.seed, request.check_finite)

    def _stimulus(self, amplitudes: np.ndarray | None, size: int) -> Stimulus:
        given = self.request.stimulus
        if amplitudes is None:
            if given.kind in ("constant", "step") and np.ndim(given.amplitude):
                raise InputError("a sweep's stimulus takes one amplitude; vary I_ext to give each set its own")
            return given
        from brian2 import amp

        amplitude = amplitudes * amp
        if given.kind == "step":
            return replace(given, amplitude=amplitude)
        return Stimulus("constant", amplitude)

    def _split(self, result: RunResult, keep: np.ndarray, n_sets: int, failed: dict[int, str]) -> BatchRun:
        order = np.argsort(result.spike_indices, kind="stable")
        indices, times = result.spike_indices[order], result.spike_times[order]
        bounds = np.searchsorted(indices, np.arange(len(keep) + 1))
        spikes = [np.zeros(0) for _ in range(n_sets)]
        for position, k in enumerate(keep):
            spikes[k] = times[bounds[position] : bounds[position + 1]].copy()
        signals = {}
        for name, array in result.signals.items():
            full = np.full((array.shape[0], n_sets), np.nan)
            full[:, keep] = array[:, : len(keep)]
            signals[name] = full
        return BatchRun(spikes, signals, dict(failed))

    # --- one set as simulate gives it ----------------------------------------------------------

    def set_request(self, names: tuple[str, ...], row: np.ndarray) -> SimulationRequest:
        """The request :func:`sourced_neuron.simulate` makes for one set (its values as
        parameters and initial values, its current as the stimulus's amplitude)."""
        from brian2 import Quantity

        model = self.request.model
        values = {}
        for name, value in zip(names, row, strict=True):
            if name != INPUT:
                values[name] = Quantity(value, dim=model.dimension_of(name))
        current = dict(zip(names, row, strict=True)).get(INPUT)
        stimulus = self.request.stimulus if current is None else self._stimulus(np.array([current]), 1)
        if stimulus.kind in ("constant", "step") and np.ndim(stimulus.amplitude):
            stimulus = replace(stimulus, amplitude=stimulus.amplitude[0])
        return replace(self.request, model=model.with_parameters(values), stimulus=stimulus)

    def set_block(self, names: tuple[str, ...], row: np.ndarray, run: BatchRun, k: int) -> neo.Block:
        """Set ``k`` of a batch as the block :func:`sourced_neuron.simulate` returns for it alone."""
        request = self.set_request(names, row)
        spikes = run.spikes[k]
        result = RunResult(
            np.zeros(len(spikes), dtype=int),
            np.asarray(spikes, dtype=float),
            {name: array[:, k : k + 1] for name, array in run.signals.items()},
            {"batch": True},
        )
        return simulation_block(request, result, self.backend, self.preset)


def _bad_neurons(result: RunResult, n_real: int, dt: float) -> dict[int, str]:
    """Neurons (of the first ``n_real``) that stored a non-finite state, with the reason."""
    found = result.nonfinite
    if found is None:
        return {}
    neurons = found.neurons or (found.neuron,)
    bad = {}
    for k in neurons:
        if k < n_real:
            bad[int(k)] = "a state variable became infinite or NaN" + (
                f" ({', '.join(found.variables)} at t = {found.time * 1e3:.6g} ms)" if k == found.neuron else ""
            )
    if not bad:  # only padding neurons failed: they copy a real set, so that one failed too
        bad[0] = f"a state variable became infinite or NaN ({', '.join(found.variables)})"
    return bad
