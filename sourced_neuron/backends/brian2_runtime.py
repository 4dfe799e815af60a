"""Backend ``brian2``: Brian2's runtime mode (the embedded default backend).

The code generation target is Brian2's own preference (``prefs.codegen.target``: Cython
when it can compile, else NumPy); the environment variable
``SOURCED_NEURON_BRIAN2_TARGET`` (``numpy`` or ``cython``) overrides it.

Besides whole runs, the backend keeps live simulations (:class:`Brian2Session`, from
:meth:`Brian2Runtime.open_session`): one network that goes on from where it stopped each time
it is advanced, which is what :class:`sourced_neuron.SourcedNeuron` uses.
"""

from __future__ import annotations

import importlib.util
import itertools
import logging
import os
import sys
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from sourced_neuron.backends.base import (
    Backend,
    Capabilities,
    Chunk,
    NetworkSpec,
    NonFinite,
    PopulationSpec,
    ProjectionSpec,
    RunResult,
    Session,
    SimulationRequest,
    WeightRecord,
    first_nonfinite,
)
from sourced_neuron.codegen.brian2 import (
    AMPLITUDE_NAME,
    NONFINITE_EVENT,
    NONFINITE_TIME,
    STIMULUS_NAME,
    NonFiniteCheck,
    brian2_unit,
    lower,
    nonfinite_check,
    nonfinite_flag,
)
from sourced_neuron.common.errors import SimulationError, SourcedNeuronError, UnsupportedFeatureError
from sourced_neuron.common.progress import Progress
from sourced_neuron.spec.parts import INPUT, METHODS, RKF45_ABSOLUTE_ERROR
from sourced_neuron.spec.stimulus import Stimulus

#: Brian2's GSL options for ``rkf45`` (docs/semantics.md), with the model's ``abs_error``
#: (default ``RKF45_ABSOLUTE_ERROR``). NEST's GSL loop takes as many sub-steps as the error
#: bound needs; Brian2 stops at ``max_steps`` (100 by default), which an exponential upswing
#: (AdEx just before a spike) can exceed.
RKF45_OPTIONS = {"absolute_error": RKF45_ABSOLUTE_ERROR, "max_steps": 100_000}

TARGET_VARIABLE = "SOURCED_NEURON_BRIAN2_TARGET"

#: How often (wall-clock seconds) a runtime run reports progress and looks for a stored
#: non-finite state, to stop early (docs/semantics.md, "Non-finite states").
REPORT_PERIOD = 0.5


def gsl_available() -> bool:
    """Whether the GSL headers Brian2 needs for ``rkf45`` (its GSL state updater) are installed."""
    from brian2 import prefs

    folders = [prefs.GSL.directory] if prefs.GSL.directory else ["/usr/include", "/usr/local/include"]
    return any(Path(folder, "gsl", "gsl_odeiv2.h").exists() for folder in folders if folder)


def codegen_target() -> str:
    """The Brian2 code generation target runs will use."""
    from brian2 import prefs

    target = os.environ.get(TARGET_VARIABLE) or prefs.codegen.target
    if target not in ("auto", "numpy", "cython"):
        raise SimulationError(f"{TARGET_VARIABLE}={target!r}: use 'numpy' or 'cython'")
    return target


@contextmanager
def _target(target: str):
    """Run Brian2 with this code generation target.

    Compiled modules are loaded with ``RTLD_DEEPBIND``, so that they call the GSL they were
    compiled against: the NEST wheel loads its own, older GSL into the global symbol scope,
    and without it a Brian2 GSL module loaded after NEST would bind to that one and crash.
    """
    from brian2 import prefs

    previous, flags = prefs.codegen.target, sys.getdlopenflags()
    prefs.codegen.target = target
    sys.setdlopenflags(flags | getattr(os, "RTLD_DEEPBIND", 0))
    try:
        yield
    finally:
        prefs.codegen.target = previous
        sys.setdlopenflags(flags)


class Brian2Runtime(Backend):
    """Brian2 runtime: builds a ``NeuronGroup`` from the lowered model and runs it in-process."""

    name = "brian2"
    description = "Brian2 runtime mode (Cython or NumPy code generation)"

    @classmethod
    def capabilities(cls) -> Capabilities:
        methods = set(METHODS) - {"rkf45"}
        if gsl_available() and codegen_target() != "numpy":
            methods.add("rkf45")
        return Capabilities(methods=frozenset(methods))

    @classmethod
    def unavailable_reason(cls) -> str | None:
        if importlib.util.find_spec("brian2") is None:
            return "Brian2 is not installed (pip install 'brian2==2.10.1')"
        return None

    def run_network(self, spec: NetworkSpec, progress: Progress | None = None) -> dict[str, RunResult]:
        import brian2 as b2

        with simulator_errors(spec), _target(codegen_target()), _reported_ourselves(spec.check_finite):
            if spec.seed is not None:
                b2.seed(spec.seed)
            built = build_objects(b2, spec, standalone=False)
            network = b2.Network(*built.objects)
            duration = spec.n_steps * spec.dt
            show = progress is not None and progress.active
            report = None
            if show or built.checks:

                def report(elapsed, completed, start, length):  # Brian2's report callback, every period
                    if show:
                        progress.advance_to(float(completed) * duration)
                    if built.nonfinite_found():
                        # the first non-finite state is stored; what follows is not returned
                        network.stop()

            started = time.perf_counter()
            # Brian2 2.10's NumPy target formats every result of a unit-checked function (exprel, ...)
            # into an error message it raises only on failure: arrays printed in full make that cost
            # grow with the neurons (7 times the run for 200 HH neurons); short summaries do not
            with np.printoptions(threshold=8, edgeitems=1):
                network.run(duration * b2.second, namespace={}, report=report, report_period=REPORT_PERIOD * b2.second)
        return built.results(run_seconds=time.perf_counter() - started)

    def open_session(self, request: SimulationRequest) -> Brian2Session:
        """A live Brian2 network of ``request``'s neurons (:class:`Brian2Session`)."""
        return Brian2Session(request)


class Brian2Session(Session):
    """A Brian2 network of the runtime device kept between chunks (:meth:`Brian2Runtime.open_session`).

    The objects are those of a run (:func:`build_objects`), with the input ``I_ext`` a
    per-neuron variable that the session sets before the steps it drives, so each chunk takes
    any currents. Brian2's ``Network.run`` collects garbage and makes every code object again on
    each call (about 0.1 s); a session prepares its network once (``Network.before_run``, when
    it opens) and then steps it itself as ``Network.run`` does: in each step every
    active object in the network's schedule order, then every clock advances (all share ``dt``).
    A chunk is therefore the same simulation, to the bit, whether it is run in one piece or in
    several. The monitors are emptied once a chunk is read, so what the session holds does not
    grow with the simulated time.

    Random numbers (white noise ``xi``) come from a stream of the session's own, started from
    the request's seed as a run is: NumPy's global generator and Brian2's random-number buffers
    are swapped in while the session runs and back out afterwards, so simulations in between
    neither disturb the session's stream nor are disturbed by it.
    """

    def __init__(self, request: SimulationRequest):
        super().__init__(request)
        import brian2 as b2
        from brian2.devices.device import all_devices

        self._b2 = b2
        self._device = all_devices["runtime"]
        self._random: dict | None = None  # the session's random state between chunks
        self._target = codegen_target()
        # no stimulus: I_ext is a per-neuron variable (lower's "constant" input), set per chunk
        self.spec = NetworkSpec.single(replace(request, stimulus=Stimulus.from_user(None, request.n_neurons)))
        with self._running():
            self._built = build_objects(b2, self.spec, standalone=False)
            self._network = network = b2.Network(*self._built.objects)
            self._clocks = list({obj.clock for obj in network.sorted_objects})
            for clock in self._clocks:
                clock.set_interval(0 * b2.second, 0 * b2.second)
            network._clocks = set(self._clocks)  # as Network.run sets them for before_run
            network.before_run({})  # the code objects, once (and Brian2 knows the objects are used)
        #: the active objects in the network's schedule order: what one step runs
        self._objects = [obj for obj in network.sorted_objects if obj.active]
        population = self.spec.populations[0]
        self._population = population.name
        self._group = self._built.groups[population.name]
        self._spikes, self._states = self._built.monitors[population.name]
        self._input = self._group.variables[INPUT].get_value() if INPUT in self._group.variables else None

    @contextmanager
    def _running(self) -> Iterator[None]:
        with (
            simulator_errors(self.spec),
            _target(self._target),
            _reported_ourselves(self.spec.check_finite),
            self._own_random(),
        ):
            yield

    @contextmanager
    def _own_random(self) -> Iterator[None]:
        """Swap the session's random state in (NumPy's global generator, and Brian2's buffers of
        random numbers of the Cython target) for the duration, and the outside state back after.

        A new session starts as a run does (Brian2's ``seed``: NumPy's generator seeded, the
        buffers used up) with buffers of its own: the outside buffers are never freed by it.
        """
        device = self._device
        outside = device.get_random_state()
        if self._random is None:
            device.rand_buffer[:] = 0  # no buffer yet (a null pointer): the first draw makes one
            device.randn_buffer[:] = 0
            device.seed(self.request.seed)
        else:
            device.set_random_state(self._random)
        try:
            yield
        finally:
            self._random = device.get_random_state()
            device.set_random_state(outside)

    def _advance(self, n_steps: int, currents: np.ndarray) -> Chunk:
        second = self._b2.second
        dt = self.request.dt
        start = self.n_steps
        with self._running():
            for clock in self._clocks:
                clock.set_interval(start * dt * second, (start + n_steps) * dt * second)
            done = self._steps(n_steps, currents)
            self._network.t_ = float((start + done) * dt)
            return self._read(done)

    def _steps(self, n_steps: int, currents: np.ndarray) -> int:
        """Run ``n_steps`` steps (fewer once a non-finite state is found); returns how many ran."""
        objects, clocks, watch = self._objects, self._clocks, bool(self._built.checks)
        bounds = [0, *(np.flatnonzero(np.diff(currents)) + 1).tolist(), n_steps]
        done = 0
        look = time.perf_counter() + REPORT_PERIOD
        for begin, end in itertools.pairwise(bounds):
            if self._input is not None:
                self._input[:] = currents[begin]
            for _ in range(end - begin):
                for obj in objects:
                    obj.run()
                for clock in clocks:
                    clock.advance()
                done += 1
                if watch and not done % 256 and time.perf_counter() > look:
                    if self._built.nonfinite_found():  # what follows is not returned
                        return done
                    look = time.perf_counter() + REPORT_PERIOD
        return done

    def _read(self, n_steps: int) -> Chunk:
        """The chunk's spikes and samples (copies), after which the monitors are emptied."""
        indices, times = np.zeros(0, dtype=int), np.zeros(0)
        if self._spikes is not None:
            variables = self._spikes.variables
            indices = np.array(variables["i"].get_value(), dtype=int)
            times = np.array(variables["t"].get_value(), dtype=float)
            self._spikes.resize(0)
            variables["N"].set_value(0)
        signals = {}
        if self._states is not None:
            for name in self.request.record:
                signals[name] = np.array(self._states.variables[name].get_value(), dtype=float)
            self._states.resize(0)
        nonfinite = self._built.nonfinite(self._population) if self._population in self._built.checks else None
        return Chunk(n_steps, indices, times, signals, nonfinite)

    def state(self) -> dict[str, np.ndarray]:
        variables = self._group.variables
        return {name: np.array(variables[name].get_value(), dtype=float) for name in self.request.model.state_variables}

    def close(self) -> None:
        self._network = self._built = self._group = self._spikes = self._states = self._input = None
        self._objects, self._clocks = [], []
        super().close()


@contextmanager
def _reported_ourselves(check_finite: bool):
    """With ``check_finite``, a non-finite state is reported once, as a NonFiniteStateError: NumPy's
    overflow warnings (NumPy target) and Brian2's "has NaN, very large values" notice are silenced."""
    if not check_finite:
        yield
        return
    logger = logging.getLogger("brian2.groups.group.invalid_values")
    previous = logger.disabled
    logger.disabled = True
    try:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            yield
    finally:
        logger.disabled = previous


@dataclass(eq=False)
class Built:
    """The Brian2 objects of a run, and (standalone) the values to pass as ``run_args``."""

    spec: NetworkSpec
    objects: list = field(default_factory=list)
    groups: dict = field(default_factory=dict)
    monitors: dict = field(default_factory=dict)
    run_args: dict = field(default_factory=dict)
    weights: dict = field(default_factory=dict)  # projection name -> (spec, StateMonitor, variable)
    pre_spikes: dict = field(default_factory=dict)  # presynaptic group -> its SpikeMonitor (None: a source)
    checks: dict = field(default_factory=dict)  # population -> its NonFiniteCheck (with check_finite)

    def nonfinite_found(self) -> bool:
        """Whether a population has stored a non-finite state (runtime only: reads the arrays)."""
        return any(np.any(self.groups[name].variables[NONFINITE_TIME].get_value() >= 0) for name in self.checks)

    def nonfinite(self, population: str) -> NonFinite | None:
        """The first non-finite state a watched population stored (runtime only: reads the arrays)."""
        group = self.groups[population]
        return first_nonfinite(
            np.array(getattr(group, NONFINITE_TIME + "_")[:], dtype=float),
            {
                name: np.array(getattr(group, nonfinite_flag(name))[:], dtype=bool)
                for name in self.checks[population].variables
            },
            self.spec.dt,
        )

    def results(self, **info) -> dict[str, RunResult]:
        """Spikes and recorded variables per population (copies: Brian2 frees its buffers).

        ``info`` (e.g. ``run_seconds``, the wall time of the simulation itself) is added to
        each result's annotations."""
        results = {}
        for pop in self.spec.populations:
            spikes, states = self.monitors[pop.name]
            result = RunResult(
                spike_indices=np.array(spikes.i[:] if spikes is not None else [], dtype=int),
                spike_times=np.array(spikes.t_[:] if spikes is not None else [], dtype=float),
                info={"codegen_target": _target_name(self.groups[pop.name]), **info},
            )
            for name in pop.record:
                result.signals[name] = np.array(getattr(states, name), dtype=float).T  # (samples, neurons)
            if pop.name in self.checks:
                result.nonfinite = self.nonfinite(pop.name)
            results[pop.name] = result
        for name, (projection, monitor, variable, synapses) in self.weights.items():
            results[name] = self._weights(projection, monitor, variable, np.array(synapses.w_[:], dtype=float))
        return results

    def _weights(self, projection: ProjectionSpec, monitor, variable: str, final: np.ndarray) -> WeightRecord:
        """The weight each presynaptic spike transmitted, read at the end of its arrival step."""
        monitor_pre = self.pre_spikes[projection.pre]
        if monitor_pre is None:
            source = next(s for s in self.spec.sources if s.name == projection.pre)
            spike_i, spike_t = source.indices, source.times
        else:
            spike_i, spike_t = np.asarray(monitor_pre.i[:]), np.asarray(monitor_pre.t_[:])
        values = np.asarray(getattr(monitor, variable + "_"))  # (recorded synapses, steps)
        by_pre: dict[int, list[tuple[int, int]]] = {}
        for row, k in enumerate(projection.record_weights):
            by_pre.setdefault(int(projection.i[k]), []).append((row, int(k)))
        synapse, times, weights = [], [], []
        delays = np.round(np.asarray(projection.delays) / self.spec.dt).astype(int)
        for pre, t in zip(spike_i, spike_t, strict=True):
            step = round(t / self.spec.dt)
            for row, k in by_pre.get(int(pre), ()):
                arrival = step + delays[k] if projection.synapse is not None else step
                if arrival < values.shape[1]:
                    synapse.append(k)
                    times.append(t)
                    weights.append(values[row, arrival])
        return WeightRecord(
            np.array(synapse, dtype=int), np.array(times, dtype=float), np.array(weights, dtype=float), final
        )


def _is_one_value(values: np.ndarray) -> bool:
    """Whether ``values`` is one number for every element (a broadcast view, as
    :class:`sourced_neuron.Network` makes for a value given once)."""
    return values.ndim == 1 and values.strides == (0,)


def _target_name(group) -> str:
    codeobj = getattr(group.state_updater, "codeobj", None)
    return codeobj.class_name if codeobj is not None else "standalone"


def build_objects(b2, spec: NetworkSpec, standalone: bool) -> Built:
    """Brian2 objects for every population, source and projection of ``spec``.

    ``standalone``: every model parameter becomes a variable (shared by the group, or per
    neuron where it varies) whose value, like the initial values, goes into ``run_args``, so
    that the compiled project does not depend on parameter values and is reused for others.
    """
    dt = spec.dt * b2.second
    built = Built(spec)
    # a standalone project must be the same code every time: fixed names (no counters)
    unique = "" if standalone else "*"
    if standalone:  # one clock for all (brian2cuda's synapse code reads the default clock)
        b2.defaultclock.dt = dt
    clock = {} if standalone else {"dt": dt}
    for pop in spec.populations:
        largest = repr(float(np.finfo(b2.prefs.core.default_float_dtype).max))
        check = nonfinite_check(pop.model, largest) if spec.check_finite and pop.model.state_variables else None
        run_args = built.run_args if standalone else None
        group, monitors = _population(b2, pop, spec, dt, run_args, unique, clock, check)
        if check is not None:
            built.checks[pop.name] = check
        built.groups[pop.name] = group
        built.monitors[pop.name] = monitors
        built.objects += [group, *[m for m in monitors if m is not None]]
    for source in spec.sources:
        group = b2.SpikeGeneratorGroup(
            source.size, source.indices, source.times * b2.second, name=f"sn_{source.name}{unique}", **clock
        )
        built.groups[source.name] = group
        built.objects.append(group)
    for k, projection in enumerate(spec.projections):
        lowered = lower(next(p.model for p in spec.populations if p.name == projection.post))
        # a weight and a delay shared by a whole static projection are one number each, as in
        # a hand-written network (no array per synapse); one shared only by chance stays an array
        shared = projection.synapse is None and projection.record_weights is None
        shared_weight = shared and _is_one_value(projection.weights)
        shared_delay = shared and _is_one_value(projection.delays)
        if projection.synapse is None:
            declaration = lowered.weights[projection.receptor]
            synapses = b2.Synapses(
                built.groups[projection.pre],
                built.groups[projection.post],
                declaration + " (shared, constant)" if shared_weight else declaration,
                on_pre=lowered.on_pre[projection.receptor],
                delay=float(projection.delays[0]) * b2.second if shared_delay and len(projection.delays) else None,
                **clock,
                namespace={},
                name=f"sn_projection{k}{unique}",
            )
        else:
            synapses = _plastic(b2, built, projection, lowered, k, unique, clock)
        synapses.connect(i=projection.i, j=projection.j)
        if standalone:
            _forget_connect_arrays(b2, synapses)
        if shared_weight:
            if len(projection.weights):
                synapses.w_ = float(projection.weights[0])
        else:
            synapses.w_ = projection.weights
        if not shared_delay:
            synapses.delay_ = projection.delays
        if projection.synapse is not None:
            if projection.synapse.on_post:
                synapses.post.delay_ = 2 * projection.delays  # see _plastic
            if projection.synapse.equations:
                synapses.lastupdate_ = projection.delays
            for name, value in projection.synapse_initial.items():
                setattr(synapses, name + "_", value)
            for name, value in projection.synapse_parameters.items():
                if not standalone:
                    setattr(synapses, name + "_", value)
                else:
                    built.run_args[getattr(synapses, name)] = value * b2.Quantity(1, dim=synapses.variables[name].dim)
        synapses.pre.when = "after_resets"  # docs/semantics.md: input after threshold and reset
        built.objects.append(synapses)
        if projection.record_weights is not None:
            variable = "w" if projection.synapse is None else OUT
            monitor = b2.StateMonitor(
                synapses,
                variable,
                record=projection.record_weights,
                when="end",
                name=f"sn_projection{k}_weights{unique}",
                **clock,
            )
            built.weights[projection.name] = (projection, monitor, variable, synapses)
            built.objects.append(monitor)
            if projection.pre not in built.pre_spikes:
                pre = built.monitors.get(projection.pre, (None,))[0]
                if pre is None and projection.pre not in {s.name for s in spec.sources}:
                    pre = b2.SpikeMonitor(built.groups[projection.pre], name=f"sn_{projection.pre}_pre{unique}")
                    built.objects.append(pre)
                built.pre_spikes[projection.pre] = pre
    return built


def _brian2_errors() -> tuple[type[BaseException], ...]:
    """Brian2's own exception types: its refusal of a model, or a failure of the run."""
    from brian2.core.base import BrianObjectException
    from brian2.equations.equations import EquationError
    from brian2.stateupdaters.base import UnsupportedEquationsException
    from brian2.units.fundamentalunits import DimensionMismatchError

    types: tuple[type[BaseException], ...] = (
        BrianObjectException,
        UnsupportedEquationsException,
        EquationError,
        DimensionMismatchError,
    )
    try:  # GSL's integration failure (rkf45 on the Cython target); absent without Cython
        from brian2.codegen.runtime.GSLcython_rt import IntegrationError
    except ImportError:
        return types
    return (*types, IntegrationError)


def _forget_connect_arrays(b2, synapses) -> None:
    """Drop a standalone device's Python-side copy of the indices just given to ``connect``.

    A standalone device keeps two copies of the arrays of ``connect(i=..., j=...)`` until it
    writes the project: the static array the compiled program reads, and a cache of the values
    for reading them back in Python, which nothing here does. Marking the cached values unknown
    (as the device itself does for arrays whose size it cannot know) frees 8 bytes per synapse.
    """
    cache = getattr(b2.get_device(), "array_cache", None)
    if cache is None:
        return
    for variable in list(cache):
        owner = getattr(variable, "owner", None)
        if variable.name in ("sources", "targets") and getattr(owner, "name", None) == synapses.name:
            cache[variable] = None


def _from_standalone_device(exc: BaseException) -> bool:
    """Whether ``exc`` is a standalone device's report that the project failed to compile or run
    (a ``RuntimeError`` raised in ``brian2.devices`` or brian2cuda's device, e.g. "Project run failed")."""
    if not isinstance(exc, RuntimeError) or exc.__traceback__ is None:
        return False
    frames = list(traceback.walk_tb(exc.__traceback__))
    module = frames[-1][0].f_globals.get("__name__", "")
    return module.startswith(("brian2.devices.", "brian2cuda."))


@contextmanager
def simulator_errors(spec: NetworkSpec):
    """Brian2's errors about the model or the run as the package's, naming the model.

    Only Brian2's own exception types (and a standalone device's failure to compile or run the
    project) become :class:`~sourced_neuron.common.errors.UnsupportedFeatureError` (a method Brian2
    cannot apply to the equations) or :class:`~sourced_neuron.common.errors.SimulationError`, chained
    to Brian2's exception. Anything else (this package's own errors, and a ``KeyError`` or
    ``TypeError`` of a bug in this package) propagates as it is.
    """
    from brian2.core.base import BrianObjectException
    from brian2.stateupdaters.base import UnsupportedEquationsException

    try:
        yield
    except SourcedNeuronError:
        raise
    except Exception as exc:
        if not isinstance(exc, _brian2_errors()) and not _from_standalone_device(exc):
            raise
        cause = exc
        while isinstance(cause, BrianObjectException) and cause.__cause__ is not None:
            cause = cause.__cause__
        model = _culprit(spec, str(exc))
        if isinstance(cause, UnsupportedEquationsException):
            raise UnsupportedFeatureError(
                f"model {model.name!r}: Brian2 cannot integrate it with method {model.numerics.method!r} "
                f"({cause}); choose another numerics.method"
            ) from exc
        raise SimulationError(f"Brian2 failed to simulate model {model.name!r}: {cause}") from exc


def _culprit(spec: NetworkSpec, message: str):
    """The model of the population a Brian2 error message names (its objects are ``sn_<population>``)."""
    for pop in spec.populations:
        if f"'sn_{pop.name}" in message:
            return pop.model
    return spec.populations[0].model


def stimulus_input(stimulus, dt: float, n_steps: int) -> tuple[np.ndarray | None, str, np.ndarray | None]:
    """How a population's stimulus drives ``I_ext`` (:func:`~sourced_neuron.codegen.brian2.lower`'s
    input kind): the values of its ``TimedArray`` on the step grid (docs/semantics.md; ``None``
    for a constant), the kind, and the per-neuron amplitudes of a step whose amplitude differs
    between neurons (its ``TimedArray`` is then the on/off pattern, the same for every neuron)."""
    if stimulus.kind == "step" and np.ndim(stimulus.amplitude):
        pattern = replace(stimulus, amplitude=1.0).values_on_grid(dt, n_steps + 1)
        return pattern, "timed_scaled", np.asarray(stimulus.amplitude, dtype=float).copy()
    if stimulus.kind in ("step", "sampled"):
        values = stimulus.values_on_grid(dt, n_steps + 1)
        return values, "timed_per_neuron" if values.ndim == 2 else "timed", None
    return None, "constant", None


def _population(
    b2,
    pop: PopulationSpec,
    spec: NetworkSpec,
    dt,
    run_args: dict | None,
    unique: str,
    clock: dict,
    check: NonFiniteCheck | None = None,
):
    """The NeuronGroup of a population and its (spike, state) monitors.

    With ``run_args`` (standalone), parameter and initial values go there instead of into the
    generated code. With ``check``, the group watches its states for non-finite values
    (docs/semantics.md): a custom event, evaluated after the integration and the threshold, whose
    statements run right after it, before any reset or synaptic input of the step.
    """
    stimulus = pop.stimulus
    values, input_kind, amplitudes = stimulus_input(stimulus, spec.dt, spec.n_steps)
    varying = tuple(pop.parameters)
    shared = tuple(n for n in pop.model.parameter_names if n not in varying) if run_args is not None else ()
    lowered = lower(pop.model, input_kind, per_neuron=varying, shared=shared)
    namespace = dict(lowered.namespace)
    if values is not None and lowered.input != "none":
        unit = 1 if input_kind == "timed_scaled" else b2.amp  # the step's on/off pattern has no unit
        namespace[STIMULUS_NAME] = b2.TimedArray(values * unit, dt=dt)
    group = b2.NeuronGroup(
        pop.size,
        lowered.equations if check is None else f"{lowered.equations}\n{check.declarations}",
        threshold=lowered.threshold,
        reset=lowered.reset,
        refractory=lowered.refractory,
        method=lowered.method,
        method_options=(
            {**RKF45_OPTIONS, "absolute_error": pop.model.numerics.abs_error} if lowered.method == "gsl_rkf45" else None
        ),
        namespace=namespace,
        name=f"sn_{pop.name}{unique}",
        events=None if check is None else {NONFINITE_EVENT: check.condition},
        **clock,
    )
    assigned = {**pop.initial, **pop.parameters}
    if check is not None:
        # the event's condition is checked in slot after_thresholds (Brian2's default for custom
        # events), after the integration; its statements run right after it, in the same slot
        group.set_event_schedule(NONFINITE_EVENT, when="after_thresholds", order=group.order)
        group.run_on_event(NONFINITE_EVENT, check.statements, when="after_thresholds", order=group.order + 1)
        assigned[NONFINITE_TIME] = np.full(pop.size, -1.0)  # no non-finite state yet
    model_values = pop.model.parameter_values()
    for name in shared:
        assigned[name] = float(np.asarray(model_values[name]))
    if lowered.input == "constant" and stimulus.kind == "constant":
        assigned["I_ext"] = np.broadcast_to(np.asarray(stimulus.amplitude, dtype=float), (pop.size,)).copy()
    if lowered.input == "timed_scaled":
        assigned[AMPLITUDE_NAME] = amplitudes
    for name, value in assigned.items():
        if run_args is None:
            setattr(group, name + "_", value)  # SI magnitudes
        else:
            run_args[getattr(group, name)] = value * b2.Quantity(1, dim=group.variables[name].dim)
    spikes = None
    if lowered.threshold and pop.record_spikes:
        spikes = b2.SpikeMonitor(group, name=f"sn_{pop.name}_spikes{unique}")
    states = None
    if pop.record:
        every = {"dt": dt * pop.record_every} if pop.record_every > 1 else clock
        states = b2.StateMonitor(group, list(pop.record), record=True, name=f"sn_{pop.name}_states{unique}", **every)
    return group, (spikes, states)


#: The synapse variable that holds the weight a plastic synapse transmits (recorded from there).
OUT = "sn_out"


def _plastic(b2, built: Built, projection: ProjectionSpec, lowered, k: int, unique: str, clock: dict):
    """The ``Synapses`` of a plastic projection (docs/semantics.md, "Plastic synapses").

    The delay ``d`` is dendritic, as in NEST. The synapse runs on a clock shifted by ``d``: a
    presynaptic spike is handled on arrival (pathway ``pre``, delay ``d``: the statements, then
    the transmission of the weight computed then), a postsynaptic spike ``2 d`` after it is
    emitted (pathway ``post``), and the last-event time starts at ``d``. Every interval the
    synapse sees, and the order of its events (``post`` in slot ``synapses``, before ``pre``
    after resets), is then NEST's, and the weight needs no storage while in flight.
    """
    import re

    synapse = projection.synapse
    weight_declaration = lowered.weights[projection.receptor]  # "w : <unit>"
    unit = weight_declaration.split(":", 1)[1].strip()
    lines = [weight_declaration, f"{OUT} : {unit}"]
    lines += [
        f"d{eq.name}/dt = {eq.expression} : {brian2_unit(eq.dimension)} (event-driven)" for eq in synapse.equations
    ]
    lines += [
        f"{name} : {unit if value is None else brian2_unit(value.dimension)} (constant, shared)"
        for name, value in synapse.parameters
    ]
    deliver = re.sub(r"\bw\b", OUT, lowered.on_pre[projection.receptor])
    return b2.Synapses(
        built.groups[projection.pre],
        built.groups[projection.post],
        "\n".join(lines),
        on_pre="\n".join([*synapse.on_pre, f"{OUT} = {synapse.transmit}", deliver]),
        on_post="\n".join(synapse.on_post) or None,
        **clock,
        namespace={},
        name=f"sn_projection{k}{unique}",
    )
