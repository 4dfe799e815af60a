"""Generating NeuroML2/LEMS from a model: a LEMS ComponentType and a runnable LEMS simulation.

The model becomes a LEMS ``ComponentType`` built with pylems' ``lems.api`` (never text
templates): parameters with their dimensions, one ``StateVariable`` and ``TimeDerivative`` per
differential equation, one ``DerivedVariable`` per subexpression, the injected current
``I_ext`` as the sum of the currents attached to the cell (NeuroML's ``synapses`` attachments:
``pulseGenerator`` inputs, synapses), initial values in ``OnStart``, and the threshold and
reset in an ``OnCondition`` that emits the NeuroML ``spike`` event. It follows the
conventions jNeuroML's NEURON writer needs: it extends NeuroML's ``baseCellMembPot`` (the
membrane potential is exposed as ``v``), a condition is one comparison, unit literals of the
equations are ``Constant`` elements, refractoriness is a flag (``not_refractory``, with the
spike timer ``lastSpikeTime``) rather than regimes, which EDEN refuses.

Values are written in SI units (``V``, ``s``, ``A``, ``S``, ``F``, ``ohm``; NeuroML's
dimension names where NeuroML has one, a dimension of the file's own otherwise), so every
value keeps the exact magnitude the other targets use. The simulation file is pyNeuroML's
``LEMSSimulation`` (named ``LEMS_<model>.xml``), driving one cell with ``pulseGenerator``
current steps and recording ``v`` and the spikes (an event file, and a spike counter for
engines without event files, such as pyLEMS).

What LEMS cannot express is refused before anything is written, naming the feature.
"""

from __future__ import annotations

import ast
import copy
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sourced_neuron.common.errors import UnsupportedFeatureError
from sourced_neuron.common.neuroml import lems_api
from sourced_neuron.spec import expressions as ex
from sourced_neuron.spec.model import NeuronModel
from sourced_neuron.spec.parts import INPUT, SECOND

__all__ = [
    "LEMS_FUNCTIONS",
    "NeuroMLExport",
    "component_type_model",
    "export_neuroml",
    "write_neuroml",
    "write_simulation",
]

#: Model-format function -> LEMS function: those every LEMS engine (jLEMS, pyLEMS) knows. Other
#: functions are refused, except the piecewise ones below.
LEMS_FUNCTIONS: dict[str, str] = {
    "exp": "exp",
    "log": "log",
    "sqrt": "sqrt",
    "sin": "sin",
    "cos": "cos",
    "tan": "tan",
    "sinh": "sinh",
    "cosh": "cosh",
    "tanh": "tanh",
    "abs": "abs",
    "ceil": "ceil",
}

#: Functions written as ``ConditionalDerivedVariable`` elements of their own.
CONDITIONAL_FUNCTIONS = frozenset({"exprel", "sign", "minimum", "maximum", "clip"})

#: NeuroML's dimensions (NeuroMLCoreDimensions.xml) by SI exponents (kg, m, s, A, K, mol, cd),
#: each with the SI unit NeuroML defines for it.
NEUROML_DIMENSIONS: dict[tuple[int, ...], tuple[str, str]] = {
    (0, 0, 0, 0, 0, 0, 0): ("none", ""),
    (0, 0, 1, 0, 0, 0, 0): ("time", "s"),
    (0, 0, -1, 0, 0, 0, 0): ("per_time", "per_s"),
    (1, 2, -3, -1, 0, 0, 0): ("voltage", "V"),
    (-1, -2, 3, 1, 0, 0, 0): ("per_voltage", "per_V"),
    (-1, -2, 3, 2, 0, 0, 0): ("conductance", "S"),
    (-1, -2, 4, 2, 0, 0, 0): ("capacitance", "F"),
    (1, 2, -3, -2, 0, 0, 0): ("resistance", "ohm"),
    (0, 0, 1, 1, 0, 0, 0): ("charge", "C"),
    (0, 0, 0, 1, 0, 0, 0): ("current", "A"),
    (0, 1, 0, 0, 0, 0, 0): ("length", "m"),
    (0, 2, 0, 0, 0, 0, 0): ("area", "m2"),
    (0, 3, 0, 0, 0, 0, 0): ("volume", "m3"),
    (0, 0, 0, 0, 1, 0, 0): ("temperature", "K"),
}

#: The NeuroML core type files the generated files include (shipped with every NeuroML engine).
CORE_INCLUDES = ("NeuroMLCoreDimensions.xml", "Cells.xml", "Inputs.xml", "Networks.xml", "Simulation.xml")

#: Names of the generated type's own variables.
NOT_REFRACTORY, LAST_SPIKE, SPIKE_COUNT, SYNAPTIC_INPUT = "not_refractory", "lastSpikeTime", "spike_count", "iSyn"
#: A parameter of half the model's step: LEMS engines add up their time in floating point, so a
#: refractory time of 20 steps may end 1e-16 s short of 20 steps; the comparison allows for it.
TIME_SLACK = "sn_time_slack"

_CMP = {ast.Lt: ".lt.", ast.LtE: ".leq.", ast.Gt: ".gt.", ast.GtE: ".geq.", ast.Eq: ".eq.", ast.NotEq: ".neq."}
_NEGATED = {ast.Lt: ".geq.", ast.LtE: ".gt.", ast.Gt: ".leq.", ast.GtE: ".lt.", ast.Eq: ".neq.", ast.NotEq: ".eq."}


def _comparison(left: str, op: str, right: str) -> str:
    """``left op right``; ``a .leq. b`` is written ``b .geq. a``: pyLEMS does not know ``.leq.``
    (it reads the comparison as its right-hand side alone)."""
    return f"{right} .geq. {left}" if op == ".leq." else f"{left} {op} {right}"


def _si_exponents(dimension) -> tuple[int, ...]:
    """LEMS order (kg, m, s, A, K, mol, cd) of a Brian2 dimension (m, kg, s, A, K, mol, cd)."""
    m, kg, s, a, k, mol, cd = (
        round(float(dimension.get_dimension(n))) for n in ("m", "kg", "s", "A", "K", "mol", "cd")
    )
    return (kg, m, s, a, k, mol, cd)


def _dimension_name(exponents: tuple[int, ...]) -> str:
    if exponents in NEUROML_DIMENSIONS:
        return NEUROML_DIMENSIONS[exponents][0]
    letters = "MLTIKNJ"
    return "sn_" + "_".join(
        f"{letter}{'m' if e < 0 else ''}{abs(e)}" for letter, e in zip(letters, exponents, strict=True) if e
    )


def _unit_symbol(exponents: tuple[int, ...]) -> str:
    if exponents in NEUROML_DIMENSIONS:
        return NEUROML_DIMENSIONS[exponents][1]
    return "SI_" + _dimension_name(exponents)


def _quantity(value, dimension) -> str:
    """A LEMS value: the SI magnitude and the SI unit of the dimension (``-0.065 V``). The space
    matters: jLEMS reads ``1.41e-10F`` as a dimensionless number (Java's ``1.41e-10F`` literal)."""
    unit = _unit_symbol(_si_exponents(dimension))
    return f"{float(np.asarray(value))!r} {unit}".strip()


@dataclass
class _Printer:
    """Prints model-format expressions (free of piecewise functions: :func:`_pieces`) in LEMS
    syntax; collects the ``Constant`` elements of the unit literals they use."""

    model: NeuronModel
    constants: dict[str, tuple[str, str]]  # name -> (value, dimension name)

    def name(self, name: str) -> str:
        if name == INPUT:
            return INPUT
        if name in ex.UNITS and name not in self.model.names():
            quantity = ex.UNITS[name]
            dimension = ex.get_dimensions(quantity)
            constant = f"UNIT_{name}"
            self.constants[constant] = (_quantity(quantity, dimension), _dimension_name(_si_exponents(dimension)))
            return constant
        if name in ("dt",) or ex.is_noise(name):
            raise UnsupportedFeatureError(f"model {self.model.name!r}: LEMS has no {name!r} (white noise, dt)")
        return name

    def __call__(self, text: str) -> str:
        return self.visit(ex.parse(text))

    def visit(self, node: ast.AST) -> str:
        if isinstance(node, ast.Name):
            return self.name(node.id)
        if isinstance(node, ast.Constant):
            if isinstance(node.value, bool):
                return "1" if node.value else "0"
            return repr(node.value) if isinstance(node.value, int) else repr(float(node.value))
        if isinstance(node, ast.BinOp):
            op = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "^"}[type(node.op)]
            return f"({self.visit(node.left)} {op} {self.visit(node.right)})"
        if isinstance(node, ast.UnaryOp):
            if isinstance(node.op, ast.USub):
                return f"(-1 * {self.visit(node.operand)})"
            if isinstance(node.op, ast.UAdd):
                return self.visit(node.operand)
            if isinstance(node.operand, ast.Compare):  # not (a < b): a >= b
                return self.compare(node.operand, negate=True)
            raise UnsupportedFeatureError(
                f"model {self.model.name!r}: LEMS has no 'not' of {ast.unparse(node.operand)!r}"
            )
        if isinstance(node, ast.BoolOp):
            op = " .and. " if isinstance(node.op, ast.And) else " .or. "
            return "(" + op.join(self.visit(v) for v in node.values) + ")"
        if isinstance(node, ast.Compare):
            return self.compare(node)
        if isinstance(node, ast.Call):
            return self.call(node)
        raise UnsupportedFeatureError(f"model {self.model.name!r}: cannot write {ast.unparse(node)!r} in LEMS")

    def compare(self, node: ast.Compare, negate: bool = False) -> str:
        if len(node.ops) != 1:
            raise UnsupportedFeatureError(
                f"model {self.model.name!r}: LEMS has no chained comparison ({ast.unparse(node)!r})"
            )
        op = (_NEGATED if negate else _CMP)[type(node.ops[0])]
        return _comparison(self.visit(node.left), op, self.visit(node.comparators[0]))

    def call(self, node: ast.Call) -> str:
        name = node.func.id
        args = [self.visit(a) for a in node.args]
        if name in LEMS_FUNCTIONS:
            return f"{LEMS_FUNCTIONS[name]}({args[0]})"
        raise UnsupportedFeatureError(
            f"model {self.model.name!r} uses {name}(), which the LEMS engines do not provide; "
            "it cannot be exported to NeuroML"
        )

    def dimension(self, node: ast.expr):
        return ex.infer_dimension(node, self.model.lookup_dimension)


def _branches(call: ast.Call) -> list[tuple[list[ast.expr], ast.expr]]:
    """The pieces of a conditional function: (conditions, value) pairs, one comparison each."""
    name, args = call.func.id, call.args

    def cmp(left, op, right) -> ast.Compare:
        return ast.Compare(copy.deepcopy(left), [op()], [copy.deepcopy(right)])

    zero = ast.Constant(0.0)
    if name == "exprel":
        (x,) = args
        value = ast.BinOp(
            ast.BinOp(ast.Call(ast.Name("exp"), [copy.deepcopy(x)], []), ast.Sub(), ast.Constant(1.0)), ast.Div(), x
        )
        return [([cmp(x, ast.Eq, zero)], ast.Constant(1.0)), ([cmp(x, ast.NotEq, zero)], value)]
    if name == "sign":
        (x,) = args
        return [
            ([cmp(x, ast.Gt, zero)], ast.Constant(1.0)),
            ([cmp(x, ast.Lt, zero)], ast.Constant(-1.0)),
            ([cmp(x, ast.Eq, zero)], ast.Constant(0.0)),
        ]
    if name in ("minimum", "maximum"):
        a, b = args
        first, second = (ast.Lt, ast.GtE) if name == "minimum" else (ast.Gt, ast.LtE)
        return [([cmp(a, first, b)], a), ([cmp(a, second, b)], b)]
    x, low, high = args  # clip(x, low, high) = minimum(maximum(x, low), high)
    return _branches(ast.Call(ast.Name("minimum"), [ast.Call(ast.Name("maximum"), [x, low], []), high], []))


def _pieces(node: ast.expr) -> list[tuple[list[ast.expr], ast.expr]]:
    """``node`` as pieces free of conditional functions: (conditions, expression) pairs whose
    conditions cover every case once (LEMS writes a piecewise value as the ``Case`` elements
    of a ``ConditionalDerivedVariable``)."""
    if isinstance(node, ast.Call) and node.func.id in CONDITIONAL_FUNCTIONS:
        result = []
        for conditions, value in _branches(node):
            for inner_conditions, inner in _pieces(value):
                for cond_pieces in _combine([_pieces(c) for c in conditions]):
                    conds = [c for cs, _ in cond_pieces for c in cs] + [e for _, e in cond_pieces]
                    result.append((conds + inner_conditions, inner))
        return result
    children = [(field, value) for field, value in ast.iter_fields(node) if isinstance(value, ast.expr | list)]
    slots: list[tuple[str, int | None, ast.expr]] = []
    for field, value in children:
        if isinstance(value, list):
            slots += [(field, i, v) for i, v in enumerate(value) if isinstance(v, ast.expr)]
        else:
            slots.append((field, None, value))
    if not slots:
        return [([], node)]
    result = []
    for combination in _combine([_pieces(expr) for _, _, expr in slots]):
        rebuilt = copy.copy(node)
        for field in {f for f, _, _ in slots}:
            if isinstance(getattr(node, field), list):
                setattr(rebuilt, field, list(getattr(node, field)))
        conditions = []
        for (field, index, _), (conds, expr) in zip(slots, combination, strict=True):
            conditions += conds
            if index is None:
                setattr(rebuilt, field, expr)
            else:
                getattr(rebuilt, field)[index] = expr
        result.append((conditions, rebuilt))
    return result


def _combine(options: list[list]) -> list[list]:
    """Every choice of one element from each list (the cartesian product, as lists)."""
    result: list[list] = [[]]
    for choices in options:
        result = [[*done, choice] for done in result for choice in choices]
    return result


def _uses_conditional(node: ast.AST) -> bool:
    return any(isinstance(n, ast.Call) and n.func.id in CONDITIONAL_FUNCTIONS for n in ast.walk(node))


def _check(model: NeuronModel) -> None:
    if model.is_stochastic:
        raise UnsupportedFeatureError(
            f"model {model.name!r} has white noise (xi), which LEMS cannot express; it cannot be exported to NeuroML"
        )
    if model.threshold is None:
        raise UnsupportedFeatureError(f"model {model.name!r} has no threshold: a NeuroML cell emits spikes")
    voltage = model.membrane_potential
    if voltage is not None and voltage != "v" and "v" in model.names():
        raise UnsupportedFeatureError(
            f"model {model.name!r}: NeuroML exposes the membrane potential as 'v', which the model uses for "
            f"another variable than its membrane potential {voltage!r}"
        )


def type_name(model: NeuronModel) -> str:
    """The name of the model's ComponentType (the component itself is named after the model)."""
    return f"sn_{model.name}"


def _ordered_subexpressions(model: NeuronModel) -> list:
    """Subexpressions, each after those it reads (LEMS engines evaluate them in file order)."""
    subexpressions = {e.name: e for e in model.equations if e.kind == "subexpression"}
    order: list = []

    def visit(name: str) -> None:
        if name not in subexpressions or subexpressions[name] in order:
            return
        for dependency in sorted(ex.names_in(ex.parse(subexpressions[name].expression))):
            visit(dependency)
        order.append(subexpressions[name])

    for name in subexpressions:
        visit(name)
    return order


def _never(printer: _Printer, node: ast.expr, constants: dict) -> str:
    """A constant of ``node``'s dimension out of every state's reach (``1e30`` in SI units)."""
    exponents = _si_exponents(printer.dimension(node))
    name = f"SN_NEVER_{_dimension_name(exponents)}"
    constants[name] = (f"1e30 {_unit_symbol(exponents)}".strip(), _dimension_name(exponents))
    return name


def _only_when(printer: _Printer, text: str, flag: str, constants: dict, negate: bool = False) -> str:
    """``text`` (negated with ``negate``) as one comparison that can hold only while ``flag``
    is 1 (``flag`` is 0 or 1): its right-hand side moves out of reach otherwise.

    LEMS engines test every ``OnCondition`` of a step on the state the step started with (and
    jNeuroML's NEURON writer takes one comparison per condition), so the spike's condition and
    the one that ends refractoriness must exclude each other through the flag itself.
    """
    node = ex.parse(text)
    if not (isinstance(node, ast.Compare) and len(node.ops) == 1):
        inner = printer.visit(ast.UnaryOp(ast.Not(), node) if negate else node)
        return f"({inner}) .and. {flag} .gt. 0.5"
    op = type(node.ops[0])
    symbol = (_NEGATED if negate else _CMP)[op]
    never = _never(printer, node.left, constants)
    rises = symbol in (".gt.", ".geq.", ".eq.")
    right = f"{printer.visit(node.comparators[0])} {'+' if rises else '-'} (1 - {flag}) * {never}"
    return _comparison(printer.visit(node.left), symbol, right)


def _initial_assignments(model: NeuronModel, printer: _Printer, constants: dict) -> list[tuple[str, str]]:
    """``OnStart`` assignments of the initial values, as expressions of the parameters.

    LEMS engines evaluate every assignment of ``OnStart`` on the state before it (pyLEMS: all
    zero), so a state's value is written out where a later initial value reads it; an initial
    value that needs a conditional function (``exprel`` and friends are derived variables,
    not yet computed then) is written as its number, a ``Constant``.
    """
    numbers = model.initial_values()
    earlier: dict[str, ast.expr] = {}

    class Substitute(ast.NodeTransformer):
        def visit_Name(self, node: ast.Name) -> ast.expr:
            return copy.deepcopy(earlier[node.id]) if node.id in earlier else node

    result = []
    for name, init in model.initial:
        node = Substitute().visit(ex.parse(init.expression))
        if any(isinstance(n, ast.Call) and n.func.id in CONDITIONAL_FUNCTIONS for n in ast.walk(node)):
            dimension = model.dimension_of(name)
            constant = f"SN_INITIAL_{name}"
            constants[constant] = (_quantity(numbers[name], dimension), _dimension_name(_si_exponents(dimension)))
            node = ast.Name(constant)
            result.append((name, constant))
        else:
            result.append((name, printer.visit(node)))
        earlier[name] = node
    return result


def component_type_model(model: NeuronModel):
    """The model as a pylems ``lems.api.Model``: dimensions, units, the ComponentType and one
    component with the model's parameter values.

    Raises
    ------
    UnsupportedFeatureError
        The model uses something LEMS cannot express (named in the message).
    """
    lems = lems_api()

    _check(model)
    printer = _Printer(model, {})
    constants: dict[str, tuple[str, str]] = {}
    kind = model.refractory.kind if model.refractory else None
    voltage = model.membrane_potential
    ct = lems.ComponentType(
        type_name(model),
        extends="baseCellMembPot" if voltage else "baseSpikingCell",
        description=f"{model.name}, generated by sourced_neuron (content hash {model.content_hash})",
    )
    used_dimensions = set()

    def dim(dimension) -> str:
        exponents = _si_exponents(dimension)
        used_dimensions.add(exponents)
        return _dimension_name(exponents)

    per_neuron = [e for e in model.equations if e.kind == "parameter" and e.name != INPUT]
    for name in model.parameter_names:
        ct.add(lems.Parameter(name, dim(model.dimension_of(name))))
    for e in per_neuron:
        ct.add(lems.Parameter(e.name, dim(e.dimension)))
    ct.add(lems.Attachments("synapses", "basePointCurrent"))
    dynamics = ct.dynamics
    exposed = []
    for e in model.equations:
        if e.kind == "differential":
            dynamics.add(lems.StateVariable(e.name, dim(e.dimension), e.name))
            exposed.append((e.name, dim(e.dimension)))
    timed = kind in ("duration", "expression")
    if timed:
        ct.add(lems.Parameter(TIME_SLACK, "time"))
        dynamics.add(lems.StateVariable(LAST_SPIKE, "time"))
    elif kind == "condition":
        dynamics.add(lems.StateVariable(NOT_REFRACTORY, "none"))
    dynamics.add(lems.StateVariable(SPIKE_COUNT, "none", SPIKE_COUNT))
    exposed.append((SPIKE_COUNT, "none"))
    dynamics.add(
        lems.DerivedVariable(
            SYNAPTIC_INPUT, dimension="current", exposure=SYNAPTIC_INPUT, select="synapses[*]/i", reduce="add"
        )
    )
    exposed.append((SYNAPTIC_INPUT, "current"))
    if model.uses_input:
        dynamics.add(lems.DerivedVariable(INPUT, dimension="current", value=SYNAPTIC_INPUT))
    # Piecewise values (exprel, sign, minimum, maximum, clip) are ConditionalDerivedVariables.
    # LEMS engines mishandle a derived variable that reads one of them (pyLEMS reads its value
    # of the step before, jLEMS refuses the order pylems writes them in), so a subexpression
    # that reads a piecewise one is piecewise too, with the other written out in it.
    piecewise: dict[str, ast.expr] = {}

    def inline(node: ast.expr) -> ast.expr:
        class Substitute(ast.NodeTransformer):
            def visit_Name(self, name: ast.Name) -> ast.expr:
                return copy.deepcopy(piecewise[name.id]) if name.id in piecewise else name

        return Substitute().visit(node)

    def conditional(name: str, node: ast.expr, dimension: str, exposure: str | None = None):
        variable = lems.ConditionalDerivedVariable(name, dimension, exposure)
        for conditions, value in _pieces(node):
            test = " .and. ".join(printer.visit(c) for c in conditions)
            variable.add(lems.Case(test, printer.visit(value)))
        dynamics.add(variable)

    for e in _ordered_subexpressions(model):
        node = inline(ex.parse(e.expression))
        if _uses_conditional(node):
            piecewise[e.name] = node
            conditional(e.name, node, dim(e.dimension), e.name)
        else:
            dynamics.add(
                lems.DerivedVariable(e.name, dimension=dim(e.dimension), exposure=e.name, value=printer.visit(node))
            )
        exposed.append((e.name, dim(e.dimension)))

    def value_of(text: str, helper: str, dimension) -> str:
        """``text`` printed, or the name of a piecewise helper variable computing it."""
        node = ex.parse(text)
        if not _uses_conditional(node):
            return printer.visit(node)
        conditional(helper, node, dim(dimension))
        return helper

    if voltage and voltage != "v":
        dynamics.add(lems.DerivedVariable("v", dimension="voltage", exposure="v", value=voltage))
    for e in model.equations:
        if e.kind == "differential":
            value = value_of(e.expression, f"sn_rate_{e.name}", e.dimension / SECOND)
            if "unless refractory" in e.flags and kind is not None:
                value = f"{NOT_REFRACTORY} * ({value})"
            dynamics.add(lems.TimeDerivative(e.name, value))
    start = lems.OnStart()
    for name, value in _initial_assignments(model, printer, constants):
        start.add(lems.StateAssignment(name, value))
    if timed:  # the last spike long ago
        start.add(lems.StateAssignment(LAST_SPIKE, f"-1 * {_never(printer, ex.parse('t'), constants)}"))
    elif kind == "condition":
        start.add(lems.StateAssignment(NOT_REFRACTORY, "1"))
    dynamics.add(start)
    if timed:  # Brian2's rule: refractory while t - lastspike < the refractory time, at the step's start
        not_refractory = lems.ConditionalDerivedVariable(NOT_REFRACTORY, "none")
        refractory_time = printer(model.refractory.expression)
        elapsed, bound = f"t - {LAST_SPIKE}", f"{refractory_time} - {TIME_SLACK}"
        not_refractory.add(lems.Case(f"{elapsed} .geq. {bound}", "1"))
        not_refractory.add(lems.Case(f"{elapsed} .lt. {bound}", "0"))
        dynamics.add(not_refractory)
    threshold = printer(model.threshold)
    if kind is not None:
        threshold = _only_when(printer, model.threshold, NOT_REFRACTORY, constants)
    spike = lems.OnCondition(threshold)
    for statement in model.reset:
        target, op, rhs = statement.split(" ", 2)
        value = printer(rhs) if op == "=" else f"{target} {op[0]} ({printer(rhs)})"
        spike.add(lems.StateAssignment(target, value))
    if timed:
        spike.add(lems.StateAssignment(LAST_SPIKE, "t"))
    elif kind == "condition":
        spike.add(lems.StateAssignment(NOT_REFRACTORY, "0"))
    spike.add(lems.StateAssignment(SPIKE_COUNT, f"{SPIKE_COUNT} + 1"))
    spike.add(lems.EventOut("spike"))
    dynamics.add(spike)
    if kind == "condition":  # refractory until the condition is false (the flag is 0 until then)
        refractory_text = model.refractory.expression
        end = lems.OnCondition(_only_when(printer, refractory_text, f"(1 - {NOT_REFRACTORY})", constants, True))
        end.add(lems.StateAssignment(NOT_REFRACTORY, "1"))
        dynamics.add(end)
    for name, dimension in exposed:
        if name != "v":
            ct.add(lems.Exposure(name, dimension))
    for name, (value, dimension) in {**printer.constants, **constants}.items():
        ct.add(lems.Constant(name, value, dimension))
        used_dimensions.add(next(k for k in (*NEUROML_DIMENSIONS, *used_dimensions) if _dimension_name(k) == dimension))

    result = lems.Model(include_includes=False)
    for include in CORE_INCLUDES:
        result.add(lems.Include(include))
    for exponents in sorted(used_dimensions):
        if exponents in NEUROML_DIMENSIONS:
            continue
        name = _dimension_name(exponents)
        m, l_, t, i, k, n, j = exponents
        result.add(lems.Dimension(name, m=m, l=l_, t=t, i=i, k=k, n=n, j=j))
        result.add(lems.Unit(_unit_symbol(exponents), _unit_symbol(exponents), name, power=0))
    result.add(ct)
    values = {name: _quantity(q, model.dimension_of(name)) for name, q in model.parameter_values().items()}
    if timed:
        values[TIME_SLACK] = f"{float(model.numerics.dt.magnitude) / 2!r} s"
    for e in per_neuron:
        values[e.name] = _quantity(model.initial_values().get(e.name, 0.0) * 1.0, e.dimension)
    result.add(lems.Component(model.name, type_name(model), **values))
    return result


def export_neuroml(model: NeuronModel) -> str:
    """The LEMS file of ``model`` (target ``"neuroml"`` of :func:`sourced_neuron.export`): its
    ComponentType and a component with its parameter values."""
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"{model.name}.xml"
        component_type_model(model).export_to_file(str(path))
        return path.read_text(encoding="utf-8")


@dataclass(frozen=True)
class NeuroMLExport:
    """The files of a NeuroML/LEMS export and what they record.

    ``counted`` says whether the trace file has a spike counter column (the types this
    library writes); otherwise spikes are in ``spike_file`` only (engines with event files).
    """

    model_file: Path
    network_file: Path
    simulation_file: Path
    voltage_file: str
    spike_file: str
    duration: float
    dt: float
    counted: bool = True


def write_neuroml(
    model: NeuronModel,
    folder: str | Path,
    steps: Sequence[tuple[float, float]] = ((0.0, 0.0),),
    duration: float = 1.0,
    dt: float | None = None,
) -> NeuroMLExport:
    """Write ``model``'s LEMS file, a network of one cell driven by current steps, and the LEMS
    simulation ``LEMS_<model>.xml`` (pyNeuroML's ``LEMSSimulation``) into ``folder``.

    Parameters
    ----------
    model : NeuronModel
        The model, with presets and values applied.
    folder : str or Path
        Created if absent; existing files of the same names are replaced.
    steps : sequence of (time, amplitude)
        The injected current, SI units: ``amplitude`` amp from ``time`` second on (until the next
        step); one ``pulseGenerator`` per step.
    duration, dt : float
        Seconds; ``dt`` defaults to the model's ``numerics.dt``.

    Returns
    -------
    NeuroMLExport
        The files written and the names of the recordings a run writes.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    dt = float(model.numerics.dt.magnitude) if dt is None else float(dt)
    model_file = folder / f"{model.name}.xml"
    component_type_model(model).export_to_file(str(model_file))
    return write_simulation(model_file, model.name, steps, duration, dt)


def write_simulation(
    cell_file: str | Path,
    component: str,
    steps: Sequence[tuple[float, float]],
    duration: float,
    dt: float,
    dimensionless_input: bool = False,
) -> NeuroMLExport:
    """Write a network of one cell of ``cell_file`` driven by current steps, and its LEMS
    simulation ``LEMS_<component>.xml``, beside ``cell_file``; it records ``v`` and the spikes.

    Parameters
    ----------
    cell_file : str or Path
        A NeuroML or LEMS file that defines ``component``: one this library wrote, or any
        NeuroML cell (a core type such as ``iafRefCell``).
    component : str
        The id of the cell.
    steps : sequence of (time, amplitude)
        As for :func:`write_neuroml`.
    duration, dt : float
        Seconds.
    dimensionless_input : bool
        The cell takes dimensionless currents (NeuroML's ``basePointCurrentDL``, as
        ``izhikevichCell``): the steps are ``pulseGeneratorDL`` inputs of ``amplitude`` in pA.
    """
    lems = lems_api()
    from pyneuroml.lems import LEMSSimulation

    cell_file = Path(cell_file)
    folder = cell_file.parent
    counted = cell_file.suffix == ".xml" and f'id="{component}" type="sn_' in cell_file.read_text(encoding="utf-8")
    network = lems.Model(include_includes=False)
    net = lems.Component(f"{component}_network", "network")
    net.add(lems.Component("population", "population", component=component, size="1"))
    for k, (start, amplitude) in enumerate(steps):
        stop = steps[k + 1][0] if k + 1 < len(steps) else duration
        if stop <= start or amplitude == 0:
            continue
        timing = {"delay": f"{start!r} s", "duration": f"{stop - start!r} s"}
        if dimensionless_input:
            network.add(lems.Component(f"current{k}", "pulseGeneratorDL", **timing, amplitude=repr(amplitude * 1e12)))
        else:
            network.add(lems.Component(f"current{k}", "pulseGenerator", **timing, amplitude=f"{amplitude!r} A"))
        net.add(lems.Component(f"input{k}", "explicitInput", target="population[0]", input=f"current{k}"))
    network.add(net)
    network_file = folder / f"{component}.net.xml"
    network.export_to_file(str(network_file))
    name = f"LEMS_{component}"
    simulation = LEMSSimulation(
        f"sim_{component}", duration * 1e3, dt * 1e3, target=f"{component}_network", simulation_seed=1
    )
    simulation.include_lems_file(cell_file.name, include_included=False)
    simulation.include_lems_file(network_file.name, include_included=False)
    voltage_file, spike_file = f"{component}.v.dat", f"{component}.spikes"
    simulation.create_output_file("trace", voltage_file)
    simulation.add_column_to_output_file("trace", "v", "population[0]/v")
    if counted:
        simulation.add_column_to_output_file("trace", SPIKE_COUNT, f"population[0]/{SPIKE_COUNT}")
    simulation.create_event_output_file("spikes", spike_file, format="TIME_ID")
    simulation.add_selection_to_event_output_file("spikes", 0, "population[0]", "spike")
    simulation_file = folder / f"{name}.xml"
    simulation.save_to_file(str(simulation_file))
    return NeuroMLExport(cell_file, network_file, simulation_file, voltage_file, spike_file, duration, dt, counted)
