"""The neuron model object: immutable, hashable, checked, and the same for every backend.

A :class:`NeuronModel` is built only from what :mod:`sourced_neuron.spec.checks` returns (from a YAML file
or string), so every instance has passed the unit, name and safety checks. Everything a
backend needs is on it: equations, threshold, reset, refractoriness, parameters, initial
values, presets, numerics and synaptic receptor ports.
"""

from __future__ import annotations

from sourced_neuron.common import brian2_import  # noqa: F401 - before Brian2: keeps the user's excepthook

# isort: split

import functools
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from brian2.units.fundamentalunits import DIMENSIONLESS, Dimension, Quantity, get_dimensions

from sourced_neuron.common.errors import Diagnostic, InputError, ModelError, UnitError, did_you_mean
from sourced_neuron.spec import checks
from sourced_neuron.spec import expressions as ex
from sourced_neuron.spec.parts import (
    AMP,
    INPUT,
    MAX_DT,
    METHODS,
    MIN_DT,
    RKF45_ABSOLUTE_ERROR,
    RKF45_ERROR_RANGE,
    SECOND,
    VOLT,
    Bounds,
    Equation,
    InitialValue,
    Numerics,
    Preset,
    ReceptorPort,
    Refractory,
    Value,
    receptor_parameters,
)
from sourced_neuron.spec.units import as_quantity, as_scalar, format_quantity

__all__ = ["NeuronModel", "build_model", "check_file", "read_model_file"]


@dataclass(frozen=True)
class NeuronModel:
    """A checked neuron model. Create it with :meth:`from_yaml` or :func:`sourced_neuron.load_model`.

    Instances are immutable and hashable; ``==`` compares content, and
    :attr:`content_hash` is a stable hex digest of everything that affects the dynamics
    (description and references excluded).
    """

    name: str
    equations: tuple[Equation, ...]
    parameters: tuple[tuple[str, Value], ...]
    numerics: Numerics
    threshold: str | None = None
    reset: tuple[str, ...] = ()
    refractory: Refractory | None = None
    initial: tuple[tuple[str, InitialValue], ...] = ()
    presets: tuple[Preset, ...] = ()
    synapses: tuple[ReceptorPort, ...] = ()
    description: str = ""
    references: tuple[str, ...] = ()
    #: Declared bounds of parameters (name, :class:`Bounds`); not part of :attr:`content_hash`,
    #: since they change which values are accepted, not the dynamics.
    bounds: tuple[tuple[str, Bounds], ...] = ()
    source: str = field(default="<string>", compare=False, repr=False)

    # --- construction and serialisation ------------------------------------------------

    @classmethod
    def from_yaml(cls, text: str, source: str = "<string>") -> NeuronModel:
        """Parse and check a model from YAML text.

        Raises
        ------
        ModelError
            With every problem found (file, field, line and message for each).
        """
        return build_model(text, source)

    @classmethod
    def from_file(cls, path: str | Path) -> NeuronModel:
        """Read and check a model file."""
        return read_model_file(path)

    def to_dict(self) -> dict[str, Any]:
        """The model as plain data, in the layout of a model file."""
        data: dict[str, Any] = {"name": self.name}
        if self.description:
            data["description"] = self.description
        if self.references:
            data["references"] = list(self.references)
        data["equations"] = "\n".join(eq.text() for eq in self.equations if eq.port is None) + "\n"
        if self.threshold is not None:
            data["threshold"] = self.threshold
        if self.reset:
            data["reset"] = "\n".join(self.reset) + ("\n" if len(self.reset) > 1 else "")
        if self.refractory is not None:
            data["refractory"] = self.refractory.text or self.refractory.expression
        port_parameters = receptor_parameters(self.synapses)
        bounds = dict(self.bounds)

        def parameter(name: str, value: Value):
            if name not in bounds:
                return _plain(value.text)
            return {"value": _plain(value.text), **{k: _plain(b.text) for k, b in bounds[name].items()}}

        data["parameters"] = {name: parameter(name, v) for name, v in self.parameters if name not in port_parameters}
        if self.initial:
            data["initial"] = {name: _plain(v.text or v.expression) for name, v in self.initial}
        if self.presets:
            data["presets"] = {
                p.name: {
                    **{k: _plain(v.text) for k, v in p.parameters},
                    **{k: _plain(v.text or v.expression) for k, v in p.initial},
                }
                for p in self.presets
            }
        data["numerics"] = {"method": self.numerics.method, "dt": self.numerics.dt.text}
        if self.numerics.abs_error != RKF45_ABSOLUTE_ERROR:
            data["numerics"]["abs_error"] = self.numerics.abs_error
        if self.synapses:
            values = dict(self.parameters)  # the ports' constants, as they are now (with_parameters)
            data["synapses"] = {
                port.name: {
                    "type": port.type,
                    "kernel": port.kernel,
                    **({"tau": _plain(values[port.tau_name].text)} if port.tau_name else {}),
                    **({"E_rev": _plain(values[port.reversal_name].text)} if port.reversal_name else {}),
                }
                for port in self.synapses
            }
        return data

    def to_yaml(self) -> str:
        """The model as YAML text; ``NeuronModel.from_yaml(m.to_yaml()) == m``."""
        return yaml.dump(self.to_dict(), Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)

    @cached_property
    def content_hash(self) -> str:
        """SHA-256 of the normalised content that affects the dynamics (stable across processes)."""

        def value(v: Value) -> list:
            return [v.magnitude.hex(), list(v.dims)]

        content = {
            "name": self.name,
            "equations": [[e.kind, e.name, e.expression, list(e.dims), list(e.flags)] for e in self.equations],
            "threshold": self.threshold,
            "reset": list(self.reset),
            "refractory": [self.refractory.kind, self.refractory.expression] if self.refractory else None,
            "parameters": [[n, value(v)] for n, v in self.parameters],
            "initial": [[n, v.expression] for n, v in self.initial],
            "presets": [
                [p.name, [[n, value(v)] for n, v in p.parameters], [[n, v.expression] for n, v in p.initial]]
                for p in self.presets
            ],
            "numerics": [self.numerics.method, value(self.numerics.dt)]
            # (the default bound keeps the hashes of models that do not give one)
            + ([self.numerics.abs_error] if self.numerics.abs_error != RKF45_ABSOLUTE_ERROR else []),
            "synapses": [
                [s.name, s.type, s.kernel, value(s.tau) if s.tau else None, value(s.E_rev) if s.E_rev else None]
                for s in self.synapses
            ],
        }
        text = json.dumps(content, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()

    def __hash__(self) -> int:
        return hash(self.content_hash)

    # --- queries -----------------------------------------------------------------------

    @property
    def state_variables(self) -> tuple[str, ...]:
        """Variables with a differential equation, in file order."""
        return tuple(e.name for e in self.equations if e.kind == "differential")

    @property
    def subexpressions(self) -> tuple[str, ...]:
        """Named subexpressions, in file order."""
        return tuple(e.name for e in self.equations if e.kind == "subexpression")

    @property
    def per_neuron_parameters(self) -> tuple[str, ...]:
        """Parameters declared in the equations (``x : unit``), other than ``I_ext``."""
        return tuple(e.name for e in self.equations if e.kind == "parameter" and e.name != INPUT)

    @property
    def per_neuron_variables(self) -> tuple[str, ...]:
        """State variables and per-neuron parameters: what a simulator keeps per neuron."""
        return tuple(
            e.name for e in self.equations if e.kind == "differential" or (e.kind == "parameter" and e.name != INPUT)
        )

    @property
    def parameter_names(self) -> tuple[str, ...]:
        """Names of the ``parameters`` mapping, in file order."""
        return tuple(name for name, _ in self.parameters)

    @property
    def preset_names(self) -> tuple[str, ...]:
        """Names of the presets, in file order."""
        return tuple(p.name for p in self.presets)

    @cached_property
    def names_used(self) -> frozenset[str]:
        """Every name read by the model's expressions (equations, threshold, reset, refractoriness,
        initial values)."""
        return frozenset(
            checks.names_used(self.equations, self.threshold, self.reset, self.refractory, dict(self.initial))
        )

    @cached_property
    def uses_input(self) -> bool:
        """Whether the model reads the injected current ``I_ext``."""
        return INPUT in self.names_used

    @property
    def is_stochastic(self) -> bool:
        """Whether the equations use white noise (``xi``)."""
        return any(e.expression and _uses_noise(e.expression) for e in self.equations)

    @property
    def membrane_potential(self) -> str | None:
        """The first state variable with units of volt (the one synaptic currents act on)."""
        for e in self.equations:
            if e.kind == "differential" and e.dimension == VOLT:
                return e.name
        return None

    def dimension_of(self, name: str) -> Dimension:
        """The dimension of a declared variable or parameter."""
        for e in self.equations:
            if e.name == name:
                return e.dimension
        for n, v in self.parameters:
            if n == name:
                return v.dimension
        if name == INPUT:
            return AMP
        raise InputError(f"model {self.name!r} has no variable or parameter {name!r}{did_you_mean(name, self.names())}")

    def lookup_dimension(self, name: str) -> Dimension:
        """Dimension of any name the model's expressions may read (variables, units, ``t``, ``xi``).

        Raises
        ------
        ExpressionError
            For an unknown name.
        """
        if name in ("t", "dt"):
            return SECOND
        if ex.is_noise(name):
            return SECOND**-0.5
        if name in ex.UNITS:
            return get_dimensions(ex.UNITS[name])
        try:
            return self.dimension_of(name)
        except InputError as exc:
            raise ex.ExpressionError(str(exc)) from None

    def check_bounds(self, name: str, magnitudes, what: str | None = None) -> None:
        """Refuse values (SI magnitudes) of parameter ``name`` outside its declared :class:`Bounds`.

        Raises
        ------
        InputError
            Naming the parameter, the model, the rule of the model file and the value.
        """
        bounds = dict(self.bounds).get(name)
        if bounds is None:
            return
        rule = bounds.violation(magnitudes)
        if rule is not None:
            values = np.atleast_1d(np.asarray(magnitudes, dtype=float))
            dimension = dict(self.parameters)[name].dimension
            bad = next(v for v in values if bounds.violation(v) is not None)
            shown = format_quantity(bad if dimension == DIMENSIONLESS else Quantity(bad, dim=dimension))
            raise InputError(
                f"{what or f'parameter {name!r} of model {self.name!r}'} {rule} (the bound of the model file), "
                f"got {shown}"
            )

    def names(self) -> tuple[str, ...]:
        """Every name the model defines (variables, subexpressions, parameters)."""
        return tuple(dict.fromkeys([e.name for e in self.equations] + list(self.parameter_names)))

    def parameter_values(self) -> dict[str, Any]:
        """The parameters as Brian2 quantities (floats when dimensionless)."""
        return {name: v.quantity for name, v in self.parameters}

    def initial_values(self) -> dict[str, Any]:
        """Initial values of states and per-neuron parameters, evaluated with the current parameters.

        Variables without an initial value start at zero (as in Brian2).
        """
        values: dict[str, Any] = dict(self.parameter_values())
        result: dict[str, Any] = {}
        for name, init in self.initial:
            tree = ex.parse(init.expression)
            try:
                value = ex.evaluate(tree, lambda n: values[n] if n in values else ex.UNITS[n])
            except ex.ExpressionError as exc:
                raise InputError(
                    f"model {self.name!r}: the initial value of {name!r}, {init.text or init.expression!r}, "
                    f"{exc.reason} with these parameter values"
                ) from None
            result[name] = values[name] = value
        return result

    def initial_arrays(self, parameters: Mapping[str, np.ndarray], size: int) -> dict[str, np.ndarray]:
        """Initial values per neuron (SI, shape ``(size,)``) when some parameters vary across neurons.

        An initial value such as ``v: E_L`` follows a parameter that varies: it is evaluated
        with each neuron's values.

        Parameters
        ----------
        parameters : mapping
            Parameter name to its per-neuron values (SI magnitudes, shape ``(size,)``).
        size : int
            Number of neurons.
        """
        values: dict[str, Any] = dict(self.parameter_values())
        for name, array in parameters.items():
            values[name] = Quantity(np.asarray(array, dtype=float), dim=self.dimension_of(name))
        result = {}
        for name, init in self.initial:
            tree = ex.parse(init.expression)
            values[name] = ex.evaluate(tree, lambda n: values[n] if n in values else ex.UNITS[n])
            result[name] = np.broadcast_to(np.asarray(values[name], dtype=float), (size,)).copy()
        return result

    # --- derived models ----------------------------------------------------------------

    def _with_values(self, params: dict[str, Value], initial: dict[str, InitialValue]) -> NeuronModel:
        """A copy with these parameters and initial values; the receptor ports follow their constants."""
        ports = tuple(
            replace(
                port,
                tau=params[port.tau_name] if port.tau_name else None,
                E_rev=params[port.reversal_name] if port.reversal_name else None,
            )
            for port in self.synapses
        )
        return replace(self, parameters=tuple(params.items()), initial=_ordered_initial(self, initial), synapses=ports)

    def with_parameters(self, values: Mapping[str, Any]) -> NeuronModel:
        """A copy with some parameters (or initial values of states) replaced.

        Parameters
        ----------
        values : mapping
            Name to value (``"10 ms"``, a number, a ``quantities`` or Brian2 quantity).
            A state variable's name sets its initial value.

        Raises
        ------
        InputError
            An unknown name (with the nearest valid one suggested).
        UnitError
            A value with the wrong dimension, naming both units.
        """
        if not values:
            return self
        params = dict(self.parameters)
        initial = dict(self.initial)
        for name, raw in values.items():
            if name in params:
                quantity = as_quantity(raw, f"parameter {name!r} of model {self.name!r}", params[name].dimension)
                if hasattr(quantity, "shape") and quantity.shape != ():
                    raise UnitError(f"parameter {name!r} of model {self.name!r} takes one value, not an array")
                params[name] = Value.of(quantity, raw if isinstance(raw, str) else None)
                self.check_bounds(name, params[name].magnitude)
            elif name in self.state_variables or name in self.per_neuron_parameters:
                quantity = as_quantity(
                    raw, f"initial value of {name!r} in model {self.name!r}", self.dimension_of(name)
                )
                initial[name] = InitialValue(ex.normalise(_literal(quantity)), format_quantity(quantity))
            else:
                valid = self.parameter_names + self.state_variables + self.per_neuron_parameters
                raise InputError(f"model {self.name!r} has no parameter {name!r}{did_you_mean(name, valid)}")
        return self._with_values(params, initial)

    def with_preset(self, preset: str | None) -> NeuronModel:
        """A copy with a preset's parameters and initial values applied (``None``: unchanged)."""
        if preset is None:
            return self
        for p in self.presets:
            if p.name == preset:
                params = dict(self.parameters) | dict(p.parameters)
                initial = dict(self.initial) | dict(p.initial)
                return self._with_values(params, initial)
        if not self.presets:
            raise InputError(f"model {self.name!r} has no presets (asked for {preset!r})")
        raise InputError(
            f"model {self.name!r} has no preset {preset!r}{did_you_mean(preset, self.preset_names)}; "
            f"presets: {', '.join(self.preset_names)}"
        )

    def with_numerics(self, method: str | None = None, dt: Any = None, abs_error: float | None = None) -> NeuronModel:
        """A copy with another numerical method, time step or ``rkf45`` error bound (``abs_error``:
        the absolute error per sub-step of every state variable, in SI units)."""
        numerics = self.numerics
        if abs_error is not None:
            low, high = RKF45_ERROR_RANGE
            if isinstance(abs_error, bool) or not isinstance(abs_error, int | float) or not low <= abs_error <= high:
                raise InputError(f"abs_error must be a number from {low:g} to {high:g}, got {abs_error!r}")
            numerics = replace(numerics, abs_error=float(abs_error))
        if method is not None:
            if method not in METHODS:
                raise InputError(
                    f"unknown numerical method {method!r}{did_you_mean(method, METHODS)}; methods: {', '.join(METHODS)}"
                )
            numerics = replace(numerics, method=method)
        if dt is not None:
            quantity = as_scalar(dt, "dt", SECOND)
            if not MIN_DT <= float(quantity) <= MAX_DT:
                raise UnitError(f"dt must be from 1 ns to 1 s (docs/semantics.md, 'Limits'), got {dt!r}")
            numerics = replace(numerics, dt=Value.of(quantity, dt if isinstance(dt, str) else None))
        if numerics.method != "rkf45":  # the bound belongs to rkf45 (a model file may give it with rkf45 only)
            if abs_error is not None:
                raise InputError(f"abs_error is the error bound of method 'rkf45', not of {numerics.method!r}")
            numerics = replace(numerics, abs_error=RKF45_ABSOLUTE_ERROR)
        return replace(self, numerics=numerics)


def build_model(text: str, source: str = "<string>") -> NeuronModel:
    """Check YAML text and build the model.

    Models are immutable, so the result for the same text and source is cached.

    Raises
    ------
    ModelError
        With every problem found.
    """
    if not isinstance(text, str) or not isinstance(source, str):
        return NeuronModel(**checks.check_model(text, str(source)))
    return _build_cached(text, source)


@functools.lru_cache(maxsize=256)
def _build_cached(text: str, source: str) -> NeuronModel:
    return NeuronModel(**checks.check_model(text, source))


def read_model_file(path: str | Path) -> NeuronModel:
    """Read and check the model file at ``path``.

    Raises
    ------
    ModelError
        The file cannot be read, or the model in it is invalid.
    """
    return build_model(*checks.read_model_text(path))


def check_file(path: str | Path) -> list[Diagnostic]:
    """All problems of a model file (an empty list when it is valid)."""
    try:
        read_model_file(path)
    except ModelError as exc:
        return list(exc.diagnostics)
    return []


def _ordered_initial(model: NeuronModel, initial: dict) -> tuple:
    """Initial values in declaration order of the variables they set (later ones may use earlier ones)."""
    order = [name for name, _ in model.initial] + [e.name for e in model.equations]
    return tuple((name, initial[name]) for name in dict.fromkeys(order) if name in initial)


def _literal(quantity):
    """An expression tree for a constant quantity, e.g. ``-65.0 * mV``."""
    return ex.parse_value(format_quantity(quantity))


def _plain(text: str):
    """Write plain numbers as YAML numbers, everything else as strings."""
    try:
        return float(text) if "." in text or "e" in text.lower() else int(text)
    except ValueError:
        return text


def _uses_noise(expression: str) -> bool:
    return any(map(ex.is_noise, ex.names_in(ex.parse(expression))))


class _Dumper(yaml.SafeDumper):
    """Writes multi-line strings as literal blocks."""


def _represent_str(dumper: yaml.SafeDumper, data: str):
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_Dumper.add_representer(str, _represent_str)
