"""A plain-asyncio network backend for httpcore, under the gateway's httpx client.

Why not httpcore's default (anyio on asyncio): profiles of the gateway put httpx at about a quarter
of a non-streaming request's CPU, and three costs in it come from the network layer, not from
HTTP itself:

- before every request and after every response httpcore asks *every* idle pooled connection
  whether its socket is readable (a ``select``/``poll`` system call each, through anyio's typed
  attributes), so the cost per request grows with the pool — 32 concurrent clients keep ~32
  connections. Here the protocol already knows whether data or EOF arrived (the event loop
  delivered it), so the answer costs no system call.
- anyio wraps every read and write in a cancel scope and a checkpoint; here a read is one future
  and (with a timeout) one timer handle.
- httpcore writes a request's headers and body separately: two ``send`` calls, two loopback
  segments, two wake-ups of the model server. Here writes are held until the request is read
  back (HTTP/1.1 sends the whole request before it reads the response), so they leave as one.

httpx stays the client (the issue asks for it); this only plugs into httpcore's documented
``network_backend`` extension point. TLS goes through the event loop's ``start_tls``.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Iterable
from typing import Any

import httpcore
import httpx

_HELD_MAX = 64 * 1024  # writes above this go out at once (a large body is not held back)
_READ_HIGH = 256 * 1024  # pause reading the socket when this much is buffered unread


class _Protocol(asyncio.Protocol):
    """Buffers what the socket delivers; one waiter (the reader) at a time, as httpcore reads."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.eof = False
        self.exc: BaseException | None = None
        self.waiter: asyncio.Future[None] | None = None
        self.drain: asyncio.Future[None] | None = None
        self.paused_writing = False
        self.paused_reading = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if len(self.buf) > _READ_HIGH and not self.paused_reading and self.transport is not None:
            self.paused_reading = True
            self.transport.pause_reading()
        self._wake()

    def eof_received(self) -> bool:
        self.eof = True
        self._wake()
        return False  # let the transport close itself

    def connection_lost(self, exc: Exception | None) -> None:
        self.eof = True
        self.exc = exc
        self._wake()
        self.paused_writing = False
        if self.drain is not None and not self.drain.done():
            self.drain.set_result(None)

    def pause_writing(self) -> None:
        self.paused_writing = True

    def resume_writing(self) -> None:
        self.paused_writing = False
        if self.drain is not None and not self.drain.done():
            self.drain.set_result(None)

    def _wake(self) -> None:
        w = self.waiter
        if w is not None and not w.done():
            w.set_result(None)


def _expire(fut: asyncio.Future[None], exc: type[Exception]) -> None:
    if not fut.done():
        fut.set_exception(exc())


async def _wait(fut: asyncio.Future[None], timeout: float | None, exc: type[Exception]) -> None:
    """Await ``fut``; after ``timeout`` seconds it fails with ``exc`` (one timer handle, no task)."""
    if timeout is None:
        await fut
        return
    handle = asyncio.get_running_loop().call_later(timeout, _expire, fut, exc)
    try:
        await fut
    finally:
        handle.cancel()


class AsyncioStream(httpcore.AsyncNetworkStream):
    def __init__(self, transport: asyncio.Transport, protocol: _Protocol) -> None:
        self._transport, self._p = transport, protocol
        self._held: list[bytes] = []
        self._held_bytes = 0

    def _flush(self) -> None:
        if self._held:
            data = self._held[0] if len(self._held) == 1 else b"".join(self._held)
            self._held.clear()
            self._held_bytes = 0
            self._transport.write(data)

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        p = self._p
        if self._held:
            try:
                self._flush()
            except (OSError, RuntimeError) as e:
                raise httpcore.WriteError(str(e)) from e
        if not p.buf and not p.eof:
            p.waiter = asyncio.get_running_loop().create_future()
            try:
                await _wait(p.waiter, timeout, httpcore.ReadTimeout)
            finally:
                p.waiter = None
        if not p.buf:
            if p.exc is not None:
                raise httpcore.ReadError(str(p.exc) or type(p.exc).__name__)
            return b""  # end of stream
        if len(p.buf) <= max_bytes:
            data = bytes(p.buf)
            p.buf.clear()
        else:
            data = bytes(p.buf[:max_bytes])
            del p.buf[:max_bytes]
        if p.paused_reading and len(p.buf) < _READ_HIGH // 2:
            p.paused_reading = False
            self._transport.resume_reading()
        return data

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        p = self._p
        if p.exc is not None or self._transport.is_closing():
            raise httpcore.WriteError("the connection is closed")
        self._held.append(bytes(buffer))
        self._held_bytes += len(buffer)
        if self._held_bytes < _HELD_MAX:
            return  # goes out with the rest of the request, at the first read
        try:
            self._flush()
        except (OSError, RuntimeError) as e:
            raise httpcore.WriteError(str(e)) from e
        if p.paused_writing:
            p.drain = asyncio.get_running_loop().create_future()
            try:
                await _wait(p.drain, timeout, httpcore.WriteTimeout)
            finally:
                p.drain = None
            if p.exc is not None:
                raise httpcore.WriteError(str(p.exc))

    async def aclose(self) -> None:
        self._held.clear()
        self._transport.close()

    async def start_tls(self, ssl_context: ssl.SSLContext, server_hostname: str | None = None,
                        timeout: float | None = None) -> httpcore.AsyncNetworkStream:
        self._flush()
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                transport = await loop.start_tls(self._transport, self._p, ssl_context, server_hostname=server_hostname,
                                                 ssl_handshake_timeout=timeout)
        except TimeoutError as e:
            self._transport.abort()
            raise httpcore.ConnectTimeout(str(e)) from e
        except (OSError, ssl.SSLError) as e:
            self._transport.abort()
            raise httpcore.ConnectError(str(e)) from e
        if transport is None:  # the connection went away during the handshake
            raise httpcore.ConnectError("the connection closed during the TLS handshake")
        self._p.transport = transport
        return AsyncioStream(transport, self._p)

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":
            # Idle connection with data or EOF waiting: the server closed it (or broke protocol).
            return bool(self._p.buf) or self._p.eof
        if info == "ssl_object":
            return self._transport.get_extra_info("ssl_object")
        if info == "client_addr":
            return self._transport.get_extra_info("sockname")
        if info == "server_addr":
            return self._transport.get_extra_info("peername")
        if info == "socket":
            return self._transport.get_extra_info("socket")
        return None


class AsyncioBackend(httpcore.AsyncNetworkBackend):
    """httpcore network backend on the running asyncio loop (uvloop under uvicorn)."""

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                          socket_options: Iterable[Any] | None = None) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        proto = _Protocol()
        try:
            async with asyncio.timeout(timeout):
                transport, _ = await loop.create_connection(
                    lambda: proto, host, port, local_addr=(local_address, 0) if local_address else None)
        except TimeoutError as e:
            raise httpcore.ConnectTimeout(str(e)) from e
        except OSError as e:
            raise httpcore.ConnectError(str(e)) from e
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            for option in socket_options or ():
                sock.setsockopt(*option)
        return AsyncioStream(transport, proto)  # type: ignore[arg-type]

    async def connect_unix_socket(self, path: str, timeout: float | None = None,
                                  socket_options: Iterable[Any] | None = None) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        proto = _Protocol()
        try:
            async with asyncio.timeout(timeout):
                transport, _ = await loop.create_unix_connection(lambda: proto, path)
        except TimeoutError as e:
            raise httpcore.ConnectTimeout(str(e)) from e
        except OSError as e:
            raise httpcore.ConnectError(str(e)) from e
        sock = transport.get_extra_info("socket")
        for option in socket_options or ():
            sock.setsockopt(*option)
        return AsyncioStream(transport, proto)  # type: ignore[arg-type]

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class LeanPool(httpcore.AsyncConnectionPool):
    """httpcore's pool with the same assignment rules, in linear time.

    httpcore 1.0 runs ``_assign_requests_to_connections`` when every request starts and ends. Its
    clean-up loop rebuilds a list of all connections for each idle one (quadratic in the pool) and
    each queued request scans the pool twice into lists. With 32 clients (≈ 32 pooled connections)
    that was ≈ 9 % of the gateway's CPU. This version makes the same decisions in the same order
    (tests compare the two on random pool states); it is used only with the httpcore it mirrors."""

    def _assign_requests_to_connections(self) -> list[Any]:
        closing: list[Any] = []
        conns = self._connections
        for connection in list(conns):
            if connection.is_closed():
                conns.remove(connection)
            elif connection.has_expired() or (connection.is_idle() and len(conns) > self._max_keepalive_connections):
                conns.remove(connection)
                closing.append(connection)
        for pool_request in self._requests:
            if not pool_request.is_queued():
                continue
            origin = pool_request.request.url.origin
            available = next((c for c in conns if c.can_handle_request(origin) and c.is_available()), None)
            if available is not None:
                pool_request.assign_to_connection(available)
            elif len(conns) < self._max_connections:
                connection = self.create_connection(origin)
                conns.append(connection)
                pool_request.assign_to_connection(connection)
            else:
                idle = next((c for c in conns if c.is_idle()), None)
                if idle is not None:
                    conns.remove(idle)
                    closing.append(idle)
                    connection = self.create_connection(origin)
                    conns.append(connection)
                    pool_request.assign_to_connection(connection)
        return closing


# The httpcore whose `_assign_requests_to_connections` LeanPool reproduces; any other: the stock pool.
_POOL_CLASS = LeanPool if httpcore.__version__.startswith("1.0.") else httpcore.AsyncConnectionPool


class AsyncioTransport(httpx.AsyncHTTPTransport):
    """httpx's own HTTP transport (request/response and error mapping unchanged) whose connection
    pool — same limits, keep-alive expiry and TLS settings — runs on `AsyncioBackend`."""

    def __init__(self, *, limits: httpx.Limits, verify: ssl.SSLContext | bool = True, trust_env: bool = True) -> None:
        super().__init__(verify=verify, trust_env=trust_env, limits=limits)
        # ``handle_async_request`` sends through ``self._pool``: the same pool httpx would build, on another backend.
        self._pool = _POOL_CLASS(
            ssl_context=httpx.create_ssl_context(verify=verify, trust_env=trust_env),
            max_connections=limits.max_connections, max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry, network_backend=AsyncioBackend(),
        )
