"""Performance and hardware: dropout, batch normalisation, plots, refractoriness, numeric
precision, evolutionary operators (mutation, crossover), noise, energy, the GPU backend,
shared weight memory, built-in self-checks and a throughput benchmark."""

from __future__ import annotations

import math
import os
import platform
import tempfile
import time
import weakref
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
import quantities as pq

from sourced_neuron.analysis import measures as analysis
from sourced_neuron.backends import backend_status
from sourced_neuron.common.errors import BackendUnavailableError, InputError
from sourced_neuron.wrapper.arguments import ArrayLike, Batch, Duration, PathLike
from sourced_neuron.wrapper.core import FLOAT32_BACKENDS, Neuron, NeuronCore, finite_vector, number, seconds

#: free energy of hydrolysing one ATP in a cell (about 50 kJ/mol; 50-60 kJ/mol under
#: physiological conditions), used to turn ATP per second into watts


class _WeightGroup:
    """Neurons that share one weight array (``SharedMem``). A deep copy of a neuron
    (``CopyNeu``) has its own array, so it belongs to no group: copying gives ``None``."""

    def __init__(self) -> None:
        self.members: weakref.WeakSet = weakref.WeakSet()

    def __deepcopy__(self, memo: dict) -> None:
        return None

    def __reduce__(self) -> tuple:
        return (_WeightGroup, ())


def refractory_parameter(model: Any) -> str | None:
    """The parameter that holds a model's refractory period (``t_ref`` of ``refractory: t_ref``),
    or None when its refractoriness is absent, a condition or a written-out duration."""
    refractory = model.refractory
    if refractory is None or refractory.kind == "condition":
        return None
    name = refractory.expression.strip()
    return name if name in model.parameter_names else None


def threshold_level(model: Any) -> pq.Quantity | None:
    """The firing threshold as a voltage, when the model's threshold is ``v > P`` (or ``>=``)
    with ``v`` the membrane potential and ``P`` a parameter in volts; else None."""
    import re

    from sourced_neuron.spec.parts import VOLT

    match = re.fullmatch(r"\s*(\w+)\s*>=?\s*(\w+)\s*", model.threshold or "")
    if match is None or match.group(1) != model.membrane_potential:
        return None
    value = dict(model.parameters).get(match.group(2))
    if value is None or value.dimension != VOLT:
        return None
    return value.magnitude * 1e3 * pq.mV


class Performance(NeuronCore):
    """Functions 86-100 of the API."""

    def _setup(self) -> None:
        super()._setup()
        self._weight_group: _WeightGroup | None = None  # the neurons sharing this one's weights (SharedMem)

    # --- training aids ------------------------------------------------------------------------

    def DropOut(self, p: float) -> Performance:
        """Set the dropout probability: during training (``output(training=True)``, as in
        ``BackProp`` and ``Train``) the neuron's output is zero with probability ``p`` and
        divided by ``1 - p`` otherwise (inverted dropout: the expected output is unchanged, so
        nothing is rescaled at evaluation). ``0`` turns it off; the spiking neuron is never
        dropped.

        Examples
        --------
        >>> SourcedNeuron("lif").DropOut(0.2).dropout
        0.2
        """
        self.dropout = number(p, "dropout probability p", 0.0, 1.0, open_high=True)
        return self

    def NormBatch(self, batch: Batch | None = None, enable: bool = True) -> np.ndarray | None:
        """Standardise the inputs with a batch's statistics: the mean and standard deviation of
        each input over the batch (after ``ScaleInput``) are stored, and every later input is
        shifted and divided by them before it is weighted (``prepared``), which speeds up
        gradient descent. An input with standard deviation 0 is divided by 1.

        Parameters
        ----------
        batch : array (n, n_inputs), optional
            Default: the present input, if it is a batch.
        enable : bool
            ``False`` removes the statistics (inputs are used as they come).

        Returns
        -------
        array or None
            The batch as the weights see it now (None when disabling).

        Examples
        --------
        >>> SourcedNeuron("lif", n_inputs=2).NormBatch([[1.0, 10.0], [3.0, 30.0]])
        array([[-1., -1.],
               [ 1.,  1.]])
        """
        if not isinstance(enable, bool):
            raise InputError(f"enable must be True or False, got {enable!r}")
        if not enable:
            self.input_mean = self.input_std = None
            return None
        data = self.inputs if batch is None else batch
        try:
            x = np.asarray(data, dtype=float)
        except (TypeError, ValueError):
            raise InputError(f"batch must be numbers, got {data!r}") from None
        n = len(self.weights)
        if x.ndim != 2 or x.shape[1] != n or len(x) < 1:
            raise InputError(f"batch must have shape (samples, {n}), got {x.shape}")
        if not np.all(np.isfinite(x)):
            raise InputError("batch must be finite")
        scaled = x * self.input_scale
        std = scaled.std(axis=0)
        self.input_mean = scaled.mean(axis=0).astype(self.dtype)
        self.input_std = np.where(std > 0, std, 1.0).astype(self.dtype)
        return self.prepared(x)

    def NoiseGen(self, std: ArrayLike) -> np.ndarray:
        """Add Gaussian noise to the present input (a vector or a batch): each value gets an
        independent draw of ``N(0, std^2)`` (``std`` in input units: one value, or one per
        input), from the neuron's random generator. The noisy input replaces the present one,
        so it drives the spiking neuron from the next ``Integrate`` and the artificial neuron
        from the next output; call it before each presentation to train with noisy inputs.

        Returns
        -------
        array
            The noisy input.

        Examples
        --------
        >>> n = SourcedNeuron("lif", n_inputs=2, seed=3); n.ProcInput([1.0, 2.0]); n.NoiseGen(0.1)  # doctest: +SKIP
        array([1.2, 1.9])
        """
        n = len(self.weights)
        if isinstance(std, bool):
            raise InputError(f"std must be a number, got {std!r}")
        sigma = finite_vector(std, "std")
        if len(sigma) not in (1, n):
            raise InputError(f"std must be one number or one per input ({n}), got {std!r}")
        if np.any(sigma < 0):
            raise InputError(f"std must be non-negative, got {std!r}")
        inputs = np.asarray(self.inputs, dtype=float)
        noisy = inputs + self.rng.normal(0.0, 1.0, inputs.shape) * sigma
        self.inputs = noisy.astype(self.dtype)
        return self.inputs.copy()

    # --- the spiking neuron -------------------------------------------------------------------

    def Refractory(self, p: Duration | None = None) -> Any:
        """Set the refractory period: the cool-down after a spike in which the neuron cannot
        fire (and, in models such as LIF, its membrane potential is held), from now on; without
        an argument, return the present period. The model names the parameter that holds it
        (``refractory: t_ref`` in its file); models without one (Izhikevich, AdEx; HH's
        refractoriness is a voltage condition) are refused.

        Examples
        --------
        >>> SourcedNeuron("lif").Refractory("5 ms").Refractory()
        array(5.) * ms
        """
        name = refractory_parameter(self.model)
        if name is None:
            if self.model.refractory is None:
                why = "its model file has no 'refractory' entry"
            elif self.model.refractory.kind == "condition":
                why = f"its refractoriness is the condition {self.model.refractory.expression!r}, not a period"
            else:
                why = f"its refractory period {self.model.refractory.expression!r} is not a parameter"
            raise InputError(f"model {self.model.name!r} has no refractory period parameter: {why}")
        if p is None:
            return float(dict(self.model.parameters)[name].magnitude) * 1e3 * pq.ms
        value = seconds(p, "refractory period p")
        self.change_model(self.model.with_parameters({name: value * pq.s}))
        return self

    def IsFiring(self, window: Duration | None = None) -> bool:
        """Whether the neuron is active now: it fired within the last ``window`` of simulated
        time (a spike in ``(t - window, t]``). By default the window is the model's refractory
        period (the neuron is still in the aftermath of a spike), or one time step for models
        without one.

        Examples
        --------
        >>> SourcedNeuron("lif").SetBias(3).Integrate("7 ms").IsFiring()  # doctest: +SKIP
        True
        """
        if window is None:
            name = refractory_parameter(self.model)
            span = float(dict(self.model.parameters)[name].magnitude) if name else 0.0
            span = max(span, self.dt)
        else:
            span = seconds(window, "window")
            if span <= 0:
                raise InputError(f"window must be positive, got {window!r}")
        times = self.spike_times()
        return bool(len(times) and times[-1] > self.t - span + 1e-9 * self.dt)

    def AvgEnergy(self, costs: analysis.EnergyCosts | None = None) -> dict[str, Any]:
        """Estimate the neuron's metabolic cost since the last reset, with Attwell & Laughlin's
        (2001) energy budget (``sourced_neuron.analysis.measures.energy`` of ``LogActivity``): ATP for
        its action potentials, for the synaptic transmission they cause, and for the resting
        potential, averaged over the simulated time.

        Returns
        -------
        dict
            ``atp_per_second`` (ATP molecules per second; the energy of ATP hydrolysis depends on
            the cell's conditions, so no watts are given), ``n_spikes``,
            ``duration`` (ms), ``estimate`` (the :class:`~sourced_neuron.analysis.measures.EnergyEstimate`
            with the split).

        Examples
        --------
        >>> SourcedNeuron("lif").SetBias(3).Integrate("200 ms").AvgEnergy()["atp_per_second"]  # doctest: +SKIP
        """
        if self.t <= 0:
            raise InputError("no activity to estimate: the neuron has not been integrated since the reset")
        if costs is not None and not isinstance(costs, analysis.EnergyCosts):
            raise InputError(f"costs must be a sourced_neuron.analysis.measures.EnergyCosts, got {costs!r}")
        estimate = analysis.energy(self.LogActivity(), costs, per_neuron_budget=True)
        rate = estimate.atp_per_second
        return {
            "atp_per_second": rate,
            "n_spikes": estimate.n_spikes,
            "duration": estimate.duration,
            "estimate": estimate,
        }

    def EnableGPU(self) -> Performance:
        """Run the spiking simulation on an NVIDIA GPU: switch the backend to ``brian2-cuda``
        (Brian2CUDA generates and runs CUDA kernels), when it is usable; otherwise raise
        :class:`~sourced_neuron.common.errors.BackendUnavailableError` with the reason. The artificial
        neuron's arithmetic stays on the CPU (NumPy).

        Examples
        --------
        >>> SourcedNeuron("lif").EnableGPU().backend  # doctest: +SKIP
        'brian2-cuda'
        """
        reason = backend_status().get("brian2-cuda", "this sourced_neuron has no brian2-cuda backend")
        if reason is not None:
            raise BackendUnavailableError(f"backend 'brian2-cuda' is not available: {reason}")
        self.backend = "brian2-cuda"
        self._invalidate()
        return self

    # --- numbers and memory -------------------------------------------------------------------

    def SetPrecision(self, dtype: str | type | np.dtype = "float32", part: str = "weights") -> Performance:
        """Choose the floating-point precision, where the backend supports it.

        ``part="weights"``: the artificial neuron's arrays (weights, inputs, normalisation
        statistics) and its arithmetic take ``float64`` or ``float32`` (half the memory;
        shared weights convert together). ``part="simulation"``: the spiking simulation from now on:
        ``float32`` runs on Brian2's runtime (``brian2``; Brian2's ``core.default_float_dtype``),
        and is refused on the other backends (NEST and the standalone devices compute in
        float64). ``float16`` is refused: with about 3 significant digits a weight near 1
        cannot change by less than 5e-4, so small learning steps are lost, and NumPy has no fast
        float16 matrix product.

        Examples
        --------
        >>> SourcedNeuron("lif").SetPrecision("float32").weights.dtype
        dtype('float32')
        """
        try:
            wanted = np.dtype(dtype)
        except TypeError:
            raise InputError(f"precision must be 'float64' or 'float32', got {dtype!r}") from None
        if part not in ("weights", "simulation"):
            raise InputError(f"part must be 'weights' or 'simulation', got {part!r}")
        if wanted == np.float16:
            raise InputError(
                "float16 is refused: with about 3 significant digits a weight near 1 cannot change by less than "
                "5e-4, so small learning steps are lost, and NumPy has no fast float16 matrix product; use float32"
            )
        if wanted not in (np.dtype(np.float32), np.dtype(np.float64)):
            raise InputError(f"precision must be 'float64' or 'float32', got {wanted}")
        if part == "simulation":
            if wanted != np.float64 and self.backend not in FLOAT32_BACKENDS:
                raise InputError(
                    f"backend {self.backend!r} simulates in float64 only; float32 simulations run on "
                    f"{', '.join(FLOAT32_BACKENDS)} (Brian2's runtime); SetPrecision('float32') still applies to "
                    "the artificial neuron"
                )
            if wanted != self.simulation_dtype:
                self.change_model(self.model)  # the precision changes from now on
                self.simulation_dtype = wanted
                self._invalidate()
            return self
        weights = self.weights.astype(wanted)
        for neuron in self._weight_peers():
            neuron.weights = weights
            neuron.dtype = wanted
            neuron.inputs = np.asarray(neuron.inputs).astype(wanted)
            if neuron.input_mean is not None:
                neuron.input_mean = neuron.input_mean.astype(wanted)
                neuron.input_std = neuron.input_std.astype(wanted)
        return self

    def SharedMem(self, others: Neuron | Iterable[Neuron]) -> Performance:
        """Make other neurons share this neuron's weight array: afterwards their ``weights``
        are the same NumPy array object, so an update through any of them (``SetWeight``,
        ``UpdWeight``, ``MutateWeight``...) is seen by all, and the weights take memory once.
        The others take this neuron's values; they need the same number of inputs and dtype.

        Examples
        --------
        >>> a, b = SourcedNeuron("lif"), SourcedNeuron("lif"); a.SharedMem(b); a.weights is b.weights  # doctest: +SKIP
        True
        """
        group = [others] if isinstance(others, NeuronCore) else list(others) if isinstance(others, Iterable) else None
        if not group or not all(isinstance(o, NeuronCore) for o in group):
            raise InputError(f"SharedMem needs a neuron or a list of neurons, got {others!r}")
        for other in group:
            if len(other.weights) != len(self.weights):
                raise InputError(
                    f"neuron {other.id} has {len(other.weights)} inputs, {self.id} has {len(self.weights)}: "
                    "shared weights need the same number"
                )
            if other.weights.dtype != self.weights.dtype:
                raise InputError(
                    f"neuron {other.id} has {other.weights.dtype} weights, {self.id} {self.weights.dtype}: "
                    "SetPrecision first"
                )
        if self._weight_group is None:
            self._weight_group = _WeightGroup()
            self._weight_group.members.add(self)
        for other in group:
            if other is self or other.weights is self.weights:
                continue
            if other._weight_group is not None:
                other._leave_weight_group()
            other.weights = self.weights
            other._weight_group = self._weight_group
            self._weight_group.members.add(other)
            other._weights_changed()
        return self

    def _weight_peers(self) -> list[NeuronCore]:
        """This neuron and those sharing its weight array."""
        group = self._weight_group
        others = [] if group is None else [n for n in group.members if n is not self and n.weights is self.weights]
        return [self, *others]

    def _leave_weight_group(self) -> None:
        if self._weight_group is not None:
            self._weight_group.members.discard(self)
            self._weight_group = None

    # --- evolution ----------------------------------------------------------------------------

    def MutateWeight(self, std: float = 0.1, rate: float = 1.0) -> Performance:
        """Add Gaussian noise to the weights, for evolutionary search: each weight, with
        probability ``rate``, gets a draw of ``N(0, std^2)`` from the neuron's random generator.

        Examples
        --------
        >>> SourcedNeuron("lif", n_inputs=3, seed=1).MutateWeight(0.5).weights  # doctest: +SKIP
        array([ 0.17, -0.41,  0.61])
        """
        sigma = number(std, "std", 0.0)
        probability = number(rate, "rate", 0.0, 1.0)
        n = len(self.weights)
        chosen = self.rng.random(n) < probability
        noise = self.rng.normal(0.0, sigma, n) * chosen
        self.weights[:] = (self.weights + noise).astype(self.dtype)
        self._weights_changed()
        return self

    def Crossover(self, n2: Neuron, mix: float = 0.5) -> NeuronCore:
        """A child neuron that blends this neuron with ``n2`` (uniform crossover): each weight,
        and the bias, comes from ``n2`` with probability ``mix`` and from this neuron otherwise.
        Everything else (model, parameters, settings) comes from this neuron. The child has a
        new ID, starts at ``t = 0`` and records ``parents`` (the two IDs).

        Examples
        --------
        >>> child = SourcedNeuron("lif", n_inputs=3).Crossover(SourcedNeuron("lif", n_inputs=3))  # doctest: +SKIP
        """
        if not isinstance(n2, NeuronCore):
            raise InputError(f"Crossover needs another neuron, got {n2!r}")
        if len(n2.weights) != len(self.weights):
            raise InputError(f"neuron {n2.id} has {len(n2.weights)} inputs, {self.id} has {len(self.weights)}")
        if n2.model.name != self.model.name or n2.model.equations != self.model.equations:
            raise InputError(
                f"neuron {n2.id} is a {n2.model.name!r} model, {self.id} a {self.model.name!r} model: "
                "crossover needs the same model"
            )
        probability = number(mix, "mix", 0.0, 1.0)
        take = self.rng.random(len(self.weights)) < probability
        bias_from_n2 = bool(self.rng.random() < probability)
        child = self.CopyNeu()
        child.ResetNeu()
        child._watchers = ()
        child.weights[:] = np.where(take, n2.weights, self.weights).astype(child.dtype)
        child.bias = float(n2.bias if bias_from_n2 else self.bias)
        child.parents = (self.id, n2.id)
        return child

    # --- pictures -----------------------------------------------------------------------------

    def PlotNeuron(self, path: PathLike) -> Path:
        """Draw the neuron's behaviour since the last reset to a PNG file: the membrane
        potential (with the firing threshold as a dashed line) above the spike raster, from
        ``LogActivity``.

        Examples
        --------
        >>> SourcedNeuron("lif").SetBias(3).Integrate("100 ms").PlotNeuron("lif.png")  # doctest: +SKIP
        PosixPath('lif.png')
        """
        from sourced_neuron.analysis.plotting import plot_block

        return plot_block(self.LogActivity(), path, threshold=threshold_level(self.model))

    def HeatMap(self, path: PathLike) -> Path:
        """Draw the neuron's synaptic strengths as a heat map in a PNG file: the input weights
        as a 1 x n_inputs matrix (a diverging colour scale centred on 0, values written in the
        cells for up to 20 entries), and, when the neuron is bound to other neurons
        (``BindTo``), the weights of those links (``GetLinks``; one row per unit: pA, nS, mV);
        colour bars labelled.

        Examples
        --------
        >>> SourcedNeuron("lif", n_inputs=4).InitHe().HeatMap("weights.png")  # doctest: +SKIP
        PosixPath('weights.png')
        """
        from sourced_neuron.analysis.plotting import plt, save_figure

        inputs = [f"in {k}" for k in range(len(self.weights))]
        rows = [(f"input weights of {self.id}", inputs, np.asarray(self.weights, dtype=float), "weight")]
        rows += self._link_rows()
        width = max(len(values) for _, _, values, _ in rows)
        size = (min(3 + 0.6 * width, 16), 1.2 + 1.5 * len(rows))
        figure, axes = plt.subplots(len(rows), 1, figsize=size, squeeze=False)
        try:
            for ax, (title, labels, values, label) in zip(axes[:, 0], rows, strict=True):
                limit = float(np.max(np.abs(values))) or 1.0
                image = ax.imshow(values[None, :], cmap="RdBu_r", vmin=-limit, vmax=limit, aspect="auto")
                ax.set_yticks([0], [self.id])
                if len(values) <= 40:
                    ax.set_xticks(range(len(values)), labels, rotation=30 if len(values) > 6 else 0, fontsize=7)
                if len(values) <= 20:
                    for k, value in enumerate(values):
                        ax.text(k, 0, f"{value:.3g}", ha="center", va="center", fontsize=8)
                ax.set_title(title, fontsize=9)
                figure.colorbar(image, ax=ax).set_label(label)
            figure.tight_layout()
        except Exception:
            plt.close(figure)
            raise
        return save_figure(figure, path)

    def _link_rows(self) -> list[tuple[str, list[str], np.ndarray, str]]:
        """Rows of the heat map for the links to other neurons (``GetLinks``), one per unit."""
        groups: dict[str, tuple[list[str], list[float]]] = {}
        for link in self.GetLinks():  # topology section
            weight = link["weight"]
            labels, values = groups.setdefault(weight.dimensionality.string, ([], []))
            labels.append(f"{link['pre']} -> {link['post']} ({link['receptor']})")
            values.append(float(weight.magnitude))
        return [
            (f"links of {self.id}", labels, np.array(values), f"link weight ({unit})")
            for unit, (labels, values) in groups.items()
        ]

    # --- checks and timing --------------------------------------------------------------------

    def UnitTests(self, checks: str | Iterable[str] | None = None) -> dict[str, dict[str, Any]]:
        """Run the package's built-in self-checks and report each: every library model loads
        and survives a YAML round trip; each activation's derivative matches finite
        differences; a Poisson spike train has an ISI CV near 1 (Elephant); a Brian2
        simulation of LIF fires at its closed-form rate; the energy estimate matches Attwell &
        Laughlin's formula; this neuron survives a save/load round trip and is healthy.

        Parameters
        ----------
        checks : iterable of str, optional
            Names of the checks to run (default all, :data:`SELF_CHECKS`).

        Returns
        -------
        dict
            Check name -> ``passed`` (True, False, or None when skipped), ``message`` and
            ``seconds``.

        Examples
        --------
        >>> all(r["passed"] is not False for r in SourcedNeuron("lif").UnitTests().values())  # doctest: +SKIP
        True
        """
        names = list(SELF_CHECKS) if checks is None else [checks] if isinstance(checks, str) else list(checks)
        unknown = [name for name in names if name not in SELF_CHECKS]
        if unknown:
            raise InputError(f"no self-check {unknown[0]!r}; checks: {', '.join(SELF_CHECKS)}")
        report = {}
        for name in names:
            start = time.perf_counter()
            try:
                message = SELF_CHECKS[name](self)
                passed = None if message.startswith("skipped") else True
            except Exception as error:  # a failed check is reported, not raised
                passed, message = False, f"{type(error).__name__}: {error}"
            report[name] = {"passed": passed, "message": message, "seconds": time.perf_counter() - start}
        return report

    def Benchmark(self, n_signals: int = 1_000_000, chunk: int = 65_536) -> dict[str, Any]:
        """Time ``n_signals`` input vectors through the artificial neuron (the weighted sum and
        the activation, ``output``), processed as batches of ``chunk``; the spiking simulation
        is not included. The inputs are random vectors made before the clock starts; the
        neuron's own random generator is not used.

        Returns
        -------
        dict
            ``n_signals``, ``seconds``, ``signals_per_second``, ``ns_per_signal``,
            ``n_inputs``, ``dtype``, ``activation``, ``machine``, ``processor``, ``cpus``.

        Examples
        --------
        >>> SourcedNeuron("lif").Benchmark()["signals_per_second"]  # doctest: +SKIP
        """
        for value, what, low in ((n_signals, "n_signals", 1), (chunk, "chunk", 1)):
            if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
                raise InputError(f"{what} must be a positive integer, got {value!r}")
        n = len(self.weights)
        size = int(min(chunk, n_signals))
        block = np.random.default_rng(12345).standard_normal((size, n)).astype(self.dtype)
        full, rest = divmod(int(n_signals), size)
        checksum = 0.0
        start = time.perf_counter()
        for _ in range(full):
            checksum += float(np.sum(self.output(block)))
        if rest:
            checksum += float(np.sum(self.output(block[:rest])))
        elapsed = time.perf_counter() - start
        return {
            "n_signals": int(n_signals),
            "seconds": elapsed,
            "signals_per_second": n_signals / elapsed if elapsed > 0 else math.inf,
            "ns_per_signal": elapsed / n_signals * 1e9,
            "n_inputs": n,
            "dtype": self.dtype.name,
            "activation": self.activation,
            "machine": platform.machine(),
            "processor": platform.processor() or platform.machine(),
            "cpus": os.cpu_count(),
            "checksum": checksum,
        }


# --- the self-checks of UnitTests: each returns a message, or raises when it fails ----------


def _check_library(neuron: Any) -> str:
    from sourced_neuron.spec.library import library_models, load_model
    from sourced_neuron.spec.model import NeuronModel

    names = library_models()
    for name in names:
        model = load_model(name)
        if NeuronModel.from_yaml(model.to_yaml()) != model:
            raise AssertionError(f"library model {name!r} changes in a YAML round trip")
    return f"{len(names)} library models load and survive a YAML round trip"


def _check_activations(neuron: Any) -> str:
    from sourced_neuron.wrapper.activation_registry import ACTIVATIONS, BASE_NAMES

    x = np.array([-2.3, -0.7, -0.2, 0.3, 1.1, 2.9])  # away from the kinks at 0
    h = 1e-6
    for name in BASE_NAMES:
        f, df = ACTIVATIONS[name]
        numeric = (f(x + h) - f(x - h)) / (2 * h)
        if not np.allclose(df(x), numeric, rtol=1e-5, atol=1e-7):
            raise AssertionError(f"the derivative of {name} differs from finite differences: {df(x)} vs {numeric}")
    return f"{len(BASE_NAMES)} activation derivatives match finite differences"


def _check_poisson(neuron: Any) -> str:
    import neo

    rng = np.random.default_rng(7)
    times = np.cumsum(rng.exponential(1 / 50.0, 4000))
    train = neo.SpikeTrain(times * pq.s, t_stop=times[-1] * pq.s + 1 * pq.ms)
    cv = float(analysis.isi_cv([train])[0])
    if abs(cv - 1) > 0.08:
        raise AssertionError(f"the ISI CV of a Poisson train is {cv:.3f}, not about 1")
    return f"ISI CV of a 4000-spike Poisson train: {cv:.3f}"


def _check_lif(neuron: Any) -> str:
    from sourced_neuron.run.simulation import simulate
    from sourced_neuron.spec.library import load_model

    if backend_status().get("brian2") is not None:
        return "skipped: Brian2 is not available"
    model = load_model("lif")
    p = {name: float(v.magnitude) for name, v in model.parameters}
    current = 250e-12
    drive = p["R_m"] * current
    interval = p["t_ref"] + p["tau_m"] * math.log((drive + p["E_L"] - p["V_reset"]) / (drive + p["E_L"] - p["V_th"]))
    block = simulate(model, duration="100 ms", stimulus=f"{current * 1e12:g} pA", record=(), progress=False)
    spikes = block.segments[0].spiketrains[0].rescale(pq.s).magnitude
    if len(spikes) < 3:
        raise AssertionError(f"LIF at 250 pA fired {len(spikes)} spikes in 100 ms")
    measured = float(np.mean(np.diff(spikes)))
    dt = float(model.numerics.dt.quantity)
    if abs(measured - interval) > 2 * dt:
        raise AssertionError(f"LIF interval {measured * 1e3:.2f} ms, closed form {interval * 1e3:.2f} ms")
    return f"LIF at 250 pA: interval {measured * 1e3:.2f} ms, closed form {interval * 1e3:.2f} ms"


def _check_energy(neuron: Any) -> str:
    import neo

    costs = analysis.EnergyCosts()
    train = neo.SpikeTrain([0.1, 0.2, 0.7] * pq.s, t_stop=2 * pq.s)
    estimate = analysis.energy([train], costs, per_neuron_budget=True)
    expected = 3 * costs.atp_per_spike
    expected += 3 * costs.synapses_per_neuron * costs.release_probability * costs.atp_per_vesicle
    expected += 2 * costs.atp_resting_per_second
    if not math.isclose(estimate.atp_total, expected, rel_tol=1e-12):
        raise AssertionError(f"energy of 3 spikes in 2 s: {estimate.atp_total:g} ATP, formula {expected:g}")
    return f"3 spikes in 2 s cost {expected:.4g} ATP, as Attwell & Laughlin's budget says"


def _check_round_trip(neuron: Any) -> str:
    text = neuron.ExportJSON()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "neuron.json"
        path.write_text(text, encoding="utf-8")
        twin = type(neuron).LoadModel(path)
    if twin.ExportJSON() != text:
        raise AssertionError("the neuron changes in a save/load round trip")
    return "save/load round trip of this neuron is exact"


def _check_health(neuron: Any) -> str:
    check = getattr(neuron, "CheckHealth", None)
    if check is None:
        return "skipped: no CheckHealth"
    result = check()
    if not result["healthy"]:
        raise AssertionError("; ".join(result["problems"]))
    return "weights, inputs, model, backend and history are intact"


#: name -> check (takes the neuron, returns a message, raises when it fails)
SELF_CHECKS: dict[str, Callable[[Any], str]] = {
    "library models": _check_library,
    "activation derivatives": _check_activations,
    "poisson statistics": _check_poisson,
    "lif closed form": _check_lif,
    "energy budget": _check_energy,
    "save/load round trip": _check_round_trip,
    "neuron health": _check_health,
}
