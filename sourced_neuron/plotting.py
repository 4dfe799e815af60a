"""Figures of simulation results (matplotlib, written to PNG files)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; no display needed

import matplotlib.pyplot as plt
import neo
import numpy as np

__all__ = ["plot_block", "plot_overview"]

MAX_TRACES = 5


def _title(block: neo.Block) -> str:
    a = block.annotations
    if "populations" in a:  # a network (sn.Network.run)
        return f"{'; '.join(a['populations'])} ({a.get('backend', '')})"
    preset = f" [{a['preset']}]" if a.get("preset") else ""
    return (
        f"{a.get('model', block.name)}{preset}, {a.get('stimulus', '')} ({a.get('backend', '')}, {a.get('method', '')})"
    )


def _draw(block: neo.Block, trace_axes, raster_axes, threshold=None) -> None:
    segment = block.segments[0]
    if segment.analogsignals:
        signal = segment.analogsignals[0]
        times = signal.times.rescale("ms").magnitude
        for column in range(min(signal.shape[1], MAX_TRACES)):
            trace_axes.plot(times, signal.magnitude[:, column], lw=0.8)
        trace_axes.set_ylabel(f"{signal.name} ({signal.units.dimensionality.string})")
        if threshold is not None:
            trace_axes.axhline(threshold, color="0.5", ls="--", lw=0.7, label="threshold")
            trace_axes.legend(loc="upper right", fontsize=7, frameon=False)
    else:
        trace_axes.text(0.5, 0.5, "nothing recorded", ha="center", va="center", transform=trace_axes.transAxes)
    for index, train in enumerate(segment.spiketrains):
        raster_axes.plot(train.rescale("ms").magnitude, np.full(len(train), index), "|", color="k", ms=6)
    n = len(segment.spiketrains)
    raster_axes.set_ylim(-0.5, n - 0.5)
    raster_axes.set_yticks(range(n) if n <= 10 else np.linspace(0, n - 1, 5).astype(int))
    raster_axes.set_ylabel("neuron")
    raster_axes.set_xlabel("time (ms)")
    stop = float(segment.spiketrains[0].t_stop.rescale("ms")) if n else None
    if stop:
        raster_axes.set_xlim(0, stop)
        trace_axes.set_xlim(0, stop)


def plot_block(block: neo.Block, path: str | Path, threshold: float | None = None) -> Path:
    """Voltage (first recorded variable) traces above a spike raster, saved as PNG.

    Parameters
    ----------
    block : neo.Block
        A block returned by :func:`sourced_neuron.simulate`.
    path : str or Path
        The PNG file to write.
    threshold : float, optional
        A horizontal line drawn on the traces, in the signal's units.
    """
    figure, (traces, raster) = plt.subplots(2, 1, figsize=(8, 5), sharex=True, height_ratios=(3, 1))
    _draw(block, traces, raster, threshold)
    figure.suptitle(_title(block), fontsize=10)
    figure.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path


def plot_overview(blocks: Sequence[neo.Block], path: str | Path, columns: int = 2) -> Path:
    """One trace-and-raster panel per block, in a grid (the demo figure)."""
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
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path
