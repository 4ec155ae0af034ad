"""Plant ID numbers, mobile numbers, bank cards and e-mail addresses in prompts and answers, then
grep the store (SQLite files / PostgreSQL tables), the logs and /metrics: nothing in clear."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import openai
import pytest
from sqlalchemy import text

from hegui.store.testing import pg_available, temp_store

from .conftest import GatewayServer, LogCapture, make_settings
from .scripted_upstream import BANK_CARD, EMAIL, ID_CARD, MOBILE, ScriptedUpstream

SECRETS = (ID_CARD, MOBILE, BANK_CARD, EMAIL, "110105194912", "6222020200", "leak.test")
PROMPT = f"我叫张三，身份证 {ID_CARD}，手机 {MOBILE}，银行卡 {BANK_CARD}，请帮我写一封信。"


def _traffic(g: GatewayServer) -> None:
    c = openai.OpenAI(base_url=g.url, api_key=g.user_key, max_retries=0, timeout=10)
    msgs = [{"role": "user", "content": PROMPT}]
    c.chat.completions.create(model="scripted", messages=msgs)
    c.chat.completions.create(model="scripted", messages=[{"role": "user", "content": "[pii] " + PROMPT}])
    for content in ("[pii] " + PROMPT, "[email] " + PROMPT, f"发到 {EMAIL} " + PROMPT):
        for _ in c.chat.completions.create(model="scripted", messages=[{"role": "user", "content": content}], stream=True):
            pass
    c.chat.completions.create(model="scripted", messages=[{"role": "user", "content": f"{PROMPT} 邮箱 {EMAIL}"}])
    c.completions.create(model="scripted", prompt=PROMPT)
    c.moderations.create(input=[PROMPT, EMAIL])
    with pytest.raises(openai.APIStatusError):
        c.chat.completions.create(model="scripted", messages=[{"role": "user", "content": "[500] " + PROMPT}])
    httpx.post(f"{g.url}/chat/completions", content=("{" + PROMPT).encode(),
               headers={"Authorization": f"Bearer {g.user_key}"})
    # Wait for the streamed requests' final checks and audit rows (written after the stream ends).
    g.audit_rows(wait_kinds=23, timeout=10)


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_nothing_in_clear(backend: str, tmp_path: Path, upstream: ScriptedUpstream, logs: LogCapture,
                          capfd: pytest.CaptureFixture[str]) -> None:
    if backend == "postgres" and not pg_available():
        pytest.skip("PostgreSQL is not answering")
    with temp_store(backend, tmp_path) as store:
        s = make_settings(tmp_path / "var", upstream.url)
        s.store = store
        start = len(logs.text())
        with GatewayServer(s) as g:
            _traffic(g)
            metrics = httpx.get(f"{g.base}/metrics").text
            with g.state.engine.connect() as c:
                tables = ["api_keys", "rate_windows", "audit_chain_head", "audit_records"]
                dump = json.dumps([[list(map(str, r)) for r in c.execute(text(f"SELECT * FROM {t}"))] for t in tables],
                                  ensure_ascii=False)
                rows = c.execute(text("SELECT count(*) FROM audit_records WHERE content IS NOT NULL")).scalar_one()
        places = {"tables": dump, "metrics": metrics, "logs": logs.text()[start:], "stderr": capfd.readouterr().err}
        if backend == "sqlite":
            raw = b"".join(p.read_bytes() for p in (tmp_path).glob("store.db*"))
            places["sqlite files"] = raw.decode("utf-8", "replace")
        assert rows >= 10  # content is kept (redacted), so the grep is meaningful
        assert "<ID_CARD>" in dump and "<MOBILE>" in dump and "<BANK_CARD>" in dump
        for where, blob in places.items():
            for secret in SECRETS:
                assert secret not in blob, f"{secret!r} found in {where}"
