"""The package's cache folder: compiled NEST modules, Brian2 standalone projects, derived steps."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["CACHE_VARIABLE", "cache_root"]

#: Overrides the cache folder.
CACHE_VARIABLE = "SOURCED_NEURON_CACHE"


def cache_root() -> Path:
    """The cache folder (``$SOURCED_NEURON_CACHE``, else the user's cache folder)."""
    if os.environ.get(CACHE_VARIABLE):
        return Path(os.environ[CACHE_VARIABLE])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "sourced_neuron"
