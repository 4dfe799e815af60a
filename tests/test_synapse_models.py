"""Synapse models (models/synapses/): the file checks, their dynamics against closed forms on
Brian2, and the same weight trajectories on Brian2 (runtime and C++ standalone) and NEST.

The weight a projection records is the one each presynaptic spike transmits, at its emission
(docs/semantics.md, "Plastic synapses"). Postsynaptic spikes here are made by kicks through a
delta port, so their times are known; the plastic synapses end on a current port with weights
far too small to make a spike.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

import sourced_neuron as sn
from sourced_neuron.backends import backend_status
from sourced_neuron.common.errors import InputError, ModelError, UnitError
from sourced_neuron.spec.synapses import build_synapse, library_synapses, load_synapse

SYNAPTIC = Path(__file__).parent / "models" / "valid" / "synaptic.yaml"
DT = 1e-4


def _network(synapse, params, pre_times, kick_times, delay="1.3 ms", weight="40 pA", size=2):
    """``size`` cells, each kicked to spike at ``kick_times[k]``; ``pre`` sources all-to-all onto
    them through the plastic synapse (port ``bias``), weights recorded."""
    net = sn.Network(seed=3)
    net.population("cells", SYNAPTIC, size)
    net.spike_source("pre", [[f"{t * 1e3} ms" for t in train] for train in pre_times])
    net.spike_source("kick", [[f"{t * 1e3} ms" for t in train] for train in kick_times])
    net.connect("kick", "cells", "one_to_one", weight="30 mV", delay="0.1 ms", receptor="jump")
    net.connect(
        "pre", "cells", "all_to_all", weight=weight, delay=delay, receptor="bias", synapse=(synapse, params), name="p"
    )
    net.record("p", "weights")
    net.record("cells")
    return net


def _weights(block):
    event = next(e for e in block.segments[0].events if e.name == "p.weights")
    return (
        event.times.rescale("s").magnitude,
        np.asarray(event.array_annotations["synapse"]),
        np.asarray(event.array_annotations["weight"]),
        np.asarray(event.annotations["final_weight"]),
    )


def _spikes(block, population="cells"):
    trains = block.segments[0].spiketrains
    return [st.rescale("s").magnitude for st in trains if st.annotations["population"] == population]


# --- the files ---------------------------------------------------------------------------


def test_library_synapse_models_load():
    assert set(library_synapses()) >= {"static", "stdp_additive", "stdp_multiplicative", "tsodyks_markram"}
    assert load_synapse("static").is_static
    stdp = load_synapse("stdp_additive")
    assert stdp.variables == ("apre", "apost") and stdp.weight_parameters == ("w_max",)
    assert dict(load_synapse("tsodyks_markram").initial) == {"x": "1", "u": "0"}


GOOD = """\
name: mine
parameters: {tau: 10 ms, A: 0.1, w_max: weight}
equations: ["dtr/dt = -tr / tau : 1"]
on_pre: ["tr += A", "w = clip(w + tr * w_max, 0 * w_max, w_max)"]
"""


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name: x\nbogus: 1\n", "unknown key 'bogus'"),
        ("parameters: {}\n", "missing required key 'name'"),
        (GOOD.replace("tr", "x_pre"), "ends in _pre or _post"),
        (GOOD.replace('"tr += A"', '"A += tr"'), "assigns to parameter 'A'"),
        (GOOD.replace('"tr += A"', '"tr += B"'), "undefined name 'B'"),
        (GOOD.replace('"tr += A"', '"tr += 1 * mV"'), "tr has units of 1"),
        (GOOD.replace('"tr += A"', "\"tr += __import__('os')\""), "__import__"),
        (GOOD + "transmit: tr\n", "transmit 'tr' has units of 1"),
        (GOOD.replace("A: 0.1", "A: 0.1, B: 2"), "parameter 'B' is never used"),
        (GOOD + "initial: {w: 1}\n", "initial value for 'w'"),
        (GOOD.replace("-tr / tau", "-tr"), "equation of tr"),
    ],
)
def test_bad_synapse_files_are_refused_with_the_reason(text, message):
    with pytest.raises(ModelError, match=message):
        build_synapse(text, "mine.yaml")


def test_connect_checks_the_synapse_against_the_receptor_and_its_parameters():
    net = sn.Network()
    net.population("cells", SYNAPTIC, 2)
    net.spike_source("pre", [["1 ms"]])
    with pytest.raises(InputError, match="needs 'w_max'"):
        net.connect("pre", "cells", weight="1 pA", receptor="bias", synapse="stdp_additive")
    with pytest.raises(UnitError, match="w_max"):
        net.connect("pre", "cells", weight="1 pA", receptor="bias", synapse=("stdp_additive", {"w_max": "1 nS"}))
    with pytest.raises(InputError, match="no parameter 'tau_pre'"):
        net.connect("pre", "cells", weight="1 pA", receptor="bias", synapse=("tsodyks_markram", {"tau_pre": 1}))
    with pytest.raises(InputError, match="no library synapse model 'stdp'"):
        net.connect("pre", "cells", weight="1 pA", receptor="bias", synapse="stdp")
    current_only = build_synapse("name: bump\non_pre: ['w = w + 1 * pA']\n")
    with pytest.raises(InputError, match="does not fit a receptor with weights in siemens"):
        net.connect("pre", "cells", weight="1 nS", receptor="ampa", synapse=current_only)
    net.connect("pre", "cells", weight="1 pA", receptor="bias", synapse=current_only, name="ok")
    with pytest.raises(InputError, match="records 'weights' only"):
        net.record("ok", "w")
    with pytest.raises(InputError, match="new, non-empty string"):
        net.connect("pre", "cells", weight="1 pA", receptor="bias", name="ok")


# --- dynamics against closed forms (Brian2) ------------------------------------------------


@pytest.mark.brian2
def test_additive_stdp_follows_the_pair_rule():
    """One pre spike, one post spike 5 ms later, another pre spike: potentiation with tau_plus
    (16.8 ms), then depression with tau_minus (33.7 ms), both relative to the post spike as the
    synapse sees it (dendritic delay d)."""
    d = 1.3e-3
    block = _network("stdp_additive", {"w_max": "100 pA"}, [[0.010, 0.040]], [[0.014]], delay="1.3 ms", size=1).run(
        "60 ms", "brian2"
    )
    (t_post,) = _spikes(block)[0]
    times, synapse, weights, final = _weights(block)
    np.testing.assert_allclose(times, [0.010, 0.040], atol=1e-12)
    assert list(synapse) == [0, 0]
    w_max, w0 = 100.0, 40.0  # pA
    seen = t_post + d
    potentiated = w0 + 0.01 * w_max * math.exp(-(seen - 0.010) / 16.8e-3)
    depressed = potentiated - 0.0053 * w_max * math.exp(-(0.040 - seen) / 33.7e-3)
    # pA; the formula and Brian2 round differently (1e-12 relative)
    np.testing.assert_allclose(weights, [w0, depressed], rtol=1e-12)
    assert depressed != pytest.approx(w0, abs=0.1)  # the trajectory moved
    np.testing.assert_allclose(final, [depressed], rtol=1e-12)


@pytest.mark.brian2
def test_tsodyks_markram_transmits_u_times_x_times_w():
    """A regular 25 Hz train: the transmitted weight follows the release recursion, with
    facilitation (tau_fac 600 ms) and recovery (tau_rec 200 ms) not interchangeable."""
    train = [0.005 + 0.04 * k for k in range(8)]
    block = _network("tsodyks_markram", {}, [train], [[0.5]], size=1).run("400 ms", "brian2")
    _, _, weights, _ = _weights(block)
    u, x, expected, last = 0.0, 1.0, [], None
    for t in train:
        if last is not None:
            u *= math.exp(-(t - last) / 0.6)
            x = 1 - (1 - x) * math.exp(-(t - last) / 0.2)
        u += 0.2 * (1 - u)
        r = u * x
        x -= r
        expected.append(r * 40.0)  # pA
        last = t
    np.testing.assert_allclose(weights, expected, rtol=1e-12)  # rounding of the same arithmetic only
    assert expected[1] > expected[0]  # facilitation first, then depression wins
    assert expected[-1] < expected[1]


# --- the same trajectories on every backend --------------------------------------------------

PRE = [[0.005, 0.0302, 0.061, 0.0905, 0.121, 0.150], [0.012, 0.0431, 0.0707, 0.1003, 0.1301, 0.1558]]
# post spikes before and after the arrivals, and one whose delayed sighting (kick 0.1 ms,
# spike one step later, dendritic delay 1.3 ms) coincides with a presynaptic emission
KICKS = [[0.0153, 0.0255, 0.046, 0.082, 0.1105, 0.142], [0.008, 0.047, 0.075, 0.097, 0.1286]]
CASES = [
    ("stdp_additive", {"w_max": "100 pA"}),
    ("stdp_multiplicative", {"w_max": "100 pA", "A_plus": 0.05}),
    ("tsodyks_markram", {"U": 0.45}),
]


def _trajectory(backend, synapse, params):
    block = _network(synapse, params, PRE, KICKS).run("200 ms", backend)
    return _weights(block), _spikes(block)


@pytest.fixture(scope="module")
def reference():
    return {name: _trajectory("brian2", name, params) for name, params in CASES}


@pytest.mark.brian2
def test_the_reference_trajectories_change(reference):
    for (_, synapse, weights, _), _ in reference.values():
        assert len(weights) == 24
        for k in range(4):
            assert np.ptp(weights[synapse == k]) > 0.3  # pA: every synapse changes


@pytest.mark.nest
@pytest.mark.slow
@pytest.mark.parametrize(("synapse", "params"), CASES, ids=[c[0] for c in CASES])
def test_weight_trajectories_match_on_nest(reference, synapse, params):
    reason = backend_status()["nest"]
    if reason:
        pytest.skip(reason)
    (times, index, weights, final), spikes = _trajectory("nest", synapse, params)
    (ref_times, ref_index, ref_weights, ref_final), ref_spikes = reference[synapse]
    np.testing.assert_array_equal(index, ref_index)
    np.testing.assert_allclose(times, ref_times, rtol=0, atol=1e-12)  # s: the same steps (stamps round)
    # the same printed update on both: the weights agree to rounding (measured 3e-14 pA)
    np.testing.assert_allclose(weights, ref_weights, rtol=1e-9)
    # no postsynaptic spike reaches a synapse after its last presynaptic one, so NEST's lazily
    # updated final weights are the final weights
    np.testing.assert_allclose(final, ref_final, rtol=1e-9)
    for a, b in zip(spikes, ref_spikes, strict=True):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-9)


@pytest.mark.brian2
@pytest.mark.slow
def test_weight_trajectories_match_on_brian2_cpp(reference):
    reason = backend_status()["brian2-cpp"]
    if reason:
        pytest.skip(reason)
    name, params = CASES[0]
    (times, index, weights, final), _ = _trajectory("brian2-cpp", name, params)
    (ref_times, ref_index, ref_weights, ref_final), _ = reference[name]
    np.testing.assert_array_equal(index, ref_index)
    np.testing.assert_allclose(times, ref_times, rtol=0, atol=1e-12)
    np.testing.assert_allclose(weights, ref_weights, rtol=1e-12)  # compiled C++ vs NumPy: rounding only
    np.testing.assert_allclose(final, ref_final, rtol=1e-12)


@pytest.mark.brian2
def test_static_synapse_is_the_default_connection():
    runs = []
    for synapse in (None, "static"):
        net = sn.Network(seed=3)
        net.population("cells", SYNAPTIC, 2)
        net.spike_source("pre", [["5 ms", "9 ms"]])
        net.connect("pre", "cells", weight="300 pA", receptor="bias", synapse=synapse, name="p")
        net.record("p", "weights")
        net.record("cells", ["v"])
        block = net.run("30 ms", "brian2")
        runs.append((block.segments[0].analogsignals[0].magnitude, _weights(block)))
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    np.testing.assert_allclose(runs[0][1][2], [300.0] * 4)  # pA, 2 spikes x 2 synapses


@pytest.mark.brian2
def test_recording_some_synapses_keeps_their_events_and_every_final_weight(reference):
    net = _network(*CASES[0], PRE, KICKS)
    net.record("p", "weights", synapses=[3, 1])
    times, index, weights, final = _weights(net.run("200 ms", "brian2"))
    (ref_times, ref_index, ref_weights, ref_final), _ = reference[CASES[0][0]]
    keep = np.isin(ref_index, [1, 3])
    np.testing.assert_array_equal(index, ref_index[keep])
    np.testing.assert_array_equal(times, ref_times[keep])
    np.testing.assert_array_equal(weights, ref_weights[keep])
    np.testing.assert_array_equal(final, ref_final)
    with pytest.raises(InputError, match="synapses 0 to 3"):
        net.record("p", "weights", synapses=[4])
