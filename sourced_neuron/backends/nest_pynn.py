"""Backend ``nest``: NEST through PyNN, running the model's generated NESTML.

The model is generated as NESTML (:mod:`sourced_neuron.codegen.nestml`), compiled once into a
cached NEST module (:mod:`sourced_neuron.backends.nestbuild`) and used as a PyNN native cell type built
from the model's own definition (so PyNN never has to guess parameters from NEST's defaults).
Its variables hold SI magnitudes. Timing follows docs/semantics.md: NEST stamps a spike at the
end of the step that produced it, so stamps are moved back one step; current sources take
effect in the step that starts at their time (PyNN compensates the connection delay), and the
values of the first two steps go into the model's ``I_stim`` and ``I_stim_1`` parameters,
since a device reaches a neuron only from the third step on.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import sys
import time
import warnings

import numpy as np

from sourced_neuron.backends.base import (
    Backend,
    Capabilities,
    NetworkSpec,
    NonFinite,
    PopulationSpec,
    RunResult,
    WeightRecord,
    first_nonfinite,
)
from sourced_neuron.backends.nestbuild import BuiltModule, ToolchainError, build_models, build_paired, check_toolchain
from sourced_neuron.codegen.brian2 import NONFINITE_TIME, nonfinite_flag
from sourced_neuron.codegen.nestml import ALL_INPUTS, Inputs
from sourced_neuron.common import mpi
from sourced_neuron.common.errors import InputError, UnsupportedFeatureError
from sourced_neuron.common.progress import Progress
from sourced_neuron.spec.model import NeuronModel
from sourced_neuron.spec.stimulus import Stimulus
from sourced_neuron.spec.units import si_magnitude

__all__ = ["NestPyNN", "pynn_cell_type"]

METHODS = frozenset({"exact", "exponential_euler", "euler", "rk2", "rk4", "rkf45"})

#: NEST's default time resolution (its tic), seconds: 1000 tics per ms.
DEFAULT_TIC = 1e-6

#: Synapses handed to ``nest.Connect`` at a time (each call copies its arrays).
CONNECT_CHUNK = 1 << 22

#: The NESTML parameter that switches the watch for non-finite states on (targets.nestml).
CHECK_FINITE = "sn_check_finite"

#: Stimulus kinds that change over time: they reach NEST neurons through current devices, so
#: only their populations get a model with a current port.
VARYING = frozenset({"step", "sampled"})


def _si(value) -> float | np.ndarray:
    return np.asarray([si_magnitude(v) for v in value]) if np.ndim(value) else si_magnitude(value)


def _install(module: BuiltModule) -> None:
    import nest

    if not set(module.models) <= set(nest.node_models) | set(nest.synapse_models):
        nest.Install(str(module.library.with_suffix("")))


def pynn_cell_type(model: NeuronModel, synapses=(), inputs: Inputs = ALL_INPUTS):
    """A PyNN cell type (for ``pyNN.nest``) running ``model``; call after ``sim.setup()``.

    Parameters and initial values are the model's, in SI units (volt, second, amp, ...), plus
    ``I_stim``, a constant injected current in amp (``I_stim_1`` is added in the second step only).
    With ``synapses`` (plastic synapse models ending on it), the neuron is co-generated with
    them and the cell type's ``synapse_models`` maps each synapse model's name to its NEST name.
    ``inputs`` (:class:`~sourced_neuron.codegen.nestml.Inputs`) are the input ports the neurons
    have, default all: without the current port the cell type takes no current sources (it is
    not ``injectable`` and has no ``I_stim_1``); it takes spikes on the receptors listed. The
    NEST module is compiled once and cached.

    Raises
    ------
    ToolchainError
        NEST, NESTML, PyNN or the C++ toolchain is missing.
    """
    if importlib.util.find_spec("pyNN") is None:
        raise ToolchainError("PyNN is not installed (pip install PyNN)")
    from pyNN.nest.cells import NativeCellType

    paired: dict[str, str] = {}
    if synapses:
        module, nest_name, paired = build_paired(model, synapses, inputs)
    else:
        module, (nest_name,) = build_models([model], inputs)
    _install(module)
    initial = model.initial_values()
    states = model.per_neuron_variables
    solver = {}
    if model.numerics.method == "rkf45":  # the same error control as on Brian2 (docs/semantics.md)
        solver = {"gsl_abs_error_tol": model.numerics.abs_error, "gsl_rel_error_tol": 0.0}
    return type(
        nest_name,
        (NativeCellType,),
        {
            "nest_model": nest_name,
            "nest_name": {"on_grid": nest_name, "off_grid": nest_name},
            "default_parameters": {
                **{k: _si(v) for k, v in model.parameter_values().items()},
                "I_stim": 0.0,
                **({"I_stim_1": 0.0} if inputs.current else {}),
                **solver,
            },
            "default_initial_values": {name: _si(initial.get(name, 0.0)) for name in states},
            "receptor_types": [port.name for port in inputs.ports(model)],
            "injectable": inputs.current,
            "recordable": [*states, "spikes"],
            "units": dict.fromkeys(states, "dimensionless"),
            "standard_receptor_type": False,
            "conductance_based": False,
            "always_local": False,
            "uses_parrot": False,
            "get_receptor_type": _receptor_index,
            "synapse_models": paired,
        },
    )


def _inputs(pop: PopulationSpec, spec: NetworkSpec) -> Inputs:
    """The input ports a population's neurons need: a current port where a stimulus varies over
    time (it reaches them through current devices), the receptors its projections end on."""
    used = {p.receptor for p in spec.projections if p.post == pop.name}
    return Inputs(pop.stimulus.kind in VARYING, tuple(port.name for port in pop.model.synapses if port.name in used))


def _receptor_index(cell_type, name: str) -> int:
    """NEST's index of a receptor port (NESTML names the receptors in upper case).

    A neuron with several spike ports lists them in ``receptor_types`` (numbered from 1); one
    with a single spike port has no such entry and takes its spikes on receptor 0.
    """
    import nest

    receptors = nest.GetDefaults(cell_type.nest_model).get("receptor_types")
    if receptors is None:  # no list: the model's one port (if any) is receptor 0
        receptors = {port.upper(): 0 for port in cell_type.receptor_types[:1]}
    if name.upper() not in receptors:
        ports = ", ".join(cell_type.receptor_types) or "none"
        raise InputError(f"model {cell_type.nest_model!r} has no receptor port {name!r} (ports: {ports})")
    return receptors[name.upper()]


@contextlib.contextmanager
def _quiet_pynn():
    """Silence PyNN's and NEST's warnings about their own internals (not about the user's input).

    PyNN 0.13 looks for ``nest-config`` on PATH (the wheel's is fixed up by nestbuild instead)
    and calls NEST APIs that NEST 3.10 marks deprecated.
    """
    os.environ.setdefault("PYNEST_QUIET", "1")  # no banner when NEST is first imported
    with warnings.catch_warnings():
        quiet = (
            r"\s*Cannot find nest-config",
            r"\s*Problem running cmake",
            r"(?s).*is deprecated",
            r"\s*Provided for",
            r"\s*GetLocalNodeCollection\(\) leads to",  # used as NEST documents it: each process its own nodes
        )
        for message in quiet:
            warnings.filterwarnings("ignore", message=message, category=UserWarning)
        yield


def _grid_ms(seconds) -> np.ndarray:
    """Grid times or delays in ms, as the nearest decimal."""
    return np.round(np.asarray(seconds, dtype=float) * 1e3, 9)


def _device_ms(seconds) -> np.ndarray:
    """Grid times for a device, in ms, a millionth of a ms early.

    PyNN subtracts ``min_delay`` from device times, and NEST moves a time that lands just above
    a grid point (64.4 - 0.1 = 64.30000000000001) to the next step; from just below (much less
    than NEST's tic of 1 us) it lands on the intended step.
    """
    return _grid_ms(seconds) - 1e-6


def _current_sources(sim, population, stimulus: Stimulus, dt: float, n_steps: int) -> tuple:
    """Attach step current sources for a time-varying stimulus.

    A device reaches a neuron one connection delay (one step) after it changes, so the first
    change it can carry acts in the third step: the values of the first two steps go into the
    model's ``I_stim`` and ``I_stim_1`` (returned, amp), the devices carry the rest relative to
    ``I_stim``.
    """
    values = stimulus.values_on_grid(dt, n_steps)  # amps, (n_steps,) or (n_steps, n)
    columns = values[:, None] if values.ndim == 1 else values
    for column in range(columns.shape[1]):
        device = columns[:, column] - columns[0, column]
        device[:2] = 0.0
        changes = np.flatnonzero(np.diff(device)) + 1
        if not len(changes):
            continue
        source = sim.StepCurrentSource(times=_device_ms(changes * dt), amplitudes=device[changes] * 1e9)  # nA
        targets = population if values.ndim == 1 else population[column : column + 1]
        source.inject_into(targets)
    second = values[1] - values[0] if len(values) > 1 else np.zeros_like(values[0])
    return values[0], second


class NestPyNN(Backend):
    """NEST 3 through PyNN's ``pyNN.nest``, with the model compiled from generated NESTML."""

    name = "nest"
    description = "NEST through PyNN, from generated NESTML (compiled once, cached)"

    @classmethod
    def capabilities(cls) -> Capabilities:
        return Capabilities(methods=METHODS, time_tic=cls.time_tic())

    @classmethod
    def threads(cls) -> int:
        """NEST's threads: ``SOURCED_NEURON_THREADS``, else every core (as on ``brian2-cpp``)."""
        return int(os.environ.get("SOURCED_NEURON_THREADS") or os.cpu_count() or 1)

    @staticmethod
    def time_tic() -> float:
        """NEST's tic in seconds: read from NEST where it is already loaded (importing it only
        for this takes a second), else NEST's default of 0.001 ms."""
        nest = sys.modules.get("nest")
        if nest is None or not hasattr(nest, "GetKernelStatus"):
            return DEFAULT_TIC
        return 1e-3 / float(nest.GetKernelStatus("tics_per_ms"))

    @classmethod
    def unavailable_reason(cls) -> str | None:
        if importlib.util.find_spec("pyNN") is None:
            return "PyNN is not installed (pip install PyNN==0.13.0)"
        try:
            check_toolchain()
        except ToolchainError as exc:
            return str(exc)
        return None

    def run_network(self, spec: NetworkSpec, progress: Progress | None = None) -> dict[str, RunResult]:
        with _quiet_pynn():
            return self._run_network(spec, progress)

    def _run_network(self, spec: NetworkSpec, progress: Progress | None) -> dict[str, RunResult]:
        import nest
        import pyNN.nest as sim

        dt_ms = spec.dt * 1e3
        delays = [p.delays.max() for p in spec.projections if len(p.delays)]
        # NEST seeds are 1 .. 2**31 - 1; without a seed, fresh noise each run (as on Brian2)
        seed = spec.seed if spec.seed is not None else int(np.random.default_rng().integers(2**31 - 2))
        sim.setup(
            timestep=dt_ms,
            min_delay=dt_ms,
            max_delay=max([dt_ms, *(d * 1e3 for d in delays)]),
            spike_precision="on_grid",
            verbosity="error",
            rng_seed=seed % (2**31 - 2) + 1,
            threads=self.threads(),
        )
        try:
            nodes, cell_types, spike_recorders = {}, {}, {}
            plastic: dict[str, dict[str, object]] = {}
            for projection in spec.projections:
                if projection.synapse is not None:
                    plastic.setdefault(projection.post, {})[projection.synapse.structure_hash()] = projection.synapse
            # every module is loaded before the first node exists (NEST refuses modules after that)
            for pop in spec.populations:
                cell_types[pop.name] = pynn_cell_type(
                    pop.model, tuple(plastic.get(pop.name, {}).values()), _inputs(pop, spec)
                )
            for pop in spec.populations:
                population = sim.Population(pop.size, cell_types[pop.name](), label=pop.name)
                if spec.check_finite and pop.model.state_variables:
                    population.node_collection.set({CHECK_FINITE: True})  # docs/semantics.md, "Non-finite states"
                if pop.parameters:
                    population.set(**pop.parameters)
                population.initialize(**pop.initial)
                stimulus = pop.stimulus
                if stimulus.kind == "constant":
                    population.set(I_stim=np.broadcast_to(_si(stimulus.amplitude), (pop.size,)).astype(float))
                elif stimulus.kind in VARYING:
                    first, second = _current_sources(sim, population, stimulus, spec.dt, spec.n_steps)
                    population.set(
                        I_stim=np.broadcast_to(first, (pop.size,)).astype(float),
                        I_stim_1=np.broadcast_to(second, (pop.size,)).astype(float),
                    )
                if pop.record_spikes and pop.model.threshold:  # one recorder, read in bulk (_result)
                    spike_recorders[pop.name] = nest.Create("spike_recorder")
                    # (the delay of a connection to a recorder does not change the stamps)
                    nest.Connect(population.node_collection, spike_recorders[pop.name], syn_spec={"delay": dt_ms})
                if pop.record:
                    population.record(list(pop.record), sampling_interval=pop.record_every * dt_ms)
                nodes[pop.name] = population
            for source in spec.sources:
                nodes[source.name] = _Nodes(_spike_trains(source, spec.dt))
            recorders = {}
            for k, projection in enumerate(spec.projections):
                if projection.record_weights is not None and mpi.size() > 1:
                    raise UnsupportedFeatureError(
                        f"recording the weights of projection {projection.name!r} under MPI ({mpi.size()} "
                        "processes) is not supported: run it in one process"
                    )
                recorders[projection.name] = _connect(projection, k, nodes, cell_types[projection.post], spec.dt)
            started = time.perf_counter()
            if progress is not None and progress.active:
                # in about 100 pieces of whole steps, so the bar moves; one piece otherwise
                done, piece = 0, max(1, spec.n_steps // 100)
                while done < spec.n_steps:
                    steps = min(piece, spec.n_steps - done)
                    sim.run(steps * dt_ms)
                    done += steps
                    progress.advance_to(done * spec.dt)
            else:
                sim.run(spec.n_steps * dt_ms)
            seconds = time.perf_counter() - started
            results: dict = {}
            for pop in spec.populations:
                recorder = spike_recorders.get(pop.name)
                results[pop.name] = _result(nodes[pop.name], pop, spec, cell_types[pop.name], recorder)
                results[pop.name].info["run_seconds"] = seconds
            for projection in spec.projections:
                if projection.record_weights is not None:
                    results[projection.name] = _weights(
                        projection, nodes, recorders[projection.name], spec.dt, spec.n_steps
                    )
            return results
        finally:
            sim.end()


class _Nodes:
    """Nodes made without PyNN, looked up as PyNN's populations are (``node_collection``)."""

    def __init__(self, node_collection):
        self.node_collection = node_collection


def _spike_trains(source, dt: float):
    """NEST's ``spike_train_injector``s firing a source's spikes, one per source neuron.

    An injector is a node, not a device: NEST keeps one copy of it (a ``spike_generator`` has
    one per thread and is updated on each in every step, and PyNN puts a parrot neuron after
    it), and nodes created after many devices are looked up much more slowly when connected.
    Times are NEST stamps: the end of the step (docs/semantics.md).
    """
    import nest

    trains = _per_index(source.indices, _device_ms(source.times + dt), source.size)
    return nest.Create("spike_train_injector", source.size, params=[{"spike_times": t} for t in trains])


def _per_index(indices: np.ndarray, values: np.ndarray, size: int) -> list[np.ndarray]:
    """``values`` split by ``indices`` (0 to ``size - 1``), keeping their order within each index."""
    order = np.argsort(indices, kind="stable")
    return np.split(values[order], np.searchsorted(indices[order], np.arange(1, size)))


def _result(population, pop: PopulationSpec, spec: NetworkSpec, cell_type, recorder) -> RunResult:
    result = RunResult(
        spike_indices=np.zeros(0, int), spike_times=np.zeros(0), info={"nest_model": cell_type.nest_model}
    )
    if recorder is not None:
        # each MPI process records its own neurons: every process gets all the spikes
        events = [(np.asarray(e["senders"]), np.asarray(e["times"])) for e in mpi.allgather(recorder.get("events"))]
        events = {"senders": np.concatenate([e[0] for e in events]), "times": np.concatenate([e[1] for e in events])}
        ids = np.asarray(population.node_collection.tolist())
        senders = np.asarray(events["senders"], dtype=np.int64)
        index = senders - ids[0] if ids[-1] - ids[0] == len(ids) - 1 else np.searchsorted(ids, senders)
        # NEST stamps the end of the step; docs/semantics.md stamps its start
        stamps = np.asarray(events["times"], dtype=float) * 1e-3 - spec.dt
        # PyNN runs one min_delay past the end (to flush its recorders): those spikes are not the run's
        inside = np.flatnonzero(stamps < (spec.n_steps - 0.5) * spec.dt)
        order = inside[np.lexsort((stamps[inside], index[inside]))]  # neuron by neuron, in time order
        result.spike_indices, result.spike_times = index[order], stamps[order]
    if pop.record:
        for signal in population.get_data().segments[0].analogsignals:
            # PyNN adds the value at t = 0; a sample at t_k holds the state after step k-1
            result.signals[signal.name] = np.asarray(signal.magnitude, dtype=float)[: pop.n_samples(spec.n_steps)]
    if spec.check_finite and pop.model.state_variables:
        result.nonfinite = _nonfinite(population.node_collection, pop.model.state_variables, spec.dt)
    return result


def _nonfinite(nodes, variables: tuple[str, ...], dt: float) -> NonFinite | None:
    """The first non-finite state the generated watch stored in the neurons (one value each;
    under MPI each process reads its own neurons and every process gets them all)."""
    import nest

    flags = [nonfinite_flag(name) for name in variables]
    local = nest.GetLocalNodeCollection(nodes) if mpi.size() > 1 else nodes
    ids = np.atleast_1d(np.asarray(local.tolist(), dtype=np.int64))
    status = local.get([NONFINITE_TIME, *flags]) if len(ids) else {}
    columns = [NONFINITE_TIME, *flags]
    values = np.column_stack([np.atleast_1d(np.asarray(status.get(c, []), dtype=float)) for c in columns])
    parts = mpi.allgather((ids, values.reshape(len(ids), len(columns))))
    ids = np.concatenate([p[0] for p in parts])
    values = np.concatenate([p[1] for p in parts])[np.argsort(ids)]
    found = {name: values[:, 1 + k].astype(bool) for k, name in enumerate(variables)}
    return first_nonfinite(values[:, 0], found, dt)


def _connect(projection, k: int, nodes: dict, cell_type, dt: float):
    """Connect a projection with ``nest.Connect`` on arrays of node IDs (NEST's ``connect_arrays``).

    PyNN's projections go through Python per target neuron (``FromListConnector``), and take
    NEST's synapse models by their defaults, which for generated synapses include internals
    that cannot be set; the populations' nodes are connected here directly instead, one
    connection per (pre, post) pair. Returns the weight recorder, if any.
    """
    import nest

    synapse = projection.synapse
    model = "static_synapse" if synapse is None else cell_type.synapse_models[synapse.name]
    recorder = None
    if projection.record_weights is not None:
        recorder = nest.Create("weight_recorder")
        copy = f"{model}_sn_recorded{k}"
        if copy not in nest.synapse_models:
            nest.CopyModel(model, copy)
        nest.SetDefaults(copy, {"weight_recorder": recorder})
        model = copy
        recorder = (recorder, copy)
    pre = np.asarray(nodes[projection.pre].node_collection.tolist())
    post = np.asarray(nodes[projection.post].node_collection.tolist())
    fixed = {"synapse_model": model, "receptor_type": _receptor_index(cell_type, projection.receptor)}
    if synapse is not None:
        fixed.update(projection.synapse_parameters)
        fixed.update(projection.synapse_initial)
        fixed["sn_lastupdate"] = dt  # NEST's times are one step later than Brian2's (the template explains)
    # NEST's array interface (connect_arrays), in pieces so that its copies stay small
    for start in range(0, len(projection.i), CONNECT_CHUNK):
        piece = slice(start, start + CONNECT_CHUNK)
        syn_spec = {
            **fixed,
            "weight": np.array(projection.weights[piece], dtype=float),  # SI, as the generated neurons read them
            "delay": _grid_ms(projection.delays[piece]),
        }
        nest.Connect(pre[projection.i[piece]], post[projection.j[piece]], {"rule": "one_to_one"}, syn_spec)
    return recorder


def _weights(projection, nodes: dict, recorded, dt: float, n_steps: int) -> WeightRecord:
    """The weight recorder's events as a :class:`WeightRecord` (emission times, Brian2's clock).

    A plastic synapse handles a spike at its emission on NEST; spikes that would arrive after
    the end of the run are left out, as on Brian2, which handles them on arrival."""
    import nest

    recorder, recorder_model = recorded
    events = recorder.get("events")
    pre = np.asarray(nodes[projection.pre].node_collection.tolist())[projection.i]
    post = np.asarray(nodes[projection.post].node_collection.tolist())[projection.j]
    index = {(int(a), int(b)): k for k, (a, b) in enumerate(zip(pre, post, strict=True))}
    if len(index) != len(pre):
        raise InputError(
            f"projection {projection.name!r}: NEST's weight recorder cannot tell apart two synapses between the "
            "same pair of neurons; record a projection without repeated pairs"
        )
    synapse = np.array(
        [index[(int(a), int(b))] for a, b in zip(events["senders"], events["targets"], strict=True)], dtype=int
    )
    times = np.asarray(events["times"], dtype=float) * 1e-3 - dt  # NEST stamps the end of the step
    keep = np.isin(synapse, projection.record_weights)
    if projection.synapse is not None:
        arrival = np.round(times / dt).astype(int) + np.round(projection.delays[synapse] / dt).astype(int)
        keep &= arrival < n_steps
    final = np.zeros(len(pre))
    connections = nest.GetConnections(synapse_model=recorder_model).get(["source", "target", "weight"])
    for a, b, w in zip(connections["source"], connections["target"], connections["weight"], strict=True):
        final[index[(int(a), int(b))]] = w
    return WeightRecord(synapse[keep], times[keep], np.asarray(events["weights"], dtype=float)[keep], final)
