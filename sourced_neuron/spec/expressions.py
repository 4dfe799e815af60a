"""Expressions of model files: parsing with a whitelist, dimensions, evaluation.

Every expression of a model file goes through :func:`parse` before anything else looks
at it. It is parsed with :mod:`ast` (never evaluated by Python) and only the node types,
names and functions that the model format allows pass. Everything downstream (dimension
checks, value evaluation, code generation) works on the parsed tree or on the normalised
text that :func:`normalise` prints from it, so no text from a model file reaches a
simulator unchecked.
"""

from __future__ import annotations

from sourced_neuron.common import brian2_import  # noqa: F401 - before Brian2: keeps the user's excepthook

# isort: split

import ast
import math
import re
import warnings
from collections.abc import Callable, Mapping

import brian2.units
import numpy as np
from brian2.core.namespace import DEFAULT_UNITS
from brian2.units.fundamentalunits import (
    DIMENSIONLESS,
    Dimension,
    DimensionMismatchError,
    Quantity,
    get_dimensions,
    get_unit,
)

__all__ = [
    "BOOLEAN",
    "FUNCTIONS",
    "UNITS",
    "ExpressionError",
    "dimension_text",
    "evaluate",
    "infer_dimension",
    "is_noise",
    "names_in",
    "normalise",
    "parse",
    "parse_value",
]

#: Units that Brian2 exports but does not put in its default namespace; lowering adds them.
EXTRA_UNITS: Mapping[str, Quantity] = {
    name: getattr(brian2.units, name) for name in ("mS", "cmeter", "cmetre") if name not in DEFAULT_UNITS
}

#: Unit names usable in expressions: Brian2's units with every SI prefix.
UNITS: Mapping[str, Quantity] = {**DEFAULT_UNITS, **EXTRA_UNITS}

#: Allowed functions and how many arguments each takes.
FUNCTIONS: Mapping[str, int] = {
    **dict.fromkeys(
        "exp log log10 sqrt sin cos tan sinh cosh tanh arcsin arccos arctan abs sign floor ceil exprel".split(),
        1,
    ),
    "clip": 3,
    "minimum": 2,
    "maximum": 2,
}

_TRANSCENDENTAL = frozenset("exp log log10 sin cos tan sinh cosh tanh arcsin arccos arctan exprel".split())
_SAME_UNIT = frozenset({"abs", "floor", "ceil", "clip", "minimum", "maximum"})

_BINOPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**"}
_CMPOPS = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!="}
_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_NUMBER_UNIT_RE = re.compile(r"^\s*([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)\s+([A-Za-z(].*)$")

#: Unit spellings accepted in ``NUMBER UNIT`` values only (they stay free as variable names).
VALUE_ALIASES = {"s": "second"}

MAX_LENGTH = 4000
MAX_DEPTH = 100
MAX_EXPONENT = 16


class ExpressionError(ValueError):
    """An expression is malformed, unsafe or dimensionally inconsistent.

    The caller attaches the file, field and line before reporting it. ``reason`` is the
    message without the expression (what :func:`evaluate` found wrong), where there is one.
    """

    def __init__(self, message: str, reason: str = ""):
        super().__init__(message)
        self.reason = reason or message


class _Boolean:
    """The type of conditions (comparisons, ``and``/``or``/``not``)."""

    def __repr__(self) -> str:
        return "boolean"


#: Marker returned by :func:`infer_dimension` for conditions.
BOOLEAN = _Boolean()


_NAMED = (
    "volt",
    "amp",
    "siemens",
    "farad",
    "ohm",
    "second",
    "meter",
    "coulomb",
    "mole",
    "molar",
    "joule",
    "watt",
    "kilogram",
    "kelvin",
)
_DENOMINATORS = ("", " / second", " / second ** 2", " * second", " / meter ** 2", " / meter ** 3", " * meter ** 2")


def dimension_text(dim: Dimension | _Boolean) -> str:
    """Return a readable name for a physical dimension, e.g. ``"volt / second"``."""
    if dim is BOOLEAN:
        return "boolean"
    if dim == DIMENSIONLESS:
        return "1 (dimensionless)"
    for suffix in _DENOMINATORS:
        for name in _NAMED:
            tree = ast.parse(f"{name}{suffix}", mode="eval").body
            if get_dimensions(evaluate(tree, UNITS.__getitem__)) == dim:
                return f"{name}{suffix}"
    if dim == get_dimensions(UNITS["second"]) ** -1:
        return "1 / second"
    return repr(get_unit(dim))


def parse(text: str) -> ast.expr:
    """Parse one expression and refuse anything outside the whitelist.

    Parameters
    ----------
    text : str
        The expression, e.g. ``"(E_L - v + R_m*I_ext)/tau_m"``.

    Returns
    -------
    ast.expr
        The body of the parsed expression.

    Raises
    ------
    ExpressionError
        The text is not an expression, is too long or deep, or uses a construct,
        name or function that model files may not use.
    """
    if not isinstance(text, str):
        raise ExpressionError(f"expected an expression, got {type(text).__name__} {text!r}")
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"expression longer than {MAX_LENGTH} characters")
    if not text.strip():
        raise ExpressionError("empty expression")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SyntaxWarning)  # e.g. '1and': refused below or parsed as intended
            tree = ast.parse(text.strip(), mode="eval")
    except (SyntaxError, ValueError, MemoryError, RecursionError) as exc:
        detail = getattr(exc, "msg", None) or str(exc) or type(exc).__name__
        raise ExpressionError(f"cannot parse {text.strip()!r}: {detail}") from None
    _check_depth(tree)
    for node in ast.walk(tree):
        _check_node(node, text.strip())
    _check_constants(tree.body, text.strip())
    return tree.body


def _is_constant(node: ast.expr) -> bool:
    """Whether ``node`` is a number: it reads no variable (numbers, units and functions of them only)."""
    for n in ast.walk(node):
        if isinstance(n, ast.Compare | ast.BoolOp):
            return False
        if isinstance(n, ast.Name) and n.id not in UNITS and n.id not in FUNCTIONS:
            return False
    return True


def _check_constants(node: ast.expr, text: str) -> None:
    """Evaluate every constant part of an expression (``2**1024``, ``1/0*mV``, ``(-1)**0.5``) and
    refuse it when it is not a finite real number, so no simulator or code generator meets it."""
    for n in ast.walk(node):  # x/0: SymPy would make it complex infinity ('zoo') in generated code
        if isinstance(n, ast.BinOp) and isinstance(n.op, ast.Div) and _is_constant(n.right):
            try:
                divisor = evaluate(n.right, UNITS.__getitem__)
            except ExpressionError:
                continue  # reported below, as a constant
            if not np.all(np.asarray(divisor) != 0):
                raise ExpressionError(f"{ast.unparse(n)!r} in {text!r} divides by zero", "divides by zero")
    stack = [node]
    while stack:
        current = stack.pop()
        if _is_constant(current):
            try:  # only constants whose units fit: the dimension checks report the others, better
                infer_dimension(current, unit_lookup_dimension)
            except ExpressionError:
                continue
        if isinstance(current, ast.Constant) or not _is_constant(current):
            stack.extend(child for child in ast.iter_child_nodes(current) if isinstance(child, ast.expr))
            continue
        if isinstance(current, ast.Name):
            continue  # a unit
        try:
            evaluate(current, UNITS.__getitem__)
            _check_exact_powers(current)
        except ExpressionError as exc:
            raise ExpressionError(f"the constant {ast.unparse(current)!r} in {text!r} {exc.reason}") from None


def _check_exact_powers(node: ast.expr) -> None:
    """Refuse a power of numbers whose exact value overflows a double (``2**-1074`` is 1/2**1074):
    code generators (SymPy) compute such powers exactly and then cannot print them."""
    for n in ast.walk(node):
        if isinstance(n, ast.BinOp) and isinstance(n.op, ast.Pow):
            base, exponent = _constant_value(n.left), _constant_value(n.right)
            if base is None or exponent is None:
                continue
            with np.errstate(over="ignore"):
                size = np.float64(abs(base)) ** np.float64(abs(exponent))
            if abs(base) > 1 and not np.isfinite(size):
                raise ExpressionError(
                    "", f"has a power ({ast.unparse(n)}) whose exact value {abs(base):g}**{abs(exponent):g} overflows"
                )


def _check_depth(tree: ast.AST) -> None:
    stack = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise ExpressionError(f"expression nested deeper than {MAX_DEPTH} levels")
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))


def _check_node(node: ast.AST, text: str) -> None:
    def refuse(what: str) -> None:
        snippet = ast.get_source_segment(text, node) if hasattr(node, "lineno") else None
        shown = f" {snippet!r}" if snippet else ""
        raise ExpressionError(f"{what} is not allowed in model expressions{shown} (in {text!r})")

    if isinstance(node, ast.Expression | ast.expr_context | ast.operator | ast.unaryop | ast.cmpop | ast.boolop):
        return  # operators are checked on their parent node
    if isinstance(node, ast.BinOp):
        if type(node.op) not in _BINOPS:
            refuse(f"operator {type(node.op).__name__}")
    elif isinstance(node, ast.UnaryOp):
        if not isinstance(node.op, ast.USub | ast.UAdd | ast.Not):
            refuse(f"operator {type(node.op).__name__}")
    elif isinstance(node, ast.BoolOp):
        if not isinstance(node.op, ast.And | ast.Or):
            refuse("this boolean operator")
    elif isinstance(node, ast.Compare):
        if len(node.ops) != 1:
            refuse("a chained comparison (write 'a < b and b < c')")
        if type(node.ops[0]) not in _CMPOPS:
            refuse(f"comparison {type(node.ops[0]).__name__}")
    elif isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name):
            refuse("calling anything but a listed function")
        if node.func.id not in FUNCTIONS:
            refuse(f"function {node.func.id!r} (allowed: {', '.join(sorted(FUNCTIONS))})")
        if node.keywords or any(isinstance(a, ast.Starred) for a in node.args):
            refuse("keyword or starred arguments")
        if len(node.args) != FUNCTIONS[node.func.id]:
            refuse(f"{node.func.id}() with {len(node.args)} arguments (it takes {FUNCTIONS[node.func.id]})")
    elif isinstance(node, ast.Name):
        check_name(node.id, what="name")
    elif isinstance(node, ast.Constant):
        if isinstance(node.value, bool):
            return
        if not isinstance(node.value, int | float):
            refuse(f"a {type(node.value).__name__} literal")
        if isinstance(node.value, float) and not math.isfinite(node.value):
            refuse("a non-finite number")
    elif isinstance(node, ast.Attribute):
        refuse("attribute access")
    elif isinstance(node, ast.Subscript):
        refuse("subscripting")
    elif isinstance(node, ast.Lambda):
        refuse("a lambda")
    else:
        refuse(type(node).__name__)


def check_name(name: str, what: str = "name") -> None:
    """Refuse identifiers that could not be printed safely into generated code."""
    if not _NAME_RE.match(name):
        if name.startswith("_"):
            raise ExpressionError(f"{what} {name!r} starts with an underscore, which is reserved")
        raise ExpressionError(f"{what} {name!r} is not a plain ASCII identifier ([A-Za-z][A-Za-z0-9_]*)")


def normalise(node: ast.expr) -> str:
    """Print a parsed expression in a canonical form (stable across formatting)."""
    return ast.unparse(node)


def names_in(node: ast.AST) -> set[str]:
    """Names used as variables (function names excluded)."""
    functions = {id(n.func) for n in ast.walk(node) if isinstance(n, ast.Call)}
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and id(n) not in functions}


def is_noise(name: str) -> bool:
    """Whether ``name`` is a white-noise source (``xi`` or ``xi_<name>``, Brian2's meaning)."""
    return name == "xi" or name.startswith("xi_")


# --- dimensions ----------------------------------------------------------------------------


def infer_dimension(node: ast.expr, lookup: Callable[[str], Dimension | _Boolean]) -> Dimension | _Boolean:
    """Return the physical dimension of an expression, or :data:`BOOLEAN` for a condition.

    Parameters
    ----------
    node : ast.expr
        A tree returned by :func:`parse`.
    lookup : callable
        Maps a variable name to its dimension; raises :class:`ExpressionError` for an
        unknown name.

    Raises
    ------
    ExpressionError
        Operands whose units do not fit, naming the sub-expression and both units.
    """

    def text(n: ast.AST) -> str:
        return ast.unparse(n)

    def mismatch(n: ast.AST, what: str, a, b) -> ExpressionError:
        return ExpressionError(f"{what} in {text(n)!r}: {dimension_text(a)} and {dimension_text(b)} do not match")

    def need_number(n: ast.expr, d, context: str) -> None:
        if d is BOOLEAN:
            raise ExpressionError(f"{context} in {text(n)!r} needs a number, not a condition")

    def visit(n: ast.expr):
        if isinstance(n, ast.Constant):
            return BOOLEAN if isinstance(n.value, bool) else DIMENSIONLESS
        if isinstance(n, ast.Name):
            return lookup(n.id)
        if isinstance(n, ast.UnaryOp):
            d = visit(n.operand)
            if isinstance(n.op, ast.Not):
                if d is not BOOLEAN:
                    raise ExpressionError(f"'not' needs a condition in {text(n)!r}")
                return BOOLEAN
            need_number(n, d, "a sign")
            return d
        if isinstance(n, ast.BoolOp):
            for v in n.values:
                if visit(v) is not BOOLEAN:
                    raise ExpressionError(f"'and'/'or' need conditions on both sides in {text(n)!r}")
            return BOOLEAN
        if isinstance(n, ast.Compare):
            a, b = visit(n.left), visit(n.comparators[0])
            if (a is BOOLEAN) != (b is BOOLEAN) or (a is not BOOLEAN and a is not b and a != b):
                raise mismatch(n, "comparison", a, b)
            return BOOLEAN
        if isinstance(n, ast.BinOp):
            a = visit(n.left)
            need_number(n, a, "arithmetic")
            if isinstance(n.op, ast.Pow):
                b = visit(n.right)
                if b is BOOLEAN or b != DIMENSIONLESS:
                    raise ExpressionError(
                        f"exponent in {text(n)!r} must be dimensionless, it has units of {dimension_text(b)}"
                    )
                if a == DIMENSIONLESS:
                    return DIMENSIONLESS
                exponent = _constant_value(n.right)
                if exponent is None:
                    raise ExpressionError(
                        f"in {text(n)!r} a quantity with units ({dimension_text(a)}) can only be raised to a "
                        "constant number"
                    )
                if abs(exponent) > MAX_EXPONENT:
                    raise ExpressionError(f"exponent {exponent} in {text(n)!r} is too large")
                return a**exponent
            b = visit(n.right)
            need_number(n, b, "arithmetic")
            if isinstance(n.op, ast.Add | ast.Sub):
                if a != b:
                    raise mismatch(n, "addition/subtraction", a, b)
                return a
            if isinstance(n.op, ast.Mult):
                return a * b
            return a / b
        if isinstance(n, ast.Call):
            name = n.func.id
            dims = [visit(arg) for arg in n.args]
            for d in dims:
                need_number(n, d, f"{name}()")
            if name in _TRANSCENDENTAL:
                if dims[0] != DIMENSIONLESS:
                    raise ExpressionError(
                        f"the argument of {name}() in {text(n)!r} must be dimensionless, it has units of "
                        f"{dimension_text(dims[0])}"
                    )
                return DIMENSIONLESS
            if name == "sqrt":
                return dims[0] ** 0.5
            if name == "sign":
                return DIMENSIONLESS
            if name in _SAME_UNIT:
                for d in dims[1:]:
                    if d != dims[0]:
                        raise mismatch(n, f"arguments of {name}()", dims[0], d)
                return dims[0]
        raise ExpressionError(f"unsupported expression {text(n)!r}")  # pragma: no cover - parse() refuses it

    return visit(node)


def _constant_value(node: ast.expr) -> float | None:
    """The value of a numeric literal such as ``2``, ``-1`` or ``(1/2)``, else None."""
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float) and not isinstance(node.value, bool):
        return float(node.value)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        v = _constant_value(node.operand)
        return None if v is None else (-v if isinstance(node.op, ast.USub) else v)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
        a, b = _constant_value(node.left), _constant_value(node.right)
        if a is not None and b:
            return a / b
    return None


# --- evaluation ----------------------------------------------------------------------------


def _exprel(x):
    x = np.asarray(x, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(x == 0, 1.0, np.expm1(x) / np.where(x == 0, 1.0, x))
    return out if out.ndim else float(out)


_FUNCTION_IMPLEMENTATIONS: Mapping[str, Callable] = {
    "exp": np.exp,
    "log": np.log,
    "log10": np.log10,
    "sqrt": np.sqrt,
    "sin": np.sin,
    "cos": np.cos,
    "tan": np.tan,
    "sinh": np.sinh,
    "cosh": np.cosh,
    "tanh": np.tanh,
    "arcsin": np.arcsin,
    "arccos": np.arccos,
    "arctan": np.arctan,
    "abs": np.abs,
    "sign": np.sign,
    "floor": np.floor,
    "ceil": np.ceil,
    "exprel": _exprel,
    "clip": np.clip,
    "minimum": np.minimum,
    "maximum": np.maximum,
}


def evaluate(node: ast.expr, lookup: Callable[[str], object]):
    """Evaluate a checked expression numerically (with Brian2 quantities), without ``eval``.

    Parameters
    ----------
    node : ast.expr
        A tree returned by :func:`parse` whose dimensions were checked.
    lookup : callable
        Maps a name to its value (a number or Brian2 quantity).

    Raises
    ------
    ExpressionError
        Arithmetic overflow or an invalid operation.
    """

    def visit(n: ast.expr):
        if isinstance(n, ast.Constant):
            return n.value if isinstance(n.value, bool) else np.float64(n.value)
        if isinstance(n, ast.Name):
            return lookup(n.id)
        if isinstance(n, ast.UnaryOp):
            v = visit(n.operand)
            if isinstance(n.op, ast.Not):
                return not v
            return -v if isinstance(n.op, ast.USub) else +v
        if isinstance(n, ast.BoolOp):
            values = [bool(visit(v)) for v in n.values]
            return all(values) if isinstance(n.op, ast.And) else any(values)
        if isinstance(n, ast.Compare):
            a, b = visit(n.left), visit(n.comparators[0])
            op = type(n.ops[0])
            return {
                ast.Lt: a < b,
                ast.LtE: a <= b,
                ast.Gt: a > b,
                ast.GtE: a >= b,
                ast.Eq: a == b,
                ast.NotEq: a != b,
            }[op]
        if isinstance(n, ast.BinOp):
            a, b = visit(n.left), visit(n.right)
            if isinstance(n.op, ast.Add):
                return a + b
            if isinstance(n.op, ast.Sub):
                return a - b
            if isinstance(n.op, ast.Mult):
                return a * b
            if isinstance(n.op, ast.Div):
                if not np.all(np.asarray(b) != 0):
                    raise ZeroDivisionError("division by zero")
                return a / b
            if get_dimensions(b) != DIMENSIONLESS:
                raise DimensionMismatchError("an exponent must be dimensionless", get_dimensions(b))
            b = np.asarray(b, dtype=float)
            b = float(b) if b.ndim == 0 else b  # Brian2 quantities take plain exponents
            if np.any(np.asarray(a) < 0) and not np.all(np.mod(b, 1) == 0):
                raise ArithmeticError("is not a real number (a negative number to a fractional power)")
            return a**b
        if isinstance(n, ast.Call):
            return _FUNCTION_IMPLEMENTATIONS[n.func.id](*[visit(a) for a in n.args])
        raise ExpressionError(f"cannot evaluate {ast.unparse(n)!r}")  # pragma: no cover

    def fail(reason: str) -> ExpressionError:
        return ExpressionError(f"{ast.unparse(node)!r} {reason}", reason)

    try:
        # underflow to zero or a subnormal number is the correct result, not an error
        with np.errstate(over="raise", divide="raise", invalid="raise", under="ignore"):
            result = visit(node)
    except ZeroDivisionError:
        raise fail("divides by zero") from None
    except (OverflowError, FloatingPointError, ArithmeticError) as exc:
        if isinstance(exc, OverflowError) or "overflow" in str(exc):
            reason = "is too large (overflow)"
        elif isinstance(exc, FloatingPointError):
            reason = "is not a real number (an invalid operation such as sqrt(-1), log(0) or inf - inf)"
        else:
            reason = str(exc)
        raise fail(reason) from None
    except DimensionMismatchError as exc:
        raise fail(f"has units that do not match ({exc.desc if hasattr(exc, 'desc') else exc})") from None
    except (TypeError, ValueError, RecursionError) as exc:  # e.g. a condition used as a number
        raise fail(f"cannot be evaluated ({type(exc).__name__}: {exc})") from None
    if np.iscomplexobj(np.asarray(result)):
        raise fail("is not a real number")
    if not isinstance(result, bool | np.bool_) and not np.all(np.isfinite(np.asarray(result, dtype=float))):
        raise fail("is not finite")
    if isinstance(result, np.floating):
        result = float(result)
    return result


def unit_lookup_dimension(name: str) -> Dimension:
    """Dimension of a unit name; :class:`ExpressionError` for anything else."""
    if name in UNITS:
        return get_dimensions(UNITS[name])
    raise ExpressionError(f"{name!r} is not a unit")


def parse_value(text: str) -> ast.expr:
    """Parse a value such as ``"-65 mV"``, ``"1 uF/cm**2"``, ``"0.02"`` or ``"b*v"``.

    ``NUMBER UNIT`` (a number, whitespace, a unit expression) is read as
    ``NUMBER * (UNIT)``; anything else must be an expression.
    """
    if not isinstance(text, str):
        raise ExpressionError(f"expected a value, got {type(text).__name__}")
    match = _NUMBER_UNIT_RE.match(text)
    if match:
        unit_tree = parse(match.group(2))
        for node in ast.walk(unit_tree):
            if isinstance(node, ast.Name) and node.id in VALUE_ALIASES:
                node.id = VALUE_ALIASES[node.id]
        for name in names_in(unit_tree):
            if name not in UNITS:
                raise ExpressionError(
                    f"{name!r} in {text.strip()!r} is not a unit (write a value as NUMBER UNIT, e.g. '-65 mV')"
                )
        number = parse(match.group(1))
        return ast.BinOp(left=number, op=ast.Mult(), right=unit_tree)
    return parse(text)
