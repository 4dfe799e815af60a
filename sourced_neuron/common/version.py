"""The installed package's version, read once from its metadata."""

from __future__ import annotations

import importlib.metadata


def package_version(distribution: str) -> str:
    """The installed version of ``distribution``, or ``"unknown"`` when it is not installed."""
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


VERSION = package_version("sourced-neuron")
