"""f-I heatmaps of the AdEx neuron: its firing rate over the adaptation parameters a and b.

python examples/fi_heatmap_adex.py [--out out/fi_heatmap_adex] [--backend brian2] [--size 32] [--dask]

One sweep over a 3-D grid: the injected current I_ext (600, 700, 850 and 1000 pA: from about
the rheobase of the model file's cell, Brette & Gerstner 2005, which the subthreshold
adaptation raises) x the subthreshold adaptation a (0 to 20 nS) x the spike-triggered
adaptation b (0 to 200 pA), ``--size`` values each of a and b (32: 4,096 sets), 1 s of
constant current each; the measure is the mean rate. The figure shows one heatmap of the rate
over (a, b) per current, each with its colour bar; sets that never fire are grey (1 Hz is a
single spike at the onset, which the adaptation then silences). Writes ``fi_heatmap_adex.png``
and the table ``fi_heatmap_adex.parquet`` (a Parquet folder: the same command again reads it
instead of simulating) into ``--out``. The default takes about 10 s on two cores (Brian2's
runtime with Cython, synchronously; ``--dask`` runs the batches on a local Dask cluster).
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from sourced_neuron import InputError
from sourced_neuron.experiments.sweep import sweep

CURRENTS_PA = (600, 700, 850, 1000)
A_NS = (0.0, 20.0)
B_PA = (0.0, 200.0)


def run_sweep(size: int, backend: str, table: Path, dask: bool):
    params = {
        "I_ext": [f"{i} pA" for i in CURRENTS_PA],
        "a": [f"{a:.6g} nS" for a in np.linspace(*A_NS, size)],
        "b": [f"{b:.6g} pA" for b in np.linspace(*B_PA, size)],
    }

    def call():
        return sweep(
            "adex",
            params,
            duration="1 s",
            backend=backend,
            measures=("rate",),
            client=None if dask else "synchronous",
            out=table,
        )

    try:
        return call()
    except InputError as exc:
        if "holds another sweep" not in str(exc):
            raise
        # the folder holds this example's table of another --size or --backend: start again
        print(f"{table} holds another sweep; simulating again")
        shutil.rmtree(table)
        return call()


def plot(frame, path: Path) -> Path:
    """One heatmap of the rate over (a, b) per current, each with its own colour scale; sets
    that do not fire are grey."""
    units = frame.attrs["units"]
    a_values = np.unique(frame["a"])
    b_values = np.unique(frame["b"])
    currents = np.unique(frame["I_ext"])
    colours = plt.get_cmap("viridis").with_extremes(bad="0.8")
    fig, axes = plt.subplots(1, len(currents), figsize=(3.9 * len(currents), 3.7), sharey=True, layout="constrained")
    for ax, current in zip(np.atleast_1d(axes), currents, strict=True):
        part = frame[frame["I_ext"] == current]
        rates = part.pivot(index="b", columns="a", values="rate").reindex(index=b_values, columns=a_values).to_numpy()
        shown = np.ma.masked_where(~(rates > 0), rates)  # no spikes (or no value): grey
        top = max(float(np.nanmax(rates)), 1.0)
        image = ax.pcolormesh(a_values, b_values, shown, cmap=colours, vmin=0, vmax=top, shading="nearest")
        fig.colorbar(image, ax=ax, label="rate (Hz)", pad=0.02)
        ax.set_title(f"I_ext = {current:g} {units['I_ext']}")
        ax.set_xlabel(f"a, subthreshold adaptation ({units['a']})")
    np.atleast_1d(axes)[0].set_ylabel(f"b, spike-triggered adaptation ({units['b']})")
    fig.suptitle(
        f"AdEx (Brette & Gerstner 2005): firing rate in {frame.attrs['duration_ms'] / 1e3:g} s of constant "
        "current over a and b (grey: no spike)",
        fontsize=11,
    )
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="out/fi_heatmap_adex")
    parser.add_argument("--backend", default="brian2")
    parser.add_argument("--size", type=int, default=32, help="values of a and of b (sets: 4 * size**2)")
    parser.add_argument("--dask", action="store_true", help="run the batches on a local Dask cluster")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    frame = run_sweep(args.size, args.backend, out / "fi_heatmap_adex.parquet", args.dask)
    print(f"{len(frame)} sets; {int((frame['rate'] > 0).sum())} fire; rates up to {frame['rate'].max():.1f} Hz")
    failed = frame[frame["reason"] != ""]
    if len(failed):
        print(f"{len(failed)} sets without a rate, e.g.: {failed['reason'].iloc[0]}")
    for current in CURRENTS_PA:
        rates = frame.loc[frame["I_ext"] == current, "rate"]
        print(f"  I_ext = {current} pA: rate {rates.min():.1f} to {rates.max():.1f} Hz")
    print("wrote", out / "fi_heatmap_adex.parquet")
    print("wrote", plot(frame, out / "fi_heatmap_adex.png"))


if __name__ == "__main__":
    main()
