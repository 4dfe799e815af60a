"""Reading NeuroML2/LEMS cells into the model format.

A cell of a NeuroML file (a core type such as ``iafRefCell``, ``izhikevich2007Cell`` or
``adExIaFCell``, or a component of a LEMS ``ComponentType`` of the file's own, such as the ones
:mod:`sourced_neuron.codegen.neuroml` writes) is read with pylems, its type resolved against
NeuroML's core types (the inheritance flattened), and its dynamics written as a model file:

- parameters with their values (SI units, the exact numbers of the file); a ``Constant`` is
  written into the expressions as a literal (``1 mV`` as ``mV``);
- one equation per ``TimeDerivative`` and ``DerivedVariable``; the sum of the ``synapses``
  attachments' currents (``iSyn``) is the injected current ``I_ext`` (a dimensionless one,
  NeuroML's ``basePointCurrentDL``, is ``I_ext/pA``: 1 pA per unit, as NEST's ``izhikevich``
  reads ``I_e``);
- ``OnStart`` as the initial values, the ``OnCondition`` that emits ``spike`` as threshold and
  reset;
- two regimes (integrating and refractory: ``iafRefCell``, ``adExIaFCell``) as refractoriness:
  the spike moves the cell into the refractory regime, whose ``OnEntry`` assignments join the
  reset, and which it leaves once ``t`` passes the spike time plus a refractory time; states
  without a derivative in the refractory regime are ``(unless refractory)``.

The model is integrated with forward Euler, as the LEMS engines do (``numerics.dt`` is not
part of a NeuroML cell: it is chosen on import). What the format cannot express is refused
with the reason: morphologies and channel densities, kinetic schemes, more than two regimes,
``Structure``, child components, conditional derived variables other than the refractory flag
this library writes, event inputs.
"""

from __future__ import annotations

import ast
import contextlib
import copy
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from brian2.units.fundamentalunits import DIMENSIONLESS, get_or_create_dimension, get_unit

from sourced_neuron.common.errors import InputError, ModelError, UnsupportedFeatureError
from sourced_neuron.common.neuroml import core_types_folder, lems_api
from sourced_neuron.spec import checks
from sourced_neuron.spec import expressions as ex
from sourced_neuron.spec.model import NeuronModel
from sourced_neuron.spec.parts import INPUT

__all__ = ["import_neuroml", "neuroml_cells", "neuroml_model_text"]

#: The core type files a NeuroML cell file is resolved against.
CORE_FILES = ("NeuroMLCoreDimensions.xml", "Cells.xml", "Inputs.xml", "Networks.xml", "Simulation.xml")

#: LEMS operators -> Python operators.
_OPERATORS = {"gt": ">", "geq": ">=", "lt": "<", "leq": "<=", "eq": "==", "neq": "!=", "and": "and", "or": "or"}
_OPERATOR_RE = re.compile(r"\.(gt|geq|lt|leq|eq|neq|and|or)\.")

#: LEMS functions of another name in the model format.
_FUNCTIONS = {"ln": "log"}

#: The names :mod:`sourced_neuron.codegen.neuroml` gives the flags and counters it adds.
_EXPORT_FLAG, _EXPORT_COUNTER, _EXPORT_SLACK = "not_refractory", "spike_count", "sn_time_slack"
_EXPORT_UNIT = "UNIT_"

#: Component types with a morphology (a ``cell`` of NeuroML): not point models.
_MORPHOLOGICAL = frozenset({"cell", "cell2CaPools"})


def _read(path: Path):
    """The file's model, resolved against NeuroML's core types; the ids of the file's components."""
    lems = lems_api()
    if not path.is_file():
        raise InputError(f"NeuroML file {str(path)!r} does not exist")
    folder = core_types_folder()
    model = lems.Model(include_includes=True, fail_on_missing_includes=True)
    model.add_include_directory(str(folder))
    output = io.StringIO()
    try:
        with contextlib.redirect_stdout(output):  # pylems prints every file it includes
            for name in CORE_FILES:
                model.include_file(name, [str(folder)])
            before = set(model.components.keys())
            model.import_from_file(str(path))
            ids = [key for key in model.components.keys() if key not in before]
            resolved = model.resolve()
    except Exception as exc:  # pylems raises bare Exceptions and its own errors alike
        reason = str(exc).split("; existing:")[0]  # pylems lists every known type after its reason
        raise ModelError(f"{path}: pylems cannot read this NeuroML/LEMS file: {reason}") from None
    # type inheritance, before resolving flattens it
    resolved.sn_extends = {name: ct.extends for name, ct in model.component_types.items()}
    return resolved, ids


def _ancestors(model, type_name: str) -> list[str]:
    chain = []
    while type_name and type_name not in chain:
        chain.append(type_name)
        type_name = model.sn_extends.get(type_name)
    return chain


def neuroml_cells(path: str | Path) -> dict[str, str]:
    """The cells of a NeuroML file: component id -> component type.

    A cell is a component whose type derives from NeuroML's ``baseCell``.
    """
    model, ids = _read(Path(path))
    return {
        cid: model.components[cid].type for cid in ids if "baseCell" in _ancestors(model, model.components[cid].type)
    }


@dataclass
class _Names:
    """How the cell's names are written in the model: renamed ones, and names replaced by an
    expression (constants, the input current)."""

    renamed: dict[str, str] = field(default_factory=dict)
    replaced: dict[str, ast.expr] = field(default_factory=dict)


class _Rewrite(ast.NodeTransformer):
    """Renames and replaces names; writes ``-1 * x`` as ``-x``; removes the terms
    :mod:`sourced_neuron.codegen.neuroml` adds to keep a condition out of reach during
    refractoriness (``+ (1 - not_refractory) * SN_NEVER_voltage``)."""

    def __init__(self, names: _Names):
        self.names = names

    def visit_Name(self, node: ast.Name) -> ast.expr:
        if node.id in self.names.replaced:
            return copy.deepcopy(self.names.replaced[node.id])
        return ast.Name(self.names.renamed.get(node.id, node.id), ast.Load())

    def visit_Call(self, node: ast.Call) -> ast.expr:
        node.args = [self.visit(a) for a in node.args]
        if isinstance(node.func, ast.Name):
            node.func = ast.Name(_FUNCTIONS.get(node.func.id, node.func.id), ast.Load())
        return node

    def visit_BinOp(self, node: ast.BinOp) -> ast.expr:
        if isinstance(node.op, ast.Add | ast.Sub) and _is_out_of_reach(node.right):
            return self.visit(node.left)
        node = self.generic_visit(node)
        left = node.left
        if (
            isinstance(node.op, ast.Mult)
            and isinstance(left, ast.UnaryOp)
            and isinstance(left.op, ast.USub)
            and isinstance(left.operand, ast.Constant)
            and left.operand.value == 1
        ):
            return ast.UnaryOp(ast.USub(), node.right)
        return node


def _is_out_of_reach(node: ast.expr) -> bool:
    """``(1 - not_refractory) * SN_NEVER_<dimension>`` (the generated term)."""
    return (
        isinstance(node, ast.BinOp)
        and isinstance(node.op, ast.Mult)
        and isinstance(node.right, ast.Name)
        and node.right.id.startswith("SN_NEVER_")
    )


def _parse(text: str, where: str) -> ast.expr:
    """A LEMS expression as a model-format expression tree (the whitelist of the model format
    applies: anything else is refused)."""
    python = _OPERATOR_RE.sub(lambda m: f" {_OPERATORS[m[1]]} ", text).replace("^", "**")
    try:
        return ex.parse(python)
    except ex.ExpressionError as exc:
        raise ModelError(f"{where}: cannot read the LEMS expression {text!r}: {exc}") from None


def _free(name: str) -> bool:
    """Whether the model format accepts ``name`` as a variable name."""
    try:
        ex.check_name(name, "name")
    except ex.ExpressionError:
        return False
    return not (
        name in ex.UNITS
        or name in ex.FUNCTIONS
        or name in checks.RESERVED
        or name in checks.CPP_KEYWORDS
        or name.startswith("sn_")
    )


def _unit_text(dimension) -> str:
    """The SI unit of a dimension, as model files write it (``volt``, ``1``)."""
    if dimension == DIMENSIONLESS:
        return "1"
    return get_unit(dimension).name


def _value_text(magnitude: float, dimension) -> str | float:
    """A value in SI units, exactly the file's number (``-0.065 volt``)."""
    if dimension == DIMENSIONLESS:
        return float(magnitude)
    return f"{float(magnitude)!r} {_unit_text(dimension)}"


class _Cell:
    """One cell of a resolved LEMS model, as the parts of a model file."""

    def __init__(self, model, component_id: str, where: str):
        self.model, self.where = model, where
        component = model.components[component_id]
        self.type = component.type
        self.id = component_id
        chain = _ancestors(model, component.type)
        if _MORPHOLOGICAL & set(chain):
            raise UnsupportedFeatureError(
                f"{where}: {component.type} {component_id!r} has a morphology and channel densities: a "
                "multi-compartment NeuroML cell is not a point model of this format"
            )
        if "baseCell" not in chain:
            raise UnsupportedFeatureError(f"{where}: {component.type} {component_id!r} is not a NeuroML cell")
        with contextlib.redirect_stdout(io.StringIO()):
            self.fat = model.fatten_component(component)
        self._refuse_structure()
        self.names = _Names()

    def _refuse_structure(self) -> None:
        fat, what = self.fat, f"{self.where}: {self.type} {self.id!r}"
        dynamics = fat.dynamics
        problems = []
        if fat.child_components:
            problems.append(f"child components ({', '.join(c.id for c in fat.child_components)})")
        structure = fat.structure
        if structure.event_connections or structure.child_instances or structure.multi_instantiates:
            problems.append("a Structure")
        if dynamics.kinetic_schemes:
            problems.append("a kinetic scheme")
        if len(dynamics.regimes) > 2:
            problems.append(f"{len(dynamics.regimes)} regimes (at most two: integrating and refractory)")
        if problems:
            raise UnsupportedFeatureError(f"{what} has {' and '.join(problems)}, which the model format cannot express")

    # --- dimensions and values ---------------------------------------------------------

    def dimension(self, name: str | None):
        if not name or name == "none" or name not in self.model.dimensions:
            return DIMENSIONLESS
        d = self.model.dimensions[name]
        return get_or_create_dimension(
            length=d.l, mass=d.m, time=d.t, current=d.i, temperature=d.k, substance=d.n, luminosity=d.j
        )

    def constant_expression(self, value: str, dimension_name: str) -> ast.expr:
        """A constant's value as a literal: ``1mV`` as ``mV``; other units in SI."""
        match = re.fullmatch(r"\s*([-+]?[0-9.]+(?:[eE][-+]?[0-9]+)?)\s*([A-Za-z_]\w*)?\s*", value)
        dimension = self.dimension(dimension_name)
        if match and match[2] in ex.UNITS and ex.get_dimensions(ex.UNITS[match[2]]) == dimension:
            number = float(match[1])
            unit = ast.Name(match[2], ast.Load())
            return unit if number == 1 else ast.BinOp(ast.Constant(number), ast.Mult(), unit)
        magnitude = self.model.get_numeric_value(value, dimension_name)
        if dimension == DIMENSIONLESS:
            return ast.Constant(float(magnitude))
        if magnitude == 1 and dimension != DIMENSIONLESS and _unit_text(dimension) in ex.UNITS:
            return ast.Name(_unit_text(dimension), ast.Load())
        return ex.parse_value(_value_text(magnitude, dimension))

    def expression(self, text: str) -> ast.expr:
        return _Rewrite(self.names).visit(_parse(text, f"{self.where}: {self.type} {self.id!r}"))

    def text(self, text: str) -> str:
        return ast.unparse(self.expression(text))


def _cell_id(path: Path, model, ids: list[str], component: str | None) -> str:
    cells = [cid for cid in ids if "baseCell" in _ancestors(model, model.components[cid].type)]
    if component is not None:
        if component not in model.components:
            hint = f"; the file's cells: {', '.join(cells)}" if cells else "; the file has no cells"
            raise InputError(f"{path}: no component {component!r}{hint}")
        return component
    if len(cells) != 1:
        listed = ", ".join(f"{cid} ({model.components[cid].type})" for cid in cells) or "none"
        raise InputError(f"{path}: choose the cell with component=... or --component (cells in the file: {listed})")
    return cells[0]


def neuroml_model_text(path: str | Path, component: str | None = None, dt: str = "0.1 ms") -> str:
    """The model file (YAML text) of a cell of a NeuroML file.

    Parameters
    ----------
    path : str or Path
        A NeuroML (``.nml``) or LEMS (``.xml``) file; its includes are resolved against the
        file's folder and NeuroML's core types.
    component : str, optional
        The id of the cell; needed where the file has more than one.
    dt : str
        The model's ``numerics.dt`` (forward Euler, as the LEMS engines integrate).

    Raises
    ------
    InputError
        No such file or component.
    ModelError
        pylems cannot read the file, or an expression is outside the model format.
    UnsupportedFeatureError
        The cell uses something the model format cannot express (named in the message).
    """
    return import_neuroml(path, component, dt).to_yaml()


def import_neuroml(path: str | Path, component: str | None = None, dt: str = "0.1 ms") -> NeuronModel:
    """A cell of a NeuroML file as a checked model (:func:`neuroml_model_text`, then the
    model file's checks)."""
    path = Path(path)
    model, ids = _read(path)
    cell = _Cell(model, _cell_id(path, model, ids, component), str(path))
    text = yaml.safe_dump(_translate(cell, dt), sort_keys=False, allow_unicode=True, width=120)
    return NeuronModel.from_yaml(text, source=f"{path} ({cell.type} {cell.id!r})")


def _translate(cell: _Cell, dt: str) -> dict:
    fat, names = cell.fat, cell.names
    dynamics = fat.dynamics
    what = f"{cell.where}: {cell.type} {cell.id!r}"
    for handler in dynamics.event_handlers:
        if type(handler).__name__ == "OnEvent":
            raise UnsupportedFeatureError(f"{what} receives events ({handler.port}), which a point model cannot")
    states = {s.name: cell.dimension(s.dimension) for s in dynamics.state_variables}
    parameters = {p.name: p for p in fat.parameters}
    # the input current: the sum of the synapses' currents
    for derived in dynamics.derived_variables:
        if derived.select:
            if not re.fullmatch(r"synapses\[\*\]/[iI]", derived.select) or derived.reduce != "add":
                raise UnsupportedFeatureError(
                    f"{what}: derived variable {derived.name!r} selects {derived.select!r}; only the sum of the "
                    "synapses' currents (synapses[*]/i) is the model's input"
                )
            if cell.dimension(derived.dimension) == DIMENSIONLESS:
                names.replaced[derived.name] = ast.BinOp(ast.Name(INPUT), ast.Div(), ast.Name("pA"))
            else:
                names.replaced[derived.name] = ast.Name(INPUT)
    for derived in dynamics.derived_variables:  # aliases of the input (I_ext = iSyn)
        if not derived.select and derived.value and derived.value.strip() in names.replaced:
            names.replaced[derived.name] = names.replaced[derived.value.strip()]
    for constant in fat.constants:
        unit = constant.name.removeprefix(_EXPORT_UNIT)
        if (
            constant.name.startswith(_EXPORT_UNIT)
            and unit in ex.UNITS
            and ex.get_dimensions(ex.UNITS[unit]) == cell.dimension(constant.dimension)
        ):  # the exports' unit literals
            names.replaced[constant.name] = ast.Name(unit, ast.Load())
        else:
            names.replaced[constant.name] = cell.constant_expression(constant.value, constant.dimension)
    declared = [*parameters, *states, *(d.name for d in dynamics.derived_variables)]
    for name in declared:
        if name not in names.replaced and not _free(name) and name != _EXPORT_FLAG:
            new = f"{name}_nml"
            names.renamed[name] = new
    # refractoriness: two regimes, or the flag this library's exports compute
    refractory, unless, reset, threshold, timers = _refractoriness(cell)
    flagged = {}
    for cdv in dynamics.conditional_derived_variables:
        if cdv.name == _EXPORT_FLAG and refractory is not None:
            continue
        raise UnsupportedFeatureError(
            f"{what}: conditional derived variable {cdv.name!r} (piecewise values are not part of the model format)"
        )
    equations = []
    for regime_derivatives in _derivatives(cell):
        for variable, value in regime_derivatives.items():
            node = _parse(value, what)
            if (  # the exports' refractory flag: not_refractory * (...)
                isinstance(node, ast.BinOp)
                and isinstance(node.op, ast.Mult)
                and isinstance(node.left, ast.Name)
                and node.left.id == _EXPORT_FLAG
            ):
                node = node.right
                flagged[variable] = True
            flags = " (unless refractory)" if variable in unless or flagged.get(variable) else ""
            text = ast.unparse(_Rewrite(names).visit(node))
            unit = _unit_text(states[variable])
            equations.append(f"d{names.renamed.get(variable, variable)}/dt = {text} : {unit}{flags}")
    for derived in dynamics.derived_variables:
        if derived.name in names.replaced:
            continue
        unit = _unit_text(cell.dimension(derived.dimension))
        equations.append(f"{names.renamed.get(derived.name, derived.name)} = {cell.text(derived.value)} : {unit}")
    integrated = {line[1 : line.index("/")] for line in equations if line.startswith("d")}
    initial = {}
    for handler in dynamics.event_handlers:
        if type(handler).__name__ == "OnStart":
            for action in handler.actions:
                if action.variable not in timers:
                    value = cell.expression(action.value)
                    dimension = states.get(action.variable, DIMENSIONLESS)
                    if isinstance(value, ast.Constant) and dimension != DIMENSIONLESS:  # LEMS: u = 0
                        text = _value_text(value.value, dimension)
                    else:
                        text = ast.unparse(value)
                    initial[names.renamed.get(action.variable, action.variable)] = text
    resets = [_reset(cell, a.variable, a.value) for a in reset if a.variable not in timers]
    used = set()
    for text in [*equations, *initial.values(), *resets, threshold or "", refractory or ""]:
        body = text.split("=", 1)[-1].split(":")[0] if text in equations else text
        used |= {n for n in re.findall(r"[A-Za-z_]\w*", body)}
    unused = [p for p in parameters if names.renamed.get(p, p) not in used]
    states_kept = [s for s in states if s not in timers and names.renamed.get(s, s) in integrated]
    data: dict = {"name": _model_name(cell.id)}
    description = f"NeuroML {cell.type} {cell.id!r}, imported from {Path(cell.where).name} by sourced_neuron."
    if names.renamed:
        description += " Renamed: " + ", ".join(f"{a} -> {b}" for a, b in names.renamed.items()) + "."
    if unused:
        description += " Parameters the dynamics do not read, left out: " + ", ".join(unused) + "."
    data["description"] = description
    data["equations"] = "\n".join(equations) + "\n"
    if threshold is not None:
        data["threshold"] = threshold
    if resets:
        data["reset"] = "\n".join(resets) + ("\n" if len(resets) > 1 else "")
    if refractory is not None:
        data["refractory"] = refractory
    data["parameters"] = {
        names.renamed.get(name, name): _value_text(p.numeric_value, cell.dimension(p.dimension))
        for name, p in parameters.items()
        if name not in unused
    }
    initial_states = {names.renamed.get(s, s) for s in states_kept}
    data["initial"] = {k: v for k, v in initial.items() if k in initial_states}
    if not data["initial"]:
        del data["initial"]
    data["numerics"] = {"method": "euler", "dt": dt}
    return data


def _model_name(component_id: str) -> str:
    """A model name (``[a-z][a-z0-9_]*``) from a component id: ``iafRef`` -> ``iaf_ref``."""
    name = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", component_id)
    name = re.sub(r"\W", "_", name).lower()
    return name if name[:1].isalpha() else f"cell_{name}"


def _reset(cell: _Cell, variable: str, value: str) -> str:
    """``x = x + d`` as ``x += d`` (the model format's increments)."""
    target = cell.names.renamed.get(variable, variable)
    node = cell.expression(value)
    ops = {ast.Add: "+=", ast.Sub: "-=", ast.Mult: "*=", ast.Div: "/="}
    if (
        isinstance(node, ast.BinOp)
        and type(node.op) in ops
        and isinstance(node.left, ast.Name)
        and node.left.id == target
    ):
        return f"{target} {ops[type(node.op)]} {ast.unparse(node.right)}"
    return f"{target} = {ast.unparse(node)}"


def _derivatives(cell: _Cell) -> list[dict[str, str]]:
    """The time derivatives: of the dynamics, or of the integrating regime."""
    dynamics = cell.fat.dynamics
    found = {d.variable: d.value for d in dynamics.time_derivatives}
    for regime in dynamics.regimes:
        if regime.initial:
            found.update({d.variable: d.value for d in regime.time_derivatives})
    return [found]


_MIRRORED = {ast.Gt: ast.Lt, ast.GtE: ast.LtE, ast.Lt: ast.Gt, ast.LtE: ast.GtE, ast.Eq: ast.Eq, ast.NotEq: ast.NotEq}
_NEGATION = {ast.Gt: ast.LtE, ast.GtE: ast.Lt, ast.Lt: ast.GtE, ast.LtE: ast.Gt, ast.Eq: ast.NotEq, ast.NotEq: ast.Eq}


def _condition(cell: _Cell, text: str, negate: bool = False) -> str:
    """A condition in the model format, its state variable on the left (``v > V_th``; the
    exports write ``a <= b`` as ``b >= a``: pyLEMS lacks ``.leq.``), negated if asked."""
    node = cell.expression(text)
    if isinstance(node, ast.Compare) and len(node.ops) == 1:
        op, left, right = type(node.ops[0]), node.left, node.comparators[0]
        if negate:
            op = _NEGATION[op]
        states = {s.name for s in cell.fat.dynamics.state_variables}
        if (
            isinstance(right, ast.Name)
            and right.id in states
            and not (isinstance(left, ast.Name) and left.id in states)
        ):
            op, left, right = _MIRRORED[op], right, left
        return ast.unparse(ast.Compare(left, [op()], [right]))
    if negate:
        raise UnsupportedFeatureError(f"{cell.where}: cannot negate the refractory condition {text!r}")
    return ast.unparse(node)


def _flag_end(handler) -> bool:
    """The exports' end of a condition refractoriness: ``not_refractory = 1`` and nothing else."""
    return (
        type(handler).__name__ == "OnCondition"
        and bool(handler.actions)
        and all(
            type(a).__name__ == "StateAssignment" and a.variable == _EXPORT_FLAG and a.value.strip() == "1"
            for a in handler.actions
        )
    )


def _spike_handler(cell: _Cell, handlers, what: str):
    handlers = [h for h in handlers if not _flag_end(h)]
    spikes = [
        h
        for h in handlers
        if type(h).__name__ == "OnCondition" and any(type(a).__name__ == "EventOut" for a in h.actions)
    ]
    others = [
        h
        for h in handlers
        if type(h).__name__ == "OnCondition"
        and h not in spikes
        and not any(type(a).__name__ == "Transition" for a in h.actions)
    ]
    if others:
        raise UnsupportedFeatureError(
            f"{what}: a condition without a spike ({others[0].test!r}) is not part of the model format"
        )
    if len(spikes) > 1:
        raise UnsupportedFeatureError(f"{what}: more than one spike condition")
    return spikes[0] if spikes else None


def _refractoriness(cell: _Cell):
    """(refractory time, states held during it, reset assignments, threshold, timer states)."""
    dynamics = cell.fat.dynamics
    what = f"{cell.where}: {cell.type} {cell.id!r}"
    if not dynamics.regimes:
        handler = _spike_handler(cell, dynamics.event_handlers, what)
        if handler is None:
            return None, set(), [], None, set()
        actions = [a for a in handler.actions if type(a).__name__ == "StateAssignment"]
        counters = {
            a.variable
            for a in actions
            if a.variable == _EXPORT_COUNTER and a.value.replace(" ", "") == f"{a.variable}+1"
        }
        timers = {a.variable for a in actions if a.value.strip() == "t"}
        refractory = None
        flag = next((c for c in dynamics.conditional_derived_variables if c.name == _EXPORT_FLAG), None)
        ends = [h for h in dynamics.event_handlers if _flag_end(h)]
        if flag is not None:  # the exports' timed refractoriness: t - lastSpikeTime >= t_ref - slack
            refractory = _flag_refractory(cell, flag, timers, what)
        elif len(ends) == 1:  # the exports' condition refractoriness: the flag is set again when it ends
            refractory = _condition(cell, ends[0].test, negate=True)
            timers.add(_EXPORT_FLAG)
        actions = [a for a in actions if a.variable not in counters]
        return refractory, set(), actions, _condition(cell, handler.test), timers | counters
    initial = next(r for r in dynamics.regimes if r.initial)
    other = next(r for r in dynamics.regimes if not r.initial)
    handler = _spike_handler(cell, initial.event_handlers, what)
    if handler is None or not any(type(a).__name__ == "Transition" and a.regime == other.name for a in handler.actions):
        raise UnsupportedFeatureError(f"{what}: regime {other.name!r} is not entered by the spike")
    reset = [a for a in handler.actions if type(a).__name__ == "StateAssignment"]
    for h in other.event_handlers:
        if type(h).__name__ == "OnEntry":
            reset += [a for a in h.actions if type(a).__name__ == "StateAssignment"]
    timers = {a.variable for a in reset if a.value.strip() == "t"}
    exits = [h for h in other.event_handlers if type(h).__name__ == "OnCondition"]
    if len(exits) != 1 or [a.regime for a in exits[0].actions if type(a).__name__ == "Transition"] != [initial.name]:
        raise UnsupportedFeatureError(
            f"{what}: regime {other.name!r} must end with one condition back to {initial.name!r}"
        )
    refractory = _elapsed(cell, exits[0].test, timers, what)
    held = {d.variable for d in initial.time_derivatives} - {d.variable for d in other.time_derivatives}
    for d in other.time_derivatives:
        same = next((e for e in initial.time_derivatives if e.variable == d.variable), None)
        if same is None or same.value.replace(" ", "") != d.value.replace(" ", ""):
            raise UnsupportedFeatureError(
                f"{what}: {d.variable!r} changes differently in regime {other.name!r}: only holding a state "
                "(refractoriness) is part of the model format"
            )
    return refractory, held, reset, _condition(cell, handler.test), timers


def _elapsed(cell: _Cell, test: str, timers: set[str], what: str) -> str:
    """The refractory time of ``t > timer + T`` (or ``t - timer > T``)."""
    node = _parse(test, what)
    if isinstance(node, ast.Compare) and len(node.ops) == 1 and isinstance(node.ops[0], ast.Gt | ast.GtE):
        left, right = node.left, node.comparators[0]
        if (
            isinstance(left, ast.Name)
            and left.id == "t"
            and isinstance(right, ast.BinOp)
            and isinstance(right.op, ast.Add)
        ):
            for timer, rest in ((right.left, right.right), (right.right, right.left)):
                if isinstance(timer, ast.Name) and timer.id in timers:
                    return _duration(_Rewrite(cell.names).visit(rest))
        if (
            isinstance(left, ast.BinOp)
            and isinstance(left.op, ast.Sub)
            and isinstance(left.left, ast.Name)
            and left.left.id == "t"
            and isinstance(left.right, ast.Name)
            and left.right.id in timers
        ):
            if isinstance(right, ast.BinOp) and isinstance(right.op, ast.Sub):
                if isinstance(right.right, ast.Name) and right.right.id == _EXPORT_SLACK:
                    right = right.left
            return _duration(_Rewrite(cell.names).visit(right))
    raise UnsupportedFeatureError(
        f"{what}: the refractory regime ends on {test!r}; only a time since the spike (t > lastSpikeTime + T) "
        "is part of the model format"
    )


def _duration(node: ast.expr) -> str:
    """A refractory time: a number times a unit is written as a duration (``2 ms``)."""
    if (
        isinstance(node, ast.BinOp)
        and isinstance(node.op, ast.Mult)
        and isinstance(node.left, ast.Constant)
        and isinstance(node.right, ast.Name)
        and node.right.id in ex.UNITS
    ):
        return f"{node.left.value!r} {node.right.id}"
    return ast.unparse(node)


def _flag_refractory(cell: _Cell, flag, timers: set[str], what: str) -> str:
    """The refractory time of the flag :mod:`sourced_neuron.codegen.neuroml` writes."""
    ones = [case for case in flag.cases if case.value.strip() == "1"]
    if len(ones) != 1 or ones[0].condition is None:
        raise UnsupportedFeatureError(f"{what}: conditional derived variable {flag.name!r} is not a refractory flag")
    return _elapsed(cell, ones[0].condition, timers, what)
