"""Validation and metrics: checks of the neuron's numbers (non-finite values, weight bounds,
saturation, architecture, dependencies) and measures of its behaviour (peak voltage, firing
rate, the artificial neuron's losses).

Weight bounds: ``SetMaxWeight(w)`` clips every weight to ``[-w, w]``; ``SetMinWeight(m)``
raises every weight's magnitude to at least ``m`` keeping its sign (a zero weight becomes
``+m``), so that no connection is dead. Both keep their bound: ``UpdWeight`` keeps learnt
weights within them, and :meth:`Validation.CheckLimit` checks the weights against them (weights
set directly, ``SetWeight``, may lie outside).

Losses (the artificial neuron's present output ``y`` against the target ``t``, the mean over
the samples of a batch), as ``Learning`` computes them: ``MSELoss`` ``(y - t)^2``,
``HuberLoss`` ``(y - t)^2 / 2`` within ``delta`` and ``delta (|y - t| - delta / 2)`` beyond,
``LogLoss`` the binary cross-entropy ``-(t ln y + (1 - t) ln(1 - y))`` with ``y`` clipped to
``[1e-12, 1 - 1e-12]``.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
from collections.abc import Mapping
from typing import Any

import neo
import numpy as np
import quantities as pq

from sourced_neuron.backends import backend_status
from sourced_neuron.common.errors import InputError, SourcedNeuronError
from sourced_neuron.common.version import package_version
from sourced_neuron.wrapper.arguments import ArrayLike, Duration
from sourced_neuron.wrapper.core import Neuron, NeuronCore, number, numbers, seconds

_EPS = 1e-12  # log loss clips probabilities to [_EPS, 1 - _EPS] (as Learning does)

#: (import name, distribution name, what it is for) of CheckDep
DEPENDENCIES = (
    ("numpy", "numpy", "required"),
    ("scipy", "scipy", "required"),
    ("quantities", "quantities", "required"),
    ("neo", "neo", "required"),
    ("elephant", "elephant", "required (analysis)"),
    ("matplotlib", "matplotlib", "plots"),
    ("brian2", "brian2", "the brian2 backends"),
    ("brian2cuda", "brian2cuda", "the brian2-cuda backend"),
    ("pyNN", "PyNN", "the nest backend"),
    ("nest", "nest-simulator", "the nest backend"),
    ("pynestml", "NESTML", "the nest backend"),
)

#: attributes CheckNaN does not scan as numbers (objects, or scanned on their own)
_NOT_NUMBERS = frozenset({"model", "initial", "history", "epochs", "_record", "_live", "rng", "_links", "dtype"})


class Validation(NeuronCore):
    """Functions 64-75 of the API, and :meth:`Architecture`."""

    def _setup(self) -> None:
        super()._setup()
        self._max_weight: float | None = None  # SetMaxWeight's bound on |w|
        self._min_weight: float | None = None  # SetMinWeight's floor of |w|

    # --- numbers ----------------------------------------------------------------------------------

    def CheckNaN(self) -> dict[str, list[int]]:
        """Scan the neuron's numbers for NaN and infinity: the weights, bias, inputs, the
        artificial neuron's output, every other numeric attribute (gradients and optimiser
        state included), the input history, the model's parameters and, when time has been
        simulated, every state variable's trace.

        Returns
        -------
        dict
            What holds a bad value -> the flat indices of the bad values (``[0]`` for a
            scalar; sample numbers for a trace ``trace.<variable>``); empty when healthy.

        Examples
        --------
        >>> SourcedNeuron("lif").CheckNaN()
        {}
        """
        bad: dict[str, list[int]] = {}

        def scan(name: str, value: Any) -> None:
            if isinstance(value, Mapping):
                for key, item in value.items():
                    scan(f"{name}.{key}", item)
                return
            if isinstance(value, bool | str | pq.Quantity) or value is None:
                return
            if isinstance(value, int | float | np.number | np.ndarray):
                array = np.asarray(value)
                if array.dtype.kind not in "fc":
                    return
                indices = np.flatnonzero(~np.isfinite(array))
                if len(indices):
                    bad[name] = [int(k) for k in indices]

        for name, value in vars(self).items():
            if name not in _NOT_NUMBERS:
                scan(name, value)
        if "bias" not in vars(self):
            scan("bias", self.bias)
        try:
            scan("output", self.output())
        except (SourcedNeuronError, ValueError, FloatingPointError):
            pass  # no output without a valid activation; VerifyArch reports that
        scan("history.currents", np.asarray(self.history.currents, dtype=float))
        scan("history.in_flight", np.asarray(self.history.in_flight, dtype=float))
        for key, value in self.model.parameter_values().items():
            scan(f"parameter.{key}", np.asarray(value, dtype=float))
        if self.t > 0:
            for variable in self.model.state_variables:
                scan(f"trace.{variable}", self.trace(variable).magnitude[:, 0])
        return bad

    def CheckLimit(self, max_abs: float | None = None) -> dict[str, Any]:
        """Check that the weights stay within the safety bounds: ``|w| <= max`` (``max_abs``, or
        the bound of :meth:`SetMaxWeight`) and ``|w| >= min`` (:meth:`SetMinWeight`). Without
        any bound every weight passes; a non-finite weight always violates.

        Returns
        -------
        dict
            ``ok`` (bool), ``indices`` (array of the violating weights' indices), ``above`` and
            ``below`` (those over the maximum, under the minimum), ``max_abs`` and ``min_abs``
            (the bounds used, ``None`` when unset).

        Examples
        --------
        >>> SourcedNeuron("lif", n_inputs=3).SetWeight([0.5, -2.0, 1.0]).CheckLimit(max_abs=1.5)["indices"]
        array([1])
        """
        limit = self._max_weight if max_abs is None else number(max_abs, "max_abs", 0.0, open_low=True)
        floor = self._min_weight
        w = np.abs(np.asarray(self.weights, dtype=float))
        broken = ~np.isfinite(w)
        above = np.flatnonzero(broken | (w > limit)) if limit is not None else np.flatnonzero(broken)
        below = np.flatnonzero(w < floor) if floor is not None else np.array([], dtype=int)
        indices = np.union1d(above, below).astype(int)
        return {
            "ok": not len(indices),
            "indices": indices,
            "above": above.astype(int),
            "below": below.astype(int),
            "max_abs": limit,
            "min_abs": floor,
        }

    def SetMaxWeight(self, w: float) -> Validation:
        """Clip every weight to ``[-w, w]`` and keep ``w`` as the bound :meth:`CheckLimit` checks.

        Examples
        --------
        >>> SourcedNeuron("lif", n_inputs=3).SetWeight([0.5, -2.0, 3.0]).SetMaxWeight(1.5).weights
        array([ 0.5, -1.5,  1.5])
        """
        bound = number(w, "maximum weight", 0.0, open_low=True)
        if self._min_weight is not None and bound < self._min_weight:
            raise InputError(f"maximum weight {bound:g} is below the minimum weight {self._min_weight:g}")
        self.weights[:] = np.clip(self.weights, -bound, bound)
        self._max_weight = bound
        self._tell_watchers()
        return self

    def SetMinWeight(self, w: float) -> Validation:
        """Set a floor for the weights' magnitudes: every weight with ``|w_i| < w`` becomes
        ``sign(w_i) * w`` (a zero weight ``+w``), so no connection is dead; ``w`` is kept as the
        floor :meth:`CheckLimit` checks. ``0`` removes the floor.

        Examples
        --------
        >>> SourcedNeuron("lif", n_inputs=3).SetWeight([0.0, -0.01, 0.5]).SetMinWeight(0.1).weights
        array([ 0.1, -0.1,  0.5])
        """
        floor = number(w, "minimum weight", 0.0)
        if self._max_weight is not None and floor > self._max_weight:
            raise InputError(f"minimum weight {floor:g} is above the maximum weight {self._max_weight:g}")
        weights = np.asarray(self.weights, dtype=float)
        sign = np.where(weights < 0, -1.0, 1.0)
        self.weights[:] = np.where(np.abs(weights) < floor, sign * floor, weights)
        self._min_weight = floor or None
        self._tell_watchers()
        return self

    # --- the spiking neuron -----------------------------------------------------------------------

    def PeakVoltage(self) -> pq.Quantity:
        """The highest membrane potential reached since the last reset (the initial value when
        nothing was simulated), in mV.

        Examples
        --------
        >>> SourcedNeuron("lif").SetBias(1.0).Integrate("50 ms").PeakVoltage()  # doctest: +SKIP
        array(-55.07) * mV
        """
        name = self.model.membrane_potential
        if name is None:
            raise InputError(f"model {self.model.name!r} has no membrane potential (a state variable in volt)")
        trace = self.trace(name)
        return float(np.max(trace.rescale(pq.mV).magnitude)) * pq.mV

    def FreqCheck(self, window: Duration | None = None) -> pq.Quantity:
        """The firing rate over the last ``window`` of simulated time (default: everything since
        the last reset), in Hz: the spikes in ``[t - window, t)`` as a ``neo.SpikeTrain``,
        through :func:`sourced_neuron.analysis.measures.firing_rates` (Elephant's mean rate).

        Examples
        --------
        >>> SourcedNeuron("lif").SetBias(2.5).Integrate("200 ms").FreqCheck("100 ms")  # doctest: +SKIP
        array(90.) * Hz
        """
        from sourced_neuron.analysis.measures import firing_rates

        train = self._spike_train(window)
        return firing_rates([train])[0]

    def IsSaturated(self, tol: float = 0.01, spiking: bool = False) -> bool:
        """Whether the neuron is stuck at the limits of its activation.

        - The artificial neuron (default): the activation's slope at the present
          pre-activation is below ``tol``, so no gradient flows: sigmoid ``y(1 - y) < tol``
          (output within about ``tol`` of 0 or 1), tanh ``1 - y^2 < tol`` (near -1 or 1), ReLU
          ``z < 0`` (dead); the step function always, linear never. For a batch: every sample.
        - The spiking neuron (``spiking=True``), over the time since the last reset: silent (no
          spike) or firing at its maximal rate, one spike per refractory period plus a step
          (the median inter-spike interval within ``(1 + tol) (t_ref + dt)``).

        Examples
        --------
        >>> SourcedNeuron("lif", n_inputs=1, activation="relu").SetBias(-1.0).IsSaturated()
        True
        """
        if isinstance(tol, bool) or not isinstance(tol, int | float | np.number) or not 0 < float(tol) < 1:
            raise InputError(f"tol must be a number between 0 and 1, got {tol!r}")
        if spiking:
            if self.t <= 0:
                raise InputError("IsSaturated(spiking=True) needs simulated time: Integrate first")
            times = self.spike_times()
            if not len(times):
                return True
            if len(times) < 2:
                return False
            shortest = self._refractory_period() + self.dt
            return bool(np.median(np.diff(times)) <= (1 + float(tol)) * shortest * (1 + 1e-9))
        from sourced_neuron.wrapper.activations import activation_pair

        _, df = activation_pair(self.activation)
        z = np.asarray(self.weighted_sum(), dtype=float) - self.activation_shift
        slope = np.abs(np.asarray(df(z), dtype=float))
        return bool(np.all(slope < float(tol)))

    # --- losses -----------------------------------------------------------------------------------

    def LogLoss(self, target: ArrayLike | None = None, output: ArrayLike | None = None) -> float:
        """The binary cross-entropy of the output against the target, for classification:
        ``mean(-(t ln y + (1 - t) ln(1 - y)))``, ``y`` clipped to ``[1e-12, 1 - 1e-12]``.

        Parameters
        ----------
        target : float or array, optional
            In [0, 1]; default: the target of ``SetTarget``.
        output : float or array, optional
            Probabilities in [0, 1]; default: the neuron's present output.

        Examples
        --------
        >>> SourcedNeuron("lif").LogLoss(target=1.0, output=0.8)  # -ln 0.8
        0.2231435513142097
        """
        y, t = self._pair(target, output)
        if np.any((y < 0) | (y > 1)):
            raise InputError(f"log loss needs outputs in [0, 1] (a sigmoid neuron), got {y}")
        if np.any((t < 0) | (t > 1)):
            raise InputError(f"log loss needs targets in [0, 1], got {t}")
        p = np.clip(y, _EPS, 1 - _EPS)
        return float(np.mean(-(t * np.log(p) + (1 - t) * np.log(1 - p))))

    def MSELoss(self, target: ArrayLike | None = None, output: ArrayLike | None = None) -> float:
        """The mean squared error of the output against the target, ``mean((y - t)^2)``.

        Examples
        --------
        >>> SourcedNeuron("lif").MSELoss(target=[1.0, 0.0], output=[0.5, 0.25])
        0.15625
        """
        y, t = self._pair(target, output)
        return float(np.mean((y - t) ** 2))

    def HuberLoss(self, delta: float = 1.0, target: ArrayLike | None = None, output: ArrayLike | None = None) -> float:
        """The Huber loss of the output against the target (quadratic for errors within
        ``delta``, linear beyond, so outliers weigh less): the mean of ``(y - t)^2 / 2`` where
        ``|y - t| <= delta`` and ``delta (|y - t| - delta / 2)`` elsewhere.

        Examples
        --------
        >>> SourcedNeuron("lif").HuberLoss(delta=1.0, target=[0.0, 0.0], output=[0.5, 3.0])
        1.3125
        """
        width = number(delta, "delta", 0.0, open_low=True)
        y, t = self._pair(target, output)
        a = np.abs(y - t)
        return float(np.mean(np.where(a <= width, 0.5 * a**2, width * (a - 0.5 * width))))

    # --- configuration ----------------------------------------------------------------------------

    def Architecture(self) -> dict[str, Any]:
        """The neuron's architecture, what :meth:`VerifyArch` compares: ``n_inputs``,
        ``dtype``, ``activation``, ``model`` (name) and ``model_hash`` (the model's content
        hash: equations, parameters, numerics, ports).

        Examples
        --------
        >>> SourcedNeuron("lif", n_inputs=3).Architecture()["n_inputs"]
        3
        """
        return {
            "n_inputs": len(self.weights),
            "dtype": str(np.dtype(self.dtype)),
            "activation": self.activation,
            "model": self.model.name,
            "model_hash": self.model.content_hash,
        }

    def VerifyArch(self, reference: Neuron | Mapping[str, Any] | None = None) -> list[str]:
        """Cross-check the present configuration against the architecture: the weights are one
        vector of ``n_inputs`` values of the neuron's dtype, the inputs fit them, the bias is a
        number, the activation is known; and, given a ``reference`` (another neuron, or a dict
        with any of the keys of :meth:`Architecture`; ``weights`` counts as ``n_inputs``), the
        same ``n_inputs``, ``dtype``, ``activation``, model name and model hash.

        Returns
        -------
        list of str
            One line per mismatch; empty when everything agrees.

        Examples
        --------
        >>> SourcedNeuron("lif", n_inputs=2).VerifyArch({"n_inputs": 3})
        ['n_inputs: 2 here, 3 in the reference']
        """
        from sourced_neuron.wrapper.activations import activation_pair

        problems = []
        weights = np.asarray(self.weights)
        if weights.ndim != 1:
            problems.append(f"weights: shape {weights.shape}, not one vector")
        if weights.dtype != np.dtype(self.dtype):
            problems.append(f"weights: dtype {weights.dtype}, the neuron's is {np.dtype(self.dtype)}")
        inputs = np.asarray(self.inputs)
        if inputs.shape[-1:] != weights.shape[-1:]:
            problems.append(f"inputs: shape {inputs.shape} does not fit {weights.shape[-1]} weights")
        if not isinstance(self.bias, int | float | np.number) or isinstance(self.bias, bool):
            problems.append(f"bias: {self.bias!r} is not a number")
        try:
            activation_pair(self.activation)
        except InputError as error:
            problems.append(f"activation: {error}")
        if reference is None:
            return problems
        if isinstance(reference, Validation):
            expected = reference.Architecture()
        elif isinstance(reference, Mapping):
            expected = dict(reference)
            if "n_inputs" not in expected and "weights" in expected:
                expected["n_inputs"] = len(np.atleast_1d(np.asarray(expected["weights"])))
            model = expected.get("model")
            if isinstance(model, Mapping):  # a nested description of the model
                expected["model"] = model.get("name")
                expected.setdefault("model_hash", model.get("model_hash", model.get("hash")))
        else:
            raise InputError(f"reference must be a SourcedNeuron or a dict, got {type(reference).__name__}")
        here = self.Architecture()
        for key in ("n_inputs", "dtype", "activation", "model", "model_hash"):
            if key in expected and expected[key] is not None and str(expected[key]) != str(here[key]):
                problems.append(f"{key}: {here[key]} here, {expected[key]} in the reference")
        return problems

    def CheckDep(self) -> dict[str, dict[str, Any]]:
        """Report which libraries and backends are usable: for each library (numpy, scipy,
        quantities, neo, elephant, matplotlib, brian2, brian2cuda, pyNN, nest, pynestml) and
        each backend (``backend:brian2``, ... from :func:`sourced_neuron.backend_status`).

        Returns
        -------
        dict
            name -> ``{"usable": bool, "version": str or None, "reason": str or None}``
            (``reason``: what is missing, and for libraries what needs them).

        Examples
        --------
        >>> SourcedNeuron("lif").CheckDep()["numpy"]["usable"]
        True
        """
        report: dict[str, dict[str, Any]] = {}
        for module, distribution, purpose in DEPENDENCIES:
            if importlib.util.find_spec(module) is None:
                reason = f"not installed (pip install {distribution}); needed for {purpose}"
                report[module] = {"usable": False, "version": None, "reason": reason}
                continue
            report[module] = {"usable": True, "version": package_version(distribution), "reason": None}
        for name, reason in backend_status().items():
            report[f"backend:{name}"] = {"usable": reason is None, "version": None, "reason": reason}
        return report

    # --- helpers ----------------------------------------------------------------------------------

    def _tell_watchers(self) -> None:
        self._weights_changed()

    def _spike_train(self, window: Any) -> neo.SpikeTrain:
        """The spikes of the last ``window`` (default: since the reset) as a neo.SpikeTrain (s)."""
        stop = self.t
        if stop <= 0:
            raise InputError("no simulated time yet: Integrate first")
        if window is None:
            start = 0.0
        else:
            length = seconds(window, "window")
            if length <= 0 or length > stop * (1 + 1e-12):
                raise InputError(
                    f"window must be positive and at most the simulated time ({stop * 1e3:g} ms), got {window!r}"
                )
            start = max(stop - length, 0.0)
        times = self.spike_times()
        times = times[(times >= start - 1e-12) & (times < stop - 1e-12)]
        return neo.SpikeTrain(np.clip(times, start, stop) * pq.s, t_start=start * pq.s, t_stop=stop * pq.s)

    def _refractory_period(self) -> float:
        """The refractory period (s) of a model whose refractoriness is a duration (a parameter
        or a value); 0 otherwise."""
        refractory = self.model.refractory
        if refractory is None or refractory.kind == "condition":
            return 0.0
        values = self.model.parameter_values()
        if refractory.expression in values:
            return float(values[refractory.expression])  # SI (Brian2 quantity)
        try:
            return seconds(refractory.expression, "refractory period")
        except SourcedNeuronError:
            return 0.0

    def _pair(self, target: Any, output: Any) -> tuple[np.ndarray, np.ndarray]:
        """(output, target) as float arrays of one shape."""
        goal = self.target if target is None else target  # the learning section's target
        if goal is None:
            raise InputError("no target: pass target= or call SetTarget")
        t = _numbers(goal, "target")
        y = _numbers(self.output() if output is None else output, "output")
        try:
            y, t = np.broadcast_arrays(y, t)
        except ValueError:
            raise InputError(f"output (shape {y.shape}) and target (shape {t.shape}) do not match") from None
        return y.astype(float), t.astype(float)


def _numbers(value: Any, what: str) -> np.ndarray:
    """One number per sample (a scalar or a 1-d array)."""
    array = numbers(value, what)
    if array.ndim > 1:
        raise InputError(f"{what} must be one number per sample, got shape {array.shape}")
    return np.atleast_1d(array)


__all__ = ["DEPENDENCIES", "Validation"]
