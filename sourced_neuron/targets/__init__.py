"""Export targets: generated source text for a model (``sn.export``).

A target is a function ``(NeuronModel) -> str`` and one line in :data:`REGISTRY`.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from ..errors import BackendUnavailableError, did_you_mean
from ..library import load_model
from ..model import NeuronModel

__all__ = ["REGISTRY", "export"]

#: Target name -> "module:function".
REGISTRY: dict[str, str] = {
    "brian2": "sourced_neuron.targets.brian2:export_script",
    "nestml": "sourced_neuron.targets.nestml:export_nestml",
}


def export(model: NeuronModel | str | Path, target: str) -> str:
    """Generated source text of ``model`` for ``target``.

    Parameters
    ----------
    model : NeuronModel, str or path
        A model, a library model name or a model file.
    target : str
        ``"brian2"``: a self-contained plain-Brian2 Python script; ``"nestml"``: the NESTML
        model the NEST backend compiles.

    Raises
    ------
    BackendUnavailableError
        Unknown target.
    """
    model = load_model(model)
    if target not in REGISTRY:
        hint = did_you_mean(target, list(REGISTRY))
        raise BackendUnavailableError(f"unknown export target {target!r}{hint}; targets: {', '.join(REGISTRY)}")
    module_name, _, function = REGISTRY[target].partition(":")
    return getattr(importlib.import_module(module_name), function)(model)
