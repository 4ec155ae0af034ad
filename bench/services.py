"""What the service duties add per request, and the blocklist detector's speed.

0. Store work per admitted request, in process: the duties' one transaction (rate window,
   standing, identity, usage counter), on SQLite and PostgreSQL (300 requests after 20 warm-up).
1. Gateway: one `hegui serve` per store (SQLite, PostgreSQL in a fresh schema) in front of the
   scripted upstream, policy ``interim-2023`` (unverified users allowed). The same prompt is sent
   with an admin key (exempt from the duties: no sanction, identity or usage step) and with user
   keys, one user per client (read session and usage transaction per request), non-streaming, at 1
   and 16 concurrent clients. The difference is the cost of the duties.
2. Blocklist detector: check time of a 500-character answer against 1,000 and 10,000 entries
   (synthetic 40–120-character texts), and the time to load them from rows.
3. ``--cpu``: CPU per request of one `hegui serve` process (process CPU / requests, from /proc),
   admin key against user keys (one user per client), policy ``interim-2023`` with the rate limit
   and the flood count on (limits set high enough never to refuse), default detectors, scripted
   upstream answering in 50 ms, 8 concurrent clients (``--clients``); ``--rounds`` interleaved rounds, best and
   median reported. CPU is what a shared machine disturbs least, and at 32 clients one process
   saturates, so its CPU per request is what the added latency follows.

    nice -n 10 .venv/bin/python bench/services.py [--requests 300] [--json out.json]
    nice -n 10 .venv/bin/python bench/services.py --cpu [--requests 400 --rounds 5 --stores sqlite,postgres]
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

from gateway import cpu_s, pct, start, stop  # noqa: E402  (bench/gateway.py: same process handling)

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


def run_cpu(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    """CPU milliseconds per non-streaming chat request of one gateway process, admin against user keys."""
    out: dict[str, Any] = {}
    up_port = free_port()
    up = start([sys.executable, str(ROOT / "tests" / "gateway" / "scripted_upstream.py"), "--port", str(up_port),
                "--latency", "0.05"], dict(os.environ), tmp / "upstream.log", f"http://127.0.0.1:{up_port}/v1/models")
    up_url = f"http://127.0.0.1:{up_port}/v1"
    procs = [up]
    schema = f"hg_bench_cpu_{os.getpid()}"
    conc = args.clients
    try:
        for store in args.stores.split(","):
            port = free_port()
            var = tmp / f"cpu-{store}"
            var.mkdir(parents=True)
            env = {**os.environ, "HEGUI_ADMIN_KEY": KEY, "HEGUI_VAR_DIR": str(var), "HEGUI_POLICY": "interim-2023",
                   "HEGUI_GATEWAY__RATE_LIMIT_RPM": "10000000", "HEGUI_ENFORCEMENT__FLOOD_RPM": "10000000",
                   "HEGUI_AUDIT__PURGE_INTERVAL_S": "0", **dict(kv.split("=", 1) for kv in args.env)}
            if store == "postgres":
                env.update(HEGUI_STORE__URL=args.pg_url, HEGUI_STORE__DB_SCHEMA=schema)
            gw = start([HEGUI, "serve", "--port", str(port), "--upstream", up_url], env, var / "gateway.log",
                       f"http://127.0.0.1:{port}/readyz")
            procs.append(gw)
            base = f"http://127.0.0.1:{port}"
            users = [user_key(base, f"bench-cpu-user-{i}") for i in range(conc)]
            samples: dict[str, list[float]] = {"admin": [], "user": []}
            for _label, ks in (("admin", [KEY]), ("user", users)):  # warm-up: caches, pools, first rows
                asyncio.run(level(base, ks, conc, 3 * conc))
            for _ in range(args.rounds):
                for label, ks in (("admin", [KEY]), ("user", users)):
                    c0 = cpu_s(gw.pid)
                    r = asyncio.run(level(base, ks, conc, args.requests))
                    if r["errors"]:
                        raise RuntimeError(f"{store} {label}: {r['errors']} requests failed")
                    samples[label].append((cpu_s(gw.pid) - c0) * 1000 / (r["n"] + len(ks)))
            for label, xs in samples.items():
                res = {"best_cpu_ms": round(min(xs), 2), "median_cpu_ms": round(statistics.median(xs), 2),
                       "rounds": [round(x, 2) for x in xs]}
                out[f"{store} {label}"] = res
                print(f"{store:<9} {label:<6} CPU per request: best {res['best_cpu_ms']:.2f} ms, median "
                      f"{res['median_cpu_ms']:.2f} ms  (rounds {res['rounds']})", flush=True)
            stop(gw)
            procs.remove(gw)
    finally:
        for p in reversed(procs):
            stop(p)
        if "postgres" in args.stores:
            drop_schema(args.pg_url, schema)
    return out


def run_store(args: argparse.Namespace) -> dict[str, Any]:
    """The duties' store work for one admitted request, in process (less noisy than HTTP timings):
    `hegui.gateway.services.admit`, the one transaction that counts the rate window, reads
    standing, identity and the disclosure flag, and counts usage (wall time and CPU time)."""
    from types import SimpleNamespace

    from hegui.config import Settings
    from hegui.enforcement.service import Thresholds
    from hegui.gateway.services import Services, admit
    from hegui.policy import Duties
    from hegui.store import StoreConfig, make_engine, session_factory, upgrade
    from hegui.store import keys as keystore

    out: dict[str, Any] = {}
    schema = f"hg_bench_svc_store_{os.getpid()}"
    for store in args.stores.split(","):
        cfg = StoreConfig(url=args.pg_url, db_schema=schema) if store == "postgres" else StoreConfig()
        engine = make_engine(cfg, Path(tempfile.mkdtemp(prefix="hegui-bench-store-")))
        try:
            upgrade(engine)
            factory = session_factory(engine)
            settings = Settings(var_dir=Path(tempfile.mkdtemp()), secret_key="bench")
            duties = Duties(require_real_name=False, unverified_users="allow", anti_addiction_scope="all")
            svc = Services(duties=duties, thresholds=Thresholds.of(settings.enforcement, duties), verifier=None,  # type: ignore[arg-type]
                           sender=None)  # type: ignore[arg-type]
            state = SimpleNamespace(factory=factory, settings=settings, engine=engine, services=svc)
            _, info = keystore.create_key(factory, b"bench", "acc")
            wall: list[float] = []
            cpu: list[float] = []
            for i in range(args.requests + 20):
                t0, c0 = time.perf_counter(), time.process_time()
                admit(state, "acc", info, 10**9)  # type: ignore[arg-type]
                if i >= 20:
                    wall.append(time.perf_counter() - t0)
                    cpu.append(time.process_time() - c0)
            res = {"p50_ms": round(statistics.median(wall) * 1000, 2), "p99_ms": round(pct(wall, 0.99) * 1000, 2),
                   "cpu_ms": round(statistics.fmean(cpu) * 1000, 3)}
            out[store] = res
            print(f"{store:<9} store work per request (one transaction): p50 {res['p50_ms']} ms, p99 {res['p99_ms']} ms, "
                  f"CPU {res['cpu_ms']} ms", flush=True)
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
    ap.add_argument("--cpu", action="store_true", help="only the gateway's CPU per request, admin and user keys")
    ap.add_argument("--rounds", type=int, default=5, help="interleaved rounds of --cpu")
    ap.add_argument("--clients", type=int, default=8, help="concurrent clients of --cpu (one user key each)")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    if args.cpu:
        res = {"cpu": run_cpu(args, Path(tempfile.mkdtemp(prefix="hegui-bench-cpu-"))), "load_average": os.getloadavg()}
        if args.json:
            args.json.write_text(json.dumps(res, indent=2, ensure_ascii=False), encoding="utf-8")
        return
    results: dict[str, Any] = {"store": run_store(args), "blocklist": run_blocklist()}
    if not args.skip_gateway:
        results["gateway"] = run_gateway(args, Path(tempfile.mkdtemp(prefix="hegui-bench-svc-")))
    results["load_average"] = os.getloadavg()
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, ensure_ascii=False), encoding="utf-8")


if __name__ == "__main__":
    main()
