"""What a sweep varies: a grid, a table or a sampler of parameter sets, read once with units.

Every name is checked against the model (a parameter, the initial value of a state variable or
per-neuron parameter, or ``I_ext``, the injected current's amplitude) and every value against the
name's dimension and the model file's bounds, before anything is simulated. Values are kept in
SI units for the simulators and shown in the model's units (the unit the model file writes the
value in) in the sweep's table.
"""

from __future__ import annotations

from sourced_neuron.common import brian2_import  # noqa: F401 - before Brian2: keeps the user's excepthook

# isort: split

import itertools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from brian2.units.fundamentalunits import DIMENSIONLESS, Dimension, Quantity

from sourced_neuron.common.errors import InputError, did_you_mean
from sourced_neuron.spec.model import NeuronModel
from sourced_neuron.spec.parts import AMP, INPUT
from sourced_neuron.spec.units import as_quantity, as_scalar, neo_unit

__all__ = ["SAMPLERS", "ParameterSpace", "model_unit", "read_bounds"]

#: Samplers of :class:`ParameterSpace` (``{"uniform": [low, high]}`` and so on).
SAMPLERS = ("uniform", "loguniform", "normal")

#: At most this many parameter sets in one sweep (a grid is refused before it is expanded).
MAX_SETS = 100_000_000

_NUMBER = re.compile(r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*\*?\s*")


def model_unit(model: NeuronModel, name: str) -> tuple[str, float]:
    """The unit ``name`` is shown in, and its size in SI: the unit the model file writes the
    value in (``"mS/cm**2"`` for ``g_L: 0.1 mS/cm**2``), else the unit Neo reports the
    dimension in (``"mV"``, ``"pA"``, ...); ``("", 1.0)`` for a dimensionless value."""
    dimension = model.dimension_of(name)
    if dimension == DIMENSIONLESS:
        return "", 1.0
    texts = dict(model.parameters)
    initial = dict(model.initial)
    text = texts[name].text if name in texts else (initial[name].text if name in initial else "")
    unit = _NUMBER.sub("", text or "", count=1).strip() if text and _NUMBER.match(text) else ""
    if unit:
        try:
            size = as_scalar(f"1 {unit}", "unit", dimension)
            return unit, float(size / Quantity(1.0, dim=dimension))
        except (InputError, ValueError):
            pass
    unit, _ = neo_unit(dimension)
    size = as_scalar(f"1 {unit}", "unit", dimension)
    return unit, float(size / Quantity(1.0, dim=dimension))


@dataclass(frozen=True, eq=False)
class ParameterSpace:
    """Parameter sets to simulate: one row per set, one column per varied name (SI values).

    Attributes
    ----------
    names : tuple of str
        The varied names, in the order given.
    values : numpy.ndarray
        Shape ``(n_sets, len(names))``, SI magnitudes.
    units : dict
        Name to the unit it is shown in (:func:`model_unit`); ``I_ext`` in pA.
    scales : dict
        Name to the size of that unit in SI.
    """

    names: tuple[str, ...]
    values: np.ndarray
    units: dict[str, str]
    scales: dict[str, float]

    def __len__(self) -> int:
        return self.values.shape[0]

    def column(self, name: str) -> np.ndarray:
        """One name's values for every set (SI)."""
        return self.values[:, self.names.index(name)]

    def shown(self, start: int = 0, stop: int | None = None) -> dict[str, np.ndarray]:
        """The columns of sets ``start`` to ``stop`` in their display units (for the sweep's table)."""
        result = {}
        for k, name in enumerate(self.names):
            unique, inverse = np.unique(self.values[start:stop, k] / self.scales[name], return_inverse=True)
            # 14 significant digits: 2.5e-10 A shows as 250 pA, not 250.00000000000003
            result[name] = np.array([float(f"{v:.14g}") for v in unique])[inverse]
        return result

    def digest(self) -> str:
        """A hash of the names and values (a finished sweep's parts are kept only for the same sets)."""
        import hashlib

        h = hashlib.sha256(repr(self.names).encode())
        h.update(np.ascontiguousarray(self.values, dtype=float).tobytes())
        return h.hexdigest()[:16]

    # --- reading what users give ------------------------------------------------------------

    @classmethod
    def from_user(
        cls, model: NeuronModel, params: Any, n: int | None = None, seed: int | None = None
    ) -> ParameterSpace:
        """Read ``params`` of :func:`sourced_neuron.experiments.sweep`.

        Parameters
        ----------
        model : NeuronModel
            The model (preset applied): names and units are checked against it.
        params : mapping or pandas.DataFrame
            A mapping of name to a list of values (a grid axis: the sets are every combination,
            the first name varying slowest), to one value (the same in every set), or to a sampler
            ``{"uniform": [low, high]}``, ``{"loguniform": [low, high]}`` or ``{"normal": [mean,
            std]}`` (``n`` sets drawn from ``seed``); grid axes and samplers do not mix. A
            ``pandas.DataFrame`` is an explicit table, one row per set: strings with units, or
            numbers in the units of ``DataFrame.attrs["units"]`` (what a sweep returns) or else
            in the model's units.
        n : int, optional
            The number of sets drawn by samplers.
        seed : int, optional
            Seed of the samplers.

        Raises
        ------
        InputError, UnitError
            Unknown names, values without units or in the wrong units, values outside the model
            file's bounds, empty grids, samplers without ``n``, or too many sets.
        """
        try:
            import pandas as pd
        except ImportError:  # pragma: no cover - a dependency
            pd = None
        if pd is not None and isinstance(params, pd.DataFrame):
            return cls._from_table(model, params)
        if not isinstance(params, Mapping) or not params:
            raise InputError(
                "params must be a non-empty mapping of name to values (a grid, e.g. {'g_L': ['0.05 mS/cm**2', "
                f"'0.1 mS/cm**2']}}), a sampler or a pandas.DataFrame, got {type(params).__name__}"
            )
        axes: dict[str, np.ndarray] = {}
        samplers: dict[str, tuple[str, float, float]] = {}
        fixed: dict[str, float] = {}
        for name, value in params.items():
            dimension = _check_name(model, name)
            what = f"params[{name!r}]"
            if isinstance(value, Mapping):
                samplers[name] = _sampler(value, dimension, what)
            elif isinstance(value, str) or np.ndim(_plain(value)) == 0:
                fixed[name] = float(np.asarray(as_scalar(value, what, dimension)))
            else:
                if not len(value):
                    raise InputError(f"{what}: a grid axis needs a non-empty list of values")
                array = np.atleast_1d(np.asarray(as_quantity(_plain(value), what, dimension), dtype=float))
                if array.ndim != 1 or array.size == 0:
                    raise InputError(f"{what}: a grid axis needs a non-empty list of values, got shape {array.shape}")
                axes[name] = array
        if axes and samplers:
            raise InputError(
                f"params mixes grid axes ({', '.join(axes)}) and samplers ({', '.join(samplers)}): sample every "
                "varied name, or give the sets as a pandas.DataFrame"
            )
        if samplers:
            if n is None or isinstance(n, bool) or not isinstance(n, int | np.integer) or not 1 <= n <= MAX_SETS:
                raise InputError(f"samplers need n, the number of sets to draw (1 to {MAX_SETS:,}), got {n!r}")
            rng = np.random.default_rng(seed)
            columns = {name: _draw(kind, a, b, int(n), rng, name) for name, (kind, a, b) in samplers.items()}
            size = int(n)
        else:
            if n is not None:
                raise InputError("n is the number of sets drawn by samplers; a grid has as many sets as combinations")
            size = int(np.prod([len(a) for a in axes.values()], dtype=float)) if axes else 1
            if size > MAX_SETS:
                raise InputError(f"the grid has {size:,} parameter sets; a sweep takes at most {MAX_SETS:,}")
            grid = itertools.product(*axes.values()) if axes else [()]
            rows = np.array(list(grid), dtype=float).reshape(size, len(axes))
            columns = {name: rows[:, k] for k, name in enumerate(axes)}
        columns.update({name: np.full(size, value) for name, value in fixed.items()})
        ordered = {name: columns[name] for name in params}  # the user's order
        return cls._make(model, ordered)

    @classmethod
    def _from_table(cls, model: NeuronModel, frame) -> ParameterSpace:
        if frame.empty or not len(frame.columns):
            raise InputError("params: the table (DataFrame) has no rows or no columns")
        units = dict(frame.attrs.get("units", {}))
        columns = {}
        for name in frame.columns:
            if not isinstance(name, str):
                raise InputError(f"params: table columns must be names, got {name!r}")
            dimension = _check_name(model, name)
            what = f"params column {name!r}"
            data = frame[name].to_list()
            if all(isinstance(v, str) for v in data):
                values = [float(np.asarray(as_scalar(v, f"{what}, row {k}", dimension))) for k, v in enumerate(data)]
            else:
                unit = units.get(name)
                scale = model_unit(model, name)[1] if unit is None else _scale(unit, dimension, what)
                values = np.asarray(frame[name].to_numpy(dtype=float)) * scale
            array = np.asarray(values, dtype=float)
            if not np.all(np.isfinite(array)):
                raise InputError(f"{what}: every value must be finite")
            columns[name] = array
        return cls._make(model, columns)

    @classmethod
    def _make(cls, model: NeuronModel, columns: dict[str, np.ndarray]) -> ParameterSpace:
        for name, values in columns.items():
            if name in model.parameter_names:
                model.check_bounds(name, values, f"params[{name!r}]: parameter {name!r} of model {model.name!r}")
        units, scales = {}, {}
        for name in columns:
            if name == INPUT:
                units[name], scales[name] = "pA", 1e-12
            else:
                units[name], scales[name] = model_unit(model, name)
        values = np.column_stack(list(columns.values())) if columns else np.zeros((1, 0))
        return cls(tuple(columns), values.astype(float), units, scales)


def _check_name(model: NeuronModel, name: Any, where: str = "params", parameters_only: bool = False) -> Dimension:
    if parameters_only:
        valid: tuple[str, ...] = model.parameter_names
        if not isinstance(name, str) or name not in valid:
            raise InputError(
                f"{where}: model {model.name!r} has no parameter {name!r}{did_you_mean(str(name), valid)}; "
                f"its parameters: {', '.join(valid)}"
            )
        return model.dimension_of(name)
    valid = (*model.parameter_names, *model.state_variables, *model.per_neuron_parameters)
    valid += (INPUT,) if model.uses_input else ()
    if not isinstance(name, str) or name not in valid:
        hint = did_you_mean(str(name), valid)
        if name == INPUT:
            hint = f"; model {model.name!r} does not read {INPUT}, so its current cannot be varied"
        raise InputError(
            f"{where}: model {model.name!r} has no parameter, state variable or input {name!r}{hint}; "
            f"it can vary: {', '.join(valid)}"
        )
    return AMP if name == INPUT else model.dimension_of(name)


def read_bounds(
    model: NeuronModel, bounds: Any, parameters_only: bool = False
) -> tuple[tuple[str, ...], np.ndarray, np.ndarray]:
    """Read ``{name: [low, high]}`` with units (sensitivity analyses, fits, priors).

    Parameters
    ----------
    model : NeuronModel
        The model the names and units are checked against.
    bounds : mapping
        Name to a pair of values with units (strings, quantities, or a quantity array of two).
    parameters_only : bool
        Only the model's parameters may be named (not initial values or ``I_ext``).

    Returns
    -------
    tuple
        The names (in the order given), and the low and high values (SI magnitudes).

    Raises
    ------
    InputError, UnitError
        An empty or non-mapping argument, unknown names (with the nearest one), a value that is
        not a pair, values without units or in the wrong units, ``low >= high``, or values
        outside the model file's bounds; each naming the entry.
    """
    if not isinstance(bounds, Mapping) or not bounds:
        raise InputError(
            "bounds must be a non-empty mapping of name to [low, high] with units, e.g. "
            f"{{'tau_m': ['8 ms', '16 ms']}}, got {type(bounds).__name__}"
        )
    names, low, high = [], [], []
    for name, given in bounds.items():
        dimension = _check_name(model, name, "bounds", parameters_only)
        what = f"bounds[{name!r}]"
        pair = list(given) if isinstance(given, np.ndarray) and given.shape == (2,) else given  # [8, 16] * ms
        if isinstance(pair, str | bytes | Mapping) or not isinstance(pair, Sequence) or len(pair) != 2:
            raise InputError(f"{what}: give [low, high] with units, e.g. ['8 ms', '16 ms'], got {pair!r}")
        a = float(np.asarray(as_scalar(pair[0], f"{what} low", dimension)))
        b = float(np.asarray(as_scalar(pair[1], f"{what} high", dimension)))
        if not a < b:
            raise InputError(f"{what}: needs low < high, got {pair[0]!r} and {pair[1]!r}")
        if name in model.parameter_names:
            model.check_bounds(name, np.array([a, b]), f"{what}: parameter {name!r} of model {model.name!r}")
        names.append(name)
        low.append(a)
        high.append(b)
    return tuple(names), np.array(low), np.array(high)


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def _sampler(value: Mapping, dimension: Dimension, what: str) -> tuple[str, float, float]:
    if len(value) != 1 or next(iter(value)) not in SAMPLERS:
        raise InputError(f"{what}: a sampler is one of {', '.join(SAMPLERS)}, e.g. {{'uniform': ['1 ms', '5 ms']}}")
    kind, args = next(iter(value.items()))
    if not isinstance(args, Sequence) or isinstance(args, str) or len(args) != 2:
        raise InputError(f"{what}: {kind} takes two values, got {args!r}")
    a = float(np.asarray(as_scalar(args[0], f"{what} {kind}", dimension)))
    if kind == "normal":
        b = float(np.asarray(as_scalar(args[1], f"{what} normal std", dimension)))
        if b < 0:
            raise InputError(f"{what}: normal needs a non-negative standard deviation")
        return kind, a, b
    b = float(np.asarray(as_scalar(args[1], f"{what} {kind}", dimension)))
    if not a < b:
        raise InputError(f"{what}: {kind} needs low < high, got {args[0]!r} and {args[1]!r}")
    if kind == "loguniform" and a <= 0:
        raise InputError(f"{what}: loguniform needs positive bounds, got {args[0]!r}")
    return kind, a, b


def _draw(kind: str, a: float, b: float, n: int, rng: np.random.Generator, name: str) -> np.ndarray:
    if kind == "uniform":
        return rng.uniform(a, b, n)
    if kind == "loguniform":
        return np.exp(rng.uniform(np.log(a), np.log(b), n))
    return rng.normal(a, b, n)


def _scale(unit: str, dimension: Dimension, what: str) -> float:
    if dimension == DIMENSIONLESS and unit in ("", "1"):
        return 1.0
    size = as_scalar(f"1 {unit}", f"{what}: unit {unit!r}", dimension)
    return float(np.asarray(size / Quantity(1.0, dim=dimension)))
