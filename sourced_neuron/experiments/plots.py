"""Figures of a sweep's table: a curve over one varied name, a heatmap over two."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from sourced_neuron.common.errors import InputError

__all__ = ["plot_sweep"]


def _label(frame, column: str) -> str:
    unit = frame.attrs.get("units", {}).get(column, "")
    return f"{column} ({unit})" if unit else column


def plot_sweep(frame: Any, measure: str | None = None, path: str | Path | None = None, ax: Any = None):
    """Draw a measure of a sweep over its varied names: a curve for one, a heatmap for two.

    Parameters
    ----------
    frame : pandas.DataFrame
        What :func:`sourced_neuron.experiments.sweep.sweep` returned (or read back from Parquet).
    measure : str, optional
        The column to draw (default: the first measure).
    path : path, optional
        Write the figure there (PNG, PDF or SVG) and return the path; else return the figure.
    ax : matplotlib.axes.Axes, optional
        Draw into these axes.

    Raises
    ------
    InputError
        No such measure, or the sweep varies other than one or two names on a grid (names
        that are the same in every set are ignored).
    """
    from sourced_neuron.analysis.plotting import plt, save_figure

    parameters = list(frame.attrs.get("parameters", []))
    measures = list(frame.attrs.get("measures", []))
    if not parameters or not measures:
        raise InputError("plot: the table has no sweep description (attrs 'parameters' and 'measures')")
    measure = measure or measures[0]
    if measure not in measures or measure not in frame.columns:
        raise InputError(f"plot: no measure {measure!r} in the sweep; it has: {', '.join(measures)}")
    names = [c for c in parameters if frame[c].nunique() > 1]
    if len(names) not in (1, 2):
        raise InputError(
            f"plot: a sweep figure draws one or two varied names, this sweep varies {len(names)} "
            f"({', '.join(names)}); draw a slice of the table instead"
        )
    figure = None
    if ax is None:
        figure, ax = plt.subplots(figsize=(6.4, 4.8))
    title = f"{frame.attrs.get('model', '')}: {measure} ({frame.attrs.get('backend', '')})"
    if len(names) == 1:
        ordered = frame.sort_values(names[0])
        ax.plot(ordered[names[0]], ordered[measure], "o-", ms=3)
        ax.set_xlabel(_label(frame, names[0]))
        ax.set_ylabel(_label(frame, measure))
    else:
        x, y = names[1], names[0]
        table = frame.pivot_table(index=y, columns=x, values=measure, aggfunc="mean", dropna=False)
        if table.size != len(frame):
            raise InputError(f"plot: {y} and {x} do not form a grid; a heatmap needs every combination once")
        xs, ys = table.columns.to_numpy(dtype=float), table.index.to_numpy(dtype=float)
        mesh = ax.pcolormesh(_edges(xs), _edges(ys), table.to_numpy(dtype=float), shading="flat", cmap="viridis")
        bar = ax.figure.colorbar(mesh, ax=ax)
        bar.set_label(_label(frame, measure))
        ax.set_xlabel(_label(frame, x))
        ax.set_ylabel(_label(frame, y))
    ax.set_title(title)
    if figure is not None:
        figure.tight_layout()
    if path is None:
        return figure or ax.figure
    return save_figure(figure or ax.figure, path)


def _edges(centres: np.ndarray) -> np.ndarray:
    """Cell edges around sorted centres (halfway between neighbours)."""
    if len(centres) == 1:
        return np.array([centres[0] - 0.5, centres[0] + 0.5])
    middle = (centres[1:] + centres[:-1]) / 2
    return np.concatenate([[2 * centres[0] - middle[0]], middle, [2 * centres[-1] - middle[-1]]])
