"""Networks: the description (backend-independent), and Brian2 vs NEST on the same network.

Every random choice is drawn in Python from the network's seed, so both backends get the same
connections, weights, delays, Poisson trains and noise currents; with the printed integration
step of both targets (docs/semantics.md) their results then agree to rounding.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import quantities as pq

import sourced_neuron as sn
from sourced_neuron.backends import backend_status
from sourced_neuron.results.blocks import structure

SYNAPTIC = Path(__file__).parent / "models" / "valid" / "synaptic.yaml"


def mixed_network(seed=7):
    """Every port kind, every rule, a parameter distribution, sources of both kinds, noise."""
    net = sn.Network(seed=seed)
    net.population(
        "cells",
        SYNAPTIC,
        40,
        params={"V_th": {"uniform": ["-52 mV", "-48 mV"]}, "E_L": {"normal": ["-65 mV", "1 mV"]}},
    )
    net.poisson("drive", 30, rate="40 Hz")
    net.spike_source("kick", [["20 ms", "60 ms"], ["35.5 ms"]])
    net.connect("drive", "cells", "fixed_probability", p=0.3, weight="1.5 nS", delay="1 ms", receptor="ampa")
    net.connect(
        "cells",
        "cells",
        "fixed_indegree",
        indegree=5,
        weight={"uniform": ["0.5 nS", "1 nS"]},
        delay={"uniform": ["1 ms", "3 ms"]},
        receptor="gaba",
        autapses=False,
    )
    net.connect("kick", "cells", "all_to_all", weight="3 mV", delay="0.5 ms", receptor="jump")
    net.connect("cells", "cells", "one_to_one", weight="20 pA", delay="2 ms", receptor="slow")
    net.inject("cells", {"noise": {"mean": "150 pA", "std": "50 pA"}})
    net.record("cells", ["spikes", "v", "g_gaba"])
    net.record("drive")
    return net


def test_the_same_seed_gives_the_same_network_and_input():
    a, b, c = (mixed_network(seed).spec("100 ms") for seed in (7, 7, 8))
    for x, y in zip(a.projections, b.projections, strict=True):
        assert np.array_equal(x.i, y.i) and np.array_equal(x.j, y.j) and np.array_equal(x.weights, y.weights)
        assert np.array_equal(x.delays, y.delays)
    assert np.array_equal(a.sources[0].times, b.sources[0].times)
    assert np.array_equal(a.populations[0].parameters["V_th"], b.populations[0].parameters["V_th"])
    assert not np.array_equal(a.projections[0].i, c.projections[0].i)


def test_connection_rules():
    net = sn.Network(seed=1)
    net.population("a", SYNAPTIC, 20)
    net.population("b", SYNAPTIC, 30)
    assert net.connect("a", "b", "all_to_all", weight="1 nS", receptor="ampa") == 600
    assert net.connect("a", "a", "all_to_all", weight="1 nS", receptor="ampa", autapses=False) == 380
    assert net.connect("b", "b", "one_to_one", weight="1 nS", receptor="ampa") == 30
    assert net.connect("a", "b", "list", pairs=[(0, 29), (19, 0)], weight="1 nS", receptor="ampa") == 2
    assert net.connect("a", "b", "fixed_indegree", indegree=7, weight="1 nS", receptor="ampa") == 210
    n = net.connect("a", "b", "fixed_probability", p=0.25, weight="1 nS", receptor="ampa")
    assert abs(n - 150) < 4 * np.sqrt(600 * 0.25 * 0.75)  # binomial: mean 150, 4 standard deviations
    spec = net.spec("10 ms")
    indegree = spec.projections[4]
    assert np.all(np.bincount(indegree.j) == 7)
    for target in range(30):  # distinct sources per target
        assert len(set(indegree.i[indegree.j == target])) == 7
    recurrent = spec.projections[1]
    assert not np.any(recurrent.i == recurrent.j)
    assert np.all(spec.projections[0].delays == pytest.approx(1e-4))  # default: one step


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda n: n.connect("nowhere", "cells", weight="1 nS", receptor="ampa"), "unknown source 'nowhere'"),
        (lambda n: n.connect("drive", "cells", weight="1 nS"), "name the receptor, one of ampa, gaba"),
        (lambda n: n.connect("drive", "cells", weight="1 nS", receptor="nmda"), "has no receptor 'nmda'"),
        (
            lambda n: n.connect("drive", "cells", "fixed_probability", weight="1 nS", receptor="ampa", p=2),
            "p must be from 0 to 1, got 2",
        ),
        (
            lambda n: n.connect("drive", "cells", "fixed_indegree", weight="1 nS", receptor="ampa", indegree=31),
            "indegree must be from 0 to 30, got 31",
        ),
        (lambda n: n.connect("drive", "cells", "random", weight="1 nS", receptor="ampa"), "unknown rule 'random'"),
        (
            lambda n: n.connect("drive", "cells", weight="1 pA", receptor="ampa").__class__ and n.spec("1 ms"),
            "has units of amp",
        ),
        (
            lambda n: n.connect("drive", "cells", weight="1 nS", delay="0.05 ms", receptor="ampa") and n.spec("1 ms"),
            "delays must be at least one time step (0.1 ms)",
        ),
        (lambda n: n.spike_source("early", [["0 ms"]]), "at least one time step (0.1 ms)"),
        (lambda n: n.record("cells", ["w"]), "cannot record 'w' from population 'cells'"),
        (
            lambda n: n.population("more", SYNAPTIC, 5, params={"V_th": {"gamma": [1, 2]}}) and n.spec("1 ms"),
            "a distribution is one of uniform, normal, lognormal",
        ),
        (lambda n: n.population("cells", SYNAPTIC, 5), "already has a population or source named 'cells'"),
        (lambda n: n.population("other", SYNAPTIC, 5, params={"V_thresh": "1 mV"}), "did you mean 'V_th'"),
        (lambda n: n.inject("cells", {"noise": {"mean": "1 pA"}}), "noise needs"),
    ],
)
def test_bad_network_input_is_refused_clearly(call, message):
    net = sn.Network(seed=1)
    net.population("cells", SYNAPTIC, 5)
    net.poisson("drive", 30, rate="10 Hz")
    with pytest.raises(sn.SourcedNeuronError) as info:
        call(net)
    assert message in str(info.value)


@pytest.mark.brian2
def test_network_block_structure_and_per_neuron_values():
    net = mixed_network()
    block = net.run("50 ms", backend="brian2")
    segment = block.segments[0]
    populations = [st.annotations["population"] for st in segment.spiketrains]
    assert populations.count("cells") == 40 and populations.count("drive") == 30
    assert [st.annotations["index"] for st in segment.spiketrains[:3]] == [0, 1, 2]
    assert all(st.t_stop == 50 * pq.ms and st.units == pq.ms for st in segment.spiketrains)
    signals = {s.annotations["variable"]: s for s in segment.analogsignals}
    assert set(signals) == {"v", "g_gaba"} and signals["v"].shape == (500, 40)
    assert signals["v"].units == pq.mV and signals["g_gaba"].units == pq.nS
    # v starts at each neuron's own E_L (initial: v = E_L, E_L drawn per neuron)
    drawn = mixed_network().spec("50 ms").populations[0].parameters["E_L"]  # a fresh network, the same seed
    np.testing.assert_allclose(signals["v"].magnitude[0], drawn * 1e3)
    assert 0.5e-3 < np.std(drawn) < 1.5e-3
    assert {s.name for s in segment.analogsignals} == {"cells.v", "cells.g_gaba"}
    assert block.annotations["backend"] == "brian2" and block.annotations["n_neurons"] == 40
    layout = structure(block)
    (cells,) = layout["populations"]
    assert (cells["name"], cells["size"], cells["model"], cells["per_neuron"]) == (
        "cells",
        40,
        "synaptic",
        ["E_L", "V_th"],
    )
    assert cells["stimulus"] == "noise, mean 150 pA, std 50 pA" and "V_th" not in cells["parameters"]
    assert cells["record"] == ["g_gaba", "v"] and cells["record_spikes"]
    sources = [(s["name"], s["size"], s["record_spikes"]) for s in layout["sources"]]
    assert sources == [("drive", 30, True), ("kick", 2, False)]
    gaba = next(p for p in layout["projections"] if p["receptor"] == "gaba")
    assert gaba == {
        "name": "cells->cells",
        "pre": "cells",
        "post": "cells",
        "receptor": "gaba",
        "synapse": "static",
        "count": 200,  # 40 neurons x indegree 5
        "recorded_synapses": 0,
    }
    assert [p["pre"] for p in layout["projections"]] == ["drive", "cells", "kick", "cells"]


@pytest.mark.nest
@pytest.mark.slow
def test_network_matches_on_brian2_and_nest():
    reason = backend_status()["nest"]
    if reason:
        pytest.skip(reason)
    runs = {}
    for backend in ("brian2", "nest"):
        segment = mixed_network().run("200 ms", backend=backend).segments[0]
        trains = [st.magnitude for st in segment.spiketrains if st.annotations["population"] == "cells"]
        signals = {s.annotations["variable"]: s.magnitude for s in segment.analogsignals}
        runs[backend] = trains, signals
    (trains_b, signals_b), (trains_n, signals_n) = runs["brian2"], runs["nest"]
    assert sum(map(len, trains_b)) > 100  # the network is active
    for x, y in zip(trains_b, trains_n, strict=True):
        assert len(x) == len(y)
        # the same printed step, the same connections and input: spike times identical up to the
        # rounding of their stamps
        np.testing.assert_allclose(x, y, rtol=0, atol=1e-9)
    np.testing.assert_allclose(signals_n["v"], signals_b["v"], rtol=0, atol=1e-9)  # mV: rounding only
    np.testing.assert_allclose(signals_n["g_gaba"], signals_b["g_gaba"], rtol=1e-9, atol=1e-12)  # nS


def two_model_network(seed=5):
    """Izhikevich and LIF populations connected both ways (each model has its own NEST module)."""
    net = sn.Network(seed=seed)
    net.population("izh", "izhikevich", 30, preset="rs")
    net.population("lif", "lif", 20, params={"v": {"uniform": ["-65 mV", "-55 mV"]}})
    net.poisson("drive", 40, rate="20 Hz")
    net.connect("drive", "izh", "fixed_indegree", indegree=10, weight="6 pA", receptor="exc")
    net.connect("drive", "lif", "fixed_indegree", indegree=10, weight="120 pA", receptor="exc")
    net.connect("izh", "lif", "fixed_probability", p=0.3, weight="40 pA", delay="1.2 ms", receptor="exc")
    net.connect("lif", "izh", "fixed_probability", p=0.3, weight="-4 pA", delay="0.8 ms", receptor="inh")
    net.record("izh", ["spikes", "v"])
    net.record("lif", ["spikes"])
    return net


@pytest.mark.nest
@pytest.mark.slow
def test_two_models_match_on_brian2_and_nest():
    reason = backend_status()["nest"]
    if reason:
        pytest.skip(reason)
    runs = {}
    for backend in ("brian2", "nest"):
        segment = two_model_network().run("200 ms", backend=backend).segments[0]
        runs[backend] = [st.magnitude for st in segment.spiketrains], segment.analogsignals[0].magnitude
    (trains_b, v_b), (trains_n, v_n) = runs["brian2"], runs["nest"]
    assert sum(map(len, trains_b[:30])) > 20 and sum(map(len, trains_b[30:])) > 20  # both populations fire
    for x, y in zip(trains_b, trains_n, strict=True):
        np.testing.assert_allclose(x, y, rtol=0, atol=1e-9)  # ms: identical up to stamp rounding
    np.testing.assert_allclose(v_n, v_b, rtol=0, atol=1e-6)  # mV: the same printed Euler step, rounding only


def brunel_network(n=400, seed=3):
    """Brunel's (2000) model A at a small size, in its AI state (g = 5, eta = 2): the network of
    examples/brunel.py (delta synapses, fixed in-degrees, a Poisson pool)."""
    path = Path(__file__).parents[1] / "examples" / "brunel.py"
    spec = importlib.util.spec_from_file_location("brunel_example", path)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    return example.build(n, g=5.0, eta=2.0, seed=seed)


@pytest.mark.nest
@pytest.mark.slow
def test_delta_network_gives_the_same_spikes_on_brian2_and_on_nest_with_any_thread_count(monkeypatch):
    """NEST's threads share the neurons out; each neuron still sums the same weights per step."""
    reason = backend_status()["nest"]
    if reason:
        pytest.skip(reason)
    runs = {}
    for backend, threads in (("brian2", "1"), ("nest", "1"), ("nest", "2")):
        monkeypatch.setenv("SOURCED_NEURON_THREADS", threads)
        segment = brunel_network().run("150 ms", backend=backend).segments[0]
        runs[backend, threads] = [st.magnitude for st in segment.spiketrains]
    reference = runs["brian2", "1"]
    assert sum(map(len, reference)) > 1_000  # the network is active
    for key in (("nest", "1"), ("nest", "2")):
        for x, y in zip(reference, runs[key], strict=True):
            np.testing.assert_allclose(x, y, rtol=0, atol=1e-9)  # ms: identical up to stamp rounding
