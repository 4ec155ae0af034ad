"""`Guard.check` latency (p50/p99) for 50, 500 and 5,000-character texts, total and per detector.

Texts are realistic Chinese: benign prompts (``../shared/data/prompts/benign/train.jsonl``) and
Weibo posts (``../shared/data/rumours/ced_posts.jsonl``), concatenated in a fixed shuffled order
and cut into pieces of exactly the target length, with synthetic PII (a mobile number) planted in
a tenth of them so the redaction path runs too. The Guard is built as the CLI and the gateway
build it (`Guard.from_settings` with default settings: the default detectors and preset).

Per-detector figures time ``detector.detect(normalize(text))`` on the same texts; "normalise" is
`hegui.text.normalize` alone; "policy" is `Guard.decide` on the findings.

    .venv/bin/python bench/guard.py [--n 2000] [--sizes 50,500,5000] [--detectors keywords,pii,classifier]
    .venv/bin/python bench/guard.py --adversarial     # CPU seconds per PII recogniser on crafted 1 MB inputs
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import random
import statistics
import sys
import time
from pathlib import Path

from hegui.config import Settings
from hegui.guard import Guard
from hegui.policy import Role
from hegui.text import guess_lang, normalize

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
SOURCES = (DATA / "prompts" / "benign" / "train.jsonl", DATA / "rumours" / "ced_posts.jsonl")


def corpus(limit_chars: int = 3_000_000, seed: int = 7) -> str:
    """One long realistic Chinese string (texts joined by newlines, shuffled once)."""
    texts: list[str] = []
    for path in SOURCES:
        if not path.exists():
            continue
        with path.open(encoding="utf-8") as fh:
            for line in fh:
                t = json.loads(line).get("text") or ""
                if t:
                    texts.append(t)
    if not texts:
        sys.exit(f"no data found under {DATA}")
    random.Random(seed).shuffle(texts)
    out, n = [], 0
    for t in texts:
        out.append(t)
        n += len(t) + 1
        if n >= limit_chars:
            break
    return "\n".join(out)


def samples(text: str, size: int, n: int, seed: int = 11) -> list[str]:
    """``n`` pieces of exactly ``size`` characters at random offsets; every 10th holds a mobile number."""
    rng = random.Random(seed + size)
    out = []
    for i in range(n):
        start = rng.randrange(0, len(text) - size)
        piece = text[start : start + size]
        if i % 10 == 0 and size >= 30:
            at = rng.randrange(0, size - 20)
            piece = (piece[:at] + "电话13812345678" + piece[at + 13 :])[:size]
        out.append(piece)
    return out


def pct(xs: list[float], q: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, int(q * len(s)))]


def timed(fn, items: list, warmup: int = 20) -> tuple[list[float], list[float]]:  # type: ignore[type-arg, no-untyped-def]
    """Wall-clock and CPU milliseconds per call.

    CPU time (the process's, all threads) is reported beside wall time because the benchmark
    machine is shared: when other jobs hold the cores, wall time includes the wait for a core,
    CPU time does not.
    """
    for it in items[:warmup]:
        fn(it)
    gc.collect()
    gc.disable()
    try:
        wall, cpu = [], []
        for it in items:
            c0, t0 = time.process_time(), time.perf_counter()
            fn(it)
            t1, c1 = time.perf_counter(), time.process_time()
            wall.append((t1 - t0) * 1000)
            cpu.append((c1 - c0) * 1000)
        return wall, cpu
    finally:
        gc.enable()


def adversarial_inputs(n: int = 1_000_000) -> dict[str, str]:
    """Crafted inputs that defeat naive patterns: runs of markers, digits, separators, cue words."""

    def rep(unit: str) -> str:
        return (unit * (n // len(unit) + 1))[:n]

    units = {
        "a@a@…": "a@", "a.b@c…": "a.b@c", "PEM headers, no END": "-----begin rsa private key-----\n",
        "-----begin a a a…": "-----begin a a a a a ", "路路路…": "路", "路小区…": "路小区", "路1号…": "路1号",
        "小区3栋…": "小区3栋", "省市区…": "省市区", "王先生…": "王先生", "王王先生…": "王王先生", "先生…": "先生",
        "我叫…": "我叫", "姓名：…": "姓名：", "token=…": "token=", "密码是…": "密码是", "eyj…": "eyjaaaaaaaaa.",
        "sk-a…": "sk-a", "京a…": "京a", "1 1 1…": "1 ", "1234-…": "1234-", "1.1.1.1.…": "1.1.1.1.", "a:b:…": "a:b:",
        "::…": "::", "手机138…": "手机138", "010-…": "010-", "+86 …": "+86 ", "18 digits + x…": "12345678901234567x",
        "e1234567…": "e1234567", "context words": "手机电话身份证银行卡",
    }
    out = {name: rep(u) for name, u in units.items()}
    out["1111… (digits)"] = "1" * n
    out["aaaa… (letters)"] = "a" * n
    out["spaces"] = " " * n
    return out


def adversarial() -> None:
    """CPU seconds of each PII recogniser on each crafted 1 MB input; the worst per input."""
    from hegui.detect.pii.recognizers import BUILTIN_RECOGNIZERS

    recs = [cls() for cls in BUILTIN_RECOGNIZERS]
    print("| input (1 MB) | slowest recogniser | CPU s | candidates | whole pii detector CPU s |")
    print("|---|---|---|---|---|")
    from hegui.detect.pii import PiiDetector

    det = PiiDetector()
    for name, raw in adversarial_inputs().items():
        norm = normalize(raw)
        worst = ("", 0.0, 0)
        for r in recs:
            c0 = time.process_time()
            res = r.analyze(norm.text)
            dt = time.process_time() - c0
            if dt > worst[1]:
                worst = (r.name, dt, len(res))
        c0 = time.process_time()
        det.detect(norm)
        whole = time.process_time() - c0
        print(f"| `{name}` | {worst[0]} | {worst[1]:.2f} | {worst[2]:,} | {whole:.2f} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=2000, help="texts per size (5,000-char texts: a fifth of this)")
    ap.add_argument("--sizes", default="50,500,5000")
    ap.add_argument("--detectors", default=None, help="comma-separated detector names (default: the settings' default)")
    ap.add_argument("--role", default="input")
    ap.add_argument("--profile", type=int, default=0, help="profile Guard.check on this size with pyinstrument")
    ap.add_argument("--adversarial", action="store_true", help="time the PII recognisers on crafted 1 MB inputs")
    args = ap.parse_args()
    if args.adversarial:
        adversarial()
        return

    overrides = {"guard": {"detectors": args.detectors.split(",")}} if args.detectors else {}
    t0 = time.perf_counter()
    guard = Guard.from_settings(Settings(secret_key="bench", **overrides))
    build_s = time.perf_counter() - t0
    role = Role(args.role)
    text = corpus()
    print(f"# Guard.check latency — Python {platform.python_version()}, {platform.machine()}, "
          f"detectors {[d.name for d in guard.detectors]}, policy {guard.policy.name}, role {role.value}, "
          f"built in {build_s:.1f} s")

    if args.profile:
        from pyinstrument import Profiler

        items = samples(text, args.profile, args.n)
        for t in items[:50]:
            guard.check(t, role)
        prof = Profiler(interval=0.0002)
        prof.start()
        for t in items:
            guard.check(t, role)
        prof.stop()
        print(prof.output_text(unicode=True, color=False, show_all=False))
        return

    print("| size (chars) | n | step | p50 ms | p99 ms | mean ms | CPU p50 ms | CPU p99 ms |")
    print("|---|---|---|---|---|---|---|---|")
    for size in (int(s) for s in args.sizes.split(",")):
        n = args.n if size < 5000 else max(50, args.n // 5)
        items = samples(text, size, n)
        rows: list[tuple[str, tuple[list[float], list[float]]]] = [("**Guard.check**", timed(lambda t: guard.check(t, role), items))]
        norms = [normalize(t) for t in items]
        rows.append(("normalise", timed(normalize, items)))
        for det in guard.detectors:
            rows.append((f"detector `{det.name}`", timed(det.detect, norms)))
        pairs = [(nm, [f for d in guard.detectors for f in d.detect(nm)]) for nm in norms]
        rows.append(("policy (decide)", timed(lambda p: guard.decide(p[0], p[1], role, guess_lang(p[0].original)), pairs)))
        for name, (ms, cpu) in rows:
            print(
                f"| {size:,} | {n:,} | {name} | {statistics.median(ms):.3f} | {pct(ms, 0.99):.3f} | "
                f"{statistics.fmean(ms):.3f} | {statistics.median(cpu):.3f} | {pct(cpu, 0.99):.3f} |"
            )


if __name__ == "__main__":
    main()
