"""SourcedNeuron, learning and optimisation (functions 37-53, and Train/Predict): gradients
against finite differences of the loss, logic gates and a linear regression learnt, the known
first steps of the optimisers, regularisation against the closed-form ridge solution, clipping,
learning-rate schedules and gradient accumulation over a batch."""

from __future__ import annotations

import numpy as np
import pytest

from sourced_neuron.common.errors import InputError
from sourced_neuron.wrapper import SourcedNeuron

GATE_INPUTS = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])


def regression_data(n: int = 400, noise: float = 0.05, seed: int = 7) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 2))
    return X, X @ np.array([2.5, -1.3]) + 0.7 + rng.normal(0.0, noise, n)


def linear_neuron(**kwargs) -> SourcedNeuron:
    return SourcedNeuron("lif", n_inputs=2, activation="linear", seed=1, **kwargs)


def gradients_after(neuron: SourcedNeuron, X, y) -> dict:
    neuron.ProcInput(X)
    return neuron.SetTarget(y).BackProp().GetGrads()


# --- errors and gradients -----------------------------------------------------------------------


def test_set_target_and_calc_error():
    neuron = linear_neuron().SetWeight([2.0, -1.0]).SetBias(0.5)
    neuron.ProcInput([1.0, 3.0])  # y = 2 - 3 + 0.5 = -0.5
    assert neuron.CalcError(1.0) == pytest.approx(-1.5)  # output minus target
    assert neuron.target == 1.0 and neuron.last_error == pytest.approx(-1.5)
    assert neuron.SetTarget(-2.0).CalcError() == pytest.approx(1.5)  # the present target
    neuron.ProcInput([[1.0, 0.0], [0.0, 1.0]])  # y = [2.5, -0.5]
    np.testing.assert_allclose(neuron.CalcError([1.0, 2.0]), [1.5, -2.5])
    with pytest.raises(InputError, match="one value per sample of the batch"):
        neuron.CalcError([1.0, 2.0, 3.0])
    with pytest.raises(InputError, match="SetTarget: argument 't' expects numbers"):
        neuron.SetTarget("high")
    with pytest.raises(InputError, match="no target"):
        linear_neuron().CalcError()


@pytest.mark.parametrize(
    ("activation", "loss"),
    [("sigmoid", "log"), ("sigmoid", "mse"), ("tanh", "mse"), ("swish", "huber"), ("elu(a=0.5)", "mse")],
)
def test_back_prop_is_the_gradient_of_the_mean_loss(activation, loss):
    rng = np.random.default_rng(3)
    X = rng.normal(size=(12, 3))
    y = rng.uniform(0.0, 1.0, 12) if loss == "log" else rng.normal(0.0, 2.0, 12)
    neuron = SourcedNeuron("lif", n_inputs=3, activation=activation).SetWeight([0.7, -0.4, 1.1]).SetBias(-0.2)
    neuron.SetLoss(loss, delta=0.5)
    grads = gradients_after(neuron, X, y)
    assert grads["samples"] == 12

    def mean_loss(w, b):
        return neuron.SetWeight(w).SetBias(b).Loss(X, y)

    w0, b0, h = np.array([0.7, -0.4, 1.1]), -0.2, 1e-6
    numeric = [(mean_loss(w0 + h * e, b0) - mean_loss(w0 - h * e, b0)) / (2 * h) for e in np.eye(3)]
    np.testing.assert_allclose(grads["weights"], numeric, rtol=1e-5, atol=1e-8)
    assert grads["bias"] == pytest.approx((mean_loss(w0, b0 + h) - mean_loss(w0, b0 - h)) / (2 * h), rel=1e-5)


def test_back_prop_with_an_explicit_error_and_the_loss_choice():
    neuron = linear_neuron().SetWeight([1.0, 2.0])
    neuron.ProcInput([3.0, -1.0])
    g = neuron.BackProp(err=0.5).GetGrads()  # mse: dL/dz = 2 err
    np.testing.assert_allclose(g["weights"], [3.0, -1.0])
    assert g["bias"] == pytest.approx(1.0)
    g = neuron.ResetGrads().BackProp(err=3.0, loss="huber").GetGrads()  # huber (delta 1): capped at 1
    np.testing.assert_allclose(g["weights"], [3.0, -1.0])
    with pytest.raises(InputError, match="log loss needs outputs in"):
        neuron.BackProp(err=0.5, loss="log")
    with pytest.raises(InputError, match="loss must be one of"):
        neuron.SetLoss("hinge")
    with pytest.raises(InputError, match="log loss needs targets"):
        SourcedNeuron("lif", n_inputs=2).SetTarget(2.0).BackProp(loss="log")


def test_get_grads_returns_copies_and_reset_grads_zeroes_them():
    neuron = SourcedNeuron("lif", n_inputs=2).SetWeight([0.3, -0.6])
    grads = gradients_after(neuron, [1.0, 2.0], 1.0)
    assert np.all(grads["weights"] != 0) and grads["bias"] != 0
    grads["weights"][:] = 99.0
    assert np.all(neuron.GetGrads()["weights"] != 99.0)
    cleared = neuron.ResetGrads().GetGrads()
    np.testing.assert_array_equal(cleared["weights"], [0.0, 0.0])
    assert cleared["bias"] == 0.0 and cleared["samples"] == 0
    before = neuron.weights.copy()
    neuron.UpdWeight(0.5).UpdBias(0.5)  # nothing accumulated: nothing to apply
    np.testing.assert_array_equal(neuron.weights, before)


# --- learning -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("gate", "targets"), [("AND", [0, 0, 0, 1]), ("OR", [0, 1, 1, 1])])
def test_a_sigmoid_neuron_learns_logic_gates(gate, targets):
    neuron = SourcedNeuron("lif", n_inputs=2, seed=3).InitXavier()
    losses = neuron.Train(GATE_INPUTS, targets, epochs=300, lr=1.0, loss="log")
    assert len(losses) == 300 and losses[-1] < 0.05 < losses[0]
    out = neuron.Predict(GATE_INPUTS)
    np.testing.assert_array_equal(out > 0.5, np.array(targets) == 1)


def test_a_step_neuron_learns_by_the_perceptron_rule():
    neuron = SourcedNeuron("lif", n_inputs=2, activation="step", seed=2).InitXavier()
    losses = neuron.fit(GATE_INPUTS, [0, 0, 0, 1], epochs=30, lr=0.2)
    assert losses[-1] == 0.0
    np.testing.assert_array_equal(neuron.predict(GATE_INPUTS), [0.0, 0.0, 0.0, 1.0])


def test_a_linear_neuron_recovers_regression_weights():
    X, y = regression_data()
    neuron = linear_neuron().BatchSize(50)
    losses = neuron.Train(X, y, epochs=60, lr=0.05)
    np.testing.assert_allclose(neuron.weights, [2.5, -1.3], atol=1e-2)
    assert neuron.bias == pytest.approx(0.7, abs=1e-2)
    assert losses[-1] == pytest.approx(0.05**2, rel=0.3)  # the noise variance
    assert neuron.learning_rate == 0.05


def test_train_restores_the_present_input_and_refuses_bad_data():
    neuron = linear_neuron()
    neuron.ProcInput([0.25, -4.0])
    neuron.SetTarget(3.0)
    neuron.Train(*regression_data(40), epochs=2)
    np.testing.assert_array_equal(neuron.inputs, [0.25, -4.0])
    assert neuron.target == 3.0
    X, y = regression_data(40)
    with pytest.raises(InputError, match="one target per row"):
        neuron.Train(X, y[:-1], epochs=1)
    with pytest.raises(InputError, match=r"shape \(samples, 2\)"):
        neuron.Train(X[:, :1], y, epochs=1)
    with pytest.raises(InputError, match="epochs"):
        neuron.Train(X, y, epochs=0, lr=0.9)
    with pytest.raises(InputError, match="log loss needs outputs"):
        neuron.Train(X, y, epochs=1, loss="log")
    assert neuron.learning_rate == 0.1  # refused calls changed nothing


# --- optimisers ---------------------------------------------------------------------------------


@pytest.mark.parametrize("select", ["sgd", "MomUpdate", "AdamOpt", "RMSProp", "AdaGrad"])
def test_every_optimiser_reduces_the_loss(select):
    X, y = regression_data(100)
    neuron = linear_neuron().BatchSize(10)
    if select != "sgd":
        getattr(neuron, select)()
    assert neuron.optimizer["name"] == {"sgd": "sgd", "MomUpdate": "momentum", "AdamOpt": "adam",
                                        "RMSProp": "rmsprop", "AdaGrad": "adagrad"}[select]  # fmt: skip
    start = neuron.Loss(X, y)
    losses = neuron.Train(X, y, epochs=15, lr=0.1)
    assert losses[-1] < 0.1 * start


def first_step(select: str, lr: float = 0.01, **options):
    neuron = SourcedNeuron("lif", n_inputs=3).SetWeight([0.5, -0.2, 0.1])
    getattr(neuron, select)(**options)
    grads = gradients_after(neuron, [[1.0, 2.0, -1.0], [0.5, -3.0, 2.0]], [1.0, 0.0])
    before, bias = neuron.weights.copy(), neuron.bias
    neuron.UpdWeight(lr).UpdBias(lr)
    return grads, before - neuron.weights, bias - neuron.bias


def test_adam_first_step_is_the_learning_rate_times_the_sign():
    grads, step, bias_step = first_step("AdamOpt")
    assert np.all(np.abs(grads["weights"]) > 1e-3)
    np.testing.assert_allclose(step, 0.01 * np.sign(grads["weights"]), rtol=1e-6)
    assert bias_step == pytest.approx(0.01 * np.sign(grads["bias"]), rel=1e-6)


def test_rmsprop_and_adagrad_first_steps():
    grads, step, _ = first_step("RMSProp", rho=0.9)  # s = 0.1 g^2
    np.testing.assert_allclose(step, 0.01 * np.sign(grads["weights"]) / np.sqrt(0.1), rtol=1e-6)
    grads, step, _ = first_step("AdaGrad")  # s = g^2
    np.testing.assert_allclose(step, 0.01 * np.sign(grads["weights"]), rtol=1e-6)


def test_momentum_accumulates_velocity():
    neuron = SourcedNeuron("lif", n_inputs=2).SetWeight([0.4, -0.9]).MomUpdate(0.8)
    lr, steps, grads = 0.3, [], []
    for x, t in (([1.0, 2.0], 1.0), ([-1.5, 0.5], 0.0), ([2.0, 1.0], 1.0)):
        neuron.ProcInput(x)
        grads.append(neuron.SetTarget(t).BackProp().GetGrads()["weights"])
        before = neuron.weights.copy()
        steps.append(before - neuron.UpdWeight(lr).UpdBias(lr).weights)
    velocity = np.zeros(2)
    for g, step in zip(grads, steps, strict=True):
        velocity = 0.8 * velocity + g
        np.testing.assert_allclose(step, lr * velocity, rtol=1e-12)
    assert neuron.MomUpdate(0.0).optimizer == {"name": "sgd"}
    with pytest.raises(InputError, match=r"momentum coefficient v must be in \[0, 1\)"):
        neuron.MomUpdate(1.0)


def test_selecting_an_optimiser_resets_its_state():
    neuron = SourcedNeuron("lif", n_inputs=2).SetWeight([0.4, -0.9]).AdamOpt()
    for _ in range(3):
        gradients_after(neuron, [1.0, 2.0], 1.0)
        neuron.UpdWeight(0.01)
    grads = gradients_after(neuron.AdamOpt(), [1.0, 2.0], 1.0)
    before = neuron.weights.copy()
    np.testing.assert_allclose(before - neuron.UpdWeight(0.01).weights, 0.01 * np.sign(grads["weights"]), rtol=1e-6)
    with pytest.raises(InputError, match="beta1"):
        neuron.AdamOpt(beta1=1.5)
    with pytest.raises(InputError, match="eps"):
        neuron.RMSProp(eps=0)
    assert neuron.optimizer["name"] == "adam"


# --- rates, regularisation, clipping, batches ---------------------------------------------------


def test_set_lr_is_the_default_step_size():
    neuron = linear_neuron().SetLR(0.25)
    grads = gradients_after(neuron, [1.0, -2.0], 3.0)
    neuron.UpdWeight().UpdBias()
    np.testing.assert_allclose(neuron.weights, -0.25 * grads["weights"])
    assert neuron.bias == pytest.approx(-0.25 * grads["bias"])
    for bad in (0, -0.1, float("nan"), "fast"):
        with pytest.raises(InputError, match=r"SetLR: (learning rate|argument 'rate')"):
            neuron.SetLR(bad)
    assert neuron.learning_rate == 0.25
    gradients_after(neuron, [1.0, -2.0], 3.0)
    with pytest.raises(InputError, match="not finite"):
        neuron.UpdWeight(1e308)
    assert np.all(np.isfinite(neuron.weights)) and neuron.GetGrads()["samples"] == 1  # nothing applied


def test_decay_lr_follows_its_formula():
    neuron = linear_neuron().SetLR(0.2)
    assert neuron.DecayLR(5, decay=0.1) == pytest.approx(0.2 / 1.5)
    assert neuron.learning_rate == pytest.approx(0.2 / 1.5)
    assert neuron.DecayLR(20, decay=0.1) == pytest.approx(0.2 / 3.0)  # from SetLR's rate, not compounded
    assert neuron.decay_lr(4, decay=0.25, schedule="exponential") == pytest.approx(0.2 * np.exp(-1.0))
    assert neuron.DecayLR(0) == pytest.approx(0.2)
    with pytest.raises(InputError, match="step"):
        neuron.DecayLR(-1)
    with pytest.raises(InputError, match="schedule"):
        neuron.DecayLR(3, schedule="cosine")
    assert neuron.learning_rate == pytest.approx(0.2)


def test_clip_grad_caps_each_component_or_the_norm():
    X, y = [[3.0, -2.0], [1.0, 4.0]], [5.0, -6.0]
    raw = gradients_after(linear_neuron().SetWeight([1.5, 0.5]), X, y)
    assert np.all(np.abs(raw["weights"]) > 0.05)
    neuron = linear_neuron().SetWeight([1.5, 0.5]).ClipGrad(0.05)
    clipped = gradients_after(neuron, X, y)
    np.testing.assert_allclose(clipped["weights"], np.clip(raw["weights"], -0.05, 0.05))
    assert clipped["bias"] == pytest.approx(float(np.clip(raw["bias"], -0.05, 0.05)))
    neuron.UpdWeight(1.0)
    np.testing.assert_allclose(neuron.weights, [1.5, 0.5] - clipped["weights"])
    normed = gradients_after(linear_neuron().SetWeight([1.5, 0.5]).ClipGrad(0.05, norm=True), X, y)
    assert np.linalg.norm(normed["weights"]) == pytest.approx(0.05)
    np.testing.assert_allclose(normed["weights"] / 0.05, raw["weights"] / np.linalg.norm(raw["weights"]))
    off = gradients_after(linear_neuron().SetWeight([1.5, 0.5]).ClipGrad(0.05).ClipGrad(None), X, y)
    np.testing.assert_allclose(off["weights"], raw["weights"])
    with pytest.raises(InputError, match="clip value"):
        neuron.ClipGrad(-1.0)


def test_l2_adds_weight_decay_and_reaches_the_ridge_solution():
    neuron = linear_neuron().SetWeight([1.0, -2.0])
    plain = gradients_after(neuron, [0.0, 0.0], 0.0)
    decayed = gradients_after(linear_neuron().SetWeight([1.0, -2.0]).L2Reg(0.3), [0.0, 0.0], 0.0)
    np.testing.assert_allclose(decayed["weights"] - plain["weights"], [0.3, -0.6])
    assert decayed["bias"] == plain["bias"]  # the bias is not regularised
    X, y = regression_data(100, noise=0.5)
    lam = 1.0
    ridge = linear_neuron().L2Reg(lam).BatchSize(100)
    ridge.Train(X, y, epochs=300, lr=0.1, shuffle=False)
    free = linear_neuron().BatchSize(100)
    free.Train(X, y, epochs=300, lr=0.1, shuffle=False)
    assert np.linalg.norm(ridge.weights) < np.linalg.norm(free.weights) - 0.5
    # mean (y - Xw - b)^2 + lam/2 |w|^2 is minimal where (2/n) A'A [w, b] + lam [w, 0] = (2/n) A'y
    A = np.c_[X, np.ones(len(X))]
    system = 2 / len(X) * A.T @ A + np.diag([lam, lam, 0.0])
    exact = np.linalg.solve(system, 2 / len(X) * A.T @ y)
    np.testing.assert_allclose([*ridge.weights, ridge.bias], exact, atol=1e-6)
    with pytest.raises(InputError, match="L2 coefficient"):
        ridge.L2Reg(-0.1)


def test_l1_drives_an_irrelevant_weight_to_zero():
    rng = np.random.default_rng(11)
    X = rng.normal(size=(200, 2))
    y = 1.5 * X[:, 0] - 0.4 + rng.normal(0.0, 0.3, 200)  # the second input is irrelevant
    free = linear_neuron().BatchSize(20)
    free.Train(X, y, epochs=100, lr=0.05)
    sparse = linear_neuron().BatchSize(20).L1Reg(0.1)
    sparse.Train(X, y, epochs=100, lr=0.05)
    assert abs(free.weights[1]) > 1e-3
    assert abs(sparse.weights[1]) < 1e-6
    assert sparse.weights[0] == pytest.approx(1.5, abs=0.1)
    g = gradients_after(linear_neuron().SetWeight([1.0, -2.0]).L1Reg(0.1), [0.0, 0.0], 0.0)
    np.testing.assert_allclose(g["weights"], [0.1, -0.1])  # the subgradient l1 * sign(w)


def test_batch_size_accumulates_and_applies_the_mean_gradient():
    samples = [([1.0, 2.0], 1.0), ([-1.0, 0.5], -2.0), ([3.0, -1.0], 0.5)]
    start = np.array([0.3, -0.7])
    singles = [gradients_after(linear_neuron().SetWeight(start), x, t) for x, t in samples]
    mean_w = np.mean([g["weights"] for g in singles], axis=0)
    mean_b = np.mean([g["bias"] for g in singles])
    neuron = linear_neuron().SetWeight(start).BatchSize(3)
    assert neuron.BatchSize() == 3
    for k, (x, t) in enumerate(samples):
        neuron.ProcInput(x)
        neuron.SetTarget(t).BackProp().UpdWeight(0.1).UpdBias(0.1)
        if k < 2:  # not yet a full batch
            np.testing.assert_array_equal(neuron.weights, start)
            assert neuron.bias == 0.0 and neuron.GetGrads()["samples"] == k + 1
    np.testing.assert_allclose(neuron.weights, start - 0.1 * mean_w, rtol=1e-12)
    assert neuron.bias == pytest.approx(-0.1 * mean_b)
    assert neuron.GetGrads()["samples"] == 0
    # the same update from one batch input
    batched = linear_neuron().SetWeight(start).BatchSize(3)
    batched.ProcInput([x for x, _ in samples])
    batched.SetTarget([t for _, t in samples]).BackProp().UpdWeight(0.1).UpdBias(0.1)
    np.testing.assert_allclose(batched.weights, neuron.weights, rtol=1e-12)
    for bad in (0, 2.5, True):
        with pytest.raises(InputError, match=r"BatchSize: (batch size|argument 'n' expects an integer)"):
            neuron.BatchSize(bad)


def test_updates_respect_the_weight_bounds():
    neuron = linear_neuron().SetWeight([0.9, 0.3])
    neuron.SetMaxWeight(1.0).SetMinWeight(0.2)
    X = [[1.0, -1.0]]
    for _ in range(20):
        neuron.ProcInput(X)
        neuron.SetTarget([10.0]).BackProp().UpdWeight(0.1)  # pushes w0 up and w1 down through zero
    np.testing.assert_allclose(neuron.weights, [1.0, -1.0])
    assert neuron.CheckLimit()["ok"]


def test_pep8_aliases_of_the_learning_functions():
    neuron = linear_neuron()
    neuron.ProcInput([1.0, 1.0])
    neuron.set_target(2.0).back_prop().upd_weight(0.1).upd_bias(0.1)
    assert neuron.calc_error() < 0 and neuron.get_grads()["samples"] == 0
    assert neuron.set_lr(0.3).l1_reg(0.01).l2_reg(0.02).clip_grad(1.0).batch_size() == 1
    assert neuron.rmsprop().optimizer["name"] == "rmsprop" and neuron.ada_grad().optimizer["name"] == "adagrad"
    assert neuron.adam_opt().optimizer["name"] == "adam" and neuron.mom_update(0.5).optimizer["v"] == 0.5
    assert neuron.reset_grads().decay_lr(1, decay=1.0) == pytest.approx(0.15)


def test_back_prop_trains_through_inverted_dropout():
    neuron = linear_neuron().SetWeight([1.0, 0.0])
    neuron.dropout = 0.5  # as DropOut(0.5) sets it
    X = np.tile([1.0, 0.0], (400, 1))  # y = 1: kept outputs are 2, dropped ones 0
    grads = gradients_after(neuron, X, np.zeros(400))
    # per kept sample dL/dw0 = 2 (2 - 0) * 2 = 8, per dropped sample 0: the mean is 8 * (share kept)
    assert grads["weights"][0] == pytest.approx(4.0, abs=0.4)
    assert grads["weights"][1] == 0.0
    np.testing.assert_array_equal(neuron.CalcError(np.zeros(400)), 1.0)  # the error of the evaluation output
