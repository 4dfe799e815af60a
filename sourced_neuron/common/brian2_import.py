"""Import Brian2 without letting it change how the user's program reports errors and warnings.

Importing Brian2 installs its own exception hook, which reports every uncaught error of the
importing program as "Brian 2 encountered an unexpected error" and keeps a debug log in the
temporary folder, and routes every Python warning through its logger. A library leaves the
program's hook and warnings alone: this module, imported before Brian2 by every module of the
package that imports Brian2, imports it and puts both back (only where Brian2's import changed
them, so a program that imported Brian2 itself before keeps what Brian2 set).
"""

from __future__ import annotations

import logging
import sys
import warnings

_previous_hook = sys.excepthook
_first_import = "brian2" not in sys.modules
import brian2  # noqa: E402, F401 - the import whose side effects are undone below

if sys.excepthook is not _previous_hook and getattr(sys.excepthook, "__name__", "") == "brian_excepthook":
    sys.excepthook = _previous_hook
if _first_import:
    logging.captureWarnings(False)  # warnings are shown by Python's own warnings module again


def quiet_dependency_warnings() -> None:
    """Hide a known harmless warning: Brian2 2.10.1 calls pyparsing with an argument name that
    pyparsing >= 3.3 deprecates. Called here and again after importing Elephant, whose import puts
    a filter showing every ``UserWarning`` (which pyparsing's warnings are) in front of the others."""
    warnings.filterwarnings("ignore", message=".*'parseAll' argument is deprecated.*")


quiet_dependency_warnings()
