"""Every storage test runs on SQLite and on PostgreSQL (a fresh schema each, dropped afterwards)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from hegui.store import StoreConfig
from hegui.store.testing import pg_available, temp_store


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_config(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreConfig]:
    if request.param == "postgres" and not pg_available():
        pytest.skip("PostgreSQL is not answering at 127.0.0.1:5432 (run `make postgres`)")
    with temp_store(request.param, tmp_path) as cfg:
        yield cfg
