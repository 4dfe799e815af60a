"""Is a trained posterior trustworthy? Checks on held-out simulations, and predictive checks.

:func:`diagnose` simulates ``n`` held-out parameter sets from the prior (a seed stream of their
own, kept next to the posterior), observes them through the protocol (noise included) and draws
from the posterior for each. Reported per parameter:

* **SBC** (simulation-based calibration, Talts et al. 2018): the fractional rank of the true value
  among the draws is uniform for a calibrated posterior. The ECDF of the ranks is compared with
  simultaneous 95 % bands (Säilynoja, Bürkner & Vehtari 2022; BayesFlow's implementation);
  ``sbc_within_band`` says whether it stays inside everywhere.
* **Coverage** of central credible intervals at 50, 80, 90 and 95 %: the fraction of true values
  inside.
* **Recovery**: Pearson r between posterior mean and truth (for a log-uniform parameter, of their
  logarithms), and the RMSE as a fraction of the prior's range.
* **Contraction**: 1 - posterior variance / prior variance (mean over sets), and the posterior
  z-score (mean - truth) / sd (Schad, Betancourt & Vasishth 2021).
* **Identifiability** from this protocol: a parameter whose contraction stays below 0.5 or whose
  recovery r is below 0.9 is reported as weakly identified, with the numbers that say so.

Posterior predictive checks: for some held-out observations (``predictive``), posterior draws are
simulated through the same protocol; the fraction of the observation's summary statistics inside
their 95 % predictive interval is reported. Typicality: the fraction of held-out observations
flagged as atypical (expected: about ``alpha``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sourced_neuron.common.cache import write_file
from sourced_neuron.common.errors import InputError
from sourced_neuron.common.files import json_default
from sourced_neuron.experiments.cluster import resolve_client, run_tasks
from sourced_neuron.experiments.sweep import SetBar
from sourced_neuron.inference.features import feature_names, statistics
from sourced_neuron.inference.keras_jax import bayesflow
from sourced_neuron.inference.simulations import BATCH_SIZE, Simulations, SimulationStore, simulate_part

__all__ = ["LEVELS", "PredictiveCheck", "diagnose", "plot_pairs", "predictive_check"]

#: Central credible intervals whose coverage is reported.
LEVELS = (0.5, 0.8, 0.9, 0.95)

#: Contraction and recovery below these mark a parameter as weakly identified.
MIN_CONTRACTION, MIN_RECOVERY = 0.5, 0.9


@dataclass(eq=False)
class PredictiveCheck:
    """A posterior predictive check of one observation.

    Attributes
    ----------
    observed : numpy.ndarray
        The observed trace (SI).
    predicted : numpy.ndarray
        ``(n, n_samples)``: the traces of the posterior draws, with the observation noise.
    features : pandas.DataFrame
        Per summary statistic: the observed value, the 2.5 % and 97.5 % predictive quantiles and
        whether the observed value lies inside.
    fraction_inside : float
        The fraction of summary statistics inside their 95 % predictive interval.
    backend : str
        Where the draws were simulated.
    """

    observed: np.ndarray
    predicted: np.ndarray
    features: pd.DataFrame
    fraction_inside: float
    backend: str
    sampling_period: float
    variable: str

    def plot(self, path: str | Path | None = None):
        """The observed trace over the predictive median and its 50 % and 95 % bands; saved as PNG
        when ``path`` is given (returned), else the figure."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        t = np.arange(self.observed.size) * self.sampling_period * 1e3
        low, q25, median, q75, high = np.percentile(self.predicted * 1e3, [2.5, 25, 50, 75, 97.5], axis=0)
        figure, axis = plt.subplots(figsize=(8, 3.5))
        axis.fill_between(t, low, high, color="#9ecae1", label="95 % predictive band")
        axis.fill_between(t, q25, q75, color="#4292c6", label="50 % predictive band")
        axis.plot(t, median, color="#08306b", lw=1, label="predictive median")
        axis.plot(t, self.observed * 1e3, color="black", lw=1, label="observation")
        axis.set_xlabel("time (ms)")
        axis.set_ylabel(f"{self.variable} (mV)")
        axis.set_title(
            f"posterior predictive check on {self.backend}: {100 * self.fraction_inside:.0f} % of summary "
            "statistics inside their 95 % interval",
            fontsize=10,
        )
        axis.legend(fontsize=8, loc="upper right")
        figure.tight_layout()
        if path is None:
            return figure
        figure.savefig(path, dpi=120)
        plt.close(figure)
        return Path(path)


def plot_pairs(
    posterior, draws: pd.DataFrame, path: str | Path, truth: Mapping[str, Any] | None = None, seed: int = 0
) -> Path:
    """Pair plot of posterior draws (a frame from :meth:`Posterior.sample`) over as many prior
    draws, with the true values (strings or quantities with units) marked when known."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    bf = bayesflow()
    prior = posterior.prior
    scale = np.array([size for _, size in prior.units])
    labels = [f"{name} ({unit})" if unit else name for name, (unit, _) in zip(prior.names, prior.units, strict=True)]
    targets = None
    if truth is not None:
        from sourced_neuron.spec.units import as_scalar

        model = posterior.protocol.model
        targets = (
            np.array([float(np.asarray(as_scalar(truth[n], n, model.dimension_of(n)))) for n in prior.names]) / scale
        )
    grid = bf.diagnostics.plots.pairs_posterior(
        draws[list(prior.names)].to_numpy(),
        targets=targets,
        priors=prior.sample(len(draws), seed) / scale,
        variable_names=labels,
        height=2.0,
    )
    figure = getattr(grid, "figure", grid)
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return Path(path)


def _check_count(value: Any, name: str, least: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < least:
        raise InputError(f"{name} must be a whole number >= {least}, got {value!r}")
    return int(value)


def _observe(posterior, sims: Simulations, rng: np.random.Generator) -> tuple[np.ndarray, list | None]:
    """Noisy traces and spikes of simulated sets (the observation model)."""
    noisy = sims.traces + posterior.protocol.noise * rng.standard_normal(sims.traces.shape)
    return noisy, sims.spikes() if posterior.protocol.spiking else None


def _simulate(posterior, protocol, values: np.ndarray, client, size: int = BATCH_SIZE) -> Simulations:
    """Simulate parameter sets (SI rows) through ``protocol``, in batches of ``size``."""
    names = posterior.prior.names
    jobs = [
        (k, (protocol.batch, names, values[start : start + size], min(size, len(values))))
        for k, start in enumerate(range(0, len(values), size))
    ]
    parts: dict[int, Simulations] = {}
    for k, outcome in run_tasks(client, simulate_part, jobs, retries=2 if client is not None else 0):
        if isinstance(outcome, BaseException):
            raise outcome
        parts[k] = outcome
    return Simulations.join([parts[k] for k in sorted(parts)])


def predictive_check(
    posterior,
    observation: Any,
    *,
    n: int = 200,
    backend: str | None = None,
    spikes: Any = None,
    seed: int = 0,
    client: Any = "synchronous",
    plot: str | Path | None = None,
) -> PredictiveCheck:
    """Simulate ``n`` posterior draws for ``observation`` and compare them with it.

    Parameters
    ----------
    posterior : Posterior
    observation
        As :meth:`Posterior.sample` takes it.
    n : int
        Posterior draws to simulate (one batch).
    backend : str, optional
        Where to simulate them (``"brian2"``, ``"nest"``, ...; default: the training backend).
    spikes, seed, client
        The spike train of a bare trace; draws and noise; where to simulate (this process by default).
    plot : path, optional
        Write the overlay figure there (PNG).

    Returns
    -------
    PredictiveCheck
    """
    n = _check_count(n, "n", 2)
    protocol = posterior.protocol if backend is None else posterior.protocol.with_backend(backend)
    trace, times = protocol.observe(observation, spikes)
    spiking = protocol.spiking
    draws = posterior.sample_many(trace[None, :], [times] if spiking else None, n, seed)[0]
    sims = _simulate(posterior, protocol, draws, resolve_client(client))
    sims = sims.select(~sims.failed)
    if not len(sims):
        raise InputError("every posterior draw failed to simulate (non-finite states)")
    predicted, predicted_spikes = _observe(posterior, sims, np.random.default_rng([seed, 4]))
    observed_features = statistics(trace[None, :], [times] if spiking else None, protocol.duration)[0]
    predicted_features = statistics(predicted, predicted_spikes, protocol.duration)
    low, high = np.percentile(predicted_features, [2.5, 97.5], axis=0)
    inside = (observed_features >= low) & (observed_features <= high)
    table = pd.DataFrame(
        {"observed": observed_features, "low_2.5": low, "high_97.5": high, "inside": inside},
        index=feature_names(spiking),
    )
    check = PredictiveCheck(
        trace,
        predicted,
        table,
        float(inside.mean()),
        protocol.batch.backend,
        protocol.sampling_period,
        protocol.variable,
    )
    if plot is not None:
        check.plot(plot)
    return check


def diagnose(
    posterior,
    *,
    n: int = 200,
    samples: int = 1000,
    out: str | Path | None = None,
    client: Any = None,
    predictive: int = 20,
    predictive_draws: int = 100,
    alpha: float = 0.01,
    progress: bool | None = None,
) -> dict[str, Any]:
    """Calibration and accuracy on ``n`` held-out simulations (see the module).

    Parameters
    ----------
    posterior : Posterior
    n : int
        Held-out simulations (at least 200 for the report the docs describe).
    samples : int
        Posterior draws per held-out set.
    out : path, optional
        A folder for ``report.json`` and the figures (``sbc_ecdf.png``, ``sbc_histogram.png``,
        ``coverage.png``, ``recovery.png``, ``z_score_contraction.png``, ``loss.png``,
        ``predictive.png``).
    client
        Where the held-out and predictive simulations run (``None``: the local Dask cluster).
    predictive, predictive_draws : int
        Held-out observations given a posterior predictive check, and draws simulated for each
        (0 skips the check).
    alpha : float
        Typicality level.
    progress : bool, optional
        Progress bars.

    Returns
    -------
    dict
        The JSON-able report.
    """
    n = _check_count(n, "n", 10)
    samples = _check_count(samples, "samples", 10)
    predictive = _check_count(predictive, "predictive", 0)
    prior, protocol = posterior.prior, posterior.protocol
    seed = int(posterior.info.get("seed", 0))
    client = resolve_client(client)
    folder = None if posterior.folder is None else posterior.folder / "heldout"
    store = SimulationStore(folder, protocol, prior, [seed, 1], min(n, BATCH_SIZE))
    with SetBar(n, 0, f"{protocol.model.name} held-out simulations", progress) as bar:
        sims, _ = store.load(n, client, bar.update)
    failed = int(sims.failed.sum())
    sims = sims.select(~sims.failed)
    noisy, spikes = _observe(posterior, sims, np.random.default_rng([seed, 3]))
    draws = posterior.sample_many(noisy, spikes, samples, seed)  # (m, L, p), SI
    truth = sims.theta
    report: dict[str, Any] = {
        "model": protocol.model.name,
        "parameters": list(prior.names),
        "held_out": len(sims),
        "held_out_failed": failed,
        "samples_per_set": samples,
        "prior": prior.describe(),
        "protocol": {k: v for k, v in protocol.describe().items() if k != "model_yaml"},
        "training": posterior.info,
        "final_loss": posterior.history.get("loss", [None])[-1],
        "final_val_loss": posterior.history.get("val_loss", [None])[-1],
        "per_parameter": _per_parameter(prior, draws, truth),
    }
    typical = posterior.typicality_of(noisy, spikes, alpha) if posterior.reference is not None else []
    report["typicality"] = {
        "alpha": alpha,
        "flagged_fraction": float(np.mean([not t["typical"] for t in typical])) if typical else None,
    }
    check = None
    if predictive:
        report["predictive"], check = _predictive(posterior, noisy, spikes, predictive, predictive_draws, client, seed)
    report["goals"] = _goals(report)
    if out is not None:
        folder = Path(out)
        folder.mkdir(parents=True, exist_ok=True)
        report["figures"] = _figures(posterior, draws, truth, folder)
        if check is not None:
            check.plot(folder / "predictive.png")
            report["figures"].append("predictive.png")
        import json

        write_file(folder / "report.json", json.dumps(report, indent=1, default=json_default))
    return report


def _per_parameter(prior, draws: np.ndarray, truth: np.ndarray) -> dict[str, dict[str, Any]]:
    from bayesflow.utils.ecdf import simultaneous_ecdf_bands

    m = truth.shape[0]
    ranks = np.mean(draws < truth[:, None, :], axis=1)  # fractional ranks, (m, p)
    # BayesFlow simulates the bands with NumPy's global generator: seeded here (and restored) so
    # the same n gives the same bands
    state = np.random.get_state()  # noqa: NPY002
    np.random.seed(12345)  # noqa: NPY002
    _, z, lower, upper = simultaneous_ecdf_bands(m, confidence=0.95)
    np.random.set_state(state)  # noqa: NPY002
    unit = prior.to_unit(draws.reshape(-1, draws.shape[-1])).reshape(draws.shape)
    unit_truth = prior.to_unit(truth)
    found = {}
    for j, (name, (shown, size)) in enumerate(zip(prior.names, prior.units, strict=True)):
        ecdf = np.mean(ranks[:, j][None, :] <= z[:, None], axis=1)
        within = bool(np.all((ecdf >= lower) & (ecdf <= upper)))
        coverage = {}
        for level in LEVELS:
            a, b = np.quantile(draws[:, :, j], [(1 - level) / 2, (1 + level) / 2], axis=1)
            coverage[f"{round(100 * level)}%"] = float(np.mean((truth[:, j] >= a) & (truth[:, j] <= b)))
        log = prior.kinds[j] == "loguniform"
        mean = np.exp(np.log(draws[:, :, j]).mean(axis=1)) if log else draws[:, :, j].mean(axis=1)
        x, y = (np.log(truth[:, j]), np.log(mean)) if log else (truth[:, j], mean)
        r = float(np.corrcoef(x, y)[0, 1]) if np.std(y) > 0 else 0.0
        # contraction in the prior's quantile space, where the prior's variance is 1/12
        contraction = float(1 - np.mean(unit[:, :, j].var(axis=1)) * 12)
        sd = draws[:, :, j].std(axis=1)
        z_scores = (draws[:, :, j].mean(axis=1) - truth[:, j]) / np.where(sd > 0, sd, np.inf)
        rmse = float(np.sqrt(np.mean((unit[:, :, j].mean(axis=1) - unit_truth[:, j]) ** 2)))
        entry = {
            "unit": shown,
            "sbc_within_band": within,
            "sbc_max_ecdf_difference": float(np.max(np.abs(ecdf - z))),
            "coverage": coverage,
            "recovery_r": r,
            "nrmse": rmse,
            "contraction": contraction,
            "z_score_mean": float(np.mean(z_scores)),
            "z_score_sd": float(np.std(z_scores)),
            "posterior_sd_median": float(np.median(sd) / size),
        }
        weak = []
        if contraction < MIN_CONTRACTION:
            weak.append(f"the posterior keeps {100 * (1 - contraction):.0f} % of the prior's variance")
        if r < MIN_RECOVERY:
            weak.append(f"posterior means recover the truth with r = {r:.2f} only")
        entry["identifiable"] = not weak
        entry["why_not"] = "; ".join(weak) if weak else None
        found[name] = entry
    return found


def _predictive(posterior, noisy, spikes, count: int, draws: int, client, seed: int):
    """Predictive checks of the first ``count`` held-out observations, simulated as one batch:
    the summary, and the check of the first observation (for its figure)."""
    protocol = posterior.protocol
    count = min(count, len(noisy))
    chosen = posterior.sample_many(noisy[:count], None if spikes is None else spikes[:count], draws, seed + 1)
    sims = _simulate(posterior, protocol, chosen.reshape(-1, chosen.shape[-1]), client)
    predicted, predicted_spikes = _observe(posterior, sims, np.random.default_rng([seed, 5]))
    features = statistics(predicted, predicted_spikes, protocol.duration).reshape(count, draws, -1)
    failed = sims.failed.reshape(count, draws)
    observed = statistics(noisy[:count], None if spikes is None else spikes[:count], protocol.duration)
    fractions, first = [], None
    names = feature_names(protocol.spiking)
    for k in range(count):
        kept = features[k][~failed[k]]
        low, high = np.percentile(kept, [2.5, 97.5], axis=0)
        inside = (observed[k] >= low) & (observed[k] <= high)
        fractions.append(float(np.mean(inside)))
        if k == 0:
            table = pd.DataFrame(
                {"observed": observed[0], "low_2.5": low, "high_97.5": high, "inside": inside}, index=names
            )
            traces = predicted.reshape(count, draws, -1)[0][~failed[0]]
            first = PredictiveCheck(
                noisy[0],
                traces,
                table,
                fractions[0],
                protocol.batch.backend,
                protocol.sampling_period,
                protocol.variable,
            )
    summary = {
        "observations": count,
        "draws_each": draws,
        "fraction_inside_95": float(np.mean(fractions)),
        "fraction_inside_95_per_observation": fractions,
        "features": names,
    }
    return summary, first


def _goals(report: Mapping[str, Any]) -> dict[str, Any]:
    """The issue's goals, checked: calibration, coverage, recovery and predictive fractions."""
    rows = report["per_parameter"]
    goals = {
        "sbc_within_band_all": all(e["sbc_within_band"] for e in rows.values()),
        "coverage_90_in_85_95_all": all(0.85 <= e["coverage"]["90%"] <= 0.95 for e in rows.values()),
        "recovery_r_ge_0.9_identifiable": all(
            e["recovery_r"] >= MIN_RECOVERY for e in rows.values() if e["identifiable"]
        ),
    }
    if "predictive" in report:
        goals["predictive_ge_0.9"] = report["predictive"]["fraction_inside_95"] >= 0.9
    return goals


def _figures(posterior, draws, truth, folder: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    bf = bayesflow()
    prior = posterior.prior
    labels = [f"{name} ({unit})" if unit else name for name, (unit, _) in zip(prior.names, prior.units, strict=True)]
    shown = draws / np.array([size for _, size in prior.units])
    truth_shown = truth / np.array([size for _, size in prior.units])
    written = []
    plots = {
        "sbc_ecdf.png": lambda: bf.diagnostics.plots.calibration_ecdf(
            shown, truth_shown, variable_names=labels, difference=True
        ),
        # BayesFlow's rank histogram wants at least 20 sets per rank: ranks among n // 20 draws
        "sbc_histogram.png": lambda: bf.diagnostics.plots.calibration_histogram(
            shown[:, : max(len(truth) // 20, 1)], truth_shown, variable_names=labels, num_bins=10
        ),
        "coverage.png": lambda: bf.diagnostics.plots.coverage(shown, truth_shown, variable_names=labels),
        "recovery.png": lambda: bf.diagnostics.plots.recovery(shown, truth_shown, variable_names=labels),
        "z_score_contraction.png": lambda: bf.diagnostics.plots.z_score_contraction(
            shown, truth_shown, variable_names=labels
        ),
    }
    if posterior.history.get("loss"):
        plots["loss.png"] = lambda: bf.diagnostics.plots.loss(_History(posterior.history))
    for name, draw in plots.items():
        figure = draw()
        figure.savefig(folder / name, dpi=110)
        plt.close(figure)
        written.append(name)
    return written


@dataclass
class _History:
    """What BayesFlow's loss plot reads of a Keras ``History``."""

    history: dict[str, list[float]]
