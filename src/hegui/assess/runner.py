"""The assessment runner: ask every sampled question of an OpenAI-compatible endpoint, judge, store.

Async httpx with a concurrency limit and a token-bucket rate limit; retries with exponential backoff
on 429, 5xx and connection errors/timeouts; every finished item is appended to ``results.jsonl``
at once, so an interrupted run resumes where it stopped (``resume=True`` skips ids already answered
and tolerates a truncated last line). Questions that still fail after the retries are stored with an
``error`` and retried on the next resume.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from hegui.assess.bank import Bank, BankItem, ItemKind
from hegui.assess.judges.content import ContentJudge
from hegui.assess.judges.refusal import RefusalJudge
from hegui.assess.thresholds import value

RESULTS = "results.jsonl"


class RunError(RuntimeError):
    """The run cannot start (bad target, unreadable results file); the message says what to fix."""


@dataclass(slots=True)
class RunConfig:
    target: str
    model: str
    api_key: str | None = None
    concurrency: int = 8
    rps: float | None = None
    timeout_s: float = 60.0
    retries: int = 4
    backoff_s: float = 0.5
    max_tokens: int = 512
    temperature: float = 0.0

    @property
    def url(self) -> str:
        t = self.target.rstrip("/")
        if t.endswith("/chat/completions"):
            return t
        return t + "/chat/completions" if t.endswith("/v1") else t + "/v1/chat/completions"


def sample_items(
    bank: Bank, *, seed: int = 0, per_kind: int | None = None, include_probes: bool = True
) -> list[BankItem]:
    """Seeded random sample per kind: the TC260 minima (1000/300/300) or ``per_kind``, capped by the bank.

    Fairness probes are always added whole: a probe compares groups, so half a probe says nothing.
    """
    rng = random.Random(seed)
    want = {
        ItemKind.GENERATED: per_kind or int(value("gen_sample")),
        ItemKind.MUST_REFUSE: per_kind or int(value("refuse_sample")),
        ItemKind.MUST_NOT_REFUSE: per_kind or int(value("nonrefuse_sample")),
    }
    out: list[BankItem] = []
    for kind, n in want.items():
        pool = sorted((i for i in bank.by_kind(kind) if not i.probe), key=lambda i: i.id)
        out += rng.sample(pool, min(n, len(pool)))
    if include_probes:
        out += sorted((i for i in bank.items if i.probe), key=lambda i: i.id)
    return out


def read_results(path: Path, *, repair: bool = False) -> dict[str, dict[str, Any]]:
    """Last row per id. A truncated last line (a crash mid-write) is dropped, and cut off when ``repair``."""
    if not path.exists():
        return {}
    raw = path.read_bytes()
    rows: dict[str, dict[str, Any]] = {}
    good_end = 0
    pos = 0
    for line in raw.splitlines(keepends=True):
        pos += len(line)
        if not line.strip():
            good_end = pos
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError:
            if pos < len(raw):
                raise RunError(f"{path} has a corrupt line before the end; fix or move the file / 结果文件损坏") from None
            break  # only the last line may be cut off
        if not line.endswith(b"\n"):
            break
        rows[str(obj["id"])] = obj
        good_end = pos
    if repair and good_end < len(raw):
        with path.open("r+b") as fh:
            fh.truncate(good_end)
    return rows


class _RateLimiter:
    """At most ``rps`` request starts per second (a simple spacing limiter, fair under asyncio)."""

    def __init__(self, rps: float | None) -> None:
        self.gap = 1.0 / rps if rps else 0.0
        self.next = 0.0
        self.lock = asyncio.Lock()

    async def wait(self) -> None:
        if not self.gap:
            return
        async with self.lock:
            now = time.monotonic()
            delay = self.next - now
            self.next = max(now, self.next) + self.gap
        if delay > 0:
            await asyncio.sleep(delay)


async def _ask(client: httpx.AsyncClient, cfg: RunConfig, item: BankItem, limiter: _RateLimiter) -> dict[str, Any]:
    body = {
        "model": cfg.model, "messages": [{"role": "user", "content": item.text}],
        "max_tokens": cfg.max_tokens, "temperature": cfg.temperature,
    }
    headers = {"Authorization": f"Bearer {cfg.api_key}"} if cfg.api_key else {}
    last = ""
    for attempt in range(1, cfg.retries + 2):
        await limiter.wait()
        t0 = time.perf_counter()
        try:
            r = await client.post(cfg.url, json=body, headers=headers, timeout=cfg.timeout_s)
        except (httpx.TimeoutException, httpx.TransportError) as e:
            last = f"{type(e).__name__}"
        else:
            if r.status_code == 429 or r.status_code >= 500:
                last = f"HTTP {r.status_code}"
            elif r.status_code >= 400:
                return {"error": f"HTTP {r.status_code}: {r.text[:200]}", "attempts": attempt}
            else:
                try:
                    data = r.json()
                    choice = data["choices"][0]
                    answer = choice.get("message", {}).get("content") or ""
                    if not isinstance(answer, str):
                        raise TypeError("content is not a string")
                except (ValueError, KeyError, IndexError, TypeError, AttributeError) as e:
                    last = f"malformed response ({type(e).__name__})"
                else:
                    return {
                        "answer": answer, "finish_reason": choice.get("finish_reason"), "attempts": attempt,
                        "latency_ms": round((time.perf_counter() - t0) * 1000, 1),
                    }
        if attempt <= cfg.retries:
            await asyncio.sleep(cfg.backoff_s * (2 ** (attempt - 1)) * (0.5 + random.random()))
    return {"error": f"gave up after {cfg.retries + 1} attempts: {last}", "attempts": cfg.retries + 1}


def judge_row(item: BankItem, got: dict[str, Any], refusal: RefusalJudge, content: ContentJudge) -> dict[str, Any]:
    """The stored result row: item fields, the answer (redacted by Guard), and both verdicts."""
    row: dict[str, Any] = {k: v for k, v in item.to_dict().items() if k != "text"}
    row.update({k: got[k] for k in ("attempts", "latency_ms", "finish_reason") if k in got})
    if "error" in got:
        row["error"] = got["error"]
        return row
    rv = refusal.judge(got["answer"], got.get("finish_reason"), item.text)
    cv = content.judge(got["answer"], rv.refused)
    row.update({"refused": rv.refused, "refusal": rv.to_dict(), "qualified": cv.qualified, "content": cv.to_dict()})
    row["answer_chars"] = len(got["answer"])
    # Stored with personal information masked (results files travel to auditors), and capped.
    row["answer"] = cv.redacted[:2000]
    return row


async def run_async(
    items: list[BankItem], cfg: RunConfig, out_dir: Path, *, refusal: RefusalJudge, content: ContentJudge,
    resume: bool = False, on_done: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, dict[str, Any]]:
    """Ask, judge and append; returns the last row per id (old rows included when resuming)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / RESULTS
    if path.exists() and not resume:
        raise RunError(f"{path} exists; pass --resume to continue it or choose another --out / 结果文件已存在")
    done = read_results(path, repair=True) if resume else {}
    todo = [i for i in items if i.id not in done or "error" in done[i.id]]
    sem = asyncio.Semaphore(max(1, cfg.concurrency))
    limiter = _RateLimiter(cfg.rps)
    lock = asyncio.Lock()
    limits = httpx.Limits(max_connections=max(1, cfg.concurrency))
    with path.open("a", encoding="utf-8") as fh:
        async with httpx.AsyncClient(limits=limits) as client:

            async def one(item: BankItem) -> None:
                async with sem:
                    got = await _ask(client, cfg, item, limiter)
                row = await asyncio.to_thread(judge_row, item, got, refusal, content)
                async with lock:
                    fh.write(json.dumps(row, ensure_ascii=False) + "\n")
                    fh.flush()
                    done[item.id] = row
                if on_done:
                    on_done(row)

            await asyncio.gather(*(one(i) for i in todo))
    wanted = {i.id for i in items}
    return {k: v for k, v in done.items() if k in wanted}


def run(items: list[BankItem], cfg: RunConfig, out_dir: Path, *, refusal: RefusalJudge, content: ContentJudge,
        resume: bool = False, progress: bool = False) -> dict[str, dict[str, Any]]:
    """Synchronous wrapper with an optional rich progress bar."""
    if not progress:
        return asyncio.run(run_async(items, cfg, out_dir, refusal=refusal, content=content, resume=resume))
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    # On stderr: stdout carries the machine-readable summary.
    cols = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*cols, console=Console(stderr=True)) as bar:
        task = bar.add_task("评估 assessing", total=len(items))
        prev = read_results(out_dir / RESULTS) if resume else {}
        bar.update(task, completed=sum(1 for i in items if i.id in prev and "error" not in prev[i.id]))
        return asyncio.run(run_async(items, cfg, out_dir, refusal=refusal, content=content, resume=resume,
                                     on_done=lambda _r: bar.advance(task)))
