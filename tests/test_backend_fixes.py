"""Backend fixes: a single receptor port on NEST, unit declarations of any dimension on Brian2,
Brian2 errors kept apart from the package's own bugs, NEST's time resolution."""

from __future__ import annotations

import sys
import types

import brian2
import numpy as np
import pytest

import sourced_neuron as sn
from sourced_neuron.backends import backend_status, brian2_runtime
from sourced_neuron.backends.nest_pynn import NestPyNN
from sourced_neuron.codegen.brian2 import brian2_unit, lower
from sourced_neuron.spec.library import library_models, load_model
from sourced_neuron.spec.model import NeuronModel

#: Brunel's (2000) leaky integrate-and-fire neuron: one delta port, which every projection
#: targets, excitatory ones with positive and inhibitory ones with negative weights.
BRUNEL = NeuronModel.from_yaml(
    """\
name: brunel_lif
description: Leaky integrate-and-fire with a single delta receptor port (Brunel 2000).
equations: |
  dv/dt = (E_L - v)/tau_m : volt (unless refractory)
threshold: v > V_th
reset: v = V_reset
refractory: 2 ms
parameters:
  E_L: 0 mV
  V_th: 20 mV
  V_reset: 10 mV
  tau_m: 20 ms
synapses:
  syn: {type: current, kernel: delta}
initial:
  v: 0 mV
numerics:
  method: exact
  dt: 0.1 ms
""",
    source="test_backend_fixes.brunel",
)


def brunel_network() -> sn.Network:
    """Excitatory and inhibitory populations and a Poisson drive, all onto the one port."""
    net = sn.Network(seed=3)
    net.population("exc", BRUNEL, 40, params={"v": {"uniform": ["0 mV", "15 mV"]}})
    net.population("inh", BRUNEL, 10)
    net.poisson("ext", 100, rate="60 Hz")
    net.connect("ext", "exc", "fixed_indegree", indegree=20, weight="1.2 mV", delay="1.5 ms", receptor="syn")
    net.connect("ext", "inh", "fixed_indegree", indegree=20, weight="1.1 mV", delay="1.5 ms", receptor="syn")
    net.connect("exc", "exc", "fixed_indegree", indegree=4, weight="0.2 mV", delay="1.5 ms", receptor="syn")
    net.connect("exc", "inh", "fixed_indegree", indegree=4, weight="0.3 mV", delay="1.5 ms", receptor="syn")
    net.connect("inh", "exc", "fixed_indegree", indegree=2, weight="-1 mV", delay="1.5 ms", receptor="syn")
    net.connect("inh", "inh", "fixed_indegree", indegree=2, weight="-0.9 mV", delay="1.5 ms", receptor="syn")
    net.record("exc", ["spikes", "v"])
    net.record("inh", ["spikes"])
    return net


@pytest.mark.nest
@pytest.mark.slow
def test_a_single_receptor_port_runs_on_nest_as_on_brian2():
    reason = backend_status()["nest"]
    if reason:
        pytest.skip(reason)
    runs = {}
    for backend in ("brian2", "nest"):
        segment = brunel_network().run("200 ms", backend=backend).segments[0]
        runs[backend] = [st.magnitude for st in segment.spiketrains], segment.analogsignals[0].magnitude
    (trains_b, v_b), (trains_n, v_n) = runs["brian2"], runs["nest"]
    assert sum(map(len, trains_b[:40])) > 100 and sum(map(len, trains_b[40:])) > 20  # both populations fire
    for x, y in zip(trains_b, trains_n, strict=True):
        np.testing.assert_allclose(x, y, rtol=0, atol=1e-9)  # ms: the same printed step, stamps rounded
    np.testing.assert_allclose(v_n, v_b, rtol=0, atol=1e-9)  # mV: exact step and additive jumps, rounding only


def _declared(unit: str):
    return brian2.Equations(f"x : {unit}")["x"].dim


@pytest.mark.brian2
def test_every_library_parameter_is_declarable_as_a_brian2_variable():
    for name in library_models():
        model = load_model(name)
        for parameter in model.parameter_names:
            dim = model.dimension_of(parameter)
            assert _declared(brian2_unit(dim)) == dim, (name, parameter)
        # the declarations of brian2-cpp (every parameter shared) and of per-neuron parameters
        everything = model.parameter_names
        for lowered in (lower(model, shared=everything), lower(model, per_neuron=everything)):
            lines = [line for line in lowered.equations.splitlines() if line.split(" :")[0] in everything]
            assert len(lines) == len(everything)
            brian2.Equations("\n".join(lines))


@pytest.mark.brian2
@pytest.mark.parametrize(
    ("unit", "printed"),
    [
        (brian2.metre**2, "metre ** 2"),  # Brian2's own name, metre2, is refused in declarations
        (brian2.amp / brian2.metre**2, "metre ** -2 * amp"),
        (brian2.volt / brian2.second**0.5, "metre ** 2 * kilogram * second ** -3.5 * amp ** -1"),  # not "volt / (...)"
        (brian2.kelvin * brian2.mole, "kelvin * mole"),
        (brian2.siemens, "siemens"),
        (brian2.volt, "volt"),
    ],
)
def test_any_dimension_is_printed_as_a_declarable_unit(unit, printed):
    assert brian2_unit(unit.dim) == printed
    assert _declared(printed) == unit.dim


@pytest.mark.brian2
def test_laa_area_parameter_varies_per_neuron_in_a_network():
    net = sn.Network(seed=2)
    net.population("cells", "laa", 3, params={"A_m": ["1e-4 cm**2", "0.8e-4 cm**2", "1.3e-4 cm**2"]})
    net.inject("cells", "250 pA")
    net.record("cells", ["spikes"])
    trains = net.run("100 ms").segments[0].spiketrains
    counts = [len(st) for st in trains]
    # the same current is a larger density on a smaller area: more spikes
    assert counts[1] > counts[0] > counts[2] >= 0 and counts[1] > 0


@pytest.mark.brian2
@pytest.mark.slow
def test_laa_network_on_brian2_cpp_matches_the_runtime():
    reason = backend_status()["brian2-cpp"]
    if reason:
        pytest.skip(reason)

    def network():
        net = sn.Network(seed=4)
        net.population("cells", "laa", 3, params={"A_m": ["1e-4 cm**2", "0.8e-4 cm**2", "1.3e-4 cm**2"]})
        net.inject("cells", "250 pA")
        net.record("cells", ["spikes", "v"])
        return net

    runs = {backend: network().run("100 ms", backend=backend).segments[0] for backend in ("brian2", "brian2-cpp")}
    a, b = runs["brian2"], runs["brian2-cpp"]
    assert sum(len(st) for st in a.spiketrains) > 2
    for x, y in zip(a.spiketrains, b.spiketrains, strict=True):
        # the same RK4 step; C++ with Brian2's -ffast-math may round differently than NumPy, which
        # moves no threshold crossing of this smooth model by a step
        np.testing.assert_allclose(x.magnitude, y.magnitude, rtol=0, atol=1e-9)
    np.testing.assert_allclose(a.analogsignals[0].magnitude, b.analogsignals[0].magnitude, rtol=0, atol=1e-6)  # mV


@pytest.mark.brian2
def test_an_internal_error_of_the_backend_is_not_disguised(monkeypatch):
    def broken(*args, **kwargs):
        raise KeyError("a bug of this package")

    monkeypatch.setattr(brian2_runtime, "_population", broken)
    with pytest.raises(KeyError, match="a bug of this package"):
        sn.simulate("lif", duration="1 ms")


@pytest.mark.brian2
def test_brian2_refusing_the_model_is_a_clear_error_chained_to_brian2s():
    from brian2.core.base import BrianObjectException

    model = load_model("izhikevich").with_numerics(method="exact")
    with pytest.raises(sn.UnsupportedFeatureError, match="model 'izhikevich': Brian2 cannot integrate it") as info:
        sn.simulate(model, duration="1 ms")
    assert isinstance(info.value.__cause__, BrianObjectException)


@pytest.mark.brian2
def test_a_failed_standalone_project_is_a_simulation_error_and_other_runtime_errors_pass():
    from brian2.devices.cpp_standalone.device import CPPStandaloneDevice

    network = sn.Network()
    network.population("cells", "lif", 1)
    spec = network.spec("1 ms")
    device = CPPStandaloneDevice()
    device.run_args_applied = True
    with pytest.raises(sn.SimulationError, match="Brian2 failed to simulate model 'lif'") as info:
        with brian2_runtime.simulator_errors(spec):
            device.apply_run_args()  # a RuntimeError raised by Brian2's standalone device
    assert isinstance(info.value.__cause__, RuntimeError)
    with pytest.raises(RuntimeError, match="not Brian2's") as info:
        with brian2_runtime.simulator_errors(spec):
            raise RuntimeError("not Brian2's")
    assert not isinstance(info.value, sn.SimulationError)


def test_nest_declares_its_time_resolution(monkeypatch):
    monkeypatch.delitem(sys.modules, "nest", raising=False)
    assert NestPyNN.capabilities().time_tic == 1e-6  # NEST's default: 1000 tics per ms
    fake = types.SimpleNamespace(GetKernelStatus=lambda key: {"tics_per_ms": 10_000.0}[key])
    monkeypatch.setitem(sys.modules, "nest", fake)  # a NEST built with finer tics, already loaded
    assert NestPyNN.capabilities().time_tic == pytest.approx(1e-7, rel=1e-12)
