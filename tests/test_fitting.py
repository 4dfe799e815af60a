"""Fitting (sourced_neuron.experiments.fitting): the gamma factor and the feature distance against
their definitions, argument checks, the result's parts, and recovery of known parameter values
from synthetic targets of lif, adex and hh.

Recovery tests simulate the target with known values (not the defaults, not at the centre of the
bounds) and fit a few parameters that the target identifies, in this process
(``client="synchronous"``) on Brian2's runtime target of the test suite (NumPy, conftest.py).
"""

from __future__ import annotations

import time

import neo
import numpy as np
import pytest
import quantities as pq

import sourced_neuron as sn
from sourced_neuron.common.errors import InputError, UnitError
from sourced_neuron.experiments.fitting import (
    MISSING,
    FitResult,
    coincidences,
    feature_distance,
    fit,
    gamma_factor,
)

pytestmark = pytest.mark.brian2

LIF_STEP = {"start": "10 ms", "stop": "60 ms", "amplitude": "250 pA"}


def lif_trace(params=None, stimulus=LIF_STEP, duration="80 ms"):
    block = sn.simulate("lif", duration=duration, params=params or {}, stimulus=stimulus)
    return block.segments[0].analogsignals[0]


@pytest.fixture(scope="module")
def lif_target():
    """The default lif's membrane potential under LIF_STEP (80 ms)."""
    return lif_trace()


def report(name, result: FitResult, truth: dict, seconds: float) -> dict:
    """The relative error of every fitted value (%), printed for the record (pytest -s)."""
    errors = {k: 100 * (result.values[k] - v) / v for k, v in truth.items()}
    shown = ", ".join(f"{k}: true {truth[k]:g}, fitted {result.values[k]:.5g} ({errors[k]:+.2f} %)" for k in truth)
    print(f"\n{name}: {shown}; loss {result.loss:.3g}, {result.evaluations} sets, {seconds:.1f} s")
    return errors


# --- the gamma factor and the feature distance ---------------------------------------------------


def test_gamma_factor_is_one_for_identical_trains_and_within_the_window():
    data = np.array([0.012, 0.050, 0.0901, 0.2, 0.35])
    assert gamma_factor(data, data, 0.002, 0.4) == pytest.approx(1.0, abs=1e-12)
    # every model spike within +-Delta of its target spike: still all coincidences
    assert gamma_factor(data + 0.0019, data, "2 ms", "400 ms") == pytest.approx(1.0, abs=1e-12)
    assert gamma_factor(data * pq.s, data * 1e3 * pq.ms, 0.002 * pq.s, 0.4 * pq.s) == pytest.approx(1.0)
    assert gamma_factor([], [], 0.002, 0.4) == 1.0  # two silent trains agree


def test_gamma_factor_matches_the_published_formula_by_hand():
    # data 10, 50, 90 ms; model 11, 70 ms; T = 100 ms, Delta = 2 ms: one coincidence (10 and 11)
    # nu = 2 / 0.1 s = 20 Hz, 2 nu Delta = 0.08, <N_coinc> = 0.08 * 3 = 0.24
    # Gamma = (1 - 0.24) / (0.5 * (3 + 2)) / (1 - 0.08)
    expected = (1 - 0.24) / 2.5 / 0.92
    assert gamma_factor([0.011, 0.070], [0.010, 0.050, 0.090], 0.002, 0.1) == pytest.approx(expected, rel=1e-12)
    assert gamma_factor([], [0.010, 0.050], 0.002, 0.1) == 0.0  # a silent model: no coincidence, no chance


def test_gamma_counts_each_spike_at_most_once():
    # two target spikes within the window of one model spike: one coincidence, not two
    assert coincidences(np.array([0.0105]), np.array([0.010, 0.011]), 0.002) == 1
    # two model spikes near one target spike: one coincidence
    assert coincidences(np.array([0.010, 0.0105]), np.array([0.0102]), 0.002) == 1
    # the matching is one-to-one and as large as possible (greedy in time order)
    assert coincidences(np.array([0.009, 0.0125]), np.array([0.0105, 0.011]), 0.002) == 2


def test_gamma_factor_of_independent_poisson_trains_is_about_zero():
    rng = np.random.default_rng(7)
    rate, duration, delta = 20.0, 50.0, 0.002
    values = []
    for _ in range(20):
        a = np.sort(rng.uniform(0, duration, rng.poisson(rate * duration)))
        b = np.sort(rng.uniform(0, duration, rng.poisson(rate * duration)))
        values.append(gamma_factor(a, b, delta, duration))
    # closed form: a data spike meets a Poisson model spike within +-Delta with probability
    # 1 - exp(-2 nu Delta), against 2 nu Delta in the normalisation, so
    # E[Gamma] ~ (1 - exp(-2 nu Delta) - 2 nu Delta) / (1 - 2 nu Delta) = -0.0034 for equal rates
    chance = 2 * rate * delta
    expected = (1 - np.exp(-chance) - chance) / (1 - chance)
    assert abs(np.mean(values) - expected) < 0.01
    assert abs(np.mean(values)) < 0.02


def test_feature_distance_is_zero_for_the_same_train_and_penalises_missing_spikes():
    train = np.array([0.020, 0.035, 0.055, 0.080])
    assert feature_distance(train, [train], 0.1, 0.01, 0.004) == 0.0
    # a silent model: rate 100 % off, no latency and no CV where the target has both
    assert feature_distance(np.zeros(0), [train], 0.1, 0.01, 0.004) == pytest.approx((1 + MISSING + MISSING) / 3)
    # rate doubled (relative difference 1), same first latency, CV of a regular train (0) vs the target's
    double = np.sort(np.r_[train, train + 0.005])
    intervals = np.diff(train)
    cv_target = np.std(intervals) / np.mean(intervals)
    cv_model = np.std(np.diff(double)) / np.mean(np.diff(double))
    assert feature_distance(double, [train], 0.1, 0.01, 0.004) == pytest.approx((1 + 0 + abs(cv_model - cv_target)) / 3)


# --- arguments ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bounds", "error", "words"),
    [
        ({"tau_M": ["5 ms", "30 ms"]}, InputError, ["tau_M", "did you mean 'tau_m'", "R_m"]),
        ({"tau_m": ["5 mV", "30 mV"]}, UnitError, ["tau_m", "second"]),
        ({"tau_m": ["30 ms", "5 ms"]}, InputError, ["tau_m", "low < high"]),
        ({"tau_m": ["0 ms", "5 ms"]}, InputError, ["tau_m", "bound of the model file"]),
        ({"tau_m": "5 ms"}, InputError, ["tau_m", "[low, high]"]),
        ({}, InputError, ["non-empty mapping"]),
    ],
)
def test_bounds_are_checked_before_anything_is_simulated(bounds, error, words, lif_target):
    with pytest.raises(error) as caught:
        fit("lif", lif_target, bounds, stimulus=LIF_STEP, client="synchronous")
    for word in words:
        assert word in str(caught.value)


def test_metric_optimizer_budget_and_targets_are_checked(lif_target):
    target, bounds = lif_target, {"tau_m": ["5 ms", "30 ms"]}
    with pytest.raises(InputError, match=r"unknown metric 'gama'.*did you mean 'gamma'.*trace, gamma, features"):
        fit("lif", target, bounds, metric="gama", stimulus=LIF_STEP)
    with pytest.raises(InputError, match=r"unknown optimizer 'PSO'; optimizers: DE, TwoPointsDE, CMA"):
        fit("lif", target, bounds, optimizer="PSO", stimulus=LIF_STEP)
    with pytest.raises(InputError, match="budget must be a whole number >= 1"):
        fit("lif", target, bounds, budget=0, stimulus=LIF_STEP)
    with pytest.raises(InputError, match="popsize must be"):
        fit("lif", target, bounds, popsize=2.5, stimulus=LIF_STEP)
    # several stimuli need as many targets
    with pytest.raises(InputError, match=r"2 stimuli need a list of 2 targets .* got 1 targets"):
        fit("lif", [target], bounds, stimulus=[LIF_STEP, LIF_STEP])
    with pytest.raises(InputError, match=r"2 stimuli need a list of 2 targets .* got one AnalogSignal"):
        fit("lif", target, bounds, stimulus=[LIF_STEP, LIF_STEP])
    # a trace metric needs a trace, a spike metric spike trains
    train = neo.SpikeTrain([20, 40] * pq.ms, t_stop=80 * pq.ms)
    with pytest.raises(InputError, match="metric 'trace' compares membrane potentials"):
        fit("lif", train, bounds, stimulus=LIF_STEP)
    with pytest.raises(InputError, match="metric 'gamma' compares spike trains"):
        fit("lif", target, bounds, metric="gamma", stimulus=LIF_STEP)
    with pytest.raises(UnitError, match="target"):  # a trace of current is not a membrane potential
        fit("lif", neo.AnalogSignal(np.zeros(800) * pq.pA, sampling_period=0.1 * pq.ms), bounds, stimulus=LIF_STEP)
    with pytest.raises(InputError, match=r"the trace runs from 0 ms to 79\.9 ms"):  # longer than the run
        fit("lif", target, bounds, stimulus=LIF_STEP, duration="50 ms")
    with pytest.raises(InputError, match="window must be positive"):
        fit("lif", train, bounds, metric="gamma", window="0 ms", stimulus=LIF_STEP)


# --- what a fit returns ---------------------------------------------------------------------------


@pytest.mark.slow
def test_fit_returns_history_best_block_and_plot(tmp_path):
    target = lif_trace({"tau_m": "14 ms"})
    result = fit(
        "lif",
        target,
        {"tau_m": ["5 ms", "30 ms"]},
        stimulus=LIF_STEP,
        budget=45,
        popsize=20,
        client="synchronous",
        seed=3,
    )
    history = result.history
    # one row per simulated candidate: 20 + 20 + 5 (the last generation takes what is left)
    assert result.evaluations == len(history) == 45
    assert history["generation"].value_counts().sort_index().tolist() == [20, 20, 5]
    assert list(history.columns) == ["generation", "tau_m", "loss", "reason"]
    assert history.attrs["units"]["tau_m"] == "ms" and history.attrs["units"]["loss"] == "mV**2"
    assert history["tau_m"].between(5, 30).all()
    best = history.loc[history["loss"].idxmin()]
    assert result.loss == best["loss"] and result.values["tau_m"] == best["tau_m"]
    assert result.best["tau_m"] == f"{best['tau_m']:.6g} ms"
    assert result.units == {"tau_m": "ms"}
    # the block is sn.simulate of the best value: its trace scores the best loss
    assert isinstance(result.block, neo.Block) and result.blocks == [result.block]
    signal = result.block.segments[0].analogsignals[0]
    assert signal.name == "lif.v"
    mse = float(np.mean((signal.rescale("mV").magnitude - target.rescale("mV").magnitude) ** 2))
    assert mse == pytest.approx(result.loss, rel=1e-6, abs=1e-9)
    png = result.plot(tmp_path / "fit.png")
    assert png.read_bytes()[:4] == b"\x89PNG"
    # the same seed gives the same fit
    again = fit(
        "lif",
        target,
        {"tau_m": ["5 ms", "30 ms"]},
        stimulus=LIF_STEP,
        budget=20,
        popsize=20,
        client="synchronous",
        seed=3,
    )
    assert np.array_equal(again.history["tau_m"].to_numpy(), history["tau_m"].to_numpy()[:20])
    # default populations: nevergrad's for CMA (4 + int(3 ln 1) = 4), 30 to 100 for DE
    cma = fit(
        "lif", target, {"tau_m": ["5 ms", "30 ms"]}, stimulus=LIF_STEP, optimizer="CMA", budget=8, client="synchronous"
    )
    assert cma.optimizer == "CMA" and cma.history["generation"].tolist() == [0] * 4 + [1] * 4


def test_sets_that_blow_up_get_an_infinite_loss_and_the_fit_goes_on(tmp_path):
    # AdEx's exponential term overflows when the spike is cut off far above V_T (adex.yaml): for
    # the preset "tonic" under this step, V_peak above about -38 mV makes v infinite; those sets
    # fail, the rest are scored
    step = {"start": "5 ms", "stop": "45 ms", "amplitude": "500 pA"}
    target = sn.simulate("adex", preset="tonic", duration="50 ms", stimulus=step).segments[0].analogsignals[0]
    arguments = {"preset": "tonic", "stimulus": step, "client": "synchronous"}
    result = fit("adex", target, {"V_peak": ["-46 mV", "-30 mV"]}, budget=20, popsize=20, **arguments)
    failed = result.history[np.isinf(result.history["loss"])]
    assert 0 < len(failed) < 20 and failed["reason"].str.contains("infinite or NaN").all()
    assert (failed["V_peak"] > -39).all()
    assert (result.history.loc[np.isfinite(result.history["loss"]), "reason"] == "").all()
    assert np.isfinite(result.loss) and result.block is not None
    assert result.plot(tmp_path / "fit.png").exists()
    # every set fails: the fit still returns, with an infinite loss and no block
    with pytest.warns(UserWarning, match="the best values could not be simulated again"):
        result = fit("adex", target, {"V_peak": ["0 mV", "50 mV"]}, budget=5, **arguments)
    assert result.loss == np.inf and result.block is None and result.evaluations == 5
    assert result.plot(tmp_path / "none.png").exists()


@pytest.mark.slow
def test_spike_metrics_and_a_metric_function():
    step = {"start": "10 ms", "stop": "190 ms", "amplitude": "250 pA"}
    block = sn.simulate("lif", duration="200 ms", params={"R_m": "130 Mohm"}, stimulus=step)
    train = block.segments[0].spiketrains[0]
    bounds = {"R_m": ["100 Mohm", "200 Mohm"]}
    for metric in ("gamma", "features"):
        # one parameter from one train: the spike times pin R_m
        result = fit("lif", block, bounds, metric=metric, stimulus=step, budget=60, popsize=30, client="synchronous")
        assert result.metric == metric and result.history.attrs["units"]["loss"] == ""
        assert result.loss < 0.1, metric
        assert result.values["R_m"] == pytest.approx(130, rel=0.05), metric
    assert result.block.segments[0].spiketrains[0].size > 0

    seen = []

    def spike_count(run, target):
        seen.append((run.signals["v"].shape, run.dt, run.duration, len(run.times)))
        return abs(len(run.spikes) - target)

    result = fit(
        "lif",
        len(train),
        bounds,
        metric=spike_count,
        stimulus=step,
        duration="200 ms",
        budget=10,
        popsize=10,
        client="synchronous",
    )
    assert len(seen) == 10 and seen[0] == ((2000,), pytest.approx(1e-4), pytest.approx(0.2), 2000)
    assert result.metric == "callable" and result.loss == result.history["loss"].min()
    with pytest.raises(InputError, match="does not say how long to simulate: give duration"):
        fit("lif", 5, bounds, metric=spike_count, stimulus=step)


# --- recovery of known values ---------------------------------------------------------------------


@pytest.mark.slow
def test_lif_recovers_tau_m_r_m_and_v_th_from_two_traces():
    # Identifiability. Under a subthreshold step I the trace is E_L + R_m*I*(1 - exp(-t/tau_m)):
    # its size gives R_m (only as R_m*I: with I fitted too, R_m and I would trade off exactly) and
    # its time course tau_m. V_th never shows below threshold; it sets when the suprathreshold
    # step's trace is cut off (the spike times). V_reset and t_ref would show after each spike,
    # E_L in the baseline; they are fixed here. The loss is not smooth: spikes fall on the time
    # grid, so the spiking trace's error jumps as a spike moves by one step; DE copes with that.
    truth = {"tau_m": 14.0, "R_m": 130.0, "V_th": -47.0}  # defaults 10 ms, 100 Mohm, -50 mV
    params = {"tau_m": "14 ms", "R_m": "130 Mohm", "V_th": "-47 mV"}
    steps = [
        {"start": "10 ms", "stop": "70 ms", "amplitude": "100 pA"},  # 13 mV: subthreshold
        {"start": "10 ms", "stop": "45 ms", "amplitude": "250 pA"},  # 2 spikes
    ]
    targets = [lif_trace(params, step) for step in steps]
    bounds = {"tau_m": ["5 ms", "30 ms"], "R_m": ["50 Mohm", "250 Mohm"], "V_th": ["-58 mV", "-40 mV"]}
    start = time.perf_counter()
    result = fit(
        "lif", targets, bounds, stimulus=steps, budget=2400, popsize=60, optimizer="DE", client="synchronous", seed=0
    )
    errors = report("lif", result, truth, time.perf_counter() - start)
    assert result.evaluations == 2400
    assert all(abs(e) < 5 for e in errors.values()), errors
    assert len(result.blocks) == 2


@pytest.mark.slow
def test_adex_recovers_g_l_c_m_and_b_from_two_traces():
    # Identifiability (preset "adapting"). A hyperpolarising step keeps v far below V_T, where
    # AdEx is a passive membrane with a slow adaptation current: the response's size gives the
    # input conductance (g_L, and g_L + a in the steady state) and its time course the membrane
    # time constant C_m/g_L, so g_L and C_m. b adds to w only at spikes: a short suprathreshold
    # step with three spikes shows it in the lengthening interspike intervals. a and tau_w are
    # weakly identifiable from these traces (the sag through w is 1-2 mV and slow: a 5 % error in
    # tau_w moves the traces by about 0.05 mV rms), Delta_T only in the last millisecond before
    # each spike; they stay at the preset's values. From a single spiking trace the loss has many
    # local minima (each spike can be matched to the wrong target spike); the passive trace gives
    # it one wide basin.
    truth = {"g_L": 15.0, "C_m": 170.0, "b": 40.0}  # the preset: 12 nS, 200 pF, 60 pA
    params = {"g_L": "15 nS", "C_m": "170 pF", "b": "40 pA"}
    steps = [
        {"start": "10 ms", "stop": "110 ms", "amplitude": "-300 pA"},
        {"start": "10 ms", "stop": "60 ms", "amplitude": "500 pA"},  # 3 spikes
    ]
    durations = ["150 ms", "80 ms"]
    targets = [
        sn.simulate("adex", preset="adapting", duration=d, params=params, stimulus=s).segments[0].analogsignals[0]
        for s, d in zip(steps, durations, strict=True)
    ]
    bounds = {"g_L": ["5 nS", "30 nS"], "C_m": ["80 pF", "400 pF"], "b": ["10 pA", "150 pA"]}
    start = time.perf_counter()
    result = fit(
        "adex", targets, bounds, stimulus=steps, preset="adapting", budget=2000, popsize=50, client="synchronous"
    )
    errors = report("adex", result, truth, time.perf_counter() - start)
    assert all(abs(e) < 5 for e in errors.values()), errors


@pytest.mark.slow
def test_hh_recovers_g_na_and_g_k():
    # Identifiability. The sodium and potassium conductances shape every action potential (its
    # upstroke and peak, its repolarisation and afterhyperpolarisation) and the interval between
    # spikes, so a trace with a few spikes pins both; g_L and E_L show in the resting potential
    # and the passive response instead, C_m in every time course (with g's it would trade off
    # as conductance densities times area). 100 ms at dt = 0.1 ms (hh.yaml) keeps it quick.
    truth = {"g_Na": 5.6, "g_K": 1.9}  # defaults 7.05 uS and 1.41 uS
    step = {"start": "10 ms", "stop": "90 ms", "amplitude": "500 pA"}
    block = sn.simulate("hh", duration="100 ms", params={"g_Na": "5.6 uS", "g_K": "1.9 uS"}, stimulus=step)
    assert len(block.segments[0].spiketrains[0]) == 3
    bounds = {"g_Na": ["2 uS", "20 uS"], "g_K": ["0.5 uS", "5 uS"]}
    start = time.perf_counter()
    result = fit("hh", block, bounds, stimulus=step, budget=1200, popsize=50, client="synchronous")
    errors = report("hh", result, truth, time.perf_counter() - start)
    assert all(abs(e) < 5 for e in errors.values()), errors


@pytest.mark.slow
def test_the_fit_command_reads_a_neo_target_and_recovers_tau_m(tmp_path, capsys):
    """A subthreshold LIF response to 120 pA identifies tau_m alone (R_m fixed): recovered to 0.1 %."""
    from sourced_neuron.cli.main import main

    target, plot = tmp_path / "target.nix", tmp_path / "fit.png"
    assert main(["simulate", "lif", "--set", "tau_m=14 ms", "--current", "120 pA", "--duration", "100 ms",
                 "--out", str(target)]) == 0  # fmt: skip
    capsys.readouterr()
    status = main(
        ["fit", "lif", "--target", str(target), "--bound", "tau_m=5:30 ms", "--current", "120 pA", "--budget", "200",
         "--cluster", "synchronous", "--plot", str(plot)]
    )  # fmt: skip
    printed = capsys.readouterr().out
    assert status == 0, printed
    value = float(printed.split("tau_m = ")[1].split(" ms")[0])
    assert abs(value - 14) / 14 < 1e-3, printed
    assert plot.read_bytes()[:4] == b"\x89PNG"
    assert main(["fit", "lif", "--target", str(target), "--bound", "tau=5:30 ms", "--cluster", "synchronous"]) == 2
    assert "tau_m" in capsys.readouterr().err
