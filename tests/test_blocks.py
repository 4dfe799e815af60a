"""The one Neo layout of every run (``sourced_neuron.results.blocks``): what ``simulate`` and
``Network.run`` return, the ``structure`` annotation and its round trip through NIX and NWB,
the refusal of blocks of an older layout, and the accessors on blocks made by hand."""

from __future__ import annotations

import json

import neo
import numpy as np
import pytest
import quantities as pq
from neo.core.spiketrainlist import SpikeTrainList

import sourced_neuron as sn
from sourced_neuron.analysis import measures, plotting
from sourced_neuron.backends import backend_status
from sourced_neuron.common.errors import InputError
from sourced_neuron.results import blocks
from sourced_neuron.results.blocks import (
    SCHEMA,
    make_structure,
    rename_populations,
    set_structure,
    signals,
    spike_trains,
    structure,
)
from sourced_neuron.results.io import read_block, write_block

#: The annotations every block carries, on the block and on its segment.
RUN_KEYS = {
    "structure",
    "backend",
    "dt",
    "seed",
    "simulator_seed",
    "n_neurons",
    "sourced_neuron_version",
    "run_seconds",
}
#: Those a run of ``simulate`` adds.
SINGLE_KEYS = {"model", "model_hash", "method", "preset", "stimulus", "parameters", "initial"}


def small_network(seed: int = 3) -> sn.Network:
    """Populations of different sizes and models, a recorded Poisson source, a plastic projection
    with recorded weights and a static one."""
    net = sn.Network(seed=seed)
    net.population("exc", "lif", 5, params={"V_th": {"uniform": ["-52 mV", "-50 mV"]}})
    net.population("inh", "izhikevich", 2, preset="fs")
    net.poisson("drive", 3, rate="200 Hz")
    net.connect(
        "drive",
        "exc",
        "all_to_all",
        weight="3 nA",
        receptor="exc",
        synapse=("stdp_additive", {"w_max": "6 nA"}),
        name="plastic",
    )
    net.connect("exc", "inh", "fixed_indegree", indegree=4, weight="500 pA", receptor="exc")
    net.inject("inh", "20 pA")
    net.record("plastic", "weights", synapses=[0, 4, 7])
    net.record("exc", ("spikes", "v"))
    net.record("inh", ("spikes", "v", "u"))
    net.record("drive")
    return net


@pytest.fixture(scope="module")
def network_block() -> neo.Block:
    return small_network().run("40 ms", backend="brian2")


@pytest.fixture(scope="module")
def single_block() -> neo.Block:
    return sn.simulate("izhikevich", duration="40 ms", preset="ch", stimulus="10 pA", n_neurons=3, record=("v", "u"))


def hand_made() -> neo.Block:
    """Two populations of different sizes and a source, as a run lays them out."""
    block = neo.Block(name="by hand", backend="brian2", dt=0.1 * pq.ms)
    segment = neo.Segment(name="by hand")
    block.segments.append(segment)
    for population, size in (("A", 3), ("B", 1), ("S", 2)):
        for index in range(size):
            train = neo.SpikeTrain(np.arange(1 + index, 50, 10 + size) * pq.ms, t_stop=50 * pq.ms)
            train.annotate(population=population, index=index)
            segment.spiketrains.append(train)
    for population, size in (("A", 3), ("B", 1)):
        signal = neo.AnalogSignal(
            np.zeros((500, size)) * pq.mV,
            sampling_period=0.1 * pq.ms,
            name=f"{population}.v",
            population=population,
            variable="v",
            model="lif",
        )
        signal.array_annotate(index=np.arange(size))
        segment.analogsignals.append(signal)
    set_structure(
        block,
        make_structure(
            [{"name": "A", "size": 3, "model": "lif", "record": ["v"]}, {"name": "B", "size": 1, "model": "adex"}],
            [{"name": "S", "size": 2}],
            [
                {"name": "S->A", "pre": "S", "post": "A", "count": 8},
                {"name": "A->B", "pre": "A", "post": "B", "count": 9},
            ],
        ),
    )
    return block


# --- one layout -------------------------------------------------------------------------------


@pytest.mark.brian2
def test_simulate_is_a_network_of_one_population_with_the_same_layout(single_block, network_block):
    for block in (single_block, network_block):
        assert len(block.segments) == 1
        segment = block.segments[0]
        assert RUN_KEYS <= set(block.annotations) and block.annotations.keys() == segment.annotations.keys()
        assert isinstance(block.annotations["structure"], str)  # JSON text, as NIX stores it
        assert isinstance(segment.spiketrains, SpikeTrainList)  # multiplexed: trains made when first used
        layout = structure(block)
        for train in segment.spiketrains:
            assert train.units == pq.ms and train.t_stop == 40 * pq.ms
        for signal in segment.analogsignals:
            population, variable = signal.annotations["population"], signal.annotations["variable"]
            assert signal.name == f"{population}.{variable}"
            entry = next(p for p in layout["populations"] if p["name"] == population)
            assert signal.annotations["model"] == entry["model"] and variable in entry["record"]
            assert signal.shape == (400, entry["size"])
            assert list(signal.array_annotations["index"]) == list(range(entry["size"]))
    # one population named after the model, its trains in index order
    (population,) = structure(single_block)["populations"]
    assert (population["name"], population["size"], population["model"], population["preset"]) == (
        "izhikevich",
        3,
        "izhikevich",
        "ch",
    )
    assert structure(single_block)["sources"] == [] and structure(single_block)["projections"] == []
    trains = single_block.segments[0].spiketrains
    assert [(t.annotations["population"], t.annotations["index"]) for t in trains] == [
        ("izhikevich", k) for k in range(3)
    ]
    assert [s.name for s in single_block.segments[0].analogsignals] == ["izhikevich.v", "izhikevich.u"]
    assert SINGLE_KEYS <= set(single_block.annotations) and not SINGLE_KEYS & set(network_block.annotations)
    assert single_block.annotations["n_neurons"] == 3 and network_block.annotations["n_neurons"] == 7


@pytest.mark.brian2
def test_the_network_structure_describes_the_run(network_block):
    layout = structure(network_block)
    assert layout["schema"] == SCHEMA
    exc, inh = layout["populations"]
    assert (exc["name"], exc["size"], exc["model"], inh["name"], inh["size"], inh["model"]) == (
        "exc",
        5,
        "lif",
        "inh",
        2,
        "izhikevich",
    )
    assert exc["per_neuron"] == ["V_th"] and "V_th" not in exc["parameters"] and exc["preset"] == ""
    assert inh["preset"] == "fs" and inh["stimulus"] == "constant 20 pA" and exc["stimulus"] == "none"
    assert inh["parameters"]["c"] == "-65.0 mV" and inh["method"] == "euler"
    assert inh["model_hash"] == sn.load_model("izhikevich").with_preset("fs").content_hash != exc["model_hash"]
    assert layout["sources"] == [{"name": "drive", "size": 3, "record_spikes": True}]
    plastic, static = layout["projections"]
    assert plastic == {
        "name": "plastic",
        "pre": "drive",
        "post": "exc",
        "receptor": "exc",
        "synapse": "stdp_additive",
        "count": 15,
        "recorded_synapses": 3,
    }
    assert (static["pre"], static["post"], static["synapse"], static["count"]) == ("exc", "inh", "static", 8)
    json.dumps(layout)  # plain data
    # trains: the populations in order, then the recorded source
    trains = network_block.segments[0].spiketrains
    order = [(t.annotations["population"], t.annotations["index"]) for t in trains]
    assert order == [("exc", k) for k in range(5)] + [("inh", 0), ("inh", 1)] + [("drive", k) for k in range(3)]
    assert [s.name for s in network_block.segments[0].analogsignals] == ["exc.v", "inh.u", "inh.v"]
    (event,) = network_block.segments[0].events
    assert event.name == "plastic.weights" and event.annotations["projection"] == "plastic"
    assert set(np.unique(event.array_annotations["synapse"])) <= {0, 4, 7}


@pytest.mark.brian2
def test_a_noise_current_is_described_as_noise():
    net = sn.Network(seed=2)
    net.population("cells", "lif", 4)
    net.inject("cells", {"noise": {"mean": "100 pA", "std": "20 pA"}})
    net.record("cells")
    (cells,) = structure(net.run("5 ms"))["populations"]
    assert cells["stimulus"] == "noise, mean 100 pA, std 20 pA"


# --- files ------------------------------------------------------------------------------------


@pytest.mark.brian2
@pytest.mark.parametrize("suffix", [".nix", ".nwb"])
def test_the_structure_survives_nix_and_nwb(suffix, tmp_path, network_block, single_block):
    for name, block in (("network", network_block), ("single", single_block)):
        again = read_block(write_block(block, tmp_path / f"{name}{suffix}"))
        assert structure(again) == structure(block)
        assert structure(again.segments[0]) == structure(block)
        for key in RUN_KEYS - {"structure", "dt"}:
            assert str(again.annotations[key]) == str(block.annotations[key]), key
        read, written = again.segments[0], block.segments[0]
        assert [(t.annotations["population"], t.annotations["index"]) for t in read.spiketrains] == [
            (t.annotations["population"], t.annotations["index"]) for t in written.spiketrains
        ]
        assert [s.name for s in read.analogsignals] == [s.name for s in written.analogsignals]
        assert [s.annotations["population"] for s in read.analogsignals] == [
            s.annotations["population"] for s in written.analogsignals
        ]
        energy = measures.energy(again)
        assert energy.n_neurons == sum(p["size"] for p in structure(block)["populations"])


def test_a_hand_made_structure_survives_nix_and_nwb(tmp_path):
    block = hand_made()
    for suffix in (".nix", ".nwb"):
        again = read_block(write_block(block, tmp_path / f"run{suffix}"))
        assert structure(again) == structure(block)
        assert [p["size"] for p in structure(again)["populations"]] == [3, 1]


# --- older layouts ----------------------------------------------------------------------------


def test_a_block_without_structure_is_refused_with_the_reason():
    block = neo.Block(name="old run", model="lif", backend="brian2")
    block.segments.append(neo.Segment())
    with pytest.raises(InputError) as info:
        structure(block)
    message = str(info.value)
    assert "block 'old run' has no 'structure' annotation" in message
    assert "written by an older version of sourced_neuron" in message and "run the simulation again" in message
    assert structure(block, required=False) is None  # trains and signals alone: a block made by hand


def test_the_text_annotations_of_the_old_network_layout_are_refused_even_when_optional():
    block = neo.Block(name="network on brian2", populations=["E: 80 x lif"], projections=["P->E: P -> E (exc): 4"])
    block.segments.append(neo.Segment())
    for required in (True, False):
        with pytest.raises(
            InputError, match=r"text annotations 'populations', 'projections': it was written by an old"
        ):
            structure(block, required)
    block.segments[0].spiketrains.append(neo.SpikeTrain([1.0] * pq.ms, t_stop=5 * pq.ms, population="E", index=0))
    event = neo.Event([1.0] * pq.ms, name="P->E.weights", projection="P->E")
    event.array_annotate(synapse=[0], pre=[0], post=[0], weight=[1.0])
    block.segments[0].events.append(event)
    with pytest.raises(InputError, match="written by an older version"):
        plotting.plot_weight_matrix(block, "unused.png")
    with pytest.raises(InputError, match="written by an older version"):
        measures.energy(block)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (json.dumps({"schema": 0, "populations": []}), "structure of schema 0: it was written by an older version"),
        (json.dumps({"populations": []}), "has no schema version"),
        (
            json.dumps({"schema": SCHEMA + 1, "populations": [], "sources": [], "projections": []}),
            f"schema {SCHEMA + 1}, written by a newer version of sourced_neuron",
        ),
        ("{not json", "is not JSON"),
        (
            json.dumps(
                {"schema": SCHEMA, "populations": [{"name": "A", "size": "3"}], "sources": [], "projections": []}
            ),
            "entry 0 of the structure's populations has no valid 'size'",
        ),
        (json.dumps({"schema": SCHEMA, "populations": [], "projections": []}), "has no list of sources"),
    ],
)
def test_a_structure_of_another_schema_or_damaged_is_refused(value, message):
    block = hand_made()
    block.annotations["structure"] = value
    with pytest.raises(InputError, match=message):
        structure(block)


def test_make_and_set_structure_check_their_input():
    with pytest.raises(InputError, match="has no size"):
        make_structure([{"name": "A"}])
    with pytest.raises(InputError, match=r"unknown fields \['sizes'\]"):
        make_structure([{"name": "A", "size": 1, "sizes": 2}])
    with pytest.raises(InputError, match="has no pre"):
        make_structure([{"name": "A", "size": 1}], projections=[{"name": "x", "post": "A"}])
    with pytest.raises(InputError, match="names a population or source twice"):
        make_structure([{"name": "A", "size": 1}], [{"name": "A", "size": 2}])
    with pytest.raises(InputError, match="'schema': 1"):
        set_structure(neo.Block(), {"schema": 0, "populations": [], "sources": [], "projections": []})
    layout = make_structure([{"name": "A", "size": 4}])
    assert layout["populations"][0]["stimulus"] == "none" and layout["populations"][0]["record_spikes"] is True


# --- accessors on a block made by hand --------------------------------------------------------


def test_accessors_of_a_hand_made_block():
    block = hand_made()
    layout = structure(block)
    assert [(p["name"], p["size"], p["model"]) for p in layout["populations"]] == [("A", 3, "lif"), ("B", 1, "adex")]
    assert structure(block.segments[0]) == layout  # the segment carries it too
    bare = neo.Segment()
    block.segments.append(bare)
    assert structure(bare) == layout  # a segment without it: its block's
    layout["populations"][0]["size"] = 99  # a copy: the block keeps its own
    assert structure(block)["populations"][0]["size"] == 3
    assert [t.annotations["index"] for t in spike_trains(block, "A")] == [0, 1, 2]
    assert len(spike_trains(block)) == 6 and len(spike_trains(block, "S")) == 2
    with pytest.raises(InputError, match="no spike trains of population 'C'; populations: A, B, S"):
        spike_trains(block, "C")
    assert [s.name for s in signals(block)] == ["A.v", "B.v"]
    assert [s.name for s in signals(block, population="B")] == ["B.v"]
    assert [s.name for s in signals(block, variable="v", population="A")] == ["A.v"]
    assert signals(block, variable="u") == []
    assert measures.spike_trains is blocks.spike_trains  # the name analysis code and docs use
    # energy counts synaptic events from the structure's projections: S (2 sources) -> A with 8
    # synapses, 4 per source spike; A (3 neurons) -> B with 9, 3 per spike of A
    estimate = measures.energy(block)
    source_spikes = sum(len(t) for t in spike_trains(block, "S"))
    a_spikes = sum(len(t) for t in spike_trains(block, "A"))
    assert estimate.n_neurons == 4  # the source is no neuron
    assert estimate.n_synaptic_events == pytest.approx(4 * source_spikes + 3 * a_spikes)
    assert measures.energy(block, population="A").n_synaptic_events == pytest.approx(3 * a_spikes)


def test_titles_and_weight_matrices_read_the_structure():
    block = hand_made()
    assert plotting._title(block) == "A: 3 x lif; B: 1 x adex (brian2)"
    single = neo.Block(name="x", backend="nest")
    single.segments.append(neo.Segment())
    population = {
        "name": "hh",
        "size": 2,
        "model": "hh",
        "preset": "fast",
        "stimulus": "constant 5 pA",
        "method": "rk4",
    }
    set_structure(single, make_structure([population]))
    assert plotting._title(single) == "hh [fast], constant 5 pA (nest, rk4)"
    event = neo.Event([1.0, 2.0] * pq.ms, name="S->A.weights", projection="S->A", weight_unit="pA")
    event.array_annotate(synapse=[0, 1], pre=[0, 0], post=[0, 1], weight=[1.0, 2.0])
    block.segments[0].events.append(event)
    figure = plotting._weight_matrix_figure(block)
    ax = figure.axes[0]
    assert ax.images[0].get_array().shape == (2, 3)  # S (2) x A (3): the sizes of the structure
    assert ax.get_xlabel() == "postsynaptic neuron (A)" and ax.get_ylabel() == "presynaptic neuron (S)"
    plotting.plt.close(figure)


def test_rename_populations_renames_trains_signals_and_structure_alike(tmp_path):
    block = hand_made()
    rename_populations(block, {"A": "first", "S": "input"})
    layout = structure(block)
    assert [p["name"] for p in layout["populations"]] == ["first", "B"]
    assert [s["name"] for s in layout["sources"]] == ["input"]
    assert [(p["pre"], p["post"]) for p in layout["projections"]] == [("input", "first"), ("first", "B")]
    assert structure(block.segments[0]) == layout
    assert [t.annotations["population"] for t in block.segments[0].spiketrains] == ["first"] * 3 + ["B"] + ["input"] * 2
    assert [(s.name, s.annotations["population"]) for s in signals(block)] == [("first.v", "first"), ("B.v", "B")]
    assert structure(read_block(write_block(block, tmp_path / "renamed.nix"))) == layout
    with pytest.raises(InputError, match="would give two populations or sources one name"):
        rename_populations(block, {"first": "B"})
    assert [p["name"] for p in structure(block)["populations"]] == ["first", "B"]  # unchanged


# --- NEST ---------------------------------------------------------------------------------------


@pytest.mark.nest
def test_nest_blocks_have_the_layout_of_brian2_blocks(network_block):
    reason = backend_status()["nest"]
    if reason:
        pytest.skip(reason)
    block = small_network().run("40 ms", backend="nest")
    layout, reference = structure(block), structure(network_block)
    for entry in layout["populations"] + reference["populations"]:
        entry.pop("simulator")  # what each simulator made of the population (nest_model, codegen_target)
    assert layout == reference
    assert RUN_KEYS <= set(block.annotations) and block.annotations["backend"] == "nest"
    assert [s.name for s in block.segments[0].analogsignals] == [
        s.name for s in network_block.segments[0].analogsignals
    ]
    assert [(t.annotations["population"], t.annotations["index"]) for t in block.segments[0].spiketrains] == [
        (t.annotations["population"], t.annotations["index"]) for t in network_block.segments[0].spiketrains
    ]
