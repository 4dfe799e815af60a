"""Training, sampling, saving, diagnostics and predictive checks of posteriors (the ``inference``
extra: BayesFlow on Keras with JAX; skipped with the reason where it is absent).

One small LIF posterior is trained once for the module (1,500 simulations of 200 ms, 30 epochs;
about 30 s): the membrane time constant and the threshold are strongly identified by a spiking
trace, so even this budget gives a sharp, checkable posterior.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import sourced_neuron as sn
from sourced_neuron import backend_status
from sourced_neuron.common.errors import BackendUnavailableError, InputError
from sourced_neuron.inference import Prior, keras_jax, load, train

pytestmark = pytest.mark.skipif(keras_jax.available() is not None, reason=str(keras_jax.available()))

# asymmetric bounds: swapped names would put the truth outside the prior
PRIOR = {"tau_m": ["6 ms", "18 ms"], "V_th": ["-55 mV", "-45 mV"]}
TRUE = {"tau_m": "12 ms", "V_th": "-48 mV"}
EXPERIMENT = {"stimulus": "300 pA", "duration": "200 ms", "trace_samples": 50, "noise": "1 mV"}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    folder = tmp_path_factory.mktemp("posterior")
    posterior = train(
        "lif",
        Prior(PRIOR),
        **EXPERIMENT,
        simulations=1500,
        epochs=30,
        backend="brian2",
        client="synchronous",
        out=folder,
        simulation_batch=500,
        seed=1,
    )
    return posterior, folder


def test_the_posterior_recovers_a_known_lif(trained):
    posterior, _ = trained
    observation = posterior.protocol.simulate_observation(TRUE, seed=11)
    draws = posterior.sample(observation, n=2000, seed=0)
    assert list(draws.columns) == ["tau_m", "V_th"]
    assert draws.attrs["units"] == {"tau_m": "ms", "V_th": "mV"}
    assert draws["tau_m"].between(6, 18).all() and draws["V_th"].between(-55, -45).all()
    for name, truth in (("tau_m", 12.0), ("V_th", -48.0)):
        low, high = np.percentile(draws[name], [0.5, 99.5])
        assert low < truth < high, name
    # the data say more than the prior: sd well below the prior's (12/sqrt(12) ms, 10/sqrt(12) mV);
    # with 1,500 simulations the posterior of tau_m is still about twice the width a longer
    # training gives, hence the factor of 2
    assert draws["tau_m"].std() < 3.46 / 2 and draws["V_th"].std() < 2.89 / 2
    assert posterior.info["simulations"] == 1500 and len(posterior.history["loss"]) == 30
    assert len(posterior.history["val_loss"]) == 30


def test_a_saved_posterior_samples_the_same_in_another_process(trained, tmp_path):
    posterior, folder = trained
    observation = posterior.protocol.simulate_observation(TRUE, seed=12)
    path = tmp_path / "observation.nix"
    from sourced_neuron.results.io import write_block

    write_block(observation, path)
    here = load(folder).sample(path, n=500, seed=3)
    script = textwrap.dedent(
        f"""
        from sourced_neuron.inference import load
        load({str(folder)!r}).sample({str(path)!r}, n=500, seed=3).to_csv({str(tmp_path / "there.csv")!r}, index=False)
        """
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=300)
    import pandas as pd

    there = pd.read_csv(tmp_path / "there.csv")
    # the same weights, seed and inputs: the same draws up to float32 rounding
    np.testing.assert_allclose(there.to_numpy(), here.to_numpy(), rtol=1e-5)
    assert repr(load(folder)).startswith("<Posterior of lif over tau_m, V_th")


def test_sampling_refuses_observations_of_another_experiment(trained):
    posterior, _ = trained
    longer = sn.simulate("lif", duration="300 ms", stimulus="300 pA")
    with pytest.raises(InputError, match="lasts 300 ms"):
        posterior.sample(longer)
    with pytest.raises(InputError, match="n must be"):
        posterior.sample(posterior.protocol.simulate_observation(TRUE), n=0)
    with pytest.raises(InputError, match="not a saved posterior"):
        load(posterior.folder / "simulations")


def test_typicality_accepts_the_model_and_flags_another(trained):
    posterior, _ = trained
    own = [posterior.typicality(posterior.protocol.simulate_observation(TRUE, seed=s)) for s in range(3)]
    assert all(t["typical"] for t in own), own
    # Izhikevich's quadratic upswing and its reset to -65 mV with a recovery variable: at 300 pA
    # it fires far faster than any LIF of the prior
    other = posterior.typicality(posterior.protocol.simulate_observation(model="izhikevich", seed=0))
    assert not other["typical"] and other["p_value"] < 0.01, other
    assert other["distance"] > max(t["distance"] for t in own)


def test_diagnose_writes_its_report_and_figures(trained, tmp_path):
    posterior, folder = trained
    report = posterior.diagnose(
        n=60, samples=300, out=tmp_path, client="synchronous", predictive=3, predictive_draws=40
    )
    stored = json.loads((tmp_path / "report.json").read_text())
    assert stored["per_parameter"].keys() == {"tau_m", "V_th"} and stored["held_out"] == 60
    for name, row in report["per_parameter"].items():
        assert set(row["coverage"]) == {"50%", "80%", "90%", "95%"}, name
        assert 0 <= row["coverage"]["90%"] <= 1
        # both are strongly identified by a spiking trace, even with this small training budget
        assert row["recovery_r"] > 0.9 and row["contraction"] > 0.5 and row["identifiable"], (name, row)
    assert 0 <= report["predictive"]["fraction_inside_95"] <= 1 and report["predictive"]["observations"] == 3
    assert report["typicality"]["flagged_fraction"] <= 0.1
    for figure in stored["figures"]:
        assert (tmp_path / figure).stat().st_size > 1000, figure
    assert {"sbc_ecdf.png", "coverage.png", "recovery.png", "loss.png", "predictive.png"} <= set(stored["figures"])
    assert (folder / "heldout" / "part-000000.npz").exists()  # kept next to the posterior


@pytest.mark.parametrize("backend", ["brian2", pytest.param("nest", marks=pytest.mark.nest)])
def test_predictive_checks_simulate_posterior_draws(trained, tmp_path, backend):
    if backend_status()[backend]:
        pytest.skip(backend_status()[backend])
    posterior, _ = trained
    observation = posterior.protocol.simulate_observation(TRUE, seed=13)
    check = posterior.predictive_check(observation, n=50, backend=backend, plot=tmp_path / "ppc.png", seed=2)
    assert check.backend == backend and check.predicted.shape == (50, 50)
    assert check.fraction_inside >= 0.8, check.features  # the trained posterior predicts its own data
    assert list(check.features.index[:2]) == ["mean_0", "mean_1"] and (tmp_path / "ppc.png").exists()
    if backend == "nest":
        reference = posterior.predictive_check(observation, n=50, backend="brian2", seed=2)
        # the same draws and noise; both simulators integrate LIF exactly in float64, so the traces
        # differ by rounding only
        np.testing.assert_allclose(check.predicted, reference.predicted, atol=1e-9)


def test_recurrent_summaries_train_and_sample(tmp_path):
    posterior = train(
        "lif",
        Prior(PRIOR),
        **EXPERIMENT,
        simulations=200,
        epochs=2,
        summary="both",
        backend="brian2",
        client="synchronous",
        summary_dim=6,
        lstm_units=(8,),
    )
    observation = posterior.protocol.simulate_observation(TRUE)
    draws = posterior.sample(observation, n=100)
    assert draws.shape == (100, 2) and posterior.prior.contains(draws.to_numpy() * [1e-3, 1e-3]).all()
    trace, spikes = posterior.protocol.observe(observation)
    assert posterior.embed(trace[None], [spikes]).shape == (1, 6 + 35)  # the LSTM's 6 and the statistics


def test_training_refuses_bad_choices_before_simulating():
    for kwargs, message in (
        ({"summary": "cnn"}, "summary"),
        ({"epochs": 0}, "epochs"),
        ({"validation": 0.7}, "validation"),
    ):
        with pytest.raises(InputError, match=message):
            train("lif", Prior(PRIOR), **EXPERIMENT, client="synchronous", **kwargs)
    with pytest.raises(InputError, match="Prior"):
        train("lif", PRIOR, **EXPERIMENT, client="synchronous")
    with pytest.raises(InputError, match="tau_m"):
        train("lif", Prior({"tau_n": ["6 ms", "18 ms"]}), **EXPERIMENT, client="synchronous")


def test_keras_on_another_backend_is_refused():
    script = "import keras\nfrom sourced_neuron.inference.keras_jax import bayesflow\nbayesflow()"
    done = subprocess.run(
        [sys.executable, "-c", script],
        env={**os.environ, "KERAS_BACKEND": "numpy"},
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode != 0 and "imported with the 'numpy' backend" in done.stderr


def test_a_missing_extra_says_how_to_install_it(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "bayesflow" else real(name, *a))
    assert "pip install 'sourced-neuron[inference]'" in keras_jax.available()
    with pytest.raises(BackendUnavailableError, match="inference"):
        keras_jax.bayesflow()


@pytest.mark.slow
def test_the_posterior_of_a_resting_potential_matches_its_closed_form():
    """At rest a LIF trace is E_L plus the observation noise: with a flat prior much wider than the
    data's precision, the exact posterior of E_L is normal with the trace's mean and sd
    sigma / sqrt(n_samples) (1 mV / sqrt(50) = 0.141 mV; the prior's sd is 2.9 mV). The window
    means are sufficient for it, so the statistics summary loses nothing."""
    posterior = train(
        "lif",
        Prior({"E_L": ["-70 mV", "-60 mV"]}),
        stimulus=None,
        duration="200 ms",
        trace_samples=50,
        noise="1 mV",
        simulations=3000,
        epochs=80,
        backend="brian2",
        client="synchronous",
        seed=4,
    )
    exact_sd = 1e-3 / np.sqrt(50)
    for seed, truth in ((0, "-68 mV"), (1, "-62 mV"), (2, "-65 mV")):
        observation = posterior.protocol.simulate_observation({"E_L": truth}, seed=seed)
        trace, _ = posterior.protocol.observe(observation)
        draws = posterior.sample(observation, n=4000, seed=seed)["E_L"].to_numpy() * 1e-3
        # a flow trained on 3,000 simulations for 80 epochs: its mean within 0.75 exact sd of the
        # exact mean and its sd within a factor 1.6 (seen: 0.06-0.45 sd and 0.76-1.13); the
        # draws' own sampling error is below 2 %. Twenty-fold contraction of the prior either way.
        assert abs(draws.mean() - trace.mean()) < 0.75 * exact_sd, (truth, draws.mean(), trace.mean())
        assert exact_sd / 1.6 < draws.std() < 1.6 * exact_sd, (truth, draws.std())


def test_a_second_training_reuses_the_stored_simulations(tmp_path):
    common = {
        **EXPERIMENT,
        "simulations": 200,
        "epochs": 1,
        "backend": "brian2",
        "client": "synchronous",
        "store": tmp_path / "sims",
    }
    first = train("lif", Prior(PRIOR), out=tmp_path / "statistics", **common)
    second = train("lif", Prior(PRIOR), out=tmp_path / "both", summary="both", lstm_units=(4,), **common)
    assert first.info["simulated_now"] == 200 and second.info["simulated_now"] == 0
    assert not (tmp_path / "statistics" / "simulations").exists()
    assert (
        load(tmp_path / "both").encoder.summary == "both"
        and load(tmp_path / "statistics").encoder.summary == "statistics"
    )
