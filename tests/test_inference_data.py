"""Inference without networks: priors with units, the observation protocol, stored simulations,
summary statistics, and recording at a coarser rate on every backend (core install only)."""

from __future__ import annotations

import numpy as np
import pytest
from brian2 import ms, mV, pA

import sourced_neuron as sn
from sourced_neuron.common.errors import InputError, UnitError
from sourced_neuron.experiments.batch import Batch
from sourced_neuron.inference import Prior
from sourced_neuron.inference.features import feature_names, statistics
from sourced_neuron.inference.simulations import Protocol, SimulationStore

BACKENDS = [
    pytest.param(("brian2", "numpy"), id="brian2-numpy"),
    pytest.param(("brian2-cpp", None), marks=pytest.mark.slow, id="brian2-cpp"),
    pytest.param(("nest", None), marks=[pytest.mark.nest, pytest.mark.slow], id="nest"),
]

# asymmetric bounds: a swapped name or unit would move values out of range
LIF_PRIOR = {"tau_m": ["6 ms", "18 ms"], "V_th": ["-55 mV", "-45 mV"]}


# --- the prior -----------------------------------------------------------------------------------


def test_prior_reads_units_and_keeps_draws_inside_its_support():
    prior = Prior({"tau_m": ["6 ms", "18 ms"], "R_m": {"loguniform": ["50 Mohm", "200 Mohm"]}}).bind(
        sn.load_model("lif")
    )
    assert prior.names == ("tau_m", "R_m") and prior.kinds == ("uniform", "loguniform")
    np.testing.assert_allclose(prior.low, [6e-3, 50e6])
    draws = prior.sample(20_000, seed=3)
    assert prior.contains(draws).all()
    # log-uniform: the logarithm is uniform, so its median is the geometric mean of the bounds
    assert np.median(draws[:, 1]) == pytest.approx(100e6, rel=0.03)
    assert np.mean(draws[:, 0]) == pytest.approx(12e-3, rel=0.01)
    # the unbounded space the networks learn in maps back exactly, and never outside the support
    np.testing.assert_allclose(prior.from_unbounded(prior.to_unbounded(draws)), draws, rtol=1e-9)
    assert prior.contains(prior.from_unbounded(np.array([[-50.0, 50.0], [50.0, -50.0]]))).all()
    frame = prior.frame(draws[:2])
    assert frame.attrs["units"] == {"tau_m": "ms", "R_m": "Mohm"}
    np.testing.assert_allclose(frame["tau_m"], draws[:2, 0] * 1e3)
    again = Prior.from_description(prior.describe()).bind(sn.load_model("lif"))
    np.testing.assert_allclose(again.low, prior.low)
    np.testing.assert_allclose(again.high, prior.high)
    assert again.kinds == prior.kinds
    assert "tau_m ~ uniform(0.006 s" in repr(prior) or "tau_m ~ uniform(6 ms" in repr(prior)


@pytest.mark.parametrize(
    ("bounds", "kinds", "error", "message"),
    [
        ({"tau_n": ["6 ms", "18 ms"]}, None, InputError, "tau_m"),  # unknown name: the nearest is named
        ({"tau_m": ["6 mV", "18 mV"]}, None, UnitError, "tau_m"),
        ({"tau_m": ["18 ms", "6 ms"]}, None, InputError, "low < high"),
        ({"tau_m": ["-1 ms", "6 ms"]}, None, InputError, "tau_m"),  # the model file says tau_m > 0
        ({"V_th": {"loguniform": ["-55 mV", "-45 mV"]}}, None, InputError, "positive"),
        ({"tau_m": {"normal": ["6 ms", "18 ms"]}}, None, InputError, "loguniform"),
        ({"tau_m": ["6 ms", "18 ms"]}, {"tau_m": "beta"}, InputError, "uniform"),
        ({"v": ["-70 mV", "-60 mV"]}, None, InputError, "v"),  # an initial value is not a parameter
    ],
)
def test_prior_refuses_what_the_model_does_not_take(bounds, kinds, error, message):
    with pytest.raises(error, match=message):
        Prior(bounds, kinds).bind(sn.load_model("lif"))


def test_an_empty_prior_is_refused():
    with pytest.raises(InputError, match="non-empty"):
        Prior({})


# --- the protocol: what is observed --------------------------------------------------------------


def _protocol(**kwargs) -> Protocol:
    options = {"stimulus": "300 pA", "duration": "200 ms", "backend": "brian2", "noise": "1 mV", "trace_samples": 50}
    return Protocol.make("lif", **{**options, **kwargs})


def test_the_protocol_records_at_most_trace_samples_samples():
    protocol = _protocol()
    assert protocol.batch.record_every == 40  # 2000 steps of 0.1 ms, at most 50 samples
    assert protocol.n_samples == 50 and protocol.sampling_period == pytest.approx(4e-3)
    odd = _protocol(trace_samples=30)  # ceil(2000 / 30) = 67 steps: 30 samples, the last at 194.3 ms
    assert odd.batch.record_every == 67 and odd.n_samples == 30
    with pytest.raises(UnitError, match="noise"):
        _protocol(noise="1 pA")
    with pytest.raises(InputError, match="trace_samples"):
        _protocol(trace_samples=1)


def test_observations_are_read_from_simulate_blocks_and_files(tmp_path):
    protocol = _protocol()
    block = sn.simulate("lif", duration="200 ms", stimulus="300 pA")  # recorded every step
    trace, spikes = protocol.observe(block)
    full = block.segments[0].analogsignals[0].rescale("V").magnitude[:, 0]
    np.testing.assert_array_equal(trace, full[::40])  # the instants the simulator records at that rate
    np.testing.assert_allclose(spikes, block.segments[0].spiketrains[0].rescale("s").magnitude)
    path = tmp_path / "run.nix"
    from sourced_neuron.results.io import write_block

    write_block(block, path)
    trace_file, spikes_file = protocol.observe(path)
    np.testing.assert_array_equal(trace_file, trace)
    np.testing.assert_array_equal(spikes_file, spikes)
    noisy = protocol.simulate_observation({"tau_m": "12 ms"}, seed=1)
    signal = noisy.segments[0].analogsignals[0]
    assert float(signal.sampling_period.rescale("ms")) == pytest.approx(4.0)
    residual = (
        signal.rescale("V").magnitude[:, 0]
        - protocol.observe(sn.simulate("lif", duration="200 ms", stimulus="300 pA", params={"tau_m": "12 ms"}))[0]
    )
    assert residual.std() == pytest.approx(1e-3, rel=0.3)  # the observation noise, 1 mV


def test_observations_from_another_experiment_are_refused():
    protocol = _protocol()
    longer = sn.simulate("lif", duration="300 ms", stimulus="300 pA")
    with pytest.raises(InputError, match=r"lasts 300 ms.*200 ms"):
        protocol.observe(longer)
    coarse = sn.simulate("lif", duration="200 ms", stimulus="300 pA", dt="0.3 ms")
    with pytest.raises(InputError, match=r"sampled every 0\.3 ms.*every 4 ms"):
        protocol.observe(coarse)
    bare = sn.simulate("lif", duration="200 ms", stimulus="300 pA").segments[0].analogsignals[0]
    bare.segment = None
    with pytest.raises(InputError, match="no spike train"):
        protocol.observe(bare)
    with pytest.raises(InputError, match=r"neo\.AnalogSignal"):
        protocol.observe(np.zeros(50))
    with pytest.raises(InputError, match="does not exist"):
        protocol.observe("missing.nix")
    two = sn.simulate("lif", duration="200 ms", stimulus="300 pA", n_neurons=2)
    with pytest.raises(InputError, match="2 neurons"):
        protocol.observe(two)


@pytest.mark.parametrize("backend", BACKENDS, indirect=True)
def test_recording_every_kth_step_gives_every_kth_sample(backend):
    names = ("tau_m", "V_th")
    rows = np.array([[12e-3, -52e-3], [7e-3, -47e-3]])
    stimulus = {"start": "20 ms", "stop": "150 ms", "amplitude": "250 pA"}
    full, coarse = (
        Batch.make("lif", duration="200 ms", stimulus=stimulus, backend=backend, record=["v"], record_every=k).run(
            names, rows
        )
        for k in (1, 7)
    )
    assert coarse.signals["v"].shape == (286, 2)  # ceil(2000 / 7)
    # the same simulation, recorded less often: the samples are the same numbers
    np.testing.assert_array_equal(coarse.signals["v"], full.signals["v"][::7])
    for a, b in zip(coarse.spikes, full.spikes, strict=True):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(InputError, match="record_every"):
        Batch.make("lif", duration="20 ms", backend=backend, record=["v"], record_every=0)


# --- stored simulations --------------------------------------------------------------------------


def test_the_store_keeps_parts_grows_and_resumes(tmp_path):
    protocol = _protocol()
    prior = Prior(LIF_PRIOR).bind(protocol.model)
    store = SimulationStore(tmp_path / "sims", protocol, prior, seed=5, batch_size=40)
    first, info = store.load(100)  # client None: here
    assert info["simulated"] == 100 and len(first) == 100
    assert sorted(p.name for p in (tmp_path / "sims").glob("part-*.npz")) == [
        "part-000000.npz",
        "part-000001.npz",
        "part-000002.npz",
    ]
    np.testing.assert_allclose(first.theta, prior.sample(100, seed=5))  # set k is the k-th draw
    assert first.traces.shape == (100, 50) and first.traces.dtype == np.float32
    assert not first.failed.any()
    # each set is what simulate gives for its values
    k = 17
    block = sn.simulate(
        "lif",
        duration="200 ms",
        stimulus="300 pA",
        params={"tau_m": first.theta[k, 0] * 1e3 * ms, "V_th": first.theta[k, 1] * 1e3 * mV},
    )
    trace, spikes = protocol.observe(block)
    np.testing.assert_allclose(first.traces[k], trace, rtol=1e-6)  # float32 storage
    np.testing.assert_allclose(first.spikes()[k], spikes)

    (tmp_path / "sims" / "part-000001.npz").unlink()
    again, info = store.load(100)
    assert info["simulated"] == 40  # only the missing part
    np.testing.assert_array_equal(again.traces, first.traces)
    grown, info = SimulationStore(tmp_path / "sims", protocol, prior, seed=5, batch_size=40).load(150)
    assert info["simulated"] == 70  # the third part again, whole (40), and a fourth (30)
    np.testing.assert_array_equal(grown.traces[:100], first.traces)

    other = Prior({"tau_m": ["6 ms", "19 ms"], "V_th": ["-55 mV", "-45 mV"]}).bind(protocol.model)
    with pytest.raises(InputError, match="prior"):
        SimulationStore(tmp_path / "sims", protocol, other, seed=5, batch_size=40).load(10)


def test_sets_that_blow_up_are_marked_failed_and_kept_out(tmp_path):
    model = sn.load_model("adex").with_parameters({"V_peak": 200 * mV})  # exp() overflows before the peak
    protocol = Protocol.make(model, stimulus="2 nA", duration="50 ms", backend="brian2", trace_samples=25)
    prior = Prior({"Delta_T": ["1 mV", "3 mV"]}).bind(protocol.model)
    sims, _ = SimulationStore(tmp_path, protocol, prior, seed=0, batch_size=10).load(10)
    assert sims.failed.all() and np.isnan(sims.traces).all()
    assert len(sims.select(~sims.failed)) == 0


# --- summary statistics --------------------------------------------------------------------------


def test_statistics_of_known_traces_and_trains():
    duration = 1.0
    flat = np.full((1, 100), -0.065)
    values = statistics(flat, [np.array([0.05, 0.15, 0.25, 0.35])], duration)[0]
    named = dict(zip(feature_names(True), values, strict=True))
    assert named["mean_0"] == pytest.approx(-65.0) and named["std_3"] == 0 and named["autocorr_1"] == 0
    assert named["spikes_0"] == 1 and named["spikes_3"] == 1 and named["spikes_9"] == 0
    assert named["log_count"] == pytest.approx(np.log(5))
    assert named["latency"] == pytest.approx(0.05) and named["mean_isi"] == pytest.approx(0.1)
    assert named["isi_cv"] == pytest.approx(0, abs=1e-12)  # a regular train
    silent = dict(zip(feature_names(True), statistics(flat, [np.zeros(0)], duration)[0], strict=True))
    assert silent["latency"] == 1 and silent["mean_isi"] == 1 and silent["log_count"] == 0
    ramp = np.linspace(-0.07, -0.06, 100)[None, :]
    passive = statistics(ramp, None, duration)[0]
    assert len(passive) == len(feature_names(False)) == 21
    assert passive[0] == pytest.approx(-69.545, abs=1e-3)  # the mean of the first tenth, mV
    assert passive[20] > 0.9  # a smooth trace is strongly autocorrelated
    rng = np.random.default_rng(0)
    white = statistics(rng.standard_normal((1, 10_000)) * 1e-3, None, duration)[0]
    assert white[10] == pytest.approx(1.0, rel=0.05) and abs(white[20]) < 0.03  # sd 1 mV, no memory


def test_a_staircase_stimulus_survives_the_protocol_description():
    current = np.zeros(200)
    current[50:150] = 250
    protocol = Protocol.make(
        "lif",
        stimulus={"samples": current * pA, "sampling_period": 1 * ms},
        duration="200 ms",
        backend="brian2",
        trace_samples=40,
    )
    again = Protocol.from_description(protocol.describe())
    assert again.describe() == protocol.describe()
    assert again.with_backend("brian2-cpp").batch.backend == "brian2-cpp"
