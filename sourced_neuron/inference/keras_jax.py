"""BayesFlow on Keras 3 with the JAX backend: imported once, the backend set by the library.

Keras reads ``KERAS_BACKEND`` when it is first imported, so this sets it to ``jax`` before that;
if Keras was already imported with another backend in this process, inference cannot run here
and says so.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

from sourced_neuron.common.errors import BackendUnavailableError

__all__ = ["INSTALL_HINT", "available", "bayesflow"]

INSTALL_HINT = "pip install 'sourced-neuron[inference]' (BayesFlow 2 with Keras 3 on JAX)"


def available() -> str | None:
    """``None`` when the inference extra is installed, else why not (for skipping tests)."""
    import importlib.util

    missing = [name for name in ("bayesflow", "keras", "jax") if importlib.util.find_spec(name) is None]
    return f"not installed: {', '.join(missing)} ({INSTALL_HINT})" if missing else None


def bayesflow() -> Any:
    """The ``bayesflow`` module, on Keras with JAX.

    Raises
    ------
    BackendUnavailableError
        The extra is not installed, or Keras was imported with another backend.
    """
    if "keras" in sys.modules:
        backend = sys.modules["keras"].backend.backend()
        if backend != "jax":
            raise BackendUnavailableError(
                f"Keras was imported with the {backend!r} backend before sourced_neuron.inference; inference runs "
                "on JAX: start a new Python process (without KERAS_BACKEND set to another backend)"
            )
    os.environ["KERAS_BACKEND"] = "jax"
    logging.getLogger("jax._src.xla_bridge").setLevel(logging.WARNING)  # "no TPU" notices on CPU
    missing = available()
    if missing:
        raise BackendUnavailableError(f"Bayesian inference needs BayesFlow, {missing}")
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    import bayesflow as bf

    # BayesFlow's import calls logging.basicConfig(level=INFO) when the root logger has no
    # handler, which would print every INFO record of the process (Dask's, JAX's): undo that
    for handler in root.handlers[:]:
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)
    logging.getLogger("bayesflow").setLevel(logging.WARNING)
    return bf
