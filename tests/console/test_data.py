"""The read and edit functions behind the console pages, on SQLite and PostgreSQL: audit search and
per-day stats, and stored text edits shared by every gateway process."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from hegui.audit import AuditEntry, append, pseudonymize
from hegui.audit.search import AuditQuery, search, stats

KEY = b"console-data-key"


def _rows(factory: Any) -> None:
    alice, bob = pseudonymize(KEY, "alice"), pseudonymize(KEY, "bob")
    append(factory, KEY, [
        AuditEntry("r1", "request", alice, "/v1/chat/completions", "m", "allow", 200, 5.0),
        AuditEntry("r2", "input", bob, "/v1/chat/completions", "m", "block", 200, 3.0, risks=["A.1.a", "pii.email"],
                   content="请联系 <EMAIL>"),
        AuditEntry("r2", "request", bob, "/v1/chat/completions", "m", "block", 200, 4.0),
        AuditEntry("r3", "output", alice, "/v1/chat/completions", "m", "redact", 200, 2.0, risks=["pii.id_card"]),
        AuditEntry("r3", "request", alice, "/v1/chat/completions", "m", "redact", 200, 6.0),
        AuditEntry("r4", "input", alice, "/v1/chat/completions", "m", "allow", 200, 1.0, risks=["A.10"]),
    ], keep_content=True)


def test_search_filters(factory: Any) -> None:
    _rows(factory)
    assert [r.seq for r in search(factory, KEY, AuditQuery())] == [6, 5, 4, 3, 2, 1]
    assert {r.request_id for r in search(factory, KEY, AuditQuery(user="alice"))} == {"r1", "r3", "r4"}
    assert {r.request_id for r in search(factory, KEY, AuditQuery(user=pseudonymize(KEY, "bob")))} == {"r2"}
    assert [r.seq for r in search(factory, KEY, AuditQuery(risk="pii.email"))] == [2]
    assert [r.seq for r in search(factory, KEY, AuditQuery(risk="A.1"))] == [2]  # a prefix matches ids
    assert [r.seq for r in search(factory, KEY, AuditQuery(risk="pii"))] == [4, 2]
    assert [r.seq for r in search(factory, KEY, AuditQuery(risk="%"))] == []  # LIKE wildcards are literal
    assert [r.seq for r in search(factory, KEY, AuditQuery(request_id="r2", kind="input"))] == [2]
    assert search(factory, KEY, AuditQuery(request_id="r2", kind="input"))[0].content == "请联系 <EMAIL>"
    assert [r.seq for r in search(factory, KEY, AuditQuery(action="block"))] == [3, 2]
    now = datetime.now(UTC)
    assert len(search(factory, KEY, AuditQuery(since=now - timedelta(minutes=5), until=now + timedelta(minutes=5)))) == 6
    assert search(factory, KEY, AuditQuery(until=now - timedelta(days=1))) == []
    assert [r.seq for r in search(factory, KEY, AuditQuery(before_seq=3, limit=1))] == [2]


def test_stats_per_day_and_risk(factory: Any) -> None:
    _rows(factory)
    s = stats(factory, days=7)
    assert len(s.days) == 7 and s.days[-1] == datetime.now(UTC).date().isoformat()
    assert s.requests[-1] == 3 and sum(s.requests) == 3
    assert s.blocked[-1] == 1 and s.redacted[-1] == 1
    assert s.by_risk["pii.email"][-1] == 1 and "A.10" not in s.by_risk  # an allowed finding is not a decision
    assert dict(s.top_risks) == {"A.1.a": 1, "pii.email": 1, "pii.id_card": 1}


def test_text_edits_are_validated_stored_and_shared(factory: Any, tmp_path: Path) -> None:
    from hegui.audit import verify
    from hegui.config import Settings
    from hegui.console import texts

    a, b = Settings(var_dir=tmp_path / "a"), Settings(var_dir=tmp_path / "b")
    with pytest.raises(texts.TextsError, match="GB 45438"):
        texts.save(factory, KEY, a, "label", {"suffix": "（仅供参考）"}, "console:ada")
    texts.save(factory, KEY, a, "label", {"suffix": "【本回答由人工智能生成】"}, "console:ada")
    texts.save(factory, KEY, a, "notices", {"filing_number": "Beijing-TEST-001"}, "console:ada")
    assert a.gateway.label.suffix == "【本回答由人工智能生成】"
    # Another process, same store: it converges on the edit; fields not edited keep their value.
    assert b.gateway.label.suffix != "【本回答由人工智能生成】"
    texts.apply(b, texts.load(factory))
    assert b.gateway.label.suffix == "【本回答由人工智能生成】" and b.gateway.label.enabled
    assert b.notices.filing_number == "Beijing-TEST-001" and b.notices.terms == a.notices.terms
    assert verify(factory, KEY).ok  # the edits were audited on the chain
