"""Several gateway processes on one PostgreSQL database behave as one service: one rate-limit
budget per key, one unbroken audit chain, revocation seen everywhere (within the key cache's
bound, ``store.key_cache_s``). Server A runs two uvicorn workers (``--workers 2``), server B is a
second `hegui serve`; keys come from the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from hegui.store.testing import pg_available, temp_store

from .conftest import ADMIN_KEY, write_policy
from .scripted_upstream import ScriptedUpstream, free_port

HEGUI = str(Path(sys.executable).parent / "hegui")
pytestmark = pytest.mark.postgres


def _wait(port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 120  # a busy shared machine can take a while to import and load models
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            pytest.fail(f"hegui serve exited: {log.read_text()[-2000:]}")
        time.sleep(0.1)
    pytest.fail(f"hegui serve did not become ready: {log.read_text()[-2000:]}")


def test_two_servers_one_store(tmp_path: Path, upstream: ScriptedUpstream) -> None:
    if not pg_available():
        pytest.skip("PostgreSQL is not answering")
    with temp_store("postgres", tmp_path) as store:
        env = {**os.environ, "HEGUI_STORE__URL": store.url, "HEGUI_STORE__DB_SCHEMA": store.db_schema or "",
               "HEGUI_SECRET_KEY": "replica-test-secret", "HEGUI_ADMIN_KEY": ADMIN_KEY,
               "HEGUI_POLICY": str(write_policy(tmp_path)), "HEGUI_GUARD__DETECTORS": '["pii"]',
               "HEGUI_AUDIT__PURGE_INTERVAL_S": "0", "HEGUI_VAR_DIR": str(tmp_path / "var")}
        pa, pb = free_port(), free_port()
        procs = [
            subprocess.Popen([HEGUI, "serve", "--port", str(pa), "--workers", "2", "--upstream", upstream.url],
                             env=env, stdout=(tmp_path / "a.log").open("wb"), stderr=subprocess.STDOUT, cwd=tmp_path),
            subprocess.Popen([HEGUI, "serve", "--port", str(pb)],  # the upstream from HEGUI_UPSTREAM_URL
                             env={**env, "HEGUI_UPSTREAM_URL": upstream.url}, stdout=(tmp_path / "b.log").open("wb"),
                             stderr=subprocess.STDOUT, cwd=tmp_path),
        ]
        try:
            _wait(pa, procs[0], tmp_path / "a.log")  # logs to files: an unread pipe would stall the servers
            _wait(pb, procs[1], tmp_path / "b.log")
            made = subprocess.run([HEGUI, "keys", "create", "--user", "carol", "--rpm", "6"], env=env,
                                  capture_output=True, text=True, check=True)
            key = made.stdout.strip()
            urls = [f"http://127.0.0.1:{p}/v1" for p in (pa, pb)]
            # Rate windows are wall-clock minutes: start the ten requests well inside one, or a
            # boundary in the middle would give a fresh budget (a flaky 7th success).
            if time.time() % 60 > 45:
                time.sleep(60.5 - time.time() % 60)
            codes = [httpx.post(f"{urls[i % 2]}/moderations", json={"input": "你好"},
                                headers={"Authorization": f"Bearer {key}"}).status_code for i in range(10)]
            assert sorted(codes) == [200] * 6 + [429] * 4, codes  # one budget across both servers

            def chat(i: int) -> int:
                r = httpx.post(f"{urls[i % 2]}/chat/completions", timeout=20, headers={"Authorization": f"Bearer {ADMIN_KEY}"},
                               json={"model": "scripted", "stream": i % 3 == 0, "messages": [{"role": "user", "content": "你好"}]})
                return r.status_code

            with ThreadPoolExecutor(16) as ex:
                assert set(ex.map(chat, range(48))) == {200}
            for _ in range(20):  # streamed requests write their rows just after the stream ends
                v = subprocess.run([HEGUI, "audit", "verify", "--json"], env=env, capture_output=True, text=True)
                if '"rows": 160' in v.stdout:
                    break
                time.sleep(0.5)
            assert v.returncode == 0, v.stdout + v.stderr
            # 6×2 moderation rows, 4 audited 429 refusals, 48×3 chat rows
            assert '"ok": true' in v.stdout and '"rows": 160' in v.stdout
            listed = subprocess.run([HEGUI, "keys", "list", "--json"], env=env, capture_output=True, text=True, check=True)
            kid = next(line for line in listed.stdout.splitlines() if '"carol"' in line).split('"id": ')[1].split(",")[0]
            for u in urls:  # the key is live, and now cached, in both servers
                assert httpx.post(f"{u}/moderations", json={"input": "hi"},
                                  headers={"Authorization": f"Bearer {key}"}).status_code in (200, 429)
            subprocess.run([HEGUI, "keys", "revoke", kid], env=env, check=True, capture_output=True)
            revoked_at = time.monotonic()
            # Revocation from another process is seen by every process within store.key_cache_s
            # (2 s by default; the CLI run itself takes part of it), then never works again.
            for u in urls:
                while (code := httpx.post(f"{u}/moderations", json={"input": "hi"},
                                          headers={"Authorization": f"Bearer {key}"}).status_code) != 401:
                    assert time.monotonic() - revoked_at < 2.0 + 1.0, f"revoked key still accepted ({code})"
                    time.sleep(0.1)
            # Once the bound has passed since the revocation committed, no worker of either server
            # accepts it: an entry lives ttl_s after the lookup that made it, refreshed ahead or not,
            # and no lookup after the commit finds the key (server A's two workers cache apart).
            time.sleep(max(0.0, revoked_at + 2.0 + 0.3 - time.monotonic()))
            for u in urls:
                for _ in range(6):
                    assert httpx.post(f"{u}/moderations", json={"input": "hi"},
                                      headers={"Authorization": f"Bearer {key}"}).status_code == 401
        finally:
            for p in procs:
                p.terminate()
            for p in procs:
                try:
                    p.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    p.kill()
