"""The optional compiled twins of hegui's hottest numpy loops (`hegui._native`, src/hegui/_native.c).

Why a switch: each compiled function gives the same bits as a numpy path that stays in the
package, as the reference its tests compare with and as the fallback where the extension did not
build (setup.py marks it optional: no compiler, no failure). ``HEGUI_NATIVE=0`` runs the numpy
paths on a machine that has the extension, for those tests and for benchmarks.
"""

from __future__ import annotations

import os
from types import ModuleType

try:
    from hegui import _native
except ImportError:  # no C compiler at install time
    _native = None


def get() -> ModuleType | None:
    """The extension module, or None when it is missing or switched off with ``HEGUI_NATIVE=0``."""
    if _native is None or os.environ.get("HEGUI_NATIVE", "1") == "0":
        return None
    return _native
