"""NWB round trips of network blocks, CSV spike tables, replaying recorded spikes, and damaged
or interrupted files."""

from __future__ import annotations

import neo
import numpy as np
import pytest
import quantities as pq

import sourced_neuron as sn
from sourced_neuron.common.errors import InputError
from sourced_neuron.results.io import (
    read_block,
    read_blocks,
    read_spike_csv,
    read_spike_trains,
    write_blocks,
    write_spike_csv,
)

pytestmark = pytest.mark.brian2


@pytest.fixture(scope="module")
def network_block():
    """A small plastic network: two populations, a recorded source, recorded weights and v."""
    net = sn.Network(seed=11)
    net.population("exc", "lif", 3, params={"V_th": "-52 mV"})
    net.population("inh", "lif", 2)
    net.spike_source("drive", [["2 ms", "9 ms", "15 ms"], ["4 ms", "12 ms"]])
    net.connect(
        "drive",
        "exc",
        "all_to_all",
        weight="4 nA",
        receptor="exc",
        synapse=("stdp_additive", {"w_max": "8 nA"}),
        name="plastic",
    )
    net.connect("exc", "inh", "all_to_all", weight="600 pA", delay="1.5 ms", receptor="exc")
    net.record("plastic", "weights")
    net.record("exc", ("spikes", "v"))
    net.record("inh")
    net.record("drive")
    return net.run("30 ms")


def test_nwb_round_trip_of_a_network_keeps_everything(tmp_path, network_block):
    assert network_block.annotations["seed"] == 11  # as given; the simulator's own is drawn from it
    assert network_block.annotations["simulator_seed"] not in (-1, 11)
    single = sn.simulate("izhikevich", duration="20 ms", stimulus="10 pA", n_neurons=2)
    path = write_blocks([network_block, single], tmp_path / "runs.nwb")
    blocks = read_blocks(path)
    assert [b.name for b in blocks] == [network_block.name, single.name]
    for written, read in zip([network_block, single], blocks, strict=True):
        assert read.annotations.keys() == written.annotations.keys()
        for key, value in written.annotations.items():
            assert str(read.annotations[key]) == str(value), key
        a, b = written.segments[0], read.segments[0]
        assert len(b.spiketrains) == len(a.spiketrains)
        for x, y in zip(a.spiketrains, b.spiketrains, strict=True):
            assert y.units == x.units and y.t_stop == x.t_stop and y.t_start == x.t_start
            # NWB stores spike times in seconds: ms -> s -> ms may move the last bit
            np.testing.assert_allclose(y.magnitude, x.magnitude, rtol=1e-15, atol=0)
            assert y.annotations == x.annotations
        for x, y in zip(a.analogsignals, b.analogsignals, strict=True):
            assert (y.name, y.units, y.sampling_period, y.t_start) == (x.name, x.units, x.sampling_period, x.t_start)
            np.testing.assert_array_equal(y.magnitude, x.magnitude)
            np.testing.assert_array_equal(y.array_annotations["index"], x.array_annotations["index"])
    event = network_block.segments[0].events[0]
    again = blocks[0].segments[0].events[0]
    assert again.name == "plastic.weights" and again.units == event.units and len(event) > 0
    np.testing.assert_allclose(again.magnitude, event.magnitude, rtol=1e-15, atol=0)  # seconds in NWB
    for key in ("synapse", "pre", "post", "weight"):
        np.testing.assert_array_equal(again.array_annotations[key], event.array_annotations[key])
    np.testing.assert_array_equal(again.annotations["final_weight"], event.annotations["final_weight"])
    assert again.annotations["weight_unit"] == event.annotations["weight_unit"]


def test_interrupted_or_damaged_nwb_files(tmp_path, monkeypatch, network_block):
    target = tmp_path / "run.nwb"

    def fail(self, blocks, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(neo.io.NWBIO, "write_all_blocks", fail)
    with pytest.raises(OSError, match="disk full"):
        write_blocks([network_block], target)
    assert list(tmp_path.iterdir()) == []
    target.write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(200))
    with pytest.raises(InputError, match=r"cannot read .*run\.nwb"):
        read_block(target)


def test_csv_spike_table_round_trip(tmp_path, network_block):
    path = write_spike_csv(network_block, tmp_path / "spikes.csv")
    lines = path.read_text().splitlines()
    assert lines[0] == "population,neuron,time_ms"
    times = [float(line.split(",")[2]) for line in lines[1:]]
    assert times == sorted(times)
    trains = read_spike_csv(path, t_stop="30 ms")
    written = {(t.annotations["population"], t.annotations["index"]): t for t in network_block.segments[0].spiketrains}
    for train in trains:
        key = (train.annotations["population"], train.annotations["index"])
        np.testing.assert_array_equal(train.rescale(pq.ms).magnitude, written[key].rescale(pq.ms).magnitude)
        assert train.t_stop == 30 * pq.ms
    # every written train with spikes came back (trailing silent neurons have no row)
    assert {k for k, t in written.items() if len(t)} <= {
        (t.annotations["population"], t.annotations["index"]) for t in trains
    }


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("pop,neuron,time\n", "row 1: the header must be population,neuron,time_ms"),
        ("population,neuron,time_ms\nexc,0,1.5\nexc,one,2.0\n", "row 3, column 'neuron': 'one' is not a number"),
        ("population,neuron,time_ms\nexc,0,1.5\nexc,1,2.0ms\n", "row 3, column 'time_ms': '2.0ms' is not a number"),
        ("population,neuron,time_ms\nexc,0\n", "row 2: expected 3 cells, found 2"),
        ("population,neuron,time_ms\nexc,-1,2.0\n", "row 2: neuron and time must be non-negative"),
    ],
)
def test_bad_csv_spike_tables_name_row_and_column(tmp_path, text, message):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(InputError, match=message):
        read_spike_csv(path)


def test_replay_drives_a_network_with_recorded_spikes(tmp_path, network_block):
    csv_path = write_spike_csv(network_block, tmp_path / "spikes.csv")
    nix_path = tmp_path / "run.nix"
    write_blocks([network_block], nix_path)
    recorded = [t for t in network_block.segments[0].spiketrains if t.annotations["population"] == "exc"]
    assert sum(len(t) for t in recorded) > 0
    for path in (csv_path, nix_path):
        net = sn.Network(seed=2)
        net.population("copy", "lif", 3)
        net.replay("replayed", path, population="exc")
        net.connect("replayed", "copy", "one_to_one", weight="5 nA", receptor="exc")
        net.record("replayed")
        block = net.run("30 ms")
        replayed = [t for t in block.segments[0].spiketrains if t.annotations["population"] == "replayed"]
        assert len(replayed) == len(recorded)
        for x, y in zip(recorded, replayed, strict=True):
            np.testing.assert_allclose(y.rescale(pq.ms).magnitude, x.rescale(pq.ms).magnitude, atol=1e-9)
    with pytest.raises(InputError, match="no spike trains of population 'gaba'"):
        read_spike_trains(csv_path, population="gaba")
