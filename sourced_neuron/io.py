"""Writing and reading Neo blocks and spike tables.

Formats, chosen by the file suffix: NIX (``.nix``, through nixio), NWB (``.nwb``, through Neo's
NWBIO and pynwb) and Neo's pickle format (``.pkl``); spike tables as CSV (``.csv``, one row
per spike: population, neuron, time in ms).

Writing is atomic: the data go to a temporary file in the same folder, which is renamed to the
final name only when complete, so an interrupted write never leaves a corrupt file under that
name.

NWB keeps the data but not Neo's names and annotations; the writer therefore stores them (as
JSON, in the file's ``notes``) and the reader puts them back, so a block read from NWB has the
units, names, annotations and array annotations it was written with.
"""

from __future__ import annotations

import csv
import datetime
import json
import os
import tempfile
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import neo
import numpy as np
import quantities as pq

from .errors import InputError
from .model import SECOND
from .units import as_quantity

__all__ = [
    "FORMATS",
    "annotation_values",
    "read_block",
    "read_blocks",
    "read_spike_csv",
    "read_spike_trains",
    "write_block",
    "write_blocks",
    "write_spike_csv",
]

#: File suffix -> Neo IO class.
FORMATS = {".nix": neo.io.NixIO, ".nwb": neo.io.NWBIO, ".pkl": neo.io.PickleIO}
CSV_HEADER = ("population", "neuron", "time_ms")
_NOTES_KEY = "sourced_neuron"


def _io_class(path: Path):
    try:
        return FORMATS[path.suffix.lower()]
    except KeyError:
        raise InputError(f"cannot tell the format of {str(path)!r}: use one of {', '.join(FORMATS)}") from None


@contextmanager
def _atomic(path: Path) -> Iterator[str]:
    """A temporary file name next to ``path``, renamed to ``path`` when the block succeeds."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=path.suffix, dir=path.parent)
    os.close(handle)
    try:
        yield temporary
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def write_block(block: neo.Block, path: str | Path) -> Path:
    """Write ``block`` to ``path`` (``.nix``, ``.nwb`` or ``.pkl``), atomically. Returns the path."""
    return write_blocks([block], path)


def write_blocks(blocks: list[neo.Block], path: str | Path) -> Path:
    """Write several blocks to one file, atomically (NIX and NWB hold many; pickle holds one)."""
    path = Path(path)
    io_class = _io_class(path)
    if io_class is neo.io.PickleIO and len(blocks) != 1:
        raise InputError(f"{path.suffix} files hold one block; use .nix or .nwb for {len(blocks)} blocks")
    with _atomic(path) as temporary:
        if io_class is neo.io.NixIO:
            io = neo.io.NixIO(temporary, mode="ow")
            try:
                for block in blocks:
                    io.write_block(block)
            finally:
                io.close()
        elif io_class is neo.io.NWBIO:
            _write_nwb(blocks, temporary)
        else:
            io_class(temporary).write_block(blocks[0])
    return path


def read_block(path: str | Path) -> neo.Block:
    """Read the first block of a file written by :func:`write_block`."""
    return read_blocks(path)[0]


def read_blocks(path: str | Path) -> list[neo.Block]:
    """Read every block of a file written by :func:`write_blocks`."""
    path = Path(path)
    io_class = _io_class(path)
    if not path.is_file():
        raise InputError(f"no such file: {str(path)!r}")
    try:
        if io_class is neo.io.NixIO:
            io = neo.io.NixIO(str(path), mode="ro")
            try:
                return list(io.read_all_blocks())
            finally:
                io.close()
        if io_class is neo.io.NWBIO:
            return _read_nwb(path)
        return [io_class(str(path)).read_block()]
    except InputError:
        raise
    except Exception as error:  # each IO raises its own types for a damaged file
        raise InputError(f"cannot read {str(path)!r} as {path.suffix} ({type(error).__name__}: {error})") from error


def annotation_values(block: neo.Block, key: str = "parameters") -> dict:
    """The ``"name = value"`` list annotations of a block (``parameters``, ``initial``) as quantities."""
    result = {}
    for item in block.annotations.get(key, []):
        name, _, value = str(item).partition(" = ")
        result[name] = as_quantity(value, f"annotation {key}.{name}")
    return result


# --- NWB: Neo's NWBIO for the data, a JSON description for what NWB has no place for -------------


def _encode(value: Any) -> Any:
    """An annotation value as JSON data (quantities, arrays and dates tagged)."""
    if isinstance(value, pq.Quantity):
        return {"quantity": np.asarray(value.magnitude).tolist(), "units": value.dimensionality.string}
    if isinstance(value, np.ndarray):
        return {"array": value.tolist(), "dtype": value.dtype.str}
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, datetime.datetime):
        return {"datetime": value.isoformat()}
    if isinstance(value, dict):
        return {"dict": {str(k): _encode(v) for k, v in value.items()}}
    if isinstance(value, list | tuple):
        return [_encode(v) for v in value]
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        if "quantity" in value:
            return pq.Quantity(value["quantity"], value["units"])
        if "array" in value:
            return np.asarray(value["array"], dtype=np.dtype(value["dtype"]))
        if "datetime" in value:
            return datetime.datetime.fromisoformat(value["datetime"])
        return {k: _decode(v) for k, v in value["dict"].items()}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


def _describe(obj: Any) -> dict:
    entry = {
        "name": obj.name,
        "description": obj.description,
        "annotations": _encode(dict(obj.annotations)),
    }
    if hasattr(obj, "array_annotations"):
        entry["array_annotations"] = _encode(dict(obj.array_annotations))
    if hasattr(obj, "units"):
        entry["units"] = obj.units.dimensionality.string
    if isinstance(obj, neo.SpikeTrain | neo.AnalogSignal):
        entry["t_start"] = _encode(obj.t_start)
    if isinstance(obj, neo.SpikeTrain):
        entry["t_stop"] = _encode(obj.t_stop)
    if isinstance(obj, neo.Event):
        entry["labelled"] = len(obj.labels) == len(obj) > 0
    return entry


def _write_nwb(blocks: list[neo.Block], path: str) -> None:
    """Write copies of the blocks with unique, sortable names; their own names and annotations
    go into a JSON description in the NWB file's ``notes``."""
    description, copies = [], []
    for b, block in enumerate(blocks):
        entry = _describe(block) | {"segments": []}
        copy = neo.Block(name=f"b{b:03d}")
        for s, segment in enumerate(block.segments):
            seg_entry = _describe(segment)
            new = neo.Segment(name=f"s{s:03d}")
            for kind in ("spiketrains", "analogsignals", "events"):
                seg_entry[kind] = [_describe(item) for item in getattr(segment, kind)]
            for k, train in enumerate(segment.spiketrains):
                new.spiketrains.append(
                    neo.SpikeTrain(train.times, t_start=train.t_start, t_stop=train.t_stop, name=f"t{k:06d}")
                )
            for k, signal in enumerate(segment.analogsignals):
                new.analogsignals.append(
                    neo.AnalogSignal(
                        signal.magnitude,
                        units=signal.units,
                        t_start=signal.t_start,
                        sampling_period=signal.sampling_period,
                        name=f"b{b:03d}s{s:03d}a{k:06d}",
                    )
                )
            for k, event in enumerate(segment.events):
                # NWB stores an event's labels as its data: every time needs one
                labels = event.labels if len(event.labels) == len(event) else np.full(len(event), "-")
                new.events.append(neo.Event(event.times, labels=labels, name=f"b{b:03d}s{s:03d}e{k:06d}"))
            entry["segments"].append(seg_entry)
            copy.segments.append(new)
        description.append(entry)
        copies.append(copy)
    start = next((b.rec_datetime for b in blocks if b.rec_datetime), None) or datetime.datetime.now(datetime.UTC)
    notes = json.dumps({_NOTES_KEY: description})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pynwb's notices about positional arguments and defaults
        io = neo.io.NWBIO(path, mode="w", notes=notes, session_start_time=start, session_description="sourced_neuron")
        io.write_all_blocks(copies)


def _restore(obj: Any, entry: dict) -> Any:
    if "units" in entry and isinstance(obj, neo.SpikeTrain | neo.AnalogSignal | neo.Event):
        obj = obj.rescale(entry["units"])
    if isinstance(obj, neo.SpikeTrain):
        obj = neo.SpikeTrain(obj.times, t_start=_decode(entry["t_start"]), t_stop=_decode(entry["t_stop"]))
    elif isinstance(obj, neo.AnalogSignal):
        obj = neo.AnalogSignal(
            obj.magnitude,
            units=obj.units,
            t_start=_decode(entry["t_start"]).rescale(obj.t_start.units),
            sampling_period=obj.sampling_period,
        )
    elif isinstance(obj, neo.Event):
        obj = neo.Event(obj.times, labels=obj.labels if entry["labelled"] else None)
    obj.name, obj.description = entry["name"], entry["description"]
    obj.annotations.clear()
    obj.annotations.update(_decode(entry["annotations"]))
    if "array_annotations" in entry:
        obj.array_annotate(**_decode(entry["array_annotations"]))
    return obj


def _read_nwb(path: Path) -> list[neo.Block]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        io = neo.io.NWBIO(str(path), mode="r")
        read = io.read_all_blocks()
    notes = read[0].annotations.get("notes", "") if read else ""
    try:
        description = json.loads(notes)[_NOTES_KEY]
    except (ValueError, TypeError, KeyError):
        return read  # an NWB file from elsewhere: what Neo makes of it
    by_name = {block.name: block for block in read}
    blocks = []
    for b, entry in enumerate(description):
        source = by_name.get(f"b{b:03d}", neo.Block())
        segments = {segment.name: segment for segment in source.segments}
        block = _restore(neo.Block(), entry)
        for s, seg_entry in enumerate(entry["segments"]):
            read_segment = segments.get(f"s{s:03d}", neo.Segment())
            segment = _restore(neo.Segment(), seg_entry)
            parts = {
                "spiketrains": list(read_segment.spiketrains),
                "analogsignals": sorted(read_segment.analogsignals, key=lambda x: x.name),
                "events": sorted(read_segment.events, key=lambda x: x.name),
            }
            for kind, items in parts.items():
                if len(items) != len(seg_entry[kind]):
                    raise InputError(
                        f"{str(path)!r}: block {b} segment {s} has {len(items)} {kind}, "
                        f"its description {len(seg_entry[kind])}: the file is damaged"
                    )
                restored = [_restore(item, item_entry) for item, item_entry in zip(items, seg_entry[kind], strict=True)]
                setattr(segment, kind, restored)
                for item in restored:
                    item.segment = segment
            block.segments.append(segment)
            segment.block = block
        blocks.append(block)
    return blocks


# --- spike tables -------------------------------------------------------------------------------


def write_spike_csv(data: neo.Block | neo.Segment | list, path: str | Path) -> Path:
    """Write every spike as a CSV row ``population,neuron,time_ms`` (sorted by time), atomically.

    ``neuron`` is the train's ``index`` annotation (its position when it has none) and
    ``population`` its ``population`` annotation (empty when it has none).
    """
    from .analysis import spike_trains

    rows = []
    for position, train in enumerate(spike_trains(data)):
        population = str(train.annotations.get("population", ""))
        neuron = int(train.annotations.get("index", position))
        rows += [(t, population, neuron) for t in train.times.rescale(pq.ms).magnitude]
    rows.sort(key=lambda row: (row[0], row[1], row[2]))
    path = Path(path)
    with _atomic(path) as temporary, open(temporary, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_HEADER)
        writer.writerows((population, neuron, repr(float(t))) for t, population, neuron in rows)
    return path


def _cell(value: str, convert: Callable, path: Path, row: int, column: str):
    try:
        return convert(value)
    except ValueError:
        raise InputError(f"{path}, row {row}, column {column!r}: {value!r} is not a number") from None


def read_spike_csv(path: str | Path, t_stop: Any = None) -> list[neo.SpikeTrain]:
    """Read a spike table written by :func:`write_spike_csv`.

    Returns one ``SpikeTrain`` (ms) per (population, neuron) pair, neurons 0 ... max of each
    population included even without a row, annotated ``population`` and ``index``.

    Parameters
    ----------
    t_stop : str or quantity, optional
        The trains' end; default: the last spike.

    Raises
    ------
    InputError
        Missing file, another header, a row of another length, a non-numeric or negative cell
        (named by row and column), or a spike after ``t_stop``.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"no such file: {str(path)!r}")
    spikes: dict[str, dict[int, list[float]]] = {}
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = tuple(next(reader, ()))
        if header != CSV_HEADER:
            raise InputError(f"{path}, row 1: the header must be {','.join(CSV_HEADER)}, found {','.join(header)}")
        for row_number, row in enumerate(reader, start=2):
            if len(row) != len(CSV_HEADER):
                raise InputError(f"{path}, row {row_number}: expected {len(CSV_HEADER)} cells, found {len(row)}")
            population, neuron, time = row
            neuron = _cell(neuron, int, path, row_number, "neuron")
            time = _cell(time, float, path, row_number, "time_ms")
            if neuron < 0 or not np.isfinite(time) or time < 0:
                raise InputError(f"{path}, row {row_number}: neuron and time must be non-negative and finite")
            spikes.setdefault(population, {}).setdefault(neuron, []).append(time)
    last = max((max(t) for neurons in spikes.values() for t in neurons.values()), default=0.0)
    stop = last if t_stop is None else float(as_quantity(t_stop, "t_stop", SECOND)) * 1e3
    if last > stop:
        raise InputError(f"{path}: a spike at {last:g} ms is after t_stop ({stop:g} ms)")
    trains = []
    for population, neurons in spikes.items():
        for index in range(max(neurons) + 1):
            train = neo.SpikeTrain(np.sort(neurons.get(index, [])) * pq.ms, t_stop=stop * pq.ms)
            train.annotate(population=population, index=index)
            trains.append(train)
    return trains


def read_spike_trains(path: str | Path, population: str | None = None) -> list[neo.SpikeTrain]:
    """The spike trains of a file: a CSV spike table or a Neo file (its first block's first
    segment), optionally only those of one population. Used to replay recorded spikes
    (:meth:`sourced_neuron.Network.replay`)."""
    from .analysis import spike_trains

    path = Path(path)
    trains = read_spike_csv(path) if path.suffix.lower() == ".csv" else spike_trains(read_block(path))
    return spike_trains(trains, population)
