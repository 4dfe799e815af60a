"""Non-finite states (docs/semantics.md, "Non-finite states"): a run whose state becomes infinite
or NaN stops with the same error on every backend, naming population, neuron, time and variables;
``check_finite=False`` returns the values as they are.

The expected steps come from a plain-Python forward Euler of the same equations (``_euler``), not
from any backend. Each model compiles once per backend (NEST module, standalone project, Cython).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import sourced_neuron as sn
from sourced_neuron.backends import NetworkSpec, brian2_runtime, get_backend
from sourced_neuron.backends.base import first_nonfinite
from sourced_neuron.codegen.brian2 import NONFINITE_EVENT, NONFINITE_TIME, nonfinite_check
from sourced_neuron.codegen.nestml import render
from sourced_neuron.common.errors import NonFiniteStateError
from sourced_neuron.run.simulation import prepare
from sourced_neuron.spec.model import NeuronModel

# the models overflow on purpose: NumPy's warnings about it are expected
pytestmark = [
    pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning"),
    pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning"),
]

#: The issue's model: dv/dt = v**2 reaches infinity in finite time (at 1 ms from 1 mV).
OVERFLOW = NeuronModel.from_yaml(
    """\
name: overflow
description: dv/dt = v**2/(mV*ms) from 1 mV, which overflows in the Euler step from 2.1 ms.
equations: |
  dv/dt = v**2/(mV*ms) : volt
parameters: {}
initial:
  v: 1 mV
numerics:
  method: euler
  dt: 0.1 ms
""",
    source="test_nonfinite.overflow",
)

#: Three states: v stays finite, w overflows (to inf), u's square root turns NaN once u < 0.
RUNAWAY = NeuronModel.from_yaml(
    """\
name: runaway
description: v stays finite, w overflows, u becomes NaN (sqrt of a negative number).
equations: |
  dv/dt = (E_L - v)/tau_m : volt
  dw/dt = w**2/(mV*ms) : volt
  du/dt = -sqrt(u/mV)*mV/ms : volt
parameters:
  E_L: -65 mV
  tau_m: 10 ms
initial:
  v: -60 mV
  w: 1 mV
  u: 9 mV
numerics:
  method: euler
  dt: 0.1 ms
""",
    source="test_nonfinite.runaway",
)

DT = 1e-4  # both models' dt, seconds

#: (backend, Brian2 code generation target): every backend that can run here.
BACKENDS = [
    pytest.param(("brian2", "numpy"), marks=pytest.mark.brian2, id="brian2-numpy"),
    pytest.param(("brian2-cpp", None), marks=[pytest.mark.brian2, pytest.mark.slow], id="brian2-cpp"),
    pytest.param(("nest", None), marks=[pytest.mark.nest, pytest.mark.slow], id="nest"),
]


def _euler(w: float, u: float) -> tuple[int, int]:
    """The step (index k, from t_k) after which w (w' = w**2/(mV*ms)) and u (u' = -sqrt(u/mV)*mV/ms)
    are first not finite, by forward Euler in SI units in plain Python."""

    def first(value: float, step) -> int:
        for k in range(10_000):
            value = step(value)
            if not math.isfinite(value):
                return k
        raise AssertionError("stays finite")

    with np.errstate(over="ignore", invalid="ignore"):
        overflow = first(w, lambda x: float(np.float64(x) + DT / 1e-6 * np.float64(x) ** 2))
        nan = first(u, lambda x: float(np.float64(x) - DT * np.sqrt(np.float64(x) / 1e-3) * 1e-3 / 1e-3))
    return overflow, nan


def _refused(run) -> NonFiniteStateError:
    with pytest.raises(NonFiniteStateError) as info:
        run()
    return info.value


@pytest.mark.parametrize("backend", BACKENDS, indirect=True)
def test_the_issue_overflow_is_refused_naming_neuron_time_and_variable(backend):
    step, _ = _euler(1e-3, 1.0)
    assert step == 21  # v = 3.2e203 V after 21 steps; its square overflows in step 21
    error = _refused(lambda: sn.simulate(OVERFLOW, duration="100 ms", backend=backend, n_neurons=2))
    assert (error.population, error.model, error.neuron, error.variables) == ("overflow", "overflow", 0, ("v",))
    assert error.time == step * DT  # the start of the step: the same float on every backend
    message = str(error)
    assert "model 'overflow': state variable v of neuron 0 became infinite or NaN" in message
    assert "in the step from t = 2.1 ms (dt = 0.1 ms)" in message and "check_finite=False" in message
    assert isinstance(error, sn.SimulationError)


@pytest.mark.parametrize("backend", BACKENDS, indirect=True)
def test_only_the_variable_that_is_not_finite_is_named(backend):
    overflow, nan = _euler(1e-3, 9e-3)
    assert (overflow, nan) == (21, 58)  # w first; u later, v never
    error = _refused(lambda: sn.simulate(RUNAWAY, duration="10 ms", backend=backend, record=("v", "w", "u")))
    assert (error.neuron, error.time, error.variables) == (0, overflow * DT, ("w",))


def runaway_network() -> sn.Network:
    """Two populations; the second one's neuron 1 is the first non-finite state (w and u together)."""
    net = sn.Network(seed=1)
    # w overflows in step 21 (after the second population's), u stays finite over the run
    net.population("steady", RUNAWAY, 2, params={"u": "100 mV"})
    # neuron 0 stays finite (u's root after 5.8 ms), 1 and 2 turn non-finite in the same step, 3 later
    net.population(
        "late",
        RUNAWAY,
        4,
        params={"w": ["0 mV", "20 mV", "0 mV", "1 mV"], "u": ["9 mV", "0.25 mV", "0.25 mV", "9 mV"]},
    )
    net.record("late", ["w", "u"])
    return net


@pytest.mark.parametrize(
    "backend",
    [*BACKENDS, pytest.param(("brian2", "cython"), marks=[pytest.mark.brian2, pytest.mark.slow], id="brian2-cython")],
    indirect=True,
)
def test_a_network_reports_the_earliest_step_then_the_lowest_neuron(backend):
    assert _euler(20e-3, 0.25e-3) == (9, 9)  # neuron 1 of "late": w and u in the same step
    assert _euler(1e-3, 100e-3) == (21, 197)  # "steady": later
    error = _refused(lambda: runaway_network().run("5 ms", backend=backend))
    assert (error.population, error.model, error.neuron) == ("late", "runaway", 1)
    assert error.time == 9 * DT and error.variables == ("w", "u")  # in the model's order
    assert "population 'late' (runaway): state variables w, u of neuron 1" in str(error)


@pytest.mark.parametrize("backend", BACKENDS, indirect=True)
def test_check_finite_false_returns_the_values_as_they_are(backend):
    block = sn.simulate(OVERFLOW, duration="100 ms", backend=backend, check_finite=False)
    v = block.segments[0].analogsignals[0].magnitude[:, 0]
    # the issue's count: the sample at t_22 is the first after the overflowing step 21
    assert np.isinf(v).sum() == 978 and np.isfinite(v[:22]).all() and np.isinf(v[22:]).all()
    block = sn.simulate(RUNAWAY, duration="10 ms", backend=backend, record=("v", "w", "u"), check_finite=False)
    signals = {s.annotations["variable"]: s.magnitude[:, 0] for s in block.segments[0].analogsignals}
    assert np.isfinite(signals["v"]).all()
    assert np.isfinite(signals["w"][:22]).all() and np.isinf(signals["w"][22:]).all()
    assert np.isfinite(signals["u"][:59]).all() and np.isnan(signals["u"][59:]).all()


@pytest.mark.parametrize("backend", BACKENDS, indirect=True)
def test_a_library_model_runs_as_without_the_check(backend):
    runs = [
        sn.simulate("lif", duration="200 ms", stimulus="300 pA", n_neurons=2, backend=backend, check_finite=check)
        for check in (True, False)
    ]
    trains = [[st.magnitude for st in block.segments[0].spiketrains] for block in runs]
    assert sum(map(len, trains[0])) > 10
    for with_check, without in zip(*trains, strict=True):
        np.testing.assert_array_equal(with_check, without)  # the watch only reads the states
    np.testing.assert_array_equal(runs[0].segments[0].analogsignals[0], runs[1].segments[0].analogsignals[0])


@pytest.mark.brian2
def test_the_runtime_stops_early_and_reports_the_same_state(monkeypatch):
    monkeypatch.setattr(brian2_runtime, "REPORT_PERIOD", 0.0)  # look after every step
    spec = NetworkSpec.single(prepare(RUNAWAY, "50 ms", record=("w",)))
    result = get_backend("brian2").run_network(spec)["runaway"]
    assert result.nonfinite == first_nonfinite(np.array([21 * DT]), {"v": [False], "w": [True], "u": [False]}, DT)
    # stopped within a step or two of step 21, not after the 500 steps asked for
    assert 22 <= result.signals["w"].shape[0] <= 24


def test_first_nonfinite_picks_the_earliest_step_then_the_lowest_neuron():
    times = np.array([-1.0, 3 * DT, 2 * DT + 1e-18, 2 * DT, -1.0])
    flags = {"v": np.array([0, 1, 0, 1, 0], bool), "w": np.array([0, 1, 1, 1, 0], bool)}
    found = first_nonfinite(times, flags, DT)
    # neuron 2's time is step 2 up to rounding: it ties with neuron 3 and has the lower index
    assert (found.neuron, found.time, found.variables) == (2, 2 * DT, ("w",))
    assert first_nonfinite(np.full(3, -1.0), {"v": np.zeros(3, bool)}, DT) is None


@pytest.mark.brian2
def test_nothing_is_generated_without_the_check():
    import brian2 as b2

    for check in (True, False):
        spec = NetworkSpec.single(prepare(RUNAWAY, "1 ms"))
        spec.check_finite = check
        built = brian2_runtime.build_objects(b2, spec, standalone=False)
        group = built.groups["runaway"]
        assert (NONFINITE_EVENT in group.events) is check and (NONFINITE_TIME in group.variables) is check
    pieces = nonfinite_check(RUNAWAY)
    assert pieces.variables == ("v", "w", "u")
    assert "not (abs(u) <= 1.7976931348623157e+308*(volt))" in pieces.condition


def test_the_nestml_watch_follows_the_integration_and_precedes_the_threshold():
    text = render(sn.load_model("lif"))
    update = text.split("    update:", 1)[1]
    integration, watch, threshold = (update.index(s) for s in ("v = sn_tmp_v", "if sn_check_finite", "if not sn_ref"))
    assert integration < watch < threshold
    assert "sn_check_finite boolean = false" in text and "sn_nonfinite_t real = -1.0" in text
    for name in ("v", "I_exc", "I_inh"):
        assert f"sn_nonfinite_{name} = not (abs({name}) <= 1.7976931348623157e+308)" in update
