"""The prior over a model's parameters: uniform or log-uniform per parameter, with units.

The bounds are read once by :func:`~sourced_neuron.experiments.space.read_bounds` (names,
units and the model file's bounds checked); values are kept in SI units and shown in the model's
units. The networks learn in an unbounded space: each parameter is scaled to (0, 1) between its
bounds (after a logarithm for a log-uniform one) and passed through the logit, so every posterior
sample maps back inside the prior's support.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from sourced_neuron.common.errors import InputError
from sourced_neuron.experiments.space import model_unit, read_bounds
from sourced_neuron.spec.model import NeuronModel

__all__ = ["KINDS", "Prior"]

#: The prior families.
KINDS = ("uniform", "loguniform")

# the logit of values this close to a bound stays finite in float32
_EDGE = 1e-6


@dataclass(frozen=True, eq=False)
class Prior:
    """Independent uniform or log-uniform priors over some of a model's parameters.

    Parameters
    ----------
    bounds : mapping
        Parameter name to ``[low, high]`` with units, e.g.
        ``{"g_L": ["0.05 mS/cm**2", "0.2 mS/cm**2"]}``; or to
        ``{"loguniform": [low, high]}`` (``{"uniform": ...}`` is the default).
    kinds : mapping, optional
        Parameter name to ``"uniform"`` or ``"loguniform"``, another way to choose the family.

    The prior is checked against a model by :meth:`bind` (done by :func:`train`); until then it
    holds the bounds as given.

    Examples
    --------
    >>> prior = sn.inference.Prior({"g_L": ["0.05 mS/cm**2", "0.2 mS/cm**2"],
    ...                             "k": {"loguniform": ["5 mV", "20 mV"]}})
    """

    given: Mapping[str, Any]
    kinds_given: Mapping[str, str]
    names: tuple[str, ...] = ()
    low: np.ndarray | None = None  # SI
    high: np.ndarray | None = None
    kinds: tuple[str, ...] = ()
    units: tuple[tuple[str, float], ...] = ()  # shown unit and its size in SI, per name

    def __init__(self, bounds: Mapping[str, Any], kinds: Mapping[str, str] | None = None) -> None:
        if not isinstance(bounds, Mapping) or not bounds:
            raise InputError(
                "a prior needs a non-empty mapping of parameter name to [low, high] with units, e.g. "
                f"{{'g_L': ['0.05 mS/cm**2', '0.2 mS/cm**2']}}, got {bounds!r}"
            )
        plain, families = {}, dict(kinds or {})
        for name, entry in bounds.items():
            pair = entry
            if isinstance(entry, Mapping):
                if len(entry) != 1 or next(iter(entry)) not in KINDS:
                    raise InputError(
                        f"prior[{name!r}]: give [low, high] or one of {{'uniform': ...}}, {{'loguniform': ...}}, "
                        f"got {entry!r}"
                    )
                family, pair = next(iter(entry.items()))
                families.setdefault(name, family)
            plain[name] = pair
        for name, family in families.items():
            if name not in plain:
                raise InputError(f"kinds names {name!r}, which has no bounds in the prior")
            if family not in KINDS:
                raise InputError(f"prior[{name!r}]: the family must be one of {', '.join(KINDS)}, got {family!r}")
        object.__setattr__(self, "given", plain)
        object.__setattr__(self, "kinds_given", families)

    # --- checked against a model ---------------------------------------------------------------

    def bind(self, model: NeuronModel) -> Prior:
        """The prior checked against ``model``: names are its parameters, values in the right units
        and inside the model file's bounds, log-uniform bounds positive.

        Raises
        ------
        InputError, UnitError
            Naming the entry at fault.
        """
        names, low, high = read_bounds(model, self.given, parameters_only=True)
        kinds = tuple(self.kinds_given.get(name, "uniform") for name in names)
        for name, kind, a in zip(names, kinds, low, strict=True):
            if kind == "loguniform" and a <= 0:
                raise InputError(f"prior[{name!r}]: a log-uniform prior needs positive bounds, got low = {a:g} (SI)")
        bound = object.__new__(Prior)
        for key, value in {
            "given": self.given,
            "kinds_given": self.kinds_given,
            "names": names,
            "low": low,
            "high": high,
            "kinds": kinds,
            "units": tuple(model_unit(model, name) for name in names),
        }.items():
            object.__setattr__(bound, key, value)
        return bound

    @property
    def bound(self) -> bool:
        """Whether the prior has been checked against a model."""
        return bool(self.names)

    def _need_bound(self) -> None:
        if not self.bound:
            raise InputError("this prior is not checked against a model yet: call prior.bind(model)")

    # --- draws and transforms (SI) ------------------------------------------------------------

    def sample(self, n: int, seed: int | None = 0) -> np.ndarray:
        """``n`` independent draws, shape ``(n, len(names))``, SI units."""
        self._need_bound()
        rng = np.random.default_rng(seed)
        return self.from_unit(rng.uniform(size=(int(n), len(self.names))))

    def from_unit(self, u: np.ndarray) -> np.ndarray:
        """Values (SI) at quantiles ``u`` in [0, 1] of each parameter's prior."""
        u = np.asarray(u, dtype=float)
        log = np.array([k == "loguniform" for k in self.kinds])
        a = np.where(log, np.log(np.where(log, self.low, 1.0)), self.low)
        b = np.where(log, np.log(np.where(log, self.high, 1.0)), self.high)
        x = a + u * (b - a)
        return np.clip(np.where(log, np.exp(x), x), self.low, self.high)  # exp(log(high)) may round above

    def to_unit(self, values: np.ndarray) -> np.ndarray:
        """The prior's quantiles of ``values`` (SI), each in [0, 1] inside the support."""
        values = np.asarray(values, dtype=float)
        log = np.array([k == "loguniform" for k in self.kinds])
        a = np.where(log, np.log(np.where(log, self.low, 1.0)), self.low)
        b = np.where(log, np.log(np.where(log, self.high, 1.0)), self.high)
        x = np.where(log, np.log(np.where(log, np.maximum(values, 1e-300), 1.0)), values)
        return (x - a) / (b - a)

    def to_unbounded(self, values: np.ndarray) -> np.ndarray:
        """The space the networks learn in: the logit of the prior quantile (float32-safe)."""
        u = np.clip(self.to_unit(values), _EDGE, 1 - _EDGE)
        return np.log(u) - np.log1p(-u)

    def from_unbounded(self, z: np.ndarray) -> np.ndarray:
        """Back from :meth:`to_unbounded` to SI values, inside the support."""
        return self.from_unit(1.0 / (1.0 + np.exp(-np.asarray(z, dtype=float))))

    def contains(self, values: np.ndarray) -> np.ndarray:
        """Per row, whether every value lies inside the support."""
        values = np.atleast_2d(values)
        return np.all((values >= self.low) & (values <= self.high), axis=1)

    # --- shown in the model's units -----------------------------------------------------------

    def frame(self, values: np.ndarray) -> pd.DataFrame:
        """A table of draws (SI) with one column per parameter in the model's units (named in
        ``frame.attrs["units"]``)."""
        self._need_bound()
        values = np.atleast_2d(values)
        frame = pd.DataFrame(
            {name: values[:, k] / size for k, (name, (_, size)) in enumerate(zip(self.names, self.units, strict=True))}
        )
        frame.attrs["units"] = {name: unit for name, (unit, _) in zip(self.names, self.units, strict=True)}
        return frame

    def describe(self) -> dict[str, Any]:
        """The prior as JSON-able data (bounds in the model's units, the family)."""
        self._need_bound()
        return {
            name: {
                "kind": kind,
                "low": f"{a / size:.12g} {unit}".strip(),
                "high": f"{b / size:.12g} {unit}".strip(),
            }
            for name, kind, a, b, (unit, size) in zip(
                self.names, self.kinds, self.low, self.high, self.units, strict=True
            )
        }

    @classmethod
    def from_description(cls, description: Mapping[str, Mapping[str, str]]) -> Prior:
        """The prior :meth:`describe` wrote (not yet bound)."""
        return cls(
            {name: [entry["low"], entry["high"]] for name, entry in description.items()},
            {name: entry["kind"] for name, entry in description.items()},
        )

    def __repr__(self) -> str:
        if not self.bound:
            return f"Prior({dict(self.given)!r})"
        parts = [f"{n} ~ {d['kind']}({d['low']}, {d['high']})" for n, d in self.describe().items()]
        return "Prior(" + "; ".join(parts) + ")"
