"""sourced_neuron: write a neuron model once, as YAML equations with units, and run it on
several simulators, with results as Neo objects.

>>> import sourced_neuron as sn
>>> model = sn.load_model("lif")
>>> block = sn.simulate(model, duration="200 ms", stimulus="200 pA")  # doctest: +SKIP
"""

from __future__ import annotations

import importlib.metadata
import warnings

from . import _brian2  # noqa: F401 - first: imports Brian2 and keeps the user's sys.excepthook
from .backends import backend_status
from .backends.nest_pynn import pynn_cell_type
from .errors import (
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
from .library import library_models, load_model
from .model import NeuronModel
from .network import Network
from .simulation import simulate
from .targets import export
from .wrapper import SourcedNeuron

# Brian2 2.10.1 calls pyparsing with an argument name that pyparsing >= 3.3 deprecates: harmless
# noise. Placed after the imports, because Elephant's import puts a filter showing every
# UserWarning (which pyparsing's warnings are) once in front of the others.
warnings.filterwarnings("ignore", message=".*'parseAll' argument is deprecated.*")

try:
    __version__ = importlib.metadata.version("sourced-neuron")
except importlib.metadata.PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

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
    "library_models",
    "load_model",
    "pynn_cell_type",
    "simulate",
]
