"""Figures (sourced_neuron.analysis.plotting) and the ``plot`` command.

Most tests draw hand-made Neo blocks shaped like the package's own results
(``results.blocks.build_block``): a single-model run and a network run with two populations and
a weights event, so they need no simulator. Each checks
what the figure holds (lines, points, labels) before it is saved, and that the file is a PNG.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import neo
import numpy as np
import pytest
import quantities as pq
from neo.core.spiketrainlist import SpikeTrainList

from sourced_neuron.analysis import plotting
from sourced_neuron.analysis.measures import isi_cv
from sourced_neuron.cli.main import main
from sourced_neuron.common.errors import InputError
from sourced_neuron.results.blocks import make_structure, set_structure
from sourced_neuron.results.io import write_block

PNG = b"\x89PNG\r\n\x1a\n"
T_STOP = 1000.0  # ms
DT = 0.1  # ms


def _segment_and_block(name: str, annotations: dict) -> tuple[neo.Block, neo.Segment]:
    block = neo.Block(name=name, **annotations)
    segment = neo.Segment(name=name, **annotations)
    block.segments.append(segment)
    return block, segment


def single_block(n: int = 3, record: bool = True) -> neo.Block:
    """Like ``simulate``: ``n`` lif neurons, regular spikes, ``v`` in mV recorded (``lif.v``)."""
    annotations = {"model": "lif", "backend": "brian2", "method": "exact", "stimulus": "300 pA", "n_neurons": n}
    block, segment = _segment_and_block("lif on brian2", annotations)
    population = {"name": "lif", "size": n, "model": "lif", "method": "exact", "stimulus": "constant 300 pA"}
    set_structure(block, make_structure([population | {"record": ["v"] if record else []}]))
    times = [np.arange(5.0 + 3 * k, T_STOP, 20.0 + 5 * k) for k in range(n)]
    segment.spiketrains = SpikeTrainList.from_spike_time_array(
        np.concatenate(times),
        np.concatenate([np.full(len(t), k) for k, t in enumerate(times)]),
        np.arange(n),
        t_stop=T_STOP * pq.ms,
        units=pq.ms,
        t_start=0 * pq.ms,
        population="lif",
        index=np.arange(n),
    )
    segment.spiketrains.segment = segment
    if record:
        t = np.arange(0, T_STOP, DT)
        v = -65 + 15 * ((t[:, None] / (20.0 + 5 * np.arange(n))) % 1.0)
        signal = neo.AnalogSignal(
            v * pq.mV,
            sampling_period=DT * pq.ms,
            t_start=0 * pq.ms,
            name="lif.v",
            variable="v",
            population="lif",
            model="lif",
        )
        signal.array_annotate(index=np.arange(n))
        segment.analogsignals.append(signal)
    return block


# the network: E (4 neurons) and I (2), and a source P (3) onto E through an STDP projection "stdp"
SIZES = {"E": 4, "I": 2}
PRE = np.array([0, 0, 1, 1, 2, 2])  # the projection's i and j, 6 synapses
POST = np.array([0, 1, 2, 3, 0, 3])
FINAL = np.array([1.5, 2.5, 0.5, 3.0, 2.0, 1.0])  # nS, every synapse's final weight


def network_block(weights: bool = True) -> neo.Block:
    """Like ``Network.run`` for E and I recorded, with the weights event of projection stdp,
    whose synapses 0, 3 and 5 are recorded (so 0, 3 and 5 appear in the event)."""
    annotations = {"backend": "brian2", "dt": DT * pq.ms, "seed": 1, "run_seconds": 0.1}
    block, segment = _segment_and_block("network on brian2", annotations)
    layout = make_structure(
        [{"name": "E", "size": 4, "model": "lif", "record": ["v"]}, {"name": "I", "size": 2, "model": "lif"}],
        [{"name": "P", "size": 3, "record_spikes": False}],
        [{"name": "stdp", "pre": "P", "post": "E", "receptor": "exc", "synapse": "stdp_additive", "count": 6}],
    )
    set_structure(block, layout)
    rng = np.random.default_rng(0)
    times, channels, names, indices, offset = [], [], [], [], 0
    for name, size in SIZES.items():
        for k in range(size):
            spikes = np.sort(rng.uniform(0, T_STOP, 30 if name == "E" else 12))
            times.append(spikes)
            channels.append(np.full(len(spikes), offset + k))
        names += [name] * size
        indices.append(np.arange(size))
        offset += size
    segment.spiketrains = SpikeTrainList.from_spike_time_array(
        np.concatenate(times),
        np.concatenate(channels),
        np.arange(offset),
        t_stop=T_STOP * pq.ms,
        units=pq.ms,
        t_start=0 * pq.ms,
        population=np.array(names),
        index=np.concatenate(indices),
    )
    segment.spiketrains.segment = segment
    t = np.arange(0, T_STOP, DT)
    signal = neo.AnalogSignal(
        (-65 + 10 * np.sin(t[:, None] / 30 + np.arange(4))) * pq.mV,
        sampling_period=DT * pq.ms,
        t_start=0 * pq.ms,
        name="E.v",
        population="E",
        variable="v",
        model="lif",
    )
    signal.array_annotate(index=np.arange(4))
    segment.analogsignals.append(signal)
    segment.events.append(neo.Event(np.array([100.0, 500.0]) * pq.ms, name="markers"))
    if weights:
        segment.events.append(weight_event())
    return block


def weight_event() -> neo.Event:
    """What ``build_block`` makes of recorded synapses 0, 3, 5 of projection stdp and these spikes."""
    synapse = np.array([0, 3, 5, 0, 3, 0, 5])
    times = np.array([10.0, 10.0, 30.0, 200.0, 200.0, 600.0, 700.0])  # sorted by time, then synapse
    weight = np.array([1.0, 2.0, 1.0, 1.2, 2.6, 1.4, 0.9])
    event = neo.Event(
        times * pq.ms, name="stdp.weights", projection="stdp", synapse_model="stdp_additive", weight_unit="nS"
    )
    event.array_annotate(synapse=synapse, pre=PRE[synapse], post=POST[synapse], weight=weight)
    event.annotate(final_weight=FINAL)
    return event


def assert_png(path, minimum: int = 5_000) -> None:
    data = path.read_bytes()
    assert data[:8] == PNG and len(data) > minimum, (path, len(data))


def spikes_drawn(lines) -> int:
    return sum(len(line.get_xdata()) for line in lines)


@pytest.fixture(autouse=True)
def no_figure_left_open():
    yield
    left_open = plt.get_fignums()
    plt.close("all")
    assert not left_open, "a figure was left open"


# --- rasters -----------------------------------------------------------------------------


def test_network_raster_draws_every_spike_grouped_and_coloured_by_population():
    block = network_block()
    figure = plotting._raster_figure(block)
    ax = figure.axes[0]
    trains = block.segments[0].spiketrains
    assert len(ax.lines) >= 2  # one line per population (plus population separators)
    populations = [line for line in ax.lines if line.get_marker() == "|"]
    assert len(populations) == 2 and populations[0].get_color() != populations[1].get_color()
    assert spikes_drawn(populations) == sum(len(t) for t in trains) == 4 * 30 + 2 * 12
    assert set(populations[1].get_ydata()) == {4.0, 5.0}  # I's rows come after E's
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["E (4)", "I (2)"]
    assert ax.get_xlabel() == "time (ms)" and ax.get_ylabel() == "neuron"
    assert ax.get_xlim() == (0.0, T_STOP)
    plt.close(figure)


def test_raster_of_one_population_or_of_a_list_of_trains():
    block = network_block()
    figure = plotting._raster_figure(block, population="I")
    lines = [line for line in figure.axes[0].lines if line.get_marker() == "|"]
    assert spikes_drawn(lines) == 24 and figure.axes[0].get_legend() is None
    plt.close(figure)
    trains = [neo.SpikeTrain([1.0, 2.0, 3.0], t_stop=10.0, units="ms"), neo.SpikeTrain([5.0], t_stop=10.0, units="ms")]
    figure = plotting._raster_figure(trains)
    assert spikes_drawn(figure.axes[0].lines) == 4
    plt.close(figure)


def test_raster_errors_name_what_is_there():
    with pytest.raises(InputError, match=r"population 'X'; populations: E, I"):
        plotting.plot_raster(network_block(), "unused.png", population="X")
    silent = [neo.SpikeTrain([], t_stop=10.0, units="ms")]
    with pytest.raises(InputError, match="have no spikes"):
        plotting.plot_raster(silent, "unused.png")


# --- traces ------------------------------------------------------------------------------


@pytest.mark.parametrize("threshold", ["-50 mV", -50.0, -0.05 * pq.V, -50 * pq.mV])
def test_voltage_traces_with_threshold_in_the_signals_unit(threshold):
    figure = plotting._voltage_figure(single_block(n=3), threshold=threshold)
    ax = figure.axes[0]
    assert ax.get_ylabel() == "lif.v (mV)" and ax.get_xlabel() == "time (ms)"
    assert ax.get_title() == "lif, constant 300 pA (brian2, exact)"  # from the structure
    traces, (line,) = ax.lines[:3], ax.lines[3:]
    assert all(len(trace.get_xdata()) == T_STOP / DT for trace in traces)
    assert list(line.get_ydata()) == [-50.0, -50.0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["neuron 0", "neuron 1", "neuron 2", "threshold (-50 mV)"]
    plt.close(figure)


def test_voltage_chooses_the_signal_and_limits_the_traces():
    figure = plotting._voltage_figure(network_block(), variable="v", max_traces=2)
    ax = figure.axes[0]
    assert len(ax.lines) == 2 and ax.get_ylabel() == "E.v (mV)" and "first 2 of 4 neurons" in ax.get_title()
    assert ax.get_title().startswith("E: 4 x lif; I: 2 x lif (brian2)\n")
    plt.close(figure)


def test_voltage_errors():
    with pytest.raises(InputError, match=r"no signal named 'w'; signals: lif\.v"):
        plotting.plot_voltage(single_block(), "unused.png", variable="w")
    with pytest.raises(InputError, match="no recorded signals"):
        plotting.plot_voltage(single_block(record=False), "unused.png")
    with pytest.raises(InputError, match=r"threshold '10 pA' is not in units of the signal \(mV\)"):
        plotting.plot_voltage(single_block(), "unused.png", threshold="10 pA")


# --- f-I ---------------------------------------------------------------------------------


def test_fi_curve_one_marked_line_per_label():
    currents = ["0 pA", "100 pA", "200 pA", "300 pA"]
    rates = {"brian2": np.array([0.0, 0.0, 62.0, 112.0]), "nest": [0.0, 0.0, 62.0, 113.0] * pq.Hz}
    figure = plotting._fi_figure(currents, rates, title="lif")
    ax = figure.axes[0]
    assert [line.get_label() for line in ax.lines] == ["brian2", "nest"]
    assert all(line.get_marker() not in ("", "None", None) for line in ax.lines)
    assert list(ax.lines[0].get_xdata()) == pytest.approx([0, 100, 200, 300])
    assert list(ax.lines[1].get_ydata()) == [0.0, 0.0, 62.0, 113.0]
    assert ax.get_xlabel() == "input current (pA)" and ax.get_ylabel() == "firing rate (Hz)"
    assert ax.get_title() == "lif"
    plt.close(figure)
    figure = plotting._fi_figure(np.array([0.0, 0.1, 0.2]) * pq.nA, {"x": [0, 1, 2]})
    assert list(figure.axes[0].lines[0].get_xdata()) == pytest.approx([0, 100, 200])
    plt.close(figure)


def test_fi_errors():
    with pytest.raises(InputError, match="rates of 'nest': 2 values for 3 currents"):
        plotting.plot_fi(["0 pA", "1 pA", "2 pA"], {"brian2": [0, 1, 2], "nest": [0, 1]}, "unused.png")
    with pytest.raises(InputError, match="dict label"):
        plotting.plot_fi(["0 pA", "1 pA"], {}, "unused.png")
    with pytest.raises(InputError, match="f-I currents"):
        plotting.plot_fi(["0 mV", "1 mV"], {"a": [0, 1]}, "unused.png")


# --- spike statistics --------------------------------------------------------------------


def test_isi_histogram_counts_every_interval_and_names_the_cv():
    block = network_block()
    figure = plotting._isi_figure(block, bins=20)
    ax = figure.axes[0]
    (e, i) = ax.patches
    assert e.get_data().values.sum() == 4 * 29 and i.get_data().values.sum() == 2 * 11
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    cv = np.mean(isi_cv(block, "E"))
    assert labels[0] == f"E: 116 intervals, mean CV {cv:.2f}" and labels[1].startswith("I: 22 intervals")
    assert ax.get_xlabel() == "inter-spike interval (ms)"
    plt.close(figure)


def test_isi_histogram_needs_two_spikes_in_a_train():
    with pytest.raises(InputError, match="no inter-spike intervals"):
        plotting.plot_isi_histogram([neo.SpikeTrain([1.0], t_stop=10.0, units="ms")], "unused.png")


def test_population_rate_per_population():
    figure = plotting._rate_figure(network_block(), bin_size="10 ms")
    ax = figure.axes[0]
    e, i = ax.patches
    values, edges = e.get_data().values, e.get_data().edges
    assert len(values) == T_STOP / 10 and edges[0] == 0 and edges[-1] == pytest.approx(T_STOP)
    assert values.mean() == pytest.approx(30.0)  # 30 spikes per E neuron in 1 s
    assert i.get_data().values.mean() == pytest.approx(12.0)
    assert ax.get_ylabel() == "rate (Hz)" and ax.get_xlabel() == "time (ms)" and "10 ms bins" in ax.get_title()
    plt.close(figure)


def test_power_spectrum_marks_the_dominant_frequency():
    # 20 neurons firing near the peaks of a 20 Hz rhythm
    rng = np.random.default_rng(1)
    cycles = np.arange(25, 2000, 50.0)
    trains = [
        neo.SpikeTrain(np.sort(np.clip(cycles + rng.normal(0, 5, cycles.size), 0, 1999)), t_stop=2000, units="ms")
        for _ in range(20)
    ]
    figure = plotting._spectrum_figure(trains)
    ax = figure.axes[0]
    _, peak = ax.lines
    assert list(peak.get_xdata()) == [20.0, 20.0]
    assert ax.get_yscale() == "log" and ax.get_xlabel() == "frequency (Hz)" and "Hz" in ax.get_ylabel()
    assert ax.get_legend().get_texts()[1].get_text() == "all peak: 20.0 Hz"
    plt.close(figure)
    short = [neo.SpikeTrain(t.magnitude[t.magnitude < 200], t_stop=200, units="ms") for t in trains]
    figure = plotting._spectrum_figure(short)  # the default resolution follows the run's duration
    assert "5.0 Hz resolution" in figure.axes[0].get_title()
    plt.close(figure)
    with pytest.raises(InputError, match="resolution"):
        plotting.plot_power_spectrum(short, "unused.png", resolution="1 Hz")


# --- weights -----------------------------------------------------------------------------


def test_weight_matrix_places_the_final_weights_of_the_recorded_synapses():
    figure = plotting._weight_matrix_figure(network_block())
    ax, colour_bar = figure.axes
    matrix = ax.images[0].get_array()
    assert matrix.shape == (3, 4)  # P (3) x E (4), from the block's structure (more than the synapses name)
    expected = np.full((3, 4), np.nan)
    for s in (0, 3, 5):
        expected[PRE[s], POST[s]] = FINAL[s]
    assert np.array_equal(np.ma.filled(matrix, np.nan), expected, equal_nan=True)
    assert colour_bar.get_ylabel() == "final weight (nS)"
    assert ax.get_xlabel() == "postsynaptic neuron (E)" and ax.get_ylabel() == "presynaptic neuron (P)"
    assert "3 of 6 synapses" in ax.get_title()
    plt.close(figure)


def test_weight_plots_name_the_events_there_are():
    with pytest.raises(InputError, match=r"no weights event .*its events: 'markers'"):
        plotting.plot_weight_matrix(network_block(weights=False), "unused.png")
    with pytest.raises(InputError, match=r"of projection 'ee'.*its events: 'markers', 'stdp.weights'"):
        plotting.plot_weight_evolution(network_block(), "unused.png", projection="ee")
    with pytest.raises(InputError, match="its events: none"):
        plotting.plot_weight_matrix(single_block(), "unused.png")


def test_weight_evolution_one_step_line_per_recorded_synapse():
    figure = plotting._weight_evolution_figure(network_block(), projection="stdp")
    ax = figure.axes[0]
    assert [line.get_label() for line in ax.lines] == ["synapse 0: 0 → 0", "synapse 3: 1 → 3", "synapse 5: 2 → 3"]
    assert [list(line.get_ydata()) for line in ax.lines] == [[1.0, 1.2, 1.4], [2.0, 2.6], [1.0, 0.9]]
    assert list(ax.lines[0].get_xdata()) == [10.0, 200.0, 600.0]
    assert all(line.get_drawstyle() == "steps-post" for line in ax.lines)
    assert ax.get_ylabel() == "transmitted weight (nS)" and ax.get_xlabel() == "time (ms)"
    plt.close(figure)
    figure = plotting._weight_evolution_figure(network_block(), max_synapses=2)
    assert len(figure.axes[0].lines) == 2 and "first 2 of 3" in figure.axes[0].get_title()
    plt.close(figure)


# --- files -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "draw",
    [
        lambda path: plotting.plot_raster(network_block(), path),
        lambda path: plotting.plot_voltage(single_block(), path, threshold="-50 mV"),
        lambda path: plotting.plot_fi(["0 pA", "100 pA", "200 pA"], {"brian2": [0, 5, 9], "nest": [0, 5, 9]}, path),
        lambda path: plotting.plot_isi_histogram(network_block(), path),
        lambda path: plotting.plot_population_rate(network_block(), path, population="E"),
        lambda path: plotting.plot_power_spectrum(network_block(), path),
        lambda path: plotting.plot_weight_matrix(network_block(), path, projection="stdp"),
        lambda path: plotting.plot_weight_evolution(network_block(), path),
        lambda path: plotting.plot_block(network_block(), path, threshold=-50),
        lambda path: plotting.plot_block(single_block(record=False), path),
        lambda path: plotting.plot_overview([single_block(), network_block()], path),
    ],
    ids=[
        "raster",
        "voltage",
        "fi",
        "isi",
        "rate",
        "spectrum",
        "weights",
        "weight-evolution",
        "block",
        "block-unrecorded",
        "overview",
    ],
)
def test_every_plot_writes_a_png_into_new_folders(draw, tmp_path):
    path = tmp_path / "new" / "folder" / "figure.png"
    assert draw(path) == path
    assert_png(path)


# --- the command line --------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".nix", ".pkl"])
@pytest.mark.parametrize("kind", ["raster", "voltage", "isi", "rate", "spectrum", "weights", "weight-evolution"])
def test_cli_plot_draws_a_saved_run(kind, suffix, tmp_path, capsys):
    saved = write_block(network_block(), tmp_path / f"net{suffix}")
    trusted = ["--allow-pickle"] if suffix == ".pkl" else []  # pickles are read only when asked
    assert main(["plot", str(saved), "--kind", kind, *trusted]) == 0
    expected = tmp_path / f"net_{kind}.png"
    assert capsys.readouterr().out.strip() == f"wrote {expected}"
    assert_png(expected)


def test_cli_plot_options(tmp_path, capsys):
    saved = write_block(single_block(), tmp_path / "run.nix")
    out = tmp_path / "figures" / "v.png"
    assert main(["plot", str(saved), "--kind", "voltage", "--threshold", "-50 mV", "--out", str(out)]) == 0
    assert capsys.readouterr().out.strip() == f"wrote {out}"
    assert_png(out)
    net = write_block(network_block(), tmp_path / "net.nix")
    assert main(["plot", str(net), "--kind", "raster", "--population", "I"]) == 0
    assert main(["plot", str(net), "--kind", "weights", "--projection", "stdp"]) == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--kind", "weights"], "no weights event (record them with net.record(projection, 'weights')); its events"),
        (["--kind", "raster", "--threshold", "-50 mV"], "--threshold is for --kind voltage, not --kind raster"),
        (["--kind", "weights", "--population", "E"], "--population is for --kind raster, isi, rate or spectrum"),
        (["--kind", "raster", "--population", "X"], "no spike trains of population 'X'; populations: lif"),
        (["--kind", "voltage", "--threshold", "1 nA"], "is not in units of the signal (mV)"),
        (["--kind", "nope"], "invalid choice: 'nope'"),
    ],
)
def test_cli_plot_errors_are_one_message(args, message, tmp_path, capsys):
    saved = write_block(single_block(), tmp_path / "run.nix")
    assert main(["plot", str(saved), *args]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert message in err and "Traceback" not in err
    assert not list(tmp_path.glob("*.png"))


def test_cli_plot_missing_file(tmp_path, capsys):
    assert main(["plot", str(tmp_path / "gone.nix"), "--kind", "raster"]) == 2
    assert "no such file" in capsys.readouterr().err


@pytest.mark.brian2
def test_cli_plot_fi_runs_the_sweep(tmp_path, capsys, monkeypatch):
    import sourced_neuron.analysis.compare

    calls = []

    def fake_fi_curve(model, backend, currents, duration="1 s", **kwargs):
        calls.append((model, backend, currents, duration))
        return np.array([0.0, 20.0, 45.0])

    monkeypatch.setattr(sourced_neuron.analysis.compare, "fi_curve", fake_fi_curve)
    monkeypatch.chdir(tmp_path)
    args = ["plot", "lif", "--kind", "fi", "--currents", "0 pA, 200 pA,300 pA", "--duration", "200 ms"]
    assert main(args) == 0
    assert calls == [("lif", "brian2", ["0 pA", "200 pA", "300 pA"], "200 ms")]
    assert capsys.readouterr().out.strip() == "wrote lif_fi.png"
    assert_png(tmp_path / "lif_fi.png")
    assert main(["plot", "lif", "--kind", "fi", "--currents", "10 pA"]) == 2
    assert "at least two currents" in capsys.readouterr().err


# --- a real run --------------------------------------------------------------------------


@pytest.mark.brian2
def test_plots_of_a_real_lif_run(tmp_path):
    import sourced_neuron as sn

    block = sn.simulate("lif", duration="200 ms", stimulus="300 pA")
    n_spikes = len(block.segments[0].spiketrains[0])
    assert n_spikes > 5
    figure = plotting._raster_figure(block)
    assert spikes_drawn(figure.axes[0].lines) == n_spikes
    plt.close(figure)
    figure = plotting._voltage_figure(block, threshold="-50 mV")
    ax = figure.axes[0]
    assert ax.get_ylabel() == "lif.v (mV)" and list(ax.lines[-1].get_ydata()) == [-50.0, -50.0]
    assert ax.get_title() == "lif, constant 300 pA (brian2, exact)"
    assert -65.0 - 1e-6 <= min(ax.lines[0].get_ydata()) < max(ax.lines[0].get_ydata()) <= -50.0 + 1e-6
    plt.close(figure)
    for path in (
        plotting.plot_voltage(block, tmp_path / "v.png", threshold="-50 mV"),
        plotting.plot_raster(block, tmp_path / "raster.png"),
        plotting.plot_isi_histogram(block, tmp_path / "isi.png"),
        plotting.plot_population_rate(block, tmp_path / "rate.png"),
    ):
        assert_png(path)
