"""The outermost gateway layer: a request id and `RequestContext` per request, the request log
line, request metrics, and a JSON 500 instead of a bare error page — for every request, the hot
routes (chat and text completions) included, whose handlers `GatewayApp` has it call directly.

A plain ASGI middleware rather than ``@app.middleware("http")``: Starlette's `BaseHTTPMiddleware`
pipes every streamed chunk through an extra task and memory stream, a cost paid per SSE chunk.
`GatewayApp` hands the hot routes to this layer (`serve` with their handler) before any FastAPI
layer: its server-error, telemetry and body-limit middleware (which newer FastAPI releases keep
adding to, all outside any user middleware) and its exception, exit-stack and routing layers, each
wrapping the call and ``send`` once more. The handlers need none of them: a `GatewayError`
becomes its response here, as FastAPI's exception handler would make it.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hegui.gateway.errors import GatewayError
from hegui.gateway.state import GatewayState, RequestContext

log = logging.getLogger("hegui.gateway")


Handler = Callable[[Request], Awaitable[Response]]


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, state: GatewayState) -> None:
        self.app, self.st = app, state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await self.serve(scope, receive, send, None)

    async def serve(self, scope: Scope, receive: Receive, send: Send, handler: Handler | None) -> None:
        """An HTTP request: to ``handler`` (a hot route) when given, else on to the wrapped app."""
        rid = uuid.uuid4().hex
        ctx = RequestContext(request=Request(scope, receive), request_id=rid, route=scope.get("path", "")[:64])
        scope.setdefault("state", {})["ctx"] = ctx  # what routes read as ``request.state.ctx``
        started = False

        async def send_wrapper(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers: list[Any] = list(message.get("headers", []))
                if not any(k.lower() == b"x-request-id" for k, _ in headers):
                    headers.append((b"x-request-id", rid.encode()))
                message = {**message, "headers": headers}
                self._record(ctx, int(message["status"]))
            await send(message)

        try:
            if handler is None:
                await self.app(scope, receive, send_wrapper)
            else:
                try:
                    response = await handler(ctx.request)
                except GatewayError as e:
                    response = e.response(rid)
                await response(scope, receive, send_wrapper)
        except Exception as e:  # never a bare 500 page; the error type only, no content
            if started:
                raise
            log.exception("unhandled error", extra={"request_id": rid, "error": type(e).__name__})
            err = e if isinstance(e, GatewayError) else GatewayError(500, "internal_error", "网关内部错误", "internal gateway error")
            await err.response(rid)(scope, receive, send_wrapper)

    def _record(self, ctx: RequestContext, status: int) -> None:
        """Metrics and the request log line, when the response starts (streams: at their headers)."""
        route = ctx.route if ctx.route.startswith(("/v1", "/admin")) else "other"
        self.st.metrics.observe_request(route, status, time.perf_counter() - ctx.t0)
        if route != "other":
            log.info("request", extra={"request_id": ctx.request_id, "route": route, "status": status,
                                       "latency_ms": round(ctx.elapsed_ms(), 2), "user": ctx.user_pseudo[:12]})


class GatewayApp(FastAPI):
    """The gateway's FastAPI app: a POST to one of the ``hot`` routes (path → handler) goes
    straight to ``front`` (a `RequestContextMiddleware`) with its handler, skipping every layer
    of FastAPI and Starlette, the outer ones included. Everything else (other routes and methods,
    lifespan) is FastAPI's as usual, through its stack with its own `RequestContextMiddleware`."""

    front: RequestContextMiddleware | None = None
    hot: Mapping[str, Handler] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        front = self.front
        if front is not None and scope["type"] == "http" and scope["method"] == "POST":
            handler = self.hot.get(scope["path"])
            if handler is not None:
                scope["app"] = self  # what ``request.app`` reads, as Starlette would set it
                await front.serve(scope, receive, send, handler)
                return
        await super().__call__(scope, receive, send)
