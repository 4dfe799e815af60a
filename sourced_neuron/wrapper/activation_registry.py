"""The activations of the artificial neuron, by name: each one's function and derivative.

:data:`ACTIVATIONS` maps each activation's name to ``(f, df)``: the function and its
derivative, both vectorised NumPy functions of an array. Two activations take a parameter,
written in the name: ``"leaky_relu(a=0.2)"`` and ``"elu(a=0.5)"`` (``"leaky_relu"`` means
``a = 0.01``, ``"elu"`` ``a = 1``); the registry builds those on first use, so a saved neuron's
activation name reads back. ``core.NeuronCore.output`` applies ``f``, ``Learning.BackProp``
uses ``df``, and the API section :mod:`sourced_neuron.wrapper.activations` computes them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import numpy as np
from scipy.special import expit

from sourced_neuron.common.errors import InputError

__all__ = ["ACTIVATIONS", "BASE_NAMES", "Function", "activation_pair", "parameter_name"]

Function = Callable[[np.ndarray], np.ndarray]


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

#: the names of the activations without a parameter in the name, in order
BASE_NAMES = tuple(ACTIVATIONS)


def activation_pair(name: Any) -> tuple[Function, Function]:
    """``(f, df)`` of an activation name, or :class:`InputError` naming the known ones."""
    try:
        return ACTIVATIONS[name]
    except (KeyError, TypeError):
        known = ", ".join(BASE_NAMES)
        raise InputError(
            f"activation must be one of {known} (or 'leaky_relu(a=0.2)', 'elu(a=0.5)' with a >= 0), got {name!r}"
        ) from None


def parameter_name(base: str, a: float) -> str:
    """The activation name of ``base`` (``"leaky_relu"``, ``"elu"``) with parameter ``a``: the
    bare name for the default ``a``, else ``"base(a=...)"``."""
    return base if a == _PARAMETRISED[base][1] else f"{base}(a={a!r})"
