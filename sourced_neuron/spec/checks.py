"""Reading and checking model files: every model object is made from what these checks return.

All checks run before any code is generated, and all problems of a file are reported
together, each with the file, field and line: YAML safety, known keys, names (undefined,
unused, duplicated, reserved), the whitelist of expression syntax, and the dimensions of
every equation, threshold, reset, refractory period, parameter, initial value, preset
and receptor port.
"""

from __future__ import annotations

from sourced_neuron.common import brian2_import  # noqa: F401 - before Brian2: keeps the user's excepthook

# isort: split

import ast
import keyword
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from brian2.units.fundamentalunits import DIMENSIONLESS, Dimension, Quantity, get_dimensions

from sourced_neuron.common import files
from sourced_neuron.common.errors import Diagnostic, InputError, ModelError, did_you_mean
from sourced_neuron.spec import expressions as ex
from sourced_neuron.spec import yamlsafe
from sourced_neuron.spec.parts import (
    AMP,
    INPUT,
    MAX_DT,
    METHODS,
    MIN_DT,
    RKF45_ERROR_RANGE,
    SECOND,
    SYNAPTIC_CURRENT,
    VOLT,
    Bounds,
    Equation,
    InitialValue,
    Numerics,
    Preset,
    ReceptorPort,
    Refractory,
    Value,
    dimension_exponents,
    receptor_equations,
    receptor_parameters,
)

__all__ = ["RESET_RE", "ModelChecker", "check_model", "names_used", "read_model_text"]

KEYS = (
    "name",
    "description",
    "references",
    "equations",
    "threshold",
    "reset",
    "refractory",
    "parameters",
    "initial",
    "presets",
    "numerics",
    "synapses",
)
REQUIRED = ("name", "equations", "parameters")
DEFAULT_DT = "0.1 ms"

FLAGS = {
    "differential": ("unless refractory",),
    "subexpression": ("constant over dt",),
    "parameter": ("constant",),
}

# Names with a meaning of their own in the simulators, or in the C++ and NESTML code generated from models.
RESERVED = frozenset(
    {"t", "dt", "i", "N", "xi", "lastspike", "not_refractory", "timestep", "t_in_timesteps", "pi", "e", "inf"}
)
CPP_KEYWORDS = frozenset(
    """alignas alignof and and_eq asm auto bitand bitor bool break case catch char char8_t char16_t char32_t class
    compl concept const consteval constexpr constinit const_cast continue co_await co_return co_yield decltype
    default delete do double dynamic_cast else enum explicit export extern false float for friend goto if inline
    int long mutable namespace new noexcept not not_eq nullptr operator or or_eq private protected public register
    reinterpret_cast requires return short signed sizeof static static_assert static_cast struct switch template
    this thread_local throw true try typedef typeid typename union unsigned using virtual void volatile wchar_t
    while xor xor_eq NULL main std real integer boolean string void recordables state parameters internals
    equations input output update function inline kernel neuron synapse model onReceive onCondition emit_spike
    integrate_odes steps resolution timestep max min convolve""".split()
)

_DIFF_RE = re.compile(r"^d\s*(?P<name>\S+?)\s*/\s*dt\s*=(?P<expr>.*)$")
_SUB_RE = re.compile(r"^(?P<name>[^=\s]+)\s*=(?P<expr>.*)$")
_FLAGS_RE = re.compile(r"^(?P<unit>.*?)\s*\((?P<flags>[A-Za-z_ ,]+)\)\s*$")
_MODEL_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")
RESET_RE = re.compile(r"^(?P<target>[^=+\-*/\s]+)\s*(?P<op>=|\+=|-=|\*=|/=)(?P<expr>.*)$")
_SYNAPSE_KEYS = ("type", "kernel", "tau", "E_rev")


def read_model_text(path: str | Path) -> tuple[str, str]:
    """The text of the model file at ``path`` and the name to report it under.

    Raises
    ------
    ModelError
        The file cannot be read (missing, not a regular file, too large, not text).
    """
    try:
        path = files.as_path(path, "model file")
        return files.read_text(path, "model file", yamlsafe.MAX_BYTES), str(path)
    except InputError as exc:
        raise ModelError(Diagnostic(str(exc), str(path))) from None


def check_model(text: str, source: str = "<string>") -> dict[str, Any]:
    """Check YAML text of a model and return the parts of the model it describes.

    The result holds the fields of a :class:`~sourced_neuron.spec.model.NeuronModel` (which
    :func:`sourced_neuron.spec.model.build_model` makes from it).

    Raises
    ------
    ModelError
        With every problem found (file, field, line and message for each).
    """
    data, locator = yamlsafe.load(text, str(source))
    return ModelChecker(data, locator).check()


def _short(text: str, limit: int = 40) -> str:
    """``text`` cut to ``limit`` characters for a message (a message quotes a file, never copies it)."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def names_used(equations, threshold, reset, refractory, initial) -> set[str]:
    """Every name read by a model's expressions (equations, threshold, reset, refractoriness, initial values)."""
    used: set[str] = set()
    texts = [e.expression for e in equations if e.expression]
    texts += [threshold] if threshold else []
    texts += [stmt.split("=", 1)[1] for stmt in reset]
    texts += [refractory.expression] if refractory else []
    texts += [v.expression for v in initial.values()]
    for t in texts:
        used |= ex.names_in(ex.parse(t))
    return used


class ModelChecker:
    """Runs every check on loaded YAML data, collecting diagnostics, and returns the model's parts.

    Subclassed by the synapse-model checks (:mod:`sourced_neuron.spec.synapses`), which share its
    expression, unit and name checks.
    """

    def __init__(self, data: Any, locator: yamlsafe.Locator):
        self.data = data
        self.loc = locator
        self.problems: list[Diagnostic] = []
        self.symbols: dict[str, Dimension] = {}  # every name an expression may read, with its dimension
        self.kinds: dict[str, str] = {}
        # variables whose equation had a bad expression: declared, so they cause no follow-up errors
        self.broken: dict[str, tuple[str, Dimension]] = {}
        self.bounds: dict[str, Bounds] = {}

    # --- reporting -------------------------------------------------------------------------

    def problem(self, message: str, *path, offset: int | None = None) -> None:
        self.problems.append(self.loc.diagnostic(message, *path, offset=offset))

    def parse(self, text: str, *path, offset: int | None = None) -> ast.expr | None:
        try:
            return ex.parse(text)
        except ex.ExpressionError as exc:
            self.problem(str(exc), *path, offset=offset)
            return None

    # --- the checks -----------------------------------------------------------------------

    def check(self) -> dict[str, Any]:
        """Every check; the fields of the model, or :class:`ModelError` with every problem."""
        if not isinstance(self.data, dict):
            raise ModelError(self.loc.diagnostic("a model file must be a mapping of keys such as 'name', 'equations'"))
        if not any(key in KEYS for key in self.data):
            # not a model file at all (a wrong path, say): name none of its content
            raise ModelError(
                self.loc.diagnostic(
                    f"this is not a model file: none of its {len(self.data)} top-level keys is a model key "
                    f"({', '.join(REQUIRED)}, ...)"
                )
            )
        for key in self.data:
            if key not in KEYS:
                shown = _short(str(key))
                self.problem(f"unknown key {shown!r}{did_you_mean(str(key), KEYS)}; keys: {', '.join(KEYS)}", shown)
        for key in REQUIRED:
            if key not in self.data:
                self.problem(f"missing required key {key!r}")
        name = self.model_name()
        description = self.text_field("description")
        references = self.references()
        parameters = self.parameters()
        equations = self.equations()
        synapses = self.synapses()
        self.add_receptor_ports(synapses, equations, parameters)
        self.declare(equations, parameters)
        self.check_equations(equations)
        threshold = self.condition("threshold")
        refractory = self.refractory()
        reset = self.reset(equations)
        self.check_flags(equations, refractory)
        initial = self.initial(equations)
        presets = self.presets(equations, parameters)
        numerics = self.numerics(equations)
        used = names_used(equations, threshold, reset, refractory, initial)
        for parameter in parameters:
            if equations and parameter not in used and parameter in self.symbols:
                self.problem(
                    f"parameter {parameter!r} is never used in the equations, threshold, reset, "
                    "refractory or initial values",
                    "parameters",
                    parameter,
                )
        if not self.problems:
            self.evaluate_initial(parameters, initial, presets, equations, numerics)
        if self.problems:
            raise ModelError(self.problems)
        return dict(
            name=name,
            description=description,
            references=references,
            equations=tuple(equations),
            parameters=tuple(parameters.items()),
            threshold=threshold,
            reset=tuple(reset),
            refractory=refractory,
            initial=tuple(initial.items()),
            presets=tuple(presets),
            numerics=numerics,
            synapses=tuple(synapses),
            bounds=tuple((name, self.bounds[name]) for name in parameters if name in self.bounds),
            source=self.loc.source,
        )

    def model_name(self) -> str:
        name = self.data.get("name")
        if name is None:
            return ""
        if not isinstance(name, str) or not _MODEL_NAME_RE.match(name):
            self.problem(f"model name {name!r} must match [a-z][a-z0-9_]*", "name")
            return ""
        return name

    def text_field(self, key: str) -> str:
        value = self.data.get(key, "")
        if value is None:
            return ""
        if not isinstance(value, str):
            self.problem(f"{key} must be text", key)
            return ""
        return value.strip()

    def references(self) -> tuple[str, ...]:
        refs = self.data.get("references", [])
        if refs is None:
            return ()
        if not isinstance(refs, list) or not all(isinstance(r, str) for r in refs):
            self.problem("references must be a list of strings", "references")
            return ()
        return tuple(r.strip() for r in refs)

    def check_identifier(self, name: Any, what: str, *path) -> bool:
        if not isinstance(name, str):
            self.problem(f"{what} {name!r} must be a name", *path)
            return False
        try:
            ex.check_name(name, what)
        except ex.ExpressionError as exc:
            self.problem(str(exc), *path)
            return False
        reason = None
        if name in ex.UNITS:
            reason = "is the name of a unit"
        elif name in ex.FUNCTIONS:
            reason = "is the name of a function"
        elif name in RESERVED or ex.is_noise(name):
            reason = "is reserved by the simulators"
        elif keyword.iskeyword(name) or keyword.issoftkeyword(name) or name in CPP_KEYWORDS:
            reason = "is a keyword of the generated code"
        elif name.startswith("sn_"):
            reason = "starts with 'sn_', which is reserved for generated names"
        if reason:
            self.problem(f"{what} {name!r} {reason}; choose another name", *path)
            return False
        return True

    def literal(self, raw: Any, *path) -> Value | None:
        """A constant such as ``-65 mV``, ``0.02`` or ``1 uF/cm**2`` (units only, no other names)."""
        if isinstance(raw, bool) or raw is None or isinstance(raw, dict | list):
            self.problem(f"expected a value such as '-65 mV' or 0.02, got {raw!r}", *path)
            return None
        text = raw if isinstance(raw, str) else repr(raw)
        try:
            tree = ex.parse_value(text)
            names = ex.names_in(tree)
            others = sorted(n for n in names if n not in ex.UNITS)
            if others:
                raise ex.ExpressionError(
                    f"{', '.join(map(repr, others))} in {text!r} is not a unit (a value is NUMBER UNIT, e.g. '-65 mV')"
                )
            if ex.infer_dimension(tree, ex.unit_lookup_dimension) is ex.BOOLEAN:
                raise ex.ExpressionError(f"{text!r} is a condition, not a value such as '-65 mV'")
            quantity = ex.evaluate(tree, ex.UNITS.__getitem__)
        except ex.ExpressionError as exc:
            self.problem(str(exc), *path)
            return None
        if not isinstance(quantity, float) and getattr(quantity, "shape", ()) != ():
            self.problem(f"{text!r} is not a single value", *path)
            return None
        return Value.of(quantity, text.strip())

    def parameters(self) -> dict[str, Value]:
        raw = self.data.get("parameters")
        if raw is None:
            return {}
        if not isinstance(raw, dict):
            self.problem("parameters must be a mapping of name: value", "parameters")
            return {}
        result = {}
        for name, value in raw.items():
            if not self.check_identifier(name, "parameter", "parameters", name):
                continue
            if name == INPUT:
                self.problem(
                    f"{INPUT} is the injected current, set by the stimulus, not a parameter", "parameters", name
                )
                continue
            if isinstance(value, dict):
                parsed = self.bounded(name, value)
            else:
                parsed = self.literal(value, "parameters", name)
            if parsed is not None:
                result[name] = parsed
        return result

    def bounded(self, name: str, spec: dict) -> Value | None:
        """A parameter written ``{value: 10 ms, above: 0 ms}``: its value, its bounds kept in
        :attr:`bounds` (see :class:`~sourced_neuron.spec.model.Bounds`)."""
        path = ("parameters", name)
        for key in spec:
            if key != "value" and key not in Bounds.KEYS:
                hint = did_you_mean(str(key), ("value", *Bounds.KEYS))
                self.problem(
                    f"parameter {name!r}: unknown key {_short(str(key))!r}{hint}; a bounded parameter is "
                    "{value: ..., min: ..., max: ..., above: ..., below: ...}",
                    *path,
                )
                return None
        if "value" not in spec:
            self.problem(
                f"parameter {name!r} is a mapping without 'value' (write {{value: 10 ms, above: 0 ms}})", *path
            )
            return None
        value = self.literal(spec["value"], *path, "value")
        limits = {key: self.literal(spec[key], *path, key) for key in Bounds.KEYS if key in spec}
        if value is None or any(v is None for v in limits.values()):
            return None
        for key, limit in limits.items():
            if limit.dimension != value.dimension:
                self.problem(
                    f"parameter {name!r}: {key} {limit.text!r} has units of {ex.dimension_text(limit.dimension)} "
                    f"but the value has units of {ex.dimension_text(value.dimension)}",
                    *path,
                    key,
                )
                return None
        bounds = Bounds(**limits)
        lower = [limits[k].magnitude for k in ("min", "above") if k in limits]
        upper = [limits[k].magnitude for k in ("max", "below") if k in limits]
        if lower and upper and max(lower) > min(upper):
            self.problem(f"parameter {name!r}: its bounds leave no value allowed", *path)
            return None
        rule = bounds.violation(value.magnitude)
        if rule is not None:
            self.problem(f"parameter {name!r} = {value.text!r} {rule}", *path, "value")
            return None
        self.bounds[name] = bounds
        return value

    def equations(self) -> list[Equation]:
        raw = self.data.get("equations")
        if raw is None:
            return []
        if isinstance(raw, str):
            lines = [(line, ("equations",), offset) for offset, line in enumerate(raw.split("\n"))]
        elif isinstance(raw, list) and all(isinstance(item, str) for item in raw):
            lines = [(item, ("equations", index), 0) for index, item in enumerate(raw)]
        else:
            self.problem("equations must be a block of text, one equation per line", "equations")
            return []
        result = []
        for text, path, offset in lines:
            code = text.split("#", 1)[0].strip()
            if code:
                eq = self.equation(code, path, offset)
                if eq is not None:
                    result.append(eq)
        if not result and not any(p.field.startswith("equations") for p in self.problems):
            self.problem("the model has no equations", "equations")
        return result

    def equation(self, code: str, path: tuple, offset: int) -> Equation | None:
        line = self.loc.text_line(path, offset)

        def fail(message: str) -> None:
            self.problems.append(Diagnostic(message, self.loc.source, ".".join(map(str, path)), line))

        lhs, colon, rhs = code.rpartition(":")
        if not colon:
            fail(f"equation {code!r} has no ': unit' (write e.g. 'dv/dt = (E_L - v)/tau : volt')")
            return None
        unit_text, flags = rhs.strip(), ()
        match = _FLAGS_RE.match(unit_text)
        if match and match.group("unit").strip():
            unit_text = match.group("unit").strip()
            flags = tuple(" ".join(f.split()) for f in match.group("flags").split(",") if f.strip())
        lhs = lhs.strip()
        if m := _DIFF_RE.match(lhs):
            kind, name, expr_text = "differential", m.group("name"), m.group("expr")
        elif m := _SUB_RE.match(lhs):
            kind, name, expr_text = "subexpression", m.group("name"), m.group("expr")
        else:
            kind, name, expr_text = "parameter", lhs, None
        try:
            ex.check_name(name, "variable")
        except ex.ExpressionError as exc:
            fail(f"{exc} in equation {code!r}")
            return None
        try:
            unit_tree = ex.parse(unit_text)
            bad = sorted(n for n in ex.names_in(unit_tree) if n not in ex.UNITS)
            if bad:
                raise ex.ExpressionError(f"{', '.join(map(repr, bad))} is not a unit")
            unit_value = ex.evaluate(unit_tree, ex.UNITS.__getitem__)
        except ex.ExpressionError as exc:
            fail(f"bad unit {unit_text!r} in equation {code!r}: {exc}")
            return None
        for flag in flags:
            if flag not in FLAGS[kind]:
                allowed = ", ".join(f"({f})" for f in FLAGS[kind])
                fail(f"flag ({flag}) is not allowed on a {kind} equation (allowed: {allowed}) in {code!r}")
                return None
        expression = None
        if expr_text is not None:
            try:
                expression = ex.normalise(ex.parse(expr_text))
            except ex.ExpressionError as exc:
                fail(f"{exc} in equation {code!r}")
                self.broken[name] = (kind, get_dimensions(unit_value))
                return None
        return Equation(
            kind=kind,
            name=name,
            expression=expression,
            dims=dimension_exponents(get_dimensions(unit_value)),
            flags=flags,
            unit=ex.normalise(unit_tree),
            line=line,
        )

    def declare(self, equations: list[Equation], parameters: dict[str, Value]) -> None:
        """Build the symbol table and report duplicate and reserved names."""
        self.symbols = {"t": SECOND, "dt": SECOND, INPUT: AMP}
        seen: dict[str, Equation] = {}
        for eq in equations:
            where = ("equations",)
            if eq.name in seen:
                self.problems.append(
                    Diagnostic(
                        f"{eq.name!r} is defined twice in the equations (first on line {seen[eq.name].line})",
                        self.loc.source,
                        "equations",
                        eq.line,
                    )
                )
                continue
            seen[eq.name] = eq
            if eq.name == INPUT:
                if eq.kind != "parameter" or eq.dimension != AMP:
                    self.problems.append(
                        Diagnostic(
                            f"{INPUT} is the injected current: it may only be declared as '{INPUT} : amp'",
                            self.loc.source,
                            "equations",
                            eq.line,
                        )
                    )
                continue
            before = len(self.problems)
            self.check_identifier(eq.name, "variable", *where)
            if len(self.problems) > before:
                self.problems[-1] = Diagnostic(self.problems[-1].message, self.loc.source, "equations", eq.line)
                continue
            if eq.name in parameters and eq.kind != "parameter":
                self.problems.append(
                    Diagnostic(
                        f"{eq.name!r} is both a {eq.kind} variable and a parameter",
                        self.loc.source,
                        "equations",
                        eq.line,
                    )
                )
                continue
            if eq.name in parameters and parameters[eq.name].dimension != eq.dimension:
                self.problem(
                    f"parameter {eq.name!r} is declared with units {ex.dimension_text(eq.dimension)} in the "
                    f"equations but its value {parameters[eq.name].text!r} has units "
                    f"{ex.dimension_text(parameters[eq.name].dimension)}",
                    "parameters",
                    eq.name,
                )
            self.symbols[eq.name] = eq.dimension
            self.kinds[eq.name] = eq.kind
        for name, (kind, dim) in self.broken.items():
            self.symbols.setdefault(name, dim)
            self.kinds.setdefault(name, kind)
        for name, value in parameters.items():
            if name not in self.symbols:
                self.symbols[name] = value.dimension
                self.kinds[name] = "constant"

    def lookup(self, name: str) -> Dimension:
        if name in self.symbols:
            return self.symbols[name]
        if name in ex.UNITS:
            return get_dimensions(ex.UNITS[name])
        if ex.is_noise(name):
            return SECOND**-0.5
        raise ex.ExpressionError(f"undefined name {name!r}{did_you_mean(name, self.symbols)}")

    def dimension(self, tree: ast.expr, context: str, *path, offset: int | None = None):
        try:
            return ex.infer_dimension(tree, self.lookup)
        except ex.ExpressionError as exc:
            self.problem(f"{context}: {exc}", *path, offset=offset)
            return None

    def check_equations(self, equations: list[Equation]) -> None:
        for eq in equations:
            if eq.expression is None:
                continue
            tree = ex.parse(eq.expression)
            where = Diagnostic("", self.loc.source, "equations", eq.line)
            try:
                dim = ex.infer_dimension(tree, self.lookup)
            except ex.ExpressionError as exc:
                self.problems.append(Diagnostic(f"in {eq.text()!r}: {exc}", where.source, where.field, where.line))
                continue
            need = eq.dimension / SECOND if eq.kind == "differential" else eq.dimension
            lhs = f"d{eq.name}/dt" if eq.kind == "differential" else eq.name
            if dim is ex.BOOLEAN or dim != need:
                self.problems.append(
                    Diagnostic(
                        f"dimension mismatch in {eq.text()!r}: the right-hand side has units of "
                        f"{ex.dimension_text(dim)} but {lhs} needs {ex.dimension_text(need)}",
                        where.source,
                        where.field,
                        where.line,
                    )
                )
        self.check_cycles(equations)

    def check_cycles(self, equations: list[Equation]) -> None:
        subs = {e.name: ex.names_in(ex.parse(e.expression)) for e in equations if e.kind == "subexpression"}
        lines = {e.name: e.line for e in equations}
        state: dict[str, int] = {}

        def visit(name: str, trail: list[str]) -> None:
            if state.get(name) == 2:
                return
            if state.get(name) == 1:
                cycle = [*trail[trail.index(name) :], name]
                self.problems.append(
                    Diagnostic(
                        f"subexpressions depend on each other in a cycle: {' -> '.join(cycle)}",
                        self.loc.source,
                        "equations",
                        lines[name],
                    )
                )
                return
            state[name] = 1
            for dep in sorted(subs[name] & subs.keys()):
                visit(dep, [*trail, name])
            state[name] = 2

        for name in subs:
            visit(name, [])

    def condition(self, key: str) -> str | None:
        raw = self.data.get(key)
        if raw is None:
            return None
        if not isinstance(raw, str):
            self.problem(f"{key} must be a condition such as 'v > V_th', got {raw!r}", key)
            return None
        tree = self.parse(raw, key)
        if tree is None:
            return None
        dim = self.dimension(tree, f"{key} {raw.strip()!r}", key)
        if dim is not None and dim is not ex.BOOLEAN:
            self.problem(
                f"{key} {raw.strip()!r} must be a condition, but it has units of {ex.dimension_text(dim)}", key
            )
        return ex.normalise(tree)

    def refractory(self) -> Refractory | None:
        raw = self.data.get("refractory")
        if raw is None:
            return None
        if not isinstance(raw, str):
            self.problem(
                f"refractory must be a duration ('2 ms'), a parameter name or a condition, got {raw!r}", "refractory"
            )
            return None
        try:
            tree = ex.parse_value(raw)
        except ex.ExpressionError as exc:
            self.problem(str(exc), "refractory")
            return None
        dim = self.dimension(tree, f"refractory {raw.strip()!r}", "refractory")
        if dim is None:
            return None
        if dim is ex.BOOLEAN:
            return Refractory("condition", ex.normalise(tree), raw.strip())
        if dim != SECOND:
            self.problem(
                f"refractory {raw.strip()!r} must be a duration or a condition, but it has units of "
                f"{ex.dimension_text(dim)} (needs {ex.dimension_text(SECOND)})",
                "refractory",
            )
            return None
        constant = all(n in ex.UNITS for n in ex.names_in(tree))
        return Refractory("duration" if constant else "expression", ex.normalise(tree), raw.strip())

    def reset(self, equations: list[Equation]) -> list[str]:
        raw = self.data.get("reset")
        if raw is None:
            return []
        if not isinstance(raw, str):
            self.problem("reset must be text, one statement per line (e.g. 'v = V_reset')", "reset")
            return []
        writable = {e.name for e in equations if e.kind in ("differential", "parameter") and e.name != INPUT}
        writable |= {name for name, (kind, _) in self.broken.items() if kind == "differential"}
        result = []
        for offset, line in enumerate(raw.split("\n")):
            code = line.split("#", 1)[0].strip()
            if not code:
                continue
            match = RESET_RE.match(code)
            if not match:
                self.problem(
                    f"reset statement {code!r} must be 'name = expr' or 'name += expr'", "reset", offset=offset
                )
                continue
            target, op = match.group("target"), match.group("op")
            if target not in writable:
                what = "a constant parameter" if target in self.symbols else "not a state variable"
                self.problem(
                    f"reset statement {code!r} assigns to {target!r}, which is {what}{did_you_mean(target, writable)}",
                    "reset",
                    offset=offset,
                )
                continue
            tree = self.parse(match.group("expr"), "reset", offset=offset)
            if tree is None:
                continue
            dim = self.dimension(tree, f"reset statement {code!r}", "reset", offset=offset)
            if dim is None:
                continue
            need = DIMENSIONLESS if op in ("*=", "/=") else self.symbols[target]
            if dim is ex.BOOLEAN or dim != need:
                self.problem(
                    f"dimension mismatch in reset statement {code!r}: {target} has units of "
                    f"{ex.dimension_text(self.symbols[target])} but the right-hand side has units of "
                    f"{ex.dimension_text(dim)}",
                    "reset",
                    offset=offset,
                )
                continue
            result.append(f"{target} {op} {ex.normalise(tree)}")
        return result

    def evaluate_initial(
        self,
        parameters: dict[str, Value],
        initial: dict[str, InitialValue],
        presets: list[Preset],
        equations: list[Equation],
        numerics: Numerics,
    ) -> None:
        """Evaluate the initial values, then every subexpression and derivative at the initial
        state (``t = 0``, no input), with the default parameters and with every preset.

        A value that cannot be computed there (``1/0*mV``, an overflow, ``log(0)`` of a state
        that starts at 0, ``exp`` of a huge constant) is found here, not at run time: the first
        step of a run would compute the same value and stop with a non-finite state."""
        cases = [(None, parameters, initial)]
        cases += [(p, parameters | dict(p.parameters), initial | dict(p.initial)) for p in presets]
        for preset, params, values in cases:
            known: dict[str, Any] = {name: value.quantity for name, value in params.items()}

            def lookup(name: str, known: dict = known) -> Any:
                return known[name] if name in known else ex.UNITS[name]

            failed = False
            for name in [*initial, *(n for n in values if n not in initial)]:
                try:
                    known[name] = ex.evaluate(ex.parse(values[name].expression), lookup)
                except ex.ExpressionError as exc:
                    message = f"initial value of {name!r}, {values[name].text!r}, {exc.reason}"
                    if preset is None:
                        self.problem(message, "initial", name)
                    elif name in dict(preset.initial):
                        self.problem(f"preset {preset.name!r}: {message}", "presets", preset.name, name)
                    else:
                        self.problem(
                            f"with the values of preset {preset.name!r}, the {message}", "presets", preset.name
                        )
                    failed = True
                    break
            if not failed:
                self.evaluate_start(equations, known, numerics, preset)

    def evaluate_start(
        self, equations: list[Equation], known: dict[str, Any], numerics: Numerics, preset: Preset | None
    ) -> None:
        """Evaluate the subexpressions (in the order they depend on each other) and the derivatives
        at the initial state; report the first that is not a finite real number."""
        state = dict(known)
        state.update(t=0.0 * ex.UNITS["second"], dt=numerics.dt.quantity)
        state[INPUT] = 0.0 * ex.UNITS["amp"]
        for eq in equations:  # states and per-neuron parameters without an initial value start at 0
            if eq.kind in ("differential", "parameter") and eq.name not in state:
                state[eq.name] = 0.0 if eq.dimension == DIMENSIONLESS else Quantity(0.0, dim=eq.dimension)

        def lookup(name: str) -> Any:
            if name in state:
                return state[name]
            if ex.is_noise(name):
                return 0.0 * ex.UNITS["second"] ** -0.5
            return ex.UNITS[name]

        subexpressions = {e.name: e for e in equations if e.kind == "subexpression"}
        order: list[str] = []

        def visit(name: str) -> None:
            if name in order or name not in subexpressions:
                return
            order.append(name)  # placeholder against cycles (refused earlier)
            for dependency in sorted(ex.names_in(ex.parse(subexpressions[name].expression))):
                visit(dependency)
            order.remove(name)
            order.append(name)

        for name in subexpressions:
            visit(name)
        where = f" with preset {preset.name!r}" if preset else ""
        for eq in [*(subexpressions[n] for n in order), *(e for e in equations if e.kind == "differential")]:
            try:
                value = ex.evaluate(ex.parse(eq.expression), lookup)
            except ex.ExpressionError as exc:
                self.problems.append(
                    Diagnostic(
                        f"{eq.text()!r} {exc.reason} at the initial state{where} (t = 0, no input): the first step "
                        "of a run would compute it",
                        self.loc.source,
                        "equations" if eq.port is None else "synapses",
                        eq.line,
                    )
                )
                return
            if eq.kind == "subexpression":
                state[eq.name] = value

    def check_flags(self, equations: list[Equation], refractory: Refractory | None) -> None:
        for eq in equations:
            if "unless refractory" in eq.flags and refractory is None:
                self.problems.append(
                    Diagnostic(
                        f"equation {eq.text()!r} uses (unless refractory) but the model has no 'refractory'",
                        self.loc.source,
                        "equations",
                        eq.line,
                    )
                )

    def value_expression(self, raw: Any, dim: Dimension, context: str, allowed: Callable[[str], bool], *path):
        """An initial value: a constant or an expression over the names ``allowed`` accepts."""
        if isinstance(raw, bool) or raw is None or isinstance(raw, dict | list):
            self.problem(f"{context}: expected a value or an expression, got {raw!r}", *path)
            return None
        text = raw if isinstance(raw, str) else repr(raw)
        try:
            tree = ex.parse_value(text)
        except ex.ExpressionError as exc:
            self.problem(f"{context}: {exc}", *path)
            return None
        for name in sorted(ex.names_in(tree)):
            if name not in ex.UNITS and not allowed(name):
                self.problem(
                    f"{context}: {text!r} may not use {name!r} here (only parameters, units and states "
                    f"initialised before it){did_you_mean(name, self.symbols)}",
                    *path,
                )
                return None
        have = self.dimension(tree, context, *path)
        if have is None:
            return None
        if have is ex.BOOLEAN or have != dim:
            self.problem(
                f"{context}: {text.strip()!r} has units of {ex.dimension_text(have)} but the variable "
                f"has units of {ex.dimension_text(dim)}",
                *path,
            )
            return None
        return InitialValue(ex.normalise(tree), text.strip())

    def initial(self, equations: list[Equation]) -> dict[str, InitialValue]:
        raw = self.data.get("initial")
        if raw is None:
            return {}
        if not isinstance(raw, dict):
            self.problem("initial must be a mapping of state variable: value", "initial")
            return {}
        variables = {e.name for e in equations if e.kind in ("differential", "parameter") and e.name != INPUT}
        variables |= {name for name, (kind, _) in self.broken.items() if kind == "differential"}
        done: set[str] = set()
        result = {}
        for name, value in raw.items():
            if name not in variables:
                self.problem(
                    f"initial value for {name!r}, which is not a state variable{did_you_mean(str(name), variables)}",
                    "initial",
                    name,
                )
                continue
            if name not in self.symbols:  # its equation was refused (a reserved name): reported there
                continue
            init = self.value_expression(
                value,
                self.symbols[name],
                f"initial value of {name!r}",
                lambda n: self.kinds.get(n) == "constant" or n in done,
                "initial",
                name,
            )
            done.add(name)
            if init is not None:
                result[name] = init
        for eq in equations:
            if (
                eq.kind == "parameter"
                and eq.name != INPUT
                and eq.name not in result
                and eq.name not in self.data.get("parameters", {})
            ):
                self.problems.append(
                    Diagnostic(
                        f"per-neuron parameter {eq.name!r} has no value: give it one under 'parameters' or 'initial'",
                        self.loc.source,
                        "equations",
                        eq.line,
                    )
                )
        return result

    def presets(self, equations: list[Equation], parameters: dict[str, Value]) -> list[Preset]:
        raw = self.data.get("presets")
        if raw is None:
            return []
        if not isinstance(raw, dict):
            self.problem("presets must be a mapping of preset name: {parameter: value}", "presets")
            return []
        states = {e.name for e in equations if e.kind in ("differential", "parameter")}
        result = []
        for preset, entries in raw.items():
            if not isinstance(preset, str) or not _MODEL_NAME_RE.match(preset):
                self.problem(f"preset name {preset!r} must match [a-z][a-z0-9_]*", "presets", preset)
                continue
            if not isinstance(entries, dict) or not entries:
                self.problem(f"preset {preset!r} must be a non-empty mapping of parameter: value", "presets", preset)
                continue
            params, initial = [], []
            for name, value in entries.items():
                path = ("presets", preset, name)
                if name in parameters:
                    parsed = self.literal(value, *path)
                    if parsed is None:
                        continue
                    if parsed.dimension != parameters[name].dimension:
                        self.problem(
                            f"preset {preset!r}: {name} = {parsed.text!r} has units of "
                            f"{ex.dimension_text(parsed.dimension)} but the parameter has units of "
                            f"{ex.dimension_text(parameters[name].dimension)}",
                            *path,
                        )
                        continue
                    rule = self.bounds[name].violation(parsed.magnitude) if name in self.bounds else None
                    if rule is not None:
                        self.problem(f"preset {preset!r}: {name} = {parsed.text!r} {rule}", *path)
                        continue
                    params.append((name, parsed))
                elif name in states:
                    init = self.value_expression(
                        value,
                        self.symbols[name],
                        f"preset {preset!r}: initial value of {name!r}",
                        lambda n: self.kinds.get(n) == "constant",
                        *path,
                    )
                    if init is not None:
                        initial.append((name, init))
                else:
                    self.problem(
                        f"preset {preset!r} sets {name!r}, which is neither a parameter nor a state variable"
                        f"{did_you_mean(str(name), list(parameters) + sorted(states))}",
                        *path,
                    )
            result.append(Preset(preset, tuple(params), tuple(initial)))
        return result

    def numerics(self, equations: list[Equation]) -> Numerics:
        raw = self.data.get("numerics")
        noisy = any(e.expression and any(map(ex.is_noise, ex.names_in(ex.parse(e.expression)))) for e in equations)
        default = Numerics("euler" if noisy else "rk4", Value.of(0.1 * ex.UNITS["ms"], DEFAULT_DT))
        if raw is None:
            return default
        if not isinstance(raw, dict):
            self.problem("numerics must be a mapping with 'method' and 'dt'", "numerics")
            return default
        for key in raw:
            if key not in ("method", "dt", "abs_error"):
                self.problem(
                    f"unknown key {key!r} in numerics{did_you_mean(str(key), ('method', 'dt', 'abs_error'))}",
                    "numerics",
                    key,
                )
        method = raw.get("method", default.method)
        if method not in METHODS:
            self.problem(
                f"unknown method {method!r}{did_you_mean(str(method), METHODS)}; methods: {', '.join(METHODS)}",
                "numerics",
                "method",
            )
            method = default.method
        dt = default.dt
        if "dt" in raw:
            parsed = self.literal(raw["dt"], "numerics", "dt")
            if parsed is not None:
                if parsed.dimension != SECOND:
                    self.problem(
                        f"dt {parsed.text!r} must be a duration, it has units of {ex.dimension_text(parsed.dimension)}",
                        "numerics",
                        "dt",
                    )
                elif not MIN_DT <= parsed.magnitude <= MAX_DT:
                    self.problem(
                        f"dt {parsed.text!r} must be from 1 ns to 1 s (docs/semantics.md, 'Limits')", "numerics", "dt"
                    )
                else:
                    dt = parsed
        if noisy and method != "euler":
            self.problem(
                f"method {method!r} cannot integrate equations with white noise (xi); use 'euler'", "numerics", "method"
            )
        abs_error = default.abs_error
        if "abs_error" in raw:
            value = raw["abs_error"]
            low, high = RKF45_ERROR_RANGE
            if method != "rkf45":
                self.problem(
                    f"abs_error is the error bound of method 'rkf45', not of {method!r}", "numerics", "abs_error"
                )
            elif isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
                self.problem(
                    f"abs_error must be a number from {low:g} to {high:g} (the absolute error per sub-step of every "
                    f"state variable, in SI units), got {value!r}",
                    "numerics",
                    "abs_error",
                )
            else:
                abs_error = float(value)
        return Numerics(method, dt, abs_error)

    def synapses(self) -> list[ReceptorPort]:
        raw = self.data.get("synapses")
        if raw is None:
            return []
        if not isinstance(raw, dict):
            self.problem("synapses must be a mapping of port name: {type, kernel, tau, E_rev}", "synapses")
            return []
        result = []
        for port, spec in raw.items():
            path = ("synapses", port)
            if not self.check_identifier(port, "receptor port", *path):
                continue
            if not isinstance(spec, dict):
                self.problem(f"receptor port {port!r} must be a mapping with type, kernel, tau, E_rev", *path)
                continue
            for key in spec:
                if key not in _SYNAPSE_KEYS:
                    self.problem(
                        f"unknown key {key!r} in receptor port {port!r}{did_you_mean(str(key), _SYNAPSE_KEYS)}",
                        *path,
                        key,
                    )
            kind, kernel = spec.get("type"), spec.get("kernel")
            if kind not in ("current", "conductance"):
                self.problem(
                    f"receptor port {port!r}: type must be 'current' or 'conductance', got {kind!r}", *path, "type"
                )
                continue
            if kernel not in ("delta", "exp", "alpha"):
                self.problem(
                    f"receptor port {port!r}: kernel must be 'delta', 'exp' or 'alpha', got {kernel!r}", *path, "kernel"
                )
                continue
            tau = e_rev = None
            if kernel == "delta":
                if "tau" in spec:
                    self.problem(f"receptor port {port!r}: a delta kernel has no time constant", *path, "tau")
            else:
                tau = self.port_value(spec, "tau", SECOND, port, path)
            if kind == "conductance":
                e_rev = self.port_value(spec, "E_rev", VOLT, port, path)
                if kernel == "delta":
                    self.problem(
                        f"receptor port {port!r}: a conductance port needs an 'exp' or 'alpha' kernel", *path, "kernel"
                    )
            elif "E_rev" in spec:
                self.problem(f"receptor port {port!r}: a current port has no reversal potential", *path, "E_rev")
            result.append(ReceptorPort(port, kind, kernel, tau, e_rev))
        return result

    def add_receptor_ports(
        self, ports: list[ReceptorPort], equations: list[Equation], parameters: dict[str, Value]
    ) -> None:
        """Append the equations and parameters the receptor ports define (see ReceptorPort)."""
        if not ports:
            return
        if len(ports) != len(self.data.get("synapses") or {}) or any(
            (p.kernel != "delta" and p.tau is None) or (p.type == "conductance" and p.E_rev is None) for p in ports
        ):  # a port was already reported: declare I_syn, so that its use causes no follow-up errors
            self.broken[SYNAPTIC_CURRENT] = ("subexpression", AMP)
            return
        membrane = next((e.name for e in equations if e.kind == "differential" and e.dimension == VOLT), None)
        for port in ports:
            if membrane is None and (port.type == "conductance" or port.kernel == "delta"):
                self.problem(
                    f"receptor port {port.name!r} acts on the membrane potential, but the model has no state "
                    "variable in volt",
                    "synapses",
                    port.name,
                )
                return
        defined = {e.name for e in equations} | set(parameters)
        added = receptor_equations(tuple(ports), membrane)
        extra = receptor_parameters(tuple(ports))
        clashes = False
        for name in [e.name for e in added] + list(extra):
            if name in defined:
                owner = next((e.port for e in added if e.name == name), None)
                owner = owner or next(p.name for p in ports if name in (p.tau_name, p.reversal_name))
                what = f"receptor port {owner!r} defines" if owner else "the receptor ports define"
                self.problem(
                    f"{what} {name!r}, which the model also defines; rename it in the model "
                    f"(the ports' names are g_/I_/x_/tau_/E_<port> and {SYNAPTIC_CURRENT})",
                    "synapses",
                    *((owner,) if owner else ()),
                )
                clashes = True
        if clashes:
            self.broken[SYNAPTIC_CURRENT] = ("subexpression", AMP)
            return
        texts = [e.expression for e in equations if e.expression]
        used = set().union(*(ex.names_in(ex.parse(t)) for t in texts)) if texts else set()
        if any(e.name == SYNAPTIC_CURRENT for e in added) and SYNAPTIC_CURRENT not in used:
            self.problem(
                f"the receptor ports' current reaches the model only through {SYNAPTIC_CURRENT}; add it to the "
                f"membrane equation, e.g. '... + {SYNAPTIC_CURRENT}'",
                "synapses",
            )
        equations.extend(added)
        parameters.update(extra)
        for port in ports:  # a port's time constant is positive, as when the file gave it
            if port.tau_name:
                self.bounds[port.tau_name] = Bounds(above=Value.of(0.0 * ex.UNITS["ms"], "0 ms"))

    def port_value(self, spec: dict, key: str, dim: Dimension, port: str, path: tuple) -> Value | None:
        if key not in spec:
            self.problem(f"receptor port {port!r} needs {key!r}", *path)
            return None
        value = self.literal(spec[key], *path, key)
        if value is not None and value.dimension != dim:
            self.problem(
                f"receptor port {port!r}: {key} {value.text!r} has units of "
                f"{ex.dimension_text(value.dimension)}, needs {ex.dimension_text(dim)}",
                *path,
                key,
            )
            return None
        if value is not None and key == "tau" and value.magnitude <= 0:
            self.problem(f"receptor port {port!r}: tau must be positive", *path, key)
            return None
        return value
