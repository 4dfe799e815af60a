"""Checks of plain arguments (names, flags, counts, indices, seeds) at the public functions.

Values with units go through :mod:`sourced_neuron.spec.units`; this module covers the rest, so that a
wrong type anywhere is an :class:`~sourced_neuron.common.errors.InputError` naming the argument, never a
``TypeError`` or ``ValueError`` from deeper down.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from sourced_neuron.common.errors import InputError

__all__ = ["MAX_SEED", "as_flag", "as_indices", "as_names", "as_probability", "check_seed", "whole_number"]

#: The largest seed: Brian2 seeds NumPy's generator, which takes 32-bit seeds.
MAX_SEED = 2**32 - 1


def _shown(value: Any) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) <= 60 else text[:57] + '...'}"


def as_names(value: Any, what: str) -> tuple[str, ...]:
    """A name or a sequence of names (``None``: none) as a tuple of strings."""
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, Iterable) or isinstance(value, bytes | Mapping):
        raise InputError(f"{what} must be a name or a sequence of names, got {_shown(value)}")
    names = tuple(value)
    for name in names:
        if not isinstance(name, str):
            raise InputError(f"{what} must hold names (strings), got {_shown(name)}")
    return names


def as_flag(value: Any, what: str) -> bool:
    """``True`` or ``False`` (NumPy booleans included); anything else is refused."""
    if not isinstance(value, bool | np.bool_):
        raise InputError(f"{what} must be True or False, got {_shown(value)}")
    return bool(value)


def whole_number(value: Any, what: str, low: int = 0, high: int | None = None) -> int:
    """An integer (not a boolean, not a float) from ``low`` to ``high``."""
    if isinstance(value, bool | np.bool_) or not isinstance(value, int | np.integer):
        raise InputError(f"{what} must be a whole number, got {_shown(value)}")
    if value < low or (high is not None and value > high):
        upper = f" to {high:,}" if high is not None else " or more"
        raise InputError(f"{what} must be from {low:,}{upper}, got {value}")
    return int(value)


def as_probability(value: Any, what: str) -> float:
    """A real number from 0 to 1."""
    if isinstance(value, bool | np.bool_) or not isinstance(value, int | float | np.integer | np.floating):
        raise InputError(f"{what} must be a number from 0 to 1, got {_shown(value)}")
    if not 0 <= float(value) <= 1:
        raise InputError(f"{what} must be from 0 to 1, got {value!r}")
    return float(value)


def as_indices(value: Any, what: str, size: int, columns: int | None = None) -> np.ndarray:
    """Whole-number indices from 0 to ``size - 1`` (a flat sequence, or rows of ``columns``)."""
    try:
        array = np.asarray(value)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{what} must be whole-number indices, got {_shown(value)} ({exc})") from None
    if array.size == 0:
        return np.zeros((0,) if columns is None else (0, columns), dtype=np.int64)
    if array.dtype.kind not in "iu" and not (
        array.dtype.kind == "f" and np.all(np.isfinite(array)) and np.all(array == np.round(array))
    ):
        raise InputError(f"{what} must be whole-number indices, got {_shown(value)}")
    shape_ok = array.ndim == 1 if columns is None else array.ndim == 2 and array.shape[1] == columns
    if not shape_ok:
        expected = "a flat sequence" if columns is None else f"rows of {columns}"
        raise InputError(f"{what} must be {expected} of indices, got shape {array.shape}")
    array = array.astype(np.int64)
    outside = array[(array < 0) | (array >= size)]
    if outside.size:
        raise InputError(f"{what}: index {outside.flat[0]} is outside 0 to {size - 1}")
    return array


def check_seed(seed: Any) -> None:
    """Refuse a seed that is not ``None`` or a whole number from 0 to :data:`MAX_SEED`."""
    if seed is not None:
        whole_number(seed, "seed", 0, MAX_SEED)
