"""Backend ``brian2``: Brian2's runtime mode (the embedded default backend).

The code generation target is Brian2's own preference (``prefs.codegen.target``: Cython
when it can compile, else NumPy); the environment variable
``SOURCED_NEURON_BRIAN2_TARGET`` (``numpy`` or ``cython``) overrides it.
"""

from __future__ import annotations

import importlib.util
import os
import warnings
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from ..errors import SimulationError, UnsupportedFeatureError
from ..model import METHODS
from ..targets.brian2 import STIMULUS_NAME, lower
from .base import Backend, Capabilities, RunResult, SimulationRequest

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
    from brian2 import prefs

    previous = prefs.codegen.target
    prefs.codegen.target = target
    try:
        yield
    finally:
        prefs.codegen.target = previous


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

    def run(self, request: SimulationRequest) -> RunResult:
        import brian2 as b2
        from brian2.core.base import BrianObjectException
        from brian2.stateupdaters.base import UnsupportedEquationsException

        model, stimulus, n = request.model, request.stimulus, request.n_neurons
        dt = request.dt * b2.second
        values = None
        input_kind = "constant"
        if stimulus.kind in ("step", "sampled"):
            # the stimulus on the step grid (docs/semantics.md), read by a TimedArray
            values = stimulus.values_on_grid(request.dt, request.n_steps + 1)
            input_kind = "timed_per_neuron" if values.ndim == 2 else "timed"
        spec = lower(model, input_kind)
        namespace = dict(spec.namespace)
        if values is not None and spec.input != "none":
            namespace[STIMULUS_NAME] = b2.TimedArray(values * b2.amp, dt=dt)
        target = codegen_target()
        try:
            with _target(target):
                if request.seed is not None:
                    b2.seed(request.seed)
                group = b2.NeuronGroup(
                    n,
                    spec.equations,
                    threshold=spec.threshold,
                    reset=spec.reset,
                    refractory=spec.refractory,
                    method=spec.method,
                    namespace=namespace,
                    dt=dt,
                    name="sn_neurons*",
                )
                for name, value in spec.initial.items():
                    setattr(group, name, value)
                if spec.input == "constant" and stimulus.kind == "constant":
                    group.I_ext = np.asarray(stimulus.amplitude, dtype=float) * b2.amp
                spikes = b2.SpikeMonitor(group) if spec.threshold else None
                objects = [group, spikes] if spikes is not None else [group]
                states = None
                if request.record:
                    states = b2.StateMonitor(group, list(request.record), record=True, dt=dt)
                    objects.append(states)
                network = b2.Network(*objects)
                network.run(request.n_steps * dt, namespace={})
        except (UnsupportedEquationsException, BrianObjectException) as exc:
            cause = exc
            while isinstance(cause, BrianObjectException) and cause.__cause__ is not None:
                cause = cause.__cause__
            if isinstance(cause, UnsupportedEquationsException):
                raise UnsupportedFeatureError(
                    f"model {model.name!r}: Brian2 cannot integrate it with method {model.numerics.method!r} "
                    f"({cause}); choose another numerics.method"
                ) from None
            raise SimulationError(f"Brian2 failed to simulate model {model.name!r}: {cause}") from None
        except (RuntimeError, ValueError, KeyError, TypeError, ImportError, OSError) as exc:
            raise SimulationError(f"Brian2 failed to simulate model {model.name!r}: {exc}") from None
        result = RunResult(
            # copies: the monitor's arrays are views of buffers Brian2 frees with the network
            spike_indices=np.array(spikes.i[:] if spikes is not None else [], dtype=int),
            spike_times=np.array(spikes.t_[:] if spikes is not None else [], dtype=float),
            info={"codegen_target": group.state_updater.codeobj.class_name},
        )
        if states is not None:
            for name in request.record:
                values = getattr(states, name)  # shape (n_neurons, n_samples)
                result.signals[name] = np.array(values, dtype=float).T
        return result
