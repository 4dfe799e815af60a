"""The package's layout: stages in folder names, imports only downwards, no cycles, no private names.

The graph is read from the source with ``ast`` (every ``import`` statement, at module level or
inside a function), so an import hidden in a function to break a cycle counts like any other.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import sourced_neuron

PACKAGE = Path(sourced_neuron.__file__).parent

# The stages from the bottom up (docs/development.md); a module may import its own stage and lower ones.
STAGES = [
    "common",
    "spec",
    "codegen",
    "backends",
    "results",
    "run",
    "analysis",
    "experiments",
    "inference",
    "wrapper",
    "cli",
]


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py")) if "models" not in p.parts}


def _stage(module: str) -> int:
    parts = module.split(".")
    if len(parts) == 1 or parts[1] in {"__main__"}:
        return len(STAGES)  # the package's front door sits above every stage
    return STAGES.index(parts[1])


def _imports(module: str) -> list[tuple[str, list[str], int]]:
    """(imported module, names taken from it, line) for every import of the package's own modules."""
    path = MODULES[module]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(a.name, [], node.lineno) for a in node.names if a.name.startswith("sourced_neuron")]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            if not base.startswith("sourced_neuron"):
                continue
            for alias in node.names:
                target = f"{base}.{alias.name}"
                if target in MODULES:  # "from package import module"
                    found.append((target, [], node.lineno))
                else:
                    found.append((base, [alias.name], node.lineno))
    return found


def test_every_module_is_in_a_stage_folder():
    loose = [m for m in MODULES if m.count(".") == 1 and m.split(".")[1] not in {*STAGES, "__main__"}]
    assert not loose, f"modules outside the stage folders: {loose}"


def test_no_import_from_a_higher_stage():
    upward = [
        f"{module} (line {line}) imports {target}"
        for module in MODULES
        for target, _, line in _imports(module)
        if target in MODULES and _stage(target) > _stage(module)
    ]
    assert not upward, "\n".join(upward)


def test_no_private_names_across_modules():
    private = [
        f"{module} (line {line}) imports {name} from {target}"
        for module in MODULES
        for target, names, line in _imports(module)
        for name in names
        if name.startswith("_") and not name.startswith("__") and target != module
    ]
    assert not private, "\n".join(private)


def test_the_import_graph_has_no_cycle():
    graph = {m: sorted({t for t, _, _ in _imports(m) if t in MODULES and t != m}) for m in MODULES}
    # A package's __init__ is imported by its modules' imports as a side effect; only the edges
    # written in the source count, so "package imports its module" alone is no cycle.
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in graph[node]:
            if state.get(nxt) == 1:
                cycles.append([*path[path.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = 2

    for module in graph:
        if module not in state:
            visit(module, [module])
    assert not cycles, "\n".join(" -> ".join(c) for c in cycles)


@pytest.mark.parametrize(
    "statement",
    ["import sourced_neuron", "import sourced_neuron as sn; sn.load_model; sn.export", "import sourced_neuron.cli"],
)
def test_import_loads_no_simulator_or_analysis_library(statement):
    """Simulators and analysis libraries load when first used, not at import (issue: a fast import)."""
    heavy = ["brian2", "neo", "elephant", "matplotlib", "nest", "pyNN", "scipy", "sympy", "h5py", "pynwb"]
    if "load_model" in statement:
        heavy = [h for h in heavy if h not in {"brian2", "sympy", "matplotlib", "scipy"}]  # units are Brian2's
    code = f"{statement}; import sys; print(' '.join(m for m in {heavy!r} if m in sys.modules))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert not loaded, f"{statement!r} loaded {loaded}"


def test_a_known_harmless_warning_stays_hidden_whatever_loads_first():
    """Brian2 2.10.1 makes pyparsing warn on every run; the package hides that warning, and Elephant,
    loaded later by the analysis stage, puts a filter showing every UserWarning in front: the
    warning must stay hidden when the analysis stage loads before or after a run."""
    code = (
        "import sourced_neuron as sn; sn.simulate('lif', duration='5 ms', progress=False); "
        "import sourced_neuron.analysis.measures; sn.simulate('izhikevich', duration='5 ms', progress=False)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "parseAll" not in result.stderr, result.stderr
