"""Fixtures shared by the tests of the compiled extension (`hegui._native`) and its numpy twins."""

from __future__ import annotations

import os
from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest

from hegui import native


@pytest.fixture
def native_ext() -> ModuleType:
    """The extension module. Where it was not built the test is skipped, except under
    ``HEGUI_REQUIRE_NATIVE`` (set by `make test`), where a missing extension fails it."""
    if os.environ.get("HEGUI_REQUIRE_NATIVE"):
        import hegui._native

        return hegui._native
    return pytest.importorskip("hegui._native", reason="the C extension was not built (no compiler at install time)")


@pytest.fixture
def numpy_then_c(native_ext: ModuleType, monkeypatch: pytest.MonkeyPatch) -> Callable[[Callable[[], Any]], tuple[Any, Any]]:
    """``both(fn)``: ``fn()`` on the numpy paths (``HEGUI_NATIVE=0``), then on the C paths."""

    def both(fn: Callable[[], Any]) -> tuple[Any, Any]:
        monkeypatch.setenv("HEGUI_NATIVE", "0")
        ref = fn()
        monkeypatch.setenv("HEGUI_NATIVE", "1")
        assert native.get() is native_ext
        return ref, fn()

    return both


@pytest.fixture
def pg_config(store_config: Any) -> Any:
    """The PostgreSQL variant of a test directory's ``store_config`` (SQLite and PostgreSQL);
    the SQLite one is skipped: for tests of what only PostgreSQL does."""
    if not store_config.url.startswith("postgresql"):
        pytest.skip("PostgreSQL only")
    return store_config
