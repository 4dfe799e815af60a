"""The analysis pipeline of a stored run: ``analyze_block``, its text and JSON, the figures and
``sourced-neuron analyze``."""

from __future__ import annotations

import json

import neo
import numpy as np
import pytest
import quantities as pq
from elephant.spike_train_generation import StationaryPoissonProcess

from sourced_neuron import analysis as an
from sourced_neuron import cli
from sourced_neuron.io import write_block
from sourced_neuron.report import analyze_block, format_report, write_figures


def network_block() -> neo.Block:
    """A hand-made network result: 'exc' (8 neurons, 30 Hz), 'inh' (3 neurons, 12 Hz), a
    recorded source 'drive', and a recorded plastic projection 'ee'."""
    np.random.seed(9)  # noqa: NPY002 - Elephant's generators draw from NumPy's global generator
    block = neo.Block(
        name="network on brian2",
        backend="brian2",
        dt=0.1 * pq.ms,
        populations=["exc: 8 x lif", "inh: 3 x lif"],
        sources=["drive: 4"],
        projections=["ee: exc -> exc (exc, stdp_additive): 16", "drive->inh: drive -> inh (exc, static): 12"],
    )
    segment = neo.Segment()
    block.segments.append(segment)
    for population, n, rate in (("exc", 8, 30 * pq.Hz), ("inh", 3, 12 * pq.Hz), ("drive", 4, 5 * pq.Hz)):
        for index, drawn in enumerate(StationaryPoissonProcess(rate, t_stop=4 * pq.s).generate_n_spiketrains(n)):
            train = drawn.rescale(pq.ms)
            train.annotate(population=population, index=index)
            segment.spiketrains.append(train)
    event = neo.Event([5.0, 9.0, 12.0] * pq.ms, name="ee.weights", projection="ee", synapse_model="stdp_additive")
    event.annotate(weight_unit="pA", final_weight=np.array([11.0, 13.0, 0.5]))
    event.array_annotate(synapse=[0, 1, 2], pre=[0, 1, 2], post=[3, 4, 5], weight=[10.0, 12.0, 1.0])
    segment.events.append(event)
    return block


def test_report_of_a_network_matches_the_analysis_functions():
    block = network_block()
    report = analyze_block(block)
    assert list(report["populations"]) == ["exc", "inh"]  # the source is not measured
    exc, inh = report["populations"]["exc"], report["populations"]["inh"]
    assert (exc["neurons"], inh["neurons"]) == (8, 3)
    assert exc["rate_hz"]["mean"] == pytest.approx(float(an.firing_rates(block, "exc").mean()))
    assert inh["rate_hz"]["mean"] == pytest.approx(float(an.firing_rates(block, "inh").mean()))
    assert 25 < exc["rate_hz"]["mean"] < 35 and 8 < inh["rate_hz"]["mean"] < 16
    assert exc["isi_cv_mean"] == pytest.approx(np.nanmean(an.isi_cv(block, "exc")))
    assert exc["fano_factor_100ms"]["value"] == pytest.approx(an.fano_factor(block, "100 ms", "exc"))
    assert exc["pattern_entropy"]["neurons"] == 8
    assert exc["attractor_states"]["states"] == 1  # stationary Poisson activity
    # energy: exc spikes reach 2 synapses each (16 / 8); inh receives only from the source
    spikes = exc["spikes"]
    assert exc["energy_atp"]["synaptic_events"] == pytest.approx(2 * spikes)
    assert inh["energy_atp"]["synaptic_events"] == 0
    assert report["weights"] == [
        {
            "projection": "ee",
            "synapse_model": "stdp_additive",
            "unit": "pA",
            "transmissions": 3,
            "final": {"synapses": 3, "mean": pytest.approx(24.5 / 3), "min": 0.5, "max": 13.0},
        }
    ]
    text = format_report(report)
    assert "population exc: 8 neurons" in text and "population inh: 3 neurons" in text
    assert "weights of ee (stdp_additive): 3 transmissions" in text
    json.dumps(report)  # plain data


def test_measures_that_do_not_apply_say_why():
    silent = neo.Block(name="silent", backend="brian2", model="lif")
    silent.segments.append(neo.Segment())
    train = neo.SpikeTrain([] * pq.ms, t_stop=500 * pq.ms)
    train.annotate(population="lif", index=0)
    silent.segments[0].spiketrains.append(train)
    report = analyze_block(silent)["populations"]["lif"]
    assert report["spikes"] == 0 and report["isi_cv_mean"] is None
    assert "at least two spike trains" in report["synchrony_spike_contrast"]["not computed"]
    assert "at least two spikes" in report["avalanches"]["not computed"]
    assert "not computed" in format_report(analyze_block(silent))


def test_figures_of_a_network(tmp_path):
    written = write_figures(network_block(), tmp_path)
    names = sorted(p.name for p in written)
    # no AnalogSignal recorded: no voltage figure
    assert names == sorted(
        ["raster.png", "rate.png", "isi.png", "spectrum.png", "ee_weights.png", "ee_weight_evolution.png"]
    )
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and p.stat().st_size > 5000 for p in written)


@pytest.mark.brian2
def test_cli_analyze_a_simulated_run(tmp_path, capsys):
    run = tmp_path / "run.nix"
    args = ["simulate", "izhikevich", "--preset", "ch", "--current", "10 pA", "--duration", "500 ms"]
    assert cli.main([*args, "--n-neurons", "3", "--out", str(run)]) == 0
    capsys.readouterr()
    assert cli.main(["analyze", str(run)]) == 0
    out = capsys.readouterr().out
    assert "population izhikevich: 3 neurons" in out
    report = json.loads((tmp_path / "run_analysis.json").read_text())
    assert report["run"]["model"] == "izhikevich" and report["run"]["dt_ms"] == pytest.approx(0.1)
    assert report["populations"]["izhikevich"]["spikes"] > 20  # chattering: bursts of spikes
    figures = sorted(p.name for p in (tmp_path / "run_figures").iterdir())
    assert "voltage.png" in figures and "raster.png" in figures
    assert cli.main(["analyze", str(run), "--json", "-", "--no-figures"]) == 0
    assert json.loads(capsys.readouterr().out) == report


def test_cli_analyze_bad_input(tmp_path, capsys):
    assert cli.main(["analyze", str(tmp_path / "missing.nix")]) == 2
    assert "no such file" in capsys.readouterr().err
    path = write_block(network_block(), tmp_path / "net.nix")
    assert cli.main(["analyze", str(path), "--population", "gaba", "--no-figures"]) == 2
    assert "no spike trains of population 'gaba'; populations: drive, exc, inh" in capsys.readouterr().err
