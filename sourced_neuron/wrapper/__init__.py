"""Stage 9, the Sourced Neuron API (:class:`SourcedNeuron`), one module per section of the API.

Every argument of every public method (and of the constructor) is checked against the method's
type hints when it is called (:mod:`sourced_neuron.wrapper.arguments`): a wrong argument is an
:class:`~sourced_neuron.common.errors.InputError` (a :class:`~sourced_neuron.common.errors.UnitError` for a
value with the wrong unit) naming the method, the argument, what it expects and what it got;
never a plain ``TypeError`` or ``ValueError``. docs/api.md lists the argument types.
"""

from sourced_neuron.wrapper.neuron import SourcedNeuron
from sourced_neuron.wrapper.seed_api import NAMES, SECTIONS

__all__ = ["NAMES", "SECTIONS", "SourcedNeuron"]
