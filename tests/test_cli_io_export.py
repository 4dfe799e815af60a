"""The command line, Neo file round trips and the exported Brian2 script."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import neo
import numpy as np
import pytest
import quantities as pq

import sourced_neuron as sn
from sourced_neuron.cli.main import main
from sourced_neuron.results.io import annotation_values, read_block, write_block

pytestmark = pytest.mark.brian2
INVALID = Path(__file__).parent / "models" / "invalid"


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "sourced_neuron", *args], capture_output=True, text=True, timeout=300, check=False
    )


@pytest.mark.parametrize("suffix", [".nix", ".nwb", ".pkl"])
def test_neo_round_trip_keeps_units_and_annotations(tmp_path, suffix):
    block = sn.simulate("izhikevich", duration="100 ms", preset="ch", stimulus="10 pA", n_neurons=2, record=("v", "u"))
    path = write_block(block, tmp_path / f"run{suffix}")
    again = read_block(path, allow_pickle=suffix == ".pkl")  # pickles are read only when asked (test_reliability)
    a, b = block.segments[0], again.segments[0]
    for x, y in zip(a.spiketrains, b.spiketrains, strict=True):
        assert y.units == pq.ms and y.t_stop == x.t_stop
        # NWB stores spike times in seconds: ms -> s -> ms may move the last bit; the others are exact
        np.testing.assert_allclose(y.magnitude, x.magnitude, rtol=1e-15 if suffix == ".nwb" else 0, atol=0)
        assert y.annotations["index"] == x.annotations["index"]
    for x, y in zip(a.analogsignals, b.analogsignals, strict=True):
        assert y.name == x.name and y.units == x.units and np.array_equal(x.magnitude, y.magnitude)
        assert y.sampling_period == x.sampling_period
    for key in ("model", "model_hash", "backend", "method", "preset", "stimulus", "parameters"):
        assert list(np.atleast_1d(again.annotations[key])) == list(np.atleast_1d(block.annotations[key]))
    assert again.annotations["dt"] == 0.1 * pq.ms
    assert annotation_values(again)["d"] == annotation_values(block)["d"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"run{suffix}"]  # no temporary file left


def test_interrupted_write_leaves_nothing_under_the_final_name(tmp_path, monkeypatch):
    block = sn.simulate("lif", duration="10 ms")
    target = tmp_path / "run.nix"

    def fail(self, block):
        raise OSError("disk full")

    monkeypatch.setattr(neo.io.NixIO, "write_block", fail)
    with pytest.raises(OSError, match="disk full"):
        write_block(block, target)
    assert list(tmp_path.iterdir()) == []


def test_unknown_file_format_is_refused(tmp_path):
    with pytest.raises(sn.InputError, match="cannot tell the format"):
        write_block(neo.Block(), tmp_path / "run.txt")


def test_exported_script_runs_in_plain_brian2_and_matches_simulate(tmp_path):
    model = sn.load_model("izhikevich").with_preset("ib")
    script = sn.export(model, "brian2")
    assert "sourced_neuron" not in script.split('"""', 2)[2]  # no import of this package: self-contained
    script = script.replace("I_stim = 0.0*pA", "I_stim = 10.0*pA").replace("DURATION = 1*second", "DURATION = 300*ms")
    (tmp_path / "model.py").write_text(script)
    (tmp_path / "brian_preferences").write_text("codegen.target = 'numpy'\n")
    result = subprocess.run(
        [sys.executable, "model.py"], cwd=tmp_path, capture_output=True, text=True, timeout=300, check=True
    )
    block = sn.simulate(model, duration="300 ms", stimulus="10 pA", record=())
    times = block.segments[0].spiketrains[0].magnitude
    assert f"izhikevich: {len(times)} spikes in 300. ms" in result.stdout
    printed = result.stdout.split("0 [", 1)[1].split("]")[0].split()
    np.testing.assert_allclose([float(t) for t in printed], times[:10], atol=0.051)  # printed to 0.1 ms


@pytest.mark.parametrize("name", sn.library_models())
def test_every_library_model_exports(name):
    script = sn.export(name, "brian2")
    compile(script, f"{name}.py", "exec")  # valid Python
    assert sn.load_model(name).content_hash in script


def test_export_errors():
    with pytest.raises(sn.BackendUnavailableError, match=r"unknown export target 'brain2' \(did you mean 'brian2'\?\)"):
        sn.export("lif", "brain2")


def test_cli_models_show_and_check(capsys, tmp_path):
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert "izhikevich" in out and "presets: rs, ib, ch, fs, lts, tc, rz" in out
    assert main(["show", "lif"]) == 0
    shown = capsys.readouterr().out
    assert shown.startswith(f"# content hash {sn.load_model('lif').content_hash}")
    assert sn.NeuronModel.from_yaml(shown) == sn.load_model("lif")
    assert main(["check", str(INVALID / "several_problems.yaml")]) == 1
    out = capsys.readouterr().out
    assert "4 problem(s)" in out and "undefined name 'g_l'" in out and "never used" in out


def test_cli_simulate_writes_neo_and_png(tmp_path):
    out, png = tmp_path / "run.nix", tmp_path / "run.png"
    result = run_cli(
        "simulate",
        "izhikevich",
        "--preset",
        "rs",
        "--current",
        "10 pA",
        "--duration",
        "200 ms",
        "--set",
        "d=6 mV",
        "--n-neurons",
        "2",
        "--out",
        str(out),
        "--plot",
        str(png),
    )
    assert result.returncode == 0, result.stderr
    assert "neuron 1:" in result.stdout
    block = read_block(out)
    assert "d = 6.0 mV" in block.annotations["parameters"]
    assert png.stat().st_size > 10_000 and png.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("simulate", "lif", "--current", "10 mV"), "stimulus must have units of amp"),
        (("simulate", "lif", "--set", "tau=1 ms"), "did you mean 'tau_m'"),
        (("simulate", "lif", "--set", "tau_m"), "--set expects NAME=VALUE"),
        (("simulate", "lif", "--duration", "ten"), "cannot read 'ten' as a quantity"),
        (("simulate", "nope"), "no library model 'nope'"),
        (("simulate", "lif", "--backend", "brian2-gpu"), "unknown backend 'brian2-gpu'"),
        (("simulate", "lif", "--out", "x.csv", "--duration", "1 ms"), "cannot tell the format"),
        (("export", "lif", "--to", "nml2"), "unknown export target 'nml2'"),
        (("show", "missing.yaml"), "no such file"),
        (("check",), "the following arguments are required"),
        (("frobnicate",), "invalid choice"),
    ],
)
def test_cli_bad_input_exits_non_zero_with_a_message_and_no_traceback(args, message, tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "sourced_neuron", *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=tmp_path,
        env={**os.environ},
    )
    assert result.returncode != 0
    assert message in " ".join((result.stdout + result.stderr).split())
    assert "Traceback" not in result.stdout + result.stderr


def test_cli_compare_needs_two_backends_and_reports_agreement():
    result = run_cli("compare", "lif", "--backends", "brian2,brian2", "--current", "200 pA", "--duration", "100 ms")
    assert result.returncode == 0, result.stderr
    assert result.stdout.count(" ok") == 2
    assert run_cli("compare", "lif", "--backends", "brian2").returncode == 2


def test_compare_exits_non_zero_when_a_backend_disagrees(monkeypatch, capsys):
    from sourced_neuron.analysis import compare

    real = compare.simulate
    calls = []

    def disagreeing(model, backend, **kwargs):  # the second "backend" runs a slower membrane
        calls.append(backend)
        params = {"tau_m": "11 ms"} if len(calls) == 2 else None
        return real(model, backend="brian2", params=params, **kwargs)

    monkeypatch.setattr(compare, "simulate", disagreeing)
    status = main(["compare", "lif", "--backends", "brian2,other", "--current", "200 pA", "--duration", "100 ms"])
    out = capsys.readouterr().out
    assert status == 1 and out.count("FAILED") == 1 and "rate diff %" in out
