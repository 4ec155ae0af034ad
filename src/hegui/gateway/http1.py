"""A lean HTTP/1.1 transport for the gateway's httpx client: asyncio protocols, httptools parsing.

Why: with the request path otherwise trimmed, profiles of the running gateway (py-spy ``--gil``)
put the upstream call at about 40 % of its Python time — not HTTP itself but the layers of
httpcore's pool and connection (anyio locks, events and shielded cancel scopes per request) and
h11's pure-Python parser (an event object per header block and per body piece). Here one asyncio
protocol per connection feeds httptools (llhttp, the parser uvicorn uses on the server side, in
C), and the pool is a deque of idle connections per origin.

httpx stays the client (the issue asks for it): this plugs in as an ``httpx.AsyncBaseTransport``,
so requests, responses, content decoding, timeouts' configuration and httpx's exception types
are unchanged — the `Upstream` retries on ``httpx.ConnectError``/``ConnectTimeout`` only, as
before. What a transport owes httpx, and what this one does:

- **Pool**: at most ``max_connections`` connections (in use + idle); a request over the limit
  waits up to the *pool* timeout (``httpx.PoolTimeout``). Idle connections are reused per origin,
  newest first, dropped after ``keepalive_expiry`` seconds or when the server closed them (EOF or
  unexpected bytes while idle, which the protocol has already seen: no system call per check).
- **Timeouts**: *connect* (TCP and TLS), *write* (a body the socket cannot take), *read* (silence
  between two pieces of the response), as httpx's ``Timeout`` says for each request.
- **Requests** leave in one ``write`` (headers and body together: one loopback segment).
- **Responses**: Content-Length, chunked, or close-delimited bodies; interim 1xx responses are
  skipped; ``Connection: close`` and HTTP/1.0 end the connection after the response. A body is
  streamed to the reader as it arrives, with back-pressure (the socket pauses above 256 KiB
  unread). A connection goes back to the pool only when its response was read to the end.
- **Errors**: ``ConnectError``/``ConnectTimeout`` (nothing was sent), ``WriteError``,
  ``ReadTimeout``, ``ReadError`` (connection lost), ``RemoteProtocolError`` (malformed response,
  or closed before a complete one). A request cancelled mid-way (the client went away) closes its
  connection, which can hold a half-read response.
- **TLS** for ``https`` through the event loop (``ssl_context`` from httpx's own settings).

Proxies from the environment keep httpx's own transports (`Upstream` asks the client which
transport a URL takes). HTTP/2 is not offered (neither was it before).
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import time
from collections import deque
from collections.abc import AsyncIterator

import httptools
import httpx

_READ_HIGH = 256 * 1024  # pause reading the socket when this much body is buffered unread
_Origin = tuple[bytes, bytes, int]  # scheme, host, port


def _wake(fut: asyncio.Future[None] | None) -> None:
    if fut is not None and not fut.done():
        fut.set_result(None)


def _expire(fut: asyncio.Future[None], error: type[Exception], message: str) -> None:
    if not fut.done():
        fut.set_exception(error(message))


async def _wait(fut: asyncio.Future[None], timeout: float | None, error: type[Exception], message: str) -> None:
    """Await ``fut``; after ``timeout`` seconds it fails with ``error(message)`` (one timer handle, no task)."""
    if timeout is None:
        await fut
        return
    handle = asyncio.get_running_loop().call_later(timeout, _expire, fut, error, message)
    try:
        await fut
    finally:
        handle.cancel()


class _Surplus(Exception):
    """Bytes past the end of the response (stops the parser; the connection is not reused)."""


class _Conn(asyncio.Protocol):
    """One HTTP/1.1 connection: the socket's protocol and the parser's callbacks, one response at a time."""

    def __init__(self, origin: _Origin) -> None:
        self.origin = origin
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.idle_since = 0.0
        self.lost = False  # EOF or connection lost
        self.exc: Exception | None = None
        self.waiter: asyncio.Future[None] | None = None
        self.drain: asyncio.Future[None] | None = None
        self.paused_reading = False
        self.paused_writing = False
        self.in_use = False
        self._reset()

    def _reset(self) -> None:
        self.status = 0
        self.reason = b""
        self.headers: list[tuple[bytes, bytes]] = []
        self.headers_done = False
        self.complete = False
        self.body: deque[bytes] = deque()
        self.buffered = 0
        self.framed = False  # Content-Length or chunked: the parser knows where the body ends

    # -- asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if not self.in_use or self.complete:  # bytes past the response: the server broke protocol; never reuse
            self.lost = True
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as e:
            self.exc = httpx.RemoteProtocolError(f"malformed response from the server: {e}")
            self.lost = True
            if self.transport is not None:
                self.transport.close()
        if self.buffered > _READ_HIGH and not self.paused_reading and self.transport is not None:
            self.paused_reading = True
            self.transport.pause_reading()
        _wake(self.waiter)

    def eof_received(self) -> bool:
        self._end_of_stream(None)
        return False  # let the transport close itself

    def connection_lost(self, exc: Exception | None) -> None:
        self._end_of_stream(exc)
        self.paused_writing = False
        _wake(self.drain)

    def _end_of_stream(self, exc: Exception | None) -> None:
        self.lost = True
        if self.in_use and self.headers_done and not self.complete and not self.framed and self.exc is None:
            self.complete = True  # a close-delimited body ends with the connection
        elif self.in_use and not self.complete and self.exc is None:
            why = f" ({exc})" if exc else ""
            self.exc = (httpx.RemoteProtocolError("the server closed the connection before the response was complete"
                                                  + why) if self.headers_done else
                        httpx.RemoteProtocolError("Server disconnected without sending a response." + why))
        _wake(self.waiter)

    def pause_writing(self) -> None:
        self.paused_writing = True

    def resume_writing(self) -> None:
        self.paused_writing = False
        _wake(self.drain)

    # -- httptools callbacks
    def on_message_begin(self) -> None:
        if self.complete:  # a second response after ours in the same bytes: never asked for, never read
            raise _Surplus()

    def on_status(self, status: bytes) -> None:
        self.reason += status

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        self.status = self.parser.get_status_code()
        if 100 <= self.status < 200:
            return  # interim response (100 Continue, 103 Early Hints): the real one follows
        self.headers_done = True
        for name, value in self.headers:
            n = name.lower()
            if n == b"content-length" or (n == b"transfer-encoding" and b"chunked" in value.lower()):
                self.framed = True

    def on_body(self, body: bytes) -> None:
        self.body.append(body)
        self.buffered += len(body)

    def on_message_complete(self) -> None:
        if not self.headers_done:  # the end of an interim response
            self.status, self.reason, self.headers = 0, b"", []
            return
        self.complete = True
        if not self.parser.should_keep_alive():
            self.lost = True  # Connection: close (or HTTP/1.0): not reusable

    # -- used by the transport
    def reusable(self, now: float, expiry: float | None) -> bool:
        return (not self.lost and self.exc is None and self.transport is not None and not self.transport.is_closing()
                and (expiry is None or now - self.idle_since < expiry))

    def close(self) -> None:
        self.lost = True
        if self.transport is not None:
            self.transport.close()

    async def wait_data(self, timeout: float | None) -> None:
        self.waiter = asyncio.get_running_loop().create_future()
        try:
            await _wait(self.waiter, timeout, httpx.ReadTimeout, "the upstream sent nothing within the read timeout")
        finally:
            self.waiter = None

    def take_body(self) -> bytes:
        data = self.body.popleft() if len(self.body) == 1 else b"".join(self.body)
        self.body.clear()
        self.buffered = 0
        if self.paused_reading and self.transport is not None:
            self.paused_reading = False
            self.transport.resume_reading()
        return data


class _Body(httpx.AsyncByteStream):
    """A response body as it arrives; closing it gives the connection back (read to the end) or closes it."""

    def __init__(self, pool: Http1Transport, conn: _Conn, read_timeout: float | None) -> None:
        self._pool, self._conn, self._timeout = pool, conn, read_timeout
        self._closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        c = self._conn
        try:
            while True:
                if c.body:
                    yield c.take_body()
                elif c.complete:
                    return
                elif c.exc is not None:
                    raise c.exc
                else:
                    await c.wait_data(self._timeout)
        except BaseException:  # an error, or the reader stopped early (GeneratorExit): not reusable
            self._finish()
            raise

    def _finish(self) -> None:
        if not self._closed:
            self._closed = True
            c = self._conn
            self._pool._release(c, reuse=c.complete and not c.body and c.exc is None)

    async def aclose(self) -> None:
        self._finish()


class Http1Transport(httpx.AsyncBaseTransport):
    """httpx transport: HTTP/1.1 connections pooled per origin (see the module docstring)."""

    def __init__(self, *, limits: httpx.Limits, verify: ssl.SSLContext | bool = True, trust_env: bool = True) -> None:
        self._max = limits.max_connections or 2**31
        self._max_idle = min(limits.max_keepalive_connections if limits.max_keepalive_connections is not None
                             else self._max, self._max)
        self._expiry = limits.keepalive_expiry
        self._verify, self._trust_env = verify, trust_env
        self._ssl: ssl.SSLContext | None = None
        self._idle: dict[_Origin, deque[_Conn]] = {}
        self._n_idle = 0
        self._active = 0  # connections in use or being opened
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._closed = False

    # -- pool
    def _pop_idle(self, origin: _Origin) -> _Conn | None:
        q = self._idle.get(origin)
        now = time.monotonic()
        while q:
            c = q.pop()  # newest first: the least likely to have been closed by the server
            self._n_idle -= 1
            if c.reusable(now, self._expiry):
                return c
            c.close()
        return None

    def _drop_oldest_idle(self) -> bool:
        """Close one idle connection (of any origin) to make room for a new one."""
        oldest: deque[_Conn] | None = None
        for q in self._idle.values():
            if q and (oldest is None or q[0].idle_since < oldest[0].idle_since):
                oldest = q
        if oldest is None:
            return False
        oldest.popleft().close()
        self._n_idle -= 1
        return True

    async def _acquire(self, origin: _Origin, pool_timeout: float | None) -> _Conn | None:
        """A slot for ``origin``: an idle connection to reuse, or None (the caller opens one)."""
        deadline = None if pool_timeout is None else time.monotonic() + pool_timeout
        while True:
            if self._closed:
                raise httpx.ConnectError("the upstream client is closed")
            c = self._pop_idle(origin)
            if c is not None:
                self._active += 1
                return c
            if self._active + self._n_idle < self._max or self._drop_oldest_idle():
                self._active += 1
                return None
            fut = asyncio.get_running_loop().create_future()
            self._waiters.append(fut)
            try:
                await _wait(fut, None if deadline is None else max(0.0, deadline - time.monotonic()),
                            httpx.PoolTimeout, "no upstream connection became free within the pool timeout")
            except BaseException:  # cancelled: a slot handed to us just before goes to the next in line
                if fut.done() and not fut.cancelled() and fut.exception() is None:
                    self._wake_next()
                raise
            finally:
                if fut in self._waiters:
                    self._waiters.remove(fut)

    def _release(self, c: _Conn, *, reuse: bool) -> None:
        """A request is done with ``c``: back to the idle pool (``reuse``, response read to the end) or closed."""
        c.in_use = False
        if reuse and not self._closed and c.reusable(time.monotonic(), None) and self._n_idle < self._max_idle:
            c.idle_since = time.monotonic()
            c._reset()
            self._idle.setdefault(c.origin, deque()).append(c)
            self._n_idle += 1
        else:
            c.close()
        self._release_slot()

    def _release_slot(self) -> None:
        """One connection fewer in use: the first request waiting for a slot tries again."""
        self._active -= 1
        self._wake_next()

    def _wake_next(self) -> None:
        while self._waiters:
            fut = self._waiters.popleft()
            if not fut.done():
                fut.set_result(None)
                break

    async def _open(self, origin: _Origin, timeout: float | None) -> _Conn:
        scheme, host, port = origin
        loop = asyncio.get_running_loop()
        conn = _Conn(origin)
        ssl_ctx: ssl.SSLContext | None = None
        if scheme == b"https":
            if self._ssl is None:
                self._ssl = httpx.create_ssl_context(verify=self._verify, trust_env=self._trust_env)
            ssl_ctx = self._ssl
        hostname = host.decode("ascii")
        try:
            async with asyncio.timeout(timeout):
                await loop.create_connection(lambda: conn, hostname, port, ssl=ssl_ctx,
                                             server_hostname=hostname if ssl_ctx is not None else None)
        except TimeoutError as e:
            conn.close()
            raise httpx.ConnectTimeout(f"connecting to {hostname}:{port} timed out") from e
        except (OSError, ssl.SSLError) as e:
            conn.close()
            raise httpx.ConnectError(f"cannot connect to {hostname}:{port}: {e}") from e
        except BaseException:  # cancelled while connecting: no transport left behind
            conn.close()
            raise
        assert conn.transport is not None
        sock = conn.transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return conn

    # -- httpx.AsyncBaseTransport
    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        scheme = url.raw_scheme
        if scheme not in (b"http", b"https"):
            raise httpx.UnsupportedProtocol(f"the upstream URL must be http or https, not {scheme.decode()!r}")
        origin = (scheme, url.raw_host, url.port or (443 if scheme == b"https" else 80))
        t = request.extensions.get("timeout", {})
        try:
            body = request.content
        except httpx.RequestNotRead:
            body = b"".join([part async for part in request.stream])  # type: ignore[union-attr]
        head = [request.method.encode("ascii"), b" ", url.raw_path, b" HTTP/1.1\r\n"]
        for name, value in request.headers.raw:
            head += (name, b": ", value, b"\r\n")
        head.append(b"\r\n")
        data = b"".join(head) + body

        conn = await self._acquire(origin, t.get("pool"))
        if conn is None:
            try:
                conn = await self._open(origin, t.get("connect"))
            except BaseException:
                self._release_slot()
                raise
        conn.in_use = True
        try:
            await self._send(conn, data, t.get("write"))
            while not conn.headers_done:
                if conn.exc is not None:
                    raise conn.exc
                await conn.wait_data(t.get("read"))
        except BaseException:
            self._release(conn, reuse=False)
            raise
        return httpx.Response(conn.status, headers=conn.headers, stream=_Body(self, conn, t.get("read")),
                              extensions={"http_version": b"HTTP/1.1", "reason_phrase": conn.reason.strip()})

    async def _send(self, conn: _Conn, data: bytes, timeout: float | None) -> None:
        tr = conn.transport
        if tr is None or tr.is_closing() or conn.lost:
            raise httpx.WriteError("the upstream connection is closed")
        try:
            tr.write(data)
        except (OSError, RuntimeError) as e:
            raise httpx.WriteError(str(e)) from e
        if conn.paused_writing:
            conn.drain = asyncio.get_running_loop().create_future()
            try:
                await _wait(conn.drain, timeout, httpx.WriteTimeout,
                            "the upstream did not take the request within the write timeout")
            finally:
                conn.drain = None
            if conn.lost and conn.exc is not None and not conn.headers_done:
                raise httpx.WriteError(str(conn.exc))

    async def aclose(self) -> None:
        self._closed = True
        for q in self._idle.values():
            while q:
                q.pop().close()
        self._idle.clear()
        self._n_idle = 0
        for fut in self._waiters:
            _wake(fut)

