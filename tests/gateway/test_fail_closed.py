"""Fail closed: a detector that cannot answer, or a store that cannot write, refuses the request
with a clear 503 (counted in metrics) — never passes it unchecked or unaudited."""

from __future__ import annotations

from pathlib import Path

import httpx
import openai
import pytest
from sqlalchemy import text

from .conftest import GatewayServer, make_settings
from .scripted_upstream import ScriptedUpstream, free_port


def test_judge_unreachable_fails_closed(tmp_path: Path, upstream: ScriptedUpstream) -> None:
    s = make_settings(tmp_path / "var", upstream.url)
    dead = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    s.guard.detectors = ["pii", "judge"]
    s.guard.options = {"judge": {"url": dead, "timeout": 0.5}}
    before = len(upstream.received)
    with GatewayServer(s) as g:
        assert g.state.offload_checks  # network detectors never run on the event loop
        c = openai.OpenAI(base_url=g.url, api_key=g.user_key, max_retries=0)
        with pytest.raises(openai.APIStatusError) as e:
            c.chat.completions.create(model="scripted", messages=[{"role": "user", "content": "你好"}])
        assert e.value.status_code == 503 and e.value.body["code"] == "moderation_unavailable"
        with pytest.raises(openai.APIStatusError):
            c.moderations.create(input="你好")
        assert len(upstream.received) == before  # nothing went upstream unchecked
        m = httpx.get(f"{g.base}/metrics").text
        assert 'hegui_fail_closed_total{reason="moderation"} 2.0' in m
        rows = g.audit_rows(wait_kinds=2)
        assert any(r.detail == "moderation_failed" and r.status == 503 for r in rows)


def test_store_failure_withholds_answer(tmp_path: Path, upstream: ScriptedUpstream) -> None:
    with GatewayServer(make_settings(tmp_path / "var", upstream.url)) as g:
        c = openai.OpenAI(base_url=g.url, api_key=g.user_key, max_retries=0)
        c.chat.completions.create(model="scripted", messages=[{"role": "user", "content": "你好"}])
        with g.state.engine.begin() as conn:  # the audit table becomes unwritable
            conn.execute(text("ALTER TABLE audit_records RENAME TO audit_records_gone"))
        with pytest.raises(openai.APIStatusError) as e:
            c.chat.completions.create(model="scripted", messages=[{"role": "user", "content": "你好"}])
        assert e.value.status_code == 503 and e.value.body["code"] == "audit_unavailable"
        assert 'hegui_fail_closed_total{reason="audit"}' in httpx.get(f"{g.base}/metrics").text
