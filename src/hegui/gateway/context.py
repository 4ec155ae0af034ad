"""The outermost gateway layer: a request id and `RequestContext` per request, the request log
line, request metrics, and a JSON 500 instead of a bare error page.

A plain ASGI middleware rather than ``@app.middleware("http")``: Starlette's `BaseHTTPMiddleware`
pipes every streamed chunk through an extra task and memory stream, a cost paid per SSE chunk.
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hegui.gateway.errors import GatewayError
from hegui.gateway.state import GatewayState, RequestContext

log = logging.getLogger("hegui.gateway")


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, state: GatewayState) -> None:
        self.app, self.st = app, state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
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
            await self.app(scope, receive, send_wrapper)
        except Exception as e:  # never a bare 500 page; the error type only, no content
            if started:
                raise
            log.exception("unhandled error", extra={"request_id": rid, "error": type(e).__name__})
            err = e if isinstance(e, GatewayError) else GatewayError(500, "internal_error", "网关内部错误", "internal gateway error")
            await err.response(rid)(scope, receive, send_wrapper)

    def _record(self, ctx: RequestContext, status: int) -> None:
        """Metrics and the request log line, when the response starts (streams: at their headers)."""
        route = ctx.route if ctx.route.startswith(("/v1", "/admin")) else "other"
        self.st.metrics.requests.labels(route, str(status)).inc()
        self.st.metrics.latency.labels(route).observe(time.perf_counter() - ctx.t0)
        if route != "other":
            log.info("request", extra={"request_id": ctx.request_id, "route": route, "status": status,
                                       "latency_ms": round(ctx.elapsed_ms(), 2), "user": ctx.user_pseudo[:12]})
