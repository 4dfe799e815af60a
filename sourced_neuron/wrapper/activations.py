"""Activation functions: the artificial neuron's output ``f(z)`` of its weighted sum ``z``, and
the width of the spiking neuron's input pulses.

:data:`ACTIVATIONS` maps each activation's name to ``(f, df)``: the function and its
derivative, both vectorised NumPy functions of an array. ``core.NeuronCore.output`` applies
``f``, ``Learning.BackProp`` uses ``df``. Two activations take a parameter, written in the name:
``"leaky_relu(a=0.2)"`` and ``"elu(a=0.5)"`` (``"leaky_relu"`` means ``a = 0.01``, ``"elu"``
``a = 1``); the registry builds those on first use, so a saved neuron's activation name reads
back.

The ``Act...`` methods compute an activation: of ``x`` when it is given, otherwise of the
neuron's present weighted sum (minus the ``BiasShift``). They never change the neuron unless
called with ``use=True``, which also makes it the neuron's activation (as
:meth:`ActivationFunctions.SetActivation` does).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import numpy as np
import quantities as pq
from scipy.special import expit, softmax

from ..errors import InputError, UnitError
from .arguments import ArrayLike, Duration
from .core import NeuronCore, number, numbers

Function = Callable[[np.ndarray], np.ndarray]

__all__ = ["ACTIVATIONS", "ActivationFunctions", "activation_pair"]


def _relu(x):
    return np.maximum(x, 0.0)


def _relu_d(x):
    return (np.asarray(x) > 0).astype(float)


def _sigmoid(x):
    return expit(x)  # no overflow for large |x|


def _sigmoid_d(x):
    s = expit(x)
    return s * (1.0 - s)


def _tanh_d(x):
    return 1.0 - np.tanh(x) ** 2


def _leaky(a: float) -> tuple[Function, Function]:
    def f(x):
        x = np.asarray(x, dtype=float)
        return np.where(x > 0, x, a * x)

    def df(x):
        return np.where(np.asarray(x) > 0, 1.0, a)

    return f, df


def _elu(a: float) -> tuple[Function, Function]:
    def f(x):
        x = np.asarray(x, dtype=float)
        return np.where(x > 0, x, a * np.expm1(np.minimum(x, 0.0)))

    def df(x):
        x = np.asarray(x, dtype=float)
        return np.where(x > 0, 1.0, a * np.exp(np.minimum(x, 0.0)))

    return f, df


def _swish(x):
    return x * expit(x)


def _swish_d(x):
    s = expit(x)
    return s + x * s * (1.0 - s)


def _softplus(x):
    return np.logaddexp(0.0, x)  # log(1 + e^x) without overflow


def _mish(x):
    return x * np.tanh(np.logaddexp(0.0, x))


def _mish_d(x):
    t = np.tanh(np.logaddexp(0.0, x))
    return t + x * (1.0 - t**2) * expit(x)


def _step(x):
    return np.heaviside(x, 1.0)  # 1 from the threshold (z >= 0) on


def _step_d(x):
    return np.zeros_like(np.asarray(x, dtype=float))


def _linear(x):
    return np.asarray(x, dtype=float) * 1.0


def _linear_d(x):
    return np.ones_like(np.asarray(x, dtype=float))


_PARAMETRISED = {"leaky_relu": (_leaky, 0.01), "elu": (_elu, 1.0)}
_NAME = re.compile(r"^(leaky_relu|elu)\(a=([^)]+)\)$")


class _Registry(dict):
    """The activations by name; ``"leaky_relu(a=0.2)"`` and ``"elu(a=0.5)"`` are built on first
    use (and kept)."""

    def __missing__(self, name: str) -> tuple[Function, Function]:
        match = _NAME.match(name) if isinstance(name, str) else None
        if match is None:
            raise KeyError(name)
        factory, _ = _PARAMETRISED[match.group(1)]
        try:
            a = float(match.group(2))
        except ValueError:
            raise KeyError(name) from None
        if not np.isfinite(a) or a < 0:
            raise KeyError(name)
        pair = factory(a)
        self[name] = pair
        return pair


#: name -> (f, df): each activation and its derivative (vectorised, numerically stable).
#: ``"step"`` has derivative 0 everywhere (undefined at 0): a step neuron cannot learn by
#: gradients, so ``BackProp`` uses the perceptron rule for it.
ACTIVATIONS: dict[str, tuple[Function, Function]] = _Registry(
    relu=(_relu, _relu_d),
    sigmoid=(_sigmoid, _sigmoid_d),
    tanh=(np.tanh, _tanh_d),
    leaky_relu=_leaky(0.01),
    elu=_elu(1.0),
    swish=(_swish, _swish_d),
    softplus=(_softplus, expit),
    mish=(_mish, _mish_d),
    step=(_step, _step_d),
    linear=(_linear, _linear_d),
)

_BASE_NAMES = tuple(ACTIVATIONS)


def activation_pair(name: Any) -> tuple[Function, Function]:
    """``(f, df)`` of an activation name, or :class:`InputError` naming the known ones."""
    try:
        return ACTIVATIONS[name]
    except (KeyError, TypeError):
        known = ", ".join(_BASE_NAMES)
        raise InputError(
            f"activation must be one of {known} (or 'leaky_relu(a=0.2)', 'elu(a=0.5)' with a >= 0), got {name!r}"
        ) from None


def _parameter_name(base: str, a: float) -> str:
    return base if a == _PARAMETRISED[base][1] else f"{base}(a={a!r})"


class ActivationFunctions(NeuronCore):
    """Functions 25-36 of the API."""

    # --- shared ---------------------------------------------------------------------------------

    def _activate(self, name: str, x: Any, use: bool) -> float | np.ndarray:
        """``f(x)`` of the activation ``name`` (``x`` None: of the present weighted sum minus
        the shift); with ``use``, ``name`` becomes the neuron's activation."""
        f = activation_pair(name)[0]
        if x is None:
            z = np.asarray(self.weighted_sum(), dtype=float) - self.activation_shift
        else:
            z = numbers(x, "x")
        if not isinstance(use, bool):
            raise InputError(f"use must be True or False, got {use!r}")
        y = f(z)
        if use:
            self.activation = name
        return float(y) if np.ndim(y) == 0 else np.asarray(y, dtype=float)

    def SetActivation(self, name: str) -> ActivationFunctions:
        """Make ``name`` the neuron's activation: the output ``f(z)`` that ``output``,
        ``Predict`` and the learning functions use (an extra of the wrapper, not one of the 100).

        Parameters
        ----------
        name : str
            ``"relu"``, ``"sigmoid"``, ``"tanh"``, ``"leaky_relu"``, ``"elu"``, ``"swish"``,
            ``"softplus"``, ``"mish"``, ``"step"``, ``"linear"``, or ``"leaky_relu(a=0.2)"`` /
            ``"elu(a=0.5)"`` with a parameter.

        Examples
        --------
        >>> SourcedNeuron("lif", n_inputs=1).SetActivation("tanh").activation
        'tanh'
        """
        activation_pair(name)
        self.activation = name
        return self

    # --- the 12 functions -----------------------------------------------------------------------

    def ActReLU(self, x: ArrayLike | None = None, use: bool = False) -> float | np.ndarray:
        """Apply the rectified linear unit, ``max(0, x)``, which adds non-linearity.

        Parameters
        ----------
        x : float or array, optional
            Values to transform; default: the neuron's present weighted sum (minus the shift).
        use : bool
            Also make ReLU the neuron's activation.

        Returns
        -------
        float or ndarray
            ``max(0, x)``, of the shape of ``x``.

        Examples
        --------
        >>> SourcedNeuron("lif").ActReLU([-2.0, 0.5, 3.0])
        array([0. , 0.5, 3. ])
        """
        return self._activate("relu", x, use)

    def ActSigmoid(self, x: ArrayLike | None = None, use: bool = False) -> float | np.ndarray:
        """Apply the logistic sigmoid, ``1 / (1 + exp(-x))``, which maps the signal into (0, 1).

        Computed without overflow for large ``|x|``.

        Parameters
        ----------
        x : float or array, optional
            Default: the present weighted sum (minus the shift).
        use : bool
            Also make the sigmoid the neuron's activation.

        Examples
        --------
        >>> SourcedNeuron("lif").ActSigmoid(0.0)
        0.5
        """
        return self._activate("sigmoid", x, use)

    def ActTanh(self, x: ArrayLike | None = None, use: bool = False) -> float | np.ndarray:
        """Apply the hyperbolic tangent, which maps inputs into (-1, 1), centred on zero.

        Parameters
        ----------
        x : float or array, optional
            Default: the present weighted sum (minus the shift).
        use : bool
            Also make tanh the neuron's activation.

        Examples
        --------
        >>> round(SourcedNeuron("lif").ActTanh(0.5), 6)
        0.462117
        """
        return self._activate("tanh", x, use)

    def ActSoftmax(self, v: ArrayLike) -> np.ndarray:
        """Convert a vector of values into a probability distribution, ``exp(v_i) / sum_j exp(v_j)``.

        Computed after subtracting the maximum, so large values do not overflow; for a 2-d
        array, along each row.

        Parameters
        ----------
        v : array
            One vector, or rows of vectors.

        Returns
        -------
        ndarray
            Non-negative values of the shape of ``v`` that sum to 1 (per row).

        Examples
        --------
        >>> SourcedNeuron("lif").ActSoftmax([1.0, 2.0, 3.0]).round(4)
        array([0.09  , 0.2447, 0.6652])
        """
        if isinstance(v, bool):
            raise InputError(f"v must be a vector of numbers, got {v!r}")
        try:
            array = np.asarray(v, dtype=float)
        except (TypeError, ValueError):
            raise InputError(f"v must be a vector of numbers, got {v!r}") from None
        if array.ndim not in (1, 2) or array.shape[-1] == 0:
            raise InputError(f"v must be a non-empty vector or rows of vectors, got shape {array.shape}")
        if not np.all(np.isfinite(array)):
            raise InputError(f"v must be finite, got {v!r}")
        return softmax(array, axis=-1)

    def ActLeaky(self, x: ArrayLike | None = None, a: float = 0.01, use: bool = False) -> float | np.ndarray:
        """Apply the leaky ReLU, ``x`` for ``x > 0`` and ``a x`` otherwise, which keeps neurons from "dying".

        The small slope ``a`` below zero gives a neuron with negative input a gradient still.

        Parameters
        ----------
        x : float or array, optional
            Default: the present weighted sum (minus the shift).
        a : float
            Slope for negative inputs (>= 0; default 0.01).
        use : bool
            Also make this leaky ReLU (with this ``a``) the neuron's activation.

        Examples
        --------
        >>> SourcedNeuron("lif").ActLeaky([-2.0, 3.0], a=0.1)
        array([-0.2,  3. ])
        """
        slope = number(a, "a")
        if slope < 0:
            raise InputError(f"a (the leaky ReLU's negative slope) must be >= 0, got {a!r}")
        return self._activate(_parameter_name("leaky_relu", slope), x, use)

    def ActELU(self, x: ArrayLike | None = None, a: float = 1.0, use: bool = False) -> float | np.ndarray:
        """Apply the exponential linear unit, ``x`` for ``x > 0`` and ``a (exp(x) - 1)`` otherwise.

        ELU (Clevert et al. 2016) is smooth, and its negative outputs push the mean activation
        towards zero, which speeds up learning and makes it robust to noise.

        Parameters
        ----------
        x : float or array, optional
            Default: the present weighted sum (minus the shift).
        a : float
            The value approached for very negative ``x`` is ``-a`` (> 0; default 1).
        use : bool
            Also make this ELU (with this ``a``) the neuron's activation.

        Examples
        --------
        >>> SourcedNeuron("lif").ActELU([-1.0, 2.0]).round(4)
        array([-0.6321,  2.    ])
        """
        alpha = number(a, "a")
        if alpha <= 0:
            raise InputError(f"a (the ELU's saturation value) must be > 0, got {a!r}")
        return self._activate(_parameter_name("elu", alpha), x, use)

    def ActSwish(self, x: ArrayLike | None = None, use: bool = False) -> float | np.ndarray:
        """Apply swish, ``x * sigmoid(x)``: the input gated by its own sigmoid.

        Swish (SiLU; Ramachandran et al. 2017) was found by search to suit deep networks.

        Parameters
        ----------
        x : float or array, optional
            Default: the present weighted sum (minus the shift).
        use : bool
            Also make swish the neuron's activation.

        Examples
        --------
        >>> round(SourcedNeuron("lif").ActSwish(1.0), 6)
        0.731059
        """
        return self._activate("swish", x, use)

    def PulseWidth(self, t: Duration | float | None = None) -> Any:
        """Set how long each input pulse drives the spiking neuron (or, without ``t``, return it).

        After ``ProcInput``, the drive lasts ``t`` and is zero afterwards, until the next
        ``ProcInput``; ``t = 0`` (the default state) means an input acts until the next one.

        Parameters
        ----------
        t : str or quantity, optional
            A duration (``"5 ms"``), a whole number of the model's time steps (at least one), or 0.

        Examples
        --------
        >>> SourcedNeuron("lif").PulseWidth("5 ms").PulseWidth()
        array(5.) * ms
        """
        if t is None:
            return self.pulse_length * 1e3 * pq.ms
        if isinstance(t, int | float | np.integer | np.floating) and not isinstance(t, bool) and t == 0:
            self.pulse_length = 0.0
            return self
        try:
            steps = self.steps_of(t, "pulse width t")
        except UnitError as error:
            raise InputError(f"pulse width t must be a duration such as '5 ms' (or 0), got {t!r}: {error}") from None
        self.pulse_length = steps * self.dt
        return self

    def StepFunc(self, x: ArrayLike | None = None, use: bool = False) -> float | np.ndarray:
        """Apply the binary step function: 1 where ``x >= 0``, else 0, as in logic-gate neurons.

        The Heaviside step of McCulloch-Pitts neurons and the perceptron.

        A step neuron has no useful gradient (the derivative is 0 away from the threshold), so
        ``BackProp`` trains it with the perceptron rule ``w <- w - lr (y - t) x``.

        Parameters
        ----------
        x : float or array, optional
            Default: the present weighted sum (minus the shift).
        use : bool
            Also make the step the neuron's activation.

        Examples
        --------
        >>> SourcedNeuron("lif").StepFunc([-0.5, 0.0, 2.0])
        array([0., 1., 1.])
        """
        return self._activate("step", x, use)

    def LinearFunc(self, x: ArrayLike | None = None, use: bool = False) -> float | np.ndarray:
        """Apply the identity: the output is the input, untransformed (a linear neuron, as in
        linear regression).

        Parameters
        ----------
        x : float or array, optional
            Default: the present weighted sum (minus the shift).
        use : bool
            Also make the identity the neuron's activation.

        Examples
        --------
        >>> SourcedNeuron("lif").SetBias(1.5).LinearFunc()
        1.5
        """
        return self._activate("linear", x, use)

    def SoftPlus(self, x: ArrayLike | None = None, use: bool = False) -> float | np.ndarray:
        """Apply softplus, ``log(1 + exp(x))``: a smooth approximation of the ReLU.

        Computed without overflow for large ``x``.

        Parameters
        ----------
        x : float or array, optional
            Default: the present weighted sum (minus the shift).
        use : bool
            Also make softplus the neuron's activation.

        Examples
        --------
        >>> round(SourcedNeuron("lif").SoftPlus(0.0), 6)
        0.693147
        """
        return self._activate("softplus", x, use)

    def MishAct(self, x: ArrayLike | None = None, use: bool = False) -> float | np.ndarray:
        """Apply Mish, ``x * tanh(softplus(x))``: smooth, non-monotonic and self-regularising.

        Mish (Misra 2019) is slightly negative for negative inputs.

        Parameters
        ----------
        x : float or array, optional
            Default: the present weighted sum (minus the shift).
        use : bool
            Also make Mish the neuron's activation.

        Examples
        --------
        >>> round(SourcedNeuron("lif").MishAct(1.0), 6)
        0.865098
        """
        return self._activate("mish", x, use)

    set_activation = SetActivation
