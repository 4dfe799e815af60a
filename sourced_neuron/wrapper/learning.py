"""Learning and optimisation: the artificial neuron ``y = f(w . x' + b - shift)`` learns its
weights and bias by gradient descent.

One learning step is ``SetTarget`` (or ``CalcError(target)``), ``BackProp`` (the gradient of the
loss for the present input, a vector or a batch, added to an accumulator), then ``UpdWeight``
and ``UpdBias`` (one optimiser step each, with the accumulated gradient averaged over its
samples). ``Train`` runs those steps over a data set in mini-batches.

- **Loss** (``SetLoss`` or ``BackProp(loss=...)``): ``"mse"`` (default) ``(y - t)^2``;
  ``"log"`` (binary cross-entropy, sigmoid neurons only: the gradient w.r.t. ``z`` is
  ``y - t``); ``"huber"`` ``(y - t)^2 / 2`` within ``delta`` of the target, linear beyond.
  A ``"step"`` neuron has no gradient; it learns by the perceptron rule (``dL/dz = y - t``).
- **Batches** (``BatchSize(n)``): ``UpdWeight``/``UpdBias`` act once at least ``n`` samples
  have been back-propagated since the last update, with the mean of their gradients; before,
  they do nothing.
- **Regularisation** (of the weights, not the bias): ``L2Reg(l)`` adds ``l/2 * |w|^2`` to the
  loss (gradient ``l w``, PyTorch's ``weight_decay``); ``L1Reg(l)`` adds ``l * sum|w|``
  (subgradient ``l sign(w)``), and a weight that an update carries across zero stops at zero,
  so L1 gives exact zeros ("clipping at zero", Tsuruoka et al. 2009).
- **Clipping** (``ClipGrad``): each component of the (averaged, regularised) gradient to
  ``[-val, val]``, or with ``norm=True`` each parameter's gradient (the weight vector; the
  bias) rescaled to norm at most ``val``.
- **Optimisers**: SGD (default), momentum (``MomUpdate``), Adam, RMSProp, AdaGrad; selecting
  one resets its state. The weights and the bias have separate optimiser states.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sourced_neuron.common.errors import InputError
from sourced_neuron.wrapper.activations import activation_pair
from sourced_neuron.wrapper.arguments import ArrayLike
from sourced_neuron.wrapper.core import NeuronCore, finite_vector, number, numbers

_LOSSES = ("mse", "log", "huber")
_EPS = 1e-12  # keeps log loss finite when a non-ideal output reaches 0 or 1


def _fraction(value: Any, what: str) -> float:
    result = number(value, what, 0.0)
    if result >= 1:
        raise InputError(f"{what} must be in [0, 1), got {value!r}")
    return result


def _count(value: Any, what: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise InputError(f"{what} must be an integer >= {minimum}, got {value!r}")
    return int(value)


class Learning(NeuronCore):
    """Functions 37-53 of the API, and ``Train``/``Predict``."""

    def _setup(self) -> None:
        super()._setup()
        self.learning_rate = 0.1
        self._lr0 = 0.1  # the rate DecayLR starts from (set by SetLR)
        self.target: Any = None
        self.last_error: Any = None
        self.last_loss: float | None = None
        self.loss_name = "mse"
        self.huber_delta = 1.0
        self.l1 = 0.0
        self.l2 = 0.0
        self.clip_value: float | None = None
        self.clip_norm = False
        self.samples_per_update = 1
        self.optimizer: dict[str, Any] = {"name": "sgd"}
        self._grad_sum: dict[str, Any] = {}  # "weights"/"bias" -> summed data gradient
        self._grad_count: dict[str, int] = {}  # samples in each sum
        self._opt_state: dict[str, dict[str, Any]] = {}  # optimiser state per parameter

    # --- targets and errors ---------------------------------------------------------------------

    def _targets(self, t: Any, what: str = "target") -> np.ndarray:
        """``t`` as one value per sample of the present input (shape ``()`` or ``(n,)``)."""
        if t is None:
            raise InputError("no target: call SetTarget(t) or pass one")
        array = numbers(t, what)
        inputs = np.asarray(self.inputs)
        if inputs.ndim == 1:
            if array.size != 1:
                raise InputError(f"{what} must be one value for one input vector, got shape {array.shape}")
            array = array.reshape(())
        else:
            n = inputs.shape[0]
            if array.shape not in ((n,), (n, 1)):
                raise InputError(f"{what} must have one value per sample of the batch ({n}), got shape {array.shape}")
            array = array.reshape(n)
        return array

    def SetTarget(self, t: ArrayLike) -> Learning:
        """Set the ground truth for supervised learning: the output the present input should give.

        One value, or one per sample of a batch input.

        Examples
        --------
        >>> SourcedNeuron("lif", n_inputs=2).SetTarget(1.0).target
        1.0
        """
        if isinstance(t, bool):
            raise InputError(f"target must be numbers, got {t!r}")
        try:
            array = np.asarray(t, dtype=float)
        except (TypeError, ValueError):
            raise InputError(f"target must be numbers, got {t!r}") from None
        if array.ndim > 2 or array.size == 0 or not np.all(np.isfinite(array)):
            raise InputError(f"target must be a finite value or one value per sample, got {t!r}")
        self.target = float(array) if array.ndim == 0 else array.copy()
        return self

    def CalcError(self, tar: ArrayLike | None = None) -> float | np.ndarray:
        """The difference between the present output and the target, ``y - t``.

        One value per sample for a batch input; stored as ``last_error``. The output is the
        evaluation output (no dropout).

        Parameters
        ----------
        tar : float or array, optional
            The target (it also becomes the present target, as ``SetTarget``); default: the
            present target.

        Examples
        --------
        >>> SourcedNeuron("lif", n_inputs=1, activation="linear").SetBias(0.5).CalcError(2.0)
        -1.5
        """
        goal = self._targets(self.target if tar is None else tar)
        error = np.asarray(self.output()) - goal
        if tar is not None:
            self.target = float(goal) if goal.ndim == 0 else goal.copy()
        self.last_error = float(error) if error.ndim == 0 else error
        return self.last_error

    # --- the loss and its gradient --------------------------------------------------------------

    def SetLoss(self, name: str, delta: float | None = None) -> Learning:
        """Choose the loss that ``BackProp`` and ``Train`` minimise (an extra of the wrapper).

        Parameters
        ----------
        name : str
            ``"mse"`` (``(y - t)^2``), ``"log"`` (binary cross-entropy; sigmoid neurons) or
            ``"huber"``.
        delta : float, optional
            Huber's threshold between the quadratic and the linear part (default 1).

        Examples
        --------
        >>> SourcedNeuron("lif").SetLoss("huber", delta=0.5).loss_name
        'huber'
        """
        if name not in _LOSSES:
            raise InputError(f"loss must be one of {', '.join(_LOSSES)}, got {name!r}")
        width = self.huber_delta if delta is None else number(delta, "delta", 0.0, open_low=True)
        self.loss_name, self.huber_delta = name, width
        return self

    def _forward(self, x: Any, training: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(z, y, dy/dz)`` per sample of ``x`` (2-d), with inverted dropout when training."""
        f, df = activation_pair(self.activation)
        z = np.atleast_1d(np.asarray(self.weighted_sum(x), dtype=float)) - self.activation_shift
        y, dy = np.asarray(f(z), dtype=float), np.asarray(df(z), dtype=float)
        if training and self.dropout > 0:
            keep = self.rng.random(z.shape) >= self.dropout
            y = np.where(keep, y / (1 - self.dropout), 0.0)
            dy = np.where(keep, dy / (1 - self.dropout), 0.0)
        return z, y, dy

    def _loss_terms(self, loss: str, z: np.ndarray, y: np.ndarray, t: np.ndarray, exact_sigmoid: bool) -> np.ndarray:
        """The loss of each sample."""
        err = y - t
        if loss == "mse":
            return err**2
        if loss == "huber":
            a = np.abs(err)
            d = self.huber_delta
            return np.where(a <= d, 0.5 * err**2, d * (a - 0.5 * d))
        if exact_sigmoid:  # -t log s(z) - (1 - t) log(1 - s(z)), without rounding s(z) to 0 or 1
            return np.logaddexp(0.0, z) - t * z
        p = np.clip(y, _EPS, 1 - _EPS)
        return -(t * np.log(p) + (1 - t) * np.log(1 - p))

    def _check_loss(self, loss: str) -> None:
        if loss not in _LOSSES:
            raise InputError(f"loss must be one of {', '.join(_LOSSES)}, got {loss!r}")
        if loss == "log" and self.activation not in ("sigmoid", "step"):
            raise InputError(
                f"log loss needs outputs in (0, 1): use the sigmoid activation (the neuron has {self.activation!r})"
            )

    def BackProp(self, err: ArrayLike | None = None, loss: str | None = None) -> Learning:
        """Calculate the gradient of the loss with respect to the weights and the bias.

        The gradient for the present input (one vector or a batch; chain rule through the
        activation's derivative) is added to the gradients the next ``UpdWeight``/``UpdBias``
        apply. The step neuron learns by the perceptron rule instead (its derivative is 0). With a
        dropout probability (``DropOut``), the forward pass drops outputs (inverted dropout)
        and the gradient flows through the kept ones only.

        Parameters
        ----------
        err : float or array, optional
            The output error ``y - t`` to propagate (one per sample); default: computed from the
            present output and target (``SetTarget``).
        loss : str, optional
            ``"mse"``, ``"log"`` or ``"huber"`` for this call; default: ``SetLoss``'s (``"mse"``).

        Examples
        --------
        >>> SourcedNeuron("lif", n_inputs=2).SetTarget(1.0).BackProp().GetGrads()["bias"]
        -0.25
        """
        loss = self.loss_name if loss is None else loss
        self._check_loss(loss)
        inputs = np.asarray(self.inputs)
        x = np.atleast_2d(self.prepared(inputs))
        if err is None:
            goal = np.atleast_1d(self._targets(self.target))
            if loss == "log" and np.any((goal < 0) | (goal > 1)):
                raise InputError(f"log loss needs targets in [0, 1], got {self.target!r}")
            z, y, dy = self._forward(inputs, training=True)
            error = y - goal
            exact = self.activation == "sigmoid" and not self.dropout
            self.last_loss = float(np.mean(self._loss_terms(loss, z, y, goal, exact)))
        else:
            error = np.atleast_1d(self._targets(err, "err"))
            z, y, dy = self._forward(inputs, training=False)
            exact = self.activation == "sigmoid"
        if self.activation == "step":
            dz = error  # the perceptron rule
        elif loss == "mse":
            dz = 2.0 * error * dy
        elif loss == "huber":
            dz = np.clip(error, -self.huber_delta, self.huber_delta) * dy
        elif exact:
            dz = error  # sigmoid and cross-entropy: dL/dz = y - t
        else:
            p = np.clip(y, _EPS, 1 - _EPS)
            dz = error / (p * (1 - p)) * dy
        sums, counts = self._grad_sum, self._grad_count  # a part may have been applied already
        self._grad_sum = {
            "weights": sums.get("weights", np.zeros(len(self.weights))) + dz @ x,
            "bias": sums.get("bias", 0.0) + float(np.sum(dz)),
        }
        self._grad_count = {"weights": counts.get("weights", 0) + len(dz), "bias": counts.get("bias", 0) + len(dz)}
        return self

    def _gradient(self, which: str) -> np.ndarray:
        """The gradient an update of ``which`` applies: the mean accumulated gradient plus the
        regularisation terms, clipped (zeros when nothing is accumulated)."""
        n = self._grad_count.get(which, 0)
        if which == "weights":
            if not n:
                return np.zeros(len(self.weights))
            w = np.asarray(self.weights, dtype=float)
            g = self._grad_sum["weights"] / n + self.l2 * w + self.l1 * np.sign(w)
        else:
            g = np.atleast_1d(self._grad_sum["bias"] / n if n else 0.0)
        if self.clip_value is not None:
            if self.clip_norm:
                norm = float(np.linalg.norm(g))
                if norm > self.clip_value:
                    g = g * (self.clip_value / norm)
            else:
                g = np.clip(g, -self.clip_value, self.clip_value)
        return g

    def GetGrads(self) -> dict[str, Any]:
        """The present gradients (copies), as the next update would apply them.

        The mean of the accumulated gradients plus the regularisation terms, clipped.

        Returns
        -------
        dict
            ``weights`` (array), ``bias`` (float) and ``samples`` (how many are accumulated).

        Examples
        --------
        >>> SourcedNeuron("lif", n_inputs=2).GetGrads()["weights"]
        array([0., 0.])
        """
        return {
            "weights": self._gradient("weights").copy(),
            "bias": float(self._gradient("bias")[0]),
            "samples": int(self._grad_count.get("weights", 0)),
        }

    def ResetGrads(self) -> Learning:
        """Zero the accumulated gradients (of the weights and the bias) before a new iteration;
        the optimiser's state is kept.

        Examples
        --------
        >>> SourcedNeuron("lif").SetTarget(1.0).BackProp().ResetGrads().GetGrads()["bias"]
        0.0
        """
        self._grad_sum, self._grad_count = {}, {}
        return self

    def BatchSize(self, n: int | None = None) -> Any:
        """Set how many samples are back-propagated before a weight update (or, without ``n``, return it).

        ``UpdWeight`` and ``UpdBias`` act once at least ``n`` samples have accumulated, with
        their mean gradient, and do nothing before.

        Examples
        --------
        >>> SourcedNeuron("lif").BatchSize(16).BatchSize()
        16
        """
        if n is None:
            return self.samples_per_update
        self.samples_per_update = _count(n, "batch size")
        return self

    # --- updates --------------------------------------------------------------------------------

    def _rate(self, lr: Any) -> float:
        return self.learning_rate if lr is None else number(lr, "learning rate", 0.0, open_low=True)

    def _step(self, which: str, g: np.ndarray, lr: float) -> np.ndarray:
        """The optimiser's step (to subtract) for the gradient ``g`` of ``which``."""
        opt = self.optimizer
        name = opt["name"]
        state = dict(self._opt_state.get(which, {}))
        if name == "sgd":
            step = lr * g
        elif name == "momentum":
            velocity = opt["v"] * state.get("velocity", 0.0) + g
            state["velocity"] = velocity
            step = lr * velocity
        elif name == "adam":
            k = state.get("k", 0) + 1
            m = opt["beta1"] * state.get("m", 0.0) + (1 - opt["beta1"]) * g
            s = opt["beta2"] * state.get("s", 0.0) + (1 - opt["beta2"]) * g**2
            state.update(k=k, m=m, s=s)
            m_hat, s_hat = m / (1 - opt["beta1"] ** k), s / (1 - opt["beta2"] ** k)
            step = lr * m_hat / (np.sqrt(s_hat) + opt["eps"])
        elif name == "rmsprop":
            s = opt["rho"] * state.get("s", 0.0) + (1 - opt["rho"]) * g**2
            state["s"] = s
            step = lr * g / (np.sqrt(s) + opt["eps"])
        else:  # adagrad
            s = state.get("s", 0.0) + g**2
            state["s"] = s
            step = lr * g / (np.sqrt(s) + opt["eps"])
        self._opt_state = {**self._opt_state, which: state}
        return np.asarray(step, dtype=float)

    def _ready(self, which: str) -> bool:
        n = self._grad_count.get(which, 0)
        return n > 0 and n >= self.samples_per_update

    def _consume(self, which: str) -> None:
        self._grad_sum = {k: v for k, v in self._grad_sum.items() if k != which}
        self._grad_count = {k: v for k, v in self._grad_count.items() if k != which}

    def UpdWeight(self, lr: float | None = None) -> Learning:
        """Adjust the weights by one optimiser step with the accumulated gradient and the learning rate.

        The gradient is the mean over its samples, regularised and clipped; it is cleared
        afterwards. Does nothing until ``BatchSize`` samples have been back-propagated. The new
        weights stay within the bounds of ``SetMaxWeight`` and ``SetMinWeight``.

        Parameters
        ----------
        lr : float, optional
            Learning rate for this step; default: the present rate (``SetLR``, default 0.1).

        Examples
        --------
        >>> neuron.SetTarget(1.0).BackProp().UpdWeight(0.5).weights  # doctest: +SKIP
        array([0.125, 0.25 ])
        """
        rate = self._rate(lr)
        if not self._ready("weights"):
            return self
        old, state = np.asarray(self.weights, dtype=float).copy(), self._opt_state
        with np.errstate(over="ignore", invalid="ignore"):
            new = old - self._step("weights", self._gradient("weights"), rate)
        if self.l1 > 0:  # a weight carried across zero stops there
            new = np.where((old != 0) & (np.sign(new) != np.sign(old)), 0.0, new)
        new = self._within_limits(new)
        if not np.all(np.isfinite(new)):
            self._opt_state = state
            raise InputError("the weight update is not finite (lower the learning rate or clip the gradients)")
        self._consume("weights")
        self.weights[:] = new
        self._weights_changed()
        return self

    def _within_limits(self, w: np.ndarray) -> np.ndarray:
        """``w`` kept within ``SetMaxWeight``'s bound (``|w_i| <= max``) and ``SetMinWeight``'s
        floor (``|w_i| >= min``, a zero weight becoming ``+min``), when those are set."""
        ceiling, floor = self._max_weight, self._min_weight  # the validation section's bounds
        if ceiling is not None:
            w = np.clip(w, -ceiling, ceiling)
        if floor:
            w = np.where(np.abs(w) < floor, np.where(w < 0, -floor, floor), w)
        return w

    def UpdBias(self, lr: float | None = None) -> Learning:
        """Update the bias, which sets how much input the neuron needs to fire, by one optimiser step.

        Uses the accumulated gradient (mean over its samples, clipped), then clears it. Does
        nothing until ``BatchSize`` samples have been back-propagated.

        Parameters
        ----------
        lr : float, optional
            Learning rate for this step; default: the present rate.

        Examples
        --------
        >>> SourcedNeuron("lif").SetTarget(1.0).BackProp().UpdBias(0.5).bias
        0.125
        """
        rate = self._rate(lr)
        if not self._ready("bias"):
            return self
        state = self._opt_state
        with np.errstate(over="ignore", invalid="ignore"):
            new = float(self.bias - self._step("bias", self._gradient("bias"), rate)[0])
        if not np.isfinite(new):
            self._opt_state = state
            raise InputError("the bias update is not finite (lower the learning rate or clip the gradients)")
        self._consume("bias")
        self.bias = new
        return self

    def SetLR(self, rate: float) -> Learning:
        """Set the learning rate of the optimiser (also the starting rate of ``DecayLR``).

        Examples
        --------
        >>> SourcedNeuron("lif").SetLR(0.05).learning_rate
        0.05
        """
        value = number(rate, "learning rate", 0.0, open_low=True)
        self.learning_rate = self._lr0 = value
        return self

    def DecayLR(self, step: int, decay: float = 0.01, schedule: str = "inverse") -> float:
        """Reduce the learning rate with the training step, so that the weights converge; returns the new rate.

        ``schedule="inverse"``: ``lr = lr0 / (1 + decay * step)``; ``"exponential"``:
        ``lr = lr0 * exp(-decay * step)``; ``lr0`` is the rate last set by ``SetLR``.

        Parameters
        ----------
        step : int
            The training step (epoch or iteration), >= 0.
        decay : float
            Decay constant (>= 0).
        schedule : str
            ``"inverse"`` or ``"exponential"``.

        Examples
        --------
        >>> SourcedNeuron("lif").SetLR(0.1).DecayLR(10, decay=0.1)
        0.05
        """
        k = _count(step, "step", minimum=0)
        d = number(decay, "decay", 0.0)
        if schedule == "inverse":
            rate = self._lr0 / (1.0 + d * k)
        elif schedule == "exponential":
            rate = self._lr0 * float(np.exp(-d * k))
        else:
            raise InputError(f"schedule must be 'inverse' or 'exponential', got {schedule!r}")
        if rate <= 0:
            raise InputError(f"the decayed learning rate underflows to 0 at step {step}")
        self.learning_rate = rate
        return rate

    def ClipGrad(self, val: float | None, norm: bool = False) -> Learning:
        """Cap the gradients that updates apply (each component to ``[-val, val]``), against exploding gradients.

        With ``norm=True``, each parameter's gradient (the weights; the bias) is rescaled to an
        L2 norm of at most ``val`` instead. ``None`` turns clipping off.

        Examples
        --------
        >>> SourcedNeuron("lif").ClipGrad(1.0).clip_value
        1.0
        """
        if not isinstance(norm, bool):
            raise InputError(f"norm must be True or False, got {norm!r}")
        self.clip_value = None if val is None else number(val, "clip value", 0.0, open_low=True)
        self.clip_norm = norm
        return self

    def L1Reg(self, lam: float) -> Learning:
        """Add Lasso regularisation ``lam * sum|w|`` to the loss, for sparse weights.

        It drives the weights of uninformative inputs to exactly zero; 0 turns it off.

        Examples
        --------
        >>> SourcedNeuron("lif").L1Reg(0.01).l1
        0.01
        """
        self.l1 = number(lam, "L1 coefficient", 0.0)
        return self

    def L2Reg(self, lam: float) -> Learning:
        """Add ridge regularisation ``lam / 2 * |w|^2`` to the loss, which keeps the weights small.

        The gradient gains ``lam * w`` (weight decay); the bias is not regularised; 0 turns it off.

        Examples
        --------
        >>> SourcedNeuron("lif").L2Reg(0.001).l2
        0.001
        """
        self.l2 = number(lam, "L2 coefficient", 0.0)
        return self

    # --- optimisers -----------------------------------------------------------------------------

    def _select(self, **optimizer: Any) -> Learning:
        self.optimizer = optimizer
        self._opt_state = {}
        return self

    def MomUpdate(self, v: float = 0.9) -> Learning:
        """Use momentum for the updates, which carries the weights through flat regions and shallow minima.

        Polyak's heavy ball, as PyTorch's SGD: the velocity ``u <- v u + g`` accumulates past
        gradients and the step is ``lr u``. ``v = 0`` is plain SGD. Resets the velocity.

        Examples
        --------
        >>> SourcedNeuron("lif").MomUpdate(0.8).optimizer
        {'name': 'momentum', 'v': 0.8}
        """
        coefficient = _fraction(v, "momentum coefficient v")
        if coefficient == 0:
            return self._select(name="sgd")
        return self._select(name="momentum", v=coefficient)

    def AdamOpt(self, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8) -> Learning:
        """Use the Adam optimiser for the updates.

        Adam (Kingma & Ba 2015) steps by ``lr m^ / (sqrt(s^) + eps)`` with bias-corrected
        moving averages of the gradient (``m``) and of its square (``s``). Resets Adam's state.

        Examples
        --------
        >>> SourcedNeuron("lif").AdamOpt().optimizer["name"]
        'adam'
        """
        return self._select(
            name="adam",
            beta1=_fraction(beta1, "beta1"),
            beta2=_fraction(beta2, "beta2"),
            eps=number(eps, "eps", 0.0, open_low=True),
        )

    def RMSProp(self, rho: float = 0.9, eps: float = 1e-8) -> Learning:
        """Use RMSProp: the gradient divided by the root of a moving average of squared gradients.

        RMSProp (Hinton 2012): ``s <- rho s + (1 - rho) g^2``, step ``lr g / (sqrt(s) + eps)``.
        Resets the average.

        Examples
        --------
        >>> SourcedNeuron("lif").RMSProp(rho=0.95).optimizer["rho"]
        0.95
        """
        return self._select(name="rmsprop", rho=_fraction(rho, "rho"), eps=number(eps, "eps", 0.0, open_low=True))

    def AdaGrad(self, eps: float = 1e-8) -> Learning:
        """Use AdaGrad: each parameter's rate shrinks with the sum of its squared gradients.

        AdaGrad (Duchi et al. 2011) divides the rate by the root of that sum, so often-updated
        parameters slow down and rarely-updated ones keep large steps. Resets the sums.

        Examples
        --------
        >>> SourcedNeuron("lif").AdaGrad().optimizer["name"]
        'adagrad'
        """
        return self._select(name="adagrad", eps=number(eps, "eps", 0.0, open_low=True))

    # --- one-line training ----------------------------------------------------------------------

    def _data(self, X: Any, y: Any = None) -> tuple[np.ndarray, np.ndarray | None]:
        n = len(self.weights)
        try:
            inputs = np.asarray(X, dtype=float)
        except (TypeError, ValueError):
            raise InputError(f"X must be numbers, got {X!r}") from None
        if inputs.ndim == 1 and n == 1:
            inputs = inputs[:, None]
        if inputs.ndim != 2 or inputs.shape[1] != n or len(inputs) == 0:
            raise InputError(f"X must have shape (samples, {n}), got {inputs.shape}")
        if not np.all(np.isfinite(inputs)):
            raise InputError("X must be finite")
        if y is None:
            return inputs, None
        goals = finite_vector(np.asarray(y, dtype=float).reshape(-1) if np.ndim(y) == 2 else y, "y")
        if len(goals) != len(inputs):
            raise InputError(f"y must have one target per row of X ({len(inputs)}), got {len(goals)}")
        return inputs, goals

    def Loss(self, X: ArrayLike, y: ArrayLike, loss: str | None = None) -> float:
        """The mean loss of the data set ``(X, y)`` with the present weights (no dropout, no
        regularisation term) (an extra of the wrapper).

        Examples
        --------
        >>> SourcedNeuron("lif", n_inputs=1, activation="linear").Loss([[1.0], [2.0]], [1.0, 2.0])
        2.5
        """
        loss = self.loss_name if loss is None else loss
        self._check_loss(loss)
        inputs, goals = self._data(X, y)
        z, out, _ = self._forward(inputs, training=False)
        return float(np.mean(self._loss_terms(loss, z, out, goals, self.activation == "sigmoid")))

    def Train(
        self,
        X: ArrayLike,
        y: ArrayLike,
        epochs: int = 100,
        lr: float | None = None,
        shuffle: bool = True,
        loss: str | None = None,
    ) -> list[float]:
        """Train the artificial neuron on a data set: for each epoch, mini-batches of
        ``BatchSize`` rows (shuffled with the neuron's random stream), each one ``ProcInput``,
        ``SetTarget``, ``BackProp``, ``UpdWeight``, ``UpdBias``, with the selected optimiser,
        regularisation and clipping (an extra of the wrapper; also ``fit``). The present input
        and target are restored afterwards.

        Parameters
        ----------
        X : array (samples, n_inputs)
        y : array (samples,)
        epochs : int
        lr : float, optional
            Learning rate (also set as the present rate, ``SetLR``); default: the present rate.
        shuffle : bool
            Present the rows in a new random order each epoch.
        loss : str, optional
            ``"mse"``, ``"log"`` or ``"huber"`` (also set as the present loss); default: ``SetLoss``'s.

        Returns
        -------
        list of float
            The mean loss over the data set after each epoch.

        Examples
        --------
        >>> losses = SourcedNeuron("lif", n_inputs=2).Train([[0, 0], [0, 1], [1, 0], [1, 1]], [0, 0, 0, 1], 200)
        """
        inputs, goals = self._data(X, y)
        rounds = _count(epochs, "epochs")
        if not isinstance(shuffle, bool):
            raise InputError(f"shuffle must be True or False, got {shuffle!r}")
        if loss is not None:
            self._check_loss(loss)
        if lr is not None:
            self.SetLR(lr)
        if loss is not None:
            self.SetLoss(loss)
        self._check_loss(self.loss_name)
        if self.loss_name == "log" and np.any((goals < 0) | (goals > 1)):
            raise InputError("log loss needs targets in [0, 1]")
        saved = (self.inputs, self.target, self._input_since)
        size = self.samples_per_update
        history = []
        try:
            self.ResetGrads()
            for _ in range(rounds):
                order = self.rng.permutation(len(inputs)) if shuffle else np.arange(len(inputs))
                for start in range(0, len(order), size):
                    rows = order[start : start + size]
                    self.ProcInput(inputs[rows])
                    self.SetTarget(goals[rows])
                    self.BackProp()
                    if len(rows) < size:  # the short last batch of an epoch updates too
                        self._apply_partial()
                    else:
                        self.UpdWeight().UpdBias()
                history.append(self.Loss(inputs, goals))
        finally:
            self.inputs, self.target = saved[0], saved[1]
            self._input_since = saved[2]
        return history

    def _apply_partial(self) -> None:
        """Apply a mini-batch smaller than ``BatchSize`` (the last of an epoch)."""
        size = self.samples_per_update
        self.samples_per_update = 1
        try:
            self.UpdWeight()
            self.UpdBias()
        finally:
            self.samples_per_update = size

    def Predict(self, X: ArrayLike) -> np.ndarray:
        """The artificial neuron's outputs for the rows of ``X`` (no dropout) (an extra of the
        wrapper; also ``predict``).

        Examples
        --------
        >>> SourcedNeuron("lif", n_inputs=2, activation="linear").SetWeight([1, 2]).Predict([[1, 1], [0, 1]])
        array([3., 2.])
        """
        inputs, _ = self._data(X)
        return np.atleast_1d(np.asarray(self.output(inputs), dtype=float))

    fit = Train
    train = Train
    predict = Predict
    set_loss = SetLoss
