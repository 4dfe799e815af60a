"""SourcedNeuron, data persistence and I/O (functions 76-85): saving and loading, activity
logs, streamed input, weight listeners, hidden state, JSON, CSV and the signal-flow audit."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import quantities as pq

from sourced_neuron.common.errors import InputError
from sourced_neuron.wrapper import SourcedNeuron
from sourced_neuron.wrapper.persistence import FORMAT_VERSION


def trained(tmp_path=None) -> SourcedNeuron:
    """A neuron with every saved setting away from its default, and some history."""
    neuron = SourcedNeuron("lif", n_inputs=3, activation="tanh", current_scale="150 pA", seed=5, name="cell_a")
    neuron.SetWeight([2.5, -0.75, 1.25]).SetBias(0.4).ScaleInput(1.5).BiasShift(0.2)
    neuron.NormBatch([[0.0, 1.0, 2.0], [2.0, 5.0, 2.0]])
    neuron.DropOut(0.1).SynapticDelay("0.5 ms")
    neuron.SetLR(0.05).AdamOpt(beta1=0.8)
    neuron.ProcInput([1.0, 2.0, 3.0])
    neuron.SetTarget(0.3).BackProp().UpdWeight().UpdBias()
    neuron.Integrate("12 ms")
    neuron.ProcInput([2.0, 1.0, 4.0])
    neuron.Integrate("18 ms")
    return neuron


@pytest.mark.brian2
def test_save_and_load_restore_everything(tmp_path):
    neuron = trained()
    path = neuron.SaveModel(tmp_path / "cell.json")
    assert path == tmp_path / "cell.json" and not list(tmp_path.glob(".cell.json.*"))  # no temporary left
    saved = json.loads(path.read_text())
    assert saved["format_version"] == FORMAT_VERSION and saved["id"] == "cell_a"
    assert saved["learning"]["optimizer"] == {"name": "adam", "beta1": 0.8, "beta2": 0.999, "eps": 1e-8}
    assert saved["learning"]["learning_rate"] == 0.05 and saved["history"]["steps"] == [120, 180]

    loaded = SourcedNeuron.LoadModel(path)  # on the class: a new neuron
    assert isinstance(loaded, SourcedNeuron) and loaded is not neuron
    other = SourcedNeuron("izhikevich", n_inputs=5)
    assert other.LoadModel(path) is other  # on an instance: restores into it
    for twin in (loaded, other):
        assert twin.ExportJSON() == neuron.ExportJSON()
        assert twin.id == "cell_a" and twin.model == neuron.model and twin.activation == "tanh"
        np.testing.assert_array_equal(twin.weights, neuron.weights)
        assert twin.bias == neuron.bias and twin.optimizer == neuron.optimizer
        np.testing.assert_array_equal(twin._opt_state["weights"]["m"], neuron._opt_state["weights"]["m"])
        assert twin.t == pytest.approx(0.030)
        np.testing.assert_array_equal(twin.spike_times(), neuron.spike_times())
        assert twin.output() == neuron.output()
    assert len(neuron.spike_times()) >= 2
    # the two go on identically, random draws included, and reset to the same initial state
    for n in (neuron, loaded):
        n.Integrate("10 ms")
    np.testing.assert_array_equal(loaded.spike_times(), neuron.spike_times())
    assert loaded.rng.random() == neuron.rng.random()
    assert float(loaded.ResetNeu().GetState()["v"]) == float(neuron.ResetNeu().GetState()["v"]) == -65.0


@pytest.mark.brian2
def test_load_after_a_parameter_change_keeps_the_state(tmp_path):
    neuron = SourcedNeuron("lif", n_inputs=1).SetWeight([3.0])
    neuron.ProcInput([1.0])
    neuron.Integrate("8 ms").Refractory("4 ms").Integrate("9 ms")  # two epochs
    loaded = SourcedNeuron.LoadModel(neuron.SaveModel(tmp_path / "n.json"))
    assert loaded.t == pytest.approx(0.009)  # its clock starts at the parameter change
    assert loaded.ExportJSON() == neuron.ExportJSON()
    assert float(loaded.GetState()["v"]) == pytest.approx(float(neuron.GetState()["v"]))
    assert loaded.Refractory() == 4 * pq.ms
    assert float(loaded.ResetNeu().GetState()["v"]) == -65.0


def test_load_refuses_bad_files_and_changes_nothing(tmp_path):
    neuron = SourcedNeuron("lif", n_inputs=2, name="keep").SetWeight([0.25, 0.5])
    before = neuron.ExportJSON()
    good = json.loads(SourcedNeuron("lif", n_inputs=2, name="other").SetWeight([9.0, 8.0]).ExportJSON())

    def refused(content, match):
        path = tmp_path / "bad.json"
        path.write_text(content if isinstance(content, str) else json.dumps(content))
        with pytest.raises(InputError, match=match) as error:
            neuron.LoadModel(path)
        assert "bad.json" in str(error.value)
        assert neuron.ExportJSON() == before

    refused({**good, "format_version": 2}, "format version 2")
    refused(json.dumps(good)[:300], "invalid or truncated JSON")
    refused([1, 2], "not a saved neuron")
    refused({**good, "weights": ["a", 1]}, "'weights'")
    refused({**good, "weights": [1.0, 2.0], "inputs": [1.0, 2.0, 3.0]}, r"'inputs' has shape \(3,\)")
    refused(json.dumps({**good, "bias": 1.0}).replace('"bias": 1.0', '"bias": NaN'), "NaN")
    refused({**good, "backend": "neuron9"}, "'backend'")
    refused({**good, "activation": "cubic"}, "'activation'")
    refused({**good, "dropout": 1.0}, "'dropout'")
    refused({**good, "history": {**good["history"], "steps": [3], "currents_A": []}}, "history.currents_A")
    refused({**good, "model_yaml": "!!python/object/apply:os.system ['echo hacked']"}, "'model_yaml'")
    wrong_unit = re.sub(r"(tau_m:\s*(?:value:\s*)?)10 ms", r"\g<1>10 mV", good["model_yaml"])  # either layout
    assert wrong_unit != good["model_yaml"]
    refused({**good, "model_yaml": wrong_unit}, "model_yaml")
    refused({**good, "learning": {"learning_rate": -1}}, "learning.learning_rate")
    missing = dict(good)
    del missing["bias"]
    refused(missing, "'bias' is missing")
    with pytest.raises(InputError, match="LoadModel: a saved neuron: no such file"):
        neuron.LoadModel(tmp_path / "absent.json")


def test_export_json_round_trip(tmp_path):
    neuron = SourcedNeuron("adex", n_inputs=2, activation="elu(a=0.5)", name="web_1").SetWeight([0.3, -0.6])
    neuron.SetPrecision("float32")
    text = neuron.ExportJSON()
    data = json.loads(text)
    assert data["id"] == "web_1" and data["model"] == "adex" and data["dtype"] == "float32"
    assert data["weights"] == [pytest.approx(0.3), pytest.approx(-0.6)] and data["activation"] == "elu(a=0.5)"
    assert data["current_scale_A"] == pytest.approx(100e-12)
    (tmp_path / "web.json").write_text(text)
    twin = SourcedNeuron.load_model(tmp_path / "web.json")  # the PEP 8 alias, on the class
    assert twin.ExportJSON() == text and twin.weights.dtype == np.float32
    assert json.loads(neuron.ExportJSON(indent=2)) == data


@pytest.mark.brian2
def test_log_activity_is_the_history_since_reset():
    neuron = SourcedNeuron("lif", n_inputs=2, name="logged").SetWeight([3.0, 0.5]).SetBias(-0.2)
    neuron.ProcInput([1.0, 1.0])
    neuron.Integrate("40 ms")
    block = neuron.LogActivity()
    segment = block.segments[0]
    (train,) = segment.spiketrains
    np.testing.assert_allclose(train.rescale(pq.s).magnitude, neuron.spike_times())
    assert len(train) >= 2 and float(train.t_stop.rescale(pq.ms)) == pytest.approx(40.0)
    assert [s.name for s in segment.analogsignals] == ["v", "I_exc", "I_inh"]
    v = segment.analogsignals[0]
    assert v.shape == (401, 1) and float(v[-1, 0]) == pytest.approx(float(neuron.GetState()["v"]))
    assert block.annotations["neuron"] == "logged" and block.annotations["weights"] == [3.0, 0.5]
    assert block.annotations["bias"] == -0.2
    empty = neuron.ResetNeu().LogActivity()
    assert len(empty.segments[0].spiketrains[0]) == 0


@pytest.mark.brian2
def test_stream_in_overflow_policies_and_flush():
    neuron = SourcedNeuron("lif", n_inputs=2)
    assert neuron.StreamIn([[1.0, 0.0], [2.0, 0.0]], capacity=3) == 2
    assert neuron.StreamIn([[3.0, 0.0], [4.0, 0.0]]) == 3  # drop_oldest: [1, 0] went
    assert neuron.stream_dropped == 1
    assert [x[0] for x in neuron._queue] == [2.0, 3.0, 4.0]
    assert neuron.StreamIn([5.0, 0.0], overflow="drop_newest") == 3
    assert [x[0] for x in neuron._queue] == [2.0, 3.0, 4.0] and neuron.stream_dropped == 2
    with pytest.raises(InputError, match="buffer is full"):
        neuron.StreamIn([6.0, 0.0], overflow="error")
    with pytest.raises(InputError, match=r"StreamIn: argument 'data' must have shape \(2,\) or \(rows, 2\)"):
        neuron.StreamIn([[1.0, 2.0, 3.0]])
    with pytest.raises(InputError, match=r"StreamIn: argument 'data' must hold finite numbers .* at index 1, 0"):
        neuron.StreamIn([[1.0, 2.0], [np.nan, 0.0]], capacity=10)
    with pytest.raises(InputError, match="capacity 2 is below"):
        neuron.StreamIn(capacity=2)
    with pytest.raises(InputError, match="overflow"):
        neuron.StreamIn(overflow="wrap")
    assert len(neuron._queue) == 3 and neuron._queue_overflow == "drop_newest"  # refusals changed nothing
    assert neuron.FlushQueue(apply=False) == 3 and not neuron._queue and neuron.t == 0.0

    streamed = SourcedNeuron("lif", n_inputs=2).SetWeight([1.0, 2.0])
    assert streamed.StreamIn(x for x in ([2.5, 0.0], [0.0, 0.5], [1.0, 1.0])) == 3
    assert streamed.FlushQueue(duration="10 ms") == 3 and streamed.t == pytest.approx(0.030)
    by_hand = SourcedNeuron("lif", n_inputs=2).SetWeight([1.0, 2.0])
    for x in ([2.5, 0.0], [0.0, 0.5], [1.0, 1.0]):
        by_hand.ProcInput(x)
        by_hand.Integrate("10 ms")
    np.testing.assert_array_equal(streamed.spike_times(), by_hand.spike_times())
    assert len(streamed.spike_times()) >= 1
    np.testing.assert_array_equal(streamed.inputs, [1.0, 1.0])
    assert streamed.FlushQueue() == 0


def test_watch_weight_reports_sudden_changes():
    neuron = SourcedNeuron("lif", n_inputs=3)
    seen = []
    neuron.WatchWeight(seen.append, threshold=0.5)
    neuron.SetWeight([0.2, 0.0, -0.1])  # small: no alert
    assert seen == [] and neuron.weight_alerts == []
    neuron.SetWeight([0.2, 1.5, -0.9])
    (alert,) = seen
    np.testing.assert_array_equal(alert["indices"], [1, 2])
    np.testing.assert_allclose(alert["old"], [0.0, -0.1])
    np.testing.assert_allclose(alert["new"], [1.5, -0.9])
    assert alert["max_change"] == pytest.approx(1.5) and alert["neuron"] == neuron.id
    neuron.weights[0] = 7.0  # changed behind the API's back: the check finds it
    (direct,) = neuron.CheckWatchers()
    np.testing.assert_array_equal(direct["indices"], [0])
    assert len(seen) == 2 and neuron.weight_alerts == seen
    assert neuron.CheckWatchers() == []  # nothing new since the last check
    neuron.WatchWeight(seen.append, remove=True).SetWeight([0.0, 0.0, 0.0])
    assert len(seen) == 2
    with pytest.raises(InputError, match="threshold"):
        neuron.WatchWeight(threshold=-1)
    with pytest.raises(InputError, match="callable"):
        neuron.WatchWeight("print")


@pytest.mark.brian2
def test_latent_state_is_the_hidden_variables():
    neuron = SourcedNeuron("izhikevich", n_inputs=2).SetWeight([0.1, 0.05]).SetBias(0.02)
    neuron.ProcInput([1.0, 2.0])
    neuron.Integrate("5 ms")
    hidden = neuron.LatentState()
    state = neuron.GetState()
    assert "v" not in hidden and set(hidden) == {"u", "I_exc", "I_inh", "z"}
    assert float(hidden["u"]) == pytest.approx(float(state["u"])) and hidden["u"].units == state["u"].units
    assert float(hidden["u"].rescale(pq.mV)) != pytest.approx(-13.0)  # u moved from b * v
    assert hidden["z"] == pytest.approx(0.1 * 1 + 0.05 * 2 + 0.02)


def test_import_csv(tmp_path):
    neuron = SourcedNeuron("lif", n_inputs=3).SetBias(0.7)
    path = tmp_path / "w.csv"
    path.write_text("w_x,w_y,w_z\n0.5,-0.25,2\n")
    np.testing.assert_array_equal(neuron.ImportCSV(path).weights, [0.5, -0.25, 2.0])
    assert neuron.bias == 0.7
    path.write_text("# exported\nw_x,bias,w_y,w_z\n1,0.3,2,3\n")
    neuron.ImportCSV(path)
    np.testing.assert_array_equal(neuron.weights, [1.0, 2.0, 3.0])
    assert neuron.bias == 0.3
    path.write_text("4\n5\n6\n")  # a column vector (numpy.savetxt of a vector)
    np.testing.assert_array_equal(neuron.ImportCSV(path).weights, [4.0, 5.0, 6.0])
    path.write_text("1,2,3\n7,8,9\n")  # a matrix: one neuron per row
    np.testing.assert_array_equal(neuron.ImportCSV(path, row=1).weights, [7.0, 8.0, 9.0])
    with pytest.raises(InputError, match=r"choose one with row=0\.\.1"):
        neuron.ImportCSV(path)

    def refused(text, match, **kwargs):
        path.write_text(text)
        with pytest.raises(InputError, match=match):
            neuron.ImportCSV(path, **kwargs)
        np.testing.assert_array_equal(neuron.weights, [7.0, 8.0, 9.0])
        assert neuron.bias == 0.3

    refused("a,b,c\n1,2,x\n", "row 2, column 3: 'x' is not a number")
    refused("a,b,c\n1,2,3\n4,,6\n", "row 3, column 2")
    refused("1,2\n", "has 2 columns; the neuron has 3 inputs")
    refused("1,2,3,4\n", "header cell 'bias'")
    refused("1,2,3\n4,5\n", "row 2 has 2 cells")
    refused("1,2,3\n", "file has 1 data rows", row=4)
    refused("a,b,c\n", "no data rows")
    refused("1,2,inf\n", "finite")
    with pytest.raises(InputError, match="ImportCSV: the CSV file of weights: no such file"):
        neuron.ImportCSV(tmp_path / "none.csv")


@pytest.mark.brian2
def test_trace_path_follows_the_signal():
    neuron = SourcedNeuron("lif", n_inputs=2, activation="sigmoid").SetWeight([1.5, -0.5]).SetBias(0.25)
    neuron.ScaleInput(2.0).BiasShift(0.4).NormBatch([[0.0, 1.0], [1.0, 3.0]])
    neuron.SynapticDelay("1 ms")
    neuron.ProcInput([3.0, 1.0])
    neuron.Integrate("20 ms")
    path = {stage["stage"]: stage for stage in neuron.TracePath()}
    assert list(path) == [
        "input",
        "scaled",
        "normalised",
        "weighted sum",
        "shifted",
        "activation",
        "drive current",
        "synaptic delay",
        "membrane potential",
        "spikes",
    ]
    np.testing.assert_allclose(path["scaled"]["value"], path["input"]["value"] * 2.0)
    np.testing.assert_allclose(path["normalised"]["value"], ((path["scaled"]["value"]) - [1.0, 4.0]) / [1.0, 2.0])
    z = path["normalised"]["value"] @ [1.5, -0.5] + 0.25
    assert path["weighted sum"]["value"] == pytest.approx(z) == neuron.SumSignals()
    assert path["shifted"]["value"] == pytest.approx(z - 0.4)
    assert path["activation"]["value"] == pytest.approx(1 / (1 + np.exp(-(z - 0.4)))) == neuron.output()
    assert float(path["drive current"]["value"].rescale(pq.pA)) == pytest.approx(100.0 * z)
    assert float(path["synaptic delay"]["value"]) == pytest.approx(1.0)
    assert float(path["membrane potential"]["value"]) == pytest.approx(float(neuron.GetState()["v"]))
    np.testing.assert_allclose(path["spikes"]["value"].rescale(pq.s).magnitude, neuron.spike_times())
    assert path["spikes"]["count"] == len(neuron.spike_times()) >= 1
    neuron.ProcInput([[1.0, 0.0], [0.0, 1.0]])  # a batch: the artificial path only
    assert [s["stage"] for s in neuron.TracePath()][-1] == "activation"
