"""``sensitivity``: how much each parameter of a model moves one measure, by Sobol or Morris.

The parameters vary within bounds given with units; SALib draws the sets (Saltelli's scheme
for Sobol indices, trajectories for Morris' elementary effects), :func:`~sourced_neuron.
experiments.sweep.sweep` simulates them in batches (on Dask, or here), and SALib analyses the
measure. SALib's problem is written in the model's units (the unit the model file writes each
value in, ``I_ext`` in pA), so the sampled table and the bounds read as the model file does.

Sobol indices apportion the variance of the measure over the uniform box of the bounds: ``S1``
is the share of a parameter alone, ``ST`` its share with every interaction; the intervals are
SALib's bootstrap intervals at ``conf_level``. Morris' ``mu_star`` is the mean absolute change
of the measure when one parameter moves by ``num_levels / (2 (num_levels - 1))`` of its range
(in the measure's unit), ``sigma`` the spread of those changes (interactions, non-linearity).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from sourced_neuron.common.errors import InputError, did_you_mean
from sourced_neuron.experiments.measures import named_function, read_measures
from sourced_neuron.experiments.space import model_unit, read_bounds
from sourced_neuron.spec.library import load_model
from sourced_neuron.spec.parts import INPUT

if TYPE_CHECKING:  # pragma: no cover - for type checkers only
    import pandas as pd
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["METHODS", "SensitivityResult", "sensitivity"]

#: The analyses :func:`sensitivity` runs.
METHODS = ("sobol", "morris")

#: Sobol analyses need at least this many base samples (a power of two).
MIN_SOBOL_N = 8

#: Columns of :attr:`SensitivityResult.indices`, by method.
COLUMNS = {"sobol": ("S1", "S1_conf", "ST", "ST_conf"), "morris": ("mu", "mu_star", "mu_star_conf", "sigma")}


@dataclass(eq=False)
class SensitivityResult:
    """The indices of a sensitivity analysis, and the simulated sets they come from.

    Attributes
    ----------
    indices : pandas.DataFrame
        One row per parameter (index: the names, in the order of ``bounds``). Sobol: ``S1``,
        ``S1_conf``, ``ST``, ``ST_conf`` (the ``_conf`` columns are half-widths of the
        intervals at ``conf_level``). Morris: ``mu``, ``mu_star``, ``mu_star_conf``, ``sigma``,
        in the measure's unit.
    second_order : pandas.DataFrame or None
        Sobol with ``second_order=True``: ``S2`` and ``S2_conf`` indexed by the pairs
        ``(first, second)`` of parameters; else ``None``.
    samples : pandas.DataFrame
        The sweep's table (:func:`~sourced_neuron.experiments.sweep.sweep`): one row per
        simulated set, in SALib's order, the parameters in the model's units, the measure.
    method : str
        ``"sobol"`` or ``"morris"``.
    measure : str
        The measure's column in ``samples``.
    units : dict
        Column of ``samples`` (parameters and measure) to its unit.
    problem : dict
        SALib's problem: ``names``, ``bounds`` (in ``units``), ``num_vars``.
    conf_level : float
        The level of the intervals.
    n : int
        Base samples (Sobol) or trajectories (Morris).
    """

    indices: pd.DataFrame
    second_order: pd.DataFrame | None
    samples: pd.DataFrame
    method: str
    measure: str
    units: dict[str, str]
    problem: dict[str, Any] = field(default_factory=dict)
    conf_level: float = 0.95
    n: int = 0

    def to_string(self, digits: int = 3) -> str:
        """The indices as a readable table: a heading line, the bounds, then the indices."""
        import pandas as pd

        unit = self.units.get(self.measure, "")
        measure = f"{self.measure} ({unit})" if unit else self.measure
        attrs = self.samples.attrs
        where = f"{attrs.get('model', '?')} on {attrs.get('backend', '?')}"
        what = "base samples" if self.method == "sobol" else "trajectories"
        lines = [
            f"{self.method.capitalize()} indices of {measure}, {where}: {len(self.samples)} sets "
            f"(n = {self.n} {what}), intervals at {self.conf_level:.0%}"
        ]
        table = self.indices.copy()
        table.insert(0, "bounds", [_bounds_text(name, low, high, self.units) for name, (low, high) in self._bounds()])
        lines.append(table.to_string(float_format=lambda x: f"{x:.{digits}f}"))
        if self.method == "sobol":
            lines.append(f"sum of S1: {self.indices['S1'].sum():.{digits}f} (1 - this: the share of interactions)")
        if self.second_order is not None:
            pairs = self.second_order.copy()
            pairs.index = pd.Index([f"{a} x {b}" for a, b in pairs.index], name="pair")
            lines.append(pairs.to_string(float_format=lambda x: f"{x:.{digits}f}"))
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.to_string()

    def _bounds(self) -> list[tuple[str, tuple[float, float]]]:
        return [
            (name, (float(b[0]), float(b[1])))
            for name, b in zip(self.problem["names"], self.problem["bounds"], strict=True)
        ]

    def plot(self, path: str | Path | None = None, ax: Axes | None = None) -> Figure | Path:
        """Bar plot of the indices with their intervals as error bars.

        Sobol: ``S1`` and ``ST`` side by side per parameter. Morris: ``mu_star`` with its
        interval, and ``sigma`` beside it.

        Parameters
        ----------
        path : path, optional
            Write the figure there (PNG, PDF, SVG, ...) and close it.
        ax : matplotlib.axes.Axes, optional
            Draw into these axes (default: a new figure). With ``path`` too, the axes' figure
            is written and closed.

        Returns
        -------
        matplotlib.figure.Figure or pathlib.Path
            The path written, else the figure.
        """
        from sourced_neuron.analysis.plotting import save_figure  # Matplotlib, Agg: files only

        if ax is None:
            import matplotlib.pyplot as plt

            figure, ax = plt.subplots(figsize=(max(4.5, 1.9 * len(self.indices) + 1.5), 3.8))
        else:
            figure = ax.figure
        names = list(self.indices.index)
        x = np.arange(len(names))
        width = 0.38
        if self.method == "sobol":
            bars = (("S1", "first order S1", "C0"), ("ST", "total ST", "C1"))
            ylabel = "Sobol index"
        else:
            bars = (("mu_star", "mu* (mean |effect|)", "C0"), ("sigma", "sigma (spread of effects)", "C2"))
            unit = self.units.get(self.measure, "")
            ylabel = f"elementary effect ({unit})" if unit else "elementary effect"
        for k, (column, label, colour) in enumerate(bars):
            conf = self.indices.get(f"{column}_conf")
            ax.bar(
                x + (k - 0.5) * width,
                self.indices[column].to_numpy(dtype=float),
                width,
                yerr=None if conf is None else conf.to_numpy(dtype=float),
                capsize=3,
                label=label,
                color=colour,
            )
        ax.axhline(0.0, color="0.3", linewidth=0.8)
        ax.set_xticks(x)
        ax.set_xticklabels([f"{name}\n{_bounds_text(name, *b, self.units)}" for name, b in self._bounds()], fontsize=8)
        ax.set_ylabel(ylabel)
        if self.method == "sobol":
            ax.set_ylim(min(0.0, ax.get_ylim()[0]), max(1.05, ax.get_ylim()[1]))
        unit = self.units.get(self.measure, "")
        model = self.samples.attrs.get("model", "")
        ax.set_title(
            f"{self.method.capitalize()}: {self.measure}{f' ({unit})' if unit else ''} of {model}, "
            f"{len(self.samples)} sets, {self.conf_level:.0%} intervals",
            fontsize=10,
        )
        ax.legend(fontsize=8)
        figure.tight_layout()
        if path is not None:
            return save_figure(figure, path)
        return figure


def sensitivity(
    model: Any,
    bounds: Mapping[str, Sequence[Any]],
    measure: Any,
    *,
    method: str = "sobol",
    n: int = 1024,
    stimulus: Any = None,
    duration: Any,
    backend: str = "brian2",
    preset: str | None = None,
    second_order: bool = False,
    client: Any = None,
    out: Any = None,
    batch_size: int | None = None,
    progress: bool | None = None,
    seed: int | None = 0,
    conf_level: float = 0.95,
    num_levels: int = 4,
    record: Any = None,
    dt: Any = None,
) -> SensitivityResult:
    """Sobol indices or Morris elementary effects of one measure over a box of parameters.

    Parameters
    ----------
    model : NeuronModel, str or path
        A model, a library model's name or a model file.
    bounds : mapping
        Name to ``[low, high]`` with units, e.g. ``{"g_L": ["0.05 mS/cm**2", "0.2 mS/cm**2"],
        "I_ext": ["200 pA", "300 pA"]}``: what :func:`~sourced_neuron.experiments.sweep.sweep`
        may vary (parameters, initial values, ``I_ext``). Each varies uniformly in its range.
    measure : str or callable
        One measure as ``sweep`` takes it (``"rate"``, ``"first_spike_latency"``,
        ``"mean:v"``, a function of a set's Neo segment, ...).
    method : str
        ``"sobol"`` (variance-based, needs two parameters or more) or ``"morris"`` (screening).
    n : int
        Sobol: base samples, a power of two (``n * (k + 2)`` sets for ``k`` parameters, or
        ``n * (2k + 2)`` with ``second_order``). Morris: trajectories (``n * (k + 1)`` sets).
    stimulus, duration, backend, preset, client, out, batch_size, progress, record, dt
        As for :func:`~sourced_neuron.experiments.sweep.sweep`. With ``out`` (a Parquet
        folder) an interrupted analysis resumes from the batches written, when ``seed`` is
        fixed (the same samples).
    second_order : bool
        Sobol: also the second-order indices ``S2`` of every pair.
    seed : int, optional
        Seed of the sampling, of SALib's bootstrap intervals and of the simulations (noise).
    conf_level : float
        Level of the intervals (between 0 and 1).
    num_levels : int
        Morris: levels of the grid of each parameter (even).

    Returns
    -------
    SensitivityResult
        The indices, the simulated table and what they are of; ``print`` it or ``plot`` it.

    Raises
    ------
    InputError, UnitError
        Unknown names (with the nearest), bounds without units or in the wrong units, outside
        the model file's bounds or with ``low >= high``, fewer than two parameters for Sobol,
        ``n`` not a power of two (Sobol), an unknown method or measure; and, after simulating,
        a measure that is NaN or infinite in some sets (SALib cannot use them: the error names
        how many and the first reason, and carries the table as ``samples``) or the same in
        every set.
    """
    import pandas as pd

    if not isinstance(method, str) or method not in METHODS:
        raise InputError(f"unknown method {method!r}{did_you_mean(method, METHODS)}; methods: {', '.join(METHODS)}")
    checked = load_model(model).with_preset(preset)
    problem, units = _problem(checked, bounds, method)
    if isinstance(measure, list | set) or (isinstance(measure, tuple) and not named_function(measure)):
        raise InputError(
            f"measure is one measure (a name such as 'rate', or a function), got {type(measure).__name__} {measure!r}"
        )
    specs, _ = read_measures(
        measure, checked, () if record is None else ((record,) if isinstance(record, str) else record)
    )
    column = specs[0].column
    if column in problem["names"]:
        raise InputError(f"measure {column!r} has the name of a varied parameter: give the function another name")
    _check_options(method, n, conf_level, num_levels, second_order)
    if seed is not None and (not _whole(seed) or seed < 0):
        raise InputError(f"seed must be a whole number >= 0 or None, got {seed!r}")
    x = _sample(problem, method, int(n), second_order, seed, num_levels)
    table = pd.DataFrame(x, columns=problem["names"])
    table.attrs["units"] = dict(units)
    samples = _sweep(
        model,
        table,
        measure,
        stimulus=stimulus,
        duration=duration,
        backend=backend,
        preset=preset,
        batch_size=batch_size,
        client=client,
        out=out,
        progress=progress,
        seed=seed,
        record=record,
        dt=dt,
    )
    y = samples[column].to_numpy(dtype=float)
    _check_outputs(samples, column, y, units)
    all_units = {**units, **{k: v for k, v in samples.attrs.get("units", {}).items() if k == column}}
    indices, pairs = _analyse(problem, method, x, y, second_order, conf_level, num_levels, seed)
    return SensitivityResult(
        indices=indices,
        second_order=pairs,
        samples=samples,
        method=method,
        measure=column,
        units=all_units,
        problem=problem,
        conf_level=float(conf_level),
        n=int(n),
    )


# --- checks ----------------------------------------------------------------------------------


def _problem(model, bounds: Any, method: str) -> tuple[dict[str, Any], dict[str, str]]:
    """SALib's problem (bounds in the model's units) and the unit of each name."""
    names, low, high = read_bounds(model, bounds)
    rows, units = [], {}
    for name, a, b in zip(names, low, high, strict=True):
        unit, scale = ("pA", 1e-12) if name == INPUT else model_unit(model, name)
        rows.append([_tidy(a / scale), _tidy(b / scale)])  # 250.0 pA, not 250.00000000000003
        units[name] = unit
    names = list(names)
    if method == "sobol" and len(names) < 2:
        raise InputError(
            f"Sobol indices need at least 2 varied parameters, got {len(names)} ({', '.join(names)}): "
            "with one, its S1 is 1 by definition; use method='morris', or a sweep for its effect"
        )
    return {"num_vars": len(names), "names": names, "bounds": rows}, units


def _tidy(value: float) -> float:
    return float(f"{value:.12g}")


def _whole(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, int | np.integer)


def _check_options(method: str, n: Any, conf_level: Any, num_levels: Any, second_order: Any) -> None:
    if method == "sobol":
        if not _whole(n) or n < MIN_SOBOL_N or int(n) & (int(n) - 1):
            hint = ""
            if _whole(n) and n >= MIN_SOBOL_N:
                below = 1 << (int(n).bit_length() - 1)
                hint = f" (e.g. {below} or {below * 2})"
            raise InputError(
                f"n must be a power of two >= {MIN_SOBOL_N} for Sobol indices (the Sobol sequence of Saltelli's "
                f"scheme), got {n!r}{hint}"
            )
    elif not _whole(n) or n < 2:
        raise InputError(f"n, the number of Morris trajectories, must be a whole number >= 2, got {n!r}")
    if isinstance(conf_level, bool) or not isinstance(conf_level, int | float) or not 0 < conf_level < 1:
        raise InputError(f"conf_level must be between 0 and 1 (e.g. 0.95), got {conf_level!r}")
    if not _whole(num_levels) or num_levels < 2 or num_levels % 2:
        raise InputError(f"num_levels (Morris) must be an even whole number >= 2, got {num_levels!r}")
    if not isinstance(second_order, bool | np.bool_):
        raise InputError(f"second_order must be True or False, got {second_order!r}")
    if second_order and method != "sobol":
        raise InputError("second_order is for method='sobol' (Morris has no second-order indices)")


def _check_outputs(samples, column: str, y: np.ndarray, units: dict[str, str]) -> None:
    bad = ~np.isfinite(y)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        reasons = samples["reason"].astype(str).to_numpy()
        reason = reasons[first] or f"the value is {y[first]}"
        values = ", ".join(
            f"{name} = {samples[name].iloc[first]:.6g}{f' {units[name]}' if units.get(name) else ''}" for name in units
        )
        failed = int(sum(bool(r) and not r.startswith(f"{column}:") for r in reasons[bad]))
        if failed:  # the simulation of those sets failed, not the measure
            advice = (
                f"{failed} of them could not be simulated: narrow the bounds away from the values where the model fails"
            )
        else:
            advice = "choose a measure defined in every set (e.g. 'rate' or 'spike_count') or bounds within which "
            advice += "every set gives one"
        error = InputError(
            f"measure {column!r} has no finite value in {int(bad.sum())} of {len(y)} parameter sets (the first, set "
            f"{first} with {values}: {reason}); SALib cannot analyse missing outputs: {advice} (the simulated table "
            "is the error's .samples)"
        )
        error.samples = samples
        raise error
    if np.ptp(y) == 0.0:
        error = InputError(
            f"measure {column!r} is {y[0]:g} in every one of the {len(y)} parameter sets: there is no variance "
            "to apportion; choose another measure, wider bounds or a stimulus that makes the model respond"
        )
        error.samples = samples
        raise error


# --- SALib and the sweep ---------------------------------------------------------------------


def _sample(problem: dict, method: str, n: int, second_order: bool, seed: int | None, num_levels: int) -> np.ndarray:
    if method == "sobol":
        from SALib.sample import sobol as sobol_sample

        return np.asarray(sobol_sample.sample(dict(problem), n, calc_second_order=second_order, seed=seed), dtype=float)
    from SALib.sample import morris as morris_sample

    return np.asarray(morris_sample.sample(dict(problem), n, num_levels=num_levels, seed=seed), dtype=float)


def _sweep(model, table, measure, **options):
    from sourced_neuron.experiments.sweep import sweep

    return sweep(model, table, measures=(measure,), **options)


def _analyse(problem: dict, method: str, x, y, second_order: bool, conf_level: float, num_levels: int, seed):
    import pandas as pd

    names = pd.Index(problem["names"], name="parameter")
    if method == "sobol":
        from SALib.analyze import sobol as sobol_analyze

        si = sobol_analyze.analyze(dict(problem), y, calc_second_order=second_order, conf_level=conf_level, seed=seed)
        indices = pd.DataFrame({c: np.asarray(si[c], dtype=float) for c in COLUMNS["sobol"]}, index=names)
        pairs = None
        if second_order:
            k = len(names)
            index = [(names[i], names[j]) for i in range(k) for j in range(i + 1, k)]
            pairs = pd.DataFrame(
                {
                    "S2": [float(si["S2"][i, j]) for i in range(k) for j in range(i + 1, k)],
                    "S2_conf": [float(si["S2_conf"][i, j]) for i in range(k) for j in range(i + 1, k)],
                },
                index=pd.MultiIndex.from_tuples(index, names=["first", "second"]),
            )
        return indices, pairs
    from SALib.analyze import morris as morris_analyze

    si = morris_analyze.analyze(dict(problem), x, y, conf_level=conf_level, num_levels=num_levels, seed=seed)
    indices = pd.DataFrame({c: np.asarray(si[c], dtype=float) for c in COLUMNS["morris"]}, index=names)
    return indices, None


def _bounds_text(name: str, low: float, high: float, units: dict[str, str]) -> str:
    unit = units.get(name, "")
    return f"{low:.4g} to {high:.4g}{f' {unit}' if unit else ''}"
