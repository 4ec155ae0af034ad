"""Fixtures: the real Guard with the PII detector (keywords too once it is importable)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def guard():  # type: ignore[no-untyped-def]
    from hegui.config import Settings
    from hegui.detect import DetectorRegistry
    from hegui.guard import Guard

    names = [n for n in ("keywords", "pii") if n in DetectorRegistry.names()]
    s = Settings()
    s.guard.detectors = names
    return Guard.from_settings(s)
