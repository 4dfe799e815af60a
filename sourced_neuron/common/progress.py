"""Progress bars of long runs and sweeps (tqdm, on standard error).

A bar is shown only on a terminal: when standard error is redirected (a file, a pipe, a CI
log) nothing is printed. ``progress=False`` (or the environment variable
``SOURCED_NEURON_PROGRESS=0``, or the command line's ``--quiet``) turns bars off everywhere;
``progress=True`` shows them even without a terminal.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
from tqdm import tqdm

from sourced_neuron.common.errors import InputError

__all__ = ["Progress", "enabled", "iterate", "quiet"]

ENVIRONMENT = "SOURCED_NEURON_PROGRESS"
_QUIET = [False]  # set by quiet()


def enabled(option: bool | None = None) -> bool:
    """Whether to show a bar: ``option`` when given, else off inside :func:`quiet` or if
    ``SOURCED_NEURON_PROGRESS`` is ``0``, else whether standard error is a terminal."""
    if option is not None:
        if not isinstance(option, bool | np.bool_):
            raise InputError(f"progress must be True, False or None (on a terminal only), got {option!r}")
        return bool(option)
    if _QUIET[0]:
        return False
    if os.environ.get(ENVIRONMENT, "").strip() == "0":
        return False
    return sys.stderr.isatty()


class Progress:
    """Progress of one simulation in simulated time (a no-op when disabled).

    Backends call :meth:`advance_to` with the simulated time reached (seconds) and
    :meth:`phase` for work that has no simulated time (code generation, compiling).
    """

    def __init__(self, total_seconds: float, description: str, option: bool | None = None):
        self.total = float(total_seconds)
        self._bar = None
        if enabled(option):
            self._bar = tqdm(
                total=round(self.total * 1e3, 6),
                desc=description,
                unit="ms",
                unit_scale=False,
                file=sys.stderr,
                leave=False,
                dynamic_ncols=True,
                bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.0f}/{total:.0f} ms simulated [{elapsed}<{remaining}]",
            )

    @property
    def active(self) -> bool:
        return self._bar is not None

    def advance_to(self, seconds: float) -> None:
        """The simulation has reached ``seconds`` of simulated time."""
        if self._bar is not None:
            self._bar.update(round(min(seconds, self.total) * 1e3, 6) - self._bar.n)

    def phase(self, text: str) -> None:
        """Name what is being done now (shown after the description)."""
        if self._bar is not None:
            self._bar.set_postfix_str(text, refresh=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


@contextmanager
def quiet() -> Iterator[None]:
    """No bar by default inside this block (the command line's ``--quiet``)."""
    before, _QUIET[0] = _QUIET[0], True
    try:
        yield
    finally:
        _QUIET[0] = before


def iterate[T](
    items: Iterable[T], description: str, option: bool | None = None, total: int | None = None
) -> Iterator[T]:
    """``items``, with a bar over them when enabled (sweeps: currents, backends, models)."""
    if not enabled(option):
        yield from items
        return
    bar = tqdm(items, desc=description, total=total, file=sys.stderr, leave=False, dynamic_ncols=True)
    try:
        yield from bar
    finally:
        bar.close()
