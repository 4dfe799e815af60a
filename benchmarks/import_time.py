"""Start-up time: ``import sourced_neuron``, the first model, ``sourced-neuron check``, against the
libraries underneath (``import brian2``, ``import neo``, ``import elephant``).

Each command is a fresh ``python -c`` process timed from outside, as a user waits for it
(interpreter start-up included); medians of ``--repeats`` runs after one untimed warm-up run
(which fills the operating system's file cache). Usage::

    python benchmarks/import_time.py [--repeats 15]
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

MODEL = str(Path(__file__).resolve().parents[1] / "models" / "lif.yaml")

#: label -> Python statement run in a fresh interpreter
COMMANDS = {
    "python (start-up only)": "pass",
    "import sourced_neuron": "import sourced_neuron",
    "sourced-neuron check lif.yaml": f"from sourced_neuron.cli.main import main; main(['check', {MODEL!r}])",
    "sn.load_model('lif')": "import sourced_neuron as sn; sn.load_model('lif')",
    "import brian2": "import brian2",
    "import neo": "import neo",
    "import elephant": "import elephant.statistics",
}


def median_seconds(statement: str, repeats: int) -> float:
    """Median wall time of ``python -c statement`` over ``repeats`` runs, after one warm-up."""
    times = []
    for repeat in range(repeats + 1):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", statement], check=True, capture_output=True)
        if repeat:
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    results = {}
    for label, statement in COMMANDS.items():
        results[label] = median_seconds(statement, args.repeats)
        print(f"{label:34s} {results[label]:6.3f} s", flush=True)
    brian2 = results["import brian2"]
    print(f"\n  check / import brian2: {results['sourced-neuron check lif.yaml'] / brian2:.2f}")
    print(f"  import sourced_neuron / import brian2: {results['import sourced_neuron'] / brian2:.2f}")
    versions = ", ".join(
        f"{p} {importlib.metadata.version(p)}" for p in ("sourced-neuron", "brian2", "neo", "elephant")
    )
    machine = platform.processor() or platform.machine()
    print(f"\n{machine}, {os.cpu_count()} cores, Python {platform.python_version()}; {versions}")


if __name__ == "__main__":
    main()
