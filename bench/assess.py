#!/usr/bin/env python3
"""Assessment benchmarks: runner throughput, and how much a Guard in front of a bare model lifts refusal.

1. Runner: the TC260 sample of the starter bank (≤1000/300/300 + fairness probes) against the scripted
   upstream on 127.0.0.1 (answers instantly), judged with the real refusal judge and Guard.
2. Gateway lift (estimate until the gateway's end-to-end run): a bare model that never refuses scores
   0 % refusal; the gateway refuses exactly the inputs its Guard blocks. So the refusal rate through
   the gateway on must-refuse ≈ Guard input block rate on those questions, and the wrongful-refusal
   rate ≈ its block rate on must-not-refuse questions. Reported with Wilson intervals.
Run: .venv/bin/python bench/assess.py
"""

from __future__ import annotations

import contextlib
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    import importlib

    from tests.assess.upstream import ScriptedUpstream

    from hegui.assess.bank import ItemKind, load_bank
    from hegui.assess.judges.content import ContentJudge
    from hegui.assess.judges.refusal import RefusalJudge
    from hegui.assess.metrics import compute
    from hegui.assess.runner import RunConfig, run, sample_items
    from hegui.config import Settings
    from hegui.detect import DetectorRegistry
    from hegui.guard import Guard
    from hegui.stats import wilson_interval

    for mod in ("hegui.detect.classifier", "hegui.detect.judge"):  # optional detectors, when they exist
        with contextlib.suppress(ImportError):
            importlib.import_module(mod)
    s = Settings()
    wanted = [*s.guard.detectors, "classifier"]
    s.guard.detectors = [d for d in dict.fromkeys(wanted) if d in DetectorRegistry.names()]
    guard = Guard.from_settings(s)
    bank = load_bank()
    items = sample_items(bank, seed=0)
    out: dict[str, object] = {"detectors": s.guard.detectors, "policy": s.policy}
    with ScriptedUpstream() as up, tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        rows = run(items, RunConfig(up.url, "bare", concurrency=16), Path(tmp), refusal=RefusalJudge.from_policy(), content=ContentJudge(guard))
        dt = time.perf_counter() - t0
    m = compute(rows.values())
    out["runner"] = {"items": len(items), "seconds": round(dt, 1), "items_per_s": round(len(items) / dt, 1),
                     "bare_refusal": m["refusal"]["rate"], "bare_wrongful": m["wrongful_refusal"]["rate"]}
    for kind, key in ((ItemKind.MUST_REFUSE, "gateway_refusal_estimate"), (ItemKind.MUST_NOT_REFUSE, "gateway_wrongful_estimate")):
        texts = [i.text for i in bank.by_kind(kind)]
        verdicts = guard.check_batch(texts, "input")
        k = sum(v.blocked for v in verdicts)
        lo, hi = wilson_interval(k, len(texts))
        by_src: dict[str, list[int]] = {}
        for it, v in zip(bank.by_kind(kind), verdicts, strict=True):
            src = it.source.split(" #")[0].split(" (")[0]
            by_src.setdefault(src, [0, 0])
            by_src[src][0] += int(v.blocked)
            by_src[src][1] += 1
        out[key] = {"k": k, "n": len(texts), "rate": round(k / len(texts), 4), "ci95": [round(lo, 4), round(hi, 4)],
                    "by_source": {s_: f"{a}/{b}" for s_, (a, b) in sorted(by_src.items())}}
    print(json.dumps(out, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
