"""The ``sourced-neuron infer`` command: train, sample and diagnose, called in-process.

One small posterior (LIF over tau_m and V_th, 400 simulations, 3 epochs on Brian2 in this
process) is trained once for the module; the checks are about the command line (what it
prints, writes and refuses), not about the posterior's quality.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json

import pandas as pd
import pytest

from sourced_neuron.cli.main import main
from sourced_neuron.inference.keras_jax import available

if available():
    pytest.skip(available(), allow_module_level=True)

CURRENT, DURATION = "300 pA", "200 ms"  # about 100 Hz over the prior: spikes for every set
TRAIN = [
    "infer", "train", "lif", "--prior", "tau_m=5:20 ms", "--prior", "V_th=-55:-45 mV", "--loguniform", "tau_m",
    "--simulations", "400", "--epochs", "3", "--backend", "brian2", "--cluster", "synchronous",
    "--summary", "statistics", "--current", CURRENT, "--duration", DURATION,
]  # fmt: skip


def _run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(argv)
    return status, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """The posterior folder, what ``infer train`` printed, and an observation of its experiment."""
    root = tmp_path_factory.mktemp("infer")
    folder = root / "posterior"
    status, printed, err = _run(["--quiet", *TRAIN, "--out", str(folder)])
    assert status == 0, err
    observation = root / "observation.nix"
    status, _, err = _run(
        ["simulate", "lif", "--set", "tau_m=12 ms", "--current", CURRENT, "--duration", DURATION,
         "--out", str(observation)]
    )  # fmt: skip
    assert status == 0, err
    return folder, printed, observation


@pytest.mark.slow
def test_train_saves_the_posterior_and_prints_a_summary(trained):
    folder, printed, _ = trained
    assert (folder / "posterior.json").is_file() and (folder / "simulations").is_dir()
    assert "lif over tau_m, V_th" in printed
    assert "tau_m ~ loguniform(5 ms, 20 ms); V_th ~ uniform(-55 mV, -45 mV)" in printed
    assert "constant 300 pA for 200 ms on brian2" in printed
    assert "simulations: 400 (0 failed;" in printed and "simulated now in" in printed
    assert "3 epochs in" in printed and "final loss" in printed and "final val_loss" in printed
    assert f"saved to {folder}" in printed


@pytest.mark.slow
def test_sample_prints_every_parameter_with_its_unit_typicality_and_writes_the_draws(trained, tmp_path, capsys):
    folder, _, observation = trained
    csv = tmp_path / "draws.csv"
    status = main(["infer", "sample", str(folder), str(observation), "--n", "300", "--seed", "1", "--csv", str(csv)])
    captured = capsys.readouterr()
    assert status == 0, captured.err
    lines = captured.out.splitlines()
    header = next(line for line in lines if line.split()[:2] == ["parameter", "unit"])
    assert header.split() == ["parameter", "unit", "mean", "sd", "5%", "95%"]
    rows = {line.split()[0]: line.split() for line in lines if line.strip().startswith(("tau_m ", "V_th "))}
    assert rows["tau_m"][1] == "ms" and rows["V_th"][1] == "mV"
    for row in rows.values():
        mean, sd, low, high = map(float, row[2:])
        assert low <= mean <= high and sd > 0
    assert 5 <= float(rows["tau_m"][2]) <= 20 and -55 <= float(rows["V_th"][2]) <= -45  # inside the prior
    assert any(line.startswith("typicality: distance") and "p = " in line for line in lines)
    draws = pd.read_csv(csv)
    assert list(draws.columns) == ["tau_m (ms)", "V_th (mV)"] and len(draws) == 300
    assert draws["tau_m (ms)"].between(5, 20).all() and draws["V_th (mV)"].between(-55, -45).all()
    # the same seed gives the same draws
    assert main(["infer", "sample", str(folder), str(observation), "--n", "300", "--seed", "1"]) == 0
    assert capsys.readouterr().out.splitlines()[:4] == lines[:4]


@pytest.mark.slow
def test_sample_warns_clearly_about_an_atypical_observation(trained, monkeypatch, capsys):
    from sourced_neuron.inference.posterior import Posterior

    folder, _, observation = trained
    atypical = {"distance": 42.0, "p_value": 0.002, "typical": False, "alpha": 0.01}
    monkeypatch.setattr(Posterior, "typicality", lambda self, observation, **kwargs: atypical)
    assert main(["infer", "sample", str(folder), str(observation), "--n", "50"]) == 0
    captured = capsys.readouterr()
    assert "ATYPICAL" in captured.out
    assert captured.err.startswith("warning: the observation is atypical")
    assert "not to be trusted" in captured.err


@pytest.mark.slow
def test_an_observation_of_another_duration_is_refused_naming_both(trained, tmp_path, capsys):
    folder, _, _ = trained
    longer = tmp_path / "longer.nix"
    assert main(["simulate", "lif", "--current", CURRENT, "--duration", "300 ms", "--out", str(longer)]) == 0
    capsys.readouterr()
    status = main(["infer", "sample", str(folder), str(longer)])
    err = capsys.readouterr().err
    assert status == 2, err
    assert err.startswith("error: ") and "Traceback" not in err
    assert "300 ms" in err and "200 ms" in err


@pytest.mark.slow
def test_diagnose_prints_a_row_per_parameter_and_writes_the_report(trained, tmp_path, capsys):
    folder, _, _ = trained
    out = tmp_path / "diagnostics"
    status = main(
        ["infer", "diagnose", str(folder), "--n", "20", "--samples", "100", "--predictive", "2",
         "--cluster", "synchronous", "--out", str(out)]
    )  # fmt: skip
    captured = capsys.readouterr()
    assert status == 0, captured.err
    report = json.loads((out / "report.json").read_text())
    assert report["held_out"] + report["held_out_failed"] == 20
    lines = captured.out.splitlines()
    assert "on 20 held-out simulations" in lines[0]
    assert lines[1].split() == ["parameter", "coverage", "90%", "recovery", "r", "contraction", "SBC", "in", "band",
                                "identified"]  # fmt: skip
    for name, unit in (("tau_m", "ms"), ("V_th", "mV")):
        row = next(line.split() for line in lines if line.strip().startswith(f"{name} ({unit})"))
        entry = report["per_parameter"][name]
        assert float(row[2]) == pytest.approx(entry["coverage"]["90%"], abs=0.005)
        assert float(row[3]) == pytest.approx(entry["recovery_r"], abs=0.0005)
        assert row[5] == ("yes" if entry["sbc_within_band"] else "no")
    assert f"wrote {out / 'report.json'}" in captured.out
    assert all((out / name).is_file() for name in report["figures"])


@pytest.mark.parametrize("folder", ["missing", "empty"])
@pytest.mark.parametrize("action", ["sample", "diagnose"])
def test_a_folder_without_a_posterior_is_one_line_with_status_2(folder, action, tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    extra = [str(tmp_path / "observation.nix")] if action == "sample" else []
    status = main(["infer", action, str(tmp_path / folder), *extra])
    err = capsys.readouterr().err
    assert status == 2, err
    assert err.startswith("error: ") and "is not a saved posterior" in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--prior", "tau_m=5:20 ms", "--loguniform", "V_th"], ["--loguniform", "'V_th'", "no --prior"]),
        (["--prior", "tau_m=5:20:3 ms"], ["--prior expects a range"]),
        (["--prior", "tau_m"], ["--prior expects NAME=VALUES UNIT"]),
        (["--prior", "tau=5:20 ms"], ["tau"]),
        (["--prior", "tau_m=5:20 mV"], ["tau_m"]),
        (["--prior", "tau_m=5:20 ms", "--start", "20 ms"], ["--start and --stop", "--current"]),
        (
            ["--prior", "tau_m=5:20 ms", "--current", "300 pA", "--start", "150 ms", "--stop", "100 ms"],
            ["start < stop"],
        ),
        (["--prior", "tau_m=5:20 ms", "--summary", "gru"], ["--summary", "gru"]),
        (["--current", "300 pA"], ["--prior"]),
    ],
)
def test_train_refuses_bad_input_before_simulating(args, words, tmp_path, capsys):
    status = main(
        ["infer", "train", "lif", "--out", str(tmp_path / "p"), "--duration", DURATION, "--backend", "brian2",
         "--cluster", "synchronous", *args]
    )  # fmt: skip
    err = capsys.readouterr().err
    assert status == 2, err
    assert "Traceback" not in err
    for word in words:
        assert word in err.replace("\n", " ")
    assert not (tmp_path / "p" / "simulations").exists()


def test_train_refuses_an_out_that_is_a_file(tmp_path, capsys):
    taken = tmp_path / "taken"
    taken.write_text("")
    assert main(["infer", "train", "lif", "--prior", "tau_m=5:20 ms", "--out", str(taken)]) == 2
    assert "exists and is not a folder" in capsys.readouterr().err.replace("\n", " ")


def test_start_and_stop_make_a_step_of_the_current():
    from sourced_neuron.cli.main import _stimulus

    def stimulus(**given):
        return _stimulus(argparse.Namespace(**{"current": None, "start": None, "stop": None, **given}))

    assert stimulus(current="200 pA") == "200 pA"
    assert stimulus() is None
    assert stimulus(current="200 pA", start="100 ms", stop="600 ms") == {
        "amplitude": "200 pA",
        "start": "100 ms",
        "stop": "600 ms",
    }
    assert stimulus(current="200 pA", stop="50 ms") == {"amplitude": "200 pA", "stop": "50 ms"}
