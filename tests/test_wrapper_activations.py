"""SourcedNeuron, activation functions (functions 25-36): every activation of the registry
against its closed form and its derivative against finite differences, the methods on values
and on the neuron's own weighted sum, softmax, and the pulse width on the simulated LIF neuron
(models/lif.yaml: 100 Mohm, threshold 15 mV above rest, so 250 pA fires first at ~9.2 ms)."""

from __future__ import annotations

import numpy as np
import pytest

from sourced_neuron.common.errors import InputError
from sourced_neuron.wrapper import SourcedNeuron
from sourced_neuron.wrapper.activations import ACTIVATIONS


def _softplus(x):
    return np.log(1 + np.exp(x))


CLOSED_FORMS = {
    "relu": lambda x: np.where(x > 0, x, 0.0),
    "sigmoid": lambda x: 1 / (1 + np.exp(-x)),
    "tanh": lambda x: (np.exp(x) - np.exp(-x)) / (np.exp(x) + np.exp(-x)),
    "leaky_relu": lambda x: np.where(x > 0, x, 0.01 * x),
    "elu": lambda x: np.where(x > 0, x, np.exp(x) - 1),
    "swish": lambda x: x / (1 + np.exp(-x)),
    "softplus": _softplus,
    "mish": lambda x: x * np.tanh(_softplus(x)),
    "step": lambda x: np.where(x >= 0, 1.0, 0.0),
    "linear": lambda x: x,
}
POINTS = np.array([-3.7, -1.2, -0.3, 0.4, 1.1, 2.9])  # away from the kinks at 0


def test_the_registry_has_the_ten_activations():
    assert set(ACTIVATIONS) >= set(CLOSED_FORMS)
    assert len(CLOSED_FORMS) == 10


@pytest.mark.parametrize("name", sorted(CLOSED_FORMS))
def test_activation_matches_its_closed_form(name):
    f, _ = ACTIVATIONS[name]
    np.testing.assert_allclose(f(POINTS), CLOSED_FORMS[name](POINTS), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", sorted(CLOSED_FORMS))
def test_derivative_matches_finite_differences(name):
    f, df = ACTIVATIONS[name]
    h = 1e-6
    numeric = (f(POINTS + h) - f(POINTS - h)) / (2 * h)
    np.testing.assert_allclose(df(POINTS), numeric, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("name", sorted(CLOSED_FORMS))
def test_activations_do_not_overflow(name):
    f, df = ACTIVATIONS[name]
    extreme = np.array([-1000.0, -50.0, 50.0, 1000.0])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        values, slopes = f(extreme), df(extreme)
    assert np.all(np.isfinite(values)) and np.all(np.isfinite(slopes))


def test_limits_of_the_saturating_activations():
    big = np.array([-1000.0, 1000.0])
    np.testing.assert_allclose(ACTIVATIONS["sigmoid"][0](big), [0.0, 1.0])
    np.testing.assert_allclose(ACTIVATIONS["softplus"][0](big), [0.0, 1000.0])
    np.testing.assert_allclose(ACTIVATIONS["elu"][0](big), [-1.0, 1000.0])
    np.testing.assert_allclose(ACTIVATIONS["mish"][0](big), [0.0, 1000.0], atol=1e-12)
    # the step's threshold: 1 from z = 0 on, and no gradient anywhere
    assert ACTIVATIONS["step"][0](np.array(0.0)) == 1.0
    np.testing.assert_array_equal(ACTIVATIONS["step"][1](POINTS), 0.0)


METHODS = {
    "ActReLU": "relu",
    "ActSigmoid": "sigmoid",
    "ActTanh": "tanh",
    "ActLeaky": "leaky_relu",
    "ActELU": "elu",
    "ActSwish": "swish",
    "StepFunc": "step",
    "LinearFunc": "linear",
    "SoftPlus": "softplus",
    "MishAct": "mish",
}


@pytest.mark.parametrize("method", sorted(METHODS))
def test_methods_apply_their_function_to_values(method):
    neuron = SourcedNeuron("lif", n_inputs=2)
    function = getattr(neuron, method)
    expected = CLOSED_FORMS[METHODS[method]](POINTS)
    np.testing.assert_allclose(function(POINTS), expected, rtol=1e-12, atol=1e-14)
    scalar = function(-1.2)
    assert isinstance(scalar, float) and scalar == pytest.approx(CLOSED_FORMS[METHODS[method]](np.array(-1.2)))
    np.testing.assert_allclose(function(POINTS.reshape(2, 3)), expected.reshape(2, 3), rtol=1e-12, atol=1e-14)
    assert neuron.activation == "sigmoid"  # computing never changes the neuron
    with pytest.raises(InputError, match=rf"{method}: argument 'x' must hold finite numbers"):
        function([1.0, float("nan")])
    with pytest.raises(InputError, match=rf"{method}: argument 'x' expects numbers"):
        function("abc")


def test_parameters_of_leaky_relu_and_elu():
    neuron = SourcedNeuron("lif")
    np.testing.assert_allclose(neuron.ActLeaky([-2.0, 3.0], a=0.2), [-0.4, 3.0])
    np.testing.assert_allclose(neuron.ActELU([-1.0, 3.0], a=2.0), [2.0 * (np.exp(-1.0) - 1), 3.0])
    with pytest.raises(InputError, match=r"a .*>= 0"):
        neuron.ActLeaky(1.0, a=-0.1)
    with pytest.raises(InputError, match=r"a .*> 0"):
        neuron.ActELU(1.0, a=0.0)


def test_without_x_the_present_weighted_sum_is_used():
    neuron = SourcedNeuron("lif", n_inputs=2).SetWeight([0.8, -1.5]).SetBias(0.3)
    neuron.ProcInput([2.0, 1.0])  # z = 1.6 - 1.5 + 0.3 = 0.4
    assert neuron.LinearFunc() == pytest.approx(0.4)
    assert neuron.ActSigmoid() == pytest.approx(1 / (1 + np.exp(-0.4)))
    neuron.BiasShift(1.0)  # f(z - 1) = f(-0.6)
    assert neuron.LinearFunc() == pytest.approx(-0.6)
    assert neuron.ActReLU() == 0.0
    assert neuron.StepFunc() == 0.0
    assert neuron.ActLeaky(a=0.2) == pytest.approx(-0.12)
    assert neuron.MishAct() == pytest.approx(-0.6 * np.tanh(np.log1p(np.exp(-0.6))))
    neuron.ProcInput([[2.0, 1.0], [3.0, 0.0]])  # a batch: one value per sample
    np.testing.assert_allclose(neuron.LinearFunc(), [-0.6, 1.7])


def test_use_selects_the_activation_of_the_neuron():
    neuron = SourcedNeuron("lif", n_inputs=2).SetWeight([0.8, -1.5]).SetBias(0.3)
    neuron.ProcInput([2.0, 1.0])
    neuron.BiasShift(1.0)  # the output is f(-0.6)
    assert neuron.output() == pytest.approx(1 / (1 + np.exp(0.6)))  # sigmoid by default
    assert neuron.ActTanh(5.0, use=True) == pytest.approx(np.tanh(5.0))
    assert neuron.activation == "tanh" and neuron.output() == pytest.approx(np.tanh(-0.6))
    neuron.ActLeaky(a=0.25, use=True)
    assert neuron.activation == "leaky_relu(a=0.25)" and neuron.output() == pytest.approx(-0.15)
    neuron.ActELU(a=2.0, use=True)
    assert neuron.output() == pytest.approx(2.0 * (np.exp(-0.6) - 1))
    neuron.StepFunc(use=True)
    assert neuron.output() == 0.0
    assert neuron.SetActivation("softplus").output() == pytest.approx(np.log1p(np.exp(-0.6)))
    assert neuron.set_activation("linear").output() == pytest.approx(-0.6)
    with pytest.raises(InputError, match="activation must be one of"):
        neuron.SetActivation("gelu")
    with pytest.raises(InputError, match="activation must be one of"):
        neuron.SetActivation("elu(a=-1)")
    with pytest.raises(InputError, match="argument 'use' expects True or False"):
        neuron.ActReLU(1.0, use="yes")
    assert neuron.activation == "linear"  # refused calls change nothing


def test_softmax_is_a_distribution_and_shift_invariant():
    neuron = SourcedNeuron("lif")
    v = np.array([3.0, -1.0, 0.5, 2.0])
    p = neuron.ActSoftmax(v)
    np.testing.assert_allclose(p, np.exp(v) / np.exp(v).sum(), rtol=1e-12)
    assert p.sum() == pytest.approx(1.0) and np.all(p > 0)
    assert list(np.argsort(p)) == [1, 2, 3, 0]  # the order of the values
    np.testing.assert_allclose(neuron.ActSoftmax(v + 1000.0), p, rtol=1e-12)  # no overflow
    np.testing.assert_allclose(neuron.ActSoftmax(v - 7.5), p, rtol=1e-12)
    rows = neuron.ActSoftmax([[1.0, 2.0], [5.0, 1.0]])
    np.testing.assert_allclose(rows.sum(axis=1), [1.0, 1.0])
    assert rows[0, 1] > rows[0, 0] and rows[1, 0] > rows[1, 1]
    with pytest.raises(InputError, match="non-empty vector"):
        neuron.ActSoftmax(np.zeros((2, 2, 2)))
    with pytest.raises(InputError, match="finite"):
        neuron.ActSoftmax([1.0, np.inf])


def test_pulse_width_setting():
    neuron = SourcedNeuron("lif")  # dt = 0.1 ms
    assert float(neuron.PulseWidth()) == 0.0
    assert neuron.PulseWidth("5 ms") is neuron
    assert neuron.pulse_length == pytest.approx(0.005)
    assert float(neuron.PulseWidth().rescale("ms")) == pytest.approx(5.0)
    for bad in ("0.25 ms", "0.05 ms", "-1 ms", "5 mV", 3):
        with pytest.raises(InputError, match="pulse width"):
            neuron.PulseWidth(bad)
    assert neuron.pulse_length == pytest.approx(0.005)  # unchanged by the refusals
    assert neuron.PulseWidth(0).pulse_length == 0.0  # inputs act until the next one
    assert neuron.pulse_width("0.3 ms").pulse_length == pytest.approx(0.0003)


@pytest.mark.brian2
def test_pulse_width_limits_how_long_an_input_drives_the_neuron():
    for name in ("ProcInput", "Integrate", "spike_times", "trace"):
        assert hasattr(SourcedNeuron, name)
    neurons = {}
    for width in (0, "20 ms", "5 ms"):
        neuron = SourcedNeuron("lif", n_inputs=2).SetWeight([2.5, 0.4]).PulseWidth(width)
        neuron.ProcInput([1.0, 0.0])  # 250 pA
        neuron.Integrate("60 ms")
        neurons[width] = neuron
    counts = {width: len(n.spike_times()) for width, n in neurons.items()}
    # continuous: a spike every ~11.2 ms; 20 ms: only the spike at ~9.2 ms (the next would be at
    # ~20.3 ms); 5 ms: below threshold (v reaches ~10 mV above rest)
    assert counts == {0: 5, "20 ms": 1, "5 ms": 0}
    v = neurons["5 ms"].trace().rescale("mV").magnitude[:, 0]
    peak = int(np.argmax(v))
    assert peak == 50  # depolarised while the pulse lasts (50 steps), decaying afterwards
    assert v[peak] == pytest.approx(-65 + 25 * (1 - np.exp(-0.5)), abs=0.05)
    assert v[-1] == pytest.approx(-65.0, abs=0.05)  # back at rest
    # a new input starts a new pulse
    pulsed = neurons["20 ms"]
    pulsed.ProcInput([1.0, 0.0])
    pulsed.Integrate("20 ms")
    assert len(pulsed.spike_times()) == 2 and pulsed.spike_times()[-1] > 0.060
