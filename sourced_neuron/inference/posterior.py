"""A trained, amortised posterior: sampling for new observations, saving and loading, typicality.

The networks (BayesFlow: a summary network and a coupling flow) see

* ``trace``: the noisy trace in mV, shifted and scaled by the training set's mean and standard
  deviation (one pair for the whole trace), shape ``(n, n_samples, 1)`` (``summary="lstm"`` or
  ``"both"``);
* ``features``: the summary statistics of :mod:`~sourced_neuron.inference.features`, each
  standardised over the training set (``summary="statistics"`` or ``"both"``), given to the flow as
  direct conditions;

and learn the parameters in the prior's unbounded space
(:meth:`~sourced_neuron.inference.prior.Prior.to_unbounded`).

Typicality: an observation is embedded in summary space (the summary network's output and the
standardised features); its Mahalanobis distance to the training simulations' embeddings (their
mean and covariance) is compared with the distances of other simulations of the prior (the
validation sets and further training sets). The p-value is the fraction of those with a larger
distance (plus one, over their number plus one); below ``alpha`` (0.01) the observation is flagged
as atypical: out of the distribution the posterior was trained on, so its samples are not to be
trusted. The check needs no assumption about the distribution of the summaries.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sourced_neuron.common.cache import write_file
from sourced_neuron.common.errors import InputError, StorageError
from sourced_neuron.common.files import json_default
from sourced_neuron.inference.features import feature_names, statistics
from sourced_neuron.inference.keras_jax import bayesflow
from sourced_neuron.inference.prior import Prior
from sourced_neuron.inference.simulations import Protocol

__all__ = ["SUMMARIES", "Encoder", "Posterior", "load"]

#: The summary choices of :func:`~sourced_neuron.inference.train`.
SUMMARIES = ("lstm", "statistics", "both")

_FORMAT = "sourced-neuron-posterior/1"
_NETWORK = "approximator.keras"
_META = "posterior.json"
_TYPICAL = "typicality.npz"


@dataclass(eq=False)
class Encoder:
    """How observations become network inputs (scalings fitted on the training set)."""

    summary: str
    spiking: bool
    duration: float
    trace_shift: float = 0.0  # mV
    trace_scale: float = 1.0
    feature_shift: np.ndarray = field(default_factory=lambda: np.zeros(0))
    feature_scale: np.ndarray = field(default_factory=lambda: np.ones(0))

    @property
    def uses_trace(self) -> bool:
        return self.summary in ("lstm", "both")

    @property
    def uses_features(self) -> bool:
        return self.summary in ("statistics", "both")

    def fit(self, traces: np.ndarray, spikes: list[np.ndarray] | None) -> Encoder:
        """Set the scalings from (noisy) training traces (SI) and spikes."""
        mv = np.asarray(traces, dtype=float) * 1e3
        self.trace_shift, self.trace_scale = float(mv.mean()), float(mv.std() or 1.0)
        features = statistics(traces, spikes if self.spiking else None, self.duration)
        self.feature_shift = features.mean(axis=0)
        scale = features.std(axis=0)
        self.feature_scale = np.where(scale > 0, scale, 1.0)
        return self

    def features(self, traces: np.ndarray, spikes: list[np.ndarray] | None) -> np.ndarray:
        """The standardised summary statistics, ``(n, n_features)``."""
        raw = statistics(traces, spikes if self.spiking else None, self.duration)
        return (raw - self.feature_shift) / self.feature_scale

    def encode(self, traces: np.ndarray, spikes: list[np.ndarray] | None) -> dict[str, np.ndarray]:
        """The networks' inputs for noisy traces (SI, ``(n, n_samples)``) and spike times."""
        traces = np.atleast_2d(traces)
        data = {}
        if self.uses_trace:
            scaled = (np.asarray(traces, dtype=float) * 1e3 - self.trace_shift) / self.trace_scale
            data["trace"] = scaled[..., None].astype(np.float32)
        if self.uses_features:
            data["features"] = self.features(traces, spikes).astype(np.float32)
        return data

    def describe(self) -> dict[str, Any]:
        return {
            "summary": self.summary,
            "spiking": self.spiking,
            "duration_s": self.duration,
            "trace_shift_mV": self.trace_shift,
            "trace_scale_mV": self.trace_scale,
            "features": feature_names(self.spiking),
            "feature_shift": self.feature_shift.tolist(),
            "feature_scale": self.feature_scale.tolist(),
        }

    @classmethod
    def from_description(cls, data: dict[str, Any]) -> Encoder:
        return cls(
            data["summary"],
            data["spiking"],
            data["duration_s"],
            data["trace_shift_mV"],
            data["trace_scale_mV"],
            np.asarray(data["feature_shift"], dtype=float),
            np.asarray(data["feature_scale"], dtype=float),
        )


class Posterior:
    """An amortised posterior over a model's parameters for one experiment (see the module).

    Made by :func:`~sourced_neuron.inference.train` or :func:`load`; not constructed directly.

    Attributes
    ----------
    protocol : Protocol
        The experiment and observation model.
    prior : Prior
        The prior (bound to the model).
    history : dict
        Training and validation loss per epoch (``"loss"``, ``"val_loss"``).
    info : dict
        How it was trained: simulations, their time, training time, networks, seed.
    """

    def __init__(
        self,
        approximator: Any,
        protocol: Protocol,
        prior: Prior,
        encoder: Encoder,
        history: dict[str, list[float]],
        info: dict[str, Any],
        reference: dict[str, np.ndarray] | None = None,
    ) -> None:
        self.approximator = approximator
        self.protocol = protocol
        self.prior = prior
        self.encoder = encoder
        self.history = history
        self.info = info
        self.reference = reference
        self.folder: Path | None = None

    @property
    def names(self) -> tuple[str, ...]:
        """The inferred parameters."""
        return self.prior.names

    def __repr__(self) -> str:
        return (
            f"<Posterior of {self.protocol.model.name} over {', '.join(self.names)}: summary {self.encoder.summary!r}, "
            f"{self.info.get('simulations', '?')} simulations>"
        )

    # --- sampling ------------------------------------------------------------------------------

    def sample_encoded(self, data: dict[str, np.ndarray], n: int, seed: int | None = None) -> np.ndarray:
        """Posterior draws (SI) for already encoded observations: ``(n_observations, n, n_params)``."""
        draws = self.approximator.sample(num_samples=int(n), conditions=data, seed=seed)["theta"]
        return self.prior.from_unbounded(np.asarray(draws, dtype=float))

    def sample_many(
        self, traces: np.ndarray, spikes: list[np.ndarray] | None, n: int = 1000, seed: int | None = None
    ) -> np.ndarray:
        """Posterior draws (SI) for several noisy traces (``(m, n_samples)``, SI) with their spikes:
        ``(m, n, n_params)``."""
        return self.sample_encoded(self.encoder.encode(traces, spikes), n, seed)

    def sample(self, observation: Any, n: int = 1000, *, spikes: Any = None, seed: int | None = None) -> pd.DataFrame:
        """Draw ``n`` parameter sets from the posterior given ``observation``.

        Parameters
        ----------
        observation : neo.AnalogSignal, neo.Segment, neo.Block or path
            The observed trace (and, for a spiking model, its spike train): a block from any
            backend, or a NIX/NWB file written by the library. It must last as long and be sampled
            as the training traces (or a whole number of times finer).
        n : int
            Draws.
        spikes : neo.SpikeTrain or times with units, optional
            The spike times, when ``observation`` is a bare ``AnalogSignal``.
        seed : int, optional
            For reproducible draws.

        Returns
        -------
        pandas.DataFrame
            One column per parameter, in the model's units (``frame.attrs["units"]``).
        """
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise InputError(f"n must be a whole number >= 1, got {n!r}")
        trace, times = self.protocol.observe(observation, spikes)
        draws = self.sample_many(trace[None, :], [times] if self.protocol.spiking else None, n, seed)[0]
        return self.prior.frame(draws)

    # --- typicality ----------------------------------------------------------------------------

    def embed(self, traces: np.ndarray, spikes: list[np.ndarray] | None) -> np.ndarray:
        """Observations in summary space: the summary network's output and the standardised
        features, ``(n, dimensions)``."""
        data = self.encoder.encode(traces, spikes)
        parts = []
        if "trace" in data:
            parts.append(np.asarray(self.approximator.summarize({"trace": data["trace"]}), dtype=float))
        if "features" in data:
            parts.append(np.asarray(data["features"], dtype=float))
        return np.concatenate(parts, axis=1)

    def set_reference(self, training: np.ndarray, held_out: np.ndarray) -> None:
        """Fit the typicality check: training-set embeddings give the mean and covariance, the
        held-out ones the distances an observation is compared with."""
        mean = training.mean(axis=0)
        covariance = np.cov(training, rowvar=False) + 1e-9 * np.eye(training.shape[1])
        precision = np.linalg.pinv(covariance)
        self.reference = {"mean": mean, "precision": precision}
        self.reference["distances"] = np.sort(self._distance(held_out))

    def _distance(self, embedded: np.ndarray) -> np.ndarray:
        centred = embedded - self.reference["mean"]
        return np.sqrt(np.einsum("ij,jk,ik->i", centred, self.reference["precision"], centred))

    def typicality(self, observation: Any, *, spikes: Any = None, alpha: float = 0.01) -> dict[str, Any]:
        """How typical ``observation`` is of the training simulations (see the module).

        Returns
        -------
        dict
            ``distance`` (Mahalanobis, in summary space), ``p_value`` (fraction of held-out
            simulations farther away), ``typical`` (``p_value >= alpha``), ``alpha``.
        """
        if self.reference is None:
            raise InputError("this posterior has no typicality reference (it was trained without one)")
        trace, times = self.protocol.observe(observation, spikes)
        return self.typicality_of(trace[None, :], [times] if self.protocol.spiking else None, alpha)[0]

    def typicality_of(
        self, traces: np.ndarray, spikes: list[np.ndarray] | None, alpha: float = 0.01
    ) -> list[dict[str, Any]]:
        """:meth:`typicality` for several noisy traces (SI) with their spikes."""
        distances = self._distance(self.embed(traces, spikes))
        reference = self.reference["distances"]
        found = []
        for d in distances:
            p = float((np.sum(reference >= d) + 1) / (len(reference) + 1))
            found.append({"distance": float(d), "p_value": p, "typical": bool(p >= alpha), "alpha": alpha})
        return found

    # --- checks that simulate ------------------------------------------------------------------

    def predictive_check(self, observation: Any, **kwargs: Any):
        """Posterior predictive check; see :func:`~sourced_neuron.inference.diagnostics.predictive_check`."""
        from sourced_neuron.inference.diagnostics import predictive_check

        return predictive_check(self, observation, **kwargs)

    def plot_pairs(self, draws: pd.DataFrame, path: str | Path, truth: dict[str, Any] | None = None) -> Path:
        """Pair plot of draws over the prior; see :func:`~sourced_neuron.inference.diagnostics.plot_pairs`."""
        from sourced_neuron.inference.diagnostics import plot_pairs

        return plot_pairs(self, draws, path, truth)

    def diagnose(self, n: int = 200, **kwargs: Any) -> dict[str, Any]:
        """Calibration, coverage, recovery and contraction on ``n`` held-out simulations; see
        :func:`~sourced_neuron.inference.diagnostics.diagnose`."""
        from sourced_neuron.inference.diagnostics import diagnose

        return diagnose(self, n=n, **kwargs)

    # --- files ---------------------------------------------------------------------------------

    def save(self, path: str | Path) -> Path:
        """Write the posterior to the folder ``path`` (networks, scalings, prior, protocol, loss
        history, typicality reference); :func:`load` reads it in any process."""
        folder = Path(path)
        try:
            folder.mkdir(parents=True, exist_ok=True)
            temporary = folder / f".{_NETWORK}.{int(time.time() * 1e6)}.keras"
            self.approximator.save(temporary)
            temporary.replace(folder / _NETWORK)
            if self.reference is not None:
                import io

                buffer = io.BytesIO()
                np.savez(buffer, **self.reference)
                write_file(folder / _TYPICAL, buffer.getvalue())
            meta = {
                "format": _FORMAT,
                "protocol": self.protocol.describe(),
                "prior": self.prior.describe(),
                "encoder": self.encoder.describe(),
                "history": self.history,
                "info": self.info,
            }
            write_file(folder / _META, json.dumps(meta, indent=1, default=json_default))
        except OSError as exc:
            raise StorageError(f"cannot write the posterior to {str(folder)!r}: {exc}") from exc
        self.folder = folder
        return folder


def load(path: str | Path) -> Posterior:
    """Read a posterior written by :meth:`Posterior.save` (or ``train(..., out=...)``).

    Raises
    ------
    InputError
        ``path`` is not such a folder, or was written by another format version.
    """
    folder = Path(path)
    meta_path = folder / _META
    if not meta_path.is_file() or not (folder / _NETWORK).is_file():
        raise InputError(f"{str(folder)!r} is not a saved posterior (it needs {_META} and {_NETWORK})")
    try:
        meta = json.loads(meta_path.read_text())
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read {str(meta_path)!r}: {exc}") from exc
    if meta.get("format") != _FORMAT:
        raise InputError(f"{str(folder)!r} holds format {meta.get('format')!r}; this version reads {_FORMAT!r}")
    bf = bayesflow()
    import keras

    del bf  # imported for its registered layers
    approximator = keras.saving.load_model(folder / _NETWORK)
    protocol = Protocol.from_description(meta["protocol"])
    prior = Prior.from_description(meta["prior"]).bind(protocol.model)
    reference = None
    if (folder / _TYPICAL).is_file():
        with np.load(folder / _TYPICAL) as data:
            reference = {k: data[k] for k in data.files}
    posterior = Posterior(
        approximator,
        protocol,
        prior,
        Encoder.from_description(meta["encoder"]),
        meta["history"],
        meta["info"],
        reference,
    )
    posterior.folder = folder
    return posterior
