"""Stage 8, Bayesian inference of a model's parameters from voltage traces: amortised neural
posterior estimation with BayesFlow (Keras 3 on JAX), trained on simulations from the batched
engine of :mod:`sourced_neuron.experiments`, with calibration, coverage, recovery, predictive and
typicality checks.

``Prior`` and the simulations need only the core install; training, sampling and loading need the
``inference`` extra (``pip install 'sourced-neuron[inference]'``).

Imports every lower stage; only :mod:`sourced_neuron.wrapper` and :mod:`sourced_neuron.cli` sit
above it.
"""

from __future__ import annotations

from sourced_neuron.inference.diagnostics import diagnose, predictive_check
from sourced_neuron.inference.posterior import Posterior, load
from sourced_neuron.inference.prior import Prior
from sourced_neuron.inference.simulations import Protocol
from sourced_neuron.inference.training import train

__all__ = ["Posterior", "Prior", "Protocol", "diagnose", "load", "predictive_check", "train"]
