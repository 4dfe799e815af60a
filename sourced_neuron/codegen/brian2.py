"""Lowering a model to Brian2: equation strings, conditions, namespace, and a plain-Brian2 script.

The runtime backend and the exported script use the same :func:`lower`, so the script is
exactly what ``sn.simulate(..., backend="brian2")`` runs.
"""

from __future__ import annotations

from sourced_neuron.common import brian2_import  # noqa: F401 - before Brian2: keeps the user's excepthook

# isort: split

import ast
import functools
import sys
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import jinja2
from brian2.units.fundamentalunits import DIMENSIONLESS, get_unit

from sourced_neuron.spec import expressions as ex
from sourced_neuron.spec.model import NeuronModel
from sourced_neuron.spec.parts import INPUT
from sourced_neuron.spec.units import format_quantity

__all__ = [
    "AMPLITUDE_NAME",
    "METHOD_NAMES",
    "NONFINITE_EVENT",
    "NONFINITE_TIME",
    "STIMULUS_NAME",
    "Brian2Spec",
    "NonFiniteCheck",
    "brian2_unit",
    "export_script",
    "lower",
    "nonfinite_check",
    "nonfinite_flag",
]

#: Brian2's name for each numerical method of the model format.
METHOD_NAMES = {
    "exact": "exact",
    "exponential_euler": "exponential_euler",
    "euler": "euler",
    "rk2": "rk2",
    "rk4": "rk4",
    "rkf45": "gsl_rkf45",
}

#: Namespace name of the TimedArray that drives ``I_ext`` when it varies in time.
STIMULUS_NAME = "sn_stimulus"
#: The per-neuron amplitude of a step current whose amplitude differs between neurons (input
#: kind ``"timed_scaled"``: ``I_ext = sn_stimulus(t)*sn_amplitude``, the step's on/off pattern
#: times the neuron's amplitude), so that a compiled project does not depend on the amplitudes.
AMPLITUDE_NAME = "sn_amplitude"

#: The weight variable of the `Synapses` objects that drive receptor ports.
WEIGHT = "w"


@dataclass(frozen=True)
class Brian2Spec:
    """Everything needed to build the model's ``NeuronGroup``.

    ``input`` says how ``I_ext`` is defined: ``"none"`` (the model does not read it),
    ``"constant"`` (a per-neuron variable ``I_ext : amp``), ``"timed"`` (``I_ext`` follows
    a TimedArray ``sn_stimulus(t)``) or ``"timed_per_neuron"`` (``sn_stimulus(t, i)``).
    ``on_pre`` maps each receptor port to the ``on_pre`` statement of a ``Synapses`` object
    whose weight variable is ``w`` (e.g. ``"g_exc_post += w"``); run it in the
    ``after_resets`` slot (docs/semantics.md). ``weights`` maps each port to the declaration
    of that weight (e.g. ``"w : siemens"``).
    """

    equations: str
    threshold: str | None
    reset: str | None
    refractory: Any
    method: str
    namespace: dict[str, Any]
    initial: dict[str, Any]
    dt: Any
    input: str
    on_pre: dict[str, str] = field(default_factory=dict)
    weights: dict[str, str] = field(default_factory=dict)


#: Brian2's base units, in the order of a dimension's exponents (``Dimension._dims``).
BASE_UNITS = ("metre", "kilogram", "second", "amp", "kelvin", "mole", "candle")


def brian2_unit(dim) -> str:
    """The Brian2 unit string of a dimension, as a variable declaration takes it.

    Brian2's name for the dimension where a declaration accepts it (``"volt"``,
    ``"siemens"``), else the product of base units with their exponents
    (``"metre ** 2"`` for an area, ``"metre ** -2 * amp"`` for a current density): a
    declaration takes only base units and named SI units, and neither ``metre2`` nor
    parentheses (``volt / (second ** 0.5)``).

    Parameters
    ----------
    dim : brian2.units.fundamentalunits.Dimension

    Returns
    -------
    str
        ``"1"`` for a dimensionless value.
    """
    if dim == DIMENSIONLESS:
        return "1"
    name = repr(get_unit(dim))
    return name if _declarable(name, dim) else _base_unit_product(dim)


def _base_unit_product(dim) -> str:
    factors = []
    for base, exponent in zip(BASE_UNITS, dim._dims, strict=True):
        if exponent:
            power = int(exponent) if float(exponent).is_integer() else float(exponent)
            factors.append(base if power == 1 else f"{base} ** {power}")
    return " * ".join(factors)


@functools.cache
def _declarable(name: str, dim) -> bool:
    """Whether Brian2 reads ``name`` as the unit of a declaration, with dimension ``dim``."""
    from brian2 import Equations
    from brian2.equations.equations import EquationError

    try:
        declared = Equations(f"x : {name}")["x"].dim
    except EquationError:  # Brian2's refusal of a unit specification (its grammar or its unit names)
        return False
    return declared == dim


class _Printer(ast.NodeTransformer):
    """Rewrites the functions Brian2 lacks: ``minimum(a, b)`` as ``clip(a, -inf*U, b)``, etc."""

    def __init__(self, model: NeuronModel):
        self.model = model

    def visit_Call(self, node: ast.Call) -> ast.AST:
        self.generic_visit(node)
        if node.func.id not in ("minimum", "maximum"):
            return node
        dim = ex.infer_dimension(node.args[0], self.model.lookup_dimension)
        infinity: ast.expr = ast.Name("inf")
        if dim != DIMENSIONLESS:
            infinity = ast.BinOp(infinity, ast.Mult(), ex.parse(brian2_unit(dim)))
        low, high = (ast.UnaryOp(ast.USub(), infinity), node.args[1])
        if node.func.id == "maximum":
            low, high = node.args[1], infinity
        return ast.Call(ast.Name("clip"), [node.args[0], low, high], [])


def expression(model: NeuronModel, text: str) -> str:
    """A model expression printed for Brian2."""
    return ast.unparse(_Printer(model).visit(ex.parse(text)))


def lower(
    model: NeuronModel, input_kind: str = "constant", per_neuron: tuple[str, ...] = (), shared: tuple[str, ...] = ()
) -> Brian2Spec:
    """Translate a checked model into the arguments of a Brian2 ``NeuronGroup``.

    Parameters
    ----------
    model : NeuronModel
        With presets and parameter overrides already applied.
    input_kind : {"constant", "timed", "timed_per_neuron", "timed_scaled"}
        How the stimulus drives ``I_ext`` (ignored when the model does not read it): a
        per-neuron variable, a ``TimedArray`` of time, of time and neuron, or of time (the
        on/off pattern of a step) times the per-neuron amplitude :data:`AMPLITUDE_NAME`.
    per_neuron : tuple of str
        Parameters that vary across neurons: declared ``name : unit (constant)`` instead of
        being constants of the namespace.
    shared : tuple of str
        Parameters declared ``name : unit (constant, shared)``: one value for the group, set
        at run time (standalone ``run_args``) rather than compiled in.
    """
    lines = []
    for eq in model.equations:
        if eq.name == INPUT:
            continue  # declared below, according to the stimulus
        flags = f" ({', '.join(eq.flags)})" if eq.flags else ""
        unit = brian2_unit(eq.dimension)
        if eq.kind == "differential":
            lines.append(f"d{eq.name}/dt = {expression(model, eq.expression)} : {unit}{flags}")
        elif eq.kind == "subexpression":
            lines.append(f"{eq.name} = {expression(model, eq.expression)} : {unit}{flags}")
        else:
            lines.append(f"{eq.name} : {unit}{flags}")
    kind = "none"
    if model.uses_input:
        kind = input_kind
        if input_kind == "constant":
            lines.append(f"{INPUT} : amp")
        # "constant over dt": read once at the start of each step, also by multi-stage methods
        elif input_kind == "timed":
            lines.append(f"{INPUT} = {STIMULUS_NAME}(t) : amp (constant over dt)")
        elif input_kind == "timed_per_neuron":
            lines.append(f"{INPUT} = {STIMULUS_NAME}(t, i) : amp (constant over dt)")
        elif input_kind == "timed_scaled":
            lines.append(f"{INPUT} = {STIMULUS_NAME}(t)*{AMPLITUDE_NAME} : amp (constant over dt)")
            lines.append(f"{AMPLITUDE_NAME} : amp (constant)")
        else:
            raise ValueError(f"unknown input kind {input_kind!r}")
    for name in per_neuron:
        lines.append(f"{name} : {brian2_unit(model.dimension_of(name))} (constant)")
    for name in shared:
        lines.append(f"{name} : {brian2_unit(model.dimension_of(name))} (constant, shared)")
    refractory: Any = False
    if model.refractory is not None:
        if model.refractory.kind == "duration":
            refractory = ex.evaluate(ex.parse(model.refractory.expression), ex.UNITS.__getitem__)
        else:
            refractory = expression(model, model.refractory.expression)
    reset = "\n".join(
        f"{target} {op} {expression(model, rhs)}" for target, op, rhs in (stmt.split(" ", 2) for stmt in model.reset)
    )
    namespace = {k: v for k, v in model.parameter_values().items() if k not in per_neuron and k not in shared}
    used = model.names_used
    namespace.update({name: ex.EXTRA_UNITS[name] for name in used if name in ex.EXTRA_UNITS})
    return Brian2Spec(
        equations="\n".join(lines),
        threshold=expression(model, model.threshold) if model.threshold else None,
        reset=reset or None,
        refractory=refractory,
        method=METHOD_NAMES[model.numerics.method],
        namespace=namespace,
        initial=model.initial_values(),
        dt=model.numerics.dt.quantity,
        input=kind,
        on_pre={port.name: _on_pre(model, port) for port in model.synapses},
        weights={port.name: f"{WEIGHT} : {brian2_unit(port.weight_dimension)}" for port in model.synapses},
    )


#: The watch for non-finite states (docs/semantics.md, "Non-finite states"): the name of the
#: event, and of the per-neuron variable holding the start of the first step after which a
#: watched variable was not finite (seconds; ``-1`` until then). Both simulators use them.
NONFINITE_EVENT = "sn_nonfinite"
NONFINITE_TIME = "sn_nonfinite_t"

#: The largest finite double: ``not (abs(x) <= LARGEST)`` is true for ``inf``, ``-inf`` and ``nan``
#: (every comparison with ``nan`` is false), in Python, NumPy and C++ without ``-ffinite-math-only``.
LARGEST = repr(sys.float_info.max)


def nonfinite_flag(variable: str) -> str:
    """The per-neuron flag saying that ``variable`` was not finite at the first such step."""
    return f"{NONFINITE_EVENT}_{variable}"


@dataclass(frozen=True)
class NonFiniteCheck:
    """The Brian2 pieces of the watch for non-finite states of a model.

    ``declarations`` (equation lines) declare :data:`NONFINITE_TIME` and a boolean flag per
    watched variable; ``condition`` is the condition of the custom event
    :data:`NONFINITE_EVENT`, true once per neuron (while the time is still ``-1``) when any
    watched variable is not finite; ``statements`` run on that event: they store ``t`` and
    the flags. Run them after the integration and before the resets of a step (the
    ``after_thresholds`` slot).
    """

    variables: tuple[str, ...]
    declarations: str
    condition: str
    statements: str


def nonfinite_check(model: NeuronModel, largest: str = LARGEST) -> NonFiniteCheck:
    """The watch for non-finite values of every state variable of ``model`` (in model order).

    The tests are written ``not (abs(x) <= largest*unit)`` in Brian2's own language, so every
    device (runtime NumPy and Cython, C++ and CUDA standalone) generates them from the same text.
    ``largest`` is the largest finite number of the simulation's floating-point type (a double's
    by default; single precision has its own, since a double's would round to infinity).
    """
    variables = model.state_variables
    tests = {}
    for name in variables:
        unit = brian2_unit(model.dimension_of(name))
        bound = largest if unit == "1" else f"{largest}*({unit})"
        tests[name] = f"not (abs({name}) <= {bound})"
    declarations = [f"{NONFINITE_TIME} : second", *(f"{nonfinite_flag(name)} : boolean" for name in variables)]
    condition = f"{NONFINITE_TIME} < 0*second and ({' or '.join(tests.values())})"
    statements = [f"{NONFINITE_TIME} = t", *(f"{nonfinite_flag(name)} = {test}" for name, test in tests.items())]
    return NonFiniteCheck(variables, "\n".join(declarations), condition, "\n".join(statements))


def _on_pre(model: NeuronModel, port) -> str:
    target, op, rhs = port.on_spike(WEIGHT, model.membrane_potential)
    return f"{target}_post {op} {rhs}"


def _code(value) -> str:
    """A quantity as Python source for Brian2, e.g. ``-65.0*mV``."""
    text = format_quantity(value)
    number, _, unit = text.partition(" ")
    return f"{number}*{unit}" if unit else number


_TEMPLATES = jinja2.Environment(
    loader=jinja2.FunctionLoader(
        lambda name: resources.files("sourced_neuron.codegen.templates").joinpath(name).read_text(encoding="utf-8")
    ),
    undefined=jinja2.StrictUndefined,
    keep_trailing_newline=True,
    autoescape=False,  # noqa: S701 - the output is Python source, every value is printed by repr()
)


def export_script(model: NeuronModel) -> str:
    """A self-contained Python script that runs the model in plain Brian2.

    The script takes the injected current as a constant ``I_stim`` (edit it at the top),
    runs for one second and prints the spike count and the first spike times.
    """
    spec = lower(model, "constant")
    if isinstance(spec.refractory, str):
        refractory = repr(spec.refractory)
    else:
        refractory = _code(spec.refractory) if spec.refractory is not False else "False"
    return _TEMPLATES.get_template("brian2_script.py.j2").render(
        model=model,
        equations=spec.equations,
        threshold=repr(spec.threshold),
        reset=repr(spec.reset),
        refractory=refractory,
        method=spec.method,
        namespace=[(name, _code(value)) for name, value in spec.namespace.items()],
        initial=[(name, _code(value)) for name, value in spec.initial.items()],
        dt=_code(spec.dt),
        uses_input=spec.input != "none",
    )
