"""Training an amortised posterior (neural posterior estimation with BayesFlow).

Simulations come from the batched engine (:class:`~sourced_neuron.inference.simulations.SimulationStore`,
on Dask when a client is given) and are kept, so a second training (more epochs, another summary
network) simulates nothing. The networks follow the seed project's design: a summary network
(a two-layer LSTM over the trace, and/or the summary statistics as direct conditions) and an
affine coupling flow (BayesFlow's ``CouplingFlow``, 6 layers with activation normalisation
between them), trained offline on the stored simulations with AdamW and a cosine learning-rate
schedule with warm-up (BayesFlow's offline defaults). A fraction of the simulations is kept
for validation (the loss curves) and for the typicality reference.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from sourced_neuron.common.errors import InputError
from sourced_neuron.common.progress import enabled
from sourced_neuron.experiments.cluster import local_client, resolve_client
from sourced_neuron.experiments.sweep import SetBar
from sourced_neuron.inference.keras_jax import bayesflow
from sourced_neuron.inference.posterior import SUMMARIES, Encoder, Posterior
from sourced_neuron.inference.prior import Prior
from sourced_neuron.inference.simulations import BATCH_SIZE, TRACE_SAMPLES, Protocol, SimulationStore
from sourced_neuron.spec.model import NeuronModel

__all__ = ["train"]

#: Training sets embedded for the typicality reference's mean and covariance.
_REFERENCE_SETS = 5000


def train(
    model: NeuronModel | str | Path,
    prior: Prior,
    *,
    stimulus: Any,
    duration: Any,
    simulations: int = 10_000,
    backend: str = "brian2-cpp",
    noise: Any = "1 mV",
    summary: str = "statistics",
    epochs: int = 100,
    client: Any = None,
    out: str | Path | None = None,
    store: str | Path | None = None,
    seed: int = 0,
    preset: str | None = None,
    dt: Any = None,
    trace_samples: int = TRACE_SAMPLES,
    batch_size: int = 256,
    learning_rate: float = 5e-4,
    coupling_layers: int = 6,
    lstm_units: tuple[int, ...] = (64, 64),
    summary_dim: int = 16,
    validation: float = 0.05,
    simulation_batch: int = BATCH_SIZE,
    progress: bool | None = None,
) -> Posterior:
    """Simulate ``simulations`` parameter sets from ``prior`` and train an amortised posterior.

    Parameters
    ----------
    model : NeuronModel, str or path
        A library model name, a model file, or a model.
    prior : Prior
        Over some of the model's parameters (the others keep the model's, or the preset's, values).
    stimulus, duration
        The experiment, as :func:`sourced_neuron.simulate` takes them; observations to be
        analysed must come from the same experiment.
    simulations : int
        Parameter sets to simulate (the seed project used 100,000).
    backend : str
        Where the training set is simulated (any backend the batched engine runs).
    noise : str or quantity
        Standard deviation of the Gaussian noise added to every trace sample (the observation model).
    summary : {"statistics", "lstm", "both"}
        What summarises a trace: hand-made summary statistics, an LSTM over the downsampled
        trace, or both (the LSTM's output and the statistics side by side).
    epochs, batch_size, learning_rate : int, int, float
        Training (AdamW with BayesFlow's warm-up and cosine decay from ``learning_rate``).
    client : dask.distributed.Client, "synchronous" or None
        Where simulations run (``None``: the embedded local cluster).
    out : path, optional
        A folder: the posterior is saved there, and the simulations kept in ``out/simulations``
        unless ``store`` says otherwise. Without either, simulations are kept in the library's
        cache folder (keyed by the experiment, prior and seed).
    store : path, optional
        The folder of the stored simulations; posteriors with other networks or training
        settings (other ``out`` folders) share the simulations of one store.
    seed : int
        Draws, noise, network initialisation and batches.
    preset, dt
        As for :func:`sourced_neuron.simulate`.
    trace_samples : int
        At most this many samples per trace (the simulator records every
        ``ceil(n_steps / trace_samples)`` steps).
    coupling_layers, lstm_units, summary_dim : int, tuple of int, int
        The networks' sizes.
    validation : float
        Fraction of the simulations kept out of training.
    simulation_batch : int
        Parameter sets per simulated batch (and per stored part).
    progress : bool, optional
        Show progress bars (default: on a terminal).

    Returns
    -------
    Posterior

    Raises
    ------
    InputError, UnitError, BackendUnavailableError
        Before anything is simulated: the prior against the model, the experiment, the choices.
    """
    if summary not in SUMMARIES:
        raise InputError(f"summary must be one of {', '.join(map(repr, SUMMARIES))}, got {summary!r}")
    for name, value in (("epochs", epochs), ("batch_size", batch_size), ("coupling_layers", coupling_layers)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise InputError(f"{name} must be a whole number >= 1, got {value!r}")
    if not 0 < validation < 0.5:
        raise InputError(f"validation must be a fraction between 0 and 0.5, got {validation!r}")
    if not isinstance(prior, Prior):
        raise InputError(f"prior must be a sourced_neuron.inference.Prior, got {type(prior).__name__}")
    protocol = Protocol.make(
        model,
        stimulus=stimulus,
        duration=duration,
        backend=backend,
        preset=preset,
        dt=dt,
        noise=noise,
        trace_samples=trace_samples,
    )
    prior = prior.bind(protocol.model)
    bf = bayesflow()
    folder = None if out is None else Path(out)
    store_folder = Path(store) if store is not None else None if folder is None else folder / "simulations"
    simulations_store = SimulationStore(store_folder, protocol, prior, seed, simulation_batch)
    with SetBar(simulations, 0, f"{protocol.model.name} simulations", progress) as bar:
        # a given client is checked now; the local cluster is started only if something is left to simulate
        where = local_client if client is None else resolve_client(client)
        sims, simulated = simulations_store.load(simulations, where, bar.update)
    usable = sims.select(~sims.failed)
    if len(usable) < 20:
        raise InputError(
            f"only {len(usable)} of {len(sims)} simulations gave a finite trace: check the prior's bounds and the "
            "stimulus"
        )
    rng = np.random.default_rng([seed, 2])
    noisy = usable.traces + protocol.noise * rng.standard_normal(usable.traces.shape)
    spikes = usable.spikes() if protocol.spiking else None
    encoder = Encoder(summary, protocol.spiking, protocol.duration).fit(noisy, spikes)
    data = encoder.encode(noisy, spikes)
    data["theta"] = prior.to_unbounded(usable.theta).astype(np.float32)
    n_val = max(1, round(validation * len(usable)))
    order = rng.permutation(len(usable))
    held, kept = order[:n_val], order[n_val:]
    training = {k: v[kept] for k, v in data.items()}
    validating = {k: v[held] for k, v in data.items()}

    import keras

    keras.utils.set_random_seed(seed)
    summary_network = None
    if encoder.uses_trace:
        summary_network = bf.networks.RecurrentNetwork(
            summary_dim=summary_dim,
            hidden_dim=tuple(lstm_units),
            recurrent_type="lstm",
            bidirectional=False,
            dropout=0.0,
        )
    workflow = bf.BasicWorkflow(
        inference_network=bf.networks.CouplingFlow(depth=coupling_layers, transform="affine"),
        summary_network=summary_network,
        inference_variables=["theta"],
        summary_variables=["trace"] if encoder.uses_trace else None,
        inference_conditions=["features"] if encoder.uses_features else None,
        initial_learning_rate=learning_rate,
    )
    started = time.perf_counter()
    result = workflow.fit_offline(
        training,
        epochs=epochs,
        batch_size=batch_size,
        validation_data=validating,
        verbose=2 if enabled(progress) else 0,
    )
    seconds = time.perf_counter() - started
    history = {k: [float(x) for x in v] for k, v in result.history.items()}
    info = {
        "simulations": len(sims),
        "failed_simulations": int(sims.failed.sum()),
        "simulated_now": simulated["simulated"],
        "simulation_seconds": simulated["seconds"],
        "failed_batches": simulated["failed_batches"],
        "training_seconds": seconds,
        "epochs": epochs,
        "batch_size": batch_size,
        "learning_rate": learning_rate,
        "coupling_layers": coupling_layers,
        "lstm_units": list(lstm_units) if encoder.uses_trace else None,
        "summary_dim": summary_dim if encoder.uses_trace else None,
        "validation_sets": int(n_val),
        "seed": seed,
        "simulations_folder": str(simulations_store.folder),
    }
    posterior = Posterior(workflow.estimator, protocol, prior, encoder, history, info)
    # typicality: the mean and covariance from up to 5,000 training sets; the distances to compare
    # with from the validation sets and up to 5,000 other training sets (all sets when that is
    # fewer than 1,000, so that a p-value below 0.01 can be reached)
    fit = kept[:_REFERENCE_SETS]
    compare = np.concatenate([held, kept[_REFERENCE_SETS : 2 * _REFERENCE_SETS]])
    if len(compare) < 1000:
        compare = np.concatenate([held, kept])

    def embedded(rows: np.ndarray) -> np.ndarray:
        return posterior.embed(noisy[rows], None if spikes is None else [spikes[k] for k in rows])

    posterior.set_reference(embedded(fit), embedded(compare))
    if folder is not None:
        posterior.save(folder)
    return posterior
