"""Generating NESTML from a model, with the same arithmetic as on Brian2.

For every fixed-step method the integration step is not left to NESTML's solvers: Brian2's
state updater turns the equations into plain assignments (the step of ``exact``,
``exponential_euler``, ``euler``, ``rk2`` or ``rk4``), and those assignments are printed into
the NESTML ``update:`` block. Both simulators then evaluate the same expressions, in SI units
(NESTML variables are declared ``real`` and hold SI magnitudes, as Brian2 does internally).
The order of operations in a step, spike time stamps, refractoriness and input timing follow
docs/semantics.md.
"""

from __future__ import annotations

import ast
import hashlib
import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import jinja2

from sourced_neuron.codegen.brian2 import LARGEST, NONFINITE_TIME, brian2_unit, lower, nonfinite_flag
from sourced_neuron.common.cache import cache_root
from sourced_neuron.common.errors import UnsupportedFeatureError
from sourced_neuron.spec import expressions as ex
from sourced_neuron.spec.model import NeuronModel
from sourced_neuron.spec.parts import INPUT
from sourced_neuron.spec.units import si_magnitude as _si

__all__ = ["ALL_INPUTS", "FUNCTIONS", "Inputs", "NestmlSource", "generate", "nestml_model_name", "render"]

#: Model-format function -> NESTML function (``None``: NESTML cannot express it).
FUNCTIONS: dict[str, str | None] = {
    "exp": "exp",
    "log": "ln",
    "log10": "log10",
    "sin": "sin",
    "cos": "cos",
    "tan": "tan",
    "sinh": "sinh",
    "cosh": "cosh",
    "tanh": "tanh",
    "abs": "abs",
    "floor": "floor",
    "ceil": "ceil",
    "clip": "clip",
    "minimum": "min",
    "maximum": "max",
    "exprel": "sn_exprel",
    "sign": "sn_sign",
    "sqrt": "sqrt",  # printed as pow(x, 0.5)
    "arcsin": None,
    "arccos": None,
    "arctan": None,
}


@dataclass(frozen=True)
class Inputs:
    """The inputs a generated NEST model has: NEST reads each input port's ring buffer in every
    step of every neuron, so the backend generates only those a run feeds.

    Attributes
    ----------
    current : bool
        The continuous port ``I_ext`` for current devices, with the parameter ``I_stim_1``
        (docs/semantics.md, "Input timing"); without it the injected current is the constant
        ``I_stim``.
    receptors : tuple of str or None
        The spike ports (the model's receptor ports) to generate, ``None`` for all of them. The
        states a port writes stay in the model either way.
    """

    current: bool = True
    receptors: tuple[str, ...] | None = None

    def ports(self, model: NeuronModel) -> list:
        """The model's receptor ports that are generated, in model order."""
        return [port for port in model.synapses if self.receptors is None or port.name in self.receptors]


#: Every input of the model: what an exported NESTML model and a PyNN cell type have.
ALL_INPUTS = Inputs()

#: Local names of the generated update block.
DT, TIME, INPUT_SI = "sn_dt", "sn_t", "sn_I_ext"
REFRACTORY_LEFT, NOT_REFRACTORY = "sn_refractory_left", "sn_not_refractory"
SPIKE_WEIGHT = "sn_weight"


class _Printer(ast.NodeVisitor):
    """Prints Brian2 abstract-code expressions as NESTML expressions over SI ``real`` values."""

    def __init__(self, model: NeuronModel):
        self.model = model
        self.functions_used: set[str] = set()

    def name(self, name: str) -> str:
        if name == "dt":
            return DT
        if name == "t":
            return TIME
        if name == INPUT:
            return INPUT_SI
        if name.startswith("_"):  # Brian2's temporaries: _v, __k_1_v, _BA_v
            return "sn_tmp_" + name.lstrip("_")
        if name in ex.UNITS and name not in self.model.names():
            return repr(float(ex.UNITS[name]))
        return name

    def visit_Name(self, node: ast.Name) -> str:
        return self.name(node.id)

    def visit_Constant(self, node: ast.Constant) -> str:
        if isinstance(node.value, bool):
            return "true" if node.value else "false"
        return repr(float(node.value))  # never an integer literal: 17/18 must not be integer division

    def visit_BinOp(self, node: ast.BinOp) -> str:
        op = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**"}[type(node.op)]
        return f"({self.visit(node.left)} {op} {self.visit(node.right)})"

    def visit_UnaryOp(self, node: ast.UnaryOp) -> str:
        op = {ast.USub: "-", ast.UAdd: "+", ast.Not: "not "}[type(node.op)]
        return f"({op}{self.visit(node.operand)})"

    def visit_BoolOp(self, node: ast.BoolOp) -> str:
        op = " and " if isinstance(node.op, ast.And) else " or "
        return "(" + op.join(self.visit(v) for v in node.values) + ")"

    def visit_Compare(self, node: ast.Compare) -> str:
        op = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!="}[type(node.ops[0])]
        return f"({self.visit(node.left)} {op} {self.visit(node.comparators[0])})"

    def visit_Call(self, node: ast.Call) -> str:
        name = node.func.id
        if name == "randn" and not node.args:  # Brian2's white-noise increment: a standard normal number
            return "random_normal(0.0, 1.0)"
        if name not in FUNCTIONS:
            raise UnsupportedFeatureError(
                f"model {self.model.name!r}: the NESTML generator cannot print function {name!r}"
            )
        target = FUNCTIONS[name]
        if target is None:
            raise UnsupportedFeatureError(
                f"model {self.model.name!r} uses {name}(), which NESTML does not provide; "
                "it cannot be generated for NEST"
            )
        args = [self.visit(a) for a in node.args]
        if name == "sqrt":
            return f"pow({args[0]}, 0.5)"
        if target.startswith("sn_"):
            self.functions_used.add(target)
        return f"{target}({', '.join(args)})"

    def generic_visit(self, node: ast.AST) -> str:
        raise UnsupportedFeatureError(f"the NESTML generator cannot print {ast.unparse(node)!r}")

    def expression(self, text: str) -> str:
        return self.visit(ast.parse(text, mode="eval").body)


@dataclass(frozen=True)
class _Statement:
    target: str
    expression: str
    declare: bool
    op: str = "="


def _abstract_code(model: NeuronModel, frozen: frozenset[str]) -> list[tuple[str, str]]:
    """Brian2's integration step as (target, expression) pairs.

    Variables in ``frozen`` (those flagged ``(unless refractory)`` during refractoriness) get a
    zero derivative, exactly as Brian2 multiplies their derivative by ``not_refractory``.
    """
    import brian2
    from brian2.stateupdaters.base import StateUpdateMethod, UnsupportedEquationsException

    lines = []
    for line in lower(model, "constant").equations.splitlines():
        name = line.split("/dt", 1)[0][1:] if line.startswith("d") and "/dt" in line.split("=")[0] else None
        if name in frozen:  # held constant through the step: a parameter of the step
            eq = next(e for e in model.equations if e.name == name)
            lines.append(f"{name} : {brian2_unit(eq.dimension)}")
        else:
            lines.append(line.replace(" (unless refractory)", ""))
    if not any("/dt" in line.split("=")[0] for line in lines):
        return []
    method = model.numerics.method
    stored, code = _stored_step(lines, method)
    if code is None:
        try:
            code = StateUpdateMethod.stateupdaters[method](brian2.Equations("\n".join(lines)), {})
        except UnsupportedEquationsException as exc:
            raise UnsupportedFeatureError(
                f"model {model.name!r}: method {method!r} cannot integrate these equations for target 'nestml' ({exc})"
            ) from None
        _store(stored, code)
    pairs = []
    for statement in code.strip().splitlines():
        target, _, expression = statement.partition(" = ")
        pairs.append((target.strip(), expression.strip()))
    return pairs


def _hoisted(model: NeuronModel, pairs: list[tuple[str, str]], tag: str):
    """Brian2's loop-invariant hoisting of a step: (invariants, statements).

    Brian2 evaluates what depends only on parameters and ``dt`` once per run (``_lio_`` values)
    and the rest per neuron and step; the same split, computed by Brian2's own optimiser with the
    model's parameters as constants, goes into NESTML's ``internals`` (computed once per neuron
    when its parameters are set) and the update block. Both simulators then evaluate the same
    expressions, and NEST no longer calls ``exp`` per neuron and step for constants.
    """
    import re

    from brian2.codegen.optimisation import optimise_statements
    from brian2.codegen.translation import make_statements
    from brian2.core.functions import DEFAULT_FUNCTIONS
    from brian2.core.variables import ArrayVariable, Constant
    from brian2.devices import get_device

    if not pairs:
        return [], []
    code = "\n".join(f"{target} = {expression}" for target, expression in pairs)
    parameters = model.parameter_values()
    variables: dict = dict(DEFAULT_FUNCTIONS)
    names = {n.id for _, e in pairs for n in ast.walk(ast.parse(e, mode="eval")) if isinstance(n, ast.Name)}
    for name in names | {target for target, _ in pairs}:
        if name in DEFAULT_FUNCTIONS:
            continue
        if name in parameters or name == "dt" or (name in ex.UNITS and name not in model.names()):
            variables[name] = Constant(name, value=1.0)  # a value that is the same in every step
        else:
            variables[name] = ArrayVariable(name, owner=None, size=1, device=get_device())
    scalar, vector = make_statements(code, variables, float)
    scalar, vector = optimise_statements(scalar, vector, variables)

    def rename(text: str) -> str:  # the held version of the step gets its own invariants
        return re.sub(r"\b_lio_(\d+)\b", rf"_lio{tag}_\1", text)

    invariants = [(rename(s.var), rename(s.expr)) for s in scalar]
    return invariants, [(rename(s.var), rename(s.expr)) for s in vector]


def _stored_step(lines: list[str], method: str) -> tuple[Path, str | None]:
    """Where Brian2's step for these equations is kept, and the step kept there (``None`` when
    there is none, or it did not match its digest: it is then removed with a
    :class:`~sourced_neuron.common.cache.CacheWarning` and derived again). Deriving it (sympy;
    ``exact`` solves the linear system symbolically) can take seconds, and a process that only
    loads a cached NEST module must not pay that."""
    import brian2

    from sourced_neuron.common.cache import load_text

    key = hashlib.sha256(json.dumps([lines, method, brian2.__version__]).encode()).hexdigest()
    path = cache_root() / "steps" / f"{key}.txt"
    return path, load_text(path)


def _store(path: Path, text: str) -> None:
    """Keep a derived step, with its digest, for later processes (written atomically); a cache
    folder that cannot be written (full, read-only) only costs deriving it again next time."""
    from sourced_neuron.common.cache import store_text

    try:
        store_text(path, text)
    except OSError:
        pass


def nestml_model_name(model: NeuronModel, inputs: Inputs = ALL_INPUTS) -> str:
    """The NESTML/NEST model name: the model name and a short hash of the generated structure
    (so versions with other :class:`Inputs` have names of their own)."""
    return f"{model.name}_sn{structure_hash(model, inputs)[:10]}"


def structure_hash(model: NeuronModel, inputs: Inputs = ALL_INPUTS) -> str:
    """Hash of what is compiled: the generated code without parameter and initial values."""
    return hashlib.sha256(render(model, values=False, name="model", inputs=inputs).encode()).hexdigest()


@dataclass(frozen=True)
class NestmlSource:
    """Generated NESTML and what the NEST backend needs to drive it."""

    text: str
    model_name: str
    parameters: tuple[str, ...]
    states: tuple[str, ...]


_TEMPLATES = jinja2.Environment(
    loader=jinja2.FunctionLoader(
        lambda name: resources.files("sourced_neuron.codegen.templates").joinpath(name).read_text(encoding="utf-8")
    ),
    undefined=jinja2.StrictUndefined,
    keep_trailing_newline=True,
    autoescape=False,  # noqa: S701 - NESTML source; every name and expression was checked and printed here
    trim_blocks=True,
    lstrip_blocks=True,
)


def _check_supported(model: NeuronModel) -> None:
    if model.numerics.method == "rkf45" and "t" in _names(model):
        raise UnsupportedFeatureError(
            f"model {model.name!r}: method 'rkf45' with equations that read t is not generated for target 'nestml'"
        )
    if model.is_stochastic and model.numerics.method == "rkf45":
        raise UnsupportedFeatureError(
            f"model {model.name!r}: method 'rkf45' cannot integrate white noise (xi); use 'euler'"
        )


def render(model: NeuronModel, values: bool = True, name: str | None = None, inputs: Inputs = ALL_INPUTS) -> str:
    """The NESTML source of ``model`` (``values=False`` leaves parameter values out, for hashing)
    with the input ports of ``inputs``."""
    _check_supported(model)
    upper = [port.name.upper() for port in model.synapses]
    if len(set(upper)) != len(upper):
        raise UnsupportedFeatureError(
            f"model {model.name!r}: NEST names receptor ports in upper case, so port names must differ in more "
            f"than case ({', '.join(p.name for p in model.synapses)})"
        )
    printer = _Printer(model)
    flagged = frozenset(e.name for e in model.equations if "unless refractory" in e.flags)
    held = [e.name for e in model.equations if e.kind == "subexpression" and "constant over dt" in e.flags]

    def statements(pairs: list[tuple[str, str]]) -> list[_Statement]:
        result = []
        for target, expression in pairs:
            declared = target.startswith("_") or ex.is_noise(target)  # temporaries and noise increments
            result.append(_Statement(printer.name(target), printer.expression(expression), declared))
        return result

    subexpressions = {e.name: e.expression for e in model.equations if e.kind == "subexpression"}
    adaptive = model.numerics.method == "rkf45"
    odes, inlines, integrate_held, invariants = [], [], None, []
    if adaptive:  # NESTML's GSL rkf45 (see docs/semantics.md), with the ODEs in SI units per ms (NEST's time unit)
        normal, refractory = [], []
        odes = [(e.name, printer.expression(e.expression)) for e in model.equations if e.kind == "differential"]
        inlines = [(name, printer.expression(subexpressions[name])) for name in _ordered(subexpressions, held)]
        if flagged and model.refractory:
            integrate_held = [e.name for e in model.equations if e.kind == "differential" and e.name not in flagged]
    else:
        invariants_normal, step = _hoisted(model, _abstract_code(model, frozenset()), "")
        normal = statements(step)
        invariants = [(printer.name(n), printer.expression(e)) for n, e in invariants_normal]
        refractory = []
        if flagged and model.refractory:
            invariants_held, step = _hoisted(model, _abstract_code(model, flagged), "r")
            refractory = statements(step)
            invariants += [(printer.name(n), printer.expression(e)) for n, e in invariants_held]
    needed_after = _needed_subexpressions(model, subexpressions, held)
    reset = []
    for statement in model.reset:
        target, op, rhs = statement.split(" ", 2)
        reset.append(_Statement(printer.name(target), printer.expression(rhs), False, op))
    parameter_values = model.parameter_values()
    initial = model.initial_values()
    states = [e for e in model.equations if e.name in model.per_neuron_variables]
    refractory_kind = model.refractory.kind if model.refractory else None
    duration = None
    if refractory_kind in ("duration", "expression"):
        duration = printer.expression(model.refractory.expression)
    ports = [(port.name, *_receive(printer, port, model.membrane_potential)) for port in inputs.ports(model)]
    text = _TEMPLATES.get_template("nestml_model.nestml.j2").render(
        model=model,
        name=name or nestml_model_name(model, inputs),
        values=values,
        states=[(e.name, repr(float(_si(initial.get(e.name, 0.0)))), brian2_unit(e.dimension)) for e in states],
        parameters=[
            (pname, repr(float(_si(value))), brian2_unit(ex.get_dimensions(value)))
            for pname, value in parameter_values.items()
        ],
        uses_time="t" in _names(model),
        held=[(h, printer.expression(subexpressions[h])) for h in held],
        normal=normal,
        refractory=refractory,
        # a name is declared once per update block in NESTML, not per branch: with two versions of
        # the step, their temporaries are declared before the branches
        declarations=sorted({s.target for s in normal + refractory if s.declare}) if refractory else [],
        held_in_refractoriness=bool(flagged and model.refractory),
        odes=odes,
        inlines=inlines,
        invariants=invariants,
        integrate_held=integrate_held,
        refractory_kind=refractory_kind,
        refractory_duration=duration,
        refractory_condition=printer.expression(model.refractory.expression)
        if refractory_kind == "condition"
        else None,
        after=[(s, printer.expression(subexpressions[s])) for s in needed_after],
        threshold=printer.expression(model.threshold) if model.threshold else None,
        reset=reset,
        functions=sorted(printer.functions_used),
        ports=ports,
        current_port=inputs.current,
        input_current="I_ext / 1 pA * 1e-12 + I_stim + sn_I_second" if inputs.current else "I_stim",
        # the watch for non-finite states (docs/semantics.md), switched on by parameter sn_check_finite
        watched=[(state, nonfinite_flag(state)) for state in model.state_variables],
        nonfinite_time=NONFINITE_TIME,
        largest=LARGEST,
        # ports that write a variable held while refractory: Brian2's conditional write drops
        # such writes while the neuron is refractory (docs/semantics.md)
        guarded=sorted({target for _, target, _, _ in ports if target in flagged}) if model.refractory else [],
    )
    return text


def _receive(printer: _Printer, port, membrane_potential: str | None) -> tuple[str, str, str]:
    """The statement of a port's ``onReceive`` block: the weights of this step's spikes (SI)."""
    target, op, expression = port.on_spike(SPIKE_WEIGHT, membrane_potential)
    weight = f"({port.name} * 1 s)"  # inside onReceive a spike port is the weight times a delta (1/s)
    return printer.name(target), op, printer.expression(expression).replace(SPIKE_WEIGHT, weight)


def _names(model: NeuronModel) -> set[str]:

    return model.names_used


def _ordered(subexpressions: dict[str, str], held: list[str], roots=None) -> list[str]:
    """The subexpressions that are not held (those ``roots`` read, default all), each after those it reads."""
    order: list[str] = []

    def visit(name: str) -> None:
        if name in order or name in held or name not in subexpressions:
            return
        for dependency in sorted(ex.names_in(ex.parse(subexpressions[name]))):
            visit(dependency)
        order.append(name)

    for name in subexpressions if roots is None else roots:
        visit(name)
    return order


def _needed_subexpressions(model: NeuronModel, subexpressions: dict[str, str], held: list[str]) -> list[str]:
    """Subexpressions the threshold, reset or refractory condition read, in dependency order."""
    texts = [model.threshold or ""] + [s.split(" ", 2)[2] for s in model.reset]
    if model.refractory is not None:
        # the refractory condition is read before the step, where only held subexpressions exist
        early = ex.names_in(ex.parse(model.refractory.expression)) & (subexpressions.keys() - set(held))
        if early:
            raise UnsupportedFeatureError(
                f"model {model.name!r}: a refractory condition that reads subexpression(s) "
                f"{', '.join(sorted(early))} is not generated for target 'nestml' in this version"
            )
    roots = [name for text in texts if text for name in sorted(ex.names_in(ex.parse(text)))]
    return _ordered(subexpressions, held, roots)


def generate(model: NeuronModel, inputs: Inputs = ALL_INPUTS) -> NestmlSource:
    """Generated NESTML for the NEST backend, with the names it needs to set parameters and states."""
    text = render(model, inputs=inputs)
    name = nestml_model_name(model, inputs)
    return NestmlSource(text, name, model.parameter_names, model.per_neuron_variables)


def export_nestml(model: NeuronModel) -> str:
    """The NESTML model (target ``"nestml"`` of :func:`sourced_neuron.export`)."""
    return render(model)


def nestml_synapse_name(synapse) -> str:
    """The NESTML name of a synapse model (NESTML treats names ending in ``_synapse`` as synapses)."""
    return f"{synapse.name}_sn{synapse.structure_hash()[:10]}_synapse"


def render_synapse(synapse) -> str:
    """The NESTML source of a synapse model.

    The event-driven update is Brian2's (``linear`` on the synapse's equations, with ``dt``
    replaced by the time since the last event), printed like a neuron's integration step.
    Parameter and initial values are left at 0: the backend sets them per connection, so
    the compiled model does not depend on them.
    """
    import re

    import brian2
    from brian2.stateupdaters.exact import linear

    from sourced_neuron.spec.synapses import WEIGHT

    printer = _Printer(synapse)
    update: list[tuple[str, str]] = []
    if synapse.equations:
        lines = [f"d{eq.name}/dt = {eq.expression} : {brian2_unit(eq.dimension)}" for eq in synapse.equations]
        stored, code = _stored_step(lines, "event-driven")
        if code is None:
            code = linear(brian2.Equations("\n".join(lines)), {})
            _store(stored, code)
        for statement in code.strip().splitlines():
            target, _, expression = statement.partition(" = ")
            update.append((target.strip(), re.sub(r"\bdt\b", "(t - sn_lastupdate)", expression.strip())))
    declared: set[str] = set()

    def block(statements: list[tuple[str, str, str]]) -> list[str]:
        lines, local = [], set()
        for target, op, expression in statements:
            name = printer.name(target)
            printed = printer.expression(expression)
            if (
                name not in synapse.names()
                or name.startswith("sn_tmp_")
                or target
                not in (
                    WEIGHT,
                    *synapse.variables,
                )
            ):
                if name not in local:
                    local.add(name)
                    lines.append(f"{name} real = {printed}")
                    continue
            lines.append(f"{name} {op} {printed}")
        declared.update(local)
        return lines

    events = [(t, "=", e) for t, e in update]
    on_pre = block(events + [tuple(s.split(" ", 2)) for s in synapse.on_pre])
    on_post = block(events + [tuple(s.split(" ", 2)) for s in synapse.on_post]) if synapse.on_post else []
    return _TEMPLATES.get_template("nestml_synapse.nestml.j2").render(
        synapse=synapse,
        name=nestml_synapse_name(synapse),
        variables=synapse.variables,
        parameters=[(name, "weight" if v is None else brian2_unit(v.dimension)) for name, v in synapse.parameters],
        on_pre=on_pre,
        on_post=on_post,
        transmit=printer.expression(synapse.transmit),
    )
