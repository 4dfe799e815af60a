"""``sn.sweep``: simulate many parameter sets of one model in batches, on Dask, into a table.

The sets (:class:`~sourced_neuron.experiments.space.ParameterSpace`) are cut into batches of
``batch_size``; each batch is one Dask task that simulates its sets as one population
(:class:`~sourced_neuron.experiments.batch.Batch`) and computes the measures
(:mod:`~sourced_neuron.experiments.measures`). With ``out=`` (a Parquet folder) each finished
batch is written as ``part-NNNNNN.parquet`` as soon as it arrives, beside ``_sweep.json``, which
describes the sweep; the same call again (after Ctrl-C, a killed worker or a crashed machine)
reads what was written and simulates only the batches that are missing. A batch that fails is
retried (``retries``) and then reported: its sets get NaN and the error in ``reason``, nothing of
it is written, and a :class:`SweepWarning` names it (the next call with ``out=`` tries it again).
"""

from __future__ import annotations

import json
import math
import os
import sys
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from sourced_neuron.common.errors import InputError, SimulationError, StorageError
from sourced_neuron.common.progress import enabled
from sourced_neuron.common.resources import require_memory
from sourced_neuron.experiments.batch import Batch, BatchRun
from sourced_neuron.experiments.cluster import resolve_client, run_tasks, worker_threads
from sourced_neuron.experiments.measures import MeasureSpec, built_in, display_scale, read_measures
from sourced_neuron.experiments.space import ParameterSpace
from sourced_neuron.spec.library import load_model

__all__ = ["SweepWarning", "sweep"]

#: The largest default batch (sets simulated in one run).
MAX_BATCH = 20_000

#: Bytes per recorded sample: the simulator's monitor, the result and its copy (float64 each).
BYTES_PER_SAMPLE = 24.0

MANIFEST = "_sweep.json"


class SweepWarning(UserWarning):
    """A batch failed after its retries; its sets have NaN and the error in ``reason``."""


def sweep(
    model: Any,
    params: Any,
    *,
    stimulus: Any = None,
    duration: Any,
    backend: str = "brian2",
    measures: Any = ("rate",),
    preset: str | None = None,
    batch_size: int | None = None,
    client: Any = None,
    out: str | os.PathLike | None = None,
    progress: bool | None = None,
    n: int | None = None,
    seed: int | None = None,
    record: Iterable[str] | str | None = None,
    dt: Any = None,
    retries: int = 2,
    check_finite: bool = True,
):
    """Simulate every parameter set of ``params`` and measure each run; one row per set.

    Parameters
    ----------
    model : NeuronModel, str or path
        A model, a library model's name or a model file.
    params : mapping or pandas.DataFrame
        The sets (:meth:`ParameterSpace.from_user`): a grid ``{"g_L": ["0.05 mS/cm**2",
        "0.1 mS/cm**2"], "k": ["5 mV", "10 mV"]}`` (every combination), single values (fixed
        in every set), samplers ``{"g_L": {"uniform": [low, high]}}`` with ``n``, or a table.
        Names are parameters, initial values of state variables, or ``I_ext``: the amplitude
        of the injected current (constant, or a step's amplitude), so an f-I curve is a sweep.
    stimulus : optional
        The injected current, as for :func:`sourced_neuron.simulate` (one amplitude).
    duration : str or quantity
        Simulated time of each set.
    backend : str
        ``"brian2"``, ``"brian2-cpp"`` (one compiled program for every batch, values passed as
        run arguments), ``"brian2-cuda"`` or ``"nest"``.
    measures : sequence
        Built-in measures by name, ``"mean:<var>"``/``"peak:<var>"``, or functions of a set's
        Neo segment (:mod:`sourced_neuron.experiments.measures`).
    preset : str, optional
        A preset of the model, applied before the varied values.
    batch_size : int, optional
        Sets per batch (one simulator run, one Dask task). By default the sets are shared
        evenly among the workers, at most 20,000 per batch and as many as fit the memory their
        recordings take.
    client : dask.distributed.Client, None or "synchronous"
        Where batches run: ``None`` starts (once per process) a local Dask cluster with one
        worker process per core; any client (``dask_jobqueue.SLURMCluster``'s, ...) runs them
        on its cluster; ``"synchronous"`` runs them here, one after the other.
    out : path, optional
        A Parquet folder (``"sweep.parquet"``): finished batches are written as they complete,
        and a call with the same arguments resumes from them.
    progress : bool, optional
        A bar counting finished sets (default: on a terminal).
    n : int, optional
        The number of sets samplers draw.
    seed : int, optional
        Seed of the samplers and of the simulations (noise).
    record : sequence of str, optional
        Variables to record for user measures (built-in ones record what they need); by default
        the membrane potential when a measure is a function, else nothing.
    dt : str or quantity, optional
        Overrides the model's time step.
    retries : int
        Further tries of a batch whose task failed (a worker that died, a simulator error).
    check_finite : bool
        Watch every state variable: a set whose state becomes infinite or NaN gets NaN measures
        and the reason (docs/semantics.md, "Non-finite states"). ``False`` saves the watch's
        cost (2-3 % of a compiled run) and measures whatever the states become.

    Returns
    -------
    pandas.DataFrame
        Columns ``set`` (the set's index), the varied names in the model's units, the measures
        and ``reason`` (why a measure is NaN; empty when none is). ``attrs["units"]`` maps
        columns to units; ``attrs`` also names the model, backend, duration and stimulus.

    Raises
    ------
    InputError, UnitError
        Unknown names or measures, values in wrong units or outside the model's bounds, empty
        grids, a closed client, or an ``out`` folder that holds another sweep.
    BackendUnavailableError, UnsupportedFeatureError
        The backend is not usable here or cannot run the model.
    """
    checked = load_model(model).with_preset(preset)
    if record is None:  # user functions see what simulate records by default: the membrane potential
        record = () if checked.membrane_potential is None else (checked.membrane_potential,)
        specs, needed = read_measures(measures, checked)
        if any(spec.function is not None for spec in specs):
            specs, needed = read_measures(measures, checked, record)
    else:
        specs, needed = read_measures(measures, checked, _names(record))
    batch = Batch.make(
        model,
        duration=duration,
        stimulus=stimulus,
        backend=backend,
        preset=preset,
        record=needed,
        dt=dt,
        seed=seed,
        check_finite=check_finite,
    )
    space = ParameterSpace.from_user(batch.model, params, n, seed)
    batch.check_space(space)
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise InputError(f"retries must be a whole number >= 0, got {retries!r}")
    client = resolve_client(client)
    workers = 1 if client is None else max(len(client.scheduler_info().get("workers", {})), 1)
    size = _batch_size(batch_size, len(space), workers, batch)
    enabled(progress)  # checks the option
    folder = _out_folder(out, _fingerprint(batch, space, specs, size))
    parts = [(k, start, min(start + size, len(space))) for k, start in enumerate(range(0, len(space), size))]
    done = {k: _read_part(folder, k) for k, *_ in parts if folder is not None and _part(folder, k).exists()}
    done = {k: frame for k, frame in done.items() if frame is not None}
    todo = [p for p in parts if p[0] not in done]
    # every batch has the batch's size: one compiled program on brian2-cpp, one derivation of the
    # integrator (SymPy, seconds for "exact") per process on brian2, whatever the last batch holds
    pad = size
    results, failures = dict(done), {}
    with SetBar(len(space), sum(len(f) for f in done.values()), f"{batch.model.name} sweep", progress) as bar:
        jobs = [(k, (batch, space.names, space.values[start:stop], specs, start, pad)) for k, start, stop in todo]
        for k, outcome in run_tasks(client, run_part, jobs, retries):
            start, stop = parts[k][1], parts[k][2]
            if isinstance(outcome, BaseException):
                failures[k] = outcome
                results[k] = _failed_part(specs, space, start, stop, outcome, retries)
            else:
                results[k] = _part_frame(outcome, space, start, stop)
                if folder is not None:
                    _write_part(folder, k, results[k])
            bar.update(stop - start)
    if failures and len(failures) == len(todo) and not done:
        first = failures[min(failures)]
        raise first
    for k, error in failures.items():
        warnings.warn(
            f"batch {k} (sets {parts[k][1]} to {parts[k][2] - 1}) failed after {retries + 1} tries: "
            f"{type(error).__name__}: {error}",
            SweepWarning,
            stacklevel=2,
        )
    return _table(batch, space, specs, [results[k] for k, *_ in parts], failures)


def _names(record) -> tuple[str, ...]:
    return (record,) if isinstance(record, str) else tuple(record)


def _batch_size(batch_size: int | None, n_sets: int, workers: int, batch: Batch) -> int:
    samples = (batch.request.n_steps + 1) * max(len(batch.request.record), 0)
    if batch_size is not None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, int | np.integer) or batch_size < 1:
            raise InputError(f"batch_size must be a whole number >= 1, got {batch_size!r}")
        size = int(batch_size)
    else:
        size = min(math.ceil(n_sets / workers), MAX_BATCH)
        if samples:
            from sourced_neuron.common.resources import available_memory

            per_set = BYTES_PER_SAMPLE * samples
            memory = available_memory() or 4e9
            size = max(1, min(size, int(0.25 * memory / max(workers, 1) / per_set)))
    size = min(size, n_sets)
    require_memory(
        BYTES_PER_SAMPLE * samples * size,
        f"recording {', '.join(batch.request.record)} of {size} set(s) in a batch",
        "record fewer variables, give a smaller batch_size or simulate a shorter time",
    )
    return size


def _fingerprint(batch: Batch, space: ParameterSpace, specs: list[MeasureSpec], size: int) -> dict:
    request = batch.request
    return {
        "model": request.model.name,
        "model_hash": request.model.content_hash,
        "preset": batch.preset,
        "backend": batch.backend,
        "duration_s": request.duration,
        "dt_s": request.dt,
        "stimulus": request.stimulus.describe(),
        "seed": request.seed,
        "record": list(request.record),
        "measures": [s.column for s in specs],
        "names": list(space.names),
        "sets": len(space),
        "sets_digest": space.digest(),
        "batch_size": size,
    }


def _out_folder(out, fingerprint: dict) -> Path | None:
    if out is None:
        return None
    folder = Path(out)
    manifest = folder / MANIFEST
    if folder.exists() and not folder.is_dir():
        raise InputError(f"out={str(out)!r} is a file; a sweep writes a Parquet folder (e.g. 'sweep.parquet')")
    try:
        if manifest.exists():
            held = json.loads(manifest.read_text())
            if held != fingerprint:
                changed = sorted(k for k in fingerprint if held.get(k) != fingerprint[k])
                raise InputError(
                    f"out={str(out)!r} holds another sweep (it differs in: {', '.join(changed)}); give another out, "
                    "or delete the folder to start again"
                )
        elif folder.exists() and any(folder.glob("part-*.parquet")):
            raise InputError(f"out={str(out)!r} holds Parquet parts but no {MANIFEST}: it is not a sweep of this call")
        else:
            folder.mkdir(parents=True, exist_ok=True)
            _atomic_write(manifest, json.dumps(fingerprint, indent=1).encode())
    except OSError as exc:
        raise StorageError(f"cannot write the sweep's folder {str(out)!r}: {exc}") from exc
    return folder


def _part(folder: Path, k: int) -> Path:
    return folder / f"part-{k:06d}.parquet"


def _atomic_write(path: Path, data: bytes) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)


def _write_part(folder: Path, k: int, frame) -> None:
    import io

    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    try:
        _atomic_write(_part(folder, k), buffer.getvalue())
    except OSError as exc:
        raise StorageError(f"cannot write batch {k} of the sweep to {str(folder)!r}: {exc}") from exc


def _read_part(folder: Path, k: int):
    import pandas as pd

    try:
        return pd.read_parquet(_part(folder, k))
    except (OSError, ValueError) as exc:  # a damaged part is simulated again
        _part(folder, k).unlink(missing_ok=True)
        warnings.warn(
            f"part {k} of the sweep in {str(folder)!r} could not be read ({exc}); it is simulated again",
            SweepWarning,
            stacklevel=3,
        )
        return None


def run_part(batch: Batch, names: tuple[str, ...], rows: np.ndarray, specs: list[MeasureSpec], first: int, pad):
    """Simulate one batch and measure each set: the columns of its part of the table.

    This is the Dask task; it runs in a worker process (or here, synchronously).
    """
    threads = worker_threads()
    if threads is not None:  # one OpenMP thread per Dask thread: workers share the cores
        os.environ.setdefault("SOURCED_NEURON_THREADS", str(threads))
    run = run_isolating(batch, names, rows, pad)
    n_sets = rows.shape[0]
    request = batch.request
    stimulus = request.stimulus
    context = {
        "duration": request.n_steps * request.dt,
        "onset": float(stimulus.start) if stimulus.kind == "step" else 0.0,
        "scales": {name: display_scale(request.model, name) for name in request.record},
    }
    columns: dict[str, Any] = {"set": np.arange(first, first + n_sets)}
    for spec in specs:
        columns[spec.column] = np.full(n_sets, np.nan)
    reasons: list[list[str]] = [[] for _ in range(n_sets)]
    units: dict[str, str] = {}
    for k in range(n_sets):
        if k in run.failed:
            reasons[k].append(run.failed[k])
            continue
        segment = None
        for spec in specs:
            try:
                if spec.function is None:
                    value = built_in(spec, run.spikes[k], run.signals, k, context)
                else:
                    if segment is None:
                        segment = batch.set_block(names, rows[k], run, k).segments[0]
                    value = spec.function(segment)
                    if hasattr(value, "dimensionality"):
                        units.setdefault(spec.column, value.dimensionality.string)
                        value = value.magnitude
                columns[spec.column][k] = float(np.asarray(value, dtype=float))
            except Exception as exc:
                reasons[k].append(
                    f"{spec.column}: {exc}"
                    if isinstance(exc, ValueError) and spec.function is None
                    else f"{spec.column}: {type(exc).__name__}: {exc}"
                )
    columns["reason"] = ["; ".join(r) for r in reasons]
    if units:
        columns["_units"] = [json.dumps(units)] * n_sets
    return columns


def run_isolating(batch: Batch, names: tuple[str, ...], rows: np.ndarray, pad, probe: bool = True) -> BatchRun:
    """:meth:`Batch.run`, and where the simulator fails, the batch's halves, down to the sets that
    fail alone (a division by zero for one set's values stops a whole compiled run): those sets
    get the simulator's error as their reason, the others their results. When the first and the
    last set fail alone as well (``probe``), the failure is not the sets' own (a broken toolchain):
    it is raised, and the batch fails."""
    try:
        return batch.run(names, rows, pad)
    except SimulationError as exc:
        if len(rows) == 1:
            return BatchRun([np.zeros(0)], _nan_signals(batch, 1), {0: f"the simulator failed: {exc}"})
        if probe and len(rows) > 2 and _fails(batch, names, rows[:1], pad) and _fails(batch, names, rows[-1:], pad):
            raise
    half = len(rows) // 2
    first, second = (run_isolating(batch, names, part, pad, probe=False) for part in (rows[:half], rows[half:]))
    return BatchRun(
        first.spikes + second.spikes,
        {name: np.hstack([first.signals[name], second.signals[name]]) for name in first.signals},
        {**first.failed, **{half + k: reason for k, reason in second.failed.items()}},
    )


def _fails(batch: Batch, names: tuple[str, ...], rows: np.ndarray, pad) -> bool:
    try:
        batch.run(names, rows, pad)
    except SimulationError:
        return True
    return False


def _nan_signals(batch: Batch, n_sets: int) -> dict[str, np.ndarray]:
    return {name: np.full((batch.n_samples, n_sets), np.nan) for name in batch.request.record}


def _failed_part(specs, space: ParameterSpace, start: int, stop: int, error: BaseException, retries: int):
    n_sets = stop - start
    columns: dict[str, Any] = {"set": np.arange(start, stop)}
    for spec in specs:
        columns[spec.column] = np.full(n_sets, np.nan)
    columns["reason"] = [f"the batch failed after {retries + 1} tries: {type(error).__name__}: {error}"] * n_sets
    return _part_frame(columns, space, start, stop)


def _part_frame(columns: dict, space: ParameterSpace, start: int, stop: int):
    """A batch's part of the table: ``set``, the varied names in their units, the measures and
    ``reason`` (and ``_units`` of user measures); what a Parquet part holds."""
    import pandas as pd

    shown = space.shown(start, stop)
    frame = pd.DataFrame({"set": columns["set"], **shown, **{k: v for k, v in columns.items() if k != "set"}})
    frame.attrs["units"] = dict(space.units)
    return frame


def _table(batch: Batch, space: ParameterSpace, specs, parts: list, failures: dict):
    import pandas as pd

    frame = pd.concat(parts, ignore_index=True).sort_values("set", kind="stable").reset_index(drop=True)
    units = {"set": ""}
    shown = space.shown()  # from the sets themselves (a part read back holds the same values)
    parameters = pd.DataFrame({name: shown[name][frame["set"].to_numpy()] for name in space.names})
    units.update(space.units)
    measured = {}
    user_units = {}
    if "_units" in frame:
        for text in frame["_units"].dropna().unique():
            user_units.update(json.loads(text))
    for spec in specs:
        measured[spec.column] = frame[spec.column].to_numpy(dtype=float)
        units[spec.column] = user_units.get(spec.column, spec.unit)
    result = pd.concat([frame[["set"]], parameters, pd.DataFrame(measured), frame[["reason"]].fillna("")], axis=1)
    request = batch.request
    result.attrs.update(
        units=units,
        model=request.model.name,
        model_hash=request.model.content_hash,
        preset=batch.preset or "",
        backend=batch.backend,
        duration_ms=request.n_steps * request.dt * 1e3,
        dt_ms=request.dt * 1e3,
        stimulus=request.stimulus.describe(),
        failed_batches=sorted(failures),
        parameters=list(space.names),
        measures=[spec.column for spec in specs],
    )
    return result


class SetBar:
    """A bar counting finished parameter sets (tqdm, on standard error; a terminal by default)."""

    def __init__(self, total: int, done: int, description: str, option: bool | None):
        self._bar = None
        if enabled(option):
            from tqdm import tqdm

            self._bar = tqdm(total=total, initial=done, desc=description, unit="set", file=sys.stderr, leave=False)

    def update(self, count: int) -> None:
        if self._bar is not None:
            self._bar.update(count)

    def __enter__(self) -> SetBar:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._bar is not None:
            self._bar.close()
