"""``SourcedNeuron``: the 100 functions of the Sourced Neuron API over one neuron model and a
backend. Each section of the API is one module of this package (``seed_api.SECTIONS``); this
module puts them together and adds the PEP 8 aliases (``InitNeu`` is also ``init_neu``)."""

from __future__ import annotations

import inspect

from sourced_neuron.wrapper.activations import ActivationFunctions
from sourced_neuron.wrapper.core import NeuronCore
from sourced_neuron.wrapper.learning import Learning
from sourced_neuron.wrapper.lifecycle import Lifecycle
from sourced_neuron.wrapper.performance import Performance
from sourced_neuron.wrapper.persistence import Persistence
from sourced_neuron.wrapper.seed_api import NAMES, snake_case
from sourced_neuron.wrapper.signals import SignalProcessing
from sourced_neuron.wrapper.topology import Topology
from sourced_neuron.wrapper.validation import Validation

__all__ = ["SourcedNeuron"]


class SourcedNeuron(
    Lifecycle,
    SignalProcessing,
    ActivationFunctions,
    Learning,
    Topology,
    Validation,
    Persistence,
    Performance,
    NeuronCore,
):
    """One neuron model on one backend, with the Sourced Neuron API.

    The spiking neuron is a library model or the user's YAML model, simulated on ``backend``
    (``brian2``, ``brian2-cpp``, ``brian2-cuda``, ``nest``); its input is the weighted sum of an
    input vector (``SetWeight``, ``SetBias``, ``ProcInput``) times ``current_scale``. The same
    weights, bias and activation make an artificial neuron that learns by gradient descent
    (``BackProp``, ``UpdWeight``, optimisers). See :mod:`sourced_neuron.wrapper.core`.

    Parameters
    ----------
    model : NeuronModel, str or path
        ``"lif"`` (default), ``"izhikevich"``, ``"hh"``, ``"adex"``, ``"laa"`` or a model file.
    backend : str
    n_inputs : int
        Length of the input and weight vectors.
    preset : str, optional
    params : mapping, optional
        Parameter values (``{"tau_m": "20 ms"}``).
    activation : str
        The artificial neuron's activation (``"sigmoid"``, ``"relu"``, ``"tanh"``, ...).
    current_scale : str or quantity
        Current injected per unit of weighted sum (default 100 pA).
    seed : int, optional
        Seeds the simulations and every random choice of the wrapper (default 0).
    name : str, optional
        The neuron's ID (``SetID``); default: model name and a random suffix.

    Examples
    --------
    >>> neuron = SourcedNeuron("lif", n_inputs=2)
    >>> neuron.SetWeight([1.2, 0.8]).SetBias(0.5).ProcInput([1.0, 1.0])  # doctest: +SKIP
    >>> neuron.Integrate("200 ms").FreqCheck()  # doctest: +SKIP
    """


for _name in NAMES:
    setattr(SourcedNeuron, snake_case(_name), inspect.getattr_static(SourcedNeuron, _name))
