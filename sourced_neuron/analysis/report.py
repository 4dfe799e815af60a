"""The analysis pipeline of a stored run (``sourced-neuron analyze FILE``).

A Neo block written by :func:`sourced_neuron.simulate` or :meth:`sourced_neuron.Network.run` is
read back, its populations are taken from its structure
(:func:`sourced_neuron.results.blocks.structure`, which refuses a file of an older version with a
message to run it again), every population with recorded spikes (spike sources left out) is measured with
:mod:`sourced_neuron.analysis.measures`, and the result is a plain dictionary ready for JSON, a text
report and figures. Every measure has ``"status"``: ``"ok"`` with its values, or
``"not applicable"`` with the ``"reason"`` when the population does not meet the measure's
preconditions (:data:`sourced_neuron.analysis.measures.MEASURES`: one neuron has no attractor states, a
silent population no Fano factor, activity that never pauses no avalanches).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import neo
import numpy as np
import quantities as pq

from sourced_neuron.analysis import measures as an
from sourced_neuron.analysis import plotting
from sourced_neuron.common.errors import InputError
from sourced_neuron.results.blocks import structure

__all__ = ["analyze_block", "format_report", "write_figures"]

#: At most this many neurons enter the pattern entropy: 2^10 patterns already need runs of 5 s.
ENTROPY_NEURONS = 10
#: Bins of the pattern entropy (ms).
ENTROPY_BIN_MS = 5.0
#: Bins of the attractor-state analysis (ms).
STATES_BIN_MS = 50.0


def _number(value: Any) -> float | None:
    value = float(value.magnitude if isinstance(value, pq.Quantity) else value)
    return None if math.isnan(value) or math.isinf(value) else value


def _not_applicable(reason: str) -> dict:
    return {"status": "not applicable", "reason": reason}


def _measure(function: Callable[[], dict]) -> dict:
    """``{"status": "ok", ...}`` with what ``function`` returns, or ``{"status": "not applicable",
    "reason": ...}`` when the data do not meet the measure's preconditions. Any other error (a
    bad argument, a bug) is not caught."""
    try:
        return {"status": "ok", **function()}
    except an.NotApplicableError as error:
        return _not_applicable(error.reason)


def _populations(layout: dict) -> list[str]:
    """The populations of a run whose spikes were recorded, in order (spike sources left out)."""
    return [entry["name"] for entry in layout["populations"] if entry["record_spikes"]]


def _isi_cv(trains: list[neo.SpikeTrain]) -> dict:
    cvs = an.isi_cv(trains)
    if not np.isfinite(cvs).any():
        most = max(len(t) for t in trains)
        return _not_applicable(
            f"the ISI CV needs a neuron with at least 3 spikes (two intervals); the most in one neuron is {most}"
        )
    return {"status": "ok", "mean": _number(np.nanmean(cvs)), "neurons": int(np.isfinite(cvs).sum())}


def _fit(exponent: float, error: float, why_not: str) -> dict:
    if why_not:
        return _not_applicable(why_not)
    return {"status": "ok", "value": _number(exponent), "error": _number(error)}


def _population_report(block: neo.Block, population: str) -> dict:
    trains = an.spike_trains(block, population)
    rates = an.firing_rates(trains).magnitude
    report: dict[str, Any] = {
        "neurons": len(trains),
        "spikes": int(sum(len(t) for t in trains)),
        "rate_hz": {"mean": _number(np.mean(rates)), "std": _number(np.std(rates))},
        "isi_cv": _isi_cv(trains),
    }
    report["fano_factor_100ms"] = _measure(lambda: {"value": _number(an.fano_factor(trains, "100 ms"))})
    report["synchrony_spike_contrast"] = _measure(lambda: {"value": _number(an.synchrony(trains))})

    def frequency_report() -> dict:
        value = an.dominant_frequency(trains)
        resolution, note = an.spectral_resolution(trains)
        return {"value": _number(value), "resolution_hz": _number(resolution), **({"note": note} if note else {})}

    report["dominant_frequency_hz"] = _measure(frequency_report)

    def entropy_report() -> dict:
        # as many neurons (up to ENTROPY_NEURONS) as the run has words for: 2^n patterns need 2^n words
        span = min(float((t.t_stop - t.t_start).rescale(pq.ms)) for t in trains)
        words = int(span / ENTROPY_BIN_MS * (1 + 1e-12))
        n = max(1, min(ENTROPY_NEURONS, len(trains), int(np.log2(max(words, 1)))))
        bits = an.pattern_entropy(trains[:n], f"{ENTROPY_BIN_MS:g} ms")
        return {"bits": _number(bits), "neurons": n, "bin_ms": ENTROPY_BIN_MS, "words": words}

    report["pattern_entropy"] = _measure(entropy_report)

    def avalanche_report() -> dict:
        result = an.avalanches(trains)
        return {
            "count": len(result.sizes),
            "bin_ms": _number(result.bin_size),
            "branching_ratio": _number(result.branching_ratio),
            "size_exponent": _fit(result.size_exponent, result.size_exponent_error, result.size_fit),
            "duration_exponent": _fit(result.duration_exponent, result.duration_exponent_error, result.duration_fit),
            "power_law_vs_exponential": {
                "loglikelihood_ratio": _number(result.size_loglikelihood_ratio),
                "p": _number(result.size_p_value),
            },
        }

    report["avalanches"] = _measure(avalanche_report)

    def state_report() -> dict:
        states = an.attractor_states(trains, f"{STATES_BIN_MS:g} ms")
        return {
            "states": states.n_states,
            "occupancy": [_number(x) for x in states.occupancy],
            "mean_dwell_ms": [_number(np.mean(d.magnitude)) for d in states.dwell_times],
            "silhouette": _number(states.silhouette),
            "persistence_z": _number(states.persistence),
            "bin_ms": STATES_BIN_MS,
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
        ``run`` (backend, the model of a run of one population, the run's ``structure`` as
        :func:`sourced_neuron.results.blocks.structure` gives it, duration, dt),
        ``populations`` (per population: neurons,
        spikes, rate, ISI CV, Fano factor, synchrony, dominant frequency, pattern entropy,
        avalanches, attractor states, energy) and ``weights`` (per recorded projection). Each
        measure is ``{"status": "ok", ...values}`` or ``{"status": "not applicable", "reason":
        ...}`` (its preconditions: :data:`sourced_neuron.analysis.measures.MEASURES`). JSON serialisable;
        NaN is ``None``.

    Raises
    ------
    InputError
        Not a block of a run, a block of an older layout (the message says to run it again),
        or no spike trains (of ``population``).
    """
    if not isinstance(block, neo.Block) or not block.segments:
        raise InputError("analyze needs a neo.Block with a segment (a file written by simulate or Network.run)")
    a = block.annotations
    layout = structure(block)
    train = an.spike_trains(block)[0]
    single = len(layout["populations"]) == 1 and not layout["sources"] and not layout["projections"]
    run = {
        "backend": a.get("backend"),
        "model": layout["populations"][0]["model"] if single else None,
        "structure": layout,
        "duration_ms": _number((train.t_stop - train.t_start).rescale(pq.ms)),
        "dt_ms": _number(pq.Quantity(a["dt"]).rescale(pq.ms)) if "dt" in a else None,
    }
    names = [population] if population is not None else _populations(layout)
    events = [e for e in block.segments[0].events if str(e.name).endswith(".weights")]
    return {
        "run": {k: v for k, v in run.items() if v is not None},
        "populations": {name: _population_report(block, name) for name in names},
        "weights": [_weights_report(e) for e in events],
    }


def _value(entry: dict, key: str, form: str, unit: str = "") -> str:
    if entry["status"] != "ok":
        return f"not applicable: {entry['reason']}"
    value = entry.get(key)
    return "n/a" if value is None else format(value, form) + unit


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _population_lines(name: str, p: dict) -> list[str]:
    lines = [
        "",
        f"population {name}: {_count(p['neurons'], 'neuron')}, {_count(p['spikes'], 'spike')}",
        f"  rate {p['rate_hz']['mean']:.2f} +- {p['rate_hz']['std']:.2f} Hz",
        f"  ISI CV {_value(p['isi_cv'], 'mean', '.3f')}",
        f"  Fano factor (100 ms) {_value(p['fano_factor_100ms'], 'value', '.3f')}",
        f"  synchrony (spike contrast) {_value(p['synchrony_spike_contrast'], 'value', '.3f')}",
    ]
    frequency = p["dominant_frequency_hz"]
    line = f"  dominant frequency {_value(frequency, 'value', '.1f', ' Hz')}"
    if frequency["status"] == "ok":
        note = f", {frequency['note']}" if "note" in frequency else ""
        line += f" (resolution {frequency['resolution_hz']:.3g} Hz{note})"
    lines.append(line)
    entropy = p["pattern_entropy"]
    line = f"  pattern entropy {_value(entropy, 'bits', '.3f', ' bits')}"
    if entropy["status"] == "ok":
        line += f" ({_count(entropy['neurons'], 'neuron')}, {entropy['words']} words of {entropy['bin_ms']:g} ms)"
    lines.append(line)
    av = p["avalanches"]
    if av["status"] != "ok":
        lines.append(f"  avalanches: {_value(av, '', '')}")
    else:
        lines.append(
            f"  avalanches: {av['count']} (bin {av['bin_ms']:.3g} ms), branching ratio "
            f"{_value(av, 'branching_ratio', '.3f')}, size exponent {_value(av['size_exponent'], 'value', '.2f')}, "
            f"duration exponent {_value(av['duration_exponent'], 'value', '.2f')}"
        )
    st = p["attractor_states"]
    if st["status"] != "ok":
        lines.append(f"  attractor states: {_value(st, '', '')}")
    else:
        occupancy = ", ".join(f"{x:.0%}" for x in st["occupancy"])
        lines.append(f"  attractor states: {st['states']} (occupancy {occupancy}; {st['bin_ms']:g} ms bins)")
    en = p["energy_atp"]
    if en["status"] != "ok":
        lines.append(f"  energy: {_value(en, '', '')}")
    else:
        share = en["share"]
        lines.append(
            f"  energy: {en['atp_per_neuron_per_second']:.3g} ATP per neuron and second "
            f"(action potentials {share['action_potentials']:.0%}, synaptic {share['synaptic']:.0%}, "
            f"resting {share['resting']:.0%}; Attwell & Laughlin 2001)"
        )
        if not en["synaptic_events"]:
            lines.append(f"    synaptic events: {en['synaptic_events_from']}")
    return lines


def format_report(report: dict) -> str:
    """The text form of :func:`analyze_block`'s result; a measure that does not apply reads
    "not applicable: <why>"."""
    run = report["run"]
    populations = run.get("structure", {}).get("populations", [])
    what = run.get("model") or "; ".join(f"{p['name']}: {p['size']} x {p['model']}" for p in populations)
    lines = [f"{what} on {run.get('backend')}: {run.get('duration_ms', 0):g} ms, dt {run.get('dt_ms', 'n/a')} ms"]
    for name, p in report["populations"].items():
        lines += _population_lines(name, p)
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
