"""The gateway's httpx client over `hegui.gateway.http1.Http1Transport` (asyncio + httptools): pooled
connections a server closed are not reused, a request leaves in one write, every way a response
can be framed (Content-Length, chunked, close-delimited, after interim 1xx) reads whole, timeouts,
refused connections, protocol errors and a full pool map to httpx's errors, a cancelled or
half-read request never leaves its connection in the pool, and TLS and proxies work."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import json
import ssl
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from hegui.gateway.http1 import Http1Transport
from hegui.testing import free_port

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


def client(**kw: Any) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=4, max_keepalive_connections=4)
    return httpx.AsyncClient(transport=Http1Transport(limits=limits, **kw), timeout=httpx.Timeout(2.0, connect=1.0))


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


def test_headers_and_body_leave_in_one_write(monkeypatch: pytest.MonkeyPatch) -> None:
    """A request's head and body reach the socket as one write (one loopback segment, one wake-up
    of the model server)."""
    received: list[bytes] = []
    writes: list[int] = []
    real = asyncio.selector_events._SelectorSocketTransport.write  # type: ignore[attr-defined]

    def counting(self: Any, data: bytes) -> None:
        if not bytes(data).startswith(b"HTTP/"):  # not the server's answer
            writes.append(len(data))
        real(self, data)

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        _, body = await read_request(reader)
        received.append(body)
        writer.write(response(b"{}"))
        await writer.drain()
        writer.close()

    async def main() -> None:
        server, port = await serve(handler)
        async with server, client() as c:
            monkeypatch.setattr(asyncio.selector_events._SelectorSocketTransport, "write", counting)  # type: ignore[attr-defined]
            await c.post(f"http://127.0.0.1:{port}/x", json={"a": "值" * 100})

    asyncio.run(main())
    assert [json.loads(b) for b in received] == [{"a": "值" * 100}]
    assert len(writes) == 1


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
    URL to the proxy); hosts in ``NO_PROXY`` go direct through `Http1Transport`."""
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
            assert isinstance(up.client._transport, Http1Transport)
            # a host in NO_PROXY: hegui's transport, straight to the (here same) server
            assert up._route(f"http://localhost:{port}/v1/x")[1] is up.client._transport
            await up.aclose()

    asyncio.run(main())
    assert seen == [b"POST http://upstream.invalid/v1/chat/completions HTTP/1.1"]


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
        async with server, httpx.AsyncClient(transport=Http1Transport(limits=limits), timeout=5) as c:
            rs = await asyncio.gather(*(c.post(f"http://127.0.0.1:{port}/x", json={"i": i}) for i in range(12)))
            return [r.json()["i"] for r in rs]

    assert asyncio.run(main()) == list(range(12))


async def _one_answer(raw: bytes, *, then_close: bool = True) -> Handler:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(raw)
        await writer.drain()
        if then_close:
            writer.close()

    return handler


def _fetch(raw: bytes, *, then_close: bool = True) -> httpx.Response:
    async def main() -> httpx.Response:
        server, port = await serve(await _one_answer(raw, then_close=then_close))
        async with server, client() as c:
            r = await c.post(f"http://127.0.0.1:{port}/x", json={})
            await r.aread()
            return r

    return asyncio.run(main())


def test_chunked_close_delimited_and_interim_responses_read_whole() -> None:
    chunked = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/plain\r\n\r\n"
               b"3\r\nabc\r\n6\r\n\xe4\xbd\xa0\xe5\xa5\xbd\r\n0\r\n\r\n")
    r = _fetch(chunked, then_close=False)
    assert r.status_code == 200 and r.content == "abc你好".encode() and r.headers["content-type"] == "text/plain"
    # no length, not chunked: the body runs to the end of the connection
    r = _fetch(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end")
    assert r.content == b"until the end"
    # a 103 Early Hints before the real response is skipped
    r = _fetch(b"HTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok",
               then_close=False)
    assert (r.status_code, r.content, r.reason_phrase, r.http_version) == (201, b"ok", "Created", "HTTP/1.1")
    assert "link" not in r.headers
    # bytes after the response in the same segment are not read as part of it (nor as the next one)
    r = _fetch(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nevil",
               then_close=False)
    assert r.content == b"ok"
    # 204 has no body, whatever follows on the connection
    r = _fetch(b"HTTP/1.1 204 No Content\r\nX-Done: 1\r\n\r\n", then_close=False)
    assert (r.status_code, r.content, r.headers["x-done"]) == (204, b"", "1")
    # gzip is decoded by httpx, as with its own transport
    import gzip

    z = gzip.compress(b'{"z": 1}')
    r = _fetch(b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: " + str(len(z)).encode() + b"\r\n\r\n" + z,
               then_close=False)
    assert r.json() == {"z": 1}


def test_malformed_and_truncated_responses_are_protocol_errors() -> None:
    for raw in (b"NOT HTTP AT ALL\r\n\r\n", b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", b""):
        with pytest.raises(httpx.RemoteProtocolError):
            _fetch(raw)


def keepalive_server(conns: list[int], answer: Callable[[bytes], Awaitable[bytes]]) -> Handler:
    """A handler answering each request of a keep-alive connection with ``answer(body)``; counts connections."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conns.append(1)
        while True:
            try:
                _, body = await read_request(reader)
                writer.write(await answer(body))
                await writer.drain()
            except (asyncio.IncompleteReadError, ConnectionError):
                break
        writer.close()

    return handler


def test_connection_close_and_half_read_responses_are_not_reused() -> None:
    """``Connection: close`` ends the connection; so does a response its reader stopped reading
    (the rest of it would be read as the next response)."""
    conns: list[int] = []

    async def answer(body: bytes) -> bytes:
        if body == b'{"close":true}':
            return response(b"{}", close=True)
        return b"HTTP/1.1 200 OK\r\nContent-Length: 200000\r\n\r\n" + b"x" * 200_000

    handler = keepalive_server(conns, answer)

    async def main() -> None:
        server, port = await serve(handler)
        async with server, client() as c:
            await c.post(f"http://127.0.0.1:{port}/x", json={"close": True})
            async with c.stream("POST", f"http://127.0.0.1:{port}/x", json={}) as r:
                async for _ in r.aiter_raw():
                    break  # stop after the first piece
            r2 = await c.post(f"http://127.0.0.1:{port}/x", json={})
            assert len(r2.content) == 200_000

    asyncio.run(main())
    assert len(conns) == 3


def test_pool_timeout_cancellation_and_keepalive_expiry() -> None:
    """A full pool makes the next request wait, up to the pool timeout; a request cancelled while
    waiting for its answer frees its slot and closes its connection; an idle connection older than
    ``keepalive_expiry`` is not reused."""
    conns: list[int] = []

    async def answer(body: bytes) -> bytes:
        if body == b'{"slow":true}':
            await asyncio.sleep(2)
        return response(b"{}")

    handler = keepalive_server(conns, answer)

    async def main() -> None:
        server, port = await serve(handler)
        t = Http1Transport(limits=httpx.Limits(max_connections=1, keepalive_expiry=0.2))
        url = f"http://127.0.0.1:{port}/x"
        async with server, httpx.AsyncClient(transport=t, timeout=httpx.Timeout(5.0, pool=0.2)) as c:
            slow = asyncio.create_task(c.post(url, json={"slow": True}))
            await asyncio.sleep(0.1)
            with pytest.raises(httpx.PoolTimeout):
                await c.post(url, json={})
            slow.cancel()
            with pytest.raises(asyncio.CancelledError):
                await slow
            assert t._active == 0 and t._n_idle == 0  # the half-answered connection was closed
            await c.post(url, json={})
            await c.post(url, json={})  # reuses it
            await asyncio.sleep(0.3)
            await c.post(url, json={})  # expired: a new one

    asyncio.run(main())
    assert len(conns) == 3


def test_a_stream_arrives_piece_by_piece() -> None:
    """A streamed response is handed on as it arrives, not when it is complete."""
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/event-stream\r\n\r\n")
        for i in range(3):
            data = f"data: {i}\n\n".encode()
            writer.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            await writer.drain()
            await asyncio.sleep(0.15)
        writer.write(b"0\r\n\r\n")
        await writer.drain()
        writer.close()

    async def main() -> list[tuple[float, bytes]]:
        server, port = await serve(handler)
        got: list[tuple[float, bytes]] = []
        async with server, client() as c:
            t0 = asyncio.get_running_loop().time()
            async with c.stream("POST", f"http://127.0.0.1:{port}/x", json={}) as r:
                async for piece in r.aiter_raw():
                    got.append((asyncio.get_running_loop().time() - t0, piece))
        return got

    got = asyncio.run(main())
    assert b"".join(p for _, p in got) == b"data: 0\n\ndata: 1\n\ndata: 2\n\n"
    assert len(got) == 3 and got[0][0] < 0.1 and got[2][0] > 0.25


def test_a_slot_handed_to_a_cancelled_waiter_goes_to_the_next() -> None:
    """Two requests wait for the one slot; it is handed to the first just as that one is cancelled
    (its client went away): the second gets it instead of waiting for the pool timeout."""
    async def main() -> None:
        t = Http1Transport(limits=httpx.Limits(max_connections=1))
        origin = (b"http", b"127.0.0.1", 1)
        assert await t._acquire(origin, None) is None  # the one slot, in use
        first = asyncio.create_task(t._acquire(origin, 5.0))
        second = asyncio.create_task(t._acquire(origin, 5.0))
        await asyncio.sleep(0.01)
        assert len(t._waiters) == 2
        t._release_slot()  # hands the slot to the first waiter...
        first.cancel()  # ...which is cancelled before it runs
        with pytest.raises(asyncio.CancelledError):
            await first
        assert await asyncio.wait_for(second, 1.0) is None  # the second opens a connection at once
        assert t._active == 1 and not t._waiters

    asyncio.run(main())
