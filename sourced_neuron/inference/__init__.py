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

import importlib
from typing import Any

from sourced_neuron.inference.prior import Prior

__all__ = ["Posterior", "Prior", "Protocol", "diagnose", "load", "predictive_check", "train"]

_LAZY = {
    "Posterior": "sourced_neuron.inference.posterior",
    "load": "sourced_neuron.inference.posterior",
    "Protocol": "sourced_neuron.inference.simulations",
    "train": "sourced_neuron.inference.training",
    "diagnose": "sourced_neuron.inference.diagnostics",
    "predictive_check": "sourced_neuron.inference.diagnostics",
}


def __getattr__(name: str) -> Any:
    """Import a public name from its module on first use (PEP 562)."""
    if name not in _LAZY:
        raise AttributeError(f"module 'sourced_neuron.inference' has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value
    return value
