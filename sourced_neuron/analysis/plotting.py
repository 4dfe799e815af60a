"""Figures of simulation results (matplotlib, written to PNG files).

Every ``plot_*`` function writes one PNG file (creating its folder), closes its figure and
returns the path. The figure itself is built by a private ``_*_figure`` function of the same
name, which the tests inspect before it is closed.

Spike plots take what :func:`sourced_neuron.analysis.measures.spike_trains` takes (a ``neo.Block``, a
``neo.Segment`` or a list of ``neo.SpikeTrain``) and an optional ``population``; without one,
the trains of a network run are drawn per population (the ``population`` annotation), in
colours named in a legend. Titles, population sizes and the ends of projections come from the
run's structure (:func:`sourced_neuron.results.blocks.structure`); a block made by hand without
one is drawn from its trains and signals alone.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only; no display needed

import matplotlib.pyplot as plt
import neo
import numpy as np
import quantities as pq
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from sourced_neuron.analysis import measures as analysis
from sourced_neuron.common import files
from sourced_neuron.common.errors import InputError
from sourced_neuron.results.blocks import structure
from sourced_neuron.spec.parts import AMP
from sourced_neuron.spec.units import as_quantity, to_neo

__all__ = [
    "plot_block",
    "plot_fi",
    "plot_isi_histogram",
    "plot_overview",
    "plot_population_rate",
    "plot_power_spectrum",
    "plot_raster",
    "plot_voltage",
    "plot_weight_evolution",
    "plot_weight_matrix",
]

MAX_TRACES = 5
DPI = 120
#: The figure formats written, by file suffix (Matplotlib's).
FIGURE_SUFFIXES = (".png", ".pdf", ".svg", ".jpg", ".jpeg", ".tif", ".tiff", ".eps", ".ps")

Data = neo.Block | neo.Segment | list


# --- shared helpers ------------------------------------------------------------------------


def _closes_on_error(draw: Callable) -> Callable:
    """Close the figures ``draw`` opened when it fails (bad input found while drawing)."""

    @functools.wraps(draw)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        before = set(plt.get_fignums())
        try:
            return draw(*args, **kwargs)
        except BaseException:
            for number in set(plt.get_fignums()) - before:
                plt.close(number)
            raise

    return wrapper


def save_figure(figure: Figure, path: str | Path, dpi: int = DPI) -> Path:
    """Write ``figure`` to ``path`` atomically (creating its folder; see
    :func:`sourced_neuron.common.files.atomic_write`) and close it, whatever happens."""
    files.check_output(path, "figure", FIGURE_SUFFIXES)
    path = files.as_path(path, "figure")
    try:
        with files.atomic_write(path, "figure") as temporary:
            figure.savefig(temporary, dpi=dpi, format=path.suffix.lower().lstrip("."))
    finally:
        plt.close(figure)
    return path


def _title(block: neo.Block | neo.Segment) -> str:
    """The run in words, from its structure: model [preset], input (backend, method) of a run
    of one population; the populations of a network."""
    a = block.annotations
    layout = structure(block, required=False)
    if layout is None:  # made by hand: what its annotations say
        if "model" not in a:
            return block.name or ""
        preset = f" [{a['preset']}]" if a.get("preset") else ""
        return f"{a['model']}{preset}, {a.get('stimulus', '')} ({a.get('backend', '')}, {a.get('method', '')})"
    populations = layout["populations"]
    if len(populations) == 1 and not layout["sources"] and not layout["projections"]:
        p = populations[0]
        preset = f" [{p['preset']}]" if p["preset"] else ""
        return f"{p['model']}{preset}, {p['stimulus']} ({a.get('backend', '')}, {p['method']})"
    return f"{'; '.join(f'{p["name"]}: {p["size"]} x {p["model"]}' for p in populations)} ({a.get('backend', '')})"


def _segment(data: neo.Block | neo.Segment, what: str) -> neo.Segment:
    if isinstance(data, neo.Block):
        if not data.segments:
            raise InputError(f"{what}: the block has no segments")
        return data.segments[0]
    if isinstance(data, neo.Segment):
        return data
    raise InputError(f"{what}: expected a neo.Block or a neo.Segment, got {type(data).__name__}")


def _unit_text(unit: pq.Quantity | str) -> str:
    text = unit if isinstance(unit, str) else unit.dimensionality.string
    return "dimensionless" if text in ("1", "dimensionless", "") else text


def _groups(trains: Sequence[neo.SpikeTrain]) -> list[tuple[str | None, list[neo.SpikeTrain]]]:
    """The trains by their ``population`` annotation, in order of first appearance."""
    groups: dict[str | None, list[neo.SpikeTrain]] = {}
    for train in trains:
        name = train.annotations.get("population")
        groups.setdefault(None if name is None else str(name), []).append(train)
    return list(groups.items())


def _spiking_groups(data: Data, population: str | None, what: str) -> list[tuple[str | None, list[neo.SpikeTrain]]]:
    """The trains of ``data`` (see :func:`analysis.spike_trains`) by population; an error if none spiked."""
    trains = analysis.spike_trains(data, population)
    if not sum(len(t) for t in trains):
        whose = f" of population {population!r}" if population else ""
        raise InputError(
            f"{what}: the {len(trains)} spike train(s){whose} have no spikes (silent neurons, or a run too short?)"
        )
    return _groups(trains)


def _colours(n: int) -> list:
    return ["k"] if n == 1 else [f"C{k % 10}" for k in range(n)]


def _label(name: str | None, text: str = "") -> str:
    return f"{name or 'all'}{text}"


def _in_unit(value: Any, unit: pq.Quantity, what: str) -> float | None:
    """``value`` (a quantity, a string such as ``"-50 mV"`` or a float already in ``unit``) in ``unit``."""
    if value is None:
        return None
    quantity = value
    if not isinstance(quantity, pq.Quantity):
        quantity = as_quantity(value, what)
        if isinstance(quantity, float):  # a plain number: already in the signal's unit
            return quantity
        quantity = to_neo(quantity)
    try:
        return float(quantity.rescale(unit).magnitude)
    except ValueError:
        raise InputError(f"{what} {value!r} is not in units of the signal ({_unit_text(unit)})") from None


def _draw_raster(ax: Axes, trains: Sequence[neo.SpikeTrain]) -> list[Line2D]:
    """One row per train, one line (of ``|`` markers) per population; returns those lines."""
    groups = _groups(trains)
    n = len(trains)
    size = float(np.clip(240 / max(n, 1), 1.0, 6.0))
    lines, row = [], 0
    for (name, members), colour in zip(groups, _colours(len(groups)), strict=True):
        times = [t.rescale("ms").magnitude for t in members]
        rows = [np.full(len(t), row + k, dtype=float) for k, t in enumerate(times)]
        (line,) = ax.plot(
            np.concatenate(times) if times else [],
            np.concatenate(rows) if rows else [],
            ls="",
            marker="|",
            ms=size,
            mew=max(0.5, size / 6),
            color=colour,
            label=_label(name, f" ({len(members)})"),
        )
        lines.append(line)
        if row:
            ax.axhline(row - 0.5, color="0.8", lw=0.5)
        row += len(members)
    ax.set_ylim(-0.5, max(n, 1) - 0.5)
    if n <= 10:
        ax.set_yticks(range(n))
    else:
        ax.yaxis.get_major_locator().set_params(integer=True)
    ax.set_ylabel("neuron")
    ax.set_xlabel("time (ms)")
    if n:
        ax.set_xlim(float(trains[0].t_start.rescale("ms")), float(trains[0].t_stop.rescale("ms")))
    if len(groups) > 1:
        handles = [Line2D([], [], ls="", marker="s", color=line.get_color(), label=line.get_label()) for line in lines]
        ax.legend(handles=handles, loc="upper right", fontsize=7, framealpha=0.8, title="population (neurons)")
    return lines


def _draw_traces(
    ax: Axes, signal: neo.AnalogSignal, threshold: Any = None, max_traces: int = MAX_TRACES, compact: bool = False
) -> None:
    """Up to ``max_traces`` columns of ``signal`` against time, and a dashed threshold line; a
    legend beside the axes naming each neuron (``compact``: only the threshold, inside)."""
    unit = signal.units
    level = _in_unit(threshold, unit, "threshold")
    times = signal.times.rescale("ms").magnitude
    shown = min(signal.shape[1], max(int(max_traces), 1))
    indices = np.asarray(signal.array_annotations.get("index", np.arange(signal.shape[1])))
    for column in range(shown):
        ax.plot(times, signal.magnitude[:, column], lw=0.8, label="_" if compact else f"neuron {indices[column]}")
    ax.set_ylabel(f"{signal.name} ({_unit_text(unit)})")
    ax.set_xlabel("time (ms)")
    if len(times):
        ax.set_xlim(times[0], times[-1] + float(signal.sampling_period.rescale("ms")))
    if level is not None:
        ax.axhline(level, color="0.4", ls="--", lw=0.8, label=f"threshold ({level:g} {_unit_text(unit)})")
    if compact and level is not None:
        ax.legend(loc="upper right", fontsize=7, frameon=False)
    elif not compact and (shown > 1 or level is not None):
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7, frameon=False)


def _draw(block: neo.Block, trace_axes: Axes, raster_axes: Axes, threshold: Any = None) -> None:
    """Traces of the first recorded variable above a raster (never fails on empty data)."""
    segment = block.segments[0]
    if segment.analogsignals:
        _draw_traces(trace_axes, segment.analogsignals[0], threshold, compact=True)
        trace_axes.set_xlabel("")
    else:
        trace_axes.text(0.5, 0.5, "nothing recorded", ha="center", va="center", transform=trace_axes.transAxes)
    _draw_raster(raster_axes, list(segment.spiketrains))
    if segment.spiketrains:
        trace_axes.set_xlim(raster_axes.get_xlim())


def _signal(data: neo.Block | neo.Segment, variable: str | None) -> neo.AnalogSignal:
    """The signal named ``variable`` (or the only one recording that variable); the first by default."""
    signals = _segment(data, "voltage plot").analogsignals
    if not signals:
        raise InputError("the block has no recorded signals: record a variable, e.g. record=('v',)")
    if variable is None:
        return signals[0]
    by_name = [s for s in signals if s.name == variable]
    by_variable = [s for s in signals if s.annotations.get("variable") == variable]
    if by_name or len(by_variable) == 1:
        return (by_name or by_variable)[0]
    names = ", ".join(str(s.name) for s in signals)
    if by_variable:
        raise InputError(f"several signals record {variable!r} ({names}): give the signal's name")
    raise InputError(f"no signal named {variable!r}; signals: {names}")


# --- traces and rasters --------------------------------------------------------------------


@_closes_on_error
def plot_block(block: neo.Block, path: str | Path, threshold: Any = None) -> Path:
    """Voltage (first recorded variable) traces above a spike raster, saved as PNG.

    Parameters
    ----------
    block : neo.Block
        A block returned by :func:`sourced_neuron.simulate` or ``Network.run``.
    path : str or Path
        The PNG file to write.
    threshold : float, quantity or str, optional
        A horizontal line drawn on the traces (a float is in the signal's units).

    Returns
    -------
    Path
        ``path``.
    """
    figure, (traces, raster) = plt.subplots(2, 1, figsize=(8, 5), sharex=True, height_ratios=(3, 1))
    _draw(block, traces, raster, threshold)
    figure.suptitle(_title(block), fontsize=10)
    figure.tight_layout()
    return save_figure(figure, path)


@_closes_on_error
def plot_overview(blocks: Sequence[neo.Block], path: str | Path, columns: int = 2) -> Path:
    """One trace-and-raster panel per block, in a grid (the demo figure).

    Parameters
    ----------
    blocks : sequence of neo.Block
    path : str or Path
        The PNG file to write.
    columns : int
        Panels per row.

    Returns
    -------
    Path
        ``path``.
    """
    rows = -(-len(blocks) // columns)
    figure = plt.figure(figsize=(6 * columns, 3.2 * rows), layout="constrained")
    grid = figure.add_gridspec(rows * 2, columns, height_ratios=[3, 1] * rows)
    for k, block in enumerate(blocks):
        row, column = divmod(k, columns)
        traces = figure.add_subplot(grid[2 * row, column])
        raster = figure.add_subplot(grid[2 * row + 1, column], sharex=traces)
        _draw(block, traces, raster)
        traces.set_title(_title(block), fontsize=9)
        traces.tick_params(labelbottom=False)
    return save_figure(figure, path, dpi=100)


@_closes_on_error
def _raster_figure(data: Data, population: str | None = None) -> Figure:
    groups = _spiking_groups(data, population, "raster")
    trains = [t for _, members in groups for t in members]
    height = 2.5 if len(trains) <= 5 else 4 if len(trains) <= 50 else 5.5
    figure, ax = plt.subplots(figsize=(8, height), layout="constrained")
    _draw_raster(ax, trains)
    n_spikes = sum(len(t) for t in trains)
    where = _title(data) if isinstance(data, neo.Block | neo.Segment) else ""
    neurons = "1 neuron" if len(trains) == 1 else f"{len(trains)} neurons"
    ax.set_title(f"{where}\n{n_spikes} spikes of {neurons}".strip(), fontsize=9)
    return figure


def plot_raster(data: Data, path: str | Path, population: str | None = None) -> Path:
    """Spike raster: one row per neuron, one mark per spike, coloured by population.

    Parameters
    ----------
    data : neo.Block, neo.Segment or list of neo.SpikeTrain
        A run's result (a Block's first segment is drawn).
    path : str or Path
        The PNG file to write.
    population : str, optional
        Only the trains of this population (network runs); by default all, grouped by
        population with a legend.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    InputError
        No spike trains (of that population), or no spikes at all.
    """
    return save_figure(_raster_figure(data, population), path)


@_closes_on_error
def _voltage_figure(
    block: neo.Block | neo.Segment, threshold: Any = None, variable: str | None = None, max_traces: int = MAX_TRACES
) -> Figure:
    signal = _signal(block, variable)
    figure, ax = plt.subplots(figsize=(8, 4), layout="constrained")
    _draw_traces(ax, signal, threshold, max_traces)
    shown = min(signal.shape[1], max(int(max_traces), 1))
    more = f" (first {shown} of {signal.shape[1]} neurons)" if shown < signal.shape[1] else ""
    ax.set_title(f"{_title(block)}\n{signal.name}{more}".strip() if more else _title(block), fontsize=9)
    return figure


def plot_voltage(
    block: neo.Block | neo.Segment,
    path: str | Path,
    threshold: Any = None,
    variable: str | None = None,
    max_traces: int = MAX_TRACES,
) -> Path:
    """Traces of a recorded variable (the membrane potential by default) against time.

    Parameters
    ----------
    block : neo.Block or neo.Segment
        A run's result with at least one recorded ``AnalogSignal``.
    path : str or Path
        The PNG file to write.
    threshold : quantity, str or float, optional
        Draws a dashed line at this level, e.g. ``"-50 mV"``; a float is in the signal's unit.
    variable : str, optional
        The signal's name (``"v"``; ``"E.v"`` in a network) or, when one signal records it,
        the variable; by default the first signal.
    max_traces : int
        At most this many neurons (the first ones) are drawn.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    InputError
        No signal recorded, no signal of that name, or a threshold in other units.
    """
    return save_figure(_voltage_figure(block, threshold, variable, max_traces), path)


# --- f-I curves ----------------------------------------------------------------------------


def _currents_pa(currents: Any) -> np.ndarray:
    values = list(currents) if isinstance(currents, list | tuple) else currents
    amps = as_quantity(values, "f-I currents", AMP)
    return np.atleast_1d(np.asarray(amps, dtype=float)) * 1e12


def _rates_hz(values: Any, label: str, n: int) -> np.ndarray:
    if isinstance(values, pq.Quantity):
        try:
            values = values.rescale(pq.Hz)
        except ValueError:
            raise InputError(f"rates of {label!r} must be in Hz, got {values.dimensionality.string}") from None
    rates = np.atleast_1d(np.asarray(values, dtype=float))
    if rates.shape != (n,):
        raise InputError(f"rates of {label!r}: {rates.size} values for {n} currents")
    return rates


@_closes_on_error
def _fi_figure(currents: Any, rates: Mapping[str, Any], title: str | None = None) -> Figure:
    x = _currents_pa(currents)
    if not isinstance(rates, Mapping) or not rates:
        raise InputError("plot_fi: rates must be a dict label -> firing rates (Hz), e.g. {'brian2': rates}")
    figure, ax = plt.subplots(figsize=(6, 4), layout="constrained")
    markers = ("o", "s", "^", "D", "v", "P")
    for k, (label, values) in enumerate(rates.items()):
        y = _rates_hz(values, str(label), x.size)
        ax.plot(
            x,
            y,
            marker=markers[k % len(markers)],
            ms=7 - min(k, 3),
            ls="-" if k == 0 else "--",
            mfc="none" if k else None,  # open markers show a curve lying on the first
            lw=1.2,
            label=str(label),
        )
    ax.set_xlabel("input current (pA)")
    ax.set_ylabel("firing rate (Hz)")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    if len(rates) > 1 or title is None:
        ax.legend(fontsize=8)
    ax.set_title(title or "f-I curve", fontsize=10)
    return figure


def plot_fi(currents: Any, rates: Mapping[str, Any], path: str | Path, title: str | None = None) -> Path:
    """f-I curve(s): firing rate against input current, one marked line per label.

    Parameters
    ----------
    currents : sequence of currents
        E.g. ``["0 pA", "100 pA"]``, a ``quantities`` or Brian2 array.
    rates : dict of str to array
        Label (e.g. a backend) -> one firing rate per current, in Hz (floats or a
        ``quantities`` array), as :func:`sourced_neuron.analysis.compare.fi_curve` returns.
    path : str or Path
        The PNG file to write.
    title : str, optional

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    InputError
        Rates missing, or not one per current; currents that are not currents.
    """
    return save_figure(_fi_figure(currents, rates, title), path)


# --- spike statistics ----------------------------------------------------------------------


@_closes_on_error
def _isi_figure(data: Data, population: str | None = None, bins: Any = 50) -> Figure:
    groups = _spiking_groups(data, population, "ISI histogram")
    intervals = {}
    for name, members in groups:
        # the intervals Elephant's isi gives, without its deprecation warning (quantities' copy=)
        pieces = [np.diff(t.times.rescale("ms").magnitude) for t in members if len(t) > 1]
        intervals[name] = np.concatenate(pieces) if pieces else np.array([])
    pooled = np.concatenate(list(intervals.values()))
    if not pooled.size:
        raise InputError("ISI histogram: no train has two spikes, so there are no inter-spike intervals")
    low, high = float(pooled.min()), float(pooled.max())
    spread = (low - 0.5, high + 0.5) if high - low < 1e-6 else None  # regular firing: all intervals equal
    edges = np.histogram_bin_edges(pooled, bins, range=spread)
    figure, ax = plt.subplots(figsize=(6, 4), layout="constrained")
    colours = _colours(len(groups)) if len(groups) > 1 else ["C0"]
    for (name, members), colour in zip(groups, colours, strict=True):
        counts, _ = np.histogram(intervals[name], edges)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # every CV NaN: fewer than 3 spikes each
            cv = float(np.nanmean(analysis.isi_cv(members)))
        text = f"CV {cv:.2f}" if np.isfinite(cv) else "CV n/a"
        ax.stairs(
            counts,
            edges,
            fill=True,
            alpha=0.5 if len(groups) > 1 else 0.8,
            color=colour,
            label=_label(name, f": {intervals[name].size} intervals, mean {text}"),
        )
    ax.set_xlabel("inter-spike interval (ms)")
    ax.set_ylabel("number of intervals")
    ax.legend(fontsize=8, title="mean CV over neurons", title_fontsize=8)
    ax.set_title("inter-spike intervals" + (f" of {population}" if population else ""), fontsize=10)
    return figure


def plot_isi_histogram(data: Data, path: str | Path, population: str | None = None, bins: Any = 50) -> Path:
    """Histogram of the inter-spike intervals (ms), pooled over neurons, with their mean CV.

    Parameters
    ----------
    data : neo.Block, neo.Segment or list of neo.SpikeTrain
    path : str or Path
        The PNG file to write.
    population : str, optional
        Only this population's trains; by default one histogram per population.
    bins : int or sequence
        As for ``numpy.histogram`` (bin edges shared by every population).

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    InputError
        No spikes, or no train with two spikes.
    """
    return save_figure(_isi_figure(data, population, bins), path)


@_closes_on_error
def _rate_figure(data: Data, population: str | None = None, bin_size: Any = "5 ms") -> Figure:
    groups = _spiking_groups(data, population, "population rate")
    rates = [(name, analysis.population_rate(members, bin_size, name)) for name, members in groups]
    width = float(rates[0][1].sampling_period.rescale("ms"))
    figure, ax = plt.subplots(figsize=(8, 3.5), layout="constrained")
    colours = _colours(len(groups)) if len(groups) > 1 else ["C0"]
    for (name, rate), colour in zip(rates, colours, strict=True):
        start = rate.times.rescale("ms").magnitude
        values = rate.rescale(pq.Hz).magnitude[:, 0]
        label = _label(name, f" (mean {np.mean(values):.1f} Hz)")
        ax.stairs(values, np.append(start, start[-1] + width), color=colour, lw=1.0, label=label)
    ax.set_xlabel("time (ms)")
    ax.set_ylabel("rate (Hz)")
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=8)
    ax.set_title(f"population rate per neuron ({width:g} ms bins)", fontsize=10)
    return figure


def plot_population_rate(data: Data, path: str | Path, population: str | None = None, bin_size: Any = "5 ms") -> Path:
    """The population's firing rate per neuron against time (:func:`analysis.population_rate`).

    Parameters
    ----------
    data : neo.Block, neo.Segment or list of neo.SpikeTrain
    path : str or Path
        The PNG file to write.
    population : str, optional
        Only this population; by default one line per population.
    bin_size : duration
        The width of the time bins, e.g. ``"5 ms"``.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    InputError
        No spikes, or a bin size that is not a positive duration.
    """
    return save_figure(_rate_figure(data, population, bin_size), path)


@_closes_on_error
def _spectrum_figure(
    data: Data, population: str | None = None, bin_size: Any = "1 ms", resolution: Any = None
) -> Figure:
    groups = [(n, m) for n, m in _spiking_groups(data, population, "power spectrum") if sum(len(t) for t in m)]
    # by default 2 Hz, or the finest the run allows (analysis.spectral_resolution); an explicit
    # resolution finer than the run allows is refused there (NotApplicableError, an InputError)
    chosen, _ = analysis.spectral_resolution(groups[0][1], bin_size, resolution)
    spectra = []
    for name, members in groups:
        frequencies, power = analysis.power_spectrum(members, bin_size, chosen)
        peak = float(analysis.dominant_frequency(members, bin_size, chosen).rescale(pq.Hz))
        spectra.append((name, frequencies.magnitude, power, peak))
    figure, ax = plt.subplots(figsize=(7, 4), layout="constrained")
    colours = _colours(len(groups)) if len(groups) > 1 else ["C0"]
    for (name, frequencies, power, peak), colour in zip(spectra, colours, strict=True):
        keep = power > 0  # a log axis
        ax.plot(frequencies[keep], power[keep], color=colour, lw=1.0, label=_label(name))
        ax.axvline(peak, color=colour, ls=":", lw=1.2, label=f"{_label(name)} peak: {peak:.1f} Hz")
    ax.set_yscale("log")
    ax.set_xlabel("frequency (Hz)")
    ax.set_ylabel("power spectral density (Hz²/Hz)")
    ax.set_xlim(left=0)
    ax.legend(fontsize=8)
    hertz = float(chosen)
    shown = f"{hertz:.1f}" if hertz.is_integer() else f"{hertz:.3g}"
    ax.set_title(f"spectrum of the population rate ({shown} Hz resolution)", fontsize=10)
    return figure


def plot_power_spectrum(
    data: Data, path: str | Path, population: str | None = None, bin_size: Any = "1 ms", resolution: Any = None
) -> Path:
    """Power spectrum (Welch) of the population rate, log scale, with its dominant frequency marked.

    Parameters
    ----------
    data : neo.Block, neo.Segment or list of neo.SpikeTrain
    path : str or Path
        The PNG file to write.
    population : str, optional
        Only this population; by default one spectrum per population.
    bin_size : duration
        Bins of the rate whose spectrum is taken (their inverse is the sampling rate).
    resolution : frequency, optional
        Frequency resolution; by default 2 Hz, or the finest the run's duration allows
        (:func:`analysis.spectral_resolution`).

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    InputError
        No spikes, or a resolution too fine for the run's duration.
    """
    return save_figure(_spectrum_figure(data, population, bin_size, resolution), path)


# --- plastic weights -----------------------------------------------------------------------


def _weight_events(data: neo.Block | neo.Segment, projection: str | None, what: str) -> list[neo.Event]:
    """The ``"<projection>.weights"`` events of a network run (all of them without ``projection``)."""
    events = _segment(data, what).events
    weights = [e for e in events if str(e.name).endswith(".weights") and "weight" in e.array_annotations]
    if projection is not None:
        chosen = [e for e in weights if e.name == f"{projection}.weights"]
    else:
        chosen = weights
    if not chosen:
        have = ", ".join(repr(str(e.name)) for e in events) or "none"
        whose = f" of projection {projection!r}" if projection else ""
        raise InputError(
            f"{what}: the block has no weights event{whose} (record them with net.record(projection, 'weights')); "
            f"its events: {have}"
        )
    return chosen


def _ends(layout: dict | None, projection: str) -> tuple[tuple[str, int], tuple[str, int]]:
    """The pre- and postsynaptic ``(name, size)`` of a projection, from the run's structure
    (``("", 0)`` where the block has no structure or no such projection)."""
    if layout is not None:
        sizes = {entry["name"]: entry["size"] for entry in layout["populations"] + layout["sources"]}
        for entry in layout["projections"]:
            if entry["name"] == projection:
                return (entry["pre"], sizes.get(entry["pre"], 0)), (entry["post"], sizes.get(entry["post"], 0))
    return ("", 0), ("", 0)


def _weight_unit(event: neo.Event) -> str:
    return _unit_text(str(event.annotations.get("weight_unit", "")))


def _projection(event: neo.Event) -> str:
    return str(event.annotations.get("projection", str(event.name).removesuffix(".weights")))


def _weight_matrix(event: neo.Event, layout: dict | None) -> tuple[np.ndarray, int, int]:
    """(pre x post final weights, NaN where no synapse is known; synapses placed; synapses in all)."""
    synapse = np.asarray(event.array_annotations["synapse"], dtype=int)
    pre = np.asarray(event.array_annotations["pre"], dtype=int)
    post = np.asarray(event.array_annotations["post"], dtype=int)
    transmitted = np.asarray(event.array_annotations["weight"], dtype=float)
    final = event.annotations.get("final_weight")
    final = None if final is None else np.asarray(final, dtype=float)
    known, first = np.unique(synapse, return_index=True)
    if final is not None and final.size and known.size and known.max() < final.size:
        values = final[known]
    else:  # no final weights: each synapse's last transmitted weight
        last = len(synapse) - 1 - np.unique(synapse[::-1], return_index=True)[1]
        values = transmitted[last]
    (_, pre_size), (_, post_size) = _ends(layout, _projection(event))
    n_pre = max(pre_size, int(pre.max()) + 1 if pre.size else 0)
    n_post = max(post_size, int(post.max()) + 1 if post.size else 0)
    matrix = np.full((n_pre, n_post), np.nan)
    for i, j, w in zip(pre[first], post[first], values, strict=True):
        matrix[i, j] = w if np.isnan(matrix[i, j]) else matrix[i, j] + w  # several synapses: their sum
    total = final.size if final is not None and final.size else known.size
    return matrix, known.size, total


@_closes_on_error
def _weight_matrix_figure(block: neo.Block | neo.Segment, projection: str | None = None) -> Figure:
    events = _weight_events(block, projection, "weight matrix")
    layout = structure(_segment(block, "weight matrix"), required=False)
    panels = []
    for event in events:
        name = _projection(event)
        matrix, placed, total = _weight_matrix(event, layout)
        if not placed:
            raise InputError(f"weight matrix: projection {name!r} transmitted no spike through a recorded synapse")
        panels.append((event, name, matrix, placed, total))
    figure, axes = plt.subplots(1, len(events), figsize=(5.5 * len(events), 4.5), layout="constrained", squeeze=False)
    cmap = matplotlib.colormaps["viridis"].with_extremes(bad="0.9")  # grey: pairs without a known synapse
    for ax, (event, name, matrix, placed, total) in zip(axes[0], panels, strict=True):
        (pre_name, _), (post_name, _) = _ends(layout, name)
        image = ax.imshow(matrix, cmap=cmap, origin="lower", aspect="auto", interpolation="nearest")
        figure.colorbar(image, ax=ax, label=f"final weight ({_weight_unit(event)})")
        ax.set_xlabel(f"postsynaptic neuron{f' ({post_name})' if post_name else ''}")
        ax.set_ylabel(f"presynaptic neuron{f' ({pre_name})' if pre_name else ''}")
        model = event.annotations.get("synapse_model", "")
        shown = f"{placed} of {total} synapses" if placed < total else f"{placed} synapses"
        ax.set_title(f"{name}{f' ({model})' if model else ''}: final weights, {shown}", fontsize=9)
    return figure


def plot_weight_matrix(block: neo.Block | neo.Segment, path: str | Path, projection: str | None = None) -> Path:
    """Heat map of the final weights (presynaptic neuron x postsynaptic neuron) of a projection.

    The weights come from the ``"<projection>.weights"`` event of a network run
    (``net.record(projection, "weights")``): the neurons of each recorded synapse that
    transmitted a spike are in its array annotations ``pre`` and ``post``, its final weight in
    the annotation ``final_weight``. Pairs without such a synapse are grey; several synapses
    between one pair are summed.

    Parameters
    ----------
    block : neo.Block or neo.Segment
        The result of ``Network.run``.
    path : str or Path
        The PNG file to write.
    projection : str, optional
        The projection's name; by default every projection with recorded weights, side by side.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    InputError
        No weights event (of that projection); the message names the events there are.
    """
    return save_figure(_weight_matrix_figure(block, projection), path)


@_closes_on_error
def _weight_evolution_figure(
    block: neo.Block | neo.Segment, projection: str | None = None, max_synapses: int = 20
) -> Figure:
    events = _weight_events(block, projection, "weight evolution")
    segment = _segment(block, "weight evolution")
    for event in events:
        if not len(event):
            raise InputError(
                f"weight evolution: projection {_projection(event)!r} transmitted no spike through a recorded synapse"
            )
    figure, axes = plt.subplots(len(events), 1, figsize=(8, 3.8 * len(events)), layout="constrained", squeeze=False)
    for ax, event in zip(axes[:, 0], events, strict=True):
        synapse = np.asarray(event.array_annotations["synapse"], dtype=int)
        pre = np.asarray(event.array_annotations["pre"], dtype=int)
        post = np.asarray(event.array_annotations["post"], dtype=int)
        weight = np.asarray(event.array_annotations["weight"], dtype=float)
        times = event.times.rescale("ms").magnitude
        recorded = np.unique(synapse)
        shown = recorded[: max(int(max_synapses), 1)]
        for k in shown:
            mine = synapse == k
            first = int(np.argmax(mine))
            label = f"synapse {k}: {pre[first]} → {post[first]}"
            ax.plot(times[mine], weight[mine], drawstyle="steps-post", lw=0.9, marker=".", ms=2.5, label=label)
        ax.set_xlabel("time (ms)")
        ax.set_ylabel(f"transmitted weight ({_weight_unit(event)})")
        if segment.t_stop is not None:
            ax.set_xlim(float(segment.t_start.rescale("ms")), float(segment.t_stop.rescale("ms")))
        more = f"first {shown.size} of {recorded.size}" if shown.size < recorded.size else f"{shown.size}"
        model = event.annotations.get("synapse_model", "")
        ax.set_title(f"{_projection(event)}{f' ({model})' if model else ''}: {more} recorded synapses", fontsize=9)
        if shown.size <= 10:
            ax.legend(
                loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7, frameon=False, title="synapse: pre → post"
            )
    return figure


def plot_weight_evolution(
    block: neo.Block | neo.Segment, path: str | Path, projection: str | None = None, max_synapses: int = 20
) -> Path:
    """The weight each recorded synapse transmitted, at each presynaptic spike, against time.

    Parameters
    ----------
    block : neo.Block or neo.Segment
        The result of ``Network.run`` with a projection's weights recorded.
    path : str or Path
        The PNG file to write.
    projection : str, optional
        The projection's name; by default every projection with recorded weights, one panel each.
    max_synapses : int
        At most this many synapses (those of lowest index) are drawn.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    InputError
        No weights event (of that projection), naming the events there are, or no spike
        transmitted through a recorded synapse.
    """
    return save_figure(_weight_evolution_figure(block, projection, max_synapses), path)
