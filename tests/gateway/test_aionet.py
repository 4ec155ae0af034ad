"""The gateway's httpx client over `hegui.gateway.aionet` (plain asyncio instead of anyio): pooled
connections a server closed are not reused, a request leaves in one write, timeouts and refused
connections map to httpx's errors, large bodies and responses pass whole, and TLS works."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import ssl
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from hegui.gateway.aionet import AsyncioBackend, AsyncioTransport
from hegui.testing import free_port

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


def client(**kw: Any) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=4, max_keepalive_connections=4)
    return httpx.AsyncClient(transport=AsyncioTransport(limits=limits, **kw), timeout=httpx.Timeout(2.0, connect=1.0))


async def read_request(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    n = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            n = int(line.split(b":")[1])
    return head, await reader.readexactly(n)


def response(body: bytes, *, close: bool = False) -> bytes:
    conn = b"Connection: close\r\n" if close else b""
    return b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n" + conn + \
        b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body


async def serve(handler: Handler, ssl_ctx: ssl.SSLContext | None = None) -> tuple[asyncio.Server, int]:
    port = free_port()
    server = await asyncio.start_server(handler, "127.0.0.1", port, ssl=ssl_ctx)
    return server, port


def test_the_pool_runs_on_the_asyncio_backend() -> None:
    """Guards the one private attribute relied on: httpx sends through ``_pool``."""
    t = AsyncioTransport(limits=httpx.Limits(max_connections=3))
    assert isinstance(t._pool._network_backend, AsyncioBackend)
    assert t._pool._max_connections == 3


def test_keepalive_reuse_and_a_connection_the_server_closed() -> None:
    """Requests reuse one connection; after the server closes it while idle, the next request
    opens a new one instead of failing on the dead one."""
    conns: list[int] = []
    segments: list[int] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conns.append(1)
        for i in range(2):
            try:
                head, body = await read_request(reader)
            except asyncio.IncompleteReadError:
                break
            segments.append(len(head) + len(body))
            writer.write(response(b'{"n": %d}' % i))
            await writer.drain()
        await asyncio.sleep(0.05)
        writer.close()  # idle keep-alive connection closed by the server

    async def main() -> list[Any]:
        server, port = await serve(handler)
        out = []
        async with server, client() as c:
            for _ in range(2):
                out.append((await c.post(f"http://127.0.0.1:{port}/x", json={"a": "值" * 10})).json())
            await asyncio.sleep(0.3)  # the server has closed the idle connection by now
            out.append((await c.post(f"http://127.0.0.1:{port}/x", json={"a": 1})).json())
        return out

    assert asyncio.run(main()) == [{"n": 0}, {"n": 1}, {"n": 0}]
    assert len(conns) == 2


def test_headers_and_body_leave_in_one_write() -> None:
    """httpcore writes a request's headers and body separately; they reach the socket as one
    write, when the response is first read."""
    received: list[bytes] = []

    class Counting:
        def __init__(self, inner: Any) -> None:
            self.inner, self.writes = inner, 0

        def write(self, data: bytes) -> None:
            self.writes += 1
            self.inner.write(data)

        def __getattr__(self, name: str) -> Any:
            return getattr(self.inner, name)

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        received.append(await reader.readexactly(len(b"HEAD\r\n\r\nBODY")))
        writer.write(b"OK")
        await writer.drain()
        writer.close()

    async def main() -> int:
        server, port = await serve(handler)
        async with server:
            stream = await AsyncioBackend().connect_tcp("127.0.0.1", port, timeout=1)
            counting = Counting(stream._transport)
            stream._transport = counting  # type: ignore[assignment]
            await stream.write(b"HEAD\r\n\r\n")
            await stream.write(b"BODY")
            assert counting.writes == 0  # held until the response is read
            assert await stream.read(100, timeout=1) == b"OK"
            assert await stream.read(100, timeout=1) == b""  # end of stream
            await stream.aclose()
            return counting.writes

    assert asyncio.run(main()) == 1
    assert received == [b"HEAD\r\n\r\nBODY"]


def test_large_body_and_large_response_pass_whole() -> None:
    big_in = b"x" * 3_000_000
    big_out = b'"' + b"y" * 2_000_000 + b'"'

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        _, body = await read_request(reader)
        assert body == big_in
        writer.write(response(big_out, close=True))
        await writer.drain()
        writer.close()

    async def main() -> bytes:
        server, port = await serve(handler)
        async with server, client() as c:
            return (await c.post(f"http://127.0.0.1:{port}/x", content=big_in)).content

    assert asyncio.run(main()) == big_out


def test_read_timeout_and_refused_connection() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        await asyncio.sleep(5)

    async def main() -> None:
        server, port = await serve(silent)
        async with server, client() as c:
            with pytest.raises(httpx.ReadTimeout):
                await c.post(f"http://127.0.0.1:{port}/x", json={}, timeout=httpx.Timeout(0.3))
            with pytest.raises(httpx.ConnectError):
                await c.get(f"http://127.0.0.1:{free_port()}/x")

    asyncio.run(main())


def test_server_drops_the_connection_mid_response() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"partial\"")
        await writer.drain()
        writer.close()

    async def main() -> None:
        server, port = await serve(handler)
        async with server, client() as c:
            with pytest.raises(httpx.RemoteProtocolError):
                await c.post(f"http://127.0.0.1:{port}/x", json={})

    asyncio.run(main())


def _self_signed(tmp: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp / "cert.pem", tmp / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def test_tls(tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path)
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for _ in range(2):
            _, body = await read_request(reader)
            writer.write(response(body))
            await writer.drain()
        writer.close()

    async def main() -> None:
        server, port = await serve(handler, server_ctx)
        async with server:
            trusted = ssl.create_default_context(cafile=str(cert))
            async with client(verify=trusted) as c:
                for i in range(2):  # the second over the same TLS connection
                    r = await c.post(f"https://localhost:{port}/x", json={"i": i})
                    assert r.json() == {"i": i}
            async with client() as c:  # the default trust store does not know the certificate
                with pytest.raises(httpx.ConnectError):
                    await c.post(f"https://localhost:{port}/x", json={})

    asyncio.run(main())


def test_upstream_requests_carry_client_headers_and_no_cookies() -> None:
    """`Upstream` sends through the transport: the client's default headers and the key go out,
    a cookie one answer set is not sent with the next request (another user's, maybe)."""
    from hegui.gateway.config import GatewayConfig
    from hegui.gateway.upstream import Target, Upstream

    heads: list[bytes] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for _ in range(2):
            head, body = await read_request(reader)
            heads.append(head.lower() + body)
            out = b'{"ok": true}'
            writer.write(b"HTTP/1.1 200 OK\r\nSet-Cookie: session=user-a\r\nContent-Type: application/json\r\n"
                         b"Content-Length: " + str(len(out)).encode() + b"\r\n\r\n" + out)
            await writer.drain()
        writer.close()

    async def main() -> None:
        server, port = await serve(handler)
        async with server:
            up = Upstream(GatewayConfig(upstream_url=f"http://127.0.0.1:{port}/v1"))
            t = Target(f"http://127.0.0.1:{port}/v1", "sk-upstream", "m")
            assert await up.post_json(t, "/chat/completions", {"q": "你好"}) == {"ok": True}
            assert await up.get_json(t, "/models") == {"ok": True}
            await up.aclose()

    asyncio.run(main())
    post, get = heads
    assert post.startswith(b"post /v1/chat/completions http/1.1") and b"authorization: bearer sk-upstream" in post
    assert b"content-type: application/json" in post and b"user-agent: python-httpx/" in post
    assert post.endswith('{"q":"你好"}'.encode())
    assert get.startswith(b"get /v1/models http/1.1") and b"content-type" not in get and b"content-length" not in get
    assert b"cookie" not in get


def test_proxy_from_the_environment_is_still_used(monkeypatch: pytest.MonkeyPatch) -> None:
    """``HTTP_PROXY`` keeps working: httpx's own proxy transport carries the request (absolute
    URL to the proxy); hosts in ``NO_PROXY`` go direct over the asyncio pool."""
    from hegui.gateway.config import GatewayConfig
    from hegui.gateway.upstream import Target, Upstream

    seen: list[bytes] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head, _ = await read_request(reader)
        seen.append(head.split(b"\r\n", 1)[0])
        writer.write(response(b'{"via": "proxy"}', close=True))
        await writer.drain()
        writer.close()

    async def main() -> None:
        server, port = await serve(handler)
        monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{port}")
        monkeypatch.setenv("NO_PROXY", "localhost")
        async with server:
            up = Upstream(GatewayConfig(upstream_url="http://upstream.invalid/v1"))
            assert await up.post_json(Target("http://upstream.invalid/v1", None, "m"), "/chat/completions", {}) == {"via": "proxy"}
            assert isinstance(up.client._transport, AsyncioTransport)
            # a host in NO_PROXY: the asyncio pool, straight to the (here same) server
            assert up._route(f"http://localhost:{port}/v1/x")[1] is up.client._transport
            await up.aclose()

    asyncio.run(main())
    assert seen == [b"POST http://upstream.invalid/v1/chat/completions HTTP/1.1"]


class _FakeConn:
    """A pooled connection's state, as the pool's assignment reads it."""

    def __init__(self, rng: Any, n: int) -> None:
        self.n = n
        self.closed, self.expired = rng.random() < 0.1, rng.random() < 0.1
        self.idle = rng.random() < 0.5
        self.available = self.idle or rng.random() < 0.1
        self.origin = rng.choice(["a", "b"])

    def is_closed(self) -> bool:
        return self.closed

    def has_expired(self) -> bool:
        return self.expired

    def is_idle(self) -> bool:
        return self.idle

    def is_available(self) -> bool:
        return self.available

    def can_handle_request(self, origin: str) -> bool:
        return origin == self.origin


class _NewConn(_FakeConn):
    """A connection the pool just created: still connecting, so neither idle nor available."""

    def __init__(self, n: str, origin: str) -> None:
        self.n, self.origin = n, origin
        self.closed = self.expired = self.idle = self.available = False


class _FakeRequest:
    def __init__(self, rng: Any) -> None:
        self.request = type("R", (), {"url": type("U", (), {"origin": rng.choice(["a", "b"])})()})()
        self.connection: Any = None if rng.random() < 0.6 else "busy"

    def is_queued(self) -> bool:
        return self.connection is None

    def assign_to_connection(self, connection: Any) -> None:
        self.connection = connection


def test_lean_pool_assigns_like_httpcore_on_random_states() -> None:
    """`LeanPool` keeps, closes and assigns exactly the connections httpcore's pool would."""
    import random

    import httpcore

    from hegui.gateway.aionet import LeanPool

    def run(cls: type, seed: int) -> tuple[Any, ...]:
        rng = random.Random(seed)
        pool = cls(max_connections=rng.randint(1, 12), max_keepalive_connections=rng.randint(0, 12))
        pool._connections = [_FakeConn(rng, i) for i in range(rng.randint(0, 14))]
        pool._requests = [_FakeRequest(rng) for _ in range(rng.randint(0, 8))]
        made: list[str] = []

        def create(origin: str) -> Any:
            made.append(origin)
            return _NewConn(f"new-{len(made)}-{origin}", origin)

        pool.create_connection = create  # type: ignore[method-assign]
        closing = pool._assign_requests_to_connections()

        def ident(c: Any) -> Any:
            return c if isinstance(c, str) else c.n  # "busy": a request already on a connection

        return ([ident(c) for c in pool._connections], [ident(c) for c in closing],
                [ident(r.connection) if r.connection is not None else None for r in pool._requests], made)

    for seed in range(3000):
        assert run(LeanPool, seed) == run(httpcore.AsyncConnectionPool, seed), seed


def test_requests_queue_on_a_full_pool_and_all_complete() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            try:
                _, body = await read_request(reader)
            except (asyncio.IncompleteReadError, ConnectionError):
                break
            await asyncio.sleep(0.02)
            writer.write(response(body))
            await writer.drain()
        writer.close()

    async def main() -> list[Any]:
        server, port = await serve(handler)
        limits = httpx.Limits(max_connections=2, max_keepalive_connections=1)
        async with server, httpx.AsyncClient(transport=AsyncioTransport(limits=limits), timeout=5) as c:
            rs = await asyncio.gather(*(c.post(f"http://127.0.0.1:{port}/x", json={"i": i}) for i in range(12)))
            return [r.json()["i"] for r in rs]

    assert asyncio.run(main()) == list(range(12))
