"""Sweeps: what varies (grids, tables, samplers with units), batched runs that equal ``simulate`` set
by set on every backend, measures, Parquet parts that survive interruptions, and Dask."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import sourced_neuron as sn
from sourced_neuron import backend_status
from sourced_neuron.common.errors import InputError, SimulationError, StorageError, UnitError
from sourced_neuron.experiments import batch as batch_module
from sourced_neuron.experiments.batch import Batch
from sourced_neuron.experiments.space import ParameterSpace, model_unit
from sourced_neuron.experiments.sweep import SweepWarning, sweep
from sourced_neuron.spec.model import NeuronModel

pytestmark = pytest.mark.brian2

LIF = sn.load_model("lif")
LAA = sn.load_model("laa")

#: Each set's blow-up rate: a = 0 stays at 1 mV, a > 0 overflows (v' = a v^2 reaches infinity at 1/a ms).
BLOWUP = NeuronModel.from_yaml(
    """\
name: blowup
description: dv/dt = a*v**2/(mV*ms), finite for a = 0 and overflowing for a > 0.
equations: |
  dv/dt = a*v**2/(mV*ms) : volt
parameters:
  a: 0.0
initial:
  v: 1 mV
numerics:
  method: euler
  dt: 0.1 ms
""",
    source="test_sweep.blowup",
)

#: (backend, Brian2 code generation target): every backend, skipped with its reason where absent.
BACKENDS = [
    pytest.param(("brian2", "numpy"), id="brian2-numpy"),
    pytest.param(("brian2-cpp", None), marks=pytest.mark.slow, id="brian2-cpp"),
    pytest.param(("brian2-cuda", None), marks=pytest.mark.slow, id="brian2-cuda"),
    pytest.param(("nest", None), marks=[pytest.mark.nest, pytest.mark.slow], id="nest"),
]


# --- what varies ------------------------------------------------------------------------------


def test_a_grid_is_every_combination_first_name_slowest_in_the_model_units():
    space = ParameterSpace.from_user(
        LAA, {"g_L": ["0.05 mS/cm**2", "0.2 mS/cm**2"], "k": ["4 mV", "7 mV", "12 mV"], "E_L": "-63 mV"}
    )
    assert space.names == ("g_L", "k", "E_L") and len(space) == 6
    shown = space.shown()
    np.testing.assert_allclose(shown["g_L"], [0.05, 0.05, 0.05, 0.2, 0.2, 0.2])
    np.testing.assert_allclose(shown["k"], [4, 7, 12, 4, 7, 12])
    np.testing.assert_allclose(shown["E_L"], -63.0)
    assert space.units == {"g_L": "mS/cm**2", "k": "mV", "E_L": "mV"}
    # SI inside: 0.05 mS/cm**2 = 0.5 S/m**2
    np.testing.assert_allclose(space.column("g_L")[:1], [0.5])
    assert model_unit(LIF, "R_m") == ("Mohm", pytest.approx(1e6))


def test_samplers_draw_n_sets_from_the_seed_within_their_bounds():
    params = {"tau_m": {"uniform": ["8 ms", "16 ms"]}, "R_m": {"loguniform": ["50 Mohm", "400 Mohm"]}}
    a = ParameterSpace.from_user(LIF, params, n=500, seed=3)
    b = ParameterSpace.from_user(LIF, params, n=500, seed=3)
    np.testing.assert_array_equal(a.values, b.values)
    shown = a.shown()
    assert 8 <= shown["tau_m"].min() and shown["tau_m"].max() <= 16
    assert 50 <= shown["R_m"].min() and shown["R_m"].max() <= 400
    # log-uniform: half the draws below the geometric midpoint sqrt(50*400) = 141 Mohm
    assert 0.4 < np.mean(shown["R_m"] < 141.4) < 0.6


def test_a_table_takes_strings_with_units_or_numbers_in_the_units_it_names():
    strings = pd.DataFrame({"tau_m": ["12 ms", "0.02 s"], "V_th": ["-52 mV", "-48 mV"]})
    space = ParameterSpace.from_user(LIF, strings)
    np.testing.assert_allclose(space.shown()["tau_m"], [12, 20])
    numbers = pd.DataFrame({"tau_m": [0.012, 0.02]})
    numbers.attrs["units"] = {"tau_m": "s"}
    np.testing.assert_allclose(ParameterSpace.from_user(LIF, numbers).shown()["tau_m"], [12, 20])
    plain = pd.DataFrame({"tau_m": [12.0, 20.0]})  # no units given: the model's (ms)
    np.testing.assert_allclose(ParameterSpace.from_user(LIF, plain).column("tau_m"), [0.012, 0.02])


@pytest.mark.parametrize(
    ("params", "kwargs", "error", "words"),
    [
        ({"tau": ["10 ms"]}, {}, InputError, ["'tau'", "tau_m"]),
        ({"tau_m": [10, 20]}, {}, UnitError, ["tau_m", "second"]),
        ({"tau_m": ["10 mV"]}, {}, UnitError, ["tau_m", "volt"]),
        ({"tau_m": []}, {}, InputError, ["non-empty"]),
        ({"tau_m": ["-10 ms", "10 ms"]}, {}, InputError, ["tau_m", "must be above 0 ms", "-10.0 ms"]),
        ({"tau_m": ["10 ms"], "R_m": {"uniform": ["1 Mohm", "2 Mohm"]}}, {"n": 4}, InputError, ["mixes"]),
        ({"R_m": {"uniform": ["1 Mohm", "2 Mohm"]}}, {}, InputError, ["need n"]),
        ({"R_m": {"uniform": ["2 Mohm", "1 Mohm"]}}, {"n": 3}, InputError, ["low < high"]),
        ({"R_m": {"gauss": ["2 Mohm", "1 Mohm"]}}, {"n": 3}, InputError, ["uniform, loguniform, normal"]),
        ({}, {}, InputError, ["non-empty"]),
    ],
)
def test_bad_parameter_sets_are_refused_naming_what_is_wrong(params, kwargs, error, words):
    with pytest.raises(error) as info:
        ParameterSpace.from_user(LIF, params, **kwargs)
    for word in words:
        assert word in str(info.value)


def test_the_current_cannot_be_swept_in_a_model_that_does_not_read_it():
    with pytest.raises(InputError, match="does not read I_ext"):
        ParameterSpace.from_user(BLOWUP, {"I_ext": ["1 pA"]})


# --- batches equal simulate, set by set, on every backend -------------------------------------


@pytest.mark.parametrize("backend", BACKENDS, indirect=True)
def test_each_set_of_a_batch_is_what_simulate_gives_for_it_alone(backend):
    """Deterministic neurons, unconnected: per-neuron values and a per-neuron current give each
    set exactly the spikes and trace of its own run (the same arithmetic on the same values), on
    every backend; asymmetric values so that a swapped column would fail."""
    names = ("tau_m", "V_th", "v", "I_ext")
    rows = np.array(
        [
            [0.012, -0.051, -0.070, 260e-12],
            [0.018, -0.047, -0.060, 410e-12],
            [0.009, -0.053, -0.065, 0.0],  # silent: below rheobase
        ]
    )
    batch = Batch.make(LIF, duration="120 ms", backend=backend, record=("v",))
    run = batch.run(names, rows)
    assert not run.failed
    for k, row in enumerate(rows):
        params = {
            "tau_m": row[0] * sn_units("second"),
            "V_th": row[1] * sn_units("volt"),
            "v": row[2] * sn_units("volt"),
        }
        alone = sn.simulate(LIF, backend, duration="120 ms", params=params, stimulus=row[3] * sn_units("amp"))
        segment = alone.segments[0]
        np.testing.assert_array_equal(run.spikes[k] * 1e3, segment.spiketrains[0].rescale("ms").magnitude)
        trace = segment.analogsignals[0].rescale("V").magnitude[:, 0]
        # the same arithmetic, but a per-neuron value is read where a single run's code generator
        # folds a constant: the integrator's coefficients may differ in the last bit (1e-16 relative,
        # seen on brian2-numpy), never enough to move a spike by a step (asserted exactly above)
        np.testing.assert_allclose(run.signals["v"][:, k], trace, rtol=1e-14, atol=0)
    assert len(run.spikes[0]) and len(run.spikes[1]) and not len(run.spikes[2])
    # and the block made for one set is simulate's block, annotations included
    block = batch.set_block(names, rows[1], run, 1)
    assert block.annotations["parameters"] == alone_block_parameters(rows[1])
    assert block.annotations["stimulus"] == "constant 410 pA"


@pytest.mark.parametrize("backend", BACKENDS, indirect=True)
def test_a_step_whose_amplitude_is_swept_equals_simulate_set_by_set(backend):
    """The amplitude of a step current varies per set (an f-I curve of a step protocol); the
    compiled project depends on the step's timing only, not on the amplitudes."""
    from sourced_neuron.backends.brian2_standalone import project_key

    step = {"start": "20 ms", "stop": "70 ms", "amplitude": "1 pA"}
    batch = Batch.make(LIF, duration="100 ms", backend=backend, stimulus=step)
    rows = np.array([[0.011, 330e-12], [0.019, 520e-12]])
    run = batch.run(("tau_m", "I_ext"), rows)
    for k, (tau, current) in enumerate(rows):
        alone = sn.simulate(
            LIF, backend, duration="100 ms", params={"tau_m": tau * sn_units("second")},
            stimulus={**step, "amplitude": current * sn_units("amp")},
        )  # fmt: skip
        expected = alone.segments[0].spiketrains[0].rescale("ms").magnitude
        assert len(expected) > 2
        np.testing.assert_array_equal(run.spikes[k] * 1e3, expected)
        assert expected[0] >= 20  # nothing before the step
    other = batch.network(("tau_m", "I_ext"), rows * [1, 1.7])
    assert project_key(batch.network(("tau_m", "I_ext"), rows), "cpp_standalone", {}) == project_key(
        other, "cpp_standalone", {}
    )


def sn_units(name: str):
    import brian2

    return getattr(brian2, name)


def alone_block_parameters(row) -> list[str]:
    import brian2

    block = sn.simulate(LIF, duration="1 ms", params={"tau_m": row[0] * brian2.second, "V_th": row[1] * brian2.volt})
    return block.annotations["parameters"]


def test_a_set_whose_state_overflows_is_reported_and_the_others_kept():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the overflow on purpose
        frame = sweep(BLOWUP, {"a": [0.0, 2.0, 0.0, 0.5]}, duration="5 ms", measures=("peak:v",), client="synchronous")
    assert frame["peak_v"].isna().tolist() == [False, True, False, True]
    np.testing.assert_allclose(frame["peak_v"][[0, 2]], 1.0)  # mV: a = 0 stays at 1 mV
    assert "infinite or NaN" in frame["reason"][1] and frame["reason"][0] == ""


def test_a_sweep_on_the_padded_standalone_project_matches_the_runtime(monkeypatch):
    """brian2-cpp pads the last batch to the batch size (one compiled project for all batches)."""
    if backend_status()["brian2-cpp"]:
        pytest.skip(backend_status()["brian2-cpp"])
    params = {"tau_m": ["11 ms", "17 ms", "23 ms"], "I_ext": ["230 pA", "390 pA"]}
    cpp = sweep(
        LIF,
        params,
        duration="200 ms",
        backend="brian2-cpp",
        batch_size=4,
        client="synchronous",
        measures=("spike_count", "first_spike_latency"),
    )
    runtime = sweep(
        LIF, params, duration="200 ms", client="synchronous", measures=("spike_count", "first_spike_latency")
    )
    np.testing.assert_array_equal(cpp["spike_count"], runtime["spike_count"])
    np.testing.assert_array_equal(cpp["first_spike_latency"], runtime["first_spike_latency"])


# --- measures -----------------------------------------------------------------------------------


def test_measures_against_the_lif_closed_form_and_their_reasons():
    """Rate: the LIF period under a constant current is t_ref + tau_m ln(RI/(RI - (V_th - E_L)))
    (models/lif.yaml); spikes are stamped at the start of their step, so the simulated period is
    that time rounded up to whole steps: within one step (0.1 ms) of the formula."""
    frame = sweep(
        LIF,
        {"tau_m": ["10 ms", "16 ms"], "I_ext": ["100 pA", "350 pA"]},
        duration="500 ms",
        measures=("rate", "spike_count", "first_spike_latency", "isi_cv", "mean:v", "resting_potential"),
        client="synchronous",
    )
    assert list(frame.columns) == [
        "set", "tau_m", "I_ext", "rate", "spike_count", "first_spike_latency", "isi_cv", "mean_v",
        "resting_potential", "reason",
    ]  # fmt: skip
    assert frame.attrs["units"]["rate"] == "Hz" and frame.attrs["units"]["tau_m"] == "ms"
    firing = frame[frame["I_ext"] == 350]
    for _, row in firing.iterrows():
        tau = row["tau_m"] * 1e-3
        crossing = tau * np.log(0.035 / (0.035 - 0.015))
        period = 2e-3 + crossing
        assert abs(1 / row["rate"] - period) < 2e-4  # a step each for the crossing and the count window
        assert row["first_spike_latency"] == pytest.approx(np.floor(crossing / 1e-4 + 1e-9) * 0.1, abs=1e-9)
        assert row["isi_cv"] < 1e-9 and np.isnan(row["resting_potential"])
    silent = frame[frame["I_ext"] == 100]
    assert (silent["rate"] == 0).all() and silent["first_spike_latency"].isna().all()
    # at rest under 100 pA: E_L + R_m I = -65 mV + 10 mV
    np.testing.assert_allclose(silent["resting_potential"], -55.0, atol=1e-3)
    assert all("no spike after the stimulus started" in r and "ISI CV needs at least 3" in r for r in silent["reason"])


def test_user_measures_get_each_sets_segment_and_their_failures_are_kept():
    def v_at_end(segment):
        return segment.analogsignals[0][-1, 0]  # a quantities scalar: its unit goes into attrs

    def fails_on_tau_16(segment):
        if "tau_m = 16.0 ms" in segment.annotations["parameters"]:
            raise RuntimeError("not this one")
        return 1.0

    frame = sweep(
        LIF,
        {"tau_m": ["10 ms", "16 ms"]},
        duration="20 ms",
        stimulus="120 pA",
        measures=(v_at_end, fails_on_tau_16, ("count", lambda segment: len(segment.spiketrains[0]))),
        client="synchronous",
    )
    assert frame.attrs["units"]["v_at_end"] == "mV"
    assert frame["v_at_end"].iloc[0] > frame["v_at_end"].iloc[1] > -65  # the faster membrane charges more
    assert frame["fails_on_tau_16"].tolist()[0] == 1.0 and np.isnan(frame["fails_on_tau_16"].iloc[1])
    assert "fails_on_tau_16: RuntimeError: not this one" in frame["reason"].iloc[1]
    assert (frame["count"] == 0).all()


@pytest.mark.parametrize(
    ("measures", "words"),
    [
        (("rates",), ["unknown measure 'rates'", "rate"]),
        (("mean:x",), ["no variable 'x'"]),
        ((lambda s: 1.0,), ["needs a name"]),
        ((), ["empty"]),
        (("rate", "rate"), ["twice"]),
    ],
)
def test_bad_measures_are_refused_before_anything_runs(measures, words):
    with pytest.raises(InputError) as info:
        sweep(LIF, {"tau_m": ["10 ms"]}, duration="10 ms", measures=measures, client="synchronous")
    for word in words:
        assert word in str(info.value)


def test_spike_measures_of_a_model_without_threshold_are_refused():
    with pytest.raises(InputError, match="no threshold"):
        sweep(BLOWUP, {"a": [0.0]}, duration="1 ms", measures=("rate",), client="synchronous")


# --- results that survive -----------------------------------------------------------------------


def count_batches(monkeypatch) -> list[int]:
    """Record the size of every batch simulated from now on (the list returned fills up)."""
    calls: list[int] = []
    original = Batch.run

    def counting(self, names, values, pad_to=None):
        calls.append(len(values))
        return original(self, names, values, pad_to)

    monkeypatch.setattr(batch_module.Batch, "run", counting)
    return calls


GRID = {"tau_m": ["9 ms", "13 ms", "17 ms", "21 ms"], "I_ext": ["200 pA", "300 pA", "420 pA"]}


def test_parts_are_written_and_a_second_call_simulates_only_what_is_missing(tmp_path, monkeypatch):
    out = tmp_path / "sweep.parquet"
    first = sweep(LIF, GRID, duration="100 ms", batch_size=5, client="synchronous", out=out)
    parts = sorted(p.name for p in out.glob("part-*.parquet"))
    assert parts == ["part-000000.parquet", "part-000001.parquet", "part-000002.parquet"]
    assert json.loads((out / "_sweep.json").read_text())["sets"] == 12
    # the folder reads back as one table (pyarrow skips _sweep.json)
    assert sorted(pd.read_parquet(out)["set"]) == list(range(12))
    (out / "part-000001.parquet").unlink()
    calls = count_batches(monkeypatch)
    again = sweep(LIF, GRID, duration="100 ms", batch_size=5, client="synchronous", out=out)
    assert calls == [5]  # only the missing batch
    pd.testing.assert_frame_equal(first, again)


def test_an_out_folder_of_another_sweep_is_refused(tmp_path):
    out = tmp_path / "sweep.parquet"
    sweep(LIF, {"tau_m": ["9 ms"]}, duration="10 ms", client="synchronous", out=out)
    with pytest.raises(InputError, match=r"holds another sweep.*duration_s"):
        sweep(LIF, {"tau_m": ["9 ms"]}, duration="20 ms", client="synchronous", out=out)
    (tmp_path / "file.parquet").write_text("x")
    with pytest.raises(InputError, match="is a file"):
        sweep(LIF, {"tau_m": ["9 ms"]}, duration="10 ms", client="synchronous", out=tmp_path / "file.parquet")


KILLED = """
import sys, time
from sourced_neuron.experiments import batch
from sourced_neuron.experiments.sweep import sweep
original = batch.Batch.run
def slow(self, *args, **kwargs):
    result = original(self, *args, **kwargs)
    time.sleep(0.3)
    return result
batch.Batch.run = slow
sweep("lif", {GRID!r}, duration="100 ms", batch_size=2, client="synchronous", out=sys.argv[1])
"""


@pytest.mark.slow
def test_a_killed_sweep_resumes_from_its_parts_and_recomputes_nothing_finished(tmp_path, monkeypatch):
    out = tmp_path / "sweep.parquet"
    script = tmp_path / "killed.py"
    script.write_text(KILLED.replace("{GRID!r}", repr(GRID)))
    process = subprocess.Popen([sys.executable, str(script), str(out)], env={**os.environ})
    deadline = time.monotonic() + 120
    while len(list(out.glob("part-*.parquet"))) < 2 and time.monotonic() < deadline:
        assert process.poll() is None, "the sweep ended before it could be killed"
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)  # as a crashed machine: no clean-up runs
    process.wait()
    written = sorted(out.glob("part-*.parquet"))
    assert 2 <= len(written) < 6
    calls = count_batches(monkeypatch)
    resumed = sweep(LIF, GRID, duration="100 ms", batch_size=2, client="synchronous", out=out)
    assert len(calls) == 6 - len(written)
    fresh = sweep(LIF, GRID, duration="100 ms", batch_size=4, client="synchronous")
    np.testing.assert_array_equal(resumed["rate"], fresh["rate"])
    assert not any(p.name.startswith(".") for p in out.iterdir())  # no half-written part is left visible


def test_a_failed_batch_is_reported_not_written_and_tried_again_next_time(tmp_path, monkeypatch):
    out = tmp_path / "sweep.parquet"
    original = Batch.run

    def failing(self, names, values, pad_to=None):
        if np.isclose(values[0, 0], 0.013):
            raise StorageError("the disk is full")
        return original(self, names, values, pad_to)

    monkeypatch.setattr(batch_module.Batch, "run", failing)
    with pytest.warns(SweepWarning, match=r"batch 1 \(sets 3 to 5\).*the disk is full"):
        frame = sweep(LIF, GRID, duration="50 ms", batch_size=3, client="synchronous", out=out)
    assert frame["rate"].isna().tolist() == [False] * 3 + [True] * 3 + [False] * 6
    assert "failed after 3 tries: StorageError" in frame["reason"][3]
    assert frame.attrs["failed_batches"] == [1]
    assert not (out / "part-000001.parquet").exists()
    monkeypatch.setattr(batch_module.Batch, "run", original)
    again = sweep(LIF, GRID, duration="50 ms", batch_size=3, client="synchronous", out=out)
    assert not again["rate"].isna().any()


def test_sets_the_simulator_fails_on_are_found_by_halving_the_batch(monkeypatch):
    """A simulator error for one set's values (a division by zero in compiled code) stops the run
    of its whole batch: the batch is run again in halves until the failing sets are alone."""
    original = Batch.run
    calls = []

    def failing(self, names, values, pad_to=None):
        calls.append(len(values))
        if np.any(np.isclose(values[:, 0], 0.017)):
            raise SimulationError("float division")
        return original(self, names, values, pad_to)

    monkeypatch.setattr(batch_module.Batch, "run", failing)
    frame = sweep(LIF, GRID, duration="50 ms", batch_size=12, client="synchronous")
    bad = frame["tau_m"] == 17
    assert frame.loc[bad, "rate"].isna().all() and not frame.loc[~bad, "rate"].isna().any()
    assert all("the simulator failed: float division" in r for r in frame.loc[bad, "reason"])
    assert len(calls) < 12  # halving, not one run per set


def test_a_sweep_whose_every_batch_fails_raises_the_error(monkeypatch):
    def failing(self, names, values, pad_to=None):
        raise SimulationError("broken simulator")

    monkeypatch.setattr(batch_module.Batch, "run", failing)
    with pytest.raises(SimulationError, match="broken simulator"):
        sweep(LIF, GRID, duration="50 ms", batch_size=6, client="synchronous")


def test_the_progress_bar_counts_parameter_sets(capsys):
    sweep(LIF, GRID, duration="20 ms", batch_size=6, client="synchronous", progress=True)
    err = capsys.readouterr().err
    assert "12/12" in err and "set" in err


# --- Dask ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dask_client():
    from dask.distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0")
    client = Client(cluster)
    yield client
    client.close()
    cluster.close()


def _dies_once(marker: str):
    def measure(segment):
        if not Path(marker).exists():
            Path(marker).write_text(str(os.getpid()))
            os.kill(os.getpid(), signal.SIGKILL)  # the worker dies in the middle of a batch
        return 1.0

    return measure


@pytest.mark.slow
def test_on_dask_a_killed_worker_loses_nothing(dask_client, tmp_path):
    measure = ("alive", _dies_once(str(tmp_path / "died")))
    frame = sweep(LIF, GRID, duration="50 ms", batch_size=3, client=dask_client, measures=("rate", measure))
    assert (tmp_path / "died").exists()  # a worker did die
    assert (frame["alive"] == 1.0).all() and not frame["rate"].isna().any()
    local = sweep(LIF, GRID, duration="50 ms", batch_size=3, client="synchronous")
    np.testing.assert_array_equal(frame["rate"], local["rate"])


@pytest.mark.slow
def test_the_default_client_is_a_local_cluster_of_worker_processes(monkeypatch):
    from sourced_neuron.experiments import cluster

    monkeypatch.setenv("SOURCED_NEURON_WORKERS", "2")
    frame = sweep(LIF, {"tau_m": ["9 ms", "13 ms"]}, duration="50 ms", stimulus="300 pA")
    client = cluster.local_client()
    workers = client.scheduler_info()["workers"].values()
    assert len(workers) == 2 and all(w["nthreads"] == 1 for w in workers)
    assert frame["rate"].iloc[0] > frame["rate"].iloc[1] > 0
    cluster.close_local()


def test_a_closed_client_or_another_object_is_refused():
    with pytest.raises(InputError, match=r"dask\.distributed\.Client"):
        sweep(LIF, {"tau_m": ["9 ms"]}, duration="10 ms", client="threads")


# --- the command line ---------------------------------------------------------------------------


def test_the_sweep_command_prints_the_table_writes_parquet_and_a_heatmap(tmp_path, capsys):
    from sourced_neuron.cli.main import main

    out, plot = tmp_path / "sweep.parquet", tmp_path / "heatmap.png"
    status = main(
        [
            "sweep", "lif", "--vary", "tau_m=9:21:3 ms", "--vary", "I_ext=250,420 pA", "--measure", "rate",
            "--duration", "100 ms", "--cluster", "synchronous", "--out", str(out), "--plot", str(plot),
        ]
    )  # fmt: skip
    printed = capsys.readouterr().out
    assert status == 0, printed
    assert "6 parameter sets of lif on brian2" in printed and "tau_m (ms)" in printed and "rate (Hz)" in printed
    table = pd.read_parquet(out)
    assert sorted(table["tau_m"].unique()) == [9.0, 15.0, 21.0] and sorted(table["I_ext"].unique()) == [250.0, 420.0]
    assert plot.read_bytes()[:4] == b"\x89PNG" and plot.stat().st_size > 10_000


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--vary", "tau=9:21:3 ms"], ["no parameter", "'tau'", "tau_m"]),
        (["--vary", "tau_m=9:21:3"], ["tau_m", "must have units of second"]),
        (["--vary", "tau_m=9:21:3 mV"], ["tau_m", "second", "volt"]),
        (["--vary", "tau_m=9:21:0 ms"], ["the grid is empty"]),
        (["--vary", "tau_m=9:21 ms"], ["is a range", "--samples"]),
        (["--vary", "tau_m"], ["NAME=VALUES UNIT"]),
        ([], ["at least one --vary"]),
        (["--vary", "tau_m=9 ms", "--cluster", "tcp://127.0.0.1:9"], ["cannot reach the Dask scheduler"]),
    ],
)
def test_the_sweep_command_refuses_bad_input_with_one_clear_line(args, words, capsys):
    from sourced_neuron.cli.main import main

    status = main(["sweep", "lif", "--duration", "10 ms", "--cluster", "synchronous", *args])
    err = capsys.readouterr().err
    assert status == 2, err
    for word in words:
        assert word in err.replace("\n", " ")


@pytest.mark.nest
@pytest.mark.slow
def test_nest_sweeps_run_in_worker_processes_with_the_spikes_of_brian2(dask_client):
    """NEST's kernel is global to a process: each Dask worker process holds its own. The generated
    NEST model gives Brian2's spikes (the equivalence tests), so the counts are equal."""
    if backend_status()["nest"]:
        pytest.skip(backend_status()["nest"])
    params = {"tau_m": ["11 ms", "19 ms"], "I_ext": ["260 pA", "480 pA"]}
    on_nest = sweep(
        LIF,
        params,
        duration="200 ms",
        backend="nest",
        batch_size=2,
        client=dask_client,
        measures=("spike_count", "first_spike_latency"),
    )
    on_brian2 = sweep(
        LIF, params, duration="200 ms", client="synchronous", measures=("spike_count", "first_spike_latency")
    )
    np.testing.assert_array_equal(on_nest["spike_count"], on_brian2["spike_count"])
    # the same steps; NEST reports times in ms, Brian2 in s: their floats differ in the last bit
    np.testing.assert_allclose(on_nest["first_spike_latency"], on_brian2["first_spike_latency"], rtol=0, atol=1e-9)
    assert on_nest.attrs["backend"] == "nest" and (on_nest["spike_count"] > 0).all()


def test_the_experiments_are_public_names_of_the_package():
    assert sn.sweep is sweep
    assert sn.sensitivity.__module__ == "sourced_neuron.experiments.sensitivity"


def test_a_standalone_project_in_use_gives_the_next_process_its_own_copy(tmp_path):
    """Workers of a sweep run the same compiled project at once: each takes a copy no other process
    holds (compiled once per copy), instead of waiting for the lock of the first."""
    from sourced_neuron.backends.brian2_standalone import _free_copy
    from sourced_neuron.common import cache

    first_lock, first = _free_copy(tmp_path, "abc")
    with first_lock:
        assert first == tmp_path / "abc"
        held = subprocess.run(
            [sys.executable, "-c", "from pathlib import Path; from sourced_neuron.backends.brian2_standalone import "
             f"_free_copy; lock, folder = _free_copy(Path({str(tmp_path)!r}), 'abc'); print(folder.name)"],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        assert held.stdout.strip() == "abc-1"
    again, folder = _free_copy(tmp_path, "abc")  # free again: the project itself
    assert folder == tmp_path / "abc" and isinstance(again, cache.Lock)
    again.release()


@pytest.mark.slow
def test_on_dask_brian2_cpp_workers_run_copies_of_one_project(dask_client):
    if backend_status()["brian2-cpp"]:
        pytest.skip(backend_status()["brian2-cpp"])
    params = {"tau_m": ["9 ms", "12 ms", "15 ms", "18 ms"], "I_ext": ["260 pA", "390 pA"]}
    remote = sweep(LIF, params, duration="100 ms", backend="brian2-cpp", batch_size=2, client=dask_client)
    local = sweep(LIF, params, duration="100 ms", batch_size=8, client="synchronous")
    np.testing.assert_array_equal(remote["rate"], local["rate"])
