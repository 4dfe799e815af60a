"""Backend ``brian2``: Brian2's runtime mode (the embedded default backend).

The code generation target is Brian2's own preference (``prefs.codegen.target``: Cython
when it can compile, else NumPy); the environment variable
``SOURCED_NEURON_BRIAN2_TARGET`` (``numpy`` or ``cython``) overrides it.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import SimulationError, UnsupportedFeatureError
from ..model import METHODS, RKF45_ABSOLUTE_ERROR
from ..progress import Progress
from ..targets.brian2 import STIMULUS_NAME, brian2_unit, lower
from .base import Backend, Capabilities, NetworkSpec, PopulationSpec, ProjectionSpec, RunResult, WeightRecord

#: Brian2's GSL options for ``rkf45`` (docs/semantics.md). NEST's GSL loop takes as many
#: sub-steps as the error bound needs; Brian2 stops at ``max_steps`` (100 by default), which
#: an exponential upswing (AdEx just before a spike) can exceed.
RKF45_OPTIONS = {"absolute_error": RKF45_ABSOLUTE_ERROR, "max_steps": 100_000}

TARGET_VARIABLE = "SOURCED_NEURON_BRIAN2_TARGET"

# Brian2 2.10.1 calls pyparsing with an argument name that pyparsing >= 3.3 deprecates; harmless noise.
warnings.filterwarnings("ignore", message=".*'parseAll' argument is deprecated.*")


def _gsl_available() -> bool:
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
        if _gsl_available() and codegen_target() != "numpy":
            methods.add("rkf45")
        return Capabilities(methods=frozenset(methods))

    @classmethod
    def unavailable_reason(cls) -> str | None:
        if importlib.util.find_spec("brian2") is None:
            return "Brian2 is not installed (pip install 'brian2==2.10.1')"
        return None

    def run_network(self, spec: NetworkSpec, progress: Progress | None = None) -> dict[str, RunResult]:
        import brian2 as b2

        with _errors(spec), _target(codegen_target()):
            if spec.seed is not None:
                b2.seed(spec.seed)
            built = build_objects(b2, spec, standalone=False)
            network = b2.Network(*built.objects)
            duration = spec.n_steps * spec.dt
            report = None
            if progress is not None and progress.active:

                def report(elapsed, completed, start, length):  # Brian2's report callback
                    progress.advance_to(float(completed) * duration)

            started = time.perf_counter()
            network.run(duration * b2.second, namespace={}, report=report, report_period=0.5 * b2.second)
        return built.results(run_seconds=time.perf_counter() - started)


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
        group, monitors = _population(b2, pop, spec, dt, built.run_args if standalone else None, unique, clock)
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
        if projection.synapse is None:
            synapses = b2.Synapses(
                built.groups[projection.pre],
                built.groups[projection.post],
                lowered.weights[projection.receptor],
                on_pre=lowered.on_pre[projection.receptor],
                **clock,
                namespace={},
                name=f"sn_projection{k}{unique}",
            )
        else:
            synapses = _plastic(b2, built, projection, lowered, k, unique, clock)
        synapses.connect(i=projection.i, j=projection.j)
        synapses.w_ = projection.weights
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


@contextmanager
def _errors(spec: NetworkSpec):
    """Brian2's exceptions as the package's, naming the model."""
    from brian2.core.base import BrianObjectException
    from brian2.stateupdaters.base import UnsupportedEquationsException

    try:
        yield
    except (UnsupportedEquationsException, BrianObjectException) as exc:
        cause = exc
        while isinstance(cause, BrianObjectException) and cause.__cause__ is not None:
            cause = cause.__cause__
        model = _culprit(spec, str(exc))
        if isinstance(cause, UnsupportedEquationsException):
            raise UnsupportedFeatureError(
                f"model {model.name!r}: Brian2 cannot integrate it with method {model.numerics.method!r} "
                f"({cause}); choose another numerics.method"
            ) from None
        raise SimulationError(f"Brian2 failed to simulate model {model.name!r}: {cause}") from None
    except (RuntimeError, ValueError, KeyError, TypeError, ImportError, OSError) as exc:
        model = _culprit(spec, str(exc))
        raise SimulationError(f"Brian2 failed to simulate model {model.name!r}: {exc}") from None


def _culprit(spec: NetworkSpec, message: str):
    """The model of the population a Brian2 error message names (its objects are ``sn_<population>``)."""
    for pop in spec.populations:
        if f"'sn_{pop.name}" in message:
            return pop.model
    return spec.populations[0].model


def _population(b2, pop: PopulationSpec, spec: NetworkSpec, dt, run_args: dict | None, unique: str, clock: dict):
    """The NeuronGroup of a population and its (spike, state) monitors.

    With ``run_args`` (standalone), parameter and initial values go there instead of into the
    generated code.
    """
    stimulus = pop.stimulus
    values, input_kind = None, "constant"
    if stimulus.kind in ("step", "sampled"):
        # the stimulus on the step grid (docs/semantics.md), read by a TimedArray
        values = stimulus.values_on_grid(spec.dt, spec.n_steps + 1)
        input_kind = "timed_per_neuron" if values.ndim == 2 else "timed"
    varying = tuple(pop.parameters)
    shared = tuple(n for n in pop.model.parameter_names if n not in varying) if run_args is not None else ()
    lowered = lower(pop.model, input_kind, per_neuron=varying, shared=shared)
    namespace = dict(lowered.namespace)
    if values is not None and lowered.input != "none":
        namespace[STIMULUS_NAME] = b2.TimedArray(values * b2.amp, dt=dt)
    group = b2.NeuronGroup(
        pop.size,
        lowered.equations,
        threshold=lowered.threshold,
        reset=lowered.reset,
        refractory=lowered.refractory,
        method=lowered.method,
        method_options=RKF45_OPTIONS if lowered.method == "gsl_rkf45" else None,
        namespace=namespace,
        name=f"sn_{pop.name}{unique}",
        **clock,
    )
    assigned = {**pop.initial, **pop.parameters}
    model_values = pop.model.parameter_values()
    for name in shared:
        assigned[name] = float(np.asarray(model_values[name]))
    if lowered.input == "constant" and stimulus.kind == "constant":
        assigned["I_ext"] = np.broadcast_to(np.asarray(stimulus.amplitude, dtype=float), (pop.size,)).copy()
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
        states = b2.StateMonitor(group, list(pop.record), record=True, name=f"sn_{pop.name}_states{unique}", **clock)
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
