"""The Neo blocks of runs: built here, once, for every run, and read through the accessors here.

:func:`sourced_neuron.simulate` and :meth:`sourced_neuron.Network.run` hand the backends'
per-population results to :func:`build_block`; a single-model run is a network of one
population (named after its model) on the way. Every block therefore has one layout
(docs/analysis.md, "The Neo block"):

- one segment; block and segment carry the same annotations;
- one ``SpikeTrain`` per recorded neuron (ms), annotated ``population`` and ``index``, in the
  order of the structure's populations, then its recorded sources (Neo's multiplexed
  ``SpikeTrainList``: the trains are made when first accessed);
- one ``AnalogSignal`` per recorded population and variable, named ``"<population>.<variable>"``,
  annotated ``population``, ``variable`` and ``model``, array-annotated ``index``;
- one ``Event`` per projection whose weights are recorded, named ``"<projection>.weights"``;
- the annotation ``structure``: the populations, sources and projections as plain data, stored
  as JSON text (NIX keeps no nested annotations) and read with :func:`structure`, which checks
  its schema version (:data:`SCHEMA`).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Mapping
from typing import Any

import neo
import numpy as np
import quantities as pq
from neo.core.spiketrainlist import SpikeTrainList

from sourced_neuron.backends.base import NetworkSpec, ProjectionSpec, RunResult, SimulationRequest, WeightRecord
from sourced_neuron.common.errors import InputError
from sourced_neuron.common.version import VERSION
from sourced_neuron.spec.units import format_quantity, neo_unit, si_to_neo

__all__ = [
    "SCHEMA",
    "STRUCTURE",
    "build_block",
    "make_structure",
    "rename_populations",
    "set_structure",
    "signals",
    "simulation_block",
    "spike_trains",
    "structure",
]

#: The version of the block layout and of its ``structure`` annotation. It changes whenever a
#: field is renamed, removed or changes its meaning; a reader refuses any other version.
SCHEMA = 1
#: The annotation (of the block and of its segment) that holds the structure, as JSON text.
STRUCTURE = "structure"

#: The fields of each entry of the structure, with their types.
_FIELDS: dict[str, dict[str, type | tuple[type, ...]]] = {
    "populations": {
        "name": str,
        "size": int,
        "model": str,
        "model_hash": str,
        "method": str,
        "preset": str,
        "stimulus": str,
        "parameters": dict,
        "per_neuron": list,
        "record": list,
        "record_spikes": bool,
        "simulator": dict,
    },
    "sources": {"name": str, "size": int, "record_spikes": bool},
    "projections": {
        "name": str,
        "pre": str,
        "post": str,
        "receptor": str,
        "synapse": str,
        "count": int,
        "recorded_synapses": int,
    },
}
#: The annotations of the layout before the structure (schema 0): text such as "E: 80 x lif".
_OLD_KEYS = ("populations", "sources", "projections")

Spikes = neo.Block | neo.Segment | list


# --- reading ------------------------------------------------------------------------------------


def _rerun(what: str) -> str:
    return (
        f"{what}; this version of sourced_neuron reads blocks of schema {SCHEMA} only "
        "(docs/analysis.md, 'The Neo block'): run the simulation again with this version "
        "(sn.simulate or Network.run) and write a new file"
    )


def _annotations(data: Any) -> tuple[Mapping, str]:
    """The annotations that hold the structure of ``data`` and a name of ``data`` for messages."""
    if isinstance(data, neo.Block):
        return data.annotations, f"block {data.name!r}" if data.name else "the block"
    if isinstance(data, neo.Segment):
        own = STRUCTURE in data.annotations or any(key in data.annotations for key in _OLD_KEYS)
        if not own and data.block is not None:  # the block's
            return data.block.annotations, f"block {data.block.name!r}" if data.block.name else "the block"
        return data.annotations, f"segment {data.name!r}" if data.name else "the segment"
    raise InputError(f"expected a neo.Block or a neo.Segment of a run, got {type(data).__name__}")


def structure(data: neo.Block | neo.Segment, required: bool = True) -> dict | None:
    """The populations, sources and projections of a run, as plain data (a copy).

    Parameters
    ----------
    data : neo.Block or neo.Segment
        A block of :func:`sourced_neuron.simulate` or :meth:`sourced_neuron.Network.run` (or a
        file of one), or its segment.
    required : bool
        With ``False``, a block without any structure (made by hand: trains and signals only)
        gives ``None`` instead of an error; a block of an older layout is refused either way.

    Returns
    -------
    dict
        ``{"schema": 1, "populations": [...], "sources": [...], "projections": [...]}``
        (fields: docs/analysis.md, "The Neo block").

    Raises
    ------
    InputError
        No structure (``required``), a structure of another schema version or one that is
        damaged, or the text annotations of blocks written before the structure existed: the
        message says to run the simulation again with this version.
    """
    annotations, what = _annotations(data)
    value = annotations.get(STRUCTURE)
    if value is None:
        old = [key for key in _OLD_KEYS if key in annotations]
        if old:
            raise InputError(
                _rerun(
                    f"{what} describes its network in the text annotations {', '.join(map(repr, old))}: it was "
                    "written by an older version of sourced_neuron, before the 'structure' annotation"
                )
            )
        if not required:
            return None
        raise InputError(
            _rerun(
                f"{what} has no {STRUCTURE!r} annotation: it was written by an older version of sourced_neuron "
                "(or made by hand, not by a run)"
            )
        )
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value.item()
    if isinstance(value, bytes):
        value = value.decode()
    try:
        decoded = json.loads(value) if isinstance(value, str) else copy.deepcopy(value)
    except ValueError as error:
        raise InputError(f"{what}: its {STRUCTURE!r} annotation is not JSON ({error}): the file is damaged") from None
    if not isinstance(decoded, dict) or "schema" not in decoded:
        raise InputError(_rerun(f"{what}: its {STRUCTURE!r} annotation has no schema version"))
    schema = decoded["schema"]
    if schema != SCHEMA or isinstance(schema, bool):
        if isinstance(schema, int) and not isinstance(schema, bool) and schema > SCHEMA:
            raise InputError(
                f"{what} has a structure of schema {schema}, written by a newer version of sourced_neuron; "
                f"this version reads schema {SCHEMA}: update sourced_neuron to read it"
            )
        raise InputError(
            _rerun(f"{what} has a structure of schema {schema!r}: it was written by an older version of sourced_neuron")
        )
    _check(decoded, what)
    return decoded


def _check(data: dict, what: str) -> None:
    """Refuse a structure whose entries lack a field or hold one of the wrong type."""
    for kind, fields in _FIELDS.items():
        entries = data.get(kind)
        if not isinstance(entries, list):
            raise InputError(f"{what}: its structure has no list of {kind}: the file is damaged")
        for k, entry in enumerate(entries):
            if not isinstance(entry, dict):
                raise InputError(f"{what}: entry {k} of the structure's {kind} is not a mapping: the file is damaged")
            for field, kinds in fields.items():
                value = entry.get(field)
                if not isinstance(value, kinds) or (kinds is int and isinstance(value, bool)):
                    raise InputError(
                        f"{what}: entry {k} of the structure's {kind} has no valid {field!r} (found {value!r}): "
                        "the file is damaged"
                    )
    names = [e["name"] for kind in ("populations", "sources") for e in data[kind]]
    if len(set(names)) != len(names):
        raise InputError(f"{what}: the structure names a population or source twice: the file is damaged")


#: The value of each field an entry of :func:`make_structure` leaves out (``None``: required).
_DEFAULTS: dict[str, dict[str, Any]] = {
    "populations": {
        "name": None,
        "size": None,
        "model": "",
        "model_hash": "",
        "method": "",
        "preset": "",
        "stimulus": "none",
        "parameters": {},
        "per_neuron": [],
        "record": [],
        "record_spikes": True,
        "simulator": {},
    },
    "sources": {"name": None, "size": None, "record_spikes": True},
    "projections": {
        "name": None,
        "pre": None,
        "post": None,
        "receptor": "",
        "synapse": "static",
        "count": 0,
        "recorded_synapses": 0,
    },
}


def make_structure(
    populations: Iterable[Mapping[str, Any]],
    sources: Iterable[Mapping[str, Any]] = (),
    projections: Iterable[Mapping[str, Any]] = (),
) -> dict:
    """A structure of schema :data:`SCHEMA` from entries that give some fields, for blocks made
    by hand (converted data, tests); store it with :func:`set_structure`.

    Each population needs ``name`` and ``size``, each source ``name`` and ``size``, each
    projection ``name``, ``pre`` and ``post``; the other fields default to empty values
    (``stimulus`` ``"none"``, ``synapse`` ``"static"``, counts 0, ``record_spikes`` true).

    Raises
    ------
    InputError
        A required field missing, or a field the schema does not have.
    """
    result: dict[str, Any] = {"schema": SCHEMA}
    for kind, entries in (("populations", populations), ("sources", sources), ("projections", projections)):
        defaults = _DEFAULTS[kind]
        result[kind] = []
        for entry in entries:
            unknown = sorted(set(entry) - set(defaults))
            missing = [key for key, value in defaults.items() if value is None and key not in entry]
            if unknown or missing:
                problem = f"unknown fields {unknown}" if unknown else f"no {', '.join(missing)}"
                raise InputError(f"a structure's {kind} entry {dict(entry)!r} has {problem}")
            result[kind].append(copy.deepcopy({**defaults, **entry}))
    _check(result, "the structure")
    return result


def set_structure(data: neo.Block | neo.Segment, value: Mapping) -> None:
    """Store ``value`` as the ``structure`` annotation of ``data`` (and of a block's segments).

    ``value`` is checked as :func:`structure` checks it (the schema version included), then
    stored as JSON text. For blocks made by hand (tests, converted data) and for renaming.

    Raises
    ------
    InputError
        ``value`` is not a structure of schema :data:`SCHEMA`, or is not JSON data.
    """
    plain = copy.deepcopy(dict(value))
    if plain.get("schema") != SCHEMA or isinstance(plain.get("schema"), bool):
        raise InputError(f"a structure must have 'schema': {SCHEMA}, got {plain.get('schema')!r}")
    _check(plain, "the structure")
    try:
        text = json.dumps(plain)
    except (TypeError, ValueError) as error:
        raise InputError(f"a structure holds plain data only (numbers, strings, lists, dicts): {error}") from None
    targets = [data, *data.segments] if isinstance(data, neo.Block) else [data]
    for target in targets:
        target.annotations[STRUCTURE] = text


def spike_trains(data: Spikes, population: str | None = None) -> list[neo.SpikeTrain]:
    """The spike trains of ``data`` (a Block's first segment, a Segment, or a list of trains).

    Parameters
    ----------
    population : str, optional
        Keep only the trains annotated with this population.

    Raises
    ------
    InputError
        Not spike trains, or no train of that population.
    """
    if isinstance(data, neo.Block):
        if not data.segments:
            raise InputError("the block has no segments")
        data = data.segments[0]
    trains = list(data.spiketrains) if isinstance(data, neo.Segment) else data
    if not isinstance(trains, list | tuple) or not all(isinstance(t, neo.SpikeTrain) for t in trains):
        raise InputError("expected a neo.Block, a neo.Segment or a list of neo.SpikeTrain")
    if population is not None:
        kept = [t for t in trains if t.annotations.get("population") == population]
        if not kept:
            found = sorted({str(t.annotations.get("population")) for t in trains})
            raise InputError(f"no spike trains of population {population!r}; populations: {', '.join(found)}")
        trains = kept
    if not trains:
        raise InputError("there are no spike trains")
    return list(trains)


def signals(
    data: neo.Block | neo.Segment, population: str | None = None, variable: str | None = None
) -> list[neo.AnalogSignal]:
    """The recorded signals of ``data`` (a Block's first segment, or a Segment), in order,
    optionally only those of one population and/or one variable (their annotations)."""
    if isinstance(data, neo.Block):
        if not data.segments:
            raise InputError("the block has no segments")
        data = data.segments[0]
    if not isinstance(data, neo.Segment):
        raise InputError(f"expected a neo.Block or a neo.Segment, got {type(data).__name__}")
    return [
        s
        for s in data.analogsignals
        if (population is None or s.annotations.get("population") == population)
        and (variable is None or s.annotations.get("variable") == variable)
    ]


# --- building -----------------------------------------------------------------------------------


def _structure_of(spec: NetworkSpec, results: Mapping, presets: Mapping, stimuli: Mapping) -> dict:
    populations = []
    for pop in spec.populations:
        info = getattr(results.get(pop.name), "info", {})
        populations.append(
            {
                "name": pop.name,
                "size": int(pop.size),
                "model": pop.model.name,
                "model_hash": pop.model.content_hash,
                "method": pop.model.numerics.method,
                "preset": presets.get(pop.name) or "",
                "stimulus": stimuli.get(pop.name) or pop.stimulus.describe(),
                "parameters": {
                    name: format_quantity(value)
                    for name, value in pop.model.parameter_values().items()
                    if name not in pop.parameters
                },
                "per_neuron": sorted(pop.parameters),
                "record": list(pop.record),
                "record_spikes": bool(pop.record_spikes),
                "simulator": {str(k): str(v) for k, v in info.items() if k != "run_seconds"},
            }
        )
    return {
        "schema": SCHEMA,
        "populations": populations,
        "sources": [{"name": s.name, "size": int(s.size), "record_spikes": bool(s.record)} for s in spec.sources],
        "projections": [
            {
                "name": c.name,
                "pre": c.pre,
                "post": c.post,
                "receptor": c.receptor,
                "synapse": c.synapse.name if c.synapse else "static",
                "count": len(c.i),
                "recorded_synapses": 0 if c.record_weights is None else len(c.record_weights),
            }
            for c in spec.projections
        ],
    }


def _run_annotations(spec: NetworkSpec, results: Mapping, backend: str, seed: int | None) -> dict:
    infos = [results[p.name].info for p in spec.populations if isinstance(results.get(p.name), RunResult)]
    seconds = [float(i["run_seconds"]) for i in infos if "run_seconds" in i]
    shared = {}
    for key in dict.fromkeys(k for i in infos for k in i if k != "run_seconds"):
        values = {str(i.get(key)) for i in infos}
        if len(values) == 1 and all(key in i for i in infos):
            shared[str(key)] = values.pop()  # per population in the structure's "simulator"
    return {
        "backend": backend,
        "dt": spec.dt * 1e3 * pq.ms,
        "seed": -1 if seed is None else int(seed),  # as given
        "simulator_seed": -1 if spec.seed is None else int(spec.seed),  # the simulator's, drawn from it
        "n_neurons": int(sum(p.size for p in spec.populations)),
        "sourced_neuron_version": VERSION,
        # the simulation's own wall time (construction and code generation excluded)
        "run_seconds": max(seconds) if seconds else float("nan"),
        **shared,
    }


def build_block(
    spec: NetworkSpec,
    results: Mapping[str, RunResult | WeightRecord],
    backend: str,
    seed: int | None = None,
    name: str | None = None,
    presets: Mapping[str, str | None] | None = None,
    stimuli: Mapping[str, str] | None = None,
) -> neo.Block:
    """The Neo block of a run: the one builder of every block (the layout: module docstring).

    Parameters
    ----------
    spec : NetworkSpec
        The run, every value drawn.
    results : mapping
        Population name to its :class:`~sourced_neuron.backends.base.RunResult` (SI), and the
        name of each projection whose weights were recorded to its
        :class:`~sourced_neuron.backends.base.WeightRecord`.
    backend : str
    seed : int, optional
        The seed the user gave (the annotation ``seed``; ``simulator_seed`` is ``spec.seed``).
    name : str, optional
        The block's and segment's name (default ``"network on <backend>"``).
    presets : mapping, optional
        Population name to the preset it was made with (the spec holds the values only).
    stimuli : mapping, optional
        Population name to a description of its input, where the spec's own
        (``Stimulus.describe``) says less (e.g. noise, drawn as sampled currents).

    Returns
    -------
    neo.Block
    """
    dt_ms = spec.dt * 1e3
    t_stop = spec.n_steps * dt_ms * pq.ms
    name = name or f"network on {backend}"
    annotations = _run_annotations(spec, results, backend, seed)
    block = neo.Block(name=name, **annotations)
    segment = neo.Segment(name=name, **annotations)
    block.segments.append(segment)
    set_structure(block, _structure_of(spec, results, presets or {}, stimuli or {}))
    times, channels, names, indices, offset = [], [], [], [], 0
    trains = [
        (p.name, p.size, results[p.name].spike_indices, results[p.name].spike_times)
        for p in spec.populations
        if p.record_spikes
    ]
    trains += [(s.name, s.size, s.indices, s.times) for s in spec.sources if s.record]  # as they were given
    for population, size, spike_indices, spike_times in trains:
        times.append(np.asarray(spike_times, dtype=float) * 1e3)
        channels.append(np.asarray(spike_indices, dtype=int) + offset)
        names += [population] * size
        indices.append(np.arange(size))
        offset += size
    if names:
        # Neo's multiplexed list: SpikeTrain objects are made when first accessed
        # (``segment.spiketrains.multiplexed`` gives all spikes without making them)
        segment.spiketrains = SpikeTrainList.from_spike_time_array(
            np.concatenate(times),
            np.concatenate(channels),
            np.arange(offset),
            t_stop=t_stop,
            units=pq.ms,
            t_start=0 * pq.ms,
            population=np.array(names),
            index=np.concatenate(indices),
        )
        segment.spiketrains.segment = segment
    for pop in spec.populations:
        for variable in pop.record:
            signal = neo.AnalogSignal(
                si_to_neo(results[pop.name].signals[variable], pop.model.lookup_dimension(variable)),
                sampling_period=dt_ms * pq.ms,
                t_start=0 * pq.ms,
                name=f"{pop.name}.{variable}",
                population=pop.name,
                variable=variable,
                model=pop.model.name,
            )
            signal.array_annotate(index=np.arange(pop.size))
            signal.segment = segment
            segment.analogsignals.append(signal)
    for projection in spec.projections:
        if projection.record_weights is not None:
            event = _weight_event(projection, results[projection.name], spec)
            event.segment = segment
            segment.events.append(event)
    return block


def simulation_block(
    request: SimulationRequest, result: RunResult, backend: str, preset: str | None = None
) -> neo.Block:
    """The block of :func:`sourced_neuron.simulate`: its run as a network of one population,
    named after the model, through :func:`build_block`, with the annotations of a single-model
    run added to block and segment: ``model``, ``model_hash``, ``method``, ``preset``,
    ``stimulus``, and ``parameters`` and ``initial`` (lists of ``"name = value"`` strings)."""
    model = request.model
    spec = NetworkSpec.single(request)
    spec.populations[0].record_spikes = True  # one train per neuron, even of a model without threshold
    block = build_block(
        spec, {model.name: result}, backend, request.seed, f"{model.name} on {backend}", {model.name: preset}
    )
    single = {
        "model": model.name,
        "model_hash": model.content_hash,
        "method": model.numerics.method,
        "preset": preset or "",
        "stimulus": request.stimulus.describe(),
        # lists of "name = value" strings: Neo's NIX IO keeps lists of strings, not mappings
        "parameters": [f"{name} = {format_quantity(value)}" for name, value in model.parameter_values().items()],
        "initial": [f"{name} = {format_quantity(value)}" for name, value in model.initial_values().items()],
    }
    block.annotate(**single)
    block.segments[0].annotate(**single)
    return block


def _weight_event(c: ProjectionSpec, record: WeightRecord, spec: NetworkSpec) -> neo.Event:
    """The weights a projection transmitted, as a Neo event per presynaptic spike and synapse."""
    post = next(p for p in spec.populations if p.name == c.post)
    port = next(p for p in post.model.synapses if p.name == c.receptor)
    order = np.lexsort((record.synapse, record.times))
    synapse = np.asarray(record.synapse, dtype=int)[order]
    event = neo.Event(
        np.asarray(record.times, dtype=float)[order] * 1e3 * pq.ms,
        name=f"{c.name}.weights",
        projection=c.name,
        synapse_model=c.synapse.name if c.synapse else "static",
        weight_unit=neo_unit(port.weight_dimension)[0],
    )
    weights = si_to_neo(np.asarray(record.weights, dtype=float)[order], port.weight_dimension)
    event.array_annotate(synapse=synapse, pre=c.i[synapse], post=c.j[synapse], weight=weights.magnitude)
    # every synapse's weight at the end (on NEST: as of its last presynaptic spike, docs/semantics.md)
    event.annotate(final_weight=si_to_neo(record.final, port.weight_dimension).magnitude)
    return event


# --- changing -----------------------------------------------------------------------------------


def rename_populations(block: neo.Block, names: Mapping[str, str]) -> None:
    """Rename populations and sources in place, consistently: the structure (its entries and
    the projections' ``pre`` and ``post``), the spike trains' ``population`` annotation, and
    the signals' ``population`` annotation and ``"<population>.<variable>"`` name. Names not in
    ``names`` stay.

    Raises
    ------
    InputError
        A block without a structure, a name that is not a string, or a renaming that gives two
        populations or sources one name.
    """
    found = structure(block)
    if not all(isinstance(k, str) and isinstance(v, str) and v for k, v in names.items()):
        raise InputError(f"population names must be non-empty strings, got {dict(names)!r}")
    new = [names.get(e["name"], e["name"]) for kind in ("populations", "sources") for e in found[kind]]
    if len(set(new)) != len(new):
        raise InputError(f"renaming {dict(names)!r} would give two populations or sources one name")
    for kind in ("populations", "sources"):
        for entry in found[kind]:
            entry["name"] = names.get(entry["name"], entry["name"])
    for entry in found["projections"]:
        entry["pre"] = names.get(entry["pre"], entry["pre"])
        entry["post"] = names.get(entry["post"], entry["post"])
    set_structure(block, found)
    for segment in block.segments:
        trains = list(segment.spiketrains)
        for train in trains:
            old = str(train.annotations.get("population"))
            if old in names:
                train.annotations["population"] = names[old]
        segment.spiketrains = trains
        for train in trains:
            train.segment = segment
        for signal in segment.analogsignals:
            old = str(signal.annotations.get("population"))
            if old in names:
                signal.annotations["population"] = names[old]
                signal.name = f"{names[old]}.{signal.annotations.get('variable', '')}"
