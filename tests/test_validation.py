"""Valid and invalid model files (backend-independent).

Each file in models/invalid/ starts with ``# expect LINE: TEXT`` comments: the load must
fail with a diagnostic on that line whose message contains TEXT (``# expect: TEXT`` when
the line is not checked). Every expected diagnostic must be present, so files with
several problems prove that all problems are reported at once.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import sourced_neuron as sn
from sourced_neuron.spec.model import check_file

HERE = Path(__file__).parent / "models"
INVALID = sorted((HERE / "invalid").glob("*.yaml"))
VALID = sorted((HERE / "valid").glob("*.yaml"))
EXPECT = re.compile(r"^# expect(?: (\d+))?: (.*)$")


def expectations(path: Path) -> list[tuple[int | None, str]]:
    result = []
    for line in path.read_text().splitlines():
        if match := EXPECT.match(line):
            result.append((int(match.group(1)) if match.group(1) else None, match.group(2)))
    assert result, f"{path.name} has no '# expect' line"
    return result


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.stem)
def test_invalid_model_files_are_refused_with_their_message(path):
    with pytest.raises(sn.ModelError) as info:
        sn.load_model(path)
    diagnostics = info.value.diagnostics
    for line, text in expectations(path):
        matching = [d for d in diagnostics if text in d.message]
        assert matching, f"no diagnostic contains {text!r}; got:\n{info.value}"
        if line is not None:
            assert any(d.line == line for d in matching), f"{text!r} not reported on line {line}:\n{info.value}"
        assert all(d.source == str(path) for d in matching)


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.stem)
def test_valid_model_files_load(path):
    model = sn.load_model(path)
    assert check_file(path) == []
    assert sn.NeuronModel.from_yaml(model.to_yaml()) == model


def test_invalid_corpus_is_not_trivial():
    assert len(INVALID) >= 30


def test_messages_carry_file_field_and_line():
    path = HERE / "invalid" / "dimension_mismatch_equation.yaml"
    diagnostic = check_file(path)[0]
    assert str(diagnostic).startswith(f"{path}:5 [equations]: dimension mismatch")


def test_valid_features_are_understood():
    model = sn.load_model(HERE / "valid" / "features.yaml")
    assert model.state_variables == ("v", "w")
    assert model.subexpressions == ("I_total", "gain")
    assert model.per_neuron_parameters == ("I_bias",)
    assert model.refractory.kind == "condition"
    assert model.uses_input
    ports = sn.load_model(HERE / "valid" / "conductance_ports.yaml").synapses
    assert [(p.name, p.type, p.kernel) for p in ports] == [
        ("exc", "conductance", "exp"),
        ("inh", "conductance", "alpha"),
        ("ext", "current", "delta"),
    ]
    assert ports[0].tau.magnitude == pytest.approx(3e-3) and ports[1].tau.magnitude == pytest.approx(7e-3)
    assert ports[1].E_rev.magnitude == pytest.approx(-0.08)


def test_receptor_ports_become_equations_and_parameters():
    model = sn.load_model(HERE / "valid" / "conductance_ports.yaml")
    derived = {e.name: (e.kind, e.expression, e.port) for e in model.equations if e.port is not None}
    assert derived == {
        "g_exc": ("differential", "-g_exc / tau_exc", "exc"),
        "g_inh": ("differential", "(x_inh - g_inh) / tau_inh", "inh"),
        "x_inh": ("differential", "-x_inh / tau_inh", "inh"),
        "I_syn": ("subexpression", "g_exc * (E_exc - v) + g_inh * (E_inh - v)", ""),
    }
    values = {k: float(v) for k, v in model.parameter_values().items()}
    assert values["tau_exc"] == pytest.approx(3e-3) and values["tau_inh"] == pytest.approx(7e-3)
    assert values["E_exc"] == 0.0 and values["E_inh"] == pytest.approx(-0.08)
    # what a spike of weight w does, per port (alpha: the rise scaled so that the peak is w)
    assert [p.on_spike("w", "v") for p in model.synapses] == [
        ("g_exc", "+=", "w"),
        ("x_inh", "+=", "2.718281828459045*w"),
        ("v", "+=", "w"),
    ]
    # the file is written back as it was read; changed port constants follow into the ports
    assert "g_exc" not in model.to_yaml() and "tau_exc" not in model.to_yaml()
    changed = model.with_parameters({"tau_inh": "4 ms", "E_exc": "-5 mV"})
    assert changed.synapses[1].tau.magnitude == pytest.approx(4e-3)
    assert sn.NeuronModel.from_yaml(changed.to_yaml()) == changed != model


def test_default_numerics():
    noisy = sn.load_model(HERE / "valid" / "noisy.yaml")
    assert noisy.numerics.method == "euler"  # the only listed method for white noise
    assert noisy.is_stochastic
    text = (HERE / "valid" / "lif_contract_example.yaml").read_text().split("numerics:")[0]
    assert sn.NeuronModel.from_yaml(text).numerics.method == "rk4"
    assert sn.NeuronModel.from_yaml(text).numerics.dt.magnitude == pytest.approx(1e-4)
