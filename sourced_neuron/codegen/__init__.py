"""Stage 2, code generation: a model printed for each simulator, and the export targets.

- :mod:`~sourced_neuron.codegen.brian2`: Brian2 equations, namespaces and a standalone script.
- :mod:`~sourced_neuron.codegen.nestml`: NESTML neuron and synapse models.
- ``templates/``: the Jinja templates (no logic in them).

Export targets (``sn.export``): a target is a function ``(NeuronModel) -> str`` and one line in
:data:`REGISTRY`. Imports :mod:`sourced_neuron.common` and :mod:`sourced_neuron.spec`.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from sourced_neuron.common.errors import BackendUnavailableError, did_you_mean
from sourced_neuron.spec.library import load_model
from sourced_neuron.spec.model import NeuronModel

__all__ = ["REGISTRY", "export"]

#: Target name -> "module:function".
REGISTRY: dict[str, str] = {
    "brian2": "sourced_neuron.codegen.brian2:export_script",
    "nestml": "sourced_neuron.codegen.nestml:export_nestml",
    "neuroml": "sourced_neuron.codegen.neuroml:export_neuroml",
}


def export(model: NeuronModel | str | Path, target: str) -> str:
    """Generated source text of ``model`` for ``target``.

    Parameters
    ----------
    model : NeuronModel, str or path
        A model, a library model name or a model file.
    target : str
        ``"brian2"``: a self-contained plain-Brian2 Python script; ``"nestml"``: the NESTML
        model the NEST backend compiles; ``"neuroml"``: the model as a LEMS ComponentType
        (:mod:`sourced_neuron.codegen.neuroml`; the extra ``neuroml``).

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
