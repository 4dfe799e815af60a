"""NESTML generation (backend-independent: no NEST or compiler needed)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

import sourced_neuron as sn
from sourced_neuron.codegen.nestml import Inputs, generate, nestml_model_name, render

VALID = Path(__file__).parent / "models" / "valid"
NOISY = VALID / "noisy.yaml"


@pytest.mark.parametrize("name", sn.library_models())
def test_library_models_generate(name):
    model = sn.load_model(name)
    text = sn.export(model, "nestml")
    assert f"model {nestml_model_name(model)}:" in text
    assert "I_ext pA <- continuous" in text and "sn_dt real = resolution() / 1 s" in text
    assert "emit_spike()" in text
    for parameter in model.parameter_names:
        assert f"        {parameter} real = " in text
    assert " / 18 " not in text  # integer literals would divide as integers in C++


def test_the_step_is_brian2s_in_si_units():
    text = render(sn.load_model("lif"))
    # the exact propagator of Brian2's 'exact' updater (v and the two synaptic currents), and a
    # second version of the step for refractoriness, in which v is held and the currents decay
    assert "exp(((-sn_dt) / tau_m))" in text and "/ (tau_exc - tau_m)" in text
    refractory, normal = text.split("        if sn_refractory:\n")[2].split("        else:\n")[:2]
    assert "sn_tmp_I_exc = " in refractory and "sn_tmp_v = " not in refractory and "sn_tmp_v = " in normal
    assert "R_m real = 100000000.0  # ohm" in text
    assert "sn_refractory_left = floor((t_ref + 0.001 * sn_dt) / sn_dt) - 1" in text
    rk4 = render(sn.load_model("adex"))
    assert rk4.count("sn_tmp_k_") >= 8 and "w = sn_tmp_w" in rk4
    hh = render(sn.load_model("hh"))
    assert "sn_not_refractory = sn_not_refractory or not (v > V_spike)" in hh
    assert "function sn_exprel(x real) real:" in hh


def test_rkf45_hands_the_equations_to_nestmls_gsl_solver():
    text = render(sn.load_model("adex").with_numerics(method="rkf45"))
    # the ODEs in SI units per ms (NEST's time unit), integrated by GSL, no printed step
    assert "    equations:\n        inline sn_I_ext real = I_ext / 1 pA * 1e-12 + I_stim + sn_I_second\n" in text
    assert "v' = (" in text and "* 0.001 / (1 ms)" in text and "w' = (" in text
    assert "integrate_odes()" in text and "sn_tmp_" not in text
    lif = render(sn.load_model("lif").with_numerics(method="rkf45"))
    # v is held while refractory, the synaptic currents go on
    held = "if sn_refractory:\n            integrate_odes(I_exc, I_inh)\n        else:\n            integrate_odes()"
    assert held in lif
    hh = render(sn.load_model("hh").with_numerics(method="rkf45"))
    assert "inline alpha_m real = " in hh and "sn_exprel(" in hh  # subexpressions become inline expressions


def test_only_the_inputs_a_run_feeds_are_generated():
    model = sn.load_model("lif")
    every = render(model)
    # the current port and the second-step current, counted in steps (no time conversion per step)
    assert "I_ext pA <- continuous" in every and "I_stim_1 real = 0.0" in every
    assert "if sn_steps < 2:" in every and "timestep()" not in every.split("# non-finite")[0]
    plain = render(model, inputs=Inputs(current=False, receptors=("inh",)))
    assert "continuous" not in plain and "I_stim_1" not in plain and "sn_steps" not in plain
    assert "sn_I_ext real = I_stim\n" in plain
    assert "inh <- spike" in plain and "onReceive(inh)" in plain
    assert "exc <- spike" not in plain and "onReceive(exc)" not in plain
    assert "I_exc real = 0.0" in plain  # the port's state stays, with its decay
    # no inputs at all: no input block (NESTML refuses an empty one)
    alone = render(model, inputs=Inputs(current=False, receptors=()))
    assert "    input:" not in alone
    # each choice is a model of its own, with its own NEST name (they can share a NEST kernel)
    names = {nestml_model_name(model, i) for i in (Inputs(), Inputs(False), Inputs(False, ("inh",)))}
    assert len(names) == 3
    assert generate(model, Inputs(False)).model_name == nestml_model_name(model, Inputs(False))
    assert f"model {nestml_model_name(model, Inputs(False))}:" in render(model, inputs=Inputs(False))


def test_the_nonfinite_watch_is_one_test_per_step():
    text = render(sn.load_model("adex"))
    # x - x is 0 for finite x and NaN for inf or NaN, so one comparison covers every state
    assert "if not ((v - v) + (w - w) + (g_exc - g_exc) + (g_inh - g_inh) == 0):" in text
    assert "sn_nonfinite_w = not (abs(w) <= 1.7976931348623157e+308)" in text


def test_receptor_ports_are_spike_inputs_with_onreceive_blocks():
    text = render(sn.load_model(VALID / "synaptic.yaml"))
    for port in ("ampa", "gaba", "bias", "slow", "jump"):
        assert f"        {port} <- spike\n" in text and f"    onReceive({port}):\n" in text
    assert "    onReceive(ampa):\n        g_ampa += (ampa * 1 s)\n" in text
    assert "x_gaba += (2.718281828459045 * (gaba * 1 s))" in text
    # v is held while refractory, so the delta port's jump is dropped then (as in Brian2)
    assert "    onReceive(jump):\n        if sn_not_refractory:" in text
    assert "        sn_not_refractory = not sn_refractory\n" in text
    # the synaptic variables go on while v is held: both versions of the step share declarations
    assert text.count("sn_tmp_g_ampa real = 0.0") == 1 and "sn_tmp_g_ampa real =" not in text.replace(
        "sn_tmp_g_ampa real = 0.0", ""
    )


def test_white_noise_is_printed_as_brian2s_euler_maruyama_step():
    text = render(sn.load_model(NOISY))
    # Brian2's step, split as Brian2 hoists it: sqrt(dt) and sigma/sqrt(tau_m) once per neuron
    assert "sn_tmp_lio_1 real = (sn_dt ** 0.5)" in text
    assert "xi real = (sn_tmp_lio_1 * random_normal(0.0, 1.0))" in text
    assert "sn_tmp_lio_4 real = (sigma / (tau_m ** 0.5))" in text and "(sn_tmp_lio_4 * xi)" in text


def test_presets_share_a_compiled_model_and_structure_changes_do_not():
    izhikevich = sn.load_model("izhikevich")
    assert nestml_model_name(izhikevich.with_preset("fs")) == nestml_model_name(izhikevich)
    other = izhikevich.with_numerics(method="rk4")
    assert nestml_model_name(other) != nestml_model_name(izhikevich)
    assert generate(izhikevich.with_preset("fs")).text != generate(izhikevich).text  # the defaults differ


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda m: sn.load_model(NOISY).with_numerics(method="rkf45"),
            "method 'rkf45' cannot integrate white noise (xi); use 'euler'",
        ),
        (
            lambda m: sn.NeuronModel.from_yaml(
                "name: clock\nequations: |\n  dx/dt = sin(t/tau)/tau : 1\nparameters: {tau: 1 ms}\n"
                "numerics: {method: rkf45}\n"
            ),
            "method 'rkf45' with equations that read t is not generated for target 'nestml'",
        ),
        (
            lambda m: sn.NeuronModel.from_yaml(
                "name: trig\nequations: |\n  dx/dt = arcsin(x)/tau : 1\nparameters: {tau: 1 ms}\n"
            ),
            "uses arcsin(), which NESTML does not provide",
        ),
        (lambda m: m.with_numerics(method="exact"), "method 'exact' cannot integrate these equations for target"),
    ],
)
def test_what_nestml_cannot_express_is_refused(change, message):
    with pytest.raises(sn.UnsupportedFeatureError) as info:
        sn.export(change(sn.load_model("izhikevich")), "nestml")
    assert message in str(info.value)


@pytest.mark.skipif(importlib.util.find_spec("pynestml") is None, reason="NESTML is not installed (pip install nestml)")
@pytest.mark.parametrize("name", sn.library_models())
def test_nestml_parses_the_generated_models(name, tmp_path):
    from pynestml.symbols.predefined_functions import PredefinedFunctions
    from pynestml.symbols.predefined_types import PredefinedTypes
    from pynestml.symbols.predefined_units import PredefinedUnits
    from pynestml.symbols.predefined_variables import PredefinedVariables
    from pynestml.utils.model_parser import ModelParser

    PredefinedUnits.register_units()
    PredefinedTypes.register_types()
    PredefinedVariables.register_variables()
    PredefinedFunctions.register_functions()
    path = tmp_path / f"{name}.nestml"
    path.write_text(render(sn.load_model(name)))
    parsed = ModelParser.parse_file(str(path))
    assert parsed is not None and parsed.get_model_list()[0].get_name() == nestml_model_name(sn.load_model(name))


def test_refractory_condition_reading_a_subexpression_is_refused():
    text = (Path(__file__).parent / "models" / "valid" / "features.yaml").read_text()
    model = sn.NeuronModel.from_yaml(text.replace("refractory: v > E_L + 5*mV", "refractory: gain > 2"))
    with pytest.raises(sn.UnsupportedFeatureError, match=r"refractory condition that reads subexpression\(s\) gain"):
        sn.export(model, "nestml")
