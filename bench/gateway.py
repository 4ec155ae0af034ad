"""Added latency of the compliance gateway over calling the model server directly.

Targets, all in front of the same scripted upstream (`tests/gateway/scripted_upstream.py`, its
own process; a whole answer takes ``--latency`` seconds, a streamed one comes 3 characters per
delta every ``--delay`` seconds, like a model generating): the upstream itself (direct),
`hegui serve` on SQLite, `hegui serve` on PostgreSQL (fresh schema, dropped after), and LiteLLM's
proxy as a side-by-side reference when its ``litellm`` command is given. Each target runs
non-streaming (whole-request latency) and streaming (time to the first content token) at 1, 32
and 128 concurrent clients, in ``--rounds`` interleaved rounds so that a busy machine hits every
target alike. Each client first sends ``--warmup`` unrecorded requests, then ``--per-client``
recorded ones: p50/p99 are the steady state; the clients' first requests, which all start in the
same instant, are reported apart as the *burst* p50. Besides latency it reports each proxy's CPU
time per request (from /proc), which a shared machine disturbs far less. The gateway runs the default detectors and policy, both input
and output checks, audit rows with redacted content, and no rate limit, driven with the admin key
(which the identity and usage duties do not apply to); ``--user-key`` drives them with a user key
instead (a verified adult under the default policy): rate limit counted, sanctions and identity
snapshot, usage counter.

    nice -n 10 .venv/bin/python bench/gateway.py [--litellm /tmp/litellm-venv/bin/litellm] [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "gateway"))
from scripted_upstream import free_port  # noqa: E402

HEGUI = str(Path(sys.executable).parent / "hegui")
KEY = "hegui-bench-admin-key-0123456789"
PROMPT = "[bench] 请简要说明一下办理居住证的流程。"


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(q * (len(xs) - 1)))]


def wait_ready(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 120) -> None:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args} exited: {log.read_text()[-1500:]}")
        time.sleep(0.2)
    raise RuntimeError(f"{proc.args} not ready after {timeout}s")


# -- a minimal HTTP/1.1 keep-alive client: the load generator shares the machine's cores with the
# upstream and the proxy, so it must cost as little CPU per request as possible (httpx costs several
# times more). The same client drives every target.

class Conn:
    """One keep-alive connection; a closed-loop client owns one."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def _open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self.reader is None or self.writer is None or self.writer.is_closing():
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        return self.reader, self.writer

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None

    async def request(self, raw: bytes, stream: bool) -> float:
        """Send ``raw`` (a whole request); seconds to the whole answer, or to the first content
        delta of an SSE stream (the rest of the stream is still read, so the connection is reusable)."""
        r, w = await self._open()
        t0 = time.perf_counter()
        w.write(raw)
        head = await r.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        lower = head.lower()
        first: float | None = None
        if b"transfer-encoding: chunked" in lower:
            buf = b""
            while True:
                size = int((await r.readuntil(b"\r\n"))[:-2].split(b";")[0], 16)
                data = await r.readexactly(size + 2)
                if size == 0:
                    break
                if stream and first is None:
                    buf += data[:-2]
                    first = _first_content(buf, t0)
        else:
            i = lower.find(b"content-length:")
            n = int(lower[i + 15 : lower.index(b"\r\n", i)]) if i >= 0 else 0
            await r.readexactly(n)
        if b"connection: close" in lower:
            self.close()
        if status != 200:
            raise RuntimeError(f"HTTP {status}")
        if not stream:
            return time.perf_counter() - t0
        if first is None:
            raise RuntimeError("stream without content")
        return first


def _first_content(buf: bytes, t0: float) -> float | None:
    """The time now if ``buf`` (SSE so far) holds a delta with content, else None."""
    for line in buf.split(b"\n"):
        if line.startswith(b"data: {") and b'"content"' in line:
            try:
                d = json.loads(line[6:])
            except ValueError:
                continue  # a line cut between two chunks: seen whole on the next
            ch = d.get("choices") or [{}]
            if (ch[0].get("delta") or {}).get("content"):
                return time.perf_counter() - t0
    return None


def raw_request(base: str, stream: bool, key: str, wait: float | None = None) -> tuple[str, int, bytes]:
    """(host, port, request bytes) of the benchmark's chat request against ``base`` (…/v1); with
    ``wait``, the prompt asks the scripted upstream to take that many seconds (``[lat=S]``)."""
    u = urlsplit(base)
    prompt = PROMPT if wait is None else f"[lat={wait:.4f}]{PROMPT}"
    body = json.dumps({"model": "scripted", "messages": [{"role": "user", "content": prompt}], "stream": stream},
                      ensure_ascii=False).encode()
    head = (f"POST {u.path}/chat/completions HTTP/1.1\r\nHost: {u.netloc}\r\nAuthorization: Bearer {key}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode()
    return u.hostname or "127.0.0.1", u.port or 80, head + body


async def level(base: str, stream: bool, conc: int, per_client: int, warmup: int = 2, keys: tuple[str, ...] = (KEY,),
                *, wait: float = 0.2, jitter: float = 0.0, seed: int = 0) -> dict[str, Any]:
    """``conc`` closed-loop clients, one keep-alive connection each, all started together (client
    ``i`` sends with ``keys[i % len(keys)]``: one key for all, or a user of its own each); each
    sends ``warmup`` requests that are not recorded, then ``per_client`` that are. Each request asks
    the upstream to take ``wait`` × (1 ± ``jitter``) seconds (uniform, seeded per client) and its
    recorded figure is the latency *beyond* that wait — the time the path to the model adds.

    ``jitter`` 0 is lockstep: every client's answers take the same time, so clients that start
    together stay bunched, and each bunch reaches the proxy as a burst of up to ``conc`` requests
    (each waiting for all the work queued before it) in every cycle. Independent users do not
    march like that — their answers take different times — so a non-zero jitter is the realistic
    arrival pattern; the benchmark reports both. The first request of every client (all sent in
    the same instant) is kept apart as the *burst* figure."""
    lat: list[float] = []
    first: list[float] = []
    errors = 0

    async def worker(i: int) -> None:
        nonlocal errors
        rng = random.Random(seed * 100_003 + i)
        c: Conn | None = None
        for n in range(warmup + per_client):
            w = round(wait * (1 + jitter * (2 * rng.random() - 1)), 4)
            host, port, raw = raw_request(base, stream, keys[i % len(keys)], w)
            c = c or Conn(host, port)
            try:
                x = await c.request(raw, stream) - w
            except Exception:
                errors += 1
                c.close()
                continue
            if n == 0:
                first.append(x)
            if n >= warmup:
                lat.append(x)
        if c is not None:
            c.close()

    t0 = time.perf_counter()
    await asyncio.gather(*(worker(i) for i in range(conc)))
    wall = time.perf_counter() - t0
    return {"lat": lat, "first": first, "errors": errors, "wall": wall, "sent": conc * (warmup + per_client)}


def cpu_s(pid: int) -> float:
    """User + system CPU seconds so far of a process and its children (Linux /proc): with
    ``--workers N`` uvicorn's worker processes are children of the ``hegui serve`` process."""
    tck = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for p in [pid, *_children(pid)]:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tck
    return total


def _children(pid: int) -> list[int]:
    out: list[int] = []
    try:
        kids = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except FileNotFoundError:
        return out
    for k in kids:
        out += [int(k), *_children(int(k))]
    return out


def run(coro: Any) -> Any:
    """``asyncio.run`` on uvloop when it is installed: a cheaper load generator."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    return uvloop.run(coro)


def summary(lat: list[float], first: list[float], errors: int, wall: float, sent: int,
            cpu: float | None) -> dict[str, Any]:
    out = {"n": len(lat), "errors": errors, "p50_ms": round(pct(lat, 0.5) * 1000, 2),
           "p99_ms": round(pct(lat, 0.99) * 1000, 2), "mean_ms": round(statistics.fmean(lat) * 1000, 2),
           "burst_p50_ms": round(pct(first, 0.5) * 1000, 2) if first else None,
           "rps": round(sent / wall, 1)}
    if cpu is not None:
        out["cpu_ms_per_req"] = round(cpu * 1000 / max(1, sent), 2)
    return out


def run_all(targets: dict[str, str], pids: dict[str, int], levels: list[int], per_client: int, warmup: int,
            rounds: int, waits: tuple[float, float], jitters: list[float],
            keys: dict[str, tuple[str, ...]] | None = None, modes: tuple[str, ...] = ("plain", "ttft")) -> dict[str, dict[str, Any]]:
    """Every (mode, jitter, level) runs on all targets in interleaved rounds, so load from others
    on a shared machine falls on every target alike. ``waits``: the upstream's mean time to a whole
    answer and to a stream's first token; ``keys``: the API keys per target, shared round robin by
    the clients (default: the admin key);
    ``modes``: "plain" (non-streaming) and/or "ttft" (streaming)."""
    keys = keys or {}
    out: dict[str, dict[str, Any]] = {name: {} for name in targets}
    for stream in [m == "ttft" for m in ("plain", "ttft") if m in modes]:
        for j in jitters:
            for c in levels:
                acc: dict[str, dict[str, Any]] = {name: {"lat": [], "first": [], "errors": 0, "wall": 0.0, "cpu": 0.0,
                                                         "sent": 0} for name in targets}
                for rnd in range(rounds):
                    for name, base in targets.items():
                        pid = pids.get(name)
                        c0 = cpu_s(pid) if pid else 0.0
                        r = run(level(base, stream, c, per_client, warmup, keys.get(name, (KEY,)), wait=waits[stream],
                                      jitter=j, seed=rnd))
                        a = acc[name]
                        for k in ("lat", "first", "errors", "wall", "sent"):
                            a[k] += r[k]
                        a["cpu"] += (cpu_s(pid) - c0) if pid else 0.0
                mode = "stream" if stream else "plain"
                for name, a in acc.items():
                    res = summary(a["lat"], a["first"], a["errors"], a["wall"], a["sent"], a["cpu"] if pids.get(name) else None)
                    out[name][f"{mode}@{c}" + (f"/jitter{j:g}" if j else "")] = res
                    cpu = f"  cpu {res['cpu_ms_per_req']:6.2f} ms/req" if "cpu_ms_per_req" in res else ""
                    print(f"{name:<16} {'ttft' if stream else 'plain':<5} c={c:<4} jitter {j:<4g} beyond the model's time: "
                          f"p50 {res['p50_ms']:>7.2f} ms  p99 {res['p99_ms']:>7.2f} ms  burst p50 {res['burst_p50_ms']:>7.2f} ms  "
                          f"{res['rps']:>6.1f} req/s  errors {res['errors']}{cpu}", flush=True)
    return out


def adult_id(n: int) -> str:
    """The ``n``-th of distinct checksum-valid ID numbers of adults (born 1949; the offline verifier
    checks structure, and one ID number may belong to one account only)."""
    from hegui.detect.pii.validators import id_check_char

    first17 = f"11010519491231{n % 1000:03d}"
    return first17 + id_check_char(first17)


def user_key(base: str, verify: bool = False, user: str = "bench-user", n: int = 0) -> str:
    """A new user key on the gateway at ``base`` (…/v1), with a per-key rate limit high enough never
    to refuse: the limit is still counted, so every user-path duty runs. ``verify``: register the
    user's real name first (an adult), as the default policy requires of every user."""
    root = base.rsplit("/v1", 1)[0]
    r = httpx.post(f"{root}/admin/v1/keys", headers={"Authorization": f"Bearer {KEY}"},
                   json={"user": user, "rate_limit_rpm": 1_000_000}, timeout=30)
    r.raise_for_status()
    key = str(r.json()["key"])
    if verify:
        r = httpx.post(f"{base}/hegui/identity", headers={"Authorization": f"Bearer {key}"},
                       json={"name": "测试用户", "id_number": adult_id(n)}, timeout=30)
        r.raise_for_status()
    return key


def cpu_per_request(targets: dict[str, str], pids: dict[str, int], n: int, clients: int,
                    runs: int, wait: float) -> dict[str, Any]:
    """CPU ms per non-streaming request of each gateway (process CPU / requests, warm-up included
    in both), admin key and a user key with a per-key rate limit (so rate count, duties' snapshot,
    usage counter and audit all run); best (lowest) of ``runs`` runs, which a busy machine
    disturbs least, and the median."""
    out: dict[str, Any] = {}
    for name, pid in pids.items():
        base = targets[name]
        user = user_key(base)
        for label, key in (("admin", KEY), ("user", user)):
            per: list[float] = []
            for _ in range(runs):
                c0 = cpu_s(pid)
                res = run(level(base, False, clients, max(1, n // clients), 0, (key,), wait=wait))
                if res["errors"]:
                    raise RuntimeError(f"{name} {label}: {res['errors']} errors")
                per.append((cpu_s(pid) - c0) * 1000 / res["sent"])
            out[f"{name}/{label}"] = {"best_cpu_ms": round(min(per), 2), "median_cpu_ms": round(statistics.median(per), 2),
                                      "runs": [round(x, 2) for x in per]}
            print(f"{name:<16} {label:<6} cpu {min(per):6.2f} ms/req best, {statistics.median(per):6.2f} median "
                  f"({', '.join(f'{x:.2f}' for x in per)})", flush=True)
    return out


def start(cmd: list[str], env: dict[str, str], log: Path, ready: str) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(cmd, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT, cwd=log.parent)
    try:
        wait_ready(ready, proc, log)
    except RuntimeError:
        proc.kill()  # not left running behind a failed benchmark
        raise
    return proc


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


def reference_ms(samples: int = 15) -> dict[str, float]:
    """Milliseconds for a fixed piece of pure-Python work (a loop of dict and string operations),
    ``samples`` times: the fastest and the median. Printed and stored before and after every run.
    Why: the gateway's figures scale with the interpreter's speed, which differs between VMs of
    one kind (the same tree cost 1.5–2× the CPU per request on one VM as on another) and, on the
    2-core bench VM, from one second to the next (this work took 76 to 155 ms on an idle machine,
    median 127, in one minute); the numbers tell a slow machine or a slow hour from a change in
    the code."""
    times: list[float] = []
    for _ in range(samples):
        t = time.perf_counter()
        d: dict[str, int] = {}
        for i in range(300_000):
            k = f"k{i & 1023}"
            d[k] = d.get(k, 0) + i
        times.append((time.perf_counter() - t) * 1000)
    return {"min": round(min(times), 1), "median": round(statistics.median(times), 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--levels", default="1,32,128")
    ap.add_argument("--per-client", type=int, default=10, help="recorded requests per client and level")
    ap.add_argument("--warmup", type=int, default=2, help="unrecorded requests per client before those")
    ap.add_argument("--rounds", type=int, default=2, help="interleaved rounds per level")
    ap.add_argument("--latency", type=float, default=0.2, help="upstream seconds per non-streaming answer")
    ap.add_argument("--delay", type=float, default=0.02, help="upstream seconds between streamed deltas")
    ap.add_argument("--prefill", type=float, default=0.1, help="upstream mean seconds before a stream's first delta")
    ap.add_argument("--jitter", default="0,0.5",
                    help="comma list: each request's upstream time is the mean × (1 ± jitter), uniform; 0 = lockstep")
    ap.add_argument("--stores", default="sqlite,postgres")
    ap.add_argument("--pg-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    ap.add_argument("--litellm", help="path of LiteLLM's `litellm` command (pip install 'litellm[proxy]')")
    ap.add_argument("--workers", type=int, default=1, help="`hegui serve --workers N`")
    ap.add_argument("--cpu", type=int, default=0, metavar="N",
                    help="instead of latencies: the gateway's CPU ms per request over N non-streaming requests "
                         "(--cpu-clients clients, best of --cpu-runs), with the admin key and a user key "
                         "(policy interim-2023, per-key rate limit on)")
    ap.add_argument("--cpu-clients", type=int, default=8)
    ap.add_argument("--cpu-runs", type=int, default=3)
    ap.add_argument("--user-key", action="store_true",
                    help="drive the gateways with a verified user's key (default policy; rate limit counted, "
                         "identity, usage and sanction duties) instead of the admin key")
    ap.add_argument("--users", type=int, default=1, metavar="N",
                    help="with --user-key: N verified users, each its own key, shared round robin by the clients "
                         "(1: every client on one key — one user's rate window and usage row take every "
                         "request; the number of clients: independent users, as in production)")
    ap.add_argument("--modes", default="plain,ttft",
                    help="comma list: plain (non-streaming, whole answer) and/or ttft (streaming, first token); "
                         "an A/B of the non-streaming path needs only plain, in half the time")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    if args.json:  # its folder made now: a missing one must not lose a finished run's figures
        args.json.parent.mkdir(parents=True, exist_ok=True)
    levels = [int(x) for x in args.levels.split(",")]
    tmp = Path(tempfile.mkdtemp(prefix="hegui-bench-"))
    results: dict[str, Any] = {"levels": levels, "latency_s": args.latency, "delay_s": args.delay,
                               "per_client": args.per_client, "warmup": args.warmup,
                               "rounds": args.rounds, "workers": args.workers,
                               "prefill_s": args.prefill, "jitter": args.jitter}
    results["reference_ms_before"] = ref = reference_ms()
    print(f"machine reference before: {ref['min']} ms fastest, {ref['median']} ms median (fixed pure-Python work; "
          "lower is a faster machine)", flush=True)
    up_port = free_port()
    up = start([sys.executable, str(ROOT / "tests" / "gateway" / "scripted_upstream.py"), "--port", str(up_port),
                "--delay", str(args.delay), "--latency", str(args.latency)], dict(os.environ), tmp / "upstream.log",
               f"http://127.0.0.1:{up_port}/v1/models")
    up_url = f"http://127.0.0.1:{up_port}/v1"
    procs: list[subprocess.Popen[bytes]] = [up]
    targets = {"direct": up_url}
    pids: dict[str, int] = {}
    schemas: list[str] = []
    try:
        for store in args.stores.split(","):
            port = free_port()
            var = tmp / f"var-{store}"
            env = {**os.environ, "HEGUI_ADMIN_KEY": KEY, "HEGUI_VAR_DIR": str(var), "HEGUI_GATEWAY__RATE_LIMIT_RPM": "0",
                   "HEGUI_AUDIT__PURGE_INTERVAL_S": "0"}
            if args.cpu:
                env["HEGUI_POLICY"] = "interim-2023"  # unverified users allowed: the user path runs every duty
            if args.cpu or args.user_key:
                # One simulated user sending hundreds of requests a minute is a flood by definition
                # (`enforcement.flood_rpm`, 120): a threshold it never reaches, still counted.
                env["HEGUI_ENFORCEMENT__FLOOD_RPM"] = "1000000000"
            if store == "postgres":
                schemas.append(f"hg_bench_{os.getpid()}")
                env.update(HEGUI_STORE__URL=args.pg_url, HEGUI_STORE__DB_SCHEMA=schemas[-1])
            var.mkdir(parents=True)
            procs.append(start([HEGUI, "serve", "--port", str(port), "--upstream", up_url, "--workers", str(args.workers)],
                               env, var / "gateway.log",
                               f"http://127.0.0.1:{port}/readyz"))
            targets[f"hegui-{store}"] = f"http://127.0.0.1:{port}/v1"
            pids[f"hegui-{store}"] = procs[-1].pid
        if args.litellm:
            port = free_port()
            cfg = tmp / "litellm.yaml"
            cfg.write_text(json.dumps({"model_list": [{"model_name": "scripted", "litellm_params": {
                "model": "openai/scripted", "api_base": up_url, "api_key": "none"}}],
                "litellm_settings": {"telemetry": False}}))
            env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_MASTER_KEY": KEY}
            try:
                procs.append(start([args.litellm, "--config", str(cfg), "--port", str(port), "--num_workers", "1"], env,
                                   tmp / "litellm.log", f"http://127.0.0.1:{port}/health/liveliness"))
                targets["litellm"] = f"http://127.0.0.1:{port}/v1"
                pids["litellm"] = procs[-1].pid
            except RuntimeError as e:
                results["litellm_error"] = str(e)[-500:]
                print(f"litellm did not start: {e}", flush=True)
        if args.cpu:
            results["cpu"] = cpu_per_request(targets, pids, args.cpu, args.cpu_clients, args.cpu_runs, args.latency)
        else:
            keys = ({name: tuple(user_key(targets[name], verify=True, user=f"bench-user-{u}", n=u) for u in range(args.users))
                     for name in pids if name.startswith("hegui")} if args.user_key else {})
            results["key"] = "user" if args.user_key else "admin"
            results["users"] = args.users if args.user_key else 0
            results.update(run_all(targets, pids, levels, args.per_client, args.warmup, args.rounds, (args.latency, args.prefill),
                               [float(x) for x in args.jitter.split(",")], keys,
                               tuple(m.strip() for m in args.modes.split(","))))
    finally:
        for p in reversed(procs):
            stop(p)
        if schemas:
            from sqlalchemy import create_engine, text

            eng = create_engine(args.pg_url)
            with eng.begin() as c:
                for schema in schemas:
                    c.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            eng.dispose()
    results["load_average"] = os.getloadavg()
    results["reference_ms_after"] = ref = reference_ms()
    print(f"machine reference after: {ref['min']} ms fastest, {ref['median']} ms median", flush=True)
    if args.cpu:
        if args.json:
            args.json.write_text(json.dumps(results, indent=2))
        return
    base = results["direct"]
    print("\nadded over direct (p50 / p99 / burst p50 of the time beyond the model's, ms):")
    for name, res in results.items():
        if name not in targets or name == "direct":
            continue
        for k, r in res.items():
            b = base[k]
            print(f"  {name:<16} {k:<20} +{r['p50_ms'] - b['p50_ms']:7.2f} / +{r['p99_ms'] - b['p99_ms']:7.2f}"
                  f" / +{r['burst_p50_ms'] - b['burst_p50_ms']:7.2f}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
