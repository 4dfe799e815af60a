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
import hashlib
import json
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import neo
import numpy as np
import quantities as pq

from sourced_neuron.common import files
from sourced_neuron.common.errors import InputError
from sourced_neuron.results.blocks import spike_trains
from sourced_neuron.spec.parts import SECOND
from sourced_neuron.spec.units import as_quantity

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
#: The largest neuron index a spike table may hold (every index below it becomes a train).
MAX_CSV_NEURONS = 10_000_000
_NOTES_KEY = "sourced_neuron"
#: The root attribute of NIX and NWB files that holds the SHA-256 of their datasets (see ``_seal``).
DIGEST_ATTRIBUTE = "sourced_neuron_sha256"
_DIGEST_ROWS = 1_000_000


PICKLE_REFUSED = (
    "{path}: {suffix} files are Python pickles, and reading one runs whatever code it holds (a crafted file can run "
    "any command). sourced_neuron reads them only when you trust the file and ask: allow_pickle=True (command line: "
    "--allow-pickle). Store runs as .nix or .nwb to share them."
)


def _io_class(path: Path, what: str = "file"):
    try:
        return FORMATS[path.suffix.lower()]
    except KeyError:
        raise InputError(f"{what}: cannot tell the format of {str(path)!r}: use one of {', '.join(FORMATS)}") from None


#: Bytes a file takes per Neo object besides its data, by format (measured: a NIX file stores
#: about 22 kB of metadata per spike train, an NWB file about 0.5 kB; a pickle next to nothing).
_OBJECT_BYTES = {".nix": 30_000, ".nwb": 2_000, ".pkl": 500}


def block_nbytes(blocks: list[neo.Block], suffix: str = ".nix") -> int:
    """An estimate, on the safe side, of the bytes a ``suffix`` file of these blocks takes."""
    per_object = _OBJECT_BYTES.get(suffix.lower(), 30_000)
    data, objects = 0, 0
    for block in blocks:
        for segment in block.segments:
            data += 8 * sum(len(t) for t in segment.spiketrains) if segment.spiketrains else 0
            data += sum(np.asarray(s).nbytes for s in segment.analogsignals)
            data += sum(8 * len(e) * (1 + len(e.array_annotations)) for e in segment.events)
            objects += len(segment.spiketrains) + len(segment.analogsignals) + len(segment.events) + 1
    return int(1.3 * data + per_object * objects) + 200_000


def _hdf5_digest(path: Path) -> str:
    """SHA-256 of every dataset of an HDF5 file (NIX and NWB files are HDF5): names, types, shapes
    and values, in name order; the digest attribute itself is not a dataset."""
    import h5py

    digest = hashlib.sha256()
    names: list[str] = []
    with h5py.File(path, "r") as handle:
        handle.visititems(lambda name, item: names.append(name) if isinstance(item, h5py.Dataset) else None)
        for name in sorted(names):
            dataset = handle[name]
            digest.update(f"{name}|{dataset.dtype.str}|{dataset.shape}|".encode())
            if dataset.dtype.kind in "biufc":
                for start in range(0, max(dataset.shape[0] if dataset.shape else 1, 1), _DIGEST_ROWS):
                    part = dataset[()] if not dataset.shape else dataset[start : start + _DIGEST_ROWS]
                    digest.update(np.ascontiguousarray(part).tobytes())
            else:
                digest.update(repr(np.asarray(dataset[()]).tolist()).encode())
    return digest.hexdigest()


def _seal(path: Path) -> None:
    """Store the digest of a written HDF5 file in it (root attribute :data:`DIGEST_ATTRIBUTE`)."""
    import h5py

    value = _hdf5_digest(path)
    with h5py.File(path, "r+") as handle:
        handle.attrs[DIGEST_ATTRIBUTE] = value


def _verify(path: Path) -> None:
    """Refuse an HDF5 file whose data no longer match the digest it was written with."""
    import h5py

    try:
        with h5py.File(path, "r") as handle:
            stored = handle.attrs.get(DIGEST_ATTRIBUTE)
    except OSError as error:
        raise InputError(f"cannot read {str(path)!r} as {path.suffix}: not an HDF5 file or damaged ({error})") from None
    if stored is None:
        return  # written elsewhere: the checks of check_block only
    try:
        actual = _hdf5_digest(path)
    except (OSError, RuntimeError, ValueError, KeyError) as error:
        raise InputError(f"cannot read {str(path)!r}: the file is damaged ({type(error).__name__}: {error})") from None
    if actual != (stored.decode() if isinstance(stored, bytes) else str(stored)):
        raise InputError(
            f"{str(path)!r}: its data no longer match the digest stored when it was written: the file is damaged "
            "(changed or truncated since); write it again from the run"
        )


def write_block(block: neo.Block, path: str | Path) -> Path:
    """Write ``block`` to ``path`` (``.nix``, ``.nwb`` or ``.pkl``), atomically. Returns the path."""
    return write_blocks([block], path)


def write_blocks(blocks: list[neo.Block], path: str | Path) -> Path:
    """Write several blocks to one file, atomically (NIX and NWB hold many; pickle holds one).

    The destination is checked first (:func:`sourced_neuron.common.files.check_output`: a link is written
    through, a folder or device refused, an existing file keeps its permissions) and the free space
    is compared with the estimated size before anything is written.

    Raises
    ------
    InputError
        An unknown suffix, or a destination that cannot be written.
    StorageError
        Not enough free space (HDF5, under NIX and NWB, cannot recover from a full disk).
    """
    path = files.as_path(path, "write_blocks")
    io_class = _io_class(path, "write_blocks")
    if io_class is neo.io.PickleIO and len(blocks) != 1:
        raise InputError(f"{path.suffix} files hold one block; use .nix or .nwb for {len(blocks)} blocks")
    with files.atomic_write(path, "write_blocks", size_hint=block_nbytes(blocks, path.suffix)) as temporary:
        if io_class is neo.io.NixIO:
            io = neo.io.NixIO(str(temporary), mode="ow")
            try:
                for block in blocks:
                    io.write_block(block)
            finally:
                io.close()
        elif io_class is neo.io.NWBIO:
            _write_nwb(blocks, str(temporary))
        else:
            io_class(str(temporary)).write_block(blocks[0])
        if io_class is not neo.io.PickleIO:
            _seal(temporary)
    return path


def read_block(path: str | Path, allow_pickle: bool = False, check: bool = True) -> neo.Block:
    """Read the first block of a file written by :func:`write_block` (see :func:`read_blocks`)."""
    return read_blocks(path, allow_pickle, check)[0]


def read_blocks(path: str | Path, allow_pickle: bool = False, check: bool = True) -> list[neo.Block]:
    """Read every block of a file written by :func:`write_blocks`.

    Parameters
    ----------
    path : str or Path
        A ``.nix``, ``.nwb`` or ``.pkl`` file.
    allow_pickle : bool
        Read a ``.pkl`` file. Off by default, as NumPy's ``allow_pickle``: unpickling runs any
        code the file holds, so only pass ``True`` for files you trust.
    check : bool
        Check what was read (:func:`check_block`): finite values, spike times in order and inside
        their train, shapes that fit. A damaged file is refused instead of analysed as if valid.

    Raises
    ------
    InputError
        No such file, not a regular file, an unknown suffix, a pickle without ``allow_pickle``, a
        file the IO cannot read, or data that fail the checks.
    """
    path = files.regular_file(path, "read_blocks")
    io_class = _io_class(path, "read_blocks")
    if io_class is neo.io.PickleIO and not allow_pickle:
        raise InputError(PICKLE_REFUSED.format(path=str(path), suffix=path.suffix))
    if io_class is not neo.io.PickleIO and check:
        _verify(path)
    try:
        if io_class is neo.io.NixIO:
            io = neo.io.NixIO(str(path), mode="ro")
            try:
                blocks = list(io.read_all_blocks())
            finally:
                io.close()
        elif io_class is neo.io.NWBIO:
            blocks = _read_nwb(path)
        else:
            blocks = [io_class(str(path)).read_block()]
    except InputError:
        raise
    except Exception as error:  # each IO raises its own types for a damaged file
        raise InputError(f"cannot read {str(path)!r} as {path.suffix} ({type(error).__name__}: {error})") from error
    if not blocks or not all(isinstance(b, neo.Block) for b in blocks):
        raise InputError(f"{str(path)!r} holds no neo.Block")
    if check:
        for number, block in enumerate(blocks):
            check_block(block, f"{path}, block {number}")
    return blocks


def check_block(block: neo.Block, where: str = "block") -> None:
    """Refuse data that cannot come from a run: non-finite values, spike times out of order or
    outside their train, signals that are not 2-D or whose annotations do not fit their shape,
    non-positive sampling periods, events whose annotations do not fit.

    Raises
    ------
    InputError
        Naming ``where``, the object and what is wrong. A file written from a run with
        ``check_finite=False`` may hold non-finite signals: read it with ``check=False``.
    """

    def refuse(what: str, problem: str) -> None:
        raise InputError(
            f"{where}: {what} {problem}; the file is damaged or was not written from a run (read it with "
            "check=False to load it anyway)"
        )

    def finite(value: Any) -> bool:
        return bool(np.all(np.isfinite(np.asarray(value, dtype=float))))

    for s, segment in enumerate(block.segments):
        for k, train in enumerate(segment.spiketrains):
            what = f"segment {s}, spike train {k}"
            times = np.asarray(train.magnitude, dtype=float)
            start, stop = float(train.t_start.rescale(train.units)), float(train.t_stop.rescale(train.units))
            if not (finite(times) and np.isfinite(start) and np.isfinite(stop)):
                refuse(what, "holds a time that is not a finite number")
            if stop < start:
                refuse(what, f"ends ({stop:g}) before it starts ({start:g})")
            if np.any(np.diff(times) < 0):
                refuse(what, "has spike times out of order")
            if times.size and (times[0] < start or times[-1] > stop):
                unit = train.units.dimensionality.string
                refuse(what, f"has spike times outside its interval [{start:g}, {stop:g}] {unit}")
        for k, signal in enumerate(segment.analogsignals):
            what = f"segment {s}, signal {k} ({signal.name})"
            if signal.ndim != 2:
                refuse(what, f"has {signal.ndim} dimensions, not 2 (samples x channels)")
            period = float(signal.sampling_period)
            if not (np.isfinite(period) and period > 0 and np.isfinite(float(signal.t_start))):
                refuse(what, f"has sampling period {signal.sampling_period} and start {signal.t_start}")
            if not finite(signal.magnitude):
                refuse(what, "holds values that are not finite numbers (inf or NaN)")
            for key, values in signal.array_annotations.items():
                if len(values) != signal.shape[1]:
                    refuse(what, f"has {signal.shape[1]} channels but {len(values)} values of {key!r}")
        for k, event in enumerate(segment.events):
            what = f"segment {s}, event {k} ({event.name})"
            if not finite(event.magnitude):
                refuse(what, "holds a time that is not a finite number")
            for key, values in event.array_annotations.items():
                if len(values) != len(event):
                    refuse(what, f"has {len(event)} times but {len(values)} values of {key!r}")
                if np.asarray(values).dtype.kind == "f" and not finite(values):
                    refuse(what, f"holds {key} values that are not finite numbers")


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
    rows = []
    for position, train in enumerate(spike_trains(data)):
        population = str(train.annotations.get("population", ""))
        neuron = int(train.annotations.get("index", position))
        rows += [(t, population, neuron) for t in train.times.rescale(pq.ms).magnitude]
    rows.sort(key=lambda row: (row[0], row[1], row[2]))
    path = files.as_path(path, "write_spike_csv")
    with (
        files.atomic_write(path, "write_spike_csv", size_hint=30 * len(rows)) as temporary,
        open(temporary, "w", newline="", encoding="utf-8") as handle,
    ):
        writer = csv.writer(handle)
        writer.writerow(CSV_HEADER)
        writer.writerows((population, neuron, repr(float(t))) for t, population, neuron in rows)
    return path


def _cell(value: str, convert: Callable, path: Path, row: int, column: str):
    try:
        return convert(value)
    except ValueError:
        shown = value if len(value) <= 40 else value[:40] + "..."
        raise InputError(f"{path}, row {row}, column {column!r}: {shown!r} is not a number") from None


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
    path = files.regular_file(path, "read_spike_csv")
    spikes: dict[str, dict[int, list[float]]] = {}
    row_number = 1
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle)
            header = tuple(next(reader, ()))
            if header != CSV_HEADER:
                shown = ",".join(header)[:80]
                raise InputError(f"{path}, row 1: the header must be {','.join(CSV_HEADER)}, found {shown!r}")
            for row_number, row in enumerate(reader, start=2):
                if len(row) != len(CSV_HEADER):
                    raise InputError(f"{path}, row {row_number}: expected {len(CSV_HEADER)} cells, found {len(row)}")
                population, neuron, time = row
                neuron = _cell(neuron, int, path, row_number, "neuron")
                time = _cell(time, float, path, row_number, "time_ms")
                if neuron < 0 or not np.isfinite(time) or time < 0:
                    raise InputError(f"{path}, row {row_number}: neuron and time must be non-negative and finite")
                if neuron >= MAX_CSV_NEURONS:
                    raise InputError(
                        f"{path}, row {row_number}: neuron {neuron} is beyond the {MAX_CSV_NEURONS:,} neurons a spike "
                        "table may index"
                    )
                spikes.setdefault(population, {}).setdefault(neuron, []).append(time)
    except (UnicodeDecodeError, csv.Error) as error:
        raise InputError(f"{path}, row {row_number + 1}: not a CSV spike table ({error})") from None
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


def read_spike_trains(
    path: str | Path, population: str | None = None, allow_pickle: bool = False
) -> list[neo.SpikeTrain]:
    """The spike trains of a file: a CSV spike table or a Neo file (its first block's first
    segment), optionally only those of one population. Used to replay recorded spikes
    (:meth:`sourced_neuron.Network.replay`). ``allow_pickle``: see :func:`read_blocks`."""
    path = files.as_path(path, "read_spike_trains")
    if path.suffix.lower() == ".csv":
        trains = read_spike_csv(path)
    else:
        trains = spike_trains(read_block(path, allow_pickle=allow_pickle))
    return spike_trains(trains, population)
