"""Package attributes that import their module on first use (PEP 562 module ``__getattr__``).

Why: `hegui.config` imports every feature's small ``config`` module, and a package
``__init__`` that re-exports its heavy modules (the store's SQLAlchemy models and Alembic, the
audit chain) would make every command pay for them; `hegui scan` never opens the store.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from typing import Any


def exports(package: str, sources: dict[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package`` that finds ``name`` in ``sources[name]`` (a module
    path), imports it then, and keeps the value in the package so later lookups go direct."""

    def __getattr__(name: str) -> Any:
        source = sources.get(name)
        if source is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(source), name)
        setattr(sys.modules[package], name, value)
        return value

    return __getattr__
