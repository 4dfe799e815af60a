"""Hostile model files: refused before anything runs, and nothing is executed.

Each hostile payload would create a marker file if any part of the pipeline executed it
(Python eval/exec, YAML object construction, or generated code run by a simulator). The
tests load, check, export and (where loading succeeds) simulate, then assert the marker
does not exist.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import sourced_neuron as sn

GOOD = {
    "equations": "dv/dt = (E_L - v + R_m*I_ext)/tau_m : volt",
    "threshold": "v > V_th",
    "reset": "v = E_L",
}


def model_text(marker: Path, **fields: str) -> str:
    parts = dict(GOOD, **fields)
    text = "name: hostile\n"
    text += "equations: |\n  " + parts["equations"].replace("MARKER", str(marker)) + "\n"
    text += f"threshold: {parts['threshold']}\n".replace("MARKER", str(marker))
    text += f"reset: {parts['reset']}\n".replace("MARKER", str(marker))
    text += "parameters:\n  E_L: -65 mV\n  V_th: -50 mV\n  tau_m: 10 ms\n  R_m: 100 Mohm\n"
    return text


PAYLOADS = {
    "import_in_equation": dict(equations="dv/dt = (E_L - v + __import__('os').system('touch MARKER'))/tau_m : volt"),
    "eval_in_equation": dict(equations='dv/dt = eval(\'open("MARKER", "w")\') : volt'),
    "attribute_in_threshold": dict(threshold="v.__class__.__init__.__globals__ > V_th"),
    "call_in_threshold": dict(threshold="open('MARKER', 'w') and v > V_th"),
    "lambda_in_reset": dict(reset="v = (lambda: open('MARKER', 'w'))()"),
    "subscript_in_reset": dict(reset="v = E_L[0]"),
    "string_in_equation": dict(equations="dv/dt = 'MARKER' : volt"),
    "cpp_injection_in_name": dict(
        equations='dv/dt = (E_L - v)/tau_m : volt\n  x; system("touch MARKER"); double y : 1'
    ),
    "cpp_comment_in_unit": dict(equations='dv/dt = (E_L - v)/tau_m : volt /* */ ; system("touch MARKER")'),
    "python_statement_in_unit": dict(equations="dv/dt = (E_L - v)/tau_m : __import__('os').system('touch MARKER')"),
    "semicolon_in_reset": dict(reset="v = E_L; import os; os.system('touch MARKER')"),
    "newline_statement_in_threshold": dict(threshold="'v > V_th\\nimport os'"),
    "dunder_name": dict(equations="dv/dt = (E_L - __builtins__)/tau_m : volt"),
    "walrus": dict(equations="dv/dt = (x := E_L)/tau_m : volt"),
    "comprehension": dict(equations="dv/dt = [open('MARKER', 'w') for _ in (1,)] : volt"),
    "fstring": dict(threshold='f\'{open("MARKER", "w")}\' > V_th'),
}


@pytest.mark.parametrize("payload", sorted(PAYLOADS), ids=str)
def test_hostile_expressions_are_refused_and_not_executed(payload, tmp_path):
    marker = tmp_path / "marker"
    text = model_text(marker, **PAYLOADS[payload])
    with pytest.raises(sn.ModelError) as info:
        sn.NeuronModel.from_yaml(text, source="hostile.yaml")
    assert info.value.diagnostics and all(d.source == "hostile.yaml" for d in info.value.diagnostics)
    assert all(d.line is not None for d in info.value.diagnostics)
    assert not marker.exists()


@pytest.mark.parametrize(
    "document",
    [
        "!!python/object/apply:os.system ['touch MARKER']",
        "name: !!python/object/apply:os.system ['touch MARKER']\n",
        "name: x\nparameters: !!python/object/new:os.system ['touch MARKER']\n",
        "name: !!python/name:os.system\n",
        "name: x\nequations: !!binary aGVsbG8=\n",
        "name: &a x\nreferences: [*a, *a]\n",
        "name: x\n<<: {equations: 'dv/dt = 0*volt/second : volt'}\n",
        "name: !custom x\n",
    ],
)
def test_yaml_tags_anchors_and_merges_are_refused(document, tmp_path):
    marker = tmp_path / "marker"
    with pytest.raises(sn.ModelError) as info:
        sn.NeuronModel.from_yaml(document.replace("MARKER", str(marker)))
    assert any(word in str(info.value) for word in ("YAML tag", "anchors and aliases", "merge keys", "invalid YAML")), (
        str(info.value)
    )
    assert not marker.exists()


def test_billion_laughs_is_refused_quickly():
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    with pytest.raises(sn.ModelError, match="anchors and aliases"):
        sn.NeuronModel.from_yaml("\n".join(lines))


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("parameter name", "parameters:\n  'x; drop': 1 mV", "is not a plain ASCII identifier"),
        ("parameter name", "parameters:\n  __class__: 1 mV", "starts with an underscore"),
        ("parameter name", "parameters:\n  delete: 1 mV", "is a keyword of the generated code"),
        ("parameter value", "parameters:\n  E_X: __import__('os').getcwd()", "calling anything but a listed function"),
        ("preset name", "presets:\n  'a\"; system(\"x': {E_L: -60 mV}", "must match [a-z][a-z0-9_]*"),
        ("port name", "synapses:\n  'e;x': {type: current, kernel: delta}", "is not a plain ASCII identifier"),
    ],
)
def test_names_and_values_that_could_inject_code_are_refused(field, value, message, tmp_path):
    text = model_text(tmp_path / "marker").split("parameters:")[0]
    text += "parameters:\n  E_L: -65 mV\n  V_th: -50 mV\n  tau_m: 10 ms\n  R_m: 100 Mohm\n"
    if value.startswith("parameters:"):
        text = text.replace("  R_m: 100 Mohm\n", "  R_m: 100 Mohm\n" + value.split("\n", 1)[1] + "\n")
    else:
        text += value + "\n"
    with pytest.raises(sn.ModelError) as info:
        sn.NeuronModel.from_yaml(text)
    assert message in str(info.value), f"{field}: {info.value}"


def test_cli_check_refuses_hostile_file_without_traceback(tmp_path):
    marker = tmp_path / "marker"
    path = tmp_path / "hostile.yaml"
    path.write_text(model_text(marker, **PAYLOADS["import_in_equation"]))
    result = subprocess.run(
        [sys.executable, "-m", "sourced_neuron", "check", str(path)],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert "calling anything but a listed function is not allowed" in result.stdout
    assert "hostile.yaml: 1 problem(s)" in result.stdout  # the broken equation causes no follow-up errors
    assert "Traceback" not in result.stdout + result.stderr
    assert not marker.exists()
