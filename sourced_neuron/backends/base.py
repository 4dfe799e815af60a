"""The interface every simulator backend implements, and what passes through it."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from ..model import NeuronModel
from ..stimulus import Stimulus

__all__ = ["Backend", "Capabilities", "RunResult", "SimulationRequest"]


@dataclass(frozen=True)
class Capabilities:
    """What a backend can honour; requests outside it are refused before code is generated.

    Attributes
    ----------
    methods : frozenset of str
        The ``numerics.method`` values it integrates exactly as the model format defines them.
    stimuli : frozenset of str
        The :class:`~sourced_neuron.stimulus.Stimulus` kinds it takes.
    gpu : bool
        Whether it runs on a GPU.
    """

    methods: frozenset[str]
    stimuli: frozenset[str] = frozenset({"none", "constant", "step", "sampled"})
    gpu: bool = False


@dataclass(frozen=True, eq=False)
class SimulationRequest:
    """A checked simulation: the model with presets and parameters applied, and the run settings."""

    model: NeuronModel
    duration: float  # seconds
    n_neurons: int
    stimulus: Stimulus
    record: tuple[str, ...]
    seed: int | None = None

    @property
    def dt(self) -> float:
        """The time step in seconds (from the model's numerics)."""
        return self.model.numerics.dt.magnitude

    @property
    def n_steps(self) -> int:
        """Number of time steps: the duration rounded to the dt grid."""
        return round(self.duration / self.dt)


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
    """

    spike_indices: np.ndarray
    spike_times: np.ndarray
    signals: dict[str, np.ndarray] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)


class Backend(ABC):
    """A simulator backend. Subclasses need :attr:`name`, :meth:`capabilities`,
    :meth:`unavailable_reason` and :meth:`run`, and one line in the registry."""

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
    def run(self, request: SimulationRequest) -> RunResult:
        """Simulate and return spikes and recorded variables."""
