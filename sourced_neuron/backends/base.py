"""The interface every simulator backend implements, and what passes through it."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from sourced_neuron.common.errors import InputError, NonFiniteStateError, UnsupportedFeatureError
from sourced_neuron.common.progress import Progress
from sourced_neuron.common.resources import MAX_STEPS, require_memory
from sourced_neuron.spec.model import NeuronModel
from sourced_neuron.spec.stimulus import Stimulus
from sourced_neuron.spec.synapses import SynapseModel
from sourced_neuron.spec.units import si_magnitude

__all__ = [
    "Backend",
    "Capabilities",
    "Chunk",
    "NetworkSpec",
    "NonFinite",
    "PopulationSpec",
    "ProjectionSpec",
    "RunResult",
    "Session",
    "SimulationRequest",
    "SourceSpec",
    "WeightRecord",
    "check_backend_grid",
    "check_steps",
    "first_nonfinite",
]


@dataclass(frozen=True)
class Capabilities:
    """What a backend can honour; requests outside it are refused before code is generated.

    Attributes
    ----------
    methods : frozenset of str
        The ``numerics.method`` values it integrates exactly as the model format defines them.
    stimuli : frozenset of str
        The :class:`~sourced_neuron.spec.stimulus.Stimulus` kinds it takes.
    gpu : bool
        Whether it runs on a GPU.
    time_tic : float or None
        The simulator's time resolution in seconds: ``dt`` and every delay must be whole
        multiples of it (NEST's tic); ``None`` where any positive ``dt`` is honoured.
    """

    methods: frozenset[str]
    stimuli: frozenset[str] = frozenset({"none", "constant", "step", "sampled"})
    gpu: bool = False
    time_tic: float | None = None


@dataclass(frozen=True, eq=False)
class SimulationRequest:
    """A checked simulation: the model with presets and parameters applied, and the run settings."""

    model: NeuronModel
    duration: float  # seconds
    n_neurons: int
    stimulus: Stimulus
    record: tuple[str, ...]
    seed: int | None = None
    check_finite: bool = True

    @property
    def dt(self) -> float:
        """The time step in seconds (from the model's numerics)."""
        return self.model.numerics.dt.magnitude

    @property
    def n_steps(self) -> int:
        """Number of time steps: the duration rounded to the dt grid (:func:`check_steps`)."""
        return check_steps(self.duration, self.dt)


@dataclass(frozen=True)
class NonFinite:
    """The first non-finite state of a population (docs/semantics.md, "Non-finite states"):
    neuron ``neuron`` after the step that starts at ``time`` (seconds), in ``variables``.
    ``neurons``: every neuron that stored a non-finite state before the run stopped (a batch
    of parameter sets keeps the others, :mod:`sourced_neuron.experiments`)."""

    neuron: int
    time: float
    variables: tuple[str, ...]
    neurons: tuple[int, ...] = ()


def first_nonfinite(times: np.ndarray, flags: dict[str, np.ndarray], dt: float) -> NonFinite | None:
    """The first non-finite state of a population, from what the generated watch stored.

    Parameters
    ----------
    times : numpy.ndarray
        Per neuron, the start (seconds) of the first step after which a watched variable was not
        finite; negative for a neuron whose states stayed finite.
    flags : dict
        Watched variable (in the model's order) to a boolean array: per neuron, whether it was
        not finite after that step.
    dt : float
        The time step (seconds): the time is reported as a whole number of steps times ``dt``,
        the same float on every backend.

    Returns
    -------
    NonFinite or None
        The earliest step, its lowest neuron and every flagged variable of that neuron.
    """
    stored = np.flatnonzero(times >= 0)
    if not len(stored):
        return None
    steps = np.round(times[stored] / dt).astype(np.int64)
    first = steps.min()
    neuron = int(stored[steps == first].min())
    variables = tuple(name for name, flag in flags.items() if flag[neuron])
    return NonFinite(neuron, float(first * dt), variables, tuple(int(k) for k in stored))


@dataclass(eq=False)
class RunResult:
    """What a backend hands back, in SI units; the Neo block is built from it in one place.

    Attributes
    ----------
    spike_indices : numpy.ndarray
        Neuron index of each spike.
    spike_times : numpy.ndarray
        Time of each spike, seconds (same length as ``spike_indices``).
    signals : dict
        Variable name to an array of shape ``(n_samples, n_neurons)`` in SI units, sampled
        every ``dt`` from ``t = 0``.
    info : dict
        Extra annotations (e.g. the code generation target).
    nonfinite : NonFinite or None
        With ``check_finite``: the first non-finite state, ``None`` when every state stayed finite.
    """

    spike_indices: np.ndarray
    spike_times: np.ndarray
    signals: dict[str, np.ndarray] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)
    nonfinite: NonFinite | None = None


@dataclass(eq=False)
class PopulationSpec:
    """One population of a run, every value drawn (see :class:`sourced_neuron.Network`).

    ``parameters`` holds the per-neuron values (SI, shape ``(size,)``) of parameters that
    vary across the population; the others are the model's. ``initial`` holds the initial
    value of every state variable and per-neuron parameter, per neuron (SI).
    """

    name: str
    model: NeuronModel
    size: int
    parameters: dict[str, np.ndarray]
    initial: dict[str, np.ndarray]
    stimulus: Stimulus
    record: tuple[str, ...] = ()
    record_spikes: bool = True
    #: Record the variables every this many steps (samples at steps 0, k, 2k, ...; the simulator
    #: itself records at that rate, so long runs of many neurons do not hold every step).
    record_every: int = 1

    def n_samples(self, n_steps: int) -> int:
        """Samples of each recorded variable in a run of ``n_steps`` steps."""
        return -(-n_steps // self.record_every)


@dataclass(eq=False)
class SourceSpec:
    """Spike sources: spike ``times`` (seconds, on the grid, in time order) of source ``indices``."""

    name: str
    size: int
    indices: np.ndarray
    times: np.ndarray
    record: bool = False


@dataclass(eq=False)
class ProjectionSpec:
    """Connections ``i[k] -> j[k]`` onto receptor port ``receptor``; weights and delays in SI.

    Delays are whole numbers of time steps, at least one. ``synapse`` is a plastic synapse
    model (``None``: static), with its parameter values and the initial values of its
    variables (SI). ``record_weights``: the synapses (indices) whose transmitted weights are
    recorded, ``None`` for none.
    """

    pre: str
    post: str
    i: np.ndarray
    j: np.ndarray
    weights: np.ndarray
    delays: np.ndarray
    receptor: str
    name: str = ""
    synapse: SynapseModel | None = None
    synapse_parameters: dict[str, float] = field(default_factory=dict)
    synapse_initial: dict[str, float] = field(default_factory=dict)
    record_weights: np.ndarray | None = None


@dataclass(eq=False)
class WeightRecord:
    """The weight each presynaptic spike transmitted through a projection (SI), one entry per
    spike and synapse: ``synapse[k]`` (the index into the projection's ``i``/``j``), the time
    ``times[k]`` (seconds) of the spike's emission and the weight ``weights[k]``; ``final``:
    every synapse's weight ``w`` at the end of the run."""

    synapse: np.ndarray
    times: np.ndarray
    weights: np.ndarray
    final: np.ndarray


@dataclass(eq=False)
class NetworkSpec:
    """A whole run: populations, sources and projections on one time grid."""

    populations: list[PopulationSpec]
    sources: list[SourceSpec]
    projections: list[ProjectionSpec]
    dt: float
    n_steps: int
    seed: int | None = None
    #: Watch every state variable and report the first non-finite value (docs/semantics.md).
    check_finite: bool = True

    @classmethod
    def single(cls, request: SimulationRequest) -> NetworkSpec:
        """The run of :func:`sourced_neuron.simulate`: one population, unconnected."""
        model, n = request.model, request.n_neurons
        initial = {
            name: np.broadcast_to(np.asarray(si_magnitude(value), dtype=float), (n,)).copy()
            for name, value in model.initial_values().items()
        }
        population = PopulationSpec(
            model.name, model, n, {}, initial, request.stimulus, tuple(request.record), model.threshold is not None
        )
        return cls([population], [], [], request.dt, request.n_steps, request.seed, request.check_finite)

    def raise_nonfinite(self, results: dict) -> None:
        """Raise :class:`~sourced_neuron.common.errors.NonFiniteStateError` for the earliest non-finite
        state any population reported (ties: the first population, then the lowest neuron)."""
        found = [
            (results[pop.name].nonfinite, k, pop)
            for k, pop in enumerate(self.populations)
            if pop.name in results and results[pop.name].nonfinite is not None
        ]
        if not found:
            return
        first, _, pop = min(found, key=lambda item: (item[0].time, item[1], item[0].neuron))
        values = ", ".join(first.variables)
        where = f"model {pop.model.name!r}"
        if pop.name != pop.model.name:
            where = f"population {pop.name!r} ({pop.model.name})"
        raise NonFiniteStateError(
            f"{where}: {'state variable' if len(first.variables) == 1 else 'state variables'} {values} of neuron "
            f"{first.neuron} became infinite or NaN in the step from t = {first.time * 1e3:.6g} ms "
            f"(dt = {self.dt * 1e3:g} ms), so the run's results are not returned. Check the parameters and initial "
            "values, or use a smaller dt or a more accurate method; check_finite=False (--no-check-finite) runs on "
            "and returns the values as they are (after such a value, backends may differ).",
            pop.name,
            pop.model.name,
            first.neuron,
            first.time,
            first.variables,
        )


def check_steps(duration: float, dt: float, what: str = "duration") -> int:
    """The number of steps of a run (``duration / dt`` rounded), refused above
    :data:`~sourced_neuron.common.resources.MAX_STEPS` or below one step, before anything is built.

    Raises
    ------
    InputError
        Naming the count, the step and the limit.
    """
    ratio = duration / dt if dt > 0 else float("inf")
    if not np.isfinite(ratio) or ratio > MAX_STEPS + 0.5:
        raise InputError(
            f"{what} with dt = {dt * 1e3:g} ms is {ratio:.3g} time steps; a run may take at most {MAX_STEPS:,} "
            "steps (docs/semantics.md, 'Limits'): check the units of the duration and dt, or split the run"
        )
    steps = round(ratio)
    if steps < 1:
        raise InputError(f"{what} is shorter than one time step (dt = {dt * 1e3:g} ms)")
    return steps


def check_backend_method(capabilities: Capabilities, model: NeuronModel, backend: str) -> None:
    """Refuse a model whose numerical method the backend cannot apply here.

    Raises
    ------
    UnsupportedFeatureError
        Naming the backend, the model, its method and the methods the backend has.
    """
    method = model.numerics.method
    if method in capabilities.methods:
        return
    hint = ""
    if method == "rkf45" and backend == "brian2":
        hint = "; rkf45 on brian2 needs the Cython target and GSL (apt-get install libgsl-dev)"
    raise UnsupportedFeatureError(
        f"backend {backend!r} cannot integrate model {model.name!r} with method {method!r} here "
        f"(it can: {', '.join(sorted(capabilities.methods))}){hint}"
    )


def check_backend_grid(capabilities: Capabilities, dt: float, backend: str) -> None:
    """Refuse a ``dt`` the backend cannot resolve: not a whole multiple of its time tic (NEST).

    Raises
    ------
    UnsupportedFeatureError
        Naming the dt, the tic and the nearest steps that are allowed.
    """
    tic = capabilities.time_tic
    if tic is None:
        return
    multiple = dt / tic
    if round(multiple) < 1 or abs(multiple - round(multiple)) > 1e-6 * multiple:
        if multiple < 1:
            advice = f"dt must be at least {tic * 1e3:g} ms"
        else:
            advice = f"use for example {np.floor(multiple) * tic * 1e3:g} ms or {np.ceil(multiple) * tic * 1e3:g} ms"
        raise UnsupportedFeatureError(
            f"backend {backend!r} resolves time in steps of {tic * 1e3:g} ms (NEST's tic), and dt = "
            f"{dt * 1e3:.6g} ms is not a whole multiple of it; {advice}"
        )


class Backend(ABC):
    """A simulator backend. Subclasses need :attr:`name`, :meth:`capabilities`,
    :meth:`unavailable_reason` and :meth:`run_network`, and one line in the registry."""

    name: ClassVar[str]
    description: ClassVar[str]

    @classmethod
    @abstractmethod
    def capabilities(cls) -> Capabilities:
        """What this backend can honour on this machine."""

    @classmethod
    @abstractmethod
    def unavailable_reason(cls) -> str | None:
        """``None`` when usable here, else what is missing and how to install it."""

    @abstractmethod
    def run_network(self, spec: NetworkSpec, progress: Progress | None = None) -> dict[str, RunResult | WeightRecord]:
        """Simulate; returns each population's spikes and recorded variables, by name, and the
        :class:`WeightRecord` of each projection whose weights are recorded, by its name.
        ``progress`` is told the simulated time reached (where the simulator reports it)."""

    def run(self, request: SimulationRequest, progress: Progress | None = None) -> RunResult:
        """Simulate unconnected neurons (:func:`sourced_neuron.simulate`)."""
        spec = NetworkSpec.single(request)
        return self.run_network(spec, progress)[spec.populations[0].name]

    def open_session(self, request: SimulationRequest) -> Session | None:
        """A live simulation of ``request``'s neurons that goes on from where it stopped each
        time it is advanced (:class:`Session`), or ``None`` where this backend has none (the
        default): a caller then simulates the whole input history again with :meth:`run`.

        The session takes the request's model, number of neurons, recorded variables, seed and
        ``check_finite``; its duration and stimulus are not used (the session runs as many
        steps as :meth:`Session.advance` asks for, each driven by the current given there).
        The caller checks the model's method and ``dt`` against :meth:`capabilities` first, as
        :func:`sourced_neuron.simulate` does.
        """
        return None


@dataclass(eq=False)
class Chunk:
    """What one :meth:`Session.advance` simulated, in SI units.

    Attributes
    ----------
    n_steps : int
        The steps simulated (fewer than asked when a non-finite state stopped the session).
    spike_indices : numpy.ndarray
        Neuron index of each spike of the chunk's steps.
    spike_times : numpy.ndarray
        Time stamp of each spike (docs/semantics.md: the start of its step), seconds since the
        session opened.
    signals : dict
        Recorded variable to an array of shape ``(n_steps, n_neurons)``: its value at the start
        of each of the chunk's steps.
    nonfinite : NonFinite or None
        With ``check_finite``: the first non-finite state (time since the session opened); the
        chunk may then end early, and the session cannot go on.
    """

    n_steps: int
    spike_indices: np.ndarray
    spike_times: np.ndarray
    signals: dict[str, np.ndarray] = field(default_factory=dict)
    nonfinite: NonFinite | None = None


class Session(ABC):
    """A simulation kept alive between calls (:meth:`Backend.open_session`).

    Advancing by ``a`` steps and then by ``b`` steps is the same run, to the bit, as advancing
    by ``a + b`` steps with the same currents (and as :meth:`Backend.run` of the whole input
    where the backend says so): the simulator's state, refractoriness, synaptic traces and
    random streams carry over. Each :meth:`advance` is held to the limits of a run: at most
    :data:`~sourced_neuron.common.resources.MAX_STEPS` steps in all, and the recording of a
    chunk must fit in the available memory.

    Subclasses implement :meth:`_advance` and :meth:`state`, and :meth:`close` where they hold
    resources. A session is a context manager that closes itself.
    """

    def __init__(self, request: SimulationRequest):
        self.request = request
        #: steps simulated since the session opened
        self.n_steps = 0
        self.closed = False

    def advance(self, n_steps: int, current: float | np.ndarray = 0.0) -> Chunk:
        """Simulate ``n_steps`` more steps.

        Parameters
        ----------
        n_steps : int
            Steps to simulate (zero gives an empty chunk).
        current : float or numpy.ndarray
            The current injected into every neuron (amp, read as ``I_ext``; ignored by a model
            that does not read it): one value for every step, or one per step (``(n_steps,)``).

        Returns
        -------
        Chunk
            The chunk's spikes, the recorded variables at the start of each of its steps, and
            the first non-finite state if one occurred.

        Raises
        ------
        InputError
            A closed session, a negative count, currents of the wrong shape or not finite, more
            than ``MAX_STEPS`` steps in all, or a recording that does not fit in memory.
        """
        if self.closed:
            raise InputError("the simulation session was closed")
        if isinstance(n_steps, bool) or not isinstance(n_steps, int | np.integer) or n_steps < 0:
            raise InputError(f"a session advances by a whole number of steps, got {n_steps!r}")
        n_steps = int(n_steps)
        currents = np.broadcast_to(np.asarray(current, dtype=float), (n_steps,)) if np.ndim(current) == 0 else None
        if currents is None:
            currents = np.asarray(current, dtype=float)
            if currents.shape != (n_steps,):
                raise InputError(f"a session needs one current per step ({n_steps}), got shape {currents.shape}")
        if not np.all(np.isfinite(currents)):
            raise InputError("the currents driving a session must be finite")
        if n_steps == 0:
            empty = {name: np.zeros((0, self.request.n_neurons)) for name in self.request.record}
            return Chunk(0, np.zeros(0, dtype=int), np.zeros(0), empty)
        dt = self.request.dt
        if self.n_steps + n_steps > MAX_STEPS:
            raise InputError(
                f"a simulation of {self.n_steps + n_steps:,} time steps (dt = {dt * 1e3:g} ms) exceeds the limit of "
                f"{MAX_STEPS:,} steps per run (docs/semantics.md, 'Limits'): reset the neuron or start a new one"
            )
        samples = n_steps * self.request.n_neurons * len(self.request.record)
        require_memory(
            24.0 * samples,  # the simulator's monitor, the chunk and the caller's copy, float64 each
            f"recording {', '.join(self.request.record)} of {self.request.n_neurons} neuron(s) for {n_steps:,} steps",
            "record fewer variables, or advance by fewer steps at a time",
        )
        chunk = self._advance(n_steps, currents)
        self.n_steps += chunk.n_steps
        return chunk

    @abstractmethod
    def _advance(self, n_steps: int, currents: np.ndarray) -> Chunk:
        """Simulate ``n_steps`` steps (at least one; limits checked), ``currents[k]`` amps in step ``k``."""

    @abstractmethod
    def state(self) -> dict[str, np.ndarray]:
        """Every state variable of the model now (after the last step), SI, one value per neuron."""

    def close(self) -> None:
        """Free what the session holds; it cannot advance afterwards."""
        self.closed = True

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
