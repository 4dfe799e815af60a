"""The package's exception hierarchy and the diagnostics that model checks produce.

Every error caused by user input is one of these types; the command line prints their
message and exits non-zero instead of showing a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Diagnostic:
    """One problem found in a model file.

    Parameters
    ----------
    message : str
        What is wrong, naming the offending text.
    source : str
        The file (or ``"<string>"``) the model came from.
    field : str
        The model file key, e.g. ``"equations"`` or ``"parameters.tau_m"``.
    line : int or None
        1-based line in the source, where known.
    """

    message: str
    source: str = "<string>"
    field: str = ""
    line: int | None = None

    def __str__(self) -> str:
        where = self.source
        if self.line is not None:
            where += f":{self.line}"
        if self.field:
            where += f" [{self.field}]"
        return f"{where}: {self.message}"


class SourcedNeuronError(Exception):
    """Base class of every error raised by sourced_neuron."""


class ModelError(SourcedNeuronError, ValueError):
    """A model file or model definition is invalid.

    Carries every problem found, so one run of the checks reports them all.
    """

    def __init__(self, diagnostics: list[Diagnostic] | Diagnostic | str):
        if isinstance(diagnostics, str):
            diagnostics = [Diagnostic(diagnostics)]
        elif isinstance(diagnostics, Diagnostic):
            diagnostics = [diagnostics]
        self.diagnostics: tuple[Diagnostic, ...] = tuple(diagnostics)
        super().__init__("\n".join(str(d) for d in self.diagnostics))


class InputError(SourcedNeuronError, ValueError):
    """A value passed to a public function is invalid (unknown name, bad stimulus, ...)."""


class UnitError(InputError):
    """A value has the wrong physical dimension or cannot be read as a quantity."""


class BackendUnavailableError(SourcedNeuronError, RuntimeError):
    """A backend or export target is unknown, not installed or not implemented."""


class UnsupportedFeatureError(SourcedNeuronError, ValueError):
    """A backend cannot honour a request (a numerical method, a stimulus kind, ...)."""


class SimulationError(SourcedNeuronError, RuntimeError):
    """The simulator failed while building or running a model."""


class NonFiniteStateError(SimulationError):
    """A state variable became infinite or NaN during a run (docs/semantics.md, "Non-finite states").

    Attributes
    ----------
    population : str
        The population (for :func:`sourced_neuron.simulate`, the model's name).
    model : str
        The model's name.
    neuron : int
        Index of the first neuron (lowest index at the earliest step) whose state was not finite.
    time : float
        Start of the step after which it was not finite, in seconds.
    variables : tuple of str
        The state variables that were not finite then, in the model's order.
    """

    def __init__(self, message: str, population: str, model: str, neuron: int, time: float, variables: tuple):
        super().__init__(message)
        self.population, self.model, self.neuron = population, model, neuron
        self.time, self.variables = time, tuple(variables)


class StorageError(SourcedNeuronError, OSError):
    """A file or the cache folder cannot be written (full disk, read-only folder, ...); the
    message names the user's path, not a temporary file, and says what to do."""


def did_you_mean(name: object, candidates) -> str:
    """``" (did you mean 'x'?)"`` for the closest candidate (ignoring case), or ``""``."""
    import difflib

    by_lower = {str(c).lower(): str(c) for c in candidates}
    close = difflib.get_close_matches(str(name).lower(), list(by_lower), n=1)
    return f" (did you mean {by_lower[close[0]]!r}?)" if close else ""
