"""sourced_neuron: write a neuron model once, as YAML equations with units, and run it on
several simulators, with results as Neo objects.

>>> import sourced_neuron as sn
>>> model = sn.load_model("lif")
>>> block = sn.simulate(model, duration="200 ms", stimulus="200 pA")  # doctest: +SKIP

The package is laid out by pipeline stage (docs/development.md): ``common``, ``spec``,
``codegen``, ``backends``, ``results``, ``run``, ``analysis``, ``experiments``, ``wrapper``, ``cli``. The names
below are its public entry points; each is imported from its stage when first used, so that
``import sourced_neuron`` loads no simulator and no analysis library.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from sourced_neuron.common.errors import (
    BackendUnavailableError,
    Diagnostic,
    InputError,
    ModelError,
    NonFiniteStateError,
    SimulationError,
    SourcedNeuronError,
    StorageError,
    UnitError,
    UnsupportedFeatureError,
)
from sourced_neuron.common.version import VERSION as __version__

if TYPE_CHECKING:  # for type checkers and editors; at run time the names below load on first use
    from sourced_neuron.backends import backend_status
    from sourced_neuron.backends.nest_pynn import pynn_cell_type
    from sourced_neuron.codegen import export
    from sourced_neuron.experiments.fitting import fit
    from sourced_neuron.experiments.sensitivity import sensitivity
    from sourced_neuron.experiments.sweep import sweep
    from sourced_neuron.run.network import Network
    from sourced_neuron.run.simulation import simulate
    from sourced_neuron.spec.library import library_models, load_model
    from sourced_neuron.spec.model import NeuronModel
    from sourced_neuron.wrapper import SourcedNeuron

# public name -> the module that defines it
_LAZY = {
    "backend_status": "sourced_neuron.backends",
    "pynn_cell_type": "sourced_neuron.backends.nest_pynn",
    "export": "sourced_neuron.codegen",
    "fit": "sourced_neuron.experiments.fitting",
    "import_neuroml": "sourced_neuron.spec.neuroml",
    "inference": "",
    "sensitivity": "sourced_neuron.experiments.sensitivity",
    "sweep": "sourced_neuron.experiments.sweep",
    "Network": "sourced_neuron.run.network",
    "simulate": "sourced_neuron.run.simulation",
    "library_models": "sourced_neuron.spec.library",
    "load_model": "sourced_neuron.spec.library",
    "NeuronModel": "sourced_neuron.spec.model",
    "SourcedNeuron": "sourced_neuron.wrapper",
}


def __getattr__(name: str) -> Any:
    """Import a public name from its stage on first use (PEP 562)."""
    if name not in _LAZY:
        raise AttributeError(f"module 'sourced_neuron' has no attribute {name!r}")
    if _LAZY[name]:
        value = getattr(importlib.import_module(_LAZY[name]), name)
    else:  # a stage used as a namespace (sn.inference.train)
        value = importlib.import_module(f"{__name__}.{name}")
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


__all__ = [
    "BackendUnavailableError",
    "Diagnostic",
    "InputError",
    "ModelError",
    "Network",
    "NeuronModel",
    "NonFiniteStateError",
    "SimulationError",
    "SourcedNeuron",
    "SourcedNeuronError",
    "StorageError",
    "UnitError",
    "UnsupportedFeatureError",
    "__version__",
    "backend_status",
    "export",
    "fit",
    "import_neuroml",
    "inference",
    "library_models",
    "load_model",
    "pynn_cell_type",
    "sensitivity",
    "simulate",
    "sweep",
]
