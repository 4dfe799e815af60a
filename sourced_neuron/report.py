"""The analysis pipeline of a stored run (``sourced-neuron analyze FILE``).

A Neo block written by :func:`sourced_neuron.simulate` or :meth:`sourced_neuron.Network.run` is
read back, every population (spike sources left out) is measured with
:mod:`sourced_neuron.analysis`, and the result is a plain dictionary ready for JSON, a text
report and figures. A measure that does not apply to the data (a silent population has no ISI
CV, activity that never pauses has no avalanches) is reported with the reason instead of a value.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import neo
import numpy as np
import quantities as pq

from . import analysis as an
from . import plotting
from .errors import InputError

__all__ = ["analyze_block", "format_report", "write_figures"]

#: At most this many neurons enter the pattern entropy: 2^10 patterns already need long runs.
ENTROPY_NEURONS = 10


def _number(value: Any) -> float | None:
    value = float(value.magnitude if isinstance(value, pq.Quantity) else value)
    return None if math.isnan(value) or math.isinf(value) else value


def _measure(function: Callable[[], dict]) -> dict:
    try:
        return function()
    except InputError as error:
        return {"not computed": str(error)}


def _populations(block: neo.Block) -> list[str | None]:
    """The populations of a run in order, spike sources left out; ``[None]`` (all trains) for
    trains without a ``population`` annotation."""
    sources = {s.partition(": ")[0] for s in an.listed(block, "sources")}
    names: list[str | None] = []
    for train in an.spike_trains(block):
        if "population" not in train.annotations:
            return [None]
        name = str(train.annotations["population"])
        if name not in sources and name not in names:
            names.append(name)
    return names


def _population_report(block: neo.Block, population: str | None) -> dict:
    trains = an.spike_trains(block, population)
    rates = an.firing_rates(trains).magnitude
    cvs = an.isi_cv(trains)
    report: dict[str, Any] = {
        "neurons": len(trains),
        "spikes": int(sum(len(t) for t in trains)),
        "rate_hz": {"mean": _number(np.mean(rates)), "std": _number(np.std(rates))},
        "isi_cv_mean": _number(np.nanmean(cvs)) if np.isfinite(cvs).any() else None,
    }
    report["fano_factor_100ms"] = _measure(lambda: {"value": _number(an.fano_factor(trains, "100 ms"))})
    report["synchrony_spike_contrast"] = _measure(lambda: {"value": _number(an.synchrony(trains))})
    report["dominant_frequency_hz"] = _measure(lambda: {"value": _number(an.dominant_frequency(trains))})
    subset = trains[:ENTROPY_NEURONS]
    report["pattern_entropy"] = _measure(
        lambda: {"bits": _number(an.pattern_entropy(subset, "5 ms")), "neurons": len(subset), "bin_ms": 5.0}
    )

    def avalanche_report() -> dict:
        result = an.avalanches(trains)
        return {
            "count": len(result.sizes),
            "bin_ms": _number(result.bin_size),
            "branching_ratio": _number(result.branching_ratio),
            "size_exponent": _number(result.size_exponent),
            "duration_exponent": _number(result.duration_exponent),
            "power_law_vs_exponential": {
                "loglikelihood_ratio": _number(result.size_loglikelihood_ratio),
                "p": _number(result.size_p_value),
            },
        }

    report["avalanches"] = _measure(avalanche_report)

    def state_report() -> dict:
        states = an.attractor_states(trains, "50 ms")
        return {
            "states": states.n_states,
            "occupancy": [_number(x) for x in states.occupancy],
            "mean_dwell_ms": [_number(np.mean(d.magnitude)) for d in states.dwell_times],
            "silhouette": _number(states.silhouette),
            "bin_ms": 50.0,
        }

    report["attractor_states"] = _measure(state_report)

    def energy_report() -> dict:
        estimate = an.energy(block, population=population)
        return {
            "atp_total": estimate.atp_total,
            "atp_per_neuron_per_second": estimate.atp_per_neuron_per_second,
            "share": {
                "action_potentials": estimate.atp_action_potentials / estimate.atp_total,
                "synaptic": estimate.atp_synaptic / estimate.atp_total,
                "resting": estimate.atp_resting / estimate.atp_total,
            },
            "synaptic_events": estimate.n_synaptic_events,
            "synaptic_events_from": estimate.synaptic_events_from,
        }

    report["energy_atp"] = _measure(energy_report)
    return report


def _weights_report(event: neo.Event) -> dict:
    final = np.asarray(event.annotations.get("final_weight", []), dtype=float)
    return {
        "projection": event.annotations.get("projection", event.name),
        "synapse_model": event.annotations.get("synapse_model"),
        "unit": event.annotations.get("weight_unit"),
        "transmissions": len(event),
        "final": {
            "synapses": len(final),
            "mean": _number(final.mean()) if len(final) else None,
            "min": _number(final.min()) if len(final) else None,
            "max": _number(final.max()) if len(final) else None,
        },
    }


def analyze_block(block: neo.Block, population: str | None = None) -> dict:
    """Measure every population of a run (or only ``population``).

    Returns
    -------
    dict
        ``run`` (backend, what ran, duration, dt), ``populations`` (per population: neurons,
        spikes, rate, ISI CV, Fano factor, synchrony, dominant frequency, pattern entropy,
        avalanches, attractor states, energy) and ``weights`` (per recorded projection). JSON
        serialisable; NaN is ``None``.
    """
    if not isinstance(block, neo.Block) or not block.segments:
        raise InputError("analyze needs a neo.Block with a segment (a file written by simulate or Network.run)")
    a = block.annotations
    train = an.spike_trains(block)[0]
    run = {
        "backend": a.get("backend"),
        "model": a.get("model"),
        "populations": an.listed(block, "populations") or None,
        "duration_ms": _number((train.t_stop - train.t_start).rescale(pq.ms)),
        "dt_ms": _number(pq.Quantity(a["dt"]).rescale(pq.ms)) if "dt" in a else None,
    }
    names = [population] if population is not None else _populations(block)
    events = [e for e in block.segments[0].events if str(e.name).endswith(".weights")]
    return {
        "run": {k: v for k, v in run.items() if v is not None},
        "populations": {name or "all": _population_report(block, name) for name in names},
        "weights": [_weights_report(e) for e in events],
    }


def _value(entry: dict, key: str, form: str) -> str:
    if "not computed" in entry:
        return f"not computed ({entry['not computed']})"
    value = entry.get(key)
    return "n/a" if value is None else format(value, form)


def format_report(report: dict) -> str:
    """The text form of :func:`analyze_block`'s result."""
    run = report["run"]
    what = run.get("model") or "; ".join(run.get("populations", []))
    lines = [f"{what} on {run.get('backend')}: {run.get('duration_ms', 0):g} ms, dt {run.get('dt_ms', 'n/a')} ms"]
    for name, p in report["populations"].items():
        cv = "n/a" if p["isi_cv_mean"] is None else f"{p['isi_cv_mean']:.3f}"
        lines += [
            "",
            f"population {name}: {p['neurons']} neurons, {p['spikes']} spikes",
            f"  rate {p['rate_hz']['mean']:.2f} +- {p['rate_hz']['std']:.2f} Hz, ISI CV {cv}",
            f"  Fano factor (100 ms) {_value(p['fano_factor_100ms'], 'value', '.3f')}",
            f"  synchrony (spike contrast) {_value(p['synchrony_spike_contrast'], 'value', '.3f')}",
            f"  dominant frequency {_value(p['dominant_frequency_hz'], 'value', '.1f')} Hz",
            f"  pattern entropy {_value(p['pattern_entropy'], 'bits', '.3f')} bits"
            + (f" ({p['pattern_entropy']['neurons']} neurons, 5 ms bins)" if "bits" in p["pattern_entropy"] else ""),
        ]
        av = p["avalanches"]
        if "not computed" in av:
            lines.append(f"  avalanches: {_value(av, '', '')}")
        else:
            lines.append(
                f"  avalanches: {av['count']} (bin {av['bin_ms']:.3g} ms), branching ratio "
                f"{_value(av, 'branching_ratio', '.3f')}, size exponent {_value(av, 'size_exponent', '.2f')}, "
                f"duration exponent {_value(av, 'duration_exponent', '.2f')}"
            )
        st = p["attractor_states"]
        if "not computed" in st:
            lines.append(f"  attractor states: {_value(st, '', '')}")
        else:
            occupancy = ", ".join(f"{x:.0%}" for x in st["occupancy"])
            lines.append(f"  attractor states: {st['states']} (occupancy {occupancy}; 50 ms bins)")
        en = p["energy_atp"]
        if "not computed" in en:
            lines.append(f"  energy: {_value(en, '', '')}")
        else:
            share = en["share"]
            lines.append(
                f"  energy: {en['atp_per_neuron_per_second']:.3g} ATP per neuron and second "
                f"(action potentials {share['action_potentials']:.0%}, synaptic {share['synaptic']:.0%}, "
                f"resting {share['resting']:.0%}; Attwell & Laughlin 2001)"
            )
    for w in report["weights"]:
        final = w["final"]
        lines += [
            "",
            f"weights of {w['projection']} ({w['synapse_model']}): {w['transmissions']} transmissions; "
            f"final mean {final['mean']:.4g} {w['unit']} (min {final['min']:.4g}, max {final['max']:.4g}) "
            f"over {final['synapses']} synapses",
        ]
    return "\n".join(lines) + "\n"


def write_figures(block: neo.Block, folder: str | Path, population: str | None = None) -> list[Path]:
    """The figures of a run: raster, population rate, ISI histogram, power spectrum, the
    recorded traces, and per recorded projection the weight matrix and weight evolution. A
    figure the data cannot make (no signal recorded, no spikes) is left out."""
    folder = Path(folder)
    jobs: list[tuple[str, Callable[[Path], Path]]] = [
        ("raster", lambda p: plotting.plot_raster(block, p, population)),
        ("rate", lambda p: plotting.plot_population_rate(block, p, population)),
        ("isi", lambda p: plotting.plot_isi_histogram(block, p, population)),
        ("spectrum", lambda p: plotting.plot_power_spectrum(block, p, population)),
    ]
    if block.segments[0].analogsignals:
        jobs.append(("voltage", lambda p: plotting.plot_voltage(block, p)))
    for event in block.segments[0].events:
        name = str(event.name)
        if name.endswith(".weights"):
            projection = name.removesuffix(".weights")
            jobs.append((f"{projection}_weights", lambda p, q=projection: plotting.plot_weight_matrix(block, p, q)))
            jobs.append(
                (f"{projection}_weight_evolution", lambda p, q=projection: plotting.plot_weight_evolution(block, p, q))
            )
    written = []
    for kind, job in jobs:
        try:
            written.append(job(folder / f"{kind}.png"))
        except InputError:
            continue
    return written
