"""The expression whitelist, dimension inference and evaluation (backend-independent)."""

from __future__ import annotations

import pytest
from brian2.units.fundamentalunits import DIMENSIONLESS, get_dimensions

from sourced_neuron.spec import expressions as ex

VOLT = get_dimensions(ex.UNITS["volt"])
SECOND = get_dimensions(ex.UNITS["second"])
DIMS = {"v": VOLT, "E_L": VOLT, "tau": SECOND, "a": DIMENSIONLESS}


def lookup(name):
    if name in DIMS:
        return DIMS[name]
    return ex.unit_lookup_dimension(name)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("(E_L - v)/tau", VOLT / SECOND),
        ("exp((v - E_L)/mV) * mV", VOLT),
        ("sqrt(v*v)", VOLT),
        ("v**2/mV", VOLT),
        ("clip(v, E_L, 0*mV)", VOLT),
        ("minimum(v, E_L)", VOLT),
        ("sign(v)", DIMENSIONLESS),
        ("a**a", DIMENSIONLESS),
        ("v > E_L and not (a < 1)", ex.BOOLEAN),
    ],
)
def test_dimensions_of_valid_expressions(text, expected):
    assert ex.infer_dimension(ex.parse(text), lookup) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("v + tau", "addition/subtraction in 'v + tau': volt and second do not match"),
        ("exp(v)", "the argument of exp() in 'exp(v)' must be dimensionless, it has units of volt"),
        ("v ** a", "a quantity with units (volt) can only be raised to a constant number"),
        ("v > tau", "comparison in 'v > tau': volt and second do not match"),
        ("clip(v, tau, E_L)", "arguments of clip() in 'clip(v, tau, E_L)': volt and second do not match"),
        ("v and E_L", "'and'/'or' need conditions"),
        ("v ** 100", "exponent 100.0 in 'v ** 100' is too large"),
    ],
)
def test_dimension_errors_name_expression_and_both_units(text, message):
    with pytest.raises(ex.ExpressionError, match=None) as info:
        ex.infer_dimension(ex.parse(text), lookup)
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("v.real", "attribute access is not allowed"),
        ("v[0]", "subscripting is not allowed"),
        ("'text'", "a str literal is not allowed"),
        ("lambda: 0", "a lambda is not allowed"),
        ("__import__('os')", "function '__import__'"),
        ("open('f')", "function 'open'"),
        ("exp(x=1)", "keyword or starred arguments"),
        ("a < v < E_L", "a chained comparison"),
        ("v % 2", "operator Mod"),
        ("v // 2", "operator FloorDiv"),
        ("v if a else E_L", "IfExp is not allowed"),
        ("[v]", "List is not allowed"),
        ("f'{v}'", "JoinedStr is not allowed"),
        ("(x := 1)", "NamedExpr is not allowed"),
        ("exp(v, v)", "exp() with 2 arguments"),
        ("1e999", "a non-finite number"),
        ("(" * 300 + "v" + ")" * 300, "cannot parse"),
        ("+".join(["v"] * 200), "nested deeper than"),
        ("v\x00", "cannot parse"),
        ("ν", "not a plain ASCII identifier"),
        ("", "empty expression"),
    ],
)
def test_whitelist_refuses(text, message):
    with pytest.raises(ex.ExpressionError) as info:
        ex.parse(text)
    assert message in str(info.value)


def test_normalise_is_stable():
    text = "(E_L-v +  R_m*I_ext)/tau_m"
    once = ex.normalise(ex.parse(text))
    assert once == "(E_L - v + R_m * I_ext) / tau_m"
    assert ex.normalise(ex.parse(once)) == once


def test_values_and_evaluation():
    value = ex.evaluate(ex.parse_value("1 uF/cm**2"), ex.UNITS.__getitem__)
    assert float(value) == pytest.approx(0.01)  # 1 uF/cm^2 = 0.01 F/m^2
    assert float(ex.evaluate(ex.parse_value("-65 mV"), ex.UNITS.__getitem__)) == pytest.approx(-0.065)
    assert float(ex.evaluate(ex.parse_value("2 s"), ex.UNITS.__getitem__)) == 2.0
    assert ex.evaluate(ex.parse("exprel(0)"), ex.UNITS.__getitem__) == 1.0
    with pytest.raises(ex.ExpressionError, match="is not a unit"):
        ex.parse_value("3 volts")
    # constant parts are evaluated when parsed: an overflow never reaches a simulator
    with pytest.raises(ex.ExpressionError, match=r"the constant '10.0 \*\* 400 \* mV' .* is too large"):
        ex.parse("v + 10.0**400*mV")
    with pytest.raises(ex.ExpressionError, match="divides by zero"):
        ex.evaluate(ex.parse("1/x"), {"x": 0.0}.__getitem__)
    with pytest.raises(ex.ExpressionError, match="not a real number"):
        ex.evaluate(ex.parse("x**0.5"), {"x": -2.0}.__getitem__)
    assert ex.evaluate(ex.parse("1e-320*x"), {"x": 1e-10}.__getitem__) == 0.0  # underflow is not an error


def test_dimension_text_is_readable():
    assert ex.dimension_text(VOLT / SECOND) == "volt / second"
    assert ex.dimension_text(get_dimensions(ex.UNITS["amp"]) / get_dimensions(ex.UNITS["meter"]) ** 2) == (
        "amp / meter ** 2"
    )
    assert ex.dimension_text(DIMENSIONLESS) == "1 (dimensionless)"
