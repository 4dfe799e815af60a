"""``fit``: find parameter values of a model that reproduce a recorded voltage trace or spike train.

The search runs in a normalised space, ``[0, 1]`` per fitted parameter (linear between the
parameter's ``[low, high]``), with a gradient-free, population-based optimizer of
`nevergrad <https://facebookresearch.github.io/nevergrad/>`_. Simulated neurons have no
gradients (spikes and resets are discontinuous), and a population-based method asks for a whole
generation of candidates before it is told their losses, so every generation is simulated as one
batch per stimulus (:class:`~sourced_neuron.experiments.batch.Batch`: every candidate is a neuron
of one population, and one run costs little more than one neuron). With a Dask client
(:mod:`~sourced_neuron.experiments.cluster`) a generation is split into one batch per worker.

Optimizers (``optimizer=``):

``"DE"`` (nevergrad's ``TwoPointsDE``, the default; ``"TwoPointsDE"`` is the same)
    Differential evolution: new candidates from differences between members of the population.
    It makes no assumption on the shape of the loss, so it is the robust choice for spike losses
    (``"gamma"``, ``"features"``), which are flat between spike times and jump when a spike
    appears or disappears, and for traces of spiking neurons: spike times fall on the time grid
    (the loss jumps as a spike moves by one step) and a spike matched to the wrong target spike
    is a local minimum. Default population: 15 candidates per fitted parameter, 30 to 100.
``"CMA"`` (nevergrad's ``CMA``, the covariance matrix adaptation evolution strategy)
    Learns the scale and correlations of the loss around its best candidates: on smooth losses
    (a subthreshold trace, where a passive response's ``tau_m``, ``R_m`` and ``E_L`` are
    correlated) it needs several times fewer candidates than DE for the same precision, but
    it gets stuck on the steps and local minima of spiking traces. Its default population is
    nevergrad's, ``4 + int(3 ln(dimensions))`` (7 for three parameters): few candidates per
    generation, so many generations, each a simulation of its own.

The budget counts candidates; the time a generation takes hardly grows with its size on one
machine (a simulation's cost is mostly per time step), so a larger ``popsize`` trades candidates
for fewer, equally fast, generations.

Metrics (``metric=``), the loss of one candidate for one stimulus (the loss of a candidate is the
mean over the stimuli):

``"trace"``
    The mean squared error (mV²) between the simulated membrane potential and the target
    ``neo.AnalogSignal``, at the target's sample times (the simulated trace is sampled at
    ``t = k*dt``; a target on that grid is compared sample by sample, another one against the
    simulated trace interpolated linearly). NaN samples of the target are skipped (to leave
    out spikes, say).
``"gamma"``
    ``1 - Gamma``, with Gamma the coincidence factor of Kistler et al. (1997) as used by Jolivet
    et al. (2008) for spike trains ``data`` (the target, ``N_data`` spikes) and ``model``
    (``N_model`` spikes in the simulated time ``T``) with the window ``window`` (``Delta``)::

        Gamma = (N_coinc - <N_coinc>) / (0.5 * (N_data + N_model)) * 1 / (1 - 2 * nu * Delta)

    where ``N_coinc`` counts the target spikes with a model spike within ``+-Delta`` (each target
    spike and each model spike is matched at most once), ``nu = N_model / T`` is the model's
    rate and ``<N_coinc> = 2 * nu * Delta * N_data`` the coincidences expected by chance from a
    Poisson train of that rate. Gamma is 1 for identical trains and about 0 for independent
    ones; two empty trains have Gamma = 1, and a model firing so fast that ``2 * nu * Delta >= 1``
    (a spike in every window by chance) has Gamma = 0. With several target trains (trials of one
    stimulus) the loss is the mean over them.
``"features"``
    A normalised distance between three features of the spike trains, the mean of::

        |rate_model - rate_target| / max(rate_target, 1 / T)
        |latency_model - latency_target| / max(latency_target, Delta)
        |cv_model - cv_target|

    with the rate in spikes per simulated second, the latency of the first spike after the
    stimulus starts (a step's ``start``, else 0) and the coefficient of variation of the
    interspike intervals (needs three spikes; it is dimensionless and not divided). A feature
    that one train has and the other lacks (no spike for a latency, fewer than three for a CV)
    counts :data:`MISSING` (1, a 100 % difference); one that neither has counts 0. With several
    target trains, each target feature is the mean over the trains that have it.
a callable ``metric(run, target) -> float``
    ``run`` is a :class:`SetRun` (the candidate's spike times and recorded membrane potential,
    SI units, on the grid ``t = k*dt``), ``target`` the target of that stimulus as given. It is
    called in the process that simulated the batch (a Dask worker, pickled with the task); if it
    raises, the fit stops with an :class:`~sourced_neuron.common.errors.InputError` naming it.

Sets whose state became infinite or NaN (:attr:`BatchRun.failed
<sourced_neuron.experiments.batch.BatchRun.failed>`) and losses that are NaN get an infinite
loss in the history, and the optimizer is told :data:`PENALTY`; the fit goes on.
"""

from __future__ import annotations

import math
import os
import sys
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import neo
import numpy as np
import quantities as pq

from sourced_neuron.common.errors import InputError, SourcedNeuronError, did_you_mean
from sourced_neuron.common.progress import enabled
from sourced_neuron.experiments.batch import Batch, BatchRun
from sourced_neuron.experiments.cluster import resolve_client, worker_threads
from sourced_neuron.experiments.space import model_unit, read_bounds
from sourced_neuron.spec.library import load_model
from sourced_neuron.spec.parts import SECOND
from sourced_neuron.spec.units import as_quantity, as_scalar

__all__ = [
    "METRICS",
    "MISSING",
    "OPTIMIZERS",
    "PENALTY",
    "FitResult",
    "SetRun",
    "coincidences",
    "feature_distance",
    "fit",
    "gamma_factor",
]

#: The built-in metrics (or give a callable).
METRICS = ("trace", "gamma", "features")

#: Optimizer names and the nevergrad optimizers they select.
OPTIMIZERS = {"DE": "TwoPointsDE", "TwoPointsDE": "TwoPointsDE", "CMA": "CMA"}

#: What the optimizer is told for a set with an infinite or NaN loss (a finite number, far above
#: any real loss: nevergrad would clip infinity with a warning).
PENALTY = 1e10

#: The term of the ``"features"`` distance for a feature one train has and the other lacks.
MISSING = 1.0

#: DE's default candidates per generation: 15 per fitted parameter, from 30 to 100 (at most the budget).
POPSIZE = (15, 30, 100)


@dataclass(frozen=True, eq=False)
class SetRun:
    """One simulated candidate for one stimulus, as a callable metric receives it (SI units).

    Attributes
    ----------
    spikes : numpy.ndarray
        Spike times (seconds).
    signals : dict
        Recorded variable (the membrane potential) to its trace, one value per step at ``t = k*dt``.
    dt : float
        The time step (seconds).
    duration : float
        The simulated time (seconds).
    """

    spikes: np.ndarray
    signals: dict[str, np.ndarray]
    dt: float
    duration: float

    @property
    def times(self) -> np.ndarray:
        """The sample times of :attr:`signals` (seconds)."""
        n = len(next(iter(self.signals.values()))) if self.signals else 0
        return np.arange(n) * self.dt


@dataclass(frozen=True, eq=False)
class _Target:
    """One stimulus's target, read once: plain arrays that travel to workers."""

    kind: str  # "trace", "spikes" or "other" (a callable metric's own kind of target)
    duration: float | None  # what the target covers (seconds), None when it does not say
    times: np.ndarray | None = None  # trace: sample times (s) and values (V)
    values: np.ndarray | None = None
    trains: tuple[np.ndarray, ...] = ()  # spikes: one array of times (s) per trial
    original: Any = None


@dataclass(frozen=True, eq=False)
class _Task:
    """How a worker scores a batch for one stimulus."""

    target: _Target
    metric: str | Callable
    window: float
    onset: float
    voltage: str | None


@dataclass(eq=False)
class FitResult:
    """The outcome of :func:`fit`.

    Attributes
    ----------
    best : dict
        Fitted parameter to its best value as text in the model's unit (``"14.02 ms"``).
    values : dict
        The same values as numbers in the model's units (:attr:`units`).
    units : dict
        Fitted parameter to the unit of :attr:`values` (the unit the model file writes it in).
    loss : float
        The best candidate's loss (the mean over the stimuli).
    history : pandas.DataFrame
        One row per simulated candidate: ``generation``, the fitted parameters in the model's
        units, ``loss`` (``inf`` for a failed set) and ``reason`` (why it failed; empty
        otherwise). ``attrs["units"]`` maps columns to units.
    evaluations : int
        Candidates simulated (``len(history)``; each is one run per stimulus).
    block : neo.Block or None
        :func:`sourced_neuron.simulate` of the best values with the first stimulus (None when
        even the best candidate failed).
    blocks : list
        The same for every stimulus.
    metric : str
        The metric's name.
    optimizer : str
        The optimizer's name.
    """

    best: dict[str, str]
    values: dict[str, float]
    units: dict[str, str]
    loss: float
    history: Any
    evaluations: int
    block: neo.Block | None
    blocks: list = field(default_factory=list)
    metric: str = "trace"
    optimizer: str = "DE"
    _targets: list = field(default_factory=list, repr=False)

    def __str__(self) -> str:
        unit = _loss_unit(self.metric)
        lines = [
            f"fit ({self.metric}, {self.optimizer}): {self.evaluations} candidates, best loss {self.loss:.6g}"
            + (f" {unit}" if unit else "")
        ]
        width = max((len(name) for name in self.best), default=0)
        lines += [f"  {name:{width}s} = {value}" for name, value in self.best.items()]
        return "\n".join(lines)

    def plot(self, path: str | os.PathLike | None = None):
        """Draw the target against the fit, one panel per stimulus: the traces overlaid (target in
        black, fit in red) for a trace target, spike rasters (target trials and the fit) for spike
        targets.

        Returns
        -------
        Path or matplotlib.figure.Figure
            ``path`` when given (the figure is written and closed), else the open figure.
        """
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        from sourced_neuron.analysis.plotting import save_figure

        count = max(len(self._targets), 1)
        figure, axes = plt.subplots(count, 1, figsize=(8, 2.6 * count + 0.6), squeeze=False)
        shown = ", ".join(f"{k} = {v}" for k, v in self.best.items())
        unit = f" {_loss_unit(self.metric)}" if _loss_unit(self.metric) else ""
        figure.suptitle(f"fit ({self.metric}, {self.optimizer}): {shown}; loss {self.loss:.4g}{unit}", fontsize=9)
        for k, ax in enumerate(axes[:, 0]):
            target = self._targets[k] if k < len(self._targets) else None
            block = self.blocks[k] if k < len(self.blocks) else None
            _draw_panel(ax, target, block)
            ax.set_title(f"stimulus {k}: {_stimulus_text(block)}", fontsize=8)
        axes[-1, 0].set_xlabel("time (ms)")
        figure.tight_layout()
        if path is None:
            return figure
        return save_figure(figure, path)


def fit(
    model: Any,
    target: Any,
    bounds: Mapping[str, Any],
    *,
    metric: str | Callable = "trace",
    optimizer: str = "DE",
    budget: int = 1000,
    stimulus: Any = None,
    duration: Any = None,
    backend: str = "brian2",
    preset: str | None = None,
    popsize: int | None = None,
    client: Any = None,
    seed: int | None = 0,
    window: Any = "4 ms",
    progress: bool | None = None,
) -> FitResult:
    """Fit parameters of a model to a target voltage trace or spike train(s).

    Parameters
    ----------
    model : NeuronModel, str or path
        A model, a library model's name or a model file.
    target : neo.AnalogSignal, neo.SpikeTrain, list, neo.Block or neo.Segment
        For ``metric="trace"``: the membrane potential to reproduce (an ``AnalogSignal`` with
        one channel, or a block/segment holding the model's membrane potential, such as
        :func:`sourced_neuron.simulate` returns). For ``"gamma"`` and ``"features"``: a
        ``SpikeTrain``, a list of them (trials of the same stimulus) or a block/segment (its
        spike trains). With several stimuli, a list with one such target per stimulus.
    bounds : mapping
        Fitted parameter to ``[low, high]`` with units, e.g. ``{"tau_m": ["5 ms", "30 ms"]}``.
        The search is linear between the bounds.
    metric : str or callable
        ``"trace"``, ``"gamma"``, ``"features"`` or ``metric(run, target) -> float`` (see the
        module's description).
    optimizer : str
        ``"DE"`` (nevergrad's ``TwoPointsDE``) or ``"CMA"``.
    budget : int
        Candidates to simulate in all (each once per stimulus).
    stimulus : optional
        The injected current, as for :func:`sourced_neuron.simulate`, or a list of them (then
        ``target`` is a list of the same length and the loss the mean over the stimuli).
    duration : str or quantity, optional
        Simulated time of each run; by default the target's (its ``t_stop``).
    backend : str
        As for :func:`sourced_neuron.simulate`.
    preset : str, optional
        A preset of the model, applied before the fitted values.
    popsize : int, optional
        Candidates per generation (one batch per stimulus); by default 15 per fitted parameter,
        from 30 to 100, for DE and ``4 + int(3 ln(dimensions))`` for CMA (nevergrad's).
    client : dask.distributed.Client, None or "synchronous"
        Where batches run (:func:`~sourced_neuron.experiments.cluster.resolve_client`): ``None``
        starts a local Dask cluster, ``"synchronous"`` runs them in this process.
    seed : int, optional
        Seed of the optimizer (the same seed gives the same fit).
    window : str or quantity
        ``Delta`` of the gamma factor, and the smallest latency the ``"features"`` distance
        divides by.
    progress : bool, optional
        A bar counting simulated candidates (default: on a terminal).

    Returns
    -------
    FitResult

    Raises
    ------
    InputError, UnitError
        Unknown parameters (with the nearest name), bounds in wrong units, not increasing or
        outside the model file's bounds, a target that does not suit the metric or does not
        match the stimuli, an unknown metric or optimizer, a bad budget or popsize.
    BackendUnavailableError, UnsupportedFeatureError
        The backend is not usable here or cannot run the model.
    """
    import pandas as pd

    checked = load_model(model).with_preset(preset)
    names, low, high = read_bounds(checked, bounds, parameters_only=True)
    metric_name = _check_metric(metric)
    optimizer_name = _check_optimizer(optimizer)
    budget = _whole(budget, "budget", 1)
    size = _default_popsize(optimizer_name, len(names)) if popsize is None else _whole(popsize, "popsize", 1)
    size = min(size, budget)
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0):
        raise InputError(f"seed must be a whole number >= 0 or None, got {seed!r}")
    delta = float(as_scalar(window, "window", SECOND))
    if not delta > 0:
        raise InputError(f"window must be positive, got {window!r}")
    enabled(progress)  # checks the option
    stimuli, targets = _pair(stimulus, target)
    voltage = checked.membrane_potential
    if metric_name == "trace" and voltage is None:
        raise InputError(f"metric 'trace': model {checked.name!r} has no membrane potential (no state in volt)")
    if metric_name in ("gamma", "features") and checked.threshold is None:
        raise InputError(f"metric {metric_name!r}: model {checked.name!r} has no threshold, so it never spikes")
    prepared = [_read_target(t, metric, checked, k, len(targets)) for k, t in enumerate(targets)]
    record = (voltage,) if voltage is not None and metric_name in ("trace", "callable") else ()
    batches, tasks = [], []
    for k, (stim, aim) in enumerate(zip(stimuli, prepared, strict=True)):
        what = f"target {k}" if len(prepared) > 1 else "target"
        length = duration if duration is not None else _in_seconds(aim.duration)
        if length is None:
            raise InputError(f"{what} does not say how long to simulate: give duration")
        batch = Batch.make(model, duration=length, stimulus=stim, backend=backend, preset=preset, record=record)
        _check_covered(aim, batch, what)
        onset = float(batch.request.stimulus.start) if batch.request.stimulus.kind == "step" else 0.0
        batches.append(batch)
        tasks.append(_Task(aim, metric, delta, onset, voltage))

    import nevergrad as ng

    parametrization = ng.p.Array(shape=(len(names),), lower=0.0, upper=1.0)
    parametrization.random_state = np.random.RandomState(seed)
    search = ng.optimizers.registry[OPTIMIZERS[optimizer_name]](
        parametrization=parametrization, budget=budget, num_workers=size
    )
    client = resolve_client(client)
    workers = 1 if client is None else max(len(client.scheduler_info().get("workers", {})), 1)
    pad = math.ceil(size / min(workers, size))  # every batch the same size: one program per size
    scales = np.array([model_unit(checked, name)[1] for name in names])
    units = {name: model_unit(checked, name)[0] for name in names}
    rows: list[dict[str, Any]] = []
    simulated: list[np.ndarray] = []  # the candidates in SI units, as simulated
    done, generation = 0, 0
    with _Bar(budget, f"{checked.name} fit", progress) as bar:
        while done < budget:
            count = min(size, budget - done)
            candidates = [search.ask() for _ in range(count)]
            unit = np.array([np.clip(c.value, 0.0, 1.0) for c in candidates]).reshape(count, len(names))
            values = low + unit * (high - low)
            losses, reasons = _generation(client, batches, tasks, names, values, workers, pad)
            simulated.extend(values)
            for candidate, loss in zip(candidates, losses, strict=True):
                search.tell(candidate, float(loss) if np.isfinite(loss) else PENALTY)
            for k in range(count):
                row = {"generation": generation}
                row.update({name: values[k, j] / scales[j] for j, name in enumerate(names)})
                row.update(loss=float(losses[k]), reason=reasons[k])
                rows.append(row)
            done += count
            generation += 1
            bar.update(count, min(r["loss"] for r in rows))
    history = pd.DataFrame(rows, columns=["generation", *names, "loss", "reason"])
    history.attrs["units"] = {"generation": "", **units, "loss": _loss_unit(metric_name), "reason": ""}
    history.attrs.update(model=checked.name, preset=preset or "", metric=metric_name, optimizer=optimizer_name)
    best = int(np.argmin(history["loss"].to_numpy()))
    best_row = history.iloc[best]
    fitted = {name: float(best_row[name]) for name in names}
    blocks = _final_blocks(model, backend, preset, stimuli, batches, names, simulated[best], voltage)
    return FitResult(
        best={name: f"{value:.6g} {units[name]}".strip() for name, value in fitted.items()},
        values=fitted,
        units=units,
        loss=float(best_row["loss"]),
        history=history,
        evaluations=len(history),
        block=blocks[0],
        blocks=blocks,
        metric=metric_name,
        optimizer=optimizer_name,
        _targets=prepared,
    )


# --- reading the arguments -----------------------------------------------------------------


def _check_metric(metric: Any) -> str:
    if callable(metric):
        return "callable"
    if not isinstance(metric, str) or metric not in METRICS:
        raise InputError(
            f"unknown metric {metric!r}{did_you_mean(str(metric), METRICS)}; metrics: {', '.join(METRICS)} "
            "or a function (run, target) -> float"
        )
    return metric


def _check_optimizer(optimizer: Any) -> str:
    if not isinstance(optimizer, str) or optimizer not in OPTIMIZERS:
        raise InputError(
            f"unknown optimizer {optimizer!r}{did_you_mean(str(optimizer), OPTIMIZERS)}; "
            f"optimizers: {', '.join(OPTIMIZERS)}"
        )
    return optimizer


def _whole(value: Any, what: str, least: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < least:
        raise InputError(f"{what} must be a whole number >= {least}, got {value!r}")
    return int(value)


def _default_popsize(optimizer: str, dimensions: int) -> int:
    if OPTIMIZERS[optimizer] == "CMA":
        return 4 + int(3 * math.log(dimensions))
    per, least, most = POPSIZE
    return min(max(per * dimensions, least), most)


def _pair(stimulus: Any, target: Any) -> tuple[list, list]:
    """The stimuli and their targets, as lists of the same length."""
    if isinstance(stimulus, list | tuple):
        if not stimulus:
            raise InputError("stimulus: an empty list; give one stimulus, or a list with one per target")
        if not isinstance(target, list | tuple) or len(target) != len(stimulus):
            got = f"{len(target)} targets" if isinstance(target, list | tuple) else f"one {type(target).__name__}"
            raise InputError(
                f"{len(stimulus)} stimuli need a list of {len(stimulus)} targets (one per stimulus), got {got}"
            )
        return list(stimulus), list(target)
    return [stimulus], [target]


def _read_target(target: Any, metric: Any, model, k: int, count: int) -> _Target:
    what = f"target {k}" if count > 1 else "target"
    name = "callable" if callable(metric) else metric
    original = target if name == "callable" else None  # what a metric function receives
    if name == "trace" or (name == "callable" and isinstance(target, neo.AnalogSignal)):
        return _trace_target(target, model, what, original)
    trains = _trains(target)
    if trains is not None:
        return _Target("spikes", _t_stop(trains), trains=_as_seconds(trains), original=original)
    if name == "callable":
        return _Target("other", None, original=original)
    raise InputError(
        f"{what}: metric {name!r} compares spike trains; give a neo.SpikeTrain, a list of them or a Neo "
        f"block/segment with spike trains, got {type(target).__name__}"
    )


def _trace_target(target: Any, model, what: str, original: Any = None) -> _Target:
    voltage = model.membrane_potential
    signal = target
    if isinstance(target, neo.Block | neo.Segment):
        segments = target.segments if isinstance(target, neo.Block) else [target]
        found = [
            s
            for seg in segments
            for s in seg.analogsignals
            if s.annotations.get("variable") == voltage or s.name in (voltage, f"{model.name}.{voltage}")
        ]
        if len(found) != 1:
            raise InputError(
                f"{what}: the block holds {len(found)} signals of {voltage!r}; give the target trace as one "
                "neo.AnalogSignal"
            )
        signal = found[0]
    if not isinstance(signal, neo.AnalogSignal):
        raise InputError(
            f"{what}: metric 'trace' compares membrane potentials; give a neo.AnalogSignal, got {type(target).__name__}"
        )
    if signal.ndim == 2 and signal.shape[1] != 1:
        raise InputError(f"{what}: the trace has {signal.shape[1]} channels; give one (signal[:, [k]])")
    magnitudes = np.asarray(as_quantity(signal, what, model.dimension_of(voltage)), dtype=float).reshape(-1)
    if magnitudes.size == 0 or not np.any(np.isfinite(magnitudes)):
        raise InputError(f"{what}: the trace has no finite sample")
    if np.any(np.isinf(magnitudes)):
        raise InputError(f"{what}: the trace has infinite samples (NaN samples are skipped, infinite ones are not)")
    times = np.asarray(signal.times.rescale(pq.s).magnitude, dtype=float)
    stop = float(signal.t_stop.rescale(pq.s).magnitude)
    return _Target("trace", stop, times=times, values=magnitudes, original=original)


def _trains(target: Any) -> tuple | None:
    """The spike trains of a target, or None when it holds none."""
    if isinstance(target, neo.SpikeTrain):
        return (target,)
    if isinstance(target, neo.Block):
        trains = tuple(t for seg in target.segments for t in seg.spiketrains)
        return trains or None
    if isinstance(target, neo.Segment):
        return tuple(target.spiketrains) or None
    if isinstance(target, list | tuple) and target and all(isinstance(t, neo.SpikeTrain) for t in target):
        return tuple(target)
    return None


def _t_stop(trains: tuple) -> float:
    return max(float(t.t_stop.rescale(pq.s).magnitude) for t in trains)


def _as_seconds(trains: tuple) -> tuple[np.ndarray, ...]:
    return tuple(np.sort(np.asarray(t.rescale(pq.s).magnitude, dtype=float).reshape(-1)) for t in trains)


def _check_covered(target: _Target, batch: Batch, what: str) -> None:
    """Refuse targets that reach beyond the simulated time."""
    request = batch.request
    end = (request.n_steps - 1) * request.dt  # the last simulated sample
    tolerance = 1e-9 * request.dt
    if target.kind == "trace":
        if target.times[0] < -tolerance or target.times[-1] > end + 1e-6 * request.dt:
            raise InputError(
                f"{what}: the trace runs from {target.times[0] * 1e3:g} ms to {target.times[-1] * 1e3:g} ms; the "
                f"simulated trace has samples from 0 to {end * 1e3:g} ms (duration {request.duration * 1e3:g} ms)"
            )
    elif target.kind == "spikes":
        last = max((t[-1] for t in target.trains if len(t)), default=0.0)
        if last > request.n_steps * request.dt + tolerance:
            raise InputError(
                f"{what}: a target spike at {last * 1e3:g} ms lies beyond the simulated "
                f"{request.n_steps * request.dt * 1e3:g} ms"
            )


def _in_seconds(value: float | None):
    """A time in seconds as a quantity (what :func:`sourced_neuron.simulate` takes), or None."""
    from brian2 import Quantity

    return None if value is None else Quantity(value, dim=SECOND)


def _loss_unit(metric: str) -> str:
    return "mV**2" if metric == "trace" else ""


# --- one generation ------------------------------------------------------------------------


def _generation(client, batches, tasks, names, values: np.ndarray, workers: int, pad: int):
    """The loss of every candidate (mean over the stimuli) and why it failed."""
    n = values.shape[0]
    chunks = [c for c in np.array_split(np.arange(n), min(workers, n)) if len(c)]
    jobs = [(s, chunk) for s in range(len(batches)) for chunk in chunks]
    if client is None:
        results = [score(batches[s], names, values[chunk], pad, tasks[s]) for s, chunk in jobs]
    else:
        futures = [
            client.submit(score, batches[s], names, values[chunk], pad, tasks[s], pure=False) for s, chunk in jobs
        ]
        try:
            results = [future.result() for future in futures]
        finally:
            for future in futures:
                future.cancel()
    total = np.zeros(n)
    reasons: list[list[str]] = [[] for _ in range(n)]
    for (s, chunk), (losses, why) in zip(jobs, results, strict=True):
        total[chunk] += losses
        for position, k in enumerate(chunk):
            if why[position]:
                reasons[k].append(f"stimulus {s}: {why[position]}" if len(batches) > 1 else why[position])
    total /= len(batches)
    total[~np.isfinite(total)] = np.inf
    return total, ["; ".join(r) for r in reasons]


def score(batch: Batch, names: tuple[str, ...], rows: np.ndarray, pad: int, task: _Task):
    """Simulate one batch of candidates and score each against the target: ``(losses, reasons)``.

    This is the Dask task; it runs in a worker process (or here, synchronously).
    """
    threads = worker_threads()
    if threads is not None:  # one OpenMP thread per Dask thread: workers share the cores
        os.environ.setdefault("SOURCED_NEURON_THREADS", str(threads))
    run = batch.run(names, rows, max(pad, rows.shape[0]))
    request = batch.request
    losses = np.full(rows.shape[0], np.inf)
    reasons = [""] * rows.shape[0]
    for k in range(rows.shape[0]):
        if k in run.failed:
            reasons[k] = run.failed[k]
            continue
        loss = _loss(run, k, task, request.dt, request.n_steps * request.dt)
        if np.isfinite(loss):
            losses[k] = loss
        else:
            reasons[k] = f"the metric gave {loss}"
    return losses, reasons


def _loss(run: BatchRun, k: int, task: _Task, dt: float, duration: float) -> float:
    target, metric = task.target, task.metric
    spikes = run.spikes[k]
    if callable(metric):
        signals = {name: array[:, k].copy() for name, array in run.signals.items()}
        original = target.original
        try:
            return float(metric(SetRun(spikes.copy(), signals, dt, duration), original))
        except Exception as exc:
            raise InputError(f"the metric {getattr(metric, '__name__', metric)!r} failed: {exc}") from exc
    if metric == "trace":
        return _mse(run.signals[task.voltage][:, k], target, dt)
    if metric == "gamma":
        return float(np.mean([1.0 - gamma_factor(spikes, train, task.window, duration) for train in target.trains]))
    return feature_distance(spikes, target.trains, duration, task.onset, task.window)


def _mse(trace: np.ndarray, target: _Target, dt: float) -> float:
    """Mean squared error in mV² at the target's sample times (linear interpolation off the grid)."""
    position = target.times / dt
    index = np.rint(position)
    if np.all(np.abs(position - index) < 1e-6):
        simulated = trace[index.astype(int)]
    else:
        simulated = np.interp(target.times, np.arange(len(trace)) * dt, trace)
    difference = (simulated - target.values) * 1e3
    return float(np.nanmean(difference**2)) if np.all(np.isfinite(simulated)) else math.inf


# --- spike metrics -------------------------------------------------------------------------


def coincidences(model: np.ndarray, data: np.ndarray, window: float) -> int:
    """Data spikes with a model spike within ``+-window``, each spike of either train matched at
    most once (greedy in time order, which is a largest matching for equal windows)."""
    model, data = np.sort(np.asarray(model, dtype=float)), np.sort(np.asarray(data, dtype=float))
    reach = window * (1 + 1e-9) + 1e-15
    j, count = 0, 0
    for t in data:
        while j < len(model) and model[j] < t - reach:
            j += 1
        if j < len(model) and model[j] <= t + reach:
            count += 1
            j += 1
    return count


def gamma_factor(model: Any, data: Any, window: Any, duration: Any) -> float:
    """The coincidence factor Gamma (Kistler et al. 1997; Jolivet et al. 2008) of a model spike
    train against a data spike train (see the module's description).

    Parameters
    ----------
    model, data : array or neo.SpikeTrain
        Spike times: seconds for plain arrays.
    window : float, str or quantity
        ``Delta``, the half-width of a coincidence window (seconds for a float).
    duration : float, str or quantity
        The recorded time ``T`` that gives the model's rate (seconds for a float).

    Returns
    -------
    float
        1 for identical trains, about 0 for independent ones (and 1 for two empty trains).
    """
    model, data = _seconds(model, "model"), _seconds(data, "data")
    delta, total = _time(window, "window"), _time(duration, "duration")
    n_model, n_data = len(model), len(data)
    if n_model == 0 and n_data == 0:
        return 1.0
    chance = 2.0 * (n_model / total) * delta
    if chance >= 1.0:  # a spike in every window by chance: no better than chance
        return 0.0
    expected = chance * n_data
    return (coincidences(model, data, delta) - expected) / (0.5 * (n_data + n_model)) / (1.0 - chance)


def _seconds(train: Any, what: str) -> np.ndarray:
    if isinstance(train, pq.Quantity):
        return np.asarray(as_quantity(train, what, SECOND), dtype=float).reshape(-1)
    return np.asarray(train, dtype=float).reshape(-1)


def _time(value: Any, what: str) -> float:
    if isinstance(value, int | float | np.integer | np.floating):
        return float(value)
    return float(np.asarray(as_scalar(value, what, SECOND)))


def _features(train: np.ndarray, duration: float, onset: float) -> tuple[float, float | None, float | None]:
    after = train[train >= onset - 1e-12]
    latency = float(after[0] - onset) if len(after) else None
    intervals = np.diff(train)
    cv = float(np.std(intervals) / np.mean(intervals)) if len(train) >= 3 and np.mean(intervals) > 0 else None
    return len(train) / duration, latency, cv


def feature_distance(model: np.ndarray, trains: Sequence[np.ndarray], duration: float, onset: float, window: float):
    """The ``"features"`` distance of a model spike train (seconds) to target trains (see the
    module's description)."""
    rate, latency, cv = _features(np.asarray(model, dtype=float), duration, onset)
    found = [_features(np.asarray(t, dtype=float), duration, onset) for t in trains]
    aim_rate = float(np.mean([f[0] for f in found]))
    latencies = [f[1] for f in found if f[1] is not None]
    cvs = [f[2] for f in found if f[2] is not None]
    aim_latency = float(np.mean(latencies)) if latencies else None
    aim_cv = float(np.mean(cvs)) if cvs else None
    terms = [abs(rate - aim_rate) / max(aim_rate, 1.0 / duration)]
    terms.append(_term(latency, aim_latency, lambda a, b: abs(a - b) / max(b, window)))
    terms.append(_term(cv, aim_cv, lambda a, b: abs(a - b)))
    return float(np.mean(terms))


def _term(value: float | None, aim: float | None, difference: Callable[[float, float], float]) -> float:
    if value is None and aim is None:
        return 0.0
    if value is None or aim is None:
        return MISSING
    return difference(value, aim)


# --- the fitted runs and their figure --------------------------------------------------------


def _final_blocks(model, backend, preset, stimuli, batches, names, best: np.ndarray, voltage) -> list:
    """:func:`sourced_neuron.simulate` of the best candidate (SI values) with every stimulus."""
    from brian2 import Quantity

    from sourced_neuron.run.simulation import simulate

    checked = batches[0].model
    params = {name: Quantity(best[j], dim=checked.dimension_of(name)) for j, name in enumerate(names)}
    blocks = []
    for stimulus, batch in zip(stimuli, batches, strict=True):
        try:
            blocks.append(
                simulate(
                    model,
                    backend=backend,
                    duration=_in_seconds(batch.request.n_steps * batch.request.dt),
                    preset=preset,
                    params=params,
                    stimulus=stimulus,
                    record=(voltage,) if voltage is not None else (),
                    progress=False,
                )
            )
        except SourcedNeuronError as exc:
            warnings.warn(f"the best values could not be simulated again: {exc}", stacklevel=3)
            blocks.append(None)
    return blocks


def _stimulus_text(block: neo.Block | None) -> str:
    if block is None:
        return "no run"
    return str(block.annotations.get("stimulus", ""))


def _draw_panel(ax, target: _Target | None, block: neo.Block | None) -> None:
    segment = block.segments[0] if block is not None else None
    if target is not None and target.kind == "trace":
        ax.plot(target.times * 1e3, target.values * 1e3, color="black", lw=1.2, label="target")
    if target is None or target.kind in ("trace", "other"):
        if segment is not None and segment.analogsignals:
            signal = segment.analogsignals[0]
            ax.plot(
                signal.times.rescale(pq.ms).magnitude,
                signal.rescale(pq.mV).magnitude[:, 0],
                color="tab:red",
                lw=0.9,
                ls="--" if target is not None and target.kind == "trace" else "-",
                label="fit",
            )
        ax.set_ylabel("membrane potential (mV)")
        ax.legend(loc="upper right", fontsize=7)
        return
    rows = [(t * 1e3, "black") for t in target.trains]
    fitted = segment.spiketrains[0].rescale(pq.ms).magnitude if segment is not None and segment.spiketrains else []
    rows.append((np.asarray(fitted), "tab:red"))
    ax.eventplot([r[0] for r in rows], colors=[r[1] for r in rows], lineoffsets=np.arange(len(rows)), linelengths=0.8)
    ax.set_yticks(np.arange(len(rows)), [f"target {k}" for k in range(len(rows) - 1)] + ["fit"], fontsize=7)


class _Bar:
    """A bar counting simulated candidates, with the best loss so far (tqdm, on standard error)."""

    def __init__(self, total: int, description: str, option: bool | None):
        self._bar = None
        if enabled(option):
            from tqdm import tqdm

            self._bar = tqdm(total=total, desc=description, unit="set", file=sys.stderr, leave=False)

    def update(self, count: int, best: float) -> None:
        if self._bar is not None:
            self._bar.set_postfix(best=f"{best:.4g}", refresh=False)
            self._bar.update(count)

    def __enter__(self) -> _Bar:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._bar is not None:
            self._bar.close()
