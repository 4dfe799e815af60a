"""Import Brian2 without letting it replace the user's ``sys.excepthook``.

Importing Brian2 installs its own exception hook, which reports every uncaught error of the
importing program as "Brian 2 encountered an unexpected error" and keeps a debug log in the
temporary folder. A library leaves the program's hook alone: this module, imported first by the
package, imports Brian2 and puts the previous hook back (only when it was Brian2's that replaced
it, so a hook the user installed after importing Brian2 is kept).
"""

from __future__ import annotations

import sys

_previous = sys.excepthook
import brian2  # noqa: E402, F401 - the import whose side effect is undone below

if sys.excepthook is not _previous and getattr(sys.excepthook, "__name__", "") == "brian_excepthook":
    sys.excepthook = _previous
