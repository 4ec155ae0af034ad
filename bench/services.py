"""What the service duties add per request, and the blocklist detector's speed.

0. Store work per admitted request, in process: the pre-checks' one read session and the usage
   transaction, on SQLite and PostgreSQL (300 requests after 20 warm-up).
1. Gateway: one `hegui serve` per store (SQLite, PostgreSQL in a fresh schema) in front of the
   scripted upstream, policy ``interim-2023`` (unverified users allowed). The same prompt is sent
   with an admin key (exempt from the duties: no sanction, identity or usage step) and with user
   keys, one user per client (read session and usage transaction per request), non-streaming, at 1
   and 16 concurrent clients. The difference is the cost of the duties.
2. Blocklist detector: check time of a 500-character answer against 1,000 and 10,000 entries
   (synthetic 40–120-character texts), and the time to load them from rows.

    nice -n 10 .venv/bin/python bench/services.py [--requests 300] [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "gateway"))
sys.path.insert(0, str(ROOT / "bench"))
from scripted_upstream import free_port  # noqa: E402

from gateway import pct, start, stop  # noqa: E402  (bench/gateway.py: same process handling)

HEGUI = str(Path(sys.executable).parent / "hegui")
KEY = "hegui-bench-admin-key-0123456789"
PROMPT = "请简要说明一下办理居住证的流程。"


async def level(base: str, keys: list[str], conc: int, n: int) -> dict[str, Any]:
    """``n`` non-streaming chat requests from ``conc`` clients, client i sending with ``keys[i % len]``:
    latency percentiles and rate."""
    lat: list[float] = []
    errors = 0
    body = {"model": "scripted", "messages": [{"role": "user", "content": PROMPT}]}
    limits = httpx.Limits(max_connections=conc, max_keepalive_connections=conc)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:

        async def one(key: str) -> None:
            nonlocal errors
            t0 = time.perf_counter()
            r = await client.post(f"{base}/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"})
            if r.status_code != 200:
                errors += 1
                return
            lat.append(time.perf_counter() - t0)

        for k in keys:
            await one(k)
        lat.clear()
        todo = n
        t0 = time.perf_counter()

        async def worker(key: str) -> None:
            nonlocal todo
            while todo > 0:
                todo -= 1
                await one(key)

        await asyncio.gather(*(worker(keys[i % len(keys)]) for i in range(conc)))
        wall = time.perf_counter() - t0
    return {"n": len(lat), "errors": errors, "p50_ms": round(pct(lat, 0.5) * 1000, 2),
            "p99_ms": round(pct(lat, 0.99) * 1000, 2), "rps": round(len(lat) / wall, 1)}


def drop_schema(url: str, schema: str) -> None:
    from sqlalchemy import create_engine, text

    eng = create_engine(url)
    with eng.begin() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    eng.dispose()


def user_key(base: str, name: str) -> str:
    r = httpx.post(f"{base}/admin/v1/keys", headers={"Authorization": f"Bearer {KEY}"}, json={"user": name})
    r.raise_for_status()
    return str(r.json()["key"])


def run_gateway(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    out: dict[str, Any] = {}
    up_port = free_port()
    up = start([sys.executable, str(ROOT / "tests" / "gateway" / "scripted_upstream.py"), "--port", str(up_port),
                        "--delay", "0"], dict(os.environ), tmp / "upstream.log", f"http://127.0.0.1:{up_port}/v1/models")
    up_url = f"http://127.0.0.1:{up_port}/v1"
    procs = [up]
    schema = f"hg_bench_svc_{os.getpid()}"
    try:
        for store in args.stores.split(","):
            port = free_port()
            var = tmp / f"var-{store}"
            var.mkdir(parents=True)
            env = {**os.environ, "HEGUI_ADMIN_KEY": KEY, "HEGUI_VAR_DIR": str(var), "HEGUI_GATEWAY__RATE_LIMIT_RPM": "0",
                   "HEGUI_AUDIT__PURGE_INTERVAL_S": "0", "HEGUI_POLICY": "interim-2023",
                   **dict(kv.split("=", 1) for kv in args.env)}
            if store == "postgres":
                env.update(HEGUI_STORE__URL=args.pg_url, HEGUI_STORE__DB_SCHEMA=schema)
            procs.append(start([HEGUI, "serve", "--port", str(port), "--upstream", up_url], env,
                                       var / "gateway.log", f"http://127.0.0.1:{port}/readyz"))
            base = f"http://127.0.0.1:{port}"
            users = [user_key(base, f"bench-user-{i}") for i in range(16)]
            for c in (1, 16):
                keys = {"admin key (no duties)": [KEY], "user keys (duties)": users[:c]}
                for label, ks in keys.items():
                    r = asyncio.run(level(base, ks, c, max(args.requests, 3 * c)))
                    out[f"{store} {label} c={c}"] = r
                    print(f"{store:<9} {label:<22} c={c:<3} p50 {r['p50_ms']:>7.2f} ms  p99 {r['p99_ms']:>7.2f} ms  "
                          f"{r['rps']:>6.1f} req/s  errors {r['errors']}", flush=True)
    finally:
        for p in reversed(procs):
            stop(p)
        if "postgres" in args.stores:
            drop_schema(args.pg_url, schema)
    return out


def run_store(args: argparse.Namespace) -> dict[str, Any]:
    """The duties' store work for one admitted request, in process (less noisy than HTTP timings):
    the pre-checks' read session (standing, identity, minute counter) and the usage transaction."""
    from types import SimpleNamespace

    from hegui.config import Settings
    from hegui.gateway.services import snapshot
    from hegui.store import StoreConfig, make_engine, session_factory, upgrade
    from hegui.usage import service as usage

    out: dict[str, Any] = {}
    schema = f"hg_bench_svc_store_{os.getpid()}"
    for store in args.stores.split(","):
        cfg = StoreConfig(url=args.pg_url, db_schema=schema) if store == "postgres" else StoreConfig()
        engine = make_engine(cfg, Path(tempfile.mkdtemp(prefix="hegui-bench-store-")))
        try:
            upgrade(engine)
            factory = session_factory(engine)
            settings = Settings(var_dir=Path(tempfile.mkdtemp()), secret_key="bench")
            state = SimpleNamespace(factory=factory, settings=settings)
            times: dict[str, list[float]] = {"reads": [], "usage": []}
            for i in range(args.requests + 20):
                t0 = time.perf_counter()
                snapshot(state, "acc", 1)  # type: ignore[arg-type]
                t1 = time.perf_counter()
                usage.record(factory, settings.usage, "acc", minor=False, remind=True, want_notice=True)
                t2 = time.perf_counter()
                if i >= 20:
                    times["reads"].append(t1 - t0)
                    times["usage"].append(t2 - t1)
            both = [a + b for a, b in zip(times["reads"], times["usage"], strict=True)]
            res = {k: {"p50_ms": round(statistics.median(v) * 1000, 2), "p99_ms": round(pct(v, 0.99) * 1000, 2)}
                   for k, v in {**times, "total": both}.items()}
            out[store] = res
            print(f"{store:<9} store work per request: reads p50 {res['reads']['p50_ms']} ms, usage p50 "
                  f"{res['usage']['p50_ms']} ms, total p50 {res['total']['p50_ms']} ms p99 {res['total']['p99_ms']} ms",
                  flush=True)
        finally:
            engine.dispose()
    if "postgres" in args.stores:
        drop_schema(args.pg_url, schema)
    return out


def run_blocklist() -> dict[str, Any]:
    from hegui.detect.blocklist import BlocklistDetector, canonical
    from hegui.text import normalize

    rng = random.Random(0)
    common = [chr(c) for c in range(0x4E00, 0x4E00 + 3000)]

    def text(n: int) -> str:
        return "".join(rng.choice(common) for _ in range(n))

    out: dict[str, Any] = {}
    answer = normalize(text(500))
    for n in (1000, 10000):
        rows = [(i, canonical(text(rng.randint(40, 120)))) for i in range(1, n + 1)]
        t0 = time.perf_counter()
        det = BlocklistDetector()
        for i, c in rows:
            det.add(c, i, is_canonical=True)
        load_s = time.perf_counter() - t0
        det.detect(answer)
        times = []
        for _ in range(200):
            t0 = time.perf_counter()
            det.detect(answer)
            times.append(time.perf_counter() - t0)
        hit = normalize("前言。" + rows[n // 2][1] + "。后记。")
        assert det.detect(hit), "planted copy not found"
        out[f"{n} entries"] = {"load_ms": round(load_s * 1000, 1), "check_500_chars_ms_p50": round(statistics.median(times) * 1000, 3),
                               "check_500_chars_ms_p99": round(pct(times, 0.99) * 1000, 3)}
        print(f"blocklist {n:>6} entries: load {load_s * 1000:7.1f} ms, check 500 chars p50 "
              f"{statistics.median(times) * 1000:.3f} ms, p99 {pct(times, 0.99) * 1000:.3f} ms", flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--requests", type=int, default=300)
    ap.add_argument("--stores", default="sqlite,postgres")
    ap.add_argument("--pg-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    ap.add_argument("--skip-gateway", action="store_true")
    ap.add_argument("--env", action="append", default=[], metavar="K=V", help="extra environment for the gateways")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    results: dict[str, Any] = {"store": run_store(args), "blocklist": run_blocklist()}
    if not args.skip_gateway:
        results["gateway"] = run_gateway(args, Path(tempfile.mkdtemp(prefix="hegui-bench-svc-")))
    results["load_average"] = os.getloadavg()
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, ensure_ascii=False), encoding="utf-8")


if __name__ == "__main__":
    main()
