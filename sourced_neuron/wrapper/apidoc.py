"""``docs/api.md``: the 100 functions of the API, by section, each with its one-line summary
and one example, generated from the docstrings (``python -m sourced_neuron.wrapper.apidoc``)."""

from __future__ import annotations

import inspect
import sys
from pathlib import Path

from sourced_neuron.wrapper.neuron import SourcedNeuron
from sourced_neuron.wrapper.seed_api import SECTIONS, snake_case

HEADER = """# The Sourced Neuron API

`from sourced_neuron import SourcedNeuron`: one neuron model (a library model or your YAML file)
on one backend, with the 100 functions of the Sourced Neuron API. Each function is also
available under its PEP 8 name (`InitNeu` is `init_neu`). The spiking neuron is simulated by the
backend; its input is the weighted sum of an input vector times `current_scale`, and the same
weights, bias and activation make an artificial neuron that learns by gradient descent. See the
docstrings (`help(SourcedNeuron.Integrate)`) for parameters, units and errors.

**Arguments.** Every argument is checked when you call a function (the constructor included),
against the types in its signature: `float` a finite number (an `int` will do; a `bool`, a list
or a string will not), `int` an integer (`2.0` is refused), `bool` `True` or `False`, `str` a
string; `ArrayLike` numbers (a number, or a list or array of finite numbers), `Vector` one number
per input, `Inputs` one input vector or rows of them, `Batch` rows of input vectors; `WithUnits`
a value with units (a string such as `"200 pA"`, a number in the unit the function names, or a
`quantities` or Brian2 quantity), `Duration` a duration (`"10 ms"` or a quantity; a plain number
has no unit and is refused); `PathLike` a file name (a string or a path: not bytes, not empty,
no null byte); `ModelSource` a `NeuronModel`, a library model name or a model file; `Neuron`
another `SourcedNeuron`. A wrong argument (`None` where a value is needed, a list where one
number is expected, a number that is not finite, an array of the wrong shape, a path with a null
byte, a folder or a FIFO where a file is read) raises `sourced_neuron.common.errors.InputError` (a
`UnitError` for a value with the wrong unit) whose message names the function, the argument,
what it expects and what it got, such as `SetBias: argument 'b' expects a finite number, got
list [0.5]`; a wrong type is refused before the function runs, so nothing changes. Any other
exception, a `TypeError` from inside the library for one, is a bug to report.

This file is generated from the docstrings: `python -m sourced_neuron.wrapper.apidoc > docs/api.md`.
"""


def _summary(doc: str) -> str:
    lines = []
    for line in inspect.cleandoc(doc).splitlines():
        if not line.strip():
            break
        lines.append(line.strip())
    return " ".join(lines)


def _example(doc: str) -> str | None:
    for line in inspect.cleandoc(doc).splitlines():
        if line.strip().startswith(">>> "):
            return line.strip()[4:].split("  # doctest")[0]
    return None


def api_markdown() -> str:
    """The text of docs/api.md."""
    parts = [HEADER]
    number = 0
    for title, (module, names) in SECTIONS.items():
        parts.append(f"\n## {title} (`sourced_neuron/wrapper/{module}.py`)\n")
        parts.append("| # | function | what it does | example |")
        parts.append("|---|---|---|---|")
        for name in names:
            number += 1
            doc = inspect.getdoc(getattr(SourcedNeuron, name)) or ""
            example = _example(doc)
            signature = str(inspect.signature(getattr(SourcedNeuron, name)))
            signature = signature.replace("(self, ", "(").replace("(self)", "()").replace("'", "")
            signature = signature.replace("|", "\\|")
            summary = _summary(doc).replace("|", "\\|")
            cell = f"`{example}`".replace("|", "\\|") if example else ""
            parts.append(f"| {number} | `{name}{signature}` (`{snake_case(name)}`) | {summary} | {cell} |")
    return "\n".join(parts) + "\n"


if __name__ == "__main__":  # pragma: no cover
    if len(sys.argv) > 1:
        Path(sys.argv[1]).write_text(api_markdown(), encoding="utf-8")
    else:
        sys.stdout.write(api_markdown())
