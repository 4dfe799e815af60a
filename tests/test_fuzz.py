"""Fuzzing the model loader: any text gives a model or the package's ModelError, nothing else."""

from __future__ import annotations

from conftest import LIF_TEXT
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sourced_neuron as sn

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
