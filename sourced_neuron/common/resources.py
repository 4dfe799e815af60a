"""What a run may ask of the machine: the step limit, and memory estimated before it is taken.

A request is measured before anything is allocated (connections, recordings), so that a run
that cannot fit is refused with the number instead of failing with a raw ``MemoryError`` after
minutes of work, or swapping the machine to a halt.
"""

from __future__ import annotations

import os

from sourced_neuron.common.errors import InputError

__all__ = ["MAX_STEPS", "available_memory", "format_bytes", "require_memory"]

#: The most time steps one run may take (docs/semantics.md, "Limits"): 10^9 steps are 27.8 hours
#: of biological time at dt = 0.1 ms; a larger count is almost always a unit mistake.
MAX_STEPS = 1_000_000_000


def available_memory() -> int | None:
    """Bytes of memory available to a new allocation without swapping (Linux's ``MemAvailable``),
    or ``None`` where it cannot be read."""
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, AttributeError):
        return None


def format_bytes(count: float) -> str:
    """``1.5 GB``, ``320 MB``, ... (powers of 1000)."""
    for unit, size in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if count >= size:
            return f"{count / size:.3g} {unit}"
    return f"{count:.0f} bytes"


def require_memory(nbytes: float, what: str, advice: str = "") -> None:
    """Refuse a request that needs more memory than the machine has available.

    Parameters
    ----------
    nbytes : float
        The estimated bytes.
    what : str
        What needs them, e.g. ``"connect E -> E (all_to_all, 4e10 synapses)"``.
    advice : str
        What the user can do instead.

    Raises
    ------
    InputError
        ``nbytes`` exceeds the available memory, with both numbers.
    """
    available = available_memory()
    if available is not None and nbytes > available:
        raise InputError(
            f"{what} needs about {format_bytes(nbytes)} of memory and this machine has {format_bytes(available)} "
            "available" + (f"; {advice}" if advice else "")
        )
