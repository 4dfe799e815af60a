"""NeuroML2/LEMS exports: generated with pylems, checked by running them on pyLEMS and jLEMS.

The engines integrate with forward Euler, so each export is compared with the same model run
with ``method="euler"`` at the same ``dt`` on ``brian2``: the same arithmetic in another order.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

import sourced_neuron as sn
from sourced_neuron.common.errors import UnsupportedFeatureError

HAVE_NEUROML = importlib.util.find_spec("lems") is not None and importlib.util.find_spec("pyneuroml") is not None
needs_neuroml = pytest.mark.skipif(not HAVE_NEUROML, reason="PyLEMS/pyNeuroML not installed (extra 'neuroml')")
VALID = Path(__file__).parent / "models" / "valid"

#: A current that makes each library model fire (amp), and its step where forward Euler at the
#: model's own dt is unstable (the COBAHH cell's 20 uS sodium conductance: dt 0.01 ms).
CURRENT = {"lif": 200e-12, "izhikevich": 10e-12, "adex": 1e-9, "hh": 500e-12, "laa": 3e-6}
DT = {("hh", "cobahh"): "0.01 ms"}
CASES = [(name, preset) for name in sn.library_models() for preset in (None, *sn.load_model(name).preset_names)]


@needs_neuroml
def test_the_export_is_a_lems_component_type_with_the_models_values():
    text = sn.export("lif", "neuroml")
    assert '<ComponentType name="sn_lif" extends="baseCellMembPot"' in text
    # SI values with a space before the unit (jLEMS reads "1.41e-10F" as a plain number)
    assert 'E_L="-0.065 V"' in text and 'R_m="100000000.0 ohm"' in text and 'tau_exc="0.005 s"' in text
    assert '<TimeDerivative variable="v" value="not_refractory * (' in text
    # one comparison per condition; the spike's cannot hold while refractory
    assert '<OnCondition test="v .gt. V_th + (1 - not_refractory) * SN_NEVER_voltage">' in text
    assert '<StateAssignment variable="lastSpikeTime" value="t"/>' in text
    assert '<Include file="NeuroMLCoreDimensions.xml"/>' in text


@needs_neuroml
def test_piecewise_functions_become_conditional_derived_variables():
    text = sn.export("hh", "neuroml")
    # exprel is written out in the subexpression that reads it, with a case per branch
    assert '<ConditionalDerivedVariable name="alpha_m" dimension="per_time" exposure="alpha_m">' in text
    assert ".eq. 0" in text and ".neq. 0" in text and "sn_exprel" not in text
    assert ".leq." not in text  # pyLEMS does not know it: written as .geq. with the sides swapped


@needs_neuroml
def test_what_lems_cannot_express_is_refused_before_writing(tmp_path):
    with pytest.raises(UnsupportedFeatureError, match="white noise"):
        sn.export(VALID / "noisy.yaml", "neuroml")


def _brian2(model, current: float, duration: str):
    block = sn.simulate(model, duration=duration, stimulus=f"{current} amp", backend="brian2", record=["v"])
    spikes = np.asarray(block.segments[0].spiketrains[0].rescale("s"))
    return spikes, np.asarray(block.segments[0].analogsignals[0].rescale("V")).ravel()


@needs_neuroml
@pytest.mark.parametrize(("name", "preset"), CASES, ids=[f"{n}-{p}" for n, p in CASES])
def test_library_exports_run_on_pylems_as_on_brian2(name, preset, tmp_path):
    from sourced_neuron.codegen.neuroml import write_neuroml
    from sourced_neuron.run.lems import run_lems

    model = sn.load_model(name).with_preset(preset).with_numerics(method="euler", dt=DT.get((name, preset)))
    export = write_neuroml(model, tmp_path, steps=((0.0, CURRENT[name]),), duration=0.2)
    run = run_lems(export, "pylems")
    spikes, v = _brian2(model, CURRENT[name], "200 ms")
    assert len(spikes) > 0
    # the same steps: both integrate with forward Euler and apply threshold, reset and
    # refractoriness in the same order (docs/interop.md)
    assert len(run.spikes) == len(spikes)
    np.testing.assert_allclose(run.spikes, spikes, rtol=0, atol=1e-9)
    # the traces agree to rounding over the first 50 ms; later, the dynamics amplify rounding
    # differences (another order of the same operations; exprel without expm1 in LEMS)
    steps = np.rint(run.times / export.dt).astype(int)
    early = steps < round(0.05 / export.dt)
    np.testing.assert_allclose(run.v[early], v[steps[early]], rtol=0, atol=1e-9)


@needs_neuroml
@pytest.mark.slow
@pytest.mark.parametrize("name", sn.library_models())
def test_library_exports_run_on_jlems_as_on_brian2(name, tmp_path):
    from sourced_neuron.codegen.neuroml import write_neuroml
    from sourced_neuron.run.lems import engine_unavailable, run_lems

    if engine_unavailable("jlems"):
        pytest.skip(engine_unavailable("jlems"))
    model = sn.load_model(name).with_numerics(method="euler")
    export = write_neuroml(model, tmp_path, steps=((0.0, CURRENT[name]),), duration=0.2)
    run = run_lems(export, "jlems")
    spikes, v = _brian2(model, CURRENT[name], "200 ms")
    assert len(run.spikes) == len(spikes) > 0
    np.testing.assert_allclose(run.spikes, spikes, rtol=0, atol=1e-9)
    steps = np.rint(run.times / export.dt).astype(int)
    early = steps < round(0.05 / export.dt)
    # jLEMS writes its recordings in single precision (a relative step of 6e-8: 4 nV at -70 mV)
    np.testing.assert_allclose(run.v[early], v[steps[early]], rtol=1.2e-7, atol=1e-12)


def test_a_missing_neuroml_extra_is_named(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "lems" else real(name, *a))
    with pytest.raises(sn.BackendUnavailableError, match=r"sourced-neuron\[neuroml\]"):
        sn.export("lif", "neuroml")
