"""Stage 3, the simulators: the backend interface (:mod:`~sourced_neuron.backends.base`), the
registry, one module per backend (:mod:`~sourced_neuron.backends.brian2_runtime`,
:mod:`~sourced_neuron.backends.brian2_standalone`, :mod:`~sourced_neuron.backends.nest_pynn`)
and the NEST module builds (:mod:`~sourced_neuron.backends.nestbuild`).

A backend is one module with a :class:`~sourced_neuron.backends.base.Backend` subclass and one
line in :data:`REGISTRY`; nothing else in the package names backends. Backend modules are
imported when first used, so a simulator loads only when a run needs it. Imports
:mod:`sourced_neuron.common`, :mod:`sourced_neuron.spec` and :mod:`sourced_neuron.codegen`."""

from __future__ import annotations

import importlib

from sourced_neuron.backends.base import (
    Backend,
    Capabilities,
    NetworkSpec,
    NonFinite,
    PopulationSpec,
    ProjectionSpec,
    RunResult,
    SimulationRequest,
    SourceSpec,
    check_backend_grid,
    check_backend_method,
    check_steps,
)
from sourced_neuron.common.errors import BackendUnavailableError, did_you_mean

__all__ = [
    "REGISTRY",
    "Backend",
    "Capabilities",
    "NetworkSpec",
    "NonFinite",
    "PopulationSpec",
    "ProjectionSpec",
    "RunResult",
    "SimulationRequest",
    "SourceSpec",
    "backend_status",
    "check_backend_grid",
    "check_backend_method",
    "check_steps",
    "get_backend",
]

#: Backend name -> "module:class" (imported only when asked for).
REGISTRY: dict[str, str] = {
    "brian2": "sourced_neuron.backends.brian2_runtime:Brian2Runtime",
    "brian2-cpp": "sourced_neuron.backends.brian2_standalone:Brian2CppStandalone",
    "brian2-cuda": "sourced_neuron.backends.brian2_standalone:Brian2Cuda",
    "nest": "sourced_neuron.backends.nest_pynn:NestPyNN",
}


def _backend_class(name: str) -> type[Backend]:
    if not isinstance(name, str):
        raise BackendUnavailableError(f"backend must be a backend's name, one of {', '.join(REGISTRY)}; got {name!r}")
    if name not in REGISTRY:
        hint = did_you_mean(name, list(REGISTRY))
        raise BackendUnavailableError(f"unknown backend {name!r}{hint}; backends: {', '.join(REGISTRY)}")
    module_name, _, class_name = REGISTRY[name].partition(":")
    return getattr(importlib.import_module(module_name), class_name)


def get_backend(name: str) -> Backend:
    """An instance of the named backend, ready to run.

    Raises
    ------
    BackendUnavailableError
        Unknown, not implemented, or its simulator is not installed (the message says how
        to install it).
    """
    cls = _backend_class(name)
    reason = cls.unavailable_reason()
    if reason:
        raise BackendUnavailableError(f"backend {name!r} is not available: {reason}")
    return cls()


def backend_status() -> dict[str, str | None]:
    """Every backend name with ``None`` when usable, else why not."""
    status: dict[str, str | None] = {}
    for name in REGISTRY:
        status[name] = _backend_class(name).unavailable_reason()
    return status
