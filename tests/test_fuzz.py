"""Fuzzing the model loader: any text gives a model or the package's ModelError, nothing else; and
whatever the checker accepts exports to every target and simulates."""

from __future__ import annotations

import random
import re
from collections import Counter

import pytest
from conftest import LIF_TEXT
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sourced_neuron as sn
from sourced_neuron import codegen
from sourced_neuron.common.errors import NonFiniteStateError
from sourced_neuron.spec.library import model_path

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def load(text: str) -> None:
    try:
        model = sn.NeuronModel.from_yaml(text)
    except sn.ModelError as exc:
        assert exc.diagnostics, "a ModelError must carry at least one diagnostic"
        assert all(str(d) for d in exc.diagnostics)
    else:
        assert sn.NeuronModel.from_yaml(model.to_yaml()) == model


@SETTINGS
@given(st.text(max_size=400))
def test_arbitrary_text(text):
    load(text)


@SETTINGS
@given(st.lists(st.sampled_from(LIF_TEXT.splitlines()), max_size=25))
def test_shuffled_lines_of_a_valid_model(lines):
    load("\n".join(lines))


TOKENS = [
    "v",
    "E_L",
    "tau_m",
    "R_m",
    "I_ext",
    "V_th",
    "mV",
    "ms",
    "1",
    "0.5",
    "-",
    "+",
    "*",
    "/",
    "**",
    "(",
    ")",
    "exp(",
    "sqrt(",
    "clip(",
    ",",
    " > ",
    " and ",
    "not ",
    "xi",
    "t",
    ":",
    "volt",
    "amp",
    "'",
    "[",
    ".",
    "_",
]


@SETTINGS
@given(st.lists(st.sampled_from(TOKENS), min_size=1, max_size=30), st.sampled_from(["equation", "threshold", "value"]))
def test_random_expressions_in_a_valid_model(tokens, where):
    expression = "".join(tokens)
    text = LIF_TEXT
    if where == "equation":
        text = text.replace("(E_L - v + R_m*I_ext)/tau_m", expression)
    elif where == "threshold":
        text = text.replace("threshold: v > V_th", f"threshold: {expression!r}")
    else:
        text = text.replace("tau_m: 10 ms", f"tau_m: {expression!r}")
    load(text)


@SETTINGS
@given(st.binary(max_size=200))
def test_arbitrary_bytes_decoded_leniently(data):
    load(data.decode("utf-8", errors="surrogateescape"))


# --- the whole path: file -> check -> export to every target -> a short simulation ---------------

#: Replacements for a number of a library file: values that overflow, underflow, divide by zero or
#: leave the reals once evaluated, and harmless ones.
HOSTILE_NUMBERS = [
    "1e308", "-1e308", "1e-320", "0", "-0", "2**1024", "1/0", "(-1)**0.5", "10**400", "-1", "1e9", "exp(1000)",
    "log(0)", "sqrt(-1)", "0.0", "1e-9", "3", "-65", "2**-1074", "1e300*1e300", "abs(-2)", "(1/3)", "-1e-300",
]  # fmt: skip
#: Replacements for a name: other variables, functions of them, reserved names.
HOSTILE_NAMES = [
    "t", "xi", "v", "exp(v/mV)", "log(v/mV)", "sqrt(v/mV)", "I_ext", "dt", "(1/0)", "abs(v)",
    "clip(v, 0*mV, 1*mV)", "arcsin(2)", "sign(v)", "exprel(v/mV)",
]  # fmt: skip
_NUMBER = re.compile(r"(?<![A-Za-z_0-9.])\d+(?:\.\d*)?(?:e[+-]?\d+)?")
_NAME = re.compile(r"(?<![A-Za-z_0-9])[A-Za-z_][A-Za-z_0-9]*")


def mutants(count: int, seed: int):
    """``count`` mutated library model files: a number or a name replaced, or a line deleted or
    repeated, after the description (the part the checker reads as model text)."""
    rng = random.Random(seed)
    texts = {name: model_path(name).read_text(encoding="utf-8") for name in sn.library_models()}
    for _ in range(count):
        name = rng.choice(sorted(texts))
        text = texts[name]
        start = text.index("equations:")
        kind = rng.random()
        if kind < 0.5:
            spot = rng.choice([m for m in _NUMBER.finditer(text) if m.start() > start])
            yield name, text[: spot.start()] + rng.choice(HOSTILE_NUMBERS) + text[spot.end() :]
        elif kind < 0.8:
            spot = rng.choice([m for m in _NAME.finditer(text) if m.start() > start])
            yield name, text[: spot.start()] + rng.choice(HOSTILE_NAMES) + text[spot.end() :]
        else:
            lines = text[start:].split("\n")
            k = rng.randrange(len(lines))
            if rng.random() < 0.5:
                del lines[k]
            else:
                lines.insert(k, lines[rng.randrange(len(lines))])
            yield name, text[:start] + "\n".join(lines)


def whole_path(text: str) -> str:
    """Check, export to every target and simulate 2 ms on brian2: what the checker accepts must
    export and simulate. Allowed outcomes besides success: a ModelError from the checker, a target
    that does not support a feature (named), and a run whose state stops being finite (defined
    behaviour, docs/semantics.md). Returns the outcome."""
    try:
        model = sn.NeuronModel.from_yaml(text)
    except sn.ModelError as exc:
        assert exc.diagnostics and all(str(d) for d in exc.diagnostics)
        return "refused"
    for target in codegen.REGISTRY:
        try:
            sn.export(model, target)
        except sn.UnsupportedFeatureError:
            pass
    try:
        sn.simulate(model, duration="2 ms", record=(), progress=False)
    except (NonFiniteStateError, sn.UnsupportedFeatureError):
        return "simulated to a defined error"
    return "simulated"


@pytest.mark.brian2
def test_mutated_library_files_are_refused_or_run_end_to_end():
    outcomes = Counter(whole_path(text) for _, text in mutants(60, seed=2026))
    assert outcomes["refused"] and outcomes["simulated"]  # the mutations reach both sides of the checker


@pytest.mark.brian2
@pytest.mark.slow
def test_many_mutated_library_files_are_refused_or_run_end_to_end():
    outcomes = Counter(whole_path(text) for _, text in mutants(400, seed=12))
    assert sum(outcomes.values()) == 400
