"""SourcedNeuron, topology and connectivity (functions 54-63, RunNetwork).

The network tests use models/lif.yaml: R_m = 100 Mohm and threshold 15 mV above rest, so a
constant drive below 150 pA never fires on its own; current ports ``exc`` (tau 5 ms) and
``inh`` (tau 8 ms)."""

from __future__ import annotations

import numpy as np
import pytest
import quantities as pq

from sourced_neuron import NeuronModel, backend_status
from sourced_neuron.analysis.measures import spike_trains
from sourced_neuron.common.errors import InputError
from sourced_neuron.wrapper import SourcedNeuron


def lif(name: str, bias: float = 0.0) -> SourcedNeuron:
    """A LIF neuron driven by ``bias * 100 pA``."""
    return SourcedNeuron("lif", name=name).SetBias(bias)


def spikes(block, neuron: SourcedNeuron) -> np.ndarray:
    (train,) = spike_trains(block, neuron.id)
    return train.rescale(pq.ms).magnitude


def test_bind_excite_inhibit_and_unbind_keep_both_ends_in_step(lif_text):
    a, b, c = lif("a"), lif("b"), lif("c")
    with pytest.raises(InputError, match="cannot bind to itself"):
        a.BindTo(a)
    with pytest.raises(InputError, match="BindTo: argument 'peer' expects a SourcedNeuron"):
        a.BindTo("b")
    no_ports = SourcedNeuron(NeuronModel.from_yaml(lif_text), name="plain")
    with pytest.raises(InputError, match="no receptor ports"):
        a.Excite(no_ports)
    with pytest.raises(InputError, match="port 'exc'"):
        a.BindTo(b, "5 nS")  # a current port takes amps
    assert a.GetSynCount() == 0 and b.GetSynCount() == 0  # nothing half-applied

    assert a.BindTo(b, "150 pA", delay="2 ms") is a
    (out,) = a.GetLinks()
    (into,) = b.GetLinks()
    assert (out["pre"], out["post"], out["direction"], out["receptor"]) == ("a", "b", "out", "exc")
    assert into["direction"] == "in" and float(into["weight"].rescale(pq.pA)) == pytest.approx(150)
    assert float(out["delay"].rescale(pq.ms)) == pytest.approx(2)
    a.BindTo(b, 40)  # again: the weight is updated (plain numbers in pA), the delay kept
    assert a.GetSynCount() == 1 and b.GetSynCount() == 1
    assert float(b.GetLinks()[0]["weight"]) == pytest.approx(40) and float(b.GetLinks()[0]["delay"]) == 2
    a.BindTo(b, "-30 pA")  # a negative weight goes onto the inhibitory port
    assert a.GetLinks()[0]["receptor"] == "inh"

    c.Excite(a, "-70 pA")  # the magnitude excites
    a.Inhibit(b, "90 pA")  # the magnitude inhibits: a negative current
    weights = {(k["pre"], k["post"]): (k["receptor"], float(k["weight"])) for k in a.GetLinks()}
    assert weights == {("a", "b"): ("inh", pytest.approx(-90)), ("c", "a"): ("exc", pytest.approx(70))}
    assert a.GetSynCount() == 2 and c.GetSynCount() == 1  # outgoing + incoming

    b.BindTo(a, "10 pA")  # a pair bound both ways: two links
    assert a.GetSynCount() == 3
    a.Unbind(b)  # severs both directions
    assert a.GetSynCount() == 1 and b.GetSynCount() == 0
    with pytest.raises(InputError, match="not bound"):
        a.Unbind(b)


def test_conductance_ports_take_the_magnitude():
    source, target = lif("source"), SourcedNeuron("hh", name="target")
    source.Inhibit(target, "4 nS")
    (link,) = source.GetLinks()
    assert link["receptor"] == "inh" and float(link["weight"].rescale(pq.nS)) == pytest.approx(-4)
    with pytest.raises(InputError, match="conductance is positive"):
        source.BindTo(target, "-2 nS", receptor="exc")
    source.BindTo(target, "3 nS", receptor="exc")
    assert source.GetLinks()[0]["receptor"] == "exc" and float(source.GetLinks()[0]["weight"]) == pytest.approx(3)


def test_synapse_prune_and_prune_orphan():
    a, b, c, d = lif("a"), lif("b"), lif("c"), lif("d")
    a.BindTo(b, "20 pA").BindTo(c, "300 pA")
    d.Inhibit(a, "100 pA")
    with pytest.raises(InputError, match="threshold"):
        a.SynapsePrune("1 mV")
    assert a.GetSynCount() == 3  # the refused prune removed nothing
    assert a.SynapsePrune("50 pA") == 1  # a -> b (20 pA)
    assert b.GetSynCount() == 0 and a.GetSynCount() == 2
    assert a.SynapsePrune(150) == 1  # d -> a: |-100 pA| < 150 pA (a plain number is in pA)
    assert [(k["pre"], k["post"]) for k in a.GetLinks()] == [("a", "c")]
    assert a.SynapsePrune(0) == 0

    assert a.PruneOrphan() is False and not a.detached
    b.SetLayer(4)
    assert b.PruneOrphan() is True and b.detached
    assert b.GetLayer() == 0  # its override went with it
    with pytest.raises(InputError, match="pruned"):
        a.BindTo(b)
    with pytest.raises(InputError, match="pruned"):
        b.BindTo(a)
    a.Unbind(c)
    assert a.PruneOrphan() is True and c.PruneOrphan() is True


def test_layers_positions_and_distances():
    a, b, c, d = lif("a"), lif("b"), lif("c"), lif("d")
    a.BindTo(b)
    b.BindTo(c)
    d.BindTo(c)
    assert [n.GetLayer() for n in (a, b, c, d)] == [0, 1, 2, 0]  # the longest chain to c is a -> b -> c
    # grid: x = layer, y = index among the layer's neurons (ordered by ID), 100 µm apart
    np.testing.assert_allclose(a.MapTopology().rescale(pq.um).magnitude, [0, 0, 0])
    np.testing.assert_allclose(d.MapTopology().rescale(pq.um).magnitude, [0, 100, 0])
    np.testing.assert_allclose(c.MapTopology().rescale(pq.um).magnitude, [200, 0, 0])
    assert float(d.DistanceTo(c).rescale(pq.um)) == pytest.approx(np.hypot(200, 100))

    b.SetLayer(5)  # an explicit layer, and the layers after it follow
    assert (a.GetLayer(), b.GetLayer(), c.GetLayer()) == (0, 5, 6)
    b.SetLayer(None)
    assert c.GetLayer() == 2
    c.BindTo(a)  # a cycle a -> b -> c -> a, fed by d: the cycle is one layer after d
    assert [n.GetLayer() for n in (a, b, c, d)] == [1, 1, 1, 0]
    with pytest.raises(InputError, match="non-negative integer"):
        a.SetLayer(-1)

    a.SetPosition([30, 40, 0])
    b.SetPosition(["0 um", "0 um", "0.12 mm"])
    np.testing.assert_allclose(b.MapTopology().rescale(pq.um).magnitude, [0, 0, 120])
    assert float(a.DistanceTo(b).rescale(pq.um)) == pytest.approx(np.sqrt(30**2 + 40**2 + 120**2))
    assert a.DistanceTo(b) == b.DistanceTo(a)
    a.SetPosition(np.array([0.3, 0.0, 0.4]) * pq.mm)
    assert float(a.DistanceTo(lif("far").SetPosition([0, 0, 0])).rescale(pq.um)) == pytest.approx(500)
    with pytest.raises(InputError, match="three"):
        a.SetPosition([1, 2])
    with pytest.raises(InputError, match="lengths"):
        a.SetPosition(np.array([1, 2, 3]) * pq.mV)
    with pytest.raises(InputError, match="SourcedNeuron"):
        a.DistanceTo([0, 0, 0])


@pytest.mark.brian2
def test_excitation_makes_a_subthreshold_target_fire_and_unbind_restores():
    source, target = lif("source", 3.0), lif("target", 1.0)  # 300 pA fires; 100 pA does not
    alone = target.RunNetwork("100 ms")
    assert len(spikes(alone, target)) == 0
    (v_alone,) = [s for s in alone.segments[0].analogsignals if s.annotations["population"] == "target"]
    assert float(v_alone.max().rescale(pq.mV)) < -55 + 1e-6  # the steady state E_L + R I

    source.Excite(target, "200 pA")
    bound = source.RunNetwork("100 ms", backend="brian2")
    fired, drive = spikes(bound, target), spikes(bound, source)
    assert len(drive) >= 10 and len(fired) >= 3
    assert fired[0] > drive[0] + 1.0  # the target fires after the source's spikes arrive (1 ms delay)
    assert bound.annotations["neurons"] == ["source: source", "target: target"]
    assert {s.name for s in bound.segments[0].analogsignals} == {"source.v", "target.v"}
    assert len(target.run_network("100 ms").segments[0].spiketrains) == 2  # from either end

    source.Unbind(target)
    assert len(spikes(target.RunNetwork("100 ms"), target)) == 0


@pytest.mark.brian2
def test_inhibition_lowers_the_target_rate_and_the_network_starts_from_the_present_state():
    source, target = lif("source", 4.0), lif("target", 3.0)
    alone = spikes(target.RunNetwork("150 ms"), target)
    source.Inhibit(target, "400 pA")
    run = source.RunNetwork("150 ms")
    inhibited = spikes(run, target)
    assert len(alone) >= 12 and len(inhibited) < len(alone) / 2
    # the link acts one way: the source fires as it would alone (ISI 2 + 10 ln(40/25) ms)
    np.testing.assert_allclose(np.diff(spikes(run, source)), 2 + 10 * np.log(40 / 25), atol=0.11)

    source.Unbind(target)
    target.Integrate("3 ms")  # the network continues from the state at t, the neuron stays at t
    v_now = float(target.GetState()["v"].rescale(pq.mV))
    block = target.RunNetwork("1 ms")
    assert float(block.segments[0].analogsignals[0][0, 0].rescale(pq.mV)) == pytest.approx(v_now, abs=1e-9)
    assert target.t == pytest.approx(3e-3)


@pytest.mark.nest
@pytest.mark.slow
def test_excitation_on_nest_matches_brian2():
    reason = backend_status()["nest"]
    if reason:
        pytest.skip(reason)
    source, target = lif("source", 3.0), lif("target", 1.0)
    source.Excite(target, "200 pA", delay="1.5 ms")
    runs = {backend: source.RunNetwork("100 ms", backend=backend) for backend in ("brian2", "nest")}
    fired = {backend: spikes(block, target) for backend, block in runs.items()}
    assert len(fired["nest"]) >= 3
    np.testing.assert_allclose(fired["nest"], fired["brian2"], atol=1e-6)
    source.Unbind(target)
    assert len(spikes(target.RunNetwork("100 ms", backend="nest"), target)) == 0
