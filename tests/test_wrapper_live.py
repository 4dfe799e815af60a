"""SourcedNeuron's live simulation (sourced_neuron/wrapper/core.py) and the backend sessions under it
(sourced_neuron/backends/base.py, brian2_runtime.py).

On ``brian2`` a neuron keeps one Brian2 network and continues it at each query. The guarantees:
integrating in pieces is one continuous run, bit for bit (spikes and every recorded state, noise
included); it is the same run as a replay of the whole history (``live = False``, what backends
without sessions do); a query simulates only the steps added since the last one; and the limits
of a run (steps, memory, non-finite states) still hold.
"""

from __future__ import annotations

import numpy as np
import pytest
import quantities as pq

from sourced_neuron.backends.base import Backend, Session
from sourced_neuron.backends.brian2_runtime import Brian2Runtime, Brian2Session
from sourced_neuron.common import resources
from sourced_neuron.common.errors import InputError, NonFiniteStateError
from sourced_neuron.run.simulation import prepare, simulate
from sourced_neuron.spec.model import NeuronModel
from sourced_neuron.spec.units import si_to_neo
from sourced_neuron.wrapper import SourcedNeuron
from sourced_neuron.wrapper.core import History

pytestmark = pytest.mark.brian2

#: LIF with white noise (euler, as noise needs): spikes depend on every random draw
NOISY = """\
name: noisy_lif
description: Leaky integrate-and-fire neuron with white-noise input.
equations: |
  dv/dt = (E_L - v + R_m*I_ext)/tau_m + sigma*xi/sqrt(tau_m) : volt (unless refractory)
threshold: v > V_th
reset: v = V_reset
refractory: t_ref
parameters:
  E_L: -65 mV
  V_th: -50 mV
  V_reset: -65 mV
  tau_m: 10 ms
  R_m: 100 Mohm
  t_ref: 2 ms
  sigma: 3 mV
initial:
  v: E_L
numerics:
  method: euler
  dt: 0.1 ms
"""

#: a potential that grows tenfold every 2.3 ms: not finite after about 745 ms
RUNAWAY = """\
name: runaway
description: A potential that grows without bound.
equations: |
  dv/dt = v/tau + R_m*I_ext/tau : volt
parameters:
  tau: 1 ms
  R_m: 100 Mohm
initial:
  v: 1 mV
numerics:
  method: euler
  dt: 0.1 ms
"""


def noisy() -> NeuronModel:
    return NeuronModel.from_yaml(NOISY)


def driven(model="lif", live: bool = True, seed: int | None = 0, weight: float = 2.5) -> SourcedNeuron:
    neuron = SourcedNeuron(model, n_inputs=1, seed=seed).SetWeight([weight])
    neuron.ProcInput([1.0])
    neuron.live = live
    return neuron


def integrate(neuron: SourcedNeuron, pieces_ms) -> SourcedNeuron:
    """Integrate each piece and ask for the state after each (so each piece is simulated then)."""
    for piece in pieces_ms:
        neuron.Integrate(f"{piece} ms")
        neuron.GetState()
    return neuron


def assert_same_run(a: SourcedNeuron, b: SourcedNeuron) -> None:
    assert a.t == b.t
    np.testing.assert_array_equal(a.spike_times(), b.spike_times())
    for variable in a.model.state_variables:
        np.testing.assert_array_equal(a.trace(variable).magnitude, b.trace(variable).magnitude)
    state_a, state_b = a.GetState(), b.GetState()
    for variable in a.model.state_variables:
        assert float(state_a[variable]) == float(state_b[variable])


@pytest.mark.parametrize("model", ["lif", "izhikevich", "adex", "hh", "noisy"])
def test_pieces_are_one_run_and_the_same_run_as_a_replay(model):
    model = noisy() if model == "noisy" else model
    pieces = integrate(driven(model), [37, 63])
    whole = integrate(driven(model), [100])
    replay = integrate(driven(model, live=False), [100])
    assert_same_run(pieces, whole)
    assert_same_run(whole, replay)
    if model in ("lif", "izhikevich") or isinstance(model, NeuronModel):
        assert len(whole.spike_times()) > 3  # the comparison covers spikes, resets and refractoriness


def test_noise_is_seeded_and_its_stream_is_the_neurons_own():
    """Other neurons' sessions and other runs in between neither change a neuron's noise nor are
    changed by it."""
    alone_a = integrate(driven(noisy(), seed=1), [20] * 5)
    alone_b = integrate(driven(noisy(), seed=2), [20] * 5)
    run_alone = simulate(noisy(), duration="30 ms", stimulus="300 pA", seed=5, progress=False)
    a, b = driven(noisy(), seed=1), driven(noisy(), seed=2)
    for k in range(5):
        integrate(a, [20])
        integrate(b, [20])
        if k == 2:
            run = simulate(noisy(), duration="30 ms", stimulus="300 pA", seed=5, progress=False)
    assert_same_run(a, alone_a)
    assert_same_run(b, alone_b)
    assert not np.array_equal(a.spike_times(), b.spike_times())  # the seeds make different noise
    np.testing.assert_array_equal(
        run.segments[0].analogsignals[0].magnitude, run_alone.segments[0].analogsignals[0].magnitude
    )


def test_a_query_simulates_only_the_steps_added_since_the_last(monkeypatch):
    opened, advanced = [], []
    real_open, real_advance = Brian2Runtime.open_session, Brian2Session._advance

    def open_session(self, request):
        opened.append(request.model.name)
        return real_open(self, request)

    def advance(self, n_steps, currents):
        advanced.append(n_steps)
        return real_advance(self, n_steps, currents)

    monkeypatch.setattr(Brian2Runtime, "open_session", open_session)
    monkeypatch.setattr(Brian2Session, "_advance", advance)
    neuron = driven()
    for _ in range(5):
        neuron.Integrate("10 ms").GetState()
    neuron.SetWeight([1.0]).ProcInput([0.5])  # new input: the same session goes on
    neuron.Integrate("5 ms").Integrate("5 ms")  # two Integrates, one query: one chunk
    assert neuron.GetState()["n_spikes"] == len(neuron.spike_times())
    assert opened == ["lif"] and advanced == [100] * 5 + [100]
    neuron.Leakage("50 Hz")  # a new model object: a new session from the state reached
    neuron.Integrate("10 ms").GetState()
    neuron.ResetNeu()
    neuron.Integrate("10 ms").GetState()
    assert len(opened) == 3 and advanced[-2:] == [100, 100]


def test_the_input_timing_is_the_same_live_and_replayed():
    """Delays, pulses and changing inputs, presented step by step with queries in between, in one
    MainLoop, and replayed, are one run."""

    def prepared(live: bool) -> SourcedNeuron:
        return driven(live=live).SynapticDelay("1.5 ms").PulseWidth("6 ms")

    inputs = [[1.0], [0.4], [1.3], [0.0], [1.1]]
    stepped = prepared(True)
    for x in inputs:
        stepped.ProcInput(x)
        integrate(stepped, [7, 13])
    looped, replayed = prepared(True), prepared(False)
    looped.MainLoop(inputs, "20 ms")
    replayed.MainLoop(inputs, "20 ms")
    assert_same_run(stepped, looped)
    assert_same_run(looped, replayed)
    assert len(stepped.spike_times()) > 0


def test_parameter_changes_split_epochs_the_same_way_live_and_replayed():
    live, replayed = driven(), driven(live=False)
    for neuron in (live, replayed):
        integrate(neuron, [23, 17])
        neuron.Leakage("40 Hz")
        integrate(neuron, [31])
        neuron.Refractory("4 ms")
        integrate(neuron, [29])
    assert len(live.epochs) == 2 and live.t == pytest.approx(0.1)
    assert_same_run(live, replayed)


def test_copies_and_restored_neurons_continue_exactly(tmp_path):
    original = integrate(driven(noisy(), seed=4), [30])
    original.SaveModel(tmp_path / "cell.json")
    copy = original.CopyNeu()  # has no session of its own: it simulates its history again
    restored = SourcedNeuron.LoadModel(tmp_path / "cell.json")
    straight = integrate(driven(noisy(), seed=4), [50])
    for neuron in (original, copy, restored):
        integrate(neuron, [20])
        assert_same_run(neuron, straight)


def test_settings_changed_directly_are_simulated_again():
    """``live`` switched off (or the seed set by hand) mid-way: the next query simulates the
    history again with the new setting, and the run is still the same."""
    neuron = integrate(driven(noisy(), seed=4), [30])
    neuron.live = False
    integrate(neuron, [20])
    assert_same_run(neuron, integrate(driven(noisy(), seed=4), [50]))
    neuron.live, neuron.seed = True, 5
    assert_same_run(neuron, integrate(driven(noisy(), seed=5), [50]))


def test_single_precision_runs_live_too():
    pieces, whole = driven(), driven()
    for neuron in (pieces, whole):
        neuron.SetPrecision("float32", part="simulation")
    integrate(pieces, [37, 63])
    integrate(whole, [100])
    assert_same_run(pieces, whole)
    assert whole.trace().magnitude.dtype == np.float64 and len(whole.spike_times()) > 3


def test_a_non_finite_state_is_refused_live_as_in_a_replay():
    messages = []
    for live, pieces in ((True, [500, 500]), (True, [1000]), (False, [1000])):
        neuron = SourcedNeuron(NeuronModel.from_yaml(RUNAWAY), n_inputs=1)
        neuron.live = live
        with pytest.raises(NonFiniteStateError) as error:
            integrate(neuron, pieces)
        messages.append(str(error.value))
        with pytest.raises(NonFiniteStateError):  # every later query too, as the history stays
            neuron.GetState()
    assert messages[0] == messages[1] == messages[2]
    assert "state variable v of neuron 0 became infinite or NaN in the step from t = 744.8 ms" in messages[0]


def test_the_limits_of_a_run_hold_on_the_live_path(monkeypatch):
    from sourced_neuron.backends import base

    neuron = integrate(driven(), [100])
    monkeypatch.setattr(base, "MAX_STEPS", 1500)
    neuron.Integrate("100 ms")
    with pytest.raises(InputError, match=r"a simulation of 2,000 time steps .* exceeds the limit of 1,500 steps"):
        neuron.GetState()
    monkeypatch.undo()
    monkeypatch.setattr(resources, "available_memory", lambda: 10_000)
    with pytest.raises(InputError, match=r"recording v, I_exc, I_inh of 1 neuron\(s\) for 2,000 steps needs about"):
        neuron.GetState()
    monkeypatch.undo()
    assert float(neuron.GetState()["t"]) == pytest.approx(200)  # nothing was lost


def test_history_acting_is_the_grid_walked_from_the_end():
    rng = np.random.default_rng(7)
    for _ in range(200):
        delay = int(rng.integers(0, 6))
        k = int(rng.integers(0, 6))
        history = History(
            steps=[int(s) for s in rng.integers(1, 7, k)],
            currents=[float(c) for c in rng.normal(size=k)],
            in_flight=rng.normal(size=delay) if rng.random() < 0.5 else np.zeros(0),
        )
        n = history.n_steps + int(rng.integers(0, 8))
        start = int(rng.integers(0, n + 1))
        np.testing.assert_array_equal(history.acting(delay, start, n), history.on_grid(delay, n)[start:])


def test_a_session_in_chunks_is_the_whole_run():
    """The backend interface itself: chunks of any sizes and currents are one run, the same as a
    run of the whole stimulus (which lasts one step longer, for the state after the last step)."""
    request = prepare("lif", duration="0.1 ms", record=("v", "I_exc"), seed=0)
    currents = np.repeat(np.array([240.0, 0.0, 400.0, 180.0]) * 1e-12, 250)
    run = simulate(
        "lif",
        duration="100.1 ms",
        stimulus={"samples": pq.Quantity(np.append(currents, 0.0), "A"), "sampling_period": 0.1 * pq.ms},
        record=("v", "I_exc"),
        seed=0,
        progress=False,
    )
    with Brian2Runtime().open_session(request) as session:
        chunks = [session.advance(b - a, currents[a:b]) for a, b in [(0, 1), (1, 370), (370, 370), (370, 1000)]]
        assert session.n_steps == 1000 and [c.n_steps for c in chunks] == [1, 369, 0, 630]
        state = session.state()
    signal = next(s for s in run.segments[0].analogsignals if s.annotations["variable"] == "v")
    dimension = request.model.lookup_dimension("v")
    v = np.concatenate([c.signals["v"][:, 0] for c in chunks])
    np.testing.assert_array_equal(si_to_neo(v, dimension).magnitude, signal.magnitude[:1000, 0])
    assert float(si_to_neo(state["v"][0], dimension).magnitude) == signal.magnitude[1000, 0]
    steps = np.round(np.concatenate([c.spike_times for c in chunks]) / 1e-4)
    run_steps = np.round(run.segments[0].spiketrains[0].rescale("s").magnitude / 1e-4)
    np.testing.assert_array_equal(steps, run_steps[run_steps < 1000])
    assert len(steps) > 3
    with pytest.raises(InputError, match="closed"):
        session.advance(1)


def test_a_session_refuses_what_is_not_a_chunk():
    request = prepare("lif", duration="0.1 ms", record=("v",))
    with Brian2Runtime().open_session(request) as session:
        assert isinstance(session, Session)
        with pytest.raises(InputError, match="one current per step"):
            session.advance(3, [1e-12, 2e-12])
        with pytest.raises(InputError, match="finite"):
            session.advance(2, [np.nan, 0.0])
        with pytest.raises(InputError, match="whole number of steps"):
            session.advance(-1)
        assert session.n_steps == 0


def test_backends_without_sessions_replay():
    class NoSession(Backend):
        name = "none"

        @classmethod
        def capabilities(cls):
            raise NotImplementedError

        @classmethod
        def unavailable_reason(cls):
            return None

        def run_network(self, spec, progress=None):
            raise NotImplementedError

    assert NoSession().open_session(prepare("lif", duration="1 ms")) is None
