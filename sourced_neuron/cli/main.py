"""The ``sourced-neuron`` command.

Every error caused by input is printed as one paragraph on stderr with a non-zero exit
status (1: the model file has problems or a comparison failed; 2: bad arguments or an
unavailable backend); set ``SOURCED_NEURON_DEBUG=1`` to see tracebacks of internal errors.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import sys
import textwrap
import traceback
from collections.abc import Sequence
from typing import Any

from sourced_neuron.common import progress
from sourced_neuron.common.errors import InputError, ModelError, SourcedNeuronError

__all__ = ["main"]

#: Set to show the traceback of every error.
DEBUG_VARIABLE = "SOURCED_NEURON_DEBUG"
PICKLE_HELP = "read a .pkl file: unpickling runs any code the file holds, so only for files you trust"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):
        self.print_usage(sys.stderr)
        raise SystemExit(_fail(f"{self.prog}: {message}"))


def _fail(message: str, status: int = 2) -> int:
    print(f"error: {message}", file=sys.stderr)
    return status


def _assignments(items: Sequence[str]) -> dict[str, str]:
    values = {}
    for item in items:
        name, equals, value = item.partition("=")
        if not equals or not name.strip():
            raise SourcedNeuronError(f"--set expects NAME=VALUE (e.g. --set 'tau_m=20 ms'), got {item!r}")
        values[name.strip()] = value.strip()
    return values


def cmd_models(args: argparse.Namespace) -> int:
    from sourced_neuron.spec.library import library_models, load_model

    for name in library_models():
        model = load_model(name)
        first = model.description.split(". ")[0].rstrip(".")
        presets = f"  presets: {', '.join(model.preset_names)}" if model.presets else ""
        print(f"{name:12s} {first}.{presets}")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from sourced_neuron.spec.library import load_model

    model = load_model(args.model)
    print(f"# content hash {model.content_hash}")
    print(model.to_yaml(), end="")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from sourced_neuron.spec.model import read_model_file

    status = 0
    for path in args.files:
        try:
            model = read_model_file(path)
        except ModelError as exc:
            print(f"{path}: {len(exc.diagnostics)} problem(s)")
            for diagnostic in exc.diagnostics:
                print(f"  {diagnostic}")
            status = 1
        else:
            print(f"{path}: OK (model {model.name!r}, hash {model.content_hash[:12]})")
    return status


def cmd_simulate(args: argparse.Namespace) -> int:
    from sourced_neuron.analysis.measures import spike_summary
    from sourced_neuron.analysis.plotting import FIGURE_SUFFIXES, plot_block
    from sourced_neuron.common.files import check_output
    from sourced_neuron.results.blocks import structure
    from sourced_neuron.results.io import FORMATS, write_block
    from sourced_neuron.run.simulation import simulate

    if args.out:
        check_output(args.out, "--out", FORMATS)
    if args.plot:
        check_output(args.plot, "--plot", FIGURE_SUFFIXES)
    block = simulate(
        args.model,
        backend=args.backend,
        duration=args.duration,
        preset=args.preset,
        params=_assignments(args.set),
        stimulus=args.current,
        n_neurons=args.n_neurons,
        record=tuple(filter(None, args.record.split(","))),
        dt=args.dt,
        seed=args.seed,
        check_finite=args.check_finite,
    )
    (population,) = structure(block)["populations"]
    backend, dt = block.annotations["backend"], block.annotations["dt"]
    print(f"{population['model']} on {backend} ({population['method']}, dt {dt}), stimulus: {population['stimulus']}")
    for row in spike_summary(block):
        print(
            f"  neuron {row['index']}: {row['n_spikes']} spikes, {row['rate']:.2f} Hz, "
            f"first spike {row['first_spike']:.2f} ms, ISI CV {row['cv']:.3f}"
        )
    if args.out:
        print(f"wrote {write_block(block, args.out)}")
    if args.plot:
        print(f"wrote {plot_block(block, args.plot)}")
    return 0


def cmd_analyze(args: argparse.Namespace) -> int:
    from sourced_neuron.analysis.report import analyze_block, format_report, write_figures
    from sourced_neuron.common.files import as_path, check_folder, check_output, write_text
    from sourced_neuron.results.io import read_block

    path = as_path(args.file, "analyze")
    target = None if args.json == "-" else as_path(args.json or path.with_name(f"{path.stem}_analysis.json"), "--json")
    if target is not None:
        check_output(target, "--json")
    folder = None if args.no_figures else as_path(args.figures or path.with_name(f"{path.stem}_figures"), "--figures")
    if folder is not None:
        check_folder(folder, "--figures")
    block = read_block(path, allow_pickle=args.allow_pickle)
    report = analyze_block(block, args.population)
    text = json.dumps(report, indent=2)
    if target is None:
        print(text)
    else:
        sys.stdout.write(format_report(report))
        write_text(target, text + "\n", "--json")
        print(f"wrote {target}")
    if folder is not None:
        written = write_figures(block, folder, args.population)
        print(f"wrote {len(written)} figures to {folder}", file=sys.stderr if args.json == "-" else sys.stdout)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from sourced_neuron.codegen import export
    from sourced_neuron.common.files import check_output, write_text

    if args.to == "neuroml" and args.output:
        return _export_neuroml(args)
    if args.current is not None:
        raise InputError("--current drives the simulation of a NeuroML export: use it with --to neuroml -o DIR")
    if args.output:
        check_output(args.output, "--output")
    text = export(args.model, args.to)
    if args.output:
        write_text(args.output, text, "--output")
        print(f"wrote {args.output}")
    else:
        sys.stdout.write(text)
    return 0


def _export_neuroml(args: argparse.Namespace) -> int:
    """``export MODEL --to neuroml -o DIR``: the model's LEMS file, a network of one cell driven
    by ``--current`` and the LEMS simulation ``LEMS_<model>.xml`` that runs it."""
    from sourced_neuron.codegen.neuroml import write_neuroml
    from sourced_neuron.spec.library import load_model
    from sourced_neuron.spec.parts import AMP, SECOND
    from sourced_neuron.spec.units import as_quantity

    model = load_model(args.model)
    current = float(as_quantity(args.current or "0 pA", "--current", AMP))
    duration = float(as_quantity(args.duration, "--duration", SECOND))
    export = write_neuroml(model, args.output, steps=((0.0, current),), duration=duration)
    for path in (export.model_file, export.network_file, export.simulation_file):
        print(f"wrote {path}")
    print(f"run it with: pynml {export.simulation_file.name}  (jLEMS), or pylems {export.simulation_file.name}")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from sourced_neuron.common.files import check_output, write_text
    from sourced_neuron.spec.neuroml import neuroml_model_text

    if args.output:
        check_output(args.output, "--output")
    text = neuroml_model_text(args.file, args.component, dt=args.dt)
    if args.output:
        write_text(args.output, text, "--output")
        print(f"wrote {args.output}")
    else:
        sys.stdout.write(text)
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    import numpy as np
    from brian2 import amp

    from sourced_neuron.analysis.compare import compare_backends
    from sourced_neuron.spec.parts import AMP
    from sourced_neuron.spec.units import as_quantity

    fi_currents = None
    if args.fi_currents:
        fi_currents = [c.strip() for c in args.fi_currents.split(",") if c.strip()]
    elif args.current is not None and args.fi:
        top = float(as_quantity(args.current, "--current", AMP))
        fi_currents = list(np.linspace(0.0, 2 * top, 9) * amp) if top else None
    rows = compare_backends(
        args.model,
        [b.strip() for b in args.backends.split(",") if b.strip()],
        duration=args.duration,
        preset=args.preset,
        stimulus=args.current,
        record=("v",) if args.record else (),
        fi_currents=fi_currents,
    )
    print(
        f"{'backend':12s} {'spikes':>7s} {'first (ms)':>11s} {'max dt (ms)':>12s} {'trace RMS':>10s} "
        f"{'rate diff %':>12s} {'f-I diff %':>11s}  result"
    )
    for row in rows:
        print(
            f"{row.backend:12s} {row.n_spikes:7d} {row.first_spike:11.3f} {row.max_spike_difference:12.4f} "
            f"{row.trace_rms_difference:10.4f} {row.rate_difference:12.3f} {row.fi_difference:11.3f}  "
            f"{'ok' if row.passed else 'FAILED'}"
        )
    if fi_currents is not None:
        print(f"f-I sweep over {len(fi_currents)} currents; rates (Hz):")
        for row in rows:
            print(f"  {row.backend:12s} " + " ".join(f"{r:7.1f}" for r in row.fi_rates))
    return 0 if all(r.passed for r in rows) else 1


def cmd_card(args: argparse.Namespace) -> int:
    import time

    from sourced_neuron.analysis.cards import write_card
    from sourced_neuron.common.files import check_folder

    check_folder(args.out, "--out")
    started = time.perf_counter()
    backends = [b.strip() for b in args.backends.split(",") if b.strip()] if args.backends else None
    path = write_card(args.model, out_dir=args.out, backends=backends, duration=args.duration)
    print(f"wrote {path} and its figures in {time.perf_counter() - started:.0f} s")
    return 0


def cmd_cache(args: argparse.Namespace) -> int:
    from sourced_neuron.common.cache import CACHE_VARIABLE, cache_entries, cache_root, clear_cache
    from sourced_neuron.common.resources import format_bytes

    root = cache_root()
    if args.action == "clear":
        report = clear_cache()
        print(
            f"removed {len(report.removed)} entr{'y' if len(report.removed) == 1 else 'ies'} "
            f"({format_bytes(report.freed)}) from {root}"
        )
        for entry, reason in report.skipped:
            print(f"  skipped: {entry.path} ({_CACHE_KINDS[entry.kind][0]}): {reason}")
        return 0
    entries = cache_entries()
    total = sum(entry.bytes for entry in entries)
    print(f"cache folder {root} ({format_bytes(total)}; ${CACHE_VARIABLE} moves it)")
    if not entries:
        print("  empty")
    for kind, (_, title) in _CACHE_KINDS.items():
        chosen = [entry for entry in entries if entry.kind == kind]
        if chosen:
            print(f"{title} ({len(chosen) if kind != 'steps' else len(chosen[0].detail['files'])}):")
        for entry in chosen:
            print(f"  {_cache_line(entry)}")
    return 0


#: Kind of cache entry -> (what one is, the heading of the list).
_CACHE_KINDS = {
    "nest-module": ("NEST module", "NEST modules"),
    "brian2-project": ("Brian2 standalone project", "Brian2 standalone projects"),
    "steps": ("stored integration steps", "stored integration steps"),
    "toolchain": ("NEST toolchain", "NEST toolchain (nest-config)"),
    "build": ("build in progress", "builds in progress"),
    "write": ("write in progress", "writes in progress"),
    "failed-build": ("failed build", "failed builds (kept for their log; never used)"),
    "leftover": ("leftover", "leftovers of processes that are gone (removed by the next build or cache clear)"),
    "lock": ("unused lock file", "unused lock files"),
    "other": ("not written by sourced_neuron", "not written by sourced_neuron (left alone)"),
}


def _cache_line(entry) -> str:
    from sourced_neuron.common.cache import LEGACY, UNUSED_TOOLCHAIN
    from sourced_neuron.common.files import alive
    from sourced_neuron.common.resources import format_bytes

    size = format_bytes(entry.bytes)
    state = "ok" if entry.problem is None else f"rebuilt on its next use: {entry.problem}"
    if entry.problem in (LEGACY, UNUSED_TOOLCHAIN):
        state = entry.problem
    if entry.kind in ("nest-module", "brian2-project", "toolchain") and entry.users:
        state += ", in use by pid " + ", ".join(map(str, entry.users))
    if entry.kind == "nest-module":
        info = entry.detail
        versions = info.get("versions") or {}
        return (
            f"{info.get('module', entry.path.name)}  {', '.join(info.get('models') or [])}  {size}  "
            f"built in {info.get('build_seconds', '?')} s (nestml {versions.get('nestml', '?')}, "
            f"NEST {versions.get('nest-simulator', '?')})  {state}"
        )
    if entry.kind == "brian2-project":
        return f"{entry.detail['device']}/{entry.path.name[:16]}  {size}  {state}"
    if entry.kind == "steps":
        return f"{entry.path}  {size}"
    if entry.kind == "toolchain":
        return f"{entry.path.name}  {size}  {state}"
    if entry.kind in ("build", "write"):
        return f"{entry.path}  {size}  pid {entry.detail['pid']}"
    if entry.kind == "leftover":
        pid = entry.detail["pid"]
        return f"{entry.path}  {size}  (pid {pid} {'no longer works on it' if alive(pid) else 'is gone'})"
    if entry.kind == "failed-build":
        return f"{entry.path}  {size}  log: {entry.detail['log']}"
    return f"{entry.path}  {size}"


def cmd_backends(args: argparse.Namespace) -> int:
    from sourced_neuron.backends import backend_status

    status = backend_status()
    if args.json:
        print(json.dumps(status, indent=2))
    else:
        for name, reason in status.items():
            print(f"{name:12s} {'available' if reason is None else reason}")
    return 0


def cmd_plot(args: argparse.Namespace) -> int:
    from pathlib import Path

    from sourced_neuron.analysis import plotting
    from sourced_neuron.common.errors import InputError
    from sourced_neuron.common.files import as_path, check_output

    only = {
        "population": ("raster", "isi", "rate", "spectrum"),
        "threshold": ("voltage",),
        "variable": ("voltage",),
        "projection": ("weights", "weight-evolution"),
        "currents": ("fi",),
    }
    for option, kinds in only.items():
        if getattr(args, option) is not None and args.kind not in kinds:
            allowed = f"{', '.join(kinds[:-1])} or {kinds[-1]}" if len(kinds) > 1 else kinds[0]
            raise InputError(f"--{option} is for --kind {allowed}, not --kind {args.kind}")
    out = args.out or as_path(args.file, "plot").with_name(f"{as_path(args.file, 'plot').stem}_{args.kind}.png")
    check_output(out, "--out", plotting.FIGURE_SUFFIXES)
    if args.kind == "fi":
        from sourced_neuron.analysis.compare import fi_curve

        currents = [c.strip() for c in (args.currents or "").split(",") if c.strip()]
        if len(currents) < 2:
            raise InputError('--kind fi needs --currents with at least two currents, e.g. "0 pA,100 pA,200 pA"')
        rates = fi_curve(args.file, args.backend, currents, duration=args.duration)
        title = f"{Path(args.file).stem} on {args.backend} ({args.duration} per current)"
        print(f"wrote {plotting.plot_fi(currents, {args.backend: rates}, out, title=title)}")
        return 0
    from sourced_neuron.results.io import read_block

    block = read_block(args.file, allow_pickle=args.allow_pickle)
    if args.kind == "voltage":
        path = plotting.plot_voltage(block, out, threshold=args.threshold, variable=args.variable)
    elif args.kind in ("weights", "weight-evolution"):
        draw = plotting.plot_weight_matrix if args.kind == "weights" else plotting.plot_weight_evolution
        path = draw(block, out, projection=args.projection)
    else:
        draw = {
            "raster": plotting.plot_raster,
            "isi": plotting.plot_isi_histogram,
            "rate": plotting.plot_population_rate,
            "spectrum": plotting.plot_power_spectrum,
        }[args.kind]
        path = draw(block, out, population=args.population)
    print(f"wrote {path}")
    return 0


_VARY = re.compile(r"^\s*(?P<values>[-+0-9.eE:,\s]*?[0-9.])\s*(?P<unit>[^0-9:,\s+-][^:,]*)?\s*$")


def _vary(items: Sequence[str], option: str, sampled: bool = False) -> dict[str, Any]:
    """Read ``--vary``/``--bound`` options. ``NAME=LOW:HIGH:COUNT UNIT``: COUNT values from LOW to
    HIGH; ``NAME=A,B,C UNIT``: these values; ``NAME=VALUE UNIT``: one value; ``NAME=LOW:HIGH UNIT``:
    a range, as ``[low, high]`` (``--bound``) or a uniform sampler (``sampled``, ``--samples``).
    Values keep their unit as text, so the library checks it against the model."""
    import numpy as np

    from sourced_neuron.common.errors import InputError

    result: dict[str, Any] = {}
    example = "'g_L=0.05:0.2:20 mS/cm**2' or 'k=5,10,15 mV'" if option == "--vary" else "'g_L=0.05:0.2 mS/cm**2'"
    for item in items:
        name, equals, spec = item.partition("=")
        match = _VARY.match(spec)
        if not equals or not name.strip() or match is None:
            raise InputError(f"{option} expects NAME=VALUES UNIT, e.g. {example}; got {item!r}")
        name, unit = name.strip(), (match["unit"] or "").strip()
        if name in result:
            raise InputError(f"{option} names {name!r} twice")
        text = match["values"].replace(" ", "")

        def value(number: float) -> str:
            return f"{float(number)!r} {unit}".strip()  # noqa: B023 - used at once, in this iteration

        try:
            parts = text.split(":")
            if len(parts) == 2:
                low, high = (float(v) for v in parts)
                if option == "--vary" and not sampled:
                    raise InputError(
                        f"{option} {item!r} is a range: give LOW:HIGH:COUNT for a grid, or --samples N to draw sets"
                    )
                result[name] = {"uniform": [value(low), value(high)]} if sampled else [value(low), value(high)]
            elif option != "--vary":
                raise InputError(f"{option} expects a range NAME=LOW:HIGH UNIT, e.g. {example}; got {item!r}")
            elif len(parts) == 3:
                number = int(parts[2])
                if number < 1:
                    raise InputError(f"{option} {item!r}: the grid is empty (COUNT must be at least 1)")
                result[name] = [value(v) for v in np.linspace(float(parts[0]), float(parts[1]), number)]
            elif "," in text:
                result[name] = [value(float(v)) for v in text.split(",") if v]
            else:
                result[name] = value(float(text))
        except InputError:
            raise
        except ValueError:  # a number that does not read as one
            raise InputError(f"{option} expects NAME=VALUES UNIT, e.g. {example}; got {item!r}") from None
        if sampled and isinstance(result[name], list):
            raise InputError(f"--samples draws sets from ranges: give {option} {name}=LOW:HIGH UNIT, not a grid")
    if not result:
        raise InputError(f"give at least one {option}, e.g. {option} {example}")
    return result


def _client(address: str | None):
    """``--cluster``: ``local`` (the default: a local Dask cluster), ``synchronous`` or a scheduler's address."""
    from sourced_neuron.common.errors import InputError

    if address in (None, "local"):
        return None
    if address == "synchronous":
        return address
    from dask.distributed import Client

    try:
        return Client(address, timeout="10s")
    except (OSError, TimeoutError, ValueError) as exc:
        raise InputError(f"--cluster: cannot reach the Dask scheduler at {address!r} ({exc})") from None


def _sweep_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", help="library model name or model file")
    parser.add_argument("--measure", action="append", help="a measure (repeat for several; default: rate)")
    parser.add_argument("--current", help="constant injected current, e.g. '250 pA'")
    parser.add_argument("--duration", default="1 s", help="simulated time per set (default: 1 s)")
    parser.add_argument("--backend", default="brian2")
    parser.add_argument("--preset")
    parser.add_argument("--dt", help="time step (default: the model's)")
    parser.add_argument("--batch-size", type=int, help="sets per simulator run (default: shared among the workers)")
    parser.add_argument(
        "--cluster",
        help="where batches run: 'local' (default: a local Dask cluster, one worker per core), "
        "'synchronous' (this process) or a Dask scheduler address, e.g. tcp://10.0.0.1:8786",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of sampling and simulations (default: 0)")


def _check_plot(path: str | None) -> None:
    """Refuse a ``--plot`` file that cannot be written, before anything is simulated."""
    if path:
        from sourced_neuron.analysis.plotting import FIGURE_SUFFIXES
        from sourced_neuron.common.files import check_output

        check_output(path, "--plot", FIGURE_SUFFIXES)


def cmd_sweep(args: argparse.Namespace) -> int:
    from sourced_neuron.experiments.sweep import sweep

    _check_plot(args.plot)
    params = _vary(args.vary, "--vary", sampled=args.samples is not None)
    frame = sweep(
        args.model,
        params,
        stimulus=args.current,
        duration=args.duration,
        backend=args.backend,
        measures=tuple(args.measure or ("rate",)),
        preset=args.preset,
        batch_size=args.batch_size,
        client=_client(args.cluster),
        out=args.out,
        n=args.samples,
        seed=args.seed,
        dt=args.dt,
    )
    units = frame.attrs["units"]
    print(f"{len(frame)} parameter sets of {frame.attrs['model']} on {frame.attrs['backend']}")
    shown = frame.drop(columns=["reason"]).rename(columns=lambda c: f"{c} ({units[c]})" if units.get(c) else c)
    print(shown.to_string(index=False, max_rows=20))
    failed = int((frame["reason"] != "").sum())
    if failed:
        print(f"{failed} set(s) have a measure without value; the reason is in the 'reason' column")
    if args.out:
        print(f"wrote {args.out}")
    if args.plot:
        from sourced_neuron.experiments.plots import plot_sweep

        print(f"wrote {plot_sweep(frame, args.plot_measure, args.plot)}")
    return 0


def _one_measure(measures: list[str] | None) -> str:
    from sourced_neuron.common.errors import InputError

    if measures and len(measures) > 1:
        raise InputError(f"sensitivity analyses one measure at a time, got --measure {', '.join(measures)}")
    return measures[0] if measures else "rate"


def cmd_sensitivity(args: argparse.Namespace) -> int:
    from sourced_neuron.experiments.sensitivity import sensitivity

    _check_plot(args.plot)
    result = sensitivity(
        args.model,
        _vary(args.bound, "--bound"),
        _one_measure(args.measure),
        method=args.method,
        n=args.n,
        stimulus=args.current,
        duration=args.duration,
        backend=args.backend,
        preset=args.preset,
        client=_client(args.cluster),
        batch_size=args.batch_size,
        out=args.out,
        seed=args.seed,
    )
    print(result)
    if args.plot:
        print(f"wrote {result.plot(args.plot)}")
    return 0


def cmd_fit(args: argparse.Namespace) -> int:
    from sourced_neuron.common.errors import InputError
    from sourced_neuron.experiments.fitting import fit
    from sourced_neuron.results.io import read_block

    _check_plot(args.plot)
    segment = read_block(args.target, allow_pickle=args.allow_pickle).segments[0]
    if args.metric == "trace":
        signals = [s for s in segment.analogsignals if args.variable in (None, s.annotations.get("variable"), s.name)]
        if not signals:
            raise InputError(f"--target {args.target!r} holds no recorded {args.variable or 'signal'} to fit")
        target = signals[0][:, 0] if signals[0].shape[1] > 1 else signals[0]
    else:
        trains = list(segment.spiketrains)
        if not trains:
            raise InputError(f"--target {args.target!r} holds no spike trains to fit")
        target = trains[0]
    result = fit(
        args.model,
        target,
        _vary(args.bound, "--bound"),
        metric=args.metric,
        optimizer=args.optimizer,
        budget=args.budget,
        stimulus=args.current,
        duration=args.duration,
        backend=args.backend,
        preset=args.preset,
        client=_client(args.cluster),
        seed=args.seed,
    )
    print(result)
    if args.plot:
        print(f"wrote {result.plot(args.plot)}")
    return 0


def _stimulus(args: argparse.Namespace) -> Any:
    """``--current`` with optional ``--start``/``--stop``: a constant current, or a step when either is given."""
    from sourced_neuron.common.errors import InputError

    if args.start is None and args.stop is None:
        return args.current
    if args.current is None:
        raise InputError("--start and --stop time a step of --current: give --current too, e.g. --current '200 pA'")
    step = {"amplitude": args.current}
    if args.start is not None:
        step["start"] = args.start
    if args.stop is not None:
        step["stop"] = args.stop
    return step


def _prior(args: argparse.Namespace) -> Any:
    """The ``Prior`` of ``--prior NAME=LOW:HIGH UNIT`` options, ``--loguniform NAME`` choosing the family."""
    from sourced_neuron.common.errors import InputError
    from sourced_neuron.inference import Prior

    bounds = _vary(args.prior, "--prior")
    for name in args.loguniform:
        if name not in bounds:
            raise InputError(f"--loguniform names {name!r}, which has no --prior (given: {', '.join(bounds)})")
    return Prior(bounds, {name: "loguniform" for name in args.loguniform})


def _print_table(rows: list[tuple[str, ...]], left: int) -> None:
    """Print rows of text as aligned columns, indented: the first ``left`` columns flush left."""
    widths = [max(len(row[k]) for row in rows) for k in range(len(rows[0]))]
    for row in rows:
        cells = (f"{c:<{w}}" if k < left else f"{c:>{w}}" for k, (c, w) in enumerate(zip(row, widths, strict=True)))
        print("  " + "  ".join(cells))


def cmd_infer_train(args: argparse.Namespace) -> int:
    from sourced_neuron.common.files import check_folder
    from sourced_neuron.inference import train

    check_folder(args.out, "--out")
    posterior = train(
        args.model,
        _prior(args),
        stimulus=_stimulus(args),
        duration=args.duration,
        simulations=args.simulations,
        backend=args.backend,
        noise=args.noise,
        summary=args.summary,
        epochs=args.epochs,
        client=_client(args.cluster),
        out=args.out,
        seed=args.seed,
        preset=args.preset,
        dt=args.dt,
        trace_samples=args.trace_samples,
    )
    info, history, protocol = posterior.info, posterior.history, posterior.protocol
    print(
        f"posterior of {protocol.model.name} over {', '.join(posterior.names)} (summary {posterior.encoder.summary!r})"
    )
    shown = [f"{name} ~ {d['kind']}({d['low']}, {d['high']})" for name, d in posterior.prior.describe().items()]
    print(f"  prior: {'; '.join(shown)}")
    print(
        f"  experiment: {protocol.batch.request.stimulus.describe()} for {protocol.duration * 1e3:g} ms on "
        f"{protocol.batch.backend}, {protocol.n_samples} samples every {protocol.sampling_period * 1e3:g} ms, "
        f"noise {protocol.noise * 1e3:g} mV"
    )
    print(
        f"  simulations: {info['simulations']} ({info['failed_simulations']} failed; {info['simulated_now']} "
        f"simulated now in {info['simulation_seconds']:.1f} s)"
    )
    losses = ", ".join(f"final {key} {values[-1]:.4g}" for key, values in history.items() if values)
    print(f"  training: {info['epochs']} epochs in {info['training_seconds']:.1f} s, {losses}")
    print(f"saved to {posterior.folder} (simulations kept in {info['simulations_folder']})")
    return 0


def cmd_infer_sample(args: argparse.Namespace) -> int:
    from sourced_neuron.common.files import check_output, write_text
    from sourced_neuron.inference import load
    from sourced_neuron.results.io import read_block

    if args.csv:
        check_output(args.csv, "--csv", (".csv",))
    posterior = load(args.folder)
    block = read_block(args.observation, allow_pickle=args.allow_pickle)
    frame = posterior.sample(block, args.n, seed=args.seed)
    units = frame.attrs["units"]
    print(
        f"posterior of {posterior.protocol.model.name} given {args.observation}: {len(frame)} draws (seed {args.seed})"
    )
    rows = [("parameter", "unit", "mean", "sd", "5%", "95%")]
    for name in frame.columns:
        column = frame[name]
        numbers = (column.mean(), column.std(), column.quantile(0.05), column.quantile(0.95))
        rows.append((name, units.get(name) or "1", *(f"{x:.4g}" for x in numbers)))
    _print_table(rows, left=2)
    if posterior.reference is None:
        print("typicality: not available (this posterior has no typicality reference)")
    else:
        found = posterior.typicality(block)
        verdict = "typical of the training simulations" if found["typical"] else "ATYPICAL"
        print(
            f"typicality: distance {found['distance']:.3g}, p = {found['p_value']:.3g} (alpha {found['alpha']:g}): "
            f"{verdict}"
        )
        if not found["typical"]:
            print(
                f"warning: the observation is atypical of the simulations this posterior was trained on (p = "
                f"{found['p_value']:.3g} < {found['alpha']:g}): the draws are not to be trusted; check the model, "
                "the stimulus and the prior's bounds",
                file=sys.stderr,
            )
    if args.csv:
        shown = frame.rename(columns=lambda c: f"{c} ({units[c]})" if units.get(c) else c)
        write_text(args.csv, shown.to_csv(index=False), "--csv")
        print(f"wrote {args.csv}")
    return 0


def cmd_infer_diagnose(args: argparse.Namespace) -> int:
    from pathlib import Path

    from sourced_neuron.common.files import check_folder
    from sourced_neuron.inference import load

    out = Path(args.out) if args.out else Path(args.folder) / "diagnostics"
    posterior = load(args.folder)
    check_folder(out, "--out")
    report = posterior.diagnose(
        n=args.n, samples=args.samples, out=out, client=_client(args.cluster), predictive=args.predictive
    )
    rows = report["per_parameter"]
    print(
        f"diagnostics of {report.get('model')} over {', '.join(rows)} on {report.get('held_out')} held-out "
        f"simulations ({report.get('held_out_failed', 0)} failed), {report.get('samples_per_set')} draws each"
    )
    table = [("parameter", "coverage 90%", "recovery r", "contraction", "SBC in band", "identified")]
    for name, entry in rows.items():
        unit = entry.get("unit")
        table.append(
            (
                f"{name} ({unit})" if unit else name,
                f"{entry['coverage']['90%']:.2f}",
                f"{entry['recovery_r']:.3f}",
                f"{entry['contraction']:.3f}",
                "yes" if entry["sbc_within_band"] else "no",
                "yes" if entry.get("identifiable", True) else "weakly",
            )
        )
    _print_table(table, left=1)
    for name, entry in rows.items():
        if entry.get("why_not"):
            print(f"  {name} is weakly identified: {entry['why_not']}")
    typical = report.get("typicality") or {}
    if typical.get("flagged_fraction") is not None:
        print(
            f"typicality: {100 * typical['flagged_fraction']:.1f} % of the held-out observations flagged atypical "
            f"(expected about {100 * typical['alpha']:g} %)"
        )
    if "predictive" in report:
        predictive = report["predictive"]
        print(
            f"predictive check: {100 * predictive['fraction_inside_95']:.0f} % of summary statistics inside their "
            f"95 % interval ({predictive['observations']} observations, {predictive['draws_each']} draws each)"
        )
    goals = report.get("goals") or {}
    if goals:
        print("goals: " + ", ".join(f"{key} {'yes' if met else 'no'}" for key, met in goals.items()))
    figures = report.get("figures") or []
    print(f"wrote {out / 'report.json'} and {len(figures)} figure(s) in {out}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``sourced-neuron``."""
    parser = _Parser(prog="sourced-neuron", description="Neuron models written once, run on several simulators.")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bars (shown on a terminal otherwise)")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    sub.add_parser("models", help="list the library models").set_defaults(func=cmd_models)

    show = sub.add_parser("show", help="print a model (library name or file) as checked YAML")
    show.add_argument("model")
    show.set_defaults(func=cmd_show)

    check = sub.add_parser("check", help="check model files; exit 1 listing every problem")
    check.add_argument("files", nargs="+")
    check.set_defaults(func=cmd_check)

    sim = sub.add_parser("simulate", help="simulate a model and summarise its spikes")
    sim.add_argument("model")
    sim.add_argument("--backend", default="brian2")
    sim.add_argument("--preset")
    sim.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="override a parameter")
    sim.add_argument("--current", help="constant injected current, e.g. '10 pA'")
    sim.add_argument("--duration", default="1 s")
    sim.add_argument("--dt", help="time step, e.g. '0.05 ms' (default: the model's)")
    sim.add_argument("--n-neurons", type=int, default=1)
    sim.add_argument("--record", default="v", help="comma-separated variables to record (default: v)")
    sim.add_argument("--seed", type=int)
    sim.add_argument(
        "--no-check-finite",
        dest="check_finite",
        action="store_false",
        help="return infinite or NaN states as they are instead of stopping with an error (docs/semantics.md)",
    )
    sim.add_argument("--out", help="write the Neo block to FILE (.nix, .nwb or .pkl)")
    sim.add_argument("--plot", help="write traces and raster to FILE.png")
    sim.set_defaults(func=cmd_simulate)

    analyze = sub.add_parser("analyze", help="measure a stored run (Neo file): report, JSON and figures")
    analyze.add_argument(
        "file", help="a .nix or .nwb file (or .pkl with --allow-pickle) written by simulate --out or Network.run"
    )
    analyze.add_argument("--population", help="only this population")
    analyze.add_argument("--json", help="where to write the JSON report (default FILE_analysis.json; - prints it)")
    analyze.add_argument("--figures", help="folder of the figures (default FILE_figures/)")
    analyze.add_argument("--no-figures", action="store_true", help="write no figures")
    analyze.add_argument("--allow-pickle", action="store_true", help=PICKLE_HELP)
    analyze.set_defaults(func=cmd_analyze)

    exp = sub.add_parser("export", help="print generated source of a model for a target")
    exp.add_argument("model")
    exp.add_argument("--to", required=True, help="target, e.g. brian2")
    exp.add_argument(
        "--output", "-o", help="write to FILE instead of standard output (--to neuroml: a folder of LEMS files)"
    )
    exp.add_argument("--current", help="--to neuroml: the constant current of the simulation, e.g. '200 pA'")
    exp.add_argument("--duration", default="1 s", help="--to neuroml: the simulated time (default 1 s)")
    exp.set_defaults(func=cmd_export)

    imp = sub.add_parser("import", help="turn a cell of a NeuroML file into a model file")
    imp.add_argument("file", help="a NeuroML (.nml) or LEMS (.xml) file")
    imp.add_argument("--component", help="the id of the cell (needed where the file has several)")
    imp.add_argument("--dt", default="0.1 ms", help="the model's time step (forward Euler; default 0.1 ms)")
    imp.add_argument("--output", "-o", help="write the model file to FILE instead of standard output")
    imp.set_defaults(func=cmd_import)

    cmp = sub.add_parser("compare", help="run a model on several backends and print their agreement")
    cmp.add_argument("model")
    cmp.add_argument("--backends", required=True, help="comma-separated, the first is the reference")
    cmp.add_argument("--preset")
    cmp.add_argument("--current")
    cmp.add_argument("--duration", default="500 ms")
    cmp.add_argument("--no-record", dest="record", action="store_false", help="compare spikes only")
    cmp.add_argument(
        "--fi-currents",
        help='comma-separated currents for the f-I sweep, e.g. "0 pA,100 pA,200 pA" '
        "(default: 9 currents from 0 to twice --current)",
    )
    cmp.add_argument("--no-fi", dest="fi", action="store_false", help="skip the f-I sweep")
    cmp.set_defaults(func=cmd_compare)

    card = sub.add_parser("card", help="write a model card: Markdown and figures, measured now")
    card.add_argument("model", help="library model name or model file")
    card.add_argument("--out", default="docs/models", help="folder of the card and its figures (default: docs/models)")
    card.add_argument("--backends", help="comma-separated, the first usable is the reference (default: brian2,nest)")
    card.add_argument("--duration", default="1 s", help="length of every measured run (default: 1 s)")
    card.set_defaults(func=cmd_card)

    cache = sub.add_parser(
        "cache",
        help="list or clear the cache (NEST modules, Brian2 standalone projects, stored steps)",
        description="'list' shows every entry of the cache folder with its size and state (damaged entries, "
        "builds in progress, leftovers of killed processes); 'clear' removes everything no process is using "
        "(an entry another process builds or uses is skipped and named). The folder is $SOURCED_NEURON_CACHE, "
        "else ~/.cache/sourced_neuron.",
    )
    cache.add_argument("action", choices=("list", "clear"), nargs="?", default="list")
    cache.set_defaults(func=cmd_cache)

    sweep = sub.add_parser(
        "sweep",
        help="simulate a grid or sample of parameter sets in batches (Dask) and measure each",
        description="Vary parameters, initial values or the current (I_ext) of a model; each batch of sets runs "
        "as one population on the backend, batches as Dask tasks. With --out the table is written as Parquet, "
        "batch by batch, and the same command again resumes an interrupted sweep.",
    )
    _sweep_options(sweep)
    sweep.add_argument(
        "--vary",
        action="append",
        default=[],
        metavar="NAME=VALUES",
        help="'NAME=LOW:HIGH:COUNT UNIT' (COUNT values), 'NAME=A,B,C UNIT', 'NAME=VALUE UNIT', or with --samples "
        "'NAME=LOW:HIGH UNIT'; repeat for a grid",
    )
    sweep.add_argument("--samples", type=int, help="draw this many sets uniformly from --vary NAME=LOW:HIGH ranges")
    sweep.add_argument("--out", help="the Parquet folder of the table (e.g. sweep.parquet); resumes if it exists")
    sweep.add_argument("--plot", help="draw the first measure over one or two varied names (curve or heatmap)")
    sweep.add_argument("--plot-measure", help="the measure --plot draws (default: the first)")
    sweep.set_defaults(func=cmd_sweep)

    sens = sub.add_parser("sensitivity", help="Sobol indices (or Morris screening) of a measure, with SALib")
    _sweep_options(sens)
    sens.add_argument("--bound", action="append", default=[], metavar="NAME=LOW:HIGH", help="'NAME=LOW:HIGH UNIT'")
    sens.add_argument("--method", choices=("sobol", "morris"), default="sobol")
    sens.add_argument("--n", type=int, default=512, help="base sample size (Sobol) or trajectories (Morris)")
    sens.add_argument("--out", help="Parquet folder of the simulated samples (resumes if it exists)")
    sens.add_argument("--plot", help="bar plot of the indices with their confidence intervals")
    sens.set_defaults(func=cmd_sensitivity)

    fitting = sub.add_parser("fit", help="fit parameters to a recorded trace or spike train (nevergrad)")
    fitting.add_argument("model", help="library model name or model file")
    fitting.add_argument("--target", required=True, help="a Neo file (.nix, .nwb) with the trace or spikes to fit")
    fitting.add_argument("--variable", help="the recorded variable of the target to fit (default: the first)")
    fitting.add_argument("--bound", action="append", default=[], metavar="NAME=LOW:HIGH", help="'NAME=LOW:HIGH UNIT'")
    fitting.add_argument("--metric", choices=("trace", "gamma", "features"), default="trace")
    fitting.add_argument("--optimizer", default="DE", help="DE or CMA (default: DE)")
    fitting.add_argument("--budget", type=int, default=1000, help="parameter sets to simulate in all")
    fitting.add_argument("--current", help="the injected current of the target's run")
    fitting.add_argument("--duration", help="simulated time (default: the target's)")
    fitting.add_argument("--backend", default="brian2")
    fitting.add_argument("--preset")
    fitting.add_argument("--cluster", help="'local' (default), 'synchronous' or a Dask scheduler address")
    fitting.add_argument("--seed", type=int, default=0)
    fitting.add_argument("--allow-pickle", action="store_true", help=PICKLE_HELP)
    fitting.add_argument("--plot", help="target against fit, as PNG")
    fitting.set_defaults(func=cmd_fit)

    infer = sub.add_parser(
        "infer",
        help="Bayesian inference of parameters from a trace (BayesFlow): train, sample, diagnose",
        description="Train an amortised posterior over some of a model's parameters on simulations of one "
        "experiment (train), draw parameters for an observation of that experiment (sample), and check the "
        "posterior's calibration and accuracy on held-out simulations (diagnose). Needs the inference extra: "
        "pip install 'sourced-neuron[inference]'.",
    )
    actions = infer.add_subparsers(dest="action", required=True, parser_class=_Parser)

    training = actions.add_parser(
        "train",
        help="simulate the prior's parameter sets and train a posterior; saved to --out",
        description="Simulate --simulations parameter sets drawn from the prior through the experiment (--current, "
        "--duration, the observation noise) and train the networks on them. The posterior is saved to --out, the "
        "simulations kept in --out/simulations: training again with more epochs or another summary reuses them.",
    )
    training.add_argument("model", help="library model name or model file")
    training.add_argument(
        "--prior",
        action="append",
        default=[],
        required=True,
        metavar="NAME=LOW:HIGH",
        help="'NAME=LOW:HIGH UNIT', uniform unless named by --loguniform; repeat for each inferred parameter",
    )
    training.add_argument("--loguniform", action="append", default=[], metavar="NAME", help="a log-uniform prior")
    training.add_argument("--simulations", type=int, default=10_000, help="parameter sets to simulate (default: 10000)")
    training.add_argument("--out", required=True, help="the folder of the posterior (and of its simulations)")
    training.add_argument("--current", help="injected current, e.g. '250 pA' (constant unless --start/--stop)")
    training.add_argument("--start", help="a step of --current starts here, e.g. '100 ms' (default: 0 ms)")
    training.add_argument("--stop", help="a step of --current ends here, e.g. '600 ms' (default: the end)")
    training.add_argument("--duration", default="1 s", help="simulated and observed time (default: 1 s)")
    training.add_argument("--backend", default="brian2-cpp", help="where to simulate (default: brian2-cpp)")
    training.add_argument("--preset")
    training.add_argument("--dt", help="time step (default: the model's)")
    training.add_argument(
        "--noise", default="1 mV", help="standard deviation of the noise on the trace (default: 1 mV)"
    )
    training.add_argument(
        "--trace-samples", type=int, default=100, help="at most this many samples per observed trace (default: 100)"
    )
    training.add_argument(
        "--summary",
        choices=("statistics", "lstm", "both"),
        default="statistics",
        help="summary statistics, an LSTM over the trace, or both (default: statistics)",
    )
    training.add_argument("--epochs", type=int, default=100, help="training epochs (default: 100)")
    training.add_argument(
        "--cluster",
        help="where simulations run: 'local' (default: a local Dask cluster), 'synchronous' (this process) or a "
        "Dask scheduler address",
    )
    training.add_argument("--seed", type=int, default=0, help="draws, noise, networks and batches (default: 0)")
    training.set_defaults(func=cmd_infer_train)

    sampling = actions.add_parser(
        "sample",
        help="draw parameters for an observation from a trained posterior; summary, typicality, CSV",
        description="Print the posterior mean, standard deviation and 5 % and 95 % quantiles of every parameter "
        "given OBSERVATION, and how typical the observation is of the training simulations (an atypical one is "
        "outside what the posterior learnt: its draws are not to be trusted).",
    )
    sampling.add_argument("folder", metavar="DIR", help="a posterior folder written by 'infer train --out'")
    sampling.add_argument(
        "observation",
        metavar="OBSERVATION",
        help="a .nix or .nwb file (e.g. from 'simulate --out') of the training experiment: same duration and "
        "sampling (or a whole fraction of its period)",
    )
    sampling.add_argument("--n", type=int, default=1000, help="posterior draws (default: 1000)")
    sampling.add_argument("--seed", type=int, default=0, help="seed of the draws (default: 0)")
    sampling.add_argument("--csv", help="write every draw to this CSV file (columns 'NAME (UNIT)')")
    sampling.add_argument("--allow-pickle", action="store_true", help=PICKLE_HELP)
    sampling.set_defaults(func=cmd_infer_sample)

    diagnosing = actions.add_parser(
        "diagnose",
        help="calibration (SBC), coverage, recovery and contraction on held-out simulations",
        description="Simulate --n held-out parameter sets from the prior, draw from the posterior for each and "
        "report per parameter the coverage of the 90 % credible interval, the recovery r, the contraction and "
        "whether the SBC rank ECDF stays inside its 95 % band; report.json and figures go to --out.",
    )
    diagnosing.add_argument("folder", metavar="DIR", help="a posterior folder written by 'infer train --out'")
    diagnosing.add_argument("--n", type=int, default=200, help="held-out simulations (default: 200)")
    diagnosing.add_argument(
        "--samples", type=int, default=1000, help="posterior draws per held-out set (default: 1000)"
    )
    diagnosing.add_argument(
        "--predictive",
        type=int,
        default=20,
        help="held-out observations given a posterior predictive check (default: 20; 0 skips it)",
    )
    diagnosing.add_argument("--out", help="folder of report.json and the figures (default: DIR/diagnostics)")
    diagnosing.add_argument(
        "--cluster",
        help="where simulations run: 'local' (default), 'synchronous' (this process) or a Dask scheduler address",
    )
    diagnosing.set_defaults(func=cmd_infer_diagnose)

    backends = sub.add_parser("backends", help="list backends and whether they are usable here")
    backends.add_argument("--json", action="store_true")
    backends.set_defaults(func=cmd_backends)

    plot = sub.add_parser(
        "plot",
        help="draw a saved run as PNG; --kind fi runs a model's f-I sweep",
        description="Draw a run saved by 'simulate --out' or sourced_neuron.results.io.write_block, or (--kind fi) "
        "simulate a model (library name or YAML file) at several currents and draw its f-I curve.",
    )
    plot.add_argument("file", help="a saved run (.nix, .pkl, ...); for --kind fi a model (library name or YAML file)")
    plot.add_argument(
        "--kind",
        required=True,
        choices=("raster", "voltage", "isi", "rate", "spectrum", "weights", "weight-evolution", "fi"),
    )
    plot.add_argument("--out", help="the PNG file (default: FILE with its suffix replaced by _KIND.png)")
    plot.add_argument("--allow-pickle", action="store_true", help=PICKLE_HELP)
    plot.add_argument("--population", help="only this population (raster, isi, rate, spectrum)")
    plot.add_argument("--threshold", help="voltage: a dashed line at this level, e.g. '-50 mV'")
    plot.add_argument("--variable", help="voltage: the recorded signal to draw (default: the first)")
    plot.add_argument("--projection", help="weights, weight-evolution: the projection (default: every one)")
    plot.add_argument("--currents", help='fi: comma-separated currents, e.g. "0 pA,100 pA,200 pA"')
    plot.add_argument("--backend", default="brian2", help="fi: the backend (default: brian2)")
    plot.add_argument("--duration", default="1 s", help="fi: simulated time per current (default: 1 s)")
    plot.set_defaults(func=cmd_plot)
    return parser


def _debug() -> bool:
    return bool(os.environ.get(DEBUG_VARIABLE))


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status.

    Users' mistakes print one paragraph; with ``SOURCED_NEURON_DEBUG=1`` every error also prints
    its traceback (with the exceptions it was raised from). An internal error (a bug of the
    library) says so and exits 3. A closed output pipe (``sourced-neuron ... | head``) ends the
    command quietly, with the status of a process ended by SIGPIPE (141), as other Unix tools do.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        with progress.quiet() if args.quiet else contextlib.nullcontext():
            return args.func(args)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 2
    except BrokenPipeError:
        # the reader went away: send what is still buffered nowhere, so the exit flush cannot fail
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return 141
    except ModelError as exc:
        if _debug():
            traceback.print_exc()
        print("error: the model is invalid:", file=sys.stderr)
        for diagnostic in exc.diagnostics:
            print(f"  {diagnostic}", file=sys.stderr)
        return 1
    except SourcedNeuronError as exc:
        if _debug():
            traceback.print_exc()
        return _fail(textwrap.fill(str(exc), 100, break_long_words=False, break_on_hyphens=False))
    except KeyboardInterrupt:
        return _fail("interrupted", 130)
    except Exception as exc:
        if _debug():
            traceback.print_exc()
            return _fail(f"internal error ({type(exc).__name__}: {exc}): a bug of sourced_neuron", 3)
        return _fail(
            f"internal error ({type(exc).__name__}: {exc}): a bug of sourced_neuron; "
            f"set {DEBUG_VARIABLE}=1 to see where it happened",
            3,
        )


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
