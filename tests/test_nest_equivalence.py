"""The ``nest`` backend (generated NESTML through PyNN) against the ``brian2`` backend.

The NESTML update block holds Brian2's own integration step (printed from its state updater),
in SI units, with the step order of docs/semantics.md. Both simulators then evaluate the same
double-precision expressions; only the evaluation order can differ (see SENSITIVE), so traces
agree to about 1e-14 V away from spikes and spike times exactly. Every library model and preset
is compared. The
first run compiles every library model once (about a minute on two cores); later runs reuse the
build cache. Skipped, with the reason, where NEST, NESTML, PyNN or the C++ toolchain is missing.
"""

from __future__ import annotations

import os
import subprocess
import sys

import neo
import numpy as np
import pytest
import quantities as pq

import sourced_neuron as sn
from sourced_neuron.analysis.compare import compare_backends
from sourced_neuron.backends import backend_status, nestbuild
from sourced_neuron.results.blocks import structure

pytestmark = [pytest.mark.nest, pytest.mark.slow]

IZHIKEVICH = [("izhikevich", preset, "10 pA") for preset in ("rs", "ib", "ch", "fs", "lts", "tc", "rz")]
ADEX = [  # Naud et al. (2008) currents; see docs/models.md
    ("adex", "tonic", "500 pA"),
    ("adex", "adapting", "500 pA"),
    ("adex", "initial_burst", "400 pA"),
    ("adex", "regular_bursting", "210 pA"),
    ("adex", "delayed", "300 pA"),
    ("adex", "delayed_regular_bursting", "110 pA"),
    ("adex", "transient", "180 pA"),
    ("adex", "irregular", "160 pA"),
    ("adex", None, "1 nA"),
]
CASES = [
    ("lif", None, "200 pA"),
    *IZHIKEVICH,
    *ADEX,
    ("hh", None, "500 pA"),
    ("hh", "cobahh", None),  # fires without input
    ("laa", None, "300 pA"),
    ("laa", None, {"start": "20 ms", "stop": "300 ms", "amplitude": "120 pA"}),
]

# The NESTML update block holds Brian2's step after Brian2's own loop-invariant hoisting (the
# invariants in NESTML's internals), so both simulators evaluate the same expressions in the
# same order: traces are identical, also where a steep upswing amplifies any rounding difference
# (Izhikevich fs and lts, AdEx's chaotic irregular preset; before the hoisting was shared their
# trains drifted apart after 30 to 70 spikes), see test_rounding_sensitive_cases_are_identical.
SENSITIVE = {("izhikevich", "fs"), ("izhikevich", "lts"), ("adex", "irregular")}


@pytest.fixture(scope="module", autouse=True)
def nest_available():
    reason = backend_status()["nest"]
    if reason:
        pytest.skip(reason)


def run(backend, name, preset, stimulus, n_neurons=1, duration="500 ms"):
    """Spike trains (ms) and v (V)."""
    block = sn.simulate(
        name, backend=backend, preset=preset, duration=duration, stimulus=stimulus, n_neurons=n_neurons, record=("v",)
    )
    return (
        [t.rescale(pq.ms).magnitude for t in block.segments[0].spiketrains],
        block.segments[0].analogsignals[0].rescale(pq.V).magnitude,
    )


def assert_equivalent(a, b):
    (spikes_a, v_a), (spikes_b, v_b) = a, b
    for x, y in zip(spikes_a, spikes_b, strict=True):
        assert len(x) == len(y)
        # identical steps: spike times differ only by the rounding of the stamps (about 1e-13 ms)
        np.testing.assert_allclose(x, y, rtol=0, atol=1e-9)
    # the same expressions in the same order (see SENSITIVE): equal to rounding at most
    np.testing.assert_allclose(v_a, v_b, rtol=0, atol=1e-12)


@pytest.mark.parametrize(("name", "preset", "stimulus"), CASES, ids=[f"{n}-{p}-{c}" for n, p, c in CASES])
def test_nest_matches_brian2(name, preset, stimulus):
    duration = "500 ms" if name == "hh" else "1 s"  # HH's exponential Euler is slow on Brian2's NumPy target
    assert_equivalent(
        run("nest", name, preset, stimulus, duration=duration),
        run("brian2", name, preset, stimulus, duration=duration),
    )


# f-I sweeps: from below the rheobase to well above it, one neuron per current in one run
FI_SWEEPS = [
    ("lif", None, [f"{i} pA" for i in range(0, 451, 50)]),  # rheobase 150 pA
    ("izhikevich", "rs", [f"{i} pA" for i in range(0, 21, 2)]),  # rheobase about 4 pA
    ("izhikevich", "fs", [f"{i} pA" for i in range(0, 21, 2)]),
    ("adex", "tonic", [f"{i} pA" for i in range(0, 1001, 100)]),
    ("hh", None, [f"{i} pA" for i in range(0, 1001, 100)]),  # rheobase about 384 pA
    ("hh", "cobahh", [f"{i} pA" for i in range(-100, 501, 60)]),  # fires at 0 pA, see docs/models.md
    ("laa", None, [f"{i} pA" for i in range(0, 401, 40)]),
]


@pytest.mark.parametrize(("name", "preset", "currents"), FI_SWEEPS, ids=[f"{n}-{p}" for n, p, _ in FI_SWEEPS])
def test_fi_curves_agree(name, preset, currents):
    seconds = 0.5 if name == "hh" else 1.0
    rows = compare_backends(
        name, ["brian2", "nest"], preset=preset, duration=f"{seconds} s", record=(), fi_currents=currents
    )
    reference, nest = rows[0].fi_rates, rows[1].fi_rates
    assert len(reference) == len(currents) and max(reference) > 10  # the sweep crosses the rheobase
    assert reference[0] < reference[-1]
    # the criterion of issue 3: the curves within 2 % of the largest rate; with identical steps the
    # rates are equal
    assert rows[1].fi_difference <= 2.0, (reference, nest)
    assert np.array_equal(reference, nest), (reference, nest)


RKF45_CASES = [
    ("lif", None, "200 pA"),
    ("izhikevich", "rs", "10 pA"),
    ("adex", "tonic", "500 pA"),
    ("hh", None, "500 pA"),
    ("laa", None, "300 pA"),
]


@pytest.mark.parametrize(("name", "preset", "stimulus"), RKF45_CASES, ids=[f"{n}-{p}" for n, p, _ in RKF45_CASES])
def test_rkf45_is_gsl_on_both(name, preset, stimulus, monkeypatch):
    monkeypatch.setenv("SOURCED_NEURON_BRIAN2_TARGET", "cython")  # Brian2's GSL needs compiled code
    model = sn.load_model(name).with_numerics(method="rkf45")
    (spikes_n, v_n), (spikes_b, v_b) = (run(b, model, preset, stimulus) for b in ("nest", "brian2"))
    assert len(spikes_b[0]) > 5 and len(spikes_n[0]) == len(spikes_b[0])
    # both check the threshold on the same grid; the two GSL loops (odeiv, odeiv2) meet the same
    # 1 uV bound per sub-step, so a crossing could move by one step at most (measured: 1e-13 ms)
    np.testing.assert_allclose(spikes_n[0], spikes_b[0], rtol=0, atol=0.1 + 1e-9)
    # the global error of a 1 uV local bound: microvolts; HH's upstroke (about 500 V/s) turns
    # sub-step timing differences into tens of microvolts (measured: largest 35 uV, lif 1.6 uV)
    assert np.max(np.abs(v_n - v_b)) < 1e-3  # V
    assert np.sqrt(np.mean((v_n - v_b) ** 2)) < 1e-4  # V


def test_white_noise_has_the_same_statistics_on_both():
    """Euler-Maruyama on both with different random streams: compare distributions, not samples.

    The noisy test model is an Ornstein-Uhlenbeck process (tau 10 ms, sigma 2 mV). Its
    Euler-Maruyama recursion has the stationary standard deviation sigma/sqrt(2 - dt/tau) =
    1.4178 mV and lag-one autocorrelation 1 - dt/tau = 0.99.
    """
    path = os.path.join(os.path.dirname(__file__), "models", "valid", "noisy.yaml")
    stats = {}
    for backend in ("brian2", "nest"):
        runs = [
            sn.simulate(path, backend=backend, duration="2 s", n_neurons=200, seed=seed, record=("v",))
            .segments[0]
            .analogsignals[0]
            .rescale(pq.mV)
            .magnitude
            for seed in (11, 11, 12)
        ]
        assert np.array_equal(runs[0], runs[1]) and not np.array_equal(runs[0], runs[2])  # the seed decides
        v = runs[0][5000:]  # after 50 time constants
        lag = np.mean([np.corrcoef(v[:-1, k], v[1:, k])[0, 1] for k in range(v.shape[1])])
        stats[backend] = (v.mean(), v.std(), lag)
    for mean, std, lag in stats.values():
        # about 15,000 independent samples (200 neurons x 1.5 s / 20 ms): standard errors of about
        # 0.012 mV on the mean and 0.6 % on the standard deviation; bounds are 4 standard errors
        assert abs(mean - -65.0) < 0.05
        assert abs(std / 1.4178 - 1) < 0.025
        assert abs(lag - 0.99) < 0.002
    assert abs(stats["brian2"][1] / stats["nest"][1] - 1) < 0.035  # two estimates: sqrt(2) x 2.5 %


# Receptor ports: the same input spikes on every kind of port; weights in SI units. The times put
# arrivals inside refractory periods and on the step of an output spike (reset, then input).
PORT_INPUTS = {
    "ampa": ([5.0, 30.0, 30.1, 61.3], 9e-9),  # S
    "gaba": ([12.0, 47.5], 6e-9),  # S
    "bias": ([20.0, 20.1, 75.0], 150e-12),  # A
    "slow": ([8.0, 66.6], 90e-12),  # A
    "jump": ([40.0, 41.0, 55.5], 4e-3),  # V
}
DELAY = 1.5  # ms


def _ports_on_brian2(model, duration_ms, current):
    import brian2 as b2

    from sourced_neuron.codegen.brian2 import lower

    spec = lower(model)
    group = b2.NeuronGroup(
        1,
        spec.equations,
        threshold=spec.threshold,
        reset=spec.reset,
        refractory=spec.refractory,
        method=spec.method,
        namespace=spec.namespace,
        dt=spec.dt,
    )
    for name, value in spec.initial.items():
        setattr(group, name, value)
    group.I_ext = current * b2.amp
    objects = [group]
    for port, (times, weight) in PORT_INPUTS.items():
        source = b2.SpikeGeneratorGroup(1, [0] * len(times), times * b2.ms, dt=spec.dt)
        synapses = b2.Synapses(source, group, spec.weights[port], on_pre=spec.on_pre[port], dt=spec.dt)
        synapses.connect()
        synapses.w_ = weight
        synapses.delay = DELAY * b2.ms
        synapses.pre.when = "after_resets"  # docs/semantics.md: input after threshold and reset
        objects += [source, synapses]
    monitor = b2.StateMonitor(group, ["v", "g_gaba", "I_slow"], record=0, dt=spec.dt)
    spikes = b2.SpikeMonitor(group)
    b2.Network(*objects, monitor, spikes).run(duration_ms * b2.ms, namespace={})
    return np.asarray(spikes.t / b2.ms), np.column_stack([monitor.v[0], monitor.g_gaba[0], monitor.I_slow[0]])


def _ports_on_nest(model, duration_ms, current):
    import pyNN.nest as sim

    sim.setup(timestep=0.1, min_delay=0.1, spike_precision="on_grid", verbosity="error")
    try:
        cell = sim.Population(1, sn.pynn_cell_type(model)(I_stim=current))
        cell.initialize(**{k: float(np.asarray(v)) for k, v in model.initial_values().items()})
        for port, (times, weight) in PORT_INPUTS.items():
            # a NEST stamp is the end of the step (docs/semantics.md); PyNN scales weights by 1000
            source = sim.Population(1, sim.SpikeSourceArray(spike_times=np.add(times, 0.1)))
            sim.Projection(
                source,
                cell,
                sim.AllToAllConnector(),
                sim.StaticSynapse(weight=weight / 1000, delay=DELAY),
                receptor_type=port,
            )
        cell.record(["spikes", "v", "g_gaba", "I_slow"])
        sim.run(duration_ms)
        segment = cell.get_data().segments[0]
        traces = {s.name: np.asarray(s.magnitude)[:-1, 0] for s in segment.analogsignals}
        spikes = np.asarray(segment.spiketrains[0].magnitude) - 0.1
        return spikes, np.column_stack([traces["v"], traces["g_gaba"], traces["I_slow"]])
    finally:
        sim.end()


def test_receptor_ports_match_brian2():
    model = sn.load_model(os.path.join(os.path.dirname(__file__), "models", "valid", "synaptic.yaml"))
    spikes_b, traces_b = _ports_on_brian2(model, 100.0, 330e-12)
    spikes_n, traces_n = _ports_on_nest(model, 100.0, 330e-12)
    assert 3 <= len(spikes_b) == len(spikes_n)
    np.testing.assert_allclose(spikes_n, spikes_b, rtol=0, atol=1e-9)
    # the same printed step; NESTML passes a weight through its unit conversion (x 0.001 x 1000,
    # about 1e-16 relative), so the traces agree to rounding, not bit for bit
    np.testing.assert_allclose(traces_n[:, 0], traces_b[:, 0], rtol=0, atol=1e-12)  # V
    np.testing.assert_allclose(traces_n[:, 1], traces_b[:, 1], rtol=1e-9, atol=1e-21)  # S
    np.testing.assert_allclose(traces_n[:, 2], traces_b[:, 2], rtol=1e-9, atol=1e-24)  # A
    assert traces_b[:470, 1].max() == pytest.approx(6e-9, rel=1e-3)  # an alpha kernel peaks at its weight
    # the delta port's jump is visible in the step after the arrival
    arrival = round((40.0 + DELAY) / 0.1) + 1
    assert traces_b[arrival, 0] - traces_b[arrival - 1, 0] > 3e-3
    # the next one (42.5 ms) arrives while v is held after the spike at 41.6 ms: dropped, as
    # Brian2's conditional write of an (unless refractory) variable drops it
    assert traces_b[426, 0] == traces_n[426, 0] == pytest.approx(-0.060, abs=1e-12)


def test_a_current_that_changes_every_step_including_the_second():
    # a device reaches a neuron from the third step on; the first two values go into I_stim and
    # I_stim_1 (docs/semantics.md), so every step gets its own value on NEST too
    samples = np.random.default_rng(3).uniform(0, 400, 60) * pq.pA
    stimulus = {"samples": samples, "sampling_period": "0.1 ms"}
    v = [
        sn.simulate("lif", backend=b, duration="6 ms", stimulus=stimulus).segments[0].analogsignals[0].magnitude
        for b in ("brian2", "nest")
    ]
    np.testing.assert_allclose(v[1], v[0], rtol=0, atol=1e-9)  # mV: the same printed step
    assert np.ptp(np.diff(v[0][:, 0])) > 0.1  # the input really changes the slope step by step


def test_a_model_that_reads_t():
    # NESTML's t is the end of the step, Brian2's its start: the generator passes t - dt
    model = sn.NeuronModel.from_yaml(
        "name: clocked\nequations: |\n  dv/dt = (E_L - v + A*sin(6.283185307179586*t/P))/tau : volt\n"
        "parameters: {E_L: -65 mV, A: 7 mV, P: 13 ms, tau: 5 ms}\ninitial: {v: E_L}\n"
        "numerics: {method: rk4, dt: 0.1 ms}\n"
    )
    v = [
        sn.simulate(model, backend=b, duration="40 ms").segments[0].analogsignals[0].magnitude
        for b in ("brian2", "nest")
    ]
    np.testing.assert_allclose(v[1], v[0], rtol=0, atol=1e-9)
    assert np.ptp(v[0]) > 5  # mV


@pytest.mark.parametrize(("name", "preset"), sorted(SENSITIVE))
def test_rounding_sensitive_cases_are_identical(name, preset):
    stimulus = "160 pA" if name == "adex" else "10 pA"
    (spikes_n, v_n), (spikes_b, v_b) = (run(b, name, preset, stimulus, duration="1 s") for b in ("nest", "brian2"))
    assert len(spikes_b[0]) > 50  # long enough for any rounding difference to have moved a spike
    assert len(spikes_n[0]) == len(spikes_b[0])
    assert np.array_equal(v_n, v_b)  # bit for bit (measured: all three)


def test_stimulus_kinds_per_neuron():
    samples = np.zeros((400, 3))
    samples[100:300, 0] = 200.0
    samples[:, 1] = 300.0  # nonzero from t = 0: goes into I_stim
    samples[250:, 2] = 180.0
    signal = neo.AnalogSignal(samples, units=pq.pA, sampling_period=1 * pq.ms)
    step = {"start": "0 ms", "stop": "300 ms", "amplitude": ["250 pA", "400 pA", "0 pA"]}
    for stimulus in (signal, step, ["150 pA", "200 pA", "300 pA"]):
        assert_equivalent(
            run("nest", "lif", None, stimulus, n_neurons=3), run("brian2", "lif", None, stimulus, n_neurons=3)
        )


def test_neo_structure_is_the_same_on_both_backends():
    blocks = [
        sn.simulate(
            "adex", backend=b, preset="tonic", duration="50 ms", stimulus="500 pA", n_neurons=2, record=("v", "w")
        )
        for b in ("brian2", "nest")
    ]
    a, b = (block.segments[0] for block in blocks)
    assert [s.name for s in a.analogsignals] == [s.name for s in b.analogsignals] == ["adex.v", "adex.w"]
    assert [s.units for s in a.analogsignals] == [s.units for s in b.analogsignals]
    assert [s.shape for s in a.analogsignals] == [s.shape for s in b.analogsignals]
    assert all(
        x.t_stop == y.t_stop and x.annotations["index"] == y.annotations["index"]
        for x, y in zip(a.spiketrains, b.spiketrains, strict=True)
    )
    keys = set(blocks[0].annotations) - {"codegen_target"}
    assert keys <= set(blocks[1].annotations)
    layouts = [structure(block) for block in blocks]
    for layout in layouts:
        del layout["populations"][0]["simulator"]  # codegen_target on brian2, nest_model on NEST
    assert layouts[0] == layouts[1] and layouts[0]["populations"][0]["size"] == 2
    assert blocks[1].annotations["backend"] == "nest" and blocks[1].annotations["method"] == "rk4"


def test_compare_command_reports_agreement():
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "sourced_neuron",
            "compare",
            "izhikevich",
            "--preset",
            "rs",
            "--current",
            "10 pA",
            "--backends",
            "brian2,nest",
        ],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count(" ok") == 2
    assert "f-I diff %" in result.stdout and "f-I sweep over 9 currents" in result.stdout


def test_pynn_cell_type_for_pynn_users():
    import pyNN.nest as sim

    model = sn.load_model("izhikevich").with_preset("ch")
    sim.setup(timestep=0.1, min_delay=0.1)
    try:
        cell_type = sn.pynn_cell_type(model)
        population = sim.Population(2, cell_type(I_stim=[10e-12, 0.0]))  # SI units: amp
        population.initialize(v=-0.065, u=-0.013)
        population.record("spikes")
        sim.run(200.0)
        counts = [len(t) for t in population.get_data().segments[0].spiketrains]
    finally:
        sim.end()
    reference = sn.simulate(model, duration="200 ms", stimulus=["10 pA", "0 pA"], n_neurons=2, record=())
    assert counts == [len(t) for t in reference.segments[0].spiketrains] and counts[0] > 10


def test_build_cache_is_reused_and_listed():
    models = [sn.load_model(name).with_preset(preset) for name, preset, _ in CASES]
    first, _ = nestbuild.build_models(models)
    again, _ = nestbuild.build_models(models[::-1])  # the same structures in another order: the same key
    assert again.key == first.key and again.library.exists()
    assert first.key in {entry["key"] for entry in nestbuild.cache_entries()}


def test_a_failed_build_is_reported_and_never_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCED_NEURON_CACHE", str(tmp_path))
    broken = "model broken_sn:\n    state:\n        v real = 0.0\n    update:\n        v = undefined_name * 2\n"
    with pytest.raises(nestbuild.BuildError) as info:
        nestbuild.build_module({"broken_sn": broken})
    message = str(info.value)
    assert "building the NEST module failed; the build folder is" in message and "build.log" in message
    assert nestbuild.cache_entries() == []  # nothing half-installed
    assert list((tmp_path / "nest" / "failed").iterdir())  # the failed build is kept for inspection


def test_a_second_process_compiles_nothing():
    models = [sn.load_model("lif")]
    nestbuild.build_models(models)  # built (or found) by this process
    before = {entry["key"] for entry in nestbuild.cache_entries()}
    code = """
import time, sourced_neuron as sn
from sourced_neuron.backends.nestbuild import build_models
started = time.perf_counter()
module, _ = build_models([sn.load_model("lif")])
import nest
nest.Install(str(module.library.with_suffix("")))
print(time.perf_counter() - started)
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=300)
    assert float(result.stdout.strip().splitlines()[-1]) < 2.0  # cache lookup and loading, no compilation
    assert {entry["key"] for entry in nestbuild.cache_entries()} == before


def test_two_processes_building_the_same_model_at_once(tmp_path):
    code = """
import sourced_neuron as sn
from sourced_neuron.backends.nestbuild import build_models
module, _ = build_models([sn.load_model("lif")])
print(module.key, module.library.exists())
"""
    env = {**os.environ, "SOURCED_NEURON_CACHE": str(tmp_path)}
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
        )
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=900)[0].strip().splitlines()[-1] for p in processes]
    assert all(p.returncode == 0 for p in processes)
    assert outputs[0] == outputs[1] and outputs[0].endswith("True")  # one key, one complete module
    assert len(list((tmp_path / "nest").glob("*/manifest.json"))) == 1
    assert not list((tmp_path / "nest").glob(".build-*"))  # no leftovers
