"""End to end: `hegui assess` through `hegui serve` (issue 4) in front of a bare scripted upstream.

The upstream never refuses, so every refusal measured here is the gateway's. Skipped only while the
gateway package is not in the tree. Figures go to var/assess_gateway.json for BENCHMARKS.md.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from hegui.testing import free_port

from .upstream import ScriptedUpstream

ROOT = Path(__file__).resolve().parents[2]
HEGUI = str(Path(sys.executable).parent / "hegui")  # the console script of this environment
pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("hegui.gateway") is None, reason="the gateway (issue 4) is not in the tree yet"
)


def test_assess_through_gateway(tmp_path: Path) -> None:
    port = free_port()
    # The gateway as shipped: default detectors (keywords, PII, classifier) and the default preset.
    env = {**os.environ, "HEGUI_ADMIN_KEY": "hegui-test-admin-key-0123456789", "HEGUI_VAR_DIR": str(tmp_path / "var"),
           "HEGUI_AUDIT__PURGE_INTERVAL_S": "0"}
    with ScriptedUpstream() as up:
        gw = subprocess.Popen(
            [HEGUI, "serve", "--host", "127.0.0.1", "--port", str(port), "--upstream", up.url],
            # A file, not a pipe: nobody reads a pipe while assess runs, and a full pipe stalls the gateway.
            env=env, stdout=(tmp_path / "gateway.log").open("wb"), stderr=subprocess.STDOUT, cwd=tmp_path,
        )
        try:
            for _ in range(600):  # up to 120 s on a busy machine
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if gw.poll() is not None:
                    pytest.fail(f"hegui serve exited: {(tmp_path / 'gateway.log').read_text()[-2000:]}")
                time.sleep(0.2)
            out = tmp_path / "run"
            r = subprocess.run(
                [HEGUI, "assess", "--target", f"http://127.0.0.1:{port}/v1", "--model", "bare",
                 "--out", str(out), "--api-key-env", "HEGUI_ADMIN_KEY", "--sample", "100", "--seed", "0", "--concurrency", "8"],
                env=env, capture_output=True, text=True, timeout=600,
            )
        finally:
            gw.terminate()
            gw.wait(timeout=20)
    assert r.returncode in (0, 1), r.stderr[-2000:]
    rep = json.loads((out / "report.json").read_text(encoding="utf-8"))
    m = rep["metrics"]
    assert m["errors"] == 0
    rows = [json.loads(x) for x in (out / "results.jsonl").read_text(encoding="utf-8").splitlines()]
    gw_refusals = [x for x in rows if x.get("refused")]
    # The upstream never refuses: every refusal came from the gateway and is recognised as such.
    assert all(x["refusal"]["by"] == "gateway" for x in gw_refusals)
    figures = {k: {x: m[k][x] for x in ("rate", "k", "n", "ci95")} for k in ("refusal", "wrongful_refusal", "qualified")}
    (ROOT / "var").mkdir(exist_ok=True)
    (ROOT / "var" / "assess_gateway.json").write_text(json.dumps(figures, indent=2), encoding="utf-8")
    print(json.dumps(figures))
