"""Values with units at the package boundary: strings, ``quantities`` and Brian2 quantities.

Inside the package every physical value is a Brian2 quantity (or a float when
dimensionless). This module converts what users pass in and what Neo needs out.
"""

from __future__ import annotations

from sourced_neuron.common import brian2_import  # noqa: F401 - before Brian2: keeps the user's excepthook

# isort: split

from typing import Any

import numpy as np
import quantities as pq
from brian2.units.fundamentalunits import (
    DIMENSIONLESS,
    Dimension,
    DimensionMismatchError,
    Quantity,
    get_dimensions,
    get_or_create_dimension,
)

from sourced_neuron.common.errors import UnitError
from sourced_neuron.spec.expressions import (
    BOOLEAN,
    UNITS,
    ExpressionError,
    dimension_text,
    evaluate,
    infer_dimension,
    names_in,
    parse_value,
    unit_lookup_dimension,
)

__all__ = [
    "as_quantity",
    "as_scalar",
    "check_dimension",
    "format_quantity",
    "neo_unit",
    "si_magnitude",
    "si_to_neo",
    "to_neo",
]

# Brian2's base dimensions, in the order of Dimension._dims, and their ``quantities`` units.
_PQ_BASE = (pq.m, pq.kg, pq.s, pq.A, pq.K, pq.mol, pq.cd)
_PQ_BY_NAME = {"m": 0, "kg": 1, "s": 2, "A": 3, "K": 4, "mol": 5, "cd": 6}

# Units used for recorded signals and displayed values, by dimension (SI base otherwise).
_DISPLAY = {
    "volt": ("mV", pq.mV),
    "amp": ("pA", pq.pA),
    "siemens": ("nS", pq.nS),
    "second": ("ms", pq.ms),
    "farad": ("pF", pq.pF),
    "ohm": ("Mohm", pq.MOhm),
    "hertz": ("Hz", pq.Hz),
}


def _named(dim: Dimension) -> str | None:
    for name in _DISPLAY:
        if get_dimensions(UNITS[name]) == dim:
            return name
    return None


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def as_quantity(value: Any, what: str = "value", dimension: Dimension | None = None):
    """Convert a user value to a Brian2 quantity (or float when dimensionless).

    Parameters
    ----------
    value : str, number, array, ``quantities.Quantity`` or Brian2 ``Quantity``
        E.g. ``"10 pA"``, ``0.02``, ``10 * pq.pA`` or ``10 * brian2.pA``; a sequence or array
        gives an array quantity (every element in the same unit).
    what : str
        Names the value in error messages.
    dimension : Dimension, optional
        When given, the value must have this dimension.

    Raises
    ------
    UnitError
        The value cannot be read as a quantity (of any type: this is the boundary where user
        values come in), is not finite, or has the wrong dimension.
    """
    try:
        result = _convert(value, what)
    except UnitError:
        raise
    except (TypeError, ValueError, OverflowError, DimensionMismatchError, RecursionError) as exc:
        raise UnitError(f"{what}: cannot read {_shown(value)} as a number with units ({exc})") from exc
    if isinstance(result, Quantity) and result.dim == DIMENSIONLESS:
        result = np.asarray(result, dtype=float)
        result = float(result) if result.ndim == 0 else result
    if np.any(~np.isfinite(np.asarray(result, dtype=float))):
        raise UnitError(f"{what}: {_shown(value)} is not finite")
    if dimension is not None:
        check_dimension(result, dimension, what)
    return result


def as_scalar(value: Any, what: str = "value", dimension: Dimension | None = None):
    """:func:`as_quantity` for a single value: an array, list or tuple is a :class:`UnitError`."""
    result = as_quantity(value, what, dimension)
    if np.ndim(result) != 0:
        raise UnitError(f"{what}: expected one value, got {np.size(result)} values ({_shown(value)})")
    return result


def _convert(value: Any, what: str):
    if isinstance(value, Quantity):
        return value
    if isinstance(value, pq.Quantity):
        simplified = value.simplified
        dims = [0.0] * 7
        for unit, power in simplified.dimensionality.items():
            symbol = unit.dimensionality.string
            if symbol not in _PQ_BY_NAME:
                raise UnitError(f"{what}: cannot convert unit {value.dimensionality.string!r}")
            dims[_PQ_BY_NAME[symbol]] += float(power)
        return Quantity(np.asarray(simplified.magnitude, dtype=float), dim=get_or_create_dimension(tuple(dims)))
    if isinstance(value, bool | np.bool_):
        raise UnitError(f"{what}: expected a number with units, got a boolean")
    if isinstance(value, int | float | np.integer | np.floating):
        return float(value)
    if isinstance(value, str):
        try:
            tree = parse_value(value)
            unknown = sorted(n for n in names_in(tree) if n not in UNITS)
            if unknown:
                raise ExpressionError(f"{', '.join(map(repr, unknown))} is not a unit")
            if infer_dimension(tree, unit_lookup_dimension) is BOOLEAN:
                raise ExpressionError("it is a condition, not a value")
            return evaluate(tree, UNITS.__getitem__)
        except ExpressionError as exc:
            raise UnitError(f"{what}: cannot read {_shown(value)} as a quantity ({exc})") from None
    if isinstance(value, np.ndarray) and value.dtype.kind in "iuf":
        return np.asarray(value, dtype=float)
    if isinstance(value, list | tuple | np.ndarray):
        array = np.asarray(value, dtype=object)
        items = [_convert(v, what) for v in array.ravel()]
        if any(np.ndim(i) for i in items):
            raise UnitError(f"{what}: a sequence of values must be flat or rectangular, got {_shown(value)}")
        dims = {get_dimensions(i) for i in items}
        if len(dims) > 1:
            raise UnitError(f"{what}: the elements have different units")
        magnitudes = np.asarray([float(np.asarray(i)) for i in items], dtype=float).reshape(array.shape)
        return Quantity(magnitudes, dim=dims.pop() if dims else DIMENSIONLESS)
    raise UnitError(f"{what}: expected a number with units such as '10 pA', got {type(value).__name__}")


def check_dimension(value, dimension: Dimension, what: str) -> None:
    """Raise :class:`UnitError` unless ``value`` has ``dimension``, naming both units."""
    have = get_dimensions(value)
    if have != dimension:
        raise UnitError(
            f"{what} must have units of {dimension_text(dimension)}, but {value!r} has units of {dimension_text(have)}"
        )


def neo_unit(dim: Dimension) -> tuple[str, pq.Quantity]:
    """The unit a variable of this dimension is reported in: (Brian2 name, ``quantities`` unit)."""
    named = _named(dim)
    if named:
        return _DISPLAY[named]
    if dim == DIMENSIONLESS:
        return "1", pq.dimensionless
    unit = pq.dimensionless
    for base, power in zip(_PQ_BASE, dim._dims, strict=True):
        if power:
            unit = unit * base ** float(power)
    names = ("meter", "kilogram", "second", "amp", "kelvin", "mole", "candela")
    brian_name = "*".join(f"{n}**{float(p):g}" for n, p in zip(names, dim._dims, strict=True) if p)
    return brian_name, unit


def si_to_neo(values, dim: Dimension) -> pq.Quantity:
    """Magnitudes in SI units of dimension ``dim`` as a ``quantities`` array in the display unit."""
    name, unit = neo_unit(dim)
    values = np.asarray(values, dtype=float)
    if name in UNITS:
        return values / float(UNITS[name] / Quantity(1.0, dim=dim)) * unit
    return values * unit


def to_neo(value) -> pq.Quantity:
    """Convert a Brian2 quantity (or float) to a ``quantities`` object in its display unit."""
    return si_to_neo(np.asarray(value), get_dimensions(value))


def si_magnitude(value) -> float:
    """The magnitude of a quantity (or float) in SI units."""
    dim = get_dimensions(value)
    return float(value if dim == DIMENSIONLESS else value / Quantity(1.0, dim=dim))


def format_quantity(value) -> str:
    """Print a value the way model files write it, e.g. ``"-65.0 mV"`` or ``"0.02"``."""
    dim = get_dimensions(value)
    if dim == DIMENSIONLESS:
        return repr(float(value))
    name, _ = neo_unit(dim)
    if name in UNITS:
        return f"{float(value / UNITS[name])!r} {name}"
    return f"{float(np.asarray(value))!r} {name}"
