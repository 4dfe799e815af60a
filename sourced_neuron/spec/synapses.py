"""Synapse models: plasticity rules written once, as YAML, for Brian2 ``Synapses`` and NESTML.

A synapse model file (library files are in ``models/synapses/``) describes what happens in one
connection, in the style of Brian2's ``Synapses``::

    name: stdp_additive
    parameters:
      tau_pre: 16.8 ms
      A_plus: 0.01
      w_max: weight          # in the receptor's weight unit, given at connect time
    equations:               # event-driven: solved exactly between a synapse's events
      - "dapre/dt = -apre / tau_pre : 1"
    on_pre:                  # when a presynaptic spike arrives (after the delay)
      - "apre += A_plus"
    on_post:                 # when the postsynaptic neuron spikes
      - "w = clip(w + apre * w_max, 0 * w_max, w_max)"
    transmit: w              # what the spike adds to the receptor (default w)

Every synapse has the weight ``w``, in the unit of the receptor port it connects to (siemens,
amp or volt), so a model is checked against each of those units when it is read and against
its receptor when it is connected. Statements may define temporaries (``r = u * x``).
Semantics (docs/semantics.md): before the statements of an event, the equations advance each
variable from the synapse's last event to now, exactly (Brian2's ``event-driven``); a
postsynaptic spike is handled before a presynaptic arrival in the same step.
"""

from __future__ import annotations

from sourced_neuron.common import brian2_import  # noqa: F401 - before Brian2: keeps the user's excepthook

# isort: split

import functools
import hashlib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from brian2.units.fundamentalunits import DIMENSIONLESS, Dimension, get_dimensions

from sourced_neuron.common import files
from sourced_neuron.common.errors import Diagnostic, InputError, ModelError, did_you_mean
from sourced_neuron.spec import expressions as ex
from sourced_neuron.spec import yamlsafe
from sourced_neuron.spec.checks import RESET_RE, ModelChecker
from sourced_neuron.spec.parts import AMP, SECOND, VOLT, Equation, Value
from sourced_neuron.spec.units import as_quantity

__all__ = ["SynapseModel", "library_synapses", "load_synapse"]

KEYS = ("name", "description", "references", "parameters", "equations", "initial", "on_pre", "on_post", "transmit")
WEIGHT = "w"
#: The word that marks a parameter in the receptor's weight unit.
WEIGHT_UNIT = "weight"
SIEMENS = get_dimensions(ex.UNITS["siemens"])
#: The weight units a receptor port can have: current, conductance, delta (docs/semantics.md).
WEIGHT_DIMENSIONS = (AMP, SIEMENS, VOLT)


@dataclass(frozen=True)
class SynapseModel:
    """A checked synapse model (make one with :func:`load_synapse`).

    Attributes
    ----------
    parameters : tuple of (name, Value or None)
        ``None`` marks a parameter in the receptor's weight unit, given at connect time.
    equations : tuple of Equation
        Event-driven differential equations of the synapse's own variables.
    initial : tuple of (name, expression)
        Initial values of those variables (parameters and units may appear).
    on_pre, on_post : tuple of str
        Statements (``name op expression``) run on a presynaptic arrival and a postsynaptic spike.
    transmit : str
        The weight a presynaptic spike hands to the receptor port.
    """

    name: str
    description: str
    references: tuple[str, ...]
    parameters: tuple[tuple[str, Value | None], ...]
    equations: tuple[Equation, ...]
    initial: tuple[tuple[str, str], ...]
    on_pre: tuple[str, ...]
    on_post: tuple[str, ...]
    transmit: str
    source: str = "<string>"

    @property
    def is_static(self) -> bool:
        """Whether the synapse only transmits its fixed weight (no state, no statements)."""
        return not self.equations and not self.on_pre and not self.on_post and self.transmit == WEIGHT

    @property
    def variables(self) -> tuple[str, ...]:
        """The synapse's state variables besides ``w``."""
        return tuple(eq.name for eq in self.equations)

    @property
    def weight_parameters(self) -> tuple[str, ...]:
        """Parameters in the receptor's weight unit (required at connect time)."""
        return tuple(name for name, value in self.parameters if value is None)

    def names(self) -> set[str]:
        """Every name the model defines."""
        return {WEIGHT, *self.variables, *(name for name, _ in self.parameters), *_temporaries(self)}

    def structure_hash(self) -> str:
        """A hash of what is generated (everything but parameter and initial values)."""
        parts = [
            self.name,
            [name for name, _ in self.parameters],
            [(eq.name, eq.expression, eq.dims) for eq in self.equations],
            self.on_pre,
            self.on_post,
            self.transmit,
        ]
        return hashlib.sha256(repr(parts).encode()).hexdigest()

    def resolve(self, values: dict[str, Any] | None, weight_dimension: Dimension, what: str) -> dict[str, float]:
        """Parameter values in SI: the model's, replaced by ``values``; weight parameters required.

        Raises
        ------
        InputError
            An unknown name, or a weight parameter without a value.
        UnitError
            A value with the wrong dimension.
        """
        values = dict(values or {})
        known = [name for name, _ in self.parameters]
        for name in values:
            if name not in known:
                raise InputError(
                    f"{what}: synapse model {self.name!r} has no parameter {name!r}{did_you_mean(str(name), known)}"
                    f"; parameters: {', '.join(known) or 'none'}"
                )
        result = {}
        for name, default in self.parameters:
            dimension = weight_dimension if default is None else default.dimension
            if name in values:
                quantity = as_quantity(values[name], f"{what}: synapse parameter {name}", dimension)
                result[name] = float(quantity / _unit(dimension))
            elif default is None:
                raise InputError(
                    f"{what}: synapse model {self.name!r} needs {name!r}, in the receptor's weight unit "
                    f"({ex.dimension_text(weight_dimension)}), e.g. synapse=({self.name!r}, {{{name!r}: ...}})"
                )
            else:
                result[name] = default.magnitude
        return result

    def initial_values(self, parameters: dict[str, float]) -> dict[str, float]:
        """Initial values of the variables in SI, given the SI parameter values."""
        lookup = {**parameters}
        result = {}
        for name, expression in self.initial:
            value = ex.evaluate(ex.parse(expression), lambda n: lookup[n] if n in lookup else ex.UNITS[n])
            result[name] = float(value / _unit(get_dimensions(value)))
        return {name: result.get(name, 0.0) for name in self.variables}

    def check_weight(self, weight_dimension: Dimension, what: str) -> None:
        """Refuse a receptor whose weight unit the model's statements do not fit."""
        problems = _check_statements(self, weight_dimension)
        if problems:
            raise InputError(
                f"{what}: synapse model {self.name!r} does not fit a receptor with weights in "
                f"{ex.dimension_text(weight_dimension)}: {problems[0]}"
            )


def _unit(dimension: Dimension):
    from brian2 import Quantity

    return 1.0 if dimension == DIMENSIONLESS else Quantity(1.0, dim=dimension)


def _temporaries(model: SynapseModel) -> set[str]:
    defined = {WEIGHT, *model.variables, *(name for name, _ in model.parameters)}
    return {
        target for statement in (*model.on_pre, *model.on_post) if (target := statement.split(" ", 1)[0]) not in defined
    }


def _check_statements(model: SynapseModel, weight: Dimension) -> list[str]:
    """Dimension problems of the statements and of ``transmit`` when ``w`` has dimension ``weight``."""
    symbols: dict[str, Dimension] = {"t": SECOND, WEIGHT: weight}
    for name, value in model.parameters:
        symbols[name] = weight if value is None else value.dimension
    for eq in model.equations:
        symbols[eq.name] = eq.dimension
    problems = []

    def lookup(scope: dict[str, Dimension]):
        def find(name: str) -> Dimension:
            if name in scope:
                return scope[name]
            if name in ex.UNITS:
                return get_dimensions(ex.UNITS[name])
            raise ex.ExpressionError(f"undefined name {name!r}{did_you_mean(name, scope)}")

        return find

    for eq in model.equations:
        try:
            dim = ex.infer_dimension(ex.parse(eq.expression), lookup(symbols))
            if dim != eq.dimension / SECOND:
                problems.append(
                    f"equation of {eq.name}: the right-hand side has units of {ex.dimension_text(dim)}, "
                    f"expected {ex.dimension_text(eq.dimension / SECOND)}"
                )
        except ex.ExpressionError as exc:
            problems.append(f"equation of {eq.name}: {exc}")
    for block in ("on_pre", "on_post"):
        scope = dict(symbols)
        for statement in getattr(model, block):
            target, op, expression = statement.split(" ", 2)
            try:
                dim = ex.infer_dimension(ex.parse(expression), lookup(scope))
            except ex.ExpressionError as exc:
                problems.append(f"{block} statement {statement!r}: {exc}")
                continue
            if target not in scope:
                scope[target] = dim
            need = DIMENSIONLESS if op in ("*=", "/=") else scope[target]
            if dim is ex.BOOLEAN or dim != need:
                problems.append(
                    f"{block} statement {statement!r}: {target} has units of {ex.dimension_text(scope[target])} "
                    f"but the right-hand side has units of {ex.dimension_text(dim)}"
                )
        if block == "on_pre":
            try:
                dim = ex.infer_dimension(ex.parse(model.transmit), lookup(scope))
                if dim != weight:
                    problems.append(
                        f"transmit {model.transmit!r} has units of {ex.dimension_text(dim)}, the weight's are "
                        f"{ex.dimension_text(weight)}"
                    )
            except ex.ExpressionError as exc:
                problems.append(f"transmit {model.transmit!r}: {exc}")
    return problems


class _SynapseBuilder(ModelChecker):
    """The checks of a synapse model file, collecting every problem with its field and line."""

    def check_identifier(self, name: Any, what: str, *path) -> bool:
        if isinstance(name, str) and name.endswith(("_pre", "_post")):
            self.problem(
                f"{what} {name!r} ends in _pre or _post, which Brian2 reserves for the neurons' variables; "
                "choose another name",
                *path,
            )
            return False
        return super().check_identifier(name, what, *path)

    def build(self) -> SynapseModel:  # type: ignore[override]
        if not isinstance(self.data, dict):
            raise ModelError(self.loc.diagnostic("a synapse model file must be a mapping of keys such as 'name'"))
        for key in self.data:
            if key not in KEYS:
                self.problem(f"unknown key {key!r}{did_you_mean(str(key), KEYS)}; keys: {', '.join(KEYS)}", key)
        if "name" not in self.data:
            self.problem("missing required key 'name'")
        name = self.model_name()
        description = self.text_field("description")
        references = self.references()
        parameters = self.synapse_parameters()
        equations = [eq for eq in self.equations() if eq is not None]
        for eq in equations:
            if eq.kind != "differential" or eq.flags:
                self.problem(
                    f"equation of {eq.name!r}: a synapse model has differential equations only, without flags "
                    "(they are event-driven)",
                    "equations",
                )
        defined = {WEIGHT, *parameters}
        for eq in equations:
            if eq.name in defined:
                self.problem(f"variable {eq.name!r} is defined twice (w is the weight)", "equations")
            self.check_identifier(eq.name, "variable", "equations")
            defined.add(eq.name)
        initial = self.synapse_initial(equations, parameters)
        on_pre = self.statements("on_pre", {WEIGHT, *(eq.name for eq in equations)}, defined)
        on_post = self.statements("on_post", {WEIGHT, *(eq.name for eq in equations)}, defined)
        transmit = self.data.get("transmit", WEIGHT)
        tree = self.parse(transmit, "transmit") if isinstance(transmit, str) else None
        if not isinstance(transmit, str):
            self.problem("transmit must be an expression such as 'w' or 'u * x * w'", "transmit")
        transmit = ex.normalise(tree) if tree is not None else WEIGHT
        if self.problems:
            raise ModelError(self.problems)
        model = SynapseModel(
            name=name,
            description=description,
            references=references,
            parameters=tuple(parameters.items()),
            equations=tuple(equations),
            initial=tuple(initial.items()),
            on_pre=tuple(on_pre),
            on_post=tuple(on_post),
            transmit=transmit,
            source=self.loc.source,
        )
        attempts = [_check_statements(model, weight) for weight in WEIGHT_DIMENSIONS]
        if all(attempts):
            raise ModelError([Diagnostic(problem, self.loc.source) for problem in attempts[0]])
        used = set()
        for text in (*(eq.expression for eq in equations), *on_pre, *on_post, transmit, *initial.values()):
            used |= ex.names_in(ex.parse(text.split(" ", 2)[2] if text in (*on_pre, *on_post) else text))
        unused = [p for p in parameters if p not in used]
        if unused:
            raise ModelError(
                [Diagnostic(f"parameter {p!r} is never used", self.loc.source, f"parameters.{p}") for p in unused]
            )
        return model

    def synapse_parameters(self) -> dict[str, Value | None]:
        raw = self.data.get("parameters")
        if raw is None:
            return {}
        if not isinstance(raw, dict):
            self.problem("parameters must be a mapping of name: value", "parameters")
            return {}
        result: dict[str, Value | None] = {}
        for name, value in raw.items():
            if not self.check_identifier(name, "parameter", "parameters", name):
                continue
            if name == WEIGHT:
                self.problem("w is the synapse's weight, set by connect(), not a parameter", "parameters", name)
                continue
            if value == WEIGHT_UNIT:
                result[name] = None
                continue
            parsed = self.literal(value, "parameters", name)
            if parsed is not None:
                result[name] = parsed
        return result

    def synapse_initial(self, equations: list[Equation], parameters: dict[str, Value | None]) -> dict[str, str]:
        raw = self.data.get("initial") or {}
        if not isinstance(raw, dict):
            self.problem("initial must be a mapping of variable: value", "initial")
            return {}
        variables = {eq.name: eq for eq in equations}
        result = {}
        for name, value in raw.items():
            if name not in variables:
                self.problem(
                    f"initial value for {name!r}, which is not a variable of the synapse"
                    f"{did_you_mean(str(name), variables)} (w is set by connect())",
                    "initial",
                    name,
                )
                continue
            text = value if isinstance(value, str) else repr(value)
            tree = self.parse(text, "initial", name)
            if tree is None:
                continue
            allowed = {n for n, v in parameters.items() if v is not None}
            bad = sorted(n for n in ex.names_in(tree) if n not in allowed and n not in ex.UNITS)
            if bad:
                self.problem(
                    f"initial value of {name!r} reads {', '.join(bad)}; only parameters (not weight parameters) "
                    "and units may appear",
                    "initial",
                    name,
                )
                continue
            dim = self.dimension(tree, f"initial value of {name!r}", "initial", name)
            if dim is not None and dim != variables[name].dimension:
                self.problem(
                    f"initial value of {name!r} has units of {ex.dimension_text(dim)}, the variable's are "
                    f"{ex.dimension_text(variables[name].dimension)}",
                    "initial",
                    name,
                )
                continue
            result[name] = ex.normalise(tree)
        return result

    def statements(self, key: str, writable: set[str], defined: set[str]) -> list[str]:
        raw = self.data.get(key)
        if raw is None:
            return []
        if isinstance(raw, str):
            raw = [line for line in raw.split("\n") if line.split("#", 1)[0].strip()]
        if not isinstance(raw, list) or not all(isinstance(line, str) for line in raw):
            self.problem(f"{key} must be a list of statements such as 'apre += A_plus'", key)
            return []
        result, temporaries = [], set()
        for index, line in enumerate(raw):
            code = line.split("#", 1)[0].strip()
            match = RESET_RE.match(code)
            if not match:
                self.problem(f"{key} statement {code!r} must be 'name = expr' or 'name += expr'", key, index)
                continue
            target, op = match.group("target"), match.group("op")
            if target not in writable and target not in temporaries:
                if target in defined:
                    self.problem(f"{key} statement {code!r} assigns to parameter {target!r}", key, index)
                    continue
                if op != "=" or not self.check_identifier(target, "temporary", key, index):
                    if op != "=":
                        self.problem(f"{key} statement {code!r}: {target!r} is not defined", key, index)
                    continue
                temporaries.add(target)
            tree = self.parse(match.group("expr"), key, index)
            if tree is None:
                continue
            unknown = sorted(
                n for n in ex.names_in(tree) if n not in defined | temporaries and n not in ex.UNITS and n != "t"
            )
            if unknown:
                self.problem(
                    f"{key} statement {code!r}: undefined name {unknown[0]!r}{did_you_mean(unknown[0], defined)}",
                    key,
                    index,
                )
                continue
            result.append(f"{target} {op} {ex.normalise(tree)}")
        return result


def build_synapse(text: str, source: str = "<string>") -> SynapseModel:
    """Check YAML text and build the synapse model.

    Raises
    ------
    ModelError
        With every problem found, each naming the file, field and line.
    """
    return _build_cached(text, source)


@functools.lru_cache(maxsize=64)
def _build_cached(text: str, source: str) -> SynapseModel:
    data, locator = yamlsafe.load(text, source)
    return _SynapseBuilder(data, locator).build()


def _folder():
    return resources.files("sourced_neuron.models.synapses")


def library_synapses() -> tuple[str, ...]:
    """Names of the synapse models in the library (``models/synapses/``), sorted."""
    return tuple(sorted(p.name[: -len(".yaml")] for p in _folder().iterdir() if p.name.endswith(".yaml")))


def load_synapse(name_or_path: str | Path | SynapseModel) -> SynapseModel:
    """Load a library synapse model by name (``"stdp_additive"``), or a synapse model file.

    Raises
    ------
    InputError
        Neither a library synapse model nor an existing file.
    ModelError
        The file is not a valid synapse model.
    """
    if isinstance(name_or_path, SynapseModel):
        return name_or_path
    path = files.as_path(name_or_path, "synapse model")
    text = str(path)
    if text in library_synapses():
        return build_synapse((_folder() / f"{text}.yaml").read_text(encoding="utf-8"), f"models/synapses/{text}.yaml")
    if path.suffix in (".yaml", ".yml") or "/" in text:
        try:
            source = files.read_text(path, "synapse model file", yamlsafe.MAX_BYTES)
        except InputError as exc:
            raise ModelError(Diagnostic(str(exc), text)) from None
        return build_synapse(source, text)
    raise InputError(
        f"no library synapse model {text!r}{did_you_mean(text, library_synapses())}; "
        f"library synapse models: {', '.join(library_synapses())}"
    )
