"""The parts a neuron model is made of: values with units, equations, receptor ports, presets.

Plain immutable data shared by the checks (:mod:`sourced_neuron.spec.checks`, which make them
from a model file) and the model object (:mod:`sourced_neuron.spec.model`, which holds them),
and the reserved names and limits of the model format.
"""

from __future__ import annotations

from sourced_neuron.common import brian2_import  # noqa: F401 - before Brian2: keeps the user's excepthook

# isort: split

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from brian2.units.fundamentalunits import DIMENSIONLESS, Dimension, Quantity, get_dimensions, get_or_create_dimension

from sourced_neuron.spec import expressions as ex
from sourced_neuron.spec.units import format_quantity

__all__ = [
    "AMP",
    "INPUT",
    "MAX_DT",
    "METHODS",
    "MIN_DT",
    "RKF45_ABSOLUTE_ERROR",
    "RKF45_ERROR_RANGE",
    "SECOND",
    "SIEMENS",
    "SYNAPTIC_CURRENT",
    "VOLT",
    "Bounds",
    "Equation",
    "InitialValue",
    "Numerics",
    "Preset",
    "ReceptorPort",
    "Refractory",
    "Value",
    "dimension_exponents",
    "receptor_equations",
    "receptor_parameters",
]

#: Numerical methods a model may ask for (``numerics.method``).
METHODS = ("exact", "exponential_euler", "euler", "rk2", "rk4", "rkf45")

#: ``rkf45``: GSL's adaptive Runge-Kutta-Fehlberg 4(5) on every backend, with this absolute
#: error bound per step on every state variable, in SI units (Brian2's default), and no
#: relative bound. See docs/semantics.md.
RKF45_ABSOLUTE_ERROR = 1e-6
#: The range of ``numerics.abs_error`` a model file may give.
RKF45_ERROR_RANGE = (1e-15, 1e-1)

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


def dimension_exponents(dim: Dimension) -> tuple[float, ...]:
    """The exponents of a dimension in Brian2's base order (m, kg, s, A, K, mol, cd)."""
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
            dimension_exponents(dim),
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
    """The numerical method and time step every backend must honour; for ``rkf45``, the
    absolute error bound per sub-step on every state variable (SI magnitudes)."""

    method: str
    dt: Value
    abs_error: float = RKF45_ABSOLUTE_ERROR


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
        var, tau, dims = port.variable, port.tau_name, dimension_exponents(port.weight_dimension)
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
            Equation(
                "subexpression", SYNAPTIC_CURRENT, " + ".join(currents), dimension_exponents(AMP), (), "amp", None, ""
            )
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
