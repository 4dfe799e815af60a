"""Activation functions: the artificial neuron's output ``f(z)`` of its weighted sum ``z``, and
the width of the spiking neuron's input pulses.

The activations themselves, by name, are in :mod:`sourced_neuron.wrapper.activation_registry`
(:data:`ACTIVATIONS` and :func:`activation_pair`, re-exported here).

The ``Act...`` methods compute an activation: of ``x`` when it is given, otherwise of the
neuron's present weighted sum (minus the ``BiasShift``). They never change the neuron unless
called with ``use=True``, which also makes it the neuron's activation (as
:meth:`ActivationFunctions.SetActivation` does).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import quantities as pq
from scipy.special import softmax

from sourced_neuron.common.errors import InputError, UnitError
from sourced_neuron.wrapper.activation_registry import ACTIVATIONS, activation_pair, parameter_name
from sourced_neuron.wrapper.arguments import ArrayLike, Duration
from sourced_neuron.wrapper.core import NeuronCore, number, numbers

__all__ = ["ACTIVATIONS", "ActivationFunctions", "activation_pair"]


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
        return self._activate(parameter_name("leaky_relu", slope), x, use)

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
        return self._activate(parameter_name("elu", alpha), x, use)

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
