"""The model library: the YAML files shipped in ``models/`` (package ``sourced_neuron.models``)."""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

from sourced_neuron.common import files
from sourced_neuron.common.errors import InputError, did_you_mean
from sourced_neuron.spec.model import NeuronModel

__all__ = ["library_models", "load_model", "model_path"]


def _folder():
    return resources.files("sourced_neuron.models")


def library_models() -> tuple[str, ...]:
    """Names of the models in the library, sorted."""
    return tuple(sorted(p.name[: -len(".yaml")] for p in _folder().iterdir() if p.name.endswith(".yaml")))


def model_path(name: str):
    """The file of a library model (a ``Traversable``)."""
    if name not in library_models():
        hint = did_you_mean(name, library_models())
        raise InputError(f"no library model {name!r}{hint}; library models: {', '.join(library_models())}")
    return _folder() / f"{name}.yaml"


def load_model(name_or_path: str | Path | NeuronModel) -> NeuronModel:
    """Load a library model by name, or a model file by path.

    Parameters
    ----------
    name_or_path : str or path-like
        A library model name such as ``"izhikevich"``, the path of a YAML file, or of a
        NeuroML file (``.nml``) of one cell (:func:`sourced_neuron.import_neuroml`).
        A :class:`NeuronModel` is returned unchanged.

    Raises
    ------
    InputError
        Neither a library model nor an existing file.
    ModelError
        The file is not a valid model.
    """
    if isinstance(name_or_path, NeuronModel):
        return name_or_path
    if not isinstance(name_or_path, str | os.PathLike):
        raise InputError(
            "model must be a library model name, the path of a model file or a NeuronModel, got "
            f"{type(name_or_path).__name__} {name_or_path!r}"
        )
    text = str(files.as_path(name_or_path, "model"))
    if isinstance(name_or_path, str) and name_or_path in library_models():
        entry = model_path(name_or_path)
        return NeuronModel.from_yaml(entry.read_text(encoding="utf-8"), source=f"models/{name_or_path}.yaml")
    path = Path(text)
    if path.suffix == ".nml":  # a NeuroML file of one cell
        from sourced_neuron.spec.neuroml import import_neuroml

        return import_neuroml(path)
    if path.suffix in (".yaml", ".yml") or path.exists() or "/" in text:
        return NeuronModel.from_file(path)
    return NeuronModel.from_file(model_path(text))  # raises InputError with the list of library models
