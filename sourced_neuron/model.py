"""The neuron model object: immutable, hashable, checked, and the same for every backend.

A :class:`NeuronModel` is built only by :mod:`sourced_neuron.checks` (from a YAML file
or string), so every instance has passed the unit, name and safety checks. Everything a
backend needs is on it: equations, threshold, reset, refractoriness, parameters, initial
values, presets, numerics and synaptic receptor ports.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import numpy as np
import yaml
from brian2.units.fundamentalunits import DIMENSIONLESS, Dimension, Quantity, get_dimensions, get_or_create_dimension

from . import expressions as ex
from .errors import InputError, UnitError, did_you_mean
from .units import as_quantity, as_scalar, format_quantity

__all__ = [
    "MAX_DT",
    "METHODS",
    "MIN_DT",
    "Bounds",
    "Equation",
    "InitialValue",
    "NeuronModel",
    "Numerics",
    "Preset",
    "ReceptorPort",
    "Refractory",
    "Value",
]

#: Numerical methods a model may ask for (``numerics.method``).
METHODS = ("exact", "exponential_euler", "euler", "rk2", "rk4", "rkf45")

#: ``rkf45``: GSL's adaptive Runge-Kutta-Fehlberg 4(5) on every backend, with this absolute
#: error bound per step on every state variable, in SI units (Brian2's default), and no
#: relative bound. See docs/semantics.md.
RKF45_ABSOLUTE_ERROR = 1e-6

#: The smallest time step (seconds), in model files and ``dt=`` arguments (docs/semantics.md,
#: "Limits"): no neuron model needs a finer one, and below it a run of 1 s exceeds the step limit.
MIN_DT = 1e-9
#: The largest time step (seconds): no neuron model is integrated in steps of more than a second.
MAX_DT = 1.0

#: The reserved name of the injected current.
INPUT = "I_ext"

#: The reserved name of the total synaptic current of a model's receptor ports.
SYNAPTIC_CURRENT = "I_syn"

SECOND = get_dimensions(ex.UNITS["second"])
AMP = get_dimensions(ex.UNITS["amp"])
VOLT = get_dimensions(ex.UNITS["volt"])
SIEMENS = get_dimensions(ex.UNITS["siemens"])


def _dims(dim: Dimension) -> tuple[float, ...]:
    return tuple(float(d) for d in dim._dims)


@dataclass(frozen=True)
class Value:
    """A constant with units, as written in a model file.

    Equality and hashing use the magnitude in SI units and the dimension; ``text`` keeps
    the spelling of the file for :meth:`NeuronModel.to_yaml`.
    """

    magnitude: float
    dims: tuple[float, ...]
    text: str = field(default="", compare=False)

    @classmethod
    def of(cls, quantity, text: str | None = None) -> Value:
        """Make a value from a Brian2 quantity or float."""
        dim = get_dimensions(quantity)
        return cls(
            float(quantity / Quantity(1.0, dim=dim)) if dim != DIMENSIONLESS else float(quantity),
            _dims(dim),
            text if text is not None else format_quantity(quantity),
        )

    @property
    def dimension(self) -> Dimension:
        """The physical dimension (a Brian2 ``Dimension``)."""
        return get_or_create_dimension(self.dims)

    @property
    def quantity(self):
        """The value as a Brian2 quantity, or a float when dimensionless."""
        dim = self.dimension
        return self.magnitude if dim == DIMENSIONLESS else Quantity(self.magnitude, dim=dim)


@dataclass(frozen=True)
class Bounds:
    """The values a parameter may take, as declared in the model file (``min``/``max``
    inclusive, ``above``/``below`` exclusive), like NESTML's parameter guards.

    Checked when the model is loaded (its value and every preset's) and whenever a value is
    overridden (``params=``, presets, network populations, sweeps).
    """

    min: Value | None = None
    max: Value | None = None
    above: Value | None = None
    below: Value | None = None

    #: The keys of a bounded parameter's mapping in a model file, besides ``value``.
    KEYS = ("min", "max", "above", "below")

    def items(self) -> list[tuple[str, Value]]:
        """The declared bounds as (key, value) pairs, in :attr:`KEYS` order."""
        return [(key, getattr(self, key)) for key in self.KEYS if getattr(self, key) is not None]

    def violation(self, magnitudes) -> str | None:
        """``None`` when every value (SI magnitudes, a number or an array) is within the bounds,
        else the rule the first offending value breaks, e.g. ``"must be above 0.0 ms"``."""
        values = np.asarray(magnitudes, dtype=float)
        rules = {
            "min": (lambda v, b: v >= b, "at least"),
            "max": (lambda v, b: v <= b, "at most"),
            "above": (lambda v, b: v > b, "above"),
            "below": (lambda v, b: v < b, "below"),
        }
        for key, bound in self.items():
            test, words = rules[key]
            if not np.all(test(values, bound.magnitude)):
                return f"must be {words} {bound.text or format_quantity(bound.quantity)}"
        return None


@dataclass(frozen=True)
class Equation:
    """One line of the ``equations`` block.

    ``kind`` is ``"differential"`` (``dx/dt = expr : unit``), ``"subexpression"``
    (``x = expr : unit``) or ``"parameter"`` (``x : unit``, a per-neuron variable).
    """

    kind: Literal["differential", "subexpression", "parameter"]
    name: str
    expression: str | None
    dims: tuple[float, ...]
    flags: tuple[str, ...] = ()
    unit: str = field(default="1", compare=False)
    line: int | None = field(default=None, compare=False)
    #: The receptor port this equation was derived from (``None``: written in the file).
    port: str | None = None

    @property
    def dimension(self) -> Dimension:
        """The dimension of the variable."""
        return get_or_create_dimension(self.dims)

    def text(self) -> str:
        """The equation in model-file (Brian2) syntax."""
        flags = f" ({', '.join(self.flags)})" if self.flags else ""
        if self.kind == "differential":
            return f"d{self.name}/dt = {self.expression} : {self.unit}{flags}"
        if self.kind == "subexpression":
            return f"{self.name} = {self.expression} : {self.unit}{flags}"
        return f"{self.name} : {self.unit}{flags}"


@dataclass(frozen=True)
class Refractory:
    """Refractoriness: a ``duration`` (constant), an ``expression`` of time, or a ``condition``.

    A condition keeps the neuron refractory for as long as it is true after a spike.
    """

    kind: Literal["duration", "expression", "condition"]
    expression: str
    text: str = field(default="", compare=False)


@dataclass(frozen=True)
class InitialValue:
    """The initial value of a state variable: an expression over parameters and earlier states."""

    expression: str
    text: str = field(default="", compare=False)


@dataclass(frozen=True)
class Preset:
    """A named partial mapping of parameter values and initial values."""

    name: str
    parameters: tuple[tuple[str, Value], ...] = ()
    initial: tuple[tuple[str, InitialValue], ...] = ()


@dataclass(frozen=True)
class Numerics:
    """The numerical method and time step every backend must honour."""

    method: str
    dt: Value


@dataclass(frozen=True)
class ReceptorPort:
    """A named synaptic input port (used by networks).

    ``type`` is ``"current"`` or ``"conductance"``; ``kernel`` is ``"delta"``, ``"exp"``
    or ``"alpha"``; ``tau`` is absent for delta kernels; ``E_rev`` is present for
    conductance ports only.

    A port becomes ordinary equations (see :func:`receptor_equations`): for port ``exc``,
    a state ``g_exc`` (conductance, siemens) or ``I_exc`` (current, amp) decaying with the
    parameter ``tau_exc``, an alpha kernel's rise variable ``x_exc``, and the reversal
    potential ``E_exc``. ``I_syn`` sums the ports' currents. An incoming spike of weight ``w``
    runs :meth:`on_spike`; a delta port adds ``w`` (volt) to the membrane potential.
    """

    name: str
    type: Literal["current", "conductance"]
    kernel: Literal["delta", "exp", "alpha"]
    tau: Value | None = None
    E_rev: Value | None = None

    @property
    def variable(self) -> str | None:
        """The decaying state variable (``g_<port>`` or ``I_<port>``); ``None`` for delta."""
        if self.kernel == "delta":
            return None
        return f"{'g' if self.type == 'conductance' else 'I'}_{self.name}"

    @property
    def rise_variable(self) -> str | None:
        """The alpha kernel's second state variable (``x_<port>``), else ``None``."""
        return f"x_{self.name}" if self.kernel == "alpha" else None

    @property
    def tau_name(self) -> str | None:
        return None if self.kernel == "delta" else f"tau_{self.name}"

    @property
    def reversal_name(self) -> str | None:
        return f"E_{self.name}" if self.type == "conductance" else None

    @property
    def weight_dimension(self) -> Dimension:
        """Siemens (conductance), amp (current), volt (delta: a jump of the membrane potential)."""
        if self.kernel == "delta":
            return VOLT
        return SIEMENS if self.type == "conductance" else AMP

    def on_spike(self, weight: str, membrane_potential: str) -> tuple[str, str, str]:
        """The statement an incoming spike of weight ``weight`` runs: (target, operator, expression).

        An alpha kernel's rise variable gets ``e*w``, so that the current or conductance
        peaks at ``w`` one time constant after the spike.
        """
        if self.kernel == "delta":
            return membrane_potential, "+=", weight
        if self.kernel == "alpha":
            return self.rise_variable, "+=", f"{ALPHA_PEAK!r}*{weight}"
        return self.variable, "+=", weight


#: Euler's number: scales an alpha kernel's rise so that its peak equals the weight.
ALPHA_PEAK = 2.718281828459045


def receptor_equations(ports: tuple[ReceptorPort, ...], membrane_potential: str | None) -> list[Equation]:
    """The equations a model's receptor ports add (each marked with its port), ``I_syn`` last."""
    result: list[Equation] = []
    currents = []
    for port in ports:
        if port.kernel == "delta":
            continue
        var, tau, dims = port.variable, port.tau_name, _dims(port.weight_dimension)
        unit = "siemens" if port.type == "conductance" else "amp"
        if port.kernel == "alpha":
            rise = port.rise_variable
            result.append(Equation("differential", var, f"({rise} - {var}) / {tau}", dims, (), unit, None, port.name))
            result.append(Equation("differential", rise, f"-{rise} / {tau}", dims, (), unit, None, port.name))
        else:
            result.append(Equation("differential", var, f"-{var} / {tau}", dims, (), unit, None, port.name))
        if port.type == "conductance":
            currents.append(f"{var} * ({port.reversal_name} - {membrane_potential})")
        else:
            currents.append(var)
    if currents:
        result.append(
            Equation("subexpression", SYNAPTIC_CURRENT, " + ".join(currents), _dims(AMP), (), "amp", None, "")
        )
    return result


def receptor_parameters(ports: tuple[ReceptorPort, ...]) -> dict[str, Value]:
    """The parameters a model's receptor ports add: ``tau_<port>`` and ``E_<port>``."""
    result = {}
    for port in ports:
        if port.tau_name and port.tau is not None:
            result[port.tau_name] = port.tau
        if port.reversal_name and port.E_rev is not None:
            result[port.reversal_name] = port.E_rev
    return result


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
        from .checks import build_model

        return build_model(text, source)

    @classmethod
    def from_file(cls, path: str | Path) -> NeuronModel:
        """Read and check a model file."""
        from .checks import read_model_file

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
            "numerics": [self.numerics.method, value(self.numerics.dt)],
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
    def uses_input(self) -> bool:
        """Whether the model reads the injected current ``I_ext``."""
        from .checks import model_names_used

        return INPUT in model_names_used(self)

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

    def with_numerics(self, method: str | None = None, dt: Any = None) -> NeuronModel:
        """A copy with another numerical method or time step."""
        numerics = self.numerics
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
        return replace(self, numerics=numerics)


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
