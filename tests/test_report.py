"""The analysis pipeline of a stored run: ``analyze_block``, its text and JSON, the figures and
``sourced-neuron analyze``."""

from __future__ import annotations

import json
import warnings

import neo
import numpy as np
import pytest
import quantities as pq
from elephant.spike_train_generation import StationaryPoissonProcess

from sourced_neuron.analysis import measures as an
from sourced_neuron.analysis.report import analyze_block, format_report, write_figures
from sourced_neuron.cli import main as cli
from sourced_neuron.common.errors import InputError
from sourced_neuron.results.blocks import make_structure, set_structure
from sourced_neuron.results.io import write_block


def network_block() -> neo.Block:
    """A hand-made network result: 'exc' (8 neurons, 30 Hz), 'inh' (3 neurons, 12 Hz), a
    recorded source 'drive', and a recorded plastic projection 'ee'."""
    np.random.seed(9)  # noqa: NPY002 - Elephant's generators draw from NumPy's global generator
    block = neo.Block(name="network on brian2", backend="brian2", dt=0.1 * pq.ms)
    segment = neo.Segment()
    block.segments.append(segment)
    layout = make_structure(
        [{"name": "exc", "size": 8, "model": "lif"}, {"name": "inh", "size": 3, "model": "lif"}],
        [{"name": "drive", "size": 4}],
        [
            {"name": "ee", "pre": "exc", "post": "exc", "receptor": "exc", "synapse": "stdp_additive", "count": 16},
            {"name": "drive->inh", "pre": "drive", "post": "inh", "receptor": "exc", "count": 12},
        ],
    )
    set_structure(block, layout)
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
    assert exc["isi_cv"] == {"status": "ok", "mean": pytest.approx(np.nanmean(an.isi_cv(block, "exc"))), "neurons": 8}
    assert exc["fano_factor_100ms"]["value"] == pytest.approx(an.fano_factor(block, "100 ms", "exc"))
    # 4 s hold 800 words of 5 ms: enough for the 2^8 patterns of all 8 neurons (not 2^10)
    assert exc["pattern_entropy"]["neurons"] == 8 and exc["pattern_entropy"]["words"] == 800
    assert exc["attractor_states"]["states"] == 1  # stationary Poisson activity
    assert exc["dominant_frequency_hz"]["resolution_hz"] == 2.0 and "note" not in exc["dominant_frequency_hz"]
    assert all(exc[k]["status"] == "ok" for k in exc if isinstance(exc[k], dict) and "status" in exc[k])
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
    layout = report["run"]["structure"]
    assert [(p["name"], p["size"]) for p in layout["populations"]] == [("exc", 8), ("inh", 3)]
    assert "model" not in report["run"]  # a network, not one model
    text = format_report(report)
    assert text.startswith("exc: 8 x lif; inh: 3 x lif on brian2: 4000 ms")
    assert "population exc: 8 neurons" in text and "population inh: 3 neurons" in text
    assert "weights of ee (stdp_additive): 3 transmissions" in text
    json.dumps(report)  # plain data


def single_neuron_block(times_ms, t_stop_ms: float) -> neo.Block:
    """A block as ``simulate`` writes it for one neuron: one population, no sources or projections."""
    block = neo.Block(name="lif on brian2", backend="brian2", model="lif", dt=0.1 * pq.ms, n_neurons=1)
    block.segments.append(neo.Segment())
    set_structure(block, make_structure([{"name": "lif", "size": 1, "model": "lif", "stimulus": "constant 250 pA"}]))
    train = neo.SpikeTrain(np.asarray(times_ms, dtype=float) * pq.ms, t_stop=t_stop_ms * pq.ms)
    train.annotate(population="lif", index=0)
    block.segments[0].spiketrains.append(train)
    return block


def test_a_block_of_the_old_layout_is_refused_with_the_reason(tmp_path, capsys):
    old = network_block()
    for held in (old.annotations, old.segments[0].annotations):
        del held["structure"]
        held.update(populations=["exc: 8 x lif", "inh: 3 x lif"], sources=["drive: 4"])
    with pytest.raises(InputError, match=r"written by an older version of sourced_neuron.*run the simulation again"):
        analyze_block(old)
    path = write_block(old, tmp_path / "old.nix")
    assert cli.main(["analyze", str(path), "--no-figures"]) == 2
    error = capsys.readouterr().err
    assert "text annotations 'populations', 'sources'" in error and "write a new file" in error


def test_measures_that_do_not_apply_say_why():
    silent = single_neuron_block([], 500.0)
    report = analyze_block(silent)["populations"]["lif"]
    assert report["spikes"] == 0
    assert report["isi_cv"] == {
        "status": "not applicable",
        "reason": "the ISI CV needs a neuron with at least 3 spikes (two intervals); the most in one neuron is 0",
    }
    assert report["fano_factor_100ms"]["reason"].startswith("the Fano factor needs at least 1 spike")
    assert "2 neurons with spikes" in report["synchrony_spike_contrast"]["reason"]
    assert "at least 2 neurons" in report["avalanches"]["reason"]
    assert "at least 2 spikes" in report["dominant_frequency_hz"]["reason"]
    text = format_report(analyze_block(silent))
    assert "  avalanches: not applicable: avalanche analysis needs at least 2 neurons" in text
    assert "not computed" not in text


def test_tonic_single_neuron_gets_no_invented_measures(capfd):
    # the issue: a tonically firing neuron was reported with 3 attractor states, an avalanche with
    # a branching ratio and a 45 % synaptic share of its energy, with SciPy's k-means warnings on
    # standard error. This one (90 Hz, an 11.1 ms period on the 0.1 ms grid, 2 s) got 2 states
    # (4 or 5 spikes per 50 ms bin), a 46 % synaptic share and k-means' "One of the clusters is empty"
    block = single_neuron_block(np.round(np.arange(9.1, 2000.0, 11.1), 1), 2000.0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        report = analyze_block(block)
        text = format_report(report)
    assert [str(w.message) for w in caught] == []
    assert capfd.readouterr().err == ""
    lif = report["populations"]["lif"]
    assert lif["attractor_states"] == {
        "status": "not applicable",
        "reason": "attractor-state analysis needs at least 2 neurons (states are patterns of rates across "
        "neurons); this data has 1",
    }
    assert lif["avalanches"]["status"] == "not applicable" and "at least 2 neurons" in lif["avalanches"]["reason"]
    energy = lif["energy_atp"]
    assert energy["status"] == "ok" and energy["synaptic_events"] == 0 and energy["share"]["synaptic"] == 0
    assert energy["synaptic_events_from"].startswith("none: this run has no projections")
    assert energy["share"]["action_potentials"] + energy["share"]["resting"] == pytest.approx(1.0)
    # what does apply is measured: a regular train has Fano factor and CV 0 and its rate as its rhythm
    assert lif["fano_factor_100ms"]["value"] == pytest.approx(0.0, abs=1e-12)
    assert lif["isi_cv"]["mean"] == pytest.approx(0.0, abs=1e-9)
    assert lif["dominant_frequency_hz"]["value"] == pytest.approx(90.0, abs=2.0)  # 2 Hz resolution
    assert "attractor states: not applicable: attractor-state analysis needs at least 2 neurons" in text
    assert "synaptic 0%" in text and "synaptic events: none: this run has no projections" in text


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


@pytest.mark.brian2
def test_cli_analyze_a_200_ms_single_neuron_run(tmp_path, capfd):
    # the issue: `sourced-neuron analyze` failed on every run shorter than 500 ms (Elephant:
    # "frequency_resolution is too high for the given data size")
    run = tmp_path / "short.nix"
    args = ["simulate", "lif", "--current", "250 pA", "--duration", "200 ms", "--out", str(run)]
    assert cli.main(args) == 0
    capfd.readouterr()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert cli.main(["analyze", str(run)]) == 0
    out, err = capfd.readouterr()
    assert [str(w.message) for w in caught] == [] and err == ""
    assert "Traceback" not in out and "error" not in out
    report = json.loads((tmp_path / "short_analysis.json").read_text())
    lif = report["populations"]["lif"]
    spectrum = lif["dominant_frequency_hz"]
    # one Welch segment of the whole 200 ms run: 5 Hz resolution, and the report says why
    assert spectrum["status"] == "ok" and spectrum["resolution_hz"] == pytest.approx(5.0)
    assert "finest a 200 ms run allows" in spectrum["note"]
    assert "resolution 5 Hz, the finest a 200 ms run allows" in out
    assert lif["attractor_states"]["status"] == "not applicable" and lif["avalanches"]["status"] == "not applicable"
    assert lif["energy_atp"]["share"]["synaptic"] == 0
    assert "spectrum.png" in {p.name for p in (tmp_path / "short_figures").iterdir()}


def test_cli_analyze_bad_input(tmp_path, capsys):
    assert cli.main(["analyze", str(tmp_path / "missing.nix")]) == 2
    assert "no such file" in capsys.readouterr().err
    path = write_block(network_block(), tmp_path / "net.nix")
    assert cli.main(["analyze", str(path), "--population", "gaba", "--no-figures"]) == 2
    assert "no spike trains of population 'gaba'; populations: drive, exc, inh" in capsys.readouterr().err
