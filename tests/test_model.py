"""The model object: immutability, equality, hashing, round trips, presets, parameters."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import pytest
import quantities as pq
from brian2 import ms, mV

import sourced_neuron as sn

LIBRARY = sn.library_models()


@pytest.mark.parametrize("name", LIBRARY)
def test_library_round_trip(name):
    model = sn.load_model(name)
    again = sn.NeuronModel.from_yaml(model.to_yaml())
    assert again == model
    assert again.content_hash == model.content_hash
    assert hash(again) == hash(model)
    for preset in model.preset_names:
        with_preset = model.with_preset(preset)
        assert sn.NeuronModel.from_yaml(with_preset.to_yaml()) == with_preset


def test_library_has_the_five_models_with_descriptions_and_references():
    assert set(LIBRARY) >= {"lif", "izhikevich", "hh", "adex", "laa"}
    for name in LIBRARY:
        model = sn.load_model(name)
        assert model.description and model.references, name


def test_model_is_immutable_and_hashable(lif_text):
    model = sn.NeuronModel.from_yaml(lif_text)
    with pytest.raises(dataclasses.FrozenInstanceError):
        model.name = "other"
    assert len({model, sn.NeuronModel.from_yaml(lif_text)}) == 1
    assert {model: 1}[sn.NeuronModel.from_yaml(lif_text)] == 1


def test_formatting_does_not_change_the_hash(lif_text):
    model = sn.NeuronModel.from_yaml(lif_text)
    reformatted = lif_text.replace("(E_L - v + R_m*I_ext)/tau_m", "( E_L-v+R_m * I_ext ) / tau_m").replace(
        "tau_m: 10 ms", "tau_m: 0.01 second"
    )
    assert sn.NeuronModel.from_yaml(reformatted) == model
    assert sn.NeuronModel.from_yaml(reformatted).content_hash == model.content_hash


def test_description_does_not_change_the_hash_but_dynamics_do(lif_text):
    model = sn.NeuronModel.from_yaml(lif_text)
    described = sn.NeuronModel.from_yaml(lif_text.replace("absolute refractoriness", "a refractory period"))
    assert described.content_hash == model.content_hash
    assert described != model  # equality compares the whole content
    changed = sn.NeuronModel.from_yaml(lif_text.replace("V_th: -50 mV", "V_th: -51 mV"))
    assert changed.content_hash != model.content_hash


def test_hash_is_stable_across_processes():
    code = "import sourced_neuron as sn; print(*(sn.load_model(n).content_hash for n in sn.library_models()))"
    outputs = set()
    for seed in ("1", "2"):  # different str hashing in each process
        run = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True, env={"PYTHONHASHSEED": seed}
        )
        outputs.add(run.stdout.strip())
    assert len(outputs) == 1
    assert outputs.pop().split() == [sn.load_model(n).content_hash for n in LIBRARY]


def test_with_parameters_accepts_strings_quantities_and_brian2():
    model = sn.load_model("lif")
    a = model.with_parameters({"tau_m": "20 ms"})
    b = model.with_parameters({"tau_m": 20 * pq.ms})
    c = model.with_parameters({"tau_m": 20 * ms})
    assert a == b == c != model
    assert a.parameter_values()["tau_m"] == 20 * ms
    assert model.with_parameters({"v": "-70 mV"}).initial_values()["v"] == -70 * mV


def test_with_parameters_refuses_unknown_names_and_wrong_units():
    model = sn.load_model("lif")
    with pytest.raises(sn.InputError, match=r"model 'lif' has no parameter 'tau' \(did you mean 'tau_m'\?\)"):
        model.with_parameters({"tau": "10 ms"})
    with pytest.raises(sn.UnitError, match=r"parameter 'tau_m' of model 'lif' must have units of second, but .* volt"):
        model.with_parameters({"tau_m": "10 mV"})
    with pytest.raises(sn.UnitError, match="cannot read 'ten ms'"):
        model.with_parameters({"tau_m": "ten ms"})


def test_presets_apply_parameters_and_initial_values_follow():
    model = sn.load_model("izhikevich")
    fs = model.with_preset("fs")
    assert fs.parameter_values()["a"] == pytest.approx(0.1)
    lts = model.with_preset("lts")
    # u starts at b*v, so a preset's b changes u's initial value
    assert float(lts.initial_values()["u"] / mV) == pytest.approx(0.25 * -65)
    with pytest.raises(sn.InputError, match=r"no preset 'FS' \(did you mean 'fs'\?\)"):
        model.with_preset("FS")
    with pytest.raises(sn.InputError, match="has no presets"):
        sn.load_model("lif").with_preset("rs")


def test_load_model_errors():
    with pytest.raises(sn.InputError, match=r"no library model 'izhikevic' \(did you mean 'izhikevich'\?\)"):
        sn.load_model("izhikevic")
    with pytest.raises(sn.ModelError, match="no such file"):
        sn.load_model("missing/model.yaml")
