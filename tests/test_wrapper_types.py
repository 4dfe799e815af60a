"""Every argument of the wrapper is checked at its boundary (``sourced_neuron.wrapper.arguments``):
a wrong-type argument to any public method of SourcedNeuron (or its PEP 8 alias, or the
constructor) is an InputError naming the method and the argument, never a plain TypeError, and
the refused call changes nothing.

The wrong values are chosen here from the annotation *text* of each argument (the table
``WRONG``), independently of the checker; an argument with an annotation the table does not know
fails the test, so a new method cannot escape it. The categories are the probe's: None, a list
where a scalar is expected, a dict, a string where a number is expected, a float where an int is
expected, bytes, a path with a null byte, an object, NaN and infinity, wrong-length arrays.
"""

from __future__ import annotations

import inspect
import math
import os

import brian2
import numpy as np
import pytest
import quantities as pq

from sourced_neuron.common.errors import InputError, SourcedNeuronError
from sourced_neuron.wrapper import NAMES, SourcedNeuron
from sourced_neuron.wrapper.arguments import checked, describe, iter_hints, problem
from sourced_neuron.wrapper.seed_api import snake_case


class Thing:
    """An object of no type any argument takes."""


NAN, INF = math.nan, math.inf
NULL = "bad\x00name.json"
THING = Thing()
SEVEN = [1.0] * 7  # the neurons below have 2 inputs

NUMBERS_WRONG = ["abc", b"xy", {"a": 1}, THING, [1.0, NAN], [INF, 0.0], [[1.0, "a"]], True]
#: annotation text (without "| None") -> values of the wrong type or value for it
WRONG: dict[str, list] = {
    "float": [[0.5], "0.5", b"x", {"a": 1}, THING, NAN, INF, -INF, True, np.array([1.0, 2.0])],
    "int": [2.5, 3.0, "3", [3], THING, True, np.float64(3.0)],
    "bool": [1, 0, "yes", [True], THING],
    "str": [5, b"x", ["a"], THING, 1.5],
    "PathLike": [123, 1.5, b"x.json", NULL, "", ["x.json"], THING],
    "ArrayLike": NUMBERS_WRONG,
    "Vector": [*NUMBERS_WRONG, SEVEN, [[0.5, 0.5]]],
    "Inputs": [*NUMBERS_WRONG, SEVEN, [SEVEN]],
    "Batch": [*NUMBERS_WRONG, SEVEN, [SEVEN]],
    "Duration": [5, 0.001, [1.0], ["1 ms"], {"a": 1}, b"1 ms", THING, True, [1.0, 2.0] * pq.ms],
    "Duration | float": [[1.0], {"a": 1}, b"x", THING, NAN, INF],
    "WithUnits": [[1.0], ["1 pA"], {"a": 1}, b"x", THING, NAN, INF, True, [1.0, 2.0] * pq.pA],
    "Neuron": ["b", 5, THING, [1, 2]],
    "Neuron | Iterable[Neuron]": [5, "b", [1, 2], THING],
    "Neuron | Mapping[str, Any]": [5, "b", [1], THING],
    "Mapping[str, WithUnits]": [[1], "abc", 5, {"tau_m": [1, 2]}, {5: "1 ms"}, {"tau_m": THING}],
    "Callable[[dict[str, Any]], Any]": ["print", 5],
    "Iterable[Vector]": [5, THING, "ab", [SEVEN], [["a", "b"]], [[NAN, 0.0]]],
    "Iterable[ArrayLike]": [5, THING, "ab", ["abc"], [NAN]],
    "Inputs | Iterable[Vector]": [5, THING, "ab", [SEVEN], [[NAN, 0.0]]],
    "str | Iterable[str]": [5, [1], THING, b"x"],
    "str | type | np.dtype": [5, [1], THING, 2.5],
    "Sequence[WithUnits] | np.ndarray": ["abc", 5, [THING], {"a": 1}, [1.0, NAN, 0.0]],
    "analysis.EnergyCosts": [5, "x", {"a": 1}],
    "NeuronModel": ["lif", 5, THING],
    "ModelSource": [5, b"lif", "bad\x00name", "", [1], THING],
}

#: a value each annotation takes (for the arguments a call needs besides the one under test)
VALID: dict[str, object] = {
    "float": 0.5,
    "int": 3,
    "bool": True,
    "str": "probe",
    "PathLike": "probe.json",
    "ArrayLike": [0.5, 0.25],
    "Vector": [0.5, 0.25],
    "Inputs": [0.5, 0.25],
    "Batch": [[0.5, 0.25]],
    "Duration": "1 ms",
    "WithUnits": "50 pA",
    "Iterable[Vector]": [[1.0, 0.0]],
}


def _base(annotation: str) -> str:
    return annotation.removesuffix(" | None")


def _signature(name: str) -> inspect.Signature:
    value = inspect.getattr_static(SourcedNeuron, name)
    return inspect.signature(getattr(value, "function", value))


def _table() -> list[tuple[str, str]]:
    """(method, argument) of every checked public method of SourcedNeuron, aliases included."""
    return [(method, argument) for method, argument, _ in iter_hints(SourcedNeuron) if method != "__init__"]


TABLE = _table()


def test_every_public_method_and_alias_is_checked():
    functions = {}
    for name in dir(SourcedNeuron):
        value = inspect.getattr_static(SourcedNeuron, name)
        function = getattr(value, "function", value)  # LoadModel works on the class and on instances
        if not name.startswith("_") and inspect.isfunction(function):
            functions[name] = function
    assert [name for name, function in functions.items() if not hasattr(function, "__sourced_neuron_checked__")] == []
    assert set(NAMES) | {snake_case(name) for name in NAMES} <= set(functions)  # the 100 and their aliases
    assert SourcedNeuron.__init__.__sourced_neuron_checked__
    methods_with_arguments = {method for method, _ in TABLE}
    assert {"SetBias", "set_bias", "LoadModel", "load_model", "Train", "fit", "weighted_sum"} <= methods_with_arguments


@pytest.fixture(scope="module")
def peer() -> SourcedNeuron:
    return SourcedNeuron("hh", n_inputs=2, name="peer")


@pytest.mark.parametrize(("method", "argument"), TABLE, ids=[f"{m}-{a}" for m, a in TABLE])
def test_wrong_arguments_are_input_errors_naming_method_and_argument(method, argument, peer, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    signature = _signature(method)
    annotation = signature.parameters[argument].annotation
    base = _base(annotation)
    assert base in WRONG, f"add the annotation {annotation!r} of {method}({argument}) to WRONG"
    wrong = list(WRONG[base])
    if "None" not in annotation.split(" | "):
        wrong.append(None)
    neuron = SourcedNeuron("lif", n_inputs=2, name="probe")
    before = neuron.ExportJSON()
    others = {}
    for name, parameter in signature.parameters.items():
        if name in ("self", argument) or parameter.default is not inspect.Parameter.empty:
            continue
        kind = _base(parameter.annotation)
        if "None" in parameter.annotation.split(" | "):
            others[name] = None
        elif kind in ("Neuron", "Neuron | Iterable[Neuron]"):
            others[name] = peer
        elif kind == "NeuronModel":
            others[name] = neuron.model
        else:
            others[name] = VALID[kind]
    seed_name = getattr(SourcedNeuron, method).__name__  # an alias names its method
    for value in wrong:
        with pytest.raises(InputError) as refused:
            getattr(neuron, method)(**others, **{argument: value})
        message = str(refused.value)
        assert message.startswith(f"{seed_name}: argument {argument!r} "), (value, message)
        assert "got " in message, message
    assert neuron.ExportJSON() == before  # a refused call changes nothing


@pytest.mark.parametrize("argument", [p for p in inspect.signature(SourcedNeuron.__init__).parameters if p != "self"])
def test_wrong_constructor_arguments_are_input_errors(argument):
    annotation = inspect.signature(SourcedNeuron.__init__).parameters[argument].annotation
    wrong = list(WRONG[_base(annotation)])
    if "None" not in annotation.split(" | "):
        wrong.append(None)
    for value in wrong:
        with pytest.raises(InputError, match=rf"^SourcedNeuron: argument '{argument}' "):
            SourcedNeuron(**{argument: value})


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"seed": -1}, "seed must be a non-negative integer"),
        ({"n_inputs": 0}, "n_inputs must be a positive integer"),
        ({"name": "two words"}, "name .* must be 1-64 letters"),
        ({"current_scale": "100 mV"}, "current_scale must have units of amp"),
        ({"activation": "gelu"}, "activation must be one of"),
    ],
)
def test_constructor_values_are_refused_with_the_constructor_named(kwargs, message):
    with pytest.raises(InputError, match=rf"^SourcedNeuron: {message}"):
        SourcedNeuron("lif", **kwargs)


def test_the_message_says_what_is_expected_and_what_came():
    neuron = SourcedNeuron("lif", n_inputs=2)
    with pytest.raises(InputError) as refused:
        neuron.SetBias([0.5])
    assert str(refused.value) == "SetBias: argument 'b' expects a finite number, got list [0.5]"
    with pytest.raises(InputError) as refused:
        neuron.set_weight([1.0, 2.0, 3.0])  # the alias names the seed's method
    assert str(refused.value) == "SetWeight: argument 'w' must have 2 values (one per input), got shape (3,)"
    with pytest.raises(InputError, match=r"DecayLR: argument 'step' expects an integer, got float 2\.0"):
        neuron.DecayLR(2.0)
    with pytest.raises(InputError, match=r"Integrate: argument 'dt' expects a duration .* got int 5"):
        neuron.Integrate(5)
    with pytest.raises(InputError, match=r"ProcInput: argument 'data' must hold finite numbers .* nan at index 1"):
        neuron.ProcInput([1.0, NAN])
    with pytest.raises(InputError, match=r"SetBias: missing a required argument: 'b' \(the signature is SetBias\("):
        neuron.SetBias()
    with pytest.raises(InputError, match="SetBias: got an unexpected keyword argument 'bias'"):
        neuron.SetBias(1.0, bias=1.0)
    with pytest.raises(InputError, match=r"InitNeu: argument 'params' \['tau_m'\] expects a value with units"):
        neuron.InitNeu({"tau_m": [10, 20]})
    big = np.zeros(10_000)
    with pytest.raises(InputError) as refused:
        neuron.SetWeight(big)
    assert "shape (10000,)" in str(refused.value) and len(str(refused.value)) < 200  # no huge repr


def test_errors_of_the_methods_own_checks_name_the_method():
    neuron = SourcedNeuron("lif", n_inputs=2)
    with pytest.raises(InputError, match=r"^SetLR: learning rate must be > 0"):
        neuron.SetLR(-0.1)
    with pytest.raises(InputError, match=r"^Integrate: dt must be a non-negative duration"):
        neuron.Integrate("-5 ms")
    with pytest.raises(InputError, match=r"^SetID: neuron ID must be"):
        neuron.SetID("two words")
    with pytest.raises(InputError, match=r"^MainLoop needs at least one input vector"):  # named once
        neuron.MainLoop([])
    with pytest.raises(InputError, match=r"^Refractory: refractory period p: cannot read"):
        neuron.Refractory("soon")
    with pytest.raises(InputError, match=r"^MainLoop: learning_rate must be > 0"):  # checked without targets
        neuron.MainLoop([[1.0, 0.0]], "1 ms", learning_rate=-1.0)
    with pytest.raises(InputError, match=r"^SynapsePrune: threshold: cannot read"):  # checked without links
        neuron.SynapsePrune("lots")
    with pytest.raises(InputError, match=r"^FlushQueue: duration"):  # checked with nothing queued
        neuron.FlushQueue(duration="0.05 ms")


def test_values_with_units_keep_working_in_every_form():
    """Strings, numbers where a unit is implied, ``quantities`` and Brian2 quantities."""
    neuron = SourcedNeuron("lif", n_inputs=2, current_scale=100e-12 * brian2.amp, params={"tau_m": 20 * pq.ms})
    assert neuron.current_scale == pytest.approx(100e-12)
    neuron.InitNeu({"tau_m": "20 ms", "v": -70 * brian2.mV})
    for rate in ("40 Hz", 40.0, 40, 40 * pq.Hz, 40 * brian2.Hz):  # before Integrate: nothing to simulate
        assert float(neuron.Leakage(rate).model.parameter_values()["tau_m"]) == pytest.approx(0.025)
    assert float(neuron.PulseWidth(0).PulseWidth()) == 0.0
    assert float(neuron.PulseWidth(0.5 * brian2.ms).PulseWidth()) == pytest.approx(0.5)
    assert float(neuron.SynapticDelay(np.array(0.3) * pq.ms).SynapticDelay()) == pytest.approx(0.3)
    neuron.Integrate("1 ms").Integrate(1 * pq.ms).Integrate(1 * brian2.ms).Integrate(np.float64(1) * pq.ms)
    assert neuron.t == pytest.approx(4e-3)  # the history grows; the simulation runs when a state is read
    a, b = SourcedNeuron("lif", name="a"), SourcedNeuron("hh", name="b")
    for weight in ("5 nS", 5, 5.0, 5 * pq.nS, 5e-9 * brian2.siemens, np.int64(5)):  # hh's ports take conductances
        a.BindTo(b, weight, delay=2 * brian2.ms)
        assert float(a.GetLinks()[0]["weight"]) == pytest.approx(5)
    assert a.SynapsePrune(1 * pq.nS) == 0 and a.SynapsePrune("10 nS") == 1
    neuron.SetPosition([10 * pq.um, "20 um", 30 * brian2.um])
    np.testing.assert_allclose(neuron.MapTopology().magnitude, [10, 20, 30])
    assert neuron.SetBias(np.float32(0.25)).bias == 0.25 and neuron.SetBias(np.array(0.5)).bias == 0.5
    assert neuron.BatchSize(np.int64(4)).BatchSize() == 4
    assert neuron.ClipGrad(np.float64(2.0), norm=True).clip_value == 2.0


def test_paths_load_and_save_refuse_what_is_not_a_file(tmp_path):
    neuron = SourcedNeuron("lif", n_inputs=2).SetWeight([0.5, -1.0])
    saved = neuron.SaveModel(tmp_path / "cell.json")
    folder = tmp_path / "folder"
    folder.mkdir()
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)
    other = SourcedNeuron("lif", n_inputs=2).SetWeight([2.0, 3.0])
    before = other.ExportJSON()
    cases = [
        (None, "LoadModel: argument 'path' expects a file name .* got None"),
        (123, "LoadModel: argument 'path' expects a file name .* got int 123"),
        (b"cell.json", "LoadModel: argument 'path' expects a file name .* got bytes"),
        (str(tmp_path / "bad\x00.json"), "LoadModel: argument 'path' is a file name with a null byte"),
        ("", "LoadModel: argument 'path' expects a file name, got an empty string"),
        (folder, "LoadModel: a saved neuron: .* is a folder, not a regular file"),
        (fifo, r"LoadModel: a saved neuron: .* is a FIFO \(named pipe\), not a regular file"),
        (tmp_path / "absent.json", "LoadModel: a saved neuron: no such file"),
    ]
    for path, message in cases:
        with pytest.raises(InputError, match=message):
            SourcedNeuron.LoadModel(path)
        with pytest.raises(InputError, match=message):
            other.LoadModel(path)
        with pytest.raises(InputError, match=message):
            other.load_model(path)
    assert other.ExportJSON() == before  # nothing changed
    for path, message in [
        (None, "SaveModel: argument 'path' expects a file name .* got None"),
        (str(tmp_path / "bad\x00.json"), "SaveModel: argument 'path' is a file name with a null byte"),
        (folder, "SaveModel: path .* is a folder"),
        (fifo, r"SaveModel: .* is a FIFO \(named pipe\)"),
    ]:
        with pytest.raises(InputError, match=message):
            neuron.SaveModel(path)
    with pytest.raises(InputError, match=r"ImportCSV: the CSV file of weights: .* is a FIFO"):
        neuron.ImportCSV(fifo)
    assert SourcedNeuron.LoadModel(saved).weights.tolist() == [0.5, -1.0]


def test_a_type_error_inside_the_library_stays_visible(monkeypatch):
    """The boundary checks the user's arguments; a library bug is not turned into an InputError,
    and the calls a method makes to other methods are not checked (they pass the library's values)."""

    class Box:
        @checked
        def outer(self, x: float) -> float:
            return self.inner("not a number")  # the library's bug: inner needs a float

        @checked
        def inner(self, y: float) -> float:
            return y + 1

    with pytest.raises(TypeError, match="can only concatenate str"):
        Box().outer(1.0)
    with pytest.raises(InputError, match="inner: argument 'y' expects a finite number, got str"):
        Box().inner("not a number")

    import sourced_neuron.wrapper.lifecycle as lifecycle

    def broken(*args, **kwargs):
        raise TypeError("a bug in the library")

    monkeypatch.setattr(lifecycle, "finite_vector", broken)
    with pytest.raises(TypeError, match="a bug in the library") as raised:
        SourcedNeuron("lif").SetBias(0.5)
    assert not isinstance(raised.value, SourcedNeuronError)


def test_a_callback_is_user_code_and_its_calls_are_checked():
    neuron = SourcedNeuron("lif", n_inputs=2)
    seen = []

    def callback(alert):
        seen.append(alert)
        neuron.SetBias("high")  # the user's mistake, inside SetWeight's call

    neuron.WatchWeight(callback)
    with pytest.raises(InputError, match="argument 'b' expects a finite number, got str 'high'"):
        neuron.SetWeight([1.0, 2.0])
    assert len(seen) == 1


def test_every_hint_is_described_and_checkable():
    hints = list(iter_hints(SourcedNeuron))  # resolves every hint; an unsupported form raises
    assert len(hints) > 200
    for method, argument, hint in hints:
        assert describe(hint), (method, argument)
        assert problem(Thing(), hint).startswith("expects "), (method, argument)
