"""Networks: populations of models, spike sources, connections and recordings, on any backend.

A :class:`Network` is described once and run on any backend with :meth:`Network.run`. Every
random choice (connections, weights and delays drawn from distributions, Poisson spike trains,
noise currents, parameter distributions) is drawn here, in Python, from the network's seed, and
handed to the backend as explicit arrays: the same seed gives the same network and the same
input on every backend, so runs can be compared spike by spike.

Example
-------
>>> net = sn.Network(seed=1)
>>> exc = net.population("exc", "lif", 80, params={"V_th": {"uniform": ["-52 mV", "-48 mV"]}})
>>> drive = net.poisson("drive", 20, rate="50 Hz")
>>> net.connect(drive, exc, "fixed_probability", p=0.2, weight="40 pA", delay="1 ms", receptor="exc")
>>> net.record(exc, ["spikes", "v"])
>>> block = net.run("200 ms", backend="brian2")
"""

from __future__ import annotations

from sourced_neuron.common import brian2_import  # noqa: F401 - before Brian2: keeps the user's excepthook

# isort: split

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import neo
import numpy as np
import quantities as pq
from brian2.units.fundamentalunits import DIMENSIONLESS

from sourced_neuron.backends import (
    NetworkSpec,
    PopulationSpec,
    ProjectionSpec,
    SourceSpec,
    check_backend_grid,
    check_steps,
    get_backend,
)
from sourced_neuron.common import mpi
from sourced_neuron.common.arguments import as_flag, as_indices, as_names, as_probability, check_seed, whole_number
from sourced_neuron.common.errors import InputError, UnsupportedFeatureError, did_you_mean
from sourced_neuron.common.progress import Progress
from sourced_neuron.common.resources import MAX_STEPS, require_memory
from sourced_neuron.results.blocks import build_block
from sourced_neuron.run import connectivity
from sourced_neuron.spec.library import load_model
from sourced_neuron.spec.model import NeuronModel
from sourced_neuron.spec.parts import AMP, MAX_DT, MIN_DT, SECOND
from sourced_neuron.spec.stimulus import Stimulus
from sourced_neuron.spec.synapses import SynapseModel, load_synapse
from sourced_neuron.spec.units import as_quantity, as_scalar

__all__ = ["RULES", "Network"]

#: Connection rules of :meth:`Network.connect`.
RULES = ("all_to_all", "one_to_one", "fixed_probability", "fixed_indegree", "list")
_DISTRIBUTIONS = {"uniform": 2, "normal": 2, "lognormal": 2}


@dataclass(eq=False)
class _Population:
    name: str
    model: NeuronModel
    size: int
    preset: str | None
    values: dict[str, Any]  # parameter or state -> value, array or distribution, as given
    stimulus: Any = None
    record: set[str] = field(default_factory=set)


@dataclass(eq=False)
class _Source:
    name: str
    size: int
    rate: float | None = None  # Hz, Poisson
    start: float = 0.0
    stop: float | None = None
    times: list[np.ndarray] | None = None  # seconds, per neuron
    record: set[str] = field(default_factory=set)


@dataclass(eq=False)
class _Connection:
    pre: str
    post: str
    i: np.ndarray
    j: np.ndarray
    weight: Any
    delay: Any
    receptor: str
    name: str
    synapse: SynapseModel | None = None
    synapse_parameters: dict[str, float] = field(default_factory=dict)
    record_weights: np.ndarray | None = None  # indices of the synapses whose weights are recorded


class Network:
    """A network of populations, spike sources and connections, run on any backend.

    Parameters
    ----------
    dt : str or quantity, optional
        The time step of every population (default: the first population's ``numerics.dt``).
    seed : int, optional
        Seeds every random choice made here and the simulators' own generators (white noise).
        Without one, each network draws fresh random numbers.
    """

    def __init__(self, dt: Any = None, seed: int | None = None):
        check_seed(seed)
        self.seed = None if seed is None else int(seed)
        # under MPI every process draws the same network: without a seed, rank 0's fresh entropy
        self._sequence = np.random.SeedSequence(
            self.seed if self.seed is not None or mpi.size() == 1 else mpi.broadcast(np.random.SeedSequence().entropy)
        )
        self._rng = np.random.default_rng(self._sequence.spawn(1)[0])
        self.dt = None if dt is None else float(as_scalar(dt, "dt", SECOND))
        if self.dt is not None and not MIN_DT <= self.dt <= MAX_DT:
            raise InputError(f"dt must be from 1 ns to 1 s (docs/semantics.md, 'Limits'), got {dt!r}")
        self._populations: dict[str, _Population] = {}
        self._sources: dict[str, _Source] = {}
        self._connections: list[_Connection] = []

    # --- building ----------------------------------------------------------------------

    def population(
        self,
        name: str,
        model: NeuronModel | str | Path,
        size: int,
        preset: str | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> str:
        """Add ``size`` neurons of ``model``; returns the population's name.

        Parameters
        ----------
        name : str
            Names the population in connections, recordings and the Neo block.
        model : NeuronModel, str or path
        size : int
        preset : str, optional
        params : mapping, optional
            Parameters or initial values of states: one value (``"-50 mV"``), one value per
            neuron (a sequence or array with units), or a distribution drawn per neuron from the
            network's seed: ``{"uniform": [low, high]}``, ``{"normal": [mean, std]}``,
            ``{"lognormal": [median, sigma]}`` (sigma dimensionless).
        """
        self._check_name(name)
        _check_size(size, f"population {name!r}")
        model = load_model(model).with_preset(preset)
        if params is not None and (not isinstance(params, Mapping) or not all(isinstance(k, str) for k in params)):
            raise InputError(f"population {name!r}: params must be a mapping of name to value, got {params!r}")
        values = dict(params or {})
        valid = model.parameter_names + model.state_variables + model.per_neuron_parameters
        for key, value in values.items():
            if key not in valid:
                raise InputError(
                    f"population {name!r}: model {model.name!r} has no parameter or state {key!r}"
                    f"{did_you_mean(key, valid)}"
                )
            if not isinstance(value, Mapping):  # a value or one per neuron: checked now (distributions at run)
                drawn = _values(value, int(size), model.dimension_of(key), f"{name}.{key}", None)
                model.check_bounds(key, drawn, f"population {name!r}: parameter {key!r}")
        if self.dt is None:
            self.dt = model.numerics.dt.magnitude
        self._populations[name] = _Population(name, model, int(size), preset, values)
        return name

    def poisson(self, name: str, size: int, rate: Any, start: Any = "0 ms", stop: Any = None) -> str:
        """Add ``size`` independent Poisson spike sources of ``rate``; returns the name.

        The trains are drawn per time step (at most one spike per step and source, with
        probability ``rate*dt``) from the network's seed when the network runs.
        """
        self._check_name(name)
        _check_size(size, f"source {name!r}")
        hz = float(as_scalar(rate, f"rate of source {name!r}", SECOND**-1))
        if hz < 0:
            raise InputError(f"source {name!r}: rate must not be negative, got {rate!r}")
        if self.dt is not None and hz * self.dt > 1:
            raise InputError(
                f"source {name!r}: a rate of {hz:g} Hz is more than one spike per time step ({self.dt * 1e3:g} ms); "
                f"a Poisson source fires at most once per step, so its rate is at most {1 / self.dt:g} Hz"
            )
        start_s = float(as_scalar(start, f"start of source {name!r}", SECOND))
        stop_s = None if stop is None else float(as_scalar(stop, f"stop of source {name!r}", SECOND))
        self._sources[name] = _Source(name, int(size), rate=hz, start=start_s, stop=stop_s)
        return name

    def spike_source(self, name: str, times: Any) -> str:
        """Add spike sources firing at given times; returns the name.

        Parameters
        ----------
        times : sequence
            One sequence of times per source (``[["10 ms", "20 ms"], [...]]``, or arrays with
            units); a flat sequence makes one source. Times are rounded to the time step and
            must be at least one step (no backend's spike generator fires in the first step on
            NEST, so none does anywhere).
        """
        self._check_name(name)
        if isinstance(times, neo.SpikeTrain):
            times = [times]
        rows = list(times) if isinstance(times, Sequence | np.ndarray) and not isinstance(times, str) else None
        if rows is None or not rows:
            raise InputError(f"source {name!r}: give one sequence of spike times per source")
        if not isinstance(rows[0], Sequence | np.ndarray | neo.SpikeTrain) or isinstance(rows[0], str):
            rows = [rows]
        trains = []
        for k, row in enumerate(rows):
            values = as_quantity(
                list(row) if isinstance(row, list | tuple) else row, f"spike times of {name}[{k}]", SECOND
            )
            values = np.atleast_1d(np.asarray(values, dtype=float))
            if values.ndim != 1 or not np.all(np.isfinite(values)):
                raise InputError(f"source {name}[{k}]: spike times must be finite numbers")
            if self.dt is not None and np.any(values < self.dt * (1 - 1e-9)):
                raise InputError(
                    f"source {name}[{k}]: spike times must be at least one time step ({self.dt * 1e3:g} ms); "
                    "NEST's spike generators cannot fire in the first step"
                )
            trains.append(np.sort(values))
        self._sources[name] = _Source(name, len(trains), times=trains)
        return name

    def replay(self, name: str, path: str | Path, population: str | None = None, allow_pickle: bool = False) -> str:
        """Add spike sources that fire the spikes recorded in a file; returns the name.

        Parameters
        ----------
        path : str or Path
            A CSV spike table (:func:`sourced_neuron.results.io.write_spike_csv`) or a Neo file
            (``.nix``, ``.nwb``, ``.pkl``) of an earlier run: one source per spike train, in the
            file's order.
        population : str, optional
            Replay only this population's trains.
        allow_pickle : bool
            Read a ``.pkl`` file: unpickling runs any code the file holds, so only for files you
            trust (:func:`sourced_neuron.results.io.read_blocks`).
        """
        from sourced_neuron.results.io import read_spike_trains

        return self.spike_source(name, read_spike_trains(path, population, allow_pickle=allow_pickle))

    def connect(
        self,
        pre: str,
        post: str,
        rule: str = "all_to_all",
        weight: Any = None,
        delay: Any = None,
        receptor: str | None = None,
        p: float | None = None,
        indegree: int | None = None,
        pairs: Any = None,
        autapses: bool = True,
        synapse: Any = None,
        name: str | None = None,
    ) -> int:
        """Connect ``pre`` (a population or source) to population ``post``; returns the count.

        Parameters
        ----------
        rule : str
            ``all_to_all``, ``one_to_one``, ``fixed_probability`` (``p``), ``fixed_indegree``
            (``indegree`` distinct sources per target) or ``list`` (``pairs``: (pre, post)
            index pairs).
        weight : value, array or distribution
            In the receptor's weight unit: siemens (conductance), amp (current), volt (delta).
        delay : value, array or distribution, optional
            Rounded to whole time steps; at least one step (default: one step).
        receptor : str
            A receptor port of the post population's model (default: its only port).
        autapses : bool
            Whether a population may connect a neuron to itself (random rules only).
        synapse : str, path, SynapseModel or (model, parameters), optional
            A synapse model (library: ``stdp_additive``, ``stdp_multiplicative``,
            ``tsodyks_markram``, ``static``, the default), e.g.
            ``("stdp_additive", {"w_max": "2 nA"})``; parameters marked ``weight`` in the
            model are in the receptor's weight unit and must be given. The delay of a plastic
            synapse is dendritic, as in NEST (docs/semantics.md).
        name : str, optional
            The projection's name, for :meth:`record` (default ``"pre->post"``, numbered
            when repeated).
        """
        sizes = {**{k: v.size for k, v in self._populations.items()}, **{k: v.size for k, v in self._sources.items()}}
        for end, value in (("pre", pre), ("post", post), ("receptor", receptor), ("rule", rule)):
            if value is not None and not isinstance(value, str):
                raise InputError(f"connect: {end} must be a name (a string), got {type(value).__name__} {value!r}")
        as_flag(autapses, "connect: autapses")
        if pre not in sizes:
            raise InputError(f"connect: unknown source {pre!r}{did_you_mean(str(pre), sizes)}")
        if post not in self._populations:
            raise InputError(f"connect: unknown population {post!r}{did_you_mean(str(post), self._populations)}")
        model = self._populations[post].model
        ports = [port.name for port in model.synapses]
        if not ports:
            raise InputError(f"connect: model {model.name!r} of population {post!r} has no receptor ports (synapses:)")
        if receptor is None:
            if len(ports) > 1:
                raise InputError(f"connect {pre} -> {post}: name the receptor, one of {', '.join(ports)}")
            receptor = ports[0]
        if receptor not in ports:
            raise InputError(
                f"connect {pre} -> {post}: model {model.name!r} has no receptor {receptor!r}"
                f"{did_you_mean(str(receptor), ports)}; ports: {', '.join(ports)}"
            )
        if weight is None:
            raise InputError(f"connect {pre} -> {post}: give a weight")
        what = f"connect {pre} -> {post}"
        model_of_synapse, values = None, {}
        if synapse is not None:
            spec, given = synapse if isinstance(synapse, tuple) and len(synapse) == 2 else (synapse, {})
            if not isinstance(given, Mapping):
                raise InputError(f"{what}: synapse parameters must be a mapping of name: value, got {given!r}")
            model_of_synapse = load_synapse(spec)
            port = next(p for p in model.synapses if p.name == receptor)
            model_of_synapse.check_weight(port.weight_dimension, what)
            values = model_of_synapse.resolve(dict(given), port.weight_dimension, what)
            if model_of_synapse.is_static:
                model_of_synapse = None
        if name is None:
            name = f"{pre}->{post}"
            taken = {c.name for c in self._connections}
            name = (
                next(f"{name}#{k}" for k in range(2, len(taken) + 3) if f"{name}#{k}" not in taken)
                if name in taken
                else name
            )
        elif not isinstance(name, str) or not name or name in {c.name for c in self._connections}:
            raise InputError(f"{what}: the projection name must be a new, non-empty string, got {name!r}")
        i, j = self._pairs(rule, sizes[pre], sizes[post], p, indegree, pairs, not autapses and pre == post, what)
        self._connections.append(_Connection(pre, post, i, j, weight, delay, receptor, name, model_of_synapse, values))
        return len(i)

    def inject(self, population: str, current: Any) -> None:
        """Inject a current ``I_ext`` into every neuron of a population.

        ``current``: anything :func:`sourced_neuron.simulate` takes as ``stimulus`` (a DC value
        or one per neuron, a step, a sampled current), or noise: ``{"noise": {"mean": "100 pA",
        "std": "20 pA"}}``, white noise with one value per step and neuron, drawn from the
        network's seed (the same samples on every backend).
        """
        pop = self._population(population, "inject")
        if not pop.model.uses_input:
            raise InputError(f"inject: model {pop.model.name!r} of population {population!r} does not read I_ext")
        if isinstance(current, Mapping) and set(current) == {"noise"}:
            spec = current["noise"]
            if not isinstance(spec, Mapping) or set(spec) - {"mean", "std"} or "std" not in spec:
                raise InputError("inject: noise needs {'mean': current, 'std': current}")
            mean = float(as_quantity(spec.get("mean", 0.0), "noise mean", AMP))
            std = float(as_quantity(spec["std"], "noise std", AMP))
            if std < 0:
                raise InputError(f"inject: noise std must not be negative, got {spec['std']!r}")
            pop.stimulus = ("noise", mean, std)
        else:
            Stimulus.from_user(current, pop.size)  # checked now, so errors come where the call is
            pop.stimulus = current

    def record(
        self, target: str, variables: Iterable[str] | str = ("spikes",), synapses: Iterable[int] | None = None
    ) -> None:
        """Record ``"spikes"`` and/or state variables of a population (or the spikes of a source).

        For a projection (by its name), record ``"weights"``: the weight each presynaptic spike
        transmits through each synapse (for ``tsodyks_markram`` that is ``u * x * w``), returned
        as a ``neo.Event`` per projection, with every synapse's final weight. ``synapses``
        (indices into the projection, default all) limits the events to some synapses: Brian2
        keeps the transmitted weight of each recorded synapse for every step of the run.
        """
        if not isinstance(target, str):
            raise InputError(f"record: target must be a population, source or projection name, got {target!r}")
        variables = as_names(variables, "record: variables")
        if not variables:
            raise InputError(f"record {target!r}: name what to record, e.g. 'spikes' or ('spikes', 'v')")
        projections = {c.name: c for c in self._connections}
        if target in projections:
            connection = projections[target]
            if set(variables) != {"weights"}:
                raise InputError(f"record: projection {target!r} records 'weights' only, got {variables!r}")
            n = len(connection.i)
            if synapses is None:
                chosen = np.arange(n)
            elif isinstance(synapses, str | bytes | Mapping):
                raise InputError(f"record: synapses of {target!r} must be indices 0 to {n - 1}, got {synapses!r}")
            else:
                chosen = np.unique(
                    as_indices(list(synapses), f"record: projection {target!r} (synapses 0 to {n - 1})", n)
                )
            connection.record_weights = chosen
            return
        if synapses is not None:
            raise InputError(f"record: synapses= is for projections; {target!r} is not one")
        if target in self._sources:
            if set(variables) - {"spikes"}:
                raise InputError(f"record: source {target!r} has spikes only")
            self._sources[target].record.add("spikes")
            return
        pop = self._population(target, "record")
        model = pop.model
        recordable = ("spikes", *model.state_variables, *model.subexpressions, *model.per_neuron_parameters)
        for name in variables:
            if name not in recordable:
                raise InputError(
                    f"record: cannot record {name!r} from population {target!r}"
                    f"{did_you_mean(name, recordable)}; recordable: {', '.join(recordable)}"
                )
        pop.record.update(variables)

    # --- running -----------------------------------------------------------------------

    def run(
        self, duration: Any, backend: str = "brian2", progress: bool | None = None, check_finite: bool = True
    ) -> neo.Block:
        """Simulate the network and return one Neo block.

        ``progress`` shows a bar of simulated time: by default only on a terminal
        (:mod:`sourced_neuron.common.progress`). ``check_finite`` refuses a run in which a state
        variable becomes infinite or NaN, naming the population, neuron, variable and time
        (:class:`~sourced_neuron.common.errors.NonFiniteStateError`; docs/semantics.md); ``False``
        returns the values as they are.

        Returns
        -------
        neo.Block
            Built by :func:`sourced_neuron.results.blocks.build_block`, the layout of every run
            (docs/analysis.md, "The Neo block"): one segment with a ``SpikeTrain`` per recorded
            neuron (populations in order, then recorded sources; annotated ``population`` and
            ``index``), an ``AnalogSignal`` per recorded population and variable, named
            ``"<population>.<variable>"`` (shape ``(n_samples, size)``, annotated
            ``population``, ``variable`` and ``model``), and an ``Event`` per projection whose
            weights are recorded. The annotation ``structure`` describes the populations (size,
            model, hash, preset, input, parameters), sources and projections as plain data: read
            it with :func:`sourced_neuron.results.blocks.structure`. Block and segment also carry
            the backend, dt, seed, the simulator's seed, ``n_neurons`` and ``run_seconds``.
        """
        as_flag(check_finite, "check_finite")
        spec = self.spec(duration)
        spec.check_finite = check_finite
        engine = get_backend(backend)
        check_backend_grid(engine.capabilities(), spec.dt, backend)
        methods = engine.capabilities().methods
        for pop in spec.populations:
            method = pop.model.numerics.method
            if method not in methods:
                raise UnsupportedFeatureError(
                    f"backend {backend!r} cannot integrate model {pop.model.name!r} (population {pop.name!r}) "
                    f"with method {method!r} here (it can: {', '.join(sorted(methods))})"
                )
        with Progress(spec.n_steps * spec.dt, f"network on {backend}", progress) as bar:
            results = engine.run_network(spec, bar)
        if check_finite:
            spec.raise_nonfinite(results)
        pops = self._populations.values()
        stimuli = {p.name: _noise_text(p.stimulus) for p in pops if isinstance(p.stimulus, tuple)}
        return build_block(spec, results, backend, self.seed, None, {p.name: p.preset for p in pops}, stimuli)

    def spec(self, duration: Any) -> NetworkSpec:
        """The backend-independent description of a run: every random choice drawn."""
        if not self._populations:
            raise InputError("the network has no populations")
        seconds = float(as_scalar(duration, "duration", SECOND))
        if seconds <= 0:
            raise InputError(f"duration must be positive, got {duration!r}")
        dt = float(self.dt)
        n_steps = check_steps(seconds, dt, f"duration {duration!r}")
        recorded = sum(p.size * len(p.record - {"spikes"}) for p in self._populations.values())
        require_memory(
            24.0 * (n_steps + 1) * recorded,  # monitor, result and Neo signal, float64 each
            f"recording {recorded:,} variable(s) of neurons for {n_steps:,} steps",
            "record fewer variables or neurons, or simulate a shorter time",
        )
        rng = np.random.default_rng(self._sequence.spawn(1)[0])  # one stream per run
        populations = [self._population_spec(pop, dt, n_steps, rng) for pop in self._populations.values()]
        sources = [self._source_spec(src, dt, n_steps, rng) for src in self._sources.values()]
        projections = [self._projection_spec(c, dt, rng) for c in self._connections]
        seed = None if self.seed is None else int(rng.integers(2**31 - 2))
        return NetworkSpec(populations, sources, projections, dt, n_steps, seed)

    # --- helpers -----------------------------------------------------------------------

    def _check_name(self, name: str) -> None:
        if not isinstance(name, str) or not name.isidentifier():
            raise InputError(f"a population or source name must be an identifier, got {name!r}")
        if name in self._populations or name in self._sources:
            raise InputError(f"the network already has a population or source named {name!r}")

    def _population(self, name: str, what: str) -> _Population:
        if name not in self._populations:
            raise InputError(f"{what}: unknown population {name!r}{did_you_mean(str(name), self._populations)}")
        return self._populations[name]

    def _pairs(self, rule, n_pre, n_post, p, indegree, pairs, exclude_self, what):
        rng = self._rng
        _require_connection_memory(rule, n_pre, n_post, p, indegree, what)
        if rule == "all_to_all":
            return connectivity.all_to_all(n_pre, n_post, exclude_self)
        if rule == "one_to_one":
            if n_pre != n_post:
                raise InputError(f"{what}: one_to_one needs equal sizes, got {n_pre} and {n_post}")
            index = np.arange(n_pre, dtype=connectivity.index_dtype(n_pre))
            return index, index.copy()
        if rule == "fixed_probability":
            if p is None:
                raise InputError(f"{what}: fixed_probability needs p, a probability from 0 to 1")
            return connectivity.fixed_probability(rng, n_pre, n_post, as_probability(p, f"{what}: p"), exclude_self)
        if rule == "fixed_indegree":
            available = n_pre - (1 if exclude_self else 0)
            if indegree is None:
                raise InputError(f"{what}: fixed_indegree needs indegree, a whole number from 0 to {available}")
            k = whole_number(indegree, f"{what}: indegree", 0, available)
            return connectivity.fixed_indegree(rng, n_pre, n_post, k, exclude_self)
        if rule == "list":
            if pairs is None or isinstance(pairs, str | bytes | Mapping):
                raise InputError(f"{what}: the list rule needs pairs, a sequence of (pre, post) index pairs")
            array = as_indices(pairs, f"{what}: pairs", max(n_pre, n_post), columns=2)
            if array.size and (
                array[:, 0].min() < 0
                or array[:, 0].max() >= n_pre
                or array[:, 1].min() < 0
                or array[:, 1].max() >= n_post
            ):
                raise InputError(f"{what}: a pair indexes outside the populations ({n_pre} and {n_post} neurons)")
            dtype = connectivity.index_dtype(max(n_pre, n_post))
            return array[:, 0].astype(dtype), array[:, 1].astype(dtype)
        raise InputError(f"{what}: unknown rule {rule!r}{did_you_mean(str(rule), RULES)}; rules: {', '.join(RULES)}")

    def _population_spec(self, pop: _Population, dt: float, n_steps: int, rng) -> PopulationSpec:
        model = pop.model
        if model.numerics.dt.magnitude != dt:
            model = model.with_numerics(dt=dt * pq.s)
        constant, per_neuron = {}, {}
        for key, value in pop.values.items():
            drawn = _values(value, pop.size, model.dimension_of(key), f"{pop.name}.{key}", rng)
            model.check_bounds(key, drawn, f"population {pop.name!r}: parameter {key!r}")
            if np.ndim(drawn):
                per_neuron[key] = drawn
            else:
                constant[key] = value
        model = model.with_parameters(constant)
        parameters = {k: v for k, v in per_neuron.items() if k in model.parameter_names}
        initial = model.initial_arrays(parameters, pop.size)
        initial.update({k: v for k, v in per_neuron.items() if k not in parameters})
        if pop.stimulus is None:
            stimulus = Stimulus.from_user(None, pop.size)
        elif isinstance(pop.stimulus, tuple):
            _, mean, std = pop.stimulus
            samples = mean + std * rng.standard_normal((n_steps, pop.size))
            stimulus = Stimulus.from_user({"samples": samples * _AMP, "sampling_period": dt * _SECOND}, pop.size)
        else:
            stimulus = Stimulus.from_user(pop.stimulus, pop.size)
        variables = tuple(sorted(pop.record - {"spikes"}))
        return PopulationSpec(
            pop.name, model, pop.size, parameters, initial, stimulus, variables, "spikes" in pop.record
        )

    def _source_spec(self, src: _Source, dt: float, n_steps: int, rng) -> SourceSpec:
        if src.rate is not None:
            first = max(1, int(np.ceil(src.start / dt - 1e-9)))  # sources fire from t = dt (see spike_source)
            last = n_steps if src.stop is None else min(n_steps, int(np.ceil(src.stop / dt - 1e-9)))
            steps = max(last - first, 0)
            step, index = connectivity.poisson_steps(rng, steps, src.size, src.rate * dt)
            times = (step + first) * dt
        else:
            index = np.concatenate([np.full(len(t), k) for k, t in enumerate(src.times)])
            step = np.concatenate([np.round(t / dt).astype(int) for t in src.times])
            for k, t in enumerate(src.times):
                grid = np.round(t / dt)
                if len(np.unique(grid)) != len(grid):
                    raise InputError(f"source {src.name}[{k}]: two spikes fall into one time step of {dt * 1e3} ms")
            if len(step) and step.min() < 1:
                raise InputError(
                    f"source {src.name!r}: spike times must be at least one time step ({dt * 1e3:g} ms); "
                    "NEST's spike generators cannot fire in the first step"
                )
            inside = step < n_steps
            index, times = index[inside], step[inside] * dt
        order = np.lexsort((index, times))
        index = index[order].astype(connectivity.index_dtype(src.size))
        return SourceSpec(src.name, src.size, index, times[order], "spikes" in src.record)

    def _projection_spec(self, c: _Connection, dt: float, rng) -> ProjectionSpec:
        port = next(p for p in self._populations[c.post].model.synapses if p.name == c.receptor)
        n = len(c.i)
        what = f"connect {c.pre} -> {c.post}"
        # a value shared by every synapse stays one number: a read-only view, no array per synapse
        weights = _per_synapse(_values(c.weight, n, port.weight_dimension, f"{what} weight", rng), n)
        delays = np.asarray(_values("0 ms" if c.delay is None else c.delay, n, SECOND, f"{what} delay", rng))
        if delays.size and delays.max() / dt > MAX_STEPS:
            raise InputError(f"{what}: a delay of more than {MAX_STEPS:,} time steps cannot be simulated")
        if c.delay is not None and delays.size and delays.min() < dt * (1 - 1e-9):
            raise InputError(f"{what}: delays must be at least one time step ({dt * 1e3:g} ms) on every backend")
        delays = _per_synapse(np.maximum(np.round(delays / dt), 1) * dt, n)
        initial = c.synapse.initial_values(c.synapse_parameters) if c.synapse is not None else {}
        return ProjectionSpec(
            c.pre,
            c.post,
            c.i,
            c.j,
            weights,
            delays,
            c.receptor,
            c.name,
            c.synapse,
            dict(c.synapse_parameters),
            initial,
            c.record_weights,
        )


_AMP = pq.A
_SECOND = pq.s


#: Bytes a synapse takes from drawing to the simulator: its int32 indices here (8), NEST's or
#: Brian2's own copy and the copies handed to it (measured: 79 on ``nest``, 46 on ``brian2-cpp``
#: at the peak of the whole process, docs/benchmarks.md), with room to spare.
BYTES_PER_SYNAPSE = 96


def _require_connection_memory(rule: str, n_pre: int, n_post: int, p: Any, indegree: Any, what: str) -> None:
    """Refuse a connection whose synapses, or the arrays drawn to choose them, cannot fit in memory.

    Drawing takes memory in proportion to the synapses (run/connectivity.py): at most 24 bytes
    per synapse at its peak (measured in tests/test_connectivity.py), beyond the synapses' own."""
    pairs = float(n_pre) * float(n_post)
    if rule == "all_to_all":
        synapses = pairs
    elif rule == "fixed_probability":
        try:
            synapses = pairs * as_probability(p, "p")
        except InputError:
            return  # refused with its reason by the rule itself
    elif rule == "fixed_indegree":
        try:
            synapses = float(n_post) * whole_number(indegree, "indegree")
        except InputError:
            return
    else:
        return
    require_memory(
        (24 + BYTES_PER_SYNAPSE) * synapses,
        f"{what} ({rule}, {n_pre:,} x {n_post:,} neurons, {synapses:.3g} synapses)",
        "connect fewer neurons or with a lower probability or in-degree",
    )


def _check_size(size: Any, what: str) -> None:
    if isinstance(size, bool) or not isinstance(size, int | np.integer) or not 1 <= size <= 100_000_000:
        raise InputError(f"{what}: size must be a positive integer, got {size!r}")


def _values(value: Any, n: int, dimension, what: str, rng) -> float | np.ndarray:
    """A value, one value per element, or a distribution drawn for ``n`` elements (SI)."""
    if isinstance(value, Mapping):
        if len(value) != 1 or next(iter(value)) not in _DISTRIBUTIONS:
            raise InputError(
                f"{what}: a distribution is one of {', '.join(_DISTRIBUTIONS)}, e.g. "
                "{'uniform': ['-60 mV', '-50 mV']}"
            )
        kind, args = next(iter(value.items()))
        if not isinstance(args, Sequence) or isinstance(args, str) or len(args) != 2:
            raise InputError(f"{what}: {kind} takes two values")
        if kind == "lognormal":
            median = float(as_scalar(args[0], f"{what} median", dimension))
            sigma = float(as_scalar(args[1], f"{what} sigma", DIMENSIONLESS))
            return median * np.exp(sigma * rng.standard_normal(n))
        a = float(as_scalar(args[0], f"{what} {kind}", dimension))
        b = float(as_scalar(args[1], f"{what} {kind}", dimension))
        if kind == "uniform":
            if b < a:
                raise InputError(f"{what}: uniform needs low <= high")
            return rng.uniform(a, b, n)
        if b < 0:
            raise InputError(f"{what}: normal needs a non-negative standard deviation")
        return rng.normal(a, b, n)
    quantity = as_quantity(list(value) if isinstance(value, list | tuple) else value, what, dimension)
    array = np.asarray(quantity, dtype=float)
    if array.ndim == 0:
        return float(array)
    if array.shape != (n,):
        raise InputError(f"{what}: give one value or {n} values, not shape {array.shape}")
    return array.copy()


def _per_synapse(values: float | np.ndarray, n: int) -> np.ndarray:
    """``n`` values as float64: a read-only broadcast view of a single value (no memory per synapse)."""
    array = np.asarray(values, dtype=float)
    if array.ndim == 0 or (array.size > 1 and np.all(array == array.flat[0])):
        return np.broadcast_to(array.flat[0] if array.size else array, (n,))
    return np.broadcast_to(array, (n,))


def _noise_text(stimulus: tuple) -> str:
    """The description of an injected white noise (``("noise", mean, std)``, amps) in a block."""
    _, mean, std = stimulus
    return f"noise, mean {mean * 1e12:g} pA, std {std * 1e12:g} pA"
