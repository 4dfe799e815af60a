"""Model cards: one Markdown page per model, with figures measured when the card is written.

:func:`write_card` (``sourced-neuron card MODEL``) writes ``<out_dir>/<name>.md`` and its
figures ``<name>_steps.png`` and ``<name>_fi.png``. The static part comes from the checked
model: description, references, content hash, equations, threshold, reset, refractoriness,
numerics, parameters (with the comments beside their values in the model file), presets and
receptor ports. The measured part is simulated while the card is written:

- the rheobase, found by f-I sweeps on the first usable backend: a sweep from 0.1 pA to
  10 nA (ten currents per decade; towards -10 nA when the model fires without input), then
  finer sweeps between the last silent and the first firing current;
- voltage traces for three current steps placed relative to the rheobase and to the
  current at which the rate reaches :data:`TOP_RATE`;
- an f-I curve on every usable backend, drawn on one axes and listed in a table;
- the differences between backends, from :func:`sourced_neuron.analysis.compare.compare_backends`.

A requested backend that cannot run here is named in the card with the reason.
"""

from __future__ import annotations

from sourced_neuron.common import brian2_import  # noqa: F401 - before Brian2: keeps the user's excepthook

# isort: split

import datetime
import importlib.metadata
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import neo
import numpy as np
from brian2 import amp, second

from sourced_neuron.analysis.compare import Agreement, compare_backends, fi_curve
from sourced_neuron.backends import REGISTRY, backend_status, get_backend
from sourced_neuron.common import files
from sourced_neuron.common.errors import BackendUnavailableError, InputError, SourcedNeuronError, did_you_mean
from sourced_neuron.common.version import package_version
from sourced_neuron.results.blocks import set_structure, structure
from sourced_neuron.run.simulation import simulate
from sourced_neuron.spec import expressions as ex
from sourced_neuron.spec.library import library_models, load_model, model_path
from sourced_neuron.spec.model import NeuronModel
from sourced_neuron.spec.parts import SECOND
from sourced_neuron.spec.stimulus import Stimulus
from sourced_neuron.spec.units import as_quantity, format_quantity, to_neo

__all__ = ["DEFAULT_BACKENDS", "Rheobase", "estimate_rheobase", "file_comments", "write_card"]

#: The backends a card measures when none are named (those usable here).
DEFAULT_BACKENDS = ("brian2", "nest")

#: Currents of the first rheobase sweep (amps): 0.1 pA to 10 nA, ten per decade.
SEARCH_CURRENTS = 10.0 ** np.linspace(-13, -8, 51)

#: The f-I range ends at the first current of the search sweep whose rate reaches this (Hz).
TOP_RATE = 100.0

#: How many refining sweeps follow the first; each has as many currents as the first, so that
#: Brian2 reuses the integration step it derived for the first (it caches per group size).
REFINE_PASSES = 2

#: The spiking steps of the voltage figures: rheobase + fraction * (top current - rheobase).
STEP_FRACTIONS = (0.2, 0.6)

#: The first, subthreshold step lies this fraction of (top current - rheobase) below the
#: rheobase, but at most :data:`BELOW_RHEOBASE_MAX` of the rheobase's magnitude below it.
BELOW_RHEOBASE = 0.1
BELOW_RHEOBASE_MAX = 0.2

#: The f-I sweep starts this fraction of (top current - rheobase) below the rheobase.
FI_BELOW = 0.2

#: The current step of the voltage figure, as fractions of the run's duration.
STEP_WINDOW = (0.1, 0.8)

#: Steps used when a model does not spike for any current of the search sweep (amps).
SILENT_STEPS = (1e-11, 1e-10, 1e-9)

#: Simulator packages whose versions a card names, by backend family (name prefix).
PACKAGES = {"brian2": ("brian2",), "nest": ("nest-simulator", "nestml", "PyNN")}


# --- measuring ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Rheobase:
    """The result of :func:`estimate_rheobase`; currents in amps.

    Attributes
    ----------
    current : float or None
        The smallest current found that gives at least one spike in ``duration``; ``None``
        when no current of the sweep was silent or none fired (see ``fires_at_rest``).
    silent : float or None
        The largest current below ``current`` found silent: ``current - silent`` is the
        resolution of the estimate.
    top : float or None
        The first current of the search sweep whose rate reached :data:`TOP_RATE` (or 90 % of
        the sweep's largest rate when none did); ``None`` when the model never fired.
    top_rate : float
        The rate at ``top`` (Hz; 0 when ``top`` is ``None``).
    fires_at_rest : bool
        Whether the model fires with no injected current.
    backend : str
        The backend that was simulated.
    duration : float
        Seconds of each run.
    """

    current: float | None
    silent: float | None
    top: float | None
    top_rate: float
    fires_at_rest: bool
    backend: str
    duration: float


def _rates(model: NeuronModel, backend: str, currents: np.ndarray, duration: Any, args: dict) -> np.ndarray:
    return fi_curve(model, backend, np.asarray(currents, dtype=float) * amp, duration, **args)


def _top_current(currents: np.ndarray, rates: np.ndarray) -> tuple[float | None, float]:
    if not np.any(rates > 0):
        return None, 0.0
    target = min(TOP_RATE, 0.9 * float(rates.max()))
    k = np.flatnonzero(rates >= target)[0]
    return float(currents[k]), float(rates[k])


def estimate_rheobase(
    model: NeuronModel | str | Path, backend: str = "brian2", duration: Any = "1 s", **simulate_args: Any
) -> Rheobase:
    """Find the smallest constant current that makes a model fire, by f-I sweeps.

    The first sweep runs 0 pA and 0.1 pA to 10 nA (ten currents per decade, one neuron each,
    one simulation); when the model fires at 0 pA a second sweep runs 0 to -10 nA. Then
    :data:`REFINE_PASSES` sweeps of as many currents narrow the interval between the last
    silent and the first firing current (to about 0.04 % of it).

    Parameters
    ----------
    model : NeuronModel, str or path
    backend : str
    duration : duration
        Length of each run: "fires" means at least one spike within it.
    **simulate_args
        Passed to :func:`sourced_neuron.simulate` (``preset``, ``params``, ``dt``, ``seed``).

    Returns
    -------
    Rheobase
    """
    model = load_model(model)
    seconds = float(as_quantity(duration, "duration", SECOND))
    sweep = np.concatenate([[0.0], SEARCH_CURRENTS])
    rates = _rates(model, backend, sweep, duration, simulate_args)
    top, top_rate = _top_current(sweep, rates)
    fires_at_rest = bool(rates[0] > 0)
    if not fires_at_rest:
        firing = np.flatnonzero(rates > 0)
        if not firing.size:
            return Rheobase(None, None, None, 0.0, False, backend, seconds)
        silent, current = sweep[firing[0] - 1], sweep[firing[0]]
    else:
        below = np.concatenate([[0.0], -SEARCH_CURRENTS])
        quiet = np.flatnonzero(_rates(model, backend, below, duration, simulate_args) == 0)
        if not quiet.size:
            return Rheobase(None, None, top, top_rate, True, backend, seconds)
        silent, current = below[quiet[0]], below[quiet[0] - 1]
    for _ in range(REFINE_PASSES):
        points = np.linspace(silent, current, sweep.size)
        quiet = np.flatnonzero(_rates(model, backend, points, duration, simulate_args) == 0)
        if not quiet.size or quiet[-1] == len(points) - 1:
            break  # the bracket did not hold on re-measuring (a noisy model): keep the previous one
        silent, current = points[quiet[-1]], points[quiet[-1] + 1]
    return Rheobase(float(current), float(silent), top, top_rate, fires_at_rest, backend, seconds)


def _rounded(value: float, below: float | None = None) -> float:
    """``value`` to two significant digits (more where needed to stay under ``below``)."""
    for digits in range(2, 12):
        result = float(f"{value:.{digits}g}")
        if below is None or result < below:
            break
    return result


def _nice_grid(low: float, high: float, n: int) -> np.ndarray:
    """At most ``n`` equally spaced currents on round values, from about ``low`` up to the first
    one at or above ``high``."""
    raw = (high - low) / (n - 1)
    decade = 10.0 ** np.floor(np.log10(raw))
    for multiple in (1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10, 15, 20):
        step = multiple * decade
        start = np.floor(low / step) * step
        if start + (n - 1) * step >= high - 1e-9 * step:
            break
    grid = np.round((start + step * np.arange(n)) * 1e12, 9) * 1e-12
    return grid[: np.flatnonzero(grid >= high - 1e-9 * step)[0] + 1]


@dataclass(frozen=True)
class Protocol:
    """The measured runs of a card: step amplitudes and f-I currents (amps), run length (s)."""

    duration: float
    steps: tuple[float, ...]
    fi_currents: tuple[float, ...] = ()

    @property
    def stimulus(self) -> dict[str, Any]:
        start, stop = (fraction * self.duration for fraction in STEP_WINDOW)
        return {"start": start * second, "stop": stop * second, "amplitude": np.array(self.steps) * amp}


def _protocol(rheobase: Rheobase, fi_points: int) -> Protocol:
    if rheobase.top is None:
        return Protocol(rheobase.duration, SILENT_STEPS)
    low = rheobase.current if rheobase.current is not None else 0.0
    span = rheobase.top - low if rheobase.top > low else max(abs(low), 1e-12)
    below = min(BELOW_RHEOBASE * span, BELOW_RHEOBASE_MAX * abs(low)) or BELOW_RHEOBASE * span
    silent = rheobase.silent if rheobase.silent is not None else low
    steps = (_rounded(low - below, silent), *(_rounded(low + f * span) for f in STEP_FRACTIONS))
    steps = tuple(dict.fromkeys(steps))
    currents = _nice_grid(low - FI_BELOW * span, low + span, fi_points)
    return Protocol(rheobase.duration, steps, tuple(float(c) for c in currents))


@dataclass
class Measurements:
    """Everything a card shows that was simulated."""

    requested: tuple[str, ...]
    reasons: dict[str, str]  # backend -> why it was not run
    rheobase: Rheobase | None = None
    protocol: Protocol | None = None
    blocks: dict[str, neo.Block] = field(default_factory=dict)  # backend -> step-response run
    fi_rates: dict[str, np.ndarray] = field(default_factory=dict)  # backend -> Hz per f-I current
    agreements: list[Agreement] = field(default_factory=list)

    @property
    def ran(self) -> list[str]:
        return list(self.blocks)


def _reason(exc: Exception) -> str:
    return " ".join(str(exc).split())


def _usable(model: NeuronModel, requested: Sequence[str]) -> dict[str, str]:
    """Why each requested backend cannot run this model here (absent: it can, as far as checked)."""
    status = backend_status()
    reasons = {}
    for name in requested:
        if status.get(name):
            reasons[name] = status[name]
            continue
        try:
            methods = get_backend(name).capabilities().methods
        except SourcedNeuronError as exc:
            reasons[name] = _reason(exc)
            continue
        if model.numerics.method not in methods:
            reasons[name] = f"cannot integrate with method {model.numerics.method!r} here"
    return reasons


def _measure(model: NeuronModel, requested: tuple[str, ...], duration: Any, fi_points: int) -> Measurements:
    reasons = _usable(model, requested)
    result = Measurements(requested, reasons)
    candidates = [name for name in requested if name not in reasons]
    if not candidates:
        raise BackendUnavailableError(
            f"no backend can measure model {model.name!r} here: "
            + "; ".join(f"{name}: {reason}" for name, reason in reasons.items())
        )
    if not model.uses_input:
        return result
    for name in candidates:  # the first backend that runs finds the rheobase
        try:
            result.rheobase = estimate_rheobase(model, name, duration)
            break
        except SourcedNeuronError as exc:
            reasons[name] = _reason(exc)
    if result.rheobase is None:
        raise BackendUnavailableError(
            f"no backend could simulate model {model.name!r}: "
            + "; ".join(f"{name}: {reason}" for name, reason in reasons.items())
        )
    protocol = result.protocol = _protocol(result.rheobase, fi_points)
    run = {
        "duration": duration,
        "stimulus": protocol.stimulus,
        "n_neurons": len(protocol.steps),
        "record": (model.membrane_potential or model.state_variables[0],),
    }
    for name in candidates:
        if name in reasons:
            continue
        try:
            result.blocks[name] = simulate(model, backend=name, **run)
        except SourcedNeuronError as exc:
            reasons[name] = _reason(exc)
    currents = np.array(protocol.fi_currents) * amp if protocol.fi_currents else None
    if len(result.ran) >= 2:
        result.agreements = compare_backends(model, result.ran, fi_currents=currents, **run)
        if currents is not None:
            result.fi_rates = {row.backend: np.array(row.fi_rates) for row in result.agreements}
    elif currents is not None:
        result.fi_rates = {result.ran[0]: fi_curve(model, result.ran[0], currents, duration)}
    return result


# --- the card's text ----------------------------------------------------------------------


def _text(text: str) -> str:
    """Free text for Markdown (table cells included): one line, no emphasis or HTML by accident."""
    text = " ".join(str(text).split())
    return text.replace("|", "\\|").replace("*", "\\*").replace("<", "&lt;")


def _code(text: str) -> str:
    return f"`{text}`" if text else ""


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return [*lines, ""]


def _pa(current: float) -> str:
    return f"{current * 1e12:.4g}"


def _pa_apart(first: float, second: float) -> tuple[str, str]:
    """Two currents in pA, with as many significant digits (at least four) as tell them apart."""
    for digits in range(4, 10):
        a, b = f"{first * 1e12:.{digits}g}", f"{second * 1e12:.{digits}g}"
        if a != b:
            break
    return a, b


def _split_value(text: str) -> tuple[str, str]:
    """``"-65 mV"`` -> ``("-65", "mV")``; a plain number has unit ``"1"``."""
    number, _, unit = text.strip().partition(" ")
    return number, unit.strip() or "1"


def _source_text(model: NeuronModel) -> str | None:
    """The model file's text, when the model came from a file that is still there."""
    if model.source == f"models/{model.name}.yaml" and model.name in library_models():
        return model_path(model.name).read_text(encoding="utf-8")
    path = Path(model.source)
    return path.read_text(encoding="utf-8") if path.is_file() else None


def file_comments(text: str | None, key: str) -> dict[str, str]:
    """The comments of the entries of a top-level mapping of a model file (``parameters``,
    ``presets``): the comment after an entry on its line, else the comment lines just above it."""
    comments: dict[str, str] = {}
    if not text:
        return comments
    inside, indent, above = False, None, []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped:
            above = []
            continue
        if not line[0].isspace():
            above = []
            if not stripped.startswith("#"):
                inside = re.fullmatch(rf"{re.escape(key)}\s*:\s*(#.*)?", stripped) is not None
            continue
        if not inside:
            continue
        depth = len(line) - len(line.lstrip())
        if stripped.startswith("#"):
            if indent is None or depth == indent:
                above.append(stripped.lstrip("#").strip())
            continue
        match = re.match(r"([A-Za-z_]\w*)\s*:(.*)$", stripped)
        if indent is None and match:
            indent = depth
        if not match or depth != indent:
            above = []
            continue
        _, hash_, after = match.group(2).partition(" #")
        comment = after.strip() if hash_ else " ".join(above)
        if comment:
            comments[match.group(1)] = comment
        above = []
    return comments


def _header(model: NeuronModel, written: str) -> list[str]:
    lines = [f"# `{model.name}` model card", ""]
    if model.description:
        lines += [_text(model.description), ""]
    if model.references:
        lines += ["**References**", ""] + [f"- {_text(r)}" for r in model.references] + [""]
    rows = [
        ["content hash", _code(model.content_hash)],
        ["model file", _code(model.source)],
        ["card written", written],
    ]
    return lines + _table(["", ""], rows)


def _refractoriness(model: NeuronModel) -> str:
    refractory = model.refractory
    if refractory is None:
        return "none"
    held = [e.name for e in model.equations if "unless refractory" in e.flags]
    effect = f"; {', '.join(_code(n) for n in held)} held (`unless refractory`)" if held else ""
    if refractory.kind == "condition":
        return f"while {_code(refractory.expression)} after a spike (a condition){effect}"
    values = model.parameter_values()
    value = ex.evaluate(ex.parse(refractory.expression), lambda n: values[n] if n in values else ex.UNITS[n])
    return f"{_code(refractory.text or refractory.expression)} = {format_quantity(value)} after a spike{effect}"


def _dynamics(model: NeuronModel) -> list[str]:
    written = [e.text() for e in model.equations if e.port is None]
    lines = ["## Dynamics", "", "```text", *written, "```", ""]
    reset = "; ".join(_code(s) for s in model.reset) or "none"
    initial = ", ".join(_code(f"{n} = {v.text or v.expression}") for n, v in model.initial) or "none"
    unset = [n for n in model.per_neuron_variables if n not in dict(model.initial)]
    if unset:
        initial += f"; {', '.join(_code(n) for n in unset)} start at 0"
    lines += [
        f"- threshold: {_code(model.threshold) if model.threshold else 'none (the model does not spike)'}",
        f"- reset: {reset}",
        f"- refractoriness: {_refractoriness(model)}",
        f"- initial values: {initial}",
        "- injected current: "
        + ("`I_ext` (amp), driven by `simulate(stimulus=...)`" if model.uses_input else "not read (no `I_ext`)"),
        "",
    ]
    if model.synapses:
        lines += ["Receptor ports (for networks; each adds the equations below and the current `I_syn`):", ""]
        values = dict(model.parameters)
        rows = [
            [
                _code(p.name),
                p.type,
                p.kernel,
                values[p.tau_name].text if p.tau_name else "",
                values[p.reversal_name].text if p.reversal_name else "",
            ]
            for p in model.synapses
        ]
        lines += _table(["port", "type", "kernel", "tau", "E_rev"], rows)
        lines += ["```text", *(e.text() for e in model.equations if e.port is not None), "```", ""]
    return lines


def _nestml_method(model: NeuronModel) -> str:
    """What the generated NESTML says about its integration (its ``# Method`` line)."""
    from sourced_neuron.codegen.nestml import generate

    try:
        source = generate(model)
    except SourcedNeuronError as exc:
        return f"cannot be generated: {_text(_reason(exc))}"
    method = next((line[1:].strip() for line in source.text.splitlines() if line.startswith("# Method")), "")
    name = _code(source.model_name)
    return f'NEST model {name}, compiled from generated NESTML, whose header says: "{_text(method)}"'


def _backend_numerics(model: NeuronModel, name: str, measured: Measurements) -> str:
    if name.startswith("brian2"):
        from sourced_neuron.codegen.brian2 import METHOD_NAMES

        text = f"Brian2 `NeuronGroup(..., method='{METHOD_NAMES[model.numerics.method]}')`"
        block = measured.blocks.get(name)
        target = structure(block)["populations"][0]["simulator"].get("codegen_target") if block is not None else None
        if target:
            text += f", code generation target {_code(target)}"
        return text
    if name.startswith("nest"):
        return _nestml_method(model)
    return ""


def _numerics(model: NeuronModel, measured: Measurements) -> list[str]:
    rows = [["method", _code(model.numerics.method)], ["dt", model.numerics.dt.text]]
    rows += [[_code(name), _backend_numerics(model, name, measured)] for name in measured.requested]
    return ["## Numerics", "", *_table(["", ""], rows)]


def _parameters(model: NeuronModel, comments: dict[str, str]) -> list[str]:
    ports = {}
    for port in model.synapses:
        if port.tau_name:
            ports[port.tau_name] = f"receptor port {port.name}: time constant"
        if port.reversal_name:
            ports[port.reversal_name] = f"receptor port {port.name}: reversal potential"
    rows = []
    for name, value in model.parameters:
        number, unit = _split_value(value.text or format_quantity(value.quantity))
        rows.append([_code(name), number, _code(unit), _text(comments.get(name) or ports.get(name, ""))])
    note = "Descriptions are the comments beside the values in the model file." if comments else ""
    return ["## Parameters", "", *_table(["name", "value", "unit", "description"], rows), *([note, ""] if note else [])]


def _presets(model: NeuronModel, comments: dict[str, str]) -> list[str]:
    if not model.presets:
        return []
    defaults = dict(model.parameters) | dict(model.initial)
    names = [n for n, _ in model.parameters] + [n for n, _ in model.initial]
    used = [n for n in names if any(n in dict(p.parameters) | dict(p.initial) for p in model.presets)]
    header = ["preset", *(_code(n) for n in used), "description"]
    rows = [["(defaults)", *(_value_text(defaults[n]) for n in used), ""]]
    for preset in model.presets:
        values = dict(preset.parameters) | dict(preset.initial)
        cells = [_value_text(values[n]) if n in values else "" for n in used]
        rows.append([_code(preset.name), *cells, _text(comments.get(preset.name, ""))])
    intro = "Each preset sets the values in its row (an empty cell keeps the default): `simulate(..., preset=NAME)`."
    return ["## Presets", "", intro, "", *_table(header, rows)]


def _value_text(value: Any) -> str:
    return _text(value.text or getattr(value, "expression", "") or format_quantity(value.quantity))


def _versions(names: Sequence[str]) -> str:
    packages = dict.fromkeys(
        p for name in names for prefix, ps in PACKAGES.items() if name.startswith(prefix) for p in ps
    )
    found = []
    for package in packages:
        try:
            found.append(f"{package} {importlib.metadata.version(package)}")
        except importlib.metadata.PackageNotFoundError:
            found.append(f"{package} (not installed)")
    return ", ".join(found)


def _threshold_value(model: NeuronModel, variable: str) -> float | None:
    """The threshold as a number in the recorded signal's unit, when it is ``variable OP value``."""
    if not model.threshold:
        return None
    tree = ex.parse(model.threshold)
    if not (hasattr(tree, "left") and getattr(tree.left, "id", None) == variable and len(tree.comparators) == 1):
        return None
    values = model.parameter_values()
    try:
        value = ex.evaluate(tree.comparators[0], lambda n: values[n] if n in values else ex.UNITS[n])
    except (KeyError, ex.ExpressionError):
        return None
    return float(to_neo(value).magnitude)


def _one_neuron(block: neo.Block, k: int, protocol: Protocol) -> neo.Segment:
    """Neuron ``k`` of a step-response run, annotated with its own step (its structure too)."""
    stimulus = Stimulus.from_user(protocol.stimulus | {"amplitude": protocol.steps[k] * amp}, 1).describe()
    segment = neo.Segment(
        name=f"{block.name}, neuron {k}", **(block.annotations | {"stimulus": stimulus, "n_neurons": 1})
    )
    layout = structure(block)
    layout["populations"][0].update(size=1, stimulus=stimulus)
    set_structure(segment, layout)
    segment.analogsignals.append(block.segments[0].analogsignals[0][:, k : k + 1])
    return segment


def _figures(model: NeuronModel, measured: Measurements, out_dir: Path) -> dict[str, Path]:
    from sourced_neuron.analysis.plotting import plot_fi, plot_voltage

    figures: dict[str, Path] = {}
    if not measured.ran:
        return figures
    block = measured.blocks[measured.ran[0]]
    variable = block.segments[0].analogsignals[0].annotations["variable"]
    threshold = _threshold_value(model, variable)
    for k in range(len(measured.protocol.steps)):  # one figure per step: overlaid spiking traces are unreadable
        figures[f"step{k + 1}"] = plot_voltage(
            _one_neuron(block, k, measured.protocol),
            out_dir / f"{model.name}_step{k + 1}.png",
            threshold=threshold,
            variable=variable,
        )
    if measured.fi_rates:
        currents = np.array(measured.protocol.fi_currents)
        figures["fi"] = plot_fi(
            currents * amp,
            measured.fi_rates,
            out_dir / f"{model.name}_fi.png",
            title=f"{model.name}: f-I curve ({measured.protocol.duration:g} s per current)",
        )
    return figures


def _backends_section(measured: Measurements) -> list[str]:
    lines = []
    for name in measured.requested:
        if name in measured.blocks:
            lines.append(f"- {_code(name)}: used ({_versions([name])})")
        else:
            reason = measured.reasons.get(name, "not run")
            lines.append(f"- {_code(name)}: **not usable here**, so not measured: {_text(reason)}")
    return ["Backends:", "", *lines, ""]


def _rheobase_text(rheobase: Rheobase) -> str:
    where = f"{rheobase.duration:g} s runs on {_code(rheobase.backend)}"
    if rheobase.top is None:
        return f"No spike for any constant current from 0 to {_pa(SEARCH_CURRENTS[-1])} pA ({where})."
    if rheobase.current is None:
        return f"Fires at every constant current down to -{_pa(SEARCH_CURRENTS[-1])} pA ({where}): no rheobase."
    current, silent = _pa_apart(rheobase.current, rheobase.silent)
    text = (
        f"**Rheobase: {current} pA**: the smallest constant current (on from t = 0, the model starting at its "
        f"initial values) that gave at least one spike (silent at {silent} pA; {where})."
    )
    if rheobase.fires_at_rest:
        text += " The model fires without input; below this (negative) current it is silent."
    reached = f"{TOP_RATE:g} Hz" if rheobase.top_rate >= TOP_RATE else "90 % of its largest rate"
    return text + (
        f" The search sweep first reached {reached} at {_pa(rheobase.top)} pA ({rheobase.top_rate:.4g} Hz); "
        "the steps and the f-I range below are placed between these two currents."
    )


def _measured_section(model: NeuronModel, measured: Measurements, figures: dict[str, Path]) -> list[str]:
    lines = ["## Measured behaviour", "", *_backends_section(measured)]
    if not model.uses_input:
        return [*lines, "The model does not read `I_ext`, so it takes no injected current: nothing measured.", ""]
    protocol, rheobase = measured.protocol, measured.rheobase
    lines += ["### Rheobase", "", _rheobase_text(rheobase), ""]
    start, stop = (f * protocol.duration * 1e3 for f in STEP_WINDOW)
    steps = ", ".join(f"{_pa(s)} pA" for s in protocol.steps)
    lines += [
        "### Step responses",
        "",
        f"Current steps of {steps} from {start:g} to {stop:g} ms ({protocol.duration * 1e3:g} ms runs on "
        f"{_code(measured.ran[0])}); the dashed line is the threshold."
        + (
            " A sample is the state at the start of a time step, so the step that crosses the threshold and "
            "resets is not drawn: spikes stop short of the line."
            if model.reset
            else ""
        ),
        "",
    ]
    for k, step in enumerate(protocol.steps):
        lines += [f"![{model.name}: step of {_pa(step)} pA]({figures[f'step{k + 1}'].name})", ""]
    if not measured.fi_rates:
        return lines
    backends = list(measured.fi_rates)
    lines += [
        "### f-I curve",
        "",
        f"![{model.name} f-I curve]({figures['fi'].name})",
        "",
        f"Spike counts divided by the run length ({protocol.duration:g} s of constant current from t = 0, "
        "one neuron per current).",
        "",
    ]
    rows = [
        [_pa(current), *(f"{measured.fi_rates[b][k]:.4g}" for b in backends)]
        for k, current in enumerate(protocol.fi_currents)
    ]
    lines += _table(["current (pA)", *(f"{b} (Hz)" for b in backends)], rows)
    return lines


def _agreement_section(model: NeuronModel, measured: Measurements) -> list[str]:
    lines = ["## Agreement between backends", ""]
    if len(measured.ran) < 2:
        ran = ", ".join(_code(b) for b in measured.ran) or "none"
        return [*lines, f"Only one backend was measured ({ran}): nothing to compare.", ""]
    reference = measured.ran[0]
    unit = measured.blocks[reference].segments[0].analogsignals[0]
    variable, symbol = unit.annotations["variable"], unit.units.dimensionality.string
    lines += [
        f"From `compare_backends`, against {_code(reference)}: the step-response runs above (spikes of all "
        f"{len(measured.protocol.steps)} neurons, the recorded {_code(variable)}) and the f-I sweep. A row passes "
        "with equal spike counts, every spike within one time step, rates within 2 %, an RMS trace difference "
        "within 1 "
        f"{symbol} and f-I curves within 2 % of the reference's largest rate.",
        "",
    ]
    rows = []
    for row in measured.agreements:
        same = row.backend == reference
        rows.append(
            [
                _code(row.backend) + (" (reference)" if same else ""),
                str(row.n_spikes),
                f"{row.max_spike_difference:.3g}",
                f"{row.trace_rms_difference:.3g}",
                f"{row.rate_difference:.3g}",
                f"{row.fi_difference:.3g}",
                "" if same else ("yes" if row.passed else "**no**"),
            ]
        )
    header = [
        "backend",
        "spikes",
        "largest spike-time difference (ms)",
        f"RMS {variable} difference ({symbol})",
        "rate difference (%)",
        "f-I difference (%)",
        "passes",
    ]
    return lines + _table(header, rows)


def _provenance(measured: Measurements, date: str) -> list[str]:
    versions = _versions(measured.ran) if measured.ran else "no simulator run"
    return [
        "## Provenance",
        "",
        f"Measured on {date} with sourced-neuron {package_version('sourced-neuron')}; simulators: {versions}. "
        "Regenerate with `sourced-neuron card MODEL`.",
        "",
    ]


# --- the public function ------------------------------------------------------------------


def _requested(backends: Sequence[str] | None) -> tuple[str, ...]:
    if backends is None:
        return DEFAULT_BACKENDS
    if isinstance(backends, str):
        backends = [b.strip() for b in backends.split(",")]
    names = tuple(dict.fromkeys(b for b in backends if b))
    if not names:
        raise InputError("a card needs at least one backend, e.g. brian2")
    for name in names:
        if name not in REGISTRY:
            raise InputError(
                f"unknown backend {name!r}{did_you_mean(name, list(REGISTRY))}; backends: {', '.join(REGISTRY)}"
            )
    return names


def write_card(
    model: NeuronModel | str | Path,
    out_dir: str | Path = "docs/models",
    backends: Sequence[str] | None = None,
    duration: Any = "1 s",
    fi_points: int = 13,
) -> Path:
    """Write a model card: ``<out_dir>/<name>.md`` and its figures, measured now.

    Parameters
    ----------
    model : NeuronModel, str or path
        A model, a library model name (``"lif"``) or a model file.
    out_dir : str or path
        Folder of the card and its figures (created when missing).
    backends : sequence of str, optional
        Backends to measure, the first usable one being the reference. Default:
        :data:`DEFAULT_BACKENDS`. A requested backend that cannot run here is named in the
        card with the reason instead of being measured.
    duration : duration
        Length of every measured run (rheobase and f-I sweeps, step responses).
    fi_points : int
        Currents of the f-I curve.

    Returns
    -------
    Path
        The Markdown file.

    Raises
    ------
    InputError
        An unknown backend name, or fewer than three f-I points.
    BackendUnavailableError
        None of the requested backends can simulate the model here.
    """
    model = load_model(model)
    requested = _requested(backends)
    if isinstance(fi_points, bool) or not isinstance(fi_points, int) or fi_points < 3:
        raise InputError(f"fi_points must be an integer of at least 3, got {fi_points!r}")
    as_quantity(duration, "duration", SECOND)
    out = files.check_folder(out_dir, "card: out_dir")  # before minutes of measuring
    out.mkdir(parents=True, exist_ok=True)
    measured = _measure(model, requested, duration, fi_points)
    figures = _figures(model, measured, out)
    date = datetime.date.today().isoformat()
    text = _source_text(model)
    lines = [
        *_header(model, f"{date}, by `sourced-neuron card` ({', '.join(requested)})"),
        *_dynamics(model),
        *_numerics(model, measured),
        *_parameters(model, file_comments(text, "parameters")),
        *_presets(model, file_comments(text, "presets")),
        *_measured_section(model, measured, figures),
        *_agreement_section(model, measured),
        *_provenance(measured, date),
    ]
    return files.write_text(out / f"{model.name}.md", "\n".join(lines).rstrip("\n") + "\n", "card")
