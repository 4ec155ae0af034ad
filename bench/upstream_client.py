"""CPU per upstream request of the gateway's httpx client, by transport.

The gateway calls its model server through httpx; what that costs in the gateway's own process
is CPU every request pays (on a busy gateway, latency too). This sends the gateway's own request
(`Upstream.post_json`, the non-streaming chat call) and a streamed one (`Upstream.stream`, read
to the end) to the scripted upstream (`tests/gateway/scripted_upstream.py`, its own process,
answering at once) from ``--clients`` concurrent tasks on uvloop, as under uvicorn, with each
transport in turn — httpx's stock transport (httpcore + h11 on anyio) and hegui's
`hegui.gateway.http1.Http1Transport` — in interleaved rounds, and prints this process's CPU
microseconds per request (best of the rounds; a shared machine disturbs the best least) and the
ratio.

    .venv/bin/python bench/upstream_client.py [--requests 3000] [--clients 32] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "gateway"))
from scripted_upstream import free_port  # noqa: E402

from hegui.gateway.config import GatewayConfig  # noqa: E402
from hegui.gateway.http1 import Http1Transport  # noqa: E402
from hegui.gateway.upstream import Upstream  # noqa: E402

BODY = {"model": "scripted", "messages": [{"role": "user", "content": "[bench] 请简要说明一下办理居住证的流程。"}]}


def upstream_for(url: str, transport: str) -> Upstream:
    up = Upstream(GatewayConfig(upstream_url=url))
    if transport == "httpx":  # httpx's own transport, as `httpx.AsyncClient()` builds it
        limits = httpx.Limits(max_connections=up.config.max_connections,
                              max_keepalive_connections=up.config.max_connections)
        up.client._transport = httpx.AsyncHTTPTransport(limits=limits)
        up._routes.clear()
    else:
        assert isinstance(up.client._transport, Http1Transport)
    return up


async def drive(up: Upstream, n: int, clients: int, stream: bool) -> float:
    """Process CPU seconds for ``n`` requests from ``clients`` concurrent tasks (after a warm-up)."""
    t = up.target("scripted")
    left = n

    async def one() -> None:
        if stream:
            async with up.stream(t, "/chat/completions", {**BODY, "stream": True}) as resp:
                async for _ in resp.aiter_bytes():
                    pass
        else:
            await up.post_json(t, "/chat/completions", BODY)

    async def client() -> None:
        nonlocal left
        while left > 0:
            left -= 1
            await one()

    await asyncio.gather(*(one() for _ in range(clients)))  # warm-up: the pool's connections
    c0 = time.process_time()
    await asyncio.gather(*(client() for _ in range(clients)))
    return time.process_time() - c0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--requests", type=int, default=3000)
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    import uvloop

    port = free_port()
    proc = subprocess.Popen([sys.executable, str(ROOT / "tests" / "gateway" / "scripted_upstream.py"), "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        for _ in range(200):
            try:
                httpx.get(f"{url}/models", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        best: dict[tuple[str, bool], float] = {}
        for _ in range(args.rounds):
            for stream in (False, True):
                for transport in ("httpx", "hegui"):
                    async def run(transport: str = transport, stream: bool = stream) -> float:
                        up = upstream_for(url, transport)
                        try:
                            return await drive(up, args.requests, args.clients, stream)
                        finally:
                            await up.aclose()

                    cpu = uvloop.run(run()) / args.requests * 1e6
                    k = (transport, stream)
                    best[k] = min(best.get(k, cpu), cpu)
        for stream in (False, True):
            kind = "streamed (read to the end)" if stream else "whole answer (post_json)"
            a, b = best["httpx", stream], best["hegui", stream]
            print(f"{kind:28s} httpx stock {a:7.1f} µs/request   hegui Http1Transport {b:7.1f} µs/request   "
                  f"ratio {a / b:4.2f}×")
    finally:
        proc.terminate()
        proc.wait(10)


if __name__ == "__main__":
    main()
