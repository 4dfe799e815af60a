"""The Sourced Neuron API (:class:`SourcedNeuron`), one module per section of the API."""

from .neuron import SourcedNeuron
from .seed_api import NAMES, SECTIONS

__all__ = ["NAMES", "SECTIONS", "SourcedNeuron"]
